//! `rhai` — the function node, scripted in Rhai.

mod plc;

use ferrite_runtime::{
    Build, BuildCtx, ConfigError, Msg, Node, NodeCtx, NodeDef, NodeError, Role, async_trait,
};

pub const DEF: NodeDef = NodeDef {
    type_name: "rhai",
    category: "function",
    set_id: "ferrite/rhai",
    role: Role::Plain,
    build: Build::Flow(build),
};

struct Rhai;

fn build(_cx: &mut BuildCtx<'_>) -> Result<Box<dyn Node>, ConfigError> {
    let _ = plc::register;
    Ok(Box::new(Rhai))
}

#[async_trait]
impl Node for Rhai {
    async fn on_input(&mut self, msg: Msg, cx: &mut NodeCtx) -> Result<(), NodeError> {
        cx.send(msg).await;
        Ok(())
    }
}
