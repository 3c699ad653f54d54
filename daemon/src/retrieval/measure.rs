//! Measuring retrieval on a real corpus: a public Python package fetched from PyPI, and queries
//! whose right answers (file + chunk name) were written down before measuring
//! (`daemon/tests/data/retrieval/click-queries.json`). Used by `edgecoder bench retrieval` and
//! by the end-to-end test, so both score the same way.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::{Mode, RetrievalError, Retriever, Scope};

/// The query file: the corpus and the queries.
#[derive(Debug, Clone, Deserialize)]
pub struct QuerySet {
    /// Where the corpus comes from.
    pub corpus: CorpusSpec,
    /// The queries.
    pub queries: Vec<Query>,
}

/// A corpus: a pinned PyPI wheel, unpacked into a folder of the corpus cache.
#[derive(Debug, Clone, Deserialize)]
pub struct CorpusSpec {
    /// Pinned package requirement (`NAME==VERSION`).
    pub requirement: String,
    /// Folder name inside the corpus cache.
    pub folder: String,
}

/// One query and its acceptable answers.
#[derive(Debug, Clone, Deserialize)]
pub struct Query {
    /// What is asked.
    pub query: String,
    /// `[path, chunk name]` pairs; any of them counts as found.
    pub answers: Vec<(String, String)>,
}

impl QuerySet {
    /// Reads and checks a query file.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let set: QuerySet = serde_json::from_str(&text).map_err(|e| format!("{} is not a query file: {e}", path.display()))?;
        if set.queries.is_empty() || set.queries.iter().any(|q| q.answers.is_empty()) {
            return Err(format!("{}: every query needs at least one answer", path.display()));
        }
        Ok(set)
    }
}

/// The corpus cache: `$EDGECODER_CORPORA`, else `~/.cache/edgecoder/corpora` (outside any
/// clone, so the corpus is fetched once per machine).
pub fn corpus_cache() -> PathBuf {
    if let Some(dir) = std::env::var_os("EDGECODER_CORPORA").filter(|v| !v.is_empty()) {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    home.join(".cache/edgecoder/corpora")
}

/// The corpus folder, fetched from the package index (`edgecoder_ota::unpack_wheel`) when it is
/// not there.
pub fn ensure_corpus(spec: &CorpusSpec, cache: &Path) -> Result<PathBuf, edgecoder_ota::OtaError> {
    let dest = cache.join(&spec.folder);
    if !dest.is_dir() {
        edgecoder_ota::unpack_wheel(&edgecoder_ota::download::DownloadOptions::default(), &spec.requirement, &dest)?;
    }
    Ok(dest)
}

/// One mode's results over the query set.
#[derive(Debug, Clone, Serialize)]
pub struct ModeResult {
    /// The mode.
    pub mode: Mode,
    /// Queries with a right answer among the first 5 hits, over all queries.
    pub recall_at_5: f64,
    /// The same among the first 1.
    pub recall_at_1: f64,
    /// Mean reciprocal rank of the first right answer (0 when not in the first 10).
    pub mrr_at_10: f64,
    /// Median query latency in milliseconds.
    pub p50_ms: f64,
    /// 95th percentile query latency in milliseconds.
    pub p95_ms: f64,
    /// Per query: the rank (1-based) of the first right answer in the first 10, if any.
    pub ranks: Vec<Option<usize>>,
}

/// Runs every query in `mode` over code chunks and scores the hits.
pub fn evaluate(retriever: &Retriever, set: &QuerySet, mode: Mode) -> Result<ModeResult, RetrievalError> {
    let mut ranks = Vec::with_capacity(set.queries.len());
    let mut times = Vec::with_capacity(set.queries.len());
    for q in &set.queries {
        let start = Instant::now();
        let hits = retriever.search(&q.query, Scope::Code, mode, 10)?;
        times.push(start.elapsed().as_secs_f64() * 1e3);
        let rank = hits.iter().position(|h| q.answers.iter().any(|(p, n)| *p == h.path && *n == h.name)).map(|i| i + 1);
        ranks.push(rank);
    }
    let n = set.queries.len() as f64;
    let within = |k: usize| ranks.iter().filter(|r| r.is_some_and(|r| r <= k)).count() as f64 / n;
    times.sort_by(f64::total_cmp);
    let pct = |p: f64| times[((times.len() - 1) as f64 * p).round() as usize];
    Ok(ModeResult {
        mode,
        recall_at_5: within(5),
        recall_at_1: within(1),
        mrr_at_10: ranks.iter().map(|r| r.map_or(0.0, |r| 1.0 / r as f64)).sum::<f64>() / n,
        p50_ms: pct(0.5),
        p95_ms: pct(0.95),
        ranks,
    })
}
