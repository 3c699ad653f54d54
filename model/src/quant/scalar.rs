//! The portable scalar kernels: the reference every SIMD path must match bit for bit.
//!
//! The arithmetic is defined per output (one weight row · one activation row):
//! * integer stage: for every weight block, the exact i32 dot product of the weight quants
//!   (with their offsets and, for K-quants, their integer sub-block scales) and the int8
//!   activation quants;
//! * float stage, in block order, with fused multiply-adds:
//!   - Q4_0, Q5_0, Q8_0: `acc = fma(dw·dx, isum, acc)`
//!   - Q4_1: then also `acc = fma(mw, sx, acc)`
//!   - Q4_K: `acc = fma(d·dx, isum, acc); acc = fma(−(dmin·dx), msum, acc)`
//!   - Q6_K: `acc = fma(d·dx, isum, acc)`
//!
//! Integer sums are exact whatever the order, and the float stage is sequential per output, so
//! a SIMD path that computes the same integers (vectorising across outputs, not across blocks)
//! produces the same bits.

// Kernels index several arrays in lockstep; plain index loops read best here.
#![allow(clippy::needless_range_loop)]

use std::ops::Range;

use half::slice::HalfFloatSliceExt;

use super::QuantType;
use super::act::QuantizedActs;
use super::blocks::*;
use super::driver::Out;

/// Exact integer dot of a `block_q8_0` with 32 activation quants.
#[inline(always)]
pub fn int_q8_0(w: &[u8], x: &[i8]) -> i32 {
    let qs = &w[2..34];
    let mut s = 0i32;
    for i in 0..32 {
        s += (qs[i] as i8 as i32) * (x[i] as i32);
    }
    s
}

/// Exact integer dot of a `block_q4_0` (quants minus 8) with 32 activation quants.
#[inline(always)]
pub fn int_q4_0(w: &[u8], x: &[i8]) -> i32 {
    let qs = &w[2..18];
    let mut s = 0i32;
    for i in 0..32 {
        s += (nibble32(qs, i) as i32 - 8) * (x[i] as i32);
    }
    s
}

/// Exact integer dot of a `block_q4_1` (unsigned quants) with 32 activation quants.
#[inline(always)]
pub fn int_q4_1(w: &[u8], x: &[i8]) -> i32 {
    let qs = &w[4..20];
    let mut s = 0i32;
    for i in 0..32 {
        s += (nibble32(qs, i) as i32) * (x[i] as i32);
    }
    s
}

/// Exact integer dot of a `block_q5_0` (quants minus 16) with 32 activation quants.
#[inline(always)]
pub fn int_q5_0(w: &[u8], x: &[i8]) -> i32 {
    let mut s = 0i32;
    for i in 0..32 {
        s += (q5_0_value(w, i) as i32 - 16) * (x[i] as i32);
    }
    s
}

/// Exact integer dot of a `block_q4_K` against a Q8_K block: `Σ_j sc_j · Σ q·x`.
#[inline(always)]
pub fn int_q4_k(w: &[u8], x: &[i8]) -> i32 {
    let (sc, _) = q4k_scales_mins(&w[Q4_K_SCALES..Q4_K_SCALES + 12]);
    let mut isum = 0i32;
    for j in 0..8 {
        let mut d = 0i32;
        for i in j * 32..j * 32 + 32 {
            d += q4k_value(w, i) as i32 * x[i] as i32;
        }
        isum += sc[j] as i32 * d;
    }
    isum
}

/// The `Σ_j m_j · Σ x` part of a Q4_K block from the packed mins and the Q8_K group sums.
#[inline(always)]
pub fn q4k_msum(w: &[u8], bsums: &[i16]) -> i32 {
    let (_, m) = q4k_scales_mins(&w[Q4_K_SCALES..Q4_K_SCALES + 12]);
    let mut msum = 0i32;
    for j in 0..8 {
        msum += m[j] as i32 * (bsums[2 * j] as i32 + bsums[2 * j + 1] as i32);
    }
    msum
}

/// The `32 · Σ_g sc_g · Σ x` correction of a Q6_K block (its quants are stored +32).
#[inline(always)]
pub fn q6k_offset_sum(w: &[u8], bsums: &[i16]) -> i32 {
    let mut s = 0i32;
    for g in 0..16 {
        s += (w[Q6_K_SCALES + g] as i8 as i32) * bsums[g] as i32;
    }
    32 * s
}

/// Exact integer dot of a `block_q6_K` against a Q8_K block: `Σ_g sc_g · Σ (q − 32)·x`.
#[inline(always)]
pub fn int_q6_k(w: &[u8], x: &[i8]) -> i32 {
    let mut isum = 0i32;
    for g in 0..16 {
        let sc = w[Q6_K_SCALES + g] as i8 as i32;
        let mut d = 0i32;
        for i in g * 16..g * 16 + 16 {
            d += (q6k_value(w, i) as i32 - 32) * x[i] as i32;
        }
        isum += sc * d;
    }
    isum
}

/// One output of a quantized type: weight row `w` (raw blocks) · activation row `t`.
pub fn dot_row(ty: QuantType, w: &[u8], a: &QuantizedActs, t: usize) -> f32 {
    let mut acc = 0.0f32;
    let bb = ty.block_bytes();
    for b in 0..a.blocks {
        let wb = &w[b * bb..(b + 1) * bb];
        let x = a.block_qs(t, b);
        let i = a.bidx(t, b);
        let dx = a.d[i];
        match ty {
            QuantType::Q8_0 => acc = (f16_at(wb, 0) * dx).mul_add(int_q8_0(wb, x) as f32, acc),
            QuantType::Q4_0 => acc = (f16_at(wb, 0) * dx).mul_add(int_q4_0(wb, x) as f32, acc),
            QuantType::Q5_0 => acc = (f16_at(wb, 0) * dx).mul_add(int_q5_0(wb, x) as f32, acc),
            QuantType::Q4_1 => {
                acc = (f16_at(wb, 0) * dx).mul_add(int_q4_1(wb, x) as f32, acc);
                acc = f16_at(wb, 2).mul_add(a.s[i], acc);
            }
            QuantType::Q4_K => {
                let isum = int_q4_k(wb, x);
                let msum = q4k_msum(wb, &a.bsums[i * 16..i * 16 + 16]);
                acc = (f16_at(wb, 0) * dx).mul_add(isum as f32, acc);
                acc = (-(f16_at(wb, 2) * dx)).mul_add(msum as f32, acc);
            }
            QuantType::Q6_K => {
                acc = (f16_at(wb, Q6_K_D) * dx).mul_add(int_q6_k(wb, x) as f32, acc);
            }
            QuantType::F32 | QuantType::F16 => unreachable!("float weights take the f32 path"),
        }
    }
    acc
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
