//! Lifecycle events of tracked maps, the bounded lossy ring that keeps the recent ones, and
//! their `tracing` form.
//!
//! Events are recorded only on cold paths that already exist: a map becoming tracked
//! (`registry::track`), a resize (`Gov::after_resize`), `clear()`, a tracked map's drop
//! (`registry::retire`) and a budget crossing (`policy::report_crossing`). Recording copies a
//! plain [`Record`] (sites and names are `&'static str`s from the interned site cell, the thread
//! name is copied into a fixed buffer) into a ring preallocated on first use, under a mutex taken
//! with `try_lock`: a contended record is dropped and counted, never waited for. Ordinary map
//! operations record nothing.

use std::cell::Cell;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{LazyLock, Mutex, MutexGuard, TryLockError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

#[cfg(feature = "tracing")]
use crate::gov::STALL_MIN_BYTES;
use crate::gov::TableState;
use crate::snapshot::Site;
use crate::stats::{MapCell, SiteCell};

/// Default for [`Config::events`](crate::Config::events): the ring keeps the last 4096 events.
pub const DEFAULT_EVENTS: usize = 4096;

/// Resizes of tables of at least 64 KiB that take longer than this are `tracing` warnings
/// (shorter ones, and resizes of smaller tables, are debug events).
pub const STALL_WARN: Duration = Duration::from_millis(1);

/// What happened to a map.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum EventKind {
    /// The map became tracked (its table reached `MAPGOV_TRACK_MIN_BYTES`). `before` and
    /// `after` are both its state then.
    Created,
    /// The table was reallocated larger.
    Grew,
    /// A [`SplitMap`](crate::SplitMap) split one of its tables in two: the map grew by one
    /// bounded step ([`Event::tables`] is its number of tables after it).
    Split,
    /// The table was rehashed in place (tombstones cleared, no new allocation).
    Rehashed,
    /// The table was reallocated smaller (or freed).
    Shrank,
    /// `clear()` removed every entry (only recorded when the map held some); the allocation
    /// is kept.
    Cleared,
    /// The map was dropped: `before` is its last state, `after` is empty, and
    /// [`Event::lifetime`] summarizes its life.
    Dropped,
    /// The map crossed its budget ([`Event::budget`] says which limit).
    BudgetExceeded,
}

impl EventKind {
    /// The kind's name as in every export: `created`, `grew`, `split`, `rehashed`, `shrank`,
    /// `cleared`, `dropped`, `budget_exceeded`.
    pub fn name(self) -> &'static str {
        match self {
            EventKind::Created => "created",
            EventKind::Grew => "grew",
            EventKind::Split => "split",
            EventKind::Rehashed => "rehashed",
            EventKind::Shrank => "shrank",
            EventKind::Cleared => "cleared",
            EventKind::Dropped => "dropped",
            EventKind::BudgetExceeded => "budget_exceeded",
        }
    }

    /// Whether this kind is a resize (grew, split, rehashed, shrank).
    pub fn is_resize(self) -> bool {
        matches!(
            self,
            EventKind::Grew | EventKind::Split | EventKind::Rehashed | EventKind::Shrank
        )
    }
}

/// A table's size at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[non_exhaustive]
pub struct TableSize {
    /// Entries.
    pub len: u64,
    /// Entries the table holds without growing.
    pub capacity: u64,
    /// Bytes of the table's allocation.
    pub bytes: u64,
}

impl TableSize {
    /// A size from its parts.
    pub fn new(len: u64, capacity: u64, bytes: u64) -> TableSize {
        TableSize {
            len,
            capacity,
            bytes,
        }
    }
}

/// The life of a dropped map, in its [`EventKind::Dropped`] event.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[non_exhaustive]
pub struct Lifetime {
    /// Nanoseconds from the moment the map became tracked to its drop.
    pub age_nanos: u64,
    /// The most entries it held.
    pub peak_len: u64,
    /// Its operations: inserts, updates, removes and lookups (lookups as counted, see
    /// [`MapStats`](crate::MapStats)).
    pub operations: u64,
}

/// The limit a map crossed, in its [`EventKind::BudgetExceeded`] event.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[non_exhaustive]
pub struct BudgetLimit {
    /// `"entries"` or `"bytes"`.
    pub limit_kind: String,
    /// The limit.
    pub limit: u64,
    /// The value that crossed it.
    pub value: u64,
}

/// One lifecycle event of a tracked map.
///
/// Times: `mono_nanos` is read from a monotonic clock, counted from the moment mapgov's event
/// clock started (the first event of the process); `time_unix_nanos` is that plus the
/// wall-clock time read once when the clock started, so events are ordered and spaced exactly
/// as they happened even if the system clock is changed meanwhile.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[non_exhaustive]
pub struct Event {
    /// Sequence number: 1 for the first event the ring kept, one more for each next one. A gap
    /// between two events means events were dropped there.
    pub seq: u64,
    /// What happened.
    pub kind: EventKind,
    /// Wall-clock time in nanoseconds since the Unix epoch (see the type's docs).
    pub time_unix_nanos: u64,
    /// Monotonic nanoseconds since the event clock started.
    pub mono_nanos: u64,
    /// The map's id, as in [`MapStats::id`](crate::MapStats::id).
    pub map_id: u64,
    /// Where the map was created.
    pub site: Site,
    /// The map's name, if any.
    pub name: Option<String>,
    /// The thread that made the change: a number that Rust's `ThreadId` also shows
    /// (`ThreadId(3)` is 3), or 0 if it could not be read.
    pub thread_id: u64,
    /// The thread's name, if it has one (at most 31 bytes, cut at a character boundary).
    pub thread_name: Option<String>,
    /// The table before the change.
    pub before: TableSize,
    /// The table after the change.
    pub after: TableSize,
    /// How long the change took, for timed resizes (tables of at least
    /// `MAPGOV_TIME_MIN_BYTES`).
    pub duration_nanos: Option<u64>,
    /// For [`EventKind::Dropped`]: the map's life.
    pub lifetime: Option<Lifetime>,
    /// For [`EventKind::BudgetExceeded`]: the limit crossed.
    pub budget: Option<BudgetLimit>,
    /// For a [`SplitMap`](crate::SplitMap): its number of tables after the change (`None`
    /// for the other map types).
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub tables: Option<u64>,
}

/// What the ring keeps: plain data, no allocation (at most 256 bytes; a test checks).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Record {
    pub(crate) seq: u64,
    pub(crate) kind: EventKind,
    pub(crate) mono_nanos: u64,
    pub(crate) map_id: u64,
    pub(crate) site: &'static SiteCell,
    pub(crate) thread_id: u64,
    pub(crate) thread_name: ThreadName,
    pub(crate) before: TableSize,
    pub(crate) after: TableSize,
    pub(crate) duration_nanos: Option<u64>,
    pub(crate) lifetime: Option<Lifetime>,
    pub(crate) budget: Option<(&'static str, u64, u64)>,
    /// Tables of a split map after the change; 0 for other maps.
    pub(crate) tables: u64,
}

/// A thread name copied into a fixed buffer.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ThreadName {
    len: u8,
    bytes: [u8; 31],
}

impl ThreadName {
    fn new(name: &str) -> ThreadName {
        let mut end = name.len().min(31);
        while end > 0 && !name.is_char_boundary(end) {
            end -= 1;
        }
        let mut bytes = [0u8; 31];
        bytes[..end].copy_from_slice(&name.as_bytes()[..end]);
        ThreadName {
            len: end as u8,
            bytes,
        }
    }

    fn as_str(&self) -> Option<&str> {
        let s = std::str::from_utf8(&self.bytes[..usize::from(self.len)]).ok()?;
        (!s.is_empty()).then_some(s)
    }
}

/// The ring: preallocated, overwriting its oldest record when full.
struct Ring {
    buf: Vec<Record>,
    capacity: usize,
    /// Index of the oldest record once the ring is full.
    head: usize,
    /// Records ever written (the last one's `seq`).
    written: u64,
    /// Records overwritten before anyone could read them.
    overwritten: u64,
}

static RING: LazyLock<Mutex<Ring>> = LazyLock::new(|| {
    let capacity = crate::config::get().events;
    Mutex::new(Ring {
        buf: Vec::with_capacity(capacity),
        capacity,
        head: 0,
        written: 0,
        overwritten: 0,
    })
});

/// Records dropped because the ring was busy (another thread recording or a snapshot copying).
static CONTENDED: AtomicU64 = AtomicU64::new(0);

/// The event clock: its monotonic start and the wall-clock time then.
static CLOCK: LazyLock<(Instant, u64)> = LazyLock::new(|| {
    let unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0);
    (Instant::now(), unix)
});

thread_local! {
    /// This thread's id number and name (read once; 0 = not read yet).
    static THREAD: Cell<(u64, ThreadName)> = const { Cell::new((0, ThreadName { len: 0, bytes: [0; 31] })) };
    /// Set while this thread emits a `tracing` event: a subscriber that makes maps of its own
    /// records their events in the ring, but does not re-enter `tracing` for them.
    static EMITTING: Cell<bool> = const { Cell::new(false) };
}

/// The calling thread's id number and name, without allocating.
fn current_thread() -> (u64, ThreadName) {
    THREAD
        .try_with(|t| {
            let cached = t.get();
            if cached.0 != 0 {
                return cached;
            }
            let thread = std::thread::current();
            let id = thread_id_number(thread.id());
            let name = thread.name().map(ThreadName::new).unwrap_or_default();
            t.set((id, name));
            (id, name)
        })
        .unwrap_or((0, ThreadName::default()))
}

/// The number in `ThreadId(N)`, read from its `Debug` form through a stack buffer.
fn thread_id_number(id: std::thread::ThreadId) -> u64 {
    use std::fmt::Write;
    struct Buf {
        bytes: [u8; 40],
        len: usize,
    }
    impl Write for Buf {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            let end = self.len + s.len();
            if end > self.bytes.len() {
                return Err(std::fmt::Error);
            }
            self.bytes[self.len..end].copy_from_slice(s.as_bytes());
            self.len = end;
            Ok(())
        }
    }
    let mut buf = Buf {
        bytes: [0; 40],
        len: 0,
    };
    if write!(buf, "{id:?}").is_err() {
        return 0;
    }
    buf.bytes[..buf.len]
        .iter()
        .filter(|b| b.is_ascii_digit())
        .fold(0u64, |n, b| {
            n.saturating_mul(10).saturating_add(u64::from(b - b'0'))
        })
}

fn size(s: TableState) -> TableSize {
    TableSize::new(s.len as u64, s.capacity as u64, s.bytes as u64)
}

/// The state a cell knows of its table.
pub(crate) fn cell_size(cell: &MapCell) -> TableSize {
    TableSize::new(cell.len(), cell.capacity(), cell.bytes())
}

fn now_mono() -> u64 {
    u64::try_from(CLOCK.0.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// Records an event of `cell`'s map (only for tracked maps) and emits its `tracing` form.
#[cold]
#[allow(clippy::too_many_arguments)] // internal; each argument is one field of the event
fn record(
    cell: &MapCell,
    kind: EventKind,
    before: TableSize,
    after: TableSize,
    duration_nanos: Option<u64>,
    lifetime: Option<Lifetime>,
    budget: Option<(&'static str, u64, u64)>,
) {
    let map_id = cell.id.load(Relaxed);
    if map_id == 0 {
        return;
    }
    let (thread_id, thread_name) = current_thread();
    let mut rec = Record {
        seq: 0,
        kind,
        mono_nanos: now_mono(),
        map_id,
        site: cell.site,
        thread_id,
        thread_name,
        before,
        after,
        duration_nanos,
        lifetime,
        budget,
        tables: cell.tables.get(),
    };
    if crate::config::get().events > 0 {
        match RING.try_lock() {
            Ok(mut ring) => ring.push(&mut rec),
            Err(TryLockError::Poisoned(e)) => e.into_inner().push(&mut rec),
            Err(TryLockError::WouldBlock) => {
                CONTENDED.fetch_add(1, Relaxed);
            }
        }
    }
    #[cfg(feature = "tracing")]
    emit_tracing(&rec);
}

impl Ring {
    fn push(&mut self, rec: &mut Record) {
        if self.capacity == 0 {
            return;
        }
        self.written += 1;
        rec.seq = self.written;
        if self.buf.len() < self.capacity {
            self.buf.push(*rec);
        } else {
            self.buf[self.head] = *rec;
            self.head = (self.head + 1) % self.capacity;
            self.overwritten += 1;
        }
    }

    fn copy(&self) -> (Vec<Record>, u64) {
        let mut out = Vec::with_capacity(self.buf.len());
        out.extend_from_slice(&self.buf[self.head..]);
        out.extend_from_slice(&self.buf[..self.head]);
        (out, self.overwritten)
    }
}

/// A resize of a tracked map (called by `Gov::after_resize` with its classification).
#[cold]
pub(crate) fn resized(
    cell: &MapCell,
    kind: EventKind,
    before: TableState,
    after: TableState,
    nanos: Option<u64>,
) {
    record(cell, kind, size(before), size(after), nanos, None, None);
}

/// A map became tracked.
#[cold]
pub(crate) fn created(cell: &MapCell) {
    let s = cell_size(cell);
    record(cell, EventKind::Created, s, s, None, None, None);
}

/// `clear()` emptied a tracked map that held entries.
#[cold]
pub(crate) fn cleared(cell: &MapCell, before: TableState, after: TableState) {
    record(
        cell,
        EventKind::Cleared,
        size(before),
        size(after),
        None,
        None,
        None,
    );
}

/// A tracked map was dropped; `last` is its state before.
#[cold]
pub(crate) fn dropped(cell: &MapCell, last: TableSize) {
    let t = cell.totals();
    let lifetime = Lifetime {
        age_nanos: cell
            .tracked_since
            .get()
            .map(|t| u64::try_from(t.elapsed().as_nanos()).unwrap_or(u64::MAX))
            .unwrap_or(0),
        peak_len: cell.peak_before_removals().max(last.len),
        operations: t
            .inserts
            .saturating_add(t.updates)
            .saturating_add(t.removes)
            .saturating_add(t.hits)
            .saturating_add(t.misses),
    };
    record(
        cell,
        EventKind::Dropped,
        last,
        TableSize::default(),
        None,
        Some(lifetime),
        None,
    );
}

/// A map crossed its budget. Tracked maps get an event (and its `tracing` warning); an
/// untracked map gets the `tracing` warning alone.
#[cold]
pub(crate) fn budget_exceeded(cell: &MapCell, limit_kind: &'static str, limit: u64, value: u64) {
    let s = cell_size(cell);
    let budget = Some((limit_kind, limit, value));
    if cell.is_tracked() {
        record(cell, EventKind::BudgetExceeded, s, s, None, None, budget);
    } else {
        #[cfg(feature = "tracing")]
        {
            let (thread_id, thread_name) = current_thread();
            emit_tracing(&Record {
                seq: 0,
                kind: EventKind::BudgetExceeded,
                mono_nanos: now_mono(),
                map_id: 0,
                site: cell.site,
                thread_id,
                thread_name,
                before: s,
                after: s,
                duration_nanos: None,
                lifetime: None,
                budget,
                tables: cell.tables.get(),
            });
        }
    }
}

/// Events in the ring (oldest first) and how many were dropped, waiting for the ring at most
/// `patience` (`None`: wait as long as needed; the ring is only ever held for a copy).
pub(crate) fn recent(patience: Option<Duration>) -> Option<(Vec<Event>, u64)> {
    let (records, overwritten) = {
        let ring = match patience {
            None => RING.lock().unwrap_or_else(|e| e.into_inner()),
            Some(p) => try_lock_for(p)?,
        };
        ring.copy()
    };
    let dropped = overwritten.saturating_add(CONTENDED.load(Relaxed));
    Some((records.iter().map(to_event).collect(), dropped))
}

fn try_lock_for(patience: Duration) -> Option<MutexGuard<'static, Ring>> {
    let start = Instant::now();
    loop {
        match RING.try_lock() {
            Ok(g) => return Some(g),
            Err(TryLockError::Poisoned(e)) => return Some(e.into_inner()),
            Err(TryLockError::WouldBlock) => {}
        }
        if start.elapsed() >= patience {
            return None;
        }
        std::thread::sleep(Duration::from_micros(50));
    }
}

fn to_event(r: &Record) -> Event {
    Event {
        seq: r.seq,
        kind: r.kind,
        time_unix_nanos: CLOCK.1.saturating_add(r.mono_nanos),
        mono_nanos: r.mono_nanos,
        map_id: r.map_id,
        site: Site::new(r.site.file, r.site.line, r.site.column),
        name: r.site.name.map(str::to_owned),
        thread_id: r.thread_id,
        thread_name: r.thread_name.as_str().map(str::to_owned),
        before: r.before,
        after: r.after,
        duration_nanos: r.duration_nanos,
        lifetime: r.lifetime,
        budget: r.budget.map(|(k, limit, value)| BudgetLimit {
            limit_kind: k.to_owned(),
            limit,
            value,
        }),
        tables: (r.tables > 0).then_some(r.tables),
    }
}

/// The `tracing` form of a record: target `mapgov`, the event's fields, at DEBUG; budget
/// crossings and resizes of tables of at least 64 KiB slower than [`STALL_WARN`] at WARN.
#[cfg(feature = "tracing")]
fn emit_tracing(r: &Record) {
    if EMITTING.try_with(Cell::get).unwrap_or(true) {
        return;
    }
    let warn = r.kind == EventKind::BudgetExceeded
        || (r.kind.is_resize()
            && r.before.bytes >= STALL_MIN_BYTES as u64
            && r.duration_nanos.unwrap_or(0) > STALL_WARN.as_nanos() as u64);
    /// Clears `EMITTING` when the event is out, or when the subscriber panicked: a panic there
    /// must not silence this thread's later events.
    struct Emitted;
    impl Drop for Emitted {
        fn drop(&mut self) {
            let _ = EMITTING.try_with(|e| e.set(false));
        }
    }
    let _ = EMITTING.try_with(|e| e.set(true));
    let _emitted = Emitted;
    let site = SiteDisplay(r.site);
    let lifetime = r.lifetime;
    let budget = r.budget;
    macro_rules! emit {
        ($level:expr, $msg:expr) => {
            tracing::event!(
                target: "mapgov",
                $level,
                kind = r.kind.name(),
                map_id = r.map_id,
                site = %site,
                name = r.site.name.unwrap_or(""),
                thread_id = r.thread_id,
                thread_name = r.thread_name.as_str().unwrap_or(""),
                len_before = r.before.len,
                len_after = r.after.len,
                capacity_before = r.before.capacity,
                capacity_after = r.after.capacity,
                bytes_before = r.before.bytes,
                bytes_after = r.after.bytes,
                duration_ns = r.duration_nanos,
                age_ns = lifetime.map(|l| l.age_nanos),
                peak_len = lifetime.map(|l| l.peak_len),
                operations = lifetime.map(|l| l.operations),
                limit_kind = budget.map(|b| b.0),
                limit = budget.map(|b| b.1),
                value = budget.map(|b| b.2),
                tables = (r.tables > 0).then_some(r.tables),
                $msg
            )
        };
    }
    match r.kind {
        EventKind::BudgetExceeded => emit!(tracing::Level::WARN, "map budget exceeded"),
        k if warn => match k {
            EventKind::Grew => emit!(tracing::Level::WARN, "map grew (resize stall)"),
            EventKind::Split => emit!(tracing::Level::WARN, "map split a table (resize stall)"),
            EventKind::Shrank => emit!(tracing::Level::WARN, "map shrank (resize stall)"),
            _ => emit!(tracing::Level::WARN, "map rehashed (resize stall)"),
        },
        EventKind::Created => emit!(tracing::Level::DEBUG, "map tracked"),
        EventKind::Grew => emit!(tracing::Level::DEBUG, "map grew"),
        EventKind::Split => emit!(tracing::Level::DEBUG, "map split a table"),
        EventKind::Rehashed => emit!(tracing::Level::DEBUG, "map rehashed"),
        EventKind::Shrank => emit!(tracing::Level::DEBUG, "map shrank"),
        EventKind::Cleared => emit!(tracing::Level::DEBUG, "map cleared"),
        EventKind::Dropped => emit!(tracing::Level::DEBUG, "map dropped"),
    }
}

/// `file:line:column` of a site cell, formatted without allocating.
#[cfg(feature = "tracing")]
struct SiteDisplay(&'static SiteCell);

#[cfg(feature = "tracing")]
impl std::fmt::Display for SiteDisplay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.0.file, self.0.line, self.0.column)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_names_are_cut_at_a_char_boundary() {
        assert_eq!(ThreadName::new("main").as_str(), Some("main"));
        assert_eq!(ThreadName::new("").as_str(), None);
        let long = "é".repeat(20);
        let cut = ThreadName::new(&long);
        assert_eq!(cut.as_str(), Some("é".repeat(15).as_str()));
    }

    #[test]
    fn a_record_is_small_plain_data() {
        // The ring preallocates `MAPGOV_EVENTS` of these: the docs promise at most 256 bytes.
        let size = std::mem::size_of::<Record>();
        assert!(size <= 256, "{size}");
        fn copy<T: Copy + Send + Sync + 'static>() {}
        copy::<Record>();
    }

    #[test]
    fn thread_ids_are_read_from_their_debug_form() {
        let id = std::thread::current().id();
        let n = thread_id_number(id);
        assert!(n > 0);
        assert_eq!(format!("{id:?}"), format!("ThreadId({n})"));
    }
}
