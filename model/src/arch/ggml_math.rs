//! The float arithmetic of llama.cpp's CPU backend (ggml on AVX-512), operation for operation.
//!
//! Every activation row is quantized to int8 before each matrix product, and rounding to an
//! int8 step is discontinuous: one last-bit difference in an activation moves some quants to
//! the neighbouring step, and from there two engines drift apart by as much as the int8
//! quantization itself perturbs the model. So where llama.cpp (the reference the parity tests
//! hold us to) has a fixed order of float operations, the host path uses the same one:
//!
//! * `exp` is ggml's polynomial `ggml_v_expf` (not libm's), in SiLU and softmax;
//! * softmax sums its exponentials 16 at a time as `_mm512_reduce_add_ps` does, chunk sums in
//!   f64, and scales by the f32 reciprocal;
//! * `q·k` runs `ggml_vec_dot_f32` (four 16-lane accumulators over 64 elements);
//! * `Σ p·v` runs the order of llama.cpp's `tinyBLAS` (one 16-lane accumulator) for batches and
//!   of `ggml_vec_dot_f32` for one token.
//!
//! Lanes line up with KV-cache positions counted from 0 (llama.cpp keeps masked positions in
//! its sums as exact zeros, so skipped positions change nothing). The functions here are plain
//! Rust; callers build them for AVX2 + FMA where [`has_fma`] says so, so `mul_add` is one
//! instruction.

/// Whether this CPU runs the AVX2 + FMA builds of the host path's loops (`mul_add` is then one
/// instruction instead of a libm call; the results are the same bits either way).
///
/// Each loop that uses these functions has a `#[target_feature(enable = "avx2,fma")]` twin
/// that calls its `#[inline(always)]` body directly. A closure handed to a feature-enabled
/// function is not enough: the compiler may build the closure once, without the features, for
/// both callers (seen: attention 6× slower with `codegen-units = 4`).
#[inline]
pub fn has_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("fma") && std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `x · 2^n` for an integral `n` with |n| ≤ 192, rounded once (AVX-512's `vscalefps`).
#[inline(always)]
fn scalef(x: f32, n: f32) -> f32 {
    let n = n as i32;
    let pow2 = |e: i32| f32::from_bits(((e + 127) as u32) << 23);
    if (-126..=127).contains(&n) {
        x * pow2(n)
    } else if n < 0 {
        (x * pow2(-100)) * pow2(n + 100)
    } else {
        (x * pow2(100)) * pow2(n - 100)
    }
}

/// ggml's `ggml_v_expf` (AVX-512 form) on one value: at most 1.5 ulp from `exp`.
#[inline(always)]
pub fn expf(x: f32) -> f32 {
    const R: f32 = 12_582_912.0; // 0x1.8p23
    let z = x.mul_add(f32::from_bits(0x3FB8_AA3B), R); // log2(e)
    let n = z - R;
    let b = (-n).mul_add(f32::from_bits(0x3F31_7200), x); // ln 2, high part
    let b = (-n).mul_add(f32::from_bits(0x35BF_BE8E), b); // ln 2, low part
    let u = b * b;
    let p = f32::from_bits(0x3C07_2010).mul_add(b, f32::from_bits(0x3D2B_9F17));
    let q = f32::from_bits(0x3E2A_AF33).mul_add(b, f32::from_bits(0x3EFF_FEDB));
    let c = p.mul_add(u, q);
    let d = f32::from_bits(0x3F7F_FFF6).mul_add(b, 1.0);
    let j = c.mul_add(u, d);
    if n.abs() > 192.0 {
        return if n > 0.0 { f32::INFINITY } else { 0.0 };
    }
    if n.is_nan() {
        return f32::NAN;
    }
    scalef(j, n)
}

/// ggml's SiLU, `x / (1 + exp(−x))`.
#[inline(always)]
pub fn silu(x: f32) -> f32 {
    x / (1.0 + expf(-x))
}

/// `_mm512_reduce_add_ps` as GCC implements it: halves added pairwise down to one value.
#[inline(always)]
pub fn reduce16(v: &[f32; 16]) -> f32 {
    let mut t = [0.0f32; 8];
    for i in 0..8 {
        t[i] = v[i + 8] + v[i];
    }
    let u = [t[4] + t[0], t[5] + t[1], t[6] + t[2], t[7] + t[3]];
    (u[0] + u[2]) + (u[1] + u[3])
}

/// Folds `ggml_vec_dot_f32`'s four 16-lane accumulators into one value.
#[inline(always)]
fn fold_four(s: &[[f32; 16]; 4]) -> f32 {
    let mut x = [0.0f32; 16];
    for l in 0..16 {
        x[l] = (s[0][l] + s[2][l]) + (s[1][l] + s[3][l]);
    }
    reduce16(&x)
}

/// `ggml_vec_dot_f32`: `Σ a·b` over whole 64-element steps in four 16-lane fma chains, the rest
/// added one product at a time.
#[inline(always)]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let np = n / 64 * 64;
    let mut s = [[0.0f32; 16]; 4];
    for i in (0..np).step_by(64) {
        for (j, acc) in s.iter_mut().enumerate() {
            let (x, y) = (&a[i + 16 * j..i + 16 * j + 16], &b[i + 16 * j..i + 16 * j + 16]);
            for l in 0..16 {
                acc[l] = x[l].mul_add(y[l], acc[l]);
            }
        }
    }
    let mut r = fold_four(&s);
    for i in np..n {
        r = a[i].mul_add(b[i], r);
    }
    r
}

/// Softmax of `scores`, whose first entry is KV position `first`, in place, as ggml's
/// `soft_max` (its inputs already scaled).
#[inline(always)]
pub fn softmax(scores: &mut [f32], first: usize) {
    let max = scores.iter().fold(f32::NEG_INFINITY, |m, &s| m.max(s));
    for s in scores.iter_mut() {
        *s = expf(*s - max);
    }
    let mut sum = 0.0f64;
    let mut chunk = [0.0f32; 16];
    let mut pos = first;
    let mut rest = scores.iter();
    loop {
        let lane = pos % 16;
        let mut took = false;
        for l in lane..16 {
            match rest.next() {
                Some(&v) => {
                    chunk[l] = v;
                    took = true;
                    pos += 1;
                }
                None => break,
            }
        }
        if !took {
            break;
        }
        sum += reduce16(&chunk) as f64;
        chunk = [0.0; 16];
    }
    let inv = (1.0 / sum) as f32;
    for s in scores.iter_mut() {
        *s *= inv;
    }
}

/// Accumulators of `Σ_j p_j · v_j` (one row of `width` values per position) in the lane layout
/// of one of llama.cpp's two f32 matrix products.
pub struct WeightedSum {
    /// 16 (tinyBLAS) or 64 (`ggml_vec_dot_f32`) rows of `width` partial sums.
    acc: Vec<f32>,
    lanes: usize,
    width: usize,
}

impl WeightedSum {
    /// Zeroed accumulators: `batched` picks tinyBLAS's layout (llama.cpp multiplies a batch of
    /// two or more tokens with it), else `ggml_vec_dot_f32`'s.
    pub fn new(width: usize, batched: bool) -> Self {
        let lanes = if batched { 16 } else { 64 };
        WeightedSum { acc: vec![0.0; lanes * width], lanes, width }
    }

    /// Adds `p · v` for KV position `pos`.
    #[inline(always)]
    pub fn add(&mut self, pos: usize, p: f32, v: &[f32]) {
        let l = pos % self.lanes;
        let row = &mut self.acc[l * self.width..(l + 1) * self.width];
        for (a, &x) in row.iter_mut().zip(v) {
            *a = p.mul_add(x, *a);
        }
    }

    /// Writes the sums into `out` (`width` values) and zeroes the accumulators.
    pub fn finish(&mut self, out: &mut [f32]) {
        let w = self.width;
        for (d, o) in out.iter_mut().enumerate().take(w) {
            if self.lanes == 16 {
                let mut v = [0.0f32; 16];
                for (l, x) in v.iter_mut().enumerate() {
                    *x = self.acc[l * w + d];
                }
                *o = reduce16(&v);
            } else {
                let mut s = [[0.0f32; 16]; 4];
                for (k, acc) in s.iter_mut().enumerate() {
                    for (l, x) in acc.iter_mut().enumerate() {
                        *x = self.acc[(16 * k + l) * w + d];
                    }
                }
                *o = fold_four(&s);
            }
        }
        self.acc.iter_mut().for_each(|a| *a = 0.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expf_is_within_two_ulp_of_exp_and_handles_the_extremes() {
        for i in -2000..=2000 {
            let x = i as f32 * 0.043;
            let (ours, exact) = (expf(x), (x as f64).exp());
            let ulp = (exact as f32).abs() * f32::EPSILON;
            assert!(((ours as f64) - exact).abs() <= 2.0 * ulp as f64 + f64::from(f32::MIN_POSITIVE), "exp({x}) = {ours}, want {exact}");
        }
        assert_eq!(expf(0.0), 1.0);
        assert_eq!(expf(-200.0), 0.0);
        assert_eq!(expf(f32::NEG_INFINITY), 0.0);
        assert_eq!(expf(100.0), f32::INFINITY);
        assert!(expf(-100.0) > 0.0, "results down in the subnormals are kept");
        assert!(expf(f32::NAN).is_nan());
    }

    #[test]
    fn dot_and_weighted_sums_add_up() {
        let a: Vec<f32> = (0..200).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..200).map(|i| (i as f32 * 0.11).cos()).collect();
        let exact: f64 = a.iter().zip(&b).map(|(x, y)| *x as f64 * *y as f64).sum();
        assert!((dot(&a, &b) as f64 - exact).abs() < 1e-4);
        for batched in [false, true] {
            let mut ws = WeightedSum::new(2, batched);
            for (j, (&p, &x)) in a.iter().zip(&b).enumerate() {
                ws.add(j + 3, p, &[x, 2.0 * x]);
            }
            let mut out = [0.0f32; 2];
            ws.finish(&mut out);
            assert!((out[0] as f64 - exact).abs() < 1e-4 && (out[1] as f64 - 2.0 * exact).abs() < 2e-4);
        }
    }

    #[test]
    fn softmax_sums_to_one_from_any_first_position() {
        for first in [0, 5, 16, 31] {
            let mut s: Vec<f32> = (0..37).map(|i| (i as f32 * 0.7).sin() * 4.0).collect();
            softmax(&mut s, first);
            let total: f32 = s.iter().sum();
            assert!((total - 1.0).abs() < 1e-5, "first {first}: {total}");
            assert!(s.iter().all(|&p| p > 0.0));
        }
    }
}
