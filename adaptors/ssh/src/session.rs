//! A remote shell kept open between calls: one multiplexed `ssh host 'exec /bin/sh -s'` whose
//! shell reads one request after another from ssh's stdin.
//!
//! A call through a new multiplexed channel costs a channel open, a login shell and `sh` on the
//! host (about 8 ms on the test machine, most of a submit); a call through an open session costs
//! one round trip and a fork. Each request runs in a subshell `( script ) </dev/null`, so its
//! `exit`, `cd`, variables and traps end with it and nothing it starts can read the requests
//! that follow. After it the shell prints an end line carrying a nonce and the subshell's exit
//! status to stdout, and the nonce alone to stderr; the answer is everything before them.
//!
//! ssh's stdin is our end of a socket pair, written with MSG_NOSIGNAL: a host program that leaves
//! SIGPIPE at its default must not die because a session's ssh did. Every wait is bounded by the
//! call's deadline; a session that misses it, ends, or says anything between calls is killed,
//! reaped and never used again.

use std::io::{self, Read};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::process::{Child, ChildStderr, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::fdio::{self, find, send, set_nonblocking};

/// The remote command of a session (a constant: the login shell never parses our data).
pub const REMOTE_SHELL: &str = "exec /bin/sh -s";

/// What a call through a session gave.
pub enum Reply {
    /// The request ran: its subshell's exit status, stdout and stderr.
    Done { code: i32, out: Vec<u8>, err: Vec<u8> },
    /// ssh ended before the request's end line (exit code, 255 when killed; what it had said).
    Ended { code: i32, out: Vec<u8>, err: Vec<u8> },
    /// The deadline passed; the session was killed.
    TimedOut,
}

pub struct Session {
    child: Child,
    stdin: UnixStream,
    stdout: ChildStdout,
    stderr: ChildStderr,
    exited: Option<OwnedFd>,
    pub last_used: Instant,
}

static NONCE: AtomicU64 = AtomicU64::new(0);

/// A nonce no script output contains by chance: per process, per call, and the clock.
fn nonce() -> String {
    let n = NONCE.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    format!("GAT-END-{:x}-{n:x}-{t:x}", std::process::id())
}

impl Session {
    /// Start `cmd` (ssh with its options and destination; [`REMOTE_SHELL`] is added here).
    pub fn start(mut cmd: Command) -> io::Result<Session> {
        let (ours, theirs) = fdio::socket_pair()?;
        let ours = UnixStream::from(ours);
        cmd.arg(REMOTE_SHELL)
            .stdin(Stdio::from(theirs))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn()?;
        // The parent's copy of the child's socket end goes with `cmd`.
        drop(cmd);
        let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::other("ssh was started without its output pipes"));
        };
        for fd in [stdout.as_raw_fd(), stderr.as_raw_fd()] {
            set_nonblocking(fd)?;
        }
        let exited = fdio::pidfd_open(child.id());
        Ok(Session { child, stdin: ours, stdout, stderr, exited, last_used: Instant::now() })
    }

    /// True while the session is fit for a call: ssh runs and has said nothing since the last one.
    pub fn is_idle_and_alive(&mut self) -> bool {
        let mut fds = self.pollfds(false);
        // SAFETY: an array of valid pollfds that lives for the call; timeout 0 never blocks.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 0) };
        n == 0 && matches!(self.child.try_wait(), Ok(None))
    }

    /// Run `script` and wait for its end line until `deadline`.
    pub fn call(&mut self, script: &[u8], deadline: Instant) -> io::Result<Reply> {
        let end = nonce();
        let mut request = Vec::with_capacity(script.len() + 2 * end.len() + 64);
        request.extend_from_slice(b"(\n");
        request.extend_from_slice(script);
        request.extend_from_slice(b"\n) </dev/null\n");
        request.extend_from_slice(
            format!("printf '%s %s\\n' {end} \"$?\"; printf '%s\\n' {end} >&2\n").as_bytes(),
        );
        let out_end = format!("{end} ");
        let err_end = format!("{end}\n");
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let mut written = 0;
        let mut code = None;
        let mut err_done = false;
        // Where the end lines may start: what was searched already is not searched again.
        let (mut out_from, mut err_from) = (0, 0);
        loop {
            if let (Some(c), true) = (code, err_done) {
                self.last_used = Instant::now();
                return Ok(Reply::Done { code: c, out, err });
            }
            let now = Instant::now();
            if now >= deadline {
                self.kill();
                return Ok(Reply::TimedOut);
            }
            let mut fds = self.pollfds(written < request.len());
            let ms = i32::try_from((deadline - now).as_millis()).unwrap_or(i32::MAX).max(1);
            // SAFETY: an array of valid pollfds that lives for the call.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            let mut ended = fds[2].revents != 0;
            if written < request.len() {
                match send(&self.stdin, &request[written..]) {
                    Ok(k) => written += k,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(_) => ended = true,
                }
            }
            ended |= drain(&mut self.stdout, &mut out)?;
            ended |= drain(&mut self.stderr, &mut err)?;
            if code.is_none() {
                match find(&out[out_from..], out_end.as_bytes()).map(|i| out_from + i) {
                    Some(i) => {
                        let tail = &out[i + out_end.len()..];
                        if let Some(nl) = tail.iter().position(|b| *b == b'\n') {
                            let status = std::str::from_utf8(&tail[..nl]).ok().and_then(|s| s.parse().ok());
                            code = Some(status.unwrap_or(255));
                            out.truncate(i);
                        }
                    }
                    None => out_from = out.len().saturating_sub(out_end.len()),
                }
            }
            if !err_done {
                match find(&err[err_from..], err_end.as_bytes()).map(|i| err_from + i) {
                    Some(i) => {
                        err.truncate(i);
                        err_done = true;
                    }
                    None => err_from = err.len().saturating_sub(err_end.len()),
                }
            }
            if ended && !(code.is_some() && err_done) {
                // Whatever ssh wrote before it went is in the pipes now.
                let _ = drain(&mut self.stdout, &mut out);
                let _ = drain(&mut self.stderr, &mut err);
                let code = self.reap(deadline);
                return Ok(Reply::Ended { code, out, err });
            }
        }
    }

    /// Ask the remote shell to end (EOF on its input); kill ssh if it has not ended by `deadline`.
    pub fn close(mut self, deadline: Instant) {
        let _ = self.stdin.shutdown(std::net::Shutdown::Write);
        self.reap(deadline);
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// ssh's exit code once it ends (255 if killed at `deadline` or by a signal).
    fn reap(&mut self, deadline: Instant) -> i32 {
        loop {
            match self.child.try_wait() {
                Ok(Some(st)) => return st.code().unwrap_or(255),
                Ok(None) => {}
                Err(_) => return 255,
            }
            let now = Instant::now();
            if now >= deadline {
                self.kill();
                return 255;
            }
            match &self.exited {
                Some(fd) => {
                    let _ = fdio::wait_ready(fd, libc::POLLIN, deadline);
                }
                None => std::thread::sleep(Duration::from_millis(1)),
            }
        }
    }

    fn pollfds(&self, want_write: bool) -> [libc::pollfd; 4] {
        let fd = |fd: RawFd, events: libc::c_short| libc::pollfd { fd, events, revents: 0 };
        [
            fd(self.stdout.as_raw_fd(), libc::POLLIN),
            fd(self.stderr.as_raw_fd(), libc::POLLIN),
            // Without a pidfd, an ended ssh shows as EOF on its stdout.
            fd(self.exited.as_ref().map_or(-1, |f| f.as_raw_fd()), libc::POLLIN),
            fd(if want_write { self.stdin.as_raw_fd() } else { -1 }, libc::POLLOUT),
        ]
    }
}

impl Drop for Session {
    /// A session dropped without `close` (a panic, an error path) still leaves no process.
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.kill();
        }
    }
}

/// Read what `from` holds now into `into`; true at EOF (ssh closed it).
fn drain(from: &mut impl Read, into: &mut Vec<u8>) -> io::Result<bool> {
    let mut chunk = [0u8; 16 * 1024];
    loop {
        match from.read(&mut chunk) {
            Ok(0) => return Ok(true),
            Ok(n) => into.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}
