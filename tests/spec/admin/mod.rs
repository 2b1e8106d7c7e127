//! The editor's Admin HTTP API and /comms websocket, over real HTTP.

mod assets_spec;
mod auth_spec;
mod browser_spec;
mod browser_support;
mod comms_spec;
mod context_spec;
mod credentials_spec;
mod dashboard_browser_spec;
mod dashboard_spec;
mod demo_browser_spec;
mod flows_spec;
mod history_spec;
mod https_spec;
mod library_spec;
mod node_routes_spec;
mod nodes_spec;
mod revisions_spec;
mod settings_spec;
mod support;
