//! conntrack's commands on the expectation table (`-L expect`, `-G`, `-D`,
//! `-I`, `-F`, `-E`, `-C`, `-S`), on the library's expectation calls.
//! Their options were checked against 1.4.7's rules while reading.

use std::io::Write as _;
use std::ops::ControlFlow;

use ctctl_netlink::expect::Expect;

use super::{say, summary, Failure};
use crate::conntrack::Conntrack;
use crate::expect::ExpectFilter;
use crate::format::conntrack8::command::{ev, out};
use crate::format::conntrack8::options::{opt, Command as Cmd};
use crate::format::conntrack8::Command;
use crate::format::expect::write_text;
use ctctl_netlink::conntrack::Tuple;

/// The tuple `-s -d -p --sport --dport` name (the master for `-I`, the
/// expected connection for `-G` and `-D`), as libnetfilter_conntrack
/// builds it: every field, zero where unset.
fn tuple(c: &Command) -> Tuple {
    let d = &c.tmpl.orig;
    let p = c.protonum;
    let ports = crate::flow::has_ports(p);
    Tuple {
        src: d.src,
        dst: d.dst,
        proto: Some(p),
        src_port: ports.then(|| d.sport.unwrap_or(0)),
        dst_port: ports.then(|| d.dport.unwrap_or(0)),
        icmp_type: c.tmpl.icmp_type.map(|(t, _)| t),
        icmp_code: c.tmpl.icmp_code,
        icmp_id: c.tmpl.icmp_id,
        ..Tuple::default()
    }
}

/// Runs one command on the expectation table.
pub fn run(c: &Command, cmd: Cmd, file_mode: bool) -> Result<i32, Failure> {
    // Expectation dumps carry the command's family, IPv4 unless -f says
    // otherwise (conntrack's default family for these commands).
    let filter = ExpectFilter {
        family: (c.family != 0).then_some(c.family),
        ..ExpectFilter::default()
    };
    match cmd {
        Cmd::ExpList => {
            let mut ct = Conntrack::open()?;
            let mut o = crate::stdio::out::Out::stdout();
            let mut n = 0u64;
            let xml = c.output & out::XML != 0;
            ct.expect_for_each(&filter, |e| {
                if xml {
                    if n == 0 {
                        o.buf()
                            .extend_from_slice(crate::format::xml::EXPECT_HEADER.as_bytes());
                    }
                    crate::format::xml::write_expect(o.buf(), e);
                } else {
                    write_text(o.buf(), e, None, false);
                }
                n += 1;
                if o.line_done().is_err() {
                    return Ok(ControlFlow::Break(()));
                }
                Ok(ControlFlow::Continue(()))
            })?;
            if xml && n > 0 {
                o.buf()
                    .extend_from_slice(crate::format::xml::EXPECT_FOOTER.as_bytes());
            }
            o.flush()?;
            Ok(summary(Cmd::ExpList, n, false))
        }
        Cmd::ExpCount => {
            println!("{}", Conntrack::open()?.expect_count(&filter)?);
            Ok(0)
        }
        Cmd::ExpStats => {
            let mut ct = Conntrack::open()?;
            let mut out = String::new();
            for s in ct.expect_stats_cpu()? {
                out.push_str(&format!(
                    "cpu={:<4}\texpect_new={} expect_create={} expect_delete={} \n",
                    s.cpu, s.new, s.create, s.delete
                ));
            }
            std::io::stdout().write_all(out.as_bytes())?;
            Ok(0)
        }
        Cmd::ExpFlush => {
            let mut ct = Conntrack::open()?;
            ct.expect_flush()?;
            say("expectation table has been emptied.");
            Ok(0)
        }
        Cmd::ExpGet => {
            let t = tuple(c);
            let mut ct = Conntrack::open()?;
            match ct.expect_get(&t, None)? {
                Some(e) => {
                    let mut out = crate::stdio::out::Out::stdout();
                    write_text(out.buf(), &e, None, false);
                    out.line_done()?;
                    out.flush()?;
                    Ok(0)
                }
                None => Err(Failure::other(
                    "Operation failed: No such file or directory",
                )),
            }
        }
        Cmd::ExpDelete => {
            let t = tuple(c);
            let mut ct = Conntrack::open()?;
            if !ct.expect_delete(&t, None, None)? {
                return Err(Failure::other(
                    "Operation failed: No such file or directory",
                ));
            }
            // conntrack 1.4.7 counts no deleted expectation, says "shown",
            // and so exits 1 even when the delete worked.
            Ok(summary(Cmd::ExpDelete, 0, file_mode))
        }
        Cmd::ExpCreate => {
            let e = expect_of(c);
            let mut ct = Conntrack::open()?;
            match ct.expect_create(&e) {
                Ok(true) => Ok(0),
                Ok(false) => Err(Failure::other("Operation failed: File exists")),
                Err(err) if err.errno() == Some(libc::ENOENT) => Err(Failure::other(
                    "Operation failed: master conntrack not found",
                )),
                Err(err) if err.errno() == Some(libc::EINVAL) => {
                    Err(Failure::other("Operation failed: invalid parameters"))
                }
                Err(err) => Err(err.into()),
            }
        }
        // Events are not filtered by family (nfexp_catch).
        Cmd::ExpEvent => events(c, &ExpectFilter::default()),
        _ => unreachable!("not an expectation command"),
    }
}

/// The expectation `-I expect` describes: master `-s -d -p --sport
/// --dport`, expected `--tuple-src --tuple-dst --tuple-port-*`, mask
/// `--mask-src --mask-dst --mask-port-*`, `-t`.
fn expect_of(c: &Command) -> Expect {
    let master = tuple(c);
    let ports = master.src_port.is_some();
    let x = &c.exp;
    let tuple = Tuple {
        src: x.tuple.src,
        dst: x.tuple.dst,
        proto: master.proto,
        src_port: ports.then(|| x.tuple.sport.unwrap_or(0)),
        dst_port: ports.then(|| x.tuple.dport.unwrap_or(0)),
        ..Tuple::default()
    };
    let mask = Tuple {
        src: x.mask.src,
        dst: x.mask.dst,
        proto: master.proto,
        src_port: ports.then(|| x.mask.sport.unwrap_or(0)),
        dst_port: ports.then(|| x.mask.dport.unwrap_or(0)),
        ..Tuple::default()
    };
    Expect {
        family: c.family,
        master,
        tuple,
        mask,
        timeout: c.tmpl.timeout,
        zone: c.tmpl.zone,
        ..Expect::default()
    }
}

fn events(c: &Command, filter: &ExpectFilter) -> Result<i32, Failure> {
    let mask = if c.options & opt::EVENT_MASK != 0 {
        c.event_mask
    } else {
        ev::ALL
    };
    crate::stdio::signals::install().map_err(|e| Failure::other(e.to_string()))?;
    let ct = Conntrack::open()?;
    let mut sub = ct.expect_events(mask & ev::NEW != 0, mask & ev::DESTROY != 0)?;
    let mut out = crate::stdio::out::Out::stdout();
    let mut n = 0u64;
    while !crate::stdio::signals::terminated() {
        sub.next_batch(Some(crate::stdio::signals::SIGNAL_TICK), |kind, e| {
            if !filter.matches(e) {
                return;
            }
            n += 1;
            write_text(out.buf(), e, Some(kind), false);
            let _ = out.line_done();
        })?;
        out.flush()?;
    }
    out.flush()?;
    say(&format!("{n} expectation events have been shown."));
    Ok(0)
}
