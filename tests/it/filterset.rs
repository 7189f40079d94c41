//! Many cleanup targets in one pass: `--filters-from`, value lists,
//! negation, port ranges, either-direction addresses, reply ports.

use crate::harness::{list, table, Netns};
use crate::require_root;

/// A mixed IPv4/IPv6 table of services and their clients, with NAT-like
/// reply sources (endpoints) seeded by `ctctl create -r`.
fn load(ns: &Netns) {
    ns.restore(
        "-I -p udp -s 10.0.0.1 -d 10.96.0.10 --sport 1000 --dport 53 -t 300\n\
         -I -p udp -s 10.0.0.2 -d 10.96.0.10 --sport 1001 --dport 53 -t 300\n\
         -I -p tcp -s 10.0.0.1 -d 10.96.0.10 --sport 1002 --dport 53 --state ESTABLISHED -t 300\n\
         -I -p udp -s 10.0.0.3 -d 10.0.0.4 --sport 1005 --dport 31000 -t 300\n\
         -I -p udp -s 10.0.0.3 -d 10.0.0.4 --sport 1006 --dport 29999 -t 300\n\
         -I -p tcp -s 2001:db8::1 -d 2001:db8::10 --sport 2000 --dport 443 --state ESTABLISHED -t 300\n\
         -I -p udp -s 2001:db8::1 -d 2001:db8::10 --sport 2001 --dport 53 -t 300\n\
         -I -p udp -s 2001:db8::9 -d 2001:db8::53 --sport 2002 --dport 5353 -t 300\n",
    );
    for (sport, endpoint) in [
        ("1003", "10.244.1.5"),
        ("1004", "10.244.1.9"),
        ("1007", "10.244.1.6"),
    ] {
        ns.ctctl_ok(&[
            "create",
            "-p",
            "udp",
            "-s",
            "10.0.0.1",
            "-d",
            "10.96.0.11",
            "--sport",
            sport,
            "--dport",
            "53",
            "-r",
            endpoint,
        ]);
    }
}

fn write(name: &str, text: &str) -> std::path::PathBuf {
    let p = std::env::temp_dir().join(format!("ctctl-{name}-{}", std::process::id()));
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn lists_negation_ranges_and_either_direction() {
    require_root!();
    let ns = Netns::new();
    load(&ns);
    let n = |args: &[&str]| list(&ns, args).len();
    assert_eq!(n(&["--dport", "53,5353"]), 8);
    assert_eq!(n(&["--dport", "!53,5353"]), 3);
    assert_eq!(n(&["-p", "udp", "--dport", "30000-32767"]), 1);
    assert_eq!(n(&["-d", "10.96.0.10,2001:db8::10"]), 5);
    // kube-proxy's question: replies from none of the current endpoints.
    let stale = list(
        &ns,
        &[
            "-p",
            "udp",
            "-d",
            "10.96.0.11",
            "-r",
            "!10.244.1.5,10.244.1.6",
        ],
    );
    assert_eq!(stale.len(), 1);
    assert!(stale[0].contains("10.244.1.9"), "{stale:?}");
    // --addr: either direction, source or destination.
    assert_eq!(n(&["--addr", "10.244.1.9"]), 1, "a reply source");
    assert_eq!(n(&["--addr", "10.0.0.4"]), 2, "an original destination");
    assert_eq!(n(&["--addr", "10.0.0.3"]), 2, "an original source");
    assert_eq!(n(&["-f", "ipv4", "--addr", "!10.0.0.1"]), 3);
    // Reply-side ports.
    assert_eq!(n(&["--reply-port-src", "31000"]), 1);
    assert_eq!(n(&["--reply-port-dst", "1000-1001"]), 2);
    assert_eq!(n(&["-m", "0,1"]), 11);
    assert_eq!(n(&["-w", "!0"]), 0);
}

#[test]
fn filters_from_is_an_or_of_lines_with_the_command_line_anded() {
    require_root!();
    let ns = Netns::new();
    load(&ns);
    let file = write(
        "set",
        "# services whose endpoints changed\n\
         -p udp -d 10.96.0.10\n\
         \n\
         -p udp -d 10.96.0.11 -r '!10.244.1.5,10.244.1.6'\n\
         --dport 30000-32767\n\
         -d 2001:db8::10 --dport 53\n",
    );
    let path = file.to_str().unwrap();
    let union = list(&ns, &["--filters-from", path]);
    assert_eq!(union.len(), 5, "{union:?}");
    assert_eq!(ns.ctctl_ok(&["count", "--filters-from", path]).trim(), "5");
    // The command line narrows every line.
    assert_eq!(list(&ns, &["-f", "ipv6", "--filters-from", path]).len(), 1);
    // Dry run previews the union; JSON reports per line.
    let dry = ns.ctctl_ok(&["delete", "--dry-run", "--filters-from", path]);
    assert_eq!(dry.lines().count(), 5);
    let before = table(&ns);
    let out = ns.ctctl_ok(&["-o", "json", "delete", "--filters-from", path]);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["deleted"], 5);
    let per: Vec<(u64, u64)> = v["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["line"].as_u64().unwrap(), l["matched"].as_u64().unwrap()))
        .collect();
    assert_eq!(per, vec![(2, 2), (4, 1), (5, 1), (6, 1)]);
    let after = table(&ns);
    let gone: Vec<&String> = before.iter().filter(|l| !after.contains(l)).collect();
    assert_eq!(gone.len(), 5);
    assert!(gone.iter().all(|l| union.contains(l)));
    std::fs::remove_file(file).unwrap();
}

#[test]
fn a_bad_line_exits_2_naming_it_and_deletes_nothing() {
    require_root!();
    let ns = Netns::new();
    load(&ns);
    let before = table(&ns);
    for (text, needle) in [
        ("-p udp -d 10.96.0.10\n-p udp -d 10.96.0.300\n", "line 2"),
        ("-p udp --dport 99999\n", "line 1"),
        ("# only a comment\n\n", "no filter lines"),
        ("-p udp\n--bogus\n", "line 2"),
        ("--filters-from /etc/passwd\n", "cannot be nested"),
        ("-p udp -d '10.96.0.10\n", "unbalanced quotes"),
    ] {
        let file = write("bad", text);
        let out = ns.ctctl_out(&["delete", "--filters-from", file.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{text:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{text:?}: {err}");
        assert_eq!(table(&ns), before, "{text:?} deleted something");
        std::fs::remove_file(file).unwrap();
    }
    // A line that selects everything needs --all.
    let file = write("all", "-p udp -d 10.96.0.10\n-s 0.0.0.0/0\n");
    let out = ns.ctctl_out(&["delete", "--filters-from", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 2 selects every entry"));
    assert_eq!(table(&ns), before);
    std::fs::remove_file(file).unwrap();
}

/// One pass leaves the same table as conntrack -D run once per line, on a
/// mixed IPv4/IPv6 table.
#[test]
fn one_pass_leaves_what_sequential_conntrack_runs_leave() {
    require_root!();
    let lines = [
        "-p udp -d 10.96.0.10",
        "-p tcp -d 2001:db8::10",
        "-s 10.0.0.3",
        "-p udp -d 2001:db8::53",
    ];
    let theirs = Netns::new();
    load(&theirs);
    for l in lines {
        let mut args = vec!["-D"];
        args.extend(l.split(' '));
        // conntrack -D exits 1 when nothing matched; the table is what counts.
        let _ = theirs.exec(&[&["conntrack"][..], &args].concat());
    }
    let ours = Netns::new();
    load(&ours);
    let file = write("seq", &(lines.join("\n") + "\n"));
    ours.ctctl_ok(&["delete", "--filters-from", file.to_str().unwrap()]);
    assert_eq!(table(&ours), table(&theirs));
    assert_eq!(table(&ours).len(), 11 - 6);
    std::fs::remove_file(file).unwrap();
}

/// The library: a FilterSet is accepted wherever a Filter is.
#[test]
fn library_filterset_streams_like_a_filter() {
    require_root!();
    let ns = Netns::new();
    load(&ns);
    let line = |s: &str| {
        ctctl::Filter {
            dst: Some(ctctl::select::values::parse_addrs(s).unwrap()),
            ..ctctl::Filter::default()
        }
        .normalize()
        .unwrap()
    };
    let set = ctctl::FilterSet::new(
        ctctl::Filter::default(),
        vec![line("10.96.0.10"), line("2001:db8::53")],
    );
    let mut ct = ctctl::Conntrack::in_netns(&ns.name).unwrap();
    assert_eq!(ct.dump(&set).unwrap().len(), 4);
}
