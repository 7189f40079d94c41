//! Choosing what the kernel may be asked. A filtered dump or delete hands
//! the kernel only the criteria this running kernel was seen to apply
//! exactly; seeing it takes an experiment (a private network namespace,
//! a few entries, a verdict kept in /run/ctctl for the boot). The caller
//! picks: prove when needed (the default), use kept verdicts only, or
//! never ask the kernel (match everything here).
//!
//!   sudo cargo run --example probe_choice [probe|cached|never]

use ctctl::probe::{self, Policy};
use ctctl::{Conntrack, Filter, PortRange};

fn main() -> Result<(), ctctl::Error> {
    let policy = match std::env::args().nth(1).as_deref() {
        Some("cached") => Policy::CachedOnly,
        Some("never") => Policy::Never,
        _ => Policy::Probe,
    };
    probe::set_policy(policy);
    let dns = Filter {
        family: Some(ctctl::AF_INET),
        proto: Some(ctctl::proto::UDP),
        dport: Some(ctctl::Match::one(PortRange::one(53))),
        ..Filter::default()
    }
    .normalize()?;
    // The only way to a filtered kernel flush is a proof.
    match probe::prove_flush(&dns) {
        Some(proof) => println!("this kernel flushes by {:?} exactly", proof.filters()),
        None => println!("not proved here: deletes go by tuple and id from a dump"),
    }
    let mut ct = Conntrack::open()?;
    let (stats, method) = ct.delete_matching(&dns, &mut |_| {})?;
    println!("deleted {} entries ({})", stats.done, method.name());
    Ok(())
}
