//! Conntrack events: a subscription to the ctnetlink multicast groups,
//! read in batches (`recvmmsg`) from a large receive buffer, optionally
//! pre-filtered in the kernel by a BPF socket filter.

use std::io;
use std::os::fd::AsRawFd;
use std::time::Duration;

use ctctl_netlink::bpf::EventFilter;
use ctctl_netlink::conntrack::{EventKind, Flow};
use ctctl_netlink::header::{Messages, NLMSG_ERROR};
use ctctl_netlink::socket::RcvBuf;
use ctctl_netlink::Socket;

use crate::error::Result;
use crate::select::filter::Filter;

/// Messages read per `recvmmsg`.
pub const BATCH: usize = 64;
/// Room per message; ctnetlink events are far smaller
/// (`ctnetlink_nlmsg_size`), a truncated one is counted and skipped.
const MSG_ROOM: usize = 8192;

/// How long a storm may fill the buffer before the next read: when the
/// last batch came back short but less than this after the one before,
/// events are streaming in, and reading again at once would fetch one or
/// two per system call. Waiting this long lets a full batch gather (a
/// storm of 100k/s queues 100 events a millisecond, far below what the
/// buffer holds); in quiet times reads are never delayed.
pub const STORM_WAIT: Duration = Duration::from_millis(1);

/// Default receive buffer: 32 MiB holds ~100k events.
pub const DEFAULT_BUFFER: usize = 32 << 20;

/// What to subscribe to.
#[derive(Debug, Clone)]
pub struct EventOptions {
    /// Subscribe to `NEW` events.
    pub new: bool,
    /// Subscribe to `UPDATE` events.
    pub update: bool,
    /// Subscribe to `DESTROY` events.
    pub destroy: bool,
    /// Receive buffer size in bytes.
    pub buffer_size: usize,
    /// `NETLINK_BROADCAST_ERROR` + `NETLINK_NO_ENOBUFS`.
    pub reliable: bool,
}

impl Default for EventOptions {
    fn default() -> Self {
        EventOptions {
            new: true,
            update: true,
            destroy: true,
            buffer_size: DEFAULT_BUFFER,
            reliable: false,
        }
    }
}

/// One received event.
#[derive(Debug)]
pub struct Event<'a> {
    /// New, update or destroy.
    pub kind: EventKind,
    /// The entry as the event describes it.
    pub flow: Flow<'a>,
    /// Port id of the process whose request caused the event (0: the kernel).
    pub portid: u32,
}

/// What one [`EventStream::poll`] saw.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Polled {
    /// Messages received.
    pub received: usize,
    /// The kernel dropped events because the receive buffer was full
    /// (`ENOBUFS`); the stream goes on.
    pub overrun: bool,
    /// Messages larger than the per-message room, skipped.
    pub truncated: usize,
    /// Messages not sent by the kernel, dropped.
    pub foreign: usize,
}

/// A subscription to conntrack events.
#[derive(Debug)]
pub struct EventStream {
    sock: Socket,
    batch: RecvBatch,
    rcvbuf: RcvBuf,
    /// When the last read that returned messages happened.
    last_data: Option<std::time::Instant>,
    /// The last batch was short and came right after another: a storm.
    storming: bool,
}

impl EventStream {
    /// Subscribes on `sock` (which must be in the table's network namespace).
    /// `prefilter` is attached as a BPF socket filter when it can narrow
    /// anything (family, protocol).
    ///
    /// # Errors
    ///
    /// [`Error::Netlink`](crate::error::Error::Netlink) when the kernel refuses a
    /// request or the socket fails (the errno and the operation are kept).
    pub fn subscribe(sock: Socket, opts: &EventOptions, prefilter: &Filter) -> Result<EventStream> {
        let rcvbuf = subscribe_socket(&sock, opts, prefilter)?;
        Ok(EventStream {
            sock,
            batch: RecvBatch::new(),
            rcvbuf,
            last_data: None,
            storming: false,
        })
    }

    /// The subscribed socket.
    pub fn socket(&self) -> &Socket {
        &self.sock
    }

    /// What the kernel granted for the receive buffer.
    pub fn rcvbuf(&self) -> RcvBuf {
        self.rcvbuf
    }

    /// Waits up to `timeout` (`None`: forever) for events, then reads what
    /// is queued (up to a batch) and calls `f` for each event. Returns
    /// early with nothing received when a signal interrupts the wait.
    ///
    /// # Errors
    ///
    /// [`Error::Netlink`](crate::error::Error::Netlink) when the kernel refuses a
    /// request or the socket fails (the errno and the operation are kept).
    pub fn poll<F>(&mut self, timeout: Option<Duration>, f: F) -> Result<Polled>
    where
        F: FnMut(Event<'_>),
    {
        if self.storming {
            std::thread::sleep(STORM_WAIT.min(timeout.unwrap_or(STORM_WAIT)));
        }
        let n = match self.batch.recv(&self.sock) {
            Ok(0) => {
                if !self.sock.wait_readable(timeout)? {
                    return Ok(Polled::default());
                }
                match self.batch.recv(&self.sock) {
                    Ok(n) => n,
                    Err(e) => return overrun_or(e),
                }
            }
            Ok(n) => n,
            Err(e) => return overrun_or(e),
        };
        let now = std::time::Instant::now();
        self.storming = n > 0
            && n < BATCH
            && self
                .last_data
                .is_some_and(|t| now.duration_since(t) < STORM_WAIT);
        if n > 0 {
            self.last_data = Some(now);
        }
        Ok(self.batch.events(n, f))
    }
}

/// Sets a socket up for events: its receive buffer, reliability, the BPF
/// prefilter (family and protocol, when they narrow anything) and the
/// multicast groups. Returns the buffer the kernel granted.
///
/// # Errors
///
/// [`Error::Netlink`](crate::error::Error::Netlink) when the kernel refuses a
/// request or the socket fails (the errno and the operation are kept).
pub fn subscribe_socket(sock: &Socket, opts: &EventOptions, prefilter: &Filter) -> Result<RcvBuf> {
    {
        let rcvbuf = sock.set_recv_buffer(opts.buffer_size)?;
        if opts.reliable {
            sock.set_reliable(true)?;
        }
        let bpf = EventFilter {
            family: prefilter.family,
            proto: prefilter.proto,
        };
        if !bpf.is_empty() {
            if let Err(e) = bpf.attach(sock) {
                tracing::warn!(
                    "cannot attach the BPF event filter ({e}); filtering in userspace only"
                );
            }
        }
        for (on, kind) in [
            (opts.new, EventKind::New),
            (opts.update, EventKind::Update),
            (opts.destroy, EventKind::Destroy),
        ] {
            if on {
                sock.join_group(kind.group())?;
            }
        }
        Ok(rcvbuf)
    }
}

/// Receive buffers for a batch of event messages (`recvmmsg`), which one
/// reader can share among many sockets.
#[derive(Debug)]
pub struct RecvBatch {
    bufs: Vec<u8>,
    /// Length, truncation and foreign sender of each message of the last batch.
    lens: Vec<(usize, bool, bool)>,
}

impl Default for RecvBatch {
    fn default() -> Self {
        RecvBatch::new()
    }
}

impl RecvBatch {
    /// Room for [`BATCH`] messages.
    pub fn new() -> RecvBatch {
        RecvBatch {
            bufs: vec![0u8; BATCH * MSG_ROOM],
            lens: vec![(0, false, false); BATCH],
        }
    }

    /// Reads what `sock` has queued, up to a batch, without waiting, and
    /// calls `f` for each event; `overrun` when the kernel dropped events.
    ///
    /// # Errors
    ///
    /// [`Error::Netlink`](crate::error::Error::Netlink) when the kernel refuses a
    /// request or the socket fails (the errno and the operation are kept).
    pub fn read<F>(&mut self, sock: &Socket, f: F) -> Result<Polled>
    where
        F: FnMut(Event<'_>),
    {
        match self.recv(sock) {
            Ok(n) => Ok(self.events(n, f)),
            Err(e) => overrun_or(e),
        }
    }

    fn events<F>(&self, n: usize, mut f: F) -> Polled
    where
        F: FnMut(Event<'_>),
    {
        let mut polled = Polled {
            received: n,
            ..Polled::default()
        };
        for (i, len) in self.lens[..n].iter().enumerate() {
            let (len, truncated, foreign) = *len;
            if foreign {
                polled.foreign += 1;
                continue;
            }
            if truncated {
                polled.truncated += 1;
                continue;
            }
            let buf = &self.bufs[i * MSG_ROOM..i * MSG_ROOM + len];
            for msg in Messages::new(buf).flatten() {
                if msg.header.kind == NLMSG_ERROR {
                    continue;
                }
                let Some(kind) = EventKind::of(&msg) else {
                    continue;
                };
                match Flow::decode(&msg) {
                    Ok(flow) => f(Event {
                        kind,
                        flow,
                        portid: msg.header.pid,
                    }),
                    Err(e) => tracing::warn!("skipping an event: {e}"),
                }
            }
        }
        polled
    }

    /// Reads up to a batch of queued messages without waiting (`recvmmsg`);
    /// 0 when nothing is queued.
    fn recv(&mut self, sock: &Socket) -> io::Result<usize> {
        // SAFETY: zeroed iovec/mmsghdr are valid (null pointers, zero lengths).
        let mut iovs: [libc::iovec; BATCH] = unsafe { std::mem::zeroed() };
        let mut hdrs: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
        // SAFETY: zeroed sockaddr_nl are valid.
        let mut from: [libc::sockaddr_nl; BATCH] = unsafe { std::mem::zeroed() };
        let base = self.bufs.as_mut_ptr();
        for i in 0..BATCH {
            // SAFETY: each iovec covers its own MSG_ROOM slice of self.bufs.
            iovs[i].iov_base = unsafe { base.add(i * MSG_ROOM) }.cast();
            iovs[i].iov_len = MSG_ROOM;
            hdrs[i].msg_hdr.msg_iov = &mut iovs[i];
            hdrs[i].msg_hdr.msg_iovlen = 1;
            hdrs[i].msg_hdr.msg_name = (&mut from[i] as *mut libc::sockaddr_nl).cast();
            hdrs[i].msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_nl>() as u32;
        }
        // SAFETY: hdrs and the buffers they point to live across the call.
        let r = unsafe {
            libc::recvmmsg(
                sock.as_raw_fd(),
                hdrs.as_mut_ptr(),
                BATCH as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if r < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(0),
                _ => Err(e),
            };
        }
        let n = r as usize;
        for (i, h) in hdrs[..n].iter().enumerate() {
            let truncated = h.msg_hdr.msg_flags & libc::MSG_TRUNC != 0;
            // Only the kernel (port id 0) sends events: anything else is
            // another process writing to our socket (fake DESTROY events
            // could end a `wait`), dropped and counted.
            let foreign = from[i].nl_pid != 0;
            if foreign {
                sock.note_foreign(from[i].nl_pid, "events");
            }
            self.lens[i] = ((h.msg_len as usize).min(MSG_ROOM), truncated, foreign);
        }
        Ok(n)
    }
}

fn overrun_or(e: io::Error) -> Result<Polled> {
    if e.raw_os_error() == Some(libc::ENOBUFS) {
        return Ok(Polled {
            overrun: true,
            ..Polled::default()
        });
    }
    Err(ctctl_netlink::Error::Io {
        op: "events",
        error: e,
    }
    .into())
}
