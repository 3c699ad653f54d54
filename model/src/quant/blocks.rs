//! Where the kernels find scales and quants inside the GGUF weight blocks (ggml's `block_q4_0`,
//! `block_q4_K`, ...). Block sizes come from [`crate::gguf::GgmlType`], the packed Q4_K scales
//! from [`crate::gguf::q4_k_scale_min`]; this adds the byte offsets and per-element accessors
//! the scalar reference and the SIMD paths share.

pub use crate::gguf::QK_K;
use crate::gguf::q4_k_scale_min;

/// Elements in one 32-element block (`QK4_0`, `QK8_0`, ... in ggml).
pub const QK32: usize = 32;

/// Byte offset of `scales` in `block_q4_K`.
pub const Q4_K_SCALES: usize = 4;
/// Byte offset of `qs` in `block_q4_K`.
pub const Q4_K_QS: usize = 16;
/// Byte offset of `qh` in `block_q6_K` (`ql` starts at 0).
pub const Q6_K_QH: usize = 128;
/// Byte offset of the i8 `scales` in `block_q6_K`.
pub const Q6_K_SCALES: usize = 192;
/// Byte offset of the f16 `d` in `block_q6_K`.
pub const Q6_K_D: usize = 208;

/// Reads the little-endian f16 at `off` as raw bits.
#[inline(always)]
pub fn f16_bits(b: &[u8], off: usize) -> u16 {
    u16::from_le_bytes([b[off], b[off + 1]])
}

/// Reads the little-endian f16 at `off` as f32 (exact conversion).
#[inline(always)]
pub fn f16_at(b: &[u8], off: usize) -> f32 {
    half::f16::from_bits(f16_bits(b, off)).to_f32()
}

/// The eight 6-bit sub-block scales and eight 6-bit minimums of a `block_q4_K` from its twelve
/// packed scale bytes `s`.
#[inline(always)]
pub fn q4k_scales_mins(s: &[u8]) -> ([u8; 8], [u8; 8]) {
    let mut packed = [0u8; 12];
    packed.copy_from_slice(&s[..12]);
    let mut sc = [0u8; 8];
    let mut m = [0u8; 8];
    for j in 0..8 {
        (sc[j], m[j]) = q4_k_scale_min(j, &packed);
    }
    (sc, m)
}

/// Quant value (0..=15) of element `i` (0..32) in a Q4_0/Q4_1 nibble array.
#[inline(always)]
pub fn nibble32(qs: &[u8], i: usize) -> u8 {
    if i < 16 { qs[i] & 0x0F } else { qs[i - 16] >> 4 }
}

/// Quant value (0..=31) of element `i` (0..32) of a `block_q5_0` (`b` is the whole block).
#[inline(always)]
pub fn q5_0_value(b: &[u8], i: usize) -> u8 {
    let qh = u32::from_le_bytes([b[2], b[3], b[4], b[5]]);
    nibble32(&b[6..22], i) | ((((qh >> i) & 1) as u8) << 4)
}

/// Quant value (0..=15) of element `i` (0..256) of a `block_q4_K` (`b` is the whole block).
#[inline(always)]
pub fn q4k_value(b: &[u8], i: usize) -> u8 {
    let chunk = i / 64;
    let within = i % 64;
    let byte = b[Q4_K_QS + chunk * 32 + within % 32];
    if within < 32 { byte & 0x0F } else { byte >> 4 }
}

/// Quant value (0..=63, before the −32 offset) of element `i` (0..256) of a `block_q6_K`.
#[inline(always)]
pub fn q6k_value(b: &[u8], i: usize) -> u8 {
    let half = i / 128;
    let k = (i % 128) / 32;
    let l = i % 32;
    let ql = &b[half * 64..half * 64 + 64];
    let qh = b[Q6_K_QH + half * 32 + l];
    let low = match k {
        0 => ql[l] & 0x0F,
        1 => ql[l + 32] & 0x0F,
        2 => ql[l] >> 4,
        _ => ql[l + 32] >> 4,
    };
    low | (((qh >> (2 * k)) & 3) << 4)
}

/// Sub-block scale index (0..16) of element `i` (0..256) of a `block_q6_K`.
#[inline(always)]
pub fn q6k_scale_index(i: usize) -> usize {
    i / 16
}
