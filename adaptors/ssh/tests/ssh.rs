//! The ssh adaptor against a private sshd on 127.0.0.1: security (byte-for-byte data, host
//! keys), staging, resources, re-attaching, exit codes, and timing figures.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{open_tempdir, shared, wait_state, Sshd, TestAdaptor};
use gat_adaptor::{
    Adaptor, AttrValue, Error, ExitStatus, JobSpec, NativeState, Requirements, StageEntry,
};

const T: Duration = Duration::from_secs(15);

fn finished(s: &NativeState) -> bool {
    s.is_final()
}

fn spec(id: &str, dir: &Path, script: &str, args: &[&str]) -> JobSpec {
    let mut arguments = vec!["-c".to_string(), script.to_string(), "sh".to_string()];
    arguments.extend(args.iter().map(|a| a.to_string()));
    JobSpec {
        id: format!("{id}-{}", std::process::id()),
        executable: "/bin/sh".into(),
        arguments,
        directory: Some(dir.to_path_buf()),
        job_dir: dir.join("local-job-dir"),
        ..JobSpec::default()
    }
}

fn nul_split(b: &[u8]) -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = b.split(|&c| c == 0).map(|s| s.to_vec()).collect();
    if v.last().is_some_and(|l| l.is_empty()) {
        v.pop();
    }
    v
}

#[test]
fn resources_report_the_hosts_attributes_and_load() {
    let s = shared();
    let r = s.adaptor.resource("local-sshd");
    let sh = |c: &str| {
        String::from_utf8(
            Command::new("sh")
                .arg("-c")
                .arg(c)
                .output()
                .expect("sh")
                .stdout,
        )
        .expect("utf8")
        .trim()
        .to_string()
    };
    assert_eq!(r.adaptor, "ssh");
    assert_eq!(r.contact, s.sshd.contact());
    assert_eq!(r.hostname, sh("uname -n"));
    let num = |k: &str| {
        r.attributes
            .get(k)
            .and_then(AttrValue::as_num)
            .unwrap_or_else(|| panic!("{k} missing: {r:?}"))
    };
    let text = |k: &str| {
        r.attributes
            .get(k)
            .map(|v| v.to_string())
            .unwrap_or_else(|| panic!("{k} missing: {r:?}"))
    };
    assert_eq!(num("cpu.count"), sh("nproc").parse::<f64>().unwrap());
    assert!(num("memory.size") > 0.1, "{r:?}");
    assert_eq!(text("machine.type"), sh("uname -m"));
    assert_eq!(text("os.name"), sh("uname -s"));
    assert_eq!(text("os.release"), sh("uname -r"));
    assert_eq!(text("os.version"), sh("uname -v"));
    assert!(r.load.average.is_some_and(|l| l >= 0.0), "{r:?}");
}

/// Arguments, environment values, the working directory, the executable's path and the
/// redirection paths hold every shell metacharacter: they arrive byte for byte and nothing is run.
#[test]
fn hostile_strings_arrive_byte_for_byte_and_never_run() {
    let s = shared();
    let a = &*s.adaptor.adaptor;
    let scratch = open_tempdir(0o777);
    let pid = std::process::id();
    let markers: Vec<PathBuf> = ["arg", "env", "dir", "exe", "out", "bt"]
        .iter()
        .map(|m| PathBuf::from(format!("/tmp/gat-pwned-{m}-{pid}")))
        .collect();
    for m in &markers {
        let _ = fs::remove_file(m);
    }
    let nasty = |m: &Path| {
        format!(
            " sp  'q' \"dq\" $(touch {}) ; x\nnl \\ * ? [a] ~",
            m.display()
        )
    };
    let dir = scratch.path().join(nasty(&markers[2]));
    // The executable: a script at a hostile path, placed through scp.
    let seed = open_tempdir(0o755);
    let exe_name = format!("run `touch {}` me", markers[5].display());
    let exe_name = exe_name.replace('/', "_");
    fs::write(
        seed.path().join(&exe_name),
        "#!/bin/sh\nfor a; do printf '%s\\0' \"$a\"; done > args.out\nprintf '%s\\0' \"$GAT_T1\" \"$GAT_T2\" > env.out\npwd > pwd.out\ncat\necho err >&2\n",
    )
    .unwrap();
    fs::set_permissions(
        seed.path().join(&exe_name),
        fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    fs::write(seed.path().join("in * put"), b"stdin bytes\n\x01\xff").unwrap();
    a.place(&s.resource, seed.path(), &dir)
        .expect("place into a hostile directory name");

    let args: Vec<String> = vec![
        format!("$(touch {})", markers[0].display()),
        format!("`touch {}`", markers[0].display()),
        format!("; touch {} ;", markers[0].display()),
        "'".into(),
        "\"".into(),
        "a\nb".into(),
        " ".into(),
        "".into(),
        "\\'\\".into(),
        "*".into(),
        "-x".into(),
    ];
    let out_name = nasty(&markers[4]).replace('/', "_");
    let env_value = format!("$(touch {}) `id` ; \n '\"", markers[1].display());
    let job_spec = JobSpec {
        id: format!("hostile-{pid}"),
        executable: dir.join(&exe_name).display().to_string(),
        arguments: args.clone(),
        environment: vec![
            ("GAT_T1".into(), env_value.clone()),
            ("GAT_T2".into(), "".into()),
        ],
        directory: Some(dir.clone()),
        stdin: Some(PathBuf::from("in * put")),
        stdout: Some(PathBuf::from(&out_name)),
        stderr: Some(dir.join("err ; $(x)")),
        job_dir: scratch.path().join("job"),
        ..JobSpec::default()
    };
    let job = a
        .submit(&job_spec, &s.resource)
        .expect("submit with hostile strings");
    let st = wait_state(a, &job, T, "hostile job", finished);
    assert_eq!(
        st,
        NativeState::Finished {
            status: ExitStatus::Exited(0),
            stopped_by_request: false
        }
    );
    let got = nul_split(&fs::read(dir.join("args.out")).unwrap());
    let want: Vec<Vec<u8>> = args.iter().map(|a| a.as_bytes().to_vec()).collect();
    assert_eq!(got, want, "arguments altered");
    let env = nul_split(&fs::read(dir.join("env.out")).unwrap());
    assert_eq!(
        env,
        vec![env_value.into_bytes(), vec![]],
        "environment altered"
    );
    assert_eq!(
        fs::read_to_string(dir.join("pwd.out")).unwrap(),
        format!("{}\n", dir.display())
    );
    assert_eq!(
        fs::read(dir.join(&out_name)).unwrap(),
        b"stdin bytes\n\x01\xff"
    );
    assert_eq!(fs::read(dir.join("err ; $(x)")).unwrap(), b"err\n");
    // fetch() of names holding glob characters takes exactly that file.
    fs::write(dir.join("in X put"), b"decoy").unwrap();
    let into = scratch.path().join("fetched");
    a.fetch(
        &job,
        &[PathBuf::from("in * put"), PathBuf::from(&out_name)],
        &into,
    )
    .expect("fetch hostile names");
    assert_eq!(
        fs::read(into.join("in * put")).unwrap(),
        b"stdin bytes\n\x01\xff"
    );
    assert!(!into.join("in X put").exists());
    assert_eq!(
        fs::read(into.join(&out_name)).unwrap(),
        b"stdin bytes\n\x01\xff"
    );
    for m in &markers {
        assert!(
            !m.exists(),
            "{} exists: a string was run by a shell",
            m.display()
        );
    }
    // Names with '/' replaced would land in the working directory if run.
    for e in fs::read_dir(&dir).unwrap().flatten() {
        assert!(
            !e.file_name()
                .to_string_lossy()
                .starts_with("_tmp_gat-pwned"),
            "{:?} was created by a shell",
            e.file_name()
        );
    }
}

#[test]
fn exit_codes_above_128_are_not_signals() {
    let s = shared();
    let a = &*s.adaptor.adaptor;
    let dir = open_tempdir(0o777);
    for (i, (script, want)) in [
        ("exit 137", ExitStatus::Exited(137)),
        ("exit 143", ExitStatus::Exited(143)),
        ("kill -TERM $$", ExitStatus::Signaled(15)),
        ("kill -USR1 $$", ExitStatus::Signaled(10)),
        ("exit 129", ExitStatus::Exited(129)),
    ]
    .into_iter()
    .enumerate()
    {
        let job = a
            .submit(
                &spec(&format!("code{i}"), dir.path(), script, &[]),
                &s.resource,
            )
            .expect("submit");
        let st = wait_state(a, &job, T, script, finished);
        assert_eq!(
            st,
            NativeState::Finished {
                status: want,
                stopped_by_request: false
            },
            "{script}"
        );
    }
}

#[test]
fn jobs_start_with_interrupt_and_quit_at_their_defaults() {
    // The host's sh starts the job with `&`, which ignores SIGINT and SIGQUIT: the job must not
    // inherit that (a local job does not either). A job that signals itself shows it.
    let s = shared();
    let a = &*s.adaptor.adaptor;
    let dir = open_tempdir(0o777);
    for (i, (script, want)) in [
        ("kill -INT $$; exit 7", ExitStatus::Signaled(2)),
        ("kill -QUIT $$; exit 7", ExitStatus::Signaled(3)),
    ]
    .into_iter()
    .enumerate()
    {
        let job = a.submit(&spec(&format!("sig{i}"), dir.path(), script, &[]), &s.resource).expect("submit");
        let st = wait_state(a, &job, T, script, finished);
        assert_eq!(st, NativeState::Finished { status: want, stopped_by_request: false }, "{script}");
    }
}

#[test]
fn unnamed_streams_are_discarded_and_leave_no_file() {
    // As on this machine: a job whose spec names no stdout/stderr writes to /dev/null.
    let s = shared();
    let a = &*s.adaptor.adaptor;
    let dir = open_tempdir(0o777);
    let spec = spec("quiet", dir.path(), "echo out; echo err >&2", &[]);
    let job = a.submit(&spec, &s.resource).expect("submit");
    let st = wait_state(a, &job, T, "the job to end", finished);
    assert_eq!(st, NativeState::Finished { status: ExitStatus::Exited(0), stopped_by_request: false });
    let jobs = s.sshd.work_dir().join(".gat/jobs");
    let mine: Vec<String> = fs::read_dir(&jobs)
        .expect("the host's job files")
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .filter(|n| n.starts_with(&spec.id))
        .collect();
    assert!(mine.iter().any(|n| n.ends_with(".pid")), "the job's files: {mine:?}");
    assert!(!mine.iter().any(|n| n.ends_with(".stdout") || n.ends_with(".stderr")), "{mine:?}");
    assert_eq!(fs::read_dir(dir.path()).expect("working directory").count(), 0, "nothing written where it ran");
}

#[test]
fn pre_and_post_staging_copy_files() {
    let s = shared();
    let a = &*s.adaptor.adaptor;
    let work = open_tempdir(0o777);
    let local = open_tempdir(0o755);
    fs::write(local.path().join("input.txt"), b"pre-staged\n").unwrap();
    fs::create_dir_all(local.path().join("tree/sub")).unwrap();
    fs::write(local.path().join("tree/sub/deep.txt"), b"deep\n").unwrap();
    let mut sp = spec(
        "staging",
        work.path(),
        "cat in/input.txt t/sub/deep.txt > result.txt; mkdir -p o; echo two > o/second.txt",
        &[],
    );
    sp.pre_staged = vec![
        StageEntry {
            source: local.path().join("input.txt"),
            destination: "in/input.txt".into(),
        },
        StageEntry {
            source: local.path().join("tree"),
            destination: "t".into(),
        },
    ];
    sp.post_staged = vec![
        StageEntry {
            source: "result.txt".into(),
            destination: local.path().join("back/result.txt"),
        },
        StageEntry {
            source: "o".into(),
            destination: local.path().join("odir"),
        },
    ];
    let job = a.submit(&sp, &s.resource).expect("submit with staging");
    let st = wait_state(a, &job, T, "staging job", finished);
    assert_eq!(
        st,
        NativeState::Finished {
            status: ExitStatus::Exited(0),
            stopped_by_request: false
        }
    );
    assert_eq!(
        fs::read(local.path().join("back/result.txt")).unwrap(),
        b"pre-staged\ndeep\n"
    );
    assert_eq!(
        fs::read(local.path().join("odir/second.txt")).unwrap(),
        b"two\n"
    );
    // A second poll does not copy again (post-staged is recorded on the host).
    fs::remove_file(local.path().join("back/result.txt")).unwrap();
    let st2 = a.poll(&[&job]).unwrap().remove(0);
    assert_eq!(st, st2);
    assert!(!local.path().join("back/result.txt").exists());
}

/// A job outlives the adaptor (and its master connection) that started it: a fresh adaptor
/// finds it from the NativeJob's strings. Without a work_dir the job directory is in ~/.gat/jobs.
#[test]
fn jobs_survive_the_submitting_adaptor() {
    let s = shared();
    let work = open_tempdir(0o777);
    let first = TestAdaptor::new(vec![s.sshd.resource_config("plain")]);
    let res = first.resource("plain");
    let mut sp = spec(
        "survive",
        work.path(),
        "while [ ! -e release ]; do sleep 0.05; done; exit 6",
        &[],
    );
    sp.id = format!(
        "survive-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let job = first.adaptor.submit(&sp, &res).expect("submit");
    assert!(job.native_id.parse::<u32>().is_ok(), "{job:?}");
    drop(first);
    let second = TestAdaptor::new(vec![s.sshd.resource_config("plain")]);
    let fresh = gat_adaptor::NativeJob { ..job.clone() };
    assert_eq!(
        second.adaptor.poll(&[&fresh]).unwrap(),
        vec![NativeState::Running]
    );
    fs::write(work.path().join("release"), b"").unwrap();
    let st = wait_state(&*second.adaptor, &fresh, T, "released job", finished);
    assert_eq!(
        st,
        NativeState::Finished {
            status: ExitStatus::Exited(6),
            stopped_by_request: false
        }
    );
    // The job's files are under jobtest's home (`<id>.pid`, `<id>.exit`, ...); remove them (the
    // test's own).
    let home = PathBuf::from("/home/jobtest/.gat/jobs");
    let files: Vec<_> = fs::read_dir(&home)
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(&format!("{}.", sp.id))
        })
        .collect();
    let names: Vec<String> = files
        .iter()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.contains(&format!("{}.pid", sp.id)),
        "job files under {}: {names:?}",
        home.display()
    );
    let exit = fs::read_to_string(home.join(format!("{}.exit", sp.id))).unwrap();
    assert_eq!(exit, "exited 6 0\n");
    for f in &files {
        fs::remove_file(f.path()).unwrap();
    }
    // A job whose files vanished is Lost, not Running.
    assert!(matches!(
        second.adaptor.poll(&[&fresh]).unwrap().remove(0),
        NativeState::Lost { .. }
    ));
}

fn host_key_test(known_hosts: &str) -> Error {
    let sshd = Sshd::start();
    let kh = sshd.path("other_known_hosts");
    fs::write(&kh, known_hosts.replace("PORT", &sshd.port.to_string())).unwrap();
    let mut cfg = sshd.resource_config("badkey");
    // Before -F: ssh keeps the first value.
    cfg.ssh_options = vec![
        "-o".into(),
        format!("UserKnownHostsFile={}", kh.display()),
        "-F".into(),
        sshd.path("ssh_config").display().to_string(),
    ];
    let ta = TestAdaptor::new(vec![cfg]);
    let err = ta
        .adaptor
        .resources(&Requirements::default())
        .expect_err("a bad host key must not connect");
    let res = gat_adaptor::Resource {
        name: "badkey".into(),
        contact: sshd.contact(),
        adaptor: "ssh".into(),
        attributes: Default::default(),
        load: Default::default(),
        hostname: String::new(),
        work_dir: None,
    };
    let dir = open_tempdir(0o777);
    let sub = ta
        .adaptor
        .submit(&spec("badkey", dir.path(), "touch ran", &[]), &res)
        .expect_err("submit must fail");
    assert!(matches!(sub, Error::PermissionDenied(_)), "{sub:?}");
    assert!(!dir.path().join("ran").exists());
    // Nothing was added to the known_hosts file.
    assert_eq!(
        fs::read_to_string(&kh).unwrap(),
        known_hosts.replace("PORT", &sshd.port.to_string())
    );
    err
}

#[test]
fn unknown_host_key_is_refused_with_a_clear_error() {
    let err = host_key_test("");
    assert!(
        matches!(&err, Error::PermissionDenied(m) if m.contains("Host key verification failed")),
        "{err:?}"
    );
}

#[test]
fn changed_host_key_is_refused_with_a_clear_error() {
    let tmp = open_tempdir(0o700);
    let key = tmp.path().join("k");
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(st.success());
    let public = fs::read_to_string(key.with_extension("pub")).unwrap();
    let mut parts = public.split_whitespace();
    let line = format!(
        "[127.0.0.1]:PORT {} {}\n",
        parts.next().unwrap(),
        parts.next().unwrap()
    );
    let err = host_key_test(&line);
    assert!(
        matches!(&err, Error::PermissionDenied(m) if m.contains("Host key verification failed") && m.contains("IDENTIFICATION HAS CHANGED")),
        "{err:?}"
    );
}

#[test]
fn signal_stop_and_bad_specs() {
    let s = shared();
    let a = &*s.adaptor.adaptor;
    let dir = open_tempdir(0o777);
    // A job that ignores TERM is killed after the grace period; stop reports it stopped.
    let job = a
        .submit(
            &spec(
                "ignore-term",
                dir.path(),
                "trap '' TERM; echo x > ready; while :; do sleep 0.05; done",
                &[],
            ),
            &s.resource,
        )
        .unwrap();
    common::wait_state(a, &job, T, "ready", |_| dir.path().join("ready").exists());
    let t0 = Instant::now();
    a.stop(&job).expect("stop");
    let st = a.poll(&[&job]).unwrap().remove(0);
    assert!(
        matches!(
            st,
            NativeState::Finished {
                stopped_by_request: true,
                ..
            }
        ),
        "{st:?} after {:?}",
        t0.elapsed()
    );
    // Bad specs are refused before anything runs.
    let mut bad = spec("bad-env", dir.path(), "true", &[]);
    bad.environment = vec![("A-B".into(), "x".into())];
    assert!(matches!(
        a.submit(&bad, &s.resource),
        Err(Error::InvalidSpec(_))
    ));
    let mut bad = spec("bad-nul", dir.path(), "true", &["a\0b"]);
    bad.arguments.push("x".into());
    assert!(matches!(
        a.submit(&bad, &s.resource),
        Err(Error::InvalidSpec(_))
    ));
    let mut bad = spec("bad-dir", dir.path(), "true", &[]);
    bad.directory = Some(dir.path().join("missing"));
    assert!(
        matches!(a.submit(&bad, &s.resource), Err(Error::FileOpen(m)) if m.contains("missing"))
    );
    let mut bad = spec("bad-stdin", dir.path(), "true", &[]);
    bad.stdin = Some("no-such-input".into());
    assert!(matches!(
        a.submit(&bad, &s.resource),
        Err(Error::FileOpen(_))
    ));
}

/// Timing figures (printed; bounds are loose sanity checks): one multiplexed round trip, a
/// submit, a batched poll of 20 jobs.
#[test]
fn timing_figures() {
    let s = shared();
    let a = &*s.adaptor.adaptor;
    let dir = open_tempdir(0o777);
    let median = |mut v: Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    a.run_script("local-sshd", "printf 'GAT-BEGIN\\n'").unwrap();
    let rt: Vec<Duration> = (0..30)
        .map(|_| {
            let t = Instant::now();
            let (code, _) = a.run_script("local-sshd", "printf 'GAT-BEGIN\\n'").unwrap();
            assert_eq!(code, 0);
            t.elapsed()
        })
        .collect();
    let mut jobs = Vec::new();
    let sub: Vec<Duration> = (0..20)
        .map(|i| {
            let t = Instant::now();
            jobs.push(
                a.submit(
                    &spec(&format!("timing{i}"), dir.path(), "exit 0", &[]),
                    &s.resource,
                )
                .unwrap(),
            );
            t.elapsed()
        })
        .collect();
    // Baseline: the same multiplexed connection starting a detached job with no bookkeeping.
    let raw: Vec<Duration> = (0..20)
        .map(|_| {
            let t = Instant::now();
            let (code, _) = a
                .run_script("local-sshd", "printf 'GAT-BEGIN\\n'; setsid -f /bin/sh -c 'exit 0' </dev/null >/dev/null 2>&1")
                .unwrap();
            assert_eq!(code, 0);
            t.elapsed()
        })
        .collect();
    let refs: Vec<_> = jobs.iter().collect();
    let t = Instant::now();
    let states = a.poll(&refs).unwrap();
    let poll20 = t.elapsed();
    assert_eq!(states.len(), 20);
    let (rt, sub, raw) = (median(rt), median(sub), median(raw));
    eprintln!(
        "TIMING ssh round trip through the master: median {rt:?}; submit: median {sub:?} \
         (raw multiplexed ssh + setsid -f: {raw:?}, ratio {:.2}); poll of 20 jobs: {poll20:?}",
        sub.as_secs_f64() / raw.as_secs_f64()
    );
    assert!(
        rt < Duration::from_secs(1)
            && sub < Duration::from_secs(2)
            && poll20 < Duration::from_secs(2)
    );
}

/// The cooperative checkpoint primitives: a signal reaches the main process only when it has a
/// handler, and remove() deletes files in the working directory.
#[test]
fn signal_if_caught_and_remove() {
    let s = shared();
    let a = &*s.adaptor.adaptor;
    let dir = open_tempdir(0o777);
    let script = "trap 'echo got > usr2.marker; exit 9' USR2; echo x > ready; i=0; while [ $i -lt 300 ]; do sleep 0.05 & wait $!; i=$((i+1)); done";
    let job = a
        .submit(&spec("caught", dir.path(), script, &[]), &s.resource)
        .unwrap();
    wait_state(a, &job, T, "ready", |_| dir.path().join("ready").exists());
    assert!(
        !a.signal_if_caught(&job, gat_adaptor::Signal::Usr1).unwrap(),
        "USR1 has no handler"
    );
    assert_eq!(a.poll(&[&job]).unwrap().remove(0), NativeState::Running);
    assert!(
        a.signal_if_caught(&job, gat_adaptor::Signal::Usr2).unwrap(),
        "USR2 has a handler"
    );
    let st = wait_state(a, &job, T, "trapped exit", finished);
    assert_eq!(
        st,
        NativeState::Finished {
            status: ExitStatus::Exited(9),
            stopped_by_request: false
        }
    );
    assert!(matches!(
        a.signal_if_caught(&job, gat_adaptor::Signal::Usr2),
        Err(Error::NoSuchJob(_))
    ));
    a.remove(
        &job,
        &[PathBuf::from("usr2.marker"), PathBuf::from("never-there")],
    )
    .unwrap();
    assert!(!dir.path().join("usr2.marker").exists());
    assert!(dir.path().join("ready").exists());
}

/// The engine's checkpoint protocol variables: paths relative to the job's working directory
/// reach the job as absolute paths on the host, hostile bytes intact and never run.
#[test]
fn workdir_env_becomes_absolute_paths_in_the_working_directory() {
    let s = shared();
    let a = &*s.adaptor.adaptor;
    let scratch = open_tempdir(0o777);
    let marker = PathBuf::from(format!("/tmp/gat-pwned-wdenv-{}", std::process::id()));
    let _ = fs::remove_file(&marker);
    let dir = scratch.path().join("w d");
    fs::create_dir(&dir).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
    let rel = format!(".gat/it's $(touch {}) `x`", marker.display());
    let spec = JobSpec {
        id: format!("wdenv-{}", std::process::id()),
        executable: "/bin/sh".into(),
        arguments: vec![
            "-c".into(),
            "printf '%s\\0%s\\0' \"$GAT_CHECKPOINT_FILE\" \"$GAT_ABS\" > env.out".into(),
        ],
        directory: Some(dir.clone()),
        workdir_env: vec![
            ("GAT_CHECKPOINT_FILE".into(), PathBuf::from(&rel)),
            ("GAT_ABS".into(), PathBuf::from("/abs/olute")),
        ],
        job_dir: scratch.path().join("local"),
        ..JobSpec::default()
    };
    let job = a.submit(&spec, &s.resource).expect("submit");
    wait_state(a, &job, Duration::from_secs(10), "the job to end", |st| {
        st.is_final()
    });
    let got = fs::read(dir.join("env.out")).expect("env.out");
    let want = format!("{}/{rel}\0/abs/olute\0", dir.display());
    assert_eq!(String::from_utf8_lossy(&got), want);
    assert!(!marker.exists(), "a workdir_env path was run by a shell");
    let bad = JobSpec {
        workdir_env: vec![("NOT-A-NAME".into(), PathBuf::from("x"))],
        ..spec
    };
    assert!(matches!(
        a.submit(&bad, &s.resource),
        Err(gat_adaptor::Error::InvalidSpec(_))
    ));
}

/// The job files' common prefix on the host (`dir` in the NativeJob's data): `<it>.pid`, ...
fn job_files(job: &gat_adaptor::NativeJob) -> String {
    let dir = job
        .data
        .lines()
        .find_map(|l| l.strip_prefix("dir "))
        .expect("dir in the job data");
    assert!(
        !dir.contains('%'),
        "the test's paths need no decoding: {dir}"
    );
    dir.to_string()
}

/// Fields of /proc/PID/stat after the command name: [state, ppid, ...]; None when gone.
fn proc_stat(pid: &str) -> Option<Vec<String>> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 2..];
    Some(rest.split_whitespace().map(str::to_string).collect())
}

fn wait_until(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The host keeps an ended job's exit status in the kernel (a zombie under a `sleep` that never
/// reaps it) until a poll records it and ends the `sleep`; a job nobody polls after its first
/// poll is recorded and cleaned up by the monitor that poll started. (The sshd is local, so
/// this test can look at the host's /proc.)
#[test]
fn ended_jobs_are_held_until_recorded_and_the_monitor_cleans_up() {
    let s = shared();
    let a = &*s.adaptor.adaptor;
    let work = open_tempdir(0o777);

    let job = a
        .submit(&spec("held", work.path(), "exit 3", &[]), &s.resource)
        .expect("submit");
    let files = job_files(&job);
    let pid_line = fs::read_to_string(format!("{files}.pid")).unwrap();
    let fields: Vec<&str> = pid_line.split_whitespace().collect();
    let [pid, _start, parent] = fields.as_slice() else {
        panic!("pid file {pid_line:?}")
    };
    assert_eq!(*pid, job.native_id);
    wait_until("the job to end", T, || {
        proc_stat(pid).is_some_and(|f| f[0] == "Z")
    });
    assert_eq!(proc_stat(pid).unwrap()[1], *parent, "the zombie's parent");
    assert_eq!(
        fs::read_to_string(format!("/proc/{parent}/comm")).unwrap(),
        "sleep\n"
    );
    assert!(!Path::new(&format!("{files}.exit")).exists());
    assert_eq!(
        a.poll(&[&job]).unwrap().remove(0),
        NativeState::Finished {
            status: ExitStatus::Exited(3),
            stopped_by_request: false
        }
    );
    assert_eq!(
        fs::read_to_string(format!("{files}.exit")).unwrap(),
        "exited 3 0\n"
    );
    wait_until("the parent to be ended", T, || {
        proc_stat(parent).is_none_or(|f| f[0] == "Z")
    });

    let job = a
        .submit(
            &spec(
                "monitored",
                work.path(),
                "while [ ! -e release ]; do sleep 0.05; done; exit 5",
                &[],
            ),
            &s.resource,
        )
        .expect("submit");
    let files = job_files(&job);
    let parent = fs::read_to_string(format!("{files}.pid"))
        .unwrap()
        .split_whitespace()
        .nth(2)
        .unwrap()
        .to_string();
    assert_eq!(a.poll(&[&job]).unwrap().remove(0), NativeState::Running);
    assert!(Path::new(&format!("{files}.monitor")).exists());
    fs::write(work.path().join("release"), b"").unwrap();
    // No poll from here on: the monitor (first pause 1 s, then 2 s) records the end.
    wait_until(
        "the monitor to record the exit",
        Duration::from_secs(20),
        || fs::read_to_string(format!("{files}.exit")).is_ok_and(|t| t == "exited 5 0\n"),
    );
    wait_until("the parent to be ended", T, || {
        proc_stat(&parent).is_none_or(|f| f[0] == "Z")
    });
    assert_eq!(
        a.poll(&[&job]).unwrap().remove(0),
        NativeState::Finished {
            status: ExitStatus::Exited(5),
            stopped_by_request: false
        }
    );
}
