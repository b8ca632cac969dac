//! `SplitMap::allocation_size()` against an independent observer: a counting global allocator.
//!
//! The allocator counts, for the current thread and only while recording, the bytes allocated
//! minus the bytes freed. Everything a split map allocates after its first insert is its own:
//! its tables, its directory and its table list. Governance allocates only on the cold path
//! before that point (the stats cell, the site, the registry slot of a tracked map, the event
//! ring), so each test names its map and inserts once before recording (and warms the event
//! ring up with another map). From then on, the bytes the allocator sees the map hold must
//! equal what `allocation_size()` (and `stats().allocated_bytes`) report, after every operation,
//! and dropping the map must free exactly `allocation_size()` bytes plus its stats cell.

use std::cell::Cell;
use std::hash::BuildHasherDefault;
use std::hash::DefaultHasher;
use std::sync::Once;

use mapgov::{Config, SplitMap};

#[path = "support/reporting_alloc.rs"]
mod reporting_alloc;
use reporting_alloc::{AllocEvent, Reporting};

// ---------------------------------------------------------------------------------------------
// The observer
// ---------------------------------------------------------------------------------------------

thread_local! {
    static RECORDING: Cell<bool> = const { Cell::new(false) };
    /// Bytes allocated minus bytes freed on this thread while recording.
    static NET: Cell<i64> = const { Cell::new(0) };
}

/// Adds what `event` allocated (or, negative, freed) to this thread's count if it is recording.
/// Never allocates.
fn count(event: AllocEvent) {
    if RECORDING.try_with(Cell::get).unwrap_or(false) {
        let bytes = match event {
            AllocEvent::Alloc { size, .. } => size as i64,
            AllocEvent::Dealloc { size, .. } => -(size as i64),
            AllocEvent::Realloc { old, new, .. } => new as i64 - old as i64,
        };
        let _ = NET.try_with(|n| n.set(n.get() + bytes));
    }
}

/// Forwards to `System`, counting what it does.
#[global_allocator]
static GLOBAL: Reporting = Reporting(count);

/// Starts counting this thread's allocations from zero.
fn start() {
    NET.with(|n| n.set(0));
    RECORDING.with(|r| r.set(true));
}

fn stop() {
    RECORDING.with(|r| r.set(false));
}

fn net() -> i64 {
    NET.with(Cell::get)
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

type Fixed = BuildHasherDefault<DefaultHasher>;
type Map = SplitMap<u64, u64, Fixed>;

fn setup() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = Config::from_env().track_min_bytes(0).install();
    });
    assert!(mapgov::current_config().is_enabled());
    assert_eq!(mapgov::current_config().get_track_min_bytes(), 0);
}

/// A named map with tables of at most `buckets` buckets that has made its first insert (and
/// so all of its governance allocations); another map warmed the event ring up first.
fn ready(buckets: usize, name: &str) -> Map {
    let mut warm = Map::with_hasher(Fixed::default())
        .with_table_max_buckets(16)
        .named(&format!("{name}-warmup"));
    for k in 0..100 {
        warm.insert(k, k);
    }
    warm.shrink_to_fit();
    drop(warm);
    let mut m = Map::with_hasher(Fixed::default())
        .with_table_max_buckets(buckets)
        .named(name);
    m.insert(0, 0);
    m
}

/// Checks, after each step, that the bytes the allocator saw the map take since recording
/// started equal the change in `allocation_size()`.
struct Observed {
    base: i64,
}

impl Observed {
    fn start(m: &Map) -> Observed {
        start();
        Observed {
            base: m.allocation_size() as i64,
        }
    }

    fn step(&self, m: &mut Map, what: &str, op: impl FnOnce(&mut Map)) {
        op(m);
        let seen = net();
        stop();
        assert_eq!(
            seen,
            m.allocation_size() as i64 - self.base,
            "{what}: heap bytes held vs allocation_size() ({} tables)",
            m.tables()
        );
        assert_eq!(
            m.stats().expect("named").allocated_bytes,
            m.allocation_size() as u64,
            "{what}: stats().allocated_bytes"
        );
        m.check_invariants();
        RECORDING.with(|r| r.set(true));
    }
}

#[test]
fn allocation_size_is_the_heap_the_map_holds_through_splits_merges_and_shrinks() {
    setup();
    let mut m = ready(16, "split-alloc/lifecycle");
    let o = Observed::start(&m);
    for k in 1..3000 {
        o.step(&mut m, "insert", |m| {
            m.insert(k, k);
        });
    }
    assert!(m.tables() > 200);
    o.step(&mut m, "retain", |m| m.retain(|k, _| k % 40 == 0));
    o.step(&mut m, "shrink_to_fit", Map::shrink_to_fit);
    o.step(&mut m, "reserve", |m| m.reserve(5000));
    o.step(&mut m, "inserts after reserve", |m| {
        for k in 0..5000 {
            m.insert(k, k);
        }
    });
    o.step(&mut m, "extract_if", |m| {
        let _ = m.extract_if(|k, _| k % 3 == 0).take(100).count();
    });
    o.step(&mut m, "shrink_to", |m| m.shrink_to(4000));
    o.step(&mut m, "entry", |m| {
        for k in 10_000..12_000 {
            *m.entry(k).or_insert(0) += 1;
        }
    });
    o.step(&mut m, "drain", |m| {
        let _ = m.drain().take(10).count();
    });
    o.step(&mut m, "inserts after drain", |m| {
        for k in 0..100 {
            m.insert(k, k);
        }
    });
    o.step(&mut m, "clear", Map::clear);
    o.step(&mut m, "shrink_to_fit of an empty map", Map::shrink_to_fit);
    assert_eq!(m.allocation_size(), 0);
    o.step(&mut m, "insert after freeing", |m| {
        m.insert(1, 1);
    });
    o.step(&mut m, "try_reserve", |m| {
        m.try_reserve(100).expect("room");
    });
    stop();
}

#[test]
fn allocation_size_is_the_heap_held_at_the_default_table_limit() {
    setup();
    let mut m = ready(mapgov::split_map::TABLE_MAX_BUCKETS, "split-alloc/default");
    let o = Observed::start(&m);
    o.step(&mut m, "inserts up to the first split", |m| {
        for k in 1..=mapgov::split_map::TABLE_MAX_ENTRIES as u64 {
            m.insert(k, k);
        }
    });
    assert_eq!(m.tables(), 2);
    o.step(&mut m, "reserve", |m| m.reserve(100_000));
    o.step(&mut m, "shrink_to_fit", Map::shrink_to_fit);
    stop();
}

/// Bytes freed on this thread while dropping `m`.
fn freed_by_drop(m: Map) -> i64 {
    start();
    drop(m);
    let freed = -net();
    stop();
    freed
}

#[test]
fn dropping_a_map_frees_exactly_its_allocation_size_and_its_stats_cell() {
    setup();
    // What governance frees when it retires a tracked map (its stats cell): the bytes a small
    // map frees beyond its own allocation.
    let small = ready(8, "split-alloc/drop-small");
    let small_bytes = small.allocation_size() as i64;
    let cell = freed_by_drop(small) - small_bytes;
    assert!(cell >= 0);
    let mut m = ready(8, "split-alloc/drop");
    for k in 1..2000 {
        m.insert(k, k);
    }
    assert!(m.tables() > 200);
    let bytes = m.allocation_size() as i64;
    assert_eq!(
        freed_by_drop(m),
        bytes + cell,
        "allocation_size() {bytes}, stats cell {cell}"
    );
}
