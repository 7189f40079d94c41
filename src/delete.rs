//! Deleting entries by tuple and id, in batches: many `DELETE` messages per
//! `sendmsg`, acknowledged only on error (`ENOENT` counts as already gone).

use ctctl_netlink::conntrack::{request, Flow};
use ctctl_netlink::Socket;

use crate::batch::{Batcher, Failure};
use crate::error::Result;

/// What a delete did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeleteStats {
    /// Entries the kernel removed.
    pub deleted: u64,
    /// Entries that were gone when their delete arrived (expired, deleted by
    /// someone else, or their tuple reused by a newer entry: the id guard).
    pub already_gone: u64,
    /// Deletes the kernel refused for another reason.
    pub failed: u64,
    /// The errno of the first failure.
    pub first_error: Option<i32>,
}

impl DeleteStats {
    fn count(&mut self, f: Failure) {
        if f.errno == libc::ENOENT {
            self.already_gone += 1;
        } else {
            self.failed += 1;
            self.first_error.get_or_insert(f.errno);
        }
    }
}

/// Deletes entries by original tuple, zone and id, batching the requests.
/// Uses a socket of its own, so it can run while a dump is being read.
#[derive(Debug)]
pub struct Deleter {
    batch: Batcher,
    stats: DeleteStats,
}

impl Deleter {
    /// A deleter on `sock` (which must be in the table's network namespace).
    pub fn new(sock: Socket) -> Deleter {
        Deleter {
            batch: Batcher::new(sock, "delete"),
            stats: DeleteStats::default(),
        }
    }

    /// Queues the deletion of `f`: by its original tuple and zone, and its id
    /// when it has one, so that a newer entry that reused the tuple is left
    /// alone (`ctnetlink_del_conntrack` compares `CTA_ID`).
    pub fn push(&mut self, f: &Flow<'_>) -> Result<()> {
        let stats = &mut self.stats;
        self.batch.push(
            0,
            |req, seq| request::delete(req, seq, &f.orig, f.zone, f.id, false),
            |fail| stats.count(fail),
        )
    }

    /// Deletes queued so far (sent or not).
    pub fn queued(&self) -> u64 {
        self.batch.pushed()
    }

    /// Sends what is queued and returns the totals.
    pub fn finish(mut self) -> Result<DeleteStats> {
        let stats = &mut self.stats;
        self.batch.send(|fail| stats.count(fail))?;
        let mut s = self.stats;
        s.deleted = self.batch.sent().saturating_sub(s.already_gone + s.failed);
        Ok(s)
    }
}
