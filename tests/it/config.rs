//! `ctctl config`, `status`, `stats` against the real kernel.

use std::sync::Mutex;

use crate::harness::{ctctl_bin, Netns};
use crate::require_root;

#[test]
fn set_and_read_back_timeouts_in_a_namespace() {
    require_root!();
    let ns = Netns::new();
    let host =
        std::fs::read_to_string("/proc/sys/net/netfilter/nf_conntrack_tcp_timeout_time_wait")
            .unwrap();
    let out = ns.ctctl_ok(&[
        "config",
        "set",
        "timeout.tcp.time_wait=30s",
        "net.netfilter.nf_conntrack_udp_timeout=45",
    ]);
    assert!(
        out.contains("timeout.tcp.time_wait: 120 (2m) -> 30 (set)"),
        "{out}"
    );
    assert_eq!(
        ns.ctctl_ok(&["config", "timeout.tcp.time_wait"]).trim(),
        "30"
    );
    assert_eq!(ns.ctctl_ok(&["config", "timeout.udp"]).trim(), "45");
    let sysctl = ns.exec_ok(&[
        "sysctl",
        "-n",
        "net.netfilter.nf_conntrack_tcp_timeout_time_wait",
    ]);
    assert_eq!(String::from_utf8_lossy(&sysctl.stdout).trim(), "30");
    assert_eq!(
        std::fs::read_to_string("/proc/sys/net/netfilter/nf_conntrack_tcp_timeout_time_wait")
            .unwrap(),
        host,
        "the host namespace is untouched"
    );
    // JSON: one object, every key with value, unit, scope.
    let v: serde_json::Value =
        serde_json::from_str(&ns.ctctl_ok(&["-o", "json", "config"])).unwrap();
    assert_eq!(v["timeout.tcp.time_wait"]["value"], 30);
    assert_eq!(v["timeout.tcp.time_wait"]["unit"], "seconds");
    assert_eq!(v["max"]["scope"], "global");
    assert_eq!(
        v["max"]["writable"], false,
        "read-only in a child namespace"
    );
}

#[test]
fn dry_run_and_bad_pairs_write_nothing() {
    require_root!();
    let ns = Netns::new();
    let out = ns.ctctl_ok(&["config", "set", "--dry-run", "timeout.tcp.time_wait=1m"]);
    assert!(out.contains("would set"), "{out}");
    assert_eq!(
        ns.ctctl_ok(&["config", "timeout.tcp.time_wait"]).trim(),
        "120"
    );
    for bad in [
        &["config", "set", "timeout.tcp.time_wait=30", "no.such.key=1"][..],
        &["config", "set", "timeout.tcp.time_wait=30", "acct=maybe"][..],
        &["config", "set", "timeout.tcp.time_wait=30", "timeout.udp=0"][..],
    ] {
        let out = ns.ctctl_out(bad);
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(bad[3]),
            "names the pair"
        );
        assert_eq!(
            ns.ctctl_ok(&["config", "timeout.tcp.time_wait"]).trim(),
            "120"
        );
    }
}

#[test]
fn global_knobs_in_a_child_namespace_say_so() {
    require_root!();
    let ns = Netns::new();
    for (pair, name) in [
        ("max=300000", "nf_conntrack_max"),
        ("hashsize=131072", "hashsize"),
        ("ip_conntrack_max=300000", "nf_conntrack_max"),
    ] {
        let out = ns.ctctl_out(&["config", "set", pair]);
        assert_eq!(out.status.code(), Some(2), "{pair}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!(
                "{name} is global: set it from the initial network namespace"
            )),
            "{pair}: {err}"
        );
        assert!(!err.contains("Permission denied"));
    }
}

#[test]
fn status_and_stats_describe_a_known_table() {
    require_root!();
    let ns = Netns::new();
    let mut lines = String::new();
    for i in 0..30 {
        lines += &format!("-I -p tcp -s 127.0.0.1 -d 127.0.0.1 --sport {} --dport 80 --state TIME_WAIT -t 100 -u SEEN_REPLY\n", 1000 + i);
    }
    for i in 0..70 {
        lines += &format!("-I -p udp -s 10.0.1.{i} -d 10.0.0.53 --sport 1000 --dport 53 -t 100\n");
    }
    ns.restore(&lines);
    let v: serde_json::Value =
        serde_json::from_str(&ns.ctctl_ok(&["-o", "json", "status"])).unwrap();
    assert_eq!(v["count"], 100);
    assert!(v["max"].as_u64().unwrap() > 0);
    assert_eq!(v["states"]["-"], 70);
    assert_eq!(v["states"]["TIME_WAIT"], 30);
    assert_eq!(v["loopback"], 30);
    assert_eq!(v["switches"]["acct"], 0);
    assert!(v["stats"]["insert"].is_u64());
    let warnings = v["warnings"].as_array().unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| w.as_str().unwrap().contains("notrack")),
        "30% loopback: the NOTRACK rule is offered: {warnings:?}"
    );
    let text = ns.ctctl_ok(&["status"]);
    assert!(text.starts_with("entries    100 / "), "{text}");
    assert!(
        text.contains("states     - 70 (70.0%), TIME_WAIT 30 (30.0%)"),
        "{text}"
    );
    let check = ns.ctctl_out(&["status", "--check", "--quick"]);
    assert_eq!(
        check.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );

    let stats = ns.ctctl_ok(&["stats"]);
    let cpus = std::thread::available_parallelism().unwrap().get();
    assert_eq!(stats.lines().count(), cpus);
    assert!(stats.starts_with("cpu=0   \tfound="), "{stats:?}");
    let theirs = ns.conntrack(&["-S"]);
    let field_names = |s: &str| -> Vec<String> {
        s.lines()
            .next()
            .unwrap()
            .split_whitespace()
            .map(|f| f.split('=').next().unwrap().to_string())
            .collect()
    };
    assert_eq!(field_names(&stats), field_names(&theirs));
}

/// Guards the global knobs: restores them when dropped, even on panic.
struct Restore(Vec<(&'static str, String)>);

impl Drop for Restore {
    fn drop(&mut self) {
        for (path, value) in &self.0 {
            let _ = std::fs::write(path, value);
        }
    }
}

static GLOBAL_KNOBS: Mutex<()> = Mutex::new(());

/// The one test that writes the global knobs, from the initial namespace;
/// it restores them whatever happens.
#[test]
fn max_and_hashsize_in_the_initial_namespace() {
    require_root!();
    let _serial = GLOBAL_KNOBS.lock().unwrap_or_else(|p| p.into_inner());
    const MAX: &str = "/proc/sys/net/netfilter/nf_conntrack_max";
    const HASH: &str = "/sys/module/nf_conntrack/parameters/hashsize";
    let old_max = std::fs::read_to_string(MAX).unwrap();
    let old_hash = std::fs::read_to_string(HASH).unwrap();
    let _restore = Restore(vec![(MAX, old_max.clone()), (HASH, old_hash.clone())]);
    let new_max = old_max.trim().parse::<u64>().unwrap() + 1024;
    let new_hash = old_hash.trim().parse::<u64>().unwrap() + 1024;
    let out = std::process::Command::new(ctctl_bin())
        .args([
            "config",
            "set",
            &format!("max={new_max}"),
            &format!("buckets={new_hash}"),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(MAX).unwrap().trim(),
        new_max.to_string()
    );
    assert_eq!(
        std::fs::read_to_string(HASH).unwrap().trim(),
        new_hash.to_string()
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("old name of hashsize"));
}
