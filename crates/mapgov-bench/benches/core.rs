//! Criterion benches of the core operations: insert, get, remove and the entry API's upsert
//! (`*map.entry(k).or_insert(0) += 1`, of new keys into a table with room for them, and of
//! present keys) of 1M random `u64` keys, `mapgov::HashMap` against `hashbrown::HashMap` with
//! the same hasher.
//!
//! ```sh
//! cargo bench -p mapgov-bench --bench core
//! ```
//!
//! Criterion runs one benchmark after the other, so these figures are not interleaved the way
//! `mapbench`'s are; use them for a focused look at one operation (with a profiler, say), and
//! `mapbench` for the ratios. The governed map runs in whatever mode the environment sets
//! (`MAPGOV=off`, `MAPGOV_LOOKUP_SAMPLE=1`, ...).

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, BenchmarkGroup, Criterion, Throughput, measurement::WallTime};
use mapgov_bench::{BenchHasher, BenchMap, SplitMix64, wrapping_sum};

const N: usize = 1_000_000;

struct Keys {
    keys: Vec<u64>,
    lookup: Vec<u64>,
    sum: u64,
}

fn keys() -> Keys {
    let mut rng = SplitMix64::new(0x6d61_7067_6f76);
    let keys = rng.keys(N);
    let lookup = rng.shuffled(&keys);
    Keys {
        sum: wrapping_sum(&keys),
        keys,
        lookup,
    }
}

fn filled<S: BenchHasher, M: BenchMap<S>>(keys: &[u64]) -> M {
    let mut m = M::new_map();
    for &k in keys {
        m.put(k, k);
    }
    m
}

/// Upserts every key, checking afterwards that the map holds them all.
fn upsert_each<S: BenchHasher, M: BenchMap<S>>(m: &mut M, keys: &[u64]) {
    for &k in keys {
        m.upsert(k);
    }
    assert_eq!(m.size(), keys.len());
}

fn variant<S: BenchHasher, M: BenchMap<S>>(
    g: &mut BenchmarkGroup<'_, WallTime>,
    op: &str,
    name: &str,
    d: &Keys,
) {
    let id = format!("{op}/{name}");
    match op {
        "insert" => g.bench_function(id, |b| {
            b.iter_batched(
                M::new_map,
                |mut m| {
                    for &k in &d.keys {
                        m.put(k, k);
                    }
                    m
                },
                BatchSize::PerIteration,
            )
        }),
        "get" => {
            let m: M = filled(&d.keys);
            g.bench_function(id, |b| {
                b.iter(|| {
                    let m = black_box(&m);
                    let mut sum = 0u64;
                    for &k in &d.lookup {
                        if let Some(v) = m.find(k) {
                            sum = sum.wrapping_add(v);
                        }
                    }
                    assert_eq!(black_box(sum), d.sum);
                })
            })
        }
        // "upsert new": a map cleared after holding every key keeps its table, so every upsert
        // is a new key that fits, the case whose value the governed entry once read back
        // (BENCHMARKS.md). "upsert present": every key again, into the full map.
        "upsert new" | "upsert present" => {
            let new = op == "upsert new";
            let keys = if new { &d.keys } else { &d.lookup };
            g.bench_function(id, |b| {
                b.iter_batched(
                    || {
                        let mut m = filled::<S, M>(&d.keys);
                        if new {
                            m.wipe();
                        }
                        m
                    },
                    |mut m| {
                        upsert_each(&mut m, keys);
                        m
                    },
                    BatchSize::PerIteration,
                )
            })
        }
        "remove" => g.bench_function(id, |b| {
            b.iter_batched(
                || filled::<S, M>(&d.keys),
                |mut m| {
                    for &k in &d.lookup {
                        black_box(m.take(k));
                    }
                    m
                },
                BatchSize::PerIteration,
            )
        }),
        _ => unreachable!("unknown op {op}"),
    };
}

fn hasher<S: BenchHasher>(c: &mut Criterion, hasher: &str, d: &Keys) {
    let mut g = c.benchmark_group(format!("1M u64, {hasher}"));
    g.throughput(Throughput::Elements(N as u64))
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    for op in ["insert", "get", "remove", "upsert new", "upsert present"] {
        variant::<S, hashbrown::HashMap<u64, u64, S>>(&mut g, op, "hashbrown", d);
        variant::<S, mapgov::HashMap<u64, u64, S>>(&mut g, op, "mapgov", d);
    }
    g.finish();
}

fn core(c: &mut Criterion) {
    let d = keys();
    hasher::<std::hash::RandomState>(c, "std RandomState", &d);
    hasher::<foldhash::fast::RandomState>(c, "foldhash", &d);
}

criterion::criterion_group!(benches, core);
criterion::criterion_main!(benches);
