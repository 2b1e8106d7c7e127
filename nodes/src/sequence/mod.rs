//! Node-RED's "sequence" palette: split, join, sort and batch.

pub mod batch;
pub mod join;
pub mod sort;
pub mod split;
