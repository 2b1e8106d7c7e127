//! The editor's Context sidebar: mirrors Node-RED's `@node-red/editor-api/lib/admin/context.js`
//! and `@node-red/runtime/lib/api/context.js`.
//!
//! * `GET context/global`, `context/flow/:id`, `context/node/:id`: every store (or
//!   `?store=`) as `{"<store>": {"<key>": {msg, format}}}`, values encoded as the debug
//!   sidebar encodes them. With `?keysOnly`: `{"<store>": {"keys": [{"key"}]}}`.
//! * `GET …/:key` (a property path): the value `{msg, format}`, plus `store` when it is not
//!   the default store. With `?keysOnly`: `{"<store>": {format, keys: [{key, format?, length?}]}}`.
//! * `DELETE …/:key` → 204.
//!
//! An unknown `store` is a 404. A node that is not running has no context: reads answer
//! `{}` and deletes do nothing, as in Node-RED. For a subflow instance node the instance's
//! own context is shown. In stores other than the default, global keys still holding their
//! `functionGlobalContext` value are hidden (Node-RED's rule: they are settings, not state).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json as JsonBody, Router};
use serde::Deserialize;
use serde_json::{Map as JsonMap, Value as Json, json};

use super::{AdminState, ApiError};
use crate::context::ContextError;
use crate::events::encode_debug;
use crate::value::Value;

/// Node-RED's `encodeObject` limit when no `maxLength` is given (the context API gives none).
const MAX_LENGTH: usize = 1000;

pub(super) fn routes() -> Router<AdminState> {
    Router::new()
        .route("/context/global", get(read_global))
        .route(
            "/context/global/{*key}",
            get(read_global_key).delete(delete_global_key),
        )
        .route("/context/{scope}/{id}", get(read_scope))
        .route(
            "/context/{scope}/{id}/{*key}",
            get(read_scope_key).delete(delete_scope_key),
        )
}

#[derive(Debug, Deserialize)]
struct Options {
    store: Option<String>,
    /// Present (with any value) asks for keys only.
    #[serde(rename = "keysOnly")]
    keys_only: Option<String>,
}

/// Which context a request names.
enum Target {
    Global,
    Flow(String),
    Node(String),
}

impl Target {
    fn parse(scope: &str, id: String) -> Result<Self, ApiError> {
        match scope {
            "flow" => Ok(Self::Flow(id)),
            "node" => Ok(Self::Node(id)),
            other => Err(ApiError::not_found(format!(
                "unknown context scope '{other}': use global, flow or node"
            ))),
        }
    }

    /// The store scope holding the context, `None` for a node that is not running.
    async fn scope(&self, state: &AdminState) -> Option<String> {
        match self {
            Self::Global => Some("global".to_owned()),
            Self::Flow(id) => Some(id.clone()),
            Self::Node(id) => state.runtime.node_context_scope(id).await,
        }
    }
}

async fn read_global(
    State(state): State<AdminState>,
    Query(options): Query<Options>,
) -> Result<JsonBody<Json>, ApiError> {
    read(&state, &Target::Global, None, &options).await
}

async fn read_global_key(
    State(state): State<AdminState>,
    Path(key): Path<String>,
    Query(options): Query<Options>,
) -> Result<JsonBody<Json>, ApiError> {
    read(&state, &Target::Global, Some(&key), &options).await
}

async fn read_scope(
    State(state): State<AdminState>,
    Path((scope, id)): Path<(String, String)>,
    Query(options): Query<Options>,
) -> Result<JsonBody<Json>, ApiError> {
    read(&state, &Target::parse(&scope, id)?, None, &options).await
}

async fn read_scope_key(
    State(state): State<AdminState>,
    Path((scope, id, key)): Path<(String, String, String)>,
    Query(options): Query<Options>,
) -> Result<JsonBody<Json>, ApiError> {
    read(&state, &Target::parse(&scope, id)?, Some(&key), &options).await
}

async fn delete_global_key(
    State(state): State<AdminState>,
    Path(key): Path<String>,
    Query(options): Query<Options>,
) -> Result<StatusCode, ApiError> {
    delete(&state, &Target::Global, &key, &options).await
}

async fn delete_scope_key(
    State(state): State<AdminState>,
    Path((scope, id, key)): Path<(String, String, String)>,
    Query(options): Query<Options>,
) -> Result<StatusCode, ApiError> {
    delete(&state, &Target::parse(&scope, id)?, &key, &options).await
}

/// The store a request names (checked), or the default; and whether it is the default.
fn pick_store(state: &AdminState, options: &Options) -> Result<(String, bool), ApiError> {
    let (default, stores) = state.runtime.context().store_names();
    match &options.store {
        None => Ok((default, true)),
        Some(store) if stores.contains(store) => Ok((store.clone(), *store == default)),
        Some(store) => Err(unknown_store(store)),
    }
}

fn unknown_store(store: &str) -> ApiError {
    ApiError::not_found(format!("unknown context store '{store}'"))
}

fn bad_key(error: &ContextError) -> ApiError {
    ApiError::bad_request("invalid_key", error.to_string())
}

/// `{msg, format}` of a value, as Node-RED's `encodeObject({msg: value})`.
fn encoded(value: Option<&Value>) -> JsonMap<String, Json> {
    let (msg, format) = encode_debug(value, MAX_LENGTH);
    let mut out = JsonMap::new();
    out.insert("msg".to_owned(), Json::String(msg));
    out.insert("format".to_owned(), Json::String(format));
    out
}

async fn read(
    state: &AdminState,
    target: &Target,
    key: Option<&str>,
    options: &Options,
) -> Result<JsonBody<Json>, ApiError> {
    // The store is checked before the node: Node-RED answers 404 for it either way.
    let picked = pick_store(state, options)?;
    let Some(scope) = target.scope(state).await else {
        return Ok(JsonBody(json!({})));
    };
    let keys_only = options.keys_only.is_some();
    let body = match key {
        Some(key) => read_key(state, &scope, key, picked, keys_only)?,
        None => read_all(state, target, &scope, options, keys_only)?,
    };
    Ok(JsonBody(body))
}

fn read_key(
    state: &AdminState,
    scope: &str,
    key: &str,
    (store, is_default): (String, bool),
    keys_only: bool,
) -> Result<Json, ApiError> {
    let value = state
        .runtime
        .context()
        .get(scope, key, Some(&store))
        .map_err(|e| bad_key(&e))?;
    if keys_only {
        let mut out = JsonMap::new();
        out.insert(store, key_listing(value.as_ref()));
        return Ok(Json::Object(out));
    }
    let mut out = encoded(value.as_ref());
    if !is_default {
        out.insert("store".to_owned(), Json::String(store));
    }
    Ok(Json::Object(out))
}

/// What the sidebar needs to expand one value: its format and its keys.
fn key_listing(value: Option<&Value>) -> Json {
    match value {
        Some(Value::Array(items)) => json!({"format": format!("array[{}]", items.len())}),
        Some(Value::Object(map)) => {
            let keys: Vec<Json> = map
                .iter()
                .map(|(k, v)| match v {
                    Value::Array(items) => json!({
                        "key": k,
                        "format": format!("array[{}]", items.len()),
                        "length": items.len(),
                    }),
                    // JavaScript's `typeof null` is "object" too.
                    Value::Object(_) | Value::Null => json!({"key": k, "format": "object"}),
                    _ => json!({"key": k}),
                })
                .collect();
            json!({"keys": keys, "format": "object"})
        }
        _ => json!({"keys": []}),
    }
}

fn read_all(
    state: &AdminState,
    target: &Target,
    scope: &str,
    options: &Options,
    keys_only: bool,
) -> Result<Json, ApiError> {
    let context = state.runtime.context();
    let (default, all) = context.store_names();
    let stores = match &options.store {
        Some(store) => vec![store.clone()],
        None => all,
    };
    let seeded = &state.runtime.settings().function_global_context;
    let mut out = JsonMap::new();
    for store in stores {
        let keys = context.keys(scope, Some(&store));
        let listing = if keys_only {
            let keys: Vec<Json> = keys.iter().map(|k| json!({"key": k})).collect();
            json!({"keys": keys})
        } else {
            let mut values = JsonMap::new();
            for key in keys {
                let value = context
                    .get(scope, &key, Some(&store))
                    .map_err(|e| bad_key(&e))?;
                let hidden = matches!(target, Target::Global)
                    && store != default
                    && value.is_some()
                    && seeded.get(&key) == value.as_ref();
                if !hidden {
                    values.insert(key, Json::Object(encoded(value.as_ref())));
                }
            }
            Json::Object(values)
        };
        out.insert(store, listing);
    }
    Ok(Json::Object(out))
}

async fn delete(
    state: &AdminState,
    target: &Target,
    key: &str,
    options: &Options,
) -> Result<StatusCode, ApiError> {
    let (store, _) = pick_store(state, options)?;
    if let Some(scope) = target.scope(state).await {
        state
            .runtime
            .context()
            .set(&scope, key, None, Some(&store))
            .map_err(|e| bad_key(&e))?;
        tracing::debug!(%scope, %store, key, "context value deleted from the editor");
    }
    Ok(StatusCode::NO_CONTENT)
}
