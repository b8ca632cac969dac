//! The Grafana dashboard and the docs against the live exposition: every metric they name
//! exists.

use std::collections::BTreeSet;
use std::path::Path;

use mapgov::split_map::TABLE_MAX_ENTRIES;
use mapgov::{HashMap, SplitMap};
use serde_json::Value;

use crate::support::{metric_names_in, sample_names, setup};

fn dashboard() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../dashboards/mapgov.json");
    let text = std::fs::read_to_string(&path).expect("dashboards/mapgov.json");
    serde_json::from_str(&text).expect("the dashboard is valid JSON")
}

/// Every string value under `key`, anywhere in `v`.
pub(crate) fn collect_strings(v: &Value, key: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                match child {
                    Value::String(s) if k == key => out.push(s.clone()),
                    _ => collect_strings(child, key, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect_strings(i, key, out)),
        _ => {}
    }
}

/// The maps behind [`full_exposition`], kept alive while a test reads it.
type Maps = (HashMap<u64, u64>, SplitMap<u64, u64>);

/// An exposition in which every metric family has samples (tracked maps give capacity and
/// the largest map, a tracked split map that has split gives tables and splits).
fn full_exposition() -> (String, Maps) {
    setup();
    let mut m: HashMap<u64, u64> = HashMap::new().named("dashboard-check");
    for i in 0..2_000 {
        m.insert(i, i);
    }
    let mut split: SplitMap<u64, u64> = SplitMap::new().named("dashboard-check-split");
    split.extend((0..TABLE_MAX_ENTRIES as u64 + 1).map(|i| (i, i)));
    assert!(split.tables() > 1, "the split map split");
    (mapgov_prometheus::render(), (m, split))
}

#[test]
fn dashboard_queries_use_only_metrics_the_exporter_exposes() {
    let (text, _maps) = full_exposition();
    let exposed = sample_names(&text);
    let d = dashboard();
    let mut queries = Vec::new();
    for key in ["expr", "query", "definition"] {
        collect_strings(&d, key, &mut queries);
    }
    let used: BTreeSet<String> = queries.iter().flat_map(|q| metric_names_in(q)).collect();
    assert!(used.len() >= 12, "{used:?}");
    let missing: Vec<&String> = used.iter().filter(|n| !exposed.contains(*n)).collect();
    assert!(
        missing.is_empty(),
        "the dashboard queries metrics the exporter does not expose: {missing:?}\nexposed: {exposed:?}"
    );
}

#[test]
fn dashboard_is_importable_with_its_datasource_and_filters_as_variables() {
    let d = dashboard();
    assert!(d["title"].as_str().is_some_and(|t| t.contains("mapgov")));
    assert!(d["uid"].is_string() && d["schemaVersion"].as_u64().unwrap() >= 36);
    assert!(
        d.get("id").is_none_or(Value::is_null),
        "an importable dashboard has no id"
    );
    let vars = d["templating"]["list"].as_array().expect("templating.list");
    let var = |name: &str| vars.iter().find(|v| v["name"] == name);
    let ds = var("DS_PROMETHEUS").expect("a DS_PROMETHEUS variable");
    assert_eq!(ds["type"], "datasource");
    assert_eq!(ds["query"], "prometheus");
    for name in ["site", "name"] {
        let v = var(name).unwrap_or_else(|| panic!("a {name} variable"));
        assert_eq!(v["type"], "query");
        assert_eq!(v["multi"], true);
        assert_eq!(v["includeAll"], true);
        assert!(
            v["definition"]
                .as_str()
                .unwrap()
                .contains(&format!(", {name})"))
        );
    }

    let panels = d["panels"].as_array().unwrap();
    let mut ids = BTreeSet::new();
    for p in panels {
        assert!(ids.insert(p["id"].as_u64().unwrap()), "duplicate panel id");
        let pos = &p["gridPos"];
        assert!(pos["w"].as_u64().unwrap() <= 24 && pos["h"].as_u64().unwrap() > 0);
        if p["type"] == "row" {
            continue;
        }
        assert_eq!(p["datasource"]["uid"], "${DS_PROMETHEUS}", "{}", p["title"]);
        let targets = p["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "{}", p["title"]);
        for t in targets {
            assert_eq!(t["datasource"]["uid"], "${DS_PROMETHEUS}");
            let expr = t["expr"].as_str().unwrap();
            if expr.contains("site=~") {
                assert!(expr.contains("site=~\"$site\"") && expr.contains("name=~\"$name\""));
            }
        }
    }
    let titles: Vec<&str> = panels.iter().filter_map(|p| p["title"].as_str()).collect();
    for wanted in [
        "Memory by site",
        "Waste by site",
        "Entries by site",
        "Operations per second by kind",
        "Resizes per second by kind",
        "Resize duration: p99, mean and longest",
        "Largest maps",
        "Budget crossings",
    ] {
        assert!(titles.contains(&wanted), "panel {wanted:?} in {titles:?}");
    }
    let mut exprs = Vec::new();
    collect_strings(&d, "expr", &mut exprs);
    assert!(exprs.iter().any(|e| e.contains("histogram_quantile(0.99")));
}

#[test]
fn the_readme_documents_exactly_the_exported_metrics() {
    let (text, _maps) = full_exposition();
    let exposed = sample_names(&text);
    // Families: histogram samples document as their family name.
    let families: BTreeSet<String> = exposed
        .iter()
        .map(|n| {
            n.strip_suffix("_bucket")
                .or_else(|| n.strip_suffix("_sum"))
                .or_else(|| n.strip_suffix("_count"))
                .unwrap_or(n)
                .to_owned()
        })
        .collect();
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let table: String = readme
        .lines()
        .filter(|l| l.starts_with("| `mapgov_"))
        .collect::<Vec<_>>()
        .join("\n");
    let documented = metric_names_in(&table);
    assert_eq!(documented, families, "README metric table vs exposition");
    let mentioned: BTreeSet<String> = metric_names_in(&readme)
        .into_iter()
        .filter(|n| n != "mapgov_prometheus")
        .collect();
    let unknown: Vec<&String> = mentioned
        .iter()
        .filter(|n| !exposed.contains(*n) && !families.contains(*n))
        .collect();
    assert!(
        unknown.is_empty(),
        "README names unknown metrics: {unknown:?}"
    );
}
