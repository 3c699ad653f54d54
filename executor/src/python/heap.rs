//! Per-thread heap accounting for the memory budget.
//!
//! A library cannot choose the process's allocator, so the binary does:
//!
//! ```ignore
//! #[global_allocator]
//! static HEAP: edgecoder_executor::python::HeapCounter = edgecoder_executor::python::HeapCounter;
//! ```
//!
//! [`HeapCounter`] forwards to the system allocator and keeps, per thread, the net number of
//! bytes that thread has allocated. Each interpreter runs on its own worker thread, so the
//! difference between two readings on that thread is what the program allocated in between.
//! The interpreter's step guard reads it at every loop iteration and function entry; without
//! the counter installed, only the size checks on `*`, `**` and `<<` guard memory (see
//! `SUBSET.md`).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

thread_local! {
    static NET_BYTES: Cell<i64> = const { Cell::new(0) };
    static FENCE: Cell<*const Fence> = const { Cell::new(std::ptr::null()) };
}

static INSTALLED: AtomicBool = AtomicBool::new(false);

/// What the allocations of a thread running a program are held to, for the calls the
/// interpreter's probes cannot see: a built-in that loops in native code (`list(range(10**9))`,
/// `sorted(range(10**8))`) or builds one huge object (`'x'.ljust(10**10)`) never reaches a probe,
/// so the allocator itself stops it.
///
/// Past the budget (`limit`) allocations still succeed and the fence is marked `over`: the
/// interpreter stops with `MemoryLimit` at its next probe and unwinds, freeing what it built.
/// An allocation that would take the thread past the budget plus a slack (`cap`), or any
/// allocation after its run was abandoned, never returns: the thread sleeps for good before
/// anything is allocated, holding what it has (at most `cap`), and the caller, which sees
/// `parked`, answers for it.
#[derive(Debug)]
pub(crate) struct Fence {
    limit: AtomicI64,
    cap: AtomicI64,
    over: AtomicBool,
    abandoned: AtomicBool,
    parked: AtomicBool,
}

impl Default for Fence {
    fn default() -> Self {
        Fence {
            limit: AtomicI64::new(i64::MAX),
            cap: AtomicI64::new(i64::MAX),
            over: AtomicBool::new(false),
            abandoned: AtomicBool::new(false),
            parked: AtomicBool::new(false),
        }
    }
}

impl Fence {
    /// Whether the thread went past its budget.
    pub(crate) fn over(&self) -> bool {
        self.over.load(Ordering::Acquire)
    }

    /// Whether the thread is asleep for good inside the allocator.
    pub(crate) fn parked(&self) -> bool {
        self.parked.load(Ordering::Acquire)
    }

    /// Marks the run as abandoned: the thread's next allocation parks it.
    pub(crate) fn abandon(&self) {
        self.abandoned.store(true, Ordering::Release);
    }

    fn admit(&self, net_after: i64) {
        if self.abandoned.load(Ordering::Acquire) {
            self.park();
        }
        if net_after <= self.limit.load(Ordering::Relaxed) {
            return;
        }
        self.over.store(true, Ordering::Release);
        if net_after > self.cap.load(Ordering::Relaxed) {
            self.park();
        }
    }

    fn park(&self) -> ! {
        self.parked.store(true, Ordering::Release);
        loop {
            // `sleep` does not allocate; nothing this thread holds is needed by anyone else.
            std::thread::sleep(Duration::from_secs(3600));
        }
    }
}

/// Holds the calling thread's allocations to `fence`: a budget of `budget` bytes above the
/// current net figure, and a hard cap `slack` bytes above the budget. `fence` must stay
/// alive until [`disarm`] is called on this thread (or forever, if the thread parks in it).
pub(crate) fn arm(fence: &Fence, budget: u64, slack: u64) {
    let Some(base) = thread_net_bytes() else { return };
    let limit = base.saturating_add(i64::try_from(budget).unwrap_or(i64::MAX));
    fence.limit.store(limit, Ordering::Release);
    fence.cap.store(limit.saturating_add(i64::try_from(slack).unwrap_or(i64::MAX)), Ordering::Release);
    FENCE.with(|f| f.set(fence));
}

/// Stops holding the calling thread's allocations to a fence.
pub(crate) fn disarm() {
    FENCE.with(|f| f.set(std::ptr::null()));
}

/// Called before an allocation that grows the thread's net bytes by `grow`.
fn admit(grow: usize) {
    let _ = FENCE.try_with(|f| {
        let fence = f.get();
        if fence.is_null() {
            return;
        }
        let net_after = NET_BYTES.with(Cell::get).saturating_add(i64::try_from(grow).unwrap_or(i64::MAX));
        // SAFETY: `arm` documents that the fence outlives its registration on this thread.
        unsafe { &*fence }.admit(net_after);
    });
}

/// A global allocator that counts each thread's net allocated bytes; install it in binaries
/// (and test harnesses) that run Python, so that gradual memory growth hits the budget.
#[derive(Debug, Clone, Copy, Default)]
pub struct HeapCounter;

fn add(delta: i64) {
    // `try_with` so that allocations during thread teardown do not touch a destroyed slot.
    let _ = NET_BYTES.try_with(|n| n.set(n.get().wrapping_add(delta)));
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; the only
// extra work is a thread-local counter update and the fence check, which neither allocate nor
// unwind (a fence may put the thread to sleep for good, before anything is allocated).
unsafe impl GlobalAlloc for HeapCounter {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        admit(layout.size());
        // SAFETY: forwarded as is.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            add(layout.size() as i64);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        admit(layout.size());
        // SAFETY: forwarded as is.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            add(layout.size() as i64);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as is.
        unsafe { System.dealloc(ptr, layout) };
        add(-(layout.size() as i64));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > layout.size() {
            admit(new_size - layout.size());
        }
        // SAFETY: forwarded as is.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            add(new_size as i64 - layout.size() as i64);
        }
        p
    }
}

/// The calling thread's net allocated bytes, or `None` when [`HeapCounter`] is not the global
/// allocator of this process.
pub(crate) fn thread_net_bytes() -> Option<i64> {
    if !INSTALLED.load(Ordering::Relaxed) {
        // Probe: a real allocation moves the counter only if we are the global allocator.
        let before = NET_BYTES.with(Cell::get);
        let probe = std::hint::black_box(vec![0u8; 64]);
        let after = NET_BYTES.with(Cell::get);
        drop(probe);
        if after == before {
            return None;
        }
        INSTALLED.store(true, Ordering::Relaxed);
    }
    Some(NET_BYTES.with(Cell::get))
}

/// The calling thread's net allocated bytes, without the installation probe (for hot paths,
/// after [`thread_net_bytes`] returned `Some`).
pub(crate) fn fast_net_bytes() -> i64 {
    NET_BYTES.with(Cell::get)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_counter_follows_this_threads_allocations() {
        let before = thread_net_bytes().expect("the test harness installs HeapCounter");
        let block = std::hint::black_box(vec![1u8; 1 << 20]);
        let during = thread_net_bytes().unwrap();
        assert!(during - before >= 1 << 20, "{before} -> {during}");
        drop(block);
        let after = thread_net_bytes().unwrap();
        assert!(after - before < 1 << 16, "{before} -> {after}");
    }
}
