//! `mapbench --quick` runs every workload in every mode and reports them all, as JSON that
//! parses. Nothing is asserted about time.

use std::process::Command;

use mapgov_bench::{FORMAT, HasherKind, Mode, Report, VERSION, Workload};

/// The workload ids the issue asks for, written out here (not taken from the library) so that
/// dropping one from the harness fails this test.
const WORKLOADS: [&str; 19] = [
    "big_insert",
    "big_get_hit",
    "big_get_miss",
    "big_remove",
    "big_iterate",
    "big_entry_upsert",
    "cache_get_hit",
    "cache_insert_after_clear",
    "small_lifecycle",
    "shared_big_reads",
    "shared_cache_reads",
    "growth_worst",
    "growth_p9999",
    "growth_p999",
    "growth_total",
    "growth_peak_bytes",
    "size_of",
    "heap_small",
    "heap_tracked",
];

#[test]
fn quick_json_run_reports_every_workload_for_every_mode_and_hasher() {
    let output = Command::new(env!("CARGO_BIN_EXE_mapbench"))
        .args(["--quick", "--format", "json"])
        .env("MAPGOV", "off") // must not leak into the default and exact children
        .output()
        .expect("mapbench runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "mapbench failed:\n{stderr}");

    let raw: serde_json::Value = serde_json::from_slice(&output.stdout).expect("stdout is JSON");
    assert_eq!(raw["format"], FORMAT);
    assert_eq!(raw["version"], VERSION);
    let report: Report = serde_json::from_value(raw.clone()).expect("JSON is a mapbench report");
    assert!(report.quick);
    // The build script recorded the compiler (and the flags, whatever they are here).
    assert!(
        report.build.rustc.starts_with("rustc "),
        "{:?}",
        report.build
    );

    let modes: Vec<Mode> = report.modes.iter().map(|m| m.mode).collect();
    assert_eq!(modes, [Mode::Default, Mode::Off, Mode::Exact]);
    for (mode, json_mode) in report.modes.iter().zip(raw["modes"].as_array().unwrap()) {
        assert_eq!(
            mode.config.enabled,
            mode.mode != Mode::Off,
            "{:?}",
            mode.mode
        );
        if mode.mode == Mode::Exact {
            assert_eq!(
                (mode.config.track_min_bytes, mode.config.lookup_sample),
                (0, 1)
            );
        }
        assert_eq!(mode.rows.len(), HasherKind::ALL.len() * WORKLOADS.len());
        for hasher in ["std", "foldhash"] {
            for id in WORKLOADS {
                let row = json_mode["rows"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|r| r["hasher"] == hasher && r["workload"] == id)
                    .unwrap_or_else(|| panic!("{:?}: no row {hasher}/{id}", mode.mode));
                for variant in ["hashbrown", "std", "mapgov", "split", "control"] {
                    let s = &row["variants"][variant];
                    let median = s["median"].as_f64().expect("a median");
                    assert!(
                        median.is_finite() && median > 0.0,
                        "{:?} {hasher}/{id}/{variant}: median {median}",
                        mode.mode
                    );
                    assert!(!s["samples"].as_array().unwrap().is_empty());
                }
                assert!(row["ratio_vs_hashbrown"].as_f64().unwrap().is_finite());
                assert!(row["control_ratio_vs_hashbrown"].as_f64().unwrap() > 0.0);
                // The switch floor is timed with governance off only, and held to HashMap's
                // target there.
                let floor = &row["variants"]["switch"];
                let floor_ratio = row["switch_ratio_vs_hashbrown"].as_f64();
                if mode.mode == Mode::Off {
                    assert!(floor["median"].as_f64().unwrap() > 0.0, "{hasher}/{id}");
                    assert!(floor_ratio.unwrap() > 0.0, "{hasher}/{id}");
                    assert!(row["switch_met"].is_boolean(), "{hasher}/{id}");
                } else {
                    assert!(floor.is_null() && floor_ratio.is_none(), "{hasher}/{id}");
                    assert!(row["switch_met"].is_null(), "{hasher}/{id}");
                }
            }
        }
    }

    // SplitMap's own targets (the never-stalling map) are evaluated in the default mode only.
    let default = report
        .modes
        .iter()
        .find(|m| m.mode == Mode::Default)
        .unwrap();
    for id in [
        "growth_worst",
        "growth_p999",
        "growth_total",
        "growth_peak_bytes",
        "big_get_hit",
    ] {
        let row = default
            .rows
            .iter()
            .find(|r| r.hasher == HasherKind::Std && r.workload.id() == id)
            .unwrap();
        assert!(
            row.split_target.is_some() && row.split_met.is_some(),
            "{id}"
        );
    }
    assert!(
        report
            .modes
            .iter()
            .filter(|m| m.mode != Mode::Default)
            .all(|m| m.rows.iter().all(|r| r.split_target.is_none()))
    );

    // The machine's stall floor is measured after each SplitMap growth where SplitMap's worst
    // insert has its target (the default mode), and held to it; nowhere else.
    for hasher in HasherKind::ALL {
        let worst = default.row(hasher, Workload::GrowthWorst).unwrap();
        let stall = worst.stall_floor.as_ref().expect("a stall floor");
        assert_eq!(stall.samples.len(), worst.variants.split.samples.len());
        assert!(stall.samples.iter().all(|&ms| ms > 0.0 && ms.is_finite()));
        assert_eq!(worst.stall_met, Some(stall.median <= 1.0));
    }
    assert!(report.modes.iter().all(|m| {
        m.rows.iter().all(|r| {
            let expected = m.mode == Mode::Default && r.workload == Workload::GrowthWorst;
            r.stall_floor.is_some() == expected && r.stall_met.is_some() == expected
        })
    }));

    // Governance off costs no memory at all; exact tracking costs some.
    let heap = |mode: Mode, variant: &str| {
        let m = report.modes.iter().find(|m| m.mode == mode).unwrap();
        let row = m.row(HasherKind::Std, Workload::HeapSmall).unwrap();
        row.variants
            .get(match variant {
                "hashbrown" => mapgov_bench::Variant::Hashbrown,
                "switch" => mapgov_bench::Variant::Switch,
                _ => mapgov_bench::Variant::Mapgov,
            })
            .expect("timed in this mode")
            .median
    };
    assert_eq!(heap(Mode::Off, "mapgov"), heap(Mode::Off, "hashbrown"));
    assert_eq!(heap(Mode::Off, "switch"), heap(Mode::Off, "hashbrown"));
    assert!(heap(Mode::Exact, "mapgov") > heap(Mode::Exact, "hashbrown"));

    // The A/A control is hashbrown's map: the same size and heap, in every mode.
    for m in &report.modes {
        for w in [Workload::SizeOf, Workload::HeapSmall, Workload::HeapTracked] {
            let row = m.row(HasherKind::Std, w).unwrap();
            assert_eq!(
                row.variants.control.median, row.variants.hashbrown.median,
                "{:?} {w}",
                m.mode
            );
            assert_eq!(row.control_ratio_vs_hashbrown, 1.0);
        }
    }
}

#[test]
fn several_processes_per_mode_report_each_ones_ratio_and_their_median() {
    let output = Command::new(env!("CARGO_BIN_EXE_mapbench"))
        .args([
            "--quick",
            "--format",
            "json",
            "--processes",
            "2",
            "--suites",
            "small,memory",
            "--modes",
            "off",
        ])
        .output()
        .expect("mapbench runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "mapbench failed:\n{stderr}");
    let report: Report = serde_json::from_slice(&output.stdout).expect("a mapbench report");
    let [mode] = report.modes.as_slice() else {
        panic!("one mode asked for, got {}", report.modes.len());
    };
    assert_eq!((mode.mode, mode.processes), (Mode::Off, 2));
    let small = mode
        .rows
        .iter()
        .find(|r| r.workload.id() == "small_lifecycle")
        .expect("the small-map row");
    let [a, b] = small.per_process.as_slice() else {
        panic!("two processes, got {:?}", small.per_process);
    };
    // The median of two is their mean; each variant pools both processes' repetitions.
    let mean = (a.vs_hashbrown + b.vs_hashbrown) / 2.0;
    assert!((small.ratio_vs_hashbrown - mean).abs() < 1e-12);
    let control_mean = (a.control_vs_hashbrown + b.control_vs_hashbrown) / 2.0;
    assert!((small.control_ratio_vs_hashbrown - control_mean).abs() < 1e-12);
    let (Some(fa), Some(fb)) = (a.switch_vs_hashbrown, b.switch_vs_hashbrown) else {
        panic!("each process timed the switch floor: {a:?} {b:?}");
    };
    let floor = small.switch_ratio_vs_hashbrown.expect("the merged floor");
    assert!((floor - (fa + fb) / 2.0).abs() < 1e-12);
    assert_eq!(small.switch_met, Some(floor <= 1.02));
    let single = Command::new(env!("CARGO_BIN_EXE_mapbench"))
        .args([
            "--quick", "--format", "json", "--suites", "small", "--modes", "off",
        ])
        .output()
        .expect("mapbench runs");
    assert!(
        single.status.success(),
        "mapbench failed:\n{}",
        String::from_utf8_lossy(&single.stderr)
    );
    let single: Report = serde_json::from_slice(&single.stdout).expect("a mapbench report");
    let reps = single.modes[0].rows[0].variants.mapgov.samples.len();
    assert_eq!(small.variants.mapgov.samples.len(), 2 * reps);

    let bad = Command::new(env!("CARGO_BIN_EXE_mapbench"))
        .args(["--quick", "--processes", "0"])
        .output()
        .expect("mapbench runs");
    assert_eq!(bad.status.code(), Some(2), "--processes 0 must be refused");
}
