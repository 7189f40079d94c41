//! Deleting entries by tuple and id, in batches: many `DELETE` messages per
//! `sendmsg`, acknowledged only on error (`ENOENT` counts as already gone,
//! in [`BatchStats::skipped`]).

use ctctl_netlink::conntrack::{request, Flow};
use ctctl_netlink::Socket;

use crate::batch::{BatchStats, Batcher};
use crate::error::Result;

/// Deletes entries by original tuple, zone and id, batching the requests.
/// Uses a socket of its own, so it can run while a dump is being read.
#[derive(Debug)]
pub struct Deleter {
    batch: Batcher,
}

impl Deleter {
    /// A deleter on `sock` (which must be in the table's network namespace).
    pub fn new(sock: Socket) -> Deleter {
        Deleter {
            batch: Batcher::new(sock, "delete", libc::ENOENT),
        }
    }

    /// Queues the deletion of `f`: by its original tuple and zone, and its id
    /// when it has one, so that a newer entry that reused the tuple is left
    /// alone (`ctnetlink_del_conntrack` compares `CTA_ID`).
    pub fn push(&mut self, f: &Flow<'_>) -> Result<()> {
        self.batch.push(0, |req, seq| {
            request::delete(req, seq, &f.orig, f.zone, f.id, false)
        })
    }

    /// Deletes queued so far (sent or not).
    pub fn queued(&self) -> u64 {
        self.batch.pushed()
    }

    /// Sends what is queued and returns the totals: `done` entries deleted,
    /// `skipped` already gone.
    pub fn finish(self) -> Result<BatchStats> {
        self.batch.finish()
    }
}
