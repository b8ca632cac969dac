//! The maps under test behind one small trait, so each workload is written once and
//! monomorphized per map type (no dynamic dispatch inside a timed loop).

use std::hash::BuildHasher;

use serde::{Deserialize, Serialize};

/// A hasher builder the benchmarks can use: created per map with `Default`, shared by threads.
pub trait BenchHasher: BuildHasher + Default + Send + Sync + 'static {}

impl<S: BuildHasher + Default + Send + Sync + 'static> BenchHasher for S {}

/// The operations the workloads perform on a `u64 -> u64` map with hasher `S`.
///
/// Every method is `#[inline(always)]` and forwards to the map's own method of the same name,
/// so every map's loop is compiled the same way. Not always as a loop written against the map
/// directly would be: with std's `RandomState`, LLVM keeps SipHash's `hash_one` out of line in
/// these loops for every map, where it inlines it into a plain loop over one map (the
/// `lookup_floor` example measured 8.5 against 5.3 ns per 4K get hit). Ratios compare like
/// with like; absolute times with std's hasher are those of the out-of-line hash.
pub trait BenchMap<S: BenchHasher>: Sized + Send + Sync {
    /// An empty map with a fresh `S::default()` hasher (no allocation).
    fn new_map() -> Self;
    /// `insert(k, v)`; whether the key was new.
    fn put(&mut self, k: u64, v: u64) -> bool;
    /// `get(&k).copied()`.
    fn find(&self, k: u64) -> Option<u64>;
    /// `remove(&k)`.
    fn take(&mut self, k: u64) -> Option<u64>;
    /// `*entry(k).or_insert(0) += 1`.
    fn upsert(&mut self, k: u64);
    /// Folds every `(key, value)` pair through `iter()`.
    fn fold_all(&self) -> u64;
    /// `clear()`.
    fn wipe(&mut self);
    /// `len()`.
    fn size(&self) -> usize;
}

macro_rules! impl_bench_map {
    ($($path:ident)::+) => {
        impl<S: BenchHasher> BenchMap<S> for $($path)::+<u64, u64, S> {
            #[inline(always)]
            fn new_map() -> Self {
                Self::with_hasher(S::default())
            }
            #[inline(always)]
            fn put(&mut self, k: u64, v: u64) -> bool {
                self.insert(k, v).is_none()
            }
            #[inline(always)]
            fn find(&self, k: u64) -> Option<u64> {
                self.get(&k).copied()
            }
            #[inline(always)]
            fn take(&mut self, k: u64) -> Option<u64> {
                self.remove(&k)
            }
            #[inline(always)]
            fn upsert(&mut self, k: u64) {
                *self.entry(k).or_insert(0) += 1;
            }
            #[inline(always)]
            fn fold_all(&self) -> u64 {
                self.iter().fold(0, |a, (k, v)| a ^ k.wrapping_add(*v))
            }
            #[inline(always)]
            fn wipe(&mut self) {
                self.clear();
            }
            #[inline(always)]
            fn size(&self) -> usize {
                self.len()
            }
        }
    };
}

impl_bench_map!(hashbrown::HashMap);
impl_bench_map!(std::collections::HashMap);
impl_bench_map!(mapgov::HashMap);
impl_bench_map!(mapgov::SplitMap);

/// hashbrown's map again under another type: the A/A control.
///
/// Each workload is compiled once per map type, so the control's loops are built apart from
/// hashbrown's (the compiler may still merge identical code). Whatever separates the two is
/// the harness's own error on that row: the order of the variants, the allocator's state,
/// drift of the machine, and where the code landed. A ratio of mapgov to hashbrown within
/// that distance of 1 is not a measured cost.
#[derive(Debug)]
pub struct Control<S>(hashbrown::HashMap<u64, u64, S>);

/// Each operation is hashbrown's own [`BenchMap`] method: the control differs from hashbrown
/// only in its type.
impl<S: BenchHasher> BenchMap<S> for Control<S> {
    #[inline(always)]
    fn new_map() -> Self {
        Control(BenchMap::new_map())
    }
    #[inline(always)]
    fn put(&mut self, k: u64, v: u64) -> bool {
        self.0.put(k, v)
    }
    #[inline(always)]
    fn find(&self, k: u64) -> Option<u64> {
        self.0.find(k)
    }
    #[inline(always)]
    fn take(&mut self, k: u64) -> Option<u64> {
        self.0.take(k)
    }
    #[inline(always)]
    fn upsert(&mut self, k: u64) {
        self.0.upsert(k);
    }
    #[inline(always)]
    fn fold_all(&self) -> u64 {
        self.0.fold_all()
    }
    #[inline(always)]
    fn wipe(&mut self) {
        self.0.wipe();
    }
    #[inline(always)]
    fn size(&self) -> usize {
        self.0.size()
    }
}

/// The maps compared in the workloads (all of them in every mode but [`Variant::Switch`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Variant {
    /// `hashbrown::HashMap`: the baseline every ratio is taken against.
    Hashbrown,
    /// `std::collections::HashMap`, for reference.
    Std,
    /// `mapgov::HashMap`, governed in the mode of the run.
    Mapgov,
    /// `mapgov::SplitMap` (the map whose growth never stalls), governed in the mode of the run.
    Split,
    /// [`Control`]: hashbrown's map again, to show the harness's own error.
    Control,
    /// [`SwitchFloor`](crate::SwitchFloor): hashbrown's map behind the least a run-time off
    /// switch costs; timed only with governance off, where it is the floor of the targets.
    Switch,
}

impl Variant {
    /// Every variant, in report order.
    pub const ALL: [Variant; 6] = [
        Variant::Hashbrown,
        Variant::Std,
        Variant::Mapgov,
        Variant::Split,
        Variant::Control,
        Variant::Switch,
    ];

    /// The variants timed in every mode: all but [`Variant::Switch`].
    pub const EVERY_MODE: [Variant; 5] = [
        Variant::Hashbrown,
        Variant::Std,
        Variant::Mapgov,
        Variant::Split,
        Variant::Control,
    ];

    /// The variant's name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Variant::Hashbrown => "hashbrown",
            Variant::Std => "std",
            Variant::Mapgov => "mapgov",
            Variant::Split => "split",
            Variant::Control => "control",
            Variant::Switch => "switch",
        }
    }
}

/// The hashers every workload runs with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HasherKind {
    /// `std::hash::RandomState` (SipHash-1-3), std's default.
    Std,
    /// `foldhash::fast::RandomState`, a fast non-cryptographic hasher.
    Foldhash,
}

impl HasherKind {
    /// Every hasher, in report order.
    pub const ALL: [HasherKind; 2] = [HasherKind::Std, HasherKind::Foldhash];

    /// The hasher's name in reports.
    pub fn name(self) -> &'static str {
        match self {
            HasherKind::Std => "std",
            HasherKind::Foldhash => "foldhash",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exercise<S: BenchHasher, M: BenchMap<S>>() {
        let mut m = M::new_map();
        assert!(m.put(1, 10));
        assert!(!m.put(1, 11));
        assert_eq!(m.find(1), Some(11));
        assert_eq!(m.find(2), None);
        m.upsert(2);
        m.upsert(2);
        assert_eq!(m.find(2), Some(2));
        assert_eq!(m.fold_all(), 1u64.wrapping_add(11) ^ 2u64.wrapping_add(2));
        assert_eq!(m.take(1), Some(11));
        assert_eq!(m.size(), 1);
        m.wipe();
        assert_eq!(m.size(), 0);
    }

    #[test]
    fn every_map_behaves_the_same() {
        exercise::<std::hash::RandomState, hashbrown::HashMap<u64, u64, _>>();
        exercise::<std::hash::RandomState, mapgov::SplitMap<u64, u64, _>>();
        exercise::<std::hash::RandomState, std::collections::HashMap<u64, u64, _>>();
        exercise::<std::hash::RandomState, mapgov::HashMap<u64, u64, _>>();
        exercise::<foldhash::fast::RandomState, mapgov::HashMap<u64, u64, _>>();
        exercise::<std::hash::RandomState, Control<_>>();
        exercise::<foldhash::fast::RandomState, crate::SwitchFloor<_>>();
    }
}
