//! Retrieval over a workspace: what the agent reads before it plans and codes, and what
//! `edgecoder search`, the MCP tools `search_code` / `search_docs` / `get_snippet` serve.
//!
//! Files are cut along their syntax ([`chunk`]), indexed for BM25 with `tantivy` ([`bm25`]) and
//! embedded with all-MiniLM-L6-v2 run by Burn (`edgecoder_model::embed`). Vector search is a
//! brute-force cosine over all chunk vectors: at workspace scale (thousands of chunks, 384
//! floats each) that is a few milliseconds and needs no approximate index. The two rankings are
//! fused by reciprocal rank fusion ([`rrf`]). With `vectors = false` (small devices) only BM25
//! runs and no embedding model is loaded.
//!
//! The index is incremental and crash-safe ([`index`]): only files whose content changed are
//! re-chunked and re-embedded.
//!
//! ```no_run
//! use edgecoder_daemon::retrieval::{Mode, RetrievalConfig, Retriever, Scope};
//! let mut r = Retriever::open("/path/to/project".as_ref(), &RetrievalConfig::default())?;
//! r.update(&mut |_, _, _| {})?;
//! for hit in r.search("parse the config file", Scope::Code, Mode::Fused, 5)? {
//!     println!("{}:{}-{} {} ({:.3})", hit.path, hit.start_line, hit.end_line, hit.name, hit.score);
//! }
//! # Ok::<(), edgecoder_daemon::retrieval::RetrievalError>(())
//! ```

pub mod bm25;
pub mod chunk;
pub mod index;
pub mod measure;
pub mod walk;

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use edgecoder_model::embed::{EmbedError, Embedder};
use edgecoder_model::engine::Backend;
use serde::{Deserialize, Serialize};

pub use chunk::Kind;
pub use index::{Chunk, Index, IndexOptions, Phase, UpdateReport};

/// Candidates each ranking contributes before fusion.
const CANDIDATES: usize = 50;

/// The `k` of reciprocal rank fusion: `score = Σ 1 / (k + rank)` (the value of Cormack et al.).
pub const RRF_K: f32 = 60.0;

/// The most lines [`Retriever::get_snippet`] returns.
pub const MAX_SNIPPET_LINES: u32 = 200;

/// Errors of retrieval; each message names the fix.
#[derive(Debug, thiserror::Error)]
pub enum RetrievalError {
    /// The workspace folder does not exist or is not a folder.
    #[error("cannot index {path}: {reason}; pass an existing folder with --workspace")]
    NoWorkspace {
        /// The path given.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// No place for the index cache.
    #[error("cannot locate the index cache: {0}")]
    NoCache(String),
    /// A file-system error.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The BM25 index failed.
    #[error("BM25 index: {0}")]
    Bm25(String),
    /// Vector search was asked for but the embedding model is not available or turned off.
    #[error("vector search is not available: {0}")]
    NoVectors(String),
    /// The embedding model failed.
    #[error(transparent)]
    Embed(#[from] EmbedError),
    /// A `get_snippet` request that cannot be served.
    #[error("bad snippet request: {0}")]
    BadSnippet(String),
}

/// How to rank.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// BM25 over names and text (tantivy).
    Bm25,
    /// Cosine similarity of embeddings.
    Vector,
    /// BM25 and vector fused by reciprocal rank fusion.
    Fused,
}

impl Mode {
    /// `bm25`, `vector` or `fused`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Bm25 => "bm25",
            Mode::Vector => "vector",
            Mode::Fused => "fused",
        }
    }
}

/// Which chunks to search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Source code only.
    Code,
    /// Documentation only.
    Docs,
    /// Both.
    All,
}

impl Scope {
    fn kind(self) -> Option<Kind> {
        match self {
            Scope::Code => Some(Kind::Code),
            Scope::Docs => Some(Kind::Doc),
            Scope::All => None,
        }
    }
}

/// How retrieval is set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrievalConfig {
    /// Embed chunks and allow vector/fused search; `false` is BM25-only (small devices: no
    /// embedding model in memory, faster indexing). `$EDGECODER_RETRIEVAL=bm25` turns it off.
    pub vectors: bool,
    /// Backend of the embedding model.
    pub backend: Backend,
    /// Index location and limits.
    pub index: IndexOptions,
}

impl Default for RetrievalConfig {
    fn default() -> Self {
        let bm25_only = std::env::var("EDGECODER_RETRIEVAL").is_ok_and(|v| v.eq_ignore_ascii_case("bm25"));
        RetrievalConfig { vectors: !bm25_only, backend: Backend::default(), index: IndexOptions::default() }
    }
}

/// One search result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hit {
    /// File path relative to the workspace.
    pub path: String,
    /// Definition name or heading path.
    pub name: String,
    /// Code or documentation.
    pub kind: Kind,
    /// First line, 1-based.
    pub start_line: u32,
    /// Last line, inclusive.
    pub end_line: u32,
    /// The ranking's score (BM25 score, cosine, or fused RRF score).
    pub score: f32,
    /// The chunk's text.
    pub text: String,
}

/// Lines of a workspace file, read from the file as it is now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Snippet {
    /// File path relative to the workspace.
    pub path: String,
    /// First line returned, 1-based.
    pub start_line: u32,
    /// Last line returned.
    pub end_line: u32,
    /// Lines in the file.
    pub total_lines: u32,
    /// The lines.
    pub text: String,
}

/// Loads the embedding model from the model store.
pub fn load_embedder(backend: Backend) -> Result<Embedder, RetrievalError> {
    let id = edgecoder_ota::EMBEDDING_MODEL;
    let store = edgecoder_ota::ModelStore::from_env().map_err(|e| RetrievalError::NoVectors(e.to_string()))?;
    let path = store.path(id).map_err(|e| {
        RetrievalError::NoVectors(format!("{e} (or search with --mode bm25, or set EDGECODER_RETRIEVAL=bm25 for BM25 only)"))
    })?;
    let dir = path.parent().unwrap_or(Path::new("."));
    Ok(Embedder::load(dir, backend)?)
}

/// Reciprocal rank fusion of rankings (ids best first): `Σ 1 / (RRF_K + rank)`, rank from 1.
pub fn rrf(rankings: &[Vec<u64>]) -> Vec<(u64, f32)> {
    let mut scores: HashMap<u64, f32> = HashMap::new();
    for ranking in rankings {
        for (i, id) in ranking.iter().enumerate() {
            *scores.entry(*id).or_default() += 1.0 / (RRF_K + i as f32 + 1.0);
        }
    }
    let mut fused: Vec<(u64, f32)> = scores.into_iter().collect();
    fused.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    fused
}

/// A workspace's index with the embedding model (when vectors are on): the retrieval API.
pub struct Retriever {
    index: Index,
    embedder: Option<Arc<Embedder>>,
}

impl Retriever {
    /// Opens the index of `workspace` and, with `config.vectors`, loads the embedding model
    /// (an error names `edgecoder model pull all-minilm-l6-v2` when it is not installed).
    pub fn open(workspace: &Path, config: &RetrievalConfig) -> Result<Self, RetrievalError> {
        let embedder = if config.vectors { Some(Arc::new(load_embedder(config.backend)?)) } else { None };
        Ok(Retriever { index: Index::open(workspace, config.index.clone())?, embedder })
    }

    /// Opens the index of `workspace` with an embedder already loaded (or none: BM25 only).
    pub fn with_embedder(workspace: &Path, options: IndexOptions, embedder: Option<Arc<Embedder>>) -> Result<Self, RetrievalError> {
        Ok(Retriever { index: Index::open(workspace, options)?, embedder })
    }

    /// The index.
    pub fn index(&self) -> &Index {
        &self.index
    }

    /// Whether vector and fused search are available.
    pub fn has_vectors(&self) -> bool {
        self.embedder.is_some()
    }

    /// The best mode available: fused with vectors, else BM25.
    pub fn default_mode(&self) -> Mode {
        if self.has_vectors() { Mode::Fused } else { Mode::Bm25 }
    }

    /// Brings the index up to date (see [`Index::update`]); `progress` gets the phase, the
    /// work done and the total.
    pub fn update(&mut self, progress: &mut dyn FnMut(Phase, usize, usize)) -> Result<UpdateReport, RetrievalError> {
        self.index.update(self.embedder.as_deref(), progress)
    }

    /// The best `limit` chunks for `query`.
    pub fn search(&self, query: &str, scope: Scope, mode: Mode, limit: usize) -> Result<Vec<Hit>, RetrievalError> {
        let _span = tracing::info_span!("search", mode = mode.as_str(), ?scope, limit).entered();
        if query.trim().is_empty() {
            return Ok(Vec::new());
        }
        let kind = scope.kind();
        let scored: Vec<(u64, f32)> = match mode {
            Mode::Bm25 => self.index.bm25().search(query, kind, limit)?,
            Mode::Vector => {
                let mut v = self.vector_search(query, kind)?;
                v.truncate(limit);
                v
            }
            Mode::Fused => {
                let lexical: Vec<u64> = self.index.bm25().search(query, kind, CANDIDATES)?.into_iter().map(|(id, _)| id).collect();
                let semantic: Vec<u64> = self.vector_search(query, kind)?.into_iter().take(CANDIDATES).map(|(id, _)| id).collect();
                let mut fused = rrf(&[lexical, semantic]);
                fused.truncate(limit);
                fused
            }
        };
        Ok(scored
            .into_iter()
            .filter_map(|(id, score)| {
                let c = self.index.chunk(id)?;
                Some(Hit {
                    path: c.path.clone(),
                    name: c.name.clone(),
                    kind: c.kind,
                    start_line: c.start_line,
                    end_line: c.end_line,
                    score,
                    text: c.text.clone(),
                })
            })
            .collect())
    }

    /// Code chunks for `query`, with the best mode available.
    pub fn search_code(&self, query: &str, limit: usize) -> Result<Vec<Hit>, RetrievalError> {
        self.search(query, Scope::Code, self.default_mode(), limit)
    }

    /// Documentation chunks for `query`, with the best mode available.
    pub fn search_docs(&self, query: &str, limit: usize) -> Result<Vec<Hit>, RetrievalError> {
        self.search(query, Scope::Docs, self.default_mode(), limit)
    }

    /// All chunks of `kind` ranked by cosine similarity to `query`.
    fn vector_search(&self, query: &str, kind: Option<Kind>) -> Result<Vec<(u64, f32)>, RetrievalError> {
        let embedder = self
            .embedder
            .as_ref()
            .ok_or_else(|| RetrievalError::NoVectors("this index is BM25-only (vectors are off); use --mode bm25".into()))?;
        let q = embedder.embed(&[query])?.remove(0);
        let mut scored: Vec<(u64, f32)> = self
            .index
            .chunks()
            .filter(|c| kind.is_none_or(|k| c.kind == k) && c.vector.len() == q.len())
            .map(|c| (c.id, c.vector.iter().zip(&q).map(|(a, b)| a * b).sum()))
            .collect();
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        Ok(scored)
    }

    /// Lines of a workspace file: see [`get_snippet`].
    pub fn get_snippet(&self, path: &str, start_line: u32, end_line: u32) -> Result<Snippet, RetrievalError> {
        get_snippet(self.index.root(), path, start_line, end_line)
    }
}

/// Lines `start_line..=end_line` (1-based, clamped to the file, at most [`MAX_SNIPPET_LINES`])
/// of the file `path` of the workspace at `root`, read now. The path must be relative, stay
/// inside the workspace and not pass through a symbolic link.
pub fn get_snippet(root: &Path, path: &str, start_line: u32, end_line: u32) -> Result<Snippet, RetrievalError> {
    let bad = |m: String| RetrievalError::BadSnippet(m);
    let rel = Path::new(path);
    if path.is_empty() || rel.is_absolute() {
        return Err(bad(format!("{path:?}: give a path relative to the workspace (as search results show it)")));
    }
    let mut full = root
        .canonicalize()
        .map_err(|e| RetrievalError::NoWorkspace { path: root.to_owned(), reason: e.to_string() })?;
    for component in rel.components() {
        match component {
            Component::Normal(c) => full.push(c),
            Component::CurDir => {}
            _ => return Err(bad(format!("{path:?}: '..' and prefixes are not allowed; the file must be inside the workspace"))),
        }
        let meta = std::fs::symlink_metadata(&full).map_err(|e| bad(format!("{path:?}: {e}")))?;
        if meta.file_type().is_symlink() {
            return Err(bad(format!("{path:?} passes through a symbolic link, which is never followed")));
        }
    }
    if start_line == 0 || end_line < start_line {
        return Err(bad(format!("lines {start_line}-{end_line}: lines are 1-based and the end must not come before the start")));
    }
    let text = walk::read_text(&full, 1 << 24).map_err(|reason| bad(format!("{path:?}: {reason}")))?;
    let lines: Vec<&str> = text.lines().collect();
    let total = lines.len() as u32;
    if start_line > total.max(1) {
        return Err(bad(format!("{path:?} has {total} lines; line {start_line} does not exist")));
    }
    let end = end_line.min(total).min(start_line + MAX_SNIPPET_LINES - 1);
    let body = lines.get(start_line as usize - 1..end as usize).unwrap_or_default().join("\n");
    Ok(Snippet { path: path.to_owned(), start_line, end_line: end, total_lines: total, text: body })
}

/// Retrievers of several workspaces sharing one embedding model, for the daemon's MCP tools and
/// the agent: each workspace's index is opened once and brought up to date on every use.
pub struct RetrieverPool {
    config: RetrievalConfig,
    embedder: OnceLock<(Option<Arc<Embedder>>, Option<String>)>,
    open: Mutex<HashMap<PathBuf, Arc<Mutex<Retriever>>>>,
}

impl RetrieverPool {
    /// A pool; the embedding model is loaded on first use (when `config.vectors`).
    pub fn new(config: RetrievalConfig) -> Self {
        RetrieverPool { config, embedder: OnceLock::new(), open: Mutex::new(HashMap::new()) }
    }

    /// The process-wide pool (default configuration), shared by the MCP sessions and agent
    /// tasks of one daemon so the embedding model is loaded once.
    pub fn shared() -> Arc<RetrieverPool> {
        static POOL: OnceLock<Arc<RetrieverPool>> = OnceLock::new();
        POOL.get_or_init(|| Arc::new(RetrieverPool::new(RetrievalConfig::default()))).clone()
    }

    /// The shared embedder, and why there is none when vectors are on but the model could not
    /// be loaded (then retrieval is BM25-only).
    fn embedder(&self) -> &(Option<Arc<Embedder>>, Option<String>) {
        self.embedder.get_or_init(|| {
            if !self.config.vectors {
                return (None, None);
            }
            match load_embedder(self.config.backend) {
                Ok(e) => (Some(Arc::new(e)), None),
                Err(e) => {
                    tracing::warn!(error = %e, "retrieval falls back to BM25 only");
                    (None, Some(format!("BM25 only: {e}")))
                }
            }
        })
    }

    /// The retriever of `workspace`, brought up to date, with the update's report (its notes
    /// include why vectors are off when the embedding model is missing).
    pub fn updated(&self, workspace: &Path) -> Result<(Arc<Mutex<Retriever>>, UpdateReport), RetrievalError> {
        let root = workspace
            .canonicalize()
            .map_err(|e| RetrievalError::NoWorkspace { path: workspace.to_owned(), reason: e.to_string() })?;
        let (embedder, note) = self.embedder().clone();
        let retriever = {
            let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
            match open.get(&root) {
                Some(r) => r.clone(),
                None => {
                    let r = Arc::new(Mutex::new(Retriever::with_embedder(&root, self.config.index.clone(), embedder)?));
                    open.insert(root, r.clone());
                    r
                }
            }
        };
        let mut report = retriever.lock().unwrap_or_else(|p| p.into_inner()).update(&mut |_, _, _| {})?;
        report.notes.extend(note);
        Ok((retriever, report))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rrf_rewards_agreement() {
        let fused = rrf(&[vec![1, 2, 3], vec![3, 4, 1]]);
        let ids: Vec<u64> = fused.iter().map(|(id, _)| *id).collect();
        assert_eq!(ids, [1, 3, 2, 4]);
        assert!((fused[0].1 - (1.0 / 61.0 + 1.0 / 63.0)).abs() < 1e-6);
        assert!(rrf(&[]).is_empty());
    }
}
