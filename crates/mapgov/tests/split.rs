//! `SplitMap`: behaves like `std::collections::HashMap`, counts what it does exactly, and keeps
//! its directory of tables coherent through every split, merge and rebuild.
//!
//! Four parts:
//!
//! 1. A proptest runs random operation sequences on a `SplitMap` (tables limited to 8, 16 or 64
//!    buckets with the hidden `with_table_max_buckets` hook, or the default limit) and on std's
//!    `HashMap` side by side. Every result is compared and the counters (`stats()`) are checked
//!    against a model after every operation; every few operations, and at the end, the contents,
//!    the structure (`check_invariants`), the table bound and the memory accounting are checked.
//! 2. Governance: exact counters, splits, tables, bytes, budgets, events and the snapshot.
//! 3. What the design promises about the tables: splits at the maximum size and never past it,
//!    merges on shrink, rebuilds of tombstoned tables.
//! 4. Every trait impl, against std's, and the auto traits.
//!
//! Every test calls [`setup`] first: every map that allocates is tracked, lookups are sampled
//! one in [`LOOKUP_SAMPLE`] unless the map asks for `count_every_lookup` (the maps whose
//! lookups are asserted do), and the event ring holds [`RING`] events. The events test runs
//! alone ([`setup_alone`]) so that no other test's events push its own out of the ring. Maps are
//! named uniquely, so tests running in parallel never share a site.

use std::cell::Cell;
use std::collections::hash_map as std_hash_map;
use std::collections::{BTreeMap, HashMap as StdMap};
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher, Hasher};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Once, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use mapgov::split_map::{self, Entry, TABLE_MAX_BUCKETS, TABLE_MAX_ENTRIES};
use mapgov::{Budget, Config, Event, EventKind, MapStats, SplitMap};

#[macro_use]
#[path = "support/auto_traits.rs"]
mod auto_traits;

#[path = "support/dense.rs"]
mod dense;
use dense::{Dense, mix};

#[path = "support/intentional_panic.rs"]
mod intentional_panic;
use intentional_panic::payload_message;

// ---------------------------------------------------------------------------------------------
// Setup and helpers
// ---------------------------------------------------------------------------------------------

/// Lookups of maps that do not ask for `count_every_lookup` are sampled one in this many.
const LOOKUP_SAMPLE: u32 = 1024;

/// Events the ring keeps: far more than the events test records.
const RING: usize = 1 << 14;

/// Held shared by every test and exclusively by the events test.
static ALONE: RwLock<()> = RwLock::new(());

fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Ignore `AlreadyInstalled`, but insist on the settings this suite relies on.
        let _ = Config::from_env()
            .track_min_bytes(0)
            .lookup_sample(LOOKUP_SAMPLE)
            .events(RING)
            .install();
    });
    let config = mapgov::current_config();
    assert!(
        config.is_enabled(),
        "this suite needs governance on (MAPGOV unset)"
    );
    assert_eq!(config.get_track_min_bytes(), 0);
    assert_eq!(config.get_lookup_sample(), LOOKUP_SAMPLE);
    assert_eq!(config.get_events(), RING);
}

/// Installs the configuration; the guard keeps [`setup_alone`] tests from running meanwhile.
fn setup() -> RwLockReadGuard<'static, ()> {
    install();
    ALONE.read().unwrap_or_else(PoisonError::into_inner)
}

/// [`setup`] for a test that must be the only one running (it counts events in the ring).
fn setup_alone() -> RwLockWriteGuard<'static, ()> {
    install();
    ALONE.write().unwrap_or_else(PoisonError::into_inner)
}

/// A process-unique map name.
fn unique(prefix: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!("split-{prefix}-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// std's SipHash with fixed keys: spreads every bit (the directory reads the high ones), and a
/// failing case replays the same way.
type Fixed = BuildHasherDefault<DefaultHasher>;

/// Entries a table of `buckets` buckets holds (hashbrown's 7/8 load).
fn max_entries(buckets: usize) -> usize {
    buckets / 8 * 7
}

/// A named map whose lookups are all counted, with tables of at most `buckets` buckets
/// (`None`: the default, [`TABLE_MAX_BUCKETS`]).
fn limited<S: BuildHasher + Default>(buckets: Option<usize>, name: &str) -> SplitMap<u64, u64, S> {
    let map = SplitMap::with_hasher(S::default());
    let map = match buckets {
        Some(b) => map.with_table_max_buckets(b),
        None => map,
    };
    map.named(name).count_every_lookup()
}

/// The counters asserted exactly.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Counts {
    len: u64,
    inserts: u64,
    updates: u64,
    removes: u64,
    hits: u64,
    misses: u64,
    peak_len: u64,
}

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
        }
    }

    /// What a map holding `n` entries from the start reports (a fresh clone).
    fn present(n: usize) -> Counts {
        Counts {
            len: n as u64,
            peak_len: n as u64,
            ..Counts::default()
        }
    }

    fn lookup(&mut self, hit: bool) {
        if hit {
            self.hits += 1;
        } else {
            self.misses += 1;
        }
    }

    /// An insert of a key that was (`replaced`) or was not present.
    fn write(&mut self, replaced: bool) {
        if replaced {
            self.updates += 1;
        } else {
            self.inserts += 1;
        }
    }

    fn set_len(&mut self, len: usize) {
        self.len = len as u64;
        self.peak_len = self.peak_len.max(self.len);
    }
}

fn stats<K, V, S>(map: &SplitMap<K, V, S>) -> MapStats {
    map.stats()
        .expect("governance is on and the map is named, so it has stats")
}

fn counts<K, V, S>(map: &SplitMap<K, V, S>) -> Counts {
    Counts::of(&stats(map))
}

fn sorted<K: Ord + Copy, V: Copy>(items: impl IntoIterator<Item = (K, V)>) -> Vec<(K, V)> {
    let mut v: Vec<(K, V)> = items.into_iter().collect();
    v.sort_by_key(|&(k, _)| k);
    v
}

/// The map's contents, asserting that iteration yields every key once and `len()` items.
fn contents<S>(map: &SplitMap<u64, u64, S>) -> BTreeMap<u64, u64> {
    let mut seen = BTreeMap::new();
    for (&k, &v) in map {
        assert!(seen.insert(k, v).is_none(), "key {k} yielded twice");
    }
    assert_eq!(seen.len(), map.len(), "iteration yields len() entries");
    seen
}

/// What `check_invariants` asserts, in order, for a failure message.
const INVARIANTS: &str = "the directory has 2^depth slots, each table's slots name it, each \
    entry is in the table its hash selects, the tables' entries add up to len(), and their \
    (allocation bytes, capacity) add up to the map's accounting";

/// `check_invariants`, saying what it checks when it fails.
fn check_invariants<S: BuildHasher>(map: &SplitMap<u64, u64, S>) {
    if let Some(msg) = panic_message(|| map.check_invariants()) {
        panic!("check_invariants failed ({INVARIANTS}): {msg}");
    }
}

/// The structure, the contents and the memory accounting agree with each other and with
/// `expected`: `check_invariants`, every entry reachable exactly once by iteration and by
/// lookup, `stats()` len, bytes and tables.
fn assert_coherent<S: BuildHasher>(map: &SplitMap<u64, u64, S>, expected: &BTreeMap<u64, u64>) {
    check_invariants(map);
    assert_eq!(&contents(map), expected);
    for (k, v) in expected {
        assert_eq!(map.get(k), Some(v), "key {k} by lookup");
    }
    let s = stats(map);
    assert_eq!(s.len, map.len() as u64, "stats.len");
    assert_eq!(
        s.allocated_bytes,
        map.allocation_size() as u64,
        "stats.allocated_bytes"
    );
    assert_eq!(s.tables, map.tables() as u64, "stats.tables");
}

// ---------------------------------------------------------------------------------------------
// Part 1: the differential proptest
// ---------------------------------------------------------------------------------------------

mod differential {
    use super::*;
    use proptest::prelude::*;
    use proptest::test_runner::TestCaseError;

    #[derive(Clone, Debug)]
    enum Op {
        Insert(u16, u64),
        /// Inserts `len` consecutive keys from `start` (wrapping in the key space): crosses
        /// many splits at once.
        InsertRun {
            start: u16,
            len: u16,
        },
        Remove(u16),
        /// Removes `len` consecutive keys from `start`: empties tables for later merges.
        RemoveRun {
            start: u16,
            len: u16,
        },
        RemoveEntry(u16),
        Get(u16),
        GetKeyValue(u16),
        GetMut(u16, u64),
        ContainsKey(u16),
        GetDisjointMut(u16, u16, u64),
        EntryOrInsert(u16, u64),
        EntryOrInsertWithKey(u16),
        EntryOrDefault(u16),
        EntryAndModify(u16, u64),
        EntryInsertEntry(u16, u64),
        EntryOccupiedRemove(u16),
        EntryVacantIntoKey(u16),
        /// `retain`, with a predicate that also changes the values it sees.
        Retain {
            modulus: u8,
            bump: u64,
        },
        /// `extract_if`, consumed fully (`None`) or for at most `take` items.
        ExtractIf {
            modulus: u8,
            take: Option<u8>,
        },
        /// `drain`, consumed fully (`None`) or for at most `take` items, then dropped.
        Drain {
            take: Option<u8>,
        },
        Clear,
        Reserve(u16),
        ShrinkToFit,
        ShrinkTo(u16),
        ValuesMut(u64),
        Extend(Vec<(u16, u64)>),
        ExtendByRef(Vec<(u16, u64)>),
        /// Replaces the map by its clone (fresh counters, same contents and tables).
        Clone,
    }

    fn op() -> impl Strategy<Value = Op> {
        let k = any::<u16>;
        let v = any::<u64>;
        prop_oneof![
            8 => (k(), v()).prop_map(|(k, v)| Op::Insert(k, v)),
            3 => (k(), 1..600u16).prop_map(|(start, len)| Op::InsertRun { start, len }),
            4 => k().prop_map(Op::Remove),
            2 => (k(), 1..600u16).prop_map(|(start, len)| Op::RemoveRun { start, len }),
            2 => k().prop_map(Op::RemoveEntry),
            3 => k().prop_map(Op::Get),
            1 => k().prop_map(Op::GetKeyValue),
            2 => (k(), v()).prop_map(|(k, v)| Op::GetMut(k, v)),
            2 => k().prop_map(Op::ContainsKey),
            1 => (k(), k(), v()).prop_map(|(a, b, v)| Op::GetDisjointMut(a, b, v)),
            3 => (k(), v()).prop_map(|(k, v)| Op::EntryOrInsert(k, v)),
            1 => k().prop_map(Op::EntryOrInsertWithKey),
            1 => k().prop_map(Op::EntryOrDefault),
            2 => (k(), v()).prop_map(|(k, v)| Op::EntryAndModify(k, v)),
            2 => (k(), v()).prop_map(|(k, v)| Op::EntryInsertEntry(k, v)),
            2 => k().prop_map(Op::EntryOccupiedRemove),
            1 => k().prop_map(Op::EntryVacantIntoKey),
            1 => (2..9u8, v()).prop_map(|(modulus, bump)| Op::Retain { modulus, bump }),
            1 => (2..9u8, prop::option::of(0..40u8))
                .prop_map(|(modulus, take)| Op::ExtractIf { modulus, take }),
            1 => prop::option::of(0..40u8).prop_map(|take| Op::Drain { take }),
            1 => Just(Op::Clear),
            1 => (0..2048u16).prop_map(Op::Reserve),
            1 => Just(Op::ShrinkToFit),
            1 => (0..2048u16).prop_map(Op::ShrinkTo),
            1 => v().prop_map(Op::ValuesMut),
            1 => prop::collection::vec((k(), v()), 0..64).prop_map(Op::Extend),
            1 => prop::collection::vec((k(), v()), 0..64).prop_map(Op::ExtendByRef),
            1 => Just(Op::Clone),
        ]
    }

    struct Run<S> {
        gov: SplitMap<u64, u64, S>,
        std: StdMap<u64, u64>,
        model: Counts,
        space: u64,
        /// Entries of the largest table this map may have.
        max_entries: usize,
    }

    impl<S: BuildHasher + Default + Clone> Run<S> {
        fn key(&self, k: u16) -> u64 {
            u64::from(k) % self.space
        }

        fn insert(&mut self, k: u64, v: u64) -> Result<(), TestCaseError> {
            let had = self.std.contains_key(&k);
            prop_assert_eq!(self.gov.insert(k, v), self.std.insert(k, v));
            self.model.write(had);
            Ok(())
        }

        fn remove(&mut self, k: u64) -> Result<(), TestCaseError> {
            let r = self.gov.remove(&k);
            prop_assert_eq!(r, self.std.remove(&k));
            if r.is_some() {
                self.model.removes += 1;
            }
            Ok(())
        }

        fn apply(&mut self, op: &Op) -> Result<(), TestCaseError> {
            let len_before = self.std.len();
            match *op {
                Op::Insert(k, v) => self.insert(self.key(k), v)?,
                Op::InsertRun { start, len } => {
                    for i in 0..u64::from(len) {
                        let k = (u64::from(start) + i) % self.space;
                        self.insert(k, k ^ 0x5555)?;
                    }
                }
                Op::Remove(k) => self.remove(self.key(k))?,
                Op::RemoveRun { start, len } => {
                    for i in 0..u64::from(len) {
                        self.remove((u64::from(start) + i) % self.space)?;
                    }
                }
                Op::RemoveEntry(k) => {
                    let k = self.key(k);
                    let r = self.gov.remove_entry(&k);
                    prop_assert_eq!(r, self.std.remove_entry(&k));
                    if r.is_some() {
                        self.model.removes += 1;
                    }
                }
                Op::Get(k) => {
                    let k = self.key(k);
                    let r = self.gov.get(&k).copied();
                    prop_assert_eq!(r, self.std.get(&k).copied());
                    self.model.lookup(r.is_some());
                }
                Op::GetKeyValue(k) => {
                    let k = self.key(k);
                    let r = self.gov.get_key_value(&k).map(|(k, v)| (*k, *v));
                    prop_assert_eq!(r, self.std.get_key_value(&k).map(|(k, v)| (*k, *v)));
                    self.model.lookup(r.is_some());
                }
                Op::GetMut(k, v) => {
                    let k = self.key(k);
                    let swap = |x: &mut u64| std::mem::replace(x, v);
                    let r = self.gov.get_mut(&k).map(swap);
                    prop_assert_eq!(r, self.std.get_mut(&k).map(swap));
                    self.model.lookup(r.is_some());
                }
                Op::ContainsKey(k) => {
                    let k = self.key(k);
                    let r = self.gov.contains_key(&k);
                    prop_assert_eq!(r, self.std.contains_key(&k));
                    self.model.lookup(r);
                }
                Op::GetDisjointMut(a, b, v) => {
                    let (a, b) = (self.key(a), self.key(b));
                    let swap = |x: Option<&mut u64>| x.map(|x| std::mem::replace(x, v));
                    if a == b {
                        let [g] = self.gov.get_disjoint_mut([&a]).map(swap);
                        let [s] = self.std.get_disjoint_mut([&a]).map(swap);
                        prop_assert_eq!(g, s);
                        self.model.lookup(g.is_some());
                    } else {
                        let g = self.gov.get_disjoint_mut([&a, &b]).map(swap);
                        let s = self.std.get_disjoint_mut([&a, &b]).map(swap);
                        prop_assert_eq!(g, s);
                        for r in g {
                            self.model.lookup(r.is_some());
                        }
                    }
                }
                Op::EntryOrInsert(k, v) => {
                    let k = self.key(k);
                    let hit = self.std.contains_key(&k);
                    let g = *self.gov.entry(k).or_insert(v);
                    prop_assert_eq!(g, *self.std.entry(k).or_insert(v));
                    self.model.lookup(hit);
                    if !hit {
                        self.model.inserts += 1;
                    }
                }
                Op::EntryOrInsertWithKey(k) => {
                    let k = self.key(k);
                    let hit = self.std.contains_key(&k);
                    let f = |k: &u64| k.wrapping_mul(3);
                    let g = *self.gov.entry(k).or_insert_with_key(f);
                    prop_assert_eq!(g, *self.std.entry(k).or_insert_with_key(f));
                    self.model.lookup(hit);
                    if !hit {
                        self.model.inserts += 1;
                    }
                }
                Op::EntryOrDefault(k) => {
                    let k = self.key(k);
                    let hit = self.std.contains_key(&k);
                    let g = *self.gov.entry(k).or_default();
                    prop_assert_eq!(g, *self.std.entry(k).or_default());
                    self.model.lookup(hit);
                    if !hit {
                        self.model.inserts += 1;
                    }
                }
                Op::EntryAndModify(k, v) => {
                    let k = self.key(k);
                    let hit = self.std.contains_key(&k);
                    let f = |x: &mut u64| *x = x.wrapping_add(v);
                    let g = *self.gov.entry(k).and_modify(f).or_insert(v);
                    prop_assert_eq!(g, *self.std.entry(k).and_modify(f).or_insert(v));
                    self.model.lookup(hit);
                    if !hit {
                        self.model.inserts += 1;
                    }
                }
                Op::EntryInsertEntry(k, v) => {
                    let k = self.key(k);
                    let hit = self.std.contains_key(&k);
                    let e = self.gov.entry(k).insert_entry(v);
                    let g = (*e.key(), *e.get());
                    let e = self.std.entry(k).insert_entry(v);
                    prop_assert_eq!(g, (*e.key(), *e.get()));
                    self.model.lookup(hit);
                    self.model.write(hit);
                }
                Op::EntryOccupiedRemove(k) => {
                    let k = self.key(k);
                    let g = match self.gov.entry(k) {
                        Entry::Occupied(o) => Some(o.remove_entry()),
                        Entry::Vacant(_) => None,
                    };
                    let s = match self.std.entry(k) {
                        std_hash_map::Entry::Occupied(o) => Some(o.remove_entry()),
                        std_hash_map::Entry::Vacant(_) => None,
                    };
                    prop_assert_eq!(g, s);
                    self.model.lookup(g.is_some());
                    if g.is_some() {
                        self.model.removes += 1;
                    }
                }
                Op::EntryVacantIntoKey(k) => {
                    let k = self.key(k);
                    let e = self.gov.entry(k);
                    prop_assert_eq!(*e.key(), k);
                    let g = match e {
                        Entry::Occupied(o) => (true, *o.key(), Some(*o.get())),
                        Entry::Vacant(v) => (false, v.into_key(), None),
                    };
                    let s = match self.std.entry(k) {
                        std_hash_map::Entry::Occupied(o) => (true, *o.key(), Some(*o.get())),
                        std_hash_map::Entry::Vacant(v) => (false, v.into_key(), None),
                    };
                    prop_assert_eq!(g, s);
                    self.model.lookup(g.0);
                }
                Op::Retain { modulus, bump } => {
                    let m = u64::from(modulus);
                    let f = |k: &u64, v: &mut u64| {
                        *v = v.wrapping_add(bump);
                        !(k ^ *v).is_multiple_of(m)
                    };
                    self.gov.retain(f);
                    self.std.retain(f);
                    prop_assert_eq!(self.gov.len(), self.std.len());
                    self.model.removes += (len_before - self.std.len()) as u64;
                }
                Op::ExtractIf { modulus, take } => {
                    let m = u64::from(modulus);
                    let pred = |k: &u64, v: &mut u64| (k ^ *v).is_multiple_of(m);
                    let taken = match take {
                        None => {
                            let g = sorted(self.gov.extract_if(pred));
                            prop_assert_eq!(&g, &sorted(self.std.extract_if(pred)));
                            g.len()
                        }
                        Some(n) => {
                            // Which entries come first depends on the iteration order, which
                            // differs from std's: check what was taken against std's map.
                            let g: Vec<(u64, u64)> =
                                self.gov.extract_if(pred).take(n.into()).collect();
                            let matching =
                                self.std.iter().filter(|(k, v)| (*k ^ *v).is_multiple_of(m));
                            prop_assert_eq!(g.len(), matching.count().min(n.into()));
                            for (k, v) in &g {
                                prop_assert!((k ^ v).is_multiple_of(m), "{} taken", k);
                                prop_assert_eq!(self.std.remove(k), Some(*v), "{} taken", k);
                            }
                            g.len()
                        }
                    };
                    self.model.removes += taken as u64;
                }
                Op::Drain { take } => {
                    let mut d = self.gov.drain();
                    prop_assert_eq!(d.len(), len_before);
                    let mut got = Vec::new();
                    let limit = take.map_or(usize::MAX, usize::from);
                    while got.len() < limit {
                        let Some(item) = d.next() else { break };
                        got.push(item);
                        prop_assert_eq!(d.len(), len_before - got.len());
                    }
                    drop(d);
                    prop_assert_eq!(got.len(), len_before.min(limit));
                    let mut seen = BTreeMap::new();
                    for (k, v) in got {
                        prop_assert_eq!(self.std.get(&k), Some(&v), "{} drained", k);
                        prop_assert!(seen.insert(k, v).is_none(), "{} drained twice", k);
                    }
                    self.std.clear();
                    prop_assert!(self.gov.is_empty());
                    self.model.removes += len_before as u64;
                }
                Op::Clear => {
                    self.gov.clear();
                    self.std.clear();
                    self.model.removes += len_before as u64;
                }
                Op::Reserve(n) => {
                    let n = usize::from(n);
                    self.gov.reserve(n);
                    self.std.reserve(n);
                    prop_assert!(
                        self.gov.capacity() >= len_before + n,
                        "capacity {} after reserve({}) with len {}",
                        self.gov.capacity(),
                        n,
                        len_before
                    );
                }
                Op::ShrinkToFit => {
                    self.gov.shrink_to_fit();
                    self.std.shrink_to_fit();
                    prop_assert!(self.gov.capacity() >= len_before);
                }
                Op::ShrinkTo(n) => {
                    self.gov.shrink_to(n.into());
                    self.std.shrink_to(n.into());
                    prop_assert!(self.gov.capacity() >= len_before);
                }
                Op::ValuesMut(x) => {
                    let values = self.gov.values_mut();
                    prop_assert_eq!(values.len(), len_before);
                    values.for_each(|v| *v ^= x);
                    self.std.values_mut().for_each(|v| *v ^= x);
                }
                Op::Extend(ref pairs) | Op::ExtendByRef(ref pairs) => {
                    let pairs: Vec<(u64, u64)> =
                        pairs.iter().map(|&(k, v)| (self.key(k), v)).collect();
                    for &(k, v) in &pairs {
                        let had = self.std.insert(k, v).is_some();
                        self.model.write(had);
                    }
                    if matches!(op, Op::Extend(_)) {
                        self.gov.extend(pairs);
                    } else {
                        self.gov.extend(pairs.iter().map(|(k, v)| (k, v)));
                    }
                }
                Op::Clone => {
                    let copy = self.gov.clone();
                    prop_assert_eq!(copy.tables(), self.gov.tables());
                    prop_assert_eq!(copy.capacity(), self.gov.capacity());
                    prop_assert!(copy == self.gov);
                    self.gov = copy;
                    self.model = Counts::present(len_before);
                }
            }
            self.model.set_len(self.std.len());
            prop_assert_eq!(self.gov.len(), self.std.len(), "len after {:?}", op);
            prop_assert_eq!(counts(&self.gov), self.model, "counters after {:?}", op);
            Ok(())
        }

        /// Contents, structure, the table bound and the memory accounting.
        fn checkpoint(&self) -> Result<(), TestCaseError> {
            check_invariants(&self.gov);
            let want: BTreeMap<u64, u64> = self.std.iter().map(|(k, v)| (*k, *v)).collect();
            prop_assert_eq!(contents(&self.gov), want);
            let s = stats(&self.gov);
            prop_assert_eq!(s.allocated_bytes, self.gov.allocation_size() as u64);
            prop_assert_eq!(s.tables, self.gov.tables() as u64);
            let capacity = self.gov.capacity();
            prop_assert!(capacity >= self.gov.len());
            prop_assert!(
                capacity <= self.gov.tables() * self.max_entries,
                "capacity {} of {} tables: some table grew past {} entries",
                capacity,
                self.gov.tables(),
                self.max_entries
            );
            Ok(())
        }
    }

    fn run<S: BuildHasher + Default + Clone>(
        buckets: Option<usize>,
        space: u64,
        ops: &[Op],
    ) -> Result<(), TestCaseError> {
        let mut run = Run {
            gov: limited::<S>(buckets, &unique("proptest")),
            std: StdMap::new(),
            model: Counts::default(),
            space,
            max_entries: max_entries(buckets.unwrap_or(TABLE_MAX_BUCKETS)),
        };
        for (i, op) in ops.iter().enumerate() {
            run.apply(op)?;
            if i % 16 == 15 {
                run.checkpoint()?;
            }
        }
        run.checkpoint()
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 256,
            max_shrink_iters: 4000,
            ..ProptestConfig::default()
        })]

        /// Tables of 8, 16 or 64 buckets cross many splits and merges with a few hundred keys;
        /// the default limit covers the single-table map. Key spaces of 24 keys (mostly
        /// updates) to 4096 (hundreds of tables). With [`Dense`] the keys fill runs of
        /// consecutive buckets, so removals leave tombstones and tables get rebuilt.
        #[test]
        fn random_operation_sequences_match_std_and_the_counter_model(
            buckets in prop_oneof![Just(Some(8)), Just(Some(16)), Just(Some(64)), Just(None)],
            space in prop_oneof![Just(24u64), Just(512), Just(4096)],
            dense in any::<bool>(),
            ops in prop::collection::vec(op(), 1..160),
        ) {
            let _guard = setup();
            if dense {
                run::<Dense>(buckets, space, &ops)?;
            } else {
                run::<Fixed>(buckets, space, &ops)?;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Part 2: governance
// ---------------------------------------------------------------------------------------------

#[test]
fn stats_count_every_insert_update_remove_and_lookup_exactly() {
    let _guard = setup();
    let mut m = limited::<Fixed>(Some(16), &unique("counts"));
    let mut want = Counts::default();
    macro_rules! step {
        ($what:literal) => {
            want.set_len(m.len());
            assert_eq!(counts(&m), want, $what);
        };
    }
    for k in 0..100 {
        assert_eq!(m.insert(k, k), None);
    }
    want.inserts += 100;
    step!("100 new keys");
    for k in 0..10 {
        assert_eq!(m.insert(k, k + 1), Some(k));
    }
    want.updates += 10;
    step!("10 updates");
    for k in 0..120 {
        assert_eq!(m.get(&k).is_some(), k < 100);
    }
    want.hits += 100;
    want.misses += 20;
    step!("get");
    for k in 90..110 {
        assert_eq!(m.contains_key(&k), k < 100);
    }
    want.hits += 10;
    want.misses += 10;
    step!("contains_key");
    assert!(m.get_mut(&5).is_some());
    assert!(m.get_key_value(&500).is_none());
    assert_eq!(m[&7], 8);
    want.hits += 2;
    want.misses += 1;
    step!("get_mut, get_key_value, index");
    for k in 50..60 {
        assert_eq!(m.remove(&k), Some(k));
    }
    assert_eq!(m.remove(&50), None);
    assert_eq!(m.remove_entry(&60), Some((60, 60)));
    want.removes += 11;
    step!("remove, remove_entry");
    *m.entry(200).or_insert(0) += 1;
    *m.entry(1).and_modify(|v| *v += 1).or_insert(0) += 1;
    want.inserts += 1;
    want.hits += 1;
    want.misses += 1;
    step!("entry().or_insert");
    match m.entry(2) {
        Entry::Occupied(mut o) => assert_eq!(o.insert(7), 3),
        Entry::Vacant(_) => panic!("2 is present"),
    }
    want.hits += 1;
    want.updates += 1;
    step!("OccupiedEntry::insert");
    match m.entry(3) {
        Entry::Occupied(o) => assert_eq!(o.remove(), 4),
        Entry::Vacant(_) => panic!("3 is present"),
    }
    want.hits += 1;
    want.removes += 1;
    step!("OccupiedEntry::remove");
    match m.entry(300) {
        Entry::Vacant(v) => assert_eq!(v.into_key(), 300),
        Entry::Occupied(_) => panic!("300 is absent"),
    }
    want.misses += 1;
    step!("a vacant entry dropped");
    assert_eq!(*m.entry(301).insert_entry(1).get(), 1);
    assert_eq!(*m.entry(301).insert_entry(2).get(), 2);
    want.misses += 1;
    want.hits += 1;
    want.inserts += 1;
    want.updates += 1;
    step!("Entry::insert_entry");
    let [a, b, c] = m.get_disjoint_mut([&4, &5, &999]);
    assert!(a.is_some() && b.is_some() && c.is_none());
    want.hits += 2;
    want.misses += 1;
    step!("get_disjoint_mut");
    let before = m.len();
    m.retain(|k, _| k % 2 == 0);
    want.removes += (before - m.len()) as u64;
    step!("retain");
    assert_eq!(m.extract_if(|k, _| k % 4 == 0).take(3).count(), 3);
    want.removes += 3;
    step!("extract_if, partly consumed");
    let before = m.len();
    assert_eq!(m.drain().take(2).count(), 2);
    want.removes += before as u64;
    step!("drain, partly consumed");
    for k in 0..30 {
        m.insert(k, k);
    }
    want.inserts += 30;
    step!("refill");
    m.clear();
    want.removes += 30;
    step!("clear");
    assert_eq!(want.peak_len, 100, "the workload peaked at 100 entries");
    let s = stats(&m);
    assert_eq!(s.lookup_sample, 1, "count_every_lookup");
    assert_eq!(s.allocated_bytes, m.allocation_size() as u64);
    assert_eq!(s.tables, m.tables() as u64);
}

#[test]
fn count_every_lookup_counts_each_lookup_where_the_default_samples() {
    let _guard = setup();
    let mut exact = limited::<Fixed>(Some(16), &unique("lookups-exact"));
    let mut sampled: SplitMap<u64, u64, Fixed> =
        SplitMap::with_hasher(Fixed::default()).named(&unique("lookups-sampled"));
    for k in 0..10 {
        exact.insert(k, k);
        sampled.insert(k, k);
    }
    for k in 0..100 {
        assert!(exact.contains_key(&(k % 10)));
        assert!(sampled.contains_key(&(k % 10)));
    }
    let (e, s) = (stats(&exact), stats(&sampled));
    assert_eq!((e.lookup_sample, e.hits, e.misses), (1, 100, 0));
    assert_eq!(s.lookup_sample, LOOKUP_SAMPLE);
    assert!(
        s.hits % u64::from(LOOKUP_SAMPLE) == 0 && s.hits != 100,
        "sampled with weight {LOOKUP_SAMPLE}: {}",
        s.hits
    );
}

#[test]
fn a_16_bucket_map_filled_one_key_at_a_time_counts_each_split_once() {
    let _guard = setup();
    let mut m = limited::<Fixed>(Some(16), &unique("splits"));
    let (mut splits, mut grows) = (0u64, 0u64);
    for k in 0..2000u64 {
        let (tables, bytes) = (m.tables(), m.allocation_size());
        m.insert(k, k);
        assert!(m.tables() >= tables, "inserts never merge");
        if tables > 0 {
            // (The first insert creates the first table.)
            splits += (m.tables() - tables) as u64;
        }
        if m.tables() == tables && bytes > 0 && m.allocation_size() > bytes {
            grows += 1;
        }
        let s = stats(&m);
        assert_eq!(s.splits, splits, "after inserting {k}");
        assert_eq!(s.tables, m.tables() as u64, "after inserting {k}");
        assert_eq!(s.allocated_bytes, m.allocation_size() as u64);
    }
    assert!(splits > 100, "2000 keys in tables of 14 entries: {splits}");
    assert_eq!(splits, m.tables() as u64 - 1, "each split adds one table");
    assert_eq!(
        grows, 2,
        "the one table grows twice (4, 8, then 16 buckets) before the first split"
    );
    let s = stats(&m);
    assert_eq!(s.grows, grows + splits, "a split is counted as a grow too");
    assert_eq!((s.shrinks, s.rehashes), (0, 0));
    assert!(
        m.capacity() <= m.tables() * max_entries(16),
        "no table past 16 buckets"
    );
    assert_coherent(&m, &(0..2000).map(|k| (k, k)).collect());
}

#[test]
fn splits_of_a_tracked_map_are_split_events_with_the_table_count_and_sizes() {
    let _alone = setup_alone();
    let name = unique("events");
    let mut m = limited::<Fixed>(Some(16), &name);
    // (tables after, len, bytes before, bytes after) of every insert that split once.
    let mut seen = Vec::new();
    for k in 0..300u64 {
        let (tables, bytes, len) = (m.tables(), m.allocation_size(), m.len());
        m.insert(k, k);
        match m.tables() - tables {
            _ if tables == 0 => {} // the first table
            0 => {}
            1 => seen.push((m.tables() as u64, len as u64, bytes, m.allocation_size())),
            n => panic!("an insert split {n} times: pick another hasher seed"),
        }
    }
    let s = stats(&m);
    assert_ne!(s.id, 0, "tracked");
    let snap = mapgov::snapshot();
    let events: Vec<&Event> = snap.events.iter().filter(|e| e.map_id == s.id).collect();
    assert!(
        events.iter().all(|e| e.tables.is_some()),
        "every event of a split map carries its table count: {events:#?}"
    );
    let splits: Vec<(u64, u64, usize, usize)> = events
        .iter()
        .filter(|e| e.kind == EventKind::Split)
        .map(|e| {
            assert_eq!(
                e.before.len, e.after.len,
                "a split moves entries, adds none"
            );
            assert_eq!(e.name.as_deref(), Some(name.as_str()));
            (
                e.tables.unwrap_or_default(),
                e.after.len,
                e.before.bytes as usize,
                e.after.bytes as usize,
            )
        })
        .collect();
    assert_eq!(splits, seen, "(tables, len, bytes before, bytes after)");
    assert_eq!(splits.len() as u64, s.splits);
    assert_eq!(
        events
            .iter()
            .filter(|e| e.kind == EventKind::Grew)
            .map(|e| e.tables)
            .collect::<Vec<_>>(),
        [Some(1), Some(1)],
        "the first table's two grows"
    );
    let listed = snap
        .map_named(&name)
        .expect("a tracked map is in the snapshot");
    assert_eq!(
        (listed.splits, listed.tables),
        (s.splits, m.tables() as u64)
    );
    assert_eq!(listed.allocated_bytes, m.allocation_size() as u64);
    assert_eq!(listed.grows, s.grows);
}

#[test]
fn allocated_bytes_and_tables_follow_every_restructuring() {
    let _guard = setup();
    let mut m = limited::<Fixed>(Some(8), &unique("bytes"));
    let mut want = BTreeMap::new();
    let step = |m: &mut SplitMap<u64, u64, Fixed>, what: &str| {
        let s = stats(m);
        assert_eq!(s.allocated_bytes, m.allocation_size() as u64, "{what}");
        assert_eq!(s.tables, m.tables() as u64, "{what}");
        assert_eq!(s.len, m.len() as u64, "{what}");
        check_invariants(m);
    };
    for k in 0..1000 {
        m.insert(k, k);
        want.insert(k, k);
    }
    step(&mut m, "inserts");
    m.retain(|k, _| k % 50 == 0);
    want.retain(|k, _| k % 50 == 0);
    step(&mut m, "retain");
    let (tables, bytes) = (m.tables(), m.allocation_size());
    m.shrink_to_fit();
    step(&mut m, "shrink_to_fit");
    assert!(m.tables() < tables && m.allocation_size() < bytes);
    m.reserve(3000);
    assert!(m.capacity() >= 3020);
    step(&mut m, "reserve");
    m.shrink_to(100);
    assert!(m.capacity() >= 100);
    step(&mut m, "shrink_to");
    let before = m.allocation_size();
    m.clear();
    assert_eq!(m.allocation_size(), before, "clear keeps the allocation");
    step(&mut m, "clear");
    m.shrink_to_fit();
    assert_eq!((m.allocation_size(), m.tables(), m.capacity()), (0, 0, 0));
    step(&mut m, "shrink_to_fit of an empty map frees everything");
    m.insert(1, 1);
    assert_eq!(m.tables(), 1);
    step(&mut m, "an insert after freeing");
    want.clear();
    want.insert(1, 1);
    assert_coherent(&m, &want);
    let s = stats(&m);
    assert!(s.shrinks >= 3, "three shrinks: {s:?}");
}

#[test]
fn shrink_to_fit_merges_sibling_tables_after_mass_removal_and_regrows() {
    let _guard = setup();
    let mut m = limited::<Fixed>(Some(8), &unique("merge"));
    for k in 0..2000 {
        m.insert(k, k);
    }
    let (tables, bytes) = (m.tables(), m.allocation_size());
    assert!(tables > 200, "{tables}");
    m.retain(|k, _| k % 100 == 0);
    assert_eq!(m.tables(), tables, "removing merges nothing");
    let shrinks = stats(&m).shrinks;
    m.shrink_to_fit();
    // 20 entries in tables of at most 7: a handful of tables remain.
    assert!(
        (3..=20).contains(&m.tables()),
        "{} tables for 20 entries",
        m.tables()
    );
    assert!(m.allocation_size() < bytes / 10);
    assert_eq!(stats(&m).shrinks, shrinks + 1);
    let twenty: BTreeMap<u64, u64> = (0..20).map(|i| (i * 100, i * 100)).collect();
    assert_coherent(&m, &twenty);
    // The merged map splits again as it grows back.
    for k in 0..2000 {
        m.insert(k, k);
    }
    assert!(m.tables() > 200);
    assert_coherent(&m, &(0..2000).map(|k| (k, k)).collect());
}

#[test]
fn a_default_map_splits_once_its_one_full_table_reaches_table_max_entries() {
    let _guard = setup();
    let mut m: SplitMap<u64, u64, Fixed> =
        SplitMap::with_hasher(Fixed::default()).named(&unique("default-limit"));
    for k in 0..TABLE_MAX_ENTRIES as u64 {
        m.insert(k, k);
    }
    assert_eq!(m.tables(), 1);
    assert_eq!(
        m.capacity(),
        TABLE_MAX_ENTRIES,
        "one full table of the largest size"
    );
    assert_eq!(stats(&m).splits, 0);
    m.insert(u64::MAX, 0);
    assert_eq!(m.tables(), 2, "the next insert splits instead of growing");
    let s = stats(&m);
    assert_eq!((s.splits, s.tables), (1, 2));
    assert!(m.capacity() <= 2 * TABLE_MAX_ENTRIES);
    let mut want: BTreeMap<u64, u64> = (0..TABLE_MAX_ENTRIES as u64).map(|k| (k, k)).collect();
    want.insert(u64::MAX, 0);
    assert_coherent(&m, &want);
}

#[test]
fn with_capacity_presplits_so_that_inserting_that_many_splits_nothing() {
    let _guard = setup();
    let n = 100_000;
    let mut m: SplitMap<u64, u64> = SplitMap::with_capacity(n).named(&unique("presized"));
    assert!(m.capacity() >= n);
    let tables = m.tables();
    // 80 % of 7168 entries per table: 18 tables, rounded up to 32.
    assert_eq!(tables, 32);
    let s = stats(&m);
    assert_eq!(
        (s.splits, s.tables),
        (31, 32),
        "pre-splitting counts its splits"
    );
    for k in 0..n as u64 {
        m.insert(k, k);
    }
    assert_eq!(m.tables(), tables, "no split");
    assert_eq!(stats(&m).splits, 31);
    assert_coherent(&m, &(0..n as u64).map(|k| (k, k)).collect());
}

#[test]
fn reserve_makes_room_for_the_additional_entries_at_every_size() {
    let _guard = setup();
    for (buckets, additional) in [(Some(8), 1000), (Some(64), 50), (None, 20_000), (None, 10)] {
        let mut m = limited::<Fixed>(buckets, &unique("reserve"));
        m.insert(0, 0);
        m.reserve(additional);
        assert!(m.capacity() > additional, "{buckets:?} {additional}");
        let limit = max_entries(buckets.unwrap_or(TABLE_MAX_BUCKETS));
        assert!(m.capacity() <= m.tables() * limit);
        m.try_reserve(additional * 2).expect("room");
        assert!(m.capacity() > additional * 2);
        assert_coherent(&m, &BTreeMap::from([(0, 0)]));
    }
}

#[test]
fn try_reserve_reports_capacity_overflow_like_std_and_changes_nothing() {
    let _guard = setup();
    let mut m = limited::<Fixed>(Some(16), &unique("overflow"));
    for k in 0..100 {
        m.insert(k, k);
    }
    let bytes = m.allocation_size();
    let e = m.try_reserve(usize::MAX).expect_err("overflow");
    let s = StdMap::<u64, u64>::new()
        .try_reserve(usize::MAX)
        .expect_err("overflow");
    assert_eq!(e.to_string(), s.to_string());
    let e = m.try_reserve(usize::MAX / 4).expect_err("too many tables");
    assert_eq!(e.to_string(), s.to_string());
    assert_eq!(m.allocation_size(), bytes);
    assert_coherent(&m, &(0..100).map(|k| (k, k)).collect());
    let r = catch_unwind(AssertUnwindSafe(|| m.reserve(usize::MAX)));
    assert!(r.is_err(), "reserve panics on overflow");
}

#[test]
fn a_budget_crossing_is_counted_and_cleared_budgets_count_nothing() {
    let _guard = setup();
    let mut m: SplitMap<u64, u64> = SplitMap::new()
        .with_table_max_buckets(16)
        .budget(Budget::entries(50))
        .named(&unique("budget"));
    for k in 0..100 {
        m.insert(k, k);
    }
    assert_eq!(stats(&m).budget_exceeded, 1);
    m.set_budget(None);
    m.clear();
    for k in 0..100 {
        m.insert(k, k);
    }
    assert_eq!(stats(&m).budget_exceeded, 1);
}

#[test]
fn naming_moves_the_map_to_its_named_site() {
    let _guard = setup();
    let first = unique("name");
    let mut m: SplitMap<u8, u8> = SplitMap::new().named(&first);
    assert_eq!(stats(&m).name.as_deref(), Some(first.as_str()));
    let second = unique("renamed");
    m.set_name(&second);
    m.insert(1, 1);
    assert_eq!(stats(&m).name.as_deref(), Some(second.as_str()));
    let snap = mapgov::snapshot();
    assert!(snap.map_named(&second).is_some());
}

// ---------------------------------------------------------------------------------------------
// Part 3: what the design promises about the tables
// ---------------------------------------------------------------------------------------------

/// A single 64-bucket table (the maximum) holding 16 entries and full of tombstones (`len ==
/// capacity`): keys 0..56 fill buckets 0..56 and the removal of keys 8..48 leaves tombstones
/// (no empty bucket within a group of any of them).
fn tombstoned(name: &str) -> SplitMap<u64, u64, Dense> {
    let mut m = limited::<Dense>(Some(64), name);
    for k in 0..56 {
        m.insert(k, k);
    }
    assert_eq!((m.len(), m.capacity(), m.tables()), (56, 56, 1));
    for k in 8..48 {
        m.remove(&k);
    }
    assert_eq!(
        (m.len(), m.capacity()),
        (16, 16),
        "the removals left tombstones: no room without a rebuild"
    );
    m
}

#[test]
fn an_insert_into_a_tombstoned_table_rebuilds_it_at_the_same_size() {
    let _guard = setup();
    let mut m = tombstoned(&unique("rebuild"));
    let bytes = m.allocation_size();
    m.insert(1000, 1000);
    assert_eq!(m.tables(), 1, "not split: it is less than half full");
    assert_eq!(m.allocation_size(), bytes, "the same size");
    assert_eq!(m.capacity(), 56, "the tombstones are gone");
    let mut want: BTreeMap<u64, u64> = (0..8).chain(48..56).map(|k| (k, k)).collect();
    want.insert(1000, 1000);
    assert_coherent(&m, &want);
}

/// The churn finding reads `rehashes`: a table rebuilt to clear its tombstones is the split
/// map's in-place rehash (the design replaced hashbrown's in-place rehash by the rebuild).
#[test]
fn a_tombstone_rebuild_is_counted_as_a_rehash() {
    let _guard = setup();
    let mut m = tombstoned(&unique("rebuild-counted"));
    let before = stats(&m);
    m.insert(1000, 1000);
    assert_eq!(m.capacity(), 56, "rebuilt");
    let after = stats(&m);
    assert_eq!(
        (after.grows, after.shrinks, after.splits),
        (before.grows, before.shrinks, before.splits)
    );
    assert_eq!(
        after.rehashes,
        before.rehashes + 1,
        "the rebuild that cleared the tombstones"
    );
}

/// std's (and mapgov's `HashMap`'s) `entry()` makes room only for an absent key: on a present
/// key of a full table it changes nothing.
#[test]
fn entry_on_a_present_key_of_a_full_table_changes_no_table() {
    let _guard = setup();
    let mut m = limited::<Fixed>(Some(16), &unique("entry-full"));
    for k in 0..14 {
        m.insert(k, k);
    }
    assert_eq!((m.len(), m.capacity(), m.tables()), (14, 14, 1));
    let mut std: StdMap<u64, u64> = (0..14).map(|k| (k, k)).collect();
    std.shrink_to_fit();
    let std_capacity = std.capacity();
    *std.entry(0).or_insert(0) += 1;
    assert_eq!(std.capacity(), std_capacity, "std does not grow");

    *m.entry(0).or_insert(0) += 1;
    assert_eq!(
        m.capacity(),
        14,
        "the full table was resized by entry() (past the 16-bucket maximum)"
    );
    let mut want: BTreeMap<u64, u64> = (0..14).map(|k| (k, k)).collect();
    want.insert(0, 1);
    assert_coherent(&m, &want);
}

/// The largest table splits; it never grows past [`TABLE_MAX_BUCKETS`] (or the test limit).
/// Here `reserve` meets two full-size tables whose room is taken by tombstones.
#[test]
fn reserve_never_grows_a_table_past_the_maximum() {
    let _guard = setup();
    let mut m = SplitMap::with_hasher(Halves)
        .with_table_max_buckets(64)
        .named(&unique("reserve-bound"));
    const HI: u64 = 1 << 32;
    // Keys 0..56 fill one table; the next (high-half) key splits it: the low half keeps them
    // all, in buckets 0..56 again, and keys HI..HI + 56 fill the high half the same way.
    for k in (0..56).chain(HI..HI + 56) {
        m.insert(k, k);
    }
    assert_eq!((m.tables(), m.len(), m.capacity()), (2, 112, 112));
    for k in (8..48).chain(HI + 8..HI + 48) {
        m.remove(&k);
    }
    assert_eq!(
        (m.len(), m.capacity()),
        (32, 32),
        "tombstones take the room"
    );
    m.reserve(40);
    assert!(m.capacity() >= 72);
    assert!(
        m.capacity() <= m.tables() * max_entries(64),
        "capacity {} in {} tables: a table grew past 64 buckets",
        m.capacity(),
        m.tables()
    );
    m.check_invariants();
}

/// For [`reserve_never_grows_a_table_past_the_maximum`]: bit 56 of the hash (the directory's
/// first bit) is bit 32 of the key and the bits below it are the key's low bits, so keys below
/// `1 << 32` and above fall in two tables and fill consecutive buckets there.
#[derive(Clone, Copy, Debug, Default)]
struct Halves;

impl BuildHasher for Halves {
    type Hasher = HalvesHasher;
    fn build_hasher(&self) -> HalvesHasher {
        HalvesHasher(0)
    }
}

#[derive(Debug)]
struct HalvesHasher(u64);

impl Hasher for HalvesHasher {
    fn write(&mut self, _: &[u8]) {
        unreachable!("only u64 keys")
    }
    fn write_u64(&mut self, x: u64) {
        self.0 = x;
    }
    fn finish(&self) -> u64 {
        let x = self.0;
        (x & 0xFFFF_FFFF) | (((x >> 32) & 1) << 56) | (mix(x) & (0x7F << 57))
    }
}

/// The type's docs warn that a hasher which does not spread its high bits "would put every key
/// in one table". Here the hashes of eight keys agree on bits 56 down to 36 (the directory's
/// first 21 bits) and differ below: a split by any of those bits moves no entry, and the map
/// must not answer by doubling its directory again and again (with an identity hash of small
/// integers, no bit ever differs: the directory doubles to 2^40 slots and the allocation
/// aborts the process).
#[test]
fn splits_that_move_no_entry_do_not_blow_up_the_directory() {
    let _guard = setup();
    let mut m = SplitMap::with_hasher(HighBitsConstant)
        .with_table_max_buckets(8)
        .named(&unique("constant-high-bits"));
    for k in 0..8 {
        m.insert(k, k);
    }
    assert_coherent(&m, &(0..8).map(|k| (k, k)).collect());
    assert!(
        m.allocation_size() < 64 * 1024,
        "{} bytes ({} tables) for 8 entries",
        m.allocation_size(),
        m.tables()
    );
}

/// For [`splits_that_move_no_entry_do_not_blow_up_the_directory`]: a mixed hash with bits 36 to
/// 56 cleared.
#[derive(Clone, Copy, Debug, Default)]
struct HighBitsConstant;

impl BuildHasher for HighBitsConstant {
    type Hasher = HighBitsConstantHasher;
    fn build_hasher(&self) -> HighBitsConstantHasher {
        HighBitsConstantHasher(0)
    }
}

#[derive(Debug)]
struct HighBitsConstantHasher(u64);

impl Hasher for HighBitsConstantHasher {
    fn write(&mut self, _: &[u8]) {
        unreachable!("only u64 keys")
    }
    fn write_u64(&mut self, x: u64) {
        self.0 = x;
    }
    fn finish(&self) -> u64 {
        mix(self.0) & !(((1 << 21) - 1) << 36)
    }
}

#[test]
fn a_leaked_drain_leaves_an_empty_map_whose_accounting_is_exact() {
    let _guard = setup();
    let mut m = limited::<Fixed>(Some(16), &unique("leaked-drain"));
    for k in 0..100 {
        m.insert(k, k);
    }
    std::mem::forget(m.drain());
    assert_eq!(m.len(), 0);
    assert_eq!(stats(&m).len, 0);
    assert_coherent(&m, &BTreeMap::new());
    m.insert(1, 1);
    assert_coherent(&m, &BTreeMap::from([(1, 1)]));
}

#[test]
fn with_table_max_buckets_accepts_powers_of_two_from_8_to_the_default_on_a_fresh_map() {
    let _guard = setup();
    for ok in [8, 16, 1024, TABLE_MAX_BUCKETS] {
        let _ = SplitMap::<u8, u8>::new().with_table_max_buckets(ok);
    }
    for bad in [0, 4, 12, 2 * TABLE_MAX_BUCKETS] {
        let r = catch_unwind(|| SplitMap::<u8, u8>::new().with_table_max_buckets(bad));
        assert!(r.is_err(), "{bad} buckets");
    }
    let mut m = SplitMap::<u8, u8>::new();
    m.insert(1, 1);
    let r = catch_unwind(AssertUnwindSafe(|| m.with_table_max_buckets(16)));
    assert!(r.is_err(), "a map that has allocated");
}

// ---------------------------------------------------------------------------------------------
// Part 4: trait impls and auto traits
// ---------------------------------------------------------------------------------------------

/// A map with keys `0..n` (value `10 * k`) in tables of at most 8 buckets: many tables, some
/// empty after removals, so that iteration crosses table boundaries.
fn many_tables(n: u64) -> (SplitMap<u64, u64, Fixed>, StdMap<u64, u64>) {
    let mut gov = limited::<Fixed>(Some(8), &unique("many"));
    let mut std = StdMap::new();
    for k in 0..n + 40 {
        gov.insert(k, 10 * k);
        std.insert(k, 10 * k);
    }
    for k in n..n + 40 {
        gov.remove(&k);
        std.remove(&k);
    }
    assert!(gov.tables() > 10);
    (gov, std)
}

/// Consumes `it`, checking its `len()` before and after every item; returns the items.
fn exact<I: ExactSizeIterator>(mut it: I, n: usize) -> Vec<I::Item> {
    assert_eq!(it.len(), n);
    assert_eq!(it.size_hint(), (n, Some(n)));
    let mut out = Vec::new();
    while let Some(x) = it.next() {
        out.push(x);
        assert_eq!(it.len(), n - out.len());
    }
    assert_eq!(out.len(), n);
    assert!(it.next().is_none(), "fused");
    out
}

#[test]
fn iterators_yield_every_entry_once_with_exact_lengths() {
    let _guard = setup();
    let (mut gov, std) = many_tables(300);
    let want = sorted(std.iter().map(|(k, v)| (*k, *v)));
    let n = want.len();
    assert_eq!(
        sorted(exact(gov.iter(), n).into_iter().map(|(k, v)| (*k, *v))),
        want
    );
    assert_eq!(sorted((&gov).into_iter().map(|(k, v)| (*k, *v))), want);
    let it = gov.iter();
    assert_eq!(it.clone().count(), n, "a cloned Iter starts where it was");
    assert!(!format!("{it:?}").is_empty());
    let mut keys: Vec<u64> = exact(gov.keys(), n).into_iter().copied().collect();
    keys.sort_unstable();
    assert_eq!(keys, want.iter().map(|e| e.0).collect::<Vec<_>>());
    assert_eq!(gov.keys().clone().count(), n);
    let mut values: Vec<u64> = exact(gov.values(), n).into_iter().copied().collect();
    values.sort_unstable();
    assert_eq!(values, want.iter().map(|e| e.1).collect::<Vec<_>>());
    assert_eq!(gov.values().clone().count(), n);
    for v in exact(gov.values_mut(), n) {
        *v += 1;
    }
    for (_, v) in exact(gov.iter_mut(), n) {
        *v += 1;
    }
    for (_, v) in &mut gov {
        *v += 1;
    }
    let plus3 = want.iter().map(|&(k, v)| (k, v + 3)).collect::<Vec<_>>();
    assert_eq!(sorted(gov.iter().map(|(k, v)| (*k, *v))), plus3);
    let mut keys = exact(gov.clone().into_keys(), n);
    keys.sort_unstable();
    assert_eq!(keys, plus3.iter().map(|e| e.0).collect::<Vec<_>>());
    let mut values = exact(gov.clone().into_values(), n);
    values.sort_unstable();
    assert_eq!(values, plus3.iter().map(|e| e.1).collect::<Vec<_>>());
    assert_eq!(sorted(exact(gov.clone().into_iter(), n)), plus3);
    let mut owned = Vec::new();
    for kv in gov.clone() {
        owned.push(kv);
    }
    assert_eq!(sorted(owned), plus3);
    assert_eq!(sorted(exact(gov.drain(), n)), plus3);
    assert!(gov.is_empty());
    assert_eq!(gov.iter().len(), 0);
    assert!(gov.iter().next().is_none());
}

#[test]
fn debug_formats_like_std() {
    let _guard = setup();
    let one = SplitMap::from([(1u8, 'a')]);
    assert_eq!(
        format!("{one:?}"),
        format!("{:?}", StdMap::from([(1u8, 'a')]))
    );
    let empty: SplitMap<u8, u8> = SplitMap::new();
    assert_eq!(format!("{empty:?}"), "{}");
    let (gov, std) = many_tables(50);
    let entries = |s: String| {
        let inner = s
            .strip_prefix('{')
            .and_then(|s| s.strip_suffix('}'))
            .expect("braces")
            .to_owned();
        let mut v: Vec<String> = inner.split(", ").map(str::to_owned).collect();
        v.sort();
        v
    };
    assert_eq!(entries(format!("{gov:?}")), entries(format!("{std:?}")));
    match gov.clone().entry(3) {
        Entry::Occupied(o) => {
            assert_eq!(format!("{o:?}"), "OccupiedEntry { key: 3, value: 30, .. }")
        }
        Entry::Vacant(_) => panic!("3 is present"),
    }
    let mut copy = gov.clone();
    let e = copy.entry(1000);
    assert_eq!(format!("{e:?}"), "Entry(VacantEntry(1000))");
}

#[test]
fn clone_keeps_contents_and_table_limit_and_is_attributed_to_the_clone_line() {
    let _guard = setup();
    let name = unique("clone");
    let mut gov = limited::<Fixed>(Some(16), &name);
    for k in 0..300 {
        gov.insert(k, k);
    }
    gov.retain(|k, _| k % 3 != 0);
    let mut copy = gov.clone();
    let line = line!() - 1;
    assert!(copy == gov);
    assert_eq!(copy.tables(), gov.tables());
    assert_eq!(copy.capacity(), gov.capacity());
    let s = stats(&copy);
    assert_eq!(s.name.as_deref(), Some(name.as_str()), "the name is kept");
    assert_eq!(s.site.line, line, "attributed to the caller of clone()");
    assert!(s.site.file.ends_with("split.rs"), "{}", s.site.file);
    assert_eq!(Counts::of(&s), Counts::present(200));
    assert_eq!(s.lookup_sample, 1, "count_every_lookup is kept");
    let want: BTreeMap<u64, u64> = (0..300).filter(|k| k % 3 != 0).map(|k| (k, k)).collect();
    assert_coherent(&copy, &want);
    // Independent, and the copy keeps the 16-bucket limit as it grows.
    for k in 1000..3000 {
        copy.insert(k, k);
    }
    assert!(!gov.contains_key(&1000));
    assert!(copy.capacity() <= copy.tables() * max_entries(16));
    assert_coherent(&gov, &want);
    let empty: SplitMap<u8, u8> = SplitMap::new();
    assert_eq!(empty.clone().allocation_size(), 0);
}

#[test]
fn equality_compares_contents_regardless_of_layout_and_counts_no_lookup() {
    let _guard = setup();
    let mut a = limited::<Fixed>(Some(8), &unique("eq-a"));
    let mut b = limited::<Fixed>(None, &unique("eq-b"));
    for k in 0..500 {
        a.insert(k, k);
        b.insert(499 - k, 499 - k);
    }
    assert_ne!(a.tables(), b.tables());
    let (ca, cb) = (counts(&a), counts(&b));
    assert_eq!(a, b);
    assert_eq!(b, a);
    assert_eq!((counts(&a), counts(&b)), (ca, cb), "== counts no lookup");
    b.insert(0, 1);
    assert!(a != b, "a different value");
    b.insert(0, 0);
    assert!(a == b);
    b.remove(&0);
    assert!(a != b, "a different length");
    b.insert(10_000, 0);
    assert!(a != b, "a different key");
    fn is_eq<T: Eq>(_: &T) {}
    is_eq(&a);
}

#[test]
fn default_is_an_empty_unallocated_map_attributed_to_its_caller() {
    let _guard = setup();
    let mut m: SplitMap<u8, u8> = Default::default();
    let line = line!() - 1;
    assert!(m.is_empty());
    assert_eq!(
        (m.len(), m.capacity(), m.tables(), m.allocation_size()),
        (0, 0, 0, 0)
    );
    m.insert(1, 1);
    assert_eq!(stats(&m).site.line, line);
    let fixed: SplitMap<u8, u8, Fixed> = SplitMap::default();
    assert_eq!(fixed.hasher().hash_one(7u8), Fixed::default().hash_one(7u8));
}

#[test]
fn index_returns_the_value_and_panics_on_a_missing_key() {
    let _guard = setup();
    let (gov, std) = many_tables(100);
    for k in 0..100 {
        assert_eq!(gov[&k], std[&k]);
    }
    let r = catch_unwind(AssertUnwindSafe(|| gov[&1000]));
    assert!(r.is_err(), "a missing key panics");
    assert!(catch_unwind(AssertUnwindSafe(|| std[&1000])).is_err());
}

#[test]
fn extend_owned_and_by_reference_insert_like_std() {
    let _guard = setup();
    let (mut gov, mut std) = many_tables(100);
    let more: Vec<(u64, u64)> = (50..400).map(|k| (k, k + 1)).collect();
    gov.extend(more.clone());
    std.extend(more.clone());
    assert_eq!(
        sorted(gov.iter().map(|(k, v)| (*k, *v))),
        sorted(std.clone())
    );
    let by_ref: StdMap<u64, u64> = (300..700).map(|k| (k, 2 * k)).collect();
    gov.extend(&by_ref);
    std.extend(&by_ref);
    let other: SplitMap<u64, u64, Fixed> = (600..900).map(|k| (k, 3 * k)).collect();
    gov.extend(other.iter());
    std.extend(other.iter());
    assert_eq!(
        sorted(gov.iter().map(|(k, v)| (*k, *v))),
        sorted(std.clone())
    );
    let s = stats(&gov);
    // 140 entries at the start (100 kept + 40 removed), then 300 new keys, 400, and 200.
    assert_eq!(
        (s.inserts, s.updates),
        (140 + 300 + 300 + 200, 50 + 100 + 100)
    );
    assert_coherent(&gov, &std.into_iter().collect());
}

#[test]
fn from_iterator_and_from_array_build_the_map_at_the_callers_line() {
    let _guard = setup();
    let m = SplitMap::<u64, u64>::from_iter((0..1000).map(|k| (k, k)));
    let line = line!() - 1;
    assert_eq!(stats(&m).site.line, line);
    assert_coherent(&m, &(0..1000).map(|k| (k, k)).collect());
    let collected: SplitMap<u64, u64, Fixed> = (0..10).map(|k| (k, k)).collect();
    assert_eq!(collected.len(), 10);
    let a = SplitMap::from([(1, 2), (3, 4), (1, 5)]);
    let line = line!() - 1;
    assert_eq!(stats(&a).site.line, line);
    assert_eq!(
        sorted(a),
        [(1, 5), (3, 4)],
        "a repeated key: the last value"
    );
    let empty: SplitMap<u8, u8> = SplitMap::from([]);
    assert_eq!(empty.allocation_size(), 0);
}

#[test]
fn entry_methods_return_what_std_returns() {
    let _guard = setup();
    let (mut gov, mut std) = many_tables(100);
    // Occupied: key, get, get_mut, into_mut, insert, remove.
    for k in [1, 2, 3] {
        match (gov.entry(k), std.entry(k)) {
            (Entry::Occupied(mut g), std_hash_map::Entry::Occupied(mut s)) => {
                assert_eq!((g.key(), g.get()), (s.key(), s.get()));
                *g.get_mut() += 1;
                *s.get_mut() += 1;
                assert_eq!(g.insert(7), s.insert(7));
                match k {
                    1 => assert_eq!(*g.into_mut(), *s.into_mut()),
                    2 => assert_eq!(g.remove(), s.remove()),
                    _ => assert_eq!(g.remove_entry(), s.remove_entry()),
                }
            }
            _ => panic!("{k} is present in both"),
        }
    }
    // Vacant: key, insert, insert_entry, into_key; the or_* family on both kinds.
    match (gov.entry(500), std.entry(500)) {
        (Entry::Vacant(g), std_hash_map::Entry::Vacant(s)) => {
            assert_eq!(g.key(), s.key());
            assert_eq!(*g.insert(5), *s.insert(5));
        }
        _ => panic!("500 is absent from both"),
    }
    match (gov.entry(501), std.entry(501)) {
        (Entry::Vacant(g), std_hash_map::Entry::Vacant(s)) => {
            let (g, s) = (g.insert_entry(6), s.insert_entry(6));
            assert_eq!((g.key(), g.get()), (s.key(), s.get()));
        }
        _ => panic!("501 is absent from both"),
    }
    for k in [4, 502] {
        assert_eq!(
            *gov.entry(k).or_insert_with(|| 8),
            *std.entry(k).or_insert_with(|| 8)
        );
        assert_eq!(
            *gov.entry(k + 1000).or_insert_with_key(|k| k + 1),
            *std.entry(k + 1000).or_insert_with_key(|k| k + 1)
        );
        assert_eq!(
            *gov.entry(k + 2000).or_default(),
            *std.entry(k + 2000).or_default()
        );
        assert_eq!(gov.entry(k).key(), std.entry(k).key());
    }
    assert_coherent(&gov, &std.clone().into_iter().collect());
    // A vacant entry of a full table: the table splits before the entry is handed out, so
    // inserting through it never grows a table.
    let mut m = limited::<Fixed>(Some(16), &unique("entry-split"));
    for k in 0..14 {
        m.insert(k, k);
    }
    assert_eq!((m.capacity(), m.tables()), (14, 1));
    *m.entry(100).or_insert(0) += 100;
    assert_eq!(m.tables(), 2);
    assert_eq!(stats(&m).splits, 1);
    let mut want: BTreeMap<u64, u64> = (0..14).map(|k| (k, k)).collect();
    want.insert(100, 100);
    assert_coherent(&m, &want);
}

/// The panic's message, or `None` if `f` did not panic.
fn panic_message(f: impl FnOnce()) -> Option<String> {
    let payload = catch_unwind(AssertUnwindSafe(f)).err()?;
    Some(payload_message(payload))
}

#[test]
fn get_disjoint_mut_panics_on_overlapping_present_keys_like_std() {
    let _guard = setup();
    let (mut gov, mut std) = many_tables(100);
    let g = panic_message(|| {
        let _ = gov.get_disjoint_mut([&5, &7, &5]);
    });
    let s = panic_message(|| {
        let _ = std.get_disjoint_mut([&5, &7, &5]);
    });
    assert!(s.is_some());
    assert_eq!(g, s);
    let [a, b, c] = gov.get_disjoint_mut([&1, &99, &100]);
    assert_eq!(
        (a.copied(), b.copied(), c.copied()),
        (Some(10), Some(990), None)
    );
    assert_coherent(&gov, &std.into_iter().collect());
}

/// std (and mapgov's `HashMap`) panic only when overlapping keys are present.
#[test]
fn get_disjoint_mut_with_the_same_absent_key_twice_returns_none_like_std() {
    let _guard = setup();
    let (mut gov, mut std) = many_tables(100);
    let s = std.get_disjoint_mut([&5000, &7, &5000]).map(|v| v.copied());
    assert_eq!(s, [None, Some(70), None]);
    let g = panic_message(|| {
        let g = gov.get_disjoint_mut([&5000, &7, &5000]).map(|v| v.copied());
        assert_eq!(g, s);
    });
    assert_eq!(g, None, "std returns [None, Some(70), None]");
}

#[test]
fn hasher_returns_the_maps_hasher() {
    let _guard = setup();
    let m: SplitMap<u64, u64, Dense> = SplitMap::with_capacity_and_hasher(10, Dense);
    assert_eq!(m.hasher().hash_one(5u64) & 0xFFFF_FFFF, 5);
    assert!(m.capacity() >= 10);
    assert_eq!(m.tables(), 1);
}

#[test]
fn auto_traits_of_the_map_its_entries_and_iterators_match_std() {
    let _guard = setup();
    let mismatches = map_auto_trait_mismatches!(SplitMap, split_map);
    assert!(
        mismatches.is_empty(),
        "auto traits differ from std:\n{}",
        mismatches.join("\n")
    );
    // The probe is not vacuous: it sees the negative cases.
    assert!(!implements!(SplitMap<Rc<u8>, u8>: Send));
    assert!(!implements!(SplitMap<u8, Cell<u8>>: Sync));
    assert!(!implements!(SplitMap<u8, &'static mut u8>: std::panic::UnwindSafe));
    assert!(!implements!(SplitMap<u8, Cell<u8>>: std::panic::RefUnwindSafe));
    assert!(implements!(SplitMap<u64, u64>: Send));
    assert!(implements!(SplitMap<u64, u64>: std::panic::RefUnwindSafe));
}
