//! `cargo xtask`: EdgeCoder's build tasks.
//!
//! - `cargo xtask profiles [--json]` lists the device profiles of `targets/`.
//! - `cargo xtask build --target-profile pi5` builds `edgecoderd` and `edgecoder` for a device
//!   class (cargo for this machine's triple or an installed target, else `cross`), strips them,
//!   and writes `dist/<profile>/` with the binaries, the device's `edgecoderd.toml` and
//!   `edgecoderd.env`, and `build.json` (sizes, features, tool).
//! - `cargo xtask check-cfg` runs `cargo check` on every feature combination this machine can
//!   check, and the portable code paths (`--cfg edgecoder_portable`: no Unix socket, no process
//!   sandbox — what Windows builds) with warnings as errors; the other targets' own `cfg`s need
//!   their runners (see the CI workflow).
//! - `cargo xtask fuzz [--seconds 60] [--target NAME]…` runs the swarm decoders' cargo-fuzz
//!   targets for a fixed time each and reports runs, speed, coverage and crashes.

mod dist;
mod fuzz;
mod profile;

use anyhow::Result;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// EdgeCoder's build tasks.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", version)]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// List the device profiles (targets/*.toml).
    Profiles {
        /// Print a JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Build the daemon and CLI for a device profile into dist/<profile>/.
    Build {
        /// The profile: a file name in targets/ without .toml (pi4, pi5, jetson-orin-nano,
        /// laptop-linux, macos, windows, android-termux).
        #[arg(long, value_name = "NAME")]
        target_profile: String,
        /// Build with the wgpu backend even if the profile does not.
        #[arg(long, conflicts_with = "no_gpu")]
        gpu: bool,
        /// Build without the wgpu backend even if the profile has it.
        #[arg(long)]
        no_gpu: bool,
        /// The Cargo profile.
        #[arg(long, default_value = "release")]
        cargo_profile: String,
        /// Where to put the result (default: dist/<profile> in the workspace).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// `cargo check` every feature combination that can be checked on this machine.
    CheckCfg {
        /// Print the commands without running them.
        #[arg(long)]
        dry_run: bool,
    },
    /// Fuzz the swarm message decoders (protocol/fuzz, needs `cargo install cargo-fuzz`) for a
    /// fixed time each; prints runs, speed and coverage per target and writes them as JSON.
    /// Fails when a target finds a crash (the input is kept in protocol/fuzz/artifacts/).
    Fuzz {
        /// Seconds per target.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        /// Only these targets (default: all).
        #[arg(long = "target", value_name = "NAME")]
        targets: Vec<String>,
        /// Where the JSON report goes.
        #[arg(long, default_value = "fuzz-report.json")]
        json: PathBuf,
    },
}

fn run(cli: Cli) -> Result<bool> {
    let dir = profile::default_dir();
    match cli.task {
        Task::Profiles { json } => {
            let profiles = profile::names(&dir)?.iter().map(|n| profile::load(&dir, n)).collect::<Result<Vec<_>>>()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&profiles)?);
            } else {
                println!("{:<18} {:<28} {:<8} {:<7} {:>7}  description", "profile", "triple", "features", "package", "mem MiB");
                for p in &profiles {
                    let features = if p.features.is_empty() { "-".to_owned() } else { p.features.join(",") };
                    let package = serde_json::to_value(p.package)?.as_str().unwrap_or_default().to_owned();
                    println!("{:<18} {:<28} {:<8} {:<7} {:>7}  {}", p.name, p.triple, features, package, p.memory_budget_mb, p.description);
                }
            }
            Ok(true)
        }
        Task::Build { target_profile, gpu, no_gpu, cargo_profile, out, json } => {
            let profile = profile::load(&dir, &target_profile)?;
            let gpu = if gpu { Some(true) } else if no_gpu { Some(false) } else { None };
            let out = out.unwrap_or_else(|| dist::workspace().join("dist").join(&profile.name));
            let built = dist::build(&profile, gpu, &cargo_profile, &out)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&built)?);
            } else {
                dist::print(&built);
            }
            Ok(true)
        }
        Task::CheckCfg { dry_run } => dist::check_cfg(dry_run),
        Task::Fuzz { seconds, targets, json } => fuzz::run(&dist::workspace(), &targets, seconds, &json),
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("cargo xtask: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
