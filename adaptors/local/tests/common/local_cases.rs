// Shared by tests/local.rs (a monitor per job, in-process) and tests/local_monitor_program.rs
// (the gat-job-monitor program as the job server): each defines `base_adaptor()`. Where the
// two differ, `served(job)` tells which one started the job.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gat_adaptor::conformance::{wait_until, TIMEOUT};
use gat_adaptor::{
    Adaptor, Error, ExitStatus, JobSpec, NativeJob, NativeState, Requirements, Resource, StageEntry,
};
use gat_adaptor_local::LocalResourceConfig;

struct Fixture {
    dir: tempfile::TempDir,
    adaptor: LocalAdaptor,
    resource: Resource,
    counter: std::sync::atomic::AtomicUsize,
}

fn fixture() -> Fixture {
    fixture_with(base_adaptor())
}

fn fixture_with(adaptor: LocalAdaptor) -> Fixture {
    let dir = tempfile::tempdir().expect("temporary directory");
    let resource = adaptor
        .resources(&Requirements::default())
        .expect("resources")
        .remove(0);
    Fixture {
        dir,
        adaptor,
        resource,
        counter: Default::default(),
    }
}

impl Fixture {
    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `/bin/sh -c script` running in the fixture's directory with its own job dir.
    fn shell(&self, script: &str) -> JobSpec {
        let n = self
            .counter
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        JobSpec {
            id: format!("local-test-{n}"),
            executable: "/bin/sh".into(),
            arguments: vec!["-c".into(), script.into()],
            directory: Some(self.path().to_path_buf()),
            job_dir: self.path().join(format!("job-{n}")),
            ..JobSpec::default()
        }
    }

    fn submit(&self, spec: &JobSpec) -> NativeJob {
        self.adaptor
            .submit(spec, &self.resource)
            .unwrap_or_else(|e| panic!("submit failed: {e}"))
    }
}

fn poll_one(adaptor: &dyn Adaptor, job: &NativeJob) -> NativeState {
    adaptor.poll(&[job]).expect("poll").remove(0)
}

fn wait_final(adaptor: &dyn Adaptor, job: &NativeJob) -> NativeState {
    wait_until(TIMEOUT, &format!("job {} to finish", job.id), || {
        let s = poll_one(adaptor, job);
        s.is_final().then_some(s)
    })
}

fn finished(code: i32) -> NativeState {
    NativeState::Finished {
        status: ExitStatus::Exited(code),
        stopped_by_request: false,
    }
}

/// The record log of the jobs area holding the job's directory.
fn record_log(job: &NativeJob) -> PathBuf {
    Path::new(&job.data).parent().expect("jobs area").join("local-jobs.log")
}

/// The start lines (`S key monitor job ...`, or `J key server job ...` for a job of the job
/// server) the record log holds for the job.
fn start_lines(job: &NativeJob) -> Vec<String> {
    let key = Path::new(&job.data).file_name().expect("job dir name").to_string_lossy().into_owned();
    let text = fs::read_to_string(record_log(job)).unwrap_or_default();
    text.lines()
        .filter(|l| l.starts_with(&format!("S {key} ")) || l.starts_with(&format!("J {key} ")))
        .map(str::to_owned)
        .collect()
}

/// True when the job server started the job (it has no monitor of its own).
fn served(job: &NativeJob) -> bool {
    start_lines(job).last().expect("a start line in the record log").starts_with("J ")
}

/// (monitor or server pid, job pid) from the job's last start line in the record log.
fn pids_of(job: &NativeJob) -> (i32, i32) {
    let lines = start_lines(job);
    let line = lines.last().expect("a start line in the record log");
    let mut it = line
        .split(' ')
        .skip(2)
        .map(|w| w.parse::<i32>().expect("pid number"));
    (it.next().expect("monitor pid"), it.next().expect("job pid"))
}

/// State letter of a process from /proc, None when it does not exist.
fn proc_state(pid: i32) -> Option<char> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(") ")?.1.chars().next()
}

/// Kills the given processes when a test ends, so a failing test leaves nothing running.
struct KillOnDrop(Vec<i32>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        for pid in &self.0 {
            if matches!(proc_state(*pid), Some(s) if s != 'Z') {
                let _ = std::process::Command::new("kill")
                    .args(["-9", &pid.to_string()])
                    .status();
            }
        }
    }
}

fn wait_gone(pid: i32, what: &str) {
    wait_until(
        TIMEOUT,
        &format!("{what} (pid {pid}) to disappear from /proc"),
        || proc_state(pid).is_none().then_some(()),
    );
}

#[test]
fn exit_status_survives_the_submitting_adaptor() {
    let f = fixture();
    let job = f.submit(&f.shell("sleep 0.5; exit 6"));
    let (monitor, _) = pids_of(&job);
    let Fixture { dir, adaptor, .. } = f;
    drop(adaptor);
    // A fresh adaptor stands for another process that re-attached from the journal.
    let other = base_adaptor();
    assert_eq!(
        poll_one(&other, &job),
        NativeState::Running,
        "the job outlives the adaptor that submitted it"
    );
    assert_eq!(wait_final(&other, &job), finished(6));
    // The dropped adaptor's watcher still reaps the monitor it forked: no zombie is left. A
    // job server left with no adaptor and no job ends.
    wait_gone(monitor, "monitor (or server) of a job whose adaptor was dropped");
    drop(dir);
}

#[test]
fn event_sink_gets_finished() {
    let f = fixture();
    let events: Arc<Mutex<Vec<(String, NativeState)>>> = Arc::default();
    let sink_events = Arc::clone(&events);
    f.adaptor
        .set_event_sink(Arc::new(move |job: &NativeJob, state: NativeState| {
            sink_events
                .lock()
                .expect("events")
                .push((job.id.clone(), state));
        }))
        .expect("set sink");
    let job = f.submit(&f.shell("sleep 0.2; exit 2"));
    let got = wait_until(TIMEOUT, "a pushed Finished event", || {
        events
            .lock()
            .expect("events")
            .iter()
            .find(|(id, _)| *id == job.id)
            .map(|(_, s)| s.clone())
    });
    assert_eq!(got, finished(2));
}

#[test]
fn re_attached_job_gets_events_too() {
    let f = fixture();
    let job = f.submit(&f.shell("sleep 0.5; exit 1"));
    let other = base_adaptor();
    let events: Arc<Mutex<Vec<NativeState>>> = Arc::default();
    let sink_events = Arc::clone(&events);
    other
        .set_event_sink(Arc::new(move |_: &NativeJob, state: NativeState| {
            sink_events.lock().expect("events").push(state)
        }))
        .expect("set sink");
    assert_eq!(poll_one(&other, &job), NativeState::Running);
    let got = wait_until(TIMEOUT, "an event for a re-attached job", || {
        events.lock().expect("events").first().cloned()
    });
    assert_eq!(got, finished(1));
}

#[test]
fn pre_and_post_staging_copy_files() {
    let f = fixture();
    let inputs = f.path().join("inputs");
    fs::create_dir_all(inputs.join("tree/sub")).expect("mkdir");
    fs::write(inputs.join("data.txt"), "payload").expect("write");
    fs::write(inputs.join("tree/sub/deep.txt"), "deep").expect("write");
    let work = f.path().join("work");
    fs::create_dir_all(&work).expect("mkdir");
    let outputs = f.path().join("outputs");

    let mut spec =
        f.shell("cat staged-data.txt > result.txt; cat staged-tree/sub/deep.txt > deep.txt");
    spec.directory = Some(work.clone());
    spec.pre_staged = vec![
        StageEntry {
            source: inputs.join("data.txt"),
            destination: "staged-data.txt".into(),
        },
        StageEntry {
            source: inputs.join("tree"),
            destination: "staged-tree".into(),
        },
    ];
    spec.post_staged = vec![
        StageEntry {
            source: "result.txt".into(),
            destination: outputs.join("result.txt"),
        },
        StageEntry {
            source: "deep.txt".into(),
            destination: outputs.join("nested/deep.txt"),
        },
    ];
    let job = f.submit(&spec);
    assert_eq!(wait_final(&f.adaptor, &job), finished(0));
    // Finished means the outputs are already there.
    assert_eq!(
        fs::read_to_string(outputs.join("result.txt")).expect("post-staged result"),
        "payload"
    );
    assert_eq!(
        fs::read_to_string(outputs.join("nested/deep.txt")).expect("post-staged deep"),
        "deep"
    );
    assert!(!Path::new(&job.data).join("post-stage-error").exists());
}

#[test]
fn post_stage_failure_is_recorded_and_keeps_the_exit_status() {
    let f = fixture();
    let mut spec = f.shell("exit 3");
    spec.post_staged = vec![StageEntry {
        source: "never-written.txt".into(),
        destination: f.path().join("x"),
    }];
    let job = f.submit(&spec);
    assert_eq!(wait_final(&f.adaptor, &job), finished(3));
    let err = fs::read_to_string(Path::new(&job.data).join("post-stage-error"))
        .expect("post-stage-error file");
    assert!(
        err.contains("never-written.txt"),
        "error names the file: {err}"
    );
}

#[test]
fn missing_pre_staged_file_is_a_submit_error() {
    let f = fixture();
    let mut spec = f.shell("true");
    spec.pre_staged = vec![StageEntry {
        source: f.path().join("absent.txt"),
        destination: "a.txt".into(),
    }];
    let r = f.adaptor.submit(&spec, &f.resource);
    assert!(
        matches!(&r, Err(Error::FileOpen(m)) if m.contains("absent.txt")),
        "{r:?}"
    );
}

#[test]
fn no_zombie_is_left_behind() {
    let f = fixture();
    let job = f.submit(&f.shell("sleep 0.1 & exit 0"));
    let (monitor, job_pid) = pids_of(&job);
    assert_eq!(
        job.native_id,
        job_pid.to_string(),
        "native id is the job's process group"
    );
    assert_eq!(wait_final(&f.adaptor, &job), finished(0));
    if served(&job) {
        // The server runs on for the adaptor's next jobs, without the ended one as a child.
        let children = fs::read_to_string(format!("/proc/{monitor}/task/{monitor}/children")).expect("the server's children");
        assert!(!children.split_whitespace().any(|c| c == job_pid.to_string()), "{children}");
    } else {
        wait_gone(monitor, "the job's monitor");
    }
    wait_gone(job_pid, "the job's main process");
}

#[test]
fn streams_without_a_file_are_discarded_and_a_start_creates_no_file() {
    let f = fixture();
    let job = f.submit(&f.shell("echo out; echo err >&2; echo out2"));
    assert_eq!(wait_final(&f.adaptor, &job), finished(0));
    // Nothing but the area's one record log: no job directory, no output file.
    assert!(!Path::new(&job.data).exists(), "no job directory was made");
    let area: Vec<_> = fs::read_dir(Path::new(&job.data).parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(area, ["local-jobs.log"]);
}

#[test]
fn a_stream_with_a_file_of_its_own_goes_there_the_other_nowhere() {
    let f = fixture();
    let mut spec = f.shell("echo out; echo err >&2");
    spec.stdout = Some(PathBuf::from("mine.txt"));
    let job = f.submit(&spec);
    assert_eq!(wait_final(&f.adaptor, &job), finished(0));
    assert_eq!(
        fs::read_to_string(f.path().join("mine.txt")).expect("stdout file"),
        "out\n"
    );
    assert!(!Path::new(&job.data).exists(), "stderr went nowhere, no file was made for it");
}

#[test]
fn stop_ends_escaped_and_term_ignoring_descendants() {
    let f = fixture_with(base_adaptor().with_stop_grace(Duration::from_millis(300)));
    // One descendant leaves the job's session and group, one ignores TERM; both must end.
    let script = r#"
trap '' TERM
setsid sh -c 'echo $$ > escaped.pid; exec sleep 600' &
sh -c 'trap "" TERM; echo $$ > stubborn.pid; while :; do sleep 0.1; done' &
while [ ! -s escaped.pid ] || [ ! -s stubborn.pid ]; do sleep 0.05; done
echo ok > ready
while :; do sleep 0.1; done
"#;
    let job = f.submit(&f.shell(script));
    wait_until(TIMEOUT, "the job to start its descendants", || {
        f.path().join("ready").exists().then_some(())
    });
    let read_pid = |name: &str| {
        fs::read_to_string(f.path().join(name))
            .expect(name)
            .trim()
            .parse::<i32>()
            .expect("pid")
    };
    let (escaped, stubborn) = (read_pid("escaped.pid"), read_pid("stubborn.pid"));
    let _cleanup = KillOnDrop(vec![escaped, stubborn]);
    assert!(proc_state(escaped).is_some() && proc_state(stubborn).is_some());

    f.adaptor.stop(&job).expect("stop");
    assert_eq!(
        poll_one(&f.adaptor, &job),
        NativeState::Finished {
            status: ExitStatus::Signaled(9),
            stopped_by_request: true
        },
        "a job ignoring TERM is killed after the grace period"
    );
    // The monitor is their subreaper and reaped them before recording the exit.
    assert_eq!(
        proc_state(escaped),
        None,
        "escaped descendant survived stop"
    );
    assert_eq!(
        proc_state(stubborn),
        None,
        "TERM-ignoring descendant survived stop"
    );
}

#[test]
fn leftovers_are_killed_when_the_main_process_exits() {
    let f = fixture();
    let job = f.submit(&f.shell("setsid sleep 600 & echo $! > left.pid; exit 0"));
    assert_eq!(wait_final(&f.adaptor, &job), finished(0));
    let pid: i32 = fs::read_to_string(f.path().join("left.pid"))
        .expect("left.pid")
        .trim()
        .parse()
        .expect("pid");
    let _cleanup = KillOnDrop(vec![pid]);
    assert_eq!(
        proc_state(pid),
        None,
        "a background process outlived the job"
    );
}

#[test]
fn job_is_isolated_from_the_host_process() {
    // The Rust test harness ignores SIGPIPE; the job must not inherit that, nor our session.
    let f = fixture();
    let job = f.submit(
        // The shell blocks signals while it waits for a child, so the exec'd program reads
        // its own (inherited) dispositions and mask.
        &f.shell("cat /proc/$$/stat > stat.out; exec grep -E '^Sig(Ign|Blk)' /proc/self/status > sig.out"),
    );
    assert_eq!(wait_final(&f.adaptor, &job), finished(0));
    let sig = fs::read_to_string(f.path().join("sig.out")).expect("sig.out");
    for line in sig.lines() {
        assert!(
            line.ends_with("0000000000000000"),
            "job inherited ignored or blocked signals: {line}"
        );
    }
    let stat = fs::read_to_string(f.path().join("stat.out")).expect("stat.out");
    let fields: Vec<&str> = stat
        .rsplit_once(") ")
        .expect("stat")
        .1
        .split_whitespace()
        .collect();
    let (pgrp, session): (i32, i32) = (
        fields[2].parse().expect("pgrp"),
        fields[3].parse().expect("session"),
    );
    assert_eq!(
        pgrp.to_string(),
        job.native_id,
        "the job leads its own process group"
    );
    let own_session = fs::read_to_string("/proc/self/stat").expect("own stat");
    let own_session: i32 = own_session
        .rsplit_once(") ")
        .expect("stat")
        .1
        .split_whitespace()
        .nth(3)
        .expect("sid")
        .parse()
        .expect("sid");
    assert_ne!(
        session, own_session,
        "the job must not share the host's session"
    );
}

#[test]
fn the_job_gets_the_hosts_open_file_limit() {
    let f = fixture();
    let job = f.submit(&f.shell("ulimit -n > nofile.out"));
    assert_eq!(wait_final(&f.adaptor, &job), finished(0));
    // SAFETY: rlimit is plain data getrlimit fills.
    let mut limit: libc::rlimit = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) }, 0);
    let seen = fs::read_to_string(f.path().join("nofile.out")).expect("nofile.out");
    let expected = if limit.rlim_cur == libc::RLIM_INFINITY { "unlimited".to_string() } else { limit.rlim_cur.to_string() };
    assert_eq!(seen.trim(), expected, "a starter's raised limit leaked into the job");
}

#[test]
fn a_killed_monitor_makes_the_job_lost_and_stop_still_ends_it() {
    let f = fixture();
    let job = f.submit(&f.shell("sleep 600"));
    let (monitor, job_pid) = pids_of(&job);
    let _cleanup = KillOnDrop(vec![job_pid]);
    // Kill the monitor as an outside event (OOM killer, a careless kill -9) would.
    assert!(std::process::Command::new("kill")
        .args(["-9", &monitor.to_string()])
        .status()
        .expect("kill")
        .success());
    let state = wait_until(TIMEOUT, "the job to be reported lost", || {
        match poll_one(&f.adaptor, &job) {
            s @ NativeState::Lost { .. } => Some(s),
            _ => None,
        }
    });
    assert!(
        matches!(&state, NativeState::Lost { reason } if reason.contains(&monitor.to_string())),
        "{state:?}"
    );
    f.adaptor
        .stop(&job)
        .expect("stop of a job whose monitor died");
    wait_until(TIMEOUT, "the orphaned job to end", || {
        matches!(proc_state(job_pid), None | Some('Z')).then_some(())
    });
    // Later jobs run as before (under a new job server, where there was one).
    let next = f.submit(&f.shell("exit 4"));
    assert_eq!(wait_final(&f.adaptor, &next), finished(4));
}

#[test]
fn submit_errors_are_clear() {
    let f = fixture();
    let mut spec = f.shell("true");
    spec.directory = Some(f.path().join("no-such-dir"));
    let r = f.adaptor.submit(&spec, &f.resource);
    assert!(
        matches!(&r, Err(Error::FileOpen(m)) if m.contains("no-such-dir")),
        "{r:?}"
    );

    let script = f.path().join("not-executable.sh");
    fs::write(&script, "#!/bin/sh\nexit 0\n").expect("write");
    let mut spec = f.shell("");
    spec.executable = script.to_string_lossy().into_owned();
    spec.arguments.clear();
    let r = f.adaptor.submit(&spec, &f.resource);
    assert!(
        matches!(&r, Err(Error::PermissionDenied(m)) if m.contains("not-executable.sh")),
        "{r:?}"
    );

    let mut spec = f.shell("true");
    spec.stdin = Some(f.path().join("no-input.txt"));
    let r = f.adaptor.submit(&spec, &f.resource);
    assert!(
        matches!(&r, Err(Error::FileOpen(m)) if m.contains("no-input.txt")),
        "{r:?}"
    );

    // A program that exists but cannot be executed by the kernel: the errno comes back from exec.
    let bogus = f.path().join("bogus-binary");
    fs::write(&bogus, [0x7f, b'E', b'L', b'F', 0, 0, 0, 0]).expect("write");
    fs::set_permissions(&bogus, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let mut spec = f.shell("");
    spec.executable = bogus.to_string_lossy().into_owned();
    spec.arguments.clear();
    let r = f.adaptor.submit(&spec, &f.resource);
    assert!(
        r.is_err(),
        "exec of a broken binary must fail at submit: {r:?}"
    );
}

#[test]
fn reused_job_directory_starts_clean() {
    let f = fixture();
    let spec = f.shell("exit 1");
    let job = f.submit(&spec);
    assert_eq!(wait_final(&f.adaptor, &job), finished(1));
    let mut again = spec.clone();
    again.arguments = vec!["-c".into(), "sleep 0.3; exit 2".into()];
    let job = f.submit(&again);
    assert_eq!(
        poll_one(&f.adaptor, &job),
        NativeState::Running,
        "an old exit file must not leak into a new run"
    );
    assert_eq!(wait_final(&f.adaptor, &job), finished(2));
}

#[test]
fn named_resources_use_their_work_area() {
    let area = tempfile::tempdir().expect("temporary directory");
    let adaptor = LocalAdaptor::new(vec![
        LocalResourceConfig {
            name: "low".into(),
            work_dir: None,
            priority: 0,
        },
        LocalResourceConfig {
            name: "site-a".into(),
            work_dir: Some(area.path().to_path_buf()),
            priority: 5,
        },
    ]);
    let resources = adaptor
        .resources(&Requirements::default())
        .expect("resources");
    let names: Vec<&str> = resources.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["site-a", "low"], "higher priority first");
    let site = &resources[0];
    assert_eq!(site.contact, "local:site-a");
    assert_eq!(site.work_dir.as_deref(), Some(area.path()));
    assert!(site.attributes.contains_key("disk.size"));
    assert_eq!(site.hostname, resources[1].hostname);

    let spec = JobSpec {
        id: "in-area".into(),
        executable: "sh".into(),
        arguments: vec!["-c".into(), "echo here > marker".into()],
        job_dir: area.path().join(".job"),
        ..JobSpec::default()
    };
    let job = adaptor.submit(&spec, site).expect("submit");
    assert_eq!(job.resource, "site-a");
    assert_eq!(wait_final(&adaptor, &job), finished(0));
    assert_eq!(
        fs::read_to_string(area.path().join("marker")).expect("marker in work area"),
        "here\n"
    );
}

/// File descriptors open in a process, from /proc.
fn open_fds(pid: i32) -> Vec<i32> {
    let mut fds: Vec<i32> = fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    fds.sort();
    fds
}

/// Descriptors of `pid` once they equal `expected`, or as last seen when TIMEOUT passed.
fn fds_once_settled(pid: i32, expected: &[i32]) -> Vec<i32> {
    let deadline = std::time::Instant::now() + TIMEOUT;
    loop {
        let fds = open_fds(pid);
        if fds == expected || std::time::Instant::now() > deadline {
            return fds;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn host_descriptors_do_not_leak_into_monitor_or_job() {
    let f = fixture();
    // An inheritable descriptor of the host program (no CLOEXEC), as C code often has.
    let mut pipe = [0i32; 2];
    // SAFETY: pipe writes two fds into the array; both are closed below.
    assert_eq!(unsafe { libc::pipe(pipe.as_mut_ptr()) }, 0);
    let host_pipe = fs::read_link(format!("/proc/self/fd/{}", pipe[0])).expect("the pipe's name");
    let job = f.submit(&f.shell("exec sleep 600"));
    // SAFETY: closes the two fds created above, which nothing else uses.
    unsafe {
        libc::close(pipe[0]);
        libc::close(pipe[1]);
    }
    let (monitor, job_pid) = pids_of(&job);
    let _cleanup = KillOnDrop(vec![job_pid]);
    // Checked once settled: exec renames the process before it closes CLOEXEC descriptors, and
    // the monitor drops the job's stdio and the report pipe only after reporting the start.
    assert_eq!(
        fds_once_settled(job_pid, &[0, 1, 2]),
        [0, 1, 2],
        "the job holds exactly its stdio"
    );
    if served(&job) {
        // The server holds its own descriptors and the record log, never the host's pipe nor
        // the job's stdio.
        let held: Vec<PathBuf> = open_fds(monitor)
            .into_iter()
            .filter_map(|fd| fs::read_link(format!("/proc/{monitor}/fd/{fd}")).ok())
            .collect();
        assert!(held.contains(&record_log(&job)), "{held:?}");
        assert!(!held.iter().any(|p| p == &host_pipe), "the host's pipe leaked into the server: {held:?}");
    } else {
        // The monitor keeps only the record log, where it appends the exit line.
        assert_eq!(
            fds_once_settled(monitor, &[4]),
            [4],
            "the monitor holds one descriptor"
        );
        let record = std::fs::read_link(format!("/proc/{monitor}/fd/4")).expect("the monitor's fd 4");
        assert_eq!(record, record_log(&job), "fd 4 is the record log");
    }
    f.adaptor.stop(&job).expect("stop");
    assert_eq!(
        poll_one(&f.adaptor, &job),
        NativeState::Finished {
            status: ExitStatus::Signaled(libc::SIGTERM),
            stopped_by_request: true
        }
    );
}

#[test]
fn suspended_job_resumes_and_can_be_stopped() {
    let f = fixture();
    let job = f.submit(&f.shell("exec sleep 600"));
    let (_, job_pid) = pids_of(&job);
    let _cleanup = KillOnDrop(vec![job_pid]);
    f.adaptor
        .signal(&job, gat_adaptor::Signal::Stop)
        .expect("SIGSTOP");
    wait_until(TIMEOUT, "the job to be suspended", || {
        (proc_state(job_pid) == Some('T')).then_some(())
    });
    assert_eq!(
        poll_one(&f.adaptor, &job),
        NativeState::Running,
        "a suspended job is still running"
    );
    f.adaptor
        .signal(&job, gat_adaptor::Signal::Cont)
        .expect("SIGCONT");
    wait_until(TIMEOUT, "the job to resume", || {
        (proc_state(job_pid) == Some('S')).then_some(())
    });
    f.adaptor
        .signal(&job, gat_adaptor::Signal::Stop)
        .expect("SIGSTOP again");
    wait_until(TIMEOUT, "the job to be suspended again", || {
        (proc_state(job_pid) == Some('T')).then_some(())
    });
    // stop() must end a suspended job without waiting for the KILL deadline.
    let started = std::time::Instant::now();
    f.adaptor.stop(&job).expect("stop");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "stop of a suspended job waited for the grace period"
    );
    assert_eq!(
        poll_one(&f.adaptor, &job),
        NativeState::Finished {
            status: ExitStatus::Signaled(libc::SIGTERM),
            stopped_by_request: true
        }
    );
}

#[test]
fn a_program_the_kernel_refuses_fails_the_submit_and_leaves_no_record() {
    use std::os::unix::fs::PermissionsExt;
    let f = fixture();
    // Executable bit, but neither ELF nor `#!`: execve itself fails (ENOEXEC), after the fork.
    let program = f.path().join("not-a-program");
    fs::write(&program, "just text\n").expect("write");
    fs::set_permissions(&program, fs::Permissions::from_mode(0o755)).expect("chmod");
    let mut spec = f.shell("");
    spec.executable = program.display().to_string();
    spec.arguments.clear();
    let err = f
        .adaptor
        .submit(&spec, &f.resource)
        .expect_err("exec must fail");
    assert!(err.to_string().contains("not-a-program"), "{err}");
    let log = spec.job_dir.parent().unwrap().join("local-jobs.log");
    let key = spec.job_dir.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        !fs::read_to_string(log).unwrap_or_default().lines().any(|l| l.contains(&format!(" {key} "))),
        "a failed submit records no start"
    );
}
