//! A [`Report`] as an aligned text table or as Markdown (JSON is serde's).

use std::fmt::Write as _;

use crate::report::{Build, ConfigInfo, Mode, ModeReport, Report, Row, Subject, Summary, Target};

const HEADERS: [&str; 15] = [
    "hasher",
    "workload",
    "unit",
    "hashbrown min/med/max",
    "std min/med/max",
    "mapgov min/med/max",
    "vs hashbrown",
    "vs std",
    "A/A",
    "switch floor",
    "target",
    "",
    "split min/med/max",
    "split vs hashbrown",
    "split target",
];

/// Columns holding numbers (right-aligned).
const NUMERIC: [usize; 9] = [3, 4, 5, 6, 7, 8, 9, 12, 13];

/// A number with about three significant digits (whole numbers for bytes).
///
/// # Examples
///
/// ```
/// use mapgov_bench::render::num;
/// assert_eq!(num(85.234, "ns/op"), "85.2");
/// assert_eq!(num(4.5678, "ns/op"), "4.57");
/// assert_eq!(num(1234.5, "ms"), "1234");
/// assert_eq!(num(64.0, "bytes"), "64");
/// ```
pub fn num(v: f64, unit: &str) -> String {
    let a = v.abs();
    if unit == "bytes" || a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn cell(s: &Summary, unit: &str) -> String {
    if s.min == s.max {
        num(s.median, unit)
    } else {
        format!(
            "{} / {} / {}",
            num(s.min, unit),
            num(s.median, unit),
            num(s.max, unit)
        )
    }
}

fn status(row: &Row, subject: Subject) -> &'static str {
    match row.target_of(subject) {
        Some((_, true)) => "met",
        Some((_, false)) => "MISSED",
        None => "",
    }
}

fn cells(row: &Row) -> [String; 15] {
    let unit = row.unit.as_str();
    [
        row.hasher.name().to_owned(),
        row.label.clone(),
        unit.to_owned(),
        cell(&row.variants.hashbrown, unit),
        cell(&row.variants.std, unit),
        cell(&row.variants.mapgov, unit),
        format!("{:.3}", row.ratio_vs_hashbrown),
        format!("{:.3}", row.ratio_vs_std),
        format!("{:.3}", row.control_ratio_vs_hashbrown),
        row.switch_ratio_vs_hashbrown
            .map_or(String::new(), |r| format!("{r:.3}")),
        row.target.map_or(String::new(), |t| t.to_string()),
        status(row, Subject::Mapgov).to_owned(),
        cell(&row.variants.split, unit),
        format!("{:.3}", row.split_ratio_vs_hashbrown),
        row.split_target.map_or(String::new(), |t| {
            let stall = row.stall_floor.as_ref().map_or(String::new(), |s| {
                format!(" (stall floor {})", cell(s, unit))
            });
            format!("{t} {}{stall}", status(row, Subject::Split))
        }),
    ]
}

/// What a mode's configuration means, in words.
pub fn describe_config(mode: Mode, c: &ConfigInfo) -> String {
    let env = mode
        .env()
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ");
    let env = if env.is_empty() {
        "no MAPGOV_* variable".to_owned()
    } else {
        env
    };
    if !c.enabled {
        return format!("{env}: governance off");
    }
    format!(
        "{env}: maps tracked from {} table bytes, lookups counted 1 in {}, resizes timed from {} bytes",
        c.track_min_bytes, c.lookup_sample, c.time_min_bytes
    )
}

/// The value a target is checked against: the ratio (with each process's, when the mode ran
/// in several that did not all measure the same), or the map's median for absolute targets
/// (the median of the processes' medians, with several).
fn checked_value(row: &Row, subject: Subject) -> String {
    match row.target_of(subject) {
        Some((Target::MaxValue(_), _)) => format!(
            "{} {}",
            num(row.checked_median(subject), &row.unit),
            row.unit
        ),
        _ if row
            .per_process
            .windows(2)
            .any(|w| w[0].ratio_of(subject) != w[1].ratio_of(subject)) =>
        {
            let each: Vec<String> = row
                .per_process
                .iter()
                .map(|p| format!("{:.3}", p.ratio_of(subject)))
                .collect();
            format!("{:.3} ({})", row.ratio_of(subject), each.join(", "))
        }
        _ => format!("{:.3}", row.ratio_of(subject)),
    }
}

/// The floor of `subject`'s target on `row`, where one was measured: the switch floor against
/// `HashMap`'s target (its ratio, or value), or the machine's stall floor against
/// `SplitMap`'s worst-insert target (prefixed `stall`), and whether it meets the target.
fn floor_text(row: &Row, subject: Subject) -> String {
    let met = |met: bool| if met { "met" } else { "MISSED" };
    match subject {
        Subject::Mapgov => {
            let (Some(ratio), Some(floor_met), Some(median)) = (
                row.switch_ratio_vs_hashbrown,
                row.switch_met,
                row.checked_floor_median(),
            ) else {
                return String::new();
            };
            let value = match row.target {
                Some(Target::MaxValue(_)) => format!("{} {}", num(median, &row.unit), row.unit),
                _ => format!("{ratio:.3}"),
            };
            format!("{value} {}", met(floor_met))
        }
        Subject::Split => {
            let (Some(median), Some(stall_met)) = (row.checked_stall_median(), row.stall_met)
            else {
                return String::new();
            };
            format!(
                "stall {} {} {}",
                num(median, &row.unit),
                row.unit,
                met(stall_met)
            )
        }
    }
}

/// The target of `subject` on `row`, as text.
fn target_text(row: &Row, subject: Subject) -> String {
    row.target_of(subject)
        .map_or(String::new(), |(t, _)| t.to_string())
}

/// The compiler and flags the run's `mapbench` was built with, and whether its loops were
/// aligned.
fn build_line(build: &Build) -> String {
    if build.rustc.is_empty() {
        // A report of format 6 or before, re-rendered.
        return "build: not recorded".to_owned();
    }
    let flags = if build.rustflags.is_empty() {
        "no flags".to_owned()
    } else {
        format!("flags {}", build.rustflags.join(" "))
    };
    let loops = match build.loop_alignment() {
        Some(n) => format!("every loop aligned to {n} bytes"),
        None => "loops NOT aligned; the workspace aligns them on x86-64 unless a RUSTFLAGS \
                 variable replaces its flags: where the linker puts a hot loop can move a row \
                 by 10 %"
            .to_owned(),
    };
    format!("build: {}, {flags} ({loops})", build.rustc)
}

fn preamble(report: &Report) -> Vec<String> {
    let m = &report.machine;
    let mut lines = vec![
        format!("command: {}", report.command),
        format!("machine: {} cores, {}, {}", m.cores, m.cpu, m.os),
        build_line(&report.build),
    ];
    if report.quick {
        lines.push("QUICK RUN: small sizes, few repetitions; the figures mean little".to_owned());
    }
    lines.push(
        "cells: min / median / max over the repetitions, the variants interleaved; \
         ratios: mapgov's median over hashbrown's (std's) with the same hasher, measured in the \
         same process; for Mops/s higher is better; split = mapgov::SplitMap; A/A = the \
         control (hashbrown's map again, under another type) over hashbrown: the harness's own \
         error on the row; switch floor (MAPGOV=off only) = hashbrown's map behind a test of an \
         off switch in every operation (the least a map that can be switched off while the \
         process runs costs) over hashbrown, held to HashMap's target: where it meets a target \
         HashMap misses, the miss is HashMap's in that loop; read it with the row's A/A; \
         stall floor (SplitMap's worst insert, default configuration) = after each SplitMap \
         growth, with the map still held, for as long as the growth took, the longest gap \
         between two readings of the clock in a loop that does nothing else: a sample of what \
         the machine alone (preemption, interrupts, the hypervisor) keeps a thread from \
         running in a run that long, held to the worst insert's target: where it misses, the \
         worst insert's verdict is the machine's as much as the map's"
            .to_owned(),
    );
    let processes = report.modes.iter().map(|m| m.processes).max().unwrap_or(1);
    if processes > 1 {
        lines.push(format!(
            "each mode measured in {processes} processes, one after another in rounds: cells pool \
             every process's repetitions; a ratio is the median of the processes' own ratios \
             (listed in the targets, in the order run)"
        ));
    }
    lines
}

fn mode_title(mr: &ModeReport) -> String {
    let processes = if mr.processes > 1 {
        format!(" in {} processes", mr.processes)
    } else {
        String::new()
    };
    format!(
        "mode {} ({}), {:.0} s{processes}",
        mr.mode,
        describe_config(mr.mode, &mr.config),
        mr.elapsed_secs
    )
}

/// The report as aligned plain-text tables, one per mode, then the targets.
pub fn table(report: &Report) -> String {
    let mut out = String::new();
    for line in preamble(report) {
        let _ = writeln!(out, "{line}");
    }
    for mr in &report.modes {
        let _ = writeln!(out, "\n{}", mode_title(mr));
        let rows: Vec<[String; 15]> = mr.rows.iter().map(cells).collect();
        let mut widths = HEADERS.map(str::len);
        for r in &rows {
            for (w, c) in widths.iter_mut().zip(r) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |out: &mut String, cols: &[String]| {
            let mut s = String::new();
            for (i, (c, w)) in cols.iter().zip(widths).enumerate() {
                // Text columns left-aligned, numbers right-aligned.
                if !NUMERIC.contains(&i) {
                    let _ = write!(s, "{c:<w$}  ");
                } else {
                    let _ = write!(s, "{c:>w$}  ");
                }
            }
            let _ = writeln!(out, "{}", s.trim_end());
        };
        line(&mut out, &HEADERS.map(str::to_owned));
        let total: usize = widths.iter().sum::<usize>() + 2 * (widths.len() - 1);
        let _ = writeln!(out, "{}", "-".repeat(total.min(200)));
        for r in &rows {
            line(&mut out, r);
        }
    }
    let _ = writeln!(out, "\ntargets");
    let (met, missed) = tally(report);
    for (mode, row, subject) in report.targets() {
        let line = format!(
            "  {:<8}  {:<7}  {:<8}  {:<34}  {:>28}  A/A {:.3}  {:<8}  {:<6}  {}",
            subject.name(),
            mode.name(),
            row.hasher.name(),
            row.label,
            checked_value(row, subject),
            row.control_ratio_vs_hashbrown,
            target_text(row, subject),
            status(row, subject),
            match (floor_text(row, subject), subject) {
                (f, _) if f.is_empty() => f,
                (f, Subject::Mapgov) => format!("switch floor {f}"),
                (f, Subject::Split) => format!("machine {f}"),
            }
        );
        let _ = writeln!(out, "{}", line.trim_end());
    }
    let _ = writeln!(out, "{met} met, {missed} missed");
    for floors in [floor_tally(report), stall_tally(report)]
        .into_iter()
        .flatten()
    {
        let _ = writeln!(out, "{floors}");
    }
    out
}

fn tally(report: &Report) -> (usize, usize) {
    let met = report
        .targets()
        .filter(|&(_, r, s)| matches!(r.target_of(s), Some((_, true))))
        .count();
    let missed = report
        .targets()
        .filter(|&(_, r, s)| matches!(r.target_of(s), Some((_, false))))
        .count();
    (met, missed)
}

/// The switch floor's targets, where it was timed (`None` if nowhere), in words: how many it
/// missed, and how many of those `HashMap` missed it met (misses that are `HashMap`'s own).
fn floor_tally(report: &Report) -> Option<String> {
    let floors: Vec<(bool, bool)> = report
        .targets()
        .filter_map(|(_, r, s)| match (s, r.target_of(s), r.switch_met) {
            (Subject::Mapgov, Some((_, met)), Some(floor_met)) => Some((met, floor_met)),
            _ => None,
        })
        .collect();
    if floors.is_empty() {
        return None;
    }
    let missed = floors.iter().filter(|(met, _)| !met).count();
    let only_hashmap = floors.iter().filter(|(met, floor)| !met && *floor).count();
    let floor_missed = floors.iter().filter(|(_, floor)| !floor).count();
    Some(format!(
        "the switch floor missed {floor_missed} of the {} targets it was timed on; of the \
         {missed} of those that HashMap missed, it met {only_hashmap}",
        floors.len()
    ))
}

/// The machine's stall floor against `SplitMap`'s worst-insert target, where it was measured
/// (`None` if nowhere), in words: on how many rows the machine alone missed the target.
fn stall_tally(report: &Report) -> Option<String> {
    let stalls: Vec<bool> = report
        .targets()
        .filter(|&(_, _, s)| s == Subject::Split)
        .filter_map(|(_, r, _)| r.stall_met)
        .collect();
    if stalls.is_empty() {
        return None;
    }
    let missed = stalls.iter().filter(|met| !**met).count();
    Some(format!(
        "the machine's stall floor missed SplitMap's worst-insert target on {missed} of the {} \
         rows it was measured on: there a loop that inserts nothing was kept from running \
         longer than the target allows an insert",
        stalls.len()
    ))
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|")
}

/// The report as Markdown: the targets first, then one table per mode.
pub fn markdown(report: &Report) -> String {
    let mut out = String::from("# mapbench\n\n");
    for line in preamble(report) {
        let _ = writeln!(out, "- {}", md_escape(&line));
    }
    let (met, missed) = tally(report);
    let _ = writeln!(
        out,
        "\n## Targets ({met} met, {missed} missed)\n\n{}\
         | map | mode | hasher | workload | vs hashbrown (or value) | A/A | target | | floor |\n\
         |---|---|---|---|---:|---:|---|---|---:|",
        [floor_tally(report), stall_tally(report)]
            .into_iter()
            .flatten()
            .map(|t| {
                let mut t = md_escape(&t);
                t[..1].make_ascii_uppercase();
                format!("{t}.\n\n")
            })
            .collect::<String>()
    );
    for (mode, row, subject) in report.targets() {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {:.3} | {} | {} | {} |",
            subject.name(),
            mode.name(),
            row.hasher.name(),
            md_escape(&row.label),
            checked_value(row, subject),
            row.control_ratio_vs_hashbrown,
            md_escape(&target_text(row, subject)),
            status(row, subject),
            floor_text(row, subject)
        );
    }
    for mr in &report.modes {
        let _ = writeln!(out, "\n## {}\n", md_escape(&mode_title(mr)));
        let _ = writeln!(out, "| {} |", HEADERS.join(" | "));
        let _ = writeln!(
            out,
            "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|---:|---:|---|"
        );
        for r in &mr.rows {
            let c = cells(r).map(|c| md_escape(&c));
            let _ = writeln!(out, "| {} |", c.join(" | "));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{ConfigInfo, Machine, Workload, test_row, test_row_with_floor};

    fn row(workload: Workload, hashbrown: f64, mapgov: f64, split: f64) -> Row {
        let samples = [hashbrown, hashbrown, mapgov, split].map(|v| vec![v]);
        test_row(Mode::Default, workload, samples)
    }

    fn report(rows: Vec<Row>, processes: usize) -> Report {
        report_of(Mode::Default, rows, processes)
    }

    fn report_of(mode: Mode, rows: Vec<Row>, processes: usize) -> Report {
        Report {
            format: crate::FORMAT.to_owned(),
            version: crate::VERSION,
            quick: false,
            command: "mapbench".to_owned(),
            machine: Machine {
                cores: 2,
                cpu: "test".to_owned(),
                os: "test".to_owned(),
            },
            build: Build::from_encoded("rustc 1.95.0", "-C\u{1f}llvm-args=-align-loops=64"),
            modes: vec![ModeReport {
                mode,
                config: ConfigInfo::from(&mapgov::Config::default()),
                rows,
                elapsed_secs: 1.0,
                processes,
            }],
        }
    }

    #[test]
    fn targets_list_each_processs_ratio_only_where_the_processes_differ() {
        let insert = Row::merge(
            Mode::Default,
            &[
                row(Workload::BigInsert, 100.0, 110.0, 100.0),
                row(Workload::BigInsert, 90.0, 93.0, 90.0),
                row(Workload::BigInsert, 100.0, 101.0, 100.0),
            ],
        );
        // HashMap's ratio is the same in every process (not listed); SplitMap's differs.
        let get = Row::merge(
            Mode::Default,
            &[
                row(Workload::BigGetHit, 100.0, 101.0, 120.0),
                row(Workload::BigGetHit, 200.0, 202.0, 200.0),
                row(Workload::BigGetHit, 400.0, 404.0, 520.0),
            ],
        );
        let md = markdown(&report(vec![insert, get], 3));
        assert!(md.contains("each mode measured in 3 processes"), "{md}");
        assert!(md.contains("in 3 processes"), "{md}");
        assert!(
            md.contains("| big_insert | 1.033 (1.100, 1.033, 1.010) | 1.000 | <= 1.05 | met |"),
            "{md}"
        );
        assert!(
            md.contains("| big_get_hit | 1.010 | 1.000 | <= 1.05 | met |"),
            "{md}"
        );
        assert!(
            md.contains("| SplitMap | default | std | big_get_hit | 1.200 (1.200, 1.000, 1.300) |"),
            "{md}"
        );
        let one = markdown(&report(
            vec![row(Workload::BigInsert, 100.0, 101.0, 100.0)],
            1,
        ));
        assert!(!one.contains("processes"), "{one}");
        assert!(
            one.contains("| big_insert | 1.010 | 1.000 | <= 1.05 | met |"),
            "{one}"
        );
    }

    #[test]
    fn the_split_worst_insert_target_shows_the_machines_stall_floor() {
        let worst = |split: f64, stalls: Vec<f64>| {
            row(Workload::GrowthWorst, 300.0, 300.0, split).with_stall_floor(stalls)
        };
        let rows = vec![worst(1.5, vec![1.2, 1.3, 1.25])];
        let md = markdown(&report(rows.clone(), 1));
        assert!(
            md.contains(
                "| SplitMap | default | std | growth_worst | 1.50 ms | 1.000 | <= 1 | MISSED | \
                 stall 1.25 ms MISSED |"
            ),
            "{md}"
        );
        assert!(
            md.contains(
                "The machine's stall floor missed SplitMap's worst-insert target on 1 of the 1 \
                 rows it was measured on"
            ),
            "{md}"
        );
        // The mode's table shows the floor's samples beside SplitMap's target.
        assert!(
            md.contains("| <= 1 MISSED (stall floor 1.20 / 1.25 / 1.30) |"),
            "{md}"
        );
        let text = table(&report(rows, 1));
        assert!(text.contains("machine stall 1.25 ms MISSED"), "{text}");

        // A quiet machine: the floor meets the target, the map's miss is its own.
        let quiet = markdown(&report(vec![worst(1.5, vec![0.2])], 1));
        assert!(quiet.contains("| MISSED | stall 0.20 ms met |"), "{quiet}");
        assert!(quiet.contains("target on 0 of the 1 rows"), "{quiet}");
        // Without a floor, nothing is said of one.
        let none = markdown(&report(
            vec![row(Workload::GrowthWorst, 300.0, 300.0, 1.5)],
            1,
        ));
        assert!(
            !none.contains("| stall") && !none.contains("stall floor missed"),
            "{none}"
        );
    }

    #[test]
    fn off_targets_show_the_switch_floor_and_how_many_it_misses_too() {
        let floor_row = |workload, mapgov: f64, switch: f64| {
            let samples = [100.0, 100.0, mapgov, 100.0].map(|v| vec![v]);
            test_row_with_floor(Mode::Off, workload, samples, Some(vec![switch]))
        };
        let rows = vec![
            floor_row(Workload::BigInsert, 110.0, 101.0),
            floor_row(Workload::BigGetHit, 110.0, 105.0),
            floor_row(Workload::BigGetMiss, 101.0, 100.0),
        ];
        let md = markdown(&report_of(Mode::Off, rows.clone(), 1));
        assert!(
            md.contains("| big_insert | 1.100 | 1.000 | <= 1.02 | MISSED | 1.010 met |"),
            "{md}"
        );
        assert!(
            md.contains("| big_get_hit | 1.100 | 1.000 | <= 1.02 | MISSED | 1.050 MISSED |"),
            "{md}"
        );
        assert!(
            md.contains(
                "The switch floor missed 1 of the 3 targets it was timed on; of the 2 of those \
                 that HashMap missed, it met 1."
            ),
            "{md}"
        );
        // The mode's table has the floor's column.
        assert!(md.contains("| 1.000 | 1.050 | <= 1.02 |"), "{md}");
        let text = table(&report_of(Mode::Off, rows, 1));
        assert!(text.contains("switch floor 1.050 MISSED"), "{text}");
        assert!(
            text.contains("the switch floor missed 1 of the 3 targets"),
            "{text}"
        );
        // Without a floor, nothing is said of one.
        let none = markdown(&report(
            vec![row(Workload::BigInsert, 100.0, 101.0, 100.0)],
            1,
        ));
        assert!(!none.contains("The switch floor"), "{none}");
    }

    #[test]
    fn the_preamble_names_the_build_and_warns_when_its_loops_were_not_aligned() {
        let mut r = report(vec![], 1);
        let text = table(&r);
        assert!(
            text.contains(
                "build: rustc 1.95.0, flags -C llvm-args=-align-loops=64 (every loop aligned \
                 to 64 bytes)"
            ),
            "{text}"
        );
        assert!(!text.contains("NOT aligned"), "{text}");
        r.build = Build::from_encoded("rustc 1.95.0", "-Ctarget-cpu=native");
        let text = markdown(&r);
        assert!(
            text.contains("build: rustc 1.95.0, flags -Ctarget-cpu=native (loops NOT aligned"),
            "{text}"
        );
        r.build = Build::from_encoded("rustc 1.95.0", "");
        assert!(table(&r).contains("build: rustc 1.95.0, no flags (loops NOT aligned"));
        r.build = Build::default();
        assert!(table(&r).contains("build: not recorded\n"));
    }
}
