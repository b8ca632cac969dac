//! The `mapgov-dump` format, version 1: the types a dump is written from and read into.
//!
//! Kept apart from the code that captures a dump (`capture.rs`), so the format is visible in
//! one place. `schemas/mapgov-dump.v1.schema.json` in the repository describes the same fields;
//! a test checks every dump the guard writes against it.

use serde::{Deserialize, Serialize};

use super::Section;
use crate::document::DocumentError;
use crate::report::Finding;
use crate::snapshot::{Site, Snapshot};

/// The `format` of a dump.
pub const DUMP_FORMAT: &str = "mapgov-dump";
/// The `version` of the dump format this library writes and reads.
pub const DUMP_VERSION: u32 = 1;

/// What made the guard write a dump.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DumpReason {
    /// The process panicked.
    Panic,
    /// The process received the dump signal.
    Signal,
    /// The program called [`dump_now`](super::dump_now).
    Manual,
}

impl DumpReason {
    /// `panic`, `signal` or `manual`.
    pub fn name(self) -> &'static str {
        match self {
            DumpReason::Panic => "panic",
            DumpReason::Signal => "signal",
            DumpReason::Manual => "manual",
        }
    }
}

/// The panic a dump was written for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PanicRecord {
    /// The panic message (at most 4 KiB; `Box<dyn Any>` when the payload is not a string).
    pub message: String,
    /// Where the panic was raised.
    pub location: Option<Site>,
    /// The panicking thread's name, if it has one.
    pub thread: Option<String>,
    /// The panicking thread's id, as Rust prints it (`ThreadId(1)`).
    pub thread_id: Option<String>,
}

/// What the guard left out to keep a dump within its size bound.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Truncation {
    /// Tracked maps left out (the smallest by allocation).
    pub maps_omitted: u64,
    /// Sites left out (the smallest by allocation).
    pub sites_omitted: u64,
    /// Findings left out (the least severe).
    pub findings_omitted: u64,
    /// Key samples left out.
    pub key_samples_omitted: u64,
    /// Lifecycle events left out (the oldest). Absent from dumps written before events
    /// existed: read as 0.
    #[serde(default)]
    pub events_omitted: u64,
}

impl Truncation {
    /// Whether anything was left out.
    pub fn any(&self) -> bool {
        self.maps_omitted != 0
            || self.sites_omitted != 0
            || self.findings_omitted != 0
            || self.key_samples_omitted != 0
            || self.events_omitted != 0
    }
}

/// A shrink policy, as the configuration section shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ShrinkPolicyRecord {
    /// Shrink when `len <= capacity / trigger_ratio`.
    pub trigger_ratio: u32,
    /// Shrink to `len × headroom` entries.
    pub headroom: f64,
    /// Tables smaller than this are left alone.
    pub min_bytes: u64,
}

/// A budget configured by map name, as the configuration section shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BudgetRecord {
    /// The map name it applies to.
    pub name: String,
    /// The entry limit.
    pub max_entries: Option<u64>,
    /// The byte limit.
    pub max_bytes: Option<u64>,
}

/// The guard's own settings, as the configuration section shows them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct GuardRecord {
    /// The dump directory.
    pub dir: String,
    /// Whether it is the default per-user directory.
    pub default_dir: bool,
    /// Dumps kept per program.
    pub retention: u64,
    /// The dump signal, if any (`SIGUSR1`).
    pub signal: Option<String>,
    /// The size bound in bytes.
    pub max_bytes: u64,
}

/// The configuration section: the governance settings and the guard's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ConfigRecord {
    /// Whether these settings are in force (`false`: no map read the configuration yet; the
    /// values are what the environment would give).
    pub in_force: bool,
    /// Whether governance is on (`MAPGOV`).
    pub enabled: bool,
    /// `MAPGOV_TRACK_MIN_BYTES`.
    pub track_min_bytes: u64,
    /// `MAPGOV_LOOKUP_SAMPLE`.
    pub lookup_sample: u32,
    /// `MAPGOV_TIME_MIN_BYTES`.
    pub time_min_bytes: u64,
    /// `MAPGOV_EVENTS`: the event ring's size. Absent from dumps written before events
    /// existed: read as 0.
    #[serde(default)]
    pub events: u64,
    /// The process-wide shrink policy, if any.
    pub shrink_policy: Option<ShrinkPolicyRecord>,
    /// Budgets by map name.
    pub budgets: Vec<BudgetRecord>,
    /// The guard's settings.
    pub guard: GuardRecord,
}

/// The lifecycle events section.
///
/// `items` holds one JSON object per [`Event`](crate::Event), oldest first, with the fields of
/// that type (the schema's `event`); readers of format version 1 must accept objects with
/// fields (or event kinds) they do not know. [`EventsRecord::events`] reads the ones it knows.
/// A process that records no events (`MAPGOV_EVENTS=0`) writes `recorded: false` and no items.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EventsRecord {
    /// Whether this process records lifecycle events at all.
    pub recorded: bool,
    /// Events the process lost (overwritten in its full ring, or dropped while the ring was
    /// busy); does not count those left out by the dump's size bound (`truncated`).
    pub dropped: u64,
    /// The recent events, oldest first.
    pub items: Vec<serde_json::Value>,
}

impl EventsRecord {
    /// The section of a process that records no events.
    pub(crate) fn not_recorded() -> EventsRecord {
        EventsRecord {
            recorded: false,
            dropped: 0,
            items: Vec::new(),
        }
    }

    /// The section for `events`.
    pub(crate) fn of(recorded: bool, events: &[crate::Event], dropped: u64) -> EventsRecord {
        EventsRecord {
            recorded,
            dropped,
            items: events
                .iter()
                .filter_map(|e| serde_json::to_value(e).ok())
                .collect(),
        }
    }

    /// The items read as [`Event`](crate::Event)s, oldest first; items this version cannot
    /// read (a newer kind of event) are skipped.
    pub fn events(&self) -> Vec<crate::Event> {
        self.items
            .iter()
            .filter_map(|v| serde_json::from_value(v.clone()).ok())
            .collect()
    }
}

/// The recent keys of one [`KeySample`](super::KeySample).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct KeySampleRecord {
    /// The sample's name (the map's name, by convention).
    pub name: String,
    /// How many keys it keeps.
    pub capacity: u64,
    /// How many keys were recorded in all.
    pub recorded: u64,
    /// The most recent keys, oldest first, as the redaction function returned them.
    pub keys: Vec<String>,
}

/// A dump, in the versioned `mapgov-dump` format.
///
/// Serialized in field order: `format` and `version` first. Every field is always present
/// (`null` or empty when it does not apply); an optional [`Section`] left out is `null` (the
/// configuration) or empty (maps, sites, findings, events, key samples), and is missing from
/// `sections`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DumpDocument {
    /// Always [`DUMP_FORMAT`].
    pub format: String,
    /// Always [`DUMP_VERSION`] when written by this library.
    pub version: u32,
    /// What triggered the dump.
    pub reason: DumpReason,
    /// The note given to [`dump_now`](super::dump_now), or the signal's name.
    pub note: Option<String>,
    /// The panic, for a panic dump.
    pub panic: Option<PanicRecord>,
    /// When the dump was taken, RFC 3339 in UTC (`2025-01-31T12:00:00.123Z`).
    pub time: String,
    /// The same, in milliseconds since the Unix epoch.
    pub time_unix_ms: u64,
    /// The process id.
    pub pid: u32,
    /// The program's name (its executable's file name).
    pub program: String,
    /// The version of mapgov that wrote the dump.
    pub mapgov_version: String,
    /// Whether some state could not be read without blocking (see `partial_reasons`).
    pub partial: bool,
    /// What is missing and why.
    pub partial_reasons: Vec<String>,
    /// What was left out to respect the size bound.
    pub truncated: Truncation,
    /// Panics that got no dump of their own since the previous dump (rate limit, busy).
    pub panics_skipped: u64,
    /// The optional sections this dump includes.
    pub sections: Vec<Section>,
    /// The configuration (section `config`).
    pub config: Option<ConfigRecord>,
    /// The maps (section `maps`) and sites (section `sites`).
    pub snapshot: Snapshot,
    /// The report's findings for the snapshot (section `findings`), most severe first.
    pub findings: Vec<Finding>,
    /// The recent lifecycle events (section `events`).
    pub events: EventsRecord,
    /// The opt-in key samples (section `key_samples`).
    pub key_samples: Vec<KeySampleRecord>,
}

impl DumpDocument {
    /// The document as pretty JSON, `format` and `version` first.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| {
            // Serializing these plain types cannot fail; keep a readable document regardless.
            format!(
                "{{\"format\":\"{DUMP_FORMAT}\",\"version\":{DUMP_VERSION},\"error\":{:?}}}",
                e.to_string()
            )
        })
    }

    /// Reads a dump, checking `format` and `version` first.
    ///
    /// # Errors
    ///
    /// A [`DocumentError`] that says what is wrong: not JSON, truncated, another format, an
    /// unsupported version, or a field of the wrong type (named by its path).
    pub fn from_json(json: &str) -> Result<DumpDocument, DocumentError> {
        crate::document::read_versioned(json, DUMP_FORMAT, DUMP_VERSION)
    }
}

/// `unix_ms` as RFC 3339 in UTC with milliseconds. Plain integer arithmetic: never panics.
pub(crate) fn rfc3339(unix_ms: u64) -> String {
    let (y, mo, d, h, mi, s) = civil(unix_ms / 1000);
    format!(
        "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{:03}Z",
        unix_ms % 1000
    )
}

/// `unix_ms` as a compact UTC stamp for file names: `20250131T120000.123Z`.
pub(crate) fn file_stamp(unix_ms: u64) -> String {
    let (y, mo, d, h, mi, s) = civil(unix_ms / 1000);
    format!(
        "{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}.{:03}Z",
        unix_ms % 1000
    )
}

/// Year, month, day, hour, minute, second of a Unix time (H. Hinnant's `civil_from_days`).
fn civil(secs: u64) -> (i64, u32, u32, u32, u32, u32) {
    // Clamp to year 9999 so that every intermediate value stays small.
    let secs = secs.min(253_402_300_799) as i64;
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        y,
        m,
        d,
        (rem / 3600) as u32,
        (rem % 3600 / 60) as u32,
        (rem % 60) as u32,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_format_as_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(rfc3339(1_764_310_212_345), "2025-11-28T06:10:12.345Z");
        assert_eq!(file_stamp(1_764_310_212_345), "20251128T061012.345Z");
        assert_eq!(rfc3339(u64::MAX), "9999-12-31T23:59:59.615Z");
    }

    #[test]
    fn wrong_format_and_version_are_named() {
        let e = DumpDocument::from_json(r#"{"format":"mapgov-snapshot","version":1}"#).unwrap_err();
        assert!(
            e.to_string()
                .contains("unsupported format \"mapgov-snapshot\": expected mapgov-dump"),
            "{e}"
        );
        let e = DumpDocument::from_json(r#"{"format":"mapgov-dump","version":2}"#).unwrap_err();
        assert!(e.to_string().contains("unsupported version 2"), "{e}");
        let e = DumpDocument::from_json(r#"{"format":"mapgov-dump","version":1,"reason":7}"#)
            .unwrap_err();
        assert!(e.to_string().contains("field `reason`"), "{e}");
    }
}
