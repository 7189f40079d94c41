//! Sending many requests in few system calls: messages are appended to a
//! buffer and sent together (`sendmsg` of ~32 KiB), without acknowledgements;
//! the kernel answers only failures, which are read back after each send and
//! tallied: one errno means "nothing to do" (`ENOENT` for a delete, `EEXIST`
//! for a create), the others are failures.

use ctctl_netlink::conntrack::RequestBuf;
use ctctl_netlink::header::{Messages, NLMSG_ERROR};
use ctctl_netlink::socket::RECV_BUF;
use ctctl_netlink::Socket;

use crate::error::Result;

/// Messages are sent when a batch reaches this size.
pub const BATCH_BYTES: usize = 32 * 1024;

/// A failure the kernel reported for one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failure {
    /// The caller's tag of the message (a line number, an index).
    pub tag: u64,
    /// The kernel's errno.
    pub errno: i32,
}

/// What a batch of requests did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BatchStats {
    /// Requests the kernel carried out (entries deleted, created, updated).
    pub done: u64,
    /// Requests with nothing to do: deletes and updates of entries already
    /// gone (expired, removed by someone else, or a reused tuple caught by
    /// the id guard), creates of entries that already exist.
    pub skipped: u64,
    /// Requests the kernel refused for another reason.
    pub failed: u64,
    /// The first failures, with their tags (line numbers).
    pub failures: Vec<Failure>,
}

/// Failures kept for reporting.
const KEEP_FAILURES: usize = 100;

impl BatchStats {
    /// The errno of the first failure.
    pub fn first_errno(&self) -> Option<i32> {
        self.failures.first().map(|f| f.errno)
    }

    /// Adds another batch's totals to these.
    pub fn add(&mut self, o: &BatchStats) {
        self.done += o.done;
        self.skipped += o.skipped;
        self.failed += o.failed;
        let room = KEEP_FAILURES.saturating_sub(self.failures.len());
        self.failures.extend(o.failures.iter().take(room));
    }
}

/// Batched requests on a socket of their own.
#[derive(Debug)]
pub struct Batcher {
    sock: Socket,
    req: RequestBuf,
    recv: Vec<u8>,
    /// (sequence number, caller's tag) of the messages in the unsent batch
    /// and the batch just sent.
    tags: Vec<(u32, u64)>,
    sent: u64,
    op: &'static str,
    /// The errno that counts as "nothing to do".
    skip_errno: i32,
    stats: BatchStats,
}

impl Batcher {
    /// Batches on `sock` (which must be in the table's network namespace);
    /// `skip_errno` is the answer that means "nothing to do".
    pub fn new(sock: Socket, op: &'static str, skip_errno: i32) -> Batcher {
        Batcher {
            sock,
            req: RequestBuf::new(),
            recv: vec![0u8; RECV_BUF],
            tags: Vec::new(),
            sent: 0,
            op,
            skip_errno,
            stats: BatchStats::default(),
        }
    }

    /// Appends one message with `encode(buffer, seq)`, tagged `tag` for
    /// error reports; sends the batch when it is full.
    ///
    /// # Errors
    ///
    /// [`Error::Netlink`](crate::error::Error::Netlink) when the kernel refuses a
    /// request or the socket fails (the errno and the operation are kept).
    pub fn push(&mut self, tag: u64, encode: impl FnOnce(&mut RequestBuf, u32)) -> Result<()> {
        let seq = self.sock.next_seq();
        encode(&mut self.req, seq);
        self.tags.push((seq, tag));
        if self.req.len() >= BATCH_BYTES {
            self.send()?;
        }
        Ok(())
    }

    /// Messages pushed so far (sent or not).
    pub fn pushed(&self) -> u64 {
        self.sent + self.req.count() as u64
    }

    /// Sends what is buffered, reads the failures back and returns the
    /// totals so far. The kernel
    /// handles every message of a datagram inside `sendmsg`, so when it
    /// returns, the failures are already queued on our socket.
    ///
    /// # Errors
    ///
    /// [`Error::Netlink`](crate::error::Error::Netlink) when the kernel refuses a
    /// request or the socket fails (the errno and the operation are kept).
    pub fn send(&mut self) -> Result<&BatchStats> {
        if !self.req.is_empty() {
            self.sock.send(self.req.as_bytes(), self.op)?;
            self.sent += self.req.count() as u64;
            self.req.clear();
        }
        while let Some(n) = self.sock.try_recv(&mut self.recv, self.op)? {
            for msg in Messages::new(&self.recv[..n]).flatten() {
                if msg.header.kind != NLMSG_ERROR {
                    continue;
                }
                let Ok(errno) = msg.error_code() else {
                    continue;
                };
                if errno == 0 {
                    continue;
                }
                // Only an answer to a message of ours counts, once: a
                // stray or repeated error must not skew (or underflow) the
                // totals.
                let Some(at) = self.tags.iter().position(|(s, _)| *s == msg.header.seq) else {
                    tracing::debug!(
                        seq = msg.header.seq,
                        "{}: ignored an answer to no request of ours",
                        self.op
                    );
                    continue;
                };
                let (_, tag) = self.tags.swap_remove(at);
                if errno == self.skip_errno {
                    self.stats.skipped += 1;
                } else {
                    self.stats.failed += 1;
                    if self.stats.failures.len() < KEEP_FAILURES {
                        self.stats.failures.push(Failure { tag, errno });
                    }
                }
            }
        }
        self.tags.clear();
        self.stats.done = self
            .sent
            .saturating_sub(self.stats.skipped)
            .saturating_sub(self.stats.failed);
        Ok(&self.stats)
    }

    /// Sends what is buffered and returns the totals.
    ///
    /// # Errors
    ///
    /// [`Error::Netlink`](crate::error::Error::Netlink) when the kernel refuses a
    /// request or the socket fails (the errno and the operation are kept).
    pub fn finish(mut self) -> Result<BatchStats> {
        self.send()?;
        Ok(self.stats)
    }
}
