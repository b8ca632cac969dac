//! Policies: automatic shrinking after removals, and budgets on entries or bytes.
//!
//! Both are off by default. Set them per map ([`HashMap::shrink_policy`],
//! [`HashMap::budget`]) or for every map ([`Config::shrink_policy`], [`Config::budget_for`]).
//!
//! The hot path pays almost nothing for them: an insert counts down the inserts left before
//! the length could pass the map's entry budget (armed on the cold path; the same decrement
//! counts the insert, [`MapCell::on_insert`]), and a removal compares the length with the one
//! below which the shrink policy acts. Everything else happens on the cold path, when one is
//! crossed or the insert room runs out.
//!
//! [`HashMap::shrink_policy`]: crate::HashMap::shrink_policy
//! [`HashMap::budget`]: crate::HashMap::budget
//! [`Config::shrink_policy`]: crate::Config::shrink_policy
//! [`Config::budget_for`]: crate::Config::budget_for

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use crate::snapshot::Site;
use crate::stats::MapCell;

/// Shrinks a map automatically when removals leave its table far larger than its entries need.
///
/// Maps never shrink on their own (in std Rust as in Go): a table that held a million entries
/// keeps their memory after they are removed. With this policy, when a removal (or the next
/// insert after a `retain`/`clear`/`drain`) finds `len` at or below `capacity / trigger_ratio`,
/// the table is shrunk to hold `len × headroom` entries.
///
/// **Hysteresis.** A map that grows again after a shrink is oscillating around a working size:
/// the policy then never shrinks it below the capacity it regrew to. So a map that cycles
/// between empty and full shrinks at most a few times (once per halving on its first way down),
/// not once per cycle.
///
/// # Examples
///
/// ```
/// use mapgov::{HashMap, ShrinkPolicy};
///
/// let mut m: HashMap<u64, u64> = HashMap::new()
///     .shrink_policy(ShrinkPolicy::default().min_bytes(0));
/// for i in 0..100_000 { m.insert(i, i); }
/// let full = m.allocation_size();
/// for i in 0..99_000 { m.remove(&i); }
/// assert!(m.allocation_size() < full / 8);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ShrinkPolicy {
    pub(crate) trigger_ratio: u32,
    pub(crate) headroom: f64,
    pub(crate) min_bytes: u64,
}

impl Default for ShrinkPolicy {
    /// Shrink when `len <= capacity / 4`, to `2 × len`, for tables of at least 64 KiB.
    fn default() -> Self {
        ShrinkPolicy {
            trigger_ratio: 4,
            headroom: 2.0,
            min_bytes: 64 * 1024,
        }
    }
}

impl ShrinkPolicy {
    /// Shrink when `len <= capacity / ratio` (at least 2).
    pub fn trigger_ratio(mut self, ratio: u32) -> Self {
        self.trigger_ratio = ratio.max(2);
        self
    }

    /// Shrink to hold `len × headroom` entries (at least 1.0; below `trigger_ratio`).
    pub fn headroom(mut self, headroom: f64) -> Self {
        self.headroom = if headroom.is_finite() {
            headroom.max(1.0)
        } else {
            2.0
        };
        self
    }

    /// Leave tables smaller than `bytes` alone (shrinking them frees too little to matter).
    pub fn min_bytes(mut self, bytes: u64) -> Self {
        self.min_bytes = bytes;
        self
    }
}

/// The callback of a [`Budget`].
pub(crate) type BudgetCallback = Arc<dyn Fn(&BudgetCrossing) + Send + Sync>;

/// A limit on a map's entries or bytes.
///
/// Crossing it counts `budget_exceeded` in the map's stats, records a `budget_exceeded` event
/// (for a tracked map), emits one `tracing` warning (target `mapgov`) per crossing, and calls
/// the optional callback. It never panics and never drops or
/// refuses data: the map keeps working. The budget re-arms once the map is back within it.
///
/// # Examples
///
/// ```
/// use mapgov::{Budget, HashMap};
///
/// let mut cache: HashMap<u64, u64> = HashMap::new().budget(Budget::entries(1000));
/// for i in 0..1500 { cache.insert(i, i); }
/// assert_eq!(cache.stats().unwrap().budget_exceeded, 1);
/// ```
#[derive(Clone)]
pub struct Budget {
    pub(crate) max_entries: Option<u64>,
    pub(crate) max_bytes: Option<u64>,
    pub(crate) callback: Option<BudgetCallback>,
}

impl fmt::Debug for Budget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Budget")
            .field("max_entries", &self.max_entries)
            .field("max_bytes", &self.max_bytes)
            .field("callback", &self.callback.is_some())
            .finish()
    }
}

impl PartialEq for Budget {
    fn eq(&self, other: &Budget) -> bool {
        self.max_entries == other.max_entries
            && self.max_bytes == other.max_bytes
            && match (&self.callback, &other.callback) {
                (None, None) => true,
                (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                _ => false,
            }
    }
}

impl Budget {
    /// At most `n` entries.
    pub fn entries(n: u64) -> Budget {
        Budget {
            max_entries: Some(n),
            max_bytes: None,
            callback: None,
        }
    }

    /// At most `n` bytes of table.
    pub fn bytes(n: u64) -> Budget {
        Budget {
            max_entries: None,
            max_bytes: Some(n),
            callback: None,
        }
    }

    /// Also limit the table's bytes.
    pub fn and_bytes(mut self, n: u64) -> Budget {
        self.max_bytes = Some(n);
        self
    }

    /// Also limit the entries.
    pub fn and_entries(mut self, n: u64) -> Budget {
        self.max_entries = Some(n);
        self
    }

    /// Calls `f` on every crossing (on the thread that crossed, on the cold path). A panic in
    /// `f` is caught and reported once on stderr; it never reaches the map operation.
    pub fn on_exceed(mut self, f: impl Fn(&BudgetCrossing) + Send + Sync + 'static) -> Budget {
        self.callback = Some(Arc::new(f));
        self
    }
}

/// What was crossed, passed to a [`Budget`]'s callback.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BudgetCrossing {
    /// Where the map was created.
    pub site: Site,
    /// Its name.
    pub name: Option<String>,
    /// `"entries"` or `"bytes"`.
    pub limit_kind: &'static str,
    /// The limit.
    pub limit: u64,
    /// The value that crossed it.
    pub value: u64,
}

/// A map's policy state, kept in its stats cell.
#[derive(Clone, Debug, Default)]
pub(crate) struct PolicyState {
    pub(crate) shrink: Option<ShrinkPolicy>,
    pub(crate) budget: Option<Budget>,
    /// The budget was set on the map itself (a configured default does not replace it).
    pub(crate) budget_explicit: bool,
    /// Never shrink below this capacity (set when the map regrows after a shrink).
    pub(crate) floor: u64,
    pub(crate) entries_crossed: bool,
    pub(crate) bytes_crossed: bool,
}

impl PolicyState {
    /// Whether this is the state of a map that never had a policy (`PolicyState::default()`).
    pub(crate) fn is_default(&self) -> bool {
        let PolicyState {
            shrink,
            budget,
            budget_explicit,
            floor,
            entries_crossed,
            bytes_crossed,
        } = self;
        shrink.is_none()
            && budget.is_none()
            && !budget_explicit
            && *floor == 0
            && !entries_crossed
            && !bytes_crossed
    }
}

impl MapCell {
    /// Recomputes the hot-path limits from the policy state and the table's capacity, and arms
    /// the insert room for a map of `len` entries.
    pub(crate) fn rearm(&self, state: &PolicyState, capacity: u64, bytes: u64, len: u64) {
        let insert_limit = match state.budget.as_ref().and_then(|b| b.max_entries) {
            Some(max) if !state.entries_crossed => max,
            _ => u64::MAX,
        };
        let mut watch = 0;
        if let Some(p) = state.shrink
            && bytes >= p.min_bytes.max(1)
            && capacity > state.floor
        {
            // Act when len <= capacity / ratio, and only once a shrink to `len × headroom`
            // actually halves the table (half the buckets hold about half the capacity).
            let halving = ((capacity / 2) as f64 / p.headroom).floor() as u64;
            watch = (capacity / u64::from(p.trigger_ratio)).min(halving) + 1;
        }
        if state.entries_crossed
            && let Some(max) = state.budget.as_ref().and_then(|b| b.max_entries)
        {
            watch = watch.max(max.saturating_add(1));
        }
        self.remove_watch.set(watch);
        self.insert_limit.set(insert_limit);
        self.arm_inserts(insert_room(len, watch, insert_limit));
    }
}

/// The inserts a map of `len` entries can take before one must run the policy check: the one
/// that takes `len` past `limit` (`limit - len + 1`, counting no removes in between), none
/// within reach without a limit (`u64::MAX`), and the next one if `len` is already outside
/// `[watch, limit]` (a shrink that waited for an insert, or a budget set below the length).
fn insert_room(len: u64, watch: u64, limit: u64) -> u64 {
    if len < watch || len > limit {
        1
    } else if limit == u64::MAX {
        u64::MAX
    } else {
        limit - len + 1
    }
}

/// Outcome of the cold policy check.
pub(crate) enum Action {
    None,
    /// Shrink the table to hold this many entries.
    ShrinkTo(usize),
}

/// Runs when `len` crossed one of the hot-path limits, or the insert room ran out (then, if
/// `len` is within the limits, it only re-arms the room). Decides budget crossings and re-arms
/// (reported here) and whether to shrink (done by the caller, which owns the table).
#[cold]
pub(crate) fn on_limit(cell: &MapCell, len: u64) -> Action {
    if !cell.outside_limits(len) {
        // The insert room ran out early (removes since it was armed gave it none back), or
        // nothing was crossed: no crossing, no shrink. Only the room is armed again, without
        // the lock, so a map that hovers just under its budget pays a call, not a lock, per
        // early check.
        let (watch, limit) = (cell.remove_watch.get(), cell.insert_limit.get());
        cell.arm_inserts(insert_room(len, watch, limit));
        return Action::None;
    }
    let capacity = cell.capacity();
    let mut state = cell.policy.lock().unwrap_or_else(|e| e.into_inner());
    let mut crossing = None;
    let mut action = Action::None;
    if let Some(max) = state.budget.as_ref().and_then(|b| b.max_entries) {
        if len > max && !state.entries_crossed {
            state.entries_crossed = true;
            crossing = Some(("entries", max, len));
        } else if len <= max && state.entries_crossed {
            state.entries_crossed = false;
        }
    }
    if let Some(p) = state.shrink {
        let bytes = cell.bytes();
        let halving = ((capacity / 2) as f64 / p.headroom).floor() as u64;
        if bytes >= p.min_bytes.max(1)
            && capacity > state.floor
            && len.saturating_mul(u64::from(p.trigger_ratio)) <= capacity
            && len <= halving
        {
            let target = ((len as f64) * p.headroom).ceil() as u64;
            let target = target.max(state.floor).min(capacity);
            action = Action::ShrinkTo(target as usize);
        }
    }
    cell.rearm(&state, capacity, cell.bytes(), len);
    let callback = state.budget.as_ref().and_then(|b| b.callback.clone());
    drop(state);
    if let Some((kind, limit, value)) = crossing {
        report_crossing(cell, kind, limit, value, callback);
    }
    action
}

/// [`on_limit`] for an insert counted before it is made (an entry's: see
/// `VacantEntry::count_insert`). The check runs user code (the `tracing` subscriber that
/// receives a budget crossing's warning); if that panics, the insert is not made, so it is
/// uncounted first and the counts still agree with the table.
///
/// What the check did before the panic stays: the crossing is reported (counted, recorded as
/// an event, passed to the callback); the peak length does not include the insert. The policy
/// state still holds the budget as crossed, so the map's next policy check re-arms it and the
/// next insert past the budget is reported again. A reader on another thread may see
/// `inserts` go back by one.
#[cold]
#[inline(never)]
pub(crate) fn on_limit_before_insert(cell: &MapCell, len: u64) -> Action {
    struct Uncount<'a>(&'a MapCell);
    impl Drop for Uncount<'_> {
        fn drop(&mut self) {
            self.0.uncount_insert();
        }
    }
    let uncount = Uncount(cell);
    let action = on_limit(cell, len);
    std::mem::forget(uncount);
    action
}

/// Checks the byte budget after a resize.
#[cold]
pub(crate) fn after_resize(cell: &MapCell, grew: bool, capacity: u64, bytes: u64) {
    let mut state = cell.policy.lock().unwrap_or_else(|e| e.into_inner());
    if state.shrink.is_none() && state.budget.is_none() {
        return;
    }
    if grew && cell.shrinks.get() > 0 {
        // Regrew after a shrink: this is the map's working size.
        state.floor = state.floor.max(capacity);
    }
    let mut crossing = None;
    if let Some(max) = state.budget.as_ref().and_then(|b| b.max_bytes) {
        if bytes > max && !state.bytes_crossed {
            state.bytes_crossed = true;
            crossing = Some(("bytes", max, bytes));
        } else if bytes <= max && state.bytes_crossed {
            state.bytes_crossed = false;
        }
    }
    cell.rearm(&state, capacity, bytes, cell.len());
    let callback = state.budget.as_ref().and_then(|b| b.callback.clone());
    drop(state);
    if let Some((kind, limit, value)) = crossing {
        report_crossing(cell, kind, limit, value, callback);
    }
}

fn report_crossing(
    cell: &MapCell,
    kind: &'static str,
    limit: u64,
    value: u64,
    callback: Option<BudgetCallback>,
) {
    cell.budget_exceeded.add(1);
    // One event per crossing: recorded for a tracked map, and one `tracing` warning either way.
    crate::event::budget_exceeded(cell, kind, limit, value);
    if let Some(cb) = callback {
        let site = Site::new(cell.site.file, cell.site.line, cell.site.column);
        let crossing = BudgetCrossing {
            site,
            name: cell.site.name.map(str::to_owned),
            limit_kind: kind,
            limit,
            value,
        };
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cb(&crossing)));
        if result.is_err() && !cell.callback_panicked.swap(true, Relaxed) {
            eprintln!("mapgov: a budget callback panicked; the map was not affected");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::SiteCell;

    fn cell() -> Arc<MapCell> {
        let site: &'static SiteCell = Box::leak(Box::new(SiteCell::new(
            "policy.rs",
            1,
            1,
            None,
            false,
            "u64",
            "u64",
        )));
        MapCell::acquire::<u64, u64>(site, 1)
    }

    #[test]
    fn the_insert_room_runs_out_at_the_first_insert_that_can_pass_the_budget() {
        // Lengths, watermarks and budgets at the edges: 0, small values on either side of one
        // another, the longest a map can be (`isize::MAX`), and no budget (`u64::MAX`).
        let longest = isize::MAX as u64;
        let lens = [0, 1, 2, 3, 7, 8, 9, longest / 2, longest - 1, longest];
        let limits = [
            0,
            1,
            2,
            3,
            7,
            8,
            9,
            longest,
            longest + 1,
            u64::MAX - 1,
            u64::MAX,
        ];
        for watch in limits {
            for limit in limits {
                for len in lens.into_iter().chain(0..12) {
                    let room = insert_room(len, watch, limit);
                    let what = format!("len {len}, watch {watch}, limit {limit}: room {room}");
                    assert!(room >= 1, "{what}");
                    if len < watch || len > limit {
                        assert_eq!(room, 1, "{what}: outside, the next insert checks");
                    } else if limit == u64::MAX {
                        assert_eq!(room, u64::MAX, "{what}: no budget");
                    } else {
                        // The inserts before the last keep the length within the budget; the
                        // last takes it past.
                        assert!(len + (room - 1) <= limit, "{what}: ran out early");
                        assert!(len + room > limit, "{what}: ran out late");
                    }
                }
            }
        }
    }

    #[test]
    fn inserts_are_counted_by_the_room_and_survive_rearming() {
        let cell = cell();
        cell.arm_inserts(3);
        assert!(!cell.on_insert() && !cell.on_insert(), "two of three");
        assert!(cell.on_insert(), "the third runs the room out");
        assert_eq!(cell.inserts(), 3);
        cell.arm_inserts(u64::MAX);
        assert_eq!(cell.inserts(), 3, "arming keeps the count");
        assert!(!cell.on_insert());
        cell.count_inserts(10);
        cell.uncount_insert();
        assert_eq!(cell.inserts(), 13);
        assert_eq!(cell.len(), 13);
    }

    #[test]
    fn an_early_check_inside_the_limits_only_rearms_the_room() {
        let cell = cell();
        cell.remove_watch.set(2);
        cell.insert_limit.set(10);
        // A map of 5 entries, armed for 6 inserts, that also removed 3: its room runs out at
        // length 8, under the budget.
        cell.arm_inserts(1);
        assert!(matches!(on_limit(&cell, 8), Action::None));
        assert_eq!(cell.budget_exceeded.get(), 0, "nothing crossed");
        let armed: Vec<bool> = (0..3).map(|_| cell.on_insert()).collect();
        assert_eq!(
            armed,
            [false, false, true],
            "8 -> 11 passes the budget of 10"
        );
    }
}
