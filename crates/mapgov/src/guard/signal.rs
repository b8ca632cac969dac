//! The signal trigger: `signal-hook`'s iterator on a background thread.
//!
//! The signal handler that `signal-hook` installs only writes a byte to a pipe; the thread
//! `mapgov-guard-signal` wakes up, writes the dump with the settings in force, and prints one
//! line on stderr. Signals that arrive while a dump is being written are coalesced.

use std::sync::{Mutex, PoisonError};
use std::thread::JoinHandle;

use signal_hook::consts::{SIGUSR1, SIGUSR2};
use signal_hook::iterator::{Handle, Signals};

use super::document::DumpReason;
use super::hook::{self, stderr_line};
use super::{DumpError, DumpSignal};

struct Trigger {
    signal: DumpSignal,
    handle: Handle,
    thread: JoinHandle<()>,
}

static TRIGGER: Mutex<Option<Trigger>> = Mutex::new(None);

fn number(signal: DumpSignal) -> i32 {
    match signal {
        DumpSignal::Usr1 => SIGUSR1,
        DumpSignal::Usr2 => SIGUSR2,
    }
}

/// Starts, keeps or stops the trigger so that `wanted` is the one in force.
pub(crate) fn configure(wanted: Option<DumpSignal>) -> Result<(), DumpError> {
    let mut trigger = TRIGGER.lock().unwrap_or_else(PoisonError::into_inner);
    if trigger.as_ref().map(|t| t.signal) == wanted {
        return Ok(());
    }
    if let Some(old) = trigger.take() {
        // Closing ends the iterator; the thread then returns. signal-hook keeps its (now
        // empty) handler registered: the signal no longer terminates the process.
        old.handle.close();
        let _ = old.thread.join();
    }
    let Some(signal) = wanted else {
        return Ok(());
    };
    let mut signals =
        Signals::new([number(signal)]).map_err(|error| DumpError::Signal { signal, error })?;
    let handle = signals.handle();
    let thread = std::thread::Builder::new()
        .name("mapgov-guard-signal".to_owned())
        .spawn(move || {
            for _ in signals.forever() {
                let Some(settings) = hook::installed_settings() else {
                    continue;
                };
                match hook::dump_with(&settings, DumpReason::Signal, Some(signal.name()), None) {
                    Ok(path) => stderr_line(format_args!(
                        "mapgov: wrote a dump of the maps on {signal} to {}",
                        path.display()
                    )),
                    Err(e) => {
                        stderr_line(format_args!("mapgov: no dump of the maps on {signal}: {e}"))
                    }
                }
            }
        })
        .map_err(|error| {
            handle.close();
            DumpError::Signal { signal, error }
        })?;
    *trigger = Some(Trigger {
        signal,
        handle,
        thread,
    });
    Ok(())
}
