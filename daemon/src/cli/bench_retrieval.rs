//! `edgecoder bench retrieval`: recall@5 of BM25, vector and fused search on a real corpus (a
//! pinned PyPI package) with queries answered in advance, plus index time and query latency.

use super::search::index_progress;
use super::{Execute, Exit, Failure};
use crate::retrieval::measure::{self, ModeResult, QuerySet};
use crate::retrieval::{IndexOptions, Mode, RetrievalConfig, Retriever, load_embedder};
use clap::Args;
use serde::Serialize;
use std::path::PathBuf;
use std::time::Instant;

/// Options of `edgecoder bench retrieval`.
#[derive(Debug, Args)]
pub struct RetrievalBench {
    /// The query file (corpus requirement, queries and their answers).
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/retrieval/click-queries.json"))]
    pub queries: PathBuf,
    /// Where corpora are unpacked (default $EDGECODER_CORPORA, else ~/.cache/edgecoder/corpora).
    #[arg(long)]
    pub corpus_cache: Option<PathBuf>,
    /// Where to write the JSON results.
    #[arg(long, default_value = "bench-retrieval.json")]
    pub json_out: PathBuf,
}

/// The JSON file.
#[derive(Debug, Serialize)]
pub struct RetrievalReport {
    /// The corpus requirement.
    pub corpus: String,
    /// Files and chunks indexed.
    pub files: usize,
    /// Chunks indexed.
    pub chunks: usize,
    /// Queries asked.
    pub queries: usize,
    /// Seconds to load the embedding model.
    pub embedder_load_s: f64,
    /// Seconds of a full index from scratch (chunking, BM25, embedding every chunk).
    pub index_full_s: f64,
    /// Seconds of a BM25-only full index (no embeddings), as on a small device.
    pub index_bm25_only_s: f64,
    /// Seconds of an update when nothing changed.
    pub index_noop_s: f64,
    /// Seconds of an update after one file changed.
    pub index_one_file_s: f64,
    /// Per mode: recall@5, recall@1, MRR@10, query latency.
    pub modes: Vec<ModeResult>,
}

impl Execute for RetrievalBench {
    fn execute(self) -> Result<Exit, Failure> {
        let usage = |m: String| Failure::new(Exit::Usage, anyhow::anyhow!(m));
        let set = QuerySet::load(&self.queries).map_err(usage)?;
        let cache = self.corpus_cache.clone().unwrap_or_else(measure::corpus_cache);
        eprintln!("corpus {} in {}", set.corpus.requirement, cache.display());
        let corpus = measure::ensure_corpus(&set.corpus, &cache).map_err(|e| Failure::new(Exit::Io, e))?;
        let work = tempfile::tempdir().map_err(|e| Failure::new(Exit::Io, e))?;
        let failed = |e: crate::retrieval::RetrievalError| Failure::new(Exit::Failed, e);

        let t = Instant::now();
        let embedder = std::sync::Arc::new(load_embedder(RetrievalConfig::default().backend).map_err(failed)?);
        let embedder_load_s = t.elapsed().as_secs_f64();

        // BM25 only, into its own cache, as a small device would index.
        let bm25_options = IndexOptions { cache_root: Some(work.path().join("bm25-only")), ..IndexOptions::default() };
        let mut bm25_only = Retriever::with_embedder(&corpus, bm25_options, None).map_err(failed)?;
        let index_bm25_only_s = bm25_only.update(&mut |_, _, _| {}).map_err(failed)?.seconds;

        let options = IndexOptions { cache_root: Some(work.path().join("full")), ..IndexOptions::default() };
        let mut retriever = Retriever::with_embedder(&corpus, options, Some(embedder.clone())).map_err(failed)?;
        let (bar, mut progress) = index_progress();
        let full = retriever.update(&mut progress).map_err(failed);
        bar.finish_and_clear();
        let full = full?;
        let index_noop_s = retriever.update(&mut |_, _, _| {}).map_err(failed)?.seconds;

        let mut modes = Vec::new();
        for mode in [Mode::Bm25, Mode::Vector, Mode::Fused] {
            modes.push(measure::evaluate(&retriever, &set, mode).map_err(failed)?);
        }

        // One changed file, on a copy of the corpus (the cache stays pristine).
        let copy = work.path().join("copy");
        copy_tree(&corpus, &copy).map_err(|e| Failure::new(Exit::Io, e))?;
        let copy_options = IndexOptions { cache_root: Some(work.path().join("copy-index")), ..IndexOptions::default() };
        let mut on_copy = Retriever::with_embedder(&copy, copy_options, Some(embedder)).map_err(failed)?;
        on_copy.update(&mut |_, _, _| {}).map_err(failed)?;
        let target = copy.join("click/globals.py");
        let mut text = std::fs::read_to_string(&target).map_err(|e| Failure::new(Exit::Io, e))?;
        text.push_str("\n\ndef added_by_the_benchmark():\n    return 1\n");
        std::fs::write(&target, text).map_err(|e| Failure::new(Exit::Io, e))?;
        let index_one_file_s = on_copy.update(&mut |_, _, _| {}).map_err(failed)?.seconds;

        let report = RetrievalReport {
            corpus: set.corpus.requirement.clone(),
            files: full.files,
            chunks: full.chunks,
            queries: set.queries.len(),
            embedder_load_s,
            index_full_s: full.seconds,
            index_bm25_only_s,
            index_noop_s,
            index_one_file_s,
            modes,
        };
        println!(
            "corpus {}: {} files, {} chunks, {} queries (answers in {})",
            report.corpus,
            report.files,
            report.chunks,
            report.queries,
            self.queries.display()
        );
        println!(
            "index: full {:.2} s (embedding included; model load {:.2} s), BM25-only {:.2} s, no change {:.3} s, one file changed {:.2} s",
            report.index_full_s, report.embedder_load_s, report.index_bm25_only_s, report.index_noop_s, report.index_one_file_s
        );
        println!("{:<8} {:>9} {:>9} {:>7} {:>9} {:>9}", "mode", "recall@5", "recall@1", "MRR@10", "p50 ms", "p95 ms");
        for m in &report.modes {
            println!(
                "{:<8} {:>9.3} {:>9.3} {:>7.3} {:>9.2} {:>9.2}",
                m.mode.as_str(),
                m.recall_at_5,
                m.recall_at_1,
                m.mrr_at_10,
                m.p50_ms,
                m.p95_ms
            );
        }
        super::bench::write_json(&self.json_out, &report)?;
        Ok(Exit::Ok)
    }
}

fn copy_tree(from: &std::path::Path, to: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let dest = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &dest)?;
        } else {
            std::fs::copy(entry.path(), dest)?;
        }
    }
    Ok(())
}
