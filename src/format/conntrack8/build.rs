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

fn tuple(d: &Dir, l3: u8) -> Tuple {
    Tuple {
        src: d.src,
        dst: d.dst,
        proto: d.l4,
        src_port: d.sport,
        dst_port: d.dport,
        zone: d.zone,
        ..Tuple::default()
    }
    .with_family_check(l3)
}

trait FamilyCheck {
    fn with_family_check(self, l3: u8) -> Self;
}

impl FamilyCheck for Tuple {
    fn with_family_check(self, _l3: u8) -> Self {
        self
    }
}

/// Whether a direction was given at all (any of its attributes set).
fn given(d: &Dir) -> bool {
    d.src.is_some()
        || d.dst.is_some()
        || d.sport.is_some()
        || d.dport.is_some()
        || d.l3.is_some()
        || d.l4.is_some()
}

/// The mirror of `t` (libnetfilter_conntrack's `__autocomplete`): addresses
/// and ports swapped; ICMP fields are not mirrored here (their setter
/// already filled the reply).
fn mirror(t: &Tuple, icmp: bool) -> Tuple {
    Tuple {
        src: t.dst,
        dst: t.src,
        proto: t.proto,
        src_port: if icmp { None } else { t.dst_port },
        dst_port: if icmp { None } else { t.src_port },
        ..Tuple::default()
    }
}

/// The create request of a `-I` / `-A` command line (conntrack 1.4.7's
/// `CT_CREATE`), or why libnetfilter_conntrack would not build it (its
/// `EINVAL`).
pub fn create(c: &Command) -> Result<Create, &'static str> {
    let t = &c.tmpl;
    let orig_given = c.options & opt::ORIG != 0;
    let repl_given = c.options & opt::REPL != 0;
    let family = c.family;
    let mut orig = tuple(&t.orig, family);
    let mut reply = tuple(&t.repl, family);
    let icmp = matches!(t.orig.l4, Some(1 | 58));
    if icmp {
        orig.icmp_type = t.icmp_type.map(|(ty, _)| ty);
        orig.icmp_code = t.icmp_code;
        orig.icmp_id = t.icmp_id;
        // The setters fill the reply's ICMP fields at once.
        reply.icmp_type = t.icmp_type.map(|(_, r)| r);
        reply.icmp_code = t.icmp_code;
        reply.icmp_id = t.icmp_id;
    }
    // The l3/l4 of each direction: from the direction's own options, or,
    // for a mirrored one, the other's.
    let mut orig_l3 = t.orig.l3;
    let mut repl_l3 = t.repl.l3;
    if orig_given && !repl_given {
        let m = mirror(&orig, icmp);
        reply = Tuple {
            icmp_type: reply.icmp_type,
            icmp_code: reply.icmp_code,
            icmp_id: reply.icmp_id,
            zone: reply.zone,
            ..m
        };
        repl_l3 = orig_l3;
    } else if repl_given && !orig_given {
        let m = mirror(&reply, icmp);
        orig = Tuple {
            icmp_type: orig.icmp_type,
            icmp_code: orig.icmp_code,
            icmp_id: orig.icmp_id,
            zone: orig.zone,
            ..m
        };
        orig_l3 = repl_l3;
    }
    // nfct_nlmsg_build refuses an object without an original family.
    let Some(l3) = orig_l3 else {
        return Err("invalid parameters");
    };
    let _ = (given(&t.orig), repl_l3);
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
