//! Many selections in one pass: a [`FilterSet`] is an OR of [`Filter`]s
//! (the lines of `--filters-from`), each ANDed with a common filter (the
//! command line's). Kubernetes and CNI cleanup deletes the entries of many
//! service IPs and endpoints at once; with a set that is one dump of the
//! table, not one per target.
//!
//! Matching stays flat in the number of lines: every line that names one
//! address (a positive single host in some direction) is indexed under it,
//! so an entry is checked only against the lines indexed under its own
//! addresses and the lines that name none.

use std::collections::HashMap;
use std::net::IpAddr;

use ctctl_netlink::conntrack::{Flow, KernelFilter};

use crate::select::criteria::{Cidr, Match};
use crate::select::filter::Filter;
use crate::select::plan::Criteria;
use crate::select::plan::KernelPlan;
use crate::select::selection::Selection;

/// Where a line is indexed: the direction of the address it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Slot {
    OrigSrc,
    OrigDst,
    ReplySrc,
    ReplyDst,
    /// `--addr`: any of the four.
    Any,
}

/// An OR of filters, each ANDed with a common one.
#[derive(Debug, Clone)]
pub struct FilterSet {
    common: Filter,
    lines: Vec<Filter>,
    index: HashMap<(Slot, IpAddr), Vec<u32>>,
    /// Lines that name no single address: checked for every entry.
    unindexed: Vec<u32>,
}

impl FilterSet {
    /// The set of `lines` (OR), each ANDed with `common`.
    pub fn new(common: Filter, lines: Vec<Filter>) -> FilterSet {
        let mut index: HashMap<(Slot, IpAddr), Vec<u32>> = HashMap::new();
        let mut unindexed = Vec::new();
        for (i, l) in lines.iter().enumerate() {
            let host = |m: &Option<Match<Cidr>>| {
                m.as_ref()?.single().filter(|c| c.is_host()).map(|c| c.addr)
            };
            // The most selective criterion first: destinations name
            // services, sources and replies name clients and endpoints.
            let key = [
                (Slot::OrigDst, host(&l.dst)),
                (Slot::OrigSrc, host(&l.src)),
                (Slot::ReplySrc, host(&l.reply_src)),
                (Slot::ReplyDst, host(&l.reply_dst)),
                (Slot::Any, host(&l.addr)),
            ]
            .into_iter()
            .find_map(|(slot, ip)| Some((slot, ip?)));
            match key {
                Some(k) => index.entry(k).or_default().push(i as u32),
                None => unindexed.push(i as u32),
            }
        }
        FilterSet {
            common,
            lines,
            index,
            unindexed,
        }
    }

    /// The common filter.
    pub fn common(&self) -> &Filter {
        &self.common
    }

    /// The lines.
    pub fn lines(&self) -> &[Filter] {
        &self.lines
    }

    /// Calls `hit` with the index of every line the entry matches, in no
    /// particular order; returns whether any did.
    pub fn each_match(&self, f: &Flow<'_>, mut hit: impl FnMut(usize)) -> bool {
        if !self.common.matches(f) {
            return false;
        }
        let mut any = false;
        let mut check = |i: u32| {
            if self.lines[i as usize].matches(f) {
                any = true;
                hit(i as usize);
            }
        };
        let addrs = [
            (Slot::OrigSrc, f.orig.src),
            (Slot::OrigDst, f.orig.dst),
            (Slot::ReplySrc, f.reply.src),
            (Slot::ReplyDst, f.reply.dst),
        ];
        // An --addr line is indexed under its address in any direction:
        // look each address up there once, or an entry whose directions
        // share it (the mirror of a connection) would count twice.
        let mut any_done: [Option<IpAddr>; 4] = [None; 4];
        for (n, (slot, ip)) in addrs.into_iter().enumerate() {
            let Some(ip) = ip else { continue };
            let first = !any_done[..n].contains(&Some(ip));
            any_done[n] = Some(ip);
            for key in [(slot, ip), (Slot::Any, ip)] {
                if key.0 == Slot::Any && !first {
                    continue;
                }
                if let Some(lines) = self.index.get(&key) {
                    for &i in lines {
                        check(i);
                    }
                }
            }
        }
        for &i in &self.unindexed {
            check(i);
        }
        any
    }

    /// The filter every line shares, for the kernel to pre-select by: the
    /// common filter, plus the family and protocol when every line names
    /// the same one (a superset of the set's entries).
    pub fn prefilter(&self) -> Filter {
        let mut pre = self.common.clone();
        let same = |get: fn(&Filter) -> Option<u8>| {
            let first = get(self.lines.first()?)?;
            self.lines
                .iter()
                .all(|l| get(l) == Some(first))
                .then_some(first)
        };
        if pre.family.is_none() {
            pre.family = same(|l| l.family);
        }
        if pre.proto.is_none() {
            pre.proto = same(|l| l.proto);
        }
        pre
    }

    /// Whether some line, with the common filter, selects every entry (or
    /// every entry of a family).
    pub fn selects_everything(&self) -> bool {
        self.common.selects_everything() && self.lines.iter().any(Filter::selects_everything)
    }
}

impl Selection for FilterSet {
    #[inline]
    fn matches(&self, f: &Flow<'_>) -> bool {
        // Stops at nothing: the first line found ends the search only in
        // effect, each_match visits few lines thanks to the index.
        self.each_match(f, |_| {})
    }

    fn kernel_plan(&self, proved: Criteria) -> KernelPlan {
        if self.common.is_empty() && self.lines.len() == 1 {
            return self.lines[0].kernel_plan(proved);
        }
        let mut plan = self.prefilter().kernel_plan(proved);
        plan.exact = false;
        if plan.filters.is_empty() {
            plan.filters.push(KernelFilter::default());
        }
        plan
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::select::criteria::{PortRange, StatusMatch};
    use ctctl_netlink::conntrack::{proto, Tuple};

    fn udp(src: &str, dst: &str, reply_src: &str, dport: u16) -> Flow<'static> {
        let t = |s: &str, d: &str, sp, dp| Tuple {
            src: s.parse().ok(),
            dst: d.parse().ok(),
            proto: Some(proto::UDP),
            src_port: Some(sp),
            dst_port: Some(dp),
            ..Tuple::default()
        };
        Flow {
            family: ctctl_netlink::header::AF_INET,
            orig: t(src, dst, 1000, dport),
            reply: t(reply_src, src, dport, 1000),
            ..Flow::default()
        }
    }

    fn line(f: Filter) -> Filter {
        f.normalize().unwrap()
    }

    #[test]
    fn an_addr_line_counts_an_entry_once() {
        // The mirror of a connection names 10.0.0.1 as original source and
        // reply destination: one entry, one hit.
        let set = FilterSet::new(
            Filter::default(),
            vec![line(Filter {
                addr: addrs("10.0.0.1"),
                ..Filter::default()
            })],
        );
        let mut hits = 0;
        assert!(set.each_match(&udp("10.0.0.1", "10.0.0.2", "10.0.0.2", 53), |_| hits += 1));
        assert_eq!(hits, 1);
    }

    #[test]
    fn a_zero_prefix_of_each_family_selects_everything() {
        let f = line(Filter {
            src: addrs("0.0.0.0/0,::/0"),
            ..Filter::default()
        });
        assert!(f.selects_everything(), "{f:?}");
        let f = line(Filter {
            src: addrs("0.0.0.0/0,2001:db8::1"),
            ..Filter::default()
        });
        assert!(!f.selects_everything());
    }

    fn addrs(s: &str) -> Option<Match<Cidr>> {
        Some(crate::select::values::parse_addrs(s).unwrap())
    }

    #[test]
    fn or_of_lines_and_common_filter() {
        let set = FilterSet::new(
            line(Filter {
                proto: Some(proto::UDP),
                ..Filter::default()
            }),
            vec![
                line(Filter {
                    dst: addrs("10.96.0.10"),
                    ..Filter::default()
                }),
                line(Filter {
                    dst: addrs("10.96.0.11"),
                    reply_src: addrs("!10.244.1.5,10.244.1.6"),
                    ..Filter::default()
                }),
                line(Filter {
                    dport: Some(Match::one(PortRange {
                        lo: 30000,
                        hi: 32767,
                    })),
                    ..Filter::default()
                }),
            ],
        );
        let yes = [
            udp("10.0.0.1", "10.96.0.10", "10.244.9.9", 53),
            udp("10.0.0.1", "10.96.0.11", "10.244.9.9", 53),
            udp("10.0.0.1", "10.0.0.2", "10.0.0.2", 31000),
        ];
        let no = [
            udp("10.0.0.1", "10.96.0.11", "10.244.1.5", 53),
            udp("10.0.0.1", "10.96.0.12", "10.96.0.12", 53),
            udp("10.0.0.1", "10.0.0.2", "10.0.0.2", 29999),
        ];
        for f in &yes {
            assert!(set.matches(f), "{f:?}");
        }
        for f in &no {
            assert!(!set.matches(f), "{f:?}");
        }
        let mut tcp = yes[0].clone();
        tcp.orig.proto = Some(proto::TCP);
        assert!(
            !set.matches(&tcp),
            "the common filter applies to every line"
        );
        let mut hits = Vec::new();
        set.each_match(&yes[2], |i| hits.push(i));
        assert_eq!(hits, vec![2]);
        assert_eq!(set.unindexed.len(), 1);
    }

    #[test]
    fn lines_are_indexed_so_many_lines_stay_cheap() {
        let lines: Vec<Filter> = (0..10_000u32)
            .map(|i| {
                line(Filter {
                    proto: Some(proto::UDP),
                    dst: Some(Match::one(Cidr {
                        addr: IpAddr::V4((0x0a60_0000 + i).into()),
                        prefix: 32,
                    })),
                    ..Filter::default()
                })
            })
            .collect();
        let set = FilterSet::new(Filter::default(), lines);
        assert!(set.unindexed.is_empty());
        let f = udp("10.0.0.1", "10.96.0.7", "10.96.0.7", 53);
        let mut checked = Vec::new();
        assert!(set.each_match(&f, |i| checked.push(i)));
        assert_eq!(checked, vec![7]);
        // The shared family and protocol go to the kernel as a pre-filter.
        let pre = set.prefilter();
        assert_eq!(pre.proto, Some(proto::UDP));
        assert_eq!(pre.family, Some(ctctl_netlink::header::AF_INET));
        assert!(!set.kernel_plan(Criteria::ALL).exact);
    }

    #[test]
    fn a_line_without_criteria_selects_everything() {
        let set = FilterSet::new(
            Filter::default(),
            vec![
                line(Filter {
                    status: StatusMatch::parse("ASSURED").ok(),
                    ..Filter::default()
                }),
                Filter::default(),
            ],
        );
        assert!(set.selects_everything());
    }
}
