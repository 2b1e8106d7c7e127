//! `tls-config` — mirrors Node-RED `@node-red/nodes/core/network/05-tls.js`.
//!
//! A config node the `mqtt-broker` node names in its `tls` key. Config:
//! * `certType` — where the client certificate, its key and the CA come from:
//!   * `files` (default): `cert`, `key`, `ca` are PEM file paths, read at deploy. When all
//!     three are empty the credentials `certdata`, `keydata`, `cadata` (PEM text uploaded in
//!     the editor; `certname`, `keyname`, `caname` are the uploaded files' names) are used.
//!   * `env`: `certEnv`, `keyEnv`, `caEnv` name environment variables whose values are the
//!     PEM text (a bare name, or `${NAME}`).
//!   * `pfx`: a PKCS#12 bundle from the `p12` path or the base64 `p12data` credential
//!     (`p12name` its name). Not supported yet: a bundle is a deploy error saying how to
//!     convert it to PEM files; without one the connection has no client certificate.
//! * credential `passphrase` — decrypts an encrypted PKCS#8 key.
//! * `servername` — the name sent for SNI and checked in the server certificate instead of
//!   the broker host.
//! * `verifyservercert` (default true) — only `false` accepts any server certificate, as
//!   Node.js' `rejectUnauthorized`. When the key is absent the broker's own legacy
//!   `verifyservercert` decides, as in Node-RED.
//! * `alpnprotocol` — one ALPN protocol name to offer (e.g. `mqtt` for MQTT on port 443).
//! * `name`.
//!
//! A given `ca` replaces the system's trusted CAs. A certificate without its key (or a key
//! without its certificate), an unreadable file, PEM data that does not parse, a key that
//! does not match the certificate or cannot be decrypted: each is a deploy error naming the
//! setting. No messages, no status.

use std::any::Any;
use std::path::Path;
use std::sync::Arc;

use ferrite_runtime::env::Env;
use ferrite_runtime::{Build, BuildCtx, ConfigError, ConfigNode, NodeDef, Role, async_trait};
use serde_json::{Map, Value as Json};

use super::tls::{self, ClientOptions, ClientTls, TlsError};

pub const DEF: NodeDef = NodeDef {
    type_name: "tls-config",
    category: "config",
    set_id: "node-red/tls",
    role: Role::Plain,
    build: Build::Config(build),
};

const PFX_UNSUPPORTED: &str =
    "pfx certificates are not supported yet; convert with openssl pkcs12 -nodes";

/// A deployed `tls-config`: the material read at deploy and the client configuration made
/// from it.
pub struct TlsConfig {
    options: ClientOptions,
    verify: Option<bool>,
    client: ClientTls,
}

impl TlsConfig {
    /// The client configuration, verifying the server unless `verifyservercert` is `false`.
    pub fn client(&self) -> &ClientTls {
        &self.client
    }

    /// The client configuration for an `mqtt-broker` whose own (legacy) `verifyservercert`
    /// is `broker_verify`: Node-RED lets this node's setting win and uses the broker's only
    /// when this node has none.
    pub fn client_for_broker(&self, broker_verify: bool) -> Result<ClientTls, TlsError> {
        let verify = self.verify.unwrap_or(broker_verify);
        if verify == self.options.verify_server_cert {
            return Ok(self.client.clone());
        }
        ClientTls::new(&ClientOptions {
            verify_server_cert: verify,
            ..self.options.clone()
        })
    }
}

#[async_trait]
impl ConfigNode for TlsConfig {
    fn as_any(&self) -> &dyn Any {
        self
    }
}

fn build(cx: &mut BuildCtx<'_>) -> Result<Arc<dyn ConfigNode>, ConfigError> {
    let config = NodeConfig::new(cx.raw());
    let (ca, cert, key) = match config.text("certType") {
        "" | "files" => config.files_or_uploads()?,
        "env" => (
            from_env(cx.env(), config.text("caEnv"), "caEnv")?,
            from_env(cx.env(), config.text("certEnv"), "certEnv")?,
            from_env(cx.env(), config.text("keyEnv"), "keyEnv")?,
        ),
        "pfx" if !config.text("p12").is_empty() => {
            return Err(ConfigError::field("p12", PFX_UNSUPPORTED));
        }
        "pfx" if !config.credential("p12data").is_empty() => {
            return Err(ConfigError::field("p12data", PFX_UNSUPPORTED));
        }
        "pfx" => (None, None, None),
        other => {
            return Err(ConfigError::field(
                "certType",
                format!("{other:?} is not one of files, env, pfx"),
            ));
        }
    };
    let verify = match config.raw.get("verifyservercert") {
        None | Some(Json::Null) => None,
        Some(flag) => Some(flag != &Json::Bool(false)),
    };
    let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    let options = ClientOptions {
        ca,
        cert,
        key,
        passphrase: non_empty(config.credential("passphrase")),
        verify_server_cert: verify.unwrap_or(true),
        server_name: non_empty(config.text("servername")),
        alpn: non_empty(config.text("alpnprotocol")).into_iter().collect(),
    };
    let client = ClientTls::new(&options).map_err(invalid)?;
    Ok(Arc::new(TlsConfig {
        options,
        verify,
        client,
    }))
}

type Pem = Option<Vec<u8>>;

/// The node's config and the credentials that came with it.
struct NodeConfig<'a> {
    raw: &'a Map<String, Json>,
    credentials: Option<&'a Map<String, Json>>,
}

impl<'a> NodeConfig<'a> {
    fn new(raw: &'a Map<String, Json>) -> Self {
        let credentials = raw.get("credentials").and_then(Json::as_object);
        Self { raw, credentials }
    }

    /// A text setting, trimmed as Node-RED trims paths and names ("" when absent).
    fn text(&self, key: &str) -> &'a str {
        self.raw
            .get(key)
            .and_then(Json::as_str)
            .map_or("", str::trim)
    }

    fn credential(&self, key: &str) -> &'a str {
        self.credentials
            .and_then(|c| c.get(key))
            .and_then(Json::as_str)
            .unwrap_or("")
    }

    /// `files`: the paths when any is set (the uploaded data is then ignored, as in
    /// Node-RED), else the uploaded data. In the order ca, cert, key.
    fn files_or_uploads(&self) -> Result<(Pem, Pem, Pem), ConfigError> {
        let (ca, cert, key) = (self.text("ca"), self.text("cert"), self.text("key"));
        if [ca, cert, key].iter().any(|p| !p.is_empty()) {
            let read = |what: &'static str, path: &str| {
                (!path.is_empty())
                    .then(|| tls::read_file(what, Path::new(path)).map_err(invalid))
                    .transpose()
            };
            return Ok((read("ca", ca)?, read("cert", cert)?, read("key", key)?));
        }
        let upload = |key: &str| {
            let pem = self.credential(key);
            (!pem.is_empty()).then(|| pem.as_bytes().to_vec())
        };
        Ok((upload("cadata"), upload("certdata"), upload("keydata")))
    }
}

/// `env`: the PEM text of the variable named in setting `key`, if one is named.
fn from_env(env: &Env, name: &str, key: &str) -> Result<Pem, ConfigError> {
    if name.is_empty() {
        return Ok(None);
    }
    // A setting of `${NAME}` arrives already replaced by the variable's value (every config
    // property is substituted at deploy): that is the PEM text itself.
    if name.contains("-----BEGIN") {
        return Ok(Some(name.as_bytes().to_vec()));
    }
    let pem = env.evaluate_typed(name).to_js_string();
    if pem.trim().is_empty() {
        return Err(ConfigError::field(
            key,
            format!("environment variable {name} is empty or not set"),
        ));
    }
    Ok(Some(pem.into_bytes()))
}

fn invalid(err: TlsError) -> ConfigError {
    ConfigError::Invalid(err.to_string())
}
