//! ctnetlink attribute numbers, spelled as in
//! `linux/netfilter/nfnetlink_conntrack.h` (the installed header can be older
//! than the kernel; attributes it lacks are marked with the kernel that added
//! them).

#![allow(missing_docs)]

// enum ctattr_type
pub const CTA_UNSPEC: u16 = 0;
pub const CTA_TUPLE_ORIG: u16 = 1;
pub const CTA_TUPLE_REPLY: u16 = 2;
pub const CTA_STATUS: u16 = 3;
pub const CTA_PROTOINFO: u16 = 4;
pub const CTA_HELP: u16 = 5;
pub const CTA_NAT_SRC: u16 = 6;
pub const CTA_TIMEOUT: u16 = 7;
pub const CTA_MARK: u16 = 8;
pub const CTA_COUNTERS_ORIG: u16 = 9;
pub const CTA_COUNTERS_REPLY: u16 = 10;
pub const CTA_USE: u16 = 11;
pub const CTA_ID: u16 = 12;
pub const CTA_NAT_DST: u16 = 13;
pub const CTA_TUPLE_MASTER: u16 = 14;
pub const CTA_SEQ_ADJ_ORIG: u16 = 15;
pub const CTA_SEQ_ADJ_REPLY: u16 = 16;
pub const CTA_SECMARK: u16 = 17;
pub const CTA_ZONE: u16 = 18;
pub const CTA_SECCTX: u16 = 19;
pub const CTA_TIMESTAMP: u16 = 20;
pub const CTA_MARK_MASK: u16 = 21;
pub const CTA_LABELS: u16 = 22;
pub const CTA_LABELS_MASK: u16 = 23;
pub const CTA_SYNPROXY: u16 = 24;
/// Linux 5.8+.
pub const CTA_FILTER: u16 = 25;
/// Linux 5.15+.
pub const CTA_STATUS_MASK: u16 = 26;
/// Linux 6.13+ (events only); requests carrying it are rejected.
pub const CTA_TIMESTAMP_EVENT: u16 = 27;

// enum ctattr_tuple
pub const CTA_TUPLE_IP: u16 = 1;
pub const CTA_TUPLE_PROTO: u16 = 2;
pub const CTA_TUPLE_ZONE: u16 = 3;

// enum ctattr_ip
pub const CTA_IP_V4_SRC: u16 = 1;
pub const CTA_IP_V4_DST: u16 = 2;
pub const CTA_IP_V6_SRC: u16 = 3;
pub const CTA_IP_V6_DST: u16 = 4;

// enum ctattr_l4proto
pub const CTA_PROTO_NUM: u16 = 1;
pub const CTA_PROTO_SRC_PORT: u16 = 2;
pub const CTA_PROTO_DST_PORT: u16 = 3;
pub const CTA_PROTO_ICMP_ID: u16 = 4;
pub const CTA_PROTO_ICMP_TYPE: u16 = 5;
pub const CTA_PROTO_ICMP_CODE: u16 = 6;
pub const CTA_PROTO_ICMPV6_ID: u16 = 7;
pub const CTA_PROTO_ICMPV6_TYPE: u16 = 8;
pub const CTA_PROTO_ICMPV6_CODE: u16 = 9;

// enum ctattr_protoinfo
pub const CTA_PROTOINFO_TCP: u16 = 1;
pub const CTA_PROTOINFO_DCCP: u16 = 2;
pub const CTA_PROTOINFO_SCTP: u16 = 3;

// enum ctattr_protoinfo_tcp
pub const CTA_PROTOINFO_TCP_STATE: u16 = 1;
pub const CTA_PROTOINFO_TCP_WSCALE_ORIGINAL: u16 = 2;
pub const CTA_PROTOINFO_TCP_WSCALE_REPLY: u16 = 3;
pub const CTA_PROTOINFO_TCP_FLAGS_ORIGINAL: u16 = 4;
pub const CTA_PROTOINFO_TCP_FLAGS_REPLY: u16 = 5;

// enum ctattr_protoinfo_dccp
pub const CTA_PROTOINFO_DCCP_STATE: u16 = 1;
pub const CTA_PROTOINFO_DCCP_ROLE: u16 = 2;
pub const CTA_PROTOINFO_DCCP_HANDSHAKE_SEQ: u16 = 3;
pub const CTA_PROTOINFO_DCCP_PAD: u16 = 4;

// enum ctattr_protoinfo_sctp
pub const CTA_PROTOINFO_SCTP_STATE: u16 = 1;
pub const CTA_PROTOINFO_SCTP_VTAG_ORIGINAL: u16 = 2;
pub const CTA_PROTOINFO_SCTP_VTAG_REPLY: u16 = 3;

// enum ctattr_counters
pub const CTA_COUNTERS_PACKETS: u16 = 1;
pub const CTA_COUNTERS_BYTES: u16 = 2;
pub const CTA_COUNTERS32_PACKETS: u16 = 3;
pub const CTA_COUNTERS32_BYTES: u16 = 4;
pub const CTA_COUNTERS_PAD: u16 = 5;

// enum ctattr_tstamp
pub const CTA_TIMESTAMP_START: u16 = 1;
pub const CTA_TIMESTAMP_STOP: u16 = 2;
pub const CTA_TIMESTAMP_PAD: u16 = 3;

// enum ctattr_nat
pub const CTA_NAT_V4_MINIP: u16 = 1;
pub const CTA_NAT_V4_MAXIP: u16 = 2;
pub const CTA_NAT_PROTO: u16 = 3;
pub const CTA_NAT_V6_MINIP: u16 = 4;
pub const CTA_NAT_V6_MAXIP: u16 = 5;

// enum ctattr_protonat
pub const CTA_PROTONAT_PORT_MIN: u16 = 1;
pub const CTA_PROTONAT_PORT_MAX: u16 = 2;

// enum ctattr_seqadj
pub const CTA_SEQADJ_CORRECTION_POS: u16 = 1;
pub const CTA_SEQADJ_OFFSET_BEFORE: u16 = 2;
pub const CTA_SEQADJ_OFFSET_AFTER: u16 = 3;

// enum ctattr_synproxy
pub const CTA_SYNPROXY_ISN: u16 = 1;
pub const CTA_SYNPROXY_ITS: u16 = 2;
pub const CTA_SYNPROXY_TSOFF: u16 = 3;

// enum ctattr_help
pub const CTA_HELP_NAME: u16 = 1;
pub const CTA_HELP_INFO: u16 = 2;

// enum ctattr_secctx
pub const CTA_SECCTX_NAME: u16 = 1;

// enum ctattr_filter (Linux 5.8+)
pub const CTA_FILTER_ORIG_FLAGS: u16 = 1;
pub const CTA_FILTER_REPLY_FLAGS: u16 = 2;

// enum ctattr_stats_cpu
pub const CTA_STATS_SEARCHED: u16 = 1;
pub const CTA_STATS_FOUND: u16 = 2;
pub const CTA_STATS_NEW: u16 = 3;
pub const CTA_STATS_INVALID: u16 = 4;
pub const CTA_STATS_IGNORE: u16 = 5;
pub const CTA_STATS_DELETE: u16 = 6;
pub const CTA_STATS_DELETE_LIST: u16 = 7;
pub const CTA_STATS_INSERT: u16 = 8;
pub const CTA_STATS_INSERT_FAILED: u16 = 9;
pub const CTA_STATS_DROP: u16 = 10;
pub const CTA_STATS_EARLY_DROP: u16 = 11;
pub const CTA_STATS_ERROR: u16 = 12;
pub const CTA_STATS_SEARCH_RESTART: u16 = 13;
pub const CTA_STATS_CLASH_RESOLVE: u16 = 14;
pub const CTA_STATS_CHAIN_TOOLONG: u16 = 15;

// enum ctattr_stats_global
pub const CTA_STATS_GLOBAL_ENTRIES: u16 = 1;
pub const CTA_STATS_GLOBAL_MAX_ENTRIES: u16 = 2;

/// `NFNLGRP_CONNTRACK_*`, from `linux/netfilter/nfnetlink.h`: multicast group
/// ids for `NETLINK_ADD_MEMBERSHIP` (numbers, not bitmasks).
pub const NFNLGRP_CONNTRACK_NEW: u32 = 1;
pub const NFNLGRP_CONNTRACK_UPDATE: u32 = 2;
pub const NFNLGRP_CONNTRACK_DESTROY: u32 = 3;

/// `CTA_FILTER_F_*` flags, from `net/netfilter/nf_conntrack_netlink.c`
/// (`CTA_FILTER_FLAG()`): which tuple fields a `CTA_FILTER` compares.
pub mod filter_flags {
    pub const CTA_FILTER_F_CTA_IP_SRC: u32 = 1 << 0;
    pub const CTA_FILTER_F_CTA_IP_DST: u32 = 1 << 1;
    pub const CTA_FILTER_F_CTA_TUPLE_ZONE: u32 = 1 << 2;
    pub const CTA_FILTER_F_CTA_PROTO_NUM: u32 = 1 << 3;
    pub const CTA_FILTER_F_CTA_PROTO_SRC_PORT: u32 = 1 << 4;
    pub const CTA_FILTER_F_CTA_PROTO_DST_PORT: u32 = 1 << 5;
    pub const CTA_FILTER_F_CTA_PROTO_ICMP_TYPE: u32 = 1 << 6;
    pub const CTA_FILTER_F_CTA_PROTO_ICMP_CODE: u32 = 1 << 7;
    pub const CTA_FILTER_F_CTA_PROTO_ICMP_ID: u32 = 1 << 8;
    pub const CTA_FILTER_F_CTA_PROTO_ICMPV6_TYPE: u32 = 1 << 9;
    pub const CTA_FILTER_F_CTA_PROTO_ICMPV6_CODE: u32 = 1 << 10;
    pub const CTA_FILTER_F_CTA_PROTO_ICMPV6_ID: u32 = 1 << 11;
}

/// The name of a top-level attribute, for error paths.
pub fn cta_name(kind: u16) -> &'static str {
    match kind {
        CTA_TUPLE_ORIG => "CTA_TUPLE_ORIG",
        CTA_TUPLE_REPLY => "CTA_TUPLE_REPLY",
        CTA_STATUS => "CTA_STATUS",
        CTA_PROTOINFO => "CTA_PROTOINFO",
        CTA_HELP => "CTA_HELP",
        CTA_NAT_SRC => "CTA_NAT_SRC",
        CTA_TIMEOUT => "CTA_TIMEOUT",
        CTA_MARK => "CTA_MARK",
        CTA_COUNTERS_ORIG => "CTA_COUNTERS_ORIG",
        CTA_COUNTERS_REPLY => "CTA_COUNTERS_REPLY",
        CTA_USE => "CTA_USE",
        CTA_ID => "CTA_ID",
        CTA_NAT_DST => "CTA_NAT_DST",
        CTA_TUPLE_MASTER => "CTA_TUPLE_MASTER",
        CTA_SEQ_ADJ_ORIG => "CTA_SEQ_ADJ_ORIG",
        CTA_SEQ_ADJ_REPLY => "CTA_SEQ_ADJ_REPLY",
        CTA_SECMARK => "CTA_SECMARK",
        CTA_ZONE => "CTA_ZONE",
        CTA_SECCTX => "CTA_SECCTX",
        CTA_TIMESTAMP => "CTA_TIMESTAMP",
        CTA_MARK_MASK => "CTA_MARK_MASK",
        CTA_LABELS => "CTA_LABELS",
        CTA_LABELS_MASK => "CTA_LABELS_MASK",
        CTA_SYNPROXY => "CTA_SYNPROXY",
        CTA_FILTER => "CTA_FILTER",
        CTA_STATUS_MASK => "CTA_STATUS_MASK",
        CTA_TIMESTAMP_EVENT => "CTA_TIMESTAMP_EVENT",
        _ => "CTA_UNKNOWN",
    }
}
