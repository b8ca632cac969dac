//! Runs N small-map lifecycles (create, insert 4 `u64` keys, drop), for instruction counting.
//!
//! `small_lifecycle mapgov|hashbrown|floor|mapgov-foldhash|hashbrown-foldhash|floor-foldhash N`
//! under `valgrind --tool=callgrind`; run two values of N and divide the difference by the
//! difference of N to get the instructions of one lifecycle (or time it: `N` = 20000000).
//!
//! `floor` is the least a map can do to keep its creation site's aggregates exact (see
//! [`Floor`]): what any design that accounts for every small map pays.

use std::cell::Cell;
use std::hash::BuildHasher;
use std::hint::black_box;
use std::panic::Location;

/// hashbrown's map with the least bookkeeping that keeps its creation site's totals exact: the
/// site (the caller's `Location`), the table bytes last published and an 8-bit insert counter
/// in the map; a publish to a per-thread slot when the table is first allocated, when it grows
/// and when the map is dropped. (mapgov's small maps do this and more: removes, updates, the
/// peak length, the entries held, flushing to the process's registry.)
struct Floor<S> {
    map: hashbrown::HashMap<u64, u64, S>,
    site: &'static Location<'static>,
    bytes: usize,
    inserts: u8,
}

impl<S: BuildHasher + Default> Floor<S> {
    #[track_caller]
    #[inline]
    fn new() -> Self {
        Floor {
            map: hashbrown::HashMap::with_hasher(S::default()),
            site: Location::caller(),
            bytes: 0,
            inserts: 0,
        }
    }

    #[inline(always)]
    fn insert(&mut self, k: u64, v: u64) {
        if self.map.len() == self.map.capacity() {
            self.grow();
        }
        if self.map.insert(k, v).is_none() {
            self.inserts += 1;
            if self.inserts == u8::MAX {
                publish(self.site, 0, 0, 0, self.inserts);
                self.inserts = 0;
            }
        }
    }

    #[cold]
    #[inline(never)]
    fn grow(&mut self) {
        self.map.reserve(1);
        let bytes = self.map.allocation_size();
        let created = i64::from(self.bytes == 0);
        publish(
            self.site,
            created,
            0,
            bytes as i64 - self.bytes as i64,
            self.inserts,
        );
        (self.bytes, self.inserts) = (bytes, 0);
    }
}

impl<S> Drop for Floor<S> {
    #[inline]
    fn drop(&mut self) {
        if self.bytes != 0 {
            publish(self.site, 0, 1, -(self.bytes as i64), self.inserts);
        }
    }
}

/// A site's pending changes on this thread.
#[derive(Clone, Copy, Default)]
struct Pending {
    site: usize,
    created: i64,
    dropped: i64,
    bytes: i64,
    inserts: i64,
}

thread_local! {
    static SLOTS: [Cell<Pending>; 8] = const {
        [const {
            Cell::new(Pending { site: 0, created: 0, dropped: 0, bytes: 0, inserts: 0 })
        }; 8]
    };
    static EVENTS: Cell<u32> = const { Cell::new(0) };
}

/// Adds a change to the thread's slot for `site` (direct-mapped by address; a site that finds
/// its slot taken sends the other site's changes on first, here simply dropped).
#[inline(never)]
fn publish(site: &'static Location<'static>, created: i64, dropped: i64, bytes: i64, inserts: u8) {
    let addr = site as *const Location<'static> as usize;
    SLOTS.with(|slots| {
        let slot = &slots[(addr >> 4) % 8];
        let mut p = slot.get();
        if p.site != addr {
            p = Pending {
                site: addr,
                ..Pending::default()
            };
        }
        p.created += created;
        p.dropped += dropped;
        p.bytes += bytes;
        p.inserts += i64::from(inserts);
        slot.set(p);
    });
    EVENTS.with(|e| {
        let n = e.get() + 1;
        e.set(if n == 256 { black_box(0) } else { n });
    });
}

fn main() {
    let mut args = std::env::args().skip(1);
    let which = args.next().unwrap_or_else(|| "mapgov".to_owned());
    let n: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(1000);
    match which.as_str() {
        "mapgov" => {
            for i in 0..n {
                let mut m: mapgov::HashMap<u64, u64> = mapgov::HashMap::new();
                for j in 0..4 {
                    m.insert(black_box(i * 4 + j), j);
                }
                black_box(&m);
            }
        }
        "hashbrown" => {
            for i in 0..n {
                let mut m: hashbrown::HashMap<u64, u64, std::hash::RandomState> =
                    hashbrown::HashMap::default();
                for j in 0..4 {
                    m.insert(black_box(i * 4 + j), j);
                }
                black_box(&m);
            }
        }
        "mapgov-foldhash" => {
            for i in 0..n {
                let mut m: mapgov::HashMap<u64, u64, foldhash::fast::RandomState> =
                    mapgov::HashMap::default();
                for j in 0..4 {
                    m.insert(black_box(i * 4 + j), j);
                }
                black_box(&m);
            }
        }
        "hashbrown-foldhash" => {
            for i in 0..n {
                let mut m: hashbrown::HashMap<u64, u64, foldhash::fast::RandomState> =
                    hashbrown::HashMap::default();
                for j in 0..4 {
                    m.insert(black_box(i * 4 + j), j);
                }
                black_box(&m);
            }
        }
        "floor" => {
            for i in 0..n {
                let mut m: Floor<std::hash::RandomState> = Floor::new();
                for j in 0..4 {
                    m.insert(black_box(i * 4 + j), j);
                }
                black_box(&m);
            }
        }
        "floor-foldhash" => {
            for i in 0..n {
                let mut m: Floor<foldhash::fast::RandomState> = Floor::new();
                for j in 0..4 {
                    m.insert(black_box(i * 4 + j), j);
                }
                black_box(&m);
            }
        }
        other => {
            eprintln!(
                "unknown map {other:?}: use mapgov, hashbrown, floor, mapgov-foldhash, \
                 hashbrown-foldhash or floor-foldhash"
            );
            std::process::exit(2);
        }
    }
}
