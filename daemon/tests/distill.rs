//! The distillation pipeline end to end at CI scale, through the `edgecoder distill` CLI: the
//! real default model as teacher on two seed tasks and one task whose tests no correct answer
//! passes (its answers must all be filtered out), a tiny student trained on what was kept
//! (its loss falls), and its exports loaded by the engine (`edgecoder generate`) and by
//! llama.cpp (llama-cpp-python from the test venv).

mod support;

use std::path::Path;
use std::process::Command;

fn edgecoder(args: &[&str]) -> std::process::Output {
    let out = Command::new(env!("CARGO_BIN_EXE_edgecoder")).args(args).output().expect("edgecoder runs");
    assert!(
        out.status.success(),
        "edgecoder {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn teacher_data_is_filtered_by_the_executor_and_a_tiny_student_trains_and_exports() {
    support::model_path("qwen2.5-coder-0.5b");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let str = |p: &Path| p.to_str().unwrap().to_owned();

    // Two seed tasks, and a trap: its hidden test wants the wrong answer.
    let seed = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../eval/data/distill_seed.jsonl")).unwrap();
    let mut tasks: Vec<String> = seed.lines().take(2).map(str::to_owned).collect();
    tasks.push(
        serde_json::json!({
            "task_id": "trap/0",
            "prompt": "def add(a, b):\n    \"\"\"Return a + b.\n    >>> add(1, 2)\n    3\n    \"\"\"\n",
            "entry_point": "add",
            "test": "def check(candidate):\n    assert candidate(1, 2) == 4\n",
        })
        .to_string(),
    );
    let tasks_path = d.join("tasks.jsonl");
    std::fs::write(&tasks_path, tasks.join("\n") + "\n").unwrap();

    let data_dir = d.join("data");
    let out = edgecoder(&[
        "distill", "data", "--teacher", "qwen2.5-coder-0.5b", "--tasks", &str(&tasks_path), "--samples", "2",
        "--max-tokens", "200", "--top-k", "8", "--out", &str(&data_dir), "--json",
    ]);
    let card: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(card["generated"], 6, "{card}");
    let kept = lines(&data_dir.join("data.jsonl"));
    let rejected = lines(&data_dir.join("rejected.jsonl"));
    assert_eq!(kept.len() + rejected.len(), 6);
    assert_eq!(card["kept"], kept.len());
    assert!(!kept.is_empty(), "the default model solves none of two easy tasks: {rejected:?}");
    assert!(kept.iter().all(|s| s["task_id"] != "trap/0"), "a failing answer was kept");
    let traps: Vec<_> = rejected.iter().filter(|r| r["task_id"] == "trap/0").collect();
    assert_eq!(traps.len(), 2);
    assert!(traps.iter().all(|r| r["reason"] == "tests_failed" || r["reason"] == "no_code" || r["reason"] == "duplicate"), "{traps:?}");
    for s in &kept {
        let tokens = s["tokens"].as_array().unwrap().len();
        let start = s["response_start"].as_u64().unwrap() as usize;
        assert_eq!(s["top_k"].as_array().unwrap().len(), tokens - start);
        assert_eq!(s["top_k"][0]["ids"].as_array().unwrap().len(), 8);
    }
    let md = std::fs::read_to_string(data_dir.join("data-card.md")).unwrap();
    assert!(md.contains("| generated | 6 |") && md.contains("tests_failed"), "{md}");

    // A tiny student (2 layers, width 64) on the kept samples.
    let config = d.join("student.toml");
    std::fs::write(
        &config,
        "[student]\nbase = \"qwen2.5-coder-0.5b\"\nlayers = 2\nhidden = 64\nheads = 4\nkv_heads = 2\nffn = 128\ncontext = 512\n\
         [train]\nsteps = 16\nbatch_size = 2\nlearning_rate = 1e-2\nwarmup_steps = 2\ntemperature = 1.0\nmax_seq = 512\ncheckpoint_every = 8\n",
    )
    .unwrap();
    let run = d.join("run");
    let out = edgecoder(&["distill", "train", "--config", &str(&config), "--data", &str(&data_dir.join("data.jsonl")), "--out", &str(&run), "--json"]);
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let steps = summary["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 16);
    let loss = |s: &serde_json::Value| s["loss"].as_f64().unwrap();
    let first = (loss(&steps[0]) + loss(&steps[1])) / 2.0;
    let last = (loss(&steps[14]) + loss(&steps[15])) / 2.0;
    assert!(last < 0.8 * first, "loss {first} -> {last}");
    assert!(std::fs::read_to_string(run.join("loss.csv")).unwrap().lines().count() == 17);
    assert!(std::fs::read(run.join("loss.png")).unwrap().starts_with(b"\x89PNG\r\n"), "loss.png is not a PNG");

    // Exports: GGUF for the engine and llama.cpp, safetensors for MLX/transformers.
    let gguf = d.join("student.q8_0.gguf");
    edgecoder(&["distill", "export", "--checkpoint", &str(&run.join("checkpoint")), "--format", "q8_0", "--out", &str(&gguf)]);
    let st = d.join("student-st");
    edgecoder(&["distill", "export", "--checkpoint", &str(&run.join("checkpoint")), "--format", "safetensors", "--out", &str(&st)]);
    assert!(st.join("model.safetensors").is_file() && st.join("config.json").is_file());
    let ours = edgecoder(&["generate", "--model", &str(&gguf), "--prompt", "def add(a, b):", "--max-tokens", "8", "--json"]);
    let text = String::from_utf8_lossy(&ours.stdout);
    let stats: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert!(stats["prompt_tokens"].as_u64().unwrap() >= 5, "{text}");
    let script = "import sys, llama_cpp\n\
                  m = llama_cpp.Llama(model_path=sys.argv[1], n_ctx=256, n_threads=2, verbose=False)\n\
                  assert m.n_vocab() == 151936, m.n_vocab()\n\
                  out = m.create_completion('def add(a, b):', max_tokens=8, temperature=0.0)\n\
                  print(out['usage']['completion_tokens'])\n";
    let run = Command::new(support::python()).arg("-c").arg(script).arg(&gguf).output().unwrap();
    assert!(run.status.success(), "llama.cpp could not load the student:\n{}", String::from_utf8_lossy(&run.stderr));
    let generated: u32 = String::from_utf8_lossy(&run.stdout).trim().parse().unwrap();
    assert!(generated >= 1);

    // Bad input: a config that cannot train is refused with the field named, nothing written.
    std::fs::write(&config, "[student]\nbase = \"qwen2.5-coder-0.5b\"\nlayers = 2\nhidden = 64\nheads = 4\nkv_heads = 3\nffn = 128\n").unwrap();
    let bad = Command::new(env!("CARGO_BIN_EXE_edgecoder"))
        .args(["distill", "train", "--config", &str(&config), "--data", &str(&data_dir.join("data.jsonl")), "--out", &str(&d.join("bad"))])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("kv_heads"));
    assert!(!d.join("bad").exists());
}
