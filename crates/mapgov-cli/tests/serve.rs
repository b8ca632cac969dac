//! `mapgov demo --serve`: the demo keeps serving its maps, and `mapgov report --url` reads the
//! served snapshot, end to end with the real binary.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The demo process, killed on drop (it serves until interrupted).
struct Demo(Child);

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn mapgov(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mapgov"))
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("run mapgov")
}

#[test]
fn demo_serve_keeps_serving_and_report_url_reads_it() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mapgov"))
        .args(["demo", "--seconds", "0.3", "--serve", "127.0.0.1:0"])
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start mapgov demo --serve");
    let stderr = child.stderr.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let demo = Demo(child);

    // The address comes first on stderr; the report then comes on stdout.
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("http://").nth(1) {
                let addr = rest.split('/').next().unwrap_or_default().to_owned();
                let _ = tx.send(addr);
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the demo says where it serves");
    let (report_tx, report_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines().map_while(Result::ok);
        let first = lines.next().unwrap_or_default();
        let _ = report_tx.send(first);
        lines.for_each(drop);
    });
    let first = report_rx
        .recv_timeout(Duration::from_secs(120))
        .expect("the demo prints its report");
    assert!(first.starts_with("mapgov demo"), "{first}");

    // After the report, the demo still serves (and still runs its workload).
    let o = mapgov(&["report", "--url", &format!("http://{addr}/debug/mapgov")]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.starts_with("mapgov report"), "{out}");
    assert!(out.contains("sessions"), "{out}");

    let agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .new_agent();
    let metrics = agent
        .get(&format!("http://{addr}/metrics"))
        .call()
        .expect("scrape the demo")
        .body_mut()
        .read_to_string()
        .unwrap();
    assert!(metrics.contains("name=\"search-index\""), "{metrics}");
    drop(demo);
}

#[test]
fn demo_serve_refuses_a_taken_port_and_other_interfaces_before_running() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let o = mapgov(&["demo", "--serve", &addr]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.starts_with(&format!("mapgov: error: cannot listen on {addr}")),
        "{err}"
    );
    assert!(o.stdout.is_empty(), "no demo ran");

    let o = mapgov(&["demo", "--serve", "0.0.0.0:9464"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("not a loopback address"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = mapgov(&["demo", "--serve", "localhost"]);
    assert_eq!(o.status.code(), Some(2));
}
