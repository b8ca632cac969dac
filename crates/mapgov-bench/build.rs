//! Records how `mapbench` was compiled, so that its report says which build it measured: the
//! compiler's version and the flags cargo passed the compiler (the workspace's
//! `.cargo/config.toml` aligns every loop on x86-64; a `RUSTFLAGS` variable replaces that).

use std::process::Command;

fn main() {
    // The flags of `RUSTFLAGS`, `CARGO_BUILD_RUSTFLAGS` or the configuration's `rustflags`,
    // separated by 0x1f, as cargo gives them to build scripts; passed on as they are.
    let flags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let version = Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map_or_else(|| "unknown".to_owned(), |v| v.trim().to_owned());
    println!("cargo::rustc-env=MAPBENCH_RUSTFLAGS={flags}");
    println!("cargo::rustc-env=MAPBENCH_RUSTC={version}");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=RUSTFLAGS");
    println!("cargo::rerun-if-env-changed=CARGO_BUILD_RUSTFLAGS");
}
