//! Writing dump files safely: the directory's checks, exclusive creation, publication under a
//! name that must not exist, and pruning beyond the retention count.
//!
//! May run inside a panic hook: every failure is an error value, never a panic.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use super::DumpError;
use super::document::file_stamp;

/// Names tried for one dump before giving up.
const NAME_ATTEMPTS: usize = 16;
/// Directory entries looked at when pruning.
const PRUNE_SCAN_MAX: usize = 100_000;
/// Temporary files older than this were left by a writer that died mid-write.
const STALE_TEMP: Duration = Duration::from_secs(3600);

/// The per-process sequence number in dump names.
static SEQ: AtomicU64 = AtomicU64::new(1);

/// `$TMPDIR/mapgov-<uid>`.
pub(crate) fn default_dir() -> PathBuf {
    #[cfg(unix)]
    let name = format!("mapgov-{}", euid());
    #[cfg(not(unix))]
    let name = "mapgov".to_owned();
    std::env::temp_dir().join(name)
}

#[cfg(unix)]
fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// Creates the directory if needed, and checks it.
///
/// The default directory is created alone (its parent, the temp dir, must exist) with mode
/// 0700, and must then be a real directory, not a link, owned by this user, with no access for
/// group or others. A directory the user chose is created with its missing parents (mode 0700)
/// and must be a directory; links and modes are the user's choice.
pub(crate) fn prepare_dir(dir: &Path, default: bool) -> Result<(), DumpError> {
    let dir_error = |error: io::Error| DumpError::Dir {
        path: dir.to_owned(),
        error,
    };
    let mut builder = fs::DirBuilder::new();
    builder.recursive(!default);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    match builder.create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(dir_error(e)),
    }
    if default {
        check_private(dir)
    } else {
        let meta = fs::metadata(dir).map_err(dir_error)?;
        if meta.is_dir() {
            Ok(())
        } else {
            Err(dir_error(io::Error::other("not a directory")))
        }
    }
}

/// The default directory's checks: not a link, a directory, ours, mode 0700 or stricter.
fn check_private(dir: &Path) -> Result<(), DumpError> {
    let unsafe_dir = |reason: String| DumpError::UnsafeDir {
        path: dir.to_owned(),
        reason,
    };
    let meta = fs::symlink_metadata(dir).map_err(|error| DumpError::Dir {
        path: dir.to_owned(),
        error,
    })?;
    if meta.file_type().is_symlink() {
        return Err(unsafe_dir("it is a symbolic link".to_owned()));
    }
    if !meta.is_dir() {
        return Err(unsafe_dir("it is not a directory".to_owned()));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let me = euid();
        if meta.uid() != me {
            return Err(unsafe_dir(format!(
                "it is owned by uid {}, not by this user (uid {me})",
                meta.uid()
            )));
        }
        let mode = meta.mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(unsafe_dir(format!(
                "its mode {mode:o} lets other users in (it must be 700)"
            )));
        }
    }
    Ok(())
}

/// Keeps `[A-Za-z0-9._-]` of a program name (at most 64 bytes), for file names.
fn file_safe(program: &str) -> String {
    let s: String = program
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    let s = s.trim_start_matches('.').to_owned();
    if s.is_empty() {
        "program".to_owned()
    } else {
        s
    }
}

/// Writes `bytes` as a new dump in `dir` and returns its path.
///
/// The data goes to `.<name>.tmp`, created exclusively with mode 0600 and `O_NOFOLLOW`, and is
/// then hard-linked to `<name>`, which fails if anything exists there (a file, a link, even a
/// dangling one); then the temporary name is removed. Where hard links are not supported, the
/// file is renamed to a final name that was checked not to exist. A name that is taken is
/// skipped for the next sequence number.
pub(crate) fn write_new(
    dir: &Path,
    program: &str,
    unix_ms: u64,
    bytes: &[u8],
) -> Result<PathBuf, DumpError> {
    let program = file_safe(program);
    let stamp = file_stamp(unix_ms);
    let pid = std::process::id();
    for _ in 0..NAME_ATTEMPTS {
        let seq = SEQ.fetch_add(1, Relaxed);
        let name = format!("mapgov-dump-{program}-{stamp}-{pid}-{seq:04}.json");
        let path = dir.join(&name);
        let tmp = dir.join(format!(".{name}.tmp"));
        let mut file = match create_exclusive(&tmp) {
            Ok(f) => f,
            Err(e) if is_taken(&e) => continue,
            Err(error) => return Err(DumpError::Write { path: tmp, error }),
        };
        let written = file.write_all(bytes).and_then(|()| file.flush());
        drop(file);
        if let Err(error) = written {
            let _ = fs::remove_file(&tmp);
            return Err(DumpError::Write { path: tmp, error });
        }
        let published = publish(&tmp, &path);
        let _ = fs::remove_file(&tmp);
        match published {
            Ok(()) => return Ok(path),
            Err(e) if is_taken(&e) => continue,
            Err(error) => return Err(DumpError::Write { path, error }),
        }
    }
    Err(DumpError::NoFreeName {
        dir: dir.to_owned(),
    })
}

/// A new file, never an existing path and never through a link, mode 0600.
fn create_exclusive(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options
            .mode(0o600)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32);
    }
    options.open(path)
}

/// Gives the finished temporary file its final name, which must not exist.
fn publish(tmp: &Path, path: &Path) -> io::Result<()> {
    match fs::hard_link(tmp, path) {
        Ok(()) => Ok(()),
        Err(e) if is_taken(&e) => Err(e),
        Err(_) => {
            // No hard links here (some network and FUSE file systems): rename, after checking
            // that nothing is at the final name.
            match fs::symlink_metadata(path) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => fs::rename(tmp, path),
                Err(e) => Err(e),
                Ok(_) => Err(io::ErrorKind::AlreadyExists.into()),
            }
        }
    }
}

/// Whether an error says the name is taken (by a file, or by a link `O_NOFOLLOW` refused).
fn is_taken(e: &io::Error) -> bool {
    #[cfg(unix)]
    if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) {
        return true;
    }
    e.kind() == io::ErrorKind::AlreadyExists
}

/// Whether `name` is a dump of the program whose names start with `prefix`.
fn is_dump_of(name: &str, prefix: &str) -> bool {
    let Some(rest) = name.strip_prefix(prefix) else {
        return false;
    };
    // `20250131T120000.123Z-`: the stamp, so that `foo-2`'s dumps are not `foo`'s.
    let stamp = rest.as_bytes();
    let shape = b"00000000T000000.000Z-";
    stamp.len() > shape.len()
        && name.ends_with(".json")
        && stamp.iter().zip(shape).all(|(c, s)| {
            if *s == b'0' {
                c.is_ascii_digit()
            } else {
                c == s
            }
        })
}

/// Removes this program's oldest dumps beyond `keep`, and temporary files that a dead writer
/// left more than an hour ago. Only regular files owned by this user are removed; errors are
/// ignored (another process may be pruning too).
pub(crate) fn prune(dir: &Path, program: &str, keep: usize) {
    let prefix = format!("mapgov-dump-{}-", file_safe(program));
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut dumps: Vec<String> = Vec::new();
    for entry in entries.take(PRUNE_SCAN_MAX).flatten() {
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        // The entry's own type: a link is not followed.
        if !entry.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        if is_dump_of(&name, &prefix) {
            dumps.push(name);
        } else if name.starts_with(".mapgov-dump-") && name.ends_with(".tmp") {
            let path = entry.path();
            let stale = fs::symlink_metadata(&path)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > STALE_TEMP);
            if stale && owned_by_me(&path) {
                let _ = fs::remove_file(&path);
            }
        }
    }
    dumps.sort();
    let excess = dumps.len().saturating_sub(keep);
    for name in dumps.into_iter().take(excess) {
        let path = dir.join(name);
        if owned_by_me(&path) {
            let _ = fs::remove_file(&path);
        }
    }
}

fn owned_by_me(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_file() && m.uid() == euid())
    }
    #[cfg(not(unix))]
    {
        fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_file())
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::{PermissionsExt, symlink};

    fn temp(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("mapgov-guard-files-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn planted_links_and_files_are_neither_followed_nor_overwritten() {
        let dir = temp("planted");
        let victim = dir.join("victim");
        fs::write(&victim, "precious").unwrap();
        let now = 1_764_310_212_345;
        let stamp = file_stamp(now);
        let pid = std::process::id();
        // Plant at the next names this process will use: the temporary and final names of
        // the next sequence numbers, as links to the victim and as plain files.
        let next = SEQ.load(Relaxed);
        for (i, seq) in (next..next + 8).enumerate() {
            let name = format!("mapgov-dump-planted-{stamp}-{pid}-{seq:04}.json");
            match i % 4 {
                0 => symlink(&victim, dir.join(&name)).unwrap(),
                1 => symlink(&victim, dir.join(format!(".{name}.tmp"))).unwrap(),
                2 => fs::write(dir.join(&name), "planted").unwrap(),
                _ => symlink(dir.join("missing"), dir.join(&name)).unwrap(),
            }
        }
        let path = write_new(&dir, "planted", now, b"{\"dump\":1}").unwrap();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "precious");
        assert!(
            !dir.join("missing").exists(),
            "a dangling link was followed"
        );
        let meta = fs::symlink_metadata(&path).unwrap();
        assert!(meta.file_type().is_file());
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(fs::read(&path).unwrap(), b"{\"dump\":1}");
        // The planted entries are untouched.
        let links = fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .filter(|e| e.file_type().unwrap().is_symlink())
            .count();
        assert_eq!(links, 6);
        let leftovers = fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .count();
        assert_eq!(leftovers, 2, "only the two planted temporary links remain");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn default_directory_must_be_private_real_and_ours() {
        let base = temp("private");
        let dir = base.join("d");
        prepare_dir(&dir, true).unwrap();
        let mode = fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        let e = prepare_dir(&dir, true).unwrap_err();
        assert!(e.to_string().contains("mode 755"), "{e}");
        let link = base.join("link");
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
        symlink(&dir, &link).unwrap();
        let e = prepare_dir(&link, true).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        // A directory the user chose may be a link.
        prepare_dir(&link, false).unwrap();
        let file = base.join("file");
        fs::write(&file, "").unwrap();
        assert!(prepare_dir(&file, false).is_err());
        assert!(prepare_dir(&file, true).is_err());
        let _ = fs::remove_dir_all(&base);
    }

    #[test]
    fn pruning_keeps_the_newest_of_this_program_only() {
        let dir = temp("prune");
        let mut names = Vec::new();
        for (i, ms) in [1_000u64, 2_000, 3_000, 4_000].into_iter().enumerate() {
            let p = write_new(&dir, "prog", ms, b"{}").unwrap();
            names.push(p);
            let other = format!("mapgov-dump-prog-2-{}-1-{i:04}.json", file_stamp(ms));
            fs::write(dir.join(other), "{}").unwrap();
        }
        symlink(
            &names[0],
            dir.join("mapgov-dump-prog-19700101T000000.000Z-1-9999.json"),
        )
        .unwrap();
        prune(&dir, "prog", 2);
        assert!(!names[0].exists() && !names[1].exists());
        assert!(names[2].exists() && names[3].exists());
        let remaining = fs::read_dir(&dir).unwrap().count();
        assert_eq!(remaining, 2 + 4 + 1, "prog-2's dumps and the link stay");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn program_names_are_made_file_safe() {
        assert_eq!(file_safe("my service/../x"), "my_service_.._x");
        assert_eq!(file_safe(".hidden"), "hidden");
        assert_eq!(file_safe(""), "program");
    }
}
