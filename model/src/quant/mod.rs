//! Quantized matrix kernels on raw GGUF blocks: `y = W·x` (decode) and `Y = X·Wᵀ` (prefill).
//!
//! Weights stay in their GGUF block format ([`QuantMatrix`], borrowed from the file's mmap or
//! owned). Each activation row is quantized once to int8 blocks the way llama.cpp does (Q8_0 /
//! Q8_1 for 32-element weight blocks, Q8_K for K-quants), then integer dot products run per
//! block and are combined in f32. Three code paths compute the same bits:
//! [`Isa::Scalar`] (portable reference), [`Isa::Avx2`] and [`Isa::Avx512Vnni`], chosen at run
//! time with `is_x86_feature_detected!`. Decode (one activation row) runs tiles of 8 weight
//! rows with a software prefetch that streams the weights; batches of 8 or more rows run one
//! activation row per vector lane, so weight blocks are unpacked once per 8 rows and no
//! horizontal sums are needed. Work is split over output rows between the calling thread and
//! a small persistent rayon pool owned by [`Kernels`].
//!
//! Integration with Burn: take the activations as an f32 slice (`[tokens, cols]`, row-major),
//! call [`QuantMatrix::matmul`], and wrap the `[tokens, rows]` result back into a tensor; to
//! share one quantization between matrices that read the same input (Q/K/V, gate/up), use
//! [`QuantMatrix::quantize_input`] once and [`QuantMatrix::matmul_quantized`] per matrix.
//!
//! ```
//! use edgecoder_model::quant::{Kernels, QuantMatrix, QuantType};
//! // A 2×32 Q8_0 matrix: each row is one block (f16 scale 1.0, quants 0..32 and all 1s).
//! let mut raw = Vec::new();
//! raw.extend_from_slice(&half::f16::from_f32(1.0).to_bits().to_le_bytes());
//! raw.extend((0..32u8).map(|q| q));
//! raw.extend_from_slice(&half::f16::from_f32(1.0).to_bits().to_le_bytes());
//! raw.extend(std::iter::repeat(1u8).take(32));
//! let w = QuantMatrix::new(QuantType::Q8_0, 2, 32, raw).unwrap();
//! let k = Kernels::new(1).unwrap();
//! let x = vec![1.0f32; 32];
//! let mut y = [0.0f32; 2];
//! w.matvec(&k, &x, &mut y).unwrap();
//! assert!((y[0] - 496.0).abs() < 1.0 && (y[1] - 32.0).abs() < 0.1);
//! ```

pub mod act;
pub mod blocks;
mod driver;
pub mod scalar;
#[cfg(target_arch = "x86_64")]
mod x86;

use std::fmt;

use bytes::Bytes;

use crate::gguf::GgmlType;

pub use act::{ActFormat, QuantizedActs};

/// Errors from building a [`QuantMatrix`], a [`Kernels`] context, or calling a kernel.
#[derive(Debug, thiserror::Error)]
pub enum QuantError {
    /// The ggml type has no kernel here.
    #[error("no matmul kernel for ggml type {0}")]
    UnsupportedType(String),
    /// The row length is not a whole number of blocks of the type.
    #[error("{ty} needs rows that are a multiple of {block} elements, got {cols} columns")]
    RaggedRow {
        /// The weight type.
        ty: QuantType,
        /// Elements per block of the type.
        block: usize,
        /// Columns asked for.
        cols: usize,
    },
    /// The raw bytes do not have the size `rows × cols` of this type needs.
    #[error("{ty} {rows}×{cols} needs {expected} bytes, got {actual}")]
    DataSize {
        /// The weight type.
        ty: QuantType,
        /// Rows.
        rows: usize,
        /// Columns.
        cols: usize,
        /// Bytes needed.
        expected: usize,
        /// Bytes given.
        actual: usize,
    },
    /// An input or output slice has the wrong length.
    #[error("{what}: expected {expected} elements, got {actual}")]
    Shape {
        /// Which argument.
        what: &'static str,
        /// Elements needed.
        expected: usize,
        /// Elements given.
        actual: usize,
    },
    /// The requested instruction set is not available on this CPU.
    #[error("instruction set {0} is not available on this CPU")]
    IsaUnavailable(Isa),
    /// Zero threads, or the thread pool could not be started.
    #[error("thread pool: {0}")]
    Threads(String),
}

/// Weight formats that have a kernel: the GGUF types of the models we ship.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(non_camel_case_types)]
pub enum QuantType {
    /// f32 (kernel on f32 activations, no quantization).
    F32,
    /// f16 (kernel on f32 activations, no quantization).
    F16,
    /// ggml `Q4_0` (against Q8_0 activations).
    Q4_0,
    /// ggml `Q4_1` (against Q8_1 activations).
    Q4_1,
    /// ggml `Q5_0` (against Q8_0 activations).
    Q5_0,
    /// ggml `Q8_0` (against Q8_0 activations).
    Q8_0,
    /// ggml `Q4_K` (against Q8_K activations).
    Q4_K,
    /// ggml `Q6_K` (against Q8_K activations).
    Q6_K,
}

impl QuantType {
    /// All types with a kernel.
    pub const ALL: [QuantType; 8] = [
        QuantType::F32,
        QuantType::F16,
        QuantType::Q4_0,
        QuantType::Q4_1,
        QuantType::Q5_0,
        QuantType::Q8_0,
        QuantType::Q4_K,
        QuantType::Q6_K,
    ];

    /// Maps a ggml type id (as stored in GGUF tensor infos) to a kernel type.
    pub fn from_ggml_id(id: u32) -> Result<Self, QuantError> {
        GgmlType::from_id(id)
            .ok_or_else(|| QuantError::UnsupportedType(format!("id {id}")))?
            .try_into()
    }

    /// The ggml type (whose table gives the block geometry).
    pub fn ggml(self) -> GgmlType {
        match self {
            QuantType::F32 => GgmlType::F32,
            QuantType::F16 => GgmlType::F16,
            QuantType::Q4_0 => GgmlType::Q4_0,
            QuantType::Q4_1 => GgmlType::Q4_1,
            QuantType::Q5_0 => GgmlType::Q5_0,
            QuantType::Q8_0 => GgmlType::Q8_0,
            QuantType::Q4_K => GgmlType::Q4_K,
            QuantType::Q6_K => GgmlType::Q6_K,
        }
    }

    /// The ggml type id.
    pub fn ggml_id(self) -> u32 {
        self.ggml().id()
    }

    /// Elements per block (1 for float types).
    pub fn block_len(self) -> usize {
        self.ggml().block_size()
    }

    /// Bytes per block.
    pub fn block_bytes(self) -> usize {
        self.ggml().type_size()
    }

    /// The int8 format activations are quantized to for this weight type (`None` for floats).
    pub fn act_format(self) -> Option<ActFormat> {
        match self {
            QuantType::F32 | QuantType::F16 => None,
            QuantType::Q4_0 | QuantType::Q5_0 | QuantType::Q8_0 => Some(ActFormat::Q8_0),
            QuantType::Q4_1 => Some(ActFormat::Q8_1),
            QuantType::Q4_K | QuantType::Q6_K => Some(ActFormat::Q8K),
        }
    }

    /// The ggml name (`"Q4_K"`, ...).
    pub fn name(self) -> &'static str {
        self.ggml().name()
    }
}

impl TryFrom<GgmlType> for QuantType {
    type Error = QuantError;

    fn try_from(t: GgmlType) -> Result<Self, QuantError> {
        QuantType::ALL
            .into_iter()
            .find(|q| q.ggml() == t)
            .ok_or_else(|| QuantError::UnsupportedType(t.name().to_string()))
    }
}

impl fmt::Display for QuantType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The instruction set a [`Kernels`] context runs its integer dot products with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Isa {
    /// Portable Rust; the reference.
    Scalar,
    /// AVX2 + FMA + F16C (`vpmaddubsw` dot products).
    Avx2,
    /// AVX-512 (F, BW, VL) + VNNI (`vpdpbusd` dot products on 256-bit vectors) + FMA + F16C.
    Avx512Vnni,
}

impl Isa {
    /// Whether this CPU can run the path.
    pub fn is_available(self) -> bool {
        match self {
            Isa::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => {
                is_x86_feature_detected!("avx2")
                    && is_x86_feature_detected!("fma")
                    && is_x86_feature_detected!("f16c")
            }
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512Vnni => {
                Isa::Avx2.is_available()
                    && is_x86_feature_detected!("avx512f")
                    && is_x86_feature_detected!("avx512bw")
                    && is_x86_feature_detected!("avx512vl")
                    && is_x86_feature_detected!("avx512vnni")
            }
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    /// The fastest path this CPU can run.
    pub fn best() -> Isa {
        [Isa::Avx512Vnni, Isa::Avx2]
            .into_iter()
            .find(|i| i.is_available())
            .unwrap_or(Isa::Scalar)
    }

    /// Every path this CPU can run, reference first.
    pub fn available() -> Vec<Isa> {
        [Isa::Scalar, Isa::Avx2, Isa::Avx512Vnni]
            .into_iter()
            .filter(|i| i.is_available())
            .collect()
    }
}

impl fmt::Display for Isa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Isa::Scalar => "scalar",
            Isa::Avx2 => "avx2",
            Isa::Avx512Vnni => "avx512-vnni",
        })
    }
}

/// How the kernels run: the instruction set and the worker threads (a persistent rayon pool;
/// the calling thread takes part in every call).
///
/// Create one per engine and share it; every call splits its output rows over the threads.
/// Calls from several threads at once are fine (they share the workers).
pub struct Kernels {
    isa: Isa,
    threads: usize,
    pool: Option<rayon::ThreadPool>,
}

impl fmt::Debug for Kernels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Kernels")
            .field("isa", &self.isa)
            .field("threads", &self.threads)
            .finish()
    }
}

impl Kernels {
    /// The fastest instruction set of this CPU on `threads` threads (1 runs on the caller).
    pub fn new(threads: usize) -> Result<Self, QuantError> {
        Self::with_isa(Isa::best(), threads)
    }

    /// A given instruction set on `threads` threads; an error if the CPU lacks it.
    pub fn with_isa(isa: Isa, threads: usize) -> Result<Self, QuantError> {
        if !isa.is_available() {
            return Err(QuantError::IsaUnavailable(isa));
        }
        if threads == 0 {
            return Err(QuantError::Threads("at least one thread is needed".into()));
        }
        // Calls from outside the pool use the calling thread and `threads − 1` workers; calls
        // from inside `Kernels::install` run on a worker, hence `threads` of them.
        let pool = if threads > 1 {
            Some(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .thread_name(|i| format!("quant-{i}"))
                    .build()
                    .map_err(|e| QuantError::Threads(e.to_string()))?,
            )
        } else {
            None
        };
        Ok(Kernels { isa, threads, pool })
    }

    /// The instruction set in use.
    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// Number of threads.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Runs `f` on every item, spread over the kernel threads (the caller takes part); for
    /// work outside the matrix kernels that splits into independent pieces (attention heads).
    pub fn for_each<T: Send>(&self, items: Vec<T>, f: impl Fn(T) + Sync) {
        driver::run_parallel(self, items, f);
    }

    /// Runs `f` on one of the kernel threads and returns its result. Kernel calls made inside
    /// (e.g. a whole forward pass) never wait for a sleeping or descheduled worker: a worker
    /// that is not there in time leaves its share to the caller, which takes it back. Calls
    /// from outside work too, but must wait for every worker they woke.
    pub fn install<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        match &self.pool {
            Some(pool) => pool.install(f),
            None => f(),
        }
    }
}

/// A 2-D weight matrix in a GGUF block format: `rows` rows of `cols` elements, each row a run of
/// whole blocks (ggml's layout: `ne0 = cols`, `ne1 = rows`).
#[derive(Clone)]
pub struct QuantMatrix {
    ty: QuantType,
    rows: usize,
    cols: usize,
    data: Bytes,
}

impl fmt::Debug for QuantMatrix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QuantMatrix")
            .field("ty", &self.ty)
            .field("rows", &self.rows)
            .field("cols", &self.cols)
            .finish()
    }
}

impl QuantMatrix {
    /// Wraps raw block bytes. Use `Bytes::from_owner(mmap).slice(range)` to borrow a tensor
    /// from a memory-mapped file without copying, or pass a `Vec<u8>` to own it.
    pub fn new(
        ty: QuantType,
        rows: usize,
        cols: usize,
        data: impl Into<Bytes>,
    ) -> Result<Self, QuantError> {
        let data = data.into();
        let block = ty.block_len();
        if cols == 0 || !cols.is_multiple_of(block) {
            return Err(QuantError::RaggedRow { ty, block, cols });
        }
        let expected = (cols / block)
            .checked_mul(ty.block_bytes())
            .and_then(|rb| rb.checked_mul(rows))
            .ok_or(QuantError::DataSize { ty, rows, cols, expected: usize::MAX, actual: data.len() })?;
        if data.len() != expected {
            return Err(QuantError::DataSize { ty, rows, cols, expected, actual: data.len() });
        }
        Ok(QuantMatrix { ty, rows, cols, data })
    }

    /// The weight format.
    pub fn ty(&self) -> QuantType {
        self.ty
    }

    /// Number of rows (outputs).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns (inputs).
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Bytes per row.
    pub fn row_bytes(&self) -> usize {
        self.cols / self.ty.block_len() * self.ty.block_bytes()
    }

    /// The raw block bytes, row after row.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// `y = W·x`: `x` has `cols` elements, `y` gets `rows`.
    pub fn matvec(&self, k: &Kernels, x: &[f32], y: &mut [f32]) -> Result<(), QuantError> {
        self.matmul(k, x, 1, y)
    }

    /// `Y = X·Wᵀ` for `n` activation rows: `x` is `n × cols` row-major, `y` gets `n × rows`
    /// row-major (row `t` of `y` is `W·x_t`). Weight loads are shared across the rows of `x`.
    pub fn matmul(&self, k: &Kernels, x: &[f32], n: usize, y: &mut [f32]) -> Result<(), QuantError> {
        check_len("x", n.saturating_mul(self.cols), x.len())?;
        check_len("y", n.saturating_mul(self.rows), y.len())?;
        if n == 0 {
            return Ok(());
        }
        driver::matmul(k, self, x, n, y);
        Ok(())
    }

    /// Like [`QuantMatrix::matmul`] on activations already quantized with
    /// [`QuantMatrix::quantize_input`] (to share one quantization between matrices of the same
    /// format and width, e.g. Q, K and V).
    pub fn matmul_quantized(
        &self,
        k: &Kernels,
        a: &QuantizedActs,
        y: &mut [f32],
    ) -> Result<(), QuantError> {
        let Some(format) = self.ty.act_format() else {
            return Err(QuantError::UnsupportedType(format!(
                "{} takes f32 activations; use matmul",
                self.ty
            )));
        };
        if a.format != format {
            return Err(QuantError::UnsupportedType(format!(
                "{} needs {format:?} activations, got {:?}",
                self.ty, a.format
            )));
        }
        check_len("activation columns", self.cols, a.cols)?;
        check_len("y", a.n * self.rows, y.len())?;
        driver::matmul_acts(k, self, a, y);
        Ok(())
    }

    /// Quantizes `n` activation rows (`n × cols`) into this matrix's int8 activation format,
    /// on the threads of `k`.
    pub fn quantize_input(
        &self,
        k: &Kernels,
        x: &[f32],
        n: usize,
    ) -> Result<QuantizedActs, QuantError> {
        check_len("x", n.saturating_mul(self.cols), x.len())?;
        let Some(format) = self.ty.act_format() else {
            return Err(QuantError::UnsupportedType(format!(
                "{} takes f32 activations",
                self.ty
            )));
        };
        Ok(driver::quantize(k, format, x, n, self.cols))
    }
}

fn check_len(what: &'static str, expected: usize, actual: usize) -> Result<(), QuantError> {
    if expected != actual {
        return Err(QuantError::Shape { what, expected, actual });
    }
    Ok(())
}
