//! The editor's settings: what Node-RED's `runtime/lib/api/settings.js` answers for
//! `GET settings` and `GET/POST settings/user` (`shared/reference/node-red-compat.md` 4.3).
//!
//! Per-user editor preferences (view options, palette state) are kept in the user
//! directory's `.config.users.json`, keyed by username and `_` for anonymous, as Node-RED
//! keeps them, so they survive a restart.

use std::path::PathBuf;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde_json::{Map, Value, json};

use super::assets::{EDITOR_VERSION, editor_languages};
use super::auth::User;
use super::{AdminState, ApiError};

/// Node-RED's file for per-user settings, in the user directory.
const USERS_FILE: &str = ".config.users.json";

/// The key of the user who is not logged in (no `adminAuth`).
const ANONYMOUS: &str = "_";

pub(super) fn routes() -> Router<AdminState> {
    Router::new()
        .route("/settings", get(runtime_settings))
        .route(
            "/settings/user",
            get(user_settings).post(save_user_settings),
        )
}

/// Errors reading or writing `.config.users.json`.
#[derive(Debug, thiserror::Error)]
enum UsersFileError {
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a JSON object: {source}")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("writing {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl From<UsersFileError> for ApiError {
    fn from(e: UsersFileError) -> Self {
        tracing::error!(error = %e, "User settings unavailable.");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "unexpected_error",
            e.to_string(),
        )
    }
}

/// `GET settings`.
async fn runtime_settings(
    State(state): State<AdminState>,
    user: Option<Extension<User>>,
) -> Json<Value> {
    let runtime = &state.runtime;
    let settings = runtime.settings();
    let (default_store, stores) = runtime.context().store_names();
    let theme = settings.editor_theme.clone().unwrap_or_else(|| json!({}));

    let mut editor_theme = Map::new();
    editor_theme.insert("languages".into(), json!(editor_languages()));
    // The welcome tour walks through features of a Node-RED install (palette manager,
    // projects) Ferrite does not have; a theme may still ask for it.
    editor_theme.insert("tours".into(), json!(false));
    if let Value::Object(given) = &theme {
        editor_theme.extend(given.clone());
    }
    // Projects need git-backed storage Ferrite does not provide.
    editor_theme.insert("projects".into(), json!({"enabled": false}));

    let flow_encryption = match &settings.credential_secret {
        None => "system",
        Some(Value::Bool(false)) => "disabled",
        Some(_) => "user",
    };
    let mut out = json!({
        "httpNodeRoot": "/",
        "version": EDITOR_VERSION,
        "context": {"default": default_store, "stores": stores},
        "libraries": [
            {"id": "local", "label": "editor:library.types.local", "user": false,
             "icon": "font-awesome/fa-hdd-o"},
            {"id": "examples", "label": "editor:library.types.examples", "user": false,
             "icon": "font-awesome/fa-life-ring", "types": ["flows"], "readOnly": true},
        ],
        "flowEncryptionType": flow_encryption,
        // No diagnostics report endpoint: the menu entry would fail.
        "diagnostics": {"enabled": false, "ui": false},
        "runtimeState": {"enabled": false, "ui": false},
        // Set, so the editor does not ask on first run; Ferrite sends nothing anywhere.
        "telemetryEnabled": false,
        // Nodes are compiled in: no palette manager.
        "externalModules": {"palette": {"allowInstall": false, "allowUpload": false}},
        "functionExternalModules": false,
        "functionTimeout": settings.function_timeout,
        "tlsConfigDisableLocalFiles": false,
        "editorTheme": editor_theme,
    });
    if let Some(code_editor) = theme.get("codeEditor").and_then(Value::as_object) {
        let mut code_editor = code_editor.clone();
        code_editor.entry("lib").or_insert_with(|| json!("monaco"));
        code_editor.entry("options").or_insert_with(|| json!({}));
        out["codeEditor"] = Value::Object(code_editor);
    }
    if let Some(Extension(user)) = user.filter(|_| super::auth::enabled(&state)) {
        out["user"] = json!({"username": user.username, "permissions": user.permissions});
    }
    Json(out)
}

fn user_key(user: Option<&Extension<User>>) -> String {
    user.map_or_else(|| ANONYMOUS.to_owned(), |u| u.username.clone())
}

/// `GET settings/user`: what this user saved, `{}` before the first save.
async fn user_settings(
    State(state): State<AdminState>,
    user: Option<Extension<User>>,
) -> Result<Json<Value>, ApiError> {
    let mut cache = state.shared.user_settings.lock().await;
    let users = loaded(&mut cache, users_file(&state)).await?;
    let saved = users.get(&user_key(user.as_ref())).cloned();
    Ok(Json(saved.unwrap_or_else(|| json!({}))))
}

/// `POST settings/user`: replaces this user's settings with the body (a JSON object).
async fn save_user_settings(
    State(state): State<AdminState>,
    user: Option<Extension<User>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let value: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request("invalid_request", format!("Not JSON: {e}")))?;
    if !value.is_object() {
        return Err(ApiError::bad_request(
            "invalid_request",
            "User settings must be a JSON object",
        ));
    }
    let file = users_file(&state);
    // Held across the write, so two saves cannot interleave their read-modify-write.
    let mut cache = state.shared.user_settings.lock().await;
    let users = loaded(&mut cache, file.clone()).await?;
    users.insert(user_key(user.as_ref()), value);
    if let Some(path) = file {
        write_users(&path, users).await?;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `.config.users.json` in the user directory; without one, settings live in memory only.
fn users_file(state: &AdminState) -> Option<PathBuf> {
    state
        .runtime
        .settings()
        .user_dir
        .as_ref()
        .map(|dir| dir.join(USERS_FILE))
}

/// The users' settings, read from `file` on first use.
async fn loaded(
    cache: &mut Option<Map<String, Value>>,
    file: Option<PathBuf>,
) -> Result<&mut Map<String, Value>, UsersFileError> {
    if cache.is_none() {
        let users = match file {
            Some(path) => read_users(path).await?,
            None => Map::new(),
        };
        *cache = Some(users);
    }
    Ok(cache.get_or_insert_with(Map::new))
}

async fn read_users(path: PathBuf) -> Result<Map<String, Value>, UsersFileError> {
    match tokio::fs::read(&path).await {
        Ok(bytes) => {
            serde_json::from_slice(&bytes).map_err(|source| UsersFileError::Parse { path, source })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Map::new()),
        Err(source) => Err(UsersFileError::Read { path, source }),
    }
}

/// Replaces the file whole, so a crash mid-write keeps the old one.
async fn write_users(
    path: &std::path::Path,
    users: &Map<String, Value>,
) -> Result<(), UsersFileError> {
    let write_error = |source| UsersFileError::Write {
        path: path.to_path_buf(),
        source,
    };
    let text =
        serde_json::to_vec_pretty(users).map_err(|e| write_error(std::io::Error::other(e)))?;
    let target = path.to_path_buf();
    tokio::task::spawn_blocking(move || crate::files::replace(&target, &text, false))
        .await
        .map_err(|e| write_error(std::io::Error::other(e)))?
        .map_err(write_error)
}
