//! `mapgov trace`: each format from a snapshot document and from a dump, and clear one-line
//! errors (exit 2) for malformed inputs, unknown formats and existing output files.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

mod support;
use support::{mapgov, stderr, temp_dir};

/// One workload at a time: the snapshot holds every map of this process.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Maps that grow, shrink, clear and drop; every map tracked (`MAPGOV_TRACK_MIN_BYTES` is the
/// default 64 KiB, so the maps are big enough).
fn workload() {
    let mut sessions: mapgov::HashMap<u64, u64> =
        mapgov::HashMap::new().named("cli-trace-sessions");
    for i in 0..50_000 {
        sessions.insert(i, i);
    }
    sessions.retain(|k, _| k % 10 == 0);
    sessions.shrink_to_fit();
    let mut gone: mapgov::HashMap<u64, u64> = mapgov::HashMap::new().named("cli-trace-gone");
    for i in 0..20_000 {
        gone.insert(i, i);
    }
    gone.clear();
    drop(gone);
    std::mem::forget(sessions);
}

fn snapshot_file(dir: &Path) -> (PathBuf, mapgov::Snapshot) {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    workload();
    let snap = mapgov::snapshot();
    let doc = mapgov::SnapshotDocument::new(vec![snap.clone()]);
    let path = dir.join("snap.json");
    std::fs::write(&path, doc.to_json()).unwrap();
    (path, snap)
}

#[test]
fn jsonl_from_a_snapshot_file_has_its_header_and_every_event() {
    let dir = temp_dir("trace", "jsonl");
    let (file, snap) = snapshot_file(&dir);
    let out = dir.join("events.jsonl");
    let o = mapgov(&[
        "trace",
        file.to_str().unwrap(),
        "--format",
        "jsonl",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&out).unwrap();
    let mut lines = text.lines();
    let header: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    assert_eq!(header["format"], "mapgov-events");
    assert_eq!(header["version"], 1);
    assert_eq!(header["events"], snap.events.len());
    assert_eq!(header["events_dropped"], snap.events_dropped);
    let events: Vec<mapgov::Event> = lines.map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(events, snap.events);
    for kind in ["created", "grew", "shrank", "cleared", "dropped"] {
        assert!(
            events.iter().any(|e| e.kind.name() == kind
                && e.name
                    .as_deref()
                    .is_some_and(|n| n.starts_with("cli-trace-"))),
            "{kind}"
        );
    }
    // Never overwrites.
    let again = mapgov(&[
        "trace",
        file.to_str().unwrap(),
        "--format",
        "jsonl",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(again.status.code(), Some(2));
    assert!(
        stderr(&again).contains("must not exist yet"),
        "{}",
        stderr(&again)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn chrome_and_pprof_from_a_dump() {
    let dir = temp_dir("trace", "dump");
    let dump = {
        let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        workload();
        mapgov::guard::Builder::new()
            .dir(&dir)
            .dump_now("cli trace test")
            .expect("write a dump")
    };
    let doc =
        mapgov::guard::DumpDocument::from_json(&std::fs::read_to_string(&dump).unwrap()).unwrap();
    assert!(!doc.events.items.is_empty());

    let chrome = dir.join("trace.json");
    let o = mapgov(&[
        "trace",
        dump.to_str().unwrap(),
        "--format",
        "chrome",
        "-o",
        chrome.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let trace: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&chrome).unwrap()).unwrap();
    let events = trace["traceEvents"].as_array().unwrap();
    assert!(events.iter().all(|e| e["pid"] == doc.pid));
    let x = events.iter().filter(|e| e["ph"] == "X").count();
    let timed = doc
        .events
        .events()
        .iter()
        .filter(|e| e.kind.is_resize() && e.duration_nanos.is_some())
        .count();
    assert_eq!(x, timed, "one complete event per timed resize");
    assert!(events.iter().any(|e| e["ph"] == "C"));

    let pprof = dir.join("maps.pb.gz");
    let o = mapgov(&[
        "trace",
        dump.to_str().unwrap(),
        "--format",
        "pprof",
        "-o",
        pprof.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let gz = std::fs::read(&pprof).unwrap();
    let mut raw = Vec::new();
    flate2_decode(&gz, &mut raw);
    use prost::Message as _;
    let p = mapgov::trace::proto::Profile::decode(&raw[..]).unwrap();
    let bytes: i64 = p.sample.iter().map(|s| s.value[0]).sum();
    assert_eq!(bytes as u64, doc.snapshot.total_bytes());
    let program = &p.string_table[p.mapping[0].filename as usize];
    assert_eq!(program, &doc.program);
    let _ = std::fs::remove_dir_all(&dir);
}

fn flate2_decode(gz: &[u8], out: &mut Vec<u8>) {
    flate2::read::GzDecoder::new(gz).read_to_end(out).unwrap();
}

#[test]
fn malformed_inputs_and_unknown_formats_exit_2_with_one_line() {
    let dir = temp_dir("trace", "bad");
    let (file, _) = snapshot_file(&dir);
    let file = file.to_str().unwrap();
    let out = dir.join("out");
    let out = out.to_str().unwrap();
    let o = mapgov(&["trace", file, "--format", "svg", "-o", out]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o).trim(),
        "mapgov: error: unknown trace format \"svg\": expected jsonl, chrome or pprof"
    );
    assert!(!Path::new(out).exists(), "nothing written");
    let cases: [(&str, &[u8], &str); 5] = [
        ("empty.json", b"", "ends too early"),
        ("garbage.json", b"hello", "not a valid mapgov document"),
        ("other.json", b"{\"format\":\"pcap\",\"version\":1}", "unsupported format \"pcap\""),
        (
            "badevent.json",
            b"{\"format\":\"mapgov-snapshot\",\"version\":1,\"program\":\"x\",\"pid\":1,\"snapshots\":[{\"taken_at_unix_ms\":1,\"enabled\":true,\"maps\":[],\"sites\":[],\"events\":[{\"seq\":\"one\"}]}]}",
            "field `snapshots[0].events",
        ),
        ("binary.json", &[0xff, 0xfe, 0x00, 0x01], "not UTF-8"),
    ];
    for (name, content, expected) in cases {
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap();
        for format in ["jsonl", "chrome", "pprof"] {
            let o = mapgov(&[
                "trace",
                path.to_str().unwrap(),
                "--format",
                format,
                "-o",
                out,
            ]);
            assert_eq!(o.status.code(), Some(2), "{name}: {}", stderr(&o));
            let err = stderr(&o);
            assert_eq!(err.lines().count(), 1, "{name}: one line expected: {err}");
            assert!(err.starts_with("mapgov: error: "), "{name}: {err}");
            assert!(err.contains(expected), "{name}: {err}");
        }
    }
    // Missing flags are usage errors.
    for args in [
        &["trace", file, "-o", out][..],
        &["trace", file, "--format", "jsonl"][..],
    ] {
        let o = mapgov(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(stderr(&o).starts_with("error:"), "{args:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_live_endpoint_traces_to_standard_output() {
    let server = {
        let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        workload();
        mapgov_prometheus::serve("127.0.0.1:0".parse().unwrap()).expect("serve on loopback")
    };
    let url = format!("http://{}/debug/mapgov", server.local_addr());
    let o = mapgov(&["trace", "--url", &url, "--format", "jsonl", "-o", "-"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8(o.stdout).unwrap();
    let mut lines = text.lines();
    let header: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    assert_eq!(header["format"], "mapgov-events");
    let events: Vec<mapgov::Event> = lines.map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(header["events"], events.len());
    assert!(
        events
            .iter()
            .any(|e| e.name.as_deref() == Some("cli-trace-sessions"))
    );
}

#[test]
fn trace_help_names_the_formats() {
    let o = mapgov(&["trace", "--help"]);
    assert!(o.status.success());
    let help = String::from_utf8_lossy(&o.stdout);
    for word in ["--format", "jsonl", "chrome", "pprof", "-o, --output"] {
        assert!(help.contains(word), "{word}: {help}");
    }
}
