//! Governance off (`MAPGOV=off`, here `Config::enabled(false)`): every map behaves as a plain
//! map through growth from empty, removal, shrinking and clearing, and nothing about it reaches
//! a snapshot. Off maps grow by their own short path (not the governed resize path), so this
//! checks that path keeps the table right.
use std::collections::HashMap as StdMap;

use mapgov::{Config, HashMap, HashSet};

/// Installs governance off, or finds it in force (the other test of this file installed it).
fn install_off() {
    if let Err(e) = Config::default().enabled(false).install() {
        assert!(!e.current.is_enabled(), "another configuration is in force");
    }
}

#[test]
fn maps_with_governance_off_behave_as_plain_maps_and_count_nothing() {
    install_off();
    let here = file!();

    // Many small maps (the lifecycle the benchmark measures) and one big one.
    for i in 0..1000u64 {
        let mut m: HashMap<u64, u64> = HashMap::new();
        for j in 0..(i % 9) {
            assert_eq!(m.insert(i * 16 + j, j), None);
        }
        assert_eq!(m.len() as u64, i % 9);
        for j in 0..(i % 9) {
            assert_eq!(m.get(&(i * 16 + j)), Some(&j));
        }
        assert_eq!(m.get(&u64::MAX), None);
    }

    let mut big: HashMap<u64, u64> = HashMap::new();
    let mut model = StdMap::new();
    for k in 0..50_000u64 {
        let k = k.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        assert_eq!(big.insert(k, k ^ 1), model.insert(k, k ^ 1));
        *big.entry(k).or_insert(0) += 1;
        *model.entry(k).or_insert(0) += 1;
    }
    let keys: Vec<u64> = model.keys().copied().collect();
    for k in &keys[..40_000] {
        assert_eq!(big.remove(k), model.remove(k));
    }
    big.shrink_to_fit();
    assert!(
        big.capacity() < 20_000,
        "shrink_to_fit left {}",
        big.capacity()
    );
    assert_eq!(big.len(), model.len());
    for (k, v) in &model {
        assert_eq!(big.get(k), Some(v));
        assert!(big.contains_key(k));
    }
    for k in &keys[..40_000] {
        assert_eq!(big.get(k), None);
    }
    big.clear();
    assert!(big.is_empty());
    big.insert(1, 2);
    assert_eq!(big.get_key_value(&1), Some((&1, &2)));
    if let Some(v) = big.get_mut(&1) {
        *v = 3;
    }
    assert_eq!(big[&1], 3);

    let set: HashSet<u32> = (0..10_000).collect();
    assert_eq!(set.len(), 10_000);
    assert!((0..10_000).all(|x| set.contains(&x)));

    let s = mapgov::snapshot();
    assert!(
        s.sites.iter().all(|site| !site.site.file.ends_with(here)),
        "governance off, yet a site of this file was counted"
    );
    assert!(big.stats().is_none(), "governance off, yet a map has stats");
}

#[test]
fn maps_marked_off_by_their_first_allocation_keep_behaving_as_plain_maps() {
    install_off();
    // Each map allocates by a different cold path first (growth of an insert, a capacity, a
    // reserve, a naming, an extend, a clone; `map.rs` checks which of them mark the handle),
    // then goes through the writes.
    let mut maps: Vec<HashMap<u64, u64>> = vec![HashMap::new(), HashMap::with_capacity(3)];
    let mut reserved = HashMap::new();
    reserved.reserve(100);
    maps.push(reserved);
    let mut named = HashMap::new().named("off-map");
    named.set_budget(Some(mapgov::Budget::entries(1)));
    maps.push(named.count_every_lookup());
    let mut extended = HashMap::new();
    extended.extend([(7, 7), (8, 8)]);
    extended.clear();
    maps.push(extended);
    let mut source = HashMap::new();
    source.insert(9, 9);
    source.remove(&9);
    maps.push(source.clone());

    for (i, m) in maps.iter_mut().enumerate() {
        let mut model = StdMap::new();
        for k in 0..300u64 {
            let k = k * 31 + i as u64;
            assert_eq!(m.insert(k, k), model.insert(k, k));
            assert_eq!(m.insert(k, k + 1), model.insert(k, k + 1), "an update");
            *m.entry(k + 1_000_000).or_insert(0) += 2;
            *model.entry(k + 1_000_000).or_insert(0) += 2;
        }
        assert_eq!(
            m.remove_entry(&(31 + i as u64)),
            model.remove_entry(&(31 + i as u64))
        );
        m.retain(|k, _| k % 3 != 0);
        model.retain(|k, _| k % 3 != 0);
        let mut drained: Vec<(u64, u64)> = m.extract_if(|k, _| k % 5 == 0).collect();
        let mut expected: Vec<(u64, u64)> = model.extract_if(|k, _| k % 5 == 0).collect();
        drained.sort_unstable();
        expected.sort_unstable();
        assert_eq!(drained, expected);
        m.shrink_to_fit();
        assert_eq!(m.len(), model.len());
        for (k, v) in &model {
            assert_eq!(m.get(k), Some(v), "map {i} lost key {k}");
        }
        let copy = m.clone();
        assert_eq!(copy.len(), model.len());
        assert_eq!(m.drain().count(), model.len());
        assert!(m.is_empty());
        assert!(
            m.stats().is_none() && copy.stats().is_none(),
            "map {i} has stats"
        );
    }
    let s = mapgov::snapshot();
    assert!(
        s.sites
            .iter()
            .all(|site| !site.site.file.ends_with(file!())),
        "governance off, yet a site of this file was counted"
    );
}
