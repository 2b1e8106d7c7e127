//! `adminAuth`: the editor's login (`auth/login`, `auth/token`, `auth/revoke`), bearer
//! tokens and their permissions, sessions surviving a restart, and the loopback default.
//! Node-RED's behaviour: `@node-red/editor-api/lib/auth` (oauth2orize answers a bad
//! password with 403 `invalid_grant`; passport answers a missing or weak token with 401).

use serde_json::{Value as Json, json};

use super::comms_spec::CommsClient;
use super::support::{Reply, Server, request, serve_error};

/// Node-RED's example hash (its settings.js template) for the password "password".
const HASH: &str = "$2a$08$zZWtXTja0fB1pzD4sHCMyOCMYz2Z6dNbM6tl8sJogENOMcxWV9DN.";

/// An admin (`*`) and a viewer (`read`), both with the password "password".
fn auth_settings() -> Json {
    json!({"adminAuth": {"type": "credentials", "users": [
        {"username": "admin", "password": HASH, "permissions": "*"},
        {"username": "viewer", "password": HASH, "permissions": "read"},
    ]}})
}

/// Form encoding for the few characters the tests use.
fn form(fields: &[(&str, &str)]) -> Vec<u8> {
    let encode = |text: &str| {
        text.bytes()
            .map(|b| match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    fields
        .iter()
        .map(|(name, value)| format!("{}={}", encode(name), encode(value)))
        .collect::<Vec<_>>()
        .join("&")
        .into_bytes()
}

async fn post_form(
    server: &Server,
    path: &str,
    headers: &[(&str, &str)],
    fields: &[(&str, &str)],
) -> Reply {
    let mut all = vec![("content-type", "application/x-www-form-urlencoded")];
    all.extend_from_slice(headers);
    request("POST", &server.url(path), &all, Some(form(fields))).await
}

/// The editor's login request (`RED.user.login`).
async fn login(server: &Server, username: &str, password: &str) -> Reply {
    post_form(
        server,
        "auth/token",
        &[],
        &[
            ("client_id", "node-red-editor"),
            ("grant_type", "password"),
            ("scope", ""),
            ("username", username),
            ("password", password),
        ],
    )
    .await
}

async fn token_for(server: &Server, username: &str) -> String {
    let reply = login(server, username, "password").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.json()["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned()
}

async fn get_as(server: &Server, path: &str, token: &str) -> Reply {
    let bearer = format!("Bearer {token}");
    request(
        "GET",
        &server.url(path),
        &[("authorization", &bearer)],
        None,
    )
    .await
}

/// Deploys nothing: the guard decides before the flows handler reads the body.
async fn post_flows_as(server: &Server, token: Option<&str>) -> Reply {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = bearer
        .iter()
        .map(|b| ("authorization", b.as_str()))
        .collect();
    server
        .send_json("POST", "flows", &headers, &json!([]))
        .await
}

/// 401 with the `{code, message}` body and the bearer challenge.
fn assert_refused(reply: &Reply) {
    assert_eq!(reply.status, 401, "{}", reply.text());
    assert_eq!(reply.json()["code"], "unauthorized");
    assert_eq!(
        reply.header("www-authenticate"),
        Some("Bearer realm=\"Users\"")
    );
}

/// Let through by the guard: whatever the route answers, it is not the guard's 401.
fn assert_let_through(reply: &Reply) {
    assert_ne!(reply.status, 401, "{}", reply.text());
}

/// "returns login prompt details" / without adminAuth the editor asks for nothing.
#[tokio::test]
async fn login_prompts_for_username_and_password_only_with_admin_auth() {
    let open = Server::start().await;
    let reply = open.get("auth/login").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json(), json!({}));

    let secured = Server::with(auth_settings(), json!([])).await;
    let reply = secured.get("auth/login").await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.json(),
        json!({"type": "credentials", "prompts": [
            {"id": "username", "type": "text", "label": "user.username"},
            {"id": "password", "type": "password", "label": "user.password"},
        ]})
    );
}

/// Logging in gives a bearer token that opens the API; revoking it closes it again.
#[tokio::test]
async fn a_token_opens_the_api_until_it_is_revoked() {
    let server = Server::with(auth_settings(), json!([])).await;
    let reply = login(&server, "admin", "password").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let body = reply.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 604_800, "a week, Node-RED's default");
    let token = body["access_token"].as_str().expect("token").to_owned();
    assert_eq!(token.len(), 64, "256 random bits in hex");

    assert_let_through(&get_as(&server, "flows", &token).await);
    assert_let_through(&post_flows_as(&server, Some(&token)).await);

    let bearer = format!("Bearer {token}");
    let reply = post_form(
        &server,
        "auth/revoke",
        &[("authorization", &bearer)],
        &[("token", &token)],
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_refused(&get_as(&server, "flows", &token).await);
    // Revoking needs a login, as every other API call.
    assert_refused(&post_form(&server, "auth/revoke", &[], &[("token", &token)]).await);
}

/// Every login gets a token of its own.
#[tokio::test]
async fn each_login_gets_a_new_token() {
    let server = Server::with(auth_settings(), json!([])).await;
    let first = token_for(&server, "admin").await;
    let second = token_for(&server, "admin").await;
    assert_ne!(first, second);
    assert_let_through(&get_as(&server, "flows", &first).await);
    assert_let_through(&get_as(&server, "flows", &second).await);
}

/// A wrong password or an unknown user is refused as oauth2orize refuses it: 403
/// `invalid_grant`; the editor shows "login failed" on any refusal.
#[tokio::test]
async fn wrong_password_or_unknown_user_is_refused() {
    let server = Server::with(auth_settings(), json!([])).await;
    for (user, password) in [("admin", "wrong"), ("nobody", "password")] {
        let reply = login(&server, user, password).await;
        assert_eq!(reply.status, 403, "{user}: {}", reply.text());
        let body = reply.json();
        assert_eq!(body["error"], "invalid_grant");
        assert_eq!(body["code"], "invalid_grant");
        assert!(body.get("access_token").is_none());
    }
}

/// Malformed token requests get OAuth2 errors: unknown client 401, other grant types and
/// missing fields 400.
#[tokio::test]
async fn malformed_token_requests_are_refused() {
    let server = Server::with(auth_settings(), json!([])).await;
    let ask = |fields: Vec<(&'static str, &'static str)>| {
        let server = &server;
        async move { post_form(server, "auth/token", &[], &fields).await }
    };
    let reply = ask(vec![
        ("client_id", "someone"),
        ("grant_type", "password"),
        ("username", "admin"),
        ("password", "password"),
    ])
    .await;
    assert_eq!(
        (reply.status, reply.json()["error"].clone()),
        (401, json!("invalid_client"))
    );
    let reply = ask(vec![
        ("client_id", "node-red-editor"),
        ("grant_type", "client_credentials"),
    ])
    .await;
    assert_eq!(
        (reply.status, reply.json()["error"].clone()),
        (400, json!("unsupported_grant_type"))
    );
    let reply = ask(vec![
        ("client_id", "node-red-editor"),
        ("grant_type", "password"),
        ("username", "admin"),
    ])
    .await;
    assert_eq!(
        (reply.status, reply.json()["error"].clone()),
        (400, json!("invalid_request"))
    );
}

/// `node-red-admin` logs in with JSON; the token endpoint takes it as well as a form.
#[tokio::test]
async fn token_requests_may_be_json() {
    let server = Server::with(auth_settings(), json!([])).await;
    let body = json!({"client_id": "node-red-admin", "grant_type": "password", "scope": "*",
        "username": "admin", "password": "password"});
    let reply = server.send_json("POST", "auth/token", &[], &body).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(reply.json()["access_token"].is_string());
}

/// A user cannot ask for more than their permissions: the viewer asking for `*` is refused.
#[tokio::test]
async fn a_scope_beyond_the_users_permissions_is_refused() {
    let server = Server::with(auth_settings(), json!([])).await;
    let reply = post_form(
        &server,
        "auth/token",
        &[],
        &[
            ("client_id", "node-red-editor"),
            ("grant_type", "password"),
            ("scope", "*"),
            ("username", "viewer"),
            ("password", "password"),
        ],
    )
    .await;
    assert_eq!(reply.status, 403, "{}", reply.text());
    assert_eq!(reply.json()["error"], "invalid_grant");
}

/// "read" users may GET but not deploy: Node-RED answers their writes with 401.
#[tokio::test]
async fn a_read_only_user_reads_but_cannot_write() {
    let server = Server::with(auth_settings(), json!([])).await;
    let token = token_for(&server, "viewer").await;
    assert_let_through(&get_as(&server, "flows", &token).await);
    assert_let_through(&get_as(&server, "settings", &token).await);
    let reply = post_flows_as(&server, Some(&token)).await;
    assert_refused(&reply);
    assert!(
        reply.json()["message"]
            .as_str()
            .unwrap_or_default()
            .contains("flows.write")
    );
}

/// Without a token the API answers 401, while the editor page, its static files, locales,
/// theme, single icons and the login routes stay open (Node-RED's needsPermission list).
#[tokio::test]
async fn without_a_token_the_api_is_closed_but_the_editor_page_is_open() {
    let server = Server::with(auth_settings(), json!([])).await;
    for path in [
        "flows",
        "settings",
        "nodes",
        "icons",
        "context/global",
        "flow/f1",
        "library/local/flows/x",
    ] {
        assert_refused(&server.get(path).await);
    }
    assert_refused(&post_flows_as(&server, None).await);
    assert_refused(&server.send_json("POST", "inject/n1", &[], &json!({})).await);
    assert_refused(&get_as(&server, "flows", "not-a-token").await);
    for path in [
        "",
        "red/red.min.js",
        "vendor/vendor.js",
        "locales/editor",
        "theme",
        "icons/node-red/inject.svg",
        "auth/login",
    ] {
        assert_let_through(&server.get(path).await);
    }
}

/// The `access_token` query parameter stands in for the header (downloads, websockets).
#[tokio::test]
async fn the_access_token_query_parameter_is_accepted() {
    let server = Server::with(auth_settings(), json!([])).await;
    let token = token_for(&server, "admin").await;
    assert_let_through(&server.get(&format!("flows?access_token={token}")).await);
    assert_refused(&server.get("flows?access_token=nope").await);
}

/// `adminAuth.default` lets nobody-logged-in in with its permissions, and no further.
#[tokio::test]
async fn anonymous_users_get_the_default_permissions() {
    let mut settings = auth_settings();
    settings["adminAuth"]["default"] = json!({"permissions": "read"});
    let server = Server::with(settings, json!([])).await;
    assert_let_through(&server.get("flows").await);
    assert_refused(&post_flows_as(&server, None).await);
    let token = token_for(&server, "admin").await;
    assert_let_through(&post_flows_as(&server, Some(&token)).await);
}

/// Sessions are saved in `.sessions.json` as Node-RED saves them, so a restart keeps the
/// editor logged in; a revoked or expired session stays out.
#[tokio::test]
async fn tokens_survive_a_restart() {
    let mut server = Server::with(auth_settings(), json!([])).await;
    let kept = token_for(&server, "admin").await;
    let revoked = token_for(&server, "viewer").await;
    let bearer = format!("Bearer {revoked}");
    let reply = post_form(
        &server,
        "auth/revoke",
        &[("authorization", &bearer)],
        &[("token", &revoked)],
    )
    .await;
    assert_eq!(reply.status, 200);
    let saved: Json = serde_json::from_slice(
        &std::fs::read(server.dir.path().join(".sessions.json")).expect("sessions file"),
    )
    .expect("JSON");
    assert_eq!(saved[&kept]["user"], "admin");
    assert_eq!(saved[&kept]["accessToken"], kept.as_str());
    assert_eq!(saved[&kept]["scope"], "*");
    assert!(saved.get(&revoked).is_none());

    let dir = std::mem::replace(&mut server.dir, tempfile::tempdir().expect("tempdir"));
    drop(server);
    let server = Server::in_dir(dir, auth_settings(), json!([])).await;
    assert_let_through(&post_flows_as(&server, Some(&kept)).await);
    assert_refused(&get_as(&server, "flows", &revoked).await);
}

/// Sessions from a Node-RED `.sessions.json` are honoured until they expire, and only
/// while their user is still configured.
#[tokio::test]
async fn saved_sessions_expire_and_need_their_user() {
    let dir = tempfile::tempdir().expect("tempdir");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as u64;
    let session = |user: &str, token: &str, expires: u64| json!({"user": user, "client": "node-red-editor", "scope": "*", "accessToken": token, "expires": expires});
    let sessions = json!({
        "live": session("admin", "live", now + 3_600_000),
        "old": session("admin", "old", now - 1000),
        "gone": session("someone-removed", "gone", now + 3_600_000),
    });
    std::fs::write(dir.path().join(".sessions.json"), sessions.to_string()).expect("write");
    let server = Server::in_dir(dir, auth_settings(), json!([])).await;
    assert_let_through(&get_as(&server, "flows", "live").await);
    assert_refused(&get_as(&server, "flows", "old").await);
    assert_refused(&get_as(&server, "flows", "gone").await);
}

/// `sessionExpiryTime` sets how long a token lives (`expires_in`).
#[tokio::test]
async fn session_expiry_time_sets_the_token_lifetime() {
    let mut settings = auth_settings();
    settings["adminAuth"]["sessionExpiryTime"] = json!(60);
    let server = Server::with(settings, json!([])).await;
    let reply = login(&server, "admin", "password").await;
    assert_eq!(reply.json()["expires_in"], 60);
}

/// After five failed logins for a name within ten minutes Node-RED stops trying passwords.
#[tokio::test]
async fn repeated_failed_logins_are_throttled() {
    let server = Server::with(auth_settings(), json!([])).await;
    for _ in 0..5 {
        assert_eq!(login(&server, "viewer", "wrong").await.status, 403);
    }
    let reply = login(&server, "viewer", "password").await;
    assert_eq!(reply.status, 429, "{}", reply.text());
    assert_eq!(reply.json()["error"], "too_many_attempts");
    // Other names are not held up by someone guessing this one.
    assert_eq!(login(&server, "admin", "password").await.status, 200);
}

/// A user whose password is not a bcrypt hash stops the editor from starting, naming it.
#[tokio::test]
async fn unusable_admin_auth_stops_the_editor_from_starting() {
    let error = serve_error(json!({"adminAuth": {"type": "credentials",
        "users": [{"username": "admin", "password": "plain", "permissions": "*"}]}}))
    .await;
    assert!(error.contains("adminAuth.users[0].password"), "{error}");
    let error = serve_error(json!({"adminAuth": {"type": "strategy"}})).await;
    assert!(error.contains("adminAuth.type"), "{error}");
}

/// `users` may be one user object instead of a list, as Node-RED allows.
#[tokio::test]
async fn users_may_be_a_single_object() {
    let settings = json!({"adminAuth": {"type": "credentials",
        "users": {"username": "admin", "password": HASH, "permissions": "*"}}});
    let server = Server::with(settings, json!([])).await;
    let token = token_for(&server, "admin").await;
    assert_let_through(&post_flows_as(&server, Some(&token)).await);
}

/// The editor listens on 127.0.0.1 unless `uiHost` says otherwise.
#[test]
fn the_editor_listens_on_loopback_by_default() {
    let settings: ferrite_runtime::Settings = serde_json::from_value(json!({})).expect("settings");
    assert_eq!(settings.ui_host, "127.0.0.1");
    let settings: ferrite_runtime::Settings =
        serde_json::from_value(json!({"uiHost": "0.0.0.0"})).expect("settings");
    assert_eq!(settings.ui_host, "0.0.0.0");
}

/// Under an `httpAdminRoot` prefix the guard sees the paths below it: a read-only user may
/// still log out (`auth/revoke`, which would need `admin.write` if the prefix were kept).
#[tokio::test]
async fn the_guard_works_under_an_admin_root_prefix() {
    let mut settings = auth_settings();
    settings["httpAdminRoot"] = json!("/admin");
    let server = Server::with(settings, json!([])).await;
    assert!(server.base.ends_with("/admin"));
    assert_eq!(server.get("auth/login").await.json()["type"], "credentials");
    assert_refused(&post_form(&server, "auth/revoke", &[], &[("token", "x")]).await);
    let token = token_for(&server, "viewer").await;
    let bearer = format!("Bearer {token}");
    let reply = post_form(
        &server,
        "auth/revoke",
        &[("authorization", &bearer)],
        &[("token", &token)],
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
}

/// GET settings tells the editor who is logged in (it shows the user menu from it).
#[tokio::test]
async fn settings_name_the_logged_in_user_and_their_permissions() {
    let server = Server::with(auth_settings(), json!([])).await;
    let token = token_for(&server, "viewer").await;
    let settings = get_as(&server, "settings", &token).await;
    assert_eq!(settings.status, 200, "{}", settings.text());
    let user = &settings.json()["user"];
    assert_eq!(user["username"], "viewer");
    assert_eq!(user["permissions"], "read");
}

/// authentication required, no anonymous › allows connections that do authenticate:
/// a valid token on the first /comms frame gets `{"auth":"ok"}`, then retained messages.
#[tokio::test]
async fn comms_accepts_a_valid_token_then_serves_subscriptions() {
    let server = Server::with(auth_settings(), json!([])).await;
    let token = token_for(&server, "admin").await;
    server
        .runtime
        .events()
        .publish("notification/auth-test", json!({"ok": true}), true);
    let mut client = CommsClient::connect(&server).await;
    client.send(json!({"auth": token})).await;
    assert_eq!(client.frame().await, Some(json!({"auth": "ok"})));
    client.send(json!({"subscribe": "notification/#"})).await;
    let message = client
        .message(|topic, _| topic == "notification/auth-test")
        .await;
    assert_eq!(message, json!({"ok": true}));
}
