//! Policies: the shrink policy frees memory after removals without changing what the map does,
//! and does not shrink an oscillating map again and again; budgets report each crossing once,
//! through the stats, the callback and a `tracing` warning, and never drop data.
//!
//! Every test calls [`setup`] first: it installs `track_min_bytes(0)` and `lookup_sample(1)`,
//! and a budget for maps named `budgeted-by-config`, before any map of this binary allocates.

use std::collections::HashMap as StdMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Once};

use mapgov::hash_map::Entry;
use mapgov::{Budget, BudgetCrossing, Config, HashMap, ShrinkPolicy};
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestRunner};

#[path = "support/tracing_capture.rs"]
mod tracing_capture;
use tracing_capture::{Capture, Captured, with_capture};

#[path = "support/intentional_panic.rs"]
mod intentional_panic;

const FILE: &str = "tests/policy.rs";
const CONFIG_BUDGETED: &str = "budgeted-by-config";
const CONFIG_BUDGET: u64 = 10;

fn setup() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = Config::from_env()
            .track_min_bytes(0)
            .lookup_sample(1)
            .budget_for(CONFIG_BUDGETED, Budget::entries(CONFIG_BUDGET))
            .install();
        let config = mapgov::current_config();
        assert!(config.is_enabled(), "these tests need governance on");
        assert_eq!(config.get_track_min_bytes(), 0);
        assert_eq!(config.get_lookup_sample(), 1);
    });
}

/// What a table sized for `n` entries allocates (what `shrink_to(n)` leaves when it shrinks).
fn bytes_for(n: usize) -> usize {
    HashMap::<u64, u64>::with_capacity(n).allocation_size()
}

/// Asserts that the map holds exactly `model`'s entries.
fn assert_same(m: &HashMap<u64, u64>, model: &StdMap<u64, u64>) {
    assert_eq!(m.len(), model.len());
    for (k, v) in model {
        assert_eq!(m.get(k), Some(v), "key {k}");
    }
}

/// A map with the shrink policy, filled with `0..n`.
fn filled(n: u64, policy: ShrinkPolicy) -> HashMap<u64, u64> {
    let mut m = HashMap::new().shrink_policy(policy);
    for i in 0..n {
        m.insert(i, i);
    }
    m
}

// ---------------------------------------------------------------------------------------------
// Shrink policy: parity with std
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Op {
    Insert(u64, u64),
    Remove(u64),
    RemoveEntry(u64),
    Get(u64),
    EntryOrInsert(u64, u64),
    EntryAndModify(u64),
    EntryRemove(u64),
    Retain(u64),
    Clear,
    InsertRange(u64, u64),
    RemoveRange(u64, u64),
    ShrinkToFit,
}

fn op() -> impl Strategy<Value = Op> {
    let key = 0..3_000u64;
    prop_oneof![
        8 => (key.clone(), any::<u64>()).prop_map(|(k, v)| Op::Insert(k, v)),
        6 => key.clone().prop_map(Op::Remove),
        2 => key.clone().prop_map(Op::RemoveEntry),
        2 => key.clone().prop_map(Op::Get),
        4 => (key.clone(), any::<u64>()).prop_map(|(k, v)| Op::EntryOrInsert(k, v)),
        2 => key.clone().prop_map(Op::EntryAndModify),
        3 => key.clone().prop_map(Op::EntryRemove),
        1 => (1..8u64).prop_map(Op::Retain),
        1 => Just(Op::Clear),
        2 => (key.clone(), 1..2_000u64).prop_map(|(s, n)| Op::InsertRange(s, n)),
        3 => (key, 1..3_000u64).prop_map(|(s, n)| Op::RemoveRange(s, n)),
        1 => Just(Op::ShrinkToFit),
    ]
}

/// Shrinks seen across all the proptest cases: the policy must actually have acted.
static PROPTEST_SHRINKS: AtomicU64 = AtomicU64::new(0);

fn run_ops(policy: ShrinkPolicy, ops: &[Op]) -> Result<(), TestCaseError> {
    let mut m: HashMap<u64, u64> = HashMap::new().shrink_policy(policy);
    let mut model: StdMap<u64, u64> = StdMap::new();
    let (mut inserts, mut removes) = (0u64, 0u64);
    for op in ops {
        match *op {
            Op::Insert(k, v) => {
                let r = m.insert(k, v);
                prop_assert_eq!(r, model.insert(k, v));
                inserts += u64::from(r.is_none());
            }
            Op::Remove(k) => {
                let r = m.remove(&k);
                prop_assert_eq!(r, model.remove(&k));
                removes += u64::from(r.is_some());
            }
            Op::RemoveEntry(k) => {
                let r = m.remove_entry(&k);
                prop_assert_eq!(r, model.remove_entry(&k));
                removes += u64::from(r.is_some());
            }
            Op::Get(k) => prop_assert_eq!(m.get(&k), model.get(&k)),
            Op::EntryOrInsert(k, v) => {
                let present = model.contains_key(&k);
                let a = *m.entry(k).or_insert(v);
                let b = *model.entry(k).or_insert(v);
                prop_assert_eq!(a, b);
                inserts += u64::from(!present);
            }
            Op::EntryAndModify(k) => {
                let present = model.contains_key(&k);
                let a = *m.entry(k).and_modify(|v| *v += 1).or_insert(7);
                let b = *model.entry(k).and_modify(|v| *v += 1).or_insert(7);
                prop_assert_eq!(a, b);
                inserts += u64::from(!present);
            }
            Op::EntryRemove(k) => {
                let a = match m.entry(k) {
                    Entry::Occupied(o) => Some(o.remove()),
                    Entry::Vacant(_) => None,
                };
                prop_assert_eq!(a, model.remove(&k));
                removes += u64::from(a.is_some());
            }
            Op::Retain(d) => {
                let before = model.len();
                m.retain(|k, _| k % d != 0);
                model.retain(|k, _| k % d != 0);
                removes += (before - model.len()) as u64;
            }
            Op::Clear => {
                removes += model.len() as u64;
                m.clear();
                model.clear();
            }
            Op::InsertRange(s, n) => {
                for k in s..s + n {
                    let r = m.insert(k, k);
                    prop_assert_eq!(r, model.insert(k, k));
                    inserts += u64::from(r.is_none());
                }
            }
            Op::RemoveRange(s, n) => {
                for k in s..s + n {
                    let r = m.remove(&k);
                    prop_assert_eq!(r, model.remove(&k));
                    removes += u64::from(r.is_some());
                }
            }
            Op::ShrinkToFit => m.shrink_to_fit(),
        }
        prop_assert_eq!(m.len(), model.len());
        prop_assert!(m.capacity() >= m.len());
        let stats = m.stats().expect("governed");
        prop_assert_eq!(stats.len, model.len() as u64);
        prop_assert_eq!(stats.allocated_bytes, m.allocation_size() as u64);
    }
    let stats = m.stats().expect("governed");
    prop_assert_eq!(stats.len, model.len() as u64);
    prop_assert_eq!(stats.inserts, inserts);
    prop_assert_eq!(stats.removes, removes);
    let mut got: Vec<(u64, u64)> = m.iter().map(|(&k, &v)| (k, v)).collect();
    let mut want: Vec<(u64, u64)> = model.iter().map(|(&k, &v)| (k, v)).collect();
    got.sort_unstable();
    want.sort_unstable();
    prop_assert_eq!(got, want);
    PROPTEST_SHRINKS.fetch_add(stats.shrinks, Ordering::Relaxed);
    Ok(())
}

#[test]
fn shrink_policy_keeps_std_behaviour_and_exact_counts() {
    setup();
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 256,
        ..ProptestConfig::default()
    });
    // The default policy (without its 64 KiB floor, so that small tables shrink too), and
    // random trigger ratios and headrooms.
    let policy = prop_oneof![
        Just(ShrinkPolicy::default().min_bytes(0)),
        (2..9u32, 1.0..4.0f64).prop_map(|(ratio, headroom)| {
            ShrinkPolicy::default()
                .min_bytes(0)
                .trigger_ratio(ratio)
                .headroom(headroom)
        }),
    ];
    let strategy = (policy, proptest::collection::vec(op(), 1..100));
    if let Err(e) = runner.run(&strategy, |(policy, ops)| run_ops(policy, &ops)) {
        panic!("{e}");
    }
    assert!(
        PROPTEST_SHRINKS.load(Ordering::Relaxed) > 0,
        "the shrink policy never acted: the test proves nothing"
    );
}

// ---------------------------------------------------------------------------------------------
// Shrink policy: memory, knobs, hysteresis
// ---------------------------------------------------------------------------------------------

#[test]
fn mass_removal_frees_memory_down_to_the_headroom() {
    setup();
    for headroom in [1.0, 2.0] {
        let mut m = filled(100_000, ShrinkPolicy::default().headroom(headroom));
        let full = m.allocation_size();
        let mut model: StdMap<u64, u64> = (0..100_000).map(|i| (i, i)).collect();
        for i in 0..99_000 {
            assert_eq!(m.remove(&i), model.remove(&i));
        }
        assert_same(&m, &model);
        let limit = bytes_for((1_000.0 * headroom) as usize);
        assert!(
            m.allocation_size() <= limit,
            "headroom {headroom}: {} bytes after the removals, {limit} for 1,000 x headroom",
            m.allocation_size()
        );
        assert!(m.allocation_size() < full / 8);
        let stats = m.stats().expect("governed");
        assert!(stats.shrinks >= 1);
        assert_eq!((stats.len, stats.removes), (1_000, 99_000));
        assert_eq!(stats.allocated_bytes, m.allocation_size() as u64);
    }
}

#[test]
fn without_a_policy_a_map_keeps_its_memory() {
    setup();
    let mut m: HashMap<u64, u64> = HashMap::new();
    for i in 0..100_000 {
        m.insert(i, i);
    }
    let full = m.allocation_size();
    for i in 0..99_000 {
        m.remove(&i);
    }
    assert_eq!(m.allocation_size(), full);
    assert_eq!(m.stats().expect("governed").shrinks, 0);
}

/// Removes keys `0..` one by one until the first shrink; returns `len` at that moment.
fn remove_until_first_shrink(m: &mut HashMap<u64, u64>) -> u64 {
    let mut k = 0;
    while m.stats().expect("governed").shrinks == 0 {
        assert!(m.remove(&k).is_some(), "never shrank");
        k += 1;
    }
    m.len() as u64
}

#[test]
fn trigger_ratio_sets_the_length_of_the_first_shrink() {
    setup();
    for ratio in [4u32, 8, 16] {
        let mut m = filled(100_000, ShrinkPolicy::default().trigger_ratio(ratio));
        let capacity = m.capacity() as u64;
        let len = remove_until_first_shrink(&mut m);
        assert_eq!(
            len,
            capacity / u64::from(ratio),
            "ratio {ratio}: shrinks when len <= capacity / ratio"
        );
        assert_eq!(m.allocation_size(), bytes_for(2 * len as usize));
    }
    // With ratio 3, `len x 2` at the trigger needs as many buckets as the table has: the
    // first real shrink comes once `len x 2` fits half of them.
    let mut m = filled(100_000, ShrinkPolicy::default().trigger_ratio(3));
    let capacity = m.capacity() as u64;
    let len = remove_until_first_shrink(&mut m);
    assert!(len <= capacity / 3 && len * 2 <= capacity / 2, "{len}");
    assert_eq!(m.allocation_size(), bytes_for(2 * len as usize));
    // A ratio below 2 means 2.
    let a = ShrinkPolicy::default().trigger_ratio(0);
    assert_eq!(a, ShrinkPolicy::default().trigger_ratio(2));
}

#[test]
fn a_higher_trigger_ratio_leaves_a_moderately_emptied_map_alone() {
    setup();
    let mut lazy = filled(100_000, ShrinkPolicy::default().trigger_ratio(8));
    let mut eager = filled(100_000, ShrinkPolicy::default());
    let full = lazy.allocation_size();
    // Down to 20,000 of 114,688: below a quarter, above an eighth.
    for i in 0..80_000 {
        lazy.remove(&i);
        eager.remove(&i);
    }
    assert_eq!(lazy.allocation_size(), full);
    assert_eq!(lazy.stats().expect("governed").shrinks, 0);
    assert!(eager.allocation_size() < full);
    assert!(eager.stats().expect("governed").shrinks >= 1);
}

#[test]
fn headroom_sets_the_size_a_shrink_leaves() {
    setup();
    for headroom in [1.0, 1.5, 2.0, 3.0] {
        let mut m = filled(100_000, ShrinkPolicy::default().headroom(headroom));
        let capacity = m.capacity() as u64;
        let len = remove_until_first_shrink(&mut m);
        let target = (len as f64 * headroom).ceil() as usize;
        assert!(len * 4 <= capacity, "headroom {headroom}: shrank early");
        assert!(m.capacity() >= target, "headroom {headroom}");
        assert_eq!(
            m.allocation_size(),
            bytes_for(target),
            "headroom {headroom}: the table holds len x headroom"
        );
        if headroom <= 2.0 {
            // The target fits a table of half the buckets: the first shrink comes at once.
            assert_eq!(len, capacity / 4, "headroom {headroom}");
        }
    }
}

#[test]
fn min_bytes_leaves_small_tables_alone() {
    setup();
    // Above the table's size: never shrinks.
    let mut m = filled(100_000, ShrinkPolicy::default().min_bytes(1 << 30));
    let full = m.allocation_size();
    for i in 0..100_000 {
        m.remove(&i);
    }
    m.insert(1, 1);
    assert_eq!(m.allocation_size(), full);
    assert_eq!(m.stats().expect("governed").shrinks, 0);

    // 1 MiB: shrinks while the table is at least 1 MiB, then stops.
    let min = 1u64 << 20;
    let mut m = filled(100_000, ShrinkPolicy::default().min_bytes(min));
    for i in 0..99_000 {
        m.remove(&i);
    }
    let bytes = m.allocation_size() as u64;
    assert!(m.stats().expect("governed").shrinks >= 1);
    assert!(bytes < min, "{bytes}");
    // It stopped at the first table under 1 MiB (halving each time), not at 1,000 x 2.
    assert!(bytes * 2 > min, "{bytes}");
    assert!(bytes > bytes_for(2_000) as u64);

    // The default (64 KiB) leaves tables under 64 KiB alone.
    let mut m = filled(1_500, ShrinkPolicy::default());
    assert!(m.allocation_size() < 64 * 1024);
    let full = m.allocation_size();
    for i in 0..1_500 {
        m.remove(&i);
    }
    assert_eq!(m.allocation_size(), full);
    assert_eq!(m.stats().expect("governed").shrinks, 0);
}

#[test]
fn the_next_insert_after_a_retain_shrinks() {
    setup();
    let mut m = filled(100_000, ShrinkPolicy::default());
    let full = m.allocation_size();
    m.retain(|k, _| *k < 1_000);
    assert_eq!(m.allocation_size(), full, "retain itself does not shrink");
    m.insert(1_000_000, 0);
    assert!(m.allocation_size() <= bytes_for(2 * 1_001));
    assert_eq!(m.len(), 1_001);
    assert_eq!(m.stats().expect("governed").shrinks, 1);
}

#[cfg(feature = "rayon")]
#[test]
fn the_next_insert_after_a_parallel_drain_shrinks() {
    use rayon::iter::{ParallelDrainFull, ParallelIterator};
    setup();
    let mut m = filled(100_000, ShrinkPolicy::default());
    let full = m.allocation_size();
    // Counted at once when it starts, with no policy check of its own: the insert room is
    // armed so that the next insert runs it.
    assert_eq!((&mut m).par_drain().count(), 100_000);
    assert_eq!(
        m.allocation_size(),
        full,
        "the drain itself does not shrink"
    );
    m.insert(1, 0);
    assert!(m.allocation_size() < full);
    assert_eq!(m.stats().expect("governed").shrinks, 1);
}

#[test]
fn a_split_map_emptied_in_bulk_crosses_its_entry_budget_again_when_refilled() {
    setup();
    let mut m: mapgov::SplitMap<u64, u64> = mapgov::SplitMap::new().budget(Budget::entries(100));
    let exceeded = |m: &mapgov::SplitMap<u64, u64>| m.stats().expect("governed").budget_exceeded;
    let mut crossings = 0;
    for empty in ["drain", "retain", "clear"] {
        for i in 0..150 {
            m.insert(i, i);
        }
        crossings += 1;
        assert_eq!(exceeded(&m), crossings, "{empty}: filled past the budget");
        // Back under the budget without an insert or a removal's own check in between: the
        // first insert after it re-arms the budget, so refilling crosses it again.
        match empty {
            "drain" => assert_eq!(m.drain().count(), 150),
            "retain" => m.retain(|_, _| false),
            _ => m.clear(),
        }
        assert!(m.is_empty());
    }
    for i in 0..150 {
        m.insert(i, i);
    }
    assert_eq!(exceeded(&m), crossings + 1);
}

#[test]
fn an_oscillating_map_shrinks_a_bounded_number_of_times() {
    setup();
    let mut m: HashMap<u64, u64> = HashMap::new().shrink_policy(ShrinkPolicy::default());
    let mut model: StdMap<u64, u64> = StdMap::new();
    let (mut shrinks_after, mut grows_after) = (Vec::new(), Vec::new());
    for cycle in 0..20u64 {
        let base = cycle * 100_000;
        for i in base..base + 50_000 {
            assert_eq!(m.insert(i, cycle), model.insert(i, cycle));
        }
        assert_same(&m, &model);
        for i in base..base + 50_000 {
            assert_eq!(m.remove(&i), model.remove(&i));
        }
        assert!(m.is_empty() && model.is_empty());
        let stats = m.stats().expect("governed");
        shrinks_after.push(stats.shrinks);
        grows_after.push(stats.grows);
    }
    let stats = m.stats().expect("governed");
    assert!(
        stats.shrinks <= 10,
        "{} shrinks over 20 cycles: {shrinks_after:?}",
        stats.shrinks
    );
    assert!(shrinks_after[0] >= 1, "the first drain shrinks");
    assert_eq!(
        shrinks_after[1], shrinks_after[19],
        "later cycles add no shrinks: {shrinks_after:?}"
    );
    assert_eq!(stats.inserts, 20 * 50_000);
    assert_eq!(stats.removes, 20 * 50_000);
    // The map regrows to its working size in the second cycle and stays about there: at most
    // a grow or two more, when the tombstones of a drain make a refill grow (as std's would).
    assert!(
        grows_after[19] - grows_after[1] <= 2,
        "the map keeps regrowing: {grows_after:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Budgets
// ---------------------------------------------------------------------------------------------

/// A callback that records every crossing.
fn recorder() -> (
    Arc<Mutex<Vec<BudgetCrossing>>>,
    impl Fn(&BudgetCrossing) + Send + Sync,
) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    (seen, move |c: &BudgetCrossing| {
        sink.lock().unwrap().push(c.clone())
    })
}

fn exceeded(m: &HashMap<u64, u64>) -> u64 {
    m.stats().expect("governed").budget_exceeded
}

#[test]
fn an_entry_budget_counts_each_crossing_once() {
    setup();
    let (seen, callback) = recorder();
    let (line, m) = (line!(), HashMap::<u64, u64>::new());
    let mut m = m
        .named("policy-entries")
        .budget(Budget::entries(100).on_exceed(callback));
    let mut model = StdMap::new();
    for i in 0..100 {
        m.insert(i, i);
        model.insert(i, i);
    }
    assert_eq!(exceeded(&m), 0, "at the limit is within it");
    m.insert(100, 100);
    model.insert(100, 100);
    assert_eq!(exceeded(&m), 1);
    // Staying above (inserts, updates, removes that stay above) is the same crossing.
    for i in 101..500 {
        m.insert(i, i);
        model.insert(i, i);
    }
    m.insert(5, 0);
    model.insert(5, 0);
    for i in 300..500 {
        m.remove(&i);
        model.remove(&i);
    }
    assert_eq!(exceeded(&m), 1);
    // Back within it, then over again: a second crossing.
    for i in 100..300 {
        m.remove(&i);
        model.remove(&i);
    }
    assert_eq!(m.len(), 100);
    assert_eq!(exceeded(&m), 1);
    m.insert(1_000, 0);
    model.insert(1_000, 0);
    assert_eq!(exceeded(&m), 2);
    // No data was refused or dropped.
    assert_same(&m, &model);

    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    for c in seen.iter() {
        assert!(c.site.file.ends_with(FILE), "{c:?}");
        assert_eq!(c.site.line, line);
        assert_eq!(c.name.as_deref(), Some("policy-entries"));
        assert_eq!(c.limit_kind, "entries");
        assert_eq!((c.limit, c.value), (100, 101));
    }
    // The site counts the crossings too.
    let snap = mapgov::snapshot();
    let site = snap
        .sites
        .iter()
        .find(|s| s.name.as_deref() == Some("policy-entries"))
        .expect("site");
    assert_eq!(site.budget_exceeded, 2);
}

#[test]
fn a_map_churning_under_its_entry_budget_crosses_it_only_past_the_limit() {
    setup();
    let mut m: HashMap<u64, u64> = HashMap::new().budget(Budget::entries(50));
    for i in 0..40 {
        m.insert(i, i);
    }
    // Removes give the inserts no room back: the room armed at 40 entries runs out many times
    // in this churn between 39 and 49 entries, and each of those checks finds nothing to do.
    for round in 0..200u64 {
        let base = 1_000 + round * 10;
        for k in base..base + 10 {
            m.insert(k, 0);
        }
        assert_eq!(m.len(), 50, "round {round}");
        assert_eq!(exceeded(&m), 0, "round {round}: at the limit is within it");
        for k in base..base + 10 {
            m.remove(&k);
        }
    }
    let s = m.stats().expect("governed");
    assert_eq!((s.len, s.inserts, s.removes), (40, 40 + 2_000, 2_000));
    assert_eq!(s.peak_len, 50);
    // Past it, once, at the first insert that takes the length to 51.
    for k in 0..10 {
        m.insert(10_000 + k, 0);
    }
    assert_eq!(exceeded(&m), 0);
    m.insert(20_000, 0);
    assert_eq!((m.len(), exceeded(&m)), (51, 1));
}

#[test]
fn a_copy_past_the_entry_budget_is_reported_at_the_next_insert() {
    setup();
    let mut m: HashMap<u64, u64> = HashMap::new().budget(Budget::entries(100));
    m.insert(0, 0);
    let source: HashMap<u64, u64> = (0..150).map(|i| (i, i)).collect();
    // A bulk insert of 150 entries, counted at once: the room armed for 99 more inserts is
    // used up by it, so the next insert checks the length, as after 150 single inserts.
    m.clone_from(&source);
    assert_eq!(m.len(), 150);
    m.insert(1_000, 0);
    assert_eq!(exceeded(&m), 1);
    assert_eq!(m.stats().expect("governed").inserts, 1 + 150 + 1);
}

#[test]
fn entry_api_inserts_cross_the_entry_budget() {
    setup();
    let mut m: HashMap<u64, u64> = HashMap::new().budget(Budget::entries(10));
    for i in 0..10 {
        *m.entry(i).or_insert(0) += 1;
    }
    assert_eq!(exceeded(&m), 0);
    *m.entry(10).or_default() += 1;
    assert_eq!(exceeded(&m), 1);
    m.entry(11).insert_entry(0);
    *m.entry(3).or_insert(0) += 1;
    assert_eq!(exceeded(&m), 1);
    // Back to 10 through the entry API, then over again.
    for k in [10, 11] {
        match m.entry(k) {
            Entry::Occupied(o) => {
                o.remove();
            }
            Entry::Vacant(_) => panic!("{k} is present"),
        }
    }
    assert_eq!(m.len(), 10);
    m.entry(12).or_insert_with(|| 5);
    assert_eq!(exceeded(&m), 2);
    assert_eq!(m.len(), 11);
}

#[test]
fn the_entry_budget_rearms_after_a_retain_back_to_the_limit() {
    setup();
    let mut m: HashMap<u64, u64> = HashMap::new().budget(Budget::entries(10));
    for i in 0..15 {
        m.insert(i, i);
    }
    assert_eq!(exceeded(&m), 1);
    // Back within the budget (10 entries) through a bulk removal, then over it again.
    m.retain(|k, _| *k < 10);
    assert_eq!(m.len(), 10);
    m.insert(100, 0);
    assert_eq!(m.len(), 11);
    assert_eq!(
        exceeded(&m),
        2,
        "10 -> 11 entries after a retain is a new crossing of a 10-entry budget"
    );
}

#[test]
fn a_byte_budget_counts_each_crossing_once() {
    setup();
    let limit = 64 * 1024;
    let (seen, callback) = recorder();
    let (line, m) = (line!(), HashMap::<u64, u64>::new());
    let mut m = m
        .named("policy-bytes")
        .budget(Budget::bytes(limit).on_exceed(callback));
    let mut model = StdMap::new();
    let mut sizes_at_crossing = Vec::new();
    let fill = |m: &mut HashMap<u64, u64>, model: &mut StdMap<u64, u64>, sizes: &mut Vec<_>| {
        for i in 0..20_000 {
            let before = seen.lock().unwrap().len();
            m.insert(i, i);
            model.insert(i, i);
            if seen.lock().unwrap().len() > before {
                sizes.push(m.allocation_size() as u64);
            }
        }
    };
    fill(&mut m, &mut model, &mut sizes_at_crossing);
    assert!(m.allocation_size() as u64 > 4 * limit, "grew well past it");
    assert_eq!(exceeded(&m), 1);
    // Removals alone do not change the table's bytes: still the same crossing.
    for i in 100..20_000 {
        m.remove(&i);
        model.remove(&i);
    }
    assert_eq!(exceeded(&m), 1);
    m.shrink_to_fit();
    assert!((m.allocation_size() as u64) <= limit);
    assert_eq!(exceeded(&m), 1);
    fill(&mut m, &mut model, &mut sizes_at_crossing);
    assert_eq!(exceeded(&m), 2);
    assert_same(&m, &model);

    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    assert_eq!(sizes_at_crossing.len(), 2);
    for (c, &size) in seen.iter().zip(&sizes_at_crossing) {
        assert!(c.site.file.ends_with(FILE) && c.site.line == line, "{c:?}");
        assert_eq!(c.name.as_deref(), Some("policy-bytes"));
        assert_eq!(c.limit_kind, "bytes");
        assert_eq!(c.limit, limit);
        assert_eq!(c.value, size, "the table's bytes just after the growth");
        assert!(c.value > limit);
    }
}

#[test]
fn entries_and_bytes_limits_cross_separately() {
    setup();
    let (seen, callback) = recorder();
    let mut m: HashMap<u64, u64> = HashMap::new().budget(
        Budget::entries(1_000)
            .and_bytes(1 << 20)
            .on_exceed(callback),
    );
    for i in 0..1_001 {
        m.insert(i, i);
    }
    assert_eq!(exceeded(&m), 1);
    for i in 1_001..100_000 {
        m.insert(i, i);
    }
    assert_eq!(exceeded(&m), 2);
    let kinds: Vec<&str> = seen.lock().unwrap().iter().map(|c| c.limit_kind).collect();
    assert_eq!(kinds, ["entries", "bytes"]);
    assert_eq!(m.len(), 100_000);
}

#[test]
fn a_panicking_callback_does_not_reach_the_insert() {
    setup();
    let calls = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&calls);
    let mut m: HashMap<u64, u64> = HashMap::new().budget(Budget::entries(5).on_exceed(move |_| {
        counter.fetch_add(1, Ordering::Relaxed);
        panic!("budget callback panics on purpose");
    }));
    let mut model = StdMap::new();
    for i in 0..10 {
        assert_eq!(m.insert(i, i), model.insert(i, i));
    }
    assert_eq!(exceeded(&m), 1);
    for i in 0..10 {
        m.remove(&i);
        model.remove(&i);
    }
    for i in 0..10 {
        assert_eq!(m.insert(i, i), model.insert(i, i));
    }
    assert_eq!(exceeded(&m), 2);
    assert_eq!(calls.load(Ordering::Relaxed), 2);
    assert_same(&m, &model);
    // The map is still fully usable.
    m.insert(99, 99);
    assert_eq!(m.get(&99), Some(&99));
}

#[test]
fn a_configured_budget_applies_to_maps_of_that_name() {
    setup();
    let mut m: HashMap<u64, u64> = HashMap::new().named(CONFIG_BUDGETED);
    for i in 0..CONFIG_BUDGET {
        m.insert(i, i);
    }
    assert_eq!(exceeded(&m), 0);
    m.insert(CONFIG_BUDGET, 0);
    assert_eq!(exceeded(&m), 1);
    assert_eq!(m.len() as u64, CONFIG_BUDGET + 1);

    // A map's own budget wins over the configured one, set before or after the name.
    let mut before: HashMap<u64, u64> = HashMap::new()
        .budget(Budget::entries(100))
        .named(CONFIG_BUDGETED);
    let mut after: HashMap<u64, u64> = HashMap::new()
        .named(CONFIG_BUDGETED)
        .budget(Budget::entries(100));
    for i in 0..50 {
        before.insert(i, i);
        after.insert(i, i);
    }
    assert_eq!((exceeded(&before), exceeded(&after)), (0, 0));

    // Other names get no budget.
    let mut other: HashMap<u64, u64> = HashMap::new().named("not-budgeted-by-config");
    for i in 0..1_000 {
        other.insert(i, i);
    }
    assert_eq!(exceeded(&other), 0);
}

// ---------------------------------------------------------------------------------------------
// The tracing warning
// ---------------------------------------------------------------------------------------------

#[test]
fn a_tracing_subscriber_sees_one_warning_per_crossing() {
    setup();
    let capture = Capture::default();
    let events = Arc::clone(&capture.0);
    let (line, m) = (line!(), HashMap::<u64, u64>::new());
    let mut m = m.named("policy-traced").budget(Budget::entries(50));
    with_capture(capture, || {
        for i in 0..200 {
            m.insert(i, i);
        }
        // Back within the budget, then over it again.
        for i in 0..150 {
            m.remove(&i);
        }
        for i in 0..150 {
            m.insert(i, i);
        }
    });
    assert_eq!(exceeded(&m), 2);
    let events = events.lock().unwrap();
    // Only the warnings: the map's lifecycle events (created, grew, ...) are debug events.
    let warnings: Vec<&Captured> = events
        .iter()
        .filter(|e| e.target == "mapgov" && e.level == tracing::Level::WARN)
        .collect();
    assert_eq!(warnings.len(), 2, "{events:#?}");
    for w in warnings {
        assert_eq!(w.level, tracing::Level::WARN);
        let field = |name: &str| w.fields.get(name).map(String::as_str);
        assert_eq!(field("message"), Some("map budget exceeded"), "{w:#?}");
        assert_eq!(field("name"), Some("policy-traced"));
        assert_eq!(field("limit_kind"), Some("entries"));
        assert_eq!(field("limit"), Some("50"));
        assert_eq!(field("value"), Some("51"));
        let site = field("site").expect("site field");
        assert!(
            site.contains(&format!("{FILE}:{line}:")),
            "site {site:?} should name {FILE}:{line}"
        );
    }
}

/// Keeps the intentional panics out of the test output (once per process).
#[cfg(feature = "tracing")]
fn hide_intentional_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(intentional_panic::hide_intentional_panics);
}

/// A `tracing` subscriber that panics on every warning (intentionally: see
/// `intentional_panic`).
#[cfg(feature = "tracing")]
fn panic_on_warnings() -> Capture {
    Capture::panicking_on_warnings(format!(
        "{}: the subscriber panics on a warning",
        intentional_panic::PANIC_TAG
    ))
}

/// The entry API counts an insert before making it (so that the value is the last thing
/// written): a panic in the budget's warning, user code, reaches the caller before the insert
/// is made, and the insert is uncounted, so the counts still agree with the table.
#[cfg(feature = "tracing")]
#[test]
fn a_panicking_warning_on_an_entry_insert_leaves_counts_and_table_agreeing() {
    use std::panic::{AssertUnwindSafe, catch_unwind};

    setup();
    hide_intentional_panics();
    let mut m: HashMap<u64, u64> = HashMap::new().budget(Budget::entries(5));
    let mut split: mapgov::SplitMap<u64, u64> = mapgov::SplitMap::new().budget(Budget::entries(5));
    for i in 0..5 {
        *m.entry(i).or_insert(0) += 1;
        *split.entry(i).or_insert(0) += 1;
    }
    with_capture(panic_on_warnings(), || {
        let crossed = catch_unwind(AssertUnwindSafe(|| *m.entry(5).or_insert(7) += 1));
        let message = intentional_panic::payload_message(crossed.expect_err("the warning panics"));
        assert!(
            message.starts_with(intentional_panic::PANIC_TAG),
            "{message}"
        );
        intentional_panic::expect_intentional_panic("the warning (SplitMap)", || {
            split.entry(5).insert_entry(7);
        });
    });
    assert_eq!((m.len(), m.get(&5)), (5, None));
    assert_eq!((split.len(), split.get(&5)), (5, None));
    for stats in [m.stats().expect("stats"), split.stats().expect("stats")] {
        assert_eq!(stats.budget_exceeded, 1);
        assert_eq!((stats.len, stats.inserts, stats.removes), (5, 5, 0));
    }
    // Both maps go on as before. The insert reported as crossing the budget was never made,
    // so the next insert crosses it, and is reported, again.
    for k in [6, 7] {
        *m.entry(k).or_insert(0) += 1;
        *split.entry(k).or_insert(0) += 1;
    }
    for stats in [m.stats().expect("stats"), split.stats().expect("stats")] {
        assert_eq!(stats.budget_exceeded, 2);
        assert_eq!((stats.len, stats.inserts), (7, 7));
    }
}

/// mapgov marks the thread while it emits a `tracing` event (so that a subscriber's own maps do
/// not re-enter `tracing`); a subscriber that panics must not leave the mark set and silence
/// the thread's later events.
#[cfg(feature = "tracing")]
#[test]
fn a_panicking_subscriber_does_not_silence_later_warnings() {
    use std::panic::{AssertUnwindSafe, catch_unwind};

    setup();
    hide_intentional_panics();
    let mut m: HashMap<u64, u64> = HashMap::new().budget(Budget::entries(2));
    with_capture(panic_on_warnings(), || {
        let crossed = catch_unwind(AssertUnwindSafe(|| {
            for i in 0..3 {
                m.insert(i, i);
            }
        }));
        assert!(crossed.is_err(), "the warning panics");
    });
    // `insert` counts after inserting: the key that crossed is in the map.
    assert_eq!(m.len(), 3);
    m.remove(&0);
    let capture = Capture::default();
    let events = Arc::clone(&capture.0);
    with_capture(capture, || {
        m.insert(0, 0);
    });
    assert_eq!(exceeded(&m), 2);
    let events = events.lock().unwrap();
    let warnings = events
        .iter()
        .filter(|e| e.target == "mapgov" && e.level == tracing::Level::WARN)
        .count();
    assert_eq!(warnings, 1, "{events:#?}");
}
