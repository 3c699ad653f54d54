//! GGUF load and dequantization speed on the real model files from the model store.
//!
//! `cargo bench -p edgecoder-model --bench gguf`: for each model, the time to map and parse
//! the header (metadata incl. the whole vocabulary, tensor infos), then per ggml type the
//! dequantization throughput over every tensor of that type (single thread, warm pages).

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Instant;

use edgecoder_model::gguf::{GgmlType, GgufFile};
use edgecoder_ota::ModelStore;

fn main() {
    let store = ModelStore::from_env().expect("model store");
    println!("{:<20} {:>10} {:>8} {:>12} {:>12} {:>10}", "model / type", "tensors", "MiB in", "M elements", "ms", "Melem/s");
    for id in ["smollm2-135m", "qwen2.5-coder-0.5b"] {
        let path = store.ensure(id).expect("pull");
        let runs = 5;
        let start = Instant::now();
        for _ in 0..runs {
            black_box(GgufFile::open(&path).expect("open"));
        }
        let open_ms = start.elapsed().as_secs_f64() * 1e3 / runs as f64;
        let f = GgufFile::open(&path).expect("open");
        println!("{id:<20} {:>10} {:>8} {:>12} {open_ms:>12.2} {:>10}", f.tensors().len(), "-", "-", "(open)");

        let mut by_type: BTreeMap<GgmlType, Vec<_>> = BTreeMap::new();
        for t in f.tensor_views() {
            by_type.entry(t.ggml_type()).or_default().push(t);
        }
        for (ty, tensors) in by_type {
            let bytes: usize = tensors.iter().map(|t| t.data().len()).sum();
            let elems: u64 = tensors.iter().map(|t| t.info().n_elements()).sum();
            let largest = tensors.iter().map(|t| t.info().n_elements() as usize).max().unwrap_or(0);
            let mut out = vec![0.0f32; largest];
            // The first pass faults the mapped pages and the output buffer in; time the second.
            let mut s = 0.0;
            for _ in 0..2 {
                let start = Instant::now();
                for t in &tensors {
                    let out = &mut out[..t.info().n_elements() as usize];
                    edgecoder_model::gguf::dequantize(ty, t.data(), out).expect("dequantize");
                    black_box(out);
                }
                s = start.elapsed().as_secs_f64();
            }
            println!(
                "  {:<18} {:>10} {:>8.1} {:>12.1} {:>12.1} {:>10.0}",
                ty.name(),
                tensors.len(),
                bytes as f64 / (1 << 20) as f64,
                elems as f64 / 1e6,
                s * 1e3,
                elems as f64 / 1e6 / s
            );
        }
    }
}
