//! The checkpoint store: numbered generations of a job's state under
//! `<state>/jobs/<id>/ckpt/<generation>/`, each a `files/` tree plus a `manifest`.
//!
//! A generation is assembled under a temporary name, every file and directory is fsynced, and
//! only then is it renamed into place: a crash leaves either the whole generation or none of it.
//! Hashes (BLAKE3) are computed while the bytes stream in, so large state is read once, and are
//! checked again before every restart; a corrupt generation is skipped for the one before it.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};

use super::manifest::{FileEntry, Manifest};
use crate::engine::error::{Error, Result};

/// Buffer for streaming copies: large enough that syscalls do not dominate, small enough to stay
/// in cache.
const CHUNK: usize = 1 << 20;
const PENDING_PREFIX: &str = ".pending-";

#[derive(Debug, Clone)]
pub struct CheckpointStore {
    root: PathBuf,
    keep: usize,
}

/// A generation being written; nothing is visible to readers until `publish` (or `commit`).
pub struct PendingGeneration {
    store: CheckpointStore,
    generation: u32,
    dir: PathBuf,
    files: Vec<FileEntry>,
    /// fsyncs of moved-in files, running while other work goes on.
    syncs: Vec<std::thread::JoinHandle<io::Result<()>>>,
    manifest: Option<Manifest>,
    durable: bool,
    committed: bool,
}

impl CheckpointStore {
    /// Open (creating) the store at `root`, keeping the newest `keep` (at least 1) good
    /// generations. Leftovers of an interrupted write are removed.
    pub fn open(root: impl Into<PathBuf>, keep: usize) -> Result<Self> {
        let root = root.into();
        fs::create_dir_all(&root).map_err(|e| io_err(&root, "create the checkpoint directory", e))?;
        let store = CheckpointStore { root, keep: keep.max(1) };
        store.remove_pending()?;
        Ok(store)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Committed generation numbers, oldest first.
    pub fn generations(&self) -> Result<Vec<u32>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.root).map_err(|e| io_err(&self.root, "list checkpoints", e))? {
            let entry = entry.map_err(|e| io_err(&self.root, "list checkpoints", e))?;
            if let Some(n) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) {
                out.push(n);
            }
        }
        out.sort_unstable();
        Ok(out)
    }

    /// The directory holding generation `generation`'s files.
    pub fn files_dir(&self, generation: u32) -> PathBuf {
        self.generation_dir(generation).join("files")
    }

    fn generation_dir(&self, generation: u32) -> PathBuf {
        self.root.join(format!("{generation:08}"))
    }

    /// Start the next generation.
    pub fn begin(&self) -> Result<PendingGeneration> {
        let generation = self.generations()?.last().map_or(1, |g| g + 1);
        let dir = self.root.join(format!("{PENDING_PREFIX}{generation:08}"));
        if dir.exists() {
            fs::remove_dir_all(&dir).map_err(|e| io_err(&dir, "clear a stale pending checkpoint", e))?;
        }
        fs::create_dir_all(dir.join("files")).map_err(|e| io_err(&dir, "create a pending checkpoint", e))?;
        Ok(PendingGeneration {
            store: self.clone(),
            generation,
            dir,
            files: Vec::new(),
            syncs: Vec::new(),
            manifest: None,
            durable: false,
            committed: false,
        })
    }

    /// Read and verify generation `generation`: the manifest parses and every file has its
    /// recorded size and hash.
    pub fn verify(&self, generation: u32) -> Result<Manifest> {
        let dir = self.generation_dir(generation);
        let text = fs::read_to_string(dir.join("manifest")).map_err(|e| {
            Error::CheckpointCorrupt(format!("checkpoint generation {generation}: manifest unreadable: {e}"))
        })?;
        let manifest = Manifest::parse(&text).map_err(|m| {
            Error::CheckpointCorrupt(format!("checkpoint generation {generation}: manifest malformed: {m}"))
        })?;
        if manifest.generation != generation {
            return Err(Error::CheckpointCorrupt(format!(
                "checkpoint generation {generation}: manifest says generation {}",
                manifest.generation
            )));
        }
        for f in &manifest.files {
            let path = dir.join("files").join(&f.path);
            let (size, hash) = hash_file(&path).map_err(|e| {
                Error::CheckpointCorrupt(format!("checkpoint generation {generation}: {}: {e}", f.path))
            })?;
            if size != f.size || hash != f.blake3 {
                return Err(Error::CheckpointCorrupt(format!(
                    "checkpoint generation {generation}: {} changed (size {size}, expected {}; hash {})",
                    f.path,
                    f.size,
                    if hash == f.blake3 { "matches" } else { "differs" }
                )));
            }
        }
        Ok(manifest)
    }

    /// The newest generation that verifies, with the reasons older ones were skipped.
    /// GAT_NO_CHECKPOINT when there is none at all, GAT_CHECKPOINT_CORRUPT when all are corrupt.
    pub fn latest_good(&self) -> Result<(Manifest, Vec<String>)> {
        let generations = self.generations()?;
        if generations.is_empty() {
            return Err(Error::NoCheckpoint(format!("no checkpoint in {}", self.root.display())));
        }
        let mut skipped = Vec::new();
        for &g in generations.iter().rev() {
            match self.verify(g) {
                Ok(m) => return Ok((m, skipped)),
                Err(e) => {
                    tracing::warn!(target: "gat::checkpoint", "skipping corrupt checkpoint: {e}");
                    skipped.push(e.to_string());
                }
            }
        }
        Err(Error::CheckpointCorrupt(format!("every checkpoint failed verification: {}", skipped.join("; "))))
    }

    /// Remove all but the newest `keep` generations.
    fn prune(&self) -> Result<()> {
        let generations = self.generations()?;
        let excess = generations.len().saturating_sub(self.keep);
        for &g in &generations[..excess] {
            let dir = self.generation_dir(g);
            fs::remove_dir_all(&dir).map_err(|e| io_err(&dir, "prune an old checkpoint", e))?;
        }
        Ok(())
    }

    fn remove_pending(&self) -> Result<()> {
        for entry in fs::read_dir(&self.root).map_err(|e| io_err(&self.root, "list checkpoints", e))? {
            let entry = entry.map_err(|e| io_err(&self.root, "list checkpoints", e))?;
            if entry.file_name().to_string_lossy().starts_with(PENDING_PREFIX) {
                let p = entry.path();
                fs::remove_dir_all(&p).map_err(|e| io_err(&p, "remove an interrupted checkpoint", e))?;
            }
        }
        Ok(())
    }
}

impl PendingGeneration {
    pub fn generation(&self) -> u32 {
        self.generation
    }

    /// Copy `from` into the generation as `rel`, hashing while copying.
    pub fn copy_in(&mut self, rel: &Path, from: &Path) -> Result<()> {
        let dest = self.destination(rel)?;
        let (size, hash) = copy_hashing(from, &dest).map_err(|e| io_err(from, "copy state into the checkpoint", e))?;
        self.files.push(FileEntry { path: rel_string(rel), size, blake3: hash });
        Ok(())
    }

    /// Move `from` into the generation as `rel` (no copy: `from` must be on the same file system
    /// and no longer written), hashing it once.
    pub fn move_in(&mut self, rel: &Path, from: &Path) -> Result<()> {
        let dest = self.destination(rel)?;
        fs::rename(from, &dest).map_err(|e| io_err(from, "move state into the checkpoint", e))?;
        // Hashing is CPU work and the fsync disk work: the fsync goes on in the background and
        // is waited for before the generation is published.
        let to_sync = dest.clone();
        self.syncs.push(std::thread::spawn(move || File::open(&to_sync).and_then(|f| f.sync_all())));
        let (size, hash) = hash_file(&dest).map_err(|e| io_err(&dest, "hash checkpoint state", e))?;
        self.files.push(FileEntry { path: rel_string(rel), size, blake3: hash });
        Ok(())
    }

    /// Store `rel` from `src`, exactly `size` bytes, hashing them on the way, while `pass_on`
    /// reads the same bytes as they arrive (to send them elsewhere: a migration streams its
    /// state to the target through here, so the store and the target get it in one pass).
    /// Whatever `pass_on` leaves unread is drained into the store after it returns, so the
    /// generation is complete even when `pass_on` failed. Err when the bytes could not all be
    /// stored (the generation must then not be published); else `pass_on`'s own outcome.
    pub fn stream_in<R>(
        &mut self,
        rel: &Path,
        size: u64,
        src: &mut dyn Read,
        pass_on: impl FnOnce(&mut dyn Read) -> R,
    ) -> Result<R> {
        let dest = self.destination(rel)?;
        let file = File::create(&dest).map_err(|e| io_err(&dest, "create checkpoint state", e))?;
        let mut tee = Tee::new(src, file, size).map_err(|e| io_err(&dest, "start the checkpoint writer", e))?;
        let passed = pass_on(&mut tee);
        // The rest (all of it when pass_on gave up early) still belongs in the store.
        let drained = io::copy(&mut tee, &mut io::sink());
        let finished = tee.finish();
        let (count, hash, file) = match (drained, finished) {
            (Ok(_), Ok(done)) => done,
            (Err(e), _) | (_, Err(e)) => return Err(io_err(&dest, "stream state into the checkpoint", e)),
        };
        if count != size {
            return Err(Error::CheckpointCorrupt(format!(
                "checkpoint state {}: {count} bytes arrived where {size} were announced",
                rel.display()
            )));
        }
        self.syncs.push(std::thread::spawn(move || file.sync_all()));
        self.files.push(FileEntry { path: rel_string(rel), size, blake3: hash });
        Ok(passed)
    }

    fn destination(&self, rel: &Path) -> Result<PathBuf> {
        let clean = rel.components().all(|c| matches!(c, Component::Normal(_)));
        if !clean || rel.as_os_str().is_empty() {
            return Err(Error::InvalidParameter(format!(
                "checkpoint file name '{}' must be a relative path without '..'",
                rel.display()
            )));
        }
        if self.files.iter().any(|f| Path::new(&f.path) == rel) {
            return Err(Error::InvalidParameter(format!("checkpoint file '{}' given twice", rel.display())));
        }
        let dest = self.dir.join("files").join(rel);
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent).map_err(|e| io_err(parent, "create a checkpoint directory", e))?;
        }
        Ok(dest)
    }

    /// Write the manifest, make everything durable, and publish the generation. `manifest`'s
    /// generation and files are filled in here.
    pub fn commit(mut self, manifest: Manifest) -> Result<Manifest> {
        self.seal(manifest)?;
        self.publish()
    }

    /// Write the manifest (`manifest`'s generation and files are filled in here). The
    /// generation is complete but neither durable nor visible yet.
    pub fn seal(&mut self, mut manifest: Manifest) -> Result<Manifest> {
        manifest.generation = self.generation;
        manifest.files = std::mem::take(&mut self.files);
        let path = self.dir.join("manifest");
        fs::write(&path, manifest.render()).map_err(|e| io_err(&path, "write the manifest", e))?;
        self.manifest = Some(manifest.clone());
        Ok(manifest)
    }

    /// Where the sealed generation's files are until it is published (read them, don't write).
    pub fn files_dir(&self) -> PathBuf {
        self.dir.join("files")
    }

    /// fsync every file and directory of the sealed generation. Only reads its tree, so it may
    /// run while the files are being copied elsewhere.
    pub fn make_durable(&mut self) -> Result<()> {
        for sync in self.syncs.drain(..) {
            joined(sync).map_err(|e| io_err(&self.dir, "fsync checkpoint state", e))?;
        }
        let path = self.dir.join("manifest");
        File::open(&path).and_then(|f| f.sync_all()).map_err(|e| io_err(&path, "fsync the manifest", e))?;
        sync_tree_dirs(&self.dir).map_err(|e| io_err(&self.dir, "fsync the checkpoint", e))?;
        self.durable = true;
        Ok(())
    }

    /// Make the sealed generation durable (if not yet) and visible under its number.
    pub fn publish(mut self) -> Result<Manifest> {
        let manifest = self
            .manifest
            .clone()
            .ok_or_else(|| Error::Failed(format!("checkpoint generation {} published before it was sealed", self.generation)))?;
        if !self.durable {
            self.make_durable()?;
        }
        let final_dir = self.store.generation_dir(self.generation);
        fs::rename(&self.dir, &final_dir).map_err(|e| io_err(&final_dir, "publish the checkpoint", e))?;
        sync_dir(&self.store.root).map_err(|e| io_err(&self.store.root, "fsync the checkpoint directory", e))?;
        self.committed = true;
        self.store.prune()?;
        Ok(manifest)
    }
}

impl Drop for PendingGeneration {
    fn drop(&mut self) {
        for sync in self.syncs.drain(..) {
            let _ = sync.join();
        }
        if !self.committed {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// Bytes written between two background `fdatasync`s of a streamed file: the disk writes it
/// while the rest streams in, so the final fsync has little left to wait for.
const SYNC_EVERY: u64 = 64 << 20;

/// Reads from a source and, on the way, hashes the bytes and writes them to a file; refuses
/// more bytes than announced.
struct Tee<'a> {
    src: &'a mut dyn Read,
    file: Option<File>,
    hasher: blake3::Hasher,
    size: u64,
    count: u64,
    failed: Option<io::Error>,
    synced_at: u64,
    /// Asks the background syncer for an fdatasync of what was written so far.
    sync_now: Option<std::sync::mpsc::Sender<()>>,
    syncer: Option<std::thread::JoinHandle<io::Result<()>>>,
}

impl<'a> Tee<'a> {
    fn new(src: &'a mut dyn Read, file: File, size: u64) -> io::Result<Tee<'a>> {
        let (sync_now, requests) = std::sync::mpsc::channel::<()>();
        let to_sync = file.try_clone()?;
        let syncer = std::thread::spawn(move || {
            while requests.recv().is_ok() {
                while requests.try_recv().is_ok() {} // coalesce
                to_sync.sync_data()?;
            }
            Ok(())
        });
        Ok(Tee {
            src,
            file: Some(file),
            hasher: blake3::Hasher::new(),
            size,
            count: 0,
            failed: None,
            synced_at: 0,
            sync_now: Some(sync_now),
            syncer: Some(syncer),
        })
    }

    /// Remember the first failure (every later read repeats it) and hand `e` back.
    fn fail(&mut self, e: io::Error) -> io::Error {
        self.failed = Some(io::Error::new(e.kind(), e.to_string()));
        e
    }

    /// (bytes, hash, the file) once the source is exhausted; the first error otherwise.
    fn finish(mut self) -> io::Result<(u64, String, File)> {
        drop(self.sync_now.take());
        let synced = self.syncer.take().map(joined).unwrap_or(Ok(()));
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        synced?;
        let file = self.file.take().ok_or_else(|| io::Error::other("the checkpoint file was closed"))?;
        Ok((self.count, self.hasher.finalize().to_hex().to_string(), file))
    }
}

impl Read for Tee<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(e) = &self.failed {
            return Err(io::Error::new(e.kind(), e.to_string()));
        }
        let n = match self.src.read(buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Err(e),
            Err(e) => return Err(self.fail(e)),
        };
        if self.count + n as u64 > self.size {
            let e = io::Error::new(io::ErrorKind::InvalidData, format!("more than the {} bytes announced", self.size));
            return Err(self.fail(e));
        }
        self.hasher.update(&buf[..n]);
        let written = match self.file.as_mut() {
            Some(f) => f.write_all(&buf[..n]),
            None => Err(io::Error::other("the checkpoint file was closed")),
        };
        if let Err(e) = written {
            return Err(self.fail(e));
        }
        self.count += n as u64;
        if self.count - self.synced_at >= SYNC_EVERY {
            self.synced_at = self.count;
            if let Some(tx) = &self.sync_now {
                let _ = tx.send(());
            }
        }
        Ok(n)
    }
}

impl Drop for Tee<'_> {
    fn drop(&mut self) {
        drop(self.sync_now.take());
        if let Some(t) = self.syncer.take() {
            let _ = t.join();
        }
    }
}

/// The outcome of a background fsync thread.
fn joined(sync: std::thread::JoinHandle<io::Result<()>>) -> io::Result<()> {
    sync.join().unwrap_or_else(|_| Err(io::Error::other("the fsync thread panicked")))
}

fn rel_string(rel: &Path) -> String {
    rel.to_string_lossy().into_owned()
}

fn io_err(path: &Path, doing: &str, e: io::Error) -> Error {
    Error::Io(format!("cannot {doing} ({}): {e}", path.display()))
}

/// Size and BLAKE3 hash (hex) of a file, reading it once.
pub fn hash_file(path: &Path) -> io::Result<(u64, String)> {
    stream_hashing(path, None)
}

/// Copy `from` to `to` (fsynced), hashing the bytes on the way.
pub fn copy_hashing(from: &Path, to: &Path) -> io::Result<(u64, String)> {
    let mut dst = File::create(to)?;
    let result = stream_hashing(from, Some(&mut dst))?;
    dst.sync_all()?;
    Ok(result)
}

/// Read `from` once, hashing it and writing each chunk to `sink` when there is one.
fn stream_hashing(from: &Path, mut sink: Option<&mut File>) -> io::Result<(u64, String)> {
    let mut src = File::open(from)?;
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; CHUNK];
    let mut size = 0u64;
    loop {
        let n = src.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        if let Some(dst) = sink.as_mut() {
            dst.write_all(&buf[..n])?;
        }
        size += n as u64;
    }
    Ok((size, hasher.finalize().to_hex().to_string()))
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// fsync every directory below and including `dir` (files are synced as they are written).
fn sync_tree_dirs(dir: &Path) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            sync_tree_dirs(&entry.path())?;
        }
    }
    sync_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        Manifest {
            generation: 0,
            time: 1_700_000_000.5,
            mechanism: "cooperative".into(),
            source_resource: "local:".into(),
            restart_arguments: vec!["--restart".into(), "with space".into()],
            files: vec![],
        }
    }

    fn write(dir: &Path, name: &str, body: &[u8]) -> PathBuf {
        let p = dir.join(name);
        fs::write(&p, body).unwrap();
        p
    }

    #[test]
    fn generations_commit_verify_and_prune() {
        let tmp = tempfile::tempdir().unwrap();
        let store = CheckpointStore::open(tmp.path().join("ckpt"), 2).unwrap();
        assert!(matches!(store.latest_good(), Err(Error::NoCheckpoint(_))));
        for i in 0..3u8 {
            let src = write(tmp.path(), "state", &[i; 1000]);
            let mut pending = store.begin().unwrap();
            pending.copy_in(Path::new("state"), &src).unwrap();
            let m = pending.commit(manifest()).unwrap();
            assert_eq!(m.generation, u32::from(i) + 1);
        }
        assert_eq!(store.generations().unwrap(), vec![2, 3]);
        let (m, skipped) = store.latest_good().unwrap();
        assert_eq!((m.generation, skipped.len()), (3, 0));
        assert_eq!(m.restart_arguments, manifest().restart_arguments);
        assert_eq!(fs::read(store.files_dir(3).join("state")).unwrap(), vec![2u8; 1000]);
    }

    #[test]
    fn corrupt_generation_falls_back_then_reports_corrupt() {
        let tmp = tempfile::tempdir().unwrap();
        let store = CheckpointStore::open(tmp.path().join("ckpt"), 3).unwrap();
        for i in 0..2u8 {
            let src = write(tmp.path(), "state", &[i; 64]);
            let mut pending = store.begin().unwrap();
            pending.move_in(Path::new("sub/state"), &src).unwrap();
            pending.commit(manifest()).unwrap();
        }
        // Truncate the newest: the one before is used, and the skip is reported.
        fs::write(store.files_dir(2).join("sub/state"), b"short").unwrap();
        let (m, skipped) = store.latest_good().unwrap();
        assert_eq!(m.generation, 1);
        assert_eq!(skipped.len(), 1, "{skipped:?}");
        // Flip a byte in the older one too (same size): nothing good is left.
        fs::write(store.files_dir(1).join("sub/state"), [9u8; 64]).unwrap();
        assert!(matches!(store.latest_good(), Err(Error::CheckpointCorrupt(_))));
        // A missing file is corrupt as well.
        fs::remove_file(store.files_dir(1).join("sub/state")).unwrap();
        assert!(matches!(store.verify(1), Err(Error::CheckpointCorrupt(_))));
    }

    #[test]
    fn interrupted_generation_is_invisible_and_cleaned() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("ckpt");
        {
            let store = CheckpointStore::open(&root, 2).unwrap();
            let src = write(tmp.path(), "state", b"abc");
            let mut pending = store.begin().unwrap();
            pending.copy_in(Path::new("state"), &src).unwrap();
            std::mem::forget(pending); // as if the process died before commit
            assert!(store.generations().unwrap().is_empty());
        }
        let store = CheckpointStore::open(&root, 2).unwrap();
        assert_eq!(fs::read_dir(&root).unwrap().count(), 0);
        assert!(matches!(store.latest_good(), Err(Error::NoCheckpoint(_))));
    }

    #[test]
    fn streamed_state_is_passed_on_and_stored_in_one_pass() {
        let tmp = tempfile::tempdir().unwrap();
        let store = CheckpointStore::open(tmp.path().join("ckpt"), 2).unwrap();
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
        let mut pending = store.begin().unwrap();
        let mut passed = Vec::new();
        let mut src = &data[..];
        let r = pending
            .stream_in(Path::new(".gat/restart"), data.len() as u64, &mut src, |r| r.read_to_end(&mut passed))
            .unwrap();
        assert_eq!(r.unwrap(), data.len());
        assert!(passed == data);
        let m = pending.commit(manifest()).unwrap();
        assert_eq!(m.files[0].blake3, blake3::hash(&data).to_hex().to_string());
        assert_eq!(m.files[0].size, data.len() as u64);
        assert!(fs::read(store.files_dir(1).join(".gat/restart")).unwrap() == data);
        store.verify(1).unwrap();

        // The receiver gives up after a few bytes: the store still gets everything.
        let mut pending = store.begin().unwrap();
        let mut src = &data[..];
        let r = pending.stream_in(Path::new("s"), data.len() as u64, &mut src, |r| {
            let mut some = [0u8; 10];
            r.read_exact(&mut some).and(Err::<(), _>(io::Error::other("target unreachable")))
        });
        assert!(r.unwrap().is_err());
        pending.commit(manifest()).unwrap();
        assert!(fs::read(store.files_dir(2).join("s")).unwrap() == data);
    }

    #[test]
    fn a_short_or_long_stream_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let store = CheckpointStore::open(tmp.path().join("ckpt"), 2).unwrap();
        let data = vec![7u8; 100_000];
        for (announced, what) in [(data.len() as u64 + 1, "short"), (data.len() as u64 - 1, "long")] {
            let mut pending = store.begin().unwrap();
            let mut src = &data[..];
            let mut passed = Vec::new();
            let r = pending.stream_in(Path::new("s"), announced, &mut src, |r| r.read_to_end(&mut passed));
            assert!(r.is_err(), "a {what} stream was stored");
        }
        assert!(store.generations().unwrap().is_empty());
    }

    #[test]
    fn file_names_must_stay_inside_the_generation() {
        let tmp = tempfile::tempdir().unwrap();
        let store = CheckpointStore::open(tmp.path().join("ckpt"), 2).unwrap();
        let src = write(tmp.path(), "state", b"abc");
        let mut pending = store.begin().unwrap();
        assert!(pending.copy_in(Path::new("../escape"), &src).is_err());
        assert!(pending.copy_in(Path::new("/abs"), &src).is_err());
        pending.copy_in(Path::new("ok"), &src).unwrap();
        assert!(pending.copy_in(Path::new("ok"), &src).is_err());
    }
}
