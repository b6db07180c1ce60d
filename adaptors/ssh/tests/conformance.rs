//! The shared adaptor conformance suite against the ssh adaptor on a private sshd at 127.0.0.1
//! (user jobtest). Same machine, so the scratch directory is shared: 0777 for jobtest.

mod common;

use gat_adaptor::conformance::Harness;

fn harness() -> Harness {
    let shared = common::shared();
    let scratch = common::open_tempdir(0o777);
    Harness {
        adaptor: shared.adaptor.adaptor.clone(),
        resource: shared.resource.clone(),
        scratch: scratch.path().to_path_buf(),
        remote_scratch: scratch.path().to_path_buf(),
        guard: Some(Box::new((scratch, shared))),
    }
}

gat_adaptor::conformance_tests!(harness);
