//! The dashboard page (`/dashboard`) and its websocket (`/dashboard/ws`), over real HTTP and a
//! real socket. Items are put on the hub directly, as the `ui-*` nodes do; inputs are
//! checked end to end through `test-ui-input`, a node that registers an input item and sends
//! what the page gave it on to a `helper`.
//!
//! Also home of [`Dashboard`] and [`PageSocket`], which the browser test uses.

use std::time::Duration;

use ferrite_runtime::admin::{self, AdminState};
use ferrite_runtime::testing::TestFlow;
use ferrite_runtime::ui::UiItem;
use ferrite_runtime::{
    BuildCtx, ConfigError, Event, Msg, Node, NodeCtx, NodeDef, NodeError, Role, Settings,
    async_trait, node::Build,
};
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value as Json, json};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

use super::support::{Server, request, serve_error};

/// Longest wait for one frame.
const FRAME_TIMEOUT: Duration = Duration::from_secs(10);

/// `test-ui-input`: registers an input item (id = the node id; `kind`, `label` and `state`
/// from its config, a "Press" `ui-button` by default) whose page inputs come back to it,
/// and sends each on.
const UI_INPUT: NodeDef = NodeDef {
    type_name: "test-ui-input",
    category: "test",
    set_id: "test/ui-input",
    role: Role::Plain,
    build: Build::Flow(build_ui_input),
};

fn build_ui_input(cx: &mut BuildCtx<'_>) -> Result<Box<dyn Node>, ConfigError> {
    let text = |key: &str, default: &str| {
        cx.raw()
            .get(key)
            .and_then(Json::as_str)
            .unwrap_or(default)
            .to_owned()
    };
    Ok(Box::new(UiInput {
        kind: text("kind", "ui-button"),
        label: text("label", "Press"),
        state: cx.raw().get("state").cloned().unwrap_or(Json::Null),
    }))
}

struct UiInput {
    kind: String,
    label: String,
    state: Json,
}

#[async_trait]
impl Node for UiInput {
    async fn on_start(&mut self, cx: &mut NodeCtx) -> Result<(), NodeError> {
        let config = json!({"label": self.label});
        let mut item = widget(cx.id(), &self.kind, config, self.state.clone());
        item.input = Some(cx.event_sender());
        cx.ui().register(item);
        Ok(())
    }

    async fn on_input(&mut self, _msg: Msg, _cx: &mut NodeCtx) -> Result<(), NodeError> {
        Ok(())
    }

    async fn on_event(&mut self, event: Event, cx: &mut NodeCtx) -> Result<(), NodeError> {
        if let Event::Message(msg) = event {
            cx.send(msg).await;
        }
        Ok(())
    }

    async fn on_close(&mut self, _removed: bool, cx: &mut NodeCtx) {
        cx.ui().unregister(cx.id());
    }
}

static UI_TEST_NODES: &[NodeDef] = &[UI_INPUT];

/// A widget item in group `group` (output-only: no input).
pub fn widget(id: &str, kind: &str, config: Json, state: Json) -> UiItem {
    UiItem {
        id: id.to_owned(),
        kind: kind.to_owned(),
        parent: Some("group".to_owned()),
        order: 1.0,
        config,
        state,
        input: None,
    }
}

/// A layout item without input.
pub fn item(id: &str, kind: &str, parent: Option<&str>, order: f64, config: Json) -> UiItem {
    UiItem {
        id: id.to_owned(),
        kind: kind.to_owned(),
        parent: parent.map(str::to_owned),
        order,
        config,
        state: Json::Null,
        input: None,
    }
}

/// A running flow (with `test-ui-input` and `helper`) whose runtime serves the admin router,
/// the dashboard included, on a free loopback port. Dropping it stops the server.
pub struct Dashboard {
    pub flow: TestFlow,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Dashboard {
    /// `button` is the id of a deployed `test-ui-input` node wired to the helper `out`;
    /// `inputs` are more of them (their config without `id`, `type`, `z`, `wires`).
    pub async fn start(button: &str, inputs: &[(&str, Json)]) -> Self {
        let mut flow = vec![
            json!({"id": "t1", "type": "tab"}),
            json!({"id": button, "type": "test-ui-input", "z": "t1", "wires": [["out"]]}),
            json!({"id": "out", "type": "helper", "z": "t1"}),
        ];
        for (id, config) in inputs {
            let mut node = config.clone();
            node["id"] = json!(id);
            node["type"] = json!("test-ui-input");
            node["z"] = json!("t1");
            node["wires"] = json!([["out"]]);
            flow.push(node);
        }
        let flow = Json::Array(flow);
        let flow = TestFlow::load_with(
            &[ferrite_nodes::ALL, UI_TEST_NODES],
            flow,
            Settings::default(),
        )
        .await;
        assert!(flow.report().is_clean(), "{}", flow.report());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let state = AdminState::new(flow.runtime().clone());
        tokio::spawn(async move {
            let stopped = async {
                let _ = stopped.await;
            };
            admin::serve(listener, state, stopped).await.expect("serve");
        });
        Self {
            flow,
            base: format!("http://127.0.0.1:{port}"),
            _stop: stop,
        }
    }
}

/// A `/dashboard/ws` client, as the page is.
pub struct PageSocket {
    ws: WebSocketStream<TcpStream>,
}

impl PageSocket {
    /// Opens the socket at `base` (`http://host:port[/root]`).
    pub async fn connect(base: &str) -> Self {
        let url = format!("{}/dashboard/ws", base.replacen("http://", "ws://", 1));
        let authority = url
            .trim_start_matches("ws://")
            .split('/')
            .next()
            .expect("authority")
            .to_owned();
        let work = async {
            let stream = TcpStream::connect(&authority).await.expect("connect");
            let (ws, response) = tokio_tungstenite::client_async(url.as_str(), stream)
                .await
                .expect("websocket handshake");
            assert_eq!(response.status().as_u16(), 101);
            ws
        };
        let ws = tokio::time::timeout(FRAME_TIMEOUT, work)
            .await
            .expect("websocket connect in time");
        Self { ws }
    }

    pub async fn send_text(&mut self, text: String) {
        self.ws
            .send(Message::Text(text.into()))
            .await
            .expect("send frame");
    }

    pub async fn send(&mut self, frame: Json) {
        self.send_text(frame.to_string()).await;
    }

    /// The next text frame, parsed.
    pub async fn frame(&mut self) -> Json {
        loop {
            let next = tokio::time::timeout(FRAME_TIMEOUT, self.ws.next())
                .await
                .expect("a frame in time")
                .expect("the socket stays open")
                .expect("a frame");
            if let Message::Text(text) = next {
                return serde_json::from_str(&text).expect("frames are JSON");
            }
        }
    }

    /// Frames until one of `kind` arrives.
    pub async fn next_of(&mut self, kind: &str) -> Json {
        loop {
            let frame = self.frame().await;
            if frame["type"] == kind {
                return frame;
            }
        }
    }
}

async fn socket(server: &Server) -> PageSocket {
    PageSocket::connect(&server.base).await
}

fn ids(layout: &Json) -> Vec<&str> {
    layout["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["id"].as_str().expect("id"))
        .collect()
}

/// GET /dashboard redirects to /dashboard/, which serves the page, its script and uPlot.
#[tokio::test]
async fn dashboard_redirects_to_its_folder_and_serves_the_page_and_its_files() {
    let server = Server::start().await;
    let reply = server.get("dashboard").await;
    assert_eq!(reply.status, 301);
    assert_eq!(reply.header("location"), Some("dashboard/"));

    let page = server.get("dashboard/").await;
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let html = page.text();
    for wanted in [
        "dashboard.js",
        "uplot/uPlot.iife.min.js",
        "name=\"viewport\"",
    ] {
        assert!(html.contains(wanted), "page lacks {wanted}: {html}");
    }
    for (path, kind, marker) in [
        (
            "dashboard/dashboard.js",
            "application/javascript",
            "__ferriteChartDrawnMs",
        ),
        (
            "dashboard/dashboard.css",
            "text/css",
            "grid-template-columns",
        ),
        (
            "dashboard/uplot/uPlot.iife.min.js",
            "application/javascript",
            "uPlot",
        ),
        ("dashboard/uplot/uPlot.min.css", "text/css", ".uplot"),
    ] {
        let reply = server.get(path).await;
        assert_eq!(reply.status, 200, "{path}");
        assert!(
            reply
                .header("content-type")
                .is_some_and(|t| t.starts_with(kind)),
            "{path}: {:?}",
            reply.header("content-type")
        );
        assert!(reply.text().contains(marker), "{path} lacks {marker}");
    }
}

/// Paths that leave the page's folders, and files not served, are 404 with {code, message}.
#[tokio::test]
async fn dashboard_refuses_paths_outside_its_folders() {
    let server = Server::start().await;
    for path in [
        "dashboard/%2e%2e/package.json",
        "dashboard/uplot/%2e%2e/uPlot.cjs.js",
        "dashboard/uplot/..%2fpackage.json",
        "dashboard/uplot/uPlot.cjs.js",
        "dashboard/nope.js",
        "dashboard/%2fetc%2fpasswd",
    ] {
        let reply = server.get(path).await;
        assert_eq!(reply.status, 404, "{path}: {}", reply.text());
        assert_eq!(reply.json()["code"], "not_found", "{path}");
        assert!(reply.json()["message"].is_string(), "{path}");
    }
}

/// With adminAuth the dashboard still opens without a login, as Node-RED's httpNode routes.
#[tokio::test]
async fn dashboard_needs_no_editor_login() {
    let server = Server::with(
        json!({"adminAuth": {"type": "credentials", "users": [
            {"username": "admin", "password": "$2a$08$zZWtXTja0fB1pzD4sHCMyOCMYz2Z6dNbM6tl8sJogENOMcxWV9DN.", "permissions": "*"}
        ]}}),
        json!([]),
    )
    .await;
    assert_eq!(server.get("flows").await.status, 401);
    assert_eq!(server.get("dashboard/").await.status, 200);
    let mut page = socket(&server).await;
    assert_eq!(page.frame().await["type"], "layout");
}

/// A page that connects gets the whole layout at once, with each item's config and state.
#[tokio::test]
async fn socket_sends_the_layout_with_states_on_connect() {
    let server = Server::start().await;
    let ui = server.runtime.ui();
    ui.register(item("base", "ui-base", None, 0.0, json!({"name": "Plant"})));
    ui.register(widget(
        "g1",
        "ui-gauge",
        json!({"min": 0, "max": 100}),
        json!({"value": 42}),
    ));
    let mut page = socket(&server).await;
    let layout = page.frame().await;
    assert_eq!(layout["type"], "layout");
    assert_eq!(ids(&layout), ["base", "g1"]);
    let gauge = &layout["items"][1];
    assert_eq!(gauge["kind"], "ui-gauge");
    assert_eq!(gauge["parent"], "group");
    assert_eq!(gauge["config"]["max"], 100);
    assert_eq!(gauge["state"], json!({"value": 42}));
}

/// Registering or removing an item (a deploy) sends the page the new layout.
#[tokio::test]
async fn socket_sends_a_new_layout_when_items_change() {
    let server = Server::start().await;
    let mut page = socket(&server).await;
    assert!(ids(&page.next_of("layout").await).is_empty());
    let ui = server.runtime.ui();
    ui.register(widget("t1", "ui-text", json!({}), Json::Null));
    assert_eq!(ids(&page.next_of("layout").await), ["t1"]);
    ui.unregister("t1");
    assert!(ids(&page.next_of("layout").await).is_empty());
}

/// A message a node sends to its item reaches the page as {type:"msg", id, msg}, in order.
#[tokio::test]
async fn socket_forwards_item_messages_in_order() {
    let server = Server::start().await;
    let ui = server.runtime.ui();
    ui.register(widget("g1", "ui-gauge", json!({}), Json::Null));
    let mut page = socket(&server).await;
    page.next_of("layout").await;
    ui.send("g1", json!({"value": 1}), Some(json!({"value": 1})));
    ui.send("g1", json!({"value": 2}), Some(json!({"value": 2})));
    assert_eq!(
        page.frame().await,
        json!({"type": "msg", "id": "g1", "msg": {"value": 1}})
    );
    assert_eq!(
        page.frame().await,
        json!({"type": "msg", "id": "g1", "msg": {"value": 2}})
    );
}

/// A page's input reaches the node behind the item as a message with the input's keys.
#[tokio::test]
async fn page_input_reaches_the_node_as_a_message() {
    let mut dash = Dashboard::start("b1", &[]).await;
    let mut page = PageSocket::connect(&dash.base).await;
    let layout = page.next_of("layout").await;
    assert_eq!(ids(&layout), ["b1"]);
    page.send(json!({"type": "input", "id": "b1", "msg": {"payload": 5, "topic": "press"}}))
        .await;
    let msg = dash.flow.next("out").await;
    let json: Json = serde_json::from_str(&msg.to_json_string()).expect("msg json");
    assert_eq!(json["payload"], 5);
    assert_eq!(json["topic"], "press");
}

/// Input for an unknown item or an output-only one is refused with an error frame; frames
/// that are no input are ignored and the socket keeps serving.
#[tokio::test]
async fn refused_inputs_are_answered_and_bad_frames_ignored() {
    let server = Server::start().await;
    server
        .runtime
        .ui()
        .register(widget("g1", "ui-gauge", json!({}), Json::Null));
    let mut page = socket(&server).await;
    page.next_of("layout").await;
    for bad in [
        "not json".to_owned(),
        "[1,2]".to_owned(),
        json!({"type": "input", "id": "g1", "msg": 5}).to_string(),
        json!({"type": "input", "msg": {}}).to_string(),
        json!({"type": "other", "id": "g1"}).to_string(),
    ] {
        page.send_text(bad).await;
    }
    page.send(json!({"type": "input", "id": "nope", "msg": {}}))
        .await;
    // The first frame after the bad ones answers the refused input: nothing came before.
    let refused = page.frame().await;
    assert_eq!(refused["type"], "error");
    assert_eq!(refused["id"], "nope");
    assert_eq!(refused["code"], "unknown_item");
    page.send(json!({"type": "input", "id": "g1", "msg": {}}))
        .await;
    let refused = page.frame().await;
    assert_eq!(refused["code"], "no_input");
    assert!(
        refused["message"]
            .as_str()
            .is_some_and(|m| m.contains("g1")),
        "{refused}"
    );
}

/// A page that cannot keep up loses the oldest events but keeps going, and gets a fresh
/// layout so its widgets show current states.
#[tokio::test]
async fn a_lagging_page_gets_a_fresh_layout_and_keeps_going() {
    let server = Server::start().await;
    let ui = server.runtime.ui();
    ui.register(widget("g1", "ui-gauge", json!({}), Json::Null));
    let mut page = socket(&server).await;
    page.next_of("layout").await;
    // More than the hub keeps for one page, sent before the page reads any.
    let mut hub = ui.subscribe();
    for i in 0..10_000 {
        ui.send("g1", json!({"value": i}), Some(json!({"value": i})));
    }
    assert!(matches!(
        hub.try_recv(),
        Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_))
    ));
    let mut saw_layout = false;
    loop {
        let frame = page.frame().await;
        if frame["type"] == "layout" {
            assert_eq!(frame["items"][0]["state"], json!({"value": 9999}));
            saw_layout = true;
        }
        if frame["type"] == "msg" && frame["msg"]["value"] == 9999 {
            break;
        }
    }
    assert!(saw_layout, "no fresh layout after the loss");
    ui.send("g1", json!({"value": -1}), None);
    assert_eq!(page.frame().await["msg"]["value"], -1);
}

/// The page and socket live under httpAdminRoot like the rest of the admin side.
#[tokio::test]
async fn dashboard_follows_http_admin_root() {
    let server = Server::with(json!({"httpAdminRoot": "/admin"}), json!([])).await;
    let page = request("GET", &server.url("dashboard/"), &[], None).await;
    assert_eq!(page.status, 200);
    let mut socket = PageSocket::connect(&server.base).await;
    assert_eq!(socket.frame().await["type"], "layout");
}

/// A deploy's burst of registrations reaches a page as one layout, not one per item.
#[tokio::test]
async fn a_burst_of_registrations_sends_one_layout() {
    let server = Server::start().await;
    let mut page = socket(&server).await;
    page.next_of("layout").await;
    let ui = server.runtime.ui();
    // No await between them: the page's task sees them all queued at once.
    for i in 0..50 {
        ui.register(widget(&format!("w{i}"), "ui-text", json!({}), Json::Null));
    }
    assert_eq!(ids(&page.frame().await).len(), 50);
    // The next frame answers this input: no further layout came before it.
    page.send(json!({"type": "input", "id": "nope", "msg": {}}))
        .await;
    assert_eq!(page.frame().await["type"], "error");
}

/// Node-RED's example hash (its settings.js template) for the password "password".
const PASSWORD_HASH: &str = "$2a$08$zZWtXTja0fB1pzD4sHCMyOCMYz2Z6dNbM6tl8sJogENOMcxWV9DN.";

async fn node_auth_server() -> Server {
    Server::with(
        json!({"httpNodeAuth": {"user": "operator", "pass": PASSWORD_HASH}}),
        json!([]),
    )
    .await
}

fn basic(user: &str, password: &str) -> String {
    use base64::Engine as _;
    let encoded =
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}").as_bytes());
    format!("Basic {encoded}")
}

/// httpNodeAuth: the dashboard's page and files need the user and password, as Node-RED's
/// httpNode routes do, and a refusal asks the browser for them.
#[tokio::test]
async fn http_node_auth_asks_for_basic_credentials_before_the_dashboard() {
    let server = node_auth_server().await;
    let good = basic("operator", "password");
    for path in ["dashboard/", "dashboard/dashboard.js"] {
        let url = server.url(path);
        let refused = request("GET", &url, &[], None).await;
        assert_eq!(refused.status, 401, "{path}");
        assert_eq!(
            refused.header("www-authenticate"),
            Some("Basic realm=\"Authorization Required\"")
        );
        for wrong in [
            basic("operator", "wrong"),
            basic("admin", "password"),
            "Bearer password".to_owned(),
        ] {
            let reply = request("GET", &url, &[("authorization", &wrong)], None).await;
            assert_eq!(reply.status, 401, "{path} with {wrong}");
        }
        // Twice: the second is answered from the remembered password.
        for _ in 0..2 {
            let reply = request("GET", &url, &[("authorization", &good)], None).await;
            assert_eq!(reply.status, 200, "{path}");
        }
    }
}

/// The dashboard's websocket is guarded too: the browser sends the credentials it was
/// asked for with the upgrade request.
#[tokio::test]
async fn http_node_auth_guards_the_dashboard_socket() {
    let server = node_auth_server().await;
    let upgrade = [
        ("connection", "Upgrade"),
        ("upgrade", "websocket"),
        ("sec-websocket-version", "13"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ];
    let url = server.url("dashboard/ws");
    assert_eq!(request("GET", &url, &upgrade, None).await.status, 401);
    let good = basic("operator", "password");
    let mut with_credentials = upgrade.to_vec();
    with_credentials.push(("authorization", &good));
    assert_eq!(
        request("GET", &url, &with_credentials, None).await.status,
        101
    );
}

/// httpNodeAuth is the dashboard's alone: the editor and Admin API follow adminAuth.
#[tokio::test]
async fn http_node_auth_leaves_the_editor_to_admin_auth() {
    let server = node_auth_server().await;
    assert_eq!(
        request("GET", &server.url("settings"), &[], None)
            .await
            .status,
        200
    );
    assert_eq!(request("GET", &server.url(""), &[], None).await.status, 200);
}

/// A httpNodeAuth Ferrite cannot check stops it before any flow starts, naming what to fix.
#[tokio::test]
async fn a_bad_http_node_auth_stops_ferrite_naming_the_setting() {
    let cases = [
        (
            json!({"httpNodeAuth": "operator:password"}),
            "httpNodeAuth must be an object",
        ),
        (
            json!({"httpNodeAuth": {"pass": PASSWORD_HASH}}),
            "httpNodeAuth.user",
        ),
        (
            json!({"httpNodeAuth": {"user": "operator"}}),
            "httpNodeAuth.pass",
        ),
        (
            json!({"httpNodeAuth": {"user": "operator", "pass": "5f4dcc3b5aa765d61d8327deb882cf99"}}),
            "not a bcrypt hash",
        ),
    ];
    for (settings, named) in cases {
        let error = serve_error(settings).await;
        assert!(error.contains(named), "{named}: {error}");
    }
}
