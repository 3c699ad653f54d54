//! The QuickJS heap allocator of one run: Rust's allocator with a byte budget that remembers
//! whether the budget was ever hit, so that a memory bomb is reported as `MemoryLimit` even when
//! the program catches the out-of-memory error QuickJS throws.

use std::cell::Cell;
use std::rc::Rc;

use rquickjs::allocator::{Allocator, RustAllocator};

/// The budget and usage of one run's heap, shared with the run's bookkeeping.
///
/// A budget starts unlimited: QuickJS does not survive running out of memory while it creates a
/// runtime or context (measured: crashes and failed assertions for budgets under ≈ 48 KB), so
/// the sandbox is set up first and the budget is armed afterwards with [`MemoryBudget::arm`].
#[derive(Debug)]
pub(crate) struct MemoryBudget {
    limit: Cell<usize>,
    used: Cell<usize>,
    hit: Cell<bool>,
}

impl MemoryBudget {
    /// An unlimited budget, to be armed once the sandbox is set up.
    pub(crate) fn unarmed() -> Rc<MemoryBudget> {
        Rc::new(MemoryBudget {
            limit: Cell::new(usize::MAX),
            used: Cell::new(0),
            hit: Cell::new(false),
        })
    }

    /// Limits the heap to `limit` bytes from now on; false (and the budget counts as hit) when
    /// more than that is already in use.
    pub(crate) fn arm(&self, limit: usize) -> bool {
        self.limit.set(limit);
        let fits = self.used.get() <= limit;
        if !fits {
            self.hit.set(true);
        }
        fits
    }

    /// Whether an allocation was ever refused for lack of budget.
    pub(crate) fn was_hit(&self) -> bool {
        self.hit.get()
    }

    /// Whether `extra` more bytes fit; records the refusal when they do not.
    fn admit(&self, extra: usize) -> bool {
        let fits =
            self.used.get().checked_add(extra).is_some_and(|total| total <= self.limit.get());
        if !fits {
            self.hit.set(true);
        }
        fits
    }
}

/// [`RustAllocator`] behind a [`MemoryBudget`].
pub(crate) struct BudgetAllocator {
    inner: RustAllocator,
    budget: Rc<MemoryBudget>,
}

impl BudgetAllocator {
    /// An allocator that charges `budget`.
    pub(crate) fn new(budget: Rc<MemoryBudget>) -> BudgetAllocator {
        BudgetAllocator { inner: RustAllocator, budget }
    }

    fn charge(&self, ptr: *mut u8) -> *mut u8 {
        if !ptr.is_null() {
            // SAFETY: `ptr` was just returned by `RustAllocator`.
            let size = unsafe { RustAllocator::usable_size(ptr) };
            self.budget.used.set(self.budget.used.get() + size);
        }
        ptr
    }
}

// SAFETY: every call is forwarded to `RustAllocator`, which upholds the trait's contract; the
// budget only refuses requests (returning null, which QuickJS handles as out of memory).
unsafe impl Allocator for BudgetAllocator {
    fn alloc(&mut self, size: usize) -> *mut u8 {
        if !self.budget.admit(size) {
            return std::ptr::null_mut();
        }
        let ptr = self.inner.alloc(size);
        self.charge(ptr)
    }

    fn calloc(&mut self, count: usize, size: usize) -> *mut u8 {
        let Some(total) = count.checked_mul(size) else {
            self.budget.hit.set(true);
            return std::ptr::null_mut();
        };
        if !self.budget.admit(total) {
            return std::ptr::null_mut();
        }
        let ptr = self.inner.calloc(count, size);
        self.charge(ptr)
    }

    unsafe fn dealloc(&mut self, ptr: *mut u8) {
        if ptr.is_null() {
            return;
        }
        // SAFETY: QuickJS only frees pointers this allocator returned.
        let size = unsafe { RustAllocator::usable_size(ptr) };
        self.budget.used.set(self.budget.used.get().saturating_sub(size));
        // SAFETY: as above.
        unsafe { self.inner.dealloc(ptr) }
    }

    unsafe fn realloc(&mut self, ptr: *mut u8, new_size: usize) -> *mut u8 {
        if ptr.is_null() {
            return self.alloc(new_size);
        }
        // SAFETY: QuickJS only reallocates pointers this allocator returned.
        let old = unsafe { RustAllocator::usable_size(ptr) };
        if new_size > old && !self.budget.admit(new_size - old) {
            return std::ptr::null_mut();
        }
        // SAFETY: as above.
        let new_ptr = unsafe { self.inner.realloc(ptr, new_size) };
        if !new_ptr.is_null() {
            // SAFETY: `new_ptr` was just returned by `RustAllocator`.
            let new = unsafe { RustAllocator::usable_size(new_ptr) };
            self.budget.used.set(self.budget.used.get().saturating_sub(old) + new);
        }
        new_ptr
    }

    unsafe fn usable_size(ptr: *mut u8) -> usize {
        // SAFETY: forwarded with the caller's guarantee.
        unsafe { RustAllocator::usable_size(ptr) }
    }
}
