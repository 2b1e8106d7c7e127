//! The editor's Admin HTTP API and /comms websocket, over real HTTP.

mod comms_spec;
mod context_spec;
mod node_routes_spec;
mod support;
