//! Snapshots: a copy of every tracked map's stats and every site's aggregates.
//!
//! Taking a snapshot holds the registry lock while it copies counters (microseconds for
//! thousands of maps). No ordinary map operation takes that lock, so a snapshot never blocks
//! one; only the cold events (a map becoming tracked, a tracked map's drop) wait for it.

use std::collections::HashMap as StdMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

use crate::event::Event;
use crate::registry;
use crate::stats::{MapCell, SiteCell, SiteCounts, TotalsValue};

/// Where a map was created: the caller's file, line and column.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[non_exhaustive]
pub struct Site {
    /// Source file, as the compiler names it (relative to the workspace for local crates).
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
}

impl Site {
    /// A site from its parts.
    pub fn new(file: impl Into<String>, line: u32, column: u32) -> Site {
        Site {
            file: file.into(),
            line,
            column,
        }
    }
}

impl fmt::Display for Site {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// The stats of one individually tracked map.
///
/// Counts are exact for operations made through the map's own thread. `hits` and `misses` are
/// exact when the map counts every lookup (`lookup_sample == 1`), and otherwise unbiased
/// estimates (each lookup sampled with probability `1 / lookup_sample`, counting
/// `lookup_sample`).
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[non_exhaustive]
pub struct MapStats {
    /// Process-unique id, assigned when the map became tracked (0 for a map that is not).
    pub id: u64,
    /// The map's name (`.named(..)`), if any.
    pub name: Option<String>,
    /// Where the map was created.
    pub site: Site,
    /// Whether `site` was recovered from a backtrace because the compiler named a std location.
    pub site_from_backtrace: bool,
    /// `std::any::type_name` of the key type.
    pub key_type: String,
    /// `std::any::type_name` of the value type (`()` for sets).
    pub value_type: String,
    /// Entries now.
    pub len: u64,
    /// Entries the table holds without growing, as of its last resize (tombstones left by
    /// removals are not subtracted).
    pub capacity: u64,
    /// Exact bytes of the table's allocation (hashbrown's `allocation_size()`).
    pub allocated_bytes: u64,
    /// Bytes beyond what a table sized for `len` needs: what `shrink_to_fit()` would free.
    pub wasted_bytes: u64,
    /// The most entries the map ever held.
    pub peak_len: u64,
    /// New keys inserted.
    pub inserts: u64,
    /// Inserts that replaced the value of an existing key.
    pub updates: u64,
    /// Keys removed (by `remove`, `retain`, `drain`, `clear`, `extract_if`, ...).
    pub removes: u64,
    /// Lookups that found their key (see the type's docs on sampling).
    pub hits: u64,
    /// Lookups that did not find their key.
    pub misses: u64,
    /// How lookups are counted: 1 = every one, N = one in N with weight N.
    pub lookup_sample: u32,
    /// Reallocations to a larger table.
    pub grows: u64,
    /// In-place rehashes (tombstones cleared without a new allocation).
    pub rehashes: u64,
    /// Reallocations to a smaller table (or freeing it).
    pub shrinks: u64,
    /// Total time of the timed resizes (tables of at least `MAPGOV_TIME_MIN_BYTES`).
    pub resize_nanos: u64,
    /// The longest single resize of a table of at least 64 KiB (smaller tables resize in
    /// microseconds; a longer pause there is the scheduler's, not the map's).
    pub resize_max_nanos: u64,
    /// Times the map crossed its budget (see [`Budget`](crate::Budget)).
    pub budget_exceeded: u64,
    /// Time since the map became tracked (for maps tracked from their first allocation, since
    /// creation).
    #[cfg_attr(feature = "serde", serde(with = "secs_f64"))]
    pub age: Duration,
    /// [`SplitMap`](crate::SplitMap) only (0 for the other maps): tables split in two, each
    /// a bounded step counted in `grows` too; its worst step is `resize_max_nanos`.
    #[cfg_attr(feature = "serde", serde(default))]
    pub splits: u64,
    /// [`SplitMap`](crate::SplitMap) only (0 for the other maps): its number of tables.
    #[cfg_attr(feature = "serde", serde(default))]
    pub tables: u64,
}

/// Aggregates for one creation site and name, over every map created there: tracked or not,
/// live or dropped.
///
/// Live maps' contributions are exact for tracked maps; an untracked map adds its counters when
/// it allocates, resizes and drops, so between those moments its latest operations are not yet
/// included. A dropped map's totals stay in its site.
///
/// Untracked maps reach their site through their thread's batch: the snapshotting thread's
/// own are always included; another running thread's arrive at most 256 of its cold events
/// (allocations, resizes, drops) late, and all of them when it exits. The counters of one
/// snapshot agree with each other even while other threads publish: no dropped map's entries
/// or bytes still held, no more entries than inserts minus removes, no more removes than
/// inserts. That holds for maps that stay on the thread that created them and at sites
/// without clones (a clone's entries count as present, not as inserted); for a tracked map's
/// latest operations, which its owner counts with plain stores, it holds on x86 (elsewhere
/// they may be a few operations apart). A map created on one thread and dropped on another
/// may show as dropped before its creation arrives; `maps_live` then counts it as 0.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[non_exhaustive]
pub struct SiteStats {
    /// Where the maps were created.
    pub site: Site,
    /// The name the maps were given, if any.
    pub name: Option<String>,
    /// Whether `site` was recovered from a backtrace.
    pub site_from_backtrace: bool,
    /// Key type of the first map created here.
    pub key_type: String,
    /// Value type of the first map created here.
    pub value_type: String,
    /// Maps alive now.
    pub maps_live: u64,
    /// Maps created (that allocated, or were named).
    pub maps_created: u64,
    /// Maps dropped.
    pub maps_dropped: u64,
    /// Live maps that are tracked individually.
    pub maps_tracked: u64,
    /// Entries in the live maps.
    pub entries: u64,
    /// Bytes of the live maps' tables.
    pub allocated_bytes: u64,
    /// Wasted bytes of the live tracked maps.
    pub wasted_bytes: u64,
    /// The most entries any map of this site held.
    pub peak_len: u64,
    /// New keys inserted.
    pub inserts: u64,
    /// Values replaced.
    pub updates: u64,
    /// Keys removed.
    pub removes: u64,
    /// Lookup hits (sampled; see [`MapStats`]).
    pub hits: u64,
    /// Lookup misses (sampled; see [`MapStats`]).
    pub misses: u64,
    /// Growths.
    pub grows: u64,
    /// In-place rehashes.
    pub rehashes: u64,
    /// Shrinks.
    pub shrinks: u64,
    /// Total time of timed resizes.
    pub resize_nanos: u64,
    /// The longest single resize of a table of at least 64 KiB (smaller tables resize in
    /// microseconds; a longer pause there is the scheduler's, not the map's).
    pub resize_max_nanos: u64,
    /// Budget crossings of the maps created here.
    pub budget_exceeded: u64,
    /// Timed resizes at this site by duration: entry `i` counts those of at most
    /// [`RESIZE_BUCKETS_NANOS`](crate::RESIZE_BUCKETS_NANOS)`[i]`, the last entry the longer
    /// ones (one more entry than bounds). Resizes of tables below `MAPGOV_TIME_MIN_BYTES` are
    /// not timed and not counted here; a resize stays counted at the site where it happened if
    /// the map is later renamed.
    #[cfg_attr(feature = "serde", serde(default))]
    pub resize_buckets: Vec<u64>,
    /// Timed resizes at this site (the sum of `resize_buckets`).
    #[cfg_attr(feature = "serde", serde(default))]
    pub timed_resizes: u64,
    /// Total time of the timed resizes at this site.
    #[cfg_attr(feature = "serde", serde(default))]
    pub timed_resize_nanos: u64,
}

/// Every tracked map and every site, at one moment.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[non_exhaustive]
pub struct Snapshot {
    /// Wall-clock time of the snapshot, milliseconds since the Unix epoch.
    pub taken_at_unix_ms: u64,
    /// Whether governance is on (`MAPGOV` not `off`).
    pub enabled: bool,
    /// Individually tracked maps, largest allocation first.
    pub maps: Vec<MapStats>,
    /// Per-site aggregates, largest allocation first.
    pub sites: Vec<SiteStats>,
    /// The recent lifecycle events of tracked maps, oldest first (what the event ring holds;
    /// see [`Event`]). Absent from documents written before events existed: read as empty.
    #[cfg_attr(feature = "serde", serde(default))]
    pub events: Vec<Event>,
    /// Events lost since the process started: overwritten in the full ring before a snapshot
    /// copied them, or dropped because the ring was busy at that moment.
    #[cfg_attr(feature = "serde", serde(default))]
    pub events_dropped: u64,
}

impl Snapshot {
    /// Total bytes of all live maps' tables.
    pub fn total_bytes(&self) -> u64 {
        self.sites.iter().map(|s| s.allocated_bytes).sum()
    }

    /// Total live maps.
    pub fn total_maps(&self) -> u64 {
        self.sites.iter().map(|s| s.maps_live).sum()
    }

    /// The site of a given file and line, if any map was created there (first match).
    pub fn site_at(&self, file_suffix: &str, line: u32) -> Option<&SiteStats> {
        self.sites
            .iter()
            .find(|s| s.site.line == line && s.site.file.ends_with(file_suffix))
    }

    /// The tracked map with this name (first match).
    pub fn map_named(&self, name: &str) -> Option<&MapStats> {
        self.maps.iter().find(|m| m.name.as_deref() == Some(name))
    }
}

/// Takes a snapshot of every governed map in the process.
///
/// # Examples
///
/// ```
/// let mut m = mapgov::HashMap::new().named("doc-example");
/// m.insert(1u64, 2u64);
/// let snap = mapgov::snapshot();
/// assert!(snap.sites.iter().any(|s| s.name.as_deref() == Some("doc-example")));
/// ```
pub fn snapshot() -> Snapshot {
    crate::batch::flush_current_thread();
    let enabled = crate::config::get().enabled;
    let mut snap = from_registry(registry::lock(), enabled);
    if let Some((events, dropped)) = crate::event::recent(None) {
        snap.events = events;
        snap.events_dropped = dropped;
    }
    snap
}

/// [`snapshot`] for the guard, which must never block: it tries the registry lock until
/// `patience` has passed (the holder may be the calling thread itself, in a panic hook) and
/// otherwise returns a snapshot without maps or sites and the reason it is partial.
#[cfg(feature = "guard")]
pub(crate) fn try_snapshot(patience: Duration) -> (Snapshot, Option<String>) {
    crate::batch::flush_current_thread();
    // The configuration is read without blocking: if it is not read yet, no map allocated.
    let enabled = crate::config::try_get().is_none_or(|c| c.enabled);
    let start = std::time::Instant::now();
    let mut pause = Duration::from_micros(50);
    loop {
        if let Some(reg) = registry::try_lock() {
            let mut snap = from_registry(reg, enabled);
            let left = patience.saturating_sub(start.elapsed());
            let mut reason = None;
            match crate::event::recent(Some(left.max(Duration::from_millis(1)))) {
                Some((events, dropped)) => {
                    snap.events = events;
                    snap.events_dropped = dropped;
                }
                None => {
                    reason = Some("the event ring stayed locked: events are missing".to_owned());
                }
            }
            return (snap, reason);
        }
        let waited = start.elapsed();
        if waited >= patience {
            let empty = Snapshot {
                taken_at_unix_ms: unix_ms(),
                enabled,
                maps: Vec::new(),
                sites: Vec::new(),
                events: Vec::new(),
                events_dropped: 0,
            };
            let reason = format!(
                "the map registry stayed locked for {} ms (perhaps by the panicking thread \
                 itself): maps and sites are missing",
                waited.as_millis()
            );
            return (empty, Some(reason));
        }
        std::thread::sleep(pause.min(patience.saturating_sub(waited)));
        pause = (pause * 2).min(Duration::from_millis(10));
    }
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Copies the registry's maps and sites (the lock is released before sorting).
fn from_registry(reg: std::sync::MutexGuard<'_, registry::Registry>, enabled: bool) -> Snapshot {
    let cells: Vec<Arc<MapCell>> = reg.maps.iter().flatten().cloned().collect();
    let mut sites: Vec<SiteStats> = Vec::with_capacity(reg.sites.len());
    let mut index: StdMap<*const SiteCell, usize> = StdMap::with_capacity(reg.sites.len());
    for site in &reg.sites {
        if site.maps_created.load(Relaxed) == 0
            && site.totals.cells().iter().all(|c| c.load(Relaxed) == 0)
        {
            // Every map created here moved to a named or recovered site, with its history.
            // (A small map named after it worked leaves that work here: listed, with no maps.)
            continue;
        }
        index.insert(*site as *const SiteCell, sites.len());
        sites.push(site_base(site));
    }
    let mut maps = Vec::with_capacity(cells.len());
    for cell in &cells {
        let (stats, totals) = read_map(cell);
        if let Some(&i) = index.get(&(cell.site as *const SiteCell)) {
            let s = &mut sites[i];
            // The totals `stats.len` came from, so that the site's entries agree with them.
            let unflushed = totals.saturating_sub(&cell.flushed.totals.load());
            add_totals(s, &unflushed);
            s.entries = add_signed(s.entries, stats.len as i64 - cell.flushed.len.get() as i64);
            s.allocated_bytes = add_signed(
                s.allocated_bytes,
                stats.allocated_bytes as i64 - cell.flushed.bytes.get() as i64,
            );
            s.wasted_bytes += stats.wasted_bytes;
            s.maps_tracked += 1;
            s.peak_len = s.peak_len.max(stats.peak_len);
            s.resize_max_nanos = s.resize_max_nanos.max(stats.resize_max_nanos);
        }
        maps.push(stats);
    }
    drop(reg);
    maps.sort_by(|a, b| {
        b.allocated_bytes
            .cmp(&a.allocated_bytes)
            .then(a.id.cmp(&b.id))
    });
    sites.sort_by(|a, b| {
        b.allocated_bytes
            .cmp(&a.allocated_bytes)
            .then_with(|| a.site.cmp(&b.site))
            .then_with(|| a.name.cmp(&b.name))
    });
    Snapshot {
        taken_at_unix_ms: unix_ms(),
        enabled,
        maps,
        sites,
        events: Vec::new(),
        events_dropped: 0,
    }
}

fn add_signed(v: u64, d: i64) -> u64 {
    if d >= 0 {
        v.saturating_add(d as u64)
    } else {
        v.saturating_sub(d.unsigned_abs())
    }
}

fn add_totals(s: &mut SiteStats, t: &TotalsValue) {
    s.inserts += t.inserts;
    s.updates += t.updates;
    s.removes += t.removes;
    s.hits += t.hits;
    s.misses += t.misses;
    s.grows += t.grows;
    s.rehashes += t.rehashes;
    s.shrinks += t.shrinks;
    s.resize_nanos += t.resize_nanos;
    s.budget_exceeded += t.budget_exceeded;
}

fn site_base(site: &SiteCell) -> SiteStats {
    let SiteCounts {
        created,
        dropped,
        entries,
        bytes,
        peak_len,
        totals: t,
    } = site.counts();
    SiteStats {
        site: Site::new(site.file, site.line, site.column),
        name: site.name.map(str::to_owned),
        site_from_backtrace: site.resolved,
        key_type: site.key_type.to_owned(),
        value_type: site.value_type.to_owned(),
        maps_live: created.saturating_sub(dropped),
        maps_created: created,
        maps_dropped: dropped,
        maps_tracked: 0,
        entries,
        allocated_bytes: bytes,
        wasted_bytes: 0,
        peak_len,
        inserts: t.inserts,
        updates: t.updates,
        removes: t.removes,
        hits: t.hits,
        misses: t.misses,
        grows: t.grows,
        rehashes: t.rehashes,
        shrinks: t.shrinks,
        resize_nanos: t.resize_nanos,
        resize_max_nanos: site.resize_max_nanos.load(Relaxed),
        budget_exceeded: t.budget_exceeded,
        resize_buckets: site.resize_hist.iter().map(|c| c.load(Relaxed)).collect(),
        timed_resizes: site.timed_resizes.load(Relaxed),
        timed_resize_nanos: site.timed_resize_nanos.load(Relaxed),
    }
}

/// The stats of one map from its cell.
pub(crate) fn map_stats(cell: &MapCell) -> MapStats {
    read_map(cell).0
}

/// The stats of one map from its cell, and the totals they were read from.
///
/// One read of each counter, so that the values agree with each other: `len` from the same
/// inserts and removes as the totals, bytes and capacity from the same resize.
fn read_map(cell: &MapCell) -> (MapStats, TotalsValue) {
    let t = cell.totals();
    let len = cell.len_from(t.inserts, t.removes);
    let (bytes, capacity) = cell.table();
    let needed = cell.needed_bytes(len);
    let stats = MapStats {
        id: cell.id.load(Relaxed),
        name: cell.site.name.map(str::to_owned),
        site: Site::new(cell.site.file, cell.site.line, cell.site.column),
        site_from_backtrace: cell.site.resolved,
        key_type: cell.key_type.to_owned(),
        value_type: cell.value_type.to_owned(),
        len,
        capacity,
        allocated_bytes: bytes,
        wasted_bytes: bytes.saturating_sub(needed),
        // Inserts do not record the peak: it is the length when that is more than the peak
        // recorded before removals.
        peak_len: cell.peak_before_removals().max(len),
        inserts: t.inserts,
        updates: t.updates,
        removes: t.removes,
        hits: t.hits,
        misses: t.misses,
        lookup_sample: cell.lookup_sample.load(Relaxed),
        grows: t.grows,
        rehashes: t.rehashes,
        shrinks: t.shrinks,
        resize_nanos: t.resize_nanos,
        resize_max_nanos: cell.resize_max_nanos.get(),
        budget_exceeded: t.budget_exceeded,
        age: cell
            .tracked_since
            .get()
            .map(|t| t.elapsed())
            .unwrap_or_default(),
        splits: cell.splits.get(),
        tables: cell.tables.get(),
    };
    (stats, t)
}

#[cfg(feature = "serde")]
mod secs_f64 {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let secs = f64::deserialize(d)?;
        Duration::try_from_secs_f64(secs).map_err(serde::de::Error::custom)
    }
}

/// Test helpers: the counters of the anonymous maps created at one line of a test's file.
///
/// Small anonymous maps have no stats of their own: what they do is counted exactly at their
/// site. Tests run in parallel in one process, but only the test at a given line creates maps
/// there, so the difference between two snapshots at that line is its own.
#[cfg(test)]
pub(crate) mod test_sites {
    use super::{SiteStats, Snapshot};

    /// The counters of one site that tests compare between snapshots, signed so that
    /// differences can be taken.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub(crate) struct SiteCounts {
        /// Maps created ([`SiteStats::maps_created`]).
        pub(crate) created: i64,
        /// Maps dropped ([`SiteStats::maps_dropped`]).
        pub(crate) dropped: i64,
        /// Entries in the live maps ([`SiteStats::entries`]).
        pub(crate) entries: i64,
        /// Bytes of the live maps' tables ([`SiteStats::allocated_bytes`]).
        pub(crate) bytes: i64,
        /// New keys inserted ([`SiteStats::inserts`]).
        pub(crate) inserts: i64,
        /// Values replaced ([`SiteStats::updates`]).
        pub(crate) updates: i64,
        /// Keys removed ([`SiteStats::removes`]).
        pub(crate) removes: i64,
    }

    impl SiteCounts {
        /// What one map leaves at its site once created and dropped, having made `inserts`,
        /// `updates` and `removes`: no entries, no bytes.
        pub(crate) fn one_dropped(inserts: i64, updates: i64, removes: i64) -> SiteCounts {
            SiteCounts {
                created: 1,
                dropped: 1,
                entries: 0,
                bytes: 0,
                inserts,
                updates,
                removes,
            }
        }

        /// The counters of a site.
        pub(crate) fn of(s: &SiteStats) -> SiteCounts {
            SiteCounts {
                created: s.maps_created as i64,
                dropped: s.maps_dropped as i64,
                entries: s.entries as i64,
                bytes: s.allocated_bytes as i64,
                inserts: s.inserts as i64,
                updates: s.updates as i64,
                removes: s.removes as i64,
            }
        }

        /// The counters of the anonymous site at `file:line` (see [`anonymous_site_at`]), or
        /// zeros if no map was created there.
        pub(crate) fn at(snap: &Snapshot, file: &str, line: u32) -> SiteCounts {
            anonymous_site_at(snap, file, line).map_or_else(SiteCounts::default, SiteCounts::of)
        }

        /// What the anonymous maps created at `file:line` did between `before` and `after`.
        pub(crate) fn delta(
            before: &Snapshot,
            after: &Snapshot,
            file: &str,
            line: u32,
        ) -> SiteCounts {
            SiteCounts::at(after, file, line) - SiteCounts::at(before, file, line)
        }
    }

    impl std::ops::Sub for SiteCounts {
        type Output = SiteCounts;

        /// Field by field.
        fn sub(self, b: SiteCounts) -> SiteCounts {
            SiteCounts {
                created: self.created - b.created,
                dropped: self.dropped - b.dropped,
                entries: self.entries - b.entries,
                bytes: self.bytes - b.bytes,
                inserts: self.inserts - b.inserts,
                updates: self.updates - b.updates,
                removes: self.removes - b.removes,
            }
        }
    }

    /// The site of the anonymous (unnamed) maps created at `line` of `file`, if any was
    /// (first match). `file` is compared exactly with the site's file: pass `file!()`.
    pub(crate) fn anonymous_site_at<'a>(
        snap: &'a Snapshot,
        file: &str,
        line: u32,
    ) -> Option<&'a SiteStats> {
        snap.sites
            .iter()
            .find(|s| s.site.file == file && s.site.line == line && s.name.is_none())
    }
}
