//! The shared adaptor conformance suite against the local adaptor (monitor as the separate
//! `gat-job-monitor` program).

use std::sync::Arc;

use gat_adaptor::conformance::Harness;
use gat_adaptor::{Adaptor, Requirements};
use gat_adaptor_local::LocalAdaptor;

fn harness() -> Harness {
    let dir = tempfile::tempdir().expect("temporary directory");
    let adaptor = LocalAdaptor::default()
        .with_monitor_program(Some(env!("CARGO_BIN_EXE_gat-job-monitor").into()));
    let resource = adaptor
        .resources(&Requirements::default())
        .expect("resources")
        .remove(0);
    Harness {
        adaptor: Arc::new(adaptor),
        resource,
        scratch: dir.path().to_path_buf(),
        remote_scratch: dir.path().to_path_buf(),
        guard: Some(Box::new(dir)),
    }
}

gat_adaptor::conformance_tests!(harness);
