//! GATTable. (Being written.)

use std::sync::Mutex;

use crate::engine::Table;

pub(crate) struct TableObj {
    pub(crate) table: Mutex<Table>,
}

impl TableObj {
    pub(crate) fn new(table: Table) -> Self {
        TableObj { table: Mutex::new(table) }
    }

    /// A copy of the current contents.
    pub(crate) fn snapshot(&self) -> Table {
        self.table.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}
