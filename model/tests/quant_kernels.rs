//! Quantized matvec/matmul kernels: every SIMD path equals the scalar reference bit for bit,
//! and the result is within the int8-activation error bound of (dequantized W)·x.

use edgecoder_model::gguf::dequantize_to_vec;
use edgecoder_model::quant::{
    ActFormat, Isa, Kernels, QuantError, QuantMatrix, QuantType, QuantizedActs,
};
use half::f16;

/// Deterministic pseudo-random numbers (splitmix64), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn byte(&mut self) -> u8 {
        self.next() as u8
    }
    /// Uniform in [lo, hi).
    fn uniform(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * ((self.next() >> 40) as f32 / (1u64 << 24) as f32)
    }
    fn f16_bytes(&mut self, lo: f32, hi: f32) -> [u8; 2] {
        f16::from_f32(self.uniform(lo, hi)).to_bits().to_le_bytes()
    }
}

/// Random but valid blocks: random quants, scales in a realistic range (signed for `d`).
fn random_matrix(ty: QuantType, rows: usize, cols: usize, rng: &mut Rng) -> Vec<u8> {
    let nb = cols / ty.block_len();
    let mut out = Vec::with_capacity(rows * nb * ty.block_bytes());
    for _ in 0..rows * nb {
        let mut b: Vec<u8> = (0..ty.block_bytes()).map(|_| rng.byte()).collect();
        match ty {
            QuantType::F32 => b = rng.uniform(-1.0, 1.0).to_le_bytes().to_vec(),
            QuantType::F16 => b = rng.f16_bytes(-1.0, 1.0).to_vec(),
            QuantType::Q4_0 | QuantType::Q5_0 | QuantType::Q8_0 => {
                b[..2].copy_from_slice(&rng.f16_bytes(-0.05, 0.05));
            }
            QuantType::Q4_1 => {
                b[..2].copy_from_slice(&rng.f16_bytes(0.0, 0.05));
                b[2..4].copy_from_slice(&rng.f16_bytes(-0.4, 0.0));
            }
            QuantType::Q4_K => {
                b[..2].copy_from_slice(&rng.f16_bytes(0.0, 0.01));
                b[2..4].copy_from_slice(&rng.f16_bytes(0.0, 0.01));
            }
            QuantType::Q6_K => b[208..210].copy_from_slice(&rng.f16_bytes(-0.005, 0.005)),
        }
        out.extend_from_slice(&b);
    }
    out
}

fn f16_at(b: &[u8], o: usize) -> f64 {
    f16::from_bits(u16::from_le_bytes([b[o], b[o + 1]])).to_f64()
}

/// f32 weights from the GGUF module's dequantizers (checked bit-exactly against gguf-py).
fn dequant_rows(ty: QuantType, data: &[u8], rows: usize, cols: usize) -> Vec<f64> {
    let w = dequantize_to_vec(ty.ggml(), data).expect("dequantize");
    assert_eq!(w.len(), rows * cols);
    w.into_iter().map(f64::from).collect()
}

/// Activations with the awkward cases mixed in: zero rows, outliers, tiny values, negatives.
fn activations(n: usize, cols: usize, rng: &mut Rng) -> Vec<f32> {
    let mut x: Vec<f32> = (0..n * cols).map(|_| rng.uniform(-2.0, 2.0)).collect();
    for t in 0..n {
        let row = &mut x[t * cols..(t + 1) * cols];
        match t % 5 {
            1 => row.iter_mut().for_each(|v| *v = 0.0),
            2 => row[cols / 3] = -90.0,
            3 => row.iter_mut().for_each(|v| *v *= 1e-6),
            _ => {}
        }
    }
    x
}

const QUANT_TYPES: [QuantType; 6] = [
    QuantType::Q4_0,
    QuantType::Q4_1,
    QuantType::Q5_0,
    QuantType::Q8_0,
    QuantType::Q4_K,
    QuantType::Q6_K,
];

fn run(ty: QuantType, isa: Isa, threads: usize, w: &QuantMatrix, x: &[f32], n: usize) -> Vec<f32> {
    let k = Kernels::with_isa(isa, threads).unwrap();
    let mut y = vec![f32::NAN; n * w.rows()];
    w.matmul(&k, x, n, &mut y).unwrap_or_else(|e| panic!("{ty} {isa}: {e}"));
    y
}

#[test]
fn simd_paths_equal_the_scalar_reference_bit_for_bit() {
    let mut rng = Rng(7);
    // Row counts that leave tile remainders (37, 21) and token counts that leave them too.
    // The last shape is big enough to be split over the worker threads.
    let shapes = [(37, 2, 1), (64, 3, 4), (21, 1, 5), (48, 2, 9), (40, 4, 70), (600, 2, 20)];
    for ty in QUANT_TYPES {
        for &(rows, blocks, n) in &shapes {
            let cols = blocks * ty.block_len();
            let w = QuantMatrix::new(ty, rows, cols, random_matrix(ty, rows, cols, &mut rng)).unwrap();
            let x = activations(n, cols, &mut rng);
            let reference = run(ty, Isa::Scalar, 1, &w, &x, n);
            for isa in Isa::available() {
                for threads in [1, 2] {
                    let y = run(ty, isa, threads, &w, &x, n);
                    for (i, (a, b)) in y.iter().zip(&reference).enumerate() {
                        assert_eq!(
                            a.to_bits(),
                            b.to_bits(),
                            "{ty} {isa} threads={threads} rows={rows} cols={cols} n={n} output {i}: {a} vs {b}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn simd_paths_agree_on_extreme_quants() {
    // Saturating cases: every quant at its maximum or minimum, activations at ±127 steps.
    let mut rng = Rng(11);
    for ty in QUANT_TYPES {
        for fill in [0x00u8, 0xFF, 0x80, 0x7F] {
            let rows = 16;
            let cols = 2 * ty.block_len();
            let mut data = random_matrix(ty, rows, cols, &mut rng);
            let bb = ty.block_bytes();
            for blk in data.chunks_exact_mut(bb) {
                let (lo, hi) = match ty {
                    QuantType::Q4_0 | QuantType::Q5_0 | QuantType::Q8_0 => (2, bb),
                    QuantType::Q4_1 => (4, bb),
                    QuantType::Q4_K => (4, bb),
                    _ => (0, 208),
                };
                blk[lo..hi].iter_mut().for_each(|v| *v = fill);
            }
            let w = QuantMatrix::new(ty, rows, cols, data).unwrap();
            let x: Vec<f32> = (0..9 * cols).map(|i| if i % 3 == 0 { -1.0 } else { 1.0 }).collect();
            let reference = run(ty, Isa::Scalar, 1, &w, &x, 9);
            assert!(reference.iter().all(|v| v.is_finite()));
            for isa in Isa::available() {
                let y = run(ty, isa, 1, &w, &x, 9);
                let same = y.iter().zip(&reference).all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(same, "{ty} {isa} fill {fill:#x}: {y:?} vs {reference:?}");
            }
        }
    }
}

/// Error bound of replacing x by its int8 quantization. Per block the quantizer rounds x/Δ to
/// the nearest integer (Δ = max|x|/127), so |x − q·Δ| ≤ Δ/2; the kernels then use the stored
/// step Δ̂ (f16-rounded for Q8_0/Q8_1, exactly as llama.cpp stores it — which also means blocks
/// with max|x| below ~1e-5 underflow to 0), which moves each element by at most 127·|Δ − Δ̂|.
/// So |y − W·x| ≤ Σ_blocks (Δ/2 + 127·|Δ − Δ̂|)·Σ|w| over the block. Q4_1's minimum term uses the
/// stored s = f16(Δ·Σq) for Σx: |m|·(32·Δ/2 + 32·127·|Δ − Δ̂| + 2⁻¹¹·|s|) more. Plus f32
/// rounding, relative 1e-5 of Σ|w·x|.
#[test]
fn results_are_within_the_activation_quantization_bound_of_dequantized_weights() {
    let mut rng = Rng(3);
    for ty in QuantType::ALL {
        let (rows, cols, n) = (24, 4 * 256, 6);
        let data = random_matrix(ty, rows, cols, &mut rng);
        let wf = dequant_rows(ty, &data, rows, cols);
        let w = QuantMatrix::new(ty, rows, cols, data).unwrap();
        let x = activations(n, cols, &mut rng);
        let ab = ty.act_format().map_or(1, |f| f.block_len());
        let f16_step = matches!(ty.act_format(), Some(ActFormat::Q8_0 | ActFormat::Q8_1));
        for isa in Isa::available() {
            let y = run(ty, isa, 2, &w, &x, n);
            for t in 0..n {
                for r in 0..rows {
                    let wr = &wf[r * cols..(r + 1) * cols];
                    let xr = &x[t * cols..(t + 1) * cols];
                    let exact: f64 = wr.iter().zip(xr).map(|(a, b)| a * *b as f64).sum();
                    let mut bound = 0.0;
                    if ty.act_format().is_some() {
                        for (b, (wb, xb)) in wr.chunks(ab).zip(xr.chunks(ab)).enumerate() {
                            let amax = xb.iter().fold(0f32, |m, v| m.max(v.abs()));
                            let step = (amax / 127.0) as f64;
                            let stored = if f16_step { f16::from_f32(amax / 127.0).to_f64() } else { step };
                            let e = 0.5 * step + 127.0 * (step - stored).abs() + 1e-7 * step;
                            if ty == QuantType::Q4_1 {
                                let m = f16_at(w.data(), (r * cols / 32 + b) * ty.block_bytes() + 2);
                                let sx: f64 = xb.iter().map(|v| v.abs() as f64).sum();
                                bound += e * wb.iter().map(|v| (v - m).abs()).sum::<f64>();
                                bound += m.abs() * (32.0 * e + 4.9e-4 * (sx + 16.0 * step));
                            } else {
                                bound += e * wb.iter().map(|v| v.abs()).sum::<f64>();
                            }
                        }
                    }
                    bound += 1e-5 * wr.iter().zip(xr).map(|(a, b)| (a * *b as f64).abs()).sum::<f64>();
                    let got = y[t * rows + r] as f64;
                    assert!(
                        (got - exact).abs() <= bound + 1e-12,
                        "{ty} {isa} t={t} r={r}: {got} vs {exact} (bound {bound})"
                    );
                }
            }
        }
    }
}

/// With the activations taken exactly as their int8 quantization (and, for Q4_1, the stored
/// block sum `s` for Σx), the only error left is f32 rounding: the integer stage must be exact
/// (a single wrong quant shows on these one-block rows).
#[test]
fn results_match_dequantized_weights_times_quantized_activations() {
    let mut rng = Rng(5);
    for ty in QUANT_TYPES {
        let (rows, cols, n) = (16, ty.block_len(), 5);
        let data = random_matrix(ty, rows, cols, &mut rng);
        let wf = dequant_rows(ty, &data, rows, cols);
        let w = QuantMatrix::new(ty, rows, cols, data).unwrap();
        let x = activations(n, cols, &mut rng);
        let a: QuantizedActs = w.quantize_input(&Kernels::new(1).unwrap(), &x, n).unwrap();
        let bl = a.format().block_len();
        for isa in Isa::available() {
            let k = Kernels::with_isa(isa, 1).unwrap();
            let mut y = vec![0.0; n * rows];
            w.matmul_quantized(&k, &a, &mut y).unwrap();
            for t in 0..n {
                for r in 0..rows {
                    // Q4_1: w = d·q + m; the kernel computes d·q·x̂ + m·s.
                    let m = if ty == QuantType::Q4_1 { f16_at(w.data(), r * ty.block_bytes() + 2) } else { 0.0 };
                    let mut exact = m * a.s().get(a.bidx(t, 0)).copied().unwrap_or(0.0) as f64;
                    let mut mag = exact.abs();
                    for i in 0..cols {
                        let xq = a.qs()[t * cols + i] as f64 * a.d()[a.bidx(t, i / bl)] as f64;
                        exact += (wf[r * cols + i] - m) * xq;
                        mag += ((wf[r * cols + i] - m) * xq).abs();
                    }
                    let got = y[t * rows + r] as f64;
                    assert!(
                        (got - exact).abs() <= 2e-6 * mag + 1e-12,
                        "{ty} {isa} t={t} r={r}: {got} vs {exact}"
                    );
                }
            }
        }
    }
}

#[test]
fn matvec_equals_matmul_with_one_row() {
    let mut rng = Rng(9);
    let k = Kernels::new(2).unwrap();
    for ty in QuantType::ALL {
        let (rows, cols) = (40, 512);
        let w = QuantMatrix::new(ty, rows, cols, random_matrix(ty, rows, cols, &mut rng)).unwrap();
        let x = activations(3, cols, &mut rng);
        let mut all = vec![0.0; 3 * rows];
        w.matmul(&k, &x, 3, &mut all).unwrap();
        for t in 0..3 {
            let mut y = vec![0.0; rows];
            w.matvec(&k, &x[t * cols..(t + 1) * cols], &mut y).unwrap();
            assert_eq!(y, all[t * rows..(t + 1) * rows], "{ty} token {t}");
        }
    }
}

#[test]
fn non_finite_activations_give_non_finite_outputs_not_panics() {
    let mut rng = Rng(13);
    for ty in QuantType::ALL {
        let cols = 256;
        let w = QuantMatrix::new(ty, 8, cols, random_matrix(ty, 8, cols, &mut rng)).unwrap();
        let mut x = vec![0.5f32; cols];
        x[7] = f32::NAN;
        x[100] = f32::INFINITY;
        for isa in Isa::available() {
            let y = run(ty, isa, 1, &w, &x, 1);
            assert!(y.iter().any(|v| !v.is_finite()), "{ty} {isa}: {y:?}");
        }
    }
}

#[test]
fn bad_shapes_and_sizes_are_clear_errors() {
    let k = Kernels::new(1).unwrap();
    let data = vec![0u8; 2 * 144];
    assert!(matches!(
        QuantMatrix::new(QuantType::Q4_K, 2, 100, data.clone()),
        Err(QuantError::RaggedRow { block: 256, cols: 100, .. })
    ));
    assert!(matches!(
        QuantMatrix::new(QuantType::Q4_K, 3, 256, data.clone()),
        Err(QuantError::DataSize { expected: 432, actual: 288, .. })
    ));
    assert!(matches!(
        QuantMatrix::new(QuantType::Q4_K, 0, 0, Vec::new()),
        Err(QuantError::RaggedRow { .. })
    ));
    assert!(matches!(
        QuantMatrix::new(QuantType::Q8_0, usize::MAX / 2, 64, Vec::new()),
        Err(QuantError::DataSize { .. })
    ));
    let w = QuantMatrix::new(QuantType::Q4_K, 2, 256, data).unwrap();
    let mut y = vec![0.0; 2];
    let err = w.matvec(&k, &[0.0; 255], &mut y).unwrap_err();
    assert!(matches!(err, QuantError::Shape { what: "x", expected: 256, actual: 255 }), "{err}");
    let err = w.matvec(&k, &[0.0; 256], &mut [0.0; 3]).unwrap_err();
    assert!(matches!(err, QuantError::Shape { what: "y", expected: 2, actual: 3 }), "{err}");
    let err = w.matmul(&k, &[0.0; 256], usize::MAX, &mut y).unwrap_err();
    assert!(matches!(err, QuantError::Shape { what: "x", .. }), "{err}");
    w.matmul(&k, &[], 0, &mut []).unwrap();
    let empty = QuantMatrix::new(QuantType::Q8_0, 0, 32, Vec::new()).unwrap();
    empty.matvec(&Kernels::new(2).unwrap(), &[1.0; 32], &mut []).unwrap();

    let q8 = QuantMatrix::new(QuantType::Q8_0, 1, 256, vec![0u8; 8 * 34]).unwrap();
    let acts = q8.quantize_input(&k, &[1.0; 256], 1).unwrap();
    let err = w.matmul_quantized(&k, &acts, &mut y).unwrap_err();
    assert!(matches!(err, QuantError::UnsupportedType(_)), "{err}");
    let f = QuantMatrix::new(QuantType::F32, 1, 4, vec![0u8; 16]).unwrap();
    assert!(f.quantize_input(&k, &[0.0; 4], 1).is_err());

    assert!(matches!(QuantType::from_ggml_id(13), Err(QuantError::UnsupportedType(_))));
    assert!(matches!(QuantType::from_ggml_id(9999), Err(QuantError::UnsupportedType(_))));
    for ty in QuantType::ALL {
        assert_eq!(QuantType::from_ggml_id(ty.ggml_id()).unwrap(), ty);
    }
    assert!(matches!(Kernels::new(0), Err(QuantError::Threads(_))));
}

#[test]
fn threaded_activation_quantization_equals_the_serial_one() {
    let mut rng = Rng(17);
    let k = Kernels::new(2).unwrap();
    for ty in [QuantType::Q8_0, QuantType::Q4_1, QuantType::Q4_K] {
        for n in [1, 8, 41] {
            let cols = 1024;
            let w = QuantMatrix::new(ty, 1, cols, random_matrix(ty, 1, cols, &mut rng)).unwrap();
            let x = activations(n, cols, &mut rng);
            let par = w.quantize_input(&k, &x, n).unwrap();
            let ser = QuantizedActs::quantize(ty.act_format().unwrap(), &x, n, cols);
            assert_eq!(par.qs(), ser.qs(), "{ty} n={n}");
            assert_eq!(par.sums(), ser.sums(), "{ty} n={n}");
            assert_eq!(par.bsums(), ser.bsums(), "{ty} n={n}");
            assert_eq!(par.packed(), ser.packed(), "{ty} n={n}");
            assert_eq!(par.packed_bsums(), ser.packed_bsums(), "{ty} n={n}");
            let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&par.d()), bits(&ser.d()), "{ty} n={n}");
            assert_eq!(bits(&par.s()), bits(&ser.s()), "{ty} n={n}");
        }
    }
}

#[test]
fn calls_inside_install_equal_calls_outside() {
    let mut rng = Rng(23);
    let k = Kernels::new(2).unwrap();
    for ty in [QuantType::Q5_0, QuantType::Q4_K] {
        let (rows, cols, n) = (512, 512, 12);
        let w = QuantMatrix::new(ty, rows, cols, random_matrix(ty, rows, cols, &mut rng)).unwrap();
        let x = activations(n, cols, &mut rng);
        let mut outside = vec![0.0; n * rows];
        w.matmul(&k, &x, n, &mut outside).unwrap();
        let inside = k.install(|| {
            let mut y = vec![0.0; n * rows];
            w.matmul(&k, &x, n, &mut y).unwrap();
            y
        });
        assert_eq!(outside, inside, "{ty}");
    }
}
