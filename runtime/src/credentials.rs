//! Node credentials (passwords, tokens, user names): kept out of the flows file, in
//! `<flows>_cred.json` next to it, encrypted as Node-RED's `runtime/lib/nodes/credentials.js`
//! encrypts it, so a user directory moves between Node-RED and Ferrite both ways.
//!
//! * Key: SHA-256 of `credentialSecret` (settings). Without one, a random secret is generated
//!   once and kept as `_credentialSecret` in `.config.runtime.json`, as Node-RED does;
//!   `credentialSecret: false` stores the credentials as plain JSON.
//! * File: `{"$": "<16-byte IV as 32 hex chars><base64 of AES-256-CTR(JSON text)>"}`.
//! * The editor sends a node's credentials inline (`node.credentials`); they are merged into
//!   the store with Node-RED's rules ([`CredentialStore::update`]) and never sent back:
//!   [`public_view`] keeps plain fields and replaces secret ones by `has_<key>` flags.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use aes::cipher::{KeyIvInit, StreamCipher};
use base64::Engine as _;
use serde_json::{Map, Value as Json};
use sha2::{Digest, Sha256};

use crate::settings::Settings;

/// Node-RED's `aes-256-ctr`: a 128-bit big-endian counter over the whole IV.
type Aes256Ctr = ctr::Ctr128BE<aes::Aes256>;

/// The value the editor sends for a password it did not change.
pub const UNCHANGED_PASSWORD: &str = "__PWRD__";

/// Where Node-RED keeps its generated secret (with its other runtime settings).
const RUNTIME_CONFIG: &str = ".config.runtime.json";
const SYSTEM_SECRET_KEY: &str = "_credentialSecret";

/// One node's credentials.
pub type NodeCredentials = Map<String, Json>;

#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: not JSON: {source}")]
    Json {
        path: String,
        source: serde_json::Error,
    },
    #[error("credentials are encrypted but could not be decrypted (wrong credentialSecret?)")]
    Decrypt,
}

impl CredentialsError {
    fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.display().to_string(),
            source,
        }
    }
}

/// AES-256 key: SHA-256 of the secret's text, as Node-RED derives it.
pub fn key_from_secret(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Encrypts credentials into Node-RED's `{"$": ...}` form.
pub fn encrypt(key: &[u8; 32], credentials: &Json) -> Json {
    let mut iv = [0u8; 16];
    fill_random(&mut iv);
    let mut data = credentials.to_string().into_bytes();
    Aes256Ctr::new(key.into(), &iv.into()).apply_keystream(&mut data);
    let text = format!(
        "{}{}",
        to_hex(&iv),
        base64::engine::general_purpose::STANDARD.encode(&data)
    );
    serde_json::json!({ "$": text })
}

/// Decrypts Node-RED's `{"$": ...}` form. A wrong key yields bytes that are not JSON,
/// which is how a wrong secret shows.
pub fn decrypt(key: &[u8; 32], encrypted: &str) -> Result<Json, CredentialsError> {
    let (iv_hex, body) = encrypted
        .split_at_checked(32)
        .ok_or(CredentialsError::Decrypt)?;
    let iv: [u8; 16] = from_hex(iv_hex).ok_or(CredentialsError::Decrypt)?;
    let mut data = base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|_| CredentialsError::Decrypt)?;
    Aes256Ctr::new(key.into(), &iv.into()).apply_keystream(&mut data);
    serde_json::from_slice(&data).map_err(|_| CredentialsError::Decrypt)
}

/// Whether a credential field is secret (the editor's `type: "password"`). Types define
/// that in their editor HTML, which the runtime does not read; the core nodes' password
/// fields are all named one of these, so the name decides. A name ending in `key` counts
/// (`apikey`), but tls-config's `keydata` is the PEM text the editor shows, not a secret
/// field: returning only `has_keydata` would blank it in the dialog.
pub fn is_secret(key: &str) -> bool {
    const SECRET_WORDS: [&str; 4] = ["password", "passphrase", "secret", "token"];
    let key = key.to_ascii_lowercase();
    SECRET_WORDS.iter().any(|word| key.contains(word)) || key.ends_with("key")
}

/// What `GET credentials/{type}/{id}` answers: plain fields as stored, secret ones as
/// `has_<key>: true` (the editor then shows a placeholder and sends back `__PWRD__`).
pub fn public_view(credentials: &NodeCredentials) -> NodeCredentials {
    credentials
        .iter()
        .map(|(key, value)| {
            if is_secret(key) {
                (format!("has_{key}"), Json::Bool(!is_blank(value)))
            } else {
                (key.clone(), value.clone())
            }
        })
        .collect()
}

/// The credentials file beside a flows file: `flows.json` → `flows_cred.json`.
pub fn file_beside(flow_file: &Path) -> PathBuf {
    let stem = flow_file
        .file_stem()
        .map_or_else(|| "flows".into(), |s| s.to_string_lossy().into_owned());
    let name = match flow_file.extension() {
        Some(ext) => format!("{stem}_cred.{}", ext.to_string_lossy()),
        None => format!("{stem}_cred"),
    };
    flow_file.with_file_name(name)
}

/// How the credentials file is written.
#[derive(Clone)]
enum Encryption {
    Plain,
    Key([u8; 32]),
}

/// Every node's credentials, and where they are kept.
pub struct CredentialStore {
    file: Option<PathBuf>,
    encryption: Encryption,
    nodes: Mutex<HashMap<String, NodeCredentials>>,
}

impl CredentialStore {
    /// Credentials that live in memory only (no user directory: tests, `ferrite check`).
    pub fn in_memory() -> Self {
        Self {
            file: None,
            encryption: Encryption::Plain,
            nodes: Mutex::default(),
        }
    }

    /// Loads the credentials beside the flow file. Problems are logged, never fatal, as in
    /// Node-RED: flows start without the credentials that could not be read.
    pub fn open(settings: &Settings) -> Self {
        let (Some(dir), Some(flow_file)) = (&settings.user_dir, settings.flow_path()) else {
            return Self::in_memory();
        };
        let file = file_beside(&flow_file);
        let (encryption, decrypt_with) = choose_encryption(dir, settings);
        let nodes = match read_file(&file, decrypt_with.as_ref()) {
            Ok(nodes) => nodes,
            Err(e) => {
                tracing::error!(path = %file.display(), error = %e, "Credentials not loaded; nodes start without them.");
                HashMap::new()
            }
        };
        Self {
            file: Some(file),
            encryption,
            nodes: Mutex::new(nodes),
        }
    }

    fn nodes(&self) -> std::sync::MutexGuard<'_, HashMap<String, NodeCredentials>> {
        // A poisoned lock only means another thread panicked mid-update of a map that
        // stays consistent at every step.
        self.nodes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// One node's credentials.
    pub fn get(&self, id: &str) -> Option<NodeCredentials> {
        self.nodes().get(id).cloned()
    }

    /// Every node's credentials (what a deploy merges into node configs).
    pub fn snapshot(&self) -> HashMap<String, NodeCredentials> {
        self.nodes().clone()
    }

    /// Merges what the editor sent for a node, by Node-RED's `extract` rules: `__PWRD__`
    /// keeps the stored value, a missing key keeps it too, an empty (or blank) value
    /// deletes it, anything else replaces it.
    pub fn update(&self, id: &str, incoming: &NodeCredentials) {
        let mut nodes = self.nodes();
        let saved = nodes.entry(id.to_owned()).or_default();
        for (key, value) in incoming {
            if value.as_str() == Some(UNCHANGED_PASSWORD) {
                continue;
            }
            if is_blank(value) {
                saved.remove(key);
            } else {
                saved.insert(key.clone(), value.clone());
            }
        }
    }

    /// Replaces a node's credentials whole (the v2 deploy body's `credentials` object).
    pub fn set(&self, id: &str, credentials: NodeCredentials) {
        self.nodes().insert(id.to_owned(), credentials);
    }

    /// Drops the credentials of nodes that are no longer deployed (Node-RED's `clean`).
    pub fn retain(&self, ids: &HashSet<&str>) {
        self.nodes()
            .retain(|id, creds| ids.contains(id.as_str()) && !creds.is_empty());
    }

    /// Writes the credentials file (keeping the previous one as `.<name>.backup`).
    pub fn save(&self) -> Result<(), CredentialsError> {
        let Some(file) = &self.file else {
            return Ok(());
        };
        let all: Map<String, Json> = self
            .nodes()
            .iter()
            .map(|(id, creds)| (id.clone(), Json::Object(creds.clone())))
            .collect();
        let all = Json::Object(all);
        let content = match &self.encryption {
            Encryption::Plain => all,
            Encryption::Key(key) => encrypt(key, &all),
        };
        crate::files::replace_with_backup(file, pretty(&content).as_bytes())
            .map_err(|e| CredentialsError::io(file, e))
    }
}

fn is_blank(value: &Json) -> bool {
    match value {
        Json::Null => true,
        Json::String(s) => s.trim().is_empty(),
        _ => false,
    }
}

/// The key to write with, and the key to read the existing file with (Node-RED's
/// migration: a generated secret already in use still decrypts the file once the user
/// sets their own, or turns encryption off).
fn choose_encryption(dir: &Path, settings: &Settings) -> (Encryption, Option<[u8; 32]>) {
    let config_path = dir.join(RUNTIME_CONFIG);
    let mut runtime_config = read_runtime_config(&config_path);
    let system = runtime_config
        .get(SYSTEM_SECRET_KEY)
        .and_then(Json::as_str)
        .map(key_from_secret);
    match &settings.credential_secret {
        Some(Json::Bool(false)) => (Encryption::Plain, system),
        Some(Json::String(secret)) => {
            let key = key_from_secret(secret);
            (Encryption::Key(key), Some(system.unwrap_or(key)))
        }
        _ => {
            if let Some(key) = system {
                return (Encryption::Key(key), Some(key));
            }
            let mut bytes = [0u8; 32];
            fill_random(&mut bytes);
            let secret = to_hex(&bytes);
            runtime_config.insert(SYSTEM_SECRET_KEY.into(), Json::String(secret.clone()));
            match crate::files::replace_with_backup(
                &config_path,
                pretty(&Json::Object(runtime_config)).as_bytes(),
            ) {
                Ok(()) => {
                    let key = key_from_secret(&secret);
                    (Encryption::Key(key), Some(key))
                }
                Err(e) => {
                    // A key that cannot be kept would make the file unreadable next start.
                    tracing::error!(error = %e, "Cannot keep a generated credential secret; credentials are stored unencrypted.");
                    (Encryption::Plain, None)
                }
            }
        }
    }
}

fn read_runtime_config(path: &Path) -> Map<String, Json> {
    match std::fs::read(path) {
        Ok(bytes) => match serde_json::from_slice(&bytes) {
            Ok(Json::Object(map)) => map,
            _ => {
                tracing::warn!(path = %path.display(), "Runtime settings file is not a JSON object; ignored.");
                Map::new()
            }
        },
        Err(_) => Map::new(),
    }
}

/// Reads a credentials file, plain or encrypted (a missing file is no credentials).
fn read_file(
    path: &Path,
    key: Option<&[u8; 32]>,
) -> Result<HashMap<String, NodeCredentials>, CredentialsError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashMap::new()),
        Err(e) => return Err(CredentialsError::io(path, e)),
    };
    let json: Json = serde_json::from_slice(&bytes).map_err(|source| CredentialsError::Json {
        path: path.display().to_string(),
        source,
    })?;
    let json = match (&json, key) {
        (Json::Object(map), Some(key)) if map.len() == 1 && map.contains_key("$") => {
            let text = map.get("$").and_then(Json::as_str).unwrap_or_default();
            decrypt(key, text)?
        }
        (Json::Object(map), None) if map.len() == 1 && map.contains_key("$") => {
            return Err(CredentialsError::Decrypt);
        }
        _ => json,
    };
    Ok(match json {
        Json::Object(map) => map
            .into_iter()
            .filter_map(|(id, creds)| match creds {
                Json::Object(creds) => Some((id, creds)),
                _ => None,
            })
            .collect(),
        _ => HashMap::new(),
    })
}

/// Node-RED's layout for its files: four-space indentation.
pub fn pretty(value: &Json) -> String {
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
    // Serialising a Json value into memory cannot fail.
    let _ = serde::Serialize::serialize(value, &mut serializer);
    String::from_utf8_lossy(&out).into_owned()
}

fn fill_random(buf: &mut [u8]) {
    // The OS generator: IVs and secrets must not be guessable. It only fails on systems
    // without one, where a fallback would be a silent weakness.
    if let Err(e) = getrandom::fill(buf) {
        panic!("no operating-system random generator: {e}");
    }
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn from_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let mut out = [0u8; N];
    if text.len() != N * 2 {
        return None;
    }
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Encrypting then decrypting with the same key gives the credentials back.
    #[test]
    fn tls_key_text_is_shown_but_passwords_and_keys_are_not() {
        assert!(!is_secret("keydata"));
        assert!(!is_secret("certdata"));
        assert!(is_secret("passphrase"));
        assert!(is_secret("password"));
        assert!(is_secret("apiKey"));
    }

    #[test]
    fn encrypted_credentials_decrypt_with_the_same_key() {
        let key = key_from_secret("s3cret");
        let creds = json!({"n1": {"user": "u", "password": "p"}});
        let Json::Object(file) = encrypt(&key, &creds) else {
            panic!("not an object")
        };
        let text = file["$"].as_str().expect("text");
        assert!(!text.contains("\"p\""));
        assert_eq!(decrypt(&key, text).expect("decrypts"), creds);
        assert!(decrypt(&key_from_secret("other"), text).is_err());
    }

    /// `flows.json` keeps its credentials in `flows_cred.json`, `my.flows` in `my_cred.flows`.
    #[test]
    fn credentials_file_sits_beside_the_flows_file() {
        assert_eq!(
            file_beside(Path::new("/u/flows.json")),
            PathBuf::from("/u/flows_cred.json")
        );
        assert_eq!(
            file_beside(Path::new("/u/my.flows")),
            PathBuf::from("/u/my_cred.flows")
        );
    }

    /// `__PWRD__` and missing keys keep stored values; blank values delete them.
    #[test]
    fn editor_credentials_merge_by_node_red_rules() {
        let store = CredentialStore::in_memory();
        let first = json!({"user": "u", "password": "p", "token": "t"});
        store.update("n1", first.as_object().expect("object"));
        let next = json!({"password": UNCHANGED_PASSWORD, "token": " ", "user": "v"});
        store.update("n1", next.as_object().expect("object"));
        assert_eq!(
            Json::Object(store.get("n1").expect("stored")),
            json!({"user": "v", "password": "p"})
        );
    }
}
