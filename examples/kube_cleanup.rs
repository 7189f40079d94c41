//! kube-proxy's UDP service cleanup with ctctl as a library: when the
//! endpoints of UDP services change, delete the entries to each service IP
//! whose replies come from none of its current endpoints, for every
//! service, in one pass over the table.
//!
//!   sudo cargo run --example kube_cleanup -- [--netns NAME] \
//!       10.96.0.10=10.244.1.5,10.244.2.7  10.96.0.11=10.244.3.2
//!
//! Each argument is `SERVICE_IP=ENDPOINT[,ENDPOINT...]` (an empty endpoint
//! list, `10.96.0.12=`, clears every entry of that service). One dump of
//! the table (pre-filtered in the kernel to UDP where this kernel was
//! proved to filter correctly), each entry matched against the services
//! indexed by destination address, each match deleted by tuple and id.

use std::ops::ControlFlow;

use ctctl::select::criteria::{Cidr, Match};
use ctctl::{Conntrack, Filter, FilterSet};
use ctctl_netlink::conntrack::proto;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut ct = match args.iter().position(|a| a == "--netns") {
        Some(i) => {
            let name = args.get(i + 1).ok_or("--netns needs a name")?.clone();
            args.drain(i..=i + 1);
            Conntrack::in_netns(&name)?
        }
        None => Conntrack::open()?,
    };
    if args.is_empty() {
        return Err("usage: kube_cleanup [--netns NAME] SERVICE_IP=ENDPOINT[,...] ...".into());
    }
    let mut lines = Vec::new();
    for arg in &args {
        let (service, endpoints) = arg
            .split_once('=')
            .ok_or_else(|| format!("{arg}: use SERVICE_IP=ENDPOINT[,ENDPOINT...]"))?;
        let service = Cidr::parse(service).map_err(|e| format!("{arg}: {e}"))?;
        // Replies from none of the endpoints: stale (a gone pod, or an
        // entry made before the service had endpoints).
        let reply_src = if endpoints.is_empty() {
            None
        } else {
            let mut stale =
                ctctl::select::values::parse_addrs(endpoints).map_err(|e| format!("{arg}: {e}"))?;
            stale.negated = true;
            Some(stale)
        };
        lines.push(
            Filter {
                dst: Some(Match::one(service)),
                reply_src,
                ..Filter::default()
            }
            .normalize()?,
        );
    }
    let udp = Filter {
        proto: Some(proto::UDP),
        ..Filter::default()
    };
    let set = FilterSet::new(udp, lines);

    let mut deleter = ct.deleter()?;
    ct.stream(&set, |flow| -> Result<ControlFlow<()>, ctctl::Error> {
        deleter.push(flow)?;
        Ok(ControlFlow::Continue(()))
    })?;
    let stats = deleter.finish()?;
    println!(
        "deleted {} stale UDP entries of {} services ({} already gone)",
        stats.done,
        args.len(),
        stats.skipped
    );
    Ok(())
}
