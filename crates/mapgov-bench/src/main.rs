//! `mapbench`: what mapgov's governance costs, measured in one run against `hashbrown::HashMap`
//! (the baseline) and `std::collections::HashMap` (for reference) with the same hasher.
//!
//! ```sh
//! cargo run --release -p mapgov-bench --bin mapbench -- [--quick] [--format table|markdown|json]
//!     [--processes N]
//! ```
//!
//! The parent process runs one child per governance mode (`--mode`, hidden; `--processes N`
//! runs N rounds of them), each with that mode's `MAPGOV_*` environment, and merges the JSON
//! the children print. Exit status: 0 on success (also when the output pipe closes early), 2
//! on any error.

use std::io::Write as _;
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use clap::{Parser, ValueEnum};
use mapgov_bench::{
    Build, CHILD_FORMAT, ChildReport, CountingAlloc, FORMAT, Machine, Mode, ModeReport, Plan,
    Report, Suite, VERSION, counting_alloc_installed, render, run_mode,
};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    /// Aligned plain-text tables.
    Table,
    /// Markdown tables (for BENCHMARKS.md and issue notes).
    Markdown,
    /// The whole report as JSON (format "mapbench"; the report states its version).
    Json,
}

/// Measures what mapgov's governance costs: hashbrown vs std vs mapgov, same hasher, same
/// keys, interleaved, in each governance mode (default, MAPGOV=off, everything exact).
#[derive(Debug, Parser)]
#[command(name = "mapbench", version)]
struct Args {
    /// Run a small version of the matrix (for CI: checks that everything runs; the figures
    /// mean little).
    #[arg(long)]
    quick: bool,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,

    /// Repeat every timed workload this many times instead of the plan's counts.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    reps: Option<u16>,

    /// Run only these suites, comma-separated (the report then lacks the others' rows).
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = Suite::ALL)]
    suites: Vec<Suite>,

    /// The governance modes to measure, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = Mode::ALL)]
    modes: Vec<Mode>,

    /// Measure each mode in this many child processes (in rounds: every mode once, then
    /// again) and report, per row, the median of the processes' ratios. A process's memory
    /// layout moves some loops by up to ~10 % for its whole life, the same binary differing
    /// from one process to the next, which the repetitions inside one process cannot average
    /// out. Use an odd number.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=15))]
    processes: u16,

    /// Run as the child process of one mode and print its JSON (internal).
    #[arg(long, value_enum, hide = true)]
    mode: Option<Mode>,
}

impl Args {
    fn plan(&self) -> Plan {
        let plan = if self.quick {
            Plan::quick()
        } else {
            Plan::full()
        };
        let mut plan = match self.reps {
            Some(r) => plan.with_reps(usize::from(r)),
            None => plan,
        };
        plan.suites = self.suites.clone();
        plan
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let result = match args.mode {
        Some(mode) => child(mode, &args),
        None => parent(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mapbench: error: {e}");
            ExitCode::from(2)
        }
    }
}

/// Writes `text` to stdout; a closed pipe (`mapbench | head`) is not an error.
fn emit(text: &str) -> Result<(), String> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(format!("writing the report: {e}")),
    }
}

/// Measures one mode in this process and prints a [`ChildReport`] on stdout.
fn child(mode: Mode, args: &Args) -> Result<(), String> {
    if !counting_alloc_installed() {
        return Err("the counting allocator is not installed; memory rows would be empty".into());
    }
    let config = mapgov::current_config();
    let expected = mode.expected_config();
    if config != expected {
        return Err(format!(
            "mode {mode}: mapgov's configuration is {config:?}, expected {expected:?}; \
             run mapbench without --mode and let it set the environment"
        ));
    }
    check_mode_semantics(mode)?;
    let report = run_mode(mode, &args.plan(), &mut |line| eprintln!("mapbench {line}"));
    let child = ChildReport {
        format: CHILD_FORMAT.to_owned(),
        version: VERSION,
        report,
    };
    let json = serde_json::to_string(&child).map_err(|e| format!("serializing: {e}"))?;
    emit(&json)
}

/// Proves that the mode does what it says on one map: off counts nothing, default counts a
/// small map at its site without a cell of its own (no per-map stats), exact tracks every map
/// and counts every lookup.
fn check_mode_semantics(mode: Mode) -> Result<(), String> {
    let line = line!() + 1;
    let mut probe: mapgov::HashMap<u64, u64> = mapgov::HashMap::new();
    probe.insert(1, 1);
    for _ in 0..10 {
        std::hint::black_box(probe.get(&1));
    }
    let stats = probe.stats();
    drop(probe);
    let site_inserts: u64 = mapgov::snapshot()
        .sites
        .iter()
        .filter(|s| s.site.line == line && s.site.file == file!())
        .map(|s| s.inserts)
        .sum();
    let ok = match (mode, &stats) {
        (Mode::Off, None) => site_inserts == 0,
        (Mode::Default, None) => site_inserts == 1,
        (Mode::Exact, Some(s)) => s.id != 0 && s.inserts == 1 && s.hits == 10,
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "mode {mode}: a probe map's stats are not what the mode implies: {stats:?}"
        ))
    }
}

/// Runs one child per mode and prints the merged report.
fn parent(args: &Args) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| format!("finding my own executable: {e}"))?;
    let started = Instant::now();
    // runs[i]: the reports of mode i, one per round.
    let mut runs: Vec<Vec<ModeReport>> = vec![Vec::new(); args.modes.len()];
    for round in 1..=args.processes {
        for (i, &mode) in args.modes.iter().enumerate() {
            if args.processes > 1 {
                eprintln!("mapbench: {mode}, process {round} of {}", args.processes);
            }
            let report = run_child(&exe, mode, args).map_err(|e| {
                if args.processes > 1 {
                    format!(
                        "{e} (process {round} of {}; nothing is reported)",
                        args.processes
                    )
                } else {
                    e
                }
            })?;
            runs[i].push(report);
        }
    }
    let modes = runs
        .into_iter()
        .map(ModeReport::merge)
        .collect::<Result<Vec<_>, _>>()?;
    eprintln!(
        "mapbench: {} mode(s) in {:.0} s",
        modes.len(),
        started.elapsed().as_secs_f64()
    );
    let report = Report {
        format: FORMAT.to_owned(),
        version: VERSION,
        quick: args.quick,
        command: command_line(),
        machine: Machine::current(),
        build: Build::current(),
        modes,
    };
    let text = match args.format {
        Format::Table => render::table(&report),
        Format::Markdown => render::markdown(&report),
        Format::Json => {
            let mut s =
                serde_json::to_string_pretty(&report).map_err(|e| format!("serializing: {e}"))?;
            s.push('\n');
            s
        }
    };
    emit(&text)
}

/// Runs one child process measuring `mode` and returns its report.
fn run_child(exe: &std::path::Path, mode: Mode, args: &Args) -> Result<ModeReport, String> {
    let mut cmd = Command::new(exe);
    cmd.arg("--mode").arg(mode.name());
    if args.quick {
        cmd.arg("--quick");
    }
    let suites: Vec<&str> = args.suites.iter().map(|s| s.name()).collect();
    cmd.arg("--suites").arg(suites.join(","));
    if let Some(r) = args.reps {
        cmd.arg("--reps").arg(r.to_string());
    }
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("MAPGOV") {
            cmd.env_remove(key);
        }
    }
    cmd.envs(mode.env().iter().copied());
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let output = cmd
        .output()
        .map_err(|e| format!("starting the {mode} child: {e}"))?;
    if !output.status.success() {
        return Err(format!("the {mode} child failed ({})", output.status));
    }
    let child: ChildReport = serde_json::from_slice(&output.stdout)
        .map_err(|e| format!("reading the {mode} child's report: {e}"))?;
    if child.format != CHILD_FORMAT || child.version != VERSION || child.report.mode != mode {
        return Err(format!(
            "the {mode} child reported format {:?} v{} for mode {}",
            child.format, child.version, child.report.mode
        ));
    }
    Ok(child.report)
}

/// The command line, as `mapbench ARGS...`.
fn command_line() -> String {
    let mut parts = vec!["mapbench".to_owned()];
    parts.extend(std::env::args().skip(1));
    parts.join(" ")
}
