//! Port of Node-RED test/nodes/core/parsers/csv spec (issue 3).
