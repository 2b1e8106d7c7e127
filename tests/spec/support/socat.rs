//! A pair of connected pseudo-terminals made by `socat`: a serial line for the RTU tests
//! with Ferrite on one end and a peer on the other. Stopped when dropped.
//!
//! `scripts/test` installs socat when it is missing.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct PtyPair {
    /// The two ends, as device paths (symbolic links to `/dev/pts/N`).
    pub a: PathBuf,
    pub b: PathBuf,
    _dir: tempfile::TempDir,
    child: Child,
}

impl PtyPair {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        let end = |path: &PathBuf| format!("pty,raw,echo=0,link={}", path.display());
        let child = Command::new("socat")
            .args([end(&a), end(&b)])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("socat runs (scripts/test installs it)");
        let mut pair = Self {
            a,
            b,
            _dir: dir,
            child,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !(pair.a.exists() && pair.b.exists()) {
            if let Ok(Some(status)) = pair.child.try_wait() {
                panic!("socat exited: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "socat made no pty pair within 10 s"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        pair
    }
}

impl Drop for PtyPair {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
