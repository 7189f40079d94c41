//! The probe's verdicts kept for the rest of the boot in
//! `/run/ctctl/kernel-probe.json`: one record per request shape.
//!
//! Files as root are handled through directory descriptors: `/run/ctctl`
//! is made with `mkdirat` and its mode set with `fchmod` on the opened
//! directory (never by path after it exists), records are written to a
//! new file (`O_EXCL | O_NOFOLLOW`) renamed into place with `renameat`,
//! and read with `O_NOFOLLOW` and a size cap. A directory or file that
//! anyone but root (or the running user) could have written is ignored.
//! Concurrent writers merge under an exclusive lock on the directory.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::MetadataExt;

use nix::fcntl::{openat, renameat, Flock, FlockArg, OFlag};
use nix::sys::stat::{fchmod, fstat, mkdirat, Mode};

/// Where verdicts are kept.
pub const DIR: &str = "/run/ctctl";
/// The verdict file.
pub const FILE: &str = "/run/ctctl/kernel-probe.json";
const NAME: &str = "kernel-probe.json";
/// Bumped when shapes or experiments change meaning.
const FORMAT: u32 = 2;
/// The largest record file read (every shape `ctctl probe --all` proves
/// fits in a fraction of it).
const MAX_SIZE: u64 = 4 << 20;

/// The kernel release and boot id a record holds for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootKey {
    /// `uname -r`.
    pub release: String,
    /// `/proc/sys/kernel/random/boot_id`.
    pub boot_id: String,
}

impl BootKey {
    /// This boot's key.
    ///
    /// # Errors
    ///
    /// When the boot id cannot be read.
    pub fn current() -> Result<BootKey, String> {
        let read = |p: &str| {
            std::fs::read_to_string(p)
                .map(|s| s.trim().to_string())
                .map_err(|e| format!("cannot read {p}: {e}"))
        };
        Ok(BootKey {
            release: read("/proc/sys/kernel/osrelease")?,
            boot_id: read("/proc/sys/kernel/random/boot_id")?,
        })
    }
}

#[derive(serde::Serialize, serde::Deserialize, Default)]
struct Record {
    format: u32,
    release: String,
    boot_id: String,
    /// Shape key -> "proved", "failed: why" or "refused: errno".
    shapes: BTreeMap<String, String>,
}

fn trusted(uid: u32, mode: u32) -> bool {
    let euid = nix::unistd::geteuid().as_raw();
    (uid == 0 || uid == euid) && mode & 0o022 == 0
}

/// Opens `dir` (made 0755 when missing) as a directory descriptor, if it
/// is a real directory that only root (or we) could have written.
///
/// # Errors
///
/// When the probe cannot run (no private namespace can be made, the kernel
/// refuses a request) or its cache under /run/ctctl cannot be read or written.
pub fn open_dir(dir: &str, create: bool) -> std::io::Result<OwnedFd> {
    let path = std::path::Path::new(dir);
    let parent = path.parent().unwrap_or(std::path::Path::new("/"));
    let name = path.file_name().unwrap_or_default();
    let flags = OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_RDONLY;
    let pfd = nix::fcntl::open(parent, flags, Mode::empty())?;
    let mut made = false;
    if create {
        match mkdirat(&pfd, name, Mode::from_bits_truncate(0o755)) {
            Ok(()) => made = true,
            Err(nix::errno::Errno::EEXIST) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let fd = openat(&pfd, name, flags, Mode::empty())?;
    if made {
        // The umask may have taken bits away; set them on the directory
        // we opened, not by path.
        fchmod(&fd, Mode::from_bits_truncate(0o755))?;
    }
    let st = fstat(&fd)?;
    if !trusted(st.st_uid, st.st_mode) {
        return Err(std::io::Error::other(format!(
            "{dir} is not a directory owned by root and writable only by its owner"
        )));
    }
    Ok(fd)
}

fn read_record(dir: &OwnedFd) -> Option<Record> {
    let fd = openat(
        dir,
        NAME,
        OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ok()?;
    let file = std::fs::File::from(fd);
    let meta = file.metadata().ok()?;
    if !meta.is_file() || !trusted(meta.uid(), meta.mode()) || meta.len() > MAX_SIZE {
        tracing::debug!("ignoring {FILE}: untrusted owner, mode or size");
        return None;
    }
    let mut body = Vec::new();
    file.take(MAX_SIZE).read_to_end(&mut body).ok()?;
    serde_json::from_slice(&body).ok()
}

/// The verdicts recorded for this boot (empty when there are none, or
/// none to trust).
pub fn load(key: &BootKey) -> BTreeMap<String, String> {
    let Ok(dir) = open_dir(DIR, false) else {
        return BTreeMap::new();
    };
    match read_record(&dir) {
        Some(r) if r.format == FORMAT && r.release == key.release && r.boot_id == key.boot_id => {
            r.shapes
        }
        _ => BTreeMap::new(),
    }
}

/// Adds `verdicts` to the record (under an exclusive lock on the
/// directory, merging with what other processes wrote meanwhile), or
/// replaces it entirely with `replace`.
///
/// # Errors
///
/// When the probe cannot run (no private namespace can be made, the kernel
/// refuses a request) or its cache under /run/ctctl cannot be read or written.
pub fn store(
    key: &BootKey,
    verdicts: &BTreeMap<String, String>,
    replace: bool,
) -> std::io::Result<()> {
    store_in(DIR, key, verdicts, replace)
}

/// [`store`] in another directory (tests).
///
/// # Errors
///
/// When the probe cannot run (no private namespace can be made, the kernel
/// refuses a request) or its cache under /run/ctctl cannot be read or written.
pub fn store_in(
    dir: &str,
    key: &BootKey,
    verdicts: &BTreeMap<String, String>,
    replace: bool,
) -> std::io::Result<()> {
    let fd = open_dir(dir, true)?;
    let locked =
        Flock::lock(fd, FlockArg::LockExclusive).map_err(|(_, e)| std::io::Error::from(e))?;
    let dir_fd: &OwnedFd = &locked;
    let mut rec = match read_record(dir_fd) {
        Some(r)
            if !replace
                && r.format == FORMAT
                && r.release == key.release
                && r.boot_id == key.boot_id =>
        {
            r
        }
        _ => Record {
            format: FORMAT,
            release: key.release.clone(),
            boot_id: key.boot_id.clone(),
            shapes: BTreeMap::new(),
        },
    };
    rec.shapes
        .extend(verdicts.iter().map(|(k, v)| (k.clone(), v.clone())));
    let body = serde_json::to_vec(&rec).map_err(std::io::Error::other)?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let tmp = format!(".kernel-probe.{}.{nanos}", std::process::id());
    let tfd = openat(
        dir_fd,
        tmp.as_str(),
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o644),
    )?;
    let mut f = std::fs::File::from(tfd);
    let written = f
        .write_all(&body)
        .and_then(|()| f.sync_all())
        .and_then(|()| {
            renameat(dir_fd.as_fd(), tmp.as_str(), dir_fd.as_fd(), NAME).map_err(Into::into)
        });
    if written.is_err() {
        let _ = nix::unistd::unlinkat(
            dir_fd,
            tmp.as_str(),
            nix::unistd::UnlinkatFlags::NoRemoveDir,
        );
    }
    written?;
    nix::unistd::fsync(dir_fd)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_merge_and_are_kept_per_boot() {
        let dir = std::env::temp_dir().join(format!("ctctl-probe-cache-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let d = dir.to_str().unwrap();
        let key = BootKey {
            release: "6.18".into(),
            boot_id: "b1".into(),
        };
        let one: BTreeMap<String, String> =
            [("dump ipv4".to_string(), "proved".to_string())].into();
        let two: BTreeMap<String, String> =
            [("flush ipv4".to_string(), "refused: 22".to_string())].into();
        store_in(d, &key, &one, false).unwrap();
        store_in(d, &key, &two, false).unwrap();
        let fd = open_dir(d, false).unwrap();
        let rec = read_record(&fd).unwrap();
        assert_eq!(rec.shapes.len(), 2);
        // The directory was made 0755 whatever the umask.
        let mode = std::fs::metadata(&dir).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o755);
        // Another boot's record is not merged into.
        let other = BootKey {
            boot_id: "b2".into(),
            ..key.clone()
        };
        store_in(d, &other, &one, false).unwrap();
        let rec = read_record(&open_dir(d, false).unwrap()).unwrap();
        assert_eq!(rec.shapes.len(), 1);
        // A group-writable directory is not trusted.
        std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o775))
            .unwrap();
        assert!(open_dir(d, false).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
