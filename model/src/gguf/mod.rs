//! GGUF model files: a memory-mapped reader (versions 2 and 3), dequantization to f32, and the
//! way back for exports: our quantizer (F16, Q8_0, Q4_0), a streaming writer, and re-quantizing
//! a whole model.
//!
//! A GGUF file is a header (metadata key/values, then one info record per tensor) followed by
//! the tensor data, each tensor at an offset aligned to `general.alignment`. [`GgufFile::open`]
//! maps the file, parses and validates the whole header (every tensor's bytes must lie inside
//! the file) and then hands out zero-copy [`TensorView`]s into the map. Quantized weights can
//! stay in the map as raw ggml blocks (for the quantized kernels) or be turned into f32 with
//! [`dequantize`].
//!
//! ```no_run
//! use edgecoder_model::gguf::GgufFile;
//! let file = GgufFile::open("model.gguf")?;
//! let arch = file.get_str("general.architecture")?;
//! let layers = file.get_u32(&format!("{arch}.block_count"))?;
//! let norm = file.tensor("output_norm.weight")?.to_f32()?;
//! println!("{arch}: {layers} layers, norm[0] = {}", norm[0]);
//! # Ok::<(), edgecoder_model::gguf::GgufError>(())
//! ```

mod dequant;
mod error;
mod parse;
mod quantize;
mod requantize;
mod types;
mod value;
mod write;

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use memmap2::Mmap;

pub use dequant::{dequantize, dequantize_to_vec, q4_k_scale_min};
pub use error::{DequantError, GgufError};
pub use parse::DEFAULT_ALIGNMENT;
pub use quantize::{QUANTIZE_TYPES, QuantizeError, quantize};
pub use requantize::{RequantizeError, Requantized, requantize};
pub use types::{GgmlType, QK_K};
pub use value::{MetadataArray, MetadataValue, ValueType};
pub use write::{TensorSpec, WriteError, write_gguf};

/// The bytes of an opened file: a read-only memory map, or a buffer (for data that is already
/// in memory, e.g. in tests).
enum Backing {
    Mmap(Mmap),
    Bytes(Vec<u8>),
}

impl Backing {
    fn bytes(&self) -> &[u8] {
        match self {
            Backing::Mmap(m) => m,
            Backing::Bytes(b) => b,
        }
    }
}

/// An opened, validated GGUF file.
///
/// Cheap to share behind an `Arc`: all accessors take `&self` and tensor views borrow from the
/// memory map without copying.
pub struct GgufFile {
    backing: Backing,
    path: Option<PathBuf>,
    version: u32,
    metadata: Vec<(String, MetadataValue)>,
    metadata_index: HashMap<String, usize>,
    tensors: Vec<TensorInfo>,
    tensor_index: HashMap<String, usize>,
    alignment: u64,
    data_offset: u64,
}

impl std::fmt::Debug for GgufFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GgufFile")
            .field("path", &self.path)
            .field("version", &self.version)
            .field("metadata_len", &self.metadata.len())
            .field("tensor_count", &self.tensors.len())
            .field("alignment", &self.alignment)
            .field("data_offset", &self.data_offset)
            .finish()
    }
}

impl GgufFile {
    /// Memory-maps and parses the file at `path`.
    ///
    /// The map is read-only; like every mmap-based reader, the file must not be truncated or
    /// rewritten in place while it is open (the model store only ever replaces files by rename,
    /// which leaves an open map intact).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, GgufError> {
        let path = path.as_ref();
        let _span = tracing::debug_span!("gguf_open", path = %path.display()).entered();
        let io = |source| GgufError::Io { path: path.to_owned(), source };
        let file = File::open(path).map_err(io)?;
        // SAFETY: the map is read-only and private to this struct; the documented contract is
        // that model files are replaced by rename, never modified in place while mapped.
        let mmap = unsafe { Mmap::map(&file) }.map_err(io)?;
        let mut parsed = Self::from_backing(Backing::Mmap(mmap))?;
        parsed.path = Some(path.to_owned());
        tracing::debug!(
            version = parsed.version,
            tensors = parsed.tensors.len(),
            metadata = parsed.metadata.len(),
            "gguf parsed"
        );
        Ok(parsed)
    }

    /// Parses a GGUF file that is already in memory.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, GgufError> {
        Self::from_backing(Backing::Bytes(bytes))
    }

    fn from_backing(backing: Backing) -> Result<Self, GgufError> {
        let h = parse::parse(backing.bytes())?;
        Ok(Self {
            backing,
            path: None,
            version: h.version,
            metadata: h.metadata,
            metadata_index: h.metadata_index,
            tensors: h.tensors,
            tensor_index: h.tensor_index,
            alignment: h.alignment,
            data_offset: h.data_offset,
        })
    }

    /// The path the file was opened from (`None` for [`GgufFile::from_bytes`]).
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The GGUF format version (2 or 3).
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The alignment of tensor data (`general.alignment`, default 32).
    pub fn alignment(&self) -> u64 {
        self.alignment
    }

    /// Absolute file offset where the tensor data section starts.
    pub fn data_offset(&self) -> u64 {
        self.data_offset
    }

    /// Size of the whole file in bytes.
    pub fn file_size(&self) -> u64 {
        self.backing.bytes().len() as u64
    }

    /// All metadata key/values in file order.
    pub fn metadata(&self) -> impl ExactSizeIterator<Item = (&str, &MetadataValue)> {
        self.metadata.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&MetadataValue> {
        self.metadata_index.get(key).map(|&i| &self.metadata[i].1)
    }

    fn typed<'a, T>(
        &'a self,
        key: &str,
        expected: &'static str,
        f: impl FnOnce(&'a MetadataValue) -> Option<T>,
    ) -> Result<T, GgufError> {
        let v = self.get(key).ok_or_else(|| GgufError::MissingKey(key.to_owned()))?;
        f(v).ok_or_else(|| GgufError::WrongType {
            key: key.to_owned(),
            expected,
            found: v.value_type().name(),
        })
    }

    /// An integer value that fits in `u32` (any integer width is accepted).
    pub fn get_u32(&self, key: &str) -> Result<u32, GgufError> {
        self.typed(key, "an integer that fits in u32", MetadataValue::as_u32)
    }

    /// An integer value that fits in `u64` (any integer width is accepted).
    pub fn get_u64(&self, key: &str) -> Result<u64, GgufError> {
        self.typed(key, "an integer that fits in u64", MetadataValue::as_u64)
    }

    /// A float value (`f32`, or `f64` rounded to `f32`).
    pub fn get_f32(&self, key: &str) -> Result<f32, GgufError> {
        self.typed(key, "a float", MetadataValue::as_f32)
    }

    /// A boolean value.
    pub fn get_bool(&self, key: &str) -> Result<bool, GgufError> {
        self.typed(key, "a bool", MetadataValue::as_bool)
    }

    /// A string value.
    pub fn get_str(&self, key: &str) -> Result<&str, GgufError> {
        self.typed(key, "a string", MetadataValue::as_str)
    }

    /// An array value of any element type.
    pub fn get_array(&self, key: &str) -> Result<&MetadataArray, GgufError> {
        self.typed(key, "an array", MetadataValue::as_array)
    }

    /// An array of strings (e.g. `tokenizer.ggml.tokens`, `tokenizer.ggml.merges`).
    pub fn get_str_array(&self, key: &str) -> Result<&[String], GgufError> {
        self.typed(key, "an array of strings", |v| match v.as_array()? {
            MetadataArray::String(s) => Some(s.as_slice()),
            _ => None,
        })
    }

    /// An array of `f32` (e.g. `tokenizer.ggml.scores`).
    pub fn get_f32_array(&self, key: &str) -> Result<&[f32], GgufError> {
        self.typed(key, "an array of f32", |v| match v.as_array()? {
            MetadataArray::F32(s) => Some(s.as_slice()),
            _ => None,
        })
    }

    /// An array of `i32` (e.g. `tokenizer.ggml.token_type`).
    pub fn get_i32_array(&self, key: &str) -> Result<&[i32], GgufError> {
        self.typed(key, "an array of i32", |v| match v.as_array()? {
            MetadataArray::I32(s) => Some(s.as_slice()),
            _ => None,
        })
    }

    /// `general.architecture` (e.g. `"qwen2"`, `"llama"`, `"gemma3"`).
    pub fn architecture(&self) -> Result<&str, GgufError> {
        self.get_str("general.architecture")
    }

    /// All tensor infos in file order.
    pub fn tensors(&self) -> &[TensorInfo] {
        &self.tensors
    }

    /// The info of tensor `name`, if present.
    pub fn tensor_info(&self, name: &str) -> Option<&TensorInfo> {
        self.tensor_index.get(name).map(|&i| &self.tensors[i])
    }

    /// A zero-copy view of tensor `name`.
    pub fn tensor(&self, name: &str) -> Result<TensorView<'_>, GgufError> {
        let info = self.tensor_info(name).ok_or_else(|| GgufError::TensorNotFound(name.to_owned()))?;
        Ok(self.view(info))
    }

    /// Views of all tensors in file order.
    pub fn tensor_views(&self) -> impl ExactSizeIterator<Item = TensorView<'_>> {
        self.tensors.iter().map(|t| self.view(t))
    }

    fn view<'a>(&'a self, info: &'a TensorInfo) -> TensorView<'a> {
        // Bounds were validated when the header was parsed.
        let start = (self.data_offset + info.offset) as usize;
        let data = &self.backing.bytes()[start..start + info.n_bytes as usize];
        TensorView { info, data }
    }
}

/// Where a tensor is and what it holds, as recorded in the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorInfo {
    name: String,
    dims: Vec<u64>,
    ggml_type: GgmlType,
    offset: u64,
    n_elements: u64,
    n_bytes: u64,
}

impl TensorInfo {
    /// Builds and validates an info record: 1–4 non-zero dimensions, a row length that is a
    /// whole number of blocks, and sizes that do not overflow.
    pub(crate) fn new(name: String, dims: Vec<u64>, ggml_type: GgmlType, offset: u64) -> Result<Self, GgufError> {
        let bad = |name: String, dims: Vec<u64>, reason| Err(GgufError::BadShape { name, dims, reason });
        if dims.contains(&0) {
            return bad(name, dims, "a dimension is zero");
        }
        let Some(n_elements) = dims.iter().try_fold(1u64, |a, &d| a.checked_mul(d)) else {
            return bad(name, dims, "the element count overflows");
        };
        if !dims[0].is_multiple_of(ggml_type.block_size() as u64) {
            return bad(name, dims, "the row length is not a multiple of the type's block size");
        }
        let Some(n_bytes) = ggml_type.bytes_for(n_elements).filter(|&b| b <= isize::MAX as u64) else {
            return bad(name, dims, "the byte size overflows");
        };
        Ok(Self { name, dims, ggml_type, offset, n_elements, n_bytes })
    }

    /// The tensor's name (e.g. `blk.0.attn_q.weight`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Dimensions in GGUF order: `dims()[0]` is the innermost (contiguous) one, so a weight
    /// matrix of `n_out` rows of `n_in` values has dims `[n_in, n_out]`.
    pub fn dims(&self) -> &[u64] {
        &self.dims
    }

    /// The element type.
    pub fn ggml_type(&self) -> GgmlType {
        self.ggml_type
    }

    /// Offset of the tensor's data relative to the data section.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Total number of elements.
    pub fn n_elements(&self) -> u64 {
        self.n_elements
    }

    /// Size of the tensor's data in bytes.
    pub fn n_bytes(&self) -> u64 {
        self.n_bytes
    }

    /// Number of elements in one row (`dims()[0]`).
    pub fn row_len(&self) -> usize {
        self.dims[0] as usize
    }

    /// Number of rows (product of all dimensions but the first).
    pub fn n_rows(&self) -> usize {
        (self.n_elements / self.dims[0]) as usize
    }

    /// Bytes in one row (always a whole number of blocks).
    pub fn row_bytes(&self) -> usize {
        self.row_len() / self.ggml_type.block_size() * self.ggml_type.type_size()
    }
}

/// A tensor's info together with its raw bytes in the memory map.
#[derive(Debug, Clone, Copy)]
pub struct TensorView<'a> {
    info: &'a TensorInfo,
    data: &'a [u8],
}

impl<'a> TensorView<'a> {
    /// The tensor's info record.
    pub fn info(&self) -> &'a TensorInfo {
        self.info
    }

    /// The tensor's name.
    pub fn name(&self) -> &'a str {
        &self.info.name
    }

    /// Dimensions in GGUF order (see [`TensorInfo::dims`]).
    pub fn dims(&self) -> &'a [u64] {
        &self.info.dims
    }

    /// The element type.
    pub fn ggml_type(&self) -> GgmlType {
        self.info.ggml_type
    }

    /// The raw data (ggml blocks for quantized types, little-endian scalars otherwise).
    pub fn data(&self) -> &'a [u8] {
        self.data
    }

    /// The raw bytes of row `i`, or `None` if out of range.
    pub fn row(&self, i: usize) -> Option<&'a [u8]> {
        let rb = self.info.row_bytes();
        self.data.get(i.checked_mul(rb)?..i.checked_add(1)?.checked_mul(rb)?)
    }

    /// Dequantizes the whole tensor to a new `Vec<f32>` in GGUF element order.
    pub fn to_f32(&self) -> Result<Vec<f32>, GgufError> {
        dequantize_to_vec(self.info.ggml_type, self.data).map_err(|source| GgufError::Dequant {
            name: self.info.name.clone(),
            source,
        })
    }

    /// Dequantizes row `i` into `out` (`out.len()` must equal [`TensorInfo::row_len`]).
    pub fn dequantize_row(&self, i: usize, out: &mut [f32]) -> Result<(), GgufError> {
        let row = self.row(i).ok_or_else(|| GgufError::RowOutOfRange {
            name: self.info.name.clone(),
            row: i,
            n_rows: self.info.n_rows(),
        })?;
        dequantize(self.info.ggml_type, row, out)
            .map_err(|source| GgufError::Dequant { name: self.info.name.clone(), source })
    }
}
