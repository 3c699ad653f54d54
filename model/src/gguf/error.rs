//! Errors of the GGUF reader and the dequantizers.

use std::path::PathBuf;

use super::types::GgmlType;

/// Why a GGUF file could not be read, or a value in it could not be used.
#[derive(Debug, thiserror::Error)]
pub enum GgufError {
    /// The file could not be opened or mapped.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The first four bytes are not `GGUF`.
    #[error("not a GGUF file: it starts with {found:02x?}, expected the magic \"GGUF\"")]
    BadMagic {
        /// The bytes found instead.
        found: Vec<u8>,
    },
    /// The file was written in big-endian byte order, which we do not read.
    #[error("big-endian GGUF files are not supported (convert with gguf-convert-endian)")]
    BigEndian,
    /// A version other than 2 or 3.
    #[error("unsupported GGUF version {0} (this reader supports versions 2 and 3)")]
    UnsupportedVersion(u32),
    /// The file ends before a structure it announces.
    #[error("truncated GGUF file: {what} needs {needed} bytes at offset {offset}, but the file has {len} bytes")]
    Truncated {
        /// What was being read.
        what: &'static str,
        /// Where it starts.
        offset: usize,
        /// How many bytes it needs.
        needed: u64,
        /// The file's length.
        len: usize,
    },
    /// A count in the header is larger than the file could hold, or than our allocation limit.
    #[error("{what} count {count} at offset {offset} is impossible (limit {limit})")]
    TooMany {
        /// What is being counted.
        what: &'static str,
        /// The count found in the file.
        count: u64,
        /// Where the count was read.
        offset: usize,
        /// The largest count that could be valid there.
        limit: u64,
    },
    /// A metadata value type tag that GGUF does not define.
    #[error("metadata key {key:?}: unknown value type {id}")]
    UnknownValueType {
        /// The key whose value has the tag.
        key: String,
        /// The tag.
        id: u32,
    },
    /// Arrays nested deeper than we accept.
    #[error("metadata key {key:?}: arrays nested deeper than {max} levels")]
    NestingTooDeep {
        /// The key.
        key: String,
        /// The depth limit.
        max: usize,
    },
    /// A string (key, value or tensor name) that is not valid UTF-8.
    #[error("invalid UTF-8 in {what} at offset {offset}")]
    InvalidUtf8 {
        /// What the string is.
        what: &'static str,
        /// Where it starts.
        offset: usize,
    },
    /// The same metadata key appears twice.
    #[error("duplicate metadata key {0:?}")]
    DuplicateKey(String),
    /// The same tensor name appears twice.
    #[error("duplicate tensor name {0:?}")]
    DuplicateTensor(String),
    /// `general.alignment` is not a usable alignment.
    #[error("general.alignment = {0} is not a power of two between 1 and 2^20")]
    BadAlignment(u64),
    /// A tensor type id ggml does not define.
    #[error("tensor {name:?}: unknown ggml tensor type {id}")]
    UnknownTensorType {
        /// The tensor.
        name: String,
        /// The type id.
        id: u32,
    },
    /// A tensor shape we cannot accept.
    #[error("tensor {name:?}: bad shape {dims:?}: {reason}")]
    BadShape {
        /// The tensor.
        name: String,
        /// Its dimensions as stored.
        dims: Vec<u64>,
        /// What is wrong with them.
        reason: &'static str,
    },
    /// A tensor's data offset is not a multiple of the file's alignment.
    #[error("tensor {name:?}: data offset {offset} is not a multiple of the alignment {alignment}")]
    Misaligned {
        /// The tensor.
        name: String,
        /// Its offset relative to the data section.
        offset: u64,
        /// The file's alignment.
        alignment: u64,
    },
    /// A tensor's bytes reach past the end of the file.
    #[error("tensor {name:?}: data [{start}, {end}) lies outside the file ({len} bytes)")]
    TensorOutOfBounds {
        /// The tensor.
        name: String,
        /// Absolute start offset.
        start: u64,
        /// Absolute end offset.
        end: u64,
        /// The file's length.
        len: usize,
    },
    /// A metadata key that is not present.
    #[error("metadata key {0:?} is missing")]
    MissingKey(String),
    /// A metadata key holding a value of another type than asked for.
    #[error("metadata key {key:?} holds {found}, expected {expected}")]
    WrongType {
        /// The key.
        key: String,
        /// What the caller asked for.
        expected: &'static str,
        /// What the file holds.
        found: &'static str,
    },
    /// A tensor name that is not in the file.
    #[error("tensor {0:?} is not in the file")]
    TensorNotFound(String),
    /// A row index past the last row of a tensor.
    #[error("tensor {name:?}: row {row} is out of range ({n_rows} rows)")]
    RowOutOfRange {
        /// The tensor.
        name: String,
        /// The row asked for.
        row: usize,
        /// Rows in the tensor.
        n_rows: usize,
    },
    /// A tensor's data could not be dequantized.
    #[error("tensor {name:?}: {source}")]
    Dequant {
        /// The tensor.
        name: String,
        /// Why.
        source: DequantError,
    },
}

/// Why a buffer could not be dequantized.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DequantError {
    /// The type has no dequantizer here.
    #[error("dequantization of {0} is not supported (supported: F32, F16, BF16, Q8_0, Q5_0, Q4_0, Q4_1, Q4_K, Q5_K, Q6_K)")]
    Unsupported(GgmlType),
    /// The input is not a whole number of blocks.
    #[error("{ty}: {len} input bytes is not a whole number of {type_size}-byte blocks")]
    PartialBlock {
        /// The type.
        ty: GgmlType,
        /// Input length in bytes.
        len: usize,
        /// Bytes per block.
        type_size: usize,
    },
    /// The output slice does not have one slot per element of the input.
    #[error("{ty}: input holds {expected} elements but the output has room for {got}")]
    OutputLength {
        /// The type.
        ty: GgmlType,
        /// Elements in the input.
        expected: usize,
        /// Length of the output slice.
        got: usize,
    },
}
