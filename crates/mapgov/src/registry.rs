//! The process-global registry: interned creation sites and individually tracked maps.
//!
//! Only the cold path comes here: a map's first allocation (site lookup, through a per-thread
//! cache), a map becoming tracked, a tracked map's drop, and snapshots. The lock is never taken
//! by an ordinary map operation.

use std::cell::Cell;
use std::collections::HashMap as StdMap;
use std::panic::Location;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};
use std::time::Instant;

use crate::batch::{self, SiteDelta};
use crate::stats::{MapCell, SiteCell};

#[derive(Clone, PartialEq, Eq, Hash)]
struct SiteKey {
    file: &'static str,
    line: u32,
    column: u32,
    name: Option<&'static str>,
}

#[derive(Default)]
pub(crate) struct Registry {
    pub(crate) sites: Vec<&'static SiteCell>,
    index: StdMap<SiteKey, &'static SiteCell>,
    names: StdMap<Box<str>, &'static str>,
    files: StdMap<Box<str>, &'static str>,
    /// Tracked maps; `None` marks a free slot.
    pub(crate) maps: Vec<Option<Arc<MapCell>>>,
    free: Vec<usize>,
    /// Small-map sites by (site address, entry size, entry alignment).
    small_sites: StdMap<(usize, usize, usize), &'static SmallSite>,
}

/// `log2` of the bucket count that stands for "no table" in a small map's handle and in
/// [`SmallSite::table_bytes`] (whose entry there is 0).
pub(crate) const NO_TABLE: u8 = 17;

/// A site as a small map without a stats cell sees it: the site, and what the map needs to
/// know of its own tables (a site is a source location, shared by maps of every type created
/// there; a small map needs its entries' layout to know its table's bytes from its bucket
/// count). Built once per site and layout; the configuration it reads never changes.
#[derive(Debug)]
pub(crate) struct SmallSite {
    pub(crate) site: &'static SiteCell,
    /// The bytes of a table of `2^log` buckets of the site's entries, for `log` below
    /// [`NO_TABLE`]; 0 at `NO_TABLE`.
    table_bytes: [usize; NO_TABLE as usize + 1],
    /// Bit `log` is set if a map whose table has `2^log` buckets stays small under the
    /// configuration (bit [`NO_TABLE`]: a map with no table).
    small_tables: u32,
    /// For each `log`, the capacity a tombstone-free table of `2^log` buckets has if its
    /// growth is plain: untimed, to a table of twice the buckets that keeps the map small.
    /// `usize::MAX` (no table's capacity) otherwise.
    plain_growth_capacity: [usize; NO_TABLE as usize + 1],
}

impl SmallSite {
    fn new(site: &'static SiteCell, entry_size: usize, entry_align: usize) -> SmallSite {
        let mut table_bytes = [0; NO_TABLE as usize + 1];
        let mut small_tables = u32::from(crate::gov::stays_small(0, 0)) << NO_TABLE;
        let mut timed_tables = 0u32;
        for log in 0..NO_TABLE {
            // A size past `usize` (huge entries on a 32-bit target) is `usize::MAX`: never
            // small, never matched.
            let bytes = crate::stats::table_bytes_for_buckets(1 << log, entry_size, entry_align);
            table_bytes[usize::from(log)] = bytes;
            let capacity = SmallSite::full_capacity(log);
            small_tables |= u32::from(crate::gov::stays_small(bytes, capacity)) << log;
            timed_tables |= u32::from(crate::gov::timer_would_run(bytes)) << log;
        }
        let mut plain_growth_capacity = [usize::MAX; NO_TABLE as usize + 1];
        for log in 0..NO_TABLE - 1 {
            let untimed = timed_tables >> log & 1 == 0;
            if untimed && small_tables >> (log + 1) & 1 != 0 {
                plain_growth_capacity[usize::from(log)] = SmallSite::full_capacity(log);
            }
        }
        SmallSite {
            site,
            table_bytes,
            small_tables,
            plain_growth_capacity,
        }
    }

    /// The capacity of a tombstone-free table of `2^log` buckets whose growth is plain:
    /// untimed, to a table of `2^(log + 1)` buckets that keeps the map small. `usize::MAX`
    /// (no table's capacity) if its growth is not plain, or for [`NO_TABLE`].
    #[inline(always)]
    pub(crate) fn plain_growth_capacity(&self, log: u8) -> usize {
        self.plain_growth_capacity[usize::from(log.min(NO_TABLE))]
    }

    /// hashbrown's capacity of a table of `2^log` buckets without tombstones (0 for
    /// [`NO_TABLE`]).
    #[inline(always)]
    pub(crate) fn full_capacity(log: u8) -> usize {
        if log >= NO_TABLE {
            return 0;
        }
        let buckets = 1usize << log;
        if buckets <= 8 {
            buckets - 1
        } else {
            buckets / 8 * 7
        }
    }

    /// The bytes of a table of `2^log` buckets (0 for [`NO_TABLE`]).
    #[inline(always)]
    pub(crate) fn table_bytes(&self, log: u8) -> usize {
        self.table_bytes[usize::from(log.min(NO_TABLE))]
    }

    /// Whether a map whose table has `2^log` buckets ([`NO_TABLE`]: none) stays small.
    #[inline(always)]
    pub(crate) fn keeps_small(&self, log: u8) -> bool {
        log <= NO_TABLE && self.small_tables >> log & 1 != 0
    }

    /// The `log2` of the bucket count of this site's table of `bytes` ([`NO_TABLE`] for 0), if
    /// one of at most 2^16 buckets has that size; `capacity` (a fresh table's) says which to
    /// try first.
    #[inline(always)]
    pub(crate) fn buckets_log2(&self, bytes: usize, capacity: usize) -> Option<u8> {
        if bytes == 0 {
            return Some(NO_TABLE);
        }
        // hashbrown's capacity is `buckets - 1` up to 8 buckets and 7/8 of them above.
        let buckets = if capacity < 8 {
            capacity + 1
        } else {
            capacity / 7 * 8
        };
        let log = buckets.trailing_zeros().min(u32::from(NO_TABLE)) as u8;
        // Bytes grow with the bucket count: equal bytes is the same table.
        if self.table_bytes(log) == bytes {
            Some(log)
        } else {
            (0..NO_TABLE).find(|&log| self.table_bytes(log) == bytes)
        }
    }
}

static REGISTRY: LazyLock<Mutex<Registry>> = LazyLock::new(Mutex::default);
static NEXT_ID: AtomicU64 = AtomicU64::new(1);
pub(crate) static START: LazyLock<Instant> = LazyLock::new(Instant::now);

/// Locks the registry. A panic while it was held cannot leave it inconsistent (every update is
/// a single push or store), so poisoning is ignored.
pub(crate) fn lock() -> MutexGuard<'static, Registry> {
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

/// Locks the registry if no other holder has it; never blocks (for the panic hook, whose
/// thread may be the holder). Poisoning is ignored as in [`lock`].
#[cfg(feature = "guard")]
pub(crate) fn try_lock() -> Option<MutexGuard<'static, Registry>> {
    match REGISTRY.try_lock() {
        Ok(guard) => Some(guard),
        Err(std::sync::TryLockError::Poisoned(e)) => Some(e.into_inner()),
        Err(std::sync::TryLockError::WouldBlock) => None,
    }
}

impl Registry {
    fn intern_name(&mut self, name: &str) -> &'static str {
        if let Some(n) = self.names.get(name) {
            return n;
        }
        let leaked: &'static str = Box::leak(name.into());
        self.names.insert(name.into(), leaked);
        leaked
    }

    fn intern_file(&mut self, file: &str) -> &'static str {
        if let Some(n) = self.files.get(file) {
            return n;
        }
        let leaked: &'static str = Box::leak(file.into());
        self.files.insert(file.into(), leaked);
        leaked
    }

    /// The site cell for a location and name, created on first use (and never freed: sites are
    /// bounded by the program's code, and their totals outlive their maps).
    #[allow(clippy::too_many_arguments)] // internal; every argument is a distinct site field
    fn site(
        &mut self,
        file: &'static str,
        line: u32,
        column: u32,
        name: Option<&'static str>,
        resolved: bool,
        key_type: &'static str,
        value_type: &'static str,
    ) -> &'static SiteCell {
        let key = SiteKey {
            file,
            line,
            column,
            name,
        };
        if let Some(site) = self.index.get(&key) {
            return site;
        }
        let site: &'static SiteCell = Box::leak(Box::new(SiteCell::new(
            file, line, column, name, resolved, key_type, value_type,
        )));
        self.index.insert(key, site);
        self.sites.push(site);
        site
    }
}

const SITE_CACHE: usize = 64;

thread_local! {
    /// Direct-mapped cache from a `Location`'s address to its unnamed site.
    static SITE_CACHE_SLOTS: [Cell<(usize, Option<&'static SiteCell>)>; SITE_CACHE] =
        const { [const { Cell::new((0, None)) }; SITE_CACHE] };
}

/// What a small map's first allocation needs to find its [`SmallSite`]: its entries' layout
/// (the key of the per-thread cache, with the creation site, see [`batch::start_small`]) and
/// the lookup to run when the cache misses.
#[derive(Clone, Copy)]
pub(crate) struct SmallKind {
    /// The entries' size and alignment, packed: `size << 8 | log2(align)`.
    pub(crate) layout: usize,
    /// The site of a location with this layout, looked up under the registry lock.
    pub(crate) resolve: fn(&'static Location<'static>) -> &'static SmallSite,
}

/// The [`SmallKind`] of maps of `(K, V)` entries.
#[inline(always)]
pub(crate) fn small_kind<K, V>() -> SmallKind {
    let (size, align) = (size_of::<(K, V)>(), align_of::<(K, V)>());
    SmallKind {
        layout: size << 8 | align.trailing_zeros() as usize,
        resolve: small_site_locked::<K, V>,
    }
}

/// The unnamed site of `loc` with the layout of `(K, V)` entries, for a small map, built on
/// first use (the registry lock; [`batch::start_small`] caches it per thread).
fn small_site_locked<K, V>(loc: &'static Location<'static>) -> &'static SmallSite {
    let (size, align) = (size_of::<(K, V)>(), align_of::<(K, V)>());
    let site = site_for::<K, V>(loc);
    let mut registry = lock();
    registry
        .small_sites
        .entry((site as *const SiteCell as usize, size, align))
        .or_insert_with(|| Box::leak(Box::new(SmallSite::new(site, size, align))))
}

/// The unnamed site of `loc`, through a per-thread cache (no lock when cached).
pub(crate) fn site_for<K, V>(loc: &'static Location<'static>) -> &'static SiteCell {
    let addr = loc as *const Location<'static> as usize;
    let slot = (addr >> 3) % SITE_CACHE;
    let cached = SITE_CACHE_SLOTS.try_with(|c| {
        let (a, s) = c[slot].get();
        if a == addr { s } else { None }
    });
    if let Ok(Some(site)) = cached {
        return site;
    }
    let site = lock().site(
        loc.file(),
        loc.line(),
        loc.column(),
        None,
        false,
        std::any::type_name::<K>(),
        std::any::type_name::<V>(),
    );
    let _ = SITE_CACHE_SLOTS.try_with(|c| c[slot].set((addr, Some(site))));
    site
}

/// The named site of `loc`.
pub(crate) fn named_site<K, V>(
    file: &str,
    line: u32,
    column: u32,
    name: Option<&str>,
    resolved: bool,
) -> &'static SiteCell {
    let mut reg = lock();
    let name = name.map(|n| reg.intern_name(n));
    let file = reg.intern_file(file);
    reg.site(
        file,
        line,
        column,
        name,
        resolved,
        std::any::type_name::<K>(),
        std::any::type_name::<V>(),
    )
}

/// Registers `cell` as tracked: flushes it to its site first so that snapshots can add its live
/// counters on top of the site without counting anything twice.
pub(crate) fn track(cell: &Arc<MapCell>) {
    let mut reg = lock();
    if cell.is_tracked() {
        return;
    }
    // Still untracked here: the remaining delta goes through this thread's batch, which is then
    // published, so that the site holds everything this map did before it was tracked.
    cell.flush_to_site();
    batch::flush_current_thread();
    let slot = match reg.free.pop() {
        Some(i) => {
            reg.maps[i] = Some(Arc::clone(cell));
            i
        }
        None => {
            reg.maps.push(Some(Arc::clone(cell)));
            reg.maps.len() - 1
        }
    };
    let _ = cell.tracked_since.set(Instant::now());
    LazyLock::force(&START);
    cell.slot.store(slot as u64, Relaxed);
    cell.id.store(NEXT_ID.fetch_add(1, Relaxed), Relaxed);
    // The event (and its `tracing` form) goes out without the registry lock: a subscriber
    // may take a snapshot.
    drop(reg);
    crate::event::created(cell);
}

/// Retires a map's cell: flushes what is left to the site and counts the map as dropped.
pub(crate) fn retire(cell: Arc<MapCell>) {
    if cell.is_tracked() {
        let last = crate::event::cell_size(&cell);
        let mut reg = lock();
        cell.send(&retire_delta(&cell));
        let slot = cell.slot.load(Relaxed) as usize;
        if let Some(entry) = reg.maps.get_mut(slot)
            && entry.as_ref().is_some_and(|c| Arc::ptr_eq(c, &cell))
        {
            *entry = None;
            reg.free.push(slot);
        }
        drop(reg);
        crate::event::dropped(&cell, last);
    } else {
        batch::retire(cell);
    }
}

/// The last delta of a dropped map: what it had not flushed yet, minus the entries and memory
/// it no longer holds, plus one dropped map.
fn retire_delta(cell: &MapCell) -> SiteDelta {
    let mut delta = cell.take_delta();
    delta.dropped = 1;
    delta.entries -= cell.flushed.len.get() as i64;
    delta.bytes -= cell.flushed.bytes.get() as i64;
    cell.flushed.len.set(0);
    cell.flushed.bytes.set(0);
    delta
}
