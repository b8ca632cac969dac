//! Rendering cost with 10,000 tracked maps: `cargo bench -p mapgov-prometheus --bench render`.
//!
//! Three shapes of process: 10,000 maps created at one line (one series), and 10,000 maps with
//! 10,000 distinct names (10,000 site and name pairs), rendered with the default cap (200
//! series plus `other`) and without a cap. The snapshot alone is measured too, to separate
//! mapgov's copy of the registry from the encoding. Output sizes are printed once.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use mapgov::HashMap;
use mapgov_prometheus::{Format, MapgovCollector};
use prometheus_client::registry::Registry;

const MAPS: usize = 10_000;

fn registry(max_sites: usize) -> Registry {
    let mut r = Registry::default();
    r.register_collector(Box::new(MapgovCollector::new().max_sites(max_sites)));
    r
}

fn encode(r: &Registry) -> String {
    let mut out = String::new();
    prometheus_client::encoding::prometheus_text::encode(&mut out, r).unwrap();
    out
}

fn one_site() -> Vec<HashMap<u64, u64>> {
    (0..MAPS)
        .map(|i| {
            let mut m = HashMap::new();
            m.insert(i as u64, 1);
            m
        })
        .collect()
}

fn distinct_names() -> Vec<HashMap<u64, u64>> {
    (0..MAPS)
        .map(|i| {
            let mut m = HashMap::new().named(&format!("bench-map-{i:05}"));
            for k in 0..8 {
                m.insert(k, k);
            }
            m
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    // Every map tracked individually, as the 10,000 "tracked maps" of the benchmark ask.
    let _ = mapgov::Config::default().track_min_bytes(0).install();

    let maps = one_site();
    let r = registry(mapgov_prometheus::DEFAULT_MAX_SITES);
    let out = encode(&r);
    eprintln!(
        "one site, {} tracked maps: {} bytes, {} lines",
        mapgov::snapshot().maps.len(),
        out.len(),
        out.lines().count()
    );
    c.bench_function("snapshot/10k maps, one site", |b| {
        b.iter(|| black_box(mapgov::snapshot()))
    });
    c.bench_function("render/10k maps, one site", |b| {
        b.iter(|| black_box(encode(&r)))
    });
    drop(maps);

    let maps = distinct_names();
    let capped = registry(mapgov_prometheus::DEFAULT_MAX_SITES);
    let uncapped = registry(usize::MAX);
    for (label, r) in [("default cap", &capped), ("no cap", &uncapped)] {
        let out = encode(r);
        eprintln!(
            "10k names, {label}: {} bytes, {} lines",
            out.len(),
            out.lines().count()
        );
    }
    let om = mapgov_prometheus::render_as(Format::OpenMetrics);
    eprintln!(
        "10k names, render_as(OpenMetrics), default cap: {} bytes",
        om.len()
    );
    c.bench_function("snapshot/10k maps, 10k names", |b| {
        b.iter(|| black_box(mapgov::snapshot()))
    });
    c.bench_function("render/10k maps, 10k names, default cap", |b| {
        b.iter(|| black_box(encode(&capped)))
    });
    c.bench_function("render/10k maps, 10k names, no cap", |b| {
        b.iter(|| black_box(encode(&uncapped)))
    });
    drop(maps);
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
