//! The workload matrix and the interleaved runner.
//!
//! Workloads are grouped in suites that share their setup: the big suite builds one map per
//! repetition and measures insert, get hit, get miss, iterate, two-thread reads and remove on
//! it. Within each repetition the variants run one after the other, the starting variant
//! rotating from one repetition to the next (A B C, B C A, C A B, ...), so slow drifts of the
//! machine (other processes, thermal state) fall on every variant alike. Every suite runs once
//! untimed first (except growth, which is too long for that) so that no variant pays for cold
//! code or a cold allocator.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use crate::alloc;
use crate::keys::{SplitMix64, wrapping_sum};
use crate::maps::{BenchHasher, BenchMap, HasherKind, Variant};
use crate::report::{ConfigInfo, Mode, ModeReport, Row, Summary, Target, Variants, Workload};

/// A group of workloads that share their setup.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, clap::ValueEnum)]
pub enum Suite {
    /// `size_of` and heap bytes per map.
    Memory,
    /// The 1M-key map: insert, get hit / miss, iterate, two-thread reads, remove, entry upsert.
    Big,
    /// The 4K cache-resident map: get hit, two-thread reads, insert after clear.
    Cache,
    /// The small-map lifecycle.
    Small,
    /// Growth to 16M entries.
    Growth,
}

impl Suite {
    /// Every suite, in the order run.
    pub const ALL: [Suite; 5] = [
        Suite::Memory,
        Suite::Big,
        Suite::Cache,
        Suite::Small,
        Suite::Growth,
    ];

    /// The suite's name, as given to `--suites`.
    pub fn name(self) -> &'static str {
        match self {
            Suite::Memory => "memory",
            Suite::Big => "big",
            Suite::Cache => "cache",
            Suite::Small => "small",
            Suite::Growth => "growth",
        }
    }

    /// The suite that measures `w`.
    pub fn of(w: Workload) -> Suite {
        use Workload as W;
        match w {
            W::BigInsert
            | W::BigGetHit
            | W::BigGetMiss
            | W::BigRemove
            | W::BigIterate
            | W::BigEntryUpsert
            | W::SharedBigReads => Suite::Big,
            W::CacheGetHit | W::CacheInsertAfterClear | W::SharedCacheReads => Suite::Cache,
            W::SmallLifecycle => Suite::Small,
            W::GrowthWorst
            | W::GrowthP9999
            | W::GrowthP999
            | W::GrowthTotal
            | W::GrowthPeakBytes => Suite::Growth,
            W::SizeOf | W::HeapSmall | W::HeapTracked => Suite::Memory,
        }
    }
}

/// Sizes and repetition counts of a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Whether this is the small `--quick` plan.
    pub quick: bool,
    /// The suites to run (all by default).
    pub suites: Vec<Suite>,
    /// Keys in the big map (1M).
    pub big: usize,
    /// Passes over the big map when iterating (one pass is only a few milliseconds).
    pub iterate_passes: usize,
    /// Keys in the cache-resident map (4K).
    pub cache: usize,
    /// Passes over the cache map's keys per get-hit sample.
    pub cache_get_passes: usize,
    /// Clear-and-refill passes per insert-after-clear sample.
    pub cache_insert_passes: usize,
    /// Small maps created, filled with 4 keys and dropped per sample (10M).
    pub small_maps: usize,
    /// Passes over the big map's keys by each thread in the shared-read workload.
    pub shared_big_passes: usize,
    /// Passes over the cache map's keys by each thread in the shared-read workload.
    pub shared_cache_passes: usize,
    /// Entries the growth workload grows one map to (16M).
    pub growth: usize,
    /// Small maps alive at once when measuring heap per small map.
    pub heap_small_maps: usize,
    /// Large maps alive at once when measuring heap per tracked map.
    pub heap_tracked_maps: usize,
    /// Entries of each large map (its table must reach the default tracking threshold).
    pub tracked_entries: usize,
    /// Repetitions of the big suite.
    pub reps_big: usize,
    /// Repetitions of the cache suite.
    pub reps_cache: usize,
    /// Repetitions of the small-map suite.
    pub reps_small: usize,
    /// Repetitions of the growth suite.
    pub reps_growth: usize,
}

impl Plan {
    /// The full matrix of the performance issue, sized to finish in about twelve minutes
    /// on two cores (all three modes, one process each).
    pub fn full() -> Plan {
        Plan {
            quick: false,
            suites: Suite::ALL.to_vec(),
            big: 1_000_000,
            iterate_passes: 10,
            cache: 4096,
            cache_get_passes: 1000,
            cache_insert_passes: 250,
            small_maps: 10_000_000,
            shared_big_passes: 2,
            shared_cache_passes: 2500,
            growth: 16_000_000,
            heap_small_maps: 10_000,
            heap_tracked_maps: 64,
            tracked_entries: 8192,
            reps_big: 7,
            reps_cache: 7,
            reps_small: 5,
            reps_growth: 3,
        }
    }

    /// A small version for CI: every workload runs, quickly even in a debug build.
    pub fn quick() -> Plan {
        Plan {
            quick: true,
            suites: Suite::ALL.to_vec(),
            big: 16_384,
            iterate_passes: 2,
            cache: 4096,
            cache_get_passes: 4,
            cache_insert_passes: 2,
            small_maps: 10_000,
            shared_big_passes: 1,
            shared_cache_passes: 4,
            growth: 65_536,
            heap_small_maps: 200,
            heap_tracked_maps: 2,
            tracked_entries: 8192,
            reps_big: 3,
            reps_cache: 3,
            reps_small: 3,
            reps_growth: 2,
        }
    }

    /// The same plan with every timed suite repeated `reps` times.
    pub fn with_reps(mut self, reps: usize) -> Plan {
        let reps = reps.max(1);
        self.reps_big = reps;
        self.reps_cache = reps;
        self.reps_small = reps;
        self.reps_growth = reps;
        self
    }

    /// The human label of a workload at this plan's sizes.
    pub fn label(&self, w: Workload) -> String {
        let big = count(self.big);
        let cache = count(self.cache);
        let growth = count(self.growth);
        match w {
            Workload::BigInsert => format!("{big} insert"),
            Workload::BigGetHit => format!("{big} get hit"),
            Workload::BigGetMiss => format!("{big} get miss"),
            Workload::BigRemove => format!("{big} remove"),
            Workload::BigIterate => format!("{big} iterate"),
            Workload::BigEntryUpsert => format!("{big} entry upsert"),
            Workload::CacheGetHit => format!("{cache} get hit"),
            Workload::CacheInsertAfterClear => format!("{cache} insert after clear"),
            Workload::SmallLifecycle => {
                format!("small: new+4 inserts+drop x{}", count(self.small_maps))
            }
            Workload::SharedBigReads => format!("2 threads read shared {big}"),
            Workload::SharedCacheReads => format!("2 threads read shared {cache}"),
            Workload::GrowthWorst => format!("grow to {growth}: worst insert"),
            Workload::GrowthP9999 => format!("grow to {growth}: p99.99 insert"),
            Workload::GrowthP999 => format!("grow to {growth}: p99.9 insert"),
            Workload::GrowthTotal => format!("grow to {growth}: total"),
            Workload::GrowthPeakBytes => format!("grow to {growth}: peak heap"),
            Workload::SizeOf => "size_of map".to_owned(),
            Workload::HeapSmall => "heap per map, 4 entries".to_owned(),
            Workload::HeapTracked => {
                format!("heap per map, {} entries", count(self.tracked_entries))
            }
        }
    }
}

/// `1000000` as `1M`, `4096` as `4K`.
fn count(n: usize) -> String {
    if n >= 1_000_000 && n.is_multiple_of(1_000_000) {
        format!("{}M", n / 1_000_000)
    } else if n >= 1024 && n.is_multiple_of(1024) {
        format!("{}K", n / 1024)
    } else if n >= 1000 && n.is_multiple_of(1000) {
        format!("{}K", n / 1000)
    } else {
        n.to_string()
    }
}

/// Samples collected per workload and variant, and the machine's stall floor.
#[derive(Debug, Default)]
struct Samples {
    by_variant: BTreeMap<(Workload, Variant), Vec<f64>>,
    /// The stall floor after each `SplitMap` growth, where it was measured (ms).
    stalls: Vec<f64>,
}

impl Samples {
    fn push(&mut self, variant: Variant, measured: Vec<(Workload, f64)>) {
        for (w, x) in measured {
            self.by_variant.entry((w, variant)).or_default().push(x);
        }
    }

    fn take(&mut self, w: Workload, v: Variant) -> Vec<f64> {
        self.by_variant
            .remove(&(w, v))
            .unwrap_or_else(|| panic!("no samples for {w} / {}", v.name()))
    }
}

/// Calls `$suite::<S, M>(args)` with `M` the map type of `$variant` and hasher `$S`.
macro_rules! for_variant {
    ($variant:expr, $S:ty, $suite:ident($($arg:expr),* $(,)?)) => {
        match $variant {
            Variant::Hashbrown => $suite::<$S, hashbrown::HashMap<u64, u64, $S>>($($arg),*),
            Variant::Std => $suite::<$S, std::collections::HashMap<u64, u64, $S>>($($arg),*),
            Variant::Mapgov => $suite::<$S, mapgov::HashMap<u64, u64, $S>>($($arg),*),
            Variant::Split => $suite::<$S, mapgov::SplitMap<u64, u64, $S>>($($arg),*),
            Variant::Control => $suite::<$S, $crate::maps::Control<$S>>($($arg),*),
            Variant::Switch => $suite::<$S, $crate::floor::SwitchFloor<$S>>($($arg),*),
        }
    };
}

/// Runs `run` for each of `variants` `reps` times, interleaved (the first variant rotating),
/// after one untimed round if `warm_up`.
fn interleaved(
    variants: &[Variant],
    reps: usize,
    warm_up: bool,
    out: &mut Samples,
    mut run: impl FnMut(Variant) -> Vec<(Workload, f64)>,
) {
    if warm_up {
        for &v in variants {
            black_box(run(v));
        }
    }
    for rep in 0..reps {
        for i in 0..variants.len() {
            let v = variants[(i + rep) % variants.len()];
            out.push(v, run(v));
        }
    }
}

/// The variants timed in `mode`: the switch floor only with governance off, where the targets
/// it is the floor of apply (it does not depend on mapgov's configuration).
fn variants_of(mode: Mode) -> &'static [Variant] {
    match mode {
        Mode::Off => &Variant::ALL,
        Mode::Default | Mode::Exact => &Variant::EVERY_MODE,
    }
}

/// Measures every workload with every hasher in the mode this process's configuration is in,
/// calling `progress` with a short line as each suite starts.
pub fn run_mode(mode: Mode, plan: &Plan, progress: &mut dyn FnMut(&str)) -> ModeReport {
    let start = Instant::now();
    let config = ConfigInfo::from(&mapgov::current_config());
    let timed = variants_of(mode);
    // The machine's stall floor is measured where SplitMap's worst insert has a target.
    let stalls = Target::for_split_row(mode, Workload::GrowthWorst).is_some();
    let mut rows = Vec::new();
    for hasher in HasherKind::ALL {
        let mut say = |suite: &str| progress(&format!("[{mode}/{}] {suite}", hasher.name()));
        let mut samples = match hasher {
            HasherKind::Std => run_hasher::<std::hash::RandomState>(plan, timed, stalls, &mut say),
            HasherKind::Foldhash => {
                run_hasher::<foldhash::fast::RandomState>(plan, timed, stalls, &mut say)
            }
        };
        for w in Workload::ALL {
            if !plan.suites.contains(&Suite::of(w)) {
                continue;
            }
            let variants = Variants {
                hashbrown: Summary::of(samples.take(w, Variant::Hashbrown)),
                std: Summary::of(samples.take(w, Variant::Std)),
                mapgov: Summary::of(samples.take(w, Variant::Mapgov)),
                split: Summary::of(samples.take(w, Variant::Split)),
                control: Summary::of(samples.take(w, Variant::Control)),
                switch: timed
                    .contains(&Variant::Switch)
                    .then(|| Summary::of(samples.take(w, Variant::Switch))),
            };
            let row = Row::new(mode, hasher, w, plan.label(w), variants);
            rows.push(
                if w == Workload::GrowthWorst && !samples.stalls.is_empty() {
                    row.with_stall_floor(std::mem::take(&mut samples.stalls))
                } else {
                    row
                },
            );
        }
    }
    ModeReport {
        mode,
        config,
        rows,
        elapsed_secs: start.elapsed().as_secs_f64(),
        processes: 1,
    }
}

/// Measures the suites of `plan` with hasher `S`; with `stalls`, the machine's stall floor
/// after each `SplitMap` growth too.
fn run_hasher<S: BenchHasher>(
    plan: &Plan,
    variants: &[Variant],
    stalls: bool,
    say: &mut dyn FnMut(&str),
) -> Samples {
    let mut out = Samples::default();
    let mut rng = SplitMix64::new(0x6d61_7067_6f76); // "mapgov"

    let wanted = |s: Suite| plan.suites.contains(&s);

    // Memory first, while the registry holds nothing but what this suite creates.
    if wanted(Suite::Memory) {
        say("memory");
        let mem_keys = rng.keys(plan.tracked_entries.max(4));
        for &v in variants {
            let measured = for_variant!(v, S, memory_suite(plan, &mem_keys));
            out.push(v, measured);
        }
    }

    if wanted(Suite::Big) {
        say(&format!("big ({} reps)", plan.reps_big));
        let big = BigInputs::new(&mut rng, plan.big);
        interleaved(variants, plan.reps_big, true, &mut out, |v| {
            for_variant!(v, S, big_suite(plan, &big))
        });
    }

    if wanted(Suite::Cache) {
        say(&format!("cache ({} reps)", plan.reps_cache));
        let cache = CacheInputs::new(&mut rng, plan.cache);
        interleaved(variants, plan.reps_cache, true, &mut out, |v| {
            for_variant!(v, S, cache_suite(plan, &cache))
        });
    }

    if wanted(Suite::Small) {
        say(&format!("small maps ({} reps)", plan.reps_small));
        let pool = rng.keys(4096);
        interleaved(variants, plan.reps_small, true, &mut out, |v| {
            for_variant!(v, S, small_suite(plan.small_maps, &pool))
        });
    }

    if wanted(Suite::Growth) {
        say(&format!("growth ({} reps)", plan.reps_growth));
        let growth_keys = rng.keys(plan.growth);
        // Touch every page of the latency buffer before timing anything with it.
        let mut latencies = vec![1u32; plan.growth];
        let mut stall_samples = Vec::new();
        interleaved(variants, plan.reps_growth, false, &mut out, |v| {
            let stall = stalls && v == Variant::Split;
            let (measured, floor) =
                for_variant!(v, S, growth_suite(&growth_keys, &mut latencies, stall));
            stall_samples.extend(floor);
            measured
        });
        out.stalls = stall_samples;
    }
    out
}

/// Nanoseconds per operation.
fn per_op(d: Duration, ops: usize) -> f64 {
    d.as_nanos() as f64 / ops.max(1) as f64
}

/// Panics with `what` unless `ok`: a workload did not do what it claims to measure.
#[track_caller]
fn check(ok: bool, what: &str) {
    assert!(ok, "mapbench: workload self-check failed: {what}");
}

/// Inputs of the big suite.
struct BigInputs {
    /// The keys, inserted in this order.
    keys: Vec<u64>,
    /// The same keys in another order, for lookups and removes.
    lookup: Vec<u64>,
    /// As many keys that are never inserted.
    misses: Vec<u64>,
    /// The first half of `keys`, each twice, shuffled: upserts are half inserts, half updates.
    upsert: Vec<u64>,
    /// `wrapping_sum(keys)`.
    sum: u64,
}

impl BigInputs {
    fn new(rng: &mut SplitMix64, n: usize) -> BigInputs {
        let keys = rng.keys(n);
        let misses = rng.keys(n);
        let lookup = rng.shuffled(&keys);
        let half = &keys[..n / 2];
        let mut upsert = Vec::with_capacity(2 * half.len());
        upsert.extend_from_slice(half);
        upsert.extend_from_slice(half);
        rng.shuffle(&mut upsert);
        BigInputs {
            sum: wrapping_sum(&keys),
            keys,
            lookup,
            misses,
            upsert,
        }
    }
}

// The timed loops are kernels of their own, never inlined: each variant's loop is then compiled
// alone, with the same surroundings, and not reshaped by the code around the measurement.

/// Inserts every key (with itself as value).
#[inline(never)]
fn insert_all<S: BenchHasher, M: BenchMap<S>>(m: &mut M, keys: &[u64]) {
    for &k in keys {
        m.put(k, k);
    }
}

/// Removes every key; returns how many were present.
#[inline(never)]
fn remove_all<S: BenchHasher, M: BenchMap<S>>(m: &mut M, keys: &[u64]) -> usize {
    let mut removed = 0;
    for &k in keys {
        removed += usize::from(m.take(k).is_some());
    }
    removed
}

/// Upserts every key.
#[inline(never)]
fn upsert_all<S: BenchHasher, M: BenchMap<S>>(m: &mut M, keys: &[u64]) {
    for &k in keys {
        m.upsert(k);
    }
}

/// Folds over the map `passes` times.
#[inline(never)]
fn iterate<S: BenchHasher, M: BenchMap<S>>(m: &M, passes: usize) -> u64 {
    let mut acc = 0u64;
    for _ in 0..passes {
        acc ^= black_box(m).fold_all();
    }
    acc
}

/// Sums the values found for `keys` in `m`: the get loop every lookup workload times (and the
/// `lookup_floor` example's baseline).
#[inline(never)]
pub fn lookup_sum<S: BenchHasher, M: BenchMap<S>>(m: &M, keys: &[u64]) -> u64 {
    let mut sum = 0u64;
    for &k in keys {
        if let Some(v) = m.find(k) {
            sum = sum.wrapping_add(v);
        }
    }
    sum
}

fn big_suite<S: BenchHasher, M: BenchMap<S>>(plan: &Plan, d: &BigInputs) -> Vec<(Workload, f64)> {
    let n = d.keys.len();
    let mut m = M::new_map();
    let t = Instant::now();
    insert_all(&mut m, &d.keys);
    black_box(&mut m);
    let insert = per_op(t.elapsed(), n);
    check(m.size() == n, "every key inserted");

    let t = Instant::now();
    let sum = black_box(lookup_sum(&m, &d.lookup));
    let get_hit = per_op(t.elapsed(), n);
    check(sum == d.sum, "every lookup hit");

    let t = Instant::now();
    let sum = black_box(lookup_sum(&m, &d.misses));
    let get_miss = per_op(t.elapsed(), n);
    check(sum == 0, "every lookup missed");

    let t = Instant::now();
    black_box(iterate(&m, plan.iterate_passes));
    let iterate = per_op(t.elapsed(), n * plan.iterate_passes);

    let shared = shared_reads(&m, &d.lookup, plan.shared_big_passes);

    let t = Instant::now();
    let removed = black_box(remove_all(&mut m, &d.lookup));
    black_box(&mut m);
    let remove = per_op(t.elapsed(), n);
    check(removed == n && m.size() == 0, "every key removed");
    drop(m);

    let mut u = M::new_map();
    let t = Instant::now();
    upsert_all(&mut u, &d.upsert);
    black_box(&mut u);
    let upsert = per_op(t.elapsed(), d.upsert.len());
    check(u.size() == n / 2, "upserts: half inserts, half updates");
    drop(u);

    vec![
        (Workload::BigInsert, insert),
        (Workload::BigGetHit, get_hit),
        (Workload::BigGetMiss, get_miss),
        (Workload::BigIterate, iterate),
        (Workload::SharedBigReads, shared),
        (Workload::BigRemove, remove),
        (Workload::BigEntryUpsert, upsert),
    ]
}

/// Two threads look up `keys` in the shared map `m`, `passes` times each (starting half-way
/// apart); returns their total throughput in Mops/s.
///
/// Each thread reads the clock itself once released, and again when done; the span is from
/// the earliest start to the latest end, so waking the threads is not counted.
fn shared_reads<S: BenchHasher, M: BenchMap<S>>(m: &M, keys: &[u64], passes: usize) -> f64 {
    const THREADS: usize = 2;
    let barrier = Barrier::new(THREADS);
    let (first, second) = keys.split_at(keys.len() / 2);
    let spans: Vec<(Instant, Instant, u64)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                let barrier = &barrier;
                let (a, b) = if t == 0 {
                    (first, second)
                } else {
                    (second, first)
                };
                scope.spawn(move || {
                    barrier.wait();
                    let start = Instant::now();
                    let mut sum = 0u64;
                    for _ in 0..passes {
                        sum = sum.wrapping_add(lookup_sum(m, a));
                        sum = sum.wrapping_add(lookup_sum(m, b));
                    }
                    let sum = black_box(sum);
                    (start, Instant::now(), sum)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("reader thread panicked"))
            .collect()
    });
    check(spans[0].2 == spans[1].2, "both readers found the same keys");
    let start = spans.iter().map(|s| s.0).min().expect("two spans");
    let end = spans.iter().map(|s| s.1).max().expect("two spans");
    let ops = THREADS * passes * keys.len();
    ops as f64 / (end - start).as_secs_f64().max(1e-9) / 1e6
}

/// Inputs of the cache suite.
struct CacheInputs {
    keys: Vec<u64>,
    lookup: Vec<u64>,
    sum: u64,
}

impl CacheInputs {
    fn new(rng: &mut SplitMix64, n: usize) -> CacheInputs {
        let keys = rng.keys(n);
        let lookup = rng.shuffled(&keys);
        CacheInputs {
            sum: wrapping_sum(&keys),
            keys,
            lookup,
        }
    }
}

fn cache_suite<S: BenchHasher, M: BenchMap<S>>(
    plan: &Plan,
    d: &CacheInputs,
) -> Vec<(Workload, f64)> {
    let n = d.keys.len();
    let mut m = M::new_map();
    insert_all(&mut m, &d.keys);

    let t = Instant::now();
    let mut sum = 0u64;
    for _ in 0..plan.cache_get_passes {
        sum = sum.wrapping_add(lookup_sum(black_box(&m), &d.lookup));
    }
    let sum = black_box(sum);
    let get_hit = per_op(t.elapsed(), n * plan.cache_get_passes);
    check(
        sum == d.sum.wrapping_mul(plan.cache_get_passes as u64),
        "every cache lookup hit",
    );

    let shared = shared_reads(&m, &d.lookup, plan.shared_cache_passes);

    let t = Instant::now();
    for _ in 0..plan.cache_insert_passes {
        m.wipe();
        insert_all(&mut m, &d.keys);
        black_box(&mut m);
    }
    let insert = per_op(t.elapsed(), n * plan.cache_insert_passes);
    check(m.size() == n, "cache refilled");

    vec![
        (Workload::CacheGetHit, get_hit),
        (Workload::SharedCacheReads, shared),
        (Workload::CacheInsertAfterClear, insert),
    ]
}

fn small_suite<S: BenchHasher, M: BenchMap<S>>(maps: usize, pool: &[u64]) -> Vec<(Workload, f64)> {
    let t = Instant::now();
    small_lifecycle::<S, M>(maps, pool);
    vec![(Workload::SmallLifecycle, per_op(t.elapsed(), maps))]
}

/// The maps [`small_lifecycles`] runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmallMap {
    /// `hashbrown::HashMap`.
    Hashbrown,
    /// [`SmallFloor`](crate::SmallFloor): the least bookkeeping that keeps a site's totals
    /// exact.
    Floor,
    /// `mapgov::HashMap`, governed as this process's configuration says.
    Mapgov,
}

/// Runs `maps` small-map lifecycles (create, insert 4 keys of `pool`, drop) of `map` with
/// `hasher`'s hasher, in the loop `mapbench`'s small-map row times, compiled in this library as
/// `mapbench`'s is: the `small_lifecycle` example times [`SmallFloor`](crate::SmallFloor)
/// there beside hashbrown's map and mapgov's.
///
/// # Panics
///
/// If `pool`'s length is not a power of two of at least 4.
///
/// # Examples
///
/// ```
/// use mapgov_bench::{HasherKind, SmallMap, SplitMix64, small_lifecycles};
///
/// let pool = SplitMix64::new(1).keys(16);
/// small_lifecycles(SmallMap::Floor, HasherKind::Foldhash, 1000, &pool);
/// ```
pub fn small_lifecycles(map: SmallMap, hasher: HasherKind, maps: usize, pool: &[u64]) {
    assert!(
        pool.len().is_power_of_two() && pool.len() >= 4,
        "the key pool holds a power of two of at least 4 keys, not {}",
        pool.len()
    );
    match hasher {
        HasherKind::Std => small_lifecycles_with::<std::hash::RandomState>(map, maps, pool),
        HasherKind::Foldhash => {
            small_lifecycles_with::<foldhash::fast::RandomState>(map, maps, pool);
        }
    }
}

/// [`small_lifecycles`] with hasher `S`.
fn small_lifecycles_with<S: BenchHasher>(map: SmallMap, maps: usize, pool: &[u64]) {
    match map {
        SmallMap::Hashbrown => small_lifecycle::<S, hashbrown::HashMap<u64, u64, S>>(maps, pool),
        SmallMap::Floor => small_lifecycle::<S, crate::SmallFloor<S>>(maps, pool),
        SmallMap::Mapgov => small_lifecycle::<S, mapgov::HashMap<u64, u64, S>>(maps, pool),
    }
}

/// Creates `maps` maps, inserts 4 keys of `pool` (a power of two, at least 4 keys) into each,
/// drops each: the small-map loop every run times.
#[inline(never)]
fn small_lifecycle<S: BenchHasher, M: BenchMap<S>>(maps: usize, pool: &[u64]) {
    debug_assert!(pool.len().is_power_of_two() && pool.len() >= 4);
    let mask = pool.len() - 1;
    for i in 0..maps {
        let base = (i * 4) & mask;
        let mut m = M::new_map();
        for (j, &k) in pool[base..base + 4].iter().enumerate() {
            m.put(k, j as u64);
        }
        black_box(&m);
    }
}

/// The `q` quantile of `xs` (nearest rank); reorders `xs`.
fn quantile(xs: &mut [u32], q: f64) -> u32 {
    let rank = ((q * xs.len() as f64).ceil() as usize).clamp(1, xs.len());
    *xs.select_nth_unstable(rank - 1).1
}

/// Grows one map to `keys.len()` entries, timing each insert; with `stall`, also measures the
/// machine's stall floor (ms) for as long as the growth took, with the grown map still held
/// (so that the loop does not run while the allocator and the kernel take back its memory).
fn growth_suite<S: BenchHasher, M: BenchMap<S>>(
    keys: &[u64],
    latencies: &mut [u32],
    stall: bool,
) -> (Vec<(Workload, f64)>, Option<f64>) {
    let n = keys.len();
    let lat = &mut latencies[..n];
    let mut m = M::new_map();
    // The counting allocator sees the peak of what the map holds while it grows (a few atomic
    // operations per allocation, and the maps allocate rarely).
    alloc::start();
    let total = insert_timed(&mut m, keys, lat);
    let peak = alloc::peak();
    alloc::stop();
    black_box(&mut m);
    check(m.size() == n, "map grown to its size");
    let floor = stall.then(|| longest_gap(total, Instant::now).as_secs_f64() * 1e3);
    drop(m);
    let worst = lat.iter().copied().max().unwrap_or(0);
    let p9999 = quantile(lat, 0.9999);
    let p999 = quantile(lat, 0.999);
    let measured = vec![
        (Workload::GrowthWorst, f64::from(worst) / 1e6),
        (Workload::GrowthP9999, f64::from(p9999)),
        (Workload::GrowthP999, f64::from(p999)),
        (Workload::GrowthTotal, total.as_secs_f64() * 1e3),
        (Workload::GrowthPeakBytes, peak as f64),
    ];
    (measured, floor)
}

/// The machine's stall floor: reads `clock` in a loop that does nothing else until `duration`
/// has passed since its first reading, and returns the longest gap between two readings
/// (what [`insert_timed`] would read for an insert that took no time), so the longest the
/// machine alone kept this thread from running.
#[inline(never)]
fn longest_gap(duration: Duration, mut clock: impl FnMut() -> Instant) -> Duration {
    let start = clock();
    let mut prev = start;
    let mut longest = Duration::ZERO;
    loop {
        let now = clock();
        longest = longest.max(now - prev);
        prev = now;
        if now - start >= duration {
            return longest;
        }
    }
}

/// Inserts every key, writing each insert's duration (ns) to `lat`; returns the total.
#[inline(never)]
fn insert_timed<S: BenchHasher, M: BenchMap<S>>(
    m: &mut M,
    keys: &[u64],
    lat: &mut [u32],
) -> Duration {
    let start = Instant::now();
    let mut prev = start;
    for (&k, slot) in keys.iter().zip(lat.iter_mut()) {
        m.put(k, k);
        let now = Instant::now();
        *slot = u32::try_from((now - prev).as_nanos()).unwrap_or(u32::MAX);
        prev = now;
    }
    prev - start
}

/// Net heap bytes per map of `count` maps alive at once, each holding `keys`.
///
/// Before counting, one map pays the one-time costs (its creation site, thread-locals), and
/// [`DRAIN`] maps are kept alive so that any cache of stats cells the governed map keeps per
/// thread is empty: every measured map then pays for its own cell, as it does in a process
/// that holds many maps.
fn heap_per_map<S: BenchHasher, M: BenchMap<S>>(count: usize, keys: &[u64]) -> f64 {
    let filled = || {
        let mut m = M::new_map();
        for &k in keys {
            m.put(k, k);
        }
        m
    };
    drop(black_box(filled()));
    let drain: Vec<M> = (0..DRAIN)
        .map(|i| {
            let mut m = M::new_map();
            m.put(i as u64, 0);
            m
        })
        .collect();
    let mut maps: Vec<M> = Vec::with_capacity(count);
    alloc::start();
    for _ in 0..count {
        maps.push(filled());
    }
    let bytes = alloc::stop();
    drop(black_box(maps));
    drop(black_box(drain));
    bytes as f64 / count.max(1) as f64
}

/// Maps kept alive while heap is measured, to empty per-thread caches of stats cells (mapgov
/// keeps at most 32 per thread today).
const DRAIN: usize = 256;

fn memory_suite<S: BenchHasher, M: BenchMap<S>>(plan: &Plan, keys: &[u64]) -> Vec<(Workload, f64)> {
    vec![
        (Workload::SizeOf, std::mem::size_of::<M>() as f64),
        (
            Workload::HeapSmall,
            heap_per_map::<S, M>(plan.heap_small_maps, &keys[..4]),
        ),
        (
            Workload::HeapTracked,
            heap_per_map::<S, M>(plan.heap_tracked_maps, &keys[..plan.tracked_entries]),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stall_floor_is_the_longest_gap_between_readings_until_its_duration_passed() {
        let base = Instant::now();
        let ms = |m: u64| base + Duration::from_millis(m);
        // Readings 0, 1, 2, 9 (a 7 ms stall), 10, 11, 13 (past 12 ms: the last one read).
        let mut readings = [0, 1, 2, 9, 10, 11, 13, 30, 100].map(ms).into_iter();
        let mut read = 0;
        let clock = || {
            read += 1;
            readings.next().expect("read past the end")
        };
        assert_eq!(
            longest_gap(Duration::from_millis(12), clock),
            Duration::from_millis(7)
        );
        assert_eq!(read, 7);
        // A stall that ends the loop counts too.
        let mut rest = [30, 31, 100].map(ms).into_iter();
        assert_eq!(
            longest_gap(Duration::from_millis(50), || rest.next().unwrap()),
            Duration::from_millis(69)
        );
        // On the real clock it runs for its duration, and the gap lies within it.
        let start = Instant::now();
        let gap = longest_gap(Duration::from_millis(5), Instant::now);
        let elapsed = start.elapsed();
        assert!(elapsed >= Duration::from_millis(5));
        assert!(gap <= elapsed, "gap {gap:?} of {elapsed:?}");
    }

    #[test]
    fn counts_are_labelled_compactly() {
        assert_eq!(count(1_000_000), "1M");
        assert_eq!(count(16_000_000), "16M");
        assert_eq!(count(4096), "4K");
        assert_eq!(count(16_384), "16K");
        assert_eq!(count(10_000), "10K");
        assert_eq!(count(7), "7");
    }

    #[test]
    fn nearest_rank_quantiles() {
        let mut xs: Vec<u32> = (1..=10_000).rev().collect();
        assert_eq!(quantile(&mut xs, 0.9999), 9999);
        assert_eq!(quantile(&mut xs, 0.999), 9990);
        assert_eq!(quantile(&mut xs, 1.0), 10_000);
    }

    #[test]
    fn interleaving_rotates_the_first_variant() {
        let mut order = Vec::new();
        let mut out = Samples::default();
        interleaved(&Variant::EVERY_MODE, 3, false, &mut out, |v| {
            order.push(v);
            vec![(Workload::SizeOf, 1.0)]
        });
        use Variant::*;
        assert_eq!(
            order,
            [
                Hashbrown, Std, Mapgov, Split, Control, // first repetition
                Std, Mapgov, Split, Control, Hashbrown, // second
                Mapgov, Split, Control, Hashbrown, Std, // third
            ]
        );
        assert_eq!(out.take(Workload::SizeOf, Std).len(), 3);
    }

    #[test]
    fn the_switch_floor_is_timed_with_governance_off_only() {
        assert!(variants_of(Mode::Off).contains(&Variant::Switch));
        for mode in [Mode::Default, Mode::Exact] {
            assert!(!variants_of(mode).contains(&Variant::Switch), "{mode}");
            assert_eq!(variants_of(mode).len(), Variant::ALL.len() - 1, "{mode}");
        }
    }
}
