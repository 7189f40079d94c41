//! `ctctl list`: the differential test against conntrack(8), each filter,
//! output formats.

use crate::harness::{normalized, Netns};
use crate::require_root;

const MIXED: &str = include_str!("fixtures/mixed.txt");

/// Both tools read the same table; the lines must be the same, with
/// timeouts at most 2 s apart (the two reads are not simultaneous).
fn assert_same_lines(conntrack: &str, ctctl: &str) {
    let a = normalized(conntrack);
    let b = normalized(ctctl);
    let la: Vec<&String> = a.iter().map(|x| &x.0).collect();
    let lb: Vec<&String> = b.iter().map(|x| &x.0).collect();
    assert_eq!(la, lb, "\nconntrack:\n{conntrack}\nctctl:\n{ctctl}");
    for ((_, ta), (_, tb)) in a.iter().zip(b.iter()) {
        if let (Some(ta), Some(tb)) = (ta, tb) {
            assert!(ta.abs_diff(*tb) <= 2, "timeouts {ta} vs {tb}");
        }
    }
    assert!(!a.is_empty(), "the table should not be empty");
}

#[test]
fn same_lines_as_conntrack_for_a_mixed_table() {
    require_root!();
    let ns = Netns::new();
    ns.restore(MIXED);
    let ct = ns.conntrack(&["-L"]);
    let ours = ns.ctctl_ok(&["list"]);
    assert_same_lines(&ct, &ours);
    assert_eq!(normalized(&ours).len(), MIXED.lines().count());

    let ct = ns.conntrack(&["-L", "-o", "extended"]);
    let ours = ns.ctctl_ok(&["-o", "extended", "list"]);
    assert_same_lines(&ct, &ours);
}

#[test]
fn same_lines_as_conntrack_for_real_traffic_with_counters_and_timestamps() {
    require_root!();
    let ns = Netns::new();
    ns.sysctl("net.netfilter.nf_conntrack_acct", "1");
    ns.sysctl("net.netfilter.nf_conntrack_timestamp", "1");
    ns.track_traffic();
    ns.tcp_exchange(8080);
    ns.udp_send(5353);
    let _open = ns.tcp_open(8081);
    let ct = ns.conntrack(&["-L"]);
    let ours = ns.ctctl_ok(&["list"]);
    assert_same_lines(&ct, &ours);
    assert!(ours.contains("packets="), "accounting is on: {ours}");
    assert!(ours.contains("delta-time="), "timestamps are on: {ours}");
    assert!(
        ours.contains("TIME_WAIT") && ours.contains("ESTABLISHED"),
        "{ours}"
    );
}

/// Each filter gives the same lines as conntrack's same filter.
#[test]
fn filters_agree_with_conntrack() {
    require_root!();
    let ns = Netns::new();
    ns.restore(MIXED);
    let cases: &[(&[&str], &[&str])] = &[
        (&["-p", "tcp"], &["-p", "tcp"]),
        (
            &["-p", "udp", "--dport", "53"],
            &["-p", "udp", "--dport", "53"],
        ),
        (&["-f", "ipv6"], &["-f", "ipv6"]),
        (&["-s", "10.0.0.1"], &["-s", "10.0.0.1"]),
        (&["-d", "8.8.8.8"], &["-d", "8.8.8.8"]),
        (&["--reply-src", "10.9.9.9"], &["--reply-src", "10.9.9.9"]),
        (
            &["-p", "tcp", "--state", "TIME_WAIT"],
            &["-p", "tcp", "--state", "TIME_WAIT"],
        ),
        (&["--mark", "42"], &["--mark", "42"]),
        (&["--status", "ASSURED"], &["--status", "ASSURED"]),
        (&["--zone", "7"], &["--zone", "7"]),
        (
            &["-p", "icmp", "--icmp-type", "8"],
            &["-p", "icmp", "--icmp-type", "8"],
        ),
    ];
    for (ours, theirs) in cases {
        let mut ct_args = vec!["-L"];
        ct_args.extend_from_slice(theirs);
        let ct = ns.conntrack(&ct_args);
        let mut args = vec!["list"];
        args.extend_from_slice(ours);
        let out = ns.ctctl_ok(&args);
        assert_eq!(
            normalized(&ct).into_iter().map(|x| x.0).collect::<Vec<_>>(),
            normalized(&out)
                .into_iter()
                .map(|x| x.0)
                .collect::<Vec<_>>(),
            "filter {ours:?}"
        );
        assert!(!out.is_empty(), "filter {ours:?} should match something");
    }
}

fn count_lines(s: &str) -> usize {
    s.lines().filter(|l| !l.is_empty()).count()
}

/// Filters conntrack 1.4.7 does not have (or gets wrong) select exactly
/// what they say.
#[test]
fn filters_beyond_conntrack() {
    require_root!();
    let ns = Netns::new();
    ns.restore(MIXED);
    // State alone implies TCP.
    let tw = ns.ctctl_ok(&["list", "--state", "TIME_WAIT"]);
    assert_eq!(count_lines(&tw), 1, "{tw}");
    assert!(tw.starts_with("tcp "));
    let multi = ns.ctctl_ok(&["list", "--state", "TIME_WAIT,SYN_SENT"]);
    assert_eq!(count_lines(&multi), 2, "{multi}");
    // CIDR prefixes.
    let net = ns.ctctl_ok(&["list", "-s", "10.0.0.0/29"]);
    assert_eq!(count_lines(&net), 12, "{net}");
    let v6 = ns.ctctl_ok(&["list", "-s", "2001:db8::/32"]);
    assert_eq!(count_lines(&v6), 3, "{v6}");
    // NAT.
    let snat = ns.ctctl_ok(&["list", "--src-nat"]);
    assert_eq!(count_lines(&snat), 1, "{snat}");
    assert!(snat.contains("dst=203.0.113.5"));
    let dnat = ns.ctctl_ok(&["list", "--dst-nat", "10.9.9.9"]);
    assert_eq!(count_lines(&dnat), 1, "{dnat}");
    let any = ns.ctctl_ok(&["list", "--any-nat"]);
    assert_eq!(count_lines(&any), 2, "{any}");
    // Timeouts: fixture timeouts are 30, 100, 300 and 500 s.
    let short = ns.ctctl_ok(&["list", "--timeout-below", "60"]);
    assert_eq!(count_lines(&short), 8, "{short}");
    let long = ns.ctctl_ok(&["list", "--timeout-above", "400"]);
    assert_eq!(count_lines(&long), 1, "{long}");
    // Status with negation and UNREPLIED.
    let unrep = ns.ctctl_ok(&["list", "--status", "UNREPLIED"]);
    let replied = ns.ctctl_ok(&["list", "--status", "SEEN_REPLY"]);
    assert_eq!(
        count_lines(&unrep) + count_lines(&replied),
        MIXED.lines().count()
    );
    let not_assured = ns.ctctl_ok(&["list", "--status", "SEEN_REPLY,!ASSURED"]);
    assert_eq!(count_lines(&not_assured), 1, "{not_assured}");
    // Mark with a mask.
    let masked = ns.ctctl_ok(&["list", "--mark", "0x2a/0xff"]);
    assert_eq!(count_lines(&masked), 1, "{masked}");
    // Ports without -p match every port protocol.
    let dport = ns.ctctl_ok(&["list", "--dport", "53"]);
    assert_eq!(count_lines(&dport), 3, "{dport}");
}

#[test]
fn json_lines_have_the_documented_fields() {
    require_root!();
    let ns = Netns::new();
    ns.restore(MIXED);
    let out = ns.ctctl_ok(&["-o", "json", "list"]);
    let mut seen_icmp = false;
    for line in out.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("valid JSON line");
        for key in [
            "family",
            "proto",
            "proto_num",
            "timeout",
            "orig",
            "reply",
            "status",
            "mark",
            "zone",
            "id",
            "use",
        ] {
            assert!(v.get(key).is_some(), "{key} missing in {line}");
        }
        assert!(v["orig"]["src"].is_string() && v["reply"]["dst"].is_string());
        match v["proto"].as_str().unwrap() {
            "tcp" | "sctp" => assert!(v["state"].is_string(), "{line}"),
            "icmp" => {
                seen_icmp = true;
                assert_eq!(v["orig"]["type"], 8);
                assert_eq!(v["orig"]["id"], 1234);
                assert_eq!(v["reply"]["type"], 0);
            }
            "udp" => {
                assert!(v.get("state").is_none());
                assert!(v["orig"]["sport"].is_u64());
            }
            _ => {}
        }
        assert!(v["id"].is_u64() && v["use"].is_u64());
    }
    assert!(seen_icmp);
    assert_eq!(out.lines().count(), MIXED.lines().count());
}

/// A closed stdout pipe (`| head`) ends ctctl quietly with exit 0.
#[test]
fn closed_pipe_exits_zero_quietly() {
    require_root!();
    let ns = Netns::new();
    let lines = crate::harness::entries(
        3000,
        "-I -p udp -s {ip} -d 10.2.0.1 --sport 1024 --dport 53 -t 600",
    );
    ns.restore(&lines);
    let mut child = ns
        .ctctl()
        .arg("list")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 16];
    std::io::Read::read_exact(&mut stdout, &mut first).unwrap();
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `list` in a namespace sees that namespace's table only.
#[test]
fn netns_selection_by_name_and_path() {
    require_root!();
    let a = Netns::new();
    let b = Netns::new();
    a.restore("-I -p udp -s 10.0.0.1 -d 10.0.0.2 --sport 1 --dport 2 -t 60\n");
    b.restore(
        "-I -p udp -s 10.0.0.3 -d 10.0.0.4 --sport 1 --dport 2 -t 60\n\
         -I -p udp -s 10.0.0.5 -d 10.0.0.6 --sport 1 --dport 2 -t 60\n",
    );
    assert_eq!(count_lines(&a.ctctl_ok(&["list"])), 1);
    assert_eq!(count_lines(&b.ctctl_ok(&["list"])), 2);
    let by_path = std::process::Command::new(crate::harness::ctctl_bin())
        .args(["--netns", b.path().to_str().unwrap(), "list"])
        .output()
        .unwrap();
    assert!(by_path.status.success());
    assert_eq!(count_lines(&String::from_utf8_lossy(&by_path.stdout)), 2);
}
