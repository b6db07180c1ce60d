//! The local-adaptor cases of tests/local.rs again, with each monitor the separate
//! `gat-job-monitor` program.

use gat_adaptor_local::LocalAdaptor;

fn base_adaptor() -> LocalAdaptor {
    LocalAdaptor::default().with_monitor_program(Some(env!("CARGO_BIN_EXE_gat-job-monitor").into()))
}

include!("common/local_cases.rs");

#[test]
fn monitor_runs_as_the_separate_program() {
    let f = fixture();
    let job = f.submit(&f.shell("exec sleep 600"));
    let (monitor, job_pid) = pids_of(&job);
    let _cleanup = KillOnDrop(vec![job_pid]);
    let exe = wait_until(TIMEOUT, "the monitor to exec gat-job-monitor", || {
        fs::read_link(format!("/proc/{monitor}/exe"))
            .ok()
            .filter(|p| p.ends_with("gat-job-monitor"))
    });
    assert!(exe.ends_with("gat-job-monitor"), "{exe:?}");
    f.adaptor.stop(&job).expect("stop");
}

#[test]
fn unusable_monitor_program_is_a_submit_error() {
    let f = fixture_with(
        LocalAdaptor::default().with_monitor_program(Some(PathBuf::from("/nonexistent/gat-job-monitor"))),
    );
    let r = f.adaptor.submit(&f.shell("true"), &f.resource);
    assert!(
        matches!(&r, Err(Error::FileOpen(m)) if m.contains("monitor")),
        "{r:?}"
    );
}
