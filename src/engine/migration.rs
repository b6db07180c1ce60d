//! Checkpoint, restart, migration and cloning of jobs, built once on the adaptor primitives.
//!
//! Migration has two phases and never loses a job: (1) take a fresh checkpoint (the job is then
//! frozen, or has exited), verify it, pick the target, place the state there and start the job,
//! confirm that it runs; (2) commit: end the original for good and link the two. Any failure
//! before the commit rolls back: the original is thawed, or restarted where it was from the same
//! state. Every phase is journalled before it starts, so a process that dies in the middle leaves
//! an operation the next process to open the journal finishes or rolls back
//! (`Engine::recover_operations`).
//!
//! Between two resources that are not both this machine, the target is chosen before the
//! checkpoint, and the frozen job's state is left on its host. It is then streamed from there to
//! the target in one pass, hashed and written into the store on the way (`Restart::Stream`), so
//! the two network legs of a host-to-host move overlap. The generation is published, durable,
//! before the successor starts, and it is kept even when the target fails mid-stream.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gat_adaptor::{NativeState, Resource, Signal};

use super::checkpoint::cooperative::{Answer, Collected};
use super::core::Engine;
use super::error::{Error, Result};
use super::job::{Job, JobShared, JobState};
use super::journal::Operation;
use super::launch::Restart;
use super::preferences::Preferences;
use super::resource::HardwareResource;
use super::value::now_seconds;

/// How long a restarted job must stay up before a migration commits to it.
const CONFIRM_FOR: Duration = Duration::from_millis(100);

/// Migrate (the original ends) or clone (the original runs on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MoveKind {
    Migrate,
    Clone,
}

impl MoveKind {
    fn as_str(self) -> &'static str {
        match self {
            MoveKind::Migrate => "migrate",
            MoveKind::Clone => "clone",
        }
    }

    fn call(self) -> &'static str {
        match self {
            MoveKind::Migrate => "Migrate",
            MoveKind::Clone => "CloneJob",
        }
    }
}

/// Test-only fault injection at a named phase: `GAT_TEST_FAULT=<phase>:fail` makes the phase
/// fail; `GAT_TEST_FAULT=<phase>:pause` writes `<state>/fault-reached` and sleeps (so a test can
/// kill the process right there).
fn fault_point(engine: &Engine, phase: &str) -> Result<()> {
    let Ok(spec) = std::env::var("GAT_TEST_FAULT") else { return Ok(()) };
    let Some((at, action)) = spec.split_once(':') else { return Ok(()) };
    if at != phase {
        return Ok(());
    }
    match action {
        "fail" => Err(Error::Failed(format!("injected fault at phase '{phase}' (GAT_TEST_FAULT)"))),
        "pause" => {
            let _ = std::fs::write(engine.state_dir().join("fault-reached"), phase);
            std::thread::sleep(Duration::from_secs(600));
            Ok(())
        }
        _ => Ok(()),
    }
}

impl Job {
    /// Take a checkpoint: the job keeps running (a checkpoint-and-exit program is restarted in
    /// place from the fresh state).
    pub fn checkpoint(&self) -> Result<()> {
        self.require_checkpointable("Checkpoint")?;
        self.require(JobState::Running, "Checkpoint", "only a Running job can be checkpointed")?;
        let _one_at_a_time = self.shared.ops.running.lock().unwrap_or_else(|e| e.into_inner());
        let (sealed, answer) = self.engine.take_checkpoint(&self.shared, false, &mut || Ok(()))?;
        let manifest = self.engine.publish_checkpoint(&self.shared, sealed)?;
        if answer == Answer::Exited {
            self.engine.restart_in_place(&self.shared).map_err(|e| {
                e.context(format!(
                    "job {} exited for its checkpoint (generation {} is safe) but could not be restarted",
                    self.id(),
                    manifest.generation
                ))
            })?;
        }
        Ok(())
    }

    /// Move the job to `target` (None: libgat chooses another resource).
    pub fn migrate(&self, target: Option<Arc<HardwareResource>>) -> Result<Job> {
        self.engine.move_job(&self.shared, target, MoveKind::Migrate)
    }

    /// Start a copy of the job from a fresh checkpoint on `target` (None: libgat chooses); the
    /// original runs on.
    pub fn clone_job(&self, target: Option<Arc<HardwareResource>>) -> Result<Job> {
        self.engine.move_job(&self.shared, target, MoveKind::Clone)
    }

    fn require_checkpointable(&self, call: &str) -> Result<()> {
        if self.shared.description.software.checkpointable {
            Ok(())
        } else {
            Err(Error::NotCheckpointable(format!(
                "{call}: job {} is not checkpointable (describe it with checkpointable = 1 and follow the \
                 protocol of docs/instrumenting.md)",
                self.id()
            )))
        }
    }
}

/// What a move has done so far: what a rollback must undo.
#[derive(Default)]
struct Progress {
    frozen: bool,
    exited_for_checkpoint: bool,
    /// A fresh checkpoint was taken.
    taken: bool,
    /// A start from the checkpoint store was attempted.
    restart_attempted: bool,
    successor: Option<Job>,
}

impl Engine {
    fn resource_named(&self, name: &str, contact: &str) -> Result<Resource> {
        self.hardware_resource(name).or_else(|_| self.hardware_resource(contact)).map(|h| h.resource)
    }

    /// Restart `job` where it ran, from its newest good generation (verified as it is placed).
    pub(crate) fn restart_in_place(&self, job: &Arc<JobShared>) -> Result<()> {
        let adaptor = job.adaptor.clone().ok_or_else(|| Error::NotImplemented(format!("job {}: no adaptor", job.id)))?;
        let record = job.record().clone();
        let resource = self.resource_named(&record.resource, &record.contact)?;
        let workdir = record.workdir.as_ref().map(PathBuf::from);
        let restart = Restart::FromStore { from_job: &job.id };
        match self.launch(&*adaptor, &job.id, &job.description.software, &resource, workdir.as_deref(), Some(restart)) {
            Ok((native, _)) => {
                if let Err(e) = self.started(job, &native) {
                    tracing::warn!(target: "gat::engine", "job {}: {e}", job.id);
                }
                Ok(())
            }
            Err(e) => {
                self.update_record(job, |r| {
                    r.state = JobState::Stopped;
                    r.stop_reason = Some("failed".into());
                    r.stop_time = Some(now_seconds());
                    r.state_reason = Some(format!("restart from its checkpoint failed: {e}"));
                });
                Err(e)
            }
        }
    }

    /// Migrate or clone `job` (see the module documentation).
    pub(crate) fn move_job(&self, job: &Arc<JobShared>, target: Option<Arc<HardwareResource>>, kind: MoveKind) -> Result<Job> {
        let call = kind.call();
        let handle = Job { engine: self.arc(), shared: job.clone() };
        handle.require_checkpointable(call)?;
        let _one_at_a_time = job.ops.running.lock().unwrap_or_else(|e| e.into_inner());
        let record = job.record().clone();
        let fresh = match (record.state, record.stop_reason.as_deref()) {
            (JobState::Running, _) => true,
            // Ended by a host failure: restart from the last good checkpoint.
            (JobState::Stopped, Some("lost" | "failed")) if kind == MoveKind::Migrate && record.successor.is_none() => false,
            (state, reason) => {
                return Err(Error::InvalidState(format!(
                    "{call}: job {} is {}{}; only a Running job, or one Stopped by a failure, can be moved",
                    job.id,
                    state.as_str(),
                    reason.map(|r| format!(" ({r})")).unwrap_or_default()
                )))
            }
        };
        let mut op = Operation {
            job: job.id.clone(),
            kind: kind.as_str().into(),
            phase: "checkpoint".into(),
            target: target.as_ref().map(|t| t.name().to_owned()),
            started: now_seconds(),
            owner_pid: std::process::id().into(),
            ..Default::default()
        };
        op.id = self.journal.begin_operation(&op)?;
        let mut progress = Progress::default();
        let outcome = self.move_phases(job, target, kind, fresh, &mut op, &mut progress);
        match outcome {
            Ok(successor) => {
                tracing::debug!(target: "gat::migration", job = %op.job, "committed after {:.3} s", now_seconds() - op.started);
                op.outcome = Some("committed".into());
                self.journal_op(&op);
                Ok(successor)
            }
            Err(e) => {
                let undone = self.roll_back(job, kind, &progress);
                op.outcome = Some(format!("rolled back: {e}"));
                self.journal_op(&op);
                // Errors that say what is wrong with the job or its state stand as they are; so
                // does any error before anything was taken or started.
                let telling = matches!(
                    e,
                    Error::NoCheckpoint(_) | Error::CheckpointCorrupt(_) | Error::Timeout(_) | Error::InvalidState(_)
                );
                if telling || !(progress.taken || progress.restart_attempted) {
                    return Err(e);
                }
                let how = match (&undone, fresh) {
                    (Ok(()), true) => "the original job runs on".to_owned(),
                    (Ok(()), false) => "the original job stays stopped and restartable".to_owned(),
                    (Err(u), _) => format!("and the rollback failed too: {u}"),
                };
                Err(Error::RolledBack(format!("{call} of job {} was rolled back: {e}; {how}", job.id)))
            }
        }
    }

    fn journal_op(&self, op: &Operation) {
        if let Err(e) = self.journal.update_operation(op) {
            tracing::warn!(target: "gat::migration", "job {}: {e}", op.job);
        }
    }

    fn enter(&self, op: &mut Operation, phase: &str) -> Result<()> {
        tracing::debug!(target: "gat::migration", job = %op.job, "{} phase {} done after {:.3} s", op.kind, op.phase, now_seconds() - op.started);
        op.phase = phase.into();
        self.journal.update_operation(op)?;
        fault_point(self, phase)
    }

    fn move_phases(
        &self,
        job: &Arc<JobShared>,
        target: Option<Arc<HardwareResource>>,
        kind: MoveKind,
        fresh: bool,
        op: &mut Operation,
        progress: &mut Progress,
    ) -> Result<Job> {
        let call = kind.call();
        fault_point(self, "checkpoint")?;
        // The target is chosen first: whether the state can stream straight to it decides how
        // the checkpoint collects it.
        let record = job.record().clone();
        let (resource, reason) = self.move_target(job, target, &record.resource)?;
        let stream = fresh && kind == MoveKind::Migrate && self.streams_to(job, &resource);
        // A frozen job's fresh state is published while it is copied (or streamed) to the
        // target (a rollback only thaws the job); any other answer is published at once (a
        // rollback restarts the job from it).
        let mut fresh_state = None;
        if fresh {
            let freeze = kind == MoveKind::Migrate;
            let (collected, answer) = self.take_checkpoint_leaving(job, freeze, stream, &mut || {
                op.frozen = true;
                op.phase = "frozen".into();
                self.journal.update_operation(op)
            })?;
            progress.frozen = answer == (Answer::Continued { frozen: true });
            progress.exited_for_checkpoint = answer == Answer::Exited;
            progress.taken = true;
            match collected {
                Collected::Sealed(sealed) if progress.frozen => fresh_state = Some(Restart::Fresh { owner: job, sealed }),
                Collected::Sealed(sealed) => {
                    self.publish_checkpoint(job, sealed)?;
                }
                Collected::OnHost => fresh_state = Some(Restart::Stream { owner: job }),
            }
            if kind == MoveKind::Clone && progress.exited_for_checkpoint {
                // The original of a clone runs on.
                self.restart_in_place(job)?;
                progress.exited_for_checkpoint = false;
            }
        }
        self.enter(op, "select")?;
        op.target = Some(resource.name.clone());

        self.enter(op, "place")?;
        progress.restart_attempted = true;
        let reason = format!("{call} of {} from '{}': {reason}", job.id, record.resource);
        let predecessor = (kind == MoveKind::Migrate).then(|| job.id.clone());
        let restart = fresh_state.unwrap_or(Restart::FromStore { from_job: &job.id });
        let successor = self.start_job(&job.description, &resource, reason, predecessor, Some(restart))?;
        op.successor = Some(successor.id().to_owned());
        progress.successor = Some(successor.clone());

        self.enter(op, "confirm")?;
        self.confirm_running(&successor)?;

        self.enter(op, "commit")?;
        if kind == MoveKind::Migrate {
            self.end_original(job, successor.id());
        }
        Ok(successor)
    }

    /// Whether a migration of `job` to `target` streams the state from the job's host to the
    /// target in one pass: both adaptors stream, the target is another resource, and the state
    /// is the protocol's one file. Between two resources of this machine a rename into the store
    /// and one copy out cost less than a stream through it.
    fn streams_to(&self, job: &JobShared, target: &Resource) -> bool {
        let sw = &job.description.software;
        if sw.restart_flag.is_some() || !sw.restart_files.is_empty() {
            return false;
        }
        let Some(source) = &job.adaptor else { return false };
        let Ok(to) = self.adaptor(&target.adaptor) else { return false };
        let record = job.record();
        source.capabilities().stream
            && to.capabilities().stream
            && record.resource != target.name
            && !(source.name() == "local" && to.name() == "local")
    }

    /// The target: the one given, else the best other resource that can run the job (the job's
    /// own only when there is no other).
    fn move_target(&self, job: &JobShared, target: Option<Arc<HardwareResource>>, source: &str) -> Result<(Resource, String)> {
        if let Some(t) = target {
            return Ok((t.resource.clone(), format!("'{}' was given", t.name())));
        }
        let wanted = match &job.description.resource {
            Some(super::description::ResourceChoice::Description(hd)) => (**hd).clone(),
            _ => Default::default(),
        };
        let ranked = self.find_resources(&wanted, &Preferences::new())?;
        let capable: Vec<_> = ranked
            .into_iter()
            .filter(|r| {
                self.adaptor(&r.resource.adaptor)
                    .map(|a| {
                        let c = a.capabilities();
                        c.submit && c.place && c.checkpoint_primitives
                    })
                    .unwrap_or(false)
            })
            .collect();
        if let Some(other) = capable.iter().find(|r| r.name() != source) {
            return Ok((other.resource.clone(), format!("'{}' is the best other resource that can run it", other.name())));
        }
        capable
            .into_iter()
            .next()
            .map(|r| (r.resource, "no other resource can run it: restarted on its own".to_owned()))
            .ok_or_else(|| Error::NoMatchingResource(format!("no resource can run job {}", job.id)))
    }

    /// The restarted job must come up and stay up (or finish successfully) for a moment.
    fn confirm_running(&self, successor: &Job) -> Result<()> {
        let since = Instant::now();
        loop {
            self.poll_jobs(std::slice::from_ref(&successor.shared));
            let r = successor.shared.record().clone();
            match r.state {
                JobState::Stopped if r.exit_code == Some(0) && r.stop_reason.as_deref() == Some("exited") => return Ok(()),
                JobState::Stopped | JobState::Unknown => {
                    return Err(Error::Failed(format!(
                        "the restarted job {} did not stay up: {} {}",
                        successor.id(),
                        r.stop_reason.unwrap_or_else(|| r.state.as_str().into()),
                        r.exit_code.map(|c| format!("(exit code {c})")).or(r.state_reason).unwrap_or_default()
                    )))
                }
                _ if since.elapsed() >= CONFIRM_FOR => return Ok(()),
                _ => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    }

    /// Commit: end the original for good and link it to its successor.
    fn end_original(&self, job: &Arc<JobShared>, successor: &str) {
        // The end this causes is the migration's, not a failure: keep it out of the record.
        job.ops.holding.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(adaptor) = &job.adaptor {
            let native = job.native();
            // Frozen: KILL works on a stopped process; then stop() reaps the whole tree.
            let _ = adaptor.signal(&native, Signal::Kill);
            let _ = adaptor.stop(&native);
        }
        job.ops.holding.store(false, std::sync::atomic::Ordering::SeqCst);
        job.ops.take_held();
        self.update_record(job, |r| {
            r.state = JobState::Stopped;
            r.stop_reason = Some("migrated".into());
            r.stop_time.get_or_insert(now_seconds());
            r.successor = Some(successor.to_owned());
        });
    }

    /// Undo what a failed move did: end its successor, thaw or restart the original.
    fn roll_back(&self, job: &Arc<JobShared>, kind: MoveKind, progress: &Progress) -> Result<()> {
        if let Some(successor) = &progress.successor {
            if successor.state() == JobState::Running {
                let _ = self.stop_job(&successor.shared);
            }
            self.update_record(&successor.shared, |r| {
                r.state = JobState::Stopped;
                r.stop_reason = Some("failed".into());
                r.state_reason = Some(format!("{} of {} rolled back", kind.call(), job.id));
            });
        }
        if progress.frozen {
            if let Some(adaptor) = &job.adaptor {
                adaptor
                    .signal(&job.native(), Signal::Cont)
                    .map_err(|e| Error::from(e).context(format!("thawing job {}", job.id)))?;
            }
        }
        if progress.exited_for_checkpoint {
            self.restart_in_place(job)?;
        }
        Ok(())
    }

    /// Finish or roll back the operations that processes died in the middle of. Runs when an
    /// engine opens its journal; an operation whose owner still lives is left to it.
    pub(crate) fn recover_operations(&self) -> Result<()> {
        for mut op in self.journal.open_operations()? {
            let owner_alive = op.owner_pid != i64::from(std::process::id())
                && std::path::Path::new(&format!("/proc/{}", op.owner_pid)).exists();
            if owner_alive {
                continue;
            }
            let outcome = match self.recover_one(&op) {
                Ok(text) => text,
                Err(e) => format!("recovery failed: {e}"),
            };
            tracing::info!(target: "gat::migration", "job {}: interrupted {}: {outcome}", op.job, op.kind);
            op.outcome = Some(format!("recovered: {outcome}"));
            self.journal_op(&op);
        }
        Ok(())
    }

    fn recover_one(&self, op: &Operation) -> Result<String> {
        let original = self.attach(&op.job)?;
        let successor = op.successor.as_deref().map(|id| self.attach(id)).transpose()?;
        // Once the successor was started and still runs (or the commit had begun), go forward.
        let forward = match &successor {
            Some(s) => matches!(op.phase.as_str(), "confirm" | "commit") && s.state() == JobState::Running,
            None => false,
        };
        if forward {
            let succ = successor.expect("checked");
            if op.kind == "migrate" {
                self.end_original(&original.shared, succ.id());
            }
            return Ok(format!("committed to {}", succ.id()));
        }
        if let Some(s) = &successor {
            if s.state() == JobState::Running {
                let _ = self.stop_job(&s.shared);
            }
            self.update_record(&s.shared, |r| {
                r.state = JobState::Stopped;
                r.stop_reason = Some("failed".into());
                r.state_reason = Some(format!("{} of {} was interrupted and rolled back", op.kind, op.job));
            });
        }
        let adaptor = original.shared.adaptor.clone();
        if op.frozen {
            if let Some(a) = &adaptor {
                let _ = a.signal(&original.shared.native(), Signal::Cont);
            }
        }
        // The original exited for the checkpoint and nobody restarted it: restart it in place.
        let native_state = adaptor
            .as_ref()
            .and_then(|a| a.poll(&[&original.shared.native()]).ok())
            .and_then(|mut v| v.pop());
        let exited = matches!(native_state, Some(NativeState::Finished { .. }));
        let generation_taken = op.phase != "checkpoint" || self.checkpoint_store(&op.job)?.generations()?.last().is_some();
        if exited && generation_taken && original.shared.record().successor.is_none() {
            let (manifest, _) = self.checkpoint_store(&op.job)?.latest_good()?;
            if manifest.time < op.started {
                // Its exit was not an answer to this operation's request: it simply ended.
                return Ok("rolled back: the original had ended on its own".into());
            }
            self.update_record(&original.shared, |r| {
                r.state = JobState::Running;
                r.stop_reason = None;
                r.stop_time = None;
            });
            self.restart_in_place(&original.shared)?;
            return Ok("rolled back: the original was restarted in place from its checkpoint".into());
        }
        Ok("rolled back: the original runs on".into())
    }
}
