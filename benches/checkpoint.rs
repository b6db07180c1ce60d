//! Checkpoint and local migration of a job holding a large state, against the raw floor measured
//! in the same run (the job's own write of that state plus a plain copy of it), and the overhead
//! of a tiny checkpoint over one signal round trip. Figures go to docs/BENCHMARKS.md.
//!
//!     cargo bench --bench checkpoint                 # 1 GiB state, 20 tiny checkpoints
//!     cargo bench --bench checkpoint -- 256 50       # MiB of state, tiny checkpoints

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gat::engine::config::Config;
use gat::engine::description::JobDescription;
use gat::engine::{Engine, Job, ObjectValue, Preferences, ResourceChoice, SoftwareDescription, Table, Value};
use gat_adaptor_local::LocalAdaptor;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let mib: u64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(1024);
    let tiny_rounds: u32 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(20);
    let dir = tempfile::Builder::new().prefix("gat-bench-ckpt").tempdir_in(bench_root()).expect("temp dir");
    let root = dir.path();
    println!("# checkpoint benchmark in {} ({mib} MiB of state)", root.display());

    let source = root.join("state.src");
    write_random(&source, mib << 20);
    let (raw_write, raw_copy) = raw_floor(root, &source);
    println!("raw floor: the job's write {:.3} s + plain copy {:.3} s = {:.3} s", raw_write, raw_copy, raw_write + raw_copy);

    let engine = engine(root);
    let big = big_state_job(&engine, &source, "nodeA");
    let t = Instant::now();
    big.checkpoint().expect("checkpoint");
    let checkpoint = t.elapsed().as_secs_f64();
    println!(
        "libgat checkpoint of {mib} MiB: {checkpoint:.3} s = {:.2}x the raw floor (target <= 1.3x)",
        checkpoint / (raw_write + raw_copy)
    );
    let target = Arc::new(engine.hardware_resource("nodeB").expect("nodeB"));
    let t = Instant::now();
    let moved = big.migrate(Some(target)).expect("migrate");
    let migration = t.elapsed().as_secs_f64();
    println!(
        "libgat migration nodeA -> nodeB with {mib} MiB: {migration:.3} s = {:.2}x the raw floor (target <= 1.3x)",
        migration / (raw_write + raw_copy)
    );
    moved.stop().expect("stop");

    let (raw_rtt, ours) = tiny(&engine, root, tiny_rounds);
    println!(
        "tiny checkpoint: {:.3} ms vs one signal round trip {:.3} ms: overhead {:.3} ms ({:.1}x)",
        ours * 1e3,
        raw_rtt * 1e3,
        (ours - raw_rtt) * 1e3,
        ours / raw_rtt
    );
}

/// Where large temporary files go: $GAT_BENCH_DIR, else the system temporary directory.
fn bench_root() -> PathBuf {
    std::env::var_os("GAT_BENCH_DIR").map(PathBuf::from).unwrap_or_else(std::env::temp_dir)
}

fn write_random(path: &Path, bytes: u64) {
    // xorshift: incompressible enough, and far faster than /dev/urandom.
    let mut f = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path).unwrap());
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut buf = vec![0u8; 1 << 20];
    let mut left = bytes;
    while left > 0 {
        for chunk in buf.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
        }
        let n = left.min(buf.len() as u64) as usize;
        f.write_all(&buf[..n]).unwrap();
        left -= n as u64;
    }
    f.flush().unwrap();
}

fn timed(cmd: &mut Command) -> f64 {
    let t = Instant::now();
    let status = cmd.status().expect("run");
    assert!(status.success(), "{cmd:?}");
    t.elapsed().as_secs_f64()
}

/// The job's own write of the state (the same `cat` the benchmark job runs) and a plain `cp`.
fn raw_floor(root: &Path, source: &Path) -> (f64, f64) {
    let written = root.join("raw.written");
    let copied = root.join("raw.copied");
    let write = timed(Command::new("sh").arg("-c").arg(format!("cat '{}' > '{}'", source.display(), written.display())));
    let copy = timed(Command::new("cp").arg(&written).arg(&copied));
    let _ = std::fs::remove_file(written);
    let _ = std::fs::remove_file(copied);
    (write, copy)
}

fn engine(root: &Path) -> Arc<Engine> {
    let config = format!(
        "[resources.nodeA]\ncontact = \"local:\"\nwork_dir = \"{0}/nodeA\"\n\
         [resources.nodeB]\ncontact = \"local:\"\nwork_dir = \"{0}/nodeB\"\n",
        root.display()
    );
    for node in ["nodeA", "nodeB"] {
        std::fs::create_dir_all(root.join(node)).unwrap();
    }
    Engine::open_with_config(
        &root.join("state"),
        vec![Arc::new(LocalAdaptor::default())],
        Config::parse(&config).unwrap(),
    )
    .expect("engine")
}

fn submit(engine: &Arc<Engine>, script: &str, node: &str) -> Job {
    let mut t = Table::new();
    t.add("location", Value::String("/bin/sh".into())).unwrap();
    let args = vec!["-c".to_string(), script.to_string()];
    t.add("arguments", Value::Object(ObjectValue::ListString(args))).unwrap();
    t.add("checkpointable", Value::Int16(1)).unwrap();
    t.add("checkpoint.timeout", Value::Double(600.0)).unwrap();
    let sw = SoftwareDescription::from_table(&t).unwrap();
    let resource = Arc::new(engine.hardware_resource(node).unwrap());
    let jd = JobDescription { software: Arc::new(sw), resource: Some(ResourceChoice::Resource(resource)) };
    engine.submit(&jd, &Preferences::new()).expect("submit")
}

/// A job whose state is a copy of `source`, written on each checkpoint request.
fn big_state_job(engine: &Arc<Engine>, source: &Path, node: &str) -> Job {
    let script = format!(
        "trap 'cat \"{}\" > \"$GAT_CHECKPOINT_FILE\"; : > \"$GAT_CHECKPOINT_DONE\"' USR2; \
         [ -n \"$GAT_RESTART_FILE\" ] && test -s \"$GAT_RESTART_FILE\"; \
         while :; do sleep 0.05 & wait $!; done",
        source.display()
    );
    submit(engine, &script, node)
}

/// Mean of a tiny checkpoint vs a raw round trip: signal a process that answers by creating a
/// file, and wait for the file.
fn tiny(engine: &Arc<Engine>, root: &Path, rounds: u32) -> (f64, f64) {
    let marker = root.join("rtt.done");
    let script = format!(
        "trap ': > \"{}\"' USR2; while :; do sleep 0.01 & wait $!; done",
        marker.display()
    );
    let mut child = Command::new("sh").arg("-c").arg(&script).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(200)); // the trap is set
    let mut raw = Duration::ZERO;
    for _ in 0..rounds {
        let _ = std::fs::remove_file(&marker);
        let t = Instant::now();
        Command::new("kill").args(["-USR2", &child.id().to_string()]).status().unwrap();
        while !marker.exists() {
            std::thread::sleep(Duration::from_micros(200));
        }
        raw += t.elapsed();
    }
    child.kill().unwrap();
    child.wait().unwrap();

    let job = submit(engine, "n=0; trap 'echo $n > \"$GAT_CHECKPOINT_FILE\"; : > \"$GAT_CHECKPOINT_DONE\"' USR2; \
                              while :; do sleep 0.01 & wait $!; n=$((n+1)); done", "nodeA");
    job.checkpoint().expect("warm-up checkpoint");
    let t = Instant::now();
    for _ in 0..rounds {
        job.checkpoint().expect("tiny checkpoint");
    }
    let ours = t.elapsed().as_secs_f64() / f64::from(rounds);
    job.stop().unwrap();
    (raw.as_secs_f64() / f64::from(rounds), ours)
}
