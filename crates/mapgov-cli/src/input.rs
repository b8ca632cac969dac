//! Where a report's snapshots come from: a file or a live endpoint.

use std::path::Path;

use anyhow::{Context, Result, bail};
use mapgov::guard::{DUMP_FORMAT, DumpDocument};
use mapgov::{SNAPSHOT_FORMAT, Snapshot, SnapshotDocument, peek_format};

/// The largest document read (a snapshot of 100,000 tracked maps is about 60 MiB).
const MAX_BYTES: u64 = 512 << 20;

/// A document's snapshots, and the process they came from when the document says.
pub(crate) struct Input {
    pub(crate) snapshots: Vec<Snapshot>,
    pub(crate) pid: Option<u32>,
    pub(crate) program: Option<String>,
}

/// Reads the snapshots of a `mapgov-snapshot` or `mapgov-dump` file.
pub(crate) fn from_file(path: &Path) -> Result<Vec<Snapshot>> {
    Ok(read_file(path)?.snapshots)
}

/// Fetches the snapshots a live endpoint serves.
pub(crate) fn from_url(url: &str) -> Result<Vec<Snapshot>> {
    Ok(read_url(url)?.snapshots)
}

/// [`from_file`], with the document's process.
pub(crate) fn read_file(path: &Path) -> Result<Input> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    if !meta.is_file() {
        bail!("cannot read {}: not a regular file", path.display());
    }
    if meta.len() > MAX_BYTES {
        bail!(
            "cannot read {}: {} bytes is more than the {} a report reads",
            path.display(),
            meta.len(),
            mapgov::human_bytes(MAX_BYTES)
        );
    }
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let text = String::from_utf8(bytes).map_err(|_| {
        anyhow::anyhow!("{}: not a mapgov document (not UTF-8 text)", path.display())
    })?;
    parse(&text).with_context(|| path.display().to_string())
}

/// [`from_url`], with the document's process.
pub(crate) fn read_url(url: &str) -> Result<Input> {
    if !url.starts_with("http://") {
        bail!(
            "unsupported URL {url:?}: only http:// endpoints are supported (use a loopback address)"
        );
    }
    let agent = ureq::Agent::config_builder()
        .timeout_global(Some(std::time::Duration::from_secs(10)))
        .http_status_as_error(true)
        .build()
        .new_agent();
    let mut response = agent
        .get(url)
        .header("Accept", "application/json")
        .call()
        .with_context(|| format!("cannot fetch {url}"))?;
    let text = response
        .body_mut()
        .with_config()
        .limit(MAX_BYTES)
        .read_to_string()
        .with_context(|| format!("cannot read the response of {url}"))?;
    parse(&text).with_context(|| url.to_owned())
}

/// Reads a document, dispatching on its `format`: a `mapgov-snapshot` file (its snapshots) or
/// a `mapgov-dump` file (the one snapshot it holds, with the events of the dump's `events`
/// section; a partial dump gets a warning on stderr).
pub(crate) fn parse(text: &str) -> Result<Input> {
    let (format, _) = peek_format(text)?;
    match format.as_str() {
        SNAPSHOT_FORMAT => {
            let doc = SnapshotDocument::from_json(text)?;
            if doc.snapshots.is_empty() {
                bail!("the document holds no snapshot");
            }
            Ok(Input {
                snapshots: doc.snapshots,
                pid: Some(doc.pid),
                program: Some(doc.program),
            })
        }
        DUMP_FORMAT => {
            let doc = DumpDocument::from_json(text)?;
            if doc.partial {
                eprintln!(
                    "mapgov: warning: partial dump ({})",
                    doc.partial_reasons.join("; ")
                );
            }
            let mut snapshot = doc.snapshot;
            if snapshot.events.is_empty() {
                snapshot.events = doc.events.events();
            }
            snapshot.events_dropped = snapshot.events_dropped.max(doc.events.dropped);
            Ok(Input {
                snapshots: vec![snapshot],
                pid: Some(doc.pid),
                program: Some(doc.program),
            })
        }
        other => bail!("unsupported format {other:?}: expected {SNAPSHOT_FORMAT} or {DUMP_FORMAT}"),
    }
}
