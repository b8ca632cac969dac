//! Builds a few governed maps the way a small service would, then prints the process's
//! snapshot as a table: every creation site with its maps, entries, memory, waste and growth.
//!
//! Run it with `cargo run --release -p mapgov --example snapshot_table`.

use mapgov::{HashMap, HashSet};

fn kib(bytes: u64) -> String {
    if bytes >= 1 << 20 {
        format!("{:.1} MiB", bytes as f64 / (1u64 << 20) as f64)
    } else {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    }
}

fn main() {
    // A session table that is pre-sized: healthy.
    let mut sessions: HashMap<u64, String> = HashMap::with_capacity(50_000).named("sessions");
    for id in 0..40_000u64 {
        sessions.insert(id, format!("user-{id}"));
    }

    // A cache that was filled, then mostly evicted: its table keeps the memory.
    let mut cache: HashMap<u64, [u8; 32]> = HashMap::new().named("render-cache");
    for k in 0..200_000u64 {
        cache.insert(k, [0; 32]);
    }
    cache.retain(|k, _| k % 50 == 0);

    // An index built with collect(): attributed to this file by the backtrace fallback.
    let index: HashMap<String, usize> = (0..20_000).map(|i| (format!("key-{i}"), i)).collect();

    // Many small per-request sets, created and dropped.
    for request in 0..10_000u64 {
        let mut seen: HashSet<u64> = HashSet::new();
        for i in 0..8 {
            seen.insert(request * 8 + i);
        }
        std::hint::black_box(&seen);
    }

    let snapshot = mapgov::snapshot();
    println!(
        "{:<44} {:<14} {:>6} {:>8} {:>10} {:>10} {:>6} {:>10}",
        "site", "name", "live", "entries", "memory", "wasted", "grows", "worst"
    );
    for s in &snapshot.sites {
        let file = s.site.file.rsplit('/').next().unwrap_or(&s.site.file);
        println!(
            "{:<44} {:<14} {:>6} {:>8} {:>10} {:>10} {:>6} {:>8.2}ms",
            format!("{file}:{}:{}", s.site.line, s.site.column),
            s.name.as_deref().unwrap_or("-"),
            s.maps_live,
            s.entries,
            kib(s.allocated_bytes),
            kib(s.wasted_bytes),
            s.grows,
            s.resize_max_nanos as f64 / 1e6,
        );
    }
    println!(
        "\n{} live maps, {} in tables; {} tracked individually",
        snapshot.total_maps(),
        kib(snapshot.total_bytes()),
        snapshot.maps.len()
    );
    drop((sessions, cache, index));
}
