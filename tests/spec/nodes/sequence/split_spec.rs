//! Port of Node-RED test/nodes/core/sequence/split spec (issue 3).
