//! Keeps the worker's CPU use under the policy's cap: a cgroup v2 `cpu.max` on the worker's
//! own cgroup where the cpu controller can be used, else duty-cycling — the worker measures its
//! CPU time (its threads and its finished sandbox children) and sleeps between steps (tokens,
//! test runs) until it is back under the cap.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How the cap is enforced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enforcement {
    /// The kernel enforces it: `cpu.max` of this cgroup.
    Cgroup(PathBuf),
    /// The worker paces itself.
    DutyCycle {
        /// Why the cgroup could not be used.
        why: String,
    },
}

/// The CPU cap of a worker process.
#[derive(Debug)]
pub struct Throttle {
    enforcement: Enforcement,
    cores: u32,
    ceiling: u8,
    state: Mutex<Pace>,
}

#[derive(Debug)]
struct Pace {
    fraction: f64,
    since: Instant,
    cpu_at_start: Duration,
}

/// CPU time of this process's threads and (on Unix, where runs happen in sandbox children) its
/// reaped children.
pub fn process_cpu_time() -> Duration {
    let own = cpu_time::ProcessTime::try_now().map_or(Duration::ZERO, |t| t.as_duration());
    #[cfg(all(unix, not(edgecoder_portable)))]
    let own = {
        let mut u: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: `u` is a valid, writable rusage for the call.
        let children = if unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut u) } == 0 {
            let t = |tv: libc::timeval| Duration::new(tv.tv_sec as u64, tv.tv_usec as u32 * 1000);
            t(u.ru_utime) + t(u.ru_stime)
        } else {
            Duration::ZERO
        };
        own + children
    };
    own
}

/// The cgroup v2 folder of this process, when the unified hierarchy is mounted.
fn own_cgroup() -> Result<PathBuf, String> {
    let text = std::fs::read_to_string("/proc/self/cgroup").map_err(|e| format!("/proc/self/cgroup: {e}"))?;
    let relative = text.lines().find_map(|l| l.strip_prefix("0::")).ok_or("no cgroup v2 entry in /proc/self/cgroup")?;
    for root in ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"] {
        if Path::new(root).join("cgroup.controllers").is_file() {
            return Ok(Path::new(root).join(relative.trim_start_matches('/')));
        }
    }
    Err("no cgroup v2 hierarchy is mounted".into())
}

/// Moves this process into `<own cgroup>/edgecoder-worker` with the cpu controller on.
fn enter_capped_cgroup() -> Result<PathBuf, String> {
    let own = own_cgroup()?;
    let controllers = std::fs::read_to_string(own.join("cgroup.controllers")).unwrap_or_default();
    if !controllers.split_whitespace().any(|c| c == "cpu") {
        return Err(format!("the cpu controller is not available in {}", own.display()));
    }
    let leaf = own.join("edgecoder-worker");
    let fail = |what: &str, e: std::io::Error| format!("{what}: {e}");
    if !leaf.is_dir() {
        std::fs::create_dir(&leaf).map_err(|e| fail(&format!("cannot create {}", leaf.display()), e))?;
    }
    std::fs::write(leaf.join("cgroup.procs"), std::process::id().to_string())
        .map_err(|e| fail("cannot move the worker into its cgroup", e))?;
    std::fs::write(own.join("cgroup.subtree_control"), "+cpu")
        .map_err(|e| fail("cannot enable the cpu controller (other processes share the cgroup?)", e))?;
    Ok(leaf)
}

impl Throttle {
    /// A throttle for `cores` cores, using a cgroup when `try_cgroup` and one is usable.
    pub fn new(cores: u32, try_cgroup: bool) -> Throttle {
        let enforcement = if try_cgroup {
            match enter_capped_cgroup() {
                Ok(path) => Enforcement::Cgroup(path),
                Err(why) => Enforcement::DutyCycle { why },
            }
        } else {
            Enforcement::DutyCycle { why: "cgroups not tried".into() }
        };
        tracing::info!(?enforcement, "CPU cap enforcement");
        Throttle {
            enforcement,
            cores: cores.max(1),
            ceiling: 100,
            state: Mutex::new(Pace { fraction: 1.0, since: Instant::now(), cpu_at_start: process_cpu_time() }),
        }
    }

    /// How the cap is enforced.
    pub fn enforcement(&self) -> &Enforcement {
        &self.enforcement
    }

    /// Limits every cap to `percent` of the whole machine (1–100): the device's own ceiling
    /// (its profile's `swarm.max_cpu_percent`), whatever a coordinator's policy asks.
    pub fn with_ceiling(mut self, percent: u8) -> Throttle {
        self.ceiling = percent.clamp(1, 100);
        self
    }

    /// Sets the cap to `percent` of the whole machine (1–100), or the device's ceiling when that
    /// is lower; returns the cap applied.
    pub fn set_cap(&self, percent: u8) -> Result<u8, String> {
        let percent = percent.clamp(1, 100).min(self.ceiling);
        let fraction = f64::from(percent) / 100.0;
        if let Enforcement::Cgroup(path) = &self.enforcement {
            let period = 100_000u64;
            let quota = (fraction * f64::from(self.cores) * period as f64).max(1000.0) as u64;
            std::fs::write(path.join("cpu.max"), format!("{quota} {period}"))
                .map_err(|e| format!("cannot write {}: {e}", path.join("cpu.max").display()))?;
        }
        let mut pace = self.state.lock().unwrap_or_else(|p| p.into_inner());
        *pace = Pace { fraction, since: Instant::now(), cpu_at_start: process_cpu_time() };
        Ok(percent)
    }

    /// Called between steps of work: under duty-cycling, sleeps until the CPU time used since
    /// the cap was set is within the cap again. Returns how long it slept.
    pub fn pace(&self) -> Duration {
        if matches!(self.enforcement, Enforcement::Cgroup(_)) {
            return Duration::ZERO;
        }
        let (allowed_rate, used, wall) = {
            let pace = self.state.lock().unwrap_or_else(|p| p.into_inner());
            let rate = pace.fraction * f64::from(self.cores);
            (rate, process_cpu_time().saturating_sub(pace.cpu_at_start), pace.since.elapsed())
        };
        if allowed_rate >= f64::from(self.cores) {
            return Duration::ZERO;
        }
        let needed_wall = used.as_secs_f64() / allowed_rate;
        let sleep = Duration::from_secs_f64((needed_wall - wall.as_secs_f64()).max(0.0));
        if !sleep.is_zero() {
            std::thread::sleep(sleep);
        }
        sleep
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duty_cycling_holds_a_busy_loop_near_the_cap() {
        let throttle = Throttle::new(1, false);
        throttle.set_cap(25).unwrap();
        let started = Instant::now();
        let cpu_start = process_cpu_time();
        let mut x = 1u64;
        while started.elapsed() < Duration::from_millis(1200) {
            for i in 0..200_000u64 {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(i);
            }
            throttle.pace();
        }
        assert!(x != 0);
        let used = process_cpu_time().saturating_sub(cpu_start).as_secs_f64();
        let share = used / started.elapsed().as_secs_f64();
        // Other test threads add CPU time too, so only the upper side is checked loosely; an
        // unthrottled loop would use about 100% of a core.
        assert!(share < 0.6, "CPU share {share:.2} with a 25% cap on one core");
    }

    #[test]
    fn the_devices_ceiling_bounds_every_policy() {
        let throttle = Throttle::new(1, false).with_ceiling(50);
        assert_eq!(throttle.set_cap(80), Ok(50));
        assert_eq!(throttle.set_cap(30), Ok(30));
        assert_eq!(Throttle::new(1, false).set_cap(0), Ok(1));
        assert_eq!(Throttle::new(1, false).with_ceiling(0).set_cap(100), Ok(1));
    }
}
