//! [`SmallFloor`]: the least bookkeeping a map can do and still keep its creation site's totals
//! exact, as a [`BenchMap`], so that the `small_lifecycle` example can time it in `mapbench`'s
//! own small-map loop ([`small_lifecycles`](crate::small_lifecycles)) beside hashbrown's map and
//! mapgov's.

use std::cell::Cell;
use std::hint::black_box;
use std::panic::Location;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::Relaxed;

use crate::maps::{BenchHasher, BenchMap};

/// hashbrown's map with the least bookkeeping that keeps its creation site's totals exact: the
/// site (a `Location`), the table bytes last published and an 8-bit insert counter in the map;
/// a publish to a per-thread slot when the table is first allocated, when it grows, when the
/// counter is about to overflow and when the map is dropped.
///
/// mapgov's small maps do this and more: removes, updates and the peak length, sites told apart
/// by their entry layout too, the entries each site holds, and flushing to the process's
/// registry. So a map that accounts for every small map pays at least this floor.
///
/// It lives in this library, not in the example that times it, so that its thread-local
/// slots are reached as a library reaches them (through the general-dynamic TLS model, as
/// mapgov's are), not as an executable does.
///
/// Only the small-map lifecycle (create, insert, drop) is measured: [`put`](BenchMap::put) and
/// the drop do the floor's bookkeeping. The other operations are hashbrown's own and publish
/// nothing, so a table they allocate or grow is not accounted for: do not time them.
///
/// # Examples
///
/// ```
/// use mapgov_bench::{BenchMap, SmallFloor};
///
/// let mut m: SmallFloor<std::hash::RandomState> = SmallFloor::new();
/// assert!(m.put(1, 10));
/// assert_eq!(m.find(1), Some(10));
/// ```
#[derive(Debug)]
pub struct SmallFloor<S> {
    map: hashbrown::HashMap<u64, u64, S>,
    site: &'static Location<'static>,
    bytes: usize,
    inserts: u8,
}

impl<S: BenchHasher> SmallFloor<S> {
    /// An empty map, created at the caller's location.
    #[track_caller]
    #[inline]
    pub fn new() -> Self {
        SmallFloor {
            map: hashbrown::HashMap::with_hasher(S::default()),
            site: Location::caller(),
            bytes: 0,
            inserts: 0,
        }
    }

    /// Inserts `k`, counting a new key; returns whether it was new.
    #[inline(always)]
    pub fn insert(&mut self, k: u64, v: u64) -> bool {
        if self.map.len() == self.map.capacity() {
            self.grow();
        }
        let new = self.map.insert(k, v).is_none();
        if new {
            self.inserts += 1;
            if self.inserts == u8::MAX {
                publish(self.site, 0, 0, 0, self.inserts);
                self.inserts = 0;
            }
        }
        new
    }

    /// Grows the full table and publishes its new bytes (and its creation, if it is the first).
    #[cold]
    #[inline(never)]
    fn grow(&mut self) {
        self.map.reserve(1);
        let bytes = self.map.allocation_size();
        let created = i64::from(self.bytes == 0);
        publish(
            self.site,
            created,
            0,
            bytes as i64 - self.bytes as i64,
            self.inserts,
        );
        (self.bytes, self.inserts) = (bytes, 0);
    }
}

impl<S: BenchHasher> Default for SmallFloor<S> {
    #[track_caller]
    fn default() -> Self {
        SmallFloor::new()
    }
}

impl<S> Drop for SmallFloor<S> {
    #[inline]
    fn drop(&mut self) {
        if self.bytes != 0 {
            publish(self.site, 0, 1, -(self.bytes as i64), self.inserts);
        }
    }
}

/// A site's pending changes on this thread.
#[derive(Clone, Copy, Default)]
struct Pending {
    site: usize,
    created: i64,
    dropped: i64,
    bytes: i64,
    inserts: i64,
}

/// Slots of [`SLOTS`].
const SLOTS_PER_THREAD: usize = 8;

thread_local! {
    static SLOTS: [Cell<Pending>; SLOTS_PER_THREAD] = const {
        [const {
            Cell::new(Pending { site: 0, created: 0, dropped: 0, bytes: 0, inserts: 0 })
        }; SLOTS_PER_THREAD]
    };
    static EVENTS: Cell<u32> = const { Cell::new(0) };
}

/// Adds a change to the thread's slot for `site` (direct-mapped by address; a site that finds
/// its slot taken would send the other site's changes on first: here they are simply dropped,
/// which costs nothing in a loop with one site).
#[inline(never)]
fn publish(site: &'static Location<'static>, created: i64, dropped: i64, bytes: i64, inserts: u8) {
    let addr = site as *const Location<'static> as usize;
    SLOTS.with(|slots| {
        let slot = &slots[(addr >> 4) % SLOTS_PER_THREAD];
        let mut p = slot.get();
        if p.site != addr {
            p = Pending {
                site: addr,
                ..Pending::default()
            };
        }
        p.created += created;
        p.dropped += dropped;
        p.bytes += bytes;
        p.inserts += i64::from(inserts);
        slot.set(p);
    });
    // Counts events towards a flush (every 256), as a real batch must.
    EVENTS.with(|e| {
        let n = e.get() + 1;
        e.set(if n == 256 { black_box(0) } else { n });
    });
}

impl<S: BenchHasher> BenchMap<S> for SmallFloor<S> {
    #[inline(always)]
    fn new_map() -> Self {
        SmallFloor::new()
    }
    #[inline(always)]
    fn put(&mut self, k: u64, v: u64) -> bool {
        self.insert(k, v)
    }
    #[inline(always)]
    fn find(&self, k: u64) -> Option<u64> {
        self.map.find(k)
    }
    #[inline(always)]
    fn take(&mut self, k: u64) -> Option<u64> {
        self.map.take(k)
    }
    #[inline(always)]
    fn upsert(&mut self, k: u64) {
        self.map.upsert(k);
    }
    #[inline(always)]
    fn fold_all(&self) -> u64 {
        self.map.fold_all()
    }
    #[inline(always)]
    fn wipe(&mut self) {
        self.map.wipe();
    }
    #[inline(always)]
    fn size(&self) -> usize {
        self.map.size()
    }
}

/// Whether new [`SwitchFloor`] maps take their governed path. Nothing in the benchmarks sets
/// it; each map reads it when created, through `black_box`, so the compiler cannot fold the
/// maps' tests away (not even with link-time optimisation, which could prove it constant).
static SWITCH_ON: AtomicBool = AtomicBool::new(false);

/// hashbrown's map behind the least a run-time off switch costs: one test of a flag the map
/// holds, in every operation, before a call that is never made while the switch is off.
///
/// `MAPGOV=off` is decided while the process runs, so whatever a map does when it is on, each
/// operation must at least test whether it is and branch around the governed path, which has
/// to be an out-of-line call the compiler cannot see through (here it takes the operation's
/// outcome, as a counting path would, and only reads the map: a governed path that may change
/// the table can only cost more). mapgov's maps test their handle, a byte in the map, in the
/// same place. Timed with governance off, this map is the floor of the `MAPGOV=off` targets:
/// where mapgov's map misses a target this map meets, the miss is not the price of a switch,
/// in that loop. Its ratio carries the harness's error like any other (the row's A/A
/// shows how much), so a floor a percent or two above a target is not proof that the target
/// is out of reach.
///
/// Where a loop works on one map through a shared reference, the flag cannot change during
/// the loop, and the compiler may test it once before the loop and run a copy of the loop
/// with no test in it (loop unswitching). On the build measured, `mapbench`'s lookup loops got
/// that copy for this map (small changes to a loop's source decide it). A map can meet a target
/// that way too; the test is then paid once per loop, not per operation.
///
/// # Examples
///
/// ```
/// use mapgov_bench::{BenchMap, SwitchFloor};
///
/// let mut m: SwitchFloor<std::hash::RandomState> = BenchMap::new_map();
/// assert!(m.put(1, 10));
/// m.upsert(1);
/// assert_eq!(m.find(1), Some(11));
/// ```
#[derive(Debug)]
pub struct SwitchFloor<S> {
    map: hashbrown::HashMap<u64, u64, S>,
    on: bool,
}

impl<S> SwitchFloor<S> {
    /// The governed path: out of line and opaque, so the compiler must assume it reads and
    /// writes anything; passed what a counting path needs of the operation.
    #[cold]
    #[inline(never)]
    fn governed(&self, what: u64) {
        black_box((&self.map, what));
    }
}

impl<S: BenchHasher> BenchMap<S> for SwitchFloor<S> {
    #[inline(always)]
    fn new_map() -> Self {
        SwitchFloor {
            map: BenchMap::new_map(),
            on: black_box(SWITCH_ON.load(Relaxed)),
        }
    }
    #[inline(always)]
    fn put(&mut self, k: u64, v: u64) -> bool {
        let new = self.map.put(k, v);
        if self.on {
            self.governed(u64::from(new));
        }
        new
    }
    #[inline(always)]
    fn find(&self, k: u64) -> Option<u64> {
        let r = self.map.find(k);
        if self.on {
            self.governed(u64::from(r.is_some()));
        }
        r
    }
    #[inline(always)]
    fn take(&mut self, k: u64) -> Option<u64> {
        let r = self.map.take(k);
        if self.on {
            self.governed(u64::from(r.is_some()));
        }
        r
    }
    #[inline(always)]
    fn upsert(&mut self, k: u64) {
        self.map.upsert(k);
        if self.on {
            self.governed(k);
        }
    }
    #[inline(always)]
    fn fold_all(&self) -> u64 {
        let r = self.map.fold_all();
        if self.on {
            self.governed(r);
        }
        r
    }
    #[inline(always)]
    fn wipe(&mut self) {
        self.map.wipe();
        if self.on {
            self.governed(0);
        }
    }
    #[inline(always)]
    fn size(&self) -> usize {
        self.map.size()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switch_floor_behaves_as_hashbrowns_map_with_its_governed_path_taken_too() {
        // The governed path only reads: switched on, every operation still does what
        // hashbrown's does. (Other tests creating a floor meanwhile would take it too, which
        // changes nothing they see.)
        SWITCH_ON.store(true, Relaxed);
        let mut m: SwitchFloor<std::hash::RandomState> = BenchMap::new_map();
        SWITCH_ON.store(false, Relaxed);
        assert!(m.on);
        assert!(m.put(7, 1));
        assert!(!m.put(7, 2));
        m.upsert(7);
        m.upsert(8);
        assert_eq!((m.find(7), m.find(8), m.find(9)), (Some(3), Some(1), None));
        assert_eq!(m.fold_all(), 7u64.wrapping_add(3) ^ 8u64.wrapping_add(1));
        assert_eq!(m.take(8), Some(1));
        m.wipe();
        assert_eq!(m.size(), 0);
        let off: SwitchFloor<std::hash::RandomState> = BenchMap::new_map();
        assert!(!off.on);
    }

    #[test]
    fn put_find_and_take_behave_as_hashbrowns() {
        let mut m: SmallFloor<std::hash::RandomState> = SmallFloor::new();
        for k in 0..300 {
            assert!(m.put(k, k * 2));
        }
        assert!(!m.put(7, 1));
        assert_eq!(m.find(7), Some(1));
        assert_eq!(m.size(), 300);
        assert_eq!(m.take(7), Some(1));
        assert_eq!(m.find(7), None);
    }

    /// This thread's pending (created, dropped, bytes, inserts), summed over its slots.
    fn pending() -> (i64, i64, i64, i64) {
        SLOTS.with(|slots| {
            slots
                .iter()
                .map(Cell::get)
                .filter(|p| p.site != 0)
                .fold((0, 0, 0, 0), |a, p| {
                    (
                        a.0 + p.created,
                        a.1 + p.dropped,
                        a.2 + p.bytes,
                        a.3 + p.inserts,
                    )
                })
        })
    }

    #[test]
    fn floor_map_publishes_its_bytes_and_returns_them_on_drop() {
        let before = pending();
        let mut m: SmallFloor<std::hash::RandomState> = SmallFloor::new();
        for k in 0..4 {
            m.put(k, k);
        }
        let live = pending();
        assert_eq!(live.0 - before.0, 1, "one map created");
        assert_eq!(
            live.2 - before.2,
            m.map.allocation_size() as i64,
            "its table's bytes published"
        );
        drop(m);
        let after = pending();
        assert_eq!(after.1 - before.1, 1, "one map dropped");
        assert_eq!(after.2, before.2, "its bytes returned");
    }

    #[test]
    fn floor_map_counts_every_new_key_once() {
        // 1000 keys: between the growths at 448 and 896 entries the 8-bit counter fills, so
        // its overflow publish runs too (without it, the counter would overflow and panic).
        let before = pending();
        let mut m: SmallFloor<std::hash::RandomState> = SmallFloor::new();
        for k in 0..1000 {
            m.put(k, k);
        }
        m.put(5, 0); // an update: not counted
        let published = pending().3 - before.3;
        assert_eq!(
            published + i64::from(m.inserts),
            1000,
            "published or still held"
        );
        drop(m);
        assert_eq!(pending().3 - before.3, 1000, "all published once dropped");
    }
}
