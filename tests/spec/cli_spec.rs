//! The `ferrite` command line: check, run, graceful stop.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn ferrite() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ferrite"))
}

/// `ferrite check` on a good flow exits 0 and says so.
#[test]
fn check_accepts_the_demo_flow() {
    let out = ferrite()
        .args(["check", "flows/demo.json"])
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("no issues"));
}

/// `ferrite check` reports missing types and broken nodes with id and type, exit 1.
#[test]
fn check_reports_problems_and_fails() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bad.json");
    std::fs::write(
        &path,
        r#"[{"id":"a","type":"nope"},{"id":"b","type":"link call","links":[],"linkType":"static","wires":[]}]"#,
    )
    .expect("write");
    let out = ferrite().arg("check").arg(&path).output().expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("missing node types"), "{text}");
    assert!(text.contains("nope"), "{text}");
    assert!(text.contains("[link call:b]"), "{text}");
}

/// Invalid JSON is reported with line and column.
#[test]
fn check_reports_json_syntax_errors_with_position() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("broken.json");
    std::fs::write(&path, "[\n  {\"id\": \"a\",,}\n]").expect("write");
    let out = ferrite().arg("check").arg(&path).output().expect("runs");
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("line 2"), "{text}");
}

/// Without a flows file Ferrite creates an empty flows.json in the user dir, runs, and
/// on SIGTERM stops gracefully with exit code 0.
#[test]
fn run_creates_flows_file_and_stops_gracefully_on_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    // The editor on a free port, so tests can run side by side.
    let mut child = ferrite()
        .args(["--port", "0", "--userdir"])
        .arg(dir.path())
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starts");
    let started = wait_for_line(&mut child, "Flows started");
    let flows = dir.path().join("flows.json");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !(flows.exists() && dir.path().join("ferrite.db").exists()) {
        assert!(
            Instant::now() < deadline,
            "flows.json and ferrite.db were not created"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        std::fs::read_to_string(&flows).expect("readable").trim(),
        "[]"
    );
    assert!(started, "ferrite did not log that the flows started");
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().expect("waitable") {
            break status;
        }
        assert!(Instant::now() < deadline, "ferrite did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "exit status {status}");
}

/// Ctrl-C stops Ferrite promptly even while two rhai nodes run endless loops with
/// limits that would let them spin for hours.
#[test]
fn ctrl_c_stops_ferrite_while_two_scripts_loop_forever() {
    let dir = tempfile::tempdir().expect("tempdir");
    let flows = dir.path().join("flows.json");
    let spin = |id: &str| {
        serde_json::json!({"id": id, "type": "rhai", "z": "t1", "func": "loop {}",
            "maxOperations": 1e15, "timeout": 0, "wires": [[]]})
    };
    let flow = serde_json::json!([
        {"id": "t1", "type": "tab", "label": "spin"},
        {"id": "i1", "type": "inject", "z": "t1", "once": true, "onceDelay": 0.1,
         "payload": "", "payloadType": "date", "wires": [["l1", "l2"]]},
        spin("l1"),
        spin("l2")
    ]);
    std::fs::write(&flows, flow.to_string()).expect("write flows");
    let mut child = ferrite()
        .arg(&flows)
        .arg("--userdir")
        .arg(dir.path())
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starts");
    assert!(
        wait_for_line(&mut child, "Flows started"),
        "flows did not start"
    );
    // Both loops spinning show as CPU time of the process.
    let deadline = Instant::now() + Duration::from_secs(20);
    while cpu_seconds(child.id()) < 0.5 {
        assert!(
            Instant::now() < deadline,
            "the scripts did not start spinning"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let interrupted = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(interrupted.success());
    let sent = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("waitable") {
            break status;
        }
        if sent.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            panic!("ferrite did not stop within 10 s of Ctrl-C");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "exit status {status}");
    assert!(
        sent.elapsed() < Duration::from_secs(5),
        "stop took {:?}",
        sent.elapsed()
    );
}

/// User plus system CPU time of process `pid`, from /proc.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks: f64 = fields
        .get(11..13)
        .map(|t| t.iter().filter_map(|v| v.parse::<f64>().ok()).sum())
        .unwrap_or(0.0);
    // Linux reports in USER_HZ, 100 on every platform Ferrite targets.
    ticks / 100.0
}

/// Reads the child's stdout (where logs go) until a line contains `needle` (20 s at most).
fn wait_for_line(child: &mut std::process::Child, needle: &str) -> bool {
    use std::io::BufRead;
    let Some(out) = child.stdout.take() else {
        return false;
    };
    let (tx, rx) = std::sync::mpsc::channel();
    let needle = needle.to_owned();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            if line.contains(&needle) {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(20)).is_ok()
}

/// A mistake in the editor's settings (`https`, `adminAuth`) stops Ferrite before any flow
/// runs, naming the setting, rather than leaving flows running without their editor.
#[test]
fn bad_editor_settings_stop_ferrite_before_flows_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let settings = dir.path().join("settings.json");
    std::fs::write(
        &settings,
        r#"{"https": {"certFile": "/nonexistent/cert.pem"}}"#,
    )
    .expect("settings");
    let out = ferrite()
        .args(["--port", "0", "--userdir"])
        .arg(dir.path())
        .arg("--settings")
        .arg(&settings)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("https.certFile"), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("Flows started"), "{stdout}");
}
