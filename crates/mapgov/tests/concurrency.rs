//! Concurrency: snapshots never block or deadlock map operations, never show out-of-range
//! values while other threads mutate and read maps, and add up exactly once the threads are
//! joined; sampled lookup counts are unbiased estimates, and exact when a map counts every
//! lookup.
//!
//! This binary installs `lookup_sample(32)` (sampled lookups, the default) with every map
//! tracked; the maps that need exact lookup counts opt in with `.count_every_lookup()`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::mpsc;
use std::sync::{Arc, Barrier, Once};
use std::thread;
use std::time::{Duration, Instant};

use mapgov::{HashMap, MapStats, SiteStats, Snapshot};

#[path = "support/sampling.rs"]
mod sampling;

/// Upper bound on the whole test's duration before the watchdog declares a deadlock.
const WATCHDOG: Duration = Duration::from_secs(60);
/// How long the mutating threads run.
const RUN_FOR: Duration = Duration::from_secs(2);
/// And at most how many rounds each.
const MAX_ROUNDS: u64 = 5_000;

fn setup() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = mapgov::Config::from_env()
            .track_min_bytes(0)
            .lookup_sample(32)
            .install();
    });
    let config = mapgov::current_config();
    assert_eq!(config.get_track_min_bytes(), 0);
    assert_eq!(config.get_lookup_sample(), 32);
}

/// Aborts the process if it is not dropped within `limit`: a deadlocked test must not hang CI.
struct Watchdog(Option<mpsc::Sender<()>>);

impl Watchdog {
    fn start(what: &'static str, limit: Duration) -> Watchdog {
        let (tx, rx) = mpsc::channel::<()>();
        thread::spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(limit) {
                eprintln!("watchdog: {what} did not finish within {limit:?}: deadlock?");
                std::process::abort();
            }
        });
        Watchdog(Some(tx))
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        // Dropping the sender wakes the watchdog with `Disconnected`.
        self.0.take();
    }
}

/// What one mutating thread did, counted independently of mapgov.
#[derive(Debug, Default)]
struct Tally {
    rounds: u64,
    inserts: u64,
    updates: u64,
    removes: u64,
    shared_hits: u64,
    shared_misses: u64,
    long_inserts: u64,
    long_removes: u64,
    long_hits: u64,
    long_misses: u64,
}

/// The largest table a worker map can reach: a few thousand `(u64, u64)` entries. Used to
/// reject absurd byte counts in snapshots.
const MAX_WORKER_BYTES: u64 = 16 * 8192 + 8192 + 16;
const MAX_KEYS_PER_ROUND: u64 = 3_000;

fn worker(t: usize, shared: &HashMap<u64, u64>, start: &Barrier) -> Tally {
    let name = format!("concurrency/worker-{t}");
    let long_name = format!("concurrency/worker-{t}/long");
    let mut long: HashMap<u64, u64> = HashMap::new().named(&long_name).count_every_lookup();
    let mut tally = Tally::default();
    start.wait();
    let deadline = Instant::now() + RUN_FOR;
    for r in 0..MAX_ROUNDS {
        if Instant::now() >= deadline {
            break;
        }
        tally.rounds += 1;
        // Create, fill (growing), update, remove half (tombstones), maybe shrink or clear,
        // grow again, drop: every cold-path event, racing with the snapshot thread.
        let mut m: HashMap<u64, u64> = HashMap::new().named(&name);
        let n = 1 + (r * 37) % MAX_KEYS_PER_ROUND;
        for k in 0..n {
            assert!(m.insert(k, k).is_none());
        }
        tally.inserts += n;
        for k in 0..n / 2 {
            assert!(m.insert(k, k + 1).is_some());
        }
        tally.updates += n / 2;
        for k in (0..n).step_by(2) {
            assert!(m.remove(&k).is_some());
            tally.removes += 1;
        }
        if r % 3 == 0 {
            m.shrink_to_fit();
        }
        if r % 5 == 0 {
            tally.removes += m.len() as u64;
            m.clear();
        }
        for k in n..n + n / 4 {
            m.insert(k, 0);
        }
        tally.inserts += n / 4;
        if r % 7 == 0 {
            m.reserve(n as usize);
        }
        drop(m);

        // The long-lived map: a sliding window of 100 keys.
        long.insert(r, r);
        tally.long_inserts += 1;
        if r >= 100 {
            assert_eq!(long.remove(&(r - 100)), Some(r - 100));
            tally.long_removes += 1;
        }
        if long.get(&r).is_some() {
            tally.long_hits += 1;
        }
        if !long.contains_key(&(r + 1)) {
            tally.long_misses += 1;
        }

        // Read the shared map: keys below 10 000 are present.
        for j in 0..64 {
            let k = (r * 64 + j) % 20_000;
            let found = if j % 2 == 0 {
                shared.get(&k).is_some()
            } else {
                shared.contains_key(&k)
            };
            assert_eq!(found, k < 10_000);
            if found {
                tally.shared_hits += 1;
            } else {
                tally.shared_misses += 1;
            }
        }
    }
    // Hand back the long-lived map's stats while it is alive.
    let stats = long.stats().unwrap();
    assert_eq!(stats.len, long.len() as u64);
    assert_eq!(stats.allocated_bytes, long.allocation_size() as u64);
    assert_eq!(
        (stats.inserts, stats.removes, stats.hits, stats.misses),
        (
            tally.long_inserts,
            tally.long_removes,
            tally.long_hits,
            tally.long_misses
        ),
        "{long_name}: exact counts"
    );
    tally
}

/// Checks every value of a snapshot that must hold at any moment, whatever other threads do.
fn check_in_range(snap: &Snapshot, workers: &[&str]) {
    for m in &snap.maps {
        map_in_range(m);
    }
    for s in &snap.sites {
        site_in_range(s);
        if let Some(name) = s.name.as_deref()
            && workers.contains(&name)
        {
            let bound = MAX_ROUNDS * MAX_KEYS_PER_ROUND * 2;
            assert!(s.maps_created <= MAX_ROUNDS, "{name}: {s:?}");
            assert!(s.maps_live <= 1, "{name}: one map alive at a time: {s:?}");
            assert!(s.inserts <= bound && s.updates <= bound, "{name}: {s:?}");
            assert!(s.allocated_bytes <= MAX_WORKER_BYTES, "{name}: {s:?}");
            assert!(s.entries <= MAX_KEYS_PER_ROUND * 2, "{name}: {s:?}");
        }
    }
}

fn map_in_range(m: &MapStats) {
    let n = m.name.as_deref().unwrap_or("?");
    assert!(m.id != 0, "{n}: listed maps are tracked: {m:?}");
    assert!(
        m.len <= m.peak_len,
        "{n}: len {} > peak {}",
        m.len,
        m.peak_len
    );
    assert!(m.wasted_bytes <= m.allocated_bytes, "{n}: {m:?}");
    // No clones in this binary: every entry was inserted.
    assert!(m.len <= m.inserts, "{n}: {m:?}");
    // The owner counts with plain stores, which x86 makes visible in order.
    if cfg!(target_arch = "x86_64") {
        assert!(m.removes <= m.inserts, "{n}: {m:?}");
    }
    assert!(m.allocated_bytes < 1 << 30, "{n}: absurd size {m:?}");
    assert!(
        m.allocated_bytes == 0 || m.capacity > 0,
        "{n}: bytes without capacity {m:?}"
    );
    if n.starts_with("concurrency/worker-") {
        assert!(m.allocated_bytes <= MAX_WORKER_BYTES, "{n}: {m:?}");
    }
}

fn site_in_range(s: &SiteStats) {
    let n = format!("{}:{:?}", s.site, s.name);
    assert!(s.maps_live <= s.maps_created, "{n}: {s:?}");
    assert!(s.maps_dropped <= s.maps_created, "{n}: {s:?}");
    assert_eq!(s.maps_live + s.maps_dropped, s.maps_created, "{n}: {s:?}");
    assert!(s.maps_tracked <= s.maps_live, "{n}: {s:?}");
    assert!(s.wasted_bytes <= s.allocated_bytes, "{n}: {s:?}");
    assert!(s.entries <= s.inserts, "{n}: {s:?}");
    // A tracked map's latest counts come from its owner's plain stores (in order on x86).
    if cfg!(target_arch = "x86_64") {
        assert!(s.removes <= s.inserts, "{n}: {s:?}");
    }
    assert!(s.allocated_bytes < 1 << 30, "{n}: absurd size {s:?}");
    assert!(
        s.entries <= s.peak_len.saturating_mul(s.maps_live),
        "{n}: more entries than its live maps can hold: {s:?}"
    );
    if s.maps_live == 0 {
        assert_eq!((s.entries, s.allocated_bytes), (0, 0), "{n}: {s:?}");
    }
}

#[test]
fn snapshots_stay_in_range_while_threads_mutate_and_read_maps_and_add_up_after_join() {
    setup();
    let _watchdog = Watchdog::start("the concurrency test", WATCHDOG);

    let mut shared: HashMap<u64, u64> = HashMap::new()
        .named("concurrency/shared")
        .count_every_lookup();
    for k in 0..10_000 {
        shared.insert(k, k);
    }
    let shared = Arc::new(shared);
    let names = ["concurrency/worker-0", "concurrency/worker-1"];

    let start = Arc::new(Barrier::new(3));
    let stop = Arc::new(AtomicBool::new(false));
    let snapshots = Arc::new(AtomicU64::new(0));
    let observer = {
        let (start, stop, snapshots) = (start.clone(), stop.clone(), snapshots.clone());
        thread::spawn(move || {
            start.wait();
            // Bounded too, in case the workers never finish (the watchdog then fires).
            for _ in 0..1_000_000 {
                if stop.load(Relaxed) {
                    break;
                }
                let snap = mapgov::snapshot();
                check_in_range(&snap, &names);
                snapshots.fetch_add(1, Relaxed);
            }
        })
    };
    let workers: Vec<_> = (0..2)
        .map(|t| {
            let (shared, start) = (shared.clone(), start.clone());
            thread::spawn(move || worker(t, &shared, &start))
        })
        .collect();
    let tallies: Vec<Tally> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    stop.store(true, Relaxed);
    observer.join().unwrap();
    let taken = snapshots.load(Relaxed);
    assert!(taken >= 10, "only {taken} snapshots taken");

    // Exact values once every thread is joined.
    let snap = mapgov::snapshot();
    check_in_range(&snap, &names);
    for (t, tally) in tallies.iter().enumerate() {
        assert!(tally.rounds > 0);
        let s = snap
            .sites
            .iter()
            .find(|s| s.name.as_deref() == Some(names[t]))
            .unwrap_or_else(|| panic!("site {}", names[t]));
        assert_eq!(
            (s.maps_created, s.maps_dropped, s.maps_live, s.maps_tracked),
            (tally.rounds, tally.rounds, 0, 0),
            "{}: every map created and dropped",
            names[t]
        );
        assert_eq!((s.entries, s.allocated_bytes, s.wasted_bytes), (0, 0, 0));
        assert_eq!(
            (s.inserts, s.updates, s.removes),
            (tally.inserts, tally.updates, tally.removes),
            "{}: exact operation counts",
            names[t]
        );
        assert!(
            s.grows >= tally.rounds.min(2),
            "{}: grows {}",
            names[t],
            s.grows
        );
        // The long-lived maps are gone too; their totals stay in their site.
        let long = format!("{}/long", names[t]);
        let s = snap
            .sites
            .iter()
            .find(|s| s.name.as_deref() == Some(long.as_str()))
            .unwrap();
        assert_eq!((s.maps_created, s.maps_dropped), (1, 1));
        assert_eq!(
            (s.inserts, s.removes, s.hits, s.misses),
            (
                tally.long_inserts,
                tally.long_removes,
                tally.long_hits,
                tally.long_misses
            )
        );
    }
    let hits: u64 = tallies.iter().map(|t| t.shared_hits).sum();
    let misses: u64 = tallies.iter().map(|t| t.shared_misses).sum();
    let stats = shared.stats().unwrap();
    assert_eq!(
        (stats.hits, stats.misses),
        (hits, misses),
        "shared map: exact lookups from two threads"
    );
    assert_eq!(
        (stats.len, stats.inserts, stats.removes),
        (10_000, 10_000, 0)
    );
    let mut in_snap = snap.map_named("concurrency/shared").unwrap().clone();
    in_snap.age = stats.age;
    assert_eq!(in_snap, stats);
}

#[test]
fn sampled_lookup_counts_are_within_five_percent_and_exact_when_counting_every_lookup() {
    setup();
    let _watchdog = Watchdog::start("the lookup sampling test", WATCHDOG);
    const PER_THREAD: u64 = 500_000;
    const KEYS: u64 = 1_000;
    const SPAN: u64 = 1_333;

    let mut sampled: HashMap<u64, u64> = HashMap::new().named("concurrency/sampled");
    let mut exact: HashMap<u64, u64> = HashMap::new()
        .named("concurrency/exact")
        .count_every_lookup();
    for k in 0..KEYS {
        sampled.insert(k, k);
        exact.insert(k, k);
    }
    assert_eq!(sampled.stats().unwrap().lookup_sample, 32);
    assert_eq!(exact.stats().unwrap().lookup_sample, 1);
    // A map that counts nothing (it has no table yet) looked up in the same loop: its lookups
    // run the thread's sampling countdown down too, and one that runs it out only draws the
    // next interval, so each lookup on the sampled map is still sampled with probability 1/32
    // and the estimates below stay unbiased (a bare lookup that ran it out and passed the
    // sample on to the next lookup, or left the countdown at zero, would show here).
    let empty: HashMap<u64, u64> = HashMap::new();
    let maps = Arc::new((sampled, exact, empty));
    let readers: Vec<_> = (0..2u64)
        .map(|t| {
            let maps = maps.clone();
            thread::spawn(move || {
                let (sampled, exact, empty) = &*maps;
                let mut hits = 0u64;
                for i in 0..PER_THREAD {
                    let k = (i * 7 + t) % SPAN;
                    let a = if i % 2 == 0 {
                        sampled.get(&k).is_some()
                    } else {
                        sampled.contains_key(&k)
                    };
                    assert!(empty.get(&k).is_none());
                    let b = exact.get(&k).is_some();
                    assert_eq!(a, b);
                    hits += u64::from(a);
                }
                hits
            })
        })
        .collect();
    let hits: u64 = readers.into_iter().map(|r| r.join().unwrap()).sum();
    let misses = 2 * PER_THREAD - hits;
    let (sampled, exact, empty) = &*maps;
    assert!(empty.stats().is_none(), "the empty map stayed untracked");

    let e = exact.stats().unwrap();
    assert_eq!((e.hits, e.misses), (hits, misses), "exact counting");

    let s = sampled.stats().unwrap();
    sampling::assert_estimates_within_five_percent(&s, hits, misses, 32);

    // The sites agree with the maps.
    let snap = mapgov::snapshot();
    for (name, stats) in [("concurrency/sampled", &s), ("concurrency/exact", &e)] {
        let site = snap
            .sites
            .iter()
            .find(|x| x.name.as_deref() == Some(name))
            .unwrap();
        assert_eq!(
            (site.hits, site.misses),
            (stats.hits, stats.misses),
            "{name}"
        );
    }
}

#[test]
fn sampled_lookup_counts_are_unbiased_for_short_lived_threads() {
    setup();
    let _watchdog = Watchdog::start("the short-lived threads test", WATCHDOG);
    const THREADS: u64 = 1_000;
    let mut m: HashMap<u64, u64> = HashMap::new().named("concurrency/short-lived");
    m.insert(1, 1);
    let m = Arc::new(m);
    // One hit and one miss per thread, a thread at a time (a thread per request, say).
    for _ in 0..THREADS {
        let m = m.clone();
        thread::spawn(move || {
            assert!(m.get(&1).is_some());
            assert!(!m.contains_key(&2));
        })
        .join()
        .unwrap();
    }
    let s = m.stats().unwrap();
    assert_eq!(s.lookup_sample, 32);
    // Unbiased sampling draws about 31 of each kind (Poisson): a factor of 2.5 either way is
    // out of reach (p < 1e-4); first-lookup sampling gives 32 times the truth.
    for (what, estimate) in [("hits", s.hits), ("misses", s.misses)] {
        assert!(
            (THREADS * 2 / 5..=THREADS * 5 / 2).contains(&estimate),
            "sampled {what}: estimate {estimate} for {THREADS} lookups"
        );
    }
}

#[test]
fn snapshots_do_not_block_a_thread_that_keeps_operating_on_a_map() {
    setup();
    let _watchdog = Watchdog::start("the non-blocking test", WATCHDOG);
    // One thread takes snapshots back to back for a while; the other must make progress in
    // the meantime (ordinary operations never take the registry lock).
    let stop = Arc::new(AtomicBool::new(false));
    let ops = Arc::new(AtomicU64::new(0));
    let snapper = {
        let stop = stop.clone();
        thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Relaxed) && n < 1_000_000 {
                let _ = mapgov::snapshot();
                n += 1;
            }
            n
        })
    };
    let operator = {
        let (stop, ops) = (stop.clone(), ops.clone());
        thread::spawn(move || {
            let mut m: HashMap<u64, u64> = HashMap::new().named("concurrency/operator");
            let mut i = 0u64;
            while !stop.load(Relaxed) && i < 50_000_000 {
                m.insert(i % 512, i);
                m.get(&(i % 1024));
                m.remove(&((i + 256) % 512));
                i += 1;
                ops.store(i, Relaxed);
            }
            let stats = m.stats().unwrap();
            assert_eq!(stats.len, m.len() as u64);
        })
    };
    thread::sleep(Duration::from_millis(500));
    let done = ops.load(Relaxed);
    stop.store(true, Relaxed);
    operator.join().unwrap();
    let snaps = snapper.join().unwrap();
    assert!(
        done > 1_000,
        "only {done} operations in 0.5 s beside {snaps} snapshots"
    );
    assert!(snaps > 10, "only {snaps} snapshots");
}

#[test]
fn a_snapshot_never_sees_a_table_half_resized_while_its_map_shrinks_to_nothing_and_regrows() {
    setup();
    let _watchdog = Watchdog::start("the half-resized table test", WATCHDOG);
    const NAME: &str = "concurrency/shrink-regrow";
    const CYCLES: u64 = 200_000;
    let stop = Arc::new(AtomicBool::new(false));
    let owner = {
        let stop = stop.clone();
        thread::spawn(move || {
            let mut m: HashMap<u64, u64> = HashMap::new().named(NAME);
            for k in 0..CYCLES {
                // No table (0 bytes, capacity 0) -> one of 4 buckets -> none again.
                m.insert(k, k);
                m.remove(&k);
                m.shrink_to_fit();
            }
            stop.store(true, Relaxed);
        })
    };
    let mut seen = 0u64;
    while !stop.load(Relaxed) {
        let snap = mapgov::snapshot();
        if let Some(m) = snap.map_named(NAME) {
            seen += 1;
            assert!(
                (m.allocated_bytes == 0) == (m.capacity == 0),
                "bytes and capacity from two different tables: {m:?}"
            );
            assert!(m.len <= m.inserts, "{m:?}");
            // The owner counts with plain stores, which x86 makes visible in order.
            if cfg!(target_arch = "x86_64") {
                assert!(m.removes <= m.inserts, "{m:?}");
            }
        }
    }
    owner.join().unwrap();
    assert!(seen >= 10, "the map was seen in only {seen} snapshots");
}
