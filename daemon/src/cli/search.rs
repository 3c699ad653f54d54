//! `edgecoder search`: search a workspace's code and docs (BM25, vector or fused), indexing
//! what changed first, with a progress bar.

use super::{Execute, Exit, Failure};
use crate::retrieval::{Mode, Phase, RetrievalConfig, RetrievalError, Retriever, Scope, UpdateReport};
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::path::PathBuf;

/// Search the code and docs of a workspace. The workspace is indexed first (only files changed
/// since the last run are read again; the index lives under ~/.cache/edgecoder/index). Vector
/// and fused search need the embedding model (`edgecoder model pull all-minilm-l6-v2`);
/// `--mode bm25` (or EDGECODER_RETRIEVAL=bm25) works without it.
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// What to look for, in words or identifiers.
    pub query: String,
    /// The workspace folder.
    #[arg(long, default_value = ".")]
    pub workspace: PathBuf,
    /// How to rank: bm25, vector, or fused (reciprocal rank fusion of both); default fused, or
    /// bm25 when vectors are off.
    #[arg(long, value_enum)]
    pub mode: Option<Mode>,
    /// Which chunks: code, docs or all.
    #[arg(long, value_enum, default_value_t = Scope::All)]
    pub scope: Scope,
    /// Number of results.
    #[arg(long, short = 'k', default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub limit: u32,
    /// Print the results (and the indexing report) as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

/// A progress bar for indexing on stderr (hidden when stderr is not a terminal).
pub(crate) fn index_progress() -> (ProgressBar, impl FnMut(Phase, usize, usize)) {
    let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("{msg:10} [{bar:30}] {pos}/{len} ({eta} left)") {
        bar.set_style(style.progress_chars("=> "));
    }
    let b = bar.clone();
    let update = move |phase: Phase, done: usize, total: usize| {
        b.set_message(match phase {
            Phase::Scan => "scanning",
            Phase::Embed => "embedding",
        });
        b.set_length(total as u64);
        b.set_position(done as u64);
    };
    (bar, update)
}

fn failure(e: RetrievalError) -> Failure {
    let exit = match &e {
        RetrievalError::NoWorkspace { .. } | RetrievalError::Io { .. } | RetrievalError::NoCache(_) => Exit::Io,
        RetrievalError::NoVectors(_) | RetrievalError::BadSnippet(_) => Exit::Usage,
        _ => Exit::Failed,
    };
    Failure::new(exit, e)
}

/// Opens and updates the index of `workspace` for `mode` (vectors only when the mode needs them).
pub(crate) fn open_updated(workspace: &std::path::Path, mode: Option<Mode>) -> Result<(Retriever, UpdateReport), Failure> {
    let mut config = RetrievalConfig::default();
    if mode == Some(Mode::Bm25) {
        config.vectors = false;
    } else if mode.is_some() && !config.vectors {
        return Err(failure(RetrievalError::NoVectors(
            "EDGECODER_RETRIEVAL=bm25 turns vectors off; unset it or use --mode bm25".into(),
        )));
    }
    let mut retriever = Retriever::open(workspace, &config).map_err(failure)?;
    let (bar, mut progress) = index_progress();
    let report = retriever.update(&mut progress).map_err(failure);
    bar.finish_and_clear();
    Ok((retriever, report?))
}

impl Execute for SearchArgs {
    fn execute(self) -> Result<Exit, Failure> {
        let (retriever, report) = open_updated(&self.workspace, self.mode)?;
        let mode = self.mode.unwrap_or(retriever.default_mode());
        let hits = retriever.search(&self.query, self.scope, mode, self.limit as usize).map_err(failure)?;
        if self.json {
            let out = serde_json::json!({ "query": self.query, "mode": mode, "scope": self.scope, "index": report, "hits": hits });
            println!("{out}");
            return Ok(Exit::Ok);
        }
        for note in &report.notes {
            eprintln!("note: {note}");
        }
        eprintln!(
            "indexed {} files ({} changed, {} removed, {} skipped) into {} chunks in {:.2} s; {} search",
            report.files,
            report.changed,
            report.removed,
            report.skipped.len(),
            report.chunks,
            report.seconds,
            mode.as_str()
        );
        if hits.is_empty() {
            println!("no results for {:?}", self.query);
        }
        for (i, h) in hits.iter().enumerate() {
            println!("{}. {}:{}-{}  {}  [{} {:.4}]", i + 1, h.path, h.start_line, h.end_line, h.name, h.kind.as_str(), h.score);
            for line in h.text.lines().take(3) {
                println!("     {line}");
            }
        }
        Ok(Exit::Ok)
    }
}
