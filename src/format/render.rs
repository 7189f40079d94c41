//! Flows into records of the chosen [`Format`]: conntrack's text lines,
//! the extended ones, JSON Lines, or conntrack's `-o save` lines.

use ctctl_netlink::conntrack::Flow;

use super::connlabel::LabelMap;
use super::record::{now_ns, EventTag};
use super::text::{LabelStyle, TextOpts};

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// conntrack -L lines
    Text,
    /// conntrack -L -o extended lines (family first)
    Extended,
    /// JSON Lines
    Json,
    /// conntrack -o save lines (`-A ...`; events: `-A`, `-U`, `-D`), which
    /// `restore` and `conntrack -R` replay
    Save,
}

/// Turns flows into lines of the chosen format.
#[derive(Debug, Clone, Copy)]
pub struct Render {
    /// Text, extended or JSON.
    pub format: Format,
    /// Text options.
    pub text: TextOpts,
    /// Seconds since the epoch, for `delta-time=`.
    pub now: u64,
}

impl Render {
    /// A renderer for `format`; `show_id` adds `id=` to text lines.
    pub fn new(format: Format, show_id: bool) -> Render {
        Render {
            format,
            text: TextOpts {
                extended: format == Format::Extended,
                show_id,
                labels: LabelStyle::NamedOrBits,
                ktimestamp: false,
                names: None,
            },
            now: now_ns() / 1_000_000_000,
        }
    }

    /// The same, naming labels by `names` (connlabel.conf).
    pub fn with_names(mut self, names: &'static LabelMap) -> Render {
        self.text.names = Some(names);
        self
    }

    /// Appends one record (no newline); `event` for event lines.
    #[inline]
    pub fn flow(&self, out: &mut Vec<u8>, f: &Flow<'_>, event: Option<&EventTag>) {
        match self.format {
            Format::Json => super::json::write_flow(out, f, event, self.text.names),
            Format::Save => {
                // New entries are `-A` as conntrack 1.4.7 writes them: a
                // replay into a table that already has the entry updates it.
                let cmd = match event.map(|e| e.name) {
                    None | Some("resync") | Some("new") => "-A",
                    Some("update") => "-U",
                    Some(_) => "-D",
                };
                if cmd == "-D" {
                    // Without the time the entry had left: a replayed -D
                    // compares a timeout exactly, and a mirror's timer is
                    // not the one that ran out here (conntrack 1.4.7
                    // writes it; its face still does).
                    let gone = Flow {
                        timeout: None,
                        ..f.clone()
                    };
                    return super::save::write(out, &gone, cmd);
                }
                super::save::write(out, f, cmd)
            }
            Format::Text | Format::Extended => {
                super::text::write_flow(out, f, event, self.text, self.now)
            }
        }
    }
}
