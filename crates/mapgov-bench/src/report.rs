//! What a run produces, as serialized types kept apart from the code that measures.
//!
//! A full report (`mapbench --format json`) is a [`Report`]: format name [`FORMAT`] and
//! [`VERSION`], the machine, and one [`ModeReport`] per governance mode, each a list of
//! [`Row`]s. Each mode is measured by a child process, which prints a [`ChildReport`]
//! (format [`CHILD_FORMAT`]) on its standard output.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::maps::{HasherKind, Variant};

/// The format name of a full report.
pub const FORMAT: &str = "mapbench";
/// The format name of one child's report.
pub const CHILD_FORMAT: &str = "mapbench-mode";
/// The version of both formats (3: rows and modes record the child processes they merge; 4:
/// rows hold the A/A control; 5: rows measured with governance off hold the switch floor; 6:
/// the growth's worst-insert rows hold the machine's stall floor where `SplitMap`'s target
/// applies; 7: the report records the build, its compiler and flags).
pub const VERSION: u32 = 7;

/// How the governed map is configured in one run (one child process).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// The default configuration (no `MAPGOV_*` variable set).
    Default,
    /// `MAPGOV=off`: governance off at run time.
    Off,
    /// Everything tracked, every counter exact: `MAPGOV_TRACK_MIN_BYTES=0`,
    /// `MAPGOV_LOOKUP_SAMPLE=1`, `MAPGOV_TIME_MIN_BYTES=0`.
    Exact,
}

impl Mode {
    /// Every mode, in report order.
    pub const ALL: [Mode; 3] = [Mode::Default, Mode::Off, Mode::Exact];

    /// The mode's name, as given to `--mode`.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Default => "default",
            Mode::Off => "off",
            Mode::Exact => "exact",
        }
    }

    /// The environment a child process of this mode runs with (every other `MAPGOV_*` variable
    /// is removed).
    pub fn env(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Mode::Default => &[],
            Mode::Off => &[("MAPGOV", "off")],
            Mode::Exact => &[
                ("MAPGOV_TRACK_MIN_BYTES", "0"),
                ("MAPGOV_LOOKUP_SAMPLE", "1"),
                ("MAPGOV_TIME_MIN_BYTES", "0"),
            ],
        }
    }

    /// The configuration this mode's environment must produce.
    pub fn expected_config(self) -> mapgov::Config {
        let config = mapgov::Config::default();
        match self {
            Mode::Default => config,
            Mode::Off => config.enabled(false),
            Mode::Exact => config.track_min_bytes(0).lookup_sample(1).time_min_bytes(0),
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One measured quantity. Its id (the serialized name) is stable; its label says the size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Workload {
    /// Insert the big key set into an empty map (no pre-sizing): ns per insert.
    #[serde(rename = "big_insert")]
    BigInsert,
    /// Look up every key of the big map, in another order: ns per lookup.
    #[serde(rename = "big_get_hit")]
    BigGetHit,
    /// Look up as many absent keys: ns per lookup.
    #[serde(rename = "big_get_miss")]
    BigGetMiss,
    /// Remove every key of the big map: ns per remove.
    #[serde(rename = "big_remove")]
    BigRemove,
    /// Iterate over the big map: ns per entry.
    #[serde(rename = "big_iterate")]
    BigIterate,
    /// `*entry(k).or_insert(0) += 1` into an empty map, half inserts, half updates: ns per op.
    #[serde(rename = "big_entry_upsert")]
    BigEntryUpsert,
    /// Look up the keys of a cache-resident map: ns per lookup.
    #[serde(rename = "cache_get_hit")]
    CacheGetHit,
    /// `clear()` the cache-resident map, then insert its keys again: ns per insert.
    #[serde(rename = "cache_insert_after_clear")]
    CacheInsertAfterClear,
    /// Create a map, insert 4 keys, drop it: ns per map.
    #[serde(rename = "small_lifecycle")]
    SmallLifecycle,
    /// Two threads looking up keys of one shared big map: total Mops/s.
    #[serde(rename = "shared_big_reads")]
    SharedBigReads,
    /// Two threads looking up keys of one shared cache-resident map: total Mops/s.
    #[serde(rename = "shared_cache_reads")]
    SharedCacheReads,
    /// Growing one map to the growth size: the slowest single insert, ms.
    #[serde(rename = "growth_worst")]
    GrowthWorst,
    /// The same growth: the 99.99th percentile insert, ns.
    #[serde(rename = "growth_p9999")]
    GrowthP9999,
    /// The same growth: the 99.9th percentile insert, ns.
    #[serde(rename = "growth_p999")]
    GrowthP999,
    /// The same growth: total time, ms.
    #[serde(rename = "growth_total")]
    GrowthTotal,
    /// The same growth: the most heap the map held at any moment (a growing hashbrown table
    /// holds its old and its new table at once), bytes.
    #[serde(rename = "growth_peak_bytes")]
    GrowthPeakBytes,
    /// `size_of` of the map value, bytes.
    #[serde(rename = "size_of")]
    SizeOf,
    /// Heap bytes per map holding 4 entries (many such maps alive at once).
    #[serde(rename = "heap_small")]
    HeapSmall,
    /// Heap bytes per map whose table is large enough to be tracked by default.
    #[serde(rename = "heap_tracked")]
    HeapTracked,
}

impl Workload {
    /// Every workload, in report order.
    pub const ALL: [Workload; 19] = [
        Workload::BigInsert,
        Workload::BigGetHit,
        Workload::BigGetMiss,
        Workload::BigRemove,
        Workload::BigIterate,
        Workload::BigEntryUpsert,
        Workload::CacheGetHit,
        Workload::CacheInsertAfterClear,
        Workload::SmallLifecycle,
        Workload::SharedBigReads,
        Workload::SharedCacheReads,
        Workload::GrowthWorst,
        Workload::GrowthP9999,
        Workload::GrowthP999,
        Workload::GrowthTotal,
        Workload::GrowthPeakBytes,
        Workload::SizeOf,
        Workload::HeapSmall,
        Workload::HeapTracked,
    ];

    /// The stable id (as serialized).
    pub fn id(self) -> &'static str {
        match self {
            Workload::BigInsert => "big_insert",
            Workload::BigGetHit => "big_get_hit",
            Workload::BigGetMiss => "big_get_miss",
            Workload::BigRemove => "big_remove",
            Workload::BigIterate => "big_iterate",
            Workload::BigEntryUpsert => "big_entry_upsert",
            Workload::CacheGetHit => "cache_get_hit",
            Workload::CacheInsertAfterClear => "cache_insert_after_clear",
            Workload::SmallLifecycle => "small_lifecycle",
            Workload::SharedBigReads => "shared_big_reads",
            Workload::SharedCacheReads => "shared_cache_reads",
            Workload::GrowthWorst => "growth_worst",
            Workload::GrowthP9999 => "growth_p9999",
            Workload::GrowthP999 => "growth_p999",
            Workload::GrowthTotal => "growth_total",
            Workload::GrowthPeakBytes => "growth_peak_bytes",
            Workload::SizeOf => "size_of",
            Workload::HeapSmall => "heap_small",
            Workload::HeapTracked => "heap_tracked",
        }
    }

    /// The unit of the values.
    pub fn unit(self) -> &'static str {
        match self {
            Workload::SharedBigReads | Workload::SharedCacheReads => "Mops/s",
            Workload::GrowthWorst | Workload::GrowthTotal => "ms",
            Workload::GrowthP9999 | Workload::GrowthP999 => "ns",
            Workload::SizeOf
            | Workload::HeapSmall
            | Workload::HeapTracked
            | Workload::GrowthPeakBytes => "bytes",
            Workload::BigIterate => "ns/entry",
            Workload::SmallLifecycle => "ns/map",
            _ => "ns/op",
        }
    }

    /// Whether larger values are better (throughput) rather than worse (time, bytes).
    pub fn higher_is_better(self) -> bool {
        matches!(self, Workload::SharedBigReads | Workload::SharedCacheReads)
    }

    /// Whether the values are measured once, exactly (memory), rather than timed repeatedly.
    pub fn is_memory(self) -> bool {
        matches!(
            self,
            Workload::SizeOf | Workload::HeapSmall | Workload::HeapTracked
        )
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// The samples of one variant on one workload, and their min / median / max.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// The smallest sample.
    pub min: f64,
    /// The median (the mean of the two middle samples when their number is even).
    pub median: f64,
    /// The largest sample.
    pub max: f64,
    /// Every sample, in the order measured.
    pub samples: Vec<f64>,
}

impl Summary {
    /// Summarizes `samples`.
    ///
    /// # Panics
    ///
    /// Panics if `samples` is empty or holds a NaN.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = mapgov_bench::Summary::of(vec![3.0, 1.0, 2.0, 10.0]);
    /// assert_eq!((s.min, s.median, s.max), (1.0, 2.5, 10.0));
    /// ```
    pub fn of(samples: Vec<f64>) -> Summary {
        assert!(!samples.is_empty(), "no samples");
        let mut sorted = samples.clone();
        sorted.sort_by(|a, b| a.partial_cmp(b).expect("a sample is NaN"));
        let n = sorted.len();
        let median = if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
        };
        Summary {
            min: sorted[0],
            median,
            max: sorted[n - 1],
            samples,
        }
    }
}

/// The variants' summaries on one workload.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Variants {
    /// `hashbrown::HashMap`, the baseline.
    pub hashbrown: Summary,
    /// `std::collections::HashMap`, for reference.
    pub std: Summary,
    /// `mapgov::HashMap` in the run's mode.
    pub mapgov: Summary,
    /// `mapgov::SplitMap` in the run's mode.
    pub split: Summary,
    /// hashbrown's map again, the A/A control ([`Control`](crate::maps::Control)).
    pub control: Summary,
    /// The switch floor ([`SwitchFloor`](crate::SwitchFloor)), in the mode it is timed in
    /// (`MAPGOV=off`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub switch: Option<Summary>,
}

impl Variants {
    /// The summary of `variant`, if it was timed.
    pub fn get(&self, variant: Variant) -> Option<&Summary> {
        match variant {
            Variant::Hashbrown => Some(&self.hashbrown),
            Variant::Std => Some(&self.std),
            Variant::Mapgov => Some(&self.mapgov),
            Variant::Split => Some(&self.split),
            Variant::Control => Some(&self.control),
            Variant::Switch => self.switch.as_ref(),
        }
    }
}

/// A target of the performance issue that a row is held to.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "limit", rename_all = "snake_case")]
pub enum Target {
    /// mapgov's median over hashbrown's must be at most this.
    MaxRatio(f64),
    /// mapgov's median over hashbrown's must be at least this (throughput).
    MinRatio(f64),
    /// mapgov's median must be at most this, in the row's unit.
    MaxValue(f64),
}

impl Target {
    /// Whether a row with this ratio and mapgov median meets the target.
    pub fn is_met(self, ratio: f64, value: f64) -> bool {
        match self {
            Target::MaxRatio(limit) => ratio <= limit,
            Target::MinRatio(limit) => ratio >= limit,
            Target::MaxValue(limit) => value <= limit,
        }
    }

    /// The target of the performance issue for a workload in a mode, if any.
    ///
    /// Default configuration: 1M insert / get hit / get miss / remove at most 1.05 (std
    /// `RandomState`) or 1.10 (foldhash); the cache-resident get and insert at most 1.10 / 1.25;
    /// the small-map lifecycle at most 1.15; two-thread shared reads at least 0.90 of
    /// hashbrown's throughput. `MAPGOV=off`: every timed workload and heap row at most 1.02
    /// (throughput at least 1 / 1.02). In every mode `size_of` at most 64 bytes.
    pub fn for_row(mode: Mode, hasher: HasherKind, workload: Workload) -> Option<Target> {
        use Workload as W;
        if workload == W::SizeOf {
            return Some(Target::MaxValue(64.0));
        }
        let std_hasher = hasher == HasherKind::Std;
        match mode {
            Mode::Default => match workload {
                W::BigInsert | W::BigGetHit | W::BigGetMiss | W::BigRemove => {
                    Some(Target::MaxRatio(if std_hasher { 1.05 } else { 1.10 }))
                }
                W::CacheGetHit | W::CacheInsertAfterClear => {
                    Some(Target::MaxRatio(if std_hasher { 1.10 } else { 1.25 }))
                }
                W::SmallLifecycle => Some(Target::MaxRatio(1.15)),
                W::SharedBigReads | W::SharedCacheReads => Some(Target::MinRatio(0.90)),
                _ => None,
            },
            Mode::Off if workload.higher_is_better() => Some(Target::MinRatio(1.0 / 1.02)),
            Mode::Off => Some(Target::MaxRatio(1.02)),
            Mode::Exact => None,
        }
    }
}

impl Target {
    /// The target of the never-stalling-map issue for `SplitMap` on a workload, if any
    /// (default configuration): the worst insert while growing to 16M at most 1 ms; the
    /// p99.9 insert at most 2x hashbrown's; the total growth time at most 1.15x; get hit and
    /// get miss on the 1M map at most 1.10x; the peak heap while growing at most hashbrown's.
    pub fn for_split_row(mode: Mode, workload: Workload) -> Option<Target> {
        use Workload as W;
        if mode != Mode::Default {
            return None;
        }
        match workload {
            W::GrowthWorst => Some(Target::MaxValue(1.0)),
            W::GrowthP999 => Some(Target::MaxRatio(2.0)),
            W::GrowthTotal => Some(Target::MaxRatio(1.15)),
            W::BigGetHit | W::BigGetMiss => Some(Target::MaxRatio(1.10)),
            W::GrowthPeakBytes => Some(Target::MaxRatio(1.0)),
            _ => None,
        }
    }
}

/// Which governed map a target is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Subject {
    /// `mapgov::HashMap` (the performance issue's targets).
    Mapgov,
    /// `mapgov::SplitMap` (the never-stalling map's targets).
    Split,
}

impl Subject {
    /// The variant measured for this subject.
    pub fn variant(self) -> Variant {
        match self {
            Subject::Mapgov => Variant::Mapgov,
            Subject::Split => Variant::Split,
        }
    }

    /// The subject's name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Subject::Mapgov => "HashMap",
            Subject::Split => "SplitMap",
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::MaxRatio(l) => write!(f, "<= {l:.2}"),
            Target::MinRatio(l) => write!(f, ">= {l:.2}"),
            Target::MaxValue(l) => write!(f, "<= {l}"),
        }
    }
}

/// One workload with one hasher in one mode: the variants and how mapgov's two maps (and the
/// A/A control) compare.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// The hasher every map used.
    pub hasher: HasherKind,
    /// What was measured.
    pub workload: Workload,
    /// A human label with the size used (`"1M insert"`).
    pub label: String,
    /// The unit of every value in the row.
    pub unit: String,
    /// Whether larger values are better.
    pub higher_is_better: bool,
    /// The variants' summaries.
    pub variants: Variants,
    /// mapgov's median over hashbrown's (for throughput too: above 1 is then better).
    pub ratio_vs_hashbrown: f64,
    /// mapgov's median over std's.
    pub ratio_vs_std: f64,
    /// The issue's target for this row, if it has one.
    pub target: Option<Target>,
    /// Whether the target is met (`None` without a target).
    pub met: Option<bool>,
    /// `SplitMap`'s median over hashbrown's.
    pub split_ratio_vs_hashbrown: f64,
    /// The never-stalling-map issue's target for `SplitMap` on this row, if it has one.
    pub split_target: Option<Target>,
    /// Whether `split_target` is met.
    pub split_met: Option<bool>,
    /// The A/A control's median over hashbrown's: the harness's own error on this row (a map
    /// identical to hashbrown's reads this far from 1).
    pub control_ratio_vs_hashbrown: f64,
    /// The switch floor's median over hashbrown's, where it was timed (`MAPGOV=off`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub switch_ratio_vs_hashbrown: Option<f64>,
    /// Whether the switch floor meets `HashMap`'s target on this row, where it was timed and
    /// the row has a target: where it does not, no map that can be switched off while the
    /// process runs meets it (in this loop, on this build).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub switch_met: Option<bool>,
    /// The machine's stall floor, on the worst-insert row where `SplitMap`'s target applies
    /// (the default configuration): after each `SplitMap` growth, with the grown map still
    /// held, for as long as that growth took, a loop that does nothing but read the clock
    /// records the longest gap between two readings, in the row's unit (ms). That is what the
    /// machine alone (preemption, interrupts, the hypervisor) kept a thread from running in a
    /// run that long; a worst insert no larger than it cannot be told from the machine's noise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stall_floor: Option<Summary>,
    /// Whether the stall floor meets `SplitMap`'s target on this row, where it was measured:
    /// where it does not, a loop with no map at all missed that target in a run as long.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stall_met: Option<bool>,
    /// The ratios each child process measured, when the mode ran in more than one
    /// (`--processes`); the row's ratios are then their medians. Empty for one process.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub per_process: Vec<ProcessRatios>,
}

/// What one child process measured on a row: its medians and their ratios.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProcessRatios {
    /// mapgov's median over hashbrown's, in that process.
    pub vs_hashbrown: f64,
    /// mapgov's median over std's, in that process.
    pub vs_std: f64,
    /// `SplitMap`'s median over hashbrown's, in that process.
    pub split_vs_hashbrown: f64,
    /// mapgov's median, in that process.
    pub mapgov: f64,
    /// `SplitMap`'s median, in that process.
    pub split: f64,
    /// The A/A control's median over hashbrown's, in that process.
    pub control_vs_hashbrown: f64,
    /// The switch floor's median over hashbrown's, in that process, where it was timed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub switch_vs_hashbrown: Option<f64>,
    /// The switch floor's median, in that process, where it was timed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub switch: Option<f64>,
    /// The stall floor's median, in that process, where it was measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stall: Option<f64>,
}

impl ProcessRatios {
    /// `subject`'s ratio to hashbrown in this process.
    pub fn ratio_of(&self, subject: Subject) -> f64 {
        match subject {
            Subject::Mapgov => self.vs_hashbrown,
            Subject::Split => self.split_vs_hashbrown,
        }
    }
}

impl Row {
    /// A row from the variants' summaries, with its ratios and its target evaluated.
    pub fn new(
        mode: Mode,
        hasher: HasherKind,
        workload: Workload,
        label: String,
        variants: Variants,
    ) -> Row {
        let ratio = |base: &Summary| ratio(variants.mapgov.median, base.median);
        let ratio_vs_hashbrown = ratio(&variants.hashbrown);
        let ratio_vs_std = ratio(&variants.std);
        let target = Target::for_row(mode, hasher, workload);
        let met = target.map(|t| t.is_met(ratio_vs_hashbrown, variants.mapgov.median));
        let split_ratio_vs_hashbrown =
            self::ratio(variants.split.median, variants.hashbrown.median);
        let split_target = Target::for_split_row(mode, workload);
        let split_met =
            split_target.map(|t| t.is_met(split_ratio_vs_hashbrown, variants.split.median));
        let control_ratio_vs_hashbrown =
            self::ratio(variants.control.median, variants.hashbrown.median);
        // The switch floor, where it was timed: its ratio and its median.
        let floor = variants
            .switch
            .as_ref()
            .map(|s| (self::ratio(s.median, variants.hashbrown.median), s.median));
        let switch_ratio_vs_hashbrown = floor.map(|(r, _)| r);
        let switch_met = target.zip(floor).map(|(t, (r, m))| t.is_met(r, m));
        Row {
            hasher,
            workload,
            label,
            unit: workload.unit().to_owned(),
            higher_is_better: workload.higher_is_better(),
            variants,
            ratio_vs_hashbrown,
            ratio_vs_std,
            target,
            met,
            split_ratio_vs_hashbrown,
            split_target,
            split_met,
            control_ratio_vs_hashbrown,
            switch_ratio_vs_hashbrown,
            switch_met,
            stall_floor: None,
            stall_met: None,
            per_process: Vec::new(),
        }
    }

    /// The row with the machine's stall floor (see [`Row::stall_floor`]): its samples, one
    /// per `SplitMap` growth, held to `SplitMap`'s target on the row where that is a value.
    ///
    /// # Panics
    ///
    /// Panics if `samples` is empty or holds a NaN.
    pub fn with_stall_floor(mut self, samples: Vec<f64>) -> Row {
        let floor = Summary::of(samples);
        self.stall_met = stall_met(self.split_target, floor.median);
        self.stall_floor = Some(floor);
        self
    }

    /// One row from the same row measured in several child processes of one mode: every
    /// variant's samples pooled, and each ratio the median of the processes' ratios (each one
    /// taken within its own process, as a single run's are), so that a process whose memory
    /// layout favours one variant cannot decide the result. Ratio targets are checked against
    /// those medians, and value targets (the worst insert, `size_of`) against the median of
    /// the processes' medians ([`Row::checked_median`]).
    ///
    /// # Panics
    ///
    /// Panics if `rows` is empty or its rows are not all of one hasher and workload.
    pub fn merge(mode: Mode, rows: &[Row]) -> Row {
        let first = rows.first().expect("rows to merge");
        assert!(
            rows.iter()
                .all(|r| r.hasher == first.hasher && r.workload == first.workload),
            "merging rows of different workloads"
        );
        if rows.len() == 1 {
            return first.clone();
        }
        let pool = |pick: fn(&Variants) -> &Summary| {
            Summary::of(
                rows.iter()
                    .flat_map(|r| pick(&r.variants).samples.iter().copied())
                    .collect(),
            )
        };
        let variants = Variants {
            hashbrown: pool(|v| &v.hashbrown),
            std: pool(|v| &v.std),
            mapgov: pool(|v| &v.mapgov),
            split: pool(|v| &v.split),
            control: pool(|v| &v.control),
            switch: pool_if_all(rows, |r| r.variants.switch.as_ref()),
        };
        let per_process: Vec<ProcessRatios> = rows
            .iter()
            .map(|r| ProcessRatios {
                vs_hashbrown: r.ratio_vs_hashbrown,
                vs_std: r.ratio_vs_std,
                split_vs_hashbrown: r.split_ratio_vs_hashbrown,
                mapgov: r.variants.mapgov.median,
                split: r.variants.split.median,
                control_vs_hashbrown: r.control_ratio_vs_hashbrown,
                switch_vs_hashbrown: r.switch_ratio_vs_hashbrown,
                switch: r.variants.switch.as_ref().map(|s| s.median),
                stall: r.stall_floor.as_ref().map(|s| s.median),
            })
            .collect();
        let median_of = |pick: fn(&ProcessRatios) -> f64| {
            Summary::of(per_process.iter().map(pick).collect()).median
        };
        // Where every process timed the switch floor: the median of its ratios and medians.
        let floor = median_if_all(per_process.iter().map(|p| p.switch_vs_hashbrown))
            .zip(median_if_all(per_process.iter().map(|p| p.switch)));
        let switch_ratio_vs_hashbrown = floor.map(|(r, _)| r);
        let ratio_vs_hashbrown = median_of(|p| p.vs_hashbrown);
        let split_ratio_vs_hashbrown = median_of(|p| p.split_vs_hashbrown);
        let target = Target::for_row(mode, first.hasher, first.workload);
        let met = target.map(|t| t.is_met(ratio_vs_hashbrown, median_of(|p| p.mapgov)));
        let split_target = Target::for_split_row(mode, first.workload);
        let split_met =
            split_target.map(|t| t.is_met(split_ratio_vs_hashbrown, median_of(|p| p.split)));
        let switch_met = target.zip(floor).map(|(t, (r, m))| t.is_met(r, m));
        // Where every process measured the stall floor: its pooled samples, and the median of
        // the processes' medians held to the target, as a map's value is.
        let stall = median_if_all(per_process.iter().map(|p| p.stall));
        let stall_floor = pool_if_all(rows, |r| r.stall_floor.as_ref());
        Row {
            hasher: first.hasher,
            workload: first.workload,
            label: first.label.clone(),
            unit: first.unit.clone(),
            higher_is_better: first.higher_is_better,
            variants,
            ratio_vs_hashbrown,
            ratio_vs_std: median_of(|p| p.vs_std),
            target,
            met,
            split_ratio_vs_hashbrown,
            split_target,
            split_met,
            control_ratio_vs_hashbrown: median_of(|p| p.control_vs_hashbrown),
            switch_ratio_vs_hashbrown,
            switch_met,
            stall_floor,
            stall_met: stall.and_then(|m| stall_met(split_target, m)),
            per_process,
        }
    }

    /// The value a target on a value is checked against: `subject`'s median, or with several
    /// processes the median of their medians.
    pub fn checked_median(&self, subject: Subject) -> f64 {
        if self.per_process.is_empty() {
            return self
                .variants
                .get(subject.variant())
                .expect("HashMap and SplitMap are timed in every mode")
                .median;
        }
        let each = self.per_process.iter().map(|p| match subject {
            Subject::Mapgov => p.mapgov,
            Subject::Split => p.split,
        });
        Summary::of(each.collect()).median
    }

    /// The switch floor's value, as [`checked_median`](Row::checked_median) takes a map's,
    /// where it was timed.
    pub fn checked_floor_median(&self) -> Option<f64> {
        self.checked_optional(self.variants.switch.as_ref(), |p| p.switch)
    }

    /// The stall floor's value, as [`checked_median`](Row::checked_median) takes a map's,
    /// where it was measured.
    pub fn checked_stall_median(&self) -> Option<f64> {
        self.checked_optional(self.stall_floor.as_ref(), |p| p.stall)
    }

    /// The value a target is checked against for a floor measured in some runs only: its own
    /// median in one process (`own`), or the median of the processes' (`pick`) where every
    /// process measured it.
    fn checked_optional(
        &self,
        own: Option<&Summary>,
        pick: fn(&ProcessRatios) -> Option<f64>,
    ) -> Option<f64> {
        if self.per_process.is_empty() {
            return own.map(|s| s.median);
        }
        median_if_all(self.per_process.iter().map(pick))
    }

    /// The ratio to hashbrown of `subject`'s median.
    pub fn ratio_of(&self, subject: Subject) -> f64 {
        match subject {
            Subject::Mapgov => self.ratio_vs_hashbrown,
            Subject::Split => self.split_ratio_vs_hashbrown,
        }
    }

    /// `subject`'s target on this row and whether it is met.
    pub fn target_of(&self, subject: Subject) -> Option<(Target, bool)> {
        match subject {
            Subject::Mapgov => self.target.zip(self.met),
            Subject::Split => self.split_target.zip(self.split_met),
        }
    }
}

/// Whether a stall floor of median `median` meets `target`, where that is a value (the
/// worst insert's): a ratio target has no floor of this kind.
fn stall_met(target: Option<Target>, median: f64) -> Option<bool> {
    target
        .filter(|t| matches!(t, Target::MaxValue(_)))
        .map(|t| t.is_met(f64::NAN, median))
}

/// Every row's samples of a summary that some rows may lack (`pick`), pooled, if every row
/// has it.
fn pool_if_all(rows: &[Row], pick: fn(&Row) -> Option<&Summary>) -> Option<Summary> {
    rows.iter()
        .map(pick)
        .collect::<Option<Vec<&Summary>>>()
        .map(|all| Summary::of(all.iter().flat_map(|s| s.samples.iter().copied()).collect()))
}

/// The median of `values` if every one is present.
fn median_if_all(values: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    values
        .collect::<Option<Vec<f64>>>()
        .map(|v| Summary::of(v).median)
}

fn ratio(a: f64, b: f64) -> f64 {
    if a == b { 1.0 } else { a / b }
}

/// The governance configuration a mode ran with, as the child read it back from mapgov.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigInfo {
    /// Governance on.
    pub enabled: bool,
    /// `MAPGOV_TRACK_MIN_BYTES`.
    pub track_min_bytes: usize,
    /// `MAPGOV_LOOKUP_SAMPLE`.
    pub lookup_sample: u32,
    /// `MAPGOV_TIME_MIN_BYTES`.
    pub time_min_bytes: usize,
}

impl From<&mapgov::Config> for ConfigInfo {
    fn from(c: &mapgov::Config) -> ConfigInfo {
        ConfigInfo {
            enabled: c.is_enabled(),
            track_min_bytes: c.get_track_min_bytes(),
            lookup_sample: c.get_lookup_sample(),
            time_min_bytes: c.get_time_min_bytes(),
        }
    }
}

/// Everything measured in one mode (one child process).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModeReport {
    /// The mode.
    pub mode: Mode,
    /// The configuration in force in the child.
    pub config: ConfigInfo,
    /// One row per hasher and workload.
    pub rows: Vec<Row>,
    /// How long the child ran, seconds (all of them, when several).
    pub elapsed_secs: f64,
    /// How many child processes measured this mode (`--processes`).
    #[serde(default = "one_process")]
    pub processes: usize,
}

fn one_process() -> usize {
    1
}

impl ModeReport {
    /// One report from the reports of several child processes of one mode (see
    /// [`Row::merge`]).
    ///
    /// # Errors
    ///
    /// If `reports` is empty, or its reports differ in mode, configuration or rows (they come
    /// from children given the same arguments, so that is a bug or a mismatched child).
    pub fn merge(reports: Vec<ModeReport>) -> Result<ModeReport, String> {
        let Some(first) = reports.first() else {
            return Err("no report to merge".to_owned());
        };
        let key = |r: &Row| (r.hasher, r.workload);
        for r in &reports[1..] {
            if r.mode != first.mode || r.config != first.config {
                return Err(format!(
                    "merging reports of modes {} and {} (or of different configurations)",
                    first.mode, r.mode
                ));
            }
            if !r.rows.iter().map(key).eq(first.rows.iter().map(key)) {
                return Err(format!(
                    "the {} children measured different rows",
                    first.mode
                ));
            }
        }
        let rows = (0..first.rows.len())
            .map(|i| {
                let same: Vec<Row> = reports.iter().map(|r| r.rows[i].clone()).collect();
                Row::merge(first.mode, &same)
            })
            .collect();
        Ok(ModeReport {
            mode: first.mode,
            config: first.config.clone(),
            rows,
            elapsed_secs: reports.iter().map(|r| r.elapsed_secs).sum(),
            processes: reports.iter().map(|r| r.processes).sum(),
        })
    }

    /// The row for `hasher` and `workload`.
    pub fn row(&self, hasher: HasherKind, workload: Workload) -> Option<&Row> {
        self.rows
            .iter()
            .find(|r| r.hasher == hasher && r.workload == workload)
    }
}

/// What a child process prints on its standard output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChildReport {
    /// [`CHILD_FORMAT`].
    pub format: String,
    /// [`VERSION`].
    pub version: u32,
    /// The measurements.
    pub report: ModeReport,
}

/// The machine a report was measured on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    /// Cores available to the process.
    pub cores: usize,
    /// The CPU model, from `/proc/cpuinfo` where there is one.
    pub cpu: String,
    /// `std::env::consts::OS` / `ARCH`.
    pub os: String,
}

impl Machine {
    /// The machine this process runs on.
    pub fn current() -> Machine {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split_once(':'))
                    .map(|(_, v)| v.trim().to_owned())
            })
            .unwrap_or_else(|| "unknown".to_owned());
        Machine {
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu,
            os: format!("{}/{}", std::env::consts::OS, std::env::consts::ARCH),
        }
    }
}

/// How `mapbench` was compiled, as its build script recorded it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Build {
    /// `rustc --version` of the compiler that built it.
    pub rustc: String,
    /// The flags cargo passed the compiler: the workspace's `.cargo/config.toml`, or a
    /// `RUSTFLAGS` variable, which replaces them.
    pub rustflags: Vec<String>,
}

impl Build {
    /// The build of this program.
    pub fn current() -> Build {
        Build::from_encoded(env!("MAPBENCH_RUSTC"), env!("MAPBENCH_RUSTFLAGS"))
    }

    /// A build from the compiler's version and the flags as cargo encodes them for build
    /// scripts (`CARGO_ENCODED_RUSTFLAGS`: separated by 0x1f).
    pub fn from_encoded(rustc: &str, encoded_flags: &str) -> Build {
        Build {
            rustc: rustc.to_owned(),
            rustflags: encoded_flags
                .split('\u{1f}')
                .filter(|f| !f.is_empty())
                .map(str::to_owned)
                .collect(),
        }
    }

    /// The alignment in bytes LLVM gave every loop (`-C llvm-args=-align-loops=N`), if the
    /// flags set one above a byte (the last one given counts, as LLVM reads them).
    pub fn loop_alignment(&self) -> Option<u32> {
        self.rustflags
            .iter()
            .filter_map(|f| f.split_once("-align-loops=").map(|(_, n)| n))
            .filter_map(|n| n.parse().ok())
            .next_back()
            .filter(|&n| n > 1)
    }
}

/// A whole `mapbench` run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// [`FORMAT`].
    pub format: String,
    /// [`VERSION`].
    pub version: u32,
    /// Whether this was the small `--quick` run (its figures mean little).
    pub quick: bool,
    /// The command line that produced it.
    pub command: String,
    /// Where it ran.
    pub machine: Machine,
    /// What was measured: the compiler and flags `mapbench` was built with.
    #[serde(default)]
    pub build: Build,
    /// One entry per mode, in the order run.
    pub modes: Vec<ModeReport>,
}

impl Report {
    /// Every target of every row, with its mode and the map it is about: `HashMap`'s first,
    /// then `SplitMap`'s.
    pub fn targets(&self) -> impl Iterator<Item = (Mode, &Row, Subject)> {
        [Subject::Mapgov, Subject::Split]
            .into_iter()
            .flat_map(move |subject| {
                self.modes
                    .iter()
                    .flat_map(|m| m.rows.iter().map(move |r| (m.mode, r)))
                    .filter(move |(_, r)| r.target_of(subject).is_some())
                    .map(move |(mode, r)| (mode, r, subject))
            })
    }
}

#[cfg(test)]
impl Row {
    /// The samples of hashbrown, std, mapgov and split, as [`test_row`] takes them.
    pub(crate) fn variants_samples(&self) -> [Vec<f64>; 4] {
        let v = &self.variants;
        [&v.hashbrown, &v.std, &v.mapgov, &v.split].map(|s| s.samples.clone())
    }
}

/// A std-hasher row of `workload` (labelled with its id) from each variant's samples, in the
/// order hashbrown, std, mapgov, split (the control measures what hashbrown does): for the
/// tests of this crate.
#[cfg(test)]
pub(crate) fn test_row(mode: Mode, workload: Workload, samples: [Vec<f64>; 4]) -> Row {
    test_row_with_floor(mode, workload, samples, None)
}

/// [`test_row`] with the switch floor's samples, if it was timed.
#[cfg(test)]
pub(crate) fn test_row_with_floor(
    mode: Mode,
    workload: Workload,
    samples: [Vec<f64>; 4],
    switch: Option<Vec<f64>>,
) -> Row {
    let [hashbrown, std, mapgov, split] = samples.map(Summary::of);
    let control = hashbrown.clone();
    Row::new(
        mode,
        HasherKind::Std,
        workload,
        workload.id().to_owned(),
        Variants {
            hashbrown,
            std,
            mapgov,
            split,
            control,
            switch: switch.map(Summary::of),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(mode: Mode, hashbrown: f64, mapgov: f64) -> Row {
        let samples = [hashbrown, hashbrown, mapgov, hashbrown * 2.0].map(|v| vec![v]);
        test_row(mode, Workload::BigInsert, samples)
    }

    #[test]
    fn merged_rows_take_the_median_of_the_processes_ratios_not_of_pooled_medians() {
        // Process ratios 1.10, 1.0333.., 1.01: median 1.0333.. (met, <= 1.05). The pooled
        // medians (hashbrown 100, mapgov 101) would read 1.01 instead.
        let rows = [
            row(Mode::Default, 100.0, 110.0),
            row(Mode::Default, 90.0, 93.0),
            row(Mode::Default, 100.0, 101.0),
        ];
        let m = Row::merge(Mode::Default, &rows);
        assert!((m.ratio_vs_hashbrown - 93.0 / 90.0).abs() < 1e-12);
        assert_eq!(m.met, Some(true));
        assert_eq!(m.split_ratio_vs_hashbrown, 2.0);
        assert_eq!(m.variants.hashbrown.samples, [100.0, 90.0, 100.0]);
        assert_eq!(m.variants.mapgov.median, 101.0);
        let each: Vec<f64> = m.per_process.iter().map(|p| p.vs_hashbrown).collect();
        assert_eq!(each, [1.1, 93.0 / 90.0, 1.01]);

        // The same processes with two more that miss: the median moves, the target follows.
        let mut rows = rows.to_vec();
        rows.push(row(Mode::Default, 100.0, 120.0));
        rows.push(row(Mode::Default, 100.0, 108.0));
        let m = Row::merge(Mode::Default, &rows);
        assert!((m.ratio_vs_hashbrown - 1.08).abs() < 1e-12);
        assert_eq!(m.met, Some(false));
    }

    #[test]
    fn value_targets_of_merged_rows_take_the_median_of_the_processes_medians() {
        let worst = |split: Vec<f64>| {
            let baseline = vec![300.0];
            let samples = [baseline.clone(), baseline.clone(), baseline, split];
            test_row(Mode::Default, Workload::GrowthWorst, samples)
        };
        // Medians 1.5, 0.9 and 0.9 ms: the median of medians is 0.9 (met, <= 1 ms), while the
        // pooled samples' median is 1.5 (it would miss).
        let rows = [
            worst(vec![1.5, 1.5, 1.5]),
            worst(vec![0.9, 0.9, 1.5]),
            worst(vec![0.9, 1.5, 0.9]),
        ];
        let m = Row::merge(Mode::Default, &rows);
        assert_eq!(m.variants.split.median, 1.5);
        assert_eq!(m.checked_median(Subject::Split), 0.9);
        assert_eq!(m.split_met, Some(true));
    }

    fn off_row(hashbrown: f64, mapgov: f64, switch: Option<f64>) -> Row {
        let samples = [hashbrown, hashbrown, mapgov, hashbrown].map(|v| vec![v]);
        test_row_with_floor(
            Mode::Off,
            Workload::BigInsert,
            samples,
            switch.map(|s| vec![s]),
        )
    }

    #[test]
    fn the_stall_floor_is_held_to_the_split_worst_insert_target_and_merged_like_a_value() {
        let worst = |split: f64, stalls: Vec<f64>| {
            let samples = [vec![300.0], vec![300.0], vec![300.0], vec![split]];
            test_row(Mode::Default, Workload::GrowthWorst, samples).with_stall_floor(stalls)
        };
        // SplitMap misses 1 ms at 1.4; the machine alone stalled 1.2 (median): it misses too.
        let r = worst(1.4, vec![1.3, 0.2, 1.2]);
        assert_eq!(r.split_met, Some(false));
        assert_eq!(r.checked_stall_median(), Some(1.2));
        assert_eq!(r.stall_met, Some(false));
        // A quiet machine: the floor meets the target, so the miss is the map's.
        assert_eq!(worst(1.4, vec![0.1, 0.3]).stall_met, Some(true));

        // Process medians 1.2, 0.5 and 0.6: the median of medians, 0.6, meets the target,
        // while the pooled samples' median (1.1) would miss it.
        let rows = [
            worst(1.4, vec![1.2, 1.1, 1.3]),
            worst(0.9, vec![0.5, 1.1, 0.4]),
            worst(0.9, vec![0.6, 1.1, 0.2]),
        ];
        let m = Row::merge(Mode::Default, &rows);
        assert_eq!(m.stall_floor.as_ref().map(|s| s.samples.len()), Some(9));
        assert_eq!(m.stall_floor.as_ref().map(|s| s.median), Some(1.1));
        assert_eq!(m.checked_stall_median(), Some(0.6));
        assert_eq!(m.stall_met, Some(true));
        let each: Vec<Option<f64>> = m.per_process.iter().map(|p| p.stall).collect();
        assert_eq!(each, [Some(1.2), Some(0.5), Some(0.6)]);

        // A process that did not measure it: the merged row has none.
        let plain = test_row(
            Mode::Default,
            Workload::GrowthWorst,
            rows[0].variants_samples(),
        );
        let m = Row::merge(Mode::Default, &[rows[0].clone(), plain]);
        assert_eq!(m.checked_stall_median(), None);
        assert_eq!((m.stall_floor, m.stall_met), (None, None));

        // Where SplitMap's target is a ratio (or there is none), the floor has no verdict.
        let p999 = test_row(
            Mode::Default,
            Workload::GrowthP999,
            rows[0].variants_samples(),
        );
        assert_eq!(p999.with_stall_floor(vec![1.0]).stall_met, None);
    }

    #[test]
    fn the_switch_floor_is_held_to_the_hashmap_target_of_its_row() {
        // MAPGOV=off: at most 1.02. mapgov misses at 1.05; the floor meets at 1.01.
        let r = off_row(100.0, 105.0, Some(101.0));
        assert_eq!(r.met, Some(false));
        assert!((r.switch_ratio_vs_hashbrown.unwrap() - 1.01).abs() < 1e-12);
        assert_eq!(r.switch_met, Some(true));
        // A floor that misses the target too.
        assert_eq!(off_row(100.0, 105.0, Some(103.0)).switch_met, Some(false));
        // Not timed: no ratio, no verdict.
        let r = off_row(100.0, 105.0, None);
        assert_eq!((r.switch_ratio_vs_hashbrown, r.switch_met), (None, None));
    }

    #[test]
    fn merged_switch_floors_take_the_median_of_the_processes_ratios() {
        // Process ratios 1.01, 1.04, 1.04: median 1.04 (missed, > 1.02). The pooled medians
        // (hashbrown 100, floor 101) would read 1.01 and meet it.
        let rows = [
            off_row(100.0, 105.0, Some(101.0)),
            off_row(100.0, 105.0, Some(104.0)),
            off_row(50.0, 52.0, Some(52.0)),
        ];
        let m = Row::merge(Mode::Off, &rows);
        assert!((m.switch_ratio_vs_hashbrown.unwrap() - 1.04).abs() < 1e-12);
        assert_eq!(m.switch_met, Some(false));
        let pooled = m.variants.switch.as_ref().unwrap();
        assert_eq!(
            (pooled.samples.as_slice(), pooled.median),
            (&[101.0, 104.0, 52.0][..], 101.0)
        );
        let each: Vec<Option<f64>> = m.per_process.iter().map(|p| p.switch).collect();
        assert_eq!(each, [Some(101.0), Some(104.0), Some(52.0)]);
        assert_eq!(m.checked_floor_median(), Some(101.0));
        // A process that did not time it: the merged row has no floor.
        let rows = [
            off_row(100.0, 105.0, Some(101.0)),
            off_row(100.0, 105.0, None),
        ];
        let m = Row::merge(Mode::Off, &rows);
        assert_eq!(m.variants.switch, None);
        assert_eq!((m.switch_ratio_vs_hashbrown, m.switch_met), (None, None));
    }

    #[test]
    fn the_switch_floor_meets_throughput_and_value_targets_as_hashmap_does() {
        let floor_row = |workload, base: f64, mapgov: f64, switch: f64| {
            let samples = [base, base, mapgov, base].map(|v| vec![v]);
            test_row_with_floor(Mode::Off, workload, samples, Some(vec![switch]))
        };
        // Throughput: at least 1 / 1.02 of hashbrown's.
        let reads = floor_row(Workload::SharedBigReads, 100.0, 97.0, 99.0);
        assert_eq!(reads.target, Some(Target::MinRatio(1.0 / 1.02)));
        assert_eq!((reads.met, reads.switch_met), (Some(false), Some(true)));
        // A value: `size_of` at most 64 bytes, checked against the floor's own size.
        let size = floor_row(Workload::SizeOf, 48.0, 64.0, 72.0);
        assert_eq!((size.met, size.switch_met), (Some(true), Some(false)));
        // Merged, the value is the median of the processes' medians, as for HashMap.
        let sizes = |floors: [f64; 3]| {
            let rows = floors.map(|f| floor_row(Workload::SizeOf, 48.0, 64.0, f));
            Row::merge(Mode::Off, &rows)
        };
        let m = sizes([56.0, 80.0, 56.0]);
        assert_eq!(
            (m.checked_floor_median(), m.switch_met),
            (Some(56.0), Some(true))
        );
        let m = sizes([80.0, 80.0, 56.0]);
        assert_eq!(
            (m.checked_floor_median(), m.switch_met),
            (Some(80.0), Some(false))
        );
    }

    #[test]
    fn merging_one_process_changes_nothing() {
        let r = row(Mode::Off, 100.0, 101.0);
        assert_eq!(Row::merge(Mode::Off, std::slice::from_ref(&r)), r);
        assert!(r.per_process.is_empty());
    }

    #[test]
    fn reports_of_different_modes_or_rows_do_not_merge() {
        let config = ConfigInfo::from(&mapgov::Config::default());
        let report = |mode: Mode, rows: Vec<Row>| ModeReport {
            mode,
            config: config.clone(),
            rows,
            elapsed_secs: 1.0,
            processes: 1,
        };
        let a = report(Mode::Default, vec![row(Mode::Default, 1.0, 1.0)]);
        let b = report(Mode::Off, vec![row(Mode::Off, 1.0, 1.0)]);
        assert!(ModeReport::merge(vec![a.clone(), b]).is_err());
        assert!(ModeReport::merge(vec![a.clone(), report(Mode::Default, vec![])]).is_err());
        assert!(ModeReport::merge(Vec::new()).is_err());
        let merged = ModeReport::merge(vec![a.clone(), a.clone(), a]).unwrap();
        assert_eq!((merged.processes, merged.elapsed_secs), (3, 3.0));
        assert_eq!(merged.rows[0].per_process.len(), 3);
    }

    #[test]
    fn the_loop_alignment_is_read_from_the_flags_cargo_passed() {
        let of = |flags: &str| Build::from_encoded("rustc", flags).loop_alignment();
        assert_eq!(of("-C\u{1f}llvm-args=-align-loops=64"), Some(64));
        assert_eq!(of("-Cllvm-args=-align-loops=32"), Some(32));
        // LLVM takes the last value given.
        assert_eq!(
            of("-Cllvm-args=-align-loops=32\u{1f}-C\u{1f}llvm-args=-align-loops=64"),
            Some(64)
        );
        // Aligned to a byte is not aligned, and a later value replaces an earlier one.
        assert_eq!(of("-Cllvm-args=-align-loops=1"), None);
        assert_eq!(
            of("-Cllvm-args=-align-loops=64\u{1f}-Cllvm-args=-align-loops=1"),
            None
        );
        assert_eq!(of("-Ctarget-cpu=native"), None);
        assert_eq!(of(""), None);
        assert!(Build::from_encoded("rustc", "").rustflags.is_empty());
        assert_eq!(
            Build::from_encoded("rustc", "-C\u{1f}opt-level=3").rustflags,
            ["-C", "opt-level=3"]
        );
    }

    #[test]
    fn a_report_without_a_build_still_reads() {
        let report = Report {
            format: FORMAT.to_owned(),
            version: VERSION,
            quick: true,
            command: "mapbench --quick".to_owned(),
            machine: Machine::current(),
            build: Build::from_encoded("rustc 1.95.0", "-C\u{1f}llvm-args=-align-loops=64"),
            modes: Vec::new(),
        };
        let mut json = serde_json::to_value(&report).expect("serializes");
        assert_eq!(json["build"]["rustflags"][1], "llvm-args=-align-loops=64");
        json.as_object_mut().expect("an object").remove("build");
        let old: Report = serde_json::from_value(json).expect("a report without a build reads");
        assert_eq!(old.build, Build::default());
        assert_eq!(old.build.loop_alignment(), None);
    }
}
