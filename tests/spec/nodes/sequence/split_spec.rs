//! Port of Node-RED test/nodes/core/sequence/17-split_spec.js (split and join).
//!
//! Not ported:
//! * JOIN "should handle too many pending messages for reduce mode": needs the
//!   `nodeMessageBufferMaxLength` setting, which `Settings` does not have (the node uses
//!   0 = unlimited).
//! * messaging API "should call done() when consolidated message is emitted (string, len)",
//!   "(Buffer, len)", "(Buffer, str)", "(Buffer, bin)", "should call done() when all messages
//!   are joined", "should call done() when the node is reset", "should call done() when timed
//!   out", "should call done() when all messages are reduced" and "should call done()
//!   regardless of buffer overflow": they time when Complete nodes see messages whose
//!   `done()` Node-RED holds back until a later message or timer; the runtime completes a
//!   message when `on_input` returns and has no way yet to complete it later (the last one
//!   also needs `nodeMessageBufferMaxLength`).
//!
//! Deviations: "should be loaded" cases read node internals in mocha; here they check the
//! deploy and the default behaviour those internals give. Buffers are built as `Value::Bytes`
//! (JSON has none). Where the mocha helper's assertion on a part cannot hold (it throws inside
//! the helper and is ignored, e.g. "should set msg.parts.ch when node.spltType is str"), the
//! port asserts what Node-RED actually sends. The env init-type case uses a tab env variable
//! instead of setting the process environment (unsafe in a multi-threaded test binary).

use std::time::Duration;

use ferrite_runtime::testing::TestFlow;
use ferrite_runtime::{Map, Msg, Value};
use serde_json::{Value as Json, json};

use crate::harness;

/// The message as JSON, for comparisons.
fn as_json(msg: &Msg) -> Json {
    msg.as_value().to_json()
}

/// The next `n` messages helper `id` receives.
async fn collect(flow: &mut TestFlow, id: &str, n: usize) -> Vec<Msg> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(flow.next(id).await);
    }
    out
}

/// `{payload: Buffer.from(text)}` plus `extra` properties.
fn buffer_msg(text: &str, extra: Json) -> Msg {
    let mut map = Map::new();
    map.insert(
        "payload".to_owned(),
        Value::Bytes(text.as_bytes().to_vec().into()),
    );
    if let Json::Object(extra) = extra {
        for (k, v) in extra {
            map.insert(k, Value::from(v));
        }
    }
    Msg::from_map(map)
}

/// `n1.receive(msg)` for a message built in Rust.
async fn receive_msg(flow: &TestFlow, id: &str, msg: Msg) {
    flow.runtime()
        .receive(id, msg)
        .await
        .expect("node is running");
}

/// The payload as bytes, failing when it is not a Buffer.
fn bytes(msg: &Msg) -> Vec<u8> {
    match msg.payload() {
        Some(Value::Bytes(b)) => b.to_vec(),
        other => panic!("payload should be a Buffer: {other:?}"),
    }
}

/// Asserts `id` failed to deploy with an issue naming `field`, so it never runs.
async fn assert_config_error(flow: &TestFlow, id: &str, field: &str) {
    let issue = flow
        .report()
        .issues
        .iter()
        .find(|i| i.node_id.as_deref() == Some(id))
        .unwrap_or_else(|| panic!("no deploy issue for {id}: {}", flow.report()));
    assert!(issue.message.contains(field), "{}", issue.message);
    assert!(
        !flow.runtime().running_ids().await.contains(&id.to_owned()),
        "{id} should not run"
    );
}

// ---- SPLIT node ---------------------------------------------------------------------------

/// should be loaded
#[tokio::test]
async fn should_be_loaded() {
    let mut flow = harness::load(json!([
        {"id": "splitNode1", "type": "split", "name": "splitNode", "wires": [["h"]]},
        {"id": "h", "type": "helper"}
    ]))
    .await;
    assert!(flow.report().is_clean(), "{}", flow.report());
    // The defaults: split `payload`, strings on "\n".
    flow.receive("splitNode1", json!({"payload": "a\nb"})).await;
    let parts = collect(&mut flow, "h", 2).await;
    assert_eq!(as_json(&parts[0])["payload"], "a");
    assert_eq!(as_json(&parts[1])["parts"]["ch"], "\n");
    flow.unload().await;
}

/// should split an array into multiple messages
#[tokio::test]
async fn should_split_an_array_into_multiple_messages() {
    let mut flow = harness::load(json!([
        {"id": "sn1", "type": "split", "wires": [["sn2"]]},
        {"id": "sn2", "type": "helper"}
    ]))
    .await;
    flow.receive("sn1", json!({"payload": [1, 2, 3, 4], "_msgid": "in"}))
        .await;
    let parts = collect(&mut flow, "sn2", 4).await;
    let mut ids = std::collections::HashSet::new();
    for (i, msg) in parts.iter().enumerate() {
        let m = as_json(msg);
        assert_eq!(m["parts"]["count"], 4);
        assert_eq!(m["parts"]["type"], "array");
        assert_eq!(m["parts"]["index"], i);
        assert_eq!(m["payload"], i + 1);
        assert_eq!(m["parts"]["id"], as_json(&parts[0])["parts"]["id"]);
        let id = msg.msgid().expect("each part has an id").to_owned();
        assert_ne!(id, "in");
        assert!(ids.insert(id), "each part gets its own _msgid");
    }
    flow.unload().await;
}

/// should split an array on a sub-property into multiple messages
#[tokio::test]
async fn should_split_an_array_on_a_sub_property_into_multiple_messages() {
    let mut flow = harness::load(json!([
        {"id": "sn1", "type": "split", "property": "foo", "wires": [["sn2"]]},
        {"id": "sn2", "type": "helper"}
    ]))
    .await;
    flow.receive("sn1", json!({"foo": [1, 2, 3, 4]})).await;
    for (i, msg) in collect(&mut flow, "sn2", 4).await.iter().enumerate() {
        let m = as_json(msg);
        assert_eq!(m["parts"]["count"], 4);
        assert_eq!(m["parts"]["type"], "array");
        assert_eq!(m["parts"]["index"], i);
        assert_eq!(m["parts"]["property"], "foo");
        assert_eq!(m["foo"], i + 1);
    }
    flow.unload().await;
}

/// should split an array into multiple messages of a specified size
#[tokio::test]
async fn should_split_an_array_into_multiple_messages_of_a_specified_size() {
    let mut flow = harness::load(json!([
        {"id": "sn1", "type": "split", "wires": [["sn2"]], "arraySplt": 3, "arraySpltType": "len"},
        {"id": "sn2", "type": "helper"}
    ]))
    .await;
    flow.receive("sn1", json!({"payload": [1, 2, 3, 4]})).await;
    let parts = collect(&mut flow, "sn2", 2).await;
    let (a, b) = (as_json(&parts[0]), as_json(&parts[1]));
    assert_eq!(a["parts"]["count"], 2);
    assert_eq!(a["parts"]["type"], "array");
    assert_eq!(a["parts"]["len"], 3);
    assert_eq!(a["payload"], json!([1, 2, 3]));
    assert_eq!(b["parts"]["index"], 1);
    assert_eq!(b["payload"], json!([4]));
    flow.unload().await;
}

/// should split an object into pieces
#[tokio::test]
async fn should_split_an_object_into_pieces() {
    let mut flow = harness::load(json!([
        {"id": "sn1", "type": "split", "wires": [["sn2"]]},
        {"id": "sn2", "type": "helper"}
    ]))
    .await;
    flow.receive(
        "sn1",
        json!({"topic": "foo", "payload": {"a": 1, "b": "2", "c": true}}),
    )
    .await;
    let expected = [("a", json!(1)), ("b", json!("2")), ("c", json!(true))];
    for (i, msg) in collect(&mut flow, "sn2", 3).await.iter().enumerate() {
        let m = as_json(msg);
        assert_eq!(m["parts"]["type"], "object");
        assert_eq!(m["parts"]["key"], expected[i].0);
        assert_eq!(m["parts"]["count"], 3);
        assert_eq!(m["parts"]["index"], i);
        assert_eq!(m["topic"], "foo");
        assert_eq!(m["payload"], expected[i].1);
    }
    flow.unload().await;
}

/// should split an object sub property into pieces
#[tokio::test]
async fn should_split_an_object_sub_property_into_pieces() {
    let mut flow = harness::load(json!([
        {"id": "sn1", "type": "split", "property": "foo.bar", "wires": [["sn2"]]},
        {"id": "sn2", "type": "helper"}
    ]))
    .await;
    flow.receive(
        "sn1",
        json!({"topic": "foo", "foo": {"bar": {"a": 1, "b": "2", "c": true}}}),
    )
    .await;
    let expected = [json!(1), json!("2"), json!(true)];
    for (i, msg) in collect(&mut flow, "sn2", 3).await.iter().enumerate() {
        let m = as_json(msg);
        assert_eq!(m["parts"]["type"], "object");
        assert!(m["parts"]["key"].is_string());
        assert_eq!(m["parts"]["count"], 3);
        assert_eq!(m["parts"]["index"], i);
        assert_eq!(m["parts"]["property"], "foo.bar");
        assert_eq!(m["topic"], "foo");
        assert_eq!(m["foo"]["bar"], expected[i]);
    }
    flow.unload().await;
}

/// should split an object into pieces and overwrite their topics
#[tokio::test]
async fn should_split_an_object_into_pieces_and_overwrite_their_topics() {
    let mut flow = harness::load(json!([
        {"id": "sn1", "type": "split", "addname": "topic", "wires": [["sn2"]]},
        {"id": "sn2", "type": "helper"}
    ]))
    .await;
    flow.receive(
        "sn1",
        json!({"topic": "foo", "payload": {"a": 1, "b": "2", "c": true}}),
    )
    .await;
    let expected = [("a", json!(1)), ("b", json!("2")), ("c", json!(true))];
    for (i, msg) in collect(&mut flow, "sn2", 3).await.iter().enumerate() {
        let m = as_json(msg);
        assert_eq!(m["parts"]["type"], "object");
        assert_eq!(m["parts"]["index"], i);
        assert_eq!(m["payload"], expected[i].1);
        assert_eq!(m["topic"], expected[i].0);
    }
    flow.unload().await;
}

/// should split a string into new-lines
#[tokio::test]
async fn should_split_a_string_into_new_lines() {
    let mut flow = harness::load(json!([
        {"id": "sn1", "type": "split", "wires": [["sn2"]]},
        {"id": "sn2", "type": "helper"}
    ]))
    .await;
    flow.receive("sn1", json!({"payload": "Da\nve\n \nCJ"}))
        .await;
    let expected = ["Da", "ve", " ", "CJ"];
    for (i, msg) in collect(&mut flow, "sn2", 4).await.iter().enumerate() {
        let m = as_json(msg);
        assert_eq!(m["parts"]["count"], 4);
        assert_eq!(m["parts"]["type"], "string");
        assert_eq!(m["parts"]["index"], i);
        assert_eq!(m["payload"], expected[i]);
    }
    flow.unload().await;
}

/// should split a string on a specified char
#[tokio::test]
async fn should_split_a_string_on_a_specified_char() {
    let mut flow = harness::load(json!([
        {"id": "sn1", "type": "split", "wires": [["sn2"]], "splt": "\n"},
        {"id": "sn2", "type": "helper"}
    ]))
    .await;
    flow.receive("sn1", json!({"payload": "1\n2\n3"})).await;
    for (i, msg) in collect(&mut flow, "sn2", 3).await.iter().enumerate() {
        let m = as_json(msg);
        assert_eq!(m["parts"]["count"], 3);
        assert_eq!(m["parts"]["ch"], "\n");
        assert_eq!(m["parts"]["index"], i);
        assert_eq!(m["parts"]["type"], "string");
        assert_eq!(m["payload"], (i + 1).to_string());
    }
    flow.unload().await;
}

/// should split a string into lengths
#[tokio::test]
async fn should_split_a_string_into_lengths() {
    let mut flow = harness::load(json!([
        {"id": "sn1", "type": "split", "wires": [["sn2"]], "splt": "2", "spltType": "len"},
        {"id": "sn2", "type": "helper"}
    ]))
    .await;
    flow.receive("sn1", json!({"payload": "12345678"})).await;
    let expected = ["12", "34", "56", "78"];
    for (i, msg) in collect(&mut flow, "sn2", 4).await.iter().enumerate() {
        let m = as_json(msg);
        assert_eq!(m["parts"]["count"], 4);
        assert_eq!(m["parts"]["ch"], "");
        assert_eq!(m["parts"]["index"], i);
        assert_eq!(m["parts"]["type"], "string");
        assert_eq!(m["payload"], expected[i]);
    }
    flow.unload().await;
}

/// should split a string on a specified char in stream mode
#[tokio::test]
async fn should_split_a_string_on_a_specified_char_in_stream_mode() {
    let mut flow = harness::load(json!([
        {"id": "sn1", "type": "split", "wires": [["sn2"]], "splt": "\n", "stream": true},
        {"id": "sn2", "type": "helper"}
    ]))
    .await;
    flow.receive("sn1", json!({"payload": "1\n2\n3\n"})).await;
    flow.receive("sn1", json!({"payload": "4\n5\n6\n"})).await;
    for (i, msg) in collect(&mut flow, "sn2", 6).await.iter().enumerate() {
        let m = as_json(msg);
        assert_eq!(m["parts"]["ch"], "\n");
        assert_eq!(m["parts"]["index"], i);
        assert_eq!(m["parts"]["type"], "string");
        assert!(m["parts"].get("count").is_none(), "no count in stream mode");
        assert_eq!(m["payload"], (i + 1).to_string());
    }
    flow.expect_nothing("sn2", Duration::from_millis(50)).await;
    flow.unload().await;
}

/// should split a buffer into lengths
#[tokio::test]
async fn should_split_a_buffer_into_lengths() {
    let mut flow = harness::load(json!([
        {"id": "sn1", "type": "split", "wires": [["sn2"]], "splt": "2", "spltType": "len"},
        {"id": "sn2", "type": "helper"}
    ]))
    .await;
    receive_msg(&flow, "sn1", buffer_msg("12345678", json!({}))).await;
    let expected = ["12", "34", "56", "78"];
    for (i, msg) in collect(&mut flow, "sn2", 4).await.iter().enumerate() {
        let m = as_json(msg);
        assert_eq!(m["parts"]["count"], 4);
        assert_eq!(m["parts"]["index"], i);
        assert_eq!(m["parts"]["type"], "buffer");
        assert_eq!(bytes(msg), expected[i].as_bytes());
    }
    flow.unload().await;
}

/// should split a buffer on another buffer (streaming)
#[tokio::test]
async fn should_split_a_buffer_on_another_buffer_streaming() {
    let mut flow = harness::load(json!([
        {"id": "sn1", "type": "split", "wires": [["sn2"]], "splt": "[52]", "spltType": "bin", "stream": true},
        {"id": "sn2", "type": "helper"}
    ]))
    .await;
    receive_msg(&flow, "sn1", buffer_msg("123412", json!({}))).await;
    receive_msg(&flow, "sn1", buffer_msg("341234", json!({}))).await;
    for (i, msg) in collect(&mut flow, "sn2", 3).await.iter().enumerate() {
        let m = as_json(msg);
        assert_eq!(m["parts"]["index"], i);
        assert_eq!(m["parts"]["type"], "buffer");
        assert_eq!(m["parts"]["ch"], json!([52]));
        assert_eq!(bytes(msg), b"123");
    }
    flow.expect_nothing("sn2", Duration::from_millis(50)).await;
    flow.unload().await;
}

/// should handle invalid spltType (not an array)
#[tokio::test]
async fn should_handle_invalid_splttype_not_an_array() {
    let mut flow = harness::load(json!([
        {"id": "sn1", "type": "split", "splt": "1", "spltType": "bin", "wires": [["sn2"]]},
        {"id": "sn2", "type": "helper"}
    ]))
    .await;
    assert_config_error(&flow, "sn1", "splt").await;
    flow.expect_nothing("sn2", Duration::from_millis(20)).await;
    flow.unload().await;
}

/// should handle invalid splt length
#[tokio::test]
async fn should_handle_invalid_splt_length() {
    let mut flow = harness::load(json!([
        {"id": "sn1", "type": "split", "splt": 0, "spltType": "len", "wires": [["sn2"]]},
        {"id": "sn2", "type": "helper"}
    ]))
    .await;
    assert_config_error(&flow, "sn1", "invalid split length").await;
    flow.expect_nothing("sn2", Duration::from_millis(20)).await;
    flow.unload().await;
}

/// should handle invalid array splt length
#[tokio::test]
async fn should_handle_invalid_array_splt_length() {
    let mut flow = harness::load(json!([
        {"id": "sn1", "type": "split", "arraySplt": 0, "arraySpltType": "len", "wires": [["sn2"]]},
        {"id": "sn2", "type": "helper"}
    ]))
    .await;
    assert_config_error(&flow, "sn1", "invalid array split length").await;
    flow.expect_nothing("sn2", Duration::from_millis(20)).await;
    flow.unload().await;
}

/// should ceil count value when msg.payload type is string
#[tokio::test]
async fn should_ceil_count_value_when_msg_payload_type_is_string() {
    let mut flow = harness::load(json!([
        {"id": "sn1", "type": "split", "splt": "2", "spltType": "len", "wires": [["sn2"]]},
        {"id": "sn2", "type": "helper"}
    ]))
    .await;
    flow.receive("sn1", json!({"payload": "123"})).await;
    let parts = collect(&mut flow, "sn2", 2).await;
    for (i, (msg, text)) in parts.iter().zip(["12", "3"]).enumerate() {
        let m = as_json(msg);
        assert_eq!(m["parts"]["count"], 2);
        assert_eq!(m["parts"]["index"], i);
        assert_eq!(m["payload"], text);
    }
    flow.unload().await;
}

/// should handle spltBufferString value of undefined
#[tokio::test]
async fn should_handle_spltbufferstring_value_of_undefined() {
    let mut flow = harness::load(json!([
        {"id": "sn1", "type": "split", "wires": [["sn2"]], "splt": "[52]", "spltType": "bin"},
        {"id": "sn2", "type": "helper"}
    ]))
    .await;
    flow.receive("sn1", json!({"payload": "123"})).await;
    let m = as_json(&flow.next("sn2").await);
    assert_eq!(m["parts"]["index"], 0);
    assert_eq!(m["parts"]["count"], 1);
    assert_eq!(m["parts"]["ch"], json!([52]));
    assert_eq!(m["payload"], "123");
    flow.unload().await;
}

/// should ceil count value when msg.payload type is Buffer
#[tokio::test]
async fn should_ceil_count_value_when_msg_payload_type_is_buffer() {
    let mut flow = harness::load(json!([
        {"id": "sn1", "type": "split", "splt": "2", "spltType": "len", "wires": [["sn2"]]},
        {"id": "sn2", "type": "helper"}
    ]))
    .await;
    receive_msg(&flow, "sn1", buffer_msg("123", json!({}))).await;
    let parts = collect(&mut flow, "sn2", 2).await;
    for (i, (msg, text)) in parts.iter().zip(["12", "3"]).enumerate() {
        let m = as_json(msg);
        assert_eq!(m["parts"]["count"], 2);
        assert_eq!(m["parts"]["index"], i);
        assert_eq!(bytes(msg), text.as_bytes());
    }
    flow.unload().await;
}

/// should set msg.parts.ch when node.spltType is str
#[tokio::test]
async fn should_set_msg_parts_ch_when_node_splttype_is_str() {
    let mut flow = harness::load(json!([
        {"id": "sn1", "type": "split", "splt": "2", "spltType": "str", "stream": false, "wires": [["sn2"]]},
        {"id": "sn2", "type": "helper"}
    ]))
    .await;
    receive_msg(&flow, "sn1", buffer_msg("123", json!({}))).await;
    // Buffer "123" split on "2": "1" and "3" (the mocha check of a 2-byte first part throws
    // inside its helper and is never reported).
    let parts = collect(&mut flow, "sn2", 2).await;
    for (i, (msg, text)) in parts.iter().zip(["1", "3"]).enumerate() {
        let m = as_json(msg);
        assert_eq!(m["parts"]["ch"], "2");
        assert_eq!(m["parts"]["count"], 2);
        assert_eq!(m["parts"]["index"], i);
        assert_eq!(bytes(msg), text.as_bytes());
    }
    flow.unload().await;
}

// ---- messaging API (split) ----------------------------------------------------------------

/// The mocha `mapiDoneSplitTestHelper`: split → (no wires); complete and catch nodes
/// watching it report to a helper; the message reported done carries the sequence's `parts`.
async fn mapi_done_split(splt: Json, splt_type: &str, payload: Json, kind: &str) {
    let mut flow = harness::load(json!([
        {"id": "splitNode1", "type": "split", "splt": splt, "spltType": splt_type, "stream": false, "wires": [[]]},
        {"id": "completeNode1", "type": "complete", "scope": ["splitNode1"], "uncaught": false, "wires": [["helperNode1"]]},
        {"id": "catchNode1", "type": "catch", "scope": ["splitNode1"], "uncaught": false, "wires": [["helperNode1"]]},
        {"id": "helperNode1", "type": "helper", "wires": [[]]}
    ]))
    .await;
    flow.receive("splitNode1", json!({"seq": 0, "payload": payload}))
        .await;
    let msg = flow
        .next_within("helperNode1", Duration::from_millis(500))
        .await
        .expect("the complete node reports the message as done");
    assert!(msg.payload().is_some(), "{msg:?}");
    assert!(
        msg.get("complete").is_some(),
        "from the complete node: {msg:?}"
    );
    assert_eq!(as_json(&msg)["parts"]["type"], kind);
    flow.expect_nothing("helperNode1", Duration::from_millis(50))
        .await;
    flow.unload().await;
}

/// should call done() when message is sent (string)
#[tokio::test]
async fn should_call_done_when_message_is_sent_string() {
    mapi_done_split(json!(2), "len", json!("12345"), "string").await;
}

/// should call done() when message is sent (array)
#[tokio::test]
async fn should_call_done_when_message_is_sent_array() {
    mapi_done_split(json!(2), "len", json!([0, 1, 2, 3, 4]), "array").await;
}

/// should call done() when message is sent (object)
#[tokio::test]
async fn should_call_done_when_message_is_sent_object() {
    mapi_done_split(json!(2), "len", json!({"a": 1, "b": 2}), "object").await;
}
