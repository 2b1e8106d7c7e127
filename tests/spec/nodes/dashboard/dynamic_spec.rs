//! Dynamic properties, as FlowFuse Dashboard 2.0 takes them: `msg.enabled`, `msg.visible`
//! and each widget's `msg.ui_update` keys change the item's config on the hub (where a
//! page reloaded later finds them), open pages are told to reload the layout, and a
//! disabled input widget ignores the page.

use std::sync::Arc;
use std::time::Duration;

use ferrite_runtime::testing::TestFlow;
use ferrite_runtime::ui::UiEvent;
use serde_json::{Value as Json, json};
use tokio::sync::broadcast;

use super::support::{input, item, load, next, page_msg};

const QUIET: Duration = Duration::from_millis(200);
const WAIT: Duration = Duration::from_secs(5);

/// Sends `msg` to node `id` and waits (bounded) for the layout reload its change causes.
async fn update(
    flow: &mut TestFlow,
    pages: &mut broadcast::Receiver<Arc<UiEvent>>,
    id: &str,
    msg: Json,
) {
    // What came before (the widgets registering) is not this update's doing.
    while pages.try_recv().is_ok() {}
    flow.receive(id, msg).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match tokio::time::timeout_at(deadline, pages.recv()).await {
            Ok(Ok(event)) if *event == UiEvent::Layout => return,
            Ok(_) => {}
            Err(_) => panic!("pages were not told to reload within {WAIT:?}"),
        }
    }
}

/// The `caught` error message, which must contain `text`.
async fn caught(flow: &mut TestFlow, text: &str) {
    let caught = next(flow, "caught").await;
    let message = caught["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(text), "{caught}");
}

/// a button takes msg.ui_update label, icon and colours; such a message alone does not press it
#[tokio::test]
async fn a_button_takes_ui_update_and_such_a_message_does_not_press_it() {
    let (mut flow, mut pages) = load(json!([
        {"id": "b", "type": "ui-button", "group": "group", "label": "Start", "wires": [["out"]]},
    ]))
    .await;
    let ui_update = json!({"label": "Stop", "icon": "stop", "buttonColor": "red", "textColor": "white", "other": 1});
    update(&mut flow, &mut pages, "b", json!({"ui_update": ui_update})).await;
    assert_eq!(
        item(&flow, "b").config,
        json!({"label": "Stop", "color": "white", "bgcolor": "red", "icon": "stop", "tooltip": "", "width": 0, "height": 0})
    );
    flow.expect_nothing("out", QUIET).await;
    flow.unload().await;
}

/// msg.enabled false disables a button: the page's press is ignored until msg.enabled true
#[tokio::test]
async fn a_disabled_button_ignores_presses_until_enabled_again() {
    let (mut flow, mut pages) = load(json!([
        {"id": "b", "type": "ui-button", "group": "group", "payload": "go", "wires": [["out"]]},
    ]))
    .await;
    update(&mut flow, &mut pages, "b", json!({"enabled": false})).await;
    assert_eq!(item(&flow, "b").config["enabled"], json!(false));
    input(&flow, "b", json!({}));
    flow.expect_nothing("out", QUIET).await;
    update(&mut flow, &mut pages, "b", json!({"enabled": true})).await;
    input(&flow, "b", json!({}));
    assert_eq!(next(&mut flow, "out").await["payload"], json!("go"));
    flow.unload().await;
}

/// msg.visible false hides a switch, its label follows msg.ui_update, and a disabled switch ignores toggles
#[tokio::test]
async fn a_switch_takes_visible_label_and_enabled() {
    let (mut flow, mut pages) = load(json!([
        {"id": "s", "type": "ui-switch", "group": "group", "label": "Pump", "wires": [["out"]]},
    ]))
    .await;
    update(
        &mut flow,
        &mut pages,
        "s",
        json!({"visible": false, "enabled": 0, "ui_update": {"label": "Fan"}}),
    )
    .await;
    let config = item(&flow, "s").config;
    assert_eq!(
        (
            config["visible"].clone(),
            config["enabled"].clone(),
            config["label"].clone()
        ),
        (json!(false), json!(false), json!("Fan"))
    );
    input(&flow, "s", json!({"on": true}));
    flow.expect_nothing("out", QUIET).await;
    assert_eq!(item(&flow, "s").state, json!(null));
    flow.unload().await;
}

/// a slider's range and step follow msg.ui_update; a range with max not above min is refused
#[tokio::test]
async fn a_sliders_range_follows_ui_update_and_a_bad_range_is_refused() {
    let (mut flow, mut pages) = load(json!([
        {"id": "sl", "type": "ui-slider", "group": "group", "wires": [["out"]]},
    ]))
    .await;
    update(
        &mut flow,
        &mut pages,
        "sl",
        json!({"ui_update": {"min": "5", "max": 50, "step": 5, "label": "Speed"}}),
    )
    .await;
    let config = item(&flow, "sl").config;
    assert_eq!(
        [
            &config["min"],
            &config["max"],
            &config["step"],
            &config["label"]
        ],
        [&json!(5), &json!(50), &json!(5), &json!("Speed")]
    );
    flow.receive("sl", json!({"ui_update": {"min": 60}})).await;
    caught(&mut flow, "not above min").await;
    flow.receive("sl", json!({"ui_update": {"step": "fast"}}))
        .await;
    caught(&mut flow, "msg.ui_update.step").await;
    assert_eq!(item(&flow, "sl").config["min"], json!(5));
    update(&mut flow, &mut pages, "sl", json!({"enabled": false})).await;
    input(&flow, "sl", json!({"value": 10}));
    flow.expect_nothing("out", QUIET).await;
    flow.unload().await;
}

/// a gauge's range follows msg.ui_update and later values are clamped to it; its title follows label
#[tokio::test]
async fn a_gauges_range_and_title_follow_ui_update() {
    let (mut flow, mut pages) = load(json!([
        {"id": "g", "type": "ui-gauge", "group": "group", "wires": [["out"]]},
    ]))
    .await;
    update(
        &mut flow,
        &mut pages,
        "g",
        json!({"ui_update": {"max": 100, "label": "Level", "gtype": "gauge-tank"}}),
    )
    .await;
    next(&mut flow, "out").await;
    let config = item(&flow, "g").config;
    assert_eq!(
        [&config["max"], &config["title"], &config["gtype"]],
        [&json!(100), &json!("Level"), &json!("gauge-tank")]
    );
    flow.receive("g", json!({"payload": 70})).await;
    assert_eq!(page_msg(&mut pages, "g").await, json!({"value": 70}));
    next(&mut flow, "out").await;
    flow.receive("g", json!({"ui_update": {"gtype": "dial"}}))
        .await;
    caught(&mut flow, "gtype").await;
    update(
        &mut flow,
        &mut pages,
        "g",
        json!({"ui_update": {"segments": [{"from": 50, "color": "red"}, {"from": "0", "color": "green"}]}}),
    )
    .await;
    next(&mut flow, "out").await;
    assert_eq!(
        item(&flow, "g").config["segments"],
        json!([{"from": 0, "color": "green"}, {"from": 50, "color": "red"}])
    );
    flow.receive("g", json!({"ui_update": {"segments": [{"from": 1}]}}))
        .await;
    caught(&mut flow, "has no color").await;
    flow.unload().await;
}

/// a text's label and font follow msg.ui_update, and such a message alone keeps the text shown
#[tokio::test]
async fn a_texts_look_follows_ui_update_and_keeps_its_text() {
    let (mut flow, mut pages) = load(json!([
        {"id": "t", "type": "ui-text", "group": "group", "label": "State"},
    ]))
    .await;
    flow.receive("t", json!({"payload": "running"})).await;
    assert_eq!(page_msg(&mut pages, "t").await, json!({"text": "running"}));
    update(
        &mut flow,
        &mut pages,
        "t",
        json!({"ui_update": {"label": "Mode", "fontSize": "20", "color": "red"}}),
    )
    .await;
    let config = item(&flow, "t").config;
    assert_eq!(
        [&config["label"], &config["fontSize"], &config["color"]],
        [&json!("Mode"), &json!(20), &json!("red")]
    );
    assert_eq!(item(&flow, "t").state, json!({"text": "running"}));
    flow.unload().await;
}

/// a chart's label follows msg.ui_update; such a message alone passes on and plots nothing
#[tokio::test]
async fn a_charts_label_follows_ui_update_and_such_a_message_plots_nothing() {
    let (mut flow, mut pages) = load(json!([
        {"id": "c", "type": "ui-chart", "group": "group", "xAxisType": "linear", "wires": [["out"]]},
    ]))
    .await;
    update(
        &mut flow,
        &mut pages,
        "c",
        json!({"ui_update": {"label": "Flow"}, "visible": false}),
    )
    .await;
    next(&mut flow, "out").await;
    let chart = item(&flow, "c");
    assert_eq!(
        (
            chart.config["label"].clone(),
            chart.config["visible"].clone()
        ),
        (json!("Flow"), json!(false))
    );
    assert_eq!(chart.state, json!({"series": {}}));
    flow.expect_nothing("caught", QUIET).await;
    flow.unload().await;
}

/// msg.class, or msg.ui_update.class, gives a widget CSS classes; one that is not text is refused
#[tokio::test]
async fn msg_class_gives_a_widget_css_classes() {
    let (mut flow, mut pages) =
        load(json!([{"id": "t", "type": "ui-text", "group": "group"}])).await;
    update(
        &mut flow,
        &mut pages,
        "t",
        json!({"ui_update": {"class": "alarm big"}}),
    )
    .await;
    assert_eq!(item(&flow, "t").config["class"], json!("alarm big"));
    update(
        &mut flow,
        &mut pages,
        "t",
        json!({"class": "calm", "ui_update": {"class": "ignored"}}),
    )
    .await;
    assert_eq!(item(&flow, "t").config["class"], json!("calm"));
    flow.receive("t", json!({"class": 5})).await;
    caught(&mut flow, "msg.class").await;
    flow.unload().await;
}

/// a table takes msg.enabled and msg.visible
#[tokio::test]
async fn a_table_takes_enabled_and_visible() {
    let (mut flow, mut pages) =
        load(json!([{"id": "tb", "type": "ui-table", "group": "group"}])).await;
    update(
        &mut flow,
        &mut pages,
        "tb",
        json!({"enabled": false, "visible": false}),
    )
    .await;
    let config = item(&flow, "tb").config;
    assert_eq!(
        (config["enabled"].clone(), config["visible"].clone()),
        (json!(false), json!(false))
    );
    flow.unload().await;
}
