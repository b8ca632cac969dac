//! What counting lookups through `&self` costs at least: get-hit loops over a 4K cache-resident
//! map and a 1M map with hashbrown's map, then the same map with each half of what counting
//! needs added by hand, then mapgov's map.
//!
//! ```sh
//! cargo run --release -p mapgov-bench --example lookup_floor             # mapgov as configured
//! MAPGOV=off cargo run --release -p mapgov-bench --example lookup_floor  # governance off
//! ```
//!
//! A map that counts its lookups without a write to shared memory on each (which would make two
//! threads reading one map fight over a cache line) has to decide, per lookup, whether this one
//! is counted, and then count the rare ones somewhere. The variants:
//!
//! - `hashbrown`: the baseline.
//! - `+ countdown`: a thread-local countdown decremented on every lookup and reset inline when
//!   it runs out (the cheapest per-thread decision; it counts nothing).
//! - `+ cold call`: a never-taken branch to an out-of-line function that could write anywhere
//!   (the rare path's call; it is never made).
//! - `+ both`: the countdown, and the call when it runs out: a minimal sampled counter.
//! - `mapgov`: `mapgov::HashMap` in this process's configuration.
//!
//! Each variant runs interleaved with the others; the table gives each one's median ns per
//! lookup and its ratio to hashbrown's.
//!
//! Last, removing every key of a 1M map with each hasher: hashbrown's map; the same with the least
//! a governed map must do on each remove (`+ counter`: one single-writer relaxed counter in a
//! separate shared cell, where readers of a snapshot can see it); that and a shrink policy
//! (`+ policy`: the length compared with a watermark kept in that cell, and an out-of-line call
//! that may shrink the map when it falls below); and mapgov's map. (With std's hasher, how
//! LLVM compiles the remove loop has moved these rows as much as what they add: before every
//! loop was aligned, SipHash's state spilled to the stack with the counter live across the
//! loop, and the counter alone read about 1.3; at ea5599a it reads 0.99-1.02.)

use std::cell::Cell;
use std::hash::BuildHasher;
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Instant;

use mapgov_bench::{BenchHasher, BenchMap, SplitMix64};

/// The two maps: (keys, passes over them per sample).
const SIZES: [(usize, usize); 2] = [(4096, 2000), (1 << 20, 8)];
const REPS: usize = 15;

thread_local! {
    static COUNTDOWN: Cell<u32> = const { Cell::new(1024) };
}

/// Where the rare path counts.
static SAMPLED: AtomicU64 = AtomicU64::new(0);

/// The rare path: out of line, so the compiler must assume it writes anywhere.
#[cold]
#[inline(never)]
fn sample(hit: bool) {
    SAMPLED.fetch_add(u64::from(hit) + 1, Relaxed);
    black_box(hit);
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Variant {
    Hashbrown,
    Countdown,
    ColdCall,
    Both,
    Mapgov,
}

const VARIANTS: [Variant; 5] = [
    Variant::Hashbrown,
    Variant::Countdown,
    Variant::ColdCall,
    Variant::Both,
    Variant::Mapgov,
];

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::Hashbrown => "hashbrown",
            Variant::Countdown => "+ countdown",
            Variant::ColdCall => "+ cold call",
            Variant::Both => "+ both",
            Variant::Mapgov => "mapgov",
        }
    }
}

/// The decrement every counted lookup pays; whether it ran out (then reset).
#[inline(always)]
fn countdown_ran_out() -> bool {
    COUNTDOWN.with(|c| {
        let left = c.get().wrapping_sub(1);
        if left == 0 {
            c.set(1024);
            true
        } else {
            c.set(left);
            false
        }
    })
}

/// `get` on hashbrown's map or mapgov's, for [`plain_loop`].
trait Get {
    fn get_value(&self, k: &u64) -> Option<&u64>;
}

impl<S: BuildHasher> Get for hashbrown::HashMap<u64, u64, S> {
    #[inline(always)]
    fn get_value(&self, k: &u64) -> Option<&u64> {
        self.get(k)
    }
}

impl<S: BuildHasher> Get for mapgov::HashMap<u64, u64, S> {
    #[inline(always)]
    fn get_value(&self, k: &u64) -> Option<&u64> {
        self.get(k)
    }
}

/// The baseline loop, for hashbrown's map and mapgov's: written here beside the variants so
/// that all of them are compiled alike. (`mapgov_bench::lookup_sum`, which `mapbench` times,
/// reaches the map through its `BenchMap` trait; with std's hasher, LLVM then keeps SipHash
/// out of line for both maps there, while it inlines it into the loops of this file: the two
/// shapes differ by 1.6x in this example, so they must not be compared.)
#[inline(never)]
fn plain_loop<M: Get>(m: &M, keys: &[u64]) -> u64 {
    let mut sum = 0u64;
    for &k in keys {
        if let Some(v) = m.get_value(&k) {
            sum = sum.wrapping_add(*v);
        }
    }
    sum
}

#[inline(never)]
fn countdown_loop<S: BuildHasher>(m: &hashbrown::HashMap<u64, u64, S>, keys: &[u64]) -> u64 {
    let (mut sum, mut ran_out) = (0u64, 0u64);
    for &k in keys {
        let r = m.get(&k);
        ran_out += u64::from(countdown_ran_out());
        if let Some(v) = r {
            sum = sum.wrapping_add(*v);
        }
    }
    black_box(ran_out);
    sum
}

#[inline(never)]
fn cold_call_loop<S: BuildHasher>(m: &hashbrown::HashMap<u64, u64, S>, keys: &[u64]) -> u64 {
    let mut sum = 0u64;
    for &k in keys {
        let r = m.get(&k);
        // Never taken (no value is u64::MAX), but the compiler cannot know.
        if r.is_some_and(|v| *v == u64::MAX) {
            sample(true);
        }
        if let Some(v) = r {
            sum = sum.wrapping_add(*v);
        }
    }
    sum
}

#[inline(never)]
fn both_loop<S: BuildHasher>(m: &hashbrown::HashMap<u64, u64, S>, keys: &[u64]) -> u64 {
    let mut sum = 0u64;
    for &k in keys {
        let r = m.get(&k);
        if countdown_ran_out() {
            sample(r.is_some());
        }
        if let Some(v) = r {
            sum = sum.wrapping_add(*v);
        }
    }
    sum
}

/// Median ns per lookup of each variant on a map of `n` keys (`passes` over them per sample),
/// interleaved over `REPS` repetitions.
fn measure<S: BenchHasher>(n: usize, passes: usize) -> Vec<(Variant, f64)> {
    let keys = SplitMix64::new(0x6c6f_6f6b).keys(n);
    let mut hb: hashbrown::HashMap<u64, u64, S> = hashbrown::HashMap::with_hasher(S::default());
    let mut gov: mapgov::HashMap<u64, u64, S> = mapgov::HashMap::with_hasher(S::default());
    for (i, &k) in keys.iter().enumerate() {
        hb.insert(k, i as u64);
        gov.insert(k, i as u64);
    }
    let expected: u64 = (0..n as u64).sum();
    let run = |v: Variant| {
        let start = Instant::now();
        for _ in 0..passes {
            let keys = black_box(&keys[..]);
            let sum = match v {
                Variant::Hashbrown => plain_loop(black_box(&hb), keys),
                Variant::Countdown => countdown_loop(black_box(&hb), keys),
                Variant::ColdCall => cold_call_loop(black_box(&hb), keys),
                Variant::Both => both_loop(black_box(&hb), keys),
                Variant::Mapgov => plain_loop(black_box(&gov), keys),
            };
            assert_eq!(sum, expected, "{} missed a key", v.name());
        }
        start.elapsed().as_nanos() as f64 / (passes * n) as f64
    };
    medians(&VARIANTS, run)
}

/// Each of `variants`' median of `run` over `REPS` repetitions after one warm-up, the
/// variants interleaved with the first one rotating (as mapbench does).
fn medians<T: Copy>(variants: &[T], mut run: impl FnMut(T) -> f64) -> Vec<(T, f64)> {
    for &v in variants {
        run(v); // warm up
    }
    let mut samples = vec![Vec::new(); variants.len()];
    for rep in 0..REPS {
        for i in 0..variants.len() {
            let j = (i + rep) % variants.len();
            samples[j].push(run(variants[j]));
        }
    }
    variants
        .iter()
        .zip(samples)
        .map(|(&v, mut s)| {
            s.sort_by(f64::total_cmp);
            (v, s[s.len() / 2])
        })
        .collect()
}

/// hashbrown's map with a cell a snapshot could read: a removal counter and a watermark.
struct Counted<S> {
    map: hashbrown::HashMap<u64, u64, S>,
    cell: std::sync::Arc<SharedCell>,
}

/// The shared cell: a removal counter, and the length under which the map shrinks.
#[derive(Default)]
struct SharedCell {
    removes: AtomicU64,
    shrink_below: AtomicU64,
}

/// The shrink policy's rare path: out of line, with the whole map.
#[cold]
#[inline(never)]
fn shrink_cold<S: BuildHasher>(m: &mut Counted<S>) {
    let len = m.map.len();
    m.map.shrink_to(len);
    m.cell.shrink_below.store(len as u64 / 4, Relaxed);
}

/// A plain remove loop over any of the maps.
#[inline(never)]
fn remove_loop<S: BenchHasher, M: BenchMap<S>>(m: &mut M, keys: &[u64]) -> u64 {
    let mut sum = 0u64;
    for &k in keys {
        if let Some(v) = m.take(k) {
            sum = sum.wrapping_add(v);
        }
    }
    sum
}

#[inline(never)]
fn remove_counted<S: BuildHasher>(m: &mut Counted<S>, keys: &[u64]) -> u64 {
    let mut sum = 0u64;
    for &k in keys {
        if let Some(v) = m.map.remove(&k) {
            // Single writer: a relaxed load and store, no read-modify-write.
            let removes = &m.cell.removes;
            removes.store(removes.load(Relaxed) + 1, Relaxed);
            sum = sum.wrapping_add(v);
        }
    }
    sum
}

#[inline(never)]
fn remove_policed<S: BuildHasher>(m: &mut Counted<S>, keys: &[u64]) -> u64 {
    let mut sum = 0u64;
    for &k in keys {
        if let Some(v) = m.map.remove(&k) {
            let removes = &m.cell.removes;
            removes.store(removes.load(Relaxed) + 1, Relaxed);
            if (m.map.len() as u64) < m.cell.shrink_below.load(Relaxed) {
                shrink_cold(m);
            }
            sum = sum.wrapping_add(v);
        }
    }
    sum
}

/// Fills an `M` with `keys` (each key's value its index), then times removing them all.
fn time_remove<S: BenchHasher, M: BenchMap<S>>(keys: &[u64]) -> (u64, std::time::Duration) {
    let mut m = M::new_map();
    for (i, &k) in keys.iter().enumerate() {
        m.put(k, i as u64);
    }
    let start = Instant::now();
    let sum = remove_loop(black_box(&mut m), keys);
    (sum, start.elapsed())
}

/// The remove variants, in report order.
const REMOVERS: [&str; 4] = ["hashbrown", "+ counter", "+ policy", "mapgov"];

/// Median ns per remove of each of [`REMOVERS`], removing every key of a map of `n` keys,
/// interleaved over `REPS` repetitions.
fn measure_remove<S: BenchHasher>(n: usize) -> Vec<(&'static str, f64)> {
    let keys = SplitMix64::new(0x7265_6d6f).keys(n);
    let expected: u64 = (0..n as u64).sum();
    let run = |which: usize| {
        let (sum, ns) = match which {
            0 => time_remove::<S, hashbrown::HashMap<u64, u64, S>>(&keys),
            1 | 2 => {
                let mut m = Counted {
                    map: hashbrown::HashMap::with_hasher(S::default()),
                    cell: Default::default(),
                };
                for (i, &k) in keys.iter().enumerate() {
                    m.map.insert(k, i as u64);
                }
                // A watermark the run crosses near its end (the shrink happens once or twice).
                m.cell.shrink_below.store(n as u64 / 16, Relaxed);
                let start = Instant::now();
                let sum = if which == 1 {
                    remove_counted(black_box(&mut m), &keys)
                } else {
                    remove_policed(black_box(&mut m), &keys)
                };
                let elapsed = start.elapsed();
                assert_eq!(m.cell.removes.load(Relaxed), n as u64);
                (sum, elapsed)
            }
            _ => time_remove::<S, mapgov::HashMap<u64, u64, S>>(&keys),
        };
        assert_eq!(sum, expected, "a key was not removed");
        ns.as_nanos() as f64 / n as f64
    };
    let which: Vec<usize> = (0..REMOVERS.len()).collect();
    medians(&which, run)
        .into_iter()
        .map(|(j, ns)| (REMOVERS[j], ns))
        .collect()
}

fn print(what: &str, rows: &[(Variant, f64)]) {
    let base = rows[0].1;
    println!("{what} get hit, median ns/lookup over {REPS} interleaved repetitions");
    for (v, ns) in rows {
        println!("  {:<12} {ns:6.2} ns  {:.3}", v.name(), ns / base);
    }
}

fn print_remove(what: &str, rows: &[(&str, f64)]) {
    println!("{what}, 1M remove every key, median ns/remove over {REPS} interleaved repetitions");
    for &(name, ns) in rows {
        println!("  {name:<12} {ns:6.2} ns  {:.3}", ns / rows[0].1);
    }
}

fn main() {
    let config = mapgov::current_config();
    println!(
        "mapgov: governance {}, lookups counted 1 in {}",
        if config.is_enabled() { "on" } else { "off" },
        config.get_lookup_sample()
    );
    for (n, passes) in SIZES {
        let size = if n >= 1 << 20 { "1M" } else { "4K" };
        let rows = measure::<foldhash::fast::RandomState>(n, passes);
        print(&format!("foldhash, {size}"), &rows);
        let rows = measure::<std::hash::RandomState>(n, passes);
        print(&format!("std RandomState, {size}"), &rows);
    }
    let rows = measure_remove::<foldhash::fast::RandomState>(1 << 20);
    print_remove("foldhash", &rows);
    let rows = measure_remove::<std::hash::RandomState>(1 << 20);
    print_remove("std RandomState", &rows);
    black_box(SAMPLED.load(Relaxed));
}
