//! Conntrack events for five seconds, with overruns noticed: what a log
//! shipper or a cache of the table would do.
//!
//!   sudo cargo run --example events [NETNS]
//!
//! Needs CAP_NET_ADMIN (and CAP_SYS_ADMIN for another namespace).

use std::time::{Duration, Instant};

use ctctl::{Conntrack, EventKind, EventOptions, Filter};

fn main() -> Result<(), ctctl::Error> {
    let ct = match std::env::args().nth(1) {
        Some(ns) => Conntrack::in_netns(ns)?,
        None => Conntrack::open()?,
    };
    // Only TCP: the family and protocol go into a socket filter, so the
    // kernel drops the rest before it takes room in the buffer.
    let tcp = Filter {
        proto: Some(ctctl::proto::TCP),
        ..Filter::default()
    }
    .normalize()?;
    let mut events = ct.events(&EventOptions::default(), &tcp)?;
    let until = Instant::now() + Duration::from_secs(5);
    let (mut new, mut destroy, mut overruns) = (0u64, 0u64, 0u64);
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        let polled = events.poll(Some(left), |e| {
            match e.kind {
                EventKind::New => new += 1,
                EventKind::Destroy => destroy += 1,
                EventKind::Update => {}
            }
            println!("{:?} {}", e.kind, e.flow.orig);
        })?;
        if polled.overrun {
            // The kernel dropped events: a cache would dump the table now.
            overruns += 1;
        }
    }
    eprintln!("{new} new, {destroy} destroyed, {overruns} overruns");
    Ok(())
}
