//! Port of Node-RED test/nodes/core/function/trigger spec (issue 3).
