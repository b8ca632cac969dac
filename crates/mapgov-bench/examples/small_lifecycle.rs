//! Small-map lifecycles (create, insert 4 `u64` keys, drop) of hashbrown's map, mapgov's and
//! the [`SmallFloor`] between them.
//!
//! - `small_lifecycle compare`: times 2M lifecycles of each map, interleaved in this process
//!   (15 repetitions, the first map rotating), and prints each one's median ns per lifecycle
//!   and its ratio to hashbrown's with the same hasher: first in this file's own loop, then in
//!   `mapbench`'s ([`small_lifecycles`]: the loop the target row times, compiled in the bench
//!   library and reaching each map through its `BenchMap` trait).
//! - `small_lifecycle [mapbench:]NAME N`, with NAME one of `mapgov`, `hashbrown`, `floor`,
//!   `mapgov-foldhash`, `hashbrown-foldhash`, `floor-foldhash`: runs N lifecycles of one map,
//!   in this file's loop or, with `mapbench:`, in `mapbench`'s. Under
//!   `valgrind --tool=callgrind`, run two values of N and divide the difference by the
//!   difference of N to get the instructions of one lifecycle.
//!
//! `floor` is the least a map can do to keep its creation site's aggregates exact (see
//! [`SmallFloor`]): what any design that accounts for every small map pays.

use std::hash::BuildHasher;
use std::hint::black_box;
use std::time::Instant;

use mapgov_bench::{BenchHasher, HasherKind, SmallFloor, SmallMap, SplitMix64, small_lifecycles};

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

impl<S: BenchHasher> Lifecycle for SmallFloor<S> {
    #[inline(always)]
    #[track_caller]
    fn create() -> Self {
        SmallFloor::new()
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
    ("floor", lifecycles::<SmallFloor<std::hash::RandomState>>),
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
        lifecycles::<SmallFloor<foldhash::fast::RandomState>>,
    ),
    (
        "mapgov-foldhash",
        lifecycles::<mapgov::HashMap<u64, u64, foldhash::fast::RandomState>>,
    ),
];

/// 4096 keys, as many as `mapbench`'s small-map pool holds (drawn here from another seed).
fn pool() -> &'static [u64] {
    static POOL: std::sync::OnceLock<Vec<u64>> = std::sync::OnceLock::new();
    // The seed spells "small".
    POOL.get_or_init(|| SplitMix64::new(0x0073_6d61_6c6c).keys(4096))
}

/// The maps again, in `mapbench`'s loop ([`small_lifecycles`]: compiled in the bench library,
/// as `mapbench`'s loops are).
const MAPBENCH_LOOP: [Named; 6] = [
    ("hashbrown", |n| {
        small_lifecycles(SmallMap::Hashbrown, HasherKind::Std, n as usize, pool());
    }),
    ("floor", |n| {
        small_lifecycles(SmallMap::Floor, HasherKind::Std, n as usize, pool());
    }),
    ("mapgov", |n| {
        small_lifecycles(SmallMap::Mapgov, HasherKind::Std, n as usize, pool());
    }),
    ("hashbrown-foldhash", |n| {
        small_lifecycles(
            SmallMap::Hashbrown,
            HasherKind::Foldhash,
            n as usize,
            pool(),
        );
    }),
    ("floor-foldhash", |n| {
        small_lifecycles(SmallMap::Floor, HasherKind::Foldhash, n as usize, pool());
    }),
    ("mapgov-foldhash", |n| {
        small_lifecycles(SmallMap::Mapgov, HasherKind::Foldhash, n as usize, pool());
    }),
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
        compare("std RandomState, this file's loop", &MAPS[..3]);
        compare("foldhash, this file's loop", &MAPS[3..]);
        compare("std RandomState, mapbench's loop", &MAPBENCH_LOOP[..3]);
        compare("foldhash, mapbench's loop", &MAPBENCH_LOOP[3..]);
        return;
    }
    let n: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(1000);
    // `NAME` runs this file's loop, `mapbench:NAME` mapbench's.
    let (maps, name) = match which.strip_prefix("mapbench:") {
        Some(name) => (&MAPBENCH_LOOP, name),
        None => (&MAPS, which.as_str()),
    };
    match maps.iter().find(|(map, _)| *map == name) {
        Some((_, run)) => run(n),
        None => {
            let names: Vec<&str> = MAPS.iter().map(|(name, _)| *name).collect();
            eprintln!(
                "unknown map {which:?}: use compare, or one of {} (this file's loop), each \
                 also as mapbench:NAME (mapbench's loop)",
                names.join(", ")
            );
            std::process::exit(2);
        }
    }
}
