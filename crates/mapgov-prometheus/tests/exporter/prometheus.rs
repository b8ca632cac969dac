//! A real Prometheus server scrapes this process and its API returns exactly what the
//! snapshot holds, labels included: the exposition is parsed by Prometheus itself, in both
//! formats (OpenMetrics, which Prometheus asks for, and the Prometheus text format).

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mapgov::split_map::TABLE_MAX_ENTRIES;
use mapgov::{HashMap, HashSet, SiteStats, SplitMap};
use serde_json::Value;

use crate::support::{TempDir, agent, metric_names_in, setup, tool};

/// Names whose characters the formats must escape or carry through untouched.
const NAMES: [&str; 5] = [
    "prom-plain",
    "prom \"quoted\"",
    "prom back\\slash \\n not a newline",
    "prom new\nline",
    "prom ünïcødé 名前 ✓ \u{1F5FA}",
];

/// Reads one number of a site.
type Field = fn(&SiteStats) -> u64;

/// A Prometheus process, killed (and waited for) on drop, with its log for failure messages.
struct Prometheus {
    child: Child,
    url: String,
    dir: TempDir,
}

impl Prometheus {
    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// Starts Prometheus on a free loopback port, scraping `target` every second with two jobs:
/// `openmetrics` (Prometheus' own Accept header) and `text` (`?format=prometheus`).
fn start_prometheus(binary: &std::path::Path, target: SocketAddr) -> Prometheus {
    let mut last_log = String::new();
    for _attempt in 0..3 {
        let dir = TempDir::new("prometheus");
        let config = format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n\
             \x20 - job_name: openmetrics\n    static_configs:\n      - targets: ['{target}']\n\
             \x20 - job_name: text\n    params:\n      format: [prometheus]\n    static_configs:\n      - targets: ['{target}']\n"
        );
        let config_path = dir.path().join("prometheus.yml");
        std::fs::write(&config_path, config).unwrap();
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
        let child = Command::new(binary)
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start prometheus");
        let mut p = Prometheus {
            child,
            url: format!("http://127.0.0.1:{port}"),
            dir,
        };
        let a = agent(Duration::from_secs(2));
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_exited)) = p.child.try_wait() {
                break; // e.g. the port was taken meanwhile: try another
            }
            if let Ok(r) = a.get(&format!("{}/-/ready", p.url)).call()
                && r.status() == 200
            {
                return p;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        last_log = p.log();
    }
    panic!("prometheus did not become ready; its log:\n{last_log}");
}

/// `GET /api/v1/<path>` with query parameters; the `data` of a successful answer.
fn api(p: &Prometheus, path: &str, params: &[(&str, &str)]) -> Result<Value, String> {
    let a = agent(Duration::from_secs(10));
    let mut req = a.get(&format!("{}/api/v1/{path}", p.url));
    for (k, v) in params {
        req = req.query(*k, *v);
    }
    let mut resp = req.call().map_err(|e| e.to_string())?;
    let body = resp
        .body_mut()
        .read_to_string()
        .map_err(|e| e.to_string())?;
    let v: Value = serde_json::from_str(&body).map_err(|e| format!("{e}: {body}"))?;
    if v["status"] != "success" {
        return Err(body);
    }
    Ok(v["data"].clone())
}

/// Waits (at most 30 s) until both jobs' targets are up.
fn wait_for_targets(p: &Prometheus) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = Value::Null;
    while Instant::now() < deadline {
        if let Ok(data) = api(p, "targets", &[("state", "active")]) {
            let up: Vec<&str> = data["activeTargets"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|t| t["health"] == "up")
                .filter_map(|t| t["labels"]["job"].as_str())
                .collect();
            if up.contains(&"openmetrics") && up.contains(&"text") {
                return;
            }
            last = data;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!(
        "targets not up within 30 s: {last:#}\nprometheus log:\n{}",
        p.log()
    );
}

/// The value of each series of `query`, by its (`job`, `name`) labels.
fn values_by_name(p: &Prometheus, query: &str) -> BTreeMap<(String, String), f64> {
    let data =
        api(p, "query", &[("query", query)]).unwrap_or_else(|e| panic!("query {query}: {e}"));
    data["result"]
        .as_array()
        .expect("a vector result")
        .iter()
        .map(|r| {
            let job = r["metric"]["job"].as_str().unwrap_or_default().to_owned();
            let name = r["metric"]["name"].as_str().unwrap_or_default().to_owned();
            let value: f64 = r["value"][1].as_str().unwrap().parse().unwrap();
            ((job, name), value)
        })
        .collect()
}

#[test]
fn a_real_prometheus_scrapes_the_snapshot_values_and_exact_labels() {
    setup();
    let Some(binary) = tool("prometheus") else {
        return;
    };

    // Maps with distinct, stable numbers; nothing touches them while Prometheus looks.
    let mut maps: Vec<HashMap<u64, u64>> = Vec::new();
    for (i, name) in NAMES.iter().enumerate() {
        let n = 1_000 * (i as u64 + 1);
        let mut m = HashMap::new().named(name);
        for k in 0..n {
            m.insert(k, k);
        }
        for k in 0..n / 2 {
            m.insert(k, k + 1); // updates
        }
        for k in 0..(i as u64 * 10) {
            m.remove(&k);
        }
        for k in 0..(n + 7 * i as u64) {
            let _ = m.get(&k);
        }
        maps.push(m);
    }
    let mut set: HashSet<u32> = HashSet::new().named("prom-set");
    set.extend(0..100);
    // A split map that split, for the dashboard's split-map panel.
    let mut split: SplitMap<u64, u64> = SplitMap::new().named("prom-split");
    split.extend((0..TABLE_MAX_ENTRIES as u64 + 1).map(|i| (i, i)));

    let server = mapgov_prometheus::serve("127.0.0.1:0".parse().unwrap()).expect("serve");
    let prometheus = start_prometheus(&binary, server.local_addr());
    wait_for_targets(&prometheus);

    let snapshot = mapgov::snapshot();
    let site = |name: &str| -> &SiteStats {
        snapshot
            .sites
            .iter()
            .find(|s| s.name.as_deref() == Some(name))
            .unwrap_or_else(|| panic!("site {name:?} in the snapshot"))
    };
    let checks: [(&str, Field); 11] = [
        ("mapgov_entries", |s| s.entries),
        ("mapgov_allocated_bytes", |s| s.allocated_bytes),
        ("mapgov_maps", |s| s.maps_live),
        ("mapgov_ops_total{op=\"insert\"}", |s| s.inserts),
        ("mapgov_ops_total{op=\"update\"}", |s| s.updates),
        ("mapgov_ops_total{op=\"remove\"}", |s| s.removes),
        ("mapgov_ops_total{op=\"hit\"}", |s| s.hits),
        ("mapgov_ops_total{op=\"miss\"}", |s| s.misses),
        ("mapgov_resizes_total{kind=\"grow\"}", |s| s.grows),
        ("mapgov_resize_duration_seconds_count", |s| s.timed_resizes),
        ("mapgov_resize_duration_seconds_bucket{le=\"+Inf\"}", |s| {
            s.resize_buckets.iter().sum()
        }),
    ];
    let mut compared = 0;
    for (query, field) in checks {
        let got = values_by_name(&prometheus, query);
        for name in NAMES.iter().chain(&["prom-set"]) {
            let want = field(site(name)) as f64;
            for job in ["openmetrics", "text"] {
                let value = got.get(&(job.to_owned(), name.to_string()));
                assert_eq!(
                    value,
                    Some(&want),
                    "{query} for name {name:?} scraped by job {job}: Prometheus has {got:?}"
                );
                compared += 1;
            }
        }
    }
    assert_eq!(compared, 11 * 6 * 2);
    assert_eq!(site("prom-plain").inserts, 1_000);

    // The info metric's type names survive too.
    let info = api(
        &prometheus,
        "query",
        &[("query", "mapgov_map_types_info{name=\"prom-set\"}")],
    )
    .unwrap();
    let result = info["result"].as_array().unwrap();
    assert_eq!(result.len(), 2, "{info:#}");
    for r in result {
        assert_eq!(r["metric"]["key_type"], "u32");
        assert_eq!(r["metric"]["value_type"], "()");
    }

    // The split map's tables and splits, from its tracked map's stats.
    let split_stats = snapshot
        .map_named("prom-split")
        .expect("a tracked split map");
    assert!(split_stats.tables > 1, "{split_stats:?}");
    for (query, want) in [
        ("mapgov_tables", split_stats.tables),
        ("mapgov_splits", split_stats.splits),
    ] {
        let got = values_by_name(&prometheus, query);
        for job in ["openmetrics", "text"] {
            assert_eq!(
                got.get(&(job.to_owned(), "prom-split".to_owned())),
                Some(&(want as f64)),
                "{query} scraped by job {job}: Prometheus has {got:?}"
            );
        }
    }

    // Every query of the dashboard parses and evaluates (Grafana's variables filled in).
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../dashboards/mapgov.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let mut exprs = Vec::new();
    crate::dashboard::collect_strings(&dashboard, "expr", &mut exprs);
    assert!(exprs.len() >= 15, "{exprs:?}");
    for expr in &exprs {
        let promql = expr
            .replace("$__rate_interval", "1m")
            .replace("$__range", "1h")
            .replace("$instance", ".*")
            .replace("$site", ".*")
            .replace("$name", ".*");
        let data = api(&prometheus, "query", &[("query", &promql)])
            .unwrap_or_else(|e| panic!("dashboard query {promql}: {e}"));
        // Gauges have data after one scrape; rates and p99 may need more samples or buckets.
        let needs_history = ["rate(", "increase(", "histogram_quantile"]
            .iter()
            .any(|f| promql.contains(f));
        if !needs_history
            && metric_names_in(&promql)
                .iter()
                .all(|n| n != "mapgov_budget_exceeded_total")
        {
            assert!(
                !data["result"].as_array().unwrap().is_empty(),
                "dashboard query {promql} has no data"
            );
        }
    }
    drop(prometheus);
    server.shutdown();
    drop((maps, set, split));
}
