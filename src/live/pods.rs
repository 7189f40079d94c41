//! Which Kubernetes pod a network namespace (or an address) belongs to.
//!
//! - The pod's uid: from the kubelet's cgroup of a process in the
//!   namespace (`/proc/PID/cgroup`): `…kubepods-besteffort-pod<UID>.slice`
//!   with the systemd driver (the uid's dashes written as underscores),
//!   `…/kubepods/besteffort/pod<UID>/…` with cgroupfs, on cgroup v1 and v2.
//! - Its name and namespace: from the kubelet's pod log directory, whose
//!   entries are `NAMESPACE_NAME_UID` (`/var/log/pods` by default).
//! - Its addresses: the local addresses of its namespace, read through a
//!   process in it (`/proc/PID/net/fib_trie` for IPv4, `if_inet6` for IPv6).
//!
//! Everything here is best effort: what cannot be read is left out.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::path::{Path, PathBuf};

/// Where the kubelet keeps pod logs, by default.
pub const POD_LOGS_DIR: &str = "/var/log/pods";

/// A pod, as its labels name it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pod {
    /// Its Kubernetes namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// Its uid.
    pub uid: String,
}

fn is_uid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// The pod uid in a `/proc/PID/cgroup` text, if the process is in a
/// kubelet's pod cgroup.
pub fn pod_uid(cgroup: &str) -> Option<String> {
    for line in cgroup.lines() {
        let path = line.splitn(3, ':').nth(2).unwrap_or("");
        for seg in path.split('/') {
            // cgroupfs: `pod<uid>`.
            if let Some(uid) = seg.strip_prefix("pod") {
                if is_uid(uid) {
                    return Some(uid.to_string());
                }
            }
            // systemd: `kubepods-<qos>-pod<uid with _>.slice`.
            if let Some(slice) = seg.strip_suffix(".slice") {
                if let Some(i) = slice.rfind("-pod") {
                    let uid = slice[i + 4..].replace('_', "-");
                    if is_uid(&uid) {
                        return Some(uid);
                    }
                }
            }
        }
    }
    None
}

/// The pods the kubelet keeps logs for: uid to pod.
#[derive(Debug, Clone, Default)]
pub struct PodDirectory {
    by_uid: HashMap<String, Pod>,
}

impl PodDirectory {
    /// Reads `dir` (`NAMESPACE_NAME_UID` entries); empty when it cannot.
    pub fn read(dir: &Path) -> PodDirectory {
        let mut by_uid = HashMap::new();
        if let Ok(rd) = std::fs::read_dir(dir) {
            for e in rd.flatten() {
                if let Some(p) = e.file_name().to_str().and_then(parse_log_dir) {
                    by_uid.insert(p.uid.clone(), p);
                }
            }
        }
        PodDirectory { by_uid }
    }

    /// The pod with `uid`, when the directory names it.
    pub fn get(&self, uid: &str) -> Option<&Pod> {
        self.by_uid.get(uid)
    }

    /// The pod a process is in (its cgroup's uid, named here).
    pub fn of_pid(&self, pid: u32) -> Option<Pod> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
        self.get(&pod_uid(&text)?).cloned()
    }
}

/// `NAMESPACE_NAME_UID` (names and namespaces have no `_`).
pub fn parse_log_dir(entry: &str) -> Option<Pod> {
    let mut it = entry.splitn(3, '_');
    let (ns, name, uid) = (it.next()?, it.next()?, it.next()?);
    (!ns.is_empty() && !name.is_empty() && is_uid(uid)).then(|| Pod {
        namespace: ns.to_string(),
        name: name.to_string(),
        uid: uid.to_string(),
    })
}

/// The local addresses of the network namespace `pid` is in, loopback
/// left out.
pub fn addresses(pid: u32) -> Vec<IpAddr> {
    let mut out = Vec::new();
    if let Ok(t) = std::fs::read_to_string(format!("/proc/{pid}/net/fib_trie")) {
        out.extend(local_v4(&t));
    }
    if let Ok(t) = std::fs::read_to_string(format!("/proc/{pid}/net/if_inet6")) {
        out.extend(local_v6(&t));
    }
    out.sort();
    out.dedup();
    out
}

/// The `/32 host LOCAL` addresses of a `fib_trie` text.
pub fn local_v4(fib_trie: &str) -> Vec<IpAddr> {
    let mut out = Vec::new();
    let mut last: Option<IpAddr> = None;
    for l in fib_trie.lines() {
        let t = l.trim_start();
        if let Some(rest) = t.strip_prefix("|-- ").or_else(|| t.strip_prefix("+-- ")) {
            last = rest.split('/').next().and_then(|a| a.trim().parse().ok());
        } else if t.starts_with("/32 host LOCAL") {
            if let Some(a) = last.filter(|a| !a.is_loopback()) {
                out.push(a);
            }
        }
    }
    out
}

/// The addresses of an `if_inet6` text (32 hex digits first), loopback and
/// link-local left out.
pub fn local_v6(if_inet6: &str) -> Vec<IpAddr> {
    if_inet6
        .lines()
        .filter_map(|l| {
            let hex = l.split_whitespace().next()?;
            let v = u128::from_str_radix(hex, 16).ok()?;
            let a = Ipv6Addr::from(v);
            let link_local = (a.segments()[0] & 0xffc0) == 0xfe80;
            (!a.is_loopback() && !link_local).then_some(IpAddr::V6(a))
        })
        .collect()
}

/// Every pod with a process on this host, and its addresses: for `count
/// --by pod`, read fresh. Each namespace is named by its lowest process,
/// as the exporter names it (the same scan, [`super::discover::scan`]).
pub fn host_pods(logs: &Path) -> HashMap<IpAddr, Pod> {
    let dir = PodDirectory::read(logs);
    let mut by_addr = HashMap::new();
    for pid in super::discover::scan().0.values().filter_map(|f| f.pid) {
        let Some(pod) = dir.of_pid(pid) else { continue };
        for a in addresses(pid) {
            by_addr.insert(a, pod.clone());
        }
    }
    by_addr
}

/// `--pod-logs-dir`, or the default.
pub fn logs_dir(given: Option<&Path>) -> PathBuf {
    given.map_or_else(|| PathBuf::from(POD_LOGS_DIR), Path::to_path_buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    const UID: &str = "1b4e28ba-2fa1-11d2-883f-0016d3cca427";

    #[test]
    fn uids_from_both_cgroup_drivers_and_versions() {
        let systemd_v2 = format!(
            "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{}.slice/cri-containerd-1234.scope\n",
            UID.replace('-', "_")
        );
        let cgroupfs_v1 = format!(
            "12:pids:/kubepods/besteffort/pod{UID}/abcdef\n11:memory:/kubepods/besteffort/pod{UID}/abcdef\n"
        );
        let guaranteed = format!(
            "0::/kubepods.slice/kubepods-pod{}.slice/x.scope",
            UID.replace('-', "_")
        );
        for text in [systemd_v2, cgroupfs_v1, guaranteed] {
            assert_eq!(pod_uid(&text).as_deref(), Some(UID), "{text}");
        }
        assert_eq!(
            pod_uid("0::/user.slice/user-0.slice/session-1.scope\n"),
            None
        );
        assert_eq!(
            pod_uid("0::/kubepods.slice/kubepods-podnotauid.slice\n"),
            None
        );
    }

    #[test]
    fn log_directory_entries_name_pods() {
        let p = parse_log_dir(&format!("kube-system_coredns-abc12_{UID}")).unwrap();
        assert_eq!(
            (p.namespace.as_str(), p.name.as_str(), p.uid.as_str()),
            ("kube-system", "coredns-abc12", UID)
        );
        assert!(parse_log_dir("nonsense").is_none());
        assert!(parse_log_dir("a_b_notauid").is_none());
    }

    #[test]
    fn local_addresses_from_proc() {
        let fib = "Main:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 0.0.0.0\n        /0 universe UNICAST\n     +-- 10.244.1.0/24 2 0 2\n        |-- 10.244.1.5\n           /32 host LOCAL\nLocal:\n  |-- 127.0.0.1\n     /32 host LOCAL\n";
        assert_eq!(local_v4(fib), vec!["10.244.1.5".parse::<IpAddr>().unwrap()]);
        let v6 = "fd000000000000000000000000000005 02 40 00 80     eth0\n00000000000000000000000000000001 01 80 10 80       lo\nfe800000000000000000000000000001 02 40 20 80     eth0\n";
        assert_eq!(local_v6(v6), vec!["fd00::5".parse::<IpAddr>().unwrap()]);
    }
}
