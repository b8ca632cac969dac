//! Small maps whose resizes are timed (`time_min_bytes` below their tables), growing past
//! 64 KiB while still small (`track_min_bytes` above it): they take the timed path, not the
//! plain growth, and their site counts every grow, timed resize and byte exactly.
use mapgov::{Config, HashMap};

type M = HashMap<u64, [u64; 7]>; // 64-byte entries

#[inline(never)]
fn new_timed() -> (M, u32) {
    (HashMap::new(), line!())
}

#[test]
fn timed_small_growth_is_counted_exactly() {
    Config::default()
        .time_min_bytes(512)
        .track_min_bytes(4 << 20)
        .install()
        .unwrap();
    let line = new_timed().1;
    let find = |s: &mapgov::Snapshot| {
        s.sites
            .iter()
            .find(|x| x.site.line == line && x.site.file.ends_with("small_timed.rs"))
            .map(|x| {
                (
                    x.maps_created,
                    x.maps_dropped,
                    x.entries,
                    x.allocated_bytes,
                    x.inserts,
                    x.grows,
                    x.timed_resizes,
                    x.resize_nanos > 0,
                    x.peak_len,
                )
            })
    };
    let before = mapgov::snapshot();
    assert!(find(&before).is_none());
    let (mut m, _) = new_timed();
    let mut grows = 0;
    let mut timed = 0;
    for k in 0..20_000u64 {
        let b = m.allocation_size();
        m.insert(k, [0; 7]);
        if b > 0 && m.allocation_size() > b {
            grows += 1;
            if b >= 512 {
                timed += 1;
            }
        }
    }
    assert!(m.stats().is_none(), "still small");
    let bytes = m.allocation_size() as u64;
    let mid = mapgov::snapshot();
    assert_eq!(find(&mid).unwrap().3, bytes);
    drop(m);
    let end = mapgov::snapshot();
    assert_eq!(
        find(&end).unwrap(),
        (1, 1, 0, 0, 20_000, grows, timed, true, 20_000)
    );
}
