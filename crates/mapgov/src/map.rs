//! The governed `HashMap`.

use std::borrow::Borrow;
use std::collections::TryReserveError;
use std::fmt::{self, Debug};
use std::hash::{BuildHasher, Hash, RandomState};
use std::ops::Index;

use crate::entry::{Entry, OccupiedEntry, VacantEntry};
use crate::gov::{Gov, TableState, timed};
use crate::iter::{
    Drain, ExtractIf, IntoIter, IntoKeys, IntoValues, Iter, IterMut, Keys, Values, ValuesMut,
};
use crate::policy::{self, Action, ShrinkPolicy};
use crate::snapshot::{MapStats, map_stats};
use crate::stats::table_bytes_for;

/// A hash map with the API of [`std::collections::HashMap`], governed by mapgov.
///
/// It is hashbrown's table (the one std uses) plus 16 bytes: the creation site and a pointer to
/// the map's stats, allocated when the table first allocates. Every constructor records its
/// caller's location; [`named`](HashMap::named) gives the map a stable name. Ordinary operations
/// count into the map's own stats with plain stores (no lock, no allocation, no syscall); the
/// table's allocations, resizes and drop are the only moments that reach shared state.
///
/// Behaviour is std's in everything observable through the std API, including when the table
/// grows: like std, [`insert`](HashMap::insert) makes room for one more entry before it looks
/// the key up, and [`entry`](HashMap::entry) does when the key is absent.
///
/// # Examples
///
/// ```
/// use mapgov::HashMap;
///
/// let mut sessions: HashMap<u64, String> = HashMap::new().named("sessions");
/// sessions.insert(7, "alice".to_string());
/// assert_eq!(sessions.get(&7).map(String::as_str), Some("alice"));
///
/// let stats = sessions.stats().expect("governance is on");
/// assert_eq!((stats.len, stats.inserts), (1, 1));
/// ```
pub struct HashMap<K, V, S = RandomState> {
    pub(crate) base: hashbrown::HashMap<K, V, S>,
    pub(crate) gov: Gov,
}

impl<K, V> HashMap<K, V, RandomState> {
    /// Creates an empty map. It does not allocate until the first insert.
    ///
    /// # Examples
    ///
    /// ```
    /// let map: mapgov::HashMap<&str, i32> = mapgov::HashMap::new();
    /// assert!(map.is_empty());
    /// ```
    #[inline]
    #[must_use]
    #[track_caller]
    pub fn new() -> HashMap<K, V, RandomState> {
        HashMap::with_hasher(RandomState::new())
    }

    /// Creates an empty map with room for at least `capacity` entries.
    ///
    /// # Examples
    ///
    /// ```
    /// let map: mapgov::HashMap<u64, u64> = mapgov::HashMap::with_capacity(100);
    /// assert!(map.capacity() >= 100);
    /// ```
    #[inline]
    #[must_use]
    #[track_caller]
    pub fn with_capacity(capacity: usize) -> HashMap<K, V, RandomState> {
        HashMap::with_capacity_and_hasher(capacity, RandomState::new())
    }
}

impl<K, V, S> HashMap<K, V, S> {
    /// Creates an empty map that will use `hash_builder` to hash keys.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::hash::RandomState;
    /// let mut map = mapgov::HashMap::with_hasher(RandomState::new());
    /// map.insert(1, 2);
    /// ```
    #[inline]
    #[must_use]
    #[track_caller]
    pub const fn with_hasher(hash_builder: S) -> HashMap<K, V, S> {
        HashMap {
            base: hashbrown::HashMap::with_hasher(hash_builder),
            gov: Gov::new(),
        }
    }

    /// Creates an empty map with room for at least `capacity` entries, using `hasher`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::hash::RandomState;
    /// let mut map = mapgov::HashMap::with_capacity_and_hasher(10, RandomState::new());
    /// map.insert(1, 2);
    /// ```
    #[inline]
    #[must_use]
    #[track_caller]
    pub fn with_capacity_and_hasher(capacity: usize, hasher: S) -> HashMap<K, V, S> {
        let mut map = HashMap {
            base: hashbrown::HashMap::with_capacity_and_hasher(capacity, hasher),
            gov: Gov::new(),
        };
        if map.base.capacity() > 0 {
            let empty = TableState {
                len: 0,
                capacity: 0,
                bytes: 0,
            };
            // A fresh table has no tombstones: its size follows from its capacity.
            let capacity = map.base.capacity();
            let bytes = table_bytes_for(
                capacity,
                std::mem::size_of::<(K, V)>(),
                std::mem::align_of::<(K, V)>(),
            );
            let now = TableState {
                len: 0,
                capacity,
                bytes,
            };
            map.gov.after_resize::<K, V>(empty, now, None);
        }
        map
    }

    /// The table's state, with its allocation size as known from the last resize (exact: every
    /// operation that can change the allocation goes through the resize path).
    #[inline]
    pub(crate) fn table_state(&self) -> TableState {
        TableState {
            len: self.base.len(),
            capacity: self.base.capacity(),
            bytes: self.gov.known_bytes(),
        }
    }

    governance_methods!(HashMap, table_state);

    /// Shrinks this map automatically after removals (see [`ShrinkPolicy`]).
    #[must_use]
    pub fn shrink_policy(mut self, policy: ShrinkPolicy) -> HashMap<K, V, S> {
        self.set_shrink_policy(Some(policy));
        self
    }

    /// Sets or clears this map's shrink policy.
    pub fn set_shrink_policy(&mut self, policy: Option<ShrinkPolicy>) {
        let state = self.table_state();
        self.gov.set_policy::<K, V>(state, |s| s.shrink = policy);
    }

    /// This map's own stats, whether or not it is tracked individually.
    ///
    /// `None` when governance is off, when the map has not allocated (nor been named) yet,
    /// and for a small anonymous map: one under `MAPGOV_TRACK_MIN_BYTES` that is not named,
    /// has no budget and samples its lookups keeps its counts in its handle and publishes them
    /// to its creation site (`snapshot().sites`), without stats of its own. Naming it (or a
    /// budget, or `count_every_lookup`) gives it stats from then on.
    pub fn stats(&self) -> Option<MapStats> {
        self.gov.cell().map(map_stats)
    }

    /// The number of entries the map can hold without reallocating.
    #[inline]
    pub fn capacity(&self) -> usize {
        self.base.capacity()
    }

    /// An iterator over the keys, in arbitrary order.
    #[inline]
    pub fn keys(&self) -> Keys<'_, K, V> {
        self.base.keys()
    }

    /// Consumes the map into an iterator over its keys.
    #[inline]
    pub fn into_keys(self) -> IntoKeys<K, V> {
        let HashMap { base, gov } = self;
        drop(gov);
        base.into_keys()
    }

    /// An iterator over the values, in arbitrary order.
    #[inline]
    pub fn values(&self) -> Values<'_, K, V> {
        self.base.values()
    }

    /// An iterator over mutable references to the values.
    #[inline]
    pub fn values_mut(&mut self) -> ValuesMut<'_, K, V> {
        self.base.values_mut()
    }

    /// Consumes the map into an iterator over its values.
    #[inline]
    pub fn into_values(self) -> IntoValues<K, V> {
        let HashMap { base, gov } = self;
        drop(gov);
        base.into_values()
    }

    /// An iterator over `(&K, &V)` pairs, in arbitrary order.
    #[inline]
    pub fn iter(&self) -> Iter<'_, K, V> {
        self.base.iter()
    }

    /// An iterator over `(&K, &mut V)` pairs, in arbitrary order.
    #[inline]
    pub fn iter_mut(&mut self) -> IterMut<'_, K, V> {
        self.base.iter_mut()
    }

    /// The number of entries.
    #[inline]
    pub fn len(&self) -> usize {
        self.base.len()
    }

    /// Whether the map is empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.base.is_empty()
    }

    /// Removes every entry, returning them as an iterator; the allocation is kept.
    ///
    /// The map is empty afterwards even if the iterator is dropped early (or leaked).
    #[inline]
    pub fn drain(&mut self) -> Drain<'_, K, V> {
        self.gov.on_drain(self.base.len());
        Drain::new(self.base.drain(), self.gov.cell())
    }

    /// An iterator that removes and yields the entries for which `pred` returns `true`.
    ///
    /// Entries the iterator does not reach (it is dropped early) stay in the map.
    #[inline]
    pub fn extract_if<F>(&mut self, pred: F) -> ExtractIf<'_, K, V, F>
    where
        F: FnMut(&K, &mut V) -> bool,
    {
        if self.gov.is_small() {
            // Counts as it goes through a cell.
            let state = self.table_state();
            self.gov.ensure_cell::<K, V>(state);
        }
        let cell = self.gov.cell();
        let len = self.base.len();
        ExtractIf::new(self.base.extract_if(pred), cell, len)
    }

    /// Keeps only the entries for which `f` returns `true`.
    ///
    /// If `f` panics, the entries removed so far are counted and the map stays usable.
    #[inline]
    pub fn retain<F>(&mut self, f: F)
    where
        F: FnMut(&K, &mut V) -> bool,
    {
        let guard = Reconcile::new(self, false);
        guard.map.base.retain(f);
    }

    /// Removes every entry; the allocation is kept.
    #[inline]
    pub fn clear(&mut self) {
        let mut guard = Reconcile::new(self, false);
        guard.clear = true;
        guard.map.base.clear();
    }

    /// The map's hasher.
    #[inline]
    pub fn hasher(&self) -> &S {
        self.base.hasher()
    }
}

impl<K, V, S> HashMap<K, V, S>
where
    K: Eq + Hash,
    S: BuildHasher,
{
    /// Exact bytes of the table's current allocation.
    #[inline]
    pub fn allocation_size(&self) -> usize {
        self.base.allocation_size()
    }

    /// Makes room for one more entry before an insert, as std does, and accounts for it.
    #[inline(always)]
    fn grow_for_insert(&mut self) {
        if self.base.len() == self.base.capacity() {
            self.grow_cold();
        }
    }

    /// [`grow_for_insert`](Self::grow_for_insert)'s growth. A table without tombstones grows
    /// into a new allocation, and hashbrown moves nothing until every entry is hashed: a
    /// panicking hasher leaves the old table as it was. So a small map's plain growth (from a
    /// table without tombstones, too small to be timed, to one that keeps the map small; see
    /// `Gov::small_plain_growth`) and a map's first allocation (which hashes nothing) need
    /// none of [`resize_cold`](Self::resize_cold)'s reconciliation, nor a timer.
    #[cold]
    #[inline(never)]
    fn grow_cold(&mut self) {
        let (len, capacity) = (self.base.len(), self.base.capacity());
        let before_bytes = if let Some(bytes) = self.gov.small_plain_growth(capacity) {
            bytes
        } else if self.gov.is_bare() && !crate::config::enabled() {
            // Governance off (`MAPGOV=off`): only the growth, without `resize_cold`'s call.
            self.gov.set_off();
            self.base.reserve(1);
            return;
        } else if capacity == 0 && self.gov.is_bare() {
            0
        } else {
            self.resize_cold(|base| base.reserve(1));
            return;
        };
        self.base.reserve(1);
        let (after_capacity, after_bytes) = (self.base.capacity(), self.base.allocation_size());
        let accounted = if before_bytes == 0 {
            self.gov.start_small::<K, V>(&TableState {
                len,
                capacity: after_capacity,
                bytes: after_bytes,
            })
        } else {
            self.gov.small_grew(len, after_bytes)
        };
        if !accounted {
            // A map that does not start (or stay) small: the general path.
            let before = TableState {
                len,
                capacity,
                bytes: before_bytes,
            };
            let after = TableState {
                len,
                capacity: after_capacity,
                bytes: after_bytes,
            };
            self.gov.after_resize::<K, V>(before, after, None);
        }
    }

    /// Runs an operation that may reallocate or rehash the table, timing and counting it.
    #[cold]
    #[inline(never)]
    fn resize_cold<R>(&mut self, op: impl FnOnce(&mut hashbrown::HashMap<K, V, S>) -> R) -> R {
        if self.gov.is_bare() && !crate::config::enabled() {
            self.gov.set_off();
            return op(&mut self.base);
        }
        let bytes = self.base.allocation_size();
        let mut guard = Reconcile::with_bytes(self, true, bytes);
        guard.measure = Some(allocation_size::<K, V, S>);
        let (r, nanos) = timed(bytes, || op(&mut guard.map.base));
        guard.nanos = nanos;
        r
    }

    /// Runs the map's policies after `len` crossed one of their limits: reports budget
    /// crossings and shrinks the table when the shrink policy says so.
    #[cold]
    #[inline(never)]
    fn policy_cold(&mut self) {
        if let Action::ShrinkTo(n) = self.gov.on_limit(self.base.len()) {
            self.resize_cold(|base| base.shrink_to(n));
        }
    }

    /// Reserves room for at least `additional` more entries.
    ///
    /// # Panics
    ///
    /// Panics if the new allocation size overflows `usize`.
    #[inline]
    pub fn reserve(&mut self, additional: usize) {
        if additional > self.base.capacity() - self.base.len() {
            self.resize_cold(|base| base.reserve(additional));
        }
    }

    /// Tries to reserve room for at least `additional` more entries.
    ///
    /// # Errors
    ///
    /// If the capacity overflows or the allocator reports a failure.
    #[inline]
    pub fn try_reserve(&mut self, additional: usize) -> Result<(), TryReserveError> {
        if additional > self.base.capacity() - self.base.len() {
            match self.resize_cold(|base| base.try_reserve(additional)) {
                Ok(()) => Ok(()),
                Err(e) => Err(std_try_reserve_error::<K, V>(
                    e,
                    self.base.len(),
                    additional,
                )),
            }
        } else {
            Ok(())
        }
    }

    /// Shrinks the table as much as possible while keeping every entry.
    #[inline]
    pub fn shrink_to_fit(&mut self) {
        self.resize_cold(|base| base.shrink_to_fit());
    }

    /// Shrinks the table to hold at least `min_capacity` entries (and every current entry).
    #[inline]
    pub fn shrink_to(&mut self, min_capacity: usize) {
        self.resize_cold(|base| base.shrink_to(min_capacity));
    }

    /// The entry for `key`, for in-place manipulation.
    ///
    /// Counted as a lookup: a hit if the key is present, a miss if not.
    #[inline]
    pub fn entry(&mut self, key: K) -> Entry<'_, K, V, S> {
        if self.gov.is_off() {
            return self.entry_ungoverned(key);
        }
        if let Some(c) = self.gov.cell()
            && (self.base.len() as u64) < c.remove_watch.get()
        {
            self.policy_cold();
        }
        self.make_room_for_absent(&key);
        self.wrap_entry(key, |gov, hit| gov.record_lookup(hit))
    }

    /// Like std (hashbrown's `rustc_entry`), makes room for one more key before an entry is
    /// taken, only if `key` is absent: `entry`'s growth, governed or not.
    #[inline(always)]
    fn make_room_for_absent(&mut self, key: &K) {
        if self.base.len() == self.base.capacity() && !self.base.contains_key(key) {
            self.resize_cold(|base| base.reserve(1));
        }
    }

    /// [`entry`](Self::entry) in a map that found governance off: hashbrown's entry, with
    /// room made for an absent key as std makes it, and nothing counted. Inlined, like the
    /// governed path: out of line, the entry would come back through memory.
    #[inline(always)]
    fn entry_ungoverned(&mut self, key: K) -> Entry<'_, K, V, S> {
        self.make_room_for_absent(&key);
        self.wrap_entry(key, |_, _| {})
    }

    /// hashbrown's entry for `key` (room already made), wrapped with the governor and the
    /// length before it; `looked_up` sees whether the key was present, before the wrap.
    #[inline(always)]
    fn wrap_entry(&mut self, key: K, looked_up: impl FnOnce(&mut Gov, bool)) -> Entry<'_, K, V, S> {
        let len = self.base.len();
        let gov = &mut self.gov;
        match self.base.entry(key) {
            hashbrown::hash_map::Entry::Occupied(o) => {
                looked_up(gov, true);
                Entry::Occupied(OccupiedEntry::new(o, gov, len))
            }
            hashbrown::hash_map::Entry::Vacant(v) => {
                looked_up(gov, false);
                Entry::Vacant(VacantEntry::new(v, gov, len))
            }
        }
    }

    /// A reference to the value for `k`.
    #[inline]
    pub fn get<Q>(&self, k: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let r = self.base.get(k);
        self.gov.record_lookup(r.is_some());
        r
    }

    /// The key and value stored for `k`.
    #[inline]
    pub fn get_key_value<Q>(&self, k: &Q) -> Option<(&K, &V)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let r = self.base.get_key_value(k);
        self.gov.record_lookup(r.is_some());
        r
    }

    /// Mutable references to the values of `N` distinct keys at once.
    ///
    /// # Panics
    ///
    /// Panics if any two keys are equal (as std does).
    #[inline]
    pub fn get_disjoint_mut<Q, const N: usize>(&mut self, ks: [&Q; N]) -> [Option<&'_ mut V>; N]
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let gov = &self.gov;
        let r = self.base.get_disjoint_mut(ks);
        for v in &r {
            gov.record_lookup(v.is_some());
        }
        r
    }

    /// Mutable references to the values of `N` keys at once, without checking that they are
    /// distinct.
    ///
    /// # Safety
    ///
    /// Calling this with overlapping keys is undefined behaviour even if the references are
    /// never used, exactly as for [`std::collections::HashMap::get_disjoint_unchecked_mut`].
    #[allow(unsafe_code)] // forwards std's unsafe API; the contract is the caller's
    #[inline]
    pub unsafe fn get_disjoint_unchecked_mut<Q, const N: usize>(
        &mut self,
        ks: [&Q; N],
    ) -> [Option<&'_ mut V>; N]
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let gov = &self.gov;
        // SAFETY: the caller guarantees the keys are pairwise distinct, which is hashbrown's
        // requirement for the same method.
        let r = unsafe { self.base.get_disjoint_unchecked_mut(ks) };
        for v in &r {
            gov.record_lookup(v.is_some());
        }
        r
    }

    /// Whether the map holds `k`.
    #[inline]
    pub fn contains_key<Q>(&self, k: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let r = self.base.contains_key(k);
        self.gov.record_lookup(r);
        r
    }

    /// A mutable reference to the value for `k`.
    #[inline]
    pub fn get_mut<Q>(&mut self, k: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let gov = &self.gov;
        let r = self.base.get_mut(k);
        gov.record_lookup(r.is_some());
        r
    }

    /// Inserts a pair; returns the previous value if the key was present (the key itself is not
    /// replaced, as in std).
    // Always inlined: with the test for a map that found governance off, LLVM kept it out of
    // line in `mapbench`'s insert loop, a call more per insert.
    #[inline(always)]
    pub fn insert(&mut self, k: K, v: V) -> Option<V> {
        if self.gov.is_off() {
            return self.insert_ungoverned(k, v);
        }
        self.grow_for_insert();
        let old = self.base.insert(k, v);
        let cold = match old {
            None => self.gov.on_insert(),
            Some(_) => self.gov.on_update(),
        };
        if cold {
            self.policy_cold();
        }
        old
    }

    /// [`insert`](Self::insert) into a map that found governance off: hashbrown's insert
    /// alone. Out of line, so that the governed insert's callers do not hold a second copy of
    /// hashbrown's (measured: with one inlined beside the governed path, the small-map
    /// lifecycle of the default configuration slowed by about 5 %).
    #[inline(never)]
    fn insert_ungoverned(&mut self, k: K, v: V) -> Option<V> {
        self.base.insert(k, v)
    }

    /// Removes `k`, returning its value if it was present.
    #[inline]
    pub fn remove<Q>(&mut self, k: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let r = self.base.remove(k);
        if r.is_some() && self.gov.on_remove(self.base.len()) {
            self.policy_cold();
        }
        r
    }

    /// Removes `k`, returning the stored key and value if it was present.
    #[inline]
    pub fn remove_entry<Q>(&mut self, k: &Q) -> Option<(K, V)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let r = self.base.remove_entry(k);
        if r.is_some() && self.gov.on_remove(self.base.len()) {
            self.policy_cold();
        }
        r
    }
}

/// std's error for the condition hashbrown reported (std's error type cannot be built
/// directly): std's own `try_reserve` on an empty map of the same types, asked for the same
/// table, reports the same overflow or the same failed layout.
#[cold]
fn std_try_reserve_error<K: Eq + Hash, V>(
    e: hashbrown::TryReserveError,
    len: usize,
    additional: usize,
) -> TryReserveError {
    let overflow = || {
        std::collections::HashMap::<K, V>::new()
            .try_reserve(usize::MAX)
            .expect_err("usize::MAX entries always overflow")
    };
    match (e, len.checked_add(additional)) {
        (hashbrown::TryReserveError::AllocError { .. }, Some(total)) => {
            match std::collections::HashMap::<K, V>::new().try_reserve(total) {
                Err(e) => e,
                // The allocator had the memory this time; the request still failed for us.
                Ok(()) => overflow(),
            }
        }
        _ => overflow(),
    }
}

/// Brings a map's stats back in line with its table after an operation that may change many
/// entries or the allocation, even if user code (`Hash`, `Eq`, a predicate, `Drop`) panics in
/// the middle of it.
struct Reconcile<'a, K, V, S> {
    map: &'a mut HashMap<K, V, S>,
    before: TableState,
    /// The operation may reallocate or rehash: classify it as a resize.
    resize: bool,
    nanos: Option<u64>,
    /// Measures the allocation afterwards; without it the allocation is `bytes_after`.
    measure: Option<Measure<K, V, S>>,
    bytes_after: usize,
    /// The operation is `clear()`: a tracked map that held entries records a `cleared` event.
    clear: bool,
}

/// Measures a table's allocation (needs the bounds the caller has and `Reconcile` lacks).
type Measure<K, V, S> = fn(&hashbrown::HashMap<K, V, S>) -> usize;

fn allocation_size<K: Eq + Hash, V, S: BuildHasher>(m: &hashbrown::HashMap<K, V, S>) -> usize {
    m.allocation_size()
}

impl<'a, K, V, S> Reconcile<'a, K, V, S> {
    fn new(map: &'a mut HashMap<K, V, S>, resize: bool) -> Self {
        let bytes = map.gov.known_bytes();
        Self::with_bytes(map, resize, bytes)
    }

    /// [`new`](Self::new) for a table of `bytes` bytes now.
    fn with_bytes(map: &'a mut HashMap<K, V, S>, resize: bool, bytes: usize) -> Self {
        let before = TableState {
            len: map.base.len(),
            capacity: map.base.capacity(),
            bytes,
        };
        Reconcile {
            map,
            before,
            resize,
            nanos: None,
            measure: None,
            bytes_after: before.bytes,
            clear: false,
        }
    }
}

impl<K, V, S> Drop for Reconcile<'_, K, V, S> {
    fn drop(&mut self) {
        let after = TableState {
            len: self.map.base.len(),
            capacity: self.map.base.capacity(),
            bytes: match self.measure {
                Some(measure) => measure(&self.map.base),
                None => self.bytes_after,
            },
        };
        if self.map.gov.is_small() {
            self.map.gov.count_small_bulk(self.before.len, after.len);
        }
        if let Some(c) = self.map.gov.cell() {
            if after.len < self.before.len {
                c.count_removes((self.before.len - after.len) as u64, self.before.len as u64);
            } else if after.len > self.before.len {
                c.count_inserts((after.len - self.before.len) as u64);
            }
            if (after.len as u64) < c.remove_watch.get() {
                // Bulk removals (retain, clear): budgets re-arm now; a shrink waits for the
                // next insert or removal through the map, which can rehash.
                let _ = policy::on_limit(c, after.len as u64);
            }
            if self.clear && self.before.len > 0 && c.is_tracked() {
                crate::event::cleared(c, self.before, after);
            }
        }
        if self.resize || after.bytes != self.before.bytes {
            self.map
                .gov
                .after_resize::<K, V>(self.before, after, self.nanos);
        }
    }
}

impl<K, V, S> Clone for HashMap<K, V, S>
where
    K: Clone,
    V: Clone,
    S: Clone,
{
    /// A copy of the map, attributed to the caller's location (and keeping the name).
    #[track_caller]
    fn clone(&self) -> Self {
        let base = self.base.clone();
        // The copy has the source's bucket count, hence its allocation size.
        let state = TableState {
            len: base.len(),
            capacity: base.capacity(),
            bytes: self.table_state().bytes,
        };
        let gov = self.gov.for_clone::<K, V>(state);
        HashMap { base, gov }
    }

    /// Replaces the contents with a copy of `source`'s, reusing the allocation when it fits.
    fn clone_from(&mut self, source: &Self) {
        // Drop our entries first (through `clear`, so a panicking `Drop` is accounted for);
        // then hashbrown's `clone_from` leaves the table at the source's size, even if a
        // `clone` panics (it then empties the table).
        self.clear();
        if self.gov.is_small() && !self.gov.small_fits(&source.table_state()) {
            // The copy (it takes the source's table) does not fit a small map: count it through
            // a cell, as for any map that has one.
            let state = self.table_state();
            self.gov.ensure_cell::<K, V>(state);
        }
        let had_cell = self.gov.cell().is_some();
        let was_small = self.gov.is_small();
        let source_bytes = source.table_state().bytes;
        {
            let mut guard = Reconcile::new(self, false);
            guard.bytes_after = source_bytes;
            guard.map.base.clone_from(&source.base);
        }
        // A cell created by this copy counted the entries as present from the start; they were
        // inserted, as for a map that had a cell already.
        if let (false, Some(c)) = (had_cell, self.gov.cell()) {
            c.count_inserts(c.len_base.get());
            c.len_base.set(0);
        }
        if !was_small && self.gov.is_small() {
            self.gov.small_entries_were_inserted();
        }
    }
}

impl<K, V, S> PartialEq for HashMap<K, V, S>
where
    K: Eq + Hash,
    V: PartialEq,
    S: BuildHasher,
{
    fn eq(&self, other: &HashMap<K, V, S>) -> bool {
        self.base == other.base
    }
}

impl<K, V, S> Eq for HashMap<K, V, S>
where
    K: Eq + Hash,
    V: Eq,
    S: BuildHasher,
{
}

impl<K, V, S> Debug for HashMap<K, V, S>
where
    K: Debug,
    V: Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.base.iter()).finish()
    }
}

impl<K, V, S> Default for HashMap<K, V, S>
where
    S: Default,
{
    /// An empty map with the default hasher, attributed to the caller's location.
    #[inline]
    #[track_caller]
    fn default() -> HashMap<K, V, S> {
        HashMap::with_hasher(S::default())
    }
}

impl<K, Q, V, S> Index<&Q> for HashMap<K, V, S>
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
        self.get(key).expect("no entry found for key")
    }
}

impl<'a, K, V, S> IntoIterator for &'a HashMap<K, V, S> {
    type Item = (&'a K, &'a V);
    type IntoIter = Iter<'a, K, V>;

    #[inline]
    fn into_iter(self) -> Iter<'a, K, V> {
        self.iter()
    }
}

impl<'a, K, V, S> IntoIterator for &'a mut HashMap<K, V, S> {
    type Item = (&'a K, &'a mut V);
    type IntoIter = IterMut<'a, K, V>;

    #[inline]
    fn into_iter(self) -> IterMut<'a, K, V> {
        self.iter_mut()
    }
}

impl<K, V, S> IntoIterator for HashMap<K, V, S> {
    type Item = (K, V);
    type IntoIter = IntoIter<K, V>;

    /// Consumes the map; its stats are retired as if it were dropped.
    #[inline]
    fn into_iter(self) -> IntoIter<K, V> {
        let HashMap { base, gov } = self;
        drop(gov);
        base.into_iter()
    }
}

impl<K, V, S> FromIterator<(K, V)> for HashMap<K, V, S>
where
    K: Eq + Hash,
    S: BuildHasher + Default,
{
    /// Builds a map, attributed to the caller of `from_iter` (for `collect()`, see the crate
    /// docs on call sites).
    #[track_caller]
    fn from_iter<T: IntoIterator<Item = (K, V)>>(iter: T) -> HashMap<K, V, S> {
        let mut map = HashMap::with_hasher(S::default());
        map.extend(iter);
        map
    }
}

impl<K, V, S> Extend<(K, V)> for HashMap<K, V, S>
where
    K: Eq + Hash,
    S: BuildHasher,
{
    #[inline]
    fn extend<T: IntoIterator<Item = (K, V)>>(&mut self, iter: T) {
        // The same reservation as std's (hashbrown's) `extend`.
        let iter = iter.into_iter();
        let reserve = if self.is_empty() {
            iter.size_hint().0
        } else {
            iter.size_hint().0.div_ceil(2)
        };
        self.reserve(reserve);
        iter.for_each(move |(k, v)| {
            self.insert(k, v);
        });
    }
}

impl<'a, K, V, S> Extend<(&'a K, &'a V)> for HashMap<K, V, S>
where
    K: Eq + Hash + Copy,
    V: Copy,
    S: BuildHasher,
{
    #[inline]
    fn extend<T: IntoIterator<Item = (&'a K, &'a V)>>(&mut self, iter: T) {
        self.extend(iter.into_iter().map(|(&k, &v)| (k, v)));
    }
}

impl<K, V, const N: usize> From<[(K, V); N]> for HashMap<K, V, RandomState>
where
    K: Eq + Hash,
{
    /// Builds a map from an array of pairs, attributed to the caller.
    ///
    /// # Examples
    ///
    /// ```
    /// let map = mapgov::HashMap::from([(1, 2), (3, 4)]);
    /// assert_eq!(map[&3], 4);
    /// ```
    #[track_caller]
    fn from(arr: [(K, V); N]) -> Self {
        let mut map = HashMap::with_hasher(RandomState::new());
        map.extend(arr);
        map
    }
}

// ---------------------------------------------------------------------------------------------
// Support for `HashSet` (set.rs): the one set operation the map API has no counterpart for.
// ---------------------------------------------------------------------------------------------

impl<K, S> HashMap<K, (), S>
where
    K: Eq + Hash,
    S: BuildHasher,
{
    /// Makes room for one more key as std's `HashSet::insert` does: before the lookup, so a
    /// full table grows even when the key is present.
    #[inline]
    pub(crate) fn make_room_like_insert(&mut self) {
        self.grow_for_insert();
    }

    /// `HashSet::replace`: stores `key`, replacing an equal stored key (counted as an update)
    /// or inserting it (counted as an insert). Returns the replaced key.
    ///
    /// Like std's `HashSet::replace` (and `insert`), it makes room for one more key before the
    /// lookup, so replacing a present key in a full table grows it, as std's does.
    pub(crate) fn replace_key(&mut self, key: K) -> Option<K> {
        self.grow_for_insert();
        if let hashbrown::hash_map::EntryRef::Occupied(mut o) = self.base.entry_ref(&key) {
            let old = o.replace_key(key);
            if self.gov.on_update() {
                self.policy_cold();
            }
            return Some(old);
        }
        // Absent: there is room, so this insert cannot reallocate.
        self.insert(key, ());
        None
    }
}

#[cfg(test)]
mod tests {
    use super::HashMap;

    /// Set in the child process of the test below.
    const OFF_CHILD: &str = "MAPGOV_TEST_OFF_CHILD";
    /// What the child prints once every check passed.
    const OFF_CHILD_DONE: &str = "off child: every cold path marked its map";

    /// The child process of the test below, with `MAPGOV=off`; does nothing in a run of the
    /// test suite itself (the configuration there is on).
    #[test]
    fn off_child_process_entry() {
        if std::env::var_os(OFF_CHILD).is_none() {
            return;
        }
        let mut grown: HashMap<u64, u64> = HashMap::new();
        assert!(!grown.gov.is_off(), "a map that never allocated is bare");
        grown.insert(1, 1);
        assert!(grown.gov.is_off(), "the growth of an insert");
        let sized: HashMap<u64, u64> = HashMap::with_capacity(3);
        assert!(sized.gov.is_off(), "a capacity");
        let mut reserved: HashMap<u64, u64> = HashMap::new();
        reserved.reserve(10);
        assert!(reserved.gov.is_off(), "a reserve");
        let named: HashMap<u64, u64> = HashMap::new().named("off");
        assert!(named.gov.is_off(), "a naming");
        assert!(grown.clone().gov.is_off(), "a copy");
        assert_eq!((grown.insert(1, 2), grown.insert(2, 3)), (Some(1), None));
        // Through the ungoverned entry path, growing the table.
        for k in 0..100 {
            *grown.entry(k).or_insert(0) += 10;
        }
        assert!(grown.gov.is_off(), "entries into an ungoverned map");
        assert_eq!((grown.len(), grown[&1], grown[&99]), (100, 12, 10));
        // As in std, an absent key's entry makes room even if it is never filled.
        let mut full: HashMap<u64, u64> = HashMap::with_capacity(3);
        let cap = full.capacity();
        for k in 0..cap as u64 {
            full.insert(k, k);
        }
        let _ = full.entry(1_000);
        assert!(full.capacity() > cap, "an entry into a full ungoverned map");
        println!("{OFF_CHILD_DONE}");
    }

    /// `Gov::is_off` reads the handle's pointer word alone: no governed handle may read as
    /// ungoverned (the configuration of the test suite is on).
    #[test]
    fn no_governed_handle_reads_as_ungoverned() {
        let bare: HashMap<u64, u64> = HashMap::new();
        assert!(
            bare.gov.is_bare() && !bare.gov.is_off(),
            "bare, with its site"
        );
        let mut small: HashMap<u64, u64> = HashMap::new();
        small.insert(1, 1);
        assert!(small.gov.is_small() && !small.gov.is_off(), "small");
        let mut exact: HashMap<u64, u64> = HashMap::new().count_every_lookup();
        exact.insert(1, 1);
        assert!(
            exact.gov.cell().is_some() && !exact.gov.is_off(),
            "every lookup counted"
        );
        let sampled: HashMap<u64, u64> = HashMap::with_capacity(1 << 16);
        assert!(
            sampled.gov.cell().is_some() && !sampled.gov.is_off(),
            "sampled"
        );
        // A map whose first allocation is an entry's: governed (small), not off.
        let mut e: HashMap<u64, u64> = HashMap::new();
        *e.entry(1).or_insert(0) += 1;
        assert!(
            e.gov.is_small() && !e.gov.is_off(),
            "an entry's first growth"
        );
    }

    #[test]
    fn every_cold_path_of_a_map_marks_it_ungoverned_when_governance_is_off() {
        let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("MAPGOV") {
                cmd.env_remove(name);
            }
        }
        let out = cmd
            .args([
                "map::tests::off_child_process_entry",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("MAPGOV", "off")
            .env(OFF_CHILD, "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains(OFF_CHILD_DONE),
            "the child failed or did not run:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
