//! What every browser spec needs: the tools' check, the driver's start, and processes that
//! die with the test.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A child process killed when the test ends, whether it passes or panics.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Where the browser specs keep their screenshots.
pub fn artifacts() -> PathBuf {
    repo().join("target/test-artifacts")
}

/// Fails the test, saying how to get them, when Chromium, Node.js or the driver's
/// packages are missing: a silent skip would pass without testing anything.
pub fn require_browser_tools() {
    let chromium = PathBuf::from(
        std::env::var("CHROMIUM_PATH").unwrap_or_else(|_| "/usr/bin/chromium".into()),
    );
    let node = Command::new("node").arg("--version").output();
    let driver = repo().join("tests/browser/node_modules/playwright-core");
    let mut missing = Vec::new();
    if !chromium.is_file() {
        missing.push(format!("Chromium ({})", chromium.display()));
    }
    if !node.is_ok_and(|out| out.status.success()) {
        missing.push("Node.js 20 or later (`node`, which the build needs too)".to_owned());
    }
    if !driver.is_dir() {
        missing.push(format!("playwright-core ({})", driver.display()));
    }
    assert!(
        missing.is_empty(),
        "the browser test needs {}: ./scripts/test installs them (apt-get install chromium, \
         npm ci in tests/browser; it asks for Node.js when missing)",
        missing.join(", ")
    );
}

/// A port nobody listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Starts the driver `tests/browser/<script>` under Node.js with `args`, its output going
/// to `log`.
pub fn start_driver<I, S>(script: &str, args: I, log: &Path) -> Running
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let out = std::fs::File::create(log).expect("log file");
    let child = Command::new("node")
        .current_dir(repo())
        .arg(Path::new("tests/browser").join(script))
        .args(args)
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("log file"))
        .stderr(out)
        .spawn()
        .expect("node starts");
    Running(child)
}
