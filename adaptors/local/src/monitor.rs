//! The job monitor: the code that runs in the monitor process, one per job.
//!
//! The monitor is one of: a process sharing the submitting process's memory (`CLONE_VM`, on
//! x86_64: as cheap to start as a thread, see `spawn.rs`), a forked copy of it, or the separate
//! `gat-job-monitor` program. In every case it makes only raw system calls (`rawsys.rs`): no
//! libc, no allocation, no locks, no thread-local storage, no code path that can panic (no
//! slice indexing that could go out of bounds, no unwrap).
//!
//! What it needs from the submitting process's memory (the `MonitorCtx`) it reads only until it
//! reports the start: the submitting process waits for that report and keeps the plan alive
//! until then. Afterwards the monitor lives on its own stack and descriptors.
//!
//! Monitor:
//! 1. sets every signal to its default action (signals stay blocked), becomes a session leader
//!    and child subreaper, enters the job's working directory;
//! 2. starts the job with a vfork-style clone: own process group (pgid = job pid), empty signal
//!    mask, stdio inherited from the monitor, an explicit environment;
//! 3. appends the start line to the record log (fd 4, see `records.rs`) and reports
//!    `(stage, errno, job_pid, monitor_pid)` on fd 3;
//! 4. waits with sigtimedwait for SIGCHLD / SIGTERM, reaping its own children. SIGTERM means
//!    "stop": TERM (and CONT) to the job's group and reparented descendants, a grace period,
//!    then KILL;
//! 5. when the job's main process ended: KILL what is left of the tree, reap all of it, append
//!    the exit line to the record log (still fd 4) in one write, exit. No fsync: the journal is
//!    the durable record, and the log only has to outlive the processes, not the machine.

use std::os::fd::RawFd;

use crate::rawsys::{self, sig_bit};

pub(crate) const STAGE_OK: i32 = 0;
pub(crate) const STAGE_MONITOR_SETUP: i32 = 1;
pub(crate) const STAGE_FORK: i32 = 2;
pub(crate) const STAGE_CHDIR: i32 = 3;
pub(crate) const STAGE_EXEC: i32 = 4;

/// The report pipe's descriptor in the monitor.
pub(crate) const REPORT_FD: RawFd = 3;
/// The record log (opened for appending) in the monitor, for its whole life.
pub(crate) const JOB_FILE_FD: RawFd = 4;

/// Longest stop-marker path the monitor keeps (its own copy, on its stack).
const MAX_PATH: usize = 4096;
/// Longest record key (see `records::key_of`), and a record line without the working directory.
const MAX_KEY: usize = 512;
const MAX_LINE: usize = MAX_KEY + 128;

/// Raw pointers into a `LaunchPlan` (or the monitor program's arguments), valid until the
/// monitor reported the start.
pub(crate) struct MonitorCtx {
    pub program: *const libc::c_char,
    pub argv: *const *const libc::c_char,
    pub envp: *const *const libc::c_char,
    pub workdir: *const libc::c_char,
    pub workdir_line: *const u8,
    pub workdir_line_len: usize,
    /// The job's key in the record log (`records::key_of`).
    pub record_key: *const u8,
    pub record_key_len: usize,
    pub stop_marker: *const libc::c_char,
    pub grace_ms: i64,
}

/// Write the 16-byte report `(stage, errno, job_pid, monitor_pid)`; the job server writes its
/// own pid as the monitor's (it is not the submitting process's child).
pub(crate) fn write_report(fd: RawFd, stage: i32, err: i32, job_pid: i32) {
    let words = [stage, err, job_pid, rawsys::getpid()];
    // SAFETY: 16 bytes from a live array; a pipe write this small is atomic.
    unsafe { rawsys::write(fd, words.as_ptr().cast(), 16) };
}

/// `-errno` from a raw call as a positive errno.
fn errno_of(ret: isize) -> i32 {
    (-ret).clamp(0, i32::MAX as isize) as i32
}

/// A fixed-size text buffer that drops what does not fit (never panics, never allocates).
struct StackText<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> StackText<N> {
    fn new() -> Self {
        StackText { buf: [0; N], len: 0 }
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
        if n < 0 {
            self.push_bytes(b"-");
        }
        while count > 0 {
            count -= 1;
            if let Some(&d) = digits.get(count) {
                self.push_bytes(&[d]);
            }
        }
    }
    /// Copy a C string; false when it (with its NUL) does not fit.
    ///
    /// # Safety
    /// `s` is NUL-terminated.
    unsafe fn push_c_str(&mut self, s: *const libc::c_char) -> bool {
        let mut p = s;
        loop {
            let b = *p as u8;
            if b == 0 {
                return self.len < N;
            }
            if self.len + 1 >= N {
                return false;
            }
            self.push_bytes(&[b]);
            p = p.add(1);
        }
    }
    fn bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }
    /// NUL-terminated pointer (the last byte is reserved for the NUL).
    fn as_c_ptr(&mut self) -> *const libc::c_char {
        let end = self.len.min(N - 1);
        if let Some(slot) = self.buf.get_mut(end) {
            *slot = 0;
        }
        self.buf.as_ptr().cast()
    }
}

/// Send `sig` to the job's process group and to every child of the monitor (descendants that
/// left the group and were reparented to us, the subreaper).
fn signal_tree(job_pid: i32, sig: i32) {
    rawsys::kill(-job_pid, sig);
    let mut path = StackText::<64>::new();
    path.push_bytes(b"/proc/self/task/");
    // The monitor is single-threaded: tid == pid.
    path.push_int(rawsys::getpid() as i64);
    path.push_bytes(b"/children");
    // SAFETY: the path is NUL-terminated by as_c_ptr and lives across the call.
    let fd = unsafe { rawsys::open(path.as_c_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return;
    }
    let fd = fd as RawFd;
    let mut chunk = [0u8; 256];
    let mut pid: i64 = 0;
    let signal_pid = |pid: i64| {
        if pid > 1 && pid <= i32::MAX as i64 {
            rawsys::kill(pid as i32, sig);
        }
    };
    loop {
        // SAFETY: reads at most chunk.len() bytes into the live buffer.
        let n = unsafe { rawsys::read(fd, chunk.as_mut_ptr(), chunk.len()) };
        if n <= 0 {
            break;
        }
        for &b in chunk.iter().take(n as usize) {
            if b.is_ascii_digit() {
                pid = pid.saturating_mul(10).saturating_add((b - b'0') as i64);
            } else {
                signal_pid(pid);
                pid = 0;
            }
        }
    }
    signal_pid(pid);
    rawsys::close(fd);
}

/// Append the exit line (`E key monitor exited N` / `... signaled N`, ` stopped` when libgat's
/// stop ended the job) to the record log in one write, so a reader sees the whole line or none.
fn write_exit(key: &[u8], status: i32, stop_marker: *const libc::c_char) {
    let mut text = StackText::<MAX_LINE>::new();
    text.push_bytes(b"E ");
    text.push_bytes(key);
    text.push_bytes(b" ");
    text.push_int(rawsys::getpid() as i64);
    text.push_bytes(b" ");
    if libc::WIFSIGNALED(status) {
        text.push_bytes(b"signaled ");
        text.push_int(libc::WTERMSIG(status) as i64);
    } else {
        text.push_bytes(b"exited ");
        text.push_int(libc::WEXITSTATUS(status) as i64);
    }
    // SAFETY: stop_marker is the monitor's own NUL-terminated copy.
    if unsafe { rawsys::exists(stop_marker) } {
        text.push_bytes(b" stopped");
    }
    text.push_bytes(b"\n");
    let bytes = text.bytes();
    // SAFETY: the buffer lives across the call.
    unsafe { rawsys::write(JOB_FILE_FD, bytes.as_ptr(), bytes.len()) };
}

/// This process's start time in clock ticks (field 22 of /proc/self/stat), None if unreadable.
fn own_start_ticks() -> Option<u64> {
    // SAFETY: a NUL-terminated literal.
    let fd = unsafe { rawsys::open(c"/proc/self/stat".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return None;
    }
    let fd = fd as RawFd;
    let mut buf = [0u8; 1024];
    let mut len = 0usize;
    while len < buf.len() {
        let rest = buf.get_mut(len..).unwrap_or(&mut []);
        // SAFETY: reads into the rest of the live buffer.
        let n = unsafe { rawsys::read(fd, rest.as_mut_ptr(), rest.len()) };
        if n <= 0 {
            break;
        }
        len += n as usize;
    }
    rawsys::close(fd);
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

/// Every signal (but KILL and STOP) to its default action; signals stay blocked. The host may
/// ignore SIGCHLD (children would vanish unreaped) or SIGPIPE (the job would inherit that across
/// exec), and its handlers must never run here.
pub(crate) fn reset_all_signals() {
    for sig in 1..=64 {
        if sig != libc::SIGKILL && sig != libc::SIGSTOP {
            rawsys::signal_default(sig);
        }
    }
}

/// First steps of a new monitor process (all signals blocked): the job's stdio on 0, 1, 2, the
/// report pipe on 3, the record log on 4, every other descriptor closed. `keep_on_exec`: fds 3
/// and 4 survive execve (for the separate monitor program). Exits after a report when that
/// fails. (The dispositions are reset once, in `monitor_body`, after any exec.)
pub(crate) fn child_setup(stdio: [RawFd; 3], report_fd: RawFd, job_file: RawFd, keep_on_exec: bool) {
    // Move the fds we need out of the way, then onto 0, 1, 2 (job stdio), 3 (report), 4 (record log).
    let wanted = [stdio[0], stdio[1], stdio[2], report_fd, job_file];
    let mut high = [-1 as RawFd; 5];
    for (slot, &fd) in high.iter_mut().zip(wanted.iter()) {
        let r = rawsys::fcntl(fd, libc::F_DUPFD_CLOEXEC, 10);
        if r < 0 {
            write_report(report_fd, STAGE_MONITOR_SETUP, errno_of(r), 0);
            rawsys::exit(1);
        }
        *slot = r as RawFd;
    }
    let [in_fd, out_fd, err_fd, rep_fd, file_fd] = high;
    let keep_flags = if keep_on_exec { 0 } else { libc::O_CLOEXEC };
    for (from, to, flags) in [
        (in_fd, 0, 0),
        (out_fd, 1, 0),
        (err_fd, 2, 0),
        (rep_fd, REPORT_FD, keep_flags),
        (file_fd, JOB_FILE_FD, keep_flags),
    ] {
        let r = rawsys::dup3(from, to, flags);
        if r < 0 {
            write_report(rep_fd, STAGE_MONITOR_SETUP, errno_of(r), 0);
            rawsys::exit(1);
        }
    }
    // Nothing else of the host leaks into the monitor or the job.
    if rawsys::close_range(5, u32::MAX) != 0 {
        for fd in 5..4096 {
            rawsys::close(fd);
        }
    }
}

/// What the job's child needs, in its starter's memory (the child shares it until exec).
pub(crate) struct JobStart {
    pub program: *const libc::c_char,
    pub argv: *const *const libc::c_char,
    pub envp: *const *const libc::c_char,
    /// Descriptors to put on 0, 1, 2 (the job server's); None: inherited as they are (a monitor's).
    pub stdio: Option<[RawFd; 3]>,
    /// Directory to enter first (the job server's jobs); null: inherited (a monitor's).
    pub workdir: *const libc::c_char,
    /// Written by the child when a step failed: the stage (STAGE_*) and errno.
    pub stage: i32,
    pub error: i32,
}

/// The job's child: stdio, directory, own process group, empty signal mask, exec.
/// Runs on its own stack in its starter's memory while the starter waits (CLONE_VFORK), so it
/// only makes system calls and stores what failed in `arg`.
unsafe extern "C" fn job_child(arg: *mut libc::c_void) -> ! {
    // SAFETY: `arg` is the starter's JobStart, alive and not touched by the suspended starter
    // until this child execs or exits.
    let start = &mut *arg.cast::<JobStart>();
    let fail = |start: &mut JobStart, stage: i32, r: isize| -> ! {
        std::ptr::write_volatile(&mut start.stage, stage);
        std::ptr::write_volatile(&mut start.error, errno_of(r));
        rawsys::exit(127)
    };
    if let Some(stdio) = start.stdio {
        for (to, from) in stdio.into_iter().enumerate() {
            // dup3 onto the target clears its CLOEXEC; a descriptor already in place keeps its
            // flag, so clear it explicitly.
            let r = if from == to as RawFd {
                rawsys::fcntl(from, libc::F_SETFD, 0)
            } else {
                rawsys::dup3(from, to as RawFd, 0)
            };
            if r < 0 {
                fail(start, STAGE_MONITOR_SETUP, r);
            }
        }
    }
    if !start.workdir.is_null() {
        let r = rawsys::chdir(start.workdir);
        if r != 0 {
            fail(start, STAGE_CHDIR, r);
        }
    }
    // A process group of its own, in its starter's session (a monitor's, or the job server's:
    // not the host's). Not a session per job: the kernel makes a scheduling group per session.
    let r = rawsys::setpgid(0, 0);
    if r < 0 {
        fail(start, STAGE_MONITOR_SETUP, r);
    }
    rawsys::sigprocmask_set(0);
    let r = rawsys::execve(start.program, start.argv, start.envp);
    fail(start, STAGE_EXEC, r)
}

/// Stack of the job's vfork-style child: it only makes a few system calls.
const JOB_CHILD_STACK: usize = 16 * 1024;

#[repr(C, align(16))]
struct ChildStack([u8; JOB_CHILD_STACK]);

/// Start the job as a vfork-style child: no copy of the starter's page tables and, unlike
/// glibc's posix_spawn, no round of 120 sigaction calls (the starter's dispositions are already
/// default). Returns the pid once the job runs its program; `Err((stage, errno))` when a step
/// failed (the child was reaped) or clone failed (stage STAGE_FORK).
pub(crate) fn spawn_job(start: &mut JobStart) -> Result<i32, (i32, i32)> {
    start.stage = STAGE_OK;
    start.error = 0;
    let mut stack = ChildStack([0; JOB_CHILD_STACK]);
    let flags = (libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD) as usize;
    let arg = (start as *mut JobStart).cast::<libc::c_void>();
    // SAFETY: the stack and `start` outlive the call, and the starter (suspended by CLONE_VFORK)
    // does not return from it until the child has exec'd or exited.
    let pid = unsafe { clone_job(flags, stack.0.as_mut_ptr().add(JOB_CHILD_STACK), arg) };
    if pid < 0 {
        return Err((STAGE_FORK, errno_of(pid)));
    }
    // SAFETY: the child is done with `start`.
    let (stage, error) = unsafe { (std::ptr::read_volatile(&start.stage), std::ptr::read_volatile(&start.error)) };
    if stage != STAGE_OK {
        // The child could not exec and exits 127: reap it.
        let mut st = 0;
        rawsys::wait4(pid as i32, &mut st, 0);
        return Err((stage, error));
    }
    Ok(pid as i32)
}

#[cfg(target_arch = "x86_64")]
unsafe fn clone_job(flags: usize, stack_top: *mut u8, arg: *mut libc::c_void) -> isize {
    rawsys::clone_on_stack(flags, stack_top, job_child, arg)
}

/// Elsewhere the monitor is a forked process of its own (see `rawsys`), where libc may be used.
#[cfg(not(target_arch = "x86_64"))]
unsafe fn clone_job(flags: usize, stack_top: *mut u8, arg: *mut libc::c_void) -> isize {
    extern "C" fn entry(arg: *mut libc::c_void) -> libc::c_int {
        // SAFETY: as job_child.
        unsafe { job_child(arg) }
    }
    let pid = libc::clone(entry, stack_top.cast(), (flags & !0xff) as libc::c_int | libc::SIGCHLD, arg);
    if pid < 0 {
        -(*libc::__errno_location() as isize)
    } else {
        pid as isize
    }
}

/// Kill the job's tree and reap every child until none is left. Every descendant of the job
/// that outlived its parent is our child (we are its subreaper): with no child left, nothing of
/// the tree is, and the usual job ends without a look at /proc.
fn end_tree(job: i32) {
    loop {
        let mut st = 0;
        let r = rawsys::wait4(-1, &mut st, libc::WNOHANG);
        if r > 0 || r == -(libc::EINTR as isize) {
            continue;
        }
        if r < 0 {
            break; // ECHILD: the tree is gone
        }
        signal_tree(job, libc::SIGKILL);
        let r = rawsys::wait4(-1, &mut st, 0);
        if r < 0 && r != -(libc::EINTR as isize) {
            break;
        }
    }
}

/// The monitor proper: stdio of the job on 0, 1, 2, the report pipe on 3 and the record log on 4
/// (see `child_setup`), all signals blocked. Never returns.
///
/// # Safety
/// Only in a monitor process set up by `child_setup` (or the separate monitor program); `ctx`
/// points to memory valid until the start is reported.
pub(crate) unsafe fn monitor_body(ctx: &MonitorCtx) -> ! {
    let fail = |stage: i32, err: i32| -> ! {
        write_report(REPORT_FD, stage, err, 0);
        rawsys::exit(1)
    };
    // The job must not inherit the report pipe or the record log (the separate monitor program got
    // them without CLOEXEC across its own exec).
    rawsys::fcntl(REPORT_FD, libc::F_SETFD, libc::FD_CLOEXEC as usize);
    rawsys::fcntl(JOB_FILE_FD, libc::F_SETFD, libc::FD_CLOEXEC as usize);
    reset_all_signals();
    // What is needed after the report, copied off the submitting process's memory.
    let grace_ms = ctx.grace_ms;
    let mut stop_marker = StackText::<MAX_PATH>::new();
    let mut key = StackText::<MAX_KEY>::new();
    let key_bytes = std::slice::from_raw_parts(ctx.record_key, ctx.record_key_len);
    key.push_bytes(key_bytes);
    if !stop_marker.push_c_str(ctx.stop_marker) || key.bytes().len() != key_bytes.len() {
        fail(STAGE_MONITOR_SETUP, libc::ENAMETOOLONG);
    }
    // Own session: the host's terminal signals (Ctrl-C, hangup) do not reach the job.
    rawsys::setsid();
    // Orphaned descendants of the job come back to us, so the whole tree can be ended and reaped.
    rawsys::set_child_subreaper();
    let Some(start_ticks) = own_start_ticks() else {
        fail(STAGE_MONITOR_SETUP, libc::EIO);
    };
    // The job inherits the working directory; the monitor itself only uses absolute paths.
    let r = rawsys::chdir(ctx.workdir);
    if r != 0 {
        fail(STAGE_CHDIR, errno_of(r));
    }

    let mut start = JobStart {
        program: ctx.program,
        argv: ctx.argv,
        envp: ctx.envp,
        stdio: None,
        workdir: std::ptr::null(),
        stage: STAGE_OK,
        error: 0,
    };
    let job = match spawn_job(&mut start) {
        Ok(pid) => pid,
        Err((stage, error)) => fail(stage, error),
    };

    // Record the start before reporting it: once submit returns, any process finds the job.
    let mut line = StackText::<MAX_LINE>::new();
    line.push_bytes(b"S ");
    line.push_bytes(key.bytes());
    line.push_bytes(b" ");
    line.push_int(rawsys::getpid() as i64);
    line.push_bytes(b" ");
    line.push_int(job as i64);
    line.push_bytes(b" ");
    line.push_int(start_ticks.min(i64::MAX as u64) as i64);
    line.push_bytes(b" ");
    line.push_int(grace_ms);
    line.push_bytes(b" ");
    let pid_line = line.bytes();
    let parts = [
        libc::iovec { iov_base: pid_line.as_ptr() as *mut libc::c_void, iov_len: pid_line.len() },
        libc::iovec { iov_base: ctx.workdir_line as *mut libc::c_void, iov_len: ctx.workdir_line_len },
    ];
    let expected = pid_line.len() + ctx.workdir_line_len;
    let written = rawsys::writev(JOB_FILE_FD, parts.as_ptr(), 2);
    if written < 0 || written as usize != expected {
        let err = if written < 0 { errno_of(written) } else { libc::ENOSPC };
        end_tree(job);
        fail(STAGE_MONITOR_SETUP, err);
    }
    write_report(REPORT_FD, STAGE_OK, 0, job);
    // From here on `ctx` may be gone.
    rawsys::close(REPORT_FD);
    // The monitor never writes to them; holding the job's streams open serves nothing.
    for fd in 0..3 {
        rawsys::close(fd);
    }
    let wait_set = sig_bit(libc::SIGCHLD) | sig_bit(libc::SIGTERM);

    let mut job_status: i32 = 0;
    let mut job_done = false;
    let mut stop_deadline: Option<i64> = None;
    let mut killed = false;
    loop {
        loop {
            let mut st = 0;
            let r = rawsys::wait4(-1, &mut st, libc::WNOHANG);
            if r <= 0 {
                break;
            }
            if r == job as isize {
                job_status = st;
                job_done = true;
            }
        }
        if job_done {
            break;
        }
        let now = rawsys::now_ms();
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
        let sig = rawsys::sigtimedwait(wait_set, wait_ms);
        if sig == libc::SIGTERM as isize && stop_deadline.is_none() {
            signal_tree(job, libc::SIGTERM);
            // A stopped process acts on TERM only once continued.
            signal_tree(job, libc::SIGCONT);
            stop_deadline = Some(rawsys::now_ms().saturating_add(grace_ms));
        }
    }

    // The main process ended: nothing of its tree may outlive it. Kill and reap until no child
    // is left (each round also catches descendants reparented to us meanwhile).
    end_tree(job);
    write_exit(key.bytes(), job_status, stop_marker.as_c_ptr());
    rawsys::exit(0)
}

/// What a monitor started with `CLONE_VM` gets: its descriptors as the submitting process holds
/// them, and the context. Lives in the submitting process's frame until the report.
pub(crate) struct VmMonitorStart {
    pub stdio: [RawFd; 3],
    pub report_fd: RawFd,
    pub job_file: RawFd,
    pub ctx: MonitorCtx,
}

/// Entry of a monitor started with `CLONE_VM` (`spawn::launch`), on its own stack.
///
/// # Safety
/// `arg` points to a `VmMonitorStart` valid until the monitor reports; all signals blocked.
pub(crate) unsafe extern "C" fn vm_monitor_entry(arg: *mut libc::c_void) -> ! {
    let start = &*arg.cast::<VmMonitorStart>();
    child_setup(start.stdio, start.report_fd, start.job_file, false);
    monitor_body(&start.ctx)
}
