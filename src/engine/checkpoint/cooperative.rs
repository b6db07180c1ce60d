//! The cooperative mechanism: ask a running job for its state (c-api.md section 7), wait until
//! the state is complete, and keep it as a new generation in the store.
//!
//! The job answers in one of two ways: it writes its state and goes on (the done file appears),
//! or it writes its state and exits (checkpoint-and-exit, as GNU Queue programs do). Its exit is
//! held back from the job's record while the request is open, so that an exit asked for is not
//! mistaken for the end of the job.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use gat_adaptor::{Adaptor, NativeJob, NativeState, Resource, Signal};

use super::manifest::Manifest;
use super::protocol::{DONE_FILE, RESTART_FILE, STATE_FILE};
use super::store::{CheckpointStore, PendingGeneration};
use crate::engine::core::Engine;
use crate::engine::error::{Error, Result};
use crate::engine::job::JobShared;
use crate::engine::value::now_seconds;

/// Generations kept per job: the newest and two to fall back on.
pub const GENERATIONS_KEPT: usize = 3;

/// How the job answered a checkpoint request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Answer {
    /// It saved its state and goes on (now frozen, if freezing was asked for).
    Continued { frozen: bool },
    /// It saved its state and exited; it must be restarted (in place, or elsewhere).
    Exited,
}

/// Where a fresh checkpoint's state is once `take_checkpoint` returns.
#[allow(clippy::large_enum_variant)] // one value per checkpoint, moved a few times
pub(crate) enum Collected {
    /// In the store, sealed (hashed), not yet published.
    Sealed(PendingGeneration),
    /// Still on the job's host, the job frozen: the caller streams it into the store and to a
    /// migration's target in one pass (`stream_checkpoint`), or collects it (`collect_left_state`).
    OnHost,
}

/// Clears the hold on the job's end when the checkpoint is over, however it ends; an end that
/// was held but is not the checkpoint's is then recorded as the job's real end.
struct Hold<'a> {
    engine: &'a Engine,
    job: &'a JobShared,
}

impl<'a> Hold<'a> {
    fn start(engine: &'a Engine, job: &'a JobShared) -> Self {
        job.ops.take_held();
        job.ops.holding.store(true, Ordering::SeqCst);
        engine.update_record(job, |r| r.checkpointing = true);
        Hold { engine, job }
    }
}

impl Drop for Hold<'_> {
    fn drop(&mut self) {
        self.job.ops.holding.store(false, Ordering::SeqCst);
        self.engine.update_record(self.job, |r| r.checkpointing = false);
        if let Some(end) = self.job.ops.take_held() {
            let native = self.job.native();
            self.engine.apply(self.job, end, Some(&native));
        }
    }
}

impl Engine {
    pub(crate) fn checkpoint_store(&self, id: &str) -> Result<CheckpointStore> {
        CheckpointStore::open(self.job_dir(id).join("ckpt"), GENERATIONS_KEPT)
    }

    /// Take a fresh checkpoint of `job`, which must be Running and checkpointable, as a sealed
    /// generation: the caller publishes it (`publish_checkpoint`), possibly while it copies the
    /// state elsewhere. With
    /// `freeze`, a job that goes on after saving is stopped (SIGSTOP) right away, so that it does
    /// no work past its state; the caller thaws or ends it. `on_freeze` runs just before.
    pub(crate) fn take_checkpoint(
        &self,
        job: &JobShared,
        freeze: bool,
        on_freeze: &mut dyn FnMut() -> Result<()>,
    ) -> Result<(PendingGeneration, Answer)> {
        match self.take_checkpoint_leaving(job, freeze, false, on_freeze)? {
            (Collected::Sealed(sealed), answer) => Ok((sealed, answer)),
            (Collected::OnHost, _) => Err(Error::Failed(format!("job {}: its checkpoint state was not collected", job.id))),
        }
    }

    /// `take_checkpoint`; with `leave_on_host`, the state of a job that answered and was frozen
    /// stays on its host (`Collected::OnHost`), for the caller to stream.
    pub(crate) fn take_checkpoint_leaving(
        &self,
        job: &JobShared,
        freeze: bool,
        leave_on_host: bool,
        on_freeze: &mut dyn FnMut() -> Result<()>,
    ) -> Result<(Collected, Answer)> {
        let sw = job.description.software.clone();
        let adaptor = job.adaptor.clone().ok_or_else(|| {
            Error::NotImplemented(format!("job {}: its adaptor is not available in this build", job.id))
        })?;
        let caps = adaptor.capabilities();
        if !(caps.checkpoint_primitives && caps.fetch && caps.signal) {
            return Err(Error::NotImplemented(format!(
                "the {} adaptor cannot checkpoint jobs yet",
                adaptor.name()
            )));
        }
        let timeout = Duration::from_secs_f64(sw.checkpoint_timeout);
        let deadline = Instant::now() + timeout;
        let native = job.native();
        let signal = sw.checkpoint_signal;
        // GNU Queue programs answer only by exiting; protocol programs may also go on.
        let gnu_queue = sw.restart_flag.is_some() || !sw.restart_files.is_empty();
        let hold = Hold::start(self, job);

        adaptor
            .remove(&native, &[PathBuf::from(STATE_FILE), PathBuf::from(DONE_FILE)])
            .map_err(|e| Error::from(e).context(format!("Checkpoint of job {}: clearing the last request", job.id)))?;
        self.deliver_request(job, &native, signal, deadline, timeout)?;
        let incoming = self.job_dir(&job.id).join("ckpt-incoming");
        let _ = fs::remove_dir_all(&incoming);
        fs::create_dir_all(&incoming).map_err(|e| Error::Io(format!("cannot create {}: {e}", incoming.display())))?;

        // Wait for the answer: the done file, or the job's exit.
        let mut pause = Duration::from_micros(500);
        let answer = loop {
            if let Some(end) = job.ops.take_held() {
                break Err(end);
            }
            if !gnu_queue && adaptor.fetch(&native, &[PathBuf::from(DONE_FILE)], &incoming).is_ok() {
                break Ok(());
            }
            if Instant::now() >= deadline {
                return Err(Error::Timeout(format!(
                    "Checkpoint of job {}: no state within {:.1} s of {:?} (checkpoint.timeout); the job runs on",
                    job.id,
                    timeout.as_secs_f64(),
                    signal
                )));
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(50));
        };
        let answer = match answer {
            Ok(()) if freeze => {
                on_freeze()?;
                adaptor.signal(&native, Signal::Stop).map_err(|e| {
                    Error::from(e).context(format!("Checkpoint of job {}: freezing it", job.id))
                })?;
                Answer::Continued { frozen: true }
            }
            Ok(()) => Answer::Continued { frozen: false },
            Err(end) => {
                if !matches!(end, NativeState::Finished { .. }) {
                    *job.ops.held.lock().unwrap_or_else(|e| e.into_inner()) = Some(end.clone());
                    return Err(Error::Failed(format!("job {} was lost while checkpointing: {end:?}", job.id)));
                }
                Answer::Exited
            }
        };
        if leave_on_host && answer == (Answer::Continued { frozen: true }) {
            let _ = fs::remove_dir_all(&incoming);
            drop(hold);
            return Ok((Collected::OnHost, answer));
        }
        let result = self.collect_state(job, &native, &incoming, gnu_queue);
        let _ = fs::remove_dir_all(&incoming);
        let sealed = match result {
            Ok(sealed) => sealed,
            Err(e) => {
                if answer == (Answer::Continued { frozen: true }) {
                    let _ = adaptor.signal(&native, Signal::Cont);
                }
                return Err(e);
            }
        };
        if answer == Answer::Exited {
            // The exit was the checkpoint's: it is not the job's end.
            job.ops.take_held();
        }
        drop(hold);
        Ok((Collected::Sealed(sealed), answer))
    }

    /// Collect a state `take_checkpoint_leaving` left on the frozen job's host (when it could
    /// not be streamed after all) as a sealed generation.
    pub(crate) fn collect_left_state(&self, job: &JobShared) -> Result<PendingGeneration> {
        let incoming = self.job_dir(&job.id).join("ckpt-incoming");
        let _ = fs::remove_dir_all(&incoming);
        fs::create_dir_all(&incoming).map_err(|e| Error::Io(format!("cannot create {}: {e}", incoming.display())))?;
        let result = self.collect_state(job, &job.native(), &incoming, false);
        let _ = fs::remove_dir_all(&incoming);
        result
    }

    /// Stream a state `take_checkpoint_leaving` left on the frozen job's host, in one pass, to
    /// `name` in `dir` on resource `on` (through `target`) and into a new generation of the
    /// job's store, hashed on the way. The generation is published (durable) whether or not the
    /// target got the state, as long as the store got all of it; the state is then removed from
    /// the job's host, as `take` does. Ok((manifest, what the target's write gave)).
    pub(crate) fn stream_checkpoint(
        &self,
        job: &JobShared,
        target: &dyn Adaptor,
        on: &Resource,
        dir: &Path,
    ) -> Result<(Manifest, Result<()>)> {
        let adaptor = job.adaptor.as_ref().ok_or_else(|| Error::NotImplemented(format!("job {}: no adaptor", job.id)))?;
        let native = job.native();
        let unreadable = |e: &dyn std::fmt::Display| {
            Error::CheckpointCorrupt(format!(
                "Checkpoint of job {}: the job answered but its state {STATE_FILE} cannot be read: {e}",
                job.id
            ))
        };
        let mut source = adaptor.open_read(&native, Path::new(STATE_FILE)).map_err(|e| unreadable(&e))?;
        let size = source.size();
        let store = self.checkpoint_store(&job.id)?;
        let mut pending = store.begin()?;
        let started = Instant::now();
        let placed = pending.stream_in(Path::new(RESTART_FILE), size, &mut source, |bytes| {
            target
                .write_from(on, dir, Path::new(RESTART_FILE), size, bytes)
                .map_err(|e| Error::from(e).context(format!("streaming job {}'s state to {}", job.id, on.name)))
        });
        let placed = placed.map_err(|e| {
            Error::CheckpointCorrupt(format!("Checkpoint of job {}: its state could not be stored: {e}", job.id))
        })?;
        source.finish().map_err(|e| unreadable(&e))?;
        tracing::debug!(target: "gat::migration", job = %job.id, "{size} bytes streamed to {} and the store in {:.3} s", on.name, started.elapsed().as_secs_f64());
        pending.seal(fresh_manifest(job))?;
        let manifest = self.publish_checkpoint(job, pending)?;
        tracing::debug!(target: "gat::migration", job = %job.id, "generation {} durable and published after {:.3} s", manifest.generation, started.elapsed().as_secs_f64());
        if let Err(e) = adaptor.remove(&native, &[PathBuf::from(STATE_FILE)]) {
            tracing::warn!(target: "gat::checkpoint", "job {}: the streamed state stays on its host: {e}", job.id);
        }
        Ok((manifest, placed))
    }

    /// Send the checkpoint signal once the job's main process handles it (a program that does
    /// not, or not yet, would be killed by it), retrying until the deadline.
    fn deliver_request(
        &self,
        job: &JobShared,
        native: &NativeJob,
        signal: Signal,
        deadline: Instant,
        timeout: Duration,
    ) -> Result<()> {
        let adaptor = job.adaptor.as_ref().expect("checked by the caller");
        loop {
            match adaptor.signal_if_caught(native, signal) {
                Ok(true) => return Ok(()),
                Ok(false) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
                Ok(false) => {
                    return Err(Error::Timeout(format!(
                        "Checkpoint of job {}: its program has no handler for {signal:?} after {:.1} s \
                         (checkpoint.timeout); the request was not sent and the job runs on untouched",
                        job.id,
                        timeout.as_secs_f64()
                    )))
                }
                Err(gat_adaptor::Error::NoSuchJob(m)) => {
                    return Err(Error::InvalidState(format!("Checkpoint of job {}: the job has ended ({m})", job.id)))
                }
                Err(e) => return Err(Error::from(e).context(format!("Checkpoint of job {}", job.id))),
            }
        }
    }

    /// Publish a sealed generation of `job` and record it as the job's newest checkpoint.
    pub(crate) fn publish_checkpoint(&self, job: &JobShared, sealed: PendingGeneration) -> Result<Manifest> {
        let manifest = sealed.publish()?;
        self.update_record(job, |r| {
            r.checkpoint_generation = manifest.generation.into();
            r.checkpoint_time = Some(manifest.time);
        });
        Ok(manifest)
    }

    /// Bring the state off the job's host, verify nothing is missing, and seal it as a new
    /// generation (hashed as it is moved in).
    fn collect_state(&self, job: &JobShared, native: &NativeJob, incoming: &Path, gnu_queue: bool) -> Result<PendingGeneration> {
        let sw = &job.description.software;
        let adaptor = job.adaptor.as_ref().expect("checked by the caller");
        let mut files: Vec<(PathBuf, PathBuf)> = Vec::new(); // (in incoming, in the generation)
        let state = PathBuf::from(STATE_FILE);
        // Taken, not copied: on this machine large state is renamed into the store.
        match adaptor.take(native, std::slice::from_ref(&state), incoming) {
            Ok(()) => files.push((incoming.join(STATE_FILE), PathBuf::from(RESTART_FILE))),
            Err(e) if !gnu_queue => {
                return Err(Error::CheckpointCorrupt(format!(
                    "Checkpoint of job {}: the job answered but its state {STATE_FILE} cannot be read: {e}",
                    job.id
                )))
            }
            Err(_) => {}
        }
        for rel in &sw.restart_files {
            let rel = PathBuf::from(rel);
            adaptor.fetch(native, std::slice::from_ref(&rel), incoming).map_err(|e| {
                Error::CheckpointCorrupt(format!(
                    "Checkpoint of job {}: its restart file {} cannot be read: {e}",
                    job.id,
                    rel.display()
                ))
            })?;
            files.push((incoming.join(&rel), rel));
        }
        if files.is_empty() {
            return Err(Error::CheckpointCorrupt(format!("Checkpoint of job {}: the job wrote no state", job.id)));
        }
        let store = self.checkpoint_store(&job.id)?;
        let mut pending = store.begin()?;
        for (from, rel) in &files {
            pending.move_in(rel, from)?;
        }
        pending.seal(fresh_manifest(job))?;
        Ok(pending)
    }
}

/// The manifest of a generation just collected from `job` where it runs now (`seal` fills in the
/// generation number and the files).
fn fresh_manifest(job: &JobShared) -> Manifest {
    Manifest {
        generation: 0,
        time: now_seconds(),
        mechanism: "cooperative".into(),
        source_resource: job.record().resource.clone(),
        restart_arguments: job.description.software.restart_flag.iter().cloned().collect(),
        files: Vec::new(),
    }
}
