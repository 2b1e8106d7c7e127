//! `tls-config` (Node-RED `network/05-tls.js`, which has no spec file of its own).
//!
//! The node is exercised the way `mqtt-broker` uses it: a `tls-probe` node defined here names
//! it in `tls` (and, like the broker, may carry the legacy `verifyservercert`), connects to a
//! port on 127.0.0.1 presenting `msg.host` as the server's name, runs the TLS handshake,
//! sends an MQTT 3.1.1 CONNECT and reports the CONNACK bytes or the error. Peers: a real
//! Mosquitto with a TLS listener, and for ALPN an in-process rustls server.

use std::sync::Arc;
use std::time::Duration;

use ferrite_nodes::network::tls::{self, ClientTls};
use ferrite_nodes::network::tls_config::TlsConfig;
use ferrite_runtime::testing::TestFlow;
use ferrite_runtime::{
    Build, BuildCtx, ConfigError, Msg, Node, NodeCtx, NodeDef, NodeError, Role, Value, async_trait,
};
use serde_json::{Value as Json, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::support::certs::TestPki;
use crate::support::mosquitto::{Mosquitto, Options};

/// MQTT 3.1.1 CONNECT: clean session, keepalive 60, empty client id.
const CONNECT: [u8; 14] = [
    0x10, 0x0c, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x02, 0x00, 0x3c, 0x00, 0x00,
];
/// CONNACK: session not present, accepted.
const ACCEPTED: &str = "20 02 00 00";
const WAIT: Duration = Duration::from_secs(10);

const PROBE: NodeDef = NodeDef {
    type_name: "tls-probe",
    category: "test",
    set_id: "test/tls-probe",
    role: Role::Plain,
    build: Build::Flow(build_probe),
};

struct Probe {
    tls: ClientTls,
}

fn build_probe(cx: &mut BuildCtx<'_>) -> Result<Box<dyn Node>, ConfigError> {
    let node = cx.config_node::<TlsConfig>("tls")?;
    let tls = match cx.raw().get("verifyservercert").and_then(Json::as_bool) {
        Some(broker_verify) => node
            .client_for_broker(broker_verify)
            .map_err(|e| ConfigError::field("tls", e))?,
        None => node.client().clone(),
    };
    Ok(Box::new(Probe { tls }))
}

#[async_trait]
impl Node for Probe {
    async fn on_input(&mut self, msg: Msg, cx: &mut NodeCtx) -> Result<(), NodeError> {
        let port = msg.get("port").and_then(Value::as_i64).unwrap_or(0) as u16;
        let host = msg
            .get("host")
            .map_or("localhost".into(), Value::to_js_string);
        let mut out = Msg::new();
        match tokio::time::timeout(WAIT, mqtt_connect(&self.tls, port, &host)).await {
            Ok(Ok((connack, alpn))) => {
                out.insert("payload", Value::String(connack));
                out.insert("alpn", alpn.map_or(Value::Null, Value::String));
            }
            Ok(Err(error)) => out.insert("error", Value::String(error)),
            Err(_) => out.insert("error", Value::String("timed out".into())),
        }
        cx.send(out).await;
        Ok(())
    }
}

/// Handshake, CONNECT, CONNACK: the CONNACK as hex and the negotiated ALPN protocol.
async fn mqtt_connect(
    tls: &ClientTls,
    port: u16,
    host: &str,
) -> Result<(String, Option<String>), String> {
    let tcp = TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| e.to_string())?;
    let mut stream = tls::connect(tcp, tls, host)
        .await
        .map_err(|e| e.to_string())?;
    let alpn = stream
        .get_ref()
        .1
        .alpn_protocol()
        .map(|p| String::from_utf8_lossy(p).into_owned());
    stream
        .write_all(&CONNECT)
        .await
        .map_err(|e| tls::explain(&e))?;
    let mut connack = [0; 4];
    stream
        .read_exact(&mut connack)
        .await
        .map_err(|e| tls::explain(&e))?;
    let hex: Vec<String> = connack.iter().map(|b| format!("{b:02x}")).collect();
    Ok((hex.join(" "), alpn))
}

/// A Mosquitto with a TLS listener on a free loopback port; killed on drop.
fn mosquitto(pki: &TestPki, require_certificate: bool) -> Mosquitto {
    Mosquitto::start_with(Options {
        tls: Some(pki.mosquitto_tls(require_certificate)),
        ..Options::default()
    })
}

/// A tls-config node `t1` with `config`, and a probe using it wired to helper `h`.
fn flow_with(config: Json, probe: Json) -> Json {
    let mut tls = json!({"id": "t1", "type": "tls-config", "name": "tls"});
    let mut probe_node =
        json!({"id": "p1", "type": "tls-probe", "z": "f1", "tls": "t1", "wires": [["h"]]});
    for (target, extra) in [(&mut tls, config), (&mut probe_node, probe)] {
        if let (Some(target), Json::Object(extra)) = (target.as_object_mut(), extra) {
            target.extend(extra);
        }
    }
    json!([
        {"id": "f1", "type": "tab", "label": "TLS"},
        tls,
        probe_node,
        {"id": "h", "type": "helper", "z": "f1"}
    ])
}

async fn load(flow: Json) -> TestFlow {
    TestFlow::load(&[ferrite_nodes::ALL, &[PROBE]], flow).await
}

/// Deploys `config` and probes `port` as `host`: the probe's message (`payload` = CONNACK or
/// `error`).
async fn probe(config: Json, port: u16, host: &str) -> Json {
    probe_as_broker(config, json!({}), port, host).await
}

async fn probe_as_broker(config: Json, broker: Json, port: u16, host: &str) -> Json {
    let mut flow = load(flow_with(config, broker)).await;
    assert!(flow.report().is_clean(), "{}", flow.report());
    flow.receive("p1", json!({"port": port, "host": host}))
        .await;
    let out = flow.next("h").await.as_value().to_json();
    flow.unload().await;
    out
}

/// The deploy error of `config` (the tls-config node's only issue).
async fn deploy_error(config: Json) -> String {
    let flow = load(flow_with(config, json!({}))).await;
    let report = flow.report().clone();
    flow.unload().await;
    let issue = report
        .issues
        .iter()
        .find(|i| i.node_id.as_deref() == Some("t1"))
        .unwrap_or_else(|| panic!("no deploy issue for t1: {report}"));
    assert_eq!(issue.node_type.as_deref(), Some("tls-config"));
    issue.message.clone()
}

fn files(pki: &TestPki) -> Json {
    json!({
        "ca": pki.ca.path, "cert": pki.client.cert.path, "key": pki.client.key.path,
        "verifyservercert": true
    })
}

fn assert_accepted(out: &Json) {
    assert_eq!(out["payload"], ACCEPTED, "{out}");
}

fn assert_error(out: &Json, fragment: &str) {
    let error = out["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error: {out}"));
    assert!(error.contains(fragment), "{error:?} lacks {fragment:?}");
}

/// connects to a broker whose certificate the CA file signed, with a client certificate
#[tokio::test]
async fn connects_with_ca_cert_and_key_files() {
    let pki = TestPki::generate();
    let broker = mosquitto(&pki, true);
    assert_accepted(&probe(files(&pki), broker.port, "localhost").await);
    // The certificate holds 127.0.0.1 as an IP address: connecting by address verifies too.
    assert_accepted(&probe(files(&pki), broker.port, "127.0.0.1").await);
}

/// a broker certificate from another CA fails the handshake with a hint about ca
#[tokio::test]
async fn rejects_a_broker_signed_by_another_ca() {
    let pki = TestPki::generate();
    let broker = mosquitto(&pki, false);
    let config = json!({"ca": pki.other_ca.path, "verifyservercert": true});
    let out = probe(config, broker.port, "localhost").await;
    assert_error(&out, "TLS handshake with localhost failed");
    assert_error(&out, "not signed by a trusted CA");
}

/// verifyservercert false accepts a broker no trusted CA signed
#[tokio::test]
async fn verifyservercert_false_accepts_an_unknown_ca() {
    let pki = TestPki::generate();
    let broker = mosquitto(&pki, false);
    let config = json!({"ca": pki.other_ca.path, "verifyservercert": false});
    assert_accepted(&probe(config, broker.port, "localhost").await);
}

/// servername replaces the host for SNI and the certificate check
#[tokio::test]
async fn servername_overrides_the_host() {
    let pki = TestPki::generate();
    let broker = mosquitto(&pki, false);
    // Reached under an alias the certificate does not hold.
    let out = probe(json!({"ca": pki.ca.path}), broker.port, "broker.lan").await;
    assert_error(&out, "set servername");
    let config = json!({"ca": pki.ca.path, "servername": " localhost "});
    assert_accepted(&probe(config, broker.port, "broker.lan").await);
}

/// a broker requiring client certificates refuses a connection without one
#[tokio::test]
async fn mutual_tls_refuses_a_client_without_certificate() {
    let pki = TestPki::generate();
    let broker = mosquitto(&pki, true);
    let out = probe(json!({"ca": pki.ca.path}), broker.port, "localhost").await;
    assert_error(&out, "requires a client certificate");
    // A certificate from another CA is refused as well.
    let stranger = TestPki::generate();
    let config = json!({
        "ca": pki.ca.path, "cert": stranger.client.cert.path, "key": stranger.client.key.path
    });
    let out = probe(config, broker.port, "localhost").await;
    assert_error(&out, "the server rejected the client certificate");
}

/// uploaded certificate data is used when the paths are empty
#[tokio::test]
async fn inline_credentials_are_used_when_paths_are_empty() {
    let pki = TestPki::generate();
    let broker = mosquitto(&pki, true);
    let config = json!({
        "certType": "files", "cert": "", "key": "", "ca": "",
        "certname": "client.pem", "keyname": "client.key", "caname": "ca.pem",
        "credentials": {
            "certdata": pki.client.cert.pem, "keydata": pki.client.key.pem, "cadata": pki.ca.pem
        }
    });
    assert_accepted(&probe(config, broker.port, "localhost").await);
}

/// when any path is set the uploaded data is ignored, as in Node-RED
#[tokio::test]
async fn paths_win_over_uploaded_data() {
    let pki = TestPki::generate();
    let broker = mosquitto(&pki, false);
    let config = json!({
        "ca": pki.ca.path,
        "credentials": {"cadata": pki.other_ca.pem}
    });
    assert_accepted(&probe(config, broker.port, "localhost").await);
}

/// a certificate without its key, or a key without its certificate, is a deploy error
#[tokio::test]
async fn certificate_without_key_is_a_deploy_error() {
    let pki = TestPki::generate();
    let message = deploy_error(json!({"cert": pki.client.cert.path})).await;
    assert_eq!(message, "key: a client certificate needs its private key");
    let message = deploy_error(json!({"credentials": {"keydata": pki.client.key.pem}})).await;
    assert_eq!(message, "cert: a private key needs its certificate");
}

/// an unreadable file is a deploy error naming the path
#[tokio::test]
async fn unreadable_file_is_a_deploy_error() {
    let pki = TestPki::generate();
    let missing = pki.dir().join("missing.key");
    let config = json!({"cert": pki.client.cert.path, "key": missing});
    let message = deploy_error(config).await;
    let expected = format!("key: file {}: No such file or directory", missing.display());
    assert!(message.starts_with(&expected), "{message}");
}

/// the key of another certificate is a deploy error
#[tokio::test]
async fn mismatched_key_is_a_deploy_error() {
    let pki = TestPki::generate();
    let config = json!({"cert": pki.client.cert.path, "key": pki.server.key.path});
    assert_eq!(
        deploy_error(config).await,
        "certificate and key do not match"
    );
}

/// the passphrase decrypts an encrypted PKCS#8 key; without it or with a wrong one, deploy fails
#[tokio::test]
async fn passphrase_decrypts_an_encrypted_key() {
    let pki = TestPki::generate();
    let encrypted = pki.client_key_encrypted("s3cret phrase");
    assert!(
        encrypted
            .pem
            .contains("-----BEGIN ENCRYPTED PRIVATE KEY-----")
    );
    let broker = mosquitto(&pki, true);
    let with = |passphrase: &str| {
        json!({
            "ca": pki.ca.path, "cert": pki.client.cert.path, "key": encrypted.path,
            "credentials": {"passphrase": passphrase}
        })
    };
    assert_accepted(&probe(with("s3cret phrase"), broker.port, "localhost").await);
    let message = deploy_error(with("")).await;
    assert_eq!(
        message,
        "key: the private key is encrypted; set the passphrase"
    );
    let message = deploy_error(with("wrong")).await;
    assert!(
        message.starts_with("key: cannot decrypt the private key"),
        "{message}"
    );
}

/// PKCS#1 (RSA) and SEC1 (EC) keys work as well as PKCS#8
#[tokio::test]
async fn pkcs1_and_sec1_keys() {
    let pki = TestPki::generate();
    let broker = mosquitto(&pki, true);
    let sec1 = pki.client_key_sec1();
    assert!(sec1.pem.contains("-----BEGIN EC PRIVATE KEY-----"));
    let config = json!({"ca": pki.ca.path, "cert": pki.client.cert.path, "key": sec1.path});
    assert_accepted(&probe(config, broker.port, "localhost").await);
    let rsa = pki.rsa_client();
    assert!(rsa.key.pem.contains("-----BEGIN RSA PRIVATE KEY-----"));
    let config = json!({"ca": pki.ca.path, "cert": rsa.cert.path, "key": rsa.key.path});
    assert_accepted(&probe(config, broker.port, "localhost").await);
}

/// certType env reads the PEM text from environment variables
#[tokio::test]
async fn env_cert_type_reads_environment_variables() {
    let pki = TestPki::generate();
    let broker = mosquitto(&pki, true);
    let config = json!({
        "z": "f1", "certType": "env",
        "caEnv": "TLS_CA", "certEnv": "${TLS_CERT}", "keyEnv": "TLS_KEY",
        // Ignored for certType env.
        "ca": pki.other_ca.path
    });
    let mut flow = flow_with(config, json!({}));
    flow[0]["env"] = json!([
        {"name": "TLS_CA", "value": pki.ca.pem, "type": "str"},
        {"name": "TLS_CERT", "value": pki.client.cert.pem, "type": "str"},
        {"name": "TLS_KEY", "value": pki.client.key.pem, "type": "str"}
    ]);
    let mut flow = load(flow).await;
    assert!(flow.report().is_clean(), "{}", flow.report());
    flow.receive("p1", json!({"port": broker.port, "host": "localhost"}))
        .await;
    assert_accepted(&flow.next("h").await.as_value().to_json());
    flow.unload().await;

    let config = json!({"certType": "env", "caEnv": "FERRITE_TEST_NO_SUCH_VAR"});
    assert_eq!(
        deploy_error(config).await,
        "caEnv: environment variable FERRITE_TEST_NO_SUCH_VAR is empty or not set"
    );
}

/// a pfx/p12 bundle is a deploy error saying how to convert it
#[tokio::test]
async fn pfx_is_not_supported_yet() {
    let pki = TestPki::generate();
    let bundle = pki.dir().join("client.p12");
    let message = deploy_error(json!({"certType": "pfx", "p12": bundle})).await;
    assert_eq!(
        message,
        "p12: pfx certificates are not supported yet; convert with openssl pkcs12 -nodes"
    );
    let config = json!({"certType": "pfx", "credentials": {"p12data": "MAA="}});
    assert!(
        deploy_error(config)
            .await
            .starts_with("p12data: pfx certificates")
    );
    // Without a bundle the node deploys (no client certificate).
    let flow = load(flow_with(json!({"certType": "pfx"}), json!({}))).await;
    assert!(flow.report().is_clean(), "{}", flow.report());
    flow.unload().await;
    assert!(
        deploy_error(json!({"certType": "der"}))
            .await
            .starts_with("certType: ")
    );
}

/// without its own verifyservercert the broker's legacy flag decides; with one it wins
#[tokio::test]
async fn broker_verifyservercert_applies_only_when_unset() {
    let pki = TestPki::generate();
    let broker = mosquitto(&pki, false);
    let unset = json!({"ca": pki.other_ca.path});
    let out = probe_as_broker(
        unset.clone(),
        json!({"verifyservercert": false}),
        broker.port,
        "localhost",
    )
    .await;
    assert_accepted(&out);
    let out = probe_as_broker(
        unset,
        json!({"verifyservercert": true}),
        broker.port,
        "localhost",
    )
    .await;
    assert_error(&out, "not signed by a trusted CA");
    let set = json!({"ca": pki.other_ca.path, "verifyservercert": true});
    let out = probe_as_broker(
        set,
        json!({"verifyservercert": false}),
        broker.port,
        "localhost",
    )
    .await;
    assert_error(&out, "not signed by a trusted CA");
}

/// alpnprotocol is offered and the server's choice is used
#[tokio::test]
async fn alpn_protocol_is_negotiated() {
    let pki = TestPki::generate();
    let (port, server) = serve_mqtt_once(&pki, &["x-other", "mqtt"]).await;
    let config = json!({"ca": pki.ca.path, "alpnprotocol": "mqtt"});
    let out = probe(config, port, "localhost").await;
    assert_accepted(&out);
    assert_eq!(out["alpn"], "mqtt");
    let seen = tokio::time::timeout(WAIT, server)
        .await
        .expect("server done")
        .expect("server task");
    assert_eq!(seen.as_deref(), Some("mqtt"));
}

/// An in-process TLS server offering `alpn`: accepts one connection, answers its CONNECT with
/// a CONNACK, and returns the ALPN protocol negotiated.
async fn serve_mqtt_once(pki: &TestPki, alpn: &[&str]) -> (u16, JoinHandle<Option<String>>) {
    let config = tls::server_config(
        pki.server.cert.pem.as_bytes(),
        pki.server.key.pem.as_bytes(),
        None,
    )
    .expect("server config");
    let mut config = (*config).clone();
    config.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("address").port();
    let task = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.expect("accept");
        let mut stream = tls::accept(tcp, &config).await.expect("handshake");
        let mut connect = [0; CONNECT.len()];
        stream.read_exact(&mut connect).await.expect("CONNECT");
        assert_eq!(connect, CONNECT);
        stream
            .write_all(&[0x20, 0x02, 0x00, 0x00])
            .await
            .expect("CONNACK");
        stream.flush().await.expect("flush");
        let alpn = stream.get_ref().1.alpn_protocol();
        alpn.map(|p| String::from_utf8_lossy(p).into_owned())
    });
    (port, task)
}
