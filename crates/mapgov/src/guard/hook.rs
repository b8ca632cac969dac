//! The panic hook, the installed settings, and the limits that keep dumping from making a bad
//! situation worse.
//!
//! Facts this relies on (checked on this toolchain): the hook runs with `panic = "abort"` too;
//! a panic inside a hook aborts the process; calling `set_hook`/`take_hook` inside a hook
//! aborts; a hook that blocks on a lock the panicking thread holds never returns. So the hook
//! only uses `try_lock`-style access with a time bound, never panics (no `unwrap`, no indexing,
//! no overflowing arithmetic), and reports a failure as one line on stderr.

use std::cell::Cell;
use std::fmt;
use std::io::Write;
use std::panic::PanicHookInfo;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError, RwLock, TryLockError, Weak};
use std::time::{Duration, Instant};

use super::capture::{self, Request};
use super::document::{DumpReason, PanicRecord};
use super::{DumpError, Settings, files};
use crate::snapshot::Site;

/// How long a panic dump waits for the map registry.
const PANIC_PATIENCE: Duration = Duration::from_millis(100);
/// How long a manual or signal dump waits for it.
const CALM_PATIENCE: Duration = Duration::from_secs(1);
/// Dumps written at the same time, at most.
const MAX_IN_FLIGHT: usize = 4;
/// Panic dumps written in a burst before the rate limit applies.
const PANIC_BURST: u32 = 8;
/// Then one panic dump per this interval.
const PANIC_REFILL: Duration = Duration::from_secs(10);
/// Attempts to take the panic budget from another panicking thread before giving up.
const BUDGET_TRIES: u32 = 1000;
/// The longest panic message kept.
const MESSAGE_MAX: usize = 4096;

/// The settings in force, once installed. Written only by `install` (swapping an `Arc`); read
/// by the hook with `try_read`.
static SETTINGS: RwLock<Option<Arc<Settings>>> = RwLock::new(None);

/// Alive while our hook is installed somewhere in the hook chain: `install` chains a new hook
/// only when it is gone (never installed, or replaced and dropped by someone else).
static HOOK: Mutex<Weak<HookToken>> = Mutex::new(Weak::new());

/// Owned by our hook closure; see [`HOOK`].
#[derive(Debug)]
struct HookToken;

static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);
/// Panics that got no dump since the last dump written.
static SKIPPED: AtomicU64 = AtomicU64::new(0);
static PANIC_BUDGET: Mutex<Budget> = Mutex::new(Budget {
    tokens: PANIC_BURST,
    refilled: None,
});

struct Budget {
    tokens: u32,
    refilled: Option<Instant>,
}

thread_local! {
    /// Set while this thread runs our hook (and the hooks it chains to): a second copy of our
    /// hook further down the chain then only passes the panic on.
    static IN_HOOK: Cell<bool> = const { Cell::new(false) };
    /// Accessible until the thread's locals are destroyed: `thread::current()` panics after
    /// that, so the hook asks this first.
    static ALIVE: Alive = const { Alive };
}

struct Alive;

impl Drop for Alive {
    fn drop(&mut self) {
        // Only its registration matters: once dropped, `ALIVE.try_with` fails.
    }
}

/// Installs `settings`, and our hook if it is not in the chain.
pub(crate) fn install(settings: Settings) {
    let settings = Arc::new(settings);
    *SETTINGS.write().unwrap_or_else(PoisonError::into_inner) = Some(settings);
    let mut token = HOOK.lock().unwrap_or_else(PoisonError::into_inner);
    if token.upgrade().is_some() {
        return;
    }
    let mine = Arc::new(HookToken);
    *token = Arc::downgrade(&mine);
    let _ = ALIVE.try_with(|_| ());
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let _mine = &mine;
        let outermost = IN_HOOK.try_with(|f| !f.replace(true)).unwrap_or(false);
        if outermost {
            on_panic(info);
        }
        previous(info);
        if outermost {
            let _ = IN_HOOK.try_with(|f| f.set(false));
        }
    }));
}

/// The installed settings, if any (waits a bounded time for an `install` in progress).
pub(crate) fn installed_settings() -> Option<Arc<Settings>> {
    for _ in 0..1000 {
        match SETTINGS.try_read() {
            Ok(s) => return s.clone(),
            Err(TryLockError::Poisoned(p)) => return p.into_inner().clone(),
            Err(TryLockError::WouldBlock) => std::thread::yield_now(),
        }
    }
    None
}

fn on_panic(info: &PanicHookInfo<'_>) {
    let result = match installed_settings() {
        Some(settings) => panic_dump(&settings, info),
        None => Err(DumpError::Busy),
    };
    match result {
        Ok(path) => stderr_line(format_args!(
            "mapgov: wrote a dump of the maps at this panic to {}",
            path.display()
        )),
        Err(e) => {
            SKIPPED.fetch_add(1, Relaxed);
            stderr_line(format_args!(
                "mapgov: no dump of the maps at this panic: {e}"
            ));
        }
    }
}

fn panic_dump(settings: &Settings, info: &PanicHookInfo<'_>) -> Result<PathBuf, DumpError> {
    if !take_panic_token() {
        return Err(DumpError::RateLimited);
    }
    let panic = PanicRecord {
        message: capture::bounded(info.payload_as_str().unwrap_or("Box<dyn Any>"), MESSAGE_MAX),
        location: info
            .location()
            .map(|l| Site::new(l.file(), l.line(), l.column())),
        thread: thread_name(),
        thread_id: thread_id(),
    };
    dump(
        settings,
        DumpReason::Panic,
        None,
        Some(panic),
        PANIC_PATIENCE,
    )
}

/// Writes a dump outside a panic (manual, signal).
pub(crate) fn dump_with(
    settings: &Settings,
    reason: DumpReason,
    note: Option<&str>,
    panic: Option<PanicRecord>,
) -> Result<PathBuf, DumpError> {
    dump(settings, reason, note, panic, CALM_PATIENCE)
}

fn dump(
    settings: &Settings,
    reason: DumpReason,
    note: Option<&str>,
    panic: Option<PanicRecord>,
    patience: Duration,
) -> Result<PathBuf, DumpError> {
    let _slot = InFlight::enter().ok_or(DumpError::Busy)?;
    let panics_skipped = SKIPPED.swap(0, Relaxed);
    let mut doc = capture::capture(
        settings,
        Request {
            reason,
            note,
            panic,
            patience,
            panics_skipped,
        },
    );
    let bytes = capture::render(&mut doc, settings.max_bytes);
    let written = files::write_new(&settings.dir, &doc.program, doc.time_unix_ms, &bytes);
    match &written {
        Ok(_) => files::prune(&settings.dir, &doc.program, settings.retention),
        // The skipped panics were not recorded after all.
        Err(_) => {
            SKIPPED.fetch_add(panics_skipped, Relaxed);
        }
    }
    written
}

/// A slot among the dumps being written; freed on drop.
struct InFlight;

impl InFlight {
    fn enter() -> Option<InFlight> {
        IN_FLIGHT
            .fetch_update(Relaxed, Relaxed, |n| (n < MAX_IN_FLIGHT).then_some(n + 1))
            .ok()
            .map(|_| InFlight)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        IN_FLIGHT.fetch_sub(1, Relaxed);
    }
}

/// Whether the panic rate limit lets this panic write a dump. The budget is held for a few
/// instructions at a time, so a thread that finds it taken yields and tries again; one that
/// still cannot get it (a crowd of panicking threads on a loaded machine) writes no dump, so
/// the limit is never exceeded. It never blocks indefinitely (the holder may be a thread that
/// cannot run): at most [`BUDGET_TRIES`] yields.
fn take_panic_token() -> bool {
    let mut tries = 0;
    let mut budget = loop {
        match PANIC_BUDGET.try_lock() {
            Ok(b) => break b,
            Err(TryLockError::Poisoned(p)) => break p.into_inner(),
            Err(TryLockError::WouldBlock) if tries < BUDGET_TRIES => {
                tries += 1;
                std::thread::yield_now();
            }
            Err(TryLockError::WouldBlock) => return false,
        }
    };
    let now = Instant::now();
    match budget.refilled {
        None => budget.refilled = Some(now),
        Some(at) => {
            let earned = now.saturating_duration_since(at).as_secs() / PANIC_REFILL.as_secs();
            if earned > 0 {
                let earned = u32::try_from(earned).unwrap_or(u32::MAX);
                budget.tokens = budget.tokens.saturating_add(earned).min(PANIC_BURST);
                budget.refilled = Some(now);
            }
        }
    }
    if budget.tokens == 0 {
        return false;
    }
    budget.tokens -= 1;
    true
}

fn thread_name() -> Option<String> {
    ALIVE.try_with(|_| ()).ok()?;
    std::thread::current().name().map(str::to_owned)
}

fn thread_id() -> Option<String> {
    ALIVE.try_with(|_| ()).ok()?;
    Some(format!("{:?}", std::thread::current().id()))
}

/// One line on stderr; a failure to write it is ignored (never a panic, unlike `eprintln!`).
pub(crate) fn stderr_line(args: fmt::Arguments<'_>) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_fmt(args);
    let _ = err.write_all(b"\n");
}
