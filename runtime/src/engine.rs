//! Deploy, start and stop: one task per node, restarted only where a deploy changed things.

use std::collections::{HashMap, HashSet};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use futures_util::FutureExt;
use serde_json::{Value as Json, json};
use sha2::{Digest, Sha256};
use tokio::sync::{Mutex, mpsc};
use tokio::task::JoinHandle;

use crate::context::{ContextManager, ContextSetupError, NodeContext};
use crate::credentials::CredentialStore;
use crate::ctx::{BuildCtx, Inlets, NodeCtx, Shared};
use crate::env::Env;
use crate::events::EventBus;
use crate::flows::diff::{DeployKind, changed_ids};
use crate::flows::graph::{self, Graph, Plan, PlannedNode};
use crate::flows::raw::{self, RawNode};
use crate::flows::report::{DeployIssue, DeployReport};
use crate::msg::Msg;
use crate::node::{Build, ConfigError, ConfigNode, Node, NodeError, Role, Status};
use crate::registry::Registry;
use crate::route::{Inbox, InboxRx, NodeHandle, NodeIdent, Router, Signal, nodes_in_cycles};
use crate::settings::Settings;
use crate::store::{Db, StoreError};

/// Messages a node handles in a row before it lets its other work (events, stop) in.
const INPUT_BATCH: usize = 64;

static NEXT_RUNTIME_ID: AtomicU64 = AtomicU64::new(1);

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Context(#[from] ContextSetupError),
    #[error("no running node with id '{0}'")]
    UnknownNode(String),
    #[error("node '{0}' has stopped")]
    NodeStopped(String),
}

/// The flow runtime. Cheap to clone; every clone drives the same flows.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Arc<Registry>,
    shared: Arc<Shared>,
    context: Arc<ContextManager>,
    db: Option<Db>,
    credentials: CredentialStore,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    flows: Vec<Json>,
    rev: String,
    raw: Vec<RawNode>,
    running: HashMap<String, Running>,
    configs: HashMap<String, RunningConfig>,
    started: bool,
}

struct Running {
    handle: NodeHandle,
    task: JoinHandle<()>,
    origins: Vec<String>,
    /// Its node context scope (`<id>:<flow>`).
    node_scope: String,
}

/// A node built from its config.
enum Built {
    Flow(Box<dyn Node>),
    Config(Arc<dyn ConfigNode>),
}

/// A flow node built by this deploy, with its channels, waiting to be wired and started.
struct Fresh<'g> {
    plan: &'g PlannedNode,
    node: Box<dyn Node>,
    inbox_rx: InboxRx,
    signal_rx: mpsc::UnboundedReceiver<Signal>,
    feed: mpsc::Sender<crate::node::Event>,
    feed_rx: mpsc::Receiver<crate::node::Event>,
    handle: NodeHandle,
}

impl<'g> Fresh<'g> {
    fn new(
        plan: &'g PlannedNode,
        node: Box<dyn Node>,
        unbounded: bool,
        settings: &Settings,
    ) -> Self {
        let (inbox, inbox_rx) = Inbox::channel(unbounded, settings.inbox_capacity());
        let (signals, signal_rx) = mpsc::unbounded_channel();
        let (feed, feed_rx) = mpsc::channel(settings.inbox_capacity());
        Self {
            handle: NodeHandle {
                ident: Arc::new(NodeIdent::from_plan(plan)),
                inbox,
                signals,
                role: plan.role,
                stopping: Arc::default(),
            },
            plan,
            node,
            inbox_rx,
            signal_rx,
            feed,
            feed_rx,
        }
    }
}

/// Which nodes get an unbounded inbox: those in a cycle of wires (a bounded one could
/// deadlock the loop) and the runtime-fed Catch, Status and Complete nodes.
struct InboxPolicy {
    cyclic: HashSet<String>,
}

impl InboxPolicy {
    fn new(graph: &Graph) -> Self {
        Self {
            cyclic: nodes_in_cycles(graph),
        }
    }

    fn unbounded(&self, plan: &PlannedNode) -> bool {
        self.cyclic.contains(&plan.id)
            || matches!(plan.role, Role::Catch | Role::Status | Role::Complete)
    }
}

/// A node's view of the environment: its identity, then its level chain.
fn env_of(plan: &PlannedNode) -> Env {
    Env {
        node_id: plan.id.as_str().into(),
        node_name: plan.name.as_str().into(),
        node_path: plan.path.as_str().into(),
        level: Arc::clone(&plan.env),
    }
}

fn issue_of(plan: &PlannedNode, error: &ConfigError) -> DeployIssue {
    DeployIssue::node(&plan.id, &plan.type_name, &plan.name, error.to_string())
}

struct RunningConfig {
    node: Arc<dyn ConfigNode>,
    origins: Vec<String>,
}

impl Runtime {
    /// Opens `ferrite.db` in the user dir (when there is one) and the context stores.
    pub async fn new(registry: Arc<Registry>, settings: Settings) -> Result<Self, RuntimeError> {
        let db = match &settings.user_dir {
            Some(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| StoreError::Sql(sqlx::Error::Io(e)))?;
                Some(Db::open(&dir.join("ferrite.db")).await?)
            }
            None => None,
        };
        let context = ContextManager::from_settings(&settings.context_storage, db.as_ref()).await?;
        context.seed_global(&settings.function_global_context);
        let credentials = CredentialStore::open(&settings);
        let history = db.as_ref().map(|db| {
            crate::history::HistoryStore::open(
                db.clone(),
                crate::history::Retention::from_settings(&settings),
            )
        });
        let shared = Arc::new(Shared {
            events: Arc::new(EventBus::new()),
            settings: Arc::new(settings),
            runtime_id: NEXT_RUNTIME_ID.fetch_add(1, Ordering::Relaxed),
            db: db.clone(),
            ui: Arc::new(crate::ui::UiHub::new()),
            history,
        });
        Ok(Self {
            inner: Arc::new(Inner {
                registry,
                shared,
                context,
                db,
                credentials,
                state: Mutex::new(State::default()),
            }),
        })
    }

    pub fn events(&self) -> &Arc<EventBus> {
        &self.inner.shared.events
    }

    pub fn context(&self) -> &Arc<ContextManager> {
        &self.inner.context
    }

    pub fn settings(&self) -> &Settings {
        &self.inner.shared.settings
    }

    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    pub fn runtime_id(&self) -> u64 {
        self.inner.shared.runtime_id
    }

    pub fn db(&self) -> Option<&Db> {
        self.inner.db.as_ref()
    }

    /// The dashboard hub the `/dashboard` page reads.
    pub fn ui(&self) -> &Arc<crate::ui::UiHub> {
        &self.inner.shared.ui
    }

    /// Time series in `ferrite.db`, when there is a user directory.
    pub fn history(&self) -> Option<&Arc<crate::history::HistoryStore>> {
        self.inner.shared.history.as_ref()
    }

    /// Node credentials, merged into each node's `credentials` config key at deploy.
    pub fn credentials(&self) -> &CredentialStore {
        &self.inner.credentials
    }

    /// The deployed flows and their revision.
    pub async fn flows(&self) -> (Vec<Json>, String) {
        let state = self.inner.state.lock().await;
        (state.flows.clone(), state.rev.clone())
    }

    /// Whether the flows are running (false while types are missing).
    pub async fn started(&self) -> bool {
        self.inner.state.lock().await.started
    }

    /// Checks flows without running them: parse, plan and build every node's config.
    pub fn check(&self, flows: &[Json]) -> DeployReport {
        let mut report = DeployReport::default();
        let raw = raw::read_nodes(flows, &mut report);
        let graph = graph::build(&raw, &self.inner.registry, &mut report);
        // Nodes built only to be checked are never started or closed: what they announce
        // at build (dashboard items) goes to a hub and bus of their own, not the live ones.
        let shared = &self.inner.shared;
        let sandbox = Shared {
            events: Arc::new(EventBus::new()),
            settings: Arc::clone(&shared.settings),
            runtime_id: shared.runtime_id,
            db: shared.db.clone(),
            ui: Arc::new(crate::ui::UiHub::new()),
            history: shared.history.clone(),
        };
        let mut config_nodes: HashMap<String, Arc<dyn ConfigNode>> = HashMap::new();
        for plan in &graph.nodes {
            match self.build_node(plan, &config_nodes, &sandbox) {
                Ok(Built::Config(node)) => {
                    config_nodes.insert(plan.id.clone(), node);
                }
                Ok(Built::Flow(_)) => {}
                Err(e) => report.push(issue_of(plan, &e)),
            }
        }
        report
    }

    /// Deploys flows: `Full` restarts everything, `Nodes` only what changed, `Flows` also
    /// what is wired to a change. Unknown types keep every flow stopped, as in Node-RED.
    pub async fn deploy(&self, flows: Vec<Json>, kind: DeployKind) -> DeployReport {
        let mut state = self.inner.state.lock().await;
        let mut report = DeployReport::default();
        // Nodes see their credentials; the flows kept (and their revision) never hold
        // them. A credential change shows in the diff, so a partial deploy restarts that
        // node, as in Node-RED.
        let with_credentials = self.with_credentials(&flows);
        let raw = raw::read_nodes(&with_credentials, &mut report);
        let graph = graph::build(&raw, &self.inner.registry, &mut report);
        let rev = revision(&flows);
        let events = &self.inner.shared.events;
        let state_topic = "notification/runtime-state";
        events.publish(state_topic, json!({"state": "stop", "deploy": true}), true);

        let start = report.flows_can_start();
        if start {
            // Restart everything, or only the changed nodes (and, for `flows`, what is
            // wired to them).
            let restart = if state.started {
                changed_ids(&state.raw, &raw, kind)
            } else {
                None
            };
            self.apply(&mut state, &graph, restart.as_ref(), &mut report)
                .await;
            // Contexts of nodes and flows that are gone are dropped (Node-RED's clean).
            let known: HashSet<&str> = raw
                .iter()
                .map(|n| n.id.as_str())
                .chain(graph.nodes.iter().map(|n| n.id.as_str()))
                .collect();
            self.inner.context.clean(&known);
        } else {
            self.stop_all(&mut state).await;
            tracing::warn!(types = ?report.missing_types, "Flows stopped: missing node types.");
            let warning = json!({
                "state": "stop",
                "error": "missing-types",
                "type": "warning",
                "text": "notification.warnings.missing-types",
                "types": report.missing_types,
            });
            events.publish(state_topic, warning, true);
        }
        // Recorded once the nodes run: their connections open meanwhile.
        self.record_revision(&rev, &flows).await;
        state.flows = flows;
        state.rev.clone_from(&rev);
        state.raw = raw;
        state.started = start;
        if start {
            events.publish(state_topic, json!({"state": "start", "deploy": true}), true);
        }
        events.publish(
            "notification/runtime-deploy",
            json!({"revision": rev}),
            true,
        );
        report
    }

    /// The flows with each node's stored credentials under its `credentials` key.
    fn with_credentials(&self, flows: &[Json]) -> Vec<Json> {
        let stored = self.inner.credentials.snapshot();
        flows
            .iter()
            .map(|item| {
                let mut item = item.clone();
                if let Json::Object(node) = &mut item
                    && let Some(creds) = node
                        .get("id")
                        .and_then(Json::as_str)
                        .and_then(|id| stored.get(id))
                {
                    let slot = node
                        .entry("credentials")
                        .or_insert_with(|| Json::Object(serde_json::Map::new()));
                    if let Json::Object(slot) = slot {
                        slot.extend(creds.iter().map(|(k, v)| (k.clone(), v.clone())));
                    } else {
                        *slot = Json::Object(creds.clone());
                    }
                }
                item
            })
            .collect()
    }

    async fn record_revision(&self, rev: &str, flows: &[Json]) {
        if let Some(db) = &self.inner.db {
            let text = Json::Array(flows.to_vec()).to_string();
            if let Err(e) = db.save_revision(rev, &text).await {
                tracing::error!(error = %e, "Could not record the flow revision.");
            }
        }
    }

    /// Brings the running nodes in line with `graph`: stops what must restart or has
    /// gone, builds and starts the new nodes, rewires the nodes kept.
    async fn apply<'g>(
        &self,
        state: &mut State,
        graph: &'g Graph,
        restart: Option<&HashSet<String>>,
        report: &mut DeployReport,
    ) {
        let inboxes = InboxPolicy::new(graph);
        let planned: HashMap<&str, &'g PlannedNode> =
            graph.nodes.iter().map(|p| (p.id.as_str(), p)).collect();
        // A running node is kept when a partial deploy did not change it (nor the subflow
        // it was copied from) and it still needs the same kind of inbox.
        let keeps = |id: &str, origins: &[String], unbounded: Option<bool>| match (
            restart,
            planned.get(id),
        ) {
            (Some(restart), Some(plan)) => {
                plan.origins == origins
                    && !origins.iter().any(|o| restart.contains(o))
                    && unbounded.is_none_or(|u| u == inboxes.unbounded(plan))
            }
            _ => false,
        };

        // Flow nodes stop first (they may still use config nodes), then config nodes.
        let stopping: Vec<String> = state
            .running
            .iter()
            .filter(|(id, r)| !keeps(id, &r.origins, Some(r.handle.inbox.is_unbounded())))
            .map(|(id, _)| id.clone())
            .collect();
        let stopping = stopping
            .into_iter()
            .filter_map(|id| {
                let removed = !planned.contains_key(id.as_str());
                state.running.remove(&id).map(|r| (r, removed))
            })
            .collect();
        self.stop_nodes(stopping).await;
        let closing: Vec<String> = state
            .configs
            .iter()
            .filter(|(id, c)| !keeps(id, &c.origins, None))
            .map(|(id, _)| id.clone())
            .collect();
        for id in closing {
            if let Some(config) = state.configs.remove(&id) {
                config.node.close().await;
            }
        }

        // Build what is not running (config nodes come first in the plan).
        let mut fresh = Vec::new();
        for plan in &graph.nodes {
            if state.running.contains_key(&plan.id) || state.configs.contains_key(&plan.id) {
                continue;
            }
            let config_nodes: HashMap<String, Arc<dyn ConfigNode>> = state
                .configs
                .iter()
                .map(|(k, v)| (k.clone(), Arc::clone(&v.node)))
                .collect();
            // A badge left by an earlier instance (or an earlier failed build) is stale.
            let status_topic = format!("status/{}", plan.id);
            self.inner.shared.events.clear(status_topic.clone());
            match self.build_node(plan, &config_nodes, &self.inner.shared) {
                Ok(Built::Config(node)) => {
                    let origins = plan.origins.clone();
                    state
                        .configs
                        .insert(plan.id.clone(), RunningConfig { node, origins });
                }
                Ok(Built::Flow(node)) => {
                    fresh.push(Fresh::new(
                        plan,
                        node,
                        inboxes.unbounded(plan),
                        self.settings(),
                    ));
                }
                Err(e) => {
                    tracing::error!(node_id = %plan.id, node_type = %plan.type_name, "[{}:{}] {e}", plan.type_name, plan.id);
                    report.push(issue_of(plan, &e));
                    // The editor shows the node is not running.
                    let text = e.to_string();
                    let text = match text.char_indices().nth(STATUS_TEXT_MAX) {
                        Some((cut, _)) => format!("{}…", &text[..cut]),
                        None => text,
                    };
                    self.inner.shared.events.publish(
                        status_topic,
                        json!({"fill": "red", "shape": "dot", "text": text}),
                        true,
                    );
                }
            }
        }

        // Everyone's wiring, against the new directory of running nodes.
        let mut directory: crate::route::Directory = state
            .running
            .iter()
            .map(|(id, r)| (id.clone(), r.handle.clone()))
            .collect();
        for f in &fresh {
            directory.insert(f.plan.id.clone(), f.handle.clone());
        }
        let router = Router::new(graph, Arc::new(directory));
        // A subflow's status output reports as its instance node.
        let reporter = |plan: &'g PlannedNode| -> &'g PlannedNode {
            match &plan.plan {
                Plan::SubflowStatus { instance } => {
                    planned.get(instance.as_str()).copied().unwrap_or(plan)
                }
                _ => plan,
            }
        };
        for (id, running) in &state.running {
            if let Some(plan) = planned.get(id.as_str()) {
                let wiring = router.wiring(plan, reporter(plan));
                let _ = running
                    .handle
                    .signals
                    .send(Signal::Rewire(Arc::new(wiring)));
            }
        }
        for f in fresh {
            let reporting = reporter(f.plan);
            let wiring = Arc::new(router.wiring(f.plan, reporting));
            let env = env_of(f.plan);
            let context = self.node_context(f.plan, graph);
            let node_scope = context.node_scope().to_owned();
            let ident = Arc::new(NodeIdent::from_plan(reporting));
            let cx = NodeCtx::new(
                ident,
                wiring,
                Arc::clone(&self.inner.shared),
                env,
                context,
                Inlets {
                    signals: f.handle.signals.clone(),
                    feed: f.feed,
                    stopping: Arc::clone(&f.handle.stopping),
                },
            );
            let task = tokio::spawn(run_node(f.node, cx, f.inbox_rx, f.signal_rx, f.feed_rx));
            let origins = f.plan.origins.clone();
            state.running.insert(
                f.plan.id.clone(),
                Running {
                    handle: f.handle,
                    task,
                    origins,
                    node_scope,
                },
            );
        }
    }

    /// Builds the node a plan describes (its config read and checked).
    fn build_node(
        &self,
        plan: &PlannedNode,
        config_nodes: &HashMap<String, Arc<dyn ConfigNode>>,
        shared: &Shared,
    ) -> Result<Built, ConfigError> {
        let def = match &plan.plan {
            Plan::Registered(def) => def,
            Plan::SubflowInstance => return Ok(Built::Flow(Box::new(PassThrough))),
            Plan::SubflowStatus { .. } => return Ok(Built::Flow(Box::new(SubflowStatusSink))),
        };
        let (ident, env, config) = self.prepare(plan);
        let mut cx = BuildCtx {
            ident: &ident,
            config: &config,
            env: &env,
            shared,
            config_nodes,
        };
        match def.build {
            Build::Flow(build) => build(&mut cx).map(Built::Flow),
            Build::Config(build) => build(&mut cx).map(Built::Config),
        }
    }

    /// The identity, env and `${VAR}`-substituted config of a planned node.
    fn prepare(&self, plan: &PlannedNode) -> (NodeIdent, Env, serde_json::Map<String, Json>) {
        let ident = NodeIdent::from_plan(plan);
        let env = env_of(plan);
        let mut config = Json::Object(plan.config.clone());
        env.substitute_config(&mut config);
        let config = match config {
            Json::Object(map) => map,
            _ => serde_json::Map::new(),
        };
        (ident, env, config)
    }

    fn node_context(&self, plan: &PlannedNode, graph: &Graph) -> NodeContext {
        // Node-RED keys node context by `<id>:<flow>`; inside a subflow instance by the
        // original id and the instance.
        let node_scope = match &plan.alias {
            Some(alias) => format!("{alias}:{}", plan.flow),
            None => format!(
                "{}:{}",
                plan.id,
                plan.z.as_deref().unwrap_or(graph::GLOBAL_FLOW)
            ),
        };
        let parent_flow = graph
            .flows
            .get(&plan.flow)
            .and_then(|f| f.parent.as_ref())
            .map(|p| p.flow.clone());
        NodeContext::new(
            Arc::clone(&self.inner.context),
            node_scope.into(),
            plan.flow.as_str().into(),
            parent_flow.map(Arc::from),
        )
    }

    /// Hands a message to a node's input, as `node.receive(msg)` does in Node-RED.
    pub async fn receive(&self, id: &str, mut msg: Msg) -> Result<(), RuntimeError> {
        msg.ensure_msgid();
        let inbox = {
            let state = self.inner.state.lock().await;
            state
                .running
                .get(id)
                .map(|r| r.handle.inbox.clone())
                .ok_or_else(|| RuntimeError::UnknownNode(id.to_owned()))?
        };
        if inbox.deliver(msg).await {
            Ok(())
        } else {
            Err(RuntimeError::NodeStopped(id.to_owned()))
        }
    }

    /// Posts an event to a running node's own inbox, as the editor's node buttons do
    /// (`Event::Toggle`). It jumps the queue of input messages, like timers do.
    pub async fn post_event(
        &self,
        id: &str,
        event: crate::node::Event,
    ) -> Result<(), RuntimeError> {
        let signals = {
            let state = self.inner.state.lock().await;
            state
                .running
                .get(id)
                .map(|r| r.handle.signals.clone())
                .ok_or_else(|| RuntimeError::UnknownNode(id.to_owned()))?
        };
        signals
            .send(Signal::Event(event))
            .map_err(|_| RuntimeError::NodeStopped(id.to_owned()))
    }

    /// The context scope the editor's context sidebar shows for a running node: its node
    /// context, or for a subflow instance the instance's flow context (as Node-RED does).
    pub async fn node_context_scope(&self, id: &str) -> Option<String> {
        let state = self.inner.state.lock().await;
        let running = state.running.get(id)?;
        Some(if running.handle.ident.type_name.starts_with("subflow:") {
            id.to_owned()
        } else {
            running.node_scope.clone()
        })
    }

    /// Ids of the running nodes.
    pub async fn running_ids(&self) -> Vec<String> {
        self.inner
            .state
            .lock()
            .await
            .running
            .keys()
            .cloned()
            .collect()
    }

    /// Stops every node (within the close timeout), flushes context, closes the database.
    pub async fn stop(&self) {
        let mut state = self.inner.state.lock().await;
        self.stop_all(&mut state).await;
        state.started = false;
        drop(state);
        self.inner.context.close().await;
        if let Some(history) = self.history() {
            history.close().await;
        }
        if let Some(db) = &self.inner.db {
            db.close().await;
        }
    }

    async fn stop_all(&self, state: &mut State) {
        let nodes: Vec<(Running, bool)> = state.running.drain().map(|(_, r)| (r, false)).collect();
        self.stop_nodes(nodes).await;
        for (_, config) in state.configs.drain() {
            config.node.close().await;
        }
    }

    async fn stop_nodes(&self, nodes: Vec<(Running, bool)>) {
        let timeout = self.settings().close_timeout();
        // Without configured stores a closed node forgets its context, as in Node-RED.
        let forget_context = self.settings().context_storage.is_empty();
        let mut tasks = Vec::with_capacity(nodes.len());
        for (running, removed) in nodes {
            running.handle.stopping.store(true, Ordering::Relaxed);
            let _ = running.handle.signals.send(Signal::Stop { removed });
            if forget_context {
                self.inner.context.delete_scope(&running.node_scope);
            }
            tasks.push((running.handle.ident, running.task));
        }
        for (ident, mut task) in tasks {
            if tokio::time::timeout(timeout, &mut task).await.is_err() {
                tracing::warn!(node_id = %ident.id, node_type = %ident.type_name, "Node did not close in time; abandoned.");
                task.abort();
            }
        }
    }
}

/// Longest status text a failed build shows before it is cut (the full reason is in the
/// deploy report and the log).
const STATUS_TEXT_MAX: usize = 60;

/// Node-RED's revision: SHA-256 of the flows' JSON text.
pub fn revision(flows: &[Json]) -> String {
    let text = Json::Array(flows.to_vec()).to_string();
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The task that runs one node until it is stopped.
async fn run_node(
    mut node: Box<dyn Node>,
    mut cx: NodeCtx,
    mut inbox: InboxRx,
    mut signals: mpsc::UnboundedReceiver<Signal>,
    mut feed: mpsc::Receiver<crate::node::Event>,
) {
    let started = guarded(node.on_start(&mut cx)).await;
    settle(&mut cx, started).await;
    let mut inbox_open = true;
    let removed = loop {
        tokio::select! {
            biased;
            signal = signals.recv() => match signal {
                Some(Signal::Event(event)) => handle_event(&mut *node, &mut cx, event).await,
                Some(Signal::Rewire(wiring)) => cx.wiring = wiring,
                Some(Signal::Stop { removed }) => break removed,
                None => break false,
            },
            Some(event) = feed.recv() => {
                handle_event(&mut *node, &mut cx, event).await;
                for _ in 0..INPUT_BATCH {
                    let Ok(event) = feed.try_recv() else { break };
                    handle_event(&mut *node, &mut cx, event).await;
                }
            },
            msg = inbox.recv(), if inbox_open => match msg {
                Some(msg) => {
                    handle_input(&mut *node, &mut cx, msg).await;
                    // Drain what is already queued before looking at signals again.
                    for _ in 0..INPUT_BATCH {
                        let Some(msg) = inbox.try_recv() else { break };
                        handle_input(&mut *node, &mut cx, msg).await;
                    }
                }
                None => inbox_open = false,
            },
        }
    };
    let close = AssertUnwindSafe(node.on_close(removed, &mut cx))
        .catch_unwind()
        .await;
    if close.is_err() {
        tracing::error!(node_id = %cx.ident.id, node_type = %cx.ident.type_name, "Node panicked while closing.");
    }
    cx.cancel_all_timers();
}

/// A timer or posted event. Nothing completes by itself here: a node calls
/// [`NodeCtx::done`] for the messages it finishes this way.
async fn handle_event(node: &mut dyn Node, cx: &mut NodeCtx, event: crate::node::Event) {
    let outcome = guarded(node.on_event(event, cx)).await;
    settle(cx, outcome).await;
}

/// An input message: done when `on_input` returns `Ok`, unless the node deferred it.
/// Complete nodes get the message as the node sent it on (or as received, if it sent none).
async fn handle_input(node: &mut dyn Node, cx: &mut NodeCtx, msg: Msg) {
    let watched = cx.watched_by_complete();
    let received = watched.then(|| msg.clone());
    if watched {
        cx.sent_for_complete = Some(None);
    }
    cx.done_deferred = false;
    let outcome = guarded(node.on_input(msg, cx)).await;
    let sent = cx.sent_for_complete.take().flatten();
    if matches!(outcome, Ok(Ok(()))) {
        if cx.done_deferred {
            return;
        }
        if let Some(done) = sent.or(received) {
            cx.complete(done).await;
        }
    } else {
        settle(cx, outcome).await;
    }
}

/// A node callback's result, or the text of its panic.
type Outcome = Result<Result<(), NodeError>, String>;

/// Runs a node callback, catching a panic so one broken node never takes the process or
/// its siblings down.
async fn guarded<F>(fut: F) -> Outcome
where
    F: std::future::Future<Output = Result<(), NodeError>>,
{
    AssertUnwindSafe(fut).catch_unwind().await.map_err(|panic| {
        panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_owned())
    })
}

/// Routes a callback's error; a panic also turns the node's status red.
async fn settle(cx: &mut NodeCtx, outcome: Outcome) {
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(e)) => cx.report_error(e).await,
        Err(panic) => {
            cx.status(Status::ring("red", "panicked")).await;
            cx.report_error(NodeError::new(format!("node panicked: {panic}")))
                .await;
        }
    }
}

/// A subflow instance: its input goes to the subflow's input targets.
struct PassThrough;

#[async_trait]
impl Node for PassThrough {
    async fn on_input(&mut self, msg: Msg, cx: &mut NodeCtx) -> Result<(), NodeError> {
        cx.send(msg).await;
        Ok(())
    }
}

/// A subflow's status output: `msg.status` or the payload becomes the instance's status.
struct SubflowStatusSink;

#[async_trait]
impl Node for SubflowStatusSink {
    async fn on_input(&mut self, msg: Msg, cx: &mut NodeCtx) -> Result<(), NodeError> {
        let status = match (msg.get("status"), msg.payload()) {
            (Some(status @ crate::value::Value::Object(_)), _) => Status::from_value(status),
            (_, Some(payload)) => {
                let mut status = Status::from_value(payload);
                if let Some(text) = &mut status.text
                    && text.chars().count() > 32
                {
                    *text = text.chars().take(32).collect::<String>() + "...";
                }
                status
            }
            _ => return Ok(()),
        };
        cx.status(status).await;
        Ok(())
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("id", &self.inner.shared.runtime_id)
            .finish_non_exhaustive()
    }
}
