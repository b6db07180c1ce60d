//! The adaptor's side of the job server (see `mod.rs`): starting it, sending requests, reading
//! exit notes (the watcher thread does that).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};

use super::{ExitNote, RequestBody, EXIT_NOTE_LEN, MAX_REQUEST, REQUEST_FDS, SERVER_MARKER};

/// A running job server, as the adaptor holds it.
pub struct JobServer {
    socket: OwnedFd,
    /// Its socket failed or closed: it is gone (killed), a new one is needed.
    gone: AtomicBool,
}

/// What one look at the socket found.
pub enum Notes {
    Some(Vec<ExitNote>),
    /// The server is gone: its socket closed.
    Gone,
}

impl JobServer {
    /// Start `program` in server mode and wait until it has left this process.
    pub fn start(program: &Path) -> io::Result<JobServer> {
        let mut pair = [0 as RawFd; 2];
        // SAFETY: socketpair writes two fds into the array.
        let r = unsafe {
            libc::socketpair(libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC, 0, pair.as_mut_ptr())
        };
        if r != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: both fds are fresh and owned only here.
        let (ours, theirs) = unsafe { (OwnedFd::from_raw_fd(pair[0]), OwnedFd::from_raw_fd(pair[1])) };
        let theirs_raw = theirs.as_raw_fd();
        let mut command = Command::new(program);
        command.arg(SERVER_MARKER).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        // SAFETY: dup2/fcntl are async-signal-safe and touch only descriptors.
        unsafe {
            command.pre_exec(move || {
                // The server's socket on fd 3, kept across exec.
                let r = if theirs_raw == 3 { libc::fcntl(3, libc::F_SETFD, 0) } else { libc::dup2(theirs_raw, 3) };
                if r < 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut first = command.spawn()?;
        drop(theirs);
        // The program forks once and this child exits: the server proper is not our child.
        let status = first.wait()?;
        if !status.success() {
            return Err(io::Error::other(format!("the job server did not start ({status})")));
        }
        Ok(JobServer { socket: ours, gone: AtomicBool::new(false) })
    }

    pub fn raw_fd(&self) -> RawFd {
        self.socket.as_raw_fd()
    }

    pub fn is_gone(&self) -> bool {
        self.gone.load(Ordering::Relaxed)
    }

    pub fn mark_gone(&self) {
        self.gone.store(true, Ordering::Relaxed);
    }

    /// Send one request with its descriptors (the streams not sent to /dev/null, the report
    /// pipe, the record log).
    /// An error means the server did not take it (it is gone, or the request is too large).
    pub fn request(&self, body: &RequestBody<'_>, fds: &[RawFd]) -> io::Result<()> {
        let mut message = body.encode();
        if message.len() > MAX_REQUEST {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("the job's arguments and environment take {} bytes, more than the job server's {MAX_REQUEST}", message.len()),
            ));
        }
        let mut iov = libc::iovec { iov_base: message.as_mut_ptr().cast(), iov_len: message.len() };
        if fds.len() > REQUEST_FDS {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "too many descriptors for one request"));
        }
        let fds_len = std::mem::size_of_val(fds) as u32;
        // SAFETY: CMSG_SPACE only computes a size.
        let space = unsafe { libc::CMSG_SPACE(fds_len) } as usize;
        let mut control = vec![0u8; space];
        // Points into `iov`, `message` and `control`, which outlive the sendmsg below.
        let msg = super::message_header(&mut iov, &mut control);
        // SAFETY: the control buffer is CMSG_SPACE bytes, enough for one header and the fds.
        unsafe {
            let cmsg = libc::CMSG_FIRSTHDR(&msg);
            (*cmsg).cmsg_level = libc::SOL_SOCKET;
            (*cmsg).cmsg_type = libc::SCM_RIGHTS;
            (*cmsg).cmsg_len = libc::CMSG_LEN(fds_len) as _;
            std::ptr::copy_nonoverlapping(fds.as_ptr(), libc::CMSG_DATA(cmsg).cast::<RawFd>(), fds.len());
        }
        loop {
            // SAFETY: msg and everything it points to are live; MSG_NOSIGNAL: no SIGPIPE in the
            // host when the server is gone.
            let sent = unsafe { libc::sendmsg(self.socket.as_raw_fd(), &msg, libc::MSG_NOSIGNAL) };
            if sent >= 0 {
                return Ok(());
            }
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::EPIPE | libc::ECONNRESET | libc::ECONNREFUSED | libc::ENOTCONN) => {
                    self.mark_gone();
                    return Err(e);
                }
                _ => return Err(e),
            }
        }
    }

    /// The exit notes waiting on the socket (without blocking).
    pub fn read_notes(&self) -> Notes {
        let mut notes = Vec::new();
        let mut buf = [0u8; EXIT_NOTE_LEN + 1];
        loop {
            // SAFETY: receives into a live buffer.
            let n = unsafe {
                libc::recv(self.socket.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT)
            };
            if n == 0 {
                self.mark_gone();
                return if notes.is_empty() { Notes::Gone } else { Notes::Some(notes) };
            }
            if n < 0 {
                return match io::Error::last_os_error().raw_os_error() {
                    Some(libc::EAGAIN | libc::EINTR) => Notes::Some(notes),
                    _ => {
                        self.mark_gone();
                        if notes.is_empty() { Notes::Gone } else { Notes::Some(notes) }
                    }
                };
            }
            if let Some(note) = ExitNote::decode(&buf[..n as usize]) {
                notes.push(note);
            }
        }
    }
}
