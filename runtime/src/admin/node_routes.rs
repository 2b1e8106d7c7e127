//! Admin routes core nodes' editor code calls: the inject button (Node-RED
//! `20-inject.js`, `POST /inject/:id`) and the debug node's sidebar toggle (`21-debug.js`,
//! `POST /debug/:id/:state`, `POST /debug/:state`).
//!
//! Node-RED answers these with bare status codes (`200 OK`, `201 Created`, `404`, `400`);
//! the status codes are kept (the editor's toasts read only them) and errors carry the
//! usual `{code, message}` body. Like Node-RED's `RED.nodes.getNode`, the routes reach any
//! running node: the runtime knows no node types, and a node without a button ignores the
//! toggle event.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Form, FromRequest, Path, Request, State};
use axum::http::{StatusCode, header};
use axum::routing::post;
use serde_json::Value as Json;

use super::{AdminState, ApiError};
use crate::engine::RuntimeError;
use crate::msg::Msg;
use crate::node::Event;
use crate::value::Value;

/// The message key that makes the inject route hand the body to the node.
const USER_INJECT_PROPS: &str = "__user_inject_props__";

pub(super) fn routes() -> Router<AdminState> {
    Router::new()
        .route("/inject/{id}", post(inject))
        .route("/debug/{state}", post(toggle_many))
        .route("/debug/{id}/{state}", post(toggle_one))
}

/// `POST /inject/:id`: the node receives the body when it carries `__user_inject_props__`
/// (the editor's "inject now" with edited properties), else an empty message.
async fn inject(
    State(state): State<AdminState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, &'static str), ApiError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        Json::Null
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::bad_request("invalid_request", format!("body is not JSON: {e}"))
        })?
    };
    let msg = match Value::from_json(body) {
        Value::Object(map) if map.get(USER_INJECT_PROPS).is_some_and(Value::is_truthy) => {
            Msg::from_map(map)
        }
        _ => Msg::new(),
    };
    state
        .runtime
        .receive(&id, msg)
        .await
        .map_err(|e| node_error(&id, &e))?;
    tracing::debug!(node_id = %id, "injected from the editor");
    Ok((StatusCode::OK, "OK"))
}

/// Whether `:state` turns the button on; anything but `enable`/`disable` is a 404.
fn parse_state(state: &str) -> Result<bool, ApiError> {
    match state {
        "enable" => Ok(true),
        "disable" => Ok(false),
        other => Err(ApiError::not_found(format!(
            "unknown state '{other}': use enable or disable"
        ))),
    }
}

/// Node-RED answers an enable with 200 and a disable with 201.
fn toggled(on: bool) -> (StatusCode, &'static str) {
    if on {
        (StatusCode::OK, "OK")
    } else {
        (StatusCode::CREATED, "Created")
    }
}

/// `POST /debug/:id/enable|disable`.
async fn toggle_one(
    State(state): State<AdminState>,
    Path((id, button)): Path<(String, String)>,
) -> Result<(StatusCode, &'static str), ApiError> {
    let on = parse_state(&button)?;
    state
        .runtime
        .post_event(&id, Event::Toggle(on))
        .await
        .map_err(|e| node_error(&id, &e))?;
    tracing::debug!(node_id = %id, on, "node button toggled from the editor");
    Ok(toggled(on))
}

/// `POST /debug/enable|disable` with `nodes`: a form (`nodes[]=a&nodes[]=b`, what the
/// editor's jQuery sends) or JSON `{"nodes": [...]}`. Ids of nodes not running are skipped.
async fn toggle_many(
    State(state): State<AdminState>,
    Path(button): Path<String>,
    request: Request,
) -> Result<(StatusCode, &'static str), ApiError> {
    let on = parse_state(&button)?;
    let ids = node_ids(request)
        .await
        .ok_or_else(|| ApiError::bad_request("invalid_request", "the body needs a nodes array"))?;
    for id in &ids {
        if let Err(e) = state.runtime.post_event(id, Event::Toggle(on)).await {
            tracing::debug!(node_id = %id, error = %e, "skipped toggling a node");
        }
    }
    tracing::debug!(
        nodes = ids.len(),
        on,
        "node buttons toggled from the editor"
    );
    Ok(toggled(on))
}

/// The `nodes` list of a bulk toggle, or `None` when the body has none.
async fn node_ids(request: Request) -> Option<Vec<String>> {
    let json = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json"));
    if json {
        let axum::Json(Json::Object(mut body)) =
            axum::Json::<Json>::from_request(request, &()).await.ok()?
        else {
            return None;
        };
        let Json::Array(items) = body.remove("nodes")? else {
            return None;
        };
        // Node-RED looks each entry up as an id; entries that are no string find nothing.
        return Some(
            items
                .into_iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
        );
    }
    // jQuery writes arrays as `nodes[]=…` (or `nodes[0]=…`); repeated `nodes=…` is an
    // array too.
    let Form(pairs) = Form::<Vec<(String, String)>>::from_request(request, &())
        .await
        .ok()?;
    let ids: Vec<String> = pairs
        .into_iter()
        .filter(|(key, _)| {
            key == "nodes"
                || key
                    .strip_prefix("nodes[")
                    .and_then(|rest| rest.strip_suffix(']'))
                    .is_some_and(|index| index.bytes().all(|b| b.is_ascii_digit()))
        })
        .map(|(_, id)| id)
        .collect();
    (!ids.is_empty()).then_some(ids)
}

/// An unknown or stopping node: 404, as Node-RED answers for a node it cannot find.
fn node_error(id: &str, error: &RuntimeError) -> ApiError {
    tracing::debug!(node_id = %id, %error, "editor asked for a node that is not running");
    ApiError::not_found(error.to_string())
}
