//! The scrape-time collector: one [`mapgov::snapshot()`] per scrape, turned into metric families.
//!
//! Nothing here runs on a map's hot path. A scrape takes a snapshot (which copies counters
//! under the registry lock, never blocking a map operation), folds it into one series per
//! creation site and name, caps the number of series, and encodes them with
//! `prometheus-client`'s encoders (Prometheus text or OpenMetrics, whichever the registry is
//! encoded with).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Mutex, PoisonError};

use mapgov::{MapStats, Site, SiteStats, Snapshot};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Unit;

/// How many site series a collector exposes before folding the rest into `site="other"`.
///
/// Each site series is about 25 samples, so the default bounds one process to about 5,000
/// samples however many creation sites (or distinct map names) it has.
pub const DEFAULT_MAX_SITES: usize = 200;

/// Buckets of the resize-duration histogram: mapgov's bounds, then +Inf.
const RESIZE_BUCKETS: usize = mapgov::RESIZE_BUCKETS_NANOS.len() + 1;

/// The `site` label of the series that holds every site beyond the cap.
pub const OTHER_SITE: &str = "other";

/// A [`Collector`] that exposes every governed map of the process, aggregated per creation
/// site and name, at scrape time.
///
/// Register it in your own registry when you serve metrics yourself:
///
/// ```
/// use prometheus_client::registry::Registry;
///
/// let mut registry = Registry::default();
/// registry.register_collector(Box::new(mapgov_prometheus::MapgovCollector::new()));
///
/// let mut cache: mapgov::HashMap<u64, u64> = mapgov::HashMap::new().named("cache");
/// cache.insert(1, 2);
///
/// let mut text = String::new();
/// prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
/// assert!(text.contains("mapgov_entries{site="));
/// assert!(text.contains("name=\"cache\"} 1\n"));
/// ```
///
/// # Cardinality
///
/// Series are labelled by `site` (`file:line:column`) and `name` (the map's name, empty when
/// it has none). The first [`max_sites`](MapgovCollector::max_sites) distinct pairs the
/// collector sees (largest allocation first at the first scrape) keep their own series for the
/// collector's lifetime, so series do not flap and counters stay monotonic; every pair beyond
/// that is folded into one series with `site="other"`, `name=""`, and counted once in
/// `mapgov_series_dropped_total`.
#[derive(Debug)]
pub struct MapgovCollector {
    max_sites: usize,
    cap: Mutex<CapState>,
}

/// Which series own a slot, and which were folded.
#[derive(Debug, Default)]
struct CapState {
    admitted: HashSet<SeriesKey>,
    folded: HashSet<SeriesKey>,
}

/// The labels that identify a series: `site` and `name`.
type SeriesKey = (String, String);

impl Default for MapgovCollector {
    fn default() -> Self {
        MapgovCollector::new()
    }
}

impl MapgovCollector {
    /// A collector with the default cap ([`DEFAULT_MAX_SITES`]).
    pub fn new() -> MapgovCollector {
        MapgovCollector {
            max_sites: DEFAULT_MAX_SITES,
            cap: Mutex::new(CapState::default()),
        }
    }

    /// Sets how many site series this collector exposes; further sites fold into
    /// `site="other"`. `0` folds every site into that one series.
    ///
    /// # Examples
    ///
    /// ```
    /// let collector = mapgov_prometheus::MapgovCollector::new().max_sites(50);
    /// assert_eq!(collector.get_max_sites(), 50);
    /// ```
    #[must_use]
    pub fn max_sites(mut self, max_sites: usize) -> MapgovCollector {
        self.max_sites = max_sites;
        self
    }

    /// The cap on site series.
    pub fn get_max_sites(&self) -> usize {
        self.max_sites
    }

    /// Folds a snapshot into capped series.
    pub(crate) fn prepare(&self, snapshot: &Snapshot) -> Exposition {
        let mut cap = self.cap.lock().unwrap_or_else(PoisonError::into_inner);
        Exposition::build(snapshot, &mut cap, self.max_sites)
    }
}

impl Collector for MapgovCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), fmt::Error> {
        let snapshot = mapgov::snapshot();
        self.prepare(&snapshot).encode(&mut encoder)
    }
}

/// The numbers of one series (one site and name, or the folded rest).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Values {
    pub(crate) maps_live: u64,
    pub(crate) maps_tracked: u64,
    pub(crate) maps_created: u64,
    pub(crate) maps_dropped: u64,
    pub(crate) entries: u64,
    pub(crate) allocated_bytes: u64,
    pub(crate) wasted_bytes: u64,
    pub(crate) peak_len: u64,
    pub(crate) inserts: u64,
    pub(crate) updates: u64,
    pub(crate) removes: u64,
    pub(crate) hits: u64,
    pub(crate) misses: u64,
    pub(crate) grows: u64,
    pub(crate) rehashes: u64,
    pub(crate) shrinks: u64,
    pub(crate) resize_nanos: u64,
    pub(crate) resize_max_nanos: u64,
    pub(crate) budget_exceeded: u64,
    /// Timed resizes per duration bucket (bounds `mapgov::RESIZE_BUCKETS_NANOS`, then +Inf).
    pub(crate) resize_buckets: [u64; RESIZE_BUCKETS],
    pub(crate) timed_resizes: u64,
    pub(crate) timed_resize_nanos: u64,
    /// Capacity summed over the tracked maps; `None` when there is none.
    pub(crate) capacity: Option<u64>,
    /// Entries of the largest tracked map; `None` when there is none.
    pub(crate) largest_entries: Option<u64>,
    /// Tables and splits summed over the tracked split maps; `None` when there is none.
    pub(crate) split: Option<Split>,
}

impl Values {
    fn of_site(s: &SiteStats, tracked: Option<&Tracked>) -> Values {
        Values {
            maps_live: s.maps_live,
            maps_tracked: s.maps_tracked,
            maps_created: s.maps_created,
            maps_dropped: s.maps_dropped,
            entries: s.entries,
            allocated_bytes: s.allocated_bytes,
            wasted_bytes: s.wasted_bytes,
            peak_len: s.peak_len,
            inserts: s.inserts,
            updates: s.updates,
            removes: s.removes,
            hits: s.hits,
            misses: s.misses,
            grows: s.grows,
            rehashes: s.rehashes,
            shrinks: s.shrinks,
            resize_nanos: s.resize_nanos,
            resize_max_nanos: s.resize_max_nanos,
            budget_exceeded: s.budget_exceeded,
            resize_buckets: {
                let mut b = [0; RESIZE_BUCKETS];
                for (to, from) in b.iter_mut().zip(&s.resize_buckets) {
                    *to = *from;
                }
                b
            },
            timed_resizes: s.timed_resizes,
            timed_resize_nanos: s.timed_resize_nanos,
            capacity: tracked.map(|t| t.capacity),
            largest_entries: tracked.map(|t| t.largest),
            split: tracked.and_then(|t| t.split),
        }
    }

    /// Adds `o` into `self`: sums, except the maxima (peak, longest resize, largest map). A
    /// value only some series have (capacity, split maps) stays absent only if both lack it.
    fn merge(&mut self, o: &Values) {
        self.maps_live += o.maps_live;
        self.maps_tracked += o.maps_tracked;
        self.maps_created += o.maps_created;
        self.maps_dropped += o.maps_dropped;
        self.entries += o.entries;
        self.allocated_bytes += o.allocated_bytes;
        self.wasted_bytes += o.wasted_bytes;
        self.peak_len = self.peak_len.max(o.peak_len);
        self.inserts += o.inserts;
        self.updates += o.updates;
        self.removes += o.removes;
        self.hits += o.hits;
        self.misses += o.misses;
        self.grows += o.grows;
        self.rehashes += o.rehashes;
        self.shrinks += o.shrinks;
        self.resize_nanos += o.resize_nanos;
        self.resize_max_nanos = self.resize_max_nanos.max(o.resize_max_nanos);
        self.budget_exceeded += o.budget_exceeded;
        for (a, b) in self.resize_buckets.iter_mut().zip(o.resize_buckets) {
            *a += b;
        }
        self.timed_resizes += o.timed_resizes;
        self.timed_resize_nanos += o.timed_resize_nanos;
        self.capacity = match (self.capacity, o.capacity) {
            (Some(a), Some(b)) => Some(a + b),
            (a, b) => a.or(b),
        };
        self.largest_entries = self.largest_entries.max(o.largest_entries);
        self.split = match (self.split, o.split) {
            (Some(a), Some(b)) => Some(a.plus(b)),
            (a, b) => a.or(b),
        };
    }
}

/// What the tracked maps of one site add: their capacity, the largest one's entries, and the
/// tables and splits of those that are split maps.
#[derive(Clone, Copy, Debug, Default)]
struct Tracked {
    capacity: u64,
    largest: u64,
    split: Option<Split>,
}

/// Tables and splits of tracked split maps ([`mapgov::SplitMap`]).
///
/// Both are sums over the maps that are tracked and alive at the snapshot, so both fall when
/// such a map is dropped: they are exposed as gauges.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Split {
    pub(crate) tables: u64,
    pub(crate) splits: u64,
}

impl Split {
    /// The split-map part of a tracked map: `None` for the other map types, whose `tables`
    /// and `splits` are always 0 (a split map that freed its tables but has split still counts).
    fn of_map(m: &MapStats) -> Option<Split> {
        (m.tables > 0 || m.splits > 0).then_some(Split {
            tables: m.tables,
            splits: m.splits,
        })
    }

    fn plus(self, o: Split) -> Split {
        Split {
            tables: self.tables + o.tables,
            splits: self.splits + o.splits,
        }
    }
}

/// One series: its labels, its type names (none for the folded rest) and its numbers.
#[derive(Clone, Debug)]
pub(crate) struct Series {
    pub(crate) site: String,
    pub(crate) name: String,
    pub(crate) types: Option<(String, String)>,
    pub(crate) values: Values,
}

impl Series {
    fn labels(&self) -> [(&'static str, &str); 2] {
        [("site", self.site.as_str()), ("name", self.name.as_str())]
    }
}

/// A snapshot folded into capped series, ready to encode.
#[derive(Clone, Debug)]
pub(crate) struct Exposition {
    pub(crate) enabled: bool,
    /// Distinct site and name pairs in the snapshot, before the cap.
    pub(crate) sites: u64,
    /// Distinct pairs ever folded by this collector.
    pub(crate) series_dropped: u64,
    /// The site series, then the folded rest (if any).
    pub(crate) series: Vec<Series>,
}

impl Exposition {
    fn build(snapshot: &Snapshot, cap: &mut CapState, max_sites: usize) -> Exposition {
        let mut tracked: HashMap<(&Site, Option<&str>), Tracked> = HashMap::new();
        for m in &snapshot.maps {
            let t = tracked.entry((&m.site, m.name.as_deref())).or_default();
            t.capacity += m.capacity;
            t.largest = t.largest.max(m.len);
            if let Some(split) = Split::of_map(m) {
                t.split = Some(t.split.map_or(split, |s| s.plus(split)));
            }
        }

        // One series per label pair (two sites can only share one if a name is `Some("")`).
        let mut series: Vec<Series> = Vec::with_capacity(snapshot.sites.len());
        let mut index: HashMap<SeriesKey, usize> = HashMap::with_capacity(snapshot.sites.len());
        for s in &snapshot.sites {
            let values = Values::of_site(s, tracked.get(&(&s.site, s.name.as_deref())));
            let key = (s.site.to_string(), s.name.clone().unwrap_or_default());
            match index.get(&key) {
                Some(&i) => series[i].values.merge(&values),
                None => {
                    index.insert(key.clone(), series.len());
                    series.push(Series {
                        site: key.0,
                        name: key.1,
                        types: Some((s.key_type.clone(), s.value_type.clone())),
                        values,
                    });
                }
            }
        }

        // The cap: pairs seen first (largest first) keep their slot for good.
        let sites = series.len() as u64;
        let mut kept = Vec::with_capacity(series.len().min(max_sites));
        let mut other: Option<Values> = None;
        for s in series {
            let key = (s.site, s.name);
            let admitted = cap.admitted.contains(&key)
                || (cap.admitted.len() < max_sites && cap.admitted.insert(key.clone()));
            if admitted {
                kept.push(Series {
                    site: key.0,
                    name: key.1,
                    ..s
                });
            } else {
                other.get_or_insert_with(Values::default).merge(&s.values);
                cap.folded.insert(key);
            }
        }
        if let Some(values) = other {
            kept.push(Series {
                site: OTHER_SITE.to_owned(),
                name: String::new(),
                types: None,
                values,
            });
        }
        Exposition {
            enabled: snapshot.enabled,
            sites,
            series_dropped: cap.folded.len() as u64,
            series: kept,
        }
    }

    /// Encodes every metric family.
    pub(crate) fn encode(&self, enc: &mut DescriptorEncoder<'_>) -> Result<(), fmt::Error> {
        let series = &self.series;

        let mut m = enc.encode_descriptor(
            "mapgov_enabled",
            "1 when map governance is on, 0 when it was turned off with MAPGOV=off.",
            None,
            MetricType::Gauge,
        )?;
        m.encode_gauge(&u64::from(self.enabled))?;

        let mut m = enc.encode_descriptor(
            "mapgov_sites",
            "Distinct creation site and name pairs with maps, before the cardinality cap.",
            None,
            MetricType::Gauge,
        )?;
        m.encode_gauge(&self.sites)?;

        let mut m = enc.encode_descriptor(
            "mapgov_series_dropped",
            "Site and name pairs folded into the site=other series by the cardinality cap, \
             counted once each since the exporter started.",
            None,
            MetricType::Counter,
        )?;
        m.encode_counter::<NoLabelSet, _, u64>(&self.series_dropped, None)?;

        gauge(
            enc,
            "mapgov_maps",
            "Live maps created at the site.",
            None,
            series,
            |v| Some(v.maps_live),
        )?;
        gauge(
            enc,
            "mapgov_tracked_maps",
            "Live maps of the site tracked individually (their table reached \
             MAPGOV_TRACK_MIN_BYTES).",
            None,
            series,
            |v| Some(v.maps_tracked),
        )?;
        gauge(
            enc,
            "mapgov_entries",
            "Entries in the live maps of the site.",
            None,
            series,
            |v| Some(v.entries),
        )?;
        gauge(
            enc,
            "mapgov_capacity",
            "Entries the individually tracked maps of the site can hold without growing \
             (absent for sites without a tracked map).",
            None,
            series,
            |v| v.capacity,
        )?;
        gauge(
            enc,
            "mapgov_allocated",
            "Bytes of the tables of the live maps of the site (exact allocation sizes).",
            Some(&Unit::Bytes),
            series,
            |v| Some(v.allocated_bytes),
        )?;
        gauge(
            enc,
            "mapgov_wasted",
            "Bytes that shrink_to_fit would free in the individually tracked maps of the site.",
            Some(&Unit::Bytes),
            series,
            |v| Some(v.wasted_bytes),
        )?;
        gauge(
            enc,
            "mapgov_largest_map_entries",
            "Entries of the largest individually tracked live map of the site (absent for \
             sites without a tracked map).",
            None,
            series,
            |v| v.largest_entries,
        )?;
        gauge(
            enc,
            "mapgov_tables",
            "Tables of the individually tracked split maps (SplitMap) of the site (absent for \
             sites without a tracked split map).",
            None,
            series,
            |v| v.split.map(|s| s.tables),
        )?;
        gauge(
            enc,
            "mapgov_splits",
            "Tables split in two so far by the individually tracked live split maps (SplitMap) \
             of the site, each also a grow in mapgov_resizes_total. A gauge, not a counter: it \
             falls when such a map is dropped (absent for sites without a tracked split map).",
            None,
            series,
            |v| v.split.map(|s| s.splits),
        )?;
        gauge(
            enc,
            "mapgov_peak_entries",
            "The most entries any map of the site ever held.",
            None,
            series,
            |v| Some(v.peak_len),
        )?;

        let mut m = enc.encode_descriptor(
            "mapgov_ops",
            "Map operations by kind: insert (new key), update (value replaced), remove, and \
             the lookups hit and miss (sampled one in MAPGOV_LOOKUP_SAMPLE, each counting that \
             many).",
            None,
            MetricType::Counter,
        )?;
        for s in series {
            let v = &s.values;
            for (op, n) in [
                ("insert", v.inserts),
                ("update", v.updates),
                ("remove", v.removes),
                ("hit", v.hits),
                ("miss", v.misses),
            ] {
                let labels = (s.labels(), [("op", op)]);
                m.encode_family(&labels)?
                    .encode_counter::<NoLabelSet, _, u64>(&n, None)?;
            }
        }

        let mut m = enc.encode_descriptor(
            "mapgov_resizes",
            "Table resizes by kind: grow (reallocation to a larger table), rehash (in place, \
             clearing tombstones), shrink (reallocation to a smaller table).",
            None,
            MetricType::Counter,
        )?;
        for s in series {
            let v = &s.values;
            for (kind, n) in [
                ("grow", v.grows),
                ("rehash", v.rehashes),
                ("shrink", v.shrinks),
            ] {
                let labels = (s.labels(), [("kind", kind)]);
                m.encode_family(&labels)?
                    .encode_counter::<NoLabelSet, _, u64>(&n, None)?;
            }
        }

        let mut m = enc.encode_descriptor(
            "mapgov_resize_duration",
            "Time threads stalled in timed table resizes (tables of at least \
             MAPGOV_TIME_MIN_BYTES; smaller ones are not timed and not counted here).",
            Some(&Unit::Seconds),
            MetricType::Histogram,
        )?;
        for s in series {
            let v = &s.values;
            let buckets: Vec<(f64, u64)> = mapgov::RESIZE_BUCKETS_NANOS
                .iter()
                .map(|&ns| ns as f64 / 1e9)
                .chain([f64::INFINITY])
                .zip(v.resize_buckets)
                .collect();
            m.encode_family(&s.labels())?
                .encode_histogram::<NoLabelSet>(
                    v.timed_resize_nanos as f64 / 1e9,
                    v.timed_resizes,
                    &buckets,
                    None,
                )?;
        }

        gauge_f64(
            enc,
            "mapgov_longest_resize",
            "The longest single resize of a table of at least 64 KiB at the site.",
            Some(&Unit::Seconds),
            series,
            |v| v.resize_max_nanos as f64 / 1e9,
        )?;

        counter(
            enc,
            "mapgov_maps_created",
            "Maps created at the site (that allocated, or were named).",
            series,
            |v| v.maps_created,
        )?;
        counter(
            enc,
            "mapgov_maps_dropped",
            "Maps of the site dropped.",
            series,
            |v| v.maps_dropped,
        )?;
        counter(
            enc,
            "mapgov_budget_exceeded",
            "Times maps of the site crossed their memory or entry budget.",
            series,
            |v| v.budget_exceeded,
        )?;

        let mut m = enc.encode_descriptor(
            "mapgov_map_types",
            "Key and value type names of the maps of the site (std::any::type_name).",
            None,
            MetricType::Info,
        )?;
        for s in series {
            if let Some((k, v)) = &s.types {
                let labels = (
                    s.labels(),
                    [("key_type", k.as_str()), ("value_type", v.as_str())],
                );
                m.encode_info(&labels)?;
            }
        }
        Ok(())
    }
}

/// Encodes a gauge family with one sample per series that has a value.
fn gauge(
    enc: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    series: &[Series],
    value: impl Fn(&Values) -> Option<u64>,
) -> Result<(), fmt::Error> {
    let mut m = enc.encode_descriptor(name, help, unit, MetricType::Gauge)?;
    for s in series {
        if let Some(v) = value(&s.values) {
            m.encode_family(&s.labels())?.encode_gauge(&v)?;
        }
    }
    Ok(())
}

/// Encodes a floating-point gauge family.
fn gauge_f64(
    enc: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    series: &[Series],
    value: impl Fn(&Values) -> f64,
) -> Result<(), fmt::Error> {
    let mut m = enc.encode_descriptor(name, help, unit, MetricType::Gauge)?;
    for s in series {
        m.encode_family(&s.labels())?
            .encode_gauge(&value(&s.values))?;
    }
    Ok(())
}

/// Encodes a counter family (the encoder appends `_total`).
fn counter(
    enc: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    series: &[Series],
    value: impl Fn(&Values) -> u64,
) -> Result<(), fmt::Error> {
    let mut m = enc.encode_descriptor(name, help, None, MetricType::Counter)?;
    for s in series {
        m.encode_family(&s.labels())?
            .encode_counter::<NoLabelSet, _, u64>(&value(&s.values), None)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::registry::Registry;
    use serde_json::{Value, json};

    /// A site or map of a real snapshot as JSON, so that the fixtures below keep every field
    /// the core adds.
    fn templates() -> (Value, Value) {
        let mut m: mapgov::HashMap<u64, u64> =
            mapgov::HashMap::with_capacity(10_000).named("collector-template");
        m.insert(1, 1);
        let snap = mapgov::snapshot();
        let site = snap
            .sites
            .iter()
            .find(|s| s.name.as_deref() == Some("collector-template"))
            .expect("template site");
        let map = snap
            .map_named("collector-template")
            .expect("a 10,000-entry table is tracked");
        (
            serde_json::to_value(site).unwrap(),
            serde_json::to_value(map).unwrap(),
        )
    }

    fn site(line: u32, name: Option<&str>, bytes: u64, inserts: u64) -> Value {
        let mut v = templates().0;
        v["site"] = json!({"file": "src/app.rs", "line": line, "column": 5});
        v["name"] = json!(name);
        v["allocated_bytes"] = json!(bytes);
        v["inserts"] = json!(inserts);
        v["entries"] = json!(inserts);
        v["maps_live"] = json!(1);
        v["maps_tracked"] = json!(0);
        v["peak_len"] = json!(inserts);
        v["resize_max_nanos"] = json!(line);
        v
    }

    fn map(line: u32, name: Option<&str>, len: u64, capacity: u64) -> Value {
        let mut v = templates().1;
        v["site"] = json!({"file": "src/app.rs", "line": line, "column": 5});
        v["name"] = json!(name);
        v["len"] = json!(len);
        v["capacity"] = json!(capacity);
        v
    }

    /// A tracked split map: `map` with its tables and splits.
    fn split_map(line: u32, name: Option<&str>, tables: u64, splits: u64) -> Value {
        let mut v = map(line, name, 100, 1_000);
        v["tables"] = json!(tables);
        v["splits"] = json!(splits);
        v
    }

    fn snapshot(sites: Vec<Value>, maps: Vec<Value>) -> Snapshot {
        let mut v = serde_json::to_value(mapgov::snapshot()).unwrap();
        v["sites"] = Value::Array(sites);
        v["maps"] = Value::Array(maps);
        serde_json::from_value(v).unwrap()
    }

    #[derive(Debug)]
    struct Fixed(Exposition);

    impl Collector for Fixed {
        fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), fmt::Error> {
            self.0.encode(&mut encoder)
        }
    }

    fn text(e: Exposition) -> String {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(Fixed(e)));
        let mut out = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut out, &registry).unwrap();
        out
    }

    fn labels(e: &Exposition) -> Vec<(String, String)> {
        e.series
            .iter()
            .map(|s| (s.site.clone(), s.name.clone()))
            .collect()
    }

    #[test]
    fn sites_beyond_the_cap_fold_into_other_and_are_counted() {
        let c = MapgovCollector::new().max_sites(2);
        let snap = snapshot(
            vec![
                site(1, Some("a"), 500, 10),
                site(2, Some("b"), 400, 20),
                site(3, Some("c"), 300, 30),
                site(4, None, 200, 40),
                site(5, Some("e"), 100, 50),
            ],
            vec![],
        );
        let e = c.prepare(&snap);
        assert_eq!(e.sites, 5);
        assert_eq!(e.series_dropped, 3);
        assert_eq!(
            labels(&e),
            [
                ("src/app.rs:1:5".to_owned(), "a".to_owned()),
                ("src/app.rs:2:5".to_owned(), "b".to_owned()),
                (OTHER_SITE.to_owned(), String::new()),
            ]
        );
        let other = &e.series[2];
        assert_eq!(other.values.allocated_bytes, 600);
        assert_eq!(other.values.inserts, 120);
        assert_eq!(other.values.maps_live, 3);
        assert_eq!(other.values.peak_len, 50, "maxima stay maxima");
        assert_eq!(other.values.resize_max_nanos, 5);
        assert!(other.types.is_none());
        let out = text(e);
        assert!(out.contains("mapgov_series_dropped_total 3\n"), "{out}");
        assert!(
            out.contains("mapgov_allocated_bytes{site=\"other\",name=\"\"} 600\n"),
            "{out}"
        );
        assert!(
            !out.contains("mapgov_map_types_info{site=\"other\""),
            "the folded series has no single type: {out}"
        );
    }

    #[test]
    fn admitted_sites_keep_their_series_and_folded_ones_are_counted_once() {
        let c = MapgovCollector::new().max_sites(1);
        let first = c.prepare(&snapshot(vec![site(1, Some("a"), 500, 1)], vec![]));
        assert_eq!(labels(&first)[0].1, "a");
        // "b" grows larger than "a": the slot stays with "a", so neither series flaps.
        let grown = snapshot(
            vec![site(2, Some("b"), 9_000, 5), site(1, Some("a"), 500, 2)],
            vec![],
        );
        for _ in 0..3 {
            let e = c.prepare(&grown);
            assert_eq!(labels(&e)[0].1, "a");
            assert_eq!(labels(&e)[1].0, OTHER_SITE);
            assert_eq!(e.series[1].values.inserts, 5);
            assert_eq!(e.series_dropped, 1, "one pair folded, however many scrapes");
        }
        // A third site joins "other": its counters only add to the folded series.
        let e = c.prepare(&snapshot(
            vec![
                site(2, Some("b"), 9_000, 6),
                site(1, Some("a"), 500, 2),
                site(3, None, 10, 4),
            ],
            vec![],
        ));
        assert_eq!(e.series[1].values.inserts, 10);
        assert_eq!(e.series_dropped, 2);
    }

    #[test]
    fn a_cap_of_zero_folds_every_site_and_an_empty_process_has_no_series() {
        let c = MapgovCollector::new().max_sites(0);
        let e = c.prepare(&snapshot(
            vec![site(1, Some("a"), 5, 1), site(2, None, 5, 1)],
            vec![],
        ));
        assert_eq!(labels(&e), [(OTHER_SITE.to_owned(), String::new())]);
        let e = MapgovCollector::new().prepare(&snapshot(vec![], vec![]));
        assert!(e.series.is_empty());
        let out = text(e);
        assert!(out.contains("mapgov_sites 0\n"), "{out}");
    }

    #[test]
    fn an_unnamed_site_and_one_named_empty_share_one_series() {
        let e = MapgovCollector::new().prepare(&snapshot(
            vec![site(7, None, 100, 1), site(7, Some(""), 50, 2)],
            vec![],
        ));
        assert_eq!(e.sites, 1);
        assert_eq!(e.series.len(), 1);
        assert_eq!(e.series[0].values.allocated_bytes, 150);
        assert_eq!(e.series[0].values.inserts, 3);
        let out = text(e);
        assert_eq!(out.matches("mapgov_maps{").count(), 1, "{out}");
    }

    #[test]
    fn capacity_and_the_largest_map_come_from_tracked_maps_only() {
        let e = MapgovCollector::new().prepare(&snapshot(
            vec![site(1, Some("big"), 100, 1), site(2, Some("small"), 10, 1)],
            vec![map(1, Some("big"), 700, 896), map(1, Some("big"), 300, 448)],
        ));
        let big = &e.series[0].values;
        assert_eq!(big.capacity, Some(1344));
        assert_eq!(big.largest_entries, Some(700));
        let small = &e.series[1].values;
        assert_eq!((small.capacity, small.largest_entries), (None, None));
        let out = text(e);
        assert!(
            out.contains("mapgov_largest_map_entries{site=\"src/app.rs:1:5\",name=\"big\"} 700\n")
        );
        assert!(!out.contains("mapgov_capacity{site=\"src/app.rs:2:5\""));
    }

    #[test]
    fn tables_and_splits_come_from_tracked_split_maps_only() {
        let e = MapgovCollector::new().prepare(&snapshot(
            vec![
                site(1, Some("split"), 300, 1),
                site(2, Some("plain"), 200, 1),
                site(3, Some("untracked"), 100, 1),
            ],
            vec![
                split_map(1, Some("split"), 5, 4),
                split_map(1, Some("split"), 1, 0),
                // A split map that freed its tables after splitting.
                split_map(1, Some("split"), 0, 2),
                map(1, Some("split"), 10, 14),
                map(2, Some("plain"), 700, 896),
            ],
        ));
        assert_eq!(
            e.series[0].values.split,
            Some(Split {
                tables: 6,
                splits: 6
            })
        );
        assert_eq!(
            e.series[1].values.split, None,
            "a tracked map that is no split map"
        );
        assert_eq!(e.series[2].values.split, None);
        let out = text(e);
        assert!(out.contains("# TYPE mapgov_tables gauge\n"), "{out}");
        assert!(out.contains("# TYPE mapgov_splits gauge\n"), "{out}");
        assert!(
            out.contains("mapgov_tables{site=\"src/app.rs:1:5\",name=\"split\"} 6\n"),
            "{out}"
        );
        assert!(
            out.contains("mapgov_splits{site=\"src/app.rs:1:5\",name=\"split\"} 6\n"),
            "{out}"
        );
        assert_eq!(out.matches("mapgov_tables{").count(), 1, "{out}");
        assert_eq!(out.matches("mapgov_splits{").count(), 1, "{out}");
        assert!(!out.contains("mapgov_splits_total"), "{out}");
    }

    #[test]
    fn folded_split_maps_add_into_other_and_only_split_maps_make_it_present() {
        let c = MapgovCollector::new().max_sites(1);
        let e = c.prepare(&snapshot(
            vec![
                site(1, Some("a"), 500, 1),
                site(2, Some("b"), 400, 1),
                site(3, Some("c"), 300, 1),
                site(4, Some("d"), 200, 1),
            ],
            vec![
                map(1, Some("a"), 10, 14),
                split_map(2, Some("b"), 3, 2),
                split_map(3, Some("c"), 8, 9),
                map(4, Some("d"), 10, 14),
            ],
        ));
        assert_eq!(labels(&e)[0].1, "a");
        assert_eq!(e.series[0].values.split, None);
        let other = &e.series[1].values;
        assert_eq!(
            other.split,
            Some(Split {
                tables: 11,
                splits: 11
            })
        );
        let out = text(e);
        assert!(
            out.contains("mapgov_tables{site=\"other\",name=\"\"} 11\n"),
            "{out}"
        );
        assert!(
            out.contains("mapgov_splits{site=\"other\",name=\"\"} 11\n"),
            "{out}"
        );
        assert!(
            !out.contains("mapgov_tables{site=\"src/app.rs:1:5\""),
            "{out}"
        );

        // Folded sites without a split map leave the folded series without the gauges.
        let c = MapgovCollector::new().max_sites(1);
        let e = c.prepare(&snapshot(
            vec![site(1, Some("a"), 500, 1), site(2, Some("b"), 400, 1)],
            vec![split_map(1, Some("a"), 2, 1), map(2, Some("b"), 10, 14)],
        ));
        assert_eq!(labels(&e)[1].0, OTHER_SITE);
        assert_eq!(e.series[1].values.split, None);
        let out = text(e);
        assert!(
            out.contains("mapgov_tables{site=\"src/app.rs:1:5\",name=\"a\"} 2\n"),
            "{out}"
        );
        assert!(!out.contains("mapgov_tables{site=\"other\""), "{out}");
        assert!(!out.contains("mapgov_splits{site=\"other\""), "{out}");
    }
}
