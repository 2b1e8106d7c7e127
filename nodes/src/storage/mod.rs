//! Storage nodes: what records flow data in Ferrite's own database.

pub mod history;
