//! Starting a run of a job on a resource: its first start, a restart in place after a
//! checkpoint-and-exit, and the start of a migrated job from a checkpoint. Checkpointable jobs
//! get their own working directory and the protocol's environment (docs/instrumenting.md).

use std::fs;
use std::path::{Path, PathBuf};

use gat_adaptor::{Adaptor, NativeJob, Resource};

use super::broker::job_spec;
use super::checkpoint::protocol::{DONE_FILE, PROTOCOL_DIR, RESTART_FILE, STATE_FILE};
use super::core::Engine;
use super::error::{Error, Result};
use super::instrumented::{ENV_CHECKPOINT_DONE, ENV_CHECKPOINT_FILE, ENV_CHECKPOINT_SIGNAL, ENV_RESTART_FILE};
use super::checkpoint::store::PendingGeneration;
use super::checkpoint::Manifest;
use super::job::JobShared;
use super::description::SoftwareDescription;

/// Where a restart's state comes from.
#[allow(clippy::large_enum_variant)] // one value per checkpoint, moved a few times
pub(crate) enum Restart<'a> {
    /// The newest good generation in the checkpoint store of job `from_job` (the job itself, or
    /// the job a migration comes from), verified while it is placed.
    FromStore { from_job: &'a str },
    /// A generation of `owner` just taken and sealed (hashed) but not yet published: it is made
    /// durable while it is placed, and published before the job starts. A migration of a frozen
    /// job uses this, so the copy to the target overlaps the fsync of the store.
    Fresh { owner: &'a JobShared, sealed: PendingGeneration },
    /// The state `owner` (frozen) just saved, still on its host: streamed from there to the
    /// target and into `owner`'s store in one pass (`Engine::stream_checkpoint`), published
    /// before the job starts. A migration between two hosts uses this, so the two network legs
    /// overlap instead of running one after the other.
    Stream { owner: &'a JobShared },
}

/// What a restart used: the generation, and the newer ones skipped as corrupt (with why).
#[derive(Debug, Clone, Default)]
pub(crate) struct Restarted {
    pub manifest: Option<Manifest>,
    pub skipped: Vec<String>,
}

impl Engine {
    /// The working directory libgat gives a job on `resource`: the one the description names;
    /// else, for a checkpointable job, a directory of its own (`<work area>/<id>` on a resource
    /// with a work area, `<state>/jobs/<id>/work` on this machine); else the adaptor's default.
    pub(crate) fn choose_workdir(&self, id: &str, sw: &SoftwareDescription, resource: &Resource) -> Result<Option<PathBuf>> {
        if let Some(dir) = &sw.directory {
            return Ok(Some(PathBuf::from(dir)));
        }
        if !sw.checkpointable {
            return Ok(None);
        }
        match (&resource.work_dir, resource.adaptor.as_str()) {
            (Some(area), _) => Ok(Some(area.join(id))),
            (None, "local") => Ok(Some(self.job_dir(id).join("work"))),
            (None, adaptor) => Err(Error::NotCheckpointable(format!(
                "resource '{}' ({adaptor}) has no work area for the job's checkpoint files: configure its work_dir",
                resource.name
            ))),
        }
    }

    /// Start a run of job `id`. A checkpointable job gets the protocol's files and environment;
    /// with `restart`, the newest good checkpoint is placed into the working directory first and
    /// the job resumes from it (its restart file, its restart arguments).
    pub(crate) fn launch(
        &self,
        adaptor: &dyn Adaptor,
        id: &str,
        sw: &SoftwareDescription,
        resource: &Resource,
        workdir: Option<&Path>,
        restart: Option<Restart<'_>>,
    ) -> Result<(NativeJob, Restarted)> {
        let mut restart = restart;
        let launched = self.launch_with(adaptor, id, sw, resource, workdir, &mut restart);
        // A fresh state not consumed (the launch failed before placing it) is still published:
        // it is the job's newest checkpoint whatever happens to this launch.
        match restart {
            Some(Restart::Fresh { owner, sealed }) => {
                self.publish_checkpoint(owner, sealed)?;
            }
            Some(Restart::Stream { owner }) => {
                let collected = self.collect_left_state(owner).and_then(|sealed| self.publish_checkpoint(owner, sealed));
                if let Err(e) = collected {
                    tracing::warn!(target: "gat::checkpoint", "job {}: its fresh state could not be kept: {e}", owner.id);
                }
            }
            _ => {}
        }
        launched
    }

    fn launch_with(
        &self,
        adaptor: &dyn Adaptor,
        id: &str,
        sw: &SoftwareDescription,
        resource: &Resource,
        workdir: Option<&Path>,
        restart: &mut Option<Restart<'_>>,
    ) -> Result<(NativeJob, Restarted)> {
        let mut spec = job_spec(id, sw, self.job_dir(id))?;
        if let Some(dir) = workdir {
            spec.directory = Some(dir.to_owned());
        }
        // A relative program path like `./sim` names a file beside the submitting program when
        // the description gives no directory (libgat may have chosen one the job runs in).
        if resource.adaptor == "local" && sw.directory.is_none() && sw.location.contains('/') {
            let program = Path::new(&sw.location);
            if program.is_relative() {
                if let Ok(cwd) = std::env::current_dir() {
                    spec.executable = cwd.join(program).to_string_lossy().into_owned();
                }
            }
        }
        let mut restarted = Restarted::default();
        if sw.checkpointable {
            let dir = workdir.ok_or_else(|| Error::Failed(format!("job {id}: no working directory chosen")))?;
            spec.workdir_env.push((ENV_CHECKPOINT_FILE.into(), STATE_FILE.into()));
            spec.workdir_env.push((ENV_CHECKPOINT_DONE.into(), DONE_FILE.into()));
            spec.environment.push((ENV_CHECKPOINT_SIGNAL.into(), sw.checkpoint_signal.number().to_string()));
            // The protocol directory, so the job can write its state there.
            let staging = self.job_dir(id).join("launch");
            let placed = make_protocol_dir(&staging).and_then(|_| place_into(adaptor, resource, &staging, dir, id));
            let _ = fs::remove_dir_all(&staging);
            placed?;
            if let Some(r) = restart.take() {
                let manifest = match r {
                    Restart::FromStore { from_job } => {
                        self.place_checkpoint(adaptor, resource, dir, id, from_job, &mut restarted.skipped)?
                    }
                    Restart::Fresh { owner, sealed } => self.place_fresh(adaptor, resource, dir, id, owner, sealed)?,
                    Restart::Stream { owner } => {
                        let started = std::time::Instant::now();
                        let (manifest, placed) = self.stream_checkpoint(owner, adaptor, resource, dir)?;
                        tracing::debug!(target: "gat::launch", "job {id}: generation {} streamed and published in {:.3} s", manifest.generation, started.elapsed().as_secs_f64());
                        placed.map_err(|e| e.context(format!("placing job {id}'s state in {}", dir.display())))?;
                        manifest
                    }
                };
                if manifest.files.iter().any(|f| f.path == RESTART_FILE) {
                    spec.workdir_env.push((ENV_RESTART_FILE.into(), RESTART_FILE.into()));
                }
                spec.arguments.extend(manifest.restart_arguments.iter().cloned());
                restarted.manifest = Some(manifest);
            }
        }
        let started = std::time::Instant::now();
        let native = adaptor.submit(&spec, resource).map_err(Error::from)?;
        tracing::debug!(target: "gat::launch", "job {id}: submitted in {:.3} s", started.elapsed().as_secs_f64());
        Ok((native, restarted))
    }

    /// Place a sealed generation into `dir` while it is made durable, then publish it; it is
    /// published even when the placing fails (the state is safe in the store either way).
    fn place_fresh(
        &self,
        adaptor: &dyn Adaptor,
        resource: &Resource,
        dir: &Path,
        id: &str,
        owner: &JobShared,
        mut sealed: PendingGeneration,
    ) -> Result<Manifest> {
        let files = sealed.files_dir();
        let started = std::time::Instant::now();
        let (durable, placed) = std::thread::scope(|scope| {
            let durable = scope.spawn(|| sealed.make_durable());
            let placed = place_into(adaptor, resource, &files, dir, id);
            let durable = durable
                .join()
                .unwrap_or_else(|_| Err(Error::Failed("making the checkpoint durable panicked".into())));
            (durable, placed)
        });
        durable?;
        let manifest = self.publish_checkpoint(owner, sealed)?;
        tracing::debug!(target: "gat::launch", "job {id}: fresh generation {} placed and published in {:.3} s", manifest.generation, started.elapsed().as_secs_f64());
        placed?;
        Ok(manifest)
    }

    /// Place the newest good generation of `from_job`'s checkpoints into `dir`. Its hashes are
    /// checked while it is copied (both read the same bytes, so the check costs no extra pass
    /// over the disk); a generation that fails is skipped for the one before it, and the job is
    /// started only from a generation that verified. GAT_NO_CHECKPOINT when there is none,
    /// GAT_CHECKPOINT_CORRUPT when none verifies.
    fn place_checkpoint(
        &self,
        adaptor: &dyn Adaptor,
        resource: &Resource,
        dir: &Path,
        id: &str,
        from_job: &str,
        skipped: &mut Vec<String>,
    ) -> Result<Manifest> {
        let store = self.checkpoint_store(from_job)?;
        let generations = store.generations()?;
        if generations.is_empty() {
            return Err(Error::NoCheckpoint(format!("job {from_job} has no checkpoint to restart from")));
        }
        for &generation in generations.iter().rev() {
            let files = store.files_dir(generation);
            let started = std::time::Instant::now();
            let (placed, verified) = std::thread::scope(|scope| {
                let check = scope.spawn(|| store.verify(generation));
                let placed = place_into(adaptor, resource, &files, dir, id);
                let verified = check
                    .join()
                    .unwrap_or_else(|_| Err(Error::Failed("the checkpoint verification panicked".into())));
                (placed, verified)
            });
            tracing::debug!(target: "gat::launch", "job {id}: generation {generation} placed and verified in {:.3} s", started.elapsed().as_secs_f64());
            match verified {
                Ok(manifest) => {
                    placed?;
                    return Ok(manifest);
                }
                Err(e) => {
                    tracing::warn!(target: "gat::checkpoint", "job {from_job}: skipping a corrupt checkpoint: {e}");
                    skipped.push(e.to_string());
                }
            }
        }
        Err(Error::CheckpointCorrupt(format!(
            "every checkpoint of job {from_job} failed verification: {}",
            skipped.join("; ")
        )))
    }
}

fn place_into(adaptor: &dyn Adaptor, resource: &Resource, from: &Path, dir: &Path, id: &str) -> Result<()> {
    adaptor
        .place(resource, from, dir)
        .map_err(|e| Error::from(e).context(format!("placing job {id}'s files in {}", dir.display())))
}

fn make_protocol_dir(staging: &Path) -> Result<()> {
    let _ = fs::remove_dir_all(staging);
    fs::create_dir_all(staging.join(PROTOCOL_DIR))
        .map_err(|e| Error::Io(format!("cannot prepare {}: {e}", staging.display())))
}
