//! systemd integration: `READY=1`, `STATUS=...` and watchdog pings through `sd_notify` when
//! the daemon runs under systemd (`NOTIFY_SOCKET` set); nothing otherwise.

use std::time::Duration;

use sd_notify::NotifyState;

/// Whether systemd asked for notifications.
pub fn enabled() -> bool {
    std::env::var_os("NOTIFY_SOCKET").is_some()
}

fn send(states: &[NotifyState]) {
    if enabled()
        && let Err(error) = sd_notify::notify(states)
    {
        tracing::warn!(%error, "sd_notify failed");
    }
}

/// Tells systemd what the daemon is doing.
pub fn status(text: &str) {
    send(&[NotifyState::Status(text)]);
}

/// Tells systemd the daemon is ready, with a status line.
pub fn ready(text: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(text)]);
}

/// Tells systemd the daemon is stopping.
pub fn stopping() {
    send(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
}

/// Pings the watchdog at half its interval for as long as the returned task runs (only when
/// systemd set `WATCHDOG_USEC` for this process).
pub fn spawn_watchdog() -> Option<tokio::task::JoinHandle<()>> {
    let interval = sd_notify::watchdog_enabled()?;
    let period = (interval / 2).max(Duration::from_millis(100));
    Some(tokio::spawn(async move {
        let mut ticks = tokio::time::interval(period);
        loop {
            ticks.tick().await;
            send(&[NotifyState::Watchdog]);
        }
    }))
}
