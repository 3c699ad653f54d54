//! Quantized matvec/matmul throughput: GFLOP/s and weight GB/s per type, shape, batch and
//! thread count, next to this machine's measured memory read bandwidth.
//!
//! `cargo bench -p edgecoder-model --bench quant` (add `-- quick` for shorter runs, or a type
//! name such as `-- Q5_0` to run only the cases whose label contains it). `GFLOP/cpu-s` divides
//! by the CPU time all threads used, so it shows per-core efficiency even on a busy machine.
//! `-- model` runs only the sweep through all weight matrices of Qwen2.5-Coder-0.5B.

use std::hint::black_box;
use std::time::{Duration, Instant};

use edgecoder_model::quant::{Isa, Kernels, QuantMatrix, QuantType};

/// Random-looking but valid blocks (finite f16 scales) for a `rows × cols` matrix.
fn matrix(ty: QuantType, rows: usize, cols: usize) -> QuantMatrix {
    let nb = cols / ty.block_len();
    let bb = ty.block_bytes();
    let mut state = 0x1234_5678_9abc_def0u64;
    let mut data: Vec<u8> = (0..rows * nb * bb)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let scale = half::f16::from_f32(0.01).to_bits().to_le_bytes();
    for b in data.chunks_exact_mut(bb) {
        match ty {
            QuantType::F32 => b.copy_from_slice(&0.01f32.to_le_bytes()),
            QuantType::F16 => b.copy_from_slice(&scale),
            QuantType::Q6_K => b[208..210].copy_from_slice(&scale),
            QuantType::Q4_1 | QuantType::Q4_K => {
                b[0..2].copy_from_slice(&scale);
                b[2..4].copy_from_slice(&scale);
            }
            _ => b[0..2].copy_from_slice(&scale),
        }
    }
    QuantMatrix::new(ty, rows, cols, data).expect("valid matrix")
}

/// CPU seconds used so far by all threads of this process.
fn process_cpu() -> f64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid out-pointer for the duration of the call.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// Median wall seconds per call of `f`, and mean CPU seconds per call (all threads), run for
/// about `budget`. CPU time shows the kernels' cost even when other work shares the cores.
fn time(budget: Duration, mut f: impl FnMut()) -> (f64, f64) {
    f();
    let mut samples = Vec::new();
    let start = Instant::now();
    let cpu0 = process_cpu();
    while start.elapsed() < budget || samples.len() < 3 {
        let t = Instant::now();
        f();
        samples.push(t.elapsed().as_secs_f64());
    }
    let cpu = (process_cpu() - cpu0) / samples.len() as f64;
    samples.sort_by(f64::total_cmp);
    (samples[samples.len() / 2], cpu)
}

/// Read bandwidth of a plain streaming sum over 1 GiB, split over `threads` threads.
fn memory_bandwidth(threads: usize, budget: Duration) -> f64 {
    let buf: Vec<u64> = (0..(1usize << 27)).map(|i| i as u64).collect();
    let per = buf.len() / threads;
    let (secs, _) = time(budget, || {
        std::thread::scope(|s| {
            for chunk in buf.chunks(per) {
                s.spawn(move || {
                    let mut acc = [0u64; 8];
                    for c in chunk.chunks_exact(8) {
                        for k in 0..8 {
                            acc[k] = acc[k].wrapping_add(c[k]);
                        }
                    }
                    black_box(acc);
                });
            }
        });
    });
    (buf.len() * 8) as f64 / secs / 1e9
}

/// The weight matrices of Qwen2.5-Coder-0.5B Q4_K_M with their real types and shapes: per layer
/// q, k, v, o, gate, up, down (down alternates Q6_K / Q4_K as in the file), and the Q8_0 head.
fn qwen_0_5b() -> (Vec<QuantMatrix>, QuantMatrix) {
    let mut layers = Vec::new();
    for l in 0..24 {
        let down = if l % 2 == 0 { QuantType::Q6_K } else { QuantType::Q4_K };
        for (ty, rows, cols) in [
            (QuantType::Q5_0, 896, 896),
            (QuantType::Q5_0, 128, 896),
            (QuantType::Q8_0, 128, 896),
            (QuantType::Q5_0, 896, 896),
            (QuantType::Q5_0, 4864, 896),
            (QuantType::Q5_0, 4864, 896),
            (down, 896, 4864),
        ] {
            layers.push(matrix(ty, rows, cols));
        }
    }
    (layers, matrix(QuantType::Q8_0, 151_936, 896))
}

/// Decode and prefill through every weight matrix of the 0.5B model (the matmuls only: no
/// attention, norms or activations), as tokens per second.
fn model_sweep(isa: Isa, budget: Duration) {
    let (layers, head) = qwen_0_5b();
    let bytes: usize = layers.iter().chain([&head]).map(|m| m.data().len()).sum();
    println!("Qwen2.5-Coder-0.5B matmuls only ({:.0} MB of weights):", bytes as f64 / 1e6);
    for threads in [1, 2] {
        let k = Kernels::with_isa(isa, threads).expect("kernels");
        let run = |n: usize, with_head: bool| {
            let x = vec![0.5f32; n * 4864];
            let mut y = vec![0.0f32; n * 151_936];
            let mut step = || {
                for m in &layers {
                    let (c, r) = (m.cols(), m.rows());
                    m.matmul(&k, black_box(&x[..n * c]), n, &mut y[..n * r]).expect("matmul");
                }
                if with_head {
                    head.matvec(&k, &x[..896], &mut y[..151_936]).expect("head");
                }
                black_box(&y);
            };
            // Inside the kernel pool, as an engine runs its forward pass.
            k.install(|| time(budget, &mut step))
        };
        let (secs, cpu) = run(1, true);
        println!(
            "  decode, {threads} thread(s): {:.1} ms/token = {:.1} tokens/s, {:.1} GB/s, {:.0}% CPU",
            secs * 1e3,
            1.0 / secs,
            bytes as f64 / secs / 1e9,
            100.0 * cpu / secs / threads as f64
        );
        let (secs, cpu) = run(512, false);
        println!(
            "  prefill 512, {threads} thread(s): {:.0} ms = {:.0} tokens/s ({:.0} tokens per CPU-second)",
            secs * 1e3,
            512.0 / secs,
            512.0 / cpu
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let quick = args.iter().any(|a| a == "quick");
    let filters: Vec<&String> = args.iter().filter(|a| *a != "quick").collect();
    let budget = Duration::from_millis(if quick { 300 } else { 1500 });
    let isa = Isa::best();
    println!("instruction set: {isa}");
    for threads in [1, 2] {
        println!(
            "memory read bandwidth, {threads} thread(s): {:.1} GB/s",
            memory_bandwidth(threads, budget)
        );
    }
    // (type, rows, cols): the Qwen2.5-Coder-0.5B Q4_K_M shapes (ffn_down Q4_K/Q6_K, gate/up
    // Q5_0, attn_v Q8_0, the Q8_0 output head) and the SmolLM2 Q4_1 ffn.
    let cases = [
        (QuantType::Q4_K, 896, 4864),
        (QuantType::Q6_K, 896, 4864),
        (QuantType::Q5_0, 4864, 896),
        (QuantType::Q5_0, 896, 896),
        (QuantType::Q8_0, 4864, 896),
        (QuantType::Q8_0, 151_936, 896),
        (QuantType::Q4_0, 1536, 576),
        (QuantType::Q4_1, 1536, 576),
        (QuantType::F16, 896, 896),
        (QuantType::F32, 896, 896),
    ];
    if filters.is_empty() || filters.iter().any(|f| f.as_str() == "model") {
        model_sweep(isa, budget);
    }
    println!(
        "{:<22} {:>4} {:>3} {:>10} {:>9} {:>9} {:>12}",
        "case", "n", "thr", "time", "GFLOP/s", "W GB/s", "GFLOP/cpu-s"
    );
    for (ty, rows, cols) in cases {
        let label = format!("{ty} {rows}x{cols}");
        if !filters.is_empty() && !filters.iter().any(|f| label.contains(f.as_str())) {
            continue;
        }
        let w = matrix(ty, rows, cols);
        for threads in [1, 2] {
            let k = Kernels::with_isa(isa, threads).expect("kernels");
            for n in [1usize, 64, 512] {
                if rows >= 100_000 && n > 1 {
                    continue; // the output head only runs for the last token
                }
                let x: Vec<f32> = (0..n * cols).map(|i| ((i % 97) as f32 - 48.0) * 0.02).collect();
                let mut y = vec![0.0f32; n * rows];
                let (secs, cpu) = k.install(|| {
                    time(budget, || {
                        w.matmul(&k, black_box(&x), n, &mut y).expect("matmul");
                        black_box(&y);
                    })
                });
                let flops = 2.0 * (rows * cols * n) as f64;
                let bytes = w.data().len() as f64;
                println!(
                    "{:<22} {:>4} {:>3} {:>8.3}ms {:>9.1} {:>9.1} {:>12.1}",
                    label,
                    n,
                    threads,
                    secs * 1e3,
                    flops / secs / 1e9,
                    bytes / secs / 1e9,
                    flops / cpu / 1e9
                );
            }
        }
    }
}
