//! Byte layout of the GGUF weight blocks the kernels read, in one place.
//!
//! Every kernel (scalar or SIMD) finds scales and quants through these offsets and helpers, so
//! the layouts (ggml's `block_q4_0`, `block_q4_K`, ...) are written down once for the kernels.

/// Elements in one 32-element block (`QK4_0`, `QK8_0`, ... in ggml).
pub const QK32: usize = 32;
/// Elements in one K-quant super-block (`QK_K` in ggml).
pub const QK_K: usize = 256;

/// `block_q4_0`: f16 scale, 16 bytes of nibbles (low nibble = element j, high = element j+16).
pub const Q4_0_BYTES: usize = 18;
/// `block_q4_1`: f16 scale, f16 minimum, 16 bytes of nibbles.
pub const Q4_1_BYTES: usize = 20;
/// `block_q5_0`: f16 scale, 32 high bits (`qh`), 16 bytes of low nibbles.
pub const Q5_0_BYTES: usize = 22;
/// `block_q8_0`: f16 scale, 32 signed bytes.
pub const Q8_0_BYTES: usize = 34;
/// `block_q4_K`: f16 `d`, f16 `dmin`, 12 bytes of packed 6-bit scales/mins, 128 bytes of nibbles.
pub const Q4_K_BYTES: usize = 144;
/// `block_q6_K`: 128 bytes low nibbles, 64 bytes high 2-bit pairs, 16 i8 scales, f16 `d`.
pub const Q6_K_BYTES: usize = 210;

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

/// Unpacks the twelve packed bytes of a `block_q4_K` into its eight 6-bit sub-block scales and
/// eight 6-bit sub-block minimums (ggml's `get_scale_min_k4` for j = 0..8).
#[inline(always)]
pub fn q4k_scales_mins(s: &[u8]) -> ([u8; 8], [u8; 8]) {
    let mut sc = [0u8; 8];
    let mut m = [0u8; 8];
    for j in 0..4 {
        sc[j] = s[j] & 63;
        m[j] = s[j + 4] & 63;
    }
    for j in 4..8 {
        sc[j] = (s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4);
        m[j] = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
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
