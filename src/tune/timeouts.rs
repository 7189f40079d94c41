//! Per-state timeouts (`nf_conntrack_*_timeout*` sysctls, per network
//! namespace), used to tell how long an entry has been idle: for states
//! whose timer every packet re-arms, idle = the state's timeout − the
//! remaining timeout.

pub use crate::select::timeouts::StateTimeouts;

use super::{read_u64, Paths};
use crate::error::Error;

/// TCP state values with their sysctl suffix (`enum tcp_conntrack`).
const TCP: [(u8, &str); 9] = [
    (1, "syn_sent"),
    (2, "syn_recv"),
    (3, "established"),
    (4, "fin_wait"),
    (5, "close_wait"),
    (6, "last_ack"),
    (7, "time_wait"),
    (8, "close"),
    (9, "syn_sent"), // SYN_SENT2 uses the SYN_SENT timeout
];

/// SCTP state values with their sysctl suffix (`enum sctp_conntrack`).
const SCTP: [(u8, &str); 8] = [
    (1, "closed"),
    (2, "cookie_wait"),
    (3, "cookie_echoed"),
    (4, "established"),
    (5, "shutdown_sent"),
    (6, "shutdown_recd"),
    (7, "shutdown_ack_sent"),
    (8, "heartbeat_sent"),
];

impl StateTimeouts {
    /// Reads the timeouts of the calling thread's network namespace.
    ///
    /// # Errors
    ///
    /// When a file under /proc/sys or /sys cannot be read or written (writing
    /// needs root), or a value is out of range; the error names the file or
    /// key.
    pub fn load(paths: &Paths) -> Result<StateTimeouts, Error> {
        let get = |name: &str| -> Result<Option<u32>, Error> {
            Ok(read_u64(&paths.netfilter(name))?.map(|v| v.min(u32::MAX as u64) as u32))
        };
        let mut t = StateTimeouts::default();
        for (state, name) in TCP {
            t.tcp[state as usize] = get(&format!("nf_conntrack_tcp_timeout_{name}"))?;
        }
        for (state, name) in SCTP {
            t.sctp[state as usize] = get(&format!("nf_conntrack_sctp_timeout_{name}"))?;
        }
        t.tcp_unacknowledged = get("nf_conntrack_tcp_timeout_unacknowledged")?;
        t.tcp_max_retrans = get("nf_conntrack_tcp_timeout_max_retrans")?;
        t.udp = get("nf_conntrack_udp_timeout")?;
        t.udp_stream = get("nf_conntrack_udp_timeout_stream")?;
        t.icmp = get("nf_conntrack_icmp_timeout")?;
        t.icmpv6 = get("nf_conntrack_icmpv6_timeout")?;
        t.gre = get("nf_conntrack_gre_timeout")?;
        t.gre_stream = get("nf_conntrack_gre_timeout_stream")?;
        t.generic = get("nf_conntrack_generic_timeout")?;
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ctctl_netlink::conntrack::{proto, Flow, ProtoInfo, Status, TcpInfo, Tuple};

    #[test]
    fn loads_from_a_fake_tree_and_computes_idle() {
        let (dir, paths) = crate::tune::testing::fake_tree(
            "timeouts",
            &[
                ("nf_conntrack_tcp_timeout_established", "432000"),
                ("nf_conntrack_tcp_timeout_unacknowledged", "300"),
                ("nf_conntrack_tcp_timeout_max_retrans", "300"),
                ("nf_conntrack_udp_timeout", "30"),
                ("nf_conntrack_udp_timeout_stream", "120"),
            ],
        );
        let t = StateTimeouts::load(&paths).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(t.tcp[3], Some(432000));
        assert_eq!(t.tcp[7], None, "missing sysctls are None");

        let mut f = Flow {
            orig: Tuple {
                proto: Some(proto::TCP),
                ..Tuple::default()
            },
            timeout: Some(432000 - 7200),
            proto_info: Some(ProtoInfo::Tcp(TcpInfo {
                state: Some(3),
                ..TcpInfo::default()
            })),
            ..Flow::default()
        };
        assert_eq!(t.idle(&f), Some(7200));
        // 250 s left: maybe a stalled transfer on the 300 s unacknowledged
        // timer that saw a packet 50 s ago, not 431,750 s of silence.
        f.timeout = Some(250);
        assert_eq!(t.idle(&f), Some(50));
        f.timeout = Some(500000);
        assert_eq!(t.idle(&f), Some(0));
        f.orig.proto = Some(proto::UDP);
        f.proto_info = None;
        f.timeout = Some(10);
        assert_eq!(t.idle(&f), Some(20));
        f.status = Some(Status::SEEN_REPLY | Status::ASSURED);
        assert_eq!(t.idle(&f), Some(110));
    }
}
