//! TLS plumbing shared by MQTT client connections and the embedded broker — stub.
