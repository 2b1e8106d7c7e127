//! Industrial nodes: PLC payload shaping (and, later, Modbus).

pub mod json_build;
