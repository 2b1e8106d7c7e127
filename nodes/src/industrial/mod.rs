//! Industrial nodes: PLC payload shaping and Modbus.

pub mod json_build;
pub mod modbus;
pub mod modbus_client;
pub mod modbus_flex_getter;
pub mod modbus_flex_write;
pub mod modbus_getter;
pub mod modbus_read;
pub mod modbus_server;
pub mod modbus_write;
