//! Real peers for the network tests: a Mosquitto broker on a free loopback port, test
//! certificates, a pymodbus Modbus server and socat pseudo-terminal pairs.

pub mod certs;
pub mod mosquitto;
pub mod pymodbus;
pub mod socat;
