//! Port of Node-RED test/nodes/core/sequence/19-batch_spec.js.
//!
//! `check_data` also checks that each sequence's `parts.id` is the `_msgid` of its first
//! message. The interval tests send at fixed times from the start (not chained timeouts,
//! which drift on a loaded machine); where the mocha file sends 50-100 ms before a tick,
//! sends here fall mid-interval, keeping each case's sequence of full and empty intervals.
//!
//! All 28 mocha cases are ported.

use std::time::Duration;

use ferrite_runtime::Msg;
use ferrite_runtime::testing::TestFlow;
use serde_json::{Value as Json, json};
use tokio::time::Instant;

use crate::harness;

// ---- helpers ------------------------------------------------------------------------------

fn as_json(msg: &Msg) -> Json {
    msg.as_value().to_json()
}

/// The batch node `n1` wired to helper `n2`, with `config` merged in.
fn batch_flow(config: &Json) -> Json {
    let mut node = json!({"id": "n1", "type": "batch", "name": "BatchNode", "wires": [["n2"]]});
    if let (Some(node), Some(extra)) = (node.as_object_mut(), config.as_object()) {
        for (k, v) in extra {
            node.insert(k.clone(), v.clone());
        }
    }
    json!([node, {"id": "n2", "type": "helper"}])
}

/// `check_parts(msg, id, idx, count)`.
fn check_parts(msg: &Json, id: &Json, index: usize, count: usize) {
    assert_eq!(msg["parts"]["id"], *id, "{msg}");
    assert_eq!(msg["parts"]["index"], json!(index), "{msg}");
    assert_eq!(msg["parts"]["count"], json!(count), "{msg}");
}

/// `check_data`: helper `n2` receives `results`, one sequence after the other. Sequences of
/// received messages carry the first one's `_msgid` as `parts.id`; an empty-interval
/// message (payload null) carries an id of its own.
async fn check_data(flow: &mut TestFlow, results: &[Vec<Json>]) {
    for seq in results {
        let mut id = None;
        for (index, value) in seq.iter().enumerate() {
            let msg = as_json(&flow.next("n2").await);
            assert_eq!(msg["payload"], *value, "{msg}");
            let seq_id = id.get_or_insert_with(|| {
                if !value.is_null() {
                    assert_eq!(msg["parts"]["id"], msg["_msgid"], "{msg}");
                }
                msg["parts"]["id"].clone()
            });
            assert!(seq_id.is_string(), "{msg}");
            check_parts(&msg, seq_id, index, seq.len());
        }
    }
}

fn seqs(results: &[&[i64]]) -> Vec<Vec<Json>> {
    results
        .iter()
        .map(|seq| seq.iter().map(|v| json!(v)).collect())
        .collect()
}

/// `check_count`: six messages with `parts {count: 6, index}`.
async fn check_count(config: Json, results: &[Vec<Json>]) -> TestFlow {
    let mut flow = harness::load(batch_flow(&config)).await;
    for i in 0..6 {
        flow.receive(
            "n1",
            json!({"payload": i, "parts": {"count": 6, "index": i}}),
        )
        .await;
    }
    check_data(&mut flow, results).await;
    flow
}

/// Sends `{payload: i}` at each `(ms after start, i)`.
async fn send_at(flow: &TestFlow, start: Instant, schedule: &[(u64, Json)]) {
    for (at, payload) in schedule {
        tokio::time::sleep_until(start + Duration::from_millis(*at)).await;
        flow.receive("n1", json!({"payload": payload})).await;
    }
}

/// `check_interval` with explicit send times; what the helper received is read after the
/// last send (it queues), the grouping showing which tick took which message.
async fn check_interval(config: Json, schedule: Vec<(u64, Json)>, results: Vec<Vec<Json>>) {
    let mut flow = harness::load(batch_flow(&config)).await;
    let start = Instant::now();
    send_at(&flow, start, &schedule).await;
    check_data(&mut flow, &results).await;
    flow.unload().await;
}

/// `check_concat`: `[topic, payload, index, count]` inputs with `parts.id` = topic.
async fn check_concat(topics: &[&str], inputs: &[(&str, i64, i64, i64)], results: &[&[i64]]) {
    let topics: Vec<Json> = topics.iter().map(|t| json!({"topic": t})).collect();
    let mut flow = harness::load(batch_flow(&json!({
        "mode": "concat", "count": 0, "overlap": 0, "interval": 1,
        "allowEmptySequence": false, "topics": topics
    })))
    .await;
    send_concat(&flow, inputs).await;
    check_data(&mut flow, &seqs(results)).await;
    flow.expect_nothing("n2", Duration::from_millis(50)).await;
    flow.unload().await;
}

async fn send_concat(flow: &TestFlow, inputs: &[(&str, i64, i64, i64)]) {
    for (topic, payload, index, count) in inputs {
        flow.receive(
            "n1",
            json!({"topic": topic, "payload": payload, "parts": {"id": topic, "index": index, "count": count}}),
        )
        .await;
    }
}

fn count_config(count: i64, overlap: i64) -> Json {
    json!({"mode": "count", "count": count, "overlap": overlap, "interval": 10,
           "allowEmptySequence": false, "topics": []})
}

fn interval_config(interval: f64, allow_empty: bool) -> Json {
    json!({"mode": "interval", "count": 0, "overlap": 0, "interval": interval,
           "allowEmptySequence": allow_empty, "topics": []})
}

// ---- ported tests -------------------------------------------------------------------------

/// should be loaded with defaults
#[tokio::test]
async fn should_be_loaded_with_defaults() {
    let mut flow = harness::load(json!([
        {"id": "n1", "type": "batch", "name": "BatchNode", "wires": [["n2"]]},
        {"id": "n2", "type": "helper"}
    ]))
    .await;
    assert!(flow.report().issues.is_empty(), "{:?}", flow.report());
    // The defaults: mode count, count 1 — every message is a sequence of its own.
    flow.receive("n1", json!({"payload": "a"})).await;
    flow.receive("n1", json!({"payload": "b"})).await;
    check_data(&mut flow, &[vec![json!("a")], vec![json!("b")]]).await;
    flow.unload().await;
}

/// mode: count › should create seq. with count
#[tokio::test]
async fn mode_count_should_create_seq_with_count() {
    let flow = check_count(count_config(2, 0), &seqs(&[&[0, 1], &[2, 3], &[4, 5]])).await;
    flow.unload().await;
}

/// mode: count › should create seq. with count (more sent than count)
#[tokio::test]
async fn mode_count_should_create_seq_with_count_more_sent_than_count() {
    let mut flow = check_count(count_config(4, 0), &seqs(&[&[0, 1, 2, 3]])).await;
    flow.expect_nothing("n2", Duration::from_millis(100)).await;
    flow.unload().await;
}

/// mode: count › should create seq. with count and terminate early if parts honoured
#[tokio::test]
async fn mode_count_should_create_seq_with_count_and_terminate_early_if_parts_honoured() {
    let mut config = count_config(4, 0);
    config["honourParts"] = json!(true);
    let flow = check_count(config, &seqs(&[&[0, 1, 2, 3], &[4, 5]])).await;
    flow.unload().await;
}

/// mode: count › should create seq. with count and overlap
#[tokio::test]
async fn mode_count_should_create_seq_with_count_and_overlap() {
    let flow = check_count(
        count_config(3, 2),
        &seqs(&[&[0, 1, 2], &[1, 2, 3], &[2, 3, 4], &[3, 4, 5]]),
    )
    .await;
    flow.unload().await;
}

/// mode: count › should handle reset
#[tokio::test]
async fn mode_count_should_handle_reset() {
    let mut config = count_config(2, 0);
    config["interval"] = json!(0);
    let mut flow = harness::load(batch_flow(&config)).await;
    for msg in [
        json!({"payload": 0}),
        json!({"payload": 1}),
        json!({"payload": 2}),
        json!({"payload": 3, "reset": true}),
        json!({"payload": 4}),
        json!({"payload": 5}),
    ] {
        flow.receive("n1", msg).await;
    }
    check_data(&mut flow, &seqs(&[&[0, 1], &[4, 5]])).await;
    flow.expect_nothing("n2", Duration::from_millis(50)).await;
    flow.unload().await;
}

/// mode: interval › should create seq. with interval
#[tokio::test]
async fn mode_interval_should_create_seq_with_interval() {
    // Ticks at 1000 and 2000 ms.
    check_interval(
        interval_config(1.0, false),
        vec![
            (250, json!(0)),
            (750, json!(1)),
            (1250, json!(2)),
            (1750, json!(3)),
        ],
        seqs(&[&[0, 1], &[2, 3]]),
    )
    .await;
}

/// mode: interval › should create seq. with interval (in float)
#[tokio::test]
async fn mode_interval_should_create_seq_with_interval_in_float() {
    // Ticks at 500 and 1000 ms.
    check_interval(
        interval_config(0.5, false),
        vec![
            (125, json!(0)),
            (375, json!(1)),
            (625, json!(2)),
            (875, json!(3)),
        ],
        seqs(&[&[0, 1], &[2, 3]]),
    )
    .await;
}

/// mode: interval › should create seq. with interval & not send empty seq
#[tokio::test]
async fn mode_interval_should_create_seq_with_interval_not_send_empty_seq() {
    // Ticks every 500 ms; those at 500 and 2500 ms find nothing and send nothing.
    check_interval(
        interval_config(0.5, false),
        vec![
            (750, json!(0)),
            (1250, json!(1)),
            (1750, json!(2)),
            (2750, json!(3)),
        ],
        seqs(&[&[0], &[1], &[2], &[3]]),
    )
    .await;
}

/// mode: interval › should create seq. with interval & send empty seq
#[tokio::test]
async fn mode_interval_should_create_seq_with_interval_send_empty_seq() {
    // Ticks every 500 ms; those at 500 and 2500 ms send an empty sequence.
    check_interval(
        interval_config(0.5, true),
        vec![
            (750, json!(0)),
            (1250, json!(1)),
            (1750, json!(2)),
            (2750, json!(3)),
        ],
        vec![
            vec![Json::Null],
            vec![json!(0)],
            vec![json!(1)],
            vec![json!(2)],
            vec![Json::Null],
            vec![json!(3)],
        ],
    )
    .await;
}

/// mode: interval › should handle reset
#[tokio::test]
async fn mode_interval_should_handle_reset() {
    // As the mocha file: sends at 400, 800, 1200 ms, a reset at 1210 ms (dropping 2 and
    // restarting the 1 s interval), then 4, 5, 6 at 1610, 2010, 2410 ms. Ticks: 1000 and
    // 2210 ms (2000 ms without the restart, which would give [4] alone).
    let mut flow = harness::load(batch_flow(&interval_config(1.0, false))).await;
    let start = Instant::now();
    send_at(
        &flow,
        start,
        &[(400, json!(0)), (800, json!(1)), (1200, json!(2))],
    )
    .await;
    tokio::time::sleep_until(start + Duration::from_millis(1210)).await;
    flow.receive("n1", json!({"payload": "3", "reset": true}))
        .await;
    send_at(
        &flow,
        start,
        &[(1610, json!(4)), (2010, json!(5)), (2410, json!(6))],
    )
    .await;
    check_data(&mut flow, &seqs(&[&[0, 1], &[4, 5]])).await;
    flow.unload().await;
}

/// mode: concat › should concat two seq. (series)
#[tokio::test]
async fn mode_concat_should_concat_two_seq_series() {
    check_concat(
        &["TA", "TB"],
        &[
            ("TB", 0, 0, 2),
            ("TB", 1, 1, 2),
            ("TA", 2, 0, 2),
            ("TA", 3, 1, 2),
        ],
        &[&[2, 3, 0, 1]],
    )
    .await;
}

/// mode: concat › should concat two seq. (mixed)
#[tokio::test]
async fn mode_concat_should_concat_two_seq_mixed() {
    check_concat(
        &["TA", "TB"],
        &[
            ("TA", 2, 0, 2),
            ("TB", 0, 0, 2),
            ("TA", 3, 1, 2),
            ("TB", 1, 1, 2),
        ],
        &[&[2, 3, 0, 1]],
    )
    .await;
}

/// mode: concat › should concat three seq.
#[tokio::test]
async fn mode_concat_should_concat_three_seq() {
    check_concat(
        &["TA", "TB", "TC"],
        &[
            ("TC", 4, 0, 1),
            ("TB", 0, 0, 2),
            ("TB", 1, 1, 2),
            ("TA", 2, 0, 2),
            ("TA", 3, 1, 2),
        ],
        &[&[2, 3, 0, 1, 4]],
    )
    .await;
}

/// mode: concat › should concat same seq.
#[tokio::test]
async fn mode_concat_should_concat_same_seq() {
    check_concat(
        &["TA", "TA"],
        &[("TA", 9, 0, 2), ("TA", 8, 1, 2)],
        &[&[9, 8, 9, 8]],
    )
    .await;
}

/// mode: concat › should handle reset
#[tokio::test]
async fn mode_concat_should_handle_reset() {
    let mut flow = harness::load(batch_flow(&json!({
        "mode": "concat", "count": 0, "overlap": 0, "interval": 1,
        "allowEmptySequence": false, "topics": [{"topic": "TA"}, {"topic": "TB"}]
    })))
    .await;
    send_concat(&flow, &[("TB", 0, 0, 2), ("TA", 1, 0, 2)]).await;
    flow.receive("n1", json!({"reset": true})).await;
    send_concat(
        &flow,
        &[
            ("TB", 0, 0, 2),
            ("TB", 1, 1, 2),
            ("TA", 2, 0, 2),
            ("TA", 3, 1, 2),
        ],
    )
    .await;
    check_data(&mut flow, &seqs(&[&[2, 3, 0, 1]])).await;
    flow.unload().await;
}

// ---- beyond the mocha file ----------------------------------------------------------------

/// Concat mode: a listed topic without `parts` fails the message (catchable); other topics
/// are ignored.
#[tokio::test]
async fn concat_needs_parts_and_ignores_other_topics() {
    let mut flow = harness::load(json!([
        {"id": "n1", "type": "batch", "mode": "concat", "topics": [{"topic": "TA"}], "wires": [["n2"]]},
        {"id": "n2", "type": "helper"},
        {"id": "c", "type": "catch", "scope": ["n1"], "wires": [["h"]]},
        {"id": "h", "type": "helper"}
    ]))
    .await;
    flow.receive("n1", json!({"topic": "TA", "payload": 1}))
        .await;
    let caught = as_json(&flow.next("h").await);
    assert_eq!(caught["error"]["message"], "no parts property in message");
    assert_eq!(caught["payload"], 1);
    flow.receive(
        "n1",
        json!({"topic": "TX", "payload": 2, "parts": {"id": "x", "index": 0, "count": 1}}),
    )
    .await;
    flow.expect_nothing("n2", Duration::from_millis(100)).await;
    flow.expect_nothing("h", Duration::from_millis(10)).await;
    flow.unload().await;
}

/// Invalid count / overlap / interval / mode are deploy errors naming the field.
#[tokio::test]
async fn invalid_config_is_reported_at_deploy() {
    for (config, field) in [
        (
            json!({"mode": "count", "count": 2, "overlap": 2}),
            "overlap",
        ),
        (json!({"mode": "count", "count": "x"}), "count"),
        (json!({"mode": "interval", "interval": -1}), "interval"),
        (json!({"mode": "sideways"}), "mode"),
    ] {
        let flow = harness::load(batch_flow(&config)).await;
        let report = format!("{:?}", flow.report());
        assert!(
            report.contains("n1") && report.contains(field),
            "{config}: {report}"
        );
        flow.unload().await;
    }
}

/// Existing `parts` keys other than id/index/count are kept; the overlap copies leave the
/// messages sent earlier unchanged.
#[tokio::test]
async fn other_parts_keys_are_kept() {
    let mut flow = harness::load(batch_flow(&count_config(2, 1))).await;
    flow.receive(
        "n1",
        json!({"payload": 0, "parts": {"type": "array", "index": 7}}),
    )
    .await;
    flow.receive("n1", json!({"payload": 1})).await;
    flow.receive("n1", json!({"payload": 2})).await;
    let first = as_json(&flow.next("n2").await);
    assert_eq!(first["parts"]["type"], "array");
    assert_eq!(first["parts"]["index"], 0);
    let second = as_json(&flow.next("n2").await);
    assert_eq!(second["parts"]["index"], 1);
    let again = as_json(&flow.next("n2").await);
    assert_eq!(
        (again["payload"].clone(), again["parts"]["index"].clone()),
        (json!(1), json!(0))
    );
    assert_eq!(again["parts"]["id"], again["_msgid"]);
    assert_ne!(again["parts"]["id"], first["parts"]["id"]);
    flow.unload().await;
}

// ---- with the runtime's deferred done and nodeMessageBufferMaxLength ----------------------

/// Loads `flow` with `nodeMessageBufferMaxLength: 2`.
async fn load_with_buffer_limit(flow: Json) -> TestFlow {
    let settings: ferrite_runtime::Settings =
        serde_json::from_value(json!({"nodeMessageBufferMaxLength": 2})).expect("settings");
    TestFlow::load_with(&[ferrite_nodes::ALL], flow, settings).await
}

/// The mocha file's "too many pending messages" cases: the third message overflows.
async fn too_many_pending(config: Json, msgs: Vec<Json>) {
    let mut flow = load_with_buffer_limit(batch_flow(&config)).await;
    for msg in msgs {
        flow.receive("n1", msg).await;
    }
    let entry = flow.log_entry("n1").await;
    assert_eq!(entry["id"], "n1");
    assert_eq!(entry["type"], "batch");
    assert_eq!(entry["msg"], "too many pending messages in batch node");
    flow.unload().await;
}

/// mode: count › should handle too many pending messages
#[tokio::test]
async fn mode_count_should_handle_too_many_pending_messages() {
    too_many_pending(
        count_config(5, 0),
        (0..3).map(|i| json!({"payload": i})).collect(),
    )
    .await;
}

/// mode: interval › should handle too many pending messages
#[tokio::test]
async fn mode_interval_should_handle_too_many_pending_messages() {
    too_many_pending(
        interval_config(1.0, false),
        (0..3).map(|i| json!({"payload": i})).collect(),
    )
    .await;
}

/// mode: concat › should handle too many pending messages
#[tokio::test]
async fn mode_concat_should_handle_too_many_pending_messages() {
    let config = json!({"mode": "concat", "count": 0, "overlap": 0, "interval": 1,
        "allowEmptySequence": false, "topics": [{"topic": "TA"}, {"topic": "TB"}]});
    let mut msgs = Vec::new();
    for i in 0..3 {
        msgs.push(
            json!({"payload": i, "topic": "TA", "parts": {"index": i, "count": 3, "id": "A"}}),
        );
        msgs.push(
            json!({"payload": i, "topic": "TB", "parts": {"index": i, "count": 3, "id": "B"}}),
        );
    }
    too_many_pending(config, msgs).await;
}

/// The mocha file's `mapiDoneTestHelper`: each `(msg, delay, avr)` is received by the batch
/// node at `delay` ms; the Complete or Catch node reports it (found by its payload) at
/// `avr` ms (± 100 ms in Node-RED; later is tolerated here on a loaded machine, earlier
/// is not).
async fn mapi_done_test(
    mode: &str,
    count: i64,
    overlap: i64,
    interval: f64,
    items: &[(Json, u64, u64)],
) {
    let mut flow = load_with_buffer_limit(json!([
        {"id": "batchNode1", "type": "batch", "name": "BatchNode", "mode": mode, "count": count, "overlap": overlap, "interval": interval, "allowEmptySequence": false, "topics": [{"topic": "TA"}], "wires": [[]]},
        {"id": "completeNode1", "type": "complete", "scope": ["batchNode1"], "uncaught": false, "wires": [["helperNode1"]]},
        {"id": "catchNode1", "type": "catch", "scope": ["batchNode1"], "uncaught": false, "wires": [["helperNode1"]]},
        {"id": "helperNode1", "type": "helper", "wires": [[]]}
    ]))
    .await;
    let start = Instant::now();
    let runtime = flow.runtime().clone();
    let sends: Vec<(Json, u64)> = items.iter().map(|(m, d, _)| (m.clone(), *d)).collect();
    let sender = tokio::spawn(async move {
        for (msg, delay) in sends {
            tokio::time::sleep_until(start + Duration::from_millis(delay)).await;
            let msg = Msg::try_from(msg).expect("object");
            runtime.receive("batchNode1", msg).await.expect("running");
        }
    });
    let mut reported = Vec::new();
    for _ in items {
        let msg = as_json(&flow.next("helperNode1").await);
        let elapsed = start.elapsed().as_millis();
        reported.push(msg["payload"].clone());
        let index = usize::try_from(msg["payload"].as_u64().expect("payload")).expect("small");
        let avr = u128::from(items[index].2);
        assert!(
            elapsed + 100 >= avr && elapsed <= avr + 400,
            "payload {index} at {elapsed} ms, expected {avr} ms: {msg}"
        );
    }
    sender.await.expect("sender");
    // Each message is reported once.
    let mut sent: Vec<String> = items
        .iter()
        .map(|(m, _, _)| m["payload"].to_string())
        .collect();
    let mut reported: Vec<String> = reported.iter().map(Json::to_string).collect();
    sent.sort();
    reported.sort();
    assert_eq!(reported, sent);
    flow.unload().await;
}

/// messaging API › should call done() when message is sent (mode: count)
#[tokio::test]
async fn messaging_api_should_call_done_when_message_is_sent_mode_count() {
    mapi_done_test(
        "count",
        2,
        0,
        2.0,
        &[(json!({"payload": 0}), 0, 0), (json!({"payload": 1}), 0, 0)],
    )
    .await;
}

/// messaging API › should call done() when reset (mode: count)
#[tokio::test]
async fn messaging_api_should_call_done_when_reset_mode_count() {
    mapi_done_test(
        "count",
        2,
        0,
        2.0,
        &[
            (json!({"payload": 0}), 0, 200),
            (json!({"payload": 1, "reset": true}), 200, 200),
        ],
    )
    .await;
}

/// messaging API › should call done() regardless of buffer overflow (mode: count)
#[tokio::test]
async fn messaging_api_should_call_done_regardless_of_buffer_overflow_mode_count() {
    mapi_done_test(
        "count",
        10,
        0,
        2.0,
        &[
            (json!({"payload": 0}), 0, 500),
            (json!({"payload": 1}), 100, 500),
            (json!({"payload": 2}), 500, 500),
        ],
    )
    .await;
}

/// messaging API › should call done() when message is sent (mode: interval)
#[tokio::test]
async fn messaging_api_should_call_done_when_message_is_sent_mode_interval() {
    mapi_done_test(
        "interval",
        2,
        0,
        2.0,
        &[
            (json!({"payload": 0}), 0, 2000),
            (json!({"payload": 1}), 500, 2000),
        ],
    )
    .await;
}

/// messaging API › should call done() when reset (mode: interval)
#[tokio::test]
async fn messaging_api_should_call_done_when_reset_mode_interval() {
    mapi_done_test(
        "interval",
        2,
        0,
        2.0,
        &[
            (json!({"payload": 0}), 0, 200),
            (json!({"payload": 1, "reset": true}), 200, 200),
        ],
    )
    .await;
}

/// messaging API › should call done() regardless of buffer overflow (mode: interval)
#[tokio::test]
async fn messaging_api_should_call_done_regardless_of_buffer_overflow_mode_interval() {
    mapi_done_test(
        "interval",
        2,
        0,
        2.0,
        &[
            (json!({"payload": 0}), 0, 500),
            (json!({"payload": 1}), 100, 500),
            (json!({"payload": 2}), 500, 500),
        ],
    )
    .await;
}

/// messaging API › should call done() when message is sent (mode: concat)
#[tokio::test]
async fn messaging_api_should_call_done_when_message_is_sent_mode_concat() {
    mapi_done_test(
        "concat",
        2,
        0,
        2.0,
        &[
            (
                json!({"topic": "TA", "payload": 0, "parts": {"id": "TA", "index": 0, "count": 2}}),
                0,
                1000,
            ),
            (
                json!({"topic": "TA", "payload": 1, "parts": {"id": "TA", "index": 1, "count": 2}}),
                1000,
                1000,
            ),
        ],
    )
    .await;
}

/// messaging API › should call done() when reset (mode: concat)
#[tokio::test]
async fn messaging_api_should_call_done_when_reset_mode_concat() {
    mapi_done_test(
        "concat",
        2,
        0,
        2.0,
        &[
            (
                json!({"topic": "TA", "payload": 0, "parts": {"id": "TA", "index": 0, "count": 2}}),
                0,
                1000,
            ),
            (json!({"payload": 1, "reset": true}), 1000, 1000),
        ],
    )
    .await;
}

/// messaging API › should call done() regardless of buffer overflow (mode: concat)
#[tokio::test]
async fn messaging_api_should_call_done_regardless_of_buffer_overflow_mode_concat() {
    mapi_done_test(
        "concat",
        2,
        0,
        2.0,
        &[
            (
                json!({"topic": "TA", "payload": 0, "parts": {"id": "TA", "index": 0, "count": 3}}),
                0,
                1000,
            ),
            (
                json!({"topic": "TA", "payload": 0, "parts": {"id": "TA", "index": 1, "count": 3}}),
                500,
                1000,
            ),
            (
                json!({"topic": "TA", "payload": 0, "parts": {"id": "TA", "index": 2, "count": 3}}),
                1000,
                1000,
            ),
        ],
    )
    .await;
}
