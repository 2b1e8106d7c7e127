//! The Admin HTTP API and the browser editor: what Node-RED's `@node-red/editor-api` serves
//! (`shared/reference/node-red-compat.md` section 4), on axum.
//!
//! Every route lives in the module of its area and is mounted under `httpAdminRoot`. The
//! editor uses relative URLs, so the page and the API always share that prefix. Errors
//! are `{code, message}` JSON, as the editor expects.

mod assets;
mod auth;
mod comms;
mod context;
mod dashboard;
mod flows;
mod history;
mod https;
mod library;
mod node_auth;
mod node_routes;
mod nodes;
mod settings;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::engine::Runtime;

pub use auth::AuthError;
pub use https::HttpsError;
pub use node_auth::NodeAuthError;

/// What every handler reaches: the runtime, and the admin side's own shared state.
#[derive(Clone)]
pub struct AdminState {
    pub runtime: Runtime,
    pub shared: Arc<AdminShared>,
}

/// State of the admin side that outlives a request.
#[derive(Default)]
pub struct AdminShared {
    /// One deploy (POST flows, revision restore) at a time.
    pub deploy_lock: tokio::sync::Mutex<()>,
    auth: auth::AuthState,
    /// Per-user editor settings (`.config.users.json`), loaded on first use.
    user_settings: tokio::sync::Mutex<Option<serde_json::Map<String, serde_json::Value>>>,
}

impl AdminState {
    pub fn new(runtime: Runtime) -> Self {
        Self {
            runtime,
            shared: Arc::new(AdminShared::default()),
        }
    }
}

/// An API error, sent as Node-RED sends them: a status and `{"code", "message"}`.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"code": self.code, "message": self.message});
        (self.status, axum::Json(body)).into_response()
    }
}

/// The editor and Admin API, mounted under `httpAdminRoot` (`/` when it is not a path).
pub fn router(state: AdminState) -> Router {
    let root = state.runtime.settings().admin_root();
    let api = Router::new()
        .merge(settings::routes())
        .merge(nodes::routes())
        .merge(flows::routes())
        .merge(context::routes())
        .merge(history::routes())
        .merge(library::routes())
        .merge(node_routes::routes())
        .merge(comms::routes())
        .merge(
            dashboard::routes().layer(axum::middleware::from_fn_with_state(
                dashboard_auth(&state),
                node_auth::guard,
            )),
        )
        .merge(assets::routes())
        .merge(auth::routes())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::guard,
        ))
        .with_state(state);
    match root.as_deref() {
        None | Some("/") => api,
        // As a service, so `/admin/` reaches the page too (`nest` maps `/` to `/admin` only).
        Some(prefix) => Router::new().nest_service(prefix, api),
    }
}

/// `httpNodeAuth` for the dashboard; a setting that fails its check (which `serve` runs
/// first) refuses everyone rather than leaving the dashboard open.
fn dashboard_auth(state: &AdminState) -> Option<Arc<node_auth::NodeAuth>> {
    let setting = state.runtime.settings().http_node_auth.as_ref();
    node_auth::NodeAuth::from_setting(setting).unwrap_or_else(|e| {
        tracing::error!(error = %e, "The dashboard refuses every request.");
        Some(node_auth::NodeAuth::refusing())
    })
}

/// Why the editor could not be served: bad `adminAuth` or `https` settings (found before
/// the first connection is accepted) or a failing listener.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    NodeAuth(#[from] node_auth::NodeAuthError),
    #[error(transparent)]
    Https(#[from] HttpsError),
    #[error("serving the editor: {0}")]
    Io(#[from] std::io::Error),
}

/// Checks the `adminAuth` and `https` settings, so a mistake in them stops Ferrite before
/// any flow starts rather than leaving the flows running without their editor.
pub fn check(state: &AdminState) -> Result<(), ServeError> {
    auth::check(state)?;
    node_auth::NodeAuth::from_setting(state.runtime.settings().http_node_auth.as_ref())?;
    https::server_config(state.runtime.settings().https.as_ref())?;
    Ok(())
}

/// Serves the editor and Admin API on `listener` until `shutdown` completes: over HTTPS
/// when the `https` setting is there, plain HTTP otherwise.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AdminState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    check(&state)?;
    let tls = https::server_config(state.runtime.settings().https.as_ref())?;
    let app = router(state);
    match tls {
        Some(config) => https::serve(listener, app, config, shutdown).await,
        None => {
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await?
        }
    }
    Ok(())
}
