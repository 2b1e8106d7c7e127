//! The editor's Admin HTTP API and /comms websocket, over real HTTP.

mod assets_spec;
mod nodes_spec;
mod settings_spec;
mod support;
