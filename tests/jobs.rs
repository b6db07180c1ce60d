//! Jobs through the C API on the real local adaptor: submit, watch, stop, re-attach (also from
//! another process), wrong-state calls, resource finding.
//!
//! All tests of this binary share one temporary state directory and configuration, set before
//! the first context (the engine is one per state directory per process). The cross-process test
//! runs this same binary as child processes with that state directory.

mod support;

use std::ffi::{c_char, CStr, CString};
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use gat::ffi::broker::*;
use gat::ffi::context::*;
use gat::ffi::description::*;
use gat::ffi::errors::*;
use gat::ffi::job::*;
use gat::ffi::list::*;
use gat::ffi::object::*;
use gat::ffi::resource::*;
use gat::ffi::result::*;
use gat::ffi::string::*;
use gat::ffi::table::*;
use gat::ffi::types::*;

const CHILD_ROLE: &str = "GAT_JOBS_TEST_ROLE";

struct Setup {
    state_dir: PathBuf,
    config: PathBuf,
}

/// The shared state directory and configuration, under cargo's per-target temporary directory
/// (a static is never dropped, so a TempDir would never be removed); set in the environment once,
/// before any context. Children inherit them through the environment.
fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let run = match std::env::var_os("GAT_JOBS_TEST_RUN") {
            Some(dir) => PathBuf::from(dir),
            None => fresh_run_dir(),
        };
        let state_dir = run.join("state");
        let config = run.join("resources.toml");
        if !config.exists() {
            let text = "[resources.bigbox]\ncontact = \"local:\"\npriority = 5\nloadsched = 100000\n\
                        attributes = { \"site.name\" = \"testsite\" }\n";
            std::fs::write(&config, text).expect("config");
        }
        std::env::set_var("GAT_JOBS_TEST_RUN", &run);
        std::env::set_var("GAT_STATE_DIR", &state_dir);
        std::env::set_var("GAT_CONFIG", &config);
        // Jobs run under the job server, as in an installed program (children inherit this).
        match support::job_monitor_program() {
            Some(program) => std::env::set_var("GAT_JOB_MONITOR", program),
            None => eprintln!("gat-job-monitor is not built: these jobs run under monitors, not the job server"),
        }
        Setup { state_dir, config }
    })
}

/// A new directory for this run; runs older than an hour are removed.
fn fresh_run_dir() -> PathBuf {
    let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("jobs-runs");
    std::fs::create_dir_all(&base).expect("runs dir");
    for old in std::fs::read_dir(&base).into_iter().flatten().flatten() {
        let age = old.metadata().and_then(|m| m.modified()).ok().and_then(|t| t.elapsed().ok());
        if age.is_some_and(|a| a > Duration::from_secs(3600)) {
            let _ = std::fs::remove_dir_all(old.path());
        }
    }
    tempfile::Builder::new().prefix("run-").tempdir_in(&base).expect("run dir").keep()
}

fn c(s: &str) -> CString {
    CString::new(s).expect("no NUL")
}

fn last_error() -> String {
    let mut buf = vec![0u8; 4096];
    let n = unsafe { GAT_GetLastErrorMessage(buf.as_mut_ptr().cast(), buf.len()) };
    buf.truncate(n.min(4095));
    String::from_utf8_lossy(&buf).into_owned()
}

fn text(p: *const c_char) -> String {
    assert!(!p.is_null(), "NULL string: {}", last_error());
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// A context and broker, released on drop.
struct Session {
    ctx: GATContext,
    broker: GATResourceBroker,
}

impl Session {
    fn new() -> Session {
        setup();
        let ctx = GATContext_Create();
        assert!(!ctx.is_null());
        let broker = GATResourceBroker_Create(ctx, std::ptr::null(), std::ptr::null_mut());
        assert!(!broker.is_null(), "broker: {}", last_error());
        Session { ctx, broker }
    }

    /// Submit `program args...` with no resource given (local: by default).
    fn submit(&self, program: &str, args: &[&str]) -> Result<GATJob, (GATResult, String)> {
        self.submit_with(program, args, |_| {})
    }

    /// Like `submit`, with more software description keys added by `more`.
    fn submit_with(&self, program: &str, args: &[&str], more: impl FnOnce(GATTable)) -> Result<GATJob, (GATResult, String)> {
        unsafe {
            let table = GATTable_Create();
            more(table);
            assert_eq!(GATTable_Add_String(table, c("location").as_ptr(), c(program).as_ptr()), GAT_SUCCESS);
            let list = GATList_String_Create();
            for a in args {
                assert_eq!(GATList_String_Insert(list, GATList_String_End(list), c(a).as_ptr()), GAT_SUCCESS);
            }
            let rc = GATTable_Add_GATObject(table, c("arguments").as_ptr(), GATList_String_ToGATObject_const(list));
            assert_eq!(rc, GAT_SUCCESS);
            let sd = GATSoftwareDescription_Create(table);
            assert!(!sd.is_null(), "{}", last_error());
            let jd = GATJobDescription_Create(self.ctx, sd, std::ptr::null());
            assert!(!jd.is_null(), "{}", last_error());
            let mut job: GATJob = std::ptr::null_mut();
            let rc = GATResourceBroker_SubmitJob(self.broker, jd, &mut job);
            let out = if rc == GAT_SUCCESS { Ok(job) } else { Err((rc, last_error())) };
            GATJobDescription_Destroy(&mut { jd });
            GATSoftwareDescription_Destroy(&mut { sd });
            GATList_String_Destroy(&mut { list });
            GATTable_Destroy(&mut { table });
            out
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        unsafe {
            GATResourceBroker_Destroy(&mut self.broker);
            GATContext_Destroy(&mut self.ctx);
        }
    }
}

fn state(job: GATJob) -> GATJobState {
    let mut s = GATJobState::GATJobState_Unknown;
    assert_eq!(unsafe { GATJob_GetState(job, &mut s) }, GAT_SUCCESS, "{}", last_error());
    s
}

fn wait_state(job: GATJob, wanted: GATJobState, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let now = state(job);
        if now == wanted {
            return;
        }
        assert!(Instant::now() < deadline, "job still {now:?}, wanted {wanted:?}: {}", info_text(job, "state.reason"));
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn info(job: GATJob) -> GATTable_const {
    let mut t: GATTable_const = std::ptr::null();
    assert_eq!(unsafe { GATJob_GetInfo(job, &mut t) }, GAT_SUCCESS, "{}", last_error());
    t
}

fn info_text(job: GATJob, key: &str) -> String {
    let mut v: *const c_char = std::ptr::null();
    match unsafe { GATTable_Get_String(info(job), c(key).as_ptr(), &mut v) } {
        GAT_SUCCESS => text(v),
        rc => format!("<no {key}: {rc:#x}>"),
    }
}

fn info_int(job: GATJob, key: &str) -> Result<i32, GATResult> {
    let mut v = 0;
    match unsafe { GATTable_Get_int32(info(job), c(key).as_ptr(), &mut v) } {
        GAT_SUCCESS => Ok(v),
        rc => Err(rc),
    }
}

fn job_id(job: GATJob) -> String {
    let mut id: GATJobID_const = std::ptr::null();
    assert_eq!(unsafe { GATJob_GetJobID(job, &mut id) }, GAT_SUCCESS);
    text(GATString_GetBuffer(id))
}

fn destroy(mut job: GATJob) {
    unsafe { GATJob_Destroy(&mut job) };
    assert!(job.is_null());
}

const FINISH: Duration = Duration::from_secs(20);

#[test]
fn true_exits_zero_and_re_attaches_by_id() {
    let s = Session::new();
    let job = s.submit("/bin/true", &[]).expect("submit");
    wait_state(job, GATJobState::GATJobState_Stopped, FINISH);
    assert_eq!(info_int(job, "exitcode"), Ok(0));
    assert_eq!(info_text(job, "stopreason"), "exited");
    assert_eq!(info_text(job, "adaptor"), "local");
    assert_eq!(info_text(job, "resource"), "local:");
    assert!(info_text(job, "selection.reason").contains("default"));
    let id = job_id(job);
    assert!(id.starts_with("gat-"), "{id}");
    let mut jd: GATJobDescription_const = std::ptr::null();
    assert_eq!(unsafe { GATJob_GetJobDescription(job, &mut jd) }, GAT_SUCCESS);
    assert!(!jd.is_null());

    let again = unsafe { GATJob_Create(s.ctx, std::ptr::null(), c(&id).as_ptr()) };
    assert!(!again.is_null(), "{}", last_error());
    assert_eq!(state(again), GATJobState::GATJobState_Stopped);
    assert_eq!(info_int(again, "exitcode"), Ok(0));
    assert_eq!(job_id(again), id);
    destroy(again);
    destroy(job);
}

#[test]
fn exit_code_three_is_reported() {
    let s = Session::new();
    let job = s.submit("/bin/sh", &["-c", "exit 3"]).expect("submit");
    wait_state(job, GATJobState::GATJobState_Stopped, FINISH);
    assert_eq!(info_int(job, "exitcode"), Ok(3));
    assert_eq!(info_text(job, "stopreason"), "exited");
    // Info tables are fresh per call and typed: the start and stop times are GATTimes.
    let mut start: GATObject_const = std::ptr::null();
    assert_eq!(unsafe { GATTable_Get_GATObject(info(job), c("stoptime").as_ptr(), &mut start) }, GAT_SUCCESS);
    assert_eq!(GATObject_GetType(start), GATType::GATType_GATTime);
    // A new GetInfo replaces the previous table; destroying the job ends its id and info too.
    let first = info(job);
    let second = info(job);
    let mut v: *const c_char = std::ptr::null();
    assert_eq!(unsafe { GATTable_Get_String(first, c("state").as_ptr(), &mut v) }, GAT_INVALID_HANDLE);
    assert_eq!(unsafe { GATTable_Get_String(second, c("state").as_ptr(), &mut v) }, GAT_SUCCESS);
    let mut id: GATJobID_const = std::ptr::null();
    assert_eq!(unsafe { GATJob_GetJobID(job, &mut id) }, GAT_SUCCESS);
    destroy(job);
    assert!(GATString_GetBuffer(id).is_null());
    assert_eq!(unsafe { GATTable_Get_String(second, c("state").as_ptr(), &mut v) }, GAT_INVALID_HANDLE);
}

#[test]
fn threads_share_a_job_handle() {
    let s = Session::new();
    let job = s.submit("/bin/sleep", &["60"]).expect("submit");
    let addr = job as usize;
    let readers: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(move || {
                let job = addr as GATJob;
                let deadline = Instant::now() + FINISH;
                while state(job) != GATJobState::GATJobState_Stopped {
                    assert!(Instant::now() < deadline, "never saw Stopped");
                    let mut t: GATTable_const = std::ptr::null();
                    assert_eq!(unsafe { GATJob_GetInfo(job, &mut t) }, GAT_SUCCESS);
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(GATJob_Stop(job), GAT_SUCCESS, "{}", last_error());
    for r in readers {
        r.join().expect("reader thread");
    }
    assert_eq!(info_text(job, "stopreason"), "stopped");
    destroy(job);
}

#[test]
fn stop_ends_a_running_sleep_and_wrong_state_calls_are_refused() {
    let s = Session::new();
    let job = s.submit("/bin/sleep", &["60"]).expect("submit");
    assert_eq!(state(job), GATJobState::GATJobState_Running);
    assert_eq!(GATJob_UnSchedule(job), GAT_INVALID_STATE);
    assert!(last_error().contains("never Scheduled"), "{}", last_error());
    // A plain sleep was not described as checkpointable: nothing to take, nothing moves.
    assert_eq!(GATJob_Checkpoint(job), GAT_NOT_CHECKPOINTABLE);
    assert!(last_error().contains("not checkpointable"), "{}", last_error());
    let mut moved: GATJob = std::ptr::null_mut();
    assert_eq!(unsafe { GATJob_Migrate(job, std::ptr::null(), &mut moved) }, GAT_NOT_CHECKPOINTABLE);
    assert_eq!(unsafe { GATJob_CloneJob(job, std::ptr::null(), &mut moved) }, GAT_NOT_CHECKPOINTABLE);
    assert!(moved.is_null());

    assert_eq!(GATJob_Stop(job), GAT_SUCCESS, "{}", last_error());
    assert_eq!(state(job), GATJobState::GATJobState_Stopped);
    assert_eq!(info_text(job, "stopreason"), "stopped");
    assert_eq!(GATJob_Stop(job), GAT_INVALID_STATE);
    assert_eq!(GATJob_Checkpoint(job), GAT_NOT_CHECKPOINTABLE);
    destroy(job);
}

#[test]
fn get_state_is_cheap() {
    let s = Session::new();
    let job = s.submit("/bin/sleep", &["60"]).expect("submit");
    let rounds = 20_000;
    let started = Instant::now();
    for _ in 0..rounds {
        state(job);
    }
    let each = started.elapsed() / rounds;
    eprintln!("GATJob_GetState: {each:?} per call");
    // Debug builds on a shared machine: a loose bound that still catches a round trip to SQLite
    // or to the adaptor (both cost far more).
    assert!(each < Duration::from_micros(50), "{each:?}");
    assert_eq!(GATJob_Stop(job), GAT_SUCCESS, "{}", last_error());
    destroy(job);
}

#[test]
fn missing_program_fails_at_submit() {
    let s = Session::new();
    let (rc, msg) = s.submit("/nonexistent/program", &[]).expect_err("submit must fail");
    assert_eq!(rc, GAT_FILE_OPEN_ERROR, "{msg}");
    assert!(msg.contains("/nonexistent/program"), "{msg}");
}

#[test]
fn post_stage_failures_are_in_the_info_table() {
    let s = Session::new();
    let work = tempfile::tempdir().expect("work dir");
    let job = s
        .submit_with("/bin/true", &[], |t| unsafe {
            let dir = c(&work.path().display().to_string());
            assert_eq!(GATTable_Add_String(t, c("directory").as_ptr(), dir.as_ptr()), GAT_SUCCESS);
            let list = GATList_String_Create();
            let entry = c(&format!("never-written.txt => {}/copy.txt", work.path().display()));
            assert_eq!(GATList_String_Insert(list, GATList_String_End(list), entry.as_ptr()), GAT_SUCCESS);
            let key = c("post-staged files");
            assert_eq!(GATTable_Add_GATObject(t, key.as_ptr(), GATList_String_ToGATObject_const(list)), GAT_SUCCESS);
            GATList_String_Destroy(&mut { list });
        })
        .expect("submit");
    wait_state(job, GATJobState::GATJobState_Stopped, FINISH);
    assert_eq!(info_int(job, "exitcode"), Ok(0));
    let errors = info_text(job, "poststage.errors");
    assert!(errors.contains("never-written.txt"), "{errors}");
    destroy(job);
}

#[test]
fn unknown_job_id_gives_null() {
    let s = Session::new();
    let job = unsafe { GATJob_Create(s.ctx, std::ptr::null(), c("gat-0-0000").as_ptr()) };
    assert!(job.is_null());
    assert!(last_error().contains("gat-0-0000"), "{}", last_error());
    let job = unsafe { GATJob_Create(s.ctx, std::ptr::null(), std::ptr::null()) };
    assert!(job.is_null());
}

fn hardware_description(key: &str, value: i32) -> GATHardwareResourceDescription {
    unsafe {
        let table = GATTable_Create();
        assert_eq!(GATTable_Add_int32(table, c(key).as_ptr(), value), GAT_SUCCESS);
        let hd = GATHardwareResourceDescription_Create(table);
        GATTable_Destroy(&mut { table });
        assert!(!hd.is_null(), "{}", last_error());
        hd
    }
}

#[test]
fn find_resources_matches_and_explains_misses() {
    let s = Session::new();
    unsafe {
        let mut hd = hardware_description("cpu.count", 1);
        let mut list: GATList_GATResource = std::ptr::null_mut();
        let rd = GATHardwareResourceDescription_ToGATResourceDescription(hd);
        assert_eq!(GATResourceBroker_FindResources(s.broker, rd, &mut list), GAT_SUCCESS, "{}", last_error());
        let names: Vec<String> = (0..GATList_GATResource_Size(list))
            .map(|i| text(GATHardwareResource_GetName(GATResource_ToGATHardwareResource_const(GATList_GATResource_Get(list, i)))))
            .collect();
        // Same machine, same load: the configured priority puts bigbox first.
        assert_eq!(names, ["bigbox", "local:"]);
        assert!(GATList_GATResource_Get(list, 2).is_null());
        GATList_GATResource_Destroy(&mut list);
        GATHardwareResourceDescription_Destroy(&mut hd);

        let mut hd = hardware_description("cpu.count", 100_000);
        let rd = GATHardwareResourceDescription_ToGATResourceDescription(hd);
        assert_eq!(GATResourceBroker_FindResources(s.broker, rd, &mut list), GAT_NO_MATCHING_RESOURCE);
        assert!(last_error().contains("cpu.count"), "{}", last_error());
        assert!(list.is_null());
        GATHardwareResourceDescription_Destroy(&mut hd);
    }
}

#[test]
fn hardware_resources_by_contact_and_name() {
    let s = Session::new();
    unsafe {
        let mut local = GATHardwareResource_Create(s.ctx, c("local:").as_ptr());
        assert!(!local.is_null(), "{}", last_error());
        assert_eq!(text(GATHardwareResource_GetName(local)), "local:");
        let mut attrs: GATTable_const = std::ptr::null();
        assert_eq!(GATHardwareResource_GetDescription(local, &mut attrs), GAT_SUCCESS);
        let mut cpus = 0.0;
        assert_eq!(GATTable_Get_double(attrs, c("cpu.count").as_ptr(), &mut cpus), GAT_SUCCESS, "{}", last_error());
        assert!(cpus >= 1.0);
        GATHardwareResource_Destroy(&mut local);
        assert!(local.is_null());

        let mut big = GATHardwareResource_Create(s.ctx, c("bigbox").as_ptr());
        assert!(!big.is_null(), "{}", last_error());
        assert_eq!(GATHardwareResource_GetDescription(big, &mut attrs), GAT_SUCCESS);
        let mut sched = 0.0;
        assert_eq!(GATTable_Get_double(attrs, c("load.sched").as_ptr(), &mut sched), GAT_SUCCESS);
        assert_eq!(sched, 100000.0);
        GATHardwareResource_Destroy(&mut big);

        // The ssh adaptor is built in: a bare contact is asked directly, and a host nobody
        // listens on (port 1) is reported as such, naming the contact and what ssh said.
        assert!(GATHardwareResource_Create(s.ctx, c("ssh://user@127.0.0.1:1").as_ptr()).is_null());
        let said = last_error();
        assert!(said.contains("ssh://user@127.0.0.1:1") && said.contains("Connection refused"), "{said}");
        assert!(GATHardwareResource_Create(s.ctx, c("nosuchbox").as_ptr()).is_null());
        assert!(last_error().contains("nosuchbox"), "{}", last_error());
    }
}

#[test]
fn explicit_resource_is_used_and_named_in_the_reason() {
    let s = Session::new();
    unsafe {
        let mut big = GATHardwareResource_Create(s.ctx, c("bigbox").as_ptr());
        assert!(!big.is_null(), "{}", last_error());
        let table = GATTable_Create();
        assert_eq!(GATTable_Add_String(table, c("location").as_ptr(), c("/bin/true").as_ptr()), GAT_SUCCESS);
        let mut sd = GATSoftwareDescription_Create(table);
        let mut jd = GATJobDescription_Create(s.ctx, sd, GATHardwareResource_ToGATResource_const(big));
        assert!(!jd.is_null(), "{}", last_error());
        let mut job: GATJob = std::ptr::null_mut();
        assert_eq!(GATResourceBroker_SubmitJob(s.broker, jd, &mut job), GAT_SUCCESS, "{}", last_error());
        wait_state(job, GATJobState::GATJobState_Stopped, FINISH);
        assert_eq!(info_text(job, "resource"), "bigbox");
        assert!(info_text(job, "selection.reason").contains("bigbox"));
        destroy(job);
        GATJobDescription_Destroy(&mut jd);
        GATSoftwareDescription_Destroy(&mut sd);
        GATTable_Destroy(&mut { table });
        GATHardwareResource_Destroy(&mut big);
    }
}

/// Run this binary as a child in `role`, sharing the state directory and configuration.
fn child(role: &str, extra: &[(&str, &str)]) -> String {
    let setup = setup();
    let exe = std::env::current_exe().expect("test binary");
    let mut cmd = Command::new(exe);
    cmd.args(["child_role", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ROLE, role)
        .env("GAT_STATE_DIR", &setup.state_dir)
        .env("GAT_CONFIG", &setup.config);
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run child");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child {role} failed: {stdout}\n{stderr}");
    stdout
}

fn marked(output: &str, marker: &str) -> String {
    // The harness may print "test child_role ... " before the marker on the same line.
    output
        .lines()
        .find_map(|l| l.split_once(marker).map(|(_, rest)| rest))
        .unwrap_or_else(|| panic!("no {marker} in {output}"))
        .trim()
        .to_owned()
}

#[test]
fn another_process_re_attaches_after_the_submitter_exited() {
    let setup = setup();
    let go = setup.state_dir.join(format!("go-{}", std::process::id()));
    // The job waits (at most 30 s) for the go file, then exits 5.
    let script = format!("i=0; while [ ! -e '{}' ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done; exit 5", go.display());
    let submitted = child("submit", &[("GAT_TEST_SCRIPT", &script)]);
    let id = marked(&submitted, "JOBID=");
    let sleeper = marked(&submitted, "SLEEPERID=");
    let _cleanup = StopOnDrop(sleeper.clone());
    let go_text = go.display().to_string();
    let attached =
        child("attach", &[("GAT_TEST_JOBID", &id), ("GAT_TEST_GO", &go_text), ("GAT_TEST_SLEEPERID", &sleeper)]);
    assert_eq!(marked(&attached, "BEFORE="), "running");
    assert_eq!(marked(&attached, "AFTER="), "stopped 5 exited");
    assert_eq!(marked(&attached, "SLEEPER="), "stopped");
    // And this process, which neither submitted nor stopped them, reads the same from the journal.
    let s = Session::new();
    for (job_id, reason) in [(&id, "exited"), (&sleeper, "stopped")] {
        let job = unsafe { GATJob_Create(s.ctx, std::ptr::null(), c(job_id).as_ptr()) };
        assert!(!job.is_null(), "{}", last_error());
        assert_eq!(state(job), GATJobState::GATJobState_Stopped);
        assert_eq!(info_text(job, "stopreason"), reason);
        destroy(job);
    }
}

/// Stops the job (if it still runs) when the test ends, passed or not.
struct StopOnDrop(String);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        let s = Session::new();
        let mut job = unsafe { GATJob_Create(s.ctx, std::ptr::null(), c(&self.0).as_ptr()) };
        if !job.is_null() {
            // No asserts here: this may run while a failed test unwinds.
            let mut now = GATJobState::GATJobState_Unknown;
            if unsafe { GATJob_GetState(job, &mut now) } == GAT_SUCCESS && now == GATJobState::GATJobState_Running {
                GATJob_Stop(job);
            }
            unsafe { GATJob_Destroy(&mut job) };
        }
    }
}

/// The child side of the cross-process test; does nothing when run as an ordinary test.
#[test]
fn child_role() {
    let Ok(role) = std::env::var(CHILD_ROLE) else { return };
    let s = Session::new();
    match role.as_str() {
        "submit" => {
            let script = std::env::var("GAT_TEST_SCRIPT").expect("script");
            let job = s.submit("/bin/sh", &["-c", &script]).expect("submit");
            assert_eq!(state(job), GATJobState::GATJobState_Running);
            println!("JOBID={}", job_id(job));
            destroy(job);
            let sleeper = s.submit("/bin/sleep", &["60"]).expect("submit sleep");
            println!("SLEEPERID={}", job_id(sleeper));
            destroy(sleeper);
        }
        "attach" => {
            let id = std::env::var("GAT_TEST_JOBID").expect("id");
            let job = unsafe { GATJob_Create(s.ctx, std::ptr::null(), c(&id).as_ptr()) };
            assert!(!job.is_null(), "{}", last_error());
            println!("BEFORE={}", info_text(job, "state"));
            std::fs::write(std::env::var("GAT_TEST_GO").expect("go"), b"go").expect("go file");
            wait_state(job, GATJobState::GATJobState_Stopped, FINISH);
            let code = info_int(job, "exitcode").map_or("none".to_string(), |c| c.to_string());
            println!("AFTER=stopped {code} {}", info_text(job, "stopreason"));
            destroy(job);
            // Stop works from a process that did not submit the job.
            let id = std::env::var("GAT_TEST_SLEEPERID").expect("sleeper id");
            let sleeper = unsafe { GATJob_Create(s.ctx, std::ptr::null(), c(&id).as_ptr()) };
            assert!(!sleeper.is_null(), "{}", last_error());
            assert_eq!(state(sleeper), GATJobState::GATJobState_Running);
            assert_eq!(GATJob_Stop(sleeper), GAT_SUCCESS, "{}", last_error());
            assert_eq!(state(sleeper), GATJobState::GATJobState_Stopped);
            println!("SLEEPER={}", info_text(sleeper, "stopreason"));
            destroy(sleeper);
        }
        other => panic!("unknown role {other}"),
    }
}
