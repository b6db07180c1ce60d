//! The resource broker: which resources exist, which match a description (best first), and
//! submitting a job to the chosen one.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use gat_adaptor::{Adaptor, JobSpec, NativeJob, Requirements, Resource, StageEntry};

use super::config::{LOAD_SCHED, PRIORITY};
use super::core::{contact_adaptor, private_dir, Engine};
use super::description::{HardwareDescription, JobDescription, ResourceChoice, SoftwareDescription};
use super::error::{Error, Result};
use super::job::{Job, JobShared, JobState};
use super::journal::JobRecord;
use super::launch::Restart;
use super::preferences::Preferences;
use super::resource::HardwareResource;
use super::tablecodec;
use super::value::now_seconds;

/// The preference that orders adaptors (JavaGAT's rule: comma list, `!name` excludes).
pub const ADAPTOR_PREFERENCE: &str = "resourcebroker.adaptor.name";

pub struct Broker {
    engine: Arc<Engine>,
    prefs: Preferences,
    vo_name: Option<String>,
}

/// Adaptors in preference order: those the preference lists, in its order, then the others;
/// `!name` drops one.
pub fn ordered_adaptors(all: &[Arc<dyn Adaptor>], prefs: &Preferences) -> Vec<Arc<dyn Adaptor>> {
    let spec = prefs.get(ADAPTOR_PREFERENCE).unwrap_or("");
    let items: Vec<&str> = spec.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
    let excluded = |name: &str| items.iter().any(|i| i.strip_prefix('!').is_some_and(|x| x.trim() == name));
    let rank = |a: &Arc<dyn Adaptor>| items.iter().position(|i| *i == a.name()).unwrap_or(usize::MAX);
    let mut kept: Vec<_> = all.iter().filter(|a| !excluded(a.name())).cloned().collect();
    kept.sort_by_key(rank); // stable: unlisted adaptors keep their registry order
    kept
}

fn attr_num(r: &Resource, key: &str) -> Option<f64> {
    r.attributes.get(key).and_then(|v| v.as_num())
}

/// Load per CPU, for ranking (unknown load ranks last).
fn load_per_cpu(r: &Resource) -> f64 {
    let cpus = attr_num(r, "cpu.count").filter(|c| *c >= 1.0).unwrap_or(1.0);
    r.load.average.map_or(f64::INFINITY, |l| l / cpus)
}

impl Engine {
    /// Every resource the adaptors (in preference order) and the configuration offer. Adaptors
    /// that fail to answer add their reason to `why_not`.
    fn all_resources(&self, prefs: &Preferences, why_not: &mut Vec<String>) -> Vec<Resource> {
        let mut out: Vec<Resource> = Vec::new();
        let adaptors = ordered_adaptors(self.adaptors(), prefs);
        for adaptor in adaptors.iter().filter(|a| a.capabilities().submit) {
            match adaptor.resources(&Requirements::default()) {
                Ok(list) => out.extend(list),
                Err(e) => why_not.push(format!("the {} adaptor: {e}", adaptor.name())),
            }
        }
        for configured in &self.config.resources {
            match self.configured(&configured.name, &adaptors) {
                Ok(r) => {
                    out.retain(|o| o.name != r.name);
                    out.push(r);
                }
                Err(e) => why_not.push(format!("resource '{}': {e}", configured.name)),
            }
        }
        out
    }

    /// A configured resource, completed by its adaptor's view of the contact.
    fn configured(&self, name: &str, adaptors: &[Arc<dyn Adaptor>]) -> Result<Resource> {
        let c = self.config.resource(name).ok_or_else(|| Error::InvalidParameter(format!("no resource '{name}'")))?;
        let adaptor_name = contact_adaptor(&c.contact).ok_or_else(|| {
            Error::InvalidParameter(format!("resource '{name}': '{}' is not a contact libgat knows", c.contact))
        })?;
        let adaptor = adaptors
            .iter()
            .find(|a| a.name() == adaptor_name)
            .cloned()
            .map_or_else(|| self.adaptor(adaptor_name), Ok)?;
        if let Some(base) = adaptor.resource_at(&c.name)? {
            return Ok(c.apply_to(base));
        }
        let offered = adaptor.resources(&Requirements::default())?;
        let base = offered.iter().find(|r| r.contact == c.contact).or(offered.first()).cloned().ok_or_else(|| {
            Error::NoMatchingResource(format!("the {adaptor_name} adaptor offers no resource for '{}'", c.contact))
        })?;
        Ok(c.apply_to(base))
    }

    /// The resource a contact (`local:`, `ssh://...`) or a configured name stands for.
    pub fn hardware_resource(&self, contact: &str) -> Result<HardwareResource> {
        let all = self.adaptors().to_vec();
        if self.config.resource(contact).is_some() {
            return self.configured(contact, &all).map(|resource| HardwareResource { resource });
        }
        let Some(name) = contact_adaptor(contact) else {
            return Err(Error::InvalidParameter(format!(
                "'{contact}' is neither a configured resource nor a contact (local:, ssh://user@host:port, \
                 slurm://partition, slurm+ssh://login-host/partition)"
            )));
        };
        let adaptor = self.adaptor(name)?;
        if let Some(resource) = adaptor.resource_at(contact)? {
            // The contact of a configured resource: that resource, with its configured extras.
            let resource = match self.config.resource(&resource.name) {
                Some(c) if c.contact == contact => c.apply_to(resource),
                _ => resource,
            };
            return Ok(HardwareResource { resource });
        }
        let offered = adaptor.resources(&Requirements::default())?;
        offered
            .into_iter()
            .find(|r| r.contact == contact || r.name == contact)
            .map(|resource| HardwareResource { resource })
            .ok_or_else(|| Error::NoMatchingResource(format!("the {name} adaptor offers no resource '{contact}'")))
    }

    /// Resources matching `hd`, best first: matching attributes, below their `loadsched`, then
    /// by load per CPU, configured priority (higher first) and name. None: the reasons.
    pub fn find_resources(&self, hd: &HardwareDescription, prefs: &Preferences) -> Result<Vec<HardwareResource>> {
        let mut why_not = Vec::new();
        let mut matching: Vec<Resource> = Vec::new();
        for r in self.all_resources(prefs, &mut why_not) {
            if let Err(why) = hd.matches(&r.attributes) {
                why_not.push(format!("'{}': {why}", r.name));
            } else if let (Some(sched), Some(load)) = (attr_num(&r, LOAD_SCHED), r.load.average) {
                if load >= sched {
                    why_not.push(format!("'{}': load {load} is at or above its loadsched {sched}", r.name));
                    continue;
                }
                matching.push(r);
            } else {
                matching.push(r);
            }
        }
        if matching.is_empty() {
            let reasons = if why_not.is_empty() { "no resources are offered".to_owned() } else { why_not.join("; ") };
            return Err(Error::NoMatchingResource(format!("no resource matches the description: {reasons}")));
        }
        matching.sort_by(|a, b| {
            let priority = |r: &Resource| attr_num(r, PRIORITY).unwrap_or(0.0);
            load_per_cpu(a)
                .total_cmp(&load_per_cpu(b))
                .then(priority(b).total_cmp(&priority(a)))
                .then_with(|| a.name.cmp(&b.name))
        });
        Ok(matching.into_iter().map(|resource| HardwareResource { resource }).collect())
    }

    /// Where a job runs, and why there.
    fn choose(&self, jd: &JobDescription, prefs: &Preferences) -> Result<(Resource, String)> {
        match &jd.resource {
            Some(ResourceChoice::Resource(hr)) => {
                Ok((hr.resource.clone(), format!("resource '{}' was given by the job description", hr.name())))
            }
            Some(ResourceChoice::Description(hd)) => {
                let ranked = self.find_resources(hd, prefs)?;
                let best = &ranked[0].resource;
                let load = best.load.average.map_or("unknown".into(), |_| format!("{:.2}", load_per_cpu(best)));
                let reason = format!(
                    "'{}' is the best of {} matching resource(s) (load per CPU {load})",
                    best.name,
                    ranked.len()
                );
                Ok((best.clone(), reason))
            }
            None => self.default_resource(prefs),
        }
    }

    /// `local:`, unless the adaptor preference excludes it: then the first resource of the first
    /// preferred adaptor.
    fn default_resource(&self, prefs: &Preferences) -> Result<(Resource, String)> {
        let ordered = ordered_adaptors(self.adaptors(), prefs);
        if ordered.iter().any(|a| a.name() == "local") {
            let local = self.hardware_resource("local:")?;
            return Ok((local.resource, "no resource or description was given: local: is the default".into()));
        }
        let first = ordered.first().ok_or_else(|| {
            Error::NoMatchingResource(format!("every adaptor is excluded by the preference {ADAPTOR_PREFERENCE}"))
        })?;
        match first.resources(&Requirements::default())?.into_iter().next() {
            Some(r) => {
                let reason = format!("no resource or description was given: '{}' of the preferred {} adaptor", r.name, first.name());
                Ok((r, reason))
            }
            None => Err(Error::NoMatchingResource(format!("the preferred {} adaptor offers no resource", first.name()))),
        }
    }

    /// Submit a job: choose the resource, record the job in the journal, then start it.
    pub fn submit(&self, jd: &JobDescription, prefs: &Preferences) -> Result<Job> {
        let (resource, reason) = self.choose(jd, prefs)?;
        self.start_job(jd, &resource, reason, None, None)
    }

    /// Record a new job in the journal, then start it on `resource` (from a checkpoint, with
    /// `restart`). `predecessor`: the job this one was migrated from.
    pub(crate) fn start_job(
        &self,
        jd: &JobDescription,
        resource: &Resource,
        reason: String,
        predecessor: Option<String>,
        restart: Option<Restart<'_>>,
    ) -> Result<Job> {
        let adaptor_name = contact_adaptor(&resource.contact).unwrap_or(resource.adaptor.as_str()).to_owned();
        let adaptor = self.adaptor(&adaptor_name)?;
        let caps = adaptor.capabilities();
        if !caps.submit {
            return Err(Error::NotImplemented(format!("the {adaptor_name} adaptor cannot submit jobs")));
        }
        let id = new_job_id()?;
        // A checkpointable job's store lives in its job directory. Other jobs get none from
        // the engine: an adaptor that keeps files there makes it, and on some file systems a
        // directory costs as much as the start of a short job.
        if jd.software.checkpointable {
            private_dir(&self.job_dir(&id))?;
        }
        let workdir = self.choose_workdir(&id, &jd.software, resource)?;
        let record = JobRecord {
            id: id.clone(),
            workdir: workdir.as_ref().map(|w| w.to_string_lossy().into_owned()),
            adaptor: adaptor_name,
            resource: resource.name.clone(),
            contact: resource.contact.clone(),
            hostname: resource.hostname.clone(),
            description: tablecodec::encode(&jd.software.table),
            schedule_time: Some(now_seconds()),
            selection_reason: reason,
            predecessor,
            ..Default::default()
        };
        // A restart or a successor is recorded before it starts: a migration's recovery must find
        // every run it may have begun. A fresh job is recorded once, with its native id, before
        // submit returns (in `started`, or by an end that came first): until then nobody holds
        // its id, and a second write would cost a tenth of a short job's start.
        let fresh = record.predecessor.is_none() && restart.is_none();
        if !fresh {
            self.journal.save(&record)?;
        }
        let job = self.track(JobShared {
            id: id.clone(),
            adaptor: Some(adaptor.clone()),
            description: Arc::new(jd.clone()),
            record: Mutex::new(record),
            journal_order: Mutex::new(()),
            polled: !caps.push_events,
            stop_requested: Default::default(),
            ops: Default::default(),
            changed: Default::default(),
        });
        match self.launch(&*adaptor, &id, &jd.software, resource, workdir.as_deref(), restart) {
            Ok((native, restarted)) => {
                if let Some(m) = &restarted.manifest {
                    let mut note = format!("; restarted from checkpoint generation {}", m.generation);
                    if !restarted.skipped.is_empty() {
                        note.push_str(&format!(" (skipped corrupt checkpoints: {})", restarted.skipped.join("; ")));
                    }
                    self.update_record(&job.shared, |r| r.selection_reason.push_str(&note));
                }
                match self.started(&job.shared, &native) {
                    Ok(()) => Ok(job),
                    // A fresh job has no row yet: it must not run unrecorded.
                    Err(e) if fresh => {
                        let _ = adaptor.stop(&native);
                        self.untrack(&id);
                        Err(e.context(format!("recording job {id} in the journal (the job was stopped)")))
                    }
                    Err(e) => {
                        tracing::warn!(target: "gat::engine", "job {id}: {e}");
                        Ok(job)
                    }
                }
            }
            Err(e) => {
                let e = e.context(format!("starting job {id} on '{}'", resource.name));
                self.update_record(&job.shared, |r| {
                    r.state = JobState::Stopped;
                    r.stop_reason = Some("failed".into());
                    r.state_reason = Some(e.to_string());
                });
                self.untrack(&id);
                Err(e)
            }
        }
    }

    /// Record that a run of `job` started as `native` (its first, or a restart), and make sure
    /// an end that came before this record is not missed. Err: the journal could not be written.
    pub(crate) fn started(&self, job: &Arc<JobShared>, native: &NativeJob) -> Result<()> {
        let mut replaced = false;
        let recorded = self.record_update(job, |r| {
            replaced = !r.native_id.is_empty() && r.native_id != native.native_id;
            r.native_id = native.native_id.clone();
            r.native_data = native.data.clone();
            if !native.hostname.is_empty() {
                r.hostname = native.hostname.clone();
            }
            if matches!(r.state, JobState::Initial | JobState::Scheduled) {
                r.state = JobState::Running;
                r.start_time.get_or_insert(now_seconds());
            }
        });
        // Ask once when news may have been missed: a job of a polled adaptor that may queue it
        // may be Scheduled rather than Running, and a restart's early news was taken for stale
        // while the record still named the previous run.
        let caps = job.adaptor.as_ref().map(|a| a.capabilities()).unwrap_or_default();
        if replaced || !(caps.push_events || caps.started_on_submit) {
            self.poll_jobs(std::slice::from_ref(job));
        }
        if job.polled {
            // Its first rounds come quickly (a short job's end is seen within milliseconds).
            self.wake_poller();
        }
        recorded
    }
}

/// A relative local path made absolute against this process's working directory, so the
/// adaptor (or its monitor process) finds it wherever it runs.
fn local_path(p: &str) -> PathBuf {
    let path = PathBuf::from(p);
    if path.is_absolute() {
        return path;
    }
    std::env::current_dir().map(|cwd| cwd.join(&path)).unwrap_or(path)
}

pub(crate) fn job_spec(id: &str, sw: &SoftwareDescription, job_dir: PathBuf) -> Result<JobSpec> {
    let stage = |entries: &[(String, String)], pre: bool| -> Vec<StageEntry> {
        entries
            .iter()
            .map(|(src, dest)| StageEntry {
                source: if pre { local_path(src) } else { PathBuf::from(src) },
                destination: if pre { PathBuf::from(dest) } else { local_path(dest) },
            })
            .collect()
    };
    Ok(JobSpec {
        id: id.to_owned(),
        executable: sw.location.clone(),
        arguments: sw.arguments.clone(),
        environment: sw.environment.clone(),
        directory: sw.directory.as_deref().map(local_path),
        stdin: sw.stdin.as_deref().map(PathBuf::from),
        stdout: sw.stdout.as_deref().map(PathBuf::from),
        stderr: sw.stderr.as_deref().map(PathBuf::from),
        workdir_env: Vec::new(),
        pre_staged: stage(&sw.pre_staged, true),
        post_staged: stage(&sw.post_staged, false),
        job_dir,
    })
}

/// A unique, readable job id: `gat-<unix seconds, hex>-<64 random bits, hex>`. The random bits
/// come from SipHash under this process's random keys (std seeds them from the OS once) over a
/// counter and the time: no file to open per job.
pub fn new_job_id() -> Result<String> {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_u128(now.as_nanos());
    hasher.write_u32(std::process::id());
    Ok(format!("gat-{:x}-{:016x}", now.as_secs(), hasher.finish()))
}

impl Broker {
    pub fn new(engine: Arc<Engine>, prefs: Preferences, vo_name: Option<String>) -> Broker {
        Broker { engine, prefs, vo_name }
    }

    pub fn vo_name(&self) -> Option<&str> {
        self.vo_name.as_deref()
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    pub fn find_resources(&self, hd: &HardwareDescription) -> Result<Vec<HardwareResource>> {
        self.engine.find_resources(hd, &self.prefs)
    }

    pub fn submit(&self, jd: &JobDescription) -> Result<Job> {
        self.engine.submit(jd, &self.prefs)
    }
}
