//! Ferrite's spec tests: ports of Node-RED's spec files, one module per file, each test
//! carrying the mocha title it ports in a `///` line.

mod cli_spec;
mod harness;

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
}

mod runtime {
    mod flow_spec;
    mod flows_dir_spec;
    mod subflow_spec;
}
