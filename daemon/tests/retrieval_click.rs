//! Retrieval end to end on a real library: click 8.1.7 fetched from PyPI into the corpus cache
//! (`~/.cache/edgecoder/corpora`, outside the clone), indexed with the real embedding model, and
//! scored on the queries of `tests/data/retrieval/click-queries.json`, whose answers were written
//! before any measurement. `edgecoder bench retrieval` reports the same figures with timings.
//!
//! The floors are well below what the pipeline measures (see the assertion messages) and well
//! above what a broken index gives: no chunks, wrong names or lines, or unrelated vectors score
//! near 0 (38 queries over more than 600 chunks: picking 5 at random finds an answer for under
//! 3% of them).

use std::path::PathBuf;
use std::sync::Arc;

use edgecoder_daemon::retrieval::measure::{self, QuerySet};
use edgecoder_daemon::retrieval::{IndexOptions, Mode, Retriever, load_embedder};
use edgecoder_model::engine::Backend;

/// Recall@5 floors per mode.
const FLOORS: [(Mode, f64); 3] = [(Mode::Bm25, 0.45), (Mode::Vector, 0.45), (Mode::Fused, 0.55)];

#[test]
fn recall_on_click_is_above_the_floors() {
    let queries = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/retrieval/click-queries.json");
    let set = QuerySet::load(&queries).unwrap();
    assert!(set.queries.len() >= 30);
    let corpus = measure::ensure_corpus(&set.corpus, &measure::corpus_cache()).expect("fetch click from PyPI");
    let cache = tempfile::tempdir().unwrap();
    let embedder = Arc::new(load_embedder(Backend::Flex).expect("run `edgecoder model pull all-minilm-l6-v2`"));
    let options = IndexOptions { cache_root: Some(cache.path().to_owned()), ..IndexOptions::default() };
    let mut r = Retriever::with_embedder(&corpus, options, Some(embedder)).unwrap();
    let report = r.update(&mut |_, _, _| {}).unwrap();
    // click 8.1.7 has 16 modules with 533 top-level functions, classes and methods (counted
    // with Python's `ast`); each is a chunk, besides module headers and the docs.
    assert!(report.files >= 16 && report.chunks >= 533, "{report:?}");
    assert_eq!(report.embedded, report.chunks);
    // Every answer names a chunk that exists: a typo in the query file would lower recall silently.
    for q in &set.queries {
        for (path, name) in &q.answers {
            assert!(r.index().chunks().any(|c| &c.path == path && &c.name == name), "no chunk {path}:{name} ({})", q.query);
        }
    }
    for (mode, floor) in FLOORS {
        let m = measure::evaluate(&r, &set, mode).unwrap();
        eprintln!("{}: recall@5 {:.3}, recall@1 {:.3}, MRR@10 {:.3}", mode.as_str(), m.recall_at_5, m.recall_at_1, m.mrr_at_10);
        assert!(m.recall_at_5 >= floor, "{} recall@5 {:.3} is under the floor {floor}: ranks {:?}", mode.as_str(), m.recall_at_5, m.ranks);
    }
}
