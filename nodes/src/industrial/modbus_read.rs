//! `modbus-read` — mirrors node-red-contrib-modbus's `modbus-read` (`src/modbus-read.js`):
//! polls a device through a `modbus-client` at a fixed rate.
//!
//! Config keys (the contrib node's; numbers as numbers or their text):
//! * `server` — the `modbus-client`; `unitid` — empty for the client's `unit_id`, or 0-255.
//! * `dataType` — `Coil` (FC 1), `Input` (FC 2), `HoldingRegister` (FC 3),
//!   `InputRegister` (FC 4); `adr` (0-based start) and `quantity` (default 1).
//! * `rate` + `rateUnit` (`ms`, `s`, `m`, `h`; no unit: every 10 s, as the contrib node);
//!   the first poll comes one period after start, as there.
//! * `delayOnStart` + `startDelayTime` (seconds, default 10) — wait before polling.
//! * `topic` (default `polling`), `name`, `emptyMsgOnFail` (on a failed poll, send the
//!   poll's message with an empty payload and `error` on both outputs).
//! * Ignored: `showStatusActivities`, `showErrors`, `showWarnings`, `logIOActivities`,
//!   `enableDeformedMessages`. A failed poll is always a node error (Catch nodes see it).
//!   `useIOFile`, `ioFile`, `useIOForPayload` (IO files) are not supported: a warning at
//!   start says to use `points` instead.
//!
//! Ferrite's register maps (`modbus/regmap.rs` lists the keys): several `;`-separated
//! blocks in `adr` / `quantity`, typed named `points`, `maxGap`. One poll reads them all,
//! in as few requests as the protocol allows.
//!
//! Output 1: `{topic, payload, responseBuffer: {data, buffer}, input, sendingNodeId}` where
//! `payload` is the values (the contrib's array of numbers or booleans; bits padded to whole
//! bytes as modbus-serial gives them) or, with a register map, `{name: value}` plus `blocks`
//! (`[{start, count, values}]`). Output 2: `{topic, payload: responseBuffer, values, input,
//! sendingNodeId}`. `input` is the poll's request, `{topic, from, payload: {unitid, fc,
//! address, quantity, messageId}}`.
//!
//! A poll never overlaps the previous one: a tick that comes while one is still running
//! (a slow or dead device) is skipped rather than queued, so nothing piles up.

use std::sync::Arc;
use std::time::Duration;

use ferrite_runtime::loose::{json_bool, json_f64};
use ferrite_runtime::{
    Build, BuildCtx, ConfigError, Event, Map, Msg, Node, NodeCtx, NodeDef, NodeError, Role, Status,
    TimerId, Value, async_trait,
};
use serde_json::Value as Json;

use super::modbus::client::{CallError, ModbusClient};
use super::modbus::flow;
use super::modbus::pdu::{Area, Response};
use super::modbus::regmap::RegisterMap;

pub const DEF: NodeDef = NodeDef {
    type_name: "modbus-read",
    category: "modbus",
    set_id: "node-red-contrib-modbus/modbus-read",
    role: Role::Plain,
    build: Build::Flow(build),
};

struct ModbusRead {
    client: ModbusClient,
    /// The map and unit a poll reads, shared with the poll task.
    reading: Arc<Reading>,
    topic: String,
    name: String,
    period: Duration,
    start_delay: Option<Duration>,
    empty_msg_on_fail: bool,
    io_file: bool,
    timer: Option<TimerId>,
    polling: bool,
    status_text: String,
    link: flow::LinkStatus,
}

/// One poll's plan.
pub(super) struct Reading {
    pub(super) map: RegisterMap,
    pub(super) unit: Option<u8>,
    /// Whether the output is a register map's (`{name: value}` and `blocks`) rather than
    /// the contrib node's plain array.
    pub(super) mapped: bool,
    /// `address` and `quantity` as the contrib node reports them in `msg.input`.
    pub(super) address: Value,
    pub(super) quantity: Value,
}

impl Reading {
    pub(super) fn from_config(config: &serde_json::Map<String, Json>) -> Result<Self, ConfigError> {
        let map = RegisterMap::from_node_config(config).map_err(ConfigError::from)?;
        let mapped = !map.points().is_empty() || map.blocks().len() > 1;
        let as_value = |key: &str| match config.get(key) {
            Some(Json::Number(n)) => Value::from(Json::Number(n.clone())),
            Some(Json::String(s)) => s
                .trim()
                .parse::<i64>()
                .map_or_else(|_| Value::String(s.clone()), Value::Int),
            _ => Value::Null,
        };
        Ok(Self {
            unit: flow::unit_id(config, "unitid")?,
            address: as_value("adr"),
            quantity: match as_value("quantity") {
                Value::Null => Value::Int(1),
                quantity => quantity,
            },
            mapped,
            map,
        })
    }

    /// One block read on request (`modbus-flex-getter`).
    pub(super) fn single(
        area: Area,
        address: u16,
        quantity: u16,
        unit: Option<u8>,
    ) -> Result<Self, String> {
        let map =
            RegisterMap::from_config(area, &address.to_string(), &quantity.to_string(), None, 0)
                .map_err(|e| e.to_string())?;
        Ok(Self {
            map,
            unit,
            mapped: false,
            address: Value::Int(i64::from(address)),
            quantity: Value::Int(i64::from(quantity)),
        })
    }

    /// The function code of the map's area.
    pub(super) fn fc(&self) -> u8 {
        self.map.area().read_code()
    }

    /// The two outputs of a poll whose answers are `responses`, built on `msg`.
    pub(super) fn outputs(
        &self,
        msg: Msg,
        responses: &[Response],
        input: Value,
        node_id: &str,
    ) -> Result<Vec<Option<Msg>>, NodeError> {
        let mut decoded = self
            .map
            .decode(responses)
            .map_err(|e| NodeError::new(e.to_string()))?;
        let buffer = flow::read_response_buffer(responses);
        if !self.mapped
            && self.map.area().is_bits()
            && let Value::Object(raw) = &buffer
            && let Some(data) = raw.get("data")
        {
            // The contrib node hands on modbus-serial's bits, padded to whole bytes.
            decoded.payload = data.clone();
        }
        Ok(flow::outputs(
            msg,
            decoded.payload,
            self.mapped.then_some(decoded.blocks),
            buffer,
            input,
            node_id,
        ))
    }

    /// Reads on behalf of `msg` (the getters) and sends the two outputs built on it; a
    /// failure is an error carrying the message, and with `empty_msg_on_fail` also the
    /// message with an empty payload on both outputs.
    pub(super) async fn read_for(
        &self,
        client: &ModbusClient,
        msg: Msg,
        input: Value,
        empty_msg_on_fail: bool,
        cx: &mut NodeCtx,
    ) -> Result<(), NodeError> {
        match flow::read_all(client, self.unit, self.map.requests()).await {
            Ok(responses) => {
                let outputs = self
                    .outputs(msg.clone(), &responses, input, cx.id())
                    .map_err(|e| e.for_msg(msg))?;
                cx.send_ports(outputs).await;
                Ok(())
            }
            Err(error) => {
                cx.status(flow::failure_status(&error)).await;
                if empty_msg_on_fail {
                    cx.send_ports(flow::empty_outputs(msg.clone(), &error))
                        .await;
                }
                Err(NodeError::new(error.to_string()).for_msg(msg))
            }
        }
    }
}

/// The contrib node's `calc_rateByUnit`: `rate` in `unit`; no unit means every 10 s.
fn poll_period(rate: Option<f64>, unit: &str) -> Result<Duration, ConfigError> {
    if unit.is_empty() {
        return Ok(Duration::from_secs(10));
    }
    let rate = rate
        .filter(|r| *r > 0.0 && r.is_finite())
        .ok_or_else(|| ConfigError::field("rate", "expected a number above 0"))?;
    let ms = match unit {
        "ms" => rate,
        "s" => rate.trunc() * 1_000.0,
        "m" => rate.trunc() * 60_000.0,
        "h" => rate.trunc() * 3_600_000.0,
        other => {
            return Err(ConfigError::field(
                "rateUnit",
                format!("'{other}' is not a unit (ms, s, m or h)"),
            ));
        }
    };
    if ms < 1.0 {
        return Err(ConfigError::field("rate", "a poll rate is at least 1 ms"));
    }
    Ok(Duration::from_millis(ms as u64))
}

/// A poll's outcome, posted back to the node.
struct Polled(Result<Vec<Response>, CallError>, Value);

fn build(cx: &mut BuildCtx<'_>) -> Result<Box<dyn Node>, ConfigError> {
    let client = flow::client(cx)?;
    let config = cx.raw();
    let reading = Reading::from_config(config)?;
    let text = |key: &str| {
        config
            .get(key)
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let period = poll_period(config.get("rate").and_then(json_f64), &text("rateUnit"))?;
    let start_delay = config.get("delayOnStart").is_some_and(json_bool).then(|| {
        let seconds = config
            .get("startDelayTime")
            .and_then(json_f64)
            .filter(|s| *s > 0.0 && s.is_finite())
            .unwrap_or(10.0);
        Duration::from_secs_f64(seconds.trunc().max(1.0))
    });
    Ok(Box::new(ModbusRead {
        client,
        reading: Arc::new(reading),
        topic: text("topic"),
        name: text("name"),
        period,
        start_delay,
        empty_msg_on_fail: config.get("emptyMsgOnFail").is_some_and(json_bool),
        io_file: config.get("useIOFile").is_some_and(json_bool),
        timer: None,
        polling: false,
        status_text: String::new(),
        link: flow::LinkStatus::default(),
    }))
}

impl ModbusRead {
    /// The message a poll is made for (the contrib's `msg.input`).
    fn poll_input(&self) -> Value {
        let mut map = Map::with_capacity(3);
        let topic = if self.topic.is_empty() {
            "polling"
        } else {
            &self.topic
        };
        map.insert("topic".to_owned(), Value::from(topic));
        map.insert("from".to_owned(), Value::from(self.name.as_str()));
        map.insert(
            "payload".to_owned(),
            flow::request_payload(
                self.reading.unit,
                self.reading.fc(),
                &self.reading.address,
                &self.reading.quantity,
            ),
        );
        Value::Object(map)
    }

    fn poll(&mut self, cx: &mut NodeCtx) {
        if self.polling {
            return;
        }
        self.polling = true;
        let client = self.client.clone();
        let reading = Arc::clone(&self.reading);
        let input = self.poll_input();
        let events = cx.event_sender();
        tokio::spawn(async move {
            let result = flow::read_all(&client, reading.unit, reading.map.requests()).await;
            events.send(Event::Custom(Box::new(Polled(result, input))));
        });
    }

    async fn show(&mut self, cx: &mut NodeCtx, status: Status) {
        if status.text.as_deref() != Some(self.status_text.as_str()) {
            self.status_text = status.text.clone().unwrap_or_default();
            cx.status(status).await;
        }
    }

    fn active_text(&self) -> String {
        let ms = self.period.as_millis();
        let (rate, unit) = if ms.is_multiple_of(3_600_000) {
            (ms / 3_600_000, "h.")
        } else if ms.is_multiple_of(60_000) {
            (ms / 60_000, "min.")
        } else if ms.is_multiple_of(1_000) {
            (ms / 1_000, "sec.")
        } else {
            (ms, "msec.")
        };
        format!("active ( {rate} {unit} )")
    }
}

#[async_trait]
impl Node for ModbusRead {
    async fn on_start(&mut self, cx: &mut NodeCtx) -> Result<(), NodeError> {
        if self.io_file {
            cx.warn("IO files (useIOFile) are not supported; name the values with points instead");
        }
        self.show(cx, Status::dot("blue", "waiting ...")).await;
        self.link.start(&self.client, cx);
        self.timer = Some(match self.start_delay {
            Some(delay) => cx.after(delay),
            None => cx.every(self.period),
        });
        Ok(())
    }

    async fn on_event(&mut self, event: Event, cx: &mut NodeCtx) -> Result<(), NodeError> {
        if let Some(status) = flow::LinkStatus::status_of(&event) {
            self.show(cx, status).await;
            return Ok(());
        }
        match event {
            Event::Timer(id) if Some(id) == self.timer => {
                if self.start_delay.take().is_some() {
                    self.timer = Some(cx.every(self.period));
                } else {
                    self.poll(cx);
                }
            }
            Event::Custom(custom) => {
                if let Ok(polled) = custom.downcast::<Polled>() {
                    self.polling = false;
                    let Polled(result, input) = *polled;
                    let topic = match &input {
                        Value::Object(map) => map.get("topic").cloned(),
                        _ => None,
                    };
                    let mut msg = Msg::new();
                    if let Some(topic) = topic {
                        msg.insert("topic", topic);
                    }
                    match result {
                        Ok(responses) => {
                            let outputs = self
                                .reading
                                .outputs(msg.clone(), &responses, input, cx.id())
                                .map_err(|e| e.with_msg(&msg))?;
                            let active = self.active_text();
                            self.show(cx, Status::dot("green", active)).await;
                            cx.send_ports(outputs).await;
                        }
                        Err(error) => {
                            self.show(cx, flow::failure_status(&error)).await;
                            msg.insert("input", input);
                            if self.empty_msg_on_fail {
                                cx.send_ports(flow::empty_outputs(msg.clone(), &error))
                                    .await;
                            }
                            return Err(NodeError::new(error.to_string()).for_msg(msg));
                        }
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The node has no input port; a message that reaches it anyway (a link call) polls now,
    /// as the contrib editor's inject button does.
    async fn on_input(&mut self, _msg: Msg, cx: &mut NodeCtx) -> Result<(), NodeError> {
        self.poll(cx);
        Ok(())
    }

    async fn on_close(&mut self, _removed: bool, cx: &mut NodeCtx) {
        if let Some(timer) = self.timer.take() {
            cx.cancel_timer(timer);
        }
    }
}
