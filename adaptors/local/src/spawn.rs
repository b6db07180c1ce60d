//! Starting a job under its monitor process (the submitting side; the monitor's own code is in
//! `monitor.rs`).
//!
//! On x86_64 the monitor is started with `clone(CLONE_VM)`: a process of its own (own pid,
//! session, descriptors, signal state; it outlives the submitting process) that shares the
//! submitting process's memory instead of copying its page tables as `fork` does. That is about
//! as cheap as starting a thread, where a fork of a large host costs more than the whole job.
//! Elsewhere, and to run the separate `gat-job-monitor` program, the monitor is forked.
//!
//! Everything the monitor and the job touch is built here before the clone, and the submitting
//! thread waits for the monitor's start report (it holds the plan alive until then).

use std::ffi::CString;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::ptr;
use std::time::Duration;

use crate::monitor::{
    self, MonitorCtx, STAGE_CHDIR, STAGE_EXEC, STAGE_FORK, STAGE_MONITOR_SETUP, STAGE_OK,
};
use crate::rawsys;

/// What went wrong where, as reported by the monitor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    MonitorSetup,
    Fork,
    Chdir,
    Exec,
}

/// Everything the monitor and the job need, prepared in the parent.
pub struct LaunchPlan {
    /// Resolved path of the program.
    pub program: CString,
    /// argv, argv[0] first.
    pub argv: Vec<CString>,
    /// `NAME=value` entries.
    pub envp: Vec<CString>,
    pub workdir: CString,
    /// stdin, stdout, stderr; None: /dev/null.
    pub stdio: [Option<OwnedFd>; 3],
    /// The record log (`records.rs`), opened for appending.
    pub job_file: RawFd,
    /// The working directory as the log records it (`jobfiles::workdir_line`).
    pub workdir_line: Vec<u8>,
    /// The job's key in the log (`records::key_of`).
    pub record_key: Vec<u8>,
    pub stop_marker: CString,
    pub stop_grace: Duration,
    /// Run the monitor as this separate program (`gat-job-monitor`) instead of in this process's
    /// memory, so the monitor does not keep the host's memory alive after the host exits.
    pub monitor_program: Option<CString>,
    /// Look for the start report before blocking (see `wait_briefly_for_report`).
    pub spin_for_report: bool,
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

/// The stack of a monitor that shares this process's memory (`CLONE_VM`). It must stay mapped
/// until the monitor has exited: drop it only after the monitor was reaped (or is known gone).
pub struct MonitorStack {
    base: *mut libc::c_void,
    len: usize,
}

// SAFETY: a plain mapping, unmapped once by whoever holds it last.
unsafe impl Send for MonitorStack {}
unsafe impl Sync for MonitorStack {}

/// Size of a monitor's stack, a guard page below it. The monitor's frames need about 30 KiB.
const MONITOR_STACK: usize = 256 * 1024;
const GUARD: usize = 4096;

/// Stacks of reaped monitors, kept for the next ones: mapping and unmapping one per job costs
/// more than the rest of the monitor's start (unmapping memory this process shares with running
/// threads interrupts every CPU they run on).
static SPARE_STACKS: std::sync::Mutex<Vec<MonitorStack>> = std::sync::Mutex::new(Vec::new());
const SPARE_STACKS_KEPT: usize = 16;

impl MonitorStack {
    /// A spare stack, or a new one.
    fn take() -> io::Result<MonitorStack> {
        let spare = SPARE_STACKS.lock().unwrap_or_else(|e| e.into_inner()).pop();
        match spare {
            Some(stack) => Ok(stack),
            None => MonitorStack::new(),
        }
    }

    /// Keep this stack for a later monitor (its monitor has been reaped), or unmap it.
    pub fn release(self) {
        let mut spare = SPARE_STACKS.lock().unwrap_or_else(|e| e.into_inner());
        if spare.len() < SPARE_STACKS_KEPT {
            spare.push(self);
        }
    }

    fn new() -> io::Result<MonitorStack> {
        // SAFETY: a fresh anonymous mapping; nothing else refers to it.
        let base = unsafe {
            libc::mmap(
                ptr::null_mut(),
                MONITOR_STACK,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let stack = MonitorStack { base, len: MONITOR_STACK };
        // An overflow faults on the guard instead of writing into whatever lies below.
        // SAFETY: the lowest page of our own mapping.
        if unsafe { libc::mprotect(base, GUARD, libc::PROT_NONE) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(stack)
    }

    /// The 16-byte aligned top (stacks grow down on x86_64).
    fn top(&self) -> *mut u8 {
        // SAFETY: one past the end of the mapping, a page-aligned address.
        unsafe { self.base.cast::<u8>().add(self.len) }
    }
}

impl Drop for MonitorStack {
    fn drop(&mut self) {
        // SAFETY: our mapping; the monitor that ran on it is gone (see the type's doc).
        unsafe { libc::munmap(self.base, self.len) };
    }
}

fn nul_terminated(strings: &[CString]) -> Vec<*const libc::c_char> {
    let mut v: Vec<*const libc::c_char> = strings.iter().map(|s| s.as_ptr()).collect();
    v.push(ptr::null());
    v
}

/// First argument of the separate monitor program, so a stray invocation is recognised; the
/// number is the argument layout's version (3: the record log, a descriptor, and the job's key).
const HELPER_MARKER: &str = "--gat-job-monitor=3";

/// Arguments for the separate monitor program: marker, workdir, program, record key, stop
/// marker, grace in ms, `--`, then the job's argv. Its environment is the job's.
fn helper_argv(helper: &CString, plan: &LaunchPlan) -> Vec<CString> {
    let mut v = vec![
        helper.clone(),
        CString::new(HELPER_MARKER).unwrap_or_default(),
        plan.workdir.clone(),
        plan.program.clone(),
        CString::new(plan.record_key.clone()).unwrap_or_default(),
        plan.stop_marker.clone(),
        CString::new(plan.stop_grace.as_millis().to_string()).unwrap_or_default(),
        CString::new("--").unwrap_or_default(),
    ];
    v.extend(plan.argv.iter().cloned());
    v
}

/// `main` of the separate monitor program (`gat-job-monitor`). Started by `launch` with the
/// job's stdio on 0, 1, 2, the report pipe on 3, the record log on 4 and all signals blocked; or,
/// with `jobserver::SERVER_MARKER`, as the adaptor's job server (socket on 3). Never returns.
pub fn monitor_program_main() -> ! {
    use std::os::unix::ffi::OsStrExt;
    let args: Vec<CString> = std::env::args_os()
        .map(|a| CString::new(a.as_bytes()).unwrap_or_default())
        .collect();
    if args.get(1).map(|a| a.as_bytes()) == Some(crate::jobserver::SERVER_MARKER.as_bytes()) {
        crate::jobserver::server::server_main()
    }
    let envp: Vec<CString> = std::env::vars_os()
        .filter_map(|(k, v)| {
            let mut entry = k.as_bytes().to_vec();
            entry.push(b'=');
            entry.extend_from_slice(v.as_bytes());
            CString::new(entry).ok()
        })
        .collect();
    monitor_from_args(&args, &envp)
}

/// A monitor's start described by `helper_argv`-style arguments and the job's environment,
/// owning everything its `MonitorCtx` points to (heap memory: the addresses stay put when this
/// moves).
pub(crate) struct MonitorArgs {
    args: Vec<CString>,
    /// Only pointed to (`envp_ptrs`).
    _envp: Vec<CString>,
    argv_ptrs: Vec<*const libc::c_char>,
    envp_ptrs: Vec<*const libc::c_char>,
    workdir_line: Vec<u8>,
    grace_ms: i64,
}

const FIXED_ARGS: usize = 8;

impl MonitorArgs {
    /// None: not arguments of the adaptor's making.
    pub(crate) fn parse(args: Vec<CString>, envp: Vec<CString>) -> Option<MonitorArgs> {
        use std::os::unix::ffi::OsStrExt;
        let valid = args.len() > FIXED_ARGS
            && args[1].as_bytes() == HELPER_MARKER.as_bytes()
            && args[7].as_bytes() == b"--";
        if !valid {
            return None;
        }
        let grace_ms = args[6].to_str().ok()?.parse::<i64>().ok()?;
        let workdir_line = crate::jobfiles::workdir_line(std::path::Path::new(
            std::ffi::OsStr::from_bytes(args[2].as_bytes()),
        ));
        Some(MonitorArgs {
            argv_ptrs: nul_terminated(&args[FIXED_ARGS..]),
            envp_ptrs: nul_terminated(&envp),
            args,
            _envp: envp,
            workdir_line,
            grace_ms,
        })
    }

    /// Valid while `self` lives.
    pub(crate) fn ctx(&self) -> MonitorCtx {
        let args = &self.args;
        MonitorCtx {
            program: args[3].as_ptr(),
            argv: self.argv_ptrs.as_ptr(),
            envp: self.envp_ptrs.as_ptr(),
            workdir: args[2].as_ptr(),
            workdir_line: self.workdir_line.as_ptr(),
            workdir_line_len: self.workdir_line.len(),
            record_key: args[4].as_ptr().cast(),
            record_key_len: args[4].as_bytes().len(),
            stop_marker: args[5].as_ptr(),
            grace_ms: self.grace_ms,
        }
    }
}

/// Run the monitor described by `helper_argv`-style arguments, with the job's environment
/// `envp` and the descriptors set up as for the monitor program. Never returns.
pub(crate) fn monitor_from_args(args: &[CString], envp: &[CString]) -> ! {
    let Some(parsed) = MonitorArgs::parse(args.to_vec(), envp.to_vec()) else {
        eprintln!(
            "gat-job-monitor: this program is started by libgat's local adaptor, not by hand"
        );
        std::process::exit(2);
    };
    let ctx = parsed.ctx();
    // SAFETY: `parsed` owns everything `ctx` points to and lives in this frame, which never
    // returns.
    unsafe { monitor::monitor_body(&ctx) }
}

/// This process's descriptor of /dev/null (read and write), opened once: the stdio of jobs
/// whose streams go nowhere.
fn dev_null() -> io::Result<RawFd> {
    static DEV_NULL: std::sync::OnceLock<std::fs::File> = std::sync::OnceLock::new();
    if let Some(f) = DEV_NULL.get() {
        return Ok(f.as_raw_fd());
    }
    let opened = std::fs::OpenOptions::new().read(true).write(true).open("/dev/null")?;
    Ok(DEV_NULL.get_or_init(|| opened).as_raw_fd())
}

/// A pipe for the monitor's start report: (read end, write end), both CLOEXEC.
fn report_pipe() -> Result<(OwnedFd, OwnedFd), LaunchError> {
    let mut pipe_fds = [0 as RawFd; 2];
    // SAFETY: pipe2 writes two fds into the array.
    if unsafe { libc::pipe2(pipe_fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(LaunchError::Os {
            what: "creating the report pipe",
            error: io::Error::last_os_error(),
        });
    }
    // SAFETY: both fds are fresh and owned only here.
    Ok(unsafe {
        (
            OwnedFd::from_raw_fd(pipe_fds[0]),
            OwnedFd::from_raw_fd(pipe_fds[1]),
        )
    })
}

/// Start the job through the job server (no fork of this process, no monitor).
/// `Err(Refused)`: the server did not take the request (it is gone, or the request is too
/// large for it); the caller starts a monitor instead.
pub(crate) fn launch_served(
    server: &crate::jobserver::client::JobServer,
    plan: &LaunchPlan,
    token: u64,
) -> Result<Launched, ServedLaunchError> {
    use crate::jobserver::{Header, RequestBody};
    let (report_r, report_w) = report_pipe().map_err(ServedLaunchError::Failed)?;
    // Only the streams that go somewhere travel: the server has /dev/null itself.
    let mut fds: Vec<RawFd> = plan.stdio.iter().flatten().map(|f| f.as_raw_fd()).collect();
    fds.extend([report_w.as_raw_fd(), plan.job_file]);
    let null_stdio = plan.stdio.iter().enumerate().filter(|(_, fd)| fd.is_none()).fold(0u32, |bits, (i, _)| bits | 1 << i);
    let body = RequestBody {
        header: Header {
            token,
            grace_ms: plan.stop_grace.as_millis().min(i64::MAX as u128) as i64,
            argc: plan.argv.len() as u32,
            envc: plan.envp.len() as u32,
            null_stdio,
        },
        program: plan.program.as_bytes(),
        workdir: plan.workdir.as_bytes(),
        key: &plan.record_key,
        stop_marker: plan.stop_marker.as_bytes(),
        argv: plan.argv.iter().map(|a| a.as_bytes()).collect(),
        envp: plan.envp.iter().map(|e| e.as_bytes()).collect(),
    };
    server.request(&body, &fds).map_err(ServedLaunchError::Refused)?;
    // Only the server may hold the write end now: EOF then means it ended without a report.
    drop(report_w);
    read_report(report_r, plan.spin_for_report).map_err(ServedLaunchError::Failed)
}

#[derive(Debug)]
pub(crate) enum ServedLaunchError {
    Refused(io::Error),
    Failed(LaunchError),
}

/// Every signal blocked in this thread while a monitor is created, so that no handler of the
/// host program runs in the monitor before it has reset the dispositions; restored on drop.
struct AllSignalsBlocked(libc::sigset_t);

impl AllSignalsBlocked {
    fn new() -> Self {
        // SAFETY: sigset_t is plain data; sigfillset/pthread_sigmask only read and write these.
        unsafe {
            let mut all: libc::sigset_t = std::mem::zeroed();
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut all);
            libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
            AllSignalsBlocked(old)
        }
    }
}

impl Drop for AllSignalsBlocked {
    fn drop(&mut self) {
        // SAFETY: restores the mask saved in new().
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.0, ptr::null_mut()) };
    }
}

/// Start the monitor and, through it, the job. Returns once exec succeeded or failed, with the
/// monitor's stack when it shares this process's memory (keep it until the monitor is reaped).
pub fn launch(plan: &LaunchPlan) -> Result<(Launched, Option<MonitorStack>), LaunchError> {
    let argv = nul_terminated(&plan.argv);
    let envp = nul_terminated(&plan.envp);
    let ctx = MonitorCtx {
        program: plan.program.as_ptr(),
        argv: argv.as_ptr(),
        envp: envp.as_ptr(),
        workdir: plan.workdir.as_ptr(),
        workdir_line: plan.workdir_line.as_ptr(),
        workdir_line_len: plan.workdir_line.len(),
        record_key: plan.record_key.as_ptr(),
        record_key_len: plan.record_key.len(),
        stop_marker: plan.stop_marker.as_ptr(),
        grace_ms: plan.stop_grace.as_millis().min(i64::MAX as u128) as i64,
    };
    let null = dev_null().map_err(|error| LaunchError::Os { what: "opening /dev/null", error })?;
    let stdio = plan.stdio.each_ref().map(|fd| fd.as_ref().map_or(null, |f| f.as_raw_fd()));
    let (report_r, report_w) = report_pipe()?;
    // Read by the monitor until it reports: alive until read_report below returned.
    let start = monitor::VmMonitorStart {
        stdio,
        report_fd: report_w.as_raw_fd(),
        job_file: plan.job_file,
        ctx,
    };

    let shared_memory = rawsys::CLONE_VM_MONITORS
        && plan.monitor_program.is_none()
        && !rawsys::running_on_valgrind();
    let (pid, stack) = if shared_memory {
        let stack = MonitorStack::take().map_err(|error| LaunchError::Os {
            what: "mapping the job monitor's stack",
            error,
        })?;
        let pid = clone_vm_monitor(&stack, &start);
        let refused = io::Error::last_os_error().raw_os_error();
        if pid < 0 && matches!(refused, Some(libc::EINVAL | libc::ENOSYS | libc::EPERM)) {
            // A sandbox that allows only thread- and fork-like clones: fork instead.
            stack.release();
            (fork_monitor(plan, &start, &envp), None)
        } else {
            (pid, Some(stack))
        }
    } else {
        (fork_monitor(plan, &start, &envp), None)
    };
    let spawn_error = (pid < 0).then(io::Error::last_os_error);
    drop(report_w);
    if let Some(error) = spawn_error {
        return Err(LaunchError::Os {
            what: "starting the job monitor",
            error,
        });
    }

    let report = read_report(report_r, plan.spin_for_report);
    std::hint::black_box(&start);
    match report {
        Ok(started) => Ok((
            Launched {
                monitor_pid: pid,
                job_pid: started.job_pid,
            },
            stack,
        )),
        Err(e) => {
            // The monitor has exited (or is exiting) after a failure: reap it, it is our child;
            // only then may its stack go.
            let _ = crate::sys::reap_child_blocking(pid);
            if let Some(stack) = stack {
                stack.release();
            }
            Err(e)
        }
    }
}

/// Start a monitor sharing this process's memory on `stack`: its pid, or -1 with errno set.
/// `start` must stay alive until the monitor's report was read.
#[cfg(target_arch = "x86_64")]
fn clone_vm_monitor(stack: &MonitorStack, start: &monitor::VmMonitorStart) -> libc::pid_t {
    let _blocked = AllSignalsBlocked::new();
    // No CLONE_FILES, CLONE_SIGHAND or CLONE_THREAD: its own descriptors, dispositions and
    // thread group, so it outlives this process; SIGCHLD so that it is reaped like a fork.
    let flags = (libc::CLONE_VM | libc::SIGCHLD) as usize;
    let arg = (start as *const monitor::VmMonitorStart).cast_mut().cast::<libc::c_void>();
    // SAFETY: the stack stays mapped until the monitor is reaped (the caller keeps it), and
    // `start` until its report was read; vm_monitor_entry makes raw system calls only.
    let r = unsafe { rawsys::clone_on_stack(flags, stack.top(), monitor::vm_monitor_entry, arg) };
    if r < 0 {
        // SAFETY: errno is this thread's; the value comes from the kernel's answer.
        unsafe { *libc::__errno_location() = (-r) as i32 };
        return -1;
    }
    r as libc::pid_t
}

#[cfg(not(target_arch = "x86_64"))]
fn clone_vm_monitor(_stack: &MonitorStack, _start: &monitor::VmMonitorStart) -> libc::pid_t {
    unreachable!("CLONE_VM_MONITORS is false on this architecture")
}

/// Fork the monitor (the separate program's, or one running in the copy): its pid, or -1.
fn fork_monitor(
    plan: &LaunchPlan,
    start: &monitor::VmMonitorStart,
    envp: &[*const libc::c_char],
) -> libc::pid_t {
    let (stdio, report_w, ctx) = (start.stdio, start.report_fd, &start.ctx);
    let helper_args = plan
        .monitor_program
        .as_ref()
        .map(|program| helper_argv(program, plan));
    let helper_argv_ptrs = helper_args.as_ref().map(|a| nul_terminated(a));
    let job_file = start.job_file;
    let _blocked = AllSignalsBlocked::new();
    // SAFETY: fork is called with everything the child needs already built; the child makes raw
    // system calls only (child_setup, then monitor_body or execve) and never returns.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        match &helper_argv_ptrs {
            Some(args) => {
                monitor::child_setup(stdio, report_w, job_file, true);
                if let Some(program) = &plan.monitor_program {
                    // SAFETY: NUL-terminated strings and arrays built above.
                    let r = unsafe { rawsys::execve(program.as_ptr(), args.as_ptr(), envp.as_ptr()) };
                    monitor::write_report(monitor::REPORT_FD, STAGE_MONITOR_SETUP, (-r) as i32, 0);
                }
                rawsys::exit(1);
            }
            None => {
                monitor::child_setup(stdio, report_w, job_file, false);
                // SAFETY: the forked copy holds everything ctx points to.
                unsafe { monitor::monitor_body(ctx) }
            }
        }
    }
    pid
}

/// The report comes within a few hundred microseconds (the monitor's setup and the job's
/// exec): look for it for a while, yielding, before blocking in read. Blocking at once lets this
/// CPU go idle, and waking an idle CPU costs tens of microseconds on virtual machines. Only
/// worth it while CPUs are free (`LaunchPlan::spin_for_report`): when jobs keep them busy, the
/// looking takes time from them.
fn wait_briefly_for_report(report_r: &OwnedFd) {
    const SPIN: std::time::Duration = std::time::Duration::from_millis(2);
    let started = std::time::Instant::now();
    let mut polled = libc::pollfd { fd: report_r.as_raw_fd(), events: libc::POLLIN, revents: 0 };
    // SAFETY: poll with a zero timeout reads and writes only the one pollfd.
    while unsafe { libc::poll(&mut polled, 1, 0) } == 0 && started.elapsed() < SPIN {
        std::thread::yield_now();
    }
}

/// The monitor's 16-byte report `(stage, errno, job_pid, monitor_pid)` from the read end of the
/// report pipe: the started job, or why it did not start.
fn read_report(report_r: OwnedFd, spin_for_report: bool) -> Result<Launched, LaunchError> {
    let mut report = [0u8; 16];
    let mut got = 0;
    if spin_for_report {
        wait_briefly_for_report(&report_r);
    }
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
