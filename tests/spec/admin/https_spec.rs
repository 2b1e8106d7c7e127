//! The `https` setting: the editor and Admin API over TLS with a certificate and key given
//! as PEM text or as files, and a clear startup error when they cannot be used.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use serde_json::{Value as Json, json};
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};

use super::support::{Server, request, serve_error};
use crate::support::certs::TestPki;

/// `GET <path>` over TLS to the server's port, trusting only `ca_pem`: (status, body).
async fn get_tls(server: &Server, path: &str, ca_pem: &str) -> (u16, Json) {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.expect("CA PEM")).expect("CA");
    }
    let config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("protocols")
            .with_root_certificates(roots)
            .with_no_client_auth();
    let address = server.base.trim_start_matches("http://").to_owned();
    let work = async {
        let tcp = tokio::net::TcpStream::connect(&address)
            .await
            .expect("connect");
        let name = ServerName::try_from("127.0.0.1").expect("name");
        let tls = TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .expect("TLS handshake");
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
                .await
                .expect("HTTP handshake");
        tokio::spawn(connection);
        let request = hyper::Request::builder()
            .uri(format!("/{path}"))
            .header("host", &address)
            .body(Full::new(Bytes::new()))
            .expect("request");
        let response = sender.send_request(request).await.expect("response");
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        (status, serde_json::from_slice(&body).expect("JSON"))
    };
    tokio::time::timeout(Duration::from_secs(10), work)
        .await
        .expect("HTTPS request took longer than 10 s")
}

/// `https: {key, cert}` with PEM text serves the API over TLS, verified against its CA.
#[tokio::test]
async fn https_with_pem_text_serves_over_tls() {
    let pki = TestPki::generate();
    let settings = json!({"https": {"cert": pki.server.cert.pem, "key": pki.server.key.pem}});
    let server = Server::with(settings, json!([])).await;
    assert_eq!(
        get_tls(&server, "auth/login", &pki.ca.pem).await,
        (200, json!({}))
    );
}

/// `https: {keyFile, certFile}` reads the PEM files; plain HTTP to that port gets nothing.
#[tokio::test]
async fn https_with_pem_files_serves_over_tls_only() {
    let pki = TestPki::generate();
    let settings =
        json!({"https": {"certFile": pki.server.cert.path, "keyFile": pki.server.key.path}});
    let server = Server::with(settings, json!([])).await;
    assert_eq!(
        get_tls(&server, "auth/login", &pki.ca.pem).await,
        (200, json!({}))
    );
    let plain = tokio::spawn({
        let url = server.url("auth/login");
        async move { request("GET", &url, &[], None).await }
    })
    .await;
    assert!(
        plain.is_err() || plain.is_ok_and(|reply| reply.status != 200),
        "plain HTTP was answered"
    );
}

/// Login works over HTTPS too: the token endpoint and the guard are the same router.
#[tokio::test]
async fn https_with_admin_auth_refuses_without_a_token() {
    let pki = TestPki::generate();
    let settings = json!({
        "https": {"cert": pki.server.cert.pem, "key": pki.server.key.pem},
        "adminAuth": {"type": "credentials", "users": []},
    });
    let server = Server::with(settings, json!([])).await;
    let (status, body) = get_tls(&server, "flows", &pki.ca.pem).await;
    assert_eq!((status, &body["code"]), (401, &json!("unauthorized")));
}

/// A certificate or key that cannot be used stops the editor from starting, and the error
/// names the setting to fix.
#[tokio::test]
async fn unusable_https_settings_stop_the_editor_naming_the_setting() {
    let pki = TestPki::generate();
    let key = pki.server.key.pem.clone();
    let cert = pki.server.cert.pem.clone();
    let cases = [
        (
            json!({"https": {"cert": "not a certificate", "key": key}}),
            "https.cert",
        ),
        (
            json!({"https": {"cert": cert, "key": "not a key"}}),
            "https.key",
        ),
        (
            json!({"https": {"certFile": "/nonexistent/cert.pem", "keyFile": pki.server.key.path}}),
            "https.certFile",
        ),
        (
            json!({"https": {"cert": pki.server.cert.pem}}),
            "https must be",
        ),
        (
            json!({"https": {"cert": pki.server.cert.pem, "key": pki.client.key.pem}}),
            "https:",
        ),
    ];
    for (settings, named) in cases {
        let error = serve_error(settings).await;
        assert!(error.contains(named), "{named}: {error}");
    }
}
