//! Whether the policy lets the worker take work now: enabled, inside a time window, and — for
//! idle-only policies — the device's user away long enough.

use edgecoder_protocol::swarm::Policy;

/// What the gate looks at besides the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conditions {
    /// Day of the week in local time, 0 = Monday.
    pub weekday: u8,
    /// Minute of the day in local time (0–1439).
    pub minute: u16,
    /// Seconds since the user's last input (`u32::MAX`: no user input devices).
    pub user_idle_s: u32,
}

/// Why the worker may not take work now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// No policy has arrived yet.
    #[error("no policy received from the coordinator yet")]
    NoPolicy,
    /// The policy turns swarm work off.
    #[error("swarm work is disabled by policy")]
    Disabled,
    /// Outside every time window.
    #[error("outside the policy's time windows")]
    OutsideWindow,
    /// The user is at the device.
    #[error("the user was active {idle_s} s ago; work starts after {needed_s} s idle")]
    UserActive {
        /// Seconds since the last input.
        idle_s: u32,
        /// Seconds needed.
        needed_s: u32,
    },
}

/// `Ok` when `policy` allows work under `now`.
pub fn may_work(policy: Option<&Policy>, now: &Conditions) -> Result<(), Refusal> {
    let policy = policy.ok_or(Refusal::NoPolicy)?;
    if !policy.enabled {
        return Err(Refusal::Disabled);
    }
    if !policy.in_window(now.weekday, now.minute) {
        return Err(Refusal::OutsideWindow);
    }
    if policy.idle_only && now.user_idle_s < policy.idle_after_s {
        return Err(Refusal::UserActive { idle_s: now.user_idle_s, needed_s: policy.idle_after_s });
    }
    Ok(())
}

/// The local day of the week (0 = Monday) and minute of the day.
pub fn local_time() -> (u8, u16) {
    #[cfg(unix)]
    {
        let now = unsafe { libc::time(std::ptr::null_mut()) };
        let mut tm: libc::tm = unsafe { std::mem::zeroed() };
        // SAFETY: `now` and `tm` are valid for the call; localtime_r is thread-safe.
        if !unsafe { libc::localtime_r(&now, &mut tm) }.is_null() {
            let weekday = ((tm.tm_wday + 6) % 7) as u8;
            return (weekday, (tm.tm_hour * 60 + tm.tm_min) as u16);
        }
    }
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    // 1970-01-01 was a Thursday (3 with Monday = 0); without local time, UTC.
    (((secs / 86_400 + 3) % 7) as u8, ((secs % 86_400) / 60) as u16)
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgecoder_protocol::swarm::Window;

    fn policy() -> Policy {
        Policy {
            version: 1,
            enabled: true,
            cpu_cap_percent: 50,
            memory_limit_mb: 256,
            windows: heapless::Vec::new(),
            idle_only: false,
            idle_after_s: 300,
            concurrency: 1,
            backoff_s: 5,
            heartbeat_s: 5,
        }
    }

    #[test]
    fn each_rule_refuses_with_its_reason() {
        let now = Conditions { weekday: 2, minute: 600, user_idle_s: 10 };
        assert_eq!(may_work(None, &now), Err(Refusal::NoPolicy));
        assert_eq!(may_work(Some(&policy()), &now), Ok(()));
        let mut p = policy();
        p.enabled = false;
        assert_eq!(may_work(Some(&p), &now), Err(Refusal::Disabled));
        let mut p = policy();
        p.windows.push(Window { days: 0b1_1111, start_minute: 18 * 60, end_minute: 8 * 60 }).unwrap();
        assert_eq!(may_work(Some(&p), &now), Err(Refusal::OutsideWindow), "weekday 10:00 is outside 18:00-08:00");
        assert_eq!(may_work(Some(&p), &Conditions { minute: 23 * 60, ..now }), Ok(()));
        let mut p = policy();
        p.idle_only = true;
        assert_eq!(may_work(Some(&p), &now), Err(Refusal::UserActive { idle_s: 10, needed_s: 300 }));
        assert_eq!(may_work(Some(&p), &Conditions { user_idle_s: 301, ..now }), Ok(()));
        assert_eq!(may_work(Some(&p), &Conditions { user_idle_s: u32::MAX, ..now }), Ok(()), "no input devices");
    }

    #[test]
    fn local_time_is_in_range() {
        let (weekday, minute) = local_time();
        assert!(weekday < 7 && minute < 1440);
    }
}
