//! Runs N small-map lifecycles (create, insert 4 `u64` keys, drop), for instruction counting.
//!
//! `small_lifecycle mapgov|hashbrown|mapgov-foldhash|hashbrown-foldhash N` under
//! `valgrind --tool=callgrind`; run two values of N and divide the difference by the difference
//! of N to get the instructions of one lifecycle (or time it: `N` = 20000000).

use std::hint::black_box;

fn main() {
    let mut args = std::env::args().skip(1);
    let which = args.next().unwrap_or_else(|| "mapgov".to_owned());
    let n: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(1000);
    match which.as_str() {
        "mapgov" => {
            for i in 0..n {
                let mut m: mapgov::HashMap<u64, u64> = mapgov::HashMap::new();
                for j in 0..4 {
                    m.insert(black_box(i * 4 + j), j);
                }
                black_box(&m);
            }
        }
        "hashbrown" => {
            for i in 0..n {
                let mut m: hashbrown::HashMap<u64, u64, std::hash::RandomState> =
                    hashbrown::HashMap::default();
                for j in 0..4 {
                    m.insert(black_box(i * 4 + j), j);
                }
                black_box(&m);
            }
        }
        "mapgov-foldhash" => {
            for i in 0..n {
                let mut m: mapgov::HashMap<u64, u64, foldhash::fast::RandomState> =
                    mapgov::HashMap::default();
                for j in 0..4 {
                    m.insert(black_box(i * 4 + j), j);
                }
                black_box(&m);
            }
        }
        "hashbrown-foldhash" => {
            for i in 0..n {
                let mut m: hashbrown::HashMap<u64, u64, foldhash::fast::RandomState> =
                    hashbrown::HashMap::default();
                for j in 0..4 {
                    m.insert(black_box(i * 4 + j), j);
                }
                black_box(&m);
            }
        }
        other => {
            eprintln!(
                "unknown map {other:?}: use mapgov, hashbrown, mapgov-foldhash or hashbrown-foldhash"
            );
            std::process::exit(2);
        }
    }
}
