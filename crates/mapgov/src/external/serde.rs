//! `Serialize` and `Deserialize` for [`HashMap`], [`SplitMap`] and [`HashSet`] (feature
//! `serde`).
//!
//! The formats are std's: a map (either kind) serializes as a map, a set as a sequence; a
//! `SplitMap` and a `HashMap` read each other's documents. Serializing iterates and counts
//! nothing. Deserializing builds the collection through its governed constructor and governed
//! `insert`, so its counts are exact (in its own stats, or at its site for a small anonymous
//! one): one insert per distinct key, one update per repeated key of a map (the later value
//! wins, as in std); a repeated element of a set counts as `HashSet::insert` counts it. A `SplitMap` that outgrows its tables while it is
//! read splits them, and counts the splits, as on any other insert.
//!
//! A deserialized collection's creation site is inside mapgov (serde gives no caller location);
//! when it becomes tracked, the backtrace fallback described in the crate docs looks for the
//! user's frame.

use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::marker::PhantomData;

use ::serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use ::serde::ser::{Serialize, Serializer};

use crate::{HashMap, HashSet, SplitMap};

/// The capacity to pre-allocate for a size hint from the input: at most 1 MiB of elements, as
/// serde's own collection impls do, so a hostile size hint cannot force a huge allocation.
fn cautious<E>(hint: Option<usize>) -> usize {
    const MAX_PREALLOC_BYTES: usize = 1024 * 1024;
    match std::mem::size_of::<E>() {
        0 => 0,
        size => hint.unwrap_or(0).min(MAX_PREALLOC_BYTES / size),
    }
}

impl<K, V, S> Serialize for HashMap<K, V, S>
where
    K: Serialize,
    V: Serialize,
{
    fn serialize<Ser: Serializer>(&self, serializer: Ser) -> Result<Ser::Ok, Ser::Error> {
        serializer.collect_map(self.iter())
    }
}

impl<'de, K, V, S> Deserialize<'de> for HashMap<K, V, S>
where
    K: Deserialize<'de> + Eq + Hash,
    V: Deserialize<'de>,
    S: BuildHasher + Default,
{
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MapVisitor<K, V, S>(PhantomData<HashMap<K, V, S>>);

        impl<'de, K, V, S> Visitor<'de> for MapVisitor<K, V, S>
        where
            K: Deserialize<'de> + Eq + Hash,
            V: Deserialize<'de>,
            S: BuildHasher + Default,
        {
            type Value = HashMap<K, V, S>;

            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("a map")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
                let capacity = cautious::<(K, V)>(access.size_hint());
                let mut map = HashMap::with_capacity_and_hasher(capacity, S::default());
                while let Some((key, value)) = access.next_entry()? {
                    map.insert(key, value);
                }
                Ok(map)
            }
        }

        deserializer.deserialize_map(MapVisitor(PhantomData))
    }
}

impl<K, V, S> Serialize for SplitMap<K, V, S>
where
    K: Serialize,
    V: Serialize,
{
    fn serialize<Ser: Serializer>(&self, serializer: Ser) -> Result<Ser::Ok, Ser::Error> {
        serializer.collect_map(self.iter())
    }
}

impl<'de, K, V, S> Deserialize<'de> for SplitMap<K, V, S>
where
    K: Deserialize<'de> + Eq + Hash,
    V: Deserialize<'de>,
    S: BuildHasher + Default,
{
    /// Builds the map as [`HashMap`]'s impl does: pre-sized for the input's size hint (capped
    /// at 1 MiB of entries), then filled through the governed `insert`, so a map that outgrows
    /// its tables splits, and counts its splits, as any other does.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SplitMapVisitor<K, V, S>(PhantomData<SplitMap<K, V, S>>);

        impl<'de, K, V, S> Visitor<'de> for SplitMapVisitor<K, V, S>
        where
            K: Deserialize<'de> + Eq + Hash,
            V: Deserialize<'de>,
            S: BuildHasher + Default,
        {
            type Value = SplitMap<K, V, S>;

            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("a map")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
                let capacity = cautious::<(K, V)>(access.size_hint());
                let mut map = SplitMap::with_capacity_and_hasher(capacity, S::default());
                while let Some((key, value)) = access.next_entry()? {
                    map.insert(key, value);
                }
                Ok(map)
            }
        }

        deserializer.deserialize_map(SplitMapVisitor(PhantomData))
    }
}

impl<T, S> Serialize for HashSet<T, S>
where
    T: Serialize,
{
    fn serialize<Ser: Serializer>(&self, serializer: Ser) -> Result<Ser::Ok, Ser::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl<'de, T, S> Deserialize<'de> for HashSet<T, S>
where
    T: Deserialize<'de> + Eq + Hash,
    S: BuildHasher + Default,
{
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SeqVisitor<T, S>(PhantomData<HashSet<T, S>>);

        impl<'de, T, S> Visitor<'de> for SeqVisitor<T, S>
        where
            T: Deserialize<'de> + Eq + Hash,
            S: BuildHasher + Default,
        {
            type Value = HashSet<T, S>;

            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("a sequence")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
                let capacity = cautious::<T>(access.size_hint());
                let mut set = HashSet::with_capacity_and_hasher(capacity, S::default());
                while let Some(value) = access.next_element()? {
                    set.insert(value);
                }
                Ok(set)
            }
        }

        deserializer.deserialize_seq(SeqVisitor(PhantomData))
    }

    /// Deserializes into an existing set: it is cleared (its elements counted as removed) and
    /// refilled, keeping its site, name and allocation.
    fn deserialize_in_place<D: Deserializer<'de>>(
        deserializer: D,
        place: &mut Self,
    ) -> Result<(), D::Error> {
        struct InPlaceVisitor<'a, T, S>(&'a mut HashSet<T, S>);

        impl<'de, T, S> Visitor<'de> for InPlaceVisitor<'_, T, S>
        where
            T: Deserialize<'de> + Eq + Hash,
            S: BuildHasher,
        {
            type Value = ();

            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("a sequence")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut access: A) -> Result<(), A::Error> {
                self.0.clear();
                self.0.reserve(cautious::<T>(access.size_hint()));
                while let Some(value) = access.next_element()? {
                    self.0.insert(value);
                }
                Ok(())
            }
        }

        deserializer.deserialize_seq(InPlaceVisitor(place))
    }
}

#[cfg(test)]
mod tests {
    use std::hash::{BuildHasherDefault, DefaultHasher};
    use std::sync::{Mutex, MutexGuard, PoisonError};

    use crate::snapshot::test_sites::SiteCounts;
    use crate::{HashMap, HashSet, SiteStats, Snapshot};

    type Fixed = BuildHasherDefault<DefaultHasher>;

    /// Lines above this one build the deserialized collections (the tests' own lines are below).
    const TESTS_START: u32 = line!();

    /// Serializes the tests that deserialize a `HashMap` or a `HashSet`.
    ///
    /// A small deserialized collection has no stats of its own: it is counted at its site, the
    /// line of this file where the visitor builds it, which every such test shares. Holding
    /// this lock, a test is the only one touching those sites; it drops what it deserialized and
    /// takes a snapshot (which publishes its thread's pending counts) before releasing it.
    static DESERIALIZING: Mutex<()> = Mutex::new(());

    fn deserializing() -> MutexGuard<'static, ()> {
        DESERIALIZING.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The anonymous sites of this file above the tests: where the visitors build collections.
    fn visitor_sites(snap: &Snapshot) -> impl Iterator<Item = &SiteStats> {
        snap.sites
            .iter()
            .filter(|s| s.site.file == file!() && s.site.line < TESTS_START && s.name.is_none())
    }

    /// The one visitor site whose counters changed between `before` and `after` (taken under
    /// [`deserializing`]), its value type, and what changed.
    fn deserialized_delta(before: &Snapshot, after: &Snapshot) -> (String, SiteCounts) {
        let changed: Vec<(String, SiteCounts)> = visitor_sites(after)
            .filter_map(|a| {
                let b = visitor_sites(before)
                    .find(|b| b.site == a.site)
                    .map_or_else(SiteCounts::default, SiteCounts::of);
                let d = SiteCounts::of(a) - b;
                (d != SiteCounts::default()).then(|| (a.value_type.clone(), d))
            })
            .collect();
        assert_eq!(
            changed.len(),
            1,
            "exactly one visitor site changed: {changed:?}"
        );
        changed.into_iter().next().unwrap()
    }

    #[test]
    fn map_round_trips_through_json_like_std() {
        let mut map: HashMap<String, u32> = HashMap::new();
        let mut std_map = std::collections::HashMap::new();
        for i in 0..50u32 {
            map.insert(format!("k{i}"), i);
            std_map.insert(format!("k{i}"), i);
        }
        let json = serde_json::to_string(&map).unwrap();
        let _serial = deserializing();
        let before = crate::snapshot();
        let back: HashMap<String, u32> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, map);
        // The same document as std's map, up to order.
        let as_std: std::collections::HashMap<String, u32> = serde_json::from_str(&json).unwrap();
        assert_eq!(as_std, std_map);
        // Small and anonymous: counted at its site, exactly.
        assert!(back.stats().is_none());
        drop(back);
        let after = crate::snapshot();
        let (value_type, d) = deserialized_delta(&before, &after);
        assert_eq!(value_type, "u32");
        let expected = SiteCounts::one_dropped(50, 0, 0);
        assert_eq!(d, expected);
    }

    #[test]
    fn map_with_the_same_hasher_serializes_exactly_like_std() {
        let mut map: HashMap<u32, u32, Fixed> = HashMap::default();
        let mut std_map: std::collections::HashMap<u32, u32, Fixed> = Default::default();
        for i in 0..40 {
            map.insert(i, i * 2);
            std_map.insert(i, i * 2);
        }
        assert_eq!(
            serde_json::to_string(&map).unwrap(),
            serde_json::to_string(&std_map).unwrap()
        );
    }

    #[test]
    fn map_deserialization_counts_repeated_keys_as_updates() {
        let _serial = deserializing();
        let before = crate::snapshot();
        let back: HashMap<String, u32> = serde_json::from_str(r#"{"a":1,"b":2,"a":3}"#).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(back["a"], 3, "the later value wins, as in std");
        // Small and anonymous: counted at its site, exactly.
        assert!(back.stats().is_none());
        drop(back);
        let after = crate::snapshot();
        let (value_type, d) = deserialized_delta(&before, &after);
        assert_eq!(value_type, "u32");
        let expected = SiteCounts::one_dropped(2, 1, 0);
        assert_eq!(d, expected);
    }

    #[test]
    fn set_round_trips_through_json_like_std() {
        let set: HashSet<u64> = (0..100).collect();
        let json = serde_json::to_string(&set).unwrap();
        let _serial = deserializing();
        let before = crate::snapshot();
        let back: HashSet<u64> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, set);
        let as_std: std::collections::HashSet<u64> = serde_json::from_str(&json).unwrap();
        assert_eq!(as_std, (0..100).collect());
        // Small and anonymous: counted at its site, exactly.
        assert!(back.stats().is_none());
        drop(back);
        let after = crate::snapshot();
        let (value_type, d) = deserialized_delta(&before, &after);
        assert_eq!(value_type, "()");
        let expected = SiteCounts::one_dropped(100, 0, 0);
        assert_eq!(d, expected);
    }

    #[test]
    fn set_with_the_same_hasher_serializes_exactly_like_std() {
        let set: HashSet<&str, Fixed> = ["x", "y", "z", "w"].into_iter().collect();
        let std_set: std::collections::HashSet<&str, Fixed> =
            ["x", "y", "z", "w"].into_iter().collect();
        assert_eq!(
            serde_json::to_string(&set).unwrap(),
            serde_json::to_string(&std_set).unwrap()
        );
    }

    #[test]
    fn set_deserialization_keeps_first_of_repeated_elements_and_counts_exactly() {
        let _serial = deserializing();
        let before = crate::snapshot();
        let back: HashSet<u8> = serde_json::from_str("[1, 2, 2, 3, 1]").unwrap();
        assert_eq!(back, HashSet::from([1, 2, 3]));
        // Small and anonymous: counted at its site, exactly.
        assert!(back.stats().is_none());
        drop(back);
        let after = crate::snapshot();
        let (value_type, d) = deserialized_delta(&before, &after);
        assert_eq!(value_type, "()");
        // A repeated element is neither inserted nor an update, as for `HashSet::insert`.
        let expected = SiteCounts::one_dropped(3, 0, 0);
        assert_eq!(d, expected);
    }

    #[test]
    fn set_deserialize_in_place_counts_the_old_elements_as_removed() {
        use serde::Deserialize;
        // Named before it allocates: its stats count from its first element.
        let mut set: HashSet<u8> = HashSet::new().named("serde-in-place");
        set.extend([7, 8, 9]);
        let mut de = serde_json::Deserializer::from_str("[1, 2]");
        HashSet::deserialize_in_place(&mut de, &mut set).unwrap();
        assert_eq!(set, HashSet::from([1, 2]));
        let stats = set.stats().unwrap();
        assert_eq!(stats.name.as_deref(), Some("serde-in-place"));
        assert_eq!((stats.len, stats.inserts, stats.removes), (2, 5, 3));
    }

    #[test]
    fn malformed_input_is_an_error() {
        let _serial = deserializing();
        let before = crate::snapshot();
        assert!(serde_json::from_str::<HashSet<u8>>("{}").is_err());
        assert!(serde_json::from_str::<HashMap<String, u8>>("[1]").is_err());
        assert!(serde_json::from_str::<HashSet<u8>>("[1, -1]").is_err());
        // The set begun before the error was dropped with it: nothing is left at its site.
        let after = crate::snapshot();
        let (value_type, d) = deserialized_delta(&before, &after);
        assert_eq!(value_type, "()");
        let expected = SiteCounts::one_dropped(1, 0, 0);
        assert_eq!(d, expected);
    }
}
