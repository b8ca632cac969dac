//! The governance report: what is wrong with the process's maps, and what to change.
//!
//! [`Snapshot::report`] analyses one snapshot; [`report_series`] analyses several taken over
//! time, which is what finding unbounded growth needs. Every [`Finding`] names its site (and map
//! name), carries its evidence as numbers, and gives one concrete piece of advice.
//!
//! The thresholds ([`Thresholds`]) are chosen so that a healthy program has no finding:
//!
//! - **Waste** needs at least 1 MiB *and* half of the table wasted *and* `len` at most half of
//!   the map's peak (the waste was left by removals). A table that grows normally is between
//!   44 % and 87 % full and wastes nothing by this measure (its `len` needs the same bucket
//!   count); a pre-sized map that is still filling has room on purpose.
//! - **Presize** needs maps that are created again and again (at least 8 dropped at the site)
//!   and grow at least 4 times each on average: a map pre-sized once never grows, one sized for
//!   half its peak grows once.
//! - **Churn** needs at least 4 in-place rehashes (each one a full pass over the table caused by
//!   tombstones) and at least 8 removals per entry the map ever held at once.
//! - **ResizeStall** needs one resize of at least 1 ms: a request latency budget is spent.
//! - **UnboundedGrowth** needs at least 3 snapshots in which entries never fell, grew by at
//!   least 50 % and 10,000 entries overall, with no more than 1 removal in 10 inserts.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

use crate::snapshot::{MapStats, Site, SiteStats, Snapshot};

/// How urgent a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Severity {
    /// Worth knowing; costs little today.
    Info,
    /// Costs memory or latency now; fix it.
    Warning,
    /// Costs a lot (tens of MiB, stalls of 100 ms and more); fix it first.
    Critical,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        })
    }
}

/// Returned when a severity name is not `info`, `warning` or `critical`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseSeverityError(String);

impl fmt::Display for ParseSeverityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown severity {:?}: expected info, warning or critical",
            self.0
        )
    }
}

impl std::error::Error for ParseSeverityError {}

impl FromStr for Severity {
    type Err = ParseSeverityError;

    fn from_str(s: &str) -> Result<Severity, ParseSeverityError> {
        match s.to_ascii_lowercase().as_str() {
            "info" => Ok(Severity::Info),
            "warning" | "warn" => Ok(Severity::Warning),
            "critical" | "crit" => Ok(Severity::Critical),
            _ => Err(ParseSeverityError(s.to_owned())),
        }
    }
}

/// What kind of problem a finding describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum FindingKind {
    /// Memory held far beyond what the map's entries need (it was gutted by removals).
    Waste,
    /// Entries keep rising and are never drained: a leak or an unbounded cache.
    UnboundedGrowth,
    /// Maps created again and again that grow many times to a similar size.
    Presize,
    /// Insert/remove cycles whose tombstones force rehashes.
    Churn,
    /// A single resize that stalled its thread.
    ResizeStall,
}

impl fmt::Display for FindingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FindingKind::Waste => "waste",
            FindingKind::UnboundedGrowth => "unbounded-growth",
            FindingKind::Presize => "presize",
            FindingKind::Churn => "churn",
            FindingKind::ResizeStall => "resize-stall",
        })
    }
}

/// One number behind a finding.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[non_exhaustive]
pub struct Evidence {
    /// What is measured, e.g. `wasted_bytes`.
    pub name: String,
    /// The value, in `unit`.
    pub value: f64,
    /// `bytes`, `entries`, `count`, `seconds` or `ratio`.
    pub unit: String,
}

impl Evidence {
    fn new(name: &str, value: f64, unit: &str) -> Evidence {
        Evidence {
            name: name.to_owned(),
            value,
            unit: unit.to_owned(),
        }
    }
}

/// A problem found in the maps, with its evidence and the change that fixes it.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[non_exhaustive]
pub struct Finding {
    /// The kind of problem.
    pub kind: FindingKind,
    /// How urgent it is.
    pub severity: Severity,
    /// Where the map(s) were created.
    pub site: Site,
    /// The map name, if any.
    pub name: Option<String>,
    /// The tracked map's id when the finding is about one map; `None` for a whole site.
    pub map_id: Option<u64>,
    /// One line saying what is wrong.
    pub summary: String,
    /// The numbers behind it.
    pub evidence: Vec<Evidence>,
    /// The change to make.
    pub advice: String,
}

impl Finding {
    /// The value of a named piece of evidence.
    pub fn evidence(&self, name: &str) -> Option<f64> {
        self.evidence
            .iter()
            .find(|e| e.name == name)
            .map(|e| e.value)
    }
}

/// The findings of an analysis, most severe first.
#[derive(Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[non_exhaustive]
pub struct Report {
    /// What was found, most severe first, then by kind and site.
    pub findings: Vec<Finding>,
}

impl Report {
    /// The most severe finding's severity.
    pub fn worst(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }

    /// How many findings are at least `severity`.
    pub fn count_at_least(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity >= severity)
            .count()
    }

    /// The findings of one kind.
    pub fn of_kind(&self, kind: FindingKind) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(move |f| f.kind == kind)
    }
}

/// Where the analysis draws its lines. [`Thresholds::default`] is what [`Snapshot::report`]
/// uses; the module docs justify each default.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[non_exhaustive]
pub struct Thresholds {
    /// Waste: at least this many wasted bytes in one map.
    pub waste_min_bytes: u64,
    /// Waste: and at least this share of its table.
    pub waste_min_ratio: f64,
    /// Waste is critical from this many bytes.
    pub waste_critical_bytes: u64,
    /// Presize: at least this many maps dropped at the site (the maps recur).
    pub presize_min_dropped: u64,
    /// Presize: and at least this many grows per map on average.
    pub presize_min_grows_per_map: f64,
    /// Churn: at least this many in-place rehashes.
    pub churn_min_rehashes: u64,
    /// Churn: and at least this many removals per entry of peak length.
    pub churn_min_removes_per_peak: f64,
    /// ResizeStall: a single resize at least this long.
    pub stall_min: Duration,
    /// ResizeStall is critical from this long.
    pub stall_critical: Duration,
    /// UnboundedGrowth: at least this many snapshots.
    pub growth_min_snapshots: usize,
    /// UnboundedGrowth: entries grew by at least this factor over the series.
    pub growth_min_factor: f64,
    /// UnboundedGrowth: and by at least this many entries.
    pub growth_min_entries: u64,
    /// UnboundedGrowth: at most this many removals per insert ("never drained").
    pub growth_max_remove_ratio: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            waste_min_bytes: 1 << 20,
            waste_min_ratio: 0.5,
            waste_critical_bytes: 64 << 20,
            presize_min_dropped: 8,
            presize_min_grows_per_map: 4.0,
            churn_min_rehashes: 4,
            churn_min_removes_per_peak: 8.0,
            stall_min: Duration::from_millis(1),
            stall_critical: Duration::from_millis(100),
            growth_min_snapshots: 3,
            growth_min_factor: 1.5,
            growth_min_entries: 10_000,
            growth_max_remove_ratio: 0.1,
        }
    }
}

impl Snapshot {
    /// Analyses this snapshot with the default [`Thresholds`].
    ///
    /// Unbounded growth needs several snapshots over time: see [`report_series`].
    ///
    /// # Examples
    ///
    /// ```
    /// let report = mapgov::snapshot().report();
    /// for finding in &report.findings {
    ///     println!("{} at {}: {}", finding.kind, finding.site, finding.advice);
    /// }
    /// ```
    pub fn report(&self) -> Report {
        report_series(std::slice::from_ref(self), &Thresholds::default())
    }

    /// Analyses this snapshot with the given thresholds.
    pub fn report_with(&self, thresholds: &Thresholds) -> Report {
        report_series(std::slice::from_ref(self), thresholds)
    }
}

/// Analyses a series of snapshots of the same process, oldest first: everything
/// [`Snapshot::report`] finds in the newest one, plus unbounded growth across the series.
pub fn report_series(series: &[Snapshot], t: &Thresholds) -> Report {
    let mut findings = Vec::new();
    let Some(last) = series.last() else {
        return Report::default();
    };
    for map in &last.maps {
        if let Some(f) = waste(map, t) {
            findings.push(f);
        }
    }
    for site in &last.sites {
        findings.extend(presize(site, t));
        findings.extend(churn(site, t));
        // A site whose tracked maps are split maps already grows in bounded steps.
        let split = last
            .maps
            .iter()
            .any(|m| m.tables > 0 && m.site == site.site && m.name == site.name);
        findings.extend(stall(site, split, t));
    }
    findings.extend(growth(series, t));
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(a.kind.cmp(&b.kind))
            .then_with(|| a.site.cmp(&b.site))
            .then_with(|| a.name.cmp(&b.name))
    });
    Report { findings }
}

/// Bytes as a human reads them: `1.5 MiB`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// A duration as a human reads it: `1.25 ms`.
pub fn human_duration(d: Duration) -> String {
    let ns = d.as_nanos() as f64;
    if ns >= 1e9 {
        format!("{:.2} s", ns / 1e9)
    } else if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.1} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

fn label(name: &Option<String>) -> String {
    match name {
        Some(n) => format!("map {n:?}"),
        None => "map".to_owned(),
    }
}

fn waste(m: &MapStats, t: &Thresholds) -> Option<Finding> {
    if m.allocated_bytes == 0 || m.wasted_bytes < t.waste_min_bytes {
        return None;
    }
    let ratio = m.wasted_bytes as f64 / m.allocated_bytes as f64;
    if ratio < t.waste_min_ratio {
        return None;
    }
    // Waste left by removals: the map held at least twice its entries before. A pre-sized map
    // that is still filling (or a cache built with headroom) has room on purpose.
    if m.len.saturating_mul(2) > m.peak_len {
        return None;
    }
    let severity = if m.wasted_bytes >= t.waste_critical_bytes {
        Severity::Critical
    } else {
        Severity::Warning
    };
    Some(Finding {
        kind: FindingKind::Waste,
        severity,
        site: m.site.clone(),
        name: m.name.clone(),
        map_id: Some(m.id),
        summary: format!(
            "{} holds {} for {} entries: {} ({:.0} %) is waste left by removals",
            label(&m.name),
            human_bytes(m.allocated_bytes),
            m.len,
            human_bytes(m.wasted_bytes),
            ratio * 100.0
        ),
        evidence: vec![
            Evidence::new("allocated_bytes", m.allocated_bytes as f64, "bytes"),
            Evidence::new("wasted_bytes", m.wasted_bytes as f64, "bytes"),
            Evidence::new("wasted_ratio", ratio, "ratio"),
            Evidence::new("len", m.len as f64, "entries"),
            Evidence::new("peak_len", m.peak_len as f64, "entries"),
            Evidence::new("removes", m.removes as f64, "count"),
        ],
        advice: format!(
            "call `shrink_to_fit()` on this map after its bulk removals at {} (frees {}), or \
             let mapgov do it: `.shrink_policy(ShrinkPolicy::default())` on the map",
            m.site,
            human_bytes(m.wasted_bytes)
        ),
    })
}

fn presize(s: &SiteStats, t: &Thresholds) -> Option<Finding> {
    if s.maps_dropped < t.presize_min_dropped || s.maps_created == 0 {
        return None;
    }
    let per_map = s.grows as f64 / s.maps_created as f64;
    if per_map < t.presize_min_grows_per_map {
        return None;
    }
    // The capacity that holds every map this site produced without a single grow.
    let capacity = s.peak_len.max(1);
    let severity = if s.grows >= 10_000 || s.resize_nanos >= 100_000_000 {
        Severity::Warning
    } else {
        Severity::Info
    };
    Some(Finding {
        kind: FindingKind::Presize,
        severity,
        site: s.site.clone(),
        name: s.name.clone(),
        map_id: None,
        summary: format!(
            "{} maps created here grew {:.1} times each on average (to at most {} entries)",
            s.maps_created, per_map, s.peak_len
        ),
        evidence: vec![
            Evidence::new("maps_created", s.maps_created as f64, "count"),
            Evidence::new("grows", s.grows as f64, "count"),
            Evidence::new("grows_per_map", per_map, "count"),
            Evidence::new("peak_len", s.peak_len as f64, "entries"),
            Evidence::new("suggested_capacity", capacity as f64, "entries"),
            Evidence::new("resize_seconds", s.resize_nanos as f64 / 1e9, "seconds"),
        ],
        advice: format!(
            "create these maps with `HashMap::with_capacity({capacity})` at {}: no map made \
             here needed more, and none of them would grow",
            s.site
        ),
    })
}

fn churn(s: &SiteStats, t: &Thresholds) -> Option<Finding> {
    if s.rehashes < t.churn_min_rehashes {
        return None;
    }
    let peak = s.peak_len.max(1) as f64;
    let per_peak = s.removes as f64 / peak;
    if per_peak < t.churn_min_removes_per_peak {
        return None;
    }
    let headroom = s.peak_len.saturating_mul(2).max(16);
    Some(Finding {
        kind: FindingKind::Churn,
        severity: if s.rehashes >= 64 {
            Severity::Warning
        } else {
            Severity::Info
        },
        site: s.site.clone(),
        name: s.name.clone(),
        map_id: None,
        summary: format!(
            "insert/remove cycles ({} removals for at most {} entries) left tombstones that forced \
             {} in-place rehashes",
            s.removes, s.peak_len, s.rehashes
        ),
        evidence: vec![
            Evidence::new("rehashes", s.rehashes as f64, "count"),
            Evidence::new("removes", s.removes as f64, "count"),
            Evidence::new("inserts", s.inserts as f64, "count"),
            Evidence::new("peak_len", s.peak_len as f64, "entries"),
            Evidence::new("removes_per_peak", per_peak, "ratio"),
        ],
        advice: format!(
            "give the map headroom so tombstones rarely fill it: `with_capacity({headroom})` at \
             {}, or `clear()` it between cycles instead of removing keys one by one",
            s.site
        ),
    })
}

fn stall(s: &SiteStats, split: bool, t: &Thresholds) -> Option<Finding> {
    let worst = Duration::from_nanos(s.resize_max_nanos);
    if worst < t.stall_min {
        return None;
    }
    let severity = if worst >= t.stall_critical {
        Severity::Critical
    } else {
        Severity::Warning
    };
    let capacity = s.peak_len.max(1);
    Some(Finding {
        kind: FindingKind::ResizeStall,
        severity,
        site: s.site.clone(),
        name: s.name.clone(),
        map_id: None,
        summary: format!(
            "one resize stalled its thread for {} (all resizes here: {})",
            human_duration(worst),
            human_duration(Duration::from_nanos(s.resize_nanos))
        ),
        evidence: vec![
            Evidence::new("resize_max_seconds", worst.as_secs_f64(), "seconds"),
            Evidence::new(
                "resize_total_seconds",
                s.resize_nanos as f64 / 1e9,
                "seconds",
            ),
            Evidence::new("grows", s.grows as f64, "count"),
            Evidence::new("peak_len", s.peak_len as f64, "entries"),
        ],
        advice: if split {
            format!(
                "the map at {} is a `SplitMap`, whose growth steps move at most {} entries: a \
                 step this long means its thread was descheduled, or a `reserve`, \
                 `with_capacity` or `shrink_to_fit` (which take time proportional to the map) \
                 ran on the request path; move those off it",
                s.site,
                crate::split::TABLE_MAX_ENTRIES
            )
        } else {
            format!(
                "pre-size the map at {} with `with_capacity({capacity})` (or `reserve` before a \
                 bulk load, off the request path) so it never resizes while serving; if its size \
                 is not known ahead, make it a `mapgov::SplitMap`, which grows by splitting one \
                 bounded table at a time instead of rehashing every entry in one insert",
                s.site
            )
        },
    })
}

fn growth(series: &[Snapshot], t: &Thresholds) -> Vec<Finding> {
    if series.len() < t.growth_min_snapshots.max(2) {
        return Vec::new();
    }
    // Per tracked map id: (len, inserts, removes) over time.
    let mut maps: BTreeMap<u64, Vec<(&MapStats, u64)>> = BTreeMap::new();
    for (i, snap) in series.iter().enumerate() {
        for m in &snap.maps {
            maps.entry(m.id).or_default().push((m, i as u64));
        }
    }
    let mut out = Vec::new();
    let span = |a: u64, b: u64| {
        let d = series[b as usize]
            .taken_at_unix_ms
            .saturating_sub(series[a as usize].taken_at_unix_ms);
        Duration::from_millis(d)
    };
    for points in maps.values() {
        let counts: Vec<_> = points
            .iter()
            .map(|(m, _)| (m.len, m.inserts, m.removes))
            .collect();
        if !grew_undrained(&counts, t) {
            continue;
        }
        let (first, last) = (points[0].0, points[points.len() - 1].0);
        let over = span(points[0].1, points[points.len() - 1].1);
        out.push(growth_finding(
            &last.site,
            &last.name,
            Some(last.id),
            first.len,
            last.len,
            last.allocated_bytes,
            points.len(),
            over,
        ));
    }
    // Sites whose entries rise without tracked maps explaining it (many small maps kept).
    type Points<'a> = Vec<(&'a SiteStats, u64)>;
    let mut sites: BTreeMap<(Site, Option<String>), Points<'_>> = BTreeMap::new();
    for (i, snap) in series.iter().enumerate() {
        for s in &snap.sites {
            sites
                .entry((s.site.clone(), s.name.clone()))
                .or_default()
                .push((s, i as u64));
        }
    }
    for ((site, name), points) in sites {
        if out.iter().any(|f| f.site == site && f.name == name) {
            continue;
        }
        let counts: Vec<_> = points
            .iter()
            .map(|(s, _)| (s.entries, s.inserts, s.removes))
            .collect();
        if !grew_undrained(&counts, t) {
            continue;
        }
        let (first, last) = (points[0].0, points[points.len() - 1].0);
        let over = span(points[0].1, points[points.len() - 1].1);
        out.push(growth_finding(
            &site,
            &name,
            None,
            first.entries,
            last.entries,
            last.allocated_bytes,
            points.len(),
            over,
        ));
    }
    out
}

/// Whether a series of `(len, inserts, removes)`, oldest first, rose steadily by enough and was
/// never drained (few removals per insert over the series).
fn grew_undrained(points: &[(u64, u64, u64)], t: &Thresholds) -> bool {
    if points.len() < t.growth_min_snapshots.max(2) {
        return false;
    }
    let (first, last) = (points[0], points[points.len() - 1]);
    let lens: Vec<u64> = points.iter().map(|p| p.0).collect();
    if !rising(&lens, first.0, last.0, t) {
        return false;
    }
    let inserts = last.1.saturating_sub(first.1).max(1);
    let removes = last.2.saturating_sub(first.2);
    removes as f64 <= inserts as f64 * t.growth_max_remove_ratio
}

fn rising(lens: &[u64], first: u64, last: u64, t: &Thresholds) -> bool {
    lens.windows(2).all(|w| w[1] >= w[0])
        && last >= first + t.growth_min_entries
        && last as f64 >= first.max(1) as f64 * t.growth_min_factor
}

#[allow(clippy::too_many_arguments)] // private constructor of one finding's fields
fn growth_finding(
    site: &Site,
    name: &Option<String>,
    map_id: Option<u64>,
    first: u64,
    last: u64,
    bytes: u64,
    snapshots: usize,
    over: Duration,
) -> Finding {
    let per_second = if over.as_secs_f64() > 0.0 {
        (last - first) as f64 / over.as_secs_f64()
    } else {
        0.0
    };
    Finding {
        kind: FindingKind::UnboundedGrowth,
        severity: if bytes >= 64 << 20 {
            Severity::Critical
        } else {
            Severity::Warning
        },
        site: site.clone(),
        name: name.clone(),
        map_id,
        summary: format!(
            "{} grew from {first} to {last} entries over {snapshots} snapshots ({}) and was \
             never drained",
            if map_id.is_some() {
                label(name)
            } else {
                "the maps of this site".to_owned()
            },
            human_duration(over)
        ),
        evidence: vec![
            Evidence::new("first_len", first as f64, "entries"),
            Evidence::new("last_len", last as f64, "entries"),
            Evidence::new("entries_per_second", per_second, "count"),
            Evidence::new("allocated_bytes", bytes as f64, "bytes"),
            Evidence::new("snapshots", snapshots as f64, "count"),
        ],
        advice: format!(
            "bound it: evict old entries (an LRU or a TTL), or set a `Budget` on the map at {site} \
             (e.g. `.budget(Budget::entries({}))`) to be warned when it crosses a limit",
            last.next_power_of_two()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_parses_and_orders() {
        assert_eq!("critical".parse::<Severity>(), Ok(Severity::Critical));
        assert_eq!("Warning".parse::<Severity>(), Ok(Severity::Warning));
        assert!("loud".parse::<Severity>().is_err());
        assert!(Severity::Critical > Severity::Warning && Severity::Warning > Severity::Info);
    }

    #[test]
    fn human_units_read_well() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(3 << 20), "3.0 MiB");
        assert_eq!(human_duration(Duration::from_micros(1500)), "1.50 ms");
        assert_eq!(human_duration(Duration::from_nanos(20)), "20 ns");
    }

    #[test]
    fn empty_series_has_no_findings() {
        assert!(
            report_series(&[], &Thresholds::default())
                .findings
                .is_empty()
        );
    }
}
