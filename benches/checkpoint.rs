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
    let engine = engine(root);
    // Rounds alternate raw and libgat, each starting from a flushed page cache (`sync`), so
    // neither side pays for the other's dirty pages; medians are reported.
    let rounds: usize = std::env::var("GAT_BENCH_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(5);
    let (mut raw, mut checkpoints, mut migrations) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        sync();
        let (write, copy) = raw_floor(root, &source);
        println!("round {round}: raw floor: the job's write {write:.3} s + plain copy {copy:.3} s = {:.3} s", write + copy);
        raw.push(write + copy);

        let (from, to) = if round % 2 == 0 { ("nodeA", "nodeB") } else { ("nodeB", "nodeA") };
        let big = big_state_job(&engine, &source, from);
        sync();
        let t = Instant::now();
        big.checkpoint().expect("checkpoint");
        checkpoints.push(t.elapsed().as_secs_f64());
        sync();
        let target = Arc::new(engine.hardware_resource(to).expect("target"));
        let t = Instant::now();
        let moved = big.migrate(Some(target)).expect("migrate");
        migrations.push(t.elapsed().as_secs_f64());
        moved.stop().expect("stop");
        println!(
            "round {round}: libgat checkpoint {:.3} s, migration {from} -> {to} {:.3} s",
            checkpoints[round], migrations[round]
        );
    }
    // Large writes here are bound by the disk's writeback, which varies from round to round:
    // compare within a round, and report the median of the per-round ratios.
    let mut checkpoint_ratios: Vec<f64> = checkpoints.iter().zip(&raw).map(|(c, r)| c / r).collect();
    let mut migration_ratios: Vec<f64> = migrations.iter().zip(&raw).map(|(m, r)| m / r).collect();
    println!("checkpoint / raw per round: {checkpoint_ratios:.2?}; migration / raw per round: {migration_ratios:.2?}");
    let (raw, checkpoint, migration) = (median(&mut raw), median(&mut checkpoints), median(&mut migrations));
    println!("medians: raw floor (write + copy of {mib} MiB) {raw:.3} s, checkpoint {checkpoint:.3} s, migration {migration:.3} s");
    println!(
        "libgat checkpoint of {mib} MiB: {:.2}x the raw floor (median of rounds; target <= 1.3x)",
        median(&mut checkpoint_ratios)
    );
    println!(
        "libgat local migration with {mib} MiB: {:.2}x the raw floor (median of rounds; target <= 1.3x)",
        median(&mut migration_ratios)
    );

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

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn sync() {
    let _ = Command::new("sync").status();
}

fn timed(cmd: &mut Command) -> f64 {
    let t = Instant::now();
    let status = cmd.status().expect("run");
    assert!(status.success(), "{cmd:?}");
    t.elapsed().as_secs_f64()
}

/// The job's own write of the state (the same `cat` the benchmark job runs) and a plain `cp`.
/// Files are kept until the end of the run: deleting a large file on a file system mounted with
/// `discard` makes the next large write wait, which would be charged to whoever writes next.
fn raw_floor(root: &Path, source: &Path) -> (f64, f64) {
    static ROUND: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = ROUND.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let written = root.join(format!("raw.written.{n}"));
    let copied = root.join(format!("raw.copied.{n}"));
    let write = timed(Command::new("sh").arg("-c").arg(format!("cat '{}' > '{}'", source.display(), written.display())));
    let copy = timed(Command::new("cp").arg(&written).arg(&copied));
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
