//! Node-RED's "function" palette: change, switch, range, template, delay, trigger and
//! filter (rbe).

pub mod change;
pub mod delay;
pub mod mustache;
pub mod range;
pub mod rbe;
pub mod rhai;
pub mod switch;
pub mod template;
pub mod trigger;
