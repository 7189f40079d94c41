//! Facts about one entry that do not depend on anything but the entry:
//! its zones as the kernel compares them, whether its protocol has ports,
//! the NAT its tuples imply, the mirror of a tuple, and the names
//! conntrack(8) prints for its family and protocol.
//!
//! Vocabulary: no sockets, no files.

use std::net::IpAddr;

use ctctl_netlink::conntrack::request::NatSetup;
use ctctl_netlink::conntrack::{proto, Flow, Tuple};
use ctctl_netlink::header::{AF_INET, AF_INET6};

pub use ctctl_netlink::conntrack::proto::{name as proto_name, NAMES as PROTO_NAMES};

/// The family name conntrack(8) prints (`ipv4`, `ipv6`, `unknown`).
pub fn family_name(af: u8) -> &'static str {
    match af {
        AF_INET => "ipv4",
        AF_INET6 => "ipv6",
        _ => "unknown",
    }
}

/// The entry's zone id, whatever direction it applies to, as the kernel's
/// `nf_ct_zone_equal_any` compares it. ctnetlink reports a zone for both
/// directions as `CTA_ZONE` and a one-direction zone as `CTA_TUPLE_ZONE`
/// inside that direction's tuple (`ctnetlink_dump_zone_id`); no zone is 0.
#[inline]
pub fn zone_id(f: &Flow<'_>) -> u16 {
    f.zone.or(f.orig.zone).or(f.reply.zone).unwrap_or(0)
}

/// The zone of the original direction (`nf_ct_zone_id(zone, ORIGINAL)`):
/// the entry's zone when it applies to both directions or to this one, else 0.
#[inline]
pub fn orig_zone(f: &Flow<'_>) -> u16 {
    f.orig.zone.or(f.zone).unwrap_or(0)
}

/// The zone of the reply direction, likewise.
#[inline]
pub fn reply_zone(f: &Flow<'_>) -> u16 {
    f.reply.zone.or(f.zone).unwrap_or(0)
}

/// Whether protocol `p` has ports in its tuple (GRE keys count).
pub fn has_ports(p: u8) -> bool {
    matches!(
        p,
        proto::TCP | proto::UDP | proto::UDPLITE | proto::SCTP | proto::DCCP | proto::GRE
    )
}

/// The NAT a flow's tuples imply: source NAT when replies go to another
/// address or port than the original came from, destination NAT when they
/// come from another one than it went to.
pub fn nat_of(f: &Flow<'_>) -> (Option<NatSetup>, Option<NatSetup>) {
    let ports = f.orig.proto.is_some_and(has_ports);
    let side = |orig_addr: Option<IpAddr>,
                orig_port: Option<u16>,
                reply_addr: Option<IpAddr>,
                reply_port: Option<u16>| {
        let addr = reply_addr?;
        let port_changed = ports && reply_port.is_some() && reply_port != orig_port;
        (Some(addr) != orig_addr || port_changed).then_some(NatSetup {
            addr,
            port: if port_changed { reply_port } else { None },
        })
    };
    (
        side(f.orig.src, f.orig.src_port, f.reply.dst, f.reply.dst_port),
        side(f.orig.dst, f.orig.dst_port, f.reply.src, f.reply.src_port),
    )
}

/// The reply tuple of a connection without NAT: the original, mirrored.
pub fn mirror(t: &Tuple) -> Tuple {
    let icmp_reply = |ty: Option<u8>| {
        // Echo request → reply, timestamp, information, address mask (RFC 792);
        // ICMPv6 echo request 128 → 129.
        ty.map(|t| match t {
            8 => 0,
            13 => 14,
            15 => 16,
            17 => 18,
            128 => 129,
            other => other,
        })
    };
    Tuple {
        src: t.dst,
        dst: t.src,
        proto: t.proto,
        src_port: t.dst_port,
        dst_port: t.src_port,
        icmp_type: icmp_reply(t.icmp_type),
        icmp_code: t.icmp_code,
        icmp_id: t.icmp_id,
        zone: None,
    }
}
