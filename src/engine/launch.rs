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
use super::checkpoint::Manifest;
use super::description::SoftwareDescription;

/// A restart from the checkpoint store of job `from_job` (the job itself, or the job a
/// migration comes from).
#[derive(Clone, Copy)]
pub(crate) struct Restart<'a> {
    pub from_job: &'a str,
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
            if let Some(r) = restart {
                let manifest = self.place_checkpoint(adaptor, resource, dir, id, r.from_job, &mut restarted.skipped)?;
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
