//! The job side of the instrumented-job protocol (c-api.md section 7), for programs that link
//! libgat. libgat tells a checkpointable job, through its environment:
//! - `GAT_JOB_ID`: its job id;
//! - `GAT_CHECKPOINT_FILE`: where to write its state when asked;
//! - `GAT_CHECKPOINT_DONE`: a file to create once that state is completely written (or the job
//!   simply exits after writing it: checkpoint-and-exit, as GNU Queue programs do);
//! - `GAT_CHECKPOINT_SIGNAL`: the signal that asks for a checkpoint (default SIGUSR2);
//! - `GAT_RESTART_FILE`: on a restart, the state to resume from.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;

use super::error::{Error, Result};

pub const ENV_JOB_ID: &str = "GAT_JOB_ID";
pub const ENV_CHECKPOINT_FILE: &str = "GAT_CHECKPOINT_FILE";
pub const ENV_CHECKPOINT_DONE: &str = "GAT_CHECKPOINT_DONE";
pub const ENV_CHECKPOINT_SIGNAL: &str = "GAT_CHECKPOINT_SIGNAL";
pub const ENV_RESTART_FILE: &str = "GAT_RESTART_FILE";

fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from)
}

/// The checkpoint signal this job was given, as a number (SIGUSR2 when unset or unreadable).
pub fn checkpoint_signal() -> i32 {
    std::env::var(ENV_CHECKPOINT_SIGNAL)
        .ok()
        .and_then(|s| gat_adaptor::Signal::parse(&s))
        .unwrap_or(gat_adaptor::Signal::Usr2)
        .number()
}

/// True when this process runs as a checkpointable libgat job.
pub fn is_checkpointable_job() -> bool {
    env_path(ENV_CHECKPOINT_FILE).is_some()
}

pub fn restart_file() -> Option<PathBuf> {
    env_path(ENV_RESTART_FILE)
}

pub fn checkpoint_file() -> Option<PathBuf> {
    env_path(ENV_CHECKPOINT_FILE)
}

/// The program has written its state to the checkpoint file: make it durable and tell libgat.
pub fn checkpoint_done() -> Result<()> {
    let state = checkpoint_file().ok_or_else(|| {
        Error::InvalidState(format!("not running as a checkpointable libgat job ({ENV_CHECKPOINT_FILE} is not set)"))
    })?;
    let done = env_path(ENV_CHECKPOINT_DONE).unwrap_or_else(|| {
        let mut p = state.clone().into_os_string();
        p.push(".done");
        PathBuf::from(p)
    });
    let f = File::open(&state).map_err(|e| {
        Error::FileOpen(format!("the checkpoint state {} cannot be opened ({e}): write it before calling GATSelf_CheckpointDone", state.display()))
    })?;
    f.sync_all().map_err(|e| Error::Io(format!("fsync {}: {e}", state.display())))?;
    let mut marker = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(&done)
        .map_err(|e| Error::Io(format!("cannot create {}: {e}", done.display())))?;
    marker
        .write_all(b"done\n")
        .and_then(|_| marker.sync_all())
        .map_err(|e| Error::Io(format!("cannot write {}: {e}", done.display())))?;
    // Make the marker's name durable too, so a crash right now cannot un-publish the state.
    if let Some(dir) = done.parent() {
        let _ = fs::File::open(dir).and_then(|d| d.sync_all());
    }
    Ok(())
}
