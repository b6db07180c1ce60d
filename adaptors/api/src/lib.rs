//! The adaptor interface of libgat.
//!
//! An adaptor gives the engine primitives on one kind of resource (this machine, an SSH host, a
//! Slurm cluster). The engine builds job tracking, checkpoint and migration from these primitives
//! once, so every adaptor gets the same guarantees. Adaptors know nothing of C handles, GATResult
//! codes or C strings.
//!
//! Rules for implementors:
//! - Every trait method is implemented on purpose; an operation the adaptor cannot do returns
//!   `Err(Error::unsupported("fetch"))` and its [`Capabilities`] flag stays false. The engine checks
//!   capabilities before it dispatches, so unsupported calls become `GAT_NOTIMPL` uniformly.
//! - No method blocks forever: every wait has a deadline.
//! - `poll` never guesses: when the state cannot be determined it answers [`NativeState::Unknown`]
//!   with the reason.
//! - The shared [`conformance`] suite must pass against the adaptor.

pub mod conformance;
mod error;
mod types;

pub use error::{Error, Result};
pub use types::*;

use std::path::Path;
use std::sync::Arc;

/// Called by an adaptor that pushes state changes (see [`Capabilities::push_events`]): the native
/// job whose state changed and its new state. Must be cheap and must not call back into the adaptor.
pub type EventSink = Arc<dyn Fn(&NativeJob, NativeState) + Send + Sync>;

/// One kind of resource. See the crate documentation for the rules.
pub trait Adaptor: Send + Sync {
    /// Short lowercase name, also the contact scheme (`local`, `ssh`, `slurm`).
    fn name(&self) -> &str;

    /// What this adaptor can do; the engine consults this before each dispatch.
    fn capabilities(&self) -> Capabilities;

    /// Resources this adaptor offers that could satisfy `req`, with attributes and current load.
    /// Filtering by attributes is the engine's job; an adaptor may pre-filter for speed.
    fn resources(&self, req: &Requirements) -> Result<Vec<Resource>>;

    /// The one resource this adaptor knows as `name_or_contact` (a configured name, or a contact
    /// of its scheme it was not configured with, such as a bare `ssh://user@host:port`), asking
    /// only that resource. Ok(None): no such direct lookup; the engine searches [`resources`].
    ///
    /// [`resources`]: Adaptor::resources
    fn resource_at(&self, name_or_contact: &str) -> Result<Option<Resource>>;

    /// Start `spec` on `on`. Returns once the job is known to the resource (started, or queued):
    /// a failure to start (missing executable, bad directory) is an error here, not a later state.
    fn submit(&self, spec: &JobSpec, on: &Resource) -> Result<NativeJob>;

    /// Current state of each job, in the same order. Batched: one query for many jobs.
    /// Jobs this adaptor instance did not submit (re-attached from the journal) must work too.
    fn poll(&self, jobs: &[&NativeJob]) -> Result<Vec<NativeState>>;

    /// Deliver a signal to the job (all of its processes where the resource allows).
    fn signal(&self, job: &NativeJob, sig: Signal) -> Result<()>;

    /// End the job and its whole process tree: TERM, a grace period, KILL. Returns when the job
    /// is gone (or the deadline passed: then an error says so). Stopping a finished job is Ok.
    fn stop(&self, job: &NativeJob) -> Result<()>;

    /// Copy `paths` (relative to the job's working directory, or absolute) off the job's host into
    /// the local directory `into`, keeping their relative names.
    fn fetch(&self, job: &NativeJob, paths: &[std::path::PathBuf], into: &Path) -> Result<()>;

    /// Move `paths` off the job's host into the local directory `into`: `fetch`, then remove
    /// them on the host. On this machine it is a rename, so large state is never copied.
    fn take(&self, job: &NativeJob, paths: &[std::path::PathBuf], into: &Path) -> Result<()>;

    /// Remove files on the job's host (relative to the job's working directory, or absolute).
    /// Files that do not exist are not an error.
    fn remove(&self, job: &NativeJob, paths: &[std::path::PathBuf]) -> Result<()>;

    /// Send `sig` to the job's main process only, and only when that process has a handler
    /// installed for it, so that a checkpoint request never kills a program that is not (yet)
    /// prepared for it. Ok(true): delivered; Ok(false): not caught (or ignored), not sent.
    fn signal_if_caught(&self, job: &NativeJob, sig: Signal) -> Result<bool>;

    /// Copy the contents of the local directory `files` into `dir` on resource `on`.
    fn place(&self, on: &Resource, files: &Path, dir: &Path) -> Result<()>;

    /// Register where pushed state changes go. Adaptors without push support keep nothing and
    /// return Ok; the engine then polls them.
    fn set_event_sink(&self, sink: EventSink) -> Result<()>;
}
