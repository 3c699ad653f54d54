//! Workspace context for the agent: before Plan and Code in workspace mode, the task text is
//! searched in the workspace's code and docs, and the best chunks (not from the file being
//! edited, which the prompt already shows) are put in the prompt inside a token budget.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::retrieval::{Hit, RetrievalError, RetrieverPool, Scope};

/// Code and doc chunks asked for before the budget is applied.
const CANDIDATES: usize = 6;

/// One chunk the agent put in its prompt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContextChunk {
    /// File path relative to the workspace.
    pub path: String,
    /// Definition name or heading path.
    pub name: String,
    /// First line shown, 1-based.
    pub start_line: u32,
    /// Last line shown.
    pub end_line: u32,
}

/// What retrieval gave the agent for one task.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WorkspaceContext {
    /// The prompt section (empty when nothing relevant fits).
    pub text: String,
    /// The chunks in it.
    pub chunks: Vec<ContextChunk>,
    /// The ranking used (`fused` or `bm25`).
    pub mode: String,
    /// Tokens the section takes.
    pub tokens: usize,
    /// Notes of the index update (e.g. BM25 only because the embedding model is missing).
    pub notes: Vec<String>,
}

/// Searches `workspace` for `task` and builds a prompt section of at most `budget` tokens
/// (counted with `count`), leaving out chunks of `exclude` (the file being edited).
pub fn gather(
    pool: &RetrieverPool,
    workspace: &Path,
    task: &str,
    exclude: &str,
    budget: usize,
    count: &dyn Fn(&str) -> usize,
) -> Result<WorkspaceContext, RetrievalError> {
    let _span = tracing::info_span!("agent_retrieval", workspace = %workspace.display()).entered();
    let (retriever, report) = pool.updated(workspace)?;
    let retriever = retriever.lock().unwrap_or_else(|p| p.into_inner());
    let mode = retriever.default_mode();
    let query: String = task.chars().take(1_000).collect();
    let mut hits: Vec<Hit> = retriever.search(&query, Scope::Code, mode, CANDIDATES)?;
    hits.extend(retriever.search(&query, Scope::Docs, mode, 2)?);
    hits.retain(|h| h.path != exclude);
    let header = "Related code and docs from the workspace (for reference only; do not rewrite them):";
    let mut text = String::new();
    let mut chunks = Vec::new();
    for hit in hits {
        let mut lines: Vec<&str> = hit.text.lines().collect();
        loop {
            let block = format!("\n# {}:{}-{} ({})\n```\n{}\n```", hit.path, hit.start_line, hit.start_line as usize + lines.len().max(1) - 1, hit.name, lines.join("\n"));
            let candidate = if text.is_empty() { format!("{header}{block}") } else { format!("{text}{block}") };
            if count(&candidate) <= budget {
                text = candidate;
                chunks.push(ContextChunk {
                    path: hit.path.clone(),
                    name: hit.name.clone(),
                    start_line: hit.start_line,
                    end_line: hit.start_line + lines.len().max(1) as u32 - 1,
                });
                break;
            }
            // Only the first chunk is cut to fit; later ones go whole or not at all.
            if !chunks.is_empty() || lines.len() <= 3 {
                break;
            }
            lines.truncate(lines.len() / 2);
        }
    }
    let tokens = if text.is_empty() { 0 } else { count(&text) };
    Ok(WorkspaceContext { text, chunks, mode: mode.as_str().to_owned(), tokens, notes: report.notes })
}
