//! Port of Node-RED test/nodes/core/common/21-debug_spec.js.
