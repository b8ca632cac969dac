//! Lookups on maps that have not allocated leave the configuration unread: `Config::install`
//! still succeeds after them, and maps created afterwards sample their lookups as configured.
//! (Its own test binary: the configuration is process-wide and read once.)
use mapgov::{Config, HashMap};

#[path = "support/sampling.rs"]
mod sampling;

#[test]
fn lookups_on_maps_without_a_table_leave_the_configuration_unread_and_sampling_intact() {
    // Lookups on a map with no table run the thread's sampling countdown out (it starts at 1)
    // and again on the lookups after; none of them may read the configuration.
    let empty: HashMap<u64, u64> = HashMap::new();
    for k in 0..10_000u64 {
        assert!(empty.get(&k).is_none());
    }
    Config::default()
        .track_min_bytes(0)
        .lookup_sample(7)
        .install()
        .expect("a lookup on a map without a table read the configuration");

    // Sampling works from the next lookup on, with the bare map's lookups still interleaved.
    const LOOKUPS: u64 = 350_000;
    let mut sampled: HashMap<u64, u64> = HashMap::new();
    for k in 0..100 {
        sampled.insert(k, k);
    }
    assert_eq!(sampled.stats().expect("tracked").lookup_sample, 7);
    let mut hits = 0u64;
    for i in 0..LOOKUPS {
        hits += u64::from(sampled.get(&(i % 125)).is_some());
        assert!(empty.get(&i).is_none());
    }
    let misses = LOOKUPS - hits;
    // About 40,000 sampled hits and 10,000 sampled misses: a 5 % bound is five standard
    // errors or more.
    let s = sampled.stats().expect("tracked");
    sampling::assert_estimates_within_five_percent(&s, hits, misses, 7);
    assert!(empty.stats().is_none(), "the empty map stayed untracked");
}
