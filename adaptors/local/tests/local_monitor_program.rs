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

/// User and system CPU time of a process so far, in clock ticks (fields 14 and 15).
fn cpu_ticks(pid: i32) -> u64 {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).expect("the process's stat");
    let fields: Vec<u64> =
        stat.rsplit_once(") ").expect("stat").1.split_whitespace().skip(11).take(2).map(|f| f.parse().expect("ticks")).collect();
    fields.iter().sum()
}

/// Parent pid (field 4 of /proc/PID/stat), None when the process does not exist.
fn parent_of(pid: i32) -> Option<i32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(") ")?.1.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn jobs_are_children_of_one_job_server_which_outlives_the_adaptor_until_its_jobs_end() {
    let f = fixture();
    let job = f.submit(&f.shell("exec sleep 600"));
    let second = f.submit(&f.shell("exec sleep 600"));
    let (server, job_pid) = pids_of(&job);
    let (second_server, second_pid) = pids_of(&second);
    let _cleanup = KillOnDrop(vec![job_pid, second_pid]);
    assert!(served(&job) && served(&second), "{:?}", start_lines(&job));
    assert_eq!(server, second_server, "one server for all of the adaptor's jobs");
    assert_ne!(server, std::process::id() as i32);
    // No monitor: the jobs are the server's own children, and the server is not ours.
    assert_eq!(parent_of(job_pid), Some(server));
    assert_eq!(parent_of(second_pid), Some(server));
    assert_ne!(parent_of(server), Some(std::process::id() as i32), "the host is the server's parent");
    let server_exe = fs::read_link(format!("/proc/{server}/exe")).expect("server exe");
    assert!(server_exe.ends_with("gat-job-monitor"), "{server_exe:?}");
    // A job that ends is reported.
    let short = f.submit(&f.shell("exit 7"));
    assert_eq!(wait_final(&f.adaptor, &short), finished(7));
    // The adaptor goes: the server stays while it has jobs.
    let Fixture { dir, adaptor, resource, .. } = f;
    drop(adaptor);
    std::thread::sleep(Duration::from_millis(100));
    assert!(matches!(proc_state(server), Some(s) if s != 'Z'), "the server ended with the adaptor");
    // Waiting for its jobs, it sleeps: a closed socket must not make it spin.
    let before = cpu_ticks(server);
    std::thread::sleep(Duration::from_millis(300));
    let spent = cpu_ticks(server) - before;
    assert!(spent <= 3, "the server used {spent} clock ticks of CPU in 300 ms without a job event");
    assert_eq!(proc_state(job_pid), Some('S'), "the job ended with the adaptor");
    // Another adaptor finds the jobs and stops them; the server, with nothing left, ends.
    let again = base_adaptor();
    assert_eq!(poll_one(&again, &job), NativeState::Running);
    again.stop(&job).expect("stop");
    assert!(matches!(proc_state(server), Some(s) if s != 'Z'), "the server ended with a job left");
    again.stop(&second).expect("stop");
    for j in [&job, &second] {
        assert!(matches!(poll_one(&again, j), NativeState::Finished { stopped_by_request: true, .. }));
    }
    wait_gone(server, "the job server, with no adaptor and no job left");
    drop((dir, resource));
}

#[test]
fn a_descendant_that_left_its_group_ends_with_its_own_job_not_another() {
    let f = fixture();
    let other = f.submit(&f.shell("sleep 1"));
    // The daemon leaves the job's group and its parent exits: it becomes the server's child.
    let job = f.submit(&f.shell(
        "sh -c 'setsid sleep 600 & echo $! > daemon.pid'; while [ ! -s daemon.pid ]; do sleep 0.01; done; exec sleep 600",
    ));
    let (_, job_pid) = pids_of(&job);
    let daemon: i32 = wait_until(TIMEOUT, "the daemon's pid", || {
        fs::read_to_string(f.path().join("daemon.pid")).ok()?.trim().parse().ok()
    });
    let _cleanup = KillOnDrop(vec![job_pid, daemon]);
    assert_eq!(wait_final(&f.adaptor, &other), finished(0));
    // Both jobs had started when the daemon did: the other job's end must not take it.
    assert!(matches!(proc_state(daemon), Some(s) if s != 'Z'), "the daemon ended with another job");
    f.adaptor.stop(&job).expect("stop");
    assert!(matches!(poll_one(&f.adaptor, &job), NativeState::Finished { stopped_by_request: true, .. }));
    assert_eq!(proc_state(daemon), None, "the daemon outlived its job's stop");
}

#[test]
fn a_request_too_large_for_the_server_still_runs_under_a_monitor() {
    let f = fixture();
    let mut spec = f.shell("exit 5");
    // 1.2 MB of environment: past the server's request limit, within the kernel's for exec
    // (128 KiB per string).
    for i in 0..12 {
        spec.environment.push((format!("GAT_TEST_LARGE_{i}"), "x".repeat(100_000)));
    }
    let job = f.submit(&spec);
    assert!(!served(&job), "{:?}", start_lines(&job));
    assert_eq!(wait_final(&f.adaptor, &job), finished(5));
}
