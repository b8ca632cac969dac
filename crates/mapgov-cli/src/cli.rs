//! Command-line arguments, parsed with clap and then validated into the options the commands
//! run with.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use mapgov::Severity;

/// Map governance for Rust services: find the hash maps that waste memory, grow without
/// bound, resize again and again or stall their thread, and what to change.
#[derive(Debug, Parser)]
#[command(name = "mapgov", version, about, long_about = None)]
#[command(after_help = "Examples:
  mapgov demo                          run the demo service and print its governance report
  mapgov demo --seconds 10 --json      run it longer, print the report as JSON
  mapgov demo --save snap.json         also save the snapshots for `mapgov report`
  mapgov report snap.json              the report of a saved snapshot file
  mapgov report --url http://127.0.0.1:9464/debug/mapgov
  mapgov report snap.json --fail-on warning   exit 1 if any finding is a warning or worse
  mapgov trace snap.json --format chrome -o trace.json   the events, for Perfetto

Exit status: 0 no finding at or above --fail-on, 1 findings at or above it, 2 usage or input error.")]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run a small service workload on governed maps, with planted problems next to healthy
    /// maps, and print the report.
    Demo(DemoArgs),
    /// Print the report of a snapshot file or a live endpoint.
    Report(ReportArgs),
    /// Export the lifecycle events and the map memory of a snapshot file, a dump or a live
    /// endpoint: JSON Lines, a Chrome/Perfetto trace, or a pprof profile.
    Trace(TraceArgs),
}

/// Options every report-printing command shares.
#[derive(Debug, Args)]
pub(crate) struct OutputArgs {
    /// Print the report (and the snapshot it came from) as JSON.
    #[arg(long)]
    pub(crate) json: bool,
    /// Exit with status 1 when a finding is at least this severe (info, warning, critical).
    #[arg(long, value_name = "SEVERITY")]
    pub(crate) fail_on: Option<Severity>,
    /// How many sites the table shows (by memory).
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub(crate) top: usize,
}

#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// How long to run the service workload, in seconds (at least 0.3).
    #[arg(long, default_value_t = 2.0, value_name = "N")]
    pub(crate) seconds: f64,
    /// Also write the snapshots taken during the run to this file (mapgov-snapshot format).
    #[arg(long, value_name = "FILE")]
    pub(crate) save: Option<PathBuf>,
    /// Serve the demo's metrics on this loopback address (/metrics for Prometheus,
    /// /debug/mapgov for `mapgov report --url`) and keep the workload running after the report,
    /// until Ctrl-C; e.g. 127.0.0.1:9464.
    #[arg(long, value_name = "ADDR")]
    pub(crate) serve: Option<std::net::SocketAddr>,
    #[command(flatten)]
    pub(crate) output: OutputArgs,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("input").required(true).args(["file", "url"])))]
pub(crate) struct ReportArgs {
    /// A mapgov-snapshot file (from `mapgov demo --save` or an endpoint) or a mapgov-dump file.
    #[arg(value_name = "FILE")]
    pub(crate) file: Option<PathBuf>,
    /// A live endpoint serving a mapgov-snapshot document (http only, e.g. on loopback).
    #[arg(long, value_name = "URL")]
    pub(crate) url: Option<String>,
    #[command(flatten)]
    pub(crate) output: OutputArgs,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("input").required(true).args(["file", "url"])))]
#[command(after_help = "Formats:
  jsonl    a mapgov-events header line, then one lifecycle event per line
  chrome   Chrome trace event format: open in https://ui.perfetto.dev or chrome://tracing
  pprof    gzip-compressed profile.proto of live map memory by creation site (the
           last snapshot's): go tool pprof -http=: OUT

Examples:
  mapgov trace snap.json --format chrome -o trace.json
  mapgov trace mapgov-dump-x.json --format jsonl -o -
  mapgov trace --url http://127.0.0.1:9464/debug/mapgov --format pprof -o maps.pb.gz")]
pub(crate) struct TraceArgs {
    /// A mapgov-snapshot file or a mapgov-dump file.
    #[arg(value_name = "FILE")]
    pub(crate) file: Option<PathBuf>,
    /// A live endpoint serving a mapgov-snapshot document (http only, e.g. on loopback).
    #[arg(long, value_name = "URL")]
    pub(crate) url: Option<String>,
    /// The export format: jsonl, chrome or pprof.
    #[arg(long, value_name = "FORMAT")]
    pub(crate) format: String,
    /// Where to write it: a new file (never overwritten), or `-` for standard output.
    #[arg(short = 'o', long = "output", value_name = "OUT")]
    pub(crate) output: PathBuf,
}

/// The formats `mapgov trace` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TraceFormat {
    Jsonl,
    Chrome,
    Pprof,
}

impl TraceArgs {
    /// The format, checked (a one-line error names the accepted ones).
    pub(crate) fn format(&self) -> Result<TraceFormat, String> {
        match self.format.to_ascii_lowercase().as_str() {
            "jsonl" => Ok(TraceFormat::Jsonl),
            "chrome" => Ok(TraceFormat::Chrome),
            "pprof" => Ok(TraceFormat::Pprof),
            _ => Err(format!(
                "unknown trace format {:?}: expected jsonl, chrome or pprof",
                self.format
            )),
        }
    }
}

impl DemoArgs {
    /// Checks what clap cannot: the duration's range.
    pub(crate) fn validate(&self) -> Result<(), String> {
        if !self.seconds.is_finite() || self.seconds < 0.3 || self.seconds > 3600.0 {
            return Err(format!(
                "--seconds must be between 0.3 and 3600, got {}",
                self.seconds
            ));
        }
        Ok(())
    }
}
