//! A blocking `NETLINK_NETFILTER` socket: receive buffer sizing
//! (`SO_RCVBUFFORCE` with fallback), multicast groups, sending requests and
//! receiving replies until the kernel ends them.

use std::io;
use std::ops::ControlFlow;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::time::Duration;

use netlink_sys::protocols::NETLINK_NETFILTER;

use crate::conntrack::RequestBuf;
use crate::error::Error;
use crate::header::{Message, Messages, NLMSG_DONE, NLMSG_ERROR, NLMSG_NOOP, NLMSG_OVERRUN};

/// Receive buffer size for replies. The kernel builds dump datagrams of at
/// most 32 KiB (`netlink_dump` caps its allocation at 32 KiB minus skb
/// overhead), so 64 KiB never truncates one.
pub const RECV_BUF: usize = 64 * 1024;

/// Default socket receive buffer: at least 1 MiB, so that replies queued
/// while the receiver is busy are not dropped.
pub const DEFAULT_RCVBUF: usize = 1 << 20;

/// `SOL_NETLINK` options from `linux/netlink.h`.
const NETLINK_BROADCAST_ERROR: libc::c_int = 4;
const NETLINK_NO_ENOBUFS: libc::c_int = 5;
const NETLINK_CAP_ACK: libc::c_int = 10;

/// What the kernel granted for a receive-buffer request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RcvBuf {
    /// Bytes asked for.
    pub requested: usize,
    /// Bytes the kernel reports (`SO_RCVBUF` reads back double the usable size).
    pub granted: usize,
    /// Whether `SO_RCVBUFFORCE` worked (needs CAP_NET_ADMIN); otherwise the
    /// size is capped by `net.core.rmem_max`.
    pub forced: bool,
}

/// A ctnetlink socket bound to the network namespace of the thread that
/// opened it.
#[derive(Debug)]
pub struct Socket {
    inner: netlink_sys::Socket,
    seq: u32,
    /// Datagrams dropped because they did not come from the kernel.
    foreign: std::sync::atomic::AtomicU64,
    /// A dump answer carried `NLM_F_DUMP_INTR` (the table changed in a way
    /// the kernel says makes the dump inconsistent).
    dump_intr: std::sync::atomic::AtomicBool,
}

impl Socket {
    /// Opens and binds a `NETLINK_NETFILTER` socket with a receive buffer of
    /// at least [`DEFAULT_RCVBUF`].
    ///
    /// # Errors
    ///
    /// When the socket call fails or the kernel refuses the request (the errno
    /// and the operation are kept).
    pub fn open() -> Result<Socket, Error> {
        let mut inner = netlink_sys::Socket::new(NETLINK_NETFILTER).map_err(Error::io("socket"))?;
        inner.bind_auto().map_err(Error::io("bind"))?;
        let sock = Socket {
            foreign: std::sync::atomic::AtomicU64::new(0),
            dump_intr: std::sync::atomic::AtomicBool::new(false),
            inner,
            // Start from a time-derived sequence so that replies to an
            // earlier process's requests on a reused port id never match.
            seq: seed_seq(),
        };
        sock.set_recv_buffer(DEFAULT_RCVBUF)?;
        // Errors then carry only the failing message's header, not the
        // whole request (matters for batches).
        let _ = sock.set_flag(NETLINK_CAP_ACK, true);
        Ok(sock)
    }

    /// Sets the socket receive buffer: `SO_RCVBUFFORCE` when privileged,
    /// else `SO_RCVBUF` (capped by `net.core.rmem_max`).
    ///
    /// # Errors
    ///
    /// When the socket call fails or the kernel refuses the request (the errno
    /// and the operation are kept).
    pub fn set_recv_buffer(&self, bytes: usize) -> Result<RcvBuf, Error> {
        let val = bytes.min(i32::MAX as usize) as libc::c_int;
        let forced = setsockopt_int(
            self.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            val,
        )
        .is_ok();
        if !forced {
            setsockopt_int(self.as_raw_fd(), libc::SOL_SOCKET, libc::SO_RCVBUF, val)
                .map_err(Error::io("setsockopt(SO_RCVBUF)"))?;
        }
        let granted = self
            .inner
            .get_rx_buf_sz()
            .map_err(Error::io("getsockopt(SO_RCVBUF)"))?;
        Ok(RcvBuf {
            requested: bytes,
            granted,
            forced,
        })
    }

    /// Joins a multicast group (`NFNLGRP_CONNTRACK_*`: a group id, not a mask).
    ///
    /// # Errors
    ///
    /// When the socket call fails or the kernel refuses the request (the errno
    /// and the operation are kept).
    pub fn join_group(&self, group: u32) -> Result<(), Error> {
        self.inner
            .add_membership(group)
            .map_err(Error::io("setsockopt(NETLINK_ADD_MEMBERSHIP)"))
    }

    /// `NETLINK_BROADCAST_ERROR` + `NETLINK_NO_ENOBUFS`: the kernel reports
    /// delivery failures to the sender of events (so reliable event
    /// delivery can drop packets instead of events), and this socket no
    /// longer sees ENOBUFS.
    ///
    /// # Errors
    ///
    /// When the socket call fails or the kernel refuses the request (the errno
    /// and the operation are kept).
    pub fn set_reliable(&self, on: bool) -> Result<(), Error> {
        self.set_flag(NETLINK_BROADCAST_ERROR, on)
            .map_err(Error::io("setsockopt(NETLINK_BROADCAST_ERROR)"))?;
        self.set_flag(NETLINK_NO_ENOBUFS, on)
            .map_err(Error::io("setsockopt(NETLINK_NO_ENOBUFS)"))
    }

    fn set_flag(&self, opt: libc::c_int, on: bool) -> io::Result<()> {
        setsockopt_int(self.as_raw_fd(), libc::SOL_NETLINK, opt, on as libc::c_int)
    }

    /// A fresh sequence number for the next request.
    pub fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        if self.seq == 0 {
            self.seq = 1;
        }
        self.seq
    }

    /// Sends a buffer of requests in one datagram.
    ///
    /// # Errors
    ///
    /// When the socket call fails or the kernel refuses the request (the errno
    /// and the operation are kept).
    pub fn send(&self, req: &[u8], op: &'static str) -> Result<(), Error> {
        loop {
            match self.inner.send(req, 0) {
                Ok(n) if n == req.len() => return Ok(()),
                Ok(_) => {
                    return Err(Error::Protocol {
                        op,
                        what: "short send on a netlink socket",
                    })
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::Io { op, error: e }),
            }
        }
    }

    /// Receives one datagram into `buf`, returning its length. A datagram
    /// larger than `buf` is an error rather than silently truncated.
    ///
    /// # Errors
    ///
    /// When the socket call fails or the kernel refuses the request (the errno
    /// and the operation are kept).
    pub fn recv(&self, buf: &mut [u8], op: &'static str) -> Result<usize, Error> {
        loop {
            if let Some(n) = self.recv_with(buf, 0, op)? {
                return Ok(n);
            }
        }
    }

    /// Receives one datagram if one is queued, without waiting.
    ///
    /// # Errors
    ///
    /// When the socket call fails or the kernel refuses the request (the errno
    /// and the operation are kept).
    pub fn try_recv(&self, buf: &mut [u8], op: &'static str) -> Result<Option<usize>, Error> {
        self.recv_with(buf, libc::MSG_DONTWAIT, op)
    }

    /// Datagrams dropped so far because their sender was not the kernel
    /// (another process in the namespace writing to our port id).
    pub fn foreign(&self) -> u64 {
        self.foreign.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Whether a dump since the last call was marked interrupted
    /// (`NLM_F_DUMP_INTR`); clears the mark.
    pub fn take_dump_interrupted(&self) -> bool {
        self.dump_intr
            .swap(false, std::sync::atomic::Ordering::Relaxed)
    }

    /// Records that a dump answer carried `NLM_F_DUMP_INTR`.
    pub fn note_dump_interrupted(&self) {
        self.dump_intr
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Counts (and logs) a datagram dropped for its sender.
    pub fn note_foreign(&self, sender: u32, op: &'static str) {
        self.foreign
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tracing::debug!("{op}: dropped a datagram from port id {sender}, not the kernel");
    }

    /// One `recv` with `MSG_TRUNC` (to see a datagram's real size) and
    /// `flags`; `None` when interrupted or, with `MSG_DONTWAIT`, empty.
    /// Datagrams not sent by the kernel (sender port id 0) are dropped and
    /// counted ([`Socket::foreign`]): with `CAP_NET_ADMIN` another process
    /// in the namespace (a container's root) can write to our port id.
    fn recv_with(
        &self,
        buf: &mut [u8],
        flags: libc::c_int,
        op: &'static str,
    ) -> Result<Option<usize>, Error> {
        let n = loop {
            // SAFETY: a zeroed sockaddr_nl is valid.
            let mut from: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
            let mut len = std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t;
            // SAFETY: buf is a valid writable slice of buf.len() bytes; from
            // and len describe a live sockaddr_nl.
            let n = unsafe {
                libc::recvfrom(
                    self.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    libc::MSG_TRUNC | flags,
                    (&mut from as *mut libc::sockaddr_nl).cast(),
                    &mut len,
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                return match e.kind() {
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(None),
                    _ => Err(Error::Io { op, error: e }),
                };
            }
            if from.nl_pid != 0 {
                self.note_foreign(from.nl_pid, op);
                continue;
            }
            break n;
        };
        let n = n as usize;
        if n > buf.len() {
            return Err(Error::Protocol {
                op,
                what: "netlink datagram larger than the receive buffer",
            });
        }
        Ok(Some(n))
    }

    /// Waits until the socket is readable or `timeout` passes (`None`:
    /// forever). Returns whether it is readable.
    ///
    /// # Errors
    ///
    /// When the socket call fails or the kernel refuses the request (the errno
    /// and the operation are kept).
    pub fn wait_readable(&self, timeout: Option<Duration>) -> Result<bool, Error> {
        let mut pfd = libc::pollfd {
            fd: self.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = match timeout {
            None => -1,
            Some(d) => d.as_millis().min(i32::MAX as u128) as libc::c_int,
        };
        // SAFETY: one valid pollfd.
        let r = unsafe { libc::poll(&mut pfd, 1, ms) };
        if r < 0 {
            let e = io::Error::last_os_error();
            // A signal ends the wait early; the caller decides what next.
            if e.kind() == io::ErrorKind::Interrupted {
                return Ok(false);
            }
            return Err(Error::Io {
                op: "poll",
                error: e,
            });
        }
        Ok(r > 0)
    }

    /// Sends one request and calls `f` for each data message of the reply
    /// until the kernel ends it: `NLMSG_DONE` for a dump, an acknowledgement
    /// for a request with `NLM_F_ACK`. A kernel error ends it with
    /// [`Error::Kernel`]. If `f` breaks, the rest of the reply is drained
    /// so the socket can be reused.
    ///
    /// # Errors
    ///
    /// When the socket call fails or the kernel refuses the request (the errno
    /// and the operation are kept).
    pub fn transact<F>(&mut self, req: &RequestBuf, op: &'static str, mut f: F) -> Result<(), Error>
    where
        F: FnMut(&Message<'_>) -> Result<ControlFlow<()>, Error>,
    {
        let seq = first_seq(req.as_bytes());
        self.send(req.as_bytes(), op)?;
        let mut buf = vec![0u8; RECV_BUF];
        let mut stopped = false;
        loop {
            let n = self.recv(&mut buf, op)?;
            for msg in Messages::new(&buf[..n]) {
                let msg = msg.map_err(Error::decode(op))?;
                if msg.header.seq != seq {
                    // A leftover of an earlier, abandoned conversation.
                    continue;
                }
                if msg.header.flags & crate::header::NLM_F_DUMP_INTR != 0 {
                    self.note_dump_interrupted();
                }
                match classify(&msg, op)? {
                    Reply::Data => {
                        if !stopped && f(&msg)?.is_break() {
                            stopped = true;
                        }
                    }
                    Reply::End => return Ok(()),
                    Reply::Skip => {}
                }
            }
        }
    }
}

impl AsRawFd for Socket {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.as_raw_fd()
    }
}

impl AsFd for Socket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        // SAFETY: the descriptor is open for as long as `self` lives.
        unsafe { BorrowedFd::borrow_raw(self.inner.as_raw_fd()) }
    }
}

/// How a received message moves a conversation along.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// A payload message for the caller.
    Data,
    /// The end of the reply: `NLMSG_DONE`, or an acknowledgement.
    End,
    /// Nothing for the caller (`NLMSG_NOOP`).
    Skip,
}

/// Classifies a reply message; `NLMSG_ERROR` with an errno and a failed
/// `NLMSG_DONE` become [`Error::Kernel`].
///
/// # Errors
///
/// When the socket call fails or the kernel refuses the request (the errno and
/// the operation are kept).
pub fn classify(msg: &Message<'_>, op: &'static str) -> Result<Reply, Error> {
    match msg.header.kind {
        NLMSG_ERROR => match msg.error_code().map_err(Error::decode(op))? {
            0 => Ok(Reply::End),
            errno => Err(Error::Kernel { op, errno }),
        },
        NLMSG_DONE => {
            // NLMSG_DONE carries the dump's final status as an int.
            match msg.payload.get(..4) {
                Some(b) => {
                    let status = i32::from_ne_bytes(b.try_into().expect("4 bytes"));
                    if status < 0 {
                        Err(Error::Kernel { op, errno: -status })
                    } else {
                        Ok(Reply::End)
                    }
                }
                None => Ok(Reply::End),
            }
        }
        NLMSG_NOOP => Ok(Reply::Skip),
        NLMSG_OVERRUN => Err(Error::Protocol {
            op,
            what: "NLMSG_OVERRUN: the kernel dropped reply data",
        }),
        _ => Ok(Reply::Data),
    }
}

/// The sequence number of the first message in a request buffer.
pub(crate) fn first_seq(req: &[u8]) -> u32 {
    req.get(8..12)
        .map(|b| u32::from_ne_bytes(b.try_into().expect("4 bytes")))
        .unwrap_or(0)
}

fn setsockopt_int(
    fd: RawFd,
    level: libc::c_int,
    opt: libc::c_int,
    val: libc::c_int,
) -> io::Result<()> {
    // SAFETY: passing a pointer to a live c_int and its size.
    let r = unsafe {
        libc::setsockopt(
            fd,
            level,
            opt,
            (&val as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn seed_seq() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as u32 ^ d.subsec_nanos())
        .unwrap_or(1)
}
