//! The part of `main` every binary shares.

use std::fmt::Display;
use std::future::Future;
use std::process::ExitCode;

use tokio::net::TcpListener;

use crate::{Command, ServiceArgs, describe, healthcheck, telemetry};

/// Run a service binary: answer the `healthcheck` and `describe`
/// subcommands, or set up
/// telemetry, bind the listener and hand it to `run`. Every failure is logged
/// as one clear line and turns into exit code 1; a clean shutdown is exit 0.
pub async fn run_main<F, Fut, E>(name: &str, args: &ServiceArgs, run: F) -> ExitCode
where
    F: FnOnce(TcpListener) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: Display,
{
    if let Some(Command::Healthcheck) = args.command {
        return match healthcheck::is_ready(args.listen_addr()).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(reason) => {
                #[allow(clippy::print_stderr)] // the one line a health check shows
                {
                    eprintln!("{name}: not healthy: {reason}");
                }
                ExitCode::FAILURE
            }
        };
    }

    if let Some(Command::Describe) = args.command {
        #[allow(clippy::print_stdout)] // the subcommand's whole output
        {
            println!("{}", describe::describe(name, args.port));
        }
        return ExitCode::SUCCESS;
    }

    let _flush_logs_on_exit = telemetry::init_for_service(args.log_format);
    tracing::info!(service = name, "starting");
    let listener = match TcpListener::bind(args.listen_addr()).await {
        Ok(listener) => listener,
        Err(err) => {
            tracing::error!(addr = %args.listen_addr(), %err, "cannot listen");
            return ExitCode::FAILURE;
        }
    };
    match run(listener).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %err, "{name} failed");
            ExitCode::FAILURE
        }
    }
}
