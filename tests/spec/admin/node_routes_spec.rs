//! Admin routes of core nodes: `POST inject/:id` and the debug node's sidebar toggle. Titles
//! quote Node-RED's `test/nodes/core/common/20-inject_spec.js` and `21-debug_spec.js`
//! (`describe('post')`) where ported. What the editor would see is read from `/comms`.

use serde_json::{Value as Json, json};

use super::comms_spec::{CommsClient, inject_to_debug};
use super::support::{Server, request};

/// Injects `payload` through the editor's "inject now" with edited properties.
async fn inject(server: &Server, payload: &str) {
    let body = json!({"__user_inject_props__": [{"p": "payload", "v": payload, "vt": "str"}]});
    let reply = server.send_json("POST", "inject/i1", &[], &body).await;
    assert_eq!((reply.status, reply.text().as_str()), (200, "OK"));
}

/// Checks that `d1`'s sidebar output is off: an injected message shows on its status badge
/// (which the toggle does not gate) but not in the sidebar; once re-enabled it shows again.
async fn assert_sidebar_off(server: &Server, client: &mut CommsClient) {
    inject(server, "while off").await;
    // The node publishes its status before its sidebar entry: every event up to the
    // status, and on to the next injection's entry, is in bus order.
    client
        .message(|topic, data| topic == "status/d1" && data["text"] == "while off")
        .await;
    let reply = server
        .send_json("POST", "debug/d1/enable", &[], &json!({}))
        .await;
    assert_eq!(reply.status, 200);
    inject(server, "back on").await;
    let mut leaked = Vec::new();
    client
        .message_after(
            |topic, data| {
                if topic == "debug" {
                    leaked.push(data.clone());
                }
            },
            |topic, data| topic == "debug" && data["msg"] == "back on",
        )
        .await;
    assert_eq!(
        leaked,
        Vec::<Json>::new(),
        "nothing reached the sidebar while off"
    );
}

/// post › should inject message: the node receives an empty message and injects its
/// configured properties.
#[tokio::test]
async fn post_inject_injects_the_configured_message() {
    let server = Server::with(json!({}), inject_to_debug()).await;
    let mut client = CommsClient::ready(&server).await;
    let reply = server.send_json("POST", "inject/i1", &[], &json!({})).await;
    assert_eq!((reply.status, reply.text().as_str()), (200, "OK"));
    let debug = client.message(|topic, _| topic == "debug").await;
    assert_eq!(
        (&debug["msg"], &debug["topic"]),
        (&json!("hello"), &json!("t4"))
    );
}

/// post › should inject custom properties in posted message.
#[tokio::test]
async fn post_inject_uses_the_posted_user_properties() {
    let mut flow = inject_to_debug();
    flow[2]["complete"] = json!("true");
    let server = Server::with(json!({}), flow).await;
    let mut client = CommsClient::ready(&server).await;
    let body = json!({"__user_inject_props__": [
        {"p": "topic", "v": "t_override", "vt": "str"},
        {"p": "str1", "v": "1", "vt": "str"},
        {"p": "num1", "v": "1", "vt": "num"},
        {"p": "bool1", "v": "true", "vt": "bool"},
        {"p": "jsonata1", "v": "\"A\" & \"B\"", "vt": "jsonata"},
    ]});
    let reply = server.send_json("POST", "inject/i1", &[], &body).await;
    assert_eq!(reply.status, 200);
    let debug = client.message(|topic, _| topic == "debug").await;
    let mut msg: Json = serde_json::from_str(debug["msg"].as_str().expect("msg")).expect("JSON");
    msg.as_object_mut().expect("object").shift_remove("_msgid");
    assert_eq!(
        msg,
        json!({"topic": "t_override", "str1": "1", "num1": 1, "bool1": true, "jsonata1": "AB"}),
        "the payload is gone and the posted properties are set"
    );
}

/// post › should fail for invalid node.
#[tokio::test]
async fn post_inject_for_an_unknown_node_is_404() {
    let server = Server::start().await;
    let reply = server
        .send_json("POST", "inject/invalid", &[], &json!({}))
        .await;
    assert_eq!(reply.status, 404);
    assert_eq!(reply.json()["code"], "not_found");
}

/// A body that is not JSON is a 400 with `{code, message}`.
#[tokio::test]
async fn post_inject_with_a_broken_body_is_400() {
    let server = Server::with(json!({}), inject_to_debug()).await;
    let reply = request(
        "POST",
        &server.url("inject/i1"),
        &[("content-type", "application/json")],
        Some(b"{nope".to_vec()),
    )
    .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["code"], "invalid_request");
}

/// Disabling a debug node stops its sidebar messages (201, as Node-RED answers), and
/// enabling it brings them back (200).
#[tokio::test]
async fn debug_disable_stops_sidebar_messages() {
    let server = Server::with(json!({}), inject_to_debug()).await;
    let mut client = CommsClient::ready(&server).await;
    let reply = request("POST", &server.url("debug/d1/disable"), &[], None).await;
    assert_eq!((reply.status, reply.text().as_str()), (201, "Created"));
    assert_sidebar_off(&server, &mut client).await;
}

/// The editor's bulk toggle: jQuery posts the ids as a form (`nodes[]=d1`).
#[tokio::test]
async fn bulk_debug_disable_from_a_form_stops_sidebar_messages() {
    let server = Server::with(json!({}), inject_to_debug()).await;
    let mut client = CommsClient::ready(&server).await;
    let reply = request(
        "POST",
        &server.url("debug/disable"),
        &[(
            "content-type",
            "application/x-www-form-urlencoded; charset=UTF-8",
        )],
        Some(b"nodes%5B%5D=d1&nodes%5B%5D=gone".to_vec()),
    )
    .await;
    assert_eq!(reply.status, 201);
    assert_sidebar_off(&server, &mut client).await;
}

/// post › should return success for bulk disable (JSON body).
#[tokio::test]
async fn bulk_debug_disable_from_json_stops_sidebar_messages() {
    let server = Server::with(json!({}), inject_to_debug()).await;
    let mut client = CommsClient::ready(&server).await;
    let reply = server
        .send_json("POST", "debug/disable", &[], &json!({"nodes": ["d1"]}))
        .await;
    assert_eq!(reply.status, 201);
    assert_sidebar_off(&server, &mut client).await;
}

/// post › should return 400 for invalid bulk disable.
#[tokio::test]
async fn bulk_debug_toggle_without_nodes_is_400() {
    let server = Server::with(json!({}), inject_to_debug()).await;
    for body in [json!({}), json!({"nodes": "d1"})] {
        let reply = server.send_json("POST", "debug/disable", &[], &body).await;
        assert_eq!(reply.status, 400, "{body}");
        assert_eq!(reply.json()["code"], "invalid_request");
    }
    let reply = request("POST", &server.url("debug/enable"), &[], None).await;
    assert_eq!(reply.status, 400);
}

/// post › should return 404 on invalid state; post › should return 404 on invalid node.
#[tokio::test]
async fn debug_toggle_of_an_unknown_state_or_node_is_404() {
    let server = Server::with(json!({}), inject_to_debug()).await;
    for path in ["debug/d1/foobar", "debug/n99/enable", "debug/foobar"] {
        let reply = server
            .send_json("POST", path, &[], &json!({"nodes": ["d1"]}))
            .await;
        assert_eq!(reply.status, 404, "{path}");
        assert_eq!(reply.json()["code"], "not_found", "{path}");
    }
}
