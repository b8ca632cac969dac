//! [`SplitMap`]: a governed map for big maps whose growth never stalls.
//!
//! # Design
//!
//! The map is a directory of bounded hashbrown [`HashTable`]s (extendible hashing, as Go 1.24's
//! Swiss-table maps do it). Bits 56 down to `57 - depth` of an entry's hash pick its directory
//! slot; each slot names a table, and a table of local depth `d` is named by the
//! `2^(depth - d)` slots that share its `d`-bit prefix. hashbrown itself uses the low bits (the
//! bucket) and the top seven (the control tag), so the three never overlap.
//!
//! A small map is one table that grows as hashbrown's does. Once that table has
//! [`TABLE_MAX_BUCKETS`] buckets and fills up, the next insert into it *splits* it: its entries
//! move to two fresh tables by the next bit of their hash, and the directory doubles when the
//! table was as deep as the directory. No insert moves more than one table's entries (at most
//! [`TABLE_MAX_ENTRIES`]) or copies more than the directory (4 bytes per slot), so the worst
//! insert is bounded by a constant instead of by the map's size.
//!
//! Every restructuring of a table (split, clearing tombstones, shrink, merge) is two-phase:
//! first every key is hashed (user code, which may panic: nothing has moved yet), then the
//! entries move with no user code running. A panicking `Hash` therefore leaves every entry
//! where it was, reachable exactly once. Growing a table below the maximum is hashbrown's own
//! resize, which has the same property.

use std::borrow::Borrow;
use std::collections::TryReserveError;
use std::fmt::{self, Debug};
use std::hash::{BuildHasher, Hash, RandomState};
use std::ops::Index;

use hashbrown::HashTable;
use hashbrown::hash_table;

use crate::gov::{Gov, SplitChange, TableState, timer};
use crate::policy::{self, Action};
use crate::snapshot::{MapStats, map_stats};

mod entry;
mod iter;

pub use entry::{Entry, OccupiedEntry, VacantEntry};
pub use iter::{
    Drain, ExtractIf, IntoIter, IntoKeys, IntoValues, Iter, IterMut, Keys, Values, ValuesMut,
};

/// Buckets of the largest table: a full table of this size splits instead of growing.
///
/// Chosen by measurement (growing a map of `u64` pairs to 16M entries, std's SipHash): a
/// split of a full table of 2^13 buckets takes ~140 µs here (2^14: ~270 µs, 2^15: ~500 µs),
/// which leaves room under a millisecond for a busy machine, while the directory of a
/// 16M-entry map stays a few thousand slots; lookups measured the same for all three.
pub const TABLE_MAX_BUCKETS: usize = 1 << 13;

/// Entries a table of [`TABLE_MAX_BUCKETS`] buckets holds (hashbrown's 7/8 load).
pub const TABLE_MAX_ENTRIES: usize = TABLE_MAX_BUCKETS / 8 * 7;

/// The deepest directory: 2^40 slots, far beyond any memory. A table this deep grows instead
/// of splitting, so the hash bits the directory reads never reach the bucket bits.
const MAX_DEPTH: u32 = 40;

/// The load a pre-sized map (`with_capacity`, `reserve`) plans for, so that a table holding a
/// share somewhat above the average still has room.
const PLANNED_LOAD: f64 = 0.8;

/// One table of the directory.
pub(crate) struct Table<K, V> {
    pub(crate) raw: HashTable<(K, V)>,
    /// Local depth: the table holds the entries whose top `depth` directory bits are `prefix`.
    depth: u32,
    prefix: u64,
}

impl<K: Clone, V: Clone> Clone for Table<K, V> {
    fn clone(&self) -> Self {
        Table {
            raw: self.raw.clone(),
            depth: self.depth,
            prefix: self.prefix,
        }
    }
}

/// Entries a table of `buckets` buckets holds (hashbrown's `bucket_mask_to_capacity`).
fn bucket_capacity(buckets: usize) -> usize {
    if buckets < 8 {
        buckets.saturating_sub(1)
    } else {
        buckets / 8 * 7
    }
}

/// A governed hash map for big maps: growth splits one bounded table at a time, so no insert
/// ever rehashes the whole map.
///
/// A `hashbrown` (or std) map that grows past ~14.7M entries moves every entry in one insert
/// (0.5–1 s measured here); a request that lands on it stalls that long. A `SplitMap` is a
/// directory of hashbrown tables of at most [`TABLE_MAX_BUCKETS`] buckets: when one fills, the
/// next insert into it splits it in two, moving at most [`TABLE_MAX_ENTRIES`] entries. Lookups
/// cost one more cache-resident load (the directory slot). See `BENCHMARKS.md` for the
/// measured worst insert, percentiles, total time, lookups and memory against hashbrown.
///
/// It has the API of [`std::collections::HashMap`] and the same governance as
/// [`mapgov::HashMap`](crate::HashMap) (site, name, stats, snapshot, events, budgets, report,
/// exporters). Splits are counted in [`MapStats::splits`] (and in `grows`), the current
/// number of tables in [`MapStats::tables`], and the worst step in `resize_max_nanos`; each
/// split of a tracked map is a [`split`](crate::EventKind::Split) event.
///
/// # What differs from std's `HashMap`
///
/// - [`capacity`](SplitMap::capacity) is the sum of the tables' capacities. Entries spread
///   over the tables as their hashes fall, so an insert may split a table before `len` reaches
///   `capacity` (a bounded step, never a full rehash). Likewise `with_capacity(n)` and
///   `reserve(n)` pre-split the map into enough tables for `n` entries at 80 % load, so
///   inserting them splits nothing in practice, but it is not a guarantee.
/// - Iteration visits one table after the other: the order is arbitrary, as std's is, but a
///   different arbitrary order.
/// - [`shrink_to_fit`](SplitMap::shrink_to_fit) and [`shrink_to`](SplitMap::shrink_to)
///   merge sibling tables and shrink each table: they take time proportional to the map, as
///   std's do. A [`ShrinkPolicy`](crate::ShrinkPolicy) from the configuration applies to split
///   maps too, with that cost.
/// - The hasher must spread its output over the high bits too (std's `RandomState`, foldhash,
///   ahash and every general-purpose hasher do; an identity hash of small integers does not,
///   and would put every key in one table).
/// - There is no `get_disjoint_unchecked_mut`; [`get_disjoint_mut`](SplitMap::get_disjoint_mut)
///   scans the table list, so it costs time proportional to the number of tables.
/// - `try_reserve` reports capacity overflow and a failed allocation of a single-table map as
///   errors; a map that must split to make room allocates its new tables infallibly.
///
/// # Examples
///
/// ```
/// use mapgov::SplitMap;
///
/// let mut sessions: SplitMap<u64, u64> = SplitMap::new().named("sessions");
/// for id in 0..100_000 {
///     sessions.insert(id, id * 2);
/// }
/// assert_eq!(sessions.get(&21), Some(&42));
/// assert!(sessions.tables() > 1);
///
/// let stats = sessions.stats().expect("governance is on");
/// assert_eq!(stats.len, 100_000);
/// assert_eq!(stats.tables, sessions.tables() as u64);
/// assert!(stats.splits > 0);
/// ```
pub struct SplitMap<K, V, S = RandomState> {
    pub(crate) tables: Vec<Table<K, V>>,
    /// Directory: slot -> index into `tables`. Empty until the first table exists.
    dir: Vec<u32>,
    /// `64 - depth` for the global depth, which is at least 1 (the directory has `2^depth`
    /// slots, two for a single table), so a slot is one shift of the hash.
    dir_shift: u32,
    pub(crate) len: usize,
    /// Bytes of the tables' allocations.
    table_bytes: usize,
    /// Entries the tables hold when full (tombstones not subtracted).
    table_capacity: usize,
    /// `table_bytes` and `table_capacity` may be wrong: a `Drain` was leaked, or an entry's
    /// `Drop` panicked while one was dropped (hashbrown then leaves that table unallocated).
    /// Readers then sum the tables; the next restructuring recomputes the cache.
    accounting_stale: bool,
    /// Tables split and rebuilt by the restructuring under way (reported when it ends).
    pending_splits: u64,
    pending_rebuilt: u64,
    /// log2 of the largest table's buckets ([`TABLE_MAX_BUCKETS`] unless a test lowers it).
    max_buckets_log2: u8,
    hash_builder: S,
    pub(crate) gov: Gov,
}

impl<K, V> SplitMap<K, V, RandomState> {
    /// Creates an empty map. It does not allocate until the first insert.
    ///
    /// # Examples
    ///
    /// ```
    /// let map: mapgov::SplitMap<&str, i32> = mapgov::SplitMap::new();
    /// assert!(map.is_empty());
    /// ```
    #[inline]
    #[must_use]
    #[track_caller]
    pub fn new() -> SplitMap<K, V, RandomState> {
        SplitMap::with_hasher(RandomState::new())
    }

    /// Creates an empty map with room for about `capacity` entries (see the type's docs).
    ///
    /// # Examples
    ///
    /// ```
    /// let map: mapgov::SplitMap<u64, u64> = mapgov::SplitMap::with_capacity(100);
    /// assert!(map.capacity() >= 100);
    /// ```
    #[inline]
    #[must_use]
    #[track_caller]
    pub fn with_capacity(capacity: usize) -> SplitMap<K, V, RandomState> {
        SplitMap::with_capacity_and_hasher(capacity, RandomState::new())
    }
}

impl<K, V, S> SplitMap<K, V, S> {
    /// Creates an empty map that will use `hash_builder` to hash keys.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::hash::RandomState;
    /// let mut map = mapgov::SplitMap::with_hasher(RandomState::new());
    /// map.insert(1, 2);
    /// ```
    #[inline]
    #[must_use]
    #[track_caller]
    pub const fn with_hasher(hash_builder: S) -> SplitMap<K, V, S> {
        SplitMap {
            tables: Vec::new(),
            dir: Vec::new(),
            dir_shift: 63,
            len: 0,
            table_bytes: 0,
            table_capacity: 0,
            accounting_stale: false,
            pending_splits: 0,
            pending_rebuilt: 0,
            max_buckets_log2: TABLE_MAX_BUCKETS.trailing_zeros() as u8,
            hash_builder,
            gov: Gov::new(),
        }
    }

    /// Creates an empty map with room for about `capacity` entries, using `hasher`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::hash::RandomState;
    /// let mut map = mapgov::SplitMap::with_capacity_and_hasher(10, RandomState::new());
    /// map.insert(1, 2);
    /// ```
    #[must_use]
    #[track_caller]
    pub fn with_capacity_and_hasher(capacity: usize, hasher: S) -> SplitMap<K, V, S> {
        let mut map = SplitMap::with_hasher(hasher);
        if capacity > 0 {
            let before = map.state();
            map.presize_empty(capacity);
            let after = map.state();
            let change = SplitChange {
                splits: map.tables.len().saturating_sub(1) as u64,
                rebuilt: 0,
                tables: map.tables.len(),
            };
            map.gov
                .after_split_map_resize::<K, V>(before, after, None, change);
        }
        map
    }

    /// Lays out an empty map for `capacity` entries: one table for a small map, otherwise
    /// enough tables of the largest size for `capacity` entries at the planned load.
    ///
    /// # Panics
    ///
    /// Panics if the allocation size overflows `usize`.
    fn presize_empty(&mut self, capacity: usize) {
        debug_assert!(self.tables.is_empty());
        let depth = if capacity <= self.max_entries() {
            0
        } else {
            let per_table = (self.max_entries() as f64 * PLANNED_LOAD) as usize;
            capacity
                .div_ceil(per_table)
                .checked_next_power_of_two()
                .expect("capacity overflow")
                .trailing_zeros()
                .min(MAX_DEPTH)
        };
        let count = 1usize << depth;
        let per = if depth == 0 {
            capacity
        } else {
            self.max_entries()
        };
        count
            .checked_mul(self.max_buckets())
            .and_then(|b| b.checked_mul(std::mem::size_of::<(K, V)>() + 1))
            .filter(|&b| b <= isize::MAX as usize)
            .expect("capacity overflow");
        self.tables = (0..count)
            .map(|i| Table {
                raw: HashTable::with_capacity(per),
                depth,
                prefix: i as u64,
            })
            .collect();
        // The directory is at least two slots deep (see `dir_shift`).
        let global = depth.max(1);
        self.dir = (0..1u32 << global).map(|s| s >> (global - depth)).collect();
        self.dir_shift = 64 - global;
        let (bytes, cap) = self
            .tables
            .iter()
            .map(|t| cost(&t.raw))
            .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
        self.account((0, 0), (bytes, cap));
    }

    /// Buckets of the largest table.
    #[inline]
    fn max_buckets(&self) -> usize {
        1 << self.max_buckets_log2
    }

    /// Entries of the largest table.
    #[inline]
    fn max_entries(&self) -> usize {
        bucket_capacity(self.max_buckets())
    }

    /// Lowers the largest table to `buckets` buckets (a power of two from 8 to
    /// [`TABLE_MAX_BUCKETS`]), so that tests cross many splits with few entries. Only for an
    /// empty map that has not allocated.
    ///
    /// # Panics
    ///
    /// Panics if `buckets` is out of range or the map has allocated.
    #[doc(hidden)]
    #[must_use]
    pub fn with_table_max_buckets(mut self, buckets: usize) -> Self {
        assert!(
            buckets.is_power_of_two() && (8..=TABLE_MAX_BUCKETS).contains(&buckets),
            "table size out of range"
        );
        assert!(self.tables.is_empty(), "the map has allocated");
        self.max_buckets_log2 = buckets.trailing_zeros() as u8;
        self
    }

    /// The directory slot of `hash`: its bits 56 and down, as many as the global depth.
    #[inline(always)]
    fn slot(&self, hash: u64) -> usize {
        ((hash << 7) >> self.dir_shift) as usize
    }

    /// The global depth.
    #[inline]
    fn depth(&self) -> u32 {
        64 - self.dir_shift
    }

    /// The index of the table that holds (or would hold) `hash`. The map must have a table.
    ///
    /// This is the one lookup step every operation pays, so it skips the bounds checks:
    /// measured with `mapbench` (1M map, get hit, foldhash), checked indexing made the lookup
    /// ~25 % slower than unchecked.
    #[inline(always)]
    fn table_index(&self, hash: u64) -> usize {
        debug_assert!(!self.dir.is_empty(), "lookup in a map without tables");
        let slot = self.slot(hash);
        debug_assert!(slot < self.dir.len());
        // SAFETY: the directory has `2^depth` slots whenever it is not empty (every function
        // that changes `dir` or `dir_shift` keeps them in step: `first_table`, `presize_empty`,
        // `split`, `shrink_inner`; `check_invariants` asserts it), `1 <= depth <= MAX_DEPTH`,
        // and `(hash << 7) >> (64 - depth)` is below `2^depth`. The caller checked that the
        // directory is not empty.
        #[allow(unsafe_code)]
        let t = unsafe { *self.dir.get_unchecked(slot) } as usize;
        debug_assert!(t < self.tables.len());
        t
    }

    /// The table of `table_index(hash)`.
    #[inline(always)]
    fn table_for(&self, hash: u64) -> &Table<K, V> {
        let t = self.table_index(hash);
        // SAFETY: every directory slot names an existing table: `split` points slots only at
        // the table it pushed, `merge` re-points the slots of the table `swap_remove` moved,
        // and `check_invariants` asserts it.
        #[allow(unsafe_code)]
        unsafe {
            self.tables.get_unchecked(t)
        }
    }

    /// The tables' allocation bytes and full capacity.
    fn accounting(&self) -> (usize, usize) {
        if self.accounting_stale {
            self.tables
                .iter()
                .map(|t| cost(&t.raw))
                .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
        } else {
            (self.table_bytes, self.table_capacity)
        }
    }

    /// Makes the cached accounting exact again (see `accounting_stale`).
    fn refresh_accounting(&mut self) {
        if self.accounting_stale {
            (self.table_bytes, self.table_capacity) = self.accounting();
            self.accounting_stale = false;
        }
    }

    /// The map as governance sees it. Bytes are every allocation the map holds: its tables,
    /// the directory and the table list.
    pub(crate) fn state(&self) -> TableState {
        let (table_bytes, capacity) = self.accounting();
        TableState {
            len: self.len,
            capacity,
            bytes: if self.tables.is_empty() {
                0
            } else {
                table_bytes
                    + self.dir.capacity() * std::mem::size_of::<u32>()
                    + self.tables.capacity() * std::mem::size_of::<Table<K, V>>()
            },
        }
    }

    governance_methods!(SplitMap, state);

    /// This map's stats, whether or not it is tracked individually; `None` when governance is
    /// off or the map has not allocated (nor been named) yet.
    pub fn stats(&self) -> Option<MapStats> {
        let cell = self.gov.cell()?;
        let mut stats = map_stats(cell);
        if self.accounting_stale {
            // A leaked drain (or a panic while one was dropped) left tables unallocated behind
            // the stats' back: report what the map holds now. (Snapshots catch up at the
            // map's next restructuring.)
            let state = self.state();
            stats.allocated_bytes = state.bytes as u64;
            stats.capacity = state.capacity as u64;
            stats.wasted_bytes = stats
                .allocated_bytes
                .saturating_sub(cell.needed_bytes(stats.len));
        }
        Some(stats)
    }

    /// The number of entries the tables hold before one of them must split or grow: the sum of
    /// their capacities (see the type's docs). Takes time proportional to the number of tables.
    pub fn capacity(&self) -> usize {
        self.tables.iter().map(|t| t.raw.capacity()).sum()
    }

    /// The number of tables (1 for a small map that has allocated, 0 before).
    ///
    /// # Examples
    ///
    /// ```
    /// let mut map = mapgov::SplitMap::new();
    /// assert_eq!(map.tables(), 0);
    /// map.insert(1, 1);
    /// assert_eq!(map.tables(), 1);
    /// ```
    #[inline]
    pub fn tables(&self) -> usize {
        self.tables.len()
    }

    /// Exact bytes of the map's allocations: its tables, its directory and its table list.
    #[inline]
    pub fn allocation_size(&self) -> usize {
        self.state().bytes
    }

    /// An iterator over the keys, in arbitrary order.
    #[inline]
    pub fn keys(&self) -> Keys<'_, K, V> {
        Keys::new(self.iter())
    }

    /// Consumes the map into an iterator over its keys.
    #[inline]
    pub fn into_keys(self) -> IntoKeys<K, V> {
        IntoKeys::new(self.into_iter())
    }

    /// An iterator over the values, in arbitrary order.
    #[inline]
    pub fn values(&self) -> Values<'_, K, V> {
        Values::new(self.iter())
    }

    /// An iterator over mutable references to the values.
    #[inline]
    pub fn values_mut(&mut self) -> ValuesMut<'_, K, V> {
        ValuesMut::new(self.iter_mut())
    }

    /// Consumes the map into an iterator over its values.
    #[inline]
    pub fn into_values(self) -> IntoValues<K, V> {
        IntoValues::new(self.into_iter())
    }

    /// An iterator over `(&K, &V)` pairs, in arbitrary order.
    #[inline]
    pub fn iter(&self) -> Iter<'_, K, V> {
        Iter::new(&self.tables, self.len)
    }

    /// An iterator over `(&K, &mut V)` pairs, in arbitrary order.
    #[inline]
    pub fn iter_mut(&mut self) -> IterMut<'_, K, V> {
        IterMut::new(&mut self.tables, self.len)
    }

    /// The number of entries.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the map is empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Removes every entry, returning them as an iterator; the allocation is kept.
    ///
    /// The map is empty as soon as this returns, even if the iterator is dropped early or
    /// leaked.
    pub fn drain(&mut self) -> Drain<'_, K, V> {
        let (drains, len, stale) = self.drain_tables();
        Drain::new(drains, len, stale)
    }

    /// Starts draining every table (which empties each at once, keeping its allocation) and
    /// counts every entry as removed; returns the tables' drains, how many entries they hold,
    /// and the accounting's staleness flag, set until the drains have put every table back.
    /// Shared by `drain` and rayon's `par_drain`.
    #[allow(clippy::type_complexity)]
    pub(crate) fn drain_tables(
        &mut self,
    ) -> (Vec<hash_table::Drain<'_, (K, V)>>, usize, &mut bool) {
        self.refresh_accounting();
        if let Some(c) = self.gov.cell() {
            c.count_removes(self.len as u64, self.len as u64);
        }
        let len = std::mem::replace(&mut self.len, 0);
        let Self {
            tables,
            accounting_stale,
            ..
        } = self;
        // A leaked drain leaves its table unallocated: the cache is exact again only when
        // every drain is dropped (`Drain` clears the flag then).
        *accounting_stale = true;
        let drains = tables.iter_mut().map(|t| t.raw.drain()).collect();
        (drains, len, accounting_stale)
    }

    /// An iterator that removes and yields the entries for which `pred` returns `true`.
    ///
    /// Entries the iterator does not reach (it is dropped early) stay in the map.
    pub fn extract_if<F>(&mut self, pred: F) -> ExtractIf<'_, K, V, F>
    where
        F: FnMut(&K, &mut V) -> bool,
    {
        let cell = self.gov.cell();
        ExtractIf::new(&mut self.tables, &mut self.len, cell, pred)
    }

    /// Keeps only the entries for which `f` returns `true`.
    ///
    /// If `f` (or a removed entry's `Drop`) panics, the entries removed so far are counted and
    /// the map stays usable.
    pub fn retain<F>(&mut self, mut f: F)
    where
        F: FnMut(&K, &mut V) -> bool,
    {
        self.extract_if(|k, v| !f(k, v)).for_each(drop);
    }

    /// Removes every entry; the allocation is kept.
    pub fn clear(&mut self) {
        let before = self.state();
        let cell = self.gov.cell();
        for t in &mut self.tables {
            let n = t.raw.len();
            // Accounted before the entries' destructors run: a panicking `Drop` leaves the
            // table empty (hashbrown clears it anyway) and the count right.
            self.len -= n;
            if let Some(c) = cell {
                c.count_removes(n as u64, (self.len + n) as u64);
            }
            t.raw.clear();
        }
        if let Some(c) = cell {
            if (self.len as u64) < c.remove_watch.get() {
                let _ = policy::on_limit(c, self.len as u64);
            }
            if before.len > 0 && c.is_tracked() {
                crate::event::cleared(c, before, self.state());
            }
        }
    }

    /// The map's hasher.
    #[inline]
    pub fn hasher(&self) -> &S {
        &self.hash_builder
    }

    /// The entry for `hash` that equals `k`, without counting it.
    #[inline(always)]
    fn find_uncounted<Q>(&self, hash: u64, k: &Q) -> Option<&(K, V)>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        if self.dir.is_empty() {
            return None;
        }
        self.table_for(hash)
            .raw
            .find(hash, |(q, _)| q.borrow() == k)
    }

    /// Accounts for a table that was replaced: `old` is its (bytes, capacity) before.
    fn account(&mut self, old: (usize, usize), new: (usize, usize)) {
        debug_assert!(
            !self.accounting_stale,
            "restructuring without fresh accounting"
        );
        self.table_bytes = self.table_bytes - old.0 + new.0;
        self.table_capacity = self.table_capacity - old.1 + new.1;
    }
}

/// A table's allocation bytes and full capacity.
fn cost<T>(raw: &HashTable<T>) -> (usize, usize) {
    (raw.allocation_size(), bucket_capacity(raw.num_buckets()))
}

impl<K, V, S> SplitMap<K, V, S>
where
    K: Eq + Hash,
    S: BuildHasher,
{
    #[inline(always)]
    fn hash<Q: Hash + ?Sized>(&self, k: &Q) -> u64 {
        self.hash_builder.hash_one(k)
    }

    /// The table that will take an insert of `hash`, after making room for one more entry in
    /// it (the way std makes room before it looks the key up).
    #[inline(always)]
    fn room_for_one(&mut self, hash: u64) -> usize {
        if !self.dir.is_empty() {
            let t = self.table_index(hash);
            let raw = &self.tables[t].raw;
            if raw.len() < raw.capacity() {
                return t;
            }
        }
        self.make_room(hash)
    }

    /// The cold half of [`room_for_one`](SplitMap::room_for_one): creates the first table, or
    /// grows, cleans or splits the full one.
    #[cold]
    #[inline(never)]
    fn make_room(&mut self, hash: u64) -> usize {
        loop {
            let Some(&t) = self.dir.get(self.slot(hash)) else {
                self.restructure(|map| {
                    map.first_table();
                    map.grow(0, 1);
                });
                continue;
            };
            let t = t as usize;
            let raw = &self.tables[t].raw;
            if raw.len() < raw.capacity() {
                return t;
            }
            self.restructure(|map| map.make_room_in(t));
        }
    }

    /// Makes room for one entry in the full table `t`.
    fn make_room_in(&mut self, t: usize) {
        let raw = &self.tables[t].raw;
        let buckets = raw.num_buckets();
        let len = raw.len();
        if len < bucket_capacity(buckets) / 2 {
            // Tombstones fill the table: rebuild it at the same size (hashbrown would rehash in
            // place, which loses entries if a hash panics).
            self.rebuild(t, bucket_capacity(buckets));
            self.pending_rebuilt += 1;
        } else if buckets < self.max_buckets()
            || self.tables[t].depth >= MAX_DEPTH
            || !self.split(t, false)
        {
            self.grow(t, len + 1);
        }
    }

    /// Creates the first (empty, unallocated) table.
    fn first_table(&mut self) {
        if self.tables.is_empty() {
            self.tables.push(Table {
                raw: HashTable::new(),
                depth: 0,
                prefix: 0,
            });
            self.dir = vec![0, 0];
            self.dir_shift = 63;
        }
    }

    /// Grows table `t` to hold at least `capacity` entries (hashbrown's resize: panic-safe).
    fn grow(&mut self, t: usize, capacity: usize) {
        let Self {
            tables,
            hash_builder,
            ..
        } = self;
        let raw = &mut tables[t].raw;
        let old = cost(raw);
        let additional = capacity.saturating_sub(raw.len());
        raw.reserve(additional, |(k, _)| hash_builder.hash_one(k));
        let new = cost(raw);
        self.account(old, new);
    }

    /// Runs a restructuring, times it, and reports it to governance as one change, also when
    /// a `Hash` panics in the middle of it (the steps done so far are then reported).
    fn restructure(&mut self, op: impl FnOnce(&mut Self)) {
        self.refresh_accounting();
        if self.gov.cell().is_none() && !crate::config::enabled() {
            op(self);
            (self.pending_splits, self.pending_rebuilt) = (0, 0);
            return;
        }
        let before = self.state();
        let report = Restructured {
            start: timer(before.bytes),
            before,
            map: self,
        };
        op(report.map);
    }

    /// The bucket index and hash of every entry of table `t` (phase one of a restructuring:
    /// runs the user's `Hash`, moves nothing).
    fn hashes_of(&self, t: usize) -> Vec<(usize, u64)> {
        let raw = &self.tables[t].raw;
        let mut out = Vec::with_capacity(raw.len());
        for i in raw.iter_buckets() {
            if let Some((k, _)) = raw.get_bucket(i) {
                out.push((i, self.hash_builder.hash_one(k)));
            }
        }
        out
    }

    /// Moves the entries of table `t` listed in `moves` into `targets` (phase two: no user
    /// code runs; the targets have room for them all).
    fn move_entries(
        &mut self,
        t: usize,
        moves: Vec<(usize, u64)>,
        mut target: impl FnMut(u64) -> usize,
        targets: &mut [HashTable<(K, V)>],
    ) {
        let Self {
            tables,
            hash_builder,
            ..
        } = self;
        let raw = &mut tables[t].raw;
        for (i, hash) in moves {
            if let Ok(e) = raw.get_bucket_entry(i) {
                let (kv, _) = e.remove();
                targets[target(hash)].insert_unique(hash, kv, |(k, _)| hash_builder.hash_one(k));
            }
        }
    }

    /// Rebuilds table `t` into a fresh table for `capacity` entries (clears tombstones or
    /// shrinks it).
    fn rebuild(&mut self, t: usize, capacity: usize) {
        let moves = self.hashes_of(t);
        let mut fresh = [HashTable::with_capacity(
            capacity.max(self.tables[t].raw.len()),
        )];
        self.move_entries(t, moves, |_| 0, &mut fresh);
        let [fresh] = fresh;
        let old = cost(&self.tables[t].raw);
        let new = cost(&fresh);
        self.tables[t].raw = fresh;
        self.account(old, new);
    }

    /// Splits table `t` in two by the next bit of its entries' hashes. Each half gets a
    /// table of the largest size (or larger, for a table that grew past it), except a half
    /// that gets no entry, which stays unallocated unless `presize`.
    ///
    /// Returns `false`, changing nothing, if the split would only double the directory: every
    /// entry falls in the same half, the table is as deep as the directory, and the directory
    /// already has 16 slots per table. Only a hasher whose output does not vary in the bits
    /// the directory reads gets there (a good one does with probability 2^-7168); the caller
    /// then grows the table as a plain hash table would.
    fn split(&mut self, t: usize, presize: bool) -> bool {
        let moves = self.hashes_of(t);
        let (depth, prefix) = (self.tables[t].depth, self.tables[t].prefix);
        let bit = 56 - depth;
        let hi = moves.iter().filter(|&&(_, h)| (h >> bit) & 1 == 1).count();
        let lo = moves.len() - hi;
        if !presize
            && (hi == 0 || lo == 0)
            && depth == self.depth()
            && self.dir.len() >= 16 * self.tables.len()
        {
            return false;
        }
        let max = self.max_entries();
        let size = |n: usize| if n == 0 && !presize { 0 } else { n.max(max) };
        let mut halves = [
            HashTable::with_capacity(size(lo)),
            HashTable::with_capacity(size(hi)),
        ];
        self.move_entries(t, moves, |h| ((h >> bit) & 1) as usize, &mut halves);
        if depth == self.depth() {
            // Every slot becomes two with the same table.
            let mut dir = Vec::with_capacity(self.dir.len() * 2);
            for &s in &self.dir {
                dir.extend([s, s]);
            }
            self.dir = dir;
            self.dir_shift -= 1;
        }
        let [lo, hi] = halves;
        let old = cost(&self.tables[t].raw);
        let (lo_cost, hi_cost) = (cost(&lo), cost(&hi));
        self.tables[t] = Table {
            raw: lo,
            depth: depth + 1,
            prefix: prefix << 1,
        };
        let index = u32::try_from(self.tables.len()).expect("fewer than 2^32 tables");
        self.tables.push(Table {
            raw: hi,
            depth: depth + 1,
            prefix: (prefix << 1) | 1,
        });
        let span = 1usize << (self.depth() - depth - 1);
        let start = (((prefix << 1) | 1) as usize) * span;
        self.dir[start..start + span].fill(index);
        self.account(old, (lo_cost.0 + hi_cost.0, lo_cost.1 + hi_cost.1));
        self.pending_splits += 1;
        true
    }

    /// Merges table `t` with its sibling `u` (same depth, prefixes differing in the last bit)
    /// into one table of the parent's depth, sized for `capacity` entries.
    fn merge(&mut self, t: usize, u: usize, capacity: usize) {
        let moves_t = self.hashes_of(t);
        let moves_u = self.hashes_of(u);
        let need = self.tables[t].raw.len() + self.tables[u].raw.len();
        let mut merged = [HashTable::with_capacity(capacity.max(need))];
        self.move_entries(t, moves_t, |_| 0, &mut merged);
        self.move_entries(u, moves_u, |_| 0, &mut merged);
        let [merged] = merged;
        let (depth, prefix) = (self.tables[t].depth - 1, self.tables[t].prefix >> 1);
        let old_t = cost(&self.tables[t].raw);
        let old_u = cost(&self.tables[u].raw);
        let new = cost(&merged);
        self.account((old_t.0 + old_u.0, old_t.1 + old_u.1), new);
        // `t` keeps the merged table; `u` is removed, and the last table takes its index.
        let keep = t.min(u);
        let gone = t.max(u);
        self.tables[keep] = Table {
            raw: merged,
            depth,
            prefix,
        };
        self.point_dir(keep);
        self.tables.swap_remove(gone);
        if gone < self.tables.len() {
            self.point_dir(gone);
        }
    }

    /// Points every directory slot of table `t`'s prefix at `t`.
    fn point_dir(&mut self, t: usize) {
        let Table { depth, prefix, .. } = self.tables[t];
        let span = 1usize << (self.depth() - depth);
        let start = prefix as usize * span;
        self.dir[start..start + span].fill(t as u32);
    }

    /// Runs the map's policies after `len` crossed one of their limits.
    #[cold]
    #[inline(never)]
    fn policy_cold(&mut self) {
        let Some(c) = self.gov.cell() else {
            return;
        };
        if let Action::ShrinkTo(n) = policy::on_limit(c, self.len as u64) {
            self.shrink_to(n);
        }
    }

    /// Reserves room for about `additional` more entries (see the type's docs): a small map
    /// grows its table; a bigger one is split into enough tables ahead of time.
    ///
    /// # Panics
    ///
    /// Panics if the new allocation size overflows `usize`.
    pub fn reserve(&mut self, additional: usize) {
        if let Err(e) = self.try_reserve(additional) {
            panic!("SplitMap::reserve: {e}");
        }
    }

    /// Tries to reserve room for about `additional` more entries.
    ///
    /// # Errors
    ///
    /// If the capacity overflows, or the allocator fails while a single-table map grows.
    pub fn try_reserve(&mut self, additional: usize) -> Result<(), TryReserveError> {
        let Some(need) = self.len.checked_add(additional) else {
            return Err(overflow::<K, V>());
        };
        if need <= self.capacity() {
            return Ok(());
        }
        let per_table = (self.max_entries() as f64 * PLANNED_LOAD) as usize;
        let Some(tables) = need.div_ceil(per_table).checked_next_power_of_two() else {
            return Err(overflow::<K, V>());
        };
        let entry = std::mem::size_of::<(K, V)>() + 1;
        if tables
            .checked_mul(self.max_buckets())
            .and_then(|b| b.checked_mul(entry))
            .is_none_or(|b| b > isize::MAX as usize)
        {
            return Err(overflow::<K, V>());
        }
        if self.len == 0 && self.tables.iter().all(|t| t.raw.num_buckets() == 0) {
            // Nothing to move: lay the tables out directly.
            self.restructure(|map| {
                let old = (map.table_bytes, map.table_capacity);
                map.tables = Vec::new();
                map.dir = Vec::new();
                map.account(old, (0, 0));
                map.presize_empty(need);
                map.pending_splits = map.tables.len().saturating_sub(1) as u64;
            });
            return Ok(());
        }
        if self.tables.len() <= 1 && need <= self.max_entries() {
            let mut result = Ok(());
            self.restructure(|map| {
                map.first_table();
                let full = bucket_capacity(map.tables[0].raw.num_buckets());
                if need <= full {
                    // Room is there, behind tombstones: rebuild at the same size (hashbrown
                    // would rehash in place, or double the table past the largest size).
                    map.rebuild(0, full);
                    map.pending_rebuilt += 1;
                    return;
                }
                let Self {
                    tables,
                    hash_builder,
                    ..
                } = map;
                let raw = &mut tables[0].raw;
                let old = cost(raw);
                let extra = need - raw.len();
                result = raw.try_reserve(extra, |(k, _)| hash_builder.hash_one(k));
                let new = cost(raw);
                map.account(old, new);
            });
            return result.map_err(|_| alloc_error::<K, V>(need));
        }
        // Enough tables of the largest size for `need` entries at the planned load.
        let depth = tables.trailing_zeros().min(MAX_DEPTH);
        let max_entries = self.max_entries();
        self.restructure(|map| {
            map.first_table();
            let mut t = 0;
            while t < map.tables.len() {
                let raw = &map.tables[t].raw;
                if map.tables[t].depth < depth {
                    // Split until deep enough (the halves get tables of the largest size).
                    map.split(t, true);
                } else if raw.capacity() < per_table.min(max_entries).max(raw.len()) {
                    let buckets = raw.num_buckets();
                    if buckets >= map.max_buckets() {
                        // Its room is behind tombstones: rebuild it, never past the largest
                        // size.
                        map.rebuild(t, bucket_capacity(buckets));
                        map.pending_rebuilt += 1;
                    } else {
                        map.grow(t, max_entries);
                    }
                    t += 1;
                } else {
                    t += 1;
                }
            }
        });
        Ok(())
    }

    /// Shrinks the map as much as possible while keeping every entry: merges sibling tables
    /// that fit in one, shrinks every table to its entries, and halves the directory while it
    /// can. Takes time proportional to the map (as std's does).
    pub fn shrink_to_fit(&mut self) {
        self.shrink_to(0);
    }

    /// Shrinks the map to hold at least `min_capacity` entries (and every current entry). See
    /// [`shrink_to_fit`](SplitMap::shrink_to_fit).
    pub fn shrink_to(&mut self, min_capacity: usize) {
        if self.tables.is_empty() || self.accounting().1 <= min_capacity {
            return;
        }
        self.restructure(|map| map.shrink_inner(min_capacity));
    }

    fn shrink_inner(&mut self, min_capacity: usize) {
        if self.len == 0 && min_capacity == 0 {
            let old = (self.table_bytes, self.table_capacity);
            self.tables = Vec::new();
            self.dir = Vec::new();
            self.dir_shift = 63;
            self.account(old, (0, 0));
            return;
        }
        let want = self.len.max(min_capacity);
        // Merge siblings while the result still holds what the caller asked for.
        loop {
            let mut merged = false;
            let mut t = 0;
            while t < self.tables.len() {
                let Table { depth, prefix, .. } = self.tables[t];
                if depth == 0 {
                    t += 1;
                    continue;
                }
                let span = 1usize << (self.depth() - depth);
                let u = self.dir[(prefix ^ 1) as usize * span] as usize;
                let (a, b) = (&self.tables[t], &self.tables[u]);
                let together = a.raw.len() + b.raw.len();
                let others = self.table_capacity
                    - bucket_capacity(a.raw.num_buckets())
                    - bucket_capacity(b.raw.num_buckets());
                if u != t
                    && b.depth == depth
                    && together <= self.max_entries()
                    && others + self.max_entries() >= want
                {
                    let capacity =
                        together.max(want.saturating_sub(others).min(self.max_entries()));
                    self.merge(t, u, capacity);
                    merged = true;
                } else {
                    t += 1;
                }
            }
            if !merged {
                break;
            }
        }
        // Shrink each table to its entries (or its share of `min_capacity`).
        let share = min_capacity.div_ceil(self.tables.len().max(1));
        for t in 0..self.tables.len() {
            let raw = &self.tables[t].raw;
            let target = raw.len().max(share).min(self.max_entries());
            let (size, align) = (
                std::mem::size_of::<(K, V)>(),
                std::mem::align_of::<(K, V)>(),
            );
            if crate::stats::table_bytes_for(target, size, align) < raw.allocation_size() {
                self.rebuild(t, target);
            }
        }
        // Halve the directory while no table is as deep as it.
        while self.depth() > 1 && self.tables.iter().all(|t| t.depth < self.depth()) {
            let dir: Vec<u32> = self.dir.iter().step_by(2).copied().collect();
            self.dir = dir;
            self.dir_shift += 1;
        }
        self.dir.shrink_to_fit();
        self.tables.shrink_to_fit();
    }

    /// The entry for `key`, for in-place manipulation.
    ///
    /// Counted as a lookup: a hit if the key is present, a miss if not.
    pub fn entry(&mut self, key: K) -> Entry<'_, K, V, S> {
        if let Some(c) = self.gov.cell()
            && (self.len as u64) < c.remove_watch.get()
        {
            self.policy_cold();
        }
        let hash = self.hash(&key);
        // Like std, make room only for an absent key (hashbrown's own `entry` would make room
        // either way, resizing a full table behind the map's back).
        let found = if self.dir.is_empty() {
            None
        } else {
            let t = self.table_index(hash);
            self.tables[t]
                .raw
                .find_bucket_index(hash, |(q, _)| *q == key)
                .map(|i| (t, i))
        };
        if let Some((t, i)) = found {
            let Self {
                tables, len, gov, ..
            } = self;
            let cell = gov.cell();
            gov.record_lookup(true);
            let occupied = match tables[t].raw.get_bucket_entry(i) {
                Ok(o) => o,
                Err(_) => unreachable!("bucket {i} was just found full"),
            };
            return Entry::Occupied(OccupiedEntry::new(occupied, cell, len));
        }
        let t = self.room_for_one(hash);
        let Self {
            tables,
            hash_builder,
            len,
            gov,
            ..
        } = self;
        let cell = gov.cell();
        gov.record_lookup(false);
        // The table has room: this probe only finds the slot.
        match tables[t]
            .raw
            .entry(hash, |(q, _)| *q == key, |(q, _)| hash_builder.hash_one(q))
        {
            hash_table::Entry::Vacant(v) => Entry::Vacant(VacantEntry::new(v, key, cell, len)),
            hash_table::Entry::Occupied(o) => Entry::Occupied(OccupiedEntry::new(o, cell, len)),
        }
    }

    /// A reference to the value for `k`.
    #[inline]
    pub fn get<Q>(&self, k: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.get_key_value(k).map(|(_, v)| v)
    }

    /// The key and value stored for `k`.
    #[inline]
    pub fn get_key_value<Q>(&self, k: &Q) -> Option<(&K, &V)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let r = self.find_uncounted(self.hash(k), k);
        self.gov.record_lookup(r.is_some());
        r.map(|(k, v)| (k, v))
    }

    /// Whether the map holds `k`.
    #[inline]
    pub fn contains_key<Q>(&self, k: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.get_key_value(k).is_some()
    }

    /// A mutable reference to the value for `k`.
    #[inline]
    pub fn get_mut<Q>(&mut self, k: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(k);
        let r = if self.dir.is_empty() {
            None
        } else {
            let t = self.table_index(hash);
            self.tables[t]
                .raw
                .find_mut(hash, |(q, _)| q.borrow() == k)
                .map(|(_, v)| v)
        };
        self.gov.record_lookup(r.is_some());
        r
    }

    /// Mutable references to the values of `N` distinct keys at once. Takes time proportional
    /// to the number of tables.
    ///
    /// # Panics
    ///
    /// Panics if any two keys are equal (as std does).
    pub fn get_disjoint_mut<Q, const N: usize>(&mut self, ks: [&Q; N]) -> [Option<&'_ mut V>; N]
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hashes = ks.map(|k| self.hash(k));
        let homes = hashes.map(|h| self.dir.get(self.slot(h)).map(|&t| t as usize));
        let mut out: [Option<&mut V>; N] = std::array::from_fn(|_| None);
        for (t, table) in self.tables.iter_mut().enumerate() {
            if !homes.contains(&Some(t)) {
                continue;
            }
            let found = table.raw.get_disjoint_mut(hashes, |i, (k, _)| {
                homes[i] == Some(t) && k.borrow() == ks[i]
            });
            for (slot, f) in out.iter_mut().zip(found) {
                if let Some((_, v)) = f {
                    *slot = Some(v);
                }
            }
        }
        for v in &out {
            self.gov.record_lookup(v.is_some());
        }
        out
    }

    /// Inserts a pair; returns the previous value if the key was present (the key itself is not
    /// replaced, as in std).
    #[inline]
    pub fn insert(&mut self, k: K, v: V) -> Option<V> {
        let hash = self.hash(&k);
        let t = self.room_for_one(hash);
        let Self {
            tables,
            hash_builder,
            len,
            gov,
            ..
        } = self;
        match tables[t]
            .raw
            .entry(hash, |(q, _)| *q == k, |(q, _)| hash_builder.hash_one(q))
        {
            hash_table::Entry::Occupied(mut o) => {
                let old = std::mem::replace(&mut o.get_mut().1, v);
                if let Some(c) = gov.cell() {
                    c.updates.add(1);
                }
                Some(old)
            }
            hash_table::Entry::Vacant(e) => {
                e.insert((k, v));
                *len += 1;
                if let Some(c) = gov.cell()
                    && c.on_insert()
                {
                    self.policy_cold();
                }
                None
            }
        }
    }

    /// Removes `k`, returning its value if it was present.
    #[inline]
    pub fn remove<Q>(&mut self, k: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.remove_entry(k).map(|(_, v)| v)
    }

    /// Removes `k`, returning the stored key and value if it was present.
    #[inline]
    pub fn remove_entry<Q>(&mut self, k: &Q) -> Option<(K, V)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(k);
        if self.dir.is_empty() {
            return None;
        }
        let t = self.table_index(hash);
        let (kv, _) = self.tables[t]
            .raw
            .find_entry(hash, |(q, _)| q.borrow() == k)
            .ok()?
            .remove();
        self.len -= 1;
        if let Some(c) = self.gov.cell()
            && c.on_remove(self.len)
        {
            self.policy_cold();
        }
        Some(kv)
    }
}

/// std's capacity-overflow error (std's error type cannot be built directly).
#[cold]
fn overflow<K, V>() -> TryReserveError {
    std::collections::HashMap::<(), (K, V)>::new()
        .try_reserve(usize::MAX)
        .expect_err("usize::MAX entries always overflow")
}

/// std's error for a failed allocation of a table for `need` entries.
#[cold]
fn alloc_error<K, V>(need: usize) -> TryReserveError {
    match std::collections::HashMap::<(), (K, V)>::new().try_reserve(need) {
        Err(e) => e,
        Ok(()) => overflow::<K, V>(),
    }
}

impl<K, V, S> Clone for SplitMap<K, V, S>
where
    K: Clone,
    V: Clone,
    S: Clone,
{
    /// A copy of the map, attributed to the caller's location (and keeping the name).
    #[track_caller]
    fn clone(&self) -> Self {
        let tables = self.tables.clone();
        let mut copy = SplitMap {
            tables,
            dir: self.dir.clone(),
            dir_shift: self.dir_shift,
            len: self.len,
            table_bytes: self.accounting().0,
            table_capacity: self.accounting().1,
            accounting_stale: false,
            pending_splits: 0,
            pending_rebuilt: 0,
            max_buckets_log2: self.max_buckets_log2,
            hash_builder: self.hash_builder.clone(),
            gov: Gov::new(),
        };
        // Allocation sizes follow from bucket counts, which a clone keeps; the vectors may
        // have a different capacity, which `state` reads from the copy itself.
        let state = copy.state();
        copy.gov = self.gov.for_clone::<K, V>(state);
        if let Some(c) = copy.gov.cell() {
            c.tables.set(copy.tables.len() as u64);
        }
        copy
    }
}

impl<K, V, S> PartialEq for SplitMap<K, V, S>
where
    K: Eq + Hash,
    V: PartialEq,
    S: BuildHasher,
{
    /// Equal when both hold the same keys with equal values (lookups here are not counted).
    fn eq(&self, other: &SplitMap<K, V, S>) -> bool {
        self.len == other.len
            && self.iter().all(|(k, v)| {
                other
                    .find_uncounted(other.hash(k), k)
                    .is_some_and(|(_, w)| v == w)
            })
    }
}

impl<K, V, S> Eq for SplitMap<K, V, S>
where
    K: Eq + Hash,
    V: Eq,
    S: BuildHasher,
{
}

impl<K: Debug, V: Debug, S> Debug for SplitMap<K, V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K, V, S: Default> Default for SplitMap<K, V, S> {
    /// An empty map, attributed to the caller's location.
    #[inline]
    #[track_caller]
    fn default() -> SplitMap<K, V, S> {
        SplitMap::with_hasher(S::default())
    }
}

impl<K, Q, V, S> Index<&Q> for SplitMap<K, V, S>
where
    K: Eq + Hash + Borrow<Q>,
    Q: Eq + Hash + ?Sized,
    S: BuildHasher,
{
    type Output = V;

    /// # Panics
    ///
    /// Panics if the key is not present.
    #[inline]
    fn index(&self, key: &Q) -> &V {
        self.get(key).expect("key not found in SplitMap")
    }
}

impl<K, V, S> Extend<(K, V)> for SplitMap<K, V, S>
where
    K: Eq + Hash,
    S: BuildHasher,
{
    fn extend<T: IntoIterator<Item = (K, V)>>(&mut self, iter: T) {
        let iter = iter.into_iter();
        // As std: reserve all for an empty map, otherwise half (keys may repeat).
        let lower = iter.size_hint().0;
        let reserve = if self.is_empty() {
            lower
        } else {
            lower.div_ceil(2)
        };
        if reserve > 0 {
            self.reserve(reserve);
        }
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

impl<'a, K, V, S> Extend<(&'a K, &'a V)> for SplitMap<K, V, S>
where
    K: Eq + Hash + Copy,
    V: Copy,
    S: BuildHasher,
{
    fn extend<T: IntoIterator<Item = (&'a K, &'a V)>>(&mut self, iter: T) {
        self.extend(iter.into_iter().map(|(&k, &v)| (k, v)));
    }
}

impl<K, V, S> FromIterator<(K, V)> for SplitMap<K, V, S>
where
    K: Eq + Hash,
    S: BuildHasher + Default,
{
    /// A map of the pairs, attributed to the caller's location (when called directly).
    #[track_caller]
    fn from_iter<T: IntoIterator<Item = (K, V)>>(iter: T) -> SplitMap<K, V, S> {
        let mut map = SplitMap::with_hasher(S::default());
        map.extend(iter);
        map
    }
}

impl<K, V, const N: usize> From<[(K, V); N]> for SplitMap<K, V, RandomState>
where
    K: Eq + Hash,
{
    /// A map of the pairs, attributed to the caller's location.
    ///
    /// # Examples
    ///
    /// ```
    /// let map = mapgov::SplitMap::from([(1, "a"), (2, "b")]);
    /// assert_eq!(map[&2], "b");
    /// ```
    #[track_caller]
    fn from(arr: [(K, V); N]) -> Self {
        let mut map = SplitMap::with_capacity(N);
        map.extend(arr);
        map
    }
}

impl<K, V, S> SplitMap<K, V, S>
where
    K: Eq + Hash,
    S: BuildHasher,
{
    /// Checks the map's structure (tests): every directory slot names the table of its
    /// prefix, every entry is in the table its hash selects, and the counts add up.
    #[doc(hidden)]
    pub fn check_invariants(&self) {
        let depth = self.depth();
        assert_eq!(
            self.dir.len(),
            if self.tables.is_empty() {
                0
            } else {
                1 << depth
            }
        );
        let mut len = 0;
        let (mut bytes, mut capacity) = (0, 0);
        for (i, t) in self.tables.iter().enumerate() {
            assert!(t.depth <= depth);
            let span = 1usize << (depth - t.depth);
            let start = t.prefix as usize * span;
            assert!(
                self.dir[start..start + span]
                    .iter()
                    .all(|&s| s as usize == i)
            );
            for (k, _) in t.raw.iter() {
                let h = self.hash(k);
                assert_eq!(
                    self.dir[self.slot(h)] as usize,
                    i,
                    "entry in the wrong table"
                );
                assert!(t.raw.find(h, |(q, _)| q == k).is_some());
            }
            len += t.raw.len();
            let (b, c) = cost(&t.raw);
            bytes += b;
            capacity += c;
        }
        assert_eq!(len, self.len);
        assert_eq!((bytes, capacity), self.accounting());
        if !self.accounting_stale {
            assert_eq!((bytes, capacity), (self.table_bytes, self.table_capacity));
        }
    }
}

impl<K, V, S> IntoIterator for SplitMap<K, V, S> {
    type Item = (K, V);
    type IntoIter = IntoIter<K, V>;

    /// Consumes the map; its stats are retired as if it were dropped.
    fn into_iter(self) -> IntoIter<K, V> {
        let SplitMap {
            tables, len, gov, ..
        } = self;
        drop(gov);
        IntoIter::new(tables, len)
    }
}

impl<'a, K, V, S> IntoIterator for &'a SplitMap<K, V, S> {
    type Item = (&'a K, &'a V);
    type IntoIter = Iter<'a, K, V>;

    fn into_iter(self) -> Iter<'a, K, V> {
        self.iter()
    }
}

impl<'a, K, V, S> IntoIterator for &'a mut SplitMap<K, V, S> {
    type Item = (&'a K, &'a mut V);
    type IntoIter = IterMut<'a, K, V>;

    fn into_iter(self) -> IterMut<'a, K, V> {
        self.iter_mut()
    }
}

/// Reports a restructuring to governance when it ends, also by a panic (see
/// [`SplitMap::restructure`]).
struct Restructured<'a, K, V, S> {
    map: &'a mut SplitMap<K, V, S>,
    before: TableState,
    start: Option<std::time::Instant>,
}

impl<K, V, S> Drop for Restructured<'_, K, V, S> {
    fn drop(&mut self) {
        let nanos = self.start.map(|t| t.elapsed().as_nanos() as u64);
        let map = &mut *self.map;
        let after = map.state();
        let change = SplitChange {
            splits: std::mem::take(&mut map.pending_splits),
            rebuilt: std::mem::take(&mut map.pending_rebuilt),
            tables: map.tables.len(),
        };
        map.gov
            .after_split_map_resize::<K, V>(self.before, after, nanos, change);
    }
}
