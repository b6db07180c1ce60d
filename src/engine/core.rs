//! The engine: adaptors, the journal and the live jobs of one state directory.

use std::sync::Arc;

use super::error::{Error, Result};

pub struct Engine {}

impl Engine {
    /// The engine for the state directory the environment names (`$GAT_STATE_DIR`, else
    /// `$XDG_STATE_HOME/gat`, else `~/.local/state/gat`), shared by every context.
    pub fn shared() -> Result<Arc<Engine>> {
        Err(Error::NotImplemented("engine: being written".into()))
    }
}
