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
use std::sync::atomic::{AtomicBool, Ordering};

thread_local! {
    static NET_BYTES: Cell<i64> = const { Cell::new(0) };
}

static INSTALLED: AtomicBool = AtomicBool::new(false);

/// A global allocator that counts each thread's net allocated bytes; install it in binaries
/// (and test harnesses) that run Python, so that gradual memory growth hits the budget.
#[derive(Debug, Clone, Copy, Default)]
pub struct HeapCounter;

fn add(delta: i64) {
    // `try_with` so that allocations during thread teardown do not touch a destroyed slot.
    let _ = NET_BYTES.try_with(|n| n.set(n.get().wrapping_add(delta)));
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; the only
// extra work is a thread-local counter update, which neither allocates nor unwinds.
unsafe impl GlobalAlloc for HeapCounter {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            add(layout.size() as i64);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
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
