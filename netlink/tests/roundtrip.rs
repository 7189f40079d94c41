//! Property tests: every attribute the encoder emits decodes back to the
//! same value, and arbitrary bytes never make the decoder panic.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ctctl_netlink::attr::AttrWriter;
use ctctl_netlink::conntrack::{
    Counters, DccpInfo, Flow, KernelFilter, Labels, ProtoInfo, SctpInfo, SeqAdj, Status, Synproxy,
    TcpFlags, TcpInfo, Timestamp, Tuple,
};
use ctctl_netlink::header::{NfGenMsg, AF_INET, AF_INET6};
use proptest::prelude::*;

fn addr(v6: bool) -> impl Strategy<Value = IpAddr> {
    if v6 {
        any::<u128>()
            .prop_map(|a| IpAddr::V6(Ipv6Addr::from(a)))
            .boxed()
    } else {
        any::<u32>()
            .prop_map(|a| IpAddr::V4(Ipv4Addr::from(a)))
            .boxed()
    }
}

fn tuple(v6: bool) -> BoxedStrategy<Tuple> {
    (
        proptest::option::of(addr(v6)),
        proptest::option::of(addr(v6)),
        proptest::option::of(any::<u8>()),
        proptest::option::of(any::<u16>()),
        proptest::option::of(any::<u16>()),
        proptest::option::of(any::<u8>()),
        proptest::option::of(any::<u8>()),
        proptest::option::of(any::<u16>()),
        proptest::option::of(any::<u16>()),
    )
        .prop_map(
            |(src, dst, proto, src_port, dst_port, icmp_type, icmp_code, icmp_id, zone)| Tuple {
                src,
                dst,
                proto,
                src_port,
                dst_port,
                icmp_type,
                icmp_code,
                icmp_id,
                zone,
            },
        )
        .boxed()
}

fn protoinfo() -> impl Strategy<Value = ProtoInfo> {
    prop_oneof![
        (
            proptest::option::of(0u8..10),
            proptest::option::of(any::<u8>()),
            proptest::option::of(any::<u8>()),
            proptest::option::of(any::<(u8, u8)>()),
            proptest::option::of(any::<(u8, u8)>()),
        )
            .prop_map(|(state, wo, wr, fo, fr)| ProtoInfo::Tcp(TcpInfo {
                state,
                wscale_orig: wo,
                wscale_reply: wr,
                flags_orig: fo.map(|(flags, mask)| TcpFlags { flags, mask }),
                flags_reply: fr.map(|(flags, mask)| TcpFlags { flags, mask }),
            })),
        (
            proptest::option::of(0u8..10),
            proptest::option::of(any::<u32>()),
            proptest::option::of(any::<u32>())
        )
            .prop_map(|(state, vo, vr)| ProtoInfo::Sctp(SctpInfo {
                state,
                vtag_orig: vo,
                vtag_reply: vr,
            })),
        (
            proptest::option::of(0u8..10),
            proptest::option::of(any::<u8>()),
            proptest::option::of(any::<u64>())
        )
            .prop_map(|(state, role, seq)| ProtoInfo::Dccp(DccpInfo {
                state,
                role,
                handshake_seq: seq,
            })),
    ]
}

type Scalars = (
    Option<u32>,
    Option<u32>,
    Option<u32>,
    Option<u32>,
    Option<u16>,
    Option<u32>,
    Option<u32>,
);

fn scalars() -> BoxedStrategy<Scalars> {
    (
        proptest::option::of(any::<u32>()),
        proptest::option::of(any::<u32>()),
        proptest::option::of(any::<u32>()),
        proptest::option::of(any::<u32>()),
        proptest::option::of(any::<u16>()),
        proptest::option::of(any::<u32>()),
        proptest::option::of(any::<u32>()),
    )
        .boxed()
}

type Extras = (
    Option<(u64, u64, u64, u64)>,
    Option<(u64, Option<u64>)>,
    Option<u64>,
    Option<String>,
    Option<String>,
    Option<Vec<u8>>,
    Option<(u32, u32, u32)>,
    Option<(u32, u32, u32)>,
);

fn extras() -> BoxedStrategy<Extras> {
    (
        proptest::option::of(any::<(u64, u64, u64, u64)>()),
        proptest::option::of((any::<u64>(), proptest::option::of(any::<u64>()))),
        proptest::option::of(any::<u64>()),
        proptest::option::of("[a-z0-9_-]{1,15}"),
        proptest::option::of("[a-z0-9_:]{1,30}"),
        proptest::option::of(proptest::collection::vec(any::<u8>(), 16)),
        proptest::option::of(any::<(u32, u32, u32)>()),
        proptest::option::of(any::<(u32, u32, u32)>()),
    )
        .boxed()
}

fn flow() -> BoxedStrategy<Flow<'static>> {
    any::<bool>()
        .prop_flat_map(|v6| {
            (
                Just(v6),
                tuple(v6).boxed(),
                tuple(v6).boxed(),
                proptest::option::of(tuple(v6)).boxed(),
                proptest::option::of(protoinfo()).boxed(),
                scalars(),
                extras(),
            )
        })
        .prop_map(|(v6, orig, reply, master, proto_info, sc, ex)| {
            let (status, timeout, mark, secmark, zone, id, use_count) = sc;
            let (counters, timestamp, event_time, helper, secctx, labels, seq_adj, synproxy) = ex;
            Flow {
                family: if v6 { AF_INET6 } else { AF_INET },
                orig,
                reply,
                master,
                status: status.map(Status),
                timeout,
                mark,
                secmark,
                zone,
                id,
                use_count,
                proto_info,
                counters_orig: counters.map(|c| Counters {
                    packets: c.0,
                    bytes: c.1,
                }),
                counters_reply: counters.map(|c| Counters {
                    packets: c.2,
                    bytes: c.3,
                }),
                timestamp: timestamp.map(|(start, stop)| Timestamp { start, stop }),
                event_time,
                helper: helper.map(Cow::Owned),
                secctx: secctx.map(Cow::Owned),
                labels: labels.map(|l| Labels(Cow::Owned(l))),
                seq_adj_orig: seq_adj.map(|(c, b, a)| SeqAdj {
                    correction_pos: c,
                    offset_before: b,
                    offset_after: a,
                }),
                seq_adj_reply: seq_adj.map(|(c, b, a)| SeqAdj {
                    correction_pos: a,
                    offset_before: c,
                    offset_after: b,
                }),
                synproxy: synproxy.map(|(isn, its, tsoff)| Synproxy { isn, its, tsoff }),
            }
        })
        .boxed()
}

proptest! {
    #[test]
    fn flow_round_trips(f in flow()) {
        let mut buf = Vec::new();
        f.encode(&mut AttrWriter::new(&mut buf));
        let nfgen = NfGenMsg { family: f.family, ..NfGenMsg::default() };
        let back = Flow::decode_attrs(nfgen, &buf).unwrap();
        prop_assert_eq!(back, f);
    }

    #[test]
    fn kernel_filter_encodes_its_tuples(orig in tuple(false), mark in proptest::option::of(any::<(u32, u32)>())) {
        let kf = KernelFilter { family: AF_INET, orig, mark, ..KernelFilter::default() };
        let mut buf = Vec::new();
        kf.encode(&mut AttrWriter::new(&mut buf));
        // Decoding the request as if it were an entry recovers the tuple
        // (when any field was set) and the mark.
        let back = Flow::decode_attrs(NfGenMsg::default(), &buf).unwrap();
        if kf.uses_tuple_filter() {
            prop_assert_eq!(back.orig, orig);
        }
        prop_assert_eq!(back.mark, mark.map(|m| m.0));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = Flow::decode_attrs(NfGenMsg::default(), &bytes);
        for m in ctctl_netlink::header::Messages::new(&bytes).flatten() {
            let _ = Flow::decode(&m);
            let _ = ctctl_netlink::stats::CpuStats::decode(&m);
            let _ = ctctl_netlink::stats::GlobalStats::decode(&m);
        }
    }
}
