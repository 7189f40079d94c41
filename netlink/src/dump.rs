//! Streaming dumps in constant memory, with the kernel's work and ours on
//! two threads.
//!
//! The kernel builds each dump datagram inside `recvmsg` (`netlink_recvmsg`
//! calls `netlink_dump` after copying the previous one out), so the thread
//! that receives pays for the kernel's walk of the table. [`pipelined`]
//! receives on one thread and hands full buffers to the caller's thread,
//! which decodes, filters and formats them while the next datagram is
//! being built. A fixed pool of buffers bounds memory whatever the table
//! size.

use std::ops::ControlFlow;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use crate::conntrack::RequestBuf;
use crate::error::Error;
use crate::header::{Message, Messages};
use crate::socket::{classify, first_seq, Reply, Socket, RECV_BUF};

/// Buffers in flight between the receiving thread and the consumer.
const POOL: usize = 8;

/// Runs each request (dumps, one after the other) and calls `consume` on
/// the caller's thread for every data message, while another thread keeps
/// receiving. `consume` may stop the dump early by breaking.
///
/// Errors from the kernel (a rejected filter, a failed dump) end the run
/// with [`Error::Kernel`]; errors from `consume` are returned as they are.
///
/// # Errors
///
/// When the kernel refuses the request or the socket fails (the errno and the
/// operation are kept), or an error `f` returns.
pub fn pipelined<F, E>(
    sock: &mut Socket,
    requests: &[RequestBuf],
    op: &'static str,
    mut consume: F,
) -> Result<(), E>
where
    F: FnMut(&Message<'_>) -> Result<ControlFlow<()>, E>,
    E: From<Error> + Send,
{
    let sock: &Socket = sock;
    std::thread::scope(|scope| {
        let (full_tx, full_rx) = sync_channel::<Received>(POOL);
        let (free_tx, free_rx) = sync_channel::<Vec<u8>>(POOL + 1);
        scope.spawn(move || receive_all(sock, requests, op, full_tx, free_rx));

        let result = consume_all(&full_rx, &free_tx, &mut consume);
        // Dropping the channels tells the receiver to stop if we ended
        // early; it notices at its next hand-over.
        drop(full_rx);
        drop(free_tx);
        result
    })
}

/// A datagram handed to the consumer: the buffer, its length, and the
/// sequence number of the request it answers.
type Received = Result<(Vec<u8>, usize, u32), Error>;

fn receive_all(
    sock: &Socket,
    requests: &[RequestBuf],
    op: &'static str,
    full: SyncSender<Received>,
    free: Receiver<Vec<u8>>,
) {
    for req in requests {
        let seq = first_seq(req.as_bytes());
        if let Err(e) = sock.send(req.as_bytes(), op) {
            let _ = full.send(Err(e));
            return;
        }
        loop {
            let mut buf = free.try_recv().unwrap_or_else(|_| vec![0u8; RECV_BUF]);
            let n = match sock.recv(&mut buf, op) {
                Ok(n) => n,
                Err(e) => {
                    let _ = full.send(Err(e));
                    return;
                }
            };
            if interrupted(&buf[..n], seq) {
                sock.note_dump_interrupted();
            }
            let end = match dump_progress(&buf[..n], seq, op) {
                Ok(end) => end,
                Err(e) => {
                    let _ = full.send(Err(e));
                    return;
                }
            };
            if full.send(Ok((buf, n, seq))).is_err() {
                return; // the consumer stopped
            }
            if end {
                break;
            }
        }
    }
}

fn consume_all<F, E>(
    full: &Receiver<Received>,
    free: &SyncSender<Vec<u8>>,
    consume: &mut F,
) -> Result<(), E>
where
    F: FnMut(&Message<'_>) -> Result<ControlFlow<()>, E>,
    E: From<Error>,
{
    for item in full {
        let (buf, n, seq) = item?;
        for msg in Messages::new(&buf[..n]) {
            let msg = msg.map_err(Error::decode("dump"))?;
            if msg.header.seq != seq {
                // Not an answer to this dump (a leftover of an abandoned
                // conversation): never a row of it.
                tracing::debug!(
                    seq = msg.header.seq,
                    "dump: skipped a message of another request"
                );
                continue;
            }
            // Only payload messages reach the consumer: the receiver has
            // already acted on NLMSG_DONE and NLMSG_ERROR.
            if msg.header.kind >= 0x10 && consume(&msg)?.is_break() {
                return Ok(());
            }
        }
        let _ = free.try_send(buf);
    }
    Ok(())
}

/// Whether an answer to `seq` in the datagram carries `NLM_F_DUMP_INTR`.
fn interrupted(buf: &[u8], seq: u32) -> bool {
    Messages::new(buf)
        .flatten()
        .any(|m| m.header.seq == seq && m.header.flags & crate::header::NLM_F_DUMP_INTR != 0)
}

/// Whether a received datagram ends the dump with sequence `seq`; a kernel
/// error in it becomes [`Error::Kernel`].
///
/// # Errors
///
/// When the kernel refuses the request or the socket fails (the errno and the
/// operation are kept), or an error `f` returns.
pub fn dump_progress(buf: &[u8], seq: u32, op: &'static str) -> Result<bool, Error> {
    for msg in Messages::new(buf) {
        let msg = msg.map_err(Error::decode(op))?;
        if msg.header.seq != seq {
            continue;
        }
        if classify(&msg, op)? == Reply::End {
            return Ok(true);
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A datagram of `n` messages, each a ctnetlink NEW with the given
    /// sequence number and flags.
    fn datagram(msgs: &[(u32, u16)]) -> Vec<u8> {
        let mut buf = Vec::new();
        for (seq, flags) in msgs {
            let mut req = RequestBuf::new();
            req.message(
                crate::header::IPCTNL_MSG_CT_NEW,
                0,
                *seq,
                crate::header::AF_INET,
            );
            let mut m = req.as_bytes().to_vec();
            m[6..8].copy_from_slice(&flags.to_ne_bytes());
            buf.extend_from_slice(&m);
        }
        buf
    }

    #[test]
    fn only_answers_to_the_request_reach_the_consumer() {
        let (tx, rx) = sync_channel::<Received>(2);
        let (free_tx, _free_rx) = sync_channel::<Vec<u8>>(2);
        let buf = datagram(&[(7, 0), (8, 0), (7, 0)]);
        let n = buf.len();
        tx.send(Ok((buf, n, 7))).unwrap();
        drop(tx);
        let mut seen = Vec::new();
        consume_all(&rx, &free_tx, &mut |m: &Message<'_>| -> Result<_, Error> {
            seen.push(m.header.seq);
            Ok(ControlFlow::Continue(()))
        })
        .unwrap();
        assert_eq!(
            seen,
            vec![7, 7],
            "the stray message of sequence 8 is no row"
        );
    }

    #[test]
    fn dump_intr_is_noticed() {
        let flag = crate::header::NLM_F_DUMP_INTR;
        assert!(!interrupted(&datagram(&[(3, 0)]), 3));
        assert!(interrupted(&datagram(&[(3, 0), (3, flag)]), 3));
        assert!(
            !interrupted(&datagram(&[(4, flag)]), 3),
            "another request's"
        );
    }
}
