//! Source-NAT port pressure: how many of the ports a NAT address can use
//! toward one destination are taken.
//!
//! The kernel keeps every reply tuple unique. A source-NATed connection's
//! reply comes from the destination (address and port, after any DNAT:
//! the backend) to the NAT address and the port NAT chose. So for one
//! protocol, NAT address and destination, at most as many connections as
//! the port range holds can be open at once; the next one finds no free
//! port (`nf_nat_l4proto_unique_tuple`), and its packet is dropped
//! (`insert_failed` rises, or `clash_resolve` when a clash was resolved).
//!
//! The range is the rule's (`masquerade to :40000-40999`, `snat to
//! ADDR:PORT-PORT`), else the kernel's automatic one, chosen by the
//! original source port: 1024-65535 for ports from 1024, 600-1023 for
//! 512-1023, 1-511 below 512 (`nf_nat_l4proto_unique_tuple`).
//!
//! Memory is one counter per group (protocol, NAT address, destination,
//! range), never per entry.

use std::collections::HashMap;
use std::net::IpAddr;
use std::ops::ControlFlow;

use ctctl_netlink::conntrack::{Flow, Status};

use crate::conntrack::Conntrack;
use crate::error::Result;
use crate::flow::has_ports;
use crate::select::criteria::{PortRange, StatusMatch};
use crate::select::filter::Filter;

/// The kernel's automatic source-port range for an original source port.
pub fn auto_range(orig_sport: u16) -> PortRange {
    match orig_sport {
        0..=511 => PortRange { lo: 1, hi: 511 },
        512..=1023 => PortRange { lo: 600, hi: 1023 },
        _ => PortRange {
            lo: 1024,
            hi: 65535,
        },
    }
}

/// The ports in a range.
pub fn ports(r: PortRange) -> u64 {
    u64::from(r.hi.saturating_sub(r.lo)) + 1
}

/// One protocol, NAT address and destination, and the ports NAT can pick
/// from for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NatGroup {
    /// Layer-4 protocol.
    pub proto: u8,
    /// The NAT (translated source) address.
    pub snat: IpAddr,
    /// The destination, as the reply comes from it (after DNAT: the backend).
    pub dst: IpAddr,
    /// Its port.
    pub dport: u16,
    /// The ports NAT picks from.
    pub range: PortRange,
}

impl NatGroup {
    /// The group of a source-NATed entry with ports (`None` for the rest);
    /// `range` overrides the kernel's automatic one.
    pub fn of(f: &Flow<'_>, range: Option<PortRange>) -> Option<NatGroup> {
        if !f.status.unwrap_or_default().contains(Status::SRC_NAT) {
            return None;
        }
        let proto = f.orig.proto.filter(|p| has_ports(*p))?;
        if proto == ctctl_netlink::conntrack::proto::GRE {
            return None;
        }
        Some(NatGroup {
            proto,
            snat: f.reply.dst?,
            dst: f.reply.src?,
            dport: f.reply.src_port?,
            range: range.unwrap_or_else(|| auto_range(f.orig.src_port.unwrap_or(0))),
        })
    }

    /// Ports in the range.
    pub fn available(&self) -> u64 {
        ports(self.range)
    }
}

/// A group and how many of its ports are taken.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct NatUse {
    /// The group.
    pub group: NatGroup,
    /// Entries, each holding one port.
    pub used: u64,
}

impl NatUse {
    /// `used / available`, from 0 to 1 (above 1 when the range given is
    /// narrower than the one the entries were made with).
    pub fn utilization(&self) -> f64 {
        self.used as f64 / self.group.available() as f64
    }
}

/// Counts per group.
#[derive(Debug, Clone, Default)]
pub struct NatTally {
    groups: HashMap<NatGroup, u64>,
    range: Option<PortRange>,
}

impl NatTally {
    /// Counting with `range` as the NAT rule's port range (`None`: the
    /// kernel's automatic one).
    pub fn new(range: Option<PortRange>) -> NatTally {
        NatTally {
            groups: HashMap::new(),
            range,
        }
    }

    /// Counts `f` if it is source-NATed with ports.
    pub fn add(&mut self, f: &Flow<'_>) {
        if let Some(g) = NatGroup::of(f, self.range) {
            *self.groups.entry(g).or_insert(0) += 1;
        }
    }

    /// Groups counted.
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    /// Whether none was.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// The `n` fullest groups, fullest first (ties: most used, then the
    /// group's order).
    pub fn top(&self, n: usize) -> Vec<NatUse> {
        let mut v: Vec<NatUse> = self
            .groups
            .iter()
            .map(|(g, u)| NatUse {
                group: *g,
                used: *u,
            })
            .collect();
        v.sort_by(|a, b| {
            b.utilization()
                .total_cmp(&a.utilization())
                .then(b.used.cmp(&a.used))
                .then(a.group.cmp(&b.group))
        });
        v.truncate(n);
        v
    }
}

impl Conntrack {
    /// Source-NAT port use of the entries `filter` selects (only entries
    /// with `SRC_NAT` count), by group; `range` is the NAT rule's port
    /// range (`None`: the kernel's automatic one). One dump, narrowed in
    /// the kernel to source-NATed entries where this kernel was proved to
    /// filter by status.
    ///
    /// # Errors
    ///
    /// [`Error::Netlink`](crate::error::Error::Netlink) when the dump fails.
    ///
    /// # Kernel probe
    ///
    /// Under the default [`Policy`](crate::probe::Policy) the status
    /// criterion's request shape may be proved first (see
    /// [`crate::probe`]).
    pub fn nat_usage(&mut self, filter: &Filter, range: Option<PortRange>) -> Result<NatTally> {
        let mut f = filter.clone();
        let s = f.status.get_or_insert_with(StatusMatch::default);
        s.set |= Status::SRC_NAT.0;
        let mut tally = NatTally::new(range);
        self.for_each(&f, |flow| {
            tally.add(flow);
            ControlFlow::Continue(())
        })?;
        Ok(tally)
    }
}

/// Source-NATed flows for tests.
#[cfg(test)]
pub(crate) mod testing {
    use ctctl_netlink::conntrack::{proto, Flow, Status, Tuple};

    /// TCP from 10.0.0.1:`sport` to `dst`:443, source-NATed to
    /// `nat`:`nat_port`.
    pub fn snat(sport: u16, nat_port: u16, dst: &str, nat: &str) -> Flow<'static> {
        Flow {
            family: 2,
            orig: Tuple {
                src: "10.0.0.1".parse().ok(),
                dst: dst.parse().ok(),
                proto: Some(proto::TCP),
                src_port: Some(sport),
                dst_port: Some(443),
                ..Tuple::default()
            },
            reply: Tuple {
                src: dst.parse().ok(),
                dst: nat.parse().ok(),
                proto: Some(proto::TCP),
                src_port: Some(443),
                dst_port: Some(nat_port),
                ..Tuple::default()
            },
            status: Some(Status::SRC_NAT | Status::CONFIRMED),
            ..Flow::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::snat as flow;
    use super::*;

    fn snat(sport: u16, nat_port: u16, dst: &str) -> Flow<'static> {
        flow(sport, nat_port, dst, "192.0.2.1")
    }

    #[test]
    fn groups_count_ports_by_nat_address_and_destination() {
        let mut t = NatTally::new(None);
        for p in 0..100 {
            t.add(&snat(40000 + p, 30000 + p, "203.0.113.7"));
        }
        for p in 0..10 {
            t.add(&snat(700 + p, 700 + p, "203.0.113.7"));
        }
        t.add(&snat(40000, 30000, "203.0.113.8"));
        let mut plain = snat(1, 1, "203.0.113.9");
        plain.status = Some(Status::CONFIRMED);
        t.add(&plain);
        assert_eq!(
            t.len(),
            3,
            "two ranges toward .7, one toward .8; none for the plain one"
        );
        let top = t.top(10);
        // 10 of 424 (600-1023) beats 100 of 64,512.
        assert_eq!(top[0].used, 10);
        assert_eq!(top[0].group.range, PortRange { lo: 600, hi: 1023 });
        assert_eq!(top[1].used, 100);
        assert_eq!(top[1].group.available(), 64_512);
        assert!((top[1].utilization() - 100.0 / 64_512.0).abs() < 1e-12);
        let narrow = {
            let mut t = NatTally::new(Some(PortRange {
                lo: 30000,
                hi: 30099,
            }));
            for p in 0..100 {
                t.add(&snat(40000 + p, 30000 + p, "203.0.113.7"));
            }
            t.top(1)[0]
        };
        assert_eq!(narrow.utilization(), 1.0);
    }
}
