//! The guard as a crashing service meets it. Each scenario runs in a child process: this test
//! binary re-run with `MAPGOV_GUARD_SCENARIO` set (a `panic = "unwind"` build), or
//! `examples/guard_child.rs` built with `panic = "abort"`. Every dump is checked against
//! `schemas/mapgov-dump.v1.schema.json` and read back with `DumpDocument::from_json`.
#![cfg(all(unix, feature = "guard"))]

mod guard_scenarios;

use std::ffi::OsStr;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use guard_scenarios as scenarios;
use mapgov::guard::{Builder, DumpDocument, DumpReason, KeySample, Section};

/// The child side: runs a scenario when the parent asked for one, and nothing otherwise.
#[test]
fn child_process_entry() {
    if let Ok(name) = std::env::var(scenarios::SCENARIO) {
        scenarios::run(&name);
    }
}

struct Child {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Child {
    fn count(&self, needle: &str) -> usize {
        self.stderr.matches(needle).count()
    }
}

impl std::fmt::Debug for Child {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}

/// Runs `cmd`, killing it after `limit`.
fn run_bounded(mut cmd: Command, limit: Duration) -> Child {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn the child");
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "child still running after {limit:?}; stderr:\n{}",
                err.join().unwrap()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Child {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// A command with no `MAPGOV_*` variable from the parent's environment.
fn clean(mut cmd: Command) -> Command {
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("MAPGOV") {
            cmd.env_remove(name);
        }
    }
    cmd.env_remove("RUST_BACKTRACE");
    cmd
}

fn scenario(name: &str, env: &[(&str, &OsStr)]) -> Child {
    let mut cmd = clean(Command::new(std::env::current_exe().unwrap()));
    cmd.args([
        "child_process_entry",
        "--exact",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(scenarios::SCENARIO, name)
    .envs(env.iter().copied());
    run_bounded(cmd, Duration::from_secs(60))
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mapgov-guard-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The dumps in `dir`, oldest first; there must be no temporary file left.
fn dumps(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        assert!(!name.ends_with(".tmp"), "temporary file left: {name}");
        if name.starts_with("mapgov-dump-") && name.ends_with(".json") {
            out.push(entry.path());
        }
    }
    out.sort();
    out
}

static SCHEMA: LazyLock<jsonschema::Validator> = LazyLock::new(|| {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../schemas/mapgov-dump.v1.schema.json"
    );
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    jsonschema::validator_for(&schema).expect("the schema compiles")
});

/// Reads a dump: mode 0600, `format` and `version` first, valid against the schema, and
/// readable as a `DumpDocument`.
fn check(path: &Path) -> (DumpDocument, String) {
    let meta = std::fs::symlink_metadata(path).unwrap();
    assert!(meta.file_type().is_file());
    assert_eq!(
        meta.permissions().mode() & 0o777,
        0o600,
        "{}",
        path.display()
    );
    let text = std::fs::read_to_string(path).unwrap();
    assert!(
        text.starts_with("{\n  \"format\": \"mapgov-dump\",\n  \"version\": 1,\n"),
        "format and version come first: {}",
        &text[..text.len().min(80)]
    );
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    let errors: Vec<String> = SCHEMA
        .iter_errors(&value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{} does not match the schema (update schemas/mapgov-dump.v1.schema.json with the \
         format):\n{}",
        path.display(),
        errors.join("\n")
    );
    let doc = DumpDocument::from_json(&text).expect("a dump reads back");
    (doc, text)
}

fn map_len(doc: &DumpDocument, name: &str) -> u64 {
    doc.snapshot
        .map_named(name)
        .unwrap_or_else(|| panic!("no map {name:?} in the dump: {:#?}", doc.snapshot.maps))
        .len
}

/// What every `basic` scenario dump shows, whatever the panic strategy.
fn check_basic(child: &Child, dir: &Path) -> DumpDocument {
    assert_eq!(child.count(scenarios::PREVIOUS_HOOK), 1, "{child:?}");
    assert_eq!(child.count("mapgov: wrote a dump"), 1, "{child:?}");
    let found = dumps(dir);
    assert_eq!(found.len(), 1, "exactly one dump: {found:?}\n{child:?}");
    let (doc, text) = check(&found[0]);
    assert!(
        child.stderr.contains(&found[0].display().to_string()),
        "the dump's path is on stderr: {child:?}"
    );
    assert_eq!(doc.reason, DumpReason::Panic);
    let panic = doc.panic.as_ref().expect("the panic is recorded");
    assert_eq!(panic.message, "basic scenario panics with 1000 orders");
    let location = panic.location.as_ref().unwrap();
    assert!(
        location.file.ends_with("guard_scenarios/mod.rs"),
        "{location:?}"
    );
    assert!(panic.thread_id.as_deref().unwrap().starts_with("ThreadId("));
    assert!(!doc.partial, "{:?}", doc.partial_reasons);
    assert_eq!(map_len(&doc, "orders"), 1000);
    assert_eq!(map_len(&doc, "users"), 10);
    assert_eq!(map_len(&doc, "flags"), 3);
    let orders = doc.snapshot.map_named("orders").unwrap();
    assert_eq!(orders.key_type, "u64");
    assert_eq!(orders.inserts, 1000);
    assert!(orders.allocated_bytes > 0);
    let config = doc.config.as_ref().unwrap();
    assert!(config.in_force && config.enabled);
    assert_eq!(config.track_min_bytes, 0);
    // The events section holds the ring: the orders map's creation and growth, up to the panic.
    assert!(doc.events.recorded);
    let events = doc.events.events();
    assert_eq!(events.len(), doc.events.items.len());
    let orders_events = |kind: mapgov::EventKind| {
        events
            .iter()
            .filter(|e| e.name.as_deref() == Some("orders") && e.kind == kind)
            .count() as u64
    };
    assert_eq!(orders_events(mapgov::EventKind::Created), 1);
    assert_eq!(orders_events(mapgov::EventKind::Grew), orders.grows);
    assert_eq!(doc.sections, Section::ALL);
    assert_eq!(doc.pid, child_pid(&found[0]));
    // Contents are off by default.
    for secret in [
        scenarios::SECRET_KEY,
        "sk_live",
        scenarios::SECRET_VALUE,
        "hunter2",
    ] {
        assert!(!text.contains(secret), "{secret} leaked into the dump");
    }
    doc
}

/// The pid in a dump's file name.
fn child_pid(path: &Path) -> u32 {
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let parts: Vec<&str> = name.trim_end_matches(".json").rsplit('-').collect();
    parts[1].parse().unwrap()
}

fn my_uid() -> u32 {
    let probe = temp_dir("uid");
    let uid = std::fs::metadata(&probe).unwrap().uid();
    let _ = std::fs::remove_dir_all(probe);
    uid
}

#[test]
fn panic_in_an_unwind_build_leaves_one_valid_dump_in_a_private_default_dir() {
    let tmp = temp_dir("unwind");
    let child = scenario("basic", &[("TMPDIR", tmp.as_os_str())]);
    assert_eq!(child.status.code(), Some(101), "{child:?}");
    let dir = tmp.join(format!("mapgov-{}", my_uid()));
    let meta = std::fs::symlink_metadata(&dir).unwrap();
    assert!(meta.is_dir());
    assert_eq!(meta.permissions().mode() & 0o777, 0o700);
    let doc = check_basic(&child, &dir);
    assert!(doc.config.unwrap().guard.default_dir);
    let _ = std::fs::remove_dir_all(&tmp);
}

#[test]
fn panic_in_an_abort_build_leaves_one_valid_dump() {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("guard-abort");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let start = Instant::now();
    let mut build = Command::new(cargo);
    build
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "build",
            "--quiet",
            "-p",
            "mapgov",
            "--example",
            "guard_child",
        ])
        .args(["--no-default-features", "--features", "guard"])
        .arg("--target-dir")
        .arg(&target)
        // Every crate compiled with panic = "abort", as in a user's abort build. Without debug
        // info the cold build (all dependencies) takes about half a minute on two cores; the
        // target directory is kept, so later runs only relink.
        .env("CARGO_PROFILE_DEV_PANIC", "abort")
        .env("CARGO_PROFILE_DEV_DEBUG", "0")
        .env("CARGO_INCREMENTAL", "0");
    let built = run_bounded(build, Duration::from_secs(300));
    assert!(built.status.success(), "cargo build failed: {built:?}");
    eprintln!(
        "built the panic = \"abort\" example in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    let dir = temp_dir("abort");
    let mut cmd = clean(Command::new(target.join("debug/examples/guard_child")));
    cmd.env(scenarios::SCENARIO, "basic")
        .env("MAPGOV_DUMP_DIR", &dir);
    let child = run_bounded(cmd, Duration::from_secs(60));
    assert_eq!(
        child.status.signal(),
        Some(6),
        "an abort build aborts (SIGABRT): {child:?}"
    );
    let doc = check_basic(&child, &dir);
    assert_eq!(doc.panic.unwrap().thread.as_deref(), Some("main"));
    assert_eq!(doc.program, "guard_child");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn panic_inside_a_users_hash_during_insert_still_dumps() {
    let dir = temp_dir("hash");
    let child = scenario("hash_panic", &[("MAPGOV_DUMP_DIR", dir.as_os_str())]);
    assert_eq!(child.status.code(), Some(101), "{child:?}");
    assert_eq!(child.count(scenarios::PREVIOUS_HOOK), 1, "{child:?}");
    let found = dumps(&dir);
    assert_eq!(found.len(), 1, "{child:?}");
    let (doc, _) = check(&found[0]);
    assert_eq!(
        doc.panic.as_ref().unwrap().message,
        "hash of a poisoned key"
    );
    assert_eq!(map_len(&doc, "victim"), 100);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn two_threads_panicking_together_each_get_a_valid_dump_and_nothing_aborts() {
    let dir = temp_dir("threads");
    let child = scenario("two_threads", &[("MAPGOV_DUMP_DIR", dir.as_os_str())]);
    assert!(child.status.success(), "{child:?}");
    assert!(child.stdout.contains("MAIN SURVIVED"), "{child:?}");
    assert!(!child.stderr.contains("abort"), "{child:?}");
    assert_eq!(child.count(scenarios::PREVIOUS_HOOK), 2, "{child:?}");
    let found = dumps(&dir);
    assert_eq!(found.len(), 2, "{child:?}");
    let mut threads = Vec::new();
    for path in &found {
        let (doc, _) = check(path);
        let panic = doc.panic.as_ref().unwrap();
        let thread = panic.thread.clone().unwrap();
        assert_eq!(
            panic.message,
            format!("{thread} thread panics with 500 entries")
        );
        assert_eq!(map_len(&doc, &thread), 500);
        threads.push(thread);
    }
    threads.sort();
    assert_eq!(threads, ["left", "right"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sigusr1_writes_a_dump_while_the_program_keeps_running() {
    let dir = temp_dir("signal");
    let child = scenario(
        "signal",
        &[
            ("MAPGOV_DUMP_DIR", dir.as_os_str()),
            ("MAPGOV_DUMP_SIGNAL", OsStr::new("SIGUSR1")),
        ],
    );
    assert!(child.status.success(), "{child:?}");
    assert!(
        child.stdout.contains("STILL RUNNING with 60 entries"),
        "{child:?}"
    );
    assert_eq!(child.count(scenarios::PREVIOUS_HOOK), 0, "{child:?}");
    assert_eq!(
        child.count("mapgov: wrote a dump of the maps on SIGUSR1"),
        1
    );
    let found = dumps(&dir);
    assert_eq!(found.len(), 1, "{child:?}");
    let (doc, _) = check(&found[0]);
    assert_eq!(doc.reason, DumpReason::Signal);
    assert_eq!(doc.note.as_deref(), Some("SIGUSR1"));
    assert!(doc.panic.is_none());
    assert_eq!(map_len(&doc, "live"), 50);
    assert_eq!(doc.config.unwrap().guard.signal.as_deref(), Some("SIGUSR1"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_link_planted_as_the_default_dir_is_refused_and_never_followed() {
    let tmp = temp_dir("planted");
    let elsewhere = tmp.join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let link = tmp.join(format!("mapgov-{}", my_uid()));
    std::os::unix::fs::symlink(&elsewhere, &link).unwrap();
    let child = scenario("unsafe_default_dir", &[("TMPDIR", tmp.as_os_str())]);
    assert_eq!(child.status.code(), Some(101), "{child:?}");
    assert!(child.stdout.contains("INSTALL FAILED"), "{child:?}");
    assert!(child.stdout.contains("symbolic link"), "{child:?}");
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
    assert_eq!(child.count(scenarios::PREVIOUS_HOOK), 1, "{child:?}");
    let _ = std::fs::remove_dir_all(&tmp);
}

#[test]
fn a_crowd_of_panicking_threads_stays_within_the_limits_and_nothing_aborts() {
    let dir = temp_dir("crowd");
    let child = scenario("many_threads", &[("MAPGOV_DUMP_DIR", dir.as_os_str())]);
    assert!(child.status.success(), "{child:?}");
    assert!(child.stdout.contains("MAIN SURVIVED"), "{child:?}");
    assert_eq!(child.count(scenarios::PREVIOUS_HOOK), 16, "{child:?}");
    let wrote = child.count("mapgov: wrote a dump of the maps at this panic");
    let skipped = child.count("mapgov: no dump of the maps at this panic");
    assert_eq!(wrote + skipped, 16, "one line per panic: {child:?}");
    let found = dumps(&dir);
    assert_eq!(found.len(), wrote);
    assert!(
        (1..=8).contains(&wrote),
        "a burst of at most 8 panic dumps: {wrote}"
    );
    for path in &found {
        let (doc, _) = check(path);
        assert!(doc.panic.unwrap().message.starts_with("crowd thread "));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_dump_that_cannot_be_written_is_one_line_on_stderr_and_the_previous_hook_still_runs() {
    let dir = temp_dir("vanish");
    let child = scenario("dir_vanishes", &[("MAPGOV_DUMP_DIR", dir.as_os_str())]);
    assert_eq!(child.status.code(), Some(101), "{child:?}");
    assert_eq!(child.count(scenarios::PREVIOUS_HOOK), 1, "{child:?}");
    let lines: Vec<&str> = child
        .stderr
        .lines()
        .filter(|l| l.starts_with("mapgov:"))
        .collect();
    assert_eq!(lines.len(), 1, "{child:?}");
    assert!(
        lines[0].starts_with("mapgov: no dump of the maps at this panic: cannot write dump "),
        "{child:?}"
    );
    assert!(!dir.exists());
}

#[test]
fn installing_again_never_runs_a_hook_twice_and_restores_a_replaced_guard() {
    let wrapped = temp_dir("wrapped");
    let child = scenario("wrapped", &[("MAPGOV_DUMP_DIR", wrapped.as_os_str())]);
    assert_eq!(child.status.code(), Some(101), "{child:?}");
    assert_eq!(child.count("WRAPPER HOOK RAN"), 1, "{child:?}");
    assert_eq!(child.count(scenarios::PREVIOUS_HOOK), 1, "{child:?}");
    assert_eq!(child.count("mapgov: wrote a dump"), 1, "{child:?}");
    assert_eq!(dumps(&wrapped).len(), 1);
    let _ = std::fs::remove_dir_all(&wrapped);

    let dir = temp_dir("replaced");
    let child = scenario("replaced", &[("MAPGOV_DUMP_DIR", dir.as_os_str())]);
    assert_eq!(child.status.code(), Some(101), "{child:?}");
    assert_eq!(child.count("REPLACEMENT HOOK RAN"), 1, "{child:?}");
    assert_eq!(child.count(scenarios::PREVIOUS_HOOK), 0, "{child:?}");
    assert_eq!(child.count("mapgov: wrote a dump"), 1, "{child:?}");
    let found = dumps(&dir);
    assert_eq!(found.len(), 1);
    let (doc, _) = check(&found[0]);
    assert_eq!(
        doc.panic.unwrap().message,
        "panic after the hook was replaced"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every map tracked in this process too, for the in-process tests below.
fn governed() {
    let _ = mapgov::Config::from_env()
        .track_min_bytes(0)
        .lookup_sample(1)
        .install();
}

#[test]
fn old_dumps_are_pruned_beyond_the_retention_count() {
    governed();
    let dir = temp_dir("retention");
    let guard = Builder::new().dir(&dir).retention(2);
    let mut written = Vec::new();
    for i in 0..4 {
        written.push(guard.dump_now(&format!("dump {i}")).unwrap());
        std::thread::sleep(Duration::from_millis(5));
    }
    let found = dumps(&dir);
    assert_eq!(found, written[2..]);
    let (doc, _) = check(&found[1]);
    assert_eq!(doc.reason, DumpReason::Manual);
    assert_eq!(doc.note.as_deref(), Some("dump 3"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_dump_over_its_size_bound_keeps_the_largest_maps_and_says_what_it_left_out() {
    governed();
    let dir = temp_dir("bounded");
    let maps: Vec<mapgov::HashMap<u64, u64>> = (0..60u64)
        .map(|i| {
            let mut m = mapgov::HashMap::new().named("bounded");
            for k in 0..(i + 1) * 20 {
                m.insert(k, k);
            }
            m
        })
        .collect();
    let path = Builder::new()
        .dir(&dir)
        .max_bytes(16 << 10)
        .dump_now("bounded")
        .unwrap();
    assert!(std::fs::metadata(&path).unwrap().len() <= 16 << 10);
    let (doc, _) = check(&path);
    assert!(doc.truncated.maps_omitted > 0, "{:?}", doc.truncated);
    let kept: Vec<&mapgov::MapStats> = doc
        .snapshot
        .maps
        .iter()
        .filter(|m| m.name.as_deref() == Some("bounded"))
        .collect();
    assert!(
        !kept.is_empty() && kept.len() < maps.len(),
        "{}",
        kept.len()
    );
    let largest = maps.last().unwrap().allocation_size() as u64;
    assert_eq!(
        kept[0].allocated_bytes, largest,
        "the largest maps are kept"
    );
    drop(maps);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn keys_reach_a_dump_only_through_an_opt_in_sample_and_redacted() {
    governed();
    let dir = temp_dir("keys");
    let mut tokens: mapgov::HashMap<String, u64> = mapgov::HashMap::new().named("tokens");
    tokens.insert("tok_SECRET_0001".to_owned(), 1);
    let path = Builder::new().dir(&dir).dump_now("no sample").unwrap();
    let (doc, text) = check(&path);
    assert!(doc.key_samples.iter().all(|s| s.name != "tokens"));
    assert!(!text.contains("tok_SECRET"));

    let sample = KeySample::new("tokens", 4, |debug: &str| {
        format!("tok_<{} chars>", debug.len())
    });
    for i in 0..6 {
        let key = format!("tok_SECRET_{i:04}");
        sample.record(&key);
        tokens.insert(key, i);
    }
    let path = Builder::new().dir(&dir).dump_now("with a sample").unwrap();
    let (doc, text) = check(&path);
    let record = doc.key_samples.iter().find(|s| s.name == "tokens").unwrap();
    assert_eq!(record.capacity, 4);
    assert_eq!(record.recorded, 6);
    assert_eq!(record.keys, vec!["tok_<17 chars>"; 4]);
    assert!(!text.contains("tok_SECRET"));

    // The operator can leave the samples out.
    let path = Builder::new()
        .dir(&dir)
        .sections(&[Section::Maps])
        .dump_now("maps only")
        .unwrap();
    let (doc, _) = check(&path);
    assert!(doc.key_samples.is_empty() && doc.findings.is_empty());
    assert!(doc.config.is_none() && doc.snapshot.sites.is_empty());
    assert_eq!(doc.sections, [Section::Maps]);
    assert!(doc.snapshot.map_named("tokens").is_some());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_schema_is_a_valid_json_schema() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../schemas/mapgov-dump.v1.schema.json"
    );
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    jsonschema::meta::validate(&schema).expect("a valid draft 2020-12 schema");
    LazyLock::force(&SCHEMA);
}
