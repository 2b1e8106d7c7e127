//! Port of Node-RED test/nodes/core/sequence/sort spec (issue 3).
