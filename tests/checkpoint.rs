//! Checkpoint, restart, migration and cloning on the real local adaptor, between two named
//! local resources with their own work areas (so the state really moves), with the instrumented
//! sample jobs of examples/. Each test proves the job runs exactly once and its count never goes
//! back past its last checkpoint.

mod support;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gat::engine::config::Config;
use gat::engine::description::JobDescription;
use gat::engine::{Engine, Error, HardwareResource, Job, JobState, ObjectValue, Preferences, SoftwareDescription, Table, Value};
use gat_adaptor_local::LocalAdaptor;

struct Bed {
    _dir: tempfile::TempDir,
    root: PathBuf,
    engine: Arc<Engine>,
}

/// Whatever a test leaves running (a failed assertion skips its stops) is ended with the bed:
/// every process working in one of its work areas.
impl Drop for Bed {
    fn drop(&mut self) {
        let Ok(entries) = std::fs::read_dir("/proc") else { return };
        for e in entries.flatten() {
            let Ok(cwd) = std::fs::read_link(e.path().join("cwd")) else { continue };
            if cwd.starts_with(&self.root) {
                let pid = e.file_name().to_string_lossy().into_owned();
                let _ = std::process::Command::new("kill").args(["-KILL", &pid]).status();
            }
        }
    }
}

fn bed() -> Bed {
    bed_with("")
}

/// Two local resources, nodeA and nodeB, each with its own work area; `extra` adds config.
fn bed_with(extra: &str) -> Bed {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().to_path_buf();
    let config = format!(
        "[resources.nodeA]\ncontact = \"local:\"\nwork_dir = \"{0}/nodeA\"\npriority = 2\n\
         [resources.nodeB]\ncontact = \"local:\"\nwork_dir = \"{0}/nodeB\"\npriority = 1\n{extra}",
        root.display()
    );
    for node in ["nodeA", "nodeB"] {
        std::fs::create_dir_all(root.join(node)).unwrap();
    }
    let config = Config::parse(&config).expect("config");
    let engine = Engine::open_with_config(&root.join("state"), vec![Arc::new(local_adaptor())], config)
        .expect("engine");
    Bed { _dir: dir, root, engine }
}

/// The local adaptor as installed programs get it: with the job server (the `gat-job-monitor`
/// program cargo built beside this test). Without it, jobs get monitors of their own, and this
/// says so.
fn local_adaptor() -> LocalAdaptor {
    match support::job_monitor_program() {
        Some(p) => LocalAdaptor::default().with_monitor_program(Some(p)),
        None => {
            eprintln!("gat-job-monitor is not built: these jobs run under monitors, not the job server");
            LocalAdaptor::default()
        }
    }
}

fn example(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples").join(name).display().to_string()
}

fn description(location: &str, args: &[&str], extra: &[(&str, Value)]) -> JobDescription {
    let mut t = Table::new();
    t.add("location", Value::String(location.into())).unwrap();
    let args = args.iter().map(|s| s.to_string()).collect();
    t.add("arguments", Value::Object(ObjectValue::ListString(args))).unwrap();
    t.add("checkpointable", Value::Int16(1)).unwrap();
    for (k, v) in extra {
        t.add(k, v.clone()).unwrap();
    }
    let sw = SoftwareDescription::from_table(&t).expect("software description");
    JobDescription { software: Arc::new(sw), resource: None }
}

impl Bed {
    fn resource(&self, name: &str) -> Arc<HardwareResource> {
        Arc::new(self.engine.hardware_resource(name).expect("resource"))
    }

    /// Submit on `node`, the job's output going to a file of its own in the bed (a migrated
    /// successor, having the same description, appends to the same file).
    fn submit_on(&self, jd: JobDescription, node: &str) -> Job {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let mut table = jd.software.table.clone();
        let out = self.root.join(format!("out-{n}.txt"));
        table.add("stdout", Value::String(out.display().to_string())).unwrap();
        let software = Arc::new(SoftwareDescription::from_table(&table).unwrap());
        let jd = JobDescription {
            software,
            resource: Some(gat::engine::ResourceChoice::Resource(self.resource(node))),
        };
        self.engine.submit(&jd, &Preferences::new()).expect("submit")
    }

    /// The output of the job (and of its predecessors and successors: they share the file).
    fn stdout(&self, job: &Job) -> String {
        let path = job.description().software.stdout.clone().expect("submit_on sets stdout");
        std::fs::read_to_string(path).unwrap_or_default()
    }
}

fn wait_until(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn info_str(job: &Job, key: &str) -> String {
    match job.info().get(key) {
        Ok(Value::String(s)) => s.clone(),
        other => panic!("info {key} of {}: {other:?}", job.id()),
    }
}

fn info_i32(job: &Job, key: &str) -> i32 {
    job.info().get_int::<i32>(key, "int32").unwrap_or_else(|e| panic!("info {key}: {e}"))
}

/// The numbers a counter printed after `start` and `done`.
fn counter_marks(out: &str, word: &str) -> Vec<u64> {
    out.lines()
        .filter_map(|l| l.strip_prefix(word).and_then(|r| r.trim().split(' ').next()).and_then(|n| n.parse().ok()))
        .collect()
}

/// Count of jobs currently running `pattern` in their command line (exactly-once check): each
/// job is a process-group leader; a forked child about to exec `sleep` shows the same command
/// line for a moment and is not counted.
fn processes_running(bed: &Bed, pattern: &str) -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().chars().all(|c| c.is_ascii_digit()))
        .filter(|e| {
            let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
            let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
            let zombie = fields.first().is_none_or(|s| *s == "Z");
            let leader = fields.get(2).is_some_and(|pgid| *pgid == e.file_name().to_string_lossy());
            // Only this bed's jobs: they work in its work areas.
            let ours = std::fs::read_link(e.path().join("cwd")).is_ok_and(|cwd| cwd.starts_with(&bed.root));
            let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            !zombie && leader && ours && String::from_utf8_lossy(&cmd).replace('\0', " ").contains(pattern)
        })
        .count()
}

#[test]
fn checkpoint_keeps_the_job_running_and_records_a_generation() {
    let bed = bed();
    let job = bed.submit_on(description(&example("counter.sh"), &["100000"], &[]), "nodeA");
    assert_eq!(info_i32(&job, "checkpointable"), 1);
    job.checkpoint().expect("checkpoint");
    assert_eq!(job.state(), JobState::Running);
    assert_eq!(info_i32(&job, "checkpoint.generation"), 1);
    assert!(job.info().contains("checkpoint.time"));
    // The job counts every 10 ms and a submit is quicker than that: checkpoint again until a
    // generation holds a count the job reached (bounded), each one recorded.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut generation = 1;
    let saved = loop {
        job.checkpoint().expect("another checkpoint");
        generation += 1;
        assert_eq!(info_i32(&job, "checkpoint.generation"), generation);
        let store = bed.root.join("state/jobs").join(job.id()).join(format!("ckpt/{generation:08}/files/.gat/restart"));
        let saved: u64 = std::fs::read_to_string(&store).unwrap().trim().parse().unwrap();
        if saved > 0 || Instant::now() > deadline {
            break saved;
        }
    };
    assert!(saved > 0, "the saved count is still {saved} after {generation} checkpoints");
    job.stop().unwrap();
}

#[test]
fn migrate_with_null_moves_state_to_the_other_resource_and_the_count_goes_on() {
    let bed = bed();
    let job = bed.submit_on(description(&example("counter.sh"), &["150"], &[]), "nodeA");
    std::thread::sleep(Duration::from_millis(400));
    let moved = job.migrate(None).expect("migrate");
    assert_eq!(job.state(), JobState::Stopped);
    assert_eq!(info_str(&job, "stopreason"), "migrated");
    assert_eq!(info_str(&job, "migrated.to"), moved.id());
    assert_eq!(info_str(&moved, "migrated.from"), job.id());
    assert_eq!(info_str(&moved, "resource"), "nodeB", "NULL prefers another resource");
    assert!(info_str(&moved, "selection.reason").contains("best other resource"));
    // The state really moved: the successor's restart file is in nodeB's work area.
    assert!(bed.root.join("nodeB").join(moved.id()).join(".gat/restart").exists());
    wait_until("the migrated counter to finish", Duration::from_secs(30), || moved.state() == JobState::Stopped);
    assert_eq!(info_str(&moved, "stopreason"), "exited");
    let starts = counter_marks(&bed.stdout(&moved), "start");
    assert_eq!(starts.len(), 2, "one start each for the original and its successor");
    let resumed = vec![starts[1]];
    let generation_count: u64 = std::fs::read_to_string(
        bed.root.join("state/jobs").join(job.id()).join("ckpt/00000001/files/.gat/restart"),
    )
    .unwrap()
    .trim()
    .parse()
    .unwrap();
    assert_eq!(resumed, vec![generation_count], "the successor resumes exactly from the checkpoint");
    assert!(generation_count > 0);
    // Finished once: the original ended for good and did not finish its count on its own.
    assert_eq!(counter_marks(&bed.stdout(&moved), "done"), vec![150]);
}

#[test]
fn explicit_target_is_honoured_even_when_it_is_the_jobs_own_resource() {
    let bed = bed();
    let job = bed.submit_on(description(&example("counter.sh"), &["100000"], &[]), "nodeA");
    let moved = job.migrate(Some(bed.resource("nodeA"))).expect("migrate onto itself");
    assert_eq!(info_str(&moved, "resource"), "nodeA");
    assert_eq!(moved.state(), JobState::Running);
    assert_eq!(job.state(), JobState::Stopped);
    moved.stop().unwrap();
}

#[test]
fn clone_starts_a_copy_and_the_original_runs_on() {
    let bed = bed();
    let job = bed.submit_on(description(&example("counter.sh"), &["100003"], &[]), "nodeA");
    let copy = job.clone_job(None).expect("clone");
    assert_eq!(job.state(), JobState::Running);
    assert_eq!(copy.state(), JobState::Running);
    assert_eq!(info_str(&copy, "resource"), "nodeB");
    assert_eq!(processes_running(&bed, &format!("{} 100003", example("counter.sh"))), 2, "original and clone both run");
    job.stop().unwrap();
    copy.stop().unwrap();
}

#[test]
fn gnu_queue_program_exits_for_its_checkpoint_and_is_restarted_in_place_with_its_flag() {
    let bed = bed();
    let extra = [
        ("restartflag", Value::String("--restart".into())),
        ("restartfile", Value::String("counter.state".into())),
    ];
    let job = bed.submit_on(description(&example("counter_gnuqueue.sh"), &["80"], &extra), "nodeA");
    std::thread::sleep(Duration::from_millis(300));
    let native_before = info_str(&job, "native.id");
    job.checkpoint().expect("checkpoint");
    assert_eq!(job.state(), JobState::Running, "restarted in place");
    assert_ne!(info_str(&job, "native.id"), native_before, "a fresh process");
    wait_until("the restarted program to finish", Duration::from_secs(30), || job.state() == JobState::Stopped);
    assert_eq!(info_str(&job, "stopreason"), "exited");
    let out = bed.stdout(&job);
    let starts = counter_marks(&out, "start");
    assert_eq!(starts.len(), 2, "{out}");
    assert_eq!(starts[0], 0);
    assert!(starts[1] > 0, "resumed from its restart file: {out}");
    assert_eq!(counter_marks(&out, "done"), vec![80]);
}

#[test]
fn a_job_that_ignores_the_signal_times_out_and_runs_on_untouched() {
    let bed = bed();
    let extra = [("checkpoint.timeout", Value::Double(1.0))];
    // No handler at all: the request is never sent (it would kill the program).
    let job = bed.submit_on(description("/bin/sleep", &["30"], &extra), "nodeA");
    let started = Instant::now();
    assert!(matches!(job.checkpoint(), Err(Error::Timeout(m)) if m.contains("no handler")));
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(job.state(), JobState::Running);
    // A handler that does nothing: the request is sent, no state comes.
    let trap = "trap 'echo ignored' USR2; while :; do sleep 0.05 & wait $!; done";
    let job2 = bed.submit_on(description("/bin/sh", &["-c", trap], &extra), "nodeA");
    assert!(matches!(job2.checkpoint(), Err(Error::Timeout(m)) if m.contains("no state")));
    assert_eq!(job2.state(), JobState::Running);
    assert_eq!(info_i32(&job2, "checkpoint.generation"), 0);
    // Not migrated either: nothing to move, nothing rolled back.
    assert!(matches!(job2.migrate(None), Err(Error::Timeout(_))));
    assert_eq!(job2.state(), JobState::Running);
    job.stop().unwrap();
    job2.stop().unwrap();
}

#[test]
fn corrupt_newest_generation_falls_back_and_all_corrupt_is_reported() {
    let bed = bed();
    let job = bed.submit_on(description(&example("counter.sh"), &["100000"], &[]), "nodeA");
    job.checkpoint().unwrap();
    job.checkpoint().unwrap();
    crash(&bed, &job);
    let ckpt = bed.root.join("state/jobs").join(job.id()).join("ckpt");
    // Truncate generation 2: the lost job restarts from generation 1.
    std::fs::write(ckpt.join("00000002/files/.gat/restart"), b"").unwrap();
    let g1: u64 = std::fs::read_to_string(ckpt.join("00000001/files/.gat/restart")).unwrap().trim().parse().unwrap();
    let moved = job.migrate(None).expect("restart from the older generation");
    assert!(info_str(&moved, "selection.reason").contains("skipped corrupt"), "{}", info_str(&moved, "selection.reason"));
    wait_until("the restart to print its start", Duration::from_secs(10), || counter_marks(&bed.stdout(&moved), "start").len() == 2);
    assert_eq!(counter_marks(&bed.stdout(&moved), "start")[1], g1);
    moved.stop().unwrap();

    let job = bed.submit_on(description(&example("counter.sh"), &["100000"], &[]), "nodeA");
    job.checkpoint().unwrap();
    crash(&bed, &job);
    let ckpt = bed.root.join("state/jobs").join(job.id()).join("ckpt");
    // Same size, other bytes: only the hash can tell.
    let good = std::fs::read(ckpt.join("00000001/files/.gat/restart")).unwrap();
    std::fs::write(ckpt.join("00000001/files/.gat/restart"), vec![b'7'; good.len()]).unwrap();
    assert!(matches!(job.migrate(None), Err(Error::CheckpointCorrupt(_))));
}

/// (monitor or job server pid, job pid) of the last run of job `id` in the local adaptor's
/// record log.
fn recorded_pids(jobs_area: &std::path::Path, id: &str) -> (i32, i32) {
    let log = std::fs::read_to_string(jobs_area.join("local-jobs.log")).unwrap();
    let start = log
        .lines()
        .rfind(|l| l.starts_with(&format!("S {id} ")) || l.starts_with(&format!("J {id} ")))
        .expect("a recorded start");
    let mut fields = start.split(' ').skip(2).map(|f| f.parse::<i32>().unwrap());
    (fields.next().unwrap(), fields.next().unwrap())
}

/// Fail the job the way a crashed host does: its monitor (or job server) and all its processes
/// die at once (SIGKILL), so no exit status is ever recorded. The job is then Stopped, `lost`.
fn crash(bed: &Bed, job: &Job) {
    let (monitor, job_pid) = recorded_pids(&bed.engine.state_dir().join("jobs"), job.id());
    for target in [format!("{monitor}"), format!("-{job_pid}")] {
        std::process::Command::new("kill").args(["-KILL", "--", &target]).status().unwrap();
    }
    wait_until("the crash to be noticed", Duration::from_secs(15), || job.state() == JobState::Stopped);
    assert_eq!(info_str(job, "stopreason"), "lost");
}

#[test]
fn failed_target_start_rolls_back_and_the_original_runs_on() {
    // nodeC's work area cannot be created (its parent is a file): placing the state fails.
    let dir_probe = tempfile::tempdir().unwrap();
    let blocker = dir_probe.path().join("file");
    std::fs::write(&blocker, b"").unwrap();
    let bed = bed_with(&format!(
        "[resources.nodeC]\ncontact = \"local:\"\nwork_dir = \"{}/sub\"\n",
        blocker.display()
    ));
    let job = bed.submit_on(description(&example("counter.sh"), &["100004"], &[]), "nodeA");
    std::thread::sleep(Duration::from_millis(200));
    let err = job.migrate(Some(bed.resource("nodeC"))).err().expect("must fail");
    assert!(matches!(&err, Error::RolledBack(m) if m.contains("runs on")), "{err}");
    assert_eq!(job.state(), JobState::Running);
    // Thawed: it keeps counting (its next checkpoint is further on).
    let ckpt = bed.root.join("state/jobs").join(job.id()).join("ckpt");
    let first: u64 = std::fs::read_to_string(ckpt.join("00000001/files/.gat/restart")).unwrap().trim().parse().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    job.checkpoint().unwrap();
    let second: u64 = std::fs::read_to_string(ckpt.join("00000002/files/.gat/restart")).unwrap().trim().parse().unwrap();
    assert!(second > first, "the original runs on after the rollback ({first} then {second})");
    assert_eq!(processes_running(&bed, &format!("{} 100004", example("counter.sh"))), 1, "exactly once");
    job.stop().unwrap();
}

/// The part a child process plays in the kill tests: submit, then migrate until the injected
/// pause (GAT_TEST_FAULT), where the parent kills it with SIGKILL. A no-op in a normal run.
#[test]
fn child_migrator() {
    let Ok(root) = std::env::var("GAT_TEST_CHILD_ROOT") else { return };
    let root = PathBuf::from(root);
    let config = format!(
        "[resources.nodeA]\ncontact = \"local:\"\nwork_dir = \"{0}/nodeA\"\npriority = 2\n\
         [resources.nodeB]\ncontact = \"local:\"\nwork_dir = \"{0}/nodeB\"\npriority = 1\n",
        root.display()
    );
    let engine = Engine::open_with_config(
        &root.join("state"),
        vec![Arc::new(local_adaptor())],
        Config::parse(&config).unwrap(),
    )
    .unwrap();
    let bed = Bed { _dir: tempfile::tempdir().unwrap(), root: root.clone(), engine };
    let job = bed.submit_on(description(&example("counter.sh"), &[&std::env::var("GAT_TEST_CHILD_TARGET").unwrap()], &[]), "nodeA");
    std::fs::write(root.join("job-id"), job.id()).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let _ = job.migrate(None);
    panic!("the fault pause should have held the migration until the parent killed this process");
}

/// Run `child_migrator` in a child process paused at `phase`, kill it with SIGKILL there, and
/// open the journal again: returns the bed (whose engine has recovered), the job id, and the
/// state of the original's process between the kill and the recovery.
fn killed_mid_migration(phase: &str, target: &str) -> (Bed, String, char) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    for node in ["nodeA", "nodeB"] {
        std::fs::create_dir_all(root.join(node)).unwrap();
    }
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_migrator", "--nocapture", "--test-threads=1"])
        .env("GAT_TEST_CHILD_ROOT", &root)
        .env("GAT_TEST_CHILD_TARGET", target)
        .env("GAT_TEST_FAULT", format!("{phase}:pause"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let reached = root.join("state/fault-reached");
    wait_until(&format!("the child to reach phase {phase}"), Duration::from_secs(20), || reached.exists());
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap(); // reaped: its pid is gone, as after a real crash
    let id = std::fs::read_to_string(root.join("job-id")).unwrap();
    let (_, job_pid) = recorded_pids(&root.join("state/jobs"), &id);
    let before = process_state(&job_pid.to_string());
    let config = format!(
        "[resources.nodeA]\ncontact = \"local:\"\nwork_dir = \"{0}/nodeA\"\npriority = 2\n\
         [resources.nodeB]\ncontact = \"local:\"\nwork_dir = \"{0}/nodeB\"\npriority = 1\n",
        root.display()
    );
    // Opening the journal again finishes or rolls back what the dead process left.
    let engine = Engine::open_with_config(&root.join("state"), vec![Arc::new(local_adaptor())], Config::parse(&config).unwrap())
        .unwrap();
    (Bed { _dir: dir, root, engine }, id, before)
}

fn process_state(pid: &str) -> char {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.rsplit(')').next().and_then(|r| r.trim_start().chars().next()).unwrap_or('?')
}

#[test]
fn killed_while_the_original_is_frozen_rolls_back_and_it_runs_on() {
    let (bed, id, before) = killed_mid_migration("select", "100005");
    assert_eq!(before, 'T', "the dead process left the original frozen");
    let job = bed.engine.attach(&id).unwrap();
    assert_eq!(job.state(), JobState::Running);
    let pid = info_str(&job, "native.id");
    assert_ne!(process_state(&pid), 'T', "the original was thawed");
    assert_eq!(processes_running(&bed, &format!("{} 100005", example("counter.sh"))), 1, "exactly once");
    assert!(!job.info().contains("migrated.to"));
    job.stop().unwrap();
}

#[test]
fn killed_after_the_successor_started_commits_to_it() {
    let (bed, id, before) = killed_mid_migration("confirm", "100006");
    assert_eq!(before, 'T', "the dead process left the original frozen");
    let job = bed.engine.attach(&id).unwrap();
    assert_eq!(job.state(), JobState::Stopped);
    assert_eq!(info_str(&job, "stopreason"), "migrated");
    let successor = bed.engine.attach(&info_str(&job, "migrated.to")).unwrap();
    assert_eq!(successor.state(), JobState::Running);
    assert_eq!(info_str(&successor, "migrated.from"), id);
    wait_until("the original's processes to be gone", Duration::from_secs(10), || {
        processes_running(&bed, &format!("{} 100006", example("counter.sh"))) == 1
    });
    successor.stop().unwrap();
}

#[test]
fn an_answer_without_state_is_reported_and_the_job_runs_on() {
    let bed = bed();
    // Claims to be done but never writes its state.
    let liar = "trap ': > \"$GAT_CHECKPOINT_DONE\"' USR2; while :; do sleep 0.05 & wait $!; done";
    let extra = [("checkpoint.timeout", Value::Double(5.0))];
    let job = bed.submit_on(description("/bin/sh", &["-c", liar], &extra), "nodeA");
    assert!(matches!(job.checkpoint(), Err(Error::CheckpointCorrupt(m)) if m.contains("cannot be read")));
    assert_eq!(job.state(), JobState::Running);
    assert_eq!(info_i32(&job, "checkpoint.generation"), 0);
    // Nothing to restart from: a migration changes nothing.
    assert!(matches!(job.migrate(None), Err(Error::CheckpointCorrupt(_))));
    assert_eq!(job.state(), JobState::Running);
    assert_ne!(process_state(&info_str(&job, "native.id")), 'T', "frozen for the migration, thawed after");
    job.stop().unwrap();
}
