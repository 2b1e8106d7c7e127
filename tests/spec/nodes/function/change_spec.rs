//! Port of Node-RED test/nodes/core/function/change spec (issue 3).
