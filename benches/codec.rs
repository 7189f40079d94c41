//! Codec throughput on captured kernel messages: decode + format, one core.
//!
//!   cargo bench --bench codec
//!
//! Prints messages per second for: JSON events (decode an event message,
//! write its JSON line), text list lines (decode a dump entry, write its
//! conntrack -L line), and decode alone. Each figure is the best of 5
//! rounds of about 0.3 s.

use std::hint::black_box;
use std::time::{Duration, Instant};

use ctctl::format::record::EventTag;
use ctctl::format::{json, text};
use ctctl_netlink::conntrack::{EventKind, Flow};
use ctctl_netlink::header::{Message, Messages, IPCTNL_MSG_CT_NEW};
use ctctl_netlink::testdata;

fn messages(fixture: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for dgram in testdata::datagrams(fixture) {
        for m in Messages::new(&dgram).map(Result::unwrap) {
            if m.header.kind >= 0x10
                && (m.header.msg() == IPCTNL_MSG_CT_NEW || EventKind::of(&m).is_some())
            {
                let len = m.header.len as usize;
                let start = m.payload.as_ptr() as usize - dgram.as_ptr() as usize - 16;
                out.push(dgram[start..start + len].to_vec());
            }
        }
    }
    out
}

fn rate(msgs: &[Vec<u8>], mut f: impl FnMut(&Message<'_>, &mut Vec<u8>)) -> f64 {
    let parsed: Vec<Message<'_>> = msgs
        .iter()
        .map(|m| Messages::new(m).next().unwrap().unwrap())
        .collect();
    let mut out = Vec::with_capacity(1 << 17);
    let mut best = 0f64;
    for _ in 0..5 {
        let start = Instant::now();
        let mut n = 0u64;
        while start.elapsed() < Duration::from_millis(300) {
            for _ in 0..1000 {
                for m in &parsed {
                    f(m, &mut out);
                    n += 1;
                }
                if out.len() > 1 << 16 {
                    black_box(&out);
                    out.clear();
                }
            }
        }
        best = best.max(n as f64 / start.elapsed().as_secs_f64());
    }
    best
}

fn main() {
    let events = messages(testdata::EVENTS_MIXED);
    let dump = messages(testdata::DUMP_MIXED);

    let json_events = rate(&events, |m, out| {
        let kind = EventKind::of(m).unwrap();
        let f = Flow::decode(m).unwrap();
        let tag = EventTag::of(kind, 1_795_439_516_123_456_789, m.header.pid);
        json::write_flow(out, &f, Some(&tag), None);
        out.push(b'\n');
    });
    let text_list = rate(&dump, |m, out| {
        let f = Flow::decode(m).unwrap();
        text::write_flow(out, &f, None, text::TextOpts::default(), 1_795_439_516);
        out.push(b'\n');
    });
    let json_list = rate(&dump, |m, out| {
        let f = Flow::decode(m).unwrap();
        json::write_flow(out, &f, None, None);
        out.push(b'\n');
    });
    let decode = rate(&dump, |m, _| {
        black_box(Flow::decode(m).unwrap());
    });
    println!("codec (captured messages, one core, best of 5):");
    println!(
        "  JSON events (decode + format): {:>10.0} events/s",
        json_events
    );
    println!(
        "  text list lines:               {:>10.0} entries/s",
        text_list
    );
    println!(
        "  JSON list lines:               {:>10.0} entries/s",
        json_list
    );
    println!(
        "  decode only:                   {:>10.0} entries/s",
        decode
    );
}
