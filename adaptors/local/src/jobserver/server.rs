//! The job server's own loop (runs in the `gat-job-monitor` program; see `mod.rs`). A plain
//! single-threaded program: it may allocate and use std; only the job's vfork-style child
//! (`monitor::spawn_job`) is restricted to raw system calls.

use std::collections::{HashMap, VecDeque};
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::{ExitNote, RequestBody, MAX_REQUEST, REQUEST_FDS};
use crate::monitor::{self, JobStart, STAGE_MONITOR_SETUP, STAGE_OK};

/// The adaptor's socket in the server.
const SOCKET_FD: RawFd = 3;
/// While a job's tree is being killed, how often the server looks again.
const ENDING_RECHECK: Duration = Duration::from_millis(5);
/// A tree that has not ended this long after its KILL is given up on: the exit is recorded.
const ENDING_LIMIT: Duration = Duration::from_secs(10);

/// One job of this server.
struct Job {
    token: u64,
    key: Vec<u8>,
    log: Rc<OwnedFd>,
    stop_marker: CString,
    grace: Duration,
    /// When it started, in clock ticks since boot (as /proc's start times): descendants found
    /// later that started before it cannot be its own.
    start_tick: u64,
    /// TERM sent by a stop; KILL due at this time.
    stop_deadline: Option<Instant>,
    /// The main process's wait status, once it ended; the job then ends with its tree.
    status: Option<i32>,
    ending_since: Option<Instant>,
}

/// A descendant of some job that was reparented to the server.
#[derive(Debug, Clone, Copy)]
struct Orphan {
    /// The main pid of the job it belongs to; 0: not known yet.
    owner: i32,
    group: i32,
    /// Its start, in clock ticks since boot.
    started: u64,
}

/// One message received from the adaptor: its length in the receive buffer, its descriptors.
struct Received {
    len: usize,
    fds: Vec<OwnedFd>,
}

struct Server {
    pid: i32,
    start_ticks: u64,
    ticks_per_second: u64,
    jobs: HashMap<i32, Job>,
    /// Children that are not a job's main process (descendants reparented to us).
    orphans: HashMap<i32, Orphan>,
    /// Record logs held for jobs, one descriptor per file.
    logs: HashMap<(u64, u64), Rc<OwnedFd>>,
    /// Exit notes the socket could not take yet.
    outbox: VecDeque<[u8; super::EXIT_NOTE_LEN]>,
    client_gone: bool,
    /// A SIGTERM came (someone asked for a stop): from then on a job's end looks for its marker.
    stops_asked: bool,
    /// Jobs whose main process ended, their tree not yet gone; and jobs being stopped (TERM
    /// sent, KILL not yet): kept apart so that a round looks at these, not at every job.
    ending: Vec<i32>,
    stopping: Vec<i32>,
    /// /dev/null, the stdio of jobs whose streams go nowhere.
    dev_null: Option<std::fs::File>,
    /// `/proc/self/task/<pid>/children`, kept open.
    children_file: Option<std::fs::File>,
}

/// `main` of the server (the monitor program with `SERVER_MARKER`, socket on fd 3). Never
/// returns.
pub fn server_main() -> ! {
    // SAFETY: single-threaded program: fork, setsid, signal and descriptor calls only.
    let sigfd = unsafe {
        // The host's inheritable descriptors came along through exec: none may reach a job.
        if crate::rawsys::close_range(SOCKET_FD as u32 + 1, u32::MAX) != 0 {
            for fd in SOCKET_FD + 1..4096 {
                libc::close(fd);
            }
        }
        // Jobs start from default dispositions (their child only empties the mask).
        monitor::reset_all_signals();
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::sigprocmask(libc::SIG_SETMASK, &all, std::ptr::null_mut());
        let mut wanted: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut wanted);
        libc::sigaddset(&mut wanted, libc::SIGCHLD);
        libc::sigaddset(&mut wanted, libc::SIGTERM);
        let sigfd = libc::signalfd(-1, &wanted, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK);
        if sigfd < 0 {
            // Nothing would reap: refuse to serve while the adaptor still waits for this
            // process, so that it gives its jobs monitors instead.
            libc::_exit(1);
        }
        libc::fcntl(SOCKET_FD, libc::F_SETFD, libc::FD_CLOEXEC);
        let flags = libc::fcntl(SOCKET_FD, libc::F_GETFL);
        libc::fcntl(SOCKET_FD, libc::F_SETFL, flags | libc::O_NONBLOCK);
        // Leave the adaptor's process: the first process exits, the server is reparented.
        match libc::fork() {
            0 => {}
            pid if pid > 0 => libc::_exit(0),
            _ => libc::_exit(1),
        }
        // Out of the host's session: its terminal's signals do not reach the server.
        libc::setsid();
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
        sigfd
    };
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    let mut server = Server {
        pid: std::process::id() as i32,
        start_ticks: crate::jobfiles::proc_stat(std::process::id() as i32).map_or(0, |st| st.start_ticks),
        ticks_per_second: ticks,
        jobs: HashMap::new(),
        orphans: HashMap::new(),
        logs: HashMap::new(),
        outbox: VecDeque::new(),
        client_gone: false,
        stops_asked: false,
        ending: Vec::new(),
        stopping: Vec::new(),
        children_file: None,
        dev_null: std::fs::OpenOptions::new().read(true).write(true).open("/dev/null").ok(),
    };
    let mut buf = vec![0u8; MAX_REQUEST + 64];
    loop {
        if server.client_gone && server.jobs.is_empty() {
            server.kill_orphans();
            std::process::exit(0);
        }
        let timeout = server.poll_timeout();
        let mut polled = [
            libc::pollfd { fd: sigfd, events: libc::POLLIN, revents: 0 },
            libc::pollfd { fd: SOCKET_FD, events: 0, revents: 0 },
        ];
        if server.client_gone {
            // A closed socket reports POLLHUP whatever is asked: leave it out.
            polled[1].fd = -1;
        } else {
            polled[1].events = libc::POLLIN | if server.outbox.is_empty() { 0 } else { libc::POLLOUT };
        }
        // SAFETY: two live pollfds.
        unsafe { libc::poll(polled.as_mut_ptr(), 2, timeout) };
        let mut stop_requested = false;
        if polled[0].revents != 0 {
            let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
            let size = std::mem::size_of::<libc::signalfd_siginfo>();
            // SAFETY: reads whole siginfo records into `info`.
            while unsafe { libc::read(sigfd, (&mut info as *mut libc::signalfd_siginfo).cast(), size) } == size as isize {
                stop_requested |= info.ssi_signo == libc::SIGTERM as u32;
            }
        }
        server.reap();
        if stop_requested {
            server.stops_asked = true;
            server.start_requested_stops();
        }
        server.kill_overdue();
        server.finish_ended_trees();
        if polled[1].revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0 {
            // Start everything that is waiting: requests come in bursts from several threads.
            loop {
                match receive(&mut buf) {
                    Receive::Request(r) => server.start_job(&buf[..r.len], r.fds),
                    Receive::Bad => continue,
                    Receive::Empty => break,
                    Receive::Closed => {
                        server.client_gone = true;
                        server.outbox.clear();
                        break;
                    }
                }
            }
        }
        server.flush_outbox();
    }
}

enum Receive {
    Request(Received),
    /// A malformed message (dropped).
    Bad,
    /// Nothing waiting.
    Empty,
    /// The adaptor's end is closed.
    Closed,
}

fn receive(buf: &mut [u8]) -> Receive {
    let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
    // SAFETY: CMSG_SPACE only computes a size.
    let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<[RawFd; REQUEST_FDS]>() as u32) } as usize;
    let mut control = vec![0u8; space];
    // Points into `iov`, `buf` and `control`, which outlive the recvmsg below.
    let mut msg = super::message_header(&mut iov, &mut control);
    // SAFETY: the kernel writes at most the buffers' sizes.
    let n = unsafe { libc::recvmsg(SOCKET_FD, &mut msg, libc::MSG_CMSG_CLOEXEC | libc::MSG_DONTWAIT) };
    if n == 0 {
        return Receive::Closed;
    }
    if n < 0 {
        return match std::io::Error::last_os_error().raw_os_error() {
            Some(libc::EAGAIN) | Some(libc::EINTR) => Receive::Empty,
            _ => Receive::Closed,
        };
    }
    let mut fds = Vec::new();
    // SAFETY: walks the control messages the kernel wrote into `control`.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(cmsg).cast::<RawFd>();
                let count = ((*cmsg).cmsg_len as usize - libc::CMSG_LEN(0) as usize) / std::mem::size_of::<RawFd>();
                for i in 0..count {
                    fds.push(OwnedFd::from_raw_fd(std::ptr::read_unaligned(data.add(i))));
                }
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    if fds.len() < 2 || msg.msg_flags & (libc::MSG_TRUNC | libc::MSG_CTRUNC) != 0 {
        return Receive::Bad;
    }
    Receive::Request(Received { len: n as usize, fds })
}

fn c_string(bytes: &[u8]) -> CString {
    CString::new(bytes).unwrap_or_default()
}

/// A string of a decoded request as a C string. Sound because `RequestBody::decode` accepts
/// only bodies ending in NUL and splits them at NULs: a NUL follows every string it gives.
fn c_ptr(s: &[u8]) -> *const libc::c_char {
    s.as_ptr().cast()
}

fn nul_terminated(strings: &[&[u8]]) -> Vec<*const libc::c_char> {
    strings.iter().map(|s| c_ptr(s)).chain(std::iter::once(std::ptr::null())).collect()
}

fn kill(pid: i32, sig: i32) -> bool {
    // SAFETY: kill has no memory effects.
    unsafe { libc::kill(pid, sig) == 0 }
}

impl Server {
    /// Clock ticks since boot now, on /proc's clock.
    fn now_tick(&self) -> u64 {
        // SAFETY: timespec is plain data clock_gettime fills.
        let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
        unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) };
        let ns = ts.tv_sec as u128 * 1_000_000_000 + ts.tv_nsec as u128;
        (ns * self.ticks_per_second as u128 / 1_000_000_000) as u64
    }

    fn poll_timeout(&self) -> i32 {
        let now = Instant::now();
        let mut wait: Option<Duration> = None;
        let mut sooner = |d: Duration| wait = Some(wait.map_or(d, |w| w.min(d)));
        if !self.ending.is_empty() {
            sooner(ENDING_RECHECK);
        }
        for job in self.stopping.iter().filter_map(|pid| self.jobs.get(pid)) {
            if let Some(deadline) = job.stop_deadline {
                sooner(deadline.saturating_duration_since(now));
            }
        }
        wait.map_or(-1, |d| d.as_millis().clamp(1, 1000) as i32)
    }

    fn start_job(&mut self, bytes: &[u8], mut fds: Vec<OwnedFd>) {
        // The record log is the last descriptor, the report pipe the one before; the streams
        // that do not go to /dev/null come first. All but the log close on return.
        // (`receive` takes no request with fewer than two.)
        let (Some(log_fd), Some(report)) = (fds.pop(), fds.last().map(|f| f.as_raw_fd())) else { return };
        let body = RequestBody::decode(bytes);
        let null = self.dev_null.as_ref().map_or(-1, |f| f.as_raw_fd());
        let mut streams = fds.iter().map(|f| f.as_raw_fd());
        let stdio: Option<[RawFd; 3]> = body.as_ref().and_then(|b| {
            let picked = [0, 1, 2].map(|i| if b.header.null_stdio & 1 << i != 0 { Some(null) } else { streams.next() });
            // Every stream accounted for, and exactly the report pipe left over.
            match (picked, streams.next(), streams.next()) {
                ([Some(i), Some(o), Some(e)], Some(_), None) if null >= 0 => Some([i, o, e]),
                _ => None,
            }
        });
        let (Some(body), Some(stdio)) = (body, stdio) else {
            monitor::write_report(report, STAGE_MONITOR_SETUP, libc::EINVAL, 0);
            return;
        };
        // The strings are used where they arrived: each is NUL-terminated in the buffer.
        let argv_ptrs = nul_terminated(&body.argv);
        let envp_ptrs = nul_terminated(&body.envp);
        let mut start = JobStart {
            program: c_ptr(body.program),
            argv: argv_ptrs.as_ptr(),
            envp: envp_ptrs.as_ptr(),
            stdio: Some(stdio),
            workdir: c_ptr(body.workdir),
            stage: STAGE_OK,
            error: 0,
        };
        let start_tick = self.now_tick();
        let pid = match monitor::spawn_job(&mut start) {
            Ok(pid) => pid,
            Err((stage, error)) => {
                monitor::write_report(report, stage, error, 0);
                return;
            }
        };
        let log = self.log_of(log_fd);
        let grace_ms = body.header.grace_ms.max(0);
        // Recorded before it is reported: once submit returns, any process finds the job.
        let mut line = Vec::with_capacity(160);
        line.extend_from_slice(b"J ");
        line.extend_from_slice(body.key);
        line.extend_from_slice(format!(" {} {pid} {} {grace_ms} ", self.pid, self.start_ticks).as_bytes());
        line.extend_from_slice(&crate::jobfiles::workdir_line(std::path::Path::new(std::ffi::OsStr::from_bytes(body.workdir))));
        // SAFETY: writes the line from a live buffer in one call (O_APPEND: never interleaved).
        let written = unsafe { libc::write(log.as_raw_fd(), line.as_ptr().cast(), line.len()) };
        if written != line.len() as isize {
            let error = if written < 0 { std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO) } else { libc::ENOSPC };
            kill(-pid, libc::SIGKILL);
            let mut status = 0;
            // SAFETY: reaps our own child.
            unsafe { libc::waitpid(pid, &mut status, 0) };
            monitor::write_report(report, STAGE_MONITOR_SETUP, error, 0);
            return;
        }
        monitor::write_report(report, STAGE_OK, 0, pid);
        self.jobs.insert(
            pid,
            Job {
                token: body.header.token,
                key: body.key.to_vec(),
                log,
                stop_marker: c_string(body.stop_marker),
                grace: Duration::from_millis(grace_ms as u64),
                start_tick,
                stop_deadline: None,
                status: None,
                ending_since: None,
            },
        );
    }

    /// The held descriptor of the record log received as `fd` (one per file).
    fn log_of(&mut self, fd: OwnedFd) -> Rc<OwnedFd> {
        // SAFETY: stat is plain data fstat fills.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } != 0 {
            return Rc::new(fd);
        }
        let id = (st.st_dev, st.st_ino);
        Rc::clone(self.logs.entry(id).or_insert_with(|| Rc::new(fd)))
    }

    /// Reap every child that ended: a job's main process starts the end of its tree.
    fn reap(&mut self) {
        loop {
            let mut status = 0;
            // SAFETY: writes only `status`.
            let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
            if pid <= 0 {
                break;
            }
            if let Some(job) = self.jobs.get_mut(&pid) {
                // What is left of its tree is killed next (`finish_ended_trees`).
                job.status = Some(status);
                job.ending_since = Some(Instant::now());
                self.ending.push(pid);
                self.stopping.retain(|&p| p != pid);
            } else {
                self.orphans.remove(&pid);
            }
        }
    }

    /// The pids of this process's children (jobs and reparented descendants).
    fn children(&mut self) -> Vec<i32> {
        use std::os::unix::fs::FileExt;
        if self.children_file.is_none() {
            self.children_file = std::fs::File::open(format!("/proc/self/task/{}/children", self.pid)).ok();
        }
        let Some(file) = &self.children_file else { return Vec::new() };
        // Read from the start each time: the kernel lists the children anew (one open file
        // instead of a /proc path walk per job's end).
        let mut text = Vec::with_capacity(256);
        let mut chunk = [0u8; 4096];
        loop {
            match file.read_at(&mut chunk, text.len() as u64) {
                Ok(0) | Err(_) => break,
                Ok(n) => text.extend_from_slice(&chunk[..n]),
            }
        }
        text.split(|b| b.is_ascii_whitespace())
            .filter_map(|p| std::str::from_utf8(p).ok()?.parse().ok())
            .collect()
    }

    /// Send `sig` to job `main`'s process group and to the children that belong to it; true
    /// when any process was left to signal.
    fn signal_tree(&mut self, main: i32, sig: i32) -> bool {
        let group_left = kill(-main, sig);
        let members_left = self.signal_members(main, sig);
        group_left || members_left
    }

    /// Send `sig` to the children that belong to job `main`, placing children not seen before;
    /// true when there was one.
    fn signal_members(&mut self, main: i32, sig: i32) -> bool {
        let mut found = false;
        for child in self.children() {
            if self.jobs.contains_key(&child) {
                continue;
            }
            let orphan = match self.orphans.get(&child) {
                Some(&orphan) => orphan,
                None => {
                    let Some(st) = crate::jobfiles::proc_stat(child) else { continue };
                    Orphan { owner: 0, group: st.group, started: st.start_ticks }
                }
            };
            let owner = if orphan.owner != 0 { orphan.owner } else { self.owner_of(&orphan) };
            self.orphans.insert(child, Orphan { owner, ..orphan });
            if owner == main {
                found = true;
                kill(child, sig);
            }
        }
        found
    }

    /// The job a descendant reparented to us belongs to: the one whose process group it is in;
    /// else, having left it, the one job of ours that started before it, if only one did (its
    /// own job did; if that one has ended, the descendant outlived it and ends late, but never
    /// with a job it does not belong to); else none yet (0): looked at again at the next scan,
    /// as jobs end.
    fn owner_of(&self, orphan: &Orphan) -> i32 {
        if self.jobs.contains_key(&orphan.group) {
            return orphan.group;
        }
        let mut earlier = self.jobs.iter().filter(|(_, job)| job.start_tick <= orphan.started).map(|(&pid, _)| pid);
        match (earlier.next(), earlier.next()) {
            (Some(only), None) => only,
            _ => 0,
        }
    }

    /// A stop was asked for (SIGTERM): jobs whose stop marker exists get TERM (and CONT, which
    /// a stopped process needs to act on it), and KILL after their grace.
    fn start_requested_stops(&mut self) {
        let asked: Vec<i32> = self
            .jobs
            .iter()
            .filter(|(_, job)| job.status.is_none() && job.stop_deadline.is_none())
            // SAFETY: a NUL-terminated path.
            .filter(|(_, job)| unsafe { crate::rawsys::exists(job.stop_marker.as_ptr()) })
            .map(|(&pid, _)| pid)
            .collect();
        for pid in asked {
            for sig in [libc::SIGTERM, libc::SIGCONT] {
                self.signal_tree(pid, sig);
            }
            if let Some(job) = self.jobs.get_mut(&pid) {
                job.stop_deadline = Some(Instant::now() + job.grace);
                self.stopping.push(pid);
            }
        }
    }

    /// Stopped jobs past their grace get KILL.
    fn kill_overdue(&mut self) {
        let now = Instant::now();
        let overdue: Vec<i32> = self
            .stopping
            .iter()
            .copied()
            .filter(|pid| self.jobs.get(pid).is_some_and(|job| job.stop_deadline.is_some_and(|d| d <= now)))
            .collect();
        self.stopping.retain(|pid| !overdue.contains(pid));
        for pid in overdue {
            self.signal_tree(pid, libc::SIGKILL);
        }
    }

    /// Jobs whose main process ended and whose tree is gone: record the exit and tell the
    /// adaptor.
    fn finish_ended_trees(&mut self) {
        let mut finished = false;
        for pid in std::mem::take(&mut self.ending) {
            // Nothing of a job outlives its main process. kill(2) on the group fails only when
            // no process of it is left (the main process was reaped, so it does not count).
            let tree_left = self.signal_tree(pid, libc::SIGKILL);
            let given_up = self.jobs.get(&pid).and_then(|j| j.ending_since).is_some_and(|t| t.elapsed() > ENDING_LIMIT);
            if tree_left && !given_up {
                self.ending.push(pid);
                continue;
            }
            if let Some(job) = self.jobs.remove(&pid) {
                self.finish(job);
                finished = true;
            }
        }
        if finished && self.jobs.is_empty() {
            self.kill_orphans();
        }
    }

    fn finish(&mut self, job: Job) {
        let status = job.status.unwrap_or(0);
        // A stop writes the marker, then sends SIGTERM: before any SIGTERM, no job has one.
        // SAFETY: a NUL-terminated path.
        let stopped = job.stop_deadline.is_some()
            || (self.stops_asked && unsafe { crate::rawsys::exists(job.stop_marker.as_ptr()) });
        let outcome = if libc::WIFSIGNALED(status) {
            format!("signaled {}", libc::WTERMSIG(status))
        } else {
            format!("exited {}", libc::WEXITSTATUS(status))
        };
        // The key as the start line has it (bytes, not text).
        let mut line = Vec::with_capacity(job.key.len() + 48);
        line.extend_from_slice(b"E ");
        line.extend_from_slice(&job.key);
        line.extend_from_slice(format!(" {} {outcome}{}\n", self.pid, if stopped { " stopped" } else { "" }).as_bytes());
        // SAFETY: one write of a live buffer (O_APPEND).
        unsafe { libc::write(job.log.as_raw_fd(), line.as_ptr().cast(), line.len()) };
        if Rc::strong_count(&job.log) == 2 {
            self.logs.retain(|_, log| !Rc::ptr_eq(log, &job.log));
        }
        if !self.client_gone {
            self.outbox.push_back(ExitNote { token: job.token, wait_status: status, stopped }.encode());
        }
    }

    /// With no job left, every child is a descendant of a job that ended: none may live on.
    fn kill_orphans(&mut self) {
        for child in self.children() {
            kill(child, libc::SIGKILL);
        }
    }

    /// Send what the socket takes; the rest waits for POLLOUT.
    fn flush_outbox(&mut self) {
        while let Some(note) = self.outbox.front() {
            // SAFETY: sends a live buffer; MSG_NOSIGNAL: a closed socket is an error, not SIGPIPE.
            let sent = unsafe { libc::send(SOCKET_FD, note.as_ptr().cast(), note.len(), libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL) };
            if sent < 0 {
                match std::io::Error::last_os_error().raw_os_error() {
                    Some(libc::EAGAIN) | Some(libc::EINTR) => return,
                    _ => {
                        self.client_gone = true;
                        self.outbox.clear();
                        return;
                    }
                }
            }
            self.outbox.pop_front();
        }
    }
}

