//! Which nodes a deploy restarts (Node-RED's `diffConfigs`).
//!
//! A node changed when any property but its position and wires differs. Changes spread: to
//! nodes naming a changed node (users of a config node), to members of a changed group, to
//! every node of a tab whose env changed, and from a subflow's members to the subflow (its
//! instances restart). A `flows` deploy also restarts nodes wired, directly or not, to a
//! changed one.

use std::collections::{HashMap, HashSet};

use serde_json::Value as Json;

use super::raw::RawNode;

/// `Node-RED-Deployment-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeployKind {
    Full,
    Nodes,
    Flows,
    /// Reload the flows from storage (treated as `Full`).
    Reload,
}

impl DeployKind {
    /// Parses the header value; unknown values mean `full`, as Node-RED does.
    pub fn parse(text: &str) -> Self {
        match text {
            "nodes" => Self::Nodes,
            "flows" => Self::Flows,
            "reload" => Self::Reload,
            _ => Self::Full,
        }
    }
}

/// Ids (as written in the file) whose nodes must restart, or `None` when everything must
/// (a `global-config` change).
pub fn changed_ids(old: &[RawNode], new: &[RawNode], kind: DeployKind) -> Option<HashSet<String>> {
    if matches!(kind, DeployKind::Full | DeployKind::Reload) {
        return None;
    }
    let old_by_id: HashMap<&str, &RawNode> = old.iter().map(|n| (n.id.as_str(), n)).collect();
    let new_by_id: HashMap<&str, &RawNode> = new.iter().map(|n| (n.id.as_str(), n)).collect();
    let mut changed: HashSet<String> = HashSet::new();
    let mut rewired: HashSet<String> = HashSet::new();

    for node in new {
        match old_by_id.get(node.id.as_str()) {
            None => {
                changed.insert(node.id.clone());
            }
            Some(before) => {
                if differs(before, node) {
                    if node.type_name == "global-config" {
                        return None;
                    }
                    changed.insert(node.id.clone());
                }
                if before.wires != node.wires {
                    rewired.insert(node.id.clone());
                }
            }
        }
    }
    let removed: HashSet<&str> = old
        .iter()
        .filter(|n| !new_by_id.contains_key(n.id.as_str()))
        .map(|n| n.id.as_str())
        .collect();
    if removed.iter().any(|id| {
        old_by_id
            .get(id)
            .is_some_and(|n| n.type_name == "global-config")
    }) {
        return None;
    }

    // Spread until nothing more changes.
    loop {
        let mut grew = false;
        for node in new {
            if changed.contains(&node.id) {
                continue;
            }
            let container_changed = node.z.as_deref().is_some_and(|z| {
                changed.contains(z) && new_by_id.get(z).is_some_and(|t| t.type_name == "tab")
            });
            let group_changed = node.g.as_deref().is_some_and(|g| changed.contains(g));
            let names_changed = node.config.iter().any(|(key, value)| {
                !matches!(key.as_str(), "id" | "z" | "wires" | "g")
                    && references(value, |id| changed.contains(id) || removed.contains(id))
            });
            if container_changed || group_changed || names_changed {
                changed.insert(node.id.clone());
                grew = true;
            }
        }
        // A changed member makes its subflow change (so its instances restart).
        for node in new.iter().chain(old.iter()) {
            if let Some(z) = node.z.as_deref() {
                let member_changed =
                    changed.contains(&node.id) || removed.contains(node.id.as_str());
                let is_subflow = new_by_id.get(z).is_some_and(|s| s.type_name == "subflow");
                if member_changed && is_subflow && changed.insert(z.to_owned()) {
                    grew = true;
                }
            }
        }
        for node in new {
            if let Some(sf) = node.type_name.strip_prefix("subflow:")
                && changed.contains(sf)
                && changed.insert(node.id.clone())
            {
                grew = true;
            }
        }
        if !grew {
            break;
        }
    }

    if kind == DeployKind::Flows {
        // Everything connected by wires to a modified node, in either direction.
        let mut links: HashMap<&str, Vec<&str>> = HashMap::new();
        for node in old.iter().chain(new.iter()) {
            for target in node.wires.iter().flatten() {
                links
                    .entry(node.id.as_str())
                    .or_default()
                    .push(target.as_str());
                links
                    .entry(target.as_str())
                    .or_default()
                    .push(node.id.as_str());
            }
        }
        let mut stack: Vec<&str> = changed
            .iter()
            .map(String::as_str)
            .chain(rewired.iter().map(String::as_str))
            .chain(removed.iter().copied())
            .collect();
        let mut seen: HashSet<&str> = HashSet::new();
        let mut linked = Vec::new();
        while let Some(id) = stack.pop() {
            if !seen.insert(id) {
                continue;
            }
            linked.push(id.to_owned());
            if let Some(next) = links.get(id) {
                stack.extend(next.iter().copied());
            }
        }
        changed.extend(linked);
    }
    Some(changed)
}

/// Any property other than position and wires differs (groups also ignore their members,
/// style and size). Credentials sent with a deploy always count as a change.
fn differs(old: &RawNode, new: &RawNode) -> bool {
    if new.config.contains_key("credentials") {
        return true;
    }
    let ignored = |key: &str, group: bool| {
        matches!(key, "x" | "y" | "wires")
            || (group && matches!(key, "nodes" | "style" | "w" | "h"))
    };
    let group = new.type_name == "group";
    let keys = |n: &RawNode| n.config.keys().filter(|k| !ignored(k, group)).count();
    if keys(old) != keys(new) {
        return true;
    }
    new.config
        .iter()
        .filter(|(k, _)| !ignored(k, group))
        .any(|(k, v)| old.config.get(k) != Some(v))
}

fn references(value: &Json, is_changed: impl Fn(&str) -> bool + Copy) -> bool {
    match value {
        Json::String(s) => is_changed(s),
        Json::Array(items) => items.iter().any(|i| references(i, is_changed)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flows::raw::read_nodes;
    use crate::flows::report::DeployReport;
    use serde_json::json;

    fn nodes(flows: Json) -> Vec<RawNode> {
        read_nodes(
            flows.as_array().expect("array"),
            &mut DeployReport::default(),
        )
    }

    fn base() -> Json {
        json!([
            {"id": "t1", "type": "tab", "label": "T"},
            {"id": "a", "type": "inject", "z": "t1", "x": 1, "y": 1, "wires": [["b"]]},
            {"id": "b", "type": "debug", "z": "t1", "x": 1, "y": 1, "broker": "c", "wires": []},
            {"id": "c", "type": "mqtt-broker", "broker": "h"},
            {"id": "d", "type": "debug", "z": "t1", "x": 1, "y": 1, "wires": []}
        ])
    }

    #[test]
    fn moving_a_node_is_no_change_but_editing_it_is() {
        let old = nodes(base());
        let mut moved = base();
        moved[1]["x"] = json!(500);
        assert_eq!(
            changed_ids(&old, &nodes(moved), DeployKind::Nodes),
            Some(HashSet::new())
        );
        let mut edited = base();
        edited[4]["name"] = json!("renamed");
        assert_eq!(
            changed_ids(&old, &nodes(edited), DeployKind::Nodes),
            Some(HashSet::from(["d".to_owned()]))
        );
    }

    #[test]
    fn a_changed_config_node_restarts_its_users() {
        let old = nodes(base());
        let mut edited = base();
        edited[3]["broker"] = json!("other");
        let changed = changed_ids(&old, &nodes(edited), DeployKind::Nodes).expect("partial");
        assert_eq!(changed, HashSet::from(["c".to_owned(), "b".to_owned()]));
    }

    #[test]
    fn a_flows_deploy_also_restarts_wired_neighbours() {
        let old = nodes(base());
        let mut edited = base();
        edited[2]["name"] = json!("x");
        let changed = changed_ids(&old, &nodes(edited), DeployKind::Flows).expect("partial");
        assert!(changed.contains("a") && changed.contains("b") && !changed.contains("d"));
    }
}
