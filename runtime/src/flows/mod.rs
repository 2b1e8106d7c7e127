//! Reading flows.json and planning a deploy: raw objects, the graph of nodes that will run,
//! what changed since the last deploy, and the report of every problem found.

pub mod diff;
pub mod graph;
pub mod raw;
pub mod report;
