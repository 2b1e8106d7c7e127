//! `modbus-flex-write` — mirrors node-red-contrib-modbus's `modbus-flex-write`
//! (`src/modbus-flex-write.js`): writes what each input message describes.
//!
//! Config keys: `server`, `name`. Ignored: `showStatusActivities`, `showErrors`,
//! `showWarnings`, `emptyMsgOnFail`, `keepMsgProperties`, the IO file keys.
//!
//! Reads `msg.payload` (an object or its JSON text): `value` (a boolean or number, or an
//! array of them; text converted as on `modbus-write`), `fc` 5, 6, 15 or 16, `unitid`
//! (default the client's), `address` 0-65535, `quantity`. Invalid values are errors with
//! the message ("FC Not Valid", "Address Not Valid", or what is wrong with the value).
//! Outputs as `modbus-write`.

use ferrite_runtime::{
    Build, BuildCtx, ConfigError, Event, Msg, Node, NodeCtx, NodeDef, NodeError, Role, Value,
    async_trait,
};

use super::modbus::client::ModbusClient;
use super::modbus::flow;
use super::modbus_write::{describe, write_all};

pub const DEF: NodeDef = NodeDef {
    type_name: "modbus-flex-write",
    category: "modbus",
    set_id: "node-red-contrib-modbus/modbus-flex-write",
    role: Role::Plain,
    build: Build::Flow(build),
};

struct ModbusFlexWrite {
    client: ModbusClient,
    link: flow::LinkStatus,
}

fn build(cx: &mut BuildCtx<'_>) -> Result<Box<dyn Node>, ConfigError> {
    Ok(Box::new(ModbusFlexWrite {
        client: flow::client(cx)?,
        link: flow::LinkStatus::default(),
    }))
}

#[async_trait]
impl Node for ModbusFlexWrite {
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
        let parsed;
        let fields = match msg.payload() {
            Some(Value::Object(fields)) => fields,
            Some(Value::String(text)) => {
                parsed = serde_json::from_str::<serde_json::Value>(text)
                    .map(Value::from)
                    .map_err(|e| {
                        NodeError::new(format!("msg.payload is not JSON: {e}")).with_msg(&msg)
                    })?;
                match &parsed {
                    Value::Object(fields) => fields,
                    _ => {
                        return Err(NodeError::new(
                            "msg.payload must be {value, fc, unitid, address, quantity}",
                        )
                        .for_msg(msg));
                    }
                }
            }
            _ => {
                return Err(NodeError::new(
                    "msg.payload must be {value, fc, unitid, address, quantity}",
                )
                .for_msg(msg));
            }
        };
        let fc = flow::whole(fields.get("fc")).and_then(|fc| u8::try_from(fc).ok());
        let Some(fc @ (5 | 6 | 15 | 16)) = fc else {
            return Err(NodeError::new("FC Not Valid").for_msg(msg));
        };
        let Some(address) = flow::whole(fields.get("address")).and_then(|a| u16::try_from(a).ok())
        else {
            return Err(NodeError::new("Address Not Valid").for_msg(msg));
        };
        let unit = match flow::whole(fields.get("unitid")) {
            None => None,
            Some(unit) => match u8::try_from(unit) {
                Ok(unit) => Some(unit),
                Err(_) => return Err(NodeError::new("Unit Id Not Valid").for_msg(msg)),
            },
        };
        let value = flow::write_value(fields.get("value").unwrap_or(&Value::Null));
        let request = match flow::write_request(fc, address, &value) {
            Ok(request) => request,
            Err(why) => return Err(NodeError::new(why).for_msg(msg)),
        };
        let quantity = fields.get("quantity").cloned().unwrap_or(Value::Int(1));
        let described = describe(value, unit, fc, address, &quantity);
        write_all(&self.client, unit, &[request], msg, described, cx).await
    }
}
