//! ui-gauge, ui-text, ui-notification, ui-table: what flow messages show on the dashboard.

use std::time::Duration;

use ferrite_runtime::DeployKind;
use serde_json::json;

use super::support::{dashboard, deploy_errors, item, load, next, on_hub, page_msg};

const QUIET: Duration = Duration::from_millis(200);

/// a gauge registers under its group with FlowFuse's defaults
#[tokio::test]
async fn a_gauge_registers_under_its_group_with_flowfuse_defaults() {
    let (flow, _pages) =
        load(json!([{"id": "g", "type": "ui-gauge", "group": "group", "order": 3}])).await;
    let gauge = item(&flow, "g");
    assert_eq!(
        (gauge.kind.as_str(), gauge.parent.as_deref(), gauge.order),
        ("ui-gauge", Some("group"), 3.0)
    );
    assert_eq!(
        gauge.config,
        json!({
            "title": "gauge", "gtype": "gauge-half", "gstyle": "needle", "min": 0, "max": 10,
            "segments": [{"from": 0, "color": "#5CD65C"}, {"from": 4, "color": "#FFC800"}, {"from": 7, "color": "#EA5353"}],
            "units": "units", "prefix": "", "suffix": "", "width": 3, "height": 3,
        })
    );
    assert!(gauge.input.is_none());
    assert_eq!(gauge.state, json!(null));
    flow.unload().await;
}

/// a gauge shows the payload clamped to its range, keeps it for later pages and passes the message on
#[tokio::test]
async fn a_gauge_shows_the_clamped_payload_keeps_it_and_passes_the_message_on() {
    let (mut flow, mut pages) = load(json!([
        {"id": "g", "type": "ui-gauge", "group": "group", "min": "0", "max": "100",
         "segments": [{"from": 50, "color": "red"}, {"from": "0", "color": "green"}], "wires": [["out"]]},
    ]))
    .await;
    assert_eq!(
        item(&flow, "g").config["segments"],
        json!([{"from": 0, "color": "green"}, {"from": 50, "color": "red"}])
    );
    flow.receive("g", json!({"payload": 42.5, "topic": "t"}))
        .await;
    assert_eq!(page_msg(&mut pages, "g").await, json!({"value": 42.5}));
    assert_eq!(next(&mut flow, "out").await["payload"], json!(42.5));
    flow.receive("g", json!({"payload": "250"})).await;
    assert_eq!(page_msg(&mut pages, "g").await, json!({"value": 100}));
    assert_eq!(item(&flow, "g").state, json!({"value": 100}));
    next(&mut flow, "out").await;
    flow.unload().await;
}

/// a gauge given something that is not a number reports it to Catch nodes and shows nothing
#[tokio::test]
async fn a_gauge_given_a_non_number_reports_it_and_shows_nothing() {
    let (mut flow, _pages) =
        load(json!([{"id": "g", "type": "ui-gauge", "group": "group", "wires": [["out"]]}])).await;
    flow.receive("g", json!({"payload": {"a": 1}})).await;
    let caught = next(&mut flow, "caught").await;
    assert!(
        caught["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("not a number"),
        "{caught}"
    );
    flow.expect_nothing("out", QUIET).await;
    assert_eq!(item(&flow, "g").state, json!(null));
    flow.unload().await;
}

/// bad gauge config is a deploy error naming the setting
#[tokio::test]
async fn bad_gauge_config_is_a_deploy_error() {
    for (config, field) in [
        (json!({"min": 10, "max": 5}), "max"),
        (json!({"min": "low"}), "min"),
        (json!({"gtype": "dial"}), "gtype"),
        (json!({"gstyle": "flat"}), "gstyle"),
        (
            json!({"segments": [{"from": "x", "color": "red"}]}),
            "segments",
        ),
        (json!({"segments": [{"from": 1}]}), "segments"),
    ] {
        let mut node = json!({"id": "g", "type": "ui-gauge", "group": "group"});
        for (k, v) in config.as_object().into_iter().flatten() {
            node[k] = v.clone();
        }
        let report = deploy_errors(json!([node])).await;
        assert!(report.contains(field), "{config}: {report}");
    }
}

/// a text renders its format with the message, escaping values as HTML
#[tokio::test]
async fn a_text_renders_its_format_with_the_message() {
    let (flow, mut pages) = load(json!([
        {"id": "t", "type": "ui-text", "group": "group", "label": "Temp", "format": "<b>{{msg.payload}}</b> {{msg.topic}}"},
    ]))
    .await;
    let text = item(&flow, "t");
    assert_eq!(
        text.config,
        json!({"label": "Temp", "layout": "row-spread", "style": false, "font": "Helvetica",
               "fontSize": 16, "color": "#717171", "width": 0, "height": 0})
    );
    flow.receive("t", json!({"payload": "a<b", "topic": "°C"}))
        .await;
    assert_eq!(
        page_msg(&mut pages, "t").await,
        json!({"text": "<b>a&lt;b</b> °C"})
    );
    assert_eq!(item(&flow, "t").state, json!({"text": "<b>a&lt;b</b> °C"}));
    flow.unload().await;
    // The default format is the payload.
    let (flow, mut pages) = load(json!([{"id": "t", "type": "ui-text", "group": "group"}])).await;
    flow.receive("t", json!({"payload": 21})).await;
    assert_eq!(page_msg(&mut pages, "t").await, json!({"text": "21"}));
    flow.unload().await;
}

/// a text format mustache cannot parse is a deploy error
#[tokio::test]
async fn a_text_format_that_does_not_parse_is_a_deploy_error() {
    let report = deploy_errors(
        json!([{"id": "t", "type": "ui-text", "group": "group", "format": "{{#a}}"}]),
    )
    .await;
    assert!(report.contains("format"), "{report}");
}

/// a notification pops up the payload on every page of its dashboard, with its kind
#[tokio::test]
async fn a_notification_pops_up_the_payload_with_its_kind() {
    let (flow, mut pages) =
        load(json!([{"id": "n", "type": "ui-notification", "ui": "base", "displayTime": "5"}]))
            .await;
    let note = item(&flow, "n");
    assert_eq!(note.parent.as_deref(), Some("base"));
    assert_eq!(
        note.config,
        json!({"position": "top right", "displayTime": 5, "showCountdown": true, "allowDismiss": true})
    );
    flow.receive("n", json!({"payload": "Pump 2 stopped", "kind": "warning"}))
        .await;
    assert_eq!(
        page_msg(&mut pages, "n").await,
        json!({"text": "Pump 2 stopped", "kind": "warning"})
    );
    flow.receive("n", json!({"payload": {"a": 1}, "kind": "shout"}))
        .await;
    assert_eq!(
        page_msg(&mut pages, "n").await,
        json!({"text": "{\"a\":1}"})
    );
    // Pop-ups are not replayed to pages that connect later.
    assert_eq!(item(&flow, "n").state, json!(null));
    flow.unload().await;
}

/// a notification without its ui is a deploy error
#[tokio::test]
async fn a_notification_without_its_ui_is_a_deploy_error() {
    let report = deploy_errors(json!([{"id": "n", "type": "ui-notification"}])).await;
    assert!(report.contains("ui: required"), "{report}");
    let report = deploy_errors(json!([{"id": "n", "type": "ui-notification", "ui": "page"}])).await;
    assert!(
        report.contains("missing config node 'page' for ui"),
        "{report}"
    );
}

/// a table appends rows, replaces them, and an empty array clears it
#[tokio::test]
async fn a_table_appends_replaces_and_clears_rows() {
    let (mut flow, mut pages) = load(json!([
        {"id": "tb", "type": "ui-table", "group": "group", "label": "Alarms", "maxrows": 5, "autocols": false,
         "columns": [{"key": "tag", "title": "Tag"}, {"key": "value"}], "passthru": true, "wires": [["out"]]},
        {"id": "tr", "type": "ui-table", "group": "group", "action": "replace"},
    ]))
    .await;
    assert_eq!(
        item(&flow, "tb").config,
        json!({"label": "Alarms", "columns": [{"key": "tag", "label": "Tag"}, {"key": "value", "label": "value"}],
               "maxrows": 5, "width": 0, "height": 0})
    );
    assert_eq!(item(&flow, "tr").config["columns"], json!([]));
    flow.receive("tb", json!({"payload": [{"tag": "a", "value": 1}]}))
        .await;
    assert_eq!(
        page_msg(&mut pages, "tb").await,
        json!({"rows": [{"tag": "a", "value": 1}]})
    );
    next(&mut flow, "out").await;
    flow.receive("tb", json!({"payload": {"tag": "b", "value": 2}}))
        .await;
    assert_eq!(
        page_msg(&mut pages, "tb").await,
        json!({"rows": [{"tag": "a", "value": 1}, {"tag": "b", "value": 2}]})
    );
    flow.receive("tb", json!({"payload": []})).await;
    assert_eq!(page_msg(&mut pages, "tb").await, json!({"rows": []}));
    assert_eq!(item(&flow, "tb").state, json!({"rows": []}));

    flow.receive("tr", json!({"payload": [{"a": 1}]})).await;
    page_msg(&mut pages, "tr").await;
    flow.receive("tr", json!({"payload": [{"b": 2}]})).await;
    assert_eq!(
        page_msg(&mut pages, "tr").await,
        json!({"rows": [{"b": 2}]})
    );
    flow.unload().await;
}

/// a table's maxrows is rows per page, as FlowFuse paginates: every row is kept, none dropped
#[tokio::test]
async fn a_tables_maxrows_pages_the_rows_and_keeps_them_all() {
    let (flow, mut pages) = load(json!([
        {"id": "tb", "type": "ui-table", "group": "group", "maxrows": "2"},
        {"id": "t3", "type": "ui-table", "group": "group", "maxrows": " 3 rows"},
        {"id": "tn", "type": "ui-table", "group": "group", "maxrows": -4},
        {"id": "tx", "type": "ui-table", "group": "group", "maxrows": "many"},
    ]))
    .await;
    let maxrows = |id| item(&flow, id).config["maxrows"].clone();
    assert_eq!(
        [maxrows("tb"), maxrows("t3"), maxrows("tn"), maxrows("tx")],
        [json!(2), json!(3), json!(0), json!(0)]
    );
    let rows: Vec<_> = (0..5).map(|k| json!({"n": k})).collect();
    flow.receive("tb", json!({"payload": rows.clone()})).await;
    assert_eq!(page_msg(&mut pages, "tb").await, json!({"rows": rows}));
    assert_eq!(item(&flow, "tb").state, json!({"rows": rows}));
    flow.unload().await;
}

/// a table given rows that are not objects reports it to Catch nodes
#[tokio::test]
async fn a_table_given_rows_that_are_not_objects_reports_it() {
    let (mut flow, _pages) =
        load(json!([{"id": "tb", "type": "ui-table", "group": "group"}])).await;
    flow.receive("tb", json!({"payload": [1, 2]})).await;
    let caught = next(&mut flow, "caught").await;
    assert!(
        caught["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("array of objects"),
        "{caught}"
    );
    flow.unload().await;
    let report = deploy_errors(
        json!([{"id": "tb", "type": "ui-table", "group": "group", "action": "merge"}]),
    )
    .await;
    assert!(report.contains("action"), "{report}");
}

/// widgets leave the hub when a deploy removes them
#[tokio::test]
async fn widgets_leave_the_hub_when_a_deploy_removes_them() {
    let (mut flow, _pages) = load(json!([
        {"id": "g", "type": "ui-gauge", "group": "group"},
        {"id": "t", "type": "ui-text", "group": "group"},
    ]))
    .await;
    assert!(on_hub(&flow, "g") && on_hub(&flow, "t"));
    let report = flow
        .deploy(
            dashboard(json!([{"id": "t", "type": "ui-text", "group": "group"}])),
            DeployKind::Nodes,
        )
        .await;
    assert!(report.is_clean(), "{report}");
    assert!(!on_hub(&flow, "g"));
    assert!(on_hub(&flow, "t"));
    flow.unload().await;
}

/// a gauge shows what its value setting names, and leaves the gauge alone when the message has none
#[tokio::test]
async fn a_gauge_shows_what_its_value_setting_names() {
    let (mut flow, mut pages) = load(json!([
        {"id": "g", "type": "ui-gauge", "group": "group", "value": "payload.temp", "valueType": "msg", "wires": [["out"]]},
        {"id": "j", "type": "ui-gauge", "group": "group", "value": "payload.level * 2", "valueType": "jsonata"},
    ]))
    .await;
    flow.receive("g", json!({"payload": {"temp": 6}})).await;
    assert_eq!(page_msg(&mut pages, "g").await, json!({"value": 6}));
    next(&mut flow, "out").await;
    flow.receive("g", json!({"payload": {"pressure": 2}})).await;
    next(&mut flow, "out").await;
    assert_eq!(item(&flow, "g").state, json!({"value": 6}));
    flow.receive("j", json!({"payload": {"level": 2}})).await;
    assert_eq!(page_msg(&mut pages, "j").await, json!({"value": 4}));
    flow.unload().await;
}

/// a widget changed by a deploy stays on the hub with its new config
#[tokio::test]
async fn a_widget_changed_by_a_deploy_stays_on_the_hub_with_its_new_config() {
    let (mut flow, _pages) =
        load(json!([{"id": "g", "type": "ui-gauge", "group": "group", "title": "old"}])).await;
    for kind in [DeployKind::Nodes, DeployKind::Full] {
        let changed = json!([{"id": "g", "type": "ui-gauge", "group": "group", "title": "new"}]);
        let report = flow.deploy(dashboard(changed.clone()), kind).await;
        assert!(report.is_clean(), "{report}");
        super::support::started(&flow, &changed).await;
        assert_eq!(item(&flow, "g").config["title"], json!("new"));
        // Nothing removes it afterwards.
        flow.receive("g", json!({"payload": 1})).await;
        assert!(on_hub(&flow, "g"));
    }
    flow.unload().await;
}

/// a text's value setting decides the payload its format shows
#[tokio::test]
async fn a_texts_value_setting_decides_the_payload_its_format_shows() {
    let (flow, mut pages) = load(json!([
        {"id": "t", "type": "ui-text", "group": "group", "value": "payload.temp", "valueType": "msg", "format": "{{msg.payload}} °C"},
    ]))
    .await;
    flow.receive("t", json!({"payload": {"temp": 21.5}})).await;
    assert_eq!(page_msg(&mut pages, "t").await, json!({"text": "21.5 °C"}));
    flow.unload().await;
}

/// a text whose value cannot be evaluated warns and shows the payload as it is
#[tokio::test]
async fn a_text_whose_value_cannot_be_evaluated_warns_and_shows_the_payload() {
    let (mut flow, mut pages) = load(json!([
        {"id": "t", "type": "ui-text", "group": "group", "value": "$error('boom')", "valueType": "jsonata"},
    ]))
    .await;
    flow.receive("t", json!({"payload": "raw"})).await;
    assert_eq!(page_msg(&mut pages, "t").await, json!({"text": "raw"}));
    let log = flow.log_entry("t").await;
    assert_eq!(log["level"], json!(30), "{log}");
    assert!(
        log["msg"]
            .as_str()
            .unwrap_or_default()
            .contains("Error evaluating value property"),
        "{log}"
    );
    flow.unload().await;
}
