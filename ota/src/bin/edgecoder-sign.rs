//! `edgecoder-sign`: the operator's offline tool for model manifests. The private key never
//! leaves the machine it was made on; the coordinator only publishes statements signed here.

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use ed25519_dalek::SigningKey;
use edgecoder_ota::manifest::{TrustedKeys, check_signature, decode, generate_key, read_key_file, sign};
use edgecoder_protocol::PublicKey;
use edgecoder_protocol::manifest::{KeyRotation, ModelManifest, Statement};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Sign model manifests for EdgeCoder devices, offline.
///
/// Keys are hex files: `signing.key` (the private seed, mode 0600, keep it offline) and
/// `signing.pub` (pin it in each daemon's config as a trusted key).
#[derive(Debug, Parser)]
#[command(name = "edgecoder-sign", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Make a new key pair in DIR (refuses to overwrite one).
    Keygen {
        /// The folder for signing.key and signing.pub.
        #[arg(long, default_value = ".")]
        out: PathBuf,
    },
    /// Sign a model manifest written as JSON (fields: model, version, files [{name, size,
    /// sha256, sources}], min_daemon_version, runtime, quantization, issued_at, expires_at,
    /// sequence, rollback).
    Sign {
        /// The private key file.
        #[arg(long)]
        key: PathBuf,
        /// The manifest as JSON.
        manifest: PathBuf,
        /// Where the signed manifest goes.
        #[arg(long)]
        out: PathBuf,
    },
    /// Sign a key rotation: devices that trust KEY's public key trust NEW_PUB instead.
    Rotate {
        /// The current private key file.
        #[arg(long)]
        key: PathBuf,
        /// The new public key file.
        #[arg(long)]
        new_pub: PathBuf,
        /// Where the signed rotation goes.
        #[arg(long)]
        out: PathBuf,
    },
    /// Check a signed statement's signature (against trusted public keys when given) and print
    /// it as JSON.
    Verify {
        /// The signed statement.
        file: PathBuf,
        /// A trusted public key file (repeatable); without one only the signature is checked.
        #[arg(long = "trust")]
        trust: Vec<PathBuf>,
    },
}

fn read_key(path: &Path, what: &str) -> anyhow::Result<PublicKey> {
    read_key_file(path).with_context(|| format!("cannot read the {what} {}", path.display()))
}

/// Writes `text` to a new file (never over an existing one) with `mode`.
fn write_new(path: &Path, text: &[u8], mode: u32) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(path).with_context(|| format!("cannot create {} (it must not exist yet)", path.display()))?;
    file.write_all(text)?;
    file.sync_all()?;
    Ok(())
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Keygen { out } => {
            std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
            let key = generate_key();
            write_new(&out.join("signing.key"), format!("{}\n", PublicKey(key.to_bytes())).as_bytes(), 0o600)?;
            let public = PublicKey(key.verifying_key().to_bytes());
            write_new(&out.join("signing.pub"), format!("{public}\n").as_bytes(), 0o644)?;
            println!("{public}");
            eprintln!("wrote {0}/signing.key (keep it offline) and {0}/signing.pub (pin it on the devices)", out.display());
        }
        Command::Sign { key, manifest, out } => {
            let key = SigningKey::from_bytes(&read_key(&key, "private key")?.0);
            let text = std::fs::read_to_string(&manifest).with_context(|| format!("cannot read {}", manifest.display()))?;
            let parsed: ModelManifest = serde_json::from_str(&text).with_context(|| format!("{} is not a model manifest", manifest.display()))?;
            for (value, what) in [(&parsed.version, "version"), (&parsed.min_daemon_version, "min_daemon_version")] {
                semver::Version::parse(value).with_context(|| format!("{what} {value:?} is not a semver version"))?;
            }
            if parsed.expires_at <= parsed.issued_at {
                bail!("expires_at ({}) must be after issued_at ({})", parsed.expires_at, parsed.issued_at);
            }
            if parsed.files.is_empty() || parsed.files.iter().any(|f| f.sources.is_empty()) {
                bail!("every manifest needs at least one file, and every file at least one source");
            }
            let signed = sign(&Statement::Model(parsed), &key);
            write_new(&out, &postcard::to_allocvec(&signed)?, 0o644)?;
            eprintln!("signed with {}: {}", signed.key, out.display());
        }
        Command::Rotate { key, new_pub, out } => {
            let key = SigningKey::from_bytes(&read_key(&key, "private key")?.0);
            let new_key = read_key(&new_pub, "public key")?;
            let issued_at = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
            let signed = sign(&Statement::RotateKey(KeyRotation { new_key, issued_at }), &key);
            write_new(&out, &postcard::to_allocvec(&signed)?, 0o644)?;
            eprintln!("rotation from {} to {new_key} signed: {}", signed.key, out.display());
        }
        Command::Verify { file, trust } => {
            let bytes = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let signed = decode(&bytes)?;
            let statement = if trust.is_empty() {
                check_signature(&signed)?
            } else {
                let keys = trust.iter().map(|p| read_key(p, "public key")).collect::<anyhow::Result<_>>()?;
                TrustedKeys::new(keys).open(&signed)?
            };
            let json = serde_json::json!({"ok": true, "key": signed.key, "trusted": !trust.is_empty(), "statement": statement});
            println!("{}", serde_json::to_string_pretty(&json)?);
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("edgecoder-sign: {error:#}");
            ExitCode::FAILURE
        }
    }
}
