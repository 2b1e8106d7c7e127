//! Dashboard nodes (FlowFuse Dashboard 2.0 type names and config keys): each registers its
//! item on the runtime's dashboard hub for the `/dashboard` page.

pub mod ui_chart;
