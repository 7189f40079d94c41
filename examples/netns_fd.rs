//! A namespace opened from a descriptor the caller holds (here one it
//! opened itself; a container runtime or a pidfd gives one just as well).
//! The handle keeps the namespace, not its name: sockets it opens later
//! are in that namespace even after `ip netns del` or a new namespace of
//! the same name.
//!
//!   sudo cargo run --example netns_fd /proc/PID/ns/net

use std::os::fd::OwnedFd;

use ctctl::Conntrack;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "/proc/self/ns/net".to_string());
    let fd = OwnedFd::from(std::fs::File::open(&path)?);
    let mut ct = Conntrack::in_netns_fd(fd)?;
    let stats = ct.stats()?;
    println!("{path}: {} entries", stats.entries);
    // An event subscription, opened later, is in the same namespace.
    let _events = ct.events(&ctctl::EventOptions::default(), &ctctl::Filter::all())?;
    Ok(())
}
