//! The library's public selection API never panics: any input to the
//! value parsers, and any filter or filter set built from them or by hand
//! (empty, negated and contradictory lists, zero masks, prefixes out of
//! range, flows missing fields), gets an answer or an error.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;

use ctctl::select::criteria::{Cidr, Match, NatMatch, PortRange, StateMatch, StatusMatch};
use ctctl::select::plan::Criteria;
use ctctl::select::values;
use ctctl::{Filter, FilterSet, Flow, Selection, Tuple};

fn ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(|o| IpAddr::V4(Ipv4Addr::from(o))),
        any::<[u8; 16]>().prop_map(|o| IpAddr::V6(Ipv6Addr::from(o))),
        Just(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))),
    ]
}

fn cidr() -> impl Strategy<Value = Cidr> {
    // Prefixes beyond the family's length included: the fields are public.
    (ip(), any::<u8>()).prop_map(|(addr, prefix)| Cidr { addr, prefix })
}

fn list<T: std::fmt::Debug + Clone>(
    item: impl Strategy<Value = T>,
) -> impl Strategy<Value = Option<Match<T>>> {
    proptest::option::of(
        (proptest::collection::vec(item, 0..4), any::<bool>())
            .prop_map(|(values, negated)| Match { values, negated }),
    )
}

fn ports() -> impl Strategy<Value = Option<Match<PortRange>>> {
    list((any::<u16>(), any::<u16>()).prop_map(|(lo, hi)| PortRange { lo, hi }))
}

fn filter() -> impl Strategy<Value = Filter> {
    (
        (
            proptest::option::of(prop_oneof![Just(2u8), Just(10u8), any::<u8>()]),
            proptest::option::of(prop_oneof![Just(6u8), Just(17u8), Just(1u8), any::<u8>()]),
            list(cidr()),
            list(cidr()),
            list(cidr()),
            list(cidr()),
            list(cidr()),
        ),
        (ports(), ports(), ports(), ports()),
        (
            list((any::<u32>(), any::<u32>())),
            list(any::<u16>()),
            list(any::<u16>()),
            list(any::<u16>()),
            proptest::option::of(any::<(u32, u32)>()),
            proptest::option::of((any::<u8>(), any::<u32>())),
            proptest::option::of(any::<u32>()),
            proptest::option::of(any::<u32>()),
        ),
    )
        .prop_map(
            |(
                (family, proto, src, dst, reply_src, reply_dst, addr),
                (sport, dport, reply_sport, reply_dport),
                (mark, zone, orig_zone, reply_zone, status, state, below, id),
            )| Filter {
                family,
                proto,
                src,
                dst,
                reply_src,
                reply_dst,
                addr,
                sport,
                dport,
                reply_sport,
                reply_dport,
                mark,
                zone,
                orig_zone,
                reply_zone,
                status: status.map(|(set, clear)| StatusMatch { set, clear }),
                state: state.map(|(proto, mask)| StateMatch { proto, mask }),
                timeout_below: below,
                id,
                nat: NatMatch::default(),
                ..Filter::default()
            },
        )
}

fn tuple() -> impl Strategy<Value = Tuple> {
    (
        proptest::option::of(ip()),
        proptest::option::of(ip()),
        proptest::option::of(any::<u8>()),
        proptest::option::of(any::<u16>()),
        proptest::option::of(any::<u16>()),
        proptest::option::of(any::<u16>()),
    )
        .prop_map(|(src, dst, proto, src_port, dst_port, zone)| Tuple {
            src,
            dst,
            proto,
            src_port,
            dst_port,
            zone,
            ..Tuple::default()
        })
}

fn flow() -> impl Strategy<Value = Flow<'static>> {
    (
        any::<u8>(),
        tuple(),
        tuple(),
        proptest::option::of(any::<u32>()),
        proptest::option::of(any::<u32>()),
        proptest::option::of(any::<u16>()),
        proptest::option::of(any::<u32>()),
    )
        .prop_map(|(family, orig, reply, mark, timeout, zone, id)| Flow {
            family,
            orig,
            reply,
            mark,
            timeout,
            zone,
            id,
            ..Flow::default()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// The value parsers answer any text with a value or an error.
    #[test]
    fn value_parsers_never_panic(s in ".{0,40}", hint in proptest::option::of(any::<u8>())) {
        let _ = Cidr::parse(&s);
        let _ = PortRange::parse(&s);
        let _ = StatusMatch::parse(&s);
        let _ = StateMatch::parse(&s, hint);
        let _ = values::parse_addrs(&s);
        let _ = values::parse_ports(&s);
        let _ = values::parse_marks(&s);
        let _ = values::parse_zones(&s);
        let _ = values::parse_proto(&s);
        let _ = values::parse_family(&s);
        let _ = values::parse_mark(&s);
        let _ = values::parse_duration(&s);
        let _ = values::parse_wait(&s);
        let _ = Match::parse(&s, |v| v.parse::<u32>().map_err(|e| e.to_string()));
    }

    /// Any filter, however built, normalizes or says why not, and every
    /// method then answers: matches, the kernel plan, the single tuple.
    #[test]
    fn filters_never_panic(f in filter(), flows in proptest::collection::vec(flow(), 1..4)) {
        let _ = f.selects_everything();
        let _ = f.single_tuple();
        let _ = f.kernel_plan(Criteria::ALL);
        for fl in &flows {
            let _ = f.matches(fl);
        }
        if let Ok(n) = f.clone().normalize() {
            let _ = n.single_tuple();
            let _ = n.selects_everything();
            let _ = n.kernel_plan(Criteria::ALL);
            let _ = n.kernel_plan(Criteria::NONE);
            for fl in &flows {
                let _ = n.matches(fl);
            }
        }
    }

    /// Sets of any filters, including none: every method answers.
    #[test]
    fn filter_sets_never_panic(
        common in filter(),
        lines in proptest::collection::vec(filter(), 0..4),
        flows in proptest::collection::vec(flow(), 1..4),
    ) {
        let set = FilterSet::new(common, lines);
        let _ = set.prefilter();
        let _ = set.selects_everything();
        let _ = Selection::kernel_plan(&set, Criteria::ALL);
        for fl in &flows {
            let _ = Selection::matches(&set, fl);
            let _ = set.each_match(fl, |_| {});
        }
    }
}

/// kube-proxy's case: a service whose endpoints are all gone. "Replies
/// from none of these endpoints" with no endpoints selects every reply;
/// "from one of them" selects none.
#[test]
fn an_empty_endpoint_list_has_a_meaning() {
    let none_of = Filter {
        reply_src: Some(Match {
            values: Vec::new(),
            negated: true,
        }),
        ..Filter::default()
    }
    .normalize()
    .unwrap();
    let one_of = Filter {
        reply_src: Some(Match {
            values: Vec::new(),
            negated: false,
        }),
        ..Filter::default()
    }
    .normalize()
    .unwrap();
    let f = Flow {
        family: 2,
        reply: Tuple {
            src: Some(IpAddr::V4(Ipv4Addr::new(10, 244, 1, 5))),
            ..Tuple::default()
        },
        ..Flow::default()
    };
    assert!(none_of.matches(&f));
    assert!(!one_of.matches(&f));
}

/// The library alone stays lean: without default features, at most 30
/// crates (ctctl's own included).
#[test]
fn the_library_alone_pulls_in_at_most_30_crates() {
    let out = std::process::Command::new(env!("CARGO"))
        .args([
            "tree",
            "-e",
            "normal",
            "--no-default-features",
            "-p",
            "ctctl",
            "--prefix",
            "none",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut crates: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(String::from))
        .collect();
    crates.sort();
    crates.dedup();
    assert!(crates.len() <= 30, "{} crates: {crates:?}", crates.len());
}

/// Events as an async stream, in a namespace of their own: a created entry
/// arrives as a `Notice::Event`.
#[cfg(feature = "tokio")]
#[test]
fn async_events_arrive_as_a_stream() {
    use ctctl::async_events::Notice;
    use ctctl::{Conntrack, EventKind, EventOptions};
    use futures_core::Stream;
    if !nix::unistd::geteuid().is_root() {
        assert!(
            std::env::var("CTCTL_REQUIRE_ROOT").as_deref() != Ok("1"),
            "needs root"
        );
        eprintln!("SKIPPED: needs root");
        return;
    }
    let name = format!("ctctl-async-{}", std::process::id());
    assert!(std::process::Command::new("ip")
        .args(["netns", "add", &name])
        .status()
        .unwrap()
        .success());
    struct Del(String);
    impl Drop for Del {
        fn drop(&mut self) {
            let _ = std::process::Command::new("ip")
                .args(["netns", "del", &self.0])
                .status();
        }
    }
    let _del = Del(name.clone());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut ct = Conntrack::in_netns(&name).unwrap();
        let mut events = ct
            .events_async(&EventOptions::default(), &Filter::all())
            .unwrap();
        let flow = Flow {
            orig: Tuple {
                src: "10.0.0.1".parse().ok(),
                dst: "10.0.0.2".parse().ok(),
                proto: Some(ctctl::proto::UDP),
                src_port: Some(1000),
                dst_port: Some(53),
                ..Tuple::default()
            },
            timeout: Some(60),
            ..Flow::default()
        };
        assert!(ct.create(&flow, false).unwrap());
        let next = std::future::poll_fn(|cx| std::pin::Pin::new(&mut events).poll_next(cx));
        let got = tokio::time::timeout(std::time::Duration::from_secs(5), next)
            .await
            .expect("an event within 5 s");
        match got {
            Some(Ok(Notice::Event(e))) => {
                assert_eq!(e.kind, EventKind::New);
                assert_eq!(e.flow.orig.dst_port, Some(53));
                assert_eq!(e.flow.to_string().split_whitespace().next(), Some("udp"));
            }
            other => panic!("{other:?}"),
        }
    });
}

/// `create` works out the family and the reply tuple, and names what a
/// flow lacks before anything is sent.
#[test]
fn create_names_what_a_flow_lacks() {
    let base = Flow {
        orig: Tuple {
            src: "10.0.0.1".parse().ok(),
            dst: "10.0.0.2".parse().ok(),
            proto: Some(ctctl::proto::TCP),
            src_port: Some(1),
            dst_port: Some(2),
            ..Tuple::default()
        },
        timeout: Some(30),
        ..Flow::default()
    };
    let full = ctctl::create::complete(&base).unwrap();
    assert_eq!(full.family, ctctl::AF_INET);
    assert_eq!(full.reply.src, base.orig.dst);
    assert_eq!(full.reply.dst_port, Some(1));
    for (f, field) in [
        (
            Flow {
                timeout: None,
                ..base.clone()
            },
            "timeout",
        ),
        (
            Flow {
                orig: Tuple {
                    src_port: None,
                    ..base.orig
                },
                ..base.clone()
            },
            "orig.src_port",
        ),
        (
            Flow {
                orig: Tuple {
                    dst: "fd00::1".parse().ok(),
                    ..base.orig
                },
                ..base.clone()
            },
            "orig.dst",
        ),
        (
            Flow {
                orig: Tuple {
                    proto: None,
                    ..base.orig
                },
                ..base.clone()
            },
            "orig.proto",
        ),
    ] {
        match ctctl::create::complete(&f) {
            Err(ctctl::Error::Flow { field: got, .. }) => assert_eq!(got, field),
            other => panic!("{field}: {other:?}"),
        }
    }
    // A helper name past the kernel's bound is an error here, not a panic
    // in the encoder (an attribute length is 16 bits).
    let long = "h".repeat(70_000);
    let f = Flow {
        helper: Some(long.as_str().into()),
        ..base.clone()
    };
    match ctctl::create::complete(&f) {
        Err(ctctl::Error::Value(e)) => assert!(e.0.contains("helper"), "{e}"),
        other => panic!("{other:?}"),
    }
}
