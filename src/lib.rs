//! ctctl: manage the Linux connection-tracking table (`nf_conntrack`) over
//! ctnetlink.
//!
//! The library is the domain layer over [`ctctl_netlink`]: a [`Conntrack`]
//! handle per network namespace, [`Filter`]s that select entries (sent to
//! the kernel where it can apply them), and streaming in constant memory.
//!
//! ```no_run
//! use std::ops::ControlFlow;
//! use ctctl::{Conntrack, Filter, select::criteria::StateMatch};
//!
//! let mut ct = Conntrack::open()?;
//! let filter = Filter {
//!     state: Some(StateMatch::parse("TIME_WAIT", None).unwrap()),
//!     ..Filter::default()
//! }
//! .normalize()?;
//! let mut n = 0u64;
//! ct.for_each(&filter, |_flow| {
//!     n += 1;
//!     ControlFlow::Continue(())
//! })?;
//! println!("{n} entries in TIME_WAIT");
//! # Ok::<(), ctctl::Error>(())
//! ```

#![warn(missing_docs, clippy::missing_errors_doc)]

/// Like std's `eprintln!`, but a closed or failing stderr is ignored: std's
/// panics, and with `panic = "abort"` a daemon whose stderr went away
/// (a closed journal pipe) would die of SIGABRT in the middle of its work.
macro_rules! eprintln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// Like std's `eprint!`, ignoring a failing stderr (see `eprintln!`).
#[cfg(feature = "cli")]
macro_rules! eprint {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stderr(), $($arg)*);
    }};
}

// The vocabulary: plain types and pure functions, no sockets, no files.
pub mod error;
pub mod flow;
pub mod format;
pub mod select;

// The kernel work: imports the vocabulary.
#[cfg(feature = "tokio")]
pub mod async_events;
pub mod batch;
pub mod conntrack;
pub mod create;
pub mod delete;
pub mod events;
pub mod expect;
pub use tune::labels;
pub mod live;
pub mod names;
pub mod nat;
pub mod netns;
pub mod probe;
pub mod restore;
pub mod stdio;
pub mod tune;
pub mod wait;

// The faces: import anything below, never each other (feature `cli`).
// They are the binary's, not the library's API: documented as modules,
// their items are not held to the library's rule.
#[cfg(feature = "cli")]
#[allow(missing_docs, clippy::missing_errors_doc)]
pub mod cli;
#[cfg(feature = "cli")]
#[allow(missing_docs, clippy::missing_errors_doc)]
pub mod compat;
#[cfg(feature = "cli")]
#[allow(missing_docs, clippy::missing_errors_doc)]
pub mod exporter;

// Re-exports for library users (the crate itself imports by module path):
// everything needed to build flows, filters and updates is here, without
// naming the wire crate.
pub use batch::BatchStats;
pub use conntrack::{Conntrack, Table};
pub use ctctl_netlink;
pub use ctctl_netlink::conntrack::request::Update;
pub use ctctl_netlink::conntrack::{
    proto, DccpInfo, EventKind, Flow, KernelFilter, Labels, ProtoInfo, SctpInfo, Status, TcpInfo,
    Tuple,
};
pub use ctctl_netlink::header::{AF_INET, AF_INET6};
pub use ctctl_netlink::stats::{CpuStats, GlobalStats};
pub use delete::{Deleter, Method};
pub use error::{Error, FilterError, NetnsError, Result, ValueError};
pub use events::{Event, EventOptions, EventStream, Polled};
pub use expect::{ExpectEvent, ExpectEvents, ExpectFilter};
pub use netns::Netns;
pub use probe::{prove_flush, set_policy, Policy, ProvedFlush};
pub use select::criteria::{Cidr, Match, NatMatch, PortRange, StateMatch, StatusMatch};
pub use select::filter::Filter;
pub use select::selection::Selection;
pub use select::set::FilterSet;
pub use wait::{WaitFor, Waited};

/// Moved to [`select`] and [`flow`] in 0.2; these paths go in 0.3
/// (CHANGELOG.md).
pub mod filter {
    pub use crate::flow::{
        family_name, has_ports, orig_zone, proto_name, reply_zone, zone_id, PROTO_NAMES,
    };
    pub use crate::select::criteria::{
        AgeMatch, Cidr, FilterError, IdleMatch, Match, NatMatch, PortRange, StateMatch, StatusMatch,
    };
    pub use crate::select::filter::Filter;
    pub use crate::select::plan::KernelPlan;
    pub use crate::select::values::{
        parse_addrs, parse_duration, parse_family, parse_mark, parse_marks, parse_ports,
        parse_proto, parse_u32, parse_wait, parse_zones,
    };
}

/// Moved to [`select::set`] and [`select::selection`] in 0.2; these paths
/// go in 0.3 (CHANGELOG.md).
pub mod filterset {
    pub use crate::select::selection::Selection;
    pub use crate::select::set::FilterSet;
}
