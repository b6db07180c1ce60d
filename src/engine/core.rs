//! The engine: adaptors, the journal and the live jobs of one state directory. One engine per
//! state directory per process (`Engine::shared`); tests open their own (`Engine::open`).

use std::collections::HashMap;
use std::fs::DirBuilder;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use gat_adaptor::{Adaptor, EventSink, NativeJob, NativeState};

use super::config::Config;
use super::description::{JobDescription, ResourceChoice, SoftwareDescription};
use super::error::{Error, Result};
use super::job::{Job, JobShared, JobState};
use super::journal::{JobRecord, Journal};
use super::resource::HardwareResource;
use super::tablecodec;
use super::tracking::Poller;

pub struct Engine {
    state_dir: PathBuf,
    adaptors: Vec<Arc<dyn Adaptor>>,
    pub(crate) journal: Journal,
    pub(crate) config: Config,
    jobs: Mutex<HashMap<String, Arc<JobShared>>>,
    pub(crate) poller: Arc<Poller>,
    me: Weak<Engine>,
}

/// The engines of `Engine::shared`, by state directory.
static SHARED_ENGINES: OnceLock<Mutex<HashMap<PathBuf, Arc<Engine>>>> = OnceLock::new();

/// Contact schemes and the adaptor that serves each.
const SCHEMES: [(&str, &str); 4] =
    [("local:", "local"), ("ssh://", "ssh"), ("slurm://", "slurm"), ("slurm+ssh://", "slurm")];

/// The adaptor name a contact's scheme names (`local:` -> `local`), None for a non-contact.
pub fn contact_adaptor(contact: &str) -> Option<&'static str> {
    SCHEMES.iter().find(|(scheme, _)| contact.starts_with(scheme)).map(|(_, name)| *name)
}

/// The state directory the environment names: `$GAT_STATE_DIR`, else `$XDG_STATE_HOME/gat`,
/// else `~/.local/state/gat`.
pub fn default_state_dir() -> Result<PathBuf> {
    state_dir_from(|name| std::env::var_os(name))
}

fn state_dir_from(var: impl Fn(&str) -> Option<std::ffi::OsString>) -> Result<PathBuf> {
    let var = |name: &str| var(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(dir) = var("GAT_STATE_DIR") {
        return Ok(dir);
    }
    if let Some(dir) = var("XDG_STATE_HOME") {
        return Ok(dir.join("gat"));
    }
    var("HOME").map(|h| h.join(".local/state/gat")).ok_or_else(|| {
        Error::FileOpen("no state directory: set GAT_STATE_DIR (neither XDG_STATE_HOME nor HOME is set)".into())
    })
}

/// Create `dir` (and its parents) readable by the user only.
pub(crate) fn private_dir(dir: &Path) -> Result<()> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| Error::Io(format!("cannot create directory {}: {e}", dir.display())))
}

/// The adaptors a default engine offers.
fn default_adaptors() -> Vec<Arc<dyn Adaptor>> {
    vec![Arc::new(gat_adaptor_local::LocalAdaptor::default())]
}

/// The adaptors an engine on `state_dir` with `config` offers: local, and ssh (set up on first
/// use) for the configured `ssh://` resources and bare `ssh://user@host:port` contacts.
pub fn adaptors_for(state_dir: &Path, config: &Config) -> Vec<Arc<dyn Adaptor>> {
    let mut adaptors = default_adaptors();
    adaptors.push(Arc::new(super::ssh::LazySsh::new(state_dir, config)));
    adaptors
}

impl Engine {
    /// The engine for the state directory the environment names, shared by every context of this
    /// process (one per state directory).
    pub fn shared() -> Result<Arc<Engine>> {
        let dir = default_state_dir()?;
        let mut engines = SHARED_ENGINES.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
        if let Some(engine) = engines.get(&dir) {
            return Ok(engine.clone());
        }
        let config = Config::from_environment()?;
        let engine = Engine::open_with_config(&dir, adaptors_for(&dir, &config), config)?;
        engines.insert(dir, engine.clone());
        Ok(engine)
    }

    /// Write what the shared engines' journals hold back (`Journal::save_soon`). The shared
    /// engines live until the process ends, and their journals are never dropped: the C glue
    /// calls this when the program exits.
    pub fn flush_shared() {
        let Some(engines) = SHARED_ENGINES.get() else { return };
        let engines: Vec<Arc<Engine>> = engines.lock().unwrap_or_else(|e| e.into_inner()).values().cloned().collect();
        for engine in engines {
            if let Err(e) = engine.journal.flush() {
                tracing::warn!(target: "gat::engine", "at exit: {e}");
            }
        }
    }

    /// An engine on `state_dir` (created 0700) with these adaptors.
    pub fn open(state_dir: &Path, adaptors: Vec<Arc<dyn Adaptor>>) -> Result<Arc<Engine>> {
        Engine::open_with_config(state_dir, adaptors, Config::from_environment()?)
    }

    /// An engine on `state_dir` with these adaptors and this resource configuration.
    pub fn open_with_config(state_dir: &Path, adaptors: Vec<Arc<dyn Adaptor>>, config: Config) -> Result<Arc<Engine>> {
        super::logging::init_from_environment();
        private_dir(state_dir)?;
        private_dir(&state_dir.join("jobs"))?;
        let journal = Journal::open(&state_dir.join("journal.sqlite"))?;
        let engine = Arc::new_cyclic(|me| Engine {
            state_dir: state_dir.to_owned(),
            adaptors,
            journal,
            config,
            jobs: Mutex::new(HashMap::new()),
            poller: Arc::new(Poller::default()),
            me: me.clone(),
        });
        for adaptor in &engine.adaptors {
            adaptor
                .set_event_sink(engine.event_sink())
                .map_err(|e| super::tracking::adaptor_error(e, format!("registering with the {} adaptor", adaptor.name())))?;
        }
        // Finish or roll back what a process that died mid-migration left behind.
        if let Err(e) = engine.recover_operations() {
            tracing::warn!(target: "gat::engine", "recovering interrupted operations: {e}");
        }
        Ok(engine)
    }

    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    pub(crate) fn arc(&self) -> Arc<Engine> {
        self.me.upgrade().expect("an engine method runs while the engine is alive")
    }

    pub fn adaptors(&self) -> &[Arc<dyn Adaptor>] {
        &self.adaptors
    }

    /// The adaptor called `name`; a known adaptor missing from this build is GAT_NOTIMPL.
    pub fn adaptor(&self, name: &str) -> Result<Arc<dyn Adaptor>> {
        if let Some(a) = self.adaptors.iter().find(|a| a.name() == name) {
            return Ok(a.clone());
        }
        if SCHEMES.iter().any(|(_, known)| *known == name) {
            Err(Error::NotImplemented(format!("the {name} adaptor is not available in this build")))
        } else {
            Err(Error::NoMatchingAdaptor(format!("there is no adaptor called '{name}'")))
        }
    }

    fn event_sink(&self) -> EventSink {
        let me = self.me.clone();
        Arc::new(move |native: &NativeJob, state: NativeState| {
            if let Some(engine) = me.upgrade() {
                engine.on_event(native, state);
                // Never drop the last reference on the adaptor's own thread: dropping the engine
                // drops the adaptor, which may wait for that very thread.
                if Arc::strong_count(&engine) == 1 {
                    let _ = std::thread::Builder::new().name("gat-engine-drop".into()).spawn(move || drop(engine));
                }
            }
        })
    }

    fn on_event(&self, native: &NativeJob, state: NativeState) {
        if let Some(job) = self.live(&native.id) {
            self.apply(&job, state, Some(native));
        }
    }

    pub(crate) fn live(&self, id: &str) -> Option<Arc<JobShared>> {
        self.jobs_map().get(id).cloned()
    }

    /// Forget a finished job that no handle and no operation holds any more, so that a program
    /// submitting job after job does not keep them all: the journal has it, and `attach` brings
    /// it back. Called when a handle goes.
    pub(crate) fn forget_if_unused(&self, shared: &Arc<JobShared>) {
        if shared.state() != JobState::Stopped {
            return;
        }
        let mut jobs = self.jobs_map();
        // The map's reference and the going handle's are the only ones: nobody else (another
        // handle, the poller, an event being applied, which also finishes its journal write
        // before it lets go) uses the job. `live` clones under this lock, so none can appear.
        if Arc::strong_count(shared) == 2 && jobs.get(&shared.id).is_some_and(|j| Arc::ptr_eq(j, shared)) {
            jobs.remove(&shared.id);
        }
    }

    /// Forget every finished job that only the map holds (the poller's sweep behind
    /// `forget_if_unused`).
    pub(crate) fn forget_unused_finished(&self) {
        self.jobs_map().retain(|_, job| Arc::strong_count(job) > 1 || job.state() != JobState::Stopped);
    }

    fn jobs_map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<JobShared>>> {
        self.jobs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Jobs not yet final, for the poller.
    pub(crate) fn active_jobs(&self) -> Vec<Arc<JobShared>> {
        let jobs = self.jobs_map();
        jobs.values().filter(|j| !matches!(j.state(), JobState::Stopped | JobState::Initial)).cloned().collect()
    }

    /// Start tracking a job (before its adaptor is asked to start it, so early events find it).
    pub(crate) fn track(&self, job: JobShared) -> Job {
        let shared = Arc::new(job);
        let shared = self.jobs_map().entry(shared.id.clone()).or_insert(shared).clone();
        // Pushed jobs too: the poller's slow round is their safety net. A polled job wakes it
        // once it runs (`started`, `attach`): before that there is nothing to ask.
        self.poller.start(self.me.clone(), false);
        Job { engine: self.arc(), shared }
    }

    /// Start the next poll round now (a polled job began running: its first rounds come quickly).
    pub(crate) fn wake_poller(&self) {
        self.poller.start(self.me.clone(), true);
    }

    /// Stop tracking a job that never started.
    pub(crate) fn untrack(&self, id: &str) {
        self.jobs_map().remove(id);
    }

    /// Re-attach to a job by id: the live job, else the journal's record; in another process
    /// the state then comes from the adaptor, and the engine keeps it current.
    pub fn attach(&self, id: &str) -> Result<Job> {
        if let Some(shared) = self.live(id) {
            return Ok(Job { engine: self.arc(), shared });
        }
        let record = self.journal.load(id)?.ok_or_else(|| {
            Error::InvalidParameter(format!("no job '{id}' in the journal of {}", self.state_dir.display()))
        })?;
        let description = Arc::new(stored_description(&record)?);
        let adaptor = self.adaptor(&record.adaptor);
        let mut record = record;
        if let Err(e) = &adaptor {
            if record.state != JobState::Stopped {
                record.state = JobState::Unknown;
                record.state_reason = Some(e.to_string());
            }
        }
        let job = self.track(JobShared {
            id: record.id.clone(),
            adaptor: adaptor.ok(),
            description,
            record: Mutex::new(record),
            journal_order: Mutex::new(()),
            polled: true,
            stop_requested: Default::default(),
            ops: Default::default(),
            changed: Default::default(),
        });
        if !matches!(job.shared.state(), JobState::Stopped | JobState::Initial) {
            self.poll_jobs(std::slice::from_ref(&job.shared));
            self.wake_poller();
        }
        Ok(job)
    }

    /// Apply `update` to the job's record and write the result to the journal when it changed;
    /// a failed write is logged (the record in memory is right, the next write retries).
    pub(crate) fn update_record(&self, job: &JobShared, update: impl FnOnce(&mut JobRecord)) {
        if let Err(e) = self.record_update(job, update) {
            tracing::warn!(target: "gat::engine", "job {}: {e}", job.id);
        }
    }

    /// As `update_record`, for news from an adaptor: the journal writes the row soon, with
    /// others (`Journal::save_soon`).
    pub(crate) fn update_record_soon(&self, job: &JobShared, update: impl FnOnce(&mut JobRecord)) {
        let _order = job.journal_order.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(record) = self.change_record(job, update) {
            self.journal.save_soon(record);
        }
    }

    /// As `update_record`, returning the journal's error.
    pub(crate) fn record_update(&self, job: &JobShared, update: impl FnOnce(&mut JobRecord)) -> Result<()> {
        let _order = job.journal_order.lock().unwrap_or_else(|e| e.into_inner());
        match self.change_record(job, update) {
            Some(record) => self.journal.save(&record),
            None => Ok(()),
        }
    }

    /// Apply `update` to the job's record (waking its waiters when it changed); the changed
    /// record, to be written. Called with the job's `journal_order` held.
    fn change_record(&self, job: &JobShared, update: impl FnOnce(&mut JobRecord)) -> Option<JobRecord> {
        let changed = {
            let mut record = job.record();
            let before = record.clone();
            update(&mut record);
            (*record != before).then(|| record.clone())
        };
        // Woken after the lock is released: a waiter wakes to take it, not to wait for it again.
        if changed.is_some() {
            job.changed.notify_all();
        }
        changed
    }

    pub(crate) fn job_dir(&self, id: &str) -> PathBuf {
        self.state_dir.join("jobs").join(id)
    }
}

/// The job description a journal row keeps: its software description, on its resource.
fn stored_description(r: &JobRecord) -> Result<JobDescription> {
    let table = tablecodec::decode(&r.description).map_err(|e| e.context(format!("job {}", r.id)))?;
    let software = SoftwareDescription::from_table(&table).map_err(|e| e.context(format!("job {}", r.id)))?;
    let resource = gat_adaptor::Resource {
        name: r.resource.clone(),
        contact: r.contact.clone(),
        adaptor: r.adaptor.clone(),
        hostname: r.hostname.clone(),
        attributes: Default::default(),
        load: Default::default(),
        work_dir: None,
    };
    let choice = ResourceChoice::Resource(Arc::new(HardwareResource { resource }));
    Ok(JobDescription::new(Arc::new(software), Some(choice)))
}

#[cfg(test)]
#[path = "core_tests.rs"]
mod tests;
