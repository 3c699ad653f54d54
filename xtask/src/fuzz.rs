//! `cargo xtask fuzz`: runs the protocol's cargo-fuzz targets (`protocol/fuzz`) for a fixed time
//! each and reports what libFuzzer did — runs, speed, coverage, and whether a target crashed.
//! The stable toolchain serves: its sanitizer runtimes are shipped, and `RUSTC_BOOTSTRAP=1`
//! admits the `-Z` flags cargo-fuzz passes.

use anyhow::{Context, Result, bail};
use serde::Serialize;
use std::path::Path;
use std::process::Command;

/// What one target's run did.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TargetRun {
    /// The fuzz target (one message decoder).
    pub target: String,
    /// Inputs tried.
    pub runs: u64,
    /// Seconds it ran.
    pub seconds: u64,
    /// Edges of the decoder's code the inputs reached (libFuzzer's `cov`).
    pub coverage: u64,
    /// Inputs kept in the corpus.
    pub corpus: u64,
    /// Whether it found an input that panicked or broke a check (the input is kept under
    /// `protocol/fuzz/artifacts/TARGET/`).
    pub crashed: bool,
}

/// The targets listed in `protocol/fuzz/Cargo.toml`.
pub fn targets(fuzz_dir: &Path) -> Result<Vec<String>> {
    let manifest = fuzz_dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).with_context(|| format!("reading {}", manifest.display()))?;
    let parsed: toml::Table = toml::from_str(&text).with_context(|| format!("parsing {}", manifest.display()))?;
    let bins = parsed.get("bin").and_then(|b| b.as_array()).map(Vec::as_slice).unwrap_or_default();
    Ok(bins.iter().filter_map(|b| b.get("name")?.as_str().map(str::to_owned)).collect())
}

/// Reads libFuzzer's output: the last `#N ... cov: C ... corp: K/...` status line and the
/// `Done N runs in S second(s)` line.
pub fn parse(target: &str, output: &str, crashed: bool) -> TargetRun {
    let mut run = TargetRun { target: target.to_owned(), runs: 0, seconds: 0, coverage: 0, corpus: 0, crashed };
    let number = |word: Option<&str>| word.and_then(|w| w.split('/').next()?.parse::<u64>().ok()).unwrap_or(0);
    for line in output.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if let Some(status) = words.first().and_then(|w| w.strip_prefix('#'))
            && let Ok(runs) = status.parse::<u64>()
        {
            run.runs = runs;
            for pair in words.windows(2) {
                match pair[0] {
                    "cov:" => run.coverage = number(Some(pair[1])),
                    "corp:" => run.corpus = number(Some(pair[1])),
                    _ => {}
                }
            }
        }
        if let ["Done", runs, "runs", "in", seconds, ..] = words.as_slice() {
            run.runs = runs.parse().unwrap_or(run.runs);
            run.seconds = seconds.parse().unwrap_or(0);
        }
    }
    run
}

/// Runs each of `only` (all targets when empty) for `seconds`; prints a table and writes the
/// runs as JSON to `json`. `Ok(false)` when a target crashed.
pub fn run(workspace: &Path, only: &[String], seconds: u64, json: &Path) -> Result<bool> {
    let protocol = workspace.join("protocol");
    let all = targets(&protocol.join("fuzz"))?;
    if let Some(unknown) = only.iter().find(|t| !all.contains(t)) {
        bail!("no fuzz target {unknown:?}; the targets are {}", all.join(", "));
    }
    let chosen: Vec<&String> = if only.is_empty() { all.iter().collect() } else { only.iter().collect() };
    let installed = Command::new("cargo").args(["fuzz", "--version"]).output();
    if !installed.is_ok_and(|o| o.status.success()) {
        bail!("cargo-fuzz is not installed: run `cargo install cargo-fuzz`, then this again");
    }
    let mut runs = Vec::new();
    for target in chosen {
        eprintln!("fuzzing {target} for {seconds} s");
        let output = Command::new("cargo")
            .current_dir(&protocol)
            .env("RUSTC_BOOTSTRAP", "1")
            .args(["fuzz", "run", target.as_str(), "--", &format!("-max_total_time={seconds}"), "-print_final_stats=1"])
            .output()
            .with_context(|| format!("running cargo fuzz run {target}"))?;
        let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        let parsed = parse(target, &text, !output.status.success());
        if parsed.runs == 0 {
            bail!("cargo fuzz run {target} ran nothing ({}):\n{}", output.status, tail(&text, 40));
        }
        if parsed.crashed {
            eprintln!("{}", tail(&text, 40));
        }
        runs.push(parsed);
    }
    println!("{:<10} {:>12} {:>6} {:>10} {:>9} {:>7}  crashed", "target", "runs", "s", "runs/s", "coverage", "corpus");
    for r in &runs {
        println!(
            "{:<10} {:>12} {:>6} {:>10} {:>9} {:>7}  {}",
            r.target,
            r.runs,
            r.seconds,
            r.runs / r.seconds.max(1),
            r.coverage,
            r.corpus,
            if r.crashed { "YES" } else { "no" }
        );
    }
    std::fs::write(json, serde_json::to_vec_pretty(&runs)?).with_context(|| format!("writing {}", json.display()))?;
    Ok(runs.iter().all(|r| !r.crashed))
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libfuzzer_output_is_read() {
        let output = "INFO: Seed: 1\n#2\tINITED cov: 42 ft: 43 corp: 1/1b exec/s: 0 rss: 30Mb\n\
                      #262144\tpulse  cov: 310 ft: 900 corp: 120/2410b lim: 2500 exec/s: 87381 rss: 60Mb\n\
                      #1048576\tpulse  cov: 315 ft: 950 corp: 131/2622b lim: 4096 exec/s: 95325 rss: 61Mb\n\
                      Done 1190523 runs in 11 second(s)\nstat::number_of_executed_units: 1190523\n";
        let run = parse("work", output, false);
        assert_eq!(run, TargetRun { target: "work".into(), runs: 1_190_523, seconds: 11, coverage: 315, corpus: 131, crashed: false });
    }

    #[test]
    fn every_target_of_the_fuzz_crate_is_found() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../protocol/fuzz");
        let found = targets(&dir).unwrap();
        for expected in ["envelope", "hello", "heartbeat", "ask", "work", "result", "status", "policy", "manifest", "model", "features"] {
            assert!(found.iter().any(|t| t == expected), "{expected} in {found:?}");
        }
    }
}
