//! Recovering the user's line when the compiler can only name a location inside std.
//!
//! `#[track_caller]` gives every constructor its caller's location, and that reaches user code
//! for direct calls, `From::from`, `Default::default`, `Clone::clone`, `FromIterator::from_iter`
//! and `.into()`. It cannot pass through functions that are not `#[track_caller]` themselves:
//! `iter.collect()` reports `library/core/src/iter/traits/iterator.rs`, and cloning a `Vec` of
//! maps reports `library/alloc/src/slice.rs`.
//!
//! The fallback: when a map whose location is inside std (or inside mapgov) becomes tracked, a
//! backtrace is walked once and the first frame outside std, hashbrown and mapgov becomes its
//! site. Symbol resolution is cached per instruction address, so a site that creates many
//! tracked maps pays for resolution once and for an unwind (a few microseconds) per map. Maps
//! that stay untracked keep the std location: they are small, and the price of a backtrace would
//! dwarf them. The fallback needs line tables in the binary (`debug = "line-tables-only"` in the
//! release profile is enough); without them the std location stays.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

/// A frame of user code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Frame {
    pub(crate) file: String,
    pub(crate) line: u32,
    pub(crate) column: u32,
}

/// The directory of mapgov's own sources, as the compiler spells it (`crates/mapgov/src/` in the
/// workspace, `.../mapgov-0.1.0/src/` from a registry).
fn own_dir() -> &'static str {
    let f = file!();
    match f.rfind(['/', '\\']) {
        Some(i) => &f[..=i],
        None => "",
    }
}

/// Whether `file` belongs to std, hashbrown or mapgov rather than to the user's code.
pub(crate) fn is_foreign(file: &str) -> bool {
    let f = file.replace('\\', "/");
    f.starts_with("/rustc/")
        || f.starts_with("library/")
        || f.contains("/library/core/src/")
        || f.contains("/library/alloc/src/")
        || f.contains("/library/std/src/")
        || f.contains("/hashbrown-")
        || f.contains("/rayon-")
        || f.contains("/serde-")
        || f.contains("/serde_core-")
        || f.contains("/serde_json-")
        || f.contains("/backtrace-")
        || (!own_dir().is_empty()
            && (f.starts_with(own_dir()) || f.contains(&format!("/{}", own_dir()))))
}

const CACHE_LIMIT: usize = 4096;

/// Resolved frames per instruction address (innermost inlined frame first).
static RESOLVED: LazyLock<Mutex<HashMap<usize, Vec<Frame>>>> = LazyLock::new(Default::default);

/// The innermost frame of the current stack that is user code, if line tables allow finding it.
pub(crate) fn user_frame() -> Option<Frame> {
    let mut ips = Vec::with_capacity(48);
    backtrace::trace(|frame| {
        ips.push(frame.ip() as usize);
        ips.len() < 96
    });
    let mut cache = RESOLVED.lock().unwrap_or_else(|e| e.into_inner());
    // Where the compiler ran, learnt from our own frames: backtraces give absolute paths, the
    // compiler's locations are relative to its working directory. Strip it from the user's
    // frame when it matches, so the site reads (and aggregates) like a `#[track_caller]` one.
    let mut root: Option<String> = None;
    for ip in ips {
        if !cache.contains_key(&ip) {
            let frames = resolve(ip);
            if cache.len() >= CACHE_LIMIT {
                cache.clear();
            }
            cache.insert(ip, frames);
        }
        for frame in &cache[&ip] {
            if root.is_none() {
                root = compiler_root(&frame.file);
            }
        }
        if let Some(frame) = cache[&ip].iter().find(|f| !is_foreign(&f.file)) {
            let mut frame = frame.clone();
            if let Some(rest) = root.as_deref().and_then(|r| frame.file.strip_prefix(r)) {
                frame.file = rest.to_owned();
            }
            return Some(frame);
        }
    }
    None
}

/// If `file` is one of mapgov's own sources and the compiler named them by a relative path,
/// the directory the compiler ran in (with a trailing slash).
fn compiler_root(file: &str) -> Option<String> {
    let own = own_dir();
    if own.is_empty() || own.starts_with('/') {
        return None;
    }
    let i = file.find(own)?;
    (i > 0 && file[..i].ends_with('/')).then(|| file[..i].to_owned())
}

fn resolve(ip: usize) -> Vec<Frame> {
    let mut frames = Vec::new();
    backtrace::resolve(ip as *mut std::ffi::c_void, |symbol| {
        if let (Some(path), Some(line)) = (symbol.filename(), symbol.lineno()) {
            frames.push(Frame {
                file: path.to_string_lossy().into_owned(),
                line,
                column: symbol.colno().unwrap_or(0),
            });
        }
    });
    frames
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn std_and_own_files_are_foreign_and_user_files_are_not() {
        assert!(is_foreign(
            "/rustc/0123abcd/library/core/src/iter/traits/iterator.rs"
        ));
        assert!(is_foreign("library/alloc/src/slice.rs"));
        assert!(is_foreign(file!()));
        assert!(is_foreign(
            "/root/.cargo/registry/src/index/hashbrown-0.17.2/src/map.rs"
        ));
        assert!(!is_foreign("src/main.rs"));
        assert!(!is_foreign("/work/service/src/cache.rs"));
        assert!(!is_foreign("crates/mapgov/tests/parity.rs"));
    }
}
