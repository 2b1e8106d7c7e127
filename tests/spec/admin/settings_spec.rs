//! The editor's settings (`runtime/src/admin/settings.rs`): GET settings and the per-user
//! settings the editor saves, over real HTTP.

use serde_json::json;

use super::support::{Server, request};

/// GET settings answers what the editor needs to start: version, context stores,
/// libraries, no telemetry question, no palette manager, no tours, no projects.
#[tokio::test]
async fn settings_describe_the_runtime_to_the_editor() {
    let server = Server::start().await;
    let reply = server.get("settings").await;
    assert_eq!(reply.status, 200);
    let settings = reply.json();
    assert_eq!(settings["httpNodeRoot"], "/");
    assert_eq!(settings["version"], "5.0.7");
    assert_eq!(settings["context"]["default"], "memory");
    assert_eq!(settings["context"]["stores"], json!(["memory"]));
    assert_eq!(settings["libraries"][0]["id"], "local");
    assert_eq!(settings["libraries"][1]["id"], "examples");
    assert_eq!(settings["flowEncryptionType"], "system");
    assert_eq!(
        settings["runtimeState"],
        json!({"enabled": false, "ui": false})
    );
    assert_eq!(settings["telemetryEnabled"], false);
    assert_eq!(
        settings["externalModules"]["palette"],
        json!({"allowInstall": false, "allowUpload": false})
    );
    assert_eq!(settings["functionExternalModules"], false);
    assert_eq!(settings["tlsConfigDisableLocalFiles"], false);
    assert_eq!(settings["editorTheme"]["tours"], false);
    assert_eq!(
        settings["editorTheme"]["projects"],
        json!({"enabled": false})
    );
    let languages = settings["editorTheme"]["languages"]
        .as_array()
        .expect("languages");
    assert!(languages.contains(&json!("en-US")) && languages.contains(&json!("de")));
    assert!(settings.get("user").is_none(), "no user without adminAuth");
    assert!(settings.get("codeEditor").is_none());
}

/// editorTheme from the settings file is passed on (projects stay off), codeEditor gets
/// its defaults, context stores and the credential secret are reflected.
#[tokio::test]
async fn settings_reflect_the_settings_file() {
    let server = Server::with(
        json!({
            "editorTheme": {
                "header": {"title": "Line 3"},
                "tours": true,
                "projects": {"enabled": true},
                "codeEditor": {"lib": "ace"},
            },
            "contextStorage": {"default": {"module": "memory"}, "other": {"module": "memory"}},
            "credentialSecret": "s3cret",
            "functionTimeout": 5,
        }),
        json!([]),
    )
    .await;
    let settings = server.get("settings").await.json();
    assert_eq!(settings["editorTheme"]["header"]["title"], "Line 3");
    assert_eq!(settings["editorTheme"]["tours"], true);
    assert_eq!(
        settings["editorTheme"]["projects"],
        json!({"enabled": false})
    );
    assert_eq!(settings["codeEditor"], json!({"lib": "ace", "options": {}}));
    assert_eq!(settings["context"]["default"], "default");
    assert_eq!(settings["context"]["stores"], json!(["default", "other"]));
    assert_eq!(settings["flowEncryptionType"], "user");
    assert_eq!(settings["functionTimeout"], 5.0);

    let disabled = Server::with(json!({"credentialSecret": false}), json!([])).await;
    assert_eq!(
        disabled.get("settings").await.json()["flowEncryptionType"],
        "disabled"
    );
}

/// User settings start empty, are saved by POST (204), replaced by the next POST, kept
/// in .config.users.json under "_" (anonymous) and returned after a restart.
#[tokio::test]
async fn user_settings_are_saved_and_survive_a_restart() {
    let mut server = Server::start().await;
    let empty = server.get("settings/user").await;
    assert_eq!(empty.status, 200);
    assert_eq!(empty.json(), json!({}));

    let first = json!({"view": {"view-show-grid": true}});
    let saved = server.send_json("POST", "settings/user", &[], &first).await;
    assert_eq!(saved.status, 204, "{}", saved.text());
    assert_eq!(server.get("settings/user").await.json(), first);

    let second = json!({"view": {"view-show-grid": false, "view-snap-grid": true}, "editor": {}});
    let saved = server
        .send_json("POST", "settings/user", &[], &second)
        .await;
    assert_eq!(saved.status, 204);
    assert_eq!(server.get("settings/user").await.json(), second);

    let file = server.dir.path().join(".config.users.json");
    let on_disk: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&file).expect("users file")).expect("json");
    assert_eq!(on_disk, json!({"_": second}));

    let dir = std::mem::replace(&mut server.dir, tempfile::tempdir().expect("tempdir"));
    drop(server);
    let restarted = Server::in_dir(dir, json!({}), json!([])).await;
    assert_eq!(restarted.get("settings/user").await.json(), second);
}

/// A body that is not a JSON object is refused with 400 {code, message}, and nothing is saved.
#[tokio::test]
async fn user_settings_must_be_a_json_object() {
    let server = Server::start().await;
    for body in [&b"not json"[..], b"[1,2]", b"\"text\""] {
        let reply = request(
            "POST",
            &server.url("settings/user"),
            &[("content-type", "application/json")],
            Some(body.to_vec()),
        )
        .await;
        assert_eq!(reply.status, 400, "{}", String::from_utf8_lossy(body));
        assert_eq!(reply.json()["code"], "invalid_request");
        assert!(reply.json()["message"].is_string());
    }
    assert_eq!(server.get("settings/user").await.json(), json!({}));
    assert!(!server.dir.path().join(".config.users.json").exists());
}
