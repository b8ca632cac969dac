//! Serves the metrics of a few governed maps on `127.0.0.1:9464` until interrupted.
//!
//! ```text
//! cargo run -p mapgov-prometheus --example serve
//! curl -s http://127.0.0.1:9464/metrics
//! ```

use std::time::Duration;

fn main() {
    let server = match mapgov_prometheus::serve(mapgov_prometheus::DEFAULT_ADDR) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("serve: {e}");
            std::process::exit(2);
        }
    };
    eprintln!(
        "serving http://{0}/metrics and http://{0}/debug/mapgov (Ctrl-C to stop)",
        server.local_addr()
    );

    let mut sessions: mapgov::HashMap<u64, String> = mapgov::HashMap::new().named("sessions");
    let mut seen: mapgov::HashSet<u64> = mapgov::HashSet::new().named("seen-ids");
    let mut tick = 0u64;
    loop {
        for i in 0..1_000 {
            let id = tick * 1_000 + i;
            sessions.insert(id % 50_000, format!("user {id}"));
            seen.insert(id);
            let _ = sessions.get(&(id / 2));
        }
        tick += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
}
