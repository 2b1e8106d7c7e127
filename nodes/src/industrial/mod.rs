//! Industrial nodes: PLC payload shaping and Modbus.

pub mod json_build;
pub mod modbus;
pub mod modbus_client;
pub mod modbus_server;
