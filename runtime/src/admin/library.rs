//! The editor's library: Node-RED's `editor-api/lib/admin/library.js` over the
//! localfilesystem storage's `lib/` folder.
//!
//! * `GET library/local/{type}/{path}`: a folder → `["sub", ..., {fn, ...meta}, ...]`; a file
//!   → its content (`application/json` for flows, the text without its meta header
//!   otherwise).
//! * `POST library/local/{type}/{path}`: flows take a flow array (kept as `<path>.json`);
//!   other types (`functions`, `templates`) take `{text, ...meta}`, kept as Node-RED keeps
//!   them: `// key: value` header lines, then the text.
//! * `GET library/examples/flows` → `[]`: Ferrite ships no example flows.
//!
//! Paths from requests can never leave `<userdir>/lib/<type>`: every segment must be a
//! plain name (no `..`, `.`, hidden names, NUL, backslash); axum has already decoded
//! `%2e%2e` and `%2f`, so encoded forms meet the same check.

use std::path::PathBuf;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Map, Value as Json};

use super::{AdminState, ApiError};

pub(super) fn routes() -> Router<AdminState> {
    Router::new()
        .route("/library/{library}/{kind}", get(get_root))
        .route("/library/{library}/{kind}/", get(get_root))
        .route(
            "/library/{library}/{kind}/{*path}",
            get(get_entry).post(post_entry),
        )
}

/// The flows library type: JSON arrays in `.json` files, no meta header.
const FLOWS: &str = "flows";

/// A request's library path, checked to stay inside its folder.
struct LibraryPath {
    kind: String,
    segments: Vec<String>,
}

fn invalid_path(why: &str) -> ApiError {
    ApiError::bad_request("invalid_path", format!("Invalid library path: {why}"))
}

fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && !name.contains(['\\', '\0', ':'])
        && name.chars().all(|c| !c.is_control())
}

impl LibraryPath {
    fn parse(library: &str, kind: &str, path: &str) -> Result<Self, ApiError> {
        if library != "local" {
            return Err(ApiError::not_found(format!("No library '{library}'")));
        }
        if !plain_name(kind) {
            return Err(invalid_path("bad type"));
        }
        if path.starts_with('/') {
            return Err(invalid_path("absolute path"));
        }
        // A trailing slash names the folder itself; any other empty segment is refused.
        let path = path.strip_suffix('/').unwrap_or(path);
        let segments: Vec<String> = if path.is_empty() {
            Vec::new()
        } else {
            path.split('/').map(str::to_owned).collect()
        };
        if let Some(bad) = segments.iter().find(|s| !plain_name(s)) {
            let why = if bad == ".." || bad == "." {
                "relative segment"
            } else {
                "not a plain name"
            };
            return Err(invalid_path(why));
        }
        Ok(Self {
            kind: kind.to_owned(),
            segments,
        })
    }

    /// `<userdir>/lib/<type>/<segments>`.
    fn folder_path(&self, state: &AdminState) -> Result<PathBuf, ApiError> {
        let dir = state
            .runtime
            .settings()
            .user_dir
            .clone()
            .ok_or_else(|| ApiError::not_found("No user directory: the library is off"))?;
        let mut path = dir.join("lib").join(&self.kind);
        path.extend(&self.segments);
        Ok(path)
    }

    /// Where an entry is kept: flows get `.json` added, as Node-RED does.
    fn file_path(&self, state: &AdminState) -> Result<PathBuf, ApiError> {
        let path = self.folder_path(state)?;
        if self.kind == FLOWS && path.extension().is_none_or(|e| e != "json") {
            let mut name = path.file_name().unwrap_or_default().to_os_string();
            name.push(".json");
            return Ok(path.with_file_name(name));
        }
        Ok(path)
    }
}

async fn get_root(
    state: State<AdminState>,
    Path((library, kind)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    get_entry(state, Path((library, kind, String::new()))).await
}

async fn get_entry(
    State(state): State<AdminState>,
    Path((library, kind, path)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    if library == "examples" {
        // No example flows ship with Ferrite: an empty tree, and nothing inside it.
        return if path.trim_matches('/').is_empty() {
            Ok(axum::Json(Json::Array(Vec::new())).into_response())
        } else {
            Err(ApiError::not_found("No such example"))
        };
    }
    let entry = LibraryPath::parse(&library, &kind, &path)?;
    let folder = entry.folder_path(&state)?;
    if folder.is_dir() {
        return Ok(axum::Json(list_folder(&folder, &entry.kind)).into_response());
    }
    if entry.segments.is_empty() {
        // The type's folder is created by the first save.
        return Ok(axum::Json(Json::Array(Vec::new())).into_response());
    }
    let file = entry.file_path(&state)?;
    let text = match std::fs::read_to_string(&file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ApiError::not_found(format!("No library entry '{path}'")));
        }
        Err(e) => return Err(io_error(&e)),
    };
    Ok(if entry.kind == FLOWS {
        ([(header::CONTENT_TYPE, "application/json")], text).into_response()
    } else {
        let (_, body) = split_meta(&text);
        (
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            body.to_owned(),
        )
            .into_response()
    })
}

fn io_error(e: &std::io::Error) -> ApiError {
    tracing::error!(error = %e, "Library storage failed.");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "storage_error",
        e.to_string(),
    )
}

/// Sub-folder names (sorted), then files as `{fn, ...meta}` (sorted by name).
fn list_folder(folder: &std::path::Path, kind: &str) -> Json {
    let mut dirs = Vec::new();
    let mut files = Vec::new();
    if let Ok(entries) = std::fs::read_dir(folder) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            match entry.file_type() {
                Ok(t) if t.is_dir() => dirs.push(name),
                Ok(t) if t.is_file() => files.push(name),
                _ => {}
            }
        }
    }
    dirs.sort();
    files.sort();
    let mut listing: Vec<Json> = dirs.into_iter().map(Json::String).collect();
    for name in files {
        let mut meta = if kind == FLOWS {
            Map::new()
        } else {
            std::fs::read_to_string(folder.join(&name))
                .map(|text| split_meta(&text).0)
                .unwrap_or_default()
        };
        meta.insert("fn".into(), Json::String(name));
        listing.push(Json::Object(meta));
    }
    Json::Array(listing)
}

/// Node-RED's library file layout: leading `// key: value` lines are meta, the rest the
/// text. Values that read as JSON (numbers, booleans) are kept as such.
fn split_meta(text: &str) -> (Map<String, Json>, &str) {
    let mut meta = Map::new();
    let mut rest = text;
    while let Some(line_end) = rest.find('\n') {
        let line = &rest[..line_end];
        let Some((key, value)) = line
            .strip_prefix("// ")
            .and_then(|l| l.split_once(": "))
            .filter(|(key, _)| !key.is_empty() && !key.contains(' '))
        else {
            break;
        };
        let value = serde_json::from_str(value).unwrap_or_else(|_| Json::String(value.into()));
        meta.insert(key.to_owned(), value);
        rest = &rest[line_end + 1..];
    }
    (meta, rest)
}

async fn post_entry(
    State(state): State<AdminState>,
    Path((library, kind, path)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let entry = LibraryPath::parse(&library, &kind, &path)?;
    if entry.segments.is_empty() {
        return Err(invalid_path("no file name"));
    }
    let body: Json = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request("invalid_json", format!("Body is not JSON: {e}")))?;
    let content = if entry.kind == FLOWS {
        if !body.is_array() {
            return Err(ApiError::bad_request(
                "invalid_flows",
                "A flows library entry is an array of nodes",
            ));
        }
        body.to_string()
    } else {
        let Json::Object(mut fields) = body else {
            return Err(ApiError::bad_request(
                "invalid_request",
                "A library entry is {text, ...meta}",
            ));
        };
        let text = match fields.remove("text") {
            Some(Json::String(text)) => text,
            None => String::new(),
            Some(_) => {
                return Err(ApiError::bad_request(
                    "invalid_request",
                    "'text' is a string",
                ));
            }
        };
        let mut content = String::new();
        for (key, value) in fields {
            // A key or value spanning lines would corrupt the header.
            let value = match value {
                Json::String(s) => s,
                other => other.to_string(),
            };
            if key.contains(['\n', ' ', ':']) || value.contains('\n') {
                return Err(ApiError::bad_request(
                    "invalid_request",
                    format!("Meta field '{key}' cannot be stored"),
                ));
            }
            content.push_str(&format!("// {key}: {value}\n"));
        }
        content.push_str(&text);
        content
    };
    let file = entry.file_path(&state)?;
    if let Some(parent) = file.parent() {
        std::fs::create_dir_all(parent).map_err(|e| io_error(&e))?;
    }
    std::fs::write(&file, content).map_err(|e| io_error(&e))?;
    tracing::info!(path = %file.display(), "Saved a library entry.");
    Ok(StatusCode::NO_CONTENT)
}
