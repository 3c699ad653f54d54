//! The MCP server (with the `rmcp` crate): tools `run_python`, `run_js`, `check_subset`,
//! The MCP server (with the `rmcp` crate): tools `run_python`, `run_js`, `check_subset`,
//! `generate`, `plan_and_code` and the retrieval tools `search_code`, `search_docs` and
//! `get_snippet`, served over stdio by `edgecoder mcp` and over streamable HTTP at `/mcp` on the
//! daemon. Code runs in the executor's process sandbox; `generate` uses the daemon's active
//! provider and `plan_and_code` its agent (in the daemon), or the running daemon (over stdio).

use std::sync::Arc;
use std::time::Instant;

use edgecoder_executor::{Isolation, Lang, Limits};
use futures_util::future::BoxFuture;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{ServerCapabilities, ServerConfig};
use rmcp::{ServerHandler, schemars, tool, tool_handler, tool_router};
use serde::Deserialize;
use serde_json::json;

use crate::agent::AgentEvent;
use crate::api::agent::NewTask;
use crate::api::tasks::{TaskStatus, TaskView};
use crate::providers::{GenerateRequest, PromptInput, Sampling};
use crate::retrieval::{Mode, RetrieverPool, Scope, get_snippet};
use crate::server::metrics::Metrics;

/// Longest run a tool call may ask for.
pub const MAX_TIMEOUT_MS: u64 = 30_000;

/// Where the model tools (`generate`, `plan_and_code`) send their requests.
pub trait Generator: Send + Sync {
    /// Generates the whole answer to `request`.
    fn generate(&self, request: GenerateRequest) -> BoxFuture<'_, Result<String, String>>;
    /// Runs an agent task to its end and returns it.
    fn plan_and_code(&self, task: NewTask) -> BoxFuture<'_, Result<TaskView, String>>;
}

/// `generate` inside the daemon: the active provider.
pub struct InProcess(pub crate::server::AppState);

impl Generator for InProcess {
    fn generate(&self, request: GenerateRequest) -> BoxFuture<'_, Result<String, String>> {
        Box::pin(async move {
            let metered = crate::api::Metered::start(&self.0, request, Instant::now()).await.map_err(|e| e.to_string())?;
            metered.collect().await.map(|(text, _)| text).map_err(|e| e.to_string())
        })
    }

    fn plan_and_code(&self, task: NewTask) -> BoxFuture<'_, Result<TaskView, String>> {
        Box::pin(async move {
            let (spec, config) = task.checked().map_err(|e| e.message)?;
            let (tasks, local) = (self.0.tasks.clone(), self.0.providers.local().clone());
            let entry = tokio::task::spawn_blocking(move || tasks.start(&local, &spec, config, task.model.as_deref()))
                .await
                .map_err(|e| format!("the task could not start: {e}"))?
                .map_err(|e| e.message)?;
            let mut progress = entry.subscribe();
            progress.wait_for(|p| p.status != TaskStatus::Running).await.map_err(|e| format!("the task was lost: {e}"))?;
            Ok(entry.view())
        })
    }
}

/// `generate` from `edgecoder mcp`: the running daemon, over its socket.
pub struct ViaDaemon(pub crate::cli::client::Client);

impl Generator for ViaDaemon {
    fn generate(&self, request: GenerateRequest) -> BoxFuture<'_, Result<String, String>> {
        Box::pin(async move {
            let (path, mut body) = match &request.input {
                PromptInput::Chat(messages) => ("/v1/chat/completions", json!({"messages": messages})),
                PromptInput::Text(text) => ("/v1/completions", json!({"prompt": text})),
                PromptInput::Infill { prefix, suffix } => ("/v1/completions", json!({"prompt": prefix, "suffix": suffix})),
            };
            body["model"] = json!(request.model);
            body["max_tokens"] = json!(request.max_tokens);
            if let Some(t) = request.sampling.temperature {
                body["temperature"] = json!(t);
            }
            let answer = self
                .0
                .json(self.0.request(reqwest::Method::POST, path).json(&body))
                .await
                .map_err(|f| format!("{:#}", f.error))?;
            let choice = &answer["choices"][0];
            Ok(choice["message"]["content"].as_str().or_else(|| choice["text"].as_str()).unwrap_or_default().to_owned())
        })
    }

    fn plan_and_code(&self, task: NewTask) -> BoxFuture<'_, Result<TaskView, String>> {
        Box::pin(async move {
            let shown = |f: crate::cli::Failure| format!("{:#}", f.error);
            let id = self.0.start_task(&task).await.map_err(shown)?;
            self.0.follow_task(&id, &mut |_: &AgentEvent| Ok(())).await.map_err(shown)
        })
    }
}

/// `run_python` / `run_js` input.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct RunInput {
    /// The program's source.
    pub code: String,
    /// Wall-clock budget in milliseconds (default 5000, at most 30000).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
}

/// `check_subset` input.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct CheckInput {
    /// The program's source.
    pub code: String,
    /// `python` or `javascript`.
    pub lang: String,
}

/// `generate` input.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct GenerateInput {
    /// The prompt (a user message, unless `raw`).
    pub prompt: String,
    /// Continue `prompt` as raw text instead of answering it as a chat message.
    #[serde(default)]
    pub raw: bool,
    /// Most tokens to generate (default 256).
    #[serde(default)]
    pub max_tokens: Option<u32>,
    /// Sampling temperature (default 0: greedy).
    #[serde(default)]
    pub temperature: Option<f32>,
}

/// `search_code` / `search_docs` input.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct SearchInput {
    /// The workspace folder (absolute path).
    pub workspace: String,
    /// What to look for, in words or identifiers.
    pub query: String,
    /// Number of results (default 5, at most 50).
    #[serde(default)]
    pub limit: Option<u32>,
    /// `bm25`, `vector` or `fused` (default: fused, or bm25 when the embedding model is off).
    #[serde(default)]
    pub mode: Option<String>,
}

/// `get_snippet` input.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct SnippetInput {
    /// The workspace folder (absolute path).
    pub workspace: String,
    /// The file, relative to the workspace (as search results show it).
    pub path: String,
    /// First line, 1-based.
    pub start_line: u32,
    /// Last line, inclusive (at most 200 lines are returned).
    pub end_line: u32,
}

/// Runs a search for the MCP tools: updates the workspace's index, then searches `scope`.
fn mcp_search(input: SearchInput, scope: Scope) -> Result<String, String> {
    let limit = input.limit.unwrap_or(5);
    if limit == 0 || limit > 50 {
        return Err(format!("limit {limit} is out of range: use 1 to 50"));
    }
    let mode = match input.mode.as_deref() {
        None => None,
        Some("bm25") => Some(Mode::Bm25),
        Some("vector") => Some(Mode::Vector),
        Some("fused") => Some(Mode::Fused),
        Some(other) => return Err(format!("unknown mode {other:?}: use bm25, vector or fused")),
    };
    let (retriever, report) = RetrieverPool::shared().updated(std::path::Path::new(&input.workspace)).map_err(|e| e.to_string())?;
    let retriever = retriever.lock().unwrap_or_else(|p| p.into_inner());
    let mode = mode.unwrap_or(retriever.default_mode());
    let hits = retriever.search(&input.query, scope, mode, limit as usize).map_err(|e| e.to_string())?;
    Ok(json!({ "mode": mode, "notes": report.notes, "hits": hits }).to_string())
}

/// The MCP server's tools.
#[derive(Clone)]
pub struct EdgecoderMcp {
    tool_router: ToolRouter<Self>,
    generator: Arc<dyn Generator>,
    metrics: Option<Arc<Metrics>>,
}

fn parse_lang(lang: &str) -> Result<Lang, String> {
    match lang {
        "python" | "py" => Ok(Lang::Python),
        "javascript" | "js" => Ok(Lang::JavaScript),
        other => Err(format!("unknown lang {other:?}: use python or javascript")),
    }
}

#[tool_router]
impl EdgecoderMcp {
    /// A server whose `generate` goes to `generator`; runs are counted in `metrics` when given.
    pub fn new(generator: Arc<dyn Generator>, metrics: Option<Arc<Metrics>>) -> Self {
        EdgecoderMcp { tool_router: Self::tool_router(), generator, metrics }
    }

    async fn run(&self, lang: Lang, input: RunInput) -> Result<String, String> {
        let timeout = input.timeout_ms.unwrap_or(5_000);
        if timeout == 0 || timeout > MAX_TIMEOUT_MS {
            return Err(format!("timeout_ms {timeout} is out of range: use 1 to {MAX_TIMEOUT_MS}"));
        }
        let limits = Limits { wall_time_ms: timeout, isolation: Isolation::Process, ..Limits::default() };
        let result = tokio::task::spawn_blocking(move || edgecoder_executor::run(&input.code, lang, &limits))
            .await
            .map_err(|e| format!("the executor failed: {e}"))?;
        if let Some(metrics) = &self.metrics {
            metrics.executor_run(lang, &result.outcome);
        }
        serde_json::to_string(&result).map_err(|e| e.to_string())
    }

    /// Runs Python (the on-device subset) in the sandbox.
    #[tool(description = "Run a Python program in EdgeCoder's sandboxed on-device executor (no files, no network). Returns JSON: stdout, stderr, value, exit_code, outcome.")]
    async fn run_python(&self, Parameters(input): Parameters<RunInput>) -> Result<String, String> {
        self.run(Lang::Python, input).await
    }

    /// Runs JavaScript in the sandbox.
    #[tool(description = "Run a JavaScript program in EdgeCoder's sandboxed on-device executor (QuickJS; no files, no network). Returns JSON: stdout, stderr, value, exit_code, outcome.")]
    async fn run_js(&self, Parameters(input): Parameters<RunInput>) -> Result<String, String> {
        self.run(Lang::JavaScript, input).await
    }

    /// Checks a program against the on-device subset.
    #[tool(description = "Check whether a Python or JavaScript program is inside EdgeCoder's on-device subset, without running it. Returns JSON: ok, and when not ok the reason code, construct, line, col and message.")]
    async fn check_subset(&self, Parameters(input): Parameters<CheckInput>) -> Result<String, String> {
        let lang = parse_lang(&input.lang)?;
        Ok(match edgecoder_executor::check(&input.code, lang) {
            Ok(()) => json!({"ok": true}),
            Err(v) => json!({"ok": false, "code": v.code, "construct": v.construct, "line": v.line, "col": v.col, "message": v.message}),
        }
        .to_string())
    }

    /// Generates text with the local model.
    #[tool(description = "Generate text with EdgeCoder's on-device code model. Answers `prompt` as a chat message, or continues it as raw text with raw=true.")]
    async fn generate(&self, Parameters(input): Parameters<GenerateInput>) -> Result<String, String> {
        let max_tokens = input.max_tokens.unwrap_or(256);
        if max_tokens == 0 {
            return Err("max_tokens must be at least 1".into());
        }
        let prompt = if input.raw {
            PromptInput::Text(input.prompt)
        } else {
            PromptInput::Chat(vec![edgecoder_model::chat::ChatMessage::user(input.prompt)])
        };
        let request = GenerateRequest {
            model: String::new(),
            input: prompt,
            max_tokens: max_tokens as usize,
            sampling: Sampling { temperature: input.temperature, ..Sampling::default() },
            stop: Vec::new(),
        };
        self.generator.generate(request).await
    }

    /// Runs the agent on a task.
    #[tool(description = "Plan, write, test and fix code for a task with EdgeCoder's on-device agent (the model runs locally; code and tests run in the sandbox). Returns JSON: status, state (done, gave_up or queued_for_cloud), steps (one line per state change), and report: the final code, the diff in workspace mode (not written; apply it with POST /agent/tasks/{id}/apply), the tests and the last test report.")]
    async fn plan_and_code(&self, Parameters(task): Parameters<NewTask>) -> Result<String, String> {
        let view = self.generator.plan_and_code(task).await?;
        serde_json::to_string(&view).map_err(|e| e.to_string())
    }

    /// Searches a workspace's code.
    #[tool(description = "Search the source code of a workspace folder (functions, classes and methods, chunked along the syntax) with BM25 and embeddings fused. Indexes what changed first. Returns JSON: mode, notes, hits (path, name, kind, start_line, end_line, score, text).")]
    async fn search_code(&self, Parameters(input): Parameters<SearchInput>) -> Result<String, String> {
        tokio::task::spawn_blocking(move || mcp_search(input, Scope::Code)).await.map_err(|e| format!("search failed: {e}"))?
    }

    /// Searches a workspace's documentation.
    #[tool(description = "Search the documentation of a workspace folder (Markdown by heading, other text files) with BM25 and embeddings fused. Returns JSON: mode, notes, hits (path, name, kind, start_line, end_line, score, text).")]
    async fn search_docs(&self, Parameters(input): Parameters<SearchInput>) -> Result<String, String> {
        tokio::task::spawn_blocking(move || mcp_search(input, Scope::Docs)).await.map_err(|e| format!("search failed: {e}"))?
    }

    /// Reads lines of a workspace file.
    #[tool(description = "Read lines start_line..end_line (1-based, at most 200) of a file inside a workspace folder, as it is now. The path is relative to the workspace; '..' and symbolic links are refused. Returns JSON: path, start_line, end_line, total_lines, text.")]
    async fn get_snippet(&self, Parameters(input): Parameters<SnippetInput>) -> Result<String, String> {
        tokio::task::spawn_blocking(move || {
            let root = std::path::Path::new(&input.workspace);
            let snippet = get_snippet(root, &input.path, input.start_line, input.end_line).map_err(|e| e.to_string())?;
            serde_json::to_string(&snippet).map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| format!("get_snippet failed: {e}"))?
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for EdgecoderMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build()).with_instructions(
            "EdgeCoder: run Python/JavaScript in a sandbox, check code against the on-device subset, generate with the on-device model, plan_and_code: the on-device agent, and search a workspace's code and docs.",
        )
    }
}

/// The streamable-HTTP MCP service mounted at `/mcp` on the daemon.
pub fn http_service(
    state: crate::server::AppState,
) -> rmcp::transport::StreamableHttpService<EdgecoderMcp, rmcp::transport::streamable_http_server::session::local::LocalSessionManager> {
    let mut hosts: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
    hosts.extend(state.config.allowed_hosts.iter().cloned());
    let config = rmcp::transport::StreamableHttpServerConfig::default().with_allowed_hosts(hosts);
    let metrics = Some(state.metrics.clone());
    let generator: Arc<dyn Generator> = Arc::new(InProcess(state));
    rmcp::transport::StreamableHttpService::new(
        move || Ok(EdgecoderMcp::new(generator.clone(), metrics.clone())),
        Default::default(),
        config,
    )
}

/// `generate` from `edgecoder mcp` when no daemon runs: says how to start one.
pub struct NoDaemon;

impl Generator for NoDaemon {
    fn generate(&self, _: GenerateRequest) -> BoxFuture<'_, Result<String, String>> {
        Box::pin(async {
            Err(NO_DAEMON.into())
        })
    }

    fn plan_and_code(&self, _: NewTask) -> BoxFuture<'_, Result<TaskView, String>> {
        Box::pin(async { Err(NO_DAEMON.into()) })
    }
}

const NO_DAEMON: &str =
    "the daemon is not running, so there is no model to generate with: start it with `edgecoder serve`, then restart this MCP server";
