//! `mqtt in` — mirrors Node-RED's MQTT in node (`core/network/10-mqtt.js`).
//!
//! Config keys: `broker` (an `mqtt-broker` id), `topic` (wildcards `+`, `#` and shared
//! subscriptions `$share/<group>/<filter>`), `qos` (invalid → 2), `datatype`
//! (`auto-detect` | `auto` | `buffer` | `utf8` | `json` | `base64`; `utf8` when absent), `nl`,
//! `rap`, `rh` (v5 subscription options), `inputs` (1: dynamic subscriptions, no static
//! topic), `name`.
//!
//! Sends `{topic, payload, qos, retain}` for each message received, plus `_topic` for a
//! broker on localhost and, on v5 connections, `responseTopic`, `correlationData` (a
//! Buffer), `contentType`, `messageExpiryInterval`, `payloadFormatIndicator`,
//! `reasonString`, `userProperties`. A payload its datatype cannot decode is an error
//! carrying `{payload, topic, qos, retain}` (for Catch nodes).
//!
//! Reads `msg.action` on its input: `subscribe` (`msg.topic` a filter, an object
//! `{topic, qos, rh, rap, nl, datatype}` or an array of them), `unsubscribe` (the same, or
//! `true` for all), `connect` (`msg.broker` may change the broker options; `force: true`
//! reconnects a live connection), `disconnect`, `getSubscriptions` (sends
//! `{topic: "subscriptions", payload: [...]}`). Subscribe and unsubscribe set
//! `msg.subscriptions` to the node's dynamic subscriptions.
//!
//! A QoS 1/2 message is acknowledged to the broker only once the flow has let go of it
//! (see `mqtt/client.rs`), so a crash never loses a message the broker sent.

use ferrite_runtime::loose::{json_bool, json_f64};
use ferrite_runtime::{
    Build, BuildCtx, ConfigError, Event, Msg, Node, NodeCtx, NodeDef, NodeError, Role, Value,
    async_trait,
};
use serde_json::Value as Json;
use tokio::task::JoinHandle;

use super::mqtt::client::{Client, DeliveryError, Link, Subscription, SubscriptionId};
use super::mqtt::codec::QoS;
use super::mqtt::message::Datatype;
use super::mqtt::{topic, users};
use super::mqtt_broker::MqttBroker;

pub const DEF: NodeDef = NodeDef {
    type_name: "mqtt in",
    category: "network",
    set_id: "node-red/mqtt",
    role: Role::Plain,
    build: Build::Flow(build),
};

const INVALID_TOPIC: &str = "Invalid topic specified";

/// A subscription the node makes, as Node-RED lists it in `msg.subscriptions`.
#[derive(Debug, Clone)]
struct Wanted {
    topic: String,
    qos: QoS,
    rh: u8,
    rap: bool,
    nl: bool,
    datatype: Option<Datatype>,
    /// The entry as given (normalised), for `msg.subscriptions`.
    listed: Value,
}

struct MqttIn {
    client: Client,
    broker: MqttBroker,
    datatype: Datatype,
    /// The static subscription (none for dynamic nodes).
    fixed: Option<Wanted>,
    /// Dynamic subscriptions, in the order they were made.
    dynamic: Vec<(Wanted, SubscriptionId)>,
    fixed_id: Option<SubscriptionId>,
    status: Option<JoinHandle<()>>,
}

fn build(cx: &mut BuildCtx<'_>) -> Result<Box<dyn Node>, ConfigError> {
    let broker: &MqttBroker = cx.config_node("broker")?;
    let config = cx.raw();
    let dynamic = config.get("inputs").and_then(json_f64) == Some(1.0);
    let datatype = Datatype::parse(
        config
            .get("datatype")
            .and_then(Json::as_str)
            .unwrap_or("utf8"),
    );
    let qos = config
        .get("qos")
        .and_then(json_f64)
        .filter(|q| q.fract() == 0.0 && (0.0..=2.0).contains(q))
        .and_then(|q| QoS::from_u8(q as u8))
        .unwrap_or(QoS::ExactlyOnce);
    let fixed = if dynamic {
        None
    } else {
        let topic_text = config
            .get("topic")
            .and_then(Json::as_str)
            .unwrap_or_default();
        if topic_text.is_empty() {
            return Err(ConfigError::field("topic", "topic not defined"));
        }
        topic::validate_filter(topic_text)
            .map_err(|e| ConfigError::field("topic", format!("{INVALID_TOPIC}: {e}")))?;
        let rh = config
            .get("rh")
            .and_then(json_f64)
            .filter(|n| (0.0..=2.0).contains(n))
            .map_or(0, |n| n as u8);
        Some(Wanted {
            topic: topic_text.to_owned(),
            qos,
            rh,
            rap: config.get("rap").is_some_and(json_bool),
            nl: config.get("nl").is_some_and(json_bool),
            datatype: None,
            listed: Value::Null,
        })
    };
    Ok(Box::new(MqttIn {
        client: broker.client().clone(),
        broker: broker.clone(),
        datatype,
        fixed,
        dynamic: Vec::new(),
        fixed_id: None,
        status: None,
    }))
}

impl MqttIn {
    async fn subscribe(&self, wanted: &Wanted, cx: &NodeCtx) -> SubscriptionId {
        self.client
            .subscribe(Subscription {
                filter: wanted.topic.clone(),
                qos: wanted.qos,
                no_local: wanted.nl,
                retain_as_published: wanted.rap,
                retain_handling: wanted.rh,
                datatype: wanted.datatype.unwrap_or(self.datatype),
                feed: cx.feed(),
            })
            .await
    }

    /// Ends the node's dynamic subscription to `topic`, if it has one.
    async fn forget(&mut self, topic: &str) {
        if let Some(i) = self.dynamic.iter().position(|(w, _)| w.topic == topic) {
            let (_, id) = self.dynamic.remove(i);
            self.client.unsubscribe(id, true).await;
        }
    }

    /// A subscribe or unsubscribe action is done: Complete nodes see the message with the
    /// node's subscriptions (`msg.subscriptions`), as Node-RED sets them.
    async fn done_with_subscriptions(&self, mut msg: Msg, cx: &mut NodeCtx) {
        msg.insert("subscriptions", self.listed());
        cx.defer_done();
        cx.done(&msg).await;
    }

    fn listed(&self) -> Value {
        Value::Array(self.dynamic.iter().map(|(w, _)| w.listed.clone()).collect())
    }

    /// Reads `msg.topic` of a subscribe / unsubscribe action into the subscriptions meant.
    fn requested(&self, msg: &Msg, unsubscribe: bool) -> Result<Vec<Wanted>, NodeError> {
        let entries: Vec<Value> = match msg.get("topic") {
            Some(Value::Bool(true)) if unsubscribe => {
                return Ok(self.dynamic.iter().map(|(w, _)| w.clone()).collect());
            }
            Some(Value::Array(items)) => items.clone(),
            Some(v @ (Value::String(_) | Value::Object(_))) => vec![v.clone()],
            _ => {
                return Err(NodeError::new("msg.topic is missing or invalid").with_msg(msg));
            }
        };
        let v5 = self.client.is_v5();
        entries
            .into_iter()
            .map(|entry| {
                wanted_from(entry, v5).ok_or_else(|| NodeError::new(INVALID_TOPIC).with_msg(msg))
            })
            .collect()
    }
}

/// One entry of a subscribe action, normalised as Node-RED stores it.
fn wanted_from(entry: Value, v5: bool) -> Option<Wanted> {
    let mut map = match entry {
        Value::String(topic) => {
            let mut m = ferrite_runtime::Map::new();
            m.insert("topic".to_owned(), Value::String(topic));
            m
        }
        Value::Object(m) => m,
        _ => return None,
    };
    let topic = map.get("topic").and_then(Value::as_str)?.to_owned();
    if topic.is_empty() || topic::validate_filter(&topic).is_err() {
        return None;
    }
    let whole = |v: Option<&Value>, max: f64| {
        v.and_then(Value::as_f64)
            .filter(|n| n.fract() == 0.0 && (0.0..=max).contains(n))
            .map(|n| n as u8)
    };
    let qos = whole(map.get("qos"), 2.0).unwrap_or(2);
    map.insert("qos".to_owned(), Value::Int(i64::from(qos)));
    let mut rh = 0;
    let mut rap = true;
    let mut nl = false;
    if v5 {
        rh = whole(map.get("rh"), 2.0).unwrap_or(0);
        map.insert("rh".to_owned(), Value::Int(i64::from(rh)));
        rap = !matches!(map.get("rap"), Some(Value::Bool(false)))
            && map.get("rap").and_then(Value::as_str) != Some("false");
        map.insert("rap".to_owned(), Value::Bool(rap));
        match map.get("nl") {
            Some(Value::Bool(b)) => nl = *b,
            Some(Value::String(s)) if s == "true" || s == "false" => nl = s == "true",
            _ => {
                map.shift_remove("nl");
            }
        }
        if map.contains_key("nl") {
            map.insert("nl".to_owned(), Value::Bool(nl));
        }
    }
    let datatype = map
        .get("datatype")
        .and_then(Value::as_str)
        .map(Datatype::parse);
    Some(Wanted {
        topic,
        qos: QoS::from_u8(qos).unwrap_or(QoS::ExactlyOnce),
        rh,
        rap,
        nl,
        datatype,
        listed: Value::Object(map),
    })
}

#[async_trait]
impl Node for MqttIn {
    async fn on_start(&mut self, cx: &mut NodeCtx) -> Result<(), NodeError> {
        cx.status(users::status(Link::default())).await;
        self.client.register().await;
        if let Some(fixed) = self.fixed.clone() {
            self.fixed_id = Some(self.subscribe(&fixed, cx).await);
        }
        self.status = Some(users::follow(&self.client, cx.event_sender()));
        Ok(())
    }

    async fn on_event(&mut self, event: Event, cx: &mut NodeCtx) -> Result<(), NodeError> {
        match event {
            Event::Message(msg) => {
                cx.send(msg).await;
                Ok(())
            }
            Event::Custom(custom) => {
                if let Some(link) = custom.downcast_ref::<Link>() {
                    cx.status(users::status(*link)).await;
                    return Ok(());
                }
                match custom.downcast::<DeliveryError>() {
                    Ok(error) => Err(error.0),
                    Err(_) => Ok(()),
                }
            }
            Event::Timer(_) | Event::Toggle(_) => Ok(()),
        }
    }

    async fn on_input(&mut self, mut msg: Msg, cx: &mut NodeCtx) -> Result<(), NodeError> {
        let action = msg
            .get("action")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        match action.as_str() {
            "connect" => connect_action(&self.broker, &msg).await,
            "disconnect" => {
                self.client.disconnect().await;
                Ok(())
            }
            "subscribe" => {
                for wanted in self.requested(&msg, false)? {
                    self.forget(&wanted.topic).await;
                    let id = self.subscribe(&wanted, cx).await;
                    self.dynamic.push((wanted, id));
                }
                self.done_with_subscriptions(msg, cx).await;
                Ok(())
            }
            "unsubscribe" => {
                for wanted in self.requested(&msg, true)? {
                    self.forget(&wanted.topic).await;
                }
                self.done_with_subscriptions(msg, cx).await;
                Ok(())
            }
            "getSubscriptions" => {
                msg.insert("topic", "subscriptions");
                msg.insert("payload", self.listed());
                cx.send(msg).await;
                Ok(())
            }
            _ => Err(NodeError::new("Invalid action specified").with_msg(&msg)),
        }
    }

    async fn on_close(&mut self, removed: bool, _cx: &mut NodeCtx) {
        if let Some(status) = self.status.take() {
            status.abort();
        }
        if let Some(id) = self.fixed_id.take() {
            self.client.unsubscribe(id, removed).await;
        }
        for (_, id) in self.dynamic.drain(..) {
            self.client.unsubscribe(id, removed).await;
        }
        self.client.deregister(removed).await;
    }
}

/// The `connect` action of `mqtt in` and `mqtt out`: `msg.broker` (an object) changes the
/// broker options; with `force: true` a live connection is dropped and made again.
pub(crate) async fn connect_action(broker: &MqttBroker, msg: &Msg) -> Result<(), NodeError> {
    let overrides = match msg.get("broker") {
        Some(Value::Object(map)) => Some(map.clone()),
        _ => None,
    };
    let force = overrides
        .as_ref()
        .and_then(|m| m.get("force"))
        .is_some_and(|v| v.is_truthy());
    let options = match &overrides {
        Some(map) => {
            let json: serde_json::Map<String, Json> = map
                .iter()
                .filter(|(k, _)| k.as_str() != "force")
                .map(|(k, v)| (k.clone(), v.to_json()))
                .collect();
            Some(
                broker
                    .options_with(&json)
                    .map_err(|e| NodeError::new(e.to_string()).with_msg(msg))?,
            )
        }
        None => None,
    };
    broker
        .client()
        .connect(options, force)
        .await
        .map_err(|e| NodeError::new(e).with_msg(msg))
}
