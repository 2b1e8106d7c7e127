//! Network nodes: MQTT (client config, in, out, the embedded broker) and TLS.

pub mod aedes_broker;
pub mod mqtt;
pub mod mqtt_broker;
pub mod mqtt_in;
pub mod mqtt_out;
pub mod tls;
pub mod tls_config;
