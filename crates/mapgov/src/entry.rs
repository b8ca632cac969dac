//! The entry API of the governed map: std's `Entry`, `OccupiedEntry` and `VacantEntry`.

use std::fmt::{self, Debug};
use std::hash::{BuildHasher, Hash, RandomState};

use crate::gov::Gov;

/// The methods of an `Entry` enum that only need its `OccupiedEntry` and `VacantEntry` to have
/// std's methods: shared by `HashMap`'s and `SplitMap`'s entries. `$map` names the map in the
/// examples.
macro_rules! entry_inserting_methods {
    ($map:ident) => {
        /// Inserts `default` if the entry is vacant; returns a mutable reference to the value.
        ///
        /// # Examples
        ///
        /// ```
        #[doc = concat!("let mut counts = mapgov::", stringify!($map), "::new();")]
        /// *counts.entry("a").or_insert(0) += 1;
        /// assert_eq!(counts["a"], 1);
        /// ```
        #[inline]
        pub fn or_insert(self, default: V) -> &'a mut V {
            match self {
                Entry::Occupied(e) => e.into_mut(),
                Entry::Vacant(e) => e.insert(default),
            }
        }

        /// Inserts the result of `default()` if the entry is vacant.
        #[inline]
        pub fn or_insert_with<F: FnOnce() -> V>(self, default: F) -> &'a mut V {
            match self {
                Entry::Occupied(e) => e.into_mut(),
                Entry::Vacant(e) => e.insert(default()),
            }
        }

        /// Inserts the result of `default(&key)` if the entry is vacant.
        #[inline]
        pub fn or_insert_with_key<F: FnOnce(&K) -> V>(self, default: F) -> &'a mut V {
            match self {
                Entry::Occupied(e) => e.into_mut(),
                Entry::Vacant(e) => {
                    let value = default(e.key());
                    e.insert(value)
                }
            }
        }

        /// Sets the value of the entry (inserting it if vacant) and returns the occupied
        /// entry.
        #[inline]
        pub fn insert_entry(self, value: V) -> OccupiedEntry<'a, K, V, S> {
            match self {
                Entry::Occupied(mut e) => {
                    e.insert(value);
                    e
                }
                Entry::Vacant(e) => e.insert_entry(value),
            }
        }
    };
}

/// `key` and `and_modify` of an `Entry` enum (see `entry_inserting_methods`).
macro_rules! entry_key_methods {
    () => {
        /// The entry's key.
        #[inline]
        pub fn key(&self) -> &K {
            match self {
                Entry::Occupied(e) => e.key(),
                Entry::Vacant(e) => e.key(),
            }
        }

        /// Runs `f` on the value if the entry is occupied.
        #[inline]
        #[must_use]
        pub fn and_modify<F: FnOnce(&mut V)>(self, f: F) -> Self {
            match self {
                Entry::Occupied(mut e) => {
                    f(e.get_mut());
                    Entry::Occupied(e)
                }
                Entry::Vacant(e) => Entry::Vacant(e),
            }
        }
    };
}

/// `or_default` of an `Entry` enum (see `entry_inserting_methods`).
macro_rules! entry_default_method {
    () => {
        /// Inserts `V::default()` if the entry is vacant.
        #[inline]
        pub fn or_default(self) -> &'a mut V {
            match self {
                Entry::Occupied(e) => e.into_mut(),
                Entry::Vacant(e) => e.insert(V::default()),
            }
        }
    };
}

/// `Debug` for the `Entry`, `OccupiedEntry` and `VacantEntry` types in scope (see
/// `entry_inserting_methods`).
macro_rules! entry_debug_impls {
    () => {
        impl<K: Debug, V: Debug, S> Debug for Entry<'_, K, V, S> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    Entry::Vacant(v) => f.debug_tuple("Entry").field(v).finish(),
                    Entry::Occupied(o) => f.debug_tuple("Entry").field(o).finish(),
                }
            }
        }

        impl<K: Debug, V: Debug, S> Debug for OccupiedEntry<'_, K, V, S> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct("OccupiedEntry")
                    .field("key", self.key())
                    .field("value", self.get())
                    .finish_non_exhaustive()
            }
        }

        impl<K: Debug, V, S> Debug for VacantEntry<'_, K, V, S> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_tuple("VacantEntry").field(self.key()).finish()
            }
        }
    };
}

/// A view into a single entry of a map, vacant or occupied: [`HashMap::entry`]'s result.
///
/// [`HashMap::entry`]: crate::HashMap::entry
pub enum Entry<'a, K, V, S = RandomState> {
    /// The key is present.
    Occupied(OccupiedEntry<'a, K, V, S>),
    /// The key is absent.
    Vacant(VacantEntry<'a, K, V, S>),
}

/// An entry whose key is present.
pub struct OccupiedEntry<'a, K, V, S = RandomState> {
    inner: hashbrown::hash_map::OccupiedEntry<'a, K, V, S>,
    gov: &'a mut Gov,
    /// The map's length (this entry included).
    len: usize,
}

/// An entry whose key is absent.
pub struct VacantEntry<'a, K, V, S = RandomState> {
    inner: hashbrown::hash_map::VacantEntry<'a, K, V, S>,
    gov: &'a mut Gov,
    /// The map's length before this entry is inserted.
    len: usize,
}

impl<'a, K, V, S> OccupiedEntry<'a, K, V, S> {
    pub(crate) fn new(
        inner: hashbrown::hash_map::OccupiedEntry<'a, K, V, S>,
        gov: &'a mut Gov,
        len: usize,
    ) -> Self {
        OccupiedEntry { inner, gov, len }
    }
}

impl<'a, K, V, S> VacantEntry<'a, K, V, S> {
    pub(crate) fn new(
        inner: hashbrown::hash_map::VacantEntry<'a, K, V, S>,
        gov: &'a mut Gov,
        len: usize,
    ) -> Self {
        VacantEntry { inner, gov, len }
    }
}

impl<'a, K, V, S> Entry<'a, K, V, S>
where
    K: Hash,
    S: BuildHasher,
{
    entry_inserting_methods!(HashMap);
}

impl<'a, K, V, S> Entry<'a, K, V, S> {
    entry_key_methods!();
}

impl<'a, K, V, S> Entry<'a, K, V, S>
where
    K: Hash,
    V: Default,
    S: BuildHasher,
{
    entry_default_method!();
}

impl<'a, K, V, S> OccupiedEntry<'a, K, V, S> {
    /// The key in the map.
    #[inline]
    pub fn key(&self) -> &K {
        self.inner.key()
    }

    /// Removes the entry, returning the stored key and value.
    #[inline]
    pub fn remove_entry(self) -> (K, V) {
        let r = self.inner.remove_entry();
        let len = self.len - 1;
        if self.gov.on_remove(len) {
            // A shrink waits for the next operation through the map; budgets re-arm now.
            let _ = self.gov.on_limit(len);
        }
        r
    }

    /// The value.
    #[inline]
    pub fn get(&self) -> &V {
        self.inner.get()
    }

    /// A mutable reference to the value, tied to the entry.
    #[inline]
    pub fn get_mut(&mut self) -> &mut V {
        self.inner.get_mut()
    }

    /// The value as a mutable reference tied to the map.
    #[inline]
    pub fn into_mut(self) -> &'a mut V {
        self.inner.into_mut()
    }

    /// Replaces the value, returning the old one (counted as an update).
    #[inline]
    pub fn insert(&mut self, value: V) -> V {
        let old = self.inner.insert(value);
        if self.gov.on_update() {
            let _ = self.gov.on_limit(self.len);
        }
        old
    }

    /// Removes the entry, returning its value.
    #[inline]
    pub fn remove(self) -> V {
        self.remove_entry().1
    }
}

impl<'a, K, V, S> VacantEntry<'a, K, V, S> {
    /// Counts the insert of a new key into a map of `len` entries, before it is made.
    ///
    /// [`HashMap::entry`](crate::HashMap::entry) made room for the key, so hashbrown's insert
    /// cannot grow the table or fail (for keys whose `Hash` and `Eq` agree, as every hash map
    /// assumes), and counting first loses nothing. It lets the value be the last thing written
    /// before the caller gets its reference: counted after the write, the rare out-of-line
    /// call between the two made the compiler read the value back from memory in
    /// `*map.entry(k).or_insert(0) += 1`, which made that upsert into a pre-sized map take
    /// 1.4–2.4 times as long as it does now, `MAPGOV=off` included (BENCHMARKS.md).
    ///
    /// A panic in the policy check (in user code: a `tracing` subscriber) uncounts the insert,
    /// which is then not made.
    #[inline(always)]
    fn count_insert(gov: &mut Gov, len: usize) {
        if gov.on_insert() {
            gov.on_limit_before_insert(len + 1);
        }
    }

    /// The key that would be inserted.
    #[inline]
    pub fn key(&self) -> &K {
        self.inner.key()
    }

    /// Takes the key back without inserting.
    #[inline]
    pub fn into_key(self) -> K {
        self.inner.into_key()
    }
}

impl<'a, K, V, S> VacantEntry<'a, K, V, S>
where
    K: Hash,
    S: BuildHasher,
{
    /// Inserts the value, returning a mutable reference to it.
    #[inline]
    pub fn insert(self, value: V) -> &'a mut V {
        Self::count_insert(self.gov, self.len);
        self.inner.insert(value)
    }

    /// Inserts the value, returning the occupied entry.
    #[inline]
    pub fn insert_entry(self, value: V) -> OccupiedEntry<'a, K, V, S> {
        let (gov, len) = (self.gov, self.len);
        Self::count_insert(gov, len);
        let inner = self.inner.insert_entry(value);
        OccupiedEntry {
            inner,
            gov,
            len: len + 1,
        }
    }
}

entry_debug_impls!();
