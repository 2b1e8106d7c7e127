//! The `history` node (Ferrite's own): what it records, under which series and time, and
//! that messages pass on. Points are read back from the runtime's store in the test's
//! `ferrite.db`.

use ferrite_runtime::Settings;
use ferrite_runtime::history::{Agg, HistoryQuery, HistoryValue};
use ferrite_runtime::testing::TestFlow;
use serde_json::{Value as Json, json};

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Loads `flow` on a runtime with a user directory (the history node needs its ferrite.db).
async fn load(dir: &tempfile::TempDir, flow: Json) -> TestFlow {
    let settings = Settings {
        user_dir: Some(dir.path().to_path_buf()),
        ..Settings::default()
    };
    TestFlow::load_with(&[ferrite_nodes::ALL], flow, settings).await
}

/// Every `(ts, value)` of a series.
async fn points(flow: &TestFlow, series: &str) -> Vec<(i64, Option<HistoryValue>)> {
    let store = flow.runtime().history().expect("history store");
    store.flush().await.expect("flush");
    let query = HistoryQuery {
        series: series.to_owned(),
        from_ms: i64::MIN,
        to_ms: i64::MAX,
        points: None,
        agg: Agg::Last,
    };
    store
        .query(&query)
        .await
        .expect("query")
        .into_iter()
        .map(|p| (p.ts_ms, p.last))
        .collect()
}

fn flow_with(series: &str) -> Json {
    json!([
        {"id": "h", "type": "history", "series": series, "wires": [["out"]]},
        {"id": "out", "type": "helper"},
        {"id": "c", "type": "catch", "wires": [["caught"]]},
        {"id": "caught", "type": "helper"}
    ])
}

/// Records numbers, booleans (0/1) and strings under the configured series, at
/// msg.timestamp, and passes each message on unchanged.
#[tokio::test]
async fn records_numbers_booleans_and_strings_and_passes_msgs_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut flow = load(&dir, flow_with("tank")).await;
    assert!(flow.report().is_clean(), "{}", flow.report());
    for (ts, payload) in [
        (1000, json!(2.5)),
        (2000, json!(true)),
        (3000, json!("full")),
    ] {
        flow.receive(
            "h",
            json!({"payload": payload, "timestamp": ts, "topic": "ignored"}),
        )
        .await;
        let msg = flow.next("out").await.as_value().to_json();
        assert_eq!(msg["payload"], payload);
        assert_eq!(msg["timestamp"], ts);
    }
    assert_eq!(
        points(&flow, "tank").await,
        vec![
            (1000, Some(HistoryValue::Number(2.5))),
            (2000, Some(HistoryValue::Number(1.0))),
            (3000, Some(HistoryValue::Text("full".into())))
        ]
    );
    assert!(points(&flow, "ignored").await.is_empty());
    flow.unload().await;
}

/// Without a configured series the series is msg.topic; without msg.timestamp the time
/// is now.
#[tokio::test]
async fn series_from_topic_and_time_now() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut flow = load(&dir, flow_with("")).await;
    let before = now_ms();
    flow.receive("h", json!({"payload": 7, "topic": "plc/speed"}))
        .await;
    flow.next("out").await;
    let after = now_ms();
    let recorded = points(&flow, "plc/speed").await;
    assert_eq!(recorded.len(), 1);
    assert!((before..=after).contains(&recorded[0].0), "{recorded:?}");
    assert_eq!(recorded[0].1, Some(HistoryValue::Number(7.0)));
    flow.unload().await;
}

/// Objects are flattened to `series.field`, nested ones to `series.a.b`; null fields are
/// skipped.
#[tokio::test]
async fn objects_are_flattened_to_series_fields() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut flow = load(&dir, flow_with("plc")).await;
    flow.receive(
        "h",
        json!({"payload": {"level": 1.5, "pump": {"on": false, "rpm": 900}, "gone": null}, "timestamp": 5}),
    )
    .await;
    flow.next("out").await;
    let store = flow.runtime().history().expect("history");
    store.flush().await.expect("flush");
    assert_eq!(
        store.series_list().await.expect("series"),
        vec!["plc.level", "plc.pump.on", "plc.pump.rpm"]
    );
    assert_eq!(
        points(&flow, "plc.pump.rpm").await,
        vec![(5, Some(HistoryValue::Number(900.0)))]
    );
    assert_eq!(
        points(&flow, "plc.pump.on").await,
        vec![(5, Some(HistoryValue::Number(0.0)))]
    );
    flow.unload().await;
}

/// A message without a series, with a timestamp that is not a number, or with nothing to
/// record is an error Catch nodes get, and does not pass on.
#[tokio::test]
async fn bad_messages_are_errors_for_catch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut flow = load(&dir, flow_with("")).await;
    let cases = [
        (json!({"payload": 1}), "no series"),
        (
            json!({"payload": 1, "topic": "t", "timestamp": "soon"}),
            "msg.timestamp must be",
        ),
        (json!({"payload": null, "topic": "t"}), "nothing to record"),
    ];
    for (msg, expected) in cases {
        flow.receive("h", msg).await;
        let caught = flow.next("caught").await.as_value().to_json();
        let text = caught["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(text.contains(expected), "{text}");
    }
    flow.expect_nothing("out", std::time::Duration::from_millis(50))
        .await;
    flow.unload().await;
}

/// Without a user directory there is no ferrite.db: the flow still deploys (so `ferrite
/// check` passes it), and every message is an error for Catch that says why.
#[tokio::test]
async fn without_user_dir_each_message_is_an_error_that_says_why() {
    let mut flow = crate::harness::load(flow_with("x")).await;
    assert!(flow.report().is_clean(), "{}", flow.report());
    flow.receive("h", json!({"payload": 1})).await;
    let caught = flow.next("caught").await.as_value().to_json();
    let text = caught["error"]["message"].as_str().unwrap_or_default();
    assert!(text.contains("user directory"), "{text}");
    flow.unload().await;
}
