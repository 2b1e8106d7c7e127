//! `modbus-client` — mirrors node-red-contrib-modbus's `modbus-client` config node
//! (`src/modbus-client.js`): one connection to a Modbus device or gateway, shared by every
//! `modbus-read`, `-getter`, `-flex-getter`, `-write` and `-flex-write` naming it in their
//! `server` key. It reads and writes no messages; flow nodes call its [`ModbusClient`].
//!
//! Config keys (the contrib node's; numbers may be numbers or numeric strings, as exported
//! flows hold them; an empty value takes the default):
//! * `clienttype` — `tcp` (default), `simpleser` or `serial` (both: RTU on a serial port).
//! * `tcpHost` (`127.0.0.1`), `tcpPort` (502), `tcpType` — `DEFAULT` (Modbus TCP),
//!   `TCP-RTU-BUFFERED` (also the contrib editor's spelling `TPC-RTU-BUFFERED`) or `TELNET`
//!   (RTU frames over TCP); `UDP` and `C701` are refused.
//! * `serialPort` (`/dev/ttyUSB`), `serialType` — `RTU-BUFFERD` (sic) or `RTU`; `ASCII` is
//!   refused. `serialBaudrate` (9600), `serialDatabits` 5-8 (8), `serialStopbits` 1 or 2
//!   (1; 1.5 is refused: Linux serial ports cannot do it), `serialParity` `none` | `even` |
//!   `odd` (`mark` and `space` are refused: the serial driver used does not offer them),
//!   `serialConnectionDelay` (100 ms pause after opening the port).
//! * `unit_id` 0-255 (1): the unit of requests that name none (0 is valid: many TCP
//!   devices answer on it).
//! * `commandDelay` (1 ms): pause between requests when they go one at a time.
//! * `clientTimeout` (1000 ms): how long an answer may take.
//! * `reconnectTimeout` (2000 ms): first pause before reconnecting; it doubles up to 30 s.
//! * `parallelUnitIdsAllowed` (true): on Modbus TCP, one outstanding request per unit at the
//!   same time, answers matched by transaction id; off, and always on RTU, one at a time.
//!
//! Ferrite's extension keys: `queueLimit` (64 requests waiting per unit; more are refused),
//! `degradeAfter` (3 consecutive timeouts suspend a unit; 0: never), `degradeFor`
//! (10000 ms a suspended unit's requests fail at once, then one probe goes out).
//!
//! Ignored keys, and why: `name`; `bufferCommands` (requests are always queued, per unit
//! and bounded); `reconnectOnTimeout` (a timeout never drops the connection: a late answer
//! is dropped by transaction id, or discarded on RTU, so other units' requests are not
//! failed as in contrib issue #409); `serialAsciiResponseStartDelimiter` (ASCII is not
//! supported); `stateLogEnabled`, `queueLogEnabled`, `failureLogEnabled`, `showErrors`,
//! `showWarnings`, `showLogs` (logging is configured for the whole runtime).

use std::sync::Arc;
use std::time::Duration;

use ferrite_runtime::loose::json_bool;
use ferrite_runtime::{Build, BuildCtx, ConfigError, ConfigNode, NodeDef, Role};
use serde_json::{Map, Value as Json};

use super::modbus::client::{ClientOptions, ModbusClient, Parity, Transport};
use super::modbus::flow::config_whole;

pub const DEF: NodeDef = NodeDef {
    type_name: "modbus-client",
    category: "config",
    set_id: "node-red-contrib-modbus/modbus-client",
    role: Role::Plain,
    build: Build::Config(build),
};

/// The config node flow nodes reach with `cx.config_node::<ModbusClientNode>("server")`.
#[derive(Clone)]
pub struct ModbusClientNode {
    client: ModbusClient,
}

impl ModbusClientNode {
    pub fn client(&self) -> &ModbusClient {
        &self.client
    }
}

#[ferrite_runtime::async_trait]
impl ConfigNode for ModbusClientNode {
    async fn close(&self) {
        self.client.close().await;
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

fn build(cx: &mut BuildCtx<'_>) -> Result<Arc<dyn ConfigNode>, ConfigError> {
    let options = options(cx.raw())?;
    Ok(Arc::new(ModbusClientNode {
        client: ModbusClient::start(options, cx.id().to_owned()),
    }))
}

fn text<'a>(config: &'a Map<String, Json>, key: &str, default: &'a str) -> &'a str {
    match config.get(key).and_then(Json::as_str).map(str::trim) {
        Some(s) if !s.is_empty() => s,
        _ => default,
    }
}

/// A whole number in `range` given as a number or its text; the default when absent or empty.
fn whole(
    config: &Map<String, Json>,
    key: &str,
    range: std::ops::RangeInclusive<u64>,
    default: u64,
) -> Result<u64, ConfigError> {
    Ok(config_whole(config, key, range)?.unwrap_or(default))
}

fn millis(config: &Map<String, Json>, key: &str, default: u64) -> Result<Duration, ConfigError> {
    // A day: longer is surely a typo, and keeps Instant arithmetic far from overflow.
    whole(config, key, 0..=86_400_000, default).map(Duration::from_millis)
}

fn flag(config: &Map<String, Json>, key: &str, default: bool) -> bool {
    config.get(key).map_or(default, json_bool)
}

/// The client options a `modbus-client` config describes; `ConfigError` names the key at
/// fault.
pub fn options(config: &Map<String, Json>) -> Result<ClientOptions, ConfigError> {
    let transport = match text(config, "clienttype", "tcp") {
        "tcp" => tcp(config)?,
        "simpleser" | "serial" => serial(config)?,
        other => {
            return Err(ConfigError::field(
                "clienttype",
                format!("\"{other}\" is not a client type: use tcp, simpleser or serial"),
            ));
        }
    };
    let mut options = ClientOptions::new(transport);
    options.default_unit = whole(config, "unit_id", 0..=255, 1)? as u8;
    options.timeout = millis(config, "clientTimeout", 1000)?;
    if options.timeout.is_zero() {
        return Err(ConfigError::field(
            "clientTimeout",
            "must be more than 0 ms",
        ));
    }
    options.reconnect_delay = millis(config, "reconnectTimeout", 2000)?;
    options.command_delay = millis(config, "commandDelay", 1)?;
    options.open_delay = millis(config, "serialConnectionDelay", 100)?;
    options.parallel_units = flag(config, "parallelUnitIdsAllowed", true);
    options.queue_limit = whole(config, "queueLimit", 1..=100_000, 64)? as usize;
    options.degrade_after = whole(config, "degradeAfter", 0..=1_000_000, 3)? as u32;
    options.degrade_for = millis(config, "degradeFor", 10_000)?;
    Ok(options)
}

fn tcp(config: &Map<String, Json>) -> Result<Transport, ConfigError> {
    let host = text(config, "tcpHost", "127.0.0.1").to_owned();
    let port = whole(config, "tcpPort", 1..=65535, 502)? as u16;
    match text(config, "tcpType", "DEFAULT") {
        "DEFAULT" => Ok(Transport::Tcp { host, port }),
        // The contrib's own editor saves "TPC-RTU-BUFFERED" (its typo), so exported flows
        // carry that spelling.
        "TCP-RTU-BUFFERED" | "TPC-RTU-BUFFERED" | "TELNET" => {
            Ok(Transport::RtuOverTcp { host, port })
        }
        other @ ("UDP" | "C701") => Err(ConfigError::field(
            "tcpType",
            format!(
                "{other} is not supported: use DEFAULT (Modbus TCP) or TCP-RTU-BUFFERED (RTU over TCP)"
            ),
        )),
        other => Err(ConfigError::field(
            "tcpType",
            format!("\"{other}\" is not a TCP type: use DEFAULT, TCP-RTU-BUFFERED or TELNET"),
        )),
    }
}

fn serial(config: &Map<String, Json>) -> Result<Transport, ConfigError> {
    match text(config, "serialType", "RTU-BUFFERD") {
        "RTU-BUFFERD" | "RTU" => {}
        "ASCII" => {
            return Err(ConfigError::field(
                "serialType",
                "Modbus ASCII is not supported: use RTU",
            ));
        }
        other => {
            return Err(ConfigError::field(
                "serialType",
                format!("\"{other}\" is not a serial type: use RTU-BUFFERD or RTU"),
            ));
        }
    }
    let parity = match text(config, "serialParity", "none") {
        "none" => Parity::None,
        "even" => Parity::Even,
        "odd" => Parity::Odd,
        other @ ("mark" | "space") => {
            return Err(ConfigError::field(
                "serialParity",
                format!("{other} parity is not supported: use none, even or odd"),
            ));
        }
        other => {
            return Err(ConfigError::field(
                "serialParity",
                format!("\"{other}\" is not a parity: use none, even or odd"),
            ));
        }
    };
    let stop_bits = whole(config, "serialStopbits", 1..=2, 1).map_err(|_| {
        ConfigError::field(
            "serialStopbits",
            "use 1 or 2 stop bits (1.5 is not supported)",
        )
    })?;
    Ok(Transport::Serial {
        path: text(config, "serialPort", "/dev/ttyUSB").to_owned(),
        baud: whole(config, "serialBaudrate", 1..=4_000_000, 9600)? as u32,
        data_bits: whole(config, "serialDatabits", 5..=8, 8)? as u8,
        parity,
        stop_bits: stop_bits as u8,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn config(value: Json) -> Map<String, Json> {
        value.as_object().cloned().unwrap_or_default()
    }

    fn error_field(value: Json) -> String {
        match options(&config(value)) {
            Err(ConfigError::Field { field, .. }) => field,
            other => panic!(
                "expected a field error, got {:?}",
                other.map(|o| o.transport)
            ),
        }
    }

    /// An empty config takes the contrib node's defaults.
    #[test]
    fn defaults_are_the_contrib_nodes() {
        let options = options(&Map::new()).expect("valid");
        assert_eq!(
            options.transport,
            Transport::Tcp {
                host: "127.0.0.1".into(),
                port: 502
            }
        );
        assert_eq!(options.default_unit, 1);
        assert_eq!(options.timeout, Duration::from_millis(1000));
        assert_eq!(options.reconnect_delay, Duration::from_millis(2000));
        assert_eq!(options.command_delay, Duration::from_millis(1));
        assert!(options.parallel_units);
        assert_eq!(options.queue_limit, 64);
        assert_eq!(options.degrade_after, 3);
        assert_eq!(options.degrade_for, Duration::from_millis(10_000));
    }

    /// Numbers are taken as numbers or numeric strings, as exported flows hold them, and
    /// unit id 0 is valid.
    #[test]
    fn numbers_may_be_numeric_strings() {
        let options = options(&config(json!({
            "tcpHost": "10.0.0.5", "tcpPort": "1502", "unit_id": "0", "clientTimeout": "250",
            "reconnectTimeout": 500, "commandDelay": "5", "parallelUnitIdsAllowed": false,
            "queueLimit": "8", "degradeAfter": "0", "degradeFor": "60000", "tcpType": "TELNET"
        })))
        .expect("valid");
        assert_eq!(
            options.transport,
            Transport::RtuOverTcp {
                host: "10.0.0.5".into(),
                port: 1502
            }
        );
        assert_eq!(options.default_unit, 0);
        assert_eq!(options.timeout, Duration::from_millis(250));
        assert_eq!(options.reconnect_delay, Duration::from_millis(500));
        assert_eq!(options.command_delay, Duration::from_millis(5));
        assert!(!options.parallel_units);
        assert_eq!((options.queue_limit, options.degrade_after), (8, 0));
        assert_eq!(options.degrade_for, Duration::from_secs(60));
    }

    /// Flows exported from the contrib's editor spell RTU over TCP "TPC-RTU-BUFFERED".
    #[test]
    fn the_contrib_editors_rtu_over_tcp_spelling_is_accepted() {
        let options = options(&config(
            json!({"tcpType": "TPC-RTU-BUFFERED", "tcpPort": 5020}),
        ))
        .expect("valid");
        assert!(matches!(
            options.transport,
            Transport::RtuOverTcp { port: 5020, .. }
        ));
    }

    /// A serial config gives its port settings.
    #[test]
    fn serial_settings_are_read() {
        let options = options(&config(json!({
            "clienttype": "simpleser", "serialPort": "/dev/ttyS1", "serialBaudrate": "19200",
            "serialDatabits": "7", "serialStopbits": "2", "serialParity": "even", "serialType": "RTU"
        })))
        .expect("valid");
        assert_eq!(
            options.transport,
            Transport::Serial {
                path: "/dev/ttyS1".into(),
                baud: 19200,
                data_bits: 7,
                parity: Parity::Even,
                stop_bits: 2
            }
        );
    }

    /// Bad or unsupported settings are refused naming their key.
    #[test]
    fn bad_settings_name_their_key() {
        let cases = [
            (json!({"clienttype": "udp"}), "clienttype"),
            (json!({"tcpType": "UDP"}), "tcpType"),
            (json!({"tcpType": "C701"}), "tcpType"),
            (json!({"tcpPort": "0"}), "tcpPort"),
            (json!({"tcpPort": 70000}), "tcpPort"),
            (json!({"unit_id": 256}), "unit_id"),
            (json!({"unit_id": "one"}), "unit_id"),
            (json!({"clientTimeout": 0}), "clientTimeout"),
            (json!({"clientTimeout": -5}), "clientTimeout"),
            (json!({"queueLimit": 0}), "queueLimit"),
            (
                json!({"clienttype": "serial", "serialType": "ASCII"}),
                "serialType",
            ),
            (
                json!({"clienttype": "serial", "serialParity": "mark"}),
                "serialParity",
            ),
            (
                json!({"clienttype": "serial", "serialParity": "space"}),
                "serialParity",
            ),
            (
                json!({"clienttype": "serial", "serialStopbits": "1.5"}),
                "serialStopbits",
            ),
            (
                json!({"clienttype": "serial", "serialDatabits": 9}),
                "serialDatabits",
            ),
            (
                json!({"clienttype": "serial", "serialBaudrate": "fast"}),
                "serialBaudrate",
            ),
        ];
        for (value, key) in cases {
            assert_eq!(error_field(value.clone()), key, "{value}");
        }
    }
}
