//! The expectation table: what helpers (FTP, SIP, ...) told the kernel to
//! expect. Listing, lookup, create, exact deletes and events.
//!
//! Deletes that select by anything but one tuple read the table and delete
//! each matching expectation by tuple and id, so the kernel's own selection
//! (by helper name) is never trusted with a criterion; only an unfiltered
//! flush is one request.

use std::net::IpAddr;
use std::ops::ControlFlow;
use std::time::Duration;

use ctctl_netlink::conntrack::RequestBuf;
use ctctl_netlink::expect::{self, ExpCpuStats, Expect};
use ctctl_netlink::header::Messages;
use ctctl_netlink::socket::{classify, Reply};
use ctctl_netlink::Socket;

use crate::conntrack::Conntrack;
use crate::error::Result;
use crate::select::criteria::{Cidr, Match};

/// Which expectations a command selects. Every criterion set must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExpectFilter {
    /// Address family.
    pub family: Option<u8>,
    /// Layer-4 protocol of the expected connection.
    pub proto: Option<u8>,
    /// Source address of the expected connection.
    pub src: Option<Match<Cidr>>,
    /// Destination address of the expected connection.
    pub dst: Option<Match<Cidr>>,
    /// Destination port of the expected connection.
    pub dport: Option<u16>,
    /// The master's original source address.
    pub master_src: Option<Match<Cidr>>,
    /// The master's original destination address.
    pub master_dst: Option<Match<Cidr>>,
    /// The master's original destination port (21 for FTP control).
    pub master_dport: Option<u16>,
    /// The helper's name.
    pub helper: Option<String>,
    /// Zone.
    pub zone: Option<u16>,
    /// The kernel's id.
    pub id: Option<u32>,
}

fn addr_matches(m: &Option<Match<Cidr>>, a: Option<IpAddr>) -> bool {
    match (m, a) {
        (None, _) => true,
        (Some(m), Some(a)) => m.test(|c| c.contains(&a)),
        (Some(_), None) => false,
    }
}

impl ExpectFilter {
    /// Whether nothing is selected on (every expectation matches).
    pub fn is_empty(&self) -> bool {
        *self == ExpectFilter::default()
    }

    /// Whether every expectation is selected: no criterion but the family,
    /// once address criteria that hold for every address of that family
    /// (a /0) are left out, as [`crate::select::filter::Filter::selects_everything`] judges.
    pub fn selects_everything(&self) -> bool {
        let mut f = self.clone();
        for c in [&mut f.src, &mut f.dst, &mut f.master_src, &mut f.master_dst] {
            if c.as_ref().is_some_and(|m| m.selects_all(self.family)) {
                *c = None;
            }
        }
        f.family = None;
        f.is_empty()
    }

    /// Whether `e` is selected.
    pub fn matches(&self, e: &Expect) -> bool {
        self.family.is_none_or(|f| f == e.family)
            && self.proto.is_none_or(|p| e.tuple.proto == Some(p))
            && addr_matches(&self.src, e.tuple.src)
            && addr_matches(&self.dst, e.tuple.dst)
            && self.dport.is_none_or(|p| e.tuple.dst_port == Some(p))
            && addr_matches(&self.master_src, e.master.src)
            && addr_matches(&self.master_dst, e.master.dst)
            && self
                .master_dport
                .is_none_or(|p| e.master.dst_port == Some(p))
            && self
                .helper
                .as_deref()
                .is_none_or(|h| e.helper.as_deref() == Some(h))
            && self.zone.is_none_or(|z| e.zone.unwrap_or(0) == z)
            && self.id.is_none_or(|i| e.id == Some(i))
    }
}

fn acked(sock: &mut Socket, req: &RequestBuf, op: &'static str) -> Result<bool> {
    match sock.transact(req, op, |_| Ok(ControlFlow::Continue(()))) {
        Ok(()) => Ok(true),
        Err(e) if e.errno() == Some(libc::ENOENT) || e.errno() == Some(libc::EEXIST) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

impl Conntrack {
    /// Calls `f` with each expectation `filter` selects (the family is
    /// selected in the kernel, the rest here). conntrack(8): `-L expect`.
    ///
    /// # Errors
    ///
    /// [`Error::Netlink`](crate::error::Error::Netlink) when the kernel refuses a
    /// request or the socket fails (the errno and the operation are kept).
    pub fn expect_for_each<F>(&mut self, filter: &ExpectFilter, mut f: F) -> Result<()>
    where
        F: FnMut(&Expect) -> Result<ControlFlow<()>>,
    {
        let mut req = RequestBuf::new();
        let sock = self.socket();
        expect::dump(&mut req, sock.next_seq(), filter.family.unwrap_or(0));
        let mut failed = None;
        sock.transact(&req, "expect dump", |msg| {
            if !expect::is_expect(msg) {
                return Ok(ControlFlow::Continue(()));
            }
            let e = Expect::decode(msg).map_err(ctctl_netlink::Error::decode("expect dump"))?;
            if !filter.matches(&e) {
                return Ok(ControlFlow::Continue(()));
            }
            match f(&e) {
                Ok(flow) => Ok(flow),
                Err(err) => {
                    failed = Some(err);
                    Ok(ControlFlow::Break(()))
                }
            }
        })?;
        failed.map_or(Ok(()), Err)
    }

    /// How many expectations `filter` selects (a dump: the kernel keeps
    /// no count). conntrack(8): `-C expect`.
    ///
    /// # Errors
    ///
    /// [`Error::Netlink`](crate::error::Error::Netlink) when the kernel refuses a
    /// request or the socket fails (the errno and the operation are kept).
    pub fn expect_count(&mut self, filter: &ExpectFilter) -> Result<u64> {
        let mut n = 0u64;
        self.expect_for_each(filter, |_| {
            n += 1;
            Ok(ControlFlow::Continue(()))
        })?;
        Ok(n)
    }

    /// The expectation counters summed over CPUs.
    ///
    /// # Errors
    ///
    /// [`Error::Netlink`](crate::error::Error::Netlink) when the kernel refuses a
    /// request or the socket fails (the errno and the operation are kept).
    pub fn expect_totals(&mut self) -> Result<ExpCpuStats> {
        let mut sum = ExpCpuStats::default();
        for c in self.expect_stats_cpu()? {
            sum.add(&c);
        }
        Ok(sum)
    }

    /// The expectation that `tuple` matches under its mask, or `None`.
    /// conntrack(8): `-G expect`.
    ///
    /// # Errors
    ///
    /// [`Error::Netlink`](crate::error::Error::Netlink) when the kernel refuses a
    /// request or the socket fails (the errno and the operation are kept).
    pub fn expect_get(
        &mut self,
        tuple: &ctctl_netlink::conntrack::Tuple,
        zone: Option<u16>,
    ) -> Result<Option<Expect>> {
        let mut req = RequestBuf::new();
        let sock = self.socket();
        expect::get(&mut req, sock.next_seq(), tuple, zone);
        let mut out = None;
        let r = sock.transact(&req, "expect get", |msg| {
            if expect::is_expect(msg) {
                out =
                    Some(Expect::decode(msg).map_err(ctctl_netlink::Error::decode("expect get"))?);
            }
            Ok(ControlFlow::Continue(()))
        });
        match r {
            Ok(()) => Ok(out),
            Err(e) if e.errno() == Some(libc::ENOENT) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Creates an expectation. Its master must exist and have a helper
    /// attached (else the kernel answers ENOENT or EOPNOTSUPP). Returns
    /// `false` when an equal expectation exists. conntrack(8): `-I expect`.
    ///
    /// # Errors
    ///
    /// [`Error::Netlink`](crate::error::Error::Netlink) when the kernel refuses a
    /// request or the socket fails (the errno and the operation are kept).
    pub fn expect_create(&mut self, e: &Expect) -> Result<bool> {
        let mut req = RequestBuf::new();
        let sock = self.socket();
        expect::create(&mut req, sock.next_seq(), e);
        match sock.transact(&req, "expect create", |_| Ok(ControlFlow::Continue(()))) {
            Ok(()) => Ok(true),
            Err(err) if err.errno() == Some(libc::EEXIST) => Ok(false),
            Err(err) => Err(err.into()),
        }
    }

    /// Deletes the expectation `tuple` matches, only if its id is still
    /// `id` when given. Returns whether one was deleted.
    ///
    /// # Errors
    ///
    /// [`Error::Netlink`](crate::error::Error::Netlink) when the kernel refuses a
    /// request or the socket fails (the errno and the operation are kept).
    pub fn expect_delete(
        &mut self,
        tuple: &ctctl_netlink::conntrack::Tuple,
        zone: Option<u16>,
        id: Option<u32>,
    ) -> Result<bool> {
        let mut req = RequestBuf::new();
        let sock = self.socket();
        expect::delete(&mut req, sock.next_seq(), tuple, zone, id);
        acked(sock, &req, "expect delete")
    }

    /// Deletes every expectation `filter` selects, each by tuple and id from
    /// a dump (one request when the filter is empty: the kernel's flush).
    /// Calls `f` with each one deleted; returns (deleted, already gone).
    ///
    /// # Errors
    ///
    /// [`Error::Netlink`](crate::error::Error::Netlink) when the kernel refuses a
    /// request or the socket fails (the errno and the operation are kept).
    pub fn expect_delete_matching<F>(
        &mut self,
        filter: &ExpectFilter,
        mut f: F,
    ) -> Result<(u64, u64)>
    where
        F: FnMut(&Expect),
    {
        // Deletes go out on a second socket while the dump is read.
        let mut deleter = Conntrack::with_socket(self.sibling_socket()?);
        let (mut done, mut gone) = (0u64, 0u64);
        self.expect_for_each(filter, |e| {
            let tuple = ctctl_netlink::conntrack::Tuple {
                zone: None,
                ..e.tuple
            };
            if deleter.expect_delete(&tuple, e.zone, e.id)? {
                done += 1;
                f(e);
            } else {
                gone += 1;
            }
            Ok(ControlFlow::Continue(()))
        })?;
        Ok((done, gone))
    }

    /// Removes every expectation of this namespace in one request.
    /// conntrack(8): `-F expect`.
    ///
    /// # Errors
    ///
    /// [`Error::Netlink`](crate::error::Error::Netlink) when the kernel refuses a
    /// request or the socket fails (the errno and the operation are kept).
    pub fn expect_flush(&mut self) -> Result<()> {
        let mut req = RequestBuf::new();
        let sock = self.socket();
        expect::flush(&mut req, sock.next_seq());
        acked(sock, &req, "expect flush").map(|_| ())
    }

    /// Per-CPU expectation counters. conntrack(8): `-S expect`.
    ///
    /// # Errors
    ///
    /// [`Error::Netlink`](crate::error::Error::Netlink) when the kernel refuses a
    /// request or the socket fails (the errno and the operation are kept).
    pub fn expect_stats_cpu(&mut self) -> Result<Vec<ExpCpuStats>> {
        let mut req = RequestBuf::new();
        let sock = self.socket();
        expect::stats_cpu(&mut req, sock.next_seq());
        let mut out = Vec::new();
        sock.transact(&req, "expect stats", |msg| {
            out.push(
                ExpCpuStats::decode(msg).map_err(ctctl_netlink::Error::decode("expect stats"))?,
            );
            Ok(ControlFlow::Continue(()))
        })?;
        Ok(out)
    }

    /// Subscribes to expectation events: created (`new`) and removed
    /// (`destroy`: matched, timed out, deleted, or its master went).
    /// conntrack(8): `-E expect`.
    ///
    /// # Errors
    ///
    /// [`Error::Netlink`](crate::error::Error::Netlink) when the kernel refuses a
    /// request or the socket fails (the errno and the operation are kept).
    pub fn expect_events(&self, new: bool, destroy: bool) -> Result<ExpectEvents> {
        let sock = self.sibling_socket()?;
        if new {
            sock.join_group(expect::NFNLGRP_CONNTRACK_EXP_NEW)?;
        }
        if destroy {
            sock.join_group(expect::NFNLGRP_CONNTRACK_EXP_DESTROY)?;
        }
        Ok(ExpectEvents {
            sock,
            buf: vec![0; 64 * 1024],
            overruns: 0,
        })
    }
}

pub use ctctl_netlink::expect::ExpectEvent;

/// A subscription to expectation events.
#[derive(Debug)]
pub struct ExpectEvents {
    sock: Socket,
    buf: Vec<u8>,
    overruns: u64,
}

impl ExpectEvents {
    /// Waits up to `timeout` (forever with `None`) for events and calls `f`
    /// with each one that arrived. Returns how many there were (0: the
    /// wait ended empty).
    ///
    /// # Errors
    ///
    /// [`Error::Netlink`](crate::error::Error::Netlink) when the kernel refuses a
    /// request or the socket fails (the errno and the operation are kept).
    pub fn next_batch<F>(&mut self, timeout: Option<Duration>, mut f: F) -> Result<usize>
    where
        F: FnMut(ExpectEvent, &Expect),
    {
        if !self.sock.wait_readable(timeout)? {
            return Ok(0);
        }
        let n = match self.sock.try_recv(&mut self.buf, "expect events") {
            Ok(Some(n)) => n,
            Ok(None) => return Ok(0),
            // The kernel dropped events for this socket (its buffer was
            // full): counted, and the stream goes on.
            Err(e) if e.errno() == Some(libc::ENOBUFS) => {
                self.overruns += 1;
                return Ok(0);
            }
            Err(e) => return Err(e.into()),
        };
        let mut count = 0;
        for msg in Messages::new(&self.buf[..n]) {
            let msg = msg.map_err(ctctl_netlink::Error::decode("expect events"))?;
            if classify(&msg, "expect events")? != Reply::Data || !expect::is_expect(&msg) {
                continue;
            }
            let kind = if msg.header.msg() == ctctl_netlink::header::IPCTNL_MSG_EXP_DELETE {
                ExpectEvent::Destroy
            } else {
                ExpectEvent::New
            };
            let e = Expect::decode(&msg).map_err(ctctl_netlink::Error::decode("expect events"))?;
            f(kind, &e);
            count += 1;
        }
        Ok(count)
    }
}

impl ExpectEvents {
    /// Times the kernel dropped events because this socket's buffer was
    /// full (`ENOBUFS`).
    pub fn overruns(&self) -> u64 {
        self.overruns
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ftp() -> Expect {
        Expect {
            family: 2,
            master: ctctl_netlink::conntrack::Tuple {
                src: Some("10.0.0.1".parse().unwrap()),
                dst: Some("10.0.0.2".parse().unwrap()),
                proto: Some(6),
                src_port: Some(40000),
                dst_port: Some(21),
                ..Default::default()
            },
            tuple: ctctl_netlink::conntrack::Tuple {
                src: Some("10.0.0.1".parse().unwrap()),
                dst: Some("10.0.0.2".parse().unwrap()),
                proto: Some(6),
                src_port: Some(0),
                dst_port: Some(50000),
                ..Default::default()
            },
            helper: Some("ftp".into()),
            ..Expect::default()
        }
    }

    #[test]
    fn a_family_or_a_zero_prefix_selects_everything() {
        let all = |f: ExpectFilter| f.selects_everything();
        assert!(all(ExpectFilter::default()));
        assert!(all(ExpectFilter {
            family: Some(2),
            ..Default::default()
        }));
        assert!(all(ExpectFilter {
            family: Some(2),
            master_dst: Some(crate::select::values::parse_addrs("0.0.0.0/0").unwrap()),
            ..Default::default()
        }));
        // Without a family, 0.0.0.0/0 is all of IPv4: a whole family, like
        // -f ipv4 alone.
        assert!(all(ExpectFilter {
            src: Some(crate::select::values::parse_addrs("0.0.0.0/0").unwrap()),
            ..Default::default()
        }));
        assert!(!all(ExpectFilter {
            helper: Some("ftp".into()),
            ..Default::default()
        }));
    }

    #[test]
    fn every_criterion_can_exclude() {
        let e = ftp();
        assert!(ExpectFilter::default().matches(&e));
        let cases: Vec<(ExpectFilter, bool)> = vec![
            (
                ExpectFilter {
                    family: Some(10),
                    ..Default::default()
                },
                false,
            ),
            (
                ExpectFilter {
                    proto: Some(17),
                    ..Default::default()
                },
                false,
            ),
            (
                ExpectFilter {
                    dport: Some(50000),
                    ..Default::default()
                },
                true,
            ),
            (
                ExpectFilter {
                    dport: Some(50001),
                    ..Default::default()
                },
                false,
            ),
            (
                ExpectFilter {
                    master_dport: Some(21),
                    ..Default::default()
                },
                true,
            ),
            (
                ExpectFilter {
                    master_dport: Some(5060),
                    ..Default::default()
                },
                false,
            ),
            (
                ExpectFilter {
                    helper: Some("ftp".into()),
                    ..Default::default()
                },
                true,
            ),
            (
                ExpectFilter {
                    helper: Some("sip".into()),
                    ..Default::default()
                },
                false,
            ),
            (
                ExpectFilter {
                    zone: Some(0),
                    ..Default::default()
                },
                true,
            ),
            (
                ExpectFilter {
                    zone: Some(1),
                    ..Default::default()
                },
                false,
            ),
            (
                ExpectFilter {
                    id: Some(1),
                    ..Default::default()
                },
                false,
            ),
            (
                ExpectFilter {
                    dst: Some(crate::select::values::parse_addrs("10.0.0.0/8").unwrap()),
                    ..Default::default()
                },
                true,
            ),
            (
                ExpectFilter {
                    master_src: Some(crate::select::values::parse_addrs("!10.0.0.1").unwrap()),
                    ..Default::default()
                },
                false,
            ),
        ];
        for (f, want) in cases {
            assert_eq!(f.matches(&e), want, "{f:?}");
        }
    }
}
