//! The palette as the editor loads it (`runtime/src/admin/nodes.rs`): GET nodes in both
//! formats, node catalogs and plugins, over real HTTP.

use std::collections::BTreeMap;

use serde_json::json;

use super::support::{Server, request};

const JSON: &[(&str, &str)] = &[("accept", "application/json")];
const HTML: &[(&str, &str)] = &[("accept", "text/html")];

/// Types the editor defines itself (`RED.nodes` knows them without a definition); their
/// set's file is loaded but registers nothing (`05-junction.html` is a comment).
const EDITOR_BUILT_IN: &[&str] = &["junction"];

/// The registry's types by set id.
fn registered_sets(server: &Server) -> BTreeMap<&'static str, Vec<&'static str>> {
    let mut sets: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for def in server.runtime.registry().defs() {
        sets.entry(def.set_id).or_default().push(def.type_name);
    }
    sets
}

async fn nodes_html(server: &Server, headers: &[(&str, &str)]) -> String {
    let reply = request("GET", &server.url("nodes"), headers, None).await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    reply.text()
}

/// GET nodes as JSON lists every registered node set with its types, once, as Node-RED
/// describes a node set.
#[tokio::test]
async fn nodes_json_lists_every_registered_node_set() {
    let server = Server::start().await;
    let reply = request("GET", &server.url("nodes"), JSON, None).await;
    assert_eq!(reply.status, 200);
    let list = reply.json();
    let list = list.as_array().expect("array");
    let expected = registered_sets(&server);
    assert_eq!(list.len(), expected.len(), "{list:?}");
    for set in list {
        let id = set["id"].as_str().expect("id");
        let types: Vec<&str> = set["types"]
            .as_array()
            .expect("types")
            .iter()
            .filter_map(|t| t.as_str())
            .collect();
        assert_eq!(Some(&types), expected.get(id), "{id}");
        let (module, name) = id.rsplit_once('/').expect("module/name");
        assert_eq!(set["module"], module);
        assert_eq!(set["name"], name);
        assert_eq!(set["enabled"], true);
        assert_eq!(set["local"], false);
        assert_eq!(set["user"], false);
        assert!(set["version"].is_string(), "{set}");
    }
    let inject = list
        .iter()
        .find(|s| s["id"] == "node-red/inject")
        .expect("inject");
    assert_eq!(inject["version"], "5.0.7");
    let json_set = list
        .iter()
        .find(|s| s["id"] == "node-red/JSON")
        .expect("JSON");
    assert_eq!(json_set["types"], json!(["json"]));
}

/// Every registered node type has its editor definition in GET nodes HTML, after the
/// marker of its set, so the palette shows it and flows using it are not "unknown".
#[tokio::test]
async fn every_registered_type_has_an_editor_definition() {
    let server = Server::start().await;
    let html = nodes_html(&server, HTML).await;
    let mut missing = Vec::new();
    for (set, types) in registered_sets(&server) {
        let marker = format!("\n<!-- --- [red-module:{set}] --- -->\n");
        let Some(start) = html.find(&marker) else {
            missing.push(set.to_owned());
            continue;
        };
        // The set's chunk runs to the next marker.
        let chunk = &html[start + marker.len()..];
        let chunk = &chunk[..chunk.find("<!-- --- [red-module:").unwrap_or(chunk.len())];
        for ty in types.into_iter().filter(|ty| !EDITOR_BUILT_IN.contains(ty)) {
            let registers = [
                format!("RED.nodes.registerType('{ty}'"),
                format!("RED.nodes.registerType(\"{ty}\""),
            ];
            if !registers.iter().any(|r| chunk.contains(r.as_str())) {
                missing.push(format!("{set}: {ty}"));
            }
        }
    }
    assert!(missing.is_empty(), "no editor definition for {missing:?}");
}

/// The HTML carries each core set's help in the asked language (Accept-Language), falling
/// back to en-US, and only sets Ferrite registers.
#[tokio::test]
async fn nodes_html_has_help_in_the_asked_language_and_only_registered_sets() {
    let server = Server::start().await;
    let english = nodes_html(&server, HTML).await;
    assert!(english.contains("<script type=\"text/html\" data-help-name=\"inject\">"));
    assert!(english.contains("data-help-name=\"rhai\""));
    assert!(english.contains("data-help-name=\"aedes broker\""));
    let german = nodes_html(
        &server,
        &[
            ("accept", "text/html"),
            ("accept-language", "de-DE,de;q=0.9"),
        ],
    )
    .await;
    assert_ne!(english, german, "the German help is not used");
    assert!(german.contains("data-help-name=\"inject\""));
    let unknown = nodes_html(
        &server,
        &[("accept", "text/html"), ("accept-language", "xx")],
    )
    .await;
    assert_eq!(unknown, english);
    // Core definitions Ferrite does not implement stay out of the palette.
    for absent in ["node-red/exec", "node-red/function", "node-red/httpin"] {
        assert!(
            !english.contains(&format!("[red-module:{absent}]")),
            "{absent}"
        );
    }
    // The debug node's script reference, which the editor waits for, resolves.
    assert!(english.contains("src=\"debug/view/debug-utils.js\""));
    assert_eq!(server.get("debug/view/debug-utils.js").await.status, 200);
}

/// JSON only when Accept is exactly application/json: any other Accept gets the HTML.
#[tokio::test]
async fn nodes_are_json_only_for_exactly_application_json() {
    let server = Server::start().await;
    for accept in [
        &[("accept", "application/json, text/plain, */*")][..],
        &[("accept", "*/*")][..],
        &[][..],
    ] {
        let html = nodes_html(&server, accept).await;
        assert!(html.starts_with("\n<!-- --- [red-module:"), "{accept:?}");
    }
}

/// GET nodes/messages is `{}` (no non-core catalogs); a core set's catalog is node-red's
/// messages in the asked language; other sets' catalogs are `{}`.
#[tokio::test]
async fn node_catalogs_answer_for_every_language() {
    let server = Server::start().await;
    for lng in ["en-US", "de", "xx"] {
        let all = server.get(&format!("nodes/messages?lng={lng}")).await;
        assert_eq!(all.status, 200);
        assert_eq!(all.json(), json!({}), "{lng}");
    }
    let english = server
        .get("nodes/node-red/inject/messages?lng=en-US")
        .await
        .json();
    assert_eq!(english["inject"]["inject"], "inject");
    let german = server
        .get("nodes/node-red/inject/messages?lng=de")
        .await
        .json();
    assert!(german["inject"].is_object());
    assert_ne!(german, english);
    assert_eq!(
        server
            .get("nodes/ferrite/rhai/messages?lng=en-US")
            .await
            .json(),
        json!({})
    );
}

/// GET plugins: `[]` as JSON, an empty HTML text otherwise; plugins/messages is `{}`.
#[tokio::test]
async fn plugins_answer_both_formats_and_an_empty_catalog() {
    let server = Server::start().await;
    let json_reply = request("GET", &server.url("plugins"), JSON, None).await;
    assert_eq!(json_reply.status, 200);
    assert_eq!(json_reply.json(), json!([]));
    let html_reply = request("GET", &server.url("plugins"), HTML, None).await;
    assert_eq!(html_reply.status, 200);
    assert_eq!(
        html_reply.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(html_reply.text(), "");
    let messages = server.get("plugins/messages?lng=en-US").await;
    assert_eq!(messages.status, 200);
    assert_eq!(messages.json(), json!({}));
}
