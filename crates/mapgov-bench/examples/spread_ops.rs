//! What a map's run-time off switch costs where the compiler cannot test it once per loop:
//! the 4K cache-resident get hit and insert after clear, on one map (`mapbench`'s loops) and
//! spread over 16 maps of 256 keys, each operation on a map picked at random.
//!
//! ```sh
//! cargo run --release -p mapgov-bench --example spread_ops             # mapgov as configured
//! MAPGOV=off cargo run --release -p mapgov-bench --example spread_ops  # governance off
//! ```
//!
//! In `mapbench`'s lookup loop one map is read through a shared reference, so a flag the map
//! holds cannot change during the loop: LLVM may test it once before the loop and run a copy
//! of the loop without the test (loop unswitching). It does so for `SwitchFloor` (hashbrown's
//! map behind a test of an off flag in every operation), which then meets the `MAPGOV=off`
//! targets on the cache rows where mapgov's map misses them. A service spreads its operations
//! over many maps; there each operation reads its own map's flag and no test can leave the
//! loop. This example times both shapes in one process, the maps interleaved (first one
//! rotating) over 15 repetitions:
//!
//! - `hashbrown`: hashbrown's map, the baseline;
//! - `A/A`: hashbrown's map again under another type (`Control`): the harness's own error;
//! - `floor`: `SwitchFloor`, switched off (it never reads `MAPGOV`);
//! - `mapgov`: `mapgov::HashMap` in this process's configuration.
//!
//! Each row gives hashbrown's median ns per operation and each map's ratio of medians to it.
//! The insert rows time clearing the maps (which keeps their tables) and inserting every key,
//! as `mapbench`'s "4K insert after clear" does.

use std::hint::black_box;
use std::time::Instant;

use mapgov_bench::{BenchHasher, BenchMap, Control, SplitMix64, SwitchFloor, lookup_sum};

/// Keys in all: the size of `mapbench`'s cache-resident map.
const KEYS: usize = 4096;
/// The maps the spread shape uses (each holds `KEYS / MAPS` keys).
const MAPS: usize = 16;
/// Passes over every key per sample (lookups; inserts use a tenth of this).
const PASSES: usize = 2000;
const REPS: usize = 15;

/// The maps compared, in report order.
const NAMES: [&str; 4] = ["hashbrown", "A/A", "floor", "mapgov"];

/// Sums the values found for `ops` (map index, key) in `maps`: the spread get loop.
#[inline(never)]
fn spread_lookup_sum<S: BenchHasher, M: BenchMap<S>>(maps: &[M], ops: &[(usize, u64)]) -> u64 {
    let mut sum = 0u64;
    for &(i, k) in ops {
        if let Some(v) = maps[i].find(k) {
            sum = sum.wrapping_add(v);
        }
    }
    sum
}

/// Inserts every key into one map (`mapbench`'s insert loop).
#[inline(never)]
fn insert_all<S: BenchHasher, M: BenchMap<S>>(m: &mut M, keys: &[u64]) {
    for &k in keys {
        m.put(k, k);
    }
}

/// Inserts each of `ops` (map index, key) into its map: the spread insert loop.
#[inline(never)]
fn spread_insert<S: BenchHasher, M: BenchMap<S>>(maps: &mut [M], ops: &[(usize, u64)]) {
    for &(i, k) in ops {
        maps[i].put(k, k);
    }
}

/// The keys, and the same keys in a random order, each with the map it belongs to.
struct Inputs {
    keys: Vec<u64>,
    spread: Vec<(usize, u64)>,
    sum: u64,
}

impl Inputs {
    fn new() -> Inputs {
        let mut rng = SplitMix64::new(0x7370_7265);
        let keys = rng.keys(KEYS);
        let pairs: Vec<(usize, u64)> = keys
            .iter()
            .enumerate()
            .map(|(i, &k)| (i % MAPS, k))
            .collect();
        let spread = rng.shuffled(&pairs);
        let sum = mapgov_bench::wrapping_sum(&keys);
        Inputs { keys, spread, sum }
    }
}

/// One map's four timings (ns per operation): one-map get, spread get, one-map insert, spread
/// insert.
fn time_map<S: BenchHasher, M: BenchMap<S>>(d: &Inputs) -> [f64; 4] {
    let mut one = M::new_map();
    insert_all(&mut one, &d.keys);
    let mut many: Vec<M> = (0..MAPS).map(|_| M::new_map()).collect();
    spread_insert(&mut many, &d.spread);

    let per_op = |t: Instant, passes: usize| t.elapsed().as_nanos() as f64 / (passes * KEYS) as f64;
    let mut out = [0.0; 4];

    let t = Instant::now();
    let mut sum = 0u64;
    for _ in 0..PASSES {
        sum = sum.wrapping_add(lookup_sum(black_box(&one), &d.keys));
    }
    out[0] = per_op(t, PASSES);
    assert_eq!(
        sum,
        d.sum.wrapping_mul(PASSES as u64),
        "a one-map lookup missed"
    );

    let t = Instant::now();
    let mut sum = 0u64;
    for _ in 0..PASSES {
        sum = sum.wrapping_add(spread_lookup_sum(black_box(&many[..]), &d.spread));
    }
    out[1] = per_op(t, PASSES);
    assert_eq!(
        sum,
        d.sum.wrapping_mul(PASSES as u64),
        "a spread lookup missed"
    );

    let inserts = PASSES / 10;
    let t = Instant::now();
    for _ in 0..inserts {
        one.wipe();
        insert_all(&mut one, &d.keys);
        black_box(&mut one);
    }
    out[2] = per_op(t, inserts);
    assert_eq!(one.size(), KEYS, "the one map refilled");

    let t = Instant::now();
    for _ in 0..inserts {
        for m in &mut many {
            m.wipe();
        }
        spread_insert(&mut many, &d.spread);
        black_box(&mut many);
    }
    out[3] = per_op(t, inserts);
    assert_eq!(
        many.iter().map(M::size).sum::<usize>(),
        KEYS,
        "the maps refilled"
    );
    out
}

/// Each map's median of each timing over `REPS` interleaved repetitions, after a warm-up.
fn measure<S: BenchHasher>() -> Vec<[f64; 4]> {
    let d = Inputs::new();
    let run = |which: usize| match which {
        0 => time_map::<S, hashbrown::HashMap<u64, u64, S>>(&d),
        1 => time_map::<S, Control<S>>(&d),
        2 => time_map::<S, SwitchFloor<S>>(&d),
        _ => time_map::<S, mapgov::HashMap<u64, u64, S>>(&d),
    };
    for which in 0..NAMES.len() {
        run(which); // warm up
    }
    let mut samples = vec![Vec::new(); NAMES.len()];
    for rep in 0..REPS {
        for i in 0..NAMES.len() {
            let which = (i + rep) % NAMES.len();
            samples[which].push(run(which));
        }
    }
    samples
        .into_iter()
        .map(|mut s: Vec<[f64; 4]>| {
            let mut medians = [0.0; 4];
            for (col, median) in medians.iter_mut().enumerate() {
                s.sort_by(|a, b| a[col].total_cmp(&b[col]));
                *median = s[s.len() / 2][col];
            }
            medians
        })
        .collect()
}

fn print(hasher: &str, medians: &[[f64; 4]]) {
    const ROWS: [&str; 4] = [
        "get hit, one map",
        "get hit, 16 maps",
        "insert after clear, one map",
        "insert after clear, 16 maps",
    ];
    println!("{hasher}");
    println!(
        "  {:<28} {:>9} {:>7} {:>7} {:>7}",
        "4K keys", "hashbrown", NAMES[1], NAMES[2], NAMES[3]
    );
    for (col, row) in ROWS.iter().enumerate() {
        let base = medians[0][col];
        println!(
            "  {row:<28} {base:>6.2} ns {:>7.3} {:>7.3} {:>7.3}",
            medians[1][col] / base,
            medians[2][col] / base,
            medians[3][col] / base
        );
    }
}

fn main() {
    let config = mapgov::current_config();
    println!(
        "mapgov: governance {}; medians of {REPS} interleaved repetitions, ratios to hashbrown",
        if config.is_enabled() { "on" } else { "off" },
    );
    print("foldhash", &measure::<foldhash::fast::RandomState>());
    print("std RandomState", &measure::<std::hash::RandomState>());
}
