//! Port of Node-RED test/nodes/core/function/switch spec (issue 3).
