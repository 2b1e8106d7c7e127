//! Ferrite's node types: one file per Node-RED node type, in folders named after the
//! editor palette categories. [`ALL`] is the one registration table.

mod base64;
pub mod common;
pub mod dashboard;
pub mod function;
mod hex;
pub mod industrial;
pub mod network;
pub mod parsers;
pub mod sequence;
pub mod storage;

use ferrite_runtime::NodeDef;

/// Every node type Ferrite provides.
pub static ALL: &[NodeDef] = &[
    common::inject::DEF,
    common::debug::DEF,
    common::complete::DEF,
    common::catch::DEF,
    common::status::DEF,
    common::link::LINK_IN,
    common::link::LINK_OUT,
    common::link::LINK_CALL,
    common::comment::DEF,
    common::junction::DEF,
    common::global_config::DEF,
    function::change::DEF,
    function::switch::DEF,
    function::range::DEF,
    function::template::DEF,
    function::delay::DEF,
    function::trigger::DEF,
    function::rbe::DEF,
    function::rhai::DEF,
    industrial::json_build::DEF,
    industrial::modbus_client::DEF,
    industrial::modbus_server::DEF,
    industrial::modbus_read::DEF,
    industrial::modbus_getter::DEF,
    industrial::modbus_flex_getter::DEF,
    industrial::modbus_write::DEF,
    industrial::modbus_flex_write::DEF,
    network::tls_config::DEF,
    network::mqtt_broker::DEF,
    network::mqtt_in::DEF,
    network::mqtt_out::DEF,
    network::aedes_broker::DEF,
    parsers::json::DEF,
    parsers::csv::DEF,
    sequence::split::DEF,
    sequence::join::DEF,
    sequence::sort::DEF,
    sequence::batch::DEF,
    dashboard::ui_base::DEF,
    dashboard::ui_page::DEF,
    dashboard::ui_group::DEF,
    dashboard::ui_theme::DEF,
    dashboard::ui_gauge::DEF,
    dashboard::ui_text::DEF,
    dashboard::ui_button::DEF,
    dashboard::ui_switch::DEF,
    dashboard::ui_slider::DEF,
    dashboard::ui_notification::DEF,
    dashboard::ui_table::DEF,
    storage::history::DEF,
    dashboard::ui_chart::DEF,
];
