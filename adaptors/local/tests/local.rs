//! Local-adaptor behaviour beyond the shared conformance suite (jobs outliving the adaptor
//! object, events, staging, reaping, process-tree cleanup, isolation from the host process),
//! with each monitor a forked copy of this process.

use gat_adaptor_local::LocalAdaptor;

fn base_adaptor() -> LocalAdaptor {
    LocalAdaptor::default().with_monitor_program(None)
}

include!("common/local_cases.rs");
