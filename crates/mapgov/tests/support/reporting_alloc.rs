//! A global allocator that forwards to `System` and reports each allocation, free and
//! reallocation to the test binary, for the test binaries that observe what a map allocates.
//!
//! Include with `#[path = "support/reporting_alloc.rs"] mod reporting_alloc;` and install with
//! `#[global_allocator] static GLOBAL: Reporting = Reporting(report);`, where `report` must never
//! allocate (it runs inside the allocator).

use std::alloc::{GlobalAlloc, Layout, System};

/// What the allocator did, as reported after `System` succeeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AllocEvent {
    /// An allocation (zeroed or not).
    Alloc { size: usize, align: usize },
    /// A free.
    Dealloc { size: usize, align: usize },
    /// A reallocation from `old` to `new` bytes.
    Realloc {
        old: usize,
        new: usize,
        align: usize,
    },
}

/// Forwards to `System`, passing every event to the function it holds.
pub(crate) struct Reporting(pub(crate) fn(AllocEvent));

// SAFETY: every method forwards to `System` with the caller's arguments unchanged and returns
// its result; reporting only calls the binary's function, which must never allocate.
unsafe impl GlobalAlloc for Reporting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged; the caller upholds `GlobalAlloc::alloc`'s contract.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            (self.0)(AllocEvent::Alloc {
                size: layout.size(),
                align: layout.align(),
            });
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged; the caller upholds `GlobalAlloc::alloc_zeroed`'s contract.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            (self.0)(AllocEvent::Alloc {
                size: layout.size(),
                align: layout.align(),
            });
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        (self.0)(AllocEvent::Dealloc {
            size: layout.size(),
            align: layout.align(),
        });
        // SAFETY: forwarded unchanged; the caller upholds `GlobalAlloc::dealloc`'s contract.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded unchanged; the caller upholds `GlobalAlloc::realloc`'s contract.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            (self.0)(AllocEvent::Realloc {
                old: layout.size(),
                new: new_size,
                align: layout.align(),
            });
        }
        p
    }
}
