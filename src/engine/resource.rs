//! Hardware resources: where jobs run.

use gat_adaptor::AttrValue;

use super::config::{LOAD_CHECKPOINT, LOAD_SCHED, LOAD_STOP};
use super::value::{Table, Value};

/// A resource offered by an adaptor, as the C API sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct HardwareResource {
    pub resource: gat_adaptor::Resource,
}

impl HardwareResource {
    pub fn name(&self) -> &str {
        &self.resource.name
    }

    /// The attributes table: the c-api.md section 6 keys the resource knows (numbers as doubles,
    /// text as strings), `load.average` when measured, and `load.sched`, `load.stop`,
    /// `load.checkpoint` where configured.
    pub fn description(&self) -> Table {
        let mut t = Table::new();
        for (key, value) in &self.resource.attributes {
            let v = match value {
                AttrValue::Str(s) => Value::String(s.clone()),
                AttrValue::Num(n) => Value::Double(*n),
            };
            t.set(key, v);
        }
        if let Some(load) = self.resource.load.average {
            t.set("load.average", Value::Double(load));
        }
        // Thresholds are configured numbers; keep them doubles even if stored otherwise.
        for key in [LOAD_SCHED, LOAD_STOP, LOAD_CHECKPOINT] {
            if let Some(n) = self.resource.attributes.get(key).and_then(AttrValue::as_num) {
                t.set(key, Value::Double(n));
            }
        }
        t
    }
}
