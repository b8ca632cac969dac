//! Intentional panics, for the test binaries that make user code panic on purpose: the tag
//! that marks them, a panic hook that keeps them out of the test output, and the message a
//! caught panic carries.

// Each test binary compiles this module; not every binary uses every item.
#![allow(dead_code)]

use std::any::Any;
use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// The start of every intentional panic's message.
pub(crate) const PANIC_TAG: &str = "mapgov-test: intentional panic";

/// Installs a panic hook that passes every panic to the previous hook except the intentional
/// ones (a `String` payload starting with [`PANIC_TAG`]). Call it once per process.
pub(crate) fn hide_intentional_panics() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let intentional = info
            .payload()
            .downcast_ref::<String>()
            .is_some_and(|s| s.starts_with(PANIC_TAG));
        if !intentional {
            previous(info);
        }
    }));
}

/// The message of a caught panic: its `String` or `&str` payload, or `""` for any other.
pub(crate) fn payload_message(payload: Box<dyn Any + Send>) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

/// Counts one call against an armed countdown (0 = disarmed, n = the n-th call from now is
/// the one): whether this call is it. Never fires while the thread is already unwinding (a
/// second panic would abort the test binary).
pub(crate) fn countdown_fires(armed: &Cell<u32>) -> bool {
    if std::thread::panicking() {
        return false;
    }
    match armed.get() {
        0 => false,
        1 => {
            armed.set(0);
            true
        }
        n => {
            armed.set(n - 1);
            false
        }
    }
}

/// Runs `op`, which must panic with an intentional panic (not with any other).
pub(crate) fn expect_intentional_panic(what: &str, op: impl FnOnce()) {
    let err = catch_unwind(AssertUnwindSafe(op))
        .err()
        .unwrap_or_else(|| panic!("{what}: expected a panic"));
    let msg = payload_message(err);
    assert!(
        msg.starts_with(PANIC_TAG),
        "{what}: unexpected panic {msg:?}"
    );
}
