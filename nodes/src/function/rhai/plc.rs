//! Helpers PLC users need in Rhai scripts: hex, register/byte decoding, time.

/// Registers the helpers on the shared engine.
pub(super) fn register(_engine: &mut rhai::Engine) {}
