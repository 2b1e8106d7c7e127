//! `modbus-flex-getter` — mirrors node-red-contrib-modbus's `modbus-flex-getter`
//! (`src/modbus-flex-getter.js`): reads what each input message asks for.
//!
//! Config keys: `server`, `emptyMsgOnFail`, `name`. Ignored: `showStatusActivities`,
//! `showErrors`, `showWarnings`, `logIOActivities`, `keepMsgProperties` (the input message
//! always travels on), `delayOnStart` / `startDelayTime`, the IO file keys.
//!
//! Reads `msg.payload` (an object or its JSON text): `fc` 1-4 (default 3), `unitid`
//! (default the client's), `address` (default 0), `quantity` (default 1), each a number or
//! its text, taken as the contrib's `parseInt` does. Invalid values are errors with the
//! message: "FC Not Valid", "Address Not Valid", "Quantity Not Valid" as in the contrib.
//! Output 1 is the input message with `payload` (the values), `responseBuffer`, `input`
//! and `sendingNodeId`; output 2 has the raw response in `payload` and `values`.

use ferrite_runtime::loose::json_bool;
use ferrite_runtime::{
    Build, BuildCtx, ConfigError, Event, Map, Msg, Node, NodeCtx, NodeDef, NodeError, Role, Value,
    async_trait,
};

use super::modbus::client::ModbusClient;
use super::modbus::flow;
use super::modbus::pdu::Area;
use super::modbus_getter::request_input;
use super::modbus_read::Reading;

pub const DEF: NodeDef = NodeDef {
    type_name: "modbus-flex-getter",
    category: "modbus",
    set_id: "node-red-contrib-modbus/modbus-flex-getter",
    role: Role::Plain,
    build: Build::Flow(build),
};

struct ModbusFlexGetter {
    client: ModbusClient,
    empty_msg_on_fail: bool,
    link: flow::LinkStatus,
}

fn build(cx: &mut BuildCtx<'_>) -> Result<Box<dyn Node>, ConfigError> {
    let client = flow::client(cx)?;
    Ok(Box::new(ModbusFlexGetter {
        client,
        empty_msg_on_fail: cx.raw().get("emptyMsgOnFail").is_some_and(json_bool),
        link: flow::LinkStatus::default(),
    }))
}

/// The read an input message asks for.
fn requested(payload: Option<&Value>) -> Result<(Reading, Value), String> {
    let parsed;
    let request = match payload {
        Some(Value::String(text)) => {
            parsed = serde_json::from_str::<serde_json::Value>(text)
                .map(Value::from)
                .map_err(|e| format!("msg.payload is not JSON: {e}"))?;
            &parsed
        }
        Some(value) => value,
        None => return Err("msg.payload is missing".to_owned()),
    };
    let Value::Object(fields) = request else {
        return Err("msg.payload must be {fc, unitid, address, quantity}".to_owned());
    };
    let fc = flow::whole(fields.get("fc"))
        .filter(|fc| *fc != 0)
        .unwrap_or(3);
    let area = match fc {
        1 => Area::Coils,
        2 => Area::DiscreteInputs,
        3 => Area::HoldingRegisters,
        4 => Area::InputRegisters,
        _ => return Err("FC Not Valid".to_owned()),
    };
    let address = flow::whole(fields.get("address")).unwrap_or(0);
    let address = u16::try_from(address).map_err(|_| "Address Not Valid".to_owned())?;
    let quantity = flow::whole(fields.get("quantity"))
        .filter(|q| *q != 0)
        .unwrap_or(1);
    let quantity = u16::try_from(quantity)
        .ok()
        .filter(|q| *q >= 1)
        .ok_or_else(|| "Quantity Not Valid".to_owned())?;
    let unit = match flow::whole(fields.get("unitid")) {
        None => None,
        Some(unit) => Some(u8::try_from(unit).map_err(|_| "Unit Id Not Valid".to_owned())?),
    };
    let reading = Reading::single(area, address, quantity, unit)?;
    let mut echo = Map::with_capacity(5);
    if let Some(value) = fields.get("value") {
        echo.insert("value".to_owned(), value.clone());
    }
    let input = flow::request_payload(unit, reading.fc(), &reading.address, &reading.quantity);
    if let Value::Object(described) = input {
        echo.extend(described);
    }
    Ok((reading, Value::Object(echo)))
}

#[async_trait]
impl Node for ModbusFlexGetter {
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
        let (reading, described) = match requested(msg.payload()) {
            Ok(request) => request,
            Err(why) => return Err(NodeError::new(why).for_msg(msg)),
        };
        let mut input_msg = msg.clone();
        if input_msg.get("topic").is_none() {
            input_msg.insert("topic", cx.id());
        }
        let input = request_input(&input_msg, described);
        reading
            .read_for(&self.client, msg, input, self.empty_msg_on_fail, cx)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(json: &str) -> Value {
        Value::from(serde_json::from_str::<serde_json::Value>(json).expect("json"))
    }

    #[test]
    fn requests_default_and_parse_like_the_contrib_node() {
        let (reading, _) = requested(Some(&payload(r#"{"address": "10"}"#))).expect("valid");
        assert_eq!(reading.fc(), 3);
        assert_eq!(reading.address, Value::Int(10));
        assert_eq!(reading.quantity, Value::Int(1));
        assert_eq!(reading.unit, None);
        let text = Value::from(r#"{"fc": 1, "unitid": 2, "address": 0, "quantity": 9}"#);
        let (reading, _) = requested(Some(&text)).expect("JSON text");
        assert_eq!((reading.fc(), reading.unit), (1, Some(2)));
    }

    #[test]
    fn invalid_requests_say_what_is_wrong() {
        let why = |json: &str| requested(Some(&payload(json))).err();
        assert_eq!(why(r#"{"fc": 5}"#).as_deref(), Some("FC Not Valid"));
        assert_eq!(
            why(r#"{"address": 70000}"#).as_deref(),
            Some("Address Not Valid")
        );
        assert_eq!(
            why(r#"{"quantity": -1}"#).as_deref(),
            Some("Quantity Not Valid")
        );
        assert!(requested(Some(&Value::from("not json"))).is_err());
        assert!(requested(None).is_err());
    }
}
