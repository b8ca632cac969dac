//! The demo: a small service's workload on governed maps, with one planted problem of every
//! finding kind next to maps that are healthy.
//!
//! | map | role | what the report should say |
//! |---|---|---|
//! | `sessions` | pre-sized session table | nothing |
//! | `user-cache` | bounded cache with eviction | nothing |
//! | `render-cache` | filled, then 98 % evicted | Waste |
//! | `audit-log` | appended to, never drained | UnboundedGrowth |
//! | `request-scratch` | per-request map built without a capacity | Presize |
//! | `inflight` | sliding window of in-flight ids | Churn |
//! | `search-index` | 3M entries loaded without a capacity | ResizeStall |
//! | `search-index-split` | the same load into a `SplitMap` | nothing: no step stalls |

use std::collections::VecDeque;
use std::hint::black_box;
use std::time::{Duration, Instant};

use mapgov::{HashMap, Snapshot, SplitMap};

/// A logged-in user.
#[derive(Clone, Debug)]
struct Session {
    user: u64,
    last_seen: u64,
}

/// A cache bounded by evicting its oldest entries.
struct BoundedCache {
    map: HashMap<u64, Vec<u8>>,
    order: VecDeque<u64>,
    limit: usize,
}

impl BoundedCache {
    fn new(limit: usize) -> BoundedCache {
        BoundedCache {
            map: HashMap::with_capacity(limit * 2).named("user-cache"),
            order: VecDeque::with_capacity(limit),
            limit,
        }
    }

    fn get_or_load(&mut self, key: u64) -> usize {
        if let Some(v) = self.map.get(&key) {
            return v.len();
        }
        if self.map.len() >= self.limit
            && let Some(old) = self.order.pop_front()
        {
            self.map.remove(&old);
        }
        self.map.insert(key, vec![0; 16]);
        self.order.push_back(key);
        16
    }
}

/// One request's work: a scratch map built without a capacity (the Presize problem).
fn handle_request(id: u64, sessions: &HashMap<u64, Session>, cache: &mut BoundedCache) -> u64 {
    let mut scratch: HashMap<u32, u32> = HashMap::new().named("request-scratch");
    for i in 0..1500u32 {
        scratch.insert(i, i.wrapping_mul(31));
    }
    let user = sessions.get(&(id % 10_000)).map_or(0, |s| s.user);
    let loaded = cache.get_or_load(id.wrapping_mul(2654435761) % 12_000);
    user + loaded as u64 + u64::from(scratch[&7])
}

/// Runs the workload for about `seconds`, taking one snapshot per tick (at least three), and
/// returns the snapshots, oldest first.
pub(crate) fn run(seconds: f64) -> Vec<Snapshot> {
    let started = Instant::now();
    let budget = Duration::from_secs_f64(seconds);

    // Healthy: sized for the expected number of sessions.
    let mut sessions: HashMap<u64, Session> = HashMap::with_capacity(16_384).named("sessions");
    for id in 0..10_000u64 {
        sessions.insert(
            id,
            Session {
                user: id * 7,
                last_seen: 0,
            },
        );
    }
    // Healthy: a bounded cache.
    let mut cache = BoundedCache::new(4_000);

    // Planted ResizeStall: a bulk load into a map created without a capacity.
    let mut index: HashMap<u64, u64> = HashMap::new().named("search-index");
    for k in 0..3_000_000u64 {
        index.insert(k.wrapping_mul(0x9E37_79B9_7F4A_7C15), k);
    }

    // Healthy: the same load into a SplitMap, which grows by splitting one bounded table at a
    // time: the report's advice for the map above.
    let mut split_index: SplitMap<u64, u64> = SplitMap::new().named("search-index-split");
    for k in 0..3_000_000u64 {
        split_index.insert(k.wrapping_mul(0x9E37_79B9_7F4A_7C15), k);
    }

    // Planted Waste: a cache filled, then mostly evicted, never shrunk.
    let mut render_cache: HashMap<u64, [u8; 32]> = HashMap::new().named("render-cache");
    for k in 0..600_000u64 {
        render_cache.insert(k, [1; 32]);
    }
    render_cache.retain(|k, _| k % 50 == 0);

    // Planted UnboundedGrowth: appended to on every tick, never drained.
    let mut audit_log: HashMap<u64, String> = HashMap::new().named("audit-log");
    // Planted Churn: a small sliding window of in-flight request ids.
    let mut inflight: HashMap<u64, u64> = HashMap::new().named("inflight");

    let mut snapshots = Vec::new();
    let mut request = 0u64;
    let mut audit_seq = 0u64;
    let mut checksum = 0u64;
    let tick = Duration::from_millis(100);
    while snapshots.len() < 3 || started.elapsed() < budget {
        let tick_end = Instant::now() + tick;
        for _ in 0..150 {
            request += 1;
            checksum = checksum.wrapping_add(handle_request(request, &sessions, &mut cache));
            if let Some(s) = sessions.get_mut(&(request % 10_000)) {
                s.last_seen = request;
            }
            inflight.insert(request, request);
            if request > 100 {
                inflight.remove(&(request - 100));
            }
            checksum = checksum.wrapping_add(*index.get(&request).unwrap_or(&0));
            checksum = checksum.wrapping_add(*split_index.get(&request).unwrap_or(&0));
        }
        // The in-flight window turns over many times per tick.
        for _ in 0..20_000 {
            request += 1;
            inflight.insert(request, request);
            inflight.remove(&(request - 100));
        }
        for _ in 0..6_000 {
            audit_seq += 1;
            audit_log.insert(audit_seq, format!("request {audit_seq} served"));
        }
        while Instant::now() < tick_end && started.elapsed() < budget {
            // Keep the service busy until the tick ends.
            for _ in 0..200 {
                request += 1;
                inflight.insert(request, request);
                inflight.remove(&(request - 100));
            }
        }
        snapshots.push(mapgov::snapshot());
    }
    black_box(checksum);
    black_box((
        &sessions,
        &cache.map,
        &index,
        &split_index,
        &render_cache,
        &audit_log,
        &inflight,
    ));
    snapshots
}
