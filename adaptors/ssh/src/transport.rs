//! Running the system `ssh` and `scp`: one ControlMaster per host, BatchMode, deadlines, and
//! turning what ssh said into an adaptor error.
//!
//! Remote work is a POSIX sh script sent on ssh's stdin to `exec /bin/sh -s`, so the remote
//! command line is a constant and the user's login shell (bash, zsh, even csh) never parses our
//! data. The script prints [`BEGIN`] before its answer, so whatever a login script prints first is
//! skipped.
//!
//! Scripts go through a few [`Session`]s per host kept open between calls (see `session`); a call
//! finding all of them busy runs its own `ssh`, whose stdin/stdout/stderr are anonymous files,
//! never pipes (see `scratch`).

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use gat_adaptor::{Error, Result};

use crate::fdio::{self, find, text};
use crate::session::{Reply, Session};

/// Marker line the remote scripts print before their answer.
pub const BEGIN: &[u8] = b"GAT-BEGIN\n";

/// How one host is reached.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Host {
    /// Resource name.
    pub resource: String,
    /// `ssh://user@host:port` as configured.
    pub contact: String,
    /// Host name or address as ssh's destination.
    pub target: String,
    pub user: Option<String>,
    pub port: Option<u16>,
    /// Extra options for ssh and scp, before ours (so they win where ssh takes the first value).
    pub options: Vec<String>,
    pub work_dir: Option<PathBuf>,
}

impl Host {
    /// Parse `ssh://[user@]host[:port][/]` (IPv6 in brackets).
    pub fn from_contact(
        resource: &str,
        contact: &str,
        options: Vec<String>,
        work_dir: Option<PathBuf>,
    ) -> Result<Host> {
        let bad = |why: &str| Error::InvalidSpec(format!("ssh contact {contact:?}: {why}"));
        let rest = contact
            .strip_prefix("ssh://")
            .ok_or_else(|| bad("must start with ssh://"))?;
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let (user, hostport) = match rest.rsplit_once('@') {
            Some((u, h)) => (Some(u.to_string()), h),
            None => (None, rest),
        };
        let (target, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (addr, after) = v6.split_once(']').ok_or_else(|| bad("unclosed ["))?;
            let port = match after.strip_prefix(':') {
                Some(p) => Some(p),
                None if after.is_empty() => None,
                None => return Err(bad("junk after ]")),
            };
            (addr.to_string(), port)
        } else {
            match hostport.split_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (hostport.to_string(), None),
            }
        };
        let port = port
            .map(|p| {
                p.parse::<u16>()
                    .map_err(|_| bad("port is not a number 1-65535"))
            })
            .transpose()?;
        let ok_name = |s: &str| {
            !s.is_empty()
                && !s.starts_with('-')
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-:%".contains(&b))
        };
        if !ok_name(&target) {
            return Err(bad("bad host name"));
        }
        if let Some(u) = &user {
            if !ok_name(u) {
                return Err(bad("bad user name"));
            }
        }
        if let Some(w) = &work_dir {
            let b = w.as_os_str().as_encoded_bytes();
            if b.contains(&b'\n') || b.contains(&0) {
                return Err(bad("work_dir holds a newline or NUL"));
            }
        }
        Ok(Host {
            resource: resource.to_string(),
            contact: contact.to_string(),
            target,
            user,
            port,
            options,
            work_dir,
        })
    }

    /// `host:` prefix of an scp operand (IPv6 in brackets).
    fn scp_prefix(&self) -> OsString {
        if self.target.contains(':') {
            OsString::from(format!("[{}]:", self.target))
        } else {
            OsString::from(format!("{}:", self.target))
        }
    }

    /// An scp operand naming `path` on this host.
    pub fn remote(&self, path: &OsStr) -> OsString {
        let mut s = self.scp_prefix();
        s.push(path);
        s
    }
}

/// What a remote script answered.
#[derive(Debug)]
pub struct Answer {
    /// The remote script's exit code.
    pub code: i32,
    /// Output after the BEGIN marker.
    pub out: Vec<u8>,
    /// ssh's and the script's stderr, trimmed.
    pub err: String,
}

/// Sessions open with one host: idle ones, and how many calls hold one now.
#[derive(Default)]
struct HostSessions {
    idle: Vec<Session>,
    busy: usize,
}

/// Every host's sessions, and when the idle ones were last looked over.
#[derive(Default)]
struct Pool {
    hosts: HashMap<Host, HostSessions>,
    swept: Option<Instant>,
}

/// How often a call also looks over every host's idle sessions (a host nobody calls any more
/// must not keep an ended ssh as a zombie for long).
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// Sessions kept open per host. sshd allows 10 channels per connection by default
/// (MaxSessions); this leaves room for transfers and for calls beyond these. Where a host allows
/// fewer, ssh opens a connection of its own for a channel the master's connection is refused.
pub const SESSIONS_PER_HOST: usize = 4;

/// How long a call waits for a busy host's session before it runs an ssh of its own.
const SESSION_WAIT: Duration = Duration::from_millis(20);

pub struct Transport {
    control_dir: PathBuf,
    pub connect_timeout: Duration,
    pub persist: Duration,
    /// At most this many open sessions per host; 0: every call runs its own ssh.
    pub sessions_per_host: usize,
    sessions: Mutex<Pool>,
    /// Notified when a session comes back (or its place is free again).
    returned: Condvar,
}

impl Transport {
    pub fn new(control_dir: PathBuf) -> Transport {
        Transport {
            control_dir,
            connect_timeout: Duration::from_secs(10),
            persist: Duration::from_secs(300),
            sessions_per_host: SESSIONS_PER_HOST,
            sessions: Mutex::new(Pool::default()),
            returned: Condvar::new(),
        }
    }

    /// Options for ssh and scp alike (scp passes -o/-F/-i through). Ours that must hold come
    /// first (ssh keeps the first value of an option), the user's next, our defaults last.
    pub(crate) fn options(&self, host: &Host) -> Vec<OsString> {
        let mut o: Vec<OsString> = Vec::new();
        let mut opt = |v: String| {
            o.push("-o".into());
            o.push(v.into());
        };
        opt("BatchMode=yes".into());
        // %C: hash of local host, remote host, port, user; one master per host and user.
        opt(format!("ControlPath={}/%C", self.control_dir.display()));
        if let Some(p) = host.port {
            opt(format!("Port={p}"));
        }
        if let Some(u) = &host.user {
            opt(format!("User={u}"));
        }
        let mut o2: Vec<OsString> = host.options.iter().map(OsString::from).collect();
        o.append(&mut o2);
        let mut opt = |v: String| {
            o.push("-o".into());
            o.push(v.into());
        };
        opt("ControlMaster=auto".into());
        opt(format!("ControlPersist={}", self.persist.as_secs().max(1)));
        opt(format!(
            "ConnectTimeout={}",
            self.connect_timeout.as_secs().max(1)
        ));
        opt("ServerAliveInterval=10".into());
        opt("ServerAliveCountMax=3".into());
        o
    }

    /// A scratch file for ssh's stdio (`fdio::scratch`, falling back to `control_dir`). ssh's
    /// stdin, stdout and stderr are such files, never pipes: a ControlPersist master that an
    /// older ssh forks off cannot hold a file open and make us wait.
    fn scratch(&self) -> Result<File> {
        fdio::scratch(&self.control_dir).map_err(|e| {
            Error::io(format!("creating a scratch file (in /dev/shm or {})", self.control_dir.display()), e)
        })
    }

    /// Run `script` with `/bin/sh -s` on `host`, bounded by `timeout`: through an idle session,
    /// a new one while the host has fewer than `sessions_per_host`, else an ssh of its own.
    pub fn run(&self, host: &Host, script: &[u8], timeout: Duration) -> Result<Answer> {
        let deadline = Instant::now() + timeout;
        let Some(mut session) = self.checkout(host)? else {
            return self.run_once(host, script, timeout);
        };
        let reply = session.call(script, deadline);
        let keep = matches!(reply, Ok(Reply::Done { .. }));
        self.checkin(host, keep.then_some(session));
        match reply.map_err(|e| Error::io(format!("talking to ssh for {}", host.contact), e))? {
            Reply::Done { code, out, err } => answer(host, code, out, text(&err)),
            Reply::Ended { code, out, err } => {
                let err = text(&err);
                if code == 255 && !contains(&out, BEGIN) {
                    return Err(connection_error(host, "ssh", &err));
                }
                Err(Error::Failed(format!(
                    "the ssh session to {} ended during a call (exit {code}): {err}",
                    host.contact
                )))
            }
            Reply::TimedOut => Err(Error::Timeout(format!(
                "ssh to {} gave no answer within {:?}",
                host.contact, timeout
            ))),
        }
    }

    /// A session for one call, or None when the host has its share busy (or sessions are off).
    fn checkout(&self, host: &Host) -> Result<Option<Session>> {
        if self.sessions_per_host == 0 {
            return Ok(None);
        }
        let mut stale = Vec::new();
        let found = {
            let mut pool = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
            // Other hosts' ended sessions go too, now and then: an ssh whose host went away must
            // not stay a zombie until that host is asked again.
            if pool.swept.is_none_or(|t| t.elapsed() >= SWEEP_EVERY) {
                pool.swept = Some(Instant::now());
                for sessions in pool.hosts.values_mut() {
                    let mut i = 0;
                    while i < sessions.idle.len() {
                        if sessions.idle[i].is_idle_and_alive() {
                            i += 1;
                        } else {
                            stale.push(sessions.idle.swap_remove(i));
                        }
                    }
                }
            }
            // All busy: wait briefly for one to come back. A call through a session takes a
            // millisecond or two; an ssh of its own costs a channel and a login shell.
            let give_up = Instant::now() + SESSION_WAIT;
            loop {
                let mine = pool.hosts.entry(host.clone()).or_default();
                let mut found = None;
                while let Some(mut s) = mine.idle.pop() {
                    if s.last_used.elapsed() < self.persist && s.is_idle_and_alive() {
                        found = Some(s);
                        break;
                    }
                    stale.push(s);
                }
                let room = mine.busy + mine.idle.len() < self.sessions_per_host;
                if found.is_some() || room {
                    mine.busy += 1;
                }
                match found {
                    Some(s) => break Ok(Some(s)),
                    None if room => break Err(()),
                    None => {}
                }
                let now = Instant::now();
                if now >= give_up {
                    break Ok(None);
                }
                pool = self.returned.wait_timeout(pool, give_up - now).unwrap_or_else(|p| p.into_inner()).0;
            }
        };
        // Outside the lock: an ended session is reaped at once, an expired one asked to end.
        for s in stale {
            s.close(Instant::now() + Duration::from_millis(200));
        }
        match found {
            Ok(s) => Ok(s),
            Err(()) => {
                let mut cmd = Command::new("ssh");
                cmd.args(self.options(host)).arg("--").arg(&host.target);
                match Session::start(cmd) {
                    Ok(s) => Ok(Some(s)),
                    Err(e) => {
                        self.checkin(host, None);
                        Err(Error::Failed(format!("cannot run ssh (is OpenSSH installed?): {e}")))
                    }
                }
            }
        }
    }

    /// Give back a session taken by `checkout` (None: it was used up).
    fn checkin(&self, host: &Host, session: Option<Session>) {
        let mut pool = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        let mine = pool.hosts.entry(host.clone()).or_default();
        mine.busy = mine.busy.saturating_sub(1);
        mine.idle.extend(session);
        self.returned.notify_all();
    }

    /// End the host's idle sessions (bounded; calls in progress keep theirs until they return).
    fn close_sessions(&self, host: &Host) {
        let idle = {
            let mut pool = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
            pool.hosts.get_mut(host).map(|m| std::mem::take(&mut m.idle)).unwrap_or_default()
        };
        let deadline = Instant::now() + Duration::from_secs(2);
        for s in idle {
            s.close(deadline);
        }
    }

    /// Run `script` with an ssh of its own.
    fn run_once(&self, host: &Host, script: &[u8], timeout: Duration) -> Result<Answer> {
        let input = fdio::scratch_holding(&self.control_dir, script)
            .map_err(|e| Error::io("writing the remote script to a scratch file", e))?;
        let mut cmd = Command::new("ssh");
        cmd.args(self.options(host))
            .arg("--")
            .arg(&host.target)
            .arg(crate::session::REMOTE_SHELL);
        let (code, out, err) = self.spawn_wait(host, cmd, input, timeout, "ssh")?;
        if code == 255 && !contains(&out, BEGIN) {
            return Err(connection_error(host, "ssh", &err));
        }
        answer(host, code, out, err)
    }

    /// Run scp with `args` (sources and destination, already host-prefixed where remote).
    pub fn scp(
        &self,
        host: &Host,
        recursive: bool,
        args: &[OsString],
        timeout: Duration,
    ) -> Result<()> {
        let mut cmd = Command::new("scp");
        // -s: SFTP protocol, so remote paths are never handed to a remote shell.
        cmd.arg("-s").arg("-q").arg("-p");
        if recursive {
            cmd.arg("-r");
        }
        cmd.args(self.options(host)).arg("--").args(args);
        let (code, _out, err) = self.spawn_wait(host, cmd, self.scratch()?, timeout, "scp")?;
        if code == 0 {
            return Ok(());
        }
        Err(scp_error(host, &err))
    }

    /// Close the host's sessions and master connection (bounded; errors ignored: they may be
    /// gone already).
    pub fn close_master(&self, host: &Host) {
        self.close_sessions(host);
        let Ok(input) = self.scratch() else { return };
        let mut cmd = Command::new("ssh");
        cmd.args(self.options(host))
            .arg("-O")
            .arg("exit")
            .arg("--")
            .arg(&host.target);
        let _ = self.spawn_wait(host, cmd, input, Duration::from_secs(3), "ssh -O exit");
    }

    fn spawn_wait(
        &self,
        host: &Host,
        mut cmd: Command,
        input: File,
        timeout: Duration,
        what: &str,
    ) -> Result<(i32, Vec<u8>, String)> {
        let (out, err) = (self.scratch()?, self.scratch()?);
        let clone = |f: &File| {
            f.try_clone()
                .map_err(|e| Error::io("duplicating a scratch file descriptor", e))
        };
        cmd.stdin(Stdio::from(input))
            .stdout(Stdio::from(clone(&out)?))
            .stderr(Stdio::from(clone(&err)?));
        let start = Instant::now();
        let mut child = cmd.spawn().map_err(|e| {
            Error::Failed(format!("cannot run {what} (is OpenSSH installed?): {e}"))
        })?;
        // The parent's copies of the child's descriptors go with `cmd`.
        drop(cmd);
        let status = fdio::wait_child(&mut child, start + timeout)
            .map_err(|e| Error::io(format!("waiting for {what} to {}", host.contact), e))?;
        let Some(status) = status else {
            return Err(Error::Timeout(format!(
                "{what} to {} gave no answer within {:?}",
                host.contact, timeout
            )));
        };
        tracing::trace!(host = %host.contact, what, elapsed = ?start.elapsed(), "ssh call");
        let out = fdio::read_all(&out);
        let err = text(&fdio::read_all(&err));
        // A signal-killed ssh has no code: treat as a connection failure.
        Ok((status.code().unwrap_or(255), out, err))
    }
}

impl Drop for Transport {
    /// Sessions of hosts nobody closed: end them (each is also killed when dropped).
    fn drop(&mut self) {
        let hosts: Vec<Host> = {
            let pool = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
            pool.hosts.keys().cloned().collect()
        };
        for host in hosts {
            self.close_sessions(&host);
        }
    }
}

/// The script's answer: what follows its BEGIN marker.
fn answer(host: &Host, code: i32, out: Vec<u8>, err: String) -> Result<Answer> {
    match find(&out, BEGIN) {
        Some(i) => Ok(Answer { code, out: out[i + BEGIN.len()..].to_vec(), err }),
        None => Err(Error::Failed(format!(
            "ssh to {} ran no script (exit {code}): {err}",
            host.contact
        ))),
    }
}



fn contains(hay: &[u8], needle: &[u8]) -> bool {
    find(hay, needle).is_some()
}

/// ssh could not get a session: say which host and quote ssh.
pub fn connection_error(host: &Host, what: &str, err: &str) -> Error {
    let said = if err.is_empty() { "no message" } else { err };
    let msg = format!("{what} to {} failed: {said}", host.contact);
    if err.contains("Host key verification failed")
        || err.contains("REMOTE HOST IDENTIFICATION HAS CHANGED")
        || err.contains("Permission denied")
    {
        Error::PermissionDenied(msg)
    } else {
        Error::Unreachable(msg)
    }
}

fn scp_error(host: &Host, err: &str) -> Error {
    let is_connection = [
        "Host key verification failed",
        "Connection refused",
        "Connection timed out",
        "No route to host",
        "Could not resolve",
        "Connection closed",
        "banner exchange",
        "Permission denied (",
        "Network is unreachable",
        "Connection reset",
    ]
    .iter()
    .any(|p| err.contains(p));
    if is_connection {
        return connection_error(host, "scp", err);
    }
    let msg = format!("scp with {} failed: {err}", host.contact);
    if err.contains("No such file or directory") || err.contains("not a regular file") {
        Error::FileOpen(msg)
    } else if err.contains("Permission denied") {
        Error::PermissionDenied(msg)
    } else {
        Error::Failed(msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contacts_parse() {
        let h = Host::from_contact("r", "ssh://jobtest@127.0.0.1:2222", vec![], None).unwrap();
        assert_eq!(
            (h.target.as_str(), h.user.as_deref(), h.port),
            ("127.0.0.1", Some("jobtest"), Some(2222))
        );
        let h = Host::from_contact("r", "ssh://example.org/", vec![], None).unwrap();
        assert_eq!(
            (h.target.as_str(), h.user, h.port),
            ("example.org", None, None)
        );
        let h = Host::from_contact("r", "ssh://u@[::1]:22", vec![], None).unwrap();
        assert_eq!((h.target.as_str(), h.port), ("::1", Some(22)));
        assert_eq!(h.remote(OsStr::new("/x")), OsStr::new("[::1]:/x"));
        for bad in [
            "local:",
            "ssh://",
            "ssh://-oProxyCommand=x",
            "ssh://h:99999",
            "ssh://a b",
            "ssh://[::1",
        ] {
            assert!(Host::from_contact("r", bad, vec![], None).is_err(), "{bad}");
        }
    }

    #[test]
    fn errors_classify() {
        let h = Host::from_contact("r", "ssh://h", vec![], None).unwrap();
        assert!(
            matches!(connection_error(&h, "ssh", "Host key verification failed."), Error::PermissionDenied(m) if m.contains("Host key verification failed"))
        );
        assert!(matches!(
            connection_error(
                &h,
                "ssh",
                "ssh: connect to host h port 22: Connection refused"
            ),
            Error::Unreachable(_)
        ));
        assert!(matches!(
            scp_error(&h, "scp: /x: No such file or directory"),
            Error::FileOpen(_)
        ));
    }
}
