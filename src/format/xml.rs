//! conntrack's `-o xml`: one `<flow>` element per entry (or event) inside
//! a `<conntrack>` document, as libnetfilter_conntrack lays it out.

use std::fmt::Write as _;
use std::net::IpAddr;

use ctctl_netlink::conntrack::{proto, Flow, Status, Tuple};
use ctctl_netlink::header::AF_INET6;

use crate::flow::proto_name;

/// The document's opening, written before the first flow.
pub const HEADER: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<conntrack>\n";
/// The document's end, written after the last flow (if a flow was written).
pub const FOOTER: &str = "</conntrack>\n";

fn l3_name(family: u8) -> &'static str {
    if family == AF_INET6 {
        "ipv6"
    } else {
        "ipv4"
    }
}

fn tuple_xml(s: &mut String, family: u8, t: &Tuple, dir: &str, counters: Option<(u64, u64)>) {
    let _ = write!(
        s,
        "<meta direction=\"{dir}\"><layer3 protonum=\"{family}\" protoname=\"{}\">",
        l3_name(family)
    );
    for (tag, a) in [("src", t.src), ("dst", t.dst)] {
        if let Some(a) = a {
            let _ = write!(s, "<{tag}>{}</{tag}>", addr(a));
        }
    }
    let p = t.proto.unwrap_or(0);
    let _ = write!(
        s,
        "</layer3><layer4 protonum=\"{p}\" protoname=\"{}\">",
        proto_name(p)
    );
    match p {
        proto::TCP | proto::UDP | proto::UDPLITE | proto::SCTP | proto::DCCP => {
            let _ = write!(
                s,
                "<sport>{}</sport><dport>{}</dport>",
                t.src_port.unwrap_or(0),
                t.dst_port.unwrap_or(0)
            );
        }
        proto::GRE => {
            let _ = write!(
                s,
                "<srckey>0x{:x}</srckey><dstkey>0x{:x}</dstkey>",
                t.src_port.unwrap_or(0),
                t.dst_port.unwrap_or(0)
            );
        }
        _ => {}
    }
    s.push_str("</layer4>");
    if let Some(z) = t.zone {
        let _ = write!(s, "<zone>{z}</zone>");
    }
    if let Some((packets, bytes)) = counters {
        let _ = write!(
            s,
            "<counters><packets>{packets}</packets><bytes>{bytes}</bytes></counters>"
        );
    }
    s.push_str("</meta>");
}

fn addr(a: IpAddr) -> String {
    a.to_string()
}

/// The local time as conntrack's `<when>` (for `-o xml,timestamp` events).
fn when(s: &mut String, now_secs: i64) {
    // SAFETY: localtime_r only writes the tm it is given.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let t: libc::time_t = now_secs as libc::time_t;
    if unsafe { libc::localtime_r(&t, &mut tm) }.is_null() {
        return;
    }
    let _ = write!(
        s,
        "<when><hour>{}</hour><min>{:02}</min><sec>{:02}</sec><wday>{}</wday><day>{}</day><month>{}</month><year>{}</year></when>",
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        tm.tm_wday + 1,
        tm.tm_mday,
        tm.tm_mon + 1,
        1900 + tm.tm_year
    );
}

/// Appends one `<flow>` element (no newline). `event` is `new`, `update` or
/// `destroy` for event lines; `now_secs` the current time, for
/// `<deltatime>` and (with `stamp`) `<when>`.
pub fn write_flow(
    out: &mut Vec<u8>,
    f: &Flow<'_>,
    event: Option<&str>,
    stamp: bool,
    now_secs: u64,
) {
    let mut s = String::with_capacity(768);
    match event {
        Some(kind) => {
            let _ = write!(s, "<flow type=\"{kind}\">");
        }
        None => s.push_str("<flow>"),
    }
    let c = |c: &Option<ctctl_netlink::conntrack::Counters>| c.map(|c| (c.packets, c.bytes));
    tuple_xml(&mut s, f.family, &f.orig, "original", c(&f.counters_orig));
    tuple_xml(&mut s, f.family, &f.reply, "reply", c(&f.counters_reply));
    let mut meta = String::new();
    if let Some(st) = f.state_name() {
        let _ = write!(meta, "<state>{st}</state>");
    }
    if let Some(t) = f.timeout {
        let _ = write!(meta, "<timeout>{t}</timeout>");
    }
    if let Some(m) = f.mark {
        let _ = write!(meta, "<mark>{m}</mark>");
    }
    if let Some(m) = f.secmark {
        let _ = write!(meta, "<secmark>{m}</secmark>");
    }
    if let Some(ctx) = &f.secctx {
        let _ = write!(meta, "<secctx>{}</secctx>", escape(ctx));
    }
    if let Some(z) = f.zone {
        let _ = write!(meta, "<zone>{z}</zone>");
    }
    if let Some(u) = f.use_count {
        let _ = write!(meta, "<use>{u}</use>");
    }
    if let Some(id) = f.id {
        let _ = write!(meta, "<id>{id}</id>");
    }
    if let Some(st) = f.status {
        if st.0 & Status::ASSURED.0 != 0 {
            meta.push_str("<assured/>");
        }
        if st.0 & Status::SEEN_REPLY.0 == 0 {
            meta.push_str("<unreplied/>");
        }
    }
    if let Some(ts) = &f.timestamp {
        let start = ts.start / 1_000_000_000;
        let delta = match ts.stop {
            Some(stop) => (stop / 1_000_000_000).saturating_sub(start),
            None => now_secs.saturating_sub(start),
        };
        let _ = write!(meta, "<deltatime>{delta}</deltatime>");
    }
    if !meta.is_empty() || f.status.is_some() {
        s.push_str("<meta direction=\"independent\">");
        s.push_str(&meta);
        s.push_str("</meta>");
    }
    if stamp {
        when(&mut s, now_secs as i64);
    }
    if let Some(h) = &f.helper {
        let _ = write!(s, "<helper>{}</helper>", escape(h));
    }
    s.push_str("</flow>");
    out.extend_from_slice(s.as_bytes());
}

/// The opening of `-L expect -o xml`.
pub const EXPECT_HEADER: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<expect>\n";
/// Its end.
pub const EXPECT_FOOTER: &str = "</expect>\n";

/// Appends one expectation as conntrack's `-L expect -o xml` writes it:
/// layer 3 and layer 4 each with the expected tuple, the mask and the
/// master, then the helper, timeout and class.
pub fn write_expect(out: &mut Vec<u8>, e: &ctctl_netlink::expect::Expect) {
    let mut s = String::with_capacity(512);
    let _ = write!(
        s,
        "<flow><layer3 protonum=\"{}\" protoname=\"{}\">",
        e.family,
        l3_name(e.family)
    );
    let parts = [
        ("expected", &e.tuple),
        ("mask", &e.mask),
        ("master", &e.master),
    ];
    for (tag, t) in parts {
        let _ = write!(s, "<{tag}>");
        for (a, name) in [(t.src, "src"), (t.dst, "dst")] {
            if let Some(a) = a {
                let _ = write!(s, "<{name}>{}</{name}>", addr(a));
            }
        }
        let _ = write!(s, "</{tag}>");
    }
    let p = e.tuple.proto.unwrap_or(0);
    let _ = write!(
        s,
        "</layer3><layer4 protonum=\"{p}\" protoname=\"{}\">",
        proto_name(p)
    );
    for (tag, t) in parts {
        let _ = write!(s, "<{tag}>");
        if let (Some(sp), Some(dp)) = (t.src_port, t.dst_port) {
            let _ = write!(s, "<sport>{sp}</sport><dport>{dp}</dport>");
        }
        let _ = write!(s, "</{tag}>");
    }
    s.push_str("</layer4><meta>");
    if let Some(h) = &e.helper {
        let _ = write!(s, "<helper-name>{}</helper-name>", escape(h));
    }
    if let Some(t) = e.timeout {
        let _ = write!(s, "<timeout>{t}</timeout>");
    }
    if let Some(c) = e.class {
        let _ = write!(s, "<class>{c}</class>");
    }
    s.push_str("</meta></flow>");
    out.extend_from_slice(s.as_bytes());
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_udp_entry_as_conntrack_writes_it() {
        let t = |s: &str, d: &str, sp, dp| Tuple {
            src: Some(s.parse().unwrap()),
            dst: Some(d.parse().unwrap()),
            proto: Some(17),
            src_port: Some(sp),
            dst_port: Some(dp),
            ..Tuple::default()
        };
        let f = Flow {
            family: 2,
            orig: t("10.0.0.1", "10.0.0.2", 1, 2),
            reply: t("10.0.0.2", "10.0.0.1", 2, 1),
            timeout: Some(29),
            mark: Some(5),
            use_count: Some(1),
            id: Some(1983034531),
            status: Some(Status(0)),
            ..Flow::default()
        };
        let mut out = Vec::new();
        write_flow(&mut out, &f, None, false, 0);
        // conntrack 1.4.7's line for this entry.
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "<flow><meta direction=\"original\"><layer3 protonum=\"2\" protoname=\"ipv4\"><src>10.0.0.1</src><dst>10.0.0.2</dst></layer3><layer4 protonum=\"17\" protoname=\"udp\"><sport>1</sport><dport>2</dport></layer4></meta><meta direction=\"reply\"><layer3 protonum=\"2\" protoname=\"ipv4\"><src>10.0.0.2</src><dst>10.0.0.1</dst></layer3><layer4 protonum=\"17\" protoname=\"udp\"><sport>2</sport><dport>1</dport></layer4></meta><meta direction=\"independent\"><timeout>29</timeout><mark>5</mark><use>1</use><id>1983034531</id><unreplied/></meta></flow>"
        );
    }
}
