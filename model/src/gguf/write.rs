//! Writing GGUF v3 files: the metadata, one info record per tensor, then each tensor's bytes at
//! an offset aligned to `general.alignment`, as [`super::GgufFile`] and llama.cpp read them.
//! Tensors are produced one at a time while the file is written, so a model never has to be
//! held in memory whole; the file appears only when it is complete (written beside its final
//! name, then renamed).

use std::io::{BufWriter, Write};
use std::path::Path;

use super::value::{MetadataArray, MetadataValue};
use super::{DEFAULT_ALIGNMENT, GgmlType};

/// Why a file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// Writing failed (the cause follows in the error's source).
    #[error("cannot write {path}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A tensor's shape does not fit its type, or its bytes do not fit its shape.
    #[error("tensor {name}: {why}")]
    Tensor {
        /// The tensor.
        name: String,
        /// What is wrong.
        why: String,
    },
    /// The producer of a tensor's bytes failed.
    #[error("tensor {name}: {why}")]
    Producer {
        /// The tensor.
        name: String,
        /// Why.
        why: String,
    },
}

/// A tensor to be written: its name, shape (ggml order, fastest dimension first) and type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorSpec {
    /// Its name.
    pub name: String,
    /// Its dimensions, fastest first.
    pub dims: Vec<u64>,
    /// Its type.
    pub ty: GgmlType,
}

impl TensorSpec {
    fn bytes(&self) -> Result<u64, WriteError> {
        let elements = self.dims.iter().try_fold(1u64, |n, &d| n.checked_mul(d));
        elements.and_then(|n| self.ty.bytes_for(n)).ok_or_else(|| WriteError::Tensor {
            name: self.name.clone(),
            why: format!("{:?} is not a whole number of {} blocks of {}", self.dims, self.ty, self.ty.block_size()),
        })
    }
}

/// Writes a GGUF v3 file at `path` with `metadata` and `tensors`, asking `produce(i)` for the
/// bytes of tensor `i` in order. `general.alignment` in `metadata` sets the alignment (32 when
/// absent).
pub fn write_gguf(
    path: &Path,
    metadata: &[(String, MetadataValue)],
    tensors: &[TensorSpec],
    mut produce: impl FnMut(usize) -> Result<Vec<u8>, String>,
) -> Result<(), WriteError> {
    let io = |source: std::io::Error| WriteError::Io { path: path.display().to_string(), source };
    let alignment = metadata
        .iter()
        .find(|(key, _)| key == "general.alignment")
        .and_then(|(_, value)| value.as_u32())
        .map_or(DEFAULT_ALIGNMENT, u64::from)
        .max(1);
    let mut header = Vec::new();
    header.extend_from_slice(b"GGUF");
    header.extend_from_slice(&3u32.to_le_bytes());
    header.extend_from_slice(&(tensors.len() as u64).to_le_bytes());
    header.extend_from_slice(&(metadata.len() as u64).to_le_bytes());
    for (key, value) in metadata {
        put_str(&mut header, key);
        header.extend_from_slice(&value_type_id(value).to_le_bytes());
        put_value(&mut header, value);
    }
    let mut sizes = Vec::with_capacity(tensors.len());
    let mut offset = 0u64;
    for tensor in tensors {
        let size = tensor.bytes()?;
        put_str(&mut header, &tensor.name);
        header.extend_from_slice(&(tensor.dims.len() as u32).to_le_bytes());
        for d in &tensor.dims {
            header.extend_from_slice(&d.to_le_bytes());
        }
        header.extend_from_slice(&tensor.ty.id().to_le_bytes());
        header.extend_from_slice(&offset.to_le_bytes());
        sizes.push(size);
        offset = (offset + size).next_multiple_of(alignment);
    }
    header.resize((header.len() as u64).next_multiple_of(alignment) as usize, 0);

    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let partial = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
    let mut out = BufWriter::with_capacity(1 << 20, partial.as_file());
    out.write_all(&header).map_err(io)?;
    for (i, (tensor, size)) in tensors.iter().zip(&sizes).enumerate() {
        let bytes = produce(i).map_err(|why| WriteError::Producer { name: tensor.name.clone(), why })?;
        if bytes.len() as u64 != *size {
            return Err(WriteError::Tensor { name: tensor.name.clone(), why: format!("{} bytes given, its shape needs {size}", bytes.len()) });
        }
        out.write_all(&bytes).map_err(io)?;
        let padding = size.next_multiple_of(alignment) - size;
        if i + 1 < tensors.len() {
            out.write_all(&vec![0u8; padding as usize]).map_err(io)?;
        }
    }
    out.flush().map_err(io)?;
    drop(out);
    partial.as_file().sync_all().map_err(io)?;
    partial.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn value_type_id(value: &MetadataValue) -> u32 {
    value.value_type().id()
}

fn put_value(out: &mut Vec<u8>, value: &MetadataValue) {
    match value {
        MetadataValue::U8(v) => out.push(*v),
        MetadataValue::I8(v) => out.push(*v as u8),
        MetadataValue::U16(v) => out.extend_from_slice(&v.to_le_bytes()),
        MetadataValue::I16(v) => out.extend_from_slice(&v.to_le_bytes()),
        MetadataValue::U32(v) => out.extend_from_slice(&v.to_le_bytes()),
        MetadataValue::I32(v) => out.extend_from_slice(&v.to_le_bytes()),
        MetadataValue::F32(v) => out.extend_from_slice(&v.to_le_bytes()),
        MetadataValue::Bool(v) => out.push(u8::from(*v)),
        MetadataValue::String(v) => put_str(out, v),
        MetadataValue::Array(v) => put_array(out, v),
        MetadataValue::U64(v) => out.extend_from_slice(&v.to_le_bytes()),
        MetadataValue::I64(v) => out.extend_from_slice(&v.to_le_bytes()),
        MetadataValue::F64(v) => out.extend_from_slice(&v.to_le_bytes()),
    }
}

fn put_array(out: &mut Vec<u8>, array: &MetadataArray) {
    out.extend_from_slice(&array.element_type().id().to_le_bytes());
    out.extend_from_slice(&(array.len() as u64).to_le_bytes());
    match array {
        MetadataArray::U8(v) => out.extend_from_slice(v),
        MetadataArray::I8(v) => out.extend(v.iter().map(|x| *x as u8)),
        MetadataArray::U16(v) => v.iter().for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        MetadataArray::I16(v) => v.iter().for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        MetadataArray::U32(v) => v.iter().for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        MetadataArray::I32(v) => v.iter().for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        MetadataArray::F32(v) => v.iter().for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        MetadataArray::Bool(v) => out.extend(v.iter().map(|x| u8::from(*x))),
        MetadataArray::String(v) => v.iter().for_each(|s| put_str(out, s)),
        MetadataArray::Array(v) => v.iter().for_each(|a| put_array(out, a)),
        MetadataArray::U64(v) => v.iter().for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        MetadataArray::I64(v) => v.iter().for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        MetadataArray::F64(v) => v.iter().for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gguf::GgufFile;

    #[test]
    fn what_is_written_reads_back_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tiny.gguf");
        let metadata = vec![
            ("general.architecture".to_owned(), MetadataValue::String("llama".into())),
            ("general.alignment".to_owned(), MetadataValue::U32(64)),
            ("llama.rope.freq_base".to_owned(), MetadataValue::F32(10000.0)),
            ("tokenizer.ggml.tokens".to_owned(), MetadataValue::Array(MetadataArray::String(vec!["a".into(), "<s>".into()]))),
            ("tokenizer.ggml.token_type".to_owned(), MetadataValue::Array(MetadataArray::I32(vec![1, 3]))),
            ("x.flag".to_owned(), MetadataValue::Bool(true)),
            ("x.nested".to_owned(), MetadataValue::Array(MetadataArray::Array(vec![MetadataArray::U8(vec![1, 2])]))),
        ];
        let norm: Vec<f32> = vec![1.0, -2.0, 0.5];
        let weight: Vec<f32> = (0..64).map(|i| i as f32 / 8.0).collect();
        let tensors = vec![
            TensorSpec { name: "norm.weight".into(), dims: vec![3], ty: GgmlType::F32 },
            TensorSpec { name: "w.weight".into(), dims: vec![32, 2], ty: GgmlType::Q8_0 },
        ];
        write_gguf(&path, &metadata, &tensors, |i| {
            let values = if i == 0 { &norm } else { &weight };
            crate::gguf::quantize(tensors[i].ty, values).map_err(|e| e.to_string())
        })
        .unwrap();
        let file = GgufFile::open(&path).unwrap();
        assert_eq!((file.version(), file.alignment()), (3, 64));
        assert_eq!(file.metadata().map(|(k, v)| (k.to_owned(), v.clone())).collect::<Vec<_>>(), metadata);
        assert_eq!(file.tensor("norm.weight").unwrap().to_f32().unwrap(), norm);
        let w = file.tensor("w.weight").unwrap();
        assert_eq!((w.dims(), w.ggml_type()), (&[32u64, 2][..], GgmlType::Q8_0));
        assert_eq!(w.info().offset() % 64, 0);
        let back = w.to_f32().unwrap();
        // Half a Q8_0 step of the second block (largest value 7.875) is 0.031.
        assert!(back.iter().zip(&weight).all(|(b, w)| (b - w).abs() <= 0.032), "{back:?}");
    }

    #[test]
    fn a_wrong_shape_or_a_failing_producer_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.gguf");
        let odd = [TensorSpec { name: "w".into(), dims: vec![33], ty: GgmlType::Q4_0 }];
        let e = write_gguf(&path, &[], &odd, |_| Ok(Vec::new())).unwrap_err();
        assert!(e.to_string().contains("not a whole number of Q4_0 blocks"), "{e}");
        let short = [TensorSpec { name: "w".into(), dims: vec![4], ty: GgmlType::F32 }];
        let e = write_gguf(&path, &[], &short, |_| Ok(vec![0; 3])).unwrap_err();
        assert!(e.to_string().contains("3 bytes given, its shape needs 16"), "{e}");
        let e = write_gguf(&path, &[], &short, |_| Err("the teacher crashed".into())).unwrap_err();
        assert!(e.to_string().contains("the teacher crashed"), "{e}");
        assert!(!path.exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "no partial file is left");
    }
}
