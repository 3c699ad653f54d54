//! The daemon under systemd's protocols, against real unix datagram sockets: `sd_notify`
//! (`READY`, `STATUS`, `WATCHDOG`, `STOPPING` on `NOTIFY_SOCKET`) and native journald entries
//! (a socket bound where journald's is, inside a private mount namespace made with `unshare`),
//! and the fallback to stderr when `JOURNAL_STREAM` is set but there is no journal.

mod support;

use std::ffi::OsStr;
use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use support::Daemon;

const SMOL: &str = "smollm2-135m";

/// Datagrams received on `socket` until `done` says so (or 120 s pass).
fn receive_until(socket: &UnixDatagram, mut done: impl FnMut(&[Vec<u8>]) -> bool) -> Vec<Vec<u8>> {
    socket.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut got = Vec::new();
    let mut buffer = vec![0u8; 1 << 16];
    while !done(&got) {
        assert!(Instant::now() < deadline, "gave up waiting; received so far: {:?}", got.iter().map(|d| String::from_utf8_lossy(d)).collect::<Vec<_>>());
        if let Ok(n) = socket.recv(&mut buffer) {
            got.push(buffer[..n].to_vec());
        }
    }
    got
}

fn has(datagrams: &[Vec<u8>], needle: &str) -> bool {
    datagrams.iter().any(|d| d.windows(needle.len()).any(|w| w == needle.as_bytes()))
}

#[test]
fn sd_notify_sends_ready_status_watchdog_and_stopping() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&path).unwrap();
    let mut daemon = Daemon::start_with(
        SMOL,
        "",
        &[("NOTIFY_SOCKET", path.as_os_str()), ("WATCHDOG_USEC", OsStr::new("400000"))],
        &[],
    );
    let start = receive_until(&socket, |got| has(got, "READY=1") && got.iter().filter(|d| d.trim_ascii_end() == b"WATCHDOG=1").count() >= 2);
    let texts: Vec<String> = start.iter().map(|d| String::from_utf8_lossy(d).into_owned()).collect();
    let loading = texts.iter().position(|t| t.trim_end() == format!("STATUS=loading {SMOL}")).unwrap_or_else(|| panic!("{texts:?}"));
    let ready = texts.iter().position(|t| t.starts_with("READY=1\nSTATUS=serving edgecoder-local on unix:")).unwrap_or_else(|| panic!("{texts:?}"));
    assert!(loading < ready, "{texts:?}");
    assert!(daemon.terminate(Duration::from_secs(30)).is_some_and(|s| s.success()));
    let stop = receive_until(&socket, |got| has(got, "STOPPING=1"));
    assert!(has(&stop, "STATUS=stopping"), "{stop:?}");
}

#[test]
fn logs_go_to_the_journal_socket_natively_under_systemd() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal");
    std::fs::create_dir(&journal).unwrap();
    let socket = UnixDatagram::bind(journal.join("socket")).unwrap();
    // A private mount namespace in which journald's socket path is this test's socket.
    let script = "mount -t tmpfs none /run && mkdir -p /run/systemd/journal && mount --bind \"$0\" /run/systemd/journal && exec \"$@\"";
    let wrapper = [OsStr::new("unshare"), OsStr::new("--user"), OsStr::new("--map-root-user"), OsStr::new("--mount"), OsStr::new("sh"), OsStr::new("-c"), OsStr::new(script), journal.as_os_str()];
    let daemon = Daemon::start_with(SMOL, "", &[("JOURNAL_STREAM", OsStr::new("8:12345"))], &wrapper);
    let got = receive_until(&socket, |got| has(got, "edgecoderd ready"));
    let entry = got.iter().find(|d| has(std::slice::from_ref(d), "edgecoderd ready")).unwrap();
    for field in ["MESSAGE", "PRIORITY", "SYSLOG_IDENTIFIER", "edgecoderd", "F_LISTENING", "CODE_FILE", "TARGET"] {
        assert!(has(std::slice::from_ref(entry), field), "{field} missing in {:?}", String::from_utf8_lossy(entry));
    }
    assert!(!daemon.log().contains("edgecoderd ready"), "with a journal the log does not go to stderr:\n{}", daemon.log());
}

#[test]
fn without_a_journal_socket_logs_fall_back_to_stderr() {
    let daemon = Daemon::start_with(SMOL, "", &[("JOURNAL_STREAM", OsStr::new("8:12345"))], &[
        OsStr::new("unshare"), OsStr::new("--user"), OsStr::new("--map-root-user"), OsStr::new("--mount"), OsStr::new("sh"), OsStr::new("-c"),
        OsStr::new("mount -t tmpfs none /run && exec \"$@\""), OsStr::new("sh"),
    ]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !daemon.log().contains("edgecoderd ready") {
        assert!(Instant::now() < deadline, "{}", daemon.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    let log = daemon.log();
    assert!(log.contains("the journal socket cannot be used: logging to stderr"), "{log}");
}
