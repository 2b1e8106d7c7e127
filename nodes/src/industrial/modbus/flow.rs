//! What the `modbus-*` flow nodes share: the client their `server` key names, unit ids,
//! the contrib node's output messages (`responseBuffer`, `input`, the two outputs) and
//! statuses.

use bytes::{BufMut, BytesMut};
use ferrite_runtime::loose::json_f64;
use ferrite_runtime::{
    BuildCtx, ConfigError, Event, EventSender, Map, Msg, NodeCtx, Status, Value,
};
use serde_json::{Map as JsonMap, Value as Json};
use tokio::task::JoinHandle;

use super::client::{CallError, ClientState, Link, ModbusClient};
use super::pdu::{Request, Response};
use crate::industrial::modbus_client::ModbusClientNode;

/// The client of the `modbus-client` node named by the `server` key.
pub fn client(cx: &BuildCtx<'_>) -> Result<ModbusClient, ConfigError> {
    let node: &ModbusClientNode = cx.config_node("server")?;
    Ok(node.client().clone())
}

/// A unit id as the contrib nodes store it: empty (the client's `unit_id`), or 0-255 as a
/// number or its text.
pub fn unit_id(config: &JsonMap<String, Json>, key: &str) -> Result<Option<u8>, ConfigError> {
    Ok(config_whole(config, key, 0..=255)?.map(|unit| unit as u8))
}

/// A whole number in `range` given as a number or its text, as exported flows hold them;
/// `None` when absent or empty.
pub fn config_whole(
    config: &JsonMap<String, Json>,
    key: &str,
    range: std::ops::RangeInclusive<u64>,
) -> Result<Option<u64>, ConfigError> {
    let value = match config.get(key) {
        None | Some(Json::Null) => return Ok(None),
        Some(Json::String(s)) if s.trim().is_empty() => return Ok(None),
        Some(value) => value,
    };
    match json_f64(value) {
        Some(n) if n.fract() == 0.0 && n >= 0.0 && range.contains(&(n as u64)) => {
            Ok(Some(n as u64))
        }
        _ => Err(ConfigError::field(
            key,
            format!(
                "{value} is not a whole number from {} to {}",
                range.start(),
                range.end()
            ),
        )),
    }
}

/// A whole number from a message (a number or its text), as the contrib's `parseInt`.
pub fn whole(value: Option<&Value>) -> Option<i64> {
    match value? {
        Value::Int(i) => Some(*i),
        Value::Float(f) if f.is_finite() => Some(f.trunc() as i64),
        Value::String(s) => {
            let s = s.trim();
            let end = s
                .char_indices()
                .find(|&(i, c)| !(c.is_ascii_digit() || (i == 0 && (c == '-' || c == '+'))))
                .map_or(s.len(), |(i, _)| i);
            s[..end].parse().ok()
        }
        _ => None,
    }
}

/// The contrib write nodes' value conversions: text `"true"` / `"false"` is a boolean and
/// text with commas a JSON array (`"1,2,3"` or `"[1,2,3]"`).
pub fn write_value(value: &Value) -> Value {
    match value {
        Value::String(s) if s == "true" || s == "false" => Value::Bool(s == "true"),
        Value::String(s) if s.contains(',') => {
            let text = s.trim();
            let text = if text.starts_with('[') {
                text.to_owned()
            } else {
                format!("[{text}]")
            };
            serde_json::from_str::<Json>(&text).map_or_else(|_| value.clone(), Value::from)
        }
        other => other.clone(),
    }
}

/// The request of a contrib write: function code 5, 6, 15 or 16 at `address` with `value`
/// (a single value or an array). Registers take 0-65535, or -32768..-1 as their two's
/// complement; coils take booleans (numbers: non-zero is on).
pub fn write_request(fc: u8, address: u16, value: &Value) -> Result<Request, String> {
    let items: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        single => vec![single],
    };
    let request = match fc {
        5 => Request::WriteCoil {
            address,
            value: coil(single_item(&items)?)?,
        },
        6 => Request::WriteRegister {
            address,
            value: register(single_item(&items)?)?,
        },
        15 => Request::WriteCoils {
            address,
            values: items.into_iter().map(coil).collect::<Result<_, _>>()?,
        },
        16 => Request::WriteRegisters {
            address,
            values: items.into_iter().map(register).collect::<Result<_, _>>()?,
        },
        other => {
            return Err(format!(
                "function code {other} is not a write (5, 6, 15 or 16)"
            ));
        }
    };
    request.validate().map_err(|e| e.to_string())?;
    Ok(request)
}

fn single_item<'a>(items: &[&'a Value]) -> Result<&'a Value, String> {
    match items {
        [one] => Ok(one),
        _ => Err(format!(
            "function codes 5 and 6 write one value, got {}",
            items.len()
        )),
    }
}

fn coil(value: &Value) -> Result<bool, String> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::Int(i) => Ok(*i != 0),
        Value::Float(f) => Ok(*f != 0.0),
        Value::String(s) if s == "true" || s == "false" => Ok(s == "true"),
        other => Err(format!(
            "{} is not a coil value (true/false or a number)",
            other.to_json_string()
        )),
    }
}

fn register(value: &Value) -> Result<u16, String> {
    let number = match value {
        Value::Int(i) => Some(*i),
        Value::Float(f) if f.fract() == 0.0 && f.is_finite() => Some(*f as i64),
        Value::String(s) => s.trim().parse().ok(),
        Value::Bool(b) => Some(i64::from(*b)),
        _ => None,
    };
    match number {
        Some(n @ 0..=65535) => Ok(n as u16),
        Some(n @ -32768..=-1) => Ok(n as i16 as u16),
        _ => Err(format!(
            "{} is not a register value (a whole number from -32768 to 65535)",
            value.to_json_string()
        )),
    }
}

/// Reads `requests` one after the other (one poll).
pub async fn read_all(
    client: &ModbusClient,
    unit: Option<u8>,
    requests: &[Request],
) -> Result<Vec<Response>, CallError> {
    let mut responses = Vec::with_capacity(requests.len());
    for request in requests {
        responses.push(client.call(unit, request.clone()).await?);
    }
    Ok(responses)
}

/// The contrib node's `responseBuffer` of a read, as modbus-serial returns it: `data` (the
/// registers, or the bits of every byte received, so padded to a multiple of 8) and
/// `buffer` (the data bytes).
pub fn read_response_buffer(responses: &[Response]) -> Value {
    let mut data = Vec::new();
    let mut buffer = BytesMut::new();
    for response in responses {
        match response {
            Response::Registers(registers) => {
                for &register in registers {
                    data.push(Value::Int(i64::from(register)));
                    buffer.put_u16(register);
                }
            }
            Response::Bits(bits) => {
                for chunk in bits.chunks(8) {
                    let byte = chunk
                        .iter()
                        .enumerate()
                        .fold(0u8, |byte, (i, &bit)| byte | (u8::from(bit) << i));
                    buffer.put_u8(byte);
                    data.extend((0..8).map(|i| Value::Bool(byte & (1 << i) != 0)));
                }
            }
            Response::WroteOne { .. } | Response::WroteMany { .. } => {}
        }
    }
    let mut map = Map::with_capacity(2);
    map.insert("data".to_owned(), Value::Array(data));
    map.insert("buffer".to_owned(), Value::Bytes(buffer.freeze()));
    Value::Object(map)
}

/// The contrib node's `responseBuffer` of a write, as modbus-serial returns it.
pub fn write_response_buffer(responses: &[Response]) -> Value {
    let mut map = Map::with_capacity(2);
    if let Some(first) = responses.first() {
        match first {
            Response::WroteOne { address, value } => {
                map.insert("address".to_owned(), Value::Int(i64::from(*address)));
                map.insert("value".to_owned(), Value::Int(i64::from(*value)));
            }
            Response::WroteMany { address, .. } => {
                // A map's write may take several requests: the length is what they wrote.
                let length: i64 = responses
                    .iter()
                    .map(|r| match r {
                        Response::WroteMany { quantity, .. } => i64::from(*quantity),
                        _ => 1,
                    })
                    .sum();
                map.insert("address".to_owned(), Value::Int(i64::from(*address)));
                map.insert("length".to_owned(), Value::Int(length));
            }
            Response::Registers(_) | Response::Bits(_) => {}
        }
    }
    Value::Object(map)
}

/// The request the contrib nodes describe in `msg.input.payload`.
pub fn request_payload(unit: Option<u8>, fc: u8, address: &Value, quantity: &Value) -> Value {
    let mut map = Map::with_capacity(5);
    map.insert(
        "unitid".to_owned(),
        unit.map_or(Value::String(String::new()), |u| Value::Int(i64::from(u))),
    );
    map.insert("fc".to_owned(), Value::Int(i64::from(fc)));
    map.insert("address".to_owned(), address.clone());
    map.insert("quantity".to_owned(), quantity.clone());
    map.insert(
        "messageId".to_owned(),
        Value::String(ferrite_runtime::msg::new_msgid()),
    );
    Value::Object(map)
}

/// The contrib nodes' two outputs: `msg` with `payload` (the values; with a register map
/// also `blocks`), `responseBuffer`, `input` and `sendingNodeId`; then a message with the
/// raw response in `payload` and the values in `values`.
pub fn outputs(
    mut msg: Msg,
    values: Value,
    blocks: Option<Value>,
    response_buffer: Value,
    input: Value,
    node_id: &str,
) -> Vec<Option<Msg>> {
    let mut raw = Map::with_capacity(6);
    if let Some(topic) = msg.get("topic") {
        raw.insert("topic".to_owned(), topic.clone());
    }
    raw.insert("payload".to_owned(), response_buffer.clone());
    raw.insert("values".to_owned(), values.clone());
    if let Some(blocks) = &blocks {
        raw.insert("blocks".to_owned(), blocks.clone());
    }
    raw.insert("input".to_owned(), input.clone());
    raw.insert("sendingNodeId".to_owned(), Value::from(node_id));
    msg.insert("payload", values);
    if let Some(blocks) = blocks {
        msg.insert("blocks", blocks);
    }
    msg.insert("responseBuffer", response_buffer);
    msg.insert("input", input);
    msg.insert("sendingNodeId", node_id);
    vec![Some(msg), Some(Msg::from_map(raw))]
}

/// The contrib's `emptyMsgOnFail`: both outputs get the message with an empty payload and
/// the error.
pub fn empty_outputs(mut msg: Msg, error: &CallError) -> Vec<Option<Msg>> {
    let mut detail = Map::with_capacity(2);
    detail.insert("message".to_owned(), Value::String(error.to_string()));
    detail.insert("name".to_owned(), Value::String("Error".to_owned()));
    msg.insert("payload", "");
    msg.insert("error", Value::Object(detail));
    vec![Some(msg.clone()), Some(msg)]
}

/// The status a failed request leaves: the contrib's `timeout`, or what went wrong.
pub fn failure_status(error: &CallError) -> Status {
    match error {
        CallError::Timeout(_) => Status::ring("red", "timeout"),
        CallError::Exception(exception) => {
            Status::ring("red", format!("error: {}", exception.name()))
        }
        other => Status::ring("red", format!("error: {other}")),
    }
}

/// The status a node shows for its client's connection.
pub fn link_status(state: &ClientState) -> Status {
    match state.link {
        Link::Connected => Status::ring("green", "connected"),
        Link::Connecting => Status::ring("yellow", state.text()),
        Link::Disconnected => match &state.last_error {
            Some(error) => Status::ring("red", format!("disconnected: {error}")),
            None => Status::ring("red", "disconnected"),
        },
        Link::Closed => Status::ring("red", "closed"),
    }
}

/// Shows a node's client connection in its status.
#[derive(Default)]
pub struct LinkStatus(Option<JoinHandle<()>>);

impl LinkStatus {
    pub fn start(&mut self, client: &ModbusClient, cx: &NodeCtx) {
        self.0 = Some(follow(client, cx.event_sender()));
    }

    /// The status for `event` when it carries the client's state.
    pub fn status_of(event: &Event) -> Option<Status> {
        match event {
            Event::Custom(custom) => custom.downcast_ref::<ClientState>().map(link_status),
            _ => None,
        }
    }
}

impl Drop for LinkStatus {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
        }
    }
}

/// Forwards the client's connection state to a node as `Event::Custom(ClientState)`.
fn follow(client: &ModbusClient, events: EventSender) -> JoinHandle<()> {
    let mut state = client.state();
    tokio::spawn(async move {
        loop {
            let current = state.borrow_and_update().clone();
            if !events.send(Event::Custom(Box::new(current))) {
                return;
            }
            if state.changed().await.is_err() {
                return;
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_response_buffer_is_shaped_like_modbus_serial() {
        let registers = read_response_buffer(&[Response::Registers(vec![1, 0x0203])]);
        assert_eq!(
            registers.to_json_string(),
            r#"{"data":[1,515],"buffer":{"type":"Buffer","data":[0,1,2,3]}}"#
        );
        let bits = read_response_buffer(&[Response::Bits(vec![true, false, true])]);
        let Value::Object(map) = bits else {
            panic!("an object")
        };
        assert_eq!(
            map.get("data").map(Value::to_json_string).as_deref(),
            Some("[true,false,true,false,false,false,false,false]")
        );
    }

    #[test]
    fn unit_ids_come_as_numbers_or_text_and_empty_means_the_client_default() {
        let config = |v: Json| {
            let mut map = JsonMap::new();
            map.insert("unitid".to_owned(), v);
            map
        };
        assert_eq!(unit_id(&config(Json::from("")), "unitid"), Ok(None));
        assert_eq!(unit_id(&config(Json::from("7")), "unitid"), Ok(Some(7)));
        assert_eq!(unit_id(&config(Json::from(0)), "unitid"), Ok(Some(0)));
        assert!(unit_id(&config(Json::from(256)), "unitid").is_err());
        assert!(unit_id(&config(Json::from("x")), "unitid").is_err());
    }

    #[test]
    fn write_values_follow_the_contrib_conversions() {
        assert_eq!(write_value(&Value::from("true")), Value::Bool(true));
        assert_eq!(
            write_value(&Value::from("1,2,3")).to_json_string(),
            "[1,2,3]"
        );
        assert_eq!(
            write_request(6, 10, &Value::Int(-2)),
            Ok(Request::WriteRegister {
                address: 10,
                value: 0xFFFE
            })
        );
        assert_eq!(
            write_request(15, 0, &write_value(&Value::from("[true,false,1]"))),
            Ok(Request::WriteCoils {
                address: 0,
                values: vec![true, false, true]
            })
        );
        assert!(write_request(6, 0, &Value::Int(70000)).is_err());
        assert!(write_request(5, 0, &Value::from("on")).is_err());
        assert!(write_request(6, 0, &Value::Array(vec![])).is_err());
        assert!(write_request(3, 0, &Value::Int(1)).is_err());
    }

    #[test]
    fn whole_numbers_parse_like_parse_int() {
        assert_eq!(whole(Some(&Value::from("12abc"))), Some(12));
        assert_eq!(whole(Some(&Value::Float(3.9))), Some(3));
        assert_eq!(whole(Some(&Value::from("x"))), None);
        assert_eq!(whole(None), None);
    }
}
