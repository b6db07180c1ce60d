//! File staging: pre-staging before the job starts, post-staging once it ended, local copies for
//! fetch and place.
//!
//! Post-staging must happen exactly once, whichever process notices the end first (the submitting
//! process's watcher, or a later process that re-attached and polls). The list lives in
//! `<job_dir>/post-stage`; a process claims the work by creating `post-stage.claim` with O_EXCL,
//! copies, records failures in `post-stage-error` and finally creates `post-staged`. Others wait
//! (bounded) for `post-staged`.

use std::ffi::OsStr;
use std::fs;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use gat_adaptor::{Error, Result, StageEntry};

use crate::jobfiles::{write_atomic, POST_STAGE_FILE};

const CLAIM: &str = "post-stage.claim";
const DONE: &str = "post-staged";
const ERROR_FILE: &str = "post-stage-error";
/// How long a process waits for another one that claimed the post-staging.
const CLAIM_WAIT: Duration = Duration::from_secs(10);

/// Copy a file, or a directory recursively, creating the destination's parents.
pub fn copy_path(src: &Path, dst: &Path) -> io::Result<()> {
    let meta = fs::metadata(src)?;
    if meta.is_dir() {
        fs::create_dir_all(dst)?;
        for entry in fs::read_dir(src)? {
            let entry = entry?;
            copy_path(&entry.path(), &dst.join(entry.file_name()))?;
        }
        Ok(())
    } else {
        if let Some(parent) = dst.parent() {
            if !parent.as_os_str().is_empty() {
                fs::create_dir_all(parent)?;
            }
        }
        fs::copy(src, dst).map(|_| ())
    }
}

/// Map a copy failure to the adaptor error, naming both ends.
fn copy_error(what: &str, src: &Path, dst: &Path, e: io::Error) -> Error {
    let msg = format!("{what} {} -> {}: {e}", src.display(), dst.display());
    match e.kind() {
        io::ErrorKind::NotFound => Error::FileOpen(msg),
        io::ErrorKind::PermissionDenied => Error::PermissionDenied(msg),
        _ => Error::io(format!("{what} {} -> {}", src.display(), dst.display()), e),
    }
}

/// Copy pre-staged entries into the working directory (destinations relative to it).
pub fn pre_stage(entries: &[StageEntry], workdir: &Path) -> Result<()> {
    for entry in entries {
        let dst = workdir.join(&entry.destination);
        copy_path(&entry.source, &dst)
            .map_err(|e| copy_error("pre-staging", &entry.source, &dst, e))?;
    }
    Ok(())
}

/// Record the post-stage list with absolute paths: sources under the working directory,
/// relative destinations under the submitting process's current directory.
pub fn write_post_stage_list(job_dir: &Path, entries: &[StageEntry], workdir: &Path) -> Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let cwd = std::env::current_dir().map_err(|e| Error::io("reading the current directory", e))?;
    let mut text = Vec::new();
    for entry in entries {
        let src = workdir.join(&entry.source);
        let dst = cwd.join(&entry.destination);
        for p in [&src, &dst] {
            if p.as_os_str()
                .as_bytes()
                .iter()
                .any(|&b| b == b'\t' || b == b'\n')
            {
                return Err(Error::InvalidSpec(format!(
                    "post-staged path {} contains a tab or newline, which the local adaptor cannot record",
                    p.display()
                )));
            }
        }
        text.extend_from_slice(src.as_os_str().as_bytes());
        text.push(b'\t');
        text.extend_from_slice(dst.as_os_str().as_bytes());
        text.push(b'\n');
    }
    crate::make_job_dir(job_dir)?;
    write_atomic(job_dir, POST_STAGE_FILE, &text).map_err(|e| {
        Error::io(
            format!("writing {}", job_dir.join(POST_STAGE_FILE).display()),
            e,
        )
    })
}

fn read_post_stage_list(job_dir: &Path) -> io::Result<Vec<(PathBuf, PathBuf)>> {
    let bytes = match fs::read(job_dir.join(POST_STAGE_FILE)) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    Ok(bytes
        .split(|&b| b == b'\n')
        .filter_map(|line| {
            let tab = line.iter().position(|&b| b == b'\t')?;
            let (src, dst) = (&line[..tab], &line[tab + 1..]);
            Some((
                PathBuf::from(OsStr::from_bytes(src)),
                PathBuf::from(OsStr::from_bytes(dst)),
            ))
        })
        .collect())
}

/// Do the job's post-staging unless another process did or is doing it. Failures are recorded
/// in `post-stage-error`, never returned: the job's exit status stays what it was.
pub fn post_stage_once(job_dir: &Path) {
    let list = match read_post_stage_list(job_dir) {
        Ok(list) if list.is_empty() => return,
        Ok(list) => list,
        Err(e) => {
            record_error(job_dir, &format!("reading the post-stage list: {e}"));
            return;
        }
    };
    if job_dir.join(DONE).exists() {
        return;
    }
    if !claim(job_dir) {
        return;
    }
    let mut failures = Vec::new();
    for (src, dst) in &list {
        if let Err(e) = copy_path(src, dst) {
            failures.push(format!("{} -> {}: {e}", src.display(), dst.display()));
        }
    }
    if !failures.is_empty() {
        record_error(
            job_dir,
            &format!("post-staging failed: {}", failures.join("; ")),
        );
    }
    if let Err(e) = fs::File::create(job_dir.join(DONE)) {
        tracing::warn!(job_dir = %job_dir.display(), "cannot mark post-staging done: {e}");
    }
}

/// Claim the post-staging of `job_dir`. False when another live process has it (then this one
/// waited, bounded, for it to finish) or claiming failed (recorded).
fn claim(job_dir: &Path) -> bool {
    let claim_path = job_dir.join(CLAIM);
    // Two rounds: a claim left by a process that died is removed once and claimed afresh.
    for _ in 0..2 {
        match fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&claim_path)
        {
            Ok(mut f) => {
                let me = std::process::id() as i32;
                let start = crate::jobfiles::proc_stat(me)
                    .map(|st| st.start_ticks)
                    .unwrap_or(0);
                let _ = writeln!(f, "{me} {start}");
                return true;
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                if claimant_is_gone(&claim_path) {
                    let _ = fs::remove_file(&claim_path);
                    continue;
                }
                // Someone else copies; wait for them, bounded, so that "Finished" means
                // "outputs are there".
                let start = Instant::now();
                while !job_dir.join(DONE).exists()
                    && start.elapsed() < CLAIM_WAIT
                    && !claimant_is_gone(&claim_path)
                {
                    std::thread::sleep(Duration::from_millis(20));
                }
                return false;
            }
            Err(e) => {
                record_error(job_dir, &format!("claiming post-staging: {e}"));
                return false;
            }
        }
    }
    false
}

/// True when the process named in the claim file no longer runs (pid and start time), or the
/// claim stayed unreadable for longer than a writer needs.
fn claimant_is_gone(claim_path: &Path) -> bool {
    let text = fs::read_to_string(claim_path).unwrap_or_default();
    let mut words = text.split_whitespace().map(|w| w.parse::<u64>().ok());
    match (words.next().flatten(), words.next().flatten()) {
        (Some(pid), Some(start)) => match crate::jobfiles::proc_stat(pid as i32) {
            Some(st) => st.start_ticks != start || st.state == b'Z',
            None => true,
        },
        _ => fs::metadata(claim_path)
            .and_then(|m| m.modified())
            .map(|t| t.elapsed().unwrap_or_default() > Duration::from_secs(5))
            .unwrap_or(false),
    }
}

fn record_error(job_dir: &Path, text: &str) {
    tracing::warn!(job_dir = %job_dir.display(), "{text}");
    if let Err(e) = write_atomic(job_dir, ERROR_FILE, format!("{text}\n").as_bytes()) {
        tracing::warn!(job_dir = %job_dir.display(), "cannot record post-stage error: {e}");
    }
}

/// Copy `paths` (relative to `workdir`, or absolute) into `into`, keeping relative names
/// (absolute paths keep their file name).
pub fn fetch(workdir: &Path, paths: &[PathBuf], into: &Path) -> Result<()> {
    for p in paths {
        let src = workdir.join(p);
        let dst = into.join(gat_adaptor::fetched_name(p));
        copy_path(&src, &dst).map_err(|e| copy_error("fetching", &src, &dst, e))?;
    }
    Ok(())
}

/// Move `paths` (relative to `workdir`, or absolute) into `into`, keeping relative names: a
/// rename on the same file system, else a copy and a removal.
pub fn take(workdir: &Path, paths: &[PathBuf], into: &Path) -> Result<()> {
    for p in paths {
        let src = workdir.join(p);
        let dst = into.join(gat_adaptor::fetched_name(p));
        if let Some(parent) = dst.parent() {
            fs::create_dir_all(parent).map_err(|e| copy_error("taking", &src, &dst, e))?;
        }
        match fs::rename(&src, &dst) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EXDEV) => {
                copy_path(&src, &dst).map_err(|e| copy_error("taking", &src, &dst, e))?;
                fs::remove_file(&src).map_err(|e| copy_error("taking", &src, &dst, e))?;
            }
            Err(e) => return Err(copy_error("taking", &src, &dst, e)),
        }
    }
    Ok(())
}

/// Copy the contents of `files` into `dir`, creating `dir`.
pub fn place(files: &Path, dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).map_err(|e| copy_error("placing", files, dir, e))?;
    let entries = fs::read_dir(files).map_err(|e| copy_error("placing", files, dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| copy_error("placing", files, dir, e))?;
        let dst = dir.join(entry.file_name());
        copy_path(&entry.path(), &dst)
            .map_err(|e| copy_error("placing", &entry.path(), &dst, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claim_left_by_a_dead_process_is_taken_over() {
        let dir = std::env::temp_dir().join(format!("gat-local-claim-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("work")).expect("mkdir");
        fs::write(dir.join("work/out.txt"), "result").expect("write");
        let entries = [StageEntry {
            source: "out.txt".into(),
            destination: dir.join("dest/out.txt"),
        }];
        write_post_stage_list(&dir, &entries, &dir.join("work")).expect("list");
        // No process has a pid this high (pid_max is at most 2^22): the claimant is gone.
        fs::write(dir.join(CLAIM), "2147483000 5\n").expect("stale claim");
        let started = Instant::now();
        post_stage_once(&dir);
        assert!(started.elapsed() < CLAIM_WAIT, "waited for a dead claimant");
        assert_eq!(
            fs::read_to_string(dir.join("dest/out.txt")).expect("copied"),
            "result"
        );
        assert!(dir.join(DONE).exists());
        fs::remove_dir_all(&dir).expect("cleanup");
    }
}
