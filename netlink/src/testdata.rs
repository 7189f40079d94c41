//! Captured kernel messages used as test fixtures (not part of the API).
//!
//! A fixture is text: `#` comment lines that say how it was captured,
//! `#> ` lines with what conntrack(8) printed for it, and `# datagram`
//! markers each followed by the hex bytes of one received datagram.

/// The dump of a mixed table; see the file's header for how it was made.
pub const DUMP_MIXED: &str = include_str!("conntrack/testdata/dump-mixed.txt");

/// Events (new, update, destroy) during real traffic; see the file's header.
pub const EVENTS_MIXED: &str = include_str!("conntrack/testdata/events-mixed.txt");

/// The datagrams of a fixture, as bytes.
pub fn datagrams(fixture: &str) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    for line in fixture.lines() {
        if line.starts_with("# datagram") {
            out.push(Vec::new());
        } else if !line.starts_with('#') && !line.trim().is_empty() {
            let cur = out
                .last_mut()
                .expect("hex before the first `# datagram` marker");
            cur.extend(
                line.split_whitespace()
                    .map(|h| u8::from_str_radix(h, 16).expect("hex byte")),
            );
        }
    }
    out
}

/// The `#> ` lines of a fixture: what conntrack(8) printed.
pub fn expected_lines(fixture: &str) -> Vec<&str> {
    fixture
        .lines()
        .filter_map(|l| l.strip_prefix("#> "))
        .collect()
}
