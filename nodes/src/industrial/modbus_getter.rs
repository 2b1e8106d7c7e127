//! `modbus-getter` — mirrors node-red-contrib-modbus's `modbus-getter`
//! (`src/modbus-getter.js`): reads on every input message what its config names.
//!
//! Config keys: `server`, `unitid`, `dataType`, `adr`, `quantity` as on `modbus-read`
//! (and its register-map keys `points`, `maxGap`, several blocks); `emptyMsgOnFail`;
//! `name`. Ignored: `showStatusActivities`, `showErrors`, `showWarnings`,
//! `logIOActivities`, `keepMsgProperties` (the input message always travels on), the IO
//! file keys.
//!
//! Reads nothing of the input message but its `topic`; output 1 is the input message with
//! `payload` (the values, or `{name: value}` and `blocks` with a register map),
//! `responseBuffer`, `input` (the request) and `sendingNodeId`; output 2 carries the raw
//! response in `payload` and the values in `values`. A failed read is an error with the
//! message (and, with `emptyMsgOnFail`, the message with an empty payload on both outputs).

use ferrite_runtime::loose::json_bool;
use ferrite_runtime::{
    Build, BuildCtx, ConfigError, Event, Map, Msg, Node, NodeCtx, NodeDef, NodeError, Role, Value,
    async_trait,
};

use super::modbus::client::ModbusClient;
use super::modbus::flow;
use super::modbus_read::Reading;

pub const DEF: NodeDef = NodeDef {
    type_name: "modbus-getter",
    category: "modbus",
    set_id: "node-red-contrib-modbus/modbus-getter",
    role: Role::Plain,
    build: Build::Flow(build),
};

struct ModbusGetter {
    client: ModbusClient,
    reading: Reading,
    empty_msg_on_fail: bool,
    link: flow::LinkStatus,
}

fn build(cx: &mut BuildCtx<'_>) -> Result<Box<dyn Node>, ConfigError> {
    let client = flow::client(cx)?;
    let config = cx.raw();
    Ok(Box::new(ModbusGetter {
        client,
        reading: Reading::from_config(config)?,
        empty_msg_on_fail: config.get("emptyMsgOnFail").is_some_and(json_bool),
        link: flow::LinkStatus::default(),
    }))
}

/// The request message the contrib getters build (`msg.input`).
pub(super) fn request_input(msg: &Msg, payload: Value) -> Value {
    let mut map = Map::with_capacity(2);
    if let Some(topic) = msg.get("topic") {
        map.insert("topic".to_owned(), topic.clone());
    }
    map.insert("payload".to_owned(), payload);
    Value::Object(map)
}

#[async_trait]
impl Node for ModbusGetter {
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
        let reading = &self.reading;
        let input = request_input(
            &msg,
            flow::request_payload(
                reading.unit,
                reading.fc(),
                &reading.address,
                &reading.quantity,
            ),
        );
        reading
            .read_for(&self.client, msg, input, self.empty_msg_on_fail, cx)
            .await
    }
}
