//! Port of Node-RED test/nodes/core/parsers/json spec (issue 3).
