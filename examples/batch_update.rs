//! Marks every UDP entry to port 53 in one pass: the dump streams while
//! the updates go out in batches on a second socket (hundreds per
//! `sendmsg`, errors only acknowledged).
//!
//!   sudo cargo run --example batch_update [NETNS]

use std::ops::ControlFlow;

use ctctl::{Conntrack, Filter, PortRange, Update};

fn main() -> Result<(), ctctl::Error> {
    let mut ct = match std::env::args().nth(1) {
        Some(ns) => Conntrack::in_netns(ns)?,
        None => Conntrack::open()?,
    };
    let dns = Filter {
        proto: Some(ctctl::proto::UDP),
        dport: Some(ctctl::Match::one(PortRange::one(53))),
        ..Filter::default()
    }
    .normalize()?;
    let mut updater = ct.updater()?;
    let mark = Update {
        mark: Some((0x53, u32::MAX)),
        ..Update::default()
    };
    ct.stream(&dns, |f| {
        updater.push(f, &mark)?;
        Ok(ControlFlow::Continue(()))
    })?;
    let stats = updater.finish()?;
    eprintln!(
        "updated {} entries ({} already gone)",
        stats.done, stats.skipped
    );
    Ok(())
}
