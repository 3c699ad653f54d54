//! Activation rows quantized to int8 blocks, once per row, the way llama.cpp does it.
//!
//! * `Q8_0` (for Q4_0, Q5_0, Q8_0 weights): 32-element blocks, f16-rounded scale, plus the
//!   integer sum of each block (the kernels use it to undo the unsigned offset of the weights).
//! * `Q8_1` (for Q4_1 weights): as `Q8_0`, plus `s = d · Σq` (f16-rounded) for the minimum term.
//! * `Q8_K` (for K-quants): 256-element blocks with an f32 scale and sums of each 16 elements.
//!
//! The quants are token-major (`qs[token * cols + i]`); the per-block numbers are grouped by 8
//! rows and then by block, the 8 rows side by side (see [`QuantizedActs::bidx`]), so a kernel
//! tile working on several rows loads their scales with one vector load, and each group of 8
//! rows owns one contiguous stretch of every array (groups are quantized in parallel).

use super::blocks::{QK_K, QK32};

/// Which int8 block format an activation row is quantized to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActFormat {
    /// 32-element blocks, f16 scale (llama.cpp `block_q8_0`).
    Q8_0,
    /// 32-element blocks, f16 scale and f16 `d·Σq` (llama.cpp `block_q8_1`).
    Q8_1,
    /// 256-element blocks, f32 scale, per-16 sums (llama.cpp `block_q8_K`).
    Q8K,
}

impl ActFormat {
    /// Elements per block.
    pub fn block_len(self) -> usize {
        match self {
            ActFormat::Q8_0 | ActFormat::Q8_1 => QK32,
            ActFormat::Q8K => QK_K,
        }
    }
}

/// `n` activation rows of `cols` elements, quantized to int8 blocks.
///
/// Only [`QuantizedActs::quantize`] (or `QuantMatrix::quantize_input`) builds one, so the SIMD
/// kernels can rely on its arrays having consistent lengths; the accessors expose them read-only.
#[derive(Debug, Clone)]
pub struct QuantizedActs {
    /// Block format.
    pub(crate) format: ActFormat,
    /// Number of rows (tokens).
    pub(crate) n: usize,
    /// Elements per row.
    pub(crate) cols: usize,
    /// Blocks per row.
    pub(crate) blocks: usize,
    /// Quants, `n × cols`.
    pub(crate) qs: Vec<i8>,
    /// Block scales (index with [`QuantizedActs::bidx`]; padded to whole groups of 8 rows).
    pub(crate) d: Vec<f32>,
    /// `Q8_0`/`Q8_1`: Σq of each block (index with [`QuantizedActs::bidx`]); empty for `Q8K`.
    pub(crate) sums: Vec<i32>,
    /// `Q8_1`: f16-rounded `d·Σq` of each block (index with [`QuantizedActs::bidx`]); empty
    /// otherwise.
    pub(crate) s: Vec<f32>,
    /// `Q8K`: Σq of each 16 elements (index `bidx(t, b) * 16 + j`); empty otherwise.
    pub(crate) bsums: Vec<i16>,
    /// The quants of each whole group of 8 rows regrouped for the batched SIMD kernels: word
    /// `w` (bytes `4w..4w+4`) of row `8g + c` is at `(g · cols/4 + w) · 8 + c`; nothing for a
    /// last group of fewer than 8 rows.
    pub(crate) packed: Vec<u32>,
    /// `Q8K`: the per-16 sums of each whole group of 8 rows, regrouped the same way: sum `j`
    /// (0..16) of block `b` of row `8g + c` is at `((g · blocks + b) · 16 + j) · 8 + c`.
    pub(crate) packed_bsums: Vec<i32>,
}

/// Rounds to the nearest integer, ties to even, exactly as ggml's `nearest_int` (valid for
/// |x| ≤ 2²²; activation quants are within ±127.5).
#[inline(always)]
fn nearest_int(x: f32) -> i32 {
    let v = x + 12_582_912.0;
    ((v.to_bits() & 0x007F_FFFF) as i32) - 0x0040_0000
}

/// Rounds an f32 to the nearest f16 and back.
#[inline(always)]
fn round_f16(x: f32) -> f32 {
    half::f16::from_f32(x).to_f32()
}

/// The part of a [`QuantizedActs`] that belongs to one group of (up to) 8 rows.
pub(crate) struct Group<'a> {
    rows: usize,
    x: &'a [f32],
    qs: &'a mut [i8],
    d: &'a mut [f32],
    sums: &'a mut [i32],
    s: &'a mut [f32],
    bsums: &'a mut [i16],
    packed: &'a mut [u32],
    packed_bsums: &'a mut [i32],
}

/// Splits `v` into `count` pieces of `each` (fewer if `v` is shorter; empty pieces after).
fn pieces<T>(v: &mut [T], each: usize, count: usize) -> Vec<&mut [T]> {
    let mut out: Vec<&mut [T]> = if each == 0 { Vec::new() } else { v.chunks_mut(each).collect() };
    out.resize_with(count, Default::default);
    out
}

impl QuantizedActs {
    /// Quantizes `n` rows of `cols` elements (`x` is `n × cols`, row-major) on the calling
    /// thread. `cols` must be a whole number of blocks of `format` and `x.len() == n * cols`
    /// (the callers check).
    pub fn quantize(format: ActFormat, x: &[f32], n: usize, cols: usize) -> Self {
        Self::quantize_with(format, x, n, cols, |groups, f| groups.into_iter().for_each(f))
    }

    /// As [`QuantizedActs::quantize`], handing the groups of 8 rows to `run` (which may spread
    /// them over threads).
    pub(crate) fn quantize_with(
        format: ActFormat,
        x: &[f32],
        n: usize,
        cols: usize,
        run: impl FnOnce(Vec<Group<'_>>, &(dyn Fn(Group<'_>) + Sync)),
    ) -> Self {
        debug_assert_eq!(x.len(), n * cols);
        debug_assert_eq!(cols % format.block_len(), 0);
        let blocks = cols / format.block_len();
        let groups = n.div_ceil(8);
        let full = n / 8;
        let per_block = groups * blocks * 8;
        let is_32 = format != ActFormat::Q8K;
        let mut a = QuantizedActs {
            format,
            n,
            cols,
            blocks,
            qs: vec![0; n * cols],
            d: vec![0.0; per_block],
            sums: if is_32 { vec![0; per_block] } else { Vec::new() },
            s: if format == ActFormat::Q8_1 { vec![0.0; per_block] } else { Vec::new() },
            bsums: if is_32 { Vec::new() } else { vec![0; per_block * 16] },
            packed: vec![0; full * cols * 2],
            packed_bsums: if is_32 { Vec::new() } else { vec![0; full * blocks * 128] },
        };
        let gb = blocks * 8;
        let qs = pieces(&mut a.qs, 8 * cols, groups);
        let d = pieces(&mut a.d, gb, groups);
        let sums = pieces(&mut a.sums, gb, groups);
        let s = pieces(&mut a.s, gb, groups);
        let bsums = pieces(&mut a.bsums, gb * 16, groups);
        let packed = pieces(&mut a.packed, cols * 2, groups);
        let packed_bsums = pieces(&mut a.packed_bsums, blocks * 128, groups);
        let parts = qs.into_iter().zip(d).zip(sums).zip(s).zip(bsums).zip(packed).zip(packed_bsums);
        let mut list = Vec::with_capacity(groups);
        for (g, ((((((qs, d), sums), s), bsums), packed), packed_bsums)) in parts.enumerate() {
            let rows = (n - 8 * g).min(8);
            let x = &x[8 * g * cols..(8 * g + rows) * cols];
            list.push(Group { rows, x, qs, d, sums, s, bsums, packed, packed_bsums });
        }
        run(list, &|g| quantize_group(format, cols, blocks, g));
        a
    }

    /// Block format.
    pub fn format(&self) -> ActFormat {
        self.format
    }

    /// Number of rows (tokens).
    pub fn n(&self) -> usize {
        self.n
    }

    /// Elements per row.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Blocks per row.
    pub fn blocks(&self) -> usize {
        self.blocks
    }

    /// Quants, `n × cols` row-major.
    pub fn qs(&self) -> &[i8] {
        &self.qs
    }

    /// Block scales (index with [`QuantizedActs::bidx`]).
    pub fn d(&self) -> &[f32] {
        &self.d
    }

    /// `Q8_0`/`Q8_1`: Σq of each block (index with [`QuantizedActs::bidx`]); empty for `Q8K`.
    pub fn sums(&self) -> &[i32] {
        &self.sums
    }

    /// `Q8_1`: f16-rounded `d·Σq` of each block (index with [`QuantizedActs::bidx`]).
    pub fn s(&self) -> &[f32] {
        &self.s
    }

    /// `Q8K`: Σq of each 16 elements (index `bidx(t, b) * 16 + j`).
    pub fn bsums(&self) -> &[i16] {
        &self.bsums
    }

    /// The quants of each whole group of 8 rows regrouped for the batched kernels.
    pub fn packed(&self) -> &[u32] {
        &self.packed
    }

    /// `Q8K`: the per-16 sums of each whole group of 8 rows regrouped for the batched kernels.
    pub fn packed_bsums(&self) -> &[i32] {
        &self.packed_bsums
    }

    /// Quants of block `b` of token `t`.
    #[inline(always)]
    pub fn block_qs(&self, t: usize, b: usize) -> &[i8] {
        let bl = self.format.block_len();
        let start = t * self.cols + b * bl;
        &self.qs[start..start + bl]
    }

    /// Index of block `b` of token `t` in the per-block arrays (`d`, `sums`, `s`; times 16
    /// for `bsums`): groups of 8 rows, block by block, the 8 rows side by side.
    #[inline(always)]
    pub fn bidx(&self, t: usize, b: usize) -> usize {
        ((t / 8) * self.blocks + b) * 8 + t % 8
    }
}

/// Quantizes one group of rows (see the module docs for the formats). The same code is
/// compiled with AVX2 where the CPU has it: only the vector width changes, not one operation,
/// so the result is the same.
fn quantize_group(format: ActFormat, cols: usize, blocks: usize, g: Group<'_>) {
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 is present.
        unsafe { quantize_group_avx2(format, cols, blocks, g) };
        return;
    }
    quantize_group_impl(format, cols, blocks, g);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn quantize_group_avx2(format: ActFormat, cols: usize, blocks: usize, g: Group<'_>) {
    quantize_group_impl(format, cols, blocks, g);
}

/// Largest |x| of a block, as the bits of a non-negative f32 (for finite values their integer
/// order is their numeric order, and an integer maximum vectorizes).
#[inline(always)]
fn abs_max_bits(xs: &[f32]) -> u32 {
    xs.iter().fold(0u32, |m, v| m.max(v.to_bits() & 0x7FFF_FFFF))
}

#[inline(always)]
fn quantize_group_impl(format: ActFormat, cols: usize, blocks: usize, g: Group<'_>) {
    let bl = format.block_len();
    for c in 0..g.rows {
        for b in 0..blocks {
            let xs = &g.x[c * cols + b * bl..c * cols + (b + 1) * bl];
            let qs = &mut g.qs[c * cols + b * bl..c * cols + (b + 1) * bl];
            let o = b * 8 + c;
            let amax_bits = abs_max_bits(xs);
            let amax = f32::from_bits(amax_bits);
            if format == ActFormat::Q8K {
                if amax == 0.0 {
                    continue;
                }
                // The first element of largest magnitude, with its sign (as ggml).
                let max = xs
                    .iter()
                    .copied()
                    .find(|v| v.to_bits() & 0x7FFF_FFFF == amax_bits)
                    .unwrap_or(amax);
                let iscale = -127.0 / max;
                for (q, &v) in qs.iter_mut().zip(xs) {
                    *q = nearest_int(iscale * v).clamp(-127, 127) as i8;
                }
                for (j, bs) in g.bsums[o * 16..o * 16 + 16].iter_mut().enumerate() {
                    *bs = qs[j * 16..j * 16 + 16].iter().map(|&q| q as i16).sum();
                }
                g.d[o] = 1.0 / iscale;
            } else {
                let d = amax / 127.0;
                let id = if amax != 0.0 { 127.0 / amax } else { 0.0 };
                let mut sum = 0i32;
                for (q, &v) in qs.iter_mut().zip(xs) {
                    let qi = nearest_int(v * id).clamp(-127, 127);
                    *q = qi as i8;
                    sum += qi;
                }
                g.d[o] = round_f16(d);
                g.sums[o] = sum;
                if format == ActFormat::Q8_1 {
                    g.s[o] = round_f16(d * sum as f32);
                }
            }
        }
    }
    if g.rows == 8 {
        for c in 0..8 {
            let row = &g.qs[c * cols..(c + 1) * cols];
            for (w, q) in row.chunks_exact(4).enumerate() {
                g.packed[w * 8 + c] = u32::from_le_bytes([q[0] as u8, q[1] as u8, q[2] as u8, q[3] as u8]);
            }
        }
        if format == ActFormat::Q8K {
            for b in 0..blocks {
                for c in 0..8 {
                    for j in 0..16 {
                        g.packed_bsums[(b * 16 + j) * 8 + c] = g.bsums[(b * 8 + c) * 16 + j] as i32;
                    }
                }
            }
        }
    }
}


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_int_ties_to_even() {
        assert_eq!(nearest_int(2.5), 2);
        assert_eq!(nearest_int(3.5), 4);
        assert_eq!(nearest_int(-2.5), -2);
        assert_eq!(nearest_int(-126.6), -127);
        assert_eq!(nearest_int(0.49), 0);
    }

    #[test]
    fn q8_0_round_trip_error_is_within_half_a_step() {
        let x: Vec<f32> = (0..64).map(|i| ((i as f32) * 0.37).sin() * 3.0).collect();
        let a = QuantizedActs::quantize(ActFormat::Q8_0, &x, 2, 32);
        for t in 0..2 {
            let d = a.d[a.bidx(t, 0)];
            let exact_d = x[t * 32..t * 32 + 32].iter().fold(0f32, |m, v| m.max(v.abs())) / 127.0;
            for i in 0..32 {
                let back = a.qs[t * 32 + i] as f32 * exact_d;
                assert!((back - x[t * 32 + i]).abs() <= exact_d * 0.5 + 1e-6);
            }
            let sum: i32 = a.qs[t * 32..t * 32 + 32].iter().map(|&q| q as i32).sum();
            assert_eq!(a.sums[a.bidx(t, 0)], sum);
            assert!((d - exact_d).abs() <= exact_d * 1e-3);
        }
    }

    #[test]
    fn q8k_maps_the_largest_magnitude_to_127_steps_and_sums_groups() {
        let mut x = vec![0.5f32; 256];
        x[3] = -4.0;
        let a = QuantizedActs::quantize(ActFormat::Q8K, &x, 1, 256);
        assert_eq!(a.qs[3], -127);
        assert!((a.d[0] * -127.0 + 4.0).abs() < 1e-6);
        assert_eq!(a.qs[0], 16);
        x[3] = 4.0;
        let b = QuantizedActs::quantize(ActFormat::Q8K, &x, 1, 256);
        assert_eq!(b.qs[3], -127);
        assert!((b.d[0] * -127.0 - 4.0).abs() < 1e-6);
        assert_eq!(b.qs[0], -16);
        let g0: i16 = a.qs[..16].iter().map(|&q| q as i16).sum();
        assert_eq!(a.bsums[0], g0);
    }

    #[test]
    fn packed_groups_interleave_rows_by_four_bytes() {
        let x: Vec<f32> = (0..9 * 64).map(|i| ((i * 7 % 255) as f32) - 127.0).collect();
        let a = QuantizedActs::quantize(ActFormat::Q8_0, &x, 9, 64);
        assert_eq!(a.packed.len(), 64 / 4 * 8);
        for c in 0..8 {
            for w in 0..16 {
                let q = &a.qs[c * 64 + 4 * w..c * 64 + 4 * w + 4];
                let want = u32::from_le_bytes([q[0] as u8, q[1] as u8, q[2] as u8, q[3] as u8]);
                assert_eq!(a.packed[w * 8 + c], want);
            }
        }
    }

    #[test]
    fn all_zero_rows_quantize_to_zero() {
        let x = vec![0.0f32; 256];
        for f in [ActFormat::Q8_0, ActFormat::Q8_1, ActFormat::Q8K] {
            let a = QuantizedActs::quantize(f, &x, 1, 256);
            assert!(a.qs.iter().all(|&q| q == 0));
            assert!(a.d.iter().all(|&d| d == 0.0));
        }
    }
}
