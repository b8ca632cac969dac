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

/// A subscriber that keeps every event it sees.
#[derive(Clone, Default)]
pub(crate) struct Capture(
    pub(crate) Arc<Mutex<Vec<Captured>>>,
    /// If set, the subscriber panics with this message on every warning, once it kept it.
    pub(crate) Option<String>,
);

impl Capture {
    /// A subscriber that keeps every event and panics with `message` on every warning.
    pub(crate) fn panicking_on_warnings(message: String) -> Capture {
        Capture(Arc::default(), Some(message))
    }
}

/// Runs `f` with `subscriber` as this thread's default subscriber.
///
/// `tracing` caches each callsite's interest for the whole process, and computes it when the
/// callsite is first reached. A test thread with no subscriber that reaches one of mapgov's
/// callsites first (the other tests of a binary run in parallel and cross budgets too) can
/// cache "never" there while only one dispatcher is registered, and a subscriber set later
/// on this thread alone would then never see that callsite's events (it happened here: one
/// of four runs of the `policy` tests). So the cache is rebuilt first, with `subscriber` in
/// force; callsites reached later compute their interest from every live dispatcher,
/// `subscriber` among them.
pub(crate) fn with_capture<T>(subscriber: Capture, f: impl FnOnce() -> T) -> T {
    tracing::subscriber::with_default(subscriber, || {
        tracing::callsite::rebuild_interest_cache();
        f()
    })
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

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }

    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}

    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}

    fn event(&self, event: &tracing::Event<'_>) {
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

    fn enter(&self, _: &tracing::span::Id) {}

    fn exit(&self, _: &tracing::span::Id) {}
}
