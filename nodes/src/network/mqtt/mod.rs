//! MQTT: the `mqtt-broker` config node with its connection actor, `mqtt in`, `mqtt out`,
//! and the embedded `aedes broker`'s server.

pub mod client;
pub mod codec;
pub mod message;
pub mod outbox;
pub mod server;
pub mod topic;
pub mod users;
pub mod websocket;
