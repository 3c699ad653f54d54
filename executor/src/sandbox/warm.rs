//! Warm sandbox children: started ahead of their run, already confined (Landlock, seccomp, no
//! new privileges, no core files, no file writes) and holding a built interpreter, blocked on
//! reading their request. Handing a run to one skips the process start-up and the interpreter
//! build; the job's own limits (address space, CPU seconds) are applied when the request
//! arrives, before the untrusted code is parsed. Each child still serves exactly one run and
//! exits, so nothing can leak from one run into the next.
//!
//! Off by default (a single CLI run cannot profit from it); a daemon or a benchmark turns it on
//! with [`set_warm_children`]. An idle warm child costs one process and its interpreter's
//! memory; it exits by itself when this process goes away (its request pipe closes).

use super::READY;
use super::parent::{Started, start};
use std::io::{ErrorKind, Read};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The warm children kept, per executable.
struct Warm {
    /// How many idle warm children to keep per executable.
    target: usize,
    /// Idle children with the executable they were started from.
    idle: Vec<(PathBuf, Started)>,
    /// Children being started right now, per executable.
    starting: Vec<PathBuf>,
}

static WARM: Mutex<Warm> = Mutex::new(Warm {
    target: 0,
    idle: Vec::new(),
    starting: Vec::new(),
});

fn lock() -> MutexGuard<'static, Warm> {
    WARM.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Keeps `count` warm sandbox children ready for the child executable
/// ([`super::child_executable`]); `0` (the default) stops and reaps the idle ones. Process-
/// isolated runs then take a warm child when one is ready and start a replacement in the
/// background.
pub fn set_warm_children(count: usize) {
    let idle = {
        let mut warm = lock();
        warm.target = count;
        if count == 0 {
            std::mem::take(&mut warm.idle)
        } else {
            Vec::new()
        }
    };
    // Dropping a child kills and reaps it.
    drop(idle);
    if count > 0
        && let Ok(executable) = super::child_executable()
    {
        replenish(&executable);
    }
}

/// How many warm children are kept per executable (see [`set_warm_children`]).
pub fn warm_children() -> usize {
    lock().target
}

/// The process ids of the idle warm children (for monitoring, and for tests that kill one).
pub fn warm_child_pids() -> Vec<u32> {
    lock()
        .idle
        .iter()
        .filter_map(|(_, child)| u32::try_from(child.reaper.pid).ok())
        .collect()
}

/// Waits until a warm child for the child executable is confined and has its interpreter
/// built, or `timeout` passed; returns whether one is ready. A run started then pays neither
/// the process start nor the interpreter build.
pub fn wait_until_warm(timeout: Duration) -> bool {
    let give_up = Instant::now() + timeout;
    let executable = super::child_executable().ok();
    loop {
        if let Some(executable) = &executable
            && poll_ready(executable)
        {
            return true;
        }
        if Instant::now() >= give_up {
            return false;
        }
        std::thread::sleep(Duration::from_micros(500));
    }
}

/// Whether an idle warm child for `executable` is ready, reading the ready marks that arrived.
fn poll_ready(executable: &Path) -> bool {
    let mut warm = lock();
    let mut ready = false;
    for (_, child) in warm.idle.iter_mut().filter(|(exe, _)| exe == executable) {
        if child.awaiting_ready {
            let mut mark = [0u8; 1];
            match child.stdout.read(&mut mark) {
                Ok(1) if mark[0] == READY => child.awaiting_ready = false,
                // A wrong byte or an early end: the child is useless; `take` finds it dead or
                // the run reports the protocol error.
                Ok(_) => {}
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {}
                Err(_) => {}
            }
        }
        ready |= !child.awaiting_ready;
    }
    ready
}

/// Takes an idle, still running warm child started from `executable`, if there is one; dead
/// ones met on the way are reaped and dropped.
pub(super) fn take(executable: &Path) -> Option<Started> {
    let mut warm = lock();
    while let Some(i) = warm.idle.iter().position(|(exe, _)| exe == executable) {
        let (_, mut child) = warm.idle.remove(i);
        match child.reaper.wait(false) {
            Ok(None) => return Some(child),
            Ok(Some((termination, _))) => {
                tracing::warn!(pid = child.reaper.pid, ?termination, "an idle warm sandbox child had died; it is replaced");
            }
            Err(error) => tracing::warn!(%error, "cannot check a warm sandbox child"),
        }
    }
    None
}

/// Starts, in the background, as many warm children for `executable` as are missing.
pub(super) fn replenish(executable: &Path) {
    let missing = {
        let mut warm = lock();
        let have = warm.idle.iter().filter(|(exe, _)| exe == executable).count()
            + warm.starting.iter().filter(|exe| *exe == executable).count();
        let missing = warm.target.saturating_sub(have);
        for _ in 0..missing {
            warm.starting.push(executable.to_owned());
        }
        missing
    };
    for _ in 0..missing {
        let owned = executable.to_owned();
        let spawned = std::thread::Builder::new()
            .name("edgecoder-warm-child".into())
            .spawn(move || start_one(owned));
        if let Err(error) = spawned {
            tracing::error!(%error, "cannot start a thread to start a warm sandbox child");
            forget_starting(&mut lock(), executable);
        }
    }
}

fn forget_starting(warm: &mut Warm, executable: &Path) {
    if let Some(i) = warm.starting.iter().position(|exe| exe == executable) {
        warm.starting.remove(i);
    }
}

fn start_one(executable: PathBuf) {
    let started = start(&executable, true);
    let mut warm = lock();
    forget_starting(&mut warm, &executable);
    match started {
        Ok(child) if warm.target > 0 => {
            tracing::debug!(pid = child.reaper.pid, "warm sandbox child started");
            warm.idle.push((executable, child));
        }
        // Warm children were turned off meanwhile: dropping it kills and reaps it.
        Ok(child) => drop(child),
        Err(error) => tracing::warn!(%error, "cannot start a warm sandbox child"),
    }
}
