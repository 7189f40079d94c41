//! Deleting entries by tuple and id, in batches: many `DELETE` messages per
//! `sendmsg`, acknowledged only on error (`ENOENT` counts as already gone).

use ctctl_netlink::conntrack::{request, Flow, RequestBuf};
use ctctl_netlink::header::{Messages, NLMSG_ERROR};
use ctctl_netlink::socket::RECV_BUF;
use ctctl_netlink::Socket;

use crate::error::Result;

/// Messages are sent when a batch reaches this size (a delete is ~80 bytes).
const BATCH_BYTES: usize = 32 * 1024;

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

/// Deletes entries by original tuple, zone and id, batching the requests.
/// Uses a socket of its own, so it can run while a dump is being read.
#[derive(Debug)]
pub struct Deleter {
    sock: Socket,
    req: RequestBuf,
    recv: Vec<u8>,
    sent: u64,
    stats: DeleteStats,
}

impl Deleter {
    /// A deleter on `sock` (which must be in the table's network namespace).
    pub fn new(sock: Socket) -> Deleter {
        Deleter {
            sock,
            req: RequestBuf::new(),
            recv: vec![0u8; RECV_BUF],
            sent: 0,
            stats: DeleteStats::default(),
        }
    }

    /// Queues the deletion of `f`: by its original tuple and zone, and its id
    /// when it has one, so that a newer entry that reused the tuple is left
    /// alone (`ctnetlink_del_conntrack` compares `CTA_ID`).
    pub fn push(&mut self, f: &Flow<'_>) -> Result<()> {
        let seq = self.sock.next_seq();
        request::delete(&mut self.req, seq, &f.orig, f.zone, f.id, false);
        if self.req.len() >= BATCH_BYTES {
            self.send()?;
        }
        Ok(())
    }

    /// Deletes queued so far (sent or not).
    pub fn queued(&self) -> u64 {
        self.sent + self.req.count() as u64
    }

    fn send(&mut self) -> Result<()> {
        if self.req.is_empty() {
            return Ok(());
        }
        // The kernel handles every message of the datagram inside sendmsg,
        // so by the time it returns, the errors are queued on our socket.
        self.sock.send(self.req.as_bytes(), "delete")?;
        self.sent += self.req.count() as u64;
        self.req.clear();
        self.drain_errors()
    }

    fn drain_errors(&mut self) -> Result<()> {
        while let Some(n) = self.sock.try_recv(&mut self.recv, "delete")? {
            for msg in Messages::new(&self.recv[..n]) {
                let Ok(msg) = msg else { continue };
                if msg.header.kind != NLMSG_ERROR {
                    continue;
                }
                match msg.error_code() {
                    Ok(0) => {}
                    Ok(libc::ENOENT) => self.stats.already_gone += 1,
                    Ok(errno) => {
                        self.stats.failed += 1;
                        self.stats.first_error.get_or_insert(errno);
                    }
                    Err(_) => {}
                }
            }
        }
        Ok(())
    }

    /// Sends what is queued and returns the totals.
    pub fn finish(mut self) -> Result<DeleteStats> {
        self.send()?;
        self.drain_errors()?;
        let mut s = self.stats;
        s.deleted = self.sent.saturating_sub(s.already_gone + s.failed);
        Ok(s)
    }
}
