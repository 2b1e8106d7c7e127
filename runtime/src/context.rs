//! Node, flow and global context (`RED.nodes.context`), in named stores.
//!
//! Every store keeps its values in memory, so reads never wait. A persistent store (module
//! `sqlite`, or Node-RED's name `localfilesystem`) also marks what changed and writes those
//! scopes to SQLite every `flushInterval` seconds and on shutdown, like Node-RED's cached
//! file store.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use indexmap::IndexMap;
use serde::Deserialize;
use tokio::task::JoinHandle;

use crate::path::{PropPath, Segment};
use crate::store::{Db, StoreError};
use crate::value::{Map, Value};

/// Node-RED's default store name.
pub const DEFAULT_STORE: &str = "default";

#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum ContextError {
    #[error("Invalid context key")]
    InvalidKey,
    #[error("invalid context key '{key}': {reason}")]
    BadPath { key: String, reason: String },
    #[error("cannot set context key '{key}': {reason}")]
    NotAContainer { key: String, reason: String },
}

/// Which context a key belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContextScope {
    Node,
    Flow,
    Global,
}

/// Splits Node-RED's `#:(store)::key` form.
pub fn parse_store_prefix(text: &str) -> (Option<&str>, &str) {
    if let Some(rest) = text.strip_prefix("#:(")
        && let Some(end) = rest.find(")::")
    {
        return (Some(&rest[..end]), &rest[end + 3..]);
    }
    (None, text)
}

/// One entry of the `contextStorage` setting.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct StoreConfig {
    /// `memory`, or `sqlite` / `localfilesystem` for the persistent store.
    pub module: String,
    #[serde(default)]
    pub config: StoreOptions,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct StoreOptions {
    /// Seconds between writes of changed values (Node-RED's default: 30).
    #[serde(
        default = "default_flush_interval",
        rename = "flushInterval",
        deserialize_with = "crate::loose::f64"
    )]
    pub flush_interval: f64,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            flush_interval: default_flush_interval(),
        }
    }
}

fn default_flush_interval() -> f64 {
    30.0
}

/// `contextStorage`: each entry a store, or (for `default`) the name of another store.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum StoreSetting {
    Store(StoreConfig),
    Alias(String),
}

#[derive(Debug, thiserror::Error)]
pub enum ContextSetupError {
    #[error(
        "contextStorage.{name}: unknown module '{module}' (use memory, sqlite or localfilesystem)"
    )]
    UnknownModule { name: String, module: String },
    #[error("contextStorage.{name}: a persistent store needs a user directory")]
    NoDatabase { name: String },
    #[error("contextStorage: 'default' names the unknown store '{0}'")]
    UnknownAlias(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The values of one store: scope id → object of keys.
#[derive(Debug, Default)]
struct Store {
    name: String,
    data: Mutex<HashMap<String, Map>>,
    persist: Option<Persist>,
}

#[derive(Debug)]
struct Persist {
    db: Db,
    dirty: Mutex<HashSet<String>>,
    interval: Duration,
}

impl Store {
    fn data(&self) -> MutexGuard<'_, HashMap<String, Map>> {
        // A panic while holding the lock leaves plain data behind; keep serving it.
        self.data
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn mark_dirty(&self, scope: &str) {
        if let Some(p) = &self.persist {
            p.dirty
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(scope.to_owned());
        }
    }

    async fn flush(&self) -> Result<(), StoreError> {
        let Some(p) = &self.persist else {
            return Ok(());
        };
        let dirty: Vec<String> = p
            .dirty
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .drain()
            .collect();
        if dirty.is_empty() {
            return Ok(());
        }
        let rows: Vec<(String, Option<String>)> = {
            let data = self.data();
            dirty
                .into_iter()
                .map(|scope| {
                    let json = data
                        .get(&scope)
                        .filter(|m| !m.is_empty())
                        .map(|m| Value::Object(m.clone()).to_json_string());
                    (scope, json)
                })
                .collect()
        };
        p.db.save_context(&self.name, &rows).await
    }
}

/// All stores; shared by every node.
#[derive(Debug)]
pub struct ContextManager {
    stores: IndexMap<String, Arc<Store>>,
    default: String,
    warned: Mutex<HashSet<String>>,
    flushers: Mutex<Vec<JoinHandle<()>>>,
}

impl ContextManager {
    /// A single memory store (no `contextStorage` setting).
    pub fn memory() -> Arc<Self> {
        let mut stores = IndexMap::new();
        stores.insert(
            "memory".to_owned(),
            Arc::new(Store {
                name: "memory".to_owned(),
                ..Store::default()
            }),
        );
        Arc::new(Self {
            stores,
            default: "memory".to_owned(),
            warned: Mutex::default(),
            flushers: Mutex::default(),
        })
    }

    /// Builds the stores of a `contextStorage` setting; persistent ones load from `db`.
    pub async fn from_settings(
        settings: &IndexMap<String, StoreSetting>,
        db: Option<&Db>,
    ) -> Result<Arc<Self>, ContextSetupError> {
        if settings.is_empty() {
            return Ok(Self::memory());
        }
        let mut stores = IndexMap::new();
        let mut alias = None;
        for (name, setting) in settings {
            let config = match setting {
                StoreSetting::Alias(target) if name == DEFAULT_STORE => {
                    alias = Some(target.clone());
                    continue;
                }
                StoreSetting::Alias(module) => StoreConfig {
                    module: module.clone(),
                    config: StoreOptions::default(),
                },
                StoreSetting::Store(c) => c.clone(),
            };
            let persist = match config.module.as_str() {
                "memory" => None,
                "sqlite" | "localfilesystem" => {
                    let db =
                        db.ok_or_else(|| ContextSetupError::NoDatabase { name: name.clone() })?;
                    Some(Persist {
                        db: db.clone(),
                        dirty: Mutex::default(),
                        interval: Duration::from_secs_f64(config.config.flush_interval.max(0.01)),
                    })
                }
                other => {
                    return Err(ContextSetupError::UnknownModule {
                        name: name.clone(),
                        module: other.to_owned(),
                    });
                }
            };
            let store = Store {
                name: name.clone(),
                data: Mutex::default(),
                persist,
            };
            if let Some(p) = &store.persist {
                let rows = p.db.load_context(name).await?;
                let mut data = store.data();
                for (scope, json) in rows {
                    match serde_json::from_str::<Value>(&json) {
                        Ok(Value::Object(map)) => {
                            data.insert(scope, map);
                        }
                        _ => tracing::warn!(
                            store = %name,
                            %scope,
                            "Skipping unreadable persisted context."
                        ),
                    }
                }
            }
            stores.insert(name.clone(), Arc::new(store));
        }
        // Without a `default` entry the first listed store is the default.
        let default = match alias {
            Some(target) if stores.contains_key(&target) => target,
            Some(target) => return Err(ContextSetupError::UnknownAlias(target)),
            None => stores
                .keys()
                .next()
                .cloned()
                .unwrap_or_else(|| "memory".to_owned()),
        };
        let manager = Arc::new(Self {
            stores,
            default,
            warned: Mutex::default(),
            flushers: Mutex::default(),
        });
        manager.start_flushers();
        Ok(manager)
    }

    fn start_flushers(self: &Arc<Self>) {
        let mut handles = Vec::new();
        for store in self.stores.values() {
            let Some(p) = &store.persist else { continue };
            let interval = p.interval;
            let store = Arc::clone(store);
            handles.push(tokio::spawn(async move {
                let mut ticker = tokio::time::interval(interval);
                ticker.tick().await;
                loop {
                    ticker.tick().await;
                    if let Err(e) = store.flush().await {
                        tracing::error!(store = %store.name, error = %e, "Context flush failed.");
                    }
                }
            }));
        }
        self.flushers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend(handles);
    }

    /// Names of the stores and the default, as the editor's settings report them.
    pub fn store_names(&self) -> (String, Vec<String>) {
        (self.default.clone(), self.stores.keys().cloned().collect())
    }

    /// Writes every changed value now (shutdown, tests).
    pub async fn flush(&self) {
        for store in self.stores.values() {
            if let Err(e) = store.flush().await {
                tracing::error!(store = %store.name, error = %e, "Context flush failed.");
            }
        }
    }

    /// Stops the flush timers after a last flush.
    pub async fn close(&self) {
        let handles: Vec<JoinHandle<()>> = self
            .flushers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .drain(..)
            .collect();
        for h in handles {
            h.abort();
        }
        self.flush().await;
    }

    fn store(&self, name: Option<&str>) -> &Arc<Store> {
        let name = match name {
            None | Some(DEFAULT_STORE) => self.default.as_str(),
            Some(n) => n,
        };
        match self.stores.get(name) {
            Some(s) => s,
            None => {
                let mut warned = self
                    .warned
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if warned.insert(name.to_owned()) {
                    tracing::warn!(
                        store = name,
                        "Unknown context store; using the default store."
                    );
                }
                &self.stores[self.default.as_str()]
            }
        }
    }

    /// Reads `key` (a property path) of a scope.
    pub fn get(
        &self,
        scope: &str,
        key: &str,
        store: Option<&str>,
    ) -> Result<Option<Value>, ContextError> {
        let path = parse_key(key)?;
        let store = self.store(store);
        let data = store.data();
        let Some(map) = data.get(scope) else {
            return Ok(None);
        };
        // Walk from the stored key; clone only the value asked for.
        let value = match path.segments().split_first() {
            Some((Segment::Key(first), rest)) => map
                .get(first)
                .and_then(|v| v.get_segments(rest, &Value::Null))
                .cloned(),
            _ => None,
        };
        Ok(value)
    }

    /// Writes `key`; `None` deletes it.
    pub fn set(
        &self,
        scope: &str,
        key: &str,
        value: Option<Value>,
        store: Option<&str>,
    ) -> Result<(), ContextError> {
        let path = parse_key(key)?;
        let store = self.store(store);
        {
            let mut data = store.data();
            let map = data.entry(scope.to_owned()).or_default();
            match (path.first_key(), path.segments().len(), value) {
                (Some(first), 1, Some(v)) => {
                    map.insert(first.to_owned(), v);
                }
                (Some(first), 1, None) => {
                    map.shift_remove(first);
                }
                (_, _, value) => {
                    let mut holder = Value::Object(std::mem::take(map));
                    let root = Value::Null;
                    let result = match value {
                        Some(v) => holder.set_path(&path, v, &root).map_err(|e| {
                            ContextError::NotAContainer {
                                key: key.to_owned(),
                                reason: e.to_string(),
                            }
                        }),
                        None => {
                            holder.delete_path(&path, &root);
                            Ok(())
                        }
                    };
                    if let Value::Object(m) = holder {
                        *map = m;
                    }
                    result?;
                }
            }
        }
        store.mark_dirty(scope);
        Ok(())
    }

    /// Top-level keys of a scope.
    pub fn keys(&self, scope: &str, store: Option<&str>) -> Vec<String> {
        self.store(store)
            .data()
            .get(scope)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Drops a scope from every store (a node removed by a deploy).
    pub fn delete_scope(&self, scope: &str) {
        for store in self.stores.values() {
            if store.data().remove(scope).is_some() {
                store.mark_dirty(scope);
            }
        }
    }

    /// Drops the scopes of nodes and flows no longer deployed: a scope `<id>` or
    /// `<id>:<flow>` whose `<id>` is not in `known` (Node-RED's `context.clean`).
    pub fn clean(&self, known: &std::collections::HashSet<&str>) {
        for store in self.stores.values() {
            let gone: Vec<String> = store
                .data()
                .keys()
                .filter(|scope| {
                    let owner = scope.split(':').next().unwrap_or_default();
                    *scope != "global" && !known.contains(owner)
                })
                .cloned()
                .collect();
            for scope in gone {
                store.data().remove(&scope);
                store.mark_dirty(&scope);
            }
        }
    }

    /// Seeds global context (`functionGlobalContext`) in the default store.
    pub fn seed_global(&self, values: &Map) {
        let store = self.store(None);
        let mut data = store.data();
        let global = data.entry("global".to_owned()).or_default();
        for (k, v) in values {
            global.insert(k.clone(), v.clone());
        }
    }
}

fn parse_key(key: &str) -> Result<PropPath, ContextError> {
    if key.is_empty() {
        return Err(ContextError::InvalidKey);
    }
    PropPath::parse(key).map_err(|e| ContextError::BadPath {
        key: key.to_owned(),
        reason: e.to_string(),
    })
}

/// A node's handle on its three contexts.
#[derive(Debug, Clone)]
pub struct NodeContext {
    manager: Arc<ContextManager>,
    node_scope: Arc<str>,
    flow_scope: Arc<str>,
    /// For subflow instances: the containing flow's scope (`$parent.` keys).
    parent_flow_scope: Option<Arc<str>>,
}

impl NodeContext {
    pub fn new(
        manager: Arc<ContextManager>,
        node_scope: Arc<str>,
        flow_scope: Arc<str>,
        parent_flow_scope: Option<Arc<str>>,
    ) -> Self {
        Self {
            manager,
            node_scope,
            flow_scope,
            parent_flow_scope,
        }
    }

    fn scope_and_key<'k>(&self, scope: ContextScope, key: &'k str) -> (&str, &'k str) {
        match scope {
            ContextScope::Node => (&self.node_scope, key),
            ContextScope::Global => ("global", key),
            ContextScope::Flow => match (key.strip_prefix("$parent."), &self.parent_flow_scope) {
                (Some(rest), Some(parent)) => (parent, rest),
                _ => (&self.flow_scope, key),
            },
        }
    }

    /// `context.get(key, store)` / `flow.get` / `global.get`; a `#:(store)::` prefix wins.
    pub fn get(
        &self,
        scope: ContextScope,
        key: &str,
        store: Option<&str>,
    ) -> Result<Option<Value>, ContextError> {
        let (prefixed, key) = parse_store_prefix(key);
        let (scope_id, key) = self.scope_and_key(scope, key);
        self.manager.get(scope_id, key, prefixed.or(store))
    }

    /// `set(key, value, store)`; `None` deletes.
    pub fn set(
        &self,
        scope: ContextScope,
        key: &str,
        value: Option<Value>,
        store: Option<&str>,
    ) -> Result<(), ContextError> {
        let (prefixed, key) = parse_store_prefix(key);
        let (scope_id, key) = self.scope_and_key(scope, key);
        self.manager.set(scope_id, key, value, prefixed.or(store))
    }

    pub fn keys(&self, scope: ContextScope, store: Option<&str>) -> Vec<String> {
        let (scope_id, _) = self.scope_and_key(scope, "");
        self.manager.keys(scope_id, store)
    }

    pub fn manager(&self) -> &Arc<ContextManager> {
        &self.manager
    }

    pub fn node_scope(&self) -> &str {
        &self.node_scope
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handle(manager: &Arc<ContextManager>) -> NodeContext {
        NodeContext::new(
            Arc::clone(manager),
            "n1:f1".into(),
            "sub1".into(),
            Some("f1".into()),
        )
    }

    #[test]
    fn keys_are_property_paths_into_the_stored_object() {
        let manager = ContextManager::memory();
        let cx = handle(&manager);
        cx.set(ContextScope::Flow, "a.b[1]", Some(Value::from(5)), None)
            .expect("set");
        assert_eq!(
            cx.get(ContextScope::Flow, "a", None).expect("get"),
            Some(Value::from(serde_json::json!({"b": [null, 5]})))
        );
        cx.set(ContextScope::Flow, "a.b", None, None)
            .expect("delete");
        assert_eq!(cx.get(ContextScope::Flow, "a.b", None).expect("get"), None);
        assert_eq!(
            cx.get(ContextScope::Node, "", None),
            Err(ContextError::InvalidKey)
        );
    }

    #[test]
    fn parent_prefix_reaches_the_containing_flow() {
        let manager = ContextManager::memory();
        let cx = handle(&manager);
        cx.set(ContextScope::Flow, "$parent.x", Some(Value::from(1)), None)
            .expect("set");
        assert_eq!(
            manager.get("f1", "x", None).expect("get"),
            Some(Value::from(1))
        );
        assert_eq!(cx.get(ContextScope::Flow, "x", None).expect("get"), None);
    }

    #[test]
    fn store_prefix_is_split_off() {
        assert_eq!(parse_store_prefix("#:(file)::a.b"), (Some("file"), "a.b"));
        assert_eq!(parse_store_prefix("a.b"), (None, "a.b"));
    }

    #[tokio::test]
    async fn persistent_values_survive_a_restart() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ferrite.db");
        let settings: IndexMap<String, StoreSetting> = serde_json::from_value(serde_json::json!({
            "default": "file",
            "memoryOnly": {"module": "memory"},
            "file": {"module": "localfilesystem", "config": {"flushInterval": 60}}
        }))
        .expect("settings");
        {
            let db = Db::open(&path).await.expect("open");
            let manager = ContextManager::from_settings(&settings, Some(&db))
                .await
                .expect("stores");
            manager
                .set("global", "count", Some(Value::from(41)), None)
                .expect("set");
            manager
                .set("global", "gone", Some(Value::from(1)), Some("memoryOnly"))
                .expect("set");
            manager.close().await;
            db.close().await;
        }
        let db = Db::open(&path).await.expect("reopen");
        let manager = ContextManager::from_settings(&settings, Some(&db))
            .await
            .expect("stores");
        assert_eq!(
            manager.get("global", "count", None).expect("get"),
            Some(Value::from(41))
        );
        assert_eq!(
            manager
                .get("global", "gone", Some("memoryOnly"))
                .expect("get"),
            None
        );
        manager.close().await;
    }

    /// A value written before a kill survives once the flush interval has passed.
    #[tokio::test]
    async fn persistent_values_are_flushed_without_a_clean_shutdown() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ferrite.db");
        let settings: IndexMap<String, StoreSetting> = serde_json::from_value(serde_json::json!({
            "default": {"module": "localfilesystem", "config": {"flushInterval": 0.05}}
        }))
        .expect("settings");
        let db = Db::open(&path).await.expect("open");
        let manager = ContextManager::from_settings(&settings, Some(&db))
            .await
            .expect("stores");
        manager
            .set("f1", "reading", Some(Value::from(7)), None)
            .expect("set");
        // No close(): like a kill, only the periodic flush can have saved it.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let rows = db.load_context("default").await.expect("query");
            if rows
                .iter()
                .any(|(scope, data)| scope == "f1" && data.contains("7"))
            {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "not flushed in time"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let reopened = ContextManager::from_settings(&settings, Some(&db))
            .await
            .expect("stores");
        assert_eq!(
            reopened.get("f1", "reading", None).expect("get"),
            Some(Value::from(7))
        );
    }
}
