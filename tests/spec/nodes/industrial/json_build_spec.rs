//! Tests of the `json-build` node.
