//! Creating and updating entries: one at a time (acknowledged), or many in
//! batches (restore, update by filter), with failures tallied per errno.

use std::borrow::Cow;

use ctctl_netlink::conntrack::request::{self, CreateOptions, Update};
use ctctl_netlink::conntrack::{Flow, Tuple};
use ctctl_netlink::Socket;

use std::ops::ControlFlow;

use ctctl_netlink::conntrack::RequestBuf;

use crate::batch::{BatchStats, Batcher};
use crate::conntrack::Conntrack;
use crate::error::Result;
use crate::flow::{mirror, nat_of};

/// What to send to create `f`: with NAT, the reply tuple is sent
/// un-translated (the mirror of the original) along with the NAT mapping,
/// so that the kernel translates it and marks the entry SRC_NAT / DST_NAT
/// (`nf_nat_setup_info` only sets those bits when it changes the tuple, and
/// without them packets are not translated).
pub fn create_request<'f>(
    f: &'f Flow<'f>,
    or_update: bool,
    ack: bool,
) -> (Cow<'f, Flow<'f>>, CreateOptions) {
    let (src_nat, dst_nat) = nat_of(f);
    let opts = CreateOptions {
        src_nat,
        dst_nat,
        or_update,
        ack,
        exact_status: false,
    };
    if src_nat.is_none() && dst_nat.is_none() {
        return (Cow::Borrowed(f), opts);
    }
    let mut plain = f.clone();
    plain.reply = Tuple {
        zone: f.reply.zone,
        ..mirror(&f.orig)
    };
    (Cow::Owned(plain), opts)
}

/// Checks a flow to create and completes what follows from it: the family
/// from the original addresses, the reply tuple (the mirror of the
/// original) when none is given. What is missing is named.
///
/// # Errors
///
/// [`Error::Flow`](crate::error::Error::Flow) naming the field that is
/// missing or contradicts another; [`Error::Value`](crate::error::Error::Value)
/// for a helper name or labels longer than the kernel takes. Nothing is
/// sent.
pub fn complete<'f>(f: &'f Flow<'f>) -> Result<Cow<'f, Flow<'f>>> {
    use ctctl_netlink::conntrack::proto;
    use ctctl_netlink::header::{AF_INET, AF_INET6};
    let bad = |field, reason| Err(crate::error::Error::Flow { field, reason });
    let o = &f.orig;
    let (Some(src), Some(dst)) = (o.src, o.dst) else {
        return bad("orig", "the source and destination addresses are required");
    };
    if src.is_ipv4() != dst.is_ipv4() {
        return bad("orig.dst", "not of the source's family");
    }
    let family = if src.is_ipv4() { AF_INET } else { AF_INET6 };
    if f.family != 0 && f.family != family {
        return bad("family", "not the family of the addresses");
    }
    let Some(p) = o.proto else {
        return bad("orig.proto", "the protocol is required");
    };
    if crate::flow::has_ports(p)
        && p != proto::GRE
        && (o.src_port.is_none() || o.dst_port.is_none())
    {
        return bad("orig.src_port", "ports are required for this protocol");
    }
    if matches!(p, proto::ICMP | proto::ICMPV6)
        && (o.icmp_type.is_none() || o.icmp_code.is_none() || o.icmp_id.is_none())
    {
        return bad("orig.icmp_type", "ICMP type, code and id are required");
    }
    if f.timeout.is_none() {
        return bad("timeout", "a timeout (seconds) is required");
    }
    // The wire layer's bounds (helper name, labels), so that nothing
    // oversized reaches the encoder.
    ctctl_netlink::conntrack::request::check_create(f)
        .map_err(|e| crate::error::Error::Value(e.into()))?;
    let no_reply = f.reply.src.is_none() && f.reply.dst.is_none();
    if let (Some(rs), Some(rd)) = (f.reply.src, f.reply.dst) {
        if rs.is_ipv4() != src.is_ipv4() || rd.is_ipv4() != src.is_ipv4() {
            return bad("reply", "not of the original's family");
        }
    } else if !no_reply {
        return bad(
            "reply",
            "give both reply addresses, or neither (the mirror of the original)",
        );
    }
    if f.family == family && !no_reply {
        return Ok(Cow::Borrowed(f));
    }
    let mut full = f.clone();
    full.family = family;
    if no_reply {
        full.reply = Tuple {
            zone: f.reply.zone,
            ..mirror(o)
        };
    }
    Ok(Cow::Owned(full))
}

impl Conntrack {
    /// Creates `flow`: the original tuple (addresses, protocol, and its
    /// ports or ICMP fields) and a timeout are required; the family follows
    /// from the addresses and the reply tuple defaults to the mirror of the
    /// original; the status, protocol state, mark, zone, helper and labels
    /// are used when set; NAT is set up when the reply tuple is not the
    /// mirror of the original. Returns `false` when the entry already
    /// exists, unless `or_update`, which updates it instead. conntrack(8): `-I`.
    ///
    /// # Errors
    ///
    /// [`Error::Flow`](crate::error::Error::Flow) naming the field a flow
    /// lacks, before anything is sent; [`Error::Netlink`](crate::error::Error::Netlink)
    /// when the kernel refuses it.
    ///
    /// ```no_run
    /// use ctctl::{Conntrack, Flow, Tuple};
    ///
    /// let mut ct = Conntrack::in_netns("test1")?;
    /// let flow = Flow {
    ///     orig: Tuple {
    ///         src: Some("10.0.0.1".parse().unwrap()),
    ///         dst: Some("10.0.0.2".parse().unwrap()),
    ///         proto: Some(ctctl::proto::UDP),
    ///         src_port: Some(40000),
    ///         dst_port: Some(53),
    ///         ..Tuple::default()
    ///     },
    ///     timeout: Some(30),
    ///     ..Flow::default()
    /// };
    /// // The family and the reply tuple are worked out; a missing timeout
    /// // would be `Error::Flow { field: "timeout", .. }`.
    /// assert!(ct.create(&flow, false)?);
    /// # Ok::<(), ctctl::Error>(())
    /// ```
    pub fn create(&mut self, flow: &Flow<'_>, or_update: bool) -> Result<bool> {
        let flow = complete(flow)?;
        let (flow, opts) = create_request(&flow, or_update, true);
        let mut req = RequestBuf::new();
        request::create(&mut req, self.socket().next_seq(), &flow, &opts);
        match self
            .socket()
            .transact(&req, "create", |_| Ok(ControlFlow::Continue(())))
        {
            Ok(()) => Ok(true),
            Err(e) if e.errno() == Some(libc::EEXIST) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// A batch creator for this table (restore), on a socket of its own.
    ///
    /// # Errors
    ///
    /// [`Error::Netlink`](crate::error::Error::Netlink) when the kernel refuses a
    /// request or the socket fails (the errno and the operation are kept).
    pub fn creator(&self, or_update: bool) -> Result<Creator> {
        Ok(Creator::new(self.sibling_socket()?, or_update))
    }

    /// A batch updater for this table, on a socket of its own.
    ///
    /// # Errors
    ///
    /// [`Error::Netlink`](crate::error::Error::Netlink) when the kernel refuses a
    /// request or the socket fails (the errno and the operation are kept).
    pub fn updater(&self) -> Result<Updater> {
        Ok(Updater::new(self.sibling_socket()?))
    }
}

/// Creates entries in batches (`ctctl restore`).
#[derive(Debug)]
pub struct Creator {
    batch: Batcher,
    or_update: bool,
}

impl Creator {
    /// Creates on `sock`; with `or_update`, existing entries are updated.
    pub fn new(sock: Socket, or_update: bool) -> Creator {
        Creator {
            batch: Batcher::new(sock, "create", libc::EEXIST),
            or_update,
        }
    }

    /// Queues `flow`, tagged `tag` (a line number) for error reports.
    ///
    /// # Errors
    ///
    /// [`Error::Netlink`](crate::error::Error::Netlink) when the kernel refuses a
    /// request or the socket fails (the errno and the operation are kept).
    pub fn push(&mut self, tag: u64, flow: &Flow<'_>) -> Result<()> {
        self.push_with(tag, flow, self.or_update)
    }

    /// Like [`Creator::push`], updating an existing entry when `or_update`
    /// (`-A` lines) whatever the creator's default.
    ///
    /// # Errors
    ///
    /// [`Error::Netlink`](crate::error::Error::Netlink) when the kernel refuses a
    /// request or the socket fails (the errno and the operation are kept).
    pub fn push_with(&mut self, tag: u64, flow: &Flow<'_>, or_update: bool) -> Result<()> {
        let (flow, opts) = create_request(flow, or_update, false);
        self.batch
            .push(tag, |req, seq| request::create(req, seq, &flow, &opts))
    }

    /// Sends what is queued (to see failures so far, as `--strict` does).
    ///
    /// # Errors
    ///
    /// [`Error::Netlink`](crate::error::Error::Netlink) when the kernel refuses a
    /// request or the socket fails (the errno and the operation are kept).
    pub fn flush(&mut self) -> Result<&BatchStats> {
        self.batch.send()
    }

    /// Sends what is queued and returns the totals: `done` created,
    /// `skipped` already there.
    ///
    /// # Errors
    ///
    /// [`Error::Netlink`](crate::error::Error::Netlink) when the kernel refuses a
    /// request or the socket fails (the errno and the operation are kept).
    pub fn finish(self) -> Result<BatchStats> {
        self.batch.finish()
    }
}

/// Updates entries in batches (`ctctl update` with filters).
#[derive(Debug)]
pub struct Updater {
    batch: Batcher,
}

impl Updater {
    /// An updater on `sock`.
    pub fn new(sock: Socket) -> Updater {
        Updater {
            batch: Batcher::new(sock, "update", libc::ENOENT),
        }
    }

    /// Queues `change` for the entry `f` (by its original tuple and zone).
    ///
    /// # Errors
    ///
    /// [`Error::Netlink`](crate::error::Error::Netlink) when the kernel refuses a
    /// request or the socket fails (the errno and the operation are kept).
    pub fn push(&mut self, f: &Flow<'_>, change: &Update) -> Result<()> {
        self.batch.push(0, |req, seq| {
            request::update(req, seq, &f.orig, f.zone, change, false)
        })
    }

    /// Sends what is queued and returns the totals: `done` updated,
    /// `skipped` already gone.
    ///
    /// # Errors
    ///
    /// [`Error::Netlink`](crate::error::Error::Netlink) when the kernel refuses a
    /// request or the socket fails (the errno and the operation are kept).
    pub fn finish(self) -> Result<BatchStats> {
        self.batch.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ctctl_netlink::conntrack::proto;
    use ctctl_netlink::conntrack::request::NatSetup;
    use std::net::IpAddr;

    fn t(src: &str, sport: u16, dst: &str, dport: u16) -> Tuple {
        Tuple {
            src: Some(src.parse().unwrap()),
            dst: Some(dst.parse().unwrap()),
            proto: Some(proto::TCP),
            src_port: Some(sport),
            dst_port: Some(dport),
            ..Tuple::default()
        }
    }

    #[test]
    fn mirror_and_nat() {
        let orig = t("192.168.1.10", 40000, "93.184.216.34", 443);
        let plain = Flow {
            orig,
            reply: mirror(&orig),
            ..Flow::default()
        };
        assert_eq!(nat_of(&plain), (None, None));
        let snat = Flow {
            orig,
            reply: t("93.184.216.34", 443, "203.0.113.5", 61000),
            ..Flow::default()
        };
        let (s, d) = nat_of(&snat);
        assert_eq!(
            s,
            Some(NatSetup {
                addr: "203.0.113.5".parse().unwrap(),
                port: Some(61000)
            })
        );
        assert_eq!(d, None);
        let dnat = Flow {
            orig,
            reply: t("10.9.9.9", 443, "192.168.1.10", 40000),
            ..Flow::default()
        };
        assert_eq!(
            nat_of(&dnat).1.unwrap().addr,
            "10.9.9.9".parse::<IpAddr>().unwrap()
        );
        let icmp = Tuple {
            proto: Some(proto::ICMP),
            icmp_type: Some(8),
            icmp_code: Some(0),
            icmp_id: Some(5),
            ..Tuple::default()
        };
        assert_eq!(mirror(&icmp).icmp_type, Some(0));
    }
}
