//! The entry `-I` / `-A` ask the kernel to create, built from the template
//! as libnetfilter_conntrack builds its request (`nfct_nlmsg_build`): the
//! tuples as given, the missing direction mirrored from the other
//! (`NFCT_SOPT_SETUP_REPLY` / `_ORIGINAL`), NAT, zones, mark, status,
//! timeout, state, labels. Nothing is filled in that conntrack 1.4.7 would
//! not send, so the kernel answers the face as it answers conntrack.

use std::net::IpAddr;

use ctctl_netlink::conntrack::{
    DccpInfo, Flow, Labels, ProtoInfo, SctpInfo, Status, TcpFlags, TcpInfo, Tuple,
};

use super::command::{Command, Dir};
use super::options::opt;

/// NAT the create request sets up (`CTA_NAT_SRC` / `CTA_NAT_DST`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Nat {
    /// The address, when one was given.
    pub addr: Option<IpAddr>,
    /// The port, when one was given.
    pub port: Option<u16>,
}

/// An entry to create and the NAT to set up with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Create {
    /// The entry: tuples, zone, status, timeout, mark, state, labels.
    pub flow: Flow<'static>,
    /// `--src-nat ADDR[:PORT]`.
    pub src_nat: Option<Nat>,
    /// `--dst-nat ADDR[:PORT]`.
    pub dst_nat: Option<Nat>,
}

/// One direction as libnetfilter_conntrack keeps it: every field, zero
/// until set.
#[derive(Debug, Clone, Copy, Default)]
struct Raw {
    l3: u8,
    l4: u8,
    src: Option<IpAddr>,
    dst: Option<IpAddr>,
    sport: u16,
    dport: u16,
    icmp_type: u8,
    icmp_code: u8,
    icmp_id: u16,
    zone: Option<u16>,
}

fn has_ports(p: u8) -> bool {
    matches!(p, 6 | 17 | 132 | 33 | 47 | 136)
}

fn raw(d: &Dir) -> Raw {
    Raw {
        l3: d.l3.unwrap_or(0),
        l4: d.l4.unwrap_or(0),
        src: d.src,
        dst: d.dst,
        sport: d.sport.unwrap_or(0),
        dport: d.dport.unwrap_or(0),
        zone: d.zone,
        ..Raw::default()
    }
}

/// `__autocomplete`: `this` becomes the mirror of `other` (family,
/// protocol, addresses swapped; ports swapped for port protocols; ICMP
/// fields and the zone stay: their setters filled both directions).
fn autocomplete(this: &mut Raw, other: &Raw) {
    this.l3 = other.l3;
    this.l4 = other.l4;
    this.src = other.dst;
    this.dst = other.src;
    if has_ports(this.l4) {
        this.sport = other.dport;
        this.dport = other.sport;
    }
}

/// The tuple `nfct_build_tuple_raw` sends for a direction: the addresses
/// of its family (zero where unset), the protocol number, and the ports
/// or ICMP fields of that protocol (zero where unset).
fn tuple(r: &Raw) -> Tuple {
    let zero = |fam: u8| match fam {
        2 => Some(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)),
        10 => Some(IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED)),
        _ => None,
    };
    let fits = |a: Option<IpAddr>| {
        a.filter(|a| matches!((a, r.l3), (IpAddr::V4(_), 2) | (IpAddr::V6(_), 10)))
    };
    let icmp = matches!(r.l4, 1 | 58);
    Tuple {
        src: fits(r.src).or(zero(r.l3)),
        dst: fits(r.dst).or(zero(r.l3)),
        proto: Some(r.l4),
        src_port: has_ports(r.l4).then_some(r.sport),
        dst_port: has_ports(r.l4).then_some(r.dport),
        icmp_type: icmp.then_some(r.icmp_type),
        icmp_code: icmp.then_some(r.icmp_code),
        icmp_id: icmp.then_some(r.icmp_id),
        zone: r.zone,
    }
}

/// The create request of a `-I` / `-A` command line (conntrack 1.4.7's
/// `CT_CREATE`), or why libnetfilter_conntrack would not build it (its
/// `EINVAL`).
///
/// # Errors
///
/// conntrack 1.4.7's message when the command lacks what a create needs.
pub fn create(c: &Command) -> Result<Create, &'static str> {
    let t = &c.tmpl;
    let orig_given = c.options & opt::ORIG != 0;
    let repl_given = c.options & opt::REPL != 0;
    let mut orig = raw(&t.orig);
    let mut reply = raw(&t.repl);
    // The ICMP setters write both directions at once.
    if let Some((ty, rty)) = t.icmp_type {
        orig.icmp_type = ty;
        reply.icmp_type = rty;
    }
    if let Some(code) = t.icmp_code {
        orig.icmp_code = code;
        reply.icmp_code = code;
    }
    if let Some(id) = t.icmp_id {
        orig.icmp_id = id;
        reply.icmp_id = id;
    }
    let any_repl = t.repl.l3.is_some()
        || t.repl.l4.is_some()
        || t.repl.src.is_some()
        || t.repl.dst.is_some()
        || t.repl.sport.is_some()
        || t.repl.dport.is_some()
        || t.repl.zone.is_some();
    let (orig_l3_set, build_reply) = if orig_given && !repl_given {
        autocomplete(&mut reply, &orig);
        (true, true)
    } else if repl_given && !orig_given {
        autocomplete(&mut orig, &reply);
        (true, true)
    } else {
        (t.orig.l3.is_some(), any_repl)
    };
    // nfct_nlmsg_build refuses an object without an original family.
    if !orig_l3_set {
        return Err("invalid parameters");
    }
    let l3 = orig.l3;
    let orig = tuple(&orig);
    let reply = if build_reply {
        tuple(&reply)
    } else {
        Tuple::default()
    };
    let proto_info = match t.orig.l4 {
        Some(6) if t.tcp_state.is_some() || t.tcp_flags.is_some() => {
            let flags = t.tcp_flags.map(|f| TcpFlags { flags: f, mask: f });
            Some(ProtoInfo::Tcp(TcpInfo {
                state: t.tcp_state,
                flags_orig: flags,
                flags_reply: flags,
                ..TcpInfo::default()
            }))
        }
        Some(132) if t.sctp_state.is_some() || t.vtag_orig.is_some() || t.vtag_repl.is_some() => {
            Some(ProtoInfo::Sctp(SctpInfo {
                state: t.sctp_state,
                vtag_orig: t.vtag_orig,
                vtag_reply: t.vtag_repl,
            }))
        }
        Some(33) if t.dccp_state.is_some() || t.dccp_role.is_some() => {
            Some(ProtoInfo::Dccp(DccpInfo {
                state: t.dccp_state,
                role: t.dccp_role,
                handshake_seq: None,
            }))
        }
        _ => None,
    };
    let nat = |addr: Option<IpAddr>, port: Option<u16>| {
        (addr.is_some() || port.is_some()).then_some(Nat { addr, port })
    };
    let flow = Flow {
        family: l3,
        orig,
        reply,
        status: t.status.map(Status),
        timeout: t.timeout,
        mark: (c.options & opt::MARK != 0).then_some(c.mark.0),
        zone: t.zone,
        proto_info,
        labels: c
            .label_modify
            .as_ref()
            .filter(|_| c.options & opt::ADD_LABEL != 0)
            .map(|bits| Labels::from_bits(bits.iter().copied())),
        ..Flow::default()
    };
    Ok(Create {
        flow,
        src_nat: nat(t.snat, t.snat_port),
        dst_nat: nat(t.dnat, t.dnat_port),
    })
}
