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
use super::description::SoftwareDescription;

/// A restart from a checkpoint generation.
pub(crate) struct Restart<'a> {
    /// The generation's files, laid out as they go into the job's working directory (the
    /// cooperative state is kept as the restart file).
    pub files: &'a Path,
    /// Appended to the job's arguments (GNU Queue's restart flag).
    pub arguments: &'a [String],
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
    /// with `restart`, its state is placed into the working directory first.
    pub(crate) fn launch(
        &self,
        adaptor: &dyn Adaptor,
        id: &str,
        sw: &SoftwareDescription,
        resource: &Resource,
        workdir: Option<&Path>,
        restart: Option<Restart<'_>>,
    ) -> Result<NativeJob> {
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
        if sw.checkpointable {
            let dir = workdir.ok_or_else(|| Error::Failed(format!("job {id}: no working directory chosen")))?;
            spec.workdir_env.push((ENV_CHECKPOINT_FILE.into(), STATE_FILE.into()));
            spec.workdir_env.push((ENV_CHECKPOINT_DONE.into(), DONE_FILE.into()));
            spec.environment.push((ENV_CHECKPOINT_SIGNAL.into(), sw.checkpoint_signal.number().to_string()));
            let place = |from: &Path| {
                adaptor
                    .place(resource, from, dir)
                    .map_err(|e| Error::from(e).context(format!("placing job {id}'s files in {}", dir.display())))
            };
            // The protocol directory, so the job can write its state there.
            let staging = self.job_dir(id).join("launch");
            let placed = make_protocol_dir(&staging).and_then(|_| place(&staging));
            let _ = fs::remove_dir_all(&staging);
            placed?;
            // A restart's state goes straight from the checkpoint store to the job: one copy.
            if let Some(r) = &restart {
                place(r.files)?;
                if r.files.join(RESTART_FILE).exists() {
                    spec.workdir_env.push((ENV_RESTART_FILE.into(), RESTART_FILE.into()));
                }
            }
            if let Some(r) = &restart {
                spec.arguments.extend(r.arguments.iter().cloned());
            }
        }
        adaptor.submit(&spec, resource).map_err(Error::from)
    }
}

fn make_protocol_dir(staging: &Path) -> Result<()> {
    let _ = fs::remove_dir_all(staging);
    fs::create_dir_all(staging.join(PROTOCOL_DIR))
        .map_err(|e| Error::Io(format!("cannot prepare {}: {e}", staging.display())))
}
