//! `cargo bench --bench ssh` (root, openssh-server, iproute2; the test bed scripts create the
//! user jobtest): in one run, on the fake hosts of tests/testbed/hosts.sh,
//!
//! 1. submit latency: `Engine::submit` of `/bin/true` on h1, one at a time, against raw
//!    multiplexed ssh doing the same start (`ssh -o ControlPath=... h1 'setsid -f true'`), and
//!    the floor beside them: a multiplexed `ssh h1 true`; and against the strongest raw
//!    baseline, `setsid -f true` as one line to a shell kept open on h1 (libgat keeps its own
//!    shells open too, but records each job's pid and exit status);
//! 2. submit throughput: N jobs from 4 threads, until the engine reports every one Stopped,
//!    against N raw multiplexed `setsid -f true` calls from 4 threads;
//! 3. a migration h1 -> h2 of a job whose checkpoint state is 1 GiB, against a raw
//!    `scp h1:state h2:copy` of the same bytes (through this machine, scp's default).
//!
//! Figures are printed as ratios engine / raw (docs/BENCHMARKS.md, section SSH). Arguments:
//! `cargo bench --bench ssh -- [jobs] [state MiB]` (defaults 100 and 1024).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gat::engine::config::Config;
use gat::engine::core::adaptors_for;
use gat::engine::description::JobDescription;
use gat::engine::{
    Engine, HardwareResource, Job, JobState, ObjectValue, Preferences, ResourceChoice, SoftwareDescription, Table,
    Value,
};

fn testbed(script: &str, verb: &str, dir: &Path) -> Result<(), String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/testbed").join(script);
    let out = Command::new("bash").arg(path).arg(verb).arg(dir).output().map_err(|e| format!("{script}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("{script} {verb} failed: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
    }
}

/// Fake hosts h1, h2, stopped on drop (after the engine, which closes its masters).
struct Hosts {
    dir: PathBuf,
    engine: Option<Arc<Engine>>,
    raw_control: PathBuf,
    _lock: std::fs::File,
}

impl Drop for Hosts {
    fn drop(&mut self) {
        drop(self.engine.take());
        let _ = Command::new("ssh")
            .args(raw_options(&self.dir, &self.raw_control))
            .args(["-O", "exit", "10.203.0.1"])
            .output();
        if let Err(e) = testbed("hosts.sh", "stop", &self.dir) {
            eprintln!("{e}");
        }
    }
}

fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// The options of the raw baseline: the test bed's ssh_config and a ControlMaster of its own.
fn raw_options(hosts: &Path, control: &Path) -> Vec<String> {
    vec![
        "-F".into(),
        hosts.join("ssh_config").display().to_string(),
        "-o".into(),
        "ControlMaster=auto".into(),
        "-o".into(),
        format!("ControlPath={}/%C", control.display()),
        "-o".into(),
        "ControlPersist=60".into(),
    ]
}

fn raw_start(hosts: &Path, control: &Path) {
    raw_command(hosts, control, "setsid -f true");
}

/// One multiplexed call of `command` on h1 through the raw side's own master.
fn raw_command(hosts: &Path, control: &Path, command: &str) {
    let out = Command::new("ssh")
        .args(raw_options(hosts, control))
        .args(["10.203.0.1", command])
        .output()
        .expect("ssh");
    assert!(out.status.success(), "raw ssh failed: {}", String::from_utf8_lossy(&out.stderr));
}

/// `ssh h1 'exec /bin/sh -s'` kept open: each job is one line, `setsid -f true`, answered by an
/// echo (what a hand-written tool keeping a shell open would do; no pid, no exit status kept).
struct OpenShell {
    child: std::process::Child,
    input: std::process::ChildStdin,
    output: std::io::BufReader<std::process::ChildStdout>,
}

impl OpenShell {
    fn start(hosts: &Path, control: &Path) -> OpenShell {
        use std::process::Stdio;
        let mut child = Command::new("ssh")
            .args(raw_options(hosts, control))
            .args(["10.203.0.1", "exec /bin/sh -s"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("ssh");
        let input = child.stdin.take().expect("stdin");
        let output = std::io::BufReader::new(child.stdout.take().expect("stdout"));
        OpenShell { child, input, output }
    }

    fn start_true(&mut self) {
        use std::io::{BufRead, Write};
        self.input.write_all(b"setsid -f true </dev/null >/dev/null 2>&1; echo started\n").expect("to the open shell");
        let mut line = String::new();
        self.output.read_line(&mut line).expect("from the open shell");
        assert_eq!(line, "started\n", "the open shell answered {line:?}");
    }
}

impl Drop for OpenShell {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn software(location: &str, args: &[&str], checkpointable: bool) -> Arc<SoftwareDescription> {
    let mut t = Table::new();
    t.add("location", Value::String(location.into())).unwrap();
    let args = args.iter().map(|s| s.to_string()).collect();
    t.add("arguments", Value::Object(ObjectValue::ListString(args))).unwrap();
    if checkpointable {
        t.add("checkpointable", Value::Int16(1)).unwrap();
    }
    Arc::new(SoftwareDescription::from_table(&t).expect("software description"))
}

fn submit(engine: &Engine, sw: &Arc<SoftwareDescription>, on: &Arc<HardwareResource>) -> Job {
    let jd = JobDescription { software: sw.clone(), resource: Some(ResourceChoice::Resource(on.clone())) };
    engine.submit(&jd, &Preferences::new()).expect("submit")
}

fn wait_stopped(jobs: &[Job], limit: Duration) {
    let deadline = Instant::now() + limit;
    while jobs.iter().any(|j| j.state() != JobState::Stopped) {
        assert!(Instant::now() < deadline, "jobs did not all stop within {limit:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// 1 GiB (or `mib`) of incompressible bytes (xorshift), owned by jobtest so its job can link it.
fn make_state(path: &Path, mib: usize) {
    use std::io::Write;
    let mut f = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path).expect("state file"));
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
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
    let status = Command::new("chown").arg("jobtest").arg(path).status().expect("chown");
    assert!(status.success());
    chmod(path, 0o644);
}

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let jobs = args.first().copied().unwrap_or(100).max(8);
    let state_mib = args.get(1).copied().unwrap_or(1024).max(1);

    let tmp = tempfile::Builder::new().prefix("gat-sshbench-").tempdir().expect("temp dir");
    let root = tmp.path().to_path_buf();
    chmod(&root, 0o755);
    let hosts_dir = root.join("hosts");
    let raw_control = root.join("rc");
    std::fs::create_dir(&raw_control).expect("control dir");
    chmod(&raw_control, 0o700);
    let mut hosts =
        Hosts { dir: hosts_dir.clone(), engine: None, raw_control: raw_control.clone(), _lock: gat_adaptor_ssh::testbed::fake_hosts_lock() };
    testbed("hosts.sh", "start", &hosts_dir).unwrap_or_else(|e| panic!("the fake hosts did not start: {e}"));
    let config = gat_adaptor_ssh::testbed::fake_host_resources(&root, &hosts_dir);
    let config = Config::parse(&config).expect("config");
    let state = root.join("state");
    let engine = Engine::open_with_config(&state, adaptors_for(&state, &config), config).expect("engine");
    hosts.engine = Some(engine.clone());
    // The transport alone, for the breakdown: an adaptor of its own running an empty script.
    let probe = gat_adaptor_ssh::SshAdaptor::new(gat_adaptor_ssh::SshConfig {
        resources: vec![gat_adaptor_ssh::SshResourceConfig {
            name: "h1".into(),
            contact: "ssh://jobtest@10.203.0.1:22".into(),
            ssh_options: vec!["-F".into(), hosts_dir.join("ssh_config").display().to_string()],
            work_dir: Some(root.join("work-h1")),
        }],
        control_dir: root.join("ac"),
    })
    .expect("probe adaptor");
    let empty_script = "printf 'GAT-BEGIN\\n'\n";
    let h1 = Arc::new(engine.hardware_resource("h1").expect("h1"));
    let h2 = Arc::new(engine.hardware_resource("h2").expect("h2"));
    let truth = software("/bin/true", &[], false);

    println!("ssh benchmark: fake hosts h1, h2 (network namespaces, OpenSSH); {jobs} jobs; {state_mib} MiB state");

    // Warm-up: both masters up, code paths hot.
    let mut warm = Vec::new();
    for _ in 0..5 {
        warm.push(submit(&engine, &truth, &h1));
        raw_start(&hosts_dir, &raw_control);
        probe.run_script("h1", empty_script).expect("probe");
    }
    wait_stopped(&warm, Duration::from_secs(60));

    // 1. Latency, interleaved so both see the same machine load.
    let n = jobs.min(50);
    let ssh = engine.adaptor("ssh").expect("ssh adaptor");
    let (mut engine_ms, mut raw_ms, mut bare_ms) = (Vec::new(), Vec::new(), Vec::new());
    let (mut submit_ms, mut empty_ms, mut natives) = (Vec::new(), Vec::new(), Vec::new());
    let mut raw_sh_ms = Vec::new();
    // The strongest raw baseline: one shell kept open on h1, as libgat keeps its sessions.
    let mut open_shell = OpenShell::start(&hosts_dir, &raw_control);
    let mut open_shell_ms = Vec::new();
    let mut started = Vec::new();
    for i in 0..n {
        let t = Instant::now();
        started.push(submit(&engine, &truth, &h1));
        engine_ms.push(ms(t.elapsed()));
        let t = Instant::now();
        raw_start(&hosts_dir, &raw_control);
        raw_ms.push(ms(t.elapsed()));
        // The floor: a multiplexed round trip that starts nothing but the login shell.
        let t = Instant::now();
        raw_command(&hosts_dir, &raw_control, "true");
        bare_ms.push(ms(t.elapsed()));
        // What the adaptor's transport runs, from the raw side (stdin empty).
        let t = Instant::now();
        raw_command(&hosts_dir, &raw_control, "exec /bin/sh -s");
        raw_sh_ms.push(ms(t.elapsed()));
        let t = Instant::now();
        open_shell.start_true();
        open_shell_ms.push(ms(t.elapsed()));
        // The adaptor's transport with an empty script, then the ssh adaptor's submit alone.
        let t = Instant::now();
        probe.run_script("h1", empty_script).expect("probe");
        empty_ms.push(ms(t.elapsed()));
        let spec = gat_adaptor::JobSpec {
            id: format!("bench-{i}"),
            executable: "/bin/true".into(),
            job_dir: root.join("adaptor-jobs").join(i.to_string()),
            ..Default::default()
        };
        let t = Instant::now();
        natives.push(ssh.submit(&spec, &h1.resource).expect("adaptor submit"));
        submit_ms.push(ms(t.elapsed()));
    }
    wait_stopped(&started, Duration::from_secs(120));
    let (e_med, r_med) = (median(engine_ms.clone()), median(raw_ms.clone()));
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    println!("| submit latency, median of {n} | {e_med:.1} ms | {r_med:.1} ms | {:.2} |", e_med / r_med);
    println!(
        "| submit latency, mean of {n} | {:.1} ms | {:.1} ms | {:.2} |",
        mean(&engine_ms),
        mean(&raw_ms),
        mean(&engine_ms) / mean(&raw_ms)
    );
    println!(
        "| submit latency against raw `setsid -f true` through one shell kept open on h1, median | {e_med:.1} ms | \
         {:.1} ms | {:.2} |",
        median(open_shell_ms.clone()),
        e_med / median(open_shell_ms)
    );
    drop(open_shell);
    let s_med = median(submit_ms);
    println!(
        "| of which (medians): ssh adaptor submit {s_med:.1} ms, the engine's own work {:.1} ms | | | |",
        e_med - s_med
    );
    println!(
        "| floor (medians): the adaptor's transport with an empty script {:.1} ms; raw `ssh h1 'exec /bin/sh -s'` \
         {:.1} ms; raw `ssh h1 true` {:.1} ms | | | |",
        median(empty_ms),
        median(raw_sh_ms),
        median(bare_ms)
    );

    // A state query (the poller's: one round trip per host), for comparison.
    let mut poll_ms = Vec::new();
    for native in &natives {
        let t = Instant::now();
        ssh.poll(&[native]).expect("adaptor poll");
        poll_ms.push(ms(t.elapsed()));
    }
    println!("| a state query (poll of one job), median | {:.1} ms | | |", median(poll_ms));

    // 2. Throughput: 4 submitters; the engine's count ends when every job is seen Stopped.
    let threads = 4;
    let per = jobs / threads;
    let t = Instant::now();
    let all: Vec<Job> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| s.spawn(|| (0..per).map(|_| submit(&engine, &truth, &h1)).collect::<Vec<_>>()))
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("submitter")).collect()
    });
    let submitted_s = t.elapsed().as_secs_f64();
    wait_stopped(&all, Duration::from_secs(300));
    let engine_rate = all.len() as f64 / t.elapsed().as_secs_f64();
    let t = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| (0..per).for_each(|_| raw_start(&hosts_dir, &raw_control)));
        }
    });
    let raw_rate = (per * threads) as f64 / t.elapsed().as_secs_f64();
    println!(
        "| submit throughput, {} jobs from {threads} threads | {engine_rate:.1} jobs/s | {raw_rate:.1} jobs/s | {:.2} (time) |",
        all.len(),
        raw_rate / engine_rate
    );
    println!(
        "| of which: all submits returned after {submitted_s:.2} s ({:.1} jobs/s), the rest waits for the poller to see \
         every job Stopped | | | |",
        all.len() as f64 / submitted_s
    );

    // 3. Migration h1 -> h2 of a job with `state_mib` MiB of state, against raw scp h1 -> h2.
    let big = root.join("work-h1/big.state");
    make_state(&big, state_mib);
    let job_script = root.join("bigstate.sh");
    std::fs::write(
        &job_script,
        "#!/bin/sh\n# Its state is the big file: a checkpoint links it (no time spent writing it).\n\
         trap 'ln -f \"$1\" \"$GAT_CHECKPOINT_FILE\"; : > \"$GAT_CHECKPOINT_DONE\"' USR2\n\
         while :; do sleep 0.05 & wait $!; done\n",
    )
    .expect("job script");
    chmod(&job_script, 0o755);
    let bigjob = software(&job_script.display().to_string(), &[&big.display().to_string()], true);
    let job = submit(&engine, &bigjob, &h1);
    // A first checkpoint alone: signal, fetch off h1, hash into the store (the first half).
    std::thread::sleep(Duration::from_millis(300));
    let t = Instant::now();
    job.checkpoint().expect("checkpoint");
    let checkpoint_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let moved = job.migrate(Some(h2.clone())).expect("migrate h1 -> h2");
    let migrate_s = t.elapsed().as_secs_f64();
    assert_eq!(moved.info().get_str("hostname").ok(), Some("h2"));
    moved.stop().expect("stop");
    drop(moved);
    drop(job);

    let scp = |src: &str, dst: &str| -> f64 {
        let t = Instant::now();
        let out = Command::new("scp")
            .args(["-q", "-F"])
            .arg(hosts_dir.join("ssh_config"))
            .args([src, dst])
            .output()
            .expect("scp");
        assert!(out.status.success(), "scp {src} {dst}: {}", String::from_utf8_lossy(&out.stderr));
        t.elapsed().as_secs_f64()
    };
    let copy_on_h2 = root.join("work-h2/raw-copy.state");
    let raw_s = scp(&format!("10.203.0.1:{}", big.display()), &format!("10.203.0.2:{}", copy_on_h2.display()));
    let _ = std::fs::remove_file(&copy_on_h2);
    let local_copy = root.join("raw-local.state");
    let down_s = scp(&format!("10.203.0.1:{}", big.display()), &local_copy.display().to_string());
    let up_s = scp(&local_copy.display().to_string(), &format!("10.203.0.2:{}", copy_on_h2.display()));
    let hash_s = {
        let t = Instant::now();
        let mut hasher = blake3::Hasher::new();
        let mut f = std::fs::File::open(&local_copy).expect("state copy");
        std::io::copy(&mut f, &mut hasher).expect("hash");
        t.elapsed().as_secs_f64()
    };
    println!(
        "| migration h1 -> h2, {state_mib} MiB state | {migrate_s:.2} s | {raw_s:.2} s (scp h1 -> h2) | {:.2} |",
        migrate_s / raw_s
    );
    println!(
        "| of which for comparison: checkpoint alone (signal, fetch off h1, hash) {checkpoint_s:.2} s; \
         raw scp h1 -> here {down_s:.2} s, here -> h2 {up_s:.2} s; blake3 of the state {hash_s:.2} s |"
    );
}
