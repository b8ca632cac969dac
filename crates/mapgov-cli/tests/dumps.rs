//! `mapgov report` on `mapgov-dump` files: real dumps written by `mapgov::guard` report like
//! snapshots, and broken ones exit 2 with one clear line.

use std::path::{Path, PathBuf};

mod support;
use support::{mapgov, stderr, stdout, temp_dir};

/// A real dump of this process: a healthy map and one gutted by removals (a waste finding).
fn real_dump(dir: &Path) -> PathBuf {
    // The tests of this binary run in parallel and a dump holds every map of the process:
    // one dump at a time, so that each holds exactly one set of these maps.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut sessions: mapgov::HashMap<u64, u64> = mapgov::HashMap::new().named("cli-sessions");
    for i in 0..10_000 {
        sessions.insert(i, i);
    }
    let mut gutted: mapgov::HashMap<u64, u64> = mapgov::HashMap::new().named("cli-gutted");
    for i in 0..200_000 {
        gutted.insert(i, i);
    }
    gutted.retain(|k, _| k % 20 == 0);
    let path = mapgov::guard::Builder::new()
        .dir(dir)
        .dump_now("cli test")
        .expect("write a dump");
    drop((sessions, gutted));
    path
}

#[test]
fn a_dump_reports_like_a_snapshot() {
    let dir = temp_dir("dumps", "real");
    let dump = real_dump(&dir);
    let file = dump.to_str().unwrap();

    let o = mapgov(&["report", file, "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["format"], "mapgov-report");
    let maps = doc["snapshot"]["maps"].as_array().unwrap();
    let len = |name: &str| {
        maps.iter()
            .find(|m| m["name"] == name)
            .unwrap_or_else(|| panic!("{name} missing: {maps:#?}"))["len"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(len("cli-sessions"), 10_000);
    assert_eq!(len("cli-gutted"), 10_000);
    let findings = doc["report"]["findings"].as_array().unwrap();
    assert!(
        findings
            .iter()
            .any(|f| f["kind"] == "waste" && f["name"] == "cli-gutted"),
        "{findings:#?}"
    );

    let o = mapgov(&["report", file, "--fail-on", "warning"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("Top sites by memory"), "{text}");
    assert!(text.contains("waste at"), "{text}");
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_partial_dump_is_reported_with_a_warning() {
    let dir = temp_dir("dumps", "partial");
    let dump = real_dump(&dir);
    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&dump).unwrap()).unwrap();
    doc["partial"] = true.into();
    doc["partial_reasons"] = serde_json::json!(["the map registry stayed locked for 100 ms"]);
    let partial = dir.join("partial.json");
    std::fs::write(&partial, serde_json::to_string(&doc).unwrap()).unwrap();
    let o = mapgov(&["report", partial.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stderr(&o).trim(),
        "mapgov: warning: partial dump (the map registry stayed locked for 100 ms)"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn broken_dumps_exit_2_with_one_clear_line() {
    let dir = temp_dir("dumps", "broken");
    let dump = real_dump(&dir);
    let good = std::fs::read_to_string(&dump).unwrap();
    let mut future: serde_json::Value = serde_json::from_str(&good).unwrap();
    future["version"] = 2.into();
    let mut bad_field: serde_json::Value = serde_json::from_str(&good).unwrap();
    bad_field["snapshot"]["maps"] = "many".into();
    let mut bad_reason: serde_json::Value = serde_json::from_str(&good).unwrap();
    bad_reason["reason"] = "boredom".into();
    let mut no_snapshot: serde_json::Value = serde_json::from_str(&good).unwrap();
    no_snapshot.as_object_mut().unwrap().remove("snapshot");
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "truncated.json",
            good[..good.len() / 2].to_owned(),
            "ends too early (truncated?)",
        ),
        (
            "cut-header.json",
            "{\"format\":\"mapgov-du".to_owned(),
            "ends too early",
        ),
        (
            "future.json",
            future.to_string(),
            "unsupported version 2: this mapgov reads version 1",
        ),
        (
            "wrong-format.json",
            good.replace("\"mapgov-dump\"", "\"mapgov-dumpster\""),
            "unsupported format \"mapgov-dumpster\": expected mapgov-snapshot or mapgov-dump",
        ),
        (
            "bad-field.json",
            bad_field.to_string(),
            "field `snapshot.maps`",
        ),
        ("bad-reason.json", bad_reason.to_string(), "field `reason`"),
        (
            "no-snapshot.json",
            no_snapshot.to_string(),
            "missing field `snapshot`",
        ),
        (
            "garbage.json",
            "mapgov-dump version 1".to_owned(),
            "not a valid mapgov document",
        ),
        (
            "no-format.json",
            "{\"version\":1}".to_owned(),
            "no \"format\" field",
        ),
    ];
    for (name, content, expected) in cases {
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap();
        let o = mapgov(&["report", path.to_str().unwrap()]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{name}: {err}");
        assert_eq!(err.lines().count(), 1, "{name}: one line expected: {err}");
        assert!(err.starts_with("mapgov: error: "), "{name}: {err}");
        assert!(
            err.contains(expected),
            "{name}: expected {expected:?} in {err}"
        );
        assert!(err.contains(name), "{name}: the file is named: {err}");
        assert!(stdout(&o).is_empty(), "{name}: no report on bad input");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
