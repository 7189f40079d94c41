//! How fast `ctctl wait --for new` reacts: from just before an entry is
//! created (one acknowledged NEW request from this process) to the moment
//! its line arrives on wait's stdout. Needs root; makes and removes a
//! network namespace of its own.
//!
//!   cargo bench --bench wait_latency

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ctctl::{Conntrack, Flow, Tuple};
use ctctl_netlink::conntrack::proto;
use ctctl_netlink::header::AF_INET;

struct Ns(String);

impl Drop for Ns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn main() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("wait_latency: needs root (skipped)");
        return;
    }
    let ns = Ns(format!("ctctl-waitbench-{}", std::process::id()));
    assert!(Command::new("ip")
        .args(["netns", "add", &ns.0])
        .status()
        .unwrap()
        .success());
    let mut ct = Conntrack::in_netns(&ns.0).expect("open the namespace's table");
    let mut samples = Vec::new();
    for i in 0..21u16 {
        let port = 10_000 + i;
        let mut child = Command::new(env!("CARGO_BIN_EXE_ctctl"))
            .args([
                "--netns", &ns.0, "-o", "json", "wait", "--for", "new", "-p", "udp",
            ])
            .args(["--dport", &port.to_string(), "--timeout", "10s"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn ctctl");
        let mut err = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        err.read_line(&mut line).unwrap();
        assert!(line.contains("waiting for"), "{line}");
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let orig = Tuple {
            src: Some("10.0.0.1".parse().unwrap()),
            dst: Some("10.0.0.2".parse().unwrap()),
            proto: Some(proto::UDP),
            src_port: Some(1),
            dst_port: Some(port),
            ..Tuple::default()
        };
        let flow = Flow {
            family: AF_INET,
            orig,
            reply: ctctl::flow::mirror(&orig),
            timeout: Some(60),
            ..Flow::default()
        };
        let t0 = Instant::now();
        assert!(ct.create(&flow, false).unwrap());
        let mut got = String::new();
        out.read_line(&mut got).unwrap();
        let dt = t0.elapsed();
        assert!(got.contains(&format!("\"dport\":{port}")), "{got}");
        child.wait().unwrap();
        samples.push(dt);
    }
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "wait --for new reaction (create -> line on stdout), 21 runs: median {:.2} ms, max {:.2} ms",
        ms(samples[samples.len() / 2]),
        ms(*samples.last().unwrap())
    );
}
