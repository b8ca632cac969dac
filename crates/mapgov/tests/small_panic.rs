//! Panic safety of small maps (anonymous, under the tracking threshold: no stats cell, their
//! counts in the handle): a panicking `Hash`, predicate or `Drop` in the middle of a growth, an
//! in-place rehash, `retain` or `clear` leaves the map usable, and once it is dropped its site
//! holds exactly what it did: no entries, no bytes, as many removes as inserts.
//!
//! Runs in the default configuration (small maps exist only there). Every map is created on its
//! own line, so its site is its own.

use std::cell::Cell;
use std::hash::{Hash, Hasher};
use std::sync::Once;

use mapgov::HashMap;

#[path = "support/dense.rs"]
mod dense;
use dense::Dense;

#[path = "support/intentional_panic.rs"]
mod intentional_panic;
use intentional_panic::{
    PANIC_TAG, countdown_fires, expect_intentional_panic, hide_intentional_panics,
};

thread_local! {
    /// 0 = disarmed, n = the n-th `Key::hash` from now panics.
    static HASH_TRAP: Cell<u32> = const { Cell::new(0) };
    /// 0 = disarmed, n = the n-th `Val::drop` from now panics.
    static DROP_TRAP: Cell<u32> = const { Cell::new(0) };
}

/// Counts one call against `trap`; true if this is the armed one.
fn fires(trap: &'static std::thread::LocalKey<Cell<u32>>) -> bool {
    trap.with(countdown_fires)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Key(u64);

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        if fires(&HASH_TRAP) {
            panic!("{PANIC_TAG} in Key::hash");
        }
        self.0.hash(state);
    }
}

#[derive(Debug)]
struct Val;

impl Drop for Val {
    fn drop(&mut self) {
        if fires(&DROP_TRAP) {
            panic!("{PANIC_TAG} in Val::drop");
        }
    }
}

/// Key `i` sits in bucket `i`: removing the middle of a run of keys leaves tombstones.
type Map = HashMap<Key, Val, Dense>;

fn setup() {
    static ONCE: Once = Once::new();
    ONCE.call_once(hide_intentional_panics);
    let config = mapgov::current_config();
    assert_eq!(
        config.get_track_min_bytes(),
        65536,
        "run without MAPGOV_* variables: small maps exist only in the default configuration"
    );
    assert!(config.get_lookup_sample() > 1);
    HASH_TRAP.with(|c| c.set(0));
    DROP_TRAP.with(|c| c.set(0));
}

fn must_panic(what: &str, op: impl FnOnce()) {
    expect_intentional_panic(what, op);
    HASH_TRAP.with(|c| c.set(0));
    DROP_TRAP.with(|c| c.set(0));
}

/// The site at `line` of this file: (created, dropped, entries, bytes, inserts, removes,
/// grows, rehashes).
fn site(line: u32) -> [i128; 8] {
    let snap = mapgov::snapshot();
    let mut t = [0i128; 8];
    for s in snap
        .sites
        .iter()
        .filter(|s| s.site.file == file!() && s.site.line == line)
    {
        let v = [
            s.maps_created,
            s.maps_dropped,
            s.entries,
            s.allocated_bytes,
            s.inserts,
            s.removes,
            s.grows,
            s.rehashes,
        ];
        for (a, b) in t.iter_mut().zip(v) {
            *a += i128::from(b);
        }
    }
    t
}

/// The map still works, and has no stats of its own (it is small). Inserts and removes one
/// key, counting a growth in `grows`.
fn usable(map: &mut Map, key: u64, grows: &mut i128) {
    assert!(map.stats().is_none(), "the map is still small");
    let len = map.len();
    insert_new(map, key, grows);
    assert!(map.contains_key(&Key(key)));
    assert!(map.remove(&Key(key)).is_some());
    assert_eq!(map.len(), len);
}

/// Checks what the dropped map left at its site: `inserts` new keys in all, every entry gone.
fn dropped_exactly(line: u32, inserts: i128, grows: i128) {
    let [created, dropped, entries, bytes, ins, rem, gr, _] = site(line);
    assert_eq!((created, dropped), (1, 1), "one map created and dropped");
    assert_eq!(
        (entries, bytes),
        (0, 0),
        "the site holds nothing of a dropped map"
    );
    assert_eq!(ins, inserts, "inserts");
    assert_eq!(
        rem, inserts,
        "every inserted entry was removed before the drop"
    );
    assert_eq!(gr, grows, "grows");
}

#[test]
fn hash_panic_while_a_small_map_grows_keeps_its_table_and_its_site_exact() {
    setup();
    let line = line!() + 1;
    let mut map = Map::default();
    let mut inserts = 0;
    let mut grows = 0;
    let mut k = 0;
    for round in 0..4 {
        // Fill to capacity: the next insert of a new key grows the table.
        while map.len() < map.capacity() || map.capacity() == 0 {
            insert_new(&mut map, k, &mut grows);
            k += 1;
            inserts += 1;
        }
        let (len, cap, bytes) = (map.len(), map.capacity(), map.allocation_size());
        // The growth hashes the entries it moves: the second hash panics mid-move.
        HASH_TRAP.with(|c| c.set(2 + round));
        must_panic("insert that grows", || {
            map.insert(Key(1_000_000 + k), Val);
        });
        assert_eq!(
            (map.len(), map.capacity(), map.allocation_size()),
            (len, cap, bytes),
            "a panic while growing leaves the old table"
        );
        usable(&mut map, 2_000_000 + k, &mut grows);
        inserts += 1; // usable() inserted and removed one key
    }
    map.retain(|_, _| false);
    drop(map);
    dropped_exactly(line, inserts, grows);
}

/// Inserts a new key, adding one to `grows` if the table grew.
fn insert_new(map: &mut Map, k: u64, grows: &mut i128) {
    let before = map.allocation_size();
    assert!(map.insert(Key(k), Val).is_none());
    *grows += i128::from(before > 0 && map.allocation_size() > before);
}

/// Inserts and removes until the table is full of tombstones: `len == capacity`, with fewer
/// entries than half the table, so the next growth rehashes in place. Returns the inserts.
fn tombstoned(map: &mut Map, grows: &mut i128) -> i128 {
    let mut inserts = 0;
    let mut k = 0;
    while map.len() < 100 || map.len() < map.capacity() {
        insert_new(map, k, grows);
        k += 1;
        inserts += 1;
    }
    let full_capacity = map.capacity();
    // Keys 0..len sit in buckets 0..len: removing the middle of the run leaves tombstones.
    for i in 16..(full_capacity as u64 - 16) {
        map.remove(&Key(i));
    }
    // Tombstones still take room: fill the remaining free slots without growing.
    let mut next = 1_000_000;
    while map.len() < map.capacity() {
        insert_new(map, next, grows);
        next += 1;
        inserts += 1;
    }
    assert!(
        map.len() < full_capacity / 2,
        "the next insert rehashes in place"
    );
    inserts
}

#[test]
fn hash_panic_during_an_in_place_rehash_of_a_small_map_counts_the_lost_entries_as_removed() {
    setup();
    let line = line!() + 1;
    let mut map = Map::default();
    let mut grows = 0;
    let mut inserts = tombstoned(&mut map, &mut grows);
    let (len, bytes) = (map.len(), map.allocation_size());
    HASH_TRAP.with(|c| c.set(2));
    must_panic("insert that rehashes in place", || {
        map.insert(Key(1_000_000), Val);
    });
    assert_eq!(
        map.allocation_size(),
        bytes,
        "an in-place rehash keeps the allocation"
    );
    assert!(
        map.len() < len,
        "hashbrown drops the entries it had not rehashed"
    );
    usable(&mut map, 2_000_000, &mut grows);
    inserts += 1;
    // The site holds what the map holds now (the rehash published it).
    let [_, _, entries, site_bytes, ..] = site(line);
    assert_eq!((entries, site_bytes), (map.len() as i128, bytes as i128));
    map.clear();
    drop(map);
    dropped_exactly(line, inserts, grows);
}

#[test]
fn predicate_and_drop_panics_in_retain_and_clear_keep_a_small_maps_site_exact() {
    setup();
    let line = line!() + 1;
    let mut map = Map::default();
    let mut grows = 0;
    for k in 0..40 {
        insert_new(&mut map, k, &mut grows);
    }
    let mut seen = 0;
    must_panic("retain's predicate", || {
        map.retain(|_, _| {
            seen += 1;
            if seen == 10 {
                panic!("{PANIC_TAG} in the predicate");
            }
            false
        });
    });
    assert_eq!(
        map.len(),
        31,
        "the nine entries visited before the panic were removed"
    );
    DROP_TRAP.with(|c| c.set(5));
    must_panic("clear's drops", || map.clear());
    assert!(
        map.is_empty(),
        "clear empties the map even when a value's drop panics"
    );
    usable(&mut map, 1_000, &mut grows);
    let [_, _, entries, ..] = site(line);
    assert_eq!(entries, 0, "the bulk removals were published");
    drop(map);
    dropped_exactly(line, 41, grows);
}
