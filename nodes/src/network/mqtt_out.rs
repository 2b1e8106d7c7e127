//! `mqtt out` — mirrors Node-RED's MQTT out node (`core/network/10-mqtt.js`).
//!
//! Config keys: `broker` (an `mqtt-broker` id), `topic`, `qos` (`""` = from the message),
//! `retain` (`"true"` forces it), and for v5 connections `respTopic`, `contentType`,
//! `userProps` (JSON text), `correl`, `expiry`; `name`. What the node sets overrides the
//! message.
//!
//! Reads `msg.payload` (no payload: nothing is published), `msg.topic`, `msg.qos`,
//! `msg.retain`, and on v5 `msg.responseTopic`, `msg.correlationData`, `msg.contentType`,
//! `msg.messageExpiryInterval`, `msg.payloadFormatIndicator`, `msg.userProperties`
//! (non-text values as JSON). Payloads are sent as Node-RED does: a Buffer as it is, an
//! object or array as JSON text, a number or boolean as its text, null as nothing.
//! `msg.action` `connect` / `disconnect` work as on `mqtt in`.
//!
//! An empty topic or one with a wildcard is an error carrying the message (Node-RED only
//! warns). A message is done once it is safe: a QoS 1/2 message in the broker's outbox
//! (SQLite), or written to the broker's connection when it came from an `mqtt in` QoS 1/2
//! message, which is acknowledged upstream only then. While the broker is unreachable
//! messages wait in the outbox instead of being dropped. The node takes the next message
//! while earlier ones are being stored, so they share commits.

use ferrite_runtime::loose::json_f64;
use ferrite_runtime::{
    Build, BuildCtx, ConfigError, Event, Msg, Node, NodeCtx, NodeDef, NodeError, Role, Value,
    async_trait,
};
use serde_json::Value as Json;
use tokio::task::JoinHandle;

use super::mqtt::client::{Accepted, Client, Link};
use super::mqtt::codec::QoS;
use super::mqtt::message::{self, Overrides};
use super::mqtt::users;
use super::mqtt_broker::MqttBroker;
use super::mqtt_in::connect_action;

pub const DEF: NodeDef = NodeDef {
    type_name: "mqtt out",
    category: "network",
    set_id: "node-red/mqtt",
    role: Role::Plain,
    build: Build::Flow(build),
};

/// A message's outbox commit has landed (or the connection closed before it could).
struct Stored {
    msg: Msg,
    outcome: Result<(), super::mqtt::client::Closed>,
}

struct MqttOut {
    client: Client,
    broker: MqttBroker,
    overrides: Overrides,
    status: Option<JoinHandle<()>>,
}

fn build(cx: &mut BuildCtx<'_>) -> Result<Box<dyn Node>, ConfigError> {
    let broker: &MqttBroker = cx.config_node("broker")?;
    let config = cx.raw();
    let text = |key: &str| {
        config
            .get(key)
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let qos = match config.get("qos").and_then(json_f64) {
        None => None,
        Some(q) => Some(
            QoS::from_u8(q as u8)
                .filter(|_| q.fract() == 0.0 && q >= 0.0)
                .ok_or_else(|| {
                    ConfigError::field("qos", format!("{q} is not a QoS (0, 1 or 2)"))
                })?,
        ),
    };
    let user_properties = match config.get("userProps") {
        Some(Json::String(s)) if s.trim_start().starts_with('{') => {
            let parsed: Json = serde_json::from_str(s)
                .map_err(|e| ConfigError::field("userProps", format!("not a JSON object: {e}")))?;
            match Value::from(parsed) {
                Value::Object(map) => message::user_properties(&map),
                _ => Vec::new(),
            }
        }
        _ => Vec::new(),
    };
    let expiry = match config.get("expiry").and_then(json_f64) {
        None => None,
        Some(e) if e >= 0.0 && e <= f64::from(u32::MAX) => Some(e as u32),
        Some(e) => {
            return Err(ConfigError::field(
                "expiry",
                format!("{e} is not a number of seconds"),
            ));
        }
    };
    let overrides = Overrides {
        topic: text("topic"),
        qos,
        retain: config
            .get("retain")
            .is_some_and(ferrite_runtime::loose::json_bool),
        response_topic: text("respTopic"),
        correlation_data: text("correl"),
        content_type: text("contentType"),
        message_expiry: expiry,
        user_properties,
    };
    Ok(Box::new(MqttOut {
        client: broker.client().clone(),
        broker: broker.clone(),
        overrides,
        status: None,
    }))
}

#[async_trait]
impl Node for MqttOut {
    async fn on_start(&mut self, cx: &mut NodeCtx) -> Result<(), NodeError> {
        cx.status(users::status(Link::default())).await;
        self.client.register().await;
        self.status = Some(users::follow(&self.client, cx.event_sender()));
        Ok(())
    }

    async fn on_event(&mut self, event: Event, cx: &mut NodeCtx) -> Result<(), NodeError> {
        let Event::Custom(custom) = event else {
            return Ok(());
        };
        if let Some(link) = custom.downcast_ref::<Link>() {
            cx.status(users::status(*link)).await;
        } else if let Ok(stored) = custom.downcast::<Stored>() {
            let Stored { msg, outcome } = *stored;
            match outcome {
                Ok(()) => cx.done(&msg).await,
                Err(closed) => return Err(NodeError::new(closed.to_string()).for_msg(msg)),
            }
        }
        Ok(())
    }

    async fn on_input(&mut self, mut msg: Msg, cx: &mut NodeCtx) -> Result<(), NodeError> {
        match msg.get("action") {
            None | Some(Value::Null) => {}
            Some(Value::String(action)) if action == "connect" => {
                return connect_action(&self.broker, &msg).await;
            }
            Some(Value::String(action)) if action == "disconnect" => {
                self.client.disconnect().await;
                return Ok(());
            }
            Some(_) => return Err(NodeError::new("Invalid action specified").with_msg(&msg)),
        }
        let publish = match message::outgoing(&msg, &self.overrides, self.client.is_v5()) {
            Ok(Some(publish)) => publish,
            Ok(None) => return Ok(()),
            Err(e) => return Err(NodeError::new(e.to_string()).for_msg(msg)),
        };
        // This node now answers for the message: the source acknowledges it once the
        // publish is safe, not when this copy is dropped.
        let receipt = msg.take_receipt();
        match self.client.publish(publish, receipt).await {
            Ok(Accepted::Taken) => Ok(()),
            Ok(Accepted::Stored(stored)) => {
                // Done (Complete nodes) once the commit lands; the node goes on meanwhile.
                cx.defer_done();
                let events = cx.event_sender();
                tokio::spawn(async move {
                    let outcome = Accepted::Stored(stored).wait().await;
                    events.send(Event::Custom(Box::new(Stored { msg, outcome })));
                });
                Ok(())
            }
            Err(e) => Err(NodeError::new(e.to_string()).for_msg(msg)),
        }
    }

    async fn on_close(&mut self, removed: bool, _cx: &mut NodeCtx) {
        if let Some(status) = self.status.take() {
            status.abort();
        }
        self.client.deregister(removed).await;
    }
}
