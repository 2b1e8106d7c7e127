//! The README's PLC demo (`flows/plc-demo.json`) end to end in a real browser: the `ferrite`
//! binary runs the demo in a user directory of its own until its temperature chart has
//! recorded points, is stopped with SIGTERM and started again on the same directory (so on
//! the same `ferrite.db`); headless Chromium (driven by `tests/browser/demo.mjs`) opens
//! `/dashboard`, finds every point recorded before the restart back-filled in the chart,
//! presses the button that flips the pump, sees the new pump state and live points after
//! the restart; the test then reads the pump's holding register over Modbus TCP and its
//! history to check the PLC really changed. Screenshots are kept in `target/test-artifacts/` (`demo-backfilled.png`,
//! `demo-button.png`).
//!
//! The demo's fixed ports (Modbus 5020, MQTT 1884) are replaced by free ones in the copy
//! the test runs, so it never collides with another test or a running demo.
//!
//! `./scripts/test` installs what this needs: Debian's `chromium` and `npm ci` in
//! `tests/browser`.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value as Json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::browser_support::{Driver, Running, artifacts, free_port, repo, require_browser_tools};
use super::support::request;

/// How long Ferrite may take to start, to record the chart's points, and to stop.
const STEP_TIMEOUT: Duration = Duration::from_secs(20);
/// The browser run; each of its steps has 20 s of its own.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(60);
/// The demo's temperature chart (ui-chart) and the series it records its points under.
const CHART: &str = "p1a0c0de00000014";
const CHART_SERIES: &str = "ui-chart:p1a0c0de00000014:temperature";
/// The history node's series of the pump register.
const PUMP_SERIES: &str = "plc-1.pump";
/// The demo's pump: holding register 2 of the simulated PLC.
const PUMP_REGISTER: u16 = 2;
/// Points the chart records before the restart.
const BEFORE_RESTART: usize = 3;

fn now_ms() -> i64 {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis();
    i64::try_from(ms).expect("epoch ms")
}

/// The demo flow with its Modbus and MQTT ports replaced, on the server and client side.
fn demo_on(modbus: u16, mqtt: u16) -> Json {
    let text = std::fs::read_to_string(repo().join("flows/plc-demo.json")).expect("the demo");
    let mut flow: Json = serde_json::from_str(&text).expect("the demo is JSON");
    let mut replaced = Vec::new();
    for node in flow.as_array_mut().expect("a flow is an array") {
        let (key, port) = match node["type"].as_str() {
            Some("modbus-server") => ("serverPort", modbus),
            Some("modbus-client") => ("tcpPort", modbus),
            Some("aedes broker") => ("mqtt_port", mqtt),
            Some("mqtt-broker") => ("port", mqtt),
            _ => continue,
        };
        assert!(
            node.get(key).is_some(),
            "the demo's {} has {key}",
            node["type"]
        );
        node[key] = Json::String(port.to_string());
        replaced.push(key);
    }
    replaced.sort_unstable();
    assert_eq!(
        replaced,
        ["mqtt_port", "port", "serverPort", "tcpPort"],
        "the demo has one Modbus server, client, broker and broker config"
    );
    flow
}

/// One `ferrite` process on the demo in `dir`, logging to `<dir>/<name>.log`.
struct Ferrite {
    process: Running,
    log: PathBuf,
    base: String,
}

impl Ferrite {
    /// Starts Ferrite on `<dir>/flows.json` with the editor on any free port, and waits
    /// until it logs where the editor listens.
    async fn start(dir: &Path, name: &str) -> Self {
        let log = dir.join(format!("{name}.log"));
        let out = std::fs::File::create(&log).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_ferrite"))
            .args(["--port", "0", "--userdir"])
            .arg(dir)
            .arg(dir.join("flows.json"))
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log file"))
            .stderr(out)
            .spawn()
            .expect("ferrite starts");
        let mut process = Running(child);
        let deadline = Instant::now() + STEP_TIMEOUT;
        let base = loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let address = text.lines().find_map(|l| {
                let rest = l.split("Editor at http://").nth(1)?;
                Some(rest.split('/').next()?.to_owned())
            });
            if let (Some(address), true) = (address, text.contains("Flows started")) {
                break format!("http://{address}/");
            }
            if let Some(status) = process.0.try_wait().expect("waitable") {
                panic!("ferrite exited ({status}) while starting:\n{text}");
            }
            assert!(
                Instant::now() < deadline,
                "ferrite did not start within {STEP_TIMEOUT:?}:\n{text}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        Self { process, log, base }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `GET /api/history` of `series` over the last hour: the timestamps and last values.
    async fn history(&self, series: &str) -> Vec<(i64, Json)> {
        let url = format!("{}api/history?series={series}", self.base);
        let reply = request("GET", &url, &[], None).await;
        assert_eq!(reply.status, 200, "{url}: {}", reply.text());
        reply.json()["points"]
            .as_array()
            .expect("points")
            .iter()
            .map(|p| (p[0].as_i64().expect("a timestamp"), p[4].clone()))
            .collect()
    }

    /// Stops it the way a service manager does, and waits for it to exit: its exit status
    /// and its log.
    async fn stop(mut self) -> (ExitStatus, String) {
        let killed = Command::new("kill")
            .args(["-TERM", &self.process.0.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(killed.success());
        let deadline = Instant::now() + STEP_TIMEOUT;
        loop {
            if let Some(status) = self.process.0.try_wait().expect("waitable") {
                return (status, self.log());
            }
            assert!(
                Instant::now() < deadline,
                "ferrite did not stop on SIGTERM within {STEP_TIMEOUT:?}:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// The lines of a Ferrite log that report an error while the flows ran: errors logged by
/// the runtime and what the demo's catch-all debug node ("error") printed. Shutdown is left
/// out: the demo's nodes stop in no set order.
fn errors_while_running(log: &str) -> Vec<&str> {
    log.lines()
        .take_while(|l| !l.contains("Stopping flows."))
        .filter(|l| l.contains(" ERROR ") || l.contains("[debug:error]"))
        .collect()
}

/// Reads one holding register with Modbus TCP function 3 (read holding registers).
async fn read_holding_register(port: u16, address: u16) -> std::io::Result<u16> {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    let [hi, lo] = address.to_be_bytes();
    // MBAP header (transaction 1, protocol 0, 6 bytes follow, unit 1), function 3,
    // start address, quantity 1.
    let request = [0, 1, 0, 0, 0, 6, 1, 3, hi, lo, 0, 1];
    stream.write_all(&request).await?;
    // The answer: the header, function 3, a byte count of 2, the register.
    let mut reply = [0u8; 11];
    stream.read_exact(&mut reply).await?;
    if reply[7] != 3 || reply[8] != 2 {
        return Err(std::io::Error::other(format!(
            "not a one-register answer: {reply:?}"
        )));
    }
    Ok(u16::from_be_bytes([reply[9], reply[10]]))
}

/// The README's demo survives a restart of Ferrite: its dashboard, opened in a browser
/// after the restart, shows every temperature point recorded before it, and its button
/// writes the pump register of the simulated PLC, which the page then shows; neither run
/// logs an error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_dashboard_back_fills_its_chart_after_a_restart_and_its_button_writes_the_pump_register()
 {
    require_browser_tools();
    let dir = tempfile::tempdir().expect("tempdir");
    let (modbus, mqtt) = (free_port(), free_port());
    let flows = serde_json::to_string_pretty(&demo_on(modbus, mqtt)).expect("JSON");
    std::fs::write(dir.path().join("flows.json"), flows).expect("write flows");

    // Run 1: until the chart has recorded its points.
    let first = Ferrite::start(dir.path(), "run1").await;
    let deadline = Instant::now() + STEP_TIMEOUT;
    let recorded = loop {
        let points = first.history(CHART_SERIES).await;
        if points.len() >= BEFORE_RESTART {
            break points;
        }
        assert!(
            Instant::now() < deadline,
            "the chart recorded {} points within {STEP_TIMEOUT:?}:\n{}",
            points.len(),
            first.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let (status, log) = first.stop().await;
    assert!(status.success(), "ferrite stopped with {status}:\n{log}");
    assert_eq!(errors_while_running(&log), Vec::<&str>::new(), "{log}");
    // Every point of this run is older than this; every point of the next one is newer.
    let restart_ms = now_ms();

    // Run 2, on the same user directory and database.
    let second = Ferrite::start(dir.path(), "run2").await;
    let artifacts = artifacts();
    for name in ["demo-backfilled.png", "demo-button.png"] {
        let _ = std::fs::remove_file(artifacts.join(name));
    }
    let timestamps: Vec<String> = recorded.iter().map(|(ts, _)| ts.to_string()).collect();
    let browser_log = dir.path().join("browser.log");
    let args: [std::ffi::OsString; 5] = [
        format!("{}dashboard/", second.base).into(),
        artifacts.clone().into(),
        CHART.into(),
        restart_ms.to_string().into(),
        timestamps.join(",").into(),
    ];
    let output = Driver::start("demo.mjs", args, &browser_log, BROWSER_TIMEOUT)
        .finish(|| second.log())
        .await;
    let back_filled: usize = output
        .lines()
        .find_map(|l| {
            l.strip_prefix("back-filled ")?
                .strip_suffix(" points")?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no \"back-filled\" line:\n{output}"));
    assert!(back_filled >= recorded.len(), "{output}");
    for name in ["demo-backfilled.png", "demo-button.png"] {
        assert!(
            artifacts.join(name).is_file(),
            "no screenshot {name}:\n{output}"
        );
    }

    // The page said so; the PLC and the history must agree.
    let expected: u16 = if output.contains("pump stopped -> running") {
        1
    } else if output.contains("pump running -> stopped") {
        0
    } else {
        panic!("the browser did not report the pump's change:\n{output}")
    };
    let register = read_holding_register(modbus, PUMP_REGISTER)
        .await
        .expect("the simulated PLC answers a Modbus read");
    assert_eq!(register, expected, "the pump register after the press");
    // The reading that changed the page was recorded too (the writer flushes in batches).
    let deadline = Instant::now() + STEP_TIMEOUT;
    loop {
        let pump = second.history(PUMP_SERIES).await;
        if pump.last().and_then(|(_, v)| v.as_f64()) == Some(f64::from(expected)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{PUMP_SERIES} never recorded {expected}: {pump:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, log) = second.stop().await;
    assert!(status.success(), "ferrite stopped with {status}:\n{log}");
    assert_eq!(errors_while_running(&log), Vec::<&str>::new(), "{log}");
}
