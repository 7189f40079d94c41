//! `ctctl expect ...`: the expectation table. Text lines are the ones
//! `conntrack -L expect` prints; JSON has one object per expectation.

use std::io::Write as _;
use std::ops::ControlFlow;
use std::time::Instant;

use anyhow::Context;
use ctctl_netlink::expect::{full_mask, Expect, NF_CT_EXPECT_INACTIVE, NF_CT_EXPECT_PERMANENT};

use super::args::{
    Cli, ExpectCommand, ExpectCreateArgs, ExpectDeleteArgs, ExpectEventType, ExpectEventsArgs,
    ExpectFilterArgs, ExpectFlag, ExpectGetArgs, Format,
};
use super::Outcome;
use crate::conntrack::Conntrack;
use crate::expect::ExpectFilter;
use crate::flow::proto_name;
use crate::stdio::out::Out;
use crate::stdio::signals;
use ctctl_netlink::conntrack::Tuple;

impl ExpectFilterArgs {
    /// The library filter.
    pub fn filter(&self) -> ExpectFilter {
        ExpectFilter {
            family: self.family,
            proto: self.proto,
            src: self.src.clone(),
            dst: self.dst.clone(),
            dport: self.dport,
            master_src: self.master_src.clone(),
            master_dst: self.master_dst.clone(),
            master_dport: self.master_dport,
            helper: self.helper.clone(),
            zone: self.zone,
            id: self.id,
        }
    }
}

/// Runs `ctctl expect ...`.
pub fn run(cli: &Cli, cmd: &ExpectCommand) -> anyhow::Result<Outcome> {
    match cmd {
        ExpectCommand::List(a) => list(cli, &a.filter.filter(), a.show_id),
        ExpectCommand::Count(a) => count(cli, &a.filter()),
        ExpectCommand::Get(a) => get(cli, a),
        ExpectCommand::Create(a) => create(a),
        ExpectCommand::Delete(a) | ExpectCommand::Flush(a) => delete(cli, a),
        ExpectCommand::Events(a) => events(cli, a),
        ExpectCommand::Stats => stats(cli),
    }
}

fn list(cli: &Cli, filter: &ExpectFilter, show_id: bool) -> anyhow::Result<Outcome> {
    let mut ct = Conntrack::open()?;
    let mut out = Out::stdout();
    let mut io_err = None;
    ct.expect_for_each(filter, |e| {
        crate::format::expect::write(out.buf(), cli.output, e, None, show_id);
        if let Err(err) = out.line_done() {
            io_err = Some(err);
            return Ok(ControlFlow::Break(()));
        }
        Ok(ControlFlow::Continue(()))
    })?;
    if let Some(e) = io_err {
        return Err(e.into());
    }
    out.flush()?;
    Ok(Outcome::Ok)
}

fn count(cli: &Cli, filter: &ExpectFilter) -> anyhow::Result<Outcome> {
    let n = Conntrack::open()?.expect_count(filter)?;
    if cli.output == Format::Json {
        println!("{{\"count\":{n}}}");
    } else {
        println!("{n}");
    }
    Ok(Outcome::Ok)
}

fn get(cli: &Cli, a: &ExpectGetArgs) -> anyhow::Result<Outcome> {
    if a.src.is_ipv4() != a.dst.is_ipv4() {
        anyhow::bail!("--src and --dst must be of the same family");
    }
    let tuple = Tuple {
        src: Some(a.src),
        dst: Some(a.dst),
        proto: Some(a.proto),
        src_port: Some(a.sport),
        dst_port: Some(a.dport),
        ..Tuple::default()
    };
    let mut ct = Conntrack::open()?;
    match ct.expect_get(&tuple, a.zone)? {
        Some(e) => {
            let mut out = Out::stdout();
            crate::format::expect::write(out.buf(), cli.output, &e, None, a.show_id);
            out.line_done()?;
            out.flush()?;
            Ok(Outcome::Ok)
        }
        None => {
            eprintln!("ctctl: no expectation matches that tuple");
            Ok(Outcome::NotFound)
        }
    }
}

/// The expectation `ctctl expect create` asks for, checked.
pub fn expect_of(a: &ExpectCreateArgs) -> Result<Expect, String> {
    let master = a.master.tuple()?;
    let src = a.tuple_src.unwrap_or(a.master.src);
    let dst = a.tuple_dst.unwrap_or(a.master.dst);
    if src.is_ipv4() != dst.is_ipv4() || src.is_ipv4() != a.master.src.is_ipv4() {
        return Err("the expected addresses and the master's must be of one family".into());
    }
    let p = a.tuple_proto.unwrap_or(a.master.proto);
    if !crate::flow::has_ports(p) {
        return Err(format!(
            "--tuple-proto: expectations of {} connections are not supported here (ports only)",
            proto_name(p)
        ));
    }
    let tuple = Tuple {
        src: Some(src),
        dst: Some(dst),
        proto: Some(p),
        src_port: Some(a.tuple_sport),
        dst_port: Some(a.tuple_dport),
        ..Tuple::default()
    };
    let mut mask = full_mask(&tuple);
    for (given, slot, name) in [
        (a.mask_src, &mut mask.src, "--mask-src"),
        (a.mask_dst, &mut mask.dst, "--mask-dst"),
    ] {
        if let Some(m) = given {
            if m.is_ipv4() != src.is_ipv4() {
                return Err(format!("{name}: not of the expected addresses' family"));
            }
            *slot = Some(m);
        }
    }
    mask.src_port = Some(a.mask_sport);
    mask.dst_port = Some(a.mask_dport);
    let mut flags = 0;
    for f in &a.flags {
        flags |= match f {
            ExpectFlag::Permanent => NF_CT_EXPECT_PERMANENT,
            ExpectFlag::Inactive => NF_CT_EXPECT_INACTIVE,
        };
    }
    if a.timeout == 0 {
        return Err("--timeout: an expectation needs at least 1 second".into());
    }
    if let Some(h) = &a.helper {
        if h.is_empty() || h.len() >= 16 {
            return Err("--helper: a helper name has 1 to 15 characters".into());
        }
    }
    Ok(Expect {
        family: if src.is_ipv4() {
            ctctl_netlink::header::AF_INET
        } else {
            ctctl_netlink::header::AF_INET6
        },
        master,
        tuple,
        mask,
        timeout: Some(a.timeout),
        helper: a.helper.clone(),
        zone: a.zone,
        flags,
        class: a.class,
        ..Expect::default()
    })
}

fn create(a: &ExpectCreateArgs) -> anyhow::Result<Outcome> {
    let e = expect_of(a).map_err(anyhow::Error::msg)?;
    let mut ct = Conntrack::open()?;
    match ct.expect_create(&e) {
        Ok(true) => Ok(Outcome::Ok),
        Ok(false) => {
            eprintln!("ctctl: that expectation already exists");
            Ok(Outcome::NotFound)
        }
        Err(err) if err.errno() == Some(libc::ENOENT) => Err(anyhow::Error::new(err).context(
            "no master entry with that tuple (create it first, or check -p -s -d --sport --dport)",
        )),
        Err(err) if err.errno() == Some(libc::EOPNOTSUPP) => {
            Err(anyhow::Error::new(err).context(
                "the master entry has no helper (attach one, e.g. an nft `ct helper set` rule) or --helper names none loaded",
            ))
        }
        Err(err) => Err(err.into()),
    }
}

fn delete(cli: &Cli, a: &ExpectDeleteArgs) -> anyhow::Result<Outcome> {
    let filter = a.filter.filter();
    if filter.selects_everything() && !a.all {
        return Err(anyhow::Error::msg(
            "refusing: these filters select every expectation (none, a family alone, or a /0              prefix); give filters, or --all to remove every expectation",
        ));
    }
    let mut ct = Conntrack::open()?;
    let (done, gone) = if filter.is_empty() {
        let before = ct.expect_count(&filter)?;
        ct.expect_flush()?;
        (before, 0)
    } else {
        ct.expect_delete_matching(&filter, |_| {})?
    };
    if cli.output == Format::Json {
        println!("{{\"deleted\":{done},\"already_gone\":{gone},\"failed\":0}}");
    } else {
        eprintln!("deleted {done} expectations ({gone} already gone)");
    }
    Ok(Outcome::Ok)
}

fn events(cli: &Cli, a: &ExpectEventsArgs) -> anyhow::Result<Outcome> {
    signals::install().context("installing signal handlers")?;
    let filter = a.filter.filter();
    let want = |t| a.events.is_empty() || a.events.contains(&t);
    let ct = Conntrack::open()?;
    let (new, destroy) = (want(ExpectEventType::New), want(ExpectEventType::Destroy));
    let mut sub = ct.expect_events(new, destroy)?;
    // Nothing from here on is missed (scripts and tests wait for this line).
    let kinds: Vec<&str> = [(new, "new"), (destroy, "destroy")]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, n)| *n)
        .collect();
    eprintln!(
        "ctctl: listening for expectation events ({})",
        kinds.join(", ")
    );
    let start = Instant::now();
    let mut out = Out::stdout();
    let mut seen = 0u64;
    let mut reported = 0u64;
    loop {
        if signals::terminated() || a.count.is_some_and(|c| seen >= c) {
            break;
        }
        let mut wait = crate::stdio::signals::SIGNAL_TICK;
        if let Some(d) = a.duration {
            let Some(left) = d.checked_sub(start.elapsed()) else {
                break;
            };
            wait = wait.min(left);
        }
        let mut io = Ok(());
        sub.next_batch(Some(wait), |kind, e| {
            if !filter.matches(e) || a.count.is_some_and(|c| seen >= c) {
                return;
            }
            seen += 1;
            crate::format::expect::write(out.buf(), cli.output, e, Some(kind), a.show_id);
            if io.is_ok() {
                io = out.line_done();
            }
        })?;
        io?;
        out.flush()?;
        if sub.overruns() > reported {
            reported = sub.overruns();
            eprintln!(
                "ctctl: warning: expectation events lost ({reported} overruns so far); `ctctl expect list` shows the table now"
            );
        }
    }
    out.flush()?;
    Ok(Outcome::Ok)
}

fn stats(cli: &Cli) -> anyhow::Result<Outcome> {
    let mut ct = Conntrack::open()?;
    let mut stdout = std::io::stdout().lock();
    for s in ct.expect_stats_cpu()? {
        if cli.output == Format::Json {
            writeln!(
                stdout,
                "{{\"cpu\":{},\"expect_new\":{},\"expect_create\":{},\"expect_delete\":{}}}",
                s.cpu, s.new, s.create, s.delete
            )?;
        } else {
            writeln!(
                stdout,
                "cpu={:<4}\texpect_new={} expect_create={} expect_delete={}",
                s.cpu, s.new, s.create, s.delete
            )?;
        }
    }
    Ok(Outcome::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::expect::*;
    use ctctl_netlink::expect::ExpectEvent;

    fn ftp() -> Expect {
        let t = |sp, dp| Tuple {
            src: Some("127.0.0.1".parse().unwrap()),
            dst: Some("127.0.0.1".parse().unwrap()),
            proto: Some(6),
            src_port: Some(sp),
            dst_port: Some(dp),
            ..Tuple::default()
        };
        Expect {
            family: 2,
            master: t(33794, 21),
            tuple: t(0, 47799),
            mask: Tuple {
                src: Some("255.255.255.255".parse().unwrap()),
                dst: Some("255.255.255.255".parse().unwrap()),
                proto: Some(6),
                src_port: Some(0),
                dst_port: Some(65535),
                ..Tuple::default()
            },
            timeout: Some(298),
            id: Some(7),
            helper: Some("ftp".into()),
            class: Some(0),
            ..Expect::default()
        }
    }

    #[test]
    fn text_is_conntracks_line() {
        // As conntrack 1.4.7 printed it for an FTP PASV expectation.
        let mut out = Vec::new();
        write_text(&mut out, &ftp(), None, false);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "298 proto=6 src=127.0.0.1 dst=127.0.0.1 sport=0 dport=47799 \
             mask-src=255.255.255.255 mask-dst=255.255.255.255 sport=0 dport=65535 \
             master-src=127.0.0.1 master-dst=127.0.0.1 sport=33794 dport=21 class=0 helper=ftp"
        );
        let mut out = Vec::new();
        let mut e = ftp();
        e.flags = NF_CT_EXPECT_PERMANENT | ctctl_netlink::expect::NF_CT_EXPECT_USERSPACE;
        write_text(&mut out, &e, Some(ExpectEvent::Destroy), true);
        let s = String::from_utf8(out).unwrap();
        assert!(s.starts_with("[DESTROY] 298 proto=6 "), "{s}");
        assert!(
            s.ends_with("PERMANENT,USERSPACE class=0 helper=ftp id=7"),
            "{s}"
        );
    }

    #[test]
    fn json_is_one_object() {
        let mut out = Vec::new();
        write_json(&mut out, &ftp(), None);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["master"]["dport"], 21);
        assert_eq!(v["tuple"]["dport"], 47799);
        assert_eq!(v["mask"]["sport"], 0);
        assert_eq!(v["helper"], "ftp");
        assert_eq!(v["proto"], "tcp");
        assert_eq!(v["id"], 7);
    }
}
