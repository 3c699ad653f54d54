//! Bit-exact comparison of our dequantizers with reference values computed by the `gguf`
//! Python package (fixtures written by `tests/data/make_dequant_refs.py`).

use std::collections::BTreeSet;
use std::path::PathBuf;

use edgecoder_model::gguf::{GgmlType, dequantize_to_vec};

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/dequant")
}

fn type_by_name(name: &str) -> GgmlType {
    (0..64)
        .filter_map(GgmlType::from_id)
        .find(|t| t.name() == name)
        .unwrap_or_else(|| panic!("unknown type {name} in index.tsv"))
}

#[test]
fn every_fixture_dequantizes_bit_exactly() {
    let index = std::fs::read_to_string(data_dir().join("index.tsv")).expect("index.tsv");
    let mut types_seen = BTreeSet::new();
    let mut real_types = BTreeSet::new();
    let mut cases = 0;
    for line in index.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let mut cols = line.split('\t');
        let (case, ty) = (cols.next().unwrap(), type_by_name(cols.next().unwrap()));
        let input = std::fs::read(data_dir().join(format!("{case}.in"))).unwrap();
        let expected: Vec<u32> = std::fs::read(data_dir().join(format!("{case}.out")))
            .unwrap()
            .chunks_exact(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let got = dequantize_to_vec(ty, &input).unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_eq!(got.len(), expected.len(), "{case}: element count");
        let mismatches: Vec<_> = got
            .iter()
            .zip(&expected)
            .enumerate()
            .filter(|(_, (g, e))| g.to_bits() != **e)
            .take(5)
            .map(|(i, (g, e))| format!("[{i}] got {g:e} ({:#010x}) want {:e} ({e:#010x})", g.to_bits(), f32::from_bits(*e)))
            .collect();
        assert!(mismatches.is_empty(), "{case} ({ty}): {mismatches:#?}");
        types_seen.insert(ty.name());
        if case.starts_with("real_") {
            real_types.insert(ty.name());
        }
        cases += 1;
    }
    let required = ["F32", "F16", "BF16", "Q8_0", "Q5_0", "Q4_0", "Q4_1", "Q4_K", "Q5_K", "Q6_K"];
    for t in required {
        assert!(types_seen.contains(t), "no fixture for {t}");
    }
    for t in ["Q4_1", "Q8_0", "Q5_0", "Q4_K", "Q6_K"] {
        assert!(real_types.contains(t), "no real-model fixture for {t}");
    }
    assert!(cases >= 18, "only {cases} cases");
}

#[test]
fn fixtures_are_not_trivial() {
    // A dequantizer that returned zeros would fail the comparison above only if the expected
    // values are not zeros themselves: make sure every fixture has many distinct values.
    let index = std::fs::read_to_string(data_dir().join("index.tsv")).unwrap();
    for line in index.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let case = line.split('\t').next().unwrap();
        let out = std::fs::read(data_dir().join(format!("{case}.out"))).unwrap();
        let distinct: BTreeSet<&[u8]> = out.chunks_exact(4).collect();
        assert!(distinct.len() >= 16, "{case}: only {} distinct values", distinct.len());
    }
}
