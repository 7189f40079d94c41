//! How conntrack 1.4.7 prints entries for each command: text lines
//! (`-o extended,id,ktimestamp,labels`), `-o save` lines or `-o xml`
//! elements, with the document header and footer only where conntrack
//! writes them, and labels by name only when a label map was loaded.

use ctctl_netlink::conntrack::Flow;

use crate::format::conntrack8::command::out;
use crate::format::conntrack8::options::{opt, Command as Cmd};
use crate::format::conntrack8::Command;
use crate::format::record::EventTag;
use crate::format::render::Format;
use crate::format::render::Render;
use crate::format::text::LabelStyle;
use crate::stdio::out::Out;

use super::progname;
use crate::format::{save, xml};

/// A command's printer.
pub struct Printer {
    render: Render,
    save: Option<&'static str>,
    xml: bool,
    xml_header: bool,
    xml_footer: bool,
    stamp: bool,
    started: bool,
    prognames: progname::Prognames,
}

impl Printer {
    /// The printer of `cmd` with `c`'s output options.
    pub fn new(c: &Command, cmd: Cmd) -> Printer {
        let o = c.output;
        let events = cmd == Cmd::Event;
        let format = if o & out::EXTENDED != 0 {
            Format::Extended
        } else {
            Format::Text
        };
        let mut render =
            Render::new(format, o & out::ID != 0).with_names(crate::labels::LabelMap::system());
        // -D prints with nfct_snprintf: no labels, no kernel timestamps;
        // -U with the printing callback: no kernel timestamps.
        render.text.ktimestamp =
            o & out::KTIMESTAMP != 0 && matches!(cmd, Cmd::List | Cmd::Get | Cmd::Event);
        let label_map =
            o & out::LABELS != 0 || c.options & (opt::LABEL | opt::ADD_LABEL | opt::DEL_LABEL) != 0;
        render.text.labels = if label_map && cmd != Cmd::Delete {
            LabelStyle::Named
        } else {
            LabelStyle::Hidden
        };
        let save = (o & out::SAVE != 0).then_some(match cmd {
            Cmd::Delete => "-D",
            _ => "-A",
        });
        if save.is_some() && events {
            render.format = Format::Save;
        }
        Printer {
            render,
            save,
            xml: save.is_none() && o & out::XML != 0,
            xml_header: matches!(cmd, Cmd::List | Cmd::Event | Cmd::Get),
            xml_footer: matches!(cmd, Cmd::List | Cmd::Event),
            stamp: events && save.is_none() && o & out::TIMESTAMP != 0,
            started: false,
            prognames: progname::Prognames::default(),
        }
    }

    /// Prints one entry (an event with `tag`).
    pub fn flow(
        &mut self,
        out: &mut Out,
        f: &Flow<'_>,
        tag: Option<&EventTag>,
    ) -> std::io::Result<()> {
        if self.xml {
            if !self.started && self.xml_header {
                out.buf().extend_from_slice(xml::HEADER.as_bytes());
            }
            self.started = true;
            let now = crate::format::record::now_ns() / 1_000_000_000;
            xml::write_flow(out.buf(), f, tag.map(|t| t.name), self.stamp, now);
            if let Some(t) = tag.filter(|t| t.portid != 0) {
                out.buf()
                    .extend_from_slice(format!(" [USERSPACE] portid={}", t.portid).as_bytes());
                self.progname(out, t.portid);
            }
        } else if let (Some(cmd), None) = (self.save, tag) {
            save::write(out.buf(), f, cmd);
        } else {
            if let (true, Some(t)) = (self.stamp, tag) {
                crate::format::text::timestamp_prefix(out.buf(), t.time_ns);
            }
            self.render.flow(out.buf(), f, tag);
            if let Some(t) = tag.filter(|t| t.portid != 0 && self.save.is_none()) {
                self.progname(out, t.portid);
            }
        }
        out.line_done()
    }

    fn progname(&mut self, out: &mut Out, portid: u32) {
        if let Some(name) = self.prognames.lookup(portid) {
            out.buf()
                .extend_from_slice(format!(" progname={name}").as_bytes());
        }
    }

    /// Closes the XML document where conntrack does, and flushes.
    pub fn finish(&mut self, out: &mut Out) -> std::io::Result<()> {
        if self.started && self.xml_footer {
            out.buf().extend_from_slice(xml::FOOTER.as_bytes());
            self.started = false;
        }
        out.flush()
    }
}
