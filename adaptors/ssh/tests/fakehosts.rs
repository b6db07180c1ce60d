//! Two fake hosts h1, h2 (network namespaces on bridge br-gat, own hostnames and sshds; see
//! tests/testbed/hosts.sh). One test function: the namespaces have fixed names.

mod common;

use std::fs;
use std::path::PathBuf;
use std::time::Duration;

use common::{open_tempdir, wait_state, FakeHosts, TestAdaptor};
use gat_adaptor::{Adaptor, ExitStatus, JobSpec, NativeState, Requirements};

#[test]
fn jobs_on_two_fake_hosts_and_files_between_them() {
    let hosts = FakeHosts::start();
    let ta = TestAdaptor::new(vec![hosts.resource_config(1), hosts.resource_config(2)]);
    let a = &*ta.adaptor;
    let resources = a.resources(&Requirements::default()).expect("resources");
    assert_eq!(resources.len(), 2, "{resources:?}");
    let h1 = resources
        .iter()
        .find(|r| r.name == "h1")
        .expect("h1")
        .clone();
    let h2 = resources
        .iter()
        .find(|r| r.name == "h2")
        .expect("h2")
        .clone();
    assert_eq!((h1.hostname.as_str(), h2.hostname.as_str()), ("h1", "h2"));

    let shared = open_tempdir(0o777); // all namespaces share the file system
    let job_spec = |name: &str, script: &str, dir: PathBuf| JobSpec {
        id: format!("{name}-{}", std::process::id()),
        executable: "/bin/sh".into(),
        arguments: vec!["-c".into(), script.into()],
        directory: Some(dir),
        job_dir: shared.path().join(format!("{name}-local")),
        ..JobSpec::default()
    };
    let w1 = shared.path().join("w1");
    a.place(&h1, open_tempdir(0o755).path(), &w1)
        .expect("place on h1");
    let j1 = a
        .submit(
            &job_spec(
                "on-h1",
                "uname -n > where.txt; echo state-from-h1 > state.bin",
                w1.clone(),
            ),
            &h1,
        )
        .expect("submit on h1");
    let j2 = a
        .submit(
            &job_spec(
                "on-h2",
                "uname -n > where.txt; sleep 0.2",
                shared.path().to_path_buf(),
            ),
            &h2,
        )
        .expect("submit on h2");
    assert_eq!((j1.hostname.as_str(), j2.hostname.as_str()), ("h1", "h2"));
    assert_eq!((j1.resource.as_str(), j2.resource.as_str()), ("h1", "h2"));
    // One poll, two hosts (one round trip each, in parallel).
    let done = |s: &Vec<NativeState>| s.iter().all(|s| s.is_final());
    let start = std::time::Instant::now();
    let states = loop {
        let s = a.poll(&[&j1, &j2]).expect("poll");
        if done(&s) {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "jobs did not finish: {s:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    for s in &states {
        assert_eq!(
            *s,
            NativeState::Finished {
                status: ExitStatus::Exited(0),
                stopped_by_request: false
            }
        );
    }
    assert_eq!(fs::read_to_string(w1.join("where.txt")).unwrap(), "h1\n");

    // State off h1, onto h2, and a job on h2 reads it.
    let local = open_tempdir(0o755);
    a.fetch(&j1, &[PathBuf::from("state.bin")], local.path())
        .expect("fetch from h1");
    assert_eq!(
        fs::read(local.path().join("state.bin")).unwrap(),
        b"state-from-h1\n"
    );
    let w2 = shared.path().join("w2");
    a.place(&h2, local.path(), &w2).expect("place on h2");
    let j3 = a
        .submit(
            &job_spec(
                "reader-h2",
                "cat state.bin > seen.txt; uname -n >> seen.txt",
                w2.clone(),
            ),
            &h2,
        )
        .expect("submit reader on h2");
    let s = wait_state(a, &j3, Duration::from_secs(10), "reader on h2", |s| {
        s.is_final()
    });
    assert_eq!(
        s,
        NativeState::Finished {
            status: ExitStatus::Exited(0),
            stopped_by_request: false
        }
    );
    assert_eq!(
        fs::read_to_string(w2.join("seen.txt")).unwrap(),
        "state-from-h1\nh2\n"
    );

    // The job files of these jobs are under jobtest's home: remove them.
    for j in [&j1, &j2, &j3] {
        let home = PathBuf::from("/home/jobtest/.gat/jobs");
        for e in fs::read_dir(&home).into_iter().flatten().flatten() {
            if e.file_name().to_string_lossy().starts_with(&j.id) {
                let _ = fs::remove_file(e.path());
            }
        }
    }
}
