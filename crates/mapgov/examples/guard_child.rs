//! A child process for the guard's tests: runs the scenario named by `MAPGOV_GUARD_SCENARIO`.
//!
//! `tests/guard.rs` builds this example with `panic = "abort"` (through
//! `CARGO_PROFILE_DEV_PANIC=abort` and a target directory of its own) to show that a panic in
//! an abort build still leaves exactly one valid dump. Run by hand:
//!
//! ```text
//! MAPGOV_GUARD_SCENARIO=basic MAPGOV_DUMP_DIR=/tmp/dumps cargo run --example guard_child
//! mapgov report /tmp/dumps/mapgov-dump-guard_child-*.json
//! ```

#[path = "../tests/guard_scenarios/mod.rs"]
mod scenarios;

fn main() {
    let name = std::env::var(scenarios::SCENARIO).unwrap_or_else(|_| "basic".to_owned());
    scenarios::run(&name);
}
