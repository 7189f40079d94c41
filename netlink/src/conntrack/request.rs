//! Encoding requests: dumps (filtered), get by tuple, delete, flush, and the
//! statistics queries. Several requests can share one buffer, to be sent in
//! one `sendmsg` (the kernel processes every message of a datagram).

use std::net::IpAddr;
use std::ops::{Deref, DerefMut};

use super::attribute::*;
use super::filter::KernelFilter;
use super::message::Flow;
use super::protoinfo::{DccpInfo, ProtoInfo, SctpInfo, TcpInfo};
use super::status::Status;
use super::tuple::Tuple;
use crate::attr::AttrWriter;
use crate::header::*;

/// A buffer of one or more requests.
#[derive(Debug, Default, Clone)]
pub struct RequestBuf {
    buf: Vec<u8>,
    count: usize,
}

impl RequestBuf {
    /// An empty buffer.
    pub fn new() -> Self {
        RequestBuf::default()
    }

    /// The bytes to send.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Number of messages in the buffer.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Size in bytes.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether no message was added.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Empties the buffer, keeping its allocation.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.count = 0;
    }

    /// Starts a ctnetlink message of type `msg` (`IPCTNL_MSG_CT_*`). Append
    /// attributes through the returned writer; the length is set when it is
    /// dropped.
    pub fn message(&mut self, msg: u8, flags: u16, seq: u32, family: u8) -> MessageWriter<'_> {
        self.message_in(NFNL_SUBSYS_CTNETLINK, msg, flags, seq, family)
    }

    /// Starts a message of another nfnetlink subsystem (the expectation
    /// table's `NFNL_SUBSYS_CTNETLINK_EXP`).
    pub fn message_in(
        &mut self,
        subsys: u8,
        msg: u8,
        flags: u16,
        seq: u32,
        family: u8,
    ) -> MessageWriter<'_> {
        let start = begin_message(
            &mut self.buf,
            ((subsys as u16) << 8) | msg as u16,
            NLM_F_REQUEST | flags,
            seq,
            NfGenMsg {
                family,
                // Version 1 makes the kernel honour the family on flushes
                // (ctnetlink_del_conntrack); other requests ignore it.
                version: NFNETLINK_V1,
                res_id: 0,
            },
        );
        self.count += 1;
        MessageWriter {
            buf: &mut self.buf,
            start,
        }
    }
}

/// Appends attributes to one message; patches its length on drop.
pub struct MessageWriter<'b> {
    buf: &'b mut Vec<u8>,
    start: usize,
}

impl MessageWriter<'_> {
    /// An attribute writer for this message.
    pub fn attrs(&mut self) -> AttrWriter<'_> {
        AttrWriter::new(self.buf)
    }
}

impl Drop for MessageWriter<'_> {
    fn drop(&mut self) {
        finish_message(self.buf, self.start);
    }
}

/// A helper so call sites read `req.message(..).attrs().put(..)`.
impl<'b> Deref for MessageWriter<'b> {
    type Target = Vec<u8>;
    fn deref(&self) -> &Vec<u8> {
        self.buf
    }
}

impl<'b> DerefMut for MessageWriter<'b> {
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        self.buf
    }
}

/// Appends a dump request (`IPCTNL_MSG_CT_GET` with `NLM_F_DUMP`) for the
/// entries `filter` selects. conntrack(8): `-L`.
pub fn dump(req: &mut RequestBuf, seq: u32, filter: &KernelFilter) {
    let mut m = req.message(IPCTNL_MSG_CT_GET, NLM_F_DUMP, seq, filter.family);
    filter.encode(&mut m.attrs());
}

/// Appends a dump of one of the kernel's side lists: entries on their way
/// out (`IPCTNL_MSG_CT_GET_DYING`: destroyed, their DESTROY event not yet
/// delivered, as with reliable event delivery) or not yet in the table
/// (`IPCTNL_MSG_CT_GET_UNCONFIRMED`). Only the family is selected in the
/// kernel (`ctnetlink_dump_list`). conntrack(8): `-L dying`, `-L unconfirmed`.
pub fn dump_list(req: &mut RequestBuf, seq: u32, msg: u8, family: u8) {
    req.message(msg, NLM_F_DUMP, seq, family);
}

/// Appends a dump-and-zero-counters request (`IPCTNL_MSG_CT_GET_CTRZERO`).
/// conntrack(8): `-L -z`.
pub fn dump_zero_counters(req: &mut RequestBuf, seq: u32, filter: &KernelFilter) {
    let mut m = req.message(IPCTNL_MSG_CT_GET_CTRZERO, NLM_F_DUMP, seq, filter.family);
    filter.encode(&mut m.attrs());
}

/// Appends a request for the one entry whose original tuple is `orig`
/// (addresses, protocol and ports or ICMP fields must all be set).
/// conntrack(8): `-G`.
pub fn get(req: &mut RequestBuf, seq: u32, orig: &Tuple, zone: Option<u16>) {
    get_by(req, seq, CTA_TUPLE_ORIG, orig, zone);
}

/// Appends a request for the one entry whose reply tuple is `reply`
/// (`CTA_TUPLE_REPLY`: the kernel looks it up in the same hash, so a NATed
/// entry is found by the addresses its replies carry). conntrack(8): `-G`
/// with `-r -q`.
pub fn get_reply(req: &mut RequestBuf, seq: u32, reply: &Tuple, zone: Option<u16>) {
    get_by(req, seq, CTA_TUPLE_REPLY, reply, zone);
}

fn get_by(req: &mut RequestBuf, seq: u32, kind: u16, tuple: &Tuple, zone: Option<u16>) {
    let family = tuple.family().unwrap_or(AF_UNSPEC);
    let mut m = req.message(IPCTNL_MSG_CT_GET, NLM_F_ACK, seq, family);
    let mut w = m.attrs();
    tuple.encode(&mut w, kind);
    if let Some(z) = zone {
        w.put_be16(CTA_ZONE, z);
    }
}

/// Appends a request to delete the entry with original tuple `orig`; with
/// `id`, only if the entry found still has that id (guards against deleting
/// a newer connection that reused the tuple). Without `ack` the kernel
/// answers only on error. conntrack(8): `-D` with a full tuple.
pub fn delete(
    req: &mut RequestBuf,
    seq: u32,
    orig: &Tuple,
    zone: Option<u16>,
    id: Option<u32>,
    ack: bool,
) {
    let family = orig.family().unwrap_or(AF_UNSPEC);
    let flags = if ack { NLM_F_ACK } else { 0 };
    let mut m = req.message(IPCTNL_MSG_CT_DELETE, flags, seq, family);
    let mut w = m.attrs();
    orig.encode(&mut w, CTA_TUPLE_ORIG);
    if let Some(z) = zone {
        w.put_be16(CTA_ZONE, z);
    }
    if let Some(id) = id {
        w.put_be32(CTA_ID, id);
    }
}

/// Appends a flush request: a `DELETE` without a tuple removes every entry
/// `filter` selects (`ctnetlink_flush_conntrack`). An empty filter flushes
/// the whole table of this network namespace. conntrack(8): `-F`.
pub fn flush(req: &mut RequestBuf, seq: u32, filter: &KernelFilter) {
    let mut m = req.message(IPCTNL_MSG_CT_DELETE, NLM_F_ACK, seq, filter.family);
    filter.encode(&mut m.attrs());
}

/// Appends a `GET_STATS` request: the entry count of this network namespace
/// and the global maximum. conntrack(8): `-C`.
pub fn stats(req: &mut RequestBuf, seq: u32) {
    drop(req.message(IPCTNL_MSG_CT_GET_STATS, NLM_F_ACK, seq, AF_UNSPEC));
}

/// Appends a `GET_STATS_CPU` dump request: per-CPU counters. conntrack(8): `-S`.
pub fn stats_cpu(req: &mut RequestBuf, seq: u32) {
    drop(req.message(IPCTNL_MSG_CT_GET_STATS_CPU, NLM_F_DUMP, seq, AF_UNSPEC));
}

/// Status bits a request may set (`nf_ct_change_status_common` refuses to
/// change EXPECTED, CONFIRMED and DYING, and ignores the NAT bits).
pub const SETTABLE_STATUS: Status =
    Status(Status::SEEN_REPLY.0 | Status::ASSURED.0 | Status::FIXED_TIMEOUT.0);

/// A NAT mapping set up with an entry (`CTA_NAT_SRC` / `CTA_NAT_DST`): the
/// address (and port) the connection is translated to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NatSetup {
    /// The address translated to.
    pub addr: IpAddr,
    /// The port translated to, if it changes.
    pub port: Option<u16>,
}

impl NatSetup {
    fn encode(&self, w: &mut AttrWriter<'_>, kind: u16) {
        let n = w.begin_nested(kind);
        match self.addr {
            IpAddr::V4(a) => {
                w.put(CTA_NAT_V4_MINIP, &a.octets())
                    .put(CTA_NAT_V4_MAXIP, &a.octets());
            }
            IpAddr::V6(a) => {
                w.put(CTA_NAT_V6_MINIP, &a.octets())
                    .put(CTA_NAT_V6_MAXIP, &a.octets());
            }
        }
        if let Some(port) = self.port {
            let p = w.begin_nested(CTA_NAT_PROTO);
            w.put_be16(CTA_PROTONAT_PORT_MIN, port)
                .put_be16(CTA_PROTONAT_PORT_MAX, port);
            w.end_nested(p);
        }
        w.end_nested(n);
    }
}

/// What to create besides the flow's own attributes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CreateOptions {
    /// Source NAT to set up (the kernel marks the entry SRC_NAT_DONE).
    pub src_nat: Option<NatSetup>,
    /// Destination NAT to set up.
    pub dst_nat: Option<NatSetup>,
    /// Update the entry if it exists instead of failing with `EEXIST`.
    pub or_update: bool,
    /// Ask for an acknowledgement (single requests) rather than errors only
    /// (batches).
    pub ack: bool,
    /// Send the status exactly as given (`CTA_STATUS` only when the flow
    /// has one, every bit, plus `IPS_CONFIRMED`), as libnetfilter_conntrack
    /// does, and let the kernel refuse bits it will not set; otherwise the
    /// settable bits only, always.
    pub exact_status: bool,
}

/// `NF_CT_HELPER_NAME_LEN` (`linux/netfilter/nf_conntrack_helper.h`): a
/// helper name is at most 15 bytes and a NUL.
pub const NF_CT_HELPER_NAME_LEN: usize = 16;
/// Connection labels are 128 bits (`NF_CT_LABELS_MAX_SIZE`).
pub const NF_CT_LABELS_MAX_SIZE: usize = 16;

/// Checks the variable-length fields [`create`] sends against what the
/// kernel accepts, so a request never carries an oversized attribute (an
/// attribute length is a u16; past it the kernel would read the payload
/// as attributes). The error says which field and why.
///
/// # Errors
///
/// The first field the kernel needs that the flow lacks, as text.
pub fn check_create(flow: &Flow<'_>) -> Result<(), String> {
    if let Some(h) = &flow.helper {
        if h.len() >= NF_CT_HELPER_NAME_LEN || h.contains('\0') || h.is_empty() {
            return Err(format!(
                "helper name of {} bytes: at most {} bytes, no NUL",
                h.len(),
                NF_CT_HELPER_NAME_LEN - 1
            ));
        }
    }
    if let Some(l) = &flow.labels {
        if l.0.len() > NF_CT_LABELS_MAX_SIZE {
            return Err(format!(
                "labels of {} bits: the kernel has {}",
                l.0.len() * 8,
                NF_CT_LABELS_MAX_SIZE * 8
            ));
        }
    }
    Ok(())
}

/// Appends a request that creates `flow` (`IPCTNL_MSG_CT_NEW` with
/// `NLM_F_CREATE`, plus `NLM_F_EXCL` unless `or_update`). Sent: both tuples,
/// the settable status bits (with CONFIRMED, as the kernel expects on
/// create), the timeout, the protocol state, mark, zone, helper and labels.
/// The kernel requires both tuples and a timeout. conntrack(8): `-I`.
pub fn create(req: &mut RequestBuf, seq: u32, flow: &Flow<'_>, opts: &CreateOptions) {
    let mut flags = NLM_F_CREATE;
    if !opts.or_update {
        flags |= NLM_F_EXCL;
    }
    if opts.ack {
        flags |= NLM_F_ACK;
    }
    let family = flow.orig.family().unwrap_or(flow.family);
    let mut m = req.message(IPCTNL_MSG_CT_NEW, flags, seq, family);
    let mut w = m.attrs();
    flow.orig.encode(&mut w, CTA_TUPLE_ORIG);
    flow.reply.encode(&mut w, CTA_TUPLE_REPLY);
    if let Some(z) = flow.zone {
        w.put_be16(CTA_ZONE, z);
    }
    if opts.exact_status {
        if let Some(s) = flow.status {
            w.put_be32(CTA_STATUS, s.0 | Status::CONFIRMED.0);
        }
    } else {
        let status = flow.status.unwrap_or_default().0 & SETTABLE_STATUS.0;
        w.put_be32(CTA_STATUS, status | Status::CONFIRMED.0);
    }
    if let Some(t) = flow.timeout {
        w.put_be32(CTA_TIMEOUT, t);
    }
    if let Some(p) = state_only(flow.proto_info.as_ref()) {
        p.encode(&mut w);
    }
    if let Some(mark) = flow.mark {
        w.put_be32(CTA_MARK, mark);
    }
    if let Some(h) = &flow.helper {
        let n = w.begin_nested(CTA_HELP);
        w.put_string(CTA_HELP_NAME, h);
        w.end_nested(n);
    }
    if let Some(l) = flow.labels.as_ref().filter(|l| !l.is_empty()) {
        w.put(CTA_LABELS, &l.0);
    }
    if let Some(nat) = &opts.dst_nat {
        nat.encode(&mut w, CTA_NAT_DST);
    }
    if let Some(nat) = &opts.src_nat {
        nat.encode(&mut w, CTA_NAT_SRC);
    }
}

/// The protocol state to create with. TCP: the state alone (window scales
/// and flags belong to live connections). SCTP and DCCP: what the kernel
/// requires with it (`nlattr_to_sctp` wants both verification tags,
/// `nlattr_to_dccp` the role and handshake sequence), zero when unknown.
fn state_only(p: Option<&ProtoInfo>) -> Option<ProtoInfo> {
    Some(match p? {
        ProtoInfo::Tcp(i) => ProtoInfo::Tcp(TcpInfo {
            state: Some(i.state?),
            ..TcpInfo::default()
        }),
        ProtoInfo::Sctp(i) => ProtoInfo::Sctp(SctpInfo {
            state: Some(i.state?),
            vtag_orig: Some(i.vtag_orig.unwrap_or(0)),
            vtag_reply: Some(i.vtag_reply.unwrap_or(0)),
        }),
        ProtoInfo::Dccp(i) => ProtoInfo::Dccp(DccpInfo {
            state: Some(i.state?),
            role: Some(i.role.unwrap_or(0)),
            handshake_seq: Some(i.handshake_seq.unwrap_or(0)),
        }),
    })
}

/// Changes to an existing entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Update {
    /// New mark bits: `(value, mask)`, the kernel computes
    /// `(mark & !mask) ^ value` (`ctnetlink_change_mark`); value is masked here.
    pub mark: Option<(u32, u32)>,
    /// New timeout, seconds.
    pub timeout: Option<u32>,
    /// Label bits to write and which bits to touch (`CTA_LABELS` +
    /// `CTA_LABELS_MASK`, 16 bytes each).
    pub labels: Option<([u8; 16], [u8; 16])>,
    /// Status bits to set (`CTA_STATUS`; the kernel takes the ones that
    /// may change: SEEN_REPLY, ASSURED, FIXED_TIMEOUT, ...).
    pub status: Option<u32>,
    /// Protocol state and flags (`CTA_PROTOINFO`; `nlattr_to_tcp` takes a
    /// TCP state and flags, SCTP and DCCP want their whole set).
    pub proto_info: Option<ProtoInfo>,
}

/// Appends a request that changes the entry with original tuple `orig`
/// (`IPCTNL_MSG_CT_NEW` without `NLM_F_CREATE`: `ENOENT` when absent).
/// conntrack(8): `-U`.
pub fn update(
    req: &mut RequestBuf,
    seq: u32,
    orig: &Tuple,
    zone: Option<u16>,
    u: &Update,
    ack: bool,
) {
    let family = orig.family().unwrap_or(AF_UNSPEC);
    let mut m = req.message(
        IPCTNL_MSG_CT_NEW,
        if ack { NLM_F_ACK } else { 0 },
        seq,
        family,
    );
    let mut w = m.attrs();
    orig.encode(&mut w, CTA_TUPLE_ORIG);
    if let Some(z) = zone {
        w.put_be16(CTA_ZONE, z);
    }
    if let Some(t) = u.timeout {
        w.put_be32(CTA_TIMEOUT, t);
    }
    if let Some((value, mask)) = u.mark {
        w.put_be32(CTA_MARK, value & mask)
            .put_be32(CTA_MARK_MASK, mask);
    }
    if let Some((bits, mask)) = &u.labels {
        w.put(CTA_LABELS, bits).put(CTA_LABELS_MASK, mask);
    }
    if let Some(status) = u.status {
        w.put_be32(CTA_STATUS, status);
    }
    if let Some(p) = &u.proto_info {
        p.encode(&mut w);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attr::Attrs;
    use crate::header::Messages;

    #[test]
    fn batch_of_deletes() {
        let mut req = RequestBuf::new();
        let t = Tuple {
            src: Some("10.1.1.1".parse().unwrap()),
            dst: Some("10.1.1.2".parse().unwrap()),
            proto: Some(6),
            src_port: Some(1),
            dst_port: Some(2),
            ..Tuple::default()
        };
        for seq in 1..=3 {
            delete(&mut req, seq, &t, None, Some(seq * 10), false);
        }
        assert_eq!(req.count(), 3);
        let msgs: Vec<_> = Messages::new(req.as_bytes())
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(msgs.len(), 3);
        for (i, m) in msgs.iter().enumerate() {
            assert_eq!(m.header.msg(), IPCTNL_MSG_CT_DELETE);
            assert_eq!(m.header.flags, NLM_F_REQUEST);
            let (nfgen, attrs) = m.netfilter().unwrap();
            assert_eq!(nfgen.family, AF_INET);
            let id = Attrs::new(attrs)
                .map(Result::unwrap)
                .find(|a| a.kind == CTA_ID)
                .unwrap();
            assert_eq!(id.be32("CTA_ID").unwrap(), (i as u32 + 1) * 10);
        }
    }

    #[test]
    fn dump_request_carries_family_and_version_1() {
        let mut req = RequestBuf::new();
        dump(
            &mut req,
            5,
            &KernelFilter {
                family: AF_INET6,
                ..KernelFilter::default()
            },
        );
        let m = Messages::new(req.as_bytes()).next().unwrap().unwrap();
        assert_eq!(m.header.flags, NLM_F_REQUEST | NLM_F_DUMP);
        let (nfgen, attrs) = m.netfilter().unwrap();
        assert_eq!((nfgen.family, nfgen.version), (AF_INET6, NFNETLINK_V1));
        assert!(attrs.is_empty());
    }
}
