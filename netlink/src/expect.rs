//! The expectation table (`NFNL_SUBSYS_CTNETLINK_EXP`): connections a helper
//! (FTP, SIP, H.323, ...) announced before they arrive, so that they are
//! tracked as RELATED to their master.
//!
//! An expectation matches a new connection whose tuple equals
//! [`Expect::tuple`] on the bits set in [`Expect::mask`] (an FTP data
//! connection: any source port, one destination port). It lives until that
//! connection comes, its timeout runs out, or its master goes.

use std::net::IpAddr;

use crate::attr::{AttrWriter, Attrs};
use crate::conntrack::request::RequestBuf;
use crate::conntrack::tuple::{skip, Tuple};
use crate::error::{DecodeError, Within};
use crate::header::*;

// enum ctattr_expect, from linux/netfilter/nfnetlink_conntrack.h
/// The master entry's original tuple.
pub const CTA_EXPECT_MASTER: u16 = 1;
/// The expected tuple.
pub const CTA_EXPECT_TUPLE: u16 = 2;
/// Which bits of the expected tuple must match.
pub const CTA_EXPECT_MASK: u16 = 3;
/// Seconds left (be32).
pub const CTA_EXPECT_TIMEOUT: u16 = 4;
/// The kernel's id of the expectation (be32).
pub const CTA_EXPECT_ID: u16 = 5;
/// The helper's name (string).
pub const CTA_EXPECT_HELP_NAME: u16 = 6;
/// The zone (be16).
pub const CTA_EXPECT_ZONE: u16 = 7;
/// `NF_CT_EXPECT_*` flags (be32).
pub const CTA_EXPECT_FLAGS: u16 = 8;
/// The helper's expectation class (be32).
pub const CTA_EXPECT_CLASS: u16 = 9;
/// NAT to apply to the expected connection (nested).
pub const CTA_EXPECT_NAT: u16 = 10;
/// The helper's expectfn name (string).
pub const CTA_EXPECT_FN: u16 = 11;
/// `CTA_EXPECT_NAT`: direction (be32).
pub const CTA_EXPECT_NAT_DIR: u16 = 1;
/// `CTA_EXPECT_NAT`: the tuple to NAT to.
pub const CTA_EXPECT_NAT_TUPLE: u16 = 2;

// enum ctattr_expect_stats
/// Expectations that matched a new connection.
pub const CTA_STATS_EXP_NEW: u16 = 1;
/// Expectations created.
pub const CTA_STATS_EXP_CREATE: u16 = 2;
/// Expectations removed.
pub const CTA_STATS_EXP_DELETE: u16 = 3;

/// `NFNLGRP_CONNTRACK_EXP_NEW`: expectation created.
pub const NFNLGRP_CONNTRACK_EXP_NEW: u32 = 4;
/// `NFNLGRP_CONNTRACK_EXP_UPDATE` (unused by the kernel).
pub const NFNLGRP_CONNTRACK_EXP_UPDATE: u32 = 5;
/// `NFNLGRP_CONNTRACK_EXP_DESTROY`: expectation removed.
pub const NFNLGRP_CONNTRACK_EXP_DESTROY: u32 = 6;

/// `NF_CT_EXPECT_PERMANENT`: stays after it matched.
pub const NF_CT_EXPECT_PERMANENT: u32 = 0x1;
/// `NF_CT_EXPECT_INACTIVE`: matches nothing yet.
pub const NF_CT_EXPECT_INACTIVE: u32 = 0x2;
/// `NF_CT_EXPECT_USERSPACE`: created over ctnetlink.
pub const NF_CT_EXPECT_USERSPACE: u32 = 0x4;

/// One expectation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Expect {
    /// Address family (`nfgen_family`).
    pub family: u8,
    /// The master entry's original tuple.
    pub master: Tuple,
    /// The expected connection's tuple.
    pub tuple: Tuple,
    /// The bits of `tuple` that must match (addresses and ports as masks).
    pub mask: Tuple,
    /// Seconds left.
    pub timeout: Option<u32>,
    /// The kernel's id.
    pub id: Option<u32>,
    /// The helper that made it.
    pub helper: Option<String>,
    /// Zone.
    pub zone: Option<u16>,
    /// `NF_CT_EXPECT_*` flags.
    pub flags: u32,
    /// The helper's expectation class.
    pub class: Option<u32>,
    /// NAT for the expected connection: direction and tuple.
    pub nat: Option<(u32, Tuple)>,
    /// The helper function to run on the expected connection.
    pub func: Option<String>,
}

impl Expect {
    /// Decodes an `IPCTNL_MSG_EXP_NEW` (dump, get, event) or
    /// `IPCTNL_MSG_EXP_DELETE` (event) message.
    ///
    /// # Errors
    ///
    /// A [`DecodeError`](crate::error::DecodeError) naming the attribute path
    /// when the message is truncated or malformed.
    pub fn decode(msg: &Message<'_>) -> Result<Expect, DecodeError> {
        let (nfgen, attrs) = msg.netfilter()?;
        let mut e = Expect {
            family: nfgen.family,
            ..Expect::default()
        };
        for attr in Attrs::new(attrs) {
            let attr = attr.within("expectation")?;
            match attr.kind {
                CTA_EXPECT_MASTER => e.master = Tuple::decode(attr, "CTA_EXPECT_MASTER")?,
                CTA_EXPECT_TUPLE => e.tuple = Tuple::decode(attr, "CTA_EXPECT_TUPLE")?,
                CTA_EXPECT_MASK => e.mask = Tuple::decode(attr, "CTA_EXPECT_MASK")?,
                CTA_EXPECT_TIMEOUT => e.timeout = Some(attr.be32("CTA_EXPECT_TIMEOUT")?),
                CTA_EXPECT_ID => e.id = Some(attr.be32("CTA_EXPECT_ID")?),
                CTA_EXPECT_HELP_NAME => {
                    e.helper = Some(attr.string("CTA_EXPECT_HELP_NAME")?.to_string())
                }
                CTA_EXPECT_ZONE => e.zone = Some(attr.be16("CTA_EXPECT_ZONE")?),
                CTA_EXPECT_FLAGS => e.flags = attr.be32("CTA_EXPECT_FLAGS")?,
                CTA_EXPECT_CLASS => e.class = Some(attr.be32("CTA_EXPECT_CLASS")?),
                CTA_EXPECT_FN => e.func = Some(attr.string("CTA_EXPECT_FN")?.to_string()),
                CTA_EXPECT_NAT => {
                    let mut dir = 0;
                    let mut t = Tuple::default();
                    for a in attr.nested() {
                        let a = a.within("CTA_EXPECT_NAT")?;
                        match a.kind {
                            CTA_EXPECT_NAT_DIR => dir = a.be32("CTA_EXPECT_NAT_DIR")?,
                            CTA_EXPECT_NAT_TUPLE => t = Tuple::decode(a, "CTA_EXPECT_NAT_TUPLE")?,
                            other => skip("CTA_EXPECT_NAT", other),
                        }
                    }
                    e.nat = Some((dir, t));
                }
                other => skip("expectation", other),
            }
        }
        Ok(e)
    }

    /// The flag names conntrack(8) prints: `PERMANENT`, `INACTIVE`, `USERSPACE`.
    pub fn flag_names(&self) -> Vec<&'static str> {
        [
            (NF_CT_EXPECT_PERMANENT, "PERMANENT"),
            (NF_CT_EXPECT_INACTIVE, "INACTIVE"),
            (NF_CT_EXPECT_USERSPACE, "USERSPACE"),
        ]
        .iter()
        .filter(|(bit, _)| self.flags & bit != 0)
        .map(|(_, name)| *name)
        .collect()
    }
}

/// What happened to an expectation (`IPCTNL_MSG_EXP_NEW` or
/// `IPCTNL_MSG_EXP_DELETE` on the expectation groups).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectEvent {
    /// Created.
    New,
    /// Removed.
    Destroy,
}

/// Whether a message is an expectation (`IPCTNL_MSG_EXP_NEW` or
/// `IPCTNL_MSG_EXP_DELETE` of the expectation subsystem).
pub fn is_expect(msg: &Message<'_>) -> bool {
    msg.header.subsys() == NFNL_SUBSYS_CTNETLINK_EXP
        && matches!(msg.header.msg(), IPCTNL_MSG_EXP_NEW | IPCTNL_MSG_EXP_DELETE)
}

fn family_of(t: &Tuple, fallback: u8) -> u8 {
    t.family().unwrap_or(fallback)
}

/// Appends a dump of the expectation table; `family` 0 means both
/// (`ctnetlink_exp_dump_table`). conntrack(8): `-L expect`.
pub fn dump(req: &mut RequestBuf, seq: u32, family: u8) {
    req.message_in(
        NFNL_SUBSYS_CTNETLINK_EXP,
        IPCTNL_MSG_EXP_GET,
        NLM_F_DUMP,
        seq,
        family,
    );
}

/// Appends a request for the expectation that `tuple` matches (under the
/// expectation's own mask). conntrack(8): `-G expect`.
pub fn get(req: &mut RequestBuf, seq: u32, tuple: &Tuple, zone: Option<u16>) {
    let mut m = req.message_in(
        NFNL_SUBSYS_CTNETLINK_EXP,
        IPCTNL_MSG_EXP_GET,
        NLM_F_ACK,
        seq,
        family_of(tuple, AF_INET),
    );
    let mut w = m.attrs();
    tuple.encode(&mut w, CTA_EXPECT_TUPLE);
    if let Some(z) = zone {
        w.put_be16(CTA_EXPECT_ZONE, z);
    }
}

/// Appends a delete of the expectation that `tuple` matches, only if its
/// id is still `id` when given. conntrack(8): `-D expect`.
pub fn delete(req: &mut RequestBuf, seq: u32, tuple: &Tuple, zone: Option<u16>, id: Option<u32>) {
    let mut m = req.message_in(
        NFNL_SUBSYS_CTNETLINK_EXP,
        IPCTNL_MSG_EXP_DELETE,
        NLM_F_ACK,
        seq,
        family_of(tuple, AF_INET),
    );
    let mut w = m.attrs();
    tuple.encode(&mut w, CTA_EXPECT_TUPLE);
    if let Some(z) = zone {
        w.put_be16(CTA_EXPECT_ZONE, z);
    }
    if let Some(id) = id {
        w.put_be32(CTA_EXPECT_ID, id);
    }
}

/// Appends a flush of the whole expectation table of the namespace (the
/// kernel ignores the family here). conntrack(8): `-F expect`.
pub fn flush(req: &mut RequestBuf, seq: u32) {
    req.message_in(
        NFNL_SUBSYS_CTNETLINK_EXP,
        IPCTNL_MSG_EXP_DELETE,
        NLM_F_ACK,
        seq,
        AF_UNSPEC,
    );
}

/// Appends a create of `e`: its master (an entry with a helper attached),
/// tuple, mask and timeout are required; zone, flags, class, helper name
/// and NAT are sent when set. conntrack(8): `-I expect`.
pub fn create(req: &mut RequestBuf, seq: u32, e: &Expect) {
    let family = family_of(&e.tuple, family_of(&e.master, e.family));
    let mut m = req.message_in(
        NFNL_SUBSYS_CTNETLINK_EXP,
        IPCTNL_MSG_EXP_NEW,
        NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
        seq,
        family,
    );
    let mut w = m.attrs();
    e.master.encode(&mut w, CTA_EXPECT_MASTER);
    e.tuple.encode(&mut w, CTA_EXPECT_TUPLE);
    e.mask.encode(&mut w, CTA_EXPECT_MASK);
    w.put_be32(CTA_EXPECT_TIMEOUT, e.timeout.unwrap_or(0));
    if let Some(z) = e.zone {
        w.put_be16(CTA_EXPECT_ZONE, z);
    }
    if e.flags != 0 {
        w.put_be32(CTA_EXPECT_FLAGS, e.flags);
    }
    if let Some(c) = e.class {
        w.put_be32(CTA_EXPECT_CLASS, c);
    }
    if let Some(h) = &e.helper {
        w.put_string(CTA_EXPECT_HELP_NAME, h);
    }
    if let Some((dir, t)) = &e.nat {
        encode_nat(&mut w, *dir, t);
    }
}

fn encode_nat(w: &mut AttrWriter<'_>, dir: u32, t: &Tuple) {
    let n = w.begin_nested(CTA_EXPECT_NAT);
    w.put_be32(CTA_EXPECT_NAT_DIR, dir);
    t.encode(w, CTA_EXPECT_NAT_TUPLE);
    w.end_nested(n);
}

/// Appends a `IPCTNL_MSG_EXP_GET_STATS_CPU` dump: per-CPU expectation
/// counters. conntrack(8): `-S expect`.
pub fn stats_cpu(req: &mut RequestBuf, seq: u32) {
    req.message_in(
        NFNL_SUBSYS_CTNETLINK_EXP,
        IPCTNL_MSG_EXP_GET_STATS_CPU,
        NLM_F_DUMP,
        seq,
        AF_UNSPEC,
    );
}

/// One CPU's expectation counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExpCpuStats {
    /// The CPU number.
    pub cpu: u16,
    /// Expectations that a new connection matched.
    pub new: u32,
    /// Expectations created.
    pub create: u32,
    /// Expectations removed.
    pub delete: u32,
}

impl ExpCpuStats {
    /// Adds another CPU's counters to these (the sum keeps `cpu` 0).
    pub fn add(&mut self, o: &ExpCpuStats) {
        self.new = self.new.wrapping_add(o.new);
        self.create = self.create.wrapping_add(o.create);
        self.delete = self.delete.wrapping_add(o.delete);
    }

    /// Decodes one `GET_STATS_CPU` message of the expectation subsystem.
    ///
    /// # Errors
    ///
    /// A [`DecodeError`](crate::error::DecodeError) naming the attribute path
    /// when the message is truncated or malformed.
    pub fn decode(msg: &Message<'_>) -> Result<ExpCpuStats, DecodeError> {
        let (nfgen, attrs) = msg.netfilter()?;
        let mut s = ExpCpuStats {
            cpu: nfgen.res_id,
            ..ExpCpuStats::default()
        };
        for attr in Attrs::new(attrs) {
            let attr = attr.within("EXP_GET_STATS_CPU")?;
            match attr.kind {
                CTA_STATS_EXP_NEW => s.new = attr.be32("CTA_STATS_EXP_NEW")?,
                CTA_STATS_EXP_CREATE => s.create = attr.be32("CTA_STATS_EXP_CREATE")?,
                CTA_STATS_EXP_DELETE => s.delete = attr.be32("CTA_STATS_EXP_DELETE")?,
                other => skip("EXP_GET_STATS_CPU", other),
            }
        }
        Ok(s)
    }
}

/// The mask an expectation gets when none is given: every bit of the
/// addresses and ports that `t` sets.
pub fn full_mask(t: &Tuple) -> Tuple {
    let ones = |a: Option<IpAddr>| {
        a.map(|a| match a {
            IpAddr::V4(_) => IpAddr::V4(std::net::Ipv4Addr::BROADCAST),
            IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::from(u128::MAX)),
        })
    };
    Tuple {
        src: ones(t.src),
        dst: ones(t.dst),
        proto: t.proto,
        src_port: t.src_port.map(|_| u16::MAX),
        dst_port: t.dst_port.map(|_| u16::MAX),
        ..Tuple::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::Messages;

    #[test]
    fn create_request_round_trips_through_the_decoder() {
        let tuple = |src: &str, dst: &str, sport, dport| Tuple {
            src: Some(src.parse().unwrap()),
            dst: Some(dst.parse().unwrap()),
            proto: Some(6),
            src_port: Some(sport),
            dst_port: Some(dport),
            ..Tuple::default()
        };
        let e = Expect {
            family: AF_INET,
            master: tuple("10.0.0.1", "10.0.0.2", 40000, 21),
            tuple: tuple("10.0.0.1", "10.0.0.2", 0, 50000),
            mask: tuple("255.255.255.255", "255.255.255.255", 0, 0xffff),
            timeout: Some(200),
            zone: Some(7),
            flags: NF_CT_EXPECT_PERMANENT,
            class: Some(1),
            helper: Some("ftp".into()),
            nat: Some((
                1,
                Tuple {
                    dst: Some("192.0.2.1".parse().unwrap()),
                    proto: Some(6),
                    dst_port: Some(2121),
                    ..Tuple::default()
                },
            )),
            ..Expect::default()
        };
        let mut req = RequestBuf::new();
        create(&mut req, 9, &e);
        let msg = Messages::new(req.as_bytes()).next().unwrap().unwrap();
        assert_eq!(msg.header.subsys(), NFNL_SUBSYS_CTNETLINK_EXP);
        assert_eq!(msg.header.msg(), IPCTNL_MSG_EXP_NEW);
        assert!(is_expect(&msg));
        let back = Expect::decode(&msg).unwrap();
        assert_eq!(back, e);
        assert_eq!(back.flag_names(), ["PERMANENT"]);
    }

    #[test]
    fn full_mask_sets_every_given_bit() {
        let t = Tuple {
            src: Some("::1".parse().unwrap()),
            dst: Some("::2".parse().unwrap()),
            proto: Some(17),
            dst_port: Some(5060),
            ..Tuple::default()
        };
        let m = full_mask(&t);
        assert_eq!(
            m.src,
            Some("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff".parse().unwrap())
        );
        assert_eq!(m.src_port, None);
        assert_eq!(m.dst_port, Some(0xffff));
    }
}
