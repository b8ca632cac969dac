//! Opt-in key samples: the only way keys reach a dump.

use std::collections::VecDeque;
use std::fmt::{self, Write as _};
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError, TryLockError, Weak};
use std::time::{Duration, Instant};

use super::document::KeySampleRecord;

/// The most keys one sample keeps.
pub const MAX_SAMPLE_KEYS: usize = 64;
/// The longest key kept, in bytes of its redacted `Debug` string.
pub const MAX_KEY_BYTES: usize = 256;

/// Every live sample, for dumps to read.
static SAMPLES: Mutex<Vec<Weak<Ring>>> = Mutex::new(Vec::new());

struct Ring {
    name: String,
    capacity: usize,
    recorded: AtomicU64,
    keys: Mutex<VecDeque<String>>,
}

type Redact = Box<dyn Fn(&str) -> String + Send + Sync>;

/// A small sample of recent keys, kept as redacted `Debug` strings, that dumps include: the
/// one, explicit, way a key can reach a dump.
///
/// Dumps hold no keys or values by default. When knowing *which* keys a map held helps (which
/// tenant filled the cache?), a program can keep the last few keys it inserts, passing each
/// through a redaction function of its choice, and every dump then shows them under
/// `key_samples` with the sample's name. Keys are redacted when recorded, on the recording
/// thread, so the panic hook never runs program code.
///
/// **Cost.** Each [`record`](KeySample::record) formats the key with `Debug` (at most 1 KiB is
/// formatted), calls the redaction function, and pushes the result into a small ring under an
/// uncontended mutex: a few hundred nanoseconds and one allocation per recorded key, which is
/// why sampling is opt-in and per map, and why a busy map should record only some of its
/// inserts. The memory is `capacity` strings of at most 256 bytes.
///
/// Today a program calls `record` itself next to its inserts. (A governed map may later offer
/// `.sample_keys(capacity, redact)` to record its own inserts; the dump side is this type.)
///
/// # Examples
///
/// ```
/// use mapgov::guard::KeySample;
///
/// // Keep the last 8 session ids, with all but their first 4 characters masked.
/// let sample = KeySample::new("sessions", 8, |debug: &str| {
///     debug.chars().enumerate().map(|(i, c)| if i < 5 { c } else { '*' }).collect()
/// });
/// let mut sessions = mapgov::HashMap::new().named("sessions");
/// let id = "sess-8c1f2d77".to_owned();
/// sample.record(&id);
/// sessions.insert(id, 42);
/// assert_eq!(sample.keys(), ["\"sess**********"]);
/// ```
pub struct KeySample<K: ?Sized> {
    ring: Arc<Ring>,
    redact: Redact,
    _key: PhantomData<fn(&K)>,
}

impl<K: ?Sized> fmt::Debug for KeySample<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeySample")
            .field("name", &self.ring.name)
            .field("capacity", &self.ring.capacity)
            .field("recorded", &self.ring.recorded.load(Relaxed))
            .finish_non_exhaustive()
    }
}

impl<K: fmt::Debug + ?Sized> KeySample<K> {
    /// A sample named `name` (by convention the map's name) keeping the last `capacity` keys
    /// (1 to 64; clamped), each as `redact` returns its `Debug` string.
    pub fn new(
        name: &str,
        capacity: usize,
        redact: impl Fn(&str) -> String + Send + Sync + 'static,
    ) -> KeySample<K> {
        let capacity = capacity.clamp(1, MAX_SAMPLE_KEYS);
        let ring = Arc::new(Ring {
            name: name.to_owned(),
            capacity,
            recorded: AtomicU64::new(0),
            keys: Mutex::new(VecDeque::with_capacity(capacity)),
        });
        let mut all = SAMPLES.lock().unwrap_or_else(PoisonError::into_inner);
        all.retain(|w| w.strong_count() > 0);
        all.push(Arc::downgrade(&ring));
        KeySample {
            ring,
            redact: Box::new(redact),
            _key: PhantomData,
        }
    }

    /// Records `key`: its `Debug` string (cut at 1 KiB), redacted, cut at 256 bytes.
    ///
    /// # Panics
    ///
    /// If the key's `Debug` or the redaction function panics (the sample is left as it was).
    pub fn record(&self, key: &K) {
        let mut debug = Capped(String::new());
        // An error only means the key was cut at the cap.
        let _ = write!(debug, "{key:?}");
        let redacted = super::capture::bounded(&(self.redact)(&debug.0), MAX_KEY_BYTES);
        let mut keys = self
            .ring
            .keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if keys.len() >= self.ring.capacity {
            keys.pop_front();
        }
        keys.push_back(redacted);
        drop(keys);
        self.ring.recorded.fetch_add(1, Relaxed);
    }

    /// The keys a dump would show now, oldest first.
    pub fn keys(&self) -> Vec<String> {
        let keys = self
            .ring
            .keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        keys.iter().cloned().collect()
    }
}

/// A `Debug` sink that stops after 1 KiB.
struct Capped(String);

impl fmt::Write for Capped {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = 1024usize.saturating_sub(self.0.len());
        if s.len() <= room {
            self.0.push_str(s);
            return Ok(());
        }
        let mut end = room;
        while end > 0 && !s.is_char_boundary(end) {
            end -= 1;
        }
        self.0.push_str(s.get(..end).unwrap_or_default());
        self.0.push('…');
        Err(fmt::Error)
    }
}

/// Copies every live sample, trying each lock until `patience` has passed; what could not be
/// read is named in `partial`.
pub(crate) fn collect(patience: Duration, partial: &mut Vec<String>) -> Vec<KeySampleRecord> {
    let deadline = Instant::now() + patience;
    let Some(all) = try_lock_until(&SAMPLES, deadline) else {
        partial.push("the key samples were busy: none are included".to_owned());
        return Vec::new();
    };
    let rings: Vec<Arc<Ring>> = all.iter().filter_map(Weak::upgrade).collect();
    drop(all);
    let mut out = Vec::with_capacity(rings.len());
    for ring in rings {
        match try_lock_until(&ring.keys, deadline) {
            Some(keys) => out.push(KeySampleRecord {
                name: ring.name.clone(),
                capacity: ring.capacity as u64,
                recorded: ring.recorded.load(Relaxed),
                keys: keys.iter().cloned().collect(),
            }),
            None => partial.push(format!(
                "the key sample {:?} was busy: it is not included",
                ring.name
            )),
        }
    }
    out
}

fn try_lock_until<T>(m: &Mutex<T>, deadline: Instant) -> Option<std::sync::MutexGuard<'_, T>> {
    loop {
        match m.try_lock() {
            Ok(g) => return Some(g),
            Err(TryLockError::Poisoned(p)) => return Some(p.into_inner()),
            Err(TryLockError::WouldBlock) => {
                if Instant::now() >= deadline {
                    return None;
                }
                std::thread::yield_now();
            }
        }
    }
}
