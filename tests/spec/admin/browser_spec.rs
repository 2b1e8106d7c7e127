//! The editor in a real browser: the `ferrite` binary serves it, headless Chromium (driven
//! by `tests/browser/editor.mjs` with playwright-core) imports a flow through the import
//! dialog, deploys it, presses the inject button and sees the message in the debug sidebar;
//! and it opens the edit dialog of each of Ferrite's Modbus node definitions. Screenshots are
//! kept in `target/test-artifacts/` (`editor.png`, `modbus-nodes.png`).
//!
//! `./scripts/test` installs what this needs: Debian's `chromium` and `npm ci` in
//! `tests/browser`. `BROWSER_TEST_SERVER` names another program to start instead of
//! `ferrite` (it gets the same `-u <dir> -p <port> <flows file>` arguments), to run the same
//! test against a real Node-RED for comparison.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value as Json;

use super::browser_support::{Driver, Running, artifacts, free_port, require_browser_tools};
use super::support::request;

/// How long the server may take to answer `GET /settings` after it is started.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// The whole browser run; each of its nine steps has 30 s of its own.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(300);
/// The payload the driver's inject node sends.
const PAYLOAD: &str = "hello ferrite";

/// Starts the server on `port` with a fresh user directory and an empty flows file; its
/// output goes to `server.log` in that directory.
fn start_server(dir: &Path, port: u16) -> Running {
    let flows = dir.join("flows.json");
    std::fs::write(&flows, "[]\n").expect("write flows");
    let log = std::fs::File::create(dir.join("server.log")).expect("log file");
    let program = std::env::var_os("BROWSER_TEST_SERVER")
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_ferrite").into());
    let child = Command::new(&program)
        .arg("-u")
        .arg(dir)
        .args(["-p", &port.to_string()])
        .arg(&flows)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log file"))
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.to_string_lossy()));
    Running(child)
}

fn server_log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("server.log")).unwrap_or_default()
}

/// Waits until `GET /settings` answers 200: the editor can load.
async fn wait_until_ready(server: &mut Running, dir: &Path, base: &str, port: u16) {
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Some(status) = server.0.try_wait().expect("waitable") {
            panic!(
                "the server exited ({status}) before answering:\n{}",
                server_log(dir)
            );
        }
        // `request` fails the test when nothing listens yet, so knock first.
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
            && request("GET", &format!("{base}settings"), &[], None)
                .await
                .status
                == 200
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "GET /settings did not answer 200 within {START_TIMEOUT:?}:\n{}",
            server_log(dir)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Ferrite's own node definitions checked in the browser (`editor-static/nodes/`).
const MODBUS_TYPES: &str = "modbus-client,modbus-read,modbus-getter,modbus-flex-getter,\
                            modbus-write,modbus-flex-write,modbus-server";

/// A started server and a finished, successful browser run against it.
struct Browsed {
    base: String,
    screenshot: PathBuf,
    output: String,
    // Kept alive: the server runs in this directory until the test ends.
    _dir: tempfile::TempDir,
    _server: Running,
}

/// Starts a server, runs `tests/browser/editor.mjs` against it with `extra` arguments and
/// the screenshot `target/test-artifacts/<name>`, and fails the test, with both logs, unless
/// the run succeeded and left its screenshot.
async fn browse(name: &str, extra: &[&str]) -> Browsed {
    require_browser_tools();
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}/");
    let mut server = start_server(dir.path(), port);
    wait_until_ready(&mut server, dir.path(), &base, port).await;

    let screenshot = artifacts().join(name);
    let _ = std::fs::remove_file(&screenshot);
    let out_path = dir.path().join("browser.log");
    let mut args: Vec<std::ffi::OsString> = vec![base.clone().into(), screenshot.clone().into()];
    args.extend(extra.iter().map(Into::into));
    let output = Driver::start("editor.mjs", args, &out_path, BROWSER_TIMEOUT)
        .finish(|| server_log(dir.path()))
        .await;
    assert!(
        screenshot.is_file(),
        "no screenshot at {}:\n{output}",
        screenshot.display()
    );
    Browsed {
        base,
        screenshot,
        output,
        _dir: dir,
        _server: server,
    }
}

/// A user imports a flow through the editor's import dialog, deploys it, presses the
/// inject button and sees the message in the debug sidebar; the server keeps the flow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn editor_imports_deploys_and_shows_the_injected_message_in_the_debug_sidebar() {
    let run = browse("editor.png", &[]).await;
    assert!(
        run.output
            .contains(&format!("the debug sidebar shows \"{PAYLOAD}\"")),
        "{}",
        run.output
    );

    let flows = request("GET", &format!("{}flows", run.base), &[], None).await;
    assert_eq!(flows.status, 200, "{}", flows.text());
    let flows = flows.json();
    let nodes = flows.as_array().expect("GET /flows (v1) is an array");
    let of_type = |t: &str| -> Vec<&Json> { nodes.iter().filter(|n| n["type"] == t).collect() };
    let (injects, debugs) = (of_type("inject"), of_type("debug"));
    assert_eq!(injects.len(), 1, "one inject node deployed: {flows}");
    assert_eq!(debugs.len(), 1, "one debug node deployed: {flows}");
    let (inject, debug) = (injects[0], debugs[0]);
    assert_eq!(inject["payload"], PAYLOAD);
    assert_eq!(inject["wires"], serde_json::json!([[debug["id"]]]));
    // Placed on the tab the editor had open, which was deployed with them.
    assert!(
        nodes
            .iter()
            .any(|n| n["type"] == "tab" && n["id"] == inject["z"]),
        "the inject node's tab was deployed: {flows}"
    );
}

/// The editor offers Ferrite's Modbus nodes in the palette (the client as a config node),
/// each with help text and an edit dialog that opens without a script error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn editor_offers_the_modbus_nodes_with_edit_dialogs_and_help() {
    let run = browse("modbus-nodes.png", &[MODBUS_TYPES]).await;
    for kind in MODBUS_TYPES.split(',') {
        assert!(
            run.output.contains(&format!("ok   edit dialog of {kind} ")),
            "{kind} not checked ({}):\n{}",
            run.screenshot.display(),
            run.output
        );
    }
}

/// Ferrite's dashboard (FlowFuse Dashboard 2.0 type names) and history node definitions.
const DASHBOARD_TYPES: &str = "ui-base,ui-page,ui-group,ui-theme,ui-chart,ui-gauge,ui-text,\
                               ui-button,ui-switch,ui-slider,ui-notification,ui-table,history";

/// The editor offers the dashboard nodes (their config nodes as config nodes) and the
/// history node in the palette, each with help text and an edit dialog that opens without a
/// script error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn editor_offers_the_dashboard_and_history_nodes_with_edit_dialogs_and_help() {
    let run = browse("dashboard-nodes.png", &[DASHBOARD_TYPES]).await;
    for kind in DASHBOARD_TYPES.split(',') {
        assert!(
            run.output.contains(&format!("ok   edit dialog of {kind} ")),
            "{kind} not checked ({}):\n{}",
            run.screenshot.display(),
            run.output
        );
    }
}
