//! Jobs on SSH hosts through the engine: configured `ssh://` resources (with `ssh_options` and
//! `work_dir`), submit, checkpoint, migration local -> host -> other host -> local with the state
//! moving along, rollback when the target host is unreachable, and Unknown (with the reason)
//! while a host's sshd is down.
//!
//! The hosts are the test bed of tests/testbed/: a private sshd on 127.0.0.1 (hostname of this
//! machine) and the fake hosts h1, h2 (network namespaces, own hostnames and sshds, the same file
//! system). They need root, openssh-server and iproute2; the scripts create the user jobtest.
//! A test bed that does not start FAILS the test: these tests never skip.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gat::engine::config::Config;
use gat::engine::core::adaptors_for;
use gat::engine::description::JobDescription;
use gat::engine::{
    Engine, Error, HardwareResource, Job, JobState, ObjectValue, Preferences, ResourceChoice, SoftwareDescription,
    Table, Value,
};

use gat_adaptor_ssh::testbed::script as testbed_script;

fn run_testbed(script: &str, verb: &str, dir: &Path) -> Result<(), String> {
    gat_adaptor_ssh::testbed::run(script, verb, dir).map(|_| ())
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
}

/// One test's hosts and engine. Resources: `here` (local:), `vm` (the sshd on 127.0.0.1) and,
/// with fake hosts, `h1`, `h2`; each with its own work area (writable by jobtest).
struct Bed {
    root: PathBuf,
    engine: Option<Arc<Engine>>,
    sshd_dir: PathBuf,
    hosts_dir: Option<PathBuf>,
    counter: String,
    /// The resource configuration (TOML) the engine was opened with.
    config_text: String,
    _fake_hosts: Option<std::fs::File>,
    _dir: tempfile::TempDir,
}

impl Bed {
    fn new(with_fake_hosts: bool) -> Bed {
        let guard = with_fake_hosts.then(gat_adaptor_ssh::testbed::fake_hosts_lock);
        let dir = tempfile::Builder::new().prefix("gat-sshjobs-").tempdir().expect("temp dir");
        let root = dir.path().to_path_buf();
        chmod(&root, 0o755); // jobtest (sshd, jobs) must traverse it
        let sshd_dir = root.join("sshd");
        let hosts_dir = with_fake_hosts.then(|| root.join("hosts"));
        // The Drop guard exists before anything starts, so whatever did start is stopped.
        let mut bed = Bed {
            root: root.clone(),
            engine: None,
            sshd_dir: sshd_dir.clone(),
            hosts_dir: hosts_dir.clone(),
            counter: root.join("counter.sh").display().to_string(),
            config_text: String::new(),
            _fake_hosts: guard,
            _dir: dir,
        };
        run_testbed("sshd.sh", "start", &sshd_dir).unwrap_or_else(|e| panic!("the test sshd did not start: {e}"));
        if let Some(h) = &hosts_dir {
            run_testbed("hosts.sh", "start", h).unwrap_or_else(|e| panic!("the fake hosts did not start: {e}"));
        }
        // The sample job, readable by jobtest wherever it runs (all hosts share this file system).
        std::fs::copy(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/counter.sh"), &bed.counter)
            .expect("copy counter.sh");
        chmod(Path::new(&bed.counter), 0o755);
        let port = std::fs::read_to_string(sshd_dir.join("port")).expect("sshd.sh wrote no port file");
        let mut config = format!(
            "[resources.here]\ncontact = \"local:\"\nwork_dir = \"{r}/work-here\"\n\
             [resources.vm]\ncontact = \"ssh://jobtest@127.0.0.1:{port}\"\nwork_dir = \"{r}/work-vm\"\n\
             ssh_options = [\"-F\", \"{s}/ssh_config\"]\n",
            r = root.display(),
            port = port.trim(),
            s = sshd_dir.display()
        );
        let areas = ["work-here", "work-vm"];
        if let Some(h) = &hosts_dir {
            config.push_str(&gat_adaptor_ssh::testbed::fake_host_resources(&root, h));
        }
        for area in areas {
            let p = root.join(area);
            std::fs::create_dir_all(&p).expect("work area");
            chmod(&p, 0o777);
        }
        bed.config_text = config.clone();
        let config = Config::parse(&config).expect("config");
        let state = root.join("state");
        bed.engine = Some(Engine::open_with_config(&state, adaptors_for(&state, &config), config).expect("engine"));
        bed
    }

    fn engine(&self) -> &Arc<Engine> {
        self.engine.as_ref().expect("engine")
    }

    fn resource(&self, name: &str) -> Arc<HardwareResource> {
        Arc::new(self.engine().hardware_resource(name).unwrap_or_else(|e| panic!("resource {name}: {e}")))
    }

    fn submit_on(&self, sw: SoftwareDescription, on: &str) -> Job {
        let jd = JobDescription { software: Arc::new(sw), resource: Some(ResourceChoice::Resource(self.resource(on))) };
        self.engine().submit(&jd, &Preferences::new()).unwrap_or_else(|e| panic!("submit on {on}: {e}"))
    }

    /// A checkpointable job's stdout: `out.txt` in its working directory, `<work area>/<id>`
    /// (every host shares this file system).
    fn stdout(&self, job: &Job) -> String {
        let resource = info_str(job, "resource");
        let path = self.root.join(format!("work-{resource}")).join(job.id()).join(COUNTER_OUT);
        std::fs::read_to_string(path).unwrap_or_default()
    }

    /// The count saved in the newest checkpoint generation of `job`.
    fn saved_count(&self, job: &Job) -> u64 {
        let ckpt = self.engine().state_dir().join("jobs").join(job.id()).join("ckpt");
        let newest = std::fs::read_dir(&ckpt)
            .unwrap_or_else(|e| panic!("{}: {e}", ckpt.display()))
            .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
            .filter(|n| n.chars().all(|c| c.is_ascii_digit()))
            .max()
            .expect("a checkpoint generation");
        let file = ckpt.join(newest).join("files/.gat/restart");
        std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
            .trim()
            .parse()
            .expect("a count")
    }

    fn sshd_stop(&self) {
        run_testbed("sshd.sh", "stop", &self.sshd_dir).unwrap_or_else(|e| panic!("{e}"));
    }

    fn sshd_start(&self) {
        run_testbed("sshd.sh", "start", &self.sshd_dir).unwrap_or_else(|e| panic!("the test sshd did not restart: {e}"));
    }

    /// Stop fake host hK's sshd with every connection it serves (the host stays, unreachable).
    fn stop_fake_host_sshd(&self, k: u8) {
        let hosts = self.hosts_dir.as_ref().expect("fake hosts");
        let out = Command::new("bash")
            .arg("-c")
            .arg(". \"$1\" && tb_stop_sshd \"$2\"")
            .arg("bash")
            .arg(testbed_script("common.sh"))
            .arg(hosts.join(format!("sshd-h{k}.pid")))
            .output()
            .expect("bash");
        assert!(out.status.success(), "stopping h{k}'s sshd: {}", String::from_utf8_lossy(&out.stderr));
    }
}

impl Drop for Bed {
    fn drop(&mut self) {
        // Jobs first (while their hosts answer), then the engine (closes its ssh masters), then
        // the hosts.
        if let Some(engine) = self.engine.take() {
            for id in running_ids(&engine) {
                if let Ok(job) = engine.attach(&id) {
                    let _ = job.stop();
                }
            }
            drop(engine);
        }
        if let Some(h) = &self.hosts_dir {
            if let Err(e) = run_testbed("hosts.sh", "stop", h) {
                eprintln!("{e}");
            }
        }
        if let Err(e) = run_testbed("sshd.sh", "stop", &self.sshd_dir) {
            eprintln!("{e}");
        }
    }
}

/// Jobs of this engine's journal not yet stopped (so Drop can end them).
fn running_ids(engine: &Engine) -> Vec<String> {
    let jobs = engine.state_dir().join("jobs");
    std::fs::read_dir(jobs)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned())).collect())
        .unwrap_or_default()
}

/// Where checkpointable jobs write their stdout (relative: in their working directory).
const COUNTER_OUT: &str = "out.txt";

fn software(location: &str, args: &[&str], checkpointable: bool) -> SoftwareDescription {
    let mut t = Table::new();
    t.add("location", Value::String(location.into())).unwrap();
    let args = args.iter().map(|s| s.to_string()).collect();
    t.add("arguments", Value::Object(ObjectValue::ListString(args))).unwrap();
    if checkpointable {
        t.add("checkpointable", Value::Int16(1)).unwrap();
        t.add("stdout", Value::String(COUNTER_OUT.into())).unwrap();
    }
    SoftwareDescription::from_table(&t).expect("software description")
}

fn wait_until(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out after {limit:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn info_str(job: &Job, key: &str) -> String {
    match job.info().get(key) {
        Ok(Value::String(s)) => s.clone(),
        other => panic!("info {key} of {}: {other:?}", job.id()),
    }
}

/// The numbers a counter printed after `word` (`start`, `done`).
fn counter_marks(out: &str, word: &str) -> Vec<u64> {
    out.lines()
        .filter_map(|l| l.strip_prefix(word).and_then(|r| r.trim().parse().ok()))
        .collect()
}

fn local_hostname() -> String {
    let out = Command::new("uname").arg("-n").output().expect("uname");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn configured_ssh_resources_are_offered_and_bare_contacts_are_asked_with_default_options() {
    let bed = Bed::new(false);
    let vm = bed.resource("vm");
    assert_eq!(vm.resource.adaptor, "ssh");
    assert_eq!(vm.resource.hostname, local_hostname());
    assert_eq!(vm.resource.work_dir.as_deref(), Some(bed.root.join("work-vm").as_path()));
    let attrs = vm.description();
    assert!(attrs.get_f64("cpu.count").is_ok_and(|n| n >= 1.0), "{attrs:?}");
    // Its contact names the same configured resource (its ssh_options, its work area).
    let contact = vm.resource.contact.clone();
    let by_contact = bed.resource(&contact);
    assert_eq!(by_contact.resource.name, "vm");
    assert_eq!(by_contact.resource.hostname, local_hostname());
    assert_eq!(by_contact.resource.work_dir, vm.resource.work_dir);
    // A bare contact nobody configured: ssh with the user's own settings, where this test
    // host's key is unknown: refused, never accepted silently.
    let port = std::fs::read_to_string(bed.sshd_dir.join("port")).unwrap();
    let bare = format!("ssh://nobody@127.0.0.1:{}", port.trim());
    let err = bed.engine().hardware_resource(&bare).expect_err("an unknown host key must fail");
    let said = err.to_string();
    assert!(said.contains(&bare) && said.contains("Host key verification failed"), "{said}");
}

#[test]
fn a_job_submitted_to_an_ssh_host_runs_there_and_finishes() {
    let bed = Bed::new(false);
    let out = bed.root.join("work-vm/where.txt");
    let job = bed.submit_on(software("/bin/sh", &["-c", &format!("uname -n > {}; exit 3", out.display())], false), "vm");
    assert_eq!(info_str(&job, "adaptor"), "ssh");
    assert_eq!(info_str(&job, "resource"), "vm");
    assert_eq!(info_str(&job, "hostname"), local_hostname());
    wait_until("the job to finish", Duration::from_secs(15), || job.state() == JobState::Stopped);
    assert_eq!(job.info().get_int::<i32>("exitcode", "int32").unwrap(), 3);
    assert_eq!(std::fs::read_to_string(out).unwrap().trim(), local_hostname());
}

#[test]
fn checkpoint_on_an_ssh_host_keeps_the_job_running() {
    let bed = Bed::new(false);
    let job = bed.submit_on(software(&bed.counter, &["100000"], true), "vm");
    wait_until("the counter to start", Duration::from_secs(10), || !bed.stdout(&job).is_empty());
    std::thread::sleep(Duration::from_millis(200)); // let it count a little
    job.checkpoint().expect("checkpoint");
    assert_eq!(job.state(), JobState::Running);
    let first = bed.saved_count(&job);
    assert!(first > 0, "the saved count is {first}");
    wait_until("the count to go on", Duration::from_secs(10), || {
        job.checkpoint().expect("second checkpoint");
        bed.saved_count(&job) > first
    });
    assert!(job.info().get_int::<i32>("checkpoint.generation", "int32").unwrap() >= 2);
    job.stop().expect("stop");
}

#[test]
fn migration_local_to_host_to_other_host_and_back_continues_the_count() {
    let bed = Bed::new(true);
    let job = bed.submit_on(software(&bed.counter, &["100000"], true), "here");
    assert_eq!(info_str(&job, "hostname"), local_hostname());
    let mut current = job;
    let mut last_count = 0;
    for (target, hostname) in [("h1", "h1".to_owned()), ("h2", "h2".to_owned()), ("here", local_hostname())] {
        wait_until(&format!("the counter to start before moving to {target}"), Duration::from_secs(20), || {
            !bed.stdout(&current).is_empty()
        });
        std::thread::sleep(Duration::from_millis(300)); // let it count past its start
        let moved = current.migrate(Some(bed.resource(target))).unwrap_or_else(|e| panic!("migrate to {target}: {e}"));
        assert_eq!(current.state(), JobState::Stopped);
        assert_eq!(info_str(&current, "stopreason"), "migrated");
        assert_eq!(info_str(&moved, "resource"), target);
        assert_eq!(info_str(&moved, "hostname"), hostname, "the job now runs on {target}");
        assert_eq!(info_str(&moved, "migrated.from"), current.id());
        let saved = bed.saved_count(&current);
        assert!(saved > last_count, "the count went on: {last_count} then {saved} before moving to {target}");
        wait_until("the successor to start", Duration::from_secs(10), || {
            !counter_marks(&bed.stdout(&moved), "start").is_empty()
        });
        assert_eq!(
            counter_marks(&bed.stdout(&moved), "start"),
            vec![saved],
            "on {target} the job resumes exactly from its checkpoint"
        );
        assert!(counter_marks(&bed.stdout(&current), "done").is_empty(), "the original must not run on");
        last_count = saved;
        current = moved;
    }
    assert_eq!(current.state(), JobState::Running);
    current.stop().expect("stop");
}

#[test]
fn migration_to_an_unreachable_host_rolls_back_and_the_original_runs_on() {
    let bed = Bed::new(true);
    let job = bed.submit_on(software(&bed.counter, &["100000"], true), "h1");
    assert_eq!(info_str(&job, "hostname"), "h1");
    let h2 = bed.resource("h2"); // known while it answered
    wait_until("the counter to start", Duration::from_secs(10), || !bed.stdout(&job).is_empty());
    bed.stop_fake_host_sshd(2);
    let err = job.migrate(Some(h2)).err().expect("migrating to a host whose sshd is down must fail");
    assert!(matches!(&err, Error::RolledBack(_)), "{err}");
    assert!(err.to_string().contains("10.203.0.2"), "the reason names the target host: {err}");
    assert_eq!(job.state(), JobState::Running);
    assert_eq!(info_str(&job, "hostname"), "h1");
    // Thawed on h1: it keeps counting past the checkpoint the failed migration took.
    let before = bed.saved_count(&job);
    wait_until("the original to count on", Duration::from_secs(10), || {
        job.checkpoint().expect("checkpoint after the rollback");
        bed.saved_count(&job) > before
    });
    job.stop().expect("stop");
}

#[test]
fn a_hosts_sshd_killed_while_a_job_runs_gives_unknown_with_the_reason_then_recovers() {
    let bed = Bed::new(false);
    let job = bed.submit_on(software("/bin/sleep", &["60"], false), "vm");
    assert_eq!(job.state(), JobState::Running);
    bed.sshd_stop();
    wait_until("the state to become Unknown", Duration::from_secs(20), || job.state() == JobState::Unknown);
    let reason = info_str(&job, "state.reason");
    assert!(reason.contains("127.0.0.1"), "the reason names the host: {reason}");
    bed.sshd_start();
    wait_until("the state to recover", Duration::from_secs(20), || job.state() == JobState::Running);
    assert!(!job.info().contains("state.reason"), "{:?}", job.info());
    job.stop().expect("stop");
    assert_eq!(job.state(), JobState::Stopped);
}

const C_API_CHILD: &str = "GAT_SSH_JOBS_C_API_CHILD";

/// Through the C API, in a child process whose GAT_CONFIG names the ssh resource `vm` (the
/// context's engine is the process's shared one, built from the environment).
#[test]
fn the_c_api_creates_ssh_resources_by_name_and_by_contact() {
    let bed = Bed::new(false);
    let config = bed.root.join("resources.toml");
    std::fs::write(&config, &bed.config_text).expect("config file");
    let out = Command::new(std::env::current_exe().expect("this test binary"))
        .args(["--exact", "c_api_child", "--nocapture", "--test-threads=1"])
        .env(C_API_CHILD, bed.resource("vm").resource.contact.as_str())
        .env("GAT_CONFIG", &config)
        .env("GAT_STATE_DIR", bed.root.join("child-state"))
        .output()
        .expect("running the child");
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the child failed: {said}");
    assert!(said.contains("c-api child: ok"), "the child did not run its checks: {said}");
}

/// The child's part (a no-op in a normal run).
#[test]
fn c_api_child() {
    use gat::ffi::context::*;
    use gat::ffi::errors::*;
    use gat::ffi::resource::*;
    use gat::ffi::table::*;
    use gat::ffi::types::*;
    use std::ffi::{CStr, CString};
    let Ok(contact) = std::env::var(C_API_CHILD) else { return };
    let last_error = || {
        let mut buf = vec![0u8; 4096];
        // SAFETY: the buffer is as long as we say.
        let n = unsafe { GAT_GetLastErrorMessage(buf.as_mut_ptr().cast(), buf.len()) };
        buf.truncate(n.min(4095));
        String::from_utf8_lossy(&buf).into_owned()
    };
    let mut ctx = GATContext_Create();
    assert!(!ctx.is_null());
    for name in ["vm", contact.as_str()] {
        let c_name = CString::new(name).unwrap();
        // SAFETY: live context, NUL-terminated string; out-params point at locals.
        unsafe {
            let mut hr = GATHardwareResource_Create(ctx, c_name.as_ptr());
            assert!(!hr.is_null(), "GATHardwareResource_Create({name}): {}", last_error());
            let mut attrs: GATTable_const = std::ptr::null();
            assert_eq!(GATHardwareResource_GetDescription(hr, &mut attrs), GAT_SUCCESS, "{}", last_error());
            let mut node: *const std::ffi::c_char = std::ptr::null();
            let key = CString::new("machine.node").unwrap();
            assert_eq!(GATTable_Get_String(attrs, key.as_ptr(), &mut node), GAT_SUCCESS, "{}", last_error());
            assert_eq!(CStr::from_ptr(node).to_string_lossy(), local_hostname(), "{name}");
            GATHardwareResource_Destroy(&mut hr);
        }
    }
    // SAFETY: the context created above.
    unsafe { GATContext_Destroy(&mut ctx) };
    println!("c-api child: ok");
}
