//! Support for the project's test bed (tests/testbed/), shared by the tests and benchmarks that
//! start the fake hosts; not used by the adaptor itself.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A script of the test bed (tests/testbed/ at the top of the workspace).
pub fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/testbed").join(name)
}

/// Run `bash <script> <verb> <dir>` (e.g. `sshd.sh start DIR`); its standard output, or what it
/// said when it failed.
pub fn run(name: &str, verb: &str, dir: &Path) -> Result<String, String> {
    let out = Command::new("bash")
        .arg(script(name))
        .arg(verb)
        .arg(dir)
        .output()
        .map_err(|e| format!("cannot run {name}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{name} {verb} {} failed ({}): {}{}",
            dir.display(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// The fake hosts have fixed names (namespaces gat-h1, gat-h2, bridge br-gat): one user at a
/// time on the machine, across processes too (cargo nextest runs tests in parallel processes).
/// Holds an exclusive lock on `$TMPDIR/gat-fakehosts.lock` until the returned file is dropped;
/// waits at most 600 s for it.
pub fn fake_hosts_lock() -> File {
    let path = std::env::temp_dir().join("gat-fakehosts.lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        match file.try_lock() {
            Ok(()) => return file,
            Err(TryLockError::WouldBlock) => {
                assert!(
                    Instant::now() < deadline,
                    "the fake hosts stayed in use by another test for 600 s ({})",
                    path.display()
                );
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(TryLockError::Error(e)) => panic!("locking {}: {e}", path.display()),
        }
    }
}

/// The engine configuration of the fake hosts started in `hosts_dir`: `[resources.h1]` and
/// `[resources.h2]`, with work areas `<root>/work-h1` and `<root>/work-h2` (made here, mode
/// 0777: jobs run as jobtest).
pub fn fake_host_resources(root: &Path, hosts_dir: &Path) -> String {
    use std::os::unix::fs::PermissionsExt;
    let mut config = String::new();
    for k in [1, 2] {
        let area = root.join(format!("work-h{k}"));
        std::fs::create_dir_all(&area).unwrap_or_else(|e| panic!("{}: {e}", area.display()));
        std::fs::set_permissions(&area, std::fs::Permissions::from_mode(0o777))
            .unwrap_or_else(|e| panic!("chmod {}: {e}", area.display()));
        config.push_str(&format!(
            "[resources.h{k}]\ncontact = \"ssh://jobtest@10.203.0.{k}:22\"\nwork_dir = \"{}\"\n\
             ssh_options = [\"-F\", \"{}/ssh_config\"]\n",
            area.display(),
            hosts_dir.display()
        ));
    }
    config
}
