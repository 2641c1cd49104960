//! Browser tests: headless Chromium driven over WebDriver.
//!
//! Behind the `testing` feature, for crates' `[dev-dependencies]`
//! (`service-kit = { workspace = true, features = ["testing"] }`). The API
//! is deliberately small:
//!
//! * [`Browser::start`] starts `chromedriver` on a free loopback port with a
//!   throw-away profile and opens a headless Chromium session;
//! * the [`Browser`] dereferences to a [`fantoccini::Client`], so everything
//!   else (navigate, find, click, send keys, execute JS) is fantoccini's API;
//! * [`eventually`] polls a condition, for what a page does asynchronously;
//! * [`Browser::assert_fits_phone_width`] checks a page needs no sideways
//!   scrolling on a phone;
//! * [`Browser::screenshot`] saves the page for the README when
//!   `SCREENSHOTS_DIR` is set (`scripts/screenshots.sh`);
//! * [`Browser::close`] ends the session. Dropping a `Browser` without
//!   closing it (a failed assertion) still kills chromedriver and the
//!   browser it started, so no test leaves processes behind.
//!
//! A missing browser is a failure, never a skip: a browser test that
//! silently passes on a machine without Chromium proves nothing. The
//! binaries are found through `CHROMEDRIVER` and `CHROME_BIN` if set, else
//! on `PATH` (Debian: `apt-get install chromium chromium-driver`).
//!
//! ```no_run
//! # async fn example() {
//! use service_kit::testing::{Browser, Locator, eventually};
//! let browser = Browser::start().await;
//! browser.goto("http://127.0.0.1:8080/").await.unwrap();
//! let heading = eventually("the page's heading", || async {
//!     browser.find(Locator::Css("h1")).await.ok()?.text().await.ok()
//! })
//! .await;
//! assert_eq!(heading, "Tool portal");
//! browser.close().await;
//! # }
//! ```

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::ops::Deref;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub use fantoccini::{Client, Locator};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use serde_json::json;
use tempfile::TempDir;

/// How long [`eventually`] waits before failing the test.
pub const EVENTUALLY_TIMEOUT: Duration = Duration::from_secs(15);

/// Chromium flags that work on a headless CI machine: no sandbox (tests
/// often run as root or in a container), no GPU, and none of the
/// background traffic (updates, sync, first-run pages) a test must not
/// depend on.
const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1280,900",
];

/// A headless Chromium session and the chromedriver serving it.
#[derive(Debug)]
pub struct Browser {
    client: Client,
    driver: Child,
    // Chromium's profile; deleted when the Browser goes.
    _profile: TempDir,
}

impl Browser {
    /// Start chromedriver and open a headless Chromium session.
    ///
    /// # Panics
    ///
    /// When Chromium or chromedriver is missing or does not start: browser
    /// tests must fail, not skip, on a machine that cannot run them.
    pub async fn start() -> Browser {
        Self::start_with_args(&[]).await
    }

    /// Like [`Browser::start`], but the browser can reach only
    /// `127.0.0.1:<port>`: every other address, loopback included, goes to
    /// a proxy that is not there and fails. For proving that a page works
    /// with only its own origin reachable, as behind a port-forward or an
    /// Ingress where the app's other services have no address at all.
    ///
    /// # Panics
    ///
    /// As [`Browser::start`].
    pub async fn start_reaching_only(port: u16) -> Browser {
        let nowhere = free_port();
        Self::start_with_args(&[
            format!("--proxy-server=http://127.0.0.1:{nowhere}"),
            // `<-loopback>` removes Chromium's implicit bypass for loopback
            // addresses, so only the one origin listed here goes direct.
            format!("--proxy-bypass-list=<-loopback>;127.0.0.1:{port}"),
        ])
        .await
    }

    /// [`Browser::start`] with extra Chromium command-line flags.
    ///
    /// # Panics
    ///
    /// As [`Browser::start`].
    pub async fn start_with_args(extra: &[String]) -> Browser {
        let chrome = find_binary(
            "CHROME_BIN",
            &["chromium", "chromium-browser", "google-chrome"],
        );
        let chromedriver = find_binary("CHROMEDRIVER", &["chromedriver"]);
        let profile = tempfile::tempdir().expect("cannot create a temporary Chromium profile");
        let log_path = profile.path().join("chromedriver.log");
        let log = std::fs::File::create(&log_path).expect("cannot create the chromedriver log");
        let log_err = log
            .try_clone()
            .expect("cannot clone the chromedriver log handle");
        let port = free_port();

        let driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            // Its own process group, so that Drop can kill chromedriver and
            // the browser it started in one signal.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", chromedriver.display()));
        let mut browser_guard = DriverGuard(Some(driver));

        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if Instant::now() > deadline {
                panic!(
                    "chromedriver did not listen on {addr} within 20s; its log:\n{}",
                    std::fs::read_to_string(&log_path).unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }

        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|f| (*f).to_owned()).collect();
        args.extend(extra.iter().cloned());
        args.push(format!(
            "--user-data-dir={}",
            profile.path().join("profile").display()
        ));
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": chrome, "args": args },
        });
        let serde_json::Value::Object(capabilities) = capabilities else {
            unreachable!("json! of an object literal is an object")
        };
        let client = fantoccini::ClientBuilder::new(
            hyper_util::client::legacy::connect::HttpConnector::new(),
        )
        .capabilities(capabilities)
        .connect(&format!("http://{addr}"))
        .await
        .unwrap_or_else(|e| {
            panic!(
                "cannot open a Chromium session ({}): {e}; chromedriver's log:\n{}",
                chrome.display(),
                std::fs::read_to_string(&log_path).unwrap_or_default()
            )
        });

        let driver = browser_guard
            .0
            .take()
            .expect("the guard holds the driver until here");
        Browser {
            client,
            driver,
            _profile: profile,
        }
    }

    /// The WebDriver client (also reachable through `Deref`).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Save what the browser shows as `$SCREENSHOTS_DIR/<name>.png`, for the
    /// README, when `SCREENSHOTS_DIR` is set (`scripts/screenshots.sh` sets
    /// it); otherwise do nothing. Tests call it at the moment worth showing,
    /// after their assertions, so a picture is only ever taken of a page that
    /// passed. Returns the path written.
    ///
    /// # Panics
    ///
    /// When the directory is set but the screenshot cannot be taken or
    /// written: asked for pictures, a silent gap would go unnoticed.
    pub async fn screenshot(&self, name: &str) -> Option<PathBuf> {
        let dir = PathBuf::from(std::env::var_os("SCREENSHOTS_DIR")?);
        let png = self
            .client
            .screenshot()
            .await
            .unwrap_or_else(|e| panic!("cannot take the screenshot {name}: {e}"));
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        Some(path)
    }

    /// Check that the current page works at a phone's width: at 390 CSS
    /// pixels (a common phone), nothing is wider than the window, so there
    /// is no sideways scrolling. The window gets its test size back after.
    ///
    /// # Panics
    ///
    /// When the page is wider than the phone's screen (naming the widest
    /// elements), or the window cannot be resized to a phone's width.
    pub async fn assert_fits_phone_width(&self, what: &str) {
        const PHONE: (u32, u32) = (390, 844);
        self.client
            .set_window_size(PHONE.0, PHONE.1)
            .await
            .unwrap_or_else(|e| panic!("cannot resize the window to a phone's: {e}"));
        let measured = eventually(&format!("{what} laid out at phone width"), || async {
            let m = self
                .client
                .execute(
                    "const w = window.innerWidth;
                     const wide = [...document.querySelectorAll('body *')]
                       .filter(e => e.getBoundingClientRect().right > w + 1)
                       .slice(0, 5)
                       .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
                                 (e.className && typeof e.className === 'string' ? '.' + e.className.split(' ').join('.') : ''));
                     return [w, document.documentElement.scrollWidth, wide];",
                    vec![],
                )
                .await
                .ok()?;
            let inner = m.get(0)?.as_u64()?;
            (inner <= u64::from(PHONE.0)).then_some(m)
        })
        .await;
        let inner = measured[0].as_u64().unwrap_or_default();
        let scroll = measured[1].as_u64().unwrap_or_default();
        self.client
            .set_window_size(1280, 900)
            .await
            .unwrap_or_else(|e| panic!("cannot restore the window size: {e}"));
        assert!(
            scroll <= inner,
            "{what} is {scroll}px wide on a {inner}px phone screen; too wide: {}",
            measured[2]
        );
    }

    /// End the session (Chromium exits) and stop chromedriver.
    pub async fn close(self) {
        // A failure here only means the browser is already gone; Drop
        // below kills whatever is left either way.
        let _ = self.client.clone().close().await;
    }
}

impl Deref for Browser {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.client
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        kill_group(&mut self.driver);
    }
}

/// Kills chromedriver if `Browser::start` fails half-way.
struct DriverGuard(Option<Child>);

impl Drop for DriverGuard {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            kill_group(child);
        }
    }
}

fn kill_group(child: &mut Child) {
    if let Ok(pid) = i32::try_from(child.id()) {
        // The group may be gone already; nothing more to do then.
        let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// `$env_var` if set, else the first of `names` found on `PATH`.
fn find_binary(env_var: &str, names: &[&str]) -> PathBuf {
    if let Some(path) = std::env::var_os(env_var) {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "{env_var}={} is not a file; browser tests need Chromium and chromedriver",
            path.display()
        );
        return path;
    }
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path_var)
        .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
        .find(|candidate| is_executable(candidate))
        .unwrap_or_else(|| {
            panic!(
                "browser tests need {} on PATH (or {env_var} set): on Debian, \
                 `apt-get install -y chromium chromium-driver`",
                names.join(" or ")
            )
        })
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// A port nothing listens on right now. Another process could take it
/// before chromedriver binds it; on a test machine that race is remote, and
/// chromedriver failing to bind shows up as a clear start-up panic.
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("cannot find a free loopback port")
}

/// Poll `check` every 100 ms until it returns `Some`, and return that.
///
/// # Panics
///
/// After [`EVENTUALLY_TIMEOUT`], naming `what` was awaited.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + EVENTUALLY_TIMEOUT;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {EVENTUALLY_TIMEOUT:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
