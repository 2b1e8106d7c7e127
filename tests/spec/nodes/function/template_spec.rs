//! Port of Node-RED test/nodes/core/function/template spec (issue 3).
