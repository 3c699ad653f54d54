//! The GGUF reader on the real model files, taken from the model store (`edgecoder model pull
//! <id>`): metadata, tensor inventory, and tensor data located at the right offsets (checked
//! against the gguf-py fixtures cut from the same tensors).

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use edgecoder_model::gguf::{GgmlType, GgufFile};

fn model(id: &str) -> GgufFile {
    GgufFile::open(common::model_path(id)).unwrap()
}

fn type_histogram(f: &GgufFile) -> BTreeMap<&'static str, usize> {
    let mut h = BTreeMap::new();
    for t in f.tensors() {
        *h.entry(t.ggml_type().name()).or_default() += 1;
    }
    h
}

/// The first `n` expected values of a dequantization fixture.
fn fixture_out(case: &str, n: usize) -> Vec<u32> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/data/dequant/{case}.out"));
    std::fs::read(p).unwrap().chunks_exact(4).take(n).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn smollm2_metadata_and_tensors() {
    let f = model("smollm2-135m");
    assert_eq!(f.version(), 3);
    assert_eq!(f.architecture().unwrap(), "llama");
    assert_eq!(f.get_u32("llama.block_count").unwrap(), 30);
    assert_eq!(f.get_u32("llama.embedding_length").unwrap(), 576);
    assert_eq!(f.get_u32("llama.attention.head_count").unwrap(), 9);
    assert_eq!(f.get_u32("llama.attention.head_count_kv").unwrap(), 3);
    assert_eq!(f.get_u32("llama.context_length").unwrap(), 8192);
    assert_eq!(f.get_f32("llama.rope.freq_base").unwrap(), 100000.0);
    assert_eq!(f.get_u32("llama.vocab_size").unwrap(), 49152);
    assert_eq!(f.get_str("tokenizer.ggml.model").unwrap(), "gpt2");
    let tokens = f.get_str_array("tokenizer.ggml.tokens").unwrap();
    assert_eq!(tokens.len(), 49152);
    assert_eq!(f.get_i32_array("tokenizer.ggml.token_type").unwrap().len(), 49152);
    assert_eq!(f.get_str_array("tokenizer.ggml.merges").unwrap().len(), 48900);
    let eos = f.get_u32("tokenizer.ggml.eos_token_id").unwrap() as usize;
    assert_eq!(tokens[eos], "<|im_end|>");
    assert!(f.get_str("tokenizer.chat_template").unwrap().contains("<|im_start|>"));
    assert_eq!(f.metadata().len(), 33);

    assert_eq!(f.tensors().len(), 272);
    assert_eq!(type_histogram(&f), BTreeMap::from([("F32", 61), ("Q4_1", 210), ("Q8_0", 1)]));
    assert_eq!(f.data_offset(), 1_785_664);
    assert_eq!(f.tensors().iter().map(|t| t.n_elements()).sum::<u64>(), 134_515_008);
    let last = f.tensors().last().unwrap();
    assert_eq!(f.data_offset() + last.offset() + last.n_bytes(), f.file_size());

    let emb = f.tensor("token_embd.weight").unwrap();
    assert_eq!(emb.dims(), [576, 49152]);
    assert_eq!(emb.ggml_type(), GgmlType::Q8_0);
    let mut row = vec![0.0; 576];
    emb.dequantize_row(0, &mut row).unwrap();
    assert_eq!(bits(&row[..64]), fixture_out("real_smollm2_q8_0", 64));

    let down = f.tensor("blk.0.ffn_down.weight").unwrap();
    assert_eq!(down.dims(), [1536, 576]);
    let all = down.to_f32().unwrap();
    assert_eq!(all.len(), 1536 * 576);
    assert_eq!(bits(&all[..64]), fixture_out("real_smollm2_q4_1", 64));
    assert!(all.iter().all(|x| x.is_finite()));

    let norm = f.tensor("output_norm.weight").unwrap().to_f32().unwrap();
    assert_eq!(norm.len(), 576);
    assert!(norm.iter().all(|x| x.is_finite()) && norm.iter().any(|&x| x != 0.0));
}

#[test]
fn qwen05_metadata_and_tensors() {
    let f = model("qwen2.5-coder-0.5b");
    assert_eq!(f.architecture().unwrap(), "qwen2");
    assert_eq!(f.get_u32("qwen2.block_count").unwrap(), 24);
    assert_eq!(f.get_u32("qwen2.embedding_length").unwrap(), 896);
    assert_eq!(f.get_u32("qwen2.attention.head_count").unwrap(), 14);
    assert_eq!(f.get_u32("qwen2.attention.head_count_kv").unwrap(), 2);
    assert_eq!(f.get_f32("qwen2.rope.freq_base").unwrap(), 1_000_000.0);
    assert_eq!(f.get_str_array("tokenizer.ggml.tokens").unwrap().len(), 151_936);
    assert_eq!(f.tensors().len(), 291);
    assert_eq!(
        type_histogram(&f),
        BTreeMap::from([("F32", 121), ("Q4_K", 12), ("Q5_0", 133), ("Q6_K", 12), ("Q8_0", 13)])
    );
    // Every tensor of every type dequantizes (one row each, to keep the debug build fast).
    for t in f.tensor_views() {
        let mut row = vec![0.0; t.info().row_len()];
        t.dequantize_row(t.info().n_rows() - 1, &mut row).unwrap();
        assert!(row.iter().all(|x| x.is_finite()), "{}", t.name());
    }
    let emb = f.tensor("token_embd.weight").unwrap();
    let mut row = vec![0.0; 896];
    emb.dequantize_row(0, &mut row).unwrap();
    assert_eq!(bits(&row[..64]), fixture_out("real_qwen05_q5_0", 64));
}
