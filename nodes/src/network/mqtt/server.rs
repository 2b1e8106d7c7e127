//! The embedded MQTT broker behind `aedes broker` — stub.
