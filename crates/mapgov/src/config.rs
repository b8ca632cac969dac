//! Process-wide configuration: the [`Config`] builder and the `MAPGOV_*` environment variables.
//!
//! The configuration is read once, the first time a map needs it (its first allocation), or when
//! [`Config::install`] is called before that. Every environment variable is documented on
//! [`Config::from_env`]; this is the one place that lists them.

use std::fmt;
use std::sync::OnceLock;

use crate::policy::{Budget, ShrinkPolicy};
use std::sync::atomic::{AtomicU8, Ordering::Relaxed};

/// Default for [`Config::track_min_bytes`]: tables of 64 KiB and more are tracked individually.
///
/// Chosen by measurement (`mapbench`, see BENCHMARKS.md): tracking a map takes the registry
/// lock at registration and at drop and records a created and a dropped event, which made a
/// create/insert-4/drop cycle cost 719 ns with every map tracked, against 163 ns untracked and
/// 86 ns for hashbrown. Filling a 64 KiB table takes
/// tens of microseconds, so at that size registration is under 1 % of the map's own cost, and
/// its stats cell (about 470 bytes, which every map that allocates has anyway) under 1 % of its
/// memory. Smaller maps are still counted in their site's totals.
pub const DEFAULT_TRACK_MIN_BYTES: usize = 64 * 1024;

/// Default for [`Config::lookup_sample`]: one lookup in 1024 is counted, with weight 1024.
///
/// Counting costs one thread-local decrement per lookup; the sampled lookup adds its weight to
/// the map's counter with one atomic add. At one in 1024 that add is rare enough that two
/// threads reading the same map do not fight over its cache line, and a map with a million
/// lookups is still estimated within about 3 %. Use `1` (or a map's
/// [`count_every_lookup`](crate::HashMap::count_every_lookup)) where exact counts matter more.
pub const DEFAULT_LOOKUP_SAMPLE: u32 = 1024;

/// Default for [`Config::time_min_bytes`]: resizes of tables of 4 KiB and more are timed.
///
/// Reading the clock twice costs about 40 ns; a resize of a 4 KiB table costs about 1 µs, so
/// timing it adds at most a few percent to the resize and nothing to ordinary operations.
pub const DEFAULT_TIME_MIN_BYTES: usize = 4 * 1024;

/// Process-wide governance settings.
///
/// Build one with [`Config::from_env`] (what maps use when nothing was installed) or
/// [`Config::default`], adjust it with the builder methods, and [`install`](Config::install) it
/// before the first governed map allocates.
///
/// # Examples
///
/// ```
/// let config = mapgov::Config::from_env().track_min_bytes(0).lookup_sample(1);
/// // Fails only if maps already read the configuration.
/// let _ = config.install();
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub(crate) enabled: bool,
    pub(crate) track_min_bytes: usize,
    pub(crate) lookup_sample: u32,
    pub(crate) time_min_bytes: usize,
    pub(crate) shrink_policy: Option<ShrinkPolicy>,
    pub(crate) budgets: Vec<(String, Budget)>,
    pub(crate) events: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            enabled: true,
            track_min_bytes: DEFAULT_TRACK_MIN_BYTES,
            lookup_sample: DEFAULT_LOOKUP_SAMPLE,
            time_min_bytes: DEFAULT_TIME_MIN_BYTES,
            shrink_policy: None,
            budgets: Vec::new(),
            events: crate::event::DEFAULT_EVENTS,
        }
    }
}

/// Returned by [`Config::install`] when the configuration was already fixed.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct AlreadyInstalled {
    /// The configuration in force.
    pub current: Config,
}

impl fmt::Display for AlreadyInstalled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "mapgov configuration already in force: call Config::install before the first \
             governed map allocates",
        )
    }
}

impl std::error::Error for AlreadyInstalled {}

impl Config {
    /// The defaults, overridden by the `MAPGOV_*` environment variables.
    ///
    /// | variable | meaning | default |
    /// |---|---|---|
    /// | `MAPGOV` | `on` or `off` (also `1`/`0`, `true`/`false`): `off` makes every map behave as a plain hashbrown map, counting nothing | `on` |
    /// | `MAPGOV_TRACK_MIN_BYTES` | a map whose table reaches this many bytes is tracked individually (listed in [`Snapshot::maps`](crate::Snapshot::maps)); `0` tracks every map that allocates. Accepts a plain number or a `KiB`/`MiB`/`GiB` suffix | `65536` |
    /// | `MAPGOV_LOOKUP_SAMPLE` | count one lookup in N, each with weight N (`1` counts every lookup exactly) | `1024` |
    /// | `MAPGOV_TIME_MIN_BYTES` | resizes of tables at least this large are timed | `4096` |
    /// | `MAPGOV_EVENTS` | how many lifecycle events of tracked maps the event ring keeps (the oldest are dropped, and counted, beyond that); `0` records none. At most 1048576 | `4096` |
    /// | `MAPGOV_DUMP_DIR` | where [`guard`](crate::guard) dumps go (created with mode 0700 if missing) | `$TMPDIR/mapgov-<uid>` (mode 0700, checked) |
    /// | `MAPGOV_DUMP_KEEP` | how many dumps of this program the guard keeps in the directory (older ones are removed), 1 to 10000 | `10` |
    /// | `MAPGOV_DUMP_SIGNAL` | the signal that makes the guard write a dump: `off`, `SIGUSR1` (also `usr1`, `on`) or `SIGUSR2` | `off` |
    /// | `MAPGOV_DUMP_MAX_BYTES` | the largest dump written; bigger ones keep the largest maps and sites and say how many were left out. A byte count of at least `16KiB` | `16MiB` |
    /// | `MAPGOV_DUMP_SECTIONS` | which optional sections a dump includes: `all`, or a comma-separated list of `config`, `maps`, `sites`, `findings`, `events`, `key_samples` | `all` |
    ///
    /// The `MAPGOV_DUMP_*` variables are read by [`guard::install`](crate::guard::install) and
    /// [`guard::dump_now`](crate::guard::dump_now) (feature `guard`), once per process.
    ///
    /// A malformed value never stops the program: a warning naming the variable and the accepted
    /// values is printed once on stderr, and the default is used.
    pub fn from_env() -> Config {
        Self::from_lookup(
            |name| std::env::var_os(name),
            |warning| eprintln!("{warning}"),
        )
    }

    /// [`Config::from_env`] with the environment and the warning sink given by the caller.
    pub(crate) fn from_lookup(
        mut get: impl FnMut(&str) -> Option<std::ffi::OsString>,
        mut warn: impl FnMut(String),
    ) -> Config {
        let mut config = Config::default();
        let mut read = |name: &str| -> Option<String> {
            let raw = get(name)?;
            match raw.into_string() {
                Ok(s) => Some(s.trim().to_owned()),
                Err(_) => {
                    warn(format!("mapgov: ignoring {name}: not valid UTF-8"));
                    None
                }
            }
        };
        let mut bad = Vec::new();
        if let Some(v) = read("MAPGOV") {
            match parse_switch(&v) {
                Some(on) => config.enabled = on,
                None => bad.push(("MAPGOV", v, "on, off, 1, 0, true or false", "on")),
            }
        }
        if let Some(v) = read("MAPGOV_TRACK_MIN_BYTES") {
            match parse_bytes(&v) {
                Some(n) => config.track_min_bytes = n,
                None => bad.push((
                    "MAPGOV_TRACK_MIN_BYTES",
                    v,
                    "a byte count such as 0, 65536, 64KiB or 1MiB",
                    "65536",
                )),
            }
        }
        if let Some(v) = read("MAPGOV_LOOKUP_SAMPLE") {
            match v.parse::<u32>() {
                Ok(n) if n >= 1 => config.lookup_sample = n,
                _ => bad.push((
                    "MAPGOV_LOOKUP_SAMPLE",
                    v,
                    "a whole number from 1 (count every lookup) to 4294967295",
                    "1024",
                )),
            }
        }
        if let Some(v) = read("MAPGOV_TIME_MIN_BYTES") {
            match parse_bytes(&v) {
                Some(n) => config.time_min_bytes = n,
                None => bad.push((
                    "MAPGOV_TIME_MIN_BYTES",
                    v,
                    "a byte count such as 0, 4096 or 4KiB",
                    "4096",
                )),
            }
        }
        if let Some(v) = read("MAPGOV_EVENTS") {
            match v.parse::<usize>() {
                Ok(n) if n <= MAX_EVENTS => config.events = n,
                _ => bad.push((
                    "MAPGOV_EVENTS",
                    v,
                    "a whole number from 0 (record no events) to 1048576",
                    "4096",
                )),
            }
        }
        for (name, value, accepted, default) in bad {
            warn(format!(
                "mapgov: ignoring {name}={value:?}: expected {accepted}; using the default ({default})"
            ));
        }
        config
    }

    /// Turns governance on or off. Off, maps count nothing and register nothing.
    pub fn enabled(mut self, on: bool) -> Config {
        self.enabled = on;
        self
    }

    /// Tracks individually every map whose table reaches `bytes` (0: every map that allocates).
    pub fn track_min_bytes(mut self, bytes: usize) -> Config {
        self.track_min_bytes = bytes;
        self
    }

    /// Counts one lookup in `n` with weight `n`; `1` counts every lookup exactly.
    ///
    /// # Panics
    ///
    /// Panics if `n` is 0.
    pub fn lookup_sample(mut self, n: u32) -> Config {
        assert!(n >= 1, "lookup_sample must be at least 1");
        self.lookup_sample = n;
        self
    }

    /// Times resizes of tables of at least `bytes` bytes (0: time every resize).
    pub fn time_min_bytes(mut self, bytes: usize) -> Config {
        self.time_min_bytes = bytes;
        self
    }

    /// Applies `policy` to every map that has no shrink policy of its own (off by default).
    pub fn shrink_policy(mut self, policy: ShrinkPolicy) -> Config {
        self.shrink_policy = Some(policy);
        self
    }

    /// Applies `budget` to every map named `name` that has no budget of its own.
    pub fn budget_for(mut self, name: impl Into<String>, budget: Budget) -> Config {
        let name = name.into();
        self.budgets.retain(|(n, _)| *n != name);
        self.budgets.push((name, budget));
        self
    }

    /// Keeps the last `n` lifecycle events of tracked maps in the event ring (0: record none;
    /// at most 1048576). The ring is allocated, `n` records of at most 256 bytes at once
    /// (1 MiB for the default 4096), when the first event is recorded.
    ///
    /// # Panics
    ///
    /// Panics if `n` is more than 1048576.
    pub fn events(mut self, n: usize) -> Config {
        assert!(n <= MAX_EVENTS, "events must be at most {MAX_EVENTS}");
        self.events = n;
        self
    }

    /// The event ring's size.
    pub fn get_events(&self) -> usize {
        self.events
    }

    /// The budget configured for maps named `name`.
    pub(crate) fn budget_named(&self, name: &str) -> Option<&Budget> {
        self.budgets.iter().find(|(n, _)| n == name).map(|(_, b)| b)
    }

    /// Whether governance is on.
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// The tracking threshold in bytes.
    pub fn get_track_min_bytes(&self) -> usize {
        self.track_min_bytes
    }

    /// The lookup sampling interval.
    pub fn get_lookup_sample(&self) -> u32 {
        self.lookup_sample
    }

    /// The resize timing threshold in bytes.
    pub fn get_time_min_bytes(&self) -> usize {
        self.time_min_bytes
    }

    /// Makes this the process-wide configuration.
    ///
    /// # Errors
    ///
    /// [`AlreadyInstalled`] if a configuration is already in force (installed earlier, or read
    /// from the environment when the first governed map allocated).
    pub fn install(self) -> Result<(), AlreadyInstalled> {
        let mut mine = Some(self);
        let current = CONFIG.get_or_init(|| mine.take().expect("taken once"));
        match mine {
            None => Ok(()),
            Some(_) => Err(AlreadyInstalled {
                current: current.clone(),
            }),
        }
    }

    /// Whether a map may be small (no stats cell; see the `small` module): no shrink policy
    /// (a small map has no cell to keep one), lookups sampled (a small map cannot count every
    /// one) and a tracking threshold above 0 bytes (a small map is below it).
    pub(crate) fn allows_small_maps(&self) -> bool {
        self.shrink_policy.is_none() && self.lookup_sample > 1 && self.track_min_bytes > 0
    }
}

/// The largest event ring: 2^20 records (at most 256 MiB; a record is at most 256 bytes).
const MAX_EVENTS: usize = 1 << 20;

static CONFIG: OnceLock<Config> = OnceLock::new();

/// Whether governance is on, and whether maps may be small: 0 = not read yet, 1 = on,
/// 2 = off, 3 = on with no map small ([`Config::allows_small_maps`]). A plain load on the
/// cold path.
static STATE: AtomicU8 = AtomicU8::new(0);

/// [`STATE`], reading the configuration on first use.
#[inline(always)]
fn state() -> u8 {
    match STATE.load(Relaxed) {
        0 => read_state(),
        state => state,
    }
}

#[cold]
#[inline(never)]
fn read_state() -> u8 {
    let config = get();
    let state = match (config.enabled, config.allows_small_maps()) {
        (false, _) => 2,
        (true, true) => 1,
        (true, false) => 3,
    };
    STATE.store(state, Relaxed);
    state
}

/// Whether governance is on (reading the configuration on first use).
#[inline]
pub(crate) fn enabled() -> bool {
    state() & 1 == 1
}

/// Whether governance is on and a map may be small (see [`Config::allows_small_maps`]).
#[inline]
pub(crate) fn small_maps() -> bool {
    state() == 1
}

/// The configuration in force, reading the environment on first use.
#[inline]
pub(crate) fn get() -> &'static Config {
    CONFIG.get_or_init(Config::from_env)
}

/// The configuration in force, as a public copy.
pub fn current() -> Config {
    get().clone()
}

/// The configuration in force, if it was read already, without reading it; never blocks (for
/// the panic hook, and for paths that must not fix the configuration before a map allocates).
pub(crate) fn try_get() -> Option<&'static Config> {
    CONFIG.get()
}

/// The guard's settings from the `MAPGOV_DUMP_*` environment variables (see
/// [`Config::from_env`]). `None` means "not set": the guard's own default applies.
#[cfg(feature = "guard")]
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct GuardEnv {
    pub(crate) dir: Option<std::path::PathBuf>,
    pub(crate) keep: Option<usize>,
    /// `Some(None)`: explicitly off.
    pub(crate) signal: Option<Option<crate::guard::DumpSignal>>,
    pub(crate) max_bytes: Option<usize>,
    pub(crate) sections: Option<Vec<crate::guard::Section>>,
}

/// Reads the `MAPGOV_DUMP_*` variables like [`Config::from_lookup`] reads the others: a
/// malformed value gives one warning naming the variable and what it accepts, and is ignored.
#[cfg(feature = "guard")]
pub(crate) fn guard_env_from_lookup(
    mut get: impl FnMut(&str) -> Option<std::ffi::OsString>,
    mut warn: impl FnMut(String),
) -> GuardEnv {
    use crate::guard::{DumpSignal, Section};
    let mut env = GuardEnv::default();
    let mut bad: Vec<(&str, String, &str, &str)> = Vec::new();
    if let Some(raw) = get("MAPGOV_DUMP_DIR") {
        // Paths need not be UTF-8.
        if raw.is_empty() {
            bad.push((
                "MAPGOV_DUMP_DIR",
                String::new(),
                "a directory path",
                "a per-user directory under the temp dir",
            ));
        } else {
            env.dir = Some(std::path::PathBuf::from(raw));
        }
    }
    let mut read = |name: &str| -> Option<String> {
        let raw = get(name)?;
        match raw.into_string() {
            Ok(s) => Some(s.trim().to_owned()),
            Err(_) => {
                warn(format!("mapgov: ignoring {name}: not valid UTF-8"));
                None
            }
        }
    };
    if let Some(v) = read("MAPGOV_DUMP_KEEP") {
        match v.parse::<usize>() {
            Ok(n) if (1..=10_000).contains(&n) => env.keep = Some(n),
            _ => bad.push((
                "MAPGOV_DUMP_KEEP",
                v,
                "a whole number from 1 to 10000",
                "10",
            )),
        }
    }
    if let Some(v) = read("MAPGOV_DUMP_SIGNAL") {
        let lower = v.to_ascii_lowercase();
        let choice = match lower.trim_start_matches("sig") {
            "usr1" => Some(Some(DumpSignal::Usr1)),
            "usr2" => Some(Some(DumpSignal::Usr2)),
            _ => parse_switch(&lower).map(|on| on.then_some(DumpSignal::Usr1)),
        };
        match choice {
            Some(c) => env.signal = Some(c),
            None => bad.push((
                "MAPGOV_DUMP_SIGNAL",
                v,
                "off, SIGUSR1 (or on) or SIGUSR2",
                "off",
            )),
        }
    }
    if let Some(v) = read("MAPGOV_DUMP_MAX_BYTES") {
        match parse_bytes(&v) {
            Some(n) if n >= crate::guard::MIN_MAX_BYTES => env.max_bytes = Some(n),
            _ => bad.push((
                "MAPGOV_DUMP_MAX_BYTES",
                v,
                "a byte count of at least 16KiB, such as 1MiB or 16MiB",
                "16MiB",
            )),
        }
    }
    if let Some(v) = read("MAPGOV_DUMP_SECTIONS") {
        match Section::parse_list(&v) {
            Some(list) => env.sections = Some(list),
            None => bad.push((
                "MAPGOV_DUMP_SECTIONS",
                v,
                "all, or a comma-separated list of config, maps, sites, findings, events, \
                 key_samples",
                "all",
            )),
        }
    }
    for (name, value, accepted, default) in bad {
        warn(format!(
            "mapgov: ignoring {name}={value:?}: expected {accepted}; using the default ({default})"
        ));
    }
    env
}

fn parse_switch(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "on" | "1" | "true" | "yes" => Some(true),
        "off" | "0" | "false" | "no" => Some(false),
        _ => None,
    }
}

fn parse_bytes(v: &str) -> Option<usize> {
    let v = v.trim();
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (digits, unit) = v.split_at(split);
    let n: usize = digits.parse().ok()?;
    let mult: usize = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(mult)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    fn parse(vars: &[(&str, &str)]) -> (Config, Vec<String>) {
        let mut warnings = Vec::new();
        let config = Config::from_lookup(
            |name| {
                vars.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| OsString::from(v))
            },
            |w| warnings.push(w),
        );
        (config, warnings)
    }

    #[test]
    fn empty_environment_gives_defaults() {
        let (config, warnings) = parse(&[]);
        assert_eq!(config, Config::default());
        assert!(warnings.is_empty());
    }

    #[test]
    fn valid_values_are_applied() {
        let (config, warnings) = parse(&[
            ("MAPGOV", "off"),
            ("MAPGOV_TRACK_MIN_BYTES", "1MiB"),
            ("MAPGOV_LOOKUP_SAMPLE", "1"),
            ("MAPGOV_TIME_MIN_BYTES", "0"),
            ("MAPGOV_EVENTS", "64"),
        ]);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(config.events, 64);
        assert!(!config.enabled);
        assert_eq!(config.track_min_bytes, 1 << 20);
        assert_eq!(config.lookup_sample, 1);
        assert_eq!(config.time_min_bytes, 0);
    }

    #[test]
    fn malformed_values_warn_once_each_and_keep_defaults() {
        let (config, warnings) = parse(&[
            ("MAPGOV", "maybe"),
            ("MAPGOV_TRACK_MIN_BYTES", "lots"),
            ("MAPGOV_LOOKUP_SAMPLE", "0"),
            ("MAPGOV_TIME_MIN_BYTES", "-1"),
        ]);
        assert_eq!(config, Config::default());
        assert_eq!(warnings.len(), 4);
        assert!(warnings[0].contains("MAPGOV=\"maybe\"") && warnings[0].contains("on, off"));
        assert!(warnings[1].contains("MAPGOV_TRACK_MIN_BYTES"));
        assert!(warnings[2].contains("MAPGOV_LOOKUP_SAMPLE"));
        assert!(warnings[3].contains("MAPGOV_TIME_MIN_BYTES"));
    }

    #[test]
    fn events_variable_parses_and_warns_once_when_malformed() {
        let (config, warnings) = parse(&[("MAPGOV_EVENTS", "0")]);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(config.events, 0);
        for bad in ["-1", "lots", "2000000", ""] {
            let (config, warnings) = parse(&[("MAPGOV_EVENTS", bad)]);
            assert_eq!(config.events, crate::event::DEFAULT_EVENTS, "{bad}");
            assert_eq!(warnings.len(), 1, "{bad}: {warnings:?}");
            assert!(
                warnings[0].starts_with("mapgov: ignoring MAPGOV_EVENTS=")
                    && warnings[0].contains("using the default (4096)"),
                "{}",
                warnings[0]
            );
        }
    }

    #[cfg(feature = "guard")]
    fn parse_guard(vars: &[(&str, &str)]) -> (GuardEnv, Vec<String>) {
        let mut warnings = Vec::new();
        let env = guard_env_from_lookup(
            |name| {
                vars.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| OsString::from(v))
            },
            |w| warnings.push(w),
        );
        (env, warnings)
    }

    #[cfg(feature = "guard")]
    #[test]
    fn guard_variables_parse() {
        use crate::guard::{DumpSignal, Section};
        let (env, warnings) = parse_guard(&[]);
        assert_eq!(env, GuardEnv::default());
        assert!(warnings.is_empty());
        let (env, warnings) = parse_guard(&[
            ("MAPGOV_DUMP_DIR", "/var/tmp/dumps"),
            ("MAPGOV_DUMP_KEEP", "3"),
            ("MAPGOV_DUMP_SIGNAL", "SIGUSR2"),
            ("MAPGOV_DUMP_MAX_BYTES", "1MiB"),
            ("MAPGOV_DUMP_SECTIONS", "maps, findings"),
        ]);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(
            env.dir.as_deref(),
            Some(std::path::Path::new("/var/tmp/dumps"))
        );
        assert_eq!(env.keep, Some(3));
        assert_eq!(env.signal, Some(Some(DumpSignal::Usr2)));
        assert_eq!(env.max_bytes, Some(1 << 20));
        assert_eq!(env.sections, Some(vec![Section::Maps, Section::Findings]));
        for (v, expected) in [
            ("on", Some(DumpSignal::Usr1)),
            ("usr1", Some(DumpSignal::Usr1)),
            ("off", None),
            ("0", None),
        ] {
            let (env, warnings) = parse_guard(&[("MAPGOV_DUMP_SIGNAL", v)]);
            assert!(warnings.is_empty(), "{v}: {warnings:?}");
            assert_eq!(env.signal, Some(expected), "{v}");
        }
    }

    #[cfg(feature = "guard")]
    #[test]
    fn malformed_guard_variables_warn_once_each_and_keep_defaults() {
        let (env, warnings) = parse_guard(&[
            ("MAPGOV_DUMP_DIR", ""),
            ("MAPGOV_DUMP_KEEP", "0"),
            ("MAPGOV_DUMP_SIGNAL", "SIGKILL"),
            ("MAPGOV_DUMP_MAX_BYTES", "12"),
            ("MAPGOV_DUMP_SECTIONS", "maps,secrets"),
        ]);
        assert_eq!(env, GuardEnv::default());
        assert_eq!(warnings.len(), 5, "{warnings:?}");
        for (w, name) in warnings.iter().zip([
            "MAPGOV_DUMP_DIR",
            "MAPGOV_DUMP_KEEP",
            "MAPGOV_DUMP_SIGNAL",
            "MAPGOV_DUMP_MAX_BYTES",
            "MAPGOV_DUMP_SECTIONS",
        ]) {
            assert!(w.starts_with(&format!("mapgov: ignoring {name}=")), "{w}");
            assert!(w.contains("using the default"), "{w}");
        }
    }

    #[test]
    fn byte_suffixes_parse_and_overflow_is_rejected() {
        assert_eq!(parse_bytes("64KiB"), Some(65536));
        assert_eq!(parse_bytes("64 kb"), Some(65536));
        assert_eq!(parse_bytes("2G"), Some(2 << 30));
        assert_eq!(parse_bytes("12"), Some(12));
        assert_eq!(parse_bytes("12 parsecs"), None);
        assert_eq!(parse_bytes(""), None);
        assert_eq!(parse_bytes("99999999999999999999GiB"), None);
    }
}
