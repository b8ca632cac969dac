//! Parallel iterators for [`HashMap`], [`SplitMap`] and [`HashSet`] (feature `rayon`), as rayon
//! provides them for std's collections.
//!
//! - `IntoParallelIterator` for `HashMap` and `SplitMap` (owned, `&`, `&mut`) and `HashSet`
//!   (owned, `&`), hence `par_iter()` and, for maps, `par_iter_mut()` through rayon's blanket
//!   traits. The iterators of `HashMap` and `HashSet` are hashbrown's own parallel iterators over
//!   the table; those of `SplitMap` ([`ParIter`], [`ParIterMut`], [`IntoParIter`],
//!   [`ParDrain`], named in `mapgov::split_map::rayon`) iterate its tables in parallel.
//! - `ParallelDrainFull` (`par_drain()`) for `&mut HashMap`, `&mut SplitMap` and `&mut HashSet`.
//! - `ParallelExtend` (owned and `Copy` references) and `FromParallelIterator`.
//!
//! Stats stay exact: `par_extend` collects the parallel iterator first (as hashbrown and rayon
//! do) and then reserves and inserts through the governed path, so every insert, update and
//! growth (and, for a `SplitMap`, split) is counted as the sequential `extend` counts it.
//! `par_drain` counts every element as removed when it starts, as `drain` does, and the
//! collection is empty afterwards whether the iterator is consumed, dropped or panics. Only
//! leaking a `HashMap`'s or `HashSet`'s with `mem::forget` would leave the elements in place,
//! counted as removed; a `SplitMap`'s empties the tables when it is created, as its `drain`
//! does, so even a leaked one leaves the map empty. Consuming a collection with
//! `into_par_iter` retires its stats as a drop does.

use std::fmt;
use std::hash::{BuildHasher, Hash};

use ::rayon::iter::plumbing::UnindexedConsumer;
use ::rayon::iter::{
    FromParallelIterator, IntoParallelIterator, IntoParallelRefIterator,
    IntoParallelRefMutIterator, ParallelDrainFull, ParallelExtend, ParallelIterator,
};
use hashbrown::hash_map::rayon::{
    IntoParIter as MapIntoParIter, ParDrain as MapParDrain, ParIter as MapParIter,
    ParIterMut as MapParIterMut, ParKeys,
};
use hashbrown::hash_table;

use crate::split::Table;
use crate::{HashMap, HashSet, SplitMap};

/// Collects a parallel iterator, then inserts it sequentially through `extend`, after the same
/// reservation as hashbrown's and rayon's std `par_extend`.
fn par_extend_with<C, I>(target: &mut C, par_iter: I, is_empty: bool, reserve: fn(&mut C, usize))
where
    C: Extend<I::Item>,
    I: IntoParallelIterator,
{
    let list = par_iter.into_par_iter().collect_vec_list();
    let len: usize = list.iter().map(Vec::len).sum();
    // Keys may repeat or already be present: reserve all of them for an empty collection,
    // otherwise half, so it resizes at most twice.
    reserve(target, if is_empty { len } else { len.div_ceil(2) });
    for vec in list {
        target.extend(vec);
    }
}

// --- HashMap ----------------------------------------------------------------------------------

impl<K: Send, V: Send, S> IntoParallelIterator for HashMap<K, V, S> {
    type Item = (K, V);
    type Iter = MapIntoParIter<K, V>;

    /// Consumes the map; its stats are retired as if it were dropped.
    fn into_par_iter(self) -> MapIntoParIter<K, V> {
        let HashMap { base, gov } = self;
        drop(gov);
        base.into_par_iter()
    }
}

impl<'a, K: Sync, V: Sync, S> IntoParallelIterator for &'a HashMap<K, V, S> {
    type Item = (&'a K, &'a V);
    type Iter = MapParIter<'a, K, V>;

    fn into_par_iter(self) -> MapParIter<'a, K, V> {
        (&self.base).into_par_iter()
    }
}

impl<'a, K: Sync, V: Send, S> IntoParallelIterator for &'a mut HashMap<K, V, S> {
    type Item = (&'a K, &'a mut V);
    type Iter = MapParIterMut<'a, K, V>;

    fn into_par_iter(self) -> MapParIterMut<'a, K, V> {
        (&mut self.base).into_par_iter()
    }
}

impl<'a, K: Send, V: Send, S> ParallelDrainFull for &'a mut HashMap<K, V, S> {
    type Iter = MapParDrain<'a, K, V>;
    type Item = (K, V);

    /// Removes every entry, yielding them in parallel; the allocation is kept.
    fn par_drain(self) -> MapParDrain<'a, K, V> {
        self.gov.on_drain(self.base.len());
        self.base.par_drain()
    }
}

/// `ParallelExtend` (owned pairs and `Copy` references) and `FromParallelIterator` for a
/// governed map type, through its sequential `extend` (see `par_extend_with`).
macro_rules! par_extend_and_collect {
    ($map:ident) => {
        impl<K, V, S> ParallelExtend<(K, V)> for $map<K, V, S>
        where
            K: Eq + Hash + Send,
            V: Send,
            S: BuildHasher,
        {
            fn par_extend<I>(&mut self, par_iter: I)
            where
                I: IntoParallelIterator<Item = (K, V)>,
            {
                let is_empty = self.is_empty();
                par_extend_with(self, par_iter, is_empty, $map::reserve);
            }
        }

        impl<'a, K, V, S> ParallelExtend<(&'a K, &'a V)> for $map<K, V, S>
        where
            K: Copy + Eq + Hash + Sync,
            V: Copy + Sync,
            S: BuildHasher,
        {
            fn par_extend<I>(&mut self, par_iter: I)
            where
                I: IntoParallelIterator<Item = (&'a K, &'a V)>,
            {
                let is_empty = self.is_empty();
                par_extend_with(self, par_iter, is_empty, $map::reserve);
            }
        }

        impl<K, V, S> FromParallelIterator<(K, V)> for $map<K, V, S>
        where
            K: Eq + Hash + Send,
            V: Send,
            S: BuildHasher + Default,
        {
            /// Builds a map, attributed to the caller of `from_par_iter` (through rayon's
            /// `collect()`, to a line inside rayon).
            #[track_caller]
            fn from_par_iter<I>(par_iter: I) -> Self
            where
                I: IntoParallelIterator<Item = (K, V)>,
            {
                let mut map = $map::with_hasher(S::default());
                map.par_extend(par_iter);
                map
            }
        }
    };
}

par_extend_and_collect!(HashMap);

// --- SplitMap ---------------------------------------------------------------------------------

/// A parallel iterator over the entries of a [`SplitMap`]: `(&K, &V)`, in arbitrary order.
///
/// Created by `par_iter()` (rayon's [`IntoParallelRefIterator`]). The tables are iterated in
/// parallel, and each table is split further as hashbrown splits its own, so a map of one
/// table is as parallel as a [`HashMap`]. Iterating counts nothing.
///
/// # Examples
///
/// ```
/// use rayon::prelude::*;
///
/// let map: mapgov::SplitMap<u64, u64> = (0..1000).map(|i| (i, i * 2)).collect();
/// let total: u64 = map.par_iter().map(|(_, v)| v).sum();
/// assert_eq!(total, map.values().sum::<u64>());
/// ```
pub struct ParIter<'a, K, V> {
    tables: &'a [Table<K, V>],
}

impl<'a, K: Sync, V: Sync> ParallelIterator for ParIter<'a, K, V> {
    type Item = (&'a K, &'a V);

    fn drive_unindexed<C>(self, consumer: C) -> C::Result
    where
        C: UnindexedConsumer<Self::Item>,
    {
        self.tables
            .par_iter()
            .flat_map(|t| t.raw.par_iter().map(|(k, v)| (k, v)))
            .drive_unindexed(consumer)
    }
}

impl<K, V> Clone for ParIter<'_, K, V> {
    fn clone(&self) -> Self {
        ParIter {
            tables: self.tables,
        }
    }
}

impl<K: fmt::Debug, V: fmt::Debug> fmt::Debug for ParIter<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        debug_entries(f, self.tables)
    }
}

/// A parallel iterator over the entries of a [`SplitMap`] with mutable values:
/// `(&K, &mut V)`, in arbitrary order.
///
/// Created by `par_iter_mut()` (rayon's [`IntoParallelRefMutIterator`]); parallel as
/// [`ParIter`] is. Unlike hashbrown's (which needs only `K: Sync`), it needs `K: Send + Sync`:
/// the tables themselves are handed to the worker threads. Iterating counts nothing.
///
/// # Examples
///
/// ```
/// use rayon::prelude::*;
///
/// let mut map: mapgov::SplitMap<u64, u64> = (0..1000).map(|i| (i, i)).collect();
/// map.par_iter_mut().for_each(|(k, v)| *v += k);
/// assert_eq!(map[&21], 42);
/// ```
pub struct ParIterMut<'a, K, V> {
    tables: &'a mut [Table<K, V>],
}

impl<'a, K: Send + Sync, V: Send> ParallelIterator for ParIterMut<'a, K, V> {
    type Item = (&'a K, &'a mut V);

    fn drive_unindexed<C>(self, consumer: C) -> C::Result
    where
        C: UnindexedConsumer<Self::Item>,
    {
        self.tables
            .par_iter_mut()
            .flat_map(|t| t.raw.par_iter_mut().map(|(k, v)| (&*k, v)))
            .drive_unindexed(consumer)
    }
}

impl<K: fmt::Debug, V: fmt::Debug> fmt::Debug for ParIterMut<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        debug_entries(f, self.tables)
    }
}

/// A parallel iterator over the entries of a consumed [`SplitMap`]: `(K, V)`, in arbitrary
/// order.
///
/// Created by `into_par_iter()`; parallel as [`ParIter`] is. The map's stats were retired when
/// it was consumed, as if it had been dropped.
///
/// # Examples
///
/// ```
/// use rayon::prelude::*;
///
/// let map: mapgov::SplitMap<u64, u64> = (0..1000).map(|i| (i, i)).collect();
/// let mut pairs: Vec<(u64, u64)> = map.into_par_iter().collect();
/// pairs.sort_unstable();
/// assert_eq!(pairs[999], (999, 999));
/// ```
pub struct IntoParIter<K, V> {
    tables: Vec<Table<K, V>>,
}

impl<K: Send, V: Send> ParallelIterator for IntoParIter<K, V> {
    type Item = (K, V);

    fn drive_unindexed<C>(self, consumer: C) -> C::Result
    where
        C: UnindexedConsumer<Self::Item>,
    {
        self.tables
            .into_par_iter()
            .flat_map(|t| t.raw.into_par_iter())
            .drive_unindexed(consumer)
    }
}

impl<K: fmt::Debug, V: fmt::Debug> fmt::Debug for IntoParIter<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        debug_entries(f, &self.tables)
    }
}

/// A parallel draining iterator over the entries of a [`SplitMap`]: `(K, V)`, in arbitrary
/// order.
///
/// Created by `par_drain()` (rayon's [`ParallelDrainFull`]). As with
/// [`SplitMap::drain`], every table is emptied when the iterator is created (its allocation
/// kept) and every entry is counted as removed then, so the map is empty even if the iterator
/// is dropped early, panics or is leaked; entries not yielded are dropped with it. The tables
/// are drained in parallel, the entries of one table by one thread at a time.
///
/// # Examples
///
/// ```
/// use rayon::prelude::*;
///
/// let mut map: mapgov::SplitMap<u64, u64> = (0..1000).map(|i| (i, i)).collect();
/// let total: u64 = map.par_drain().map(|(_, v)| v).sum();
/// assert_eq!(total, (0..1000).sum::<u64>());
/// assert!(map.is_empty());
/// ```
pub struct ParDrain<'a, K, V> {
    drains: Vec<hash_table::Drain<'a, (K, V)>>,
}

impl<K: Send, V: Send> ParallelIterator for ParDrain<'_, K, V> {
    type Item = (K, V);

    fn drive_unindexed<C>(self, consumer: C) -> C::Result
    where
        C: UnindexedConsumer<Self::Item>,
    {
        self.drains
            .into_par_iter()
            .flat_map_iter(|drain| drain)
            .drive_unindexed(consumer)
    }
}

impl<K, V> fmt::Debug for ParDrain<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let remaining: usize = self.drains.iter().map(ExactSizeIterator::len).sum();
        f.debug_struct("ParDrain")
            .field("remaining", &remaining)
            .finish_non_exhaustive()
    }
}

/// Formats the entries of `tables` as a list of pairs, as the sequential iterators do.
fn debug_entries<K: fmt::Debug, V: fmt::Debug>(
    f: &mut fmt::Formatter<'_>,
    tables: &[Table<K, V>],
) -> fmt::Result {
    f.debug_list()
        .entries(
            tables
                .iter()
                .flat_map(|t| t.raw.iter())
                .map(|(k, v)| (k, v)),
        )
        .finish()
}

impl<K: Send, V: Send, S> IntoParallelIterator for SplitMap<K, V, S> {
    type Item = (K, V);
    type Iter = IntoParIter<K, V>;

    /// Consumes the map; its stats are retired as if it were dropped.
    fn into_par_iter(self) -> IntoParIter<K, V> {
        let SplitMap { tables, gov, .. } = self;
        drop(gov);
        IntoParIter { tables }
    }
}

impl<'a, K: Sync, V: Sync, S> IntoParallelIterator for &'a SplitMap<K, V, S> {
    type Item = (&'a K, &'a V);
    type Iter = ParIter<'a, K, V>;

    fn into_par_iter(self) -> ParIter<'a, K, V> {
        ParIter {
            tables: &self.tables,
        }
    }
}

impl<'a, K: Send + Sync, V: Send, S> IntoParallelIterator for &'a mut SplitMap<K, V, S> {
    type Item = (&'a K, &'a mut V);
    type Iter = ParIterMut<'a, K, V>;

    fn into_par_iter(self) -> ParIterMut<'a, K, V> {
        ParIterMut {
            tables: &mut self.tables,
        }
    }
}

impl<'a, K: Send, V: Send, S> ParallelDrainFull for &'a mut SplitMap<K, V, S> {
    type Iter = ParDrain<'a, K, V>;
    type Item = (K, V);

    /// Removes every entry, yielding them in parallel; the allocation is kept. The map is empty
    /// as soon as this returns, as after [`SplitMap::drain`].
    fn par_drain(self) -> ParDrain<'a, K, V> {
        // The sequential drains empty their tables at once (hashbrown's parallel one only when
        // it is consumed or dropped), so the map's `len` and its tables agree even if the
        // iterator is leaked.
        // The accounting stays marked stale (the map sums its tables until its next
        // restructuring): the parallel drains are dropped inside rayon.
        let (drains, _, _) = self.drain_tables();
        ParDrain { drains }
    }
}

par_extend_and_collect!(SplitMap);

// --- HashSet ----------------------------------------------------------------------------------

/// The parallel iterator of a set's elements, consumed: hashbrown's.
type SetIntoParIter<T> = hashbrown::hash_set::rayon::IntoParIter<T>;

/// The parallel draining iterator of a set: the table's `(T, ())` pairs, mapped to `T`.
type SetParDrain<'a, T> = ::rayon::iter::Map<MapParDrain<'a, T, ()>, fn((T, ())) -> T>;

impl<T: Send, S> IntoParallelIterator for HashSet<T, S> {
    type Item = T;
    type Iter = SetIntoParIter<T>;

    /// Consumes the set; its stats are retired as if it were dropped.
    fn into_par_iter(self) -> SetIntoParIter<T> {
        let HashMap { base, gov } = self.map;
        drop(gov);
        hashbrown::HashSet::from(base).into_par_iter()
    }
}

impl<'a, T: Sync, S> IntoParallelIterator for &'a HashSet<T, S> {
    type Item = &'a T;
    type Iter = ParKeys<'a, T, ()>;

    fn into_par_iter(self) -> ParKeys<'a, T, ()> {
        self.map.base.par_keys()
    }
}

impl<'a, T: Send, S> ParallelDrainFull for &'a mut HashSet<T, S> {
    type Iter = SetParDrain<'a, T>;
    type Item = T;

    /// Removes every element, yielding them in parallel; the allocation is kept.
    fn par_drain(self) -> SetParDrain<'a, T> {
        let key: fn((T, ())) -> T = |(k, ())| k;
        (&mut self.map).par_drain().map(key)
    }
}

impl<T, S> ParallelExtend<T> for HashSet<T, S>
where
    T: Eq + Hash + Send,
    S: BuildHasher,
{
    fn par_extend<I>(&mut self, par_iter: I)
    where
        I: IntoParallelIterator<Item = T>,
    {
        let is_empty = self.is_empty();
        par_extend_with(self, par_iter, is_empty, HashSet::reserve);
    }
}

impl<'a, T, S> ParallelExtend<&'a T> for HashSet<T, S>
where
    T: 'a + Copy + Eq + Hash + Sync,
    S: BuildHasher,
{
    fn par_extend<I>(&mut self, par_iter: I)
    where
        I: IntoParallelIterator<Item = &'a T>,
    {
        let is_empty = self.is_empty();
        par_extend_with(self, par_iter, is_empty, HashSet::reserve);
    }
}

impl<T, S> FromParallelIterator<T> for HashSet<T, S>
where
    T: Eq + Hash + Send,
    S: BuildHasher + Default,
{
    /// Builds a set, attributed to the caller of `from_par_iter` (through rayon's `collect()`,
    /// to a line inside rayon).
    #[track_caller]
    fn from_par_iter<I>(par_iter: I) -> Self
    where
        I: IntoParallelIterator<Item = T>,
    {
        let mut set = HashSet::with_hasher(S::default());
        set.par_extend(par_iter);
        set
    }
}

#[cfg(test)]
mod tests {
    use ::rayon::prelude::*;

    use crate::snapshot::test_sites::{SiteCounts, anonymous_site_at};
    use crate::{HashMap, HashSet};

    #[test]
    fn set_parallel_iterators_match_the_sequential_ones() {
        let set: HashSet<u64> = (0..10_000).collect();
        assert_eq!(set.par_iter().sum::<u64>(), set.iter().sum::<u64>());
        let std_set: std::collections::HashSet<u64> = (0..10_000).collect();
        let from_par: std::collections::HashSet<u64> = set.par_iter().copied().collect();
        assert_eq!(from_par, std_set);
        let owned: Vec<u64> = set.clone().into_par_iter().collect();
        assert_eq!(owned.len(), 10_000);
        assert_eq!(
            owned.into_iter().collect::<std::collections::HashSet<_>>(),
            std_set
        );
    }

    #[test]
    fn set_par_extend_and_collect_count_exactly() {
        let mut set: HashSet<u32> = HashSet::new().named("rayon-set").count_every_lookup();
        set.par_extend((0..1000u32).into_par_iter().map(|i| i % 600));
        assert_eq!(set.len(), 600);
        let stats = set.stats().unwrap();
        assert_eq!((stats.len, stats.inserts, stats.updates), (600, 600, 0));
        assert_eq!((stats.hits, stats.misses), (400, 600));

        let refs = [1000u32, 1001, 5];
        set.par_extend(refs.par_iter());
        assert_eq!(set.stats().unwrap().inserts, 602);

        // A collected set this small is anonymous and small: no stats of its own.
        let collected: HashSet<u32> = (0..5000u32).into_par_iter().collect();
        assert_eq!(collected.len(), 5000);
        assert!((0..5000).all(|i| collected.contains(&i)));
        assert!(collected.stats().is_none());
        // It is counted at its site, which `collect()` puts inside rayon (a line other tests
        // collect at too); `collect()` calls `from_par_iter`, which called here counts at this
        // line, exactly.
        let before = crate::snapshot();
        let items = (0..5000u32).into_par_iter();
        let (collected, line) = (HashSet::<u32>::from_par_iter(items), line!());
        assert_eq!(collected.len(), 5000);
        assert!(collected.stats().is_none());
        drop(collected);
        let after = crate::snapshot();
        let expected = SiteCounts::one_dropped(5000, 0, 0);
        assert_eq!(SiteCounts::delta(&before, &after, file!(), line), expected);
        let site = anonymous_site_at(&after, file!(), line).unwrap();
        assert_eq!(site.peak_len, 5000);
    }

    #[test]
    fn set_par_drain_empties_and_counts_removes() {
        // A set with its own stats from the start (a name).
        let mut set: HashSet<u32> = HashSet::new().named("rayon-par-drain");
        set.extend(0..3000);
        let cap = set.capacity();
        let sum: u64 = set.par_drain().map(u64::from).sum();
        assert_eq!(sum, (0..3000u64).sum::<u64>());
        assert!(set.is_empty());
        assert_eq!(set.capacity(), cap);
        let stats = set.stats().unwrap();
        assert_eq!((stats.len, stats.removes), (0, 3000));

        // Dropped without being consumed: still empty, still counted.
        set.extend(0..10);
        drop(set.par_drain());
        assert!(set.is_empty());
        let stats = set.stats().unwrap();
        assert_eq!((stats.len, stats.inserts, stats.removes), (0, 3010, 3010));

        // A small anonymous set counts the same at its site.
        let before = crate::snapshot();
        let (mut small, line) = (HashSet::<u32>::from_iter(0..3000), line!());
        assert!(small.stats().is_none());
        let cap = small.capacity();
        let sum: u64 = small.par_drain().map(u64::from).sum();
        assert_eq!(sum, (0..3000u64).sum::<u64>());
        assert!(small.is_empty());
        assert_eq!(small.capacity(), cap);
        small.extend(0..10);
        drop(small.par_drain());
        assert!(small.is_empty());
        // The drains published their removes: the live set's site holds no entries.
        let mid = crate::snapshot();
        let d = SiteCounts::delta(&before, &mid, file!(), line);
        assert_eq!(
            (d.created, d.dropped, d.entries, d.inserts, d.removes),
            (1, 0, 0, 3010, 3010)
        );
        drop(small);
        let after = crate::snapshot();
        let expected = SiteCounts::one_dropped(3010, 0, 3010);
        assert_eq!(SiteCounts::delta(&before, &after, file!(), line), expected);
    }

    #[test]
    fn map_parallel_iterators_and_extend_match_std() {
        let mut map: HashMap<u32, u64> = HashMap::new().named("rayon-map");
        map.par_extend(
            (0..2000u32)
                .into_par_iter()
                .map(|i| (i % 1500, u64::from(i))),
        );
        let std_map: std::collections::HashMap<u32, u64> =
            (0..2000u32).map(|i| (i % 1500, u64::from(i))).collect();
        assert_eq!(map.len(), std_map.len());
        for (k, v) in &std_map {
            assert_eq!(map.get(k), Some(v));
        }
        let stats = map.stats().unwrap();
        assert_eq!((stats.len, stats.inserts, stats.updates), (1500, 1500, 500));

        map.par_iter_mut().for_each(|(_, v)| *v += 1);
        let total: u64 = map.par_iter().map(|(_, v)| *v).sum();
        assert_eq!(total, std_map.values().map(|v| v + 1).sum::<u64>());

        let pairs = [(9000u32, 1u64), (9001, 2)];
        map.par_extend(pairs.par_iter().map(|(k, v): &(u32, u64)| (k, v)));
        assert_eq!(map.stats().unwrap().inserts, 1502);

        let drained: u64 = map.par_drain().map(|(_, v)| v).sum();
        assert_eq!(drained, total + 3);
        assert_eq!(map.stats().unwrap().len, 0);

        // A collected map this small is anonymous and small: it is counted at its site, which
        // `collect()` puts inside rayon (a line other tests collect at too). `collect()` calls
        // `from_par_iter`, which called here counts at this line, exactly.
        let before = crate::snapshot();
        let pairs = (0..100u32).into_par_iter().map(|i| (i, i));
        let (collected, line) = (HashMap::<u32, u32>::from_par_iter(pairs), line!());
        assert_eq!(collected.len(), 100);
        assert!(collected.stats().is_none());
        // Consuming it retires it as a drop does.
        let back: Vec<(u32, u32)> = collected.into_par_iter().collect();
        assert_eq!(back.len(), 100);
        let after = crate::snapshot();
        let expected = SiteCounts::one_dropped(100, 0, 0);
        assert_eq!(SiteCounts::delta(&before, &after, file!(), line), expected);
        let site = anonymous_site_at(&after, file!(), line).unwrap();
        assert_eq!(site.peak_len, 100);
    }
}
