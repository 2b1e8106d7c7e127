//! Port of Node-RED test/nodes/core/common/90-comment_spec.js.

use serde_json::json;

use crate::harness;

/// should be loaded
#[tokio::test]
async fn should_be_loaded() {
    let flow = harness::load(json!([{"id": "n1", "type": "comment", "name": "comment"}])).await;
    assert!(flow.report().is_clean(), "{}", flow.report());
    assert!(
        flow.runtime()
            .running_ids()
            .await
            .contains(&"n1".to_owned())
    );
    flow.unload().await;
}
