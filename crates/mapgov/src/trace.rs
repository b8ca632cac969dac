//! Exports of the lifecycle events and the live map memory: JSON Lines, the Chrome trace event
//! format (Perfetto, `chrome://tracing`) and pprof (feature `pprof`).
//!
//! Each export takes snapshots ([`crate::snapshot()`], or those read from a `mapgov-snapshot`
//! or `mapgov-dump` file). Several snapshots of one process may hold the same events (the
//! ring keeps them until they are overwritten): [`events`] merges them by sequence number.
//!
//! ```
//! let mut m: mapgov::HashMap<u64, u64> = mapgov::HashMap::new().named("trace-doc");
//! for i in 0..100_000 { m.insert(i, i); }
//! let snap = mapgov::snapshot();
//!
//! let lines = mapgov::trace::jsonl(std::slice::from_ref(&snap));
//! assert!(lines.starts_with(r#"{"format":"mapgov-events","version":1,"#));
//! let chrome = mapgov::trace::chrome(std::slice::from_ref(&snap), 1);
//! assert!(chrome.starts_with(r#"{"traceEvents":["#));
//! ```
//!
//! # JSON Lines (`mapgov-events`, version 1)
//!
//! The first line is a header: `{"format":"mapgov-events","version":1,"events":N,
//! "events_dropped":D,"snapshots":K,"taken_at_unix_ms":T}` (`events_dropped` as the process
//! counted it at the last snapshot). Every other line is one [`Event`], oldest first, with the
//! fields of that type (`before`/`after` as `{"len","capacity","bytes"}` objects).
//!
//! # Chrome trace event format
//!
//! `{"traceEvents":[...],"displayTimeUnit":"ns","otherData":{...}}`. Times (`ts`, `dur`) are
//! microseconds (fractional) since the earliest event or snapshot of the trace; `otherData`
//! holds that origin as Unix nanoseconds. Each timed resize is a complete event (`"ph":"X"`,
//! with `dur`) on the thread that performed it; the other events are thread-scoped instant
//! events (`"ph":"i"`); each site gets two counter tracks (`"ph":"C"`), `entries: <site>` and
//! `bytes: <site>`, with a point per snapshot. Threads are named with metadata events.
//!
//! # pprof
//!
//! `pprof` (feature `pprof`) writes a gzip-compressed `profile.proto` of the live map memory
//! by creation site: sample types `bytes` (bytes) and `entries` (count), one sample per site
//! with its wasted bytes as the numeric label `wasted_bytes` (bytes) and its key and value
//! types as string labels.
//! Each sample's stack is the site's `file:line` (a function named so, in that file, at that
//! line) with the map's name as the leaf frame when it has one, so `pprof -http` draws a flame
//! graph of where map memory comes from. Totals equal the snapshot's.

use std::collections::BTreeMap;
#[cfg(feature = "pprof")]
use std::collections::HashMap as StdMap;
use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::event::{Event, EventKind};
use crate::snapshot::Snapshot;

/// The `format` of the JSON Lines header.
pub const EVENTS_FORMAT: &str = "mapgov-events";
/// The `version` of the JSON Lines format this library writes.
pub const EVENTS_VERSION: u32 = 1;

/// The events of `snapshots` (of one process), merged: each sequence number once, oldest
/// first.
pub fn events(snapshots: &[Snapshot]) -> Vec<Event> {
    let mut by_seq: BTreeMap<u64, &Event> = BTreeMap::new();
    for s in snapshots {
        for e in &s.events {
            by_seq.entry(e.seq).or_insert(e);
        }
    }
    by_seq.into_values().cloned().collect()
}

/// The events of `snapshots` as JSON Lines: a `mapgov-events` header line, then one event per
/// line (each line ends with `\n`).
pub fn jsonl(snapshots: &[Snapshot]) -> String {
    let events = events(snapshots);
    let last = snapshots.last();
    // Written by hand so that `format` and `version` always come first.
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{{\"format\":\"{EVENTS_FORMAT}\",\"version\":{EVENTS_VERSION},\"events\":{},\"events_dropped\":{},\"snapshots\":{},\"taken_at_unix_ms\":{}}}",
        events.len(),
        last.map_or(0, |s| s.events_dropped),
        snapshots.len(),
        last.map_or(0, |s| s.taken_at_unix_ms),
    );
    for e in &events {
        // Serializing these plain types cannot fail.
        if let Ok(line) = serde_json::to_string(e) {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

/// A site's label in traces and profiles: `name (file:line)` or `file:line`.
fn label(file: &str, line: u32, name: Option<&str>) -> String {
    match name {
        Some(n) => format!("{n} ({file}:{line})"),
        None => format!("{file}:{line}"),
    }
}

/// The events and per-site counters of `snapshots` in the Chrome trace event format (JSON),
/// with `pid` as every event's process id.
pub fn chrome(snapshots: &[Snapshot], pid: u32) -> String {
    let events = events(snapshots);
    let origin_ns = events
        .iter()
        .map(|e| {
            e.time_unix_nanos
                .saturating_sub(e.duration_nanos.unwrap_or(0))
        })
        .chain(
            snapshots
                .iter()
                .map(|s| s.taken_at_unix_ms.saturating_mul(1_000_000)),
        )
        .min()
        .unwrap_or(0);
    let us = |ns: u64| ns.saturating_sub(origin_ns) as f64 / 1000.0;
    let mut out: Vec<Value> = Vec::new();
    out.push(json!({
        "name": "process_name", "ph": "M", "pid": pid, "tid": 0,
        "args": { "name": "mapgov maps" },
    }));
    let mut threads: BTreeMap<u64, Option<&str>> = BTreeMap::new();
    for e in &events {
        let t = threads.entry(e.thread_id).or_insert(None);
        if t.is_none() {
            *t = e.thread_name.as_deref();
        }
    }
    for (tid, name) in &threads {
        let name = match name {
            Some(n) => n.to_string(),
            None => format!("thread {tid}"),
        };
        out.push(json!({
            "name": "thread_name", "ph": "M", "pid": pid, "tid": tid,
            "args": { "name": name },
        }));
    }
    for e in &events {
        let mut args = json!({
            "seq": e.seq,
            "map_id": e.map_id,
            "site": e.site.to_string(),
            "len_before": e.before.len,
            "len_after": e.after.len,
            "capacity_before": e.before.capacity,
            "capacity_after": e.after.capacity,
            "bytes_before": e.before.bytes,
            "bytes_after": e.after.bytes,
        });
        if let Some(n) = &e.name {
            args["name"] = json!(n);
        }
        if let Some(d) = e.duration_nanos {
            args["duration_ns"] = json!(d);
        }
        if let Some(l) = &e.lifetime {
            args["age_ns"] = json!(l.age_nanos);
            args["peak_len"] = json!(l.peak_len);
            args["operations"] = json!(l.operations);
        }
        if let Some(b) = &e.budget {
            args["limit_kind"] = json!(b.limit_kind);
            args["limit"] = json!(b.limit);
            args["value"] = json!(b.value);
        }
        let name = format!(
            "{} {}",
            e.kind.name(),
            label(&e.site.file, e.site.line, e.name.as_deref())
        );
        match (e.kind.is_resize(), e.duration_nanos) {
            (true, Some(dur)) => out.push(json!({
                "name": name, "cat": "mapgov,resize", "ph": "X",
                "ts": us(e.time_unix_nanos.saturating_sub(dur)), "dur": dur as f64 / 1000.0,
                "pid": pid, "tid": e.thread_id, "args": args,
            })),
            _ => out.push(json!({
                "name": name,
                "cat": if e.kind == EventKind::BudgetExceeded { "mapgov,budget" } else { "mapgov" },
                "ph": "i", "s": "t",
                "ts": us(e.time_unix_nanos), "pid": pid, "tid": e.thread_id, "args": args,
            })),
        }
    }
    for s in snapshots {
        let ts = us(s.taken_at_unix_ms.saturating_mul(1_000_000));
        for site in &s.sites {
            let l = label(&site.site.file, site.site.line, site.name.as_deref());
            out.push(json!({
                "name": format!("entries: {l}"), "ph": "C", "ts": ts, "pid": pid, "tid": 0,
                "args": { "entries": site.entries },
            }));
            out.push(json!({
                "name": format!("bytes: {l}"), "ph": "C", "ts": ts, "pid": pid, "tid": 0,
                "args": { "bytes": site.allocated_bytes },
            }));
        }
    }
    let doc = json!({
        "traceEvents": out,
        "displayTimeUnit": "ns",
        "otherData": {
            "format": "mapgov-chrome-trace",
            "version": 1,
            "origin_unix_ns": origin_ns,
            "events_dropped": snapshots.last().map_or(0, |s| s.events_dropped),
        },
    });
    // `traceEvents` first: serde_json's map is sorted without `preserve_order`, and
    // "displayTimeUnit" < "otherData" < "traceEvents"; write the keys in a fixed order.
    format!(
        "{{\"traceEvents\":{},\"displayTimeUnit\":\"ns\",\"otherData\":{}}}",
        doc["traceEvents"], doc["otherData"]
    )
}

/// The messages of pprof's `profile.proto` (github.com/google/pprof, `proto/profile.proto`),
/// written out with the published field numbers. Only what mapgov writes is used, but every
/// field of the published messages up to `default_sample_type` is declared.
#[cfg(feature = "pprof")]
pub mod proto {
    #![allow(missing_docs)] // the fields are documented in profile.proto itself

    /// `perftools.profiles.Profile`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Profile {
        #[prost(message, repeated, tag = "1")]
        pub sample_type: Vec<ValueType>,
        #[prost(message, repeated, tag = "2")]
        pub sample: Vec<Sample>,
        #[prost(message, repeated, tag = "3")]
        pub mapping: Vec<Mapping>,
        #[prost(message, repeated, tag = "4")]
        pub location: Vec<Location>,
        #[prost(message, repeated, tag = "5")]
        pub function: Vec<Function>,
        #[prost(string, repeated, tag = "6")]
        pub string_table: Vec<String>,
        #[prost(int64, tag = "7")]
        pub drop_frames: i64,
        #[prost(int64, tag = "8")]
        pub keep_frames: i64,
        #[prost(int64, tag = "9")]
        pub time_nanos: i64,
        #[prost(int64, tag = "10")]
        pub duration_nanos: i64,
        #[prost(message, optional, tag = "11")]
        pub period_type: Option<ValueType>,
        #[prost(int64, tag = "12")]
        pub period: i64,
        #[prost(int64, repeated, tag = "13")]
        pub comment: Vec<i64>,
        #[prost(int64, tag = "14")]
        pub default_sample_type: i64,
    }

    /// `perftools.profiles.ValueType`.
    #[derive(Clone, Copy, PartialEq, prost::Message)]
    pub struct ValueType {
        #[prost(int64, tag = "1")]
        pub r#type: i64,
        #[prost(int64, tag = "2")]
        pub unit: i64,
    }

    /// `perftools.profiles.Sample`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Sample {
        #[prost(uint64, repeated, tag = "1")]
        pub location_id: Vec<u64>,
        #[prost(int64, repeated, tag = "2")]
        pub value: Vec<i64>,
        #[prost(message, repeated, tag = "3")]
        pub label: Vec<Label>,
    }

    /// `perftools.profiles.Label`.
    #[derive(Clone, Copy, PartialEq, prost::Message)]
    pub struct Label {
        #[prost(int64, tag = "1")]
        pub key: i64,
        #[prost(int64, tag = "2")]
        pub str: i64,
        #[prost(int64, tag = "3")]
        pub num: i64,
        #[prost(int64, tag = "4")]
        pub num_unit: i64,
    }

    /// `perftools.profiles.Mapping`.
    #[derive(Clone, Copy, PartialEq, prost::Message)]
    pub struct Mapping {
        #[prost(uint64, tag = "1")]
        pub id: u64,
        #[prost(uint64, tag = "2")]
        pub memory_start: u64,
        #[prost(uint64, tag = "3")]
        pub memory_limit: u64,
        #[prost(uint64, tag = "4")]
        pub file_offset: u64,
        #[prost(int64, tag = "5")]
        pub filename: i64,
        #[prost(int64, tag = "6")]
        pub build_id: i64,
        #[prost(bool, tag = "7")]
        pub has_functions: bool,
        #[prost(bool, tag = "8")]
        pub has_filenames: bool,
        #[prost(bool, tag = "9")]
        pub has_line_numbers: bool,
        #[prost(bool, tag = "10")]
        pub has_inline_frames: bool,
    }

    /// `perftools.profiles.Location`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Location {
        #[prost(uint64, tag = "1")]
        pub id: u64,
        #[prost(uint64, tag = "2")]
        pub mapping_id: u64,
        #[prost(uint64, tag = "3")]
        pub address: u64,
        #[prost(message, repeated, tag = "4")]
        pub line: Vec<Line>,
        #[prost(bool, tag = "5")]
        pub is_folded: bool,
    }

    /// `perftools.profiles.Line`.
    #[derive(Clone, Copy, PartialEq, prost::Message)]
    pub struct Line {
        #[prost(uint64, tag = "1")]
        pub function_id: u64,
        #[prost(int64, tag = "2")]
        pub line: i64,
    }

    /// `perftools.profiles.Function`.
    #[derive(Clone, Copy, PartialEq, prost::Message)]
    pub struct Function {
        #[prost(uint64, tag = "1")]
        pub id: u64,
        #[prost(int64, tag = "2")]
        pub name: i64,
        #[prost(int64, tag = "3")]
        pub system_name: i64,
        #[prost(int64, tag = "4")]
        pub filename: i64,
        #[prost(int64, tag = "5")]
        pub start_line: i64,
    }
}

/// The string table of a profile being built.
#[cfg(feature = "pprof")]
#[derive(Default)]
struct Strings {
    table: Vec<String>,
    index: StdMap<String, i64>,
}

#[cfg(feature = "pprof")]
impl Strings {
    fn new() -> Strings {
        let mut s = Strings::default();
        s.get("");
        s
    }

    fn get(&mut self, s: &str) -> i64 {
        if let Some(&i) = self.index.get(s) {
            return i;
        }
        let i = self.table.len() as i64;
        self.table.push(s.to_owned());
        self.index.insert(s.to_owned(), i);
        i
    }
}

/// The live map memory of `snapshot` by creation site as a pprof profile (`profile.proto`,
/// gzip-compressed), as `go tool pprof` and `pprof -http` read it. `program` names the
/// profile's one mapping (the executable).
///
/// One sample per site that holds memory or entries: values `[bytes, entries]`, labels
/// `wasted_bytes` (numeric, bytes; the site's tracked maps' waste), `key_type` and
/// `value_type`. The sums of the two values equal [`Snapshot::total_bytes`] and the sites'
/// entries.
#[cfg(feature = "pprof")]
pub fn pprof(snapshot: &Snapshot, program: &str) -> Vec<u8> {
    use prost::Message as _;
    use std::io::Write as _;

    let profile = pprof_profile(snapshot, program);
    let raw = profile.encode_to_vec();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing into memory cannot fail.
    let _ = gz.write_all(&raw);
    gz.finish().unwrap_or_default()
}

/// The profile [`pprof`] encodes.
#[cfg(feature = "pprof")]
pub fn pprof_profile(snapshot: &Snapshot, program: &str) -> proto::Profile {
    use proto::{Function, Label, Line, Location, Mapping, Profile, Sample, ValueType};

    let mut strings = Strings::new();
    let bytes = strings.get("bytes");
    let sample_type = vec![
        ValueType {
            r#type: bytes,
            unit: bytes,
        },
        ValueType {
            r#type: strings.get("entries"),
            unit: strings.get("count"),
        },
    ];
    let mut functions: Vec<Function> = Vec::new();
    let mut locations: Vec<Location> = Vec::new();
    // One function and location per distinct frame (name, file, line).
    let mut frames: StdMap<(String, String, u32), u64> = StdMap::new();
    let mut frame = |strings: &mut Strings, name: &str, file: &str, line: u32| -> u64 {
        let key = (name.to_owned(), file.to_owned(), line);
        if let Some(&id) = frames.get(&key) {
            return id;
        }
        let id = functions.len() as u64 + 1;
        let name = strings.get(name);
        functions.push(Function {
            id,
            name,
            system_name: name,
            filename: strings.get(file),
            start_line: i64::from(line),
        });
        locations.push(Location {
            id,
            mapping_id: 1,
            address: 0,
            line: vec![Line {
                function_id: id,
                line: i64::from(line),
            }],
            is_folded: false,
        });
        frames.insert(key, id);
        id
    };
    let mut samples = Vec::new();
    for site in &snapshot.sites {
        if site.allocated_bytes == 0 && site.entries == 0 {
            continue;
        }
        let file = &site.site.file;
        let line = site.site.line;
        let mut stack = Vec::new();
        if let Some(name) = &site.name {
            stack.push(frame(&mut strings, name, file, line));
        }
        stack.push(frame(&mut strings, &format!("{file}:{line}"), file, line));
        let wasted = strings.get("wasted_bytes");
        let key_type = strings.get("key_type");
        let value_type = strings.get("value_type");
        samples.push(Sample {
            location_id: stack,
            value: vec![
                i64::try_from(site.allocated_bytes).unwrap_or(i64::MAX),
                i64::try_from(site.entries).unwrap_or(i64::MAX),
            ],
            label: vec![
                Label {
                    key: wasted,
                    num: i64::try_from(site.wasted_bytes).unwrap_or(i64::MAX),
                    num_unit: bytes,
                    ..Label::default()
                },
                Label {
                    key: key_type,
                    str: strings.get(&site.key_type),
                    ..Label::default()
                },
                Label {
                    key: value_type,
                    str: strings.get(&site.value_type),
                    ..Label::default()
                },
            ],
        });
    }
    let mapping = Mapping {
        id: 1,
        filename: strings.get(program),
        has_functions: true,
        has_filenames: true,
        has_line_numbers: true,
        ..Mapping::default()
    };
    let comment = vec![strings.get("mapgov: live map memory by creation site")];
    Profile {
        sample_type,
        sample: samples,
        mapping: vec![mapping],
        location: locations,
        function: functions,
        string_table: strings.table,
        time_nanos: i64::try_from(snapshot.taken_at_unix_ms.saturating_mul(1_000_000))
            .unwrap_or(i64::MAX),
        comment,
        default_sample_type: bytes,
        ..Profile::default()
    }
}
