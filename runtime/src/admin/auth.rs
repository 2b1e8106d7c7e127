//! TODO(issue 7): `adminAuth`, tokens and permissions.

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use super::AdminState;

pub(super) fn routes() -> Router<AdminState> {
    Router::new()
}

/// Checks the caller's permission for the request before any handler runs.
pub(super) async fn guard(
    State(_state): State<AdminState>,
    request: Request,
    next: Next,
) -> Response {
    next.run(request).await
}
