//! The editor's Admin HTTP API and /comms websocket, over real HTTP.

mod browser_spec;
mod credentials_spec;
mod flows_spec;
mod library_spec;
mod revisions_spec;
mod auth_spec;
mod https_spec;
mod comms_spec;
mod context_spec;
mod node_routes_spec;
mod assets_spec;
mod nodes_spec;
mod settings_spec;
mod support;
