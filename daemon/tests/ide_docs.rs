//! The config files that `docs/ide.md` tells users to write work as shown.
//!
//! Every fenced block of the page headed by a line `` `PATH`: `` is a config file. Each one is
//! parsed in its own format (JSON with serde_json, YAML with the test venv's PyYAML, an
//! `edgecoderd.toml` with the daemon's own `Config::parse` + `validate`), and then the requests
//! its tool would send are sent to a real `edgecoderd` started here, with only the daemon's
//! address (`127.0.0.1:11435`), token (`<token>`) and model (`qwen2.5-coder-0.5b`) put in:
//!
//! - `~/.cursor/mcp.json` (Cursor's agent): MCP `initialize` + `tools/list` + `tools/call` over
//!   streamable HTTP at its `url` with its `headers` (and 401 without them);
//! - `~/.continue/config.yaml` (Continue): chat and completions at each model's `apiBase` with its
//!   `model` and `apiKey`, and each `mcpServers` command spawned (the built `edgecoder`) and spoken
//!   to over stdio — its tools listed, `run_python` run, and `generate` answered by the daemon;
//! - `~/.config/zed/settings.json` (Zed): chat at `api_url` with each `available_models` name;
//! - `~/.config/edgecoder/edgecoderd.toml`: a daemon started with exactly the block (its `listen`
//!   replaced by the test's port): with `disable_auth_on_loopback` (JetBrains) `/api/tags`,
//!   `/api/version` and `/api/chat` answer without a token while `/mcp` still refuses; with
//!   `ollama_url`/`openai_url` (Other providers) each upstream provider answers through another
//!   daemon.
//!
//! A block under a path this test does not know, or a JSON/YAML/TOML block without a path line,
//! fails the test, so the page and the test cannot drift apart.

mod support;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use edgecoder_daemon::server::config::Config;
use serde_json::{Value, json};
use support::Daemon;

const SMOL: &str = "smollm2-135m";
/// What the docs write for the daemon's address, its token and the model.
const DOC_ADDR: &str = "127.0.0.1:11435";
const DOC_TOKEN: &str = "<token>";
const DOC_MODEL: &str = "qwen2.5-coder-0.5b";

const CURSOR_MCP: &str = "~/.cursor/mcp.json";
const CONTINUE: &str = "~/.continue/config.yaml";
const ZED: &str = "~/.config/zed/settings.json";
const EDGECODERD: &str = "~/.config/edgecoder/edgecoderd.toml";
/// Every path a block may be headed by: each has a check below.
const KNOWN: [&str; 4] = [CURSOR_MCP, CONTINUE, ZED, EDGECODERD];

/// One config file shown in the docs.
#[derive(Debug, Clone)]
struct FileBlock {
    /// The path on the line before the fence.
    path: String,
    /// The fence's info string (`json`, `yaml`, `toml`).
    lang: String,
    /// The `## ` heading it is under.
    section: String,
    /// 1-based line of the opening fence.
    line: usize,
    /// The contents, without the fences' indentation.
    text: String,
}

fn doc() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/ide.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The file blocks of the page, and the lines of config-language fences that have no path line.
fn file_blocks(markdown: &str) -> (Vec<FileBlock>, Vec<usize>) {
    let lines: Vec<&str> = markdown.lines().collect();
    let mut blocks = Vec::new();
    let mut unlabelled = Vec::new();
    let mut section = String::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let trimmed = line.trim_start();
        if let Some(heading) = line.strip_prefix("## ") {
            section = heading.trim().to_owned();
        }
        let Some(info) = trimmed.strip_prefix("```") else {
            i += 1;
            continue;
        };
        let indent = line.len() - trimmed.len();
        let lang = info.trim().to_owned();
        let start = i;
        let mut text = String::new();
        i += 1;
        while i < lines.len() && !lines[i].trim_start().starts_with("```") {
            let content = lines[i];
            let strip = content.len() - content.trim_start().len();
            text.push_str(&content[strip.min(indent)..]);
            text.push('\n');
            i += 1;
        }
        assert!(i < lines.len(), "docs/ide.md:{}: the fence is never closed", start + 1);
        i += 1;
        let label = lines[..start].iter().rev().find(|l| !l.trim().is_empty()).map(|l| l.trim());
        let path = label.and_then(|l| l.strip_prefix('`')).and_then(|l| l.strip_suffix("`:")).filter(|p| !p.contains('`'));
        match path {
            Some(path) => blocks.push(FileBlock { path: path.to_owned(), lang, section: section.clone(), line: start + 1, text }),
            None if ["json", "jsonc", "yaml", "yml", "toml"].contains(&lang.as_str()) => unlabelled.push(start + 1),
            None => {}
        }
    }
    (blocks, unlabelled)
}

/// The docs' blocks, checked to be only files this test knows, with the ones the issue names.
fn checked_blocks() -> Vec<FileBlock> {
    let (blocks, unlabelled) = file_blocks(&doc());
    assert!(
        unlabelled.is_empty(),
        "docs/ide.md has config blocks without a `PATH`: line before them (lines {unlabelled:?}): head each with its path so that this test checks it"
    );
    for b in &blocks {
        assert!(
            KNOWN.contains(&b.path.as_str()),
            "docs/ide.md:{}: `{}` is a config file this test does not know how to check: add its check to daemon/tests/ide_docs.rs",
            b.line,
            b.path
        );
    }
    let shown: BTreeSet<(&str, &str)> = blocks.iter().map(|b| (b.section.as_str(), b.path.as_str())).collect();
    for required in [
        ("Cursor", CURSOR_MCP),
        ("VS Code with Continue", CONTINUE),
        ("Zed", ZED),
        ("JetBrains AI Assistant", EDGECODERD),
        ("Other providers", EDGECODERD),
    ] {
        assert!(shown.contains(&required), "docs/ide.md no longer shows {required:?}; shown: {shown:?}");
    }
    blocks
}

/// `text` with the docs' address, token and model replaced by the test daemon's.
fn fill(text: &str, daemon: &Daemon) -> String {
    text.replace(DOC_ADDR, daemon.base.trim_start_matches("http://")).replace(DOC_TOKEN, &daemon.token).replace(DOC_MODEL, SMOL)
}

fn yaml_to_json(text: &str) -> Value {
    let mut child = Command::new(support::python())
        .args(["-c", "import sys,json,yaml; print(json.dumps(yaml.safe_load(sys.stdin)))"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the test venv's python starts");
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "PyYAML refuses the YAML:\n{text}\n{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The block parsed in its format (as JSON values for JSON and YAML).
fn parse(block: &FileBlock, text: &str) -> Value {
    match block.lang.as_str() {
        "json" => serde_json::from_str(text).unwrap_or_else(|e| panic!("docs/ide.md:{}: {} is not JSON: {e}\n{text}", block.line, block.path)),
        "yaml" | "yml" => yaml_to_json(text),
        other => panic!("docs/ide.md:{}: {} is in {other:?}; this test parses it as JSON or YAML", block.line, block.path),
    }
}

/// An `edgecoderd.toml` block read and validated by the daemon's own code.
fn daemon_config(block: &FileBlock, text: &str) -> Config {
    assert_eq!(block.lang, "toml", "docs/ide.md:{}", block.line);
    let config = Config::parse(text).unwrap_or_else(|e| panic!("docs/ide.md:{}: the daemon refuses the config: {e}\n{text}", block.line));
    config.validate().unwrap_or_else(|e| panic!("docs/ide.md:{}: the daemon refuses the config: {e}\n{text}", block.line));
    config
}

#[test]
fn every_config_block_in_the_ide_docs_is_a_file_this_test_checks_and_parses() {
    let blocks = checked_blocks();
    for block in &blocks {
        match block.path.as_str() {
            EDGECODERD => {
                daemon_config(block, &block.text);
            }
            _ => {
                let value = parse(block, &block.text);
                assert!(value.is_object(), "docs/ide.md:{}: {} is not an object: {value}", block.line, block.path);
            }
        }
    }
    // The extraction sees what a reader sees: the fence's indentation inside a list is not part
    // of the file, and a block without a path line is reported.
    let (found, unlabelled) = file_blocks("## S\n\n1. Step:\n\n   `~/a.json`:\n\n   ```json\n   {\n     \"k\": 1\n   }\n   ```\n\n```toml\nx = 1\n```\n");
    assert_eq!(found.len(), 1);
    assert_eq!((found[0].path.as_str(), found[0].section.as_str(), found[0].text.as_str()), ("~/a.json", "S", "{\n  \"k\": 1\n}\n"));
    assert_eq!(unlabelled, vec![13]);
}

/// Chats (and lists models) as an OpenAI-compatible client configured with `api_base`, `model`
/// and `key` does; the same request without the key is refused.
async fn openai_chat(daemon: &Daemon, api_base: &str, model: &str, key: &str, what: &str) {
    assert!(api_base.starts_with(&daemon.base), "{what}: the base URL {api_base} is not the daemon's {DOC_ADDR}");
    let http = reqwest::Client::new();
    let models: Value = http.get(format!("{api_base}/models")).bearer_auth(key).send().await.unwrap().json().await.unwrap();
    let ids: Vec<&str> = models["data"].as_array().unwrap_or_else(|| panic!("{what}: {models}")).iter().filter_map(|m| m["id"].as_str()).collect();
    assert!(ids.contains(&model), "{what}: the model {model} is not among {ids:?}");
    let body = json!({"model": model, "messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 8, "temperature": 0});
    let r = http.post(format!("{api_base}/chat/completions")).bearer_auth(key).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 200, "{what}: {}", r.text().await.unwrap());
    let answer: Value = r.json().await.unwrap();
    assert_eq!(answer["object"], "chat.completion", "{what}: {answer}");
    assert_eq!(answer["model"], model, "{what}: {answer}");
    assert_eq!(answer["choices"][0]["message"]["role"], "assistant", "{what}: {answer}");
    assert!(answer["choices"][0]["message"]["content"].is_string(), "{what}: {answer}");
    assert!(answer["usage"]["completion_tokens"].as_u64().is_some_and(|n| n > 0), "{what}: {answer}");
    let r = http.post(format!("{api_base}/chat/completions")).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 401, "{what}: the daemon answered without the key");
}

/// The JSON-RPC messages of an MCP HTTP answer (one JSON body, or SSE `data:` lines).
fn mcp_messages(content_type: &str, body: &str) -> Vec<Value> {
    if content_type.starts_with("text/event-stream") {
        body.lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(|d| serde_json::from_str(d).unwrap_or_else(|e| panic!("an SSE event that is not JSON ({e}): {d}")))
            .collect()
    } else {
        vec![serde_json::from_str(body).unwrap_or_else(|e| panic!("an MCP answer that is not JSON ({e}): {body}"))]
    }
}

/// MCP over streamable HTTP at `url` with `headers`, as Cursor's agent speaks it: initialize,
/// the initialized notification, tools/list and a tools/call; without the headers, 401.
async fn mcp_over_http(daemon: &Daemon, url: &str, headers: &serde_json::Map<String, Value>, what: &str) {
    assert_eq!(url, format!("{}/mcp", daemon.base), "{what}: the MCP url is not the daemon's /mcp");
    let http = reqwest::Client::new();
    let mut header_map = reqwest::header::HeaderMap::new();
    for (name, value) in headers {
        let value = value.as_str().unwrap_or_else(|| panic!("{what}: header {name} is not a string"));
        header_map.insert(reqwest::header::HeaderName::from_bytes(name.as_bytes()).unwrap(), value.parse().unwrap());
    }
    let post = |session: Option<String>, message: Value| {
        let mut request = http
            .post(url)
            .headers(header_map.clone())
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-06-18")
            .json(&message);
        if let Some(session) = session {
            request = request.header("mcp-session-id", session);
        }
        request.send()
    };
    let rpc = |id: u64, method: &str, params: Value| json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
    let answer_of = async |r: reqwest::Response, id: u64| -> Value {
        assert_eq!(r.status(), 200, "{what}: {}", r.text().await.unwrap());
        let content_type = r.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        let body = r.text().await.unwrap();
        let messages = mcp_messages(&content_type, &body);
        messages.into_iter().find(|m| m["id"] == id).unwrap_or_else(|| panic!("{what}: no answer to request {id} in {body}"))
    };

    let init = rpc(1, "initialize", json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "ide-docs-test", "version": "0"}}));
    let r = post(None, init.clone()).await.unwrap();
    let session = r.headers().get("mcp-session-id").map(|v| v.to_str().unwrap().to_owned());
    let answer = answer_of(r, 1).await;
    assert!(answer["result"]["capabilities"]["tools"].is_object(), "{what}: {answer}");
    let r = post(session.clone(), json!({"jsonrpc": "2.0", "method": "notifications/initialized"})).await.unwrap();
    assert!(r.status().is_success(), "{what}: notifications/initialized: {}", r.status());
    let answer = answer_of(post(session.clone(), rpc(2, "tools/list", json!({}))).await.unwrap(), 2).await;
    let tools: BTreeSet<&str> = answer["result"]["tools"].as_array().unwrap_or_else(|| panic!("{what}: {answer}")).iter().filter_map(|t| t["name"].as_str()).collect();
    for tool in ["run_python", "run_js", "check_subset", "generate", "plan_and_code", "search_code", "search_docs", "get_snippet"] {
        assert!(tools.contains(tool), "{what}: no tool {tool} in {tools:?}");
    }
    let answer = answer_of(post(session.clone(), rpc(3, "tools/call", json!({"name": "run_python", "arguments": {"code": "print(6 * 7)"}}))).await.unwrap(), 3).await;
    let out: Value = serde_json::from_str(answer["result"]["content"][0]["text"].as_str().unwrap_or_else(|| panic!("{what}: {answer}"))).unwrap();
    assert_eq!(out["stdout"], "42\n", "{what}: {answer}");

    // The headers are what lets Cursor in: without them the daemon refuses.
    let r = http.post(url).header("accept", "application/json, text/event-stream").json(&init).send().await.unwrap();
    assert_eq!(r.status(), 401, "{what}: /mcp answered without the configured headers");
}

/// An MCP server process spoken to over stdio (newline-delimited JSON-RPC).
struct StdioServer {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    lines: mpsc::Receiver<String>,
}

impl StdioServer {
    fn send(&mut self, message: &Value) {
        writeln!(self.stdin, "{message}").unwrap();
        self.stdin.flush().unwrap();
    }

    fn answer(&mut self, id: u64, what: &str) -> Value {
        loop {
            let line = self.lines.recv_timeout(Duration::from_secs(120)).unwrap_or_else(|e| panic!("{what}: no answer to request {id} ({e})"));
            let message: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{what}: not JSON-RPC on stdout ({e}): {line}"));
            if message["id"] == id {
                return message;
            }
        }
    }

    fn call(&mut self, id: u64, method: &str, params: Value, what: &str) -> Value {
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        let answer = self.answer(id, what);
        assert!(answer.get("error").is_none(), "{what}: {method}: {answer}");
        answer["result"].clone()
    }
}

impl Drop for StdioServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts an MCP server entry (`command`, `args`, `env`) as its client would, with the built
/// `edgecoder` for `edgecoder` and `EDGECODER_CONFIG` naming the test daemon's config, and checks
/// its tools: listed, `run_python` run, and `generate` answered by the running daemon.
fn mcp_over_stdio(daemon: &Daemon, server: &Value, what: &str) {
    let command = server["command"].as_str().unwrap_or_else(|| panic!("{what}: no command in {server}"));
    assert_eq!(command, "edgecoder", "{what}: the command is not the edgecoder CLI");
    let args: Vec<&str> = match &server["args"] {
        Value::Null => Vec::new(),
        Value::Array(args) => args.iter().map(|a| a.as_str().unwrap_or_else(|| panic!("{what}: an argument is not a string: {a}"))).collect(),
        other => panic!("{what}: args is not a list: {other}"),
    };
    let mut process = Command::new(env!("CARGO_BIN_EXE_edgecoder"));
    process.args(&args).env_remove("RUST_LOG").env("EDGECODER_CONFIG", &daemon.config);
    if let Some(env) = server["env"].as_object() {
        for (k, v) in env {
            process.env(k, v.as_str().unwrap_or_else(|| panic!("{what}: env {k} is not a string")));
        }
    }
    let log = std::fs::File::create(daemon.dir.path().join("mcp-stdio.log")).unwrap();
    let mut child = process.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(log).spawn().expect("edgecoder starts");
    let stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut mcp = StdioServer { child, stdin, lines };
    let what = format!("{what} (`{command} {}`; its log: {})", args.join(" "), daemon.dir.path().join("mcp-stdio.log").display());
    let init = mcp.call(1, "initialize", json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "ide-docs-test", "version": "0"}}), &what);
    assert!(init["capabilities"]["tools"].is_object(), "{what}: {init}");
    mcp.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    let tools = mcp.call(2, "tools/list", json!({}), &what);
    let names: BTreeSet<&str> = tools["tools"].as_array().unwrap_or_else(|| panic!("{what}: {tools}")).iter().filter_map(|t| t["name"].as_str()).collect();
    assert!(names.contains("run_python") && names.contains("plan_and_code"), "{what}: {names:?}");
    let run = mcp.call(3, "tools/call", json!({"name": "run_python", "arguments": {"code": "print(6 * 7)"}}), &what);
    let out: Value = serde_json::from_str(run["content"][0]["text"].as_str().unwrap_or_else(|| panic!("{what}: {run}"))).unwrap();
    assert_eq!(out["stdout"], "42\n", "{what}: {run}");
    // `generate` goes to the daemon the config names: without it, the tool says none runs.
    let generated = mcp.call(4, "tools/call", json!({"name": "generate", "arguments": {"prompt": "def add(a, b):\n    return", "raw": true, "max_tokens": 4}}), &what);
    assert_ne!(generated["isError"], true, "{what}: generate did not reach the daemon: {generated}");
    assert!(generated["content"][0]["text"].as_str().is_some_and(|t| !t.trim().is_empty()), "{what}: {generated}");
}

/// `~/.cursor/mcp.json`: each server of `mcpServers`, by `url` + `headers` or by `command`.
async fn check_cursor_mcp(daemon: &Daemon, config: &Value, what: &str) {
    let servers = config["mcpServers"].as_object().unwrap_or_else(|| panic!("{what}: no mcpServers object"));
    assert!(!servers.is_empty(), "{what}: no MCP server");
    assert!(servers.values().any(|s| s["url"].is_string()), "{what}: no server over HTTP (`url`)");
    for (name, server) in servers {
        let what = format!("{what}: server {name}");
        if let Some(url) = server["url"].as_str() {
            let headers = server["headers"].as_object().cloned().unwrap_or_default();
            mcp_over_http(daemon, url, &headers, &what).await;
        } else {
            tokio::task::block_in_place(|| mcp_over_stdio(daemon, server, &what));
        }
    }
}

/// `~/.continue/config.yaml`: the top-level keys Continue requires, each model (chat through
/// `apiBase`, and completions for `autocomplete`), each MCP server over stdio.
async fn check_continue(daemon: &Daemon, config: &Value, what: &str) {
    for key in ["name", "version", "schema"] {
        assert!(config[key].is_string(), "{what}: Continue requires a top-level {key} (a string): {config}");
    }
    let models = config["models"].as_array().unwrap_or_else(|| panic!("{what}: no models list"));
    assert!(!models.is_empty(), "{what}: no model");
    for m in models {
        assert_eq!(m["provider"], "openai", "{what}: {m}");
        assert!(m["name"].is_string(), "{what}: a model needs a name: {m}");
        let api_base = m["apiBase"].as_str().unwrap_or_else(|| panic!("{what}: no apiBase in {m}"));
        let model = m["model"].as_str().unwrap_or_else(|| panic!("{what}: no model in {m}"));
        let key = m["apiKey"].as_str().unwrap_or_else(|| panic!("{what}: no apiKey in {m}"));
        openai_chat(daemon, api_base, model, key, what).await;
        let roles: Vec<&str> = m["roles"].as_array().map(|r| r.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
        if roles.contains(&"autocomplete") {
            let http = reqwest::Client::new();
            let r = http
                .post(format!("{api_base}/completions"))
                .bearer_auth(key)
                .json(&json!({"model": model, "prompt": "def add(a, b):\n    return", "max_tokens": 4, "temperature": 0}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "{what}: autocomplete: {}", r.text().await.unwrap());
            let answer: Value = r.json().await.unwrap();
            assert!(answer["choices"][0]["text"].is_string(), "{what}: {answer}");
            // As the page says: fill-in-the-middle on a model without FIM tokens (SmolLM2) is 400.
            let r = http
                .post(format!("{api_base}/completions"))
                .bearer_auth(key)
                .json(&json!({"model": model, "prompt": "def add(a, b):\n    return", "suffix": "\n", "max_tokens": 4}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 400, "{what}: FIM on SmolLM2");
        }
    }
    let servers = config["mcpServers"].as_array().unwrap_or_else(|| panic!("{what}: no mcpServers list"));
    assert!(!servers.is_empty(), "{what}: no MCP server");
    for server in servers {
        assert!(server["name"].is_string(), "{what}: an MCP server needs a name: {server}");
        let what = format!("{what}: MCP server {}", server["name"]);
        tokio::task::block_in_place(|| mcp_over_stdio(daemon, server, &what));
    }
}

/// `~/.config/zed/settings.json`: each OpenAI-compatible provider's models through `api_url`, with
/// the token Zed asks for.
async fn check_zed(daemon: &Daemon, config: &Value, what: &str) {
    let providers = config["language_models"]["openai_compatible"].as_object().unwrap_or_else(|| panic!("{what}: no language_models.openai_compatible"));
    assert!(!providers.is_empty(), "{what}: no provider");
    for (name, provider) in providers {
        let api_url = provider["api_url"].as_str().unwrap_or_else(|| panic!("{what}: {name} has no api_url"));
        let models = provider["available_models"].as_array().unwrap_or_else(|| panic!("{what}: {name} has no available_models"));
        assert!(!models.is_empty(), "{what}: {name} lists no model");
        for m in models {
            let model = m["name"].as_str().unwrap_or_else(|| panic!("{what}: a model without a name: {m}"));
            assert!(m["max_tokens"].as_u64().is_some_and(|n| n > 0), "{what}: max_tokens: {m}");
            openai_chat(daemon, api_url, model, &daemon.token, &format!("{what}: {name}")).await;
        }
    }
}

/// `edgecoderd.toml` without the keys the test daemon sets itself (`listen`: the test's port).
fn without_listen(text: &str) -> String {
    text.lines().filter(|l| !l.trim_start().starts_with("listen")).collect::<Vec<_>>().join("\n")
}

/// The JetBrains block: a daemon started with it answers the Ollama API without a token (as
/// JetBrains' Ollama client calls it) and still guards `/mcp`.
async fn check_loopback_without_token(block: &FileBlock, config: &Config, what: &str) {
    assert_eq!(config.listen.map(|a| a.to_string()).as_deref(), Some(DOC_ADDR), "{what}: listen");
    let daemon = Daemon::start(SMOL, &without_listen(&block.text));
    let anonymous = reqwest::Client::new();
    let r = anonymous.get(format!("{}/api/version", daemon.base)).send().await.unwrap();
    assert_eq!(r.status(), 200, "{what}: /api/version");
    let tags: Value = anonymous.get(format!("{}/api/tags", daemon.base)).send().await.unwrap().json().await.unwrap();
    let names: Vec<&str> = tags["models"].as_array().unwrap_or_else(|| panic!("{what}: {tags}")).iter().filter_map(|m| m["name"].as_str()).collect();
    assert!(names.contains(&SMOL), "{what}: {names:?}");
    // Ollama clients stream by default: NDJSON, the last object done.
    let r = anonymous
        .post(format!("{}/api/chat", daemon.base))
        .json(&json!({"model": SMOL, "messages": [{"role": "user", "content": "Say hello."}], "options": {"num_predict": 8, "temperature": 0}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{what}: /api/chat: {}", r.text().await.unwrap());
    assert_eq!(r.headers()["content-type"], "application/x-ndjson");
    let body = r.text().await.unwrap();
    let objects: Vec<Value> = body.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{what}: not NDJSON ({e}): {l}"))).collect();
    let last = objects.last().unwrap_or_else(|| panic!("{what}: an empty answer"));
    assert_eq!(last["done"], true, "{what}: {body}");
    assert!(objects.iter().all(|o| o["model"] == SMOL), "{what}: {body}");
    assert!(objects.iter().filter(|o| o["done"] == false).all(|o| o["message"]["role"] == "assistant"), "{what}: {body}");
    assert!(last["eval_count"].as_u64().is_some_and(|n| n > 0), "{what}: {body}");
    // The token is only waived for the model APIs.
    let r = anonymous.post(format!("{}/mcp", daemon.base)).json(&json!({})).send().await.unwrap();
    assert_eq!(r.status(), 401, "{what}: /mcp answered without the token");
}

/// The Other providers block: a daemon started with it (the upstreams' addresses and keys being
/// `upstream`'s) answers through each provider it configures.
async fn check_upstreams(block: &FileBlock, config: &Config, upstream: &Daemon, what: &str) {
    let mut table: toml::Table = block.text.parse().unwrap();
    let mut providers = Vec::new();
    for (url, url_key, key_key, provider) in [
        (&config.ollama_url, "ollama_url", "ollama_api_key", "ollama-local"),
        (&config.openai_url, "openai_url", "openai_api_key", "openai-compatible"),
    ] {
        let Some(url) = url else { continue };
        assert!(url.starts_with("http://127.0.0.1:"), "{what}: {url_key} = {url}");
        table.insert(url_key.into(), upstream.base.clone().into());
        if table.contains_key(key_key) {
            table.insert(key_key.into(), upstream.token.clone().into());
        }
        providers.push(provider);
    }
    assert!(!providers.is_empty(), "{what}: neither ollama_url nor openai_url");
    let front = Daemon::start(SMOL, &toml::to_string(&table).unwrap());
    let http = front.client();
    for provider in providers {
        let r = http.put(format!("{}/edgecoder/provider", front.base)).json(&json!({"name": provider})).send().await.unwrap();
        assert_eq!(r.status(), 200, "{what}: {provider}: {}", r.text().await.unwrap());
        let models: Value = http.get(format!("{}/v1/models", front.base)).send().await.unwrap().json().await.unwrap();
        assert_eq!(models["data"][0]["id"], SMOL, "{what}: {provider}: {models}");
        assert_eq!(models["data"][0]["owned_by"], provider, "{what}: {models}");
        let r = http
            .post(format!("{}/v1/chat/completions", front.base))
            .json(&json!({"model": SMOL, "messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 6, "temperature": 0}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{what}: {provider}: {}\n{}", r.text().await.unwrap(), front.log());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_config_file_in_the_ide_docs_works_against_a_real_daemon() {
    let blocks = checked_blocks();
    let daemon = Daemon::start(SMOL, "");
    let mut checked = Vec::new();
    for block in &blocks {
        let what = format!("docs/ide.md:{} ({}, {})", block.line, block.section, block.path);
        println!("checking {what}");
        match block.path.as_str() {
            CURSOR_MCP => check_cursor_mcp(&daemon, &parse(block, &fill(&block.text, &daemon)), &what).await,
            CONTINUE => check_continue(&daemon, &parse(block, &fill(&block.text, &daemon)), &what).await,
            ZED => check_zed(&daemon, &parse(block, &fill(&block.text, &daemon)), &what).await,
            EDGECODERD => {
                let config = daemon_config(block, &block.text);
                if config.disable_auth_on_loopback {
                    check_loopback_without_token(block, &config, &what).await;
                } else {
                    check_upstreams(block, &config, &daemon, &what).await;
                }
            }
            other => panic!("{what}: no check for {other}"),
        }
        checked.push((block.section.clone(), block.path.clone()));
    }
    println!("checked {} config files: {checked:?}", checked.len());
    assert_eq!(checked.len(), blocks.len());
}
