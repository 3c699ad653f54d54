//! Retrieval over real folders: incremental indexing, the nasty files (binary, non-UTF-8, huge,
//! unreadable, special, symbolic links out of the workspace), an empty workspace, a corrupt or
//! out-of-step index, snippets that try to leave the workspace, vector search with the real
//! embedding model, and the `edgecoder search` command.

mod support;

use std::fs;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use edgecoder_daemon::retrieval::{IndexOptions, Mode, RetrievalError, Retriever, Scope, get_snippet, load_embedder};
use edgecoder_model::engine::Backend;

const UTILS: &str = r#""""String helpers."""
import re


def slugify(title):
    """Turn a title into a URL slug: lower case, words joined by dashes."""
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


class TokenBucket:
    """Rate limiter that refills tokens at a fixed rate."""

    def __init__(self, rate, capacity):
        self.rate = rate
        self.capacity = capacity

    def take(self, n=1):
        """Remove n tokens if available."""
        return n <= self.capacity
"#;

const README: &str = "# Project\n\nIntro.\n\n## Installation\n\nRun `pip install project` to install it.\n\n## Rate limits\n\nRequests are throttled by a token bucket.\n";

struct Fixture {
    _tmp: tempfile::TempDir,
    ws: std::path::PathBuf,
    cache: std::path::PathBuf,
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("ws");
    fs::create_dir_all(ws.join("pkg")).unwrap();
    fs::write(ws.join("pkg/utils.py"), UTILS).unwrap();
    fs::write(ws.join("README.md"), README).unwrap();
    fs::write(ws.join("pkg/app.js"), "export function greet(name) {\n  return `hello ${name}`;\n}\n").unwrap();
    let cache = tmp.path().join("cache");
    Fixture { ws, cache, _tmp: tmp }
}

fn bm25(fx: &Fixture) -> Retriever {
    Retriever::with_embedder(&fx.ws, IndexOptions { cache_root: Some(fx.cache.clone()), ..IndexOptions::default() }, None).unwrap()
}

fn names(r: &Retriever, q: &str, scope: Scope) -> Vec<String> {
    r.search(q, scope, Mode::Bm25, 5).unwrap().into_iter().map(|h| format!("{}:{}", h.path, h.name)).collect()
}

/// Sets a file's modification time, so that a rewrite is seen as a change by mtime.
fn bump_mtime(path: &Path, seconds: u64) {
    let f = fs::File::options().write(true).open(path).unwrap();
    f.set_modified(std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(seconds)).unwrap();
}

#[test]
fn indexing_is_incremental_by_mtime_and_hash() {
    let fx = fixture();
    let mut r = bm25(&fx);
    let first = r.update(&mut |_, _, _| {}).unwrap();
    assert_eq!((first.files, first.changed, first.removed), (3, 3, 0), "{first:?}");
    assert_eq!(names(&r, "slug from a title", Scope::Code)[0], "pkg/utils.py:slugify");
    assert_eq!(names(&r, "refill tokens", Scope::Code)[0], "pkg/utils.py:TokenBucket");
    assert_eq!(names(&r, "install", Scope::Docs)[0], "README.md:Project > Installation");
    assert_eq!(names(&r, "greet", Scope::Code)[0], "pkg/app.js:greet");

    // Nothing changed: nothing re-read.
    let again = r.update(&mut |_, _, _| {}).unwrap();
    assert_eq!((again.changed, again.removed, again.chunks), (0, 0, first.chunks));

    // Same content, new mtime: hashed, not re-chunked.
    bump_mtime(&fx.ws.join("pkg/utils.py"), 1_000_000);
    assert_eq!(r.update(&mut |_, _, _| {}).unwrap().changed, 0);

    // New content: only that file.
    fs::write(fx.ws.join("pkg/utils.py"), UTILS.replace("def slugify(title):", "def make_slug(title):")).unwrap();
    bump_mtime(&fx.ws.join("pkg/utils.py"), 2_000_000);
    let changed = r.update(&mut |_, _, _| {}).unwrap();
    assert_eq!((changed.changed, changed.removed), (1, 0), "{changed:?}");
    let found = names(&r, "slug from a title", Scope::Code);
    assert_eq!(found[0], "pkg/utils.py:make_slug");
    assert!(!found.iter().any(|n| n.ends_with(":slugify")), "{found:?}");

    // A file deleted between runs leaves the index.
    fs::remove_file(fx.ws.join("README.md")).unwrap();
    let removed = r.update(&mut |_, _, _| {}).unwrap();
    assert_eq!((removed.changed, removed.removed, removed.files), (0, 1, 2));
    assert!(names(&r, "install", Scope::Docs).is_empty());

    // The index survives a reopen (a new process) without re-reading anything.
    drop(r);
    let mut reopened = bm25(&fx);
    let report = reopened.update(&mut |_, _, _| {}).unwrap();
    assert_eq!((report.changed, report.removed), (0, 0), "{report:?}");
    assert!(report.notes.is_empty(), "{:?}", report.notes);
    assert_eq!(names(&reopened, "slug from a title", Scope::Code)[0], "pkg/utils.py:make_slug");
}

#[test]
fn nasty_files_are_skipped_with_a_reason_and_links_never_followed() {
    let fx = fixture();
    let outside = fx.ws.parent().unwrap().join("outside");
    fs::create_dir_all(&outside).unwrap();
    fs::write(outside.join("secret.py"), "def exfiltrate_password():\n    return 'hunter2'\n").unwrap();
    std::os::unix::fs::symlink(outside.join("secret.py"), fx.ws.join("link.py")).unwrap();
    std::os::unix::fs::symlink(&outside, fx.ws.join("linked_dir")).unwrap();
    fs::write(fx.ws.join("blob.py"), b"def f():\n    pass\n\x00\x01\x02").unwrap();
    fs::write(fx.ws.join("latin1.py"), b"# caf\xe9\ndef g():\n    pass\n").unwrap();
    fs::write(fx.ws.join("huge.py"), "x = 1\n".repeat(200_000)).unwrap();
    let fifo = fx.ws.join("pipe.py");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    fs::write(fx.ws.join("locked.py"), "def locked():\n    pass\n").unwrap();
    fs::set_permissions(fx.ws.join("locked.py"), std::os::unix::fs::PermissionsExt::from_mode(0o000)).unwrap();
    let root = unsafe { libc::geteuid() } == 0;

    let mut r = bm25(&fx);
    let report = r.update(&mut |_, _, _| {}).unwrap();
    let reason = |p: &str| report.skipped.iter().find(|s| s.path == p).map(|s| s.reason.clone());
    assert!(reason("link.py").unwrap().contains("symbolic link"), "{:?}", report.skipped);
    assert!(reason("linked_dir").is_none_or(|r| r.contains("symbolic link")), "{:?}", report.skipped);
    assert!(reason("blob.py").unwrap().contains("binary"));
    assert!(reason("latin1.py").unwrap().contains("UTF-8"));
    assert!(reason("huge.py").unwrap().contains("too large"));
    assert!(reason("pipe.py").unwrap().contains("not a regular file"));
    if root {
        // root reads any file whatever its mode: the file is indexed like any other.
        assert!(reason("locked.py").is_none());
    } else {
        assert!(reason("locked.py").unwrap().contains("unreadable"), "{:?}", report.skipped);
    }
    let leaked = r.search("exfiltrate password hunter2", Scope::All, Mode::Bm25, 10).unwrap();
    assert!(leaked.is_empty(), "content behind a symbolic link was indexed: {leaked:?}");
    assert_eq!(names(&r, "slug from a title", Scope::Code)[0], "pkg/utils.py:slugify", "the good files are still indexed");

    // A file that becomes binary leaves the index.
    fs::write(fx.ws.join("pkg/app.js"), b"\x00\x00binary now").unwrap();
    bump_mtime(&fx.ws.join("pkg/app.js"), 3_000_000);
    let report = r.update(&mut |_, _, _| {}).unwrap();
    assert_eq!(report.removed, 1, "{report:?}");
    assert!(names(&r, "greet", Scope::Code).is_empty());
}

#[test]
fn an_empty_workspace_and_bad_workspaces() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("empty");
    fs::create_dir_all(&ws).unwrap();
    let options = IndexOptions { cache_root: Some(tmp.path().join("cache")), ..IndexOptions::default() };
    let mut r = Retriever::with_embedder(&ws, options.clone(), None).unwrap();
    let report = r.update(&mut |_, _, _| {}).unwrap();
    assert_eq!((report.files, report.chunks), (0, 0));
    assert!(r.search("anything", Scope::All, Mode::Bm25, 5).unwrap().is_empty());
    assert!(r.search("   ", Scope::All, Mode::Bm25, 5).unwrap().is_empty());
    let e = r.search("anything", Scope::All, Mode::Vector, 5).unwrap_err();
    assert!(matches!(e, RetrievalError::NoVectors(_)) && e.to_string().contains("--mode bm25"), "{e}");

    let missing = Retriever::with_embedder(&tmp.path().join("nope"), options.clone(), None).err().unwrap();
    assert!(missing.to_string().contains("--workspace"), "{missing}");
    fs::write(tmp.path().join("file.txt"), "x").unwrap();
    let not_dir = Retriever::with_embedder(&tmp.path().join("file.txt"), options, None).err().unwrap();
    assert!(not_dir.to_string().contains("not a directory"), "{not_dir}");
}

/// The index folder of the fixture's workspace (the only one in its cache).
fn index_dir(fx: &Fixture) -> std::path::PathBuf {
    let mut dirs: Vec<_> = fs::read_dir(&fx.cache).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(dirs.len(), 1);
    dirs.remove(0)
}

#[test]
fn a_corrupt_index_is_rebuilt_with_a_clear_message() {
    let fx = fixture();
    bm25(&fx).update(&mut |_, _, _| {}).unwrap();
    let state = index_dir(&fx).join("state.bin");

    for garbage in [b"garbage".to_vec(), {
        let mut flipped = fs::read(&state).unwrap();
        let last = flipped.len() - 1;
        flipped[last] ^= 0xff;
        flipped
    }] {
        bm25(&fx).update(&mut |_, _, _| {}).unwrap();
        fs::write(&state, garbage).unwrap();
        let mut r = bm25(&fx);
        let report = r.update(&mut |_, _, _| {}).unwrap();
        assert!(report.notes.iter().any(|n| n.contains("was corrupt") && n.contains("rebuilding")), "{:?}", report.notes);
        assert_eq!(report.changed, 3, "everything is indexed again");
        assert_eq!(names(&r, "slug from a title", Scope::Code)[0], "pkg/utils.py:slugify");
        let hits = r.search("slug", Scope::Code, Mode::Bm25, 10).unwrap();
        assert_eq!(hits.iter().filter(|h| h.name == "slugify").count(), 1, "no duplicate chunks after the rebuild: {hits:?}");
    }

    // A broken BM25 index (tantivy's meta.json) is rebuilt from the state.
    fs::write(index_dir(&fx).join("bm25/meta.json"), "{ not json").unwrap();
    let mut r = bm25(&fx);
    let report = r.update(&mut |_, _, _| {}).unwrap();
    assert!(report.notes.iter().any(|n| n.contains("BM25 index")), "{:?}", report.notes);
    assert_eq!(names(&r, "slug from a title", Scope::Code)[0], "pkg/utils.py:slugify");
}

#[test]
fn a_crash_between_the_bm25_commit_and_the_state_is_recovered() {
    let fx = fixture();
    bm25(&fx).update(&mut |_, _, _| {}).unwrap();
    let state = index_dir(&fx).join("state.bin");
    let before = fs::read(&state).unwrap();
    // An update commits tantivy, then renames the new state into place; put the old state back
    // as if the process died between the two.
    fs::write(fx.ws.join("pkg/utils.py"), UTILS.replace("def slugify(title):", "def make_slug(title):")).unwrap();
    bump_mtime(&fx.ws.join("pkg/utils.py"), 5_000_000);
    bm25(&fx).update(&mut |_, _, _| {}).unwrap();
    fs::write(&state, before).unwrap();
    fs::write(index_dir(&fx).join("state.tmp"), b"half-written").unwrap();

    let mut r = bm25(&fx);
    let report = r.update(&mut |_, _, _| {}).unwrap();
    assert!(report.notes.iter().any(|n| n.contains("out of step")), "{:?}", report.notes);
    assert_eq!(report.changed, 1, "the changed file is indexed again: {report:?}");
    let hits = r.search("slug from a title", Scope::Code, Mode::Bm25, 10).unwrap();
    assert_eq!(hits[0].name, "make_slug");
    assert!(hits.iter().all(|h| h.name != "slugify"), "{hits:?}");
}

#[test]
fn snippets_stay_inside_the_workspace() {
    let fx = fixture();
    let outside = fx.ws.parent().unwrap().join("secret.txt");
    fs::write(&outside, "top secret\n").unwrap();
    std::os::unix::fs::symlink(&outside, fx.ws.join("secret-link.txt")).unwrap();
    std::os::unix::fs::symlink(fx.ws.parent().unwrap(), fx.ws.join("up")).unwrap();

    let s = get_snippet(&fx.ws, "pkg/utils.py", 5, 7).unwrap();
    assert_eq!((s.start_line, s.end_line, s.total_lines), (5, 7, UTILS.lines().count() as u32));
    assert!(s.text.starts_with("def slugify(title):"), "{}", s.text);
    let clamped = get_snippet(&fx.ws, "./pkg/utils.py", 10, 10_000).unwrap();
    assert_eq!((clamped.start_line, clamped.end_line), (10, clamped.total_lines), "the end is clamped to the file");

    for (path, needle) in [
        ("../secret.txt", "'..'"),
        ("pkg/../../secret.txt", "'..'"),
        (outside.to_str().unwrap(), "relative"),
        ("secret-link.txt", "symbolic link"),
        ("up/secret.txt", "symbolic link"),
        ("pkg/missing.py", "No such file"),
        ("", "relative"),
    ] {
        let e = get_snippet(&fx.ws, path, 1, 2).unwrap_err();
        assert!(e.to_string().contains(needle), "{path}: {e}");
    }
    assert!(get_snippet(&fx.ws, "pkg/utils.py", 0, 3).unwrap_err().to_string().contains("1-based"));
    assert!(get_snippet(&fx.ws, "pkg/utils.py", 9, 3).unwrap_err().to_string().contains("1-based"));
    assert!(get_snippet(&fx.ws, "pkg/utils.py", 999, 1000).unwrap_err().to_string().contains("does not exist"));
}

#[test]
fn vector_and_fused_search_find_meaning_with_the_real_embedding_model() {
    let fx = fixture();
    let embedder = Arc::new(load_embedder(Backend::Flex).expect("run `edgecoder model pull all-minilm-l6-v2`"));
    let options = IndexOptions { cache_root: Some(fx.cache.clone()), ..IndexOptions::default() };
    let mut r = Retriever::with_embedder(&fx.ws, options.clone(), Some(embedder.clone())).unwrap();
    let report = r.update(&mut |_, _, _| {}).unwrap();
    assert_eq!(report.embedded, report.chunks, "{report:?}");
    assert!(r.index().has_vectors());
    // No word in common with the answer: BM25 cannot find it, the vectors can.
    let q = "throttle how often requests may happen";
    let vector = r.search(q, Scope::Code, Mode::Vector, 3).unwrap();
    assert!(vector[0].name.starts_with("TokenBucket"), "{vector:?}");
    let fused = r.search(q, Scope::Code, Mode::Fused, 3).unwrap();
    assert!(fused.iter().any(|h| h.name.starts_with("TokenBucket")), "{fused:?}");
    // (A vaguer "page describing how to set up the package" ranks the intro first with this
    // model: cosine 0.34 against 0.27 for Installation.)
    let docs = r.search("setting the software up on my machine", Scope::Docs, Mode::Vector, 1).unwrap();
    assert!(docs[0].name.contains("Installation"), "{docs:?}");

    // A BM25-only index gains vectors when reopened with the model: only the embedding is done.
    let tmp_cache = fx.cache.join("second");
    let mut plain = Retriever::with_embedder(&fx.ws, IndexOptions { cache_root: Some(tmp_cache.clone()), ..options.clone() }, None).unwrap();
    plain.update(&mut |_, _, _| {}).unwrap();
    drop(plain);
    let mut upgraded = Retriever::with_embedder(&fx.ws, IndexOptions { cache_root: Some(tmp_cache), ..options }, Some(embedder)).unwrap();
    let report = upgraded.update(&mut |_, _, _| {}).unwrap();
    assert_eq!((report.changed, report.embedded), (0, report.chunks), "{report:?}");
}

fn edgecoder(args: &[&str], cache: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_edgecoder")).args(args).env("EDGECODER_INDEX_CACHE", cache).output().unwrap()
}

#[test]
fn the_search_command_prints_results_and_json_and_names_fixes() {
    let fx = fixture();
    let ws = fx.ws.to_str().unwrap();
    let out = edgecoder(&["search", "slug from a title", "--workspace", ws, "--mode", "bm25", "--json"], &fx.cache);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["mode"], "bm25");
    assert_eq!(v["hits"][0]["path"], "pkg/utils.py");
    assert_eq!(v["hits"][0]["name"], "slugify");
    assert_eq!(v["hits"][0]["start_line"], 5);
    assert_eq!(v["index"]["changed"], 3);

    let out = edgecoder(&["search", "install", "--workspace", ws, "--mode", "bm25", "--scope", "docs", "-k", "1"], &fx.cache);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains("README.md:5-8  Project > Installation"), "{text}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("0 changed"), "the second run re-read nothing");

    let out = edgecoder(&["search", "x", "--workspace", "/no/such/folder", "--mode", "bm25"], &fx.cache);
    assert_eq!(out.status.code(), Some(5));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--workspace"));
    let out = edgecoder(&["search", "x", "--workspace", ws, "--mode", "nonsense"], &fx.cache);
    assert_eq!(out.status.code(), Some(2));
}
