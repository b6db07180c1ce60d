//! The spawner: one small long-lived helper process per adaptor (the `gat-job-monitor` program
//! in spawner mode, exec'd once) that starts job monitors on request, so that monitors live in
//! its small memory rather than the submitting process's (which they would keep alive after the
//! host exits).
//!
//! The adaptor sends one SOCK_SEQPACKET message per job: the monitor program's arguments and the
//! job's environment as NUL-terminated strings (`argc envc` first, as two native u32), with the
//! job's stdin, stdout, stderr, the write end of the report pipe and the record log as SCM_RIGHTS
//! descriptors. The spawner starts the monitor sharing its memory (`spawn::clone_monitor`, x86_64;
//! a fork elsewhere), which puts the descriptors on 0..4 and reports to the adaptor through the
//! pipe exactly as the adaptor's own monitors do, adding its own pid. The spawner reaps its
//! monitors (signalfd) and keeps each one's arguments and stack until then; the adaptor watches
//! them as it watches monitors of other processes: pidfd and record log.
//!
//! The spawner leaves the adaptor's process at once (double fork: it is nobody's child there) and
//! ends when the adaptor's end of the socket closes; monitors and jobs run on without it. If it
//! is gone, the adaptor starts monitors itself.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

/// Descriptors per request: stdin, stdout, stderr, report pipe, record log.
const FDS: usize = 5;
/// Largest request the spawner accepts (arguments and environment).
const MAX_REQUEST: usize = 256 * 1024;

/// The adaptor's side: the socket to a running spawner.
pub struct Spawner {
    socket: OwnedFd,
}

impl Spawner {
    /// Start `program` in spawner mode and wait until it has left this process.
    pub fn start(program: &Path) -> io::Result<Spawner> {
        let mut pair = [0 as RawFd; 2];
        // SAFETY: socketpair writes two fds into the array.
        let r = unsafe {
            libc::socketpair(
                libc::AF_UNIX,
                libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
                0,
                pair.as_mut_ptr(),
            )
        };
        if r != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: both fds are fresh and owned only here.
        let (ours, theirs) = unsafe { (OwnedFd::from_raw_fd(pair[0]), OwnedFd::from_raw_fd(pair[1])) };
        let theirs_raw = theirs.as_raw_fd();
        let mut command = Command::new(program);
        command
            .arg(crate::spawn::SPAWNER_MARKER)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: dup2/fcntl are async-signal-safe and touch only descriptors.
        unsafe {
            command.pre_exec(move || {
                // The spawner's socket on fd 3, kept across exec.
                let r = if theirs_raw == 3 {
                    libc::fcntl(3, libc::F_SETFD, 0)
                } else {
                    libc::dup2(theirs_raw, 3)
                };
                if r < 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut first = command.spawn()?;
        drop(theirs);
        // The program forks once and this child exits: the spawner proper is not our child.
        let status = first.wait()?;
        if !status.success() {
            return Err(io::Error::other(format!("the job spawner did not start ({status})")));
        }
        Ok(Spawner { socket: ours })
    }

    /// Ask for a monitor: `args` as for the monitor program, the job's `envp`, the descriptors.
    pub fn request(&self, args: &[CString], envp: &[CString], fds: &[RawFd; FDS]) -> io::Result<()> {
        let mut message = Vec::new();
        message.extend_from_slice(&(args.len() as u32).to_ne_bytes());
        message.extend_from_slice(&(envp.len() as u32).to_ne_bytes());
        for s in args.iter().chain(envp) {
            message.extend_from_slice(s.as_bytes_with_nul());
        }
        if message.len() > MAX_REQUEST {
            return Err(io::Error::other("arguments and environment too large for the spawner"));
        }
        let mut iov = libc::iovec {
            iov_base: message.as_mut_ptr().cast(),
            iov_len: message.len(),
        };
        // SAFETY: CMSG_SPACE only computes a size.
        let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<[RawFd; FDS]>() as u32) } as usize;
        let mut control = vec![0u8; space];
        // SAFETY: msghdr is plain data; the pointers set below stay valid across sendmsg.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = space as _;
        // SAFETY: the control buffer is CMSG_SPACE bytes, enough for one header and FDS fds.
        unsafe {
            let cmsg = libc::CMSG_FIRSTHDR(&msg);
            (*cmsg).cmsg_level = libc::SOL_SOCKET;
            (*cmsg).cmsg_type = libc::SCM_RIGHTS;
            (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<[RawFd; FDS]>() as u32) as _;
            std::ptr::copy_nonoverlapping(fds.as_ptr(), libc::CMSG_DATA(cmsg).cast::<RawFd>(), FDS);
        }
        loop {
            // SAFETY: msg and everything it points to are live; MSG_NOSIGNAL: no SIGPIPE in the
            // host when the spawner is gone.
            let sent = unsafe { libc::sendmsg(self.socket.as_raw_fd(), &msg, libc::MSG_NOSIGNAL) };
            if sent >= 0 {
                return Ok(());
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }
}

/// One request, received.
struct Request {
    args: Vec<CString>,
    envp: Vec<CString>,
    fds: Vec<OwnedFd>,
}

/// Receive one request; None at end of file (the adaptor is gone), Some(Err) for a bad one.
fn receive(socket: RawFd, buf: &mut [u8]) -> Option<io::Result<Request>> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: CMSG_SPACE only computes a size.
    let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<[RawFd; FDS]>() as u32) } as usize;
    let mut control = vec![0u8; space];
    // SAFETY: msghdr is plain data; the pointers set below stay valid across recvmsg.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = space as _;
    // SAFETY: as above; the kernel writes at most the buffers' sizes.
    let n = unsafe { libc::recvmsg(socket, &mut msg, libc::MSG_CMSG_CLOEXEC) };
    if n == 0 {
        return None;
    }
    if n < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            return Some(Err(e));
        }
        return None;
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
    let bad = |what: &str| Some(Err(io::Error::new(io::ErrorKind::InvalidData, what.to_owned())));
    if fds.len() != FDS || msg.msg_flags & (libc::MSG_TRUNC | libc::MSG_CTRUNC) != 0 {
        return bad("a request without its descriptors, or truncated");
    }
    let body = &buf[..n as usize];
    let (Some(argc), Some(envc)) = (body.get(0..4), body.get(4..8)) else {
        return bad("a request too short");
    };
    let argc = u32::from_ne_bytes([argc[0], argc[1], argc[2], argc[3]]) as usize;
    let envc = u32::from_ne_bytes([envc[0], envc[1], envc[2], envc[3]]) as usize;
    let mut strings = body[8..].split(|&b| b == 0).map(|s| CString::new(s).unwrap_or_default());
    let args: Vec<CString> = strings.by_ref().take(argc).collect();
    let envp: Vec<CString> = strings.take(envc).collect();
    if args.len() != argc || envp.len() != envc {
        return bad("a request with fewer strings than it announced");
    }
    Some(Ok(Request { args, envp, fds }))
}

/// Start the monitor of `request` sharing the spawner's memory (cheaper than a fork by the
/// cost of copying page tables); a failure goes to the adaptor through the report pipe.
fn start_shared(
    request: Request,
    running: &mut std::collections::HashMap<libc::pid_t, Box<crate::spawn::SpawnedMonitor>>,
    report: RawFd,
) {
    use crate::monitor::{write_report, STAGE_FORK, STAGE_MONITOR_SETUP};
    let Ok(fds) = <[RawFd; FDS]>::try_from(request.fds.iter().map(|f| f.as_raw_fd()).collect::<Vec<_>>()) else {
        write_report(report, STAGE_MONITOR_SETUP, libc::EINVAL, 0);
        return;
    };
    let Some(args) = crate::spawn::MonitorArgs::parse(request.args, request.envp) else {
        write_report(report, STAGE_MONITOR_SETUP, libc::EINVAL, 0);
        return;
    };
    match crate::spawn::clone_monitor(args, fds) {
        Ok((pid, spawned)) => {
            running.insert(pid, spawned);
        }
        Err(e) => write_report(report, STAGE_FORK, e.raw_os_error().unwrap_or(libc::EIO), 0),
    }
    // The monitor has its own copies of the descriptors: ours (request.fds) close here.
}

/// `main` of the spawner (the monitor program with `SPAWNER_MARKER`, socket on fd 3). Never
/// returns.
pub fn spawner_main() -> ! {
    // SAFETY: single-threaded program: fork, setsid, signal calls and descriptors only.
    unsafe {
        // Leave the adaptor's process: the first process exits, the spawner is reparented.
        match libc::fork() {
            0 => {}
            pid if pid > 0 => libc::_exit(0),
            _ => libc::_exit(1),
        }
        // Out of the host's session: its terminal's signals do not reach the spawner.
        libc::setsid();
        // Monitors start from default dispositions and all signals blocked, as after `launch`.
        crate::monitor::reset_all_signals();
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::sigprocmask(libc::SIG_SETMASK, &all, std::ptr::null_mut());
        let mut chld: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut chld);
        libc::sigaddset(&mut chld, libc::SIGCHLD);
        let sigfd = libc::signalfd(-1, &chld, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK);
        libc::fcntl(3, libc::F_SETFD, libc::FD_CLOEXEC);
        let mut buf = vec![0u8; MAX_REQUEST + 64];
        // Monitors sharing this process's memory, with what they use, until reaped.
        let mut running: std::collections::HashMap<libc::pid_t, Box<crate::spawn::SpawnedMonitor>> =
            std::collections::HashMap::new();
        let share_memory = crate::rawsys::CLONE_VM_MONITORS && !crate::rawsys::running_on_valgrind();
        loop {
            let mut polled = [
                libc::pollfd { fd: 3, events: libc::POLLIN, revents: 0 },
                libc::pollfd { fd: sigfd, events: libc::POLLIN, revents: 0 },
            ];
            let count = if sigfd >= 0 { 2 } else { 1 };
            // Without a signalfd, wake once a second to reap.
            let timeout = if sigfd >= 0 { -1 } else { 1000 };
            libc::poll(polled.as_mut_ptr(), count, timeout);
            if sigfd >= 0 && polled[1].revents != 0 {
                let mut info = [0u8; 128];
                while libc::read(sigfd, info.as_mut_ptr().cast(), info.len()) > 0 {}
            }
            // Reap every monitor that ended (they are this process's children only).
            loop {
                let pid = libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG);
                if pid <= 0 {
                    break;
                }
                running.remove(&pid);
            }
            if polled[0].revents == 0 {
                continue;
            }
            let request = match receive(3, &mut buf) {
                None => libc::_exit(0),
                Some(Err(_)) => continue,
                Some(Ok(r)) => r,
            };
            if share_memory {
                let report = request.fds[3].as_raw_fd();
                start_shared(request, &mut running, report);
                continue;
            }
            let pid = libc::fork();
            if pid == 0 {
                let fd = |i: usize| request.fds[i].as_raw_fd();
                crate::monitor::child_setup([fd(0), fd(1), fd(2)], fd(3), fd(4), false);
                crate::spawn::monitor_from_args(&request.args, &request.envp);
            }
            if pid < 0 {
                // No monitor: say so through the report pipe, the adaptor is waiting on it.
                let error = *libc::__errno_location();
                crate::monitor::write_report(request.fds[3].as_raw_fd(), crate::monitor::STAGE_FORK, error, 0);
            }
            drop(request);
        }
    }
}
