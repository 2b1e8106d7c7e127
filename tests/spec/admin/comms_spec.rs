//! The editor's `/comms` websocket, over a real socket. Titles quote Node-RED's
//! `test/unit/@node-red/editor-api/lib/editor/comms_spec.js` where one is ported.
//!
//! Also home of [`CommsClient`], the websocket client the other admin specs use to watch
//! what the editor would see.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value as Json, json};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

use super::support::Server;

/// Longest wait for one frame.
const FRAME_TIMEOUT: Duration = Duration::from_secs(10);
/// A retained topic [`CommsClient::ready`] subscribes to, to know the connection is live.
const READY_TOPIC: &str = "spec/ready";

/// A `/comms` client, as the editor's `RED.comms` is.
pub struct CommsClient {
    ws: WebSocketStream<TcpStream>,
}

impl CommsClient {
    /// Opens the socket (nothing else: with adminAuth the first frame must authenticate).
    pub async fn connect(server: &Server) -> Self {
        let url = server.url("comms").replacen("http://", "ws://", 1);
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

    /// Opens the socket and waits until it relays the bus (the upgrade answer comes before
    /// the server side listens, so an event published right after `connect` could be missed).
    pub async fn ready(server: &Server) -> Self {
        server
            .runtime
            .events()
            .publish(READY_TOPIC, json!(true), true);
        let mut client = Self::connect(server).await;
        client.send(json!({"subscribe": READY_TOPIC})).await;
        client.message(|topic, _| topic == READY_TOPIC).await;
        client
    }

    pub async fn send(&mut self, frame: Json) {
        self.send_text(frame.to_string()).await;
    }

    pub async fn send_text(&mut self, text: String) {
        self.ws
            .send(Message::Text(text.into()))
            .await
            .expect("send frame");
    }

    /// The next text frame, parsed; `None` when the server closed the socket.
    pub async fn frame(&mut self) -> Option<Json> {
        loop {
            let next = tokio::time::timeout(FRAME_TIMEOUT, self.ws.next())
                .await
                .expect("a frame in time");
            match next {
                Some(Ok(Message::Text(text))) => {
                    return Some(serde_json::from_str(&text).expect("frame is JSON"));
                }
                Some(Ok(Message::Close(_)) | Err(_)) | None => return None,
                Some(Ok(_)) => {}
            }
        }
    }

    /// The next batch frame's `{topic, data}` entries.
    pub async fn batch(&mut self) -> Vec<Json> {
        match self.frame().await {
            Some(Json::Array(items)) => items,
            other => panic!("expected a batch frame, got {other:?}"),
        }
    }

    /// Reads frames until a message matches; returns its `data`.
    pub async fn message(&mut self, mut wanted: impl FnMut(&str, &Json) -> bool) -> Json {
        self.message_after(|_, _| {}, &mut wanted).await
    }

    /// Like [`Self::message`], showing every message before the match to `seen`.
    pub async fn message_after(
        &mut self,
        mut seen: impl FnMut(&str, &Json),
        mut wanted: impl FnMut(&str, &Json) -> bool,
    ) -> Json {
        loop {
            for item in self.batch().await {
                let topic = item["topic"].as_str().expect("topic").to_owned();
                if wanted(&topic, &item["data"]) {
                    return item["data"].clone();
                }
                seen(&topic, &item["data"]);
            }
        }
    }
}

fn epoch_ms() -> u64 {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_millis();
    u64::try_from(ms).expect("ms fit")
}

/// An inject node wired to a debug node showing the whole message, on tab `t1`.
pub fn inject_to_debug() -> Json {
    json!([
        {"id": "t1", "type": "tab", "label": "Flow 1"},
        {"id": "i1", "type": "inject", "z": "t1", "name": "",
         "props": [{"p": "payload"}, {"p": "topic", "vt": "str"}],
         "payload": "hello", "payloadType": "str", "topic": "t4", "wires": [["d1"]]},
        {"id": "d1", "type": "debug", "z": "t1", "active": true, "tosidebar": true,
         "complete": "payload", "targetType": "msg", "tostatus": true, "statusType": "auto",
         "wires": []}
    ])
}

/// accepts connection / publishes message after subscription: retained runtime state and
/// node status are replayed to a subscriber, filtered by its topic pattern.
#[tokio::test]
async fn subscribe_replays_the_retained_messages_its_filter_matches() {
    let server = Server::with(json!({}), inject_to_debug()).await;
    server
        .runtime
        .events()
        .publish("status/n1", json!({"text": "ok", "fill": "green"}), true);
    let mut client = CommsClient::connect(&server).await;

    client.send(json!({"subscribe": "status/+"})).await;
    let status = client.batch().await;
    assert_eq!(
        status,
        vec![json!({"topic": "status/n1", "data": {"text": "ok", "fill": "green"}})],
        "only the status topics are replayed"
    );

    client.send(json!({"subscribe": "notification/#"})).await;
    let notifications = client.batch().await;
    let topics: Vec<&str> = notifications
        .iter()
        .map(|m| m["topic"].as_str().expect("topic"))
        .collect();
    assert_eq!(
        topics,
        ["notification/runtime-state", "notification/runtime-deploy"]
    );
    assert_eq!(
        notifications[0]["data"],
        json!({"state": "start", "deploy": true})
    );
    let (_, rev) = server.runtime.flows().await;
    assert_eq!(notifications[1]["data"], json!({"revision": rev}));
}

/// The inject button's message reaches the debug sidebar over /comms, encoded as the
/// editor expects, without the client subscribing to `debug` (subscriptions only replay).
#[tokio::test]
async fn inject_button_message_reaches_the_debug_sidebar() {
    let server = Server::with(json!({}), inject_to_debug()).await;
    let mut client = CommsClient::ready(&server).await;

    let reply = server.send_json("POST", "inject/i1", &[], &json!({})).await;
    assert_eq!((reply.status, reply.text().as_str()), (200, "OK"));

    let debug = client.message(|topic, _| topic == "debug").await;
    assert_eq!(
        debug,
        json!({"id": "d1", "z": "t1", "path": "t1", "topic": "t4", "property": "payload",
               "msg": "hello", "format": "string[5]"})
    );
}

/// Events published in a burst go out in frames of at most 50, in order.
#[tokio::test]
async fn a_burst_of_events_is_batched_into_frames_of_fifty() {
    let server = Server::start().await;
    let mut client = CommsClient::ready(&server).await;

    // The test runtime has one thread: the whole burst is published before the server
    // side runs again, as a flow's burst would be within the 50 ms batching delay.
    for i in 0..120 {
        server
            .runtime
            .events()
            .publish("spec/burst", json!(i), false);
    }
    let mut sizes = Vec::new();
    let mut seen = Vec::new();
    while seen.len() < 120 {
        let batch: Vec<Json> = client
            .batch()
            .await
            .into_iter()
            .filter(|m| m["topic"] == "spec/burst")
            .collect();
        sizes.push(batch.len());
        seen.extend(batch.into_iter().map(|m| m["data"].clone()));
    }
    assert_eq!(sizes, [50, 50, 20]);
    assert_eq!(seen, (0..120).map(|i| json!(i)).collect::<Vec<_>>());
}

/// keep alives › are sent: after `webSocketKeepAliveTime` ms of silence the topic `hb`
/// carries the epoch ms of the last frame.
#[tokio::test]
async fn keep_alives_are_sent_after_silence() {
    let server = Server::with(json!({"webSocketKeepAliveTime": 100}), json!([])).await;
    let before = epoch_ms();
    let mut client = CommsClient::connect(&server).await;
    for _ in 0..3 {
        let batch = client.batch().await;
        assert_eq!(batch.len(), 1);
        assert_eq!(batch[0]["topic"], "hb");
        let at = batch[0]["data"].as_u64().expect("hb data is a number");
        assert!(at >= before && at <= epoch_ms(), "{at} is epoch ms");
    }
}

/// keep alives › are not sent if other messages are sent.
#[tokio::test]
async fn keep_alives_are_not_sent_while_messages_flow() {
    let server = Server::with(json!({"webSocketKeepAliveTime": 500}), json!([])).await;
    let mut client = CommsClient::ready(&server).await;
    let events = std::sync::Arc::clone(server.runtime.events());
    let ticker = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(50));
        for i in 0..40 {
            tick.tick().await;
            events.publish("foo", json!(i), false);
        }
    });
    // 40 ticks of 50 ms span 2 s: four keep-alive periods with traffic all along.
    let mut heartbeats = 0;
    client
        .message_after(
            |topic, _| heartbeats += usize::from(topic == "hb"),
            |topic, data| topic == "foo" && *data == json!(39),
        )
        .await;
    ticker.await.expect("ticker");
    assert_eq!(heartbeats, 0);
}

/// malformed messages are ignored: the connection keeps working.
#[tokio::test]
async fn malformed_messages_are_ignored() {
    let server = Server::start().await;
    server
        .runtime
        .events()
        .publish("status/n1", json!({"text": "ok"}), true);
    let mut client = CommsClient::connect(&server).await;
    client.send_text("not json".to_owned()).await;
    client.send_text("[1, 2]".to_owned()).await;
    client.send(json!({"subscribe": "status/#"})).await;
    let batch = client.batch().await;
    assert_eq!(batch[0]["topic"], "status/n1");
}

/// non-default httpAdminRoot set: /adminPath › accepts connections.
#[tokio::test]
async fn the_socket_lives_under_http_admin_root() {
    let server = Server::with(json!({"httpAdminRoot": "/adminPath"}), json!([])).await;
    assert!(server.base.ends_with("/adminPath"));
    let mut client = CommsClient::ready(&server).await;
    client.send(json!({"subscribe": READY_TOPIC})).await;
    assert_eq!(client.batch().await[0]["topic"], READY_TOPIC);
}

fn with_auth() -> Json {
    json!({"adminAuth": {"type": "credentials", "users": []}})
}

/// authentication required, no anonymous › rejects connections for invalid token.
#[tokio::test]
async fn with_admin_auth_an_invalid_token_is_refused_and_closed() {
    let server = Server::with(with_auth(), json!([])).await;
    let mut client = CommsClient::connect(&server).await;
    client.send(json!({"auth": "not-a-token"})).await;
    assert_eq!(client.frame().await, Some(json!({"auth": "fail"})));
    assert_eq!(client.frame().await, None, "the socket is closed");
}

/// authentication required, no anonymous › prevents connections that do not authenticate:
/// a first frame without a token fails, and nothing retained is replayed.
#[tokio::test]
async fn with_admin_auth_a_first_frame_without_token_is_refused() {
    let server = Server::with(with_auth(), inject_to_debug()).await;
    let mut client = CommsClient::connect(&server).await;
    client.send(json!({"subscribe": "notification/#"})).await;
    assert_eq!(client.frame().await, Some(json!({"auth": "fail"})));
    assert_eq!(client.frame().await, None, "the socket is closed");
}

/// A browser that falls behind loses the oldest events, not its connection: after a burst
/// larger than the bus holds, it still gets frames, starting with the newest events kept.
#[tokio::test]
async fn a_lagging_connection_drops_the_oldest_events_and_keeps_going() {
    let server = Server::start().await;
    let mut client = CommsClient::ready(&server).await;
    // One test thread: the whole burst is published before the connection reads any.
    let burst = 10_000;
    for i in 0..burst {
        server
            .runtime
            .events()
            .publish("spec/flood", json!(i), false);
    }
    let first = client.batch().await;
    assert_eq!(first.len(), 50);
    let oldest = first[0]["data"].as_u64().expect("number");
    assert!(oldest > 0, "the oldest events were dropped");
    let expected: Vec<Json> = (oldest..oldest + 50).map(|i| json!(i)).collect();
    let got: Vec<Json> = first.into_iter().map(|m| m["data"].clone()).collect();
    assert_eq!(got, expected, "what is kept arrives in order");
}
