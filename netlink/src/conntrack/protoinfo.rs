//! Protocol state (`CTA_PROTOINFO`): TCP, SCTP and DCCP.

use super::attribute::*;
use super::tuple::{proto, skip};
use crate::attr::{Attr, AttrWriter};
use crate::error::{DecodeError, Within};

/// Protocol-specific state of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProtoInfo {
    /// TCP (`CTA_PROTOINFO_TCP`).
    Tcp(TcpInfo),
    /// SCTP (`CTA_PROTOINFO_SCTP`).
    Sctp(SctpInfo),
    /// DCCP (`CTA_PROTOINFO_DCCP`).
    Dccp(DccpInfo),
}

/// `struct nf_ct_tcp_flags` from `linux/netfilter/nf_conntrack_tcp.h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TcpFlags {
    /// `IP_CT_TCP_FLAG_*` bits.
    pub flags: u8,
    /// Which bits of `flags` to change (in requests).
    pub mask: u8,
}

/// `CTA_PROTOINFO_TCP`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TcpInfo {
    /// `enum tcp_conntrack` value; see [`TCP_STATES`].
    pub state: Option<u8>,
    /// Window scale of the original direction.
    pub wscale_orig: Option<u8>,
    /// Window scale of the reply direction.
    pub wscale_reply: Option<u8>,
    /// Flags of the original direction.
    pub flags_orig: Option<TcpFlags>,
    /// Flags of the reply direction.
    pub flags_reply: Option<TcpFlags>,
}

/// `CTA_PROTOINFO_SCTP`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SctpInfo {
    /// `enum sctp_conntrack` value; see [`SCTP_STATES`].
    pub state: Option<u8>,
    /// Verification tag of the original direction.
    pub vtag_orig: Option<u32>,
    /// Verification tag of the reply direction.
    pub vtag_reply: Option<u32>,
}

/// `CTA_PROTOINFO_DCCP`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct DccpInfo {
    /// `enum ct_dccp_states` value; see [`DCCP_STATES`].
    pub state: Option<u8>,
    /// Role (client, server).
    pub role: Option<u8>,
    /// Handshake sequence number.
    pub handshake_seq: Option<u64>,
}

/// `enum tcp_conntrack` names as conntrack(8) prints them, indexed by value.
pub const TCP_STATES: [&str; 10] = [
    "NONE",
    "SYN_SENT",
    "SYN_RECV",
    "ESTABLISHED",
    "FIN_WAIT",
    "CLOSE_WAIT",
    "LAST_ACK",
    "TIME_WAIT",
    "CLOSE",
    "SYN_SENT2",
];

/// `enum sctp_conntrack` names, indexed by value.
pub const SCTP_STATES: [&str; 10] = [
    "NONE",
    "CLOSED",
    "COOKIE_WAIT",
    "COOKIE_ECHOED",
    "ESTABLISHED",
    "SHUTDOWN_SENT",
    "SHUTDOWN_RECD",
    "SHUTDOWN_ACK_SENT",
    "HEARTBEAT_SENT",
    "HEARTBEAT_ACKED",
];

/// `enum ct_dccp_states` names, indexed by value.
pub const DCCP_STATES: [&str; 10] = [
    "NONE", "REQUEST", "RESPOND", "PARTOPEN", "OPEN", "CLOSEREQ", "CLOSING", "TIMEWAIT", "IGNORE",
    "INVALID",
];

/// The state names of layer-4 protocol `proto`, if it has states.
pub fn state_names(l4proto: u8) -> Option<&'static [&'static str; 10]> {
    match l4proto {
        proto::TCP => Some(&TCP_STATES),
        proto::SCTP => Some(&SCTP_STATES),
        proto::DCCP => Some(&DCCP_STATES),
        _ => None,
    }
}

impl ProtoInfo {
    /// The layer-4 protocol this state belongs to.
    pub fn proto(&self) -> u8 {
        match self {
            ProtoInfo::Tcp(_) => proto::TCP,
            ProtoInfo::Sctp(_) => proto::SCTP,
            ProtoInfo::Dccp(_) => proto::DCCP,
        }
    }

    /// The raw state value, if the kernel sent one.
    pub fn state(&self) -> Option<u8> {
        match self {
            ProtoInfo::Tcp(i) => i.state,
            ProtoInfo::Sctp(i) => i.state,
            ProtoInfo::Dccp(i) => i.state,
        }
    }

    /// The state as conntrack(8) prints it; out-of-range values print as
    /// `NONE`, as libnetfilter_conntrack does.
    pub fn state_name(&self) -> Option<&'static str> {
        let s = self.state()?;
        let names = state_names(self.proto())?;
        Some(names.get(s as usize).copied().unwrap_or("NONE"))
    }

    /// The state called `name` (as conntrack prints it, any case) of layer-4
    /// protocol `l4proto` (TCP, SCTP, DCCP), other fields unset.
    pub fn from_state_name(l4proto: u8, name: &str) -> Option<ProtoInfo> {
        let names = state_names(l4proto)?;
        let state = Some(names.iter().position(|n| n.eq_ignore_ascii_case(name))? as u8);
        Some(match l4proto {
            proto::TCP => ProtoInfo::Tcp(TcpInfo {
                state,
                ..TcpInfo::default()
            }),
            proto::SCTP => ProtoInfo::Sctp(SctpInfo {
                state,
                ..SctpInfo::default()
            }),
            _ => ProtoInfo::Dccp(DccpInfo {
                state,
                ..DccpInfo::default()
            }),
        })
    }

    /// Decodes `CTA_PROTOINFO`. Returns `None` for an empty or unknown nest.
    ///
    /// # Errors
    ///
    /// A [`DecodeError`](crate::error::DecodeError) naming the attribute path
    /// when the message is truncated or malformed.
    pub fn decode(outer: Attr<'_>) -> Result<Option<ProtoInfo>, DecodeError> {
        let mut info = None;
        for attr in outer.nested() {
            let attr = attr.within("CTA_PROTOINFO")?;
            let decoded = match attr.kind {
                CTA_PROTOINFO_TCP => ProtoInfo::Tcp(
                    decode_tcp(attr)
                        .within("CTA_PROTOINFO_TCP")
                        .within("CTA_PROTOINFO")?,
                ),
                CTA_PROTOINFO_SCTP => ProtoInfo::Sctp(
                    decode_sctp(attr)
                        .within("CTA_PROTOINFO_SCTP")
                        .within("CTA_PROTOINFO")?,
                ),
                CTA_PROTOINFO_DCCP => ProtoInfo::Dccp(
                    decode_dccp(attr)
                        .within("CTA_PROTOINFO_DCCP")
                        .within("CTA_PROTOINFO")?,
                ),
                other => {
                    skip("CTA_PROTOINFO", other);
                    continue;
                }
            };
            info = Some(decoded);
        }
        Ok(info)
    }

    /// Encodes `CTA_PROTOINFO` with the fields that are set.
    pub fn encode(&self, w: &mut AttrWriter<'_>) {
        let outer = w.begin_nested(CTA_PROTOINFO);
        match self {
            ProtoInfo::Tcp(i) => {
                let n = w.begin_nested(CTA_PROTOINFO_TCP);
                if let Some(s) = i.state {
                    w.put_u8(CTA_PROTOINFO_TCP_STATE, s);
                }
                if let Some(s) = i.wscale_orig {
                    w.put_u8(CTA_PROTOINFO_TCP_WSCALE_ORIGINAL, s);
                }
                if let Some(s) = i.wscale_reply {
                    w.put_u8(CTA_PROTOINFO_TCP_WSCALE_REPLY, s);
                }
                if let Some(f) = i.flags_orig {
                    w.put(CTA_PROTOINFO_TCP_FLAGS_ORIGINAL, &[f.flags, f.mask]);
                }
                if let Some(f) = i.flags_reply {
                    w.put(CTA_PROTOINFO_TCP_FLAGS_REPLY, &[f.flags, f.mask]);
                }
                w.end_nested(n);
            }
            ProtoInfo::Sctp(i) => {
                let n = w.begin_nested(CTA_PROTOINFO_SCTP);
                if let Some(s) = i.state {
                    w.put_u8(CTA_PROTOINFO_SCTP_STATE, s);
                }
                if let Some(v) = i.vtag_orig {
                    w.put_be32(CTA_PROTOINFO_SCTP_VTAG_ORIGINAL, v);
                }
                if let Some(v) = i.vtag_reply {
                    w.put_be32(CTA_PROTOINFO_SCTP_VTAG_REPLY, v);
                }
                w.end_nested(n);
            }
            ProtoInfo::Dccp(i) => {
                let n = w.begin_nested(CTA_PROTOINFO_DCCP);
                if let Some(s) = i.state {
                    w.put_u8(CTA_PROTOINFO_DCCP_STATE, s);
                }
                if let Some(r) = i.role {
                    w.put_u8(CTA_PROTOINFO_DCCP_ROLE, r);
                }
                if let Some(seq) = i.handshake_seq {
                    w.put_be64(CTA_PROTOINFO_DCCP_HANDSHAKE_SEQ, seq);
                }
                w.end_nested(n);
            }
        }
        w.end_nested(outer);
    }
}

fn decode_tcp(outer: Attr<'_>) -> Result<TcpInfo, DecodeError> {
    let mut i = TcpInfo::default();
    for attr in outer.nested() {
        let attr = attr?;
        match attr.kind {
            CTA_PROTOINFO_TCP_STATE => i.state = Some(attr.u8("CTA_PROTOINFO_TCP_STATE")?),
            CTA_PROTOINFO_TCP_WSCALE_ORIGINAL => {
                i.wscale_orig = Some(attr.u8("CTA_PROTOINFO_TCP_WSCALE_ORIGINAL")?)
            }
            CTA_PROTOINFO_TCP_WSCALE_REPLY => {
                i.wscale_reply = Some(attr.u8("CTA_PROTOINFO_TCP_WSCALE_REPLY")?)
            }
            CTA_PROTOINFO_TCP_FLAGS_ORIGINAL => {
                let [flags, mask] = attr.array::<2>("CTA_PROTOINFO_TCP_FLAGS_ORIGINAL")?;
                i.flags_orig = Some(TcpFlags { flags, mask });
            }
            CTA_PROTOINFO_TCP_FLAGS_REPLY => {
                let [flags, mask] = attr.array::<2>("CTA_PROTOINFO_TCP_FLAGS_REPLY")?;
                i.flags_reply = Some(TcpFlags { flags, mask });
            }
            other => skip("CTA_PROTOINFO_TCP", other),
        }
    }
    Ok(i)
}

fn decode_sctp(outer: Attr<'_>) -> Result<SctpInfo, DecodeError> {
    let mut i = SctpInfo::default();
    for attr in outer.nested() {
        let attr = attr?;
        match attr.kind {
            CTA_PROTOINFO_SCTP_STATE => i.state = Some(attr.u8("CTA_PROTOINFO_SCTP_STATE")?),
            CTA_PROTOINFO_SCTP_VTAG_ORIGINAL => {
                i.vtag_orig = Some(attr.be32("CTA_PROTOINFO_SCTP_VTAG_ORIGINAL")?)
            }
            CTA_PROTOINFO_SCTP_VTAG_REPLY => {
                i.vtag_reply = Some(attr.be32("CTA_PROTOINFO_SCTP_VTAG_REPLY")?)
            }
            other => skip("CTA_PROTOINFO_SCTP", other),
        }
    }
    Ok(i)
}

fn decode_dccp(outer: Attr<'_>) -> Result<DccpInfo, DecodeError> {
    let mut i = DccpInfo::default();
    for attr in outer.nested() {
        let attr = attr?;
        match attr.kind {
            CTA_PROTOINFO_DCCP_STATE => i.state = Some(attr.u8("CTA_PROTOINFO_DCCP_STATE")?),
            CTA_PROTOINFO_DCCP_ROLE => i.role = Some(attr.u8("CTA_PROTOINFO_DCCP_ROLE")?),
            CTA_PROTOINFO_DCCP_HANDSHAKE_SEQ => {
                i.handshake_seq = Some(attr.be64("CTA_PROTOINFO_DCCP_HANDSHAKE_SEQ")?)
            }
            CTA_PROTOINFO_DCCP_PAD => {}
            other => skip("CTA_PROTOINFO_DCCP", other),
        }
    }
    Ok(i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attr::Attrs;

    fn round_trip(p: ProtoInfo) -> ProtoInfo {
        let mut buf = Vec::new();
        p.encode(&mut AttrWriter::new(&mut buf));
        let a = Attrs::new(&buf).next().unwrap().unwrap();
        ProtoInfo::decode(a).unwrap().unwrap()
    }

    #[test]
    fn round_trips() {
        for p in [
            ProtoInfo::Tcp(TcpInfo {
                state: Some(7),
                wscale_orig: Some(7),
                wscale_reply: Some(9),
                flags_orig: Some(TcpFlags {
                    flags: 0x23,
                    mask: 0x23,
                }),
                flags_reply: Some(TcpFlags {
                    flags: 0x21,
                    mask: 0x21,
                }),
            }),
            ProtoInfo::Sctp(SctpInfo {
                state: Some(4),
                vtag_orig: Some(0xdead),
                vtag_reply: Some(0xbeef),
            }),
            ProtoInfo::Dccp(DccpInfo {
                state: Some(4),
                role: Some(1),
                handshake_seq: Some(1 << 40),
            }),
        ] {
            assert_eq!(round_trip(p), p);
        }
    }

    #[test]
    fn from_state_name() {
        let p = ProtoInfo::from_state_name(proto::TCP, "time_wait").unwrap();
        assert_eq!(p.state_name(), Some("TIME_WAIT"));
        assert_eq!(
            ProtoInfo::from_state_name(proto::SCTP, "COOKIE_WAIT")
                .unwrap()
                .state(),
            Some(2)
        );
        assert!(ProtoInfo::from_state_name(proto::UDP, "ESTABLISHED").is_none());
        assert!(ProtoInfo::from_state_name(proto::TCP, "BOGUS").is_none());
    }

    #[test]
    fn state_names_match_conntrack() {
        let tcp = ProtoInfo::Tcp(TcpInfo {
            state: Some(7),
            ..TcpInfo::default()
        });
        assert_eq!(tcp.state_name(), Some("TIME_WAIT"));
        let bogus = ProtoInfo::Tcp(TcpInfo {
            state: Some(200),
            ..TcpInfo::default()
        });
        assert_eq!(bogus.state_name(), Some("NONE"));
    }
}
