//! Expectations as conntrack prints them (`conntrack -L expect` lines, and
//! `-E expect` event lines) and as JSON Lines.

use ctctl_netlink::conntrack::{proto, Tuple};
use ctctl_netlink::expect::{Expect, ExpectEvent};

use super::json;
use super::record::now_ns;
use super::render::Format;
use crate::flow::{family_name, proto_name};

/// Appends one expectation in `format` (no newline); `event` for event lines.
pub fn write(
    out: &mut Vec<u8>,
    format: Format,
    e: &Expect,
    event: Option<ExpectEvent>,
    show_id: bool,
) {
    match format {
        Format::Json => write_json(out, e, event),
        _ => write_text(out, e, event, show_id),
    }
}

fn l4_text(out: &mut String, t: &Tuple) {
    use std::fmt::Write as _;
    if let (Some(s), Some(d)) = (t.src_port, t.dst_port) {
        let _ = write!(out, "sport={s} dport={d} ");
    } else if t.proto == Some(proto::ICMP) || t.proto == Some(proto::ICMPV6) {
        let _ = write!(
            out,
            "type={} code={} id={} ",
            t.icmp_type.unwrap_or(0),
            t.icmp_code.unwrap_or(0),
            t.icmp_id.unwrap_or(0)
        );
    }
}

fn addr(a: Option<std::net::IpAddr>) -> String {
    a.map_or_else(|| "?".into(), |a| a.to_string())
}

/// The line `conntrack -L expect` prints (`conntrack -E expect` adds the
/// `[NEW]` / `[DESTROY]` tag).
pub fn write_text(out: &mut Vec<u8>, e: &Expect, event: Option<ExpectEvent>, show_id: bool) {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(256);
    match event {
        Some(ExpectEvent::New) => s.push_str("    [NEW] "),
        Some(ExpectEvent::Destroy) => s.push_str("[DESTROY] "),
        None => {}
    }
    let _ = write!(
        s,
        "{} proto={} src={} dst={} ",
        e.timeout.unwrap_or(0),
        e.tuple.proto.unwrap_or(0),
        addr(e.tuple.src),
        addr(e.tuple.dst)
    );
    l4_text(&mut s, &e.tuple);
    let _ = write!(
        s,
        "mask-src={} mask-dst={} ",
        addr(e.mask.src),
        addr(e.mask.dst)
    );
    l4_text(&mut s, &e.mask);
    let _ = write!(
        s,
        "master-src={} master-dst={} ",
        addr(e.master.src),
        addr(e.master.dst)
    );
    l4_text(&mut s, &e.master);
    if let Some(z) = e.zone {
        let _ = write!(s, "zone={z} ");
    }
    let flags = e.flag_names();
    if !flags.is_empty() {
        s.push_str(&flags.join(","));
        s.push(' ');
    }
    if let Some(c) = e.class {
        let _ = write!(s, "class={c} ");
    }
    if let Some(h) = &e.helper {
        let _ = write!(s, "helper={h} ");
    }
    if show_id {
        if let Some(id) = e.id {
            let _ = write!(s, "id={id} ");
        }
    }
    out.extend_from_slice(s.trim_end().as_bytes());
}

fn json_tuple(out: &mut Vec<u8>, t: &Tuple) {
    out.push(b'{');
    let mut first = true;
    let mut field = |out: &mut Vec<u8>, k: &str, v: String, quoted: bool| {
        if !first {
            out.push(b',');
        }
        first = false;
        json::string(out, k);
        out.push(b':');
        if quoted {
            json::string(out, &v);
        } else {
            out.extend_from_slice(v.as_bytes());
        }
    };
    if let Some(a) = t.src {
        field(out, "src", a.to_string(), true);
    }
    if let Some(a) = t.dst {
        field(out, "dst", a.to_string(), true);
    }
    if let Some(p) = t.src_port {
        field(out, "sport", p.to_string(), false);
    }
    if let Some(p) = t.dst_port {
        field(out, "dport", p.to_string(), false);
    }
    if let Some(v) = t.icmp_type {
        field(out, "icmp_type", v.to_string(), false);
    }
    if let Some(v) = t.icmp_code {
        field(out, "icmp_code", v.to_string(), false);
    }
    if let Some(v) = t.icmp_id {
        field(out, "icmp_id", v.to_string(), false);
    }
    out.push(b'}');
}

/// One JSON object: `family`, `proto`, `timeout`, `tuple`, `mask`,
/// `master`, `helper`, `flags`, `class`, `zone`, `id`; events add `time`
/// and `event`.
pub fn write_json(out: &mut Vec<u8>, e: &Expect, event: Option<ExpectEvent>) {
    out.push(b'{');
    if let Some(kind) = event {
        out.extend_from_slice(b"\"time\":\"");
        json::write_rfc3339(out, now_ns());
        out.extend_from_slice(b"\",\"event\":");
        json::string(
            out,
            match kind {
                ExpectEvent::New => "new",
                ExpectEvent::Destroy => "destroy",
            },
        );
        out.push(b',');
    }
    out.extend_from_slice(b"\"family\":");
    json::string(out, family_name(e.family));
    out.extend_from_slice(b",\"proto\":");
    json::string(out, proto_name(e.tuple.proto.unwrap_or(0)));
    if let Some(t) = e.timeout {
        out.extend_from_slice(format!(",\"timeout\":{t}").as_bytes());
    }
    out.extend_from_slice(b",\"tuple\":");
    json_tuple(out, &e.tuple);
    out.extend_from_slice(b",\"mask\":");
    json_tuple(out, &e.mask);
    out.extend_from_slice(b",\"master\":");
    json_tuple(out, &e.master);
    if let Some(h) = &e.helper {
        out.extend_from_slice(b",\"helper\":");
        json::string(out, h);
    }
    out.extend_from_slice(b",\"flags\":[");
    for (i, f) in e.flag_names().iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        json::string(out, f);
    }
    out.push(b']');
    if let Some(c) = e.class {
        out.extend_from_slice(format!(",\"class\":{c}").as_bytes());
    }
    if let Some(z) = e.zone {
        out.extend_from_slice(format!(",\"zone\":{z}").as_bytes());
    }
    if let Some(id) = e.id {
        out.extend_from_slice(format!(",\"id\":{id}").as_bytes());
    }
    out.push(b'}');
}
