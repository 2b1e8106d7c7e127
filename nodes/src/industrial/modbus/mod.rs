//! Modbus support shared by the `modbus-*` nodes: the protocol (PDUs and framing), the
//! client connection actor, register maps and the simulated device.

pub mod client;
pub mod flow;
pub mod frame;
pub mod pdu;
pub mod regmap;
pub mod server;
