//! Which network namespaces exist, and so are worth following: those a
//! process is in (`/proc/PID/ns/net`), those `ip netns` names
//! (`/run/netns`), and those any other bind mount holds (an `nsfs` line of
//! `/proc/self/mountinfo`, such as a container runtime's). A namespace in
//! none of them is kept alive only by sockets, ours included: it is gone
//! for its owners and must be released.
//!
//! A namespace that vanishes in the middle of a scan, a process that
//! exits, an entry of /run/netns that is not a namespace: skipped quietly
//! (logged at debug).

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;

/// A namespace: its nsfs device and inode.
pub type NsKey = (u64, u64);

/// A namespace found: how to reach it and what to call it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// A path to it (`/run/netns/NAME`, `/proc/PID/ns/net`, a mount).
    pub path: String,
    /// Its label: the ip-netns name, the mount's file name, `init` for
    /// the initial one (PID 1's and the kernel threads'), else `pid/N` for
    /// the lowest PID in it.
    pub label: String,
    /// A process in it, when one is (the lowest PID).
    pub pid: Option<u32>,
}

/// What one scan cost and found.
#[derive(Debug, Clone, Default)]
pub struct ScanStats {
    /// Processes looked at.
    pub processes: usize,
    /// Namespaces found.
    pub namespaces: usize,
    /// How long the scan took.
    pub took: std::time::Duration,
}

fn key(path: &str) -> Option<NsKey> {
    match std::fs::metadata(path) {
        Ok(m) => Some((m.dev(), m.ino())),
        Err(e) => {
            tracing::debug!("namespace scan: {path}: {e}");
            None
        }
    }
}

/// Every network namespace held by a process or a bind mount.
pub fn scan() -> (BTreeMap<NsKey, Found>, ScanStats) {
    let started = std::time::Instant::now();
    let mut found: BTreeMap<NsKey, Found> = BTreeMap::new();
    let mut stats = ScanStats::default();
    // Named ones first: their names are the best labels.
    if let Ok(rd) = std::fs::read_dir(crate::netns::NETNS_RUN_DIR) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let path = format!("{}/{name}", crate::netns::NETNS_RUN_DIR);
            if let Some(k) = key(&path).filter(|_| is_netns(&path)) {
                found.entry(k).or_insert(Found {
                    path,
                    label: name,
                    pid: None,
                });
            }
        }
    }
    // Other nsfs bind mounts (container runtimes keep theirs elsewhere).
    if let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") {
        for line in info.lines() {
            let Some((pre, post)) = line.split_once(" - ") else {
                continue;
            };
            if !post.starts_with("nsfs ") {
                continue;
            }
            let Some(point) = pre.split_whitespace().nth(4) else {
                continue;
            };
            let point = point.replace("\\040", " ");
            if !is_netns(&point) {
                continue;
            }
            if let Some(k) = key(&point) {
                let label = point.rsplit('/').next().unwrap_or(&point).to_string();
                found.entry(k).or_insert(Found {
                    path: point,
                    label,
                    pid: None,
                });
            }
        }
    }
    let mut pids: Vec<u32> = std::fs::read_dir("/proc")
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    pids.sort_unstable();
    stats.processes = pids.len();
    for pid in pids {
        let path = format!("/proc/{pid}/ns/net");
        let Some(k) = key(&path) else { continue };
        let f = found.entry(k).or_insert(Found {
            path,
            // PID 2 is kthreadd, in the initial namespace like PID 1 (whose
            // namespace a sandbox may hide).
            label: if pid == 1 || pid == 2 {
                "init".to_string()
            } else {
                format!("pid/{pid}")
            },
            pid: None,
        });
        if f.pid.is_none() {
            f.pid = Some(pid);
        }
    }
    stats.namespaces = found.len();
    stats.took = started.elapsed();
    (found, stats)
}

/// Whether `path` is a network namespace (an `nsfs` file whose link
/// target, when it is a magic link, says `net:`).
fn is_netns(path: &str) -> bool {
    // A namespace file lives on nsfs, the device of this process's own
    // namespace file; a file of /run/netns that `ip netns add` made but
    // has not mounted yet, or anything else put there, does not.
    let nsfs = std::fs::metadata("/proc/self/ns/net").map(|m| m.dev());
    match (std::fs::metadata(path), nsfs) {
        (Ok(m), Ok(dev)) => !m.is_dir() && m.dev() == dev,
        _ => false,
    }
}

/// This process's own namespace.
pub fn own() -> Option<NsKey> {
    key("/proc/self/ns/net")
}
