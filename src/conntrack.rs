//! The [`Conntrack`] handle: one ctnetlink socket and the operations on it.

use std::ops::ControlFlow;
use std::path::Path;

use ctctl_netlink::conntrack::request::Update;
use ctctl_netlink::conntrack::{request, Flow, KernelFilter, RequestBuf, Tuple};
use ctctl_netlink::dump;
use ctctl_netlink::header::{Message, IPCTNL_MSG_CT_GET_STATS, IPCTNL_MSG_CT_NEW};
use ctctl_netlink::stats::{CpuStats, GlobalStats};
use ctctl_netlink::Socket;

use crate::error::{Error, Result};
use crate::events::{EventOptions, EventStream};
use crate::netns;
use crate::select::filter::Filter;
use crate::select::selection::Selection;

/// The kernel's lists of entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Table {
    /// The connection table.
    #[default]
    Conntrack,
    /// Entries destroyed whose DESTROY event is not delivered yet.
    Dying,
    /// Entries not yet confirmed into the table (packets in flight).
    Unconfirmed,
}

/// A handle on the conntrack table of one network namespace.
///
/// Every operation needs `CAP_NET_ADMIN` in that namespace.
#[derive(Debug)]
pub struct Conntrack {
    sock: Socket,
    /// The namespace given to `in_netns`, held open, to open more sockets
    /// there (events, deletes in batches).
    netns: Option<netns::Netns>,
}

impl Conntrack {
    /// Opens the table of the calling thread's network namespace.
    ///
    /// # Errors
    ///
    /// [`Error::Netlink`](crate::error::Error::Netlink) when the kernel refuses a
    /// request or the socket fails (the errno and the operation are kept).
    pub fn open() -> Result<Conntrack> {
        Ok(Conntrack {
            sock: Socket::open()?,
            netns: None,
        })
    }

    /// A handle on an already open socket (in the namespace it was opened in).
    pub fn with_socket(sock: Socket) -> Conntrack {
        Conntrack { sock, netns: None }
    }

    /// Opens the table of another network namespace, by name (as `ip netns`
    /// names them) or path (`/proc/PID/ns/net`). The calling thread stays
    /// where it is. The handle holds the namespace open (its descriptor,
    /// not its name): every socket it opens later is in that namespace, and
    /// the namespace lives as long as the handle.
    ///
    /// # Errors
    ///
    /// [`Error::Netns`] when the namespace cannot be opened or entered
    /// (entering needs `CAP_SYS_ADMIN`); [`Error::Netlink`] when ctnetlink
    /// cannot be reached there.
    ///
    /// ```no_run
    /// let mut ct = ctctl::Conntrack::in_netns("blue")?;
    /// println!("{} entries in blue", ct.stats()?.entries);
    /// # Ok::<(), ctctl::Error>(())
    /// ```
    pub fn in_netns(name_or_path: impl AsRef<Path>) -> Result<Conntrack> {
        let arg = name_or_path.as_ref().to_string_lossy().into_owned();
        Conntrack::in_ns(netns::Netns::open(&arg)?)
    }

    /// Opens the table of the network namespace `fd` refers to (a
    /// descriptor of `/proc/PID/ns/net`, a `pidfd`'s namespace, a
    /// container runtime's), held for the handle's life.
    ///
    /// # Errors
    ///
    /// As [`Conntrack::in_netns`]; a descriptor that is not a network
    /// namespace fails with [`Error::Netns`].
    ///
    /// ```no_run
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let fd = std::os::fd::OwnedFd::from(std::fs::File::open("/proc/1234/ns/net")?);
    /// let mut ct = ctctl::Conntrack::in_netns_fd(fd)?;
    /// # let _ = ct.stats()?;
    /// # Ok(()) }
    /// ```
    pub fn in_netns_fd(fd: std::os::fd::OwnedFd) -> Result<Conntrack> {
        Conntrack::in_ns(netns::Netns::from_fd(fd))
    }

    /// Opens the table of a namespace already held.
    ///
    /// # Errors
    ///
    /// As [`Conntrack::in_netns`].
    pub fn in_namespace(ns: &netns::Netns) -> Result<Conntrack> {
        Conntrack::in_ns(ns.clone())
    }

    fn in_ns(ns: netns::Netns) -> Result<Conntrack> {
        let mut ct = ns.run(Conntrack::open)??;
        ct.netns = Some(ns);
        Ok(ct)
    }

    /// Another socket on the same table (same network namespace).
    ///
    /// # Errors
    ///
    /// [`Error::Netlink`] when the socket cannot be opened;
    /// [`Error::Netns`] when the namespace cannot be entered.
    pub fn sibling_socket(&self) -> Result<Socket> {
        match &self.netns {
            Some(ns) => Ok(ns.run(Socket::open)??),
            None => Ok(Socket::open()?),
        }
    }

    /// Deletes the entry with original tuple `orig` (and zone), only if its
    /// id is still `id` when given. Returns whether an entry was deleted
    /// (`false`: there was none). conntrack(8): `-D` with a full tuple.
    ///
    /// # Errors
    ///
    /// [`Error::Netlink`](crate::error::Error::Netlink) when the kernel refuses a
    /// request or the socket fails (the errno and the operation are kept).
    pub fn delete(&mut self, orig: &Tuple, zone: Option<u16>, id: Option<u32>) -> Result<bool> {
        let mut req = RequestBuf::new();
        request::delete(&mut req, self.sock.next_seq(), orig, zone, id, true);
        match self
            .sock
            .transact(&req, "delete", |_| Ok(ControlFlow::Continue(())))
        {
            Ok(()) => Ok(true),
            Err(e) if e.errno() == Some(libc::ENOENT) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes, in the kernel, every entry the proved plan selects: one
    /// request per family, no dump (`ctnetlink_flush_conntrack`). The plan
    /// comes only from [`crate::probe::prove_flush`], which hands it out
    /// when this running kernel was seen to apply every criterion of it
    /// exactly: there is no way to send a flush the kernel could get wrong.
    /// conntrack(8): `-D` with filters.
    ///
    /// # Errors
    ///
    /// [`Error::Netlink`] when the kernel refuses the request.
    ///
    /// ```no_run
    /// use ctctl::{Conntrack, Filter};
    ///
    /// let mut ct = Conntrack::open()?;
    /// let udp = Filter { proto: Some(ctctl::proto::UDP), ..Filter::default() }.normalize()?;
    /// match ctctl::prove_flush(&udp) {
    ///     // This kernel applies the filter exactly: one request.
    ///     Some(proof) => ct.flush(&proof)?,
    ///     // It does not (or the policy forbids probing): dump, match here,
    ///     // delete by tuple and id.
    ///     None => {
    ///         ct.delete_matching(&udp, &mut |_deleted| {})?;
    ///     }
    /// }
    /// # Ok::<(), ctctl::Error>(())
    /// ```
    pub fn flush(&mut self, proof: &crate::probe::ProvedFlush) -> Result<()> {
        for kf in proof.filters() {
            self.flush_raw(kf)?;
        }
        Ok(())
    }

    /// Deletes every entry of the table: one request, no criterion to get
    /// wrong. conntrack(8): `-F`.
    ///
    /// # Errors
    ///
    /// [`Error::Netlink`] when the kernel refuses the request.
    pub fn flush_all(&mut self) -> Result<()> {
        self.flush_raw(&KernelFilter::default())
    }

    /// A flush with `filter`, as sent; only for plans this crate proved.
    pub(crate) fn flush_raw(&mut self, filter: &KernelFilter) -> Result<()> {
        let mut req = RequestBuf::new();
        request::flush(&mut req, self.sock.next_seq(), filter);
        self.sock
            .transact(&req, "flush", |_| Ok(ControlFlow::Continue(())))?;
        Ok(())
    }

    /// Changes the entry with original tuple `orig` (mark, timeout,
    /// labels). Returns `false` when there is no such entry. conntrack(8): `-U`.
    ///
    /// # Errors
    ///
    /// [`Error::Netlink`](crate::error::Error::Netlink) when the kernel refuses a
    /// request or the socket fails (the errno and the operation are kept).
    pub fn update(&mut self, orig: &Tuple, zone: Option<u16>, change: &Update) -> Result<bool> {
        let mut req = RequestBuf::new();
        request::update(&mut req, self.sock.next_seq(), orig, zone, change, true);
        match self
            .sock
            .transact(&req, "update", |_| Ok(ControlFlow::Continue(())))
        {
            Ok(()) => Ok(true),
            Err(e) if e.errno() == Some(libc::ENOENT) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Subscribes to this table's events; `prefilter`'s family and protocol
    /// are applied in the kernel (BPF), the rest is up to the caller.
    /// conntrack(8): `-E`.
    ///
    /// # Errors
    ///
    /// [`Error::Netlink`](crate::error::Error::Netlink) when the kernel refuses a
    /// request or the socket fails (the errno and the operation are kept).
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use ctctl::{Conntrack, EventOptions, Filter};
    ///
    /// let ct = Conntrack::open()?;
    /// let tcp = Filter { proto: Some(ctctl::proto::TCP), ..Filter::default() };
    /// let mut events = ct.events(&EventOptions::default(), &tcp)?;
    /// let polled = events.poll(Some(Duration::from_secs(5)), |e| {
    ///     println!("{:?} {}", e.kind, e.flow);
    /// })?;
    /// if polled.overrun {
    ///     eprintln!("the kernel dropped events: re-read the table");
    /// }
    /// # Ok::<(), ctctl::Error>(())
    /// ```
    pub fn events(&self, opts: &EventOptions, prefilter: &Filter) -> Result<EventStream> {
        EventStream::subscribe(self.sibling_socket()?, opts, prefilter)
    }

    /// The underlying socket, for requests this API does not wrap.
    pub fn socket(&mut self) -> &mut Socket {
        &mut self.sock
    }

    /// The entry count of this namespace and the global maximum, without a
    /// dump (`IPCTNL_MSG_CT_GET_STATS`). conntrack(8): `-C`. Linux 4.?+.
    ///
    /// # Errors
    ///
    /// [`Error::Netlink`](crate::error::Error::Netlink) when the kernel refuses a
    /// request or the socket fails (the errno and the operation are kept).
    pub fn stats(&mut self) -> Result<GlobalStats> {
        let mut req = RequestBuf::new();
        request::stats(&mut req, self.sock.next_seq());
        let mut out = None;
        self.sock.transact(&req, "stats", |msg| {
            if msg.header.msg() == IPCTNL_MSG_CT_GET_STATS {
                out =
                    Some(GlobalStats::decode(msg).map_err(ctctl_netlink::Error::decode("stats"))?);
            }
            Ok(ControlFlow::Continue(()))
        })?;
        out.ok_or(Error::Netlink(ctctl_netlink::Error::Protocol {
            op: "stats",
            what: "the kernel acknowledged GET_STATS without sending statistics",
        }))
    }

    /// Per-CPU statistics (`IPCTNL_MSG_CT_GET_STATS_CPU`). conntrack(8): `-S`.
    ///
    /// # Errors
    ///
    /// [`Error::Netlink`](crate::error::Error::Netlink) when the kernel refuses a
    /// request or the socket fails (the errno and the operation are kept).
    pub fn stats_cpu(&mut self) -> Result<Vec<CpuStats>> {
        let mut req = RequestBuf::new();
        request::stats_cpu(&mut req, self.sock.next_seq());
        let mut out = Vec::new();
        self.sock.transact(&req, "stats", |msg| {
            out.push(CpuStats::decode(msg).map_err(ctctl_netlink::Error::decode("stats"))?);
            Ok(ControlFlow::Continue(()))
        })?;
        Ok(out)
    }

    /// The entry whose original tuple is `orig` (all of addresses, protocol
    /// and ports or ICMP fields set), or `None`. conntrack(8): `-G`.
    ///
    /// # Errors
    ///
    /// [`Error::Netlink`](crate::error::Error::Netlink) when the kernel refuses a
    /// request or the socket fails (the errno and the operation are kept).
    pub fn get(&mut self, orig: &Tuple, zone: Option<u16>) -> Result<Option<Flow<'static>>> {
        let mut req = RequestBuf::new();
        request::get(&mut req, self.sock.next_seq(), orig, zone);
        self.get_request(&req)
    }

    /// The entry whose reply tuple is `reply` (complete, as for
    /// [`Conntrack::get`]), or `None`: how a NATed connection is found from
    /// the addresses its replies carry. conntrack(8): `-G -r -q`.
    ///
    /// # Errors
    ///
    /// [`Error::Netlink`](crate::error::Error::Netlink) when the kernel refuses a
    /// request or the socket fails (the errno and the operation are kept).
    pub fn get_by_reply(
        &mut self,
        reply: &Tuple,
        zone: Option<u16>,
    ) -> Result<Option<Flow<'static>>> {
        let mut req = RequestBuf::new();
        request::get_reply(&mut req, self.sock.next_seq(), reply, zone);
        self.get_request(&req)
    }

    fn get_request(&mut self, req: &RequestBuf) -> Result<Option<Flow<'static>>> {
        let mut out = None;
        let r = self.sock.transact(req, "get", |msg| {
            if msg.header.msg() == IPCTNL_MSG_CT_NEW {
                let f = Flow::decode(msg).map_err(ctctl_netlink::Error::decode("get"))?;
                out = Some(f.into_owned());
            }
            Ok(ControlFlow::Continue(()))
        });
        match r {
            Ok(()) => Ok(out),
            Err(e) if e.errno() == Some(libc::ENOENT) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Streams the entries `filter` selects to `f`, in constant memory: the
    /// kernel applies what it can, the rest is matched here. The socket is
    /// read on a second thread while `f` runs on this one. `f` may stop the
    /// dump by returning `ControlFlow::Break`. conntrack(8): `-L`.
    ///
    /// # Errors
    ///
    /// [`Error::Netlink`](crate::error::Error::Netlink) when the kernel refuses a
    /// request or the socket fails (the errno and the operation are kept),
    /// or what `f` returns.
    ///
    /// ```no_run
    /// use std::ops::ControlFlow;
    /// use ctctl::{Conntrack, Filter, Match, PortRange};
    ///
    /// let mut ct = Conntrack::open()?;
    /// let dns = Filter {
    ///     proto: Some(ctctl::proto::UDP),
    ///     dport: Some(Match::one(PortRange::one(53))),
    ///     ..Filter::default()
    /// }
    /// .normalize()?;
    /// ct.stream(&dns, |flow| {
    ///     println!("{flow}");
    ///     Ok(ControlFlow::Continue(()))
    /// })?;
    /// # Ok::<(), ctctl::Error>(())
    /// ```
    ///
    /// # Kernel probe
    ///
    /// Criteria are handed to the kernel only in request shapes proved on
    /// this running kernel. Under the default [`Policy`](crate::probe::Policy)
    /// a shape not proved yet this boot is proved first: a private network
    /// namespace is made, a few test entries are created and dumped there,
    /// and the verdict is cached in `/run/ctctl/kernel-probe.json`.
    /// [`set_policy`](crate::probe::set_policy) chooses cached verdicts
    /// only, or never (everything matched here).
    pub fn stream<S, F>(&mut self, filter: &S, f: F) -> Result<()>
    where
        S: Selection + ?Sized,
        F: FnMut(&Flow<'_>) -> Result<ControlFlow<()>>,
    {
        self.try_stream(filter, f)
    }

    /// Like [`Conntrack::stream`], with `f` returning the caller's own
    /// error type (one a netlink error converts into).
    ///
    /// # Errors
    ///
    /// [`Error::Netlink`](crate::error::Error::Netlink), converted, when the
    /// kernel refuses a request or the socket fails; or what `f` returns.
    ///
    /// # Kernel probe
    ///
    /// Criteria are handed to the kernel only in request shapes proved on
    /// this running kernel. Under the default [`Policy`](crate::probe::Policy)
    /// a shape not proved yet this boot is proved first: a private network
    /// namespace is made, a few test entries are created and dumped there,
    /// and the verdict is cached in `/run/ctctl/kernel-probe.json`.
    /// [`set_policy`](crate::probe::set_policy) chooses cached verdicts
    /// only, or never (everything matched here).
    pub fn try_stream<S, F, E>(&mut self, filter: &S, mut f: F) -> std::result::Result<(), E>
    where
        S: Selection + ?Sized,
        F: FnMut(&Flow<'_>) -> std::result::Result<ControlFlow<()>, E>,
        E: From<ctctl_netlink::Error> + Send,
    {
        let requests = self.dump_requests(filter);
        let op = dump_op(&requests);
        dump::pipelined(&mut self.sock, &requests, op, |msg| {
            match selected(msg, filter)? {
                Some(flow) => f(&flow),
                None => Ok(ControlFlow::Continue(())),
            }
        })
    }

    /// Like [`Conntrack::stream`], and the kernel zeroes the counters of
    /// every entry it sends (`IPCTNL_MSG_CT_GET_CTRZERO`), each one after it
    /// was read. The kernel zeroes what *its* filter selects, so this runs
    /// only when [`Conntrack::zeroing_is_exact`] holds for `filter`;
    /// otherwise it returns [`Error::NotExact`] without sending anything.
    /// conntrack(8): `-L -z`.
    ///
    /// # Errors
    ///
    /// [`Error::NotExact`] as above; [`Error::Netlink`] when the kernel
    /// refuses a request or the socket fails.
    ///
    /// # Kernel probe
    ///
    /// Criteria are handed to the kernel only in request shapes proved on
    /// this running kernel. Under the default [`Policy`](crate::probe::Policy)
    /// a shape not proved yet this boot is proved first: a private network
    /// namespace is made, a few test entries are created and dumped there,
    /// and the verdict is cached in `/run/ctctl/kernel-probe.json`.
    /// [`set_policy`](crate::probe::set_policy) chooses cached verdicts
    /// only, or never (everything matched here).
    pub fn stream_zeroing<S, F>(&mut self, filter: &S, mut f: F) -> Result<()>
    where
        S: Selection + ?Sized,
        F: FnMut(&Flow<'_>) -> ControlFlow<()>,
    {
        let plan = crate::probe::plan(filter, crate::probe::Op::Dump);
        if !plan.exact {
            return Err(Error::NotExact("zeroing counters"));
        }
        for kf in &plan.filters {
            let mut req = RequestBuf::new();
            request::dump_zero_counters(&mut req, self.sock.next_seq(), kf);
            self.sock.transact(&req, "dump", |msg| {
                if let Some(flow) = selected(msg, filter)? {
                    return Ok(f(&flow));
                }
                Ok(ControlFlow::Continue(()))
            })?;
        }
        Ok(())
    }

    /// Whether the kernel, as proved, selects exactly `filter`'s entries in
    /// a dump, so that [`Conntrack::stream_zeroing`] touches no other entry.
    ///
    /// # Kernel probe
    ///
    /// Criteria are handed to the kernel only in request shapes proved on
    /// this running kernel. Under the default [`Policy`](crate::probe::Policy)
    /// a shape not proved yet this boot is proved first: a private network
    /// namespace is made, a few test entries are created and dumped there,
    /// and the verdict is cached in `/run/ctctl/kernel-probe.json`.
    /// [`set_policy`](crate::probe::set_policy) chooses cached verdicts
    /// only, or never (everything matched here).
    pub fn zeroing_is_exact<S: Selection + ?Sized>(filter: &S) -> bool {
        crate::probe::plan(filter, crate::probe::Op::Dump).exact
    }

    /// Like [`Conntrack::stream`] over one of the kernel's lists: the table,
    /// or the dying or unconfirmed list, which the kernel filters by family
    /// only (the rest is matched here). conntrack(8): `-L dying`.
    ///
    /// # Errors
    ///
    /// [`Error::Netlink`](crate::error::Error::Netlink) when the kernel refuses a
    /// request or the socket fails (the errno and the operation are kept).
    pub fn stream_table<S, F, E>(
        &mut self,
        table: Table,
        filter: &S,
        mut f: F,
    ) -> std::result::Result<(), E>
    where
        S: Selection + ?Sized,
        F: FnMut(&Flow<'_>) -> std::result::Result<ControlFlow<()>, E>,
        E: From<ctctl_netlink::Error> + Send,
    {
        let msg = match table {
            Table::Conntrack => return self.try_stream(filter, f),
            Table::Dying => ctctl_netlink::header::IPCTNL_MSG_CT_GET_DYING,
            Table::Unconfirmed => ctctl_netlink::header::IPCTNL_MSG_CT_GET_UNCONFIRMED,
        };
        let family = crate::probe::plan(filter, crate::probe::Op::Dump)
            .filters
            .first()
            .map_or(0, |k| k.family);
        let mut req = RequestBuf::new();
        request::dump_list(&mut req, self.sock.next_seq(), msg, family);
        dump::pipelined(&mut self.sock, &[req], "dump", |m| {
            match selected(m, filter)? {
                Some(flow) => f(&flow),
                None => Ok(ControlFlow::Continue(())),
            }
        })
    }

    /// Like [`Conntrack::stream`], on the calling thread only.
    ///
    /// # Kernel probe
    ///
    /// Criteria are handed to the kernel only in request shapes proved on
    /// this running kernel. Under the default [`Policy`](crate::probe::Policy)
    /// a shape not proved yet this boot is proved first: a private network
    /// namespace is made, a few test entries are created and dumped there,
    /// and the verdict is cached in `/run/ctctl/kernel-probe.json`.
    /// [`set_policy`](crate::probe::set_policy) chooses cached verdicts
    /// only, or never (everything matched here).
    ///
    /// # Errors
    ///
    /// When the kernel refuses the request or the socket fails (the errno and
    /// the operation are kept).
    pub fn for_each<S, F>(&mut self, filter: &S, mut f: F) -> Result<()>
    where
        S: Selection + ?Sized,
        F: FnMut(&Flow<'_>) -> ControlFlow<()>,
    {
        for req in self.dump_requests(filter) {
            let mut stopped = false;
            // After a break, transact drains the rest of the reply.
            self.sock
                .transact(&req, dump_op(std::slice::from_ref(&req)), |msg| {
                    if let Some(flow) = selected(msg, filter)? {
                        if f(&flow).is_break() {
                            stopped = true;
                            return Ok(ControlFlow::Break(()));
                        }
                    }
                    Ok(ControlFlow::Continue(()))
                })?;
            if stopped {
                break;
            }
        }
        Ok(())
    }

    /// Every entry `filter` selects, collected. For small tables and tests;
    /// prefer [`Conntrack::stream`] on real tables.
    ///
    /// # Errors
    ///
    /// [`Error::Netlink`](crate::error::Error::Netlink) when the kernel refuses a
    /// request or the socket fails (the errno and the operation are kept).
    ///
    /// # Kernel probe
    ///
    /// Criteria are handed to the kernel only in request shapes proved on
    /// this running kernel. Under the default [`Policy`](crate::probe::Policy)
    /// a shape not proved yet this boot is proved first: a private network
    /// namespace is made, a few test entries are created and dumped there,
    /// and the verdict is cached in `/run/ctctl/kernel-probe.json`.
    /// [`set_policy`](crate::probe::set_policy) chooses cached verdicts
    /// only, or never (everything matched here).
    pub fn dump<S: Selection + ?Sized>(&mut self, filter: &S) -> Result<Vec<Flow<'static>>> {
        let mut out = Vec::new();
        self.for_each(filter, |f| {
            out.push(f.clone().into_owned());
            ControlFlow::Continue(())
        })?;
        Ok(out)
    }

    /// Whether a dump since the last call was marked inconsistent by the
    /// kernel (`NLM_F_DUMP_INTR`; conntrack dumps have never set it so far,
    /// which is why deletes go by tuple and id). Clears the mark.
    pub fn dump_interrupted(&self) -> bool {
        self.sock.take_dump_interrupted()
    }

    /// Datagrams dropped on this handle's socket because they did not come
    /// from the kernel.
    pub fn foreign_dropped(&self) -> u64 {
        self.sock.foreign()
    }

    fn dump_requests<S: Selection + ?Sized>(&mut self, filter: &S) -> Vec<RequestBuf> {
        crate::probe::plan(filter, crate::probe::Op::Dump)
            .filters
            .iter()
            .map(|kf| {
                tracing::debug!(kernel_filter = ?kf, "dump request");
                let mut req = RequestBuf::new();
                request::dump(&mut req, self.sock.next_seq(), kf);
                req
            })
            .collect()
    }
}

/// The operation name of a dump: `filtered dump` when a request carries
/// filter attributes, so that `EOPNOTSUPP` can be told apart (a filter the
/// kernel rejects, rather than ctnetlink missing).
fn dump_op(requests: &[RequestBuf]) -> &'static str {
    // A bare dump request is the netlink and nfgenmsg headers alone.
    let bare = ctctl_netlink::header::NLMSG_HDRLEN + 4;
    if requests.iter().any(|r| r.len() > bare) {
        "filtered dump"
    } else {
        "dump"
    }
}

/// The entry a dump message carries, if it is one and `filter` selects it.
#[inline]
fn selected<'m, S: Selection + ?Sized>(
    msg: &Message<'m>,
    filter: &S,
) -> std::result::Result<Option<Flow<'m>>, ctctl_netlink::Error> {
    if msg.header.msg() != IPCTNL_MSG_CT_NEW {
        return Ok(None);
    }
    let flow = Flow::decode(msg).map_err(ctctl_netlink::Error::decode("dump"))?;
    Ok(filter.matches(&flow).then_some(flow))
}
