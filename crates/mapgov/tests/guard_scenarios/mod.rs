//! What the child processes of `tests/guard.rs` do: each scenario sets up governed maps,
//! installs the guard and then panics (or is signalled). Shared by the test binary, which
//! re-runs itself as the child (a `panic = "unwind"` build), and by `examples/guard_child.rs`,
//! which the test builds with `panic = "abort"`.

use std::hash::{Hash, Hasher};
use std::path::Path;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use mapgov::{HashMap, HashSet};

/// The variable that names the scenario a child runs.
pub(crate) const SCENARIO: &str = "MAPGOV_GUARD_SCENARIO";
/// What the program's own panic hook prints, so the parent can count that it ran once.
pub(crate) const PREVIOUS_HOOK: &str = "PREVIOUS HOOK RAN";
/// A key no default dump may show.
pub(crate) const SECRET_KEY: &str = "sk_live_51SECRETKEY4242";
/// A value no default dump may show.
pub(crate) const SECRET_VALUE: &str = "hunter2-password";

/// Runs the named scenario.
pub(crate) fn run(name: &str) {
    // Track every map that allocates, and count every lookup.
    let _ = mapgov::Config::from_env()
        .track_min_bytes(0)
        .lookup_sample(1)
        .install();
    // The program's own hook, installed before the guard: it must still run, exactly once.
    std::panic::set_hook(Box::new(|info| {
        eprintln!("{PREVIOUS_HOOK}: {}", info.payload_as_str().unwrap_or("?"));
    }));
    match name {
        "basic" => basic(),
        "hash_panic" => hash_panic(),
        "two_threads" => two_threads(),
        "signal" => signal(),
        "unsafe_default_dir" => unsafe_default_dir(),
        "many_threads" => many_threads(),
        "dir_vanishes" => dir_vanishes(),
        "wrapped" => wrapped(),
        "replaced" => replaced(),
        other => panic!("unknown scenario {other:?}"),
    }
}

fn install() -> std::path::PathBuf {
    let dir = mapgov::guard::install().expect("install the guard");
    // Installing twice is harmless: one hook, one dump per panic.
    let again = mapgov::guard::install().expect("install the guard again");
    assert_eq!(dir, again);
    println!("DUMP DIR {}", dir.display());
    dir
}

/// Three named maps, one holding a secret-looking key and value; then a panic.
fn basic() {
    install();
    let mut orders: HashMap<u64, u64> = HashMap::new().named("orders");
    for i in 0..1000 {
        orders.insert(i, i * 2);
    }
    let mut users: HashMap<String, String> = HashMap::new().named("users");
    users.insert(SECRET_KEY.to_owned(), SECRET_VALUE.to_owned());
    for i in 0..9 {
        users.insert(format!("user-{i}"), "plain".to_owned());
    }
    let mut flags: HashSet<u8> = HashSet::new().named("flags");
    flags.extend([1, 2, 3]);
    std::hint::black_box((&orders, &users, &flags));
    panic!("basic scenario panics with {} orders", orders.len());
}

/// A key whose `Hash` panics.
#[derive(PartialEq, Eq)]
struct Touchy(u64);

impl Hash for Touchy {
    fn hash<H: Hasher>(&self, state: &mut H) {
        if self.0 == 999 {
            panic!("hash of a poisoned key");
        }
        self.0.hash(state);
    }
}

/// A panic raised by a user's `Hash` in the middle of an insert.
fn hash_panic() {
    install();
    let mut victim: HashMap<Touchy, u64> = HashMap::new().named("victim");
    for i in 0..100 {
        victim.insert(Touchy(i), i);
    }
    victim.insert(Touchy(999), 0);
    unreachable!("the insert panics");
}

/// Two threads panic at the same moment; the main thread survives them.
fn two_threads() {
    install();
    let barrier = Arc::new(Barrier::new(2));
    let threads: Vec<_> = ["left", "right"]
        .into_iter()
        .map(|name| {
            let barrier = Arc::clone(&barrier);
            std::thread::Builder::new()
                .name(name.to_owned())
                .spawn(move || {
                    let mut map: HashMap<u64, u64> = HashMap::new().named(name);
                    for i in 0..500 {
                        map.insert(i, i);
                    }
                    barrier.wait();
                    panic!("{name} thread panics with {} entries", map.len());
                })
                .expect("spawn")
        })
        .collect();
    for t in threads {
        assert!(t.join().is_err(), "the thread panicked");
    }
    println!("MAIN SURVIVED");
}

/// `SIGUSR1` (from `MAPGOV_DUMP_SIGNAL`) writes a dump; the program goes on.
fn signal() {
    let dir = install();
    let mut live: HashMap<u64, u64> = HashMap::new().named("live");
    for i in 0..50 {
        live.insert(i, i);
    }
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("kill -USR1 {}", std::process::id()))
        .status()
        .expect("run kill");
    assert!(status.success());
    let start = Instant::now();
    while !has_dump(&dir) {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no dump 20 s after SIGUSR1"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // The signal thread reports the dump on stderr right after publishing it; give it time to
    // do so before this process exits (the test counts that line).
    std::thread::sleep(Duration::from_millis(500));
    for i in 50..60 {
        live.insert(i, i);
    }
    println!("STILL RUNNING with {} entries", live.len());
}

fn has_dump(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries.flatten().any(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.starts_with("mapgov-dump-") && name.ends_with(".json")
        })
    })
}

/// The default directory is a planted link: the guard refuses it, and the panic writes
/// nothing anywhere.
fn unsafe_default_dir() {
    match mapgov::guard::install() {
        Ok(dir) => println!("INSTALLED AT {}", dir.display()),
        Err(e) => println!("INSTALL FAILED: {e}"),
    }
    let mut orders: HashMap<u64, u64> = HashMap::new().named("orders");
    orders.insert(1, 1);
    panic!("panic without a guard");
}

/// Sixteen threads panic at once: the guard's limits (4 dumps at a time, a burst of 8 panic
/// dumps) hold, every panic gets one line on stderr, and nothing aborts.
fn many_threads() {
    install();
    let barrier = Arc::new(Barrier::new(16));
    let threads: Vec<_> = (0..16)
        .map(|i| {
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                let mut map: HashMap<u64, u64> = HashMap::new().named("crowd");
                map.insert(i, i);
                barrier.wait();
                panic!("crowd thread {i} panics");
            })
        })
        .collect();
    for t in threads {
        assert!(t.join().is_err(), "the thread panicked");
    }
    println!("MAIN SURVIVED");
}

/// The dump directory disappears after `install`: the panic gets one line on stderr instead
/// of a dump, and the program's own hook still runs.
fn dir_vanishes() {
    let dir = install();
    std::fs::remove_dir_all(&dir).expect("remove the dump directory");
    panic!("panic with nowhere to write");
}

/// Another library chains its hook in front of ours; installing again adds nothing.
fn wrapped() {
    install();
    let ours = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        eprintln!("WRAPPER HOOK RAN");
        ours(info);
    }));
    install();
    panic!("panic under a wrapped hook");
}

/// The program replaces every hook (ours is dropped); installing again chains a new one.
fn replaced() {
    install();
    std::panic::set_hook(Box::new(|_| eprintln!("REPLACEMENT HOOK RAN")));
    install();
    panic!("panic after the hook was replaced");
}
