//! A migration between two ssh hosts streams the state from the source host to the target in
//! one pass through this machine, into the checkpoint store and the hasher on the way
//! (`Restart::Stream`, `Adaptor::open_read` / `write_from`): the state arrives byte for byte
//! and the store keeps a verified generation of it; a stream that ends short is refused (no
//! file on the target, no generation) and the job runs on; a target that becomes unreachable in
//! the middle of the stream rolls the migration back with the fresh state kept in the store.
//!
//! The hosts are the fake hosts h1, h2 of tests/testbed/hosts.sh (network namespaces with their
//! own sshds, sharing this machine's file system); they need root, openssh-server and iproute2.
//! A test bed that does not start FAILS the test.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use gat::engine::config::Config;
use gat::engine::core::adaptors_for;
use gat::engine::description::JobDescription;
use gat::engine::{
    Engine, Error, HardwareResource, Job, JobState, ObjectValue, Preferences, ResourceChoice, SoftwareDescription,
    Table, Value,
};

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
}

/// Debug output of gat::migration, captured for the whole test binary (to see which path a
/// migration took).
fn migration_log() -> Arc<Mutex<Vec<u8>>> {
    static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOG.get_or_init(|| {
        struct Capture(Arc<Mutex<Vec<u8>>>);
        impl Write for Capture {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap_or_else(|p| p.into_inner()).extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = buf.clone();
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("gat::migration=debug"))
            .with_ansi(false)
            .with_writer(move || Capture(sink.clone()))
            .try_init()
            .expect("the test's log capture is the first subscriber");
        buf
    })
    .clone()
}

/// The fake hosts h1, h2 as resources (work areas `work-h1`, `work-h2`) and an engine.
struct Bed {
    root: PathBuf,
    hosts: PathBuf,
    engine: Option<Arc<Engine>>,
    _lock: std::fs::File,
    _dir: tempfile::TempDir,
}

impl Bed {
    fn new() -> Bed {
        let lock = gat_adaptor_ssh::testbed::fake_hosts_lock();
        let dir = tempfile::Builder::new().prefix("gat-sshstream-").tempdir().expect("temp dir");
        let root = dir.path().to_path_buf();
        chmod(&root, 0o755);
        let hosts = root.join("hosts");
        let mut bed = Bed { root: root.clone(), hosts: hosts.clone(), engine: None, _lock: lock, _dir: dir };
        gat_adaptor_ssh::testbed::run("hosts.sh", "start", &hosts)
            .unwrap_or_else(|e| panic!("the fake hosts did not start: {e}"));
        let config = gat_adaptor_ssh::testbed::fake_host_resources(&root, &hosts);
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

    /// A job on h1 whose checkpoint state is the file `state` (hard-linked when asked). Started
    /// from a checkpoint, it compares its restart file with `state` into `check-result`.
    fn state_job(&self, state: &Path) -> Job {
        let script = self.root.join("statejob.sh");
        std::fs::write(
            &script,
            "#!/bin/sh\n\
             if [ -n \"$GAT_RESTART_FILE\" ]; then\n\
               if cmp -s \"$GAT_RESTART_FILE\" \"$1\"; then echo same > check-result; else echo differs > check-result; fi\n\
             fi\n\
             trap 'ln -f \"$1\" \"$GAT_CHECKPOINT_FILE\"; : > \"$GAT_CHECKPOINT_DONE\"' USR2\n\
             while :; do sleep 0.05 & wait $!; done\n",
        )
        .expect("job script");
        chmod(&script, 0o755);
        let mut t = Table::new();
        t.add("location", Value::String(script.display().to_string())).unwrap();
        t.add("arguments", Value::Object(ObjectValue::ListString(vec![state.display().to_string()]))).unwrap();
        t.add("checkpointable", Value::Int16(1)).unwrap();
        let sw = SoftwareDescription::from_table(&t).expect("software description");
        let jd = JobDescription { software: Arc::new(sw), resource: Some(ResourceChoice::Resource(self.resource("h1"))) };
        let job = self.engine().submit(&jd, &Preferences::new()).expect("submit on h1");
        // Its trap is set once the shell runs its loop.
        wait_until("the job to run", Duration::from_secs(20), || job.state() == JobState::Running);
        std::thread::sleep(Duration::from_millis(200));
        job
    }

    /// `mib` MiB of incompressible bytes in h1's work area, readable by the job's user.
    fn state_file(&self, name: &str, mib: usize) -> PathBuf {
        let path = self.root.join("work-h1").join(name);
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).expect("state file"));
        let mut x: u64 = 0x2545_F491_4F6C_DD1D ^ mib as u64;
        let mut block = vec![0u8; 1 << 20];
        for _ in 0..mib {
            for chunk in block.chunks_exact_mut(8) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                chunk.copy_from_slice(&x.to_le_bytes());
            }
            f.write_all(&block).expect("writing the state file");
        }
        f.flush().expect("flush");
        let status = Command::new("chown").arg("jobtest").arg(&path).status().expect("chown");
        assert!(status.success(), "chown jobtest {}", path.display());
        chmod(&path, 0o644);
        path
    }

    fn store(&self, job: &Job) -> PathBuf {
        self.engine().state_dir().join("jobs").join(job.id()).join("ckpt")
    }

    /// Committed generation numbers in `job`'s store.
    fn generations(&self, job: &Job) -> Vec<u32> {
        let mut g: Vec<u32> = std::fs::read_dir(self.store(job))
            .map(|d| d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect())
            .unwrap_or_default();
        g.sort_unstable();
        g
    }

    /// The file the pending generation streams into, once it exists.
    fn pending_state(&self, job: &Job) -> Option<PathBuf> {
        std::fs::read_dir(self.store(job))
            .ok()?
            .filter_map(|e| e.ok())
            .find(|e| e.file_name().to_string_lossy().starts_with(".pending-"))
            .map(|e| e.path().join("files/.gat/restart"))
    }

    /// Wait until at least `bytes` of the state have streamed into the store.
    fn wait_streaming(&self, job: &Job, bytes: u64) {
        wait_until("the state to stream in", Duration::from_secs(60), || {
            self.pending_state(job).and_then(|p| std::fs::metadata(p).ok()).is_some_and(|m| m.len() >= bytes)
        });
    }

    /// Files under h2's work area whose names say they hold streamed state.
    fn streamed_files_on_h2(&self) -> Vec<PathBuf> {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, out);
                } else if p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("restart")) {
                    out.push(p);
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.root.join("work-h2"), &mut out);
        out
    }

    /// Stop `jobs`, close the engine (its ssh connections and sessions end and are reaped),
    /// then check that no child of this process was left unreaped: every ssh a stream started
    /// was waited for.
    fn finish_without_zombies(mut self, jobs: Vec<Job>) {
        for job in jobs {
            if job.state() == JobState::Running {
                job.stop().expect("stop");
            }
        }
        drop(self.engine.take());
        assert_eq!(zombie_children(), Vec::<String>::new());
    }

    fn stop_h2_sshd(&self) {
        let out = Command::new("bash")
            .arg("-c")
            .arg(". \"$1\" && tb_stop_sshd \"$2\"")
            .arg("bash")
            .arg(gat_adaptor_ssh::testbed::script("common.sh"))
            .arg(self.hosts.join("sshd-h2.pid"))
            .output()
            .expect("bash");
        assert!(out.status.success(), "stopping h2's sshd: {}", String::from_utf8_lossy(&out.stderr));
    }
}

impl Drop for Bed {
    fn drop(&mut self) {
        if let Some(engine) = self.engine.take() {
            let jobs = engine.state_dir().join("jobs");
            for e in std::fs::read_dir(jobs).into_iter().flatten().flatten() {
                if let Ok(job) = engine.attach(&e.file_name().to_string_lossy()) {
                    if job.state() == JobState::Running {
                        let _ = job.stop();
                    }
                }
            }
            drop(engine);
        }
        if let Err(e) = gat_adaptor_ssh::testbed::run("hosts.sh", "stop", &self.hosts) {
            eprintln!("{e}");
        }
    }
}

fn wait_until(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out after {limit:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn info_str(job: &Job, key: &str) -> String {
    match job.info().get(key) {
        Ok(Value::String(s)) => s.clone(),
        other => panic!("info {key} of {}: {other:?}", job.id()),
    }
}

fn blake3_of(path: &Path) -> String {
    let mut hasher = blake3::Hasher::new();
    let mut f = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    std::io::copy(&mut f, &mut hasher).expect("hash");
    hasher.finalize().to_hex().to_string()
}

/// The manifest's hash of the generation's restart file.
fn manifest_hash(generation_dir: &Path) -> String {
    let text = std::fs::read_to_string(generation_dir.join("manifest")).expect("manifest");
    let hash = text
        .split(|c: char| !c.is_ascii_hexdigit())
        .find(|w| w.len() == 64)
        .unwrap_or_else(|| panic!("no blake3 hash in the manifest: {text}"));
    hash.to_owned()
}

/// Children of this process that ended and were never reaped.
fn zombie_children() -> Vec<String> {
    let mut zombies = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").into_iter().flatten().flatten() {
        let children = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        for pid in children.split_whitespace() {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let state = stat.rsplit_once(") ").and_then(|(_, rest)| rest.chars().next());
            if state == Some('Z') {
                zombies.push(stat);
            }
        }
    }
    zombies
}

#[test]
fn a_migration_between_hosts_streams_the_state_byte_for_byte() {
    let log = migration_log();
    let bed = Bed::new();
    let state = bed.state_file("state-48", 48);
    let job = bed.state_job(&state);
    let moved = job.migrate(Some(bed.resource("h2"))).expect("migrate h1 -> h2");
    assert_eq!(info_str(&moved, "hostname"), "h2");
    assert_eq!(info_str(&job, "stopreason"), "migrated");
    // It went through the stream, not through a copy in the store and an upload.
    let text = String::from_utf8_lossy(&log.lock().unwrap_or_else(|p| p.into_inner())).into_owned();
    assert!(
        text.lines().any(|l| l.contains(job.id()) && l.contains(&format!("{} bytes streamed to h2", 48 << 20))),
        "no stream of job {} in the log:\n{text}",
        job.id()
    );
    // On h2, byte for byte: the successor compared its restart file with the source.
    let work = bed.root.join("work-h2").join(moved.id());
    let placed = work.join(".gat/restart");
    wait_until("the successor to compare its state", Duration::from_secs(20), || work.join("check-result").exists());
    assert_eq!(std::fs::read_to_string(work.join("check-result")).unwrap().trim(), "same");
    let source_hash = blake3_of(&state);
    assert_eq!(blake3_of(&placed), source_hash, "the state on h2");
    // In the store: a published generation whose manifest has the source's hash, and its file.
    let generations = bed.generations(&job);
    let newest = bed.store(&job).join(format!("{:08}", generations.last().expect("a generation")));
    assert_eq!(manifest_hash(&newest), source_hash, "the manifest's hash");
    assert_eq!(blake3_of(&newest.join("files/.gat/restart")), source_hash, "the stored state");
    assert_eq!(bed.streamed_files_on_h2(), vec![placed], "only the restart file, no part file left");
    // Taken off h1, as a checkpoint does.
    assert!(!bed.root.join("work-h1").join(job.id()).join(".gat/checkpoint").exists());
    bed.finish_without_zombies(vec![moved, job]);
}

#[test]
fn a_stream_that_ends_short_is_refused_and_the_job_runs_on() {
    let _log = migration_log();
    let bed = Bed::new();
    let state = bed.state_file("state-short", 384);
    let job = bed.state_job(&state);
    let migrating = {
        let job = job.clone();
        let h2 = bed.resource("h2");
        std::thread::spawn(move || job.migrate(Some(h2)))
    };
    // Cut the source short while it streams: its host's `cat` meets the end early.
    bed.wait_streaming(&job, 1 << 20);
    std::fs::OpenOptions::new().write(true).open(&state).and_then(|f| f.set_len(4 << 20)).expect("truncate");
    let err = migrating.join().expect("migrate thread").err().expect("a short stream must not migrate the job");
    eprintln!("the migration said: {err}");
    assert!(matches!(err, Error::CheckpointCorrupt(_)), "{err}");
    assert!(err.to_string().contains("ended after"), "the error says the stream ended short: {err}");
    assert_eq!(job.state(), JobState::Running, "the original runs on");
    assert_eq!(info_str(&job, "hostname"), "h1");
    assert!(bed.generations(&job).is_empty(), "no generation from a short stream");
    assert!(bed.pending_state(&job).is_none(), "the pending generation is gone");
    assert_eq!(bed.streamed_files_on_h2(), Vec::<PathBuf>::new(), "nothing stored on h2");
    bed.finish_without_zombies(vec![job]);
}

#[test]
fn a_target_unreachable_mid_stream_rolls_back_and_keeps_the_fresh_state() {
    let _log = migration_log();
    let bed = Bed::new();
    let state = bed.state_file("state-cut", 384);
    let job = bed.state_job(&state);
    let migrating = {
        let job = job.clone();
        let h2 = bed.resource("h2");
        std::thread::spawn(move || job.migrate(Some(h2)))
    };
    bed.wait_streaming(&job, 1 << 20);
    bed.stop_h2_sshd();
    let err = migrating.join().expect("migrate thread").err().expect("the target went away: the migration must fail");
    eprintln!("the migration said: {err}");
    assert!(matches!(err, Error::RolledBack(_)), "{err}");
    assert!(err.to_string().contains("10.203.0.2"), "the reason names the target host: {err}");
    assert_eq!(job.state(), JobState::Running, "the original runs on");
    assert_eq!(info_str(&job, "hostname"), "h1");
    // The state went on into the store in full: a published, verified generation.
    let generations = bed.generations(&job);
    let newest = bed.store(&job).join(format!("{:08}", generations.last().expect("the fresh generation is kept")));
    let source_hash = blake3_of(&state);
    assert_eq!(manifest_hash(&newest), source_hash);
    assert_eq!(blake3_of(&newest.join("files/.gat/restart")), source_hash);
    assert!(
        !bed.streamed_files_on_h2().iter().any(|p| p.file_name().is_some_and(|n| n == "restart")),
        "no restart file completed on h2: {:?}",
        bed.streamed_files_on_h2()
    );
    // Thawed: it answers the next checkpoint request.
    job.checkpoint().expect("checkpoint after the rollback");
    bed.finish_without_zombies(vec![job]);
}

/// The ssh adaptor's `place` sends a tree of directories and a few regular files as streams
/// (modes kept, empty directories made) and anything else (many files, a symbolic link)
/// through scp, with the same result.
#[test]
fn place_sends_small_trees_as_streams_and_others_through_scp() {
    let bed = Bed::new();
    let ssh = bed.engine().adaptor("ssh").expect("ssh adaptor");
    let h2 = bed.resource("h2").resource.clone();
    let mode = |p: &Path| std::fs::metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())).permissions().mode() & 0o7777;

    let small = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(small.path().join(".gat")).unwrap();
    std::fs::create_dir_all(small.path().join("sub/deeper")).unwrap();
    std::fs::write(small.path().join("sub/run me"), "#!/bin/sh\necho ran\n").unwrap();
    chmod(&small.path().join("sub/run me"), 0o750);
    std::fs::write(small.path().join("empty"), "").unwrap();
    let data: Vec<u8> = (0..5_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    std::fs::write(small.path().join("state"), &data).unwrap();
    let dir = bed.root.join("work-h2").join("placed small");
    ssh.place(&h2, small.path(), &dir).expect("place a small tree");
    assert!(dir.join(".gat").is_dir(), "the empty directory is made");
    assert!(dir.join("sub/deeper").is_dir());
    assert_eq!(std::fs::read(dir.join("sub/run me")).unwrap(), b"#!/bin/sh\necho ran\n");
    assert_eq!(mode(&dir.join("sub/run me")), 0o750, "the mode is kept");
    assert_eq!(std::fs::read(dir.join("empty")).unwrap(), b"");
    assert!(std::fs::read(dir.join("state")).unwrap() == data);
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".gat-part"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    let many = tempfile::tempdir().expect("temp dir");
    for i in 0..6 {
        std::fs::write(many.path().join(format!("f{i}")), format!("file {i}")).unwrap();
    }
    std::os::unix::fs::symlink("f0", many.path().join("link")).unwrap();
    let dir = bed.root.join("work-h2").join("placed many");
    ssh.place(&h2, many.path(), &dir).expect("place a larger tree");
    for i in 0..6 {
        assert_eq!(std::fs::read_to_string(dir.join(format!("f{i}"))).unwrap(), format!("file {i}"));
    }
    assert_eq!(std::fs::read_to_string(dir.join("link")).unwrap(), "file 0");
    bed.finish_without_zombies(vec![]);
}
