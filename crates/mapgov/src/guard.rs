//! The guard: a dump of every map's state when the process panics, on a signal, or on demand
//! (feature `guard`).
//!
//! When a service dies, its maps die with it. The guard writes what they held — every tracked
//! map, every creation site's totals, the report's findings and the configuration — to a
//! versioned JSON file that `mapgov report FILE` reads:
//!
//! ```no_run
//! // At startup. Reads MAPGOV_DUMP_DIR, MAPGOV_DUMP_KEEP, MAPGOV_DUMP_SIGNAL, ... (see below).
//! if let Err(e) = mapgov::guard::install() {
//!     eprintln!("no map dumps: {e}");
//! }
//! // ... the service runs; if it panics, the hook writes a dump and then runs the
//! // previously installed hook (the default one prints the panic message as usual).
//!
//! // Or at any moment, e.g. from an admin endpoint:
//! let path = mapgov::guard::dump_now("before shutdown").unwrap();
//! println!("wrote {}", path.display());
//! ```
//!
//! # Three triggers
//!
//! - **Panic.** [`install`] chains a panic hook in front of the one already installed: on a
//!   panic it writes a dump, then calls the previous hook. Each runs exactly once per panic, also
//!   when `install` is called again (it then only updates the settings), and also with
//!   `panic = "abort"` (the hook runs before the process aborts).
//! - **Signal.** With [`Builder::signal`] (or `MAPGOV_DUMP_SIGNAL=SIGUSR1`) a background thread
//!   named `mapgov-guard-signal` waits for the signal through `signal-hook` and writes a dump;
//!   the signal handler itself only wakes that thread. The program keeps running. Registering the
//!   signal replaces its default action (for `SIGUSR1`, terminating the process).
//! - **Manual.** [`dump_now`] writes one dump and returns its path.
//!
//! # Never worse than no guard
//!
//! The panic hook runs on a thread that is already failing, perhaps holding locks, perhaps in a
//! process about to abort. So it never panics (every failure is one line on stderr and the
//! previous hook still runs), never blocks (it tries the map registry's lock for at most 100 ms
//! and otherwise writes a *partial* dump, marked as such, without maps and sites), bounds the
//! dump's size (`MAPGOV_DUMP_MAX_BYTES`, keeping the largest maps and sites and counting what it
//! left out), writes at most 4 dumps at once, and after a burst of 8 panic dumps writes at most
//! one every 10 seconds (a process that panics and recovers in a loop would otherwise fill its
//! disk), counting the panics it skipped in the next dump. Threads that panic together each get
//! their own dump. The file is not `fsync`ed: a crashing process keeps its page cache, and an
//! `fsync` can stall for seconds on a busy disk.
//!
//! # Safe files
//!
//! Dumps go to `MAPGOV_DUMP_DIR` ([`Builder::dir`]), created with mode 0700 if it does not exist,
//! or else to `$TMPDIR/mapgov-<uid>`, which must be a real directory (not a symbolic link) owned
//! by the user with no access for group or others: the guard creates it so, and refuses it
//! otherwise. Each dump is written to a new temporary file, created exclusively (`O_CREAT |
//! O_EXCL | O_NOFOLLOW`: never an existing path, never through a link) with mode 0600, and then
//! linked to its final name, which must not exist either: no reader ever sees a partial dump,
//! and a file or link planted at either name is neither followed nor overwritten (the guard takes
//! the next name). Names are `mapgov-dump-<program>-<UTC time>-<pid>-<seq>.json`; beyond the
//! retention count ([`Builder::retention`], `MAPGOV_DUMP_KEEP`, default 10) the oldest dumps of
//! the same program (regular files owned by the user) are removed.
//!
//! # What a dump holds
//!
//! A [`DumpDocument`]: `"format": "mapgov-dump"` and `"version": 1` first, then the reason
//! (`panic`, `signal` or `manual`), the panic's message, location and thread, the time, pid,
//! program and mapgov version, whether it is partial and why, what was left out to respect the
//! size bound, then the sections ([`Section`]): the configuration, the snapshot (maps and sites),
//! the report's findings, the lifecycle events and the key samples. The JSON Schema is
//! `schemas/mapgov-dump.v1.schema.json` in the repository.
//!
//! **Lifecycle events**: the `events` section holds what the event ring kept (created, grew,
//! rehashed, shrank, cleared, dropped, budget_exceeded; see [`Event`](crate::Event)), oldest
//! first, and how many the process lost. The dump's snapshot carries none itself (its
//! `events` list is empty): they are in this section, once. A dump over its size bound drops
//! the oldest events first (counted in `truncated.events_omitted`).
//!
//! **No keys or values by default.** A dump names maps, sites and types, never contents. The one
//! exception is opt-in: a [`KeySample`] keeps the last few keys a program gives it as redacted
//! `Debug` strings, and dumps include them (section `key_samples`). The panic message is
//! included as the program wrote it.
//!
//! # Environment
//!
//! `MAPGOV_DUMP_DIR`, `MAPGOV_DUMP_KEEP`, `MAPGOV_DUMP_SIGNAL`, `MAPGOV_DUMP_MAX_BYTES` and
//! `MAPGOV_DUMP_SECTIONS`, documented with every other variable on
//! [`Config::from_env`](crate::Config::from_env). They are read once per process; a malformed
//! value gives one warning and its default.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

mod capture;
mod document;
mod files;
mod hook;
mod keys;
#[cfg(unix)]
mod signal;

pub use document::{
    BudgetRecord, ConfigRecord, DUMP_FORMAT, DUMP_VERSION, DumpDocument, DumpReason, EventsRecord,
    GuardRecord, KeySampleRecord, PanicRecord, ShrinkPolicyRecord, Truncation,
};
pub use keys::{KeySample, MAX_KEY_BYTES, MAX_SAMPLE_KEYS};

/// Dumps kept per program by default.
pub const DEFAULT_RETENTION: usize = 10;
/// The largest dump by default: 16 MiB.
pub const DEFAULT_MAX_BYTES: usize = 16 << 20;
/// The smallest size bound accepted: 16 KiB (a dump's header and configuration alone can take
/// several KiB).
pub const MIN_MAX_BYTES: usize = 16 << 10;
/// The most dumps kept per program.
pub const MAX_RETENTION: usize = 10_000;

/// An optional part of a dump. The header (format, version, reason, panic, time, pid, program,
/// partial, truncation) is always there.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Section {
    /// The configuration in force and the guard's settings.
    Config,
    /// The individually tracked maps (`snapshot.maps`).
    Maps,
    /// The per-site aggregates (`snapshot.sites`).
    Sites,
    /// The report's findings for the snapshot.
    Findings,
    /// The recent lifecycle events.
    Events,
    /// The opt-in key samples ([`KeySample`]).
    KeySamples,
}

impl Section {
    /// Every section, in document order: the default.
    pub const ALL: [Section; 6] = [
        Section::Config,
        Section::Maps,
        Section::Sites,
        Section::Findings,
        Section::Events,
        Section::KeySamples,
    ];

    /// The section's name in `MAPGOV_DUMP_SECTIONS` and in the dump.
    pub fn name(self) -> &'static str {
        match self {
            Section::Config => "config",
            Section::Maps => "maps",
            Section::Sites => "sites",
            Section::Findings => "findings",
            Section::Events => "events",
            Section::KeySamples => "key_samples",
        }
    }

    /// Parses `all`, `none` or a comma-separated list of section names (in any order, repeats
    /// allowed); `None` if a name is unknown.
    pub(crate) fn parse_list(list: &str) -> Option<Vec<Section>> {
        let list = list.trim().to_ascii_lowercase();
        match list.as_str() {
            "all" => return Some(Section::ALL.to_vec()),
            "none" => return Some(Vec::new()),
            _ => {}
        }
        let mut out = Vec::new();
        for word in list.split(',').map(str::trim) {
            let section = Section::ALL
                .into_iter()
                .find(|s| s.name() == word || (word == "keys" && *s == Section::KeySamples))?;
            out.push(section);
        }
        Some(normalize(&out))
    }
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Sections in document order, without repeats.
fn normalize(sections: &[Section]) -> Vec<Section> {
    Section::ALL
        .into_iter()
        .filter(|s| sections.contains(s))
        .collect()
}

/// The signal that triggers a dump.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DumpSignal {
    /// `SIGUSR1`, the usual choice.
    Usr1,
    /// `SIGUSR2`, for programs that use `SIGUSR1` for something else.
    Usr2,
}

impl DumpSignal {
    /// The signal's name, e.g. `SIGUSR1`.
    pub fn name(self) -> &'static str {
        match self {
            DumpSignal::Usr1 => "SIGUSR1",
            DumpSignal::Usr2 => "SIGUSR2",
        }
    }
}

impl fmt::Display for DumpSignal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why the guard could not be installed or a dump could not be written.
#[derive(Debug)]
#[non_exhaustive]
pub enum DumpError {
    /// The dump directory could not be created or read.
    Dir {
        /// The directory.
        path: PathBuf,
        /// What the system said.
        error: io::Error,
    },
    /// The default dump directory exists but is not safe to write into.
    UnsafeDir {
        /// The directory.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The dump file could not be created or written.
    Write {
        /// The file.
        path: PathBuf,
        /// What the system said.
        error: io::Error,
    },
    /// Every name tried for the dump already existed.
    NoFreeName {
        /// The directory.
        dir: PathBuf,
    },
    /// Too many dumps are being written at this moment.
    Busy,
    /// Too many panic dumps in a short time (only for panic dumps).
    RateLimited,
    /// The signal trigger could not be set up.
    Signal {
        /// The signal.
        signal: DumpSignal,
        /// What the system said.
        error: io::Error,
    },
    /// The signal trigger is not available on this platform.
    SignalUnsupported,
    /// [`install`] was called from a panicking thread (the panic hook cannot be changed then).
    Panicking,
}

impl fmt::Display for DumpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DumpError::Dir { path, error } => write!(
                f,
                "cannot use dump directory {}: {error} (set MAPGOV_DUMP_DIR to a writable directory)",
                path.display()
            ),
            DumpError::UnsafeDir { path, reason } => write!(
                f,
                "refusing dump directory {}: {reason} (remove it, or set MAPGOV_DUMP_DIR)",
                path.display()
            ),
            DumpError::Write { path, error } => {
                write!(f, "cannot write dump {}: {error}", path.display())
            }
            DumpError::NoFreeName { dir } => write!(
                f,
                "cannot write a dump in {}: every name tried already exists (is something \
                 planting files there?)",
                dir.display()
            ),
            DumpError::Busy => f.write_str("too many dumps are being written at once; try again"),
            DumpError::RateLimited => f.write_str(
                "too many panic dumps in a short time; this panic is counted in the next dump",
            ),
            DumpError::Signal { signal, error } => {
                write!(f, "cannot handle {signal} for dumps: {error}")
            }
            DumpError::SignalUnsupported => {
                f.write_str("dump signals are only supported on Unix; leave the signal off")
            }
            DumpError::Panicking => f.write_str(
                "cannot install the guard from a panicking thread: install it at startup",
            ),
        }
    }
}

impl std::error::Error for DumpError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DumpError::Dir { error, .. }
            | DumpError::Write { error, .. }
            | DumpError::Signal { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// The guard's settings: where dumps go, how many are kept, which signal triggers one, which
/// sections they hold and how large they may be.
///
/// [`Builder::from_env`] starts from the `MAPGOV_DUMP_*` variables, [`Builder::new`] from the
/// defaults alone; [`Builder::install`] installs the panic hook (and the signal trigger) with
/// the settings, [`Builder::dump_now`] writes one dump with them.
///
/// # Examples
///
/// ```no_run
/// use mapgov::guard::{Builder, DumpSignal, Section};
///
/// let dir = Builder::from_env()
///     .dir("/var/lib/my-service/dumps")
///     .retention(5)
///     .signal(Some(DumpSignal::Usr1))
///     .sections(&[Section::Maps, Section::Sites, Section::Findings])
///     .install()
///     .expect("map dumps");
/// println!("map dumps go to {}", dir.display());
/// ```
#[derive(Clone, Debug, PartialEq)]
#[must_use]
pub struct Builder {
    dir: Option<PathBuf>,
    retention: usize,
    signal: Option<DumpSignal>,
    sections: Vec<Section>,
    max_bytes: usize,
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

impl Builder {
    /// The defaults, without reading the environment: the per-user temp directory, 10 dumps
    /// kept, no signal, every section, 16 MiB.
    pub fn new() -> Builder {
        Builder {
            dir: None,
            retention: DEFAULT_RETENTION,
            signal: None,
            sections: Section::ALL.to_vec(),
            max_bytes: DEFAULT_MAX_BYTES,
        }
    }

    /// The defaults overridden by the `MAPGOV_DUMP_*` environment variables.
    pub fn from_env() -> Builder {
        let env = env();
        let mut b = Builder::new();
        b.dir = env.dir.clone();
        if let Some(keep) = env.keep {
            b.retention = keep;
        }
        if let Some(signal) = env.signal {
            b.signal = signal;
        }
        if let Some(max) = env.max_bytes {
            b.max_bytes = max;
        }
        if let Some(sections) = &env.sections {
            b.sections = sections.clone();
        }
        b
    }

    /// Writes dumps into `dir` (created with mode 0700 if missing). Symbolic links and any mode
    /// are accepted for a directory chosen here: its safety is the caller's.
    pub fn dir(mut self, dir: impl Into<PathBuf>) -> Builder {
        self.dir = Some(dir.into());
        self
    }

    /// Keeps the `n` newest dumps of this program in the directory (1 to 10,000; clamped).
    pub fn retention(mut self, n: usize) -> Builder {
        self.retention = n.clamp(1, MAX_RETENTION);
        self
    }

    /// Writes a dump when the process receives `signal` (`None`: no signal trigger).
    pub fn signal(mut self, signal: Option<DumpSignal>) -> Builder {
        self.signal = signal;
        self
    }

    /// Includes only these optional sections (in document order whatever the order given).
    pub fn sections(mut self, sections: &[Section]) -> Builder {
        self.sections = normalize(sections);
        self
    }

    /// Bounds a dump's size (at least 16 KiB; raised to that).
    pub fn max_bytes(mut self, bytes: usize) -> Builder {
        self.max_bytes = bytes.max(MIN_MAX_BYTES);
        self
    }

    /// Installs the panic hook (chained in front of the current one) and the signal trigger
    /// with these settings, and returns the dump directory.
    ///
    /// Installing again replaces the settings and keeps one hook: ours still runs once per
    /// panic, then the hook that was installed before the first `install`. If the program
    /// replaced our hook with `std::panic::set_hook` (dropping it), installing again chains a
    /// new one in front of the program's. A signal trigger from an earlier `install` is stopped
    /// if these settings have none or another signal.
    ///
    /// # Errors
    ///
    /// [`DumpError::Dir`] or [`DumpError::UnsafeDir`] if the directory cannot be prepared,
    /// [`DumpError::Signal`] if the signal cannot be registered, [`DumpError::Panicking`] if
    /// called while the thread panics. Nothing is installed then.
    pub fn install(self) -> Result<PathBuf, DumpError> {
        if std::thread::panicking() {
            return Err(DumpError::Panicking);
        }
        let settings = self.resolve()?;
        let dir = settings.dir.clone();
        #[cfg(unix)]
        signal::configure(settings.signal)?;
        #[cfg(not(unix))]
        if settings.signal.is_some() {
            return Err(DumpError::SignalUnsupported);
        }
        hook::install(settings);
        Ok(dir)
    }

    /// Writes one manual dump with these settings (nothing is installed) and returns its path.
    ///
    /// # Errors
    ///
    /// As [`dump_now`].
    ///
    /// # Examples
    ///
    /// ```
    /// use mapgov::guard::{Builder, DumpDocument, DumpReason, Section};
    ///
    /// let dir = std::env::temp_dir().join(format!("mapgov-doc-{}", std::process::id()));
    /// let path = Builder::new().dir(&dir).sections(&[Section::Sites]).dump_now("doc")?;
    /// let dump = DumpDocument::from_json(&std::fs::read_to_string(&path)?)?;
    /// assert_eq!(dump.reason, DumpReason::Manual);
    /// assert_eq!(dump.sections, [Section::Sites]);
    /// assert!(dump.config.is_none() && dump.snapshot.maps.is_empty());
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn dump_now(&self, note: &str) -> Result<PathBuf, DumpError> {
        let settings = self.resolve()?;
        hook::dump_with(&settings, DumpReason::Manual, Some(note), None)
    }

    /// The settings with the directory made absolute and prepared.
    fn resolve(&self) -> Result<Settings, DumpError> {
        let (dir, default_dir) = match &self.dir {
            Some(d) => (absolute(d), false),
            None => (files::default_dir(), true),
        };
        files::prepare_dir(&dir, default_dir)?;
        Ok(Settings {
            dir,
            default_dir,
            retention: self.retention.clamp(1, MAX_RETENTION),
            signal: self.signal,
            sections: normalize(&self.sections),
            max_bytes: self.max_bytes.max(MIN_MAX_BYTES),
        })
    }
}

/// Resolved settings, as the hook, the signal thread and `dump_now` use them.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub(crate) dir: PathBuf,
    pub(crate) default_dir: bool,
    pub(crate) retention: usize,
    pub(crate) signal: Option<DumpSignal>,
    pub(crate) sections: Vec<Section>,
    pub(crate) max_bytes: usize,
}

impl Settings {
    pub(crate) fn has(&self, section: Section) -> bool {
        self.sections.contains(&section)
    }
}

fn absolute(dir: &Path) -> PathBuf {
    std::path::absolute(dir).unwrap_or_else(|_| dir.to_owned())
}

/// The `MAPGOV_DUMP_*` variables, read (and warned about) once per process.
fn env() -> &'static crate::config::GuardEnv {
    static ENV: OnceLock<crate::config::GuardEnv> = OnceLock::new();
    ENV.get_or_init(|| {
        crate::config::guard_env_from_lookup(
            |name| std::env::var_os(name),
            |warning| hook::stderr_line(format_args!("{warning}")),
        )
    })
}

/// Installs the guard configured from the environment: [`Builder::from_env`] then
/// [`Builder::install`]. Returns the dump directory.
///
/// # Errors
///
/// See [`Builder::install`].
///
/// # Examples
///
/// ```no_run
/// match mapgov::guard::install() {
///     Ok(dir) => eprintln!("map dumps go to {}", dir.display()),
///     Err(e) => eprintln!("no map dumps: {e}"),
/// }
/// ```
pub fn install() -> Result<PathBuf, DumpError> {
    Builder::from_env().install()
}

/// Writes a dump now (reason `manual`, with `note` saying why) and returns its path.
///
/// Uses the installed settings, or the environment's if the guard is not installed. Safe to
/// call from any thread at any time; it waits at most one second for the map registry and
/// otherwise writes a partial dump.
///
/// # Errors
///
/// [`DumpError::Dir`] / [`DumpError::UnsafeDir`] (the directory), [`DumpError::Write`] (the
/// file), [`DumpError::NoFreeName`], or [`DumpError::Busy`] when 4 dumps are being written.
///
/// # Examples
///
/// ```no_run
/// let mut sessions = mapgov::HashMap::new().named("sessions");
/// sessions.insert(1u64, "alice");
/// let path = mapgov::guard::dump_now("after login")?;
/// let dump = mapgov::guard::DumpDocument::from_json(&std::fs::read_to_string(&path)?)?;
/// assert_eq!(dump.note.as_deref(), Some("after login"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn dump_now(note: &str) -> Result<PathBuf, DumpError> {
    match hook::installed_settings() {
        Some(settings) => hook::dump_with(&settings, DumpReason::Manual, Some(note), None),
        None => Builder::from_env().dump_now(note),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn temp(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("mapgov-guard-unit-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn section_lists_parse_in_document_order() {
        assert_eq!(Section::parse_list("all"), Some(Section::ALL.to_vec()));
        assert_eq!(Section::parse_list(" none "), Some(Vec::new()));
        assert_eq!(
            Section::parse_list("findings, MAPS,keys,maps"),
            Some(vec![Section::Maps, Section::Findings, Section::KeySamples])
        );
        assert_eq!(Section::parse_list("maps,,sites"), None);
        assert_eq!(Section::parse_list("values"), None);
    }

    #[test]
    fn builder_clamps_its_bounds() {
        let b = Builder::new().retention(0).max_bytes(1);
        assert_eq!(b.retention, 1);
        assert_eq!(b.max_bytes, MIN_MAX_BYTES);
        let b = Builder::new()
            .retention(usize::MAX)
            .sections(&[Section::Sites, Section::Maps]);
        assert_eq!(b.retention, MAX_RETENTION);
        assert_eq!(b.sections, [Section::Maps, Section::Sites]);
    }

    #[test]
    fn a_locked_registry_gives_a_partial_dump_instead_of_blocking() {
        let settings = Builder::new().dir(temp("locked")).resolve().unwrap();
        let reg = crate::registry::lock();
        let start = std::time::Instant::now();
        let doc = capture::capture(
            &settings,
            capture::Request {
                reason: DumpReason::Manual,
                note: Some("locked"),
                panic: None,
                patience: Duration::from_millis(30),
                panics_skipped: 0,
            },
        );
        drop(reg);
        assert!(start.elapsed() < Duration::from_secs(2));
        assert!(doc.partial);
        assert!(
            doc.partial_reasons[0].contains("stayed locked"),
            "{:?}",
            doc.partial_reasons
        );
        assert!(doc.snapshot.maps.is_empty() && doc.snapshot.sites.is_empty());
        let _ = std::fs::remove_dir_all(&settings.dir);
    }

    #[test]
    fn dumps_render_within_their_bound_or_whole_when_nothing_can_go() {
        let settings = Builder::new().dir(temp("render")).resolve().unwrap();
        let mut doc = capture::capture(
            &settings,
            capture::Request {
                reason: DumpReason::Manual,
                note: Some(&"x".repeat(5000)),
                panic: None,
                patience: Duration::from_millis(100),
                panics_skipped: 0,
            },
        );
        assert!(doc.note.as_ref().unwrap().len() < 1100, "notes are bounded");
        doc.snapshot.sites.clear();
        doc.snapshot.maps.clear();
        doc.findings.clear();
        doc.key_samples.clear();
        doc.events.items.clear();
        let whole = capture::render(&mut doc, 100);
        let back = DumpDocument::from_json(std::str::from_utf8(&whole).unwrap()).unwrap();
        assert_eq!(back, doc);
        assert!(!doc.truncated.any());
        let _ = std::fs::remove_dir_all(&settings.dir);
    }

    #[test]
    fn dump_now_with_a_builder_writes_a_readable_manual_dump() {
        let dir = temp("manual");
        let mut m = crate::HashMap::new().named("guard-unit-manual");
        for i in 0..10u32 {
            m.insert(i, i);
        }
        let path = Builder::new().dir(&dir).dump_now("unit").unwrap();
        let doc = DumpDocument::from_json(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(doc.reason, DumpReason::Manual);
        assert_eq!(doc.note.as_deref(), Some("unit"));
        assert_eq!(doc.format, DUMP_FORMAT);
        assert!(doc.time.ends_with('Z'));
        assert!(
            doc.snapshot
                .sites
                .iter()
                .any(|s| s.name.as_deref() == Some("guard-unit-manual"))
        );
        assert_eq!(doc.config.unwrap().guard.dir, dir.display().to_string());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
