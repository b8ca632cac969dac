//! Per-thread batching of site updates, and a per-thread pool of stats cells.
//!
//! Small maps are created, grown and dropped far more often than big ones, and each of those
//! cold events changes its site's aggregates. Doing that with atomic read-modify-writes on the
//! site (shared by every thread creating maps there) would cost more than the small map itself.
//! Instead, an untracked map's site deltas accumulate in a small per-thread table and reach the
//! site's atomics every [`FLUSH_EVERY`] events, when a slot is needed for another site, when the
//! thread takes a snapshot, and when the thread exits.
//!
//! So a site's totals may lag by at most [`FLUSH_EVERY`] cold events per other thread that is
//! still running; they are exact for the thread that takes the snapshot and for finished
//! threads. Tracked maps (the big ones) update their site directly, under the registry lock.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use crate::stats::{MapCell, SiteCell};

/// Cold events a thread batches before it publishes them.
pub(crate) const FLUSH_EVERY: u32 = 256;
const SLOTS: usize = 8;
const POOL_SIZE: usize = 32;

/// A change to a site's aggregates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct SiteDelta {
    pub(crate) created: i64,
    pub(crate) dropped: i64,
    pub(crate) entries: i64,
    pub(crate) bytes: i64,
    /// In the order of [`Totals::fields`](crate::stats::Totals::fields).
    pub(crate) totals: [i64; 10],
    pub(crate) peak_len: u64,
    pub(crate) resize_max_nanos: u64,
}

impl SiteDelta {
    fn merge(&mut self, o: &SiteDelta) {
        self.created += o.created;
        self.dropped += o.dropped;
        self.entries += o.entries;
        self.bytes += o.bytes;
        for (a, b) in self.totals.iter_mut().zip(o.totals) {
            *a += b;
        }
        self.peak_len = self.peak_len.max(o.peak_len);
        self.resize_max_nanos = self.resize_max_nanos.max(o.resize_max_nanos);
    }

    /// Publishes the delta to the site's atomics.
    pub(crate) fn apply(&self, site: &SiteCell) {
        let add = |cell: &std::sync::atomic::AtomicU64, d: i64| {
            if d != 0 {
                cell.fetch_add(d as u64, Relaxed); // two's complement: wrapping add of a signed delta
            }
        };
        add(&site.maps_created, self.created);
        add(&site.maps_dropped, self.dropped);
        if self.entries != 0 {
            site.entries.fetch_add(self.entries, Relaxed);
        }
        if self.bytes != 0 {
            site.bytes.fetch_add(self.bytes, Relaxed);
        }
        for (cell, d) in site.totals.cells().into_iter().zip(self.totals) {
            add(cell, d);
        }
        if self.peak_len > site.peak_len.load(Relaxed) {
            site.peak_len.fetch_max(self.peak_len, Relaxed);
        }
        if self.resize_max_nanos > site.resize_max_nanos.load(Relaxed) {
            site.resize_max_nanos
                .fetch_max(self.resize_max_nanos, Relaxed);
        }
    }
}

/// A thread's pending site deltas. Nothing in it needs dropping, so the thread-local needs no
/// destructor registration check on each access; [`ExitFlush`] publishes it when the thread
/// exits.
struct Pending {
    slots: [Option<(&'static SiteCell, SiteDelta)>; SLOTS],
    /// The slot used last: a thread creating maps at one site keeps finding it first.
    last: usize,
    events: u32,
    /// The thread is exiting and published its batch: later deltas go straight to their site.
    exited: bool,
}

impl Pending {
    /// Adds to `site`'s pending delta through `f`, which sees it (an empty one if `site` has
    /// none yet) and adds its own changes.
    #[inline]
    fn add_with(&mut self, site: &'static SiteCell, f: impl FnOnce(&mut SiteDelta)) {
        if self.exited {
            let mut delta = SiteDelta::default();
            f(&mut delta);
            delta.apply(site);
            return;
        }
        let i = match &self.slots[self.last] {
            Some((s, _)) if std::ptr::eq(*s, site) => self.last,
            _ => self.slot_for(site),
        };
        self.last = i;
        if let Some((_, d)) = &mut self.slots[i] {
            f(d);
        }
        self.events += 1;
        if self.events >= FLUSH_EVERY {
            self.flush();
        }
    }

    /// The slot of `site`: the one it has, a free one, or one whose delta is published to
    /// make room.
    #[inline(never)]
    fn slot_for(&mut self, site: &'static SiteCell) -> usize {
        // The thread's batch is published when it exits (registered on first use).
        let _ = EXIT_FLUSH.try_with(|_| {});
        let mut found = None;
        let mut free = None;
        for (i, slot) in self.slots.iter().enumerate() {
            match slot {
                Some((s, _)) if std::ptr::eq(*s, site) => {
                    found = Some(i);
                    break;
                }
                None if free.is_none() => free = Some(i),
                _ => {}
            }
        }
        found.unwrap_or_else(|| {
            let i = free.unwrap_or_else(|| {
                // Evict the slot this event count points at.
                let i = self.events as usize % SLOTS;
                if let Some((s, d)) = self.slots[i].take() {
                    d.apply(s);
                }
                i
            });
            self.slots[i] = Some((site, SiteDelta::default()));
            i
        })
    }

    fn flush(&mut self) {
        for slot in &mut self.slots {
            if let Some((s, d)) = slot.take() {
                d.apply(s);
            }
        }
        self.events = 0;
    }
}

/// Publishes the thread's batch when the thread exits; maps dropped after that (by other
/// thread-locals' destructors) publish directly.
struct ExitFlush;

impl Drop for ExitFlush {
    fn drop(&mut self) {
        let _ = PENDING.try_with(|p| {
            if let Ok(mut p) = p.try_borrow_mut() {
                p.flush();
                p.exited = true;
            }
        });
    }
}

thread_local! {
    static PENDING: RefCell<Pending> = const {
        RefCell::new(Pending { slots: [None; SLOTS], last: 0, events: 0, exited: false })
    };
    static EXIT_FLUSH: ExitFlush = const { ExitFlush };
    /// Stats cells of dropped maps, for reuse by new ones on this thread.
    static POOL: RefCell<Vec<Arc<MapCell>>> = const { RefCell::new(Vec::new()) };
}

/// Adds `delta` to `site`: batched on this thread, or directly if the thread is exiting.
pub(crate) fn add(site: &'static SiteCell, delta: &SiteDelta) {
    add_with(site, |d| d.merge(delta));
}

/// Adds to `site` the changes `f` adds to the delta it is given: batched on this thread, or
/// directly if the thread is exiting.
#[inline]
pub(crate) fn add_with(site: &'static SiteCell, f: impl FnOnce(&mut SiteDelta)) {
    let mut f = Some(f);
    add_dyn(site, &mut |d| {
        if let Some(f) = f.take() {
            f(d);
        }
    });
}

/// [`add_with`] behind one non-generic function, so that the thread-local is reached from
/// this crate's code (inlined) and not through `LocalKey`'s accessor from every caller's.
#[inline(never)]
fn add_dyn(site: &'static SiteCell, f: &mut dyn FnMut(&mut SiteDelta)) {
    PENDING.with(|p| match p.try_borrow_mut() {
        Ok(mut p) => p.add_with(site, f),
        // Not reached (nothing runs user code while the batch is borrowed); still correct.
        Err(_) => {
            let mut delta = SiteDelta::default();
            f(&mut delta);
            delta.apply(site);
        }
    });
}

/// Publishes this thread's pending site updates.
pub(crate) fn flush_current_thread() {
    let _ = PENDING.try_with(|p| {
        if let Ok(mut p) = p.try_borrow_mut() {
            p.flush();
        }
    });
}

/// A stats cell from this thread's pool, if it has one.
pub(crate) fn take_cell() -> Option<Arc<MapCell>> {
    POOL.try_with(|p| p.try_borrow_mut().ok().and_then(|mut p| p.pop()))
        .ok()
        .flatten()
}

/// Retires an untracked map's cell: adds its last delta to its site (batched on this thread,
/// or directly if the thread is exiting) and returns it to this thread's pool if it is unshared
/// and the pool has room (or frees it).
pub(crate) fn retire(cell: Arc<MapCell>) {
    add_with(cell.site, |d| cell.take_retirement_into(d));
    if Arc::strong_count(&cell) == 1 {
        let _ = POOL.try_with(|p| {
            if let Ok(mut p) = p.try_borrow_mut()
                && p.len() < POOL_SIZE
            {
                p.push(cell);
            }
        });
    }
}
