//! One conntrack entry as the kernel describes it (`IPCTNL_MSG_CT_NEW` in a
//! dump, a get reply, or an event; `IPCTNL_MSG_CT_DELETE` in a destroy event).
//!
//! [`Flow`] borrows its variable-length parts (helper name, security
//! context, labels) from the receive buffer, so decoding allocates nothing;
//! [`Flow::into_owned`] detaches it from the buffer.

use std::borrow::Cow;

use super::attribute::*;
use super::counters::{Counters, Timestamp};
use super::protoinfo::ProtoInfo;
use super::status::Status;
use super::tuple::{skip, Tuple};
use crate::attr::{Attr, AttrWriter, Attrs};
use crate::error::{DecodeError, Within};
use crate::header::{Message, NfGenMsg};

/// TCP sequence-number adjustment of one direction (`CTA_SEQ_ADJ_*`), set by
/// NAT helpers that change payload sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SeqAdj {
    /// Sequence number from which the offsets apply.
    pub correction_pos: u32,
    /// Offset for sequence numbers before `correction_pos`.
    pub offset_before: u32,
    /// Offset for sequence numbers after it.
    pub offset_after: u32,
}

/// SYN proxy state (`CTA_SYNPROXY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Synproxy {
    /// Initial sequence number of the proxied connection.
    pub isn: u32,
    /// Initial timestamp.
    pub its: u32,
    /// Timestamp offset.
    pub tsoff: u32,
}

/// Connection labels (`CTA_LABELS`): a 128-bit mask, bit `n` meaning label
/// `n` of `connlabel.conf`. The kernel sends the `unsigned long` words of
/// `struct nf_conn_labels` in host order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Labels<'a>(pub Cow<'a, [u8]>);

impl Labels<'_> {
    /// The numbers of the labels that are set, lowest first.
    pub fn bits(&self) -> impl Iterator<Item = u32> + '_ {
        let word = std::mem::size_of::<libc::c_ulong>();
        self.0.chunks(word).enumerate().flat_map(move |(w, chunk)| {
            let mut bytes = [0u8; 8];
            bytes[..chunk.len()].copy_from_slice(chunk);
            let value = if cfg!(target_endian = "little") {
                u64::from_le_bytes(bytes)
            } else {
                u64::from_be_bytes(bytes) >> (8 * (8 - chunk.len()))
            };
            (0..(chunk.len() * 8) as u32)
                .filter(move |b| value & (1u64 << b) != 0)
                .map(move |b| w as u32 * (word as u32 * 8) + b)
        })
    }

    /// A label mask with the given bits set, in the kernel's layout
    /// (16 bytes, host-order words).
    pub fn from_bits(bits: impl IntoIterator<Item = u32>) -> Labels<'static> {
        let word = std::mem::size_of::<libc::c_ulong>();
        let mut bytes = vec![0u8; 16];
        for bit in bits {
            if bit >= 128 {
                continue;
            }
            let w = bit as usize / (word * 8);
            let b = bit as usize % (word * 8);
            let byte = if cfg!(target_endian = "little") {
                w * word + b / 8
            } else {
                w * word + (word - 1 - b / 8)
            };
            bytes[byte] |= 1 << (b % 8);
        }
        Labels(Cow::Owned(bytes))
    }

    /// Whether no label is set.
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|&b| b == 0)
    }

    fn into_owned(self) -> Labels<'static> {
        Labels(Cow::Owned(self.0.into_owned()))
    }
}

/// A conntrack entry. Every field the kernel may leave out is an `Option`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Flow<'a> {
    /// Layer-3 family from `nfgenmsg` (`AF_INET` or `AF_INET6`).
    pub family: u8,
    /// `CTA_TUPLE_ORIG`: the direction of the first packet.
    pub orig: Tuple,
    /// `CTA_TUPLE_REPLY`: what replies look like (differs from the mirrored
    /// original under NAT).
    pub reply: Tuple,
    /// `CTA_TUPLE_MASTER`: for an expected (related) connection, the original
    /// tuple of the connection that expected it.
    pub master: Option<Tuple>,
    /// `CTA_STATUS`: the status bits.
    pub status: Option<Status>,
    /// Seconds until the entry expires (`CTA_TIMEOUT`); absent on offloaded entries.
    pub timeout: Option<u32>,
    /// `CTA_MARK`: the connection mark (events leave out a zero mark).
    pub mark: Option<u32>,
    /// `CTA_SECMARK` (obsolete; old kernels).
    pub secmark: Option<u32>,
    /// `CTA_ZONE`: the zone of both directions.
    pub zone: Option<u16>,
    /// `CTA_ID`: the kernel's id of the entry (guards deletes against tuple reuse).
    pub id: Option<u32>,
    /// `CTA_USE`: reference count.
    pub use_count: Option<u32>,
    /// `CTA_PROTOINFO`: TCP, SCTP or DCCP state.
    pub proto_info: Option<ProtoInfo>,
    /// `CTA_COUNTERS_ORIG`, when accounting was on at creation.
    pub counters_orig: Option<Counters>,
    /// `CTA_COUNTERS_REPLY`, when accounting was on at creation.
    pub counters_reply: Option<Counters>,
    /// `CTA_TIMESTAMP`, when timestamps were on at creation.
    pub timestamp: Option<Timestamp>,
    /// `CTA_TIMESTAMP_EVENT` (Linux 6.13+, events only): when the event was
    /// generated, ns since the epoch.
    pub event_time: Option<u64>,
    /// `CTA_HELP/CTA_HELP_NAME`: the helper attached (`ftp`, `sip`, ...).
    pub helper: Option<Cow<'a, str>>,
    /// `CTA_SECCTX/CTA_SECCTX_NAME`: the security context.
    pub secctx: Option<Cow<'a, str>>,
    /// `CTA_LABELS`: connection labels.
    pub labels: Option<Labels<'a>>,
    /// `CTA_SEQ_ADJ_ORIG`: sequence adjustment of the original direction.
    pub seq_adj_orig: Option<SeqAdj>,
    /// `CTA_SEQ_ADJ_REPLY`: sequence adjustment of the reply direction.
    pub seq_adj_reply: Option<SeqAdj>,
    /// `CTA_SYNPROXY`: SYN proxy state.
    pub synproxy: Option<Synproxy>,
}

impl<'a> Flow<'a> {
    /// Decodes a ctnetlink conntrack message (dump entry, get reply or event).
    ///
    /// # Errors
    ///
    /// A [`DecodeError`](crate::error::DecodeError) naming the attribute path
    /// when the message is truncated or malformed.
    pub fn decode(msg: &Message<'a>) -> Result<Flow<'a>, DecodeError> {
        let (nfgen, attrs) = msg.netfilter()?;
        Flow::decode_attrs(nfgen, attrs)
    }

    /// Decodes the attributes of a conntrack message whose `nfgenmsg` has
    /// already been read.
    ///
    /// # Errors
    ///
    /// A [`DecodeError`](crate::error::DecodeError) naming the attribute path
    /// when the message is truncated or malformed.
    pub fn decode_attrs(nfgen: NfGenMsg, attrs: &'a [u8]) -> Result<Flow<'a>, DecodeError> {
        let mut f = Flow {
            family: nfgen.family,
            ..Flow::default()
        };
        for attr in Attrs::new(attrs) {
            let attr = attr?;
            f.decode_one(attr)?;
        }
        Ok(f)
    }

    #[inline]
    fn decode_one(&mut self, attr: Attr<'a>) -> Result<(), DecodeError> {
        // Nested decoders name their own attribute in error paths.
        match attr.kind {
            CTA_TUPLE_ORIG => self.orig = Tuple::decode(attr, "CTA_TUPLE_ORIG")?,
            CTA_TUPLE_REPLY => self.reply = Tuple::decode(attr, "CTA_TUPLE_REPLY")?,
            CTA_TUPLE_MASTER => self.master = Some(Tuple::decode(attr, "CTA_TUPLE_MASTER")?),
            CTA_STATUS => self.status = Some(Status(attr.be32("CTA_STATUS")?)),
            CTA_TIMEOUT => self.timeout = Some(attr.be32("CTA_TIMEOUT")?),
            CTA_MARK => self.mark = Some(attr.be32("CTA_MARK")?),
            CTA_SECMARK => self.secmark = Some(attr.be32("CTA_SECMARK")?),
            CTA_ZONE => self.zone = Some(attr.be16("CTA_ZONE")?),
            CTA_ID => self.id = Some(attr.be32("CTA_ID")?),
            CTA_USE => self.use_count = Some(attr.be32("CTA_USE")?),
            CTA_PROTOINFO => self.proto_info = ProtoInfo::decode(attr)?,
            CTA_COUNTERS_ORIG => {
                self.counters_orig = Some(Counters::decode(attr, "CTA_COUNTERS_ORIG")?)
            }
            CTA_COUNTERS_REPLY => {
                self.counters_reply = Some(Counters::decode(attr, "CTA_COUNTERS_REPLY")?)
            }
            CTA_TIMESTAMP => self.timestamp = Some(Timestamp::decode(attr)?),
            CTA_TIMESTAMP_EVENT => self.event_time = Some(attr.be64("CTA_TIMESTAMP_EVENT")?),
            CTA_HELP => {
                self.helper =
                    decode_named_string(attr, CTA_HELP_NAME, "CTA_HELP_NAME").within("CTA_HELP")?
            }
            CTA_SECCTX => {
                self.secctx = decode_named_string(attr, CTA_SECCTX_NAME, "CTA_SECCTX_NAME")
                    .within("CTA_SECCTX")?
            }
            CTA_LABELS => self.labels = Some(Labels(Cow::Borrowed(attr.value))),
            CTA_SEQ_ADJ_ORIG => {
                self.seq_adj_orig = Some(decode_seq_adj(attr).within("CTA_SEQ_ADJ_ORIG")?)
            }
            CTA_SEQ_ADJ_REPLY => {
                self.seq_adj_reply = Some(decode_seq_adj(attr).within("CTA_SEQ_ADJ_REPLY")?)
            }
            CTA_SYNPROXY => self.synproxy = Some(decode_synproxy(attr).within("CTA_SYNPROXY")?),
            other => skip("message", other),
        }
        Ok(())
    }

    /// Detaches the flow from the receive buffer.
    pub fn into_owned(self) -> Flow<'static> {
        Flow {
            family: self.family,
            orig: self.orig,
            reply: self.reply,
            master: self.master,
            status: self.status,
            timeout: self.timeout,
            mark: self.mark,
            secmark: self.secmark,
            zone: self.zone,
            id: self.id,
            use_count: self.use_count,
            proto_info: self.proto_info,
            counters_orig: self.counters_orig,
            counters_reply: self.counters_reply,
            timestamp: self.timestamp,
            event_time: self.event_time,
            helper: self.helper.map(|h| Cow::Owned(h.into_owned())),
            secctx: self.secctx.map(|s| Cow::Owned(s.into_owned())),
            labels: self.labels.map(Labels::into_owned),
            seq_adj_orig: self.seq_adj_orig,
            seq_adj_reply: self.seq_adj_reply,
            synproxy: self.synproxy,
        }
    }

    /// The layer-4 protocol number of the original direction.
    #[inline]
    pub fn l4proto(&self) -> Option<u8> {
        self.orig.proto
    }

    /// The protocol state name (`ESTABLISHED`, `TIME_WAIT`, ...) for TCP,
    /// SCTP and DCCP.
    #[inline]
    pub fn state_name(&self) -> Option<&'static str> {
        self.proto_info.as_ref().and_then(ProtoInfo::state_name)
    }

    /// Encodes every attribute that is set, in the order
    /// `ctnetlink_fill_info` uses for dumps, so that a decoded dump entry is
    /// re-emitted byte for byte. Requests (create, update) pick their own
    /// subset; see the request module.
    pub fn encode(&self, w: &mut AttrWriter<'_>) {
        self.orig.encode(w, CTA_TUPLE_ORIG);
        self.reply.encode(w, CTA_TUPLE_REPLY);
        if let Some(z) = self.zone {
            w.put_be16(CTA_ZONE, z);
        }
        if let Some(s) = self.status {
            w.put_be32(CTA_STATUS, s.0);
        }
        if let Some(m) = self.mark {
            w.put_be32(CTA_MARK, m);
        }
        if let Some(m) = self.secmark {
            w.put_be32(CTA_SECMARK, m);
        }
        if let Some(s) = &self.secctx {
            let n = w.begin_nested(CTA_SECCTX);
            w.put_string(CTA_SECCTX_NAME, s);
            w.end_nested(n);
        }
        if let Some(id) = self.id {
            w.put_be32(CTA_ID, id);
        }
        if let Some(u) = self.use_count {
            w.put_be32(CTA_USE, u);
        }
        if let Some(m) = &self.master {
            m.encode(w, CTA_TUPLE_MASTER);
        }
        if let Some(t) = self.timeout {
            w.put_be32(CTA_TIMEOUT, t);
        }
        if let Some(p) = &self.proto_info {
            p.encode(w);
        }
        if let Some(c) = &self.counters_orig {
            c.encode(w, CTA_COUNTERS_ORIG);
        }
        if let Some(c) = &self.counters_reply {
            c.encode(w, CTA_COUNTERS_REPLY);
        }
        if let Some(t) = &self.timestamp {
            t.encode(w);
        }
        if let Some(h) = &self.helper {
            let n = w.begin_nested(CTA_HELP);
            w.put_string(CTA_HELP_NAME, h);
            w.end_nested(n);
        }
        if let Some(l) = &self.labels {
            w.put(CTA_LABELS, &l.0);
        }
        for (adj, kind) in [
            (self.seq_adj_orig, CTA_SEQ_ADJ_ORIG),
            (self.seq_adj_reply, CTA_SEQ_ADJ_REPLY),
        ] {
            if let Some(a) = adj {
                let n = w.begin_nested(kind);
                w.put_be32(CTA_SEQADJ_CORRECTION_POS, a.correction_pos)
                    .put_be32(CTA_SEQADJ_OFFSET_BEFORE, a.offset_before)
                    .put_be32(CTA_SEQADJ_OFFSET_AFTER, a.offset_after);
                w.end_nested(n);
            }
        }
        if let Some(s) = self.synproxy {
            let n = w.begin_nested(CTA_SYNPROXY);
            w.put_be32(CTA_SYNPROXY_ISN, s.isn)
                .put_be32(CTA_SYNPROXY_ITS, s.its)
                .put_be32(CTA_SYNPROXY_TSOFF, s.tsoff);
            w.end_nested(n);
        }
        if let Some(t) = self.event_time {
            w.put_be64(CTA_TIMESTAMP_EVENT, t);
        }
    }
}

fn decode_named_string<'a>(
    outer: Attr<'a>,
    kind: u16,
    name: &'static str,
) -> Result<Option<Cow<'a, str>>, DecodeError> {
    let mut found = None;
    for attr in outer.nested() {
        let attr = attr?;
        if attr.kind == kind {
            found = Some(Cow::Borrowed(attr.string(name)?));
        }
    }
    Ok(found)
}

fn decode_seq_adj(outer: Attr<'_>) -> Result<SeqAdj, DecodeError> {
    let mut a = SeqAdj::default();
    for attr in outer.nested() {
        let attr = attr?;
        match attr.kind {
            CTA_SEQADJ_CORRECTION_POS => {
                a.correction_pos = attr.be32("CTA_SEQADJ_CORRECTION_POS")?
            }
            CTA_SEQADJ_OFFSET_BEFORE => a.offset_before = attr.be32("CTA_SEQADJ_OFFSET_BEFORE")?,
            CTA_SEQADJ_OFFSET_AFTER => a.offset_after = attr.be32("CTA_SEQADJ_OFFSET_AFTER")?,
            other => skip("CTA_SEQ_ADJ", other),
        }
    }
    Ok(a)
}

fn decode_synproxy(outer: Attr<'_>) -> Result<Synproxy, DecodeError> {
    let mut s = Synproxy::default();
    for attr in outer.nested() {
        let attr = attr?;
        match attr.kind {
            CTA_SYNPROXY_ISN => s.isn = attr.be32("CTA_SYNPROXY_ISN")?,
            CTA_SYNPROXY_ITS => s.its = attr.be32("CTA_SYNPROXY_ITS")?,
            CTA_SYNPROXY_TSOFF => s.tsoff = attr.be32("CTA_SYNPROXY_TSOFF")?,
            other => skip("CTA_SYNPROXY", other),
        }
    }
    Ok(s)
}

/// conntrack's text form of an entry, as `conntrack -L` prints it:
/// `tcp      6 431999 ESTABLISHED src=... dst=... sport=... dport=...
/// src=... [ASSURED] mark=0 use=1` (`[UNREPLIED]` after the original
/// direction until a reply is seen; the zone, when set, after the mark).
impl std::fmt::Display for Flow<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let p = self.orig.proto.unwrap_or(0);
        write!(f, "{:<8} {} ", super::proto::name(p), p)?;
        if let Some(t) = self.timeout {
            write!(f, "{t} ")?;
        }
        if let Some(state) = self.proto_info.as_ref().and_then(ProtoInfo::state_name) {
            write!(f, "{state} ")?;
        }
        let status = self.status.unwrap_or_default();
        write!(f, "{}", self.orig)?;
        if !status.contains(Status::SEEN_REPLY) {
            f.write_str(" [UNREPLIED]")?;
        }
        write!(f, " {}", self.reply)?;
        if status.contains(Status::ASSURED) {
            f.write_str(" [ASSURED]")?;
        }
        write!(f, " mark={}", self.mark.unwrap_or(0))?;
        if let Some(z) = self.zone {
            write!(f, " zone={z}")?;
        }
        if let Some(u) = self.use_count {
            write!(f, " use={u}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::header::{Messages, IPCTNL_MSG_CT_NEW};
    use crate::testdata;

    /// Every entry of a captured dump decodes and re-encodes to the same
    /// bytes (the encoder follows ctnetlink_fill_info's order).
    #[test]
    fn captured_dump_round_trips_byte_for_byte() {
        let mut n = 0;
        for dgram in testdata::datagrams(testdata::DUMP_MIXED) {
            for msg in Messages::new(&dgram) {
                let msg = msg.unwrap();
                if msg.header.msg() != IPCTNL_MSG_CT_NEW || msg.header.kind < 0x10 {
                    continue;
                }
                let (nfgen, attrs) = msg.netfilter().unwrap();
                let flow = Flow::decode(&msg).unwrap();
                let mut again = Vec::new();
                flow.encode(&mut AttrWriter::new(&mut again));
                assert_eq!(again, attrs, "entry {n} re-encodes differently: {flow:?}");
                assert_eq!(flow.family, nfgen.family);
                assert!(flow.id.is_some() && flow.use_count.is_some());
                n += 1;
            }
        }
        assert_eq!(n, testdata::expected_lines(testdata::DUMP_MIXED).len());
    }

    /// Truncating a captured message anywhere gives an error or a
    /// shorter flow, never a panic.
    #[test]
    fn truncated_captures_never_panic() {
        for dgram in testdata::datagrams(testdata::DUMP_MIXED) {
            for msg in Messages::new(&dgram).flatten() {
                let Ok((nfgen, attrs)) = msg.netfilter() else {
                    continue;
                };
                for cut in 0..attrs.len() {
                    let _ = Flow::decode_attrs(nfgen, &attrs[..cut]);
                    let mut flipped = attrs.to_vec();
                    flipped[cut] ^= 0xff;
                    let _ = Flow::decode_attrs(nfgen, &flipped);
                }
            }
        }
    }

    #[test]
    fn labels_bits_round_trip() {
        let l = Labels::from_bits([0, 5, 63, 64, 127]);
        assert_eq!(l.bits().collect::<Vec<_>>(), [0, 5, 63, 64, 127]);
        assert!(!l.is_empty());
        assert!(Labels::from_bits([]).is_empty());
    }

    #[test]
    fn bad_leaf_length_names_the_top_level_attribute() {
        let mut buf = Vec::new();
        AttrWriter::new(&mut buf).put(CTA_MARK, &[0, 1]);
        let e = Flow::decode_attrs(NfGenMsg::default(), &buf).unwrap_err();
        assert_eq!(e.path().to_string(), "CTA_MARK");
    }

    #[test]
    fn bad_nested_length_has_full_path() {
        let mut buf = Vec::new();
        let mut w = AttrWriter::new(&mut buf);
        let o = w.begin_nested(CTA_TUPLE_REPLY);
        let p = w.begin_nested(CTA_TUPLE_PROTO);
        w.put(CTA_PROTO_SRC_PORT, &[1]);
        w.end_nested(p);
        w.end_nested(o);
        let e = Flow::decode_attrs(NfGenMsg::default(), &buf).unwrap_err();
        assert_eq!(
            e.path().to_string(),
            "CTA_TUPLE_REPLY/CTA_TUPLE_PROTO/CTA_PROTO_SRC_PORT"
        );
    }

    #[test]
    fn unknown_attributes_are_skipped() {
        let mut buf = Vec::new();
        AttrWriter::new(&mut buf)
            .put(200, &[1, 2, 3])
            .put_be32(CTA_MARK, 9);
        let f = Flow::decode_attrs(NfGenMsg::default(), &buf).unwrap();
        assert_eq!(f.mark, Some(9));
    }
}
