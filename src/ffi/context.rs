//! GATContext: the handle every broker and job call starts from.

use std::sync::{Arc, OnceLock};

use super::boundary;
use super::handle::{Body, Obj};
use super::types::{GATContext, GATType};
use crate::engine::{Engine, Result};

/// A context opens the shared engine lazily, on first use by a broker or job call, so that
/// GATContext_Create itself cannot fail for want of a state directory.
pub(crate) struct ContextObj {
    engine: OnceLock<Arc<Engine>>,
}

impl ContextObj {
    pub(crate) fn new() -> Self {
        ContextObj { engine: OnceLock::new() }
    }

    pub(crate) fn engine(&self) -> Result<Arc<Engine>> {
        if let Some(e) = self.engine.get() {
            return Ok(e.clone());
        }
        let e = Engine::shared()?;
        flush_journals_at_exit();
        Ok(self.engine.get_or_init(|| e).clone())
    }
}

/// Once per process: when the program exits normally (exit(3), or main returns), the journal
/// rows the shared engines hold back are written (`Engine::flush_shared`).
fn flush_journals_at_exit() {
    static REGISTERED: std::sync::Once = std::sync::Once::new();
    static OWNER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    extern "C" fn at_exit() {
        // A child the program forked (and that exits without exec) has copies of the engines,
        // whose locks another thread may have held at the fork: only the process that opened
        // them writes.
        if OWNER.load(std::sync::atomic::Ordering::SeqCst) != std::process::id() {
            return;
        }
        // Nothing may unwind into libc.
        let _ = std::panic::catch_unwind(Engine::flush_shared);
    }
    REGISTERED.call_once(|| {
        OWNER.store(std::process::id(), std::sync::atomic::Ordering::SeqCst);
        // SAFETY: registers a function without arguments that catches every panic.
        if unsafe { libc::atexit(at_exit) } != 0 {
            tracing::warn!(target: "gat::engine", "cannot register the journal's flush at exit");
        }
    });
}

/// Create a GAT context. The caller owns it and releases it with GATContext_Destroy(). Cheap and
/// never fails for lack of configuration: the engine (state directory, configured resources) is
/// opened on first use by a broker or job call, and errors surface there.
#[no_mangle]
pub extern "C" fn GATContext_Create() -> GATContext {
    boundary::create("GATContext_Create", || Ok(Obj::new(Body::Context(ContextObj::new()))))
}

/// Release a context and set `*context` to NULL. NULL and `*context == NULL` are accepted.
/// Brokers, jobs and descriptions made with it stay usable.
#[no_mangle]
pub unsafe extern "C" fn GATContext_Destroy(context: *mut GATContext) {
    boundary::destroy("GATContext_Destroy", context, GATType::GATType_GATContext)
}
