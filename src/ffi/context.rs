//! GATContext. (Being written: the functions come with the value-objects work.)

use std::sync::{Arc, OnceLock};

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
