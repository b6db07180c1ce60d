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
        Ok(self.engine.get_or_init(|| e).clone())
    }
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
