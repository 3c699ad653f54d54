//! Tokenizer speed: vocabulary load time and encode/decode throughput on a 10 KB source file,
//! for every model file found (store or `~/.cache/edgecoder/dev-models`).
//!
//! Run: `cargo bench -p edgecoder-model --bench tokenizer`

use std::path::PathBuf;
use std::time::{Duration, Instant};

use edgecoder_model::gguf::GgufFile;
use edgecoder_model::tokenizer::Tokenizer;

const MODELS: &[(&str, &str)] = &[
    ("smollm2-135m", "SmolLM2-135M-Instruct.Q4_1.gguf"),
    (
        "qwen2.5-coder-0.5b",
        "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    ),
    ("gemma3-270m", "gemma-3-270m-q4_k_m.gguf"),
];

fn find(id: &str, file_name: &str) -> Option<PathBuf> {
    let home = PathBuf::from(std::env::var_os("HOME")?);
    let mut candidates = Vec::new();
    if let Some(dir) = std::env::var_os("EDGECODER_MODELS") {
        candidates.push(PathBuf::from(dir).join(id).join(file_name));
    }
    candidates.push(
        home.join(".local/share/edgecoder/models")
            .join(id)
            .join(file_name),
    );
    candidates.push(home.join(".cache/edgecoder/dev-models").join(file_name));
    candidates.into_iter().find(|p| p.is_file())
}

/// The first 10 KiB (cut at a character boundary) of a real Rust source file.
fn source_10k() -> &'static str {
    let text = include_str!("../src/tokenizer/mod.rs");
    let mut end = 10 * 1024;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Median of `runs` timings of `f`.
fn median(runs: usize, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}

fn main() {
    let text = source_10k();
    println!(
        "{:<20} {:>9} {:>8} {:>11} {:>10} {:>11}",
        "model", "load ms", "tokens", "encode µs", "MB/s", "decode µs"
    );
    for &(id, file_name) in MODELS {
        let Some(path) = find(id, file_name) else {
            println!("{id:<20} (file not found; run `edgecoder model pull {id}`)");
            continue;
        };
        let file = GgufFile::open(&path).expect("open GGUF");
        let mut tokenizer = None;
        let load = median(3, || {
            tokenizer = Some(Tokenizer::from_gguf(&file).expect("tokenizer"))
        });
        let tokenizer = tokenizer.expect("built");
        let mut ids = Vec::new();
        let encode = median(31, || {
            ids = tokenizer
                .encode(std::hint::black_box(text), false, true)
                .expect("encode")
        });
        let decode = median(31, || {
            std::hint::black_box(tokenizer.decode(&ids, true).expect("decode"));
        });
        let mb_s = text.len() as f64 / encode.as_secs_f64() / 1e6;
        println!(
            "{:<20} {:>9.1} {:>8} {:>11.0} {:>10.1} {:>11.0}",
            id,
            load.as_secs_f64() * 1e3,
            ids.len(),
            encode.as_secs_f64() * 1e6,
            mb_s,
            decode.as_secs_f64() * 1e6
        );
    }
}
