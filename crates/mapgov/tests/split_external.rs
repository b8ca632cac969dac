//! `SplitMap` with the `serde` and `rayon` features: its documents and parallel iterators hold
//! the same entries as the sequential paths, across many tables, and its stats stay exact.
//!
//! Most maps here use tables of 16 buckets (14 entries), a test hook, so that a few hundred
//! entries cross dozens of splits.

#![cfg(any(feature = "serde", feature = "rayon"))]

use mapgov::SplitMap;

/// A map of `n` entries `(i, 3i)` over tables of 16 buckets, counting every lookup.
fn small_tables(name: &str, n: u64) -> SplitMap<u64, u64> {
    let mut map = SplitMap::new()
        .with_table_max_buckets(16)
        .named(name)
        .count_every_lookup();
    for i in 0..n {
        map.insert(i, i * 3);
    }
    assert!(map.tables() >= 8, "{name}: {} tables", map.tables());
    map.check_invariants();
    map
}

#[cfg(feature = "serde")]
mod serialization {
    use super::*;

    #[test]
    fn a_map_of_many_tables_round_trips_through_json_and_counts_nothing_when_serialized() {
        let map = small_tables("serde-round-trip", 600);
        let before = map.stats().unwrap();
        let json = serde_json::to_string(&map).unwrap();
        let after = map.stats().unwrap();
        assert_eq!(
            (after.hits, after.misses, after.inserts, after.updates),
            (before.hits, before.misses, before.inserts, before.updates),
            "serializing iterates and counts nothing"
        );

        let back: SplitMap<u64, u64> = serde_json::from_str(&json).unwrap();
        back.check_invariants();
        assert_eq!(back, map);
        let stats = back.stats().unwrap();
        assert_eq!(
            (stats.len, stats.inserts, stats.updates, stats.removes),
            (600, 600, 0, 0)
        );

        // The same document as std's map and mapgov's HashMap, up to order, both ways.
        let std_map: std::collections::HashMap<u64, u64> = serde_json::from_str(&json).unwrap();
        assert_eq!(
            std_map,
            map.iter()
                .map(|(&k, &v)| (k, v))
                .collect::<std::collections::HashMap<_, _>>()
        );
        let hash_map: mapgov::HashMap<u64, u64> = serde_json::from_str(&json).unwrap();
        let from_hash_map: SplitMap<u64, u64> =
            serde_json::from_str(&serde_json::to_string(&hash_map).unwrap()).unwrap();
        assert_eq!(from_hash_map, map);
    }

    #[test]
    fn deserializing_a_big_map_splits_and_counts_through_the_governed_insert() {
        let n = mapgov::split_map::TABLE_MAX_ENTRIES as u64 * 3 / 2;
        let std_map: std::collections::HashMap<u64, u64> = (0..n).map(|i| (i, !i)).collect();
        let json = serde_json::to_string(&std_map).unwrap();
        let back: SplitMap<u64, u64> = serde_json::from_str(&json).unwrap();
        back.check_invariants();
        assert!(back.tables() >= 2, "{} tables", back.tables());
        assert_eq!(back.len() as u64, n);
        assert!(std_map.iter().all(|(k, v)| back.get(k) == Some(v)));
        let stats = back.stats().unwrap();
        assert_eq!((stats.len, stats.inserts, stats.updates), (n, n, 0));
        assert!(stats.splits >= 1);
        assert_eq!(stats.tables, back.tables() as u64);
    }

    #[test]
    fn deserializing_counts_repeated_keys_as_updates_and_keeps_the_later_value() {
        let back: SplitMap<String, u32> =
            serde_json::from_str(r#"{"a":1,"b":2,"a":3,"c":4,"b":5}"#).unwrap();
        assert_eq!(back.len(), 3);
        assert_eq!((back["a"], back["b"], back["c"]), (3, 5, 4));
        let stats = back.stats().unwrap();
        assert_eq!((stats.len, stats.inserts, stats.updates), (3, 3, 2));
    }

    #[test]
    fn malformed_input_is_an_error() {
        assert!(serde_json::from_str::<SplitMap<String, u8>>("[1]").is_err());
        assert!(serde_json::from_str::<SplitMap<String, u8>>(r#"{"a": -1}"#).is_err());
        assert!(serde_json::from_str::<SplitMap<String, u8>>(r#"{"a": 1,"#).is_err());
        assert!(serde_json::from_str::<SplitMap<u64, u8>>(r#"{"x": 1}"#).is_err());
        assert!(serde_json::from_str::<SplitMap<String, u8>>("null").is_err());
    }

    #[test]
    fn deserialized_maps_are_attributed_as_deserialized_hash_maps_are() {
        // Small (untracked): serde gives no caller location, so the site is inside mapgov,
        // where both impls build their map. A small anonymous `HashMap` has no stats of its
        // own: its site is found in snapshots, as the other anonymous site of the split map's
        // file where `HashMap<u64, u64>`s were created meanwhile (this one at least; other
        // tests deserialize such maps there too, so the count is not exact).
        let json = r#"{"1": 1, "2": 2}"#;
        let before = mapgov::snapshot();
        let split: SplitMap<u64, u64> = serde_json::from_str(json).unwrap();
        let hash: mapgov::HashMap<u64, u64> = serde_json::from_str(json).unwrap();
        assert!(hash.stats().is_none(), "a small anonymous map has no stats");
        let after = mapgov::snapshot();
        let s = split.stats().unwrap();
        assert!(
            s.site
                .file
                .replace('\\', "/")
                .ends_with("src/external/serde.rs"),
            "{}",
            s.site
        );
        assert!(!s.site_from_backtrace);
        let created = |snap: &mapgov::Snapshot, site: &mapgov::Site| {
            snap.sites
                .iter()
                .find(|x| x.site == *site && x.name.is_none())
                .map_or(0, |x| x.maps_created)
        };
        let hash_sites: Vec<&mapgov::SiteStats> = after
            .sites
            .iter()
            .filter(|h| {
                h.site.file == s.site.file
                    && h.site != s.site
                    && h.name.is_none()
                    && (h.key_type.as_str(), h.value_type.as_str()) == ("u64", "u64")
                    && created(&after, &h.site) > created(&before, &h.site)
            })
            .collect();
        assert_eq!(hash_sites.len(), 1, "{hash_sites:?}");
        assert!(!hash_sites[0].site_from_backtrace, "{}", hash_sites[0].site);
        drop(hash);

        // Big enough to be tracked: the backtrace fallback finds this file for both.
        let n = mapgov::split_map::TABLE_MAX_ENTRIES as u64 * 3 / 2;
        let std_map: std::collections::HashMap<u64, u64> = (0..n).map(|i| (i, i)).collect();
        let json = serde_json::to_string(&std_map).unwrap();
        let split: SplitMap<u64, u64> = serde_json::from_str(&json).unwrap();
        let hash: mapgov::HashMap<u64, u64> = serde_json::from_str(&json).unwrap();
        for (what, stats) in [
            ("split", split.stats().unwrap()),
            ("hash", hash.stats().unwrap()),
        ] {
            assert!(stats.id != 0, "{what}: tracked");
            assert!(stats.site_from_backtrace, "{what}: {}", stats.site);
            assert!(
                stats
                    .site
                    .file
                    .replace('\\', "/")
                    .ends_with("tests/split_external.rs"),
                "{what}: {}",
                stats.site
            );
        }
    }
}

#[cfg(feature = "rayon")]
mod parallel {
    use std::panic::{AssertUnwindSafe, catch_unwind};

    use mapgov::split_map::rayon::{IntoParIter, ParDrain, ParIter, ParIterMut};
    use rayon::prelude::*;

    use super::*;

    /// The entries of `map`, sorted.
    fn entries(map: &SplitMap<u64, u64>) -> Vec<(u64, u64)> {
        sorted(map.iter().map(|(&k, &v)| (k, v)).collect())
    }

    fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
        v.sort_unstable();
        v
    }

    #[test]
    fn par_iter_and_par_iter_mut_yield_what_the_sequential_iterators_yield() {
        let mut map = small_tables("rayon-par-iter", 1000);
        let expected = entries(&map);

        let iter: ParIter<'_, u64, u64> = map.par_iter();
        let got = sorted(iter.map(|(&k, &v)| (k, v)).collect());
        assert_eq!(got, expected);
        assert_eq!(
            map.par_iter().map(|(_, v)| v).sum::<u64>(),
            map.values().sum::<u64>()
        );

        let mut copy = map.clone();
        let iter_mut: ParIterMut<'_, u64, u64> = map.par_iter_mut();
        iter_mut.for_each(|(k, v)| *v += k);
        for (k, v) in copy.iter_mut() {
            *v += k;
        }
        assert_eq!(entries(&map), entries(&copy));
        map.check_invariants();

        let stats = map.stats().unwrap();
        assert_eq!(
            (stats.hits, stats.misses),
            (0, 0),
            "iterating is not a lookup"
        );
        assert_eq!((stats.len, stats.inserts), (1000, 1000));

        // One table: hashbrown's own splitting still spreads it over the threads.
        let one: SplitMap<u64, u64> = (0..5000).map(|i| (i, i)).collect();
        assert_eq!(one.tables(), 1);
        assert_eq!(
            sorted(one.par_iter().map(|(&k, &v)| (k, v)).collect()),
            entries(&one)
        );
        assert!(format!("{:?}", one.par_iter()).starts_with('['));
    }

    #[test]
    fn into_par_iter_yields_every_entry_and_retires_the_stats_as_a_drop_does() {
        let name = "rayon-into-par-iter";
        let site = || {
            mapgov::snapshot()
                .sites
                .into_iter()
                .find(|s| s.name.as_deref() == Some(name))
                .expect("the named site")
        };
        let map = small_tables(name, 700);
        let expected = entries(&map);
        assert_eq!(site().maps_live, 1);

        let iter: IntoParIter<u64, u64> = map.into_par_iter();
        let after = site();
        assert_eq!(
            (after.maps_live, after.maps_dropped, after.entries),
            (0, 1, 0),
            "retired when consumed, before the iterator runs"
        );
        assert_eq!(sorted(iter.collect()), expected);

        // An iterator dropped without running drops the entries.
        let unused = small_tables("rayon-into-par-iter-unused", 100).into_par_iter();
        drop(unused);
    }

    #[test]
    fn par_drain_empties_the_map_and_counts_removes_as_drain_does() {
        let mut par = small_tables("rayon-par-drain", 800);
        let mut seq = small_tables("rayon-drain", 800);
        // Each map has its own random hasher, hence its own split history and layout.
        let layout = |m: &SplitMap<u64, u64>| (m.tables(), m.capacity(), m.allocation_size());
        let layouts = [layout(&par), layout(&seq)];

        let drain: ParDrain<'_, u64, u64> = par.par_drain();
        assert!(format!("{drain:?}").contains("remaining: 800"));
        let got = sorted(drain.collect::<Vec<_>>());
        let want = sorted(seq.drain().collect::<Vec<_>>());
        assert_eq!(got, want);

        for (map, before) in [(&par, layouts[0]), (&seq, layouts[1])] {
            map.check_invariants();
            assert!(map.is_empty());
            assert_eq!(map.iter().count(), 0);
            assert_eq!(layout(map), before, "the allocation is kept");
            let stats = map.stats().unwrap();
            assert_eq!((stats.len, stats.inserts, stats.removes), (0, 800, 800));
        }

        // Refilled, then drained by an iterator that is dropped unused: still empty, counted.
        par.extend((0..50).map(|i| (i, i)));
        drop(par.par_drain());
        par.check_invariants();
        assert!(par.is_empty());
        assert_eq!(par.stats().unwrap().removes, 850);

        // A consumer that panics: the map is empty and coherent all the same.
        par.extend((0..300).map(|i| (i, i)));
        let caught = catch_unwind(AssertUnwindSafe(|| {
            par.par_drain().for_each(|(k, _)| assert_ne!(k, 150));
        }));
        assert!(caught.is_err());
        par.check_invariants();
        assert!(par.is_empty());
        let stats = par.stats().unwrap();
        assert_eq!((stats.len, stats.removes), (0, 1150));

        // Leaked: empty as well, as after a leaked `drain` (the tables' memory is leaked).
        par.extend((0..20).map(|i| (i, i)));
        std::mem::forget(par.par_drain());
        assert!(par.is_empty());
        assert_eq!(par.iter().count(), 0);
        assert_eq!(par.stats().unwrap().len, 0);
        par.insert(7, 7);
        assert_eq!(par.get(&7), Some(&7));
    }

    #[test]
    fn par_extend_counts_exactly_as_extend_does() {
        let pairs = |i: u64| (i % 1500, i);
        let mut par: SplitMap<u64, u64> = SplitMap::new()
            .with_table_max_buckets(16)
            .named("rayon-par-extend");
        par.par_extend((0..2000u64).into_par_iter().map(pairs));
        let mut seq: SplitMap<u64, u64> = SplitMap::new()
            .with_table_max_buckets(16)
            .named("rayon-extend");
        seq.extend((0..2000u64).map(pairs));
        par.check_invariants();
        assert!(par.tables() >= 64, "{} tables", par.tables());
        assert_eq!(entries(&par), entries(&seq));
        let (p, s) = (par.stats().unwrap(), seq.stats().unwrap());
        assert_eq!((p.len, p.inserts, p.updates), (1500, 1500, 500));
        assert_eq!((p.len, p.inserts, p.updates), (s.len, s.inserts, s.updates));
        assert_eq!(p.tables, par.tables() as u64);

        // Into a non-empty map, from `Copy` references: two new keys, one update.
        let more = [(9000u64, 1u64), (9001, 2), (3, 4)];
        par.par_extend(more.par_iter().map(|(k, v)| (k, v)));
        seq.extend(more.iter().map(|(k, v)| (k, v)));
        par.check_invariants();
        assert_eq!(entries(&par), entries(&seq));
        let (p, s) = (par.stats().unwrap(), seq.stats().unwrap());
        assert_eq!((p.len, p.inserts, p.updates), (1502, 1502, 501));
        assert_eq!((p.len, p.inserts, p.updates), (s.len, s.inserts, s.updates));
    }

    #[test]
    fn collect_builds_the_map_that_the_sequential_collect_builds() {
        let n = mapgov::split_map::TABLE_MAX_ENTRIES as u64 * 3 / 2;
        let par: SplitMap<u64, u64> = (0..n).into_par_iter().map(|i| (i, i * i)).collect();
        let seq: SplitMap<u64, u64> = (0..n).map(|i| (i, i * i)).collect();
        par.check_invariants();
        assert!(par.tables() >= 2, "{} tables", par.tables());
        assert_eq!(par, seq);
        let stats = par.stats().unwrap();
        assert_eq!((stats.len, stats.inserts, stats.updates), (n, n, 0));
        assert_eq!(stats.tables, par.tables() as u64);

        let empty: SplitMap<u64, u64> = Vec::<(u64, u64)>::new().into_par_iter().collect();
        assert!(empty.is_empty());
    }
}
