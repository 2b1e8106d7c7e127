//! `modbus-write` — mirrors node-red-contrib-modbus's `modbus-write`
//! (`src/modbus-write.js`): writes each input message's value to the address its config
//! names.
//!
//! Config keys: `server`, `unitid` (empty: the client's), `dataType` — `Coil` (FC 5),
//! `HoldingRegister` (FC 6), `MCoils` (FC 15), `MHoldingRegisters` (FC 16) — `adr`,
//! `quantity`, `name`. Ignored: `showStatusActivities`, `showErrors`.
//!
//! Reads `msg.payload.value` when the payload is an object with a `value`, else
//! `msg.payload`: a boolean or number, or an array of them for FC 15 / 16; the text
//! `"true"` / `"false"` is a boolean and text with commas a JSON array, as in the contrib.
//! Registers take 0-65535 (or -32768..-1, written as two's complement).
//!
//! Ferrite's extension: with `points` (see `modbus/regmap.rs`; `dataType` picks coils or
//! holding registers), `msg.payload` is `{name: value}` and each named point is written
//! with its type, byte order, scale and offset, adjacent points in one request.
//!
//! Output 1 is the input message with `payload` = the write's description (`{value,
//! unitid, fc, address, quantity, messageId}`), `responseBuffer` (the device's echo) and
//! `input`; output 2 has the echo in `payload` and the description in `values`. A failed
//! write is an error with the message.

use ferrite_runtime::{
    Build, BuildCtx, ConfigError, Event, Map, Msg, Node, NodeCtx, NodeDef, NodeError, Role, Value,
    async_trait,
};
use serde_json::Value as Json;

use super::modbus::client::ModbusClient;
use super::modbus::flow;
use super::modbus::pdu::{Request, Response};
use super::modbus::regmap::RegisterMap;
use super::modbus_getter::request_input;

pub const DEF: NodeDef = NodeDef {
    type_name: "modbus-write",
    category: "modbus",
    set_id: "node-red-contrib-modbus/modbus-write",
    role: Role::Plain,
    build: Build::Flow(build),
};

struct ModbusWrite {
    client: ModbusClient,
    unit: Option<u8>,
    fc: u8,
    address: u16,
    quantity: Value,
    /// With `points`: the map `{name: value}` payloads are written through.
    map: Option<RegisterMap>,
    link: flow::LinkStatus,
}

fn build(cx: &mut BuildCtx<'_>) -> Result<Box<dyn Node>, ConfigError> {
    let client = flow::client(cx)?;
    let config = cx.raw();
    let data_type = config
        .get("dataType")
        .and_then(Json::as_str)
        .unwrap_or_default();
    let fc = match data_type {
        "Coil" => 5,
        "HoldingRegister" => 6,
        "MCoils" => 15,
        "MHoldingRegisters" => 16,
        other => {
            return Err(ConfigError::field(
                "dataType",
                format!("'{other}' is not Coil, HoldingRegister, MCoils or MHoldingRegisters"),
            ));
        }
    };
    let has_points = config.get("points").is_some_and(|p| {
        !matches!(p, Json::Null) && p.as_str().is_none_or(|s| !s.trim().is_empty())
    });
    let map = if has_points {
        Some(RegisterMap::from_node_config(config).map_err(ConfigError::from)?)
    } else {
        None
    };
    let address = flow::config_whole(config, "adr", 0..=65535)?.unwrap_or(0) as u16;
    Ok(Box::new(ModbusWrite {
        client,
        unit: flow::unit_id(config, "unitid")?,
        fc,
        address,
        quantity: config
            .get("quantity")
            .cloned()
            .map_or(Value::Int(1), Value::from),
        map,
        link: flow::LinkStatus::default(),
    }))
}

/// The value a contrib write node takes from a message.
fn message_value(msg: &Msg) -> Option<Value> {
    match msg.payload()? {
        Value::Object(fields) if fields.contains_key("value") => fields.get("value").cloned(),
        payload => Some(payload.clone()),
    }
}

/// Sends `requests` and builds the contrib's two outputs on `msg`.
pub(super) async fn write_all(
    client: &ModbusClient,
    unit: Option<u8>,
    requests: &[Request],
    msg: Msg,
    described: Value,
    cx: &mut NodeCtx,
) -> Result<(), NodeError> {
    let mut responses: Vec<Response> = Vec::with_capacity(requests.len());
    for request in requests {
        match client.call(unit, request.clone()).await {
            Ok(response) => responses.push(response),
            Err(error) => {
                cx.status(flow::failure_status(&error)).await;
                return Err(NodeError::new(error.to_string()).for_msg(msg));
            }
        }
    }
    let input = request_input(&msg, described.clone());
    let echo = flow::write_response_buffer(&responses);
    let outputs = flow::outputs(msg, described, None, echo, input, cx.id());
    cx.send_ports(outputs).await;
    Ok(())
}

/// `{value, unitid, fc, address, quantity, messageId}`, the contrib's write description.
pub(super) fn describe(
    value: Value,
    unit: Option<u8>,
    fc: u8,
    address: u16,
    quantity: &Value,
) -> Value {
    let mut described = Map::with_capacity(6);
    described.insert("value".to_owned(), value);
    if let Value::Object(fields) =
        flow::request_payload(unit, fc, &Value::Int(i64::from(address)), quantity)
    {
        described.extend(fields);
    }
    Value::Object(described)
}

#[async_trait]
impl Node for ModbusWrite {
    async fn on_start(&mut self, cx: &mut NodeCtx) -> Result<(), NodeError> {
        self.link.start(&self.client, cx);
        Ok(())
    }

    async fn on_event(&mut self, event: Event, cx: &mut NodeCtx) -> Result<(), NodeError> {
        if let Some(status) = flow::LinkStatus::status_of(&event) {
            cx.status(status).await;
        }
        Ok(())
    }

    async fn on_input(&mut self, msg: Msg, cx: &mut NodeCtx) -> Result<(), NodeError> {
        let Some(value) = message_value(&msg) else {
            return Err(NodeError::new("msg.payload is missing: nothing to write").for_msg(msg));
        };
        let requests = match &self.map {
            Some(map) => map.write_requests(&value).map_err(|e| e.to_string()),
            None => flow::write_request(self.fc, self.address, &flow::write_value(&value))
                .map(|request| vec![request]),
        };
        let requests = match requests {
            Ok(requests) => requests,
            Err(why) => return Err(NodeError::new(why).for_msg(msg)),
        };
        let value = match &self.map {
            Some(_) => value,
            None => flow::write_value(&value),
        };
        let described = describe(value, self.unit, self.fc, self.address, &self.quantity);
        write_all(&self.client, self.unit, &requests, msg, described, cx).await
    }
}
