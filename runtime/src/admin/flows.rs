//! Flows, revisions and credentials: Node-RED's `editor-api/lib/admin/flows.js` and
//! `credentials.js` over `runtime/lib/api/flows.js`.
//!
//! * `GET flows` / `POST flows` with `Node-RED-API-Version` (v1: bare array, v2:
//!   `{flows, rev}`) and `Node-RED-Deployment-Type` (`full`, `nodes`, `flows`, `reload`);
//!   a stale `rev` is refused with 409 so the editor opens its merge dialog.
//! * A deploy writes the flows file (keeping `.<name>.backup`) and the credentials file, so
//!   a restart runs what was deployed; problems in the deploy report reach the editor as
//!   notifications (the deploy itself succeeds, as in Node-RED when nodes fail to start).
//! * `revisions`: every deploy kept in SQLite; restoring one is a full deploy.
//! * `credentials/{type}/{id}`: plain fields and `has_<key>` flags, never a secret.

use std::collections::HashSet;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value as Json, json};

use super::{AdminState, ApiError};
use crate::credentials::{self, NodeCredentials};
use crate::engine::{self, Runtime};
use crate::flows::diff::DeployKind;
use crate::flows::raw::parse_flows_text;
use crate::flows::report::DeployReport;

pub(super) fn routes() -> Router<AdminState> {
    Router::new()
        .route("/flows", get(get_flows).post(post_flows))
        .route("/flows/state", get(get_state).post(post_state))
        .route("/revisions", get(list_revisions))
        .route("/revisions/{rev}", get(get_revision))
        .route("/revisions/{rev}/restore", post(restore_revision))
        .route("/credentials/{node_type}/{id}", get(get_credentials))
}

/// The `Node-RED-API-Version` a request asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ApiVersion {
    V1,
    V2,
}

fn api_version(headers: &HeaderMap) -> Result<ApiVersion, ApiError> {
    match headers
        .get("node-red-api-version")
        .map(|v| v.to_str().unwrap_or_default())
    {
        None | Some("v1") => Ok(ApiVersion::V1),
        Some("v2") => Ok(ApiVersion::V2),
        Some(_) => Err(ApiError::bad_request(
            "invalid_api_version",
            "Invalid API Version requested",
        )),
    }
}

/// What `Node-RED-Deployment-Type` asked for: a deploy of the body, or a reload of what
/// is stored.
enum Deployment {
    Deploy(DeployKind),
    Reload,
}

fn deployment(headers: &HeaderMap) -> Result<Deployment, ApiError> {
    match headers
        .get("node-red-deployment-type")
        .map(|v| v.to_str().unwrap_or_default())
    {
        None | Some("full") => Ok(Deployment::Deploy(DeployKind::Full)),
        Some("nodes") => Ok(Deployment::Deploy(DeployKind::Nodes)),
        Some("flows") => Ok(Deployment::Deploy(DeployKind::Flows)),
        Some("reload") => Ok(Deployment::Reload),
        Some(other) => Err(ApiError::bad_request(
            "invalid_deployment_type",
            format!("Unknown deployment type '{other}' (full, nodes, flows or reload)"),
        )),
    }
}

/// The flows as the editor may see them: without any node's credentials.
fn without_credentials(flows: Vec<Json>) -> Vec<Json> {
    flows
        .into_iter()
        .map(|mut item| {
            if let Json::Object(node) = &mut item {
                node.remove("credentials");
            }
            item
        })
        .collect()
}

async fn get_flows(State(state): State<AdminState>, headers: HeaderMap) -> Response {
    let version = match api_version(&headers) {
        Ok(version) => version,
        Err(e) => return e.into_response(),
    };
    let (flows, rev) = state.runtime.flows().await;
    let flows = Json::Array(without_credentials(flows));
    match version {
        ApiVersion::V1 => axum::Json(flows).into_response(),
        ApiVersion::V2 => axum::Json(json!({"flows": flows, "rev": rev})).into_response(),
    }
}

/// A deploy body, read as its API version shapes it.
struct DeployBody {
    flows: Vec<Json>,
    rev: Option<String>,
    credentials: Option<serde_json::Map<String, Json>>,
}

fn read_body(version: ApiVersion, body: &[u8]) -> Result<DeployBody, ApiError> {
    let json: Json = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request("invalid_json", format!("Body is not JSON: {e}")))?;
    let invalid = |message: &str| ApiError::bad_request("invalid_flows", message.to_owned());
    let (flows, rev, credentials) = match (version, json) {
        (ApiVersion::V1, Json::Array(flows)) => (flows, None, None),
        (ApiVersion::V1, _) => return Err(invalid("A v1 deploy body is an array of nodes")),
        (ApiVersion::V2, Json::Object(mut body)) => {
            let Some(Json::Array(flows)) = body.remove("flows") else {
                return Err(invalid("A v2 deploy body has a 'flows' array"));
            };
            let rev = match body.remove("rev") {
                None => None,
                Some(Json::String(rev)) => Some(rev),
                Some(_) => return Err(invalid("'rev' is a string")),
            };
            let credentials = match body.remove("credentials") {
                None | Some(Json::Null) => None,
                Some(Json::Object(creds)) => Some(creds),
                Some(_) => return Err(invalid("'credentials' is an object keyed by node id")),
            };
            (flows, rev, credentials)
        }
        (ApiVersion::V2, _) => return Err(invalid("A v2 deploy body is {flows, rev?}")),
    };
    if let Some(index) = flows.iter().position(|item| !item.is_object()) {
        return Err(invalid(&format!("flows[{index}] is not an object")));
    }
    Ok(DeployBody {
        flows,
        rev,
        credentials,
    })
}

async fn post_flows(State(state): State<AdminState>, headers: HeaderMap, body: Bytes) -> Response {
    match deploy_request(&state, &headers, &body).await {
        Ok((ApiVersion::V1, _)) => StatusCode::NO_CONTENT.into_response(),
        Ok((ApiVersion::V2, rev)) => axum::Json(json!({"rev": rev})).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn deploy_request(
    state: &AdminState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(ApiVersion, String), ApiError> {
    let version = api_version(headers)?;
    let deployment = deployment(headers)?;
    // One deploy at a time: the rev check and the deploy it guards must not interleave
    // with another (Node-RED's api mutex).
    let _deploying = state.shared.deploy_lock.lock().await;
    let runtime = &state.runtime;
    let (flows, kind) = match deployment {
        Deployment::Reload => (stored_flows(runtime).await?, DeployKind::Full),
        Deployment::Deploy(kind) => {
            let body = read_body(version, body)?;
            if let Some(rev) = &body.rev {
                let (_, current) = runtime.flows().await;
                if *rev != current {
                    return Err(ApiError::new(
                        StatusCode::CONFLICT,
                        "version_mismatch",
                        "The flows were changed since they were loaded",
                    ));
                }
            }
            (
                take_credentials(runtime, body.flows, body.credentials)?,
                kind,
            )
        }
    };
    let rev = deploy(runtime, flows, kind).await?;
    Ok((version, rev))
}

/// Moves the credentials out of the deployed nodes into the store (and the store to
/// disk), dropping those of nodes that are gone; returns the flows without them.
fn take_credentials(
    runtime: &Runtime,
    mut flows: Vec<Json>,
    full_set: Option<serde_json::Map<String, Json>>,
) -> Result<Vec<Json>, ApiError> {
    let store = runtime.credentials();
    for item in &mut flows {
        let Json::Object(node) = item else { continue };
        let creds = node.remove("credentials");
        if let (Some(Json::Object(creds)), Some(id)) =
            (creds, node.get("id").and_then(Json::as_str))
        {
            store.update(id, &creds);
        }
    }
    if let Some(full_set) = full_set {
        for (id, creds) in full_set {
            if let Json::Object(creds) = creds {
                store.set(&id, NodeCredentials::from_iter(creds));
            }
        }
    }
    let ids: HashSet<&str> = flows
        .iter()
        .filter_map(|item| item.get("id").and_then(Json::as_str))
        .collect();
    store.retain(&ids);
    store.save().map_err(|e| {
        tracing::error!(error = %e, "Could not save the credentials.");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "storage_error",
            e.to_string(),
        )
    })?;
    Ok(flows)
}

/// What `reload` deploys: the flows file, or (without one) what is running.
async fn stored_flows(runtime: &Runtime) -> Result<Vec<Json>, ApiError> {
    let Some(path) = runtime.settings().flow_path() else {
        return Ok(runtime.flows().await.0);
    };
    let text = std::fs::read_to_string(&path).map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "storage_error",
            format!("{}: {e}", path.display()),
        )
    })?;
    parse_flows_text(&text).map_err(|report| {
        ApiError::bad_request(
            "invalid_flows",
            format!("{}: {}", path.display(), report.to_string().trim_end()),
        )
    })
}

/// Writes the flows file, deploys, and tells the editor what went wrong; the new rev.
async fn deploy(runtime: &Runtime, flows: Vec<Json>, kind: DeployKind) -> Result<String, ApiError> {
    if let Some(path) = runtime.settings().flow_path() {
        let text = credentials::pretty(&Json::Array(flows.clone()));
        crate::files::replace_with_backup(&path, text.as_bytes()).map_err(|e| {
            tracing::error!(path = %path.display(), error = %e, "Could not save the flows.");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "storage_error",
                format!("{}: {e}", path.display()),
            )
        })?;
    }
    let rev = engine::revision(&flows);
    let report = runtime.deploy(flows, kind).await;
    notify_issues(runtime, &report);
    Ok(rev)
}

/// Each problem of a deploy becomes a toast in the editor: a `notification/<id>` with a
/// `text` (the editor shows any notification carrying one), and a log line. Missing types
/// are already announced by the runtime's `runtime-state` warning.
fn notify_issues(runtime: &Runtime, report: &DeployReport) {
    for (index, issue) in report.issues.iter().enumerate() {
        tracing::warn!(node_id = issue.node_id.as_deref().unwrap_or(""), node_type = issue.node_type.as_deref().unwrap_or(""), message = %issue.message, "Deploy issue.");
        // The editor reads the part after `notification/` as the toast's id: one per
        // node, so a redeploy replaces its toast instead of stacking another.
        let id = match &issue.node_id {
            Some(node) => format!("deploy-issue-{}", node.replace('/', "_")),
            None => format!("deploy-issue-{index}"),
        };
        let text = match (&issue.node_type, &issue.node_id) {
            (Some(node_type), Some(node_id)) => {
                let name = if issue.name.is_empty() {
                    node_id
                } else {
                    &issue.name
                };
                format!(
                    "Node \"{name}\" ({node_type}, {node_id}) did not start. {}",
                    issue.message
                )
            }
            _ => format!("Deploy problem. {}", issue.message),
        };
        runtime.events().publish(
            format!("notification/{id}"),
            json!({"text": text, "type": "error", "timeout": ISSUE_TOAST_MS}),
            false,
        );
    }
}

/// How long a deploy problem stays on screen.
const ISSUE_TOAST_MS: u64 = 10_000;

async fn get_state(State(state): State<AdminState>) -> Response {
    let running = if state.runtime.started().await {
        "start"
    } else {
        "stop"
    };
    axum::Json(json!({"state": running})).into_response()
}

/// Ferrite has no `runtimeState` setting: flows always run, so stopping and starting them
/// from the editor is refused as Node-RED refuses it when that setting is off.
async fn post_state() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "not_allowed",
        "Method Not Allowed",
    )
}

fn storage_error(e: &crate::store::StoreError) -> ApiError {
    tracing::error!(error = %e, "Flow revisions unavailable.");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "storage_error",
        e.to_string(),
    )
}

async fn list_revisions(State(state): State<AdminState>) -> Result<Response, ApiError> {
    let Some(db) = state.runtime.db() else {
        return Ok(axum::Json(json!([])).into_response());
    };
    let revisions = db.revisions().await.map_err(|e| storage_error(&e))?;
    let list: Vec<Json> = revisions
        .into_iter()
        .map(|(rev, ms)| {
            let time = chrono::DateTime::from_timestamp_millis(ms)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
            json!({"rev": rev, "time": time})
        })
        .collect();
    Ok(axum::Json(Json::Array(list)).into_response())
}

/// The flows of one stored revision.
async fn revision_flows(state: &AdminState, rev: &str) -> Result<Vec<Json>, ApiError> {
    let unknown = || ApiError::not_found(format!("No revision '{rev}'"));
    let db = state.runtime.db().ok_or_else(unknown)?;
    let text = db
        .revision(rev)
        .await
        .map_err(|e| storage_error(&e))?
        .ok_or_else(unknown)?;
    match serde_json::from_str(&text) {
        Ok(Json::Array(flows)) => Ok(flows),
        _ => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "storage_error",
            format!("Revision '{rev}' is not a flows array"),
        )),
    }
}

async fn get_revision(
    State(state): State<AdminState>,
    Path(rev): Path<String>,
) -> Result<Response, ApiError> {
    let flows = revision_flows(&state, &rev).await?;
    Ok(axum::Json(Json::Array(flows)).into_response())
}

/// Rolls back: a full deploy of a stored revision (which becomes the flows file again).
async fn restore_revision(
    State(state): State<AdminState>,
    Path(rev): Path<String>,
) -> Result<Response, ApiError> {
    let _deploying = state.shared.deploy_lock.lock().await;
    let flows = revision_flows(&state, &rev).await?;
    tracing::info!(rev = %rev, "Restoring a flow revision.");
    let rev = deploy(&state.runtime, flows, DeployKind::Full).await?;
    Ok(axum::Json(json!({"rev": rev})).into_response())
}

/// A node's credentials without their secrets (`{}` for a node that has none, as in
/// Node-RED; the type in the path only mirrors its URL).
async fn get_credentials(
    State(state): State<AdminState>,
    Path((_node_type, id)): Path<(String, String)>,
) -> Response {
    let view = state
        .runtime
        .credentials()
        .get(&id)
        .map(|creds| credentials::public_view(&creds))
        .unwrap_or_default();
    axum::Json(Json::Object(view)).into_response()
}
