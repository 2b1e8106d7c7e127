//! `modbus-server` — mirrors node-red-contrib-modbus 5.x `modbus-server.js` (with
//! `core/modbus-server-core.js`): a simulated Modbus device with coils, discrete inputs,
//! holding and input registers that clients read and write over TCP and flows write with
//! input messages. Backed by `industrial::modbus::server`.
//!
//! Config (numbers may be numbers or numeric strings, as exported flows carry them):
//! * `hostname` — address to listen on (default `0.0.0.0`); `serverPort` — port (default
//!   10502; 0 picks a free port, shown in the status).
//! * `responseDelay` (default 100) with `delayUnit` `ms` (default) | `s` | `m` | `h`: how long
//!   after a request its answer is sent. The server keeps reading meanwhile; answers on one
//!   connection keep the order of their requests.
//! * `coilsBufferSize`, `holdingBufferSize`, `inputBufferSize`, `discreteBufferSize`
//!   (default 10000 each, at most 65536): how many items each area holds. The contrib node
//!   allocates `size * 8` bytes per area; here the size is the number of addressable items
//!   and requests beyond it answer exception 2 (illegal data address).
//! * `showErrors` — also report an input message that is neither a memory write nor a unit
//!   switch as a node error ("Is Not A Valid Memory Write Message To Server").
//! * `name`, `logEnabled` (accepted; connection events are logged at debug level).
//! * Ferrite extensions: `transport` `tcp` (default, Modbus TCP) or `rtu-over-tcp` (RTU
//!   frames with CRC over the TCP socket, for testing RTU clients); `unitIds` — the unit ids
//!   answered, as `"1,2,5"` or an array (empty: every unit id, as the contrib server).
//!
//! Served: FC 1-6, 15 and 16; any other function code answers exception 1, addresses beyond
//! an area exception 2, bad quantities, coil values or byte counts exception 3.
//!
//! Input, `msg.payload`:
//! * `{value, register, address, disableMsgOutput}` writes `value` (a number, boolean or
//!   numeric string, or an array of them) from `address` on into `register` (`holding`,
//!   `coils`, `input` or `discrete`, any case). Register values are truncated to integers
//!   (`parseInt`) and must lie in -32768..=65535 (negatives are stored as two's complement);
//!   in a bit area a value is true when not 0. The contrib node writes arrays byte by byte
//!   at `address * 8`; here an array writes one item per element at `address`.
//! * Extension `{unitId, online}`: `online: false` takes the unit off line (its requests get
//!   no answer at all, like a dead device behind a gateway; other units keep answering),
//!   `online: true` brings it back. Sends nothing.
//! * Any other payload only triggers the outputs (the contrib node's way to read the memory).
//!
//! A write the memory cannot take (unknown register, address or values out of range) is a
//! node error carrying the message, and nothing is written.
//!
//! Outputs (as the contrib node, after each input message unless
//! `msg.payload.disableMsgOutput` is true; client requests send nothing):
//! 1. `{type: "holding", message: <input msg>, payload: <buffer>}`; outputs 2, 3 and 4 the
//!    same with `coils`, `input` and `discrete`: each area as jsmodbus lays it out
//!    (registers two bytes high byte first; bits eight to a byte, lowest address in the
//!    least significant bit).
//! 5. `{payload: "request", type: "message", message: <input msg>}`.
//!
//! Status: green dot `active (port N)` once listening (the contrib node shows `initialized`
//! until a client connects); red ring `error` and a node error naming the address and port
//! when the port cannot be bound.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use ferrite_runtime::{
    Build, BuildCtx, ConfigError, Msg, Node, NodeCtx, NodeDef, NodeError, Role, Status, Value,
    async_trait,
};
use serde_json::{Map as JsonMap, Value as Json};

use super::modbus::pdu::Area;
use super::modbus::server::{
    Device, MAX_SIZE, ModbusServer, ServerConfig, ServerTransport, Sizes, area_name,
};

pub const DEF: NodeDef = NodeDef {
    type_name: "modbus-server",
    category: "modbus",
    set_id: "node-red-contrib-modbus/modbus-server",
    role: Role::Plain,
    build: Build::Flow(build),
};

/// The order of the first four outputs.
const OUTPUT_AREAS: [Area; 4] = [
    Area::HoldingRegisters,
    Area::Coils,
    Area::InputRegisters,
    Area::DiscreteInputs,
];

struct ModbusServerNode {
    config: ServerConfig,
    device: Arc<Device>,
    show_errors: bool,
    server: Option<ModbusServer>,
}

fn build(cx: &mut BuildCtx<'_>) -> Result<Box<dyn Node>, ConfigError> {
    let raw = cx.raw();
    let host = match raw.get("hostname").and_then(Json::as_str).map(str::trim) {
        Some(host) if !host.is_empty() => host.to_owned(),
        _ => "0.0.0.0".to_owned(),
    };
    let port = integer(raw, "serverPort", 10502, 0, u64::from(u16::MAX))?;
    let delay = integer(raw, "responseDelay", 100, 0, u64::from(u32::MAX))?;
    let unit = match raw.get("delayUnit").and_then(Json::as_str).unwrap_or("") {
        "" | "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        other => {
            return Err(ConfigError::field(
                "delayUnit",
                format!("{other:?} is not one of ms, s, m, h"),
            ));
        }
    };
    let size = |key: &str| -> Result<usize, ConfigError> {
        let size = integer(raw, key, 10000, 0, MAX_SIZE as u64)?;
        usize::try_from(size).map_err(|e| ConfigError::field(key, e))
    };
    let sizes = Sizes {
        coils: size("coilsBufferSize")?,
        discrete: size("discreteBufferSize")?,
        holding: size("holdingBufferSize")?,
        input: size("inputBufferSize")?,
    };
    let transport = match raw.get("transport").and_then(Json::as_str).unwrap_or("") {
        "" | "tcp" => ServerTransport::Tcp,
        "rtu-over-tcp" => ServerTransport::RtuOverTcp,
        other => {
            return Err(ConfigError::field(
                "transport",
                format!("{other:?} is not tcp or rtu-over-tcp"),
            ));
        }
    };
    let units = unit_ids(raw.get("unitIds"))?;
    Ok(Box::new(ModbusServerNode {
        config: ServerConfig {
            host,
            port: u16::try_from(port).map_err(|e| ConfigError::field("serverPort", e))?,
            transport,
            response_delay: Duration::from_millis(delay.saturating_mul(unit)),
            node_id: cx.id().to_owned(),
        },
        device: Arc::new(Device::new(sizes, units)),
        show_errors: raw
            .get("showErrors")
            .is_some_and(ferrite_runtime::loose::json_bool),
        server: None,
    }))
}

/// A whole number in `min..=max` from a number or its text; missing or empty: `default`.
fn integer(
    raw: &JsonMap<String, Json>,
    key: &str,
    default: u64,
    min: u64,
    max: u64,
) -> Result<u64, ConfigError> {
    let value = match raw.get(key) {
        None | Some(Json::Null) => return Ok(default),
        Some(Json::String(s)) if s.trim().is_empty() => return Ok(default),
        Some(v) => v,
    };
    ferrite_runtime::loose::json_f64(value)
        .filter(|f| f.fract() == 0.0 && *f >= min as f64 && *f <= max as f64)
        .map(|f| f as u64)
        .ok_or_else(|| {
            ConfigError::field(
                key,
                format!("{value} is not a whole number in {min}..={max}"),
            )
        })
}

/// `unitIds`: `"1,2,5"` or `[1, 2, 5]`; empty or missing: every unit id (`None`).
fn unit_ids(value: Option<&Json>) -> Result<Option<BTreeSet<u8>>, ConfigError> {
    let bad = |item: &dyn std::fmt::Display| {
        ConfigError::field("unitIds", format!("{item} is not a unit id (0-255)"))
    };
    let parse = |item: &Json| -> Result<u8, ConfigError> {
        ferrite_runtime::loose::json_f64(item)
            .filter(|f| f.fract() == 0.0 && (0.0..=255.0).contains(f))
            .map(|f| f as u8)
            .ok_or_else(|| bad(item))
    };
    let units = match value {
        None | Some(Json::Null) => BTreeSet::new(),
        Some(Json::String(text)) => text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| parse(&Json::String(s.to_owned())))
            .collect::<Result<_, _>>()?,
        Some(Json::Array(items)) => items.iter().map(parse).collect::<Result<_, _>>()?,
        Some(other) => vec![parse(other)?].into_iter().collect(),
    };
    Ok((!units.is_empty()).then_some(units))
}

/// What an input message asks for.
enum Command {
    Write {
        area: Area,
        address: usize,
        values: Vec<u16>,
    },
    SetOnline {
        unit: u8,
        online: bool,
    },
    /// Only send the outputs.
    Outputs,
}

fn command(payload: Option<&Value>) -> Result<Command, String> {
    let Some(Value::Object(payload)) = payload else {
        return Ok(Command::Outputs);
    };
    if let Some(register) = payload.get("register") {
        let area = match register.as_str().map(str::to_ascii_lowercase).as_deref() {
            Some("holding") => Area::HoldingRegisters,
            Some("coils") => Area::Coils,
            Some("input") => Area::InputRegisters,
            Some("discrete") => Area::DiscreteInputs,
            _ => {
                return Err(format!(
                    "msg.payload.register {} is not holding, coils, input or discrete",
                    register.to_json_string()
                ));
            }
        };
        let address = payload
            .get("address")
            .map(Value::to_number)
            .filter(|f| f.fract() == 0.0 && (0.0..=65535.0).contains(f))
            .ok_or_else(|| {
                format!(
                    "msg.payload.address {} is not an address (0-65535)",
                    payload
                        .get("address")
                        .map_or("undefined".into(), Value::to_json_string)
                )
            })? as usize;
        let values = match payload.get("value") {
            Some(Value::Array(items)) => items.iter().map(word).collect::<Result<_, _>>()?,
            Some(value) => vec![word(value)?],
            None => return Err("msg.payload.value is missing".to_owned()),
        };
        return Ok(Command::Write {
            area,
            address,
            values,
        });
    }
    if let Some(online) = payload.get("online") {
        let online = online.as_bool().ok_or_else(|| {
            format!(
                "msg.payload.online {} is not true or false",
                online.to_json_string()
            )
        })?;
        let unit = payload
            .get("unitId")
            .map(Value::to_number)
            .filter(|f| f.fract() == 0.0 && (0.0..=255.0).contains(f))
            .ok_or("msg.payload.unitId is not a unit id (0-255)")? as u8;
        return Ok(Command::SetOnline { unit, online });
    }
    Ok(Command::Outputs)
}

/// A value as the memory stores it: `parseInt` of numbers and their text, booleans as 0/1.
fn word(value: &Value) -> Result<u16, String> {
    let number = match value {
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::Int(_) | Value::Float(_) | Value::String(_) => value.to_number().trunc(),
        _ => f64::NAN,
    };
    if (-32768.0..=65535.0).contains(&number) {
        // Negative values are stored as their 16-bit two's complement.
        Ok((number as i32 as u32 & 0xFFFF) as u16)
    } else {
        Err(format!(
            "value {} is not a number in -32768..=65535",
            value.to_json_string()
        ))
    }
}

impl ModbusServerNode {
    /// The contrib node's five output messages.
    async fn send_outputs(&self, msg: &Msg, cx: &mut NodeCtx) {
        let snapshots = self
            .device
            .with_memory(|memory| OUTPUT_AREAS.map(|area| memory.snapshot(area)));
        let mut outputs: Vec<Option<Msg>> = OUTPUT_AREAS
            .iter()
            .zip(snapshots)
            .map(|(area, bytes)| {
                let mut out = Msg::new();
                out.insert("type", area_name(*area));
                out.insert("message", msg.as_value().clone());
                out.insert("payload", Value::Bytes(bytes));
                Some(out)
            })
            .collect();
        let mut request = Msg::new();
        request.insert("payload", "request");
        request.insert("type", "message");
        request.insert("message", msg.as_value().clone());
        outputs.push(Some(request));
        cx.send_ports(outputs).await;
    }
}

#[async_trait]
impl Node for ModbusServerNode {
    async fn on_start(&mut self, cx: &mut NodeCtx) -> Result<(), NodeError> {
        match ModbusServer::start(self.config.clone(), Arc::clone(&self.device)).await {
            Ok(server) => {
                let port = server.local_addr().port();
                cx.log(&format!(
                    "Modbus server listening on modbus://{}:{port}",
                    self.config.host
                ));
                cx.status(Status::dot("green", format!("active (port {port})")))
                    .await;
                self.server = Some(server);
                Ok(())
            }
            Err(e) => {
                cx.status(Status::ring("red", "error")).await;
                Err(NodeError::new(e.to_string()))
            }
        }
    }

    async fn on_input(&mut self, msg: Msg, cx: &mut NodeCtx) -> Result<(), NodeError> {
        let command = match command(msg.payload()) {
            Ok(command) => command,
            Err(why) => return Err(NodeError::new(why).for_msg(msg)),
        };
        match command {
            Command::Write {
                area,
                address,
                values,
            } => {
                let stored = self
                    .device
                    .with_memory(|memory| memory.store(area, address, &values));
                if let Err(e) = stored {
                    return Err(NodeError::new(e.to_string()).for_msg(msg));
                }
            }
            Command::SetOnline { unit, online } => {
                self.device.set_online(unit, online);
                return Ok(());
            }
            Command::Outputs => {
                if self.show_errors {
                    cx.report_error(
                        NodeError::new("Is Not A Valid Memory Write Message To Server")
                            .with_msg(&msg),
                    )
                    .await;
                }
            }
        }
        let quiet = matches!(msg.payload(), Some(Value::Object(p))
            if p.get("disableMsgOutput").is_some_and(Value::is_truthy));
        if !quiet {
            self.send_outputs(&msg, cx).await;
        }
        Ok(())
    }

    async fn on_close(&mut self, _removed: bool, _cx: &mut NodeCtx) {
        if let Some(server) = self.server.take() {
            server.close().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// register values are truncated like parseInt and negatives wrap to 16 bits
    #[test]
    fn register_values_are_truncated_like_parse_int_and_negatives_wrap() {
        assert_eq!(word(&Value::Float(12.7)), Ok(12));
        assert_eq!(word(&Value::Int(-1)), Ok(0xFFFF));
        assert_eq!(word(&Value::String("42".into())), Ok(42));
        assert_eq!(word(&Value::Bool(true)), Ok(1));
        assert!(word(&Value::Int(65536)).is_err());
        assert!(word(&Value::String("x".into())).is_err());
        assert!(word(&Value::Null).is_err());
    }

    /// unit ids are read from text or arrays and empty means every unit
    #[test]
    fn unit_ids_are_read_from_text_or_arrays_and_empty_means_every_unit() {
        let set = |ids: &[u8]| Some(ids.iter().copied().collect::<BTreeSet<u8>>());
        assert_eq!(unit_ids(Some(&Json::from("1, 2,5"))), Ok(set(&[1, 2, 5])));
        assert_eq!(
            unit_ids(Some(&serde_json::json!([3, "4"]))),
            Ok(set(&[3, 4]))
        );
        assert_eq!(unit_ids(Some(&Json::from(""))), Ok(None));
        assert_eq!(unit_ids(None), Ok(None));
        assert!(unit_ids(Some(&Json::from("1,300"))).is_err());
    }
}
