//! Small-map lifecycles (create, insert 4 `u64` keys, drop) of hashbrown's map, mapgov's and
//! the [`Floor`] between them.
//!
//! - `small_lifecycle compare`: times 2M lifecycles of each map, interleaved in this process
//!   (15 repetitions, the first map rotating), and prints each one's median ns per lifecycle
//!   and its ratio to hashbrown's with the same hasher.
//! - `small_lifecycle mapgov|hashbrown|floor|mapgov-foldhash|hashbrown-foldhash|floor-foldhash N`
//!   runs N lifecycles of one map: under `valgrind --tool=callgrind`, run two values of N and
//!   divide the difference by the difference of N to get the instructions of one lifecycle.
//!
//! `floor` is the least a map can do to keep its creation site's aggregates exact (see
//! [`Floor`]): what any design that accounts for every small map pays.

use std::cell::Cell;
use std::hash::BuildHasher;
use std::hint::black_box;
use std::panic::Location;
use std::time::Instant;

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

/// A map a lifecycle can be run on.
trait Lifecycle {
    fn create() -> Self;
    fn put(&mut self, k: u64, v: u64);
}

impl<S: BuildHasher + Default> Lifecycle for hashbrown::HashMap<u64, u64, S> {
    #[inline(always)]
    fn create() -> Self {
        hashbrown::HashMap::with_hasher(S::default())
    }
    #[inline(always)]
    fn put(&mut self, k: u64, v: u64) {
        self.insert(k, v);
    }
}

impl<S: BuildHasher + Default> Lifecycle for mapgov::HashMap<u64, u64, S> {
    // `track_caller`, so that every map is created at one site (the caller's), as with
    // `mapgov::HashMap::with_hasher` written in the loop.
    #[inline(always)]
    #[track_caller]
    fn create() -> Self {
        mapgov::HashMap::with_hasher(S::default())
    }
    #[inline(always)]
    fn put(&mut self, k: u64, v: u64) {
        self.insert(k, v);
    }
}

impl<S: BuildHasher + Default> Lifecycle for Floor<S> {
    #[inline(always)]
    #[track_caller]
    fn create() -> Self {
        Floor::new()
    }
    #[inline(always)]
    fn put(&mut self, k: u64, v: u64) {
        self.insert(k, v);
    }
}

/// Runs `n` lifecycles of `M`: create, insert 4 keys, drop.
#[inline(never)]
fn lifecycles<M: Lifecycle>(n: u64) {
    for i in 0..n {
        let mut m = M::create();
        for j in 0..4 {
            m.put(black_box(i * 4 + j), j);
        }
        black_box(&m);
    }
}

/// A map's name and the function running N lifecycles of it.
type Named = (&'static str, fn(u64));

/// The maps, by name.
const MAPS: [Named; 6] = [
    (
        "hashbrown",
        lifecycles::<hashbrown::HashMap<u64, u64, std::hash::RandomState>>,
    ),
    ("floor", lifecycles::<Floor<std::hash::RandomState>>),
    (
        "mapgov",
        lifecycles::<mapgov::HashMap<u64, u64, std::hash::RandomState>>,
    ),
    (
        "hashbrown-foldhash",
        lifecycles::<hashbrown::HashMap<u64, u64, foldhash::fast::RandomState>>,
    ),
    (
        "floor-foldhash",
        lifecycles::<Floor<foldhash::fast::RandomState>>,
    ),
    (
        "mapgov-foldhash",
        lifecycles::<mapgov::HashMap<u64, u64, foldhash::fast::RandomState>>,
    ),
];

/// Lifecycles per timed sample, and samples per map.
const PER_SAMPLE: u64 = 2_000_000;
const REPS: usize = 15;

/// Times `maps` (hashbrown's first) interleaved, the first one rotating, and prints each
/// one's median ns per lifecycle and its ratio to the first's.
fn compare(title: &str, maps: &[Named]) {
    let time = |run: fn(u64)| {
        let start = Instant::now();
        run(PER_SAMPLE);
        start.elapsed().as_nanos() as f64 / PER_SAMPLE as f64
    };
    for &(_, run) in maps {
        time(run); // warm up
    }
    let mut samples = vec![Vec::new(); maps.len()];
    for rep in 0..REPS {
        for i in 0..maps.len() {
            let j = (i + rep) % maps.len();
            samples[j].push(time(maps[j].1));
        }
    }
    let medians: Vec<f64> = samples
        .into_iter()
        .map(|mut s| {
            s.sort_by(f64::total_cmp);
            s[s.len() / 2]
        })
        .collect();
    println!("{title}: median ns per lifecycle over {REPS} interleaved repetitions");
    for (&(name, _), ns) in maps.iter().zip(&medians) {
        println!("  {name:<20} {ns:7.1} ns  {:.3}", ns / medians[0]);
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let which = args.next().unwrap_or_else(|| "mapgov".to_owned());
    if which == "compare" {
        compare("std RandomState", &MAPS[..3]);
        compare("foldhash", &MAPS[3..]);
        return;
    }
    let n: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(1000);
    match MAPS.iter().find(|(name, _)| *name == which) {
        Some((_, run)) => run(n),
        None => {
            let names: Vec<&str> = MAPS.iter().map(|(name, _)| *name).collect();
            eprintln!(
                "unknown map {which:?}: use compare or one of {}",
                names.join(", ")
            );
            std::process::exit(2);
        }
    }
}
