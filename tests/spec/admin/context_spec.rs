//! The editor's Context sidebar endpoints (`context/global`, `context/flow/:id`,
//! `context/node/:id`), as Node-RED's `test/unit/@node-red/runtime/lib/api/context_spec.js`
//! describes them.

use serde_json::{Value as Json, json};

use super::support::{Server, request};
use ferrite_runtime::Value;

/// A tab `t1` with a running node `d1`, a subflow instance `s1` and two memory stores.
fn stores_and_flow() -> (Json, Json) {
    let settings = json!({
        "contextStorage": {"default": "memory", "memory": "memory", "other": "memory"},
        "functionGlobalContext": {"seeded": 1}
    });
    let flows = json!([
        {"id": "t1", "type": "tab", "label": "Flow 1"},
        {"id": "sf", "type": "subflow", "name": "SF", "in": [], "out": []},
        {"id": "d1", "type": "debug", "z": "t1", "wires": []},
        {"id": "s1", "type": "subflow:sf", "z": "t1", "wires": []}
    ]);
    (settings, flows)
}

fn set(server: &Server, scope: &str, key: &str, value: Json, store: &str) {
    server
        .runtime
        .context()
        .set(scope, key, Some(Value::from_json(value)), Some(store))
        .expect("set context");
}

async fn delete(server: &Server, path: &str) -> u16 {
    request("DELETE", &server.url(path), &[], None).await.status
}

/// Global context lists every store with encoded values; functionGlobalContext values are
/// shown in the default store only.
#[tokio::test]
async fn global_context_lists_every_store_encoded() {
    let (settings, flows) = stores_and_flow();
    let server = Server::with(settings, flows).await;
    set(&server, "global", "count", json!(7), "memory");
    set(&server, "global", "seeded", json!(1), "other");
    set(&server, "global", "name", json!("abc"), "other");

    let reply = server.get("context/global").await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.json(),
        json!({
            "memory": {
                "seeded": {"msg": "1", "format": "number"},
                "count": {"msg": "7", "format": "number"},
            },
            "other": {"name": {"msg": "abc", "format": "string[3]"}},
        })
    );

    let only = server
        .get("context/global?store=other&keysOnly")
        .await
        .json();
    assert_eq!(
        only,
        json!({"other": {"keys": [{"key": "seeded"}, {"key": "name"}]}})
    );
}

/// Flow and node context are found by flow id and node id (node context is keyed by node
/// and flow inside the runtime).
#[tokio::test]
async fn flow_and_node_context_are_found_by_id() {
    let (settings, flows) = stores_and_flow();
    let server = Server::with(settings, flows).await;
    set(&server, "t1", "f", json!({"a": [1, 2]}), "memory");
    set(&server, "d1:t1", "n", json!(true), "memory");

    let flow = server.get("context/flow/t1?store=memory").await.json();
    assert_eq!(
        flow,
        json!({"memory": {"f": {"msg": "{\"a\":[1,2]}", "format": "Object"}}})
    );
    let node = server.get("context/node/d1").await.json();
    assert_eq!(
        node,
        json!({"memory": {"n": {"msg": "true", "format": "boolean"}}, "other": {}})
    );
}

/// For a subflow instance node the instance's own context is shown.
#[tokio::test]
async fn subflow_instance_node_shows_the_instance_context() {
    let (settings, flows) = stores_and_flow();
    let server = Server::with(settings, flows).await;
    set(&server, "s1", "inner", json!("x"), "memory");
    let reply = server.get("context/node/s1/inner").await.json();
    assert_eq!(reply, json!({"msg": "x", "format": "string[1]"}));
}

/// One key gives its encoded value, naming the store when it is not the default; a
/// missing key is `undefined`.
#[tokio::test]
async fn a_key_gives_its_encoded_value() {
    let (settings, flows) = stores_and_flow();
    let server = Server::with(settings, flows).await;
    set(&server, "global", "obj", json!({"a": {"b": 2}}), "other");
    set(&server, "global", "count", json!(3), "memory");

    assert_eq!(
        server.get("context/global/count").await.json(),
        json!({"msg": "3", "format": "number"})
    );
    assert_eq!(
        server.get("context/global/obj?store=other").await.json(),
        json!({"msg": "{\"a\":{\"b\":2}}", "format": "Object", "store": "other"})
    );
    assert_eq!(
        server
            .get("context/global/obj.a.b?store=other")
            .await
            .json(),
        json!({"msg": "2", "format": "number", "store": "other"})
    );
    assert_eq!(
        server.get("context/global/missing").await.json(),
        json!({"msg": "(undefined)", "format": "undefined"})
    );
}

/// keysOnly on a key lists its properties with their formats, for the sidebar's tree.
#[tokio::test]
async fn keys_only_on_a_key_lists_its_properties() {
    let (settings, flows) = stores_and_flow();
    let server = Server::with(settings, flows).await;
    set(
        &server,
        "t1",
        "obj",
        json!({"list": [1, 2, 3], "sub": {"x": 1}, "n": 5}),
        "memory",
    );
    set(&server, "t1", "list", json!([1, 2]), "memory");
    assert_eq!(
        server.get("context/flow/t1/obj?keysOnly").await.json(),
        json!({"memory": {"format": "object", "keys": [
            {"key": "list", "format": "array[3]", "length": 3},
            {"key": "sub", "format": "object"},
            {"key": "n"},
        ]}})
    );
    assert_eq!(
        server.get("context/flow/t1/list?keysOnly").await.json(),
        json!({"memory": {"format": "array[2]"}})
    );
}

/// DELETE removes a key (204) from the named store only.
#[tokio::test]
async fn delete_removes_a_key() {
    let (settings, flows) = stores_and_flow();
    let server = Server::with(settings, flows).await;
    set(&server, "t1", "gone", json!(1), "other");
    set(&server, "t1", "gone", json!(2), "memory");
    set(&server, "d1:t1", "n", json!(1), "memory");

    assert_eq!(
        delete(&server, "context/flow/t1/gone?store=other").await,
        204
    );
    assert_eq!(
        server.get("context/flow/t1").await.json(),
        json!({"memory": {"gone": {"msg": "2", "format": "number"}}, "other": {}})
    );
    assert_eq!(delete(&server, "context/node/d1/n").await, 204);
    assert_eq!(
        server.get("context/node/d1/n").await.json()["format"],
        "undefined"
    );
    assert_eq!(delete(&server, "context/global/seeded").await, 204);
    assert_eq!(
        server.get("context/global").await.json()["memory"],
        json!({})
    );
}

/// An unknown store is a 404 for reads and deletes.
#[tokio::test]
async fn an_unknown_store_is_404() {
    let (settings, flows) = stores_and_flow();
    let server = Server::with(settings, flows).await;
    for reply in [
        server.get("context/global?store=nope").await,
        server.get("context/flow/t1/k?store=nope").await,
        request(
            "DELETE",
            &server.url("context/global/k?store=nope"),
            &[],
            None,
        )
        .await,
    ] {
        assert_eq!(reply.status, 404);
        assert_eq!(reply.json()["code"], "not_found");
    }
}

/// A node that is not running has no context: `{}`; an unknown scope is a 404.
#[tokio::test]
async fn a_node_that_is_not_running_has_no_context() {
    let (settings, flows) = stores_and_flow();
    let server = Server::with(settings, flows).await;
    assert_eq!(server.get("context/node/nope").await.json(), json!({}));
    assert_eq!(server.get("context/node/nope/k").await.json(), json!({}));
    assert_eq!(delete(&server, "context/node/nope/k").await, 204);
    assert_eq!(server.get("context/subflow/x").await.status, 404);
}
