//! Every example flow under flows/ loads with zero deploy issues, and every node type it
//! uses is registered.

use std::path::Path;

use ferrite_runtime::flows::raw::parse_flows_text;
use ferrite_runtime::{Registry, Runtime, Settings};

#[tokio::test]
async fn every_flow_in_the_flows_directory_loads_without_issues() {
    let registry = std::sync::Arc::new(Registry::new([ferrite_nodes::ALL]).expect("unique types"));
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("flows");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).expect("flows/ exists") {
        let path = entry.expect("readable").path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("readable");
        let items = parse_flows_text(&text).unwrap_or_else(|r| panic!("{}: {r}", path.display()));
        let runtime = Runtime::new(std::sync::Arc::clone(&registry), Settings::default())
            .await
            .expect("runtime");
        // Checked, not started: a flow's listeners (the demo's MQTT broker) would race with
        // the tests that run it.
        let report = runtime.check(&items);
        assert!(report.is_clean(), "{}: {report}", path.display());
        runtime.stop().await;
        checked += 1;
    }
    assert!(checked > 0, "no flows found in {}", dir.display());
}

#[test]
fn registered_type_names_are_unique() {
    assert!(Registry::new([ferrite_nodes::ALL]).is_ok());
}
