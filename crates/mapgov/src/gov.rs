//! The governance handle every map carries: its creation site and its stats cell (or, for a
//! map that found governance off, a mark that it is ungoverned).
//!
//! Ordinary operations only read `cell` and bump its counters. Everything else here is the cold
//! path: first allocation, resizes, tracking, naming and drop.

use std::panic::Location;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use crate::batch::{self, SmallEvent};
use crate::event::{self, EventKind};
use crate::registry::SmallSite;
use crate::stats::{Countdown, MapCell, SiteCell};
use crate::{callsite, config, registry};

mod small;

pub(crate) use small::stays_small;

/// The naming, lookup-counting and budget methods every governed map type has, over its
/// `gov` field and its `$state()` (the table state governance sees). `$map` names the type in
/// the examples and return types.
macro_rules! governance_methods {
    ($map:ident, $state:ident) => {
        /// Gives the map a stable name, reported with its stats and used as a label by
        /// exporters.
        ///
        /// Maps with the same creation site and name are aggregated together; keep names few
        /// (one per role, such as `"sessions"`), never per key or per request.
        ///
        /// # Examples
        ///
        /// ```
        #[doc = concat!(
            "let map: mapgov::", stringify!($map), "<u32, u32> = mapgov::", stringify!($map),
            "::new().named(\"sessions\");"
        )]
        /// assert_eq!(map.stats().unwrap().name.as_deref(), Some("sessions"));
        /// ```
        #[must_use]
        pub fn named(mut self, name: &str) -> $map<K, V, S> {
            self.set_name(name);
            self
        }

        /// Names (or renames) the map in place. See `named`.
        pub fn set_name(&mut self, name: &str) {
            let state = self.$state();
            self.gov.set_name::<K, V>(name, state);
        }

        /// Counts every lookup on this map exactly, instead of sampling one in
        /// `MAPGOV_LOOKUP_SAMPLE`.
        ///
        /// Exact counting is one atomic add per lookup on a counter shared by every thread
        /// that reads the map: cheap for a map used by one thread, costly for one read by many
        /// threads at once (measured here: two threads reading a shared map fall from ~306 to
        /// ~94 Mops/s).
        #[must_use]
        pub fn count_every_lookup(mut self) -> $map<K, V, S> {
            let state = self.$state();
            self.gov.set_lookup_sample::<K, V>(1, state);
            self
        }

        /// Limits this map's entries or bytes (see [`Budget`](crate::Budget)): crossing the
        /// limit is reported, never enforced by dropping data.
        #[must_use]
        pub fn budget(mut self, budget: crate::Budget) -> $map<K, V, S> {
            self.set_budget(Some(budget));
            self
        }

        /// Sets or clears this map's budget.
        pub fn set_budget(&mut self, budget: Option<crate::Budget>) {
            let state = self.$state();
            self.gov.set_budget::<K, V>(budget, state);
        }
    };
}

/// Resizes of tables smaller than this do not count toward `resize_max_nanos` (the worst stall).
pub(crate) const STALL_MIN_BYTES: usize = 64 * 1024;

/// Per-map governance state: 16 bytes.
///
/// How the map counts its lookups is part of its handle, not of its cell: the lookup path
/// reads only the map itself (whose fields the compiler can keep in registers across a loop of
/// lookups), never the cell, unless the lookup is counted.
#[derive(Debug)]
pub(crate) struct Gov {
    handle: Handle,
}

#[derive(Debug)]
// `repr(u8)` fixes the layout `Gov::is_off` reads: each variant is laid out as a `repr(C)`
// struct of the tag and its fields in order, so on 64-bit targets every variant holds a
// pointer at byte 8 (the `Small` variant's seven bytes of counts come first), and only
// `Bare(None)`'s is null.
#[repr(u8)]
enum Handle {
    /// No stats cell yet (nothing allocated, or governance off): the creation site, or `None`
    /// for a map known to be ungoverned: one of its cold paths (its first allocation, a
    /// resize, a naming or budget) found governance off (`MAPGOV=off`), or it is a copy of
    /// such a map. The configuration never changes once read, so that map is never governed:
    /// its inserts and entries test for this first and run hashbrown's alone; its other
    /// operations take a bare handle's branches, which count nothing.
    ///
    /// A mark on the bare handle rather than a variant of its own: a fifth variant made the
    /// governed maps' dispatch after a remove a jump table, or two instructions longer,
    /// depending on where it sat.
    Bare(Option<&'static Location<'static>>),
    /// Every lookup counted.
    Exact(Arc<MapCell>),
    /// Lookups sampled (one in the cell's `lookup_sample`).
    Sampled(Arc<MapCell>),
    /// A small untracked map without a cell: its counts since it last published to its site
    /// live here, in the handle's spare bytes (see the `small` module).
    Small {
        /// log2 of the bucket count of the table as published (`NO_TABLE`: none).
        buckets_log2: u8,
        /// The entries its site holds for it: its length when it last published.
        published_len: u16,
        /// Inserts, removes and updates since then (published before any passes `u8::MAX`).
        inserts: u8,
        removes: u8,
        updates: u8,
        /// The most `inserts - removes` has been since then, taken before each remove.
        peak_above: u8,
        /// The map's site (last, at byte 8, like the other variants' pointers).
        site: &'static SmallSite,
    },
}

// What `Gov::is_off` relies on besides `repr(u8)` (on 64-bit targets, where it reads the
// handle's word): a handle is a tag and one 8-byte word; an `Arc` is 8-aligned (so it sits at
// byte 8, not 4) and is its pointer alone (8 bytes), which is never null (`Option<Arc>` uses
// the null value for `None`, so no `Arc` has it).
#[cfg(target_pointer_width = "64")]
const _: () = assert!(size_of::<Handle>() == 16 && align_of::<Handle>() == 8);
#[cfg(target_pointer_width = "64")]
const _: () = assert!(
    size_of::<Arc<MapCell>>() == 8
        && align_of::<Arc<MapCell>>() == 8
        && size_of::<Option<Arc<MapCell>>>() == 8
);

impl Handle {
    /// The handle for `cell` with lookups counted one in `lookup_sample`.
    fn with_cell(cell: Arc<MapCell>, lookup_sample: u32) -> Handle {
        if lookup_sample <= 1 {
            Handle::Exact(cell)
        } else {
            Handle::Sampled(cell)
        }
    }
}

/// What a map's table looked like at some moment.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TableState {
    pub(crate) len: usize,
    pub(crate) capacity: usize,
    pub(crate) bytes: usize,
}

impl Gov {
    #[inline]
    #[track_caller]
    pub(crate) const fn new() -> Gov {
        Gov {
            handle: Handle::Bare(Some(Location::caller())),
        }
    }

    /// The map's stats cell, if it has one.
    #[inline(always)]
    pub(crate) fn cell(&self) -> Option<&MapCell> {
        match &self.handle {
            Handle::Sampled(c) | Handle::Exact(c) => Some(c),
            Handle::Bare(_) | Handle::Small { .. } => None,
        }
    }

    #[inline(always)]
    fn cell_arc(&self) -> Option<&Arc<MapCell>> {
        match &self.handle {
            Handle::Sampled(c) | Handle::Exact(c) => Some(c),
            Handle::Bare(_) | Handle::Small { .. } => None,
        }
    }

    /// The table's allocation as governance last saw it: exact, since every operation that can
    /// change it reports through the resize path.
    #[inline]
    pub(crate) fn known_bytes(&self) -> usize {
        match self.cell() {
            Some(c) => c.bytes() as usize,
            None => self.small_bytes().unwrap_or(0),
        }
    }

    /// Whether the map has neither a cell nor a small handle (it has not allocated, or
    /// governance is off).
    #[inline]
    pub(crate) fn is_bare(&self) -> bool {
        matches!(self.handle, Handle::Bare(_))
    }

    /// Whether the map is known to be ungoverned (a bare handle without a site): `insert` and
    /// `entry` test this first and then run hashbrown's alone.
    ///
    /// One comparison of the handle's pointer word with zero, and, where it is zero, the
    /// compiler told that the handle is `Bare(None)`, so that the code after the test folds
    /// every later test of the handle away. Measured with `mapbench --suites big,cache,small
    /// --modes default,off --processes 1`, alternated three times with the build before, whose
    /// `entry` ran the governed checks on an ungoverned map: the `MAPGOV=off` foldhash 1M entry
    /// upsert read 1.13–1.15 times hashbrown's before and 1.03–1.06 with this test first (the
    /// switch floor 1.00–1.05). Testing first with the two comparisons of `matches!` read
    /// 1.07–1.08 and cost the default configuration's upsert about 4 %.
    #[cfg(target_pointer_width = "64")]
    #[inline(always)]
    #[allow(unsafe_code)]
    pub(crate) fn is_off(&self) -> bool {
        // SAFETY: the handle is `repr(u8)`, so each variant is laid out as a `repr(C)` struct
        // of the tag and its fields in order; with the sizes and alignments asserted above,
        // every variant's bytes 8..16 are one 8-byte, 8-aligned, initialised field (the
        // handle is only ever written whole, or in `Small`'s count bytes 1..8): an
        // `Option<&Location>` (a nullable pointer, by `Option`'s guarantee for references),
        // an `Arc` (its pointer alone) or a `&SmallSite`. Reading them as a raw pointer reads
        // a valid pointer value.
        let word = unsafe { (&raw const self.handle).cast::<*const ()>().add(1).read() };
        let off = word.is_null();
        if off {
            // SAFETY: of those fields only `Bare`'s `Option` can be null (a reference never
            // is, nor an `Arc`, asserted above), so a null word is `Bare(None)`.
            unsafe { std::hint::assert_unchecked(matches!(self.handle, Handle::Bare(None))) }
        }
        off
    }

    /// [`is_off`](Self::is_off) on other targets, where the variants' pointers do not share
    /// an offset (4 bytes in, or 8 after the `Small` variant's counts): the tag and the site
    /// both tested.
    #[cfg(not(target_pointer_width = "64"))]
    #[inline(always)]
    pub(crate) fn is_off(&self) -> bool {
        matches!(self.handle, Handle::Bare(None))
    }

    /// Marks a bare map as ungoverned, on a cold path that found governance off.
    #[inline]
    pub(crate) fn set_off(&mut self) {
        if let Handle::Bare(_) = self.handle {
            self.handle = Handle::Bare(None);
        }
    }

    /// Whether the map is small (no cell; see the `small` module).
    #[inline]
    pub(crate) fn is_small(&self) -> bool {
        matches!(self.handle, Handle::Small { .. })
    }

    /// Counts one lookup (a hit or a miss), sampled or exactly as the map counts them.
    ///
    /// One decrement of a thread-local countdown and one branch, for every handle; the handle
    /// only picks which of two countdowns: an exact map's own, which runs out on every lookup
    /// (counted out of line: its cost is that call and the shared add), or the thread's
    /// sampling countdown, which every other map's lookups run down and which runs out one
    /// lookup in N on average (see [`Countdown::Sampled`]). In `mapbench`'s get loops the
    /// pick is one comparison of the tag per lookup (with foldhash the sampling countdown's
    /// address is held in a register; with std's hasher, whose state takes more registers,
    /// the chosen address is loaded from the stack). Before, a bare map had a third countdown
    /// of its own, and the pick took two comparisons and that load; before that, every lookup
    /// tested the handle's tag and only a sampling map's decremented a countdown. See
    /// CHANGELOG.md for what each change measured.
    #[inline(always)]
    pub(crate) fn record_lookup(&self, hit: bool) {
        let countdown = match self.handle {
            Handle::Exact(_) => Countdown::Exact,
            Handle::Bare(_) | Handle::Sampled(_) | Handle::Small { .. } => Countdown::Sampled,
        };
        if crate::stats::countdown_ran_out(countdown) {
            self.lookup_cold(hit);
        }
    }

    /// A lookup whose countdown ran out: the sampled lookup of a sampling map, every lookup
    /// of a map that counts them all, or a bare map's lookup that drew the sample, which only
    /// draws again (out of line, so that the loop around a lookup holds one rare call and no
    /// cell).
    #[cold]
    #[inline(never)]
    fn lookup_cold(&self, hit: bool) {
        match &self.handle {
            Handle::Sampled(c) => crate::stats::sample(crate::stats::Sampled::Cell(c), hit),
            Handle::Small { site, .. } => {
                crate::stats::sample(crate::stats::Sampled::Site(site), hit);
            }
            Handle::Exact(c) => {
                crate::stats::record_exact_lookup(c, hit);
                crate::stats::rearm_countdown(Countdown::Exact, 1);
            }
            Handle::Bare(_) => crate::stats::skip_sample(),
        }
    }

    /// Counts the insert of a new key. Returns whether the cold path must run
    /// ([`on_limit`](Gov::on_limit), given the length after the insert): the insert room of a
    /// map with a cell ran out, or a small map's counter is full.
    #[inline(always)]
    pub(crate) fn on_insert(&mut self) -> bool {
        match &mut self.handle {
            Handle::Sampled(c) | Handle::Exact(c) => c.on_insert(),
            Handle::Small { inserts, .. } => {
                *inserts += 1;
                *inserts == u8::MAX
            }
            Handle::Bare(_) => false,
        }
    }

    /// Counts the update of a present key's value. Returns whether the cold path must run.
    #[inline(always)]
    pub(crate) fn on_update(&mut self) -> bool {
        match &mut self.handle {
            Handle::Sampled(c) | Handle::Exact(c) => {
                c.updates.add(1);
                false
            }
            Handle::Small { updates, .. } => {
                *updates += 1;
                *updates == u8::MAX
            }
            Handle::Bare(_) => false,
        }
    }

    /// Counts a removed key; `len` is the length after it. Returns whether the cold path must
    /// run.
    #[inline(always)]
    pub(crate) fn on_remove(&mut self, len: usize) -> bool {
        match &mut self.handle {
            Handle::Sampled(c) | Handle::Exact(c) => c.on_remove(len),
            Handle::Small {
                inserts,
                removes,
                peak_above,
                ..
            } => {
                // The length was at its highest since the last publish just before a remove.
                let above = i16::from(*inserts) - i16::from(*removes);
                if above > i16::from(*peak_above) {
                    *peak_above = above as u8;
                }
                *removes += 1;
                *removes == u8::MAX
            }
            Handle::Bare(_) => false,
        }
    }

    /// Counts the removal of all `len` entries at once (`drain`, `par_drain`; the table stays
    /// allocated), through the map's cell or, for a small map, published to its site.
    pub(crate) fn on_drain(&mut self, len: usize) {
        match &self.handle {
            Handle::Sampled(c) | Handle::Exact(c) => c.count_removes(len as u64, len as u64),
            Handle::Small { .. } => self.count_small_bulk(len, 0),
            Handle::Bare(_) => {}
        }
    }

    /// The cold path after `on_insert`, `on_update` or `on_remove` asked for it, `len` being
    /// the length now: runs the policies of a map with a cell (returning the shrink they ask
    /// for), or publishes a small map's counts.
    #[cold]
    #[inline(never)]
    pub(crate) fn on_limit(&mut self, len: usize) -> crate::policy::Action {
        match &self.handle {
            Handle::Sampled(c) | Handle::Exact(c) => crate::policy::on_limit(c, len as u64),
            Handle::Small { .. } => {
                self.publish_small(0, 0, SmallEvent::Counts, 0);
                crate::policy::Action::None
            }
            Handle::Bare(_) => crate::policy::Action::None,
        }
    }

    /// [`on_limit`](Gov::on_limit) for an insert counted before it is made: a panic in the
    /// check uncounts it (see `policy::on_limit_before_insert`).
    #[cold]
    #[inline(never)]
    pub(crate) fn on_limit_before_insert(&mut self, len: usize) {
        match &self.handle {
            Handle::Sampled(c) | Handle::Exact(c) => {
                let _ = crate::policy::on_limit_before_insert(c, len as u64);
            }
            // A small map's publish runs no user code.
            Handle::Small { .. } | Handle::Bare(_) => {
                let _ = self.on_limit(len);
            }
        }
    }

    /// Creates the stats cell if governance is on and there is none yet. `state` is the table as
    /// it is now; its entries count as already present (`len_base`).
    #[cold]
    pub(crate) fn ensure_cell<K, V>(&mut self, state: TableState) -> Option<&MapCell> {
        if let Handle::Small { .. } = self.handle {
            self.promote::<K, V>(state);
        }
        if let Handle::Bare(site) = self.handle {
            let Some(loc) = site.filter(|_| config::enabled()) else {
                self.set_off();
                return None;
            };
            let config = config::get();
            let site = registry::site_for::<K, V>(loc);
            let cell = new_cell::<K, V>(site, config.lookup_sample, state);
            self.handle = Handle::with_cell(cell, config.lookup_sample);
            if let Some(p) = config.shrink_policy {
                self.set_policy::<K, V>(state, |s| {
                    if s.shrink.is_none() {
                        s.shrink = Some(p);
                    }
                });
            }
        }
        self.cell()
    }

    /// Called after an operation that may have changed the table's allocation (construction
    /// with a capacity, reserve, shrink, the growth of an insert).
    ///
    /// `before` is the table before the operation, `after` after it; `nanos` is the measured
    /// duration when it was timed.
    #[cold]
    pub(crate) fn after_resize<K, V>(
        &mut self,
        before: TableState,
        after: TableState,
        nanos: Option<u64>,
    ) {
        self.after_change::<K, V>(&before, &after, nanos, None);
    }

    /// [`after_resize`](Gov::after_resize) for a split map: `change` says how many tables it
    /// split (a growth step) or rebuilt in place, and how many tables the map has after it.
    #[cold]
    pub(crate) fn after_split_map_resize<K, V>(
        &mut self,
        before: TableState,
        after: TableState,
        nanos: Option<u64>,
        change: SplitChange,
    ) {
        self.after_change::<K, V>(&before, &after, nanos, Some(change));
    }

    /// `split`: `None` for the plain maps, what changed for split maps.
    ///
    /// The states come by reference: a copy of a struct just written field by field is read
    /// back with one wide load, which stalls on store forwarding (measured: a third of the
    /// time of a small map's resize accounting).
    fn after_change<K, V>(
        &mut self,
        before: &TableState,
        after: &TableState,
        nanos: Option<u64>,
        split: Option<SplitChange>,
    ) {
        if let Handle::Small { .. } = self.handle
            && self.small_resized::<K, V>(before, after, nanos)
        {
            return;
        }
        let created = self.cell().is_none();
        if created {
            if after.bytes == 0 {
                return;
            }
            if !config::enabled() {
                self.set_off();
                return;
            }
            if split.is_none() && self.start_small::<K, V>(after) {
                return;
            }
            if self.ensure_cell::<K, V>(*after).is_none() {
                return;
            }
        }
        let Some(cell) = self.cell() else {
            return;
        };
        // Entries lost by a panicking hasher during an in-place rehash are counted as removed
        // by the caller (`Reconcile` in map.rs), which sees every length change.
        if let Some(change) = split {
            cell.tables.set(change.tables as u64);
        }
        let mut resized = true;
        let kind = if let Some(change @ SplitChange { splits: 1.., .. }) = split {
            // Tables became two each: the map's allocation grew by bounded steps.
            cell.grows.add(1);
            cell.splits.add(change.splits);
            EventKind::Split
        } else if let Some(change @ SplitChange { rebuilt: 1.., .. }) = split
            && after.bytes == before.bytes
        {
            // Tables rebuilt at their size to clear tombstones: a split map's in-place rehash.
            cell.rehashes.add(change.rebuilt);
            EventKind::Rehashed
        } else if let Some(kind) = resize_kind(before, after) {
            let counter = match kind {
                EventKind::Grew => &cell.grows,
                EventKind::Shrank => &cell.shrinks,
                _ => &cell.rehashes,
            };
            counter.add(1);
            kind
        } else {
            // The first allocation, or an operation that changed nothing (a no-op shrink).
            resized = false;
            EventKind::Created
        };
        if let (Some(ns), true) = (nanos, resized) {
            cell.resize_nanos.add(ns);
            cell.timed_resizes.add(1);
            cell.site.record_resize(ns);
            // A table under 64 KiB resizes in microseconds: a longer pause there is the
            // scheduler, not the map, so it does not count as the worst stall.
            if ns > cell.resize_max_nanos.get() && before.bytes >= STALL_MIN_BYTES {
                cell.resize_max_nanos.set(ns);
            }
        }
        // A rebuilt table has no tombstones: its capacity now is its full capacity.
        let capacity = if resized || before.bytes == 0 {
            after.capacity as u64
        } else {
            cell.capacity()
        };
        cell.set_table(after.bytes as u64, capacity);
        if cell.has_policy.load(Relaxed) {
            crate::policy::after_resize(
                cell,
                before.bytes > 0 && after.bytes > before.bytes,
                after.capacity as u64,
                after.bytes as u64,
            );
        }
        if !cell.is_tracked() {
            let threshold = config::get().track_min_bytes;
            if after.bytes > 0 && after.bytes >= threshold {
                // Records the `created` event; the resize that made the map tracked follows.
                self.start_tracking::<K, V>();
            } else if created && !resized && !cell.has_policy.load(Relaxed) {
                // A cell created just now for the first allocation, which counted nothing,
                // has nothing to flush but its creation.
                cell.flush_creation_to_site();
            } else {
                cell.flush_to_site();
            }
        }
        if resized
            && let Some(cell) = self.cell()
            && cell.is_tracked()
        {
            // Only tracked maps record events.
            event::resized(cell, kind, *before, *after, nanos);
        }
    }

    /// Registers the map individually, first moving it to the site a backtrace finds when the
    /// compiler could only name a location inside std (`collect()`, `Vec::clone`, ...).
    #[cold]
    fn start_tracking<K, V>(&mut self) {
        let Some(cell) = self.cell_arc() else {
            return;
        };
        if !cell.site.resolved
            && callsite::is_foreign(cell.site.file)
            && let Some(frame) = callsite::user_frame()
        {
            let site = registry::named_site::<K, V>(
                &frame.file,
                frame.line,
                frame.column,
                cell.site.name,
                true,
            );
            self.rehome(site);
        }
        if let Some(cell) = self.cell_arc() {
            registry::track(cell);
        }
    }

    /// Gives the map a name: it moves to the site `(location, name)`.
    #[cold]
    pub(crate) fn set_name<K, V>(&mut self, name: &str, state: TableState) {
        if self.ensure_cell::<K, V>(state).is_none() {
            return;
        }
        let Some(cell) = self.cell() else {
            return;
        };
        if cell.site.name == Some(name) {
            return;
        }
        let (file, line, column, resolved) = (
            cell.site.file,
            cell.site.line,
            cell.site.column,
            cell.site.resolved,
        );
        let site = registry::named_site::<K, V>(file, line, column, Some(name), resolved);
        self.rehome(site);
        if let Some(budget) = config::get().budget_named(name) {
            let budget = budget.clone();
            self.set_policy::<K, V>(state, |s| {
                if !s.budget_explicit {
                    s.budget = Some(budget);
                }
            });
        }
    }

    /// Changes the map's policies through `f`, then re-arms its hot-path limits.
    #[cold]
    pub(crate) fn set_policy<K, V>(
        &mut self,
        state: TableState,
        f: impl FnOnce(&mut crate::policy::PolicyState),
    ) {
        if let Some(cell) = self.ensure_cell::<K, V>(state) {
            let mut policy = cell.policy.lock().unwrap_or_else(|e| e.into_inner());
            f(&mut policy);
            cell.has_policy
                .store(policy.shrink.is_some() || policy.budget.is_some(), Relaxed);
            cell.rearm(&policy, cell.capacity(), cell.bytes(), state.len as u64);
            drop(policy);
            // A map already past a new budget is reported now, not at its next insert. (A shrink
            // this asks for waits for the next operation through the map.)
            let len = state.len as u64;
            if cell.outside_limits(len) {
                let _ = crate::policy::on_limit(cell, len);
            }
        }
    }

    /// Sets or clears the map's own budget (a named budget from the configuration no longer
    /// applies once one is set); both limits count their crossings afresh.
    #[cold]
    pub(crate) fn set_budget<K, V>(&mut self, budget: Option<crate::Budget>, state: TableState) {
        self.set_policy::<K, V>(state, |s| {
            s.budget_explicit = budget.is_some();
            s.budget = budget;
            s.entries_crossed = false;
            s.bytes_crossed = false;
        });
    }

    /// Sets how this map's lookups are counted (1 = every lookup).
    #[cold]
    pub(crate) fn set_lookup_sample<K, V>(&mut self, n: u32, state: TableState) {
        if self.ensure_cell::<K, V>(state).is_none() {
            return;
        }
        let handle = std::mem::replace(&mut self.handle, Handle::Bare(Some(Location::caller())));
        if let Handle::Sampled(cell) | Handle::Exact(cell) = handle {
            cell.lookup_sample.store(n.max(1), Relaxed);
            self.handle = Handle::with_cell(cell, n);
        }
    }

    /// Moves the map's history from its current site to `site`.
    fn rehome(&mut self, site: &'static SiteCell) {
        let Some(old) = self.cell_arc() else {
            return;
        };
        if std::ptr::eq(old.site, site) {
            return;
        }
        let tracked = old.is_tracked();
        // Taking counts back from a site must not interleave with a snapshot's reads of it
        // (their order only covers counts that grow; see `SiteDelta::apply`): under the
        // registry lock, which snapshots hold, with an untracked map's share going out in
        // this thread's batch, published here.
        let mut reg = registry::lock();
        old.unflush_from_site();
        if !tracked {
            batch::flush_current_thread();
        }
        let new = Arc::new(old.moved_to(site));
        if tracked {
            let slot = new.slot.load(Relaxed) as usize;
            if let Some(entry) = reg.maps.get_mut(slot) {
                *entry = Some(Arc::clone(&new));
            }
        }
        // Tracked maps publish their creation at their new site right away (under the lock);
        // untracked ones through the thread's batch.
        new.flush_to_site();
        let sample = new.lookup_sample.load(Relaxed);
        self.handle = Handle::with_cell(new, sample);
    }

    /// A fresh handle for a copy of this map (`Clone`), created at the caller's location. The
    /// copy keeps the name and the lookup counting mode (a copy of a small map is small); its
    /// counters start at zero with its entries counted as present from the start.
    #[cold]
    #[track_caller]
    pub(crate) fn for_clone<K, V>(&self, state: TableState) -> Gov {
        let mut gov = Gov::new();
        if self.is_bare() {
            if self.is_off() {
                gov.set_off();
            }
            return gov;
        }
        if let Some(cell) = self.cell() {
            if let Some(name) = cell.site.name {
                gov.set_name::<K, V>(name, state);
            }
            gov.set_lookup_sample::<K, V>(cell.lookup_sample.load(Relaxed), state);
        }
        let empty = TableState {
            len: state.len,
            capacity: 0,
            bytes: 0,
        };
        gov.after_resize::<K, V>(empty, state, None);
        gov
    }
}

fn new_cell<K, V>(site: &'static SiteCell, lookup_sample: u32, state: TableState) -> Arc<MapCell> {
    let cell = MapCell::acquire::<K, V>(site, lookup_sample);
    // Its entries count as present; the peak length starts there (the length is its floor).
    cell.len_base.set(state.len as u64);
    // The creation reaches the site with the cell's first flush.
    cell
}

impl Drop for Gov {
    #[inline]
    fn drop(&mut self) {
        match &self.handle {
            // Read in place, field by field: a copy of the whole handle would be one wide load
            // of bytes just written one by one (its counters), which stalls on store
            // forwarding.
            Handle::Small { .. } => small::retire(&self.handle),
            Handle::Sampled(_) | Handle::Exact(_) => self.retire_cell(),
            Handle::Bare(_) => {}
        }
    }
}

impl Gov {
    /// Retires the map's stats cell (out of line: the registry's path is long, and a drop of
    /// a map without a cell should not pay for its stack frame).
    #[inline(never)]
    fn retire_cell(&mut self) {
        if let Handle::Sampled(cell) | Handle::Exact(cell) =
            std::mem::replace(&mut self.handle, Handle::Bare(Some(Location::caller())))
        {
            registry::retire(cell);
        }
    }
}

/// What a resize that changed the table did: grew, shrank or rehashed it in place; `None` for
/// a first allocation or an operation that changed nothing (a no-op shrink).
fn resize_kind(before: &TableState, after: &TableState) -> Option<EventKind> {
    if before.bytes == 0 {
        None
    } else if after.bytes > before.bytes {
        Some(EventKind::Grew)
    } else if after.bytes < before.bytes {
        Some(EventKind::Shrank)
    } else if after.capacity > before.capacity {
        Some(EventKind::Rehashed)
    } else {
        None
    }
}

/// What a restructuring of a split map did, for its report to governance.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct SplitChange {
    /// Tables split in two.
    pub(crate) splits: u64,
    /// Tables rebuilt at their own size to clear tombstones.
    pub(crate) rebuilt: u64,
    /// Tables after the change.
    pub(crate) tables: usize,
}

/// A clock started when a resize of a table of `bytes_before` bytes is to be timed (the
/// table is big enough for the clock reads not to matter), `None` otherwise.
#[inline]
pub(crate) fn timer(bytes_before: usize) -> Option<Instant> {
    timer_would_run(bytes_before).then(Instant::now)
}

/// Whether a resize of a table of `bytes_before` bytes is timed.
#[inline]
pub(crate) fn timer_would_run(bytes_before: usize) -> bool {
    bytes_before > 0 && bytes_before >= config::get().time_min_bytes && config::enabled()
}

/// Times `op` when the table is big enough for the clock reads not to matter.
#[inline]
pub(crate) fn timed<R>(bytes_before: usize, op: impl FnOnce() -> R) -> (R, Option<u64>) {
    let t0 = timer(bytes_before);
    let r = op();
    (r, t0.map(|t0| t0.elapsed().as_nanos() as u64))
}
