//! all-MiniLM-L6-v2 embeddings against an independent implementation: token ids from Hugging
//! Face `tokenizers` and sentence embeddings from a numpy forward pass of the same weights
//! (`tests/data/embed_refs/minilm.json`, written by `tests/data/make_embed_refs.py`). The model
//! comes from the model store (`edgecoder model pull all-minilm-l6-v2`).

mod common;

use std::path::PathBuf;

use edgecoder_model::embed::Embedder;
use edgecoder_model::engine::Backend;
use serde_json::Value;

fn embedder() -> Embedder {
    let file = common::model_path(edgecoder_ota::EMBEDDING_MODEL);
    Embedder::load(file.parent().unwrap(), Backend::Flex).expect("load all-MiniLM-L6-v2")
}

fn refs() -> Vec<Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/embed_refs/minilm.json");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    doc["refs"].as_array().unwrap().clone()
}

#[test]
fn token_ids_and_embeddings_match_the_reference() {
    let e = embedder();
    assert_eq!(e.dims(), 384);
    let refs = refs();
    assert!(refs.len() >= 10);
    let texts: Vec<&str> = refs.iter().map(|r| r["text"].as_str().unwrap()).collect();
    for (r, text) in refs.iter().zip(&texts) {
        let ids: Vec<u32> = r["ids"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect();
        assert_eq!(e.tokenize(text), ids, "token ids of {text:?}");
    }
    // Embedded together (batched with padding) and one by one: both must match.
    let together = e.embed(&texts).unwrap();
    for (i, (r, text)) in refs.iter().zip(&texts).enumerate() {
        let want: Vec<f32> = r["embedding"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
        let alone = e.embed(&[*text]).unwrap().remove(0);
        for (how, got) in [("batched", &together[i]), ("alone", &alone)] {
            let norm: f32 = got.iter().map(|x| x * x).sum::<f32>().sqrt();
            assert!((norm - 1.0).abs() < 1e-4, "{how} {text:?}: norm {norm}");
            let cosine: f32 = got.iter().zip(&want).map(|(a, b)| a * b).sum();
            assert!(cosine >= 0.999, "{how} {text:?}: cosine {cosine} with the reference");
        }
    }
}

#[test]
fn similar_meanings_are_closer_than_unrelated_ones() {
    let e = embedder();
    let v = e.embed(&["split a list into chunks of n items", "break an iterable into groups of size n", "the weather is sunny today"]).unwrap();
    let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
    assert!(dot(&v[0], &v[1]) > dot(&v[0], &v[2]) + 0.2, "{} vs {}", dot(&v[0], &v[1]), dot(&v[0], &v[2]));
    assert!(e.embed::<&str>(&[]).unwrap().is_empty());
}

#[test]
fn a_missing_or_broken_model_directory_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let e = Embedder::load(tmp.path(), Backend::Flex).unwrap_err();
    assert!(e.to_string().contains("config.json") && e.to_string().contains("edgecoder model pull all-minilm-l6-v2"), "{e}");
    let good = common::model_path(edgecoder_ota::EMBEDDING_MODEL);
    let dir = good.parent().unwrap();
    std::fs::copy(dir.join("config.json"), tmp.path().join("config.json")).unwrap();
    std::fs::copy(dir.join("vocab.txt"), tmp.path().join("vocab.txt")).unwrap();
    std::fs::write(tmp.path().join("model.safetensors"), b"not a safetensors file").unwrap();
    let e = Embedder::load(tmp.path(), Backend::Flex).unwrap_err();
    assert!(e.to_string().contains("not a safetensors file"), "{e}");
    std::fs::write(tmp.path().join("config.json"), br#"{"model_type": "gpt2"}"#).unwrap();
    assert!(Embedder::load(tmp.path(), Backend::Flex).is_err());
}
