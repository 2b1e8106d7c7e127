//! Ferrite's spec tests: ports of Node-RED's spec files, one module per file, each test
//! carrying the mocha title it ports in a `///` line.

mod admin;
mod cli_spec;
mod demo_spec;
mod harness;
mod support;

mod nodes {
    mod common {
        mod catch_spec;
        mod comment_spec;
        mod complete_spec;
        mod debug_spec;
        mod inject_spec;
        mod link_spec;
        mod status_spec;
    }
    mod dashboard {
        mod config_spec;
        mod dynamic_spec;
        mod inputs_spec;
        mod support;
        mod ui_chart_spec;
        mod widgets_spec;
    }
    mod function {
        mod change_spec;
        mod delay_spec;
        mod range_spec;
        mod rbe_spec;
        mod rhai_spec;
        mod switch_spec;
        mod template_spec;
        mod trigger_spec;
    }
    mod industrial {
        mod json_build_spec;
        mod modbus_client_spec;
        mod modbus_read_spec;
        mod modbus_server_spec;
    }
    mod network {
        mod aedes_broker_spec;
        mod mqtt_spec;
        mod tls_config_spec;
    }
    mod parsers {
        mod csv_spec;
        mod json_spec;
    }
    mod storage {
        mod history_spec;
    }
    mod sequence {
        mod batch_spec;
        mod sort_spec;
        mod split_spec;
    }
}

mod runtime {
    mod flow_spec;
    mod flows_dir_spec;
    mod subflow_spec;
}
