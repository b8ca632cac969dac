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
pub(crate) const FLUSH_EVERY: u32 = 64;
const SLOTS: usize = 8;
const POOL: usize = 32;

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

struct Pending {
    slots: [Option<(&'static SiteCell, SiteDelta)>; SLOTS],
    events: u32,
    pool: Vec<Arc<MapCell>>,
}

impl Pending {
    /// Adds to `site`'s pending delta through `f`, which sees it (an empty one if `site` has
    /// none yet) and adds its own changes.
    fn add_with(&mut self, site: &'static SiteCell, f: impl FnOnce(&mut SiteDelta)) {
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
        let i = found.unwrap_or_else(|| {
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
        });
        if let Some((_, d)) = &mut self.slots[i] {
            f(d);
        }
        self.events += 1;
        if self.events >= FLUSH_EVERY {
            self.flush();
        }
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

impl Drop for Pending {
    fn drop(&mut self) {
        self.flush();
    }
}

thread_local! {
    static PENDING: RefCell<Pending> = const {
        RefCell::new(Pending { slots: [None; SLOTS], events: 0, pool: Vec::new() })
    };
}

/// Adds `delta` to `site`: batched on this thread, or directly if the thread is exiting.
pub(crate) fn add(site: &'static SiteCell, delta: &SiteDelta) {
    add_with(site, |d| d.merge(delta));
}

/// Adds to `site` the changes `f` adds to the delta it is given: batched on this thread, or
/// directly if the thread is exiting.
pub(crate) fn add_with(site: &'static SiteCell, f: impl FnOnce(&mut SiteDelta)) {
    let mut f = Some(f);
    let _ = PENDING.try_with(|p| {
        if let Ok(mut p) = p.try_borrow_mut()
            && let Some(f) = f.take()
        {
            p.add_with(site, f);
        }
    });
    if let Some(f) = f {
        let mut delta = SiteDelta::default();
        f(&mut delta);
        delta.apply(site);
    }
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
    PENDING
        .try_with(|p| p.try_borrow_mut().ok().and_then(|mut p| p.pool.pop()))
        .ok()
        .flatten()
}

/// Retires an untracked map's cell: adds its last delta to its site (batched on this thread,
/// or directly if the thread is exiting) and returns it to this thread's pool if it is unshared
/// and the pool has room (or frees it). One visit to the thread's batch does both.
pub(crate) fn retire(cell: Arc<MapCell>) {
    let mut cell = Some(cell);
    let _ = PENDING.try_with(|p| {
        if let Ok(mut p) = p.try_borrow_mut()
            && let Some(c) = cell.take()
        {
            p.add_with(c.site, |d| c.take_retirement_into(d));
            if Arc::strong_count(&c) == 1 && p.pool.len() < POOL {
                p.pool.push(c);
            }
        }
    });
    if let Some(c) = cell {
        let mut delta = SiteDelta::default();
        c.take_retirement_into(&mut delta);
        delta.apply(c.site);
    }
}
