//! Editor security, as Node-RED's `@node-red/editor-api/lib/auth` does it: `adminAuth` users
//! with bcrypt password hashes and permissions (`*`, `read`, or `<area>.read|write`), the
//! OAuth2 password login the editor's dialog speaks (`auth/login`, `auth/token`,
//! `auth/revoke`), bearer tokens kept in memory and in the user dir's `.sessions.json` so a
//! restart does not log everyone out, and the `guard` that checks every API request.
//!
//! Settings: `adminAuth: {type: "credentials", users: [{username, password, permissions}]
//! (or one user object), default?: {permissions}, sessionExpiryTime?: seconds}`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};
use sha2::{Digest, Sha256};

use super::{AdminState, ApiError};

/// A logged-in editor user (or the anonymous user of `adminAuth.default`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub username: String,
    /// `"*"` (everything), `"read"`, or one `<area>.read|write` permission.
    pub permissions: String,
    /// The `adminAuth.default` user: nobody logged in (`username` is empty).
    pub anonymous: bool,
}

/// `adminAuth` that cannot be used. Serving refuses to start with it: an editor whose
/// users cannot be read must not open without them.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AuthError {
    #[error("adminAuth.type must be \"credentials\" (got {0})")]
    Type(String),
    #[error("adminAuth.users must be a list of users or one user object")]
    Users,
    #[error("adminAuth.users[{index}].{field}: {why}")]
    User {
        index: usize,
        field: &'static str,
        why: String,
    },
    #[error("adminAuth.default.permissions must be a permission text such as \"read\"")]
    Default,
    #[error("adminAuth.sessionExpiryTime must be a positive number of seconds")]
    Expiry,
}

/// Node-RED's `sessionExpiryTime` default: a week, in seconds.
const DEFAULT_SESSION_EXPIRY: u64 = 604_800;
/// Login attempts per username allowed within `ATTEMPT_WINDOW` (Node-RED's limit).
const MAX_ATTEMPTS: usize = 5;
const ATTEMPT_WINDOW: Duration = Duration::from_secs(600);
/// Verified when the username is unknown, so a wrong name costs as long as a wrong
/// password and response times do not tell which names exist (password "password").
const DUMMY_HASH: &str = "$2a$08$zZWtXTja0fB1pzD4sHCMyOCMYz2Z6dNbM6tl8sJogENOMcxWV9DN.";
/// The OAuth2 clients Node-RED knows: the editor and the `node-red-admin` command line.
const CLIENTS: [&str; 2] = ["node-red-editor", "node-red-admin"];

/// `adminAuth`, checked once.
#[derive(Debug)]
struct Config {
    accounts: HashMap<String, Account>,
    /// Permissions of nobody-logged-in (`default.permissions`).
    anonymous: Option<String>,
    session_expiry: Duration,
}

#[derive(Debug)]
struct Account {
    hash: String,
    permissions: String,
}

impl Config {
    fn parse(auth: &Json) -> Result<Self, AuthError> {
        match auth.get("type").and_then(Json::as_str) {
            Some("credentials") => {}
            other => return Err(AuthError::Type(format!("{other:?}"))),
        }
        let users = match auth.get("users") {
            None => Vec::new(),
            Some(Json::Array(users)) => users.iter().collect(),
            Some(user @ Json::Object(_)) => vec![user],
            Some(_) => return Err(AuthError::Users),
        };
        let mut accounts = HashMap::new();
        for (index, user) in users.into_iter().enumerate() {
            let text = |field: &'static str| {
                user.get(field)
                    .and_then(Json::as_str)
                    .filter(|text| !text.is_empty())
                    .ok_or(AuthError::User {
                        index,
                        field,
                        why: "missing or not a text".into(),
                    })
            };
            let username = text("username")?;
            let hash = text("password")?;
            hash.parse::<bcrypt::HashParts>()
                .map_err(|e| AuthError::User {
                    index,
                    field: "password",
                    why: format!("not a bcrypt hash (make one with `node-red admin hash-pw`): {e}"),
                })?;
            let permissions = text("permissions")?;
            accounts.insert(
                username.to_owned(),
                Account {
                    hash: hash.to_owned(),
                    permissions: permissions.to_owned(),
                },
            );
        }
        let anonymous = match auth.get("default") {
            None | Some(Json::Null) => None,
            Some(default) => Some(
                default
                    .get("permissions")
                    .and_then(Json::as_str)
                    .filter(|p| !p.is_empty())
                    .ok_or(AuthError::Default)?
                    .to_owned(),
            ),
        };
        let session_expiry = match auth.get("sessionExpiryTime") {
            None | Some(Json::Null) => DEFAULT_SESSION_EXPIRY,
            Some(seconds) => seconds
                .as_u64()
                .or_else(|| seconds.as_f64().filter(|s| *s >= 1.0).map(|s| s as u64))
                .filter(|s| *s > 0)
                .ok_or(AuthError::Expiry)?,
        };
        Ok(Self {
            accounts,
            anonymous,
            session_expiry: Duration::from_secs(session_expiry),
        })
    }
}

/// One login, as Node-RED writes it to `.sessions.json` (keyed by its token there).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Session {
    user: String,
    client: String,
    scope: String,
    #[serde(rename = "accessToken")]
    access_token: String,
    /// Epoch milliseconds.
    expires: u64,
}

/// Tokens are looked up by their SHA-256: the map's hashing and comparing then work on a
/// digest the caller cannot steer, so lookup time reveals nothing about valid tokens.
type TokenDigest = [u8; 32];

fn digest(token: &str) -> TokenDigest {
    Sha256::digest(token.as_bytes()).into()
}

/// The auth side of `AdminShared`.
#[derive(Default)]
pub struct AuthState {
    config: OnceLock<Result<Config, AuthError>>,
    sessions: OnceLock<Mutex<HashMap<TokenDigest, Session>>>,
    /// Held while `.sessions.json` is written, so the last change is the last write.
    saving: tokio::sync::Mutex<()>,
    /// Recent login attempts (when, username) for Node-RED's 5-per-10-minutes limit.
    attempts: Mutex<Vec<(Instant, String)>>,
}

/// `adminAuth` when set: `None` without it.
fn config(state: &AdminState) -> Option<Result<&Config, &AuthError>> {
    let auth = state.runtime.settings().admin_auth.as_ref()?;
    Some(
        state
            .shared
            .auth
            .config
            .get_or_init(|| Config::parse(auth))
            .as_ref(),
    )
}

/// Fails when `adminAuth` is set but unusable: serving checks this before it listens.
pub(super) fn check(state: &AdminState) -> Result<(), AuthError> {
    match config(state) {
        Some(Err(e)) => Err(e.clone()),
        _ => Ok(()),
    }
}

/// Whether `password` matches the bcrypt `hash`. bcrypt takes tens of milliseconds by
/// design, so it runs off the async workers.
pub(super) async fn password_matches(password: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false))
        .await
        .unwrap_or(false)
}

pub(super) fn routes() -> Router<AdminState> {
    Router::new()
        .route("/auth/login", get(login))
        .route("/auth/token", post(token))
        .route("/auth/revoke", post(revoke))
}

/// Whether `adminAuth` is set: then every API request and the `/comms` socket need a token.
pub(super) fn enabled(state: &AdminState) -> bool {
    state.runtime.settings().admin_auth.is_some()
}

/// The user an access token belongs to, while it is valid and its user still exists.
pub(super) fn user_for_token(state: &AdminState, token: &str) -> Option<User> {
    let config = config(state)?.ok()?;
    let session = sessions(state)
        .lock()
        .ok()?
        .get(&digest(token))
        .filter(|session| session.expires > now_ms())
        .cloned()?;
    config.accounts.contains_key(&session.user).then_some(User {
        username: session.user,
        permissions: session.scope,
        anonymous: false,
    })
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn sessions_file(state: &AdminState) -> Option<PathBuf> {
    state
        .runtime
        .settings()
        .user_dir
        .as_ref()
        .map(|dir| dir.join(".sessions.json"))
}

/// The live sessions, read from `.sessions.json` on first use (expired ones dropped).
fn sessions(state: &AdminState) -> &Mutex<HashMap<TokenDigest, Session>> {
    state.shared.auth.sessions.get_or_init(|| {
        let mut live = HashMap::new();
        let Some(path) = sessions_file(state) else {
            return Mutex::new(live);
        };
        let saved = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Mutex::new(live),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "Cannot read the editor sessions; everyone logs in again.");
                return Mutex::new(live);
            }
        };
        match serde_json::from_slice::<HashMap<String, Json>>(&saved) {
            Ok(saved) => {
                let now = now_ms();
                // One unreadable entry (Node-RED writes array scopes for API clients)
                // only logs that session out.
                for (token, session) in saved {
                    if let Ok(session) = serde_json::from_value::<Session>(session)
                        && session.expires > now
                    {
                        live.insert(digest(&token), session);
                    }
                }
            }
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "The editor sessions file is not JSON; everyone logs in again.");
            }
        }
        Mutex::new(live)
    })
}

/// Changes the sessions and writes them to `.sessions.json` in Node-RED's shape.
async fn update_sessions(
    state: &AdminState,
    change: impl FnOnce(&mut HashMap<TokenDigest, Session>),
) {
    let _saving = state.shared.auth.saving.lock().await;
    let snapshot = {
        let Ok(mut sessions) = sessions(state).lock() else {
            return;
        };
        let now = now_ms();
        sessions.retain(|_, session| session.expires > now);
        change(&mut sessions);
        sessions
            .values()
            .map(|s| (s.access_token.clone(), s.clone()))
            .collect::<HashMap<_, _>>()
    };
    let Some(path) = sessions_file(state) else {
        return;
    };
    let written = tokio::task::spawn_blocking(move || write_private(&path, &snapshot)).await;
    match written {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "Cannot save the editor sessions; logins end at restart.")
        }
        Err(e) => tracing::warn!(error = %e, "Saving the editor sessions failed."),
    }
}

/// Writes the file readable by its owner only (it holds live tokens), replacing it whole.
fn write_private(
    path: &std::path::Path,
    sessions: &HashMap<String, Session>,
) -> std::io::Result<()> {
    let text = serde_json::to_vec(sessions).map_err(std::io::Error::other)?;
    crate::files::replace(path, &text, true)
}

/// A fresh 256-bit token, hex so it needs no escaping in a query string.
fn new_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Node-RED's `permissions.hasPermission` for one scope: `*` allows everything, `read` /
/// `write` every `<area>.read` / `<area>.write`, anything else only itself; `""` is
/// "any logged-in user".
fn has_permission(scope: &str, permission: &str) -> bool {
    if permission.is_empty() || scope == "*" || scope == permission {
        return true;
    }
    let action = |name: &str| permission == name || permission.ends_with(&format!(".{name}"));
    match scope {
        "read" | "*.read" => action("read"),
        "write" | "*.write" => action("write"),
        _ => false,
    }
}

/// `GET auth/login`: what the editor's login dialog asks for (`{}`: no login).
async fn login(State(state): State<AdminState>) -> axum::Json<Json> {
    axum::Json(match config(&state) {
        Some(Ok(_)) => json!({
            "type": "credentials",
            "prompts": [
                {"id": "username", "type": "text", "label": "user.username"},
                {"id": "password", "type": "password", "label": "user.password"},
            ],
        }),
        _ => json!({}),
    })
}

/// An OAuth2 token-endpoint refusal (RFC 6749 5.2): `error` and `error_description` for
/// OAuth2 clients such as `node-red-admin`, and the API's `code` and `message` too.
struct OAuthError(ApiError);

impl OAuthError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self(ApiError::new(status, code, message))
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let ApiError {
            status,
            code,
            message,
        } = self.0;
        let body = json!({
            "error": code, "error_description": message, "code": code, "message": message,
        });
        (status, axum::Json(body)).into_response()
    }
}

/// The token request, as a form (the editor) or JSON.
#[derive(Debug, Default, Deserialize)]
struct TokenRequest {
    client_id: Option<String>,
    client_secret: Option<String>,
    grant_type: Option<String>,
    scope: Option<String>,
    username: Option<String>,
    password: Option<String>,
}

/// Reads a form or JSON body; `None` when it is neither.
fn parse_body<T: serde::de::DeserializeOwned>(headers: &HeaderMap, body: &Bytes) -> Option<T> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if json {
        serde_json::from_slice(body).ok()
    } else {
        serde_urlencoded::from_bytes(body).ok()
    }
}

/// `POST auth/token`: the OAuth2 password grant. Answers `{access_token, expires_in,
/// token_type: "Bearer"}`; a wrong username or password is 403 `invalid_grant`, as
/// Node-RED's oauth2orize answers it.
async fn token(
    State(state): State<AdminState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthError> {
    let config = match config(&state) {
        Some(Ok(config)) => config,
        Some(Err(e)) => {
            return Err(OAuthError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                e.to_string(),
            ));
        }
        None => {
            return Err(OAuthError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "adminAuth is not set: there is nothing to log in to",
            ));
        }
    };
    let request: TokenRequest = parse_body(&headers, &body).ok_or_else(|| {
        OAuthError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the body must be a form or JSON object",
        )
    })?;
    let client = request.client_id.as_deref().unwrap_or_default();
    let secret_ok = matches!(
        request.client_secret.as_deref(),
        None | Some("not_available")
    );
    if !CLIENTS.contains(&client) || !secret_ok {
        return Err(OAuthError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "unknown client_id or client_secret",
        ));
    }
    if request.grant_type.as_deref() != Some("password") {
        return Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant_type must be \"password\"",
        ));
    }
    let (Some(username), Some(password)) = (
        request.username.filter(|u| !u.is_empty()),
        request.password.filter(|p| !p.is_empty()),
    ) else {
        return Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "username and password are required",
        ));
    };
    if too_many_attempts(&state, &username) {
        tracing::warn!(event = "auth.login.fail.too-many-attempts", %username, client, "Login refused.");
        return Err(OAuthError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_attempts",
            "Too many login attempts. Wait 10 minutes and try again",
        ));
    }
    let account = config.accounts.get(&username);
    let hash = account.map_or(DUMMY_HASH, |a| a.hash.as_str()).to_owned();
    let matches = password_matches(password, hash).await;
    let account = match account {
        Some(account) if matches => account,
        _ => {
            tracing::warn!(event = "auth.login.fail.credentials", %username, client, "Login refused.");
            return Err(OAuthError::new(
                StatusCode::FORBIDDEN,
                "invalid_grant",
                "Invalid resource owner credentials",
            ));
        }
    };
    let requested = request.scope.unwrap_or_default();
    let scope = match requested.trim() {
        "" => account.permissions.clone(),
        wanted if has_permission(&account.permissions, wanted) => wanted.to_owned(),
        wanted => {
            tracing::warn!(event = "auth.login.fail.permissions", %username, client, scope = wanted, "Login refused.");
            return Err(OAuthError::new(
                StatusCode::FORBIDDEN,
                "invalid_grant",
                "the user does not have the requested scope",
            ));
        }
    };
    forget_attempts(&state, &username);
    let access_token = new_token().map_err(|e| {
        OAuthError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            format!("no random bytes for a token: {e}"),
        )
    })?;
    let expires_in = config.session_expiry.as_secs();
    let session = Session {
        user: username.clone(),
        client: client.to_owned(),
        scope: scope.clone(),
        access_token: access_token.clone(),
        expires: now_ms().saturating_add(expires_in.saturating_mul(1000)),
    };
    update_sessions(&state, |sessions| {
        sessions.insert(digest(&access_token), session);
    })
    .await;
    tracing::info!(event = "auth.login", %username, client, %scope, "Logged in.");
    let body =
        json!({"access_token": access_token, "expires_in": expires_in, "token_type": "Bearer"});
    Ok((
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::PRAGMA, "no-cache"),
        ],
        axum::Json(body),
    )
        .into_response())
}

/// Records an attempt; true when `username` has had more than `MAX_ATTEMPTS` lately.
fn too_many_attempts(state: &AdminState, username: &str) -> bool {
    let Ok(mut attempts) = state.shared.auth.attempts.lock() else {
        return true;
    };
    let now = Instant::now();
    attempts.retain(|(at, _)| now.duration_since(*at) < ATTEMPT_WINDOW);
    attempts.push((now, username.to_owned()));
    attempts.iter().filter(|(_, user)| user == username).count() > MAX_ATTEMPTS
}

fn forget_attempts(state: &AdminState, username: &str) {
    if let Ok(mut attempts) = state.shared.auth.attempts.lock() {
        attempts.retain(|(_, user)| user != username);
    }
}

#[derive(Debug, Default, Deserialize)]
struct RevokeRequest {
    token: Option<String>,
}

/// `POST auth/revoke` (`token` in the body; the guard has already checked the caller):
/// 200, or `{redirect}` when `editorTheme.logout.redirect` is set.
async fn revoke(State(state): State<AdminState>, headers: HeaderMap, body: Bytes) -> Response {
    let request: RevokeRequest = parse_body(&headers, &body).unwrap_or_default();
    if let Some(token) = request.token {
        let key = digest(&token);
        update_sessions(&state, |sessions| {
            sessions.remove(&key);
        })
        .await;
        tracing::info!(event = "auth.login.revoke", "Logged out.");
    }
    let redirect = state
        .runtime
        .settings()
        .editor_theme
        .as_ref()
        .and_then(|theme| theme.pointer("/logout/redirect"))
        .and_then(Json::as_str);
    match redirect {
        Some(url) => axum::Json(json!({"redirect": url})).into_response(),
        None => StatusCode::OK.into_response(),
    }
}

/// The permission a request needs (Node-RED's `needsPermission`: `<area>.read` for GET,
/// `<area>.write` otherwise), or `None` for what Node-RED serves to everyone: the editor
/// page and its static files, theme, locales, single icons, module resources, the debug
/// node's view scripts, the login routes, and `/comms` (which checks its own `auth` frame).
/// Anything unrecognised needs a permission: a new route is closed until opened here.
fn required_permission(method: &Method, path: &str) -> Option<String> {
    let path = path.strip_prefix('/').unwrap_or(path);
    if path.is_empty() {
        return None;
    }
    let mut segments = path.split('/');
    let area = segments.next().unwrap_or_default();
    let second = segments.next();
    let public = match area {
        "red" | "vendor" | "types" | "theme" | "locales" | "resources" | "favicon.ico"
        | "comms" => true,
        // The dashboard is served to everyone, as Node-RED's httpNode routes are.
        "dashboard" => true,
        "auth" => matches!(second, Some("login" | "token")),
        // `icons` alone is the list (`nodes.read`); `icons/<module>/<file>` is a file.
        "icons" => second.is_some() && segments.next().is_some(),
        "debug" => second == Some("view"),
        _ => false,
    };
    if public {
        return None;
    }
    if area == "auth" {
        // auth/revoke: any logged-in user may log themselves out.
        return Some(String::new());
    }
    // Node-RED files these under the area they belong to.
    let area = match area {
        "flow" => "flows",
        "icons" => "nodes",
        "api" if second == Some("history") => "history",
        other => other,
    };
    let action = if matches!(*method, Method::GET | Method::HEAD) {
        "read"
    } else {
        "write"
    };
    Some(format!("{area}.{action}"))
}

/// The token of a request: `Authorization: Bearer <token>`, or the `access_token` query
/// parameter (downloads and websockets cannot set headers).
fn request_token(request: &Request) -> Option<String> {
    let header = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned());
    header.or_else(|| {
        let query = request.uri().query()?;
        serde_urlencoded::from_str::<Vec<(String, String)>>(query)
            .ok()?
            .into_iter()
            .find(|(name, _)| name == "access_token")
            .map(|(_, token)| token)
    })
}

/// 401 as Node-RED's passport answers it, with the `WWW-Authenticate` challenge.
fn unauthorized(message: impl Into<String>) -> Response {
    let mut response =
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message).into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer realm=\"Users\""),
    );
    response
}

/// Checks the caller's permission for the request before any handler runs, and puts the
/// `User` into the request's extensions for handlers that show who is logged in.
pub(super) async fn guard(
    State(state): State<AdminState>,
    mut request: Request,
    next: Next,
) -> Response {
    let config = match config(&state) {
        None => return next.run(request).await,
        Some(Ok(config)) => config,
        // Unreachable when `serve` checked it; fail closed regardless.
        Some(Err(e)) => {
            return ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "auth_misconfigured",
                e.to_string(),
            )
            .into_response();
        }
    };
    let Some(permission) = required_permission(request.method(), request.uri().path()) else {
        return next.run(request).await;
    };
    let user = request_token(&request)
        .and_then(|token| user_for_token(&state, &token))
        .or_else(|| {
            config.anonymous.as_ref().map(|permissions| User {
                username: String::new(),
                permissions: permissions.clone(),
                anonymous: true,
            })
        });
    let Some(user) = user else {
        return unauthorized("Unauthorized");
    };
    if !has_permission(&user.permissions, &permission) {
        tracing::info!(event = "permission.fail", username = %user.username, anonymous = user.anonymous, permission, "Request refused.");
        return unauthorized(format!(
            "Unauthorized: this needs the {permission} permission"
        ));
    }
    request.extensions_mut().insert(user);
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Node-RED's permission rules: `*` everything, `read` only reads, exact names match.
    #[test]
    fn permissions_follow_node_red() {
        assert!(has_permission("*", "flows.write"));
        assert!(has_permission("read", "flows.read"));
        assert!(!has_permission("read", "flows.write"));
        assert!(has_permission("flows.read", "flows.read"));
        assert!(!has_permission("flows.read", "nodes.read"));
        assert!(has_permission("read", ""));
        assert!(!has_permission("read", "readx"));
    }

    /// Routes Node-RED serves without a login stay open; every other path needs a permission.
    #[test]
    fn public_routes_are_the_editor_assets_and_login() {
        let get = Method::GET;
        for open in [
            "/",
            "/red/red.min.js",
            "/vendor/x.js",
            "/locales/editor",
            "/theme/css/x.css",
            "/icons/node-red/inject.svg",
            "/auth/login",
            "/auth/token",
            "/debug/view/view.html",
            "/comms",
            "/dashboard",
            "/dashboard/ws",
        ] {
            assert_eq!(required_permission(&get, open), None, "{open}");
        }
        assert_eq!(
            required_permission(&get, "/flows").as_deref(),
            Some("flows.read")
        );
        assert_eq!(
            required_permission(&Method::POST, "/flows").as_deref(),
            Some("flows.write")
        );
        assert_eq!(
            required_permission(&get, "/icons").as_deref(),
            Some("nodes.read")
        );
        assert_eq!(
            required_permission(&Method::PUT, "/flow/f1").as_deref(),
            Some("flows.write")
        );
        assert_eq!(
            required_permission(&get, "//flows").as_deref(),
            Some(".read")
        );
        assert_eq!(
            required_permission(&Method::POST, "/auth/revoke").as_deref(),
            Some("")
        );
        assert_eq!(
            required_permission(&Method::POST, "/inject/n1").as_deref(),
            Some("inject.write")
        );
    }
}
