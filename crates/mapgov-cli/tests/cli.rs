//! The `mapgov` binary as a user meets it: help text, exit codes, errors, and the demo.

use std::path::Path;

mod support;
use support::{mapgov, stderr, stdout, temp_dir};

/// Compares `actual` with the checked-in snapshot; `MAPGOV_BLESS=1` rewrites it.
fn assert_snapshot(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(name);
    if std::env::var_os("MAPGOV_BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "missing snapshot {}: run with MAPGOV_BLESS=1",
            path.display()
        )
    });
    assert_eq!(
        actual, expected,
        "help text changed: review it and run with MAPGOV_BLESS=1 to accept"
    );
}

#[test]
fn help_texts_match_their_snapshots() {
    for (args, file) in [
        (&["--help"][..], "help.txt"),
        (&["demo", "--help"][..], "demo-help.txt"),
        (&["report", "--help"][..], "report-help.txt"),
    ] {
        let o = mapgov(args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        assert_snapshot(file, &stdout(&o));
    }
}

#[test]
fn bad_flags_exit_2_with_a_one_line_reason() {
    for args in [
        &["demo", "--seconds", "soon"][..],
        &["demo", "--bogus"][..],
        &["report"][..],
        &["report", "x.json", "--fail-on", "loud"][..],
        &["frobnicate"][..],
    ] {
        let o = mapgov(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = stderr(&o);
        assert!(err.starts_with("error:"), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    let o = mapgov(&["demo", "--seconds", "0.01"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o).trim(),
        "mapgov: error: --seconds must be between 0.3 and 3600, got 0.01"
    );
}

#[test]
fn unreadable_and_malformed_inputs_exit_2_with_a_clear_message() {
    let dir = temp_dir("cli", "bad-input");
    let cases: [(&str, &[u8], &str); 7] = [
        ("empty.json", b"", "ends too early"),
        ("truncated.json", b"{\"format\":\"mapgov-snapshot\",\"version\":1,\"snap", "ends too early"),
        ("garbage.json", b"hello", "not a valid mapgov document"),
        ("other.json", b"{\"format\":\"pcap\",\"version\":1}", "unsupported format \"pcap\""),
        ("future.json", b"{\"format\":\"mapgov-snapshot\",\"version\":7}", "unsupported version 7"),
        (
            "badfield.json",
            b"{\"format\":\"mapgov-snapshot\",\"version\":1,\"program\":\"x\",\"pid\":1,\"snapshots\":[{\"maps\":3}]}",
            "field `snapshots[0]",
        ),
        ("binary.json", &[0xff, 0xfe, 0x00, 0x01], "not UTF-8"),
    ];
    for (name, content, expected) in cases {
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap();
        let o = mapgov(&["report", path.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2), "{name}: {}", stderr(&o));
        let err = stderr(&o);
        assert_eq!(err.lines().count(), 1, "{name}: one line expected: {err}");
        assert!(err.contains(expected), "{name}: {err}");
        assert!(err.starts_with("mapgov: error: "), "{name}: {err}");
    }
    let o = mapgov(&["report", dir.join("missing.json").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("cannot read"), "{}", stderr(&o));
    let o = mapgov(&["report", dir.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not a regular file"), "{}", stderr(&o));
    let o = mapgov(&["report", "--url", "https://example.invalid/x"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("only http://"), "{}", stderr(&o));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn demo_finds_every_planted_problem_and_saves_a_report_input() {
    let dir = temp_dir("cli", "demo");
    let saved = dir.join("snap.json");
    let o = mapgov(&[
        "demo",
        "--seconds",
        "0.3",
        "--json",
        "--save",
        saved.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON output");
    assert_eq!(doc["format"], "mapgov-report");
    assert_eq!(doc["version"], 1);
    let findings = doc["report"]["findings"].as_array().unwrap();
    let found = |kind: &str, name: &str| {
        findings.iter().any(|f| {
            f["kind"] == kind
                && f["name"] == name
                && f["site"]["file"].as_str().unwrap().ends_with("demo.rs")
        })
    };
    assert!(found("waste", "render-cache"), "{findings:#?}");
    assert!(found("unbounded_growth", "audit-log"), "{findings:#?}");
    assert!(found("presize", "request-scratch"), "{findings:#?}");
    assert!(found("churn", "inflight"), "{findings:#?}");
    assert!(found("resize_stall", "search-index"), "{findings:#?}");
    for healthy in ["sessions", "user-cache"] {
        assert!(
            !findings.iter().any(|f| f["name"] == healthy),
            "{healthy} is healthy: {findings:#?}"
        );
    }

    // The SplitMap beside the stalling map grew through many splits, each a small step: its
    // worst is a small fraction of the stalling map's single worst resize (in any build).
    let saved_doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&saved).unwrap()).expect("saved JSON");
    let last = saved_doc["snapshots"]
        .as_array()
        .and_then(|s| s.last())
        .expect("saved snapshots");
    let map = |name: &str| {
        last["maps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == name)
            .unwrap_or_else(|| panic!("{name} is tracked: {last:#}"))
            .clone()
    };
    let (split, stalled) = (map("search-index-split"), map("search-index"));
    assert_eq!(split["len"], 3_000_000);
    assert!(split["tables"].as_u64().unwrap() >= 128, "{split:#}");
    assert!(split["splits"].as_u64().unwrap() >= 127, "{split:#}");
    let worst = |m: &serde_json::Value| m["resize_max_nanos"].as_u64().unwrap();
    assert!(
        worst(&split) * 10 < worst(&stalled),
        "{split:#}\n{stalled:#}"
    );

    // The saved snapshots give the same findings through `mapgov report`.
    let o = mapgov(&["report", saved.to_str().unwrap(), "--fail-on", "warning"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("Top sites by memory"), "{text}");
    assert!(text.contains("[warning] waste at"), "{text}");
    assert!(text.contains("advice: call `shrink_to_fit()`"), "{text}");
    // Whether a stall is critical (100 ms and more) depends on the machine: the exit code must
    // follow the findings, whichever they are.
    let critical = findings.iter().any(|f| f["severity"] == "critical");
    let o = mapgov(&["report", saved.to_str().unwrap(), "--fail-on", "critical"]);
    assert_eq!(o.status.code(), Some(i32::from(critical)), "{}", stdout(&o));
    let o = mapgov(&["report", saved.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "no --fail-on: always 0");

    // --save never overwrites an existing file.
    let o = mapgov(&[
        "demo",
        "--seconds",
        "0.3",
        "--save",
        saved.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("must not exist yet"), "{}", stderr(&o));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&saved).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
