//! What every browser spec needs: the tools' check, the driver's start, and processes that
//! die with the test.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

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

/// A browser driver (`tests/browser/<script>` under Node.js) with its log and deadline.
pub struct Driver {
    process: Running,
    log: PathBuf,
    deadline: Instant,
    timeout: Duration,
}

impl Driver {
    /// Starts the driver with `args`, its output going to `log`; it has `timeout` to finish.
    pub fn start<I, S>(script: &str, args: I, log: &Path, timeout: Duration) -> Self
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
        Self {
            process: Running(child),
            log: log.to_path_buf(),
            deadline: Instant::now() + timeout,
            timeout,
        }
    }

    /// What it printed so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Its exit status once it has exited; fails the test when it outlives its timeout.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        if let Some(status) = self.process.0.try_wait().expect("waitable") {
            return Some(status);
        }
        assert!(
            Instant::now() < self.deadline,
            "the browser run took longer than {:?}:\n{}",
            self.timeout,
            self.output()
        );
        None
    }

    /// Waits for it to exit and fails the test, with its output and `context` (the
    /// server's log), unless it succeeded; returns its output.
    pub async fn finish(mut self, context: impl FnOnce() -> String) -> String {
        let status = loop {
            if let Some(status) = self.exited() {
                break status;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let output = self.output();
        assert!(
            status.success(),
            "the browser run failed ({status}):\n{output}\n--- server log ---\n{}",
            context()
        );
        output
    }
}
