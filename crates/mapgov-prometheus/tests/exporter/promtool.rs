//! `promtool check metrics`: the exposition parses and has no lint complaint.

use std::io::Write;
use std::process::{Command, Stdio};

use mapgov::split_map::TABLE_MAX_ENTRIES;
use mapgov::{HashMap, HashSet, SplitMap};
use mapgov_prometheus::{Format, MapgovCollector, render};
use prometheus_client::registry::Registry;

use crate::support::{setup, tool};

/// Runs `promtool check metrics` on `text`; returns its exit success and everything it said.
fn promtool_check(promtool: &std::path::Path, text: &str) -> (bool, String) {
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .expect("feed promtool");
    let out = child.wait_with_output().expect("promtool output");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), said)
}

/// Maps of every kind the exposition describes: named and not, sets, grown, gutted, a split
/// map that split, and named with every character the text format must escape.
fn varied_maps() -> Vec<Box<dyn std::any::Any>> {
    let mut grown: HashMap<u64, String> = HashMap::new().named("promtool-grown");
    for i in 0..5_000 {
        grown.insert(i, i.to_string());
    }
    for i in 0..4_900 {
        grown.remove(&i);
    }
    let _ = grown.get(&4_999);
    let _ = grown.get(&1);
    let mut unnamed: HashMap<u32, u32> = HashMap::new();
    unnamed.insert(1, 1);
    unnamed.insert(1, 2);
    let mut set: HashSet<&'static str> = HashSet::new().named("promtool-set");
    set.insert("a");
    let mut weird: HashMap<u8, u8> =
        HashMap::new().named("promtool \"quoted\" back\\slash new\nline ünï 名前 ✓");
    weird.insert(1, 1);
    let mut split: SplitMap<u64, u64> = SplitMap::new().named("promtool-split");
    split.extend((0..TABLE_MAX_ENTRIES as u64 + 1).map(|i| (i, i)));
    vec![
        Box::new(grown),
        Box::new(unnamed),
        Box::new(set),
        Box::new(weird),
        Box::new(split),
    ]
}

#[test]
fn promtool_accepts_the_exposition_without_lint_complaints() {
    setup();
    let _maps = varied_maps();
    let Some(promtool) = tool("promtool") else {
        return;
    };
    let text = render();
    assert!(text.contains("promtool-grown"), "{text}");
    assert!(
        text.contains("mapgov_splits{") && text.contains("mapgov_tables{"),
        "{text}"
    );
    let (ok, said) = promtool_check(&promtool, &text);
    assert!(
        ok && said.trim().is_empty(),
        "promtool: {said}\n--- exposition:\n{text}"
    );

    // The folded series, too.
    let mut registry = Registry::default();
    registry.register_collector(Box::new(MapgovCollector::new().max_sites(1)));
    let mut capped = String::new();
    prometheus_client::encoding::prometheus_text::encode(&mut capped, &registry).unwrap();
    assert!(capped.contains("site=\"other\""), "{capped}");
    let (ok, said) = promtool_check(&promtool, &capped);
    assert!(
        ok && said.trim().is_empty(),
        "promtool: {said}\n--- exposition:\n{capped}"
    );
}

#[test]
fn every_metric_has_help_and_type_in_both_formats() {
    setup();
    let _maps = varied_maps();
    for format in [Format::Prometheus, Format::OpenMetrics] {
        let text = mapgov_prometheus::render_as(format);
        let helps: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# HELP "))
            .collect();
        let types: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .collect();
        assert_eq!(helps.len(), types.len(), "{format:?}");
        assert!(helps.len() >= 19, "{format:?}: {} families", helps.len());
        for h in &helps {
            let (name, help) = h.split_once(' ').expect("HELP name text");
            assert!(name.starts_with("mapgov_"), "{name}");
            assert!(help.len() > 10, "{name}: {help:?}");
            // OpenMetrics HELP must escape these; our texts avoid them.
            assert!(!help.contains(['"', '\\']), "{name}: {help:?}");
        }
        for sample in crate::support::sample_names(&text) {
            assert!(sample.starts_with("mapgov_"), "{format:?}: {sample}");
        }
    }
    let om = mapgov_prometheus::render_as(Format::OpenMetrics);
    assert!(om.ends_with("# EOF\n"));
    assert!(om.contains("# UNIT mapgov_allocated_bytes bytes\n"), "{om}");
    assert!(om.contains("# TYPE mapgov_map_types info\n"), "{om}");
    assert!(om.contains("# TYPE mapgov_ops counter\n"), "{om}");
}
