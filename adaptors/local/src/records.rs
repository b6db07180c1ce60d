//! The record log: where job monitors record starts and exits, one log per jobs area (the
//! parent of the engine's job directories), `<area>/local-jobs.log`, readable by any process
//! that re-attaches.
//!
//! On some file systems creating a file costs as much as starting and reaping a short job (the
//! ext4 of our CI machines takes about 0.5 ms of CPU per new inode), so a job's start creates
//! none: its monitor appends to the one log, opened with O_APPEND, in single writes of whole
//! lines (concurrent appenders never interleave within a write):
//!
//! - `S key monitor_pid job_pid monitor_start_ticks stop_grace_ms workdir\n` before the start is
//!   reported; `workdir` escaped as `jobfiles::workdir_line` (it may contain spaces); `J` instead
//!   of `S` for a job of a job server (`jobserver/`): then the pid and start time are the
//!   server's, which runs many jobs;
//! - `E key monitor_pid exited N\n` or `... signaled N\n`, with ` stopped` before the newline when
//!   libgat's stop ended the job.
//!
//! `key` is the job directory's name, escaped so it holds no space or newline. A later `S` for
//! the same key (a restart in place) replaces the earlier run; an `E` counts only for the run
//! of the same monitor. Readers index the log incrementally (each read parses only what was
//! appended since) and take complete lines only.
//!
//! Generations: a log found larger than `ROTATE_AT` when a process opens it is renamed to
//! `local-jobs.<nanoseconds>.<pid>.log` and a new one begun, so that a process indexes only recent
//! jobs. A job not in the current log is looked for in the older generations, newest first
//! (indexed on first need; monitors started before a rotation append their exit lines there,
//! through the descriptor they hold). Generations are kept: a job's record is needed until the
//! journal has its end, which this adaptor cannot know.
//!
//! Job directories of earlier versions hold a `pid` file instead (`jobfiles.rs`); it is read
//! when no log has anything for the job.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::jobfiles::{self, ExitRecord, JobRecord, PidRecord};

/// The log's name in a jobs area.
pub const LOG_FILE: &str = "local-jobs.log";
/// A log larger than this when a process opens it starts a new generation (about 100,000 jobs).
pub const ROTATE_AT: u64 = 16 << 20;

/// Older generations: `local-jobs.<nanoseconds>.<pid>.log`.
fn is_generation(name: &str) -> bool {
    name.starts_with("local-jobs.") && name.ends_with(".log") && name != LOG_FILE
}

/// The key of the job whose directory is `job_dir`: its name, `\`, space and newline escaped.
pub fn key_of(job_dir: &Path) -> Vec<u8> {
    let name = job_dir.file_name().map(|n| n.as_bytes()).unwrap_or(b"");
    let mut key = Vec::with_capacity(name.len());
    for &b in name {
        match b {
            b'\\' => key.extend_from_slice(b"\\\\"),
            b'\n' => key.extend_from_slice(b"\\n"),
            b' ' => key.extend_from_slice(b"\\s"),
            _ => key.push(b),
        }
    }
    key
}

/// The open logs of this process, by jobs area.
#[derive(Default)]
pub struct RecordBook {
    logs: Mutex<HashMap<PathBuf, Arc<RecordLog>>>,
    /// Older generations opened so far, by path.
    older: Mutex<HashMap<PathBuf, Arc<RecordLog>>>,
    rotate_at: Option<u64>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl RecordBook {
    /// A book whose logs start a new generation beyond `bytes` (tests; the default is ROTATE_AT).
    #[cfg(test)]
    fn rotating_at(bytes: u64) -> Self {
        RecordBook { rotate_at: Some(bytes), ..Default::default() }
    }

    /// The log of the area holding `job_dir`, opened (and created, with its area) on first use.
    pub fn log_for(&self, job_dir: &Path) -> io::Result<Arc<RecordLog>> {
        let area = job_dir.parent().unwrap_or(Path::new("/")).to_path_buf();
        let mut logs = lock(&self.logs);
        if let Some(log) = logs.get(&area) {
            return Ok(Arc::clone(log));
        }
        let log = Arc::new(RecordLog::open(&area, self.rotate_at.unwrap_or(ROTATE_AT))?);
        logs.insert(area, Arc::clone(&log));
        Ok(log)
    }

    /// The record of `key` in the area's older generations, newest first.
    fn lookup_older(&self, area: &Path, key: &[u8]) -> io::Result<Option<JobRecord>> {
        let Ok(entries) = fs::read_dir(area) else { return Ok(None) };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| is_generation(n))
            .collect();
        // A later rotation has a larger time in its name.
        names.sort_by_key(|n| std::cmp::Reverse(generation_time(n)));
        for name in names {
            let path = area.join(&name);
            let log = {
                let mut older = lock(&self.older);
                match older.get(&path) {
                    Some(log) => Arc::clone(log),
                    None => {
                        let log = Arc::new(RecordLog::open_generation(&path)?);
                        older.insert(path, Arc::clone(&log));
                        log
                    }
                }
            };
            if let Some(record) = log.lookup(key)? {
                return Ok(Some(record));
            }
        }
        Ok(None)
    }

    /// Everything recorded for the job in `job_dir` so far; None when nothing is.
    pub fn read(&self, job_dir: &Path) -> io::Result<Option<JobRecord>> {
        let key = key_of(job_dir);
        let logged = match self.log_for(job_dir) {
            Ok(log) => log.lookup(&key)?,
            // A jobs area we may not write to can still hold older jobs' pid files.
            Err(_) => None,
        };
        if let Some(record) = logged {
            return Ok(Some(record));
        }
        if let Some(record) = self.lookup_older(job_dir.parent().unwrap_or(Path::new("/")), &key)? {
            return Ok(Some(record));
        }
        jobfiles::read_record(job_dir)
    }

    pub fn read_pid(&self, job_dir: &Path) -> io::Result<Option<PidRecord>> {
        Ok(self.read(job_dir)?.and_then(|r| r.pid))
    }

    /// The recorded exit, None while the job runs.
    pub fn read_exit(&self, job_dir: &Path) -> io::Result<Option<ExitRecord>> {
        Ok(self.read(job_dir)?.and_then(|r| r.exit))
    }

    /// The job's working directory, as recorded at its start.
    pub fn read_workdir(&self, job_dir: &Path) -> io::Result<PathBuf> {
        match self.read(job_dir)?.and_then(|r| r.workdir) {
            Some(workdir) if !workdir.as_os_str().is_empty() => Ok(workdir),
            _ => Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("no working directory recorded for the job in {}", job_dir.display()),
            )),
        }
    }
}

/// One area's log: the open file (monitors append through copies of its descriptor) and an
/// index of what has been read of it.
pub struct RecordLog {
    file: fs::File,
    path: PathBuf,
    index: Mutex<Index>,
}

#[derive(Default)]
struct Index {
    /// Bytes parsed so far (always at a line end).
    parsed: u64,
    records: HashMap<Vec<u8>, JobRecord>,
}

/// The time of a generation's name (`local-jobs.<nanoseconds>.<pid>.log`), 0 if unreadable.
fn generation_time(name: &str) -> u128 {
    name.trim_start_matches("local-jobs.").split('.').next().and_then(|s| s.parse().ok()).unwrap_or(0)
}

impl RecordLog {
    /// An older generation, read only.
    fn open_generation(path: &Path) -> io::Result<RecordLog> {
        let file = fs::File::open(path)?;
        Ok(RecordLog { file, path: path.to_path_buf(), index: Mutex::new(Index::default()) })
    }

    /// The area's current log; one of `rotate_at` bytes or more becomes an older generation
    /// first.
    fn open(area: &Path, rotate_at: u64) -> io::Result<RecordLog> {
        let path = area.join(LOG_FILE);
        if fs::metadata(&path).map(|m| m.len() >= rotate_at).unwrap_or(false) {
            let seconds = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            let older = area.join(format!("local-jobs.{seconds}.{}.log", std::process::id()));
            // Another process may rotate at the same moment: then this rename moves its fresh
            // log, which readers find among the generations all the same.
            if let Err(e) = fs::rename(&path, &older) {
                tracing::debug!("rotating {}: {e}", path.display());
            }
        }
        let open = || {
            fs::OpenOptions::new()
                .read(true)
                .append(true)
                .create(true)
                .mode(0o600)
                .open(&path)
        };
        let file = match open() {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::DirBuilder::new().recursive(true).mode(0o700).create(area)?;
                open()?
            }
            other => other?,
        };
        Ok(RecordLog { file, path, index: Mutex::new(Index::default()) })
    }

    /// The log's descriptor (appending, like every writer), valid while this lives.
    pub fn raw_fd(&self) -> std::os::fd::RawFd {
        std::os::fd::AsRawFd::as_raw_fd(&self.file)
    }

    /// A descriptor of the log of its own, as a monitor holds one.
    #[cfg(test)]
    pub fn writer(&self) -> io::Result<std::os::fd::OwnedFd> {
        Ok(self.file.try_clone()?.into())
    }

    #[cfg(test)]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The record of `key`, after reading what was appended since the last look.
    pub fn lookup(&self, key: &[u8]) -> io::Result<Option<JobRecord>> {
        let mut index = lock(&self.index);
        self.catch_up(&mut index)?;
        Ok(index.records.get(key).cloned())
    }

    fn catch_up(&self, index: &mut Index) -> io::Result<()> {
        let mut chunk = vec![0u8; 64 * 1024];
        let mut pending: Vec<u8> = Vec::new();
        let mut offset = index.parsed;
        loop {
            let n = self.file.read_at(&mut chunk, offset).map_err(|e| {
                io::Error::new(e.kind(), format!("reading {}: {e}", self.path.display()))
            })?;
            if n == 0 {
                break;
            }
            offset += n as u64;
            pending.extend_from_slice(&chunk[..n]);
            // Parse the complete lines; an unfinished last one waits for the next look.
            if let Some(end) = pending.iter().rposition(|&b| b == b'\n') {
                for line in pending[..end].split(|&b| b == b'\n') {
                    apply(&mut index.records, line);
                }
                index.parsed += end as u64 + 1;
                pending.drain(..=end);
            }
        }
        Ok(())
    }
}

/// Fold one line into the records (malformed lines are skipped).
fn apply(records: &mut HashMap<Vec<u8>, JobRecord>, line: &[u8]) {
    let mut fields = line.splitn(7, |&b| b == b' ');
    let (Some(tag), Some(key), Some(monitor)) = (fields.next(), fields.next(), fields.next()) else {
        return;
    };
    let Some(monitor_pid) = std::str::from_utf8(monitor).ok().and_then(|m| m.parse::<i32>().ok()) else {
        return;
    };
    match tag {
        b"S" | b"J" => {
            let number = |f: Option<&[u8]>| std::str::from_utf8(f?).ok()?.parse::<u64>().ok();
            let (Some(job_pid), Some(start), grace) = (number(fields.next()), number(fields.next()), number(fields.next()))
            else {
                return;
            };
            let Ok(job_pid) = i32::try_from(job_pid) else { return };
            let workdir = fields.next().map(|w| jobfiles::unescape(w.strip_suffix(b"\n").unwrap_or(w)));
            records.insert(
                key.to_vec(),
                JobRecord {
                    pid: Some(PidRecord {
                        monitor_pid,
                        job_pid,
                        monitor_start: start,
                        stop_grace_ms: grace,
                        served: tag == b"J",
                    }),
                    workdir,
                    exit: None,
                },
            );
        }
        b"E" => {
            let rest: Vec<&[u8]> = fields.collect();
            let text = rest.join(&b' ');
            let Some(exit) = std::str::from_utf8(&text).ok().and_then(jobfiles::parse_exit) else {
                return;
            };
            if let Some(record) = records.get_mut(key) {
                if record.pid.map(|p| p.monitor_pid) == Some(monitor_pid) {
                    record.exit = Some(exit);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gat_adaptor::ExitStatus;

    #[test]
    fn starts_and_exits_fold_by_key_and_run() {
        let dir = tempfile::tempdir().unwrap();
        let book = RecordBook::default();
        let job = dir.path().join("jobs").join("a job");
        let log = book.log_for(&job).unwrap();
        let key = String::from_utf8(key_of(&job)).unwrap();
        assert_eq!(key, "a\\sjob");
        let mut w = fs::OpenOptions::new().append(true).open(log.path()).unwrap();
        use std::io::Write;
        write!(w, "S {key} 10 11 500 5000 /work/with space\nE {key} 99 exited 3\n").unwrap();
        let rec = book.read(&job).unwrap().unwrap();
        assert_eq!(rec.pid.unwrap().job_pid, 11);
        assert_eq!(rec.workdir.as_deref(), Some(Path::new("/work/with space")));
        assert_eq!(rec.exit, None, "an exit of another run does not count");
        // Half a line is not read yet.
        write!(w, "E {key} 10 signaled 9 sto").unwrap();
        assert_eq!(book.read_exit(&job).unwrap(), None);
        writeln!(w, "pped").unwrap();
        let exit = book.read_exit(&job).unwrap().unwrap();
        assert_eq!(exit.status, ExitStatus::Signaled(9));
        assert!(exit.stopped);
        // A restart in place replaces the run.
        writeln!(w, "S {key} 20 21 600 5000 /w").unwrap();
        let rec = book.read(&job).unwrap().unwrap();
        assert_eq!((rec.pid.unwrap().monitor_pid, rec.exit), (20, None));
        assert_eq!(book.read(&dir.path().join("jobs").join("other")).unwrap(), None);
    }

    #[test]
    fn an_older_versions_pid_file_is_still_read() {
        let dir = tempfile::tempdir().unwrap();
        let job = dir.path().join("jobs").join("old");
        fs::create_dir_all(&job).unwrap();
        fs::write(job.join("pid"), "10 11 500 5000\n/old/work\nexited 7\n").unwrap();
        let book = RecordBook::default();
        let rec = book.read(&job).unwrap().unwrap();
        assert_eq!(rec.pid.unwrap().job_pid, 11);
        assert_eq!(book.read_workdir(&job).unwrap(), Path::new("/old/work"));
        assert_eq!(rec.exit.unwrap().status, ExitStatus::Exited(7));
    }

    #[test]
    fn a_large_log_starts_a_generation_and_older_ones_are_still_read() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let area = dir.path().join("jobs");
        let (old_job, new_job) = (area.join("old"), area.join("new"));
        let first = RecordBook::rotating_at(64);
        let log = first.log_for(&old_job).unwrap();
        // A monitor's descriptor, held across the rotation.
        let mut monitor = fs::File::from(log.writer().unwrap());
        write!(monitor, "S old 10 11 500 5000 /w\n{}\n", "#".repeat(80)).unwrap();
        // Another process opens the area: the log is past 64 bytes and becomes a generation.
        let second = RecordBook::rotating_at(64);
        let fresh = second.log_for(&new_job).unwrap();
        let mut w = fs::OpenOptions::new().append(true).open(fresh.path()).unwrap();
        writeln!(w, "S new 20 21 600 5000 /w").unwrap();
        let names: Vec<String> =
            fs::read_dir(&area).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(names.iter().any(|n| is_generation(n)), "{names:?}");
        assert_eq!(second.read_pid(&new_job).unwrap().unwrap().job_pid, 21);
        assert_eq!(second.read_pid(&old_job).unwrap().unwrap().job_pid, 11);
        assert_eq!(second.read_exit(&old_job).unwrap(), None);
        // The old monitor's exit line lands in the generation it holds, and is found there.
        writeln!(monitor, "E old 10 exited 0").unwrap();
        assert_eq!(second.read_exit(&old_job).unwrap().unwrap().status, ExitStatus::Exited(0));
    }
}
