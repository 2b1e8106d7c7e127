//! Ferrite's node types: one file per Node-RED node type, in folders named after the
//! editor palette categories. [`ALL`] is the one registration table.

pub mod common;

use ferrite_runtime::NodeDef;

/// Every node type Ferrite provides.
pub static ALL: &[NodeDef] = &[
    common::inject::DEF,
    common::debug::DEF,
    common::complete::DEF,
    common::catch::DEF,
    common::status::DEF,
    common::link::LINK_IN,
    common::link::LINK_OUT,
    common::link::LINK_CALL,
    common::comment::DEF,
    common::junction::DEF,
    common::global_config::DEF,
];
