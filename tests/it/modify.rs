//! `ctctl create`, `update`, `save` / `restore`, `wait`.

use std::io::Write;
use std::process::Stdio;

use crate::harness::{normalized, Background, Netns};
use crate::require_root;

const MIXED: &str = include_str!("fixtures/mixed.txt");

fn lines(s: &str) -> Vec<String> {
    normalized(s).into_iter().map(|x| x.0).collect()
}

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s.trim()).unwrap_or_else(|e| panic!("bad JSON {s:?}: {e}"))
}

/// Loads a ruleset that uses ct labels: without one the kernel does not
/// keep labels on entries (`nf_ct_labels_ext_add` needs `labels_used`).
pub fn enable_labels(ns: &Netns) -> bool {
    let mut child = std::process::Command::new("ip")
        .args(["netns", "exec", &ns.name, "nft", "-f", "-"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"table inet ctctl_labels {\n chain o { type filter hook output priority 0; ct label 1 counter; }\n}\n")
        .unwrap();
    child.wait().unwrap().success()
}

/// The tuple (for create and get), what else create gets, the zone get
/// needs, and the JSON fields expected back.
type Case<'a> = (
    &'a str,
    &'a str,
    Option<&'a str>,
    Vec<(&'a str, serde_json::Value)>,
);

#[test]
fn create_then_get_round_trips() {
    require_root!();
    let ns = Netns::new();
    let labels = enable_labels(&ns);
    let cases: Vec<Case> = vec![
        (
            "-p tcp -s 10.0.0.1 -d 10.0.0.2 --sport 1000 --dport 443",
            "--state ESTABLISHED -u SEEN_REPLY,ASSURED -t 300",
            None,
            vec![("state", "ESTABLISHED".into()), ("timeout", 300.into())],
        ),
        (
            "-p udp -s 10.0.0.1 -d 10.0.0.53 --sport 5353 --dport 53",
            "-m 0x2a -t 30",
            None,
            vec![("mark", 42.into())],
        ),
        (
            "-p icmp -s 10.0.0.1 -d 10.0.0.9 --icmp-type 8 --icmp-code 0 --icmp-id 77",
            "-t 30",
            None,
            vec![("proto", "icmp".into())],
        ),
        (
            "-p tcp -s 2001:db8::1 -d 2001:db8::2 --sport 7 --dport 22",
            "--state SYN_SENT -w 9",
            Some("9"),
            vec![
                ("family", "ipv6".into()),
                ("zone", 9.into()),
                ("timeout", 119.into()),
            ],
        ),
    ];
    for (tuple, extra, zone, expect) in &cases {
        let mut args = vec!["create"];
        args.extend(tuple.split(' '));
        args.extend(extra.split(' '));
        ns.ctctl_ok(&args);
        let mut args = vec!["-o", "json", "get"];
        args.extend(tuple.split(' '));
        if let Some(z) = zone {
            args.extend(["--zone", z]);
        }
        let v = json(&ns.ctctl_ok(&args));
        for (k, want) in expect {
            if *k == "timeout" {
                let got = v[k].as_i64().unwrap();
                assert!(
                    (got - want.as_i64().unwrap()).abs() <= 2,
                    "{k}: {got} vs {want}"
                );
            } else {
                assert_eq!(&v[*k], want, "{k} in {v}");
            }
        }
    }
    // The reply of the ICMP echo is the echo reply.
    let v = json(&ns.ctctl_ok(&["-o", "json", "list", "-p", "icmp"]));
    assert_eq!(v["reply"]["type"], 0);
    // Labels, where the kernel keeps them.
    if labels {
        ns.ctctl_ok(&[
            "create", "-p", "udp", "-s", "10.0.0.5", "-d", "10.0.0.6", "--sport", "1", "--dport",
            "2", "-t", "60", "-l", "1", "-l", "70",
        ]);
        let v = json(&ns.ctctl_ok(&["-o", "json", "list", "-s", "10.0.0.5"]));
        assert_eq!(v["labels"], serde_json::json!([1, 70]));
    } else {
        eprintln!("SKIPPED: labels: nft could not load a ruleset using ct labels, so the kernel keeps none");
    }
    // Source NAT seeded by a reply destination: the kernel translates.
    ns.ctctl_ok(&[
        "create",
        "-p",
        "udp",
        "-s",
        "192.168.1.10",
        "-d",
        "198.51.100.1",
        "--sport",
        "4000",
        "--dport",
        "53",
        "-q",
        "203.0.113.5",
        "--reply-dport",
        "61000",
        "-t",
        "60",
    ]);
    let v = json(&ns.ctctl_ok(&["-o", "json", "list", "--src-nat"]));
    assert_eq!(v["reply"]["dst"], "203.0.113.5");
    assert_eq!(v["reply"]["dport"], 61000);
    assert!(v["status"].as_array().unwrap().contains(&"SRC_NAT".into()));
}

#[test]
fn create_of_an_existing_entry() {
    require_root!();
    let ns = Netns::new();
    let entry = [
        "create", "-p", "udp", "-s", "10.0.0.1", "-d", "10.0.0.2", "--sport", "1", "--dport", "53",
        "-t", "60",
    ];
    ns.ctctl_ok(&entry);
    let out = ns.ctctl_out(&entry);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
    let mut again: Vec<&str> = entry.to_vec();
    again.extend_from_slice(&["--or-update", "-m", "9"]);
    ns.ctctl_ok(&again);
    let v = json(&ns.ctctl_ok(&["-o", "json", "list"]));
    assert_eq!(v["mark"], 9, "--or-update changed the existing entry");
}

#[test]
fn update_mark_and_timeout_by_filter() {
    require_root!();
    let ns = Netns::new();
    ns.restore(MIXED);
    let v = json(&ns.ctctl_ok(&[
        "-o",
        "json",
        "update",
        "-p",
        "udp",
        "--dport",
        "53",
        "--set-mark",
        "0x10/0xf0",
        "--set-timeout",
        "2h",
    ]));
    assert_eq!(v["updated"], 3);
    for line in ns
        .ctctl_ok(&["-o", "json", "list", "-p", "udp", "--dport", "53"])
        .lines()
    {
        let e = json(line);
        assert_eq!(e["mark"].as_u64().unwrap() & 0xf0, 0x10, "{line}");
        assert!(e["timeout"].as_u64().unwrap() > 7000, "{line}");
    }
    // The entry with mark 42 (0x2a) keeps its low bits: 0x2a & !0xf0 | 0x10 = 0x1a.
    assert_eq!(lines(&ns.ctctl_ok(&["list", "--mark", "0x1a"])).len(), 1);
    // Others are untouched.
    assert!(ns
        .ctctl_ok(&["list", "-p", "tcp"])
        .lines()
        .all(|l| l.contains("mark=0")));
    // Dry run changes nothing.
    ns.ctctl_ok(&["update", "--dry-run", "-p", "tcp", "--set-mark", "1"]);
    assert!(ns
        .ctctl_ok(&["list", "-p", "tcp"])
        .lines()
        .all(|l| l.contains("mark=0")));
    // No filter, no --all: refused.
    assert_eq!(
        ns.ctctl_out(&["update", "--set-mark", "1"]).status.code(),
        Some(2)
    );
}

#[test]
fn save_flush_restore_gives_the_same_table() {
    require_root!();
    let ns = Netns::new();
    ns.restore(MIXED);
    let before = lines(&ns.ctctl_ok(&["list"]));
    let saved = ns.ctctl_ok(&["save"]);
    assert_eq!(saved.lines().count(), before.len());
    ns.ctctl_ok(&["flush", "--all"]);
    assert!(lines(&ns.ctctl_ok(&["list"])).is_empty());
    let out = ns.ctctl_stdin(&["-o", "json", "restore", "-"], &saved);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(v["created"], before.len() as u64);
    assert_eq!(v["failed"], 0);
    assert_eq!(lines(&ns.ctctl_ok(&["list"])), before);
}

#[test]
fn restore_reads_conntrack_save_files() {
    require_root!();
    let ns = Netns::new();
    ns.restore(MIXED);
    let before = lines(&ns.ctctl_ok(&["list"]));
    let file = std::env::temp_dir().join(format!("ctctl-save-{}.txt", std::process::id()));
    std::fs::write(&file, ns.conntrack(&["-L", "-o", "save"])).unwrap();
    ns.ctctl_ok(&["flush", "--all"]);
    ns.ctctl_ok(&["restore", file.to_str().unwrap()]);
    std::fs::remove_file(&file).unwrap();
    // conntrack's save format drops marks: compare without them.
    let strip = |v: Vec<String>| -> Vec<String> {
        let mut v: Vec<String> = v
            .into_iter()
            .map(|l| {
                l.split(' ')
                    .filter(|w| !w.starts_with("mark="))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(strip(lines(&ns.ctctl_ok(&["list"]))), strip(before));
}

#[test]
fn restore_reports_bad_lines_and_creates_the_rest() {
    require_root!();
    let ns = Netns::new();
    ns.restore("-I -p udp -s 10.0.0.9 -d 10.0.0.2 --sport 1 --dport 53 -t 60\n");
    let input = "\
-I -p udp -s 10.0.0.1 -d 10.0.0.2 --sport 1 --dport 53 -t 60
-I -p udp -s 10.0.0.300 -d 10.0.0.2 --sport 1 --dport 53 -t 60
# a comment
-I -p udp -s 10.0.0.9 -d 10.0.0.2 --sport 1 --dport 53 -t 60
{\"this is\": not json
-I -p tcp -s 10.0.0.3 -d 10.0.0.2 --sport 1 --dport 80 --state ESTABLISHED -t 60
-I -p tcp -s 10.0.0.4 -d 10.0.0.2 --sport 1 --dport 80 --state NOSUCHSTATE -t 60
";
    let out = ns.ctctl_stdin(&["-o", "json", "restore"], input);
    // Every good line is restored, and the failures make it exit 2.
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 2:"), "{err}");
    assert!(err.contains("line 5:"), "{err}");
    assert!(err.contains("line 7:"), "{err}");
    let v = json(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(v["created"], 2);
    assert_eq!(v["already_there"], 1);
    assert_eq!(v["failed"], 3);
    assert_eq!(lines(&ns.ctctl_ok(&["list"])).len(), 3);
    // --strict stops at the first bad line.
    let ns2 = Netns::new();
    let out = ns2.ctctl_stdin(&["restore", "--strict"], input);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("stopped at line 2"));
    assert_eq!(lines(&ns2.ctctl_ok(&["list"])).len(), 1);
}

#[test]
fn wait_for_present_returns_when_traffic_creates_the_entry() {
    require_root!();
    let ns = Netns::new();
    ns.track_traffic();
    let mut bg = Background::start(
        &ns,
        &[
            "-o",
            "json",
            "wait",
            "--for",
            "present",
            "-p",
            "tcp",
            "--dport",
            "8443",
            "--state",
            "ESTABLISHED",
            "--timeout",
            "20s",
        ],
        Stdio::piped(),
    );
    bg.wait_stderr("waiting for", 10);
    let _conn = ns.tcp_open(8443);
    let (out, code, err) = bg.finish(10);
    assert_eq!(code, Some(0), "{err:?}");
    let v = json(&out);
    assert_eq!(v["orig"]["dport"], 8443);
    assert_eq!(v["state"], "ESTABLISHED");
    // Already present: returns at once.
    let out = ns.ctctl_out(&["wait", "-p", "tcp", "--dport", "8443", "--timeout", "5s"]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn wait_for_destroy_and_absent_and_timeout() {
    require_root!();
    let ns = Netns::new();
    ns.restore("-I -p udp -s 10.0.0.1 -d 10.0.0.2 --sport 1 --dport 53 -t 600\n");
    let mut bg = Background::start(
        &ns,
        &["wait", "--for", "destroy", "-p", "udp", "--timeout", "20s"],
        Stdio::piped(),
    );
    bg.wait_stderr("waiting for", 10);
    ns.conntrack(&["-D", "-p", "udp"]);
    let (out, code, _) = bg.finish(10);
    assert_eq!(code, Some(0));
    assert!(out.contains("dport=53"), "{out}");
    // Nothing left: absent holds at once.
    assert_eq!(
        ns.ctctl_out(&["wait", "--for", "absent", "-p", "udp", "--timeout", "5s"])
            .status
            .code(),
        Some(0)
    );
    // Nothing comes: exit 1, saying what was waited for.
    let out = ns.ctctl_out(&["wait", "--for", "new", "-p", "tcp", "--timeout", "200ms"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("timed out after 200ms waiting for a new entry"),
        "{err}"
    );
    // --count: two new entries.
    let mut bg = Background::start(
        &ns,
        &[
            "wait",
            "--for",
            "new",
            "-p",
            "udp",
            "--count",
            "2",
            "--timeout",
            "20s",
        ],
        Stdio::piped(),
    );
    bg.wait_stderr("waiting for", 10);
    ns.restore(
        "-I -p udp -s 10.0.0.1 -d 10.0.0.2 --sport 2 --dport 53 -t 600\n\
         -I -p udp -s 10.0.0.1 -d 10.0.0.2 --sport 3 --dport 53 -t 600\n",
    );
    let (out, code, _) = bg.finish(10);
    assert_eq!(code, Some(0));
    assert_eq!(out.lines().count(), 2);
}
