//! Sending many requests in few system calls: messages are appended to a
//! buffer and sent together (`sendmsg` of ~32 KiB), without acknowledgements;
//! the kernel answers only failures, which are read back after each send and
//! tallied by errno.

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
}

impl Batcher {
    /// Batches on `sock` (which must be in the table's network namespace).
    pub fn new(sock: Socket, op: &'static str) -> Batcher {
        Batcher {
            sock,
            req: RequestBuf::new(),
            recv: vec![0u8; RECV_BUF],
            tags: Vec::new(),
            sent: 0,
            op,
        }
    }

    /// Appends one message with `encode(buffer, seq)`, tagged `tag` for
    /// error reports; sends the batch when it is full. Failures found while
    /// sending are passed to `on_failure`.
    pub fn push(
        &mut self,
        tag: u64,
        encode: impl FnOnce(&mut RequestBuf, u32),
        on_failure: impl FnMut(Failure),
    ) -> Result<()> {
        let seq = self.sock.next_seq();
        encode(&mut self.req, seq);
        self.tags.push((seq, tag));
        if self.req.len() >= BATCH_BYTES {
            self.send(on_failure)?;
        }
        Ok(())
    }

    /// Messages pushed so far (sent or not).
    pub fn pushed(&self) -> u64 {
        self.sent + self.req.count() as u64
    }

    /// Sends what is buffered and reads the failures back. The kernel
    /// handles every message of a datagram inside `sendmsg`, so when it
    /// returns, the failures are already queued on our socket.
    pub fn send(&mut self, mut on_failure: impl FnMut(Failure)) -> Result<()> {
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
                let tag = self
                    .tags
                    .iter()
                    .find(|(s, _)| *s == msg.header.seq)
                    .map_or(0, |(_, t)| *t);
                on_failure(Failure { tag, errno });
            }
        }
        self.tags.clear();
        Ok(())
    }

    /// Messages sent in total.
    pub fn sent(&self) -> u64 {
        self.sent
    }
}
