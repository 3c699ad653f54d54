//! Builds for a device profile, and the cfg checks.

use crate::profile::Profile;
use anyhow::{Context, Result, bail};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The binaries a device gets.
const BINARIES: &[&str] = &["edgecoderd", "edgecoder"];

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").to_owned()
}

/// One binary of a build.
#[derive(Debug, Serialize)]
pub struct Binary {
    /// Its file name.
    pub name: String,
    /// Bytes as the linker wrote it.
    pub bytes: u64,
    /// Bytes after stripping, when a strip tool for the target was found.
    pub stripped_bytes: Option<u64>,
}

/// What `cargo xtask build` made.
#[derive(Debug, Serialize)]
pub struct Built {
    /// The profile.
    pub profile: String,
    /// The target triple.
    pub triple: String,
    /// The daemon features built.
    pub features: Vec<String>,
    /// The Cargo profile.
    pub cargo_profile: String,
    /// `cargo` or `cross`.
    pub tool: String,
    /// Where the result is.
    pub out: PathBuf,
    /// The binaries.
    pub binaries: Vec<Binary>,
}

fn output(command: &mut Command) -> Result<String> {
    let out = command.output().with_context(|| format!("cannot run {command:?}"))?;
    if !out.status.success() {
        bail!("{command:?} failed: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn host_triple() -> Result<String> {
    let verbose = output(Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into())).arg("-vV"))?;
    verbose
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(str::to_owned)
        .context("rustc -vV names no host triple")
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(tool).is_file()))
}

/// How the profile's triple is built here: `cargo` for this machine's triple or an installed
/// target, else `cross`; an error with the ways out when neither can.
fn tool_for(triple: &str) -> Result<&'static str> {
    if host_triple()? == triple {
        return Ok("cargo");
    }
    let installed = output(Command::new("rustup").args(["target", "list", "--installed"])).unwrap_or_default();
    if installed.lines().any(|t| t.trim() == triple) {
        return Ok("cargo");
    }
    if on_path("cross") {
        return Ok("cross");
    }
    bail!(
        "cannot build for {triple} on this machine: install its standard library and linker \
         (`rustup target add {triple}`), or install cross (`cargo install cross`, with Docker or \
         Podman) so that cross.toml's image builds it — or let the CI workflow's {triple} runner build it"
    )
}

/// The strip tool for `triple`, if this machine has one.
fn strip_tool(triple: &str, host: bool) -> Option<String> {
    if host && on_path("strip") {
        return Some("strip".into());
    }
    if on_path("llvm-strip") {
        return Some("llvm-strip".into());
    }
    let gnu = format!("{}-strip", triple.replace("-unknown-", "-"));
    on_path(&gnu).then_some(gnu)
}

/// The features `gpu` (forced on or off, or as the profile says) gives.
pub fn features(profile: &Profile, gpu: Option<bool>) -> Vec<String> {
    let mut features: Vec<String> = profile.features.iter().filter(|f| f.as_str() != "gpu").cloned().collect();
    if gpu.unwrap_or_else(|| profile.features.iter().any(|f| f == "gpu")) {
        features.push("gpu".into());
    }
    features
}

/// Builds `profile` with Cargo profile `cargo_profile` into `out`.
pub fn build(profile: &Profile, gpu: Option<bool>, cargo_profile: &str, out: &Path) -> Result<Built> {
    let features = features(profile, gpu);
    if gpu == Some(false) && profile.daemon.get("backend").and_then(|b| b.as_str()) == Some("wgpu") {
        bail!("the {} profile's daemon uses backend = \"wgpu\": a build without gpu could not start it", profile.name);
    }
    let tool = tool_for(&profile.triple)?;
    let host = host_triple()? == profile.triple;
    let root = workspace();
    let mut command = Command::new(tool);
    command.current_dir(&root).args(["build", "--package", "edgecoder-daemon", "--bins", "--profile", cargo_profile]);
    if !host {
        command.args(["--target", &profile.triple]);
    }
    if !features.is_empty() {
        command.args(["--features", &features.join(",")]);
    }
    eprintln!("cargo xtask: {} for {} ({})", [tool, "build", "--target", &profile.triple].join(" "), profile.name, profile.description);
    let status = command.status().with_context(|| format!("cannot run {tool}"))?;
    if !status.success() {
        bail!("{tool} build for {} failed ({status})", profile.triple);
    }
    let target_dir = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target"));
    let profile_dir = if cargo_profile == "dev" { "debug" } else { cargo_profile };
    let built_dir = if host { target_dir.join(profile_dir) } else { target_dir.join(&profile.triple).join(profile_dir) };
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let strip = strip_tool(&profile.triple, host);
    let mut binaries = Vec::new();
    for name in BINARIES {
        let file = format!("{name}{}", profile.exe_suffix());
        let from = built_dir.join(&file);
        let to = out.join(&file);
        std::fs::copy(&from, &to).with_context(|| format!("cannot copy {} to {}", from.display(), to.display()))?;
        let bytes = std::fs::metadata(&to)?.len();
        let stripped_bytes = match &strip {
            Some(strip) => {
                output(Command::new(strip).arg(&to))?;
                Some(std::fs::metadata(&to)?.len())
            }
            None => None,
        };
        binaries.push(Binary { name: file, bytes, stripped_bytes });
    }
    std::fs::write(out.join("edgecoderd.toml"), profile.daemon_config())?;
    std::fs::write(out.join("edgecoderd.env"), profile.environment_file())?;
    let built = Built {
        profile: profile.name.clone(),
        triple: profile.triple.clone(),
        features,
        cargo_profile: cargo_profile.to_owned(),
        tool: tool.to_owned(),
        out: out.to_owned(),
        binaries,
    };
    std::fs::write(out.join("build.json"), serde_json::to_string_pretty(&built)?)?;
    Ok(built)
}

/// Prints a build as a table.
pub fn print(built: &Built) {
    let mib = |b: u64| format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0));
    println!("{} ({}, features: {}, {} profile, {})", built.profile, built.triple, if built.features.is_empty() { "-".into() } else { built.features.join(",") }, built.cargo_profile, built.tool);
    println!("{:<16} {:>12} {:>12}", "binary", "size", "stripped");
    for b in &built.binaries {
        println!("{:<16} {:>12} {:>12}", b.name, mib(b.bytes), b.stripped_bytes.map_or("-".into(), mib));
    }
    println!("written to {} (with edgecoderd.toml, edgecoderd.env, build.json)", built.out.display());
}

/// One `cargo` run of `check-cfg`.
pub struct CfgCheck {
    /// `check` or `test`.
    pub command: &'static str,
    /// Its arguments.
    pub args: Vec<&'static str>,
    /// Built with `--cfg edgecoder_portable`: the code paths of platforms without Unix sockets
    /// and process sandboxes (Windows), compiled and run on this machine.
    pub portable: bool,
}

/// What `check-cfg` runs: every crate's defaults, each optional feature, the protocol crate's
/// `no_std` builds, and the portable paths (checked with warnings as errors, and the executor's
/// portable run tested).
pub fn cfg_checks() -> Vec<CfgCheck> {
    let check = |args: Vec<&'static str>| CfgCheck { command: "check", args, portable: false };
    let portable = |command, args| CfgCheck { command, args, portable: true };
    vec![
        check(vec!["--workspace", "--all-targets"]),
        check(vec!["--package", "edgecoder-daemon", "--features", "gpu"]),
        check(vec!["--package", "edgecoder-protocol", "--no-default-features"]),
        check(vec!["--package", "edgecoder-protocol", "--no-default-features", "--features", "alloc"]),
        check(vec!["--package", "edgecoder-protocol", "--no-default-features", "--features", "embedded-svc"]),
        check(vec!["--package", "edgecoder-protocol", "--features", "signatures,openapi,embedded-svc"]),
        portable("check", vec!["--package", "edgecoder-executor", "--package", "edgecoder-daemon", "--lib", "--bins"]),
        portable("check", vec!["--package", "edgecoder-executor", "--package", "edgecoder-daemon", "--lib", "--profile", "test"]),
        portable("test", vec!["--package", "edgecoder-executor", "--lib", "sandbox::portable"]),
    ]
}

/// Runs (or prints) every cfg check; whether all passed. The portable builds get a target
/// folder of their own (`<target>/portable`), so that the usual one is not rebuilt.
pub fn check_cfg(dry_run: bool) -> Result<bool> {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| workspace().join("target"), PathBuf::from);
    let mut failed = Vec::new();
    for check in cfg_checks() {
        let flags = if check.portable { "RUSTFLAGS='--cfg edgecoder_portable -D warnings' " } else { "" };
        let line = format!("{flags}cargo {} {}", check.command, check.args.join(" "));
        eprintln!("cargo xtask: {line}");
        if dry_run {
            continue;
        }
        let mut cargo = Command::new("cargo");
        cargo.current_dir(workspace()).arg(check.command).args(&check.args);
        if check.portable {
            cargo.env("RUSTFLAGS", "--cfg edgecoder_portable -D warnings").env("CARGO_TARGET_DIR", target.join("portable"));
        }
        if !cargo.status()?.success() {
            failed.push(line);
        }
    }
    if !failed.is_empty() {
        eprintln!("cargo xtask: failed:\n  {}", failed.join("\n  "));
    }
    Ok(failed.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gpu_follows_the_profile_unless_forced() {
        let dir = crate::profile::default_dir();
        let jetson = crate::profile::load(&dir, "jetson-orin-nano").unwrap();
        let pi = crate::profile::load(&dir, "pi5").unwrap();
        assert_eq!(features(&jetson, None), ["gpu"]);
        assert!(features(&jetson, Some(false)).is_empty());
        assert!(features(&pi, None).is_empty());
        assert_eq!(features(&pi, Some(true)), ["gpu"]);
        let e = build(&jetson, Some(false), "release", Path::new("/nonexistent")).unwrap_err().to_string();
        assert!(e.contains("backend = \"wgpu\""), "{e}");
    }

    #[test]
    fn a_foreign_target_without_a_toolchain_names_the_ways_out() {
        if on_path("cross") {
            return;
        }
        let e = tool_for("riscv64gc-unknown-linux-gnu").unwrap_err().to_string();
        assert!(e.contains("rustup target add riscv64gc-unknown-linux-gnu") && e.contains("cargo install cross"), "{e}");
        assert_eq!(tool_for(&host_triple().unwrap()).unwrap(), "cargo");
    }
}
