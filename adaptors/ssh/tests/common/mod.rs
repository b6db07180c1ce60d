//! Test bed for the ssh adaptor's tests: tests/testbed/sshd.sh and hosts.sh in temporary
//! directories, stopped by a guard's Drop. A test bed that cannot start fails the test.
#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use gat_adaptor::{Adaptor, NativeJob, NativeState, Requirements, Resource};
use gat_adaptor_ssh::{SshAdaptor, SshConfig, SshResourceConfig};

use gat_adaptor_ssh::testbed::run as run_script;

/// A temporary directory jobtest can traverse (0755) or write (0777).
pub fn open_tempdir(mode: u32) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("gat-ssh-")
        .tempdir()
        .expect("temporary directory");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(mode)).expect("chmod");
    dir
}

/// A private sshd on 127.0.0.1 (sshd.sh); stopped on drop.
pub struct Sshd {
    pub dir: tempfile::TempDir,
    pub port: u16,
}

impl Sshd {
    pub fn start() -> Sshd {
        Sshd::start_in(open_tempdir(0o755))
    }
    /// An sshd that allows `n` channels (sessions) per connection: sshd_config's MaxSessions.
    pub fn start_with_max_sessions(n: u32) -> Sshd {
        let dir = open_tempdir(0o755);
        std::fs::write(dir.path().join("max_sessions"), n.to_string()).expect("max_sessions");
        Sshd::start_in(dir)
    }
    fn start_in(dir: tempfile::TempDir) -> Sshd {
        run_script("sshd.sh", "start", dir.path())
            .unwrap_or_else(|e| panic!("the test sshd did not start: {e}"));
        let port = std::fs::read_to_string(dir.path().join("port"))
            .expect("sshd.sh wrote no port file")
            .trim()
            .parse()
            .expect("port number");
        Sshd { dir, port }
    }
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    /// A work area jobtest can write, removed with the test bed (job directories land there).
    pub fn work_dir(&self) -> PathBuf {
        let w = self.path("work");
        std::fs::create_dir_all(&w).expect("work dir");
        std::fs::set_permissions(&w, std::fs::Permissions::from_mode(0o777))
            .expect("chmod work dir");
        w
    }
    pub fn contact(&self) -> String {
        format!("ssh://jobtest@127.0.0.1:{}", self.port)
    }
    pub fn options(&self) -> Vec<String> {
        vec!["-F".into(), self.path("ssh_config").display().to_string()]
    }
    pub fn stop(&self) {
        run_script("sshd.sh", "stop", self.dir.path()).unwrap_or_else(|e| panic!("{e}"));
    }
    /// Start again after stop(): same port, same host key.
    pub fn restart(&self) {
        run_script("sshd.sh", "start", self.dir.path())
            .unwrap_or_else(|e| panic!("the test sshd did not restart: {e}"));
    }
    pub fn resource_config(&self, name: &str) -> SshResourceConfig {
        SshResourceConfig {
            name: name.into(),
            contact: self.contact(),
            ssh_options: self.options(),
            work_dir: None,
        }
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        if let Err(e) = run_script("sshd.sh", "stop", self.dir.path()) {
            eprintln!("{e}");
        }
    }
}

/// Fake hosts h1, h2 (hosts.sh); stopped on drop. Only one at a time (fixed names).
pub struct FakeHosts {
    pub dir: tempfile::TempDir,
    /// Held until after the hosts are stopped (fields drop after `Drop::drop`).
    _lock: std::fs::File,
}

impl FakeHosts {
    pub fn start() -> FakeHosts {
        let lock = gat_adaptor_ssh::testbed::fake_hosts_lock();
        let dir = open_tempdir(0o755);
        run_script("hosts.sh", "start", dir.path())
            .unwrap_or_else(|e| panic!("the fake hosts did not start: {e}"));
        FakeHosts { dir, _lock: lock }
    }
    pub fn resource_config(&self, k: u8) -> SshResourceConfig {
        SshResourceConfig {
            name: format!("h{k}"),
            contact: format!("ssh://jobtest@10.203.0.{k}:22"),
            ssh_options: vec![
                "-F".into(),
                self.dir.path().join("ssh_config").display().to_string(),
            ],
            work_dir: None,
        }
    }
}

impl Drop for FakeHosts {
    fn drop(&mut self) {
        if let Err(e) = run_script("hosts.sh", "stop", self.dir.path()) {
            eprintln!("{e}");
        }
    }
}

/// An adaptor with its own control directory (kept alive with it).
pub struct TestAdaptor {
    pub adaptor: Arc<SshAdaptor>,
    pub control: tempfile::TempDir,
}

impl TestAdaptor {
    pub fn new(resources: Vec<SshResourceConfig>) -> TestAdaptor {
        TestAdaptor::with(resources, |a| a)
    }
    /// An adaptor set up by `tune` (timeouts, sessions).
    pub fn with(
        resources: Vec<SshResourceConfig>,
        tune: impl FnOnce(SshAdaptor) -> SshAdaptor,
    ) -> TestAdaptor {
        let control = tempfile::Builder::new()
            .prefix("gcm")
            .tempdir()
            .expect("control dir");
        let adaptor = SshAdaptor::new(SshConfig {
            resources,
            control_dir: control.path().to_path_buf(),
        })
        .expect("ssh adaptor");
        TestAdaptor {
            adaptor: Arc::new(tune(adaptor)),
            control,
        }
    }
    pub fn resource(&self, name: &str) -> Resource {
        self.adaptor
            .resources(&Requirements::default())
            .expect("resources")
            .into_iter()
            .find(|r| r.name == name)
            .unwrap_or_else(|| panic!("no resource {name}"))
    }
}

/// One sshd and adaptor shared by the tests of a binary that run at the same time.
pub struct Shared {
    pub adaptor: TestAdaptor,
    pub resource: Resource,
    pub sshd: Sshd,
}

pub fn shared() -> Arc<Shared> {
    static SHARED: Mutex<Weak<Shared>> = Mutex::new(Weak::new());
    let mut slot = SHARED.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(s) = slot.upgrade() {
        return s;
    }
    let sshd = Sshd::start();
    let mut config = sshd.resource_config("local-sshd");
    config.work_dir = Some(sshd.work_dir());
    let adaptor = TestAdaptor::new(vec![config]);
    let resource = adaptor.resource("local-sshd");
    let s = Arc::new(Shared {
        adaptor,
        resource,
        sshd,
    });
    *slot = Arc::downgrade(&s);
    s
}

/// Poll one job until `pred` holds, bounded.
pub fn wait_state(
    a: &dyn Adaptor,
    job: &NativeJob,
    timeout: Duration,
    what: &str,
    pred: impl Fn(&NativeState) -> bool,
) -> NativeState {
    let start = Instant::now();
    loop {
        let s = a.poll(&[job]).expect("poll").remove(0);
        if pred(&s) {
            return s;
        }
        assert!(
            start.elapsed() < timeout,
            "timed out waiting for {what}; last state {s:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
