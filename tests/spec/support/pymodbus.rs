//! A pymodbus server (`modbus_server.py` next to this file) as an independent Modbus peer:
//! Modbus TCP or RTU over TCP on a free loopback port, or RTU on a serial device. Units 1
//! and 2 hold: coils all off, discrete inputs on at even addresses, holding registers
//! `10 * address`, input registers `1000 + address` (addresses 0-99). Killed when dropped.
//!
//! `scripts/test` installs pymodbus in a virtual environment under `target/pyenv`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use super::mosquitto::free_port;

pub struct Pymodbus {
    /// The TCP port (0 for a serial server).
    pub port: u16,
    child: Child,
}

fn python() -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/pyenv/bin/python");
    assert!(
        path.exists(),
        "{} not found: scripts/test installs pymodbus there",
        path.display()
    );
    path
}

impl Pymodbus {
    /// Modbus TCP.
    pub fn tcp() -> Self {
        Self::start("tcp", &free_port().to_string())
    }

    /// Modbus TCP on `port` (a restart on the port an earlier server had).
    pub fn tcp_on(port: u16) -> Self {
        Self::start("tcp", &port.to_string())
    }

    /// RTU frames over TCP, as a serial gateway speaks.
    pub fn rtu_over_tcp() -> Self {
        Self::start("rtu-tcp", &free_port().to_string())
    }

    /// RTU on the serial device `path` at 19200 baud, 8N1.
    pub fn serial(path: &Path) -> Self {
        Self::start("serial", &path.display().to_string())
    }

    fn start(kind: &str, at: &str) -> Self {
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/spec/support/modbus_server.py");
        let mut child = Command::new(python())
            .arg(script)
            .args([kind, at])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python runs");
        let stdout = child.stdout.take().expect("piped stdout");
        let (ready_tx, ready) = mpsc::channel();
        std::thread::spawn(move || {
            let ready = BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .any(|line| line == "ready");
            let _ = ready_tx.send(ready);
        });
        let server = Self {
            port: at.parse().unwrap_or(0),
            child,
        };
        // Python and pymodbus take a while to import on a loaded machine.
        match ready.recv_timeout(Duration::from_secs(30)) {
            Ok(true) => server,
            _ => panic!("pymodbus {kind} server on {at} not ready within 30 s"),
        }
    }
}

impl Drop for Pymodbus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
