//! `mqtt-broker` — mirrors Node-RED's MQTT broker config node (`core/network/10-mqtt.js`):
//! one connection to a broker, shared by every `mqtt in` and `mqtt out` naming it.
//!
//! Config keys (Node-RED's):
//! * `broker` — a host name, or a URL `mqtt://`, `tcp://`, `mqtts://`, `ssl://`, `tls://`,
//!   `ws://host:port/path` or `wss://...` (MQTT over WebSocket); `url` overrides it; `port`
//!   (1883);
//!   `usetls` with `tls` (a `tls-config` node id); `verifyservercert` (legacy).
//! * `clientid` (empty: `nodered` + 16 hex digits, and a clean session is forced with a
//!   warning, as Node-RED does), `autoConnect` (true), `protocolVersion` 3 | 4 | 5
//!   (`compatmode` true means 3), `keepalive` (60 s), `cleansession` (true),
//!   `autoUnsubscribe` (true), `sessionExpiry` (v5, seconds), `userProps` (v5 CONNECT user
//!   properties, JSON text), `topicAliasMaximum`, `maximumPacketSize`, `receiveMaximum`.
//! * `birthTopic`/`birthPayload`/`birthQos`/`birthRetain`/`birthMsg`, the same for `close*`
//!   and `will*`: published on connect, before a deliberate disconnect, and by the broker
//!   when the connection is lost. `*Msg` holds the v5 properties `contentType`, `userProps`,
//!   `respTopic`, `correl`, `expiry` (and `delay` for the will).
//! * credentials `user`, `password`.
//!
//! Ferrite's store-and-forward keys: `outboxOrder` (`fifo` | `lifo`), `outboxMaxMessages`
//! (100000; 0 = no limit), `outboxMaxBytes` (0 = no limit), `outboxRate` (messages per
//! second replayed after a reconnect; 0 = as fast as the broker takes them).
//!
//! The setting `mqttReconnectTime` (ms, default 5000) caps the reconnect backoff.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ferrite_runtime::loose::{json_bool, json_f64, json_truthy};
use ferrite_runtime::{Build, BuildCtx, ConfigError, ConfigNode, NodeDef, Role};
use serde_json::{Map, Value as Json};

use super::mqtt::client::{Client, Dialer, Endpoint, Io, Options};
use super::mqtt::codec::{Properties, Publish, QoS, Version, Will};
use super::mqtt::message;
use super::mqtt::outbox::{Order, Policy};
use super::tls::{self, ClientOptions, ClientTls};
use super::tls_config::TlsConfig;

pub const DEF: NodeDef = NodeDef {
    type_name: "mqtt-broker",
    category: "config",
    set_id: "node-red/mqtt",
    role: Role::Plain,
    build: Build::Config(build),
};

/// The config node: the connection, and its config for `connect` actions that change it.
#[derive(Clone)]
pub struct MqttBroker {
    client: Client,
    config: Arc<Map<String, Json>>,
    reconnect_max: Duration,
    /// The `tls-config` node's client settings, when `usetls` names one.
    tls: Option<ClientTls>,
}

impl MqttBroker {
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The options a `connect` action's `msg.broker` asks for: the node's config with those
    /// keys replaced (Node-RED's `setOptions`).
    pub fn options_with(&self, overrides: &Map<String, Json>) -> Result<Options, ConfigError> {
        let mut config = (*self.config).clone();
        let mut credentials = config
            .get("credentials")
            .and_then(Json::as_object)
            .cloned()
            .unwrap_or_default();
        for (key, value) in overrides {
            match key.as_str() {
                "username" => {
                    credentials.insert("user".into(), value.clone());
                }
                "password" => {
                    credentials.insert("password".into(), value.clone());
                }
                "birth" | "close" | "will" => {
                    // `{topic, payload, qos, retain, properties}` → the flat keys.
                    let message = value.as_object().cloned().unwrap_or_default();
                    for field in ["topic", "payload", "qos", "retain"] {
                        let flat = format!("{key}{}", capitalised(field));
                        config.insert(flat, message.get(field).cloned().unwrap_or(Json::Null));
                    }
                    config.insert(
                        format!("{key}Msg"),
                        message.get("properties").cloned().unwrap_or(Json::Null),
                    );
                }
                "userProperties" => {
                    config.insert("userProps".into(), value.clone());
                }
                "sessionExpiryInterval" => {
                    config.insert("sessionExpiry".into(), value.clone());
                }
                _ => {
                    config.insert(key.clone(), value.clone());
                }
            }
        }
        config.insert("credentials".into(), Json::Object(credentials));
        options(&config, self.reconnect_max, self.tls.as_ref())
    }
}

#[ferrite_runtime::async_trait]
impl ConfigNode for MqttBroker {
    async fn close(&self) {
        self.client.close().await;
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

fn capitalised(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

fn build(cx: &mut BuildCtx<'_>) -> Result<Arc<dyn ConfigNode>, ConfigError> {
    let config = cx.raw().clone();
    let reconnect_max = Duration::from_millis(cx.settings().mqtt_reconnect_time.max(100));
    let tls = if config.get("usetls").is_some_and(json_bool)
        && config
            .get("tls")
            .and_then(Json::as_str)
            .is_some_and(|id| !id.is_empty())
    {
        let node: &TlsConfig = cx.config_node("tls")?;
        Some(
            node.client_for_broker(legacy_verify(&config))
                .map_err(|e| ConfigError::field("tls", e))?,
        )
    } else {
        None
    };
    let options = options(&config, reconnect_max, tls.as_ref())?;
    if !json_truthy(config.get("clientid").unwrap_or(&Json::Null))
        && config.get("cleansession").is_some_and(|v| !json_bool(v))
    {
        tracing::warn!(node_id = %cx.id(), node_type = "mqtt-broker", "No client ID set, using clean session");
    }
    let policy = outbox_policy(&config)?;
    let client = Client::start(
        options,
        cx.db().map(|db| db.pool().clone()),
        cx.id().to_owned(),
        policy,
    );
    Ok(Arc::new(MqttBroker {
        client,
        config: Arc::new(config),
        reconnect_max,
        tls,
    }))
}

/// The broker node's legacy `verifyservercert` (false unless set, as in Node-RED).
fn legacy_verify(config: &Map<String, Json>) -> bool {
    config.get("verifyservercert").is_some_and(json_bool)
}

/// TLS over the TCP stream: the `tls-config` node's settings, or (no such node) the system
/// CAs, checked only when the broker node's `verifyservercert` says so.
fn dialer(config: &Map<String, Json>, tls: Option<&ClientTls>) -> Result<Dialer, ConfigError> {
    let client = match tls {
        Some(client) => client.clone(),
        None => ClientTls::new(&ClientOptions {
            verify_server_cert: legacy_verify(config),
            ..ClientOptions::default()
        })
        .map_err(|e| ConfigError::field("usetls", e))?,
    };
    let client = Arc::new(client);
    Ok(Arc::new(move |tcp, endpoint: &Endpoint| {
        let client = Arc::clone(&client);
        let host = endpoint.host.clone();
        Box::pin(async move {
            let stream = tls::connect(tcp, &client, &host)
                .await
                .map_err(std::io::Error::other)?;
            Ok(Box::new(stream) as Box<dyn Io>)
        })
    }))
}

fn text<'a>(config: &'a Map<String, Json>, key: &str) -> &'a str {
    config.get(key).and_then(Json::as_str).unwrap_or_default()
}

/// A number given as a number or its text; `None` when absent or empty.
fn number(config: &Map<String, Json>, key: &str) -> Option<f64> {
    config.get(key).and_then(json_f64)
}

fn bounded<T: TryFrom<i64>>(
    config: &Map<String, Json>,
    key: &str,
    range: std::ops::RangeInclusive<i64>,
) -> Result<Option<T>, ConfigError> {
    match number(config, key) {
        None => Ok(None),
        Some(n) if n.fract() == 0.0 && range.contains(&(n as i64)) => {
            Ok(T::try_from(n as i64).ok())
        }
        Some(n) => Err(ConfigError::field(
            key,
            format!(
                "{n} is not a whole number from {} to {}",
                range.start(),
                range.end()
            ),
        )),
    }
}

/// The connection options the config describes.
fn options(
    config: &Map<String, Json>,
    reconnect_max: Duration,
    tls: Option<&ClientTls>,
) -> Result<Options, ConfigError> {
    let endpoint = endpoint(config)?;
    let dialer = if endpoint.tls {
        Some(dialer(config, tls)?)
    } else {
        None
    };
    let version = match (
        config.get("compatmode").is_some_and(json_bool),
        number(config, "protocolVersion").map(|n| n as i64),
    ) {
        (true, _) | (_, Some(3)) => Version::V31,
        (_, Some(5)) => Version::V5,
        (_, None | Some(4)) => Version::V311,
        (_, Some(other)) => {
            return Err(ConfigError::field(
                "protocolVersion",
                format!("{other} is not an MQTT version: use 3, 4 or 5"),
            ));
        }
    };
    let v5 = version == Version::V5;
    let mut client_id = text(config, "clientid").to_owned();
    let mut clean_start = config.get("cleansession").is_none_or(json_bool);
    if client_id.is_empty() {
        client_id = format!("nodered{:016x}", fastrand::u64(..));
        clean_start = true;
    }
    let keep_alive = bounded::<u16>(config, "keepalive", 0..=65535)?.unwrap_or(60);
    let credentials = config.get("credentials").and_then(Json::as_object);
    let credential = |key: &str| {
        credentials
            .and_then(|c| c.get(key))
            .and_then(Json::as_str)
            .filter(|s| !s.is_empty())
    };
    let username = credential("user").map(str::to_owned);
    let password = credential("password").map(|p| Bytes::from(p.to_owned()));

    let mut connect_props = Properties::default();
    if v5 {
        connect_props.request_response_information = Some(1);
        connect_props.request_problem_information = Some(1);
        connect_props.user_properties = user_props(config.get("userProps"), "userProps")?;
        connect_props.session_expiry_interval =
            bounded::<u32>(config, "sessionExpiry", 0..=i64::from(u32::MAX))?.filter(|s| *s > 0);
        connect_props.topic_alias_maximum =
            bounded::<u16>(config, "topicAliasMaximum", 0..=65535)?.filter(|n| *n > 0);
        connect_props.maximum_packet_size =
            bounded::<u32>(config, "maximumPacketSize", 1..=i64::from(u32::MAX))?;
        connect_props.receive_maximum = bounded::<u16>(config, "receiveMaximum", 1..=65535)?;
    }

    let will = lwt(config, "will", v5)?.map(|(publish, delay)| {
        let mut props = publish.props;
        if let Some(delay) = delay {
            props.get_or_insert_with(Box::default).will_delay_interval = Some(delay);
        }
        Will {
            topic: publish.topic,
            payload: publish.payload,
            qos: publish.qos,
            retain: publish.retain,
            props,
        }
    });
    Ok(Options {
        endpoint,
        dialer,
        version,
        client_id,
        keep_alive,
        clean_start,
        username,
        password,
        will,
        birth: lwt(config, "birth", v5)?.map(|(p, _)| p),
        close: lwt(config, "close", v5)?.map(|(p, _)| p),
        connect_props: v5.then(|| Box::new(connect_props)),
        auto_connect: config.get("autoConnect").is_none_or(json_bool),
        auto_unsubscribe: config.get("autoUnsubscribe").is_none_or(json_bool),
        reconnect_max,
    })
}

/// Where to connect: Node-RED's `broker` (host or URL), `url`, `port` and `usetls`.
fn endpoint(config: &Map<String, Json>) -> Result<Endpoint, ConfigError> {
    let url = text(config, "url");
    let broker = text(config, "broker").trim();
    let (key, target) = if url.is_empty() {
        ("broker", broker)
    } else {
        ("url", url)
    };
    let tls_wanted = config.get("usetls").is_some_and(json_bool);
    if let Some((scheme, rest)) = target.split_once("://") {
        let (tls, websocket) = match scheme.to_ascii_lowercase().as_str() {
            "mqtt" | "tcp" => (false, false),
            "mqtts" | "ssl" | "tls" => (true, false),
            "ws" => (false, true),
            "wss" => (true, true),
            other => {
                return Err(ConfigError::field(
                    key,
                    format!(
                        "unknown scheme '{other}://': use mqtt://, mqtts://, ws://, wss://, tcp:// or ssl://"
                    ),
                ));
            }
        };
        let path_at = rest.find('/').unwrap_or(rest.len());
        let (authority, path) = rest.split_at(path_at);
        let (host, port) = split_host_port(authority).ok_or_else(|| {
            ConfigError::field(key, format!("'{target}' has no valid host and port"))
        })?;
        let default_port = match (tls, websocket) {
            (false, false) => 1883,
            (true, false) => 8883,
            (false, true) => 80,
            (true, true) => 443,
        };
        return Ok(Endpoint {
            host: if host.is_empty() {
                "localhost".into()
            } else {
                host
            },
            port: port.unwrap_or(default_port),
            tls,
            websocket: websocket.then(|| {
                if path.is_empty() {
                    "/".into()
                } else {
                    path.to_owned()
                }
            }),
        });
    }
    let port = match number(config, "port") {
        None => 1883,
        Some(p) if p.fract() == 0.0 && (1.0..=65535.0).contains(&p) => p as u16,
        Some(p) => {
            return Err(ConfigError::field(
                "port",
                format!("{p} is not a port number (1-65535)"),
            ));
        }
    };
    let host = broker.trim_start_matches('[').trim_end_matches(']');
    Ok(Endpoint {
        host: if host.is_empty() {
            "localhost".into()
        } else {
            host.to_owned()
        },
        port,
        tls: tls_wanted,
        websocket: None,
    })
}

/// `host`, `host:port`, `[v6]`, `[v6]:port`.
fn split_host_port(authority: &str) -> Option<(String, Option<u16>)> {
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.parse().ok()?),
            None if after.is_empty() => None,
            None => return None,
        };
        return Some((host.to_owned(), port));
    }
    match authority.rsplit_once(':') {
        Some((host, port)) => Some((host.to_owned(), Some(port.parse().ok()?))),
        None => Some((authority.to_owned(), None)),
    }
}

/// Node-RED's `userProps` text: a JSON object (anything not starting with `{` is ignored).
fn user_props(value: Option<&Json>, key: &str) -> Result<Vec<(String, String)>, ConfigError> {
    match value {
        Some(Json::String(s)) if s.trim_start().starts_with('{') => {
            let parsed: Json = serde_json::from_str(s)
                .map_err(|e| ConfigError::field(key, format!("not a JSON object: {e}")))?;
            Ok(object_props(&parsed))
        }
        Some(obj @ Json::Object(_)) => Ok(object_props(obj)),
        _ => Ok(Vec::new()),
    }
}

fn object_props(value: &Json) -> Vec<(String, String)> {
    match ferrite_runtime::Value::from(value.clone()) {
        ferrite_runtime::Value::Object(map) => message::user_properties(&map),
        _ => Vec::new(),
    }
}

/// A birth, close or will message (`<prefix>Topic`, ...), with the will delay.
fn lwt(
    config: &Map<String, Json>,
    prefix: &str,
    v5: bool,
) -> Result<Option<(Publish, Option<u32>)>, ConfigError> {
    let topic = text(config, &format!("{prefix}Topic"));
    if topic.is_empty() {
        return Ok(None);
    }
    let topic_key = format!("{prefix}Topic");
    super::mqtt::topic::validate_topic_name(topic)
        .map_err(|e| ConfigError::field(&topic_key, e))?;
    let payload = match config.get(&format!("{prefix}Payload")) {
        None | Some(Json::Null) => Bytes::new(),
        Some(value) => message::payload_bytes(&ferrite_runtime::Value::from(value.clone())),
    };
    let qos_key = format!("{prefix}Qos");
    let qos = match number(config, &qos_key) {
        None => QoS::AtMostOnce,
        Some(n) => QoS::from_u8(n as u8)
            .filter(|_| n.fract() == 0.0 && n >= 0.0)
            .ok_or_else(|| ConfigError::field(&qos_key, format!("{n} is not a QoS (0, 1 or 2)")))?,
    };
    let retain = config
        .get(&format!("{prefix}Retain"))
        .is_some_and(json_bool);
    let mut delay = None;
    let props = if v5 {
        let msg_key = format!("{prefix}Msg");
        let extra = config.get(&msg_key).and_then(Json::as_object);
        let field = |k: &str| {
            extra
                .and_then(|m| m.get(k))
                .and_then(Json::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let whole = |k: &str| {
            extra
                .and_then(|m| m.get(k))
                .and_then(json_f64)
                .filter(|n| *n >= 0.0 && *n <= f64::from(u32::MAX))
                .map(|n| n as u32)
        };
        delay = whole("delay");
        let p = Properties {
            content_type: field("contentType"),
            response_topic: field("respTopic"),
            correlation_data: field("correl").map(Bytes::from),
            message_expiry_interval: whole("expiry"),
            user_properties: user_props(extra.and_then(|m| m.get("userProps")), &msg_key)?,
            ..Properties::default()
        };
        (p != Properties::default()).then(|| Box::new(p))
    } else {
        None
    };
    Ok(Some((
        Publish {
            dup: false,
            qos,
            retain,
            topic: topic.to_owned(),
            pkid: 0,
            payload,
            props,
        },
        delay,
    )))
}

/// Ferrite's store-and-forward settings of the broker node.
fn outbox_policy(config: &Map<String, Json>) -> Result<Policy, ConfigError> {
    let order = match text(config, "outboxOrder") {
        "" | "fifo" => Order::Fifo,
        "lifo" => Order::Lifo,
        other => {
            return Err(ConfigError::field(
                "outboxOrder",
                format!("'{other}' is not an order: use fifo or lifo"),
            ));
        }
    };
    let count = |key: &str, default: u64| -> Result<u64, ConfigError> {
        match number(config, key) {
            None => Ok(default),
            Some(n) if n >= 0.0 && n.fract() == 0.0 => Ok(n as u64),
            Some(n) => Err(ConfigError::field(
                key,
                format!("{n} is not a whole number of 0 or more"),
            )),
        }
    };
    let replay_rate = match number(config, "outboxRate") {
        None => 0.0,
        Some(n) if n >= 0.0 && n.is_finite() => n,
        Some(n) => {
            return Err(ConfigError::field(
                "outboxRate",
                format!("{n} is not a rate (messages per second, 0 for no limit)"),
            ));
        }
    };
    Ok(Policy {
        order,
        max_messages: count("outboxMaxMessages", Policy::default().max_messages)?,
        max_bytes: count("outboxMaxBytes", 0)?,
        replay_rate,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn opts(config: Json) -> Result<Options, ConfigError> {
        options(
            config.as_object().expect("object"),
            Duration::from_secs(5),
            None,
        )
    }

    #[test]
    fn hosts_and_urls_name_the_endpoint() {
        let e = |c: Json| opts(c).expect("valid").endpoint;
        assert_eq!(
            e(json!({"broker": "10.0.0.5", "port": "1884"})),
            Endpoint {
                host: "10.0.0.5".into(),
                port: 1884,
                tls: false,
                websocket: None
            }
        );
        assert_eq!(e(json!({"broker": ""})).host, "localhost");
        assert_eq!(
            e(json!({"broker": "mqtts://plc.example:9000"})),
            Endpoint {
                host: "plc.example".into(),
                port: 9000,
                tls: true,
                websocket: None
            }
        );
        assert_eq!(e(json!({"broker": "ssl://b"})).port, 8883);
        assert_eq!(e(json!({"broker": "tcp://[::1]:1999"})).host, "::1");
        assert!(e(json!({"broker": "h", "usetls": true})).tls);
        assert_eq!(
            e(json!({"broker": "wss://h/mqtt"})),
            Endpoint {
                host: "h".into(),
                port: 443,
                tls: true,
                websocket: Some("/mqtt".into())
            }
        );
        assert_eq!(
            e(json!({"broker": "ws://h:9001"})).websocket.as_deref(),
            Some("/")
        );
        assert!(opts(json!({"broker": "http://h"})).is_err());
        assert!(opts(json!({"broker": "h", "port": "99999"})).is_err());
    }

    #[test]
    fn versions_and_clean_sessions_follow_node_red() {
        assert_eq!(
            opts(json!({"protocolVersion": "3"})).expect("ok").version,
            Version::V31
        );
        assert_eq!(
            opts(json!({"compatmode": true})).expect("ok").version,
            Version::V31
        );
        assert_eq!(
            opts(json!({"protocolVersion": 5})).expect("ok").version,
            Version::V5
        );
        assert_eq!(opts(json!({})).expect("ok").version, Version::V311);
        let generated = opts(json!({"cleansession": false})).expect("ok");
        assert!(generated.client_id.starts_with("nodered"));
        assert_eq!(generated.client_id.len(), "nodered".len() + 16);
        assert!(generated.clean_start, "no client id forces a clean session");
        let fixed = opts(json!({"cleansession": false, "clientid": "gw1"})).expect("ok");
        assert!(!fixed.clean_start);
    }

    #[test]
    fn birth_close_and_will_carry_their_v5_properties() {
        let o = opts(json!({
            "protocolVersion": "5",
            "birthTopic": "gw/status", "birthPayload": "online", "birthQos": "1", "birthRetain": "true",
            "willTopic": "gw/status", "willPayload": "offline",
            "willMsg": {"contentType": "text/plain", "delay": "10", "userProps": "{\"a\":\"b\"}"}
        }))
        .expect("valid");
        let birth = o.birth.expect("birth");
        assert_eq!((birth.qos, birth.retain), (QoS::AtLeastOnce, true));
        assert_eq!(birth.payload, "online");
        let will = o.will.expect("will");
        let props = will.props.expect("props");
        assert_eq!(props.will_delay_interval, Some(10));
        assert_eq!(props.content_type.as_deref(), Some("text/plain"));
        assert_eq!(props.user_properties, [("a".to_owned(), "b".to_owned())]);
        assert!(o.close.is_none());
    }

    #[test]
    fn bad_values_are_deploy_errors_naming_the_key() {
        let err = opts(json!({"protocolVersion": 6})).expect_err("bad");
        assert!(err.to_string().starts_with("protocolVersion:"), "{err}");
        let err = opts(json!({"willTopic": "a/#"})).expect_err("bad");
        assert!(err.to_string().starts_with("willTopic:"), "{err}");
        let err = outbox_policy(json!({"outboxOrder": "random"}).as_object().expect("o"))
            .expect_err("bad");
        assert!(err.to_string().starts_with("outboxOrder:"), "{err}");
    }

    #[test]
    fn credentials_become_user_and_password() {
        let o = opts(json!({"credentials": {"user": "u", "password": "p"}})).expect("ok");
        assert_eq!(o.username.as_deref(), Some("u"));
        assert_eq!(o.password.as_deref(), Some(&b"p"[..]));
    }
}
