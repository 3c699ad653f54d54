//! The quantized kernels on real tensors of the model files: every SIMD path equals the scalar
//! reference bit for bit, and the result is within the int8-activation error bound of the GGUF
//! module's own f32 dequantization times x.
//!
//! The model files come from the model store (`edgecoder model pull <id>`, `$EDGECODER_MODELS`).

mod common;

use edgecoder_model::gguf::GgufFile;
use edgecoder_model::quant::{Isa, Kernels, QuantMatrix, QuantType};

/// Activation rows shaped like a transformer's (RMS-normalised, a few large channels).
fn activations(n: usize, cols: usize) -> Vec<f32> {
    (0..n * cols)
        .map(|i| {
            let v = ((i as f32) * 0.618_034).sin();
            if i % 97 == 5 { v * 20.0 } else { v }
        })
        .collect()
}

/// Checks the first `max_rows` rows of tensor `name`: bit-identical paths, and within the
/// activation-quantization bound (see `quant_kernels.rs`) of dequantized f32 weights · x.
fn check_tensor(file: &GgufFile, name: &str, want: QuantType, max_rows: usize) {
    let view = file.tensor(name).unwrap_or_else(|e| panic!("{name}: {e}"));
    let ty = QuantType::from_ggml_id(view.ggml_type().id()).expect("kernel type");
    assert_eq!(ty, want, "{name} type");
    let cols = view.info().row_len();
    let rows = view.info().n_rows().min(max_rows);
    let rb = view.info().row_bytes();
    let bytes = view.data()[..rows * rb].to_vec();
    let w = QuantMatrix::new(ty, rows, cols, bytes).expect("matrix");
    let n = 9;
    let x = activations(n, cols);
    let reference = {
        let k = Kernels::with_isa(Isa::Scalar, 1).unwrap();
        let mut y = vec![0.0; n * rows];
        w.matmul(&k, &x, n, &mut y).unwrap();
        y
    };
    // One activation row takes llama.cpp's one-row (gemv / vec_dot) order, which for the
    // K-quants differs from its batched order: compare with the scalar matvec.
    let reference_one = {
        let k = Kernels::with_isa(Isa::Scalar, 1).unwrap();
        let mut y = vec![0.0; rows];
        w.matvec(&k, &x[..cols], &mut y).unwrap();
        y
    };
    for isa in Isa::available() {
        let k = Kernels::with_isa(isa, 2).unwrap();
        let mut y = vec![0.0; n * rows];
        w.matmul(&k, &x, n, &mut y).unwrap();
        let same = y.iter().zip(&reference).all(|(a, b)| a.to_bits() == b.to_bits());
        assert!(same, "{name}: {isa} differs from the scalar reference");
        let mut one = vec![0.0; rows];
        w.matvec(&k, &x[..cols], &mut one).unwrap();
        assert_eq!(one, reference_one, "{name}: {isa} matvec");
    }
    let bl = ty.act_format().expect("quantized").block_len();
    let mut wrow = vec![0.0f32; cols];
    for r in 0..rows {
        view.dequantize_row(r, &mut wrow).expect("dequantize");
        for t in 0..n {
            let xr = &x[t * cols..(t + 1) * cols];
            let exact: f64 = wrow.iter().zip(xr).map(|(a, b)| *a as f64 * *b as f64).sum();
            let mut bound = 0.0;
            for (bi, (wb, xb)) in wrow.chunks(bl).zip(xr.chunks(bl)).enumerate() {
                let amax = xb.iter().fold(0f32, |m, v| m.max(v.abs()));
                let step = (amax / 127.0) as f64;
                let stored = if bl == 32 { half::f16::from_f32(amax / 127.0).to_f64() } else { step };
                let e = 0.5 * step + 127.0 * (step - stored).abs() + 1e-7 * step;
                if ty == QuantType::Q4_1 {
                    // w = d·q + m; the minimum term uses the f16-rounded block sum
                    // s = f16(Δ·Σq) in place of Σx.
                    let blk = &w.data()[r * rb + bi * 20..];
                    let m = half::f16::from_bits(u16::from_le_bytes([blk[2], blk[3]])).to_f64();
                    let sx: f64 = xb.iter().map(|v| v.abs() as f64).sum();
                    bound += e * wb.iter().map(|v| (*v as f64 - m).abs()).sum::<f64>();
                    bound += m.abs() * (32.0 * e + 4.9e-4 * (sx + 16.0 * step));
                } else {
                    bound += e * wb.iter().map(|v| v.abs() as f64).sum::<f64>();
                }
            }
            bound += 1e-5 * wrow.iter().zip(xr).map(|(a, b)| (*a as f64 * *b as f64).abs()).sum::<f64>();
            let got = reference[t * rows + r] as f64;
            assert!(
                (got - exact).abs() <= bound,
                "{name} row {r} token {t}: {got} vs {exact} (bound {bound})"
            );
        }
    }
}

#[test]
fn qwen_0_5b_tensors() {
    let file = GgufFile::open(common::model_path("qwen2.5-coder-0.5b"))
        .expect("open GGUF");
    check_tensor(&file, "blk.0.attn_q.weight", QuantType::Q5_0, 256);
    check_tensor(&file, "blk.0.attn_v.weight", QuantType::Q8_0, 128);
    check_tensor(&file, "blk.0.ffn_down.weight", QuantType::Q6_K, 128);
    let q4k = file
        .tensors()
        .iter()
        .find(|t| t.ggml_type().name() == "Q4_K")
        .map(|t| t.name().to_owned())
        .expect("a Q4_K tensor");
    check_tensor(&file, &q4k, QuantType::Q4_K, 128);
    check_tensor(&file, "output.weight", QuantType::Q8_0, 512);
}

#[test]
fn smollm2_tensors() {
    let file = GgufFile::open(common::model_path("smollm2-135m")).expect("open GGUF");
    check_tensor(&file, "blk.0.ffn_gate.weight", QuantType::Q4_1, 256);
    check_tensor(&file, "blk.0.ffn_down.weight", QuantType::Q4_1, 256);
    check_tensor(&file, "token_embd.weight", QuantType::Q8_0, 512);
}
