//! Capturing a dump: reading the state without blocking, and rendering it within its size bound.
//!
//! Everything here may run inside a panic hook: no `unwrap`, no indexing, no arithmetic that
//! can overflow, no lock taken without a time bound.

use std::io;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::document::{
    BudgetRecord, ConfigRecord, DUMP_FORMAT, DUMP_VERSION, DumpDocument, DumpReason, EventsRecord,
    GuardRecord, PanicRecord, ShrinkPolicyRecord, Truncation,
};
use super::{Section, Settings, keys};
use crate::config::Config;

/// How a dump is captured.
pub(crate) struct Request<'a> {
    pub(crate) reason: DumpReason,
    pub(crate) note: Option<&'a str>,
    pub(crate) panic: Option<PanicRecord>,
    /// How long to wait for the registry and the key samples.
    pub(crate) patience: Duration,
    pub(crate) panics_skipped: u64,
}

/// Reads the state into a document (the sections the settings include).
pub(crate) fn capture(settings: &Settings, req: Request<'_>) -> DumpDocument {
    let (mut snapshot, partial) = crate::snapshot::try_snapshot(req.patience);
    let mut partial_reasons: Vec<String> = partial.into_iter().collect();
    let findings = if settings.has(Section::Findings) {
        snapshot.report().findings
    } else {
        Vec::new()
    };
    if !settings.has(Section::Maps) {
        snapshot.maps = Vec::new();
    }
    if !settings.has(Section::Sites) {
        snapshot.sites = Vec::new();
    }
    let config = settings
        .has(Section::Config)
        .then(|| config_record(settings));
    let key_samples = if settings.has(Section::KeySamples) {
        keys::collect(
            req.patience.min(Duration::from_millis(20)),
            &mut partial_reasons,
        )
    } else {
        Vec::new()
    };
    // The events go to their own section, not twice into the dump.
    let events = std::mem::take(&mut snapshot.events);
    let events = if settings.has(Section::Events) {
        let recorded = crate::config::try_get().is_some_and(|c| c.events > 0 && c.enabled);
        EventsRecord::of(recorded, &events, snapshot.events_dropped)
    } else {
        EventsRecord::not_recorded()
    };
    let now = unix_ms();
    DumpDocument {
        format: DUMP_FORMAT.to_owned(),
        version: DUMP_VERSION,
        reason: req.reason,
        note: req.note.map(|n| bounded(n, 1024)),
        panic: req.panic,
        time: super::document::rfc3339(now),
        time_unix_ms: now,
        pid: std::process::id(),
        program: program_name(),
        mapgov_version: env!("CARGO_PKG_VERSION").to_owned(),
        partial: !partial_reasons.is_empty(),
        partial_reasons,
        truncated: Truncation::default(),
        panics_skipped: req.panics_skipped,
        sections: settings.sections.clone(),
        config,
        snapshot,
        findings,
        events,
        key_samples,
    }
}

fn config_record(settings: &Settings) -> ConfigRecord {
    // Never block on the configuration: if no map read it yet, show what the environment
    // would give (without warning a second time).
    let (config, in_force) = match crate::config::try_get() {
        Some(c) => (c.clone(), true),
        None => (
            Config::from_lookup(|name| std::env::var_os(name), |_| {}),
            false,
        ),
    };
    ConfigRecord {
        in_force,
        enabled: config.enabled,
        track_min_bytes: config.track_min_bytes as u64,
        lookup_sample: config.lookup_sample,
        time_min_bytes: config.time_min_bytes as u64,
        events: config.events as u64,
        shrink_policy: config.shrink_policy.map(|p| ShrinkPolicyRecord {
            trigger_ratio: p.trigger_ratio,
            headroom: p.headroom,
            min_bytes: p.min_bytes,
        }),
        budgets: config
            .budgets
            .iter()
            .map(|(name, b)| BudgetRecord {
                name: name.clone(),
                max_entries: b.max_entries,
                max_bytes: b.max_bytes,
            })
            .collect(),
        guard: GuardRecord {
            dir: settings.dir.display().to_string(),
            default_dir: settings.default_dir,
            retention: settings.retention as u64,
            signal: settings.signal.map(|s| s.name().to_owned()),
            max_bytes: settings.max_bytes as u64,
        },
    }
}

pub(crate) fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// The executable's file name (`unknown` if the system does not say).
pub(crate) fn program_name() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .or_else(|| {
            let arg0 = std::env::args_os().next()?;
            let name = std::path::Path::new(&arg0).file_name()?;
            Some(name.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

/// `s` cut to at most `max` bytes at a character boundary, marked when cut.
pub(crate) fn bounded(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = s.get(..end).unwrap_or_default().to_owned();
    out.push_str("… (cut)");
    out
}

/// The document as pretty JSON of at most `max` bytes: when it is larger, the smallest maps
/// and sites, the least severe findings and the last key samples are left out (and counted in
/// `truncated`) until it fits. A document that cannot fit even without them is written whole.
pub(crate) fn render(doc: &mut DumpDocument, max: usize) -> Vec<u8> {
    let mut attempts = 0;
    loop {
        let mut out = Capped::new(max);
        // Writing into memory cannot fail; `Capped` only counts what does not fit.
        let _ = serde_json::to_writer_pretty(&mut out, &*doc);
        if out.total <= max {
            return out.buf;
        }
        attempts += 1;
        let lists = doc.snapshot.maps.len()
            + doc.snapshot.sites.len()
            + doc.findings.len()
            + doc.key_samples.len()
            + doc.events.items.len();
        if lists == 0 {
            // Nothing left to cut: the header alone is over the bound.
            return serde_json::to_vec_pretty(&*doc).unwrap_or_default();
        }
        // Keep the share that fits, with a margin; after a few tries keep nothing.
        let share = if attempts >= 6 {
            0.0
        } else {
            (max as f64 / out.total as f64) * 0.9
        };
        let keep = |len: usize| ((len as f64) * share) as usize;
        let t = &mut doc.truncated;
        t.maps_omitted += cut(&mut doc.snapshot.maps, keep);
        t.sites_omitted += cut(&mut doc.snapshot.sites, keep);
        t.findings_omitted += cut(&mut doc.findings, keep);
        t.key_samples_omitted += cut(&mut doc.key_samples, keep);
        // Events keep the most recent ones.
        let items = &mut doc.events.items;
        let len = items.len();
        let gone = len - keep(len).min(len.saturating_sub(1));
        items.drain(..gone);
        t.events_omitted += gone as u64;
    }
}

/// Truncates `v` to `keep(len)` (strictly shorter when it was not empty); returns how many went.
fn cut<T>(v: &mut Vec<T>, keep: impl Fn(usize) -> usize) -> u64 {
    let len = v.len();
    let kept = keep(len).min(len.saturating_sub(1));
    v.truncate(kept);
    (len - v.len()) as u64
}

/// A writer that keeps the first `max` bytes and counts the rest.
struct Capped {
    buf: Vec<u8>,
    max: usize,
    total: usize,
}

impl Capped {
    fn new(max: usize) -> Capped {
        Capped {
            buf: Vec::new(),
            max,
            total: 0,
        }
    }
}

impl io::Write for Capped {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.total = self.total.saturating_add(data.len());
        if self.total <= self.max {
            self.buf.extend_from_slice(data);
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_cuts_at_a_char_boundary() {
        assert_eq!(bounded("abc", 3), "abc");
        assert_eq!(bounded("héllo", 2), "h… (cut)");
        assert_eq!(bounded("héllo", 3), "hé… (cut)");
    }

    #[test]
    fn cut_always_shrinks_a_non_empty_list() {
        let mut v = vec![1, 2, 3, 4];
        assert_eq!(cut(&mut v, |n| n), 1);
        assert_eq!(v, [1, 2, 3]);
        assert_eq!(cut(&mut v, |_| 0), 3);
        assert_eq!(cut(&mut v, |_| 0), 0);
    }
}
