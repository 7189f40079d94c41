//! `ctctl nat`: source-NAT port pressure, per protocol, NAT address and
//! destination: ports in use, ports available, utilisation, fullest first.

use super::args::{Cli, Format, NatArgs};
use super::Outcome;
use crate::conntrack::Conntrack;
use crate::flow::proto_name;
use crate::format::json;
use crate::format::number::thousands;
use crate::nat::NatUse;
use crate::stdio::out::Out;

/// `ctctl nat`.
pub fn run(cli: &Cli, a: &NatArgs) -> anyhow::Result<Outcome> {
    let filter = a.filter.to_filter()?;
    let mut ct = Conntrack::open()?;
    let tally = ct.nat_usage(&filter, a.port_range)?;
    let top = tally.top(usize::try_from(a.top).unwrap_or(usize::MAX));
    let mut out = Out::stdout();
    if cli.output == Format::Json {
        for u in &top {
            write_json(out.buf(), u);
            out.line_done()?;
        }
    } else {
        if top.is_empty() {
            eprintln!("ctctl: no source-NATed entries");
        } else {
            out.buf().extend_from_slice(
                format!(
                    "{:<8} {:<39} {:<46} {:>10} {:>10} {:>6}",
                    "PROTO", "SNAT", "DESTINATION", "PORTS", "AVAILABLE", "UTIL"
                )
                .trim_end()
                .as_bytes(),
            );
            out.line_done()?;
        }
        for u in &top {
            let g = &u.group;
            let dst = match g.dst {
                std::net::IpAddr::V6(a) => format!("[{a}]:{}", g.dport),
                a => format!("{a}:{}", g.dport),
            };
            out.buf().extend_from_slice(
                format!(
                    "{:<8} {:<39} {:<46} {:>10} {:>10} {:>5.1}%",
                    proto_name(g.proto),
                    g.snat,
                    dst,
                    thousands(u.used),
                    thousands(g.available()),
                    u.utilization() * 100.0
                )
                .as_bytes(),
            );
            out.line_done()?;
        }
        if tally.len() > top.len() {
            eprintln!(
                "ctctl: {} more groups (--top shows more)",
                thousands((tally.len() - top.len()) as u64)
            );
        }
    }
    out.flush()?;
    super::warn_untrusted(&ct);
    Ok(Outcome::Ok)
}

/// `{"proto":"tcp","snat":"192.0.2.1","dst":"203.0.113.7","dport":443,
/// "ports_used":52000,"ports_available":64512,"utilization":0.806}`.
pub(super) fn write_json(b: &mut Vec<u8>, u: &NatUse) {
    let g = &u.group;
    b.extend_from_slice(b"{\"proto\":");
    json::string(b, proto_name(g.proto));
    b.extend_from_slice(b",\"snat\":");
    json::string(b, &g.snat.to_string());
    b.extend_from_slice(b",\"dst\":");
    json::string(b, &g.dst.to_string());
    b.extend_from_slice(
        format!(
            ",\"dport\":{},\"ports_used\":{},\"ports_available\":{},\"port_range\":\"{}-{}\",\"utilization\":{:.4}}}",
            g.dport,
            u.used,
            g.available(),
            g.range.lo,
            g.range.hi,
            u.utilization()
        )
        .as_bytes(),
    );
}
