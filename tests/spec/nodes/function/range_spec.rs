//! Port of Node-RED test/nodes/core/function/range spec (issue 3).
