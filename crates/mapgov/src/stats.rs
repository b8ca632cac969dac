//! The counters behind every governed map and every creation site.
//!
//! Hot-path rule: a map's ordinary operations touch only its own [`MapCell`], with single-writer
//! relaxed `load` + `store` (no read-modify-write, no lock). Lookups through `&self` may run on
//! many threads at once; they are sampled (see [`countdown_ran_out`]) so that only one in N writes
//! to shared memory, and that write is a `fetch_add`.

use std::cell::Cell;
use std::sync::atomic::{
    AtomicBool, AtomicI64, AtomicU32, AtomicU64,
    Ordering::{Acquire, Relaxed, Release},
    fence,
};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use crate::batch::{self, SiteDelta};
use crate::policy::PolicyState;

/// A counter with a single writer: a relaxed load and store, which compiles to plain moves.
///
/// Readers on other threads see a value that was current at some recent point.
#[derive(Debug, Default)]
pub(crate) struct Counter(AtomicU64);

impl Counter {
    pub(crate) const fn new(v: u64) -> Counter {
        Counter(AtomicU64::new(v))
    }

    #[inline(always)]
    pub(crate) fn get(&self) -> u64 {
        self.0.load(Relaxed)
    }

    #[inline(always)]
    pub(crate) fn set(&self, v: u64) {
        self.0.store(v, Relaxed)
    }

    /// Adds `n`. Only the single writer may call this.
    #[inline(always)]
    pub(crate) fn add(&self, n: u64) {
        self.set(self.get().wrapping_add(n))
    }
}

/// Aggregates for one creation site and name, shared by every map created there.
///
/// Updated with atomic read-modify-writes, but only on the cold path: when a map allocates for
/// the first time, resizes, becomes tracked, or is dropped.
#[derive(Debug)]
pub(crate) struct SiteCell {
    pub(crate) file: &'static str,
    pub(crate) line: u32,
    pub(crate) column: u32,
    pub(crate) name: Option<&'static str>,
    /// Whether the location was recovered from a backtrace (the compiler gave a std location).
    pub(crate) resolved: bool,
    pub(crate) key_type: &'static str,
    pub(crate) value_type: &'static str,
    pub(crate) maps_created: AtomicU64,
    pub(crate) maps_dropped: AtomicU64,
    pub(crate) entries: AtomicI64,
    pub(crate) bytes: AtomicI64,
    pub(crate) peak_len: AtomicU64,
    pub(crate) totals: Totals<AtomicU64>,
    pub(crate) resize_max_nanos: AtomicU64,
    /// Timed resizes by duration: `resize_hist[i]` counts those of at most
    /// `RESIZE_BUCKETS_NANOS[i]`, the last one the rest. Updated directly (one atomic add per
    /// timed resize, which is itself at least a microsecond of work).
    pub(crate) resize_hist: [AtomicU64; RESIZE_BUCKETS_NANOS.len() + 1],
    pub(crate) timed_resizes: AtomicU64,
    pub(crate) timed_resize_nanos: AtomicU64,
}

/// Upper bounds of the resize-duration histogram of every site, in nanoseconds: 1 µs, 2 µs,
/// 4 µs, ... doubling up to about 8.4 s. A last, unbounded bucket holds longer resizes.
pub const RESIZE_BUCKETS_NANOS: [u64; 24] = {
    let mut b = [0u64; 24];
    let mut i = 0;
    while i < 24 {
        b[i] = 1_000 << i;
        i += 1;
    }
    b
};

/// A site's counters as one snapshot reads them ([`SiteCell::counts`]).
#[derive(Debug)]
pub(crate) struct SiteCounts {
    pub(crate) created: u64,
    pub(crate) dropped: u64,
    pub(crate) entries: u64,
    pub(crate) bytes: u64,
    pub(crate) peak_len: u64,
    pub(crate) totals: TotalsValue,
}

impl SiteCell {
    /// Counts one timed resize of `nanos` in the site's histogram.
    pub(crate) fn record_resize(&self, nanos: u64) {
        let i = RESIZE_BUCKETS_NANOS.partition_point(|&bound| bound < nanos);
        self.resize_hist[i].fetch_add(1, Relaxed);
        self.timed_resizes.fetch_add(1, Relaxed);
        self.timed_resize_nanos.fetch_add(nanos, Relaxed);
    }
}

/// The additive counters of a map, in one shape for the map's cell, its flushed share and its
/// site.
#[derive(Debug, Default)]
pub(crate) struct Totals<C> {
    pub(crate) inserts: C,
    pub(crate) updates: C,
    pub(crate) removes: C,
    pub(crate) hits: C,
    pub(crate) misses: C,
    pub(crate) grows: C,
    pub(crate) rehashes: C,
    pub(crate) shrinks: C,
    pub(crate) resize_nanos: C,
    pub(crate) budget_exceeded: C,
}

/// Plain-number copy of [`Totals`].
pub(crate) type TotalsValue = Totals<u64>;

impl Totals<u64> {
    pub(crate) fn saturating_sub(&self, o: &TotalsValue) -> TotalsValue {
        self.zip(o, u64::saturating_sub)
    }

    pub(crate) fn zip(&self, o: &TotalsValue, f: impl Fn(u64, u64) -> u64) -> TotalsValue {
        Totals {
            inserts: f(self.inserts, o.inserts),
            updates: f(self.updates, o.updates),
            removes: f(self.removes, o.removes),
            hits: f(self.hits, o.hits),
            misses: f(self.misses, o.misses),
            grows: f(self.grows, o.grows),
            rehashes: f(self.rehashes, o.rehashes),
            shrinks: f(self.shrinks, o.shrinks),
            resize_nanos: f(self.resize_nanos, o.resize_nanos),
            budget_exceeded: f(self.budget_exceeded, o.budget_exceeded),
        }
    }

    /// The inverse of [`fields`](Self::fields).
    pub(crate) fn from_fields(f: [u64; 10]) -> TotalsValue {
        let [
            inserts,
            updates,
            removes,
            hits,
            misses,
            grows,
            rehashes,
            shrinks,
            resize_nanos,
            budget_exceeded,
        ] = f;
        Totals {
            inserts,
            updates,
            removes,
            hits,
            misses,
            grows,
            rehashes,
            shrinks,
            resize_nanos,
            budget_exceeded,
        }
    }

    pub(crate) fn fields(&self) -> [u64; 10] {
        self.cells().map(|v| *v)
    }
}

impl<C> Totals<C> {
    /// The ten counters, in the order of [`Totals::fields`] (and of [`Totals::from_fields`]).
    pub(crate) fn cells(&self) -> [&C; 10] {
        [
            &self.inserts,
            &self.updates,
            &self.removes,
            &self.hits,
            &self.misses,
            &self.grows,
            &self.rehashes,
            &self.shrinks,
            &self.resize_nanos,
            &self.budget_exceeded,
        ]
    }
}

impl SiteCell {
    /// The counters, read in the reverse of the order in which
    /// [`SiteDelta::apply`](crate::batch::SiteDelta::apply) adds to them, with acquire loads:
    /// while other threads publish, the values still agree with each other as `apply`
    /// describes.
    pub(crate) fn counts(&self) -> SiteCounts {
        let cells = self.totals.cells();
        let dropped = self.maps_dropped.load(Acquire);
        let mut totals = [0; 10];
        totals[batch::REMOVES] = cells[batch::REMOVES].load(Acquire);
        let bytes = self.bytes.load(Acquire).max(0) as u64;
        let entries = self.entries.load(Acquire).max(0) as u64;
        let peak_len = self.peak_len.load(Acquire);
        for i in (0..cells.len()).rev().filter(|&i| i != batch::REMOVES) {
            totals[i] = cells[i].load(Acquire);
        }
        let created = self.maps_created.load(Acquire);
        SiteCounts {
            created,
            dropped,
            entries,
            bytes,
            peak_len,
            totals: Totals::from_fields(totals),
        }
    }

    pub(crate) fn new(
        file: &'static str,
        line: u32,
        column: u32,
        name: Option<&'static str>,
        resolved: bool,
        key_type: &'static str,
        value_type: &'static str,
    ) -> SiteCell {
        SiteCell {
            file,
            line,
            column,
            name,
            resolved,
            key_type,
            value_type,
            maps_created: AtomicU64::new(0),
            maps_dropped: AtomicU64::new(0),
            entries: AtomicI64::new(0),
            bytes: AtomicI64::new(0),
            peak_len: AtomicU64::new(0),
            totals: Totals::default(),
            resize_max_nanos: AtomicU64::new(0),
            resize_hist: std::array::from_fn(|_| AtomicU64::new(0)),
            timed_resizes: AtomicU64::new(0),
            timed_resize_nanos: AtomicU64::new(0),
        }
    }
}

/// The per-map stats block, allocated when the map first allocates its table (or is named).
///
/// The owning map is its only writer for everything but `hits` and `misses`; the registry and
/// snapshots read it from other threads.
#[derive(Debug)]
pub(crate) struct MapCell {
    // --- written on ordinary operations (one cache line) ---
    /// Inserts left before one must run the policy check (see [`MapCell::on_insert`]): an
    /// insert decrements it and tests the result for zero, one read-modify-write and no
    /// other comparison. The inserts counted are `insert_end - insert_room`.
    insert_room: Counter,
    pub(crate) updates: Counter,
    pub(crate) removes: Counter,
    /// The most entries the map held before a removal: a removal or bulk removal that starts
    /// above it raises it. The peak length is this or the current length, whichever is more
    /// ([`MapCell::peak_len`]), so inserts need not track it.
    peak_len: Counter,
    /// Entries the map held when this cell started counting (a clone starts full).
    pub(crate) len_base: Counter,
    /// Lookups: several threads may add to these (sampled `fetch_add`).
    pub(crate) hits: AtomicU64,
    pub(crate) misses: AtomicU64,
    /// Lookup sampling interval for this map (1 = exact).
    pub(crate) lookup_sample: AtomicU32,
    /// The inserts counted once `insert_room` reaches zero; written with it, under `seq`, by
    /// [`MapCell::arm_inserts`] and [`MapCell::count_inserts`].
    insert_end: Counter,
    /// The entry budget the insert room was armed for (`u64::MAX`: none, or crossed). Set by
    /// `rearm`.
    pub(crate) insert_limit: Counter,
    /// A removal that makes `len` fall below this runs the policy check (shrink, re-arm).
    pub(crate) remove_watch: Counter,
    // --- written on the cold path ---
    pub(crate) grows: Counter,
    pub(crate) rehashes: Counter,
    pub(crate) shrinks: Counter,
    pub(crate) resize_nanos: Counter,
    pub(crate) resize_max_nanos: Counter,
    pub(crate) timed_resizes: Counter,
    /// The table's size: written together by [`MapCell::set_table`], read together by
    /// [`MapCell::table`] on other threads (private, so that nothing writes one alone).
    bytes: Counter,
    capacity: Counter,
    /// Odd while the owner writes `bytes` and `capacity`, or `insert_end` and `insert_room`
    /// together.
    seq: AtomicU64,
    pub(crate) budget_exceeded: Counter,
    /// Tables split in two (split maps only).
    pub(crate) splits: Counter,
    /// Number of tables (split maps only; 0 for the other maps).
    pub(crate) tables: Counter,
    /// Whether a shrink policy or budget is set (skips the policy lock on resizes otherwise).
    pub(crate) has_policy: AtomicBool,
    pub(crate) policy: Mutex<PolicyState>,
    pub(crate) callback_panicked: AtomicBool,
    /// What this map has already added to its site's aggregates.
    pub(crate) flushed: Flushed,
    // --- identity ---
    pub(crate) site: &'static SiteCell,
    pub(crate) key_type: &'static str,
    pub(crate) value_type: &'static str,
    pub(crate) entry_size: usize,
    pub(crate) entry_align: usize,
    /// Nonzero once tracked.
    pub(crate) id: AtomicU64,
    pub(crate) tracked_since: OnceLock<Instant>,
    pub(crate) slot: AtomicU64,
}

/// The share of a map's counters already added to its site.
#[derive(Debug, Default)]
pub(crate) struct Flushed {
    /// 1 once the map's creation was counted at its site.
    pub(crate) created: Counter,
    pub(crate) totals: Totals<Counter>,
    pub(crate) len: Counter,
    pub(crate) bytes: Counter,
}

impl Flushed {
    /// Back to nothing flushed (`Flushed::default()`).
    #[inline]
    fn reset(&mut self) {
        let Flushed {
            created,
            totals,
            len,
            bytes,
        } = self;
        *created = Counter::new(0);
        *totals = Totals::default();
        *len = Counter::new(0);
        *bytes = Counter::new(0);
    }
}

impl Totals<Counter> {
    pub(crate) fn load(&self) -> TotalsValue {
        Totals::from_fields(self.cells().map(Counter::get))
    }

    pub(crate) fn store(&self, v: &TotalsValue) {
        for (cell, v) in self.cells().into_iter().zip(v.fields()) {
            cell.set(v);
        }
    }
}

impl MapCell {
    /// A fresh cell for a map of `K`/`V` at `site`, reusing one from this thread's pool when it
    /// can (the pool saves an allocation per small map).
    pub(crate) fn acquire<K, V>(site: &'static SiteCell, lookup_sample: u32) -> Arc<MapCell> {
        if let Some(mut cell) = batch::take_cell()
            && let Some(c) = Arc::get_mut(&mut cell)
        {
            c.reset::<K, V>(site, lookup_sample);
            return cell;
        }
        Arc::new(MapCell::fresh::<K, V>(site, lookup_sample))
    }

    /// Makes a pooled cell equal to [`MapCell::fresh`], storing only what differs: rebuilding
    /// the whole struct (its mutex and `OnceLock` included) costs several times more.
    fn reset<K, V>(&mut self, site: &'static SiteCell, lookup_sample: u32) {
        // Destructured so that a field added to `MapCell` fails to compile here until it is
        // reset too.
        let MapCell {
            insert_room,
            updates,
            removes,
            peak_len,
            len_base,
            hits,
            misses,
            lookup_sample: sample,
            insert_end,
            insert_limit,
            remove_watch,
            grows,
            rehashes,
            shrinks,
            resize_nanos,
            resize_max_nanos,
            timed_resizes,
            bytes,
            capacity,
            seq,
            budget_exceeded,
            splits,
            tables,
            has_policy,
            policy,
            callback_panicked,
            flushed,
            site: cell_site,
            key_type,
            value_type,
            entry_size,
            entry_align,
            id,
            tracked_since,
            slot,
        } = self;
        // Plain (non-atomic) stores through `&mut`: the compiler may merge them.
        for c in [
            updates,
            removes,
            peak_len,
            len_base,
            remove_watch,
            grows,
            rehashes,
            shrinks,
            resize_nanos,
            resize_max_nanos,
            timed_resizes,
            bytes,
            capacity,
            budget_exceeded,
            splits,
            tables,
        ] {
            *c = Counter::new(0);
        }
        // No insert counted, and no policy check within reach.
        *insert_room = Counter::new(u64::MAX);
        *insert_end = Counter::new(u64::MAX);
        *insert_limit = Counter::new(u64::MAX);
        *seq.get_mut() = 0;
        *hits.get_mut() = 0;
        *misses.get_mut() = 0;
        *sample.get_mut() = lookup_sample;
        // Only a map that had a policy left state here; a poisoned mutex is rebuilt.
        match policy.get_mut() {
            Ok(p) if p.is_default() => {}
            Ok(p) => *p = PolicyState::default(),
            Err(_) => *policy = Mutex::new(PolicyState::default()),
        }
        *has_policy.get_mut() = false;
        *callback_panicked.get_mut() = false;
        flushed.reset();
        *cell_site = site;
        *key_type = std::any::type_name::<K>();
        *value_type = std::any::type_name::<V>();
        *entry_size = std::mem::size_of::<(K, V)>();
        *entry_align = std::mem::align_of::<(K, V)>();
        *id.get_mut() = 0;
        tracked_since.take();
        *slot.get_mut() = u64::MAX;
    }

    fn fresh<K, V>(site: &'static SiteCell, lookup_sample: u32) -> MapCell {
        MapCell {
            insert_room: Counter::new(u64::MAX),
            updates: Counter::new(0),
            removes: Counter::new(0),
            peak_len: Counter::new(0),
            len_base: Counter::new(0),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            lookup_sample: AtomicU32::new(lookup_sample),
            insert_end: Counter::new(u64::MAX),
            insert_limit: Counter::new(u64::MAX),
            remove_watch: Counter::new(0),
            grows: Counter::new(0),
            rehashes: Counter::new(0),
            shrinks: Counter::new(0),
            resize_nanos: Counter::new(0),
            resize_max_nanos: Counter::new(0),
            timed_resizes: Counter::new(0),
            bytes: Counter::new(0),
            capacity: Counter::new(0),
            seq: AtomicU64::new(0),
            budget_exceeded: Counter::new(0),
            splits: Counter::new(0),
            tables: Counter::new(0),
            has_policy: AtomicBool::new(false),
            policy: Mutex::new(PolicyState::default()),
            callback_panicked: AtomicBool::new(false),
            flushed: Flushed::default(),
            site,
            key_type: std::any::type_name::<K>(),
            value_type: std::any::type_name::<V>(),
            entry_size: std::mem::size_of::<(K, V)>(),
            entry_align: std::mem::align_of::<(K, V)>(),
            id: AtomicU64::new(0),
            tracked_since: OnceLock::new(),
            slot: AtomicU64::new(u64::MAX),
        }
    }

    /// A copy of this cell's counters and identity for the same map at another site (nothing
    /// flushed to the new site yet).
    pub(crate) fn moved_to(&self, site: &'static SiteCell) -> MapCell {
        let c = |x: &Counter| Counter::new(x.get());
        MapCell {
            insert_room: c(&self.insert_room),
            updates: c(&self.updates),
            removes: c(&self.removes),
            peak_len: c(&self.peak_len),
            len_base: c(&self.len_base),
            hits: AtomicU64::new(self.hits.load(Relaxed)),
            misses: AtomicU64::new(self.misses.load(Relaxed)),
            lookup_sample: AtomicU32::new(self.lookup_sample.load(Relaxed)),
            insert_end: c(&self.insert_end),
            insert_limit: c(&self.insert_limit),
            remove_watch: c(&self.remove_watch),
            grows: c(&self.grows),
            rehashes: c(&self.rehashes),
            shrinks: c(&self.shrinks),
            resize_nanos: c(&self.resize_nanos),
            resize_max_nanos: c(&self.resize_max_nanos),
            timed_resizes: c(&self.timed_resizes),
            bytes: c(&self.bytes),
            capacity: c(&self.capacity),
            seq: AtomicU64::new(0),
            budget_exceeded: c(&self.budget_exceeded),
            splits: c(&self.splits),
            tables: c(&self.tables),
            has_policy: AtomicBool::new(self.has_policy.load(Relaxed)),
            policy: Mutex::new(
                self.policy
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .clone(),
            ),
            callback_panicked: AtomicBool::new(self.callback_panicked.load(Relaxed)),
            flushed: Flushed::default(),
            site,
            key_type: self.key_type,
            value_type: self.value_type,
            entry_size: self.entry_size,
            entry_align: self.entry_align,
            id: AtomicU64::new(self.id.load(Relaxed)),
            tracked_since: self.tracked_since.clone(),
            slot: AtomicU64::new(self.slot.load(Relaxed)),
        }
    }

    /// Stores the table's size in bytes and capacity. Only the map's owner calls this.
    ///
    /// Readers on other threads ([`MapCell::table`]) get both values of one call, never one
    /// of each: a snapshot taken while a map shrinks to nothing would otherwise show its old
    /// bytes with no capacity. A sequence lock in the form Boehm proves correct for the C++
    /// memory model ("Can seqlocks get along with programming language memory models?",
    /// 2012). Cold path only (resizes, drains), so its fences cost nothing that matters.
    pub(crate) fn set_table(&self, bytes: u64, capacity: u64) {
        self.write_locked(|| {
            self.bytes.set(bytes);
            self.capacity.set(capacity);
        });
    }

    /// Runs the owner's `write` of fields that readers must see together (the table's size,
    /// or the insert room and end) inside the cell's sequence lock, in the form Boehm proves
    /// correct for the C++ memory model (see [`MapCell::set_table`]).
    fn write_locked(&self, write: impl FnOnce()) {
        let seq = self.seq.load(Relaxed);
        self.seq.store(seq.wrapping_add(1), Relaxed);
        fence(Release);
        write();
        self.seq.store(seq.wrapping_add(2), Release);
    }

    /// `read` run until it saw no [`write_locked`](Self::write_locked) in progress or
    /// completed meanwhile. Waits while the owner is inside one (a few instructions).
    fn read_locked<T>(&self, read: impl Fn() -> T) -> T {
        let mut tries = 0u32;
        loop {
            let seq = self.seq.load(Acquire);
            let value = read();
            fence(Acquire);
            if seq.is_multiple_of(2) && self.seq.load(Relaxed) == seq {
                return value;
            }
            tries += 1;
            if tries < 100 {
                std::hint::spin_loop();
            } else {
                // The owner was descheduled between its stores.
                std::thread::yield_now();
            }
        }
    }

    /// The table's bytes, read by the map's owner (other threads: [`MapCell::table`]).
    #[inline]
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes.get()
    }

    /// The table's capacity as of its last resize, read by the map's owner (other threads:
    /// [`MapCell::table`]).
    #[inline]
    pub(crate) fn capacity(&self) -> u64 {
        self.capacity.get()
    }

    /// The table's `(bytes, capacity)` as of one [`MapCell::set_table`] call, from any thread.
    /// Waits while the owner is inside one (a few instructions).
    pub(crate) fn table(&self) -> (u64, u64) {
        self.read_locked(|| (self.bytes.get(), self.capacity.get()))
    }

    /// The inserts counted, from any thread (exact for the owner; recent for others).
    pub(crate) fn inserts(&self) -> u64 {
        self.read_locked(|| {
            // The room first: the owner's inserts only lower it, so the end read after it
            // gives no fewer inserts than had been counted when the room was read.
            let room = self.insert_room.get();
            self.insert_end.get().wrapping_sub(room)
        })
    }

    /// Counts `n` inserts made at once (a bulk operation's, on the cold path). They use up as
    /// much of the insert room, down to one: an insert after a bulk operation that took the
    /// length past the budget runs the policy check, as it would after `n` single inserts.
    pub(crate) fn count_inserts(&self, n: u64) {
        let room = self.insert_room.get();
        self.set_inserts_and_room(
            self.owner_inserts().wrapping_add(n),
            room.saturating_sub(n).max(1),
        );
    }

    /// Takes back the insert just counted by [`on_insert`](Self::on_insert) (an insert that
    /// was not made after all).
    pub(crate) fn uncount_insert(&self) {
        self.insert_room.add(1);
    }

    /// Sets the inserts left before the next policy check to `room` (at least 1; `u64::MAX`
    /// for none within reach), keeping the count of inserts. Owner only, on the cold path.
    pub(crate) fn arm_inserts(&self, room: u64) {
        debug_assert!(room > 0, "an insert room of zero would never run out");
        self.set_inserts_and_room(self.owner_inserts(), room);
    }

    /// The inserts counted, read by the owner (no other thread writes them).
    fn owner_inserts(&self) -> u64 {
        self.insert_end.get().wrapping_sub(self.insert_room.get())
    }

    /// Stores `inserts` counted and `room` left, for readers to see together.
    fn set_inserts_and_room(&self, inserts: u64, room: u64) {
        self.write_locked(|| {
            self.insert_end.set(inserts.wrapping_add(room));
            self.insert_room.set(room);
        });
    }

    /// The most entries the map has held: the peak recorded before removals, or the current
    /// length if more.
    pub(crate) fn peak_len(&self) -> u64 {
        self.peak_len.get().max(self.len())
    }

    /// The peak length recorded before removals alone (for a reader that has the length).
    pub(crate) fn peak_before_removals(&self) -> u64 {
        self.peak_len.get()
    }

    /// Counts `n` keys removed at once from a map that held `len_before` (bulk removals and
    /// draining iterators): the length before them may have been the map's peak. Where they
    /// leave the length under the shrink watermark, the next insert runs the policy check
    /// (the shrink, or the budget's re-arming, waits for it: a bulk removal cannot rehash).
    pub(crate) fn count_removes(&self, n: u64, len_before: u64) {
        if len_before > self.peak_len.get() {
            self.peak_len.set(len_before);
        }
        self.removes.add(n);
        if len_before.saturating_sub(n) < self.remove_watch.get() {
            self.arm_inserts(1);
        }
    }

    /// Entries the map holds, derived from the counters (exact for the owner; recent for others).
    #[inline]
    pub(crate) fn len(&self) -> u64 {
        let removes = self.removes.get();
        self.len_from(self.inserts(), removes)
    }

    /// The length these counts of inserts and removes give (from one read of the totals).
    #[inline]
    pub(crate) fn len_from(&self, inserts: u64, removes: u64) -> u64 {
        (self.len_base.get() + inserts).saturating_sub(removes)
    }

    /// Counts a new key. Returns whether the insert room ran out: the caller then runs the
    /// cold policy check ([`policy::on_limit`](crate::policy::on_limit)), which decides from
    /// the length whether a limit was crossed and arms the room again.
    ///
    /// One decrement and its test for zero: the room is the number of inserts after which the
    /// length could first pass the entry budget (or 1 while it is under the shrink policy's
    /// watermark, `u64::MAX` with neither), armed on the cold path. Removes do not give room
    /// back, so a map that also removes may run out early; the check then finds nothing to do
    /// and re-arms without a lock. Against the count, peak length and one-comparison range
    /// check before (`mapbench --suites big,cache,small --modes default,off --processes 1`,
    /// three alternations; ratios to hashbrown's time): the 4K insert after clear 1.199 ->
    /// 1.099 (std) and 1.245 -> 1.150 (foldhash), the 1M insert 1.031 -> 1.005 and 1.145 ->
    /// 1.054; a later set of four (`--suites cache`) read the 4K insert 1.225 -> 1.193 and
    /// 1.480 -> 1.353, a row whose single runs spread wider than that on this machine. The
    /// peak length moved to the removal (below).
    #[inline(always)]
    pub(crate) fn on_insert(&self) -> bool {
        let room = self.insert_room.get().wrapping_sub(1);
        self.insert_room.set(room);
        room == 0
    }

    /// Whether `len` lies outside `[remove_watch, insert_limit]`, where a policy check has
    /// something to do (cold paths).
    pub(crate) fn outside_limits(&self, len: u64) -> bool {
        len < self.remove_watch.get() || len > self.insert_limit.get()
    }

    /// Counts a removed key; `len` is the length after it. Returns whether a policy limit was
    /// crossed.
    ///
    /// The length before the removal may be the map's peak, which inserts do not record: it
    /// is recorded here, before the removal is counted (one comparison, a store only when the
    /// map is above its last recorded peak), so that the peak is not lost as the length
    /// falls. It costs the removal what it saves the insert, and more: in the runs quoted at
    /// [`on_insert`](Self::on_insert), three more instructions in the loop, the 1M remove
    /// 1.232 -> 1.351 (std) and 1.249 -> 1.336 (foldhash).
    #[inline(always)]
    pub(crate) fn on_remove(&self, len: usize) -> bool {
        let len = len as u64;
        if len >= self.peak_len.get() {
            self.peak_len.set(len + 1);
        }
        self.removes.add(1);
        len < self.remove_watch.get()
    }

    /// The current totals.
    ///
    /// Removes are read before inserts: the owner counts an entry's insert before its removal,
    /// so a reader on another thread sees no more removes than inserts where stores become
    /// visible in program order (x86). Weaker hardware may show the owner's last few counts
    /// out of order, and a peak length recorded by a removal after the removal's count.
    pub(crate) fn totals(&self) -> TotalsValue {
        let removes = self.removes.get();
        Totals {
            inserts: self.inserts(),
            updates: self.updates.get(),
            removes,
            hits: self.hits.load(Relaxed),
            misses: self.misses.load(Relaxed),
            grows: self.grows.get(),
            rehashes: self.rehashes.get(),
            shrinks: self.shrinks.get(),
            resize_nanos: self.resize_nanos.get(),
            budget_exceeded: self.budget_exceeded.get(),
        }
    }

    #[inline]
    pub(crate) fn is_tracked(&self) -> bool {
        self.id.load(Relaxed) != 0
    }

    /// Everything not yet flushed to the site, as a delta; remembers it as flushed.
    pub(crate) fn take_delta(&self) -> SiteDelta {
        let mut delta = SiteDelta::default();
        self.take_delta_into(&mut delta);
        delta
    }

    /// Adds to `d` what the totals and the creation have not flushed yet, and with `remember`
    /// records them as flushed (the shared part of [`take_delta_into`](Self::take_delta_into)
    /// and [`take_retirement_into`](Self::take_retirement_into)).
    #[inline(always)]
    fn add_totals_into(&self, d: &mut SiteDelta, remember: bool) {
        let flushed = self.flushed.totals.cells();
        for ((t, now), flushed) in d.totals.iter_mut().zip(self.totals().fields()).zip(flushed) {
            // `now - flushed` (wrapping, as a signed delta).
            *t = t.wrapping_add(now.wrapping_sub(flushed.get()) as i64);
            if remember {
                flushed.set(now);
            }
        }
        d.created = d
            .created
            .wrapping_add(1 - self.flushed.created.get() as i64);
    }

    /// Adds to `d` everything not yet flushed to the site (as [`take_delta`](Self::take_delta)
    /// would return it) and remembers it as flushed. Writing into the thread's batch slot
    /// directly saves building, copying and merging a whole delta on every small map's flush.
    pub(crate) fn take_delta_into(&self, d: &mut SiteDelta) {
        self.add_totals_into(d, true);
        self.flushed.created.set(1);
        // `now - flushed` (wrapping, as a signed delta), then `flushed = now`.
        let take = |t: &mut i64, now: u64, flushed: &Counter| {
            *t = t.wrapping_add(now.wrapping_sub(flushed.get()) as i64);
            flushed.set(now);
        };
        take(&mut d.entries, self.len(), &self.flushed.len);
        take(&mut d.bytes, self.bytes.get(), &self.flushed.bytes);
        d.peak_len = d.peak_len.max(self.peak_len());
        d.resize_max_nanos = d.resize_max_nanos.max(self.resize_max_nanos.get());
    }

    /// [`take_delta_into`](Self::take_delta_into) for a cell created by the operation that
    /// flushes it, before anything else happened to it and with no policy set: only its
    /// creation, entries, bytes and peak length are due.
    pub(crate) fn take_creation_into(&self, d: &mut SiteDelta) {
        debug_assert_eq!(
            self.totals().fields(),
            [0; 10],
            "a new cell has counted nothing"
        );
        debug_assert_eq!(self.resize_max_nanos.get(), 0);
        debug_assert_eq!(
            self.flushed.created.get(),
            0,
            "a new cell has flushed nothing"
        );
        debug_assert_eq!(self.flushed.totals.load().fields(), [0; 10]);
        debug_assert_eq!((self.flushed.len.get(), self.flushed.bytes.get()), (0, 0));
        d.created = d.created.wrapping_add(1);
        self.flushed.created.set(1);
        let len = self.len_base.get();
        d.entries = d.entries.wrapping_add(len as i64);
        self.flushed.len.set(len);
        let bytes = self.bytes.get();
        d.bytes = d.bytes.wrapping_add(bytes as i64);
        self.flushed.bytes.set(bytes);
        d.peak_len = d.peak_len.max(self.peak_len());
    }

    /// Adds to `d` the last delta of this map, dropped: what it had not flushed yet, minus the
    /// entries and memory it had flushed, plus one dropped map. Unlike the tracked maps'
    /// `retire_delta` it leaves `flushed` as it was: nothing reads an untracked map's cell after
    /// it is retired, and [`acquire`](Self::acquire) resets it before reuse.
    pub(crate) fn take_retirement_into(&self, d: &mut SiteDelta) {
        self.add_totals_into(d, false);
        d.dropped = d.dropped.wrapping_add(1);
        d.entries = d.entries.wrapping_sub(self.flushed.len.get() as i64);
        d.bytes = d.bytes.wrapping_sub(self.flushed.bytes.get() as i64);
        d.peak_len = d.peak_len.max(self.peak_len());
        d.resize_max_nanos = d.resize_max_nanos.max(self.resize_max_nanos.get());
    }

    /// Sends a delta to this map's site: directly (tracked maps, under the registry lock) or
    /// through the thread's batch (untracked maps).
    pub(crate) fn send(&self, delta: &SiteDelta) {
        if self.is_tracked() {
            delta.apply(self.site);
        } else {
            batch::add(self.site, delta);
        }
    }

    /// [`flush_to_site`](Self::flush_to_site) for an untracked cell that
    /// [`take_creation_into`](Self::take_creation_into) applies to.
    pub(crate) fn flush_creation_to_site(&self) {
        batch::add_with(self.site, |d| self.take_creation_into(d));
    }

    /// Adds everything not yet flushed to the site, and remembers it as flushed.
    pub(crate) fn flush_to_site(&self) {
        if self.is_tracked() {
            self.take_delta().apply(self.site);
        } else {
            batch::add_with(self.site, |d| self.take_delta_into(d));
        }
    }

    /// Takes back from the site everything this map added to it, including its creation
    /// (used when the map moves to another site).
    pub(crate) fn unflush_from_site(&self) {
        let before = self.flushed.totals.load();
        let mut totals = [0i64; 10];
        for (t, b) in totals.iter_mut().zip(before.fields()) {
            *t = -(b as i64);
        }
        let delta = SiteDelta {
            created: -(self.flushed.created.get() as i64),
            entries: -(self.flushed.len.get() as i64),
            bytes: -(self.flushed.bytes.get() as i64),
            totals,
            ..SiteDelta::default()
        };
        self.send(&delta);
        self.flushed.created.set(0);
        self.flushed.totals.store(&TotalsValue::default());
        self.flushed.len.set(0);
        self.flushed.bytes.set(0);
    }

    /// Bytes a table needs to hold `len` entries: what `shrink_to_fit` would leave.
    pub(crate) fn needed_bytes(&self, len: u64) -> u64 {
        let len = len as usize;
        let tables = self.tables.get() as usize;
        if tables > 1 {
            // A split map after `shrink_to_fit`: its tables, each sized for an even share of
            // the entries (merging sibling tables may free a little more).
            let per = table_bytes_for(len.div_ceil(tables), self.entry_size, self.entry_align);
            return per.saturating_mul(tables) as u64;
        }
        table_bytes_for(len, self.entry_size, self.entry_align) as u64
    }
}

/// Width of hashbrown's control-byte group on this target (its SIMD width).
const GROUP_WIDTH: usize = if cfg!(any(all(
    target_feature = "sse2",
    any(target_arch = "x86", target_arch = "x86_64")
),))
{
    // hashbrown's SSE2 groups.
    16
} else if cfg!(any(
    all(
        target_arch = "aarch64",
        target_feature = "neon",
        target_endian = "little"
    ),
    target_pointer_width = "64",
    target_arch = "wasm32",
)) {
    // NEON groups, or the generic implementation's 64-bit word.
    8
} else {
    // The generic implementation's 32-bit word.
    4
};

/// The allocation hashbrown makes for a table sized for `cap` entries of `size`/`align`.
///
/// Mirrors hashbrown 0.17's `capacity_to_buckets` and `TableLayout::calculate_layout_for`; a
/// test checks it against `allocation_size()` after `shrink_to_fit` for many types and lengths.
pub(crate) fn table_bytes_for(cap: usize, size: usize, align: usize) -> usize {
    if cap == 0 {
        return 0;
    }
    let buckets = if cap < 15 {
        let min_cap = match (GROUP_WIDTH, size) {
            (16, 0..=1) => 14,
            (16, 2..=3) | (8, 0..=1) => 7,
            _ => 3,
        };
        let cap = cap.max(min_cap);
        if cap < 4 {
            4
        } else if cap < 8 {
            8
        } else {
            16
        }
    } else {
        match cap.checked_mul(8) {
            Some(c) => (c / 7).next_power_of_two(),
            None => return usize::MAX,
        }
    };
    table_bytes_for_buckets(buckets, size, align)
}

/// The allocation of a hashbrown table of `buckets` buckets (a power of two) of `size`/`align`
/// (`usize::MAX` if it does not fit in `usize`: such a table cannot exist).
pub(crate) fn table_bytes_for_buckets(buckets: usize, size: usize, align: usize) -> usize {
    let ctrl_align = align.max(GROUP_WIDTH);
    size.checked_mul(buckets)
        .and_then(|entries| entries.checked_add(ctrl_align - 1))
        .map(|end| end & !(ctrl_align - 1))
        .and_then(|ctrl_offset| ctrl_offset.checked_add(buckets + GROUP_WIDTH))
        .unwrap_or(usize::MAX)
}

/// Which of the thread's lookup countdowns a lookup decrements ([`countdown_ran_out`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Countdown {
    /// Maps that count every lookup: always 1 before a lookup, so every lookup runs it out.
    Exact,
    /// Every other map: the lookups left on this thread until the next sampled one, including
    /// it; a geometric draw ([`sample`]). Maps that sample their lookups count the one that
    /// runs it out; maps that count nothing (no cell yet, or governance off) only draw again
    /// ([`skip_sample`]), so that each lookup on a sampling map is still sampled with
    /// probability 1/N, whatever other lookups the thread makes between them.
    Sampled,
}

thread_local! {
    // The thread's countdowns, one per `Countdown`, each in a thread-local of its own, picked
    // by a `match` (indexed in one array, `mapbench`'s get loops decremented them through an
    // index register and read slower in one build, not checked with the loops' placement held
    // equal: see CHANGELOG.md). Neither is 0 between two lookups; each starts at 1, so that
    // its first lookup arms it (and, for the sampling countdown, draws the thread's first
    // interval).
    static EXACT: Cell<u32> = const { Cell::new(1) };
    static SAMPLED: Cell<u32> = const { Cell::new(1) };
    /// The thread's sampler state (0: not seeded yet).
    static SAMPLER: Cell<u32> = const { Cell::new(0) };
}

/// Seeds for the threads' samplers: each thread starts at its own point of the sequence.
static SAMPLER_SEEDS: AtomicU32 = AtomicU32::new(0x2545_F491);

/// Counts one lookup on `cell`, a map that counts every lookup: one `fetch_add`.
#[inline(always)]
pub(crate) fn record_exact_lookup(cell: &MapCell, hit: bool) {
    let counter = if hit { &cell.hits } else { &cell.misses };
    counter.fetch_add(1, Relaxed);
}

/// Decrements one of the thread's countdowns; whether it ran out (the lookup is then counted
/// out of line).
///
/// Lookups on maps that sample them (one in N: `lookup_sample`) are counted like this: each is
/// sampled independently with probability 1/N (a per-thread geometric countdown, so no pattern
/// of maps or keys can alias with it) and a sampled lookup adds N, so the counters are unbiased
/// estimates and only about one lookup in N writes to shared memory. Maps that count every
/// lookup decrement a countdown of their own, and maps that count none the sampling one (a
/// lookup of theirs that runs it out only draws again: [`skip_sample`]), so that the common
/// case of every lookup is this decrement and a branch; the cell or site is read only by a
/// lookup that runs its countdown out.
#[inline(always)]
pub(crate) fn countdown_ran_out(which: Countdown) -> bool {
    with_countdown(which, |c| {
        let left = c.get().wrapping_sub(1);
        c.set(left);
        left == 0
    })
}

/// Sets one of the thread's countdowns (after it ran out).
#[inline]
pub(crate) fn rearm_countdown(which: Countdown, lookups: u32) {
    with_countdown(which, |c| c.set(lookups));
}

/// Runs `f` on the thread's countdown `which`.
#[inline(always)]
fn with_countdown<R>(which: Countdown, f: impl FnOnce(&Cell<u32>) -> R) -> R {
    match which {
        Countdown::Exact => EXACT.with(f),
        Countdown::Sampled => SAMPLED.with(f),
    }
}

/// Where a sampled lookup is counted.
#[derive(Clone, Copy)]
pub(crate) enum Sampled<'a> {
    Cell(&'a MapCell),
    Site(&'static crate::registry::SmallSite),
    /// Nowhere: the lookup ran the sampling countdown out on a map that counts nothing.
    Nothing,
}

/// The sampling countdown ran out on a lookup that counts nothing (a map with no cell yet, or
/// with governance off): draws the next interval and counts nothing, as if the lookup had not
/// been sampled.
///
/// Reads the configuration only if something read it already: a lookup on a map that has not
/// allocated must not fix it, or a later [`Config::install`](crate::Config::install) would
/// fail. Before it is read no map samples (a map reads it when it first allocates), so the
/// countdown is left at 1 and the next lookup asks again; the first to run it out after the
/// configuration is read draws the thread's first interval, as every thread's first lookup
/// does ([`sample`]). Where no map can sample its lookups (governance off, or every lookup
/// counted: a map samples only with a configured `lookup_sample` above 1, see
/// `Handle::with_cell` and [`Config::allows_small_maps`](crate::Config::allows_small_maps)),
/// the countdown is parked at `u32::MAX` instead of drawing about once per `lookup_sample`
/// lookups for nothing.
#[cold]
#[inline(never)]
pub(crate) fn skip_sample() {
    match crate::config::try_get() {
        None => rearm_countdown(Countdown::Sampled, 1),
        Some(config) if config.enabled && config.lookup_sample > 1 => {
            sample(Sampled::Nothing, false);
        }
        Some(_) => rearm_countdown(Countdown::Sampled, u32::MAX),
    }
}

/// The countdown ran out: count this lookup if it is the sampled one (the thread's first
/// lookup only draws where its first sample falls), and draw the next countdown.
#[cold]
#[inline(never)]
pub(crate) fn sample(target: Sampled<'_>, hit: bool) {
    let rate = match target {
        Sampled::Cell(cell) => cell.lookup_sample.load(Relaxed),
        Sampled::Site(_) | Sampled::Nothing => crate::config::get().lookup_sample,
    }
    .max(1);
    let mut state = SAMPLER.with(Cell::get);
    if state == 0 {
        // The thread's first lookup: start with a countdown drawn like every other, so that a
        // thread making few lookups is not always sampled at once.
        state = xorshift(SAMPLER_SEEDS.fetch_add(0x9E37_79B9, Relaxed) | 1);
        let first = next_interval(state, rate);
        state = xorshift(state);
        SAMPLER.with(|s| s.set(state));
        if first > 1 {
            rearm_countdown(Countdown::Sampled, first - 1);
            return;
        }
    }
    match target {
        Sampled::Cell(cell) => {
            let counter = if hit { &cell.hits } else { &cell.misses };
            counter.fetch_add(u64::from(rate), Relaxed);
        }
        Sampled::Site(site) => {
            // Hits and misses, in the order of `Totals::fields`.
            let i = if hit { 3 } else { 4 };
            crate::batch::add_with(site.site, |d| d.totals[i] += i64::from(rate));
        }
        Sampled::Nothing => {}
    }
    rearm_countdown(Countdown::Sampled, next_interval(state, rate));
    SAMPLER.with(|s| s.set(xorshift(state)));
}

fn xorshift(mut x: u32) -> u32 {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    x
}

/// A geometric interval with mean `rate`: the number of lookups until the next sampled one when
/// each is sampled with probability `1 / rate`.
#[cold]
fn next_interval(state: u32, rate: u32) -> u32 {
    let r = xorshift(state);
    // u in (0, 1]
    let u = (f64::from(r) + 1.0) / (f64::from(u32::MAX) + 1.0);
    let p = 1.0 / f64::from(rate);
    let n = (u.ln() / (1.0 - p).ln()).ceil();
    if n.is_finite() && n >= 1.0 {
        n.min(f64::from(u32::MAX)) as u32
    } else {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geometric_intervals_have_the_configured_mean() {
        let mut state = 12345u32;
        let rate = 32;
        let n = 200_000;
        let mut sum = 0u64;
        for _ in 0..n {
            sum += u64::from(next_interval(state, rate));
            state = xorshift(state);
        }
        let mean = sum as f64 / f64::from(n);
        assert!((mean - 32.0).abs() < 1.0, "mean interval {mean}");
    }

    #[test]
    fn resize_histogram_buckets_by_upper_bound() {
        let site = SiteCell::new("f.rs", 1, 1, None, false, "u8", "u8");
        for ns in [1, 1_000, 1_001, 2_000, 3_000, 9_000_000_000, u64::MAX] {
            site.record_resize(ns);
        }
        let counts: Vec<u64> = site.resize_hist.iter().map(|c| c.load(Relaxed)).collect();
        assert_eq!(counts[0], 2, "1 ns and 1 µs are at most 1 µs");
        assert_eq!(counts[1], 2, "1.001 µs and 2 µs are at most 2 µs");
        assert_eq!(counts[2], 1, "3 µs is at most 4 µs");
        assert_eq!(counts[24], 2, "beyond 8.4 s");
        assert_eq!(site.timed_resizes.load(Relaxed), 7);
        assert_eq!(RESIZE_BUCKETS_NANOS[23], 8_388_608_000);
    }

    #[test]
    fn table_bytes_for_zero_is_zero() {
        assert_eq!(table_bytes_for(0, 16, 8), 0);
    }
}
