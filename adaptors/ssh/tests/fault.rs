//! Faults: the host's sshd dies while a job runs. The job keeps running on the host; polls say
//! Unknown with ssh's reason (never Finished or Lost) until sshd is back, then the real state.

mod common;

use std::fs;
use std::time::Duration;

use common::{open_tempdir, wait_state, Sshd, TestAdaptor};
use gat_adaptor::{Adaptor, Error, ExitStatus, JobSpec, NativeState};

#[test]
fn sshd_killed_while_a_job_runs_gives_unknown_then_recovers() {
    let sshd = Sshd::start();
    let mut config = sshd.resource_config("faulty");
    config.work_dir = Some(sshd.work_dir()); // job directories go away with the test bed
    let ta = TestAdaptor::new(vec![config]);
    let a = &*ta.adaptor;
    let res = ta.resource("faulty");
    let dir = open_tempdir(0o777);
    let spec = JobSpec {
        id: format!("fault-{}", std::process::id()),
        executable: "/bin/sh".into(),
        arguments: vec![
            "-c".into(),
            "while [ ! -e release ]; do sleep 0.05; done; exit 3".into(),
        ],
        directory: Some(dir.path().to_path_buf()),
        job_dir: dir.path().join("job"),
        ..JobSpec::default()
    };
    let job = a.submit(&spec, &res).expect("submit");
    assert_eq!(a.poll(&[&job]).unwrap(), vec![NativeState::Running]);

    sshd.stop(); // the listener and every connection, the master's included
    let state = a
        .poll(&[&job])
        .expect("poll answers even when the host does not");
    match &state[0] {
        NativeState::Unknown { reason } => assert!(
            {
                eprintln!("UNKNOWN REASON: {reason}");
                true
            } && (reason.contains("Connection refused")
                || reason.contains("closed")
                || reason.contains("failed")),
            "the reason should quote ssh: {reason}"
        ),
        other => panic!("with sshd down the state must be Unknown, was {other:?}"),
    }
    // Other calls fail clearly too, nothing hangs.
    assert!(matches!(
        a.signal(&job, gat_adaptor::Signal::Usr1),
        Err(Error::Unreachable(_))
    ));
    // The job itself lives on (same machine: we can look).
    assert!(!dir.path().join("release").exists());

    sshd.restart();
    let state = wait_state(
        a,
        &job,
        Duration::from_secs(10),
        "Running after sshd restart",
        |s| !matches!(s, NativeState::Unknown { .. }),
    );
    assert_eq!(state, NativeState::Running);
    fs::write(dir.path().join("release"), b"").unwrap();
    let state = wait_state(a, &job, Duration::from_secs(10), "the job to finish", |s| {
        s.is_final()
    });
    assert_eq!(
        state,
        NativeState::Finished {
            status: ExitStatus::Exited(3),
            stopped_by_request: false
        }
    );
}

#[test]
fn host_that_never_answers_times_out_or_is_unreachable() {
    // Nothing listens on this port (sshd started and stopped: the port is free and ours).
    let sshd = Sshd::start();
    sshd.stop();
    let ta = TestAdaptor::new(vec![sshd.resource_config("down")]);
    let err = ta
        .adaptor
        .resources(&Default::default())
        .expect_err("no host");
    assert!(
        matches!(&err, Error::Unreachable(m) if m.contains("Connection refused")),
        "{err:?}"
    );
}
