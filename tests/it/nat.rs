//! Source-NAT port pressure: `ctctl nat`, `status`, the exporter's
//! metrics, on entries made with `conntrack -I --src-nat` and on real
//! traffic through an nft SNAT rule narrowed to ten ports.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::harness::{Background, Netns};
use crate::require_root;

/// `n` TCP entries from 10.0.0.1 to 203.0.113.7:443, source-NATed to
/// 192.0.2.1, each on its own NAT port from 1024.
fn snat_lines(n: u32) -> String {
    (0..n)
        .map(|i| {
            format!(
                "-I -p tcp -s 10.0.0.1 -d 203.0.113.7 --sport {p} --dport 443 --src-nat 192.0.2.1:{p} --state ESTABLISHED -t 600\n",
                p = 1024 + i
            )
        })
        .collect()
}

#[test]
fn eighty_percent_of_the_default_range_shows_in_nat_status_and_the_exporter() {
    require_root!();
    let ns = Netns::new();
    ns.restore(&snat_lines(52_000));
    // A plain entry, not NATed: not counted.
    ns.restore("-I -p udp -s 10.0.0.2 -d 10.0.0.3 --sport 1 --dport 53 -t 600\n");
    let out = ns.ctctl_ok(&["-o", "json", "nat"]);
    let v: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(v["proto"], "tcp");
    assert_eq!(v["snat"], "192.0.2.1");
    assert_eq!(v["dst"], "203.0.113.7");
    assert_eq!(v["dport"], 443);
    assert_eq!(v["ports_used"], 52_000);
    assert_eq!(v["ports_available"], 64_512);
    let u = v["utilization"].as_f64().unwrap();
    assert!((u - 0.806).abs() < 0.001, "{u}");
    assert_eq!(out.lines().count(), 1, "one group: {out}");
    let text = ns.ctctl_ok(&["nat"]);
    assert!(
        text.contains("52,000") && text.contains("64,512") && text.contains("80.6%"),
        "{text}"
    );

    // status warns (80.6% >= 80), naming the address and the destination.
    let st = ns.ctctl_out(&["status", "--check", "--interval", "10ms"]);
    assert_eq!(
        st.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&st.stdout)
    );
    let stdout = String::from_utf8_lossy(&st.stdout);
    assert!(
        stdout.contains("192.0.2.1") && stdout.contains("203.0.113.7:443"),
        "{stdout}"
    );
    assert!(stdout.contains("random-fully"), "says what to do: {stdout}");

    // The exporter's metric.
    let mut cmd = Command::new(crate::harness::ctctl_bin());
    cmd.args(["--netns", &ns.name, "exporter", "--listen", "127.0.0.1:0"]);
    let mut exp = Background::spawn(cmd, Stdio::null());
    let line = exp.wait_stderr("exporter listening", 30);
    let port = crate::harness::listening_port(&line);
    let body = ureq_get(port);
    let series = format!(
        "conntrack_snat_port_utilization{{netns=\"{}\",proto=\"tcp\",snat=\"192.0.2.1\"}}",
        ns.name
    );
    let val: f64 = body
        .lines()
        .find_map(|l| l.strip_prefix(&series)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {series} in {body}"));
    assert!((val - 0.806).abs() < 0.001, "{val}");
    assert!(body.contains(&format!(
        "conntrack_snat_entries{{netns=\"{}\",proto=\"tcp\",snat=\"192.0.2.1\"}} 52000",
        ns.name
    )));
    exp.signal(nix::sys::signal::Signal::SIGTERM);
    let _ = exp.finish(10);
}

fn ureq_get(port: u16) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

#[test]
fn bad_nat_options_exit_2_naming_the_flag() {
    require_root!();
    let ns = Netns::new();
    for (args, flag) in [
        (vec!["nat", "--port-range", "5-2"], "--port-range"),
        (vec!["nat", "--port-range", "1-70000"], "--port-range"),
        (vec!["nat", "--top", "0"], "--top"),
        (vec!["status", "--nat-port-range", "x"], "--nat-port-range"),
    ] {
        let out = ns.ctctl_out(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(flag),
            "{args:?}"
        );
    }
}

/// Three namespaces: a client, a router that source-NATs to ten ports, a
/// server. Twenty UDP flows from the client: ten get a port, the rest find
/// none and fail to be inserted.
#[test]
fn real_traffic_through_a_ten_port_snat_runs_out_and_everything_says_so() {
    require_root!();
    if crate::harness::which("nft").is_none() {
        assert!(!crate::harness::require_root(), "needs nft");
        eprintln!("SKIPPED: needs nft");
        return;
    }
    let (client, router, server) = (Netns::new(), Netns::new(), Netns::new());
    let link = |a: &Netns, an: &str, b: &Netns, bn: &str| {
        let ok = Command::new("ip")
            .args([
                "link", "add", an, "netns", &a.name, "type", "veth", "peer", "name", bn, "netns",
                &b.name,
            ])
            .status()
            .unwrap();
        assert!(ok.success());
    };
    link(&client, "c0", &router, "r0");
    link(&router, "r1", &server, "s0");
    for (ns, cmds) in [
        (
            &client,
            vec![
                "ip addr add 10.1.0.2/24 dev c0",
                "ip link set c0 up",
                "ip route add default via 10.1.0.1",
            ],
        ),
        (
            &router,
            vec![
                "ip addr add 10.1.0.1/24 dev r0",
                "ip link set r0 up",
                "ip addr add 192.0.2.1/24 dev r1",
                "ip link set r1 up",
                "sysctl -qw net.ipv4.ip_forward=1",
            ],
        ),
        (
            &server,
            vec!["ip addr add 192.0.2.2/24 dev s0", "ip link set s0 up"],
        ),
    ] {
        for c in cmds {
            let words: Vec<&str> = c.split(' ').collect();
            ns.exec_ok(&words);
        }
    }
    router.exec_ok(&[
        "nft", "add table ip t; add chain ip t post { type nat hook postrouting priority 100; }; add rule ip t post oif r1 meta l4proto udp snat to 192.0.2.1:40000-40009",
    ]);
    let before = stat(&router, "insert_failed");
    client.run(|| {
        for sport in 50000..50020u16 {
            let s = std::net::UdpSocket::bind(("10.1.0.2", sport)).unwrap();
            let _ = s.send_to(b"x", ("192.0.2.2", 9));
        }
    });
    // Every packet crossed the router by the time send_to returned (veths
    // deliver synchronously); the kernel's counters are read now.
    let failed = stat(&router, "insert_failed") - before;
    assert!(
        failed >= 10,
        "ten flows found no port: insert_failed rose by {failed}"
    );
    let out = router.ctctl_ok(&["-o", "json", "nat", "--port-range", "40000-40009"]);
    let v: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(v["ports_used"], 10, "{out}");
    assert_eq!(v["ports_available"], 10);
    assert_eq!(v["utilization"].as_f64(), Some(1.0));
    let st = router.ctctl_out(&[
        "status",
        "--check",
        "--interval",
        "10ms",
        "--nat-port-range",
        "40000-40009",
    ]);
    assert_eq!(
        st.status.code(),
        Some(2),
        "critical: {}",
        String::from_utf8_lossy(&st.stdout)
    );
}

/// A per-CPU counter summed, from `ctctl -o json stats` (conntrack -S).
fn stat(ns: &Netns, name: &str) -> u64 {
    let out = ns.ctctl_ok(&["-o", "json", "stats"]);
    out.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v[name].as_u64())
        .sum()
}
