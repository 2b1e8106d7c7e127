//! ui-button, ui-switch, ui-slider: page inputs that send messages into the flow, and
//! flow messages that set them.

use std::time::Duration;

use serde_json::json;

use super::support::{deploy_errors, input, item, load, next, page_msg};

const QUIET: Duration = Duration::from_millis(200);

/// a button press on the page emits the configured payload and topic
#[tokio::test]
async fn a_button_press_emits_the_configured_payload_and_topic() {
    let (mut flow, _pages) = load(json!([
        {"id": "b", "type": "ui-button", "group": "group", "label": "Start", "payload": "42", "payloadType": "num",
         "topic": "pump/start", "topicType": "str", "wires": [["out"]]},
    ]))
    .await;
    let button = item(&flow, "b");
    assert_eq!(
        (button.kind.as_str(), button.parent.as_deref()),
        ("ui-button", Some("group"))
    );
    assert_eq!(
        button.config,
        json!({"label": "Start", "color": "", "bgcolor": "", "icon": "", "tooltip": "", "width": 0, "height": 0})
    );
    assert!(button.input.is_some());
    input(&flow, "b", json!({}));
    let msg = next(&mut flow, "out").await;
    assert_eq!(
        (msg["payload"].clone(), msg["topic"].clone()),
        (json!(42), json!("pump/start"))
    );
    flow.unload().await;
}

/// a button's default payload is the empty string and its topic the message's own
#[tokio::test]
async fn a_button_defaults_to_an_empty_payload_and_the_messages_topic() {
    let (mut flow, _pages) = load(json!([
        {"id": "b", "type": "ui-button", "group": "group", "emulateClick": true, "wires": [["out"]]},
    ]))
    .await;
    assert_eq!(item(&flow, "b").config["label"], json!("button"));
    // A flow message is an emulated press: same payload, its own topic kept.
    flow.receive("b", json!({"payload": 7, "topic": "mine"}))
        .await;
    let msg = next(&mut flow, "out").await;
    assert_eq!(
        (msg["payload"].clone(), msg["topic"].clone()),
        (json!(""), json!("mine"))
    );
    flow.unload().await;
}

/// a flow message presses a button only with emulateClick (and enableClick), as in FlowFuse
#[tokio::test]
async fn a_flow_message_presses_a_button_only_with_emulate_click() {
    let (mut flow, _pages) = load(json!([
        {"id": "plain", "type": "ui-button", "group": "group", "payload": "p", "wires": [["out"]]},
        {"id": "off", "type": "ui-button", "group": "group", "payload": "o", "emulateClick": true,
         "enableClick": false, "wires": [["out"]]},
        {"id": "emu", "type": "ui-button", "group": "group", "payload": "e", "emulateClick": "true",
         "wires": [["out"]]},
    ]))
    .await;
    flow.receive("plain", json!({"payload": 1})).await;
    flow.receive("off", json!({"payload": 1})).await;
    flow.receive("emu", json!({"payload": 1})).await;
    assert_eq!(next(&mut flow, "out").await["payload"], json!("e"));
    flow.expect_nothing("out", QUIET).await;
    flow.unload().await;
}

/// a button whose payload does not compile is a deploy error
#[tokio::test]
async fn a_button_whose_payload_does_not_compile_is_a_deploy_error() {
    let report = deploy_errors(json!([
        {"id": "b", "type": "ui-button", "group": "group", "payload": "{", "payloadType": "json"},
    ]))
    .await;
    assert!(report.contains("payload"), "{report}");
}

/// a switch toggled on the page emits its on or off value, with its topic, and tells every page
#[tokio::test]
async fn a_switch_toggled_on_the_page_emits_its_value_and_tells_every_page() {
    let (mut flow, mut pages) = load(json!([
        {"id": "s", "type": "ui-switch", "group": "group", "label": "Pump",
         "onvalue": "RUN", "onvalueType": "str", "offvalue": "0", "offvalueType": "num",
         "topic": "pump", "topicType": "str", "wires": [["out"]]},
    ]))
    .await;
    let switch = item(&flow, "s");
    assert_eq!(
        switch.config,
        json!({"label": "Pump", "width": 0, "height": 0})
    );
    assert!(switch.input.is_some());
    input(&flow, "s", json!({"on": true}));
    let msg = next(&mut flow, "out").await;
    assert_eq!(
        (msg["payload"].clone(), msg["topic"].clone()),
        (json!("RUN"), json!("pump"))
    );
    assert_eq!(page_msg(&mut pages, "s").await, json!({"on": true}));
    input(&flow, "s", json!({"on": false}));
    assert_eq!(next(&mut flow, "out").await["payload"], json!(0));
    assert_eq!(item(&flow, "s").state, json!({"on": false}));
    flow.unload().await;
}

/// a switch set by a flow message shows it and passes on only with passthru
#[tokio::test]
async fn a_switch_set_by_a_flow_message_shows_it_and_passes_on_only_with_passthru() {
    let (mut flow, mut pages) = load(json!([
        {"id": "s", "type": "ui-switch", "group": "group", "onvalue": "RUN", "onvalueType": "str", "wires": [["out"]]},
        {"id": "p", "type": "ui-switch", "group": "group", "passthru": true, "wires": [["out"]]},
    ]))
    .await;
    flow.receive("s", json!({"payload": "RUN"})).await;
    assert_eq!(page_msg(&mut pages, "s").await, json!({"on": true}));
    flow.expect_nothing("out", QUIET).await;
    flow.receive("p", json!({"payload": false})).await;
    assert_eq!(page_msg(&mut pages, "p").await, json!({"on": false}));
    assert_eq!(next(&mut flow, "out").await["payload"], json!(false));
    // `true` means on whatever the on value is; the message then carries the on value.
    flow.receive("s", json!({"payload": true})).await;
    assert_eq!(page_msg(&mut pages, "s").await, json!({"on": true}));
    flow.unload().await;
}

/// a decoupled switch toggled on the page emits but keeps the position the flow set, and tells the pages so
#[tokio::test]
async fn a_decoupled_switch_emits_but_keeps_the_position_the_flow_set() {
    let (mut flow, mut pages) = load(json!([
        {"id": "s", "type": "ui-switch", "group": "group", "decouple": true, "wires": [["out"]]},
    ]))
    .await;
    flow.receive("s", json!({"payload": true})).await;
    assert_eq!(page_msg(&mut pages, "s").await, json!({"on": true}));
    input(&flow, "s", json!({"on": false}));
    assert_eq!(next(&mut flow, "out").await["payload"], json!(false));
    assert_eq!(page_msg(&mut pages, "s").await, json!({"on": true}));
    assert_eq!(item(&flow, "s").state, json!({"on": true}));
    flow.unload().await;
}

/// a switch given a payload that is neither its on nor its off value reports it
#[tokio::test]
async fn a_switch_given_an_unknown_payload_reports_it() {
    let (mut flow, _pages) = load(json!([{"id": "s", "type": "ui-switch", "group": "group", "passthru": true, "wires": [["out"]]}])).await;
    flow.receive("s", json!({"payload": "maybe"})).await;
    let caught = next(&mut flow, "caught").await;
    assert_eq!(caught["error"]["message"], json!("Invalid payload value"));
    flow.expect_nothing("out", QUIET).await;
    assert_eq!(item(&flow, "s").state, json!(null));
    flow.unload().await;
}

/// a slider moved on the page emits the number with its topic
#[tokio::test]
async fn a_slider_moved_on_the_page_emits_the_number_with_its_topic() {
    let (mut flow, mut pages) = load(json!([
        {"id": "sl", "type": "ui-slider", "group": "group", "label": "Speed", "min": "0", "max": "100", "step": 5,
         "topic": "speed", "topicType": "str", "wires": [["out"]]},
    ]))
    .await;
    assert_eq!(
        item(&flow, "sl").config,
        json!({"label": "Speed", "min": 0, "max": 100, "step": 5, "width": 0, "height": 0})
    );
    input(&flow, "sl", json!({"value": 35}));
    let msg = next(&mut flow, "out").await;
    assert_eq!(
        (msg["payload"].clone(), msg["topic"].clone()),
        (json!(35), json!("speed"))
    );
    assert_eq!(page_msg(&mut pages, "sl").await, json!({"value": 35}));
    assert_eq!(item(&flow, "sl").state, json!({"value": 35}));
    flow.unload().await;
}

/// a slider set by a flow message shows it; a payload that is not a number is reported
#[tokio::test]
async fn a_slider_set_by_a_flow_message_shows_it_and_reports_non_numbers() {
    let (mut flow, mut pages) =
        load(json!([{"id": "sl", "type": "ui-slider", "group": "group", "wires": [["out"]]}]))
            .await;
    flow.receive("sl", json!({"payload": "7.5"})).await;
    assert_eq!(page_msg(&mut pages, "sl").await, json!({"value": 7.5}));
    flow.expect_nothing("out", QUIET).await;
    flow.receive("sl", json!({"payload": "fast"})).await;
    let caught = next(&mut flow, "caught").await;
    assert!(
        caught["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("not a number"),
        "{caught}"
    );
    flow.unload().await;
}

/// a page input a slider or switch cannot read emits nothing
#[tokio::test]
async fn a_page_input_a_slider_or_switch_cannot_read_emits_nothing() {
    let (mut flow, _pages) = load(json!([
        {"id": "sl", "type": "ui-slider", "group": "group", "wires": [["out"]]},
        {"id": "s", "type": "ui-switch", "group": "group", "wires": [["out"]]},
    ]))
    .await;
    input(&flow, "sl", json!({"value": "lots"}));
    input(&flow, "s", json!({"on": "yes"}));
    flow.expect_nothing("out", QUIET).await;
    flow.unload().await;
}

/// bad slider config is a deploy error naming the setting
#[tokio::test]
async fn bad_slider_config_is_a_deploy_error() {
    for (node, field) in [
        (
            json!({"id": "sl", "type": "ui-slider", "group": "group", "min": 5, "max": 5}),
            "max",
        ),
        (
            json!({"id": "sl", "type": "ui-slider", "group": "group", "step": 0}),
            "step",
        ),
        (
            json!({"id": "sl", "type": "ui-slider", "group": "group", "max": "big"}),
            "max",
        ),
    ] {
        let report = deploy_errors(json!([node.clone()])).await;
        assert!(report.contains(field), "{node}: {report}");
    }
}

/// a switch's status says whether it is on or off
#[tokio::test]
async fn a_switch_status_says_whether_it_is_on_or_off() {
    let (mut flow, _pages) =
        load(json!([{"id": "s", "type": "ui-switch", "group": "group"}])).await;
    flow.receive("s", json!({"payload": true})).await;
    let status = flow.event(|e| e.topic == "status/s").await;
    assert_eq!(
        status.data,
        json!({"fill": "green", "shape": "ring", "text": "on"})
    );
    input(&flow, "s", json!({"on": false}));
    let status = flow.event(|e| e.topic == "status/s").await;
    assert_eq!(
        status.data,
        json!({"fill": "red", "shape": "ring", "text": "off"})
    );
    flow.unload().await;
}

/// a slider passing a flow message on puts its topic setting on it, as FlowFuse's input handler
#[tokio::test]
async fn a_slider_passing_a_message_on_puts_its_topic_on_it() {
    let (mut flow, _pages) = load(json!([
        {"id": "sl", "type": "ui-slider", "group": "group", "passthru": true, "topic": "speed",
         "topicType": "str", "wires": [["out"]]},
    ]))
    .await;
    flow.receive("sl", json!({"payload": 5, "topic": "mine"}))
        .await;
    let msg = next(&mut flow, "out").await;
    assert_eq!(
        (msg["payload"].clone(), msg["topic"].clone()),
        (json!(5), json!("speed"))
    );
    flow.unload().await;
}

/// a topic setting that evaluates to nothing gives an empty topic, as FlowFuse's appendTopic
#[tokio::test]
async fn a_topic_setting_that_evaluates_to_nothing_gives_an_empty_topic() {
    let (mut flow, _pages) = load(json!([
        {"id": "s", "type": "ui-switch", "group": "group", "topic": "topic", "topicType": "msg",
         "wires": [["out"]]},
        {"id": "b", "type": "ui-button", "group": "group", "wires": [["out"]]},
    ]))
    .await;
    input(&flow, "s", json!({"on": true}));
    let msg = next(&mut flow, "out").await;
    assert_eq!(
        (msg["payload"].clone(), msg["topic"].clone()),
        (json!(true), json!(""))
    );
    // Without a topic setting the message's topic is left as it is: here, none.
    input(&flow, "b", json!({}));
    let msg = next(&mut flow, "out").await;
    assert_eq!(msg.get("topic"), None, "{msg}");
    flow.unload().await;
}
