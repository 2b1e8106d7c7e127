//! Port of Node-RED test/nodes/core/function/rbe spec (issue 3).
