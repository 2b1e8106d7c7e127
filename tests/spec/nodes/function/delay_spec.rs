//! Port of Node-RED test/nodes/core/function/delay spec (issue 3).
