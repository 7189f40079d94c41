//! conntrack's commands on the connection table (`-L -G -D -U -I -A -F -C
//! -S -E`), as `do_command_ct` runs them, on ctctl's engine.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ops::ControlFlow;

use ctctl_netlink::conntrack::request::{self, CreateOptions, NatSetup, Update};
use ctctl_netlink::conntrack::{Flow, KernelFilter, RequestBuf, Tuple};

use super::print::Printer;
use super::{err2str, left_out, note, say, summary, Failure};
use crate::conntrack::{Conntrack, Table};
use crate::format::conntrack8::build;
use crate::format::conntrack8::command::{ev, Table as CtTable};
use crate::format::conntrack8::options::{opt, Command as Cmd};
use crate::format::conntrack8::Command;
use crate::select::conntrack8::{update_change, Selection8, Use};
use crate::select::plan::Criteria;
use crate::select::plan::KernelPlan;
use crate::select::selection::Selection;
use crate::stdio::out::Out;

fn selection(c: &Command, use_: Use) -> Result<Selection8, Failure> {
    let sel = Selection8::new(c, use_).map_err(Failure::param)?;
    // A mark or status mask of 0 is no selection; some kernels refuse it
    // (EINVAL), and conntrack 1.4.7 then fails: ask the probe whether this
    // kernel does, and fail alike.
    if matches!(use_, Use::List | Use::Delete) {
        use crate::probe::shape::field::{MARK_ZERO, STATUS_ZERO};
        let s = crate::probe::Shape::of(crate::probe::Op::Dump, &sel.request_1_4_7());
        if s.fields & (MARK_ZERO | STATUS_ZERO) != 0 {
            if let Some(errno) = crate::probe::refusal(&s) {
                let cmd = if use_ == Use::List {
                    Cmd::List
                } else {
                    Cmd::Delete
                };
                return Err(Failure::other(format!(
                    "Operation failed: {}",
                    err2str(errno, Some(cmd))
                )));
            }
        }
    }
    Ok(sel)
}

fn failed(e: &crate::error::Error, cmd: Cmd) -> Failure {
    Failure::other(format!(
        "Operation failed: {}",
        super::errno_message(e, Some(cmd))
    ))
}

/// The entries of one family, for `-L -z`: the kernel zeroes what its own
/// filter selects, and 1.4.7's filter for `-z` is the family alone.
struct Family(u8);

impl Selection for Family {
    fn matches(&self, f: &Flow<'_>) -> bool {
        self.0 == 0 || f.family == self.0
    }

    fn kernel_plan(&self, proved: Criteria) -> KernelPlan {
        let ok = self.0 == 0 || proved.contains(Criteria::FAMILY);
        KernelPlan {
            filters: vec![KernelFilter {
                family: if ok { self.0 } else { 0 },
                ..KernelFilter::default()
            }],
            exact: ok,
        }
    }
}

/// `-L` on the table.
pub fn list(c: &Command) -> Result<i32, Failure> {
    if c.options & opt::COMPARISON != 0 && c.options & opt::ZERO != 0 {
        return Err(Failure::param("Can't use -z with filtering parameters"));
    }
    let sel = selection(c, Use::List)?;
    let mut printer = Printer::new(c, Cmd::List);
    let mut ct = Conntrack::open()?;
    let mut out = Out::stdout();
    let mut n = 0u64;
    if c.options & opt::ZERO != 0 {
        let mut io = Ok(());
        ct.stream_zeroing(&Family(c.family), |f| {
            if sel.matches(f) {
                n += 1;
                io = printer.flow(&mut out, f, None);
            }
            if io.is_err() {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .map_err(|e| match e {
            crate::error::Error::NotExact(_) => Failure::other(format!(
                "Operation failed: {e} [ctctl: refused, differs from conntrack 1.4.7: unproved-zero]"
            )),
            e => failed(&e, Cmd::List),
        })?;
        io?;
    } else {
        ct.try_stream(&sel, |f| -> Result<ControlFlow<()>, Failure> {
            n += 1;
            printer.flow(&mut out, f, None)?;
            Ok(ControlFlow::Continue(()))
        })?;
    }
    printer.finish(&mut out)?;
    left_out(sel.left_out());
    Ok(summary(Cmd::List, n, false))
}

/// `-L dying`, `-L unconfirmed`.
pub fn list_other(c: &Command) -> Result<i32, Failure> {
    let sel = selection(c, Use::Lists)?;
    let table = if c.table == CtTable::Dying {
        Table::Dying
    } else {
        Table::Unconfirmed
    };
    let mut printer = Printer::new(c, Cmd::List);
    let mut ct = Conntrack::open()?;
    let mut out = Out::stdout();
    let mut n = 0u64;
    ct.stream_table(table, &sel, |f| -> Result<ControlFlow<()>, Failure> {
        n += 1;
        printer.flow(&mut out, f, None)?;
        Ok(ControlFlow::Continue(()))
    })?;
    printer.finish(&mut out)?;
    left_out(sel.left_out());
    Ok(summary(Cmd::List, n, false))
}

/// `-C`.
pub fn count() -> Result<i32, Failure> {
    let mut ct = Conntrack::open()?;
    println!("{}", ct.stats()?.entries);
    Ok(0)
}

/// `-S`.
pub fn stats() -> Result<i32, Failure> {
    use std::io::Write as _;
    let mut ct = Conntrack::open()?;
    let mut out = Vec::new();
    for c in ct.stats_cpu()? {
        out.extend_from_slice(format!("cpu={:<4}\t", c.cpu).as_bytes());
        for (k, v) in c.fields() {
            out.extend_from_slice(format!("{k}={v} ").as_bytes());
        }
        out.push(b'\n');
    }
    std::io::stdout().write_all(&out)?;
    Ok(0)
}

/// `-F`: conntrack 1.4.7 flushes every family whatever `-f` says (it
/// sends `nfgenmsg.version` 0); the face flushes only the family asked
/// for, in the kernel where the probe proved the kernel honours it, else
/// by tuple and id from a dump.
pub fn flush(c: &Command, _file_mode: bool) -> Result<i32, Failure> {
    let mut ct = Conntrack::open()?;
    let filter = crate::select::filter::Filter {
        family: (c.family != 0).then_some(c.family),
        ..crate::select::filter::Filter::all()
    };
    ct.delete_matching(&filter, &mut |_| {})?;
    say("connection tracking table has been emptied.");
    if c.family != 0 {
        note("ctctl: only this family was flushed; conntrack 1.4.7 flushes every family whatever -f says [ctctl: narrowed]");
    }
    Ok(0)
}

/// `-I`, `-A`: the request conntrack would send, and its answer.
pub fn create(c: &Command, file_mode: bool, ct: &mut Conntrack) -> Result<i32, Failure> {
    let cmd = c.cmd.expect("a create command");
    let made = build::create(c).map_err(|_| {
        Failure::other(format!(
            "Operation failed: {}",
            err2str(libc::EINVAL, Some(cmd))
        ))
    })?;
    // libnetfilter_conntrack sends a NAT port for TCP and UDP only.
    let ports = matches!(made.flow.orig.proto, Some(6 | 17));
    let nat = |n: Option<build::Nat>| {
        n.and_then(|n| {
            Some(NatSetup {
                addr: n.addr?,
                port: n.port.filter(|_| ports),
            })
        })
    };
    let opts = CreateOptions {
        src_nat: nat(made.src_nat),
        dst_nat: nat(made.dst_nat),
        or_update: false,
        ack: true,
        exact_status: true,
    };
    let mut req = RequestBuf::new();
    let seq = ct.socket().next_seq();
    request::create(&mut req, seq, &made.flow, &opts);
    let r = ct
        .socket()
        .transact(&req, "create", |_| Ok(ControlFlow::Continue(())));
    match r {
        Ok(()) => Ok(summary(cmd, 1, file_mode)),
        // -A on an existing entry leaves it as it is: none added, no error.
        Err(e) if cmd == Cmd::Add && e.errno() == Some(libc::EEXIST) => {
            Ok(summary(cmd, 0, file_mode))
        }
        Err(e) => Err(failed(&e.into(), cmd)),
    }
}

/// `-D`: every entry 1.4.7 selects, deleted by tuple and id, each printed
/// as conntrack prints deleted entries.
pub fn delete(c: &Command, file_mode: bool) -> Result<i32, Failure> {
    let sel = selection(c, Use::Delete)?;
    let mut ct = Conntrack::open()?;
    let mut deleter = ct.deleter()?;
    let mut printer = Printer::new(c, Cmd::Delete);
    let mut out = Out::stdout();
    let mut n = 0u64;
    let mut stale = None;
    let r = ct.try_stream(&sel, |f| -> Result<ControlFlow<()>, Failure> {
        deleter.push(f)?;
        // Each delete is acknowledged; conntrack reads one message for it,
        // which is a late answer if an -U before it in a -R file left one.
        if let Some(Reply::Error(errno)) = talk(vec![Reply::Ack]) {
            stale = Some(errno);
            return Ok(ControlFlow::Break(()));
        }
        printer.flow(&mut out, f, None)?;
        n += 1;
        Ok(ControlFlow::Continue(()))
    });
    printer.finish(&mut out)?;
    r?;
    left_out(sel.left_out());
    let stats = deleter.finish()?;
    if let Some(errno) = stale {
        return Err(Failure::other(format!(
            "Operation failed: {}",
            err2str(errno, Some(Cmd::Delete))
        )));
    }
    if stats.failed > 0 {
        let errno = stats.first_errno().unwrap_or(0);
        return Err(Failure::other(format!(
            "Operation failed: {}",
            err2str(errno, Some(Cmd::Delete))
        )));
    }
    Ok(summary(Cmd::Delete, n, file_mode))
}

/// What conntrack 1.4.7's second socket (`_modifier_sock`) has queued:
/// it asks for an acknowledgement of its `-U` lookups as well
/// (`NLM_F_ACK` on `IPCTNL_MSG_CT_GET`, dropped in 1.4.8), reads one
/// message per request, and so reads every later answer one request late
/// — the acknowledgement of the lookup before, or an update's error as
/// the lookup's. The queue lives as long as the process (a `-R` file's
/// commands share it).
#[derive(Debug)]
enum Reply {
    Ack,
    Error(i32),
    Entry(Box<Flow<'static>>),
}

thread_local! {
    static MODIFIER: std::cell::RefCell<std::collections::VecDeque<Reply>> =
        const { std::cell::RefCell::new(std::collections::VecDeque::new()) };
}

/// Sends (as far as the modifier socket goes) a request whose answers are
/// `answers`, and returns the message conntrack reads for it.
fn talk(answers: Vec<Reply>) -> Option<Reply> {
    MODIFIER.with(|q| {
        let mut q = q.borrow_mut();
        q.extend(answers);
        q.pop_front()
    })
}

/// `-U`: for every selected entry that would change, conntrack's update
/// request (on the entry's original tuple, without its zone) and its
/// lookup of the entry afterwards, answered as 1.4.7 reads the answers.
pub fn update(c: &Command, file_mode: bool) -> Result<i32, Failure> {
    let sel = selection(c, Use::Update)?;
    let mut ct = Conntrack::open()?;
    let mut modifier = Conntrack::open()?;
    let mut printer = Printer::new(c, Cmd::Update);
    let mut out = Out::stdout();
    let mut n = 0u64;
    let failed_with =
        |errno: i32| format!("Operation failed: {}", err2str(errno, Some(Cmd::Update)));
    let r = ct.try_stream(&sel, |f| -> Result<ControlFlow<()>, Failure> {
        let Some(change) = update_change(c, f) else {
            return Ok(ControlFlow::Continue(()));
        };
        let lookup = Tuple {
            zone: None,
            ..f.orig
        };
        // The update. conntrack 1.4.7 sends the command's family: without
        // -f or an address it is 0, which the kernel refuses (fixed in
        // 1.4.8). The request carries no zone: the kernel looks the tuple
        // up in zone 0 and misses an entry whose original direction has
        // another. NAT is refused on an existing entry before anything
        // changes.
        let answer = if c.family == 0 {
            Reply::Error(libc::EOPNOTSUPP)
        } else if crate::flow::orig_zone(f) != 0 {
            Reply::Error(libc::ENOENT)
        } else if change.nat {
            Reply::Error(libc::EOPNOTSUPP)
        } else {
            let u = Update {
                mark: change.mark.map(|m| (m, u32::MAX)),
                timeout: change.timeout,
                labels: change.labels,
                status: change
                    .status
                    .map(|s| s | ctctl_netlink::conntrack::Status::CONFIRMED.0),
                proto_info: change.proto_info,
            };
            match modifier.update(&lookup, None, &u) {
                Ok(true) => Reply::Ack,
                Ok(false) => Reply::Error(libc::ENOENT),
                Err(e) => Reply::Error(e.errno().unwrap_or(libc::EIO)),
            }
        };
        if let Some(Reply::Error(errno)) = talk(vec![answer]) {
            note(&failed_with(errno));
        }
        // The lookup, with the command's family.
        let answers = if c.family == 0 {
            vec![Reply::Error(libc::EOPNOTSUPP)]
        } else {
            match modifier.get(&lookup, None) {
                Ok(Some(now)) => vec![Reply::Entry(Box::new(now.into_owned())), Reply::Ack],
                Ok(None) => vec![Reply::Error(libc::ENOENT)],
                Err(e) => vec![Reply::Error(e.errno().unwrap_or(libc::EIO))],
            }
        };
        match talk(answers) {
            Some(Reply::Entry(now)) => {
                printer.flow(&mut out, &now, None)?;
                n += 1;
            }
            Some(Reply::Ack) | None => n += 1,
            // The entry vanished in the middle of the update.
            Some(Reply::Error(libc::ENOENT)) => {}
            Some(Reply::Error(errno)) => return Err(Failure::other(failed_with(errno))),
        }
        Ok(ControlFlow::Continue(()))
    });
    printer.finish(&mut out)?;
    r?;
    left_out(sel.left_out());
    Ok(summary(Cmd::Update, n, file_mode))
}

/// The tuple libnetfilter_conntrack builds from a direction of the
/// template: every field of the family and protocol, zero where unset.
fn full_tuple(c: &Command) -> Tuple {
    let d = &c.tmpl.orig;
    let zero = |fam: Option<u8>| match fam {
        Some(10) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        _ => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
    };
    let p = d.l4.unwrap_or(0);
    let ports = matches!(p, 6 | 17 | 136 | 33 | 132 | 47);
    let icmp = matches!(p, 1 | 58);
    Tuple {
        src: Some(d.src.unwrap_or(zero(d.l3))),
        dst: Some(d.dst.unwrap_or(zero(d.l3))),
        proto: Some(p),
        src_port: ports.then(|| d.sport.unwrap_or(0)),
        dst_port: ports.then(|| d.dport.unwrap_or(0)),
        icmp_type: icmp.then(|| c.tmpl.icmp_type.map_or(0, |(t, _)| t)),
        icmp_code: icmp.then(|| c.tmpl.icmp_code.unwrap_or(0)),
        icmp_id: icmp.then(|| c.tmpl.icmp_id.unwrap_or(0)),
        zone: None,
    }
}

/// `-G`: the kernel's lookup by the original tuple (zone 0), then
/// conntrack's filter on what came back.
pub fn get(c: &Command) -> Result<i32, Failure> {
    // libnetfilter_conntrack builds no request without an original family.
    if c.tmpl.orig.l3.is_none() {
        return Err(Failure::other(format!(
            "Operation failed: {}",
            err2str(libc::EINVAL, Some(Cmd::Get))
        )));
    }
    let sel = selection(c, Use::Get)?;
    let mut ct = Conntrack::open()?;
    let found = ct
        .get(&full_tuple(c), None)
        .map_err(|e| failed(&e, Cmd::Get))?;
    let Some(f) = found else {
        return Err(Failure::other(format!(
            "Operation failed: {}",
            err2str(libc::ENOENT, Some(Cmd::Get))
        )));
    };
    let mut n = 0;
    let mut printer = Printer::new(c, Cmd::Get);
    let mut out = Out::stdout();
    if sel.matches(&f) {
        printer.flow(&mut out, &f, None)?;
        n = 1;
    }
    printer.finish(&mut out)?;
    left_out(sel.left_out());
    Ok(summary(Cmd::Get, n, false))
}

/// `-E`: ctctl's event stream with conntrack's filter and lines.
pub fn events(c: &Command) -> Result<i32, Failure> {
    let sel = selection(c, Use::Event)?;
    let mask = if c.options & opt::EVENT_MASK != 0 {
        c.event_mask
    } else {
        ev::ALL
    };
    if c.options & opt::BUFFERSIZE != 0 {
        // 1.4.7 sizes its request socket, not the event socket, and prints
        // what the kernel made of it there.
        let got = (c.buffer_size.max(0) as u64).saturating_mul(2).max(2304);
        note(&format!(
            "NOTICE: Netlink socket buffer size has been set to {got} bytes."
        ));
    }
    let opts = crate::events::EventOptions {
        new: mask & ev::NEW != 0,
        update: mask & ev::UPDATE != 0,
        destroy: mask & ev::DESTROY != 0,
        buffer_size: crate::events::DEFAULT_BUFFER,
        reliable: false,
    };
    crate::stdio::signals::install().map_err(|e| Failure::other(e.to_string()))?;
    let ct = Conntrack::open()?;
    let prefilter = crate::select::filter::Filter {
        family: (c.family != 0).then_some(c.family),
        ..crate::select::filter::Filter::default()
    };
    let mut stream = ct.events(&opts, &prefilter)?;
    let mut printer = Printer::new(c, Cmd::Event);
    let mut out = Out::stdout();
    let mut n = 0u64;
    while !crate::stdio::signals::terminated() {
        let polled = stream.poll(Some(std::time::Duration::from_millis(250)), |ev| {
            if !sel.matches(&ev.flow) {
                return;
            }
            n += 1;
            let tag = crate::format::record::EventTag::of(
                ev.kind,
                crate::format::record::now_ns(),
                ev.portid,
            );
            let _ = printer.flow(&mut out, &ev.flow, Some(&tag));
        })?;
        if polled.received < crate::events::BATCH {
            out.flush()?;
        }
    }
    printer.finish(&mut out)?;
    say(&format!("{n} flow events have been shown."));
    Ok(0)
}
