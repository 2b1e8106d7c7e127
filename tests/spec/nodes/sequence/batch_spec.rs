//! Port of Node-RED test/nodes/core/sequence/batch spec (issue 3).
