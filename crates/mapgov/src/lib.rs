//! # mapgov: governed hash maps
//!
//! `mapgov::HashMap` and `mapgov::HashSet` are drop-in replacements for std's, built on
//! [hashbrown] (the table std itself uses), that make every map in a process observable:
//! where it was created, how much memory it holds and wastes, how it grows, how long its resizes
//! stall, and what its operations are.
//!
//! ```
//! use mapgov::HashMap;
//!
//! let mut cache: HashMap<u64, String> = HashMap::new().named("user-cache");
//! for id in 0..1000 {
//!     cache.insert(id, format!("user {id}"));
//! }
//! cache.retain(|id, _| id % 10 == 0); // 90 % removed: the table keeps its memory
//!
//! let stats = cache.stats().unwrap();
//! assert_eq!(stats.len, 100);
//! assert_eq!(stats.removes, 900);
//! assert!(stats.wasted_bytes > 0); // what shrink_to_fit() would free
//!
//! let snapshot = mapgov::snapshot();
//! let site = snapshot.sites.iter().find(|s| s.name.as_deref() == Some("user-cache")).unwrap();
//! assert_eq!(site.entries, 100);
//! ```
//!
//! For big maps that grow while serving, [`SplitMap`] has the same API and governance and
//! grows by splitting one bounded table at a time, so no insert ever rehashes the whole map
//! (see its docs for what that costs on lookups).
//!
//! ## How it works, and what it costs
//!
//! Each map is hashbrown's table plus a 16-byte handle. A *small* map (anonymous, under
//! `MAPGOV_TRACK_MIN_BYTES`, default 64 KiB) keeps in its handle a pointer to its creation
//! site and, in the spare bytes, what it did since it last published to that site: it has no
//! per-map stats (`stats()` is `None`) and costs no allocation of its own. A map that is named,
//! has a budget, counts every lookup or reaches the threshold has a stats cell (about 490 bytes)
//! and its own stats; at the threshold it is also tracked individually. Ordinary operations
//! bump the map's own counters with plain stores: no lock, no allocation, no syscall, no shared
//! cache line. Lookups through `&self` (which many threads may do at once) are sampled: one in
//! `MAPGOV_LOOKUP_SAMPLE` (default 1024) adds its weight with one atomic add, so shared
//! read-only maps keep their throughput. Allocation, resize and drop are the cold path: they
//! time the resize, publish to the site's aggregates through a per-thread batch, and register
//! tracked maps.
//!
//! ## Call sites
//!
//! Constructors, `Default::default`, `Clone::clone`, `From::from`, `FromIterator::from_iter` and
//! `.into()` report the caller's line. `iter.collect()` and `Vec::clone` can only report a line
//! inside std; for such maps, when they become tracked, mapgov walks a backtrace once and takes
//! the first frame of user code (this needs line tables: `debug = "line-tables-only"` in the
//! release profile). Untracked maps from such sites are aggregated under the std location.
//!
//! ## Events and traces
//!
//! Tracked maps record their lifecycle as [`Event`]s: [`created`](EventKind::Created) (when the
//! map becomes tracked), [`grew`](EventKind::Grew), [`split`](EventKind::Split) (a
//! [`SplitMap`] split a table), [`rehashed`](EventKind::Rehashed),
//! [`shrank`](EventKind::Shrank), [`cleared`](EventKind::Cleared),
//! [`dropped`](EventKind::Dropped) (with its age, peak length and operations) and
//! [`budget_exceeded`](EventKind::BudgetExceeded). Each has its time (monotonic, with a
//! wall-clock anchor), map id, site, name, thread, length, capacity and bytes before and
//! after, and the resize's duration when it was timed.
//!
//! Events are recorded only where mapgov already was on its cold path (tracking, resize,
//! `clear`, drop, budget crossing), never on an ordinary operation, into a ring of
//! `MAPGOV_EVENTS` records (default [`DEFAULT_EVENTS`]) allocated once. Recording copies plain
//! data under a lock taken with `try_lock`: it never blocks and never allocates; an event that
//! finds the ring busy is dropped, and the oldest is overwritten when the ring is full — both
//! are counted in [`Snapshot::events_dropped`]. [`Snapshot::events`] holds the recent events,
//! oldest first, and dumps carry them in their `events` section.
//!
//! With the `tracing` feature (default), every event is also a `tracing` event with target
//! `mapgov` and the fields `kind`, `map_id`, `site`, `name`, `thread_id`, `thread_name`,
//! `len_before`, `len_after`, `capacity_before`, `capacity_after`, `bytes_before`,
//! `bytes_after`, and where they apply `duration_ns`, `age_ns`, `peak_len`, `operations`,
//! `limit_kind`, `limit`, `value`. Its level is DEBUG, except budget crossings (message
//! `map budget exceeded`, also for untracked maps) and resizes of tables of 64 KiB or more
//! slower than [`STALL_WARN`] (1 ms), which are WARN.
//!
//! [`trace`] (feature `serde`) exports them as JSON Lines and in the Chrome trace event format
//! (Perfetto), and the live map memory by site as a pprof profile (feature `pprof`); the CLI's
//! `mapgov trace` does the same for snapshot files, dumps and live endpoints.
//!
//! ## Configuration
//!
//! [`Config`] and the `MAPGOV_*` environment variables, all listed on [`Config::from_env`].
//! `MAPGOV=off` makes every map a plain hashbrown map that counts nothing.
//!
//! ## Feature flags
//!
//! - `tracing` (default): lifecycle events and budget crossings as `tracing` events.
//! - `serde`: `Serialize`/`Deserialize` for maps ([`HashMap`], [`SplitMap`]), sets and the
//!   snapshot types, the `mapgov-snapshot` document, and the JSON Lines and Chrome exports of
//!   [`trace`].
//! - `pprof`: `trace::pprof`, live map memory by site as a pprof profile (enables `serde`;
//!   brings `prost` and `flate2`).
//! - `rayon`: parallel iterators for maps ([`HashMap`], [`SplitMap`]) and sets, with
//!   `par_extend`, `par_drain` and `collect()`; `SplitMap`'s iterator types are in
//!   `mapgov::split_map::rayon`.
//! - `guard` (default): [`guard`], dumps of every map's state on panic, on a signal and on
//!   demand, in the versioned `mapgov-dump` JSON format. Enables `serde`, and on Unix brings
//!   `signal-hook` (the signal trigger) and `rustix` (the dump directory's ownership check).
//!
//! [hashbrown]: https://docs.rs/hashbrown
// `unsafe` appears in four places, each with a `// SAFETY:` comment: forwarding std's
// `get_disjoint_unchecked_mut`, the auto-trait impls of the set's `ExtractIf`, and, measured
// to pay off, the directory lookup of `SplitMap` (unchecked indexing) and the test of a map's
// off mark (`Gov::is_off`: one word of the handle read directly).
#![deny(unsafe_code)]
#![warn(missing_docs)]

mod batch;
mod callsite;
mod config;
#[cfg(feature = "serde")]
mod document;
#[macro_use]
mod entry;
mod event;
#[macro_use]
mod gov;
#[cfg(feature = "guard")]
pub mod guard;
mod iter;
mod map;
mod policy;
mod registry;
mod report;
mod set;
mod snapshot;
mod split;
mod stats;
#[cfg(feature = "serde")]
pub mod trace;

/// Optional integrations with other crates, one file per crate.
#[cfg(any(feature = "serde", feature = "rayon"))]
mod external {
    #[cfg(feature = "rayon")]
    pub(crate) mod rayon;
    #[cfg(feature = "serde")]
    mod serde;
}

pub use config::{
    AlreadyInstalled, Config, DEFAULT_LOOKUP_SAMPLE, DEFAULT_TIME_MIN_BYTES,
    DEFAULT_TRACK_MIN_BYTES, current as current_config,
};
#[cfg(feature = "serde")]
pub use document::{
    DocumentError, SNAPSHOT_FORMAT, SNAPSHOT_VERSION, SnapshotDocument, peek_format,
};
pub use event::{BudgetLimit, DEFAULT_EVENTS, Event, EventKind, Lifetime, STALL_WARN, TableSize};
pub use map::HashMap;
pub use policy::{Budget, BudgetCrossing, ShrinkPolicy};
pub use report::{
    Evidence, Finding, FindingKind, ParseSeverityError, Report, Severity, Thresholds, human_bytes,
    human_duration, report_series,
};
pub use set::HashSet;
pub use snapshot::{MapStats, Site, SiteStats, Snapshot, snapshot};
pub use split::SplitMap;
pub use stats::RESIZE_BUCKETS_NANOS;

/// The map's entry and iterator types, as in `std::collections::hash_map`.
pub mod hash_map {
    pub use crate::entry::{Entry, OccupiedEntry, VacantEntry};
    pub use crate::iter::{
        Drain, ExtractIf, IntoIter, IntoKeys, IntoValues, Iter, IterMut, Keys, Values, ValuesMut,
    };
    pub use crate::map::HashMap;
    pub use std::collections::hash_map::DefaultHasher;
    pub use std::hash::RandomState;
}

/// [`SplitMap`]'s entry and iterator types, and the bounds of its tables.
pub mod split_map {
    pub use crate::split::{
        Drain, Entry, ExtractIf, IntoIter, IntoKeys, IntoValues, Iter, IterMut, Keys,
        OccupiedEntry, SplitMap, TABLE_MAX_BUCKETS, TABLE_MAX_ENTRIES, VacantEntry, Values,
        ValuesMut,
    };

    /// [`SplitMap`]'s parallel iterators (feature `rayon`), as `hashbrown::hash_map::rayon`
    /// holds those of [`HashMap`](crate::HashMap).
    ///
    /// They iterate the map's tables in parallel; see each type for what it yields and counts.
    #[cfg(feature = "rayon")]
    pub mod rayon {
        pub use crate::external::rayon::{IntoParIter, ParDrain, ParIter, ParIterMut};
    }
}

/// The set's iterator types, as in `std::collections::hash_set`, and what a set counts.
///
/// A [`HashSet`] is a governed `HashMap<T, ()>`; each set operation counts what its map
/// counterpart counts:
///
/// | set operation | map counterpart | counted as |
/// |---|---|---|
/// | [`insert`](HashSet::insert) | `entry(value).or_insert(())` | a lookup (hit if present, miss if absent), plus an insert if absent |
/// | [`replace`](HashSet::replace) | `insert(value, ())` | an update if present, an insert if absent |
/// | [`remove`](HashSet::remove), [`take`](HashSet::take) | `remove` | a remove if present |
/// | [`contains`](HashSet::contains), [`get`](HashSet::get) | `contains_key`, `get_key_value` | a lookup |
/// | `retain`, `drain`, `extract_if`, `clear` | the same | one remove per element removed |
///
/// **Set algebra counts its lookups.** [`difference`](HashSet::difference),
/// [`intersection`](HashSet::intersection),
/// [`symmetric_difference`](HashSet::symmetric_difference), [`union`](HashSet::union),
/// [`is_disjoint`](HashSet::is_disjoint), [`is_subset`](HashSet::is_subset),
/// [`is_superset`](HashSet::is_superset), `==` and the operators `|`, `&`, `^`, `-` probe one
/// set for each element of the other, exactly as std does (std picks which set to probe by
/// size, and so do we), and every probe is an ordinary counted
/// [`contains`](HashSet::contains) on the probed set: a hit or a miss, sampled like any other
/// lookup. So a set's `hits + misses` is every membership test made against it, whichever API
/// made it. Iterating a set (`iter`, `into_iter`, `Debug`, serialization) is not a lookup and
/// counts nothing. The operators' result is a new set attributed to the caller's line.
pub mod hash_set {
    pub use crate::set::{
        Difference, Drain, ExtractIf, HashSet, Intersection, IntoIter, Iter, SymmetricDifference,
        Union,
    };
}

#[doc = include_str!("../../../README.md")]
#[cfg(doctest)]
struct ReadmeDoctests;
