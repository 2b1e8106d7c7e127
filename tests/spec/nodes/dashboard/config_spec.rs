//! ui-base, ui-page, ui-group, ui-theme: the layout they put on the dashboard hub.

use ferrite_runtime::DeployKind;
use serde_json::json;

use super::support::{dashboard, deploy_errors, item, load, on_hub};

/// config nodes register their items with their parents and FlowFuse's defaults filled in
#[tokio::test]
async fn config_nodes_register_items_with_parents_and_defaults() {
    let (flow, _pages) = load(json!([
        {"id": "bare-page", "type": "ui-page", "ui": "base", "path": -1, "layout": "", "theme": "default"},
        {"id": "bare-group", "type": "ui-group", "page": "bare-page", "order": 2},
        {"id": "theme", "type": "ui-theme", "name": "Dark", "colors": {"primary": "#ff0000"}},
    ]))
    .await;
    let base = item(&flow, "base");
    assert_eq!(
        (base.kind.as_str(), base.parent.as_deref()),
        ("ui-base", None)
    );
    assert_eq!(
        base.config,
        json!({"name": "My Dashboard", "path": "/dashboard"})
    );

    let page = item(&flow, "bare-page");
    assert_eq!(
        (page.kind.as_str(), page.parent.as_deref()),
        ("ui-page", Some("base"))
    );
    assert_eq!(page.order, -1.0);
    assert_eq!(
        page.config,
        json!({
            "name": "Page Name", "path": "/bare-page", "icon": "home", "layout": "grid", "theme": null,
            "breakpoints": [
                {"name": "Default", "px": 0, "cols": 3},
                {"name": "Tablet", "px": 576, "cols": 6},
                {"name": "Small Desktop", "px": 768, "cols": 9},
                {"name": "Desktop", "px": 1024, "cols": 12},
            ],
        })
    );

    let group = item(&flow, "bare-group");
    assert_eq!(
        (group.kind.as_str(), group.parent.as_deref()),
        ("ui-group", Some("bare-page"))
    );
    assert_eq!(group.order, 2.0);
    assert_eq!(
        group.config,
        json!({"name": "Group Name", "width": 6, "height": 1, "showTitle": true})
    );

    let theme = item(&flow, "theme");
    assert_eq!(
        (theme.kind.as_str(), theme.parent.as_deref()),
        ("ui-theme", None)
    );
    assert_eq!(
        theme.config,
        json!({"name": "Dark", "colors": {
            "surface": "#fcfcfd", "primary": "#ff0000", "bgPage": "#f9f9fb",
            "groupBg": "#ffffff", "groupOutline": "#d9d9e0",
        }})
    );
    flow.unload().await;
}

/// a page names its theme and keeps its own breakpoints
#[tokio::test]
async fn a_page_names_its_theme_and_keeps_its_breakpoints() {
    let (flow, _pages) = load(json!([
        {"id": "theme", "type": "ui-theme"},
        {"id": "p2", "type": "ui-page", "ui": "base", "theme": "theme", "layout": "tabs",
         "breakpoints": [{"name": "Phone", "px": "0", "cols": "2"}]},
    ]))
    .await;
    let page = item(&flow, "p2");
    assert_eq!(page.config["theme"], json!("theme"));
    assert_eq!(page.config["layout"], json!("tabs"));
    assert_eq!(
        page.config["breakpoints"],
        json!([{"name": "Phone", "px": 0, "cols": 2}])
    );
    flow.unload().await;
}

/// bad layout config is a deploy error naming the setting
#[tokio::test]
async fn bad_layout_config_is_a_deploy_error_naming_the_setting() {
    let cases = [
        (
            json!({"id": "x", "type": "ui-page", "ui": "base", "layout": "cards"}),
            "layout",
        ),
        (
            json!({"id": "x", "type": "ui-page", "layout": "grid"}),
            "ui: required",
        ),
        (
            json!({"id": "x", "type": "ui-page", "ui": "base", "breakpoints": [{"name": "a"}]}),
            "breakpoints",
        ),
        (
            json!({"id": "x", "type": "ui-group", "name": "no page"}),
            "page: required",
        ),
        (
            json!({"id": "x", "type": "ui-group", "page": "page", "width": "wide"}),
            "width",
        ),
        (
            json!({"id": "x", "type": "ui-theme", "colors": "red"}),
            "colors",
        ),
        (
            json!({"id": "x", "type": "ui-base", "path": "dashboard"}),
            "path",
        ),
    ];
    for (node, field) in cases {
        let report = deploy_errors(json!([node.clone()])).await;
        assert!(report.contains(field), "{node}: {report}");
    }
}

/// config nodes leave the hub when a deploy removes them and come back when redeployed
#[tokio::test]
async fn config_nodes_leave_the_hub_when_a_deploy_removes_them() {
    let (mut flow, _pages) = load(json!([{"id": "theme", "type": "ui-theme"}])).await;
    assert!(on_hub(&flow, "theme"));
    let report = flow.deploy(dashboard(json!([])), DeployKind::Full).await;
    assert!(report.is_clean(), "{report}");
    assert!(!on_hub(&flow, "theme"));
    assert!(on_hub(&flow, "group"));
    // A changed group is rebuilt: its old item goes, the new one takes its place.
    let mut changed = dashboard(json!([]));
    changed[2]["name"] = json!("Renamed");
    flow.deploy(changed, DeployKind::Nodes).await;
    assert_eq!(item(&flow, "group").config["name"], json!("Renamed"));
    flow.unload().await;
}

/// a widget whose group is missing is a deploy error
#[tokio::test]
async fn a_widget_whose_group_is_missing_is_a_deploy_error() {
    let report = deploy_errors(json!([{"id": "g", "type": "ui-gauge", "group": "nowhere"}])).await;
    assert!(report.contains("group"), "{report}");
}
