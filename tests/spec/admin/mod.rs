//! The editor's Admin HTTP API and /comms websocket, over real HTTP.

mod auth_spec;
mod https_spec;
mod support;
