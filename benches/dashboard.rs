//! Dashboard benchmark (issue 8): "a chart with 100,000 points renders in under 300 ms".
//!
//! Fills a fresh user directory's `ferrite.db` with 100,000 points of the history series
//! a ui-chart back-fills from (`ui-chart:chart1:temperature`, the last hour), starts the
//! release `ferrite` binary on it with a flow holding that chart, and opens `/dashboard/`
//! in headless Chromium ten times (`tests/browser/dashboard-bench.mjs`, a fresh context
//! each time). Prints median and p95 of "data arrival → drawn" (from the websocket frame
//! that brought the chart to the chart's first draw: the page's own work) and of
//! "navigation start → drawn" (everything: page, scripts, socket, server, drawing), each
//! against the 300 ms target, the median load timeline, and how long the server alone
//! takes to send a new connection the layout frame (a Rust websocket client).
//!
//! `cargo bench --bench dashboard [-- --runs N]`. Needs Chromium (`CHROMIUM_PATH`, default
//! `/usr/bin/chromium`) and `npm ci` in `tests/browser` (./scripts/test does both). A miss
//! is reported, not a failure.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use ferrite_runtime::history::{HistoryStore, HistoryValue, Retention};
use ferrite_runtime::store::Db;
use serde_json::{Value as Json, json};

const POINTS: i64 = 100_000;
const TARGET_MS: f64 = 300.0;
const STARTUP: Duration = Duration::from_secs(60);

/// The server, killed when the bench ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let runs: usize = args
        .iter()
        .position(|a| a == "--runs")
        .and_then(|i| args.get(i + 1))
        .map(|n| n.parse())
        .transpose()
        .context("--runs takes a number")?
        .unwrap_or(10);
    let dir = tempfile::tempdir()?;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(fill_history(dir.path()))?;
    std::fs::write(dir.path().join("flows.json"), flows().to_string())?;

    let (server, url) = start(dir.path())?;
    let socket_ms = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(layout_frame_times(&url, runs))?;
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("node")
        .arg(repo.join("tests/browser/dashboard-bench.mjs"))
        .arg(&url)
        .arg(runs.to_string())
        .stderr(Stdio::inherit())
        .output()
        .context("running node (tests/browser/dashboard-bench.mjs)")?;
    drop(server);
    if !out.status.success() {
        bail!(
            "the browser run failed ({}): is Chromium installed and `npm ci` run in tests/browser?",
            out.status
        );
    }
    let results: Vec<Json> =
        serde_json::from_slice(&out.stdout).context("the browser run's output")?;
    report(&results)?;
    let (median, p95) = stats(socket_ms);
    println!(
        "  server alone (a Rust websocket client, connect -> whole layout frame): median {median:.0} ms, p95 {p95:.0} ms"
    );
    Ok(())
}

/// How long the server takes to hand a new connection the whole layout frame, without a
/// browser, once the chart is on the hub (a first connection right after the flows
/// start can get layouts without it): the JSON the hub keeps, framed and sent.
async fn layout_frame_times(url: &str, runs: usize) -> anyhow::Result<Vec<f64>> {
    use futures_util::StreamExt as _;
    let ws_url = format!("{url}ws").replacen("http://", "ws://", 1);
    let authority = ws_url
        .trim_start_matches("ws://")
        .split('/')
        .next()
        .context("the dashboard URL has no host")?
        .to_owned();
    let mut times = Vec::with_capacity(runs);
    // The first connection waits for the chart; the others are timed.
    for run in 0..=runs {
        let started = std::time::Instant::now();
        let stream = tokio::net::TcpStream::connect(&authority).await?;
        let (mut ws, _) = tokio_tungstenite::client_async(ws_url.as_str(), stream).await?;
        loop {
            let frame = tokio::time::timeout(STARTUP, ws.next())
                .await
                .context("no layout frame with the chart in time")?
                .context("the socket closed")??;
            if frame.len() > 1_000_000 {
                break;
            }
            anyhow::ensure!(run == 0, "a layout frame without the chart");
        }
        if run > 0 {
            times.push(started.elapsed().as_secs_f64() * 1000.0);
        }
    }
    Ok(times)
}

/// 100,000 points in the last hour (one every 35 ms): the window a ui-chart with the
/// default `removeOlder` (1 h) loads back at start.
async fn fill_history(dir: &Path) -> anyhow::Result<()> {
    let db = Db::open(&dir.join("ferrite.db")).await?;
    let store = HistoryStore::open(db.clone(), Retention::default());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis() as i64;
    let first = now - 3_600_000 + 60_000;
    for i in 0..POINTS {
        let value = 20.0 + 5.0 * (i as f64 / 5000.0).sin() + (i as f64 / 50.0).sin();
        store
            .record_wait(
                "ui-chart:chart1:temperature",
                first + i * 35,
                HistoryValue::Number(value),
            )
            .await?;
    }
    store.close().await;
    db.close().await;
    Ok(())
}

fn flows() -> Json {
    json!([
        {"id": "base", "type": "ui-base", "name": "Bench", "path": "/dashboard"},
        {"id": "theme", "type": "ui-theme", "name": "Default"},
        {"id": "page1", "type": "ui-page", "name": "Trend", "ui": "base", "path": "/trend",
            "theme": "theme", "layout": "grid", "order": 1},
        {"id": "group1", "type": "ui-group", "name": "Trend", "page": "page1", "width": 12,
            "height": 8, "order": 1, "showTitle": true},
        {"id": "tab1", "type": "tab", "label": "Bench"},
        {"id": "chart1", "type": "ui-chart", "z": "tab1", "group": "group1", "order": 1,
            "label": "Temperature", "chartType": "line", "xAxisType": "time",
            "removeOlder": 1, "removeOlderUnit": "3600", "removeOlderPoints": "",
            "width": 12, "height": 8, "wires": [[]]}
    ])
}

/// Starts `ferrite` on `dir` (any free port) and waits until its flows run; returns it
/// and the dashboard's URL.
fn start(dir: &Path) -> anyhow::Result<(Server, String)> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferrite"))
        .arg("--userdir")
        .arg(dir)
        .args(["--port", "0"])
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting the ferrite binary")?;
    let stdout = child.stdout.take().context("ferrite's stdout")?;
    let server = Server(child);
    let (lines, seen) = mpsc::channel();
    // Reads to the end, so the server never blocks on a full pipe.
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    let mut url = None;
    loop {
        let line = seen
            .recv_timeout(STARTUP)
            .context("ferrite did not start its flows in time")?;
        if let Some(at) = line.find("http://") {
            let address: String = line[at..]
                .chars()
                .take_while(|c| !c.is_whitespace())
                .collect();
            url = Some(format!("{}/dashboard/", address.trim_end_matches('/')));
        }
        if line.contains("Flows not started") || line.contains("ERROR") {
            bail!("ferrite: {line}");
        }
        if line.contains("Flows started") {
            break;
        }
    }
    Ok((server, url.context("ferrite logged no editor address")?))
}

fn report(results: &[Json]) -> anyhow::Result<()> {
    let field =
        |name: &str| -> Vec<f64> { results.iter().filter_map(|r| r[name].as_f64()).collect() };
    let (frames, drawn) = (field("frame"), field("drawn"));
    anyhow::ensure!(
        frames.len() == results.len() && drawn.len() == results.len() && !results.is_empty(),
        "a run has no frame or draw time"
    );
    let points = results[0]["points"].as_u64().unwrap_or(0);
    let bytes = results[0]["frameBytes"].as_u64().unwrap_or(0);
    println!(
        "dashboard: {} runs, chart of {points} points, layout frame {:.1} MB",
        results.len(),
        bytes as f64 / 1e6
    );
    anyhow::ensure!(
        points == POINTS as u64,
        "the chart held {points} points, not {POINTS}"
    );
    let rendered: Vec<f64> = drawn.iter().zip(&frames).map(|(d, f)| d - f).collect();
    line("data arrival -> drawn", rendered);
    line("navigation start -> drawn", drawn);
    let timeline: Vec<String> = [
        "html",
        "dashboard.js",
        "uPlot.js",
        "scripts",
        "open",
        "frame",
        "parsed",
        "drawn",
    ]
    .iter()
    .map(|name| format!("{name} {:.0}", stats(field(name)).0))
    .collect();
    println!(
        "  median timeline (ms from navigation start): {}",
        timeline.join(", ")
    );
    Ok(())
}

/// Median and p95 (nearest rank: of 10 runs, the slowest).
fn stats(mut v: Vec<f64>) -> (f64, f64) {
    if v.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    v.sort_by(f64::total_cmp);
    let rank = ((v.len() as f64 * 0.95).ceil() as usize).clamp(1, v.len());
    (v[v.len() / 2], v[rank - 1])
}

fn line(what: &str, v: Vec<f64>) {
    let (median, p95) = stats(v);
    let verdict = if p95 < TARGET_MS { "MET" } else { "MISSED" };
    println!(
        "{what}: median {median:.0} ms, p95 {p95:.0} ms (target < {TARGET_MS:.0} ms) {verdict}"
    );
}
