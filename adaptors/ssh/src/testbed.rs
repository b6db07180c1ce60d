//! Support for the project's test bed (tests/testbed/), shared by the tests and benchmarks that
//! start the fake hosts; not used by the adaptor itself.

use std::fs::{File, OpenOptions, TryLockError};
use std::time::{Duration, Instant};

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
