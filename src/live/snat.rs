//! Source-NAT port use kept from events (see [`crate::nat`] for why and
//! how the kernel picks ports): entries per group (protocol, NAT address,
//! destination, port range), and per NAT address the fullest group.
//!
//! A group is a 64-bit key in a sharded tally: 16 bits name the
//! (protocol, NAT address) pair, 2 the range, 46 a hash of the destination
//! and its port. Memory is one counter per group (about 16 bytes), never
//! per entry. Two destinations of one NAT address whose 46-bit hashes meet
//! share a counter (about one pair in 2^46 / groups^2: at a million
//! destinations of one address, one chance in 140): the utilisation then
//! reads high, never low.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::net::IpAddr;

use ctctl_netlink::conntrack::Flow;

use super::counts::Tally;
use crate::nat::{auto_range, ports, NatGroup};
use crate::select::criteria::PortRange;

/// NAT addresses told apart (more go into one "other" id).
const MAX_IDS: usize = 0xfffe;

/// An original source port of each of the kernel's automatic ranges, by
/// class (1, 2, 3).
const CLASS_PORT: [u16; 3] = [1024, 512, 0];

/// Per NAT address: its fullest group and its entries.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SnatUse {
    /// Layer-4 protocol.
    pub proto: u8,
    /// The NAT address (`None`: the addresses beyond those told apart).
    pub snat: Option<IpAddr>,
    /// The highest utilisation over its destinations, 0 to 1.
    pub utilization: f64,
    /// Its source-NATed entries.
    pub entries: u64,
}

/// The counts.
#[derive(Debug, Clone)]
pub struct SnatCounts {
    range: Option<PortRange>,
    ids: HashMap<(u8, IpAddr), u16>,
    names: Vec<(u8, IpAddr)>,
    pub(super) groups: Tally<u64>,
    hasher: std::collections::hash_map::RandomState,
}

impl SnatCounts {
    /// Counting with `range` as the NAT rules' port range (`None`: the
    /// kernel's automatic ranges).
    pub fn new(range: Option<PortRange>) -> SnatCounts {
        SnatCounts {
            range,
            ids: HashMap::new(),
            names: Vec::new(),
            groups: Tally::new(),
            hasher: Default::default(),
        }
    }

    /// The range class of a group: 0 the rules' range, 1 to 3 the
    /// kernel's automatic ranges (see [`CLASS_PORT`]).
    fn class(&self, g: &NatGroup) -> u64 {
        if self.range.is_some() {
            return 0;
        }
        CLASS_PORT
            .iter()
            .position(|p| auto_range(*p) == g.range)
            .map_or(3, |i| i as u64 + 1)
    }

    fn key(&mut self, f: &Flow<'_>) -> Option<u64> {
        let g = NatGroup::of(f, self.range)?;
        // Addresses beyond MAX_IDS share the last id, and are not kept.
        let id = match self.ids.get(&(g.proto, g.snat)) {
            Some(id) => *id,
            None if self.names.len() < MAX_IDS => {
                let id = self.names.len() as u16;
                self.ids.insert((g.proto, g.snat), id);
                self.names.push((g.proto, g.snat));
                id
            }
            None => MAX_IDS as u16,
        };
        let h = self.hasher.hash_one((g.dst, g.dport)) & ((1 << 46) - 1);
        Some(u64::from(id) << 48 | self.class(&g) << 46 | h)
    }

    /// Counts a new entry.
    pub fn add(&mut self, f: &Flow<'_>) {
        if let Some(k) = self.key(f) {
            self.groups.add(k);
        }
    }

    /// Forgets a destroyed entry.
    pub fn sub(&mut self, f: &Flow<'_>) {
        if let Some(k) = self.key(f) {
            self.groups.sub(k);
        }
    }

    /// Ports available to a group of `class`.
    fn available(&self, class: u64) -> f64 {
        let r = match (class, self.range) {
            (0, Some(r)) => r,
            (c, _) => auto_range(CLASS_PORT[(c.max(1) - 1) as usize]),
        };
        ports(r) as f64
    }

    /// Folds shard `i` into `acc` (id to fullest utilisation and entries).
    pub fn rank_shard(&self, i: usize, acc: &mut HashMap<u16, (f64, u64)>) {
        for (k, n) in self.groups.shards[i].iter() {
            let id = (k >> 48) as u16;
            let util = f64::from(n) / self.available((k >> 46) & 3);
            let e = acc.entry(id).or_insert((0.0, 0));
            e.0 = e.0.max(util);
            e.1 += u64::from(n);
        }
    }

    /// The `n` fullest NAT addresses, and the rest as one (`snat: None`)
    /// per protocol.
    pub fn finish(&self, acc: HashMap<u16, (f64, u64)>, n: usize) -> Vec<SnatUse> {
        let mut all: Vec<SnatUse> = acc
            .into_iter()
            .filter_map(|(id, (utilization, entries))| {
                let (proto, snat) = *self.names.get(usize::from(id))?;
                Some(SnatUse {
                    proto,
                    snat: Some(snat),
                    utilization,
                    entries,
                })
            })
            .collect();
        all.sort_by(|a, b| {
            b.utilization
                .total_cmp(&a.utilization)
                .then(b.entries.cmp(&a.entries))
                .then(a.snat.cmp(&b.snat))
        });
        if all.len() > n {
            let rest = all.split_off(n);
            let mut other: HashMap<u8, SnatUse> = HashMap::new();
            for u in rest {
                let o = other.entry(u.proto).or_insert(SnatUse {
                    proto: u.proto,
                    snat: None,
                    utilization: 0.0,
                    entries: 0,
                });
                o.utilization = o.utilization.max(u.utilization);
                o.entries += u.entries;
            }
            let mut other: Vec<SnatUse> = other.into_values().collect();
            other.sort_by_key(|u| u.proto);
            all.extend(other);
        }
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::counts::SHARDS;

    fn snat(i: u16, dst: &str, nat: &str) -> Flow<'static> {
        crate::nat::testing::snat(40000 + i, 2000 + i, dst, nat)
    }

    fn rank(c: &SnatCounts, n: usize) -> Vec<SnatUse> {
        let mut acc = HashMap::new();
        for i in 0..SHARDS {
            c.rank_shard(i, &mut acc);
        }
        c.finish(acc, n)
    }

    #[test]
    fn the_fullest_destination_of_each_nat_address() {
        let mut c = SnatCounts::new(None);
        for i in 0..5200 {
            c.add(&snat(i, "203.0.113.7", "192.0.2.1"));
        }
        for i in 0..100 {
            c.add(&snat(i, "203.0.113.8", "192.0.2.1"));
            c.add(&snat(i, "203.0.113.8", "192.0.2.2"));
        }
        c.sub(&snat(0, "203.0.113.8", "192.0.2.2"));
        let r = rank(&c, 1);
        assert_eq!(r[0].snat, "192.0.2.1".parse().ok());
        assert_eq!(r[0].entries, 5300);
        assert!((r[0].utilization - 5200.0 / 64512.0).abs() < 1e-9);
        assert_eq!(r[1].snat, None, "the rest");
        assert_eq!(r[1].entries, 99);
        let narrow = {
            let mut c = SnatCounts::new(Some(PortRange { lo: 2000, hi: 2009 }));
            for i in 0..10 {
                c.add(&snat(i, "203.0.113.7", "192.0.2.1"));
            }
            rank(&c, 5)
        };
        assert_eq!(narrow[0].utilization, 1.0);
    }
}
