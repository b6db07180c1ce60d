//! The journal: one SQLite database per state directory (`<state>/journal.sqlite`) with one row
//! per job, shared by every process that uses the same state directory. Jobs outlive the process
//! that submitted them; a later process re-attaches from here. Writes are short single-row
//! statements; queries of a live job never come here (they answer from memory).
//!
//! News from adaptors (a job's end, a poll's answer) is written a little later (`save_soon`),
//! in one transaction with whatever else is waiting: on the ext4 of our machines each
//! transaction costs about as much CPU as a tenth of a short job (locks, WAL writes). The row
//! of a fresh job and every change libgat itself makes are written at once (`save`), taking the
//! waiting rows along. The news is never lost by the delay: what ended a job is recorded by its
//! adaptor (a record log, an exit file), and a process that finds a job Running in the journal
//! asks the adaptor; this process reads its own waiting rows (`load`).

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::error::{Error, Result};
use super::job::JobState;

/// The schema this code writes (PRAGMA user_version).
const SCHEMA_VERSION: i64 = 1;

const CREATE: &str = "CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    adaptor TEXT NOT NULL,
    resource TEXT NOT NULL,
    contact TEXT NOT NULL,
    native_id TEXT NOT NULL,
    native_data TEXT NOT NULL,
    hostname TEXT NOT NULL,
    description TEXT NOT NULL,
    state TEXT NOT NULL,
    state_reason TEXT,
    stopreason TEXT,
    exitcode INTEGER,
    signal INTEGER,
    schedule_time REAL,
    start_time REAL,
    stop_time REAL,
    checkpoint_generation INTEGER NOT NULL DEFAULT 0,
    predecessor TEXT,
    successor TEXT,
    selection_reason TEXT NOT NULL,
    post_stage_errors TEXT,
    checkpoint_time REAL,
    workdir TEXT
);
CREATE TABLE IF NOT EXISTS operations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job TEXT NOT NULL,
    kind TEXT NOT NULL,
    phase TEXT NOT NULL,
    target TEXT,
    successor TEXT,
    frozen INTEGER NOT NULL DEFAULT 0,
    outcome TEXT,
    started REAL NOT NULL,
    owner_pid INTEGER NOT NULL
)";

/// Everything the journal keeps about one job; also the job's in-memory record.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct JobRecord {
    pub id: String,
    pub adaptor: String,
    /// Resource name.
    pub resource: String,
    /// Resource contact (`local:`, `ssh://...`).
    pub contact: String,
    pub native_id: String,
    /// Adaptor-private data to find the job again.
    pub native_data: String,
    pub hostname: String,
    /// The software description table, as `tablecodec` JSON.
    pub description: String,
    pub state: JobState,
    /// Why the state is Unknown, or how a lost job was lost.
    pub state_reason: Option<String>,
    /// `exited`, `stopped`, `failed`, `lost`, `migrated`.
    pub stop_reason: Option<String>,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub schedule_time: Option<f64>,
    pub start_time: Option<f64>,
    pub stop_time: Option<f64>,
    pub checkpoint_generation: i64,
    pub predecessor: Option<String>,
    pub successor: Option<String>,
    pub selection_reason: String,
    /// What went wrong copying the post-staged files back, if anything.
    pub post_stage_errors: Option<String>,
    /// When the newest checkpoint generation was taken.
    pub checkpoint_time: Option<f64>,
    /// The job's working directory on its host, when libgat chose it (checkpointable jobs).
    pub workdir: Option<String>,
    /// A checkpoint is being taken right now (in memory only).
    pub checkpointing: bool,
}

/// One checkpoint-and-move operation (migrate or clone), journalled phase by phase so that a
/// process that dies in the middle leaves enough for the next one to finish or roll back.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Operation {
    pub id: i64,
    pub job: String,
    /// `migrate` or `clone`.
    pub kind: String,
    /// The last phase begun: `checkpoint`, `frozen`, `select`, `place`, `confirm`, `commit`.
    pub phase: String,
    pub target: Option<String>,
    pub successor: Option<String>,
    /// The original was frozen (SIGSTOP) and must be thawed on rollback.
    pub frozen: bool,
    /// None while in progress; then `committed`, `rolled-back`, or `recovered: ...`.
    pub outcome: Option<String>,
    pub started: f64,
    pub owner_pid: i64,
}

pub struct Journal {
    shared: Arc<Shared>,
    flusher: Mutex<Option<std::thread::JoinHandle<()>>>,
}

struct Shared {
    conn: Mutex<Connection>,
    /// Rows to write soon, the newest of each job (always taken with `conn` held, so that a
    /// row never overtakes a newer one of the same job).
    waiting: Mutex<Waiting>,
    wake: Condvar,
}

#[derive(Default)]
struct Waiting {
    rows: HashMap<String, JobRecord>,
    closing: bool,
}

/// How long the flusher lets rows gather before it writes them.
const GATHER: Duration = Duration::from_millis(5);

impl Journal {
    /// Open (creating if needed) the journal at `path`.
    pub fn open(path: &Path) -> Result<Journal> {
        let at = |e: rusqlite::Error| Error::Journal(format!("{}: {e}", path.display()));
        let conn = Connection::open(path).map_err(at)?;
        // Several processes share the file: wait for a writer rather than failing at once.
        conn.busy_timeout(Duration::from_secs(10)).map_err(at)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(at)?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(at)?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(at)?;
        if version > SCHEMA_VERSION {
            return Err(Error::Journal(format!(
                "{}: schema version {version} is newer than this libgat understands ({SCHEMA_VERSION})",
                path.display()
            )));
        }
        conn.execute_batch(CREATE).map_err(at)?;
        conn.pragma_update(None, "user_version", SCHEMA_VERSION).map_err(at)?;
        let shared = Arc::new(Shared { conn: Mutex::new(conn), waiting: Default::default(), wake: Condvar::new() });
        Ok(Journal { shared, flusher: Mutex::new(None) })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.shared.conn()
    }

    /// Write the job's row now (inserting or updating it), with the rows waiting to be written.
    pub fn save(&self, r: &JobRecord) -> Result<()> {
        self.shared.write_waiting(Some(r))
    }

    /// Write the job's row soon, with others (see the module's documentation).
    pub fn save_soon(&self, r: JobRecord) {
        self.shared.lock_waiting().rows.insert(r.id.clone(), r);
        self.shared.wake.notify_one();
        let mut flusher = self.flusher.lock().unwrap_or_else(|e| e.into_inner());
        if flusher.is_none() {
            let shared = Arc::clone(&self.shared);
            match std::thread::Builder::new().name("gat-journal".into()).spawn(move || shared.flush_loop()) {
                Ok(handle) => *flusher = Some(handle),
                // No thread: write now.
                Err(_) => {
                    drop(flusher);
                    if let Err(e) = self.flush() {
                        tracing::warn!(target: "gat::engine", "{e}");
                    }
                }
            }
        }
    }

    /// Write the waiting rows now.
    pub fn flush(&self) -> Result<()> {
        self.shared.write_waiting(None)
    }

    /// The job's row (a waiting one first), None when the journal does not know the id.
    pub fn load(&self, id: &str) -> Result<Option<JobRecord>> {
        if let Some(row) = self.shared.lock_waiting().rows.get(id) {
            return Ok(Some(row.clone()));
        }
        self.conn()
            .prepare_cached("SELECT * FROM jobs WHERE id = ?1")?
            .query_row([id], row_record)
            .optional()
            .map_err(|e| Error::Journal(format!("reading job {id}: {e}")))
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        self.shared.lock_waiting().closing = true;
        self.shared.wake.notify_one();
        let flusher = self.flusher.get_mut().unwrap_or_else(|e| e.into_inner()).take();
        match flusher {
            Some(handle) => {
                let _ = handle.join();
            }
            None => {
                let _ = self.shared.write_waiting(None);
            }
        }
    }
}

impl Shared {
    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic mid-statement leaves SQLite consistent (it rolls back), so the lock is usable.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_waiting(&self) -> std::sync::MutexGuard<'_, Waiting> {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Write the waiting rows and `newest` (which replaces a waiting row of its job) in one
    /// transaction. Taken with the connection held, so that no row overtakes a newer one of the
    /// same job. Rows whose write failed wait again, unless a newer row of the same job came
    /// meanwhile (`newest` itself is in memory: the next write of its job carries it).
    fn write_waiting(&self, newest: Option<&JobRecord>) -> Result<()> {
        let conn = self.conn();
        let mut rows = std::mem::take(&mut self.lock_waiting().rows);
        let result = match newest {
            Some(r) => {
                rows.remove(&r.id);
                if rows.is_empty() {
                    return write_row(&conn, r);
                }
                write_rows(&conn, rows.values().chain(std::iter::once(r)))
            }
            None if rows.is_empty() => return Ok(()),
            None => write_rows(&conn, rows.values()),
        };
        if result.is_err() {
            let mut waiting = self.lock_waiting();
            for (id, row) in rows {
                waiting.rows.entry(id).or_insert(row);
            }
        }
        result
    }

    /// The flusher thread: write waiting rows a moment after they come, until the journal is
    /// dropped (then once more).
    fn flush_loop(&self) {
        loop {
            {
                let mut waiting = self.lock_waiting();
                while waiting.rows.is_empty() && !waiting.closing {
                    waiting = self.wake.wait(waiting).unwrap_or_else(|e| e.into_inner());
                }
                if waiting.closing {
                    drop(waiting);
                    if let Err(e) = self.write_waiting(None) {
                        tracing::warn!(target: "gat::engine", "{e}");
                    }
                    return;
                }
            }
            std::thread::sleep(GATHER);
            if let Err(e) = self.write_waiting(None) {
                tracing::warn!(target: "gat::engine", "{e} (retried with the next write)");
                // A journal that refuses writes (disk full) is not hammered.
                std::thread::sleep(Duration::from_secs(1));
            }
        }
    }
}

/// Write rows in one transaction.
fn write_rows<'a>(conn: &Connection, rows: impl Iterator<Item = &'a JobRecord>) -> Result<()> {
    let tx = conn.unchecked_transaction().map_err(|e| Error::Journal(format!("beginning a transaction: {e}")))?;
    for r in rows {
        write_row(&tx, r)?;
    }
    tx.commit().map_err(|e| Error::Journal(format!("committing jobs' rows: {e}")))
}

/// Write one job's row, inserting or updating it. An update in place (not OR REPLACE's delete
/// and insert) leaves the id index alone: fewer pages per transaction.
fn write_row(conn: &Connection, r: &JobRecord) -> Result<()> {
    conn
        .prepare_cached(
            "INSERT INTO jobs (id, adaptor, resource, contact, native_id, native_data,
             hostname, description, state, state_reason, stopreason, exitcode, signal,
             schedule_time, start_time, stop_time, checkpoint_generation, predecessor,
             successor, selection_reason, post_stage_errors, checkpoint_time, workdir)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23)
             ON CONFLICT(id) DO UPDATE SET adaptor = excluded.adaptor, resource = excluded.resource,
             contact = excluded.contact, native_id = excluded.native_id, native_data = excluded.native_data,
             hostname = excluded.hostname, description = excluded.description, state = excluded.state,
             state_reason = excluded.state_reason, stopreason = excluded.stopreason,
             exitcode = excluded.exitcode, signal = excluded.signal, schedule_time = excluded.schedule_time,
             start_time = excluded.start_time, stop_time = excluded.stop_time,
             checkpoint_generation = excluded.checkpoint_generation, predecessor = excluded.predecessor,
             successor = excluded.successor, selection_reason = excluded.selection_reason,
             post_stage_errors = excluded.post_stage_errors, checkpoint_time = excluded.checkpoint_time,
             workdir = excluded.workdir",
        )?
        .execute(params![
            r.id,
            r.adaptor,
            r.resource,
            r.contact,
            r.native_id,
            r.native_data,
            r.hostname,
            r.description,
            r.state.as_str(),
            r.state_reason,
            r.stop_reason,
            r.exit_code,
            r.signal,
            r.schedule_time,
            r.start_time,
            r.stop_time,
            r.checkpoint_generation,
            r.predecessor,
            r.successor,
            r.selection_reason,
            r.post_stage_errors,
            r.checkpoint_time,
            r.workdir,
        ])
        .map_err(|e| Error::Journal(format!("saving job {}: {e}", r.id)))?;
    Ok(())
}

fn row_record(row: &Row<'_>) -> rusqlite::Result<JobRecord> {
    let state: String = row.get("state")?;
    Ok(JobRecord {
        id: row.get("id")?,
        adaptor: row.get("adaptor")?,
        resource: row.get("resource")?,
        contact: row.get("contact")?,
        native_id: row.get("native_id")?,
        native_data: row.get("native_data")?,
        hostname: row.get("hostname")?,
        description: row.get("description")?,
        // A state name this build does not know is not guessed at.
        state: JobState::parse(&state).unwrap_or(JobState::Unknown),
        state_reason: row.get("state_reason")?,
        stop_reason: row.get("stopreason")?,
        exit_code: row.get("exitcode")?,
        signal: row.get("signal")?,
        schedule_time: row.get("schedule_time")?,
        start_time: row.get("start_time")?,
        stop_time: row.get("stop_time")?,
        checkpoint_generation: row.get("checkpoint_generation")?,
        predecessor: row.get("predecessor")?,
        successor: row.get("successor")?,
        selection_reason: row.get("selection_reason")?,
        post_stage_errors: row.get("post_stage_errors")?,
        checkpoint_time: row.get("checkpoint_time")?,
        workdir: row.get("workdir")?,
        checkpointing: false,
    })
}

fn row_operation(row: &Row<'_>) -> rusqlite::Result<Operation> {
    Ok(Operation {
        id: row.get("id")?,
        job: row.get("job")?,
        kind: row.get("kind")?,
        phase: row.get("phase")?,
        target: row.get("target")?,
        successor: row.get("successor")?,
        frozen: row.get::<_, i64>("frozen")? != 0,
        outcome: row.get("outcome")?,
        started: row.get("started")?,
        owner_pid: row.get("owner_pid")?,
    })
}

impl Journal {
    /// Record the intent to start an operation; returns its id.
    pub fn begin_operation(&self, op: &Operation) -> Result<i64> {
        let conn = self.conn();
        conn.prepare_cached(
            "INSERT INTO operations (job, kind, phase, target, successor, frozen, outcome, started, owner_pid)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL, ?7, ?8)",
        )?
        .execute(params![op.job, op.kind, op.phase, op.target, op.successor, op.frozen as i64, op.started, op.owner_pid])
        .map_err(|e| Error::Journal(format!("recording a {} of job {}: {e}", op.kind, op.job)))?;
        Ok(conn.last_insert_rowid())
    }

    /// Write an operation's progress (phase, target, successor, frozen, outcome).
    pub fn update_operation(&self, op: &Operation) -> Result<()> {
        self.conn()
            .prepare_cached(
                "UPDATE operations SET phase = ?2, target = ?3, successor = ?4, frozen = ?5, outcome = ?6,
                 owner_pid = ?7 WHERE id = ?1",
            )?
            .execute(params![op.id, op.phase, op.target, op.successor, op.frozen as i64, op.outcome, op.owner_pid])
            .map_err(|e| Error::Journal(format!("recording the {} of job {}: {e}", op.kind, op.job)))?;
        Ok(())
    }

    /// Operations not yet finished, oldest first.
    pub fn open_operations(&self) -> Result<Vec<Operation>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached("SELECT * FROM operations WHERE outcome IS NULL ORDER BY id")?;
        let rows = stmt.query_map([], row_operation)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| Error::Journal(format!("reading operations: {e}")))
    }

    /// Every operation of a job, oldest first.
    pub fn operations_of(&self, job: &str) -> Result<Vec<Operation>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached("SELECT * FROM operations WHERE job = ?1 ORDER BY id")?;
        let rows = stmt.query_map([job], row_operation)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| Error::Journal(format!("reading operations: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip_and_are_shared_between_connections() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.sqlite");
        let a = Journal::open(&path).unwrap();
        let b = Journal::open(&path).unwrap();
        let mut r = JobRecord {
            id: "gat-1".into(),
            adaptor: "local".into(),
            resource: "local:".into(),
            contact: "local:".into(),
            description: "{}".into(),
            state: JobState::Running,
            start_time: Some(1.5),
            selection_reason: "default".into(),
            ..Default::default()
        };
        a.save(&r).unwrap();
        assert_eq!(b.load("gat-1").unwrap().as_ref(), Some(&r));
        r.state = JobState::Stopped;
        r.exit_code = Some(3);
        r.stop_reason = Some("exited".into());
        r.post_stage_errors = Some("out.txt: no such file".into());
        b.save(&r).unwrap();
        assert_eq!(a.load("gat-1").unwrap(), Some(r));
        assert_eq!(a.load("nope").unwrap(), None);
    }

    #[test]
    fn rows_saved_soon_are_read_at_once_here_written_soon_and_never_overtake_newer_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.sqlite");
        let (a, b) = (Journal::open(&path).unwrap(), Journal::open(&path).unwrap());
        let row = |id: &str, state| JobRecord { id: id.into(), state, description: "{}".into(), ..Default::default() };
        a.save(&row("j1", JobState::Running)).unwrap();
        a.save_soon(row("j1", JobState::Stopped));
        assert_eq!(a.load("j1").unwrap().map(|r| r.state), Some(JobState::Stopped), "this process reads its waiting row");
        // Another process sees it once the flusher wrote it.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while b.load("j1").unwrap().map(|r| r.state) != Some(JobState::Stopped) {
            assert!(std::time::Instant::now() < deadline, "the waiting row was never written");
            std::thread::sleep(Duration::from_millis(2));
        }
        // A row written at once takes the waiting ones along, and a waiting row older than it
        // is dropped.
        a.save_soon(row("j2", JobState::Stopped));
        a.save_soon(row("j3", JobState::Running));
        a.save(&row("j3", JobState::Stopped)).unwrap();
        assert_eq!(b.load("j2").unwrap().map(|r| r.state), Some(JobState::Stopped));
        assert_eq!(b.load("j3").unwrap().map(|r| r.state), Some(JobState::Stopped));
        // Dropping the journal writes what waits.
        a.save_soon(row("j4", JobState::Stopped));
        drop(a);
        assert_eq!(b.load("j4").unwrap().map(|r| r.state), Some(JobState::Stopped));
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.sqlite");
        Connection::open(&path).unwrap().pragma_update(None, "user_version", 99).unwrap();
        assert!(matches!(Journal::open(&path), Err(Error::Journal(m)) if m.contains("99")));
    }
}
