//! Human and JSON output of a report.

use std::io::Write;

use anstyle::{AnsiColor, Style};
use comfy_table::{CellAlignment, Table, presets};
use mapgov::{Finding, Report, Severity, Snapshot, human_bytes, human_duration};
use serde::Serialize;

/// The `--json` output: the report, and the snapshot it analysed.
#[derive(Serialize)]
struct JsonReport<'a> {
    format: &'static str,
    version: u32,
    report: &'a Report,
    snapshot: &'a Snapshot,
}

/// Prints the report as one JSON document.
pub(crate) fn json(
    out: &mut dyn Write,
    report: &Report,
    snapshot: &Snapshot,
) -> std::io::Result<()> {
    let doc = JsonReport {
        format: "mapgov-report",
        version: 1,
        report,
        snapshot,
    };
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)
}

fn severity_style(s: Severity) -> Style {
    match s {
        Severity::Critical => AnsiColor::Red.on_default().bold(),
        Severity::Warning => AnsiColor::Yellow.on_default().bold(),
        Severity::Info => AnsiColor::Cyan.on_default(),
    }
}

fn short_file(file: &str) -> &str {
    file.rsplit('/').next().unwrap_or(file)
}

/// Prints the table of the top sites and the findings.
pub(crate) fn human(
    out: &mut dyn Write,
    title: &str,
    report: &Report,
    snapshot: &Snapshot,
    top: usize,
) -> std::io::Result<()> {
    let bold = Style::new().bold();
    writeln!(
        out,
        "{bold}{title}{bold:#}: {} live maps at {} sites, {} in tables, {} tracked individually\n",
        snapshot.total_maps(),
        snapshot.sites.iter().filter(|s| s.maps_live > 0).count(),
        human_bytes(snapshot.total_bytes()),
        snapshot.maps.len()
    )?;
    let mut table = Table::new();
    table.load_preset(presets::NOTHING);
    table.set_header([
        "site",
        "name",
        "maps",
        "entries",
        "memory",
        "wasted",
        "grows",
        "worst stall",
    ]);
    let mut sites: Vec<_> = snapshot.sites.iter().collect();
    sites.sort_by(|a, b| {
        b.allocated_bytes
            .cmp(&a.allocated_bytes)
            .then(b.grows.cmp(&a.grows))
    });
    for s in sites.iter().take(top) {
        table.add_row([
            format!(
                "{}:{}:{}",
                short_file(&s.site.file),
                s.site.line,
                s.site.column
            ),
            s.name.clone().unwrap_or_else(|| "-".to_owned()),
            format!("{}/{}", s.maps_live, s.maps_created),
            s.entries.to_string(),
            human_bytes(s.allocated_bytes),
            human_bytes(s.wasted_bytes),
            s.grows.to_string(),
            if s.resize_max_nanos > 0 {
                human_duration(std::time::Duration::from_nanos(s.resize_max_nanos))
            } else {
                "-".to_owned()
            },
        ]);
    }
    for i in 2..8 {
        if let Some(col) = table.column_mut(i) {
            col.set_cell_alignment(CellAlignment::Right);
        }
    }
    writeln!(
        out,
        "{bold}Top sites by memory{bold:#} (maps: live/created)"
    )?;
    writeln!(out, "{table}\n")?;
    if report.findings.is_empty() {
        writeln!(out, "{bold}No findings{bold:#}: every map looks healthy.")?;
        return Ok(());
    }
    writeln!(out, "{bold}Findings ({}){bold:#}", report.findings.len())?;
    for f in &report.findings {
        finding(out, f)?;
    }
    Ok(())
}

fn finding(out: &mut dyn Write, f: &Finding) -> std::io::Result<()> {
    let style = severity_style(f.severity);
    let name = f
        .name
        .as_deref()
        .map(|n| format!(" {n:?}"))
        .unwrap_or_default();
    writeln!(
        out,
        "\n{style}[{}]{style:#} {} at {}{name}",
        f.severity, f.kind, f.site
    )?;
    writeln!(out, "  {}", f.summary)?;
    let evidence: Vec<String> = f
        .evidence
        .iter()
        .map(|e| match e.unit.as_str() {
            "bytes" => format!("{}={}", e.name, human_bytes(e.value as u64)),
            "seconds" => format!(
                "{}={}",
                e.name,
                human_duration(std::time::Duration::from_secs_f64(e.value.max(0.0)))
            ),
            "ratio" => format!("{}={:.2}", e.name, e.value),
            _ if e.value.fract() == 0.0 || e.value.abs() >= 100.0 => {
                format!("{}={:.0}", e.name, e.value)
            }
            _ => format!("{}={:.2}", e.name, e.value),
        })
        .collect();
    writeln!(out, "  evidence: {}", evidence.join(", "))?;
    writeln!(out, "  advice: {}", f.advice)
}
