//! Governance off (`MAPGOV=off`, here `Config::enabled(false)`): every map behaves as a plain
//! map through growth from empty, removal, shrinking and clearing, and nothing about it reaches
//! a snapshot. Off maps grow by their own short path (not the governed resize path), so this
//! checks that path keeps the table right.
use std::collections::HashMap as StdMap;

use mapgov::{Config, HashMap, HashSet};

#[test]
fn maps_with_governance_off_behave_as_plain_maps_and_count_nothing() {
    Config::default().enabled(false).install().unwrap();
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
