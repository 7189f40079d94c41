//! Kernel-side selection of entries, for dumps (`ctnetlink_start`) and
//! filtered flushes (`ctnetlink_flush_conntrack`); both use
//! `ctnetlink_alloc_filter` and `ctnetlink_filter_match`.
//!
//! What the kernel can compare, and since when:
//! - the family, from `nfgenmsg` (dumps always; flushes only with
//!   `NFNETLINK_V1` or a `CTA_FILTER`);
//! - `CTA_MARK` + `CTA_MARK_MASK` (2.6.x);
//! - `CTA_FILTER` with tuple fields of `CTA_TUPLE_ORIG` / `CTA_TUPLE_REPLY`
//!   (5.8+): addresses (needs a family), protocol number, ports (TCP and
//!   UDP only: other protocols' ports are not compared), ICMP / ICMPv6
//!   type, code and id;
//! - `CTA_STATUS` + `CTA_STATUS_MASK` (5.15+);
//! - `CTA_ZONE` (6.8+).
//!
//! Older kernels ignore attributes they do not know, so a dump filter is
//! an optimisation: callers must match the same criteria again in userspace.

use super::attribute::filter_flags::*;
use super::attribute::*;
use super::tuple::{proto, Tuple};
use crate::attr::AttrWriter;

/// What to ask the kernel to select. Tuple fields that are `Some` in
/// [`KernelFilter::orig`] / [`KernelFilter::reply`] are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KernelFilter {
    /// `AF_INET`, `AF_INET6`, or 0 for both. Must be set when a tuple field
    /// is compared (the kernel compares addresses per family and rejects a
    /// `CTA_FILTER` without one).
    pub family: u8,
    /// Fields of the original tuple to compare.
    pub orig: Tuple,
    /// Fields of the reply tuple to compare.
    pub reply: Tuple,
    /// Mark value and mask: matches when `mark & mask == value`.
    pub mark: Option<(u32, u32)>,
    /// Status value and mask: matches when `status & mask == value` (5.15+).
    pub status: Option<(u32, u32)>,
    /// Zone id (6.8+).
    pub zone: Option<u16>,
}

impl KernelFilter {
    /// Whether the filter selects anything narrower than the whole table.
    pub fn is_empty(&self) -> bool {
        self.family == 0
            && tuple_flags(&self.orig) == 0
            && tuple_flags(&self.reply) == 0
            && self.mark.is_none()
            && self.status.is_none()
            && self.zone.is_none()
    }

    /// Whether the filter needs `CTA_FILTER` (Linux 5.8+).
    pub fn uses_tuple_filter(&self) -> bool {
        tuple_flags(&self.orig) != 0 || tuple_flags(&self.reply) != 0
    }

    /// Appends the filter attributes to a dump or flush request.
    pub fn encode(&self, w: &mut AttrWriter<'_>) {
        let orig_flags = tuple_flags(&self.orig);
        let reply_flags = tuple_flags(&self.reply);
        if orig_flags != 0 {
            self.orig.encode(w, CTA_TUPLE_ORIG);
        }
        if reply_flags != 0 {
            self.reply.encode(w, CTA_TUPLE_REPLY);
        }
        if orig_flags != 0 || reply_flags != 0 {
            let n = w.begin_nested(CTA_FILTER);
            if orig_flags != 0 {
                w.put_u32_host(CTA_FILTER_ORIG_FLAGS, orig_flags);
            }
            if reply_flags != 0 {
                w.put_u32_host(CTA_FILTER_REPLY_FLAGS, reply_flags);
            }
            w.end_nested(n);
        }
        if let Some((value, mask)) = self.mark {
            w.put_be32(CTA_MARK, value).put_be32(CTA_MARK_MASK, mask);
        }
        if let Some((value, mask)) = self.status {
            w.put_be32(CTA_STATUS, value)
                .put_be32(CTA_STATUS_MASK, mask);
        }
        if let Some(zone) = self.zone {
            w.put_be16(CTA_ZONE, zone);
        }
    }
}

/// The `CTA_FILTER_F_*` flags for the fields set in `t`.
pub fn tuple_flags(t: &Tuple) -> u32 {
    let mut f = 0;
    if t.src.is_some() {
        f |= CTA_FILTER_F_CTA_IP_SRC;
    }
    if t.dst.is_some() {
        f |= CTA_FILTER_F_CTA_IP_DST;
    }
    if t.proto.is_some() {
        f |= CTA_FILTER_F_CTA_PROTO_NUM;
    }
    if t.src_port.is_some() {
        f |= CTA_FILTER_F_CTA_PROTO_SRC_PORT;
    }
    if t.dst_port.is_some() {
        f |= CTA_FILTER_F_CTA_PROTO_DST_PORT;
    }
    let v6 = t.proto == Some(proto::ICMPV6);
    if t.icmp_type.is_some() {
        f |= if v6 {
            CTA_FILTER_F_CTA_PROTO_ICMPV6_TYPE
        } else {
            CTA_FILTER_F_CTA_PROTO_ICMP_TYPE
        };
    }
    if t.icmp_code.is_some() {
        f |= if v6 {
            CTA_FILTER_F_CTA_PROTO_ICMPV6_CODE
        } else {
            CTA_FILTER_F_CTA_PROTO_ICMP_CODE
        };
    }
    if t.icmp_id.is_some() {
        f |= if v6 {
            CTA_FILTER_F_CTA_PROTO_ICMPV6_ID
        } else {
            CTA_FILTER_F_CTA_PROTO_ICMP_ID
        };
    }
    if t.zone.is_some() {
        f |= CTA_FILTER_F_CTA_TUPLE_ZONE;
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attr::Attrs;

    #[test]
    fn encodes_flags_for_set_fields() {
        let f = KernelFilter {
            family: crate::header::AF_INET,
            orig: Tuple {
                src: Some("192.0.2.1".parse().unwrap()),
                proto: Some(proto::UDP),
                dst_port: Some(53),
                ..Tuple::default()
            },
            mark: Some((1, 0xff)),
            ..KernelFilter::default()
        };
        let mut buf = Vec::new();
        f.encode(&mut AttrWriter::new(&mut buf));
        let attrs: Vec<_> = Attrs::new(&buf).map(Result::unwrap).collect();
        let kinds: Vec<u16> = attrs.iter().map(|a| a.kind).collect();
        assert_eq!(kinds, [CTA_TUPLE_ORIG, CTA_FILTER, CTA_MARK, CTA_MARK_MASK]);
        let flt = attrs[1].nested().next().unwrap().unwrap();
        assert_eq!(flt.kind, CTA_FILTER_ORIG_FLAGS);
        // CTA_FILTER flags are NLA_U32: host byte order.
        assert_eq!(
            u32::from_ne_bytes(flt.value.try_into().unwrap()),
            CTA_FILTER_F_CTA_IP_SRC | CTA_FILTER_F_CTA_PROTO_NUM | CTA_FILTER_F_CTA_PROTO_DST_PORT
        );
    }

    #[test]
    fn empty_filter() {
        assert!(KernelFilter::default().is_empty());
        let mut buf = Vec::new();
        KernelFilter::default().encode(&mut AttrWriter::new(&mut buf));
        assert!(buf.is_empty());
    }
}
