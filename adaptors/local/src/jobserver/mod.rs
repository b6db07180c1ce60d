//! The job server: one long-lived helper process per adaptor (the `gat-job-monitor` program in
//! server mode, exec'd once) that is the parent of every job the adaptor starts. It replaces the
//! per-job monitor where the program is available: a job then costs one vfork-style clone from a
//! small single-threaded process, no monitor process of its own.
//!
//! The server, like a monitor:
//! - starts each job in a process group of its own, in the server's session (not the host's),
//!   with stdio, directory and environment as the request says, and appends its start to the
//!   record log before reporting it
//!   (`J key server_pid job_pid server_start grace workdir`, `records.rs`);
//! - is the child subreaper of every job's tree: when a job's main process ends, what is left
//!   of its tree is killed and reaped, and only then the exit line is appended
//!   (`E key server_pid ...`) and the adaptor told (an exit note on the socket);
//! - stops a job on SIGTERM when the job's stop marker exists (so any process stops a job as it
//!   stops a monitor's: marker, then TERM to the recorded pid): TERM and CONT to its tree, the
//!   recorded grace, then KILL;
//! - outlives the adaptor: when the adaptor's end of the socket closes it takes no more jobs and
//!   ends once its last job has.
//!
//! A job inherits from the server what a process inherits across fork and exec and the request
//! does not set: resource limits, umask, nice value, cgroup, as the host had them when the
//! server started (at the adaptor's first submit), not as they are at each submit.
//!
//! Which processes belong to which job: the job's process group (its id is the job's pid), and
//! descendants that left it (`setsid`, as daemons do) once their parent died and they became the
//! server's children: those count for the job whose end or stop revealed them, if they started
//! after it (else for no job: they are killed when the server has no job left).
//!
//! Protocol over a SOCK_SEQPACKET socket pair (one message each way per event):
//! - request (adaptor → server): `Header` then NUL-terminated strings: program, working
//!   directory, record key, stop marker path, the job's argv, the job's environment; with
//!   SCM_RIGHTS descriptors: stdin, stdout, stderr (those the header does not mark /dev/null),
//!   the write end of a report pipe, the record log. The server answers on the report pipe exactly as a monitor does (`monitor::write_report`:
//!   stage, errno, job pid, server pid).
//! - exit note (server → adaptor): `ExitNote` once a job has ended and its exit line is written.

pub mod client;
pub mod server;

/// First argument of the monitor program in server mode; the number is the protocol's version.
pub const SERVER_MARKER: &str = "--gat-job-server=1";

/// Most descriptors a request carries: stdin, stdout, stderr (those not sent to /dev/null),
/// report pipe, record log.
pub const REQUEST_FDS: usize = 5;
/// Largest request the server accepts (arguments and environment).
pub const MAX_REQUEST: usize = 1 << 20;
/// Fixed strings of a request before the job's argv.
const FIXED_STRINGS: usize = 4;

/// A msghdr for one buffer and one control area (SCM_RIGHTS descriptors), pointing into both:
/// valid while they are.
fn message_header(iov: &mut libc::iovec, control: &mut [u8]) -> libc::msghdr {
    // SAFETY: msghdr is plain data; all zeros is an empty header.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = control.len() as _;
    msg
}

/// The fixed start of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Chosen by the adaptor, unique per request; the exit note carries it back.
    pub token: u64,
    pub grace_ms: i64,
    pub argc: u32,
    pub envc: u32,
    /// Bit i set: stream i (stdin, stdout, stderr) is /dev/null, and its descriptor is not sent.
    pub null_stdio: u32,
}

const HEADER_LEN: usize = 32;

impl Header {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.token.to_ne_bytes());
        out.extend_from_slice(&self.grace_ms.to_ne_bytes());
        out.extend_from_slice(&self.argc.to_ne_bytes());
        out.extend_from_slice(&self.envc.to_ne_bytes());
        out.extend_from_slice(&self.null_stdio.to_ne_bytes());
        out.extend_from_slice(&0u32.to_ne_bytes());
    }

    fn decode(bytes: &[u8]) -> Option<Header> {
        let word = |at: usize, len: usize| bytes.get(at..at + len);
        Some(Header {
            token: u64::from_ne_bytes(word(0, 8)?.try_into().ok()?),
            grace_ms: i64::from_ne_bytes(word(8, 8)?.try_into().ok()?),
            argc: u32::from_ne_bytes(word(16, 4)?.try_into().ok()?),
            envc: u32::from_ne_bytes(word(20, 4)?.try_into().ok()?),
            null_stdio: u32::from_ne_bytes(word(24, 4)?.try_into().ok()?) & 0b111,
        })
    }
}

/// A job's end as the server tells it: the request's token, the wait status, and whether
/// libgat's stop ended it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitNote {
    pub token: u64,
    pub wait_status: i32,
    pub stopped: bool,
}

pub const EXIT_NOTE_LEN: usize = 16;

impl ExitNote {
    pub fn encode(&self) -> [u8; EXIT_NOTE_LEN] {
        let mut out = [0u8; EXIT_NOTE_LEN];
        out[..8].copy_from_slice(&self.token.to_ne_bytes());
        out[8..12].copy_from_slice(&self.wait_status.to_ne_bytes());
        out[12..].copy_from_slice(&(self.stopped as u32).to_ne_bytes());
        out
    }

    pub fn decode(bytes: &[u8]) -> Option<ExitNote> {
        if bytes.len() != EXIT_NOTE_LEN {
            return None;
        }
        Some(ExitNote {
            token: u64::from_ne_bytes(bytes[..8].try_into().ok()?),
            wait_status: i32::from_ne_bytes(bytes[8..12].try_into().ok()?),
            stopped: u32::from_ne_bytes(bytes[12..].try_into().ok()?) != 0,
        })
    }

    /// The status as the adaptor reports it.
    pub fn status(&self) -> gat_adaptor::ExitStatus {
        if libc::WIFSIGNALED(self.wait_status) {
            gat_adaptor::ExitStatus::Signaled(libc::WTERMSIG(self.wait_status))
        } else {
            gat_adaptor::ExitStatus::Exited(libc::WEXITSTATUS(self.wait_status))
        }
    }
}

/// A request's body: header and strings (the descriptors travel beside it).
pub struct RequestBody<'a> {
    pub header: Header,
    pub program: &'a [u8],
    pub workdir: &'a [u8],
    pub key: &'a [u8],
    pub stop_marker: &'a [u8],
    pub argv: Vec<&'a [u8]>,
    pub envp: Vec<&'a [u8]>,
}

impl<'a> RequestBody<'a> {
    pub fn encode(&self) -> Vec<u8> {
        let strings = [self.program, self.workdir, self.key, self.stop_marker];
        let size = HEADER_LEN
            + strings.iter().chain(&self.argv).chain(&self.envp).map(|s| s.len() + 1).sum::<usize>();
        let mut out = Vec::with_capacity(size);
        self.header.encode(&mut out);
        for s in strings.iter().chain(&self.argv).chain(&self.envp) {
            out.extend_from_slice(s);
            out.push(0);
        }
        out
    }

    /// None: not a request of the adaptor's making (too short, fewer strings than announced,
    /// not ending in NUL). Every string given is followed by a NUL in `bytes`.
    pub fn decode(bytes: &'a [u8]) -> Option<RequestBody<'a>> {
        let header = Header::decode(bytes)?;
        if bytes.last() != Some(&0) {
            return None;
        }
        let mut strings = bytes.get(HEADER_LEN..)?.split(|&b| b == 0);
        let fixed: Vec<&[u8]> = strings.by_ref().take(FIXED_STRINGS).collect();
        let argv: Vec<&[u8]> = strings.by_ref().take(header.argc as usize).collect();
        let envp: Vec<&[u8]> = strings.by_ref().take(header.envc as usize).collect();
        if fixed.len() != FIXED_STRINGS || argv.len() != header.argc as usize || envp.len() != header.envc as usize || argv.is_empty() {
            return None;
        }
        Some(RequestBody {
            header,
            program: fixed[0],
            workdir: fixed[1],
            key: fixed[2],
            stop_marker: fixed[3],
            argv,
            envp,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_and_an_exit_note_survive_their_encoding() {
        let body = RequestBody {
            header: Header { token: 7, grace_ms: 300, argc: 2, envc: 1, null_stdio: 0b101 },
            program: b"/bin/sh",
            workdir: b"/w d",
            key: b"job\\s1",
            stop_marker: b"/a/job 1/stop-requested",
            argv: vec![b"sh", b"-c"],
            envp: vec![b"A=b"],
        };
        let bytes = body.encode();
        let back = RequestBody::decode(&bytes).expect("decodes");
        assert_eq!(back.header, body.header);
        assert_eq!((back.program, back.workdir, back.key), (body.program, body.workdir, body.key));
        assert_eq!((back.argv, back.envp), (body.argv, body.envp));
        assert!(RequestBody::decode(&bytes[..bytes.len() - 5]).is_none(), "a cut request is refused");
        let note = ExitNote { token: 9, wait_status: 9, stopped: true };
        assert_eq!(ExitNote::decode(&note.encode()), Some(note));
        assert_eq!(note.status(), gat_adaptor::ExitStatus::Signaled(9));
    }
}
