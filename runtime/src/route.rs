//! Where a node's messages go: its wires, and the Catch, Status and Complete nodes whose
//! scope covers it (Node-RED's `Flow.handleError` / `handleStatus` / `handleComplete`).
//!
//! Everything here is computed once per deploy into a [`Wiring`] per node, so sending and
//! error routing at run time only walk short vectors.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use serde_json::Value as Json;
use tokio::sync::mpsc;

use crate::flows::graph::{FlowInfo, Graph, PlannedNode, string_list};
use crate::msg::Msg;
use crate::node::{Event, Role};

/// A node's wired input. Nodes in a cycle, and the runtime-fed Catch / Status / Complete
/// nodes, get an unbounded inbox: a bounded one could deadlock a loop, where every node
/// waits for room in the next.
#[derive(Debug, Clone)]
pub enum Inbox {
    Bounded(mpsc::Sender<Msg>),
    Unbounded(mpsc::UnboundedSender<Msg>),
}

/// The receiving end of an [`Inbox`].
#[derive(Debug)]
pub enum InboxRx {
    Bounded(mpsc::Receiver<Msg>),
    Unbounded(mpsc::UnboundedReceiver<Msg>),
}

impl Inbox {
    pub fn channel(unbounded: bool, capacity: usize) -> (Inbox, InboxRx) {
        if unbounded {
            let (tx, rx) = mpsc::unbounded_channel();
            (Inbox::Unbounded(tx), InboxRx::Unbounded(rx))
        } else {
            let (tx, rx) = mpsc::channel(capacity);
            (Inbox::Bounded(tx), InboxRx::Bounded(rx))
        }
    }

    /// Delivers a message, waiting for room in a bounded inbox. A stopped node's inbox is
    /// closed: the message vanishes, as Node-RED drops messages to nodes that are gone.
    pub async fn deliver(&self, msg: Msg) -> bool {
        match self {
            Inbox::Bounded(tx) => tx.send(msg).await.is_ok(),
            Inbox::Unbounded(tx) => tx.send(msg).is_ok(),
        }
    }

    pub fn is_unbounded(&self) -> bool {
        matches!(self, Inbox::Unbounded(_))
    }
}

impl InboxRx {
    pub async fn recv(&mut self) -> Option<Msg> {
        match self {
            InboxRx::Bounded(rx) => rx.recv().await,
            InboxRx::Unbounded(rx) => rx.recv().await,
        }
    }

    pub fn try_recv(&mut self) -> Option<Msg> {
        match self {
            InboxRx::Bounded(rx) => rx.try_recv().ok(),
            InboxRx::Unbounded(rx) => rx.try_recv().ok(),
        }
    }
}

/// What the runtime tells a node task besides messages.
#[derive(Debug)]
pub enum Signal {
    Event(Event),
    /// A deploy kept this node but changed where its messages go.
    Rewire(Arc<Wiring>),
    /// Close the node; `removed` when the deploy deleted it.
    Stop {
        removed: bool,
    },
}

/// Identity of a node, as errors and statuses report it (`msg.error.source`).
#[derive(Debug, Clone)]
pub struct NodeIdent {
    pub id: Arc<str>,
    pub type_name: Arc<str>,
    pub name: Arc<str>,
    /// The tab (or subflow definition) id written in the file.
    pub z: Option<Arc<str>>,
    /// The original id, for nodes copied into a subflow instance.
    pub alias: Option<Arc<str>>,
    /// Debug-sidebar path of the node's flow.
    pub flow_path: Arc<str>,
    /// Runtime flow (tab, "global" or subflow instance).
    pub flow: Arc<str>,
}

impl NodeIdent {
    pub fn from_plan(p: &PlannedNode) -> Self {
        Self {
            id: p.id.as_str().into(),
            type_name: p.type_name.as_str().into(),
            name: p.name.as_str().into(),
            z: p.z.as_deref().map(Arc::from),
            alias: p.alias.as_deref().map(Arc::from),
            flow_path: p.flow_path.as_str().into(),
            flow: p.flow.as_str().into(),
        }
    }

    /// `name` if set, else the id (how logs and the console debug output name a node).
    pub fn label(&self) -> &str {
        if self.name.is_empty() {
            &self.id
        } else {
            &self.name
        }
    }
}

/// How the runtime reaches a running node.
#[derive(Debug, Clone)]
pub struct NodeHandle {
    pub ident: Arc<NodeIdent>,
    pub inbox: Inbox,
    pub signals: mpsc::UnboundedSender<Signal>,
    pub role: Role,
    /// Set when the node is being stopped, before its task hears of it: long-running work
    /// inside one call (a script) polls it to give up early.
    pub stopping: Arc<AtomicBool>,
}

/// Every running node of the current deploy, by runtime id.
pub type Directory = HashMap<String, NodeHandle>;

/// One Catch node a node's errors may reach.
#[derive(Debug, Clone)]
pub struct CatchTarget {
    pub inbox: Inbox,
    /// Only wants errors no other Catch node handled.
    pub uncaught: bool,
}

/// Where one node's messages, errors, statuses and completions go.
#[derive(Debug, Clone, Default)]
pub struct Wiring {
    /// Per output port, the inboxes of the wired nodes.
    pub outputs: Vec<Vec<Inbox>>,
    /// Catch candidates per level: the node's own flow, then (inside subflow instances) the
    /// parent flows, each already sorted as Node-RED sorts them.
    pub errors: Vec<Vec<CatchTarget>>,
    /// Status nodes per level, with the same passing-up rule as errors.
    pub status: Vec<Vec<Inbox>>,
    /// Complete nodes watching this node.
    pub complete: Vec<Inbox>,
    /// Every running node (link call targets, link return).
    pub directory: Arc<Directory>,
}

/// Scope of a Catch or Status node.
#[derive(Debug, Clone, PartialEq)]
enum Scope {
    All,
    Group,
    Nodes(Vec<String>),
}

fn scope_of(config: &serde_json::Map<String, Json>, exclude: &HashSet<&str>) -> Scope {
    match config.get("scope") {
        Some(Json::String(s)) if s == "group" => Scope::Group,
        Some(Json::Array(_)) => Scope::Nodes(
            string_list(config.get("scope"))
                .into_iter()
                .filter(|id| !exclude.contains(id.as_str()))
                .collect(),
        ),
        _ => Scope::All,
    }
}

/// A Catch / Status / Complete node as routing sees it.
struct Watcher<'g> {
    plan: &'g PlannedNode,
    scope: Scope,
    uncaught: bool,
}

/// The per-node wiring of a whole deploy, computed from the plan and the running nodes.
pub struct Router<'g> {
    flows: &'g HashMap<String, FlowInfo>,
    by_id: HashMap<&'g str, &'g PlannedNode>,
    catch: HashMap<&'g str, Vec<Watcher<'g>>>,
    status: HashMap<&'g str, Vec<Watcher<'g>>>,
    complete: HashMap<&'g str, Vec<Watcher<'g>>>,
    directory: Arc<Directory>,
}

impl<'g> Router<'g> {
    pub fn new(graph: &'g Graph, directory: Arc<Directory>) -> Self {
        let mut catch: HashMap<&str, Vec<Watcher<'_>>> = HashMap::new();
        let mut status: HashMap<&str, Vec<Watcher<'_>>> = HashMap::new();
        let mut complete: HashMap<&str, Vec<Watcher<'_>>> = HashMap::new();
        for plan in &graph.nodes {
            // Status and Complete nodes leave the ids they are wired to out of their scope
            // (that would loop); Catch nodes keep them, bounded by the error-loop guard.
            let wired: HashSet<&str> = match plan.role {
                Role::Status | Role::Complete => {
                    plan.wires.iter().flatten().map(String::as_str).collect()
                }
                _ => HashSet::new(),
            };
            let watcher = Watcher {
                plan,
                scope: scope_of(&plan.config, &wired),
                uncaught: plan
                    .config
                    .get("uncaught")
                    .is_some_and(crate::loose::json_bool),
            };
            let list = match plan.role {
                Role::Catch => &mut catch,
                Role::Status => &mut status,
                Role::Complete => &mut complete,
                _ => continue,
            };
            list.entry(plan.flow.as_str()).or_default().push(watcher);
        }
        // Node-RED's order: scoped before unscoped, `uncaught` ones last.
        for list in catch.values_mut() {
            list.sort_by_key(|w| (w.uncaught, w.scope == Scope::All));
        }
        Self {
            flows: &graph.flows,
            by_id: graph.nodes.iter().map(|n| (n.id.as_str(), n)).collect(),
            catch,
            status,
            complete,
            directory,
        }
    }

    /// The wiring of one planned node (for a subflow status sink: of its instance).
    pub fn wiring(&self, plan: &PlannedNode, reporter: &PlannedNode) -> Wiring {
        let inbox = |id: &str| self.directory.get(id).map(|h| h.inbox.clone());
        let outputs = plan
            .wires
            .iter()
            .map(|port| port.iter().filter_map(|id| inbox(id)).collect())
            .collect();
        let mut errors = Vec::new();
        let mut status = Vec::new();
        // Statuses pass up only out of subflows without a status output of their own.
        let mut status_open = true;
        let mut level_node = reporter;
        loop {
            let flow = level_node.flow.as_str();
            let catchers = self.candidates(self.catch.get(flow), level_node);
            errors.push(
                catchers
                    .iter()
                    .filter_map(|w| {
                        inbox(&w.plan.id).map(|inbox| CatchTarget {
                            inbox,
                            uncaught: w.uncaught,
                        })
                    })
                    .collect(),
            );
            if status_open {
                let watchers = self.candidates(self.status.get(flow), level_node);
                status.push(watchers.iter().filter_map(|w| inbox(&w.plan.id)).collect());
            }
            let Some(info) = self.flows.get(flow) else {
                break;
            };
            let Some(parent) = &info.parent else { break };
            let Some(instance) = self.by_id.get(parent.instance.as_str()) else {
                break;
            };
            status_open &= !info.has_status_port;
            level_node = instance;
        }
        let complete = self
            .complete
            .get(plan.flow.as_str())
            .map(|list| {
                list.iter()
                    .filter(|w| matches!(&w.scope, Scope::Nodes(ids) if ids.contains(&plan.id)))
                    .filter_map(|w| inbox(&w.plan.id))
                    .collect()
            })
            .unwrap_or_default();
        Wiring {
            outputs,
            errors,
            status,
            complete,
            directory: Arc::clone(&self.directory),
        }
    }

    /// Node-RED's candidate selection: scope, group containment, sorted by group distance.
    fn candidates<'w>(
        &self,
        watchers: Option<&'w Vec<Watcher<'g>>>,
        reporter: &PlannedNode,
    ) -> Vec<&'w Watcher<'g>> {
        let Some(watchers) = watchers else {
            return Vec::new();
        };
        let groups = self.flows.get(reporter.flow.as_str()).map(|f| &f.groups);
        let mut found: Vec<(usize, &Watcher<'_>)> = Vec::new();
        for w in watchers {
            let in_group_scope = w.scope == Scope::Group;
            if w.plan.g.is_some() && in_group_scope && reporter.g.is_none() {
                continue;
            }
            if let Scope::Nodes(ids) = &w.scope
                && !ids.contains(&reporter.id)
            {
                continue;
            }
            let mut distance = 0;
            if let Some(start) = &reporter.g {
                let mut current = Some(start.clone());
                let mut guard = 0;
                while let Some(g) = &current {
                    if Some(g) == w.plan.g.as_ref() || guard > 64 {
                        break;
                    }
                    distance += 1;
                    guard += 1;
                    current = groups.and_then(|gs| gs.get(g).cloned().flatten());
                }
                if current.is_none() && w.plan.g.is_some() && in_group_scope {
                    continue;
                }
            }
            found.push((distance, w));
        }
        found.sort_by_key(|(d, _)| *d);
        found.into_iter().map(|(_, w)| w).collect()
    }
}

/// Ids of nodes that sit in a cycle of wires (strongly connected components of size > 1,
/// or wired to themselves): they get unbounded inboxes.
pub fn nodes_in_cycles(graph: &Graph) -> HashSet<String> {
    let index: HashMap<&str, usize> = graph
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.id.as_str(), i))
        .collect();
    let edges: Vec<Vec<usize>> = graph
        .nodes
        .iter()
        .map(|n| {
            n.wires
                .iter()
                .flatten()
                .filter_map(|t| index.get(t.as_str()).copied())
                .collect()
        })
        .collect();
    let mut cyclic = HashSet::new();
    for component in tarjan(&edges) {
        let self_loop = component.len() == 1 && edges[component[0]].contains(&component[0]);
        if component.len() > 1 || self_loop {
            cyclic.extend(component.into_iter().map(|i| graph.nodes[i].id.clone()));
        }
    }
    cyclic
}

/// Iterative Tarjan (flows can be long chains: no recursion).
fn tarjan(edges: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let n = edges.len();
    let mut index = vec![usize::MAX; n];
    let mut low = vec![0; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut components = Vec::new();
    let mut next = 0;
    for root in 0..n {
        if index[root] != usize::MAX {
            continue;
        }
        let mut work = vec![(root, 0usize)];
        while let Some(&mut (v, ref mut edge)) = work.last_mut() {
            if *edge == 0 && index[v] == usize::MAX {
                index[v] = next;
                low[v] = next;
                next += 1;
                stack.push(v);
                on_stack[v] = true;
            }
            if let Some(&w) = edges[v].get(*edge) {
                *edge += 1;
                if index[w] == usize::MAX {
                    work.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            work.pop();
            if let Some(&(parent, _)) = work.last() {
                low[parent] = low[parent].min(low[v]);
            }
            if low[v] == index[v] {
                let mut component = Vec::new();
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    component.push(w);
                    if w == v {
                        break;
                    }
                }
                components.push(component);
            }
        }
    }
    components
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tarjan_finds_loops_and_self_loops() {
        // 0 -> 1 -> 2 -> 0, 3 -> 3, 4 alone
        let edges = vec![vec![1], vec![2], vec![0], vec![3], vec![]];
        let mut comps: Vec<Vec<usize>> = tarjan(&edges)
            .into_iter()
            .map(|mut c| {
                c.sort_unstable();
                c
            })
            .collect();
        comps.sort();
        assert_eq!(comps, vec![vec![0, 1, 2], vec![3], vec![4]]);
    }
}
