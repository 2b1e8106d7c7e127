//! Node-RED's "common" palette: inject, debug, complete, catch, status, link, comment,
//! junction, and the `global-config` node.

pub mod catch;
pub mod comment;
pub mod complete;
pub mod debug;
pub mod global_config;
pub mod inject;
pub mod junction;
pub mod link;
pub mod status;

use ferrite_runtime::{Msg, Node, NodeCtx, NodeError, async_trait};

/// Sends every message on unchanged: junction, link in, catch, status and complete all
/// pass through what reaches them (the runtime decides what does).
#[derive(Debug, Default)]
pub struct PassOn;

#[async_trait]
impl Node for PassOn {
    async fn on_input(&mut self, msg: Msg, cx: &mut NodeCtx) -> Result<(), NodeError> {
        cx.send(msg).await;
        Ok(())
    }
}
