//! Parsing of the GGUF header: magic, version, metadata key/values, tensor infos, data offset.
//!
//! Every count read from the file is checked against the bytes that remain before anything is
//! allocated for it, and against fixed limits, so a malicious header cannot make the reader
//! allocate much more than the size of the header itself.

use std::collections::HashMap;

use super::error::GgufError;
use super::types::GgmlType;
use super::value::{MetadataArray, MetadataValue, ValueType};
use super::TensorInfo;

/// The default data alignment when `general.alignment` is absent.
pub const DEFAULT_ALIGNMENT: u64 = 32;
/// Largest number of tensors accepted.
const MAX_TENSORS: u64 = 1 << 20;
/// Largest number of metadata key/values accepted.
const MAX_KV: u64 = 1 << 20;
/// Largest number of array elements accepted across all metadata (vocabularies are < 1M).
const MAX_TOTAL_ELEMENTS: u64 = 1 << 24;
/// Largest single string accepted (chat templates and embedded tokenizer JSON fit easily).
const MAX_STRING_LEN: u64 = 1 << 26;
/// Deepest array nesting accepted.
const MAX_DEPTH: usize = 4;
/// Most dimensions a ggml tensor can have.
const MAX_DIMS: u32 = 4;

/// The parsed header of a GGUF file.
pub(crate) struct Header {
    pub version: u32,
    pub metadata: Vec<(String, MetadataValue)>,
    pub metadata_index: HashMap<String, usize>,
    pub tensors: Vec<TensorInfo>,
    pub tensor_index: HashMap<String, usize>,
    pub alignment: u64,
    pub data_offset: u64,
}

struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    elements_left: u64,
}

impl<'a> Cursor<'a> {
    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn take(&mut self, n: u64, what: &'static str) -> Result<&'a [u8], GgufError> {
        if n > self.remaining() as u64 {
            return Err(GgufError::Truncated {
                what,
                offset: self.pos,
                needed: n,
                len: self.buf.len(),
            });
        }
        let n = n as usize;
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], GgufError> {
        let s = self.take(N as u64, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, GgufError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    fn u64(&mut self, what: &'static str) -> Result<u64, GgufError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    /// Reads a count and checks that `count * min_size` bytes can still follow and that it
    /// stays under `limit`.
    fn count(&mut self, what: &'static str, min_size: usize, limit: u64) -> Result<usize, GgufError> {
        let offset = self.pos;
        let count = self.u64(what)?;
        let fits = (self.remaining() / min_size.max(1)) as u64;
        let limit = limit.min(fits);
        if count > limit {
            return Err(GgufError::TooMany { what, count, offset, limit });
        }
        Ok(count as usize)
    }

    fn string(&mut self, what: &'static str) -> Result<String, GgufError> {
        let offset = self.pos;
        let len = self.u64(what)?;
        if len > MAX_STRING_LEN {
            return Err(GgufError::TooMany { what: "string length", count: len, offset, limit: MAX_STRING_LEN });
        }
        let bytes = self.take(len, what)?;
        std::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|_| GgufError::InvalidUtf8 { what, offset })
    }

    fn value_type(&mut self, key: &str) -> Result<ValueType, GgufError> {
        let id = self.u32("metadata value type")?;
        ValueType::from_id(id).ok_or_else(|| GgufError::UnknownValueType { key: key.to_owned(), id })
    }

    fn value(&mut self, ty: ValueType, key: &str, depth: usize) -> Result<MetadataValue, GgufError> {
        const W: &str = "metadata value";
        Ok(match ty {
            ValueType::U8 => MetadataValue::U8(self.array::<1>(W)?[0]),
            ValueType::I8 => MetadataValue::I8(i8::from_le_bytes(self.array(W)?)),
            ValueType::U16 => MetadataValue::U16(u16::from_le_bytes(self.array(W)?)),
            ValueType::I16 => MetadataValue::I16(i16::from_le_bytes(self.array(W)?)),
            ValueType::U32 => MetadataValue::U32(u32::from_le_bytes(self.array(W)?)),
            ValueType::I32 => MetadataValue::I32(i32::from_le_bytes(self.array(W)?)),
            ValueType::F32 => MetadataValue::F32(f32::from_le_bytes(self.array(W)?)),
            ValueType::Bool => MetadataValue::Bool(self.array::<1>(W)?[0] != 0),
            ValueType::String => MetadataValue::String(self.string("metadata string")?),
            ValueType::Array => MetadataValue::Array(self.array_value(key, depth + 1)?),
            ValueType::U64 => MetadataValue::U64(u64::from_le_bytes(self.array(W)?)),
            ValueType::I64 => MetadataValue::I64(i64::from_le_bytes(self.array(W)?)),
            ValueType::F64 => MetadataValue::F64(f64::from_le_bytes(self.array(W)?)),
        })
    }

    fn array_value(&mut self, key: &str, depth: usize) -> Result<MetadataArray, GgufError> {
        if depth > MAX_DEPTH {
            return Err(GgufError::NestingTooDeep { key: key.to_owned(), max: MAX_DEPTH });
        }
        let ty = self.value_type(key)?;
        let n = self.count("array element", ty.min_encoded_size(), self.elements_left)?;
        self.elements_left -= n as u64;
        const W: &str = "array element";
        fn fixed<'a, T, const N: usize>(
            c: &mut Cursor<'a>,
            n: usize,
            f: fn([u8; N]) -> T,
        ) -> Result<Vec<T>, GgufError> {
            let bytes = c.take((n * N) as u64, W)?;
            Ok(bytes
                .chunks_exact(N)
                .map(|ch| {
                    let mut a = [0u8; N];
                    a.copy_from_slice(ch);
                    f(a)
                })
                .collect())
        }
        Ok(match ty {
            ValueType::U8 => MetadataArray::U8(self.take(n as u64, W)?.to_vec()),
            ValueType::I8 => MetadataArray::I8(fixed(self, n, i8::from_le_bytes)?),
            ValueType::U16 => MetadataArray::U16(fixed(self, n, u16::from_le_bytes)?),
            ValueType::I16 => MetadataArray::I16(fixed(self, n, i16::from_le_bytes)?),
            ValueType::U32 => MetadataArray::U32(fixed(self, n, u32::from_le_bytes)?),
            ValueType::I32 => MetadataArray::I32(fixed(self, n, i32::from_le_bytes)?),
            ValueType::F32 => MetadataArray::F32(fixed(self, n, f32::from_le_bytes)?),
            ValueType::Bool => MetadataArray::Bool(self.take(n as u64, W)?.iter().map(|&b| b != 0).collect()),
            ValueType::U64 => MetadataArray::U64(fixed(self, n, u64::from_le_bytes)?),
            ValueType::I64 => MetadataArray::I64(fixed(self, n, i64::from_le_bytes)?),
            ValueType::F64 => MetadataArray::F64(fixed(self, n, f64::from_le_bytes)?),
            ValueType::String => {
                let mut v = Vec::with_capacity(n);
                for _ in 0..n {
                    v.push(self.string("array string")?);
                }
                MetadataArray::String(v)
            }
            ValueType::Array => {
                let mut v = Vec::with_capacity(n);
                for _ in 0..n {
                    v.push(self.array_value(key, depth + 1)?);
                }
                MetadataArray::Array(v)
            }
        })
    }
}

/// Parses the header of a GGUF file held entirely in `buf` (usually a memory map).
pub(crate) fn parse(buf: &[u8]) -> Result<Header, GgufError> {
    let mut c = Cursor { buf, pos: 0, elements_left: MAX_TOTAL_ELEMENTS };
    let magic = c.take(4, "magic").map_err(|_| GgufError::BadMagic { found: buf[..buf.len().min(4)].to_vec() })?;
    if magic != b"GGUF" {
        return Err(GgufError::BadMagic { found: magic.to_vec() });
    }
    let version = c.u32("version")?;
    if version & 0xFFFF == 0 && version != 0 {
        return Err(GgufError::BigEndian);
    }
    if version != 2 && version != 3 {
        return Err(GgufError::UnsupportedVersion(version));
    }
    // Smallest tensor info: name length (8) + n_dims (4) + type (4) + offset (8).
    let n_tensors = {
        let offset = c.pos;
        let n = c.u64("tensor count")?;
        if n > MAX_TENSORS {
            return Err(GgufError::TooMany { what: "tensor", count: n, offset, limit: MAX_TENSORS });
        }
        n
    };
    // Smallest key/value: key length (8) + type (4) + one byte of value.
    let n_kv = c.count("metadata key/value", 13, MAX_KV)?;
    let mut metadata = Vec::with_capacity(n_kv);
    let mut metadata_index = HashMap::with_capacity(n_kv);
    for _ in 0..n_kv {
        let key = c.string("metadata key")?;
        let ty = c.value_type(&key)?;
        let value = c.value(ty, &key, 0)?;
        if metadata_index.insert(key.clone(), metadata.len()).is_some() {
            return Err(GgufError::DuplicateKey(key));
        }
        metadata.push((key, value));
    }
    let min_info = 24;
    if n_tensors > (c.remaining() / min_info) as u64 {
        return Err(GgufError::TooMany {
            what: "tensor",
            count: n_tensors,
            offset: 8,
            limit: (c.remaining() / min_info) as u64,
        });
    }
    let n_tensors = n_tensors as usize;
    let alignment = match metadata_index.get("general.alignment") {
        None => DEFAULT_ALIGNMENT,
        Some(&i) => {
            let v = &metadata[i].1;
            let a = v.as_u64().ok_or_else(|| GgufError::WrongType {
                key: "general.alignment".into(),
                expected: "an unsigned integer",
                found: v.value_type().name(),
            })?;
            if a == 0 || !a.is_power_of_two() || a > 1 << 20 {
                return Err(GgufError::BadAlignment(a));
            }
            a
        }
    };
    let mut tensors = Vec::with_capacity(n_tensors);
    let mut tensor_index = HashMap::with_capacity(n_tensors);
    for _ in 0..n_tensors {
        let name = c.string("tensor name")?;
        let n_dims = c.u32("tensor dimension count")?;
        if n_dims == 0 || n_dims > MAX_DIMS {
            return Err(GgufError::BadShape { name, dims: vec![], reason: "a tensor has 1 to 4 dimensions" });
        }
        let mut dims = Vec::with_capacity(n_dims as usize);
        for _ in 0..n_dims {
            dims.push(c.u64("tensor dimension")?);
        }
        let type_id = c.u32("tensor type")?;
        let offset = c.u64("tensor offset")?;
        let ggml_type = GgmlType::from_id(type_id)
            .ok_or_else(|| GgufError::UnknownTensorType { name: name.clone(), id: type_id })?;
        let info = TensorInfo::new(name, dims, ggml_type, offset)?;
        if !info.offset().is_multiple_of(alignment) {
            return Err(GgufError::Misaligned { name: info.name().to_owned(), offset: info.offset(), alignment });
        }
        if tensor_index.insert(info.name().to_owned(), tensors.len()).is_some() {
            return Err(GgufError::DuplicateTensor(info.name().to_owned()));
        }
        tensors.push(info);
    }
    let data_offset = (c.pos as u64).div_ceil(alignment) * alignment;
    for t in &tensors {
        let start = data_offset.checked_add(t.offset());
        let end = start.and_then(|s| s.checked_add(t.n_bytes()));
        match (start, end) {
            (Some(_), Some(end)) if end <= buf.len() as u64 => {}
            _ => {
                return Err(GgufError::TensorOutOfBounds {
                    name: t.name().to_owned(),
                    start: data_offset.saturating_add(t.offset()),
                    end: data_offset.saturating_add(t.offset()).saturating_add(t.n_bytes()),
                    len: buf.len(),
                });
            }
        }
    }
    Ok(Header { version, metadata, metadata_index, tensors, tensor_index, alignment, data_offset })
}
