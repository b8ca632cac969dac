//! Parity: `mapgov::HashMap` behaves exactly like `std::collections::HashMap`, and counts what it
//! does exactly.
//!
//! Three parts:
//!
//! 1. One test per stable std `HashMap` method, entry method and trait impl (Rust 1.95): the same
//!    inputs go to mapgov's map and to std's, the results are compared, and mapgov's counters
//!    (`stats()`) are asserted exactly.
//! 2. Drop-in parity at compile time: the same "typical user code" is compiled twice, once with
//!    `use std::collections::{HashMap, hash_map::Entry}` and once with
//!    `use mapgov::{HashMap, hash_map::Entry}`, and both builds must agree at run time; the auto
//!    traits (`Send`, `Sync`, `UnwindSafe`, `RefUnwindSafe`, `Unpin`) of the map, its entries and
//!    its iterators are probed and must match std's for every representative key/value type.
//! 3. A proptest runs random operation sequences on both maps side by side, compares every
//!    return value and the contents after every step, and checks `stats()` (and the map's entry in
//!    `mapgov::snapshot()`) against an independent model of the counters. Growths and shrinks in
//!    that model come from an independent observer: this binary's global allocator, which sees
//!    each table allocation and free of the map under test.
//!
//! Every test calls [`setup`] first, which installs `track_min_bytes(0)` (every map that
//! allocates is tracked) and `lookup_sample(1)` (every lookup counted) before any map of this
//! binary allocates. Maps whose entry in the snapshot is checked get a unique name, so tests
//! running in parallel never share a site.

#[macro_use]
#[path = "support/auto_traits.rs"]
mod auto_traits;
use auto_traits::CellHasher;

use std::cell::Cell;
use std::collections::HashMap as StdMap;
use std::collections::hash_map as std_hash_map;
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher, Hash, Hasher};
use std::marker::PhantomPinned;
use std::panic::{AssertUnwindSafe, RefUnwindSafe, UnwindSafe, catch_unwind};
use std::rc::Rc;
use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};

use mapgov::hash_map as gov_hash_map;
use mapgov::hash_map::Entry as GovEntry;
use mapgov::{Config, HashMap, MapStats};
use std::collections::hash_map::Entry as StdEntry;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Installs the exact-counting configuration once, before any map of this binary allocates.
fn setup() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Ignore `AlreadyInstalled`, but insist on the settings this suite relies on.
        let _ = Config::from_env()
            .track_min_bytes(0)
            .lookup_sample(1)
            .install();
        let config = mapgov::current_config();
        assert!(
            config.is_enabled(),
            "the parity suite needs governance on (MAPGOV unset)"
        );
        assert_eq!(config.get_track_min_bytes(), 0);
        assert_eq!(config.get_lookup_sample(), 1);
    });
}

/// A process-unique map name.
fn unique(prefix: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!("parity-{prefix}-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// The counters this suite asserts exactly.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Counts {
    len: u64,
    inserts: u64,
    updates: u64,
    removes: u64,
    hits: u64,
    misses: u64,
    peak_len: u64,
    grows: u64,
    rehashes: u64,
    shrinks: u64,
}

const ZERO: Counts = Counts {
    len: 0,
    inserts: 0,
    updates: 0,
    removes: 0,
    hits: 0,
    misses: 0,
    peak_len: 0,
    grows: 0,
    rehashes: 0,
    shrinks: 0,
};

impl Counts {
    fn of(s: &MapStats) -> Counts {
        Counts {
            len: s.len,
            inserts: s.inserts,
            updates: s.updates,
            removes: s.removes,
            hits: s.hits,
            misses: s.misses,
            peak_len: s.peak_len,
            grows: s.grows,
            rehashes: s.rehashes,
            shrinks: s.shrinks,
        }
    }

    /// What a map holding `n` entries from the start reports (a fresh clone).
    fn present(n: u64) -> Counts {
        Counts {
            len: n,
            peak_len: n,
            ..ZERO
        }
    }

    fn lookup(&mut self, hit: bool) {
        if hit {
            self.hits += 1;
        } else {
            self.misses += 1;
        }
    }

    fn write(&mut self, replaced: bool) {
        if replaced {
            self.updates += 1;
        } else {
            self.inserts += 1;
        }
    }

    /// Sets `len` (and `peak_len`) after an operation.
    fn set_len(&mut self, len: usize) {
        self.len = len as u64;
        self.peak_len = self.peak_len.max(self.len);
    }
}

fn counts<K, V, S>(map: &HashMap<K, V, S>) -> Counts {
    Counts::of(
        &map.stats()
            .expect("governance is on and this map has a stats cell"),
    )
}

/// `allocated_bytes` is the table's exact size, and `wasted_bytes` is exactly what
/// `shrink_to_fit()` frees (measured on a clone, which has the same allocation).
fn assert_memory_exact<K, V, S>(map: &HashMap<K, V, S>)
where
    K: Eq + Hash + Clone,
    V: Clone,
    S: BuildHasher + Clone,
{
    let stats = map.stats().expect("stats");
    assert_eq!(
        stats.allocated_bytes,
        map.allocation_size() as u64,
        "allocated_bytes"
    );
    let mut probe = map.clone();
    assert_eq!(
        probe.allocation_size(),
        map.allocation_size(),
        "a clone has the same allocation"
    );
    probe.shrink_to_fit();
    assert_eq!(
        stats.wasted_bytes,
        (map.allocation_size() - probe.allocation_size()) as u64,
        "wasted_bytes is what shrink_to_fit frees"
    );
}

fn sorted<T: Ord>(items: impl IntoIterator<Item = T>) -> Vec<T> {
    let mut v: Vec<T> = items.into_iter().collect();
    v.sort();
    v
}

/// A mapgov map and a std map holding keys `0..n` (value `10 * k`), pre-sized so that at least
/// eight more entries fit without growing. Their counters are [`filled_counts`]`(n)`.
fn filled(n: u64) -> (HashMap<u64, u64>, StdMap<u64, u64>) {
    let mut gov = HashMap::with_capacity(n as usize + 8);
    let mut std = StdMap::with_capacity(n as usize + 8);
    for k in 0..n {
        assert_eq!(gov.insert(k, 10 * k), std.insert(k, 10 * k));
    }
    assert_eq!(counts(&gov), filled_counts(n));
    (gov, std)
}

fn filled_counts(n: u64) -> Counts {
    Counts {
        len: n,
        inserts: n,
        peak_len: n,
        ..ZERO
    }
}

/// The message of the panic `f` raises.
fn panic_message(f: impl FnOnce()) -> String {
    let payload = catch_unwind(AssertUnwindSafe(f)).expect_err("expected a panic");
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic payload>".to_owned()
    }
}

/// A key whose `Eq` and `Hash` look only at the number: equal keys can be told apart by their
/// tag, which shows which key a map keeps.
#[derive(Clone, Copy, Debug)]
struct Tagged(u32, &'static str);

impl PartialEq for Tagged {
    fn eq(&self, other: &Tagged) -> bool {
        self.0 == other.0
    }
}

impl Eq for Tagged {}

impl Hash for Tagged {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

/// A deterministic hasher, so that std's and mapgov's maps hash alike.
type Fixed = BuildHasherDefault<DefaultHasher>;

// ---------------------------------------------------------------------------------------------
// Part 1: constructors and capacity
// ---------------------------------------------------------------------------------------------

#[test]
fn new_is_empty_allocates_nothing_and_has_stats_only_once_named() {
    setup();
    let gov: HashMap<u64, u64> = HashMap::new();
    let std: StdMap<u64, u64> = StdMap::new();
    assert_eq!(gov.len(), std.len());
    assert_eq!(gov.capacity(), std.capacity());
    assert_eq!(gov.is_empty(), std.is_empty());
    assert_eq!(gov.allocation_size(), 0);
    assert!(
        gov.stats().is_none(),
        "an unnamed map that never allocated has no stats"
    );
    let gov = gov.named(&unique("new"));
    assert_eq!(counts(&gov), ZERO);
    let stats = gov.stats().unwrap();
    assert_eq!((stats.allocated_bytes, stats.wasted_bytes), (0, 0));
    assert_eq!(stats.lookup_sample, 1);
}

#[test]
fn with_capacity_reserves_what_std_reserves_and_accounts_the_table() {
    setup();
    for n in [0usize, 1, 3, 4, 7, 8, 14, 15, 28, 29, 100, 1000] {
        let gov: HashMap<u64, u64> = HashMap::with_capacity(n);
        let std: StdMap<u64, u64> = StdMap::with_capacity(n);
        assert_eq!(
            gov.capacity(),
            std.capacity(),
            "with_capacity({n}) for u64 pairs"
        );
        let small: HashMap<u8, u8> = HashMap::with_capacity(n);
        let small_std: StdMap<u8, u8> = StdMap::with_capacity(n);
        assert_eq!(
            small.capacity(),
            small_std.capacity(),
            "with_capacity({n}) for u8 pairs"
        );
        if n == 0 {
            assert_eq!(gov.allocation_size(), 0);
            assert!(gov.stats().is_none());
            continue;
        }
        assert_eq!(counts(&gov), ZERO, "allocating is not growing");
        let stats = gov.stats().unwrap();
        assert_eq!(stats.allocated_bytes, gov.allocation_size() as u64);
        assert_eq!(
            stats.wasted_bytes, stats.allocated_bytes,
            "an empty table is all waste"
        );
        assert_eq!(stats.capacity, gov.capacity() as u64);
        assert_ne!(
            stats.id, 0,
            "track_min_bytes(0) tracks every map that allocates"
        );
        assert_memory_exact(&small);
    }
}

#[test]
fn with_capacity_overflow_panics_like_std() {
    setup();
    let std = panic_message(|| {
        let _ = StdMap::<u64, u64>::with_capacity(usize::MAX);
    });
    let gov = panic_message(|| {
        let _ = HashMap::<u64, u64>::with_capacity(usize::MAX);
    });
    assert_eq!(gov, std);
}

#[test]
fn with_hasher_hashes_with_the_given_builder() {
    setup();
    let mut gov = HashMap::with_hasher(Fixed::default()).named(&unique("with-hasher"));
    let mut std = StdMap::with_hasher(Fixed::default());
    for k in [3u64, 1, 4, 1, 5] {
        assert_eq!(gov.insert(k, k), std.insert(k, k));
    }
    assert_eq!(sorted(&gov), sorted(&std));
    assert_eq!(gov.hasher().hash_one(42u64), std.hasher().hash_one(42u64));
    assert_eq!(
        counts(&gov),
        Counts {
            len: 4,
            inserts: 4,
            updates: 1,
            peak_len: 4,
            grows: 1, // capacity 3 -> 7 on the fourth insert (an update: insert reserves first)
            ..ZERO
        }
    );
    assert_eq!(gov.capacity(), std.capacity());
}

#[test]
fn with_hasher_is_const_like_std() {
    setup();
    const GOV: HashMap<u8, u8, Fixed> = HashMap::with_hasher(BuildHasherDefault::new());
    const STD: StdMap<u8, u8, Fixed> = StdMap::with_hasher(BuildHasherDefault::new());
    let (gov, std) = (GOV, STD);
    assert_eq!((gov.len(), gov.capacity()), (std.len(), std.capacity()));
}

#[test]
fn with_capacity_and_hasher_reserves_and_hashes_like_std() {
    setup();
    let seed = foldhash::fast::FixedState::with_seed(7);
    let mut gov = HashMap::with_capacity_and_hasher(20, seed.clone());
    let mut std = StdMap::with_capacity_and_hasher(20, seed.clone());
    assert_eq!(gov.capacity(), std.capacity());
    for k in 0..20u32 {
        assert_eq!(gov.insert(k, k), std.insert(k, k));
    }
    assert_eq!(sorted(&gov), sorted(&std));
    assert_eq!(gov.hasher().hash_one(9u32), seed.hash_one(9u32));
    assert_eq!(gov.capacity(), std.capacity());
    assert_eq!(counts(&gov), filled_counts(20), "pre-sized: no growth");
    assert_memory_exact(&gov);
}

#[test]
fn capacity_follows_std_through_growth_and_every_growth_is_counted() {
    setup();
    let mut gov = HashMap::new();
    let mut std = StdMap::new();
    let mut growths = 0;
    for k in 0..2000u64 {
        let before = gov.capacity();
        assert_eq!(gov.insert(k, k), std.insert(k, k));
        assert_eq!(gov.capacity(), std.capacity(), "after {} inserts", k + 1);
        if before != 0 && gov.capacity() != before {
            growths += 1;
        }
    }
    assert!(growths >= 9, "grew through several sizes");
    assert_eq!(
        counts(&gov),
        Counts {
            grows: growths,
            ..filled_counts(2000)
        }
    );
    assert_memory_exact(&gov);
}

// ---------------------------------------------------------------------------------------------
// Part 1: iteration
// ---------------------------------------------------------------------------------------------

#[test]
fn keys_yields_every_key_once_and_counts_no_lookup() {
    setup();
    let (gov, std) = filled(20);
    assert_eq!(gov.keys().len(), std.keys().len());
    assert_eq!(sorted(gov.keys()), sorted(std.keys()));
    assert_eq!(counts(&gov), filled_counts(20));
}

#[test]
fn into_keys_yields_every_key_and_retires_the_map() {
    setup();
    let (gov, std) = filled(20);
    let name = unique("into-keys");
    let gov = gov.named(&name);
    assert!(mapgov::snapshot().map_named(&name).is_some());
    let it = gov.into_keys();
    assert_eq!(it.len(), 20);
    assert_eq!(sorted(it), sorted(std.into_keys()));
    assert_retired(&name, 20);
}

/// The map named `name` is gone from the snapshot's tracked maps, and its site holds nothing
/// while keeping its history.
fn assert_retired(name: &str, inserts: u64) {
    let snap = mapgov::snapshot();
    assert!(
        snap.map_named(name).is_none(),
        "a consumed map is no longer tracked"
    );
    let site = snap
        .sites
        .iter()
        .find(|s| s.name.as_deref() == Some(name))
        .expect("the site outlives its maps");
    assert_eq!(
        (site.maps_live, site.entries, site.allocated_bytes),
        (0, 0, 0)
    );
    assert_eq!(site.maps_dropped, 1);
    assert_eq!(site.inserts, inserts);
}

#[test]
fn values_yields_every_value_and_counts_no_lookup() {
    setup();
    let (gov, std) = filled(20);
    assert_eq!(gov.values().len(), std.values().len());
    assert_eq!(sorted(gov.values()), sorted(std.values()));
    assert_eq!(counts(&gov), filled_counts(20));
}

#[test]
fn values_mut_changes_values_in_place_without_counting_updates() {
    setup();
    let (mut gov, mut std) = filled(20);
    assert_eq!(gov.values_mut().len(), std.values_mut().len());
    gov.values_mut().for_each(|v| *v += 1);
    std.values_mut().for_each(|v| *v += 1);
    assert_eq!(sorted(&gov), sorted(&std));
    assert_eq!(counts(&gov), filled_counts(20));
}

#[test]
fn into_values_yields_every_value_and_retires_the_map() {
    setup();
    let (gov, std) = filled(20);
    let name = unique("into-values");
    let gov = gov.named(&name);
    let it = gov.into_values();
    assert_eq!(it.len(), 20);
    assert_eq!(sorted(it), sorted(std.into_values()));
    assert_retired(&name, 20);
}

#[test]
fn iter_yields_every_pair_once_and_counts_no_lookup() {
    setup();
    let (gov, std) = filled(20);
    assert_eq!(gov.iter().len(), std.iter().len());
    assert_eq!(sorted(gov.iter()), sorted(std.iter()));
    let it = gov.iter();
    assert_eq!(sorted(it.clone()), sorted(it), "Iter is Clone");
    assert_eq!(counts(&gov), filled_counts(20));
}

#[test]
fn iter_mut_changes_values_in_place_without_counting_updates() {
    setup();
    let (mut gov, mut std) = filled(20);
    assert_eq!(gov.iter_mut().len(), std.iter_mut().len());
    for (k, v) in gov.iter_mut() {
        *v += k;
    }
    for (k, v) in std.iter_mut() {
        *v += k;
    }
    assert_eq!(sorted(&gov), sorted(&std));
    assert_eq!(counts(&gov), filled_counts(20));
}

#[test]
fn len_and_is_empty_follow_the_contents_like_std() {
    setup();
    let mut gov = HashMap::new();
    let mut std = StdMap::new();
    assert_eq!((gov.len(), gov.is_empty()), (std.len(), std.is_empty()));
    for k in 0..5u8 {
        gov.insert(k, ());
        std.insert(k, ());
        assert_eq!((gov.len(), gov.is_empty()), (std.len(), std.is_empty()));
    }
    gov.remove(&3);
    std.remove(&3);
    assert_eq!((gov.len(), gov.is_empty()), (std.len(), std.is_empty()));
    gov.clear();
    std.clear();
    assert_eq!((gov.len(), gov.is_empty()), (std.len(), std.is_empty()));
    assert_eq!(gov.stats().unwrap().len, 0);
}

#[test]
fn drain_yields_everything_empties_the_map_keeps_the_table_and_counts_removes() {
    setup();
    let (mut gov, mut std) = filled(20);
    let bytes = gov.allocation_size();
    let drain = gov.drain();
    assert_eq!(drain.len(), 20);
    assert_eq!(sorted(drain), sorted(std.drain()));
    assert!(gov.is_empty());
    assert_eq!(gov.capacity(), std.capacity());
    assert_eq!(gov.allocation_size(), bytes, "drain keeps the allocation");
    assert_eq!(
        counts(&gov),
        Counts {
            len: 0,
            removes: 20,
            ..filled_counts(20)
        }
    );
    assert_memory_exact(&gov);
}

#[test]
fn drain_dropped_early_still_empties_the_map_and_counts_every_entry() {
    setup();
    let (mut gov, mut std) = filled(20);
    {
        let mut d = gov.drain();
        let mut s = std.drain();
        assert!(d.next().is_some() && s.next().is_some());
        assert_eq!(d.len(), s.len());
    }
    assert_eq!((gov.len(), gov.capacity()), (std.len(), std.capacity()));
    assert_eq!(
        counts(&gov),
        Counts {
            len: 0,
            removes: 20,
            ..filled_counts(20)
        }
    );
    assert_memory_exact(&gov);
}

#[test]
fn drain_leaked_leaves_the_map_empty_and_its_stats_exact() {
    setup();
    let (mut gov, mut std) = filled(20);
    std::mem::forget(gov.drain());
    std::mem::forget(std.drain());
    assert_eq!((gov.len(), gov.capacity()), (std.len(), std.capacity()));
    assert_eq!(counts(&gov).len, 0);
    let stats = gov.stats().unwrap();
    assert_eq!(stats.allocated_bytes, gov.allocation_size() as u64);
}

#[test]
fn extract_if_fully_consumed_removes_the_selected_entries_and_counts_each() {
    setup();
    let (mut gov, mut std) = filled(30);
    // The predicate may change the values of the entries it keeps.
    let pred = |k: &u64, v: &mut u64| {
        *v += 1;
        k.is_multiple_of(3)
    };
    let got = sorted(gov.extract_if(pred));
    assert_eq!(got, sorted(std.extract_if(pred)));
    assert_eq!(got.len(), 10);
    assert_eq!(sorted(&gov), sorted(&std));
    assert_eq!(
        counts(&gov),
        Counts {
            len: 20,
            removes: 10,
            ..filled_counts(30)
        }
    );
    assert_memory_exact(&gov);
}

#[test]
fn extract_if_dropped_early_removes_and_counts_only_what_it_yielded() {
    setup();
    let (mut gov, mut std) = filled(30);
    let before = sorted(std.iter().map(|(&k, &v)| (k, v)));
    let got: Vec<(u64, u64)> = gov.extract_if(|k, _| k % 2 == 0).take(4).collect();
    let got_std: Vec<(u64, u64)> = std.extract_if(|k, _| k % 2 == 0).take(4).collect();
    assert_eq!((got.len(), gov.len()), (got_std.len(), std.len()));
    assert!(got.iter().all(|(k, _)| k % 2 == 0));
    // What was extracted plus what is left is what there was.
    let mut rebuilt = sorted(gov.iter().map(|(&k, &v)| (k, v)));
    rebuilt.extend(got);
    assert_eq!(sorted(rebuilt), before);
    assert_eq!(
        counts(&gov),
        Counts {
            len: 26,
            removes: 4,
            ..filled_counts(30)
        }
    );
}

#[test]
fn retain_removes_rejected_entries_and_counts_them() {
    setup();
    // The same hasher for both: which removals leave tombstones (and so the capacity after
    // them) depends on where the entries sit.
    let mut gov: HashMap<u64, u64, Fixed> = HashMap::with_capacity_and_hasher(38, Fixed::default());
    let mut std: StdMap<u64, u64, Fixed> = StdMap::with_capacity_and_hasher(38, Fixed::default());
    for k in 0..30 {
        assert_eq!(gov.insert(k, 10 * k), std.insert(k, 10 * k));
    }
    let keep = |k: &u64, v: &mut u64| {
        *v *= 2;
        !k.is_multiple_of(3)
    };
    gov.retain(keep);
    std.retain(keep);
    assert_eq!(sorted(&gov), sorted(&std));
    assert_eq!(gov.capacity(), std.capacity());
    assert_eq!(
        counts(&gov),
        Counts {
            len: 20,
            removes: 10,
            ..filled_counts(30)
        }
    );
    assert_memory_exact(&gov);
}

#[test]
fn clear_removes_everything_keeps_the_table_and_counts_removes() {
    setup();
    let (mut gov, mut std) = filled(30);
    let bytes = gov.allocation_size();
    gov.clear();
    std.clear();
    assert!(gov.is_empty());
    assert_eq!(gov.capacity(), std.capacity());
    assert_eq!(gov.allocation_size(), bytes);
    assert_eq!(
        counts(&gov),
        Counts {
            len: 0,
            removes: 30,
            ..filled_counts(30)
        }
    );
    assert_eq!(gov.stats().unwrap().wasted_bytes, bytes as u64);
    assert_memory_exact(&gov);
}

#[test]
fn hasher_returns_the_builder_the_map_was_made_with() {
    setup();
    let seed = foldhash::fast::FixedState::with_seed(99);
    let gov: HashMap<u8, u8, _> = HashMap::with_hasher(seed.clone());
    let std: StdMap<u8, u8, _> = StdMap::with_hasher(seed.clone());
    assert_eq!(gov.hasher().hash_one("x"), seed.hash_one("x"));
    assert_eq!(gov.hasher().hash_one("x"), std.hasher().hash_one("x"));
    let default: HashMap<u8, u8> = HashMap::new();
    let _: &std::hash::RandomState = default.hasher();
}

// ---------------------------------------------------------------------------------------------
// Part 1: reserving and shrinking
// ---------------------------------------------------------------------------------------------

#[test]
fn reserve_grows_like_std_and_counts_one_grow() {
    setup();
    let (mut gov, mut std) = filled(3);
    gov.reserve(100);
    std.reserve(100);
    assert_eq!(gov.capacity(), std.capacity());
    assert_eq!(
        counts(&gov),
        Counts {
            grows: 1,
            ..filled_counts(3)
        }
    );
    assert_memory_exact(&gov);
    // Reserving what already fits changes nothing.
    let bytes = gov.allocation_size();
    gov.reserve(0);
    gov.reserve(gov.capacity() - gov.len());
    std.reserve(0);
    assert_eq!(
        (gov.capacity(), gov.allocation_size()),
        (std.capacity(), bytes)
    );
    assert_eq!(counts(&gov).grows, 1);
}

#[test]
fn reserve_on_an_empty_map_allocates_without_counting_a_grow() {
    setup();
    let mut gov: HashMap<u64, u64> = HashMap::new();
    let mut std: StdMap<u64, u64> = StdMap::new();
    gov.reserve(50);
    std.reserve(50);
    assert_eq!(gov.capacity(), std.capacity());
    assert_eq!(counts(&gov), ZERO);
    assert_memory_exact(&gov);
}

/// A hasher whose hash of an integer is the integer: key `k` lands in bucket `k` of a table
/// with more than `k` buckets, so a test can lay a table out exactly (std's and mapgov's alike).
#[derive(Clone, Copy, Debug, Default)]
struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type Identity = BuildHasherDefault<IdentityHasher>;

/// A table whose free room is all tombstones: keys `0..112` fill buckets `0..112` of 128, so
/// removing keys `16..=96` (31 keys stay) leaves a tombstone in each of their buckets (no empty
/// bucket within a probe group of them) and `capacity() == len()`: the next insert or reserve
/// must rehash in place.
fn tombstoned() -> (HashMap<u64, u64, Identity>, StdMap<u64, u64, Identity>) {
    let mut gov = HashMap::with_capacity_and_hasher(112, Identity::default());
    let mut std = StdMap::with_capacity_and_hasher(112, Identity::default());
    assert_eq!((gov.capacity(), std.capacity()), (112, 112));
    for k in 0..112 {
        assert_eq!(gov.insert(k, k), std.insert(k, k));
    }
    for k in 16..=96 {
        assert_eq!(gov.remove(&k), std.remove(&k));
    }
    assert_eq!(gov.len(), 31);
    assert_eq!(
        (gov.capacity(), std.capacity()),
        (31, 31),
        "tombstones eat capacity"
    );
    (gov, std)
}

/// The counters of [`tombstoned`]'s map.
const TOMBSTONED: Counts = Counts {
    len: 31,
    inserts: 112,
    removes: 81,
    peak_len: 112,
    ..ZERO
};

#[test]
fn reserve_in_a_table_of_tombstones_rehashes_in_place_like_std() {
    setup();
    let (mut gov, mut std) = tombstoned();
    let bytes = gov.allocation_size();
    gov.reserve(1);
    std.reserve(1);
    assert_eq!(gov.capacity(), std.capacity());
    assert_eq!(gov.capacity(), 112, "tombstones cleared");
    assert_eq!(gov.allocation_size(), bytes, "in place: nothing allocated");
    assert_eq!(
        counts(&gov),
        Counts {
            rehashes: 1,
            ..TOMBSTONED
        }
    );
    assert_memory_exact(&gov);
}

#[test]
fn insert_in_a_table_of_tombstones_rehashes_in_place_like_std() {
    setup();
    let (mut gov, mut std) = tombstoned();
    let bytes = gov.allocation_size();
    assert_eq!(gov.insert(1000, 1), std.insert(1000, 1));
    assert_eq!(gov.capacity(), std.capacity());
    assert_eq!(gov.allocation_size(), bytes, "in place: nothing allocated");
    assert_eq!(
        counts(&gov),
        Counts {
            len: 32,
            inserts: 113,
            rehashes: 1,
            ..TOMBSTONED
        }
    );
    assert_memory_exact(&gov);
}

#[test]
fn reserve_overflow_panics_like_std() {
    setup();
    let (mut gov, mut std) = filled(1);
    let expected = panic_message(|| std.reserve(usize::MAX));
    assert_eq!(panic_message(|| gov.reserve(usize::MAX)), expected);
    assert_eq!(counts(&gov), filled_counts(1));
    assert_memory_exact(&gov);
}

#[test]
fn try_reserve_succeeds_like_std_and_counts_the_growth() {
    setup();
    let (mut gov, mut std) = filled(3);
    assert_eq!(gov.try_reserve(500).is_ok(), std.try_reserve(500).is_ok());
    assert_eq!(gov.capacity(), std.capacity());
    assert_eq!(
        counts(&gov),
        Counts {
            grows: 1,
            ..filled_counts(3)
        }
    );
    assert!(gov.try_reserve(0).is_ok());
    assert_eq!(counts(&gov).grows, 1);
    assert_memory_exact(&gov);
}

#[test]
fn try_reserve_reports_capacity_overflow_like_std_and_changes_nothing() {
    setup();
    let (mut gov, mut std) = filled(3);
    let bytes = gov.allocation_size();
    for additional in [usize::MAX, usize::MAX / 2, usize::MAX - 2] {
        let e_std = std.try_reserve(additional).unwrap_err();
        let e_gov = gov.try_reserve(additional).unwrap_err();
        assert_eq!(e_gov, e_std, "try_reserve({additional})");
        assert_eq!(e_gov.to_string(), e_std.to_string());
    }
    assert_eq!(
        (gov.capacity(), gov.allocation_size()),
        (std.capacity(), bytes)
    );
    assert_eq!(counts(&gov), filled_counts(3));
    assert_memory_exact(&gov);
}

#[test]
#[cfg(target_pointer_width = "64")]
fn try_reserve_reports_allocation_failure_like_std() {
    setup();
    let (mut gov, mut std) = filled(3);
    // 2^44 pairs of 16 bytes: a layout that fits in isize but no allocator can serve.
    let e_std = std.try_reserve(1 << 44).unwrap_err();
    let e_gov = gov.try_reserve(1 << 44).unwrap_err();
    assert_eq!(e_gov.to_string(), e_std.to_string());
    assert_eq!(e_gov, e_std);
    assert_eq!(counts(&gov), filled_counts(3));
}

#[test]
fn shrink_to_fit_frees_exactly_the_reported_waste_and_counts_a_shrink() {
    setup();
    let (mut gov, mut std) = filled(1000);
    for k in 0..990 {
        gov.remove(&k);
        std.remove(&k);
    }
    let before = gov.allocation_size();
    let wasted = gov.stats().unwrap().wasted_bytes;
    assert!(wasted > 0);
    gov.shrink_to_fit();
    std.shrink_to_fit();
    assert_eq!(gov.capacity(), std.capacity());
    assert_eq!((before - gov.allocation_size()) as u64, wasted);
    assert_eq!(sorted(&gov), sorted(&std));
    assert_eq!(
        counts(&gov),
        Counts {
            len: 10,
            inserts: 1000,
            removes: 990,
            peak_len: 1000,
            shrinks: 1,
            ..ZERO
        }
    );
    assert_eq!(gov.stats().unwrap().wasted_bytes, 0);
    assert_memory_exact(&gov);
    // Already tight: nothing happens.
    gov.shrink_to_fit();
    assert_eq!(counts(&gov).shrinks, 1);
}

#[test]
fn shrink_to_fit_on_an_empty_map_frees_the_table_and_the_next_insert_is_no_grow() {
    setup();
    let (mut gov, mut std) = filled(10);
    gov.clear();
    std.clear();
    gov.shrink_to_fit();
    std.shrink_to_fit();
    assert_eq!((gov.capacity(), gov.allocation_size()), (std.capacity(), 0));
    assert_eq!(
        counts(&gov),
        Counts {
            len: 0,
            removes: 10,
            shrinks: 1,
            ..filled_counts(10)
        }
    );
    assert_eq!(gov.stats().unwrap().allocated_bytes, 0);
    assert_eq!(gov.insert(1, 1), std.insert(1, 1));
    assert_eq!(gov.capacity(), std.capacity());
    assert_eq!(counts(&gov).grows, 0, "allocating again is not growing");
    assert_memory_exact(&gov);
}

#[test]
fn shrink_to_keeps_at_least_the_minimum_like_std() {
    setup();
    let (mut gov, mut std) = filled(1000);
    for k in 0..900 {
        gov.remove(&k);
        std.remove(&k);
    }
    gov.shrink_to(200);
    std.shrink_to(200);
    assert_eq!(gov.capacity(), std.capacity());
    assert!(gov.capacity() >= 200);
    assert_eq!(counts(&gov).shrinks, 1);
    assert_memory_exact(&gov);
    // A minimum above the capacity changes nothing.
    let bytes = gov.allocation_size();
    gov.shrink_to(10_000);
    std.shrink_to(10_000);
    assert_eq!(
        (gov.capacity(), gov.allocation_size()),
        (std.capacity(), bytes)
    );
    // Below the length, the length wins.
    gov.shrink_to(0);
    std.shrink_to(0);
    assert_eq!(gov.capacity(), std.capacity());
    assert_eq!(sorted(&gov), sorted(&std));
    assert_eq!(
        counts(&gov),
        Counts {
            len: 100,
            inserts: 1000,
            removes: 900,
            peak_len: 1000,
            shrinks: 2,
            ..ZERO
        }
    );
    assert_memory_exact(&gov);
}

// ---------------------------------------------------------------------------------------------
// Part 1: the entry API
// ---------------------------------------------------------------------------------------------

#[test]
fn entry_or_insert_inserts_when_vacant_and_returns_the_value_when_occupied() {
    setup();
    let (mut gov, mut std) = filled(5);
    *gov.entry(1).or_insert(99) += 1;
    *std.entry(1).or_insert(99) += 1;
    *gov.entry(70).or_insert(7) += 1;
    *std.entry(70).or_insert(7) += 1;
    assert_eq!(sorted(&gov), sorted(&std));
    assert_eq!(
        counts(&gov),
        Counts {
            len: 6,
            inserts: 6,
            peak_len: 6,
            hits: 1,
            misses: 1,
            ..ZERO
        }
    );
}

#[test]
fn entry_or_insert_with_calls_the_default_only_when_vacant() {
    setup();
    let (mut gov, mut std) = filled(5);
    let calls = Cell::new((0, 0));
    let mut run = |k: u64| {
        let g = *gov.entry(k).or_insert_with(|| {
            calls.set((calls.get().0 + 1, calls.get().1));
            k + 1000
        });
        let s = *std.entry(k).or_insert_with(|| {
            calls.set((calls.get().0, calls.get().1 + 1));
            k + 1000
        });
        assert_eq!(g, s);
    };
    run(2);
    run(50);
    run(50);
    assert_eq!(calls.get(), (1, 1));
    assert_eq!(sorted(&gov), sorted(&std));
    assert_eq!(
        counts(&gov),
        Counts {
            len: 6,
            inserts: 6,
            peak_len: 6,
            hits: 2,
            misses: 1,
            ..ZERO
        }
    );
}

#[test]
fn entry_or_insert_with_key_passes_the_key_to_the_default() {
    setup();
    let (mut gov, mut std) = filled(5);
    assert_eq!(
        *gov.entry(40).or_insert_with_key(|k| k * 3),
        *std.entry(40).or_insert_with_key(|k| k * 3)
    );
    assert_eq!(
        *gov.entry(4).or_insert_with_key(|k| k * 3),
        *std.entry(4).or_insert_with_key(|k| k * 3)
    );
    assert_eq!(sorted(&gov), sorted(&std));
    assert_eq!(
        counts(&gov),
        Counts {
            len: 6,
            inserts: 6,
            peak_len: 6,
            hits: 1,
            misses: 1,
            ..ZERO
        }
    );
}

#[test]
fn entry_key_is_the_stored_key_when_occupied_and_the_given_key_when_vacant() {
    setup();
    let mut gov = HashMap::new();
    let mut std = StdMap::new();
    gov.insert(Tagged(1, "stored"), 0);
    std.insert(Tagged(1, "stored"), 0);
    assert_eq!(
        gov.entry(Tagged(1, "probe")).key().1,
        std.entry(Tagged(1, "probe")).key().1
    );
    assert_eq!(
        gov.entry(Tagged(2, "probe")).key().1,
        std.entry(Tagged(2, "probe")).key().1
    );
    assert_eq!(gov.len(), std.len());
    assert_eq!(
        counts(&gov),
        Counts {
            len: 1,
            inserts: 1,
            peak_len: 1,
            hits: 1,
            misses: 1,
            ..ZERO
        }
    );
}

#[test]
fn entry_and_modify_changes_only_occupied_entries_and_is_no_update() {
    setup();
    let (mut gov, mut std) = filled(5);
    for k in [1, 60, 60] {
        let g = *gov.entry(k).and_modify(|v| *v += 1).or_insert(0);
        let s = *std.entry(k).and_modify(|v| *v += 1).or_insert(0);
        assert_eq!(g, s);
    }
    assert_eq!(sorted(&gov), sorted(&std));
    assert_eq!(
        counts(&gov),
        Counts {
            len: 6,
            inserts: 6,
            peak_len: 6,
            hits: 2,
            misses: 1,
            ..ZERO
        }
    );
}

#[test]
fn entry_insert_entry_inserts_or_replaces_and_returns_the_occupied_entry() {
    setup();
    let (mut gov, mut std) = filled(5);
    for (k, v) in [(2, 200), (80, 800)] {
        let g = gov.entry(k).insert_entry(v);
        let s = std.entry(k).insert_entry(v);
        assert_eq!((g.key(), g.get()), (s.key(), s.get()));
    }
    assert_eq!(sorted(&gov), sorted(&std));
    assert_eq!(
        counts(&gov),
        Counts {
            len: 6,
            inserts: 6,
            updates: 1,
            peak_len: 6,
            hits: 1,
            misses: 1,
            ..ZERO
        }
    );
}

#[test]
fn entry_or_default_inserts_the_default_when_vacant() {
    setup();
    let mut gov: HashMap<&str, Vec<u8>> = HashMap::new();
    let mut std: StdMap<&str, Vec<u8>> = StdMap::new();
    for (k, b) in [("a", 1), ("b", 2), ("a", 3)] {
        gov.entry(k).or_default().push(b);
        std.entry(k).or_default().push(b);
    }
    assert_eq!(sorted(&gov), sorted(&std));
    assert_eq!(
        counts(&gov),
        Counts {
            len: 2,
            inserts: 2,
            peak_len: 2,
            hits: 1,
            misses: 2,
            ..ZERO
        }
    );
}

#[test]
fn occupied_entry_key_get_get_mut_and_into_mut_see_the_stored_entry() {
    setup();
    let mut gov = HashMap::new();
    let mut std = StdMap::new();
    gov.insert(Tagged(1, "stored"), 10);
    std.insert(Tagged(1, "stored"), 10);
    let (StdEntry::Occupied(mut s), GovEntry::Occupied(mut g)) =
        (std.entry(Tagged(1, "probe")), gov.entry(Tagged(1, "probe")))
    else {
        panic!("both occupied");
    };
    assert_eq!(g.key().1, s.key().1);
    assert_eq!(g.get(), s.get());
    *g.get_mut() += 1;
    *s.get_mut() += 1;
    let (g, s) = (g.into_mut(), s.into_mut());
    *g += 1;
    *s += 1;
    assert_eq!(sorted(gov.values()), sorted(std.values()));
    assert_eq!(gov[&Tagged(1, "x")], 12);
    assert_eq!(
        counts(&gov),
        Counts {
            len: 1,
            inserts: 1,
            peak_len: 1,
            hits: 2, // entry + index
            ..ZERO
        }
    );
}

#[test]
fn occupied_entry_insert_replaces_the_value_and_counts_an_update() {
    setup();
    let (mut gov, mut std) = filled(5);
    let (GovEntry::Occupied(mut g), StdEntry::Occupied(mut s)) = (gov.entry(3), std.entry(3))
    else {
        panic!("both occupied");
    };
    assert_eq!(g.insert(333), s.insert(333));
    assert_eq!(sorted(&gov), sorted(&std));
    assert_eq!(
        counts(&gov),
        Counts {
            updates: 1,
            hits: 1,
            ..filled_counts(5)
        }
    );
}

#[test]
fn occupied_entry_remove_entry_returns_the_stored_key_and_counts_a_remove() {
    setup();
    let mut gov = HashMap::new();
    let mut std = StdMap::new();
    gov.insert(Tagged(1, "stored"), 10);
    std.insert(Tagged(1, "stored"), 10);
    let (GovEntry::Occupied(g), StdEntry::Occupied(s)) =
        (gov.entry(Tagged(1, "probe")), std.entry(Tagged(1, "probe")))
    else {
        panic!("both occupied");
    };
    let (gk, gv) = g.remove_entry();
    let (sk, sv) = s.remove_entry();
    assert_eq!((gk.1, gv), (sk.1, sv));
    assert_eq!(gk.1, "stored");
    assert!(gov.is_empty() && std.is_empty());
    assert_eq!(
        counts(&gov),
        Counts {
            len: 0,
            inserts: 1,
            removes: 1,
            peak_len: 1,
            hits: 1,
            ..ZERO
        }
    );
}

#[test]
fn occupied_entry_remove_returns_the_value_and_counts_a_remove() {
    setup();
    let (mut gov, mut std) = filled(5);
    let (GovEntry::Occupied(g), StdEntry::Occupied(s)) = (gov.entry(4), std.entry(4)) else {
        panic!("both occupied");
    };
    assert_eq!(g.remove(), s.remove());
    assert_eq!(sorted(&gov), sorted(&std));
    assert_eq!(
        counts(&gov),
        Counts {
            len: 4,
            removes: 1,
            hits: 1,
            ..filled_counts(5)
        }
    );
}

#[test]
fn vacant_entry_key_and_into_key_give_back_the_key_without_inserting() {
    setup();
    let (mut gov, mut std) = filled(5);
    let (GovEntry::Vacant(g), StdEntry::Vacant(s)) = (gov.entry(77), std.entry(77)) else {
        panic!("both vacant");
    };
    assert_eq!(g.key(), s.key());
    assert_eq!(g.into_key(), s.into_key());
    assert_eq!(sorted(&gov), sorted(&std));
    assert_eq!(
        counts(&gov),
        Counts {
            misses: 1,
            ..filled_counts(5)
        }
    );
}

#[test]
fn vacant_entry_insert_returns_the_new_value_and_counts_an_insert() {
    setup();
    let (mut gov, mut std) = filled(5);
    let (GovEntry::Vacant(g), StdEntry::Vacant(s)) = (gov.entry(77), std.entry(77)) else {
        panic!("both vacant");
    };
    let (g, s) = (g.insert(7), s.insert(7));
    *g += 1;
    *s += 1;
    assert_eq!(sorted(&gov), sorted(&std));
    assert_eq!(
        counts(&gov),
        Counts {
            misses: 1,
            ..filled_counts(6)
        }
    );
}

#[test]
fn vacant_entry_insert_entry_returns_the_occupied_entry_and_counts_an_insert() {
    setup();
    let (mut gov, mut std) = filled(5);
    let (GovEntry::Vacant(g), StdEntry::Vacant(s)) = (gov.entry(77), std.entry(77)) else {
        panic!("both vacant");
    };
    let (g, s) = (g.insert_entry(7), s.insert_entry(7));
    assert_eq!((g.key(), g.get()), (s.key(), s.get()));
    assert_eq!(g.remove_entry(), s.remove_entry());
    assert_eq!(sorted(&gov), sorted(&std));
    assert_eq!(
        counts(&gov),
        Counts {
            len: 5,
            inserts: 6,
            removes: 1,
            peak_len: 6,
            misses: 1,
            ..ZERO
        }
    );
}

#[test]
fn entry_debug_text_matches_std() {
    setup();
    let mut gov = HashMap::from([(1u8, "one")]);
    let mut std = StdMap::from([(1u8, "one")]);
    assert_eq!(format!("{:?}", gov.entry(1)), format!("{:?}", std.entry(1)));
    assert_eq!(format!("{:?}", gov.entry(2)), format!("{:?}", std.entry(2)));
    let (GovEntry::Occupied(g), StdEntry::Occupied(s)) = (gov.entry(1), std.entry(1)) else {
        panic!("both occupied");
    };
    assert_eq!(format!("{g:?}"), format!("{s:?}"));
    let (GovEntry::Vacant(g), StdEntry::Vacant(s)) = (gov.entry(2), std.entry(2)) else {
        panic!("both vacant");
    };
    assert_eq!(format!("{g:?}"), format!("{s:?}"));
    assert_eq!(format!("{g:#?}"), format!("{s:#?}"));
}

/// A full table: `with_capacity(3)` gives capacity 3 for u64 pairs; three keys fill it.
fn full() -> (HashMap<u64, u64>, StdMap<u64, u64>) {
    let mut gov = HashMap::with_capacity(3);
    let mut std = StdMap::with_capacity(3);
    for k in 0..3 {
        gov.insert(k, k);
        std.insert(k, k);
    }
    assert_eq!((gov.len(), gov.capacity()), (3, 3));
    assert_eq!(std.capacity(), 3);
    (gov, std)
}

#[test]
fn entry_on_a_present_key_in_a_full_table_does_not_grow_like_std() {
    setup();
    let (mut gov, mut std) = full();
    *gov.entry(1).or_insert(0) += 1;
    *std.entry(1).or_insert(0) += 1;
    assert_eq!(
        gov.capacity(),
        std.capacity(),
        "std's entry() grows only for an absent key"
    );
    assert_eq!(
        counts(&gov),
        Counts {
            hits: 1,
            ..filled_counts(3)
        }
    );
}

#[test]
fn entry_on_an_absent_key_in_a_full_table_grows_like_std_even_if_nothing_is_inserted() {
    setup();
    let (mut gov, mut std) = full();
    let GovEntry::Vacant(g) = gov.entry(9) else {
        panic!("vacant")
    };
    let _ = g.into_key();
    let StdEntry::Vacant(s) = std.entry(9) else {
        panic!("vacant")
    };
    let _ = s.into_key();
    assert_eq!(gov.capacity(), std.capacity());
    assert_eq!(
        counts(&gov),
        Counts {
            misses: 1,
            grows: 1,
            ..filled_counts(3)
        }
    );
    assert_memory_exact(&gov);
}

// ---------------------------------------------------------------------------------------------
// Part 1: lookups, inserts and removals
// ---------------------------------------------------------------------------------------------

#[test]
fn get_finds_values_by_borrowed_key_and_counts_hits_and_misses() {
    setup();
    let mut gov: HashMap<String, Vec<u8>> = HashMap::new();
    let mut std: StdMap<String, Vec<u8>> = StdMap::new();
    gov.insert("a".into(), vec![1]);
    std.insert("a".into(), vec![1]);
    for k in ["a", "b", "a", ""] {
        assert_eq!(gov.get(k), std.get(k));
    }
    assert_eq!(
        counts(&gov),
        Counts {
            len: 1,
            inserts: 1,
            peak_len: 1,
            hits: 2,
            misses: 2,
            ..ZERO
        }
    );
}

#[test]
fn get_key_value_returns_the_stored_key_and_counts_the_lookup() {
    setup();
    let mut gov = HashMap::new();
    let mut std = StdMap::new();
    gov.insert(Tagged(1, "stored"), 1);
    std.insert(Tagged(1, "stored"), 1);
    let g = gov
        .get_key_value(&Tagged(1, "probe"))
        .map(|(k, v)| (k.1, *v));
    let s = std
        .get_key_value(&Tagged(1, "probe"))
        .map(|(k, v)| (k.1, *v));
    assert_eq!(g, s);
    assert_eq!(g, Some(("stored", 1)));
    assert_eq!(
        gov.get_key_value(&Tagged(2, "")).is_none(),
        std.get_key_value(&Tagged(2, "")).is_none()
    );
    assert_eq!(
        counts(&gov),
        Counts {
            len: 1,
            inserts: 1,
            peak_len: 1,
            hits: 1,
            misses: 1,
            ..ZERO
        }
    );
}

#[test]
fn get_disjoint_mut_returns_each_value_once_and_counts_each_key() {
    setup();
    let (mut gov, mut std) = filled(5);
    let g = gov.get_disjoint_mut([&1, &3, &99]);
    let s = std.get_disjoint_mut([&1, &3, &99]);
    assert_eq!(g, s);
    for v in g.into_iter().flatten() {
        *v += 5;
    }
    for v in s.into_iter().flatten() {
        *v += 5;
    }
    assert_eq!(sorted(&gov), sorted(&std));
    let g: [Option<&mut u64>; 0] = gov.get_disjoint_mut([]);
    let s: [Option<&mut u64>; 0] = std.get_disjoint_mut([]);
    assert_eq!(g, s);
    assert_eq!(
        counts(&gov),
        Counts {
            hits: 2,
            misses: 1,
            ..filled_counts(5)
        }
    );
}

#[test]
fn get_disjoint_mut_panics_on_overlapping_present_keys_like_std() {
    setup();
    let (mut gov, mut std) = filled(5);
    let expected = panic_message(|| {
        let _ = std.get_disjoint_mut([&1, &2, &1]);
    });
    let got = panic_message(|| {
        let _ = gov.get_disjoint_mut([&1, &2, &1]);
    });
    assert_eq!(got, expected);
    // The map is still usable and its counters are coherent.
    assert_eq!(gov.get(&1), std.get(&1));
    assert_eq!(
        counts(&gov),
        Counts {
            hits: 1,
            ..filled_counts(5)
        }
    );
}

#[test]
fn get_disjoint_mut_with_the_same_absent_key_twice_returns_none_like_std() {
    setup();
    let (mut gov, mut std) = filled(5);
    let g = gov.get_disjoint_mut([&50, &50]);
    let s = std.get_disjoint_mut([&50, &50]);
    assert_eq!(g, s);
    assert_eq!(g, [None, None]);
    assert_eq!(
        counts(&gov),
        Counts {
            misses: 2,
            ..filled_counts(5)
        }
    );
}

#[test]
fn get_disjoint_unchecked_mut_returns_each_value_and_counts_each_key() {
    setup();
    let (mut gov, mut std) = filled(5);
    // SAFETY: the keys are pairwise distinct.
    let (g, s) = unsafe {
        (
            gov.get_disjoint_unchecked_mut([&0, &4, &40]),
            std.get_disjoint_unchecked_mut([&0, &4, &40]),
        )
    };
    assert_eq!(g, s);
    for v in g.into_iter().flatten() {
        *v = 1;
    }
    for v in s.into_iter().flatten() {
        *v = 1;
    }
    assert_eq!(sorted(&gov), sorted(&std));
    assert_eq!(
        counts(&gov),
        Counts {
            hits: 2,
            misses: 1,
            ..filled_counts(5)
        }
    );
}

#[test]
fn contains_key_answers_like_std_and_counts_hits_and_misses() {
    setup();
    let (gov, std) = filled(5);
    for k in [0, 4, 5, 100] {
        assert_eq!(gov.contains_key(&k), std.contains_key(&k));
    }
    assert_eq!(
        counts(&gov),
        Counts {
            hits: 2,
            misses: 2,
            ..filled_counts(5)
        }
    );
}

#[test]
fn get_mut_changes_the_value_in_place_and_counts_the_lookup() {
    setup();
    let (mut gov, mut std) = filled(5);
    for k in [2, 20] {
        let g = gov.get_mut(&k).map(|v| {
            *v += 1;
            *v
        });
        let s = std.get_mut(&k).map(|v| {
            *v += 1;
            *v
        });
        assert_eq!(g, s);
    }
    assert_eq!(sorted(&gov), sorted(&std));
    assert_eq!(
        counts(&gov),
        Counts {
            hits: 1,
            misses: 1,
            ..filled_counts(5)
        }
    );
}

#[test]
fn insert_returns_the_old_value_keeps_the_stored_key_and_counts_an_update() {
    setup();
    let mut gov = HashMap::new();
    let mut std = StdMap::new();
    assert_eq!(
        gov.insert(Tagged(1, "first"), 1),
        std.insert(Tagged(1, "first"), 1)
    );
    assert_eq!(
        gov.insert(Tagged(1, "second"), 2),
        std.insert(Tagged(1, "second"), 2)
    );
    let g: Vec<_> = gov.iter().map(|(k, v)| (k.1, *v)).collect();
    let s: Vec<_> = std.iter().map(|(k, v)| (k.1, *v)).collect();
    assert_eq!(g, s);
    assert_eq!(g, [("first", 2)], "the key is not replaced");
    assert_eq!(
        counts(&gov),
        Counts {
            len: 1,
            inserts: 1,
            updates: 1,
            peak_len: 1,
            ..ZERO
        }
    );
}

#[test]
fn insert_of_a_present_key_into_a_full_table_grows_like_std() {
    setup();
    let (mut gov, mut std) = full();
    assert_eq!(gov.insert(1, 10), std.insert(1, 10));
    assert_eq!(
        gov.capacity(),
        std.capacity(),
        "insert reserves before it probes"
    );
    assert_eq!(
        counts(&gov),
        Counts {
            updates: 1,
            grows: 1,
            ..filled_counts(3)
        }
    );
    assert_memory_exact(&gov);
}

#[test]
fn remove_returns_the_value_and_counts_only_present_keys() {
    setup();
    let (mut gov, mut std) = filled(5);
    for k in [1, 1, 50] {
        assert_eq!(gov.remove(&k), std.remove(&k));
    }
    assert_eq!(sorted(&gov), sorted(&std));
    assert_eq!(
        counts(&gov),
        Counts {
            len: 4,
            removes: 1,
            ..filled_counts(5)
        }
    );
}

#[test]
fn remove_entry_returns_the_stored_key_and_counts_a_remove() {
    setup();
    let mut gov = HashMap::new();
    let mut std = StdMap::new();
    gov.insert(Tagged(1, "stored"), 1);
    std.insert(Tagged(1, "stored"), 1);
    let g = gov.remove_entry(&Tagged(1, "probe")).map(|(k, v)| (k.1, v));
    let s = std.remove_entry(&Tagged(1, "probe")).map(|(k, v)| (k.1, v));
    assert_eq!(g, s);
    assert_eq!(g, Some(("stored", 1)));
    assert_eq!(
        gov.remove_entry(&Tagged(1, "")).is_none(),
        std.remove_entry(&Tagged(1, "")).is_none()
    );
    assert_eq!(
        counts(&gov),
        Counts {
            len: 0,
            inserts: 1,
            removes: 1,
            peak_len: 1,
            ..ZERO
        }
    );
}

// ---------------------------------------------------------------------------------------------
// Part 1: trait impls
// ---------------------------------------------------------------------------------------------

#[test]
fn clone_copies_contents_and_allocation_and_starts_fresh_counters() {
    setup();
    let (gov, std) = tombstoned();
    let name = unique("clone");
    let gov = gov.named(&name);
    let copy = gov.clone();
    let line = line!() - 1;
    let std_copy = std.clone();
    assert_eq!(sorted(&copy), sorted(&std_copy));
    assert_eq!(
        copy.allocation_size(),
        gov.allocation_size(),
        "same buckets, same bytes"
    );
    assert_eq!(copy.capacity(), gov.capacity(), "tombstones are copied too");
    assert_eq!(std_copy.capacity(), std.capacity());
    assert_eq!(counts(&copy), Counts::present(31));
    let stats = copy.stats().unwrap();
    assert_eq!(
        stats.name.as_deref(),
        Some(name.as_str()),
        "the name is kept"
    );
    assert_eq!(stats.site.line, line, "attributed to the caller of clone()");
    assert_eq!(stats.lookup_sample, 1);
    assert_memory_exact(&copy);
    // The source is untouched.
    assert_eq!(counts(&gov).inserts, 112);
    // An empty map clones to an empty map.
    let empty: HashMap<u8, u8> = HashMap::new();
    assert_eq!(
        empty.clone().capacity(),
        StdMap::<u8, u8>::new().clone().capacity()
    );
}

#[test]
fn clone_from_a_bigger_map_replaces_the_contents_and_counts_a_grow() {
    setup();
    let (mut gov, mut std) = filled(5);
    let (gsrc, ssrc) = filled(100);
    gov.clone_from(&gsrc);
    std.clone_from(&ssrc);
    assert_eq!(sorted(&gov), sorted(&std));
    assert_eq!(gov.capacity(), std.capacity());
    assert_eq!(gov.allocation_size(), gsrc.allocation_size());
    assert_eq!(
        counts(&gov),
        Counts {
            len: 100,
            inserts: 105,
            removes: 5,
            peak_len: 100,
            grows: 1,
            ..ZERO
        }
    );
    assert_memory_exact(&gov);
}

#[test]
fn clone_from_a_smaller_map_replaces_the_contents_and_counts_a_shrink() {
    setup();
    let (mut gov, mut std) = filled(100);
    let (gsrc, ssrc) = filled(5);
    gov.clone_from(&gsrc);
    std.clone_from(&ssrc);
    assert_eq!(sorted(&gov), sorted(&std));
    assert_eq!(gov.capacity(), std.capacity());
    assert_eq!(
        counts(&gov),
        Counts {
            len: 5,
            inserts: 105,
            removes: 100,
            peak_len: 100,
            shrinks: 1,
            ..ZERO
        }
    );
    assert_memory_exact(&gov);
}

#[test]
fn clone_from_a_same_sized_map_reuses_the_table() {
    setup();
    let (mut gov, mut std) = filled(10);
    let (gsrc, ssrc) = filled(12); // same bucket count
    let bytes = gov.allocation_size();
    assert_eq!(bytes, gsrc.allocation_size());
    gov.clone_from(&gsrc);
    std.clone_from(&ssrc);
    assert_eq!(sorted(&gov), sorted(&std));
    assert_eq!(gov.allocation_size(), bytes);
    assert_eq!(
        counts(&gov),
        Counts {
            len: 12,
            inserts: 22,
            removes: 10,
            peak_len: 12,
            ..ZERO
        }
    );
}

#[test]
fn clone_from_an_unallocated_map_frees_the_table_and_counts_a_shrink() {
    setup();
    let (mut gov, mut std) = filled(10);
    gov.clone_from(&HashMap::new());
    std.clone_from(&StdMap::new());
    assert_eq!((gov.len(), gov.capacity()), (std.len(), std.capacity()));
    assert_eq!(gov.allocation_size(), 0);
    assert_eq!(
        counts(&gov),
        Counts {
            len: 0,
            removes: 10,
            shrinks: 1,
            ..filled_counts(10)
        }
    );
    assert_eq!(gov.stats().unwrap().allocated_bytes, 0);
}

#[test]
fn clone_from_counts_the_copied_entries_the_same_whether_or_not_the_map_was_named() {
    setup();
    let (src, _) = filled(5);
    let mut named: HashMap<u64, u64> = HashMap::new().named(&unique("clone-from-named"));
    let mut plain: HashMap<u64, u64> = HashMap::new();
    named.clone_from(&src);
    plain.clone_from(&src);
    assert_eq!(counts(&named), filled_counts(5));
    assert_eq!(counts(&plain), counts(&named));
}

#[test]
fn eq_compares_contents_like_std_and_counts_no_lookup() {
    setup();
    let (a, sa) = filled(20);
    let mut b = HashMap::with_capacity(500);
    let mut sb = StdMap::with_capacity(500);
    for k in (0..20).rev() {
        b.insert(k, 10 * k);
        sb.insert(k, 10 * k);
    }
    assert_eq!(a == b, sa == sb);
    assert!(
        a == b,
        "equal contents, different capacities and insertion orders"
    );
    b.insert(3, 0);
    sb.insert(3, 0);
    assert_eq!(a == b, sa == sb);
    assert_eq!(a != b, sa != sb);
    b.remove(&3);
    sb.remove(&3);
    assert_eq!(a == b, sa == sb);
    assert_eq!(counts(&a), filled_counts(20));
    fn is_eq<T: Eq>(_: &T) {}
    is_eq(&a);
}

#[test]
fn debug_prints_the_same_text_as_std() {
    setup();
    let gov = HashMap::from([("key", vec![1u8, 2])]);
    let std = StdMap::from([("key", vec![1u8, 2])]);
    assert_eq!(format!("{gov:?}"), format!("{std:?}"));
    assert_eq!(format!("{gov:#?}"), format!("{std:#?}"));
    assert_eq!(format!("{gov:?}"), r#"{"key": [1, 2]}"#);
    let empty: HashMap<u8, u8> = HashMap::new();
    assert_eq!(
        format!("{empty:?}"),
        format!("{:?}", StdMap::<u8, u8>::new())
    );
    // The iterators print alike too.
    let (mut gov, mut std) = (gov, std);
    assert_eq!(format!("{:?}", gov.iter()), format!("{:?}", std.iter()));
    assert_eq!(format!("{:?}", gov.keys()), format!("{:?}", std.keys()));
    assert_eq!(format!("{:?}", gov.values()), format!("{:?}", std.values()));
    assert_eq!(
        format!("{:?}", gov.iter_mut()),
        format!("{:?}", std.iter_mut())
    );
    assert_eq!(
        format!("{:?}", gov.values_mut()),
        format!("{:?}", std.values_mut())
    );
    assert_eq!(
        format!("{:?}", gov.clone().into_iter()),
        format!("{:?}", std.clone().into_iter())
    );
    assert_eq!(
        format!("{:?}", gov.clone().into_keys()),
        format!("{:?}", std.clone().into_keys())
    );
    assert_eq!(
        format!("{:?}", gov.clone().into_values()),
        format!("{:?}", std.clone().into_values())
    );
    assert_eq!(
        format!("{:?}", gov.extract_if(|_, _| false)),
        format!("{:?}", std.extract_if(|_, _| false))
    );
    assert_eq!(format!("{:?}", gov.drain()), format!("{:?}", std.drain()));
}

#[test]
fn default_is_an_empty_unallocated_map_for_any_default_hasher() {
    setup();
    let gov: HashMap<u8, u8> = HashMap::default();
    let std: StdMap<u8, u8> = StdMap::default();
    assert_eq!((gov.len(), gov.capacity()), (std.len(), std.capacity()));
    assert!(gov.stats().is_none());
    let gov: HashMap<u8, u8, Fixed> = Default::default();
    let std: StdMap<u8, u8, Fixed> = Default::default();
    assert_eq!((gov.len(), gov.capacity()), (std.len(), std.capacity()));
}

#[test]
fn index_returns_the_value_by_borrowed_key_and_counts_a_hit() {
    setup();
    let gov: HashMap<String, u8> = HashMap::from([("a".to_owned(), 1)]);
    let std: StdMap<String, u8> = StdMap::from([("a".to_owned(), 1)]);
    assert_eq!(gov["a"], std["a"]);
    assert_eq!(gov[&"a".to_owned()], std[&"a".to_owned()]);
    assert_eq!(
        counts(&gov),
        Counts {
            len: 1,
            inserts: 1,
            peak_len: 1,
            hits: 2,
            ..ZERO
        }
    );
}

#[test]
fn index_panics_on_a_missing_key_like_std_and_counts_a_miss() {
    setup();
    let (gov, std) = filled(3);
    let expected = panic_message(|| {
        let _ = std[&7];
    });
    assert_eq!(
        panic_message(|| {
            let _ = gov[&7];
        }),
        expected
    );
    assert_eq!(
        counts(&gov),
        Counts {
            misses: 1,
            ..filled_counts(3)
        }
    );
}

/// How many times std's table grows while `extend` adds `pairs` to (a copy of) `std`, replayed
/// step by step with std's documented recipe: reserve the iterator's lower bound (half of it
/// when the map is not empty), then insert one by one. A first allocation is no growth.
fn extend_growths(std: &StdMap<u64, u64>, pairs: &[(u64, u64)], lower_bound: usize) -> u64 {
    let mut replay = std.clone();
    let mut growths = 0;
    let mut step = |replay: &mut StdMap<u64, u64>, f: &mut dyn FnMut(&mut StdMap<u64, u64>)| {
        let before = replay.capacity();
        f(replay);
        if before != 0 && replay.capacity() > before {
            growths += 1;
        }
    };
    let reserve = if replay.is_empty() {
        lower_bound
    } else {
        lower_bound.div_ceil(2)
    };
    step(&mut replay, &mut |m| m.reserve(reserve));
    for &(k, v) in pairs {
        step(&mut replay, &mut |m| {
            m.insert(k, v);
        });
    }
    growths
}

#[test]
fn extend_with_owned_pairs_reserves_like_std_and_counts_inserts_updates_and_grows() {
    setup();
    // Into an empty map: reserves the iterator's lower bound, so no growth.
    let mut gov = HashMap::new();
    let mut std = StdMap::new();
    gov.extend((0..100u64).map(|k| (k, k)));
    std.extend((0..100u64).map(|k| (k, k)));
    assert_eq!(gov.capacity(), std.capacity());
    assert_eq!(counts(&gov), filled_counts(100));
    // Into a non-empty map, with repeated and present keys: reserves half, then grows.
    let pairs: Vec<(u64, u64)> = (50..300).chain(290..310).map(|k| (k, k + 1)).collect();
    let growths = extend_growths(&std, &pairs, pairs.len());
    assert!(growths >= 1);
    gov.extend(pairs.iter().copied());
    std.extend(pairs.iter().copied());
    assert_eq!(gov.capacity(), std.capacity());
    assert_eq!(sorted(&gov), sorted(&std));
    assert_eq!(
        counts(&gov),
        Counts {
            len: 310,
            inserts: 310,
            updates: 50 + 10,
            peak_len: 310,
            grows: growths,
            ..ZERO
        }
    );
    // An iterator without a useful size hint (lower bound 0).
    let pairs: Vec<(u64, u64)> = (0..2000u64)
        .filter(|k| k % 3 == 0)
        .map(|k| (k, 0))
        .collect();
    let more = extend_growths(&std, &pairs, 0);
    gov.extend(pairs.iter().copied().filter(|_| true));
    std.extend(pairs.iter().copied().filter(|_| true));
    assert_eq!(gov.capacity(), std.capacity());
    assert_eq!(sorted(&gov), sorted(&std));
    assert_eq!(counts(&gov).grows, growths + more);
    assert_memory_exact(&gov);
}

#[test]
fn extend_by_reference_copies_the_pairs_and_counts_like_owned() {
    setup();
    let (mut gov, mut std) = filled(5); // capacity 14
    let src: StdMap<u64, u64> = (3..12).map(|k| (k, k * 7)).collect();
    gov.extend(&src); // 2 updates, 7 inserts: 12 entries fit
    std.extend(&src);
    assert_eq!(counts(&gov).grows, 0);
    gov.extend(src.iter()); // reserves 5 more than the 2 left: grows
    std.extend(src.iter());
    assert_eq!(sorted(&gov), sorted(&std));
    assert_eq!(gov.capacity(), std.capacity());
    assert_eq!(
        counts(&gov),
        Counts {
            len: 12,
            inserts: 12,
            updates: 2 + 9,
            peak_len: 12,
            grows: 1,
            ..ZERO
        }
    );
    assert_memory_exact(&gov);
}

#[test]
fn from_iter_and_collect_build_the_same_map_as_std() {
    setup();
    let pairs = || (0..50u64).chain(0..10).map(|k| (k, k * 2));
    let gov = HashMap::<u64, u64>::from_iter(pairs());
    let std = StdMap::<u64, u64>::from_iter(pairs());
    assert_eq!(sorted(&gov), sorted(&std));
    assert_eq!(gov.capacity(), std.capacity());
    assert_eq!(
        counts(&gov),
        Counts {
            updates: 10,
            ..filled_counts(50)
        }
    );
    let collected: HashMap<u64, u64> = pairs().collect();
    assert_eq!(collected, gov);
    let collected: HashMap<u64, u64, Fixed> = pairs().collect();
    assert_eq!(sorted(&collected), sorted(&std));
}

#[test]
fn into_iter_owned_yields_every_pair_and_retires_the_map() {
    setup();
    let (gov, std) = filled(20);
    let name = unique("into-iter");
    let gov = gov.named(&name);
    let it = gov.into_iter();
    assert_eq!(it.len(), 20);
    assert_eq!(sorted(it), sorted(std));
    assert_retired(&name, 20);
}

#[test]
fn into_iter_by_reference_and_by_mut_reference_visit_every_pair() {
    setup();
    let (mut gov, mut std) = filled(20);
    for (k, v) in &mut gov {
        *v += k;
    }
    for (k, v) in &mut std {
        *v += k;
    }
    let mut g = Vec::new();
    for (k, v) in &gov {
        g.push((*k, *v));
    }
    let mut s = Vec::new();
    for (k, v) in &std {
        s.push((*k, *v));
    }
    assert_eq!(sorted(g), sorted(s));
    assert_eq!(counts(&gov), filled_counts(20));
}

#[test]
fn from_array_builds_the_same_map_as_std_and_counts_duplicates_as_updates() {
    setup();
    let gov = HashMap::from([(1, "a"), (2, "b"), (1, "c")]);
    let std = StdMap::from([(1, "a"), (2, "b"), (1, "c")]);
    assert_eq!(sorted(&gov), sorted(&std));
    assert_eq!(gov.capacity(), std.capacity());
    assert_eq!(
        counts(&gov),
        Counts {
            updates: 1,
            ..filled_counts(2)
        }
    );
    let gov: HashMap<u8, u8> = [(1, 1)].into();
    let std: StdMap<u8, u8> = [(1, 1)].into();
    assert_eq!(sorted(&gov), sorted(&std));
    let gov: HashMap<u8, u8> = HashMap::from([]);
    assert_eq!(gov.capacity(), 0);
}

#[test]
fn iterators_default_to_empty_like_std() {
    setup();
    let g: gov_hash_map::Iter<'_, u8, u8> = Default::default();
    let s: std_hash_map::Iter<'_, u8, u8> = Default::default();
    assert_eq!((g.len(), format!("{g:?}")), (s.len(), format!("{s:?}")));
    let g: gov_hash_map::IterMut<'_, u8, u8> = Default::default();
    let s: std_hash_map::IterMut<'_, u8, u8> = Default::default();
    assert_eq!(g.len(), s.len());
    let g: gov_hash_map::Keys<'_, u8, u8> = Default::default();
    let s: std_hash_map::Keys<'_, u8, u8> = Default::default();
    assert_eq!(g.len(), s.len());
    let g: gov_hash_map::Values<'_, u8, u8> = Default::default();
    let s: std_hash_map::Values<'_, u8, u8> = Default::default();
    assert_eq!(g.len(), s.len());
    let g: gov_hash_map::ValuesMut<'_, u8, u8> = Default::default();
    let s: std_hash_map::ValuesMut<'_, u8, u8> = Default::default();
    assert_eq!(g.len(), s.len());
    let g: gov_hash_map::IntoIter<u8, u8> = Default::default();
    let s: std_hash_map::IntoIter<u8, u8> = Default::default();
    assert_eq!(g.len(), s.len());
    let g: gov_hash_map::IntoKeys<u8, u8> = Default::default();
    let s: std_hash_map::IntoKeys<u8, u8> = Default::default();
    assert_eq!(g.len(), s.len());
    let g: gov_hash_map::IntoValues<u8, u8> = Default::default();
    let s: std_hash_map::IntoValues<u8, u8> = Default::default();
    assert_eq!(g.len(), s.len());
}

#[test]
fn iterators_are_fused_and_exact_like_std() {
    setup();
    fn fused_exact<I: std::iter::FusedIterator + ExactSizeIterator>(i: I) -> usize {
        i.len()
    }
    fn fused<I: std::iter::FusedIterator>(i: I) -> usize {
        i.count()
    }
    let (mut gov, mut std) = filled(4);
    assert_eq!(fused_exact(gov.iter()), fused_exact(std.iter()));
    assert_eq!(fused_exact(gov.iter_mut()), fused_exact(std.iter_mut()));
    assert_eq!(fused_exact(gov.keys()), fused_exact(std.keys()));
    assert_eq!(fused_exact(gov.values()), fused_exact(std.values()));
    assert_eq!(fused_exact(gov.values_mut()), fused_exact(std.values_mut()));
    assert_eq!(
        fused(gov.extract_if(|k, _| *k == 0)),
        fused(std.extract_if(|k, _| *k == 0))
    );
    assert_eq!(
        fused_exact(gov.clone().into_iter()),
        fused_exact(std.clone().into_iter())
    );
    assert_eq!(
        fused_exact(gov.clone().into_keys()),
        fused_exact(std.clone().into_keys())
    );
    assert_eq!(
        fused_exact(gov.clone().into_values()),
        fused_exact(std.clone().into_values())
    );
    assert_eq!(fused_exact(gov.drain()), fused_exact(std.drain()));
}

// ---------------------------------------------------------------------------------------------
// Part 2: drop-in parity at compile time
// ---------------------------------------------------------------------------------------------

/// The same user code, compiled once per import line. Anything std accepts here must compile
/// with mapgov's import, and both must compute the same summary.
///
/// Two known limits, not exercised because they do not compile with mapgov:
///
/// - Drop check: std's table drops with `#[may_dangle]` (a nightly-only feature std may use),
///   so std accepts a map whose values borrow a local declared *after* the map
///   (`let mut m = HashMap::new(); let s = String::new(); m.insert(1, &s);`). hashbrown on
///   stable has no `#[may_dangle]`, so mapgov (and hashbrown itself) rejects it with E0597
///   ("borrow might be used here, when `map` is dropped"). Declaring the borrowed local before
///   the map fixes such code for both.
/// - std's entry types have no hasher parameter, so user code that *names* `Entry<'_, K, V>`
///   (or `OccupiedEntry` / `VacantEntry`) for a map with a non-default hasher compiles with std
///   only; mapgov's entry types carry `S = RandomState` like hashbrown's. Code that matches on
///   `map.entry(k)` without naming the type, as below, is unaffected.
macro_rules! typical_user_code {
    ($module:ident, $($imports:item)*) => {
        #[allow(dead_code)]
        mod $module {
            $($imports)*
            use std::hash::{BuildHasher, BuildHasherDefault, Hash};
            use std::sync::{Arc, Mutex, RwLock};

            pub(super) type FixedHasher = BuildHasherDefault<hash_map::DefaultHasher>;

            /// A global registry: needs `const fn with_hasher` and `HashMap: Send`.
            static REGISTRY: Mutex<HashMap<String, u32, FixedHasher>> =
                Mutex::new(HashMap::with_hasher(BuildHasherDefault::new()));

            #[derive(Debug, Default, Clone, PartialEq, Eq)]
            pub(super) struct Inventory {
                items: HashMap<String, Vec<u8>>,
                tags: HashMap<&'static str, u32>,
            }

            fn word_counts(text: &str) -> HashMap<String, usize> {
                let mut counts = HashMap::new();
                for w in text.split_whitespace() {
                    *counts.entry(w.to_owned()).or_insert(0) += 1;
                }
                counts
            }

            fn upsert(map: &mut HashMap<String, Vec<u8>>, key: &str, byte: u8) -> &'static str {
                match map.entry(key.to_owned()) {
                    Entry::Occupied(mut o) => {
                        o.get_mut().push(byte);
                        "appended"
                    }
                    Entry::Vacant(v) => {
                        v.insert(vec![byte]);
                        "created"
                    }
                }
            }

            fn remove_if_short(map: &mut HashMap<String, Vec<u8>>, key: String) -> bool {
                if let Entry::Occupied(o) = map.entry(key) {
                    if o.get().len() < 2 {
                        o.remove();
                        return true;
                    }
                }
                false
            }

            fn occupied<'a>(
                map: &'a mut HashMap<u8, u8>,
                k: u8,
            ) -> Option<hash_map::OccupiedEntry<'a, u8, u8>> {
                match map.entry(k) {
                    Entry::Occupied(o) => Some(o),
                    Entry::Vacant(_) => None,
                }
            }

            fn vacant<'a>(
                map: &'a mut HashMap<u8, u8>,
                k: u8,
            ) -> Option<hash_map::VacantEntry<'a, u8, u8>> {
                match map.entry(k) {
                    Entry::Occupied(_) => None,
                    Entry::Vacant(v) => Some(v),
                }
            }

            fn lookup<'a>(map: &'a HashMap<String, Vec<u8>>, key: &str) -> Option<&'a [u8]> {
                map.get(key).map(Vec::as_slice)
            }

            fn total_len(map: &HashMap<String, Vec<u8>>) -> usize {
                map.values().map(Vec::len).sum()
            }

            fn keys_longer_than<'a>(
                map: &'a HashMap<String, Vec<u8>>,
                n: usize,
            ) -> impl Iterator<Item = &'a str> + 'a {
                map.iter().filter(move |(_, v)| v.len() > n).map(|(k, _)| k.as_str())
            }

            fn named_iter(map: &HashMap<u8, u8>) -> hash_map::Iter<'_, u8, u8> {
                map.iter()
            }

            fn generic_insert<K: Hash + Eq, V, S: BuildHasher>(
                map: &mut HashMap<K, V, S>,
                k: K,
                v: V,
            ) -> Option<V> {
                map.insert(k, v)
            }

            fn index_by_str(map: &HashMap<String, Vec<u8>>, key: &str) -> usize {
                map[key].len()
            }

            fn covariant<'a>(map: HashMap<&'static str, &'static str>) -> HashMap<&'a str, &'a str> {
                map
            }

            fn covariant_iter<'a, 'm>(
                it: hash_map::Iter<'m, &'static str, u8>,
            ) -> hash_map::Iter<'m, &'a str, u8> {
                it
            }

            fn from_array() -> HashMap<&'static str, i32> {
                [("a", 1), ("b", 2)].into()
            }

            fn share_across_threads(map: HashMap<String, Vec<u8>>) -> usize {
                let shared = Arc::new(RwLock::new(map));
                let reader = Arc::clone(&shared);
                std::thread::spawn(move || reader.read().unwrap().len()).join().unwrap()
            }

            fn drain_sorted(map: &mut HashMap<u8, u8>) -> Vec<(u8, u8)> {
                let mut v: Vec<_> = map.drain().collect();
                v.sort();
                v
            }

            fn extract_even(map: &mut HashMap<u8, u8>) -> Vec<(u8, u8)> {
                let it: hash_map::ExtractIf<'_, u8, u8, _> = map.extract_if(|k, _| k % 2 == 0);
                let mut v: Vec<_> = it.collect();
                v.sort();
                v
            }

            pub(super) fn run() -> String {
                let mut out = Vec::new();
                let mut wc: Vec<_> = word_counts("a b a c b a").into_iter().collect();
                wc.sort();
                out.push(format!("{wc:?}"));

                let mut inv = Inventory::default();
                out.push(upsert(&mut inv.items, "x", 1).to_owned());
                out.push(upsert(&mut inv.items, "x", 2).to_owned());
                out.push(upsert(&mut inv.items, "y", 3).to_owned());
                inv.tags.insert("t", 1);
                let copy = inv.clone();
                out.push(format!("{}", copy == inv));
                out.push(format!("{:?}", lookup(&inv.items, "x")));
                out.push(format!("{}", total_len(&inv.items)));
                out.push(format!("{}", index_by_str(&inv.items, "x")));
                let mut long: Vec<_> = keys_longer_than(&inv.items, 1).collect();
                long.sort();
                out.push(format!("{long:?}"));
                out.push(format!("{}", remove_if_short(&mut inv.items, "y".to_owned())));
                out.push(format!("{}", remove_if_short(&mut inv.items, "x".to_owned())));
                out.push(format!("{}", share_across_threads(inv.items.clone())));

                let mut small: HashMap<u8, u8> = (0..6).map(|k| (k, k * k)).collect();
                out.push(format!("{}", named_iter(&small).len()));
                out.push(format!("{:?}", occupied(&mut small, 2).map(|o| o.remove_entry())));
                out.push(format!("{:?}", vacant(&mut small, 2).map(|v| *v.insert(9))));
                out.push(format!("{:?}", generic_insert(&mut small, 2, 4)));
                out.push(format!("{:?}", extract_even(&mut small)));
                out.push(format!("{:?}", drain_sorted(&mut small)));

                let mut fixed: HashMap<u8, u8, FixedHasher> = HashMap::default();
                out.push(format!("{:?}", generic_insert(&mut fixed, 1, 1)));

                let borrowed = covariant(HashMap::from([("k", "v")]));
                out.push(format!("{borrowed:?}"));
                out.push(format!("{}", covariant_iter(HashMap::from([("k", 1u8)]).iter()).len()));
                let mut arr: Vec<_> = from_array().into_iter().collect();
                arr.sort();
                out.push(format!("{arr:?}"));

                let mut reg = REGISTRY.lock().unwrap();
                *reg.entry("global".to_owned()).or_default() += 1;
                out.push(format!("{:?}", reg.get("global")));
                drop(reg);
                out.join("\n")
            }
        }
    };
}

typical_user_code!(
    with_std,
    use std::collections::{HashMap, hash_map, hash_map::Entry};
);
typical_user_code!(
    with_mapgov,
    use mapgov::{HashMap, hash_map, hash_map::Entry};
);

#[test]
fn typical_user_code_compiles_and_behaves_the_same_with_either_import() {
    setup();
    assert_eq!(with_mapgov::run(), with_std::run());
}

#[test]
fn auto_traits_of_maps_entries_and_iterators_match_std() {
    setup();
    let mismatches = map_auto_trait_mismatches!(HashMap, gov_hash_map);
    assert!(
        mismatches.is_empty(),
        "auto traits differ from std:\n{}",
        mismatches.join("\n")
    );
    // The probe is not vacuous: it sees the negative cases.
    assert!(!implements!(HashMap<Rc<u8>, u8>: Send));
    assert!(!implements!(HashMap<u8, Cell<u8>>: Sync));
    assert!(!implements!(HashMap<u8, &'static mut u8>: UnwindSafe));
    assert!(!implements!(HashMap<u8, Cell<u8>>: RefUnwindSafe));
    assert!(!implements!(HashMap<u8, PhantomPinned>: Unpin));
    assert!(implements!(HashMap<u64, u64>: RefUnwindSafe));
}

// Positive cases, checked by the compiler itself.
const _: () = {
    const fn send<T: Send>() {}
    const fn sync<T: Sync>() {}
    const fn unwind_safe<T: UnwindSafe + RefUnwindSafe>() {}
    send::<HashMap<String, Vec<u8>>>();
    sync::<HashMap<String, Vec<u8>>>();
    unwind_safe::<HashMap<String, Vec<u8>>>();
    send::<gov_hash_map::IntoIter<String, u8>>();
    sync::<gov_hash_map::Iter<'static, String, u8>>();
    assert!(std::mem::size_of::<HashMap<u64, u64>>() <= 64);
};

#[test]
fn map_is_at_most_64_bytes_and_option_of_it_costs_nothing_like_std() {
    use std::mem::size_of;
    setup();
    assert!(size_of::<HashMap<u64, u64>>() <= 64);
    assert_eq!(
        size_of::<HashMap<u64, u64>>(),
        size_of::<StdMap<u64, u64>>() + 16
    );
    assert_eq!(
        size_of::<Option<HashMap<u64, u64>>>(),
        size_of::<HashMap<u64, u64>>(),
        "the niche survives, as in std"
    );
}

// ---------------------------------------------------------------------------------------------
// Part 3: the proptest
// ---------------------------------------------------------------------------------------------

/// An independent observer of hashbrown tables: this binary's global allocator. hashbrown
/// allocates each table in one block aligned to its control-group width (16 on x86 with SSE2),
/// and nothing else the map under test allocates has that alignment; so while a thread watches
/// (only around operations on the map under test), every 16-aligned allocation on it is that
/// map's new table and every 16-aligned free its old one.
mod observer {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    /// Whether the observer's growth and shrink counts are exact on this target.
    pub(super) const EXACT: bool = cfg!(all(
        any(target_arch = "x86", target_arch = "x86_64"),
        target_feature = "sse2"
    ));

    const TABLE_ALIGN: usize = 16;

    /// What one watched operation did to the table.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub(super) struct Observed {
        /// Tables allocated.
        pub(super) allocs: u64,
        /// Allocations of a table bigger than the one they replaced.
        pub(super) grows: u64,
        /// Allocations of a smaller table, and frees of the table with no replacement.
        pub(super) shrinks: u64,
        /// Frees that matched no table.
        pub(super) unexpected: u64,
    }

    thread_local! {
        static WATCHING: Cell<bool> = const { Cell::new(false) };
        /// Size of the table in use (0: none).
        static TABLE: Cell<usize> = const { Cell::new(0) };
        /// Size of the table a new allocation replaced, until it is freed.
        static REPLACED: Cell<usize> = const { Cell::new(0) };
        static SEEN: Cell<Observed> = const {
            Cell::new(Observed { allocs: 0, grows: 0, shrinks: 0, unexpected: 0 })
        };
    }

    fn watching(layout: Layout) -> bool {
        layout.align() == TABLE_ALIGN && WATCHING.with(Cell::get)
    }

    fn on_alloc(size: usize) {
        let mut seen = SEEN.with(Cell::get);
        let table = TABLE.with(Cell::get);
        seen.allocs += 1;
        if table > 0 && size > table {
            seen.grows += 1;
        } else if table > 0 && size < table {
            seen.shrinks += 1;
        }
        REPLACED.with(|r| r.set(table));
        TABLE.with(|t| t.set(size));
        SEEN.with(|s| s.set(seen));
    }

    fn on_free(size: usize) {
        let mut seen = SEEN.with(Cell::get);
        if REPLACED.with(Cell::get) == size && size > 0 {
            REPLACED.with(|r| r.set(0));
        } else if TABLE.with(Cell::get) == size {
            TABLE.with(|t| t.set(0));
            seen.shrinks += 1;
        } else {
            seen.unexpected += 1;
        }
        SEEN.with(|s| s.set(seen));
    }

    pub(super) struct Observer;

    // SAFETY: every method forwards to `System` with the same arguments; the bookkeeping only
    // touches const-initialized thread-locals without destructors (no allocation, no panic).
    unsafe impl GlobalAlloc for Observer {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            // SAFETY: forwarded unchanged.
            let p = unsafe { System.alloc(layout) };
            if !p.is_null() && watching(layout) {
                on_alloc(layout.size());
            }
            p
        }

        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            // SAFETY: forwarded unchanged.
            let p = unsafe { System.alloc_zeroed(layout) };
            if !p.is_null() && watching(layout) {
                on_alloc(layout.size());
            }
            p
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            if watching(layout) {
                on_free(layout.size());
            }
            // SAFETY: forwarded unchanged.
            unsafe { System.dealloc(ptr, layout) }
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            if watching(layout) {
                // hashbrown never reallocates a table in place.
                SEEN.with(|s| {
                    let mut seen = s.get();
                    seen.unexpected += 1;
                    s.set(seen);
                });
            }
            // SAFETY: forwarded unchanged.
            unsafe { System.realloc(ptr, layout, new_size) }
        }
    }

    #[global_allocator]
    static GLOBAL: Observer = Observer;

    /// Runs `f` while watching the tables of the map whose table is `table_bytes` now.
    pub(super) fn watch<R>(table_bytes: usize, f: impl FnOnce() -> R) -> (R, Observed) {
        struct Stop;
        impl Drop for Stop {
            fn drop(&mut self) {
                WATCHING.with(|w| w.set(false));
            }
        }
        TABLE.with(|t| t.set(table_bytes));
        REPLACED.with(|r| r.set(0));
        SEEN.with(|s| s.set(Observed::default()));
        WATCHING.with(|w| w.set(true));
        let stop = Stop;
        let r = f();
        drop(stop);
        (r, SEEN.with(Cell::get))
    }
}

mod random_ops {
    use super::observer::{self, Observed, watch};
    use super::*;
    use proptest::prelude::*;
    use proptest::test_runner::TestCaseError;

    type Gov<S> = HashMap<u8, u8, S>;
    type Std<S> = StdMap<u8, u8, S>;

    #[derive(Clone, Debug)]
    enum Op {
        Insert(u8, u8),
        /// Inserts `len` consecutive keys from `start` (wrapping): grows tables fast.
        InsertRange {
            start: u8,
            len: u8,
            value: u8,
        },
        /// Inserts consecutive keys from `start` until the table is full, then removes the
        /// middle of that run, one ordinary `insert`/`remove` at a time. With [`Identity`] the
        /// run is a dense block of buckets, so the removals leave tombstones and the table's
        /// room is gone: the next insert or reserve rehashes in place.
        FillAndHollow {
            start: u8,
        },
        Remove(u8),
        RemoveEntry(u8),
        Get(u8),
        GetMut(u8, u8),
        GetKeyValue(u8),
        ContainsKey(u8),
        Index(u8),
        GetDisjointMut(u8, u8),
        EntryOrInsert(u8, u8),
        EntryAndModify(u8, u8),
        EntryInsertEntry(u8, u8),
        EntryOrDefault(u8),
        EntryOccupiedRemove(u8),
        EntryVacantInsert(u8, u8),
        EntryVacantIntoKey(u8),
        Retain(u8),
        ExtractIf {
            modulus: u8,
            take: Option<u8>,
        },
        Drain {
            take: Option<u8>,
        },
        Clear,
        Reserve(u16),
        TryReserve(u16),
        TryReserveOverflow,
        ShrinkToFit,
        ShrinkTo(u16),
        Clone {
            continue_on_clone: bool,
        },
        CloneFrom(Vec<(u8, u8)>),
        Extend(Vec<(u8, u8)>),
        ExtendByRef(Vec<(u8, u8)>),
        Iterate,
        IterMut(u8),
    }

    fn key() -> impl Strategy<Value = u8> {
        prop_oneof![3 => 0u8..24, 1 => any::<u8>()]
    }

    fn pairs(max: usize) -> impl Strategy<Value = Vec<(u8, u8)>> {
        prop::collection::vec((key(), any::<u8>()), 0..max)
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            12 => (key(), any::<u8>()).prop_map(|(k, v)| Op::Insert(k, v)),
            2 => (any::<u8>(), any::<u8>(), any::<u8>())
                .prop_map(|(start, len, value)| Op::InsertRange { start, len, value }),
            2 => any::<u8>().prop_map(|start| Op::FillAndHollow { start }),
            6 => key().prop_map(Op::Remove),
            2 => key().prop_map(Op::RemoveEntry),
            3 => key().prop_map(Op::Get),
            2 => (key(), any::<u8>()).prop_map(|(k, v)| Op::GetMut(k, v)),
            2 => key().prop_map(Op::GetKeyValue),
            2 => key().prop_map(Op::ContainsKey),
            1 => key().prop_map(Op::Index),
            2 => (key(), key()).prop_map(|(a, b)| Op::GetDisjointMut(a, b)),
            3 => (key(), any::<u8>()).prop_map(|(k, v)| Op::EntryOrInsert(k, v)),
            2 => (key(), any::<u8>()).prop_map(|(k, v)| Op::EntryAndModify(k, v)),
            2 => (key(), any::<u8>()).prop_map(|(k, v)| Op::EntryInsertEntry(k, v)),
            1 => key().prop_map(Op::EntryOrDefault),
            3 => key().prop_map(Op::EntryOccupiedRemove),
            2 => (key(), any::<u8>()).prop_map(|(k, v)| Op::EntryVacantInsert(k, v)),
            1 => key().prop_map(Op::EntryVacantIntoKey),
            1 => any::<u8>().prop_map(Op::Retain),
            1 => (2u8..5, prop::option::of(0u8..8))
                .prop_map(|(modulus, take)| Op::ExtractIf { modulus, take }),
            1 => prop::option::of(0u8..8).prop_map(|take| Op::Drain { take }),
            1 => Just(Op::Clear),
            1 => (0u16..600).prop_map(Op::Reserve),
            1 => (0u16..600).prop_map(Op::TryReserve),
            1 => Just(Op::TryReserveOverflow),
            1 => Just(Op::ShrinkToFit),
            1 => (0u16..300).prop_map(Op::ShrinkTo),
            1 => any::<bool>().prop_map(|continue_on_clone| Op::Clone { continue_on_clone }),
            1 => pairs(80).prop_map(Op::CloneFrom),
            1 => pairs(120).prop_map(Op::Extend),
            1 => pairs(40).prop_map(Op::ExtendByRef),
            1 => Just(Op::Iterate),
            1 => any::<u8>().prop_map(Op::IterMut),
        ]
    }

    /// The map under test, std's map (same hasher type), and the model of the counters.
    struct Run<S> {
        gov: Gov<S>,
        std: Std<S>,
        model: Counts,
        name: String,
        /// Whether the map is tracked (it allocated once; a clone of an allocated map is).
        tracked: bool,
    }

    impl<S: BuildHasher + Clone + Default> Run<S> {
        /// Runs `f` on the map under test while the allocator watches its table.
        fn watched<R>(&mut self, f: impl FnOnce(&mut Gov<S>) -> R) -> (R, Observed) {
            let bytes = self.gov.allocation_size();
            let gov = &mut self.gov;
            watch(bytes, || f(gov))
        }

        /// Accounts for what the table did during one operation. `reserved` says whether the
        /// operation had to make room (std's rule: an insert, or an entry/reserve whose key or
        /// amount does not fit): then no new table means an in-place rehash.
        fn account(&mut self, seen: Observed, reserved: bool) -> Result<(), TestCaseError> {
            prop_assert_eq!(seen.unexpected, 0, "a table free that matched no table");
            if observer::EXACT {
                self.model.grows += seen.grows;
                self.model.shrinks += seen.shrinks;
            } else {
                let s = self.gov.stats().unwrap();
                self.model.grows = s.grows;
                self.model.shrinks = s.shrinks;
            }
            if reserved && seen.allocs == 0 {
                self.model.rehashes += 1;
            }
            Ok(())
        }

        /// Whether an operation that makes room for one entry must reserve.
        fn full(&self) -> bool {
            self.gov.len() == self.gov.capacity()
        }

        fn insert(&mut self, k: u8, v: u8) -> Result<(), TestCaseError> {
            let reserved = self.full();
            let (g, seen) = self.watched(|m| m.insert(k, v));
            let s = self.std.insert(k, v);
            prop_assert_eq!(g, s);
            self.model.write(s.is_some());
            self.model.set_len(self.std.len());
            if !reserved {
                prop_assert_eq!(seen.allocs, 0, "insert allocated with room to spare");
            }
            self.account(seen, reserved)
        }

        fn remove(&mut self, k: u8) -> Result<(), TestCaseError> {
            let (g, seen) = self.watched(|m| m.remove(&k));
            let s = self.std.remove(&k);
            prop_assert_eq!(g, s);
            self.model.removes += u64::from(s.is_some());
            self.model.set_len(self.std.len());
            self.account(seen, false)
        }

        /// `entry(k)` on both maps, with `f` applied to each side's entry.
        fn entry<R: PartialEq + std::fmt::Debug>(
            &mut self,
            k: u8,
            g: impl FnOnce(GovEntry<'_, u8, u8, S>) -> R,
            s: impl FnOnce(StdEntry<'_, u8, u8>) -> R,
        ) -> Result<bool, TestCaseError> {
            let present = self.std.contains_key(&k);
            let reserved = !present && self.full();
            let (gr, seen) = self.watched(|m| g(m.entry(k)));
            let sr = s(self.std.entry(k));
            prop_assert_eq!(gr, sr);
            self.model.lookup(present);
            if !reserved {
                // std's entry() makes room only for an absent key.
                prop_assert_eq!(seen.allocs, 0, "entry() allocated without needing room");
            }
            self.account(seen, reserved)?;
            Ok(present)
        }

        fn step(&mut self, op: &Op) -> Result<(), TestCaseError> {
            let len_before = self.std.len();
            match op.clone() {
                Op::Insert(k, v) => self.insert(k, v)?,
                Op::InsertRange { start, len, value } => {
                    for i in 0..len {
                        self.insert(start.wrapping_add(i), value)?;
                    }
                }
                Op::FillAndHollow { start } => {
                    let mut run = Vec::new();
                    let mut k = start;
                    for _ in 0..256 {
                        if self.gov.capacity() > 0 && self.gov.len() == self.gov.capacity() {
                            break;
                        }
                        if !self.std.contains_key(&k) {
                            run.push(k);
                        }
                        self.insert(k, k)?;
                        k = k.wrapping_add(1);
                    }
                    let edge = 16.min(run.len());
                    for &k in &run[edge..run.len().saturating_sub(16).max(edge)] {
                        self.remove(k)?;
                    }
                }
                Op::Remove(k) => self.remove(k)?,
                Op::RemoveEntry(k) => {
                    let (g, seen) = self.watched(|m| m.remove_entry(&k));
                    let s = self.std.remove_entry(&k);
                    prop_assert_eq!(g, s);
                    self.model.removes += u64::from(s.is_some());
                    self.account(seen, false)?;
                }
                Op::Get(k) => {
                    let g = self.gov.get(&k).copied();
                    let s = self.std.get(&k).copied();
                    prop_assert_eq!(g, s);
                    self.model.lookup(s.is_some());
                }
                Op::GetMut(k, v) => {
                    let g = self.gov.get_mut(&k).map(|x| std::mem::replace(x, v));
                    let s = self.std.get_mut(&k).map(|x| std::mem::replace(x, v));
                    prop_assert_eq!(g, s);
                    self.model.lookup(s.is_some());
                }
                Op::GetKeyValue(k) => {
                    let g = self.gov.get_key_value(&k).map(|(a, b)| (*a, *b));
                    let s = self.std.get_key_value(&k).map(|(a, b)| (*a, *b));
                    prop_assert_eq!(g, s);
                    self.model.lookup(s.is_some());
                }
                Op::ContainsKey(k) => {
                    let g = self.gov.contains_key(&k);
                    let s = self.std.contains_key(&k);
                    prop_assert_eq!(g, s);
                    self.model.lookup(s);
                }
                Op::Index(k) => {
                    // A missing key panics (tested on its own); only present keys here.
                    if self.std.contains_key(&k) {
                        prop_assert_eq!(self.gov[&k], self.std[&k]);
                        self.model.lookup(true);
                    }
                }
                Op::GetDisjointMut(a, b) => {
                    if a == b && self.std.contains_key(&a) {
                        // Overlapping present keys panic (tested on its own).
                        return Ok(());
                    }
                    let bump = |r: [Option<&mut u8>; 2]| {
                        r.map(|v| {
                            v.map(|v| {
                                *v = v.wrapping_add(1);
                                *v
                            })
                        })
                    };
                    let g = bump(self.gov.get_disjoint_mut([&a, &b]));
                    let s = bump(self.std.get_disjoint_mut([&a, &b]));
                    prop_assert_eq!(g, s);
                    for v in s {
                        self.model.lookup(v.is_some());
                    }
                }
                Op::EntryOrInsert(k, v) => {
                    let present = self.entry(k, |e| *e.or_insert(v), |e| *e.or_insert(v))?;
                    if !present {
                        self.model.inserts += 1;
                    }
                }
                Op::EntryAndModify(k, v) => {
                    let present = self.entry(
                        k,
                        |e| *e.and_modify(|x| *x = x.wrapping_mul(3)).or_insert(v),
                        |e| *e.and_modify(|x| *x = x.wrapping_mul(3)).or_insert(v),
                    )?;
                    if !present {
                        self.model.inserts += 1;
                    }
                }
                Op::EntryInsertEntry(k, v) => {
                    let present = self.entry(
                        k,
                        |e| {
                            let o = e.insert_entry(v);
                            (*o.key(), *o.get())
                        },
                        |e| {
                            let o = e.insert_entry(v);
                            (*o.key(), *o.get())
                        },
                    )?;
                    self.model.write(present);
                }
                Op::EntryOrDefault(k) => {
                    let present = self.entry(k, |e| *e.or_default(), |e| *e.or_default())?;
                    if !present {
                        self.model.inserts += 1;
                    }
                }
                Op::EntryOccupiedRemove(k) => {
                    let present = self.entry(
                        k,
                        |e| match e {
                            GovEntry::Occupied(o) => Some(o.remove()),
                            GovEntry::Vacant(_) => None,
                        },
                        |e| match e {
                            StdEntry::Occupied(o) => Some(o.remove()),
                            StdEntry::Vacant(_) => None,
                        },
                    )?;
                    self.model.removes += u64::from(present);
                }
                Op::EntryVacantInsert(k, v) => {
                    let present = self.entry(
                        k,
                        |e| match e {
                            GovEntry::Occupied(o) => *o.get(),
                            GovEntry::Vacant(e) => *e.insert(v),
                        },
                        |e| match e {
                            StdEntry::Occupied(o) => *o.get(),
                            StdEntry::Vacant(e) => *e.insert(v),
                        },
                    )?;
                    if !present {
                        self.model.inserts += 1;
                    }
                }
                Op::EntryVacantIntoKey(k) => {
                    self.entry(
                        k,
                        |e| match e {
                            GovEntry::Occupied(o) => (*o.key(), false),
                            GovEntry::Vacant(e) => (e.into_key(), true),
                        },
                        |e| match e {
                            StdEntry::Occupied(o) => (*o.key(), false),
                            StdEntry::Vacant(e) => (e.into_key(), true),
                        },
                    )?;
                }
                Op::Retain(seed) => {
                    let keep = |k: &u8, v: &mut u8| {
                        *v = v.wrapping_add(1);
                        !(k ^ seed).is_multiple_of(3)
                    };
                    let ((), seen) = self.watched(|m| m.retain(keep));
                    self.std.retain(keep);
                    self.model.removes += (len_before - self.std.len()) as u64;
                    self.account(seen, false)?;
                }
                Op::ExtractIf { modulus, take } => {
                    let pred = move |k: &u8, v: &mut u8| {
                        *v = v.wrapping_add(2);
                        k.is_multiple_of(modulus)
                    };
                    match take {
                        None => {
                            let (g, seen) = self.watched(|m| sorted(m.extract_if(pred)));
                            let s = sorted(self.std.extract_if(pred));
                            prop_assert_eq!(&g, &s);
                            self.model.removes += s.len() as u64;
                            self.account(seen, false)?;
                        }
                        Some(n) => {
                            // Which entries come first differs between the two maps: std's
                            // own partial run is checked for its count, then std is made to
                            // lose what mapgov's yielded.
                            let (g, seen) = self
                                .watched(|m| m.extract_if(pred).take(n.into()).collect::<Vec<_>>());
                            let mut probe = self.std.clone();
                            let s = probe.extract_if(pred).take(n.into()).count();
                            prop_assert_eq!(g.len(), s);
                            // The predicate ran on the entries it visited; replay it on std for
                            // those it removed, and on every entry for the ones it kept only
                            // when the run went to the end (otherwise values differ by visit
                            // order, so compare keys only after resyncing values below).
                            for (k, v) in &g {
                                let old = self.std.remove(k);
                                prop_assert_eq!(old.map(|o| o.wrapping_add(2)), Some(*v));
                            }
                            // Values of visited-but-kept entries were bumped on mapgov's side:
                            // resync std's values to mapgov's (keys must match exactly).
                            prop_assert_eq!(
                                sorted(self.gov.keys().copied()),
                                sorted(self.std.keys().copied())
                            );
                            for (k, v) in self.gov.iter() {
                                self.std.insert(*k, *v);
                            }
                            self.model.removes += g.len() as u64;
                            self.account(seen, false)?;
                        }
                    }
                }
                Op::Drain { take } => {
                    let before = sorted(self.std.iter().map(|(&k, &v)| (k, v)));
                    match take {
                        None => {
                            let (g, seen) = self.watched(|m| sorted(m.drain()));
                            let s = sorted(self.std.drain());
                            prop_assert_eq!(&g, &s);
                            self.account(seen, false)?;
                        }
                        Some(n) => {
                            let (g, seen) =
                                self.watched(|m| m.drain().take(n.into()).collect::<Vec<_>>());
                            let s = self.std.drain().take(n.into()).count();
                            prop_assert_eq!(g.len(), s);
                            prop_assert!(g.iter().all(|p| before.binary_search(p).is_ok()));
                            self.account(seen, false)?;
                        }
                    }
                    self.model.removes += len_before as u64;
                }
                Op::Clear => {
                    let ((), seen) = self.watched(|m| m.clear());
                    self.std.clear();
                    self.model.removes += len_before as u64;
                    self.account(seen, false)?;
                }
                Op::Reserve(n) => {
                    let n = usize::from(n);
                    let reserved = n > self.gov.capacity() - self.gov.len();
                    let ((), seen) = self.watched(|m| m.reserve(n));
                    self.std.reserve(n);
                    prop_assert!(self.gov.capacity() >= self.gov.len() + n);
                    self.account(seen, reserved)?;
                }
                Op::TryReserve(n) => {
                    let n = usize::from(n);
                    let reserved = n > self.gov.capacity() - self.gov.len();
                    let (g, seen) = self.watched(|m| m.try_reserve(n));
                    let s = self.std.try_reserve(n);
                    prop_assert_eq!(g, s);
                    self.account(seen, reserved)?;
                }
                Op::TryReserveOverflow => {
                    let (g, seen) = self.watched(|m| m.try_reserve(usize::MAX));
                    let s = self.std.try_reserve(usize::MAX);
                    prop_assert_eq!(g, s);
                    self.account(seen, false)?;
                }
                Op::ShrinkToFit => {
                    let ((), seen) = self.watched(|m| m.shrink_to_fit());
                    self.std.shrink_to_fit();
                    // (Capacities may differ from std's: a table that is already as small as
                    // its length allows keeps its tombstones, which depend on the hasher.)
                    prop_assert_eq!(self.gov.stats().unwrap().wasted_bytes, 0);
                    self.account(seen, false)?;
                }
                Op::ShrinkTo(n) => {
                    let (n, bytes) = (usize::from(n), self.gov.allocation_size());
                    let ((), seen) = self.watched(|m| m.shrink_to(n));
                    self.std.shrink_to(n);
                    // Never allocates more; a new table has room for the length and `n`.
                    prop_assert!(self.gov.allocation_size() <= bytes);
                    if self.gov.allocation_size() < bytes {
                        prop_assert!(self.gov.capacity() >= n.max(self.gov.len()));
                    }
                    self.account(seen, false)?;
                }
                Op::Clone { continue_on_clone } => {
                    let copy = self.gov.clone();
                    let std_copy = self.std.clone();
                    prop_assert_eq!(sorted(&copy), sorted(&std_copy));
                    prop_assert_eq!(copy.allocation_size(), self.gov.allocation_size());
                    prop_assert_eq!(copy.capacity(), self.gov.capacity());
                    prop_assert_eq!(counts(&copy), Counts::present(len_before as u64));
                    prop_assert_eq!(copy.stats().unwrap().name, Some(self.name.clone()));
                    if continue_on_clone {
                        self.gov = copy;
                        self.std = std_copy;
                        self.model = Counts::present(len_before as u64);
                        self.tracked = self.gov.allocation_size() > 0;
                    }
                }
                Op::CloneFrom(pairs) => {
                    let src: Gov<S> = HashMap::from_iter(pairs.iter().copied());
                    let std_src: Std<S> = StdMap::from_iter(pairs.iter().copied());
                    let ((), seen) = self.watched(|m| m.clone_from(&src));
                    self.std.clone_from(&std_src);
                    prop_assert_eq!(self.gov.capacity(), src.capacity());
                    prop_assert_eq!(self.gov.allocation_size(), src.allocation_size());
                    self.model.removes += len_before as u64;
                    self.model.inserts += std_src.len() as u64;
                    self.account(seen, false)?;
                }
                Op::Extend(pairs) | Op::ExtendByRef(pairs) => {
                    let by_ref = matches!(op, Op::ExtendByRef(_));
                    let mut replay = self.std.clone();
                    for &(k, v) in &pairs {
                        self.model.write(replay.insert(k, v).is_some());
                    }
                    let rehashes = self.gov.stats().unwrap().rehashes;
                    let ((), seen) = self.watched(|m| {
                        if by_ref {
                            m.extend(pairs.iter().map(|(k, v)| (k, v)));
                        } else {
                            m.extend(pairs.iter().copied());
                        }
                    });
                    if by_ref {
                        self.std.extend(pairs.iter().map(|(k, v)| (k, v)));
                    } else {
                        self.std.extend(pairs.iter().copied());
                    }
                    // An extend reserves, then inserts: it may rehash in place at most once
                    // (after a rehash or a growth the table has no tombstones left), and when
                    // depends on where hashbrown put tombstones, which no observer sees; take
                    // the map's count, bounded.
                    let rehashed = self.gov.stats().unwrap().rehashes - rehashes;
                    prop_assert!(rehashed <= 1);
                    self.model.rehashes += rehashed;
                    self.account(seen, false)?;
                }
                Op::Iterate => {
                    prop_assert_eq!(sorted(self.gov.iter()), sorted(self.std.iter()));
                    prop_assert_eq!(sorted(self.gov.keys()), sorted(self.std.keys()));
                    prop_assert_eq!(sorted(self.gov.values()), sorted(self.std.values()));
                    prop_assert_eq!(sorted(&self.gov), sorted(&self.std));
                    prop_assert_eq!(self.gov.iter().len(), self.std.iter().len());
                }
                Op::IterMut(delta) => {
                    for (k, v) in self.gov.iter_mut() {
                        *v = v.wrapping_add(delta ^ k);
                    }
                    for (k, v) in self.std.iter_mut() {
                        *v = v.wrapping_add(delta ^ k);
                    }
                    for v in self.gov.values_mut() {
                        *v = v.rotate_left(1);
                    }
                    for v in self.std.values_mut() {
                        *v = v.rotate_left(1);
                    }
                }
            }
            self.model.set_len(self.std.len());
            if self.gov.allocation_size() > 0 {
                self.tracked = true;
            }
            self.check()
        }

        /// After every step: same contents as std, counters equal to the model, memory exact,
        /// and the snapshot agrees.
        fn check(&self) -> Result<(), TestCaseError> {
            prop_assert_eq!(sorted(&self.gov), sorted(&self.std));
            prop_assert_eq!(self.gov.len(), self.std.len());
            let stats = self.gov.stats().expect("a named map has stats");
            prop_assert_eq!(Counts::of(&stats), self.model);
            prop_assert_eq!(stats.lookup_sample, 1);
            prop_assert_eq!(stats.allocated_bytes, self.gov.allocation_size() as u64);
            let snap = mapgov::snapshot();
            match snap.map_named(&self.name) {
                Some(entry) => {
                    prop_assert!(self.tracked, "tracked before its table allocated");
                    prop_assert_eq!(
                        (entry.len, entry.inserts, entry.removes),
                        (stats.len, stats.inserts, stats.removes)
                    );
                    prop_assert_eq!(Counts::of(entry), self.model);
                    prop_assert_eq!(entry.allocated_bytes, stats.allocated_bytes);
                    prop_assert_eq!(entry.wasted_bytes, stats.wasted_bytes);
                }
                None => prop_assert!(!self.tracked, "an allocated map is missing from maps"),
            }
            drop(snap);
            let mut probe = self.gov.clone();
            prop_assert_eq!(probe.allocation_size(), self.gov.allocation_size());
            probe.shrink_to_fit();
            prop_assert_eq!(
                stats.wasted_bytes,
                (self.gov.allocation_size() - probe.allocation_size()) as u64,
                "wasted_bytes is what shrink_to_fit frees"
            );
            Ok(())
        }
    }

    fn run<S: BuildHasher + Clone + Default>(ops: &[Op]) -> Result<(), TestCaseError> {
        setup();
        let name = unique("prop");
        let mut run = Run::<S> {
            gov: HashMap::with_hasher(S::default()).named(&name),
            std: StdMap::with_hasher(S::default()),
            model: ZERO,
            name,
            tracked: false,
        };
        run.check()?;
        for op in ops {
            run.step(op)?;
        }
        // The end state, once more through the std API only.
        prop_assert_eq!(run.gov.len(), run.std.len());
        prop_assert!(run.gov.iter().all(|(k, v)| run.std.get(k) == Some(v)));
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 192,
            max_shrink_iters: 2000,
            ..ProptestConfig::default()
        })]

        /// With std's random hasher half the time, and otherwise with [`Identity`]: keys land in
        /// consecutive buckets, so dense runs form, removals leave tombstones, and inserts and
        /// reserves rehash in place.
        #[test]
        fn random_operation_sequences_match_std_and_the_counter_model(
            identity in any::<bool>(),
            ops in prop::collection::vec(op(), 1..400)
        ) {
            if identity {
                run::<Identity>(&ops)?;
            } else {
                run::<std::hash::RandomState>(&ops)?;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Sets: drop-in parity, auto traits, Debug, and a proptest against std and the counting rules
// of `mapgov::hash_set` (insert: a lookup, plus an insert when new; replace: an update or an
// insert; remove/take: a remove when present; contains/get: a lookup; retain, drain,
// extract_if, clear: a remove per element; set algebra: a counted lookup on the probed set,
// which std chooses by size).
// ---------------------------------------------------------------------------------------------

macro_rules! typical_set_code {
    ($module:ident, $($imports:item)*) => {
        #[allow(dead_code)]
        mod $module {
            $($imports)*
            use std::hash::{BuildHasher, Hash};

            fn unique_words(text: &str) -> HashSet<&str> {
                text.split_whitespace().collect()
            }

            fn seen_before(seen: &mut HashSet<String>, s: &str) -> bool {
                !seen.insert(s.to_owned())
            }

            fn has(set: &HashSet<String>, s: &str) -> bool {
                set.contains(s)
            }

            fn common<'a>(a: &'a HashSet<u8>, b: &'a HashSet<u8>) -> impl Iterator<Item = &'a u8> + 'a {
                a.intersection(b)
            }

            fn named_iter(set: &HashSet<u8>) -> hash_set::Iter<'_, u8> {
                set.iter()
            }

            fn named_union<'a>(a: &'a HashSet<u8>, b: &'a HashSet<u8>) -> hash_set::Union<'a, u8, std::hash::RandomState> {
                a.union(b)
            }

            fn generic_insert<T: Hash + Eq, S: BuildHasher>(set: &mut HashSet<T, S>, v: T) -> bool {
                set.insert(v)
            }

            fn sorted_vec(set: HashSet<u8>) -> Vec<u8> {
                let mut v: Vec<u8> = set.into_iter().collect();
                v.sort();
                v
            }

            pub(super) fn run() -> String {
                let mut out = Vec::new();
                let mut words: Vec<_> = unique_words("b a b c").into_iter().collect();
                words.sort();
                out.push(format!("{words:?}"));
                let mut seen = HashSet::new();
                out.push(format!("{} {}", seen_before(&mut seen, "x"), seen_before(&mut seen, "x")));
                out.push(format!("{} {}", has(&seen, "x"), has(&seen, "y")));
                let a: HashSet<u8> = HashSet::from([1, 2, 3, 4]);
                let b: HashSet<u8> = [3, 4, 5].into_iter().collect();
                let mut c: Vec<_> = common(&a, &b).copied().collect();
                c.sort();
                out.push(format!("{c:?} {}", named_iter(&a).len()));
                out.push(format!("{}", named_union(&a, &b).count()));
                for s in [&a | &b, &a & &b, &a ^ &b, &a - &b] {
                    out.push(format!("{:?}", sorted_vec(s)));
                }
                out.push(format!("{} {} {}", a.is_subset(&b), a.is_disjoint(&b), a == b.clone()));
                let mut d = a.clone();
                out.push(format!("{} {:?}", generic_insert(&mut d, 9), d.replace(9)));
                d.retain(|v| v % 2 == 1);
                out.push(format!("{:?}", sorted_vec(d)));
                out.join("\n")
            }
        }
    };
}

typical_set_code!(set_with_std, use std::collections::{HashSet, hash_set};);
typical_set_code!(set_with_mapgov, use mapgov::{HashSet, hash_set};);

#[test]
fn typical_set_code_compiles_and_behaves_the_same_with_either_import() {
    setup();
    assert_eq!(set_with_mapgov::run(), set_with_std::run());
}

#[test]
fn set_debug_prints_the_same_text_as_std() {
    setup();
    let gov = mapgov::HashSet::from(["one"]);
    let std = std::collections::HashSet::from(["one"]);
    assert_eq!(format!("{gov:?}"), format!("{std:?}"));
    assert_eq!(format!("{gov:#?}"), format!("{std:#?}"));
    assert_eq!(format!("{:?}", gov.iter()), format!("{:?}", std.iter()));
    assert_eq!(
        format!("{:?}", gov.clone().into_iter()),
        format!("{:?}", std.clone().into_iter())
    );
    let other = mapgov::HashSet::from(["two"]);
    let std_other = std::collections::HashSet::from(["two"]);
    assert_eq!(
        format!("{:?}", gov.union(&other).count()),
        format!("{:?}", std.union(&std_other).count())
    );
    let empty: mapgov::HashSet<u8> = mapgov::HashSet::new();
    assert_eq!(
        format!("{empty:?}"),
        format!("{:?}", std::collections::HashSet::<u8>::new())
    );
    let (mut gov, mut std) = (gov, std);
    assert_eq!(
        format!("{:?}", gov.extract_if(|_| false)),
        format!("{:?}", std.extract_if(|_| false))
    );
}

#[test]
#[ignore = "BUG: the set's Drain prints `Drain { remaining: 1, .. }` where std's prints the \
            remaining elements, `[\"one\"]` (set.rs, Debug for Drain)"]
fn set_drain_debug_prints_the_remaining_elements_like_std() {
    setup();
    let mut gov = mapgov::HashSet::from(["one"]);
    let mut std = std::collections::HashSet::from(["one"]);
    assert_eq!(format!("{:?}", gov.drain()), format!("{:?}", std.drain()));
}

#[test]
fn set_auto_traits_match_std() {
    use mapgov::hash_set as gov_set;
    use std::collections::hash_set as std_set;
    setup();
    let mismatches = auto_trait_mismatches! {
        mapgov::HashSet<u64> => std::collections::HashSet<u64>;
        mapgov::HashSet<Rc<u8>> => std::collections::HashSet<Rc<u8>>;
        mapgov::HashSet<Cell<u8>> => std::collections::HashSet<Cell<u8>>;
        mapgov::HashSet<&'static mut u8> => std::collections::HashSet<&'static mut u8>;
        mapgov::HashSet<PhantomPinned> => std::collections::HashSet<PhantomPinned>;
        mapgov::HashSet<u8, CellHasher> => std::collections::HashSet<u8, CellHasher>;
        gov_set::Iter<'static, Cell<u8>> => std_set::Iter<'static, Cell<u8>>;
        gov_set::IntoIter<Rc<u8>> => std_set::IntoIter<Rc<u8>>;
        gov_set::Drain<'static, Cell<u8>> => std_set::Drain<'static, Cell<u8>>;
        gov_set::Union<'static, u8, CellHasher> => std_set::Union<'static, u8, CellHasher>;
        gov_set::Intersection<'static, Cell<u8>, std::hash::RandomState>
            => std_set::Intersection<'static, Cell<u8>, std::hash::RandomState>;
        gov_set::Difference<'static, u8, CellHasher> => std_set::Difference<'static, u8, CellHasher>;
        gov_set::SymmetricDifference<'static, u8, std::hash::RandomState>
            => std_set::SymmetricDifference<'static, u8, std::hash::RandomState>;
    };
    assert!(
        mismatches.is_empty(),
        "auto traits differ from std:\n{}",
        mismatches.join("\n")
    );
}

#[test]
fn set_extract_if_auto_traits_match_std() {
    use mapgov::hash_set as gov_set;
    use std::collections::hash_set as std_set;
    type SetPred = fn(&u8) -> bool;
    setup();
    let rows = auto_traits!(
        gov_set::ExtractIf<'static, u8, SetPred>,
        std_set::ExtractIf<'static, u8, SetPred>
    );
    for (name, gov, std) in rows {
        assert_eq!(gov, std, "ExtractIf<'_, u8, fn(&u8) -> bool>: {name}");
    }
}

mod random_set_ops {
    use super::*;
    use mapgov::HashSet as GovSet;
    use proptest::prelude::*;
    use proptest::test_runner::TestCaseError;
    use std::collections::HashSet as StdSet;

    #[derive(Clone, Debug)]
    enum SetOp {
        Insert(u8),
        InsertRange {
            start: u8,
            len: u8,
        },
        Replace(u8),
        Remove(u8),
        Take(u8),
        Contains(u8),
        Get(u8),
        Retain(u8),
        ExtractIf {
            modulus: u8,
            take: Option<u8>,
        },
        Drain,
        Clear,
        Reserve(u16),
        ShrinkToFit,
        Clone {
            continue_on_clone: bool,
        },
        Extend(Vec<u8>),
        ExtendByRef(Vec<u8>),
        /// Set algebra against a second set: `which` picks the operation.
        Algebra {
            which: u8,
            other: Vec<u8>,
        },
    }

    fn value() -> impl Strategy<Value = u8> {
        prop_oneof![3 => 0u8..24, 1 => any::<u8>()]
    }

    fn op() -> impl Strategy<Value = SetOp> {
        prop_oneof![
            10 => value().prop_map(SetOp::Insert),
            1 => (any::<u8>(), any::<u8>()).prop_map(|(start, len)| SetOp::InsertRange { start, len }),
            3 => value().prop_map(SetOp::Replace),
            5 => value().prop_map(SetOp::Remove),
            2 => value().prop_map(SetOp::Take),
            3 => value().prop_map(SetOp::Contains),
            2 => value().prop_map(SetOp::Get),
            1 => any::<u8>().prop_map(SetOp::Retain),
            1 => (2u8..5, prop::option::of(0u8..8))
                .prop_map(|(modulus, take)| SetOp::ExtractIf { modulus, take }),
            1 => Just(SetOp::Drain),
            1 => Just(SetOp::Clear),
            1 => (0u16..400).prop_map(SetOp::Reserve),
            1 => Just(SetOp::ShrinkToFit),
            1 => any::<bool>().prop_map(|continue_on_clone| SetOp::Clone { continue_on_clone }),
            1 => prop::collection::vec(value(), 0..60).prop_map(SetOp::Extend),
            1 => prop::collection::vec(value(), 0..20).prop_map(SetOp::ExtendByRef),
            6 => (0u8..16, prop::collection::vec(value(), 0..40))
                .prop_map(|(which, other)| SetOp::Algebra { which, other }),
        ]
    }

    struct SetRun {
        gov: GovSet<u8>,
        std: StdSet<u8>,
        model: Counts,
        name: String,
    }

    impl SetRun {
        /// Lookups on the set under test when each element of `probes` is looked up in it, in
        /// order, stopping after the first whose membership equals `stop_on` (if any).
        fn probe(&mut self, probes: &[u8], stop_on: Option<bool>) {
            for v in probes {
                let hit = self.std.contains(v);
                self.model.lookup(hit);
                if stop_on == Some(hit) {
                    break;
                }
            }
        }

        fn algebra(&mut self, which: u8, other: &[u8]) -> Result<(), TestCaseError> {
            let b_gov: GovSet<u8> = GovSet::from_iter(other.iter().copied());
            let b_std: StdSet<u8> = other.iter().copied().collect();
            // The order in which mapgov's `b` iterates: the order its elements probe `a`.
            let b_order: Vec<u8> = b_gov.iter().copied().collect();
            let (a, a_std) = (&self.gov, &self.std);
            let (la, lb) = (a.len(), b_gov.len());
            match which {
                0 => {
                    prop_assert_eq!(
                        sorted(a.difference(&b_gov)),
                        sorted(a_std.difference(&b_std))
                    );
                }
                1 => {
                    prop_assert_eq!(sorted(b_gov.difference(a)), sorted(b_std.difference(a_std)));
                    self.probe(&b_order, None);
                }
                2 => {
                    prop_assert_eq!(
                        sorted(a.intersection(&b_gov)),
                        sorted(a_std.intersection(&b_std))
                    );
                    if la > lb {
                        self.probe(&b_order, None);
                    }
                }
                3 => {
                    prop_assert_eq!(
                        sorted(a.symmetric_difference(&b_gov)),
                        sorted(a_std.symmetric_difference(&b_std))
                    );
                    self.probe(&b_order, None);
                }
                4 => {
                    prop_assert_eq!(sorted(a.union(&b_gov)), sorted(a_std.union(&b_std)));
                    if la >= lb {
                        self.probe(&b_order, None);
                    }
                }
                5 => {
                    prop_assert_eq!(a.is_disjoint(&b_gov), a_std.is_disjoint(&b_std));
                    if la > lb {
                        self.probe(&b_order, Some(true));
                    }
                }
                6 => {
                    prop_assert_eq!(a.is_subset(&b_gov), a_std.is_subset(&b_std));
                }
                7 => {
                    prop_assert_eq!(a.is_superset(&b_gov), a_std.is_superset(&b_std));
                    if lb <= la {
                        self.probe(&b_order, Some(false));
                    }
                }
                8 => {
                    prop_assert_eq!(b_gov.is_subset(a), b_std.is_subset(a_std));
                    if lb <= la {
                        self.probe(&b_order, Some(false));
                    }
                }
                9 => {
                    prop_assert_eq!(a == &b_gov, a_std == &b_std);
                }
                10 => {
                    prop_assert_eq!(&b_gov == a, &b_std == a_std);
                    if la == lb {
                        self.probe(&b_order, Some(false));
                    }
                }
                11 => {
                    prop_assert_eq!(sorted(a | &b_gov), sorted(a_std | &b_std));
                    if la >= lb {
                        self.probe(&b_order, None);
                    }
                }
                12 => {
                    prop_assert_eq!(sorted(a & &b_gov), sorted(a_std & &b_std));
                    if la > lb {
                        self.probe(&b_order, None);
                    }
                }
                13 => {
                    prop_assert_eq!(sorted(a ^ &b_gov), sorted(a_std ^ &b_std));
                    self.probe(&b_order, None);
                }
                14 => {
                    prop_assert_eq!(sorted(a - &b_gov), sorted(a_std - &b_std));
                }
                _ => {
                    prop_assert_eq!(sorted(&b_gov - a), sorted(&b_std - a_std));
                    self.probe(&b_order, None);
                }
            }
            Ok(())
        }

        fn step(&mut self, op: &SetOp) -> Result<(), TestCaseError> {
            let len_before = self.std.len();
            match op.clone() {
                SetOp::Insert(v) => {
                    let present = self.std.contains(&v);
                    prop_assert_eq!(self.gov.insert(v), self.std.insert(v));
                    self.model.lookup(present);
                    if !present {
                        self.model.inserts += 1;
                    }
                }
                SetOp::InsertRange { start, len } => {
                    for i in 0..len {
                        let v = start.wrapping_add(i);
                        let present = self.std.contains(&v);
                        prop_assert_eq!(self.gov.insert(v), self.std.insert(v));
                        self.model.lookup(present);
                        if !present {
                            self.model.inserts += 1;
                        }
                        self.model.set_len(self.std.len());
                    }
                }
                SetOp::Replace(v) => {
                    let r = self.std.replace(v);
                    prop_assert_eq!(self.gov.replace(v), r);
                    self.model.write(r.is_some());
                }
                SetOp::Remove(v) => {
                    let r = self.std.remove(&v);
                    prop_assert_eq!(self.gov.remove(&v), r);
                    self.model.removes += u64::from(r);
                }
                SetOp::Take(v) => {
                    let r = self.std.take(&v);
                    prop_assert_eq!(self.gov.take(&v), r);
                    self.model.removes += u64::from(r.is_some());
                }
                SetOp::Contains(v) => {
                    let r = self.std.contains(&v);
                    prop_assert_eq!(self.gov.contains(&v), r);
                    self.model.lookup(r);
                }
                SetOp::Get(v) => {
                    let r = self.std.get(&v).copied();
                    prop_assert_eq!(self.gov.get(&v).copied(), r);
                    self.model.lookup(r.is_some());
                }
                SetOp::Retain(seed) => {
                    let keep = |v: &u8| !(v ^ seed).is_multiple_of(3);
                    self.gov.retain(keep);
                    self.std.retain(keep);
                    self.model.removes += (len_before - self.std.len()) as u64;
                }
                SetOp::ExtractIf { modulus, take } => {
                    let pred = move |v: &u8| v.is_multiple_of(modulus);
                    let got: Vec<u8> = match take {
                        None => {
                            let g = sorted(self.gov.extract_if(pred));
                            prop_assert_eq!(&g, &sorted(self.std.extract_if(pred)));
                            g
                        }
                        Some(n) => {
                            let g: Vec<u8> = self.gov.extract_if(pred).take(n.into()).collect();
                            let s = self.std.clone().extract_if(pred).take(n.into()).count();
                            prop_assert_eq!(g.len(), s);
                            for v in &g {
                                prop_assert!(self.std.remove(v));
                            }
                            g
                        }
                    };
                    self.model.removes += got.len() as u64;
                }
                SetOp::Drain => {
                    prop_assert_eq!(sorted(self.gov.drain()), sorted(self.std.drain()));
                    self.model.removes += len_before as u64;
                }
                SetOp::Clear => {
                    self.gov.clear();
                    self.std.clear();
                    self.model.removes += len_before as u64;
                }
                SetOp::Reserve(n) => {
                    self.gov.reserve(n.into());
                    self.std.reserve(n.into());
                    prop_assert!(self.gov.capacity() >= self.gov.len() + usize::from(n));
                }
                SetOp::ShrinkToFit => {
                    self.gov.shrink_to_fit();
                    self.std.shrink_to_fit();
                    prop_assert_eq!(self.gov.stats().unwrap().wasted_bytes, 0);
                }
                SetOp::Clone { continue_on_clone } => {
                    let copy = self.gov.clone();
                    prop_assert_eq!(sorted(&copy), sorted(&self.std));
                    prop_assert_eq!(copy.allocation_size(), self.gov.allocation_size());
                    prop_assert_eq!(counts_of_set(&copy), Counts::present(len_before as u64));
                    if continue_on_clone {
                        self.gov = copy;
                        self.model = Counts::present(len_before as u64);
                    }
                }
                SetOp::Extend(values) | SetOp::ExtendByRef(values) => {
                    // A set's extend inserts each value: a lookup, plus an insert when new.
                    let mut replay = self.std.clone();
                    for v in &values {
                        let new = replay.insert(*v);
                        self.model.lookup(!new);
                        if new {
                            self.model.inserts += 1;
                        }
                    }
                    if matches!(op, SetOp::ExtendByRef(_)) {
                        self.gov.extend(values.iter());
                        self.std.extend(values.iter());
                    } else {
                        self.gov.extend(values.iter().copied());
                        self.std.extend(values.iter().copied());
                    }
                }
                SetOp::Algebra { which, other } => self.algebra(which, &other)?,
            }
            self.model.set_len(self.std.len());
            self.check()
        }

        fn check(&self) -> Result<(), TestCaseError> {
            prop_assert_eq!(sorted(&self.gov), sorted(&self.std));
            let stats = self.gov.stats().expect("a named set has stats");
            let mut got = Counts::of(&stats);
            // Growth is the map's business (covered above); the set's own rules are these.
            (got.grows, got.rehashes, got.shrinks) = (0, 0, 0);
            prop_assert_eq!(got, self.model);
            prop_assert_eq!(stats.allocated_bytes, self.gov.allocation_size() as u64);
            if let Some(entry) = mapgov::snapshot().map_named(&self.name) {
                prop_assert_eq!(
                    (entry.len, entry.inserts, entry.removes),
                    (stats.len, stats.inserts, stats.removes)
                );
            }
            Ok(())
        }
    }

    fn counts_of_set(set: &GovSet<u8>) -> Counts {
        let mut c = Counts::of(&set.stats().expect("stats"));
        (c.grows, c.rehashes, c.shrinks) = (0, 0, 0);
        c
    }

    fn run(ops: &[SetOp]) -> Result<(), TestCaseError> {
        setup();
        let name = unique("set-prop");
        let mut run = SetRun {
            gov: GovSet::new().named(&name),
            std: StdSet::new(),
            model: ZERO,
            name,
        };
        run.check()?;
        for op in ops {
            run.step(op)?;
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 96,
            max_shrink_iters: 2000,
            ..ProptestConfig::default()
        })]

        #[test]
        fn random_set_operation_sequences_match_std_and_the_counting_rules(
            ops in prop::collection::vec(op(), 1..300)
        ) {
            run(&ops)?;
        }
    }
}
