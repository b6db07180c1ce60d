//! The files a job keeps in its job directory, readable by any process that re-attaches:
//!
//! - `pid`: `monitor_pid job_pid monitor_start_ticks stop_grace_ms\n` then the bytes of the job's
//!   working directory up to the end of the file (written by the submitting process, atomically;
//!   one file instead of two because file creation is what submit spends its time on)
//! - `exit`: `exited N\n` or `signaled N\n`, then `stopped\n` when libgat's stop ended it (monitor)
//! - `stop-requested`: marker written by `stop()` before it signals the monitor
//! - `post-stage`: `source\tdestination\n` lines, absolute paths; `post-stage.claim`, `post-staged`,
//!   `post-stage-error`: see `staging.rs`
//! - `stdout`, `stderr`: default output files

use std::ffi::OsStr;
use std::fs;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use gat_adaptor::ExitStatus;

pub const PID_FILE: &str = "pid";
pub const EXIT_FILE: &str = "exit";
pub const EXIT_TMP: &str = ".exit.tmp";
pub const STOP_MARKER: &str = "stop-requested";
pub const POST_STAGE_FILE: &str = "post-stage";

/// Contents of the `pid` file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PidRecord {
    pub monitor_pid: i32,
    pub job_pid: i32,
    pub monitor_start: u64,
    /// The monitor's TERM-to-KILL grace, so any process knows how long a stop may take.
    pub stop_grace_ms: Option<u64>,
}

/// Contents of the `exit` file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitRecord {
    pub status: ExitStatus,
    pub stopped: bool,
}

/// Write `contents` to `dir/name` via a temporary name and rename, so readers see all or nothing.
pub fn write_atomic(dir: &Path, name: &str, contents: &[u8]) -> io::Result<()> {
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut f = fs::File::create(&tmp)?;
    f.write_all(contents)?;
    drop(f);
    fs::rename(&tmp, dir.join(name))
}

fn read_optional(path: &Path) -> io::Result<Option<String>> {
    match fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

pub fn write_pid(job_dir: &Path, rec: PidRecord, workdir: &Path) -> io::Result<()> {
    let mut text = format!("{} {} {}", rec.monitor_pid, rec.job_pid, rec.monitor_start);
    if let Some(grace) = rec.stop_grace_ms {
        text.push_str(&format!(" {grace}"));
    }
    text.push('\n');
    let mut bytes = text.into_bytes();
    bytes.extend_from_slice(workdir.as_os_str().as_bytes());
    write_atomic(job_dir, PID_FILE, &bytes)
}

/// The pid file split into its first line and the working directory after it.
fn read_pid_file(job_dir: &Path) -> io::Result<Option<(String, PathBuf)>> {
    let bytes = match fs::read(job_dir.join(PID_FILE)) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let newline = bytes
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(bytes.len());
    let first = String::from_utf8_lossy(&bytes[..newline]).into_owned();
    let rest = bytes.get(newline + 1..).unwrap_or(&[]);
    Ok(Some((first, PathBuf::from(OsStr::from_bytes(rest)))))
}

pub fn read_pid(job_dir: &Path) -> io::Result<Option<PidRecord>> {
    let Some((text, _)) = read_pid_file(job_dir)? else {
        return Ok(None);
    };
    let bad = || {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("malformed pid file in {}", job_dir.display()),
        )
    };
    let mut it = text.split_whitespace();
    let monitor_pid = it.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
    let job_pid = it.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
    let monitor_start = it.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
    let stop_grace_ms = it.next().and_then(|s| s.parse().ok());
    Ok(Some(PidRecord {
        monitor_pid,
        job_pid,
        monitor_start,
        stop_grace_ms,
    }))
}

pub fn parse_exit(text: &str) -> Option<ExitRecord> {
    let mut status = None;
    let mut stopped = false;
    for line in text.lines() {
        let mut words = line.split_whitespace();
        match (
            words.next(),
            words.next().and_then(|n| n.parse::<i32>().ok()),
        ) {
            (Some("exited"), Some(n)) => status = Some(ExitStatus::Exited(n)),
            (Some("signaled"), Some(n)) => status = Some(ExitStatus::Signaled(n)),
            (Some("stopped"), _) => stopped = true,
            _ => {}
        }
    }
    status.map(|status| ExitRecord { status, stopped })
}

/// The recorded exit, None while the job runs (no file yet).
pub fn read_exit(job_dir: &Path) -> io::Result<Option<ExitRecord>> {
    let Some(text) = read_optional(&job_dir.join(EXIT_FILE))? else {
        return Ok(None);
    };
    parse_exit(&text).map(Some).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("malformed exit file in {}", job_dir.display()),
        )
    })
}

/// The job's working directory, as recorded in the pid file.
pub fn read_workdir(job_dir: &Path) -> io::Result<PathBuf> {
    match read_pid_file(job_dir)? {
        Some((_, workdir)) if !workdir.as_os_str().is_empty() => Ok(workdir),
        _ => Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "no working directory recorded in {}",
                job_dir.join(PID_FILE).display()
            ),
        )),
    }
}

/// What /proc says about a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    pub state: u8,
    pub start_ticks: u64,
}

/// State letter and start time (field 22) of `pid`, None when the process does not exist.
pub fn proc_stat(pid: i32) -> Option<ProcStat> {
    let text = fs::read(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may contain spaces or ')': fields after
    // the last ')' are fixed.
    let close = text.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(&text[close + 1..]).ok()?;
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.bytes().next()?;
    // After the state (field 3), start time is field 22: 19 fields further.
    let start_ticks = fields.nth(18)?.parse().ok()?;
    Some(ProcStat { state, start_ticks })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_file_forms_parse() {
        assert_eq!(
            parse_exit("exited 3\n"),
            Some(ExitRecord {
                status: ExitStatus::Exited(3),
                stopped: false
            })
        );
        assert_eq!(
            parse_exit("signaled 15\nstopped\n"),
            Some(ExitRecord {
                status: ExitStatus::Signaled(15),
                stopped: true
            })
        );
        assert_eq!(parse_exit("garbage"), None);
    }

    #[test]
    fn pid_file_round_trips_and_accepts_the_short_form() {
        let dir = std::env::temp_dir().join(format!("gat-local-pidfile-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("mkdir");
        let rec = PidRecord {
            monitor_pid: 10,
            job_pid: 11,
            monitor_start: 12,
            stop_grace_ms: Some(1500),
        };
        let workdir = Path::new("/some dir/with\nnewline");
        write_pid(&dir, rec, workdir).expect("write");
        assert_eq!(read_pid(&dir).expect("read"), Some(rec));
        assert_eq!(read_workdir(&dir).expect("workdir"), workdir);
        fs::write(dir.join(PID_FILE), "10 11 12\n").expect("write short form");
        assert_eq!(
            read_pid(&dir).expect("read"),
            Some(PidRecord {
                stop_grace_ms: None,
                ..rec
            })
        );
        fs::write(dir.join(PID_FILE), "10 x\n").expect("write garbage");
        assert!(read_pid(&dir).is_err());
        fs::remove_dir_all(&dir).expect("cleanup");
    }

    #[test]
    fn own_proc_stat_is_readable_and_stable() {
        let me = std::process::id() as i32;
        let a = proc_stat(me).expect("own /proc stat");
        let b = proc_stat(me).expect("own /proc stat");
        assert_eq!(a.start_ticks, b.start_ticks);
        assert_eq!(proc_stat(i32::MAX), None);
    }
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
