//! Headless Chromium against the dashboard, for tests: the DOM a person's browser would build
//! (after the page's scripts ran) and screenshots to look at.
//!
//! Tests that need a browser call [`chromium_for_tests`]: it fails the test when no Chromium is
//! installed (Debian's `chromium` package; `.ci/run` installs it), unless `SPATE_SKIP_BROWSER=1`.
//!
//! The browser is kept off the network: it resolves no host name except the page's own and
//! `localhost`, and Chromium's background services (updates, sync, safe browsing) are off.

use std::ffi::OsString;
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Set to `1` to let tests skip (rather than fail) when no Chromium is installed.
pub const SKIP_ENV: &str = "SPATE_SKIP_BROWSER";
/// Set to a path to use that browser binary instead of searching `PATH`.
pub const BINARY_ENV: &str = "SPATE_CHROMIUM";

/// Binary names searched on `PATH`, in order.
const CANDIDATES: &[&str] = &[
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
    "chrome",
    "headless_shell",
];

/// A headless Chromium, with how long to let pages run.
#[derive(Debug, Clone)]
pub struct Chromium {
    binary: PathBuf,
    /// Virtual time the page's timers get before the DOM is dumped or the screenshot taken.
    pub virtual_time_budget: Duration,
    /// Wall-clock limit for one browser run; past it the browser is killed.
    pub timeout: Duration,
}

impl Chromium {
    /// Uses the browser at `binary`.
    pub fn new(binary: impl Into<PathBuf>) -> Self {
        Self {
            binary: binary.into(),
            virtual_time_budget: Duration::from_secs(5),
            timeout: Duration::from_secs(90),
        }
    }

    /// Finds a browser: `$SPATE_CHROMIUM`, else the first of the usual names on `PATH`.
    pub fn find() -> Option<Self> {
        find_chromium().map(Self::new)
    }

    /// The browser binary.
    pub fn binary(&self) -> &Path {
        &self.binary
    }

    /// Loads `url`, lets its scripts run for [`Self::virtual_time_budget`], and returns the
    /// serialized DOM.
    pub fn dump_dom(&self, url: &str) -> io::Result<String> {
        let run = self.run(url, &["--dump-dom".into()])?;
        Ok(run.stdout)
    }

    /// Loads `url` in a `width`×`height` window and writes a PNG of the viewport to `path`.
    pub fn screenshot(&self, url: &str, path: &Path, width: u32, height: u32) -> io::Result<()> {
        let path = std::path::absolute(path)?;
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        // A stale file must not pass for a fresh screenshot.
        match fs::remove_file(&path) {
            Err(err) if err.kind() != io::ErrorKind::NotFound => return Err(err),
            _ => {}
        }
        let mut screenshot = OsString::from("--screenshot=");
        screenshot.push(&path);
        let run = self.run(
            url,
            &[screenshot, format!("--window-size={width},{height}").into()],
        )?;
        if !path.is_file() {
            return Err(io::Error::other(format!(
                "chromium wrote no screenshot to {}: {}",
                path.display(),
                run.stderr_tail()
            )));
        }
        Ok(())
    }

    /// Runs the browser once on `url` with `extra` flags, in a throwaway profile.
    fn run(&self, url: &str, extra: &[OsString]) -> io::Result<Run> {
        let scratch = Scratch::new()?;
        let stdout_path = scratch.dir.join("stdout");
        let stderr_path = scratch.dir.join("stderr");
        let profile = scratch.dir.join("profile");
        fs::create_dir_all(&profile)?;

        let mut resolver = String::from("MAP * ~NOTFOUND, EXCLUDE localhost");
        if let Some(host) = url_host(url) {
            resolver.push_str(", EXCLUDE ");
            resolver.push_str(host);
        }
        let mut user_data_dir = OsString::from("--user-data-dir=");
        user_data_dir.push(&profile);

        let mut command = Command::new(&self.binary);
        command
            .arg("--headless=new")
            .arg("--no-sandbox")
            .arg("--disable-gpu")
            .arg("--disable-dev-shm-usage")
            .arg("--hide-scrollbars")
            .arg("--no-first-run")
            .arg("--no-default-browser-check")
            .arg("--no-proxy-server")
            .arg("--disable-background-networking")
            .arg("--disable-component-update")
            .arg("--disable-default-apps")
            .arg("--disable-extensions")
            .arg("--disable-sync")
            .arg("--disable-domain-reliability")
            .arg("--disable-client-side-phishing-detection")
            .arg("--no-pings")
            .arg("--mute-audio")
            .arg(format!("--host-resolver-rules={resolver}"))
            .arg(user_data_dir)
            .arg(format!(
                "--virtual-time-budget={}",
                self.virtual_time_budget.as_millis()
            ))
            .args(extra)
            .arg(url)
            .stdin(Stdio::null())
            .stdout(File::create(&stdout_path)?)
            .stderr(File::create(&stderr_path)?);

        let mut child = command.spawn().map_err(|err| {
            io::Error::new(
                err.kind(),
                format!("cannot start {}: {err}", self.binary.display()),
            )
        })?;
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait()? {
                break status;
            }
            if started.elapsed() > self.timeout {
                // Best effort: the browser may have exited in between.
                let _ = child.kill();
                let _ = child.wait();
                let stderr = fs::read_to_string(&stderr_path).unwrap_or_default();
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "chromium did not finish {url} within {:?}: {}",
                        self.timeout,
                        tail(&stderr)
                    ),
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let run = Run {
            stdout: String::from_utf8_lossy(&fs::read(&stdout_path)?).into_owned(),
            stderr: fs::read_to_string(&stderr_path).unwrap_or_default(),
        };
        if !status.success() {
            return Err(io::Error::other(format!(
                "chromium failed on {url} ({status}): {}",
                run.stderr_tail()
            )));
        }
        Ok(run)
    }
}

/// What one browser run printed.
struct Run {
    stdout: String,
    stderr: String,
}

impl Run {
    fn stderr_tail(&self) -> String {
        tail(&self.stderr)
    }
}

/// The last lines of a browser's stderr, for error messages.
fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(10)..].join("\n")
}

/// A temporary directory removed on drop.
struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    fn new() -> io::Result<Self> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "spate-chromium-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        // A leftover from an earlier process with the same pid.
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir)?;
        Ok(Self { dir })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// The host of an `http(s)://host[:port]/…` URL (IPv6 literals without brackets).
fn url_host(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split_once(']')?.0
    } else {
        authority.split(':').next()?
    };
    (!host.is_empty()).then_some(host)
}

/// The browser binary: `$SPATE_CHROMIUM` if set, else the first Chromium or Chrome on `PATH`.
pub fn find_chromium() -> Option<PathBuf> {
    if let Some(binary) = std::env::var_os(BINARY_ENV).filter(|value| !value.is_empty()) {
        return Some(PathBuf::from(binary));
    }
    let path = std::env::var_os("PATH")?;
    CANDIDATES.iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|candidate| is_executable(candidate))
    })
}

fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        path.metadata()
            .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        path.is_file()
    }
}

/// The browser for a test, or `None` when the test should skip.
///
/// # Panics
///
/// When no browser is found and `SPATE_SKIP_BROWSER=1` is not set: a test that needs a browser
/// must not pass silently without one.
pub fn chromium_for_tests() -> Option<Chromium> {
    if let Some(chromium) = Chromium::find() {
        return Some(chromium);
    }
    if std::env::var(SKIP_ENV).is_ok_and(|value| value == "1") {
        eprintln!("skipped: no chromium on PATH and {SKIP_ENV}=1");
        return None;
    }
    panic!(
        "no chromium found on PATH (looked for {}): install Debian's `chromium` package \
         (apt-get install -y chromium), point {BINARY_ENV} at a browser, or set {SKIP_ENV}=1 to skip",
        CANDIDATES.join(", ")
    );
}

/// Loads `url` in a headless Chromium found by [`find_chromium`] and returns the DOM after its
/// scripts ran.
pub fn dump_dom(url: &str) -> io::Result<String> {
    require()?.dump_dom(url)
}

/// Screenshots `url` at 1400×900 with a headless Chromium found by [`find_chromium`].
pub fn screenshot(url: &str, path: &Path) -> io::Result<()> {
    require()?.screenshot(url, path, 1400, 900)
}

fn require() -> io::Result<Chromium> {
    Chromium::find().ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no chromium found on PATH"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_host_handles_ports_paths_and_ipv6() {
        assert_eq!(url_host("http://127.0.0.1:8081/"), Some("127.0.0.1"));
        assert_eq!(url_host("http://jm.example:80/#/jobs/x"), Some("jm.example"));
        assert_eq!(url_host("https://user@host"), Some("host"));
        assert_eq!(url_host("http://[::1]:8081/overview"), Some("::1"));
        assert_eq!(url_host("not a url"), None);
    }

    #[test]
    fn tail_keeps_the_last_ten_lines() {
        let text: String = (0..20).map(|i| format!("line {i}\n")).collect();
        let kept = tail(&text);
        assert!(kept.starts_with("line 10"));
        assert!(kept.ends_with("line 19"));
    }
}
