//! Live tables: conntrack tables kept in memory from events, for `top`
//! and the exporter, so that reading them never dumps the kernel's table.
//!
//! - [`table`]: one namespace's counters: every entry's identity (a 64-bit
//!   hash of id, original tuple and zone) and state bucket, exact per-state
//!   counts, exact per-value tallies ranked by passes, Space-Saving rates
//!   of new entries.
//! - [`follow`]: many namespaces with two threads: one `epoll` loop reads
//!   every namespace's event socket, one worker dumps, refreshes the
//!   kernel's figures, ranks, and finds and releases namespaces.
//! - [`discover`]: which namespaces exist (`/run/netns`, nsfs mounts,
//!   `/proc/*/ns/net`).
//! - [`compact`]: the open-addressing map behind the tables (about 16
//!   bytes per entry at a load of 0.8).
//!
//! When the counters are rebuilt from a dump (a *resync*): at start, after
//! an event overrun, when the tracked entries drift from the kernel's
//! count by more than max(64, count/1000) over five reads in a row (the
//! kernel's count also holds unconfirmed and dying entries, and events in
//! flight lag), and every resync interval. A quiet table is never dumped
//! again between intervals.

pub mod compact;
pub mod counts;
pub mod discover;
pub mod follow;
pub mod identity;
pub mod pods;
pub mod rates;
pub mod snat;
pub mod table;

use std::sync::Arc;

pub use counts::Top;
pub use follow::{FollowOptions, Follower, Ns, Targets};
pub use rates::RATE_WINDOW;
pub use table::{LiveTable, Rankings, Snapshot, StateKey, NO_STATE};

/// Options of a single live table ([`Live`]).
pub type LiveOptions = FollowOptions;

/// One namespace's table kept live (`ctctl top`): a [`Follower`] of one
/// target.
#[derive(Debug)]
pub struct Live {
    follower: Follower,
}

impl Live {
    /// Starts keeping the table of `netns` (a name or path; `None`: the
    /// calling thread's namespace). Returns once the first dump is in and
    /// ranked.
    ///
    /// # Errors
    ///
    /// [`Error::Netlink`](crate::error::Error::Netlink) when the kernel refuses a
    /// request or the socket fails (the errno and the operation are kept).
    pub fn start(netns: Option<String>, opts: LiveOptions) -> crate::error::Result<Live> {
        let label = netns.clone().unwrap_or_else(|| "self".to_string());
        let follower = Follower::start(Targets::Fixed(vec![(label, netns)]), opts)?;
        follower.rank_now();
        Ok(Live { follower })
    }

    /// The figures now (empty once the namespace is gone).
    pub fn snapshot(&self, n: usize) -> Snapshot {
        self.namespace()
            .map(|ns| ns.snapshot(n))
            .unwrap_or_default()
    }

    /// The namespace followed, while it lives.
    pub fn namespace(&self) -> Option<Arc<Ns>> {
        self.follower.namespaces().into_iter().next()
    }
}
