//! `-o json`: one JSON object per entry (JSON Lines), written straight into
//! a byte buffer. The schema is documented in the README and is stable:
//! fields are only ever added.

use ctctl_netlink::conntrack::{proto, Counters, Flow, ProtoInfo, Tuple};

use super::connlabel::LabelMap;
use super::record::EventTag;
use super::text::{num, write_ip};
use crate::flow::{family_name, proto_name};

/// Appends the JSON object for `f` (without the newline). With `event`,
/// the object starts with `"time"` (RFC 3339) and `"event"`, and carries
/// `"portid"` when a process caused the event.
pub fn write_flow(
    out: &mut Vec<u8>,
    f: &Flow<'_>,
    event: Option<&EventTag>,
    names: Option<&LabelMap>,
) {
    out.push(b'{');
    if let Some(ev) = event {
        out.extend_from_slice(b"\"time\":\"");
        write_rfc3339(out, ev.time_ns);
        out.extend_from_slice(b"\",\"event\":\"");
        out.extend_from_slice(ev.name.as_bytes());
        out.extend_from_slice(b"\",");
        if ev.portid != 0 {
            out.extend_from_slice(b"\"portid\":");
            num(out, ev.portid as u64);
            out.push(b',');
        }
    }
    out.extend_from_slice(b"\"family\":\"");
    out.extend_from_slice(family_name(f.family).as_bytes());
    out.extend_from_slice(b"\",\"proto\":\"");
    let p = f.orig.proto.unwrap_or(0);
    out.extend_from_slice(proto_name(p).as_bytes());
    out.extend_from_slice(b"\",\"proto_num\":");
    num(out, p as u64);
    out.extend_from_slice(b",\"timeout\":");
    opt_num(out, f.timeout.map(u64::from));
    if let Some(state) = f.state_name() {
        out.extend_from_slice(b",\"state\":\"");
        out.extend_from_slice(state.as_bytes());
        out.push(b'"');
    }
    // What the kernel needs besides the state to re-create SCTP and DCCP
    // entries (nlattr_to_sctp, nlattr_to_dccp).
    match &f.proto_info {
        Some(ProtoInfo::Sctp(i)) => {
            for (k, v) in [
                (&b",\"vtag_orig\":"[..], i.vtag_orig),
                (b",\"vtag_reply\":", i.vtag_reply),
            ] {
                if let Some(v) = v {
                    out.extend_from_slice(k);
                    num(out, v as u64);
                }
            }
        }
        Some(ProtoInfo::Dccp(i)) => {
            if let Some(r) = i.role {
                out.extend_from_slice(b",\"dccp_role\":");
                num(out, r as u64);
            }
            if let Some(seq) = i.handshake_seq {
                out.extend_from_slice(b",\"dccp_handshake_seq\":");
                num(out, seq);
            }
        }
        _ => {}
    }
    out.extend_from_slice(b",\"orig\":");
    tuple(out, &f.orig, f.counters_orig.as_ref());
    out.extend_from_slice(b",\"reply\":");
    tuple(out, &f.reply, f.counters_reply.as_ref());
    out.extend_from_slice(b",\"status\":[");
    if let Some(s) = f.status {
        for (i, name) in s.names().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.push(b'"');
            out.extend_from_slice(name.as_bytes());
            out.push(b'"');
        }
    }
    out.extend_from_slice(b"],\"mark\":");
    num(out, f.mark.unwrap_or(0) as u64);
    out.extend_from_slice(b",\"zone\":");
    num(out, f.zone.unwrap_or(0) as u64);
    out.extend_from_slice(b",\"id\":");
    opt_num(out, f.id.map(u64::from));
    out.extend_from_slice(b",\"use\":");
    opt_num(out, f.use_count.map(u64::from));
    if let Some(ts) = &f.timestamp {
        out.extend_from_slice(b",\"start\":\"");
        write_rfc3339(out, ts.start);
        out.push(b'"');
        if let Some(stop) = ts.stop {
            out.extend_from_slice(b",\"stop\":\"");
            write_rfc3339(out, stop);
            out.push(b'"');
        }
    }
    if let Some(h) = &f.helper {
        out.extend_from_slice(b",\"helper\":");
        string(out, h);
    }
    if let Some(l) = &f.labels {
        // Names from connlabel.conf where it gives one, else the bit.
        out.extend_from_slice(b",\"labels\":[");
        for (i, bit) in l.bits().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            match names.and_then(|m| m.name(bit)) {
                Some(name) => string(out, name),
                None => num(out, bit as u64),
            }
        }
        out.push(b']');
    }
    if let Some(m) = f.secmark {
        out.extend_from_slice(b",\"secmark\":");
        num(out, m as u64);
    }
    if let Some(ctx) = &f.secctx {
        out.extend_from_slice(b",\"secctx\":");
        string(out, ctx);
    }
    if let Some(m) = &f.master {
        out.extend_from_slice(b",\"master\":");
        tuple(out, m, None);
    }
    out.push(b'}');
}

#[inline]
fn opt_num(out: &mut Vec<u8>, v: Option<u64>) {
    match v {
        Some(v) => num(out, v),
        None => out.extend_from_slice(b"null"),
    }
}

#[inline]
fn tuple(out: &mut Vec<u8>, t: &Tuple, c: Option<&Counters>) {
    out.push(b'{');
    let mut first = true;
    let mut key = |out: &mut Vec<u8>, k: &[u8]| {
        if !first {
            out.push(b',');
        }
        first = false;
        out.push(b'"');
        out.extend_from_slice(k);
        out.extend_from_slice(b"\":");
    };
    if let Some(ip) = &t.src {
        key(out, b"src");
        out.push(b'"');
        write_ip(out, ip);
        out.push(b'"');
    }
    if let Some(ip) = &t.dst {
        key(out, b"dst");
        out.push(b'"');
        write_ip(out, ip);
        out.push(b'"');
    }
    let (sk, dk): (&[u8], &[u8]) = if t.proto == Some(proto::GRE) {
        (b"src_key", b"dst_key")
    } else {
        (b"sport", b"dport")
    };
    for (k, v) in [
        (sk, t.src_port.map(u64::from)),
        (dk, t.dst_port.map(u64::from)),
        (&b"type"[..], t.icmp_type.map(u64::from)),
        (b"code", t.icmp_code.map(u64::from)),
        (b"id", t.icmp_id.map(u64::from)),
        (b"zone", t.zone.map(u64::from)),
    ] {
        if let Some(v) = v {
            key(out, k);
            num(out, v);
        }
    }
    if let Some(c) = c {
        key(out, b"packets");
        num(out, c.packets);
        key(out, b"bytes");
        num(out, c.bytes);
    }
    out.push(b'}');
}

/// Appends a JSON string literal.
pub fn string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    for &b in s.as_bytes() {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0..=0x1f => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(b >> 4) as usize]);
                out.push(HEX[(b & 0xf) as usize]);
            }
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

/// Appends `ns` (nanoseconds since the Unix epoch) as RFC 3339 UTC with
/// microseconds: `2026-11-23T13:11:56.123456Z`.
pub fn write_rfc3339(out: &mut Vec<u8>, ns: u64) {
    let secs = ns / 1_000_000_000;
    let micros = (ns % 1_000_000_000) / 1_000;
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days as i64);
    pad(out, y as u64, 4);
    out.push(b'-');
    pad(out, m as u64, 2);
    out.push(b'-');
    pad(out, d as u64, 2);
    out.push(b'T');
    pad(out, rem / 3600, 2);
    out.push(b':');
    pad(out, (rem / 60) % 60, 2);
    out.push(b':');
    pad(out, rem % 60, 2);
    out.push(b'.');
    pad(out, micros, 6);
    out.push(b'Z');
}

fn pad(out: &mut Vec<u8>, v: u64, width: usize) {
    let mut b = itoa::Buffer::new();
    let s = b.format(v);
    for _ in s.len()..width {
        out.push(b'0');
    }
    out.extend_from_slice(s.as_bytes());
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian
/// (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ctctl_netlink::conntrack::{ProtoInfo, Status, TcpInfo};
    use ctctl_netlink::header::AF_INET6;

    #[test]
    fn rfc3339() {
        let mut out = Vec::new();
        write_rfc3339(&mut out, 0);
        assert_eq!(out, b"1970-01-01T00:00:00.000000Z");
        out.clear();
        // 2026-11-23T13:11:56.123456789Z
        write_rfc3339(&mut out, 1_795_439_516_123_456_789);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "2026-11-23T13:11:56.123456Z"
        );
        let mut out = Vec::new();
        write_rfc3339(&mut out, 951_782_400_000_000_000); // leap day
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "2000-02-29T00:00:00.000000Z"
        );
    }

    #[test]
    fn flow_object_parses_and_has_schema_fields() {
        let f = Flow {
            family: AF_INET6,
            orig: Tuple {
                src: Some("2001:db8::1".parse().unwrap()),
                dst: Some("2001:db8::2".parse().unwrap()),
                proto: Some(6),
                src_port: Some(5),
                dst_port: Some(6),
                ..Tuple::default()
            },
            reply: Tuple::default(),
            status: Some(Status::SEEN_REPLY | Status::ASSURED),
            timeout: Some(30),
            proto_info: Some(ProtoInfo::Tcp(TcpInfo {
                state: Some(7),
                ..TcpInfo::default()
            })),
            helper: Some("ft\"p".into()),
            counters_orig: Some(Counters {
                packets: 1,
                bytes: 60,
            }),
            ..Flow::default()
        };
        let mut out = Vec::new();
        let tag = EventTag::of(ctctl_netlink::conntrack::EventKind::Destroy, 0, 0);
        write_flow(&mut out, &f, Some(&tag), None);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["event"], "destroy");
        assert_eq!(v["time"], "1970-01-01T00:00:00.000000Z");
        assert_eq!(v["family"], "ipv6");
        assert_eq!(v["proto"], "tcp");
        assert_eq!(v["proto_num"], 6);
        assert_eq!(v["state"], "TIME_WAIT");
        assert_eq!(v["orig"]["src"], "2001:db8::1");
        assert_eq!(v["orig"]["packets"], 1);
        assert_eq!(v["status"], serde_json::json!(["SEEN_REPLY", "ASSURED"]));
        assert_eq!(v["helper"], "ft\"p");
        assert_eq!(v["id"], serde_json::Value::Null);
        assert_eq!(v["mark"], 0);
    }
}
