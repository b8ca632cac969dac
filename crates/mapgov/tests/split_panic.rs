//! `SplitMap` panic safety: a panicking `Hash`, `Eq`, `Clone`, `Drop` or predicate in the
//! middle of a split, a tombstone rebuild, a merge, a reserve or a bulk operation leaves the map
//! usable, structurally sound (`check_invariants`) and coherent with its stats, with every entry
//! that should be there reachable exactly once.
//!
//! The design makes every restructuring two-phase (hash everything, then move with no user code
//! running). The sweeps here prove it point by point: the operation runs on fresh copies of one
//! map with `Hash` armed to panic on its 1st call, its 2nd, its 3rd, ... until a run completes,
//! and after every panic the copy is checked.
//!
//! The traps are process-wide countdowns ("panic on the n-th call from now"), so every test
//! holds [`setup`]'s lock: the tests of this binary run one at a time.

use std::collections::BTreeMap;
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher, Hash, Hasher};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Mutex, MutexGuard, Once, PoisonError};

use mapgov::{Config, SplitMap};

#[path = "support/dense.rs"]
mod dense;
use dense::Dense;

#[path = "support/intentional_panic.rs"]
mod intentional_panic;
use intentional_panic::{PANIC_TAG, hide_intentional_panics, payload_message};

// ---------------------------------------------------------------------------------------------
// Traps
// ---------------------------------------------------------------------------------------------

/// A place where user code can panic: counts its calls and panics on the armed one.
struct Trap {
    name: &'static str,
    /// 0 = disarmed, n = panic on the n-th call from now.
    left: AtomicU64,
    calls: AtomicU64,
}

impl Trap {
    const fn new(name: &'static str) -> Trap {
        Trap {
            name,
            left: AtomicU64::new(0),
            calls: AtomicU64::new(0),
        }
    }

    fn arm(&self, nth: u64) {
        assert!(nth >= 1);
        self.left.store(nth, SeqCst);
    }

    fn calls(&self) -> u64 {
        self.calls.load(SeqCst)
    }

    /// Counts a call, panicking if it is the armed one. Never panics while the thread is
    /// already unwinding (that would abort the test binary).
    fn trip(&self) {
        self.calls.fetch_add(1, SeqCst);
        if std::thread::panicking() {
            return;
        }
        let left = self.left.fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1));
        if left == Ok(1) {
            panic!("{PANIC_TAG} in {}", self.name);
        }
    }
}

static HASH: Trap = Trap::new("Hash");
static EQ: Trap = Trap::new("Eq");
static CLONE: Trap = Trap::new("Clone");
static DROP: Trap = Trap::new("Drop");

fn disarm_all() {
    for t in [&HASH, &EQ, &CLONE, &DROP] {
        t.left.store(0, SeqCst);
    }
}

/// `Val`s alive (created or cloned, minus dropped).
static LIVE: AtomicI64 = AtomicI64::new(0);

fn live() -> i64 {
    LIVE.load(SeqCst)
}

/// Installs the configuration (every map tracked, every lookup counted) and a panic hook that
/// keeps the intentional panics out of the output; returns the lock every test holds.
fn setup() -> MutexGuard<'static, ()> {
    static ONCE: Once = Once::new();
    static SERIAL: Mutex<()> = Mutex::new(());
    ONCE.call_once(|| {
        let _ = Config::from_env()
            .track_min_bytes(0)
            .lookup_sample(1)
            .install();
        hide_intentional_panics();
    });
    let guard = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    let config = mapgov::current_config();
    assert!(config.is_enabled(), "needs governance on (MAPGOV unset)");
    assert_eq!(config.get_track_min_bytes(), 0);
    assert_eq!(config.get_lookup_sample(), 1);
    disarm_all();
    LIVE.store(0, SeqCst);
    guard
}

/// Runs `op`; returns whether it panicked, insisting that a panic is one of ours.
fn panicked(what: &str, op: impl FnOnce()) -> bool {
    let r = catch_unwind(AssertUnwindSafe(op));
    disarm_all();
    match r {
        Ok(()) => false,
        Err(e) => {
            let msg = payload_message(e);
            assert!(
                msg.starts_with(PANIC_TAG),
                "{what}: unexpected panic {msg:?}"
            );
            true
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Key, value and hashers
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
struct Key(u64);

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        HASH.trip();
        state.write_u64(self.0);
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        EQ.trip();
        self.0 == other.0
    }
}

impl Eq for Key {}

/// A value counted in [`LIVE`].
#[derive(Debug)]
struct Val(u64);

impl Val {
    fn new(v: u64) -> Val {
        LIVE.fetch_add(1, SeqCst);
        Val(v)
    }
}

impl Clone for Val {
    fn clone(&self) -> Val {
        CLONE.trip();
        Val::new(self.0)
    }
}

impl Drop for Val {
    fn drop(&mut self) {
        // The value is gone whether or not its drop then panics.
        LIVE.fetch_sub(1, SeqCst);
        DROP.trip();
    }
}

/// std's SipHash with fixed keys: spreads every bit, and runs replay the same way.
type Fixed = BuildHasherDefault<DefaultHasher>;

type Map<S> = SplitMap<Key, Val, S>;

/// A key no test inserts on purpose.
const PROBE: Key = Key(u64::MAX - 7);

/// A process-unique map name.
fn unique(prefix: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!("split-panic-{prefix}-{}", NEXT.fetch_add(1, SeqCst))
}

/// A named map with tables of at most `buckets` buckets, holding `keys` (value `10 * k`).
fn filled<S: BuildHasher + Default>(
    buckets: usize,
    prefix: &str,
    keys: impl IntoIterator<Item = u64>,
) -> Map<S> {
    let mut m = SplitMap::with_hasher(S::default())
        .with_table_max_buckets(buckets)
        .named(&unique(prefix));
    for k in keys {
        m.insert(Key(k), Val::new(10 * k));
    }
    m
}

/// A single 64-bucket table (the maximum here) holding 16 entries and full of tombstones
/// (`len == capacity`): keys 0..56 fill buckets 0..56, and removing keys 8..48 leaves
/// tombstones, since none of them has an empty bucket within a group. The next insert of a new
/// key rebuilds the table.
fn tombstoned() -> Map<Dense> {
    let mut m = filled::<Dense>(64, "tombstoned", 0..56);
    assert_eq!((m.len(), m.capacity(), m.tables()), (56, 56, 1));
    for k in 8..48 {
        m.remove(&Key(k));
    }
    assert_eq!(
        (m.len(), m.capacity()),
        (16, 16),
        "tombstones take the room"
    );
    m
}

// ---------------------------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------------------------

/// The map's entries by iteration, asserting that each key comes once and `len()` in all.
fn entries<S>(m: &Map<S>) -> BTreeMap<u64, u64> {
    let mut seen = BTreeMap::new();
    for (k, v) in m {
        assert!(seen.insert(k.0, v.0).is_none(), "key {} yielded twice", k.0);
    }
    assert_eq!(seen.len(), m.len(), "iteration yields len() entries");
    seen
}

/// `check_invariants` (the directory has 2^depth slots, each table's slots name it, each
/// entry is in the table its hash selects, the tables' entries add up to `len()`, and their
/// (allocation bytes, capacity) add up to the map's accounting), with `what` in the message.
fn check_invariants<S: BuildHasher>(m: &Map<S>, what: &str) {
    disarm_all();
    let r = catch_unwind(AssertUnwindSafe(|| m.check_invariants()));
    if let Err(e) = r {
        let msg = payload_message(e);
        panic!("{what}: check_invariants failed: {msg}");
    }
}

/// The map holds exactly `expected`: structure (`check_invariants`), every entry reachable
/// once by iteration and by lookup, `len()` and `stats().len`; and the live values are the
/// map's plus `elsewhere`.
fn assert_intact<S: BuildHasher>(
    m: &Map<S>,
    expected: &BTreeMap<u64, u64>,
    elsewhere: i64,
    what: &str,
) {
    check_invariants(m, what);
    assert_eq!(m.len(), expected.len(), "{what}: len");
    assert_eq!(&entries(m), expected, "{what}: entries");
    for (&k, &v) in expected {
        assert_eq!(
            m.get(&Key(k)).map(|v| v.0),
            Some(v),
            "{what}: lookup of {k}"
        );
    }
    let stats = m.stats().expect("a named map has stats");
    assert_eq!(stats.len, m.len() as u64, "{what}: stats.len");
    assert!(stats.peak_len >= stats.len, "{what}: peak_len");
    assert_eq!(
        live(),
        m.len() as i64 + elsewhere,
        "{what}: live values vs entries held"
    );
}

/// `stats()` reports the map's current allocation and table count.
fn assert_memory_stats<S>(m: &Map<S>, what: &str) {
    let stats = m.stats().expect("a named map has stats");
    assert_eq!(
        stats.allocated_bytes,
        m.allocation_size() as u64,
        "{what}: stats.allocated_bytes vs allocation_size()"
    );
    assert_eq!(
        stats.tables,
        m.tables() as u64,
        "{what}: stats.tables vs tables()"
    );
}

/// The map still works: a fresh key goes in, is found and comes out, and the map is intact
/// after each step.
fn assert_usable<S: BuildHasher>(
    m: &mut Map<S>,
    expected: &BTreeMap<u64, u64>,
    elsewhere: i64,
    what: &str,
) {
    disarm_all();
    assert!(m.get(&PROBE).is_none(), "{what}: probe present");
    assert!(m.insert(PROBE, Val::new(7)).is_none(), "{what}: insert");
    let mut with_probe = expected.clone();
    with_probe.insert(PROBE.0, 7);
    assert_intact(m, &with_probe, elsewhere, what);
    assert_eq!(m.remove(&PROBE).map(|v| v.0), Some(7), "{what}: remove");
    assert_intact(m, expected, elsewhere, what);
}

/// Runs `op` on fresh copies of `template` with `Hash` armed to panic on its 1st, 2nd, ...
/// call until a run completes. After every panic the copy must hold the template's entries,
/// intact; `after_panic` then checks more, and the copy must still be usable. Returns how many
/// runs panicked and the completed copy.
fn sweep_hash<S: BuildHasher + Clone>(
    template: &Map<S>,
    what: &str,
    op: impl Fn(&mut Map<S>),
    mut after_panic: impl FnMut(&Map<S>, &str),
) -> (u64, Map<S>) {
    let expected = entries(template);
    let elsewhere = template.len() as i64;
    for nth in 1.. {
        let mut copy = template.clone();
        HASH.arm(nth);
        if !panicked(what, || op(&mut copy)) {
            return (nth - 1, copy);
        }
        let what = format!("{what}, panic at hash #{nth}");
        assert_intact(&copy, &expected, elsewhere, &what);
        after_panic(&copy, &what);
        assert_usable(&mut copy, &expected, elsewhere, &what);
        assert!(nth < 100_000, "{what}: never completes");
    }
    unreachable!()
}

/// A key not in `m` whose insert splits a table (found on copies of `m`, skipping `skip`
/// such keys).
fn splitting_key<S: BuildHasher + Clone>(m: &Map<S>, skip: usize) -> u64 {
    (1_000_000..)
        .filter(|&k| {
            let mut probe = m.clone();
            probe.insert(Key(k), Val::new(0));
            probe.tables() == m.tables() + 1
        })
        .nth(skip)
        .expect("some key splits")
}

// ---------------------------------------------------------------------------------------------
// Hash panics in restructurings
// ---------------------------------------------------------------------------------------------

#[test]
fn hash_panic_at_every_point_of_a_first_split_loses_nothing() {
    let _serial = setup();
    let template = filled::<Fixed>(16, "first-split", 0..14);
    assert_eq!(
        (template.len(), template.capacity(), template.tables()),
        (14, 14, 1)
    );
    let (panics, done) = sweep_hash(
        &template,
        "first split",
        |m| {
            m.insert(Key(1000), Val::new(10_000));
        },
        |m, what| {
            assert_eq!(m.tables(), 1, "{what}: phase one moves nothing");
            assert_memory_stats(m, what);
        },
    );
    assert_eq!(
        panics,
        1 + 14,
        "the key's own hash, then one per entry of the table"
    );
    assert_eq!(done.tables(), 2, "the completed insert split the table");
    let mut want = entries(&template);
    want.insert(1000, 10_000);
    assert_intact(&done, &want, template.len() as i64, "completed");
    assert_eq!(done.stats().unwrap().splits, 1);
}

#[test]
fn hash_panic_at_every_point_of_a_split_deep_in_the_directory_loses_nothing() {
    let _serial = setup();
    let template = filled::<Fixed>(16, "deep-split", 0..300);
    assert!(template.tables() > 16);
    for skip in 0..4 {
        let key = splitting_key(&template, skip);
        let (panics, done) = sweep_hash(
            &template,
            &format!("split by key {key}"),
            |m| {
                m.insert(Key(key), Val::new(key));
            },
            |m, what| {
                assert_eq!(m.tables(), template.tables(), "{what}: nothing moved");
                assert_memory_stats(m, what);
            },
        );
        assert_eq!(
            panics,
            1 + 14,
            "the key, then the 14 entries of the full table"
        );
        assert_eq!(done.tables(), template.tables() + 1);
        let mut want = entries(&template);
        want.insert(key, key);
        assert_intact(&done, &want, template.len() as i64, "completed");
    }
}

#[test]
fn hash_panic_at_every_point_of_a_tombstone_rebuild_loses_nothing() {
    let _serial = setup();
    let template = tombstoned();
    // A copy's table list and directory may have less spare capacity than the original's.
    let bytes = template.clone().allocation_size();
    let (panics, done) = sweep_hash(
        &template,
        "rebuild",
        |m| {
            m.insert(Key(1000), Val::new(1000));
        },
        |m, what| {
            assert_eq!(m.capacity(), 16, "{what}: still tombstoned");
            assert_memory_stats(m, what);
        },
    );
    assert_eq!(panics, 1 + 16, "the key, then the table's 16 entries");
    assert_eq!(
        (done.tables(), done.capacity(), done.allocation_size()),
        (1, 56, bytes),
        "rebuilt at the same size"
    );
}

#[test]
fn hash_panic_in_reserve_of_a_tombstoned_table_loses_nothing() {
    let _serial = setup();
    let template = tombstoned();
    let (panics, done) = sweep_hash(
        &template,
        "reserve rebuild",
        |m| m.reserve(5),
        assert_memory_stats,
    );
    assert_eq!(panics, 16, "one hash per entry");
    assert!(done.capacity() >= 21);
}

/// std's `entry()` on a present key never touches the table; hashbrown's `HashTable::entry`
/// makes room first, and on a tombstoned table that is an in-place rehash, which drops the
/// entries it has not rehashed yet when a hash panics.
#[test]
fn hash_panic_in_entry_on_a_present_key_of_a_tombstoned_table_loses_nothing() {
    let _serial = setup();
    let template = tombstoned();
    let (panics, done) = sweep_hash(
        &template,
        "entry on a present key",
        |m| {
            m.entry(Key(0)).or_insert_with(|| Val::new(0)).0 += 1;
        },
        assert_memory_stats,
    );
    assert_eq!(panics, 1, "only the key is hashed");
    let mut want = entries(&template);
    want.insert(0, 1);
    assert_intact(&done, &want, template.len() as i64, "completed");
}

/// A map of 8-bucket tables that held 400 keys and keeps 40: `shrink_to_fit` merges many pairs
/// of tables and rebuilds the rest.
fn hollowed() -> Map<Fixed> {
    let mut m = filled::<Fixed>(8, "hollowed", 0..400);
    m.retain(|k, _| k.0 % 10 == 0);
    assert!(m.tables() > 50);
    m
}

#[test]
fn hash_panic_at_every_point_of_shrink_to_fit_merges_loses_nothing() {
    let _serial = setup();
    let template = hollowed();
    let mut partial = 0;
    let (panics, done) = sweep_hash(&template, "shrink_to_fit", Map::shrink_to_fit, |m, _| {
        if m.tables() < template.tables() {
            partial += 1;
        }
    });
    assert!(panics > 80, "merges hash both tables' entries: {panics}");
    assert!(
        partial > 0,
        "some panics came after merges had completed (not only in the first one)"
    );
    assert!(done.tables() < template.tables() / 4);
}

#[test]
fn hash_panic_midway_through_shrink_to_fit_leaves_the_stats_current() {
    let _serial = setup();
    let template = hollowed();
    sweep_hash(
        &template,
        "shrink_to_fit",
        Map::shrink_to_fit,
        assert_memory_stats,
    );
}

/// A map of 16-bucket tables holding 100 keys, and `reserve(2000)`: it splits every table
/// into many, one after the other.
fn presplit_template() -> Map<Fixed> {
    filled::<Fixed>(16, "presplit", 0..100)
}

#[test]
fn hash_panic_at_every_point_of_a_presplitting_reserve_loses_nothing() {
    let _serial = setup();
    let template = presplit_template();
    let mut partial = 0;
    let (panics, done) = sweep_hash(
        &template,
        "reserve",
        |m| m.reserve(2000),
        |m, _| {
            if m.tables() > template.tables() {
                partial += 1;
            }
        },
    );
    assert!(panics > 100, "{panics}");
    assert!(partial > 0, "some panics came after splits had completed");
    assert!(done.capacity() >= 2100);
    assert!(done.tables() >= 128);
}

#[test]
fn hash_panic_midway_through_a_presplitting_reserve_leaves_the_stats_current() {
    let _serial = setup();
    let template = presplit_template();
    sweep_hash(
        &template,
        "reserve",
        |m| m.reserve(2000),
        assert_memory_stats,
    );
}

// ---------------------------------------------------------------------------------------------
// Hash and Eq panics in lookups, inserts, removes and entries
// ---------------------------------------------------------------------------------------------

type MapOp = fn(&mut Map<Fixed>);

/// Operations on present keys: each hashes its key first and compares it with the stored one.
const PRESENT_KEY_OPS: [(&str, MapOp); 10] = [
    ("insert", |m| {
        m.insert(Key(5), Val::new(1));
    }),
    ("get", |m| {
        m.get(&Key(5));
    }),
    ("get_mut", |m| {
        m.get_mut(&Key(5));
    }),
    ("get_key_value", |m| {
        m.get_key_value(&Key(5));
    }),
    ("contains_key", |m| {
        m.contains_key(&Key(5));
    }),
    ("remove", |m| {
        m.remove(&Key(5));
    }),
    ("remove_entry", |m| {
        m.remove_entry(&Key(5));
    }),
    ("entry", |m| {
        m.entry(Key(5)).or_insert_with(|| Val::new(1));
    }),
    ("get_disjoint_mut", |m| {
        let _ = m.get_disjoint_mut([&Key(5), &Key(6)]);
    }),
    ("index", |m| {
        let _ = &m[&Key(5)];
    }),
];

#[test]
fn hash_and_eq_panics_in_lookups_inserts_removes_and_entries_change_nothing() {
    let _serial = setup();
    let template = filled::<Fixed>(16, "lookups", 0..100);
    let expected = entries(&template);
    let elsewhere = template.len() as i64;
    for trap in [&HASH, &EQ] {
        for (name, op) in PRESENT_KEY_OPS {
            let what = format!("{} panic in {name}", trap.name);
            let mut copy = template.clone();
            let before = copy.stats().unwrap();
            trap.arm(1);
            assert!(panicked(&what, || op(&mut copy)), "{what}: no panic");
            assert_intact(&copy, &expected, elsewhere, &what);
            let after = copy.stats().unwrap();
            assert_eq!(
                (after.inserts, after.updates, after.removes),
                (before.inserts, before.updates, before.removes),
                "{what}: nothing counted"
            );
            assert_usable(&mut copy, &expected, elsewhere, &what);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Drop panics
// ---------------------------------------------------------------------------------------------

/// `m`'s entries, each of which must be in `all` with the same value.
fn subset<S>(m: &Map<S>, all: &BTreeMap<u64, u64>, what: &str) -> BTreeMap<u64, u64> {
    let kept = entries(m);
    for (k, v) in &kept {
        assert_eq!(all.get(k), Some(v), "{what}: {k} was in the map");
    }
    kept
}

#[test]
fn drop_panic_during_clear_keeps_the_tables_not_yet_cleared_and_counts_the_rest_removed() {
    let _serial = setup();
    let template = filled::<Fixed>(16, "clear", 0..100);
    let all = entries(&template);
    let mut m = template.clone();
    let bytes = m.allocation_size();
    DROP.arm(30);
    assert!(panicked("clear", || m.clear()));
    let kept = subset(&m, &all, "clear");
    assert!(
        (1..70).contains(&kept.len()),
        "the panic came in the middle: {} kept",
        kept.len()
    );
    // The values neither kept nor dropped (30 were) are leaked with the panicking table.
    let leaked = 100 - kept.len() as i64 - 30;
    assert!(leaked >= 0);
    assert_intact(&m, &kept, 100 + leaked, "clear");
    let stats = m.stats().unwrap();
    assert_eq!(stats.removes, 100 - kept.len() as u64);
    assert_eq!(m.allocation_size(), bytes, "clear keeps the allocation");
    assert_memory_stats(&m, "clear");
    assert_usable(&mut m, &kept, 100 + leaked, "clear");
}

#[test]
fn drop_panic_of_a_removed_value_during_retain_keeps_the_rest() {
    let _serial = setup();
    let template = filled::<Fixed>(16, "retain-drop", 0..100);
    let all = entries(&template);
    let mut m = template.clone();
    DROP.arm(5);
    assert!(panicked("retain", || m.retain(|k, _| k.0 % 2 == 0)));
    let kept = subset(&m, &all, "retain");
    assert_eq!(kept.len(), 95, "the five removed values were dropped");
    assert!((0..100).step_by(2).all(|k| kept.contains_key(&k)));
    assert_intact(&m, &kept, 100, "retain");
    assert_eq!(m.stats().unwrap().removes, 5);
    assert_usable(&mut m, &kept, 100, "retain");
}

#[test]
fn drop_panic_of_an_extracted_value_keeps_the_rest() {
    let _serial = setup();
    let template = filled::<Fixed>(16, "extract-drop", 0..100);
    let all = entries(&template);
    let mut m = template.clone();
    DROP.arm(3);
    assert!(panicked("extract_if", || {
        for (_, v) in m.extract_if(|k, _| k.0 % 3 == 0) {
            drop(v);
        }
    }));
    let kept = subset(&m, &all, "extract_if");
    assert_eq!(kept.len(), 97);
    assert_intact(&m, &kept, 100, "extract_if");
    assert_eq!(m.stats().unwrap().removes, 3);
    assert_usable(&mut m, &kept, 100, "extract_if");
}

#[test]
fn drop_panic_while_consuming_a_drain_still_empties_the_map() {
    let _serial = setup();
    let template = filled::<Fixed>(16, "drain-consumed", 0..100);
    let mut m = template.clone();
    let bytes = m.allocation_size();
    DROP.arm(5);
    assert!(panicked("drain", || {
        for (_, v) in m.drain() {
            drop(v);
        }
    }));
    // The drain's own drop dropped the rest while unwinding and restored every table.
    let empty = BTreeMap::new();
    assert_intact(&m, &empty, 100, "drain");
    assert_eq!(m.allocation_size(), bytes);
    assert_memory_stats(&m, "drain");
    assert_usable(&mut m, &empty, 100, "drain");
}

#[test]
fn drop_panic_in_an_unconsumed_drain_leaves_an_empty_coherent_map() {
    let _serial = setup();
    let template = filled::<Fixed>(16, "drain-unconsumed", 0..100);
    let mut m = template.clone();
    DROP.arm(5);
    assert!(panicked("drain", || drop(m.drain())));
    assert_eq!((m.len(), m.stats().unwrap().len), (0, 0));
    // hashbrown leaks the table whose drop panicked (with its undropped values) and leaves
    // an unallocated table in its place: the map must account for what it holds now.
    check_invariants(&m, "drain");
    assert_memory_stats(&m, "drain");
    let leaked = live() - 100;
    assert_usable(&mut m, &BTreeMap::new(), 100 + leaked, "drain");
}

#[test]
fn drop_panic_while_dropping_a_map_still_retires_it() {
    let _serial = setup();
    let name = unique("dropped");
    let mut m: Map<Fixed> = SplitMap::with_hasher(Fixed::default())
        .with_table_max_buckets(16)
        .named(&name);
    for k in 0..100 {
        m.insert(Key(k), Val::new(k));
    }
    DROP.arm(5);
    assert!(panicked("drop", || drop(m)));
    let snap = mapgov::snapshot();
    let site = snap
        .sites
        .iter()
        .find(|s| s.name.as_deref() == Some(name.as_str()))
        .expect("the site stays");
    assert_eq!((site.maps_live, site.maps_dropped), (0, 1));
    assert_eq!((site.entries, site.allocated_bytes), (0, 0));
    assert!(snap.map_named(&name).is_none());
}

// ---------------------------------------------------------------------------------------------
// Predicate and Clone panics
// ---------------------------------------------------------------------------------------------

#[test]
fn predicate_panic_during_retain_counts_the_entries_removed_so_far() {
    let _serial = setup();
    let template = filled::<Fixed>(16, "retain-pred", 0..100);
    let all = entries(&template);
    let mut m = template.clone();
    let mut calls = 0;
    assert!(panicked("retain", || m.retain(|k, _| {
        calls += 1;
        if calls == 40 {
            panic!("{PANIC_TAG} in the predicate");
        }
        k.0 % 2 == 0
    })));
    let kept = subset(&m, &all, "retain");
    let removed = 100 - kept.len();
    assert!(
        (1..40).contains(&removed),
        "odd keys among the 39 seen: {removed}"
    );
    assert!((0..100).step_by(2).all(|k| kept.contains_key(&k)));
    assert_intact(&m, &kept, 100, "retain");
    assert_eq!(m.stats().unwrap().removes, removed as u64);
    assert_usable(&mut m, &kept, 100, "retain");
}

#[test]
fn predicate_panic_during_extract_if_keeps_the_unvisited_entries() {
    let _serial = setup();
    let template = filled::<Fixed>(16, "extract-pred", 0..100);
    let all = entries(&template);
    let mut m = template.clone();
    let mut calls = 0;
    assert!(panicked("extract_if", || {
        let taken: Vec<(Key, Val)> = m
            .extract_if(|k, _| {
                calls += 1;
                if calls == 40 {
                    panic!("{PANIC_TAG} in the predicate");
                }
                k.0 % 2 == 1
            })
            .collect();
        drop(taken);
    }));
    let kept = subset(&m, &all, "extract_if");
    let removed = 100 - kept.len();
    assert!((1..40).contains(&removed), "{removed}");
    assert!((0..100).step_by(2).all(|k| kept.contains_key(&k)));
    assert_intact(&m, &kept, 100, "extract_if");
    assert_eq!(m.stats().unwrap().removes, removed as u64);
    assert_usable(&mut m, &kept, 100, "extract_if");
}

#[test]
fn clone_panic_during_a_map_clone_drops_the_partial_copy_and_keeps_the_source() {
    let _serial = setup();
    let m = filled::<Fixed>(16, "clone", 0..100);
    let all = entries(&m);
    let calls = CLONE.calls();
    CLONE.arm(50);
    assert!(panicked("clone", || drop(m.clone())));
    assert_eq!(CLONE.calls() - calls, 50);
    assert_intact(&m, &all, 0, "source");
    assert_eq!(live(), 100, "the 49 clones made were dropped");
}
