//! TODO(issue 7): filled in by its owner.

use axum::Router;

use super::AdminState;

pub(super) fn routes() -> Router<AdminState> {
    Router::new()
}
