//! The restore parsers (ctctl save JSON Lines, conntrack -o save / -R
//! lines) on arbitrary text, and the bounds every parsed entry must meet
//! before it is encoded.
#![no_main]

use ctctl_netlink::attr::AttrWriter;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for line in text.lines() {
        if let Ok(Some(ctctl::restore::Line::Create(flow, _))) = ctctl::restore::parse_line(line) {
            // Accepted lines encode without an oversized attribute.
            let mut buf = Vec::new();
            flow.encode(&mut AttrWriter::new(&mut buf));
        }
    }
});
