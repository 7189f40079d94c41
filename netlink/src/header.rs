//! Netlink message headers (`struct nlmsghdr`, host byte order) and the
//! netfilter header that follows them (`struct nfgenmsg`), message types
//! and flags.

use netlink_packet_core::NetlinkBuffer;

use crate::attr::align;
use crate::error::{DecodeError, DecodeErrorKind};

pub use netlink_packet_core::{
    NLM_F_ACK, NLM_F_APPEND, NLM_F_CREATE, NLM_F_DUMP, NLM_F_DUMP_FILTERED, NLM_F_DUMP_INTR,
    NLM_F_ECHO, NLM_F_EXCL, NLM_F_MULTIPART, NLM_F_REPLACE, NLM_F_REQUEST,
};

/// `NLMSG_HDRLEN`: size of `struct nlmsghdr`, from `linux/netlink.h`.
pub const NLMSG_HDRLEN: usize = 16;
/// Size of `struct nfgenmsg`, from `linux/netfilter/nfnetlink.h`.
pub const NFGENMSG_LEN: usize = 4;

/// `NLMSG_NOOP`, from `linux/netlink.h`.
pub const NLMSG_NOOP: u16 = 1;
/// `NLMSG_ERROR`, from `linux/netlink.h`: an error, or an acknowledgement when the errno is 0.
pub const NLMSG_ERROR: u16 = 2;
/// `NLMSG_DONE`, from `linux/netlink.h`: the end of a dump.
pub const NLMSG_DONE: u16 = 3;
/// `NLMSG_OVERRUN`, from `linux/netlink.h`.
pub const NLMSG_OVERRUN: u16 = 4;
/// `NLM_F_CAPPED`, from `linux/netlink.h`: an error message without the whole request echoed.
pub const NLM_F_CAPPED: u16 = 0x100;

/// `NFNL_SUBSYS_CTNETLINK`, from `linux/netfilter/nfnetlink.h`.
pub const NFNL_SUBSYS_CTNETLINK: u8 = 1;
/// `NFNL_SUBSYS_CTNETLINK_EXP`, from `linux/netfilter/nfnetlink.h`.
pub const NFNL_SUBSYS_CTNETLINK_EXP: u8 = 2;
/// `NFNETLINK_V0`, from `linux/netfilter/nfnetlink.h`.
pub const NFNETLINK_V0: u8 = 0;
/// `NFNETLINK_V1`, from `linux/netfilter/nfnetlink.h`: makes the kernel honour
/// `nfgen_family` on a flush (`ctnetlink_del_conntrack`).
pub const NFNETLINK_V1: u8 = 1;

/// `AF_UNSPEC`, `AF_INET`, `AF_INET6` (`linux/socket.h`), the values of `nfgen_family`.
pub const AF_UNSPEC: u8 = 0;
/// `AF_INET`: IPv4.
pub const AF_INET: u8 = 2;
/// `AF_INET6`: IPv6.
pub const AF_INET6: u8 = 10;

/// `enum cntl_msg_types`, from `linux/netfilter/nfnetlink_conntrack.h`.
pub const IPCTNL_MSG_CT_NEW: u8 = 0;
/// Dump or get entries.
pub const IPCTNL_MSG_CT_GET: u8 = 1;
/// Delete an entry, or flush.
pub const IPCTNL_MSG_CT_DELETE: u8 = 2;
/// Dump and zero the counters.
pub const IPCTNL_MSG_CT_GET_CTRZERO: u8 = 3;
/// Per-CPU statistics.
pub const IPCTNL_MSG_CT_GET_STATS_CPU: u8 = 4;
/// Entry count and maximum.
pub const IPCTNL_MSG_CT_GET_STATS: u8 = 5;
/// Dump the dying list.
pub const IPCTNL_MSG_CT_GET_DYING: u8 = 6;
/// Dump the unconfirmed list.
pub const IPCTNL_MSG_CT_GET_UNCONFIRMED: u8 = 7;

/// `enum cntl_msg_exp_types`: create an expectation; in events, a new one.
pub const IPCTNL_MSG_EXP_NEW: u8 = 0;
/// Dump or get expectations.
pub const IPCTNL_MSG_EXP_GET: u8 = 1;
/// Delete expectations; in events, one went away.
pub const IPCTNL_MSG_EXP_DELETE: u8 = 2;
/// Per-CPU expectation statistics.
pub const IPCTNL_MSG_EXP_GET_STATS_CPU: u8 = 3;

/// The netlink message type of a ctnetlink message: subsystem in the high byte.
#[inline]
pub const fn ct_msg_type(msg: u8) -> u16 {
    ((NFNL_SUBSYS_CTNETLINK as u16) << 8) | msg as u16
}

/// `struct nlmsghdr`. All fields in host byte order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MsgHeader {
    /// Length of the message including this header.
    pub len: u32,
    /// `nlmsg_type`: `NLMSG_*` or `(subsystem << 8) | message`.
    pub kind: u16,
    /// `NLM_F_*` flags.
    pub flags: u16,
    /// Sequence number, echoed from the request.
    pub seq: u32,
    /// Port id of the sender (0 for the kernel).
    pub pid: u32,
}

impl MsgHeader {
    /// The netfilter subsystem (`NFNL_SUBSYS_*`).
    #[inline]
    pub fn subsys(&self) -> u8 {
        (self.kind >> 8) as u8
    }

    /// The message type within the subsystem (`IPCTNL_MSG_CT_*`).
    #[inline]
    pub fn msg(&self) -> u8 {
        (self.kind & 0xff) as u8
    }
}

/// `struct nfgenmsg`: the family, version, and resource id (big-endian on the
/// wire; here already in host order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NfGenMsg {
    /// `nfgen_family`: `AF_INET`, `AF_INET6`, or `AF_UNSPEC`.
    pub family: u8,
    /// `NFNETLINK_V0` or `NFNETLINK_V1`.
    pub version: u8,
    /// `res_id`, carried big-endian; the CPU number in `GET_STATS_CPU` replies.
    pub res_id: u16,
}

impl NfGenMsg {
    /// Reads the header from the start of a netfilter message payload.
    ///
    /// # Errors
    ///
    /// A [`DecodeError`](crate::error::DecodeError) when the header is
    /// truncated or its length is impossible.
    pub fn parse(payload: &[u8]) -> Result<Self, DecodeError> {
        match payload {
            [family, version, hi, lo, ..] => Ok(NfGenMsg {
                family: *family,
                version: *version,
                res_id: u16::from_be_bytes([*hi, *lo]),
            }),
            _ => Err(DecodeError::at("nfgenmsg", DecodeErrorKind::Truncated)),
        }
    }
}

/// One netlink message in a receive buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message<'a> {
    /// The netlink header.
    pub header: MsgHeader,
    /// Everything after `struct nlmsghdr`.
    pub payload: &'a [u8],
}

impl<'a> Message<'a> {
    /// For a netfilter message: the `nfgenmsg` header and the attributes after it.
    ///
    /// # Errors
    ///
    /// A [`DecodeError`](crate::error::DecodeError) when the header is
    /// truncated or its length is impossible.
    pub fn netfilter(&self) -> Result<(NfGenMsg, &'a [u8]), DecodeError> {
        let nfgen = NfGenMsg::parse(self.payload)?;
        Ok((nfgen, &self.payload[NFGENMSG_LEN..]))
    }

    /// For `NLMSG_ERROR`: the errno (positive; 0 is an acknowledgement).
    ///
    /// # Errors
    ///
    /// A [`DecodeError`](crate::error::DecodeError) when the header is
    /// truncated or its length is impossible.
    pub fn error_code(&self) -> Result<i32, DecodeError> {
        let code: [u8; 4] = self
            .payload
            .get(..4)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| DecodeError::at("nlmsgerr", DecodeErrorKind::Truncated))?;
        // The kernel sends -errno; i32::MIN has no negation and is no errno.
        i32::from_ne_bytes(code)
            .checked_neg()
            .filter(|e| *e >= 0)
            .ok_or_else(|| DecodeError::at("nlmsgerr", DecodeErrorKind::BadHeader))
    }
}

/// Iterates over the messages in one received datagram.
#[derive(Debug, Clone)]
pub struct Messages<'a> {
    buf: &'a [u8],
}

impl<'a> Messages<'a> {
    /// The messages in one received datagram.
    pub fn new(buf: &'a [u8]) -> Self {
        Messages { buf }
    }
}

impl<'a> Iterator for Messages<'a> {
    type Item = Result<Message<'a>, DecodeError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.buf.is_empty() {
            return None;
        }
        let nl = match NetlinkBuffer::new_checked(self.buf) {
            Ok(nl) => nl,
            Err(_) => {
                self.buf = &[];
                return Some(Err(DecodeError::message(DecodeErrorKind::BadHeader)));
            }
        };
        let header = MsgHeader {
            len: nl.length(),
            kind: nl.message_type(),
            flags: nl.flags(),
            seq: nl.sequence_number(),
            pid: nl.port_number(),
        };
        let len = header.len as usize;
        let payload = &self.buf[NLMSG_HDRLEN..len];
        self.buf = self.buf.get(align(len)..).unwrap_or(&[]);
        Some(Ok(Message { header, payload }))
    }
}

/// Writes the netlink and netfilter headers of a request; the caller appends
/// attributes and then calls [`finish_message`].
///
/// Returns the offset of the message in `buf`, for [`finish_message`].
pub fn begin_message(buf: &mut Vec<u8>, kind: u16, flags: u16, seq: u32, nfgen: NfGenMsg) -> usize {
    let start = buf.len();
    buf.extend_from_slice(&0u32.to_ne_bytes()); // length, patched by finish_message
    buf.extend_from_slice(&kind.to_ne_bytes());
    buf.extend_from_slice(&flags.to_ne_bytes());
    buf.extend_from_slice(&seq.to_ne_bytes());
    buf.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel fills it in
    buf.push(nfgen.family);
    buf.push(nfgen.version);
    buf.extend_from_slice(&nfgen.res_id.to_be_bytes());
    start
}

/// Patches the length of the message that starts at `start`.
pub fn finish_message(buf: &mut [u8], start: usize) {
    let len = (buf.len() - start) as u32;
    buf[start..start + 4].copy_from_slice(&len.to_ne_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_round_trip() {
        let mut buf = Vec::new();
        let start = begin_message(
            &mut buf,
            ct_msg_type(IPCTNL_MSG_CT_GET),
            NLM_F_REQUEST | NLM_F_DUMP,
            7,
            NfGenMsg {
                family: AF_INET,
                version: NFNETLINK_V0,
                res_id: 0,
            },
        );
        finish_message(&mut buf, start);
        let msgs: Vec<_> = Messages::new(&buf).collect::<Result<_, _>>().unwrap();
        assert_eq!(msgs.len(), 1);
        let m = msgs[0];
        assert_eq!(m.header.len as usize, NLMSG_HDRLEN + NFGENMSG_LEN);
        assert_eq!(m.header.subsys(), NFNL_SUBSYS_CTNETLINK);
        assert_eq!(m.header.msg(), IPCTNL_MSG_CT_GET);
        assert_eq!(m.header.seq, 7);
        let (nfgen, attrs) = m.netfilter().unwrap();
        assert_eq!(nfgen.family, AF_INET);
        assert!(attrs.is_empty());
    }

    #[test]
    fn garbage_header_is_an_error_not_a_panic() {
        for len in [0u32, 3, 15, 1000] {
            let mut buf = vec![0u8; 20];
            buf[..4].copy_from_slice(&len.to_ne_bytes());
            let mut it = Messages::new(&buf);
            assert!(it.next().unwrap().is_err(), "len {len}");
            assert!(it.next().is_none());
        }
    }

    #[test]
    fn error_code_of_i32_min_is_a_decode_error_not_a_wrap() {
        let mut buf = vec![0u8; 36];
        buf[0..4].copy_from_slice(&36u32.to_ne_bytes());
        buf[4..6].copy_from_slice(&NLMSG_ERROR.to_ne_bytes());
        buf[16..20].copy_from_slice(&i32::MIN.to_ne_bytes());
        let msg = Messages::new(&buf).next().unwrap().unwrap();
        assert!(msg.error_code().is_err());
        buf[16..20].copy_from_slice(&(-2i32).to_ne_bytes());
        let msg = Messages::new(&buf).next().unwrap().unwrap();
        assert_eq!(msg.error_code().unwrap(), 2);
    }
}
