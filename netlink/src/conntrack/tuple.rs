//! Connection tuples (`CTA_TUPLE_ORIG`, `CTA_TUPLE_REPLY`, `CTA_TUPLE_MASTER`):
//! addresses, layer-4 protocol and ports or ICMP fields, and the tuple zone.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::attribute::*;
use crate::attr::{Attr, AttrWriter};
use crate::error::{DecodeError, Within};

/// `IPPROTO_*` numbers, from `netinet/in.h`.
pub mod proto {
    /// `IPPROTO_ICMP`.
    pub const ICMP: u8 = 1;
    /// `IPPROTO_TCP`.
    pub const TCP: u8 = 6;
    /// `IPPROTO_UDP`.
    pub const UDP: u8 = 17;
    /// `IPPROTO_DCCP`.
    pub const DCCP: u8 = 33;
    /// `IPPROTO_GRE`.
    pub const GRE: u8 = 47;
    /// `IPPROTO_ICMPV6`.
    pub const ICMPV6: u8 = 58;
    /// `IPPROTO_SCTP`.
    pub const SCTP: u8 = 132;
    /// `IPPROTO_UDPLITE`.
    pub const UDPLITE: u8 = 136;

    /// Layer-4 protocol names as conntrack(8) prints them.
    pub const NAMES: [(u8, &str); 8] = [
        (TCP, "tcp"),
        (UDP, "udp"),
        (UDPLITE, "udplite"),
        (ICMP, "icmp"),
        (ICMPV6, "icmpv6"),
        (SCTP, "sctp"),
        (GRE, "gre"),
        (DCCP, "dccp"),
    ];

    /// The name conntrack(8) prints for protocol `num` (`unknown` for the
    /// rest).
    pub fn name(num: u8) -> &'static str {
        NAMES
            .iter()
            .find(|(n, _)| *n == num)
            .map_or("unknown", |(_, s)| *s)
    }
}

/// conntrack's text form of one direction: `src=A dst=B` and the ports
/// (`sport= dport=`), GRE keys (`srckey= dstkey=`) or ICMP fields
/// (`type= code= id=`), then the direction's own zone (`zone=`).
impl std::fmt::Display for Tuple {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let addr = |a: Option<IpAddr>| a.map_or_else(|| "?".to_string(), |a| a.to_string());
        write!(f, "src={} dst={}", addr(self.src), addr(self.dst))?;
        match self.proto {
            Some(proto::ICMP | proto::ICMPV6) => write!(
                f,
                " type={} code={} id={}",
                self.icmp_type.unwrap_or(0),
                self.icmp_code.unwrap_or(0),
                self.icmp_id.unwrap_or(0)
            )?,
            Some(proto::GRE) => write!(
                f,
                " srckey=0x{:x} dstkey=0x{:x}",
                self.src_port.unwrap_or(0),
                self.dst_port.unwrap_or(0)
            )?,
            _ => {
                if let (Some(s), Some(d)) = (self.src_port, self.dst_port) {
                    write!(f, " sport={s} dport={d}")?;
                }
            }
        }
        if let Some(z) = self.zone {
            write!(f, " zone={z}")?;
        }
        Ok(())
    }
}

/// One direction of a connection. Fields the kernel did not send are `None`.
///
/// For TCP, UDP, UDP-Lite, SCTP and DCCP the ports are set; for GRE the
/// ports carry the keys; for ICMP and ICMPv6 `icmp_type`, `icmp_code` and
/// `icmp_id` are set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Tuple {
    /// Source address.
    pub src: Option<IpAddr>,
    /// Destination address.
    pub dst: Option<IpAddr>,
    /// Layer-4 protocol number (`CTA_PROTO_NUM`).
    pub proto: Option<u8>,
    /// Source port (GRE: source key).
    pub src_port: Option<u16>,
    /// Destination port (GRE: destination key).
    pub dst_port: Option<u16>,
    /// ICMP / ICMPv6 type.
    pub icmp_type: Option<u8>,
    /// ICMP / ICMPv6 code.
    pub icmp_code: Option<u8>,
    /// ICMP / ICMPv6 identifier.
    pub icmp_id: Option<u16>,
    /// Directional zone (`CTA_TUPLE_ZONE`), Linux 4.6+.
    pub zone: Option<u16>,
}

impl Tuple {
    /// Decodes the payload of a tuple attribute. `name` is the enclosing
    /// attribute, for error paths.
    ///
    /// # Errors
    ///
    /// A [`DecodeError`](crate::error::DecodeError) naming the attribute path
    /// when the message is truncated or malformed.
    pub fn decode(outer: Attr<'_>, name: &'static str) -> Result<Tuple, DecodeError> {
        let mut t = Tuple::default();
        for attr in outer.nested() {
            let attr = attr.within(name)?;
            match attr.kind {
                CTA_TUPLE_IP => t.decode_ip(attr).within("CTA_TUPLE_IP").within(name)?,
                CTA_TUPLE_PROTO => t
                    .decode_proto(attr)
                    .within("CTA_TUPLE_PROTO")
                    .within(name)?,
                CTA_TUPLE_ZONE => t.zone = Some(attr.be16("CTA_TUPLE_ZONE").within(name)?),
                other => skip(name, other),
            }
        }
        Ok(t)
    }

    #[inline]
    fn decode_ip(&mut self, outer: Attr<'_>) -> Result<(), DecodeError> {
        for attr in outer.nested() {
            let attr = attr?;
            match attr.kind {
                CTA_IP_V4_SRC => {
                    self.src = Some(IpAddr::V4(Ipv4Addr::from(
                        attr.array::<4>("CTA_IP_V4_SRC")?,
                    )))
                }
                CTA_IP_V4_DST => {
                    self.dst = Some(IpAddr::V4(Ipv4Addr::from(
                        attr.array::<4>("CTA_IP_V4_DST")?,
                    )))
                }
                CTA_IP_V6_SRC => {
                    self.src = Some(IpAddr::V6(Ipv6Addr::from(
                        attr.array::<16>("CTA_IP_V6_SRC")?,
                    )))
                }
                CTA_IP_V6_DST => {
                    self.dst = Some(IpAddr::V6(Ipv6Addr::from(
                        attr.array::<16>("CTA_IP_V6_DST")?,
                    )))
                }
                other => skip("CTA_TUPLE_IP", other),
            }
        }
        Ok(())
    }

    #[inline]
    fn decode_proto(&mut self, outer: Attr<'_>) -> Result<(), DecodeError> {
        for attr in outer.nested() {
            let attr = attr?;
            match attr.kind {
                CTA_PROTO_NUM => self.proto = Some(attr.u8("CTA_PROTO_NUM")?),
                CTA_PROTO_SRC_PORT => self.src_port = Some(attr.be16("CTA_PROTO_SRC_PORT")?),
                CTA_PROTO_DST_PORT => self.dst_port = Some(attr.be16("CTA_PROTO_DST_PORT")?),
                CTA_PROTO_ICMP_ID => self.icmp_id = Some(attr.be16("CTA_PROTO_ICMP_ID")?),
                CTA_PROTO_ICMP_TYPE => self.icmp_type = Some(attr.u8("CTA_PROTO_ICMP_TYPE")?),
                CTA_PROTO_ICMP_CODE => self.icmp_code = Some(attr.u8("CTA_PROTO_ICMP_CODE")?),
                CTA_PROTO_ICMPV6_ID => self.icmp_id = Some(attr.be16("CTA_PROTO_ICMPV6_ID")?),
                CTA_PROTO_ICMPV6_TYPE => self.icmp_type = Some(attr.u8("CTA_PROTO_ICMPV6_TYPE")?),
                CTA_PROTO_ICMPV6_CODE => self.icmp_code = Some(attr.u8("CTA_PROTO_ICMPV6_CODE")?),
                other => skip("CTA_TUPLE_PROTO", other),
            }
        }
        Ok(())
    }

    /// The address family of the tuple's addresses (`AF_INET` / `AF_INET6`),
    /// if it has any.
    pub fn family(&self) -> Option<u8> {
        match self.src.or(self.dst)? {
            IpAddr::V4(_) => Some(crate::header::AF_INET),
            IpAddr::V6(_) => Some(crate::header::AF_INET6),
        }
    }

    /// Encodes the tuple as the nested attribute `kind` (`CTA_TUPLE_ORIG`,
    /// `CTA_TUPLE_REPLY`, `CTA_TUPLE_MASTER`), writing only the fields that
    /// are set. ICMPv6 fields are written with the ICMPv6 attribute numbers
    /// when the protocol is ICMPv6.
    pub fn encode(&self, w: &mut AttrWriter<'_>, kind: u16) {
        let outer = w.begin_nested(kind);
        if self.src.is_some() || self.dst.is_some() {
            let ip = w.begin_nested(CTA_TUPLE_IP);
            for (addr, v4, v6) in [
                (self.src, CTA_IP_V4_SRC, CTA_IP_V6_SRC),
                (self.dst, CTA_IP_V4_DST, CTA_IP_V6_DST),
            ] {
                match addr {
                    Some(IpAddr::V4(a)) => {
                        w.put(v4, &a.octets());
                    }
                    Some(IpAddr::V6(a)) => {
                        w.put(v6, &a.octets());
                    }
                    None => {}
                }
            }
            w.end_nested(ip);
        }
        if self.proto.is_some()
            || self.src_port.is_some()
            || self.dst_port.is_some()
            || self.icmp_type.is_some()
            || self.icmp_code.is_some()
            || self.icmp_id.is_some()
        {
            let p = w.begin_nested(CTA_TUPLE_PROTO);
            if let Some(n) = self.proto {
                w.put_u8(CTA_PROTO_NUM, n);
            }
            if let Some(port) = self.src_port {
                w.put_be16(CTA_PROTO_SRC_PORT, port);
            }
            if let Some(port) = self.dst_port {
                w.put_be16(CTA_PROTO_DST_PORT, port);
            }
            let (id, ty, code) = if self.proto == Some(proto::ICMPV6) {
                (
                    CTA_PROTO_ICMPV6_ID,
                    CTA_PROTO_ICMPV6_TYPE,
                    CTA_PROTO_ICMPV6_CODE,
                )
            } else {
                (CTA_PROTO_ICMP_ID, CTA_PROTO_ICMP_TYPE, CTA_PROTO_ICMP_CODE)
            };
            if let Some(v) = self.icmp_id {
                w.put_be16(id, v);
            }
            if let Some(v) = self.icmp_type {
                w.put_u8(ty, v);
            }
            if let Some(v) = self.icmp_code {
                w.put_u8(code, v);
            }
            w.end_nested(p);
        }
        if let Some(zone) = self.zone {
            w.put_be16(CTA_TUPLE_ZONE, zone);
        }
        w.end_nested(outer);
    }
}

/// Unknown attributes are skipped: newer kernels add them, and they must
/// never make a dump fail.
#[cold]
pub(crate) fn skip(parent: &'static str, kind: u16) {
    tracing::debug!(parent, kind, "skipping unknown attribute");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attr::Attrs;

    fn round_trip(t: Tuple) -> Tuple {
        let mut buf = Vec::new();
        t.encode(&mut AttrWriter::new(&mut buf), CTA_TUPLE_ORIG);
        let attr = Attrs::new(&buf).next().unwrap().unwrap();
        assert_eq!(attr.kind, CTA_TUPLE_ORIG);
        Tuple::decode(attr, "CTA_TUPLE_ORIG").unwrap()
    }

    #[test]
    fn tcp_v4() {
        let t = Tuple {
            src: Some("10.0.0.1".parse().unwrap()),
            dst: Some("10.0.0.2".parse().unwrap()),
            proto: Some(proto::TCP),
            src_port: Some(40000),
            dst_port: Some(443),
            zone: Some(7),
            ..Tuple::default()
        };
        assert_eq!(round_trip(t), t);
        assert_eq!(t.family(), Some(crate::header::AF_INET));
    }

    #[test]
    fn icmpv6_uses_icmpv6_attributes() {
        let t = Tuple {
            src: Some("2001:db8::1".parse().unwrap()),
            dst: Some("2001:db8::2".parse().unwrap()),
            proto: Some(proto::ICMPV6),
            icmp_type: Some(128),
            icmp_code: Some(0),
            icmp_id: Some(99),
            ..Tuple::default()
        };
        let mut buf = Vec::new();
        t.encode(&mut AttrWriter::new(&mut buf), CTA_TUPLE_REPLY);
        let outer = Attrs::new(&buf).next().unwrap().unwrap();
        let proto_attr = outer
            .nested()
            .map(Result::unwrap)
            .find(|a| a.kind == CTA_TUPLE_PROTO)
            .unwrap();
        let kinds: Vec<u16> = proto_attr.nested().map(|a| a.unwrap().kind).collect();
        assert_eq!(
            kinds,
            [
                CTA_PROTO_NUM,
                CTA_PROTO_ICMPV6_ID,
                CTA_PROTO_ICMPV6_TYPE,
                CTA_PROTO_ICMPV6_CODE
            ]
        );
        assert_eq!(round_trip(t), t);
    }

    #[test]
    fn bad_address_length_names_the_path() {
        let mut buf = Vec::new();
        let mut w = AttrWriter::new(&mut buf);
        let o = w.begin_nested(CTA_TUPLE_ORIG);
        let ip = w.begin_nested(CTA_TUPLE_IP);
        w.put(CTA_IP_V4_SRC, &[1, 2, 3]);
        w.end_nested(ip);
        w.end_nested(o);
        let attr = Attrs::new(&buf).next().unwrap().unwrap();
        let e = Tuple::decode(attr, "CTA_TUPLE_ORIG").unwrap_err();
        assert_eq!(
            e.path().to_string(),
            "CTA_TUPLE_ORIG/CTA_TUPLE_IP/CTA_IP_V4_SRC"
        );
    }
}
