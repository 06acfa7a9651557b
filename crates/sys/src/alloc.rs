//! A global allocator that counts what passes through it.
//!
//! ```standalone_crate
//! use vpclab_sys::alloc::CountingAlloc;
//!
//! #[global_allocator]
//! static ALLOC: CountingAlloc = CountingAlloc::new();
//!
//! fn main() {
//!     let before = ALLOC.snapshot();
//!     let buffer = vec![0u8; 1500];
//!     let delta = ALLOC.snapshot().since(&before);
//!     assert_eq!(delta.allocations, 1);
//!     assert_eq!(delta.live_bytes, 1500);
//!     drop(buffer);
//! }
//! ```
//!
//! Counters are process-wide relaxed atomics: exact when the measured code runs on one
//! thread and nothing else allocates meanwhile, which is how tests use it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Wraps the system allocator and counts allocations and live bytes.
#[derive(Debug)]
pub struct CountingAlloc {
    allocations: AtomicU64,
    deallocations: AtomicU64,
    live_bytes: AtomicUsize,
}

/// The counters at one moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// Calls to `alloc`, `alloc_zeroed` and `realloc` so far.
    pub allocations: u64,
    /// Calls to `dealloc` so far.
    pub deallocations: u64,
    /// Bytes allocated and not yet freed.
    pub live_bytes: usize,
}

/// The difference between two snapshots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Delta {
    /// Allocations made in between.
    pub allocations: u64,
    /// Deallocations made in between.
    pub deallocations: u64,
    /// Change of live bytes (negative when more was freed than allocated).
    pub live_bytes: isize,
}

impl Snapshot {
    /// What happened between `earlier` and `self`.
    pub fn since(&self, earlier: &Snapshot) -> Delta {
        Delta {
            allocations: self.allocations - earlier.allocations,
            deallocations: self.deallocations - earlier.deallocations,
            live_bytes: self.live_bytes.wrapping_sub(earlier.live_bytes) as isize,
        }
    }
}

impl Default for CountingAlloc {
    fn default() -> Self {
        Self::new()
    }
}

impl CountingAlloc {
    /// A counter starting at zero.
    pub const fn new() -> Self {
        Self {
            allocations: AtomicU64::new(0),
            deallocations: AtomicU64::new(0),
            live_bytes: AtomicUsize::new(0),
        }
    }

    /// The counters now.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            allocations: self.allocations.load(Ordering::Relaxed),
            deallocations: self.deallocations.load(Ordering::Relaxed),
            live_bytes: self.live_bytes.load(Ordering::Relaxed),
        }
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so
// `System`'s guarantees are ours; the counters are only bookkeeping beside it.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract (non-zero size),
        // which is `System::alloc`'s.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            self.allocations.fetch_add(1, Ordering::Relaxed);
            self.live_bytes.fetch_add(layout.size(), Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            self.allocations.fetch_add(1, Ordering::Relaxed);
            self.live_bytes.fetch_add(layout.size(), Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was returned by this allocator, i.e. by `System`, with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        self.deallocations.fetch_add(1, Ordering::Relaxed);
        self.live_bytes.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` came from `System` with `layout`; the caller guarantees
        // `new_size` is valid for `layout`'s alignment.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            self.allocations.fetch_add(1, Ordering::Relaxed);
            self.live_bytes.fetch_add(new_size, Ordering::Relaxed);
            self.live_bytes.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        new
    }
}
