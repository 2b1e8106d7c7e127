//! What a node sees: [`BuildCtx`] while its config is read, [`NodeCtx`] while it runs.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value as Json, json};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::context::NodeContext;
use crate::env::Env;
use crate::events::EventBus;
use crate::msg::Msg;
use crate::node::{ConfigError, ConfigNode, Event, NodeError, Status, TimerId};
use crate::route::{Directory, NodeHandle, NodeIdent, Signal, Wiring};
use crate::settings::Settings;
use crate::store::Db;
use crate::typed::{Eval, EvalError, TypedValue};
use crate::value::{Map as ValueMap, Value};

/// Runtime-wide services every node shares.
#[derive(Debug)]
pub struct Shared {
    pub events: Arc<EventBus>,
    pub settings: Arc<Settings>,
    /// Distinguishes runtimes in one process (tests run many).
    pub runtime_id: u64,
    /// `ferrite.db`, when the runtime has a user directory.
    pub db: Option<Db>,
    /// What the `/dashboard` page shows.
    pub ui: Arc<crate::ui::UiHub>,
    /// Time series in `ferrite.db`, when the runtime has a user directory.
    pub history: Option<Arc<crate::history::HistoryStore>>,
}

/// Reading a node's config at deploy.
pub struct BuildCtx<'a> {
    pub ident: &'a NodeIdent,
    pub(crate) config: &'a Map<String, Json>,
    pub(crate) env: &'a Env,
    pub(crate) shared: &'a Shared,
    pub(crate) config_nodes: &'a HashMap<String, Arc<dyn ConfigNode>>,
}

impl BuildCtx<'_> {
    pub fn id(&self) -> &str {
        &self.ident.id
    }

    pub fn name(&self) -> &str {
        &self.ident.name
    }

    /// The node's config (after `${VAR}` substitution) as a typed struct. Use the
    /// `crate::loose` helpers for fields Node-RED writes as strings or native values.
    pub fn config<T: DeserializeOwned>(&self) -> Result<T, ConfigError> {
        serde_json::from_value(Json::Object(self.config.clone()))
            .map_err(|e| ConfigError::Invalid(e.to_string()))
    }

    /// The raw config object.
    pub fn raw(&self) -> &Map<String, Json> {
        self.config
    }

    /// Compiles the typed input stored in `value_key` with its type in `type_key`.
    pub fn typed(
        &self,
        value_key: &str,
        type_key: &str,
        default_type: &str,
    ) -> Result<TypedValue, ConfigError> {
        let value = self
            .config
            .get(value_key)
            .cloned()
            .unwrap_or(Json::String(String::new()));
        let vt = self
            .config
            .get(type_key)
            .and_then(Json::as_str)
            .unwrap_or(default_type);
        TypedValue::compile(vt, &value).map_err(|e| ConfigError::field(value_key, e))
    }

    pub fn env(&self) -> &Env {
        self.env
    }

    pub fn settings(&self) -> &Settings {
        &self.shared.settings
    }

    /// The node's credentials (Node-RED keeps them apart from the config; a deploy or a
    /// flows file may carry them inline under `credentials`).
    pub fn credentials(&self) -> Option<&Map<String, Json>> {
        self.config.get("credentials").and_then(Json::as_object)
    }

    /// One credential as text (`""` when absent).
    pub fn credential(&self, key: &str) -> &str {
        self.credentials()
            .and_then(|c| c.get(key))
            .and_then(Json::as_str)
            .unwrap_or_default()
    }

    /// The database (`ferrite.db`), when the runtime has a user directory.
    pub fn db(&self) -> Option<&Db> {
        self.shared.db.as_ref()
    }

    /// The dashboard hub (`ui-*` nodes register their items there).
    pub fn ui(&self) -> &Arc<crate::ui::UiHub> {
        &self.shared.ui
    }

    /// The history store, when the runtime has a user directory.
    pub fn history(&self) -> Option<&Arc<crate::history::HistoryStore>> {
        self.shared.history.as_ref()
    }

    /// A unique number of the runtime building this node.
    pub fn runtime_id(&self) -> u64 {
        self.shared.runtime_id
    }

    /// The config node named by `field` (e.g. `broker`), as its concrete type.
    pub fn config_node<T: ConfigNode>(&self, field: &str) -> Result<&T, ConfigError> {
        let id = self
            .config
            .get(field)
            .and_then(Json::as_str)
            .unwrap_or_default();
        self.config_nodes
            .get(id)
            .and_then(|node| node.as_any().downcast_ref::<T>())
            .ok_or_else(|| ConfigError::MissingConfigNode {
                field: field.to_owned(),
                id: id.to_owned(),
            })
    }
}

/// The ways into a running node besides its wired inbox.
pub(crate) struct Inlets {
    pub signals: mpsc::UnboundedSender<Signal>,
    pub feed: mpsc::Sender<Event>,
    pub stopping: Arc<AtomicBool>,
}

/// A running node's handle on the runtime: sending, status, errors, context, timers.
pub struct NodeCtx {
    pub(crate) ident: Arc<NodeIdent>,
    pub(crate) wiring: Arc<Wiring>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) env: Env,
    pub(crate) context: NodeContext,
    pub(crate) signals: mpsc::UnboundedSender<Signal>,
    feed: mpsc::Sender<Event>,
    stopping: Arc<AtomicBool>,
    timers: HashMap<TimerId, JoinHandle<()>>,
    next_timer: u64,
    /// While handling a message of a node Complete nodes watch: the first message it sent.
    pub(crate) sent_for_complete: Option<Option<Msg>>,
    /// The node said the current input is not done when `on_input` returns.
    pub(crate) done_deferred: bool,
}

impl NodeCtx {
    pub(crate) fn new(
        ident: Arc<NodeIdent>,
        wiring: Arc<Wiring>,
        shared: Arc<Shared>,
        env: Env,
        context: NodeContext,
        inlets: Inlets,
    ) -> Self {
        Self {
            ident,
            wiring,
            shared,
            env,
            context,
            signals: inlets.signals,
            feed: inlets.feed,
            stopping: inlets.stopping,
            timers: HashMap::new(),
            next_timer: 0,
            sent_for_complete: None,
            done_deferred: false,
        }
    }

    pub fn id(&self) -> &str {
        &self.ident.id
    }

    pub fn type_name(&self) -> &str {
        &self.ident.type_name
    }

    pub fn name(&self) -> &str {
        &self.ident.name
    }

    pub fn ident(&self) -> &NodeIdent {
        &self.ident
    }

    pub fn settings(&self) -> &Settings {
        &self.shared.settings
    }

    pub fn events(&self) -> &EventBus {
        &self.shared.events
    }

    /// The dashboard hub: `ui-*` nodes send to the page and hear its inputs through it.
    pub fn ui(&self) -> &Arc<crate::ui::UiHub> {
        &self.shared.ui
    }

    /// The history store, when the runtime has a user directory.
    pub fn history(&self) -> Option<&Arc<crate::history::HistoryStore>> {
        self.shared.history.as_ref()
    }

    pub fn env(&self) -> &Env {
        &self.env
    }

    pub fn context(&self) -> &NodeContext {
        &self.context
    }

    /// Becomes true once the runtime starts stopping this node, while `on_input` may still
    /// be running: work that can take long within one call (a script) polls it to give up.
    pub fn stopping(&self) -> &Arc<AtomicBool> {
        &self.stopping
    }

    /// Number of output ports wired (as the flow declares them).
    pub fn output_count(&self) -> usize {
        self.wiring.outputs.len()
    }

    /// Evaluates a typed input against a message.
    pub fn eval(&self, typed: &TypedValue, msg: Option<&Msg>) -> Result<Option<Value>, EvalError> {
        typed.evaluate(self.eval_scope(msg))
    }

    /// What typed inputs and expressions may read.
    pub fn eval_scope<'a>(&'a self, msg: Option<&'a Msg>) -> Eval<'a> {
        Eval {
            msg,
            env: &self.env,
            context: Some(&self.context),
        }
    }

    /// `send(msg)`: output 0.
    pub async fn send(&mut self, msg: Msg) {
        self.send_to(0, msg).await;
    }

    /// Sends on one output. Every wire gets the message; copies are made lazily when a
    /// receiver changes it (copy-on-write), never here.
    pub async fn send_to(&mut self, port: usize, mut msg: Msg) {
        msg.ensure_msgid();
        if let Some(slot) = &mut self.sent_for_complete {
            slot.get_or_insert_with(|| msg.clone());
        }
        let Some(targets) = self.wiring.outputs.get(port) else {
            return;
        };
        if let Some((last, rest)) = targets.split_last() {
            for inbox in rest {
                inbox.deliver(msg.clone()).await;
            }
            last.deliver(msg).await;
        }
    }

    /// `send([m0, m1, ...])`: element i goes to output i; `None` skips an output. Messages
    /// without an id all get the same new one, as in Node-RED.
    pub async fn send_ports(&mut self, msgs: Vec<Option<Msg>>) {
        let lacking = msgs.iter().flatten().any(|m| m.msgid().is_none());
        let shared_id = lacking.then(|| {
            msgs.iter()
                .flatten()
                .find_map(|m| m.msgid().map(str::to_owned))
                .unwrap_or_else(crate::msg::new_msgid)
        });
        for (port, msg) in msgs.into_iter().enumerate() {
            let Some(mut msg) = msg else { continue };
            if let (None, Some(id)) = (msg.msgid(), &shared_id) {
                msg.insert(crate::msg::MSGID, id.clone());
            }
            self.send_to(port, msg).await;
        }
    }

    /// `node.status(...)`: shown in the editor and passed to Status nodes.
    pub async fn status(&mut self, status: Status) {
        let topic = format!("status/{}", self.ident.id);
        if status.is_clear() {
            self.shared.events.clear(topic);
        } else {
            let data = serde_json::to_value(&status).unwrap_or_default();
            self.shared.events.publish(topic, data, true);
        }
        // The first level with status nodes handles it; statuses pass up no further.
        let Some(watchers) = self.wiring.status.iter().find(|level| !level.is_empty()) else {
            return;
        };
        let mut status_obj = ValueMap::new();
        for (key, value) in [
            ("fill", status.fill),
            ("shape", status.shape),
            ("text", status.text),
        ] {
            if let Some(v) = value {
                status_obj.insert(key.to_owned(), Value::String(v));
            }
        }
        status_obj.insert("source".to_owned(), self.source_value(None));
        let mut msg = Msg::new();
        msg.insert("status", Value::Object(status_obj));
        for inbox in watchers {
            // Each status node gets a message of its own, with its own id.
            let mut own = msg.clone();
            own.ensure_msgid();
            inbox.deliver(own).await;
        }
    }

    /// `{id, type, name}` (+ `count`) of this node, as `msg.error.source` carries it.
    fn source_value(&self, count: Option<i64>) -> Value {
        let mut source = ValueMap::new();
        source.insert("id".to_owned(), Value::String(self.ident.id.to_string()));
        source.insert(
            "type".to_owned(),
            Value::String(self.ident.type_name.to_string()),
        );
        source.insert(
            "name".to_owned(),
            Value::String(self.ident.name.to_string()),
        );
        if let Some(count) = count {
            source.insert("count".to_owned(), Value::Int(count));
        }
        Value::Object(source)
    }

    /// `node.error(err, msg)`: to Catch nodes when the error carries a message and one
    /// catches it, else logged with the node's id and type.
    pub async fn report_error(&mut self, error: NodeError) {
        let handled = match &error.msg {
            Some(msg) => self.route_error(&error, msg.clone()).await,
            None => false,
        };
        if !handled {
            self.log_entry(20, &error.message);
        }
    }

    async fn route_error(&mut self, error: &NodeError, msg: Msg) -> bool {
        // Node-RED's loop guard: the same message erroring in the same node again and again.
        let mut count = 1;
        if let Some(Value::Object(prev)) = msg.get("error")
            && let Some(Value::Object(source)) = prev.get("source")
            && source.get("id").and_then(Value::as_str) == Some(&*self.ident.id)
        {
            count = source.get("count").and_then(Value::as_i64).unwrap_or(0) + 1;
            if count == 10 {
                self.warn("Message exceeded maximum number of catches");
                return false;
            }
        }
        let wiring = Arc::clone(&self.wiring);
        for level in &wiring.errors {
            let mut handled = false;
            let mut handled_by_uncaught = false;
            for target in level {
                if target.uncaught && !handled_by_uncaught {
                    if handled {
                        continue;
                    }
                    handled_by_uncaught = true;
                }
                let mut error_msg = msg.clone();
                let map = error_msg.map_mut();
                if let Some(previous) = map.get("error").cloned() {
                    map.insert("_error".to_owned(), previous);
                }
                let mut detail = ValueMap::new();
                detail.insert("message".to_owned(), Value::String(error.message.clone()));
                detail.insert("source".to_owned(), self.source_value(Some(count)));
                if let Some(code) = &error.code {
                    detail.insert("code".to_owned(), Value::String(code.clone()));
                }
                map.insert("error".to_owned(), Value::Object(detail));
                target.inbox.deliver(error_msg).await;
                handled = true;
            }
            if handled {
                return true;
            }
        }
        false
    }

    /// The message being handled is not done when `on_input` returns: a node that holds
    /// messages (delay) calls [`NodeCtx::done`] when it releases or drops one; a node that
    /// never signals completion in Node-RED (switch, filter) just calls this.
    pub fn defer_done(&mut self) {
        self.done_deferred = true;
    }

    /// Node-RED's `done()` for a message handled outside `on_input` (a held message sent
    /// later, an inject timer's message): Complete nodes watching this node receive a copy.
    pub async fn done(&mut self, msg: &Msg) {
        if self.watched_by_complete() {
            self.complete(msg.clone()).await;
        }
    }

    /// Sends the message to the Complete nodes watching this node.
    pub(crate) async fn complete(&mut self, msg: Msg) {
        let wiring = Arc::clone(&self.wiring);
        for inbox in &wiring.complete {
            let mut done = msg.clone();
            let mut complete = ValueMap::new();
            complete.insert("source".to_owned(), self.source_value(None));
            done.insert("complete", Value::Object(complete));
            inbox.deliver(done).await;
        }
    }

    /// Whether any Complete node watches this node: a node holding messages only needs to
    /// keep copies for [`NodeCtx::done`] when this is true.
    pub fn watched_by_complete(&self) -> bool {
        !self.wiring.complete.is_empty()
    }

    /// `node.warn(text)`: logged, and shown in the editor's debug sidebar.
    pub fn warn(&self, text: &str) {
        self.log_entry(30, text);
    }

    /// `node.log(text)`: logged at info level.
    pub fn log(&self, text: &str) {
        tracing::info!(node_id = %self.ident.id, node_type = %self.ident.type_name, "[{}:{}] {text}", self.ident.type_name, self.ident.label());
    }

    /// `node.debug(text)`: logged at debug level.
    pub fn debug(&self, text: &str) {
        tracing::debug!(node_id = %self.ident.id, node_type = %self.ident.type_name, "[{}:{}] {text}", self.ident.type_name, self.ident.label());
    }

    /// `node.trace(text)`: logged at trace level.
    pub fn trace(&self, text: &str) {
        tracing::trace!(node_id = %self.ident.id, node_type = %self.ident.type_name, "[{}:{}] {text}", self.ident.type_name, self.ident.label());
    }

    /// A warn (30) or error (20) log entry: to the log and to the debug sidebar.
    fn log_entry(&self, level: u8, text: &str) {
        let (id, kind, label) = (&self.ident.id, &self.ident.type_name, self.ident.label());
        if level <= 20 {
            tracing::error!(node_id = %id, node_type = %kind, "[{kind}:{label}] {text}");
        } else {
            tracing::warn!(node_id = %id, node_type = %kind, "[{kind}:{label}] {text}");
        }
        let mut entry = json!({
            "level": level,
            "id": &*self.ident.id,
            "type": &*self.ident.type_name,
            "msg": text,
            "path": &*self.ident.flow_path,
            "timestamp": chrono::Utc::now().timestamp_millis(),
            "format": format!("string[{}]", text.chars().count()),
        });
        if let Some(obj) = entry.as_object_mut() {
            if let Some(z) = &self.ident.z {
                obj.insert("z".to_owned(), json!(&**z));
            }
            if !self.ident.name.is_empty() {
                obj.insert("name".to_owned(), json!(&*self.ident.name));
            }
            if let Some(alias) = &self.ident.alias {
                obj.insert("_alias".to_owned(), json!(&**alias));
            }
        }
        self.shared.events.publish("debug", entry, false);
    }

    /// Posts `Event::Timer(id)` to this node after `delay`.
    pub fn after(&mut self, delay: Duration) -> TimerId {
        let id = self.new_timer_id();
        let signals = self.signals.clone();
        let handle = tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let _ = signals.send(Signal::Event(Event::Timer(id)));
        });
        self.timers.insert(id, handle);
        id
    }

    /// Posts `Event::Timer(id)` to this node every `period` (first after one period).
    pub fn every(&mut self, period: Duration) -> TimerId {
        let id = self.new_timer_id();
        let signals = self.signals.clone();
        let period = period.max(Duration::from_millis(1));
        let handle = tokio::spawn(async move {
            let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                if signals.send(Signal::Event(Event::Timer(id))).is_err() {
                    break;
                }
            }
        });
        self.timers.insert(id, handle);
        id
    }

    /// Stops a timer; a tick already posted may still arrive.
    pub fn cancel_timer(&mut self, id: TimerId) {
        if let Some(handle) = self.timers.remove(&id) {
            handle.abort();
        }
    }

    /// Forgets a one-shot timer that fired.
    pub fn timer_fired(&mut self, id: TimerId) {
        self.timers.remove(&id);
    }

    pub(crate) fn cancel_all_timers(&mut self) {
        for (_, handle) in self.timers.drain() {
            handle.abort();
        }
    }

    fn new_timer_id(&mut self) -> TimerId {
        self.next_timer += 1;
        TimerId(self.next_timer)
    }

    /// A sender background tasks use to hand events back to this node.
    pub fn event_sender(&self) -> EventSender {
        EventSender(self.signals.clone())
    }

    /// A bounded way in for a source's events (MQTT messages, PLC readings): a producer
    /// waits while the node's queue is full, so a burst pushes back instead of piling up.
    pub fn feed(&self) -> Feed {
        Feed(self.feed.clone())
    }

    /// A running node by runtime id (link call targets, link returns).
    pub fn node(&self, id: &str) -> Option<&NodeHandle> {
        self.wiring.directory.get(id)
    }

    /// Every running node.
    pub fn directory(&self) -> &Directory {
        &self.wiring.directory
    }

    /// Delivers a message straight to another node's input (link call → link in).
    pub async fn deliver_to(&self, id: &str, mut msg: Msg) -> bool {
        msg.ensure_msgid();
        match self.wiring.directory.get(id) {
            Some(handle) => handle.inbox.deliver(msg).await,
            None => false,
        }
    }

    /// Posts an event to another node (a link out in return mode hands back to its call).
    pub fn post_event(&self, id: &str, event: Event) -> bool {
        match self.wiring.directory.get(id) {
            Some(handle) => handle.signals.send(Signal::Event(event)).is_ok(),
            None => false,
        }
    }
}

/// Hands events to a node with backpressure (see [`NodeCtx::feed`]).
#[derive(Debug, Clone)]
pub struct Feed(mpsc::Sender<Event>);

impl Feed {
    /// Waits for room; false once the node has stopped.
    pub async fn send(&self, event: Event) -> bool {
        self.0.send(event).await.is_ok()
    }

    /// Hands the event over if there is room right now; gives it back otherwise.
    pub fn try_send(&self, event: Event) -> Result<(), Event> {
        self.0.try_send(event).map_err(|e| match e {
            mpsc::error::TrySendError::Full(ev) | mpsc::error::TrySendError::Closed(ev) => ev,
        })
    }

    /// False once the node has stopped.
    pub fn is_open(&self) -> bool {
        !self.0.is_closed()
    }
}

/// Hands events to a node from elsewhere (a spawned task, a connection actor).
#[derive(Debug, Clone)]
pub struct EventSender(mpsc::UnboundedSender<Signal>);

impl EventSender {
    /// False once the node has stopped.
    pub fn send(&self, event: Event) -> bool {
        self.0.send(Signal::Event(event)).is_ok()
    }
}
