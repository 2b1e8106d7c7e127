//! The local library (Node-RED's `editor-api/lib/admin/library.js`), and its path checks.

use serde_json::json;

use super::support::{Server, request};

/// A flow saved under a folder is listed ({fn}) and read back as JSON.
#[tokio::test]
async fn a_saved_flow_is_listed_and_read_back() {
    let server = Server::start().await;
    let flow = json!([{"id": "a", "type": "inject"}]);
    let saved = server
        .send_json("POST", "library/local/flows/dir1/f1", &[], &flow)
        .await;
    assert_eq!(saved.status, 204, "{}", saved.text());
    assert!(server.dir.path().join("lib/flows/dir1/f1.json").is_file());
    assert_eq!(
        server.get("library/local/flows/").await.json(),
        json!(["dir1"])
    );
    assert_eq!(
        server.get("library/local/flows").await.json(),
        json!(["dir1"])
    );
    assert_eq!(
        server.get("library/local/flows/dir1").await.json(),
        json!([{"fn": "f1.json"}])
    );
    let entry = server.get("library/local/flows/dir1/f1").await;
    assert_eq!(entry.header("content-type"), Some("application/json"));
    assert_eq!(entry.json(), flow);
}

/// Functions keep their meta as Node-RED's `// key: value` header; the listing shows it,
/// reading the entry gives the text alone.
#[tokio::test]
async fn a_function_entry_keeps_its_meta() {
    let server = Server::start().await;
    let body = json!({"text": "return msg;\n", "name": "G", "outputs": 1});
    let saved = server
        .send_json("POST", "library/local/functions/g1.js", &[], &body)
        .await;
    assert_eq!(saved.status, 204, "{}", saved.text());
    assert_eq!(
        server.get("library/local/functions").await.json(),
        json!([{"name": "G", "outputs": 1, "fn": "g1.js"}])
    );
    let entry = server.get("library/local/functions/g1.js").await;
    assert!(
        entry
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/plain"))
    );
    assert_eq!(entry.text(), "return msg;\n");
}

/// An empty library lists nothing; an unknown entry is 404; examples has no flows.
#[tokio::test]
async fn empty_and_unknown_entries() {
    let server = Server::start().await;
    assert_eq!(server.get("library/local/flows").await.json(), json!([]));
    let missing = server.get("library/local/flows/nothere").await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["code"], "not_found");
    assert_eq!(server.get("library/examples/flows").await.json(), json!([]));
}

/// A flows entry must be an array, and bodies must be JSON.
#[tokio::test]
async fn bad_library_bodies_are_400() {
    let server = Server::start().await;
    let reply = server
        .send_json("POST", "library/local/flows/x", &[], &json!({"a": 1}))
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["code"], "invalid_flows");
    let reply = request(
        "POST",
        &server.url("library/local/flows/x"),
        &[("content-type", "application/json")],
        Some(b"nope".to_vec()),
    )
    .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["code"], "invalid_json");
}

/// Paths can never leave the library folder: `..`, encoded `..` and `/`, backslashes,
/// absolute paths and NUL are refused (400 or 404), and nothing is written outside.
#[tokio::test]
async fn library_paths_cannot_escape_their_folder() {
    let server = Server::start().await;
    let secret = server.dir.path().join("secret.json");
    std::fs::write(&secret, "[\"secret\"]").expect("write");
    let attempts = [
        "library/local/flows/../../secret",
        "library/local/flows/%2e%2e/%2e%2e/secret",
        "library/local/flows/%2E%2E%2F%2E%2E%2Fsecret",
        "library/local/flows/..%2f..%2fsecret",
        "library/local/flows/a/..%5c..%5csecret",
        "library/local/flows//etc/passwd",
        "library/local/flows/%2Fetc%2Fpasswd",
        "library/local/flows/x%00.json",
        "library/local/..%2f..%2f/x",
        "library/local/%2e%2e/secret",
    ];
    for path in attempts {
        let read = request("GET", &server.url(path), &[], None).await;
        assert!(
            matches!(read.status, 400 | 404),
            "GET {path}: {}",
            read.status
        );
        assert!(
            !read.text().contains("secret\""),
            "GET {path}: {}",
            read.text()
        );
        let write = server.send_json("POST", path, &[], &json!(["x"])).await;
        assert!(
            matches!(write.status, 400 | 404),
            "POST {path}: {}",
            write.status
        );
    }
    assert_eq!(
        std::fs::read_to_string(&secret).expect("read"),
        "[\"secret\"]"
    );
    assert!(!server.dir.path().join("x.json").exists());
}
