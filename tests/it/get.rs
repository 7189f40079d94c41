//! `ctctl get`.

use crate::harness::Netns;
use crate::require_root;

#[test]
fn get_finds_one_entry_like_conntrack_g() {
    require_root!();
    let ns = Netns::new();
    ns.restore(
        "-I -p tcp -s 10.0.0.1 -d 10.0.0.2 --sport 1000 --dport 80 --state ESTABLISHED -t 500 -u ASSURED,SEEN_REPLY\n\
         -I -p tcp -s 10.0.0.1 -d 10.0.0.2 --sport 1001 --dport 80 --state ESTABLISHED -t 500 --zone 4\n\
         -I -p icmp -s 10.0.0.1 -d 10.0.0.9 --icmp-type 8 --icmp-code 0 --icmp-id 99 -t 30\n\
         -I -p udp -s 2001:db8::1 -d 2001:db8::2 --sport 7 --dport 53 -t 30\n",
    );
    let args = [
        "-p", "tcp", "-s", "10.0.0.1", "-d", "10.0.0.2", "--sport", "1000", "--dport", "80",
    ];
    let mut ct_args = vec!["-G"];
    ct_args.extend_from_slice(&args);
    let theirs = ns.conntrack(&ct_args);
    let mut our_args = vec!["get"];
    our_args.extend_from_slice(&args);
    let ours = ns.ctctl_ok(&our_args);
    assert_eq!(
        crate::harness::normalized(&theirs)[0].0,
        crate::harness::normalized(&ours)[0].0
    );
    assert!(ours.contains("sport=1000"));

    let zoned = ns.ctctl_ok(&[
        "get", "-p", "tcp", "-s", "10.0.0.1", "-d", "10.0.0.2", "--sport", "1001", "--dport", "80",
        "--zone", "4",
    ]);
    assert!(zoned.contains("zone=4"), "{zoned}");

    let icmp = ns.ctctl_ok(&[
        "get",
        "-p",
        "icmp",
        "-s",
        "10.0.0.1",
        "-d",
        "10.0.0.9",
        "--icmp-type",
        "8",
        "--icmp-code",
        "0",
        "--icmp-id",
        "99",
    ]);
    assert!(icmp.contains("id=99"), "{icmp}");

    let v6 = ns.ctctl_ok(&[
        "-o",
        "json",
        "get",
        "-p",
        "udp",
        "-s",
        "2001:db8::1",
        "-d",
        "2001:db8::2",
        "--sport",
        "7",
        "--dport",
        "53",
    ]);
    let v: serde_json::Value = serde_json::from_str(&v6).unwrap();
    assert_eq!(v["family"], "ipv6");
}

#[test]
fn get_of_absent_entry_exits_1_with_not_found() {
    require_root!();
    let ns = Netns::new();
    let out = ns.ctctl_out(&[
        "get", "-p", "tcp", "-s", "10.0.0.1", "-d", "10.0.0.2", "--sport", "1", "--dport", "2",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "ctctl: not found"
    );
}

/// A NATed entry found from the addresses its replies carry (`-r -q`), by
/// ctctl and by ctctl as conntrack; conntrack 1.4.7 itself answers
/// "invalid parameters" to this lookup.
#[test]
fn get_by_reply_tuple_finds_a_nated_entry() {
    require_root!();
    let ns = Netns::new();
    ns.restore(
        "-I -s 10.0.0.1 -d 10.0.0.2 --dst-nat 10.9.9.9:8080 -p tcp --sport 1000 --dport 80 --state ESTABLISHED -t 100\n\
         -I -s 10.0.0.1 -d 10.0.0.2 -p tcp --sport 1001 --dport 80 --state ESTABLISHED -t 100\n",
    );
    let by_orig = ns.ctctl_ok(&[
        "get", "-p", "tcp", "-s", "10.0.0.1", "-d", "10.0.0.2", "--sport", "1000", "--dport", "80",
    ]);
    let reply = [
        "-p",
        "tcp",
        "-r",
        "10.9.9.9",
        "-q",
        "10.0.0.1",
        "--reply-port-src",
        "8080",
        "--reply-port-dst",
        "1000",
    ];
    let mut args = vec!["get"];
    args.extend_from_slice(&reply);
    let by_reply = ns.ctctl_ok(&args);
    assert_eq!(
        crate::harness::normalized(&by_reply),
        crate::harness::normalized(&by_orig)
    );
    assert!(by_reply.contains("dport=80 ") && by_reply.contains("src=10.9.9.9"));
    // A reply tuple nothing has: exit 1. Half a reply tuple: exit 2.
    let miss = ns.ctctl_out(&[
        "get",
        "-p",
        "tcp",
        "-r",
        "10.0.0.2",
        "-q",
        "10.0.0.1",
        "--reply-port-src",
        "80",
        "--reply-port-dst",
        "1000",
    ]);
    assert_eq!(miss.status.code(), Some(1));
    let half = ns.ctctl_out(&["get", "-p", "tcp", "-r", "10.9.9.9", "-q", "10.0.0.1"]);
    assert_eq!(half.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&half.stderr).contains("--reply-port-src"));
}
