//! A real Mosquitto for the MQTT tests, on a free loopback port, stopped when dropped; and
//! `mosquitto_sub` / `mosquitto_pub` as clients that share no code with Ferrite.
//!
//! `scripts/test` installs Mosquitto when it is missing.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// A broker listener's options.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `(user, password)`: anonymous clients are refused.
    pub user: Option<(String, String)>,
    /// TLS: CA, server certificate and key files; `require_certificate` when `mutual`.
    pub tls: Option<TlsFiles>,
    /// Keep sessions and queued messages across a restart (saved on SIGTERM).
    pub persistence: bool,
    /// Sets `set_tcp_nodelay true` (latency tests).
    pub nodelay: bool,
    /// Also listen for MQTT over WebSocket (on [`Mosquitto::ws_port`]).
    pub websocket: bool,
    /// QoS 1/2 messages sent to a client before it acknowledges (`None`: no limit;
    /// Mosquitto's own default is 20).
    pub max_inflight: Option<u32>,
}

#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub mutual: bool,
}

pub struct Mosquitto {
    pub port: u16,
    /// The WebSocket listener's port, when asked for.
    pub ws_port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

fn binary(name: &str) -> PathBuf {
    for dir in ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"] {
        let path = Path::new(dir).join(name);
        if path.exists() {
            return path;
        }
    }
    panic!("{name} not found: install mosquitto and mosquitto-clients (scripts/test does)");
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Mosquitto {
    /// An anonymous broker.
    pub fn start() -> Self {
        Self::start_with(Options::default())
    }

    /// Starts on a free port (another one when a parallel test took it meanwhile).
    pub fn start_with(options: Options) -> Self {
        let mut failures = Vec::new();
        for _ in 0..3 {
            let mut broker = Self {
                port: free_port(),
                ws_port: free_port(),
                dir: tempfile::tempdir().expect("temp dir"),
                child: None,
            };
            broker.write_conf(&options);
            match broker.run() {
                Ok(()) => return broker,
                Err(log) => failures.push(log),
            }
        }
        panic!("mosquitto did not start: {failures:#?}");
    }

    fn write_conf(&self, options: &Options) {
        let port = self.port;
        let mut conf = format!(
            "listener {port} 127.0.0.1\nmax_queued_messages 1000000\nmax_inflight_messages {}\n\
             log_dest stderr\nlog_type error\n",
            options.max_inflight.unwrap_or(0)
        );
        match &options.user {
            Some((user, password)) => {
                let file = self.dir.path().join("passwd");
                let status = Command::new(binary("mosquitto_passwd"))
                    .args(["-b", "-c"])
                    .arg(&file)
                    .args([user, password])
                    .status()
                    .expect("mosquitto_passwd runs");
                assert!(status.success(), "mosquitto_passwd failed");
                conf += &format!("allow_anonymous false\npassword_file {}\n", file.display());
            }
            None => conf += "allow_anonymous true\n",
        }
        if let Some(tls) = &options.tls {
            conf += &format!(
                "cafile {}\ncertfile {}\nkeyfile {}\nrequire_certificate {}\n",
                tls.ca.display(),
                tls.cert.display(),
                tls.key.display(),
                tls.mutual
            );
        }
        if options.persistence {
            // Run as root, Mosquitto drops to the `mosquitto` user, which cannot write the
            // test's directory; `user root` keeps it (ignored when not started as root).
            conf += &format!(
                "persistence true\npersistence_location {}/\nuser root\n",
                self.dir.path().display()
            );
        }
        if options.nodelay {
            conf += "set_tcp_nodelay true\n";
        }
        if options.websocket {
            // After the main listener's options, which are per listener.
            conf += &format!("listener {} 127.0.0.1\nprotocol websockets\n", self.ws_port);
        }
        std::fs::write(self.dir.path().join("mosquitto.conf"), conf).expect("write conf");
    }

    /// Runs the broker until it listens; its log when it does not.
    fn run(&mut self) -> Result<(), String> {
        let log_path = self.dir.path().join("mosquitto.log");
        let log = std::fs::File::create(&log_path).expect("log file");
        let child = Command::new(binary("mosquitto"))
            .arg("-c")
            .arg(self.dir.path().join("mosquitto.conf"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("mosquitto starts");
        let child = self.child.insert(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            let exited = child.try_wait().ok().flatten().is_some();
            if exited || Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                self.child = None;
                return Err(std::fs::read_to_string(&log_path).unwrap_or_default());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// Stops the broker as an operator would (SIGTERM: persistent state is saved).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port.
    pub fn restart(&mut self) {
        self.stop();
        if let Err(log) = self.run() {
            panic!("mosquitto did not start again: {log}");
        }
    }

    /// A `mosquitto_sub` on this broker.
    pub fn sub(&self, args: &[&str]) -> Sub {
        Sub::spawn(self.port, args)
    }

    /// Publishes with `mosquitto_pub` and waits for it to finish.
    pub fn publish(&self, args: &[&str]) {
        let status = Command::new(binary("mosquitto_pub"))
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(args)
            .status()
            .expect("mosquitto_pub runs");
        assert!(status.success(), "mosquitto_pub {args:?} failed");
    }

    /// Publishes every line as its own message (`mosquitto_pub -l`) from a thread; the
    /// handle tells whether `mosquitto_pub` succeeded.
    pub fn publish_lines(
        &self,
        args: &[&str],
        lines: Vec<String>,
    ) -> std::thread::JoinHandle<bool> {
        let mut child = Command::new(binary("mosquitto_pub"))
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-l"])
            .args(args)
            .stdin(Stdio::piped())
            .spawn()
            .expect("mosquitto_pub runs");
        let mut stdin = child.stdin.take().expect("stdin");
        std::thread::spawn(move || {
            for line in lines {
                if writeln!(stdin, "{line}").is_err() {
                    break;
                }
            }
            drop(stdin);
            child.wait().is_ok_and(|status| status.success())
        })
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A running `mosquitto_sub` whose output lines are collected.
pub struct Sub {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Sub {
    fn spawn(port: u16, args: &[&str]) -> Self {
        let mut child = Command::new(binary("mosquitto_sub"))
            .args(["-h", "127.0.0.1", "-p", &port.to_string()])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("mosquitto_sub starts");
        let stdout = child.stdout.take().expect("stdout");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                sink.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(line);
            }
        });
        Self { child, lines }
    }

    pub fn lines(&self) -> Vec<String> {
        self.lines
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Waits until `n` lines arrived (or `within` passed) and returns what arrived.
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<String> {
        let deadline = Instant::now() + within;
        loop {
            let lines = self.lines();
            if lines.len() >= n || Instant::now() >= deadline {
                return lines;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits until the subscription is in place: publishes probes on `topic` until one
    /// shows up, then forgets them.
    pub async fn ready(&self, broker: &Mosquitto, topic: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            broker.publish(&["-t", topic, "-m", "__probe__"]);
            tokio::time::sleep(Duration::from_millis(30)).await;
            if self.lines().iter().any(|l| l.contains("__probe__")) {
                break;
            }
            assert!(Instant::now() < deadline, "mosquitto_sub never subscribed");
        }
        self.lines
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|l| !l.contains("__probe__"));
    }
}

impl Drop for Sub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
