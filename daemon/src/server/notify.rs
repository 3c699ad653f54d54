//! systemd integration: `READY=1`, `STATUS=...` and watchdog pings through libsystemd's
//! `sd_notify` (the `systemd` crate) when the daemon runs under systemd (`NOTIFY_SOCKET` set);
//! nothing otherwise, and nothing on platforms without systemd.

use std::time::Duration;

/// Whether systemd asked for notifications.
pub fn enabled() -> bool {
    cfg!(target_os = "linux") && std::env::var_os("NOTIFY_SOCKET").is_some()
}

#[cfg(target_os = "linux")]
fn send(states: &[(&str, &str)]) {
    if enabled()
        && let Err(error) = systemd::daemon::notify(states.iter())
    {
        tracing::warn!(%error, "sd_notify failed");
    }
}

#[cfg(not(target_os = "linux"))]
fn send(_states: &[(&str, &str)]) {}

/// The watchdog interval systemd set for this process (`WATCHDOG_USEC`), if any.
#[cfg(target_os = "linux")]
fn watchdog_interval() -> Option<Duration> {
    match systemd::daemon::watchdog_enabled() {
        Ok(0) => None,
        Ok(usec) => Some(Duration::from_micros(usec)),
        Err(error) => {
            tracing::warn!(%error, "sd_watchdog_enabled failed: no watchdog pings");
            None
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn watchdog_interval() -> Option<Duration> {
    None
}

/// Tells systemd what the daemon is doing.
pub fn status(text: &str) {
    send(&[("STATUS", text)]);
}

/// Tells systemd the daemon is ready, with a status line.
pub fn ready(text: &str) {
    send(&[("READY", "1"), ("STATUS", text)]);
}

/// Tells systemd the daemon is stopping.
pub fn stopping() {
    send(&[("STOPPING", "1"), ("STATUS", "stopping")]);
}

/// Pings the watchdog at half its interval for as long as the returned task runs (only when
/// systemd set `WATCHDOG_USEC` for this process).
pub fn spawn_watchdog() -> Option<tokio::task::JoinHandle<()>> {
    let interval = watchdog_interval()?;
    let period = (interval / 2).max(Duration::from_millis(100));
    Some(tokio::spawn(async move {
        let mut ticks = tokio::time::interval(period);
        loop {
            ticks.tick().await;
            send(&[("WATCHDOG", "1")]);
        }
    }))
}
