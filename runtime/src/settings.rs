//! Runtime settings: Node-RED's `settings.js` names, read from a JSON file.

use std::path::PathBuf;
use std::time::Duration;

use indexmap::IndexMap;
use serde::Deserialize;

use crate::context::StoreSetting;
use crate::value::Map;

/// Settings with Node-RED's names (`uiPort`, `flowFile`, `contextStorage`, ...).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Settings {
    /// Where flows.json, ferrite.db and the rest live (`--userdir`).
    pub user_dir: Option<PathBuf>,
    /// Flow file name inside the user dir, or a path.
    pub flow_file: Option<PathBuf>,
    /// Admin and editor port.
    #[serde(deserialize_with = "crate::loose::u64")]
    pub ui_port: u64,
    /// Address the editor and Admin API listen on (`uiHost`). Unlike Node-RED, which
    /// listens on every interface, Ferrite defaults to `127.0.0.1`: a gateway's editor is
    /// opened to the network only when the settings say so.
    pub ui_host: String,
    /// Path prefix of the editor and Admin API (`httpAdminRoot`, default `/`); `false`
    /// turns both off.
    pub http_admin_root: serde_json::Value,
    /// Editor users and permissions (`adminAuth`: `{type: "credentials", users: [...]}`).
    pub admin_auth: Option<serde_json::Value>,
    /// Basic authentication for the dashboard (`httpNodeAuth`: `{user, pass}`, pass a
    /// bcrypt hash), as Node-RED guards its `httpNode` routes.
    pub http_node_auth: Option<serde_json::Value>,
    /// Serve the editor over HTTPS (`https`: `{key, cert}` as PEM text, or `keyFile` /
    /// `certFile` paths).
    pub https: Option<serde_json::Value>,
    /// Key for `flows_cred.json` (`credentialSecret`; `false` keeps credentials in clear).
    pub credential_secret: Option<serde_json::Value>,
    /// Editor look and options (`editorTheme`), passed to the editor through `GET /settings`.
    pub editor_theme: Option<serde_json::Value>,
    /// Named context stores; empty means one memory store.
    pub context_storage: IndexMap<String, StoreSetting>,
    /// Values seeded into global context.
    pub function_global_context: Map,
    /// Seconds a function (rhai) node's run may take when the node sets no `timeout`
    /// (`functionTimeout`; 0 = none).
    #[serde(deserialize_with = "crate::loose::f64")]
    pub function_timeout: f64,
    /// Longest value the debug sidebar shows before cutting (`debugMaxLength`).
    #[serde(deserialize_with = "crate::loose::u64")]
    pub debug_max_length: u64,
    /// Seconds a node may take to close before it is abandoned (`nodeCloseTimeout`, ms).
    #[serde(deserialize_with = "crate::loose::u64")]
    pub node_close_timeout: u64,
    /// Most messages a node may hold (delay queues, switch/join/sort sequences) before it
    /// reports "too many" and drops them (`nodeMessageBufferMaxLength`; 0 = no limit).
    #[serde(deserialize_with = "crate::loose::u64")]
    pub node_message_buffer_max_length: u64,
    /// Messages a node's inbox holds before its senders wait (backpressure).
    #[serde(deserialize_with = "crate::loose::u64")]
    pub node_inbox_capacity: u64,
    /// Threads running flows (Ferrite's own setting; 0 or missing: 1, see `src/main.rs`).
    #[serde(deserialize_with = "crate::loose::u64")]
    pub worker_threads: u64,
    /// Longest wait, in ms, between attempts to reach an MQTT broker (`mqttReconnectTime`).
    #[serde(deserialize_with = "crate::loose::u64")]
    pub mqtt_reconnect_time: u64,
    /// Ms of silence on an editor's `/comms` socket before a heartbeat is sent
    /// (`webSocketKeepAliveTime`, Node-RED's default 15000).
    #[serde(deserialize_with = "crate::loose::u64")]
    pub web_socket_keep_alive_time: u64,
    /// Days of history kept (`historyMaxAgeDays`, Ferrite's own; 0 = no limit).
    #[serde(deserialize_with = "crate::loose::f64")]
    pub history_max_age_days: f64,
    /// Points of history kept per series (`historyMaxPoints`, Ferrite's own; 0 = no limit).
    #[serde(deserialize_with = "crate::loose::u64")]
    pub history_max_points: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            user_dir: None,
            flow_file: None,
            ui_port: 1880,
            ui_host: "127.0.0.1".to_owned(),
            http_admin_root: serde_json::Value::String("/".to_owned()),
            admin_auth: None,
            http_node_auth: None,
            https: None,
            credential_secret: None,
            editor_theme: None,
            context_storage: IndexMap::new(),
            function_global_context: Map::new(),
            function_timeout: 0.0,
            debug_max_length: 1000,
            node_close_timeout: 15_000,
            node_message_buffer_max_length: 0,
            node_inbox_capacity: 1024,
            mqtt_reconnect_time: 5000,
            worker_threads: 1,
            web_socket_keep_alive_time: 15_000,
            history_max_age_days: 0.0,
            history_max_points: 0,
        }
    }
}

impl Settings {
    pub fn close_timeout(&self) -> Duration {
        Duration::from_millis(self.node_close_timeout.max(1))
    }

    /// `nodeMessageBufferMaxLength`, `None` when unlimited.
    pub fn message_buffer_limit(&self) -> Option<usize> {
        usize::try_from(self.node_message_buffer_max_length)
            .ok()
            .filter(|n| *n > 0)
    }

    pub fn worker_threads(&self) -> usize {
        usize::try_from(self.worker_threads)
            .unwrap_or(1)
            .clamp(1, 256)
    }

    /// `httpAdminRoot` as a path prefix (`/`, `/admin`), or `None` when it is `false`.
    pub fn admin_root(&self) -> Option<String> {
        match &self.http_admin_root {
            serde_json::Value::Bool(false) => None,
            serde_json::Value::String(root) => {
                let trimmed = root.trim_matches('/');
                Some(if trimmed.is_empty() {
                    "/".to_owned()
                } else {
                    format!("/{trimmed}")
                })
            }
            _ => Some("/".to_owned()),
        }
    }

    /// The flows file: `flowFile` (default `flows.json`) in the user dir; `None` without
    /// a user dir (nothing is persisted then).
    pub fn flow_path(&self) -> Option<PathBuf> {
        let dir = self.user_dir.as_ref()?;
        Some(
            dir.join(
                self.flow_file
                    .clone()
                    .unwrap_or_else(|| PathBuf::from("flows.json")),
            ),
        )
    }

    pub fn inbox_capacity(&self) -> usize {
        usize::try_from(self.node_inbox_capacity)
            .unwrap_or(1024)
            .max(1)
    }
}
