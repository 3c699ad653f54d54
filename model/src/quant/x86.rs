//! AVX2 and AVX-512 VNNI kernels (x86_64), bit-identical to the scalar reference.
//!
//! A tile of `R` weight rows × `C` activation rows is computed per block: the integer dot
//! products of all `R·C` pairs run in 256-bit vectors (`vpdpbusd` on VNNI, `vpmaddubsw` +
//! `vpmaddwd` on AVX2). For the 32-element block types each pair keeps the eight lane sums of
//! its `vpdpbusd` and its own eight float lanes, exactly as llama.cpp's `ggml_vec_dot_*` do;
//! for the K-quants the lanes are reduced to one exact i32 per pair and the float stage of the
//! reference (`acc = fma(scale, isum, acc)`, in block order) runs with one pair per vector lane.
//! Rows and activation rows that do not fill a tile go through the scalar reference, which
//! gives the same bits.

// Kernels index several arrays in lockstep; plain index loops read best here.
#![allow(clippy::needless_range_loop)]

use std::arch::x86_64::*;
use std::ops::Range;

use super::act::QuantizedActs;
use super::blocks::*;
use super::driver::Out;
use super::{Isa, QuantType, scalar};

/// How many row tiles ahead matvec prefetches the weights it streams from memory.
const PREFETCH_TILES: usize = 2;

/// Entry point: one rectangle of outputs on an x86 SIMD path.
#[allow(clippy::too_many_arguments)]
pub fn run_quant(
    isa: Isa,
    ty: QuantType,
    data: &[u8],
    rb: usize,
    a: &QuantizedActs,
    rows: Range<usize>,
    tokens: Range<usize>,
    out: Out,
) {
    // SAFETY: a `Kernels` with this `isa` is only built after `Isa::is_available` confirmed
    // every target feature these functions enable.
    unsafe {
        match isa {
            Isa::Avx512Vnni => run_vnni(ty, data, rb, a, rows, tokens, out),
            _ => run_avx2(ty, data, rb, a, rows, tokens, out),
        }
    }
}

#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn run_vnni(
    ty: QuantType,
    data: &[u8],
    rb: usize,
    a: &QuantizedActs,
    rows: Range<usize>,
    tokens: Range<usize>,
    out: Out,
) {
    // SAFETY: features enabled above.
    unsafe { run_isa::<Vnni, 4>(ty, data, rb, a, rows, tokens, out) }
}

#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn run_avx2(
    ty: QuantType,
    data: &[u8],
    rb: usize,
    a: &QuantizedActs,
    rows: Range<usize>,
    tokens: Range<usize>,
    out: Out,
) {
    // SAFETY: features enabled above.
    unsafe { run_isa::<Avx2, 2>(ty, data, rb, a, rows, tokens, out) }
}

/// One rectangle on instruction set `D`: whole groups of 8 activation rows one per lane, the
/// rest in `R × 4` tiles. Inlined into the `#[target_feature]` entry points above.
#[inline(always)]
unsafe fn run_isa<D: Dot, const R: usize>(
    ty: QuantType,
    data: &[u8],
    rb: usize,
    a: &QuantizedActs,
    rows: Range<usize>,
    tokens: Range<usize>,
    out: Out,
) {
    let mut t = tokens.start;
    if tokens.len() >= 8 {
        // SAFETY: the caller enabled the features of `D`.
        t += unsafe { run_lanes::<D, 4>(ty, data, rb, a, rows.clone(), tokens.clone(), out) };
    }
    // SAFETY: as above.
    unsafe { run_generic::<D, R, 4>(ty, data, rb, a, rows, t..tokens.end, out) }
}

/// The integer dot-product primitives of one instruction set.
trait Dot {
    /// `acc + Σ` of each 4 consecutive u8×i8 products (one i32 lane per 4 bytes). On AVX2 each
    /// pair of products must fit in i16.
    unsafe fn dot(acc: __m256i, a: __m256i, b: __m256i) -> __m256i;
    /// `acc + Σ` of pairs of (u8×i8 pair sums, as i16) × `scale16` (i16 lanes).
    unsafe fn dot_scaled(acc: __m256i, a: __m256i, b: __m256i, scale16: __m256i) -> __m256i;
    /// Lanes of (signed weights) · (signed activations): lane `k` sums bytes `4k..4k+4`.
    unsafe fn q8_dot(w: __m256i, x: __m256i) -> __m256i;
    /// Bit `i` of `qh` as 0x10 in byte `i` (the fifth bit of Q5_0 quants).
    unsafe fn q5_high(qh: u32) -> __m256i;
}

struct Vnni;
struct Avx2;

impl Dot for Vnni {
    #[inline(always)]
    unsafe fn dot(acc: __m256i, a: __m256i, b: __m256i) -> __m256i {
        unsafe { _mm256_dpbusd_epi32(acc, a, b) }
    }
    #[inline(always)]
    unsafe fn dot_scaled(acc: __m256i, a: __m256i, b: __m256i, scale16: __m256i) -> __m256i {
        unsafe { _mm256_dpwssd_epi32(acc, _mm256_maddubs_epi16(a, b), scale16) }
    }
    #[inline(always)]
    unsafe fn q8_dot(w: __m256i, x: __m256i) -> __m256i {
        // |w|·sign(x, w), as llama.cpp's `mul_sum_i8_pairs_float`.
        unsafe { _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w)) }
    }
    #[inline(always)]
    unsafe fn q5_high(qh: u32) -> __m256i {
        unsafe { _mm256_maskz_mov_epi8(qh, _mm256_set1_epi8(0x10)) }
    }
}

impl Dot for Avx2 {
    #[inline(always)]
    unsafe fn dot(acc: __m256i, a: __m256i, b: __m256i) -> __m256i {
        unsafe {
            let p = _mm256_maddubs_epi16(a, b);
            _mm256_add_epi32(acc, _mm256_madd_epi16(p, _mm256_set1_epi16(1)))
        }
    }
    #[inline(always)]
    unsafe fn dot_scaled(acc: __m256i, a: __m256i, b: __m256i, scale16: __m256i) -> __m256i {
        unsafe {
            let p = _mm256_maddubs_epi16(a, b);
            _mm256_add_epi32(acc, _mm256_madd_epi16(p, scale16))
        }
    }
    #[inline(always)]
    unsafe fn q8_dot(w: __m256i, x: __m256i) -> __m256i {
        // |w|·sign(x, w): the products keep their sign and stay within i16 pair sums
        // (activations are within ±127).
        unsafe {
            let p = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w));
            _mm256_madd_epi16(p, _mm256_set1_epi16(1))
        }
    }
    #[inline(always)]
    unsafe fn q5_high(qh: u32) -> __m256i {
        unsafe { q5_high_avx2(qh) }
    }
}

/// Sums each of eight i32×8 vectors: lane `i` of the result is the total of `v[i]`.
#[inline(always)]
unsafe fn hsum8(v: &[__m256i]) -> __m256i {
    unsafe {
        let a01 = _mm256_hadd_epi32(v[0], v[1]);
        let a23 = _mm256_hadd_epi32(v[2], v[3]);
        let a45 = _mm256_hadd_epi32(v[4], v[5]);
        let a67 = _mm256_hadd_epi32(v[6], v[7]);
        let b0 = _mm256_hadd_epi32(a01, a23);
        let b1 = _mm256_hadd_epi32(a45, a67);
        let lo = _mm256_permute2x128_si256(b0, b1, 0x20);
        let hi = _mm256_permute2x128_si256(b0, b1, 0x31);
        _mm256_add_epi32(lo, hi)
    }
}

#[inline(always)]
unsafe fn load(p: *const u8) -> __m256i {
    unsafe { _mm256_loadu_si256(p as *const __m256i) }
}

/// 32 nibbles of a 16-byte array: low nibbles to bytes 0..16, high nibbles to bytes 16..32.
#[inline(always)]
unsafe fn nibbles32(p: *const u8) -> __m256i {
    unsafe {
        let q = _mm_loadu_si128(p as *const __m128i);
        let m = _mm_set1_epi8(0x0F);
        let lo = _mm_and_si128(q, m);
        let hi = _mm_and_si128(_mm_srli_epi16(q, 4), m);
        _mm256_set_m128i(hi, lo)
    }
}

/// Bit `i` of the 32-bit `qh` as 0x10 in byte `i`, with AVX2 shuffles.
#[inline(always)]
unsafe fn q5_high_avx2(qh: u32) -> __m256i {
    unsafe {
        let shuf = _mm256_setr_epi8(
            0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3,
            3, 3, 3, 3,
        );
        let bytes = _mm256_shuffle_epi8(_mm256_set1_epi32(qh as i32), shuf);
        let bit = _mm256_set1_epi64x(0x8040_2010_0804_0201u64 as i64);
        let set = _mm256_cmpeq_epi8(_mm256_and_si256(bytes, bit), bit);
        _mm256_and_si256(set, _mm256_set1_epi8(0x10))
    }
}


/// Decode streams the weights from memory once: while a tile of `R` rows works on block `b`,
/// fetch the matching stretch of the tile `PREFETCH_TILES` ahead, so the fetches sweep memory
/// linearly at the rate the tiles consume it.
#[inline(always)]
unsafe fn prefetch_ahead<const R: usize>(base: *const u8, rb: usize, bb: usize, b: usize) {
    let start = base.wrapping_add(PREFETCH_TILES * R * rb + b * R * bb);
    for line in 0..(R * bb).div_ceil(64) {
        // SAFETY: prefetches never fault, whatever the address.
        unsafe { _mm_prefetch(start.wrapping_add(64 * line) as *const i8, _MM_HINT_T0) };
    }
}

/// Raw f16 bits at `p`.
///
/// # Safety
/// `p` points at two readable bytes.
#[inline(always)]
unsafe fn f16_raw(p: *const u8) -> u16 {
    // SAFETY: guaranteed by the caller.
    unsafe { u16::from_le_bytes([*p, *p.add(1)]) }
}

/// Byte offsets of a tile's `R` rows (`stride` apart), one per lane, for [`rows_f16`]; lanes
/// from `R` on repeat the last row.
#[inline(always)]
unsafe fn row_offsets<const R: usize>(stride: usize) -> __m256i {
    debug_assert!(stride * R <= i32::MAX as usize);
    unsafe {
        let rows = _mm256_min_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(R as i32 - 1));
        _mm256_mullo_epi32(rows, _mm256_set1_epi32(stride as i32))
    }
}

/// The f16 held in the low (`HIGH = false`) or high half of the 32-bit word at `base +
/// offsets[r]`, as f32 lane `r`: one scale of every tile row, gathered in one instruction.
/// (Collecting them through a small array on the stack made every load of that array wait
/// for the narrow stores before it: a store-forwarding stall per block.)
///
/// # Safety
/// Every `base + offsets[r]` points at four readable bytes.
#[inline(always)]
unsafe fn rows_f16<const HIGH: bool>(base: *const u8, offsets: __m256i) -> __m256 {
    unsafe {
        let words = _mm256_i32gather_epi32::<1>(base as *const i32, offsets);
        let halves = if HIGH { _mm256_srli_epi32::<16>(words) } else { _mm256_and_si256(words, _mm256_set1_epi32(0xFFFF)) };
        // Per 128-bit half: the four u16 twice; then quadwords 0 and 2 hold rows 0..4 and 4..8.
        let packed = _mm256_permute4x64_epi64::<0b1000>(_mm256_packus_epi32(halves, halves));
        _mm256_cvtph_ps(_mm256_castsi256_si128(packed))
    }
}

/// Spreads per-row lanes (lane `r` = row `r`) over the pairs of group `g` of an `R × C` tile:
/// lane `k` gets row `(8g + k) / C`.
#[inline(always)]
unsafe fn row_lanes<const C: usize>(v: __m256, g: usize) -> __m256 {
    let mut idx = [0i32; 8];
    for (k, i) in idx.iter_mut().enumerate() {
        *i = ((8 * g + k) / C) as i32;
    }
    unsafe { _mm256_permutevar8x32_ps(v, _mm256_loadu_si256(idx.as_ptr() as *const __m256i)) }
}

/// `C` consecutive per-token f32 values spread over a pair group: lane `k` gets token `k % C`.
#[inline(always)]
unsafe fn tok_lanes<const C: usize>(p: *const f32) -> __m256 {
    unsafe {
        match C {
            1 => _mm256_set1_ps(*p),
            2 => _mm256_castpd_ps(_mm256_set1_pd(std::ptr::read_unaligned(p as *const f64))),
            4 => {
                let v = _mm_loadu_ps(p);
                _mm256_set_m128(v, v)
            }
            _ => _mm256_loadu_ps(p),
        }
    }
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn run_generic<D: Dot, const R: usize, const C: usize>(
    ty: QuantType,
    data: &[u8],
    rb: usize,
    a: &QuantizedActs,
    rows: Range<usize>,
    tokens: Range<usize>,
    out: Out,
) {
    let n = tokens.len();
    let full_rows = rows.start + (rows.len() / R) * R;
    let full_tok = tokens.start + (n / C) * C;
    // Matvec-shaped rest: eight rows per tile, one activation row.
    let rows8 = rows.start + (rows.len() / 8) * 8;
    unsafe {
        let mut r = rows.start;
        while r < full_rows {
            let mut t = tokens.start;
            while t < full_tok {
                tile::<D, R, C>(ty, data, rb, a, r, t, out);
                t += C;
            }
            r += R;
        }
        for t in full_tok..tokens.end {
            let mut r = rows.start;
            while r < rows8 {
                tile::<D, 8, 1>(ty, data, rb, a, r, t, out);
                r += 8;
            }
            scalar::run_quant(ty, data, rb, a, rows8..rows.end, t..t + 1, out);
        }
        if full_tok > tokens.start {
            scalar::run_quant(ty, data, rb, a, full_rows..rows.end, tokens.start..full_tok, out);
        }
    }
}

/// One `R × C` tile (R·C is 8 or 16) starting at weight row `r0`, activation row `t0`.
#[inline(always)]
unsafe fn tile<D: Dot, const R: usize, const C: usize>(
    ty: QuantType,
    data: &[u8],
    rb: usize,
    a: &QuantizedActs,
    r0: usize,
    t0: usize,
    out: Out,
) {
    match ty {
        QuantType::Q4_K | QuantType::Q6_K => unsafe { tile_k::<D, R, C>(ty, data, rb, a, r0, t0, out) },
        _ => unsafe { tile_32::<D, R, C>(ty, data, rb, a, r0, t0, out) },
    }
}

/// Stores the per-pair float accumulators.
#[inline(always)]
unsafe fn store<const R: usize, const C: usize>(acc: &[__m256; 2], r0: usize, t0: usize, out: Out) {
    let mut v = [0.0f32; 16];
    unsafe {
        _mm256_storeu_ps(v.as_mut_ptr(), acc[0]);
        _mm256_storeu_ps(v.as_mut_ptr().add(8), acc[1]);
        for r in 0..R {
            for c in 0..C {
                // SAFETY: the tile lies inside the rectangle the driver gave this task.
                out.write(t0 + c, r0 + r, v[r * C + c]);
            }
        }
    }
}

/// `hsum_float_8`: the eight lanes of `v` summed in ggml's order.
#[inline(always)]
unsafe fn hsum_ps(v: __m256) -> f32 {
    unsafe {
        let r = _mm_add_ps(_mm256_extractf128_ps(v, 1), _mm256_castps256_ps128(v));
        let r = _mm_add_ps(r, _mm_movehl_ps(r, r));
        _mm_cvtss_f32(_mm_add_ss(r, _mm_movehdup_ps(r)))
    }
}

/// Lanes of one 32-element weight block (from [`unpack32`]) · 32 activation quants: lane `k`
/// is the exact sum over elements `4k..4k+4`.
#[inline(always)]
unsafe fn lanes32<D: Dot>(ty: QuantType, w: __m256i, x: __m256i) -> __m256i {
    unsafe {
        if ty == QuantType::Q4_1 {
            D::dot(_mm256_setzero_si256(), w, x)
        } else {
            D::q8_dot(w, x)
        }
    }
}

/// Tile kernel for the 32-element block types (Q8_0, Q4_0, Q5_0, Q4_1): every pair keeps its
/// eight float lanes (see the module docs).
#[inline(always)]
unsafe fn tile_32<D: Dot, const R: usize, const C: usize>(
    ty: QuantType,
    data: &[u8],
    rb: usize,
    a: &QuantizedActs,
    r0: usize,
    t0: usize,
    out: Out,
) {
    let groups = (R * C) / 8;
    let bb = ty.block_bytes();
    unsafe {
        let zero = _mm256_setzero_si256();
        let mut lanes = [_mm256_setzero_ps(); 16];
        let mut summs = [_mm256_setzero_ps(); 2];
        let base = data.as_ptr().add(r0 * rb);
        let offsets = row_offsets::<R>(rb);
        for b in 0..a.blocks {
            if C == 1 {
                prefetch_ahead::<R>(base, rb, bb, b);
            }
            let mut wv = [zero; R];
            for r in 0..R {
                wv[r] = unpack32::<D>(ty, base.add(r * rb + b * bb));
            }
            let i0 = a.bidx(t0, b);
            let dw = rows_f16::<false>(base.add(b * bb), offsets);
            let dx = tok_lanes::<C>(a.d.as_ptr().add(i0));
            let mut scales = [0.0f32; 16];
            for g in 0..groups {
                _mm256_storeu_ps(scales.as_mut_ptr().add(8 * g), _mm256_mul_ps(row_lanes::<C>(dw, g), dx));
                if ty == QuantType::Q4_1 {
                    let m = row_lanes::<C>(rows_f16::<true>(base.add(b * bb), offsets), g);
                    summs[g] = _mm256_fmadd_ps(m, tok_lanes::<C>(a.s.as_ptr().add(i0)), summs[g]);
                }
            }
            for c in 0..C {
                let xv = load(a.qs.as_ptr().add((t0 + c) * a.cols + b * QK32) as *const u8);
                for r in 0..R {
                    let p = r * C + c;
                    let s = _mm256_cvtepi32_ps(lanes32::<D>(ty, wv[r], xv));
                    lanes[p] = _mm256_fmadd_ps(_mm256_set1_ps(scales[p]), s, lanes[p]);
                }
            }
        }
        let mut m = [0.0f32; 16];
        _mm256_storeu_ps(m.as_mut_ptr(), summs[0]);
        _mm256_storeu_ps(m.as_mut_ptr().add(8), summs[1]);
        for r in 0..R {
            for c in 0..C {
                let p = r * C + c;
                // SAFETY: the tile lies inside the rectangle the driver gave this task.
                out.write(t0 + c, r0 + r, hsum_ps(lanes[p]) + m[p]);
            }
        }
    }
}

/// Tile kernel for the K-quants (Q4_K, Q6_K) against Q8_K activations, in the float order of
/// the scalar reference for this tile's activation rows (see its module docs). The caller
/// makes sure a tile does not straddle the row where Q4_K changes form.
#[inline(always)]
unsafe fn tile_k<D: Dot, const R: usize, const C: usize>(
    ty: QuantType,
    data: &[u8],
    rb: usize,
    a: &QuantizedActs,
    r0: usize,
    t0: usize,
    out: Out,
) {
    let groups = (R * C) / 8;
    let bb = ty.block_bytes();
    let q4k_per_pair = t0 < a.n / 4 * 4;
    let q6k_tiled = a.n >= 8;
    unsafe {
        let zero = _mm256_setzero_si256();
        let mask4 = _mm256_set1_epi8(0x0F);
        let mask2 = _mm256_set1_epi8(0x03);
        let mut acc = [_mm256_setzero_ps(); 2];
        let mut accm = [_mm256_setzero_ps(); 2];
        let mut lanes = [_mm256_setzero_ps(); 16];
        let base = data.as_ptr().add(r0 * rb);
        let offsets = row_offsets::<R>(rb);
        for b in 0..a.blocks {
            if C == 1 {
                prefetch_ahead::<R>(base, rb, bb, b);
            }
            let mut xp = [std::ptr::null::<u8>(); C];
            for c in 0..C {
                xp[c] = a.qs.as_ptr().add((t0 + c) * a.cols + b * QK_K) as *const u8;
            }
            let dx = tok_lanes::<C>(a.d.as_ptr().add(a.bidx(t0, b)));
            if ty == QuantType::Q4_K {
                let mut sc16 = [[zero; 8]; R];
                let mut mins = [[0u8; 8]; R];
                let mut qs = [std::ptr::null::<u8>(); R];
                for r in 0..R {
                    let wb = base.add(r * rb + b * bb);
                    let blk = std::slice::from_raw_parts(wb, bb);
                    let (sc, m) = q4k_scales_mins(&blk[Q4_K_SCALES..Q4_K_SCALES + 12]);
                    for j in 0..8 {
                        sc16[r][j] = _mm256_set1_epi16(sc[j] as i16);
                    }
                    mins[r] = m;
                    qs[r] = wb.add(Q4_K_QS);
                }
                // d and dmin are the two halves of the block's first word.
                let dv = rows_f16::<false>(base.add(b * bb), offsets);
                let dminv = rows_f16::<true>(base.add(b * bb), offsets);
                let mut scale = [_mm256_setzero_ps(); 2];
                let mut mscale = [_mm256_setzero_ps(); 2];
                for g in 0..groups {
                    scale[g] = _mm256_mul_ps(row_lanes::<C>(dv, g), dx);
                    mscale[g] = _mm256_mul_ps(row_lanes::<C>(dminv, g), dx);
                }
                // Pair sums of the whole block (per-block form) or of one 64-element part.
                let mut s = [zero; 16];
                let mut corr = [0i32; 16];
                for j2 in 0..4 {
                    let mut lo = [zero; R];
                    let mut hi = [zero; R];
                    for r in 0..R {
                        let q = load(qs[r].add(32 * j2));
                        lo[r] = _mm256_and_si256(q, mask4);
                        hi[r] = _mm256_and_si256(_mm256_srli_epi16(q, 4), mask4);
                    }
                    for c in 0..C {
                        let xl = load(xp[c].add(64 * j2));
                        let xh = load(xp[c].add(64 * j2 + 32));
                        let bs = &a.bsums[a.bidx(t0 + c, b) * 16..][..16];
                        for r in 0..R {
                            let p = r * C + c;
                            s[p] = D::dot_scaled(s[p], lo[r], xl, sc16[r][2 * j2]);
                            s[p] = D::dot_scaled(s[p], hi[r], xh, sc16[r][2 * j2 + 1]);
                            for j in 2 * j2..2 * j2 + 2 {
                                corr[p] += mins[r][j] as i32 * (bs[2 * j] as i32 + bs[2 * j + 1] as i32);
                            }
                        }
                    }
                    if q4k_per_pair || j2 == 3 {
                        for g in 0..groups {
                            let isum = hsum8(&s[g * 8..g * 8 + 8]);
                            let cv = _mm256_loadu_si256(corr.as_ptr().add(g * 8) as *const __m256i);
                            acc[g] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), scale[g], acc[g]);
                            accm[g] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(cv), mscale[g], accm[g]);
                        }
                        s = [zero; 16];
                        corr = [0i32; 16];
                    }
                }
            } else {
                let mut s = [zero; 16];
                // Q6_K stores its quants +32: 32·Σ sc·Σx per pair, per lane.
                let mut corr_lanes = [zero; 16];
                let mut scv = [[zero; 8]; R];
                let mut wp = [std::ptr::null::<u8>(); R];
                for r in 0..R {
                    let wb = base.add(r * rb + b * bb);
                    let blk = std::slice::from_raw_parts(wb, bb);
                    let sc = &blk[Q6_K_SCALES..Q6_K_SCALES + 16];
                    for k in 0..8 {
                        let lo = _mm_set1_epi16(sc[2 * k] as i8 as i16);
                        let hi = _mm_set1_epi16(sc[2 * k + 1] as i8 as i16);
                        scv[r][k] = _mm256_set_m128i(hi, lo);
                    }
                    let sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(sc.as_ptr() as *const __m128i));
                    for c in 0..C {
                        let bs = _mm256_loadu_si256(a.bsums.as_ptr().add(a.bidx(t0 + c, b) * 16) as *const __m256i);
                        corr_lanes[r * C + c] = _mm256_slli_epi32(_mm256_madd_epi16(bs, sc16), 5);
                    }
                    wp[r] = wb;
                }
                for half in 0..2 {
                    let mut q = [[zero; 4]; R];
                    for r in 0..R {
                        let ql0 = load(wp[r].add(64 * half));
                        let ql1 = load(wp[r].add(64 * half + 32));
                        let qh = load(wp[r].add(Q6_K_QH + 32 * half));
                        let h0 = _mm256_slli_epi16(_mm256_and_si256(qh, mask2), 4);
                        let h1 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), mask2), 4);
                        let h2 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), mask2), 4);
                        let h3 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), mask2), 4);
                        q[r][0] = _mm256_or_si256(_mm256_and_si256(ql0, mask4), h0);
                        q[r][1] = _mm256_or_si256(_mm256_and_si256(ql1, mask4), h1);
                        q[r][2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), mask4), h2);
                        q[r][3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), mask4), h3);
                    }
                    for c in 0..C {
                        for k in 0..4 {
                            let xv = load(xp[c].add(128 * half + 32 * k));
                            for r in 0..R {
                                let p = r * C + c;
                                s[p] = D::dot_scaled(s[p], q[r][k], xv, scv[r][4 * half + k]);
                            }
                        }
                    }
                }
                // d is the high half of the word ending the block (it ends the block).
                let dv = rows_f16::<true>(base.add(b * bb + Q6_K_D - 2), offsets);
                for g in 0..groups {
                    if q6k_tiled {
                        let mut sub = [zero; 8];
                        for (k, v) in sub.iter_mut().enumerate() {
                            *v = _mm256_sub_epi32(s[8 * g + k], corr_lanes[8 * g + k]);
                        }
                        let isum = _mm256_cvtepi32_ps(hsum8(&sub));
                        let res = _mm256_mul_ps(isum, row_lanes::<C>(dv, g));
                        acc[g] = _mm256_fmadd_ps(res, dx, acc[g]);
                    } else {
                        let mut sc = [0.0f32; 8];
                        _mm256_storeu_ps(sc.as_mut_ptr(), _mm256_mul_ps(row_lanes::<C>(dv, g), dx));
                        for (k, &scv) in sc.iter().enumerate() {
                            let p = 8 * g + k;
                            let q = _mm256_cvtepi32_ps(_mm256_sub_epi32(s[p], corr_lanes[p]));
                            lanes[p] = _mm256_fmadd_ps(_mm256_set1_ps(scv), q, lanes[p]);
                        }
                    }
                }
            }
        }
        if ty == QuantType::Q6_K && !q6k_tiled {
            for r in 0..R {
                for c in 0..C {
                    // SAFETY: the tile lies inside the rectangle the driver gave this task.
                    out.write(t0 + c, r0 + r, hsum_ps(lanes[r * C + c]));
                }
            }
        } else {
            for g in 0..groups {
                acc[g] = _mm256_sub_ps(acc[g], accm[g]);
            }
            store::<R, C>(&acc, r0, t0, out);
        }
    }
}

/// Unpacks the quants of one 32-element weight block to 32 bytes (signed, offset removed;
/// unsigned for Q4_1). Its scale (and Q4_1's minimum) come from [`rows_f16`].
#[inline(always)]
unsafe fn unpack32<D: Dot>(ty: QuantType, wb: *const u8) -> __m256i {
    unsafe {
        match ty {
            QuantType::Q8_0 => load(wb.add(2)),
            QuantType::Q4_0 => _mm256_sub_epi8(nibbles32(wb.add(2)), _mm256_set1_epi8(8)),
            QuantType::Q4_1 => nibbles32(wb.add(4)),
            _ => {
                let qh = std::ptr::read_unaligned(wb.add(2) as *const u32).to_le();
                let q = _mm256_or_si256(nibbles32(wb.add(6)), D::q5_high(qh));
                _mm256_sub_epi8(q, _mm256_set1_epi8(16))
            }
        }
    }
}

/// Batched kernel for 32-element block types with one activation row per vector lane.
///
/// Eight activation rows come regrouped ([`QuantizedActs::packed`]) so that lane `c` of vector
/// `j` of a block holds bytes `4j..4j+4` of row `c`; broadcasting bytes `4j..4j+4` of a weight row against it, eight dot
/// instructions leave each lane with the exact block sum of its row, so no horizontal reduction
/// is needed and the float stage is one vector op per weight row and block. Returns how many
/// activation rows (a multiple of 8, from `tokens.start`, which must be a multiple of 8 — else
/// nothing is done) it computed; the caller does the rest.
#[inline(always)]
unsafe fn run_lanes<D: Dot, const R: usize>(
    ty: QuantType,
    data: &[u8],
    rb: usize,
    a: &QuantizedActs,
    rows: Range<usize>,
    tokens: Range<usize>,
    out: Out,
) -> usize {
    if !tokens.start.is_multiple_of(8) {
        return 0;
    }
    let groups = tokens.len() / 8;
    let full_rows = rows.start + (rows.len() / R) * R;
    for gi in 0..groups {
        let t0 = tokens.start + 8 * gi;
        let words = a.cols / 4 * 8;
        let pack = &a.packed[(t0 / 8) * words..(t0 / 8 + 1) * words];
        let mut r0 = rows.start;
        while r0 < full_rows {
            // SAFETY: the caller enabled the features of `D`; `pack` holds this group.
            unsafe {
                match ty {
                    QuantType::Q4_K | QuantType::Q6_K => tile_tk::<D, R>(ty, data, rb, a, pack, r0, t0, out),
                    // Eight float lanes per output: two rows at a time keep them in registers.
                    _ => {
                        for sub in (0..R).step_by(2) {
                            tile_t32::<D, 2>(ty, data, rb, a, pack, r0 + sub, t0, out);
                        }
                    }
                }
            };
            r0 += R;
        }
        scalar::run_quant(ty, data, rb, a, full_rows..rows.end, t0..t0 + 8, out);
    }
    groups * 8
}

/// `R` weight rows × 8 activation rows (one per lane) for 32-element block types. Vector `j`
/// of a row holds float lane `j` (elements `4j..4j+4` of every block) of its eight outputs,
/// so ggml's lane sum at the end is vertical adds.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn tile_t32<D: Dot, const R: usize>(
    ty: QuantType,
    data: &[u8],
    rb: usize,
    a: &QuantizedActs,
    pack: &[u32],
    r0: usize,
    t0: usize,
    out: Out,
) {
    let bb = ty.block_bytes();
    unsafe {
        let zero = _mm256_setzero_si256();
        let mut lanes = [[_mm256_setzero_ps(); 8]; R];
        let mut summs = [_mm256_setzero_ps(); R];
        let base = data.as_ptr().add(r0 * rb);
        let offsets = row_offsets::<R>(rb);
        let lane = |j: i32| _mm256_set1_epi32(j);
        for b in 0..a.blocks {
            let mut wv = [zero; R];
            for r in 0..R {
                wv[r] = unpack32::<D>(ty, base.add(r * rb + b * bb));
            }
            let i0 = a.bidx(t0, b);
            let dx = _mm256_loadu_ps(a.d.as_ptr().add(i0));
            let dw = rows_f16::<false>(base.add(b * bb), offsets);
            let mw = rows_f16::<true>(base.add(b * bb), offsets);
            let mut scale = [_mm256_setzero_ps(); R];
            for r in 0..R {
                scale[r] = _mm256_mul_ps(_mm256_permutevar8x32_ps(dw, lane(r as i32)), dx);
                if ty == QuantType::Q4_1 {
                    let m = _mm256_permutevar8x32_ps(mw, lane(r as i32));
                    summs[r] = _mm256_fmadd_ps(m, _mm256_loadu_ps(a.s.as_ptr().add(i0)), summs[r]);
                }
            }
            let xp = pack.as_ptr().add(b * 64) as *const u8;
            for j in 0..8 {
                let xj = load(xp.add(32 * j));
                for r in 0..R {
                    let wj = _mm256_permutevar8x32_epi32(wv[r], lane(j as i32));
                    let s = _mm256_cvtepi32_ps(lanes32::<D>(ty, wj, xj));
                    lanes[r][j] = _mm256_fmadd_ps(scale[r], s, lanes[r][j]);
                }
            }
        }
        let mut acc = [_mm256_setzero_ps(); R];
        for r in 0..R {
            let l = &lanes[r];
            let h = _mm256_add_ps(
                _mm256_add_ps(_mm256_add_ps(l[0], l[4]), _mm256_add_ps(l[2], l[6])),
                _mm256_add_ps(_mm256_add_ps(l[1], l[5]), _mm256_add_ps(l[3], l[7])),
            );
            acc[r] = _mm256_add_ps(h, summs[r]);
        }
        store_lanes::<R>(&acc, r0, t0, out);
    }
}

/// Stores `R` per-row vectors of 8 per-token results.
#[inline(always)]
unsafe fn store_lanes<const R: usize>(acc: &[__m256; R], r0: usize, t0: usize, out: Out) {
    let mut v = [0.0f32; 8];
    for r in 0..R {
        unsafe {
            _mm256_storeu_ps(v.as_mut_ptr(), acc[r]);
            for (c, &val) in v.iter().enumerate() {
                // SAFETY: the tile lies inside the rectangle the driver gave this task.
                out.write(t0 + c, r0 + r, val);
            }
        }
    }
}

/// `R` weight rows × 8 activation rows (one per lane) for the K-quants: Q4_K in the form of
/// `ggml_gemm_q4_K_8x8_q8_K` (whole groups of 8 rows are always below the last multiple of 4);
/// Q6_K runs [`tile_tq6k`] row by row.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn tile_tk<D: Dot, const R: usize>(
    ty: QuantType,
    data: &[u8],
    rb: usize,
    a: &QuantizedActs,
    pack: &[u32],
    r0: usize,
    t0: usize,
    out: Out,
) {
    if ty == QuantType::Q6_K {
        for r in r0..r0 + R {
            // SAFETY: as for this function.
            unsafe { tile_tq6k::<D>(data, rb, a, pack, r, t0, out) };
        }
        return;
    }
    let bb = ty.block_bytes();
    let g = t0 / 8;
    unsafe {
        let zero = _mm256_setzero_si256();
        let mask4 = _mm256_set1_epi8(0x0F);
        let lane = |j: i32| _mm256_set1_epi32(j);
        let mut acc = [_mm256_setzero_ps(); R];
        let mut accm = [_mm256_setzero_ps(); R];
        let base = data.as_ptr().add(r0 * rb);
        let offsets = row_offsets::<R>(rb);
        for b in 0..a.blocks {
            let xp = pack.as_ptr().add(b * 512) as *const u8;
            let bs = a.packed_bsums.as_ptr().add((g * a.blocks + b) * 128);
            let bsum = |j: usize| _mm256_loadu_si256(bs.add(8 * j) as *const __m256i);
            let dx = _mm256_loadu_ps(a.d.as_ptr().add(a.bidx(t0, b)));
            let mut isum = [zero; R];
            let mut corr = [zero; R];
            let mut sc = [[0u8; 8]; R];
            let mut mins = [[0u8; 8]; R];
            for r in 0..R {
                let wb = base.add(r * rb + b * bb);
                (sc[r], mins[r]) = q4k_scales_mins(std::slice::from_raw_parts(wb.add(Q4_K_SCALES), 12));
            }
            let dv = rows_f16::<false>(base.add(b * bb), offsets);
            let dminv = rows_f16::<true>(base.add(b * bb), offsets);
            let mut scale = [_mm256_setzero_ps(); R];
            let mut mscale = [_mm256_setzero_ps(); R];
            for r in 0..R {
                scale[r] = _mm256_mul_ps(_mm256_permutevar8x32_ps(dv, lane(r as i32)), dx);
                mscale[r] = _mm256_mul_ps(_mm256_permutevar8x32_ps(dminv, lane(r as i32)), dx);
            }
            for j in 0..8 {
                let bpair = _mm256_add_epi32(bsum(2 * j), bsum(2 * j + 1));
                let mut qv = [zero; R];
                for r in 0..R {
                    let q = load(base.add(r * rb + b * bb + Q4_K_QS + 32 * (j / 2)));
                    qv[r] = if j % 2 == 0 {
                        _mm256_and_si256(q, mask4)
                    } else {
                        _mm256_and_si256(_mm256_srli_epi16(q, 4), mask4)
                    };
                    corr[r] = _mm256_add_epi32(
                        corr[r],
                        _mm256_mullo_epi32(bpair, _mm256_set1_epi32(mins[r][j] as i32)),
                    );
                }
                let mut s = [zero; R];
                for w in 0..8 {
                    let xw = load(xp.add(32 * (8 * j + w)));
                    for r in 0..R {
                        s[r] = D::dot(s[r], _mm256_permutevar8x32_epi32(qv[r], lane(w as i32)), xw);
                    }
                }
                for r in 0..R {
                    isum[r] = _mm256_add_epi32(
                        isum[r],
                        _mm256_mullo_epi32(s[r], _mm256_set1_epi32(sc[r][j] as i32)),
                    );
                }
                // `ggml_gemm_q4_K_8x8_q8_K` adds every 64 elements.
                if j % 2 == 1 {
                    for r in 0..R {
                        acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[r]), scale[r], acc[r]);
                        accm[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(corr[r]), mscale[r], accm[r]);
                        isum[r] = zero;
                        corr[r] = zero;
                    }
                }
            }
        }
        for r in 0..R {
            acc[r] = _mm256_sub_ps(acc[r], accm[r]);
        }
        store_lanes::<R>(&acc, r0, t0, out);
    }
}

/// One Q6_K weight row × 8 activation rows (one per lane), in the form of llama.cpp's tiled
/// K-quant matmul (calls with 8 rows or more): per block `acc = fma(isum·d, dx, acc)`.
#[inline(always)]
unsafe fn tile_tq6k<D: Dot>(data: &[u8], rb: usize, a: &QuantizedActs, pack: &[u32], r: usize, t0: usize, out: Out) {
    let bb = QuantType::Q6_K.block_bytes();
    let g = t0 / 8;
    unsafe {
        let zero = _mm256_setzero_si256();
        let mask4 = _mm256_set1_epi8(0x0F);
        let mask2 = _mm256_set1_epi8(0x03);
        let lane = |j: i32| _mm256_set1_epi32(j);
        let mut acc = _mm256_setzero_ps();
        let base = data.as_ptr().add(r * rb);
        for b in 0..a.blocks {
            let wb = base.add(b * bb);
            let xp = pack.as_ptr().add(b * 512) as *const u8;
            let bs = a.packed_bsums.as_ptr().add((g * a.blocks + b) * 128);
            let bsum = |j: usize| _mm256_loadu_si256(bs.add(8 * j) as *const __m256i);
            let sc = |gi: usize| *wb.add(Q6_K_SCALES + gi) as i8 as i32;
            let mut isum = zero;
            let mut corr = zero;
            for half in 0..2 {
                let qh = load(wb.add(Q6_K_QH + 32 * half));
                for k in 0..4 {
                    let ql = load(wb.add(64 * half + 32 * (k % 2)));
                    let low = if k < 2 {
                        _mm256_and_si256(ql, mask4)
                    } else {
                        _mm256_and_si256(_mm256_srli_epi16(ql, 4), mask4)
                    };
                    let high = match k {
                        0 => _mm256_and_si256(qh, mask2),
                        1 => _mm256_and_si256(_mm256_srli_epi16(qh, 2), mask2),
                        2 => _mm256_and_si256(_mm256_srli_epi16(qh, 4), mask2),
                        _ => _mm256_and_si256(_mm256_srli_epi16(qh, 6), mask2),
                    };
                    let qv = _mm256_or_si256(low, _mm256_slli_epi16(high, 4));
                    for h in 0..2 {
                        let gi = 8 * half + 2 * k + h;
                        let scv = _mm256_set1_epi32(sc(gi));
                        let mut p = zero;
                        for w in 0..4 {
                            let l = 4 * h + w;
                            let xw = load(xp.add(32 * (32 * half + 8 * k + l)));
                            p = D::dot(p, _mm256_permutevar8x32_epi32(qv, lane(l as i32)), xw);
                        }
                        isum = _mm256_add_epi32(isum, _mm256_mullo_epi32(p, scv));
                        corr = _mm256_add_epi32(corr, _mm256_mullo_epi32(bsum(gi), scv));
                    }
                }
            }
            let q = _mm256_cvtepi32_ps(_mm256_sub_epi32(isum, _mm256_slli_epi32(corr, 5)));
            let res = _mm256_mul_ps(q, _mm256_set1_ps(f16_at_ptr(wb.add(Q6_K_D))));
            acc = _mm256_fmadd_ps(res, _mm256_loadu_ps(a.d.as_ptr().add(a.bidx(t0, b))), acc);
        }
        store_lanes::<1>(&[acc], r, t0, out);
    }
}

/// The f16 value at `p` as f32.
///
/// # Safety
/// `p` points at two readable bytes.
#[inline(always)]
unsafe fn f16_at_ptr(p: *const u8) -> f32 {
    // SAFETY: guaranteed by the caller.
    half::f16::from_bits(unsafe { f16_raw(p) }).to_f32()
}
