//! Versioned file formats for snapshots (feature `serde`).
//!
//! A snapshot document is what `mapgov report FILE` reads and what a live endpoint serves:
//!
//! ```json
//! { "format": "mapgov-snapshot", "version": 1, "program": "my-service", "pid": 4242,
//!   "snapshots": [ { "taken_at_unix_ms": ..., "maps": [...], "sites": [...] } ] }
//! ```
//!
//! `format` and `version` come first and are checked before anything else is read, so a file
//! of another kind or a newer version gets a clear error instead of a confusing one. The
//! fields of each snapshot are those of [`Snapshot`], [`MapStats`](crate::MapStats) and
//! [`SiteStats`](crate::SiteStats), with durations in seconds.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::snapshot::Snapshot;

/// The `format` of a snapshot document.
pub const SNAPSHOT_FORMAT: &str = "mapgov-snapshot";
/// The `version` of the snapshot document this library writes and reads.
pub const SNAPSHOT_VERSION: u32 = 1;

/// Snapshots of one process, oldest first, in the versioned `mapgov-snapshot` format.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SnapshotDocument {
    /// Always [`SNAPSHOT_FORMAT`].
    pub format: String,
    /// Always [`SNAPSHOT_VERSION`] when written by this library.
    pub version: u32,
    /// The program's name (its executable's file name).
    pub program: String,
    /// The process id.
    pub pid: u32,
    /// The snapshots, oldest first.
    pub snapshots: Vec<Snapshot>,
}

/// Why a document could not be read.
#[derive(Debug)]
#[non_exhaustive]
pub enum DocumentError {
    /// The text is not JSON.
    Json(serde_json::Error),
    /// A field does not have the documented type (`path` names it, e.g. `snapshots[0].maps`).
    Field {
        /// Where in the document.
        path: String,
        /// What is wrong there.
        error: serde_json::Error,
    },
    /// The JSON has no `format` field: it is not a mapgov document.
    NoFormat,
    /// The document is of another format.
    WrongFormat {
        /// The format found.
        found: String,
        /// The formats accepted here.
        expected: &'static str,
    },
    /// The document's version is not one this library reads.
    UnsupportedVersion {
        /// The version found.
        found: u64,
        /// The newest version this library reads.
        supported: u32,
    },
}

impl fmt::Display for DocumentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DocumentError::Json(e) if e.is_eof() => {
                write!(f, "the file ends too early (truncated?): {e}")
            }
            DocumentError::Json(e) => write!(f, "not a valid mapgov document: {e}"),
            DocumentError::Field { path, error } => {
                write!(f, "not a valid mapgov document: field `{path}`: {error}")
            }
            DocumentError::NoFormat => f.write_str(
                "not a mapgov document: it has no \"format\" field (expected a mapgov-snapshot \
                 or mapgov-dump file)",
            ),
            DocumentError::WrongFormat { found, expected } => {
                write!(f, "unsupported format {found:?}: expected {expected}")
            }
            DocumentError::UnsupportedVersion { found, supported } => write!(
                f,
                "unsupported version {found}: this mapgov reads version {supported} (upgrade \
                 mapgov to read newer files)"
            ),
        }
    }
}

/// The message already includes the underlying JSON error, so no `source` is reported (error
/// chains would print it twice).
impl std::error::Error for DocumentError {}

impl From<serde_json::Error> for DocumentError {
    fn from(e: serde_json::Error) -> Self {
        DocumentError::Json(e)
    }
}

/// Reads the `format` and `version` of a JSON document without reading the rest.
///
/// # Errors
///
/// [`DocumentError::Json`] if the text is not a JSON object, [`DocumentError::NoFormat`] if it
/// has no string `format`.
pub fn peek_format(json: &str) -> Result<(String, u64), DocumentError> {
    #[derive(Deserialize)]
    struct Head {
        format: Option<serde_json::Value>,
        version: Option<serde_json::Value>,
    }
    let head: Head = serde_json::from_str(json)?;
    let format = match head.format {
        Some(serde_json::Value::String(s)) => s,
        _ => return Err(DocumentError::NoFormat),
    };
    let version = head.version.and_then(|v| v.as_u64()).unwrap_or(0);
    Ok((format, version))
}

impl SnapshotDocument {
    /// A document of this process's snapshots.
    pub fn new(snapshots: Vec<Snapshot>) -> SnapshotDocument {
        let program = std::env::current_exe()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_default();
        SnapshotDocument {
            format: SNAPSHOT_FORMAT.to_owned(),
            version: SNAPSHOT_VERSION,
            program,
            pid: std::process::id(),
            snapshots,
        }
    }

    /// The document as pretty JSON, `format` and `version` first.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| {
            // Serialization of these plain types cannot fail; keep a valid document regardless.
            format!("{{\"format\":\"{SNAPSHOT_FORMAT}\",\"version\":{SNAPSHOT_VERSION},\"error\":{:?}}}", e.to_string())
        })
    }

    /// Reads a document, checking `format` and `version` first.
    ///
    /// # Errors
    ///
    /// A [`DocumentError`] that says what is wrong: not JSON, truncated, another format, an
    /// unsupported version, or fields of the wrong type.
    pub fn from_json(json: &str) -> Result<SnapshotDocument, DocumentError> {
        read_versioned(json, SNAPSHOT_FORMAT, SNAPSHOT_VERSION)
    }
}

/// Reads a versioned document: checks its `format` and `version` before anything else, then
/// reads the rest, naming the path of a field of the wrong type.
pub(crate) fn read_versioned<T: serde::de::DeserializeOwned>(
    json: &str,
    expected_format: &'static str,
    expected_version: u32,
) -> Result<T, DocumentError> {
    let (format, version) = peek_format(json)?;
    if format != expected_format {
        return Err(DocumentError::WrongFormat {
            found: format,
            expected: expected_format,
        });
    }
    if version != u64::from(expected_version) {
        return Err(DocumentError::UnsupportedVersion {
            found: version,
            supported: expected_version,
        });
    }
    let mut de = serde_json::Deserializer::from_str(json);
    let doc = serde_path_to_error::deserialize(&mut de).map_err(|e| DocumentError::Field {
        path: e.path().to_string(),
        error: e.into_inner(),
    })?;
    de.end()?;
    Ok(doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_round_trip_with_format_and_version_first() {
        let doc = SnapshotDocument::new(vec![crate::snapshot()]);
        let json = doc.to_json();
        assert!(
            json.trim_start()
                .starts_with("{\n  \"format\": \"mapgov-snapshot\",\n  \"version\": 1")
        );
        let back = SnapshotDocument::from_json(&json).unwrap();
        assert_eq!(back.snapshots.len(), 1);
        assert_eq!(back.format, SNAPSHOT_FORMAT);
    }

    #[test]
    fn wrong_format_version_and_garbage_are_named() {
        let e = SnapshotDocument::from_json(r#"{"format":"other","version":1}"#).unwrap_err();
        assert!(
            e.to_string().contains("unsupported format \"other\""),
            "{e}"
        );
        let e =
            SnapshotDocument::from_json(r#"{"format":"mapgov-snapshot","version":9}"#).unwrap_err();
        assert!(e.to_string().contains("unsupported version 9"), "{e}");
        let e = SnapshotDocument::from_json(r#"{"format":"mapgov-snap"#).unwrap_err();
        assert!(e.to_string().contains("truncated"), "{e}");
        let e = SnapshotDocument::from_json("[1, 2]").unwrap_err();
        assert!(e.to_string().starts_with("not a mapgov document"), "{e}");
        let e = SnapshotDocument::from_json("hello").unwrap_err();
        assert!(
            e.to_string().starts_with("not a valid mapgov document"),
            "{e}"
        );
        let e = SnapshotDocument::from_json(r#"{"version":1}"#).unwrap_err();
        assert!(e.to_string().contains("no \"format\" field"), "{e}");
        let e = SnapshotDocument::from_json(
            r#"{"format":"mapgov-snapshot","version":1,"program":"x","pid":"nope","snapshots":[]}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("field `pid`"), "{e}");
    }
}
