//! Splits a matmul over threads (by output rows) and over cache-sized groups of tokens, and
//! sends each rectangle to the chosen instruction-set path.

use std::ops::Range;

use std::sync::Mutex;

use super::act::{ActFormat, QuantizedActs};
use super::{Isa, Kernels, QuantMatrix, QuantType, scalar};

/// Activation rows processed together while a slice of weight rows stays in cache.
const TOKEN_CHUNK: usize = 64;
/// Output rows are handed out in multiples of this (a multiple of every SIMD row tile).
const ROW_ALIGN: usize = 16;
/// Row chunks per thread (a little slack so a busy core does not hold everyone up).
const CHUNKS_PER_THREAD: usize = 4;
/// Calls that touch fewer weight bytes (× activation rows) than this run on the calling thread:
/// waking a worker would cost more than it saves.
const INLINE_BYTES: usize = 128 * 1024;
/// Activation quantizations of fewer elements than this run on the calling thread.
const INLINE_ELEMENTS: usize = 32 * 1024;
/// Weight bytes per row chunk in batched calls: small enough to stay in L2 while every group of
/// activation rows passes over it.
const CHUNK_BYTES: usize = 192 * 1024;

/// Write access to `y` (`n × ld`, row-major) shared by the tasks of one call.
#[derive(Clone, Copy)]
pub struct Out {
    ptr: *mut f32,
    ld: usize,
}

// SAFETY: `Out` is only a pointer into the caller's `y`, which outlives the parallel section;
// every task writes a disjoint set of (token, row) cells (see `matmul_acts`), and nobody reads.
unsafe impl Send for Out {}
// SAFETY: as above.
unsafe impl Sync for Out {}

impl Out {
    /// Writes output `(t, r)`.
    ///
    /// # Safety
    /// `t < n`, `r < ld`, and no other thread writes the same cell.
    #[inline(always)]
    pub unsafe fn write(self, t: usize, r: usize, v: f32) {
        // SAFETY: the caller guarantees the cell is in bounds and exclusively ours.
        unsafe { *self.ptr.add(t * self.ld + r) = v };
    }
}

#[allow(clippy::single_range_in_vec_init)] // one chunk holding every row, on purpose
/// Row ranges handed to the threads: a few per thread, and for batched calls (`n > 1`) small
/// enough that a chunk's weights (`row_bytes` each) stay in cache.
fn row_chunks(rows: usize, threads: usize, n: usize, row_bytes: usize) -> Vec<Range<usize>> {
    let by_cache = if n > 1 { (rows * row_bytes).div_ceil(CHUNK_BYTES) } else { 1 };
    let by_threads = if threads == 1 { 1 } else { threads * CHUNKS_PER_THREAD };
    let want = by_cache.max(by_threads);
    if want == 1 {
        return vec![0..rows];
    }
    let per = rows.div_ceil(want).div_ceil(ROW_ALIGN) * ROW_ALIGN;
    (0..rows).step_by(per.max(ROW_ALIGN)).map(|s| s..(s + per).min(rows)).collect()
}

/// Runs `f` on every item. The calling thread takes part (it starts at once, with no wake-up
/// to wait for) and `threads − 1` pool workers join it; everyone takes the next item from a
/// shared queue, so a core that is busy elsewhere just takes fewer. Inside
/// [`Kernels::install`] the caller is itself a worker and takes back helper jobs that no other
/// worker started, so it never waits for a descheduled one.
pub(crate) fn run_parallel<T: Send>(k: &Kernels, items: Vec<T>, f: impl Fn(T) + Sync) {
    match &k.pool {
        Some(pool) if items.len() > 1 => {
            let helpers = k.threads.min(items.len()) - 1;
            let queue = Mutex::new(items.into_iter());
            let work = || {
                loop {
                    // A panic elsewhere cannot leave the iterator half-updated: take it anyway.
                    let item = queue.lock().unwrap_or_else(|e| e.into_inner()).next();
                    match item {
                        Some(item) => f(item),
                        None => break,
                    }
                }
            };
            pool.in_place_scope(|s| {
                for _ in 0..helpers {
                    s.spawn(|_| work());
                }
                work();
            });
        }
        _ => items.into_iter().for_each(f),
    }
}

/// Runs `f` on every row chunk of `m` (on the calling thread alone for small calls).
fn for_each_chunk(k: &Kernels, m: &QuantMatrix, n: usize, f: impl Fn(Range<usize>) + Sync) {
    let chunks = row_chunks(m.rows(), k.threads, n, m.row_bytes());
    if m.data().len().saturating_mul(n) < INLINE_BYTES {
        chunks.into_iter().for_each(f);
    } else {
        run_parallel(k, chunks, f);
    }
}

/// Quantizes activations for `format`, groups of 8 rows spread over the threads when there
/// are enough of them to be worth it.
pub(crate) fn quantize(k: &Kernels, format: ActFormat, x: &[f32], n: usize, cols: usize) -> QuantizedActs {
    if n * cols < INLINE_ELEMENTS {
        return QuantizedActs::quantize(format, x, n, cols);
    }
    QuantizedActs::quantize_with(format, x, n, cols, |groups, f| run_parallel(k, groups, f))
}

/// `y = x·Wᵀ` for f32 `x` (`n × cols`).
pub fn matmul(k: &Kernels, m: &QuantMatrix, x: &[f32], n: usize, y: &mut [f32]) {
    match m.ty().act_format() {
        Some(format) => {
            let a = quantize(k, format, x, n, m.cols());
            matmul_acts(k, m, &a, y);
        }
        None => {
            let out = Out { ptr: y.as_mut_ptr(), ld: m.rows() };
            let (ty, data, rb, cols) = (m.ty(), m.data(), m.row_bytes(), m.cols());
            for_each_chunk(k, m, n, |rows| {
                scalar::run_float(ty, data, rb, x, cols, rows, 0..n, out)
            });
        }
    }
}

/// `y = A·Wᵀ` for activations already quantized to the matrix's format.
pub fn matmul_acts(k: &Kernels, m: &QuantMatrix, a: &QuantizedActs, y: &mut [f32]) {
    let out = Out { ptr: y.as_mut_ptr(), ld: m.rows() };
    let (ty, data, rb, isa) = (m.ty(), m.data(), m.row_bytes(), k.isa);
    for_each_chunk(k, m, a.n, |rows| {
        let mut t0 = 0;
        while t0 < a.n {
            let t1 = (t0 + TOKEN_CHUNK).min(a.n);
            run_rect(isa, ty, data, rb, a, rows.clone(), t0..t1, out);
            t0 = t1;
        }
    });
}

/// One rectangle of outputs on the chosen path.
#[allow(clippy::too_many_arguments)]
fn run_rect(
    isa: Isa,
    ty: QuantType,
    data: &[u8],
    rb: usize,
    a: &QuantizedActs,
    rows: Range<usize>,
    tokens: Range<usize>,
    out: Out,
) {
    match isa {
        Isa::Scalar => scalar::run_quant(ty, data, rb, a, rows, tokens, out),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 | Isa::Avx512Vnni => super::x86::run_quant(isa, ty, data, rb, a, rows, tokens, out),
        #[cfg(not(target_arch = "x86_64"))]
        _ => scalar::run_quant(ty, data, rb, a, rows, tokens, out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_chunks_cover_every_row_once() {
        for rows in [1, 15, 16, 17, 128, 896, 4864, 151_936] {
            for (threads, n) in [(1, 1), (2, 1), (3, 1), (8, 1), (1, 512), (2, 64)] {
                let c = row_chunks(rows, threads, n, 616);
                assert_eq!(c.first().unwrap().start, 0);
                assert_eq!(c.last().unwrap().end, rows);
                for w in c.windows(2) {
                    assert_eq!(w[0].end, w[1].start);
                    assert_eq!(w[0].start % ROW_ALIGN, 0);
                }
            }
        }
    }
}
