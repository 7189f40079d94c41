//! Request shapes and the experiment that proves one.
//!
//! A *shape* is what a dump or flush request carries, without the values:
//! the operation, the family, the protocol, and which criteria are set
//! (original and reply addresses, ports, ICMP fields, mark, status, zone).
//! `--zone 5` alone, `--mark 1` alone, and mark, zone and ports together
//! are three shapes: a kernel that applies each criterion alone may still
//! get a combination wrong, so a shape is proved as a whole.
//!
//! The experiment for a shape builds a small table: a target entry that
//! matches every criterion (two, when a zone is compared: one with the
//! zone in both directions, one with it in the original direction only,
//! which the kernel's `nf_ct_zone_equal_any` counts), and for each
//! criterion a near miss that differs from the target in that criterion
//! only (an address of the same family, another port, mark, zone, status
//! bit, protocol; for the family, an entry of the other one). The request
//! must select exactly what ctctl's own matcher selects from that table:
//! a criterion ignored, inverted, or compared against the wrong direction
//! or field changes the result.

use std::collections::BTreeSet;
use std::fmt;
use std::net::IpAddr;

use ctctl_netlink::conntrack::{proto, Flow, KernelFilter, ProtoInfo, Status, Tuple};
use ctctl_netlink::header::{AF_INET, AF_INET6};

use super::Op;
use crate::flow::zone_id;
use crate::select::criteria::{Cidr, Match, PortRange, StatusMatch};
use crate::select::filter::Filter;

/// The criteria a request carries (bits).
pub mod field {
    /// The orig src criterion.
    pub const ORIG_SRC: u32 = 1 << 0;
    /// The orig dst criterion.
    pub const ORIG_DST: u32 = 1 << 1;
    /// The reply src criterion.
    pub const REPLY_SRC: u32 = 1 << 2;
    /// The reply dst criterion.
    pub const REPLY_DST: u32 = 1 << 3;
    /// The sport criterion.
    pub const SPORT: u32 = 1 << 4;
    /// The dport criterion.
    pub const DPORT: u32 = 1 << 5;
    /// The icmp type criterion.
    pub const ICMP_TYPE: u32 = 1 << 6;
    /// The icmp code criterion.
    pub const ICMP_CODE: u32 = 1 << 7;
    /// The icmp id criterion.
    pub const ICMP_ID: u32 = 1 << 8;
    /// The mark criterion.
    pub const MARK: u32 = 1 << 9;
    /// A mark mask other than all ones.
    pub const MARK_MASKED: u32 = 1 << 10;
    /// The status criterion.
    pub const STATUS: u32 = 1 << 11;
    /// The zone criterion.
    pub const ZONE: u32 = 1 << 12;
    /// The zone compared is 0 (once taken for "no filter").
    pub const ZONE0: u32 = 1 << 13;
    /// A mark mask of 0: not a selection at all.
    pub const MARK_ZERO: u32 = 1 << 14;
    /// A status mask of 0 (conntrack 1.4.7's `-u UNSET`).
    pub const STATUS_ZERO: u32 = 1 << 15;
    /// The addrs criterion.
    pub const ADDRS: u32 = ORIG_SRC | ORIG_DST | REPLY_SRC | REPLY_DST;

    /// The names criterion.
    pub const NAMES: [(u32, &str); 16] = [
        (ORIG_SRC, "orig-src"),
        (ORIG_DST, "orig-dst"),
        (REPLY_SRC, "reply-src"),
        (REPLY_DST, "reply-dst"),
        (SPORT, "sport"),
        (DPORT, "dport"),
        (ICMP_TYPE, "icmp-type"),
        (ICMP_CODE, "icmp-code"),
        (ICMP_ID, "icmp-id"),
        (MARK, "mark"),
        (MARK_MASKED, "mark-mask"),
        (STATUS, "status"),
        (ZONE, "zone"),
        (ZONE0, "zone0"),
        (MARK_ZERO, "mark-mask0"),
        (STATUS_ZERO, "status-mask0"),
    ];
}

/// The shape of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Shape {
    /// Dump or flush.
    pub op: Op,
    /// `AF_INET`, `AF_INET6` or 0.
    pub family: u8,
    /// The layer-4 protocol compared, if any.
    pub proto: Option<u8>,
    /// [`field`] bits.
    pub fields: u32,
}

impl Shape {
    /// The shape of `k` sent as `op`.
    pub fn of(op: Op, k: &KernelFilter) -> Shape {
        use field::*;
        let mut f = 0;
        let bit = |set: bool, b: u32| if set { b } else { 0 };
        f |= bit(k.orig.src.is_some(), ORIG_SRC);
        f |= bit(k.orig.dst.is_some(), ORIG_DST);
        f |= bit(k.reply.src.is_some(), REPLY_SRC);
        f |= bit(k.reply.dst.is_some(), REPLY_DST);
        f |= bit(k.orig.src_port.is_some(), SPORT);
        f |= bit(k.orig.dst_port.is_some(), DPORT);
        f |= bit(k.orig.icmp_type.is_some(), ICMP_TYPE);
        f |= bit(k.orig.icmp_code.is_some(), ICMP_CODE);
        f |= bit(k.orig.icmp_id.is_some(), ICMP_ID);
        if let Some((_, m)) = k.mark {
            f |= MARK | bit(m != u32::MAX, MARK_MASKED) | bit(m == 0, MARK_ZERO);
        }
        if let Some((_, m)) = k.status {
            f |= STATUS | bit(m == 0, STATUS_ZERO);
        }
        if let Some(z) = k.zone {
            f |= ZONE | bit(z == 0, ZONE0);
        }
        Shape {
            op,
            family: k.family,
            proto: k.orig.proto,
            fields: f,
        }
    }

    /// Whether the request selects anything at all (a shape of nothing is
    /// a plain dump, or a flush of everything).
    pub fn is_empty(&self) -> bool {
        self.family == 0 && self.proto.is_none() && self.fields == 0
    }

    /// The cache key: `dump ipv4 tcp orig-src,dport,mark`.
    pub fn key(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.op {
            Op::Dump => "dump",
            Op::Flush => "flush",
        };
        let fam = match self.family {
            AF_INET => "ipv4",
            AF_INET6 => "ipv6",
            _ => "any",
        };
        write!(f, "{op} {fam}")?;
        if let Some(p) = self.proto {
            write!(f, " {}", crate::flow::proto_name(p))?;
            if crate::flow::proto_name(p) == "unknown" {
                write!(f, "/{p}")?;
            }
        }
        let names: Vec<&str> = field::NAMES
            .iter()
            .filter(|(b, _)| self.fields & b != 0)
            .map(|(_, n)| *n)
            .collect();
        if !names.is_empty() {
            write!(f, " {}", names.join(","))?;
        }
        Ok(())
    }
}

/// What the kernel did with a shape's experiment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Exactly what ctctl's matcher selects.
    Proved,
    /// Something else; why.
    Failed(String),
    /// The kernel refused the request with this errno.
    Refused(i32),
}

/// The table the experiment works on: the real kernel in a private
/// namespace, or a simulated one in unit tests.
pub trait ProbeTable {
    /// Creates `entries` exactly as given (reply tuples too, no NAT set
    /// up); an entry that exists already is left as it is.
    ///
    /// # Errors
    ///
    /// What the kernel refused, as text.
    fn create(&mut self, entries: &[Flow<'static>]) -> Result<(), String>;
    /// The entries a dump with `filter` returns, as the kernel selects
    /// them; `Err(errno)` when the kernel refuses the request.
    ///
    /// # Errors
    ///
    /// The kernel's errno.
    fn dump(&mut self, filter: &KernelFilter) -> Result<Vec<Flow<'static>>, i32>;
    /// A flush with `filter`; `Err(errno)` when the kernel refuses it.
    ///
    /// # Errors
    ///
    /// The kernel's errno.
    fn flush(&mut self, filter: &KernelFilter) -> Result<(), i32>;
    /// Each of `entries` as the kernel has it, looked up one by one by
    /// tuple and zone (no table walk), or `None` where it is gone.
    ///
    /// # Errors
    ///
    /// What the kernel refused, as text.
    fn lookup(&mut self, entries: &[Flow<'static>]) -> Result<Vec<Option<Flow<'static>>>, String>;
    /// Removes every entry (between experiments).
    ///
    /// # Errors
    ///
    /// What the kernel refused, as text.
    fn clear(&mut self) -> Result<(), String>;
}

/// Values of the experiment.
struct Values {
    osrc: IpAddr,
    odst: IpAddr,
    other: IpAddr,
}

fn values(family: u8) -> Values {
    let p = |s: &str| s.parse().expect("literal address");
    if family == AF_INET6 {
        Values {
            osrc: p("2001:db8:99::1"),
            odst: p("2001:db8:99::2"),
            other: p("2001:db8:99::9"),
        }
    } else {
        Values {
            osrc: p("10.99.0.1"),
            odst: p("10.99.0.2"),
            other: p("10.99.0.9"),
        }
    }
}

fn has_ports(p: Option<u8>) -> bool {
    matches!(p, Some(proto::TCP | proto::UDP))
}

/// The target entry of a shape (before its near misses are derived).
fn target(s: &Shape) -> Flow<'static> {
    let family = if s.family == AF_INET6 {
        AF_INET6
    } else {
        AF_INET
    };
    let v = values(family);
    let p = s.proto.unwrap_or(proto::TCP);
    let icmp = matches!(p, proto::ICMP | proto::ICMPV6);
    let ports = crate::flow::has_ports(p);
    let orig = Tuple {
        src: Some(v.osrc),
        dst: Some(v.odst),
        proto: Some(p),
        src_port: ports.then_some(1001),
        dst_port: ports.then_some(80),
        icmp_type: icmp.then_some(if p == proto::ICMP { 8 } else { 128 }),
        icmp_code: icmp.then_some(0),
        icmp_id: icmp.then_some(7),
        zone: None,
    };
    let reply = crate::flow::mirror(&orig);
    Flow {
        family,
        orig,
        reply,
        status: Some(Status::SEEN_REPLY | Status::ASSURED),
        timeout: Some(300),
        mark: Some(if s.fields & field::MARK_MASKED != 0 {
            0x13
        } else {
            1
        }),
        zone: (s.fields & field::ZONE != 0 && s.fields & field::ZONE0 == 0).then_some(5),
        proto_info: (p == proto::TCP)
            .then(|| ProtoInfo::from_state_name(proto::TCP, "ESTABLISHED"))
            .flatten(),
        ..Flow::default()
    }
}

/// The experiment of a shape: the filter to send and the table.
pub struct Experiment {
    /// The request's criteria.
    pub filter: KernelFilter,
    /// The same criteria as a userspace filter (what must come back).
    pub matcher: Filter,
    /// The table.
    pub entries: Vec<Flow<'static>>,
}

/// Builds the experiment for `s`, or `None` for a shape ctctl never sends
/// (a flush naming a whole original tuple: before Linux 6.12 that is a
/// single delete by tuple which ignores every other criterion; ctctl
/// deletes such an entry by tuple and id from a dump instead, for the
/// same one table walk).
pub fn experiment(s: &Shape) -> Option<Experiment> {
    use field::*;
    let t = target(s);
    let full_tuple = s.fields & (ORIG_SRC | ORIG_DST) == ORIG_SRC | ORIG_DST
        && s.proto.is_some()
        && (if has_ports(s.proto) {
            s.fields & (SPORT | DPORT) == SPORT | DPORT
        } else {
            matches!(s.proto, Some(proto::ICMP | proto::ICMPV6))
                && s.fields & (ICMP_TYPE | ICMP_CODE | ICMP_ID) == ICMP_TYPE | ICMP_CODE | ICMP_ID
        });
    if s.op == Op::Flush && full_tuple {
        return None;
    }
    let v = values(t.family);
    let host = |ip: IpAddr| {
        Some(Match::one(Cidr {
            addr: ip,
            prefix: if ip.is_ipv4() { 32 } else { 128 },
        }))
    };
    let port = |p: Option<u16>| p.map(|p| Match::one(PortRange::one(p)));
    let on = |b: u32| s.fields & b != 0;
    // The request.
    let mark = on(MARK).then(|| {
        if on(MARK_ZERO) {
            (0, 0)
        } else if on(MARK_MASKED) {
            (0x10, 0xf0)
        } else {
            (1, u32::MAX)
        }
    });
    let status = on(STATUS).then(|| {
        if on(STATUS_ZERO) {
            (0, 0)
        } else {
            (Status::ASSURED.0, Status::ASSURED.0)
        }
    });
    let zone = on(ZONE).then(|| if on(ZONE0) { 0 } else { 5 });
    let filter = KernelFilter {
        family: s.family,
        orig: Tuple {
            src: on(ORIG_SRC).then_some(t.orig.src).flatten(),
            dst: on(ORIG_DST).then_some(t.orig.dst).flatten(),
            proto: s.proto,
            src_port: if on(SPORT) { t.orig.src_port } else { None },
            dst_port: if on(DPORT) { t.orig.dst_port } else { None },
            icmp_type: if on(ICMP_TYPE) {
                t.orig.icmp_type
            } else {
                None
            },
            icmp_code: if on(ICMP_CODE) {
                t.orig.icmp_code
            } else {
                None
            },
            icmp_id: if on(ICMP_ID) { t.orig.icmp_id } else { None },
            zone: None,
        },
        reply: Tuple {
            src: on(REPLY_SRC).then_some(t.reply.src).flatten(),
            dst: on(REPLY_DST).then_some(t.reply.dst).flatten(),
            ..Tuple::default()
        },
        mark,
        status,
        zone,
    };
    let matcher = Filter {
        family: (s.family != 0).then_some(s.family),
        proto: s.proto,
        src: filter.orig.src.and_then(host),
        dst: filter.orig.dst.and_then(host),
        reply_src: filter.reply.src.and_then(host),
        reply_dst: filter.reply.dst.and_then(host),
        sport: port(filter.orig.src_port),
        dport: port(filter.orig.dst_port),
        icmp_type: filter.orig.icmp_type,
        icmp_code: filter.orig.icmp_code,
        icmp_id: filter.orig.icmp_id,
        mark: mark.map(Match::one),
        status: status.map(|(v, m)| StatusMatch {
            set: v & m,
            clear: m & !v,
        }),
        zone: zone.map(Match::one),
        ..Filter::default()
    };
    // The table: the target, a second target for zones, and a near miss
    // per criterion. Near misses share the target's tuple but for the
    // field they miss on, and each gets a source port (or reply ICMP id)
    // of its own so that no two entries clash; no criterion compares it
    // unless SPORT is in the shape, where the target keeps 1001.
    let mut entries = vec![t.clone()];
    let mut miss = |f: &dyn Fn(&mut Flow<'static>)| {
        let mut e = t.clone();
        f(&mut e);
        entries.push(e);
    };
    if on(ZONE) && !on(ZONE0) {
        miss(&|e| {
            e.zone = None;
            e.orig.zone = Some(5);
        });
    }
    if s.family != 0 {
        let fam = if t.family == AF_INET {
            AF_INET6
        } else {
            AF_INET
        };
        let w = values(fam);
        miss(&|e| {
            e.family = fam;
            e.orig.src = Some(w.osrc);
            e.orig.dst = Some(w.odst);
            e.reply.src = Some(w.odst);
            e.reply.dst = Some(w.osrc);
        });
    }
    if on(ORIG_SRC) {
        miss(&|e| e.orig.src = Some(v.other));
    }
    if on(ORIG_DST) {
        miss(&|e| e.orig.dst = Some(v.other));
    }
    if on(REPLY_SRC) {
        miss(&|e| e.reply.src = Some(v.other));
    }
    if on(REPLY_DST) {
        miss(&|e| e.reply.dst = Some(v.other));
    }
    if s.proto.is_some() {
        // Another protocol: UDP for TCP, TCP for the rest (ports of its own).
        let other = if s.proto == Some(proto::TCP) {
            proto::UDP
        } else {
            proto::TCP
        };
        miss(&|e| {
            for d in [&mut e.orig, &mut e.reply] {
                d.proto = Some(other);
                d.icmp_type = None;
                d.icmp_code = None;
                d.icmp_id = None;
                d.src_port = Some(d.src_port.unwrap_or(1001));
                d.dst_port = Some(d.dst_port.unwrap_or(80));
            }
            e.reply.src_port = e.orig.dst_port;
            e.reply.dst_port = e.orig.src_port;
            e.proto_info = (other == proto::TCP)
                .then(|| ProtoInfo::from_state_name(proto::TCP, "ESTABLISHED"))
                .flatten();
        });
    }
    if on(SPORT) {
        miss(&|e| {
            e.orig.src_port = Some(1002);
            e.reply.dst_port = Some(1002);
        });
    }
    if on(DPORT) {
        miss(&|e| {
            e.orig.dst_port = Some(81);
            e.reply.src_port = Some(81);
        });
    }
    if on(ICMP_TYPE) {
        miss(&|e| {
            let (a, b) = if e.orig.proto == Some(proto::ICMP) {
                (13, 14)
            } else {
                (129, 128)
            };
            e.orig.icmp_type = Some(a);
            e.reply.icmp_type = Some(b);
        });
    }
    if on(ICMP_CODE) {
        miss(&|e| {
            e.orig.icmp_code = Some(1);
            e.reply.icmp_code = Some(1);
        });
    }
    if on(ICMP_ID) {
        miss(&|e| {
            e.orig.icmp_id = Some(8);
            e.reply.icmp_id = Some(8);
        });
    }
    if on(MARK) {
        miss(&|e| e.mark = Some(if on(MARK_MASKED) { 0x23 } else { 3 }));
    }
    if on(STATUS) {
        miss(&|e| e.status = Some(Status::SEEN_REPLY));
    }
    if on(ZONE) {
        miss(&|e| {
            e.zone = Some(6);
            e.orig.zone = None;
        });
    }
    // Keep every entry distinct in both directions (the kernel refuses a
    // clash): each near miss also changes a field the shape does not
    // compare — a source or destination port, the original addresses, or
    // the zone. A near miss that cannot be kept apart makes the shape
    // untestable (not proved).
    let free: Vec<u8> = [
        (ports_of(&t) && !on(SPORT), 0u8),
        (ports_of(&t) && !on(DPORT), 1),
        (!on(ORIG_SRC) && !on(REPLY_DST), 2),
        (!on(ORIG_DST) && !on(REPLY_SRC), 3),
        (!on(ZONE), 4),
        (icmp_of(&t) && !on(ICMP_ID), 5),
        (icmp_of(&t) && !on(ICMP_CODE), 6),
        // A near miss in the reply direction's zone only: the kernel's
        // nf_ct_zone_equal_any counts it in the zone, and its reply tuple
        // (reply ports or ICMP id: never compared) keeps it apart.
        (on(ZONE) && !on(ZONE0), 7),
    ]
    .into_iter()
    .filter(|(ok, _)| *ok)
    .map(|(_, k)| k)
    .collect();
    let mut seen = std::collections::HashSet::new();
    let mut kept = Vec::new();
    for (i, mut e) in entries.into_iter().enumerate() {
        if i > 0 {
            let n = 2000 + i as u16;
            match free.first() {
                Some(0) if ports_of(&e) => {
                    e.orig.src_port = Some(n);
                    e.reply.dst_port = Some(n);
                }
                Some(1) if ports_of(&e) => {
                    e.orig.dst_port = Some(n);
                    e.reply.src_port = Some(n);
                }
                Some(2) | Some(0) | Some(1) => {
                    let a = unique_addr(e.family, i);
                    e.orig.src = Some(a);
                    e.reply.dst = Some(a);
                }
                Some(3) => {
                    let a = unique_addr(e.family, i);
                    e.orig.dst = Some(a);
                    e.reply.src = Some(a);
                }
                Some(4) if e.zone.is_none() && e.orig.zone.is_none() => {
                    e.zone = Some(100 + i as u16);
                }
                Some(4) => {}
                Some(5) if icmp_of(&e) => {
                    e.orig.icmp_id = Some(n);
                    e.reply.icmp_id = Some(n);
                }
                Some(6) if icmp_of(&e) => {
                    e.orig.icmp_code = Some((i % 200) as u8 + 20);
                    e.reply.icmp_code = Some((i % 200) as u8 + 20);
                }
                // Zone 5 in the reply direction only, unless this near miss
                // is about the zone itself.
                Some(_) if e.zone == Some(5) => {
                    e.zone = None;
                    e.reply.zone = Some(5);
                    if e.reply.src_port.is_some() {
                        e.reply.src_port = Some(n);
                    } else {
                        e.reply.icmp_id = Some(n);
                    }
                }
                Some(_) | None => {}
            }
        }
        let orig = (e.orig, crate::flow::orig_zone(&e));
        let reply = (e.reply, crate::flow::reply_zone(&e));
        if orig == reply || !seen.insert(orig) || !seen.insert(reply) {
            return Some(Experiment {
                filter,
                matcher: Filter {
                    id: Some(0),
                    ..Filter::default()
                },
                entries: Vec::new(),
            });
        }
        kept.push(e);
    }
    let entries = kept;
    Some(Experiment {
        filter,
        matcher: matcher.normalize().unwrap_or_default(),
        entries,
    })
}

fn ports_of(f: &Flow<'_>) -> bool {
    f.orig.src_port.is_some()
}

fn icmp_of(f: &Flow<'_>) -> bool {
    f.orig.icmp_type.is_some()
}

/// An address of `family` no experiment uses otherwise.
fn unique_addr(family: u8, i: usize) -> IpAddr {
    if family == AF_INET6 {
        IpAddr::V6(std::net::Ipv6Addr::new(
            0x2001, 0xdb8, 0x99, 1, 0, 0, 0, i as u16,
        ))
    } else {
        IpAddr::V4(std::net::Ipv4Addr::new(10, 99, 1, i as u8))
    }
}

fn key(f: &Flow<'_>) -> String {
    format!("{:?}/{:?}/{}", f.orig, f.reply, zone_id(f))
}

fn keys<'a>(flows: impl IntoIterator<Item = &'a Flow<'static>>) -> BTreeSet<String> {
    flows.into_iter().map(key).collect()
}

fn describe(expected: &BTreeSet<String>, got: &BTreeSet<String>) -> String {
    let extra = got.difference(expected).count();
    let missing = expected.difference(got).count();
    format!("{extra} outside the filter selected, {missing} inside it not")
}

/// Runs the experiment of `s` on `table` (which it clears first). `Err`
/// when the table cannot be set up (the probe cannot run).
///
/// # Errors
///
/// When the probe's entries cannot be created, dumped or read back: the
/// experiment says nothing then.
pub fn run(table: &mut dyn ProbeTable, s: &Shape) -> Result<Outcome, String> {
    let Some(x) = experiment(s) else {
        return Ok(Outcome::Failed(
            "never sent: a flush naming a whole original tuple".into(),
        ));
    };
    if x.entries.is_empty() {
        return Ok(Outcome::Failed(
            "no table can tell this shape's criteria apart".into(),
        ));
    }
    table.clear()?;
    table.create(&x.entries)?;
    let all: Vec<Flow<'static>> = table.lookup(&x.entries)?.into_iter().flatten().collect();
    if keys(&all) != keys(&x.entries) {
        return Err(format!(
            "the probe table did not come back as created ({} of {} entries)",
            all.len(),
            x.entries.len()
        ));
    }
    let expected = keys(all.iter().filter(|f| x.matcher.matches(f)));
    match s.op {
        Op::Dump => match table.dump(&x.filter) {
            Err(errno) => Ok(Outcome::Refused(errno)),
            Ok(got) => {
                let got = keys(&got);
                Ok(if got == expected {
                    Outcome::Proved
                } else {
                    Outcome::Failed(describe(&expected, &got))
                })
            }
        },
        Op::Flush => {
            let r = table.flush(&x.filter);
            let there = table.lookup(&all)?;
            let gone = keys(
                all.iter()
                    .zip(&there)
                    .filter(|(_, t)| t.is_none())
                    .map(|(f, _)| f),
            );
            Ok(match r {
                Err(errno) => Outcome::Refused(errno),
                Ok(()) if gone == expected => Outcome::Proved,
                Ok(()) => Outcome::Failed(describe(&expected, &gone)),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shapes() -> Vec<Shape> {
        use field::*;
        let mut out = Vec::new();
        for op in [Op::Dump, Op::Flush] {
            for (family, proto, fields) in [
                (AF_INET, None, 0),
                (AF_INET, Some(6), SPORT | DPORT | MARK | STATUS | ZONE),
                (
                    AF_INET,
                    Some(6),
                    ORIG_SRC | ORIG_DST | REPLY_SRC | REPLY_DST | DPORT,
                ),
                (AF_INET6, Some(17), ORIG_SRC | DPORT | ZONE | ZONE0),
                (AF_INET, Some(1), ICMP_TYPE | ICMP_CODE | ICMP_ID),
                (AF_INET6, Some(58), ICMP_TYPE | ICMP_ID | MARK | MARK_MASKED),
                (0, None, MARK),
                (0, None, ZONE),
                (0, None, STATUS),
            ] {
                out.push(Shape {
                    op,
                    family,
                    proto,
                    fields,
                });
            }
        }
        out
    }

    #[test]
    fn experiments_have_distinct_entries_and_a_target() {
        for s in shapes() {
            let Some(x) = experiment(&s) else { continue };
            if x.entries.is_empty() {
                continue;
            }
            let mut seen = std::collections::HashSet::new();
            for e in &x.entries {
                assert!(
                    seen.insert((e.orig, crate::flow::orig_zone(e))),
                    "{s}: orig clash {e:?}"
                );
                assert!(
                    seen.insert((e.reply, crate::flow::reply_zone(e))),
                    "{s}: reply clash {e:?}"
                );
            }
            let hits = x.entries.iter().filter(|e| x.matcher.matches(e)).count();
            assert!(hits >= 1, "{s}: the target matches");
            assert!(
                hits < x.entries.len() || x.entries.len() == 1,
                "{s}: near misses miss"
            );
            assert_eq!(Shape::of(s.op, &x.filter), s, "the filter has the shape");
        }
    }
}
