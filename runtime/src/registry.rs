//! The node types a runtime knows: built from one static table (`ferrite_nodes::ALL`).

use std::collections::HashMap;

use crate::node::NodeDef;

/// Lookup of node types by Node-RED type name.
#[derive(Debug, Default)]
pub struct Registry {
    defs: Vec<NodeDef>,
    by_name: HashMap<&'static str, usize>,
}

/// Two rows of the table claim one type name.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("node type '{0}' is registered twice")]
pub struct DuplicateType(pub &'static str);

impl Registry {
    /// Builds a registry from tables (the crate's `ALL`, plus test-only types).
    pub fn new<'a>(tables: impl IntoIterator<Item = &'a [NodeDef]>) -> Result<Self, DuplicateType> {
        let mut registry = Self::default();
        for table in tables {
            for def in table {
                if registry
                    .by_name
                    .insert(def.type_name, registry.defs.len())
                    .is_some()
                {
                    return Err(DuplicateType(def.type_name));
                }
                registry.defs.push(*def);
            }
        }
        Ok(registry)
    }

    pub fn get(&self, type_name: &str) -> Option<&NodeDef> {
        self.by_name.get(type_name).map(|&i| &self.defs[i])
    }

    /// Every registered type, in table order.
    pub fn defs(&self) -> &[NodeDef] {
        &self.defs
    }
}
