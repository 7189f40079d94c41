//! A [`Filter`]: the criteria of one selection, checked against each
//! other, matched against an entry, and split into what the kernel can
//! apply ([`Filter::kernel_plan`]).
//!
//! Everything the running kernel was proved to filter correctly may be sent
//! to it; every criterion is also matched again here while streaming.

use std::net::IpAddr;

use ctctl_netlink::conntrack::{proto, Flow, KernelFilter, Tuple};
use ctctl_netlink::header::{AF_INET, AF_INET6};

use super::criteria::{
    AgeMatch, Cidr, FilterError, IdleMatch, Match, NatMatch, PortRange, StateMatch, StatusMatch,
};
use super::plan::{Criteria, KernelPlan};
use crate::flow::{family_name, has_ports, orig_zone, proto_name, reply_zone, zone_id};

/// The criteria of one selection. All set criteria must match.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    /// `-f`: `AF_INET` or `AF_INET6`.
    pub family: Option<u8>,
    /// `-p`: layer-4 protocol number.
    pub proto: Option<u8>,
    /// `-s`: original source addresses or prefixes.
    pub src: Option<Match<Cidr>>,
    /// `-d`: original destination.
    pub dst: Option<Match<Cidr>>,
    /// `--reply-src`.
    pub reply_src: Option<Match<Cidr>>,
    /// `--reply-dst`.
    pub reply_dst: Option<Match<Cidr>>,
    /// `--addr`: any of the four addresses, either direction.
    pub addr: Option<Match<Cidr>>,
    /// `--sport`: original source ports or ranges.
    pub sport: Option<Match<PortRange>>,
    /// `--dport`: original destination port.
    pub dport: Option<Match<PortRange>>,
    /// `--reply-port-src`: reply source port.
    pub reply_sport: Option<Match<PortRange>>,
    /// `--reply-port-dst`: reply destination port.
    pub reply_dport: Option<Match<PortRange>>,
    /// `--icmp-type`, `--icmp-code`, `--icmp-id` (original direction).
    pub icmp_type: Option<u8>,
    /// `--icmp-code`.
    pub icmp_code: Option<u8>,
    /// `--icmp-id`.
    pub icmp_id: Option<u16>,
    /// `--state`.
    pub state: Option<StateMatch>,
    /// `--status`.
    pub status: Option<StatusMatch>,
    /// `--mark VALUE[/MASK]`: `mark & MASK == VALUE` for one of them.
    pub mark: Option<Match<(u32, u32)>>,
    /// `--zone`: the entry's zone, whatever its direction (the kernel's
    /// `nf_ct_zone_equal_any`).
    pub zone: Option<Match<u16>>,
    /// `--orig-zone`: the zone of the original direction (an entry whose
    /// zone applies to the reply direction only is in zone 0 here).
    pub orig_zone: Option<Match<u16>>,
    /// `--reply-zone`: the zone of the reply direction.
    pub reply_zone: Option<Match<u16>>,
    /// `--src-nat`, `--dst-nat`, `--any-nat`.
    pub nat: NatMatch,
    /// `--timeout-below SECS`: remaining timeout strictly below.
    pub timeout_below: Option<u32>,
    /// `--timeout-above SECS`: remaining timeout strictly above.
    pub timeout_above: Option<u32>,
    /// `--id`: the kernel's entry id.
    pub id: Option<u32>,
    /// `--idle-over`: idle (no packet) for longer than this.
    pub idle: Option<IdleMatch>,
    /// `--older-than`: started longer ago than this (needs timestamps).
    pub older_than: Option<AgeMatch>,
    /// `-l`/`--label`: every one of these label bits is set.
    pub labels: Option<Vec<u32>>,
}

impl Filter {
    /// A filter that selects everything.
    pub fn all() -> Filter {
        Filter::default()
    }

    /// Whether no criterion is set.
    pub fn is_empty(&self) -> bool {
        *self == Filter::default()
    }

    /// Checks the criteria against each other: a family that contradicts an
    /// address, ports without a port-carrying protocol, a state of another
    /// protocol. Fills in what is implied (the protocol of a state, the
    /// family of an address).
    ///
    /// # Errors
    ///
    /// [`FilterError`](crate::error::FilterError) naming the field when
    /// criteria contradict each other or cannot select anything as given (a
    /// state for a protocol without states, mixed families).
    pub fn normalize(mut self) -> Result<Filter, FilterError> {
        if let Some(st) = self.state {
            match self.proto {
                None => self.proto = Some(st.proto),
                Some(p) if p != st.proto => {
                    return Err(FilterError::new(
                        "state",
                        "",
                        format!(
                            "states of {} cannot match -p {}",
                            proto_name(st.proto),
                            proto_name(p)
                        ),
                    ))
                }
                _ => {}
            }
        }
        if self.nat.any.is_some() && (self.nat.src.is_some() || self.nat.dst.is_some()) {
            return Err(FilterError::new(
                "nat",
                "",
                "cannot be combined with --src-nat or --dst-nat",
            ));
        }
        // A positive address list of one family implies that family (a
        // negated one does not: `-s !10.0.0.1` keeps IPv6 entries).
        for (flag, c) in [
            ("src", &self.src),
            ("dst", &self.dst),
            ("reply_src", &self.reply_src),
            ("reply_dst", &self.reply_dst),
            ("addr", &self.addr),
        ] {
            let Some(c) = c else { continue };
            if let Some(f) = self.family {
                if let Some(bad) = c.values.iter().find(|v| v.family() != f) {
                    return Err(FilterError::new(
                        flag,
                        &bad.to_string(),
                        format!("address is not {}", family_name(f)),
                    ));
                }
            }
            // An empty list implies nothing (it selects nothing, or, negated,
            // everything: a service with no endpoints).
            if let Some(first) = c.values.first().map(Cidr::family) {
                if !c.negated && c.values.iter().all(|v| v.family() == first) {
                    self.family = Some(first);
                }
            }
        }
        for (flag, ports) in [
            ("sport", &self.sport),
            ("dport", &self.dport),
            ("reply_sport", &self.reply_sport),
            ("reply_dport", &self.reply_dport),
        ] {
            if let (Some(m), Some(p)) = (ports, self.proto) {
                if !has_ports(p) {
                    return Err(FilterError::new(
                        flag,
                        &m.to_string(),
                        format!("{} has no ports", proto_name(p)),
                    ));
                }
            }
        }
        // Criteria that hold for every entry of the family select nothing
        // narrower: drop them, so that `--mark 0/0` or `-s 0.0.0.0/0` count
        // as unfiltered (the family they imply stays).
        if self
            .mark
            .as_ref()
            .is_some_and(|m| !m.negated && m.values.iter().any(|(_, mask)| *mask == 0))
        {
            self.mark = None;
        }
        let family = self.family;
        for c in [
            &mut self.src,
            &mut self.dst,
            &mut self.reply_src,
            &mut self.reply_dst,
            &mut self.addr,
        ] {
            if c.as_ref().is_some_and(|m| m.selects_all(family)) {
                *c = None;
            }
        }
        if let (Some(b), Some(a)) = (self.timeout_below, self.timeout_above) {
            if b <= a.saturating_add(1) {
                return Err(FilterError::new(
                    "timeout_below",
                    &b.to_string(),
                    format!("nothing can be below {b} and above {a}"),
                ));
            }
        }
        Ok(self)
    }

    /// The userspace match: every criterion.
    #[inline]
    pub fn matches(&self, f: &Flow<'_>) -> bool {
        if let Some(fam) = self.family {
            if f.family != fam {
                return false;
            }
        }
        if let Some(p) = self.proto {
            if f.orig.proto != Some(p) {
                return false;
            }
        }
        if let Some(st) = &self.state {
            if !st.matches(f) {
                return false;
            }
        }
        if !addr_match(&self.src, &f.orig.src)
            || !addr_match(&self.dst, &f.orig.dst)
            || !addr_match(&self.reply_src, &f.reply.src)
            || !addr_match(&self.reply_dst, &f.reply.dst)
        {
            return false;
        }
        if let Some(m) = &self.addr {
            let ips = [f.orig.src, f.orig.dst, f.reply.src, f.reply.dst];
            if !m.test(|c| ips.iter().flatten().any(|ip| c.contains(ip))) {
                return false;
            }
        }
        if !port_match(&self.sport, f.orig.src_port)
            || !port_match(&self.dport, f.orig.dst_port)
            || !port_match(&self.reply_sport, f.reply.src_port)
            || !port_match(&self.reply_dport, f.reply.dst_port)
        {
            return false;
        }
        if self.icmp_type.is_some() && f.orig.icmp_type != self.icmp_type {
            return false;
        }
        if self.icmp_code.is_some() && f.orig.icmp_code != self.icmp_code {
            return false;
        }
        if self.icmp_id.is_some() && f.orig.icmp_id != self.icmp_id {
            return false;
        }
        if let Some(sm) = &self.status {
            if !sm.matches(f.status.map_or(0, |s| s.0)) {
                return false;
            }
        }
        if let Some(m) = &self.mark {
            let mark = f.mark.unwrap_or(0);
            if !m.test(|(value, mask)| mark & mask == *value) {
                return false;
            }
        }
        for (m, z) in [
            (&self.zone, zone_id(f)),
            (&self.orig_zone, orig_zone(f)),
            (&self.reply_zone, reply_zone(f)),
        ] {
            if m.as_ref().is_some_and(|m| !m.test(|v| *v == z)) {
                return false;
            }
        }
        if !self.nat.is_empty() && !self.nat.matches(f) {
            return false;
        }
        if let Some(b) = self.timeout_below {
            if f.timeout.is_none_or(|t| t >= b) {
                return false;
            }
        }
        if let Some(a) = self.timeout_above {
            if f.timeout.is_none_or(|t| t <= a) {
                return false;
            }
        }
        if self.id.is_some() && f.id != self.id {
            return false;
        }
        if let Some(idle) = &self.idle {
            if idle.timeouts.idle(f).is_none_or(|i| i <= idle.over) {
                return false;
            }
        }
        if let Some(want) = &self.labels {
            let set: Vec<u32> = f
                .labels
                .as_ref()
                .map(|l| l.bits().collect())
                .unwrap_or_default();
            if !want.iter().all(|b| set.contains(b)) {
                return false;
            }
        }
        if let Some(age) = &self.older_than {
            let old = f.timestamp.is_some_and(|t| {
                age.now_ns.saturating_sub(t.start) > age.secs.saturating_mul(1_000_000_000)
            });
            if !old {
                return false;
            }
        }
        true
    }

    /// The original tuple when the filter names exactly one entry by what
    /// the kernel looks entries up by: protocol, both full addresses, both
    /// ports (or the ICMP type, code and id), and `--orig-zone` (the lookup
    /// zone of `ctnetlink_del_conntrack`), with nothing else but `--id`.
    ///
    /// Without `--orig-zone` there is no single entry: a filter means every
    /// zone (as `list` shows them), and a lookup would find zone 0 only.
    /// `--zone Z` is no lookup zone either: the kernel's lookup in zone Z
    /// misses an entry whose zone Z applies to the reply direction only.
    pub fn single_tuple(&self) -> Option<Tuple> {
        self.orig_zone.as_ref()?.single()?;
        let p = self.proto?;
        let host =
            |m: &Option<Match<Cidr>>| m.as_ref()?.single().filter(|c| c.is_host()).map(|c| c.addr);
        let port = |m: &Option<Match<PortRange>>| m.as_ref()?.single()?.port();
        let src = host(&self.src)?;
        let dst = host(&self.dst)?;
        let mut t = Tuple {
            src: Some(src),
            dst: Some(dst),
            proto: Some(p),
            ..Tuple::default()
        };
        if has_ports(p) {
            t.src_port = Some(port(&self.sport)?);
            t.dst_port = Some(port(&self.dport)?);
        } else if p == proto::ICMP || p == proto::ICMPV6 {
            t.icmp_type = Some(self.icmp_type?);
            t.icmp_code = Some(self.icmp_code?);
            t.icmp_id = Some(self.icmp_id?);
        } else {
            return None;
        }
        let rest = Filter {
            family: None,
            proto: None,
            src: None,
            dst: None,
            sport: None,
            dport: None,
            icmp_type: None,
            icmp_code: None,
            icmp_id: None,
            orig_zone: None,
            id: None,
            ..self.clone()
        };
        rest.is_empty().then_some(t)
    }

    /// Whether the filter selects every entry, or every entry of a family:
    /// no criterion is left but the family once the ones that hold for
    /// everything (`--mark V/0`, a `/0` prefix) are dropped, which
    /// [`Filter::normalize`] does. Destructive commands want `--all` for it.
    pub fn selects_everything(&self) -> bool {
        Filter {
            family: None,
            ..self.clone()
        }
        .is_empty()
    }

    /// What of this filter the kernel can be asked to select, given the
    /// criteria the running kernel was proved to apply correctly
    /// ([`crate::probe::Verdict`]): the requests to send (one per family
    /// when tuple fields are compared without a family, since the kernel
    /// needs one), and whether they select exactly this filter's entries
    /// (every criterion went to the kernel) or a superset to match again
    /// in userspace.
    pub fn kernel_plan(&self, proved: Criteria) -> KernelPlan {
        let has = |c: Criteria| proved.contains(c);
        let family_ok = has(Criteria::FAMILY);
        // Tuple fields need a family in CTA_FILTER (ctnetlink_alloc_filter).
        let tuple_ok = family_ok;
        let addr = |m: &Option<Match<Cidr>>| -> Option<IpAddr> {
            let c = m.as_ref()?.single().filter(|c| c.is_host())?;
            let class = if c.addr.is_ipv4() {
                Criteria::IPV4
            } else {
                Criteria::IPV6
            };
            (tuple_ok && has(class)).then_some(c.addr)
        };
        let proto = self.proto.filter(|_| tuple_ok && has(Criteria::PROTO));
        let ports = proto.is_some() && self.kernel_ports() && has(Criteria::PORTS);
        let icmp = proto.is_some()
            && match self.proto {
                Some(proto::ICMP) => has(Criteria::ICMP),
                Some(proto::ICMPV6) => has(Criteria::ICMPV6),
                _ => false,
            };
        let port = |m: &Option<Match<PortRange>>| m.as_ref()?.single()?.port().filter(|_| ports);
        let orig = Tuple {
            src: addr(&self.src),
            dst: addr(&self.dst),
            proto,
            src_port: port(&self.sport),
            dst_port: port(&self.dport),
            icmp_type: self.icmp_type.filter(|_| icmp),
            icmp_code: self.icmp_code.filter(|_| icmp),
            icmp_id: self.icmp_id.filter(|_| icmp),
            zone: None,
        };
        let reply = Tuple {
            src: addr(&self.reply_src),
            dst: addr(&self.reply_dst),
            ..Tuple::default()
        };
        let base = KernelFilter {
            family: self.family.filter(|_| family_ok).unwrap_or(0),
            orig,
            reply,
            mark: self
                .mark
                .as_ref()
                .and_then(Match::single)
                .copied()
                .filter(|_| has(Criteria::MARK)),
            status: self
                .status
                .filter(|_| has(Criteria::STATUS))
                .map(|s| (s.set, s.set | s.clear)),
            zone: self
                .zone
                .as_ref()
                .and_then(Match::single)
                .copied()
                .filter(|_| has(Criteria::ZONE)),
        };
        // Exact when nothing of the filter was left out of the request.
        let sent = Filter {
            family: (base.family != 0).then_some(base.family),
            proto: base.orig.proto,
            src: self.src.clone().filter(|_| base.orig.src.is_some()),
            dst: self.dst.clone().filter(|_| base.orig.dst.is_some()),
            reply_src: self.reply_src.clone().filter(|_| base.reply.src.is_some()),
            reply_dst: self.reply_dst.clone().filter(|_| base.reply.dst.is_some()),
            sport: base.orig.src_port.map(|p| Match::one(PortRange::one(p))),
            dport: base.orig.dst_port.map(|p| Match::one(PortRange::one(p))),
            icmp_type: base.orig.icmp_type,
            icmp_code: base.orig.icmp_code,
            icmp_id: base.orig.icmp_id,
            status: self.status.filter(|_| base.status.is_some()),
            mark: base.mark.map(Match::one),
            zone: base.zone.map(Match::one),
            ..Filter::default()
        };
        let exact = sent == *self;
        let filters = if base.family == 0 && base.uses_tuple_filter() {
            [AF_INET, AF_INET6]
                .into_iter()
                .map(|family| KernelFilter { family, ..base })
                .collect()
        } else {
            vec![base]
        };
        KernelPlan { filters, exact }
    }

    /// Whether the kernel compares ports for this protocol
    /// (`ctnetlink_filter_match_tuple`: TCP and UDP only).
    fn kernel_ports(&self) -> bool {
        matches!(self.proto, Some(proto::TCP) | Some(proto::UDP))
    }

    /// The criteria that never change during an entry's life (family,
    /// protocol, addresses, ports, ICMP fields, zones, id): what still
    /// selects an entry after its state, status, mark or timeout changed.
    pub fn identity(&self) -> Filter {
        Filter {
            family: self.family,
            proto: self.proto,
            src: self.src.clone(),
            dst: self.dst.clone(),
            reply_src: self.reply_src.clone(),
            reply_dst: self.reply_dst.clone(),
            addr: self.addr.clone(),
            sport: self.sport.clone(),
            dport: self.dport.clone(),
            reply_sport: self.reply_sport.clone(),
            reply_dport: self.reply_dport.clone(),
            icmp_type: self.icmp_type,
            icmp_code: self.icmp_code,
            icmp_id: self.icmp_id,
            zone: self.zone.clone(),
            orig_zone: self.orig_zone.clone(),
            reply_zone: self.reply_zone.clone(),
            id: self.id,
            ..Filter::default()
        }
    }
}

#[inline]
fn addr_match(m: &Option<Match<Cidr>>, ip: &Option<IpAddr>) -> bool {
    match (m, ip) {
        (None, _) => true,
        (Some(m), Some(ip)) => m.test(|c| c.contains(ip)),
        (Some(_), None) => false,
    }
}

/// A port criterion holds only for entries that have that port.
#[inline]
fn port_match(m: &Option<Match<PortRange>>, port: Option<u16>) -> bool {
    match (m, port) {
        (None, _) => true,
        (Some(m), Some(p)) => m.test(|r| r.contains(p)),
        (Some(_), None) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::select::values::*;
    use ctctl_netlink::conntrack::Status;
    use ctctl_netlink::conntrack::{ProtoInfo, TcpInfo};

    fn tcp_flow(state: u8) -> Flow<'static> {
        Flow {
            family: AF_INET,
            orig: Tuple {
                src: Some("10.0.0.1".parse().unwrap()),
                dst: Some("10.0.0.2".parse().unwrap()),
                proto: Some(proto::TCP),
                src_port: Some(40000),
                dst_port: Some(80),
                ..Tuple::default()
            },
            reply: Tuple {
                src: Some("10.0.0.2".parse().unwrap()),
                dst: Some("10.0.0.1".parse().unwrap()),
                proto: Some(proto::TCP),
                src_port: Some(80),
                dst_port: Some(40000),
                ..Tuple::default()
            },
            status: Some(Status::SEEN_REPLY | Status::ASSURED),
            timeout: Some(100),
            mark: Some(0x12),
            proto_info: Some(ProtoInfo::Tcp(TcpInfo {
                state: Some(state),
                ..TcpInfo::default()
            })),
            ..Flow::default()
        }
    }

    #[test]
    fn cidr() {
        let c = Cidr::parse("10.0.0.0/8").unwrap();
        assert!(c.contains(&"10.200.1.1".parse().unwrap()));
        assert!(!c.contains(&"11.0.0.1".parse().unwrap()));
        assert!(!c.contains(&"::1".parse().unwrap()));
        assert!(Cidr::parse("0.0.0.0/0")
            .unwrap()
            .contains(&"1.2.3.4".parse().unwrap()));
        assert!(Cidr::parse("2001:db8::/32")
            .unwrap()
            .contains(&"2001:db8:1::5".parse().unwrap()));
        assert!(Cidr::parse("10.0.0.1").unwrap().is_host());
        assert!(Cidr::parse("10.0.0.1/33").is_err());
        assert!(Cidr::parse("10.0.0.300").is_err());
    }

    #[test]
    fn state_implies_tcp() {
        let s = StateMatch::parse("TIME_WAIT,close_wait", None).unwrap();
        assert_eq!(s.proto, proto::TCP);
        let f = Filter {
            state: Some(s),
            ..Filter::default()
        }
        .normalize()
        .unwrap();
        assert_eq!(f.proto, Some(proto::TCP));
        assert!(f.matches(&tcp_flow(7)));
        assert!(f.matches(&tcp_flow(5)));
        assert!(!f.matches(&tcp_flow(3)));
        assert!(StateMatch::parse("COOKIE_WAIT", None).unwrap().proto == proto::SCTP);
        assert!(StateMatch::parse("BOGUS", None).is_err());
        assert!(StateMatch::parse("ESTABLISHED", Some(proto::UDP)).is_err());
    }

    #[test]
    fn status_and_mark() {
        let sm = StatusMatch::parse("ASSURED,!FIXED_TIMEOUT").unwrap();
        assert!(sm.matches((Status::ASSURED | Status::SEEN_REPLY).0));
        assert!(!sm.matches((Status::ASSURED | Status::FIXED_TIMEOUT).0));
        let un = StatusMatch::parse("UNREPLIED").unwrap();
        assert!(un.matches(0));
        assert!(!un.matches(Status::SEEN_REPLY.0));
        assert!(StatusMatch::parse("ASSURED,!ASSURED").is_err());
        assert_eq!(parse_mark("0x10/0xf0").unwrap(), (0x10, 0xf0));
        assert_eq!(parse_mark("7").unwrap(), (7, u32::MAX));
        let f = Filter {
            mark: Some(Match::one((0x10, 0xf0))),
            ..Filter::default()
        };
        assert!(f.matches(&tcp_flow(3)));
    }

    #[test]
    fn kernel_plan_splits_by_family_and_follows_the_proof() {
        let f = Filter {
            proto: Some(proto::UDP),
            dport: Some(Match::one(PortRange::one(53))),
            ..Filter::default()
        };
        let plan = f.kernel_plan(Criteria::ALL);
        assert_eq!(plan.filters.len(), 2);
        assert_eq!(plan.filters[0].family, AF_INET);
        assert_eq!(plan.filters[1].family, AF_INET6);
        assert_eq!(plan.filters[0].orig.dst_port, Some(53));
        assert!(plan.exact);
        // Ports not proved: the protocol still goes, the port is matched here.
        let plan = f.kernel_plan(Criteria::ALL.without(Criteria::PORTS));
        assert_eq!(plan.filters[0].orig.dst_port, None);
        assert_eq!(plan.filters[0].orig.proto, Some(proto::UDP));
        assert!(!plan.exact);
        // Nothing proved: nothing goes.
        let plan = f.kernel_plan(Criteria::NONE);
        assert!(plan.filters.iter().all(KernelFilter::is_empty));
        assert!(!plan.exact);

        let f = Filter {
            src: Some(Match::one(Cidr::parse("10.0.0.0/8").unwrap())),
            ..Filter::default()
        }
        .normalize()
        .unwrap();
        let plan = f.kernel_plan(Criteria::ALL);
        assert_eq!(plan.filters.len(), 1);
        assert_eq!(plan.filters[0].family, AF_INET);
        assert_eq!(
            plan.filters[0].orig.src, None,
            "prefixes are matched in userspace"
        );
        assert!(!plan.exact);

        let f = Filter {
            mark: Some(Match::one((1, 1))),
            ..Filter::default()
        };
        let plan = f.kernel_plan(Criteria::ALL);
        assert_eq!(plan.filters.len(), 1);
        assert_eq!(plan.filters[0].family, 0);
        assert!(plan.exact);
        // Directional zones are not sent: never exact.
        let f = Filter {
            orig_zone: Some(Match::one(1)),
            ..Filter::default()
        };
        assert!(!f.kernel_plan(Criteria::ALL).exact);
    }

    #[test]
    fn zones_follow_the_kernel() {
        let mut both = tcp_flow(3);
        both.zone = Some(5);
        let mut orig_only = tcp_flow(3);
        orig_only.orig.zone = Some(5);
        let mut reply_only = tcp_flow(3);
        reply_only.reply.zone = Some(5);
        let none = tcp_flow(3);
        let zone = |z| Filter {
            zone: Some(Match::one(z)),
            ..Filter::default()
        };
        for f in [&both, &orig_only, &reply_only] {
            assert!(zone(5).matches(f), "{f:?} is in zone 5");
            assert!(!zone(0).matches(f), "{f:?} is not in zone 0");
        }
        assert!(zone(0).matches(&none));
        let oz = |z| Filter {
            orig_zone: Some(Match::one(z)),
            ..Filter::default()
        };
        let rz = |z| Filter {
            reply_zone: Some(Match::one(z)),
            ..Filter::default()
        };
        assert!(oz(5).matches(&both) && rz(5).matches(&both));
        assert!(oz(5).matches(&orig_only) && rz(0).matches(&orig_only));
        assert!(oz(0).matches(&reply_only) && rz(5).matches(&reply_only));
    }

    #[test]
    fn trivial_criteria_select_everything() {
        let f = Filter {
            mark: Some(Match::one((0, 0))),
            ..Filter::default()
        }
        .normalize()
        .unwrap();
        assert!(f.is_empty() && f.selects_everything());
        let f = Filter {
            src: Some(Match::one(Cidr::parse("0.0.0.0/0").unwrap())),
            ..Filter::default()
        }
        .normalize()
        .unwrap();
        assert_eq!(
            f.family,
            Some(AF_INET),
            "a /0 prefix still names its family"
        );
        assert!(f.selects_everything());
        let f = Filter {
            dst: Some(Match::one(Cidr::parse("::/0").unwrap())),
            family: Some(AF_INET6),
            ..Filter::default()
        }
        .normalize()
        .unwrap();
        assert!(f.selects_everything());
        let f = Filter {
            mark: Some(Match::one((1, 1))),
            ..Filter::default()
        }
        .normalize()
        .unwrap();
        assert!(!f.selects_everything());
    }

    #[test]
    fn single_tuple_needs_the_lookup_zone() {
        let mut f = Filter {
            proto: Some(proto::TCP),
            src: Some(Match::one(Cidr::parse("10.0.0.1").unwrap())),
            dst: Some(Match::one(Cidr::parse("10.0.0.2").unwrap())),
            sport: Some(Match::one(PortRange::one(1))),
            dport: Some(Match::one(PortRange::one(2))),
            ..Filter::default()
        };
        assert_eq!(
            f.single_tuple(),
            None,
            "without a zone: every zone, by dump"
        );
        f.zone = Some(Match::one(0));
        assert_eq!(
            f.single_tuple(),
            None,
            "--zone is any direction: not a lookup"
        );
        f.zone = None;
        f.orig_zone = Some(Match::one(0));
        assert!(f.single_tuple().is_some());
        f.mark = Some(Match::one((1, 1)));
        assert_eq!(f.single_tuple(), None);
    }

    #[test]
    fn contradictions_are_errors() {
        assert!(Filter {
            family: Some(AF_INET6),
            src: Some(Match::one(Cidr::parse("10.0.0.1").unwrap())),
            ..Filter::default()
        }
        .normalize()
        .is_err());
        assert!(Filter {
            proto: Some(proto::ICMP),
            dport: Some(Match::one(PortRange::one(1))),
            ..Filter::default()
        }
        .normalize()
        .is_err());
        assert!(Filter {
            proto: Some(proto::UDP),
            state: Some(StateMatch::parse("ESTABLISHED", None).unwrap()),
            ..Filter::default()
        }
        .normalize()
        .is_err());
    }

    #[test]
    fn nat_detection_is_per_family() {
        let mut f = tcp_flow(3);
        assert!(!NatMatch {
            any: Some(None),
            ..NatMatch::default()
        }
        .matches(&f));
        f.reply.dst = Some("192.0.2.9".parse().unwrap());
        f.status = Some(Status::SEEN_REPLY | Status::SRC_NAT_DONE);
        let snat = NatMatch {
            src: Some(None),
            ..NatMatch::default()
        };
        assert!(snat.matches(&f));
        let snat_to = NatMatch {
            src: Some(Some("192.0.2.9".parse().unwrap())),
            ..NatMatch::default()
        };
        assert!(snat_to.matches(&f));
        let dnat = NatMatch {
            dst: Some(None),
            ..NatMatch::default()
        };
        assert!(!dnat.matches(&f));
    }
}
