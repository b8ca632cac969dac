//! Exactness against an independent observer: a counting global allocator.
//!
//! With every map tracked, each map's `grows`, `shrinks`, `rehashes` and `allocated_bytes` must
//! equal what the allocator sees the table do:
//!
//! - a grow is a new, larger table allocation followed by the free of the old one (hashbrown
//!   never `realloc`s a table), and the new allocation's size is `allocation_size()` afterwards;
//! - a shrink is a smaller new table followed by the free of the old one, or a free with no new
//!   table (`shrink_to_fit` on an empty map);
//! - an in-place rehash allocates nothing: it shows only as the table's headroom
//!   (`capacity() - len()`, hashbrown's `growth_left`) rising during an insert or reserve;
//! - the first allocation of a map is neither a grow nor a shrink.
//!
//! # Telling the table's allocations from everything else
//!
//! The observer records, for the current thread only and only inside [`observe`], every
//! allocation, free and reallocation with its size and alignment. hashbrown aligns a table to
//! `max(align_of::<(K, V)>(), Group::WIDTH)`, which is 16 on x86-64 (SSE2 groups), while every
//! other allocation a workload here makes is aligned to 8 or less: mapgov's stats cell (an
//! `Arc` of counters), its registry slot vector, `String` keys and values. So the events with
//! alignment [`TABLE_ALIGN`] are the table's. The one other source of 16-aligned allocations is
//! mapgov's registry, whose std `HashMap`s intern a *new* site or name; every map here is
//! therefore named (or its creation line warmed up once) before recording starts, so that no
//! interning happens inside [`observe`]. Each table event is also checked against the table's
//! `allocation_size()` before and after the operation, so a stray 16-aligned allocation would
//! fail the test rather than be counted.
#![cfg(all(target_arch = "x86_64", target_feature = "sse2"))]

use std::cell::{Cell, RefCell};
use std::hash::{BuildHasher, Hash};
use std::sync::Once;

use mapgov::HashMap;

#[path = "support/clustered.rs"]
mod clustered;
use clustered::Clustered;

#[path = "support/reporting_alloc.rs"]
mod reporting_alloc;
use reporting_alloc::{AllocEvent as Ev, Reporting};

// ---------------------------------------------------------------------------------------------
// The observer
// ---------------------------------------------------------------------------------------------

/// hashbrown's table alignment for every entry type used here (align <= 16) on x86-64.
const TABLE_ALIGN: usize = 16;

const LOG_CAP: usize = 1024;

struct Log {
    len: usize,
    overflow: bool,
    ev: [Option<Ev>; LOG_CAP],
}

thread_local! {
    static RECORDING: Cell<bool> = const { Cell::new(false) };
    static LOG: RefCell<Log> = const {
        RefCell::new(Log { len: 0, overflow: false, ev: [None; LOG_CAP] })
    };
}

/// Records `ev` if the current thread is observing. Never allocates.
fn record(ev: Ev) {
    let on = RECORDING.try_with(Cell::get).unwrap_or(false);
    if !on {
        return;
    }
    let _ = LOG.try_with(|log| {
        if let Ok(mut log) = log.try_borrow_mut() {
            if log.len < LOG_CAP {
                let i = log.len;
                log.ev[i] = Some(ev);
                log.len += 1;
            } else {
                log.overflow = true;
            }
        }
    });
}

/// Forwards to `System`, recording what it does.
#[global_allocator]
static GLOBAL: Reporting = Reporting(record);

/// Runs `f` with this thread's allocations recorded; returns its result and the events.
fn observe<R>(f: impl FnOnce() -> R) -> (R, Vec<Ev>) {
    LOG.with(|l| {
        let mut l = l.borrow_mut();
        l.len = 0;
        l.overflow = false;
    });
    RECORDING.with(|r| r.set(true));
    let r = f();
    RECORDING.with(|r| r.set(false));
    let events = LOG.with(|l| {
        let l = l.borrow();
        assert!(!l.overflow, "observer log overflow");
        l.ev[..l.len].iter().flatten().copied().collect()
    });
    (r, events)
}

/// The table's allocations and frees among `events`.
fn table_events(events: &[Ev]) -> (Vec<usize>, Vec<usize>) {
    let mut allocs = Vec::new();
    let mut frees = Vec::new();
    for ev in events {
        match *ev {
            Ev::Alloc { size, align } if align >= TABLE_ALIGN => allocs.push(size),
            Ev::Dealloc { size, align } if align >= TABLE_ALIGN => frees.push(size),
            Ev::Realloc { old, new, align } if align >= TABLE_ALIGN => {
                panic!("unexpected realloc of a table-aligned block: {old} -> {new}")
            }
            _ => {}
        }
    }
    (allocs, frees)
}

// ---------------------------------------------------------------------------------------------
// What the observer counts for one map
// ---------------------------------------------------------------------------------------------

/// The observer's independent count of one map's table events.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Counts {
    grows: u64,
    shrinks: u64,
    rehashes: u64,
    /// Bytes of table the allocator has handed to this map and not taken back.
    live_bytes: u64,
}

impl Counts {
    /// Runs `op` on `m`, classifying the table events it causes.
    ///
    /// `adds` says whether `op` may add entries (insert, entry, reserve): only then does rising
    /// headroom without an allocation mean an in-place rehash (`clear` and removals also raise
    /// it, without any rehash).
    fn op<K, V, S, R>(
        &mut self,
        m: &mut HashMap<K, V, S>,
        adds: bool,
        op: impl FnOnce(&mut HashMap<K, V, S>) -> R,
    ) -> R
    where
        K: Eq + Hash,
        S: BuildHasher,
    {
        let bytes_before = m.allocation_size();
        let headroom_before = m.capacity() - m.len();
        let (r, events) = observe(|| op(&mut *m));
        let (allocs, frees) = table_events(&events);
        let bytes_after = m.allocation_size();
        self.account(&allocs, &frees, bytes_before, bytes_after);
        if adds && allocs.is_empty() && frees.is_empty() && m.capacity() - m.len() > headroom_before
        {
            self.rehashes += 1;
        }
        r
    }

    /// Classifies one operation's table allocations and frees.
    fn account(&mut self, allocs: &[usize], frees: &[usize], before: usize, after: usize) {
        assert!(
            allocs.len() <= 1 && frees.len() <= 1,
            "one operation, one table: allocs {allocs:?}, frees {frees:?}"
        );
        if let Some(&a) = allocs.first() {
            assert_eq!(
                a, after,
                "a table allocation is the table's allocation_size() after"
            );
        }
        if let Some(&f) = frees.first() {
            assert_eq!(f, before, "a table free is the old table");
        }
        match (allocs.first(), frees.first()) {
            (Some(&a), Some(&f)) if a > f => self.grows += 1,
            (Some(&a), Some(&f)) if a < f => self.shrinks += 1,
            (None, Some(_)) => self.shrinks += 1,
            // The first allocation (or a same-size copy) is neither.
            _ => {}
        }
        self.live_bytes += allocs.iter().sum::<usize>() as u64;
        self.live_bytes -= frees.iter().sum::<usize>() as u64;
    }

    /// Asserts that `m`'s stats agree with the observer.
    #[track_caller]
    fn assert_matches<K, V, S>(&self, m: &HashMap<K, V, S>, what: &str)
    where
        K: Eq + Hash,
        S: BuildHasher,
    {
        let s = m.stats().expect("stats");
        let mapgov = Counts {
            grows: s.grows,
            shrinks: s.shrinks,
            rehashes: s.rehashes,
            live_bytes: s.allocated_bytes,
        };
        assert_eq!(
            mapgov, *self,
            "{what}: mapgov (left) vs the allocator (right)"
        );
        assert_eq!(s.allocated_bytes, m.allocation_size() as u64, "{what}");
        assert_eq!(s.len, m.len() as u64, "{what}");
    }
}

fn setup() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = mapgov::Config::from_env()
            .track_min_bytes(0)
            .lookup_sample(1)
            .install();
    });
    assert_eq!(mapgov::current_config().get_track_min_bytes(), 0);
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[test]
fn grows_equal_the_table_allocations_after_the_first() {
    setup();
    let mut m: HashMap<u64, u64> = HashMap::new().named("observer/grows");
    let mut seen = Counts::default();
    let mut first_allocations = 0;
    for i in 0..50_000u64 {
        let had_table = m.allocation_size() > 0;
        seen.op(&mut m, true, |m| m.insert(i, i));
        first_allocations += u64::from(!had_table && m.allocation_size() > 0);
    }
    assert_eq!(first_allocations, 1);
    assert!(seen.grows >= 12, "{seen:?}");
    assert_eq!(seen.rehashes, 0);
    seen.assert_matches(&m, "50k inserts");
    // Updates and lookups never touch the table's memory.
    for i in 0..1_000u64 {
        seen.op(&mut m, true, |m| m.insert(i, 0));
        seen.op(&mut m, false, |m| m.get(&i).copied());
    }
    seen.assert_matches(&m, "updates");
}

#[test]
fn inserting_an_existing_key_into_a_full_table_grows_it_and_is_counted() {
    setup();
    let mut m: HashMap<u64, u64> = HashMap::new().named("observer/full-update");
    let mut seen = Counts::default();
    let mut i = 0;
    while m.len() < 100 || m.len() < m.capacity() {
        seen.op(&mut m, true, |m| m.insert(i, i));
        i += 1;
    }
    seen.assert_matches(&m, "full");
    let (grows, bytes) = (seen.grows, m.allocation_size());
    let before = m.stats().unwrap();
    // hashbrown's insert reserves before it looks the key up: the table grows anyway.
    let old = seen.op(&mut m, true, |m| m.insert(0, 42));
    assert_eq!(old, Some(0));
    assert_eq!(seen.grows, grows + 1);
    assert!(m.allocation_size() > bytes);
    let after = m.stats().unwrap();
    assert_eq!(
        (after.inserts, after.updates),
        (before.inserts, before.updates + 1)
    );
    seen.assert_matches(&m, "update into a full table");
}

#[test]
fn in_place_rehashes_equal_headroom_rises_without_an_allocation() {
    setup();
    // Deterministic: fill a run of consecutive buckets, remove its middle (tombstones), insert.
    let mut m: HashMap<u64, u64, Clustered> =
        HashMap::with_hasher(Clustered).named("observer/rehash-clustered");
    let mut seen = Counts::default();
    for round in 0..5 {
        // Clearing empties every bucket (no tombstones), keeping the table.
        seen.op(&mut m, false, HashMap::clear);
        let mut k = 0;
        while m.len() < 100 || m.len() < m.capacity() {
            seen.op(&mut m, true, |m| m.insert(k, k));
            k += 1;
        }
        let full = m.capacity() as u64;
        let (bytes, cap) = (m.allocation_size(), m.capacity());
        // Tombstones: capacity() falls, the bytes stay.
        for k in 16..full - 16 {
            seen.op(&mut m, false, |m| m.remove(&k));
        }
        assert!(m.capacity() < cap, "tombstones lower capacity()");
        assert_eq!(m.len(), m.capacity(), "no free bucket left");
        assert_eq!(m.allocation_size(), bytes, "removals free nothing");
        let stats = m.stats().unwrap();
        assert_eq!(stats.allocated_bytes, bytes as u64);
        assert_eq!(
            stats.capacity, cap as u64,
            "stats.capacity is as of the last resize"
        );
        // The next insert finds no free bucket and rehashes in place.
        let rehashes = seen.rehashes;
        seen.op(&mut m, true, |m| m.insert(1_000_000, 0));
        assert_eq!(seen.rehashes, rehashes + 1, "round {round}");
        assert_eq!(m.allocation_size(), bytes, "in place");
        seen.assert_matches(&m, "clustered churn");
    }
    assert_eq!(seen.rehashes, 5);

    // Churn with std's random hasher: a sliding window of keys, as a cache sees.
    let mut m: HashMap<u64, u64> = HashMap::new().named("observer/rehash-random");
    let mut seen = Counts::default();
    const WINDOW: u64 = 1_500;
    for k in 0..200_000u64 {
        seen.op(&mut m, true, |m| m.insert(k, k));
        if k >= WINDOW {
            seen.op(&mut m, false, |m| m.remove(&(k - WINDOW)));
        }
    }
    seen.assert_matches(&m, "random churn");
    assert!(
        seen.rehashes > 0,
        "a sliding window rehashes in place: {seen:?}"
    );
    // reserve() rehashes in place too when tombstones are the only thing in the way.
    while m.len() < m.capacity() {
        let k = m.len() as u64 + 10_000_000;
        seen.op(&mut m, true, |m| m.insert(k, k));
    }
    seen.op(&mut m, true, |m| m.reserve(1));
    seen.assert_matches(&m, "reserve on a full table of tombstones");
}

#[test]
fn shrinks_equal_the_smaller_reallocations_and_frees() {
    setup();
    let mut m: HashMap<u64, u64> = HashMap::new().named("observer/shrinks");
    let mut seen = Counts::default();
    for i in 0..10_000u64 {
        seen.op(&mut m, true, |m| m.insert(i, i));
    }
    for i in 100..10_000u64 {
        seen.op(&mut m, false, |m| m.remove(&i));
    }
    seen.assert_matches(&m, "after removals");
    let shrinks = seen.shrinks;
    seen.op(&mut m, false, |m| m.shrink_to(1_000));
    assert_eq!(seen.shrinks, shrinks + 1);
    seen.assert_matches(&m, "shrink_to(1000)");
    seen.op(&mut m, false, |m| m.shrink_to(5_000));
    assert_eq!(
        seen.shrinks,
        shrinks + 1,
        "shrink_to above the capacity does nothing"
    );
    seen.op(&mut m, false, HashMap::shrink_to_fit);
    assert_eq!(seen.shrinks, shrinks + 2);
    seen.op(&mut m, false, HashMap::shrink_to_fit);
    assert_eq!(seen.shrinks, shrinks + 2, "a tight table does not shrink");
    seen.assert_matches(&m, "shrink_to_fit");
    // reserve after a shrink is a grow again.
    seen.op(&mut m, true, |m| m.reserve(5_000));
    seen.assert_matches(&m, "reserve");
    // A failed try_reserve changes nothing.
    let r = seen.op(&mut m, true, |m| m.try_reserve(usize::MAX));
    assert!(r.is_err());
    seen.assert_matches(&m, "failed try_reserve");
    // shrink_to on an emptied map allocates the smaller table before freeing the old one.
    seen.op(&mut m, false, HashMap::clear);
    let shrinks = seen.shrinks;
    seen.op(&mut m, false, |m| m.shrink_to(10));
    assert_eq!(seen.shrinks, shrinks + 1);
    assert!(m.allocation_size() > 0);
    seen.assert_matches(&m, "shrink_to(10) on an empty map");
}

#[test]
fn clear_keeps_memory_and_shrink_to_fit_on_an_empty_map_frees_it_all() {
    setup();
    let mut m: HashMap<u64, String> = HashMap::new().named("observer/clear");
    let mut seen = Counts::default();
    let values: Vec<String> = (0..300).map(|i| format!("value {i}")).collect();
    for (i, v) in values.into_iter().enumerate() {
        seen.op(&mut m, true, move |m| m.insert(i as u64, v));
    }
    let bytes = m.allocation_size();
    seen.op(&mut m, false, HashMap::clear);
    assert_eq!(m.allocation_size(), bytes, "clear keeps the table");
    let stats = m.stats().unwrap();
    assert_eq!((stats.len, stats.removes), (0, 300));
    assert_eq!(
        stats.wasted_bytes, bytes as u64,
        "an empty table is all waste"
    );
    seen.assert_matches(&m, "clear");
    let shrinks = seen.shrinks;
    seen.op(&mut m, false, HashMap::shrink_to_fit);
    assert_eq!(m.allocation_size(), 0);
    assert_eq!(seen.shrinks, shrinks + 1, "freeing the table is a shrink");
    seen.assert_matches(&m, "shrink_to_fit on an empty map");
    // And the map allocates again from nothing: a first allocation, not a grow.
    let grows = seen.grows;
    seen.op(&mut m, true, |m| m.insert(1, String::new()));
    assert_eq!(seen.grows, grows);
    seen.assert_matches(&m, "reallocated");
}

/// `with_capacity` computes the new table's size with `stats::table_bytes_for` (a fresh table
/// has no tombstones), so this checks that mirror of hashbrown's layout for `(K, V)`.
/// Returns the mismatches.
fn with_capacity_vs_allocated<K: Eq + Hash, V>(label: &str) -> Vec<String> {
    let mut bad = Vec::new();
    // Round 0 creates the site of this line for this instantiation (mapgov interns it, which
    // allocates); the observed rounds reuse it.
    let caps = [
        1usize, 0, 1, 2, 3, 4, 6, 7, 8, 13, 14, 15, 16, 28, 29, 57, 100, 1_000, 12_345,
    ];
    for (round, cap) in caps.into_iter().enumerate() {
        let (m, events) = observe(|| HashMap::<K, V>::with_capacity(cap));
        if round == 0 {
            continue;
        }
        let (allocs, frees) = table_events(&events);
        assert!(frees.is_empty());
        let bytes = m.allocation_size();
        assert_eq!(allocs.iter().sum::<usize>(), bytes, "{label}: cap {cap}");
        match m.stats() {
            None => assert_eq!((cap, bytes), (0, 0), "{label}: no table, no stats"),
            Some(s) => {
                if s.allocated_bytes != bytes as u64 {
                    bad.push(format!(
                        "{label} (entry {} bytes, align {}): with_capacity({cap}): \
                         allocated_bytes {}, allocator saw {bytes}",
                        std::mem::size_of::<(K, V)>(),
                        std::mem::align_of::<(K, V)>(),
                        s.allocated_bytes
                    ));
                }
                assert_eq!((s.grows, s.shrinks, s.rehashes), (0, 0, 0), "{label}");
                assert_eq!(
                    s.wasted_bytes, s.allocated_bytes,
                    "{label}: empty: all waste"
                );
            }
        }
    }
    bad
}

#[test]
fn with_capacity_allocations_are_exact_for_every_entry_layout() {
    setup();
    let mut bad = Vec::new();
    bad.extend(with_capacity_vs_allocated::<u64, u64>("u64-u64"));
    bad.extend(with_capacity_vs_allocated::<u8, ()>("u8"));
    bad.extend(with_capacity_vs_allocated::<u8, u8>("u8-u8"));
    bad.extend(with_capacity_vs_allocated::<[u8; 3], ()>("[u8;3]"));
    bad.extend(with_capacity_vs_allocated::<u16, [u8; 3]>("u16-[u8;3]"));
    bad.extend(with_capacity_vs_allocated::<(), ()>("()-()"));
    bad.extend(with_capacity_vs_allocated::<u64, ()>("u64"));
    bad.extend(with_capacity_vs_allocated::<(u64, u64), (u64, u64)>(
        "(u64,u64)-(u64,u64)",
    ));
    bad.extend(with_capacity_vs_allocated::<String, String>(
        "String-String",
    ));
    bad.extend(with_capacity_vs_allocated::<u128, u8>("u128-u8"));
    assert!(
        bad.is_empty(),
        "stats::table_bytes_for disagrees with hashbrown:\n{}",
        bad.join("\n")
    );
    // With a hasher too (round 0 warms up the site).
    for round in 0..2 {
        let (m, events) =
            observe(|| HashMap::<u8, u8, Clustered>::with_capacity_and_hasher(9, Clustered));
        if round == 1 {
            assert_eq!(table_events(&events).0, vec![m.allocation_size()]);
            assert_eq!(
                m.stats().unwrap().allocated_bytes,
                m.allocation_size() as u64
            );
        }
    }
}

#[test]
fn a_clone_reports_exactly_its_own_allocation() {
    setup();
    let mut m: HashMap<u64, String> = HashMap::new().named("observer/clone-source");
    for i in 0..1_000u64 {
        m.insert(i, i.to_string());
    }
    for i in 0..900u64 {
        m.remove(&i);
    }
    // Rounds: full table with tombstones, then cleared (allocated but empty), then freed.
    for round in 0..4 {
        match round {
            2 => m.clear(),
            3 => m.shrink_to_fit(),
            _ => {}
        }
        // Round 0 warms up the clone's site (same line, same name).
        let (c, events) = observe(|| m.clone());
        if round == 0 {
            continue;
        }
        let (allocs, frees) = table_events(&events);
        assert!(frees.is_empty());
        assert_eq!(allocs.iter().sum::<usize>(), c.allocation_size());
        assert_eq!(
            c.allocation_size(),
            m.allocation_size(),
            "same bucket count"
        );
        let s = c.stats().expect("a clone of a named map is named");
        assert_eq!(
            s.allocated_bytes,
            c.allocation_size() as u64,
            "round {round}"
        );
        assert_eq!((s.grows, s.shrinks, s.rehashes), (0, 0, 0));
        assert_eq!((s.len, s.inserts, s.removes), (c.len() as u64, 0, 0));
        assert_eq!(s.name.as_deref(), Some("observer/clone-source"));
    }
    // clone_from into a smaller map is a grow, into a larger one a shrink.
    let mut small: HashMap<u64, String> = HashMap::new().named("observer/clone-from");
    let mut seen = Counts::default();
    seen.op(&mut small, true, |s| s.insert(1, String::new()));
    let mut big: HashMap<u64, String> = HashMap::new().named("observer/clone-from-big");
    for i in 0..500u64 {
        big.insert(i, String::new());
    }
    seen.op(&mut small, false, |s| s.clone_from(&big));
    assert_eq!(seen.grows, 1);
    seen.assert_matches(&small, "clone_from a larger map");
    let tiny: HashMap<u64, String> = HashMap::from([(1, String::new())]);
    seen.op(&mut small, false, |s| s.clone_from(&tiny));
    assert_eq!(seen.shrinks, 1);
    seen.assert_matches(&small, "clone_from a smaller map");
}

/// `wasted_bytes` before `shrink_to_fit` must equal what the allocator sees it free, for one
/// key/value type, over a range of lengths. Returns the mismatches.
fn wasted_vs_freed<K, V>(label: &str, make: impl Fn(u64) -> (K, V), distinct: u64) -> Vec<String>
where
    K: Eq + Hash,
{
    let mut bad = Vec::new();
    for keep in [
        0u64, 1, 2, 3, 4, 5, 7, 8, 13, 14, 15, 16, 28, 29, 57, 100, 255, 1_000, 3_000,
    ] {
        if keep > distinct {
            continue;
        }
        let total = (keep * 4 + 40).min(distinct).max(keep);
        let mut m: HashMap<K, V> = HashMap::new().named(label);
        let mut seen = Counts::default();
        for i in 0..total {
            let (k, v) = make(i);
            seen.op(&mut m, true, move |m| m.insert(k, v));
        }
        for i in keep..total {
            let (k, _) = make(i);
            seen.op(&mut m, false, move |m| m.remove(&k));
        }
        let wasted = m.stats().unwrap().wasted_bytes;
        let before = m.allocation_size() as u64;
        seen.op(&mut m, false, HashMap::shrink_to_fit);
        let freed = before - m.allocation_size() as u64;
        seen.assert_matches(&m, label);
        if wasted != freed {
            bad.push(format!(
                "{label} (entry {} bytes, align {}): len {keep}: wasted_bytes {wasted}, \
                 shrink_to_fit freed {freed} (table {before} -> {})",
                std::mem::size_of::<(K, V)>(),
                std::mem::align_of::<(K, V)>(),
                m.allocation_size()
            ));
        }
        let after = m.stats().unwrap();
        if after.wasted_bytes != 0 {
            bad.push(format!(
                "{label}: len {keep}: wasted_bytes {} right after shrink_to_fit",
                after.wasted_bytes
            ));
        }
    }
    bad
}

#[test]
fn wasted_bytes_equal_what_shrink_to_fit_frees_for_every_entry_layout() {
    setup();
    let mut bad = Vec::new();
    bad.extend(wasted_vs_freed(
        "observer/wasted/u8",
        |i| (i as u8, ()),
        256,
    ));
    bad.extend(wasted_vs_freed(
        "observer/wasted/u8-u8",
        |i| (i as u8, i as u8),
        256,
    ));
    bad.extend(wasted_vs_freed(
        "observer/wasted/[u8;3]",
        |i| ([i as u8, (i >> 8) as u8, 7], ()),
        1 << 16,
    ));
    bad.extend(wasted_vs_freed(
        "observer/wasted/u64",
        |i| (i, ()),
        u64::MAX,
    ));
    bad.extend(wasted_vs_freed(
        "observer/wasted/u64-u64",
        |i| (i, i),
        u64::MAX,
    ));
    bad.extend(wasted_vs_freed(
        "observer/wasted/(u64,u64)-(u64,u64)",
        |i| ((i, !i), (i, i)),
        u64::MAX,
    ));
    bad.extend(wasted_vs_freed(
        "observer/wasted/String-String",
        |i| (i.to_string(), String::from("v")),
        u64::MAX,
    ));
    bad.extend(wasted_vs_freed(
        "observer/wasted/u64-[u8;3]",
        |i| (i, [1u8, 2, 3]),
        u64::MAX,
    ));
    bad.extend(wasted_vs_freed("observer/wasted/()-()", |_| ((), ()), 1));
    bad.extend(wasted_vs_freed(
        "observer/wasted/u16-()",
        |i| (i as u16, ()),
        1 << 16,
    ));
    bad.extend(wasted_vs_freed(
        "observer/wasted/u128",
        |i| (u128::from(i), ()),
        u64::MAX,
    ));
    assert!(
        bad.is_empty(),
        "stats::table_bytes_for disagrees with hashbrown:\n{}",
        bad.join("\n")
    );
}
