//! The HTTP listener: routes, negotiation, the JSON endpoint, its limits under slow and
//! oversized clients, binding rules and shutdown.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use mapgov::{HashMap, SnapshotDocument};
use mapgov_prometheus::{Error, Format, Server, ServerBuilder, serve};
use serde_json::Value;

use crate::support::{get, raw_status, setup};

const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0,\
    application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

fn local() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

fn url(server: &Server, path: &str) -> String {
    format!("http://{}{path}", server.local_addr())
}

#[test]
fn metrics_come_as_openmetrics_when_asked_and_as_prometheus_text_otherwise() {
    setup();
    let mut m: HashMap<u64, u64> = HashMap::new().named("http-negotiation");
    m.insert(1, 1);
    let server = serve(local()).unwrap();
    assert!(server.local_addr().ip().is_loopback() && server.local_addr().port() != 0);

    let om = get(&url(&server, "/metrics"), Some(PROMETHEUS_ACCEPT));
    assert_eq!(om.status, 200);
    assert_eq!(om.content_type, Format::OpenMetrics.content_type());
    assert!(om.body.ends_with("# EOF\n"));
    assert!(om.body.contains("name=\"http-negotiation\""));

    for accept in [None, Some("text/plain;version=0.0.4"), Some("*/*")] {
        let text = get(&url(&server, "/metrics"), accept);
        assert_eq!(text.status, 200, "{accept:?}");
        assert_eq!(text.content_type, Format::Prometheus.content_type());
        assert!(!text.body.contains("# EOF"));
        assert!(text.body.contains("# TYPE mapgov_ops_total counter\n"));
    }
    let forced = get(&url(&server, "/metrics?format=openmetrics"), None);
    assert_eq!(forced.content_type, Format::OpenMetrics.content_type());
    let forced = get(
        &url(&server, "/metrics?format=prometheus"),
        Some(PROMETHEUS_ACCEPT),
    );
    assert_eq!(forced.content_type, Format::Prometheus.content_type());
    let bad = get(&url(&server, "/metrics?format=xml"), None);
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("format=prometheus"), "{}", bad.body);

    let index = get(&url(&server, "/"), None);
    assert_eq!(index.status, 200);
    assert!(index.body.contains("/debug/mapgov"));
    server.shutdown();
}

#[test]
fn unknown_paths_get_404_and_other_methods_405() {
    setup();
    let server = serve(local()).unwrap();
    let addr = server.local_addr();
    for path in ["/nope", "/metrics/", "/debug", "/favicon.ico"] {
        assert_eq!(get(&url(&server, path), None).status, 404, "{path}");
    }
    for method in ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"] {
        for path in ["/metrics", "/debug/mapgov"] {
            let status = raw_status(
                addr,
                format!("{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
                    .as_bytes(),
            );
            assert!(
                status.starts_with("HTTP/1.1 405"),
                "{method} {path}: {status}"
            );
        }
    }
    // HEAD is GET without the body.
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        answer.ends_with("\r\n\r\n"),
        "no body after the head: {answer}"
    );
}

#[test]
fn the_debug_endpoint_serves_a_versioned_snapshot_document_with_its_report() {
    setup();
    let mut gutted: HashMap<u64, [u8; 64]> = HashMap::new().named("http-debug-gutted");
    for i in 0..40_000 {
        gutted.insert(i, [0; 64]);
    }
    gutted.retain(|k, _| k % 100 == 0);
    let server = serve(local()).unwrap();
    let got = get(&url(&server, "/debug/mapgov"), Some("application/json"));
    assert_eq!(got.status, 200);
    assert_eq!(got.content_type, "application/json");
    assert!(
        got.body
            .starts_with("{\"format\":\"mapgov-snapshot\",\"version\":1,"),
        "format and version first: {}",
        &got.body[..80.min(got.body.len())]
    );
    // What `mapgov report --url` does with it: the extra `report` field is ignored.
    let doc = SnapshotDocument::from_json(&got.body).expect("a mapgov-snapshot document");
    assert_eq!(doc.snapshots.len(), 1);
    assert_eq!(doc.pid, std::process::id());
    let map = doc.snapshots[0]
        .map_named("http-debug-gutted")
        .expect("the map is in the snapshot");
    assert_eq!(map.len, 400);
    // ... and the report is there for tools that want it.
    let v: Value = serde_json::from_str(&got.body).unwrap();
    let findings = v["report"]["findings"].as_array().expect("report.findings");
    assert!(
        findings
            .iter()
            .any(|f| f["kind"] == "waste" && f["name"] == "http-debug-gutted"),
        "{findings:#?}"
    );
}

#[test]
fn stalled_clients_do_not_keep_a_scrape_from_being_answered() {
    setup();
    // Fewer stalled connections than the cap: the scrape is answered at once.
    let server = ServerBuilder::new(local())
        .max_connections(8)
        .read_timeout(Duration::from_secs(5))
        .start()
        .unwrap();
    let addr = server.local_addr();
    let mut stalled = Vec::new();
    for i in 0..6 {
        let mut s = TcpStream::connect(addr).unwrap();
        if i % 2 == 0 {
            // Half a request head, then nothing.
            s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                .unwrap();
        }
        stalled.push(s);
    }
    std::thread::sleep(Duration::from_millis(100));
    let t = Instant::now();
    let got = get(&url(&server, "/metrics"), None);
    assert_eq!(got.status, 200);
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "scrape took {:?} next to 6 stalled connections",
        t.elapsed()
    );
    drop(stalled);
    server.shutdown();

    // As many stalled connections as the cap: the scrape waits for the read timeout to free a
    // slot, and is answered then.
    let server = ServerBuilder::new(local())
        .max_connections(3)
        .read_timeout(Duration::from_millis(500))
        .start()
        .unwrap();
    let addr = server.local_addr();
    let mut stalled: Vec<TcpStream> = (0..3).map(|_| TcpStream::connect(addr).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(100));
    let t = Instant::now();
    let got = get(&url(&server, "/metrics"), None);
    assert_eq!(got.status, 200);
    assert!(
        t.elapsed() < Duration::from_secs(4),
        "scrape took {:?} behind a full house of stalled connections",
        t.elapsed()
    );
    // The stalled connections were closed by the server.
    for s in &mut stalled {
        s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        let mut buf = [0u8; 64];
        let n = s.read(&mut buf).unwrap_or(0);
        assert_eq!(n, 0, "a stalled connection is closed, not answered");
    }
}

#[test]
fn a_client_that_does_not_read_its_answers_is_dropped_after_the_write_timeout() {
    setup();
    // One slot, held by a client that pipelines requests and never reads: once the socket
    // buffers are full the server's write waits, times out, and the slot is free again.
    let server = ServerBuilder::new(local())
        .max_connections(1)
        .write_timeout(Duration::from_millis(500))
        .start()
        .unwrap();
    let addr = server.local_addr();
    // Answers of about a megabyte each (2,000 tracked maps), so that 100 of them fill any
    // socket buffer.
    let maps: Vec<HashMap<u32, u32>> = (0..2_000)
        .map(|i| {
            let mut m = HashMap::new();
            m.insert(i, i);
            m
        })
        .collect();
    let mut hog = TcpStream::connect(addr).unwrap();
    hog.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
    let requests = "GET /debug/mapgov HTTP/1.1\r\nHost: x\r\n\r\n".repeat(100);
    let _ = hog.write_all(requests.as_bytes());
    std::thread::sleep(Duration::from_millis(200));
    let t = Instant::now();
    let got = get(&url(&server, "/metrics"), None);
    assert_eq!(got.status, 200);
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "scrape took {:?} behind a client that does not read",
        t.elapsed()
    );
    drop((hog, maps));
}

#[test]
fn oversized_requests_are_refused() {
    setup();
    let server = serve(local()).unwrap();
    let addr = server.local_addr();
    let big_header = format!(
        "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(64 * 1024)
    );
    let status = raw_status(addr, big_header.as_bytes());
    assert!(status.starts_with("HTTP/1.1 431"), "{status}");
    let many_headers: String = (0..200).map(|i| format!("X-H{i}: v\r\n")).collect();
    let status = raw_status(
        addr,
        format!("GET /metrics HTTP/1.1\r\nHost: x\r\n{many_headers}\r\n").as_bytes(),
    );
    assert!(status.starts_with("HTTP/1.1 431"), "{status}");
    let long_uri = format!(
        "GET /metrics?{} HTTP/1.1\r\nHost: x\r\n\r\n",
        "q".repeat(20_000)
    );
    let status = raw_status(addr, long_uri.as_bytes());
    assert!(
        status.starts_with("HTTP/1.1 431") || status.starts_with("HTTP/1.1 414"),
        "{status}"
    );
    let body = "GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\nxxxx";
    let status = raw_status(addr, body.as_bytes());
    assert!(status.starts_with("HTTP/1.1 413"), "{status}");
    let chunked = "GET /metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n";
    let status = raw_status(addr, chunked.as_bytes());
    assert!(status.starts_with("HTTP/1.1 413"), "{status}");
    // Garbage is a 400, and the server still serves.
    let status = raw_status(
        addr,
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
    );
    assert!(status.starts_with("HTTP/1.1 400"), "{status}");
    assert_eq!(get(&format!("http://{addr}/metrics"), None).status, 200);
}

#[test]
fn a_taken_port_is_a_clear_error_and_other_interfaces_need_an_explicit_choice() {
    setup();
    let taken = std::net::TcpListener::bind(local()).unwrap();
    let addr = taken.local_addr().unwrap();
    let e = serve(addr).expect_err("the port is taken");
    assert!(matches!(e, Error::Bind { .. }), "{e:?}");
    let message = e.to_string();
    assert!(
        message.starts_with(&format!("cannot listen on {addr}: ")),
        "{message}"
    );
    assert!(message.contains("port 0"), "{message}");

    for addr in ["0.0.0.0:0", "[::]:0", "192.0.2.1:9464"] {
        let e = serve(addr.parse().unwrap()).expect_err("not loopback");
        assert!(matches!(e, Error::NotLoopback { .. }), "{addr}: {e:?}");
        assert!(e.to_string().contains("allow_non_loopback"), "{e}");
    }
    // Explicitly allowed, a non-local address still fails cleanly (nothing is bound).
    let e = ServerBuilder::new("192.0.2.1:9464".parse().unwrap())
        .allow_non_loopback(true)
        .start()
        .expect_err("not an address of this machine");
    assert!(matches!(e, Error::Bind { .. }), "{e:?}");
}

#[test]
fn shutdown_and_drop_close_the_listener() {
    setup();
    let server = serve(local()).unwrap();
    let addr = server.local_addr();
    assert_eq!(get(&format!("http://{addr}/metrics"), None).status, 200);
    let t = Instant::now();
    server.shutdown();
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    assert!(
        TcpStream::connect(addr).is_err(),
        "nothing listens after shutdown"
    );

    let server = serve(local()).unwrap();
    let addr = server.local_addr();
    // A keep-alive connection open at shutdown does not hold it up.
    let _idle = TcpStream::connect(addr).unwrap();
    let t = Instant::now();
    drop(server);
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    assert!(
        TcpStream::connect(addr).is_err(),
        "nothing listens after drop"
    );
}

#[test]
fn the_listener_works_inside_an_async_runtime() {
    setup();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let server = serve(local()).expect("serve from async code");
        let metrics = format!("http://{}/metrics", server.local_addr());
        let got = tokio::task::spawn_blocking(move || get(&metrics, None))
            .await
            .unwrap();
        assert_eq!(got.status, 200);
        drop(server); // joins the server thread; it never touches this runtime
    });
}

#[test]
fn a_server_with_its_own_cap_folds_sites_into_other() {
    setup();
    let mut a: HashMap<u8, u8> = HashMap::new().named("http-cap-a");
    a.insert(1, 1);
    let server = ServerBuilder::new(local()).max_sites(0).start().unwrap();
    let got = get(&url(&server, "/metrics"), None);
    assert!(
        got.body.contains("mapgov_maps{site=\"other\",name=\"\"}"),
        "{}",
        got.body
    );
    assert!(!got.body.contains("http-cap-a"));
    assert!(!got.body.contains("mapgov_series_dropped_total 0\n"));
}
