//! The criteria a selection is made of: addresses and prefixes, value
//! lists with negation, port ranges, status bits, protocol states, NAT,
//! idleness and age, and the error that names a bad one.
//!
//! Vocabulary: no sockets, no files (state timeouts arrive as data).

use std::fmt;
use std::net::IpAddr;

use ctctl_netlink::conntrack::protoinfo::{state_names, DCCP_STATES, SCTP_STATES, TCP_STATES};
use ctctl_netlink::conntrack::{proto, Flow, Status};
use ctctl_netlink::header::{AF_INET, AF_INET6};

use super::timeouts::StateTimeouts;
use crate::error::ValueError;
use crate::flow::{nat_of, proto_name};

pub use crate::error::FilterError;

/// An address or a CIDR prefix (`10.0.0.0/8`, `2001:db8::/32`, `10.0.0.1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    /// The address.
    pub addr: IpAddr,
    /// The prefix length (32 or 128 for a single address; a longer one
    /// counts as the full length).
    pub prefix: u8,
}

impl Cidr {
    /// Parses `ADDR` or `ADDR/PREFIX`.
    ///
    /// # Errors
    ///
    /// When the text does not parse; the error says why (the caller names the
    /// field).
    pub fn parse(s: &str) -> Result<Cidr, ValueError> {
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a
            .parse()
            .map_err(|_| "not an IPv4 or IPv6 address".to_string())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            None => max,
            Some(p) => match p.parse::<u8>() {
                Ok(n) if n <= max => n,
                _ => return Err(format!("prefix length must be 0 to {max}").into()),
            },
        };
        Ok(Cidr { addr, prefix })
    }

    /// Whether this is a single address (full-length prefix).
    pub fn is_host(&self) -> bool {
        self.prefix >= if self.addr.is_ipv4() { 32 } else { 128 }
    }

    /// `AF_INET` or `AF_INET6`.
    pub fn family(&self) -> u8 {
        if self.addr.is_ipv4() {
            AF_INET
        } else {
            AF_INET6
        }
    }

    /// Whether `ip` is inside the prefix (an address of the other family never is).
    #[inline]
    pub fn contains(&self, ip: &IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let shift = 32 - u32::from(self.prefix.min(32));
                let mask = if shift == 32 { 0 } else { u32::MAX << shift };
                u32::from(net) & mask == u32::from(*ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let shift = 128 - u32::from(self.prefix.min(128));
                let mask = if shift == 128 { 0 } else { u128::MAX << shift };
                u128::from(net) & mask == u128::from(*ip) & mask
            }
            _ => false,
        }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_host() {
            write!(f, "{}", self.addr)
        } else {
            write!(f, "{}/{}", self.addr, self.prefix)
        }
    }
}

/// The values a criterion accepts: any of them, or with `negated`, none of
/// them. Parsed from a comma list with an optional leading `!`
/// (`10.244.1.5,10.244.1.6`, `!53,5353`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Match<T> {
    /// The values.
    pub values: Vec<T>,
    /// `!`: the criterion holds when none of the values does.
    pub negated: bool,
}

impl<T> Match<T> {
    /// Exactly `v`.
    pub fn one(v: T) -> Match<T> {
        Match {
            values: vec![v],
            negated: false,
        }
    }

    /// The one value of a positive single-valued criterion (what a kernel
    /// filter or a lookup can carry).
    pub fn single(&self) -> Option<&T> {
        match self.values.as_slice() {
            [v] if !self.negated => Some(v),
            _ => None,
        }
    }

    /// Whether the criterion holds, given which values `hit`.
    #[inline]
    pub fn test(&self, hit: impl FnMut(&T) -> bool) -> bool {
        self.values.iter().any(hit) != self.negated
    }

    /// Parses `[!]V[,V...]` with `item` for each value.
    ///
    /// # Errors
    ///
    /// When the text does not parse; the error says why (the caller names the
    /// field).
    pub fn parse<E: std::fmt::Display>(
        s: &str,
        item: impl Fn(&str) -> Result<T, E>,
    ) -> Result<Match<T>, ValueError> {
        let (negated, list) = match s.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let values = list
            .split(',')
            .map(|v| {
                let v = v.trim();
                if v.is_empty() {
                    Err("empty value in the list".to_string())
                } else {
                    item(v).map_err(|e| format!("'{v}': {e}"))
                }
            })
            .collect::<Result<Vec<T>, String>>()?;
        Ok(Match { values, negated })
    }
}

impl Match<Cidr> {
    /// Whether this address criterion holds for every address of `family`:
    /// a positive list with a /0 in it, all of that family; without a
    /// family, every address of the list's one family (`0.0.0.0/0`: all of
    /// IPv4, which destructive commands treat like `-f ipv4` alone) or of
    /// both (`0.0.0.0/0,::/0`).
    pub fn selects_all(&self, family: Option<u8>) -> bool {
        if self.negated {
            return false;
        }
        let zero = |f: u8| self.values.iter().any(|v| v.prefix == 0 && v.family() == f);
        let one_family = |f: u8| self.values.iter().all(|v| v.family() == f);
        match family {
            Some(f) => one_family(f) && zero(f),
            // Without a family: a /0 of each family covers every address
            // (`0.0.0.0/0,::/0`); a /0 of a list's only family, all of it.
            None => {
                (zero(AF_INET) && zero(AF_INET6))
                    || [AF_INET, AF_INET6]
                        .iter()
                        .any(|&f| one_family(f) && zero(f))
            }
        }
    }
}

impl<T: fmt::Display> fmt::Display for Match<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.negated {
            f.write_str("!")?;
        }
        for (i, v) in self.values.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{v}")?;
        }
        Ok(())
    }
}

/// A port or an inclusive range of ports (`53`, `30000-32767`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortRange {
    /// Lowest port.
    pub lo: u16,
    /// Highest port.
    pub hi: u16,
}

impl PortRange {
    /// Just `p`.
    pub fn one(p: u16) -> PortRange {
        PortRange { lo: p, hi: p }
    }

    /// Parses `PORT` or `LO-HI`.
    ///
    /// # Errors
    ///
    /// When the text does not parse; the error says why (the caller names the
    /// field).
    pub fn parse(s: &str) -> Result<PortRange, ValueError> {
        let port = |p: &str| {
            p.trim()
                .parse::<u16>()
                .map_err(|_| ValueError::from("not a port from 0 to 65535"))
        };
        match s.split_once('-') {
            Some((lo, hi)) => {
                let (lo, hi) = (port(lo)?, port(hi)?);
                if lo > hi {
                    return Err(format!("range {lo}-{hi} is empty").into());
                }
                Ok(PortRange { lo, hi })
            }
            None => port(s).map(PortRange::one),
        }
    }

    /// The single port, when the range is one.
    pub fn port(&self) -> Option<u16> {
        (self.lo == self.hi).then_some(self.lo)
    }

    /// Whether `p` is in the range.
    #[inline]
    pub fn contains(&self, p: u16) -> bool {
        self.lo <= p && p <= self.hi
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.port() {
            Some(p) => write!(f, "{p}"),
            None => write!(f, "{}-{}", self.lo, self.hi),
        }
    }
}

/// Status criteria: bits that must be set and bits that must be clear.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatusMatch {
    /// Bits that must be set.
    pub set: u32,
    /// Bits that must be clear.
    pub clear: u32,
}

impl StatusMatch {
    /// Parses a comma list of status names (`ASSURED,SEEN_REPLY`), where
    /// `!NAME` means the bit must be clear and `UNREPLIED` means
    /// `!SEEN_REPLY`, as conntrack(8) `--status` does.
    ///
    /// # Errors
    ///
    /// When the text does not parse; the error says why (the caller names the
    /// field).
    pub fn parse(s: &str) -> Result<StatusMatch, ValueError> {
        let mut m = StatusMatch::default();
        for word in s.split(',') {
            let (negated, name) = match word.strip_prefix('!') {
                Some(n) => (true, n),
                None => (false, word),
            };
            if name.eq_ignore_ascii_case("UNREPLIED") {
                if negated {
                    m.set |= Status::SEEN_REPLY.0;
                } else {
                    m.clear |= Status::SEEN_REPLY.0;
                }
                continue;
            }
            let bit = Status::from_name(name).ok_or_else(|| {
                let names: Vec<&str> = Status::NAMES.iter().map(|(_, n)| *n).collect();
                format!(
                    "unknown status '{name}' (one of {}, UNREPLIED; !NAME negates)",
                    names.join(", ")
                )
            })?;
            if negated {
                m.clear |= bit.0;
            } else {
                m.set |= bit.0;
            }
        }
        if m.set & m.clear != 0 {
            return Err("a status cannot be both required and excluded".into());
        }
        Ok(m)
    }

    #[inline]
    /// Whether `status` satisfies the criteria.
    pub fn matches(&self, status: u32) -> bool {
        status & (self.set | self.clear) == self.set
    }
}

/// A set of protocol states of one protocol (TCP, SCTP or DCCP).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateMatch {
    /// The protocol whose states these are.
    pub proto: u8,
    /// Bit `n` set: state value `n` matches.
    pub mask: u32,
}

impl StateMatch {
    /// Parses a comma list of state names as conntrack prints them
    /// (`TIME_WAIT,CLOSE_WAIT`). With `proto` given the names are that
    /// protocol's; otherwise TCP names are tried first, then SCTP, then DCCP,
    /// and the protocol is implied.
    ///
    /// # Errors
    ///
    /// When the text does not parse; the error says why (the caller names the
    /// field).
    pub fn parse(s: &str, proto_hint: Option<u8>) -> Result<StateMatch, ValueError> {
        let names: Vec<&str> = s.split(',').map(str::trim).collect();
        let candidates: Vec<u8> = match proto_hint {
            Some(p) => {
                if state_names(p).is_none() {
                    return Err(format!(
                        "{} has no connection states (states exist for tcp, sctp and dccp)",
                        proto_name(p)
                    )
                    .into());
                }
                vec![p]
            }
            None => vec![proto::TCP, proto::SCTP, proto::DCCP],
        };
        'proto: for p in candidates {
            let table = state_names(p).expect("stateful protocol");
            let mut mask = 0u32;
            for name in &names {
                match table.iter().position(|t| t.eq_ignore_ascii_case(name)) {
                    Some(i) => mask |= 1 << i,
                    None => continue 'proto,
                }
            }
            return Ok(StateMatch { proto: p, mask });
        }
        let bad = names
            .iter()
            .find(|n| {
                ![&TCP_STATES, &SCTP_STATES, &DCCP_STATES]
                    .iter()
                    .any(|t| t.iter().any(|x| x.eq_ignore_ascii_case(n)))
            })
            .copied()
            .unwrap_or(s);
        Err(format!(
            "unknown state '{bad}' (TCP states: {})",
            TCP_STATES.join(", ")
        )
        .into())
    }

    #[inline]
    /// Whether the entry is in one of the states.
    pub fn matches(&self, f: &Flow<'_>) -> bool {
        match &f.proto_info {
            Some(p) if p.proto() == self.proto => match p.state() {
                Some(s) if s < 32 => self.mask & (1 << s) != 0,
                _ => false,
            },
            _ => false,
        }
    }
}

/// NAT criteria, as conntrack(8) `--src-nat`, `--dst-nat`, `--any-nat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NatMatch {
    /// Source NAT required; with an address, the NAT source must be it.
    pub src: Option<Option<IpAddr>>,
    /// Destination NAT required; with an address, the NAT destination must be it.
    pub dst: Option<Option<IpAddr>>,
    /// Either kind of NAT; with an address, NATed to that address either way.
    pub any: Option<Option<IpAddr>>,
}

impl NatMatch {
    /// Whether no NAT criterion is set.
    pub fn is_empty(&self) -> bool {
        self.src.is_none() && self.dst.is_none() && self.any.is_none()
    }

    /// Source NAT: set up (SRC_NAT_DONE) and the reply goes to another
    /// address or port than the original came from ([`nat_of`]); with `to`,
    /// to that address. Compared per family, unlike conntrack 1.4.7, whose
    /// IPv6 check matches any NATed flow.
    #[inline]
    fn is_snat(f: &Flow<'_>, to: Option<IpAddr>) -> bool {
        f.status.is_some_and(|s| s.contains(Status::SRC_NAT_DONE))
            && match to {
                Some(ip) => f.reply.dst == Some(ip),
                None => nat_of(f).0.is_some(),
            }
    }

    /// Destination NAT, likewise: replies come from another address or port.
    #[inline]
    fn is_dnat(f: &Flow<'_>, to: Option<IpAddr>) -> bool {
        f.status.is_some_and(|s| s.contains(Status::DST_NAT_DONE))
            && match to {
                Some(ip) => f.reply.src == Some(ip),
                None => nat_of(f).1.is_some(),
            }
    }

    #[inline]
    /// Whether the entry satisfies the NAT criteria.
    pub fn matches(&self, f: &Flow<'_>) -> bool {
        if let Some(to) = self.any {
            return Self::is_snat(f, to) || Self::is_dnat(f, to);
        }
        if let Some(to) = self.src {
            if !Self::is_snat(f, to) {
                return false;
            }
        }
        if let Some(to) = self.dst {
            if !Self::is_dnat(f, to) {
                return false;
            }
        }
        true
    }
}

/// `--idle-over`: entries whose last packet is more than `over` seconds
/// ago, by the state timeouts of the namespace (see [`StateTimeouts::idle`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdleMatch {
    /// Seconds.
    pub over: u32,
    /// The namespace's timeouts.
    pub timeouts: StateTimeouts,
}

/// `--older-than`: entries whose start timestamp is more than `secs`
/// seconds before `now_ns`. Entries without a start time never match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgeMatch {
    /// Seconds.
    pub secs: u64,
    /// Now, in nanoseconds since the epoch.
    pub now_ns: u64,
}
