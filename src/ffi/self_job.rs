//! GATSelf_*: helpers for programs that run as libgat jobs and follow the instrumented-job
//! protocol (c-api.md section 7). When such a program starts (libgat set GAT_CHECKPOINT_FILE
//! in its environment), a constructor installs a handler for the checkpoint signal at load time,
//! before main(), so an early checkpoint request is recorded instead of ending the program.

use std::ffi::{c_char, c_int, CString};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use super::boundary;
use super::types::{GATBool, GATResult, GATFalse, GATTrue};
use crate::engine::instrumented;

static CHECKPOINT_REQUESTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_checkpoint_signal(_: c_int) {
    // Async-signal-safe: one atomic store.
    CHECKPOINT_REQUESTED.store(true, Ordering::SeqCst);
}

fn install_handler() {
    if !instrumented::is_checkpointable_job() {
        return;
    }
    let signal = instrumented::checkpoint_signal();
    // SAFETY: a zeroed sigaction is a valid "no flags, empty mask" value; the handler only does an
    // atomic store; SA_RESTART keeps the program's blocking calls from failing with EINTR.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_checkpoint_signal as extern "C" fn(c_int) as usize;
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(signal, &action, std::ptr::null_mut());
    }
}

extern "C" fn gat_self_init() {
    let _ = std::panic::catch_unwind(install_handler);
}

// Runs when libgat is loaded, before the program's main().
#[used]
#[link_section = ".init_array"]
static GAT_SELF_INIT: extern "C" fn() = gat_self_init;

fn cached(cell: &'static OnceLock<Option<CString>>, value: impl FnOnce() -> Option<std::path::PathBuf>) -> *const c_char {
    cell.get_or_init(|| value().map(|p| boundary::c_string(&p.to_string_lossy())))
        .as_ref()
        .map_or(std::ptr::null(), |c| c.as_ptr())
}

/// GATTrue when this run resumes from a checkpoint (GAT_RESTART_FILE is set).
#[no_mangle]
pub extern "C" fn GATSelf_IsRestart() -> GATBool {
    if instrumented::restart_file().is_some() { GATTrue } else { GATFalse }
}

/// The state file to resume from, or NULL when this run is not a restart. Owned by libgat;
/// valid for the life of the process.
#[no_mangle]
pub extern "C" fn GATSelf_RestartFile() -> *const c_char {
    static CELL: OnceLock<Option<CString>> = OnceLock::new();
    cached(&CELL, instrumented::restart_file)
}

/// Where to write the next checkpoint state, or NULL when this program does not run as a
/// checkpointable libgat job. Owned by libgat; valid for the life of the process.
#[no_mangle]
pub extern "C" fn GATSelf_CheckpointFile() -> *const c_char {
    static CELL: OnceLock<Option<CString>> = OnceLock::new();
    cached(&CELL, instrumented::checkpoint_file)
}

/// GATTrue when a checkpoint has been asked for (the checkpoint signal arrived) and
/// GATSelf_CheckpointDone() has not been called since. Cheap: poll it in the main loop.
#[no_mangle]
pub extern "C" fn GATSelf_CheckpointRequested() -> GATBool {
    if CHECKPOINT_REQUESTED.load(Ordering::SeqCst) { GATTrue } else { GATFalse }
}

/// The state is completely written to GATSelf_CheckpointFile(): make it durable, publish it to
/// libgat and clear the request. The program then goes on (or exits, if it prefers).
/// Results: GAT_SUCCESS; GAT_INVALID_STATE when not running as a checkpointable libgat job;
/// GAT_FILE_OPEN_ERROR when the state file is missing; GAT_IO_ERROR when it cannot be synced.
#[no_mangle]
pub extern "C" fn GATSelf_CheckpointDone() -> GATResult {
    boundary::call("GATSelf_CheckpointDone", || {
        instrumented::checkpoint_done()?;
        CHECKPOINT_REQUESTED.store(false, Ordering::SeqCst);
        Ok(())
    })
}
