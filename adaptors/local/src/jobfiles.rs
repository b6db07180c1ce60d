//! The files a job keeps in its job directory (created only when one is needed), readable by any
//! process that re-attaches. Starts and exits are in the record log (`records.rs`).
//!
//! - `pid` (written by versions before the record log, still read): the job's record, filled by
//!   the monitor with single appending writes, each of whole lines:
//!   1. `monitor_pid job_pid monitor_start_ticks stop_grace_ms\n` (before the start is reported)
//!   2. the job's working directory, `\` and newline escaped as `\\` and `\n`, then `\n` (same write)
//!   3. once the job ended: `exited N\n` or `signaled N\n`, with ` stopped` before the newline
//!      when libgat's stop ended it.
//!
//!   Readers take only complete, newline-terminated lines, so a write in progress is never
//!   half-read. One file written in place instead of a pid file and an exit file (each via a
//!   temporary name and a rename): creating files is what submit spent most of its time on.
//! - `stop-requested`: marker written by `stop()` before it signals the monitor
//! - `post-stage`: `source\tdestination\n` lines, absolute paths; `post-stage.claim`, `post-staged`,
//!   `post-stage-error`: see `staging.rs`

use std::ffi::OsStr;
use std::fs;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use gat_adaptor::ExitStatus;

pub const PID_FILE: &str = "pid";
pub const STOP_MARKER: &str = "stop-requested";
pub const POST_STAGE_FILE: &str = "post-stage";
/// Names an earlier run in the same job directory may have left (restart in place).
pub const STALE_FILES: [&str; 5] = [
    PID_FILE,
    STOP_MARKER,
    "post-stage.claim",
    "post-staged",
    "post-stage-error",
];

/// The first line of the `pid` file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PidRecord {
    pub monitor_pid: i32,
    pub job_pid: i32,
    pub monitor_start: u64,
    /// The monitor's TERM-to-KILL grace, so any process knows how long a stop may take.
    pub stop_grace_ms: Option<u64>,
    /// `monitor_pid` is a job server's, which runs many jobs (it ends long after this one).
    pub served: bool,
}

/// How the job ended (the `pid` file's exit line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitRecord {
    pub status: ExitStatus,
    pub stopped: bool,
}

/// Everything the `pid` file holds so far.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JobRecord {
    pub pid: Option<PidRecord>,
    pub workdir: Option<PathBuf>,
    pub exit: Option<ExitRecord>,
}

/// Write `contents` to `dir/name` via a temporary name and rename, so readers see all or nothing.
pub fn write_atomic(dir: &Path, name: &str, contents: &[u8]) -> io::Result<()> {
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut f = fs::File::create(&tmp)?;
    f.write_all(contents)?;
    drop(f);
    fs::rename(&tmp, dir.join(name))
}

/// The working directory as the `pid` file's second line: escaped, newline-terminated.
pub fn workdir_line(workdir: &Path) -> Vec<u8> {
    let mut line = Vec::new();
    for &b in workdir.as_os_str().as_bytes() {
        match b {
            b'\\' => line.extend_from_slice(b"\\\\"),
            b'\n' => line.extend_from_slice(b"\\n"),
            _ => line.push(b),
        }
    }
    line.push(b'\n');
    line
}

pub fn unescape(line: &[u8]) -> PathBuf {
    let mut out = Vec::with_capacity(line.len());
    let mut bytes = line.iter();
    while let Some(&b) = bytes.next() {
        if b == b'\\' {
            match bytes.next() {
                Some(b'n') => out.push(b'\n'),
                Some(&other) => out.push(other),
                None => {}
            }
        } else {
            out.push(b);
        }
    }
    PathBuf::from(OsStr::from_bytes(&out))
}

fn parse_pid_line(line: &str) -> Option<PidRecord> {
    let mut it = line.split_whitespace();
    Some(PidRecord {
        monitor_pid: it.next()?.parse().ok()?,
        job_pid: it.next()?.parse().ok()?,
        monitor_start: it.next()?.parse().ok()?,
        stop_grace_ms: it.next().and_then(|s| s.parse().ok()),
        served: false,
    })
}

/// An exit line: `exited N`, `signaled N`, either optionally followed by `stopped`.
pub fn parse_exit(line: &str) -> Option<ExitRecord> {
    let mut words = line.split_whitespace();
    let tag = words.next()?;
    let n = words.next()?.parse::<i32>().ok()?;
    let status = match tag {
        "exited" => ExitStatus::Exited(n),
        "signaled" => ExitStatus::Signaled(n),
        _ => return None,
    };
    Some(ExitRecord {
        status,
        stopped: words.next() == Some("stopped"),
    })
}

/// The `pid` file's complete lines. A first line that is not a pid record makes the file
/// malformed; an unfinished last line is ignored (its write is still in progress).
pub fn parse_record(bytes: &[u8]) -> Option<JobRecord> {
    let complete = match bytes.iter().rposition(|&b| b == b'\n') {
        Some(last) => &bytes[..last],
        None => return Some(JobRecord::default()),
    };
    let mut lines = complete.split(|&b| b == b'\n');
    let mut record = JobRecord::default();
    if let Some(first) = lines.next() {
        record.pid = Some(parse_pid_line(std::str::from_utf8(first).ok()?)?);
    }
    record.workdir = lines.next().map(unescape);
    for line in lines {
        if let Some(exit) = std::str::from_utf8(line).ok().and_then(parse_exit) {
            record.exit = Some(exit);
        }
    }
    Some(record)
}

/// The record of an older version's job (its `pid` file), None when there is none.
pub fn read_record(job_dir: &Path) -> io::Result<Option<JobRecord>> {
    let bytes = match fs::read(job_dir.join(PID_FILE)) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    parse_record(&bytes).map(Some).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("malformed pid file in {}", job_dir.display()),
        )
    })
}

/// What /proc says about a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    pub state: u8,
    /// Process group (field 5).
    pub group: i32,
    pub start_ticks: u64,
}

/// State letter, process group and start time (field 22) of `pid`, None when the process does
/// not exist.
pub fn proc_stat(pid: i32) -> Option<ProcStat> {
    let text = fs::read(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may contain spaces or ')': fields after
    // the last ')' are fixed.
    let close = text.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(&text[close + 1..]).ok()?;
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.bytes().next()?;
    // After the state (field 3): ppid, then the process group (field 5).
    let group = fields.nth(1)?.parse().ok()?;
    // Start time is field 22: 17 fields further.
    let start_ticks = fields.nth(16)?.parse().ok()?;
    Some(ProcStat { state, group, start_ticks })
}

/// True when the monitor recorded in `rec` still runs: same pid, same start time, not a zombie.
pub fn monitor_alive(rec: &PidRecord) -> bool {
    match proc_stat(rec.monitor_pid) {
        Some(st) => st.start_ticks == rec.monitor_start && st.state != b'Z' && st.state != b'X',
        None => false,
    }
}

/// True when some process of group `pgid` exists (zombies count as gone only if the leader is
/// the only member; kill(2) cannot tell, so this is "might exist").
pub fn group_exists(pgid: i32) -> bool {
    pgid > 1 && crate::sys::kill(-pgid, 0).is_ok()
}

/// True when process `pid` has a handler installed for `signal` (its `SigCgt` mask in
/// /proc/PID/status). Ignored or default dispositions are false.
pub fn catches_signal(pid: i32, signal: i32) -> io::Result<bool> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let mask = status
        .lines()
        .find_map(|l| l.strip_prefix("SigCgt:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no SigCgt line"))?;
    Ok((1..=64).contains(&signal) && mask & (1u64 << (signal - 1)) != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_lines_parse() {
        assert_eq!(
            parse_exit("exited 3"),
            Some(ExitRecord {
                status: ExitStatus::Exited(3),
                stopped: false
            })
        );
        assert_eq!(
            parse_exit("signaled 15 stopped"),
            Some(ExitRecord {
                status: ExitStatus::Signaled(15),
                stopped: true
            })
        );
        assert_eq!(parse_exit("garbage"), None);
        assert_eq!(parse_exit("exited"), None);
    }

    #[test]
    fn the_record_takes_complete_lines_only() {
        let rec = PidRecord {
            monitor_pid: 10,
            job_pid: 11,
            monitor_start: 12,
            stop_grace_ms: Some(1500),
            served: false,
        };
        let workdir = Path::new("/some dir/with\nnewline and \\n");
        let mut bytes = b"10 11 12 1500\n".to_vec();
        bytes.extend(workdir_line(workdir));
        let running = JobRecord {
            pid: Some(rec),
            workdir: Some(workdir.to_path_buf()),
            exit: None,
        };
        assert_eq!(parse_record(&bytes), Some(running.clone()));
        // An exit line still being written does not count yet.
        bytes.extend_from_slice(b"exited 1");
        assert_eq!(parse_record(&bytes), Some(running.clone()));
        bytes.extend_from_slice(b"2\n");
        let exit = Some(ExitRecord {
            status: ExitStatus::Exited(12),
            stopped: false,
        });
        assert_eq!(parse_record(&bytes), Some(JobRecord { exit, ..running }));
        // Empty (created, not yet filled), unfinished first line, short form, garbage.
        assert_eq!(parse_record(b""), Some(JobRecord::default()));
        assert_eq!(parse_record(b"10 11"), Some(JobRecord::default()));
        assert_eq!(
            parse_record(b"10 11 12\n").and_then(|r| r.pid),
            Some(PidRecord {
                stop_grace_ms: None,
                ..rec
            })
        );
        assert_eq!(parse_record(b"10 x\n"), None);
    }

    #[test]
    fn own_proc_stat_is_readable_and_stable() {
        let me = std::process::id() as i32;
        let a = proc_stat(me).expect("own /proc stat");
        let b = proc_stat(me).expect("own /proc stat");
        assert_eq!(a.start_ticks, b.start_ticks);
        // SAFETY: getpgrp has no preconditions.
        assert_eq!(a.group, unsafe { libc::getpgrp() });
        assert_eq!(proc_stat(i32::MAX), None);
    }
}
