//! `mapgov`: run the governance demo, report on a snapshot file or a live endpoint, or export
//! its events and map memory (`mapgov trace`).
//!
//! Exit status: 0 when no finding reaches `--fail-on`, 1 when one does, 2 on a usage or input
//! error (with a one-line reason on stderr). A closed pipe on stdout is not an error.

use std::io::{ErrorKind, Write};
use std::process::ExitCode;

use anyhow::Result;
use clap::Parser;
use mapgov::{Report, Severity, Snapshot, SnapshotDocument, Thresholds, report_series};

mod cli;
mod demo;
mod input;
mod render;

use cli::{Cli, Command, OutputArgs};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            eprintln!("mapgov: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == ErrorKind::BrokenPipe)
    })
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Demo(args) => {
            args.validate().map_err(anyhow::Error::msg)?;
            let server = args.serve.map(mapgov_prometheus::serve).transpose()?;
            if let Some(server) = &server {
                eprintln!(
                    "mapgov: serving http://{0}/metrics and http://{0}/debug/mapgov (Ctrl-C to stop)",
                    server.local_addr()
                );
            }
            let snapshots = demo::run(args.seconds);
            if let Some(path) = &args.save {
                let doc = SnapshotDocument::new(snapshots.clone());
                write_new(path, doc.to_json().as_bytes())?;
            }
            let code = output("mapgov demo", &snapshots, &args.output)?;
            if server.is_some() {
                // Keep the service's workload going for the scrapers, until interrupted.
                loop {
                    demo::run(args.seconds);
                }
            }
            Ok(code)
        }
        Command::Report(args) => {
            let snapshots = match (&args.file, &args.url) {
                (Some(file), _) => input::from_file(file)?,
                (None, Some(url)) => input::from_url(url)?,
                (None, None) => unreachable!("clap requires FILE or --url"),
            };
            output("mapgov report", &snapshots, &args.output)
        }
        Command::Trace(args) => {
            let format = args.format().map_err(anyhow::Error::msg)?;
            let input = match (&args.file, &args.url) {
                (Some(file), _) => input::read_file(file)?,
                (None, Some(url)) => input::read_url(url)?,
                (None, None) => unreachable!("clap requires FILE or --url"),
            };
            let bytes = trace_export(format, &input);
            if args.output.as_os_str() == "-" {
                let mut out = std::io::stdout().lock();
                out.write_all(&bytes)?;
                out.flush()?;
            } else {
                write_new(&args.output, &bytes)?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The export of `input` in `format`.
fn trace_export(format: cli::TraceFormat, input: &input::Input) -> Vec<u8> {
    use mapgov::trace;
    let snapshots = &input.snapshots;
    match format {
        cli::TraceFormat::Jsonl => trace::jsonl(snapshots).into_bytes(),
        cli::TraceFormat::Chrome => trace::chrome(snapshots, input.pid.unwrap_or(1)).into_bytes(),
        cli::TraceFormat::Pprof => {
            let last = snapshots.last().expect("at least one snapshot");
            trace::pprof(last, input.program.as_deref().unwrap_or("mapgov"))
        }
    }
}

/// Writes a new file with mode 0600 (never through an existing path).
fn write_new(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    use anyhow::Context;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {} (it must not exist yet)", path.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}

fn output(title: &str, snapshots: &[Snapshot], args: &OutputArgs) -> Result<ExitCode> {
    let report: Report = report_series(snapshots, &Thresholds::default());
    let last = snapshots.last().expect("at least one snapshot");
    let stdout = anstream::stdout();
    let mut out = stdout.lock();
    if args.json {
        render::json(&mut out, &report, last)?;
    } else {
        render::human(&mut out, title, &report, last, args.top)?;
    }
    out.flush()?;
    Ok(exit_code(&report, args.fail_on))
}

fn exit_code(report: &Report, fail_on: Option<Severity>) -> ExitCode {
    match fail_on {
        Some(level) if report.count_at_least(level) > 0 => ExitCode::from(1),
        _ => ExitCode::SUCCESS,
    }
}
