//! # mapgov-bench: what governance costs
//!
//! The library behind the `mapbench` binary and the criterion benches: the workload matrix of
//! the performance issue, run with `hashbrown::HashMap`, `std::collections::HashMap`,
//! `mapgov::HashMap` and `mapgov::SplitMap` on the same pre-generated keys with the same hasher,
//! interleaved, and the report types and renderers.
//!
//! ```sh
//! cargo run --release -p mapgov-bench --bin mapbench                     # full run, table
//! cargo run --release -p mapgov-bench --bin mapbench -- --format markdown
//! cargo run --release -p mapgov-bench --bin mapbench -- --quick --format json
//! cargo bench -p mapgov-bench                                             # criterion
//! ```
//!
//! ## Why one child process per mode
//!
//! mapgov's configuration is process-wide and fixed when the first governed map allocates, so
//! the three modes (default, `MAPGOV=off`, everything tracked and exact) cannot share a process.
//! `mapbench` re-executes itself once per mode with that mode's environment; each child measures
//! the two baselines and the governed map in the same process, interleaved, and prints a
//! [`ChildReport`] as JSON; the parent merges them into one [`Report`]. Every ratio therefore
//! compares measurements taken in the same run.
//!
//! ## Measuring
//!
//! Keys come from a fixed-seed [`SplitMix64`]; each workload times a loop over them with
//! `std::time::Instant`, with `std::hint::black_box` on the map and on what the loop computes,
//! and checks afterwards that it did what it claims (every lookup hit, every key removed, ...).
//! Memory rows come from [`CountingAlloc`], a counting global allocator: the net bytes many live
//! maps hold, divided by their number.

mod alloc;
mod keys;
mod maps;
pub mod render;
mod report;
mod workloads;

pub use alloc::{CountingAlloc, is_installed as counting_alloc_installed};
pub use keys::{SplitMix64, wrapping_sum};
pub use maps::{BenchHasher, BenchMap, HasherKind, Variant};
pub use report::{
    CHILD_FORMAT, ChildReport, ConfigInfo, FORMAT, Machine, Mode, ModeReport, Report, Row, Subject,
    Summary, Target, VERSION, Variants, Workload,
};
pub use workloads::{Plan, Suite, run_mode};
