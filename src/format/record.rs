//! What a record says beyond the entry: the event it reports
//! ([`EventTag`]), and the time.

use std::time::{SystemTime, UNIX_EPOCH};

use ctctl_netlink::conntrack::EventKind;

/// What an event line says about the event: its name (`new`, `update`,
/// `destroy`, `resync`), the tag conntrack -E prints (`[NEW]`), when it
/// happened, and the port id of the process that caused it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventTag {
    /// `new`, `update`, `destroy`, `resync`.
    pub name: &'static str,
    /// `[NEW]`, `[UPDATE]`, `[DESTROY]`, `[RESYNC]`.
    pub tag: &'static str,
    /// Nanoseconds since the epoch.
    pub time_ns: u64,
    /// The port id of the process that caused the event (0: the kernel).
    pub portid: u32,
}

impl EventTag {
    /// The tag of an event of `kind`.
    pub fn of(kind: EventKind, time_ns: u64, portid: u32) -> EventTag {
        EventTag {
            name: kind.name(),
            tag: kind.tag(),
            time_ns,
            portid,
        }
    }

    /// An entry re-read after an overrun (`events --resync`).
    pub fn resync(time_ns: u64) -> EventTag {
        EventTag {
            name: "resync",
            tag: "[RESYNC]",
            time_ns,
            portid: 0,
        }
    }
}

/// Nanoseconds since the Unix epoch.
pub fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}
