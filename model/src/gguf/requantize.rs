//! Re-quantizing a whole model: each weight matrix dequantized to f32 and written again as F16,
//! Q8_0 or Q4_0 by our quantizer; vectors (norms, biases) and every metadata key — the
//! architecture, the tokenizer, the chat template — carried over, with `general.file_type` set
//! to the new type.

use std::path::Path;

use super::value::MetadataValue;
use super::write::{TensorSpec, WriteError, write_gguf};
use super::{GgmlType, GgufFile, quantize};

/// Why a model could not be re-quantized.
#[derive(Debug, thiserror::Error)]
pub enum RequantizeError {
    /// The target type is not one the exporter writes.
    #[error("cannot export as {0}: choose f16, q8_0 or q4_0")]
    Unsupported(GgmlType),
    /// Writing the new file failed.
    #[error(transparent)]
    Write(#[from] WriteError),
}

/// What [`requantize`] wrote.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Requantized {
    /// Tensors in the file.
    pub tensors: usize,
    /// Weight matrices written in the new type.
    pub requantized: usize,
    /// Tensors carried over in their own type (F32/F16 vectors) or as F32.
    pub kept: usize,
    /// Size of the new file in bytes.
    pub bytes: u64,
}

/// llama.cpp's `general.file_type` (`llama_ftype`) of a model whose matrices are `ty`.
fn file_type(ty: GgmlType) -> Option<u32> {
    match ty {
        GgmlType::F16 => Some(1),
        GgmlType::Q4_0 => Some(2),
        GgmlType::Q8_0 => Some(7),
        _ => None,
    }
}

/// Writes `source` to `out` with its weight matrices as `target`; `progress(done, total)` is
/// called after each tensor.
pub fn requantize(
    source: &GgufFile,
    target: GgmlType,
    out: &Path,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Requantized, RequantizeError> {
    let file_type = file_type(target).ok_or(RequantizeError::Unsupported(target))?;
    let mut metadata: Vec<(String, MetadataValue)> =
        source.metadata().filter(|(key, _)| *key != "general.file_type").map(|(k, v)| (k.to_owned(), v.clone())).collect();
    metadata.push(("general.file_type".to_owned(), MetadataValue::U32(file_type)));
    let specs: Vec<TensorSpec> = source
        .tensors()
        .iter()
        .map(|info| {
            let matrix = info.dims().len() >= 2 && info.dims()[0] % target.block_size() as u64 == 0;
            let ty = match info.ggml_type() {
                _ if matrix => target,
                keep @ (GgmlType::F32 | GgmlType::F16) => keep,
                _ => GgmlType::F32,
            };
            TensorSpec { name: info.name().to_owned(), dims: info.dims().to_vec(), ty }
        })
        .collect();
    let total = specs.len();
    write_gguf(out, &metadata, &specs, |i| {
        let spec = &specs[i];
        let view = source.tensor(&spec.name).map_err(|e| e.to_string())?;
        let bytes = if view.ggml_type() == spec.ty && spec.ty != target {
            view.data().to_vec()
        } else {
            let values = view.to_f32().map_err(|e| e.to_string())?;
            quantize(spec.ty, &values).map_err(|e| e.to_string())?
        };
        progress(i + 1, total);
        Ok(bytes)
    })?;
    let requantized = specs.iter().filter(|s| s.ty == target).count();
    let bytes = std::fs::metadata(out).map_err(|source| WriteError::Io { path: out.display().to_string(), source })?.len();
    Ok(Requantized { tensors: total, requantized, kept: total - requantized, bytes })
}
