//! Software, hardware and job descriptions: GAT tables checked and turned into typed values once,
//! at creation, so a malformed description fails at `_Create` with a clear reason.

use std::collections::BTreeMap;
use std::sync::Arc;

use gat_adaptor::AttrValue;

use super::error::Result;
use super::resource::HardwareResource;
use super::value::Table;

/// How the job may be checkpointed (c-api.md section 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CheckpointMode {
    #[default]
    Cooperative,
    Transparent,
    Auto,
}

/// A checked software description (c-api.md section 6).
#[derive(Debug, Clone, PartialEq)]
pub struct SoftwareDescription {
    /// `location`: the program (a path, a `file:` URI reduced to its path, or a bare name to look
    /// up in PATH).
    pub location: String,
    pub arguments: Vec<String>,
    pub environment: Vec<(String, String)>,
    pub stdin: Option<String>,
    pub stdout: Option<String>,
    pub stderr: Option<String>,
    /// `directory` (ext): the working directory.
    pub directory: Option<String>,
    /// `pre-staged files`: each entry `SRC` (copied into the working directory under its own
    /// name) or `SRC => DEST` (DEST relative to the working directory).
    pub pre_staged: Vec<(String, String)>,
    /// `post-staged files`: each entry `SRC` (relative to the working directory, copied back to
    /// the submitting process's current directory) or `SRC => DEST`.
    pub post_staged: Vec<(String, String)>,
    /// `checkpointable` = 1: the program follows the instrumented-job protocol.
    pub checkpointable: bool,
    pub checkpoint_signal: gat_adaptor::Signal,
    pub restart_flag: Option<String>,
    pub restart_files: Vec<String>,
    pub checkpoint_mode: CheckpointMode,
    /// Seconds to wait for a checkpoint.
    pub checkpoint_timeout: f64,
    /// The table as given, for GetJobDescription round trips.
    pub table: Table,
}

/// A checked hardware resource description: the attributes a resource must match.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HardwareDescription {
    pub attributes: BTreeMap<String, AttrValue>,
    pub table: Table,
}

/// Where a job should run.
#[derive(Debug, Clone)]
pub enum ResourceChoice {
    /// A concrete resource the caller picked.
    Resource(Arc<HardwareResource>),
    /// A description the broker matches.
    Description(Arc<HardwareDescription>),
}

/// A software description plus where to run it (None: the broker chooses).
#[derive(Debug, Clone)]
pub struct JobDescription {
    pub software: Arc<SoftwareDescription>,
    pub resource: Option<ResourceChoice>,
}
