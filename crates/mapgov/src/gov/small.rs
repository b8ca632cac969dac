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
use crate::batch::{self, INSERTS, RESIZE_NANOS, SmallChange, SmallEvent};
use crate::config;
use crate::event::EventKind;
use crate::registry::{self, SmallSite};
use crate::stats::MapCell;

/// The longest a small map can be: its published length and peak are 16-bit.
const SMALL_MAX_LEN: usize = u16::MAX as usize;

/// Whether a table of this state may stay (or start) small under `config`.
fn fits(config: &config::Config, state: &TableState) -> bool {
    stays_small_under(config, state.bytes, state.capacity)
}

/// Whether a map whose table has `bytes` and `capacity` stays (or starts) small under the
/// configuration (for [`SmallSite`], which asks once per bucket count).
pub(crate) fn stays_small(bytes: usize, capacity: usize) -> bool {
    stays_small_under(config::get(), bytes, capacity)
}

fn stays_small_under(config: &config::Config, bytes: usize, capacity: usize) -> bool {
    config.allows_small_maps() && bytes < config.track_min_bytes && capacity <= SMALL_MAX_LEN
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
    pub(crate) fn start_small<K, V>(&mut self, after: &TableState) -> bool {
        let Handle::Bare(Some(loc)) = self.handle else {
            return false;
        };
        // A configuration under which no map is small looks up no small site.
        if !config::small_maps() {
            return false;
        }
        let Some((site, log)) = batch::start_small(
            loc,
            registry::small_kind::<K, V>(),
            after.len,
            after.bytes,
            after.capacity,
        ) else {
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
        true
    }

    /// A small map's site and published bucket count (`None` if the map is not small), once
    /// debug builds checked that every change of its length up to `len` (the length after a
    /// resize) was counted.
    fn small_before_resize(&self, len: usize) -> Option<(&'static SmallSite, u8)> {
        let Handle::Small {
            site,
            buckets_log2,
            published_len,
            inserts,
            removes,
            ..
        } = self.handle
        else {
            return None;
        };
        debug_assert_eq!(
            i64::from(published_len) + i64::from(inserts) - i64::from(removes),
            len as i64,
            "every change of a small map's length is counted before its resize is reported"
        );
        Some((site, buckets_log2))
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
        let Some((site, published)) = self.small_before_resize(after.len) else {
            return false;
        };
        // Against what the site holds: the table may have changed without a resize (a drain
        // that was leaked, or whose values' `Drop` panicked, keeps the old table).
        let published_bytes = site.table_bytes(published);
        let log = if after.bytes == published_bytes {
            // The same allocation (possibly with tombstones, so its capacity says nothing).
            Some(published)
        } else {
            site.buckets_log2(after.bytes, after.capacity)
        };
        let log = match log {
            Some(log) if site.keeps_small(log) => log,
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
        if let Some(ns) = timed {
            // Rare (only with `MAPGOV_TIME_MIN_BYTES` under a small table's size): its own
            // event. As for a map with a cell, a pause of a table under 64 KiB is the
            // scheduler's, not the table's.
            batch::add_with(site.site, |d| {
                d.totals[RESIZE_NANOS] += ns as i64;
                if before.bytes >= STALL_MIN_BYTES {
                    d.resize_max_nanos = d.resize_max_nanos.max(ns);
                }
            });
        }
        let event = match kind {
            Some(EventKind::Grew) => SmallEvent::Grew,
            Some(EventKind::Shrank) => SmallEvent::Shrank,
            Some(_) => SmallEvent::Rehashed,
            None => SmallEvent::Counts,
        };
        self.publish_small(0, 0, event, after.bytes as i64 - published_bytes as i64);
        if let Handle::Small { buckets_log2, .. } = &mut self.handle {
            *buckets_log2 = log;
        }
        true
    }

    /// Publishes what a small map did since it last published, plus `extra_inserts` and
    /// `extra_removes` (a bulk change), at `event`, with its table's bytes changed by `bytes`;
    /// returns the length now published.
    #[inline(never)]
    pub(super) fn publish_small(
        &mut self,
        extra_inserts: usize,
        extra_removes: usize,
        event: SmallEvent,
        bytes: i64,
    ) -> usize {
        self.publish_small_inline(extra_inserts, extra_removes, event, bytes)
    }

    /// [`publish_small`](Gov::publish_small), inlined (for a small map's growth, the one
    /// publish besides its creation and drop that most small maps make).
    #[inline(always)]
    fn publish_small_inline(
        &mut self,
        extra_inserts: usize,
        extra_removes: usize,
        event: SmallEvent,
        bytes: i64,
    ) -> usize {
        let Handle::Small { site, .. } = self.handle else {
            return 0;
        };
        let handle = &self.handle;
        batch::add_small(site.site, || {
            let Handle::Small {
                published_len,
                inserts,
                removes,
                updates,
                peak_above,
                ..
            } = *handle
            else {
                return SmallChange::NONE;
            };
            let (ins, rem) = (usize::from(inserts), usize::from(removes));
            let (all_ins, all_rem) = (ins + extra_inserts, rem + extra_removes);
            debug_assert!(
                usize::from(published_len) + all_ins >= all_rem,
                "a small map removed more than it held"
            );
            SmallChange {
                event,
                entries: all_ins as i64 - all_rem as i64,
                bytes,
                inserts: all_ins as u32,
                removes: all_rem as u32,
                updates: u32::from(updates),
                // The highest point: before the bulk change, or after it.
                peak_len: peak(published_len, ins, rem, peak_above).max(peak(
                    published_len,
                    all_ins,
                    all_rem,
                    0,
                )),
            }
        });
        let Handle::Small {
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
        let len = (usize::from(*published_len) + usize::from(*inserts) + extra_inserts)
            .saturating_sub(usize::from(*removes) + extra_removes);
        debug_assert!(
            len <= SMALL_MAX_LEN,
            "a small map's table holds at most 2^16 - 1"
        );
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
        let len = self.publish_small(0, 0, SmallEvent::Counts, 0) as u64;
        let bytes = site.table_bytes(buckets_log2) as u64;
        let config = config::get();
        let cell = MapCell::acquire::<K, V>(site.site, config.lookup_sample);
        // Its entries count as present (the peak length starts there).
        cell.len_base.set(len);
        cell.set_table(bytes, state.capacity as u64);
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
                SmallEvent::Counts,
                0,
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

    /// The bytes of a small map's table of `capacity` if its growth is plain: its table has
    /// no tombstones (its capacity is its bucket count's whole), is too small to be timed, and
    /// one of twice the buckets keeps the map small (see
    /// [`SmallSite::plain_growth_capacity`]). `None` otherwise (not small, or another case).
    #[inline]
    pub(crate) fn small_plain_growth(&self, capacity: usize) -> Option<usize> {
        match self.handle {
            Handle::Small {
                site, buckets_log2, ..
            } if capacity == site.plain_growth_capacity(buckets_log2) => {
                Some(site.table_bytes(buckets_log2))
            }
            _ => None,
        }
    }

    /// A small map's table grew plainly (see [`small_plain_growth`](Gov::small_plain_growth))
    /// to one of `bytes`, holding `len` entries: publishes it and its counts. Returns `false`,
    /// changing nothing, if the new table is not the one of twice the buckets (the caller then
    /// takes the general path).
    pub(crate) fn small_grew(&mut self, len: usize, bytes: usize) -> bool {
        let Some((site, published)) = self.small_before_resize(len) else {
            return false;
        };
        // A plain growth doubles the bucket count (hashbrown's `reserve(1)` on a full table),
        // and that table keeps the map small.
        let log = published + 1;
        if site.table_bytes(log) != bytes {
            return false;
        }
        debug_assert!(
            site.keeps_small(log),
            "a plain growth's table keeps the map small (`small_plain_growth`)"
        );
        let grew = bytes as i64 - site.table_bytes(published) as i64;
        self.publish_small_inline(0, 0, SmallEvent::Grew, grew);
        if let Handle::Small { buckets_log2, .. } = &mut self.handle {
            *buckets_log2 = log;
        }
        true
    }

    /// The allocation a small map published (its exact table bytes), if the map is small.
    pub(crate) fn small_bytes(&self) -> Option<usize> {
        match self.handle {
            Handle::Small {
                site, buckets_log2, ..
            } => Some(site.table_bytes(buckets_log2)),
            _ => None,
        }
    }
}

/// Retires a dropped small map (its handle): its site loses its entries and bytes and gains
/// what it did since it last published, and one dropped map.
#[inline(never)]
pub(super) fn retire(handle: &Handle) {
    let Handle::Small { site, .. } = *handle else {
        return;
    };
    batch::add_small(site.site, || {
        let Handle::Small {
            site,
            published_len,
            inserts,
            removes,
            updates,
            peak_above,
            buckets_log2,
        } = *handle
        else {
            return SmallChange::NONE;
        };
        SmallChange {
            event: SmallEvent::Dropped,
            entries: -i64::from(published_len),
            bytes: -(site.table_bytes(buckets_log2) as i64),
            inserts: u32::from(inserts),
            removes: u32::from(removes),
            updates: u32::from(updates),
            peak_len: peak(
                published_len,
                usize::from(inserts),
                usize::from(removes),
                peak_above,
            ),
        }
    });
}
