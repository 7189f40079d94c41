//! ctctl: manage the Linux connection-tracking table (`nf_conntrack`) over
//! ctnetlink.
//!
//! The library is the domain layer over [`ctctl_netlink`]: a [`Conntrack`]
//! handle per network namespace, [`Filter`]s that select entries (sent to
//! the kernel where it can apply them), and streaming in constant memory.
//!
//! ```no_run
//! use std::ops::ControlFlow;
//! use ctctl::{Conntrack, Filter, filter::StateMatch};
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
macro_rules! eprint {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stderr(), $($arg)*);
    }};
}

pub mod batch;
pub mod cli;
pub mod compat;
pub mod conntrack;
pub mod create;
pub mod delete;
pub mod error;
pub mod events;
pub mod expect;
pub mod exporter;
pub mod filter;
pub mod filterset;
pub mod format;
pub mod labels;
pub mod live;
pub mod names;
pub mod netns;
pub mod probe;
pub mod restore;
pub mod select;
pub mod tune;
pub mod wait;

pub use batch::BatchStats;
pub use conntrack::Conntrack;
pub use ctctl_netlink::conntrack::{EventKind, Flow, Status, Tuple};
pub use delete::Deleter;
pub use error::{Error, Result};
pub use events::{Event, EventOptions, EventStream};
pub use expect::{ExpectEvent, ExpectEvents, ExpectFilter};
pub use filter::Filter;
pub use filterset::{FilterSet, Selection};
pub use wait::{WaitFor, Waited};
