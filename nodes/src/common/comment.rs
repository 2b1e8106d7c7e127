//! `comment` — mirrors Node-RED `@node-red/nodes/core/common/90-comment.js`.
//!
//! Config: `name`, `info` (markdown shown in the editor). No runtime behaviour: messages
//! that reach it (it has no input port in the editor) are ignored.

use ferrite_runtime::{
    Build, ConfigError, Msg, Node, NodeCtx, NodeDef, NodeError, Role, async_trait,
};

pub const DEF: NodeDef = NodeDef {
    type_name: "comment",
    category: "common",
    set_id: "node-red/comment",
    role: Role::Plain,
    build: Build::Flow(build),
};

struct Comment;

#[async_trait]
impl Node for Comment {
    async fn on_input(&mut self, _msg: Msg, _cx: &mut NodeCtx) -> Result<(), NodeError> {
        Ok(())
    }
}

fn build(_cx: &mut ferrite_runtime::BuildCtx<'_>) -> Result<Box<dyn Node>, ConfigError> {
    Ok(Box::new(Comment))
}
