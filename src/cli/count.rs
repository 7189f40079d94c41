//! `ctctl count`: the table size from GET_STATS (no dump), the number of
//! matching entries, or counts per value (`--by`), largest first.

use std::collections::HashMap;
use std::net::IpAddr;
use std::ops::ControlFlow;

use ctctl_netlink::conntrack::Flow;

use super::args::{Cli, CountArgs, CountBy, Format};
use super::Outcome;
use crate::conntrack::Conntrack;
use crate::flow::{family_name, proto_name};
use crate::format::json;
use crate::format::text;
use crate::stdio::out::Out;

/// A group key: kept as a value, rendered only for output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Key {
    None,
    Name(&'static str),
    Num(u64),
    Ip(IpAddr),
    Status(u32),
    Pod(u32),
}

/// Pods by address, and their names (`--by pod`).
#[derive(Default)]
struct Pods {
    by_addr: HashMap<IpAddr, u32>,
    names: Vec<String>,
}

fn key(by: CountBy, f: &Flow<'_>, pods: &Pods) -> Key {
    match by {
        CountBy::Pod => f
            .orig
            .src
            .and_then(|a| pods.by_addr.get(&a))
            .map_or(Key::None, |i| Key::Pod(*i)),
        CountBy::State => f.state_name().map_or(Key::None, Key::Name),
        CountBy::Proto => f.orig.proto.map_or(Key::None, |p| Key::Name(proto_name(p))),
        CountBy::Family => Key::Name(family_name(f.family)),
        CountBy::Src => f.orig.src.map_or(Key::None, Key::Ip),
        CountBy::Dst => f.orig.dst.map_or(Key::None, Key::Ip),
        CountBy::Dport => f.orig.dst_port.map_or(Key::None, |p| Key::Num(p as u64)),
        CountBy::Zone => Key::Num(f.zone.unwrap_or(0) as u64),
        CountBy::Mark => Key::Num(f.mark.unwrap_or(0) as u64),
        CountBy::Status => Key::Status(f.status.map_or(0, |s| s.0)),
    }
}

fn render_key(out: &mut Vec<u8>, k: &Key, pods: &Pods) {
    match k {
        Key::Pod(i) => out.extend_from_slice(
            pods.names
                .get(*i as usize)
                .map_or("-", String::as_str)
                .as_bytes(),
        ),
        Key::None => out.push(b'-'),
        Key::Name(s) => out.extend_from_slice(s.as_bytes()),
        Key::Num(n) => text::num(out, *n),
        Key::Ip(ip) => text::write_ip(out, ip),
        Key::Status(s) => {
            let names: Vec<&str> = ctctl_netlink::conntrack::Status(*s).names().collect();
            if names.is_empty() {
                out.push(b'-');
            } else {
                out.extend_from_slice(names.join("|").as_bytes());
            }
        }
    }
}

fn by_name(by: CountBy) -> &'static str {
    match by {
        CountBy::State => "state",
        CountBy::Proto => "proto",
        CountBy::Family => "family",
        CountBy::Src => "src",
        CountBy::Dst => "dst",
        CountBy::Dport => "dport",
        CountBy::Zone => "zone",
        CountBy::Mark => "mark",
        CountBy::Status => "status",
        CountBy::Pod => "pod",
    }
}

/// `ctctl count`.
pub fn run(cli: &Cli, a: &CountArgs) -> anyhow::Result<Outcome> {
    let filter = super::select::selector(&a.filter)?;
    let mut ct = Conntrack::open()?;
    let mut out = Out::stdout();
    let json = cli.output == Format::Json;

    let Some(by) = a.by else {
        if filter.is_empty() {
            let s = ct.stats()?;
            if json {
                out.buf().extend_from_slice(b"{\"count\":");
                text::num(out.buf(), s.entries as u64);
                if let Some(max) = s.max_entries {
                    out.buf().extend_from_slice(b",\"max\":");
                    text::num(out.buf(), max as u64);
                }
                out.buf().push(b'}');
            } else {
                text::num(out.buf(), s.entries as u64);
            }
        } else {
            let mut n = 0u64;
            ct.try_stream(&filter, |_| -> anyhow::Result<ControlFlow<()>> {
                n += 1;
                Ok(ControlFlow::Continue(()))
            })?;
            if json {
                out.buf().extend_from_slice(b"{\"count\":");
                text::num(out.buf(), n);
                out.buf().push(b'}');
            } else {
                text::num(out.buf(), n);
            }
        }
        out.line_done()?;
        out.flush()?;
        return Ok(Outcome::Ok);
    };

    let mut pods = Pods::default();
    if by == CountBy::Pod {
        let mut index: HashMap<String, u32> = HashMap::new();
        for (addr, p) in crate::live::pods::host_pods(&a.pod_logs_dir) {
            let name = format!("{}/{}", p.namespace, p.name);
            let next = pods.names.len() as u32;
            let i = *index.entry(name.clone()).or_insert_with(|| {
                pods.names.push(name);
                next
            });
            pods.by_addr.insert(addr, i);
        }
    }
    let mut groups: HashMap<Key, u64> = HashMap::new();
    ct.try_stream(&filter, |f| -> anyhow::Result<ControlFlow<()>> {
        *groups.entry(key(by, f, &pods)).or_insert(0) += 1;
        Ok(ControlFlow::Continue(()))
    })?;
    let mut rows: Vec<(Key, u64)> = groups.into_iter().collect();
    // Largest first; ties in key order so the output is stable.
    rows.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    if let Some(top) = a.top {
        rows.truncate(top);
    }
    let width = rows.first().map_or(1, |r| r.1.to_string().len());
    let name = by_name(by);
    for (k, n) in &rows {
        let buf = out.buf();
        if json {
            buf.extend_from_slice(b"{\"");
            buf.extend_from_slice(name.as_bytes());
            buf.extend_from_slice(b"\":");
            let mut key_text = Vec::new();
            render_key(&mut key_text, k, &pods);
            match k {
                Key::Num(_) => buf.extend_from_slice(&key_text),
                Key::None => buf.extend_from_slice(b"null"),
                _ => json::string(buf, std::str::from_utf8(&key_text).unwrap_or("-")),
            }
            buf.extend_from_slice(b",\"count\":");
            text::num(buf, *n);
            buf.push(b'}');
        } else {
            let s = n.to_string();
            for _ in s.len()..width {
                buf.push(b' ');
            }
            buf.extend_from_slice(s.as_bytes());
            buf.push(b' ');
            render_key(buf, k, &pods);
        }
        out.line_done()?;
    }
    out.flush()?;
    Ok(Outcome::Ok)
}
