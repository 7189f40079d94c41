//! Making changes survive a reboot: sysctls in `/etc/sysctl.d/90-ctctl.conf`
//! (merged with what ctctl wrote there before), the hash size as a module
//! option (`/etc/modprobe.d/ctctl.conf`) when nf_conntrack is a module, or
//! a systemd-tmpfiles line (`/etc/tmpfiles.d/ctctl.conf`) when it is built
//! in. Every file is replaced atomically (temporary file + rename).

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::set::Change;
use super::Paths;
use crate::error::Error;

/// File names, under `/etc`.
pub const SYSCTL_FILE: &str = "sysctl.d/90-ctctl.conf";
/// The modprobe options file, under `/etc`.
pub const MODPROBE_FILE: &str = "modprobe.d/ctctl.conf";
/// The systemd-tmpfiles file, under `/etc`.
pub const TMPFILES_FILE: &str = "tmpfiles.d/ctctl.conf";

const HEADER: &str =
    "# Written by `ctctl config set --persist`; ctctl merges later changes into this file.\n";

/// How nf_conntrack is present in the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModuleKind {
    /// A loadable module: options in modprobe.d apply when it loads.
    Loadable,
    /// Built into the kernel: module options come from the kernel command line.
    BuiltIn,
}

/// Tells whether nf_conntrack is a loadable module: it is listed in
/// `/proc/modules`, or `/sys/module/nf_conntrack/initstate` exists (only
/// loadable modules have it).
pub fn module_kind(paths: &Paths) -> ModuleKind {
    let listed = std::fs::read_to_string(&paths.proc_modules)
        .map(|s| {
            s.lines()
                .any(|l| l.split_whitespace().next() == Some("nf_conntrack"))
        })
        .unwrap_or(false);
    if listed || paths.sys_module.join("nf_conntrack/initstate").exists() {
        ModuleKind::Loadable
    } else {
        ModuleKind::BuiltIn
    }
}

/// What was written, and advice to print.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Persisted {
    /// Files written.
    pub files: Vec<PathBuf>,
    /// Advice to print.
    pub hints: Vec<String>,
}

/// Records the changes so they apply at boot.
pub fn persist(paths: &Paths, changes: &[Change]) -> Result<Persisted, Error> {
    let mut done = Persisted::default();
    let sysctls: Vec<(&str, u64)> = changes
        .iter()
        .filter_map(|c| Some((c.key.sysctl.as_deref()?, c.new)))
        .collect();
    if !sysctls.is_empty() {
        let path = paths.etc.join(SYSCTL_FILE);
        let old = read_or_empty(&path)?;
        atomic_write(&path, &merge_sysctl(&old, &sysctls))?;
        done.files.push(path);
    }
    if let Some(c) = changes.iter().find(|c| c.key.name == "hashsize") {
        match module_kind(paths) {
            ModuleKind::Loadable => {
                let path = paths.etc.join(MODPROBE_FILE);
                let old = read_or_empty(&path)?;
                atomic_write(&path, &merge_modprobe(&old, c.new))?;
                done.files.push(path);
            }
            ModuleKind::BuiltIn => {
                let path = paths.etc.join(TMPFILES_FILE);
                let old = read_or_empty(&path)?;
                atomic_write(&path, &merge_tmpfiles(&old, c.new))?;
                done.files.push(path);
                done.hints.push(format!(
                    "nf_conntrack is built into this kernel: {TMPFILES_FILE} resizes the table \
                     at boot; to size it from the start, add nf_conntrack.hashsize={} to the \
                     kernel command line",
                    c.new
                ));
            }
        }
    }
    Ok(done)
}

fn read_or_empty(path: &Path) -> Result<String, Error> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(s),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(String::new()),
        Err(error) => Err(Error::File {
            path: path.to_path_buf(),
            error,
        }),
    }
}

/// `sysctl.d` content with `values` set: existing `key = value` lines for
/// these keys are replaced in place, other lines kept, new keys appended.
pub fn merge_sysctl(old: &str, values: &[(&str, u64)]) -> String {
    let mut out = String::new();
    if !old.starts_with(HEADER.trim_end()) {
        out.push_str(HEADER);
    }
    let mut written = vec![false; values.len()];
    for line in old.lines() {
        let key = line
            .split_once('=')
            .map(|(k, _)| k.trim())
            .filter(|k| !k.starts_with('#') && !k.starts_with(';'));
        match key.and_then(|k| values.iter().position(|(name, _)| *name == k)) {
            Some(i) => {
                out += &format!("{} = {}\n", values[i].0, values[i].1);
                written[i] = true;
            }
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    for (i, (name, v)) in values.iter().enumerate() {
        if !written[i] {
            out += &format!("{name} = {v}\n");
        }
    }
    out
}

/// `modprobe.d` content with `options nf_conntrack hashsize=N`.
pub fn merge_modprobe(old: &str, hashsize: u64) -> String {
    merge_line(
        old,
        |l| l.starts_with("options nf_conntrack ") && l.contains("hashsize="),
        &format!("options nf_conntrack hashsize={hashsize}"),
    )
}

/// `tmpfiles.d` content that writes the hash size at boot.
pub fn merge_tmpfiles(old: &str, hashsize: u64) -> String {
    merge_line(
        old,
        |l| l.starts_with("w ") && l.contains("/sys/module/nf_conntrack/parameters/hashsize"),
        &format!("w /sys/module/nf_conntrack/parameters/hashsize - - - - {hashsize}"),
    )
}

fn merge_line(old: &str, is_ours: impl Fn(&str) -> bool, line: &str) -> String {
    let mut out = String::new();
    if !old.starts_with(HEADER.trim_end()) {
        out.push_str(HEADER);
    }
    let mut replaced = false;
    for l in old.lines() {
        if is_ours(l) {
            if !replaced {
                out += line;
                out.push('\n');
                replaced = true;
            }
        } else {
            out.push_str(l);
            out.push('\n');
        }
    }
    if !replaced {
        out += line;
        out.push('\n');
    }
    out
}

/// Replaces `path` with `content` atomically: a temporary file in the same
/// directory, flushed to disk, then renamed over it.
pub fn atomic_write(path: &Path, content: &str) -> Result<(), Error> {
    let err = |error| Error::File {
        path: path.to_path_buf(),
        error,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(err)?;
    let tmp = dir.join(format!(
        ".{}.ctctl-{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("tmp"),
        std::process::id()
    ));
    let write = || -> io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(content.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        err(e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tune::keys::discover;
    use crate::tune::set::plan;

    #[test]
    fn sysctl_merge_replaces_keeps_and_appends() {
        let old = "# Written by `ctctl config set --persist`; ctctl merges later changes into this file.\n\
                   net.netfilter.nf_conntrack_max = 262144\n\
                   # a comment of the operator\n\
                   net.netfilter.nf_conntrack_tcp_timeout_time_wait=60\n";
        let new = merge_sysctl(
            old,
            &[
                ("net.netfilter.nf_conntrack_max", 524288),
                ("net.netfilter.nf_conntrack_udp_timeout", 20),
            ],
        );
        assert_eq!(
            new,
            "# Written by `ctctl config set --persist`; ctctl merges later changes into this file.\n\
             net.netfilter.nf_conntrack_max = 524288\n\
             # a comment of the operator\n\
             net.netfilter.nf_conntrack_tcp_timeout_time_wait=60\n\
             net.netfilter.nf_conntrack_udp_timeout = 20\n"
        );
        assert!(merge_sysctl("", &[("a", 1)]).starts_with("# Written by"));
    }

    #[test]
    fn module_and_builtin_hashsize() {
        assert_eq!(
            merge_modprobe("options nf_conntrack hashsize=1024\n", 4096)
                .lines()
                .last(),
            Some("options nf_conntrack hashsize=4096")
        );
        let t = merge_tmpfiles("", 65536);
        assert!(t.ends_with("w /sys/module/nf_conntrack/parameters/hashsize - - - - 65536\n"));
    }

    fn tree(tag: &str, loadable: bool) -> (PathBuf, Paths) {
        let (dir, paths) = crate::tune::testing::fake_tree(
            &format!("persist-{tag}"),
            &[
                ("nf_conntrack_max", "262144"),
                ("nf_conntrack_buckets", "65536"),
                ("nf_conntrack_tcp_timeout_established", "432000"),
            ],
        );
        if loadable {
            std::fs::write(paths.sys_module.join("nf_conntrack/initstate"), "live\n").unwrap();
        }
        (dir, paths)
    }

    #[test]
    fn persists_to_the_right_files() {
        for loadable in [true, false] {
            let (dir, paths) = tree(if loadable { "mod" } else { "builtin" }, loadable);
            let keys = discover(&paths);
            let pairs: Vec<String> = [
                "max=524288",
                "hashsize=131072",
                "timeout.tcp.established=1d",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            let (changes, _) = plan(&keys, &pairs).unwrap();
            let done = persist(&paths, &changes).unwrap();
            let sysctl = std::fs::read_to_string(paths.etc.join(SYSCTL_FILE)).unwrap();
            assert!(sysctl.contains("net.netfilter.nf_conntrack_max = 524288\n"));
            assert!(sysctl.contains("net.netfilter.nf_conntrack_tcp_timeout_established = 86400\n"));
            assert!(!sysctl.contains("hashsize"));
            if loadable {
                let m = std::fs::read_to_string(paths.etc.join(MODPROBE_FILE)).unwrap();
                assert!(m.contains("options nf_conntrack hashsize=131072"));
                assert!(!paths.etc.join(TMPFILES_FILE).exists());
                assert!(done.hints.is_empty());
            } else {
                let t = std::fs::read_to_string(paths.etc.join(TMPFILES_FILE)).unwrap();
                assert!(t.contains("- - - - 131072"));
                assert!(!paths.etc.join(MODPROBE_FILE).exists());
                assert!(done.hints[0].contains("nf_conntrack.hashsize=131072"));
            }
            // A second run merges instead of duplicating.
            let (changes, _) = plan(&keys, &["max=1048576".to_string()]).unwrap();
            persist(&paths, &changes).unwrap();
            let sysctl = std::fs::read_to_string(paths.etc.join(SYSCTL_FILE)).unwrap();
            assert_eq!(sysctl.matches("nf_conntrack_max").count(), 1);
            assert!(sysctl.contains("= 1048576"));
            assert!(sysctl.contains("nf_conntrack_tcp_timeout_established = 86400"));
            // No temporary files left behind.
            let leftovers: Vec<_> = std::fs::read_dir(paths.etc.join("sysctl.d"))
                .unwrap()
                .filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
                .collect();
            assert!(leftovers.is_empty());
            std::fs::remove_dir_all(dir).unwrap();
        }
    }
}
