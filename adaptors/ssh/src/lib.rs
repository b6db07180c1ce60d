//! libgat's SSH adaptor: jobs on remote hosts through the system OpenSSH client.
//!
//! - The system `ssh`/`scp` binaries (never a local shell), so users' `~/.ssh/config`, agents,
//!   ProxyJump and known_hosts work. BatchMode; host keys are checked as the configuration says
//!   (an unknown or changed key fails with ssh's "Host key verification failed", never accepted
//!   silently by this crate). One ControlMaster connection per host (socket in `control_dir`,
//!   ControlPersist), so a call costs one multiplexed round trip.
//! - Each job runs under `setsid` on the host; its pid and exit status are kept in job files
//!   there (see [`scripts`]; the exit status is held by the kernel until a poll records it): its
//!   state survives a dropped connection and a restart of the calling process, and
//!   [`Adaptor::poll`] asks one host about all of its jobs in one round trip. A submit is one
//!   round trip that starts no program on the host but the job's own (and one `sleep`).
//! - Every argument, environment value and path reaches the host as a single-quoted shell word
//!   ([`quote::sh_quote`]), inside a script sent on ssh's stdin.
//! - Every call is bounded: ConnectTimeout, ServerAlive, and a process deadline.

mod fdio;
mod quote;
mod scripts;
mod session;
mod stream;
pub mod testbed;
mod transport;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use gat_adaptor::{
    Adaptor, AttrValue, Capabilities, Error, EventSink, ExitStatus, JobSpec, Load, NativeJob,
    NativeState, Requirements, Resource, Result, Signal,
};

pub use quote::sh_quote;
pub use transport::SESSIONS_PER_HOST;
use quote::{dec, enc, no_nul, os};
use scripts::code;
use transport::{Answer, Host, Transport};

pub const NAME: &str = "ssh";

/// Longest control_dir: sun_path holds 107 bytes; ssh adds `/`, 40 hex digits (%C) and a
/// 17-byte temporary suffix while it creates the socket.
pub const MAX_CONTROL_DIR: usize = 49;

/// One SSH host offered as a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshResourceConfig {
    pub name: String,
    /// `ssh://[user@]host[:port]`
    pub contact: String,
    /// Extra options given to both ssh and scp, e.g. `["-F", "/path/ssh_config"]` or
    /// `["-o", "ProxyJump=gw"]`. They come after BatchMode/ControlPath/Port/User and before
    /// libgat's defaults (ssh keeps the first value of each option).
    pub ssh_options: Vec<String>,
    /// Work area on the host: jobs without a directory run there and job directories live
    /// under `<work_dir>/.gat/jobs`. None: the login user's home directory.
    pub work_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshConfig {
    pub resources: Vec<SshResourceConfig>,
    /// Local directory for the ControlMaster sockets (created 0700). At most
    /// [`MAX_CONTROL_DIR`] bytes: a unix socket path has at most 107 and ssh adds 58.
    pub control_dir: PathBuf,
}

/// Deadlines of remote calls.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// A short script (poll, signal, submit without staging, resources).
    pub call: Duration,
    /// A file transfer (scp).
    pub transfer: Duration,
    /// stop(): TERM, then KILL after this grace period.
    pub stop_grace: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            call: Duration::from_secs(30),
            transfer: Duration::from_secs(600),
            stop_grace: Duration::from_secs(3),
        }
    }
}

pub struct SshAdaptor {
    hosts: Vec<Host>,
    transport: Transport,
    timeouts: Timeouts,
    /// Hosts whose master may be up, closed on drop.
    used: Mutex<Vec<Host>>,
    /// Unconfigured contacts asked about through `resource_at` (default options, no work area).
    adhoc: Mutex<Vec<Host>>,
    /// Per host contact: can its `env` reset signals to their defaults (asked once)?
    resets_signals: Mutex<std::collections::HashMap<String, bool>>,
}

impl SshAdaptor {
    pub fn new(config: SshConfig) -> Result<SshAdaptor> {
        let dir = &config.control_dir;
        let text = dir.as_os_str().as_bytes();
        if text.is_empty()
            || text.iter().any(|b| b" \t\n\"'%\\".contains(b))
            || text.len() > MAX_CONTROL_DIR
        {
            return Err(Error::InvalidSpec(format!(
                "ssh control_dir {} must be a short path (at most {MAX_CONTROL_DIR} bytes: a socket \
                 path has at most 107 and ssh adds 58) without spaces, quotes, % or backslashes",
                dir.display()
            )));
        }
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("creating ssh control_dir {}", dir.display()), e))?;
        {
            use std::os::unix::fs::PermissionsExt;
            // Anyone who can reach a master socket can use the connection.
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| Error::io(format!("chmod 0700 {}", dir.display()), e))?;
        }
        let mut hosts = Vec::new();
        for r in &config.resources {
            if hosts.iter().any(|h: &Host| h.resource == r.name) {
                return Err(Error::InvalidSpec(format!(
                    "ssh resource {} is configured twice",
                    r.name
                )));
            }
            hosts.push(Host::from_contact(
                &r.name,
                &r.contact,
                r.ssh_options.clone(),
                r.work_dir.clone(),
            )?);
        }
        Ok(SshAdaptor {
            hosts,
            transport: Transport::new(config.control_dir.clone()),
            timeouts: Timeouts::default(),
            used: Mutex::new(Vec::new()),
            adhoc: Mutex::new(Vec::new()),
            resets_signals: Mutex::new(std::collections::HashMap::new()),
        })
    }

    pub fn with_timeouts(mut self, t: Timeouts) -> SshAdaptor {
        self.timeouts = t;
        self
    }

    /// Keep at most `n` remote shells open per host between calls (default
    /// [`SESSIONS_PER_HOST`]); 0: every call runs an ssh of its own.
    pub fn with_sessions_per_host(mut self, n: usize) -> SshAdaptor {
        self.transport.sessions_per_host = n;
        self
    }

    /// Run a remote script on `host` (public for tests and benchmarks: one multiplexed call).
    pub fn run_script(&self, resource: &str, script: &str) -> Result<(i32, Vec<u8>)> {
        let host = self.host_by_name(resource)?;
        let a = self.run(&host, script.as_bytes())?;
        Ok((a.code, a.out))
    }

    /// Whether jobs on `host` can start with SIGINT and SIGQUIT at their defaults (one probe per
    /// host and adaptor; see `scripts::DEFAULT_SIGNALS_PROBE`).
    fn resets_signals(&self, host: &Host) -> Result<bool> {
        if let Some(known) = self.resets_signals.lock().unwrap_or_else(|p| p.into_inner()).get(&host.contact) {
            return Ok(*known);
        }
        let a = self.run(host, scripts::DEFAULT_SIGNALS_PROBE.as_bytes())?;
        let can = a.out.trim_ascii() == b"yes";
        if !can {
            tracing::debug!(host = %host.contact, "env --default-signal is missing: jobs start with SIGINT and SIGQUIT ignored");
        }
        self.resets_signals.lock().unwrap_or_else(|p| p.into_inner()).insert(host.contact.clone(), can);
        Ok(can)
    }

    fn run(&self, host: &Host, script: &[u8]) -> Result<Answer> {
        self.run_for(host, script, self.timeouts.call)
    }

    fn run_for(&self, host: &Host, script: &[u8], timeout: Duration) -> Result<Answer> {
        self.note_used(host);
        self.transport.run(host, script, timeout)
    }

    /// Remember that `host`'s master may be up (closed on drop).
    fn note_used(&self, host: &Host) {
        let mut used = self.used.lock().unwrap_or_else(|p| p.into_inner());
        if !used.contains(host) {
            used.push(host.clone());
        }
    }

    fn host_by_name(&self, name: &str) -> Result<Host> {
        self.hosts
            .iter()
            .find(|h| h.resource == name)
            .cloned()
            .ok_or_else(|| Error::InvalidSpec(format!("no ssh resource named {name}")))
    }

    fn host_of_resource(&self, on: &Resource) -> Result<Host> {
        self.hosts
            .iter()
            .find(|h| h.resource == on.name)
            .or_else(|| self.hosts.iter().find(|h| h.contact == on.contact))
            .cloned()
            .or_else(|| self.adhoc_host(&on.contact))
            .ok_or_else(|| {
                Error::InvalidSpec(format!(
                    "resource {} ({}) is not an ssh resource of this adaptor",
                    on.name, on.contact
                ))
            })
    }

    fn adhoc_host(&self, contact: &str) -> Option<Host> {
        let adhoc = self.adhoc.lock().unwrap_or_else(|p| p.into_inner());
        adhoc.iter().find(|h| h.contact == contact).cloned()
    }

    /// The host a configured name or a contact stands for; an unconfigured `ssh://` contact
    /// becomes a host with default options (remembered, so jobs can be submitted to it).
    fn host_named(&self, name_or_contact: &str) -> Result<Option<Host>> {
        if let Some(h) = self.hosts.iter().find(|h| h.resource == name_or_contact) {
            return Ok(Some(h.clone()));
        }
        if !name_or_contact.starts_with("ssh://") {
            return Ok(None);
        }
        if let Some(h) = self.hosts.iter().find(|h| h.contact == name_or_contact) {
            return Ok(Some(h.clone()));
        }
        if let Some(h) = self.adhoc_host(name_or_contact) {
            return Ok(Some(h));
        }
        let host = Host::from_contact(name_or_contact, name_or_contact, Vec::new(), None)?;
        self.adhoc
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(host.clone());
        Ok(Some(host))
    }

    /// The host of a job: its configured resource, else the contact it recorded.
    fn host_of_job(&self, job: &NativeJob, data: &JobData) -> Result<Host> {
        if let Some(h) = self
            .hosts
            .iter()
            .find(|h| h.resource == job.resource && h.contact == data.contact)
        {
            return Ok(h.clone());
        }
        if let Some(h) = self.hosts.iter().find(|h| h.contact == data.contact) {
            return Ok(h.clone());
        }
        Host::from_contact(&job.resource, &data.contact, Vec::new(), None)
    }

    fn scp(&self, host: &Host, recursive: bool, args: &[OsString]) -> Result<()> {
        self.transport
            .scp(host, recursive, args, self.timeouts.transfer)
    }

    /// Upload local `src` (file or directory) so that it becomes `dst` on the host; for a
    /// directory, `dst` must exist and receives its entries.
    fn upload(&self, host: &Host, src: &Path, dst: &Path) -> Result<()> {
        let meta = std::fs::metadata(src)
            .map_err(|e| Error::FileOpen(format!("cannot read {}: {e}", src.display())))?;
        let mut args = Vec::new();
        if meta.is_dir() {
            let entries = std::fs::read_dir(src)
                .map_err(|e| Error::FileOpen(format!("cannot list {}: {e}", src.display())))?;
            for entry in entries {
                let entry =
                    entry.map_err(|e| Error::io(format!("listing {}", src.display()), e))?;
                args.push(absolute(&entry.path())?.into_os_string());
            }
            if args.is_empty() {
                return Ok(());
            }
            let mut target = dst.as_os_str().to_owned();
            target.push("/");
            args.push(host.remote(&target));
        } else {
            args.push(absolute(src)?.into_os_string());
            args.push(host.remote(dst.as_os_str()));
        }
        self.scp(host, meta.is_dir(), &args)
    }

    /// Download `src` on the host to local `dst` (file or directory).
    fn download(&self, host: &Host, src: &Path, dst: &Path) -> Result<()> {
        if let Some(parent) = dst.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| Error::io(format!("creating {}", parent.display()), e))?;
        }
        let args = vec![
            host.remote(&quote::glob_escape(src.as_os_str())),
            absolute(dst)?.into_os_string(),
        ];
        self.scp(host, true, &args)
    }

    /// After a job ended: copy its post-staged files (this process holds the claim).
    fn post_stage(&self, host: &Host, data: &JobData) {
        let mut failures = Vec::new();
        for (src, dst) in &data.post {
            if let Err(e) = self.download(
                host,
                Path::new(&os(src.clone())),
                Path::new(&os(dst.clone())),
            ) {
                failures.push(e.to_string());
            }
        }
        let error =
            (!failures.is_empty()).then(|| format!("post-staging failed: {}", failures.join("; ")));
        if let Some(e) = &error {
            tracing::warn!(host = %host.contact, "{e}");
        }
        if let Err(e) = self.run(
            host,
            scripts::post_staged(&data.dir, error.as_deref()).bytes(),
        ) {
            tracing::warn!(host = %host.contact, "cannot mark post-staging done: {e}");
        }
    }

    fn poll_host(&self, host: &Host, jobs: &[(&NativeJob, &JobData)]) -> Vec<NativeState> {
        let list: Vec<(&[u8], bool)> = jobs
            .iter()
            .map(|(_, d)| (d.dir.as_slice(), !d.post.is_empty()))
            .collect();
        let answer = match self.run(host, scripts::poll(&list).bytes()) {
            Ok(a) if a.code == 0 => a,
            Ok(a) => {
                let reason = format!(
                    "status query on {} failed (exit {}): {}",
                    host.contact, a.code, a.err
                );
                return jobs
                    .iter()
                    .map(|_| NativeState::Unknown {
                        reason: reason.clone(),
                    })
                    .collect();
            }
            Err(e) => {
                let reason = e.to_string(); // names the host and quotes ssh
                return jobs
                    .iter()
                    .map(|_| NativeState::Unknown {
                        reason: reason.clone(),
                    })
                    .collect();
            }
        };
        let text = String::from_utf8_lossy(&answer.out);
        let mut lines = text.lines();
        jobs.iter()
            .map(|(job, data)| {
                let Some(line) = lines.next() else {
                    return NativeState::Unknown {
                        reason: format!("{} gave no status line for job {}", host.contact, job.id),
                    };
                };
                let state = parse_status(line, &data.dir);
                if line.starts_with('F') && line.ends_with(" 1") && !data.post.is_empty() {
                    self.post_stage(host, data);
                }
                state
            })
            .collect()
    }

    fn parse_job(&self, job: &NativeJob) -> Result<JobData> {
        JobData::decode(&job.data).ok_or_else(|| {
            Error::NoSuchJob(format!(
                "job {}: its ssh adaptor data is unreadable",
                job.id
            ))
        })
    }
}

impl Drop for SshAdaptor {
    fn drop(&mut self) {
        let used = std::mem::take(&mut *self.used.lock().unwrap_or_else(|p| p.into_inner()));
        for host in used {
            self.transport.close_master(&host);
        }
    }
}

/// What a NativeJob carries in `data`: `key value` lines, values percent-encoded.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct JobData {
    contact: String,
    dir: Vec<u8>,
    wd: Vec<u8>,
    /// Post-staging: (absolute source on the host, absolute local destination).
    post: Vec<(Vec<u8>, Vec<u8>)>,
}

impl JobData {
    fn encode(&self) -> String {
        let mut s = format!(
            "v 1\ncontact {}\ndir {}\nwd {}\n",
            enc(self.contact.as_bytes()),
            enc(&self.dir),
            enc(&self.wd)
        );
        for (a, b) in &self.post {
            s.push_str(&format!("post {} {}\n", enc(a), enc(b)));
        }
        s
    }

    fn decode(text: &str) -> Option<JobData> {
        let mut d = JobData::default();
        for line in text.lines() {
            let mut parts = line.split(' ');
            match (parts.next()?, parts.next(), parts.next()) {
                ("v", Some("1"), None) => {}
                ("contact", Some(v), None) => d.contact = String::from_utf8(dec(v)?).ok()?,
                ("dir", Some(v), None) => d.dir = dec(v)?,
                ("wd", Some(v), None) => d.wd = dec(v)?,
                ("post", Some(a), Some(b)) => d.post.push((dec(a)?, dec(b)?)),
                _ => return None,
            }
        }
        (!d.contact.is_empty() && !d.dir.is_empty()).then_some(d)
    }
}

/// One status line of the poll script.
fn parse_status(line: &str, dir: &[u8]) -> NativeState {
    let f: Vec<&str> = line.split(' ').collect();
    let where_ = String::from_utf8_lossy(dir);
    match f.as_slice() {
        ["R", ..] => NativeState::Running,
        ["N"] => NativeState::Lost {
            reason: format!("the job's files {where_}.* no longer exist on the host"),
        },
        ["L", reason @ ..] => NativeState::Lost {
            reason: format!("{} ({where_})", reason.join(" ")),
        },
        ["F", how, n, stop, _claim] => {
            let stopped_by_request = *stop == "1";
            let n: Option<i32> = n.parse().ok();
            match (*how, n) {
                ("exited", Some(n)) => NativeState::Finished {
                    status: ExitStatus::Exited(n),
                    stopped_by_request,
                },
                ("signaled", Some(n)) => NativeState::Finished {
                    status: ExitStatus::Signaled(n),
                    stopped_by_request,
                },
                _ => NativeState::Lost {
                    reason: format!(
                        "the job ended but its exit status could not be read ({where_})"
                    ),
                },
            }
        }
        _ => NativeState::Unknown {
            reason: format!("unexpected status line {line:?} for {where_}"),
        },
    }
}

fn absolute(p: &Path) -> Result<PathBuf> {
    if p.is_absolute() {
        return Ok(p.to_path_buf());
    }
    let cwd = std::env::current_dir().map_err(|e| Error::io("reading the current directory", e))?;
    Ok(cwd.join(p))
}

/// Split NUL-terminated fields.
fn nul_fields(out: &[u8]) -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = out.split(|&b| b == 0).map(|s| s.to_vec()).collect();
    if v.last().is_some_and(|l| l.is_empty() || l == b"\n") {
        v.pop();
    }
    v
}

fn valid_env_name(k: &str) -> bool {
    let mut b = k.bytes();
    matches!(b.next(), Some(c) if c == b'_' || c.is_ascii_alphabetic())
        && b.all(|c| c == b'_' || c.is_ascii_alphanumeric())
}

/// The number of `sig`, refused unless it is a signal the host can have (1 to 64).
fn signal_number(sig: Signal) -> Result<i32> {
    let n = sig.number();
    if (1..=64).contains(&n) {
        Ok(n)
    } else {
        Err(Error::InvalidSpec(format!("signal number {n} is out of range")))
    }
}

/// What the SSH adaptor can do; known without connecting anywhere.
pub const CAPABILITIES: Capabilities = Capabilities {
    submit: true,
    poll: true,
    signal: true,
    stop: true,
    fetch: true,
    place: true,
    staging: true,
    push_events: false,
    checkpoint_primitives: true,
    started_on_submit: true,
    detached_jobs: true,
    stream: true,
};

impl Adaptor for SshAdaptor {
    fn name(&self) -> &str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        CAPABILITIES
    }

    /// One ssh call per host (in parallel). Unreachable hosts are left out (with a warning);
    /// the call fails only when hosts are configured and none answers.
    fn resources(&self, _req: &Requirements) -> Result<Vec<Resource>> {
        let results: Vec<Result<Resource>> = std::thread::scope(|scope| {
            let handles: Vec<_> = self
                .hosts
                .iter()
                .map(|h| scope.spawn(move || self.resource_of(h)))
                .collect();
            handles
                .into_iter()
                .map(|t| {
                    t.join()
                        .unwrap_or_else(|_| Err(Error::Failed("resource query panicked".into())))
                })
                .collect()
        });
        let mut out = Vec::new();
        let mut errors = Vec::new();
        for r in results {
            match r {
                Ok(res) => out.push(res),
                Err(e) => {
                    tracing::warn!("ssh resource left out: {e}");
                    errors.push(e);
                }
            }
        }
        if out.is_empty() && !errors.is_empty() {
            return Err(errors.remove(0));
        }
        Ok(out)
    }

    /// One host only: a configured resource name, or a contact (configured, or a bare
    /// `ssh://[user@]host[:port]` used with default options and no work area).
    fn resource_at(&self, name_or_contact: &str) -> Result<Option<Resource>> {
        match self.host_named(name_or_contact)? {
            Some(host) => self.resource_of(&host).map(Some),
            None => Ok(None),
        }
    }

    fn submit(&self, spec: &JobSpec, on: &Resource) -> Result<NativeJob> {
        let host = self.host_of_resource(on)?;
        if spec.executable.is_empty() {
            return Err(Error::InvalidSpec("the job has no executable".into()));
        }
        no_nul("the executable", spec.executable.as_bytes())?;
        for a in &spec.arguments {
            no_nul("an argument", a.as_bytes())?;
        }
        let mut environment = Vec::with_capacity(spec.environment.len() + 1);
        for (k, v) in &spec.environment {
            if !valid_env_name(k) {
                return Err(Error::InvalidSpec(format!(
                    "environment variable name {k:?} is not a shell identifier"
                )));
            }
            no_nul(&format!("environment variable {k}"), v.as_bytes())?;
            if k != "GAT_JOB_ID" {
                environment.push((k.clone(), v.clone()));
            }
        }
        environment.push(("GAT_JOB_ID".to_string(), spec.id.clone()));
        for (k, rel) in &spec.workdir_env {
            if !valid_env_name(k) || k == "GAT_JOB_ID" {
                return Err(Error::InvalidSpec(format!(
                    "environment variable name {k:?} is not a shell identifier"
                )));
            }
            no_nul(
                &format!("environment variable {k}"),
                rel.as_os_str().as_bytes(),
            )?;
        }
        for p in [&spec.directory, &spec.stdin, &spec.stdout, &spec.stderr]
            .into_iter()
            .flatten()
        {
            no_nul("a path", p.as_os_str().as_bytes())?;
        }
        let mut mkdirs = Vec::new();
        for e in &spec.pre_staged {
            no_nul("a pre-staged path", e.destination.as_os_str().as_bytes())?;
            if e.source.is_dir() {
                mkdirs.push(e.destination.clone());
            } else if let Some(parent) =
                e.destination.parent().filter(|p| !p.as_os_str().is_empty())
            {
                mkdirs.push(parent.to_path_buf());
            }
        }
        let path_var = spec
            .environment
            .iter()
            .rev()
            .find(|(k, _)| k == "PATH")
            .map(|(_, v)| v.as_str());
        let launch = scripts::Launch {
            id: &spec.id,
            work_dir: host.work_dir.as_deref(),
            directory: spec.directory.as_deref(),
            executable: &spec.executable,
            arguments: &spec.arguments,
            environment: &environment,
            workdir_env: &spec.workdir_env,
            path_var,
            stdin: spec.stdin.as_deref(),
            stdout: spec.stdout.as_deref(),
            stderr: spec.stderr.as_deref(),
            mkdirs,
            reset_signals: self.resets_signals(&host)?,
        };
        let fail = |a: &Answer, dir: &str| -> Error {
            let said = if a.err.is_empty() {
                String::new()
            } else {
                format!(": {}", a.err)
            };
            let on = &host.contact;
            match a.code {
                code::EXECUTABLE => Error::FileOpen(format!(
                    "executable {} not found or not executable on {on} (working directory {dir}){said}",
                    spec.executable
                )),
                code::WORKDIR => Error::FileOpen(format!(
                    "working directory {} cannot be entered on {on}{said}",
                    spec.directory.as_deref().map(|d| d.display().to_string()).unwrap_or_else(|| "(home)".into())
                )),
                code::STDIN => Error::FileOpen(format!(
                    "stdin file {} is not readable on {on}{said}",
                    spec.stdin.as_deref().map(|d| d.display().to_string()).unwrap_or_default()
                )),
                code::OUTPUT => Error::FileOpen(format!("cannot create the job's stdout/stderr file on {on}{said}")),
                code::NO_SETSID => Error::Failed(format!("cannot run jobs on {on}{said}")),
                _ => Error::Failed(format!("submitting job {} on {on} failed (exit {}){said}", spec.id, a.code)),
            }
        };
        let dir_desc = spec
            .directory
            .as_deref()
            .map(|d| d.display().to_string())
            .unwrap_or_else(|| "(home)".into());

        let mut script = scripts::prepare(&launch);
        let answer = if spec.pre_staged.is_empty() {
            scripts::launch(&mut script, &launch);
            self.run(&host, script.bytes())?
        } else {
            // Two steps around the copies: job dir and directories first, then the start.
            scripts::prepare_answer(&mut script);
            let a = self.run(&host, script.bytes())?;
            if a.code != 0 {
                return Err(fail(&a, &dir_desc));
            }
            let f = nul_fields(&a.out);
            let (Some(d), Some(wd)) = (f.first(), f.get(1)) else {
                return Err(Error::Failed(format!(
                    "unexpected answer from {} while preparing the job",
                    host.contact
                )));
            };
            for e in &spec.pre_staged {
                let dst = Path::new(&os(wd.clone())).join(&e.destination);
                self.upload(&host, &absolute(&e.source)?, &dst)?;
            }
            let mut script = scripts::resume(d, wd);
            scripts::launch(&mut script, &launch);
            self.run(&host, script.bytes())?
        };
        if answer.code != 0 {
            return Err(fail(&answer, &dir_desc));
        }
        let f = nul_fields(&answer.out);
        let [d, wd, hostname, pid] = f.as_slice() else {
            return Err(Error::Failed(format!(
                "unexpected answer from {} after starting the job: {:?}",
                host.contact,
                String::from_utf8_lossy(&answer.out)
            )));
        };
        let cwd =
            std::env::current_dir().map_err(|e| Error::io("reading the current directory", e))?;
        let wd_path = PathBuf::from(os(wd.clone()));
        let post = spec
            .post_staged
            .iter()
            .map(|e| {
                let src = wd_path.join(&e.source);
                let dst = cwd.join(&e.destination);
                (
                    src.into_os_string().into_encoded_bytes(),
                    dst.into_os_string().into_encoded_bytes(),
                )
            })
            .collect();
        let data = JobData {
            contact: host.contact.clone(),
            dir: d.clone(),
            wd: wd.clone(),
            post,
        };
        Ok(NativeJob {
            id: spec.id.clone(),
            native_id: String::from_utf8_lossy(pid).into_owned(),
            resource: host.resource.clone(),
            hostname: String::from_utf8_lossy(hostname).into_owned(),
            data: data.encode(),
        })
    }

    /// One ssh round trip per host, hosts in parallel. A host that cannot be asked gives
    /// Unknown with the reason for each of its jobs, never a guess.
    fn poll(&self, jobs: &[&NativeJob]) -> Result<Vec<NativeState>> {
        let mut states: Vec<Option<NativeState>> = vec![None; jobs.len()];
        let mut groups: BTreeMap<String, (Host, Vec<(usize, JobData)>)> = BTreeMap::new();
        for (i, job) in jobs.iter().enumerate() {
            let data = match self.parse_job(job) {
                Ok(d) => d,
                Err(e) => {
                    states[i] = Some(NativeState::Lost {
                        reason: e.to_string(),
                    });
                    continue;
                }
            };
            let host = match self.host_of_job(job, &data) {
                Ok(h) => h,
                Err(e) => {
                    states[i] = Some(NativeState::Unknown {
                        reason: e.to_string(),
                    });
                    continue;
                }
            };
            let key = format!("{}\n{}", host.resource, host.contact);
            groups
                .entry(key)
                .or_insert_with(|| (host, Vec::new()))
                .1
                .push((i, data));
        }
        let answers: Vec<(Vec<usize>, Vec<NativeState>)> = std::thread::scope(|scope| {
            let handles: Vec<_> = groups
                .values()
                .map(|(host, members)| {
                    scope.spawn(move || {
                        let list: Vec<(&NativeJob, &JobData)> =
                            members.iter().map(|(i, d)| (jobs[*i], d)).collect();
                        let idx: Vec<usize> = members.iter().map(|(i, _)| *i).collect();
                        (idx, self.poll_host(host, &list))
                    })
                })
                .collect();
            handles.into_iter().filter_map(|h| h.join().ok()).collect()
        });
        for (idx, st) in answers {
            for (i, s) in idx.into_iter().zip(st) {
                states[i] = Some(s);
            }
        }
        Ok(states
            .into_iter()
            .map(|s| {
                s.unwrap_or(NativeState::Unknown {
                    reason: "status query failed".into(),
                })
            })
            .collect())
    }

    fn signal(&self, job: &NativeJob, sig: Signal) -> Result<()> {
        let data = self.parse_job(job)?;
        let host = self.host_of_job(job, &data)?;
        let n = signal_number(sig)?;
        let a = self.run(&host, scripts::signal(&data.dir, n).bytes())?;
        match a.code {
            0 => Ok(()),
            code::FINISHED => Err(Error::NoSuchJob(format!(
                "job {} on {} has finished",
                job.id, host.contact
            ))),
            code::NO_JOB => Err(Error::NoSuchJob(format!(
                "job {} is not known on {}: {}",
                job.id, host.contact, a.err
            ))),
            _ => Err(Error::Failed(format!(
                "signal {n} to job {} on {} failed: {}",
                job.id, host.contact, a.err
            ))),
        }
    }

    fn stop(&self, job: &NativeJob) -> Result<()> {
        let data = self.parse_job(job)?;
        let host = self.host_of_job(job, &data)?;
        let ticks = (self.timeouts.stop_grace.as_millis() / 50).max(1) as u32;
        let timeout = self.timeouts.call + self.timeouts.stop_grace + Duration::from_secs(10);
        let a = self.run_for(&host, scripts::stop(&data.dir, ticks).bytes(), timeout)?;
        match a.code {
            0 => Ok(()),
            code::NO_JOB => Err(Error::NoSuchJob(format!(
                "job {} is not known on {}: {}",
                job.id, host.contact, a.err
            ))),
            code::SURVIVED_KILL => Err(Error::Timeout(format!(
                "stopping job {} on {}: {}",
                job.id, host.contact, a.err
            ))),
            _ => Err(Error::Failed(format!(
                "stopping job {} on {} failed (exit {}): {}",
                job.id, host.contact, a.code, a.err
            ))),
        }
    }

    /// scp (recursive, through the master) of each path: relative ones from the job's working
    /// directory keep their relative name under `into`; absolute ones keep their file name.
    fn fetch(&self, job: &NativeJob, paths: &[PathBuf], into: &Path) -> Result<()> {
        let data = self.parse_job(job)?;
        let host = self.host_of_job(job, &data)?;
        let wd = PathBuf::from(os(data.wd.clone()));
        for p in paths {
            let src = wd.join(p);
            self.download(&host, &src, &into.join(gat_adaptor::fetched_name(p)))?;
        }
        Ok(())
    }

    fn take(&self, job: &NativeJob, paths: &[PathBuf], into: &Path) -> Result<()> {
        self.fetch(job, paths, into)?;
        self.remove(job, paths)
    }

    fn remove(&self, job: &NativeJob, paths: &[PathBuf]) -> Result<()> {
        let data = self.parse_job(job)?;
        let host = self.host_of_job(job, &data)?;
        for p in paths {
            no_nul("a path", p.as_os_str().as_bytes())?;
        }
        let list: Vec<&Path> = paths.iter().map(|p| p.as_path()).collect();
        let a = self.run(&host, scripts::remove(&data.wd, &list).bytes())?;
        match a.code {
            0 => Ok(()),
            _ => Err(Error::PermissionDenied(format!(
                "removing files of job {} on {}: {}",
                job.id, host.contact, a.err
            ))),
        }
    }

    fn signal_if_caught(&self, job: &NativeJob, sig: Signal) -> Result<bool> {
        let data = self.parse_job(job)?;
        let host = self.host_of_job(job, &data)?;
        let n = signal_number(sig)?;
        let a = self.run(&host, scripts::signal_if_caught(&data.dir, n).bytes())?;
        match (a.code, a.out.trim_ascii()) {
            (0, b"caught") => Ok(true),
            (0, b"not-caught") => Ok(false),
            (code::FINISHED, _) => Err(Error::NoSuchJob(format!(
                "job {} on {} has finished",
                job.id, host.contact
            ))),
            (code::NO_JOB, _) => Err(Error::NoSuchJob(format!(
                "job {} is not known on {}: {}",
                job.id, host.contact, a.err
            ))),
            _ => Err(Error::Failed(format!(
                "signal {n} to job {} on {} failed: {}",
                job.id, host.contact, a.err
            ))),
        }
    }

    fn place(&self, on: &Resource, files: &Path, dir: &Path) -> Result<()> {
        let host = self.host_of_resource(on)?;
        no_nul("a path", dir.as_os_str().as_bytes())?;
        // Relative: under the work area (as jobs without a directory), else the home directory.
        let dir = &match &host.work_dir {
            Some(w) if dir.is_relative() => w.join(dir),
            _ => dir.to_path_buf(),
        };
        // A few regular files (a checkpoint generation, the protocol's directory) go as streams:
        // `cat` on the host stores a GiB faster than an SFTP upload (docs/BENCHMARKS.md, SSH),
        // and a tree of directories only needs no copy at all. Anything else goes through scp.
        let tree = stream::plan_tree(files).ok().flatten();
        let mut dirs = vec![dir.clone()];
        if let Some(t) = &tree {
            dirs.extend(t.dirs.iter().map(|d| dir.join(d)));
        }
        let a = self.run(&host, stream::mkdirs_script(&dirs).bytes())?;
        if a.code != 0 {
            return Err(Error::PermissionDenied(format!(
                "cannot create {} on {}: {}",
                dir.display(),
                host.contact,
                a.err
            )));
        }
        let Some(tree) = tree else {
            return self.upload(&host, files, dir);
        };
        for (rel, size, mode) in &tree.files {
            let src = files.join(rel);
            let mut file = std::fs::File::open(&src)
                .map_err(|e| Error::FileOpen(format!("cannot read {}: {e}", src.display())))?;
            let target = dir.join(rel);
            let parent = target.parent().unwrap_or(dir).to_path_buf();
            stream::write_from(
                &host,
                self.transport.options(&host),
                &parent,
                &target,
                *size,
                Some(*mode),
                &mut file,
                self.timeouts.transfer,
            )?;
        }
        Ok(())
    }

    /// A transport call checks the file (and brings the host's master up), then `ssh host`
    /// streams it (see the `stream` module).
    fn open_read(&self, job: &NativeJob, path: &Path) -> Result<Box<dyn gat_adaptor::ReadStream>> {
        let data = self.parse_job(job)?;
        let host = self.host_of_job(job, &data)?;
        no_nul("a path", path.as_os_str().as_bytes())?;
        let path = PathBuf::from(os(data.wd.clone())).join(path);
        let a = self.run(&host, stream::check_readable_script(&path).bytes())?;
        match a.code {
            0 => {}
            stream::code::UNREADABLE => return Err(Error::FileOpen(format!("on {}: {}", host.contact, a.err))),
            c => {
                return Err(Error::Failed(format!(
                    "checking {} on {} failed (exit {c}): {}",
                    path.display(),
                    host.contact,
                    a.err
                )))
            }
        }
        let opened = stream::SshReadStream::open(&host, self.transport.options(&host), &path, self.timeouts.transfer)?;
        Ok(Box::new(opened))
    }

    /// A transport call creates the directory (and brings the host's master up), then
    /// `ssh host` stores the stream (see the `stream` module).
    fn write_from(&self, on: &Resource, dir: &Path, name: &Path, size: u64, from: &mut dyn std::io::Read) -> Result<()> {
        gat_adaptor::check_stream_name(name)?;
        let host = self.host_of_resource(on)?;
        no_nul("a path", dir.as_os_str().as_bytes())?;
        no_nul("a path", name.as_os_str().as_bytes())?;
        let dir = match &host.work_dir {
            Some(w) if dir.is_relative() => w.join(dir),
            _ => dir.to_path_buf(),
        };
        let target = dir.join(name);
        let parent = target.parent().unwrap_or(&dir).to_path_buf();
        let a = self.run(&host, scripts::mkdir(&parent).bytes())?;
        if a.code != 0 {
            return Err(Error::PermissionDenied(format!(
                "cannot create {} on {}: {}",
                parent.display(),
                host.contact,
                a.err
            )));
        }
        stream::write_from(&host, self.transport.options(&host), &parent, &target, size, None, from, self.timeouts.transfer)
    }

    fn set_event_sink(&self, _sink: EventSink) -> Result<()> {
        Ok(())
    }
}

impl SshAdaptor {
    fn resource_of(&self, host: &Host) -> Result<Resource> {
        let a = self.run(host, scripts::resources(host.work_dir.as_deref()).bytes())?;
        let text = String::from_utf8_lossy(&a.out);
        let mut attributes = BTreeMap::new();
        let mut hostname = host.target.clone();
        let mut load = Load::default();
        let num = |v: &str| v.trim().parse::<f64>().ok();
        let round2 = |x: f64| (x * 100.0).round() / 100.0;
        for line in text.lines() {
            let Some((k, v)) = line.split_once('=') else {
                continue;
            };
            let v = v.trim();
            if v.is_empty() {
                continue;
            }
            match k {
                "hostname" => {
                    hostname = v.to_string();
                    attributes.insert("machine.node".to_string(), AttrValue::Str(v.to_string()));
                }
                "cpu.count" => {
                    if let Some(n) = num(v) {
                        attributes.insert(k.to_string(), AttrValue::Num(n));
                    }
                }
                "memory.kib" => {
                    if let Some(n) = num(v) {
                        attributes.insert(
                            "memory.size".to_string(),
                            AttrValue::Num(round2(n / (1024.0 * 1024.0))),
                        );
                    }
                }
                "disk.kib" => {
                    if let Some(n) = num(v) {
                        attributes.insert(
                            "disk.size".to_string(),
                            AttrValue::Num(round2(n / (1024.0 * 1024.0))),
                        );
                    }
                }
                "cpu.mhz" => {
                    if let Some(n) = num(v) {
                        attributes
                            .insert("cpu.speed".to_string(), AttrValue::Num(round2(n / 1000.0)));
                    }
                }
                "load" => load.average = num(v),
                "machine.type" | "os.name" | "os.release" | "os.version" | "cpu.type" => {
                    attributes.insert(k.to_string(), AttrValue::Str(v.to_string()));
                }
                _ => {}
            }
        }
        attributes.insert("os.type".to_string(), AttrValue::Str("unix".to_string()));
        Ok(Resource {
            name: host.resource.clone(),
            contact: host.contact.clone(),
            adaptor: NAME.to_string(),
            attributes,
            load,
            hostname,
            work_dir: host.work_dir.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_data_round_trips() {
        let d = JobData {
            contact: "ssh://u@h:22".into(),
            dir: b"/home/u/.gat/jobs/a b".to_vec(),
            wd: b"/tmp/x\ny '$(z)'".to_vec(),
            post: vec![(b"/w/out 1".to_vec(), b"/l/o\n".to_vec())],
        };
        assert_eq!(JobData::decode(&d.encode()), Some(d));
        assert_eq!(JobData::decode("garbage"), None);
    }

    #[test]
    fn status_lines_parse() {
        let dir = b"/d";
        assert_eq!(parse_status("R", dir), NativeState::Running);
        assert_eq!(
            parse_status("F exited 3 0 0", dir),
            NativeState::Finished {
                status: ExitStatus::Exited(3),
                stopped_by_request: false
            }
        );
        assert_eq!(
            parse_status("F signaled 15 1 0", dir),
            NativeState::Finished {
                status: ExitStatus::Signaled(15),
                stopped_by_request: true
            }
        );
        assert!(matches!(
            parse_status("F unknown 0 0 0", dir),
            NativeState::Lost { .. }
        ));
        assert!(
            matches!(parse_status("L the wrapper is gone", dir), NativeState::Lost { reason } if reason.contains("wrapper"))
        );
        assert!(matches!(
            parse_status("what", dir),
            NativeState::Unknown { .. }
        ));
    }

    #[test]
    fn env_names() {
        assert!(valid_env_name("GAT_X1") && valid_env_name("_a"));
        assert!(
            !valid_env_name("1A")
                && !valid_env_name("A-B")
                && !valid_env_name("")
                && !valid_env_name("A B")
        );
    }
}
