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

/// Parent pid (field 4 of /proc/PID/stat), None when the process does not exist.
fn parent_of(pid: i32) -> Option<i32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(") ")?.1.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn monitors_come_from_the_spawner_which_ends_with_the_adaptor_while_jobs_run_on() {
    let f = fixture();
    let job = f.submit(&f.shell("exec sleep 600"));
    let second = f.submit(&f.shell("exec sleep 600"));
    let (monitor, job_pid) = pids_of(&job);
    let (second_monitor, second_pid) = pids_of(&second);
    let _cleanup = KillOnDrop(vec![job_pid, second_pid]);
    // Not forked by this process: both monitors have the same parent, the spawner.
    let spawner = parent_of(monitor).expect("the monitor's parent");
    assert_ne!(spawner, std::process::id() as i32, "the host forked the monitor");
    assert_eq!(parent_of(second_monitor), Some(spawner));
    let spawner_exe = fs::read_link(format!("/proc/{spawner}/exe")).expect("spawner exe");
    assert!(spawner_exe.ends_with("gat-job-monitor"), "{spawner_exe:?}");
    // A job that ends is reported (the spawner reaps its monitor).
    let short = f.submit(&f.shell("exit 7"));
    assert_eq!(wait_final(&f.adaptor, &short), finished(7));
    // The adaptor goes: the spawner follows; monitors and jobs stay.
    let Fixture { dir, adaptor, resource, .. } = f;
    drop(adaptor);
    wait_until(TIMEOUT, "the spawner to end", || {
        matches!(proc_state(spawner), None | Some('Z')).then_some(())
    });
    assert_eq!(proc_state(job_pid), Some('S'), "the job ended with the spawner");
    assert!(matches!(proc_state(monitor), Some(s) if s != 'Z'));
    // Another adaptor finds the job and stops it, monitor and all.
    let again = base_adaptor();
    assert_eq!(poll_one(&again, &job), NativeState::Running);
    again.stop(&job).expect("stop");
    again.stop(&second).expect("stop");
    assert!(matches!(
        poll_one(&again, &job),
        NativeState::Finished { stopped_by_request: true, .. }
    ));
    wait_gone(monitor, "the first monitor");
    drop((dir, resource));
}
