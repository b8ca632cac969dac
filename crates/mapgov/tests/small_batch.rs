//! The thread's batch under stress: small maps at more sites than it has small slots (so sites
//! keep evicting each other), on eight threads, some kept in a thread-local and dropped by its
//! destructor before the batch's exit flush and some after it. Every site's aggregates must
//! add up to exactly what its maps did, and agree with each other in snapshots taken while
//! threads publish to them.
use std::cell::RefCell;
use std::collections::HashMap as StdMap;

use mapgov::{HashMap, Snapshot};

type M = HashMap<u32, u64>;
const SITES: usize = 24;

#[inline(never)]
fn new_at(i: usize) -> (M, u32) {
    match i {
        0 => (HashMap::new(), line!()),
        1 => (HashMap::new(), line!()),
        2 => (HashMap::new(), line!()),
        3 => (HashMap::new(), line!()),
        4 => (HashMap::new(), line!()),
        5 => (HashMap::new(), line!()),
        6 => (HashMap::new(), line!()),
        7 => (HashMap::new(), line!()),
        8 => (HashMap::new(), line!()),
        9 => (HashMap::new(), line!()),
        10 => (HashMap::new(), line!()),
        11 => (HashMap::new(), line!()),
        12 => (HashMap::new(), line!()),
        13 => (HashMap::new(), line!()),
        14 => (HashMap::new(), line!()),
        15 => (HashMap::new(), line!()),
        16 => (HashMap::new(), line!()),
        17 => (HashMap::new(), line!()),
        18 => (HashMap::new(), line!()),
        19 => (HashMap::new(), line!()),
        20 => (HashMap::new(), line!()),
        21 => (HashMap::new(), line!()),
        22 => (HashMap::new(), line!()),
        _ => (HashMap::new(), line!()),
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct C {
    created: i64,
    dropped: i64,
    entries: i64,
    bytes: i64,
    inserts: i64,
    removes: i64,
    grows: i64,
}

fn counts(snap: &Snapshot, line: u32) -> C {
    snap.sites
        .iter()
        .find(|s| {
            s.name.is_none() && s.site.line == line && s.site.file.ends_with("small_batch.rs")
        })
        .map_or(C::default(), |s| C {
            created: s.maps_created as i64,
            dropped: s.maps_dropped as i64,
            entries: s.entries as i64,
            bytes: s.allocated_bytes as i64,
            inserts: s.inserts as i64,
            removes: s.removes as i64,
            grows: s.grows as i64,
        })
}

thread_local! {
    static KEPT: RefCell<Vec<M>> = const { RefCell::new(Vec::new()) };
}

/// Builds a map at site `i` with `n` inserts and `n / 3` removes, counting what it did.
fn work(i: usize, n: u32, exp: &mut StdMap<usize, C>) -> M {
    let (mut m, _) = new_at(i);
    let e = exp.entry(i).or_default();
    e.created += 1;
    for k in 0..n {
        let before = m.allocation_size();
        m.insert(k, 1);
        if before > 0 && m.allocation_size() > before {
            e.grows += 1;
        }
    }
    for k in 0..n / 3 {
        m.remove(&k);
    }
    e.inserts += i64::from(n);
    e.removes += i64::from(n / 3);
    e.dropped += 1;
    assert!(m.stats().is_none(), "a small map");
    m
}

#[test]
fn sites_evicting_each_other_on_many_threads_add_up_exactly_whenever_maps_drop() {
    let lines: Vec<u32> = (0..SITES).map(|i| new_at(i).1).collect();
    let start = mapgov::snapshot();
    let handles: Vec<_> = (0..8)
        .map(|th: usize| {
            std::thread::spawn(move || {
                let mut exp = StdMap::new();
                // Odd threads register KEPT's destructor before the batch's exit flush (so
                // the kept maps are dropped after it), even ones after.
                if th % 2 == 1 {
                    KEPT.with(|k| k.borrow_mut().clear());
                }
                for r in 0..400usize {
                    let i = (r * 7 + th * 5) % SITES;
                    let n = ((r * 13 + th) % 40) as u32 + 1;
                    let m = work(i, n, &mut exp);
                    if r % 5 == 0 {
                        KEPT.with(|k| k.borrow_mut().push(m));
                    } else {
                        drop(m);
                    }
                }
                exp
            })
        })
        .collect();
    let mut exp: StdMap<usize, C> = StdMap::new();
    for h in handles {
        for (i, c) in h.join().unwrap() {
            let e = exp.entry(i).or_default();
            e.created += c.created;
            e.dropped += c.dropped;
            e.inserts += c.inserts;
            e.removes += c.removes;
            e.grows += c.grows;
        }
    }
    let end = mapgov::snapshot();
    for (i, &line) in lines.iter().enumerate() {
        let got = {
            let (a, b) = (counts(&end, line), counts(&start, line));
            C {
                created: a.created - b.created,
                dropped: a.dropped - b.dropped,
                entries: a.entries - b.entries,
                bytes: a.bytes - b.bytes,
                inserts: a.inserts - b.inserts,
                removes: a.removes - b.removes,
                grows: a.grows - b.grows,
            }
        };
        assert_eq!(
            got,
            exp.get(&i).copied().unwrap_or_default(),
            "site {i} (line {line})"
        );
    }
}

/// The one site of [`sites_read_by_a_snapshot_while_threads_publish_to_them_stay_consistent`].
#[inline(never)]
fn churn_site() -> (M, u32) {
    (HashMap::new(), line!())
}

/// The one site of [`sites_stay_consistent_while_threads_rename_maps_away_from_them`].
#[inline(never)]
fn renamed_site() -> (M, u32) {
    (HashMap::new(), line!())
}

#[test]
fn sites_read_by_a_snapshot_while_threads_publish_to_them_stay_consistent() {
    churn_under_snapshots(churn_site, 300_000, false);
}

#[test]
fn sites_stay_consistent_while_threads_rename_maps_away_from_them() {
    churn_under_snapshots(renamed_site, 50_000, true);
}

/// Two threads create maps at `site`, insert 4 keys, remove one and drop them (after renaming
/// every other one, which moves it and its counts to a named site), while this thread checks
/// the site's counters in snapshots.
fn churn_under_snapshots(site: fn() -> (M, u32), lifecycles: u32, rename: bool) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
    let line = site().1;
    let done = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let done = done.clone();
            std::thread::spawn(move || {
                for r in 0..lifecycles {
                    if done.load(Relaxed) {
                        break;
                    }
                    let (mut m, _) = site();
                    for k in 0..4 {
                        m.insert(k, u64::from(r));
                    }
                    m.remove(&0);
                    if rename && r % 2 == 0 {
                        m.set_name("small_batch/renamed");
                    }
                    drop(m);
                }
                done.store(true, Relaxed);
            })
        })
        .collect();
    let mut seen = 0u64;
    while !done.load(Relaxed) {
        let snap = mapgov::snapshot();
        let Some(s) = snap.sites.iter().find(|s| {
            s.name.is_none() && s.site.line == line && s.site.file.ends_with("small_batch.rs")
        }) else {
            continue;
        };
        seen += 1;
        assert_eq!(s.maps_live + s.maps_dropped, s.maps_created, "{s:?}");
        assert!(s.removes <= s.inserts, "{s:?}");
        assert!(s.entries <= s.inserts - s.removes, "{s:?}");
        assert!(s.entries <= s.peak_len * s.maps_live, "{s:?}");
        if s.maps_live == 0 {
            assert_eq!((s.entries, s.allocated_bytes), (0, 0), "{s:?}");
        }
    }
    for w in workers {
        w.join().unwrap();
    }
    assert!(seen >= 10, "the site was seen in only {seen} snapshots");
}
