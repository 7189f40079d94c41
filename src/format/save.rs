//! conntrack's `-o save` lines: a command line per entry (`-A ...` for
//! lists, `-D ...` for deletes) that `conntrack -R` replays. Unlike
//! conntrack 1.4.7, the mark is kept (`-m`).

use ctctl_netlink::conntrack::{proto, Flow, Status};

use crate::flow::nat_of;
use crate::flow::proto_name;

/// Appends the save line of `f`, starting with `command`.
pub fn write(out: &mut Vec<u8>, f: &Flow<'_>, command: &str) {
    let mut s = String::from(command);
    let mut add = |k: &str, v: &dyn std::fmt::Display| {
        s.push_str(&format!(" {k} {v}"));
    };
    if let Some(t) = f.timeout {
        add("-t", &t);
    }
    let status = f.status.map_or(0, |s| s.0)
        & (Status::SEEN_REPLY.0 | Status::ASSURED.0 | Status::FIXED_TIMEOUT.0);
    if status != 0 {
        let names: Vec<&str> = Status::NAMES
            .iter()
            .filter(|(b, _)| status & b.0 != 0)
            .map(|(_, n)| *n)
            .collect();
        add("-u", &names.join(","));
    }
    if let Some(z) = f.zone {
        add("-w", &z);
    }
    if let Some(z) = f.orig.zone {
        add("--orig-zone", &z);
    }
    if let Some(z) = f.reply.zone {
        add("--reply-zone", &z);
    }
    let ip = |a: Option<std::net::IpAddr>| a.map(|a| a.to_string()).unwrap_or_default();
    add("-s", &ip(f.orig.src));
    add("-d", &ip(f.orig.dst));
    // Under NAT, the reply side is told as the NAT (conntrack's -g / -n).
    let (snat, dnat) = nat_of(f);
    if dnat.is_some() {
        add("-g", &ip(f.reply.src));
    } else {
        add("-r", &ip(f.reply.src));
    }
    if snat.is_some() {
        add("-n", &ip(f.reply.dst));
    } else {
        add("-q", &ip(f.reply.dst));
    }
    let p = f.orig.proto.unwrap_or(0);
    if proto_name(p) == "unknown" {
        add("-p", &p);
    } else {
        add("-p", &proto_name(p));
    }
    let mut port = |k: &str, v: Option<u16>| {
        if let Some(v) = v {
            s.push_str(&format!(" {k} {v}"));
        }
    };
    port("--sport", f.orig.src_port);
    port("--dport", f.orig.dst_port);
    port("--reply-port-src", f.reply.src_port);
    port("--reply-port-dst", f.reply.dst_port);
    let v6 = p == proto::ICMPV6;
    let icmp = |k: &str| {
        if v6 {
            format!("--icmpv6-{k}")
        } else {
            format!("--icmp-{k}")
        }
    };
    if let Some(t) = f.orig.icmp_type {
        s.push_str(&format!(" {} {t}", icmp("type")));
    }
    if let Some(c) = f.orig.icmp_code {
        s.push_str(&format!(" {} {c}", icmp("code")));
    }
    if let Some(i) = f.orig.icmp_id {
        s.push_str(&format!(" {} {i}", icmp("id")));
    }
    if let Some(st) = f.state_name() {
        s.push_str(&format!(" --state {st}"));
    }
    if let Some(m) = f.mark.filter(|m| *m != 0) {
        s.push_str(&format!(" -m {m}"));
    }
    out.extend_from_slice(s.as_bytes());
}
