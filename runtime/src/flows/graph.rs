//! Stage 2 of a deploy: from raw objects to the nodes that will run.
//!
//! This is Node-RED's `parseConfig` plus the subflow instantiation of `Subflow.js`: tabs,
//! groups and subflow definitions are read; link-out wires are computed from `links`; every
//! subflow instance gets its own copy of the subflow's nodes (ids `<instance>-<id>`); every
//! node gets its environment chain; config nodes are ordered so that dependencies come first.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use indexmap::IndexMap;
use serde_json::{Map, Value as Json};

use super::raw::{RawNode, loose_true};
use super::report::{DeployIssue, DeployReport};
use crate::env::{EnvLevel, LevelKind};
use crate::node::{Build, NodeDef, Role};
use crate::registry::Registry;
use crate::typed::evaluate_env_entry;
use crate::value::Value;

/// Flow id of nodes that sit on no tab (config nodes, and test flows without `z`).
pub const GLOBAL_FLOW: &str = "global";
/// Deepest subflow nesting accepted (guards against a subflow that contains itself).
const MAX_SUBFLOW_DEPTH: usize = 16;

/// What the runtime instantiates for a planned node.
#[derive(Debug, Clone)]
pub enum Plan {
    /// A registered node type.
    Registered(NodeDef),
    /// A subflow instance: passes its input to the subflow's input targets.
    SubflowInstance,
    /// The status output of a subflow instance: what arrives becomes the status of the
    /// instance node named here.
    SubflowStatus { instance: String },
}

/// One node that will run.
#[derive(Debug, Clone)]
pub struct PlannedNode {
    /// Runtime id (`<instance>-<original>` inside subflows).
    pub id: String,
    /// The id in the flows file, for nodes copied into a subflow instance.
    pub alias: Option<String>,
    pub type_name: String,
    pub name: String,
    /// Runtime flow: a tab id, [`GLOBAL_FLOW`], or a subflow instance id.
    pub flow: String,
    /// Tab (or subflow definition) id as written in the file: `msg.z` for the debug sidebar.
    pub z: Option<String>,
    pub g: Option<String>,
    /// `NR_NODE_PATH`: flow path / node id.
    pub path: String,
    /// Debug-sidebar path of the containing flow.
    pub flow_path: String,
    pub plan: Plan,
    pub role: Role,
    /// The node's config object with ids remapped inside subflows.
    pub config: Map<String, Json>,
    pub wires: Vec<Vec<String>>,
    /// Environment chain (groups, subflow instance, tab, global).
    pub env: Arc<EnvLevel>,
    /// Top-level flows.json ids whose change restarts this node: itself, or the chain of
    /// subflow instances (and definitions) it was copied through.
    pub origins: Vec<String>,
    /// For subflow instances: per output port, the internal `(node, port)` sources (an
    /// entry naming the instance itself is its input wired straight through).
    pub outputs_from: Vec<Vec<(String, usize)>>,
}

impl PlannedNode {
    pub fn is_config(&self) -> bool {
        matches!(
            self.plan,
            Plan::Registered(NodeDef {
                build: Build::Config(_),
                ..
            })
        )
    }
}

/// A runtime flow: a tab, the global level, or one subflow instance.
#[derive(Debug, Clone)]
pub struct FlowInfo {
    pub id: String,
    /// For subflow instances: the flow the instance node sits in and its id.
    pub parent: Option<ParentFlow>,
    /// Group id → parent group id.
    pub groups: HashMap<String, Option<String>>,
    /// The subflow has a status output (then statuses are not passed up).
    pub has_status_port: bool,
}

#[derive(Debug, Clone)]
pub struct ParentFlow {
    pub flow: String,
    pub instance: String,
}

/// The deploy plan.
#[derive(Debug, Default)]
pub struct Graph {
    /// Config nodes first (dependencies before users), then flow nodes, in file order.
    pub nodes: Vec<PlannedNode>,
    pub flows: HashMap<String, FlowInfo>,
}

/// A tab, group or subflow definition read from the file.
struct Container<'a> {
    raw: &'a RawNode,
}

struct Builder<'a> {
    registry: &'a Registry,
    raw: &'a [RawNode],
    tabs: IndexMap<&'a str, Container<'a>>,
    subflows: HashMap<&'a str, Container<'a>>,
    /// Members of each tab / subflow definition, in file order.
    members: HashMap<&'a str, Vec<&'a RawNode>>,
    /// Link-out wires computed from `links` (Node-RED rewrites them at load).
    link_wires: HashMap<&'a str, Vec<String>>,
    graph: Graph,
    report: &'a mut DeployReport,
}

/// Plans the flows; every problem found goes to `report`.
pub fn build(raw: &[RawNode], registry: &Registry, report: &mut DeployReport) -> Graph {
    let mut builder = Builder {
        registry,
        raw,
        tabs: IndexMap::new(),
        subflows: HashMap::new(),
        members: HashMap::new(),
        link_wires: HashMap::new(),
        graph: Graph::default(),
        report,
    };
    builder.index();
    builder.check_types();
    let global = builder.global_level();
    builder.plan_top_level(&global);
    builder.order_config_nodes();
    builder.graph
}

impl<'a> Builder<'a> {
    fn index(&mut self) {
        let mut seen = HashSet::new();
        for node in self.raw {
            if !seen.insert(node.id.as_str()) {
                self.report.push(DeployIssue::node(
                    &node.id,
                    &node.type_name,
                    &node.name,
                    "duplicate node id: every node needs its own id",
                ));
            }
            match node.type_name.as_str() {
                "tab" => {
                    self.tabs.insert(&node.id, Container { raw: node });
                }
                "subflow" => {
                    self.subflows.insert(&node.id, Container { raw: node });
                }
                _ => {}
            }
        }
        for node in self.raw {
            if matches!(node.type_name.as_str(), "tab" | "subflow") {
                continue;
            }
            let z = node.z.as_deref().unwrap_or(GLOBAL_FLOW);
            self.members.entry(z).or_default().push(node);
        }
        // Link wires: the union of each link out's `links` and every link in naming it.
        let mut link_outs: HashMap<&str, Vec<String>> = HashMap::new();
        for node in self.raw {
            let role = self.registry.get(&node.type_name).map(|d| d.role);
            let links = string_list(node.config.get("links"));
            match role {
                Some(Role::LinkOut) => {
                    let entry = link_outs.entry(&node.id).or_default();
                    for target in links {
                        if !entry.contains(&target) {
                            entry.push(target);
                        }
                    }
                }
                Some(Role::LinkIn) => {
                    for source in links {
                        if let Some(out) = self.raw.iter().find(|n| n.id == source) {
                            let entry = link_outs.entry(&out.id).or_default();
                            if !entry.contains(&node.id) {
                                entry.push(node.id.clone());
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        self.link_wires = link_outs;
    }

    fn check_types(&mut self) {
        for node in self.raw {
            let t = node.type_name.as_str();
            if matches!(t, "tab" | "subflow" | "group") {
                continue;
            }
            let known = match t.strip_prefix("subflow:") {
                Some(sf) => self.subflows.contains_key(sf),
                None => self.registry.get(t).is_some(),
            };
            if !known && !self.report.missing_types.iter().any(|m| m == t) {
                self.report.missing_types.push(t.to_owned());
            }
        }
    }

    /// `global-config` env is the last level before the process environment.
    fn global_level(&mut self) -> Arc<EnvLevel> {
        let root = EnvLevel::global(IndexMap::new());
        let entries = self
            .raw
            .iter()
            .find(|n| n.type_name == "global-config" && !n.disabled)
            .map(|n| env_entries(&n.config));
        match entries {
            Some(entries) => {
                let vars = self.eval_env(&entries, &root, "global-config", "global-config");
                EnvLevel::global(vars)
            }
            None => root,
        }
    }

    fn eval_env(
        &mut self,
        entries: &[Map<String, Json>],
        parent: &Arc<EnvLevel>,
        owner_id: &str,
        owner_type: &str,
    ) -> IndexMap<String, Value> {
        let mut vars = IndexMap::new();
        // `env`-typed entries refer to other variables: resolve them after the rest.
        for pass_refs in [false, true] {
            for entry in entries {
                let Some(name) = entry.get("name").and_then(Json::as_str) else {
                    continue;
                };
                let kind = entry.get("type").and_then(Json::as_str).unwrap_or("str");
                if (kind == "env") != pass_refs {
                    continue;
                }
                let scope = EnvLevel::new(LevelKind::Global, vars.clone(), Arc::clone(parent));
                match evaluate_env_entry(kind, entry.get("value"), &scope) {
                    Ok(v) => {
                        vars.insert(name.to_owned(), v);
                    }
                    Err(e) => self.report.push(DeployIssue::node(
                        owner_id,
                        owner_type,
                        "",
                        format!("env var {name}: {e}"),
                    )),
                }
            }
        }
        vars
    }

    fn plan_top_level(&mut self, global: &Arc<EnvLevel>) {
        self.graph.flows.insert(
            GLOBAL_FLOW.to_owned(),
            FlowInfo {
                id: GLOBAL_FLOW.to_owned(),
                parent: None,
                groups: HashMap::new(),
                has_status_port: false,
            },
        );
        let global_members = self.members.get(GLOBAL_FLOW).cloned().unwrap_or_default();
        let ctx = Scope {
            flow: GLOBAL_FLOW.to_owned(),
            flow_path: GLOBAL_FLOW.to_owned(),
            level: Arc::clone(global),
            id_map: None,
            origins: Vec::new(),
            depth: 0,
        };
        self.plan_members(&global_members, &ctx);

        let tabs: Vec<&'a RawNode> = self.tabs.values().map(|c| c.raw).collect();
        for tab in tabs {
            if tab.config.get("disabled").is_some_and(loose_true) {
                continue;
            }
            let entries = env_entries(&tab.config);
            let vars = self.eval_env(&entries, global, &tab.id, "tab");
            let label = tab.str_field("label").unwrap_or_default().to_owned();
            let level = EnvLevel::new(
                LevelKind::Flow {
                    id: tab.id.clone(),
                    name: label,
                },
                vars,
                Arc::clone(global),
            );
            let members = self
                .members
                .get(tab.id.as_str())
                .cloned()
                .unwrap_or_default();
            self.graph.flows.insert(
                tab.id.clone(),
                FlowInfo {
                    id: tab.id.clone(),
                    parent: None,
                    groups: groups_of(&members, None),
                    has_status_port: false,
                },
            );
            let ctx = Scope {
                flow: tab.id.clone(),
                flow_path: tab.id.clone(),
                level,
                id_map: None,
                origins: Vec::new(),
                depth: 0,
            };
            self.plan_members(&members, &ctx);
        }
        // Nodes whose `z` names no tab and no subflow: Node-RED makes an implicit tab.
        let orphans: Vec<(&'a str, Vec<&'a RawNode>)> = self
            .members
            .iter()
            .filter(|(z, _)| {
                **z != GLOBAL_FLOW && !self.tabs.contains_key(*z) && !self.subflows.contains_key(*z)
            })
            .map(|(z, m)| (*z, m.clone()))
            .collect();
        for (z, members) in orphans {
            let level = EnvLevel::new(
                LevelKind::Flow {
                    id: z.to_owned(),
                    name: String::new(),
                },
                IndexMap::new(),
                Arc::clone(global),
            );
            self.graph.flows.insert(
                z.to_owned(),
                FlowInfo {
                    id: z.to_owned(),
                    parent: None,
                    groups: groups_of(&members, None),
                    has_status_port: false,
                },
            );
            let ctx = Scope {
                flow: z.to_owned(),
                flow_path: z.to_owned(),
                level,
                id_map: None,
                origins: Vec::new(),
                depth: 0,
            };
            self.plan_members(&members, &ctx);
        }
    }

    /// Plans the members of one container (tab, global level or a subflow instance).
    fn plan_members(&mut self, members: &[&'a RawNode], scope: &Scope) {
        let group_levels = self.group_levels(members, scope);
        for &node in members {
            if node.disabled || node.type_name == "group" {
                continue;
            }
            let id = scope.map_id(&node.id);
            let mut level = Arc::clone(&scope.level);
            if let Some(g) = &node.g
                && let Some(l) = group_levels.get(g.as_str())
            {
                level = Arc::clone(l);
            }
            let mut config = node.config.clone();
            if let Some(map) = &scope.id_map {
                remap_references(&mut config, map);
            }
            let wires: Vec<Vec<String>> = match self.link_wires.get(node.id.as_str()) {
                Some(targets) => vec![targets.iter().map(|t| scope.map_id(t)).collect()],
                None => node
                    .wires
                    .iter()
                    .map(|port| port.iter().map(|t| scope.map_id(t)).collect())
                    .collect(),
            };
            let mut origins = scope.origins.clone();
            origins.push(node.id.clone());
            let path = format!("{}/{}", scope.flow_path, node.id);
            let common = PlannedNode {
                alias: scope.id_map.as_ref().map(|_| node.id.clone()),
                type_name: node.type_name.clone(),
                name: node.name.clone(),
                flow: scope.flow.clone(),
                z: node.z.clone(),
                g: node.g.as_ref().map(|g| scope.map_id(g)),
                path,
                flow_path: scope.flow_path.clone(),
                plan: Plan::SubflowInstance,
                role: Role::Plain,
                config,
                wires,
                env: level,
                origins,
                outputs_from: Vec::new(),
                id,
            };
            if let Some(sf_id) = node.type_name.strip_prefix("subflow:") {
                self.plan_instance(node, sf_id, common, scope);
            } else if let Some(def) = self.registry.get(&node.type_name) {
                self.graph.nodes.push(PlannedNode {
                    plan: Plan::Registered(*def),
                    role: def.role,
                    ..common
                });
            }
            // Unknown types were reported as missing; the flows will not start.
        }
    }

    /// Env levels for the groups of a container, nested groups chaining to their parent.
    fn group_levels(
        &mut self,
        members: &[&'a RawNode],
        scope: &Scope,
    ) -> HashMap<String, Arc<EnvLevel>> {
        let groups: HashMap<&str, &RawNode> = members
            .iter()
            .filter(|n| n.type_name == "group")
            .map(|n| (n.id.as_str(), *n))
            .collect();
        let mut levels: HashMap<String, Arc<EnvLevel>> = HashMap::new();
        let ids: Vec<&str> = groups.keys().copied().collect();
        for id in ids {
            self.group_level(id, &groups, scope, &mut levels, 0);
        }
        levels
    }

    fn group_level(
        &mut self,
        id: &str,
        groups: &HashMap<&str, &RawNode>,
        scope: &Scope,
        levels: &mut HashMap<String, Arc<EnvLevel>>,
        depth: usize,
    ) -> Arc<EnvLevel> {
        if let Some(l) = levels.get(id) {
            return Arc::clone(l);
        }
        let Some(group) = groups.get(id) else {
            return Arc::clone(&scope.level);
        };
        let parent = match &group.g {
            Some(pg) if depth < groups.len() => {
                self.group_level(pg, groups, scope, levels, depth + 1)
            }
            _ => Arc::clone(&scope.level),
        };
        let entries = env_entries(&group.config);
        let vars = self.eval_env(&entries, &parent, &group.id, "group");
        let level = EnvLevel::new(
            LevelKind::Group {
                id: scope.map_id(&group.id),
                name: group.name.clone(),
            },
            vars,
            parent,
        );
        levels.insert(id.to_owned(), Arc::clone(&level));
        level
    }

    fn plan_instance(
        &mut self,
        raw_instance: &'a RawNode,
        sf_id: &str,
        mut instance: PlannedNode,
        scope: &Scope,
    ) {
        let Some(def) = self.subflows.get(sf_id).map(|c| c.raw) else {
            return;
        };
        if scope.depth >= MAX_SUBFLOW_DEPTH {
            self.report.push(DeployIssue::node(
                &instance.id,
                &instance.type_name,
                &instance.name,
                "subflows nested too deeply (does a subflow contain an instance of itself?)",
            ));
            return;
        }
        let members = self.members.get(sf_id).cloned().unwrap_or_default();
        let id_map: HashMap<String, String> = members
            .iter()
            .map(|m| (m.id.clone(), format!("{}-{}", instance.id, m.id)))
            .collect();

        // Instance env overrides the definition's by name.
        let mut entries = env_entries(&def.config);
        for over in env_entries(&raw_instance.config) {
            let name = over.get("name").cloned();
            match entries.iter_mut().find(|e| e.get("name") == name.as_ref()) {
                Some(slot) => *slot = over,
                None => entries.push(over),
            }
        }
        let vars = self.eval_env(&entries, &instance.env, &instance.id, &instance.type_name);
        let flow_path = format!("{}/{}", scope.flow_path, raw_instance.id);
        let name = if instance.name.is_empty() {
            def.str_field("name").unwrap_or_default().to_owned()
        } else {
            instance.name.clone()
        };
        let level = EnvLevel::new(
            LevelKind::Subflow {
                id: instance.id.clone(),
                name,
                path: flow_path.clone(),
            },
            vars,
            Arc::clone(&instance.env),
        );
        let status_port = def.config.get("status").and_then(Json::as_object);
        self.graph.flows.insert(
            instance.id.clone(),
            FlowInfo {
                id: instance.id.clone(),
                parent: Some(ParentFlow {
                    flow: scope.flow.clone(),
                    instance: instance.id.clone(),
                }),
                groups: groups_of(&members, Some(&id_map)),
                has_status_port: status_port.is_some(),
            },
        );

        // The instance passes its input to the subflow's input targets.
        let input_targets: Vec<String> = port_wires(def.config.get("in"))
            .into_iter()
            .next()
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(id, _)| id_map.get(&id).cloned())
            .collect();
        let outward = std::mem::take(&mut instance.wires);
        instance.wires = vec![input_targets];
        let mut origins = instance.origins.clone();
        origins.push(sf_id.to_owned());

        let inner_scope = Scope {
            flow: instance.id.clone(),
            flow_path,
            level,
            id_map: Some(id_map.clone()),
            origins,
            depth: scope.depth + 1,
        };
        let instance_index = self.graph.nodes.len();
        let instance_id = instance.id.clone();
        self.graph.nodes.push(instance);
        self.plan_members(&members, &inner_scope);

        // Subflow outputs: internal sources get the instance's outward wires appended.
        let outputs_from: Vec<Vec<(String, usize)>> = port_wires(def.config.get("out"))
            .into_iter()
            .map(|sources| {
                sources
                    .into_iter()
                    .filter_map(|(source, port)| {
                        if source == sf_id {
                            Some((instance_id.clone(), 0))
                        } else {
                            id_map.get(&source).map(|id| (id.clone(), port))
                        }
                    })
                    .collect()
            })
            .collect();
        self.graph.nodes[instance_index].outputs_from = outputs_from;
        for (port, targets) in outward.iter().enumerate() {
            self.connect_output(instance_index, &instance_id, port, targets, 0);
        }
        // The status output: a sink that sets the instance's status.
        if let Some(status) = status_port {
            let sink_id = format!("{instance_id}-status");
            for (source, source_port) in port_wires_one(status.get("wires")) {
                if let Some(id) = id_map.get(&source) {
                    let id = id.clone();
                    self.append_wires(
                        instance_index,
                        &id,
                        source_port,
                        std::slice::from_ref(&sink_id),
                    );
                }
            }
            let mut sink = self.graph.nodes[instance_index].clone();
            sink.id = sink_id;
            sink.alias = None;
            sink.plan = Plan::SubflowStatus {
                instance: instance_id.clone(),
            };
            sink.role = Role::Plain;
            sink.wires = Vec::new();
            sink.config = Map::new();
            self.graph.nodes.push(sink);
        }
    }

    fn append_wires(&mut self, from_index: usize, id: &str, port: usize, targets: &[String]) {
        if let Some(node) = self.graph.nodes[from_index..]
            .iter_mut()
            .find(|n| n.id == id)
        {
            if node.wires.len() <= port {
                node.wires.resize(port + 1, Vec::new());
            }
            node.wires[port].extend(targets.iter().cloned());
        }
    }

    /// Wires output `port` of node `id` to `targets`. For a subflow instance that means
    /// wiring the internal nodes feeding that port (recursively, for nested subflows).
    fn connect_output(
        &mut self,
        from_index: usize,
        id: &str,
        port: usize,
        targets: &[String],
        depth: usize,
    ) {
        let Some(index) = self.graph.nodes[from_index..]
            .iter()
            .position(|n| n.id == id)
            .map(|i| i + from_index)
        else {
            return;
        };
        if !matches!(self.graph.nodes[index].plan, Plan::SubflowInstance)
            || depth > MAX_SUBFLOW_DEPTH
        {
            self.append_wires(index, id, port, targets);
            return;
        }
        let sources = self.graph.nodes[index]
            .outputs_from
            .get(port)
            .cloned()
            .unwrap_or_default();
        for (source, source_port) in sources {
            if source == id {
                // The instance's input wired straight to this output.
                self.append_wires(index, id, 0, targets);
            } else {
                self.connect_output(index, &source, source_port, targets, depth + 1);
            }
        }
    }

    /// Config nodes before flow nodes; a config node naming another comes after it.
    fn order_config_nodes(&mut self) {
        let nodes = std::mem::take(&mut self.graph.nodes);
        let (configs, flow_nodes): (Vec<_>, Vec<_>) =
            nodes.into_iter().partition(PlannedNode::is_config);
        let ids: HashSet<String> = configs.iter().map(|c| c.id.clone()).collect();
        let mut ordered: Vec<PlannedNode> = Vec::with_capacity(configs.len());
        let mut placed: HashSet<String> = HashSet::new();
        let mut pending = configs;
        while !pending.is_empty() {
            let before = pending.len();
            let mut rest = Vec::new();
            for node in pending {
                let deps_ready = referenced_ids(&node.config)
                    .iter()
                    .all(|r| *r == node.id || !ids.contains(*r) || placed.contains(*r));
                if deps_ready {
                    placed.insert(node.id.clone());
                    ordered.push(node);
                } else {
                    rest.push(node);
                }
            }
            if rest.len() == before {
                for node in &rest {
                    self.report.push(DeployIssue::node(
                        &node.id,
                        &node.type_name,
                        &node.name,
                        "circular reference between config nodes",
                    ));
                }
                break;
            }
            pending = rest;
        }
        ordered.extend(flow_nodes);
        self.graph.nodes = ordered;
    }
}

/// Where nodes of one container are being planned.
struct Scope {
    flow: String,
    flow_path: String,
    level: Arc<EnvLevel>,
    /// Original id → runtime id, inside a subflow instance.
    id_map: Option<HashMap<String, String>>,
    origins: Vec<String>,
    depth: usize,
}

impl Scope {
    fn map_id(&self, id: &str) -> String {
        self.id_map
            .as_ref()
            .and_then(|m| m.get(id).cloned())
            .unwrap_or_else(|| id.to_owned())
    }
}

fn groups_of(
    members: &[&RawNode],
    id_map: Option<&HashMap<String, String>>,
) -> HashMap<String, Option<String>> {
    let map_id = |id: &str| {
        id_map
            .and_then(|m| m.get(id).cloned())
            .unwrap_or_else(|| id.to_owned())
    };
    members
        .iter()
        .filter(|n| n.type_name == "group")
        .map(|g| (map_id(&g.id), g.g.as_deref().map(map_id)))
        .collect()
}

/// The `env` array of a tab, group, subflow or instance.
fn env_entries(config: &Map<String, Json>) -> Vec<Map<String, Json>> {
    match config.get("env") {
        Some(Json::Array(items)) => items
            .iter()
            .filter_map(|i| i.as_object().cloned())
            .collect(),
        _ => Vec::new(),
    }
}

/// `in` / `out` of a subflow definition: per port, `(node id, port)` sources or targets.
fn port_wires(ports: Option<&Json>) -> Vec<Vec<(String, usize)>> {
    match ports {
        Some(Json::Array(ports)) => ports
            .iter()
            .map(|p| port_wires_one(p.get("wires")))
            .collect(),
        _ => Vec::new(),
    }
}

fn port_wires_one(wires: Option<&Json>) -> Vec<(String, usize)> {
    match wires {
        Some(Json::Array(wires)) => wires
            .iter()
            .filter_map(|w| {
                let id = w.get("id")?.as_str()?.to_owned();
                let port = w.get("port").and_then(json_index).unwrap_or(0);
                Some((id, port))
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn json_index(v: &Json) -> Option<usize> {
    match v {
        Json::Number(n) => n.as_u64().and_then(|n| usize::try_from(n).ok()),
        Json::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A string or array-of-strings property (`links`, `scope`).
pub fn string_list(v: Option<&Json>) -> Vec<String> {
    match v {
        Some(Json::Array(items)) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_owned))
            .collect(),
        Some(Json::String(s)) if !s.is_empty() => vec![s.clone()],
        _ => Vec::new(),
    }
}

/// Rewrites properties naming nodes of the same subflow to the instance's copies.
fn remap_references(config: &mut Map<String, Json>, id_map: &HashMap<String, String>) {
    for (key, value) in config.iter_mut() {
        if matches!(key.as_str(), "id" | "type" | "wires" | "z") {
            continue;
        }
        match value {
            Json::String(s) => {
                if let Some(mapped) = id_map.get(s.as_str()) {
                    *s = mapped.clone();
                }
            }
            Json::Array(items) => {
                for item in items.iter_mut() {
                    if let Json::String(s) = item
                        && let Some(mapped) = id_map.get(s.as_str())
                    {
                        *s = mapped.clone();
                    }
                }
            }
            _ => {}
        }
    }
}

/// String values of top-level properties (candidate references to other nodes).
fn referenced_ids(config: &Map<String, Json>) -> Vec<&str> {
    config
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "id" | "type" | "z" | "wires" | "name"))
        .filter_map(|(_, v)| v.as_str())
        .collect()
}
