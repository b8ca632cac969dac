//! Auto-trait probes for the test binaries that compare a mapgov type's `Send`, `Sync`,
//! `UnwindSafe`, `RefUnwindSafe` and `Unpin` with its std counterpart's.
//!
//! Include with `#[macro_use] #[path = "support/auto_traits.rs"] mod auto_traits;`.

// Each test binary compiles this module; not every binary uses every macro.
#![allow(unused_macros)]

use std::cell::Cell;
use std::hash::{BuildHasher, DefaultHasher};

/// A hasher builder that is `Send` but neither `Sync` nor `RefUnwindSafe` (it counts builds).
#[derive(Default)]
pub(crate) struct CellHasher(Cell<u64>);

impl BuildHasher for CellHasher {
    type Hasher = DefaultHasher;
    fn build_hasher(&self) -> DefaultHasher {
        self.0.set(self.0.get() + 1);
        DefaultHasher::new()
    }
}

/// The predicate type of the `ExtractIf` probes.
pub(crate) type Pred = fn(&u8, &mut u8) -> bool;

/// `$ty: $bound` as a constant, without failing to compile when it does not hold: an inherent
/// associated constant (found only when the bound holds) shadows a trait's default `false`.
macro_rules! implements {
    ($ty:ty: $($bound:tt)+) => {{
        #[allow(dead_code)]
        struct Probe<T: ?Sized>(::std::marker::PhantomData<T>);
        #[allow(dead_code)]
        trait Fallback {
            const YES: bool = false;
        }
        impl<T: ?Sized> Fallback for Probe<T> {}
        #[allow(dead_code)]
        impl<T: ?Sized + $($bound)+> Probe<T> {
            const YES: bool = true;
        }
        <Probe<$ty>>::YES
    }};
}

/// The auto traits of `$gov` and `$std`, as `(trait, mapgov, std)` rows.
macro_rules! auto_traits {
    ($gov:ty, $std:ty) => {
        [
            ("Send", implements!($gov: Send), implements!($std: Send)),
            ("Sync", implements!($gov: Sync), implements!($std: Sync)),
            (
            "UnwindSafe",
            implements!($gov: ::std::panic::UnwindSafe),
            implements!($std: ::std::panic::UnwindSafe),
            ),
            (
            "RefUnwindSafe",
            implements!($gov: ::std::panic::RefUnwindSafe),
            implements!($std: ::std::panic::RefUnwindSafe),
            ),
            ("Unpin", implements!($gov: Unpin), implements!($std: Unpin)),
        ]
    };
}

/// Compares the auto traits of each `mapgov type => std type` pair; returns one line per
/// difference (empty when every pair agrees).
macro_rules! auto_trait_mismatches {
    ($($gov:ty => $std:ty;)*) => {{
        let mut mismatches: Vec<String> = Vec::new();
        $(
            for (name, gov, std) in auto_traits!($gov, $std) {
            if gov != std {
                mismatches.push(format!(
                    "{}: {name}: mapgov {gov}, std {std}",
                    stringify!($gov)
                ));
            }
            }
        )*
        mismatches
    }};
}

/// [`auto_trait_mismatches!`] over a std-like map family against std's `HashMap` family: the
/// map `$map` with keys, values and a hasher that lack one auto trait or another, and every
/// entry and iterator type of its module `$module`.
macro_rules! map_auto_trait_mismatches {
    ($map:ident, $module:ident) => {{
        use ::std::cell::{Cell, RefCell};
        use ::std::collections::HashMap as StdMap;
        use ::std::collections::hash_map as std_hash_map;
        use ::std::marker::PhantomPinned;
        use ::std::rc::Rc;
        use ::std::sync::{Arc, Mutex, MutexGuard};
        use $crate::auto_traits::{CellHasher, Pred};
        auto_trait_mismatches! {
            $map<u64, u64> => StdMap<u64, u64>;
            $map<String, Vec<u8>> => StdMap<String, Vec<u8>>;
            $map<Rc<u8>, u8> => StdMap<Rc<u8>, u8>;
            $map<u8, Rc<u8>> => StdMap<u8, Rc<u8>>;
            $map<u8, Cell<u8>> => StdMap<u8, Cell<u8>>;
            $map<u8, RefCell<u8>> => StdMap<u8, RefCell<u8>>;
            $map<u8, *const u8> => StdMap<u8, *const u8>;
            $map<u8, &'static mut u8> => StdMap<u8, &'static mut u8>;
            $map<u8, MutexGuard<'static, u8>> => StdMap<u8, MutexGuard<'static, u8>>;
            $map<u8, Arc<Mutex<u8>>> => StdMap<u8, Arc<Mutex<u8>>>;
            $map<u8, PhantomPinned> => StdMap<u8, PhantomPinned>;
            $map<u8, u8, CellHasher> => StdMap<u8, u8, CellHasher>;
            $module::Entry<'static, u8, Cell<u8>> => std_hash_map::Entry<'static, u8, Cell<u8>>;
            $module::Entry<'static, u8, Rc<u8>> => std_hash_map::Entry<'static, u8, Rc<u8>>;
            $module::OccupiedEntry<'static, u8, Cell<u8>>
                => std_hash_map::OccupiedEntry<'static, u8, Cell<u8>>;
            $module::VacantEntry<'static, Cell<u8>, u8>
                => std_hash_map::VacantEntry<'static, Cell<u8>, u8>;
            $module::Iter<'static, u8, Cell<u8>> => std_hash_map::Iter<'static, u8, Cell<u8>>;
            $module::IterMut<'static, u8, Cell<u8>>
                => std_hash_map::IterMut<'static, u8, Cell<u8>>;
            $module::Keys<'static, Cell<u8>, u8> => std_hash_map::Keys<'static, Cell<u8>, u8>;
            $module::Values<'static, u8, Rc<u8>> => std_hash_map::Values<'static, u8, Rc<u8>>;
            $module::ValuesMut<'static, u8, Cell<u8>>
                => std_hash_map::ValuesMut<'static, u8, Cell<u8>>;
            $module::IntoIter<u8, Rc<u8>> => std_hash_map::IntoIter<u8, Rc<u8>>;
            $module::IntoIter<u8, Cell<u8>> => std_hash_map::IntoIter<u8, Cell<u8>>;
            $module::IntoKeys<Cell<u8>, u8> => std_hash_map::IntoKeys<Cell<u8>, u8>;
            $module::IntoValues<u8, PhantomPinned> => std_hash_map::IntoValues<u8, PhantomPinned>;
            $module::Drain<'static, u8, Cell<u8>> => std_hash_map::Drain<'static, u8, Cell<u8>>;
            $module::ExtractIf<'static, u8, u8, Pred>
                => std_hash_map::ExtractIf<'static, u8, u8, Pred>;
        }
    }};
}
