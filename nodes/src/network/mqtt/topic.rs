//! MQTT topic names and filters — stub, written by the codec work package.
