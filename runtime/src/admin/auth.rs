//! TODO(issue 7): `adminAuth`, tokens and permissions.

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use super::AdminState;

/// A logged-in editor user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub username: String,
    /// `"*"` (everything) or `"read"`.
    pub permissions: String,
}

pub(super) fn routes() -> Router<AdminState> {
    Router::new()
}

/// Whether `adminAuth` is set: then every API request and the `/comms` socket need a token.
pub(super) fn enabled(state: &AdminState) -> bool {
    state.runtime.settings().admin_auth.is_some()
}

/// The user an access token belongs to, while it is valid.
pub(super) fn user_for_token(_state: &AdminState, _token: &str) -> Option<User> {
    None
}

/// Checks the caller's permission for the request before any handler runs.
pub(super) async fn guard(
    State(_state): State<AdminState>,
    request: Request,
    next: Next,
) -> Response {
    next.run(request).await
}
