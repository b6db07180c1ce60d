//! `cargo bench --bench submit`: builds benches/submit_throughput.c against the library this
//! bench was built with (the release profile) and runs it with a fresh GAT_STATE_DIR. Arguments
//! after `--` go to the C program: `cargo bench --bench submit -- 500 1000000 100000`.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    // <target>/<profile>/deps/submit-<hash>: cargo writes the library built with this bench
    // into deps/ (and copies it up to <profile>/ only for `cargo build`).
    let exe = std::env::current_exe().expect("the bench executable's path");
    let build_dir = exe.parent().expect("the deps directory").to_path_buf();
    let lib = build_dir.join("libgat.so");
    assert!(lib.exists(), "{} is missing", lib.display());

    let work = tempfile::tempdir().expect("a temporary directory");
    // The library's SONAME is libgat.so.0: give the loader that name beside libgat.so.
    let libdir = work.path().join("lib");
    std::fs::create_dir(&libdir).expect("lib directory");
    for name in ["libgat.so", "libgat.so.0"] {
        std::os::unix::fs::symlink(&lib, libdir.join(name)).expect("symlinking libgat.so");
    }
    // The job server program where an installed library finds it (`bin/` beside `lib/`):
    // measured is what `make install` gives a C program.
    let monitor = build_dir.parent().expect("the profile directory").join("gat-job-monitor");
    assert!(
        monitor.exists(),
        "{} is missing: `cargo build --release -p gat-adaptor-local --bin gat-job-monitor` first (make bench does)",
        monitor.display()
    );
    let bindir = work.path().join("bin");
    std::fs::create_dir(&bindir).expect("bin directory");
    std::os::unix::fs::symlink(&monitor, bindir.join("gat-job-monitor")).expect("symlinking gat-job-monitor");
    let program = work.path().join("submit_throughput");
    let status = Command::new("cc")
        .args(["-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-pedantic"])
        .arg(root.join("benches/submit_throughput.c"))
        .arg("-I")
        .arg(root.join("include"))
        .arg("-o")
        .arg(&program)
        .arg("-L")
        .arg(&libdir)
        .arg("-lgat")
        .arg(format!("-Wl,-rpath,{}", libdir.display()))
        .status()
        .expect("running cc");
    assert!(status.success(), "compiling benches/submit_throughput.c failed");

    // cargo passes `--bench` to harness=false benches; only plain numbers go to the program.
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a.parse::<f64>().is_ok()).collect();
    let state = work.path().join("state");
    let status = Command::new(&program)
        .args(&args)
        .env("GAT_STATE_DIR", &state)
        .status()
        .expect("running submit_throughput");
    assert!(status.success(), "submit_throughput failed ({status})");
}
