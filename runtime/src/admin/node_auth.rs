//! `httpNodeAuth`: HTTP basic authentication in front of the dashboard (`/dashboard`, its
//! files and its websocket), as Node-RED puts it in front of its `httpNode` routes, where
//! FlowFuse's dashboard lives. Settings: `{"httpNodeAuth": {"user": "..", "pass": "<bcrypt
//! hash>"}}`, the hash made by `node-red admin hash-pw`.
//!
//! As in Node-RED, a refused request gets 401 with `WWW-Authenticate: Basic
//! realm="Authorization Required"` (so the browser asks once and then sends the credentials
//! with every request, the websocket's included), `OPTIONS` passes, and the last accepted
//! password is remembered so that bcrypt, slow by design, runs once rather than per
//! request. Node-RED's legacy MD5 form and its middleware functions cannot be written in a
//! JSON settings file's terms and are refused with a message.

use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use sha2::{Digest, Sha256};

/// Why `httpNodeAuth` cannot be used; Ferrite stops before any flow starts.
#[derive(Debug, Clone, thiserror::Error)]
pub enum NodeAuthError {
    #[error("httpNodeAuth must be an object {{\"user\": .., \"pass\": <bcrypt hash>}}")]
    Shape,
    #[error("httpNodeAuth.{0} is missing or not a text")]
    Missing(&'static str),
    #[error(
        "httpNodeAuth.pass is not a bcrypt hash (make one with `node-red admin hash-pw`; \
         Node-RED's legacy MD5 form is not supported): {0}"
    )]
    Hash(String),
}

/// The checked setting, shared by every request to the guarded routes.
pub(super) struct NodeAuth {
    user: String,
    hash: String,
    /// SHA-256 of the last password bcrypt accepted: the setting cannot change while
    /// Ferrite runs, so one accepted password stays good.
    accepted: Mutex<Option<[u8; 32]>>,
}

impl NodeAuth {
    /// `None` when the setting is absent (the dashboard is open, as in Node-RED).
    pub(super) fn from_setting(
        setting: Option<&serde_json::Value>,
    ) -> Result<Option<Arc<Self>>, NodeAuthError> {
        let Some(setting) = setting else {
            return Ok(None);
        };
        let object = setting.as_object().ok_or(NodeAuthError::Shape)?;
        let text = |key: &'static str| {
            object
                .get(key)
                .and_then(serde_json::Value::as_str)
                .filter(|text| !text.is_empty())
                .ok_or(NodeAuthError::Missing(key))
        };
        let user = text("user")?.to_owned();
        let hash = text("pass")?.to_owned();
        hash.parse::<bcrypt::HashParts>()
            .map_err(|e| NodeAuthError::Hash(e.to_string()))?;
        Ok(Some(Arc::new(Self {
            user,
            hash,
            accepted: Mutex::new(None),
        })))
    }

    /// Refuses every request: what a setting that failed its check gets, should a router
    /// be built without `check` (fail closed).
    pub(super) fn refusing() -> Arc<Self> {
        Arc::new(Self {
            user: String::new(),
            hash: String::new(),
            accepted: Mutex::new(None),
        })
    }

    async fn admits(&self, user: &str, password: String) -> bool {
        if self.hash.is_empty() || user != self.user {
            return false;
        }
        let digest: [u8; 32] = Sha256::digest(password.as_bytes()).into();
        if self.accepted.lock().is_ok_and(|a| *a == Some(digest)) {
            return true;
        }
        let matches = super::auth::password_matches(password, self.hash.clone()).await;
        if matches && let Ok(mut accepted) = self.accepted.lock() {
            *accepted = Some(digest);
        }
        matches
    }
}

/// The request's basic credentials: user and password.
fn credentials(request: &Request) -> Option<(String, String)> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let (user, password) = std::str::from_utf8(&decoded).ok()?.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

pub(super) async fn guard(
    State(auth): State<Option<Arc<NodeAuth>>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(auth) = auth else {
        return next.run(request).await;
    };
    if request.method() == Method::OPTIONS {
        return next.run(request).await;
    }
    let given = credentials(&request);
    let admitted = match given {
        Some((ref user, ref password)) => auth.admits(user, password.clone()).await,
        None => false,
    };
    if admitted {
        return next.run(request).await;
    }
    if let Some((user, _)) = given {
        tracing::warn!(event = "httpnode.auth.fail", %user, "Dashboard login refused.");
    }
    (
        StatusCode::UNAUTHORIZED,
        [(
            header::WWW_AUTHENTICATE,
            "Basic realm=\"Authorization Required\"",
        )],
        "Unauthorized",
    )
        .into_response()
}
