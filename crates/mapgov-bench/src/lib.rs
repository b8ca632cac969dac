//! # mapgov-bench: what governance costs
//!
//! The library behind the `mapbench` binary and the criterion benches: the workload matrix of
//! the performance issue, run with `hashbrown::HashMap`, `std::collections::HashMap`,
//! `mapgov::HashMap` and `mapgov::SplitMap` on the same pre-generated keys with the same hasher,
//! interleaved, and the report types and renderers. A fifth map, [`Control`], is hashbrown's
//! again under another type: an A/A control whose ratio to hashbrown shows the harness's own
//! error on each row.
//!
//! ```sh
//! cargo run --release -p mapgov-bench --bin mapbench                     # full run, table
//! cargo run --release -p mapgov-bench --bin mapbench -- --format markdown --processes 3
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
//! ## Why several processes per mode (`--processes`)
//!
//! The repetitions inside one process agree closely (hashbrown's small-map loop with std's
//! hasher: 94.6 / 96.0 / 96.3 ns min / median / max), but the same binary reads 95 ns in one
//! process and 104–107 ns in the next: where the allocator and the stack put things is fixed
//! for a process's life and favours one variant or another. `--processes N` runs N children
//! per mode, in rounds, and takes each row's ratio as the median of the N processes' own ratios
//! ([`Row::merge`]), listing them beside it; the cells pool every repetition.
//!
//! ## Why an A/A control
//!
//! Some targets sit two percent from 1 (`MAPGOV=off`: at most 1.02). Whether a ratio of 1.03
//! is a cost or the harness's error is a question the run itself can answer: [`Control`] runs
//! every workload, interleaved with the others, as hashbrown's map under another type, and
//! each row reports its ratio to hashbrown (`A/A`). A row's mapgov ratio that lies no further
//! from 1 than its control's is not a measured cost.
//!
//! ## Measuring
//!
//! Keys come from a fixed-seed [`SplitMix64`]; each workload times a loop over them with
//! `std::time::Instant`, with `std::hint::black_box` on the map and on what the loop computes,
//! and checks afterwards that it did what it claims (every lookup hit, every key removed, ...).
//! Memory rows come from [`CountingAlloc`], a counting global allocator: the net bytes many live
//! maps hold, divided by their number.
//!
//! ## Floors
//!
//! [`SwitchFloor`] is hashbrown's map behind one test of an off switch per operation: the least
//! a map that can be switched off while the process runs costs. `mapbench` times it beside the
//! other maps in the `MAPGOV=off` mode and holds it to `HashMap`'s target on each row, so that a
//! missed `MAPGOV=off` target says whether any such map could meet it.
//!
//! [`SmallFloor`] is the least bookkeeping that keeps a creation site's totals exact, as a
//! [`BenchMap`]. `mapbench` does not time it; the `small_lifecycle` example times it beside
//! hashbrown's map and mapgov's, in its own loop and in `mapbench`'s ([`small_lifecycles`],
//! compiled in this library as `mapbench`'s loops are), to show what the closest design
//! achieves on the small-map target.

mod alloc;
mod floor;
mod keys;
mod maps;
pub mod render;
mod report;
mod workloads;

pub use alloc::{CountingAlloc, is_installed as counting_alloc_installed};
pub use floor::{SmallFloor, SwitchFloor};
pub use keys::{SplitMix64, wrapping_sum};
pub use maps::{BenchHasher, BenchMap, Control, HasherKind, Variant};
pub use report::{
    Build, CHILD_FORMAT, ChildReport, ConfigInfo, FORMAT, Machine, Mode, ModeReport, ProcessRatios,
    Report, Row, Subject, Summary, Target, VERSION, Variants, Workload,
};
pub use workloads::{Plan, SmallMap, Suite, lookup_sum, run_mode, small_lifecycles};
