//! Panic safety: a panicking `Hash`, `Eq`, `Clone`, `Drop` or hasher (`build_hasher`, `write`,
//! `finish`) in the middle of any map operation leaves the map usable and its stats coherent.
//!
//! Every test arms a trap (a per-thread countdown: "panic on the n-th call"), runs one operation
//! under `catch_unwind`, and then checks, through [`check`]:
//!
//! - the map still works (insert, get and remove a fresh key);
//! - `stats().len == len()` and `stats().allocated_bytes == allocation_size()`;
//! - a live-object counter (values created or cloned minus values dropped) equals the entries
//!   the map holds plus the values hashbrown documents as leaked for that operation;
//! - the map's site in `mapgov::snapshot()` and its tracked entry agree with `stats()`.
//!
//! Every map is named uniquely, so tests running in parallel never share a site.

use std::cell::Cell;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::Once;

use mapgov::{HashMap, MapStats};

#[path = "support/intentional_panic.rs"]
mod intentional_panic;
use intentional_panic::{
    PANIC_TAG, countdown_fires, expect_intentional_panic, hide_intentional_panics,
};

// ---------------------------------------------------------------------------------------------
// Traps
// ---------------------------------------------------------------------------------------------

/// A place where user code can panic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Trap {
    /// `Key::hash`.
    Hash,
    /// `Key::eq`.
    Eq,
    /// `Val::clone`.
    Clone,
    /// `Val::drop`.
    Drop,
    /// `TrapState::build_hasher`.
    BuildHasher,
    /// `TrapHasher::write`.
    Write,
    /// `TrapHasher::finish`.
    Finish,
}

const TRAPS: usize = 7;

/// The hasher-side traps: each fires exactly once per hashed key.
const HASH_TRAPS: [Trap; 4] = [Trap::Hash, Trap::BuildHasher, Trap::Write, Trap::Finish];

thread_local! {
    /// Per trap: 0 = disarmed, n = panic on the n-th call from now.
    static ARMED: [Cell<u32>; TRAPS] = const { [const { Cell::new(0) }; TRAPS] };
    /// `Val`s alive on this thread (created or cloned, minus dropped).
    static LIVE: Cell<i64> = const { Cell::new(0) };
}

fn arm(trap: Trap, nth: u32) {
    assert!(nth >= 1);
    ARMED.with(|a| a[trap as usize].set(nth));
}

fn disarm_all() {
    ARMED.with(|a| a.iter().for_each(|c| c.set(0)));
}

/// Counts one call of `trap`, panicking if this is the armed call. Never panics while the
/// thread is already unwinding (that would abort the test binary).
fn trip(trap: Trap) {
    if ARMED.with(|a| countdown_fires(&a[trap as usize])) {
        panic!("{PANIC_TAG} in {trap:?}");
    }
}

fn live() -> i64 {
    LIVE.with(Cell::get)
}

/// Runs `op`, which must panic with one of our traps.
fn must_panic(what: &str, op: impl FnOnce()) {
    expect_intentional_panic(what, op);
    disarm_all();
}

/// Installs the configuration (every map tracked, every lookup counted) and a panic hook that
/// keeps our intentional panics out of the test output. Every test calls it first.
fn setup() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = mapgov::Config::from_env()
            .track_min_bytes(0)
            .lookup_sample(1)
            .install();
        hide_intentional_panics();
    });
    let config = mapgov::current_config();
    assert_eq!(config.get_track_min_bytes(), 0);
    assert_eq!(config.get_lookup_sample(), 1);
    disarm_all();
    LIVE.with(|l| l.set(0));
}

// ---------------------------------------------------------------------------------------------
// Key, value and hasher with traps
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
struct Key(u64);

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        trip(Trap::Hash);
        state.write_u64(self.0);
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        trip(Trap::Eq);
        self.0 == other.0
    }
}

impl Eq for Key {}

/// A value counted in [`LIVE`].
#[derive(Debug)]
struct Val(u64);

impl Val {
    fn new(v: u64) -> Val {
        LIVE.with(|l| l.set(l.get() + 1));
        Val(v)
    }
}

impl Clone for Val {
    fn clone(&self) -> Val {
        trip(Trap::Clone);
        Val::new(self.0)
    }
}

impl Drop for Val {
    fn drop(&mut self) {
        // The value is gone whether or not its drop then panics.
        LIVE.with(|l| l.set(l.get() - 1));
        trip(Trap::Drop);
    }
}

/// A `BuildHasher` whose `build_hasher`, `write` and `finish` can panic.
///
/// Its hash keeps a small key's value in the low bits (hashbrown's bucket index), so that
/// consecutive keys occupy consecutive buckets: removing keys from the middle of such a run
/// leaves tombstones (hashbrown marks a removed bucket EMPTY instead when an empty bucket is
/// near), which is how [`tombstoned`] sets up an in-place rehash. The top seven bits (the
/// control tag) are scrambled so that probing stays selective.
#[derive(Clone, Copy, Debug, Default)]
struct TrapState;

#[derive(Debug)]
struct TrapHasher(u64);

impl BuildHasher for TrapState {
    type Hasher = TrapHasher;

    fn build_hasher(&self) -> TrapHasher {
        trip(Trap::BuildHasher);
        TrapHasher(0)
    }
}

impl Hasher for TrapHasher {
    fn write(&mut self, bytes: &[u8]) {
        trip(Trap::Write);
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, x: u64) {
        trip(Trap::Write);
        self.0 ^= x;
    }

    fn finish(&self) -> u64 {
        trip(Trap::Finish);
        let x = self.0;
        (x & !(0x7F << 57)) | (x.wrapping_mul(0x9E37_79B9_7F4A_7C15) & (0x7F << 57))
    }
}

type Map = HashMap<Key, Val, TrapState>;

/// A fresh key no test ever inserts on purpose.
const PROBE: Key = Key(u64::MAX - 7);

fn named(name: &str) -> Map {
    HashMap::with_hasher(TrapState).named(name)
}

fn filled(name: &str, n: u64) -> Map {
    let mut m = named(name);
    for i in 0..n {
        m.insert(Key(i), Val::new(i));
    }
    m
}

/// A map filled until its table is full (`len == capacity`) with at least `min` entries: the
/// next insert of a new key grows it.
fn full(name: &str, min: usize) -> Map {
    let mut m = named(name);
    let mut i = 0;
    while m.len() < min || m.len() < m.capacity() {
        m.insert(Key(i), Val::new(i));
        i += 1;
    }
    assert_eq!(m.len(), m.capacity());
    m
}

/// A table left full of tombstones: the next insert of a new key rehashes it in place (no new
/// allocation). Returns the map and the next fresh key.
fn tombstoned(name: &str) -> (Map, u64) {
    let mut m = full(name, 100);
    let full_capacity = m.capacity();
    // Keys 0..len sit in buckets 0..len: remove the middle of the run.
    for i in 16..(full_capacity as u64 - 16) {
        m.remove(&Key(i));
    }
    // Tombstones still take room: fill the remaining free slots without growing.
    let mut next = 1_000_000;
    while m.len() < m.capacity() {
        m.insert(Key(next), Val::new(next));
        next += 1;
    }
    assert!(
        m.len() < full_capacity / 2,
        "the next insert must rehash in place (len {} of {full_capacity})",
        m.len()
    );
    (m, next)
}

// ---------------------------------------------------------------------------------------------
// The check every test ends with
// ---------------------------------------------------------------------------------------------

/// Asserts that the map is coherent with its stats, its site and the live-object count, then
/// that it still works, and checks coherence again.
///
/// `elsewhere` is the number of live values the map does not hold: those hashbrown documents as
/// leaked by the failed operation, plus those of other maps alive in the test.
fn check(map: &mut Map, name: &str, elsewhere: i64) {
    disarm_all();
    coherent(map, name, elsewhere);
    assert!(map.get(&PROBE).is_none(), "{name}: probe key present");
    assert!(map.insert(PROBE, Val::new(7)).is_none(), "{name}: insert");
    assert_eq!(map.get(&PROBE).map(|v| v.0), Some(7), "{name}: get");
    assert!(map.contains_key(&PROBE), "{name}: contains_key");
    coherent(map, name, elsewhere);
    assert_eq!(map.remove(&PROBE).map(|v| v.0), Some(7), "{name}: remove");
    coherent(map, name, elsewhere);
}

fn coherent(map: &Map, name: &str, elsewhere: i64) {
    let stats = map.stats().expect("a named map has stats");
    assert_eq!(stats.name.as_deref(), Some(name));
    assert_eq!(stats.len, map.len() as u64, "{name}: stats.len vs len()");
    assert_eq!(
        stats.allocated_bytes,
        map.allocation_size() as u64,
        "{name}: stats.allocated_bytes vs allocation_size()"
    );
    assert!(
        stats.wasted_bytes <= stats.allocated_bytes,
        "{name}: wasted"
    );
    assert!(stats.len <= stats.peak_len, "{name}: peak");
    assert_eq!(
        live(),
        map.len() as i64 + elsewhere,
        "{name}: live values vs entries held plus leaked or held elsewhere"
    );
    site_agrees(name, &stats);
}

/// The map's site (unique by name) and its tracked entry in a snapshot agree with `stats`.
fn site_agrees(name: &str, stats: &MapStats) {
    let snap = mapgov::snapshot();
    let sites: Vec<_> = snap
        .sites
        .iter()
        .filter(|s| s.name.as_deref() == Some(name))
        .collect();
    assert_eq!(sites.len(), 1, "{name}: exactly one site: {sites:#?}");
    let s = sites[0];
    assert_eq!(s.site, stats.site, "{name}: site location");
    assert_eq!((s.maps_live, s.maps_created), (1, 1), "{name}: maps");
    let tracked = stats.id != 0;
    assert_eq!(s.maps_tracked, u64::from(tracked), "{name}: tracked");
    let site_view = [
        s.entries,
        s.allocated_bytes,
        s.peak_len,
        s.inserts,
        s.updates,
        s.removes,
        s.hits,
        s.misses,
        s.grows,
        s.rehashes,
        s.shrinks,
        s.resize_nanos,
    ];
    let map_view = [
        stats.len,
        stats.allocated_bytes,
        stats.peak_len,
        stats.inserts,
        stats.updates,
        stats.removes,
        stats.hits,
        stats.misses,
        stats.grows,
        stats.rehashes,
        stats.shrinks,
        stats.resize_nanos,
    ];
    assert_eq!(
        site_view, map_view,
        "{name}: site [entries, bytes, peak, inserts, updates, removes, hits, misses, grows, \
         rehashes, shrinks, resize_nanos] vs stats()"
    );
    if tracked {
        assert_eq!(s.wasted_bytes, stats.wasted_bytes, "{name}: site wasted");
        let mut m = snap
            .map_named(name)
            .expect("tracked map in snapshot")
            .clone();
        m.age = stats.age;
        assert_eq!(&m, stats, "{name}: snapshot's map vs stats()");
    }
}

// ---------------------------------------------------------------------------------------------
// Insert
// ---------------------------------------------------------------------------------------------

#[test]
fn hasher_panic_on_insert_without_growth_leaves_map_unchanged() {
    setup();
    for trap in HASH_TRAPS {
        let name = format!("panic-safety/insert/{trap:?}");
        let mut m = filled(&name, 10);
        assert!(m.len() < m.capacity());
        let before = m.stats().unwrap();
        arm(trap, 1);
        must_panic(&name, || {
            m.insert(Key(100), Val::new(100));
        });
        let after = m.stats().unwrap();
        assert_eq!(m.len(), 10);
        assert_eq!((after.inserts, after.grows), (before.inserts, before.grows));
        check(&mut m, &name, 0);
    }
}

#[test]
fn hasher_panic_while_growing_keeps_the_old_table_and_counts_no_grow() {
    setup();
    for trap in HASH_TRAPS {
        let name = format!("panic-safety/grow/{trap:?}");
        let mut m = full(&name, 50);
        let (len, cap, bytes) = (m.len(), m.capacity(), m.allocation_size());
        let before = m.stats().unwrap();
        // The grow hashes every entry once: panic on the 5th, mid-move.
        arm(trap, 5);
        must_panic(&name, || {
            m.insert(Key(10_000), Val::new(10_000));
        });
        assert_eq!(
            (m.len(), m.capacity(), m.allocation_size()),
            (len, cap, bytes)
        );
        let after = m.stats().unwrap();
        assert_eq!(
            after.grows, before.grows,
            "{name}: a failed grow is no grow"
        );
        assert_eq!(after.inserts, before.inserts);
        check(&mut m, &name, 0);
    }
}

#[test]
fn hasher_panic_after_a_completed_grow_counts_the_grow() {
    setup();
    for trap in HASH_TRAPS {
        let name = format!("panic-safety/after-grow/{trap:?}");
        let mut m = full(&name, 50);
        let (len, bytes) = (m.len(), m.allocation_size());
        let before = m.stats().unwrap();
        // The grow hashes the `len` entries, then the insert hashes the new key: panic there.
        arm(trap, len as u32 + 1);
        must_panic(&name, || {
            m.insert(Key(10_000), Val::new(10_000));
        });
        assert_eq!(m.len(), len);
        assert!(m.allocation_size() > bytes, "{name}: the table grew");
        let after = m.stats().unwrap();
        assert_eq!(after.grows, before.grows + 1, "{name}: one grow");
        assert_eq!(after.inserts, before.inserts, "{name}: no insert");
        check(&mut m, &name, 0);
    }
}

#[test]
fn hasher_panic_during_in_place_rehash_drops_the_entries_it_had_not_rehashed() {
    setup();
    for trap in HASH_TRAPS {
        let name = format!("panic-safety/rehash/{trap:?}");
        let (mut m, next) = tombstoned(&name);
        let (len, bytes) = (m.len(), m.allocation_size());
        let before = m.stats().unwrap();
        // hashbrown documents that a hasher panicking during an in-place rehash drops (not
        // leaks) every entry it had not rehashed yet: `len` shrinks.
        arm(trap, 3);
        must_panic(&name, || {
            m.insert(Key(next), Val::new(next));
        });
        assert_eq!(m.allocation_size(), bytes, "{name}: in place, no new table");
        assert!(m.len() < len, "{name}: the rehash lost entries");
        let after = m.stats().unwrap();
        assert_eq!(after.grows, before.grows, "{name}: no grow");
        assert_eq!(
            after.removes - before.removes,
            (len - m.len()) as u64,
            "{name}: lost entries count as removed, once"
        );
        check(&mut m, &name, 0);
    }
}

#[test]
fn eq_panic_on_insert_of_an_existing_key_leaves_map_unchanged() {
    setup();
    let name = "panic-safety/insert-eq";
    let mut m = filled(name, 10);
    let before = m.stats().unwrap();
    arm(Trap::Eq, 1);
    must_panic(name, || {
        m.insert(Key(3), Val::new(33));
    });
    assert_eq!(m.get(&Key(3)).map(|v| v.0), Some(3));
    let after = m.stats().unwrap();
    assert_eq!(
        (after.inserts, after.updates),
        (before.inserts, before.updates)
    );
    check(&mut m, name, 0);
}

#[test]
fn hash_and_eq_panics_on_lookups_and_removes_change_nothing() {
    setup();
    for trap in [
        Trap::Hash,
        Trap::Eq,
        Trap::BuildHasher,
        Trap::Write,
        Trap::Finish,
    ] {
        let name = format!("panic-safety/lookups/{trap:?}");
        let mut m = filled(&name, 10);
        let before = m.stats().unwrap();
        arm(trap, 1);
        must_panic(&name, || {
            m.get(&Key(4));
        });
        arm(trap, 1);
        must_panic(&name, || {
            m.contains_key(&Key(5));
        });
        arm(trap, 1);
        must_panic(&name, || {
            m.get_mut(&Key(5));
        });
        arm(trap, 1);
        must_panic(&name, || {
            m.remove(&Key(6));
        });
        arm(trap, 1);
        must_panic(&name, || {
            m.remove_entry(&Key(6));
        });
        let mut after = m.stats().unwrap();
        after.age = before.age;
        assert_eq!(after, before, "{name}: nothing counted");
        assert_eq!(m.len(), 10);
        check(&mut m, &name, 0);
    }
}

// ---------------------------------------------------------------------------------------------
// Entry
// ---------------------------------------------------------------------------------------------

#[test]
fn panics_in_entry_leave_map_usable_and_counted() {
    setup();
    // Hashing the key.
    for trap in HASH_TRAPS {
        let name = format!("panic-safety/entry-hash/{trap:?}");
        let mut m = filled(&name, 10);
        arm(trap, 1);
        must_panic(&name, || {
            m.entry(Key(100)).or_insert_with(|| Val::new(100));
        });
        assert_eq!(m.len(), 10);
        check(&mut m, &name, 0);
    }
    // Comparing with the stored key.
    {
        let name = "panic-safety/entry-eq";
        let mut m = filled(name, 10);
        arm(Trap::Eq, 1);
        must_panic(name, || {
            m.entry(Key(3)).or_insert_with(|| Val::new(3));
        });
        check(&mut m, name, 0);
    }
    // Growing for the entry, mid-move.
    for trap in HASH_TRAPS {
        let name = format!("panic-safety/entry-grow/{trap:?}");
        let mut m = full(&name, 50);
        let bytes = m.allocation_size();
        arm(trap, 5);
        must_panic(&name, || {
            m.entry(Key(10_000)).or_insert_with(|| Val::new(0));
        });
        assert_eq!(m.allocation_size(), bytes);
        check(&mut m, &name, 0);
    }
    // Rehashing in place for the entry.
    for trap in HASH_TRAPS {
        let name = format!("panic-safety/entry-rehash/{trap:?}");
        let (mut m, next) = tombstoned(&name);
        let len = m.len();
        arm(trap, 3);
        must_panic(&name, || {
            m.entry(Key(next)).or_insert_with(|| Val::new(0));
        });
        assert!(m.len() < len);
        check(&mut m, &name, 0);
    }
    // The value's constructor panics in a vacant entry.
    let name = "panic-safety/entry-default";
    let mut m = filled(name, 10);
    must_panic(name, || {
        m.entry(Key(100))
            .or_insert_with(|| panic!("{PANIC_TAG} in or_insert_with"));
    });
    assert_eq!(m.len(), 10);
    check(&mut m, name, 0);
}

// ---------------------------------------------------------------------------------------------
// Clone and clone_from
// ---------------------------------------------------------------------------------------------

#[test]
fn clone_panic_during_map_clone_drops_the_partial_copy() {
    setup();
    let name = "panic-safety/clone";
    let mut m = filled(name, 40);
    arm(Trap::Clone, 10);
    must_panic(name, || {
        let copy = m.clone();
        drop(copy);
    });
    // The nine values cloned before the panic were dropped again, and the copy never got a site
    // (`check` asserts that exactly one site carries the name).
    check(&mut m, name, 0);
}

#[test]
fn clone_panic_during_clone_from_leaves_the_target_empty_at_the_source_size() {
    setup();
    for (target_len, source_len) in [(5, 60), (60, 5), (30, 30)] {
        let name = format!("panic-safety/clone-from-clone/{target_len}-{source_len}");
        let source = filled(&format!("{name}/source"), source_len);
        let mut m = filled(&name, target_len);
        arm(Trap::Clone, 3);
        must_panic(&name, || m.clone_from(&source));
        // hashbrown empties the target and keeps a table of the source's size.
        assert_eq!(m.len(), 0);
        assert_eq!(m.allocation_size(), source.allocation_size());
        check(&mut m, &name, source.len() as i64);
        // And a clone_from that succeeds afterwards is exact too.
        m.clone_from(&source);
        assert_eq!(m.len(), source.len());
        check(&mut m, &name, source.len() as i64);
        drop(m);
        drop(source);
        assert_eq!(live(), 0, "{name}: every value dropped");
    }
}

#[test]
fn drop_panic_during_clone_from_leaks_the_undropped_old_values() {
    setup();
    let name = "panic-safety/clone-from-drop";
    let source = filled(&format!("{name}/source"), 50);
    let mut m = filled(name, 20);
    arm(Trap::Drop, 4);
    must_panic(name, || m.clone_from(&source));
    // The target's old entries are dropped first; the 4th drop panics and hashbrown clears the
    // table, leaking the 16 it had not dropped yet.
    assert_eq!(m.len(), 0);
    let leaked = 20 - 4;
    check(&mut m, name, leaked + source.len() as i64);
}

// ---------------------------------------------------------------------------------------------
// Retain, extract_if, drain, clear
// ---------------------------------------------------------------------------------------------

#[test]
fn predicate_panic_during_retain_counts_the_entries_removed_so_far() {
    setup();
    let name = "panic-safety/retain-predicate";
    let mut m = filled(name, 100);
    let before = m.stats().unwrap();
    let mut calls = 0;
    must_panic(name, || {
        m.retain(|k, _| {
            calls += 1;
            if calls == 50 {
                panic!("{PANIC_TAG} in retain's predicate");
            }
            k.0 % 2 == 0
        })
    });
    assert!(m.len() < 100 && m.len() > 50, "some removed, some kept");
    let after = m.stats().unwrap();
    assert_eq!(after.removes - before.removes, 100 - m.len() as u64);
    check(&mut m, name, 0);
}

#[test]
fn drop_panic_during_retain_counts_the_entries_removed_so_far() {
    setup();
    let name = "panic-safety/retain-drop";
    let mut m = filled(name, 100);
    arm(Trap::Drop, 7);
    must_panic(name, || m.retain(|_, _| false));
    // hashbrown erases an entry before dropping it: the 7th is gone, nothing leaks.
    assert_eq!(m.len(), 93);
    check(&mut m, name, 0);
}

#[test]
fn predicate_panic_during_extract_if_keeps_the_unvisited_entries() {
    setup();
    let name = "panic-safety/extract-if-predicate";
    let mut m = filled(name, 100);
    let mut calls = 0;
    must_panic(name, || {
        let taken: Vec<_> = m
            .extract_if(|k, _| {
                calls += 1;
                if calls == 40 {
                    panic!("{PANIC_TAG} in extract_if's predicate");
                }
                k.0 % 2 == 0
            })
            .collect();
        drop(taken);
    });
    assert!(m.len() < 100 && m.len() > 50);
    check(&mut m, name, 0);
}

#[test]
fn drop_panic_of_an_extracted_value_keeps_the_rest() {
    setup();
    let name = "panic-safety/extract-if-drop";
    let mut m = filled(name, 100);
    arm(Trap::Drop, 5);
    must_panic(name, || {
        for (_, v) in m.extract_if(|_, _| true) {
            drop(v);
        }
    });
    assert_eq!(m.len(), 95);
    check(&mut m, name, 0);
}

#[test]
fn drop_panic_while_consuming_drain_still_empties_the_map() {
    setup();
    let name = "panic-safety/drain-consumed";
    let mut m = filled(name, 100);
    let bytes = m.allocation_size();
    arm(Trap::Drop, 5);
    must_panic(name, || {
        for (_, v) in m.drain() {
            drop(v);
        }
    });
    // The drain's own drop dropped the rest (while unwinding) and restored the empty table.
    assert_eq!(m.len(), 0);
    assert_eq!(m.allocation_size(), bytes);
    check(&mut m, name, 0);
}

#[test]
fn drop_panic_in_an_unconsumed_drain_keeps_allocated_bytes_exact() {
    setup();
    let name = "panic-safety/drain-unconsumed";
    let mut m = filled(name, 100);
    arm(Trap::Drop, 5);
    must_panic(name, || drop(m.drain()));
    assert_eq!(m.len(), 0);
    // hashbrown's `RawDrain::drop` panics before it moves the table back: the map is left with
    // the empty singleton (allocation 0) and the old table is leaked with its 95 undropped
    // values. mapgov still reports the old table.
    check(&mut m, name, 95);
}

#[test]
fn leaked_drain_keeps_allocated_bytes_exact() {
    setup();
    let name = "panic-safety/drain-forgotten";
    let mut m = filled(name, 100);
    std::mem::forget(m.drain());
    assert_eq!(m.len(), 0);
    check(&mut m, name, 100);
}

#[test]
fn drop_panic_during_clear_leaks_the_rest_and_keeps_the_memory() {
    setup();
    let name = "panic-safety/clear";
    let mut m = filled(name, 100);
    let bytes = m.allocation_size();
    arm(Trap::Drop, 10);
    must_panic(name, || m.clear());
    // hashbrown resets the table even though a drop panicked; the 90 values it had not dropped
    // yet are leaked.
    assert_eq!(m.len(), 0);
    assert_eq!(m.allocation_size(), bytes);
    let stats = m.stats().unwrap();
    assert_eq!(stats.removes, 100);
    check(&mut m, name, 90);
}

// ---------------------------------------------------------------------------------------------
// Reserve and shrink
// ---------------------------------------------------------------------------------------------

#[test]
fn hasher_panic_during_reserve_keeps_the_old_table() {
    setup();
    for trap in HASH_TRAPS {
        let name = format!("panic-safety/reserve/{trap:?}");
        let mut m = filled(&name, 30);
        let bytes = m.allocation_size();
        arm(trap, 7);
        must_panic(&name, || m.reserve(1000));
        assert_eq!(m.allocation_size(), bytes);
        arm(trap, 7);
        must_panic(&name, || {
            let _ = m.try_reserve(1000);
        });
        assert_eq!(m.allocation_size(), bytes);
        assert_eq!(m.stats().unwrap().grows, filled_grows(30));
        check(&mut m, &name, 0);
        drop(m);
        // Reserving in place (in a table of tombstones) may lose entries, like an insert.
        let name = format!("{name}/in-place");
        let (mut m, _) = tombstoned(&name);
        let len = m.len();
        arm(trap, 2);
        must_panic(&name, || m.reserve(1));
        assert!(m.len() < len);
        check(&mut m, &name, 0);
    }
}

/// Grows of a map filled with `n` keys one by one: every power-of-two step after the first
/// allocation.
fn filled_grows(n: u64) -> u64 {
    let mut m: HashMap<u64, ()> = HashMap::new();
    for i in 0..n {
        m.insert(i, ());
    }
    m.stats().unwrap().grows
}

#[test]
fn hasher_panic_during_shrink_keeps_the_old_table() {
    setup();
    for trap in HASH_TRAPS {
        let name = format!("panic-safety/shrink/{trap:?}");
        let mut m = filled(&name, 200);
        for i in 10..200 {
            m.remove(&Key(i));
        }
        let bytes = m.allocation_size();
        let before = m.stats().unwrap();
        arm(trap, 3);
        must_panic(&name, || m.shrink_to_fit());
        assert_eq!(m.allocation_size(), bytes);
        arm(trap, 3);
        must_panic(&name, || m.shrink_to(20));
        assert_eq!(m.allocation_size(), bytes);
        let after = m.stats().unwrap();
        assert_eq!(
            after.shrinks, before.shrinks,
            "{name}: a failed shrink is no shrink"
        );
        assert_eq!(m.len(), 10);
        check(&mut m, &name, 0);
        // Then a shrink that succeeds frees exactly what wasted_bytes said.
        let wasted = m.stats().unwrap().wasted_bytes;
        m.shrink_to_fit();
        assert_eq!(bytes - m.allocation_size(), wasted as usize);
        assert_eq!(m.stats().unwrap().shrinks, before.shrinks + 1);
        check(&mut m, &name, 0);
    }
}

// ---------------------------------------------------------------------------------------------
// Dropping the map
// ---------------------------------------------------------------------------------------------

#[test]
fn drop_panic_while_dropping_a_map_still_retires_it() {
    setup();
    let name = "panic-safety/drop-map";
    let m = filled(name, 50);
    arm(Trap::Drop, 2);
    must_panic(name, || drop(m));
    // The rest of the values are leaked (hashbrown stops at the panicking drop).
    assert_eq!(live(), 48);
    let snap = mapgov::snapshot();
    assert!(snap.map_named(name).is_none(), "no longer tracked");
    let site = snap
        .sites
        .iter()
        .find(|s| s.name.as_deref() == Some(name))
        .expect("the site outlives its maps");
    assert_eq!(
        (site.maps_live, site.maps_created, site.maps_dropped),
        (0, 1, 1)
    );
    assert_eq!((site.entries, site.allocated_bytes), (0, 0));
    assert_eq!((site.inserts, site.removes), (50, 0));
}
