use std::collections::BTreeMap;
use std::path::PathBuf;

/// What an adaptor can do. Plain bools, all false by default: an adaptor opts in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Capabilities {
    pub submit: bool,
    pub poll: bool,
    pub signal: bool,
    pub stop: bool,
    pub fetch: bool,
    pub place: bool,
    /// Pre- and post-staged files are copied by the adaptor.
    pub staging: bool,
    /// The adaptor calls the [`crate::EventSink`] when a job changes state (no polling needed).
    pub push_events: bool,
    /// `remove` and `signal_if_caught` work: the cooperative checkpoint protocol can run.
    pub checkpoint_primitives: bool,
    /// A successful `submit` means the job has started (it is never queued), so the engine
    /// need not ask.
    pub started_on_submit: bool,
    /// Jobs keep running and stay observable after the submitting process exits.
    pub detached_jobs: bool,
    /// `open_read` and `write_from` work: a file can be streamed off a job's host and onto a
    /// resource without a local copy in between (a migration between hosts streams its state
    /// from the source to the target in one pass).
    pub stream: bool,
}

/// A resource attribute value: hardware descriptions carry strings and numbers.
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    Str(String),
    Num(f64),
}

impl AttrValue {
    pub fn as_num(&self) -> Option<f64> {
        match self {
            AttrValue::Num(n) => Some(*n),
            AttrValue::Str(s) => s.trim().parse().ok(),
        }
    }
}

impl std::fmt::Display for AttrValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AttrValue::Str(s) => f.write_str(s),
            AttrValue::Num(n) => write!(f, "{n}"),
        }
    }
}

/// What the caller asks of a resource (the GAT hardware resource description keys, such as
/// `cpu.count` or `os.name`). A missing key matches anything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Requirements {
    pub attributes: BTreeMap<String, AttrValue>,
}

/// Current load of a resource, as GNU Queue measures it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Load {
    /// One-minute load average, where known.
    pub average: Option<f64>,
}

/// A place where jobs run: this machine, an SSH host, a Slurm partition.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    /// Configured name, or the contact when unnamed (`local:`).
    pub name: String,
    /// The contact string: `local:`, `ssh://user@host:port`, `slurm://partition`.
    pub contact: String,
    /// The adaptor's name.
    pub adaptor: String,
    /// Hardware and OS attributes (c-api.md §6 keys: `cpu.count`, `memory.size`, `os.name`, ...).
    pub attributes: BTreeMap<String, AttrValue>,
    pub load: Load,
    /// Host name jobs on this resource report (`hostname` in the info table).
    pub hostname: String,
    /// A working area on the resource where jobs without a `directory` run, if the resource has one.
    pub work_dir: Option<PathBuf>,
}

/// Where a path fetched off a job's host lands under the local directory it is fetched into:
/// relative paths keep their relative name, absolute ones their file name.
pub fn fetched_name(path: &std::path::Path) -> PathBuf {
    if path.is_absolute() {
        PathBuf::from(path.file_name().unwrap_or(path.as_os_str()))
    } else {
        path.to_path_buf()
    }
}

/// A file to copy before the job starts or after it stops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageEntry {
    /// Where the file comes from. Pre-stage: a local path. Post-stage: a path on the job's host,
    /// relative to the job's working directory.
    pub source: PathBuf,
    /// Where it goes. Pre-stage: relative to the job's working directory. Post-stage: a local path.
    pub destination: PathBuf,
}

/// Everything an adaptor needs to start a job. Built by the engine from the GAT software
/// description; adaptors never see GAT tables.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct JobSpec {
    /// libgat's job id (`GAT_JOB_ID` in the job's environment).
    pub id: String,
    /// The program: an absolute path, or a name to look up in `PATH` on the resource.
    pub executable: String,
    pub arguments: Vec<String>,
    /// Variables set for the job on top of the resource's default environment.
    pub environment: Vec<(String, String)>,
    /// Working directory; None: the resource's work area, else the user's home directory.
    pub directory: Option<PathBuf>,
    /// None: /dev/null.
    pub stdin: Option<PathBuf>,
    /// None: the adaptor's default (local: discarded; ssh: a file in the job's directory on
    /// the host).
    pub stdout: Option<PathBuf>,
    pub stderr: Option<PathBuf>,
    /// Variables whose values are paths relative to the job's working directory; the adaptor
    /// sets them to the absolute paths on the job's host (the checkpoint protocol's files).
    pub workdir_env: Vec<(String, PathBuf)>,
    pub pre_staged: Vec<StageEntry>,
    pub post_staged: Vec<StageEntry>,
    /// A local directory for this job's bookkeeping, private to the user. The engine makes it
    /// for checkpointable jobs only; an adaptor that keeps files there makes it when it needs
    /// it (mode 0700).
    pub job_dir: PathBuf,
}

/// A job as the adaptor knows it. Serialisable as plain strings so the journal can keep it and a
/// later process can re-attach.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NativeJob {
    /// libgat's job id.
    pub id: String,
    /// The OS's or the batch system's id (`native.id` in the info table).
    pub native_id: String,
    /// The resource name it runs on.
    pub resource: String,
    /// Host name where it runs.
    pub hostname: String,
    /// Adaptor-private data needed to find the job again (a path, a host), opaque to the engine.
    pub data: String,
}

/// How a job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// The program exited with this code.
    Exited(i32),
    /// The program was ended by this signal.
    Signaled(i32),
}

/// A job's state as the resource reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NativeState {
    /// Waiting in a queue.
    Queued,
    Running,
    /// The job has ended. `stopped_by_request` is true when libgat's stop ended it.
    Finished { status: ExitStatus, stopped_by_request: bool },
    /// The state cannot be determined right now (host unreachable, daemon down); never a guess.
    Unknown { reason: String },
    /// The job is gone and its end was not recorded (its host lost it).
    Lost { reason: String },
}

impl NativeState {
    pub fn is_final(&self) -> bool {
        matches!(self, NativeState::Finished { .. } | NativeState::Lost { .. })
    }
}

/// Signals the engine sends to jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Term,
    Kill,
    Usr1,
    Usr2,
    Cont,
    Stop,
    /// Any other signal, by number.
    Number(i32),
}

impl Signal {
    pub fn number(self) -> i32 {
        match self {
            Signal::Term => libc::SIGTERM,
            Signal::Kill => libc::SIGKILL,
            Signal::Usr1 => libc::SIGUSR1,
            Signal::Usr2 => libc::SIGUSR2,
            Signal::Cont => libc::SIGCONT,
            Signal::Stop => libc::SIGSTOP,
            Signal::Number(n) => n,
        }
    }

    /// Parse `SIGUSR2`, `USR2` or `12`.
    pub fn parse(text: &str) -> Option<Signal> {
        let t = text.trim();
        if let Ok(n) = t.parse::<i32>() {
            return (1..=64).contains(&n).then_some(Signal::Number(n));
        }
        let name = t.strip_prefix("SIG").unwrap_or(t).to_ascii_uppercase();
        Some(match name.as_str() {
            "TERM" => Signal::Term,
            "KILL" => Signal::Kill,
            "USR1" => Signal::Usr1,
            "USR2" => Signal::Usr2,
            "CONT" => Signal::Cont,
            "STOP" => Signal::Stop,
            "INT" => Signal::Number(libc::SIGINT),
            "HUP" => Signal::Number(libc::SIGHUP),
            "QUIT" => Signal::Number(libc::SIGQUIT),
            "ALRM" => Signal::Number(libc::SIGALRM),
            "XCPU" => Signal::Number(libc::SIGXCPU),
            _ => return None,
        })
    }
}
