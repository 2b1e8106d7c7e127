//! The test helper: Ferrite's node table plus the `helper` node (runtime `testing` feature).

use ferrite_runtime::testing::TestFlow;
use serde_json::Value as Json;

/// Loads a flow with every Ferrite node type, like `helper.load(nodes, flow)`.
pub async fn load(flow: Json) -> TestFlow {
    TestFlow::load(&[ferrite_nodes::ALL], flow).await
}
