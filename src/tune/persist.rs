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
    /// Files read at boot after ours that set the same key: their value
    /// wins. One line each, naming the file and the key.
    pub overridden: Vec<String>,
}

/// Records the changes so they apply at boot. Every file's new content is
/// written to a temporary file first; only when all are written and synced
/// are they renamed into place, so a failure leaves every file as it was.
///
/// # Errors
///
/// When a file under /proc/sys or /sys cannot be read or written (writing needs
/// root), or a value is out of range; the error names the file or key.
pub fn persist(paths: &Paths, changes: &[Change]) -> Result<Persisted, Error> {
    let mut done = Persisted::default();
    let mut files: Vec<(PathBuf, String)> = Vec::new();
    let sysctls: Vec<(&str, u64)> = changes
        .iter()
        .filter_map(|c| Some((c.key.sysctl.as_deref()?, c.new)))
        .collect();
    if !sysctls.is_empty() {
        let path = paths.etc.join(SYSCTL_FILE);
        let old = read_or_empty(&path)?;
        files.push((path, merge_sysctl(&old, &sysctls)));
        for (key, _) in &sysctls {
            for f in sysctl_overrides(paths, key) {
                done.overridden.push(format!(
                    "{} sets {key} too and is applied after {SYSCTL_FILE} at boot: its value wins",
                    f.display()
                ));
            }
        }
    }
    if let Some(c) = changes.iter().find(|c| c.key.name == "hashsize") {
        match module_kind(paths) {
            ModuleKind::Loadable => {
                let path = paths.etc.join(MODPROBE_FILE);
                let old = read_or_empty(&path)?;
                files.push((path, merge_modprobe(&old, c.new)));
                for f in modprobe_overrides(paths) {
                    done.overridden.push(format!(
                        "{} sets nf_conntrack hashsize too and is read after {MODPROBE_FILE}: \
                         its value wins",
                        f.display()
                    ));
                }
            }
            ModuleKind::BuiltIn => {
                let path = paths.etc.join(TMPFILES_FILE);
                let old = read_or_empty(&path)?;
                files.push((path, merge_tmpfiles(&old, c.new)));
                done.hints.push(format!(
                    "nf_conntrack is built into this kernel: {TMPFILES_FILE} resizes the table \
                     at boot; to size it from the start, add nf_conntrack.hashsize={} to the \
                     kernel command line",
                    c.new
                ));
            }
        }
    }
    done.files = replace_all(&files)?;
    Ok(done)
}

/// The sysctl.d directories, in `sysctl --system`'s order of precedence
/// (a file name in an earlier directory hides the same name in a later one).
const SYSCTL_DIRS: [&str; 5] = [
    "sysctl.d",
    "/run/sysctl.d",
    "/usr/local/lib/sysctl.d",
    "/usr/lib/sysctl.d",
    "/lib/sysctl.d",
];

/// Files that `sysctl --system` applies after ours and that set `key`:
/// every `*.conf` whose name sorts after `90-ctctl.conf` across the
/// sysctl.d directories, and `/etc/sysctl.conf`, which comes last.
pub fn sysctl_overrides(paths: &Paths, key: &str) -> Vec<PathBuf> {
    let ours = Path::new(SYSCTL_FILE).file_name().unwrap_or_default();
    let dirs = SYSCTL_DIRS.map(|d| {
        if d.starts_with('/') {
            PathBuf::from(d)
        } else {
            paths.etc.join(d)
        }
    });
    let later = conf_files_after(&dirs, ours);
    let mut out: Vec<PathBuf> = later.into_iter().filter(|f| sets_sysctl(f, key)).collect();
    let main = paths.etc.join("sysctl.conf");
    if sets_sysctl(&main, key) {
        out.push(main);
    }
    out
}

/// Files that modprobe reads after `ctctl.conf` and that set
/// `nf_conntrack hashsize` (the last value given wins).
pub fn modprobe_overrides(paths: &Paths) -> Vec<PathBuf> {
    let ours = Path::new(MODPROBE_FILE).file_name().unwrap_or_default();
    let dirs = [
        paths.etc.join("modprobe.d"),
        PathBuf::from("/run/modprobe.d"),
        PathBuf::from("/usr/local/lib/modprobe.d"),
        PathBuf::from("/usr/lib/modprobe.d"),
        PathBuf::from("/lib/modprobe.d"),
    ];
    conf_files_after(&dirs, ours)
        .into_iter()
        .filter(|f| {
            std::fs::read_to_string(f).is_ok_and(|t| {
                t.lines().any(|l| {
                    let l = l.trim();
                    l.starts_with("options nf_conntrack ") && l.contains("hashsize=")
                })
            })
        })
        .collect()
}

/// `*.conf` files of `dirs` whose names sort after `ours`, one per name
/// (the first directory holding a name wins), in name order.
fn conf_files_after(dirs: &[PathBuf], ours: &std::ffi::OsStr) -> Vec<PathBuf> {
    let mut by_name: std::collections::BTreeMap<std::ffi::OsString, PathBuf> =
        std::collections::BTreeMap::new();
    for d in dirs {
        let Ok(rd) = std::fs::read_dir(d) else {
            continue;
        };
        for e in rd.flatten() {
            let name = e.file_name();
            let is_conf = Path::new(&name).extension().is_some_and(|x| x == "conf");
            if is_conf && name.as_os_str() > ours {
                by_name.entry(name).or_insert_with(|| e.path());
            }
        }
    }
    by_name.into_values().collect()
}

/// Whether a sysctl.conf-style file sets `key` (`a.b.c = v`, `a/b/c=v`,
/// with an optional leading `-`).
fn sets_sysctl(path: &Path, key: &str) -> bool {
    let Ok(text) = std::fs::read_to_string(path) else {
        return false;
    };
    text.lines().any(|l| {
        let l = l.trim();
        if l.starts_with('#') || l.starts_with(';') {
            return false;
        }
        l.split_once('=')
            .is_some_and(|(k, _)| k.trim().trim_start_matches('-').replace('/', ".") == key)
    })
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

/// Replaces each `path` with its content: every new content goes to a
/// fresh temporary file in the same directory (`O_EXCL`, `O_NOFOLLOW`, the
/// mode and owner of the file it replaces, else 0644), synced; only when
/// all are staged are they renamed into place and their directories
/// synced. A staging failure removes the temporary files and changes
/// nothing. Returns the files replaced.
///
/// # Errors
///
/// When a file under /proc/sys or /sys cannot be read or written (writing needs
/// root), or a value is out of range; the error names the file or key.
pub fn replace_all(files: &[(PathBuf, String)]) -> Result<Vec<PathBuf>, Error> {
    let mut staged: Vec<(PathBuf, PathBuf)> = Vec::new();
    let cleanup = |staged: &[(PathBuf, PathBuf)]| {
        for (tmp, _) in staged {
            let _ = std::fs::remove_file(tmp);
        }
    };
    for (path, content) in files {
        match stage(path, content) {
            Ok(tmp) => staged.push((tmp, path.clone())),
            Err(error) => {
                cleanup(&staged);
                return Err(Error::File {
                    path: path.clone(),
                    error,
                });
            }
        }
    }
    let mut done = Vec::new();
    for (i, (tmp, path)) in staged.iter().enumerate() {
        let renamed = std::fs::rename(tmp, path).and_then(|()| {
            std::fs::File::open(path.parent().unwrap_or(Path::new(".")))?.sync_all()
        });
        if let Err(error) = renamed {
            cleanup(&staged[i..]);
            return Err(Error::File {
                path: path.clone(),
                error: io::Error::new(
                    error.kind(),
                    format!(
                        "{error} (already replaced: {})",
                        if done.is_empty() {
                            "none".to_string()
                        } else {
                            done.iter()
                                .map(|p: &PathBuf| p.display().to_string())
                                .collect::<Vec<_>>()
                                .join(", ")
                        }
                    ),
                ),
            });
        }
        done.push(path.clone());
    }
    Ok(done)
}

/// Writes `content` to a new temporary file beside `path`; returns its name.
fn stage(path: &Path, content: &str) -> io::Result<PathBuf> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    // Keep what the operator set on the file we replace; never follow a
    // symlink there (we replace the link itself, as sysctl reads it).
    let (mode, owner) = match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_file() => (m.mode() & 0o7777, Some((m.uid(), m.gid()))),
        _ => (0o644, None),
    };
    let base = path.file_name().and_then(|n| n.to_str()).unwrap_or("tmp");
    let mut attempt = 0u32;
    loop {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let tmp = dir.join(format!(".{base}.ctctl-{}-{nanos:08x}", std::process::id()));
        let opened = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&tmp);
        let mut f = match opened {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 16 => {
                attempt += 1;
                continue;
            }
            Err(e) => return Err(e),
        };
        let written = (|| {
            f.write_all(content.as_bytes())?;
            // The mode asked for is masked by the umask: set it exactly.
            f.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(mode))?;
            if let Some((uid, gid)) = owner {
                std::os::unix::fs::fchown(&f, Some(uid), Some(gid))?;
            }
            f.sync_all()
        })();
        return match written {
            Ok(()) => Ok(tmp),
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                Err(e)
            }
        };
    }
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

    #[test]
    fn keeps_mode_and_warns_about_files_that_win_at_boot() {
        use std::os::unix::fs::PermissionsExt;
        let (dir, paths) = tree("override", false);
        let keys = discover(&paths);
        let ours = paths.etc.join(SYSCTL_FILE);
        std::fs::create_dir_all(ours.parent().unwrap()).unwrap();
        std::fs::write(&ours, "net.netfilter.nf_conntrack_max = 1\n").unwrap();
        std::fs::set_permissions(&ours, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::write(
            paths.etc.join("sysctl.d/99-zz.conf"),
            "net.netfilter.nf_conntrack_max=2\n",
        )
        .unwrap();
        std::fs::write(
            paths.etc.join("sysctl.d/10-early.conf"),
            "net.netfilter.nf_conntrack_max=3\n",
        )
        .unwrap();
        std::fs::write(
            paths.etc.join("sysctl.conf"),
            "-net/netfilter/nf_conntrack_max = 4\n",
        )
        .unwrap();
        let (changes, _) = plan(&keys, &["max=524288".to_string()]).unwrap();
        let done = persist(&paths, &changes).unwrap();
        let mode = std::fs::metadata(&ours).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o600, "the operator's mode is kept");
        assert_eq!(done.overridden.len(), 2, "{:?}", done.overridden);
        assert!(done.overridden[0].contains("99-zz.conf"));
        assert!(done.overridden[1].contains("sysctl.conf"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_failure_while_staging_replaces_nothing() {
        let (dir, _paths) = tree("staging", false);
        let first = dir.join("etc/a.conf");
        std::fs::create_dir_all(first.parent().unwrap()).unwrap();
        std::fs::write(&first, "old\n").unwrap();
        // The second file's directory cannot be made: a file is in the way.
        std::fs::write(dir.join("etc/blocked"), "").unwrap();
        let second = dir.join("etc/blocked/b.conf");
        let r = replace_all(&[(first.clone(), "new\n".into()), (second, "new\n".into())]);
        assert!(r.is_err());
        assert_eq!(std::fs::read_to_string(&first).unwrap(), "old\n");
        let leftovers = std::fs::read_dir(dir.join("etc"))
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
            .count();
        assert_eq!(leftovers, 0, "temporary files removed");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_planted_symlink_is_replaced_not_followed() {
        let (dir, _paths) = tree("symlink", false);
        let target = dir.join("victim");
        std::fs::write(&target, "precious\n").unwrap();
        let path = dir.join("etc/x.conf");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(&target, &path).unwrap();
        replace_all(&[(path.clone(), "ours\n".into())]).unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious\n");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "ours\n");
        assert!(!std::fs::symlink_metadata(&path)
            .unwrap()
            .file_type()
            .is_symlink());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
