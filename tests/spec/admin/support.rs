//! An in-process Ferrite with its Admin API on a free loopback port, and a small HTTP
//! client for the tests (hyper, which axum already brings in).

use std::time::Duration;

use bytes::Bytes;
use ferrite_runtime::admin::{self, AdminState};
use ferrite_runtime::{DeployKind, Registry, Runtime, Settings};
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value as Json;

/// How long one request may take before the test fails.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A running runtime with its editor and Admin API. Dropping it stops the server.
pub struct Server {
    /// `http://127.0.0.1:<port>` plus `httpAdminRoot` without its trailing slash.
    pub base: String,
    pub runtime: Runtime,
    /// The user directory (flows, ferrite.db, credentials).
    pub dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Server {
    /// Starts with default settings and no flows.
    pub async fn start() -> Self {
        Self::with(serde_json::json!({}), serde_json::json!([])).await
    }

    /// Starts with settings (Node-RED names, as in a settings file) and deployed flows.
    pub async fn with(settings: Json, flows: Json) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        Self::in_dir(dir, settings, flows).await
    }

    /// Starts on an existing user directory (a restart keeps what the last one saved).
    pub async fn in_dir(dir: tempfile::TempDir, settings: Json, flows: Json) -> Self {
        let mut settings: Settings = serde_json::from_value(settings).expect("settings");
        settings.user_dir = Some(dir.path().to_path_buf());
        let root = settings.admin_root().unwrap_or_default();
        let registry = Registry::new([ferrite_nodes::ALL]).expect("registry");
        let runtime = Runtime::new(std::sync::Arc::new(registry), settings)
            .await
            .expect("runtime");
        if let Json::Array(items) = flows
            && !items.is_empty()
        {
            let report = runtime.deploy(items, DeployKind::Full).await;
            assert!(report.is_clean(), "{report}");
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let state = AdminState::new(runtime.clone());
        tokio::spawn(async move {
            let stopped = async {
                let _ = stopped.await;
            };
            admin::serve(listener, state, stopped).await.expect("serve");
        });
        Self {
            base: format!("http://127.0.0.1:{port}{}", root.trim_end_matches('/')),
            runtime,
            dir,
            stop: Some(stop),
        }
    }

    /// The full URL of a path relative to the admin root (`"settings"`, `"/flows"`).
    pub fn url(&self, path: &str) -> String {
        format!("{}/{}", self.base, path.trim_start_matches('/'))
    }

    pub async fn get(&self, path: &str) -> Reply {
        request("GET", &self.url(path), &[], None).await
    }

    /// A request with a JSON body (`Content-Type: application/json`).
    pub async fn send_json(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &Json,
    ) -> Reply {
        let mut all = vec![("content-type", "application/json")];
        all.extend_from_slice(headers);
        request(
            method,
            &self.url(path),
            &all,
            Some(body.to_string().into_bytes()),
        )
        .await
    }
}

/// Why `admin::serve` refuses these settings (it must, before accepting anyone).
pub async fn serve_error(settings: Json) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut settings: Settings = serde_json::from_value(settings).expect("settings");
    settings.user_dir = Some(dir.path().to_path_buf());
    let registry = Registry::new([ferrite_nodes::ALL]).expect("registry");
    let runtime = Runtime::new(std::sync::Arc::new(registry), settings)
        .await
        .expect("runtime");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let served = tokio::time::timeout(
        REQUEST_TIMEOUT,
        admin::serve(listener, AdminState::new(runtime), std::future::pending()),
    )
    .await
    .expect("serve gave up at once");
    served.expect_err("serve accepted the settings").to_string()
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// What came back.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; fails the test with the body when it is not.
    pub fn json(&self) -> Json {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// One HTTP/1.1 request on a fresh connection.
pub async fn request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<Vec<u8>>,
) -> Reply {
    let uri: hyper::Uri = url.parse().expect("url");
    let authority = uri.authority().expect("authority").clone();
    let work = async {
        let stream = tokio::net::TcpStream::connect(authority.as_str())
            .await
            .expect("connect");
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .expect("handshake");
        tokio::spawn(connection);
        let mut builder = hyper::Request::builder()
            .method(method)
            .uri(uri.path_and_query().map_or("/", |p| p.as_str()))
            .header("host", authority.as_str());
        for (name, value) in headers {
            builder = builder.header(
                HeaderName::from_bytes(name.as_bytes()).expect("header name"),
                HeaderValue::from_str(value).expect("header value"),
            );
        }
        let request = builder
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .expect("request");
        let response = sender.send_request(request).await.expect("response");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        Reply {
            status,
            headers,
            body,
        }
    };
    tokio::time::timeout(REQUEST_TIMEOUT, work)
        .await
        .unwrap_or_else(|_| panic!("{method} {url} took longer than {REQUEST_TIMEOUT:?}"))
}
