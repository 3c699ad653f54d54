//! Listeners and the accept loop: the unix socket (mode 0600; Linux and macOS) and the TCP
//! address (optional there, the only listener elsewhere),
//! served with hyper's HTTP/1 connection builder so that a client that dribbles its request
//! headers (slow loris) is cut off after `header_timeout_secs`, and connections drain gracefully
//! on shutdown.

use std::future::Future;
#[cfg(all(unix, not(edgecoder_portable)))]
use std::path::Path;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
#[cfg(all(unix, not(edgecoder_portable)))]
use tokio::net::UnixListener;
use tokio::sync::watch;
use tower::ServiceExt;

use super::guard::Peer;

/// Binds the unix socket at `path` with mode 0600, or 0660 when shared with the group (a new
/// directory for it gets 0700), replacing a stale socket file but refusing to take over from a
/// daemon that still answers there.
#[cfg(all(unix, not(edgecoder_portable)))]
pub async fn bind_unix(path: &Path, sharing: super::token::Sharing) -> std::io::Result<UnixListener> {
    if let Some(dir) = path.parent() {
        super::token::create_private_dir(dir)?;
    }
    if path.exists() {
        if tokio::net::UnixStream::connect(path).await.is_ok() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AddrInUse,
                format!("another daemon is already listening on {} (stop it first, or set socket in the config)", path.display()),
            ));
        }
        std::fs::remove_file(path)?;
    }
    // The socket file is created by bind(): a restrictive umask gives it its mode from the start.
    let mode = sharing.mode() | (sharing.mode() & 0o040) >> 1;
    // SAFETY: umask only swaps the process's file-creation mask; it cannot fail.
    let previous = unsafe { libc::umask(0o777 & !mode) };
    let listener = UnixListener::bind(path);
    // SAFETY: as above, restoring the previous mask.
    unsafe { libc::umask(previous) };
    let listener = listener?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    Ok(listener)
}

/// Serves `app` on every connection `accept` yields until `stop` fires, then gives in-flight
/// requests `grace` to finish before they are cancelled.
pub async fn serve<F, Fut, Io>(
    mut accept: F,
    app: Router,
    header_timeout: Duration,
    mut stop: watch::Receiver<bool>,
    grace: Duration,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = std::io::Result<(Io, Peer)>>,
    Io: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let graceful = GracefulShutdown::new();
    loop {
        let accepted = tokio::select! {
            accepted = accept() => accepted,
            _ = async { let _ = stop.wait_for(|stop| *stop).await; } => break,
        };
        let (io, peer) = match accepted {
            Ok(connection) => connection,
            Err(error) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let service = TowerToHyperService::new(app.clone().map_request(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(peer.clone());
            request
        }));
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout)
            .serve_connection(TokioIo::new(io), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection closed with an error");
            }
        });
    }
    if tokio::time::timeout(grace, graceful.shutdown()).await.is_err() {
        tracing::warn!(grace_secs = grace.as_secs(), "requests still running after the grace period are cancelled");
    }
}

/// A pending accept: the connection and who is on the other end.
pub type Accepting<'a, Io> = std::pin::Pin<Box<dyn Future<Output = std::io::Result<(Io, Peer)>> + Send + 'a>>;

/// The accept function of a TCP listener.
pub fn tcp<'a>(listener: &'a TcpListener) -> impl FnMut() -> Accepting<'a, tokio::net::TcpStream> + 'a {
    move || {
        Box::pin(async move {
            let (stream, address) = listener.accept().await?;
            stream.set_nodelay(true)?;
            Ok((stream, Peer { loopback: address.ip().is_loopback(), address: address.to_string() }))
        })
    }
}

/// The accept function of a unix listener.
#[cfg(all(unix, not(edgecoder_portable)))]
pub fn unix<'a>(listener: &'a UnixListener) -> impl FnMut() -> Accepting<'a, tokio::net::UnixStream> + 'a {
    move || {
        Box::pin(async move {
            let (stream, _) = listener.accept().await?;
            Ok((stream, Peer { loopback: true, address: "unix".into() }))
        })
    }
}

#[cfg(all(test, unix, not(edgecoder_portable)))]
mod tests {
    use super::*;
    use crate::server::token::Sharing;
    use std::os::unix::fs::PermissionsExt;

    #[tokio::test]
    async fn the_socket_is_the_owners_unless_shared_with_the_group() {
        let dir = tempfile::tempdir().unwrap();
        for (name, sharing, wanted) in [("own.sock", Sharing::Owner, 0o600), ("group.sock", Sharing::Group, 0o660)] {
            let path = dir.path().join("run").join(name);
            let _listener = bind_unix(&path, sharing).await.unwrap();
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, wanted, "{name}");
        }
        assert_eq!(std::fs::metadata(dir.path().join("run")).unwrap().permissions().mode() & 0o777, 0o700);
    }
}
