//! The governance report finds each planted problem at the line that planted it, with the
//! right numbers, and finds nothing on a healthy workload.
//!
//! This binary installs nothing: maps use `Config::from_env()` with the defaults (tables of
//! 64 KiB and more tracked individually, one lookup in 32 sampled). Tests run in parallel and
//! share the process-wide registry, so every test gives its maps a unique name and looks its
//! findings up by the line of the constructor (`line!()` on the same line as `HashMap::new()`),
//! ignoring whatever the other tests planted.

use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, Instant};

use mapgov::{
    Finding, FindingKind, HashMap, Report, Severity, SiteStats, Snapshot, Thresholds, report_series,
};

const FILE: &str = "tests/report.rs";

/// The findings whose site is `line` of this file.
fn at_line(report: &Report, line: u32) -> Vec<&Finding> {
    report
        .findings
        .iter()
        .filter(|f| f.site.line == line && f.site.file.ends_with(FILE))
        .collect()
}

/// The findings of `kind` whose site is `line` of this file.
fn of_kind_at(report: &Report, kind: FindingKind, line: u32) -> Vec<&Finding> {
    at_line(report, line)
        .into_iter()
        .filter(|f| f.kind == kind)
        .collect()
}

/// The one finding of `kind` at `line` of this file, for the map(s) named `name`.
fn one<'a>(report: &'a Report, kind: FindingKind, line: u32, name: &str) -> &'a Finding {
    let found: Vec<&Finding> = at_line(report, line)
        .into_iter()
        .filter(|f| f.kind == kind && f.name.as_deref() == Some(name))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "expected one {kind} finding at {FILE}:{line} for {name:?}; findings there: {:#?}",
        at_line(report, line)
    );
    found[0]
}

/// The site aggregate at `line` of this file for maps named `name`.
fn site<'a>(snap: &'a Snapshot, line: u32, name: &str) -> &'a SiteStats {
    snap.sites
        .iter()
        .find(|s| {
            s.site.line == line && s.site.file.ends_with(FILE) && s.name.as_deref() == Some(name)
        })
        .unwrap_or_else(|| panic!("no site at {FILE}:{line} named {name:?}"))
}

/// Every finding's advice names its site, as `file:line:column`.
fn assert_advice_names_site(f: &Finding) {
    let site = f.site.to_string();
    assert_eq!(
        site,
        format!("{}:{}:{}", f.site.file, f.site.line, f.site.column)
    );
    assert!(
        f.advice.contains(&site),
        "advice of {} does not name {site}: {}",
        f.kind,
        f.advice
    );
    assert!(!f.summary.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Planted problems
// ---------------------------------------------------------------------------------------------

#[test]
fn waste_finding_gives_exactly_the_bytes_shrink_to_fit_frees() {
    let (line, m) = (line!(), HashMap::<u64, u64>::new());
    let mut m = m.named("report-waste");
    for i in 0..300_000 {
        m.insert(i, i);
    }
    for i in 0..285_000 {
        m.remove(&i);
    }
    let report = mapgov::snapshot().report();
    let f = one(&report, FindingKind::Waste, line, "report-waste");
    assert_advice_names_site(f);
    assert!(f.summary.contains("\"report-waste\""), "{}", f.summary);
    let stats = m.stats().expect("governed");
    assert_eq!(f.map_id, Some(stats.id));
    assert!(f.severity >= Severity::Warning);
    assert_eq!(f.evidence("len"), Some(15_000.0));
    assert_eq!(f.evidence("peak_len"), Some(300_000.0));
    assert_eq!(f.evidence("removes"), Some(285_000.0));

    let before = m.allocation_size();
    assert_eq!(f.evidence("allocated_bytes"), Some(before as f64));
    let wasted = f.evidence("wasted_bytes").expect("wasted_bytes evidence");
    m.shrink_to_fit();
    let after = m.allocation_size();
    assert!(after < before);
    assert_eq!(
        wasted,
        (before - after) as f64,
        "wasted_bytes evidence must equal what shrink_to_fit() frees"
    );
    assert_eq!(m.len(), 15_000);

    // Once shrunk, the map wastes nothing. (Its growth to 300,000 entries may well have
    // stalled for over 1 ms: that finding is another test's business.)
    let report = mapgov::snapshot().report();
    let found = of_kind_at(&report, FindingKind::Waste, line);
    assert!(found.is_empty(), "{found:#?}");
}

/// One map of the presize site: grown from `new()` to `n` entries, then dropped. Returns the
/// constructor's line and the map's peak length.
fn presize_victim(n: u64) -> (u32, u64) {
    let (line, m) = (line!(), HashMap::<u64, u64>::new());
    let mut m = m.named("report-presize");
    for i in 0..n {
        m.insert(i, i);
    }
    let peak = m.stats().expect("governed").peak_len;
    (line, peak)
}

#[test]
fn presize_finding_suggests_a_capacity_that_no_map_outgrows() {
    let mut peaks = Vec::new();
    let mut lines = Vec::new();
    for k in 0..10 {
        let (line, peak) = presize_victim(1_900 + 37 * k);
        lines.push(line);
        peaks.push(peak);
    }
    lines.dedup();
    assert_eq!(lines.len(), 1, "one constructor line");
    let line = lines[0];

    let snap = mapgov::snapshot();
    let s = site(&snap, line, "report-presize");
    assert_eq!((s.maps_created, s.maps_dropped), (10, 10));
    let report = snap.report();
    let f = one(&report, FindingKind::Presize, line, "report-presize");
    assert_advice_names_site(f);
    assert_eq!(f.map_id, None);
    assert_eq!(f.evidence("maps_created"), Some(10.0));
    assert!(f.evidence("grows_per_map").expect("grows_per_map") >= 4.0);
    let suggested = f
        .evidence("suggested_capacity")
        .expect("suggested_capacity evidence") as u64;
    for &peak in &peaks {
        assert!(
            suggested >= peak,
            "suggested {suggested} < observed peak {peak}"
        );
    }
    assert!(
        f.advice
            .contains(&format!("HashMap::with_capacity({suggested})")),
        "{}",
        f.advice
    );

    // Following the advice: maps created with that capacity never grow.
    for &peak in &peaks {
        let mut m: HashMap<u64, u64> = HashMap::with_capacity(suggested as usize);
        for i in 0..peak {
            m.insert(i, i);
        }
        assert_eq!(m.stats().expect("governed").grows, 0, "peak {peak}");
    }
}

#[test]
fn churn_finding_for_a_sliding_window() {
    let (line, m) = (line!(), HashMap::<u64, u64>::new());
    let mut window = m.named("report-churn");
    for i in 0..200_000u64 {
        window.insert(i, i);
        if i >= 100 {
            window.remove(&(i - 100));
        }
    }
    assert_eq!(window.len(), 100);
    drop(window);
    let snap = mapgov::snapshot();
    let s = site(&snap, line, "report-churn");
    let report = snap.report();
    let f = one(&report, FindingKind::Churn, line, "report-churn");
    assert_advice_names_site(f);
    assert_eq!(f.evidence("rehashes"), Some(s.rehashes as f64));
    assert!(s.rehashes >= 4, "{s:#?}");
    assert_eq!(f.evidence("removes"), Some(199_900.0));
    assert_eq!(f.evidence("inserts"), Some(200_000.0));
    assert_eq!(f.evidence("peak_len"), Some(101.0));
}

#[test]
fn resize_stall_finding_at_the_site_of_the_big_map() {
    let (line, m) = (line!(), HashMap::<u64, u64>::new());
    let mut m = m.named("report-stall");
    for i in 0..300_000 {
        m.insert(i, i);
    }
    let mut t = Thresholds::default();
    t.stall_min = Duration::from_nanos(1);
    t.stall_critical = Duration::from_secs(3600);
    let snap = mapgov::snapshot();
    let s = site(&snap, line, "report-stall");
    assert!(s.resize_max_nanos > 0, "{s:#?}");
    let report = snap.report_with(&t);
    let f = one(&report, FindingKind::ResizeStall, line, "report-stall");
    assert_advice_names_site(f);
    assert_eq!(f.severity, Severity::Warning);
    let worst = f
        .evidence("resize_max_seconds")
        .expect("resize_max_seconds");
    assert_eq!(
        worst,
        Duration::from_nanos(s.resize_max_nanos).as_secs_f64()
    );
    assert!(worst > 0.0);
    assert!(f.evidence("resize_total_seconds").expect("total") >= worst);
    assert_eq!(f.evidence("grows"), Some(s.grows as f64));
    assert_eq!(f.evidence("peak_len"), Some(300_000.0));
    assert!(f.advice.contains("with_capacity(300000)"), "{}", f.advice);
    assert!(f.advice.contains("mapgov::SplitMap"), "{}", f.advice);
    drop(m);
}

#[test]
fn a_split_map_gets_split_map_advice_for_a_stall_and_is_found_wasteful_after_removals() {
    let (line, m) = (line!(), mapgov::SplitMap::<u64, u64>::new());
    let mut m = m.named("report-split");
    for i in 0..300_000 {
        m.insert(i, i);
    }
    let mut t = Thresholds::default();
    t.stall_min = Duration::from_nanos(1);
    t.stall_critical = Duration::from_secs(3600);
    let report = mapgov::snapshot().report_with(&t);
    let f = one(&report, FindingKind::ResizeStall, line, "report-split");
    assert_advice_names_site(f);
    assert!(f.advice.contains("is a `SplitMap`"), "{}", f.advice);
    assert!(!f.advice.contains("make it a"), "{}", f.advice);

    // 90 % removed: the tables keep their memory, and the report says so.
    m.retain(|k, _| k % 10 == 0);
    let stats = m.stats().unwrap();
    assert!(stats.wasted_bytes > stats.allocated_bytes / 2, "{stats:#?}");
    let report = mapgov::snapshot().report();
    let f = one(&report, FindingKind::Waste, line, "report-split");
    assert_eq!(f.evidence("wasted_bytes"), Some(stats.wasted_bytes as f64));
    // shrink_to_fit frees at least what the report promised.
    let before = m.allocation_size();
    m.shrink_to_fit();
    assert!(before - m.allocation_size() >= stats.wasted_bytes as usize);
    drop(m);
}

/// A hasher that spins for a few microseconds per key: a resize of a few hundred entries takes
/// milliseconds.
#[derive(Clone, Default)]
struct SlowState;

struct SlowHasher(u64);

impl BuildHasher for SlowState {
    type Hasher = SlowHasher;
    fn build_hasher(&self) -> SlowHasher {
        SlowHasher(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for SlowHasher {
    fn finish(&self) -> u64 {
        let until = Instant::now() + Duration::from_micros(5);
        while Instant::now() < until {
            std::hint::spin_loop();
        }
        // A cheap, well-mixed finish (splitmix64).
        let mut z = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

type SlowMap = HashMap<u64, u64, SlowState>;

#[test]
fn a_small_table_never_counts_as_a_stall_however_slow() {
    let (line, m) = (line!(), SlowMap::with_hasher(SlowState));
    let mut m = m.named("report-slow-small");
    // 1,500 entries: the largest table is 2,048 buckets (about 34 KiB), under 64 KiB.
    for i in 0..1_500 {
        m.insert(i, i);
    }
    assert!(m.allocation_size() < 64 * 1024);
    drop(m);
    let snap = mapgov::snapshot();
    let s = site(&snap, line, "report-slow-small");
    // It was slow: its resizes took well over the 1 ms stall threshold...
    assert!(
        s.resize_nanos >= 1_000_000,
        "the slow hasher should make resizes slow: {s:#?}"
    );
    // ...but no resize of a table under 64 KiB counts as the worst stall.
    assert_eq!(s.resize_max_nanos, 0, "{s:#?}");
    let report = snap.report();
    assert!(
        at_line(&report, line).is_empty(),
        "{:#?}",
        at_line(&report, line)
    );
    let mut t = Thresholds::default();
    t.stall_min = Duration::from_nanos(1);
    let report = snap.report_with(&t);
    assert!(
        !at_line(&report, line)
            .iter()
            .any(|f| f.kind == FindingKind::ResizeStall),
        "{:#?}",
        at_line(&report, line)
    );
}

#[test]
fn unbounded_growth_across_snapshots_but_not_for_a_drained_map() {
    let (leak_line, leak) = (line!(), HashMap::<u64, u64>::new());
    let mut leak = leak.named("report-leak");
    let (drained_line, drained) = (line!(), HashMap::<u64, u64>::new());
    let mut drained = drained.named("report-drained");
    let mut series = Vec::new();
    for round in 0..3u64 {
        for i in round * 20_000..(round + 1) * 20_000 {
            leak.insert(i, i);
            drained.insert(i, i);
        }
        if round == 2 {
            // Drained: half removed one by one, the rest cleared.
            for i in 0..30_000 {
                drained.remove(&i);
            }
            drained.clear();
        }
        series.push(mapgov::snapshot());
    }

    let t = Thresholds::default();
    // Two snapshots are not a trend.
    let early = report_series(&series[..2], &t);
    let found = of_kind_at(&early, FindingKind::UnboundedGrowth, leak_line);
    assert!(found.is_empty(), "{found:#?}");

    let report = report_series(&series, &t);
    let f = one(
        &report,
        FindingKind::UnboundedGrowth,
        leak_line,
        "report-leak",
    );
    assert_advice_names_site(f);
    assert!(f.summary.contains("\"report-leak\""), "{}", f.summary);
    assert_eq!(f.map_id, Some(leak.stats().expect("governed").id));
    assert_eq!(f.evidence("first_len"), Some(20_000.0));
    assert_eq!(f.evidence("last_len"), Some(60_000.0));
    assert_eq!(f.evidence("snapshots"), Some(3.0));
    // Only one growth finding for the map: its site is not reported a second time.
    assert_eq!(
        of_kind_at(&report, FindingKind::UnboundedGrowth, leak_line).len(),
        1
    );
    let found = of_kind_at(&report, FindingKind::UnboundedGrowth, drained_line);
    assert!(found.is_empty(), "{found:#?}");
}

/// One small map of a site that keeps many of them.
fn small_map(first_key: u64) -> (u32, HashMap<u64, u64>) {
    let (line, m) = (line!(), HashMap::<u64, u64>::new());
    let mut m = m.named("report-many-small");
    for i in first_key..first_key + 100 {
        m.insert(i, i);
    }
    (line, m)
}

#[test]
fn unbounded_growth_of_a_site_that_keeps_many_small_maps() {
    let mut kept = Vec::new();
    let mut series = Vec::new();
    let mut line = 0;
    for round in 0..3u64 {
        for k in 0..300u64 {
            let (l, m) = small_map((round * 300 + k) * 100);
            line = l;
            kept.push(m);
        }
        series.push(mapgov::snapshot());
    }
    let last = site(&series[2], line, "report-many-small");
    assert_eq!(
        last.maps_tracked, 0,
        "the maps are small: only the site knows them"
    );
    let report = report_series(&series, &Thresholds::default());
    let f = one(
        &report,
        FindingKind::UnboundedGrowth,
        line,
        "report-many-small",
    );
    assert_eq!(f.map_id, None);
    assert_advice_names_site(f);
    assert!(f.evidence("last_len").expect("last_len") >= 1.5 * f.evidence("first_len").unwrap());
}

// ---------------------------------------------------------------------------------------------
// A healthy workload
// ---------------------------------------------------------------------------------------------

/// One of many short-lived maps created with the capacity they need.
fn presized_short_lived() -> u32 {
    let (line, m) = (line!(), HashMap::<u64, u64>::with_capacity(2_000));
    let mut m = m.named("healthy-presized-short");
    for i in 0..2_000 {
        m.insert(i, i * 3);
    }
    assert_eq!(m.stats().expect("governed").grows, 0);
    line
}

/// A small xorshift generator: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn a_healthy_workload_has_no_findings() {
    let mut lines = Vec::new();

    // Many short-lived pre-sized maps.
    for _ in 0..20 {
        lines.push(presized_short_lived());
    }

    // A large pre-sized map, filled to what it was sized for.
    let (line, big) = (line!(), HashMap::<u64, u64>::with_capacity(300_000));
    lines.push(line);
    let mut big = big.named("healthy-presized-big");
    for i in 0..300_000 {
        big.insert(i, i);
    }

    // A steady cache: at most 10,000 entries, random eviction, twice the capacity it holds.
    const LIMIT: usize = 10_000;
    let (line, cache) = (line!(), HashMap::<u64, u64>::with_capacity(2 * LIMIT));
    lines.push(line);
    let mut cache = cache.named("healthy-cache");
    let mut keys: Vec<u64> = Vec::with_capacity(LIMIT);
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut cache_round = |cache: &mut HashMap<u64, u64>, ops: usize| {
        for _ in 0..ops {
            let r = rng.next();
            // 70 % lookups of a key that may have been evicted, 30 % inserts of a new key.
            if r % 10 < 7 && !keys.is_empty() {
                let k = keys[(r >> 8) as usize % keys.len()];
                std::hint::black_box(cache.get(&k));
            } else {
                let k = r >> 4;
                if cache.insert(k, r).is_none() {
                    keys.push(k);
                }
                if cache.len() > LIMIT {
                    let victim = keys.swap_remove((rng.next() >> 8) as usize % keys.len());
                    cache.remove(&victim);
                }
            }
        }
    };

    // A batch buffer, cleared and refilled again and again.
    let (line, reused) = (line!(), HashMap::<u64, u64>::with_capacity(50_000));
    lines.push(line);
    let mut reused = reused.named("healthy-reused");
    let refill = |reused: &mut HashMap<u64, u64>, batch: u64| {
        reused.clear();
        for i in 0..50_000 {
            reused.insert(batch * 1_000_000 + i, i);
        }
    };

    // A small scratch map from `new()`, cleared and reused.
    let (line, scratch) = (line!(), HashMap::<u64, u64>::new());
    lines.push(line);
    let mut scratch = scratch.named("healthy-scratch");

    let mut series = Vec::new();
    for round in 0..4u64 {
        cache_round(&mut cache, 200_000);
        refill(&mut reused, round);
        scratch.clear();
        for i in 0..1_000 {
            scratch.insert(i, round);
        }
        if round > 0 {
            // Steady state: the cache is full and every map is at its working size.
            series.push(mapgov::snapshot());
        }
    }
    assert_eq!(cache.len(), LIMIT);
    assert_eq!(cache.stats().expect("governed").grows, 0);
    assert_eq!(big.stats().expect("governed").grows, 0);
    assert_eq!(reused.stats().expect("governed").grows, 0);

    let last = series.last().expect("snapshots");
    for &line in &lines {
        // The healthy maps are there to be judged (the lines are right).
        assert!(
            last.sites
                .iter()
                .any(|s| s.site.line == line && s.site.file.ends_with(FILE)),
            "no site at {FILE}:{line}"
        );
    }
    let single = last.report();
    let over_time = report_series(&series, &Thresholds::default());
    for report in [&single, &over_time] {
        for &line in &lines {
            let found = at_line(report, line);
            assert!(
                found.is_empty(),
                "healthy map at {FILE}:{line} has findings: {found:#?}"
            );
        }
    }
}

#[test]
fn a_presized_map_that_is_still_filling_is_not_waste() {
    // Pre-sized for 200,000 entries and still loading: it has removed nothing, so nothing it
    // holds is "waste left by removals", and shrinking it would only make it grow again.
    let (line, m) = (line!(), HashMap::<u64, u64>::with_capacity(200_000));
    let mut m = m.named("healthy-presized-filling");
    for i in 0..50_000 {
        m.insert(i, i);
    }
    let report = mapgov::snapshot().report();
    let found = at_line(&report, line);
    assert!(
        found.is_empty(),
        "a pre-sized map that has not removed anything is reported: {found:#?}"
    );
    assert_eq!(m.stats().expect("governed").removes, 0);
}

// ---------------------------------------------------------------------------------------------
// The report's shape
// ---------------------------------------------------------------------------------------------

#[test]
fn findings_are_ordered_most_severe_first_and_counted_by_severity() {
    // One critical (waste, with the critical line lowered), one warning (stall, with the stall
    // line lowered) and one info (presize) finding of this test's own, among everyone else's.
    let (waste_line, w) = (line!(), HashMap::<u64, u64>::new());
    let mut w = w.named("report-order-waste");
    for i in 0..200_000 {
        w.insert(i, i);
    }
    w.retain(|k, _| k % 20 == 0);
    let mut presize_line = 0;
    for _ in 0..8 {
        let (line, m) = (line!(), HashMap::<u64, u64>::new());
        presize_line = line;
        let mut m = m.named("report-order-presize");
        for i in 0..500 {
            m.insert(i, i);
        }
    }
    let mut t = Thresholds::default();
    t.waste_critical_bytes = 1;
    t.stall_min = Duration::from_nanos(1);
    t.stall_critical = Duration::from_secs(3600);
    let report = mapgov::snapshot().report_with(&t);

    let waste = one(
        &report,
        FindingKind::Waste,
        waste_line,
        "report-order-waste",
    );
    assert_eq!(waste.severity, Severity::Critical);
    let stall = one(
        &report,
        FindingKind::ResizeStall,
        waste_line,
        "report-order-waste",
    );
    assert_eq!(stall.severity, Severity::Warning);
    let presize = one(
        &report,
        FindingKind::Presize,
        presize_line,
        "report-order-presize",
    );
    assert_eq!(presize.severity, Severity::Info);
    let pos = |f: &Finding| {
        report
            .findings
            .iter()
            .position(|g| g == f)
            .expect("finding in report")
    };
    assert!(pos(waste) < pos(stall) && pos(stall) < pos(presize));

    // Most severe first, then by kind, then by site.
    for pair in report.findings.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        assert!(
            a.severity > b.severity
                || (a.severity == b.severity && a.kind < b.kind)
                || (a.severity == b.severity && a.kind == b.kind && a.site <= b.site),
            "out of order: {a:#?} before {b:#?}"
        );
    }

    let count = |s: Severity| report.findings.iter().filter(|f| f.severity >= s).count();
    assert_eq!(report.count_at_least(Severity::Info), report.findings.len());
    for s in [Severity::Info, Severity::Warning, Severity::Critical] {
        assert_eq!(report.count_at_least(s), count(s), "{s}");
    }
    assert!(report.count_at_least(Severity::Critical) >= 1);
    assert_eq!(report.worst(), Some(Severity::Critical));
    assert_eq!(report.worst(), report.findings.first().map(|f| f.severity));
    assert_eq!(
        report.of_kind(FindingKind::Presize).count(),
        report
            .findings
            .iter()
            .filter(|f| f.kind == FindingKind::Presize)
            .count()
    );
    for f in at_line(&report, waste_line)
        .into_iter()
        .chain(at_line(&report, presize_line))
    {
        assert_advice_names_site(f);
    }
    drop(w);
}

#[test]
fn an_empty_report_counts_nothing() {
    let report = report_series(&[], &Thresholds::default());
    assert!(report.findings.is_empty());
    assert_eq!(report.worst(), None);
    assert_eq!(report.count_at_least(Severity::Info), 0);
}

#[test]
fn severities_parse_display_and_order() {
    for (text, severity) in [
        ("info", Severity::Info),
        ("INFO", Severity::Info),
        ("warning", Severity::Warning),
        ("Warn", Severity::Warning),
        ("critical", Severity::Critical),
        ("crit", Severity::Critical),
    ] {
        assert_eq!(text.parse::<Severity>(), Ok(severity), "{text}");
    }
    for severity in [Severity::Info, Severity::Warning, Severity::Critical] {
        assert_eq!(severity.to_string().parse::<Severity>(), Ok(severity));
    }
    assert_eq!(Severity::Warning.to_string(), "warning");
    for bad in ["", "loud", "warnings", "error"] {
        let err = bad.parse::<Severity>().expect_err(bad);
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("{bad:?}")) && msg.contains("info, warning or critical"),
            "{msg}"
        );
    }
    assert!(Severity::Info < Severity::Warning && Severity::Warning < Severity::Critical);
    let kinds = [
        (FindingKind::Waste, "waste"),
        (FindingKind::UnboundedGrowth, "unbounded-growth"),
        (FindingKind::Presize, "presize"),
        (FindingKind::Churn, "churn"),
        (FindingKind::ResizeStall, "resize-stall"),
    ];
    for (kind, text) in kinds {
        assert_eq!(kind.to_string(), text);
    }
}
