//! Per-state timeouts as data, and what they tell of an entry: how long
//! ago its last packet was. Read from the namespace's sysctls by
//! `tune::timeouts`; the selection only uses them.

use ctctl_netlink::conntrack::{proto, Flow, ProtoInfo, Status};

/// The timeouts of one network namespace, in seconds, indexed by state
/// value where the protocol has states. `None`: the kernel lacks the sysctl.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StateTimeouts {
    /// TCP, by state value.
    pub tcp: [Option<u32>; 10],
    /// SCTP, by state value.
    pub sctp: [Option<u32>; 10],
    /// TCP while data is unacknowledged (`nf_conntrack_tcp_timeout_unacknowledged`).
    pub tcp_unacknowledged: Option<u32>,
    /// TCP after too many retransmissions or with a zero window
    /// (`nf_conntrack_tcp_timeout_max_retrans`).
    pub tcp_max_retrans: Option<u32>,
    /// UDP without replies.
    pub udp: Option<u32>,
    /// UDP streams (replied and assured).
    pub udp_stream: Option<u32>,
    /// ICMP.
    pub icmp: Option<u32>,
    /// ICMPv6.
    pub icmpv6: Option<u32>,
    /// GRE.
    pub gre: Option<u32>,
    /// GRE streams.
    pub gre_stream: Option<u32>,
    /// Other protocols.
    pub generic: Option<u32>,
}

impl StateTimeouts {
    /// The timeout a packet would set for this entry now: what its
    /// remaining timeout started from after its last packet.
    pub fn full_timeout(&self, f: &Flow<'_>) -> Option<u32> {
        let status = f.status.unwrap_or_default();
        let replied_stream = status.contains(Status::SEEN_REPLY | Status::ASSURED);
        match (f.orig.proto?, &f.proto_info) {
            (proto::TCP, Some(ProtoInfo::Tcp(i))) => *self.tcp.get(i.state? as usize)?,
            (proto::SCTP, Some(ProtoInfo::Sctp(i))) => *self.sctp.get(i.state? as usize)?,
            (proto::UDP | proto::UDPLITE, _) => {
                // nf_conntrack_udp_packet: the stream timeout once the flow
                // has seen replies for a while (and is assured).
                if replied_stream {
                    self.udp_stream
                } else {
                    self.udp
                }
            }
            (proto::ICMP, _) => self.icmp,
            (proto::ICMPV6, _) => self.icmpv6,
            (proto::GRE, _) => {
                if replied_stream {
                    self.gre_stream
                } else {
                    self.gre
                }
            }
            (proto::TCP | proto::SCTP | proto::DCCP, _) => None,
            _ => self.generic,
        }
    }

    /// Seconds since the entry's last packet, as a lower bound: the
    /// remaining timeout counted down from the shortest timer the last
    /// packet could have set that is not below it.
    ///
    /// A packet does not always re-arm a TCP entry with its state's timeout:
    /// `nf_conntrack_tcp_packet` picks the max_retrans timeout after too
    /// many retransmissions or while the peer's window is zero, and the
    /// unacknowledged timeout while data is unacknowledged
    /// (`IP_CT_TCP_FLAG_DATA_UNACKNOWLEDGED`), whenever those are shorter.
    /// Neither the window nor the retransmission count is reported, so an
    /// ESTABLISHED entry with 250 s left may be a stalled transfer that
    /// saw a packet 50 s ago, not one idle for days: it counts as 50 s.
    /// Returns 0 when the remaining timeout is above every candidate (a
    /// custom timeout policy or an explicit timeout).
    pub fn idle(&self, f: &Flow<'_>) -> Option<u32> {
        let remaining = f.timeout?;
        let full = self.full_timeout(f)?;
        let mut candidates = vec![full];
        if let (Some(proto::TCP), Some(ProtoInfo::Tcp(_))) = (f.orig.proto, &f.proto_info) {
            for t in [self.tcp_unacknowledged, self.tcp_max_retrans]
                .into_iter()
                .flatten()
            {
                if t < full {
                    candidates.push(t);
                }
            }
        }
        Some(
            candidates
                .into_iter()
                .filter(|&t| t >= remaining)
                .map(|t| t - remaining)
                .min()
                .unwrap_or(0),
        )
    }
}
