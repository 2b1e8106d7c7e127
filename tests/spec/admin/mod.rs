//! The editor's Admin HTTP API and /comms websocket, over real HTTP.

mod browser_spec;
mod support;
