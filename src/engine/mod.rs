//! The safe engine: descriptions, resource choice, job tracking, the journal and (later)
//! checkpoints and migration. No `unsafe`, no C types: `src/ffi` is the only door in from C.
#![forbid(unsafe_code)]

mod error;
pub mod value;
pub mod preferences;
pub mod description;
pub mod resource;
pub mod core;
pub mod broker;
pub mod job;
pub mod journal;
pub mod checkpoint;
pub mod instrumented;
mod launch;
pub mod logging;
mod migration;
pub mod config;
pub mod ssh;
pub mod tablecodec;
mod tracking;

pub use error::{Error, Result};
pub use value::{ObjectValue, Table, Value};
pub use preferences::Preferences;
pub use description::{HardwareDescription, JobDescription, ResourceChoice, SoftwareDescription};
pub use resource::HardwareResource;
pub use self::core::Engine;
pub use broker::Broker;
pub use job::{Job, JobState};
