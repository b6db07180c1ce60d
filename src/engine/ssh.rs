//! The ssh adaptor as the engine builds it: one `SshAdaptor` for the configured `ssh://`
//! resources (each with its `ssh_options` and `work_dir`); bare `ssh://user@host:port` contacts
//! work through it too, with default options. Its ControlMaster sockets live in a short
//! directory: a socket path holds at most 107 bytes.

use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use std::sync::OnceLock;

use gat_adaptor::{
    Adaptor, Capabilities, Error as AdaptorError, EventSink, JobSpec, NativeJob, NativeState, Requirements, Resource,
    Result as AdaptorResult, Signal,
};
use gat_adaptor_ssh::{SshAdaptor, SshConfig, SshResourceConfig, MAX_CONTROL_DIR};

use super::config::Config;
use super::core::private_dir;
use super::error::{Error, Result};

/// The ssh adaptor for `config`'s `ssh://` resources, its sockets beside `state_dir`.
pub fn ssh_adaptor(state_dir: &Path, config: &Config) -> Result<SshAdaptor> {
    let resources = config
        .resources
        .iter()
        .filter(|r| r.contact.starts_with("ssh://"))
        .map(|r| SshResourceConfig {
            name: r.name.clone(),
            contact: r.contact.clone(),
            ssh_options: r.ssh_options.clone(),
            work_dir: r.work_dir.clone(),
        })
        .collect();
    let control_dir = control_dir(state_dir)?;
    SshAdaptor::new(SshConfig { resources, control_dir })
        .map_err(|e| Error::from(e).context("setting up the ssh adaptor"))
}

/// The ssh adaptor an engine offers: set up on first use, so an engine that never meets an
/// `ssh://` resource creates no socket directory and starts no ssh.
pub struct LazySsh {
    state_dir: PathBuf,
    config: Config,
    has_resources: bool,
    inner: OnceLock<std::result::Result<SshAdaptor, String>>,
}

impl LazySsh {
    pub fn new(state_dir: &Path, config: &Config) -> LazySsh {
        LazySsh {
            state_dir: state_dir.to_owned(),
            config: config.clone(),
            has_resources: config.resources.iter().any(|r| r.contact.starts_with("ssh://")),
            inner: OnceLock::new(),
        }
    }

    fn get(&self) -> AdaptorResult<&SshAdaptor> {
        self.inner
            .get_or_init(|| ssh_adaptor(&self.state_dir, &self.config).map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|why| AdaptorError::Failed(format!("the ssh adaptor is not available: {why}")))
    }
}

impl Drop for LazySsh {
    fn drop(&mut self) {
        if let Some(Ok(ssh)) = self.inner.take() {
            let dir = ssh_control_dir(&self.state_dir);
            drop(ssh); // closes its master connections
            // Only when empty: another engine on this state directory may still use it.
            if let Some(dir) = dir {
                let _ = std::fs::remove_dir(dir);
            }
        }
    }
}

fn ssh_control_dir(state_dir: &Path) -> Option<PathBuf> {
    control_dir(state_dir).ok()
}


impl Adaptor for LazySsh {
    fn name(&self) -> &str {
        gat_adaptor_ssh::NAME
    }
    fn capabilities(&self) -> Capabilities {
        gat_adaptor_ssh::CAPABILITIES
    }
    fn resources(&self, req: &Requirements) -> AdaptorResult<Vec<Resource>> {
        if !self.has_resources {
            return Ok(Vec::new());
        }
        self.get()?.resources(req)
    }
    fn resource_at(&self, name_or_contact: &str) -> AdaptorResult<Option<Resource>> {
        let configured = self.config.resource(name_or_contact).is_some_and(|r| r.contact.starts_with("ssh://"));
        if !configured && !name_or_contact.starts_with("ssh://") {
            return Ok(None);
        }
        self.get()?.resource_at(name_or_contact)
    }
    fn submit(&self, spec: &JobSpec, on: &Resource) -> AdaptorResult<NativeJob> {
        self.get()?.submit(spec, on)
    }
    fn poll(&self, jobs: &[&NativeJob]) -> AdaptorResult<Vec<NativeState>> {
        self.get()?.poll(jobs)
    }
    fn signal(&self, job: &NativeJob, sig: Signal) -> AdaptorResult<()> {
        self.get()?.signal(job, sig)
    }
    fn stop(&self, job: &NativeJob) -> AdaptorResult<()> {
        self.get()?.stop(job)
    }
    fn fetch(&self, job: &NativeJob, paths: &[PathBuf], into: &Path) -> AdaptorResult<()> {
        self.get()?.fetch(job, paths, into)
    }
    fn take(&self, job: &NativeJob, paths: &[PathBuf], into: &Path) -> AdaptorResult<()> {
        self.get()?.take(job, paths, into)
    }
    fn remove(&self, job: &NativeJob, paths: &[PathBuf]) -> AdaptorResult<()> {
        self.get()?.remove(job, paths)
    }
    fn signal_if_caught(&self, job: &NativeJob, sig: Signal) -> AdaptorResult<bool> {
        self.get()?.signal_if_caught(job, sig)
    }
    fn place(&self, on: &Resource, files: &Path, dir: &Path) -> AdaptorResult<()> {
        self.get()?.place(on, files, dir)
    }
    fn open_read(&self, job: &NativeJob, path: &Path) -> AdaptorResult<Box<dyn gat_adaptor::ReadStream>> {
        self.get()?.open_read(job, path)
    }
    fn write_from(&self, on: &Resource, dir: &Path, name: &Path, size: u64, from: &mut dyn std::io::Read) -> AdaptorResult<()> {
        self.get()?.write_from(on, dir, name, size, from)
    }
    /// The ssh adaptor pushes nothing: the engine polls it.
    fn set_event_sink(&self, _sink: EventSink) -> AdaptorResult<()> {
        Ok(())
    }
}

/// `<state>/ssh` when that is short and plain enough for socket paths, else
/// `/tmp/gat-ssh-<uid>-<hash of the state directory>` (one per state directory and user).
pub fn control_dir(state_dir: &Path) -> Result<PathBuf> {
    let beside = state_dir.join("ssh");
    let bytes = beside.as_os_str().as_bytes();
    let plain = bytes.iter().all(|b| b.is_ascii_alphanumeric() || b"/._-".contains(b));
    if beside.is_absolute() && plain && bytes.len() <= MAX_CONTROL_DIR {
        return Ok(beside);
    }
    private_dir(state_dir)?;
    let meta = std::fs::metadata(state_dir)
        .map_err(|e| Error::Io(format!("cannot read {}: {e}", state_dir.display())))?;
    let absolute = std::fs::canonicalize(state_dir).unwrap_or_else(|_| state_dir.to_owned());
    let hash = blake3::hash(absolute.as_os_str().as_bytes()).to_hex();
    Ok(PathBuf::from(format!("/tmp/gat-ssh-{}-{}", meta.uid(), &hash[..16])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_dir_is_short_enough_for_sockets() {
        let short = control_dir(Path::new("/tmp/st")).unwrap();
        assert_eq!(short, Path::new("/tmp/st/ssh"));
        let dir = tempfile::tempdir().unwrap();
        let long = dir.path().join("a".repeat(80)).join("state dir");
        let c = control_dir(&long).unwrap();
        assert!(c.as_os_str().len() <= MAX_CONTROL_DIR, "{}", c.display());
        assert!(c.to_string_lossy().starts_with("/tmp/gat-ssh-"), "{}", c.display());
        assert_eq!(c, control_dir(&long).unwrap(), "stable per state directory");
    }

    #[test]
    fn configured_ssh_resources_become_hosts_and_others_are_left_out() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::parse(
            "[resources.far]\ncontact = \"ssh://u@127.0.0.1:1\"\nssh_options = [\"-F\", \"/dev/null\"]\n\
             [resources.near]\ncontact = \"local:\"\n",
        )
        .unwrap();
        let ssh = ssh_adaptor(&dir.path().join("s"), &config).expect("adaptor");
        assert_eq!(ssh.capabilities(), gat_adaptor_ssh::CAPABILITIES);
        let bad = Config::parse("[resources.far]\ncontact = \"ssh://-oProxyCommand=x\"\n").unwrap();
        let Err(err) = ssh_adaptor(&dir.path().join("s"), &bad) else { panic!("a bad contact must fail") };
        assert!(err.to_string().contains("ProxyCommand"), "{err}");
    }

    #[test]
    fn the_lazy_adaptor_sets_up_nothing_until_an_ssh_resource_is_used() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("s");
        let lazy = LazySsh::new(&state, &Config::default());
        assert_eq!(lazy.resources(&Requirements::default()).unwrap(), Vec::new());
        assert_eq!(lazy.resource_at("local:").unwrap(), None);
        assert!(!state.join("ssh").exists(), "no socket directory before ssh is used");
        let bad = Config::parse("[resources.far]\ncontact = \"ssh://a b\"\n").unwrap();
        let lazy = LazySsh::new(&state, &bad);
        let err = lazy.resources(&Requirements::default()).expect_err("a bad contact fails at first use");
        assert!(err.to_string().contains("not available"), "{err}");
    }
}
