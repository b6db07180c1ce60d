//! libgat's local adaptor: jobs run on this machine as process groups. Their starts and exit
//! statuses are recorded in the record log of the jobs area (`records.rs`). Streams the
//! description sends nowhere are discarded (`/dev/null`): starting a job creates no file.
//!
//! Who starts and watches a job:
//! - the **job server** (`jobserver/`) where the `gat-job-monitor` program (this crate's binary)
//!   is available: installed beside the library, configured with
//!   [`LocalAdaptor::with_monitor_program`], or named by `$GAT_JOB_MONITOR`. It runs once per
//!   adaptor and is the parent of every job: one vfork-style clone per job from a small
//!   process, no process of its own per job;
//! - otherwise a **monitor** per job (`spawn.rs`, `monitor.rs`): a process sharing the host's
//!   memory (x86_64; a forked copy elsewhere and under Valgrind), or the program forked and
//!   exec'd per job when the server cannot run. Both ways pass the same tests.
//!
//! Jobs outlive the submitting process and stay observable from any later process through the
//! record log and the files in their job directory (`jobfiles.rs`; the directory is made only
//! when a job needs one: post-staging, stop). The host program never sees a SIGCHLD handler or
//! a `waitpid(-1)` from us: the server tells of exits on its socket, and the monitors we start
//! are reaped through their pidfds, both by a watcher thread (`watcher.rs`).

mod host;
mod jobfiles;
mod jobserver;
mod monitor;
mod rawsys;
mod records;
mod spawn;
mod staging;
mod sys;
mod watcher;

use std::ffi::{CString, OsStr};
use std::fs;
use std::io;
use std::os::fd::{OwnedFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use gat_adaptor::{
    Adaptor, Capabilities, Error, EventSink, Load, NativeJob, NativeState, Requirements, Resource,
    Result, Signal,
};
use gat_adaptor::{AttrValue, JobSpec};

use host::HostInfo;
use jobserver::client::JobServer;
use jobfiles::{JobRecord, PidRecord, STALE_FILES, STOP_MARKER};
use records::RecordBook;
use watcher::Watcher;

pub use spawn::monitor_program_main;

/// The adaptor's name and contact scheme.
pub const NAME: &str = "local";
/// The contact (and name) of the default resource.
pub const DEFAULT_RESOURCE: &str = "local:";
/// Default grace between TERM and KILL when a job is stopped.
pub const DEFAULT_STOP_GRACE: Duration = Duration::from_secs(5);
/// Environment variable naming the `gat-job-monitor` program (set but empty: fork only; unset:
/// the one installed beside the library, if any).
pub const MONITOR_ENV: &str = "GAT_JOB_MONITOR";
/// How long the resources' load and free space are reused (see `resources`).
const RESOURCES_FRESH: Duration = Duration::from_secs(1);
/// Extra time `stop()` allows the monitor beyond the grace period.
const STOP_SLACK: Duration = Duration::from_secs(5);

/// One local resource: a name and the working area its jobs run in by default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalResourceConfig {
    /// Resource name; `local:` for the default one.
    pub name: String,
    /// Where jobs without a `directory` run; None: the user's home directory.
    pub work_dir: Option<PathBuf>,
    /// Higher first when listing resources.
    pub priority: i32,
}

/// The local adaptor. See the crate documentation.
pub struct LocalAdaptor {
    resources: Vec<LocalResourceConfig>,
    host: OnceLock<HostInfo>,
    stop_grace: Duration,
    monitor_program: Option<PathBuf>,
    /// `monitor_program` was found installed beside the library, not configured: when it cannot
    /// run as the job server (an older install), monitors are plain forks.
    monitor_discovered: bool,
    sink: Arc<Mutex<Option<EventSink>>>,
    records: Arc<RecordBook>,
    resources_cache: Mutex<Option<(Instant, Vec<Resource>)>>,
    watcher: Mutex<Option<Arc<Watcher>>>,
    server: Mutex<ServerSlot>,
    /// Request tokens for the job server, unique within this process.
    next_request: std::sync::atomic::AtomicU64,
}

/// A job the job server started: by which server, under which request token.
struct ServedStart {
    launched: spawn::Launched,
    server: Arc<JobServer>,
    token: u64,
}

/// The job server of the monitor program (see `jobserver/`), started at the first submit.
enum ServerSlot {
    NotStarted,
    Running(Arc<JobServer>),
    /// It could not start: jobs get monitors of their own.
    Unavailable,
}

impl Default for LocalAdaptor {
    /// Exactly one resource, `local:`, without a working area of its own.
    fn default() -> Self {
        LocalAdaptor::new(vec![LocalResourceConfig {
            name: DEFAULT_RESOURCE.to_string(),
            work_dir: None,
            priority: 0,
        }])
    }
}

impl Drop for LocalAdaptor {
    fn drop(&mut self) {
        if let Some(w) = lock(&self.watcher).take() {
            w.close();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn home_dir() -> PathBuf {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/"))
}

/// Absolute form of `p` against the current directory (no symlink resolution).
fn absolute(p: &Path) -> Result<PathBuf> {
    if p.is_absolute() {
        return Ok(p.to_path_buf());
    }
    let cwd = std::env::current_dir().map_err(|e| Error::io("reading the current directory", e))?;
    Ok(cwd.join(p))
}

fn cstring(bytes: &[u8], what: &str) -> Result<CString> {
    CString::new(bytes).map_err(|_| Error::InvalidSpec(format!("{what} contains a NUL byte")))
}

fn path_cstring(p: &Path, what: &str) -> Result<CString> {
    cstring(p.as_os_str().as_bytes(), what)
}

/// Map an I/O error on a named file to the adaptor error kinds.
fn file_error(what: &str, path: &Path, e: io::Error) -> Error {
    let msg = format!("{what} {}: {e}", path.display());
    match e.kind() {
        io::ErrorKind::NotFound => Error::FileOpen(msg),
        io::ErrorKind::PermissionDenied => Error::PermissionDenied(msg),
        _ => Error::io(format!("{what} {}", path.display()), e),
    }
}

/// Check that `path` is something execve can run.
fn check_executable(path: &Path, given: &str) -> Result<()> {
    let meta =
        fs::metadata(path).map_err(|e| file_error(&format!("executable {given:?}:"), path, e))?;
    if meta.is_dir() {
        return Err(Error::PermissionDenied(format!(
            "executable {given:?}: {} is a directory",
            path.display()
        )));
    }
    if meta.permissions().mode() & 0o111 == 0 {
        return Err(Error::PermissionDenied(format!(
            "executable {given:?}: {} is not executable",
            path.display()
        )));
    }
    Ok(())
}

/// Resolve the program like execvp would, but before fork so failures are submit errors.
/// Paths with a slash are relative to the working directory; bare names are looked up in `PATH`
/// (relative PATH entries are relative to the working directory too).
fn find_program(executable: &str, workdir: &Path, path_var: Option<&OsStr>) -> Result<PathBuf> {
    if executable.is_empty() {
        return Err(Error::InvalidSpec("the job has no executable".into()));
    }
    if executable.contains('/') {
        let p = workdir.join(executable);
        check_executable(&p, executable)?;
        return Ok(p);
    }
    let default_path = OsStr::new("/usr/local/bin:/usr/bin:/bin");
    let search = path_var.unwrap_or(default_path);
    let mut refused = None;
    for dir in std::env::split_paths(search) {
        let dir = if dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            dir
        };
        let candidate = workdir.join(dir).join(executable);
        match check_executable(&candidate, executable) {
            Ok(()) => return Ok(candidate),
            Err(Error::PermissionDenied(msg)) => {
                refused.get_or_insert(msg);
            }
            Err(_) => {}
        }
    }
    Err(match refused {
        Some(msg) => Error::PermissionDenied(msg),
        None => Error::FileOpen(format!(
            "executable {executable:?} not found in PATH ({})",
            search.to_string_lossy()
        )),
    })
}

/// The job's environment as `NAME=value` entries: this process's, then the spec's variables,
/// then GAT_JOB_ID (a later entry of a name replaces an earlier one).
fn job_environment(spec: &JobSpec, workdir: &Path) -> Result<Vec<CString>> {
    let mut set: Vec<(Vec<u8>, Vec<u8>)> = Vec::with_capacity(spec.environment.len() + spec.workdir_env.len() + 1);
    for (k, v) in &spec.environment {
        if k.is_empty() || k.contains('=') || k.contains('\0') {
            return Err(Error::InvalidSpec(format!(
                "environment variable name {k:?} is not valid"
            )));
        }
        set.push((k.as_bytes().to_vec(), v.as_bytes().to_vec()));
    }
    for (k, rel) in &spec.workdir_env {
        set.push((k.as_bytes().to_vec(), workdir.join(rel).into_os_string().into_vec()));
    }
    set.push((b"GAT_JOB_ID".to_vec(), spec.id.as_bytes().to_vec()));
    let entry = |k: &[u8], v: &[u8]| {
        let mut e = Vec::with_capacity(k.len() + v.len() + 1);
        e.extend_from_slice(k);
        e.push(b'=');
        e.extend_from_slice(v);
        // The NUL fits the capacity: no copy.
        CString::new(e).map_err(|_| Error::InvalidSpec("an environment variable contains a NUL byte".into()))
    };
    let mut envp = Vec::with_capacity(64 + set.len());
    for (k, v) in std::env::vars_os() {
        if !set.iter().any(|(name, _)| name.as_slice() == k.as_bytes()) {
            envp.push(entry(k.as_bytes(), v.as_bytes())?);
        }
    }
    for (i, (k, v)) in set.iter().enumerate() {
        if !set[i + 1..].iter().any(|(later, _)| later == k) {
            envp.push(entry(k, v)?);
        }
    }
    Ok(envp)
}

/// The value of `name` in `NAME=value` entries.
fn env_value<'a>(envp: &'a [CString], name: &str) -> Option<&'a OsStr> {
    envp.iter().find_map(|e| {
        let rest = e.as_bytes().strip_prefix(name.as_bytes())?.strip_prefix(b"=")?;
        Some(OsStr::from_bytes(rest))
    })
}

fn open_stdin(path: &Path, workdir: &Path) -> Result<OwnedFd> {
    let p = workdir.join(path);
    fs::File::open(&p)
        .map(OwnedFd::from)
        .map_err(|e| file_error("opening stdin", &p, e))
}

fn open_output(path: &Path, what: &str) -> Result<OwnedFd> {
    fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map(OwnedFd::from)
        .map_err(|e| file_error(what, path, e))
}

/// The monitor program to use: `$GAT_JOB_MONITOR` (set but empty: none), else the one installed
/// beside this library (`<prefix>/bin/gat-job-monitor` for `<prefix>/lib/libgat.so*`).
fn monitor_from_environment() -> Option<PathBuf> {
    match std::env::var_os(MONITOR_ENV) {
        Some(p) if p.is_empty() => None,
        Some(p) => Some(PathBuf::from(p)),
        None => installed_monitor_program(),
    }
}

/// `gat-job-monitor` in the `bin/` beside the `lib/` directory holding the shared library this
/// code runs from, or in that directory itself. A program linking the adaptor statically (the
/// test suites) finds none.
fn installed_monitor_program() -> Option<PathBuf> {
    // SAFETY: Dl_info is plain data; dladdr fills it for an address in a loaded object, and
    // dli_fname then points to a NUL-terminated path that lives as long as the object.
    let object = unsafe {
        let mut info: libc::Dl_info = std::mem::zeroed();
        let here = installed_monitor_program as *const libc::c_void;
        if libc::dladdr(here, &mut info) == 0 || info.dli_fname.is_null() {
            return None;
        }
        PathBuf::from(OsStr::from_bytes(std::ffi::CStr::from_ptr(info.dli_fname).to_bytes()))
    };
    let name = object.file_name()?.to_str()?;
    if !(name.starts_with("libgat") && name.contains(".so")) {
        return None;
    }
    let lib_dir = object.parent()?;
    // Installed (`<prefix>/bin` beside `<prefix>/lib`), or a build tree (cargo puts both in
    // `target/<profile>`).
    let candidates = [lib_dir.parent()?.join("bin").join("gat-job-monitor"), lib_dir.join("gat-job-monitor")];
    candidates.into_iter().find(|c| check_executable(c, "gat-job-monitor").is_ok())
}

/// Make the job directory (private to the user) when a job needs one.
pub(crate) fn make_job_dir(job_dir: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(job_dir)
        .map_err(|e| file_error("creating job directory", job_dir, e))
}

/// Clear what an earlier run in the same job directory left (a restart in place); a job
/// directory that does not exist (the usual case) costs one failed lookup.
fn clear_earlier_run(job_dir: &Path) {
    if job_dir.is_dir() {
        for stale in STALE_FILES {
            let _ = fs::remove_file(job_dir.join(stale));
        }
    }
}

/// Job directory of a native job (kept in `data`).
fn job_dir_of(job: &NativeJob) -> Result<PathBuf> {
    if job.data.is_empty() {
        return Err(Error::NoSuchJob(format!(
            "local job {:?} has no job directory recorded",
            job.id
        )));
    }
    Ok(PathBuf::from(&job.data))
}

/// The state once the job's monitor (or job server) is known to have exited: its exit record,
/// or Lost.
pub(crate) fn state_after_monitor_exit(records: &RecordBook, job_dir: &Path) -> NativeState {
    match records.read(job_dir) {
        Ok(Some(JobRecord { exit: Some(rec), .. })) => {
            staging::post_stage_once(job_dir);
            NativeState::Finished { status: rec.status, stopped_by_request: rec.stopped }
        }
        Ok(record) => {
            let who = match record.and_then(|r| r.pid) {
                Some(p) if p.served => format!("job server (pid {})", p.monitor_pid),
                Some(p) => format!("monitor process (pid {})", p.monitor_pid),
                None => "monitor".to_string(),
            };
            NativeState::Lost {
                reason: format!(
                    "the job's {who} ended without recording an exit status for {} (was it killed?)",
                    job_dir.display()
                ),
            }
        }
        Err(e) => NativeState::Unknown { reason: format!("reading the job's record: {e}") },
    }
}

impl LocalAdaptor {
    /// An adaptor offering one resource per config.
    pub fn new(resources: Vec<LocalResourceConfig>) -> Self {
        LocalAdaptor {
            resources,
            host: OnceLock::new(),
            stop_grace: DEFAULT_STOP_GRACE,
            monitor_program: monitor_from_environment(),
            monitor_discovered: std::env::var_os(MONITOR_ENV).is_none(),
            sink: Arc::new(Mutex::new(None)),
            records: Arc::new(RecordBook::default()),
            resources_cache: Mutex::new(None),
            watcher: Mutex::new(None),
            server: Mutex::new(ServerSlot::NotStarted),
            next_request: std::sync::atomic::AtomicU64::new(1),
        }
    }

    /// Grace period between TERM and KILL when stopping jobs submitted from now on.
    pub fn with_stop_grace(mut self, grace: Duration) -> Self {
        self.stop_grace = grace;
        self
    }

    pub fn stop_grace(&self) -> Duration {
        self.stop_grace
    }

    /// Start jobs through the `gat-job-monitor` program at `path` (see
    /// [`monitor_program_main`]), run once as the job server. Without it (and without
    /// `$GAT_JOB_MONITOR` or an installed one) each job gets a monitor process of its own,
    /// sharing the host's memory: it works the same, at a higher cost per job, and keeps the
    /// host's memory alive until the job ends.
    pub fn with_monitor_program(mut self, path: Option<PathBuf>) -> Self {
        self.monitor_program = path;
        self.monitor_discovered = false;
        self
    }

    fn host(&self) -> &HostInfo {
        self.host.get_or_init(HostInfo::read)
    }

    fn contact_of(name: &str) -> String {
        if name.starts_with("local:") {
            name.to_string()
        } else {
            format!("local:{name}")
        }
    }

    fn watcher(&self) -> Result<Arc<Watcher>> {
        let mut slot = lock(&self.watcher);
        if let Some(w) = slot.as_ref() {
            return Ok(Arc::clone(w));
        }
        let w = Watcher::start(Arc::clone(&self.sink), Arc::clone(&self.records))
            .map_err(|e| Error::io("starting the local job watcher", e))?;
        *slot = Some(Arc::clone(&w));
        Ok(w)
    }

    /// Watch a monitor this process started (its child). Without pidfd support a thread waits
    /// for it instead, so it never lingers as a zombie. Its stack, if it shares our memory, is
    /// released once it is reaped.
    fn watch_child(
        &self,
        job: &NativeJob,
        job_dir: &Path,
        monitor_pid: i32,
        stack: Option<spawn::MonitorStack>,
    ) {
        let watcher = sys::pidfd_open(monitor_pid)
            .map_err(|e| Error::io("pidfd_open", e))
            .and_then(|fd| Ok((fd, self.watcher()?)));
        let (e, stack) = match watcher {
            Ok((fd, watcher)) => match watcher.watch(job, job_dir.to_path_buf(), monitor_pid, fd, Some(stack)) {
                Ok(()) => return,
                Err((e, stack)) => (e.to_string(), stack),
            },
            Err(e) => (e.to_string(), stack),
        };
        tracing::warn!(monitor = monitor_pid, "cannot watch the job monitor ({e}); reaping it from a thread");
        let _ = std::thread::Builder::new()
            .name("gat-local-reap".into())
            .spawn(move || {
                let _ = sys::reap_child_blocking(monitor_pid);
                if let Some(stack) = stack {
                    stack.release();
                }
            });
    }

    /// The running job server for the monitor program at `path`, started on first use (and
    /// again when the last one went away); None when it cannot run (jobs then get monitors).
    fn job_server(&self, path: &Path) -> Option<Arc<JobServer>> {
        let mut slot = lock(&self.server);
        match &*slot {
            ServerSlot::Running(s) if !s.is_gone() => return Some(Arc::clone(s)),
            ServerSlot::Unavailable => return None,
            _ => {}
        }
        let started = JobServer::start(path).and_then(|s| {
            let s = Arc::new(s);
            self.watcher().map_err(|e| io::Error::other(e.to_string()))?.add_server(&s)?;
            Ok(s)
        });
        match started {
            Ok(s) => {
                *slot = ServerSlot::Running(Arc::clone(&s));
                Some(s)
            }
            Err(e) => {
                tracing::warn!("cannot start the job server {} ({e}); jobs get monitors of their own", path.display());
                *slot = ServerSlot::Unavailable;
                None
            }
        }
    }

    /// Start the job through the job server; None when no server takes it (the caller starts
    /// a monitor instead).
    fn start_served(
        &self,
        plan: &spawn::LaunchPlan,
        path: &Path,
    ) -> Option<std::result::Result<ServedStart, spawn::LaunchError>> {
        // A server that went away (killed) is replaced once.
        for _ in 0..2 {
            let server = self.job_server(path)?;
            let token = self.next_request.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            match spawn::launch_served(&server, plan, token) {
                Ok(launched) => return Some(Ok(ServedStart { launched, server, token })),
                Err(spawn::ServedLaunchError::Failed(e)) => return Some(Err(e)),
                Err(spawn::ServedLaunchError::Refused(e)) => {
                    tracing::debug!("the job server did not take the job ({e})");
                    if !server.is_gone() {
                        return None;
                    }
                }
            }
        }
        None
    }

    /// Watch a job another process started (through a monitor or a job server), so that events
    /// come for re-attached jobs.
    fn watch_foreign(&self, job: &NativeJob, job_dir: &Path, rec: &PidRecord) {
        let Ok(w) = self.watcher() else { return };
        // A monitor is watched through its own pidfd. A job server runs many jobs and outlives
        // them: its job is watched through the job's (unless it is one of ours, whose exit
        // notes come anyway).
        let pid = if rec.served { rec.job_pid } else { rec.monitor_pid };
        if w.is_watching(pid) || (rec.served && w.serves(pid)) {
            return;
        }
        let Ok(fd) = sys::pidfd_open(pid) else { return };
        // The pid could have been reused before pidfd_open pinned it: look again. A server
        // writes a job's exit line once it reaped the job and its group is gone (the group's id
        // is the job's pid, held while any member lives): with the server alive and no exit
        // recorded, the pid is the job's, or was freed a moment ago (and pids are not reused
        // that soon).
        let unfinished = !rec.served || matches!(self.records.read_exit(job_dir), Ok(None));
        if !(unfinished && jobfiles::monitor_alive(rec)) {
            return;
        }
        let watched = if rec.served {
            w.watch_served_elsewhere(job, job_dir.to_path_buf(), pid, fd)
        } else {
            w.watch(job, job_dir.to_path_buf(), pid, fd, None).map_err(|(e, _)| e)
        };
        if let Err(e) = watched {
            tracing::debug!("cannot watch process {pid}: {e}");
        }
    }

    fn job_state(&self, job: &NativeJob) -> NativeState {
        let job_dir = match job_dir_of(job) {
            Ok(d) => d,
            Err(e) => {
                return NativeState::Unknown {
                    reason: e.to_string(),
                }
            }
        };
        // One read answers both: has it ended, and if not, who watches it.
        let record = match self.records.read(&job_dir) {
            Ok(record) => record,
            Err(e) => {
                return NativeState::Unknown {
                    reason: format!("reading the job's record: {e}"),
                }
            }
        };
        if let Some(exit) = record.as_ref().and_then(|r| r.exit) {
            staging::post_stage_once(&job_dir);
            return NativeState::Finished {
                status: exit.status,
                stopped_by_request: exit.stopped,
            };
        }
        let rec = match record.and_then(|r| r.pid) {
            Some(rec) => rec,
            None => {
                return NativeState::Lost {
                    reason: format!(
                        "no start of the job in {} is recorded (in {}, or its pid file): it was never fully submitted, or the record was removed",
                        job_dir.display(),
                        records::LOG_FILE
                    ),
                }
            }
        };
        if jobfiles::monitor_alive(&rec) {
            self.watch_foreign(job, &job_dir, &rec);
            return NativeState::Running;
        }
        state_after_monitor_exit(&self.records, &job_dir)
    }

    fn job_pgid(job: &NativeJob) -> Result<i32> {
        match job.native_id.trim().parse::<i32>() {
            Ok(pgid) if pgid > 1 => Ok(pgid),
            _ => Err(Error::InvalidSpec(format!(
                "local job {:?} has an invalid native id {:?}",
                job.id, job.native_id
            ))),
        }
    }

    /// Start the job, its monitor (or the server) recording to the log open as `job_file`
    /// (lent for the start).
    fn start(
        &self,
        spec: &JobSpec,
        on: &Resource,
        job_dir: &Path,
        job_file: RawFd,
    ) -> Result<NativeJob> {
        let workdir = match &spec.directory {
            Some(d) => absolute(d)?,
            None => on
                .work_dir
                .clone()
                .map(|d| absolute(&d))
                .transpose()?
                .unwrap_or_else(home_dir),
        };
        match fs::metadata(&workdir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(Error::FileOpen(format!(
                    "working directory {} is not a directory",
                    workdir.display()
                )))
            }
            Err(e) => return Err(file_error("working directory", &workdir, e)),
        }

        let envp = job_environment(spec, &workdir)?;
        staging::pre_stage(&spec.pre_staged, &workdir)?;
        let program = find_program(&spec.executable, &workdir, env_value(&envp, "PATH"))?;

        // Streams the description does not send anywhere are discarded (None: /dev/null): a
        // file per job would cost more than the rest of a short job's start.
        let stdio = [
            spec.stdin.as_deref().map(|p| open_stdin(p, &workdir)).transpose()?,
            spec.stdout.as_ref().map(|p| open_output(&workdir.join(p), "opening stdout")).transpose()?,
            spec.stderr.as_ref().map(|p| open_output(&workdir.join(p), "opening stderr")).transpose()?,
        ];

        staging::write_post_stage_list(job_dir, &spec.post_staged, &workdir)?;

        let mut argv = vec![cstring(spec.executable.as_bytes(), "the executable")?];
        for a in &spec.arguments {
            argv.push(cstring(a.as_bytes(), "an argument")?);
        }
        let (server_unavailable, server_running) = match &*lock(&self.server) {
            ServerSlot::Unavailable => (true, false),
            ServerSlot::Running(s) => (false, !s.is_gone()),
            ServerSlot::NotStarted => (false, false),
        };
        let monitor_program = match &self.monitor_program {
            Some(_) if self.monitor_discovered && server_unavailable => None,
            // The server runs from it: no need to look at it again for every job.
            Some(p) if server_running => Some(path_cstring(p, "the job monitor path")?),
            Some(p) => {
                check_executable(p, "gat-job-monitor").map_err(|e| {
                    Error::FileOpen(format!(
                        "the configured job monitor program is unusable: {e}"
                    ))
                })?;
                Some(path_cstring(p, "the job monitor path")?)
            }
            None => None,
        };
        let mut plan = spawn::LaunchPlan {
            program: path_cstring(&program, "the program path")?,
            argv,
            envp,
            workdir: path_cstring(&workdir, "the working directory")?,
            stdio,
            job_file,
            record_key: records::key_of(job_dir),
            workdir_line: jobfiles::workdir_line(&workdir),
            stop_marker: path_cstring(&job_dir.join(STOP_MARKER), "the job directory")?,
            stop_grace: self.stop_grace,
            monitor_program,
            spin_for_report: self.cpus_free(),
        };
        let launch_error = |e| Self::launch_error(spec, &program, &workdir, e);
        let job_of = |launched: &spawn::Launched| NativeJob {
            id: spec.id.clone(),
            native_id: launched.job_pid.to_string(),
            resource: on.name.clone(),
            hostname: self.host().hostname.clone(),
            data: job_dir.to_string_lossy().into_owned(),
        };
        let served = match (&plan.monitor_program, &self.monitor_program) {
            (Some(_), Some(path)) => self.start_served(&plan, path),
            _ => None,
        };
        match served {
            Some(Ok(ServedStart { launched, server, token })) => {
                drop(plan);
                let job = job_of(&launched);
                // The server recorded the start in the record log before it reported it.
                // The server's watcher exists (it was made with the server); the job runs now, so
                // no error may end the submit here: the engine's slow poll is the net.
                let post_stage = !spec.post_staged.is_empty();
                match self.watcher() {
                    Ok(w) => w.watch_served(&server, token, &job, job_dir.to_path_buf(), post_stage),
                    Err(e) => tracing::warn!("job {}: {e}; its end is found by polling", job.id),
                }
                return Ok(job);
            }
            Some(Err(e)) => return Err(launch_error(e)),
            None => {}
        }
        // No job server: the job gets a monitor of its own, a child of this process.
        if self.monitor_discovered {
            plan.monitor_program = None;
        }
        let (launched, stack) = spawn::launch(&plan).map_err(launch_error)?;
        drop(plan);
        let job = job_of(&launched);
        // The monitor recorded the start in the record log before it reported it.
        self.watch_child(&job, job_dir, launched.monitor_pid, stack);
        Ok(job)
    }

    /// True when this process's running jobs leave a CPU free besides the submitting thread's.
    fn cpus_free(&self) -> bool {
        static CPUS: OnceLock<usize> = OnceLock::new();
        let cpus = *CPUS.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        let running = lock(&self.watcher).as_ref().map_or(0, |w| w.children());
        running + 1 < cpus
    }

    /// The resources with this machine's attributes, load and free space as of now.
    fn read_resources(&self) -> Vec<Resource> {
        let host = self.host();
        let load = Load {
            average: host::load_average(),
        };
        let mut configs: Vec<&LocalResourceConfig> = self.resources.iter().collect();
        configs.sort_by(|a, b| {
            b.priority
                .cmp(&a.priority)
                .then_with(|| a.name.cmp(&b.name))
        });
        configs
            .into_iter()
            .map(|cfg| {
                let mut attributes = host.attributes.clone();
                let area = cfg.work_dir.clone().unwrap_or_else(home_dir);
                if let Some(gib) = host::disk_free_gib(&area) {
                    attributes.insert("disk.size".to_string(), AttrValue::Num(gib));
                }
                Resource {
                    name: cfg.name.clone(),
                    contact: Self::contact_of(&cfg.name),
                    adaptor: NAME.to_string(),
                    attributes,
                    load,
                    hostname: host.hostname.clone(),
                    work_dir: cfg.work_dir.clone(),
                }
            })
            .collect()
    }

    fn launch_error(
        spec: &JobSpec,
        program: &Path,
        workdir: &Path,
        e: spawn::LaunchError,
    ) -> Error {
        use spawn::{LaunchError, Stage};
        match e {
            LaunchError::Failed {
                stage: Stage::Chdir,
                error,
            } => file_error("entering working directory", workdir, error),
            LaunchError::Failed {
                stage: Stage::Exec,
                error,
            } => file_error(&format!("executing {:?}:", spec.executable), program, error),
            LaunchError::Failed {
                stage: Stage::Fork,
                error,
            } if error.raw_os_error() == Some(libc::EAGAIN) => {
                Error::TryAgain(format!("cannot fork the job process: {error}"))
            }
            LaunchError::Failed { stage, error } => {
                Error::Failed(format!("starting the job ({stage:?}): {error}"))
            }
            LaunchError::Os { what, error } => Error::io(what, error),
        }
    }
}

impl Adaptor for LocalAdaptor {
    fn name(&self) -> &str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            submit: true,
            poll: true,
            signal: true,
            stop: true,
            fetch: true,
            place: true,
            staging: true,
            push_events: true,
            checkpoint_primitives: true,
            started_on_submit: true,
            detached_jobs: true,
            stream: true,
        }
    }

    fn resources(&self, _req: &Requirements) -> Result<Vec<Resource>> {
        // Load and free space change slowly (the load average is a 5-second figure): asked at
        // most once per RESOURCES_FRESH, so that a submit naming no resource reads no file.
        let mut cached = lock(&self.resources_cache);
        if let Some((at, list)) = cached.as_ref() {
            if at.elapsed() < RESOURCES_FRESH {
                return Ok(list.clone());
            }
        }
        let list = self.read_resources();
        *cached = Some((Instant::now(), list.clone()));
        Ok(list)
    }

    fn submit(&self, spec: &JobSpec, on: &Resource) -> Result<NativeJob> {
        if spec.job_dir.as_os_str().is_empty() {
            return Err(Error::InvalidSpec("the job has no job directory".into()));
        }
        let job_dir = absolute(&spec.job_dir)?;
        clear_earlier_run(&job_dir);
        let log = self
            .records
            .log_for(&job_dir)
            .map_err(|e| file_error("opening the job record log in", job_dir.parent().unwrap_or(&job_dir), e))?;
        // Nothing is recorded unless the job started. The log stays open here while the job
        // starts: its descriptor is lent, not copied.
        self.start(spec, on, &job_dir, log.raw_fd())
    }

    fn poll(&self, jobs: &[&NativeJob]) -> Result<Vec<NativeState>> {
        Ok(jobs.iter().map(|job| self.job_state(job)).collect())
    }

    fn signal(&self, job: &NativeJob, sig: Signal) -> Result<()> {
        let job_dir = job_dir_of(job)?;
        let finished = || matches!(self.records.read_exit(&job_dir), Ok(Some(_)));
        if finished() {
            return Err(Error::NoSuchJob("job has finished".into()));
        }
        let pgid = Self::job_pgid(job)?;
        match sys::kill(-pgid, sig.number()) {
            Ok(()) => Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {
                if finished() {
                    Err(Error::NoSuchJob("job has finished".into()))
                } else {
                    Err(Error::NoSuchJob(format!(
                        "no process of job {:?} (group {pgid}) exists",
                        job.id
                    )))
                }
            }
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => Err(Error::PermissionDenied(
                format!("signalling process group {pgid}: {e}"),
            )),
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => Err(Error::InvalidSpec(format!(
                "signal {} is not valid: {e}",
                sig.number()
            ))),
            Err(e) => Err(Error::io(format!("signalling process group {pgid}"), e)),
        }
    }

    fn stop(&self, job: &NativeJob) -> Result<()> {
        let job_dir = job_dir_of(job)?;
        let finished = || matches!(self.records.read_exit(&job_dir), Ok(Some(_)));
        if finished() {
            return Ok(());
        }
        let pgid = Self::job_pgid(job)?;
        let rec = self
            .records
            .read_pid(&job_dir)
            .map_err(|e| Error::io(format!("reading the record of the job in {}", job_dir.display()), e))?
            .ok_or_else(|| Error::NoSuchJob(format!("no start of the job in {} is recorded", job_dir.display())))?;
        make_job_dir(&job_dir)?;
        fs::write(job_dir.join(STOP_MARKER), b"")
            .map_err(|e| file_error("writing the stop marker in", &job_dir, e))?;

        if jobfiles::monitor_alive(&rec) {
            let _ = sys::kill(rec.monitor_pid, libc::SIGTERM);
            // The monitor's grace is the one it was started with; ours is the best guess we have.
            // The grace the monitor was started with (recorded), else ours.
            let grace = rec
                .stop_grace_ms
                .map(Duration::from_millis)
                .unwrap_or(self.stop_grace);
            let allowed = grace + STOP_SLACK;
            let deadline = Instant::now() + allowed;
            while Instant::now() < deadline {
                if finished() {
                    return Ok(());
                }
                if !jobfiles::monitor_alive(&rec) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            if finished() {
                return Ok(());
            }
            if jobfiles::monitor_alive(&rec) {
                return Err(Error::Timeout(format!(
                    "job {:?} (monitor pid {}) did not end within {allowed:?} of being stopped",
                    job.id, rec.monitor_pid
                )));
            }
        }
        // The monitor is gone (killed) but the job's group may live on: end it directly.
        if jobfiles::group_exists(pgid) {
            let _ = sys::kill(-pgid, libc::SIGKILL);
            let deadline = Instant::now() + STOP_SLACK;
            while jobfiles::group_exists(pgid) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        Ok(())
    }

    fn fetch(&self, job: &NativeJob, paths: &[PathBuf], into: &Path) -> Result<()> {
        let job_dir = job_dir_of(job)?;
        let workdir = self.records.read_workdir(&job_dir)
            .map_err(|e| file_error("reading the working directory from", &job_dir, e))?;
        staging::fetch(&workdir, paths, into)
    }

    /// Local resources are few and known without asking anything: the engine searches
    /// `resources()`.
    fn resource_at(&self, _name_or_contact: &str) -> Result<Option<Resource>> {
        Ok(None)
    }

    fn take(&self, job: &NativeJob, paths: &[PathBuf], into: &Path) -> Result<()> {
        let job_dir = job_dir_of(job)?;
        let workdir = self.records.read_workdir(&job_dir)
            .map_err(|e| file_error("reading the working directory from", &job_dir, e))?;
        staging::take(&workdir, paths, into)
    }

    fn remove(&self, job: &NativeJob, paths: &[PathBuf]) -> Result<()> {
        let job_dir = job_dir_of(job)?;
        let workdir = self.records.read_workdir(&job_dir)
            .map_err(|e| file_error("reading the working directory from", &job_dir, e))?;
        for p in paths {
            let target = workdir.join(p);
            match fs::remove_file(&target) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(file_error("removing", &target, e)),
            }
        }
        Ok(())
    }

    fn signal_if_caught(&self, job: &NativeJob, sig: Signal) -> Result<bool> {
        let job_dir = job_dir_of(job)?;
        if matches!(self.records.read_exit(&job_dir), Ok(Some(_))) {
            return Err(Error::NoSuchJob("job has finished".into()));
        }
        let pid = Self::job_pgid(job)?;
        let caught = jobfiles::catches_signal(pid, sig.number()).map_err(|e| {
            Error::NoSuchJob(format!("reading the signal handlers of job {:?} (pid {pid}): {e}", job.id))
        })?;
        if !caught {
            return Ok(false);
        }
        sys::kill(pid, sig.number())
            .map_err(|e| Error::io(format!("signalling process {pid} of job {:?}", job.id), e))?;
        Ok(true)
    }

    fn place(&self, on: &Resource, files: &Path, dir: &Path) -> Result<()> {
        let dir = if dir.is_absolute() {
            dir.to_path_buf()
        } else {
            on.work_dir.clone().unwrap_or_else(home_dir).join(dir)
        };
        staging::place(files, &dir)
    }

    fn open_read(&self, job: &NativeJob, path: &Path) -> Result<Box<dyn gat_adaptor::ReadStream>> {
        let job_dir = job_dir_of(job)?;
        let workdir = self.records.read_workdir(&job_dir)
            .map_err(|e| file_error("reading the working directory from", &job_dir, e))?;
        let path = workdir.join(path);
        let file = fs::File::open(&path).map_err(|e| file_error("opening", &path, e))?;
        let size = file.metadata().map_err(|e| file_error("reading the size of", &path, e))?.len();
        Ok(Box::new(LocalReadStream { file, path, size, left: size }))
    }

    fn write_from(&self, on: &Resource, dir: &Path, name: &Path, size: u64, from: &mut dyn io::Read) -> Result<()> {
        gat_adaptor::check_stream_name(name)?;
        let dir = if dir.is_absolute() {
            dir.to_path_buf()
        } else {
            on.work_dir.clone().unwrap_or_else(home_dir).join(dir)
        };
        let dest = dir.join(name);
        let parent = dest.parent().unwrap_or(&dir).to_path_buf();
        fs::create_dir_all(&parent).map_err(|e| file_error("creating", &parent, e))?;
        // Written under a temporary name and renamed: the name holds a complete file or none.
        let mut part = dest.clone().into_os_string();
        part.push(format!(".gat-part-{}", std::process::id()));
        let part = PathBuf::from(part);
        let written = fs::File::create(&part)
            .map_err(|e| file_error("creating", &part, e))
            .and_then(|mut file| {
                gat_adaptor::copy_exactly(from, size, &mut file, 1 << 20)
                    .map_err(|e| Error::io(format!("writing {}", dest.display()), e))
            })
            .and_then(|()| fs::rename(&part, &dest).map_err(|e| file_error("renaming into place", &dest, e)));
        if written.is_err() {
            let _ = fs::remove_file(&part);
        }
        written
    }

    fn set_event_sink(&self, sink: EventSink) -> Result<()> {
        *lock(&self.sink) = Some(sink);
        Ok(())
    }
}

/// A file of a local job read as a stream: exactly the size it had when opened.
struct LocalReadStream {
    file: fs::File,
    path: PathBuf,
    size: u64,
    left: u64,
}

impl io::Read for LocalReadStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            // The end announced: the file must not have grown.
            return match io::Read::read(&mut self.file, &mut [0u8]) {
                Ok(0) => Ok(0),
                Ok(_) => Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{} grew past its {} bytes while it was read", self.path.display(), self.size),
                )),
                Err(e) => Err(e),
            };
        }
        let want = buf.len().min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = io::Read::read(&mut self.file, &mut buf[..want])?;
        if n == 0 && want > 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("{} shrank to {} of its {} bytes while it was read", self.path.display(), self.size - self.left, self.size),
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

impl gat_adaptor::ReadStream for LocalReadStream {
    fn size(&self) -> u64 {
        self.size
    }

    fn finish(self: Box<Self>) -> Result<()> {
        if self.left != 0 {
            return Err(Error::Failed(format!(
                "{}: finished after {} of {} bytes",
                self.path.display(),
                self.size - self.left,
                self.size
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_names_are_found_in_path_and_missing_ones_are_file_errors() {
        let found = find_program(
            "sh",
            Path::new("/"),
            Some(OsStr::new("/nonexistent:/bin:/usr/bin")),
        );
        assert!(found.is_ok(), "{found:?}");
        let missing = find_program(
            "gat-no-such-program",
            Path::new("/"),
            Some(OsStr::new("/bin")),
        );
        assert!(matches!(missing, Err(Error::FileOpen(_))), "{missing:?}");
        let dir = find_program("/tmp", Path::new("/"), None);
        assert!(matches!(dir, Err(Error::PermissionDenied(_))), "{dir:?}");
    }

    #[test]
    fn default_offers_exactly_local() {
        let a = LocalAdaptor::default();
        let rs = a.resources(&Requirements::default()).expect("resources");
        assert_eq!(rs.len(), 1);
        assert_eq!(rs[0].name, "local:");
        assert_eq!(rs[0].contact, "local:");
        assert_eq!(rs[0].adaptor, "local");
        assert!(rs[0].attributes.contains_key("cpu.count"));
        assert!(rs[0].load.average.is_some());
    }
}
