//! Small maps without a stats cell.
//!
//! Most maps a program creates are small and short-lived: built, read, dropped. A stats cell per
//! such map (a pooled allocation, reset on reuse, flushed at every cold event through the
//! thread's batch) cost more than the map itself. So a map that allocates while it is
//! anonymous (no name, budget or exact lookup counting), below the tracking threshold and with
//! no shrink policy configured starts *small*: its handle holds a pointer to its site and, in
//! the handle's spare bytes, what it did since it last published to that site: inserts,
//! removes and updates (8 bits each), the highest its length rose above the published length,
//! and its table's bucket count. It publishes through the thread's batch when it first
//! allocates, at every resize, when a counter is about to overflow, and when it is dropped, so
//! its site's aggregates are exact, with the same lag as a cell's.
//!
//! A small map has no per-map stats (`stats()` is `None`); anything that needs them (a name, a
//! budget, `count_every_lookup`, a table reaching the tracking threshold, an operation that
//! counts through a cell such as `extract_if`) first *promotes* it: it publishes what it
//! holds and takes a cell that starts from exactly what the site then holds. (So when a small
//! map is named, its creation, entries and bytes move to the named site, and the operations it
//! did before stay at its anonymous site, where they were published.)

use super::{Gov, Handle, STALL_MIN_BYTES, TableState, resize_kind};
use crate::batch::{self, SiteDelta};
use crate::config;
use crate::event::EventKind;
use crate::registry::{self, SmallSite};
use crate::stats::{MapCell, buckets_log2_for};

/// The longest a small map can be: its published length and peak are 16-bit.
const SMALL_MAX_LEN: usize = u16::MAX as usize;

/// `buckets_log2` of a small map that holds no table (it was shrunk to nothing).
const NO_TABLE: u8 = u8::MAX;

/// Positions in [`SiteDelta::totals`] (the order of `Totals::fields`).
const INSERTS: usize = 0;
const UPDATES: usize = 1;
const REMOVES: usize = 2;
const GROWS: usize = 5;
const REHASHES: usize = 6;
const SHRINKS: usize = 7;
const RESIZE_NANOS: usize = 8;

/// Whether a table of this state may stay (or start) small under `config`.
fn fits(config: &config::Config, state: &TableState) -> bool {
    config.shrink_policy.is_none()
        && config.lookup_sample > 1
        && state.bytes < config.track_min_bytes
        && state.capacity <= SMALL_MAX_LEN
}

/// The bytes of the table a small map published (`NO_TABLE`: none).
fn published_bytes(site: &SmallSite, buckets_log2: u8) -> usize {
    if buckets_log2 == NO_TABLE {
        0
    } else {
        site.table_bytes(buckets_log2)
    }
}

/// The log2 of the bucket count of a small map's freshly allocated table of `state` (`NO_TABLE`
/// for none), or `None` if no table of the site's entries has that size (the map then takes a
/// cell).
fn buckets_log2(site: &SmallSite, state: &TableState) -> Option<u8> {
    if state.bytes == 0 {
        return Some(NO_TABLE);
    }
    // A fresh table has no tombstones: hashbrown's capacity is `buckets - 1` below 8 buckets
    // and 7/8 of them from 8 on.
    let cap = state.capacity;
    let buckets = if cap < 8 { cap + 1 } else { cap / 7 * 8 };
    let log = buckets.trailing_zeros() as u8;
    if buckets.is_power_of_two() && log <= 16 && site.table_bytes(log) == state.bytes {
        Some(log)
    } else {
        buckets_log2_for(state.bytes, site.entry_size, site.entry_align)
    }
}

/// The highest length since the last publish: the published length plus the most the length
/// rose above it (before a remove, or now).
fn peak(published_len: u16, inserts: usize, removes: usize, peak_above: u8) -> u64 {
    let now_above = inserts.saturating_sub(removes);
    (usize::from(published_len) + now_above.max(usize::from(peak_above))) as u64
}

impl Gov {
    /// Makes a map whose first allocation is `after` small, and publishes its creation, if it
    /// qualifies (see the module docs). Returns whether it did.
    pub(super) fn start_small<K, V>(&mut self, after: &TableState) -> bool {
        let Handle::Bare(loc) = self.handle else {
            return false;
        };
        if !fits(config::get(), after) {
            return false;
        }
        let site = registry::small_site_for::<K, V>(loc);
        let Some(log) = buckets_log2(site, after) else {
            return false;
        };
        self.handle = Handle::Small {
            site,
            published_len: after.len as u16,
            inserts: 0,
            removes: 0,
            updates: 0,
            peak_above: 0,
            buckets_log2: log,
        };
        batch::add_with(site.site, |d| {
            d.created += 1;
            d.entries += after.len as i64;
            d.bytes += after.bytes as i64;
            d.peak_len = d.peak_len.max(after.len as u64);
        });
        true
    }

    /// A small map's resize from `before` to `after`: published with the counts since the last
    /// publish. If the map no longer fits it is promoted instead and `false` returned: the
    /// caller then accounts for the resize through the new cell.
    pub(super) fn small_resized<K, V>(
        &mut self,
        before: &TableState,
        after: &TableState,
        nanos: Option<u64>,
    ) -> bool {
        let Handle::Small {
            site,
            buckets_log2: published,
            published_len,
            inserts,
            removes,
            ..
        } = self.handle
        else {
            return false;
        };
        debug_assert_eq!(
            i64::from(published_len) + i64::from(inserts) - i64::from(removes),
            after.len as i64,
            "every change of a small map's length is counted before its resize is reported"
        );
        // Against what the site holds: the table may have changed without a resize (a drain
        // that was leaked, or whose values' `Drop` panicked, keeps the old table).
        let published_bytes = published_bytes(site, published);
        let log = if after.bytes == published_bytes {
            // The same allocation (possibly with tombstones, so its capacity says nothing).
            Some(published)
        } else {
            buckets_log2(site, after)
        };
        let log = match log {
            Some(log) if fits(config::get(), after) => log,
            _ => {
                self.promote::<K, V>(*before);
                return false;
            }
        };
        let kind = resize_kind(before, after);
        let timed = nanos.filter(|_| kind.is_some());
        if let Some(ns) = timed {
            site.site.record_resize(ns);
        }
        self.publish_small(0, 0, |d| {
            d.bytes += after.bytes as i64 - published_bytes as i64;
            let counter = match kind {
                Some(EventKind::Grew) => Some(GROWS),
                Some(EventKind::Shrank) => Some(SHRINKS),
                Some(_) => Some(REHASHES),
                None => None,
            };
            if let Some(i) = counter {
                d.totals[i] += 1;
            }
            if let Some(ns) = timed {
                d.totals[RESIZE_NANOS] += ns as i64;
                // As for a map with a cell: a pause of a table under 64 KiB is the scheduler's.
                if before.bytes >= STALL_MIN_BYTES {
                    d.resize_max_nanos = d.resize_max_nanos.max(ns);
                }
            }
        });
        if let Handle::Small { buckets_log2, .. } = &mut self.handle {
            *buckets_log2 = log;
        }
        true
    }

    /// Publishes what a small map did since it last published, plus `extra_inserts` and
    /// `extra_removes` (a bulk change) and whatever `f` adds; returns the length now published.
    pub(super) fn publish_small(
        &mut self,
        extra_inserts: usize,
        extra_removes: usize,
        f: impl FnOnce(&mut SiteDelta),
    ) -> usize {
        let Handle::Small {
            site,
            published_len,
            inserts,
            removes,
            updates,
            peak_above,
            ..
        } = &mut self.handle
        else {
            return 0;
        };
        let (ins, rem) = (usize::from(*inserts), usize::from(*removes));
        // The highest point: before the bulk change, or after it.
        let peak = peak(*published_len, ins, rem, *peak_above).max(peak(
            *published_len,
            ins + extra_inserts,
            rem + extra_removes,
            0,
        ));
        let (ins, rem) = (ins + extra_inserts, rem + extra_removes);
        let len = (usize::from(*published_len) + ins).saturating_sub(rem);
        debug_assert!(
            usize::from(*published_len) + ins >= rem,
            "a small map removed more than it held"
        );
        debug_assert!(
            len <= SMALL_MAX_LEN,
            "a small map's table holds at most 2^16 - 1"
        );
        let upd = *updates;
        batch::add_with(site.site, |d| {
            d.entries += ins as i64 - rem as i64;
            d.totals[INSERTS] += ins as i64;
            d.totals[REMOVES] += rem as i64;
            d.totals[UPDATES] += i64::from(upd);
            d.peak_len = d.peak_len.max(peak);
            f(d);
        });
        *published_len = len.min(SMALL_MAX_LEN) as u16;
        (*inserts, *removes, *updates, *peak_above) = (0, 0, 0, 0);
        len
    }

    /// Gives a small map a stats cell that starts from exactly what its site holds for it;
    /// `state` is the table as it is (its entries and bytes as last published).
    #[cold]
    pub(super) fn promote<K, V>(&mut self, state: TableState) {
        let Handle::Small {
            site, buckets_log2, ..
        } = self.handle
        else {
            return;
        };
        let len = self.publish_small(0, 0, |_| {}) as u64;
        let bytes = published_bytes(site, buckets_log2) as u64;
        let config = config::get();
        let cell = MapCell::acquire::<K, V>(site.site, config.lookup_sample);
        cell.len_base.set(len);
        cell.peak_len.set(len);
        cell.bytes.set(bytes);
        cell.capacity.set(state.capacity as u64);
        // The site already holds the map's creation, entries and bytes.
        cell.flushed.created.set(1);
        cell.flushed.len.set(len);
        cell.flushed.bytes.set(bytes);
        self.handle = Handle::with_cell(cell, config.lookup_sample);
    }

    /// Counts a bulk change of the length from `before` to `after` entries (`retain`, `clear`,
    /// a rehash that lost entries to a panicking hasher) on a small map.
    pub(crate) fn count_small_bulk(&mut self, before: usize, after: usize) {
        if before != after {
            self.publish_small(
                after.saturating_sub(before),
                before.saturating_sub(after),
                |_| {},
            );
        }
    }

    /// Whether a table of `state` may stay small under the configuration.
    pub(crate) fn small_fits(&self, state: &TableState) -> bool {
        fits(config::get(), state)
    }

    /// Counts the entries a small map was created with (its published length) as inserted:
    /// for a map that started small by copying another one's entries in (`clone_from`).
    pub(crate) fn small_entries_were_inserted(&mut self) {
        if let Handle::Small {
            site,
            published_len,
            ..
        } = self.handle
        {
            batch::add_with(site.site, |d| d.totals[INSERTS] += i64::from(published_len));
        }
    }

    /// Whether the map is small and its table of `capacity` has no tombstones (its capacity is
    /// the whole of its published bucket count's).
    pub(crate) fn small_without_tombstones(&self, capacity: usize) -> bool {
        match self.handle {
            Handle::Small { buckets_log2, .. } if buckets_log2 != NO_TABLE => {
                let buckets = 1usize << buckets_log2;
                let full = if buckets < 8 {
                    buckets - 1
                } else {
                    buckets / 8 * 7
                };
                capacity == full
            }
            _ => false,
        }
    }

    /// The allocation a small map published (its exact table bytes), if the map is small.
    pub(crate) fn small_bytes(&self) -> Option<usize> {
        match self.handle {
            Handle::Small {
                site, buckets_log2, ..
            } => Some(published_bytes(site, buckets_log2)),
            _ => None,
        }
    }
}

/// Retires a dropped small map (its handle): its site loses its entries and bytes and gains
/// what it did since it last published, and one dropped map.
pub(super) fn retire(handle: &Handle) {
    let &Handle::Small {
        site,
        published_len,
        inserts,
        removes,
        updates,
        peak_above,
        buckets_log2: log,
    } = handle
    else {
        return;
    };
    let bytes = published_bytes(site, log);
    batch::add_with(site.site, |d| {
        d.dropped += 1;
        d.entries -= i64::from(published_len);
        d.bytes -= bytes as i64;
        d.totals[INSERTS] += i64::from(inserts);
        d.totals[REMOVES] += i64::from(removes);
        d.totals[UPDATES] += i64::from(updates);
        d.peak_len = d.peak_len.max(peak(
            published_len,
            usize::from(inserts),
            usize::from(removes),
            peak_above,
        ));
    });
}
