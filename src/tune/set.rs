//! Changing tunables all or nothing: every `KEY=VALUE` pair is validated
//! before anything is written; then all are written, and if one write
//! fails, the ones already written are put back.

use std::io;
use std::path::Path;

use super::keys::{resolve, Key, Scope};

/// One change to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The key.
    pub key: Key,
    /// Its value before.
    pub old: u64,
    /// Its value after.
    pub new: u64,
}

/// A pair that cannot be applied; nothing was written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{pair}: {reason}")]
pub struct PlanError {
    /// The `KEY=VALUE` pair as given.
    pub pair: String,
    /// Why it cannot be applied.
    pub reason: String,
    /// The key is global and this is not the initial network namespace.
    pub global_here: bool,
    /// This process may not write the file (not root).
    pub permission: bool,
}

/// Validates every pair and returns the changes (old → new) and notes about
/// old names. Nothing is written.
///
/// # Errors
///
/// When a file under /proc/sys or /sys cannot be read or written (writing needs
/// root), or a value is out of range; the error names the file or key.
pub fn plan(keys: &[Key], pairs: &[String]) -> Result<(Vec<Change>, Vec<String>), PlanError> {
    let mut changes: Vec<Change> = Vec::new();
    let mut notes = Vec::new();
    for pair in pairs {
        let err = |reason: String| PlanError {
            pair: pair.clone(),
            reason,
            global_here: false,
            permission: false,
        };
        let (name, value) = pair
            .split_once('=')
            .ok_or_else(|| err("expected KEY=VALUE".to_string()))?;
        let (name, value) = (name.trim(), value.trim());
        let r = resolve(keys, name).ok_or_else(|| {
            err("unknown key (see `ctctl config` for the keys this kernel has)".to_string())
        })?;
        if let Some(n) = r.note {
            notes.push(n);
        }
        let key = r.key;
        if key.read_only {
            return Err(err(format!("{} is read-only", key.name)));
        }
        let new = key.parse_value(value).map_err(err)?;
        if !key.writable_here() {
            let what = key.sysctl.as_deref().unwrap_or(&key.name);
            return Err(PlanError {
                pair: pair.clone(),
                reason: if key.scope == Scope::Global {
                    format!(
                        "{} is global: set it from the initial network namespace",
                        short_sysctl(what)
                    )
                } else {
                    format!("{what} is not writable here")
                },
                global_here: key.scope == Scope::Global,
                permission: false,
            });
        }
        if nix::unistd::access(&key.path, nix::unistd::AccessFlags::W_OK).is_err() {
            return Err(PlanError {
                pair: pair.clone(),
                reason: format!("cannot write {}: run as root", key.path.display()),
                global_here: false,
                permission: true,
            });
        }
        let old = key
            .read()
            .map_err(|e| err(e.to_string()))?
            .ok_or_else(|| err(format!("{} does not exist", key.path.display())))?;
        if changes.iter().any(|c| c.key.name == key.name) {
            return Err(err(format!("{} is given twice", key.name)));
        }
        changes.push(Change {
            key: key.clone(),
            old,
            new,
        });
    }
    Ok((changes, notes))
}

fn short_sysctl(s: &str) -> &str {
    s.strip_prefix("net.netfilter.").unwrap_or(s)
}

/// A write that failed, after the earlier ones were put back.
#[derive(Debug, thiserror::Error)]
#[error("writing {key} = {value} failed: {error}{}", restore_note(.restore_failed))]
pub struct ApplyError {
    /// The key whose write failed.
    pub key: String,
    /// The value it was to get.
    pub value: u64,
    /// The error.
    pub error: io::Error,
    /// Keys that could not be put back (left at their new value).
    pub restore_failed: Vec<String>,
}

fn restore_note(failed: &[String]) -> String {
    if failed.is_empty() {
        "; every earlier change was undone".to_string()
    } else {
        format!("; could not undo {}", failed.join(", "))
    }
}

/// Writes a value into a kernel file.
///
/// # Errors
///
/// When a file under /proc/sys or /sys cannot be read or written (writing needs
/// root), or a value is out of range; the error names the file or key.
pub fn write_value(path: &Path, v: u64) -> io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    // A kernel file that exists: never created, never through a symlink.
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)?;
    f.write_all(format!("{v}\n").as_bytes())
}

/// Applies the changes in order with `write`; on a failure, writes the old
/// values of those already applied back (in reverse) and reports.
///
/// # Errors
///
/// When a file under /proc/sys or /sys cannot be read or written (writing needs
/// root), or a value is out of range; the error names the file or key.
pub fn apply(
    changes: &[Change],
    mut write: impl FnMut(&Path, u64) -> io::Result<()>,
) -> Result<(), ApplyError> {
    for (i, c) in changes.iter().enumerate() {
        if c.old == c.new {
            continue;
        }
        if let Err(error) = write(&c.key.path, c.new) {
            let restore_failed = changes[..i]
                .iter()
                .rev()
                .filter(|d| d.old != d.new)
                .filter(|d| write(&d.key.path, d.old).is_err())
                .map(|d| d.key.name.clone())
                .collect();
            return Err(ApplyError {
                key: c.key.name.clone(),
                value: c.new,
                error,
                restore_failed,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tune::keys::discover;
    use crate::tune::Paths;
    use std::os::unix::fs::PermissionsExt;

    fn tree(tag: &str) -> (std::path::PathBuf, Paths) {
        crate::tune::testing::fake_tree(
            &format!("set-{tag}"),
            &[
                ("nf_conntrack_max", "262144"),
                ("nf_conntrack_buckets", "65536"),
                ("nf_conntrack_count", "10"),
                ("nf_conntrack_acct", "0"),
                ("nf_conntrack_tcp_timeout_established", "432000"),
                ("nf_conntrack_tcp_timeout_time_wait", "120"),
            ],
        )
    }

    fn pairs(p: &[&str]) -> Vec<String> {
        p.iter().map(|s| s.to_string()).collect()
    }

    fn value(paths: &Paths, file: &str) -> String {
        std::fs::read_to_string(paths.netfilter(file))
            .unwrap()
            .trim()
            .to_string()
    }

    #[test]
    fn validates_everything_before_writing() {
        let (dir, paths) = tree("validate");
        let keys = discover(&paths);
        for (bad, needle) in [
            (
                vec!["timeout.tcp.time_wait=30", "bogus=1"],
                "bogus=1: unknown key",
            ),
            (
                vec!["timeout.tcp.time_wait=30", "acct=7"],
                "acct=7: use 0 or 1",
            ),
            (vec!["max=0"], "out of range"),
            (vec!["count=5"], "read-only"),
            (vec!["max"], "expected KEY=VALUE"),
            (vec!["max=1", "ip_conntrack_max=2"], "given twice"),
        ] {
            let e = plan(&keys, &pairs(&bad)).unwrap_err();
            assert!(e.to_string().contains(needle), "{bad:?}: {e}");
        }
        assert_eq!(value(&paths, "nf_conntrack_tcp_timeout_time_wait"), "120");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn global_key_in_a_child_namespace_says_so() {
        let (dir, paths) = tree("global");
        // As in a child network namespace: the kernel makes these 0444.
        for f in ["nf_conntrack_max", "nf_conntrack_buckets"] {
            std::fs::set_permissions(paths.netfilter(f), std::fs::Permissions::from_mode(0o444))
                .unwrap();
        }
        let keys = discover(&paths);
        let e = plan(&keys, &pairs(&["max=524288"])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "max=524288: nf_conntrack_max is global: set it from the initial network namespace"
        );
        assert!(e.global_here);
        let e = plan(&keys, &pairs(&["hashsize=131072"])).unwrap_err();
        assert!(e.to_string().contains("is global"), "{e}");
        // Per-namespace keys still work.
        assert!(plan(&keys, &pairs(&["timeout.tcp.time_wait=30"])).is_ok());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn applies_with_legacy_names_and_durations() {
        let (dir, paths) = tree("apply");
        let keys = discover(&paths);
        let (changes, notes) = plan(
            &keys,
            &pairs(&[
                "ip_conntrack_max=524288",
                "net.netfilter.nf_conntrack_tcp_timeout_established=6h",
                "buckets=131072",
            ]),
        )
        .unwrap();
        assert_eq!(notes.len(), 2);
        assert_eq!(changes[0].old, 262144);
        assert_eq!(changes[1].new, 21600);
        apply(&changes, write_value).unwrap();
        assert_eq!(value(&paths, "nf_conntrack_max"), "524288");
        assert_eq!(
            value(&paths, "nf_conntrack_tcp_timeout_established"),
            "21600"
        );
        assert_eq!(
            std::fs::read_to_string(paths.hashsize()).unwrap().trim(),
            "131072"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_failing_write_undoes_the_earlier_ones() {
        let (dir, paths) = tree("rollback");
        let keys = discover(&paths);
        let (changes, _) = plan(
            &keys,
            &pairs(&["max=524288", "acct=1", "timeout.tcp.time_wait=30"]),
        )
        .unwrap();
        let mut writes = 0;
        let e = apply(&changes, |p, v| {
            writes += 1;
            if p.ends_with("nf_conntrack_tcp_timeout_time_wait") {
                return Err(io::Error::from_raw_os_error(libc::EINVAL));
            }
            write_value(p, v)
        })
        .unwrap_err();
        assert_eq!(e.key, "timeout.tcp.time_wait");
        assert!(e.restore_failed.is_empty());
        assert!(
            e.to_string().contains("every earlier change was undone"),
            "{e}"
        );
        assert_eq!(writes, 5, "three tries, two undos");
        assert_eq!(value(&paths, "nf_conntrack_max"), "262144");
        assert_eq!(value(&paths, "nf_conntrack_acct"), "0");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
