//! Shared by the ota tests: wheels written like a build backend writes them, and a package
//! index on loopback that serves them through the JSON simple API (PEP 691), as pypi.org does.

#![allow(dead_code)]

use sha2::{Digest, Sha256};
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Lower-case hex sha256.
pub fn sha_hex(data: &[u8]) -> String {
    Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

/// Deterministic pseudo-random bytes (xorshift), so the content is not trivially compressible.
pub fn bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Writes a minimal but valid wheel `NAME-VERSION-py3-none-any.whl` holding `member`.
pub fn write_wheel(dir: &Path, name: &str, version: &str, member: &str, data: &[u8]) {
    write_wheel_files(dir, name, version, &[(member, data)]);
}

/// Writes a minimal but valid wheel holding each `(member, data)`.
pub fn write_wheel_files(dir: &Path, name: &str, version: &str, members: &[(&str, &[u8])]) {
    let module = name.replace('-', "_");
    let path = dir.join(format!("{module}-{version}-py3-none-any.whl"));
    let mut zip = zip::ZipWriter::new(fs::File::create(path).unwrap());
    let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    let dist = format!("{module}-{version}.dist-info");
    let mut files: Vec<(String, Vec<u8>)> = members.iter().map(|(m, d)| ((*m).to_owned(), d.to_vec())).collect();
    files.extend([
        (format!("{module}/__init__.py"), Vec::new()),
        (format!("{dist}/METADATA"), format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n").into_bytes()),
        (format!("{dist}/WHEEL"), b"Wheel-Version: 1.0\nGenerator: edgecoder-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n".to_vec()),
        (format!("{dist}/top_level.txt"), format!("{module}\n").into_bytes()),
        (format!("{dist}/RECORD"), Vec::new()),
    ]);
    for (n, content) in files {
        zip.start_file(n, opts).unwrap();
        zip.write_all(&content).unwrap();
    }
    zip.finish().unwrap();
}

/// A package index serving the wheels of one folder.
pub struct IndexServer {
    /// The index URL (`http://127.0.0.1:PORT/simple/`).
    pub url: String,
    /// The same projects as an HTML-only index (which this client does not speak).
    pub html_url: String,
    requests: Arc<Mutex<Vec<String>>>,
}

impl IndexServer {
    /// The paths asked for so far, in order.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

/// PEP 503 normalisation, as an index applies it.
fn normalize(name: &str) -> String {
    name.to_ascii_lowercase().replace(['_', '.'], "-")
}

/// Serves `/simple/{project}/` (JSON simple API: file name, relative URL, sha256, size) and
/// `/files/{wheel}` from the wheels in `wheels`; an unknown project or file is a 404.
pub fn index_server(wheels: PathBuf) -> IndexServer {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = requests.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                    break;
                }
            }
            let path = request_line.split_whitespace().nth(1).unwrap_or("").to_owned();
            seen.lock().unwrap().push(path.clone());
            let (status, content_type, body) = answer(&wheels, &path);
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(&body);
        }
    });
    IndexServer { url: format!("{base}/simple/"), html_url: format!("{base}/html/"), requests }
}

fn answer(wheels: &Path, path: &str) -> (&'static str, &'static str, Vec<u8>) {
    let not_found = ("404 Not Found", "text/plain", b"not found".to_vec());
    if let Some(project) = path.strip_prefix("/simple/").and_then(|p| p.strip_suffix('/')) {
        let mut files = Vec::new();
        for entry in fs::read_dir(wheels).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            let Some(dist) = name.strip_suffix(".whl").and_then(|s| s.split('-').next()) else { continue };
            if normalize(dist) == project {
                let data = fs::read(wheels.join(&name)).unwrap();
                files.push(serde_json::json!({
                    "filename": name,
                    "url": format!("../../files/{name}"),
                    "hashes": {"sha256": sha_hex(&data)},
                    "size": data.len(),
                }));
            }
        }
        if files.is_empty() {
            return not_found;
        }
        let page = serde_json::json!({"meta": {"api-version": "1.1"}, "name": project, "files": files});
        return ("200 OK", "application/vnd.pypi.simple.v1+json", page.to_string().into_bytes());
    }
    if path.starts_with("/html/") {
        return ("200 OK", "text/html", b"<html><body><a href=\"x.whl\">x.whl</a></body></html>".to_vec());
    }
    if let Some(file) = path.strip_prefix("/files/") {
        return match fs::read(wheels.join(file)) {
            Ok(data) if !file.contains('/') => ("200 OK", "application/octet-stream", data),
            _ => not_found,
        };
    }
    not_found
}
