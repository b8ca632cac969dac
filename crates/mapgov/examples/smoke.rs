fn main() {
    let _ = mapgov::Config::from_env().track_min_bytes(0).lookup_sample(1).install();
    let mut m: mapgov::HashMap<u64, u64> = mapgov::HashMap::new().named("smoke");
    for i in 0..100_000 { m.insert(i, i); }
    for i in 0..90_000 { m.remove(&i); }
    let _ = m.get(&95_000);
    let v: mapgov::HashMap<u64, u64> = (0..5000u64).map(|i| (i, i)).collect();
    println!("{:#?}", m.stats());
    let s = mapgov::snapshot();
    for site in &s.sites { println!("{} {:?} live={} entries={} bytes={} grows={}", site.site, site.name, site.maps_live, site.entries, site.allocated_bytes, site.grows); }
    for map in &s.maps { println!("map {} {} {:?} len={} bytes={} wasted={}", map.id, map.site, map.name, map.len, map.allocated_bytes, map.wasted_bytes); }
    m.shrink_to_fit();
    println!("after shrink {} {:?}", m.allocation_size(), m.stats().map(|s| (s.shrinks, s.allocated_bytes, s.wasted_bytes)));
    drop(v);
    println!("size_of = {}", std::mem::size_of::<mapgov::HashMap<u64,u64>>());
}
