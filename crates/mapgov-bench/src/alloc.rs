//! A counting global allocator: the independent observer behind the memory rows.
//!
//! `mapbench` installs [`CountingAlloc`] as its global allocator. Counting is off except while a
//! memory workload measures, so ordinary workloads pay one relaxed load of a flag per
//! allocation (the same for every variant).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering::Relaxed};

static COUNTING: AtomicBool = AtomicBool::new(false);
static LIVE: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);

/// The system allocator, counting the bytes requested while a memory measurement runs.
///
/// # Examples
///
/// ```no_run
/// #[global_allocator]
/// static ALLOC: mapgov_bench::CountingAlloc = mapgov_bench::CountingAlloc;
/// ```
#[derive(Debug, Default, Clone, Copy)]
pub struct CountingAlloc;

#[inline(always)]
fn count(delta: isize) {
    if COUNTING.load(Relaxed) {
        let live = LIVE.fetch_add(delta, Relaxed) + delta;
        if delta > 0 {
            PEAK.fetch_max(live, Relaxed);
        }
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged and returns
// its result; the counting on the side touches only two atomics.
unsafe impl GlobalAlloc for CountingAlloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, which is `System`'s.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            count(layout.size() as isize);
        }
        p
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            count(layout.size() as isize);
        }
        p
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by this allocator, that is by `System`, with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        count(-(layout.size() as isize));
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` was allocated by `System` with `layout`; the caller upholds the rest.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            count(new_size as isize - layout.size() as isize);
        }
        p
    }
}

/// Starts counting from zero.
///
/// The count is the net of what is allocated and freed from now on, on every thread, so a
/// measurement must not overlap other threads' allocations.
pub(crate) fn start() {
    LIVE.store(0, Relaxed);
    PEAK.store(0, Relaxed);
    COUNTING.store(true, Relaxed);
}

/// The most net bytes allocated at any moment since [`start`].
pub(crate) fn peak() -> isize {
    PEAK.load(Relaxed)
}

/// Stops counting and returns the net bytes allocated since [`start`].
pub(crate) fn stop() -> isize {
    COUNTING.store(false, Relaxed);
    LIVE.load(Relaxed)
}

/// Whether [`CountingAlloc`] is the global allocator of this process (it sees a test
/// allocation).
pub fn is_installed() -> bool {
    start();
    let probe = std::hint::black_box(Box::new(0u64));
    let seen = stop();
    drop(probe);
    seen > 0
}
