//! End-to-end tests of `edgecoder generate` and `edgecoder bench model` on the small SmolLM2
//! fixture (`edgecoder model pull smollm2-135m`); `bench model` also runs llama.cpp from the
//! test venv (`scripts/test` installs llama-cpp-python there).

mod support;

use std::path::PathBuf;
use std::process::Output;

use support::{edgecoder, text};


/// The SmolLM2 fixture's path in the store, or a panic naming the pull command.
fn smollm2() -> String {
    support::model_path("smollm2-135m").display().to_string()
}

#[test]
fn generate_streams_text_and_ends_with_a_json_summary() {
    smollm2();
    let out = edgecoder(&[
        "generate", "--model", "smollm2-135m", "--prompt", "def add(a, b):", "--max-tokens", "12",
        "--threads", "2", "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let last = stdout.lines().last().expect("a summary line");
    let summary: serde_json::Value = serde_json::from_str(last).expect("the last line is JSON");
    for key in ["prompt_tokens", "ttft_s", "prefill_tokens_per_s", "decode_tokens_per_s"] {
        assert!(summary[key].as_f64().is_some_and(|v| v > 0.0), "{key} in {summary}");
    }
    assert_eq!(summary["generated_tokens"], 12, "{summary}");
    assert!(summary["peak_rss_bytes"].as_u64().is_some_and(|b| b > 50 << 20), "{summary}");
    let generated = &stdout[..stdout.len() - last.len()];
    assert!(!generated.trim().is_empty(), "no text before the summary: {stdout:?}");
}

#[test]
fn generate_by_path_is_greedy_and_repeatable_and_prints_a_human_summary() {
    let path = smollm2();
    let run = || edgecoder(&["generate", "--model", &path, "--prompt", "The capital of France is", "--max-tokens", "6"]);
    let (a, b) = (run(), run());
    assert_eq!(a.status.code(), Some(0), "{}", text(&a.stderr));
    let body = |o: &Output| text(&o.stdout).lines().rev().skip(1).collect::<Vec<_>>().join("\n");
    assert_eq!(body(&a), body(&b), "greedy output differs between two runs");
    let last = text(&a.stdout).lines().last().unwrap_or_default().to_string();
    assert!(last.contains("6 generated") && last.contains("decode") && last.contains("peak RSS"), "{last}");
}

#[test]
fn generate_rejects_bad_input_with_the_fix() {
    let out = edgecoder(&["generate", "--model", "no-such-model", "--prompt", "x"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("edgecoder model list"), "{}", text(&out.stderr));
    let out = edgecoder(&["generate", "--model", &smollm2(), "--prompt", "x", "--backend", "tpu"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("flex, ndarray or wgpu"), "{}", text(&out.stderr));
    let out = edgecoder(&["generate", "--model", &smollm2(), "--prompt", "x", "--temperature", "-1"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("temperature"), "{}", text(&out.stderr));
    let out = edgecoder(&["generate", "--model", &smollm2(), "--prompt", "x", "--threads", "0"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn bench_model_measures_both_engines_and_writes_json() {
    smollm2();
    let dir = std::env::temp_dir().join(format!("edgecoder-bench-model-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("bench.json");
    let out = edgecoder(&[
        "bench", "model", "--model", "smollm2-135m", "--prompt-tokens", "64", "--decode-tokens", "16",
        "--reuse-tokens", "8", "--json-out", json.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    for row in ["prefill", "decode", "time to first token", "peak RSS", "prefix reuse", "linear"] {
        assert!(table.contains(row), "missing {row} in:\n{table}");
    }
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    for engine in ["ours", "llama_cpp"] {
        for key in ["prefill_tokens_per_s", "decode_tokens_per_s", "ttft_s"] {
            assert!(report[engine][key].as_f64().is_some_and(|v| v > 0.0), "{engine}.{key}: {report}");
        }
    }
    assert!(report["ratio_decode"].as_f64().is_some_and(|r| r > 0.0), "{report}");
    assert_eq!(report["prefix_reuse_reused_tokens"], 64, "{report}");
    assert_eq!(report["prefix_reuse_new_tokens"], 8, "{report}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bench_model_names_the_fix_when_llama_cpp_is_missing() {
    smollm2();
    let json = std::env::temp_dir().join(format!("edgecoder-bench-nopy-{}.json", std::process::id()));
    let out = edgecoder(&[
        "bench", "model", "--model", "smollm2-135m", "--prompt-tokens", "8", "--decode-tokens", "2",
        "--reuse-tokens", "1", "--python", "/no/such/python", "--json-out", json.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("--python") && err.contains("--no-llama-cpp"), "{err}");
    assert!(!PathBuf::from(&json).exists());
}
