//! Auto-trait probes for the test binaries that compare a mapgov type's `Send`, `Sync`,
//! `UnwindSafe`, `RefUnwindSafe` and `Unpin` with its std counterpart's.
//!
//! Include with `#[macro_use] #[path = "support/auto_traits.rs"] mod auto_traits;`.

// Each test binary compiles this module; not every binary uses every macro.
#![allow(unused_macros)]

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
