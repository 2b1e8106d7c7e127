//! `aedes broker` — mirrors node-red-contrib-aedes 0.6.0 (`aedes.js`): an MQTT broker
//! running inside the flows, so `mqtt in` / `mqtt out` (and any other client) need no
//! separate broker. Backed by Ferrite's own broker, `network::mqtt::server` (MQTT 3.1,
//! 3.1.1 and 5; QoS 0/1/2, retained messages, wills, persistent sessions, shared
//! subscriptions).
//!
//! Config:
//! * `mqtt_port` — MQTT over TCP (TLS with `usetls`); empty or 0: none.
//! * `mqtt_ws_bind` — `port` (WebSocket on `mqtt_ws_port`; empty or 0: none) or `path`
//!   (WebSocket on the editor's HTTP server at `mqtt_ws_path`: not supported yet, a deploy
//!   error when a path is set).
//! * `usetls` — both listeners speak TLS with the certificate and key in the credentials
//!   `certdata` / `keydata` (PEM text; `cert` / `key` name PEM files as a fallback).
//!   `certname` / `keyname` are the uploaded file names, for the editor only.
//! * `dburl` — MongoDB persistence: not supported; a warning at deploy says sessions and
//!   retained messages are kept in memory.
//! * `name`.
//! * Credentials `username` and `password`: when both are set, clients must give them.
//!
//! Output 1 sends the broker's events as `{topic: <event>, payload: {client, ...}}`:
//! `client`, `clientReady`, `clientDisconnect`, `clientError` and `connectionError` (with
//! `err`), `keepaliveTimeout`, `subscribe` and `unsubscribe` (one message per filter, with
//! `topic` and `qos`). `client` is `{id, version, clean, keepalive, will?, user?, address}`.
//! Output 2 sends `{topic: "publish", payload: {packet, client}}` for every message
//! published, only when output 2 is wired (as aedes, which reads its wires at deploy).
//! Status: green dot `connected <n>` as clients come and go; red ring `disconnected` and a
//! node error when a port cannot be bound (already in use).

use std::sync::Arc;

use ferrite_runtime::{
    Build, BuildCtx, ConfigError, Event, Map, Msg, Node, NodeCtx, NodeDef, NodeError, Role, Status,
    Value, async_trait,
};
use serde_json::{Map as JsonMap, Value as Json};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::JoinHandle;
use tokio_rustls::rustls;

use super::mqtt::codec::{Properties, Publish, Version};
use super::mqtt::server::{self, ClientInfo, Server, ServerConfig, ServerEvent};

pub const DEF: NodeDef = NodeDef {
    type_name: "aedes broker",
    category: "network",
    set_id: "node-red-contrib-aedes/aedes",
    role: Role::Plain,
    build: Build::Flow(build),
};

/// Broker events waiting for the node to turn them into messages: beyond this the
/// clients concerned wait (backpressure instead of an unbounded queue).
const EVENTS_IN_FLIGHT: usize = 256;

struct AedesBroker {
    /// Taken when the server starts.
    config: Option<ServerConfig>,
    /// `dburl` was set (and is ignored).
    dburl: bool,
    server: Option<Server>,
    forwarder: Option<JoinHandle<()>>,
}

/// A broker event on its way to the node; its permit returns when the node is done.
struct Forwarded {
    event: ServerEvent,
    _permit: OwnedSemaphorePermit,
}

fn build(cx: &mut BuildCtx<'_>) -> Result<Box<dyn Node>, ConfigError> {
    let raw = cx.raw();
    let empty = JsonMap::new();
    let credentials = raw
        .get("credentials")
        .and_then(Json::as_object)
        .unwrap_or(&empty);
    let credential = |key: &str| {
        credentials
            .get(key)
            .and_then(Json::as_str)
            .filter(|s| !s.is_empty())
    };
    let text = |key: &str| {
        raw.get(key)
            .and_then(Json::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };

    let mqtt_port = port(raw, "mqtt_port")?;
    let ws_port = if raw.get("mqtt_ws_bind").and_then(Json::as_str) == Some("path") {
        if let Some(path) = text("mqtt_ws_path") {
            return Err(ConfigError::field(
                "mqtt_ws_bind",
                format!(
                    "\"path\" (a websocket at {path} on the editor's HTTP server) is not \
                     supported yet; use \"port\" with mqtt_ws_port"
                ),
            ));
        }
        None
    } else {
        port(raw, "mqtt_ws_port")?
    };
    if mqtt_port.is_none() && ws_port.is_none() {
        return Err(ConfigError::field(
            "mqtt_port",
            "no MQTT port and no websocket port: the broker would not listen",
        ));
    }
    let tls = if raw
        .get("usetls")
        .is_some_and(ferrite_runtime::loose::json_truthy)
    {
        let cert = pem(
            credential("certdata"),
            text("cert"),
            "certdata",
            "certificate",
        )?;
        let key = pem(credential("keydata"), text("key"), "keydata", "private key")?;
        Some(tls_config(&cert, &key)?)
    } else {
        None
    };
    let credentials = match (credential("username"), credential("password")) {
        (Some(user), Some(password)) => Some((user.to_owned(), password.to_owned())),
        _ => None,
    };
    // aedes enables publish events only when output 2 has wires at deploy.
    let publish_events = raw
        .get("wires")
        .and_then(|w| w.get(1))
        .and_then(Json::as_array)
        .is_some_and(|targets| !targets.is_empty());
    Ok(Box::new(AedesBroker {
        config: Some(ServerConfig {
            port: mqtt_port,
            ws_port,
            credentials,
            tls,
            publish_events,
            ..ServerConfig::default()
        }),
        dburl: text("dburl").is_some(),
        server: None,
        forwarder: None,
    }))
}

/// A port key as `parseInt` reads it: empty, missing or 0 means no listener.
fn port(raw: &JsonMap<String, Json>, key: &str) -> Result<Option<u16>, ConfigError> {
    let number = match raw.get(key) {
        None | Some(Json::Null) => return Ok(None),
        Some(Json::String(s)) if s.trim().is_empty() => return Ok(None),
        Some(Json::String(s)) => s.trim().parse::<i64>().ok(),
        Some(Json::Number(n)) => n.as_i64(),
        Some(_) => None,
    };
    match number.map(u16::try_from) {
        Some(Ok(0)) => Ok(None),
        Some(Ok(port)) => Ok(Some(port)),
        _ => Err(ConfigError::field(
            key,
            format!("{} is not a port number (1-65535)", raw[key]),
        )),
    }
}

/// PEM text from the credentials, else from the file the config names.
fn pem(
    data: Option<&str>,
    file: Option<&str>,
    key: &str,
    what: &str,
) -> Result<String, ConfigError> {
    match (data, file) {
        (Some(data), _) => Ok(data.to_owned()),
        (None, Some(file)) => std::fs::read_to_string(file)
            .map_err(|e| ConfigError::field(key, format!("cannot read the {what} {file}: {e}"))),
        (None, None) => Err(ConfigError::field(
            key,
            format!("TLS is enabled (usetls) but no {what} is set"),
        )),
    }
}

/// The TLS server config for a certificate chain and key in PEM.
fn tls_config(cert: &str, key: &str) -> Result<Arc<rustls::ServerConfig>, ConfigError> {
    super::tls::server_config(cert.as_bytes(), key.as_bytes(), None)
        .map_err(|e| ConfigError::field("certdata", e))
}

#[async_trait]
impl Node for AedesBroker {
    async fn on_start(&mut self, cx: &mut NodeCtx) -> Result<(), NodeError> {
        if self.dburl {
            cx.warn(
                "dburl: MongoDB persistence is not supported; sessions and retained messages \
                 are kept in memory",
            );
        }
        let Some(config) = self.config.take() else {
            return Ok(());
        };
        let (events, mut rx) = mpsc::channel(EVENTS_IN_FLIGHT);
        let server = match server::start(config, Some(events)).await {
            Ok(server) => server,
            Err(e) => {
                cx.status(Status::ring("red", "disconnected")).await;
                return Err(NodeError::new(format!("Error: {e}")));
            }
        };
        if let Some(addr) = server.local_addr() {
            cx.log(&format!(
                "Binding aedes mqtt server on port: {}",
                addr.port()
            ));
        }
        if let Some(addr) = server.ws_local_addr() {
            cx.log(&format!(
                "Binding aedes mqtt server on ws port: {}",
                addr.port()
            ));
        }
        cx.status(connected(0)).await;
        let sender = cx.event_sender();
        let permits = Arc::new(Semaphore::new(EVENTS_IN_FLIGHT));
        self.forwarder = Some(tokio::spawn(async move {
            while let Some(event) = rx.recv().await {
                let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
                    break;
                };
                let forwarded = Forwarded {
                    event,
                    _permit: permit,
                };
                if !sender.send(Event::Custom(Box::new(forwarded))) {
                    break;
                }
            }
        }));
        self.server = Some(server);
        Ok(())
    }

    async fn on_input(&mut self, _msg: Msg, _cx: &mut NodeCtx) -> Result<(), NodeError> {
        Ok(())
    }

    async fn on_event(&mut self, event: Event, cx: &mut NodeCtx) -> Result<(), NodeError> {
        let Event::Custom(custom) = event else {
            return Ok(());
        };
        let Ok(forwarded) = custom.downcast::<Forwarded>() else {
            return Ok(());
        };
        self.report(forwarded.event, cx).await;
        Ok(())
    }

    async fn on_close(&mut self, _removed: bool, _cx: &mut NodeCtx) {
        // Events are dropped from here on: a connection reporting its end must not wait
        // for a node that no longer reads.
        if let Some(forwarder) = self.forwarder.take() {
            forwarder.abort();
        }
        if let Some(server) = self.server.take() {
            server.close().await;
        }
    }
}

fn connected(count: usize) -> Status {
    Status::dot("green", format!("connected {count}"))
}

fn event_msg(topic: &str, payload: Map) -> Msg {
    let mut msg = Msg::new();
    msg.insert("topic", topic);
    msg.insert("payload", Value::Object(payload));
    msg
}

fn error_value(text: String) -> Value {
    let mut err = Map::new();
    err.insert("name".into(), "Error".into());
    err.insert("message".into(), text.into());
    Value::Object(err)
}

impl AedesBroker {
    async fn report(&self, event: ServerEvent, cx: &mut NodeCtx) {
        let mut payload = Map::new();
        let (topic, client, update_status) = match event {
            ServerEvent::Publish { client, packet } => {
                payload.insert("packet".into(), packet_value(packet));
                let client = client.map_or(Value::Null, |c| client_value(&c));
                payload.insert("client".into(), client);
                cx.send_to(1, event_msg("publish", payload)).await;
                return;
            }
            ServerEvent::Client(c) => ("client", Some(c), false),
            ServerEvent::ClientReady(c) => ("clientReady", Some(c), true),
            ServerEvent::ClientDisconnect(c) => ("clientDisconnect", Some(c), true),
            ServerEvent::KeepaliveTimeout(c) => ("keepaliveTimeout", Some(c), true),
            ServerEvent::ClientError { client, error } => {
                payload.insert("err".into(), error_value(error));
                ("clientError", Some(client), true)
            }
            ServerEvent::ConnectionError { client, error } => {
                payload.insert("err".into(), error_value(error));
                ("connectionError", client, true)
            }
            ServerEvent::Subscribe {
                client,
                filter,
                qos,
            } => {
                payload.insert("topic".into(), filter.into());
                payload.insert("qos".into(), i64::from(qos).into());
                ("subscribe", Some(client), false)
            }
            ServerEvent::Unsubscribe { client, filter } => {
                payload.insert("topic".into(), filter.into());
                ("unsubscribe", Some(client), false)
            }
        };
        let client = client.map_or(Value::Null, |c| client_value(&c));
        payload.insert("client".into(), client);
        cx.send(event_msg(topic, payload)).await;
        if update_status && let Some(server) = &self.server {
            cx.status(connected(server.connected_clients())).await;
        }
    }
}

/// The client as aedes' client object shows it in a message.
fn client_value(client: &ClientInfo) -> Value {
    let mut obj = Map::new();
    obj.insert("id".into(), client.id.clone().into());
    let level: i64 = match client.version {
        Version::V31 => 3,
        Version::V311 => 4,
        Version::V5 => 5,
    };
    obj.insert("version".into(), level.into());
    obj.insert("clean".into(), client.clean.into());
    obj.insert("keepalive".into(), i64::from(client.keep_alive).into());
    if let Some(will) = &client.will {
        let mut w = Map::new();
        w.insert("topic".into(), will.topic.clone().into());
        w.insert("payload".into(), will.payload.clone().into());
        w.insert("qos".into(), i64::from(will.qos as u8).into());
        w.insert("retain".into(), will.retain.into());
        obj.insert("will".into(), Value::Object(w));
    }
    // aedes sets `client.user` when it checked the credentials.
    if client.authenticated
        && let Some(user) = &client.username
    {
        obj.insert("user".into(), user.clone().into());
    }
    if let Some(address) = client.address {
        obj.insert("address".into(), address.to_string().into());
    }
    Value::Object(obj)
}

/// A PUBLISH as mqtt.js (and so aedes) shows a packet, MQTT 5 properties included.
fn packet_value(packet: Publish) -> Value {
    let mut obj = Map::new();
    obj.insert("cmd".into(), "publish".into());
    obj.insert("topic".into(), packet.topic.into());
    obj.insert("payload".into(), packet.payload.into());
    obj.insert("qos".into(), i64::from(packet.qos as u8).into());
    obj.insert("retain".into(), packet.retain.into());
    obj.insert("dup".into(), packet.dup.into());
    if packet.pkid != 0 {
        obj.insert("messageId".into(), i64::from(packet.pkid).into());
    }
    if let Some(props) = packet.props {
        obj.insert("properties".into(), properties_value(*props));
    }
    Value::Object(obj)
}

fn properties_value(props: Properties) -> Value {
    let mut obj = Map::new();
    if let Some(v) = props.payload_format_indicator {
        obj.insert("payloadFormatIndicator".into(), (v == 1).into());
    }
    if let Some(v) = props.message_expiry_interval {
        obj.insert("messageExpiryInterval".into(), v.into());
    }
    if let Some(v) = props.content_type {
        obj.insert("contentType".into(), v.into());
    }
    if let Some(v) = props.response_topic {
        obj.insert("responseTopic".into(), v.into());
    }
    if let Some(v) = props.correlation_data {
        obj.insert("correlationData".into(), v.into());
    }
    if !props.user_properties.is_empty() {
        // mqtt.js: one value per name, or an array when a name repeats.
        let mut users = Map::new();
        for (name, value) in props.user_properties {
            match users.get_mut(&name) {
                Some(Value::Array(values)) => values.push(value.into()),
                Some(first) => {
                    let first = std::mem::take(first);
                    users.insert(name, Value::Array(vec![first, value.into()]));
                }
                None => {
                    users.insert(name, value.into());
                }
            }
        }
        obj.insert("userProperties".into(), Value::Object(users));
    }
    Value::Object(obj)
}
