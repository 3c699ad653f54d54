//! Readings of the device the worker reports in its heartbeats and the gate uses: seconds since
//! the user's last input, CPU busy, free memory.

use std::path::Path;
use std::time::{Duration, SystemTime};

/// Seconds since the user last typed or moved a pointer: the newest access time of the
/// terminals (`/dev/pts/*`, `/dev/tty*`, as `w` reads idle time) and input devices
/// (`/dev/input/event*`). `u32::MAX` when the device has none (a headless server is always idle).
pub fn user_idle_s() -> u32 {
    let mut newest: Option<SystemTime> = None;
    for (dir, prefix) in [("/dev/pts", ""), ("/dev", "tty"), ("/dev/input", "event")] {
        let Ok(entries) = std::fs::read_dir(dir) else { continue };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if !name.starts_with(prefix) || (dir == "/dev/pts" && name == "ptmx") {
                continue;
            }
            if let Ok(at) = entry.metadata().and_then(|m| m.accessed()) {
                newest = Some(newest.map_or(at, |n| n.max(at)));
            }
        }
    }
    match newest {
        Some(at) => SystemTime::now().duration_since(at).unwrap_or(Duration::ZERO).as_secs().min(u32::MAX as u64 - 1) as u32,
        None => u32::MAX,
    }
}

/// CPU busy across all cores between two readings of `/proc/stat`.
#[derive(Debug, Default)]
pub struct CpuMeter {
    last: Option<(u64, u64)>,
}

fn cpu_totals(stat: &str) -> Option<(u64, u64)> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let values: Vec<u64> = line.split_whitespace().skip(1).filter_map(|v| v.parse().ok()).collect();
    let idle = values.get(3)? + values.get(4).copied().unwrap_or(0);
    Some((values.iter().sum(), idle))
}

impl CpuMeter {
    /// Percent of CPU time busy since the previous call (0 on the first call or where
    /// `/proc/stat` is missing).
    pub fn busy_percent(&mut self) -> u8 {
        let Some(now) = std::fs::read_to_string("/proc/stat").ok().as_deref().and_then(cpu_totals) else {
            return 0;
        };
        let percent = match self.last {
            Some((total, idle)) if now.0 > total => {
                let busy = (now.0 - total).saturating_sub(now.1.saturating_sub(idle));
                (busy * 100 / (now.0 - total)).min(100) as u8
            }
            _ => 0,
        };
        self.last = Some(now);
        percent
    }
}

/// Memory available now, in MiB (`MemAvailable`), 0 when unknown.
pub fn free_memory_mb() -> u32 {
    meminfo_kib(Path::new("/proc/meminfo"), "MemAvailable:").map_or(0, |kib| (kib / 1024) as u32)
}

/// All memory, in MiB, 0 when unknown.
pub fn total_memory_mb() -> u32 {
    meminfo_kib(Path::new("/proc/meminfo"), "MemTotal:").map_or(0, |kib| (kib / 1024) as u32)
}

fn meminfo_kib(path: &Path, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines().find(|l| l.starts_with(key))?.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_totals_read_the_aggregate_line() {
        let stat = "cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 1 2 3 4\n";
        assert_eq!(cpu_totals(stat), Some((1000, 850)));
        assert_eq!(cpu_totals("intr 1 2"), None);
    }

    #[test]
    fn readings_are_plausible_on_this_machine() {
        let mut meter = CpuMeter::default();
        meter.busy_percent();
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        assert!(x != 1);
        assert!(meter.busy_percent() <= 100);
        assert!(free_memory_mb() > 0 && free_memory_mb() <= total_memory_mb());
    }
}
