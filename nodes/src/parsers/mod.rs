//! Node-RED's "parser" palette: json and csv.

pub mod csv;
pub mod json;
