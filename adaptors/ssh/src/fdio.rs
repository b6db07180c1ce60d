//! Descriptor plumbing shared by the transport, its sessions and the streams: scratch files for
//! ssh's stdio, non-blocking sockets written without SIGPIPE, bounded waits for a descriptor or
//! a child, and the short texts of ssh's stderr that go into messages.

use std::fs::{self, File};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::process::{Child, ExitStatus};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// An anonymous file (O_TMPFILE: no name to create and remove on every call; nobody else can
/// open it) in /dev/shm, whose memory file system has no journal for a busy disk to stall, else
/// in `dir`; else a named file in `dir`, unlinked at once.
pub fn scratch(dir: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let anonymous = |d: &Path| {
        fs::OpenOptions::new()
            .read(true)
            .write(true)
            .mode(0o600)
            .custom_flags(libc::O_TMPFILE)
            .open(d)
    };
    if let Ok(f) = anonymous(Path::new("/dev/shm")).or_else(|_| anonymous(dir)) {
        return Ok(f);
    }
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let path = dir.join(format!("gat-io-{}-{n}", std::process::id()));
    let f = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)?;
    let _ = fs::remove_file(&path);
    Ok(f)
}

/// A scratch file (as [`scratch`]) holding `bytes`, positioned at its start: a child's stdin.
pub fn scratch_holding(dir: &Path, bytes: &[u8]) -> io::Result<File> {
    use std::io::{Seek, SeekFrom, Write};
    let mut f = scratch(dir)?;
    f.write_all(bytes)?;
    f.seek(SeekFrom::Start(0))?;
    Ok(f)
}

/// Everything in a scratch file, from its start (the child moved the shared offset).
pub fn read_all(f: &File) -> Vec<u8> {
    use std::os::unix::fs::FileExt;
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        match f.read_at(&mut chunk, buf.len() as u64) {
            Ok(0) | Err(_) => return buf,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// What ssh (or a script) said on stderr, for a message: trimmed, at most 2000 bytes.
pub fn text(err: &[u8]) -> String {
    const MAX: usize = 2000;
    let mut s = String::from_utf8_lossy(err).trim().to_string();
    if s.len() > MAX {
        let mut i = MAX;
        while !s.is_char_boundary(i) {
            i -= 1;
        }
        s.truncate(i);
        s.push_str("...");
    }
    s
}

pub fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl on a descriptor the caller owns, with integer arguments only.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    // SAFETY: as above.
    if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A connected pair of unix stream sockets (close-on-exec): ours, non-blocking, and the one for
/// a child's stdin. A socket, not a pipe, so that [`send`] can refuse SIGPIPE.
pub fn socket_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: socketpair(2) fills two descriptors on success.
    let r = unsafe {
        libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0, fds.as_mut_ptr())
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just returned by the kernel and are owned by nothing else.
    let (ours, theirs) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    set_nonblocking(ours.as_raw_fd())?;
    Ok((ours, theirs))
}

/// One non-blocking send that never raises SIGPIPE (a host program may have left it at its
/// default, which ends the process when the reader has gone).
pub fn send(to: &impl AsRawFd, bytes: &[u8]) -> io::Result<usize> {
    // SAFETY: a valid socket and a buffer that lives for the call.
    let n = unsafe {
        libc::send(to.as_raw_fd(), bytes.as_ptr().cast(), bytes.len(), libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT)
    };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// Wait until `fd` is ready for `events` or `deadline` passed (then TimedOut).
pub fn wait_ready(fd: &impl AsRawFd, events: libc::c_short, deadline: Instant) -> io::Result<()> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "the deadline passed"));
        }
        let mut p = libc::pollfd { fd: fd.as_raw_fd(), events, revents: 0 };
        let ms = i32::try_from(left.as_millis()).unwrap_or(i32::MAX).max(1);
        // SAFETY: one valid pollfd that lives for the duration of the call.
        let r = unsafe { libc::poll(&mut p, 1, ms) };
        if r > 0 {
            return Ok(());
        }
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }
}

/// Wait for `child` until `deadline`; on expiry kill and reap it and return None. Sleeps in
/// poll(2) on a pidfd (woken when the child ends: a multiplexed call takes a few ms, and a
/// polling loop's wake-ups come late on a busy machine); where there is none, looks every
/// 100 us for the first 50 ms, then backs off to 5 ms.
pub fn wait_child(child: &mut Child, deadline: Instant) -> io::Result<Option<ExitStatus>> {
    let start = Instant::now();
    let pidfd = pidfd_open(child.id());
    loop {
        if let Some(st) = child.try_wait()? {
            return Ok(Some(st));
        }
        let now = Instant::now();
        if now >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        let elapsed = now - start;
        match &pidfd {
            Some(fd) => {
                let _ = wait_ready(fd, libc::POLLIN, deadline);
            }
            None => std::thread::sleep(if elapsed < Duration::from_millis(50) {
                Duration::from_micros(100)
            } else if elapsed < Duration::from_secs(1) {
                Duration::from_millis(1)
            } else {
                Duration::from_millis(5)
            }),
        }
    }
}

/// A pidfd of our (not yet reaped, so not reusable) child; None where the kernel has none.
pub fn pidfd_open(pid: u32) -> Option<OwnedFd> {
    let pid = libc::pid_t::try_from(pid).ok()?;
    // SAFETY: pidfd_open(2) takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    let fd = RawFd::try_from(fd).ok().filter(|fd| *fd >= 0)?;
    // SAFETY: `fd` was just returned by the kernel and is owned by nothing else.
    Some(unsafe { OwnedFd::from_raw_fd(fd) })
}

pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_trimmed_and_cut_on_a_char_boundary() {
        assert_eq!(text(b"  said this\n"), "said this");
        let long = "\u{e9}".repeat(1500);
        let t = text(long.as_bytes());
        assert!(t.ends_with("...") && t.len() <= 2003);
    }

    #[test]
    fn find_handles_short_and_empty_needles() {
        assert_eq!(find(b"abc", b"bc"), Some(1));
        assert_eq!(find(b"a", b"abc"), None);
        assert_eq!(find(b"abc", b""), None);
    }
}
