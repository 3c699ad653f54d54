//! Device profiles: one TOML file per device class in `targets/` naming the Rust target, the
//! daemon's Cargo features, its config and environment on that device, and the swarm's limits.

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The Cargo features of `edgecoder-daemon` a profile may name.
pub const DAEMON_FEATURES: &[&str] = &["gpu"];

/// How a device class receives EdgeCoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Package {
    /// The Debian package with the system service.
    Deb,
    /// A device image (Debian rootfs with the service and first-boot enrolment).
    Image,
    /// A plain binary and its config.
    Binary,
}

/// The swarm's limits on a device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Swarm {
    /// The most CPU swarm work may use, in percent of the machine, whatever a policy asks.
    pub max_cpu_percent: u8,
    /// Engine threads of the swarm worker (default: all cores).
    pub threads: Option<u32>,
}

/// One device profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// The file's stem (`pi5`); filled in by [`load`].
    #[serde(skip_deserializing)]
    pub name: String,
    /// The device class in words.
    pub description: String,
    /// The Rust target triple.
    pub triple: String,
    /// Features of `edgecoder-daemon` (`gpu`: the wgpu backend).
    pub features: Vec<String>,
    /// The memory this device class gives EdgeCoder, in MiB.
    pub memory_budget_mb: u32,
    /// How the device receives it.
    pub package: Package,
    /// The daemon's config on this device (`edgecoderd.toml`, every key optional).
    pub daemon: toml::Table,
    /// The environment of the daemon and worker services (`EDGECODER_RETRIEVAL = "bm25"`).
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    /// The swarm's limits.
    pub swarm: Swarm,
}

impl Profile {
    /// The daemon's config file for this device.
    pub fn daemon_config(&self) -> String {
        let header = format!("# edgecoderd.toml for the {} profile ({}), written by `cargo xtask build`.\n", self.name, self.description);
        header + &toml::to_string(&self.daemon).expect("a TOML table serialises")
    }

    /// The services' environment file (`KEY=value` lines, as systemd's `EnvironmentFile=`
    /// reads them).
    pub fn environment_file(&self) -> String {
        let mut lines = self.environment.clone();
        lines.insert("EDGECODER_SWARM_MAX_CPU_PERCENT".into(), self.swarm.max_cpu_percent.to_string());
        if let Some(threads) = self.swarm.threads {
            lines.insert("EDGECODER_SWARM_THREADS".into(), threads.to_string());
        }
        lines.iter().map(|(k, v)| format!("{k}={v}\n")).collect()
    }

    /// Whether the binaries get Windows' `.exe`.
    pub fn exe_suffix(&self) -> &'static str {
        if self.triple.contains("windows") { ".exe" } else { "" }
    }

    fn check(&self) -> Result<()> {
        let parts: Vec<&str> = self.triple.split('-').collect();
        if parts.len() < 3 || parts.iter().any(|p| p.is_empty() || !p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')) {
            bail!("triple {:?} is not a Rust target triple like aarch64-unknown-linux-gnu", self.triple);
        }
        if let Some(unknown) = self.features.iter().find(|f| !DAEMON_FEATURES.contains(&f.as_str())) {
            bail!("feature {unknown:?} is not a feature of edgecoder-daemon (known: {})", DAEMON_FEATURES.join(", "));
        }
        if !(1..=100).contains(&self.swarm.max_cpu_percent) {
            bail!("swarm.max_cpu_percent must be 1–100, not {}", self.swarm.max_cpu_percent);
        }
        if self.memory_budget_mb < 512 {
            bail!("memory_budget_mb {} is below what the daemon with the smallest model needs (512)", self.memory_budget_mb);
        }
        if let Some(key) = self.environment.keys().find(|k| k.is_empty() || !k.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')) {
            bail!("environment key {key:?} is not an environment variable name (A-Z, 0-9, _)");
        }
        if self.daemon.get("backend").and_then(|b| b.as_str()) == Some("wgpu") && !self.features.iter().any(|f| f == "gpu") {
            bail!("daemon.backend is wgpu but the gpu feature is not built: add \"gpu\" to features");
        }
        Ok(())
    }
}

/// The profiles folder of the workspace this task runs in.
pub fn default_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").join("targets")
}

/// Reads and checks the profile `name` in `dir`.
pub fn load(dir: &Path, name: &str) -> Result<Profile> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        bail!("{name:?} is not a profile name (letters, digits, - and _): see `cargo xtask profiles`");
    }
    let path = dir.join(format!("{name}.toml"));
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let known = names(dir).unwrap_or_default().join(", ");
            bail!("there is no profile {name:?} in {} (known: {known})", dir.display());
        }
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let mut profile: Profile = toml::from_str(&text).with_context(|| format!("{} is not a valid profile", path.display()))?;
    profile.name = name.to_owned();
    profile.check().with_context(|| format!("{} is not a valid profile", path.display()))?;
    Ok(profile)
}

/// The names of the profiles in `dir`, sorted.
pub fn names(dir: &Path) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for item in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let path = item?.path();
        if path.extension().is_some_and(|e| e == "toml")
            && let Some(stem) = path.file_stem().and_then(|s| s.to_str())
        {
            names.push(stem.to_owned());
        }
    }
    names.sort();
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) {
        std::fs::write(dir.join(format!("{name}.toml")), text).unwrap();
    }

    const GOOD: &str = r#"
description = "a board"
triple = "aarch64-unknown-linux-gnu"
features = []
memory_budget_mb = 2048
package = "image"
[daemon]
model = "qwen2.5-coder-0.5b"
threads = 2
[environment]
EDGECODER_RETRIEVAL = "bm25"
[swarm]
max_cpu_percent = 50
threads = 2
"#;

    #[test]
    fn every_profile_of_the_project_loads() {
        let dir = default_dir();
        let names = names(&dir).unwrap();
        for wanted in ["pi4", "pi5", "jetson-orin-nano", "laptop-linux", "macos", "windows", "android-termux"] {
            assert!(names.iter().any(|n| n == wanted), "{wanted} missing from {names:?}");
        }
        for name in names {
            load(&dir, &name).unwrap_or_else(|e| panic!("{name}: {e:#}"));
        }
    }

    #[test]
    fn a_profile_gives_the_devices_config_and_environment() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "board", GOOD);
        let profile = load(dir.path(), "board").unwrap();
        let config: toml::Table = toml::from_str(&profile.daemon_config()).unwrap();
        assert_eq!(config["threads"].as_integer(), Some(2));
        assert_eq!(
            profile.environment_file(),
            "EDGECODER_RETRIEVAL=bm25\nEDGECODER_SWARM_MAX_CPU_PERCENT=50\nEDGECODER_SWARM_THREADS=2\n"
        );
    }

    #[test]
    fn bad_profiles_are_refused_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            ("features = []", "features = [\"cuda\"]", "not a feature of edgecoder-daemon"),
            ("max_cpu_percent = 50", "max_cpu_percent = 0", "1–100"),
            ("aarch64-unknown-linux-gnu", "arm64", "not a Rust target triple"),
            ("package = \"image\"", "package = \"snap\"", "unknown variant"),
            ("threads = 2\n[environment]", "threads = 2\nbackend = \"wgpu\"\n[environment]", "add \"gpu\""),
            ("EDGECODER_RETRIEVAL", "\"edgecoder retrieval\"", "not an environment variable name"),
            ("memory_budget_mb = 2048", "memory_budget_mb = 2048\ncolour = \"red\"", "unknown field"),
        ];
        for (i, (from, to, expected)) in cases.into_iter().enumerate() {
            let name = format!("bad{i}");
            write(dir.path(), &name, &GOOD.replacen(from, to, 1));
            let e = format!("{:#}", load(dir.path(), &name).unwrap_err());
            assert!(e.contains(expected), "case {i}: {e}");
        }
        let e = format!("{:#}", load(dir.path(), "nope").unwrap_err());
        assert!(e.contains("there is no profile \"nope\"") && e.contains("bad0"), "{e}");
        assert!(format!("{:#}", load(dir.path(), "../etc/passwd").unwrap_err()).contains("not a profile name"));
    }
}
