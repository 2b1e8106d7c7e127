//! Real peers for the network tests: a Mosquitto broker on a free loopback port, and test
//! certificates.

pub mod certs;
pub mod mosquitto;
