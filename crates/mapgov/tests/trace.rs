//! Lifecycle events and their exports: exact counts and sizes, the lossy ring's exact drop
//! count, the `tracing` form, and the JSON Lines, Chrome trace and pprof exports.
//!
//! Every test takes [`serial`]: the event ring is process-wide, and exact counts need the
//! tests of this binary not to record events at the same time. Ring size: [`RING`].
#![cfg(feature = "serde")]

use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, MutexGuard, Once};

use mapgov::{Config, Event, EventKind, HashMap, Snapshot};

#[path = "support/tracing_capture.rs"]
mod tracing_capture;
use tracing_capture::{Capture, Captured, with_capture};

#[path = "support/clustered.rs"]
mod clustered;
use clustered::Clustered;

const RING: usize = 1024;

fn setup() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = Config::from_env()
            .track_min_bytes(0)
            .lookup_sample(1)
            .time_min_bytes(0)
            .events(RING)
            .install();
    });
    let c = mapgov::current_config();
    assert_eq!(c.get_events(), RING);
    assert_eq!(c.get_track_min_bytes(), 0);
}

fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    setup();
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn events_of(snap: &Snapshot, map_id: u64) -> Vec<&Event> {
    snap.events.iter().filter(|e| e.map_id == map_id).collect()
}

/// What an independent observer (the table's own `len`, `capacity` and `allocation_size`
/// around each operation) says happened.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    kind: EventKind,
    before: (u64, u64, u64),
    after: (u64, u64, u64),
}

/// `(len, capacity, bytes)`.
type Triple = (u64, u64, u64);

fn state<S: BuildHasher>(m: &HashMap<u64, u64, S>) -> Triple {
    (
        m.len() as u64,
        m.capacity() as u64,
        m.allocation_size() as u64,
    )
}

/// Runs `op` on `m` and records the resize it caused, if any.
fn observe<S: BuildHasher, R>(
    m: &mut HashMap<u64, u64, S>,
    seen: &mut Vec<Seen>,
    op: impl FnOnce(&mut HashMap<u64, u64, S>) -> R,
) -> R {
    let before = state(m);
    let r = op(m);
    let after = state(m);
    let kind = if before.2 > 0 && after.2 > before.2 {
        Some(EventKind::Grew)
    } else if before.2 > 0 && after.2 < before.2 {
        Some(EventKind::Shrank)
    } else if before.2 > 0 && after.2 == before.2 && after.1 > before.1 {
        // In place: the allocation is unchanged and the tombstones' room is back.
        Some(EventKind::Rehashed)
    } else {
        None
    };
    if let Some(kind) = kind {
        // A resize moves the entries it has: an insert that needs room resizes first and adds
        // its entry after, so the resize itself ends with the length it started with.
        seen.push(Seen {
            kind,
            before,
            after: (before.0, after.1, after.2),
        });
    }
    r
}

fn as_seen(e: &Event) -> Seen {
    Seen {
        kind: e.kind,
        before: (e.before.len, e.before.capacity, e.before.bytes),
        after: (e.after.len, e.after.capacity, e.after.bytes),
    }
}

#[test]
fn grows_rehashes_shrinks_and_clears_are_exactly_the_events_with_their_sizes() {
    let _turn = serial();
    let mut m: HashMap<u64, u64, Clustered> = HashMap::with_hasher(Clustered).named("trace/exact");
    let mut seen = Vec::new();
    let mut clears = Vec::new();
    // Two rounds of: fill a run of consecutive buckets until the table is full (the first
    // round grows it), remove the run's middle (tombstones), insert into the full table (an
    // in-place rehash); then clear.
    for _round in 0..2 {
        let mut k = 0;
        while m.len() < 100 || m.len() < m.capacity() {
            observe(&mut m, &mut seen, |m| m.insert(k, k));
            k += 1;
        }
        let full = m.capacity() as u64;
        for k in 16..full - 16 {
            observe(&mut m, &mut seen, |m| m.remove(&k));
        }
        assert_eq!(m.len(), m.capacity(), "no free bucket left");
        observe(&mut m, &mut seen, |m| m.insert(1_000_000, 0));
        let before = state(&m);
        m.clear();
        clears.push((before, state(&m)));
    }
    // An empty map's clear records nothing.
    m.clear();
    // Shrink: refill a little, then shrink_to_fit.
    for k in 0..10 {
        observe(&mut m, &mut seen, |m| m.insert(k, k));
    }
    observe(&mut m, &mut seen, HashMap::shrink_to_fit);
    let rehashes = seen
        .iter()
        .filter(|s| s.kind == EventKind::Rehashed)
        .count();
    assert_eq!(
        rehashes, 2,
        "the workload rehashes in place twice: {seen:#?}"
    );

    let stats = m.stats().unwrap();
    let snap = mapgov::snapshot();
    let evs = events_of(&snap, stats.id);
    let kinds = |k: EventKind| evs.iter().filter(|e| e.kind == k).count() as u64;
    assert_eq!(kinds(EventKind::Created), 1, "{evs:#?}");
    assert_eq!(evs[0].kind, EventKind::Created);
    assert_eq!(kinds(EventKind::Grew), stats.grows);
    assert_eq!(kinds(EventKind::Rehashed), stats.rehashes);
    assert_eq!(kinds(EventKind::Shrank), stats.shrinks);
    assert_eq!(stats.rehashes, 2);
    assert_eq!(stats.shrinks, 1);
    assert!(stats.grows >= 4, "{stats:?}");
    // The same resizes, in the same order, with the same sizes as the observer saw.
    let resizes: Vec<Seen> = evs
        .iter()
        .filter(|e| e.kind.is_resize())
        .map(|e| as_seen(e))
        .collect();
    assert_eq!(resizes, seen);
    // Every timed resize has its duration (MAPGOV_TIME_MIN_BYTES is 0 here).
    assert!(
        evs.iter()
            .filter(|e| e.kind.is_resize())
            .all(|e| e.duration_nanos.is_some())
    );
    let cleared: Vec<(Triple, Triple)> = evs
        .iter()
        .filter(|e| e.kind == EventKind::Cleared)
        .map(|e| {
            let c = as_seen(e);
            (c.before, c.after)
        })
        .collect();
    assert_eq!(cleared, clears);
    for e in &evs {
        assert_eq!(e.name.as_deref(), Some("trace/exact"));
        assert!(e.site.file.ends_with("trace.rs"), "{:?}", e.site);
        assert!(e.thread_id > 0);
        assert!(e.time_unix_nanos > 1_600_000_000_000_000_000);
    }
    // Ordered by sequence and time.
    assert!(evs.windows(2).all(|w| w[0].seq < w[1].seq));
    assert!(evs.windows(2).all(|w| w[0].mono_nanos <= w[1].mono_nanos));

    // The drop: its lifetime summary.
    let (id, peak) = (stats.id, stats.peak_len);
    let ops = stats.inserts + stats.updates + stats.removes + stats.hits + stats.misses;
    let last = (m.len() as u64, stats.capacity, stats.allocated_bytes);
    drop(m);
    let snap = mapgov::snapshot();
    let dropped: Vec<&Event> = events_of(&snap, id)
        .into_iter()
        .filter(|e| e.kind == EventKind::Dropped)
        .collect();
    assert_eq!(dropped.len(), 1);
    let d = dropped[0];
    let life = d.lifetime.expect("a drop has a lifetime");
    assert_eq!(life.peak_len, peak);
    assert_eq!(life.operations, ops);
    assert!(life.age_nanos > 0);
    assert_eq!((d.before.len, d.before.capacity, d.before.bytes), last);
    assert_eq!((d.after.len, d.after.capacity, d.after.bytes), (0, 0, 0));
}

#[test]
fn ordinary_operations_record_no_event() {
    let _turn = serial();
    let mut m: HashMap<u64, u64> = HashMap::with_capacity(1000).named("trace/quiet");
    let id = m.stats().unwrap().id;
    let seq_before = mapgov::snapshot().events.last().map_or(0, |e| e.seq);
    for i in 0..500 {
        m.insert(i, i);
        m.insert(i, i + 1);
        let _ = m.get(&i);
        let _ = m.get(&(i + 10_000));
        m.remove(&i);
    }
    let snap = mapgov::snapshot();
    let after: Vec<&Event> = snap.events.iter().filter(|e| e.seq > seq_before).collect();
    assert!(after.is_empty(), "{after:#?}");
    assert_eq!(events_of(&snap, id).len(), 1, "only its creation");
}

#[test]
fn an_overflowing_ring_reports_exactly_how_many_it_dropped() {
    let _turn = serial();
    let s0 = mapgov::snapshot();
    let (k0, d0) = (s0.events.len() as u64, s0.events_dropped);
    let seq0 = s0.events.last().map_or(0, |e| e.seq);
    // Each map: one `created` (with_capacity allocates) and one `dropped`.
    let maps = 3 * RING as u64;
    for i in 0..maps {
        let mut m: HashMap<u64, u64> = HashMap::with_capacity(4).named("trace/overflow");
        m.insert(i, i);
    }
    let written = 2 * maps;
    let s1 = mapgov::snapshot();
    let expected_overwritten = (k0 + written).saturating_sub(RING as u64);
    assert_eq!(s1.events.len(), RING);
    assert_eq!(s1.events_dropped - d0, expected_overwritten);
    let last = s1.events.last().unwrap().seq;
    assert_eq!(last, seq0 + written);
    assert_eq!(s1.events[0].seq, last - RING as u64 + 1, "oldest first");
    assert!(s1.events.windows(2).all(|w| w[1].seq == w[0].seq + 1));
    // The exports say so too.
    let lines = mapgov::trace::jsonl(std::slice::from_ref(&s1));
    let header: serde_json::Value = serde_json::from_str(lines.lines().next().unwrap()).unwrap();
    assert_eq!(header["events_dropped"], s1.events_dropped);
    assert_eq!(header["events"], RING);
}

#[test]
fn contended_records_are_dropped_and_counted_never_waited_for() {
    let _turn = serial();
    let s0 = mapgov::snapshot();
    let (k0, d0) = (s0.events.len() as u64, s0.events_dropped);
    let seq0 = s0.events.last().map_or(0, |e| e.seq);
    let threads = 4;
    let per_thread = 2_000u64;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    // A reader copying the ring over and over, to make the recorders meet it.
    let reader = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let _ = mapgov::snapshot();
                n += 1;
            }
            n
        })
    };
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            std::thread::spawn(move || {
                for i in 0..per_thread {
                    let mut m: HashMap<u64, u64> =
                        HashMap::with_capacity(4).named("trace/contended");
                    m.insert(t * per_thread + i, i);
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = reader.join().unwrap();
    let s1 = mapgov::snapshot();
    let attempted = threads * per_thread * 2;
    let written = s1.events.last().unwrap().seq - seq0;
    let overwritten = (k0 + written).saturating_sub(RING as u64);
    let contended = s1.events_dropped - d0 - overwritten;
    assert_eq!(
        written + contended,
        attempted,
        "every event is either in the ring's sequence or counted as dropped"
    );
}

// ---------------------------------------------------------------------------------------------
// tracing
// ---------------------------------------------------------------------------------------------

#[test]
fn a_tracing_subscriber_receives_every_event_with_its_fields() {
    let _turn = serial();
    let capture = Capture::default();
    let seen = Arc::clone(&capture.0);
    let (line, id, stats) = with_capture(capture, || {
        let (line, m) = (line!(), HashMap::<u64, u64>::new());
        let mut m = m
            .named("trace/traced")
            .budget(mapgov::Budget::entries(3000));
        for i in 0..5000 {
            m.insert(i, i);
        }
        m.clear();
        let stats = m.stats().unwrap();
        (line, stats.id, stats)
    });
    let seen = seen.lock().unwrap();
    let ours: Vec<&Captured> = seen
        .iter()
        .filter(|c| c.target == "mapgov" && c.fields.get("map_id") == Some(&id.to_string()))
        .collect();
    let count = |kind: &str| {
        ours.iter()
            .filter(|c| c.fields.get("kind").map(String::as_str) == Some(kind))
            .count() as u64
    };
    assert_eq!(count("created"), 1, "{ours:#?}");
    assert_eq!(count("grew"), stats.grows);
    assert_eq!(count("budget_exceeded"), 1);
    assert_eq!(count("cleared"), 1);
    assert_eq!(count("dropped"), 1);
    let site = format!("trace.rs:{line}:");
    for c in &ours {
        let f = |k: &str| c.fields.get(k).map(String::as_str);
        assert!(f("site").unwrap().contains(&site), "{c:#?}");
        assert_eq!(f("name"), Some("trace/traced"));
        for k in [
            "thread_id",
            "len_before",
            "len_after",
            "capacity_before",
            "capacity_after",
            "bytes_before",
            "bytes_after",
        ] {
            assert!(
                f(k).is_some_and(|v| v.parse::<u64>().is_ok()),
                "{k}: {c:#?}"
            );
        }
        match f("kind").unwrap() {
            "budget_exceeded" => {
                assert_eq!(c.level, tracing::Level::WARN);
                assert_eq!(f("message"), Some("map budget exceeded"));
                assert_eq!(f("limit_kind"), Some("entries"));
                assert_eq!(f("limit"), Some("3000"));
                assert_eq!(f("value"), Some("3001"));
            }
            "grew" => {
                // Small tables never count as stalls.
                if c.fields["bytes_before"].parse::<u64>().unwrap() < 64 * 1024 {
                    assert_eq!(c.level, tracing::Level::DEBUG);
                }
                assert!(f("duration_ns").is_some(), "a timed resize: {c:#?}");
                let before: u64 = c.fields["bytes_before"].parse().unwrap();
                let after: u64 = c.fields["bytes_after"].parse().unwrap();
                assert!(after > before);
            }
            "dropped" => {
                assert_eq!(c.level, tracing::Level::DEBUG);
                assert_eq!(f("peak_len"), Some("5000"));
                assert!(f("age_ns").is_some() && f("operations").is_some());
            }
            _ => assert_eq!(c.level, tracing::Level::DEBUG),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Exports
// ---------------------------------------------------------------------------------------------

/// A workload with every kind of event, and the snapshot after it.
fn workload() -> (Snapshot, u64) {
    let mut a: HashMap<u64, u64> = HashMap::new().named("trace/export-a");
    for i in 0..20_000 {
        a.insert(i, i);
    }
    a.retain(|k, _| k % 4 == 0);
    a.shrink_to_fit();
    let mut b: HashMap<String, u32> = HashMap::new();
    for i in 0..300 {
        b.insert(i.to_string(), i);
    }
    b.clear();
    let id = a.stats().unwrap().id;
    let gone: HashMap<u64, u64> = (0..1000).map(|i| (i, i)).collect();
    drop(gone);
    let snap = mapgov::snapshot();
    std::mem::forget((a, b));
    (snap, id)
}

#[test]
fn jsonl_has_a_header_and_one_event_per_line() {
    let _turn = serial();
    let (snap, _) = workload();
    let text = mapgov::trace::jsonl(std::slice::from_ref(&snap));
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    assert!(header.starts_with(r#"{"format":"mapgov-events","version":1,"#));
    let header: serde_json::Value = serde_json::from_str(header).unwrap();
    assert_eq!(header["events"], snap.events.len());
    let back: Vec<Event> = lines.map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(back, snap.events);
}

/// The rules of the Chrome trace event format that viewers rely on.
fn check_chrome_trace(doc: &serde_json::Value) {
    let events = doc["traceEvents"].as_array().expect("traceEvents array");
    assert!(!events.is_empty());
    for e in events {
        let ph = e["ph"].as_str().expect("ph");
        assert!(e["name"].is_string(), "name: {e}");
        assert!(e["pid"].is_u64() && e["tid"].is_u64(), "pid/tid: {e}");
        match ph {
            "M" => assert!(e["args"]["name"].is_string(), "{e}"),
            "X" => {
                assert!(e["ts"].as_f64().is_some_and(|t| t >= 0.0), "{e}");
                assert!(e["dur"].as_f64().is_some_and(|d| d >= 0.0), "{e}");
            }
            "i" => {
                assert!(e["ts"].as_f64().is_some_and(|t| t >= 0.0), "{e}");
                assert!(matches!(e["s"].as_str(), Some("g" | "p" | "t")), "{e}");
                assert!(e.get("dur").is_none());
            }
            "C" => {
                assert!(e["ts"].as_f64().is_some_and(|t| t >= 0.0), "{e}");
                let args = e["args"].as_object().expect("counter args");
                assert!(!args.is_empty());
                assert!(args.values().all(serde_json::Value::is_number), "{e}");
            }
            other => panic!("unexpected phase {other}: {e}"),
        }
    }
}

#[test]
fn the_chrome_trace_follows_the_format_and_times_are_microseconds() {
    let _turn = serial();
    let (snap, id) = workload();
    let text = mapgov::trace::chrome(std::slice::from_ref(&snap), 4242);
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    check_chrome_trace(&doc);
    let origin = doc["otherData"]["origin_unix_ns"].as_u64().unwrap();
    let events = doc["traceEvents"].as_array().unwrap();
    // Each timed resize is a complete event on its thread, ts and dur in microseconds.
    let resizes: Vec<&Event> = snap
        .events
        .iter()
        .filter(|e| e.map_id == id && e.kind.is_resize())
        .collect();
    assert!(resizes.len() >= 5);
    for r in resizes {
        let x = events
            .iter()
            .find(|e| e["ph"] == "X" && e["args"]["seq"] == r.seq)
            .expect("a complete event per timed resize");
        let dur = r.duration_nanos.unwrap();
        assert!((x["dur"].as_f64().unwrap() - dur as f64 / 1000.0).abs() < 1e-6);
        let ts = (r.time_unix_nanos - dur - origin) as f64 / 1000.0;
        assert!((x["ts"].as_f64().unwrap() - ts).abs() < 1e-3);
        assert_eq!(x["tid"], r.thread_id);
        assert_eq!(x["pid"], 4242);
    }
    // Instant events for the rest, counters for every site.
    for kind in ["created", "cleared", "dropped"] {
        assert!(
            events
                .iter()
                .any(|e| e["ph"] == "i" && e["name"].as_str().unwrap().starts_with(kind)),
            "{kind}"
        );
    }
    let counters = events.iter().filter(|e| e["ph"] == "C").count();
    assert_eq!(counters, 2 * snap.sites.len());
    let a = events
        .iter()
        .find(|e| {
            e["ph"] == "C"
                && e["name"]
                    .as_str()
                    .unwrap()
                    .starts_with("bytes: trace/export-a")
        })
        .unwrap();
    let site = snap
        .sites
        .iter()
        .find(|s| s.name.as_deref() == Some("trace/export-a"))
        .unwrap();
    assert_eq!(a["args"]["bytes"], site.allocated_bytes);
}

#[cfg(feature = "pprof")]
mod pprof {
    //! profile.proto's messages, written here again from the published definition
    //! (github.com/google/pprof, proto/profile.proto) rather than taken from mapgov, so that
    //! the test does not share the library's mistakes. Only the fields checked are declared;
    //! prost skips the others.

    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct Profile {
        #[prost(message, repeated, tag = "1")]
        pub(super) sample_type: Vec<ValueType>,
        #[prost(message, repeated, tag = "2")]
        pub(super) sample: Vec<Sample>,
        #[prost(message, repeated, tag = "4")]
        pub(super) location: Vec<Location>,
        #[prost(message, repeated, tag = "5")]
        pub(super) function: Vec<Function>,
        #[prost(string, repeated, tag = "6")]
        pub(super) string_table: Vec<String>,
        #[prost(int64, tag = "9")]
        pub(super) time_nanos: i64,
        #[prost(int64, tag = "14")]
        pub(super) default_sample_type: i64,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct ValueType {
        #[prost(int64, tag = "1")]
        pub(super) r#type: i64,
        #[prost(int64, tag = "2")]
        pub(super) unit: i64,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct Sample {
        #[prost(uint64, repeated, tag = "1")]
        pub(super) location_id: Vec<u64>,
        #[prost(int64, repeated, tag = "2")]
        pub(super) value: Vec<i64>,
        #[prost(message, repeated, tag = "3")]
        pub(super) label: Vec<Label>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct Label {
        #[prost(int64, tag = "1")]
        pub(super) key: i64,
        #[prost(int64, tag = "2")]
        pub(super) str: i64,
        #[prost(int64, tag = "3")]
        pub(super) num: i64,
        #[prost(int64, tag = "4")]
        pub(super) num_unit: i64,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct Location {
        #[prost(uint64, tag = "1")]
        pub(super) id: u64,
        #[prost(message, repeated, tag = "4")]
        pub(super) line: Vec<Line>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct Line {
        #[prost(uint64, tag = "1")]
        pub(super) function_id: u64,
        #[prost(int64, tag = "2")]
        pub(super) line: i64,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct Function {
        #[prost(uint64, tag = "1")]
        pub(super) id: u64,
        #[prost(int64, tag = "2")]
        pub(super) name: i64,
        #[prost(int64, tag = "4")]
        pub(super) filename: i64,
        #[prost(int64, tag = "5")]
        pub(super) start_line: i64,
    }
}

#[cfg(feature = "pprof")]
#[test]
fn the_pprof_profile_decodes_and_its_totals_equal_the_snapshot() {
    use prost::Message as _;
    use std::io::Read as _;

    let _turn = serial();
    let (snap, _) = workload();
    let gz = mapgov::trace::pprof(&snap, "trace-test");
    assert_eq!(&gz[..2], &[0x1f, 0x8b], "gzip magic");
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_end(&mut raw)
        .unwrap();
    let p = pprof::Profile::decode(&raw[..]).expect("a profile.proto message");
    let s = |i: i64| p.string_table[i as usize].as_str();
    assert_eq!(p.string_table[0], "");
    let types: Vec<(&str, &str)> = p
        .sample_type
        .iter()
        .map(|t| (s(t.r#type), s(t.unit)))
        .collect();
    assert_eq!(types, [("bytes", "bytes"), ("entries", "count")]);
    assert_eq!(s(p.default_sample_type), "bytes");
    assert_eq!(p.time_nanos as u64, snap.taken_at_unix_ms * 1_000_000);
    let bytes: i64 = p.sample.iter().map(|x| x.value[0]).sum();
    let entries: i64 = p.sample.iter().map(|x| x.value[1]).sum();
    assert_eq!(bytes as u64, snap.total_bytes());
    assert_eq!(
        entries as u64,
        snap.sites.iter().map(|x| x.entries).sum::<u64>()
    );
    let wasted: i64 = p
        .sample
        .iter()
        .flat_map(|x| &x.label)
        .filter(|l| s(l.key) == "wasted_bytes")
        .inspect(|l| assert_eq!(s(l.num_unit), "bytes"))
        .map(|l| l.num)
        .sum();
    assert_eq!(
        wasted as u64,
        snap.sites.iter().map(|x| x.wasted_bytes).sum::<u64>()
    );
    // Stacks: every id resolves; a named map's leaf is its name, its parent the site.
    let func = |loc: u64| {
        let l = p.location.iter().find(|l| l.id == loc).expect("location");
        p.function
            .iter()
            .find(|f| f.id == l.line[0].function_id)
            .expect("function")
    };
    let site = snap
        .sites
        .iter()
        .find(|x| x.name.as_deref() == Some("trace/export-a"))
        .unwrap();
    let sample = p
        .sample
        .iter()
        .find(|x| s(func(x.location_id[0]).name) == "trace/export-a")
        .expect("a sample for the named map");
    assert_eq!(
        sample.value,
        [site.allocated_bytes as i64, site.entries as i64]
    );
    let parent = func(sample.location_id[1]);
    assert_eq!(
        s(parent.name),
        format!("{}:{}", site.site.file, site.site.line)
    );
    assert_eq!(s(parent.filename), site.site.file);
    assert_eq!(parent.start_line, i64::from(site.site.line));

    // An independent decoder, where one is installed: protoc's raw decoding of the wire format.
    if let Ok(mut child) = std::process::Command::new("protoc")
        .arg("--decode_raw")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
    {
        use std::io::Write as _;
        child.stdin.take().unwrap().write_all(&raw).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "protoc --decode_raw rejected the profile"
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("6: \"trace/export-a\""), "{text}");
    }
    // And pprof itself, where Go is installed: `go tool pprof -raw` lists every sample.
    let dir = std::env::temp_dir().join(format!("mapgov-trace-pprof-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let file = dir.join("maps.pb.gz");
    std::fs::write(&file, &gz).unwrap();
    if let Ok(out) = std::process::Command::new("go")
        .args(["tool", "pprof", "-raw"])
        .arg(&file)
        .env("HOME", &dir)
        .output()
    {
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "go tool pprof: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.contains("bytes/bytes[dflt] entries/count"), "{text}");
        let row = format!("{} {}:", site.allocated_bytes, site.entries);
        assert!(
            text.lines().any(|l| l
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .starts_with(&row)),
            "{row} in {text}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(feature = "guard")]
#[test]
fn dumps_carry_the_events_in_their_events_section() {
    let _turn = serial();
    let (snap, id) = workload();
    // A split map that splits while tracked: its `split` events (with their table count) are
    // in the dump too, and valid against the schema.
    let mut split = mapgov::SplitMap::<u64, u64>::new().named("trace-dump-split");
    for i in 0..40_000 {
        split.insert(i, i);
    }
    let dir = std::env::temp_dir().join(format!("mapgov-trace-dump-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = mapgov::guard::Builder::new()
        .dir(&dir)
        .dump_now("trace test")
        .unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let doc = mapgov::guard::DumpDocument::from_json(&text).unwrap();
    assert!(doc.events.recorded);
    assert!(doc.snapshot.events.is_empty(), "not twice");
    let events = doc.events.events();
    assert_eq!(events.len(), doc.events.items.len());
    let ours = |evs: &[Event]| {
        evs.iter()
            .filter(|e| e.map_id == id)
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(ours(&events), ours(&snap.events));
    assert_eq!(doc.events.dropped, doc.snapshot.events_dropped);
    // The dump validates against its schema, events and all.
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../schemas/mapgov-dump.v1.schema.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&value)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let split_id = split.stats().unwrap().id;
    assert!(
        events
            .iter()
            .any(|e| e.map_id == split_id && e.kind == EventKind::Split && e.tables > Some(1)),
        "{events:#?}"
    );
    drop(split);
    let _ = std::fs::remove_dir_all(&dir);
}
