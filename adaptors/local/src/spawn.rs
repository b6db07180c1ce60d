//! Starting a job under its monitor process.
//!
//! The submitting process forks a monitor; the monitor forks and execs the job. Everything the two
//! children touch is built here before `fork()`: the host program may be multithreaded, so
//! between fork and exec/_exit only async-signal-safe libc calls are made (no allocation, no
//! locks, nothing of Rust's std that allocates, no panicking code paths).
//!
//! The monitor is either that forked copy of the host, or (when a monitor program is configured)
//! the separate `gat-job-monitor` program the forked child execs at once, so the monitor does not
//! keep the host's memory alive while the job runs. Both run `monitor_body`.
//!
//! Monitor (one per job, in its own session, child subreaper):
//! 1. enters the job's working directory and starts the job with a vfork-style clone (the
//!    monitor's memory, a copy of the host's, is not copied again): own process group
//!    (pgid = job pid), empty signal mask, default dispositions (the monitor reset the ones that
//!    were not), stdio inherited from the monitor, an explicit environment;
//! 2. appends the pid record and working directory to the job's `pid` file (created empty by
//!    the submitting process, on fd 4) and reports `(stage, errno, job_pid)` to the submitting
//!    process through a CLOEXEC pipe;
//! 3. waits with sigtimedwait for SIGCHLD / SIGTERM, reaping with waitpid(-1) (its own children
//!    only: it is a separate process). SIGTERM means "stop": TERM (and CONT) to the job's group
//!    and reparented descendants, a grace period, then KILL;
//! 4. when the job's main process ended: KILL what is left of the tree, reap all of it, append
//!    the exit line to the `pid` file in one write, `_exit(0)`. No fsync: the journal is the
//!    durable record, and the file only has to outlive the processes, not the machine.

use std::ffi::CString;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::ptr;
use std::time::Duration;

/// What went wrong where, as reported by the monitor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    MonitorSetup,
    Fork,
    Chdir,
    Exec,
}

const STAGE_OK: i32 = 0;
const STAGE_MONITOR_SETUP: i32 = 1;
pub(crate) const STAGE_FORK: i32 = 2;
const STAGE_CHDIR: i32 = 3;
const STAGE_EXEC: i32 = 4;

/// Everything the monitor and the job need, prepared in the parent.
pub struct LaunchPlan {
    /// Resolved path of the program.
    pub program: CString,
    /// argv, argv[0] first.
    pub argv: Vec<CString>,
    /// `NAME=value` entries.
    pub envp: Vec<CString>,
    pub workdir: CString,
    pub stdin: OwnedFd,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
    /// The job's `pid` file, created empty by the caller; `job_file` is it opened for appending.
    pub job_file_path: CString,
    pub job_file: OwnedFd,
    /// The working directory as the `pid` file records it (`jobfiles::workdir_line`).
    pub workdir_line: Vec<u8>,
    pub stop_marker: CString,
    pub stop_grace: Duration,
    /// Signals whose disposition the monitor must set back to default (bit n-1 for signal n):
    /// those the host catches or ignores.
    pub reset_signals: u64,
    /// Run the monitor as this separate program (`gat-job-monitor`) instead of in the forked
    /// copy of the host process, so the monitor does not keep the host's memory alive.
    pub monitor_program: Option<CString>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Launched {
    pub monitor_pid: i32,
    pub job_pid: i32,
}

#[derive(Debug)]
pub enum LaunchError {
    /// The monitor or the job could not be set up; `errno` says why.
    Failed { stage: Stage, error: io::Error },
    /// Creating the monitor itself failed, or it vanished without a report.
    Os {
        what: &'static str,
        error: io::Error,
    },
}

/// Raw pointers into a `LaunchPlan`, valid while the plan lives (the child has a copy).
struct MonitorCtx {
    program: *const libc::c_char,
    argv: *const *const libc::c_char,
    envp: *const *const libc::c_char,
    workdir: *const libc::c_char,
    job_file_path: *const libc::c_char,
    workdir_line: *const u8,
    workdir_line_len: usize,
    stop_marker: *const libc::c_char,
    grace_ms: i64,
    /// Dispositions monitor_body resets (0 when the forked child did already).
    reset_signals: u64,
}

fn nul_terminated(strings: &[CString]) -> Vec<*const libc::c_char> {
    let mut v: Vec<*const libc::c_char> = strings.iter().map(|s| s.as_ptr()).collect();
    v.push(ptr::null());
    v
}

/// First argument of the separate monitor program, so a stray invocation is recognised; the
/// number is the argument layout's version (2: one pid file instead of exit and temporary paths).
const HELPER_MARKER: &str = "--gat-job-monitor=2";

/// Arguments for the separate monitor program: marker, workdir, program, pid file path, stop
/// marker, grace in ms, `--`, then the job's argv. Its environment is the job's.
fn helper_argv(helper: &CString, plan: &LaunchPlan) -> Vec<CString> {
    let mut v = vec![
        helper.clone(),
        CString::new(HELPER_MARKER).unwrap_or_default(),
        plan.workdir.clone(),
        plan.program.clone(),
        plan.job_file_path.clone(),
        plan.stop_marker.clone(),
        CString::new(plan.stop_grace.as_millis().to_string()).unwrap_or_default(),
        CString::new("--").unwrap_or_default(),
    ];
    v.extend(plan.argv.iter().cloned());
    v
}

/// First argument of the monitor program in spawner mode (see `spawner.rs`).
pub const SPAWNER_MARKER: &str = "--gat-spawner=1";

/// `main` of the separate monitor program (`gat-job-monitor`). Started by `launch` with the
/// job's stdio on 0, 1, 2, the report pipe on 3, the pid file on 4 and all signals blocked; or,
/// with `SPAWNER_MARKER`, as the adaptor's spawner (socket on 3). Never returns.
pub fn monitor_program_main() -> ! {
    use std::os::unix::ffi::OsStrExt;
    let args: Vec<CString> = std::env::args_os()
        .map(|a| CString::new(a.as_bytes()).unwrap_or_default())
        .collect();
    if args.get(1).map(|a| a.as_bytes()) == Some(SPAWNER_MARKER.as_bytes()) {
        crate::spawner::spawner_main()
    }
    let envp: Vec<CString> = std::env::vars_os()
        .filter_map(|(k, v)| {
            let mut entry = k.as_bytes().to_vec();
            entry.push(b'=');
            entry.extend_from_slice(v.as_bytes());
            CString::new(entry).ok()
        })
        .collect();
    // Exec kept what the host ignored, and Rust's runtime installed its own handlers.
    monitor_from_args(&args, &envp, signals_to_reset())
}

/// Run the monitor described by `helper_argv`-style arguments, with the job's environment
/// `envp`, the descriptors set up as for the monitor program, and the dispositions in `reset`
/// still to be set back to default. Never returns.
pub(crate) fn monitor_from_args(args: &[CString], envp: &[CString], reset: u64) -> ! {
    use std::os::unix::ffi::OsStrExt;
    let fixed = 8;
    let valid = args.len() > fixed
        && args[1].as_bytes() == HELPER_MARKER.as_bytes()
        && args[7].as_bytes() == b"--";
    let grace_ms = args
        .get(6)
        .and_then(|g| g.to_str().ok()?.parse::<i64>().ok());
    let (true, Some(grace_ms)) = (valid, grace_ms) else {
        eprintln!(
            "gat-job-monitor: this program is started by libgat's local adaptor, not by hand"
        );
        std::process::exit(2);
    };
    let argv = nul_terminated(&args[fixed..]);
    let envp_ptrs = nul_terminated(envp);
    let workdir_line = crate::jobfiles::workdir_line(std::path::Path::new(
        std::ffi::OsStr::from_bytes(args[2].as_bytes()),
    ));
    let ctx = MonitorCtx {
        program: args[3].as_ptr(),
        argv: argv.as_ptr(),
        envp: envp_ptrs.as_ptr(),
        workdir: args[2].as_ptr(),
        job_file_path: args[4].as_ptr(),
        workdir_line: workdir_line.as_ptr(),
        workdir_line_len: workdir_line.len(),
        stop_marker: args[5].as_ptr(),
        grace_ms,
        reset_signals: reset,
    };
    // SAFETY: set up as documented above; everything `ctx` points to lives in this frame or the
    // caller's, and this never returns.
    unsafe { monitor_body(&ctx) }
}

/// Start the monitor through the spawner (no fork of this process) and, through it, the job.
/// `Err(None)`: the spawner could not take the request (it is gone); the caller forks instead.
pub(crate) fn launch_via(
    spawner: &crate::spawner::Spawner,
    plan: &LaunchPlan,
    monitor_program: &CString,
) -> Result<Launched, Option<LaunchError>> {
    let mut pipe_fds = [0 as RawFd; 2];
    // SAFETY: pipe2 writes two fds into the array.
    if unsafe { libc::pipe2(pipe_fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(Some(LaunchError::Os {
            what: "creating the report pipe",
            error: io::Error::last_os_error(),
        }));
    }
    // SAFETY: both fds are fresh and owned only here.
    let (report_r, report_w) = unsafe {
        (
            OwnedFd::from_raw_fd(pipe_fds[0]),
            OwnedFd::from_raw_fd(pipe_fds[1]),
        )
    };
    let fds = [
        plan.stdin.as_raw_fd(),
        plan.stdout.as_raw_fd(),
        plan.stderr.as_raw_fd(),
        report_w.as_raw_fd(),
        plan.job_file.as_raw_fd(),
    ];
    let args = helper_argv(monitor_program, plan);
    if let Err(e) = spawner.request(&args, &plan.envp, &fds) {
        tracing::debug!("the job spawner did not take the request ({e}); forking instead");
        return Err(None);
    }
    // Only the monitor may hold the write end now: EOF then means it ended without a report.
    drop(report_w);
    read_report(report_r).map_err(Some)
}

/// Start the monitor and, through it, the job. Returns once exec succeeded or failed.
pub fn launch(plan: &LaunchPlan) -> Result<Launched, LaunchError> {
    let argv = nul_terminated(&plan.argv);
    let envp = nul_terminated(&plan.envp);
    let ctx = MonitorCtx {
        program: plan.program.as_ptr(),
        argv: argv.as_ptr(),
        envp: envp.as_ptr(),
        workdir: plan.workdir.as_ptr(),
        job_file_path: plan.job_file_path.as_ptr(),
        workdir_line: plan.workdir_line.as_ptr(),
        workdir_line_len: plan.workdir_line.len(),
        stop_marker: plan.stop_marker.as_ptr(),
        grace_ms: plan.stop_grace.as_millis().min(i64::MAX as u128) as i64,
        // The forked child resets them in child_setup, before anything can run a handler.
        reset_signals: 0,
    };

    let stdio = [
        plan.stdin.as_raw_fd(),
        plan.stdout.as_raw_fd(),
        plan.stderr.as_raw_fd(),
    ];
    let job_file = plan.job_file.as_raw_fd();
    let helper_args = plan
        .monitor_program
        .as_ref()
        .map(|program| helper_argv(program, plan));
    let helper_argv_ptrs = helper_args.as_ref().map(|a| nul_terminated(a));

    let mut pipe_fds = [0 as RawFd; 2];
    // SAFETY: pipe2 writes two fds into the array.
    if unsafe { libc::pipe2(pipe_fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(LaunchError::Os {
            what: "creating the report pipe",
            error: io::Error::last_os_error(),
        });
    }
    // SAFETY: both fds are fresh and owned only here.
    let (report_r, report_w) = unsafe {
        (
            OwnedFd::from_raw_fd(pipe_fds[0]),
            OwnedFd::from_raw_fd(pipe_fds[1]),
        )
    };

    // Block every signal in this thread across fork so that no handler of the host program runs
    // in the monitor before it has reset the dispositions.
    // SAFETY: sigset_t is plain data; sigfillset/pthread_sigmask only read and write these sets.
    let mut all: libc::sigset_t = unsafe { std::mem::zeroed() };
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    unsafe {
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
    }
    // SAFETY: fork is called with everything the child needs already built; the child only runs
    // `child_setup` and then `monitor_body` or execve, all async-signal-safe, and never returns.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: we are the freshly forked child; see the contracts of the functions called.
        unsafe {
            let keep_on_exec = helper_argv_ptrs.is_some();
            // The separate program resets what it inherited itself (see monitor_program_main).
            let reset = if keep_on_exec { 0 } else { plan.reset_signals };
            child_setup(stdio, report_w.as_raw_fd(), job_file, keep_on_exec, reset);
            match (&plan.monitor_program, &helper_argv_ptrs) {
                (Some(program), Some(args)) => {
                    libc::execve(program.as_ptr(), args.as_ptr(), envp.as_ptr());
                    write_report(REPORT_FD, STAGE_MONITOR_SETUP, errno(), 0);
                    libc::_exit(1);
                }
                _ => monitor_body(&ctx),
            }
        }
    }
    let fork_error = io::Error::last_os_error();
    // SAFETY: restores the mask saved above.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old, ptr::null_mut()) };
    drop(report_w);
    if pid < 0 {
        return Err(LaunchError::Os {
            what: "forking the job monitor",
            error: fork_error,
        });
    }

    match read_report(report_r) {
        Ok(started) => Ok(Launched {
            monitor_pid: pid,
            job_pid: started.job_pid,
        }),
        Err(e) => {
            // The monitor has exited (or is exiting) after a failure: reap it, it is our child.
            let _ = crate::sys::reap_child_blocking(pid);
            Err(e)
        }
    }
}

/// The monitor's 16-byte report `(stage, errno, job_pid, monitor_pid)` from the read end of the
/// report pipe: the started job, or why it did not start.
fn read_report(report_r: OwnedFd) -> Result<Launched, LaunchError> {
    let mut report = [0u8; 16];
    let mut got = 0;
    let mut reader = std::fs::File::from(report_r);
    while got < report.len() {
        match reader.read(&mut report[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    let word = |i: usize| {
        i32::from_ne_bytes([
            report[4 * i],
            report[4 * i + 1],
            report[4 * i + 2],
            report[4 * i + 3],
        ])
    };
    if got != report.len() {
        return Err(LaunchError::Os {
            what: "job monitor ended without a report",
            error: io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "no start report from the monitor",
            ),
        });
    }
    if word(0) == STAGE_OK && word(2) > 1 && word(3) > 1 {
        return Ok(Launched {
            monitor_pid: word(3),
            job_pid: word(2),
        });
    }
    let stage = match word(0) {
        STAGE_FORK => Stage::Fork,
        STAGE_CHDIR => Stage::Chdir,
        STAGE_EXEC => Stage::Exec,
        _ => Stage::MonitorSetup,
    };
    Err(LaunchError::Failed {
        stage,
        error: io::Error::from_raw_os_error(word(1)),
    })
}

// ---------------------------------------------------------------------------------------------
// Everything below runs in forked children: async-signal-safe libc calls only, no allocation,
// no panics (no slice indexing that could go out of bounds, no unwrap).

fn errno() -> i32 {
    // SAFETY: __errno_location returns the calling thread's errno slot.
    unsafe { *libc::__errno_location() }
}

/// Write the 16-byte report `(stage, errno, job_pid, 0)`.
pub(crate) fn write_report(fd: RawFd, stage: i32, err: i32, job_pid: i32) {
    // SAFETY: getpid has no memory effects. The monitor's pid: a spawner-made monitor is not the
    // submitting process's child, so it learns the pid here.
    let words = [stage, err, job_pid, unsafe { libc::getpid() }];
    // SAFETY: writes 16 bytes from a live array; a pipe write this small is atomic.
    unsafe { libc::write(fd, words.as_ptr().cast(), 16) };
}

/// A fixed-size text buffer that drops what does not fit (never panics, never allocates).
struct StackText {
    buf: [u8; 96],
    len: usize,
}

impl StackText {
    fn new() -> Self {
        StackText {
            buf: [0; 96],
            len: 0,
        }
    }
    fn push_bytes(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if let Some(slot) = self.buf.get_mut(self.len) {
                *slot = b;
                self.len += 1;
            }
        }
    }
    fn push_int(&mut self, n: i64) {
        let mut digits = [0u8; 20];
        let mut count = 0;
        let negative = n < 0;
        let mut v = n.unsigned_abs();
        loop {
            if let Some(d) = digits.get_mut(count) {
                *d = b'0' + (v % 10) as u8;
            }
            count += 1;
            v /= 10;
            if v == 0 || count >= digits.len() {
                break;
            }
        }
        if negative {
            self.push_bytes(b"-");
        }
        while count > 0 {
            count -= 1;
            if let Some(&d) = digits.get(count) {
                self.push_bytes(&[d]);
            }
        }
    }
    fn bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }
    /// NUL-terminated pointer (the last byte is reserved for the NUL).
    fn as_c_ptr(&mut self) -> *const libc::c_char {
        let end = self.len.min(self.buf.len() - 1);
        if let Some(slot) = self.buf.get_mut(end) {
            *slot = 0;
        }
        self.buf.as_ptr().cast()
    }
}

// time_t and c_long are i64 only on 64-bit targets: the casts are for the others.
#[allow(clippy::unnecessary_cast)]
fn now_ms() -> i64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into `ts`; async-signal-safe.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as i64 * 1000 + ts.tv_nsec as i64 / 1_000_000
}

/// Send `sig` to the job's process group and to every child of the monitor (descendants that
/// left the group and were reparented to us, the subreaper).
fn signal_tree(job_pid: i32, sig: i32) {
    // SAFETY: kill has no memory effects; job_pid > 1 was checked before the loop started.
    unsafe { libc::kill(-job_pid, sig) };
    let mut path = StackText::new();
    path.push_bytes(b"/proc/self/task/");
    // SAFETY: getpid has no memory effects. The monitor is single-threaded: tid == pid.
    path.push_int(unsafe { libc::getpid() } as i64);
    path.push_bytes(b"/children");
    // SAFETY: the path buffer is NUL-terminated by as_c_ptr and lives across the call.
    let fd = unsafe { libc::open(path.as_c_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return;
    }
    let mut chunk = [0u8; 256];
    let mut pid: i64 = 0;
    loop {
        // SAFETY: reads at most chunk.len() bytes into the live buffer.
        let n = unsafe { libc::read(fd, chunk.as_mut_ptr().cast(), chunk.len()) };
        if n <= 0 {
            break;
        }
        for &b in chunk.iter().take(n as usize) {
            if b.is_ascii_digit() {
                pid = pid.saturating_mul(10).saturating_add((b - b'0') as i64);
            } else {
                if pid > 1 && pid <= i32::MAX as i64 {
                    // SAFETY: kill has no memory effects; pid is a child of ours.
                    unsafe { libc::kill(pid as i32, sig) };
                }
                pid = 0;
            }
        }
    }
    if pid > 1 && pid <= i32::MAX as i64 {
        // SAFETY: as above.
        unsafe { libc::kill(pid as i32, sig) };
    }
    // SAFETY: closes the fd opened above.
    unsafe { libc::close(fd) };
}

/// Append the exit line (`exited N` / `signaled N`, ` stopped` when libgat's stop ended the job)
/// to the pid file in one write, so a reader sees the whole line or none of it.
fn write_exit(ctx: &MonitorCtx, status: libc::c_int) {
    let mut text = StackText::new();
    if libc::WIFSIGNALED(status) {
        text.push_bytes(b"signaled ");
        text.push_int(libc::WTERMSIG(status) as i64);
    } else {
        text.push_bytes(b"exited ");
        text.push_int(libc::WEXITSTATUS(status) as i64);
    }
    // SAFETY: stop_marker is a valid C string owned by the plan (copied into this process).
    if unsafe { libc::access(ctx.stop_marker, libc::F_OK) } == 0 {
        text.push_bytes(b" stopped");
    }
    text.push_bytes(b"\n");
    // SAFETY: job_file_path is a valid C string; the text buffer lives across write. No O_CREAT:
    // a job directory removed meanwhile is not brought back.
    unsafe {
        let fd = libc::open(
            ctx.job_file_path,
            libc::O_WRONLY | libc::O_APPEND | libc::O_CLOEXEC,
        );
        if fd < 0 {
            return;
        }
        let bytes = text.bytes();
        libc::write(fd, bytes.as_ptr().cast(), bytes.len());
        libc::close(fd);
    }
}

/// This process's start time in clock ticks (field 22 of /proc/self/stat), None if unreadable.
///
/// # Safety
/// Async-signal-safe: open/read/close into a stack buffer.
unsafe fn own_start_ticks() -> Option<u64> {
    let fd = libc::open(
        c"/proc/self/stat".as_ptr(),
        libc::O_RDONLY | libc::O_CLOEXEC,
    );
    if fd < 0 {
        return None;
    }
    let mut buf = [0u8; 1024];
    let mut len = 0usize;
    while len < buf.len() {
        let rest = buf.get_mut(len..).unwrap_or(&mut []);
        let n = libc::read(fd, rest.as_mut_ptr().cast(), rest.len());
        if n <= 0 {
            break;
        }
        len += n as usize;
    }
    libc::close(fd);
    let text = buf.get(..len)?;
    // The command name (field 2) may contain spaces and ')': count fields after the last ')'.
    let close = text.iter().rposition(|&b| b == b')')?;
    let mut fields = text.get(close + 1..)?.split(|&b| b == b' ').filter(|f| !f.is_empty());
    // Field 3 (state) is the first after ')': field 22 is 19 further.
    let start = fields.nth(19)?;
    let mut ticks: u64 = 0;
    for &b in start {
        if !b.is_ascii_digit() {
            return None;
        }
        ticks = ticks.checked_mul(10)?.checked_add((b - b'0') as u64)?;
    }
    Some(ticks)
}

/// The report pipe's descriptor in the monitor.
const REPORT_FD: RawFd = 3;
/// The job's pid file (opened for appending) in the monitor, until the start is recorded.
const JOB_FILE_FD: RawFd = 4;

/// Signals with a disposition other than default in this process (its `SigCgt` and `SigIgn`
/// masks in /proc/self/status), as bit n-1 for signal n; every signal when that is unreadable.
/// Read before each fork: the host may install handlers at any time.
pub fn signals_to_reset() -> u64 {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return u64::MAX;
    };
    let mask = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
    };
    match (mask("SigCgt:"), mask("SigIgn:")) {
        (Some(caught), Some(ignored)) => caught | ignored,
        _ => u64::MAX,
    }
}

/// The signals in `mask` (bit n-1 for signal n) to their default action (signals stay blocked).
///
/// # Safety
/// Async-signal-safe; meant for the monitor, where no handler of the host may stay installed.
pub(crate) unsafe fn reset_signal_dispositions(mask: u64) {
    // Default dispositions: the host may ignore SIGCHLD (which would make children vanish
    // unreaped) or SIGPIPE (which the job would inherit across exec).
    let mut dfl: libc::sigaction = std::mem::zeroed();
    dfl.sa_sigaction = libc::SIG_DFL;
    // glibc refuses its internal signals 32 and 33, which an ancestor may still have left
    // ignored: those go straight to the kernel. An all-zero kernel sigaction is SIG_DFL, no
    // flags, empty mask, whatever the architecture's layout.
    let kernel_default = [0u64; 4];
    for sig in 1..=64 {
        if mask & (1u64 << (sig - 1)) == 0 || sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        if libc::sigaction(sig, &dfl, ptr::null_mut()) != 0 {
            libc::syscall(
                libc::SYS_rt_sigaction,
                sig,
                kernel_default.as_ptr(),
                ptr::null_mut::<u64>(),
                8usize,
            );
        }
    }
}

/// First steps in the forked child: default dispositions for the signals in `reset_signals`
/// (signals stay blocked), the job's stdio on 0, 1, 2, the report pipe on 3, the pid file on 4,
/// every other descriptor closed. `keep_on_exec`: fds 3 and 4 survive execve (for the separate
/// monitor program).
///
/// # Safety
/// Only in the child right after `fork()` in `launch`, with all signals blocked.
pub(crate) unsafe fn child_setup(
    stdio: [RawFd; 3],
    report_fd: RawFd,
    job_file: RawFd,
    keep_on_exec: bool,
    reset_signals: u64,
) {
    reset_signal_dispositions(reset_signals);

    // Move the fds we need out of the way, then onto 0, 1, 2 (job stdio), 3 (report), 4 (pid file).
    let wanted = [stdio[0], stdio[1], stdio[2], report_fd, job_file];
    let mut high = [-1 as RawFd; 5];
    for (slot, &fd) in high.iter_mut().zip(wanted.iter()) {
        *slot = libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 10);
        if *slot < 0 {
            write_report(report_fd, STAGE_MONITOR_SETUP, errno(), 0);
            libc::_exit(1);
        }
    }
    let [in_fd, out_fd, err_fd, rep_fd, file_fd] = high;
    let keep_flags = if keep_on_exec { 0 } else { libc::O_CLOEXEC };
    if libc::dup2(in_fd, 0) < 0
        || libc::dup2(out_fd, 1) < 0
        || libc::dup2(err_fd, 2) < 0
        || libc::dup3(rep_fd, REPORT_FD, keep_flags) < 0
        || libc::dup3(file_fd, JOB_FILE_FD, keep_flags) < 0
    {
        write_report(rep_fd, STAGE_MONITOR_SETUP, errno(), 0);
        libc::_exit(1);
    }
    // Nothing else of the host leaks into the monitor or the job.
    if libc::syscall(
        libc::SYS_close_range,
        5 as libc::c_uint,
        libc::c_uint::MAX,
        0 as libc::c_uint,
    ) != 0
    {
        for fd in 5..4096 {
            libc::close(fd);
        }
    }
}

/// What the job's child needs, in the monitor's memory (the child shares it until exec).
struct JobStart {
    program: *const libc::c_char,
    argv: *const *const libc::c_char,
    envp: *const *const libc::c_char,
    /// Written by the child when setpgid or exec failed.
    error: i32,
}

/// The job's child: own process group, empty signal mask, exec. Runs on its own stack in the
/// monitor's memory (CLONE_VM) while the monitor waits (CLONE_VFORK), so it only makes system
/// calls and stores its errno in `arg`.
extern "C" fn job_child(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` is the monitor's JobStart, alive and not touched by the suspended monitor
    // until this child execs or exits; every call here is a plain system call wrapper.
    unsafe {
        let start = &mut *arg.cast::<JobStart>();
        if libc::setpgid(0, 0) != 0 {
            start.error = errno();
            libc::_exit(127);
        }
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        libc::sigprocmask(libc::SIG_SETMASK, &empty, ptr::null_mut());
        libc::execve(start.program, start.argv, start.envp);
        start.error = errno();
        libc::_exit(127)
    }
}

/// Start the job as a vfork-style child: no copy of the monitor's page tables (a copy of the
/// host's, in the forked case) and, unlike glibc's posix_spawn, no round of 120 sigaction calls
/// (the monitor's dispositions are already default). Returns (pid, 0) once the job runs its
/// program, (pid, errno) when exec failed (the child exits 127), (-1, errno) when clone failed.
///
/// # Safety
/// In the monitor only, with all signals blocked and default dispositions.
unsafe fn spawn_job(ctx: &MonitorCtx) -> (libc::pid_t, i32) {
    const STACK: usize = 64 * 1024;
    let stack = libc::mmap(
        ptr::null_mut(),
        STACK,
        libc::PROT_READ | libc::PROT_WRITE,
        libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
        -1,
        0,
    );
    if stack == libc::MAP_FAILED {
        return (-1, errno());
    }
    let mut start = JobStart {
        program: ctx.program,
        argv: ctx.argv,
        envp: ctx.envp,
        error: 0,
    };
    // The stack grows down on every architecture Linux runs this on but one (parisc).
    let top = stack.cast::<u8>().add(STACK).cast::<libc::c_void>();
    let pid = libc::clone(
        job_child,
        top,
        libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
        (&mut start as *mut JobStart).cast(),
    );
    let clone_error = errno();
    libc::munmap(stack, STACK);
    if pid < 0 {
        return (-1, clone_error);
    }
    (pid, ptr::read_volatile(&start.error))
}

/// Kill the job's tree and reap every child: the start could not be recorded.
///
/// # Safety
/// In the monitor only.
unsafe fn abandon_job(job: i32) {
    loop {
        signal_tree(job, libc::SIGKILL);
        let mut st = 0;
        let r = libc::waitpid(-1, &mut st, 0);
        if r < 0 && errno() != libc::EINTR {
            break;
        }
    }
}

/// The monitor proper: stdio of the job on 0, 1, 2, the report pipe on 3 and the pid file on 4
/// (see `child_setup`), all signals blocked. Never returns.
///
/// # Safety
/// Only in a monitor process set up by `child_setup` (forked, or the separate monitor program);
/// `ctx` points to memory valid until exit. Async-signal-safe calls only: in the forked case the
/// process is a copy of a possibly multithreaded host.
unsafe fn monitor_body(ctx: &MonitorCtx) -> ! {
    let report_fd = REPORT_FD;
    // The job must not inherit the report pipe or the pid file (the separate monitor program got
    // them without CLOEXEC across its own exec).
    libc::fcntl(report_fd, libc::F_SETFD, libc::FD_CLOEXEC);
    libc::fcntl(JOB_FILE_FD, libc::F_SETFD, libc::FD_CLOEXEC);
    reset_signal_dispositions(ctx.reset_signals);
    // Own session: the host's terminal signals (Ctrl-C, hangup) do not reach the job.
    libc::setsid();
    // Orphaned descendants of the job come back to us, so the whole tree can be ended and reaped.
    libc::prctl(
        libc::PR_SET_CHILD_SUBREAPER,
        1 as libc::c_ulong,
        0 as libc::c_ulong,
        0 as libc::c_ulong,
        0 as libc::c_ulong,
    );
    let Some(start_ticks) = own_start_ticks() else {
        write_report(report_fd, STAGE_MONITOR_SETUP, errno(), 0);
        libc::_exit(1);
    };
    // The job inherits the working directory; the monitor itself only uses absolute paths.
    if libc::chdir(ctx.workdir) != 0 {
        write_report(report_fd, STAGE_CHDIR, errno(), 0);
        libc::_exit(1);
    }

    let (job, spawn_error) = spawn_job(ctx);
    if job <= 0 {
        write_report(report_fd, STAGE_FORK, spawn_error, 0);
        libc::_exit(1);
    }
    if spawn_error != 0 {
        // The child reported why it could not exec and exits 127: reap it and report.
        let mut st = 0;
        libc::waitpid(job, &mut st, 0);
        write_report(report_fd, STAGE_EXEC, spawn_error, 0);
        libc::_exit(1);
    }

    // Record the start before reporting it: once submit returns, any process finds the job.
    let mut line = StackText::new();
    line.push_int(libc::getpid() as i64);
    line.push_bytes(b" ");
    line.push_int(job as i64);
    line.push_bytes(b" ");
    line.push_int(start_ticks.min(i64::MAX as u64) as i64);
    line.push_bytes(b" ");
    line.push_int(ctx.grace_ms);
    line.push_bytes(b"\n");
    let pid_line = line.bytes();
    let parts = [
        libc::iovec {
            iov_base: pid_line.as_ptr() as *mut libc::c_void,
            iov_len: pid_line.len(),
        },
        libc::iovec {
            iov_base: ctx.workdir_line as *mut libc::c_void,
            iov_len: ctx.workdir_line_len,
        },
    ];
    let expected = pid_line.len() + ctx.workdir_line_len;
    let written = libc::writev(JOB_FILE_FD, parts.as_ptr(), 2);
    if written < 0 || written as usize != expected {
        let err = if written < 0 { errno() } else { libc::ENOSPC };
        abandon_job(job);
        write_report(report_fd, STAGE_MONITOR_SETUP, err, 0);
        libc::_exit(1);
    }
    libc::close(JOB_FILE_FD);
    write_report(report_fd, STAGE_OK, 0, job);
    libc::close(report_fd);
    // The monitor never writes; holding the job's output files open serves nothing.
    libc::close(0);
    libc::close(1);
    libc::close(2);
    let mut wait_set: libc::sigset_t = std::mem::zeroed();
    libc::sigemptyset(&mut wait_set);
    libc::sigaddset(&mut wait_set, libc::SIGCHLD);
    libc::sigaddset(&mut wait_set, libc::SIGTERM);

    let mut job_status: libc::c_int = 0;
    let mut job_done = false;
    let mut stop_deadline: Option<i64> = None;
    let mut killed = false;
    loop {
        loop {
            let mut st = 0;
            let r = libc::waitpid(-1, &mut st, libc::WNOHANG);
            if r <= 0 {
                break;
            }
            if r == job {
                job_status = st;
                job_done = true;
            }
        }
        if job_done {
            break;
        }
        let now = now_ms();
        if let Some(deadline) = stop_deadline {
            if !killed && now >= deadline {
                signal_tree(job, libc::SIGKILL);
                killed = true;
            }
        }
        // Wake at least once a second: a lost wakeup costs a second, never a hang.
        let wait_ms = match stop_deadline {
            Some(deadline) if !killed => (deadline - now).clamp(1, 1000),
            _ => 1000,
        };
        let timeout = libc::timespec {
            tv_sec: (wait_ms / 1000) as libc::time_t,
            tv_nsec: ((wait_ms % 1000) * 1_000_000) as libc::c_long,
        };
        let sig = libc::sigtimedwait(&wait_set, ptr::null_mut(), &timeout);
        if sig == libc::SIGTERM && stop_deadline.is_none() {
            signal_tree(job, libc::SIGTERM);
            // A stopped process acts on TERM only once continued.
            signal_tree(job, libc::SIGCONT);
            stop_deadline = Some(now_ms().saturating_add(ctx.grace_ms));
        }
    }

    // The main process ended: nothing of its tree may outlive it. Kill and reap until no child
    // is left (each round also catches descendants reparented to us meanwhile).
    loop {
        signal_tree(job, libc::SIGKILL);
        let mut st = 0;
        let r = libc::waitpid(-1, &mut st, 0);
        if r < 0 && errno() != libc::EINTR {
            break;
        }
    }
    write_exit(ctx, job_status);
    libc::_exit(0)
}
