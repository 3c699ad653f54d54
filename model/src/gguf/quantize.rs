//! Our own quantizer, for exporting models: f32 values to F32, F16, Q8_0 or Q4_0 blocks, with
//! ggml's reference rounding (`quantize_row_*_ref`), so that a file we write holds exactly the
//! bytes llama.cpp's own quantizer would write from the same values.

use half::f16;

use super::GgmlType;

/// Why values could not be quantized.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuantizeError {
    /// The type is not one this quantizer writes.
    #[error("cannot quantize to {0}: the exporter writes F32, F16, Q8_0 and Q4_0")]
    Unsupported(GgmlType),
    /// The values do not fill whole blocks.
    #[error("{len} values do not fill whole {ty} blocks of {block}: rows must be a multiple of {block}")]
    PartialBlock {
        /// The target type.
        ty: GgmlType,
        /// How many values were given.
        len: usize,
        /// The type's block size.
        block: usize,
    },
}

/// The types [`quantize`] writes.
pub const QUANTIZE_TYPES: [GgmlType; 4] = [GgmlType::F32, GgmlType::F16, GgmlType::Q8_0, GgmlType::Q4_0];

/// `values` as `ty`'s bytes (little-endian, ggml's block layout).
pub fn quantize(ty: GgmlType, values: &[f32]) -> Result<Vec<u8>, QuantizeError> {
    let whole = |block: usize| {
        if values.len() % block == 0 { Ok(()) } else { Err(QuantizeError::PartialBlock { ty, len: values.len(), block }) }
    };
    match ty {
        GgmlType::F32 => Ok(values.iter().flat_map(|v| v.to_le_bytes()).collect()),
        GgmlType::F16 => Ok(values.iter().flat_map(|&v| f16::from_f32(v).to_le_bytes()).collect()),
        GgmlType::Q8_0 => {
            whole(32)?;
            let mut out = Vec::with_capacity(values.len() / 32 * 34);
            values.chunks_exact(32).for_each(|block| q8_0(block, &mut out));
            Ok(out)
        }
        GgmlType::Q4_0 => {
            whole(32)?;
            let mut out = Vec::with_capacity(values.len() / 32 * 18);
            values.chunks_exact(32).for_each(|block| q4_0(block, &mut out));
            Ok(out)
        }
        other => Err(QuantizeError::Unsupported(other)),
    }
}

/// `block_q8_0`: d = max|x| / 127 (as f16), q = round(x / d) half away from zero.
fn q8_0(block: &[f32], out: &mut Vec<u8>) {
    let amax = block.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let d = amax / 127.0;
    let id = if d == 0.0 { 0.0 } else { 1.0 / d };
    out.extend_from_slice(&f16::from_f32(d).to_le_bytes());
    out.extend(block.iter().map(|&v| (v * id).round() as i8 as u8));
}

/// `block_q4_0`: d = (the value of largest magnitude) / -8 (as f16), q = min(15, trunc(x / d + 8.5)),
/// the first half of the block in the low nibbles, the second in the high ones.
fn q4_0(block: &[f32], out: &mut Vec<u8>) {
    let (mut amax, mut max) = (0.0f32, 0.0f32);
    for &v in block {
        if amax < v.abs() {
            amax = v.abs();
            max = v;
        }
    }
    let d = max / -8.0;
    let id = if d == 0.0 { 0.0 } else { 1.0 / d };
    out.extend_from_slice(&f16::from_f32(d).to_le_bytes());
    let nibble = |v: f32| ((v * id + 8.5) as i8).clamp(0, 15) as u8;
    out.extend((0..16).map(|j| nibble(block[j]) | (nibble(block[j + 16]) << 4)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gguf::dequantize_to_vec;

    #[test]
    fn blocks_round_trip_within_half_a_step_or_a_clamped_step() {
        let values: Vec<f32> = (0..256).map(|i| ((i * 37 % 101) as f32 - 50.0) / 7.0).collect();
        for ty in QUANTIZE_TYPES {
            let bytes = quantize(ty, &values).unwrap();
            assert_eq!(bytes.len() as u64, ty.bytes_for(values.len() as u64).unwrap(), "{ty}");
            let back = dequantize_to_vec(ty, &bytes).unwrap();
            for (block, (got, want)) in back.chunks(32).zip(values.chunks(32)).enumerate() {
                let amax = want.iter().fold(0.0f32, |m, v| m.max(v.abs()));
                // Q4_0 spans -8..7 steps from the sign of the largest value: the other side's
                // extreme is clamped to 7 steps, up to a whole step away.
                let bound = match ty {
                    GgmlType::Q8_0 => amax / 127.0 * 0.5,
                    GgmlType::Q4_0 => amax / 8.0,
                    _ => amax / 2000.0,
                };
                for (g, w) in got.iter().zip(want) {
                    assert!((g - w).abs() <= bound + 1e-3, "{ty} block {block}: {g} vs {w}");
                }
            }
        }
        assert_eq!(quantize(GgmlType::F32, &[1.5]).unwrap(), 1.5f32.to_le_bytes());
    }

    #[test]
    fn zero_blocks_partial_blocks_and_other_types() {
        let zeros = quantize(GgmlType::Q4_0, &[0.0; 32]).unwrap();
        // d = 0 / -8 is -0.0 (f16 0x8000), as in ggml; q = 8 means zero.
        assert_eq!(zeros, [[0u8, 0x80].as_slice(), &[0x88; 16]].concat());
        assert_eq!(quantize(GgmlType::Q8_0, &[0.0; 32]).unwrap(), vec![0; 34]);
        assert_eq!(
            quantize(GgmlType::Q8_0, &[1.0; 33]),
            Err(QuantizeError::PartialBlock { ty: GgmlType::Q8_0, len: 33, block: 32 })
        );
        assert_eq!(quantize(GgmlType::Q4_K, &[0.0; 256]), Err(QuantizeError::Unsupported(GgmlType::Q4_K)));
    }
}
