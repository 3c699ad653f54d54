//! The portable scalar kernels: the reference every SIMD path must match bit for bit.
//!
//! The arithmetic is defined per output (one weight row · one activation row) and follows
//! llama.cpp's CPU dot products (`ggml_vec_dot_*` on AVX2/AVX-512, the reference the parity
//! tests hold us to) operation for operation, so that both engines round the same way:
//! * 32-element blocks (Q4_0, Q4_1, Q5_0, Q8_0): eight float lanes, lane `k` owning elements
//!   `4k..4k+4` of every block. Per block, `lane_k = fma(dw·dx, Σ_{4 elements} w·x, lane_k)`
//!   with the weight quants signed (offsets already subtracted); Q4_1 also runs
//!   `summs = fma(mw, sx, summs)`. The result is the lanes summed as `hsum_float_8` does
//!   (`((l0+l4) + (l2+l6)) + ((l1+l5) + (l3+l7))`), plus `summs`.
//! * Q4_K, as llama.cpp's repacked kernels (every Q4_K matrix of our models has a multiple of 8
//!   rows, so llama.cpp repacks it): two accumulators, `acc = fma(isum, d·dx, acc)` and
//!   `accm = fma(msum, dmin·dx, accm)`, the result `acc − accm`. `ggml_gemm_q4_K_8x8_q8_K`
//!   (the activation rows of a call up to the last multiple of 4) adds per 64 elements,
//!   `ggml_gemv_q4_K_8x8_q8_K` (the rest, and one-row calls) per 256-element block.
//! * Q6_K in calls of fewer than 8 activation rows, as `ggml_vec_dot_q6_K_q8_K`: eight float
//!   lanes; lane `k` gets, per block, `fma(dx·d, Σ sc·q·x − 32·(sc_2k·bsum_2k +
//!   sc_2k+1·bsum_2k+1), lane)` where the first sum runs over the elements `e` with
//!   `(e mod 32) div 4 = k` and `q` is the raw 6-bit quant; the result is the lanes summed as
//!   above. With 8 rows or more, as llama.cpp's tiled K-quant matmul: per block
//!   `acc = fma(isum·d, dx, acc)` with `isum·d` rounded first.
//!
//! Integer sums are exact whatever the order, and the float stage is sequential per output
//! (per lane), so a SIMD path that computes the same integers produces the same bits.

// Kernels index several arrays in lockstep; plain index loops read best here.
#![allow(clippy::needless_range_loop)]

use std::ops::Range;

use half::slice::HalfFloatSliceExt;

use super::QuantType;
use super::act::QuantizedActs;
use super::blocks::*;
use super::driver::Out;

/// Weight quant `i` of a 32-element block, signed (offset subtracted; Q4_1 has none).
#[inline(always)]
pub fn value32(ty: QuantType, w: &[u8], i: usize) -> i32 {
    match ty {
        QuantType::Q8_0 => w[2 + i] as i8 as i32,
        QuantType::Q4_0 => nibble32(&w[2..18], i) as i32 - 8,
        QuantType::Q4_1 => nibble32(&w[4..20], i) as i32,
        _ => q5_0_value(w, i) as i32 - 16,
    }
}

/// The exact integer dot of a 32-element weight block with 32 activation quants, as eight
/// lane sums: lane `k` covers elements `4k..4k+4` (what one `vpdpbusd` lane holds).
#[inline(always)]
pub fn lanes32(ty: QuantType, w: &[u8], x: &[i8]) -> [i32; 8] {
    let mut l = [0i32; 8];
    for (k, lane) in l.iter_mut().enumerate() {
        for i in 4 * k..4 * k + 4 {
            *lane += value32(ty, w, i) * x[i] as i32;
        }
    }
    l
}

/// `hsum_float_8`: the eight lanes summed in ggml's order.
#[inline(always)]
pub fn hsum_lanes(l: [f32; 8]) -> f32 {
    let r = [l[0] + l[4], l[1] + l[5], l[2] + l[6], l[3] + l[7]];
    (r[0] + r[2]) + (r[1] + r[3])
}

/// The exact integer parts of a `block_q4_K` · Q8_K block per 64 elements (sub-blocks `2p`
/// and `2p + 1`): `(Σ sc_j · Σ q·x, Σ m_j · Σ x)`.
#[inline(always)]
pub fn q4k_pair_sums(w: &[u8], x: &[i8], bsums: &[i16]) -> [(i32, i32); 4] {
    let (sc, m) = q4k_scales_mins(&w[Q4_K_SCALES..Q4_K_SCALES + 12]);
    let mut out = [(0i32, 0i32); 4];
    for (p, o) in out.iter_mut().enumerate() {
        for j in 2 * p..2 * p + 2 {
            let mut d = 0i32;
            for i in j * 32..j * 32 + 32 {
                d += q4k_value(w, i) as i32 * x[i] as i32;
            }
            o.0 += sc[j] as i32 * d;
            o.1 += m[j] as i32 * (bsums[2 * j] as i32 + bsums[2 * j + 1] as i32);
        }
    }
    out
}

/// The exact integer dot of a `block_q6_K` with a Q8_K block as `ggml_vec_dot_q6_K_q8_K`'s
/// eight lanes (see the module docs).
#[inline(always)]
pub fn lanes_q6_k(w: &[u8], x: &[i8], bsums: &[i16]) -> [i32; 8] {
    let sc = |g: usize| w[Q6_K_SCALES + g] as i8 as i32;
    let mut l = [0i32; 8];
    for (i, &xi) in x.iter().enumerate().take(QK_K) {
        l[(i % 32) / 4] += sc(i / 16) * q6k_value(w, i) as i32 * xi as i32;
    }
    for (k, lane) in l.iter_mut().enumerate() {
        *lane -= 32 * (sc(2 * k) * bsums[2 * k] as i32 + sc(2 * k + 1) * bsums[2 * k + 1] as i32);
    }
    l
}

/// One output of a quantized type: weight row `w` (raw blocks) · activation row `t`.
pub fn dot_row(ty: QuantType, w: &[u8], a: &QuantizedActs, t: usize) -> f32 {
    let bb = ty.block_bytes();
    match ty {
        QuantType::Q8_0 | QuantType::Q4_0 | QuantType::Q5_0 | QuantType::Q4_1 => {
            let mut lanes = [0.0f32; 8];
            let mut summs = 0.0f32;
            for b in 0..a.blocks {
                let wb = &w[b * bb..(b + 1) * bb];
                let i = a.bidx(t, b);
                let d = f16_at(wb, 0) * a.d[i];
                for (lane, s) in lanes.iter_mut().zip(lanes32(ty, wb, a.block_qs(t, b))) {
                    *lane = d.mul_add(s as f32, *lane);
                }
                if ty == QuantType::Q4_1 {
                    summs = f16_at(wb, 2).mul_add(a.s[i], summs);
                }
            }
            hsum_lanes(lanes) + summs
        }
        QuantType::Q4_K => {
            let per_pair = t < a.n / 4 * 4;
            let (mut acc, mut accm) = (0.0f32, 0.0f32);
            for b in 0..a.blocks {
                let wb = &w[b * bb..(b + 1) * bb];
                let i = a.bidx(t, b);
                let (d, dmin) = (f16_at(wb, 0) * a.d[i], f16_at(wb, 2) * a.d[i]);
                let parts = q4k_pair_sums(wb, a.block_qs(t, b), &a.bsums[i * 16..i * 16 + 16]);
                if per_pair {
                    for (isum, msum) in parts {
                        acc = (isum as f32).mul_add(d, acc);
                        accm = (msum as f32).mul_add(dmin, accm);
                    }
                } else {
                    let isum: i32 = parts.iter().map(|p| p.0).sum();
                    let msum: i32 = parts.iter().map(|p| p.1).sum();
                    acc = (isum as f32).mul_add(d, acc);
                    accm = (msum as f32).mul_add(dmin, accm);
                }
            }
            acc - accm
        }
        QuantType::Q6_K if a.n >= 8 => {
            let mut acc = 0.0f32;
            for b in 0..a.blocks {
                let wb = &w[b * bb..(b + 1) * bb];
                let i = a.bidx(t, b);
                let isum: i32 = lanes_q6_k(wb, a.block_qs(t, b), &a.bsums[i * 16..i * 16 + 16]).iter().sum();
                acc = (isum as f32 * f16_at(wb, Q6_K_D)).mul_add(a.d[i], acc);
            }
            acc
        }
        QuantType::Q6_K => {
            let mut lanes = [0.0f32; 8];
            for b in 0..a.blocks {
                let wb = &w[b * bb..(b + 1) * bb];
                let i = a.bidx(t, b);
                let d = a.d[i] * f16_at(wb, Q6_K_D);
                let l = lanes_q6_k(wb, a.block_qs(t, b), &a.bsums[i * 16..i * 16 + 16]);
                for (lane, s) in lanes.iter_mut().zip(l) {
                    *lane = d.mul_add(s as f32, *lane);
                }
            }
            hsum_lanes(lanes)
        }
        QuantType::F32 | QuantType::F16 => unreachable!("float weights take the f32 path"),
    }
}

/// Scalar kernel over a rectangle of outputs: weight rows `rows` × activation rows `tokens`.
pub fn run_quant(
    ty: QuantType,
    data: &[u8],
    row_bytes: usize,
    a: &QuantizedActs,
    rows: Range<usize>,
    tokens: Range<usize>,
    out: Out,
) {
    for r in rows {
        let w = &data[r * row_bytes..(r + 1) * row_bytes];
        for t in tokens.clone() {
            // SAFETY: the driver hands each task a disjoint rectangle of `out`.
            unsafe { out.write(t, r, dot_row(ty, w, a, t)) };
        }
    }
}

/// Dot product of f32 weights with f32 activations, eight partial sums reduced pairwise.
#[inline]
pub fn dot_f32(w: &[u8], x: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    for (wc, xc) in w.chunks_exact(32).zip(x.chunks_exact(8)) {
        for k in 0..8 {
            let wv = f32::from_le_bytes([wc[4 * k], wc[4 * k + 1], wc[4 * k + 2], wc[4 * k + 3]]);
            acc[k] += wv * xc[k];
        }
    }
    let mut s = reduce8(acc);
    let done = x.len() / 8 * 8;
    for i in done..x.len() {
        let o = 4 * i;
        s += f32::from_le_bytes([w[o], w[o + 1], w[o + 2], w[o + 3]]) * x[i];
    }
    s
}

/// Dot product of f16 weights with f32 activations, eight partial sums reduced pairwise (the
/// same order as [`dot_f32`]); the weights are widened 256 at a time with `half`'s slice
/// conversion, which uses F16C where the CPU has it.
#[inline]
pub fn dot_f16(w: &[u8], x: &[f32]) -> f32 {
    let mut bits = [half::f16::ZERO; 256];
    let mut wide = [0.0f32; 256];
    let mut acc = [0.0f32; 8];
    let full = x.len() / 8 * 8;
    let mut start = 0;
    while start < full {
        let len = (full - start).min(256);
        for (k, b) in bits[..len].iter_mut().enumerate() {
            *b = half::f16::from_bits(f16_bits(w, 2 * (start + k)));
        }
        bits[..len].convert_to_f32_slice(&mut wide[..len]);
        for (wc, xc) in wide[..len].chunks_exact(8).zip(x[start..start + len].chunks_exact(8)) {
            for k in 0..8 {
                acc[k] += wc[k] * xc[k];
            }
        }
        start += len;
    }
    let mut s = reduce8(acc);
    for i in full..x.len() {
        s += f16_at(w, 2 * i) * x[i];
    }
    s
}

#[inline(always)]
fn reduce8(a: [f32; 8]) -> f32 {
    ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7]))
}

/// Float-weight kernel over a rectangle of outputs (`x` is `n × cols` f32).
#[allow(clippy::too_many_arguments)]
pub fn run_float(
    ty: QuantType,
    data: &[u8],
    row_bytes: usize,
    x: &[f32],
    cols: usize,
    rows: Range<usize>,
    tokens: Range<usize>,
    out: Out,
) {
    for r in rows {
        let w = &data[r * row_bytes..(r + 1) * row_bytes];
        for t in tokens.clone() {
            let xr = &x[t * cols..(t + 1) * cols];
            let v = match ty {
                QuantType::F32 => dot_f32(w, xr),
                _ => dot_f16(w, xr),
            };
            // SAFETY: the driver hands each task a disjoint rectangle of `out`.
            unsafe { out.write(t, r, v) };
        }
    }
}
