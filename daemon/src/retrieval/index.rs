//! The persistent index of one workspace and its incremental update.
//!
//! ```text
//! $EDGECODER_INDEX_CACHE (default $XDG_CACHE_HOME/edgecoder/index, ~/.cache/edgecoder/index)
//! └── <16 hex digits of sha256(workspace path)>/
//!     ├── workspace.txt   the workspace's path, for humans
//!     ├── state.bin       files (size, mtime, sha256), chunks and their vectors; magic + sha256 + postcard
//!     ├── bm25/           the tantivy index; each commit's payload is the state generation
//!     └── .lock           held while an update runs
//! ```
//!
//! `state.bin` is written to a temporary file, synced and renamed, so a crash leaves the previous
//! state whole. The tantivy index is committed before the state; when the two generations differ
//! at the next open (a crash in between) or tantivy cannot open, the BM25 index is rebuilt from
//! the state. A state file that fails its checksum or does not decode is reported and the index
//! is rebuilt from the files.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::RetrievalError;
use super::bm25::Bm25;
use super::chunk::{self, Kind};
use super::walk::{self, Skipped};
use edgecoder_model::embed::Embedder;

const MAGIC: &[u8; 16] = b"EDGECODER-IDX-01";
const STATE: &str = "state.bin";
const BM25_DIR: &str = "bm25";
const LOCK: &str = ".lock";

/// Chunks embedded per call of the embedder (and per progress step).
const EMBED_BATCH: usize = 32;

/// One searchable chunk, as stored in the index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chunk {
    /// Unique within the index.
    pub id: u64,
    /// File path relative to the workspace.
    pub path: String,
    /// Code or documentation.
    pub kind: Kind,
    /// Definition name or heading path.
    pub name: String,
    /// First line, 1-based.
    pub start_line: u32,
    /// Last line, inclusive.
    pub end_line: u32,
    /// The chunk's text.
    pub text: String,
    /// Unit-length embedding, empty until embedded (or in BM25-only indexes).
    pub vector: Vec<f32>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct FileEntry {
    size: u64,
    mtime_ns: u128,
    sha256: [u8; 32],
    chunks: Vec<u64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct State {
    workspace: String,
    generation: u64,
    next_id: u64,
    files: BTreeMap<String, FileEntry>,
    chunks: BTreeMap<u64, Chunk>,
}

/// Where an update is, for progress bars.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Reading and chunking changed files (`done` of `total` files).
    Scan,
    /// Embedding new chunks (`done` of `total` chunks).
    Embed,
}

/// What an update did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct UpdateReport {
    /// Files found that are indexed.
    pub files: usize,
    /// Files (re-)chunked because they are new or their content changed.
    pub changed: usize,
    /// Files removed from the index (deleted, or no longer readable).
    pub removed: usize,
    /// Chunks in the index after the update.
    pub chunks: usize,
    /// Chunks embedded during this update.
    pub embedded: usize,
    /// Files skipped, with the reason.
    pub skipped: Vec<Skipped>,
    /// Recoveries done on open (a corrupt state file, a BM25 index rebuilt).
    pub notes: Vec<String>,
    /// Wall-clock seconds of the update.
    pub seconds: f64,
}

/// Options of an index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexOptions {
    /// Root of the per-workspace index folders; `None`: `$EDGECODER_INDEX_CACHE`, else
    /// `$XDG_CACHE_HOME/edgecoder/index`, else `~/.cache/edgecoder/index`.
    pub cache_root: Option<PathBuf>,
    /// Files larger than this are skipped.
    pub max_file_bytes: u64,
}

impl Default for IndexOptions {
    fn default() -> Self {
        IndexOptions { cache_root: None, max_file_bytes: 1 << 20 }
    }
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> RetrievalError {
    let context = context.into();
    move |source| RetrievalError::Io { context, source }
}

/// The default cache root (see [`IndexOptions::cache_root`]).
pub fn default_cache_root() -> Result<PathBuf, RetrievalError> {
    let var = |k| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(root) = var("EDGECODER_INDEX_CACHE") {
        return Ok(root);
    }
    let cache = var("XDG_CACHE_HOME")
        .or_else(|| var("HOME").map(|h| h.join(".cache")))
        .ok_or_else(|| RetrievalError::NoCache("set EDGECODER_INDEX_CACHE, XDG_CACHE_HOME or HOME".into()))?;
    Ok(cache.join("edgecoder/index"))
}

/// The index of one workspace: its chunks (with vectors) and the BM25 index over them.
pub struct Index {
    root: PathBuf,
    dir: PathBuf,
    options: IndexOptions,
    state: State,
    bm25: Bm25,
    notes: Vec<String>,
}

impl Index {
    /// Opens (or creates) the index of the workspace at `root`, recovering from a corrupt state
    /// file or a BM25 index out of step with it (the recoveries are in the next update's notes).
    pub fn open(root: &Path, options: IndexOptions) -> Result<Self, RetrievalError> {
        let root = root
            .canonicalize()
            .map_err(|e| RetrievalError::NoWorkspace { path: root.to_owned(), reason: e.to_string() })?;
        if !root.is_dir() {
            return Err(RetrievalError::NoWorkspace { path: root, reason: "not a directory".into() });
        }
        let cache_root = match &options.cache_root {
            Some(r) => r.clone(),
            None => default_cache_root()?,
        };
        let key: String = Sha256::digest(root.to_string_lossy().as_bytes()).iter().take(8).map(|b| format!("{b:02x}")).collect();
        let dir = cache_root.join(key);
        fs::create_dir_all(&dir).map_err(io(format!("cannot create the index folder {}", dir.display())))?;
        fs::write(dir.join("workspace.txt"), format!("{}\n", root.display())).map_err(io(format!("cannot write in {}", dir.display())))?;
        let mut notes = Vec::new();
        let state_path = dir.join(STATE);
        let state = match read_state(&state_path) {
            Ok(Some(s)) if s.workspace == root.to_string_lossy() => s,
            Ok(Some(_)) | Ok(None) => State { workspace: root.to_string_lossy().into_owned(), ..State::default() },
            Err(reason) => {
                let note = format!("the index at {} was corrupt ({reason}); rebuilding it from the files", state_path.display());
                tracing::warn!("{note}");
                notes.push(note);
                State { workspace: root.to_string_lossy().into_owned(), ..State::default() }
            }
        };
        let bm25_dir = dir.join(BM25_DIR);
        let mut bm25 = match Bm25::open(&bm25_dir) {
            Ok(b) => b,
            Err(e) => {
                notes.push(format!("the BM25 index could not be opened ({e}); rebuilding it"));
                fs::remove_dir_all(&bm25_dir).map_err(io(format!("cannot remove {}", bm25_dir.display())))?;
                Bm25::open(&bm25_dir)?
            }
        };
        if bm25.generation()? != Some(state.generation) {
            if !state.chunks.is_empty() {
                notes.push("the BM25 index was out of step with the index state (an interrupted update); rebuilt it".into());
            }
            let all: Vec<&Chunk> = state.chunks.values().collect();
            bm25.commit(true, &[], &all, state.generation)?;
        }
        Ok(Index { root, dir, options, state, bm25, notes })
    }

    /// The workspace root (canonical).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The folder holding this workspace's index.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Number of chunks.
    pub fn len(&self) -> usize {
        self.state.chunks.len()
    }

    /// Whether the index holds no chunk.
    pub fn is_empty(&self) -> bool {
        self.state.chunks.is_empty()
    }

    /// The chunk with `id`.
    pub fn chunk(&self, id: u64) -> Option<&Chunk> {
        self.state.chunks.get(&id)
    }

    /// All chunks.
    pub fn chunks(&self) -> impl Iterator<Item = &Chunk> {
        self.state.chunks.values()
    }

    /// The BM25 index.
    pub fn bm25(&self) -> &Bm25 {
        &self.bm25
    }

    /// Brings the index up to date with the files: re-chunks only files whose size or mtime
    /// changed and whose content hash differs, drops deleted files, and (with an `embedder`)
    /// embeds every chunk that has no vector yet.
    pub fn update(&mut self, embedder: Option<&Embedder>, progress: &mut dyn FnMut(Phase, usize, usize)) -> Result<UpdateReport, RetrievalError> {
        let _span = tracing::info_span!("index_update", workspace = %self.root.display()).entered();
        let start = Instant::now();
        let lock_path = self.dir.join(LOCK);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io(format!("cannot open {}", lock_path.display())))?;
        lock.lock().map_err(io(format!("cannot lock {}", lock_path.display())))?;

        let max = self.options.max_file_bytes;
        let (found, mut skipped) = walk::walk(&self.root, max);
        let mut report = UpdateReport { files: found.len(), notes: std::mem::take(&mut self.notes), ..UpdateReport::default() };
        let mut next = self.state.clone();
        let mut touched: BTreeSet<String> = BTreeSet::new();
        let mut added: Vec<u64> = Vec::new();
        let mut mtimes_changed = false;
        let seen: BTreeSet<&str> = found.iter().map(|f| f.rel.as_str()).collect();
        let total = found.len();
        for (i, f) in found.iter().enumerate() {
            progress(Phase::Scan, i, total);
            if let Some(old) = next.files.get(&f.rel)
                && old.size == f.size
                && old.mtime_ns == f.mtime_ns
            {
                continue;
            }
            let text = match walk::read_text(&f.path, max) {
                Ok(t) => t,
                Err(reason) => {
                    skipped.push(Skipped { path: f.rel.clone(), reason });
                    if let Some(old) = next.files.remove(&f.rel) {
                        old.chunks.iter().for_each(|id| drop(next.chunks.remove(id)));
                        touched.insert(f.rel.clone());
                        report.removed += 1;
                    }
                    continue;
                }
            };
            let sha256: [u8; 32] = Sha256::digest(text.as_bytes()).into();
            if let Some(old) = next.files.get_mut(&f.rel)
                && old.sha256 == sha256
            {
                old.size = f.size;
                old.mtime_ns = f.mtime_ns;
                mtimes_changed = true;
                continue;
            }
            if let Some(old) = next.files.remove(&f.rel) {
                old.chunks.iter().for_each(|id| drop(next.chunks.remove(id)));
            }
            let kind = f.format.kind();
            let mut ids = Vec::new();
            for piece in chunk::chunk(&text, f.format) {
                let id = next.next_id;
                next.next_id += 1;
                next.chunks.insert(id, Chunk {
                    id,
                    path: f.rel.clone(),
                    kind,
                    name: piece.name,
                    start_line: piece.start_line,
                    end_line: piece.end_line,
                    text: piece.text,
                    vector: Vec::new(),
                });
                ids.push(id);
            }
            added.extend(&ids);
            next.files.insert(f.rel.clone(), FileEntry { size: f.size, mtime_ns: f.mtime_ns, sha256, chunks: ids });
            touched.insert(f.rel.clone());
            report.changed += 1;
        }
        progress(Phase::Scan, total, total);
        let gone: Vec<String> = next.files.keys().filter(|p| !seen.contains(p.as_str())).cloned().collect();
        for path in gone {
            if let Some(old) = next.files.remove(&path) {
                old.chunks.iter().for_each(|id| drop(next.chunks.remove(id)));
            }
            touched.insert(path);
            report.removed += 1;
        }
        if let Some(embedder) = embedder {
            report.embedded = embed_missing(&mut next, embedder, progress)?;
        }
        let content_changed = !touched.is_empty();
        if content_changed {
            next.generation += 1;
            let removed: Vec<&str> = touched.iter().map(String::as_str).collect();
            let new_chunks: Vec<&Chunk> = added.iter().filter_map(|id| next.chunks.get(id)).collect();
            self.bm25.commit(false, &removed, &new_chunks, next.generation)?;
        }
        if content_changed || report.embedded > 0 || mtimes_changed {
            write_state(&self.dir.join(STATE), &next)?;
        }
        self.state = next;
        report.chunks = self.state.chunks.len();
        report.skipped = skipped;
        report.seconds = start.elapsed().as_secs_f64();
        tracing::info!(changed = report.changed, removed = report.removed, chunks = report.chunks, seconds = report.seconds, "index updated");
        Ok(report)
    }

    /// Whether every chunk has a vector (vector search is possible).
    pub fn has_vectors(&self) -> bool {
        self.state.chunks.values().all(|c| !c.vector.is_empty())
    }
}

/// Embeds the chunks without a vector; returns how many.
fn embed_missing(state: &mut State, embedder: &Embedder, progress: &mut dyn FnMut(Phase, usize, usize)) -> Result<usize, RetrievalError> {
    let todo: Vec<u64> = state.chunks.values().filter(|c| c.vector.is_empty()).map(|c| c.id).collect();
    let total = todo.len();
    for (n, batch) in todo.chunks(EMBED_BATCH).enumerate() {
        progress(Phase::Embed, n * EMBED_BATCH, total);
        let texts: Vec<String> = batch.iter().map(|id| embedding_text(&state.chunks[id])).collect();
        let vectors = embedder.embed(&texts)?;
        for (id, v) in batch.iter().zip(vectors) {
            if let Some(c) = state.chunks.get_mut(id) {
                c.vector = v;
            }
        }
    }
    progress(Phase::Embed, total, total);
    Ok(total)
}

/// What the embedder sees of a chunk: where it is and what it is called, then its text (the
/// embedder truncates to its window).
pub fn embedding_text(c: &Chunk) -> String {
    format!("{} {}\n{}", c.path, c.name, c.text)
}

/// Reads a state file: `Ok(None)` when there is none, `Err(reason)` when it is corrupt.
fn read_state(path: &Path) -> Result<Option<State>, String> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read it: {e}")),
    };
    if bytes.len() < MAGIC.len() + 32 || &bytes[..MAGIC.len()] != MAGIC {
        return Err("not an EdgeCoder index file (bad header)".into());
    }
    let (sum, body) = bytes[MAGIC.len()..].split_at(32);
    if Sha256::digest(body).as_slice() != sum {
        return Err("checksum mismatch".into());
    }
    postcard::from_bytes(body).map(Some).map_err(|e| format!("cannot decode it: {e}"))
}

/// Writes a state file atomically: temporary file, fsync, rename, fsync of the folder.
fn write_state(path: &Path, state: &State) -> Result<(), RetrievalError> {
    let body = postcard::to_allocvec(state).map_err(|e| RetrievalError::Io {
        context: "cannot encode the index state".into(),
        source: std::io::Error::other(e),
    })?;
    let tmp = path.with_extension("tmp");
    let mut f = File::create(&tmp).map_err(io(format!("cannot create {}", tmp.display())))?;
    f.write_all(MAGIC)
        .and_then(|()| f.write_all(&Sha256::digest(&body)))
        .and_then(|()| f.write_all(&body))
        .and_then(|()| f.sync_all())
        .map_err(io(format!("cannot write {}", tmp.display())))?;
    fs::rename(&tmp, path).map_err(io(format!("cannot move {} into place", path.display())))?;
    if let Some(dir) = path.parent() {
        File::open(dir).and_then(|d| d.sync_all()).map_err(io(format!("cannot sync {}", dir.display())))?;
    }
    Ok(())
}
