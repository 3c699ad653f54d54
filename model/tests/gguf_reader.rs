//! The GGUF reader on hand-built files: every value type, alignment, and the malformed
//! headers a hostile or broken file can present (each must give a clear error, never a panic
//! or a huge allocation).

use edgecoder_model::gguf::{GgmlType, GgufError, GgufFile, MetadataArray, MetadataValue};

/// Builds GGUF files byte by byte.
struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    fn header(version: u32, n_tensors: u64, n_kv: u64) -> Self {
        let mut w = Writer { buf: b"GGUF".to_vec() };
        w.u32(version).u64(n_tensors).u64(n_kv);
        w
    }
    fn u32(&mut self, v: u32) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn u64(&mut self, v: u64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(b);
        self
    }
    fn str(&mut self, s: &str) -> &mut Self {
        self.u64(s.len() as u64).bytes(s.as_bytes())
    }
    /// A key with a value type tag; the caller appends the value.
    fn key(&mut self, k: &str, ty: u32) -> &mut Self {
        self.str(k).u32(ty)
    }
    fn tensor(&mut self, name: &str, dims: &[u64], ty: u32, offset: u64) -> &mut Self {
        self.str(name).u32(dims.len() as u32);
        for &d in dims {
            self.u64(d);
        }
        self.u32(ty).u64(offset)
    }
    fn pad_to(&mut self, align: usize) -> &mut Self {
        while !self.buf.len().is_multiple_of(align) {
            self.buf.push(0);
        }
        self
    }
    fn parse(&self) -> Result<GgufFile, GgufError> {
        GgufFile::from_bytes(self.buf.clone())
    }
}

/// A valid v3 file with one key of every scalar type, arrays, and two tensors.
fn full_file(version: u32) -> Writer {
    let mut w = Writer::header(version, 2, 17);
    w.key("general.architecture", 8).str("llama");
    w.key("u8", 0).bytes(&[200]);
    w.key("i8", 1).bytes(&[0xFF]);
    w.key("u16", 2).bytes(&60000u16.to_le_bytes());
    w.key("i16", 3).bytes(&(-300i16).to_le_bytes());
    w.key("llama.block_count", 4).u32(30);
    w.key("i32", 5).bytes(&(-7i32).to_le_bytes());
    w.key("f32", 6).bytes(&1.5f32.to_le_bytes());
    w.key("bool", 7).bytes(&[1]);
    w.key("u64", 10).u64(1 << 40);
    w.key("i64", 11).bytes(&(-5i64).to_le_bytes());
    w.key("f64", 12).bytes(&0.25f64.to_le_bytes());
    w.key("tokens", 9).u32(8).u64(3).str("a").str("b").str("<|im_end|>");
    w.key("scores", 9).u32(6).u64(2).bytes(&1.0f32.to_le_bytes()).bytes(&(-2.0f32).to_le_bytes());
    w.key("types", 9).u32(5).u64(2).u32(1).u32(3);
    w.key("nested", 9).u32(9).u64(2).u32(0).u64(1).bytes(&[7]).u32(8).u64(1).str("x");
    w.key("general.alignment", 4).u32(64);
    w.tensor("norm", &[4], 0, 0);
    w.tensor("w", &[32, 2], 8, 64);
    w.pad_to(64);
    for v in [1.0f32, -2.0, 0.5, 8.0] {
        w.bytes(&v.to_le_bytes());
    }
    w.pad_to(64);
    for row in 0..2u8 {
        w.bytes(&HALF_0_5);
        w.bytes(&(0..32).map(|i| (i as i8 - 16 + row as i8) as u8).collect::<Vec<_>>());
    }
    w
}

/// 0.5 in IEEE half precision, little-endian.
const HALF_0_5: [u8; 2] = 0x3800u16.to_le_bytes();

#[test]
fn reads_every_value_type_tensors_and_alignment() {
    for version in [2, 3] {
        let f = full_file(version).parse().unwrap();
        assert_eq!(f.version(), version);
        assert_eq!(f.architecture().unwrap(), "llama");
        assert_eq!(f.get_u32("llama.block_count").unwrap(), 30);
        assert_eq!(f.get("u8"), Some(&MetadataValue::U8(200)));
        assert_eq!(f.get("i8"), Some(&MetadataValue::I8(-1)));
        assert_eq!(f.get("u16"), Some(&MetadataValue::U16(60000)));
        assert_eq!(f.get("i16"), Some(&MetadataValue::I16(-300)));
        assert_eq!(f.get("i32"), Some(&MetadataValue::I32(-7)));
        assert_eq!(f.get_f32("f32").unwrap(), 1.5);
        assert!(f.get_bool("bool").unwrap());
        assert_eq!(f.get_u64("u64").unwrap(), 1 << 40);
        assert_eq!(f.get("i64"), Some(&MetadataValue::I64(-5)));
        assert_eq!(f.get("f64"), Some(&MetadataValue::F64(0.25)));
        assert_eq!(f.get_str_array("tokens").unwrap(), ["a", "b", "<|im_end|>"]);
        assert_eq!(f.get_f32_array("scores").unwrap(), [1.0, -2.0]);
        assert_eq!(f.get_i32_array("types").unwrap(), [1, 3]);
        assert_eq!(
            f.get_array("nested").unwrap(),
            &MetadataArray::Array(vec![MetadataArray::U8(vec![7]), MetadataArray::String(vec!["x".into()])])
        );
        assert_eq!(f.metadata().len(), 17);
        assert_eq!(f.alignment(), 64);
        assert_eq!(f.data_offset() % 64, 0);

        let names: Vec<_> = f.tensors().iter().map(|t| t.name()).collect();
        assert_eq!(names, ["norm", "w"]);
        let norm = f.tensor("norm").unwrap();
        assert_eq!(norm.ggml_type(), GgmlType::F32);
        assert_eq!(norm.to_f32().unwrap(), [1.0, -2.0, 0.5, 8.0]);
        let w = f.tensor("w").unwrap();
        assert_eq!(w.dims(), [32, 2]);
        assert_eq!(w.info().n_rows(), 2);
        assert_eq!(w.info().row_bytes(), 34);
        let mut row = vec![0.0; 32];
        w.dequantize_row(1, &mut row).unwrap();
        assert_eq!(row[0], -7.5);
        assert_eq!(row[31], 8.0);
        assert!(matches!(w.dequantize_row(2, &mut row), Err(GgufError::RowOutOfRange { row: 2, n_rows: 2, .. })));
        assert_eq!(w.to_f32().unwrap().len(), 64);
    }
}

#[test]
fn typed_accessors_report_missing_keys_and_wrong_types() {
    let f = full_file(3).parse().unwrap();
    assert!(matches!(f.get_u32("nope"), Err(GgufError::MissingKey(k)) if k == "nope"));
    let e = f.get_u32("general.architecture").unwrap_err();
    assert!(matches!(e, GgufError::WrongType { found: "string", .. }), "{e}");
    assert!(matches!(f.get_u32("i32"), Err(GgufError::WrongType { .. })), "negative i32 is not a u32");
    assert!(matches!(f.get_str_array("scores"), Err(GgufError::WrongType { found: "array", .. })));
    assert!(matches!(f.tensor("missing"), Err(GgufError::TensorNotFound(_))));
}

#[test]
fn rejects_bad_magic_versions_and_endianness() {
    assert!(matches!(GgufFile::from_bytes(b"GGML\x03\0\0\0".to_vec()), Err(GgufError::BadMagic { .. })));
    assert!(matches!(GgufFile::from_bytes(b"GG".to_vec()), Err(GgufError::BadMagic { .. })));
    assert!(matches!(GgufFile::from_bytes(vec![]), Err(GgufError::BadMagic { .. })));
    for v in [0, 1, 4, 99] {
        let e = Writer::header(v, 0, 0).parse().unwrap_err();
        assert!(matches!(e, GgufError::UnsupportedVersion(x) if x == v), "{v}: {e}");
        assert!(e.to_string().contains("versions 2 and 3"));
    }
    let mut w = Writer { buf: b"GGUF".to_vec() };
    w.bytes(&3u32.to_be_bytes()).u64(0).u64(0);
    assert!(matches!(w.parse(), Err(GgufError::BigEndian)));
}

#[test]
fn every_truncation_point_is_a_clean_error() {
    let full = full_file(3).buf;
    let header_end = full_file(3).parse().unwrap().data_offset() as usize;
    for cut in 0..header_end {
        let r = GgufFile::from_bytes(full[..cut].to_vec());
        assert!(r.is_err(), "cut at {cut} parsed");
    }
    // Cut inside the data section: the tensor bounds check catches it.
    let e = GgufFile::from_bytes(full[..full.len() - 1].to_vec()).unwrap_err();
    assert!(matches!(e, GgufError::TensorOutOfBounds { .. }), "{e}");
}

#[test]
fn absurd_counts_are_rejected_before_allocating() {
    let e = Writer::header(3, u64::MAX, 0).parse().unwrap_err();
    assert!(matches!(e, GgufError::TooMany { what: "tensor", .. }), "{e}");
    let e = Writer::header(3, 0, u64::MAX).parse().unwrap_err();
    assert!(matches!(e, GgufError::TooMany { .. }), "{e}");
    // 1000 tensors announced, no bytes for them.
    let e = Writer::header(3, 1000, 0).parse().unwrap_err();
    assert!(matches!(e, GgufError::TooMany { what: "tensor", .. }), "{e}");
    // A string array claiming 2^60 elements.
    let mut w = Writer::header(3, 0, 1);
    w.key("tokens", 9).u32(8).u64(1 << 60);
    assert!(matches!(w.parse(), Err(GgufError::TooMany { what: "array element", .. })));
    // A u64 array claiming more elements than bytes remain.
    let mut w = Writer::header(3, 0, 1);
    w.key("a", 9).u32(10).u64(100).u64(1);
    assert!(matches!(w.parse(), Err(GgufError::TooMany { .. })));
    // A string claiming 2^62 bytes.
    let mut w = Writer::header(3, 0, 1);
    w.key("s", 8).u64(1 << 62);
    assert!(matches!(w.parse(), Err(GgufError::TooMany { what: "string length", .. })));
    // Arrays nested 100 deep.
    let mut w = Writer::header(3, 0, 1);
    w.key("deep", 9);
    for _ in 0..100 {
        w.u32(9).u64(1);
    }
    assert!(matches!(w.parse(), Err(GgufError::NestingTooDeep { .. })));
}

#[test]
fn rejects_bad_metadata() {
    let mut w = Writer::header(3, 0, 1);
    w.key("k", 13).u32(0);
    assert!(matches!(w.parse(), Err(GgufError::UnknownValueType { id: 13, .. })));
    let mut w = Writer::header(3, 0, 2);
    w.key("k", 4).u32(1).key("k", 4).u32(2);
    assert!(matches!(w.parse(), Err(GgufError::DuplicateKey(k)) if k == "k"));
    let mut w = Writer::header(3, 0, 1);
    w.u64(2).bytes(&[0xC3, 0x28]).u32(4).u32(0);
    assert!(matches!(w.parse(), Err(GgufError::InvalidUtf8 { what: "metadata key", .. })));
    for bad in [0u32, 3, 1 << 30] {
        let mut w = Writer::header(3, 0, 1);
        w.key("general.alignment", 4).u32(bad);
        assert!(matches!(w.parse(), Err(GgufError::BadAlignment(a)) if a == bad as u64));
    }
    let mut w = Writer::header(3, 0, 1);
    w.key("general.alignment", 8).str("32");
    assert!(matches!(w.parse(), Err(GgufError::WrongType { .. })));
}

fn one_tensor(dims: &[u64], ty: u32, offset: u64, data_len: usize) -> Result<GgufFile, GgufError> {
    let mut w = Writer::header(3, 1, 0);
    w.tensor("t", dims, ty, offset).pad_to(32);
    w.bytes(&vec![0u8; data_len]);
    w.parse()
}

#[test]
fn rejects_bad_tensor_infos() {
    assert!(one_tensor(&[8], 0, 0, 32).is_ok());
    assert!(matches!(one_tensor(&[8], 5, 0, 32), Err(GgufError::UnknownTensorType { id: 5, .. })));
    assert!(matches!(one_tensor(&[8], 1000, 0, 32), Err(GgufError::UnknownTensorType { .. })));
    assert!(matches!(one_tensor(&[8], 0, 4, 64), Err(GgufError::Misaligned { offset: 4, .. })));
    assert!(matches!(one_tensor(&[8], 0, 0, 31), Err(GgufError::TensorOutOfBounds { .. })));
    assert!(matches!(one_tensor(&[8], 0, u64::MAX - 31, 32), Err(GgufError::TensorOutOfBounds { .. })));
    assert!(matches!(one_tensor(&[8, 0], 0, 0, 32), Err(GgufError::BadShape { .. })));
    assert!(matches!(one_tensor(&[1 << 40, 1 << 40], 0, 0, 32), Err(GgufError::BadShape { .. })));
    assert!(matches!(one_tensor(&[1, 1, 1, 1, 1], 0, 0, 32), Err(GgufError::BadShape { .. })));
    assert!(matches!(one_tensor(&[], 0, 0, 32), Err(GgufError::BadShape { .. })));
    // A Q4_K row must be a whole number of 256-element blocks.
    assert!(matches!(one_tensor(&[100], 12, 0, 144), Err(GgufError::BadShape { .. })));
    // Two tensors with the same name.
    let mut w = Writer::header(3, 2, 0);
    w.tensor("t", &[8], 0, 0).tensor("t", &[8], 0, 32).pad_to(32).bytes(&[0; 64]);
    assert!(matches!(w.parse(), Err(GgufError::DuplicateTensor(_))));
}

#[test]
fn unsupported_tensor_types_open_but_do_not_dequantize() {
    // IQ2_XXS: 256 elements in 66 bytes.
    let f = one_tensor(&[256], 16, 0, 66).unwrap();
    let t = f.tensor("t").unwrap();
    assert_eq!(t.ggml_type(), GgmlType::IQ2_XXS);
    assert_eq!(t.data().len(), 66);
    let e = t.to_f32().unwrap_err();
    assert!(e.to_string().contains("IQ2_XXS"), "{e}");
}

#[test]
fn open_reports_missing_file_and_non_gguf_file() {
    let e = GgufFile::open("/nonexistent/model.gguf").unwrap_err();
    assert!(matches!(e, GgufError::Io { .. }));
    assert!(e.to_string().contains("/nonexistent/model.gguf"));
    let e = GgufFile::open(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")).unwrap_err();
    assert!(matches!(e, GgufError::BadMagic { .. }), "{e}");
}
