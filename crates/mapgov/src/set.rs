//! The governed `HashSet` and its iterators.
//!
//! A [`HashSet<T, S>`] is a governed [`HashMap<T, (), S>`](crate::HashMap): it has the map's
//! creation site, name and stats, and shows in snapshots with value type `()`.
//!
//! What each set operation counts (set algebra counts its lookups on the probed set) is
//! documented on the public module, [`crate::hash_set`].

use std::borrow::Borrow;
use std::collections::TryReserveError;
use std::fmt;
use std::hash::{BuildHasher, Hash, RandomState};
use std::iter::{Chain, FusedIterator};
use std::marker::PhantomData;
use std::ops::{BitAnd, BitOr, BitXor, Sub};
use std::panic::RefUnwindSafe;

use crate::entry::Entry;
use crate::map::HashMap;
use crate::snapshot::MapStats;

/// A hash set with the API of [`std::collections::HashSet`], governed by mapgov.
///
/// It is a governed [`HashMap<T, ()>`](crate::HashMap): every constructor records its caller's
/// location, [`named`](HashSet::named) gives the set a stable name, and [`stats`](HashSet::stats)
/// reports its counters. See the [`hash_set`](crate::hash_set) module for what each operation
/// counts; in short, set algebra counts the lookups it makes on the probed set.
///
/// # Examples
///
/// ```
/// use mapgov::HashSet;
///
/// let mut seen: HashSet<u64> = HashSet::new().named("seen-ids").count_every_lookup();
/// assert!(seen.insert(7));
/// assert!(!seen.insert(7)); // already present: not replaced
/// assert!(seen.contains(&7));
///
/// let stats = seen.stats().expect("governance is on");
/// assert_eq!((stats.len, stats.inserts, stats.updates), (1, 1, 0));
/// assert_eq!((stats.hits, stats.misses), (2, 1)); // the second insert and `contains` hit
/// ```
pub struct HashSet<T, S = RandomState> {
    pub(crate) map: HashMap<T, (), S>,
}

impl<T> HashSet<T, RandomState> {
    /// Creates an empty set. It does not allocate until the first insert.
    ///
    /// # Examples
    ///
    /// ```
    /// let set: mapgov::HashSet<i32> = mapgov::HashSet::new();
    /// assert!(set.is_empty());
    /// ```
    #[inline]
    #[must_use]
    #[track_caller]
    pub fn new() -> HashSet<T, RandomState> {
        HashSet {
            map: HashMap::new(),
        }
    }

    /// Creates an empty set with room for at least `capacity` elements.
    ///
    /// # Examples
    ///
    /// ```
    /// let set: mapgov::HashSet<i32> = mapgov::HashSet::with_capacity(10);
    /// assert!(set.capacity() >= 10);
    /// ```
    #[inline]
    #[must_use]
    #[track_caller]
    pub fn with_capacity(capacity: usize) -> HashSet<T, RandomState> {
        HashSet {
            map: HashMap::with_capacity(capacity),
        }
    }
}

impl<T, S> HashSet<T, S> {
    /// Creates an empty set that will use `hasher` to hash its elements.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::hash::RandomState;
    /// let mut set = mapgov::HashSet::with_hasher(RandomState::new());
    /// set.insert(2);
    /// ```
    #[inline]
    #[must_use]
    #[track_caller]
    pub const fn with_hasher(hasher: S) -> HashSet<T, S> {
        HashSet {
            map: HashMap::with_hasher(hasher),
        }
    }

    /// Creates an empty set with room for at least `capacity` elements, using `hasher`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::hash::RandomState;
    /// let mut set = mapgov::HashSet::with_capacity_and_hasher(10, RandomState::new());
    /// set.insert(1);
    /// ```
    #[inline]
    #[must_use]
    #[track_caller]
    pub fn with_capacity_and_hasher(capacity: usize, hasher: S) -> HashSet<T, S> {
        HashSet {
            map: HashMap::with_capacity_and_hasher(capacity, hasher),
        }
    }

    /// Gives the set a stable name, reported with its stats and used as a label by exporters.
    ///
    /// Sets with the same creation site and name are aggregated together; keep names few (one
    /// per role), never per element or per request.
    ///
    /// # Examples
    ///
    /// ```
    /// let set: mapgov::HashSet<u32> = mapgov::HashSet::new().named("banned-ips");
    /// assert_eq!(set.stats().unwrap().name.as_deref(), Some("banned-ips"));
    /// ```
    #[must_use]
    pub fn named(self, name: &str) -> HashSet<T, S> {
        HashSet {
            map: self.map.named(name),
        }
    }

    /// Names (or renames) the set in place. See [`named`](HashSet::named).
    pub fn set_name(&mut self, name: &str) {
        self.map.set_name(name);
    }

    /// Counts every lookup on this set exactly, instead of sampling one in
    /// `MAPGOV_LOOKUP_SAMPLE`. See [`HashMap::count_every_lookup`](crate::HashMap::count_every_lookup)
    /// for the cost.
    #[must_use]
    pub fn count_every_lookup(self) -> HashSet<T, S> {
        HashSet {
            map: self.map.count_every_lookup(),
        }
    }

    /// This set's own stats, whether or not it is tracked individually.
    ///
    /// `None` when governance is off, when the set has not allocated (nor been named) yet,
    /// and for a small anonymous set: one under `MAPGOV_TRACK_MIN_BYTES` that is not named,
    /// has no budget and samples its lookups keeps its counts in its handle and publishes them
    /// to its creation site (`snapshot().sites`), without stats of its own. Naming it (or a
    /// budget, or `count_every_lookup`) gives it stats from then on.
    pub fn stats(&self) -> Option<MapStats> {
        self.map.stats()
    }

    /// The number of elements the set can hold without reallocating.
    #[inline]
    pub fn capacity(&self) -> usize {
        self.map.capacity()
    }

    /// An iterator over the elements, in arbitrary order.
    ///
    /// # Examples
    ///
    /// ```
    /// let set = mapgov::HashSet::from(["a", "b"]);
    /// let mut all: Vec<_> = set.iter().copied().collect();
    /// all.sort();
    /// assert_eq!(all, ["a", "b"]);
    /// ```
    #[inline]
    pub fn iter(&self) -> Iter<'_, T> {
        Iter {
            inner: self.map.keys(),
        }
    }

    /// The number of elements.
    #[inline]
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the set is empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Removes every element, returning them as an iterator; the allocation is kept.
    ///
    /// The set is empty afterwards even if the iterator is dropped early (or leaked); every
    /// element counts as removed.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut set = mapgov::HashSet::from([1, 2, 3]);
    /// assert_eq!(set.drain().count(), 3);
    /// assert!(set.is_empty());
    /// ```
    #[inline]
    pub fn drain(&mut self) -> Drain<'_, T> {
        Drain {
            inner: self.map.drain(),
        }
    }

    /// An iterator that removes and yields the elements for which `pred` returns `true`.
    ///
    /// Elements the iterator does not reach (it is dropped early) stay in the set. Each element
    /// yielded counts as one remove.
    ///
    /// The predicate is boxed (a heap allocation when it captures anything), because the set's
    /// table stores `(T, ())` pairs and stable Rust cannot name the adapter between the two
    /// predicate shapes; the iterator is still `Send`/`Sync` exactly when std's is.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut set: mapgov::HashSet<i32> = (0..8).collect();
    /// let mut evens: Vec<_> = set.extract_if(|x| x % 2 == 0).collect();
    /// evens.sort();
    /// assert_eq!(evens, [0, 2, 4, 6]);
    /// assert_eq!(set.len(), 4);
    /// ```
    #[inline]
    pub fn extract_if<F>(&mut self, mut pred: F) -> ExtractIf<'_, T, F>
    where
        F: FnMut(&T) -> bool,
    {
        let pred: SetPred<'_, T> = Box::new(move |k: &T, _: &mut ()| pred(k));
        ExtractIf {
            inner: self.map.extract_if(pred),
            marker: PhantomData,
        }
    }

    /// Keeps only the elements for which `f` returns `true`.
    ///
    /// If `f` panics, the elements removed so far are counted and the set stays usable.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut set = mapgov::HashSet::from([1, 2, 3, 4, 5, 6]);
    /// set.retain(|&k| k % 2 == 0);
    /// assert_eq!(set, mapgov::HashSet::from([2, 4, 6]));
    /// ```
    #[inline]
    pub fn retain<F>(&mut self, mut f: F)
    where
        F: FnMut(&T) -> bool,
    {
        self.map.retain(|k, _| f(k));
    }

    /// Removes every element; the allocation is kept.
    #[inline]
    pub fn clear(&mut self) {
        self.map.clear();
    }

    /// The set's hasher.
    #[inline]
    pub fn hasher(&self) -> &S {
        self.map.hasher()
    }
}

impl<T, S> HashSet<T, S>
where
    T: Eq + Hash,
    S: BuildHasher,
{
    /// Exact bytes of the table's current allocation.
    #[inline]
    pub fn allocation_size(&self) -> usize {
        self.map.allocation_size()
    }

    /// Reserves room for at least `additional` more elements.
    ///
    /// # Panics
    ///
    /// Panics if the new allocation size overflows `usize`.
    #[inline]
    pub fn reserve(&mut self, additional: usize) {
        self.map.reserve(additional);
    }

    /// Tries to reserve room for at least `additional` more elements.
    ///
    /// # Errors
    ///
    /// If the capacity overflows or the allocator reports a failure.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut set: mapgov::HashSet<i32> = mapgov::HashSet::new();
    /// set.try_reserve(10).expect("why is the test harness OOMing on 10 bytes?");
    /// assert!(set.try_reserve(usize::MAX).is_err());
    /// ```
    #[inline]
    pub fn try_reserve(&mut self, additional: usize) -> Result<(), TryReserveError> {
        self.map.try_reserve(additional)
    }

    /// Shrinks the table as much as possible while keeping every element.
    #[inline]
    pub fn shrink_to_fit(&mut self) {
        self.map.shrink_to_fit();
    }

    /// Shrinks the table to hold at least `min_capacity` elements (and every current element).
    #[inline]
    pub fn shrink_to(&mut self, min_capacity: usize) {
        self.map.shrink_to(min_capacity);
    }

    /// The elements of `self` that are not in `other`.
    ///
    /// Each element of `self` is looked up in `other` (a counted lookup on `other`).
    ///
    /// # Examples
    ///
    /// ```
    /// let a = mapgov::HashSet::from([1, 2, 3]);
    /// let b = mapgov::HashSet::from([4, 2, 3, 4]);
    /// assert_eq!(a.difference(&b).collect::<Vec<_>>(), [&1]);
    /// ```
    #[inline]
    pub fn difference<'a>(&'a self, other: &'a HashSet<T, S>) -> Difference<'a, T, S> {
        Difference {
            iter: self.iter(),
            other,
        }
    }

    /// The elements in `self` or in `other` but not in both.
    ///
    /// Each element of either set is looked up in the other (counted lookups).
    ///
    /// # Examples
    ///
    /// ```
    /// let a = mapgov::HashSet::from([1, 2, 3]);
    /// let b = mapgov::HashSet::from([4, 2, 3, 4]);
    /// let mut v: Vec<_> = a.symmetric_difference(&b).copied().collect();
    /// v.sort();
    /// assert_eq!(v, [1, 4]);
    /// ```
    #[inline]
    pub fn symmetric_difference<'a>(
        &'a self,
        other: &'a HashSet<T, S>,
    ) -> SymmetricDifference<'a, T, S> {
        SymmetricDifference {
            iter: self.difference(other).chain(other.difference(self)),
        }
    }

    /// The elements in both `self` and `other`.
    ///
    /// The smaller set is iterated and each of its elements looked up in the larger (counted
    /// lookups on the larger set), as std does.
    ///
    /// # Examples
    ///
    /// ```
    /// let a = mapgov::HashSet::from([1, 2, 3]);
    /// let b = mapgov::HashSet::from([4, 2, 3, 4]);
    /// let mut v: Vec<_> = a.intersection(&b).copied().collect();
    /// v.sort();
    /// assert_eq!(v, [2, 3]);
    /// ```
    #[inline]
    pub fn intersection<'a>(&'a self, other: &'a HashSet<T, S>) -> Intersection<'a, T, S> {
        if self.len() <= other.len() {
            Intersection {
                iter: self.iter(),
                other,
            }
        } else {
            Intersection {
                iter: other.iter(),
                other: self,
            }
        }
    }

    /// The elements in `self` or `other`, without duplicates.
    ///
    /// The larger set is yielded whole, then the smaller set's elements that are not in it
    /// (counted lookups on the larger set), as std does.
    ///
    /// # Examples
    ///
    /// ```
    /// let a = mapgov::HashSet::from([1, 2, 3]);
    /// let b = mapgov::HashSet::from([4, 2, 3, 4]);
    /// let mut v: Vec<_> = a.union(&b).copied().collect();
    /// v.sort();
    /// assert_eq!(v, [1, 2, 3, 4]);
    /// ```
    #[inline]
    pub fn union<'a>(&'a self, other: &'a HashSet<T, S>) -> Union<'a, T, S> {
        if self.len() >= other.len() {
            Union {
                iter: self.iter().chain(other.difference(self)),
            }
        } else {
            Union {
                iter: other.iter().chain(self.difference(other)),
            }
        }
    }

    /// Whether the set holds `value` (a counted lookup).
    ///
    /// # Examples
    ///
    /// ```
    /// let set = mapgov::HashSet::from([1, 2, 3]);
    /// assert!(set.contains(&1));
    /// assert!(!set.contains(&4));
    /// ```
    #[inline]
    pub fn contains<Q>(&self, value: &Q) -> bool
    where
        T: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.contains_key(value)
    }

    /// The element equal to `value`, if any (a counted lookup).
    ///
    /// # Examples
    ///
    /// ```
    /// let set = mapgov::HashSet::from([String::from("a")]);
    /// assert_eq!(set.get("a").map(String::as_str), Some("a"));
    /// assert_eq!(set.get("b"), None);
    /// ```
    #[inline]
    pub fn get<Q>(&self, value: &Q) -> Option<&T>
    where
        T: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.get_key_value(value).map(|(k, ())| k)
    }

    /// Whether `self` and `other` have no element in common.
    ///
    /// The smaller set's elements are looked up in the larger (counted lookups).
    ///
    /// # Examples
    ///
    /// ```
    /// let a = mapgov::HashSet::from([1, 2, 3]);
    /// let mut b = mapgov::HashSet::new();
    /// assert!(a.is_disjoint(&b));
    /// b.insert(1);
    /// assert!(!a.is_disjoint(&b));
    /// ```
    pub fn is_disjoint(&self, other: &HashSet<T, S>) -> bool {
        if self.len() <= other.len() {
            self.iter().all(|v| !other.contains(v))
        } else {
            other.iter().all(|v| !self.contains(v))
        }
    }

    /// Whether every element of `self` is in `other`.
    ///
    /// When `self` is not larger than `other`, its elements are looked up in `other` (counted
    /// lookups), stopping at the first miss.
    ///
    /// # Examples
    ///
    /// ```
    /// let sup = mapgov::HashSet::from([1, 2, 3]);
    /// let mut set = mapgov::HashSet::new();
    /// assert!(set.is_subset(&sup));
    /// set.insert(4);
    /// assert!(!set.is_subset(&sup));
    /// ```
    pub fn is_subset(&self, other: &HashSet<T, S>) -> bool {
        if self.len() <= other.len() {
            self.iter().all(|v| other.contains(v))
        } else {
            false
        }
    }

    /// Whether every element of `other` is in `self`: `other.is_subset(self)`.
    ///
    /// # Examples
    ///
    /// ```
    /// let sub = mapgov::HashSet::from([1, 2]);
    /// let mut set = mapgov::HashSet::new();
    /// assert!(!set.is_superset(&sub));
    /// set.insert(1);
    /// set.insert(2);
    /// assert!(set.is_superset(&sub));
    /// ```
    #[inline]
    pub fn is_superset(&self, other: &HashSet<T, S>) -> bool {
        other.is_subset(self)
    }

    /// Adds `value`; returns whether it was new.
    ///
    /// If an equal element is present it is kept and `value` is dropped, as in std. Counted as
    /// a lookup (a hit when present, a miss when not) and, when new, an insert. Like std, it
    /// makes room for one more element before looking `value` up.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut set = mapgov::HashSet::new();
    /// assert!(set.insert(2));
    /// assert!(!set.insert(2));
    /// assert_eq!(set.len(), 1);
    /// ```
    #[inline]
    pub fn insert(&mut self, value: T) -> bool {
        // std's set inserts through its map's `insert`, which makes room before the lookup.
        self.map.make_room_like_insert();
        match self.map.entry(value) {
            Entry::Occupied(_) => false,
            Entry::Vacant(e) => {
                e.insert(());
                true
            }
        }
    }

    /// Adds `value`, replacing an equal element if there is one; returns the replaced element.
    ///
    /// Counted as an update when an element was replaced, as an insert when `value` is new.
    /// Like std, it makes room for one more element before looking `value` up (so replacing an
    /// element of a full set grows the table, as std's does).
    ///
    /// # Examples
    ///
    /// ```
    /// let mut set = mapgov::HashSet::new();
    /// set.insert(Vec::<i32>::new());
    /// assert_eq!(set.get(&[][..]).unwrap().capacity(), 0);
    /// set.replace(Vec::with_capacity(10));
    /// assert_eq!(set.get(&[][..]).unwrap().capacity(), 10);
    /// ```
    #[inline]
    pub fn replace(&mut self, value: T) -> Option<T> {
        self.map.replace_key(value)
    }

    /// Removes `value`; returns whether it was present (counted as a remove if it was).
    ///
    /// # Examples
    ///
    /// ```
    /// let mut set = mapgov::HashSet::from([2]);
    /// assert!(set.remove(&2));
    /// assert!(!set.remove(&2));
    /// ```
    #[inline]
    pub fn remove<Q>(&mut self, value: &Q) -> bool
    where
        T: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.remove(value).is_some()
    }

    /// Removes and returns the element equal to `value`, if any (counted as a remove).
    ///
    /// # Examples
    ///
    /// ```
    /// let mut set = mapgov::HashSet::from([1, 2, 3]);
    /// assert_eq!(set.take(&2), Some(2));
    /// assert_eq!(set.take(&2), None);
    /// ```
    #[inline]
    pub fn take<Q>(&mut self, value: &Q) -> Option<T>
    where
        T: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.remove_entry(value).map(|(k, ())| k)
    }
}

impl<T, S> Clone for HashSet<T, S>
where
    T: Clone,
    S: Clone,
{
    /// A copy of the set, attributed to the caller's location (and keeping the name).
    #[inline]
    #[track_caller]
    fn clone(&self) -> Self {
        HashSet {
            map: self.map.clone(),
        }
    }

    /// Replaces the contents with a copy of `source`'s, reusing the allocation when it fits.
    #[inline]
    fn clone_from(&mut self, source: &Self) {
        self.map.clone_from(&source.map);
    }
}

impl<T, S> PartialEq for HashSet<T, S>
where
    T: Eq + Hash,
    S: BuildHasher,
{
    /// Whether both sets hold the same elements: when the lengths match, each element of `self`
    /// is looked up in `other` (counted lookups on `other`), as std does.
    fn eq(&self, other: &HashSet<T, S>) -> bool {
        if self.len() != other.len() {
            return false;
        }
        self.iter().all(|key| other.contains(key))
    }
}

impl<T, S> Eq for HashSet<T, S>
where
    T: Eq + Hash,
    S: BuildHasher,
{
}

impl<T, S> fmt::Debug for HashSet<T, S>
where
    T: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl<T, S> FromIterator<T> for HashSet<T, S>
where
    T: Eq + Hash,
    S: BuildHasher + Default,
{
    /// Builds a set, attributed to the caller of `from_iter` (for `collect()`, see the crate
    /// docs on call sites).
    #[inline]
    #[track_caller]
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> HashSet<T, S> {
        let mut set = HashSet::with_hasher(S::default());
        set.extend(iter);
        set
    }
}

impl<T, const N: usize> From<[T; N]> for HashSet<T, RandomState>
where
    T: Eq + Hash,
{
    /// Builds a set from an array, attributed to the caller.
    ///
    /// # Examples
    ///
    /// ```
    /// let set1 = mapgov::HashSet::from([1, 2, 3, 4]);
    /// let set2: mapgov::HashSet<_> = [1, 2, 3, 4].into();
    /// assert_eq!(set1, set2);
    /// ```
    #[inline]
    #[track_caller]
    fn from(arr: [T; N]) -> Self {
        let mut set = HashSet::with_hasher(RandomState::new());
        set.extend(arr);
        set
    }
}

impl<T, S> Extend<T> for HashSet<T, S>
where
    T: Eq + Hash,
    S: BuildHasher,
{
    /// Inserts every element (each counted as [`insert`](HashSet::insert) counts), after the
    /// same reservation as std's.
    #[inline]
    fn extend<I: IntoIterator<Item = T>>(&mut self, iter: I) {
        let iter = iter.into_iter();
        let reserve = if self.is_empty() {
            iter.size_hint().0
        } else {
            iter.size_hint().0.div_ceil(2)
        };
        self.reserve(reserve);
        iter.for_each(move |k| {
            self.insert(k);
        });
    }
}

impl<'a, T, S> Extend<&'a T> for HashSet<T, S>
where
    T: 'a + Eq + Hash + Copy,
    S: BuildHasher,
{
    #[inline]
    fn extend<I: IntoIterator<Item = &'a T>>(&mut self, iter: I) {
        self.extend(iter.into_iter().copied());
    }
}

impl<T, S> Default for HashSet<T, S>
where
    S: Default,
{
    /// An empty set with the default hasher, attributed to the caller's location.
    #[inline]
    #[track_caller]
    fn default() -> HashSet<T, S> {
        HashSet::with_hasher(S::default())
    }
}

/// Builds the result of a set operator: a new set attributed to the operator's caller.
#[inline]
#[track_caller]
fn collect_new<'a, T, S>(iter: impl Iterator<Item = &'a T>) -> HashSet<T, S>
where
    T: 'a + Eq + Hash + Clone,
    S: BuildHasher + Default,
{
    let mut set = HashSet::with_hasher(S::default());
    set.extend(iter.cloned());
    set
}

impl<T, S> BitOr<&HashSet<T, S>> for &HashSet<T, S>
where
    T: Eq + Hash + Clone,
    S: BuildHasher + Default,
{
    type Output = HashSet<T, S>;

    /// The union of `self` and `rhs` as a new set, attributed to the caller.
    ///
    /// # Examples
    ///
    /// ```
    /// let a = mapgov::HashSet::from([1, 2, 3]);
    /// let b = mapgov::HashSet::from([3, 4, 5]);
    /// assert_eq!(&a | &b, mapgov::HashSet::from([1, 2, 3, 4, 5]));
    /// ```
    #[track_caller]
    fn bitor(self, rhs: &HashSet<T, S>) -> HashSet<T, S> {
        collect_new(self.union(rhs))
    }
}

impl<T, S> BitAnd<&HashSet<T, S>> for &HashSet<T, S>
where
    T: Eq + Hash + Clone,
    S: BuildHasher + Default,
{
    type Output = HashSet<T, S>;

    /// The intersection of `self` and `rhs` as a new set, attributed to the caller.
    ///
    /// # Examples
    ///
    /// ```
    /// let a = mapgov::HashSet::from([1, 2, 3]);
    /// let b = mapgov::HashSet::from([2, 3, 4]);
    /// assert_eq!(&a & &b, mapgov::HashSet::from([2, 3]));
    /// ```
    #[track_caller]
    fn bitand(self, rhs: &HashSet<T, S>) -> HashSet<T, S> {
        collect_new(self.intersection(rhs))
    }
}

impl<T, S> BitXor<&HashSet<T, S>> for &HashSet<T, S>
where
    T: Eq + Hash + Clone,
    S: BuildHasher + Default,
{
    type Output = HashSet<T, S>;

    /// The symmetric difference of `self` and `rhs` as a new set, attributed to the caller.
    ///
    /// # Examples
    ///
    /// ```
    /// let a = mapgov::HashSet::from([1, 2, 3]);
    /// let b = mapgov::HashSet::from([3, 4, 5]);
    /// assert_eq!(&a ^ &b, mapgov::HashSet::from([1, 2, 4, 5]));
    /// ```
    #[track_caller]
    fn bitxor(self, rhs: &HashSet<T, S>) -> HashSet<T, S> {
        collect_new(self.symmetric_difference(rhs))
    }
}

impl<T, S> Sub<&HashSet<T, S>> for &HashSet<T, S>
where
    T: Eq + Hash + Clone,
    S: BuildHasher + Default,
{
    type Output = HashSet<T, S>;

    /// The difference of `self` and `rhs` as a new set, attributed to the caller.
    ///
    /// # Examples
    ///
    /// ```
    /// let a = mapgov::HashSet::from([1, 2, 3]);
    /// let b = mapgov::HashSet::from([3, 4, 5]);
    /// assert_eq!(&a - &b, mapgov::HashSet::from([1, 2]));
    /// ```
    #[track_caller]
    fn sub(self, rhs: &HashSet<T, S>) -> HashSet<T, S> {
        collect_new(self.difference(rhs))
    }
}

impl<'a, T, S> IntoIterator for &'a HashSet<T, S> {
    type Item = &'a T;
    type IntoIter = Iter<'a, T>;

    #[inline]
    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

impl<T, S> IntoIterator for HashSet<T, S> {
    type Item = T;
    type IntoIter = IntoIter<T>;

    /// Consumes the set; its stats are retired as if it were dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// let set = mapgov::HashSet::from(["a", "b"]);
    /// let mut v: Vec<&str> = set.into_iter().collect();
    /// v.sort();
    /// assert_eq!(v, ["a", "b"]);
    /// ```
    #[inline]
    fn into_iter(self) -> IntoIter<T> {
        IntoIter {
            inner: self.map.into_keys(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Iterators
// ---------------------------------------------------------------------------------------------

/// An iterator over a set's elements: [`HashSet::iter`].
#[must_use = "iterators are lazy and do nothing unless consumed"]
pub struct Iter<'a, K> {
    inner: hashbrown::hash_map::Keys<'a, K, ()>,
}

/// An owning iterator over a set's elements: `HashSet::into_iter`.
pub struct IntoIter<K> {
    inner: hashbrown::hash_map::IntoKeys<K, ()>,
}

/// A draining iterator over a set's elements: [`HashSet::drain`].
pub struct Drain<'a, K> {
    inner: crate::iter::Drain<'a, K, ()>,
}

/// The boxed predicate of [`ExtractIf`], in the shape the set's `(T, ())` table calls it.
type SetPred<'a, K> = Box<dyn FnMut(&K, &mut ()) -> bool + 'a>;

/// An iterator that removes and yields the elements a predicate selects:
/// [`HashSet::extract_if`].
///
/// `Send`, `Sync` and `RefUnwindSafe` exactly when std's is (when `K` and `F` are).
#[must_use = "iterators are lazy and do nothing unless consumed"]
pub struct ExtractIf<'a, K, F> {
    inner: crate::iter::ExtractIf<'a, K, (), SetPred<'a, K>>,
    /// The predicate lives in `inner`'s box; this ties its type (and its `'a` bound) to
    /// the iterator's.
    marker: PhantomData<&'a F>,
}

// SAFETY: `inner` is hashbrown's `ExtractIf` over this set's `(K, ())` table (which hashbrown
// makes `Send` when `K` and its predicate are) plus a `&MapCell` (`Sync`). Its predicate is the
// box built in `HashSet::extract_if`, a closure that owns exactly one `F` and nothing else. So
// moving the iterator to another thread moves `&mut` access to `K`s and an `F`: sound when both
// are `Send`, which is std's condition for its `ExtractIf`.
#[allow(unsafe_code)]
unsafe impl<K: Send, F: Send> Send for ExtractIf<'_, K, F> {}

// SAFETY: through `&ExtractIf` no code reaches the predicate or mutates the table (`next` takes
// `&mut self`; `Debug` prints nothing of them), so sharing it shares at most `&K` and `&F`:
// sound when `K` and `F` are `Sync`, std's condition.
#[allow(unsafe_code)]
unsafe impl<K: Sync, F: Sync> Sync for ExtractIf<'_, K, F> {}

impl<K: RefUnwindSafe, F: RefUnwindSafe> RefUnwindSafe for ExtractIf<'_, K, F> {}

/// A lazy iterator over the intersection of two sets: [`HashSet::intersection`].
#[must_use = "this returns the intersection as an iterator, without modifying either input set"]
pub struct Intersection<'a, T, S> {
    /// The set iterated.
    iter: Iter<'a, T>,
    /// The set probed.
    other: &'a HashSet<T, S>,
}

/// A lazy iterator over the difference of two sets: [`HashSet::difference`].
#[must_use = "this returns the difference as an iterator, without modifying either input set"]
pub struct Difference<'a, T, S> {
    /// The set iterated.
    iter: Iter<'a, T>,
    /// The set probed.
    other: &'a HashSet<T, S>,
}

/// A lazy iterator over the symmetric difference of two sets:
/// [`HashSet::symmetric_difference`].
#[must_use = "this returns the difference as an iterator, without modifying either input set"]
pub struct SymmetricDifference<'a, T, S> {
    iter: Chain<Difference<'a, T, S>, Difference<'a, T, S>>,
}

/// A lazy iterator over the union of two sets: [`HashSet::union`].
#[must_use = "this returns the union as an iterator, without modifying either input set"]
pub struct Union<'a, T, S> {
    iter: Chain<Iter<'a, T>, Difference<'a, T, S>>,
}

impl<K> Clone for Iter<'_, K> {
    #[inline]
    fn clone(&self) -> Self {
        Iter {
            inner: self.inner.clone(),
        }
    }
}

impl<K> Default for Iter<'_, K> {
    /// An empty iterator.
    #[inline]
    fn default() -> Self {
        Iter {
            inner: Default::default(),
        }
    }
}

impl<'a, K> Iterator for Iter<'a, K> {
    type Item = &'a K;

    #[inline]
    fn next(&mut self) -> Option<&'a K> {
        self.inner.next()
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }

    #[inline]
    fn count(self) -> usize {
        self.inner.len()
    }

    #[inline]
    fn fold<B, F>(self, init: B, f: F) -> B
    where
        F: FnMut(B, &'a K) -> B,
    {
        self.inner.fold(init, f)
    }
}

impl<K> ExactSizeIterator for Iter<'_, K> {
    #[inline]
    fn len(&self) -> usize {
        self.inner.len()
    }
}

impl<K> FusedIterator for Iter<'_, K> {}

impl<K: fmt::Debug> fmt::Debug for Iter<'_, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.clone()).finish()
    }
}

impl<K> Default for IntoIter<K> {
    /// An empty iterator.
    #[inline]
    fn default() -> Self {
        IntoIter {
            inner: Default::default(),
        }
    }
}

impl<K> Iterator for IntoIter<K> {
    type Item = K;

    #[inline]
    fn next(&mut self) -> Option<K> {
        self.inner.next()
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }

    #[inline]
    fn count(self) -> usize {
        self.inner.len()
    }

    #[inline]
    fn fold<B, F>(self, init: B, f: F) -> B
    where
        F: FnMut(B, K) -> B,
    {
        self.inner.fold(init, f)
    }
}

impl<K> ExactSizeIterator for IntoIter<K> {
    #[inline]
    fn len(&self) -> usize {
        self.inner.len()
    }
}

impl<K> FusedIterator for IntoIter<K> {}

impl<K: fmt::Debug> fmt::Debug for IntoIter<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // hashbrown's `IntoKeys` prints the remaining keys as a list, as std's set does.
        fmt::Debug::fmt(&self.inner, f)
    }
}

impl<K> Iterator for Drain<'_, K> {
    type Item = K;

    #[inline]
    fn next(&mut self) -> Option<K> {
        self.inner.next().map(|(k, ())| k)
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }

    #[inline]
    fn fold<B, F>(self, init: B, mut f: F) -> B
    where
        F: FnMut(B, K) -> B,
    {
        self.inner.fold(init, |acc, (k, ())| f(acc, k))
    }
}

impl<K> ExactSizeIterator for Drain<'_, K> {
    #[inline]
    fn len(&self) -> usize {
        self.inner.len()
    }
}

impl<K> FusedIterator for Drain<'_, K> {}

impl<K: fmt::Debug> fmt::Debug for Drain<'_, K> {
    /// Prints how many elements remain. (std prints the elements themselves; hashbrown does not
    /// expose a view of a map's drain that would allow it.)
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Drain")
            .field("remaining", &self.inner.len())
            .finish_non_exhaustive()
    }
}

impl<K, F> Iterator for ExtractIf<'_, K, F>
where
    F: FnMut(&K) -> bool,
{
    type Item = K;

    #[inline]
    fn next(&mut self) -> Option<K> {
        self.inner.next().map(|(k, ())| k)
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl<K, F> FusedIterator for ExtractIf<'_, K, F> where F: FnMut(&K) -> bool {}

impl<K, F> fmt::Debug for ExtractIf<'_, K, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExtractIf").finish_non_exhaustive()
    }
}

impl<T, S> Clone for Intersection<'_, T, S> {
    #[inline]
    fn clone(&self) -> Self {
        Intersection {
            iter: self.iter.clone(),
            ..*self
        }
    }
}

impl<'a, T, S> Iterator for Intersection<'a, T, S>
where
    T: Eq + Hash,
    S: BuildHasher,
{
    type Item = &'a T;

    #[inline]
    fn next(&mut self) -> Option<&'a T> {
        loop {
            let elt = self.iter.next()?;
            if self.other.contains(elt) {
                return Some(elt);
            }
        }
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        let (_, upper) = self.iter.size_hint();
        (0, upper)
    }

    #[inline]
    fn fold<B, F>(self, init: B, mut f: F) -> B
    where
        F: FnMut(B, &'a T) -> B,
    {
        let other = self.other;
        self.iter.fold(init, |acc, elt| {
            if other.contains(elt) {
                f(acc, elt)
            } else {
                acc
            }
        })
    }
}

impl<T, S> FusedIterator for Intersection<'_, T, S>
where
    T: Eq + Hash,
    S: BuildHasher,
{
}

impl<T, S> fmt::Debug for Intersection<'_, T, S>
where
    T: fmt::Debug + Eq + Hash,
    S: BuildHasher,
{
    /// Lists the remaining elements (which probes the other set: counted lookups).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.clone()).finish()
    }
}

impl<T, S> Clone for Difference<'_, T, S> {
    #[inline]
    fn clone(&self) -> Self {
        Difference {
            iter: self.iter.clone(),
            ..*self
        }
    }
}

impl<'a, T, S> Iterator for Difference<'a, T, S>
where
    T: Eq + Hash,
    S: BuildHasher,
{
    type Item = &'a T;

    #[inline]
    fn next(&mut self) -> Option<&'a T> {
        loop {
            let elt = self.iter.next()?;
            if !self.other.contains(elt) {
                return Some(elt);
            }
        }
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        let (_, upper) = self.iter.size_hint();
        (0, upper)
    }

    #[inline]
    fn fold<B, F>(self, init: B, mut f: F) -> B
    where
        F: FnMut(B, &'a T) -> B,
    {
        let other = self.other;
        self.iter.fold(init, |acc, elt| {
            if other.contains(elt) {
                acc
            } else {
                f(acc, elt)
            }
        })
    }
}

impl<T, S> FusedIterator for Difference<'_, T, S>
where
    T: Eq + Hash,
    S: BuildHasher,
{
}

impl<T, S> fmt::Debug for Difference<'_, T, S>
where
    T: fmt::Debug + Eq + Hash,
    S: BuildHasher,
{
    /// Lists the remaining elements (which probes the other set: counted lookups).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.clone()).finish()
    }
}

impl<T, S> Clone for SymmetricDifference<'_, T, S> {
    #[inline]
    fn clone(&self) -> Self {
        SymmetricDifference {
            iter: self.iter.clone(),
        }
    }
}

impl<'a, T, S> Iterator for SymmetricDifference<'a, T, S>
where
    T: Eq + Hash,
    S: BuildHasher,
{
    type Item = &'a T;

    #[inline]
    fn next(&mut self) -> Option<&'a T> {
        self.iter.next()
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.iter.size_hint()
    }

    #[inline]
    fn fold<B, F>(self, init: B, f: F) -> B
    where
        F: FnMut(B, &'a T) -> B,
    {
        self.iter.fold(init, f)
    }
}

impl<T, S> FusedIterator for SymmetricDifference<'_, T, S>
where
    T: Eq + Hash,
    S: BuildHasher,
{
}

impl<T, S> fmt::Debug for SymmetricDifference<'_, T, S>
where
    T: fmt::Debug + Eq + Hash,
    S: BuildHasher,
{
    /// Lists the remaining elements (which probes the sets: counted lookups).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.clone()).finish()
    }
}

impl<T, S> Clone for Union<'_, T, S> {
    #[inline]
    fn clone(&self) -> Self {
        Union {
            iter: self.iter.clone(),
        }
    }
}

impl<'a, T, S> Iterator for Union<'a, T, S>
where
    T: Eq + Hash,
    S: BuildHasher,
{
    type Item = &'a T;

    #[inline]
    fn next(&mut self) -> Option<&'a T> {
        self.iter.next()
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.iter.size_hint()
    }

    #[inline]
    fn count(self) -> usize {
        self.iter.count()
    }

    #[inline]
    fn fold<B, F>(self, init: B, f: F) -> B
    where
        F: FnMut(B, &'a T) -> B,
    {
        self.iter.fold(init, f)
    }
}

impl<T, S> FusedIterator for Union<'_, T, S>
where
    T: Eq + Hash,
    S: BuildHasher,
{
}

impl<T, S> fmt::Debug for Union<'_, T, S>
where
    T: fmt::Debug + Eq + Hash,
    S: BuildHasher,
{
    /// Lists the remaining elements (which probes the larger set: counted lookups).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.clone()).finish()
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::collections::HashSet as StdSet;
    use std::hash::{BuildHasherDefault, DefaultHasher, Hash, Hasher, RandomState};
    use std::panic::{AssertUnwindSafe, catch_unwind};

    use super::HashSet;
    use crate::MapStats;
    use crate::hash_set::{
        Difference, Drain, Intersection, IntoIter, Iter, SymmetricDifference, Union,
    };
    use crate::snapshot::test_sites::{SiteCounts, anonymous_site_at};

    /// A deterministic hasher: with it, a governed set and a std set given the same operations
    /// have the same table, so even iteration order and capacity must agree.
    type Fixed = BuildHasherDefault<DefaultHasher>;
    type Gov<T> = HashSet<T, Fixed>;
    type Std<T> = StdSet<T, Fixed>;

    /// Equal by `key` only; `tag` tells which of two equal elements the set holds.
    #[derive(Clone, Copy, Debug)]
    struct Tagged {
        key: u32,
        tag: u32,
    }

    impl PartialEq for Tagged {
        fn eq(&self, other: &Tagged) -> bool {
            self.key == other.key
        }
    }

    impl Eq for Tagged {}

    impl Hash for Tagged {
        fn hash<H: Hasher>(&self, state: &mut H) {
            self.key.hash(state);
        }
    }

    /// A small deterministic generator (xorshift).
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: u64) -> u32 {
            (self.next() % n) as u32
        }
    }

    /// The counters a set's stats must show, kept by the test as it applies operations.
    #[derive(Debug, Default, PartialEq)]
    struct Expected {
        len: u64,
        inserts: u64,
        updates: u64,
        removes: u64,
        hits: u64,
        misses: u64,
    }

    impl Expected {
        fn lookup(&mut self, hit: bool) {
            if hit {
                self.hits += 1;
            } else {
                self.misses += 1;
            }
        }
    }

    fn observed(stats: &MapStats) -> Expected {
        Expected {
            len: stats.len,
            inserts: stats.inserts,
            updates: stats.updates,
            removes: stats.removes,
            hits: stats.hits,
            misses: stats.misses,
        }
    }

    /// Asserts the governed set and std's agree on everything observable, and that the stats
    /// are exact.
    fn check(gov: &Gov<Tagged>, std: &Std<Tagged>, exp: &mut Expected, what: &str) {
        assert_eq!(gov.len(), std.len(), "{what}: len");
        assert_eq!(gov.is_empty(), std.is_empty(), "{what}: is_empty");
        assert_eq!(gov.capacity(), std.capacity(), "{what}: capacity");
        let g: Vec<(u32, u32)> = gov.iter().map(|t| (t.key, t.tag)).collect();
        let s: Vec<(u32, u32)> = std.iter().map(|t| (t.key, t.tag)).collect();
        assert_eq!(
            g, s,
            "{what}: elements, their order and which of equal elements is kept"
        );
        assert_eq!(format!("{gov:?}"), format!("{std:?}"), "{what}: Debug");
        exp.len = gov.len() as u64;
        let stats = gov.stats().expect("named sets have stats");
        assert_eq!(observed(&stats), *exp, "{what}: stats");
        assert_eq!(
            stats.allocated_bytes,
            gov.allocation_size() as u64,
            "{what}: bytes"
        );
        assert!(stats.peak_len >= stats.len, "{what}: peak");
    }

    #[test]
    fn set_every_method_matches_std_and_stats_stay_exact() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let mut gov: Gov<Tagged> = HashSet::default().named("set-model").count_every_lookup();
        let mut std: Std<Tagged> = Std::default();
        let mut exp = Expected::default();
        for step in 0..6000u32 {
            let v = Tagged {
                key: rng.below(96),
                tag: step,
            };
            let op = rng.below(100);
            let what = format!("step {step} op {op} key {}", v.key);
            match op {
                0..=29 => {
                    let present = std.contains(&v);
                    assert_eq!(gov.insert(v), std.insert(v), "{what}");
                    exp.lookup(present);
                    exp.inserts += u64::from(!present);
                }
                30..=39 => {
                    let (g, s) = (gov.replace(v), std.replace(v));
                    assert_eq!(
                        g.map(|t| (t.key, t.tag)),
                        s.map(|t| (t.key, t.tag)),
                        "{what}"
                    );
                    if s.is_some() {
                        exp.updates += 1;
                    } else {
                        exp.inserts += 1;
                    }
                }
                40..=51 => {
                    let r = std.remove(&v);
                    assert_eq!(gov.remove(&v), r, "{what}");
                    exp.removes += u64::from(r);
                }
                52..=59 => {
                    let (g, s) = (gov.take(&v), std.take(&v));
                    assert_eq!(
                        g.map(|t| (t.key, t.tag)),
                        s.map(|t| (t.key, t.tag)),
                        "{what}"
                    );
                    exp.removes += u64::from(s.is_some());
                }
                60..=69 => {
                    let s = std.contains(&v);
                    assert_eq!(gov.contains(&v), s, "{what}");
                    exp.lookup(s);
                }
                70..=79 => {
                    let (g, s) = (gov.get(&v), std.get(&v));
                    assert_eq!(
                        g.map(|t| (t.key, t.tag)),
                        s.map(|t| (t.key, t.tag)),
                        "{what}"
                    );
                    exp.lookup(s.is_some());
                }
                80..=82 => {
                    let m = rng.below(5) + 2;
                    let before = std.len();
                    gov.retain(|t| t.key % m != 0);
                    std.retain(|t| t.key % m != 0);
                    exp.removes += (before - std.len()) as u64;
                }
                83..=84 => {
                    let m = rng.below(5) + 2;
                    let take = rng.below(4) as usize;
                    // Partially consumed: the rest stays, as in std.
                    let mut g: Vec<_> = gov
                        .extract_if(|t| t.key % m == 0)
                        .take(take)
                        .map(|t| (t.key, t.tag))
                        .collect();
                    let mut s: Vec<_> = std
                        .extract_if(|t| t.key % m == 0)
                        .take(take)
                        .map(|t| (t.key, t.tag))
                        .collect();
                    g.sort_unstable();
                    s.sort_unstable();
                    assert_eq!(g, s, "{what}");
                    exp.removes += s.len() as u64;
                }
                85 => {
                    let n = std.len();
                    let mut g: Vec<_> = gov.drain().map(|t| (t.key, t.tag)).collect();
                    let mut s: Vec<_> = std.drain().map(|t| (t.key, t.tag)).collect();
                    g.sort_unstable();
                    s.sort_unstable();
                    assert_eq!(g, s, "{what}");
                    exp.removes += n as u64;
                }
                86 => {
                    exp.removes += std.len() as u64;
                    gov.clear();
                    std.clear();
                }
                87..=88 => {
                    let n = rng.below(40) as usize;
                    gov.reserve(n);
                    std.reserve(n);
                }
                89 => {
                    let n = rng.below(40) as usize;
                    assert_eq!(gov.try_reserve(n).is_ok(), std.try_reserve(n).is_ok());
                }
                90..=91 => {
                    gov.shrink_to_fit();
                    std.shrink_to_fit();
                }
                92..=93 => {
                    let n = rng.below(64) as usize;
                    gov.shrink_to(n);
                    std.shrink_to(n);
                }
                _ => {
                    // Extend (owned, with repeats) counts as inserts do.
                    let items: Vec<Tagged> = (0..rng.below(12))
                        .map(|i| Tagged {
                            key: rng.below(96),
                            tag: step * 100 + i,
                        })
                        .collect();
                    let mut model = std.clone();
                    for t in &items {
                        let present = !model.insert(*t);
                        exp.lookup(present);
                        exp.inserts += u64::from(!present);
                    }
                    gov.extend(items.iter().copied());
                    std.extend(items.iter().copied());
                }
            }
            check(&gov, &std, &mut exp, &what);
        }
    }

    #[test]
    fn set_insert_keeps_the_present_element_and_replace_swaps_it() {
        let mut set: HashSet<Tagged> = HashSet::new().named("set-identity").count_every_lookup();
        assert!(set.insert(Tagged { key: 1, tag: 10 }));
        assert!(!set.insert(Tagged { key: 1, tag: 11 }));
        assert_eq!(set.get(&Tagged { key: 1, tag: 0 }).unwrap().tag, 10);
        let old = set.replace(Tagged { key: 1, tag: 12 }).unwrap();
        assert_eq!(old.tag, 10);
        assert_eq!(set.get(&Tagged { key: 1, tag: 0 }).unwrap().tag, 12);
        assert!(set.replace(Tagged { key: 2, tag: 20 }).is_none());
        assert_eq!(set.take(&Tagged { key: 1, tag: 0 }).unwrap().tag, 12);
        let s = set.stats().unwrap();
        // insert: miss + insert; insert again: hit; get: hit; replace: update; get: hit;
        // replace of a new element: insert; take: remove.
        assert_eq!(
            (s.len, s.inserts, s.updates, s.removes, s.hits, s.misses),
            (1, 2, 1, 1, 3, 1)
        );
    }

    #[test]
    fn set_replace_grows_a_full_table_exactly_like_std() {
        // Counted through its own cell from the start (an anonymous set this small has none).
        let mut set: Gov<u32> = HashSet::default().count_every_lookup();
        let mut std: Std<u32> = Std::default();
        let mut n = 0;
        while set.len() < set.capacity() || set.is_empty() {
            set.insert(n);
            std.insert(n);
            n += 1;
        }
        assert_eq!(set.capacity(), std.capacity());
        // std's replace reserves room before the lookup, as insert does: a full table grows
        // even though the element is present.
        assert_eq!(set.replace(0), Some(0));
        assert_eq!(std.replace(0), Some(0));
        assert_eq!(set.capacity(), std.capacity());
        assert_eq!(set.replace(n), None);
        assert_eq!(std.replace(n), None);
        assert_eq!(set.capacity(), std.capacity());
        let s = set.stats().unwrap();
        assert_eq!(s.allocated_bytes, set.allocation_size() as u64);
        assert_eq!(s.capacity, set.capacity() as u64);
        assert!(s.grows >= 1);
        assert_eq!(
            (s.len, s.inserts, s.updates),
            (n as u64 + 1, n as u64 + 1, 1)
        );
    }

    fn sets() -> Vec<(Gov<u32>, Std<u32>)> {
        let shapes: [&[u32]; 7] = [
            &[],
            &[1],
            &[1, 2, 3],
            &[2, 3, 4, 5, 6, 7, 8, 9],
            &[10, 11, 12],
            &[
                1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
            ],
            &[3, 1, 2],
        ];
        shapes
            .iter()
            .map(|s| (s.iter().copied().collect(), s.iter().copied().collect()))
            .collect()
    }

    fn sorted<'a>(it: impl Iterator<Item = &'a u32>) -> Vec<u32> {
        let mut v: Vec<u32> = it.copied().collect();
        v.sort_unstable();
        v
    }

    #[test]
    fn set_algebra_and_operators_match_std() {
        let all = sets();
        for (a, sa) in &all {
            for (b, sb) in &all {
                let what = format!("{sa:?} vs {sb:?}");
                // Same hasher, same inserts: the same order, element by element.
                let eq_order = |g: Vec<&u32>, s: Vec<&u32>| assert_eq!(g, s, "{what}");
                eq_order(a.difference(b).collect(), sa.difference(sb).collect());
                eq_order(a.intersection(b).collect(), sa.intersection(sb).collect());
                eq_order(
                    a.symmetric_difference(b).collect(),
                    sa.symmetric_difference(sb).collect(),
                );
                eq_order(a.union(b).collect(), sa.union(sb).collect());
                assert_eq!(a.difference(b).size_hint(), sa.difference(sb).size_hint());
                assert_eq!(
                    a.intersection(b).size_hint(),
                    sa.intersection(sb).size_hint()
                );
                assert_eq!(
                    a.symmetric_difference(b).size_hint(),
                    sa.symmetric_difference(sb).size_hint()
                );
                assert_eq!(a.union(b).size_hint(), sa.union(sb).size_hint());
                assert_eq!(a.union(b).count(), sa.union(sb).count());
                // fold (used by sum, for_each, ...) agrees with next.
                assert_eq!(a.difference(b).sum::<u32>(), sa.difference(sb).sum::<u32>());
                assert_eq!(
                    a.intersection(b).sum::<u32>(),
                    sa.intersection(sb).sum::<u32>()
                );
                assert_eq!(
                    a.symmetric_difference(b).sum::<u32>(),
                    sa.symmetric_difference(sb).sum::<u32>()
                );
                assert_eq!(a.union(b).sum::<u32>(), sa.union(sb).sum::<u32>());
                assert_eq!(
                    format!("{:?}", a.difference(b)),
                    format!("{:?}", sa.difference(sb))
                );
                assert_eq!(
                    format!("{:?}", a.union(b)),
                    format!("{:?}", sa.union(sb)),
                    "{what}"
                );
                assert_eq!(a.is_disjoint(b), sa.is_disjoint(sb), "{what}");
                assert_eq!(a.is_subset(b), sa.is_subset(sb), "{what}");
                assert_eq!(a.is_superset(b), sa.is_superset(sb), "{what}");
                assert_eq!(a == b, sa == sb, "{what}");
                assert_eq!(sorted((a | b).iter()), sorted((sa | sb).iter()), "{what}");
                assert_eq!(sorted((a & b).iter()), sorted((sa & sb).iter()), "{what}");
                assert_eq!(sorted((a ^ b).iter()), sorted((sa ^ sb).iter()), "{what}");
                assert_eq!(sorted((a - b).iter()), sorted((sa - sb).iter()), "{what}");
            }
        }
    }

    #[test]
    fn set_algebra_counts_one_lookup_per_probe_on_the_probed_set() {
        let small: HashSet<u32> = HashSet::from([1, 2, 3]).named("small").count_every_lookup();
        let large: HashSet<u32> = (2..12).collect::<HashSet<u32>>().named("large");
        let large = large.count_every_lookup();
        let lookups = |s: &HashSet<u32>| {
            let st = s.stats().unwrap();
            (st.hits, st.misses)
        };
        let (s0, l0) = (lookups(&small), lookups(&large));

        // intersection iterates the smaller set and probes the larger, whichever is `self`.
        assert_eq!(large.intersection(&small).count(), 2);
        assert_eq!(lookups(&small), s0);
        assert_eq!(lookups(&large), (l0.0 + 2, l0.1 + 1));

        // difference probes `other` once per element of `self`.
        assert_eq!(small.difference(&large).count(), 1);
        assert_eq!(lookups(&large), (l0.0 + 4, l0.1 + 2));

        // union yields the larger set and probes it for the smaller's elements.
        assert_eq!(small.union(&large).count(), 11);
        assert_eq!(lookups(&large), (l0.0 + 6, l0.1 + 3));
        assert_eq!(lookups(&small), s0);

        // symmetric_difference probes both.
        assert_eq!(small.symmetric_difference(&large).count(), 9);
        assert_eq!(lookups(&large), (l0.0 + 8, l0.1 + 4));
        assert_eq!(lookups(&small), (s0.0 + 2, s0.1 + 8));

        // The predicates and == count their probes too (subset stops at the first miss).
        // (`small` iterates in random order: 0 to 2 hits before its one miss, 1.)
        assert!(!small.is_subset(&large));
        let l = lookups(&large);
        assert_eq!(l.1, l0.1 + 5);
        assert!((l0.0 + 8..=l0.0 + 10).contains(&l.0), "{l:?}");
        // is_disjoint iterates the smaller set and probes the larger, up to the first hit.
        let s1 = lookups(&small);
        assert!(!large.is_disjoint(&small));
        let l2 = lookups(&large);
        assert_eq!(l2.0, l.0 + 1);
        assert!(l2.1 - l.1 <= 1);
        assert_eq!(lookups(&small), s1);
        let l = l2;
        assert!(small != large); // lengths differ: no probe
        assert_eq!(lookups(&large), l);

        // Operators: the result is a fresh set whose inserts are counted. It is small and
        // anonymous, so they are counted at its site: the line of the operator.
        let before = crate::snapshot();
        let (u, line) = (&small | &large, line!());
        assert_eq!(u.len(), 11);
        assert!(u.stats().is_none(), "small and anonymous: no stats");
        drop(u);
        let after = crate::snapshot();
        // Created and dropped, with no entries nor bytes left, after 11 inserts.
        let expected = SiteCounts {
            created: 1,
            dropped: 1,
            inserts: 11,
            ..SiteCounts::default()
        };
        assert_eq!(SiteCounts::delta(&before, &after, file!(), line), expected);
        assert_eq!(
            anonymous_site_at(&after, file!(), line).unwrap().peak_len,
            11
        );
        // The operator is a union: it probed the larger operand once per element of the
        // smaller, as `union` does.
        assert_eq!(lookups(&small), s1);
        assert_eq!(lookups(&large), (l.0 + 2, l.1 + 1));
    }

    #[test]
    fn set_iterators_behave_like_std() {
        let set: Gov<u32> = (0..20).collect();
        let std: Std<u32> = (0..20).collect();

        let it: Iter<'_, u32> = set.iter();
        assert_eq!(it.len(), 20);
        assert_eq!(it.size_hint(), std.iter().size_hint());
        assert_eq!(format!("{it:?}"), format!("{:?}", std.iter()));
        let cloned = it.clone();
        assert_eq!(it.collect::<Vec<_>>(), cloned.collect::<Vec<_>>());
        assert_eq!(Iter::<u32>::default().next(), None);
        let mut fused = set.iter();
        fused.by_ref().for_each(drop);
        assert_eq!((fused.next(), fused.next()), (None, None));
        assert_eq!((&set).into_iter().count(), 20);

        let mut into: IntoIter<u32> = set.clone().into_iter();
        let mut std_into = std.clone().into_iter();
        assert_eq!(into.next(), std_into.next());
        assert_eq!(into.len(), 19);
        assert_eq!(format!("{into:?}"), format!("{std_into:?}"));
        assert_eq!(into.collect::<Vec<_>>(), std_into.collect::<Vec<_>>());
        assert_eq!(IntoIter::<u32>::default().len(), 0);

        let mut gov2 = set.clone();
        let mut std2 = std.clone();
        {
            let mut d: Drain<'_, u32> = gov2.drain();
            let mut sd = std2.drain();
            assert_eq!(d.next(), sd.next());
            assert_eq!(d.len(), sd.len());
            assert_eq!(format!("{d:?}"), "Drain { remaining: 19, .. }");
            // Dropped half-way: the set is empty anyway, as in std.
        }
        assert!(gov2.is_empty() && std2.is_empty());
        assert_eq!(gov2.capacity(), std2.capacity());

        let mut gov3 = set.clone().named("extract-if-early-drop");
        let first = gov3.extract_if(|x| x % 2 == 0).next();
        assert!(first.is_some_and(|x| x % 2 == 0));
        assert_eq!(gov3.len(), 19, "unreached elements stay");
        let ex = gov3.extract_if(|_| true);
        assert_eq!(format!("{ex:?}"), "ExtractIf { .. }");
        drop(ex);
        assert_eq!(gov3.stats().unwrap().len, 19);
        assert_eq!(gov3.stats().unwrap().removes, 1);
    }

    #[test]
    fn set_traits_match_std() {
        let a: HashSet<u32> = HashSet::from([1, 2, 3]);
        let std_a = StdSet::from([1, 2, 3]);
        assert_eq!(
            format!("{:?}", HashSet::from([7])),
            format!("{:?}", StdSet::from([7]))
        );
        assert_eq!(format!("{:?}", HashSet::<u8>::new()), "{}");
        assert_eq!(
            format!("{:#?}", HashSet::from([7])),
            format!("{:#?}", StdSet::from([7]))
        );

        // The clone is small and anonymous: it is counted at its site, the line of `clone()`.
        let before = crate::snapshot();
        let (mut b, line) = (a.clone(), line!());
        assert!(b.stats().is_none(), "small and anonymous: no stats");
        assert_eq!(a, b);
        b.insert(4);
        assert_ne!(a, b);
        b.clone_from(&a);
        assert_eq!(b, a);
        // `clone_from` published its change: the site holds exactly the copy's entries and table.
        let mid = crate::snapshot();
        let d = SiteCounts::delta(&before, &mid, file!(), line);
        assert_eq!(
            (d.created, d.dropped, d.entries, d.bytes),
            (1, 0, 3, b.allocation_size() as i64)
        );
        drop(b);
        let after = crate::snapshot();
        // `insert(4)` and the three elements `clone_from` copied in are inserts; the four it
        // cleared first are removes; the dropped copy left no entries nor bytes.
        let expected = SiteCounts {
            created: 1,
            dropped: 1,
            inserts: 4,
            removes: 4,
            ..SiteCounts::default()
        };
        assert_eq!(SiteCounts::delta(&before, &after, file!(), line), expected);

        let mut c: HashSet<u32> = HashSet::default();
        c.extend(&[5, 6, 5]);
        c.extend(vec![6, 7]);
        let mut std_c: StdSet<u32> = StdSet::default();
        std_c.extend(&[5, 6, 5]);
        std_c.extend(vec![6, 7]);
        assert_eq!(sorted(c.iter()), sorted(std_c.iter()));
        let from_iter: HashSet<u32> = HashSet::from_iter(std_a.iter().copied());
        assert_eq!(from_iter, a);
        let from_arr: HashSet<u32> = [3, 2, 1].into();
        assert_eq!(from_arr, a);
        let owned: Vec<u32> = {
            let mut v: Vec<u32> = a.clone().into_iter().collect();
            v.sort_unstable();
            v
        };
        assert_eq!(owned, [1, 2, 3]);
        assert!(a.is_superset(&HashSet::from([1])));
        let e: HashSet<String> = HashSet::with_capacity(4);
        assert!(e.capacity() >= 4 && e.is_empty());
        assert_eq!(e.get("x"), None);
        let h = HashSet::<u8, RandomState>::with_capacity_and_hasher(2, RandomState::new());
        let _: &RandomState = h.hasher();
        const EMPTY: HashSet<u8, Fixed> = HashSet::with_hasher(BuildHasherDefault::new());
        assert!(EMPTY.is_empty());
    }

    #[test]
    fn set_send_sync_like_std() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<HashSet<String>>();
        send_sync::<Iter<'static, String>>();
        send_sync::<IntoIter<String>>();
        send_sync::<Drain<'static, String>>();
        send_sync::<Difference<'static, String, RandomState>>();
        send_sync::<Intersection<'static, String, RandomState>>();
        send_sync::<SymmetricDifference<'static, String, RandomState>>();
        send_sync::<Union<'static, String, RandomState>>();
        fn unwind_safe<T: std::panic::UnwindSafe + std::panic::RefUnwindSafe>() {}
        unwind_safe::<HashSet<String>>();
    }

    #[test]
    fn set_constructors_and_operators_report_the_callers_line() {
        let here = file!();
        // A named set has stats of its own, which name the caller's line.
        let (s, l) = (HashSet::<u32>::new().named("tc"), line!());
        let st = s.stats().expect("named sets have stats");
        assert_eq!((st.site.file.as_str(), st.site.line), (here, l));
        assert_eq!(st.value_type, "()");

        // Small anonymous sets have none: each is counted at its site, the caller's line.
        let anonymous = |s: &HashSet<u32>, l: u32| {
            assert!(s.stats().is_none(), "line {l}: small, anonymous, no stats");
            l
        };
        let before = crate::snapshot();
        let (w, l) = (HashSet::<u32>::with_capacity(3), line!());
        let mut lines = vec![anonymous(&w, l)];
        let (mut s, l) = (HashSet::<u32>::default(), line!());
        s.insert(1);
        lines.push(anonymous(&s, l));
        let (a, l) = (HashSet::from([1, 2]), line!());
        lines.push(anonymous(&a, l));
        let (b, l) = (HashSet::from_iter([2, 3]), line!());
        lines.push(anonymous(&b, l));
        let (c, l) = (a.clone(), line!());
        lines.push(anonymous(&c, l));
        let (u, l) = (&a | &b, line!());
        lines.push(anonymous(&u, l));
        let (i, l) = (&a & &b, line!());
        lines.push(anonymous(&i, l));
        let (x, l) = (&a ^ &b, line!());
        lines.push(anonymous(&x, l));
        let (d, l) = (&a - &b, line!());
        lines.push(anonymous(&d, l));
        let after = crate::snapshot();
        for l in lines {
            let site = anonymous_site_at(&after, here, l)
                .unwrap_or_else(|| panic!("no site at {here}:{l}"));
            assert_eq!(site.value_type, "()", "line {l}");
            assert_eq!(site.maps_live, 1, "line {l}");
            assert_eq!(
                SiteCounts::delta(&before, &after, here, l).created,
                1,
                "line {l}"
            );
        }
    }

    #[test]
    fn set_stats_stay_exact_when_a_predicate_panics() {
        thread_local!(static CALLS: Cell<u32> = const { Cell::new(0) });
        let mut set: HashSet<u32> = (0..100).collect::<HashSet<u32>>().named("set-panics");
        CALLS.with(|c| c.set(0));
        let r = catch_unwind(AssertUnwindSafe(|| {
            set.retain(|x| {
                CALLS.with(|c| c.set(c.get() + 1));
                assert!(CALLS.with(Cell::get) < 50, "trap");
                x % 2 == 0
            });
        }));
        assert!(r.is_err());
        let st = set.stats().unwrap();
        assert_eq!(st.len, set.len() as u64);
        assert_eq!(st.removes, 100 - set.len() as u64);

        let before = set.len();
        CALLS.with(|c| c.set(0));
        let r = catch_unwind(AssertUnwindSafe(|| {
            set.extract_if(|x| {
                CALLS.with(|c| c.set(c.get() + 1));
                assert!(CALLS.with(Cell::get) < 10, "trap");
                x % 3 == 0
            })
            .for_each(drop);
        }));
        assert!(r.is_err());
        let st = set.stats().unwrap();
        assert_eq!(st.len, set.len() as u64);
        assert_eq!(st.removes, 100 - set.len() as u64);
        assert!(set.len() <= before);
        // Still usable.
        assert!(set.insert(1000));
        assert!(set.contains(&1000));
    }
}
