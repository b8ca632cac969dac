//! Per-thread batching of site updates, and a per-thread pool of stats cells.
//!
//! Small maps are created, grown and dropped far more often than big ones, and each of those
//! cold events changes its site's aggregates. Doing that with atomic read-modify-writes on the
//! site (shared by every thread creating maps there) would cost more than the small map itself.
//! Instead, an untracked map's site deltas accumulate in a small per-thread table and reach the
//! site's atomics every [`FLUSH_EVERY`] events, when a slot is needed for another site, when the
//! thread takes a snapshot, and when the thread exits.
//!
//! The table has two parts. Small maps (those without a stats cell) publish three times in a
//! typical life, so theirs is the leanest path: inlined into the publishing function, a slot
//! found directly by the site's address, plain cells, and the change read from the map's
//! handle only once the thread-local is reached (the compiler of a library crate treats that
//! access as a call, and saves every register live across it). A small map's first
//! allocation also finds its site here, in the same access. Everything else (cells' flushes and
//! retirements, sampled lookups of small maps, timed resizes of small tables, the inserts of
//! a small map that copied another one's entries) goes through a general delta per site,
//! searched.
//!
//! So a site's totals may lag by at most [`FLUSH_EVERY`] cold events per other thread that is
//! still running; they are exact for the thread that takes the snapshot and for finished
//! threads. Tracked maps (the big ones) update their site directly, under the registry lock.

use std::cell::{Cell, RefCell};
use std::sync::Arc;
use std::sync::atomic::{
    AtomicI64, AtomicU64,
    Ordering::{Acquire, Relaxed, Release},
};

use std::panic::Location;

use crate::registry::{SmallKind, SmallSite};
use crate::stats::{MapCell, SiteCell};

/// Cold events a thread batches before it publishes them.
pub(crate) const FLUSH_EVERY: u32 = 256;
const SLOTS: usize = 8;
const POOL_SIZE: usize = 32;

/// Positions in [`SiteDelta::totals`] (the order of `Totals::fields`).
pub(crate) const INSERTS: usize = 0;
pub(crate) const UPDATES: usize = 1;
pub(crate) const REMOVES: usize = 2;
pub(crate) const GROWS: usize = 5;
pub(crate) const REHASHES: usize = 6;
pub(crate) const SHRINKS: usize = 7;
pub(crate) const RESIZE_NANOS: usize = 8;

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
    ///
    /// Other threads publish to the same site while a snapshot reads it, outside any lock, so
    /// the order is part of the contract: created, the totals except removes, the peak length,
    /// entries, bytes, removes, dropped. Each add is a release and a snapshot reads the
    /// counters in the reverse order with acquire loads ([`SiteCell::counts`]), so a reader
    /// that sees one counter's new value sees every earlier one's, from every thread that
    /// published before. For maps that publish on one thread (see
    /// [`SiteStats`](crate::SiteStats) for the others), a snapshot thus never shows a dropped
    /// map's entries or bytes still held, more entries than inserts minus removes, more
    /// entries than the peak allows, or more removes than inserts. Deltas that take counts
    /// back (a map moving to another site) are published under the registry lock instead.
    pub(crate) fn apply(&self, site: &SiteCell) {
        let add = |cell: &AtomicU64, d: i64| {
            if d != 0 {
                cell.fetch_add(d as u64, Release); // two's complement: wrapping add of a signed delta
            }
        };
        let add_signed = |cell: &AtomicI64, d: i64| {
            if d != 0 {
                cell.fetch_add(d, Release);
            }
        };
        let totals = site.totals.cells();
        add(&site.maps_created, self.created);
        for (i, (cell, d)) in totals.into_iter().zip(self.totals).enumerate() {
            if i != REMOVES {
                add(cell, d);
            }
        }
        // Acquire: a reader that sees the entries below sees the peak another thread set.
        if self.peak_len > site.peak_len.load(Acquire) {
            site.peak_len.fetch_max(self.peak_len, Release);
        }
        add_signed(&site.entries, self.entries);
        add_signed(&site.bytes, self.bytes);
        add(totals[REMOVES], self.totals[REMOVES]);
        add(&site.maps_dropped, self.dropped);
        if self.resize_max_nanos > site.resize_max_nanos.load(Relaxed) {
            site.resize_max_nanos
                .fetch_max(self.resize_max_nanos, Relaxed);
        }
    }
}

/// The event at which a small map (one without a stats cell) publishes to its site.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SmallEvent {
    /// Its first allocation: one more map at the site.
    Created,
    /// Its table grew.
    Grew,
    /// Its table shrank.
    Shrank,
    /// Its table was rehashed in place.
    Rehashed,
    /// It was dropped: one more dropped map.
    Dropped,
    /// Only its counts (a counter about to overflow, a bulk change, a promotion, a resize
    /// that changed nothing).
    Counts,
}

impl SmallEvent {
    /// How many kinds of event there are.
    const COUNT: usize = 6;
}

/// A small map's change to its site: what it did since it last published (see
/// [`add_small`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct SmallChange {
    /// The event it publishes at.
    pub(crate) event: SmallEvent,
    /// Entries it gained (negative: lost).
    pub(crate) entries: i64,
    /// Table bytes it gained (negative: freed).
    pub(crate) bytes: i64,
    pub(crate) inserts: u32,
    pub(crate) removes: u32,
    pub(crate) updates: u32,
    /// The highest length it had since it last published.
    pub(crate) peak_len: u64,
}

impl SmallChange {
    /// No change (only its event, which is `Counts`: nothing).
    pub(crate) const NONE: SmallChange = SmallChange {
        event: SmallEvent::Counts,
        entries: 0,
        bytes: 0,
        inserts: 0,
        removes: 0,
        updates: 0,
        peak_len: 0,
    };
}

/// Slots of [`Batch::small`].
const SMALL_SLOTS: usize = 8;

/// Slots of [`Batch::sites`].
const SITE_SLOTS: usize = 32;

/// A small map's site's pending delta: plain cells, so that the small maps' path (three
/// events in a map's life) takes no borrow flag and searches nothing.
struct SmallSlot {
    site: Cell<Option<&'static SiteCell>>,
    /// Events by [`SmallEvent`] (its discriminant is the index).
    events: [Cell<i64>; SmallEvent::COUNT],
    entries: Cell<i64>,
    bytes: Cell<i64>,
    inserts: Cell<i64>,
    updates: Cell<i64>,
    removes: Cell<i64>,
    peak_len: Cell<u64>,
}

impl SmallSlot {
    const fn empty() -> SmallSlot {
        SmallSlot {
            site: Cell::new(None),
            events: [const { Cell::new(0) }; SmallEvent::COUNT],
            entries: Cell::new(0),
            bytes: Cell::new(0),
            inserts: Cell::new(0),
            updates: Cell::new(0),
            removes: Cell::new(0),
            peak_len: Cell::new(0),
        }
    }

    /// Adds one small map's change (see [`add_small`]).
    #[inline(always)]
    fn add(&self, c: &SmallChange) {
        let bump = |cell: &Cell<i64>, d: i64| cell.set(cell.get() + d);
        bump(&self.events[c.event as usize], 1);
        bump(&self.entries, c.entries);
        bump(&self.bytes, c.bytes);
        bump(&self.inserts, i64::from(c.inserts));
        bump(&self.removes, i64::from(c.removes));
        bump(&self.updates, i64::from(c.updates));
        self.peak_len.set(self.peak_len.get().max(c.peak_len));
    }

    /// Publishes the slot's delta to its site and empties it.
    fn publish(&self) {
        let Some(site) = self.site.take() else {
            return;
        };
        let take = |c: &Cell<i64>| c.replace(0);
        let event = |e: SmallEvent| take(&self.events[e as usize]);
        let mut d = SiteDelta {
            created: event(SmallEvent::Created),
            dropped: event(SmallEvent::Dropped),
            entries: take(&self.entries),
            bytes: take(&self.bytes),
            peak_len: self.peak_len.replace(0),
            ..SiteDelta::default()
        };
        d.totals[INSERTS] = take(&self.inserts);
        d.totals[UPDATES] = take(&self.updates);
        d.totals[REMOVES] = take(&self.removes);
        d.totals[GROWS] = event(SmallEvent::Grew);
        d.totals[REHASHES] = event(SmallEvent::Rehashed);
        d.totals[SHRINKS] = event(SmallEvent::Shrank);
        event(SmallEvent::Counts);
        d.apply(site);
    }
}

/// A thread's pending site deltas. Nothing in it needs dropping, so the thread-local needs no
/// destructor registration check on each access; [`ExitFlush`] publishes it when the thread
/// exits.
struct Batch {
    /// Small maps' sites, direct-mapped by address (a site that finds its slot taken
    /// publishes the other site's delta and takes it).
    small: [SmallSlot; SMALL_SLOTS],
    /// Small maps' sites by creation location and entry layout ([`SmallKind::layout`]),
    /// direct-mapped: a small map's first allocation finds its site and publishes its
    /// creation in one access to the thread-local.
    sites: [Cell<(usize, usize, Option<&'static SmallSite>)>; SITE_SLOTS],
    /// Everything else (see the module docs).
    pending: RefCell<Pending>,
    /// Cold events of both kinds since the batch was last published.
    events: Cell<u32>,
    /// The thread is exiting and published its batch: later deltas go straight to their site.
    exited: Cell<bool>,
}

impl Batch {
    /// Counts one event, and publishes the batch every [`FLUSH_EVERY`].
    #[inline(always)]
    fn counted(&self) {
        if self.count_event() {
            self.publish();
        }
    }

    /// Counts one event; whether the batch is due to be published (for a caller that
    /// publishes it outside its own thread-local access, see [`add_small`]).
    #[inline(always)]
    fn count_event(&self) -> bool {
        let events = self.events.get() + 1;
        self.events.set(events);
        events >= FLUSH_EVERY
    }

    /// Publishes every pending delta of the thread.
    #[cold]
    #[inline(never)]
    fn publish(&self) {
        for slot in &self.small {
            slot.publish();
        }
        if let Ok(mut p) = self.pending.try_borrow_mut() {
            p.flush();
        }
        self.events.set(0);
    }

    /// The small slot `site`'s address maps to (which another site may hold).
    #[inline(always)]
    fn small_slot_of(&self, site: &'static SiteCell) -> &SmallSlot {
        let addr = site as *const SiteCell as usize;
        &self.small[(addr >> 6 ^ addr >> 12) % SMALL_SLOTS]
    }

    /// Whether `slot` holds `site`'s delta.
    #[inline(always)]
    fn holds(slot: &SmallSlot, site: &'static SiteCell) -> bool {
        slot.site.get().is_some_and(|s| std::ptr::eq(s, site))
    }

    /// The slot of [`Batch::sites`] for a site's location address and entry layout.
    #[inline(always)]
    fn site_slot_of(
        &self,
        addr: usize,
        layout: usize,
    ) -> &Cell<(usize, usize, Option<&'static SmallSite>)> {
        &self.sites[((addr >> 3) ^ layout) % SITE_SLOTS]
    }

    /// The small site cached for a location address and entry layout, if it is.
    #[inline(always)]
    fn cached_site(&self, addr: usize, layout: usize) -> Option<&'static SmallSite> {
        match self.site_slot_of(addr, layout).get() {
            (a, l, Some(site)) if a == addr && l == layout => Some(site),
            _ => None,
        }
    }

    /// Gives `slot` to `site` after publishing the delta of the site that held it (`None`
    /// once the thread has exited: deltas then go straight to their sites).
    #[cold]
    #[inline(never)]
    fn claim<'a>(&self, slot: &'a SmallSlot, site: &'static SiteCell) -> Option<&'a SmallSlot> {
        if self.exited.get() {
            return None;
        }
        // The thread's batch is published when it exits (registered on first use).
        let _ = EXIT_FLUSH.try_with(|_| {});
        slot.publish();
        slot.site.set(Some(site));
        Some(slot)
    }
}

/// The general part of a thread's batch: deltas by site, searched.
struct Pending {
    slots: [Option<(&'static SiteCell, SiteDelta)>; SLOTS],
    /// The slot used last: a thread creating maps at one site keeps finding it first.
    last: usize,
}

impl Pending {
    /// `site`'s pending delta (a fresh one if it has none).
    #[inline(always)]
    fn delta_for(&mut self, site: &'static SiteCell) -> &mut SiteDelta {
        let i = match &self.slots[self.last] {
            Some((s, _)) if std::ptr::eq(*s, site) => self.last,
            _ => self.slot_for(site),
        };
        self.last = i;
        &mut self.slots[i]
            .get_or_insert_with(|| (site, SiteDelta::default()))
            .1
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
                // Evict the slot after the last used one.
                let i = (self.last + 1) % SLOTS;
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
    }
}

/// Publishes the thread's batch when the thread exits; maps dropped after that (by other
/// thread-locals' destructors) publish directly.
struct ExitFlush;

impl Drop for ExitFlush {
    fn drop(&mut self) {
        let _ = BATCH.try_with(|b| {
            b.publish();
            b.exited.set(true);
        });
    }
}

thread_local! {
    static BATCH: Batch = const {
        Batch {
            small: [const { SmallSlot::empty() }; SMALL_SLOTS],
            sites: [const { Cell::new((0, 0, None)) }; SITE_SLOTS],
            pending: RefCell::new(Pending { slots: [None; SLOTS], last: 0 }),
            events: Cell::new(0),
            exited: Cell::new(false),
        }
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
    let batched = BATCH.try_with(|b| {
        if b.exited.get() {
            return false;
        }
        let Ok(mut p) = b.pending.try_borrow_mut() else {
            // Not reached (nothing runs user code while the batch is borrowed).
            return false;
        };
        f(p.delta_for(site));
        drop(p);
        b.counted();
        true
    });
    if batched != Ok(true) {
        let mut delta = SiteDelta::default();
        f(&mut delta);
        delta.apply(site);
    }
}

/// Adds a small map's change to `site`: batched on this thread, or directly if the thread is
/// exiting. The small maps' path, inlined into its callers: `change` is computed after the
/// thread-local is reached, so that only what it reads (the map's handle) is live across that
/// access (which the compiler of a library treats as a call), and the common case (`site`
/// holds its slot) takes no call at all.
#[inline(always)]
pub(crate) fn add_small(site: &'static SiteCell, change: impl Fn() -> SmallChange) {
    let added = BATCH.try_with(|b| {
        let slot = b.small_slot_of(site);
        if !Batch::holds(slot, site) {
            return None;
        }
        slot.add(&change());
        Some(b.count_event())
    });
    match added {
        Ok(Some(false)) => {}
        Ok(Some(true)) => flush_current_thread(),
        _ => add_small_claiming(site, &change()),
    }
}

/// Starts a small map created at `loc` with entries of `kind`, whose first table holds `len`
/// entries in `bytes` and `capacity`: finds its site and publishes its creation. Returns the
/// site and the table's `log2` bucket count, or `None` (nothing published) if that table does
/// not keep the map small.
///
/// The common case (the site cached, holding its slot) takes one access to the thread-local,
/// and nothing is live across it but the arguments.
#[inline(never)]
pub(crate) fn start_small(
    loc: &'static Location<'static>,
    kind: SmallKind,
    len: usize,
    bytes: usize,
    capacity: usize,
) -> Option<(&'static SmallSite, u8)> {
    let addr = loc as *const Location<'static> as usize;
    let started = BATCH.try_with(|b| {
        let Some(site) = b.cached_site(addr, kind.layout) else {
            return Err(());
        };
        let Some(log) = small_log(site, bytes, capacity) else {
            return Ok(None);
        };
        let slot = b.small_slot_of(site.site);
        if !Batch::holds(slot, site.site) {
            return Err(());
        }
        slot.add(&created(len, bytes));
        Ok(Some((site, log, b.count_event())))
    });
    match started {
        Ok(Ok(Some((site, log, flush)))) => {
            if flush {
                flush_current_thread();
            }
            Some((site, log))
        }
        Ok(Ok(None)) => None,
        _ => start_small_cold(loc, kind, len, bytes, capacity),
    }
}

/// The `log2` bucket count of `site`'s table of `bytes` and `capacity` if it keeps a map small.
#[inline(always)]
fn small_log(site: &SmallSite, bytes: usize, capacity: usize) -> Option<u8> {
    site.buckets_log2(bytes, capacity)
        .filter(|&log| site.keeps_small(log))
}

/// [`start_small`] when the site is not cached (it is looked up, under the registry lock,
/// and cached) or does not hold its slot (it takes it, see [`add_small`]).
#[cold]
#[inline(never)]
fn start_small_cold(
    loc: &'static Location<'static>,
    kind: SmallKind,
    len: usize,
    bytes: usize,
    capacity: usize,
) -> Option<(&'static SmallSite, u8)> {
    let addr = loc as *const Location<'static> as usize;
    let cached = BATCH
        .try_with(|b| b.cached_site(addr, kind.layout))
        .ok()
        .flatten();
    let site = cached.unwrap_or_else(|| {
        let site = (kind.resolve)(loc);
        let _ = BATCH.try_with(|b| {
            b.site_slot_of(addr, kind.layout)
                .set((addr, kind.layout, Some(site)));
        });
        site
    });
    let log = small_log(site, bytes, capacity)?;
    add_small(site.site, || created(len, bytes));
    Some((site, log))
}

/// The change of a small map's creation with `len` entries in `bytes`.
#[inline(always)]
fn created(len: usize, bytes: usize) -> SmallChange {
    SmallChange {
        event: SmallEvent::Created,
        entries: len as i64,
        bytes: bytes as i64,
        inserts: 0,
        removes: 0,
        updates: 0,
        peak_len: len as u64,
    }
}

/// [`add_small`] when `site` does not hold its slot: it takes it (publishing the other site's
/// delta), or publishes straight to the site if the thread is exiting.
#[cold]
#[inline(never)]
fn add_small_claiming(site: &'static SiteCell, change: &SmallChange) {
    let added = BATCH.try_with(|b| match b.claim(b.small_slot_of(site), site) {
        Some(slot) => {
            slot.add(change);
            b.counted();
            true
        }
        None => false,
    });
    if added != Ok(true) {
        // The thread is exiting.
        let slot = SmallSlot::empty();
        slot.site.set(Some(site));
        slot.add(change);
        slot.publish();
    }
}

/// Publishes this thread's pending site updates.
pub(crate) fn flush_current_thread() {
    let _ = BATCH.try_with(Batch::publish);
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
