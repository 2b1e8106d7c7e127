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
use crate::ctx::{BuildCtx, NodeCtx, Shared};
use crate::env::Env;
use crate::events::EventBus;
use crate::flows::diff::{DeployKind, changed_ids};
use crate::flows::graph::{self, Graph, Plan, PlannedNode};
use crate::flows::raw::{self, RawNode};
use crate::flows::report::{DeployIssue, DeployReport};
use crate::msg::Msg;
use crate::node::{Build, ConfigNode, Node, NodeError, Status};
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
        let shared = Arc::new(Shared {
            events: Arc::new(EventBus::new()),
            settings: Arc::new(settings),
            runtime_id: NEXT_RUNTIME_ID.fetch_add(1, Ordering::Relaxed),
        });
        Ok(Self {
            inner: Arc::new(Inner {
                registry,
                shared,
                context,
                db,
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
        let configs = HashMap::new();
        let mut built_configs: HashMap<String, Arc<dyn ConfigNode>> = HashMap::new();
        for plan in &graph.nodes {
            let Plan::Registered(def) = plan.plan else {
                continue;
            };
            let (ident, env, config) = self.prepare(plan);
            let mut cx = BuildCtx {
                ident: &ident,
                config: &config,
                env: &env,
                shared: &self.inner.shared,
                config_nodes: if built_configs.is_empty() {
                    &configs
                } else {
                    &built_configs
                },
            };
            let result = match def.build {
                Build::Flow(build) => build(&mut cx).map(|_| None),
                Build::Config(build) => build(&mut cx).map(Some),
            };
            match result {
                Ok(Some(config_node)) => {
                    built_configs.insert(plan.id.clone(), config_node);
                }
                Ok(None) => {}
                Err(e) => report.push(DeployIssue::node(
                    &plan.id,
                    &plan.type_name,
                    &plan.name,
                    e.to_string(),
                )),
            }
        }
        report
    }

    /// Deploys flows: `Full` restarts everything, `Nodes` only what changed, `Flows` also
    /// what is wired to a change. Unknown types keep every flow stopped, as in Node-RED.
    pub async fn deploy(&self, flows: Vec<Json>, kind: DeployKind) -> DeployReport {
        let mut state = self.inner.state.lock().await;
        let mut report = DeployReport::default();
        let raw = raw::read_nodes(&flows, &mut report);
        let graph = graph::build(&raw, &self.inner.registry, &mut report);
        let rev = revision(&flows);
        if let Some(db) = &self.inner.db {
            let text = Json::Array(flows.clone()).to_string();
            if let Err(e) = db.save_revision(&rev, &text).await {
                tracing::error!(error = %e, "Could not record the flow revision.");
            }
        }
        let events = &self.inner.shared.events;
        events.publish(
            "notification/runtime-state",
            json!({"state": "stop", "deploy": true}),
            true,
        );

        if !report.flows_can_start() {
            self.stop_all(&mut state).await;
            state.flows = flows;
            state.rev = rev.clone();
            state.raw = raw;
            state.started = false;
            let types = report.missing_types.clone();
            tracing::warn!(types = ?types, "Flows stopped: missing node types.");
            events.publish(
                "notification/runtime-state",
                json!({
                    "state": "stop",
                    "error": "missing-types",
                    "type": "warning",
                    "text": "notification.warnings.missing-types",
                    "types": types,
                }),
                true,
            );
            events.publish(
                "notification/runtime-deploy",
                json!({"revision": rev}),
                true,
            );
            return report;
        }

        // What must restart: everything, or the changed nodes (and, for `flows`, what is
        // wired to them).
        let restart: Option<HashSet<String>> = if state.started && kind != DeployKind::Full {
            changed_ids(&state.raw, &raw, kind)
        } else {
            None
        };
        let cyclic = nodes_in_cycles(&graph);
        let needs_unbounded = |p: &PlannedNode| {
            cyclic.contains(&p.id)
                || matches!(
                    p.role,
                    crate::node::Role::Catch
                        | crate::node::Role::Status
                        | crate::node::Role::Complete
                )
        };
        let planned: HashMap<&str, &PlannedNode> =
            graph.nodes.iter().map(|p| (p.id.as_str(), p)).collect();
        let keep = |id: &str, origins: &[String], unbounded_now: bool| -> bool {
            match (&restart, planned.get(id)) {
                (Some(restart), Some(p)) => {
                    p.origins == origins
                        && !origins.iter().any(|o| restart.contains(o))
                        && needs_unbounded(p) == unbounded_now
                }
                _ => false,
            }
        };

        // Stop flow nodes first (they may still use config nodes), then config nodes.
        let mut stopping = Vec::new();
        let ids: Vec<String> = state.running.keys().cloned().collect();
        for id in ids {
            let keep_it = state
                .running
                .get(&id)
                .is_some_and(|r| keep(&id, &r.origins, r.handle.inbox.is_unbounded()));
            if !keep_it {
                if let Some(running) = state.running.remove(&id) {
                    let removed = !planned.contains_key(id.as_str());
                    stopping.push((running, removed));
                }
            }
        }
        self.stop_nodes(stopping).await;
        let config_ids: Vec<String> = state.configs.keys().cloned().collect();
        for id in config_ids {
            let keep_it = state
                .configs
                .get(&id)
                .is_some_and(|c| keep(&id, &c.origins, false));
            if !keep_it {
                if let Some(config) = state.configs.remove(&id) {
                    config.node.close().await;
                }
            }
        }

        // Build config nodes, then flow nodes with fresh inboxes.
        let mut fresh: Vec<(
            PlannedNode,
            Box<dyn Node>,
            InboxRx,
            mpsc::UnboundedReceiver<Signal>,
            NodeHandle,
        )> = Vec::new();
        for plan in &graph.nodes {
            if state.running.contains_key(&plan.id) || state.configs.contains_key(&plan.id) {
                continue;
            }
            let (ident, env, config) = self.prepare(plan);
            let built: Result<Option<Box<dyn Node>>, String> = match plan.plan {
                Plan::Registered(def) => {
                    let config_nodes: HashMap<String, Arc<dyn ConfigNode>> = state
                        .configs
                        .iter()
                        .map(|(k, v)| (k.clone(), Arc::clone(&v.node)))
                        .collect();
                    let mut cx = BuildCtx {
                        ident: &ident,
                        config: &config,
                        env: &env,
                        shared: &self.inner.shared,
                        config_nodes: &config_nodes,
                    };
                    match def.build {
                        Build::Flow(build) => build(&mut cx).map(Some).map_err(|e| e.to_string()),
                        Build::Config(build) => match build(&mut cx) {
                            Ok(node) => {
                                state.configs.insert(
                                    plan.id.clone(),
                                    RunningConfig {
                                        node,
                                        origins: plan.origins.clone(),
                                    },
                                );
                                Ok(None)
                            }
                            Err(e) => Err(e.to_string()),
                        },
                    }
                }
                Plan::SubflowInstance => Ok(Some(Box::new(PassThrough) as Box<dyn Node>)),
                Plan::SubflowStatus => Ok(Some(Box::new(SubflowStatusSink) as Box<dyn Node>)),
            };
            match built {
                Ok(Some(node)) => {
                    let (inbox, rx) =
                        Inbox::channel(needs_unbounded(plan), self.settings().inbox_capacity());
                    let (signals, signal_rx) = mpsc::unbounded_channel();
                    let handle = NodeHandle {
                        ident: Arc::new(ident),
                        inbox,
                        signals,
                        role: plan.role,
                    };
                    fresh.push((plan.clone(), node, rx, signal_rx, handle));
                }
                Ok(None) => {}
                Err(message) => {
                    tracing::error!(node_id = %plan.id, node_type = %plan.type_name, "[{}:{}] {message}", plan.type_name, plan.id);
                    report.push(DeployIssue::node(
                        &plan.id,
                        &plan.type_name,
                        &plan.name,
                        message,
                    ));
                }
            }
        }

        // Everyone's wiring, against the new directory of running nodes.
        let mut directory: crate::route::Directory = state
            .running
            .iter()
            .map(|(id, r)| (id.clone(), r.handle.clone()))
            .collect();
        for (plan, _, _, _, handle) in &fresh {
            directory.insert(plan.id.clone(), handle.clone());
        }
        let directory = Arc::new(directory);
        let router = Router::new(&graph, Arc::clone(&directory));
        let reporter_of = |plan: &'_ PlannedNode| -> PlannedNode {
            match plan.plan {
                // A subflow's status output reports as the instance node.
                Plan::SubflowStatus => plan
                    .id
                    .strip_suffix("-status")
                    .and_then(|i| planned.get(i))
                    .map_or_else(|| plan.clone(), |p| (*p).clone()),
                _ => plan.clone(),
            }
        };
        for (id, running) in &state.running {
            if let Some(plan) = planned.get(id.as_str()) {
                let wiring = router.wiring(plan, &reporter_of(plan));
                let _ = running
                    .handle
                    .signals
                    .send(Signal::Rewire(Arc::new(wiring)));
            }
        }
        for (plan, node, rx, signal_rx, handle) in fresh {
            let wiring = Arc::new(router.wiring(&plan, &reporter_of(&plan)));
            let (_, env, _) = self.prepare(&plan);
            let context = self.node_context(&plan, &graph);
            let ident = if matches!(plan.plan, Plan::SubflowStatus) {
                Arc::new(NodeIdent::from_plan(&reporter_of(&plan)))
            } else {
                Arc::clone(&handle.ident)
            };
            let cx = NodeCtx::new(
                ident,
                wiring,
                Arc::clone(&self.inner.shared),
                env,
                context,
                handle.signals.clone(),
            );
            let task = tokio::spawn(run_node(node, cx, rx, signal_rx));
            state.running.insert(
                plan.id.clone(),
                Running {
                    handle,
                    task,
                    origins: plan.origins.clone(),
                },
            );
        }

        // Node contexts of nodes that no longer exist are dropped.
        let previous: Vec<String> = state.raw.iter().map(|n| n.id.clone()).collect();
        for id in previous {
            if !planned.contains_key(id.as_str()) {
                self.inner.context.delete_scope(&id);
            }
        }
        state.flows = flows;
        state.rev = rev.clone();
        state.raw = raw;
        state.started = true;
        drop(planned);
        events.publish(
            "notification/runtime-state",
            json!({"state": "start", "deploy": true}),
            true,
        );
        events.publish(
            "notification/runtime-deploy",
            json!({"revision": rev}),
            true,
        );
        report
    }

    /// The identity, env and `${VAR}`-substituted config of a planned node.
    fn prepare(&self, plan: &PlannedNode) -> (NodeIdent, Env, serde_json::Map<String, Json>) {
        let ident = NodeIdent::from_plan(plan);
        let env = Env {
            node_id: Arc::clone(&ident.id),
            node_name: Arc::clone(&ident.name),
            node_path: plan.path.as_str().into(),
            level: Arc::clone(&plan.env),
        };
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
        let mut tasks = Vec::with_capacity(nodes.len());
        for (running, removed) in nodes {
            let _ = running.handle.signals.send(Signal::Stop { removed });
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

/// A timer or posted event. What the node sends while handling it counts as done for
/// Complete nodes, as a Node-RED inject's timer goes through its input handler.
async fn handle_event(node: &mut dyn Node, cx: &mut NodeCtx, event: crate::node::Event) {
    let watched = cx.watched_by_complete();
    if watched {
        cx.sent_for_complete = Some(None);
    }
    let outcome = guarded(node.on_event(event, cx)).await;
    let sent = cx.sent_for_complete.take().flatten();
    if matches!(outcome, Ok(Ok(()))) {
        if let Some(done) = sent {
            cx.complete(done).await;
        }
    } else {
        settle(cx, outcome).await;
    }
}

async fn handle_input(node: &mut dyn Node, cx: &mut NodeCtx, msg: Msg) {
    let watched = cx.watched_by_complete();
    let received = watched.then(|| msg.clone());
    if watched {
        cx.sent_for_complete = Some(None);
    }
    let outcome = guarded(node.on_input(msg, cx)).await;
    let sent = cx.sent_for_complete.take().flatten();
    if matches!(outcome, Ok(Ok(()))) {
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
                if let Some(text) = &mut status.text {
                    if text.chars().count() > 32 {
                        *text = text.chars().take(32).collect::<String>() + "...";
                    }
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
