//! What a downstream project's integration test looks like with ctctl as a
//! library: make a network namespace, seed conntrack entries, assert on
//! them, wait for an event instead of sleeping, clean up.
//!
//!   sudo cargo run --example netns_test
//!
//! Needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN) and `ip` from iproute2.

use std::ops::ControlFlow;
use std::process::Command;
use std::time::Duration;

use ctctl::select::criteria::{Cidr, Match, StateMatch};
use ctctl::{Conntrack, Filter, Flow, Tuple, WaitFor};
use ctctl_netlink::conntrack::{proto, ProtoInfo, Status};
use ctctl_netlink::header::AF_INET;

/// A network namespace removed when dropped, even if an assertion fails.
struct Netns(String);

impl Netns {
    fn new(name: &str) -> Netns {
        let ok = Command::new("ip")
            .args(["netns", "add", name])
            .status()
            .expect("run ip");
        assert!(ok.success(), "ip netns add {name}");
        Netns(name.to_string())
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// A TCP entry from 10.0.0.1:sport to 10.0.0.2:443 in `state`.
fn tcp(sport: u16, state: &str) -> Flow<'static> {
    let orig = Tuple {
        src: Some("10.0.0.1".parse().unwrap()),
        dst: Some("10.0.0.2".parse().unwrap()),
        proto: Some(proto::TCP),
        src_port: Some(sport),
        dst_port: Some(443),
        ..Tuple::default()
    };
    Flow {
        family: AF_INET,
        orig,
        reply: ctctl::flow::mirror(&orig),
        status: Some(Status::SEEN_REPLY | Status::ASSURED),
        timeout: Some(300),
        proto_info: ProtoInfo::from_state_name(proto::TCP, state),
        ..Flow::default()
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let ns = Netns::new(&format!("example-{}", std::process::id()));
    let mut ct = Conntrack::in_netns(&ns.0)?;

    // Seed: two established connections and one in TIME_WAIT.
    for (sport, state) in [
        (40000, "ESTABLISHED"),
        (40001, "ESTABLISHED"),
        (40002, "TIME_WAIT"),
    ] {
        assert!(ct.create(&tcp(sport, state), false)?, "created");
    }
    assert!(
        !ct.create(&tcp(40000, "ESTABLISHED"), false)?,
        "a second create finds it"
    );

    // Assert: what a test of a NAT gateway or a load balancer would check.
    let established = Filter {
        state: Some(StateMatch::parse("ESTABLISHED", None)?),
        dst: Some(Match::one(Cidr::parse("10.0.0.2")?)),
        ..Filter::default()
    }
    .normalize()?;
    let mut n = 0;
    ct.for_each(&established, |f| {
        assert_eq!(f.orig.dst_port, Some(443));
        n += 1;
        ControlFlow::Continue(())
    })?;
    assert_eq!(n, 2, "two established connections to 10.0.0.2");

    // Wait, don't sleep: a helper thread deletes an entry; we block until
    // its destroy event arrives (or fail after a second).
    let mut helper = Conntrack::in_netns(&ns.0)?;
    let gone = tcp(40002, "TIME_WAIT").orig;
    let deleter = std::thread::spawn(move || helper.delete(&gone, None, None));
    let time_wait = Filter {
        state: Some(StateMatch::parse("TIME_WAIT", None)?),
        ..Filter::default()
    }
    .normalize()?;
    let waited = ct.wait_for(&time_wait, WaitFor::Absent, 1, Some(Duration::from_secs(1)))?;
    assert!(deleter.join().unwrap()?, "the helper deleted it");
    assert!(waited.met, "the TIME_WAIT entry is gone");

    let left = ct.dump(&Filter::all())?;
    assert_eq!(left.len(), 2);
    println!(
        "ok: seeded 3 entries, asserted 2 established, waited for 1 to go; {} left",
        left.len()
    );
    Ok(())
}
