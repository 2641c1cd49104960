//! The one-image coupling: a small supervisor that runs the generator and
//! the echo in one container.
//!
//! The article's image runs `sh app.sh`, which starts both programs in the
//! background: the shell is PID 1, does not pass SIGTERM on, and does not
//! notice when one of them dies. The article lists what this coupling needs
//! instead, and this is it:
//!
//! * **A supervisor.** `appcoup` starts `generator` and `echo` (found next
//!   to its own binary, or in `BIN_DIR`), giving them one shared directory
//!   (`DATA_DIR`) and their ports (`PORT` for echo, the container's port;
//!   `GENERATOR_PORT` for the generator's probes and metrics).
//! * **Signal propagation.** SIGTERM and SIGINT are forwarded to both
//!   children; each drains and exits; the supervisor exits 0 if both exited
//!   cleanly. A child still running `STOP_TIMEOUT` after the signal is
//!   killed.
//! * **Reaping.** As PID 1 of a container, the supervisor inherits every
//!   orphaned process in it, so it reaps with `waitpid(-1)` on every
//!   SIGCHLD, not only its two children: no zombies pile up.
//! * **A dead part restarts the whole.** When either child exits on its own
//!   (a crash, an OOM kill of that process), the other is stopped and the
//!   supervisor exits 1, so the kubelet restarts the container. Kubernetes
//!   has one restart policy per container, so both parts restart together:
//!   the drawback that remains.
//! * **Health per container.** Kubernetes sees one container, and its
//!   probes ask echo (on `PORT`), the program that serves. The generator's
//!   health is seen only through the supervisor (it exits 1 when the
//!   generator exits) and the `healthcheck` subcommand (the image's
//!   HEALTHCHECK for docker and podman), which asks both programs. A
//!   generator that hangs without exiting goes unnoticed by the kubelet:
//!   that part of the article's drawback remains.
//!
//! Children are started with `std::process` and never waited for through
//! their handles: all reaping goes through the one `waitpid(-1)` loop, so
//! nothing else can steal an exit status from it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use service_kit::LogFormat;
use tokio::signal::unix::{SignalKind, signal};

/// The supervisor's settings. Every one is a flag and an environment
/// variable; everything else in the environment (LOG_FORMAT, INTERVAL,
/// MAX_BYTES, SHUTDOWN_GRACE, ...) passes through to both children.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "appcoup",
    version,
    about = "Runs generator and echo in one container: forwards SIGTERM/SIGINT, reaps, exits 1 when either dies"
)]
pub struct Config {
    /// echo's port: the container's port, as in the article.
    #[arg(long, env = "PORT", default_value_t = 8000)]
    pub port: u16,

    /// The generator's port (its /healthz, /readyz, /metrics and /data).
    #[arg(long, env = "GENERATOR_PORT", default_value_t = 8080)]
    pub generator_port: u16,

    /// The directory the generator writes `data` to and echo serves.
    #[arg(long, env = "DATA_DIR", default_value = "/tmp/out")]
    pub data_dir: PathBuf,

    /// Where the `generator` and `echo` binaries are. Default: the
    /// directory of this binary.
    #[arg(long, env = "BIN_DIR")]
    pub bin_dir: Option<PathBuf>,

    /// After forwarding SIGTERM, how long the children may take to exit
    /// before they are killed. Keep it above their SHUTDOWN_GRACE and below
    /// the pod's terminationGracePeriodSeconds.
    #[arg(long, env = "STOP_TIMEOUT", default_value = "15s", value_parser = humantime::parse_duration)]
    pub stop_timeout: Duration,

    /// Log format of the supervisor's own lines; the children read the
    /// same variable. Filter with RUST_LOG (default `info`).
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Json)]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Option<SubCommand>,
}

/// The supervisor's subcommands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum SubCommand {
    /// Ask both programs in this container whether they are ready (GET
    /// /readyz on 127.0.0.1:$PORT and 127.0.0.1:$GENERATOR_PORT); exit 0 if
    /// both are. For the image's HEALTHCHECK.
    Healthcheck,
    /// Print the container's port and probe paths as JSON and exit, like
    /// every service's `describe`: the kubelet probes echo on PORT, so
    /// that is the port and the paths of this container.
    Describe,
}

/// Why the supervisor could not start both children (it stops the one
/// already started).
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen for {0}: {1}")]
    Signal(&'static str, std::io::Error),
    #[error("cannot find the directory of this binary: {0}")]
    OwnPath(std::io::Error),
    #[error("cannot start {name} ({path}): {source}")]
    Spawn {
        name: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Why supervision ended badly once both children ran. The supervisor
/// handles no requests; these are its run-time failures.
#[derive(Debug, thiserror::Error)]
pub enum StopError {
    #[error("{name} exited on its own ({status}); stopped the other part")]
    ChildDied { name: &'static str, status: String },
    #[error("{0} did not exit cleanly after the signal")]
    UncleanStop(String),
}

/// What [`run`] fails with: at start, or later.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Start(#[from] StartError),
    #[error(transparent)]
    Stop(#[from] StopError),
}

/// The two programs, by the name the log and errors use.
const CHILDREN: [&str; 2] = ["generator", "echo"];

impl Config {
    fn bin_dir(&self) -> Result<PathBuf, StartError> {
        if let Some(dir) = &self.bin_dir {
            return Ok(dir.clone());
        }
        let exe = std::env::current_exe().map_err(StartError::OwnPath)?;
        Ok(exe.parent().unwrap_or(Path::new("/")).to_owned())
    }

    /// The command line of child `name`. Ports and directories are given
    /// as flags, which win over the environment both children inherit (a
    /// `PORT` meant for echo must not move the generator).
    fn command(&self, bin_dir: &Path, name: &str) -> Command {
        let mut cmd = Command::new(bin_dir.join(name));
        match name {
            "generator" => cmd
                .arg("--port")
                .arg(self.generator_port.to_string())
                .arg("--data-dir")
                .arg(&self.data_dir),
            _ => cmd
                .arg("--port")
                .arg(self.port.to_string())
                .arg("--serve-dir")
                .arg(&self.data_dir),
        };
        // SOURCE_URL would switch echo away from the shared directory.
        cmd.env_remove("SOURCE_URL");
        let format = match self.log_format {
            LogFormat::Json => "json",
            LogFormat::Text => "text",
        };
        cmd.env("LOG_FORMAT", format);
        cmd
    }
}

/// The `healthcheck` subcommand.
pub async fn healthcheck(config: &Config) -> Result<(), String> {
    use std::net::{Ipv4Addr, SocketAddr};
    for (name, port) in [("echo", config.port), ("generator", config.generator_port)] {
        service_kit::healthcheck::is_ready(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
            .await
            .map_err(|e| format!("{name}: {e}"))?;
    }
    Ok(())
}

/// Run both children until a signal or a child's death; see the module
/// docs. `Ok(())` only after a signal and a clean exit of both.
pub async fn run(config: Config) -> Result<(), Error> {
    // Listen for signals before starting anything: a child that dies at
    // once must still be noticed.
    let listen = |kind: SignalKind, name: &'static str| {
        signal(kind).map_err(|e| StartError::Signal(name, e))
    };
    let mut sigchld = listen(SignalKind::child(), "SIGCHLD")?;
    let mut sigterm = listen(SignalKind::terminate(), "SIGTERM")?;
    let mut sigint = listen(SignalKind::interrupt(), "SIGINT")?;

    let bin_dir = config.bin_dir()?;
    let mut running: HashMap<Pid, &'static str> = HashMap::new();
    for name in CHILDREN {
        let mut cmd = config.command(&bin_dir, name);
        match cmd.spawn() {
            Ok(child) => {
                let pid = Pid::from_raw(child.id() as i32);
                tracing::info!(child = name, pid = pid.as_raw(), "started");
                running.insert(pid, name);
                // The handle is dropped on purpose: dropping does not wait
                // or kill, and reaping belongs to the waitpid loop.
                drop(child);
            }
            Err(source) => {
                let err = StartError::Spawn {
                    name,
                    path: cmd.get_program().into(),
                    source,
                };
                stop(
                    &mut running,
                    Signal::SIGTERM,
                    &mut sigchld,
                    config.stop_timeout,
                )
                .await;
                return Err(err.into());
            }
        }
    }

    // Supervise: the first of a signal or a child's death ends this loop.
    let (signal_received, died) = loop {
        tokio::select! {
            _ = sigterm.recv() => break (Some(Signal::SIGTERM), None),
            _ = sigint.recv() => break (Some(Signal::SIGINT), None),
            _ = sigchld.recv() => {
                if let Some(death) = reap(&mut running).into_iter().next() {
                    break (None, Some(death));
                }
            }
        }
    };

    if let Some(sig) = signal_received {
        tracing::info!(signal = %sig, "forwarding to the children");
        let unclean = stop(&mut running, sig, &mut sigchld, config.stop_timeout).await;
        return if unclean.is_empty() {
            tracing::info!("both children exited cleanly");
            Ok(())
        } else {
            Err(StopError::UncleanStop(unclean.join(", ")).into())
        };
    }
    let (name, status) = died.unwrap_or(("a child", "unknown".to_owned()));
    tracing::error!(
        child = name,
        status,
        "exited on its own; stopping the other part"
    );
    stop(
        &mut running,
        Signal::SIGTERM,
        &mut sigchld,
        config.stop_timeout,
    )
    .await;
    Err(StopError::ChildDied { name, status }.into())
}

/// Reap every exited process (children and inherited orphans); return
/// the ones that were our children, with how they ended.
fn reap(running: &mut HashMap<Pid, &'static str>) -> Vec<(&'static str, String)> {
    let mut ended = Vec::new();
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return ended,
            Ok(status) => {
                let Some(pid) = status.pid() else { continue };
                let how = match status {
                    WaitStatus::Exited(_, code) => format!("exit code {code}"),
                    WaitStatus::Signaled(_, sig, _) => format!("killed by {sig}"),
                    other => format!("{other:?}"),
                };
                if let Some(name) = running.remove(&pid) {
                    tracing::info!(child = name, pid = pid.as_raw(), status = %how, "exited");
                    ended.push((name, how));
                } else {
                    tracing::debug!(pid = pid.as_raw(), status = %how, "reaped an orphan");
                }
            }
            Err(Errno::EINTR) => {}
            Err(err) => {
                tracing::error!(%err, "waitpid failed");
                return ended;
            }
        }
    }
}

/// Send `sig` to every running child and reap them; SIGKILL what is left
/// after `timeout`. Returns the children that did not exit with code 0.
async fn stop(
    running: &mut HashMap<Pid, &'static str>,
    sig: Signal,
    sigchld: &mut tokio::signal::unix::Signal,
    timeout: Duration,
) -> Vec<String> {
    let mut unclean = Vec::new();
    for pid in running.keys() {
        let _ = kill(*pid, sig);
    }
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        for (name, how) in reap(running) {
            if how != "exit code 0" {
                unclean.push(format!("{name} ({how})"));
            }
        }
        if running.is_empty() {
            return unclean;
        }
        // SIGCHLD wakes us; the short sleep covers a signal that arrived
        // between the reap above and this wait.
        tokio::select! {
            _ = sigchld.recv() => {}
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            _ = tokio::time::sleep_until(deadline) => {
                for (pid, name) in running.iter() {
                    tracing::warn!(child = name, "still running after STOP_TIMEOUT; killing");
                    let _ = kill(*pid, Signal::SIGKILL);
                    unclean.push(format!("{name} (killed after STOP_TIMEOUT)"));
                }
                // Reap the killed ones so they leave no zombies.
                while !running.is_empty() {
                    reap(running);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                return unclean;
            }
        }
    }
}

/// `main` of the supervisor: answer `healthcheck` or `describe`, or supervise. Exit code 0
/// after a forwarded signal and a clean stop, 1 otherwise.
pub async fn main(config: Config) -> ExitCode {
    if let Some(SubCommand::Healthcheck) = config.command {
        return match healthcheck(&config).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(reason) => {
                #[allow(clippy::print_stderr)] // the one line a health check shows
                {
                    eprintln!("appcoup: not healthy: {reason}");
                }
                ExitCode::FAILURE
            }
        };
    }
    if let Some(SubCommand::Describe) = config.command {
        #[allow(clippy::print_stdout)] // the subcommand's whole output
        {
            println!(
                "{}",
                service_kit::describe::describe("appcoup", config.port)
            );
        }
        return ExitCode::SUCCESS;
    }
    let _flush_logs_on_exit = service_kit::telemetry::init_for_service(config.log_format);
    tracing::info!(service = "appcoup", "starting");
    match run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %err, "appcoup stopped");
            ExitCode::FAILURE
        }
    }
}
