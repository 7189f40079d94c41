//! ctctl run as `conntrack`: conntrack-tools' command line, messages and
//! exit codes, and the same table as conntrack 1.4.7 leaves, command by
//! command (the real conntrack is the oracle).

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use crate::harness::{ctctl_bin, Netns};
use crate::require_root;

/// A directory with `conntrack` linked to the ctctl under test.
fn as_conntrack() -> PathBuf {
    static LINK: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    LINK.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("ctctl-as-conntrack-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let link = dir.join("conntrack");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(ctctl_bin(), &link).unwrap();
        link
    })
    .clone()
}

/// Runs `prog ARGS` (a shell-split command line) in the namespace.
fn run(ns: &Netns, prog: &str, args: &str, stdin: Option<&str>) -> Output {
    let mut child = Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns.name,
            "sh",
            "-c",
            &format!("{prog} {args}"),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

/// The table as conntrack -L prints it, timeouts blanked, sorted.
fn table(ns: &Netns) -> Vec<String> {
    crate::harness::conntrack_list(ns, &[])
}

/// Every command in both namespaces: the real conntrack in one, ctctl as
/// conntrack in the other; exit codes and tables must agree after each.
#[test]
fn same_exit_codes_and_tables_as_conntrack_command_by_command() {
    require_root!();
    let ours = as_conntrack();
    let ours = ours.to_str().unwrap();
    let (a, b) = (Netns::new(), Netns::new());
    let script: &[(&str, Option<&str>)] = &[
        ("-I -s 10.1.1.1 -d 10.2.2.2 -p tcp --sport 100 --dport 200 --state ESTABLISHED -u SEEN_REPLY,ASSURED -t 120", None),
        ("-I -s 10.1.1.1 -d 10.2.2.2 -p tcp --sport 100 --dport 200 --state ESTABLISHED -t 120", None),
        ("-A -s 10.1.1.1 -d 10.2.2.2 -p tcp --sport 100 --dport 200 --state ESTABLISHED -t 120", None),
        ("-I -s 10.1.1.3 -d 10.2.2.2 -p udp --sport 5 --dport 53 -t 30 -m 7", None),
        ("-I -r 10.2.2.9 -q 10.1.1.9 -p udp --reply-port-src 53 --reply-port-dst 6 -t 30", None),
        ("-I -s fd00::1 -d fd00::2 -p udp --sport 1 --dport 2 -t 30 -w 4", None),
        ("-I -s 10.1.1.4 -d 10.2.2.2 --dst-nat 10.3.3.3:8080 -p tcp --sport 1 --dport 80 --state ESTABLISHED -t 60", None),
        ("-I -s 10.1.1.5 -d 10.2.2.5 -p 200 -t 30", None),
        ("-I -s 10.1.1.5 -d 10.2.2.5 -p 256 -t 30", None),
        ("-I -s 10.1.1.6 -d fd00::2 -p udp --sport 1 --dport 2 -t 30", None),
        ("-I -s 10.1.1.6 -d 10.2.2.6 --sport 1 --dport 2 -t 30", None),
        ("-L", None),
        ("-L -p tcp --state ESTABLISHED", None),
        ("-L --dst-nat 10.3.3.3:8080", None),
        ("-L --any-nat --src-nat", None),
        ("-L -s 10.1.1.0/24 -m 7", None),
        ("-L -s 10.1.0.0 --mask-src 255.255.0.0", None),
        ("-U -s 10.1.1.3 -m 7", None),
        ("-U -s 10.1.1.3 -m 0x10/0xf0", None),
        ("-D -m 99", None),
        ("-D -s 10.1.1.3", None),
        ("-D -w 4", None),
        ("-D -s 10.1.1.1 -d 10.2.2.2 -p tcp --sport 100 --dport 200", None),
        ("-D -s 10.1.1.1 -d 10.2.2.2 -p tcp --sport 100 --dport 200", None),
        ("-R -", Some("-I -s 10.1.1.7 -d 10.2.2.7 -p udp --sport 1 --dport 9 -t 30\n\n-D -s 10.1.1.9\n")),
        ("-R -", Some("-I -s 10.1.1.7 -d 10.2.2.7 -p udp --sport 1 --dport 9 -t 30\n")),
        ("-C", None),
        ("-F", None),
    ];
    for (args, stdin) in script {
        let real = run(&a, "conntrack", args, *stdin);
        let compat = run(&b, ours, args, *stdin);
        assert_eq!(
            real.status.code(),
            compat.status.code(),
            "exit code of `conntrack {args}`: real {}, ours {}",
            String::from_utf8_lossy(&real.stderr),
            String::from_utf8_lossy(&compat.stderr)
        );
        assert_eq!(table(&a), table(&b), "table after `conntrack {args}`");
        if args.starts_with("-L") || args.starts_with("-C") {
            let norm = |o: &Output| crate::harness::normalized(&String::from_utf8_lossy(&o.stdout));
            let (r, c) = (norm(&real), norm(&compat));
            let lines =
                |v: &[(String, Option<u64>)]| v.iter().map(|(l, _)| l.clone()).collect::<Vec<_>>();
            assert_eq!(lines(&r), lines(&c), "output of `conntrack {args}`");
            // The two commands run a moment apart: a remaining timeout may
            // have ticked over a second boundary in between.
            for ((l, a), (_, b)) in r.iter().zip(&c) {
                let close = match (a, b) {
                    (Some(a), Some(b)) => a.abs_diff(*b) <= 2,
                    (a, b) => a == b,
                };
                assert!(
                    close,
                    "timeouts of `{l}` after `conntrack {args}`: {a:?} vs {b:?}"
                );
            }
        }
    }
}

#[test]
fn messages_and_exit_codes_scripts_match() {
    require_root!();
    let ours = as_conntrack();
    let ours = ours.to_str().unwrap();
    let ns = Netns::new();
    let out = run(&ns, ours, "-D -s 10.9.9.9", None);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "conntrack v1.4.7 (conntrack-tools): 0 flow entries have been deleted.\n"
    );
    let out = run(
        &ns,
        ours,
        "-I -s 10.0.0.1 -d 10.0.0.2 -p udp --sport 1 --dport 2 -t 30",
        None,
    );
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 flow entries have been created."));
    let out = run(&ns, ours, "-L", None);
    assert!(String::from_utf8_lossy(&out.stderr).ends_with("1 flow entries have been shown.\n"));
    let out = run(&ns, ours, "-L -s 10.0.0.1 -d fd00::1", None);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("mismatched address family"), "{err}");
    assert!(err.contains("Try `conntrack -h'"), "{err}");
    let out = run(&ns, ours, "-V", None);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "conntrack v1.4.7 (conntrack-tools)\n"
    );
}

/// `-o save` writes lines that `-R` replays: a table copied into another
/// zone, mark included (conntrack 1.4.7 drops it).
#[test]
fn save_output_replays_into_another_zone() {
    require_root!();
    let ours = as_conntrack();
    let ours = ours.to_str().unwrap();
    let ns = Netns::new();
    run(
        &ns,
        ours,
        "-I -w 10 -s 10.0.0.1 -d 10.0.0.2 -p tcp --sport 1 --dport 2 --state ESTABLISHED -u SEEN_REPLY -t 60 -m 5",
        None,
    );
    run(
        &ns,
        ours,
        "-I -w 10 -s fd00::1 -d fd00::2 -p icmpv6 --icmpv6-type 128 --icmpv6-code 0 --icmpv6-id 9 -t 30",
        None,
    );
    let saved = run(&ns, ours, "-L -w 10 -o save", None);
    let text = String::from_utf8_lossy(&saved.stdout).replace("-w 10", "-w 11");
    assert_eq!(text.lines().count(), 2, "{text}");
    let replay = run(&ns, ours, "-R -", Some(&text));
    assert!(
        replay.status.success(),
        "{}",
        String::from_utf8_lossy(&replay.stderr)
    );
    let z11 = run(&ns, ours, "-L -w 11", None);
    let lines = String::from_utf8_lossy(&z11.stdout);
    assert_eq!(lines.lines().count(), 2, "{lines}");
    assert!(lines.contains("mark=5"), "{lines}");
}

/// `ctctl restore` replays conntrack command lines in order: -I / -A
/// create (batched), -U / -D / -F act on what is there; options it cannot
/// apply are refused by line number, never dropped.
#[test]
fn restore_replays_update_delete_and_flush_lines() {
    require_root!();
    let ns = Netns::new();
    let input = "\
-I -s 10.0.0.1 -d 10.0.0.2 -p udp --sport 1 --dport 53 -t 60
-I -s 10.0.0.3 -d 10.0.0.2 -p udp --sport 1 --dport 53 -t 60
-A -s 10.0.0.3 -d 10.0.0.2 -p udp --sport 1 --dport 53 -t 90
-U -s 10.0.0.1 -m 5
-D -s 10.0.0.3
-I -s 10.0.0.4 -d 10.0.0.2 -p udp --sport 1 --dport 53 -t 60 --helper ftp
-I -s 10.0.0.5 -d 10.0.0.2 -p udp --sport 1 --dport 53 -t 60 --secmark 4
";
    let out = ns.ctctl_stdin(&["restore"], input);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("line 6:") && err.contains("--helper"), "{err}");
    assert!(err.contains("line 7:") && err.contains("secmark"), "{err}");
    let table = crate::harness::table(&ns);
    assert_eq!(table.len(), 1, "{table:?}");
    assert!(
        table[0].contains("src=10.0.0.1") && table[0].contains("mark=5"),
        "{table:?}"
    );
    let out = ns.ctctl_stdin(&["restore"], "-F\n");
    assert!(out.status.success());
    assert!(crate::harness::table(&ns).is_empty());
}

/// `events -o save` into `restore`: one table mirrored into another.
#[test]
fn events_as_save_lines_mirror_a_table() {
    require_root!();
    let (src, dst) = (Netns::new(), Netns::new());
    let mut ev = crate::harness::Background::start(
        &src,
        &["-o", "save", "events", "--count", "3"],
        Stdio::piped(),
    );
    ev.wait_stderr("listening", 10);
    src.restore(
        "-I -p tcp -s 10.0.0.1 -d 10.0.0.2 --sport 1 --dport 80 --state ESTABLISHED -t 300 -m 3\n\
         -I -p udp -s 10.0.0.3 -d 10.0.0.4 --sport 2 --dport 53 -t 30\n",
    );
    src.conntrack(&["-D", "-p", "udp"]);
    let (lines, code, _) = ev.finish(10);
    assert_eq!(code, Some(0));
    assert!(lines.lines().next().unwrap().starts_with("-A "), "{lines}");
    assert!(lines.lines().last().unwrap().starts_with("-D "), "{lines}");
    let out = dst.ctctl_stdin(&["restore"], &lines);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(crate::harness::table(&src), crate::harness::table(&dst));
    assert_eq!(
        crate::harness::list(&src, &["-o", "save"]).len(),
        1,
        "list -o save too"
    );
}

/// Labels by bit or connlabel.conf name: a filter on list and delete
/// (every label given must be set), set on create, added and removed on
/// update, the same through the conntrack face.
#[test]
fn labels_filter_and_change() {
    require_root!();
    let ns = Netns::new();
    assert!(
        crate::modify::enable_labels(&ns),
        "a ruleset using ct labels"
    );
    for (sport, labels) in [("1", "1,70"), ("2", "1"), ("3", "")] {
        let mut args = vec![
            "create", "-p", "udp", "-s", "10.0.0.1", "-d", "10.0.0.2", "--sport", sport, "--dport",
            "53", "-t", "60",
        ];
        for l in labels.split(',').filter(|l| !l.is_empty()) {
            args.extend_from_slice(&["-l", l]);
        }
        ns.ctctl_ok(&args);
    }
    let n = |args: &[&str]| crate::harness::list(&ns, args).len();
    assert_eq!(n(&["-l", "1"]), 2);
    assert_eq!(n(&["-l", "1,70"]), 1);
    assert_eq!(n(&["--label", "70", "--label", "1"]), 1);
    let bad = ns.ctctl_out(&["list", "-l", "no-such-name"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("connlabel.conf"));
    // The conntrack face takes label *names* from connlabel.conf, as
    // conntrack does: a bit number is an unknown label for both.
    let ours = as_conntrack();
    let ours = ours.to_str().unwrap();
    for prog in ["conntrack", ours] {
        let out = run(&ns, prog, "-U -p udp --sport 3 --label-add 5", None);
        assert_eq!(out.status.code(), Some(2), "{prog}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("unknown label '5'"));
    }
    ns.etc_file("xtables/connlabel.conf", "1 red\n5 five\n70 seventy\n");
    let out = run(
        &ns,
        ours,
        "-U -f ipv4 -p udp --sport 3 --label-add five",
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(n(&["-l", "5"]), 1);
    let out = run(
        &ns,
        ours,
        "-U -f ipv4 -p udp --sport 1 --label-del seventy",
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(n(&["-l", "70"]), 0);
    let out = run(&ns, ours, "-D -l red", None);
    assert!(String::from_utf8_lossy(&out.stderr).contains("2 flow entries have been deleted."));
    assert_eq!(n(&[]), 1);
}

/// `conntrack -E -o timestamp` prefixes `[seconds.micros]\t`; `-E -o save`
/// writes lines `-R` replays (no `[USERSPACE]` note on them).
#[test]
fn event_lines_with_timestamp_and_save_output() {
    require_root!();
    let ours = as_conntrack();
    let ns = Netns::new();
    for (output, check) in [("timestamp", "stamp"), ("save", "save")] {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &ns.name])
            .arg(&ours)
            .args(["-E", "-e", "NEW", "-o", output]);
        let mut ev = crate::harness::Background::spawn(cmd, Stdio::piped());
        // conntrack -E says nothing when it is subscribed: create entries
        // until one is seen (bounded).
        let mut line = None;
        for port in 1..=50u16 {
            ns.conntrack(&[
                "-I",
                "-p",
                "udp",
                "-s",
                "10.0.0.1",
                "-d",
                "10.0.0.2",
                "--sport",
                &port.to_string(),
                "--dport",
                "53",
                "-t",
                "30",
            ]);
            line = ev.try_wait_stdout(|_| true, std::time::Duration::from_millis(100));
            if line.is_some() {
                break;
            }
        }
        let line = line.expect("an event line");
        ev.signal(nix::sys::signal::Signal::SIGINT);
        let (_, code, _) = ev.finish(10);
        assert_eq!(code, Some(0));
        ns.conntrack(&["-F"]);
        if check == "stamp" {
            let (stamp, rest) = line.split_once('\t').expect("a tab after the stamp");
            let digits = stamp.trim_start_matches('[').trim_end_matches(']');
            let (s, us) = digits.split_once('.').unwrap();
            assert!(s.parse::<u64>().is_ok() && us.len() == 6, "{line}");
            assert!(rest.starts_with("    [NEW] udp "), "{line}");
        } else {
            assert!(line.starts_with("-A -t 30 "), "{line}");
            assert!(!line.contains("USERSPACE"), "{line}");
        }
    }
}

/// `-o xml` (with `id`, `extended`): the same document as conntrack 1.4.7
/// writes, for TCP, UDP, NAT, ICMP, GRE, an unknown protocol and zones in
/// one direction; `-G -o xml` opens the document without closing it, as
/// conntrack does.
#[test]
fn xml_output_is_conntracks_document() {
    require_root!();
    let ours = as_conntrack();
    let ours = ours.to_str().unwrap();
    let ns = Netns::new();
    for line in [
        "-I -s 10.0.0.1 -d 10.0.0.2 -p udp --sport 1 --dport 2 -t 30 -m 5",
        "-I -s 10.0.0.1 -d 10.0.0.2 -p tcp --sport 1 --dport 80 --state ESTABLISHED -u ASSURED,SEEN_REPLY -t 300 -w 3",
        "-I -s 10.0.0.5 -d 10.0.0.2 --dst-nat 10.9.9.9:8080 -p tcp --sport 1 --dport 80 --state SYN_SENT -t 300",
        "-I -s 10.0.0.7 -d 10.0.0.8 -p icmp --icmp-type 8 --icmp-code 0 --icmp-id 9 -t 30",
        "-I -s 10.0.0.7 -d 10.0.0.8 -p gre --srckey 5 --dstkey 6 -t 30",
        "-I -s 10.0.0.7 -d 10.0.0.8 -p 200 -t 30",
        "-I -s 10.0.0.9 -d 10.0.0.8 -p udp --sport 1 --dport 2 -t 30 --orig-zone 4",
        "-I -s fd00::1 -d fd00::2 -p udp --sport 1 --dport 2 -t 30 --reply-zone 5",
    ] {
        let args: Vec<&str> = line.split_whitespace().collect();
        ns.conntrack(&args);
    }
    // Timeouts tick between the two runs; everything else must be equal.
    let norm = |o: &Output| {
        let text = String::from_utf8_lossy(&o.stdout).into_owned();
        let mut lines: Vec<String> = text
            .lines()
            .map(|l| {
                let mut l = l.to_string();
                while let Some(i) = l.find("<timeout>") {
                    let end = l[i..].find("</timeout>").unwrap() + i;
                    l.replace_range(i..end + "</timeout>".len(), "T");
                }
                l
            })
            .collect();
        lines.sort();
        (o.status.code(), lines)
    };
    for args in [
        "-L -o xml",
        "-L -o xml,id",
        "-L -o xml,extended -p tcp",
        "-L -o xml -s 192.0.2.1",
        "-G -o xml -s 10.0.0.1 -d 10.0.0.2 -p udp --sport 1 --dport 2",
    ] {
        let real = run(&ns, "conntrack", args, None);
        let mine = run(&ns, ours, args, None);
        assert_eq!(norm(&mine), norm(&real), "conntrack {args}");
        assert_eq!(mine.stderr, real.stderr, "conntrack {args}");
    }
    let doc = run(&ns, ours, "-L -o xml", None);
    let text = String::from_utf8_lossy(&doc.stdout);
    assert!(text.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<conntrack>\n"));
    assert!(text.ends_with("</conntrack>\n"));
    assert_eq!(text.matches("<flow>").count(), 8);
}

/// `-L -z`: lists and zeroes counters as conntrack 1.4.7 does: by family
/// only, and filtering parameters are refused (exit 2, nothing zeroed).
#[test]
fn list_and_zero_counters_touches_only_the_listed_entries() {
    require_root!();
    let ours = as_conntrack();
    let ours = ours.to_str().unwrap();
    let ns = Netns::new();
    ns.sysctl("net.netfilter.nf_conntrack_acct", "1");
    ns.track_traffic();
    ns.udp_send(5301);
    ns.udp_send(5302);
    let counters = |dport: &str| -> Vec<String> {
        let t = ns.conntrack(&["-L", "-p", "udp", "--dport", dport]);
        t.split_whitespace()
            .filter(|w| w.starts_with("packets="))
            .map(String::from)
            .collect()
    };
    assert_eq!(counters("5301"), ["packets=1", "packets=1"]);
    // conntrack 1.4.7 zeroes by family only: a filter is refused.
    let out = run(&ns, ours, "-L -z -p udp --dport 5301", None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Can't use -z with filtering parameters"));
    assert_eq!(counters("5301"), ["packets=1", "packets=1"]);
    // A family is no filtering parameter: every IPv6 entry is zeroed (none
    // here), the IPv4 ones keep their counters.
    let out = run(&ns, ours, "-L -z -f ipv6", None);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(counters("5301"), ["packets=1", "packets=1"]);
    // No filter: every entry, each listed with its counters first.
    let out = run(&ns, ours, "-L -z", None);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("packets=1"));
    assert_eq!(counters("5301"), ["packets=0", "packets=0"]);
    assert_eq!(counters("5302"), ["packets=0", "packets=0"]);
}

/// `-o ktimestamp`: the kernel's start time as conntrack prints it.
#[test]
fn ktimestamp_output_matches_conntrack() {
    require_root!();
    let ours = as_conntrack();
    let ours = ours.to_str().unwrap();
    let ns = Netns::new();
    ns.sysctl("net.netfilter.nf_conntrack_timestamp", "1");
    ns.conntrack(&[
        "-I", "-s", "10.0.0.1", "-d", "10.0.0.2", "-p", "udp", "--sport", "1", "--dport", "2",
        "-t", "300",
    ]);
    for args in ["-L -o ktimestamp", "-L -o ktimestamp,extended,id"] {
        let real = run(&ns, "conntrack", args, None);
        let mine = run(&ns, ours, args, None);
        let strip = |o: &Output| {
            // The timer and delta-time may tick between the two runs.
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .filter(|w| {
                    !w.starts_with("delta-time=") && w.parse::<u32>().map_or(true, |n| n < 200)
                })
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert!(strip(&real).contains("[start="), "{}", strip(&real));
        assert_eq!(strip(&mine), strip(&real), "conntrack {args}");
    }
}

/// `-F -f ipv6` removes the IPv6 entries and keeps every IPv4 one (through
/// a kernel flush only where the probe proved the family is honoured).
#[test]
fn flush_of_one_family_keeps_the_other() {
    require_root!();
    let ours = as_conntrack();
    let ns = Netns::new();
    ns.restore(
        "-I -s 10.0.0.1 -d 10.0.0.2 -p udp --sport 1 --dport 53 -t 30\n\
         -I -s fd00::1 -d fd00::2 -p udp --sport 1 --dport 53 -t 30\n\
         -I -s fd00::1 -d fd00::3 -p tcp --sport 1 --dport 80 --state ESTABLISHED -t 30\n",
    );
    let out = run(&ns, ours.to_str().unwrap(), "-F -f ipv6", None);
    assert_eq!(out.status.code(), Some(0));
    let left = table(&ns);
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(left[0].contains("src=10.0.0.1"), "{left:?}");
}
