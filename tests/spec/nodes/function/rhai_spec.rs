//! Tests of the `rhai` node: ports of Node-RED test/nodes/core/function/10-function_spec.js.
