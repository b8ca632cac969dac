//! A `tracing` subscriber that keeps every event it sees, for the test binaries that check
//! mapgov's `tracing` events.

// Each test binary compiles this module; not every binary uses every item.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};

/// One event as the subscriber saw it.
#[derive(Debug)]
pub(crate) struct Captured {
    pub(crate) target: String,
    pub(crate) level: tracing::Level,
    pub(crate) fields: BTreeMap<String, String>,
}

/// What a capturing test keeps: every event its thread emits (see [`with_capture`]).
#[derive(Clone, Default)]
pub(crate) struct Capture(
    pub(crate) Arc<Mutex<Vec<Captured>>>,
    /// If set, the subscriber panics with this message on every warning, once it kept it.
    pub(crate) Option<String>,
);

impl Capture {
    /// A capture that keeps every event and panics with `message` on every warning.
    pub(crate) fn panicking_on_warnings(message: String) -> Capture {
        Capture(Arc::default(), Some(message))
    }
}

/// Runs `f` with `subscriber` receiving this thread's events.
///
/// `tracing` caches each callsite's interest for the whole process. With only thread-local
/// subscribers (`with_default`), a parallel test thread with no subscriber that reaches one of
/// mapgov's callsites first can cache "never" there, and a capture on another thread then
/// misses that callsite's events (it happened: one of four runs of the `policy` tests, and
/// again after rebuilding the cache, which a registration finishing late can overwrite). So
/// every thread's events go through one global subscriber, [`Router`], that tells `tracing`
/// to ask it on every event, and hands each event to the capture set on the emitting thread.
pub(crate) fn with_capture<T>(subscriber: Capture, f: impl FnOnce() -> T) -> T {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        tracing::subscriber::set_global_default(Router)
            .expect("no other global subscriber in the test binaries that capture events");
    });
    /// Clears this thread's capture, also when `f` or the capture panics.
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            CURRENT.with(|c| *c.borrow_mut() = None);
        }
    }
    CURRENT.with(|c| *c.borrow_mut() = Some(subscriber));
    let _reset = Reset;
    f()
}

thread_local! {
    /// The capture of this thread's events, if any.
    static CURRENT: std::cell::RefCell<Option<Capture>> = const { std::cell::RefCell::new(None) };
}

/// The global subscriber of the capturing test binaries: every callsite is of interest
/// "sometimes", so `tracing` asks [`Router::enabled`] on each event, which is true on a thread
/// with a capture.
struct Router;

impl Router {
    /// This thread's capture (a clone, so that no borrow is held while it runs and may panic).
    fn current() -> Option<Capture> {
        CURRENT.with(|c| c.borrow().clone())
    }
}

impl tracing::Subscriber for Router {
    fn register_callsite(
        &self,
        _: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        tracing::subscriber::Interest::sometimes()
    }

    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        CURRENT.with(|c| c.borrow().is_some())
    }

    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }

    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}

    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}

    fn event(&self, event: &tracing::Event<'_>) {
        if let Some(capture) = Router::current() {
            capture.keep(event);
        }
    }

    fn enter(&self, _: &tracing::span::Id) {}

    fn exit(&self, _: &tracing::span::Id) {}
}

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }

    fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
        self.0.insert(field.name().to_owned(), value.to_string());
    }
}

impl Capture {
    /// Keeps `event` (and panics on a warning if told to).
    fn keep(&self, event: &tracing::Event<'_>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        let level = *event.metadata().level();
        self.0.lock().unwrap().push(Captured {
            target: event.metadata().target().to_owned(),
            level,
            fields,
        });
        if let Some(message) = self.1.as_ref().filter(|_| level == tracing::Level::WARN) {
            panic!("{message}");
        }
    }
}
