//! Conntrack events as an async stream (feature `tokio`): the same
//! subscription as [`EventStream`](crate::events::EventStream), read when
//! tokio's reactor says the socket is readable ([`AsyncFd`]), yielded as a
//! [`futures_core::Stream`].
//!
//! Dumps and batched deletes are blocking calls that stream a whole table;
//! from async code run them with `tokio::task::spawn_blocking` (see
//! `examples/async_events.rs`).

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use ctctl_netlink::Socket;
use futures_core::Stream;
use tokio::io::unix::AsyncFd;

use crate::conntrack::Conntrack;
use crate::error::Result;
use crate::events::{subscribe_socket, Event, EventOptions, RecvBatch};
use crate::select::filter::Filter;

/// What the stream yields.
#[derive(Debug)]
#[non_exhaustive]
// Nearly every item is an event; boxing each would cost an allocation per
// event to save space in the rare overrun.
#[allow(clippy::large_enum_variant)]
pub enum Notice {
    /// An event, owned.
    Event(Event<'static>),
    /// The kernel dropped events: the receive buffer was full (`ENOBUFS`).
    /// The stream goes on; a consumer that keeps state re-reads the table.
    Overrun,
}

/// A subscription to conntrack events, read asynchronously.
#[derive(Debug)]
pub struct AsyncEvents {
    fd: AsyncFd<Socket>,
    batch: RecvBatch,
    queue: VecDeque<Notice>,
}

impl Conntrack {
    /// Subscribes to this table's events for async code. `prefilter`'s
    /// family and protocol are compiled into a socket filter (the kernel
    /// drops the rest); match other criteria on what comes out.
    ///
    /// Must be called from within a tokio runtime (the socket registers
    /// with its reactor).
    ///
    /// # Errors
    ///
    /// [`Error::Netlink`](crate::error::Error::Netlink) when the socket
    /// cannot be opened or subscribed; an I/O error when there is no
    /// runtime to register with.
    pub fn events_async(&self, opts: &EventOptions, prefilter: &Filter) -> Result<AsyncEvents> {
        let sock = self.sibling_socket()?;
        subscribe_socket(&sock, opts, prefilter)?;
        // SAFETY: the socket owns its descriptor and closes it only when
        // dropped, which happens after the AsyncFd deregisters it; its
        // as_raw_fd always returns that one descriptor.
        let fd = unsafe { AsyncFd::register(sock) }.map_err(|e| ctctl_netlink::Error::Io {
            op: "events: registering with the tokio reactor",
            error: e.into(),
        })?;
        Ok(AsyncEvents {
            fd,
            batch: RecvBatch::new(),
            queue: VecDeque::new(),
        })
    }
}

impl Stream for AsyncEvents {
    type Item = Result<Notice>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(n) = this.queue.pop_front() {
                return Poll::Ready(Some(Ok(n)));
            }
            let mut guard = match ready!(this.fd.poll_read_ready(cx)) {
                Ok(g) => g,
                Err(error) => {
                    return Poll::Ready(Some(Err(ctctl_netlink::Error::Io {
                        op: "events",
                        error,
                    }
                    .into())))
                }
            };
            let queue = &mut this.queue;
            let polled = this.batch.read(guard.get_inner(), |e| {
                queue.push_back(Notice::Event(Event {
                    kind: e.kind,
                    flow: e.flow.into_owned(),
                    portid: e.portid,
                }));
            });
            match polled {
                Ok(p) => {
                    if p.overrun {
                        queue.push_back(Notice::Overrun);
                    }
                    if p.received == 0 && !p.overrun {
                        // Nothing queued: wait for the reactor again.
                        guard.clear_ready();
                    }
                }
                Err(e) => return Poll::Ready(Some(Err(e))),
            }
        }
    }
}
