//! Dequantization of ggml tensor data to f32.
//!
//! Block layouts follow ggml (`ggml-common.h`); every value is computed with the same f32
//! operations in the same order as ggml's reference `dequantize_row_*` functions, so the
//! results are bit-identical to ggml's and to the `gguf` Python package's (tested against
//! fixtures produced with the latter, see `model/tests/data/make_dequant_refs.py`).

use half::f16;

use super::error::DequantError;
use super::types::{GgmlType, QK_K};

/// Dequantizes `data` (a whole number of blocks of type `ty`) into `out`, which must have
/// exactly one slot per element.
pub fn dequantize(ty: GgmlType, data: &[u8], out: &mut [f32]) -> Result<(), DequantError> {
    let n = element_count(ty, data)?;
    if out.len() != n {
        return Err(DequantError::OutputLength { ty, expected: n, got: out.len() });
    }
    match ty {
        GgmlType::F32 => {
            for (o, b) in out.iter_mut().zip(data.chunks_exact(4)) {
                *o = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            }
        }
        GgmlType::F16 => {
            for (o, b) in out.iter_mut().zip(data.chunks_exact(2)) {
                *o = f16::from_le_bytes([b[0], b[1]]).to_f32();
            }
        }
        GgmlType::BF16 => {
            // A plain shift, as in ggml: unlike `half::bf16::to_f32`, it keeps signalling NaNs.
            for (o, b) in out.iter_mut().zip(data.chunks_exact(2)) {
                *o = f32::from_bits((u16::from_le_bytes([b[0], b[1]]) as u32) << 16);
            }
        }
        GgmlType::Q4_0 => blocks::<18, 32>(data, out, q4_0),
        GgmlType::Q4_1 => blocks::<20, 32>(data, out, q4_1),
        GgmlType::Q5_0 => blocks::<22, 32>(data, out, q5_0),
        GgmlType::Q8_0 => blocks::<34, 32>(data, out, q8_0),
        GgmlType::Q4_K => blocks::<144, QK_K>(data, out, q4_k),
        GgmlType::Q5_K => blocks::<176, QK_K>(data, out, q5_k),
        GgmlType::Q6_K => blocks::<210, QK_K>(data, out, q6_k),
        other => return Err(DequantError::Unsupported(other)),
    }
    Ok(())
}

/// Dequantizes `data` (a whole number of blocks of type `ty`) into a new vector.
pub fn dequantize_to_vec(ty: GgmlType, data: &[u8]) -> Result<Vec<f32>, DequantError> {
    let mut out = vec![0.0; element_count(ty, data)?];
    dequantize(ty, data, &mut out)?;
    Ok(out)
}

fn element_count(ty: GgmlType, data: &[u8]) -> Result<usize, DequantError> {
    if !ty.can_dequantize() {
        return Err(DequantError::Unsupported(ty));
    }
    let ts = ty.type_size();
    if !data.len().is_multiple_of(ts) {
        return Err(DequantError::PartialBlock { ty, len: data.len(), type_size: ts });
    }
    Ok(data.len() / ts * ty.block_size())
}

/// Runs a per-block dequantizer over all blocks. Lengths were checked by the caller.
fn blocks<const BYTES: usize, const N: usize>(data: &[u8], out: &mut [f32], f: fn(&[u8; BYTES], &mut [f32; N])) {
    for (b, o) in data.chunks_exact(BYTES).zip(out.chunks_exact_mut(N)) {
        // Both conversions are infallible: chunks_exact yields exactly BYTES / N items.
        if let (Ok(b), Ok(o)) = (<&[u8; BYTES]>::try_from(b), <&mut [f32; N]>::try_from(o)) {
            f(b, o);
        }
    }
}

fn f16_at(b: &[u8], i: usize) -> f32 {
    f16::from_le_bytes([b[i], b[i + 1]]).to_f32()
}

/// `block_q4_0`: f16 d, 16 bytes of nibbles; element j is the low nibble of byte j, element
/// j + 16 the high nibble; value = (q - 8) * d.
fn q4_0(b: &[u8; 18], out: &mut [f32; 32]) {
    let d = f16_at(b, 0);
    let qs = &b[2..18];
    for j in 0..16 {
        out[j] = ((qs[j] & 0x0F) as i32 - 8) as f32 * d;
        out[j + 16] = ((qs[j] >> 4) as i32 - 8) as f32 * d;
    }
}

/// `block_q4_1`: f16 d, f16 m, 16 bytes of nibbles; value = q * d + m.
fn q4_1(b: &[u8; 20], out: &mut [f32; 32]) {
    let d = f16_at(b, 0);
    let m = f16_at(b, 2);
    let qs = &b[4..20];
    for j in 0..16 {
        out[j] = (qs[j] & 0x0F) as f32 * d + m;
        out[j + 16] = (qs[j] >> 4) as f32 * d + m;
    }
}

/// `block_q5_0`: f16 d, u32 of fifth bits, 16 bytes of nibbles; value = (q - 16) * d.
fn q5_0(b: &[u8; 22], out: &mut [f32; 32]) {
    let d = f16_at(b, 0);
    let qh = u32::from_le_bytes([b[2], b[3], b[4], b[5]]);
    let qs = &b[6..22];
    for j in 0..16 {
        let h0 = ((qh >> j) & 1) as u8;
        let h1 = ((qh >> (j + 16)) & 1) as u8;
        let x0 = ((qs[j] & 0x0F) | (h0 << 4)) as i32 - 16;
        let x1 = ((qs[j] >> 4) | (h1 << 4)) as i32 - 16;
        out[j] = x0 as f32 * d;
        out[j + 16] = x1 as f32 * d;
    }
}

/// `block_q8_0`: f16 d, 32 signed bytes; value = q * d.
fn q8_0(b: &[u8; 34], out: &mut [f32; 32]) {
    let d = f16_at(b, 0);
    for (o, &q) in out.iter_mut().zip(&b[2..34]) {
        *o = (q as i8) as f32 * d;
    }
}

/// The 6-bit scale and minimum of sub-block `j` (0..8) from the 12 packed scale bytes of a
/// Q4_K or Q5_K super-block (`get_scale_min_k4` in ggml). Public for the quantized kernels.
pub fn q4_k_scale_min(j: usize, scales: &[u8; 12]) -> (u8, u8) {
    if j < 4 {
        (scales[j] & 63, scales[j + 4] & 63)
    } else {
        (
            (scales[j + 4] & 0x0F) | ((scales[j - 4] >> 6) << 4),
            (scales[j + 4] >> 4) | ((scales[j] >> 6) << 4),
        )
    }
}

fn scales12(b: &[u8]) -> [u8; 12] {
    let mut s = [0u8; 12];
    s.copy_from_slice(&b[4..16]);
    s
}

/// `block_q4_K`: f16 d, f16 dmin, 12 bytes of packed 6-bit scales/mins, 128 bytes of nibbles.
/// Each 64-element chunk uses two sub-blocks: low nibbles of 32 bytes then high nibbles;
/// value = (d * sc) * q - (dmin * m).
fn q4_k(b: &[u8; 144], out: &mut [f32; QK_K]) {
    let d = f16_at(b, 0);
    let dmin = f16_at(b, 2);
    let scales = scales12(b);
    let qs = &b[16..144];
    for chunk in 0..4 {
        let q = &qs[chunk * 32..chunk * 32 + 32];
        let y = &mut out[chunk * 64..chunk * 64 + 64];
        let (sc1, m1) = q4_k_scale_min(2 * chunk, &scales);
        let (sc2, m2) = q4_k_scale_min(2 * chunk + 1, &scales);
        let (d1, m1) = (d * sc1 as f32, dmin * m1 as f32);
        let (d2, m2) = (d * sc2 as f32, dmin * m2 as f32);
        for l in 0..32 {
            y[l] = d1 * (q[l] & 0x0F) as f32 - m1;
            y[l + 32] = d2 * (q[l] >> 4) as f32 - m2;
        }
    }
}

/// `block_q5_K`: f16 d, f16 dmin, 12 bytes of scales, 32 bytes of fifth bits, 128 bytes of
/// nibbles. Chunk c (64 elements) takes its fifth bits from bits 2c and 2c + 1 of `qh`.
fn q5_k(b: &[u8; 176], out: &mut [f32; QK_K]) {
    let d = f16_at(b, 0);
    let dmin = f16_at(b, 2);
    let scales = scales12(b);
    let qh = &b[16..48];
    let qs = &b[48..176];
    for chunk in 0..4 {
        let q = &qs[chunk * 32..chunk * 32 + 32];
        let y = &mut out[chunk * 64..chunk * 64 + 64];
        let (sc1, m1) = q4_k_scale_min(2 * chunk, &scales);
        let (sc2, m2) = q4_k_scale_min(2 * chunk + 1, &scales);
        let (d1, m1) = (d * sc1 as f32, dmin * m1 as f32);
        let (d2, m2) = (d * sc2 as f32, dmin * m2 as f32);
        let (u1, u2) = (1u8 << (2 * chunk), 2u8 << (2 * chunk));
        for l in 0..32 {
            let h1 = if qh[l] & u1 != 0 { 16 } else { 0 };
            let h2 = if qh[l] & u2 != 0 { 16 } else { 0 };
            y[l] = d1 * ((q[l] & 0x0F) + h1) as f32 - m1;
            y[l + 32] = d2 * ((q[l] >> 4) + h2) as f32 - m2;
        }
    }
}

/// `block_q6_K`: 128 bytes of low nibbles, 64 bytes of high 2-bit pairs, 16 signed 8-bit
/// scales (one per 16 elements), f16 d; value = (d * scale) * (q - 32).
fn q6_k(b: &[u8; 210], out: &mut [f32; QK_K]) {
    let ql_all = &b[0..128];
    let qh_all = &b[128..192];
    let sc_all = &b[192..208];
    let d = f16_at(b, 208);
    for half in 0..2 {
        let ql = &ql_all[half * 64..half * 64 + 64];
        let qh = &qh_all[half * 32..half * 32 + 32];
        let sc = &sc_all[half * 8..half * 8 + 8];
        let y = &mut out[half * 128..half * 128 + 128];
        for l in 0..32 {
            let is = l / 16;
            let q1 = ((ql[l] & 0x0F) | ((qh[l] & 3) << 4)) as i32 - 32;
            let q2 = ((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) as i32 - 32;
            let q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) as i32 - 32;
            let q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) as i32 - 32;
            y[l] = d * (sc[is] as i8) as f32 * q1 as f32;
            y[l + 32] = d * (sc[is + 2] as i8) as f32 * q2 as f32;
            y[l + 64] = d * (sc[is + 4] as i8) as f32 * q3 as f32;
            y[l + 96] = d * (sc[is + 6] as i8) as f32 * q4 as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_partial_blocks_wrong_output_and_unsupported_types() {
        assert_eq!(
            dequantize_to_vec(GgmlType::Q8_0, &[0u8; 35]),
            Err(DequantError::PartialBlock { ty: GgmlType::Q8_0, len: 35, type_size: 34 })
        );
        let mut out = [0.0f32; 31];
        assert_eq!(
            dequantize(GgmlType::Q8_0, &[0u8; 34], &mut out),
            Err(DequantError::OutputLength { ty: GgmlType::Q8_0, expected: 32, got: 31 })
        );
        assert_eq!(
            dequantize_to_vec(GgmlType::IQ2_XXS, &[0u8; 66]),
            Err(DequantError::Unsupported(GgmlType::IQ2_XXS))
        );
        assert_eq!(dequantize_to_vec(GgmlType::Q4_K, &[]), Ok(vec![]));
    }

    #[test]
    fn q8_0_by_hand() {
        let mut b = [0u8; 34];
        b[0..2].copy_from_slice(&f16::from_f32(0.5).to_le_bytes());
        b[2] = 4;
        b[3] = (-6i8) as u8;
        let v = dequantize_to_vec(GgmlType::Q8_0, &b).unwrap();
        assert_eq!(&v[..3], &[2.0, -3.0, 0.0]);
    }

    #[test]
    fn q4_k_scale_unpacking() {
        // Sub-blocks 0..4 use the low 6 bits of bytes 0..8; 4..8 combine nibbles of bytes
        // 8..12 with the top two bits of bytes 0..8.
        let mut s = [0u8; 12];
        s[0] = 0b11_000101;
        s[4] = 0b10_000111;
        s[8] = 0b1001_0011;
        assert_eq!(q4_k_scale_min(0, &s), (5, 7));
        assert_eq!(q4_k_scale_min(4, &s), (0b11_0011, 0b10_1001));
    }
}
