//! What every test binary of the CLI needs: running the real `mapgov` binary and a private
//! temporary directory.

// Each test binary compiles this module and uses only part of it.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

/// Runs the `mapgov` binary built for these tests, colour off.
pub(crate) fn mapgov(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mapgov"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run mapgov")
}

/// The standard output of a run, as text.
pub(crate) fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The standard error of a run, as text.
pub(crate) fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A fresh, empty directory for one test (`suite` keeps binaries apart, `name` tests).
pub(crate) fn temp_dir(suite: &str, name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("mapgov-cli-{suite}-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
