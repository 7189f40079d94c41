//! The kernel's conntrack tunables: where they live (sysctls under
//! `/proc/sys/net/netfilter`, module parameters under `/sys/module`), reading
//! them, and the per-state timeouts.
//!
//! Every path goes through [`Paths`], so tests can point the library at a
//! fake tree by passing one in. The binary always uses the system paths:
//! nothing in its environment relocates what it reads or writes as root.

pub mod facts;
pub mod keys;
pub mod labels;
pub mod persist;
pub mod recommend;
pub mod set;
pub mod timeouts;

use std::io;
use std::path::{Path, PathBuf};

use crate::error::Error;

/// The file-system locations ctctl reads and writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    /// `/proc/sys`.
    pub proc_sys: PathBuf,
    /// `/sys/module`.
    pub sys_module: PathBuf,
    /// `/proc/modules` (absent when modules are not supported).
    pub proc_modules: PathBuf,
    /// `/etc`.
    pub etc: PathBuf,
    /// `/proc/meminfo`.
    pub meminfo: PathBuf,
    /// `/proc/slabinfo` (root only).
    pub slabinfo: PathBuf,
}

impl Paths {
    /// The real system paths.
    pub fn system() -> Paths {
        Paths::under(Path::new("/"))
    }

    /// Every path relocated under `root`.
    pub fn under(root: &Path) -> Paths {
        Paths {
            proc_sys: root.join("proc/sys"),
            sys_module: root.join("sys/module"),
            proc_modules: root.join("proc/modules"),
            etc: root.join("etc"),
            meminfo: root.join("proc/meminfo"),
            slabinfo: root.join("proc/slabinfo"),
        }
    }

    /// A sysctl under `net/netfilter`, e.g. `nf_conntrack_max`.
    pub fn netfilter(&self, name: &str) -> PathBuf {
        self.proc_sys.join("net/netfilter").join(name)
    }

    /// `/sys/module/nf_conntrack/parameters/hashsize`.
    pub fn hashsize(&self) -> PathBuf {
        self.sys_module.join("nf_conntrack/parameters/hashsize")
    }
}

/// Reads a one-line kernel file, trimmed.
///
/// # Errors
///
/// When a file under /proc/sys or /sys cannot be read or written (writing needs
/// root), or a value is out of range; the error names the file or key.
pub fn read_trimmed(path: &Path) -> Result<String, Error> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .map_err(|error| Error::File {
            path: path.to_path_buf(),
            error,
        })
}

/// Reads a numeric kernel file; `Ok(None)` when it does not exist (a
/// tunable this kernel does not have).
///
/// # Errors
///
/// When a file under /proc/sys or /sys cannot be read or written (writing needs
/// root), or a value is out of range; the error names the file or key.
pub fn read_u64(path: &Path) -> Result<Option<u64>, Error> {
    match std::fs::read_to_string(path) {
        Ok(s) => s.trim().parse().map(Some).map_err(|_| Error::File {
            path: path.to_path_buf(),
            error: io::Error::new(
                io::ErrorKind::InvalidData,
                format!("not a number: {:?}", s.trim()),
            ),
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(Error::File {
            path: path.to_path_buf(),
            error,
        }),
    }
}

/// A fake `/proc/sys` + `/sys/module` tree for unit tests.
#[cfg(test)]
pub(crate) mod testing {
    use std::path::PathBuf;

    use super::Paths;

    /// Creates `$TMP/ctctl-<tag>-<pid>` with the given `net/netfilter`
    /// sysctls and `hashsize` = 65536; returns it and its [`Paths`].
    pub fn fake_tree(tag: &str, sysctls: &[(&str, &str)]) -> (PathBuf, Paths) {
        let dir = std::env::temp_dir().join(format!("ctctl-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let nf = dir.join("proc/sys/net/netfilter");
        std::fs::create_dir_all(&nf).unwrap();
        for (f, v) in sysctls {
            std::fs::write(nf.join(f), format!("{v}\n")).unwrap();
        }
        let params = dir.join("sys/module/nf_conntrack/parameters");
        std::fs::create_dir_all(&params).unwrap();
        std::fs::write(params.join("hashsize"), "65536\n").unwrap();
        let paths = Paths::under(&dir);
        (dir, paths)
    }
}
