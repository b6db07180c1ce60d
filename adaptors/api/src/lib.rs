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

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

/// Called by an adaptor that pushes state changes (see [`Capabilities::push_events`]): the native
/// job whose state changed and its new state. Must be cheap and must not call back into the adaptor.
pub type EventSink = Arc<dyn Fn(&NativeJob, NativeState) + Send + Sync>;

/// A file being read off a job's host (see [`Adaptor::open_read`]): exactly [`size`] bytes,
/// then the end. A file that turns out shorter or longer than announced is a read error
/// (`UnexpectedEof` or `InvalidData`), never a silent short or long read; a read that gets no
/// byte before the adaptor's transfer deadline fails with `TimedOut`.
///
/// [`size`]: ReadStream::size
pub trait ReadStream: Read + Send {
    /// The file's size, known before its first byte is read.
    fn size(&self) -> u64;

    /// Once every byte was read: check that the transfer ended well (the remote side exited
    /// cleanly) and release what it held. Dropping a stream without finishing aborts it (every
    /// process it started is ended and reaped).
    fn finish(self: Box<Self>) -> Result<()>;
}

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

    /// Open `path` (relative to the job's working directory, or absolute) on the job's host for
    /// reading, as a stream of its bytes (see [`ReadStream`]). A missing or unreadable file is
    /// [`Error::FileOpen`] here.
    fn open_read(&self, job: &NativeJob, path: &Path) -> Result<Box<dyn ReadStream>>;

    /// Write the `size` bytes read from `from` as the file `dir/name` on resource `on` (a
    /// relative `dir` as in [`place`]), creating `dir` and `name`'s parent directories. The file
    /// appears under its name only once exactly `size` bytes arrived: a reader that fails, ends
    /// early or has more than `size` bytes makes this an error and leaves nothing under that
    /// name (an older file of that name stays). Bounded by the adaptor's transfer deadline.
    /// `from` is read to its end (one byte past `size`, to check it is the end) unless the
    /// write fails first.
    ///
    /// [`place`]: Adaptor::place
    fn write_from(&self, on: &Resource, dir: &Path, name: &Path, size: u64, from: &mut dyn Read) -> Result<()>;

    /// Register where pushed state changes go. Adaptors without push support keep nothing and
    /// return Ok; the engine then polls them.
    fn set_event_sink(&self, sink: EventSink) -> Result<()>;
}

/// Copy exactly `size` bytes from `from` to `to` in chunks of `chunk` bytes, then check that
/// `from` has nothing more: the shared core of [`Adaptor::write_from`]. An early end is
/// `UnexpectedEof`, a byte past `size` is `InvalidData`.
pub fn copy_exactly(from: &mut dyn Read, size: u64, to: &mut dyn std::io::Write, chunk: usize) -> std::io::Result<()> {
    use std::io::{Error as IoError, ErrorKind};
    let mut buf = vec![0u8; chunk.max(1)];
    let mut left = size;
    while left > 0 {
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = match from.read(&mut buf[..want]) {
            Ok(0) => {
                return Err(IoError::new(
                    ErrorKind::UnexpectedEof,
                    format!("the data ended after {} of {size} bytes", size - left),
                ))
            }
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        to.write_all(&buf[..n])?;
        left -= n as u64;
    }
    loop {
        match from.read(&mut buf[..1]) {
            Ok(0) => return Ok(()),
            Ok(_) => {
                return Err(IoError::new(ErrorKind::InvalidData, format!("the data goes on past the {size} bytes announced")))
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// A `name` for [`Adaptor::write_from`]: relative, not empty, no `..` or `.` components.
pub fn check_stream_name(name: &Path) -> Result<()> {
    use std::path::Component;
    let clean = !name.as_os_str().is_empty() && name.components().all(|c| matches!(c, Component::Normal(_)));
    if clean {
        Ok(())
    } else {
        Err(Error::InvalidSpec(format!("file name '{}' must be a relative path without '.' or '..'", name.display())))
    }
}
