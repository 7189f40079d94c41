//! `ctctl delete` and `ctctl flush`: exactly the matching entries go, all
//! others remain.

use std::ops::ControlFlow;

use crate::harness::{list, table, Netns};
use crate::require_root;

const MIXED: &str = include_str!("fixtures/mixed.txt");

/// Deleting `args` leaves exactly the table minus what `list args` showed.
fn assert_deletes_exactly(ns: &Netns, args: &[&str], method: &str) {
    let before = table(ns);
    let matching = list(ns, args);
    assert!(!matching.is_empty(), "{args:?} should match something");
    let mut full = vec!["-o", "json", "delete"];
    full.extend_from_slice(args);
    let out = ns.ctctl_ok(&full);
    let summary: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(summary["method"], method, "{args:?}");
    assert_eq!(
        summary["deleted"],
        matching.len() as u64,
        "{args:?}: {summary}"
    );
    assert_eq!(summary["failed"], 0);
    let after = table(ns);
    let expected: Vec<String> = before
        .into_iter()
        .filter(|l| !matching.contains(l))
        .collect();
    assert_eq!(after, expected, "{args:?}");
    assert!(list(ns, args).is_empty());
}

#[test]
fn kernel_fast_path_deletes_exactly_the_matches() {
    require_root!();
    let ns = Netns::new();
    ns.restore(MIXED);
    ns.restore(
        "-I -p tcp -s 10.0.0.1 -d 8.8.8.8 --sport 5353 --dport 53 --state ESTABLISHED -t 60\n",
    );
    assert_deletes_exactly(&ns, &["--mark", "42"], "kernel-filter");
    assert_deletes_exactly(&ns, &["-p", "udp", "--dport", "53"], "kernel-filter");
    assert_deletes_exactly(&ns, &["-s", "10.0.0.7"], "kernel-filter");
    assert_deletes_exactly(&ns, &["--zone", "7"], "kernel-filter");
}

#[test]
fn userspace_path_by_state_deletes_exactly_the_matches() {
    require_root!();
    let ns = Netns::new();
    ns.restore(MIXED);
    assert_deletes_exactly(&ns, &["--state", "TIME_WAIT,SYN_SENT"], "dump");
    assert_deletes_exactly(&ns, &["-s", "10.0.0.0/30"], "dump");
}

#[test]
fn idle_over_selects_aged_entries_and_list_previews_delete() {
    require_root!();
    let ns = Netns::new();
    ns.sysctl("net.netfilter.nf_conntrack_tcp_timeout_established", "7200");
    // Remaining timeout 7200 - 3600: idle one hour; 7190: idle 10 s.
    ns.restore(
        "-I -p tcp -s 10.0.0.1 -d 10.0.0.2 --sport 1 --dport 80 --state ESTABLISHED -t 3600 -u SEEN_REPLY,ASSURED\n\
         -I -p tcp -s 10.0.0.1 -d 10.0.0.2 --sport 2 --dport 80 --state ESTABLISHED -t 3500 -u SEEN_REPLY,ASSURED\n\
         -I -p tcp -s 10.0.0.1 -d 10.0.0.2 --sport 3 --dport 80 --state ESTABLISHED -t 7190 -u SEEN_REPLY,ASSURED\n\
         -I -p udp -s 10.0.0.1 -d 10.0.0.2 --sport 4 --dport 53 -t 30\n",
    );
    let preview = list(&ns, &["--state", "ESTABLISHED", "--idle-over", "30m"]);
    assert_eq!(preview.len(), 2, "{preview:?}");
    assert!(preview.iter().all(|l| !l.contains("sport=3 ")));
    assert_eq!(
        ns.ctctl_ok(&["count", "--idle-over", "1h30m"]).trim(),
        "0",
        "nothing idle that long"
    );
    assert_deletes_exactly(
        &ns,
        &["--state", "ESTABLISHED", "--idle-over", "30m"],
        "dump",
    );
    assert_eq!(table(&ns).len(), 2);
}

#[test]
fn unreplied_selects_entries_without_replies() {
    require_root!();
    let ns = Netns::new();
    ns.restore(MIXED);
    let n = list(&ns, &["--unreplied"]).len();
    assert_eq!(n, list(&ns, &["--status", "UNREPLIED"]).len());
    assert_deletes_exactly(&ns, &["--unreplied"], "kernel-filter");
    assert!(table(&ns).iter().all(|l| !l.contains("[UNREPLIED]")));
}

#[test]
fn older_than_uses_start_timestamps_and_refuses_without_them() {
    require_root!();
    let ns = Netns::new();
    ns.restore("-I -p udp -s 10.0.0.1 -d 10.0.0.2 --sport 1 --dport 53 -t 300\n");
    let out = ns.ctctl_out(&["delete", "--older-than", "1s"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nf_conntrack_timestamp is off"));
    assert_eq!(table(&ns).len(), 1, "nothing deleted");

    ns.sysctl("net.netfilter.nf_conntrack_timestamp", "1");
    ns.restore("-I -p udp -s 10.0.0.3 -d 10.0.0.4 --sport 1 --dport 53 -t 300\n");
    // Started more than a day ago: none.
    assert_eq!(ns.ctctl_ok(&["count", "--older-than", "1d"]).trim(), "0");
    // Started more than 0 s ago: the entry with a start time only.
    let old = list(&ns, &["--older-than", "0"]);
    assert_eq!(old.len(), 1);
    assert!(old[0].contains("src=10.0.0.3"));
    assert_deletes_exactly(&ns, &["--older-than", "0"], "dump");
    assert_eq!(table(&ns).len(), 1);
}

#[test]
fn family_flush_leaves_the_other_family() {
    require_root!();
    let ns = Netns::new();
    ns.restore(MIXED);
    let v4 = list(&ns, &["-f", "ipv4"]);
    // A whole family is everything of that family: --all says so.
    let out = ns.ctctl_out(&["flush", "-f", "ipv6"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("every ipv6 entry"));
    ns.ctctl_ok(&["flush", "-f", "ipv6", "--all"]);
    assert_eq!(table(&ns), v4);
    assert!(!v4.is_empty());
    ns.ctctl_ok(&["flush", "--family", "ipv4", "--all"]);
    assert!(table(&ns).is_empty());
}

#[test]
fn dry_run_deletes_nothing() {
    require_root!();
    let ns = Netns::new();
    ns.restore(MIXED);
    let before = table(&ns);
    let out = ns.ctctl_out(&["delete", "--dry-run", "--state", "TIME_WAIT"]);
    assert!(out.status.success());
    let shown = String::from_utf8_lossy(&out.stdout);
    assert_eq!(shown.lines().count(), 1);
    assert!(shown.contains("TIME_WAIT"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("would delete 1 entries"));
    ns.ctctl_ok(&["delete", "-n", "-p", "udp"]);
    let json = ns.ctctl_ok(&["-o", "json", "flush", "--dry-run"]);
    let v: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
    assert_eq!(v["would_delete"], before.len() as u64);
    assert_eq!(table(&ns), before);
}

#[test]
fn unfiltered_delete_or_flush_without_all_refuses() {
    require_root!();
    let ns = Netns::new();
    ns.restore(MIXED);
    let before = table(&ns);
    for args in [&["flush"][..], &["delete"][..]] {
        let out = ns
            .ctctl()
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("--all"));
        assert_eq!(table(&ns), before);
    }
    ns.ctctl_ok(&["flush", "--all"]);
    assert!(table(&ns).is_empty());
}

#[test]
fn bad_filter_deletes_nothing() {
    require_root!();
    let ns = Netns::new();
    ns.restore(MIXED);
    let before = table(&ns);
    for args in [
        &["delete", "-s", "10.0.0.300"][..],
        &["delete", "--state", "NOPE"][..],
        &["flush", "--mark", "0xZZ"][..],
        &["delete", "--idle-over", "forever"][..],
        &["delete", "-p", "udp", "--state", "ESTABLISHED"][..],
    ] {
        let out = ns.ctctl_out(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert_eq!(table(&ns), before, "{args:?}");
    }
}

#[test]
fn empty_match_exits_zero() {
    require_root!();
    let ns = Netns::new();
    ns.restore(MIXED);
    for args in [
        &["delete", "-p", "udp", "--dport", "9999"][..],
        &["delete", "--state", "CLOSE_WAIT"][..],
        &[
            "delete", "-p", "tcp", "-s", "10.9.9.9", "-d", "10.9.9.8", "--sport", "1", "--dport",
            "2",
        ][..],
    ] {
        let out = ns.ctctl_out(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("deleted 0 entries"),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn single_tuple_delete_goes_straight_to_the_kernel() {
    require_root!();
    let ns = Netns::new();
    ns.restore(MIXED);
    let args = [
        "-p",
        "tcp",
        "-s",
        "10.0.0.1",
        "-d",
        "10.0.0.2",
        "--sport",
        "1000",
        "--dport",
        "80",
        "--orig-zone",
        "0",
    ];
    let mut full = vec!["-o", "json", "delete"];
    full.extend_from_slice(&args);
    let v: serde_json::Value = serde_json::from_str(ns.ctctl_ok(&full).trim()).unwrap();
    assert_eq!(v["method"], "tuple");
    assert_eq!(v["deleted"], 1);
    assert_eq!(table(&ns).len(), MIXED.lines().count() - 1);
    // By id: the id of the UDP entry with mark 42.
    let json = ns.ctctl_ok(&["-o", "json", "list", "--mark", "42"]);
    let id = serde_json::from_str::<serde_json::Value>(json.trim()).unwrap()["id"]
        .as_u64()
        .unwrap()
        .to_string();
    let v: serde_json::Value =
        serde_json::from_str(ns.ctctl_ok(&["-o", "json", "delete", "--id", &id]).trim()).unwrap();
    assert_eq!(v["deleted"], 1);
    assert!(list(&ns, &["--mark", "42"]).is_empty());
}

/// An entry deleted and re-created with the same tuple after the dump is
/// not deleted: its id differs.
#[test]
fn id_guard_spares_a_reused_tuple() {
    require_root!();
    let ns = Netns::new();
    let line =
        "-I -p tcp -s 10.0.0.1 -d 10.0.0.2 --sport 1000 --dport 80 --state ESTABLISHED -t 500\n";
    ns.restore(line);
    ns.restore("-I -p udp -s 10.0.0.1 -d 10.0.0.2 --sport 7 --dport 53 -t 500\n");
    let mut ct = ctctl::Conntrack::in_netns(&ns.name).unwrap();
    let stale = ct.dump(&ctctl::Filter::all()).unwrap();
    assert_eq!(stale.len(), 2);
    let old_id = stale.iter().find(|f| f.orig.proto == Some(6)).unwrap().id;
    // The TCP entry goes and comes back with a new id. The id hashes the
    // entry's address, so fill the freed slab slot first.
    let fillers: String = (0..64)
        .map(|i| format!("-I -p udp -s 10.9.0.{i} -d 10.9.1.1 --sport 9 --dport 9 -t 500\n"))
        .collect();
    ns.conntrack(&[
        "-D", "-p", "tcp", "-s", "10.0.0.1", "-d", "10.0.0.2", "--sport", "1000", "--dport", "80",
    ]);
    ns.restore(&fillers);
    ns.restore(line);
    ns.conntrack(&["-D", "-p", "udp", "-s", "10.9.0.0/24"]);
    let now = ct.dump(&ctctl::Filter::all()).unwrap();
    let new_id = now.iter().find(|f| f.orig.proto == Some(6)).unwrap().id;
    assert_ne!(old_id, new_id, "the re-created entry must have a new id");
    let mut deleter = ct.deleter().unwrap();
    for f in &stale {
        deleter.push(f).unwrap();
    }
    let stats = deleter.finish().unwrap();
    assert_eq!(stats.done, 1, "{stats:?}");
    assert_eq!(stats.skipped, 1, "{stats:?}");
    let left = table(&ns);
    assert_eq!(left.len(), 1);
    assert!(
        left[0].starts_with("tcp "),
        "the new TCP entry remains: {left:?}"
    );
    let mut n = 0;
    ct.for_each(&ctctl::Filter::all(), |_| {
        n += 1;
        ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(n, 1);
}
