//! Hardware resources: where jobs run.

use super::value::Table;

/// A resource offered by an adaptor, as the C API sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct HardwareResource {
    pub resource: gat_adaptor::Resource,
}

impl HardwareResource {
    pub fn name(&self) -> &str {
        &self.resource.name
    }

    /// The attributes table (c-api.md section 6 keys plus load.*); filled by the engine work.
    pub fn description(&self) -> Table {
        Table::new()
    }
}
