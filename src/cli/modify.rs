//! `ctctl create`, `update`, `save`, `restore` and `wait`: seeding and
//! asserting conntrack state, for other people's tests.

use std::io::{BufRead, BufReader};
use std::ops::ControlFlow;

use anyhow::{bail, Context};
use ctctl_netlink::conntrack::protoinfo::{state_names, ProtoInfo};
use ctctl_netlink::conntrack::request::Update;
use ctctl_netlink::conntrack::{proto, Flow, Labels, Status};
use ctctl_netlink::header::{AF_INET, AF_INET6};

use super::args::{
    Cli, CreateArgs, Format, RestoreArgs, SaveArgs, UpdateArgs, WaitArgs, WaitCondition,
};
use super::{report_batch, Outcome};
use crate::batch::BatchStats;
use crate::conntrack::Conntrack;
use crate::flow::mirror;
use crate::flow::proto_name;
use crate::format::json;
use crate::format::number::thousands;
use crate::format::render::Render;
use crate::stdio::out::Out;
use crate::tune::timeouts::StateTimeouts;
use crate::tune::Paths;
use crate::wait::WaitFor;

fn labels_mask(paths: &Paths, labels: &[String]) -> anyhow::Result<Labels<'static>> {
    let bits = crate::labels::LabelMap::load(paths)
        .bits(labels)
        .map_err(anyhow::Error::msg)?;
    Ok(Labels::from_bits(bits))
}

fn create_flow(a: &CreateArgs, paths: &Paths) -> anyhow::Result<Flow<'static>> {
    let orig = a.tuple.tuple().map_err(anyhow::Error::msg)?;
    let l4 = a.tuple.proto;
    let mut reply = mirror(&orig);
    if let Some(r) = a.reply_src {
        reply.src = Some(r);
    }
    if let Some(r) = a.reply_dst {
        reply.dst = Some(r);
    }
    if a.reply_sport.is_some() {
        reply.src_port = a.reply_sport;
    }
    if a.reply_dport.is_some() {
        reply.dst_port = a.reply_dport;
    }
    let proto_info =
        match &a.state {
            Some(s) => Some(ProtoInfo::from_state_name(l4, s).ok_or_else(
                || match state_names(l4) {
                    Some(names) => {
                        anyhow::anyhow!("invalid --state '{s}': one of {}", names.join(", "))
                    }
                    None => anyhow::anyhow!("--state: {} has no states", proto_name(l4)),
                },
            )?),
            None if l4 == proto::TCP => {
                bail!("a TCP entry needs --state (ESTABLISHED, SYN_SENT, ...)")
            }
            None => None,
        };
    let mut f = Flow {
        family: if a.tuple.src.is_ipv4() {
            AF_INET
        } else {
            AF_INET6
        },
        orig,
        reply,
        status: a.status.map(|s| Status(s.set)),
        mark: a.mark,
        zone: a.zone,
        proto_info,
        labels: if a.labels.is_empty() {
            None
        } else {
            Some(labels_mask(paths, &a.labels)?)
        },
        ..Flow::default()
    };
    f.timeout = Some(match a.timeout {
        Some(t) => t.min(u32::MAX as u64) as u32,
        None => StateTimeouts::load(paths)?
            .full_timeout(&f)
            .ok_or_else(|| anyhow::anyhow!("no default timeout for this entry: give --timeout"))?,
    });
    Ok(f)
}

/// `ctctl create`.
pub fn create(cli: &Cli, a: &CreateArgs) -> anyhow::Result<Outcome> {
    let paths = Paths::system();
    let flow = create_flow(a, &paths)?;
    let mut ct = Conntrack::open()?;
    if !ct.create(&flow, a.or_update)? {
        eprintln!("ctctl: already exists (use --or-update to change it)");
        return Ok(Outcome::NotFound);
    }
    if cli.output == Format::Json {
        if let Some(f) = ct.get(&flow.orig, flow.zone)? {
            let mut out = Out::stdout();
            json::write_flow(out.buf(), &f, None, Some(crate::labels::LabelMap::system()));
            out.line_done()?;
            out.flush()?;
        }
    }
    Ok(Outcome::Ok)
}

/// `ctctl update`.
pub fn update(cli: &Cli, a: &UpdateArgs) -> anyhow::Result<Outcome> {
    let paths = Paths::system();
    let sel = super::select::selector(&a.filter)?;
    if a.set_mark.is_none()
        && a.set_timeout.is_none()
        && a.add_label.is_empty()
        && a.del_label.is_empty()
    {
        bail!("nothing to change: give --set-mark, --set-timeout, --add-label or --del-label");
    }
    super::delete::refuse_everything(&sel, a.all, || Ok(false))?;
    let labels = if a.add_label.is_empty() && a.del_label.is_empty() {
        None
    } else {
        let add = labels_mask(&paths, &a.add_label)?;
        let del = labels_mask(&paths, &a.del_label)?;
        let mut bits = [0u8; 16];
        let mut mask = [0u8; 16];
        for i in 0..16 {
            bits[i] = add.0[i];
            mask[i] = add.0[i] | del.0[i];
        }
        Some((bits, mask))
    };
    let change = Update {
        mark: a.set_mark,
        timeout: a.set_timeout.map(|t| t.min(u32::MAX as u64) as u32),
        labels,
        status: None,
        proto_info: None,
    };
    let mut ct = Conntrack::open()?;
    if a.dry_run {
        let render = Render::new(cli.output, false).with_names(crate::labels::LabelMap::system());
        let mut out = Out::stdout();
        let mut n = 0u64;
        ct.try_stream(&sel, |f| -> anyhow::Result<ControlFlow<()>> {
            n += 1;
            render.flow(out.buf(), f, None);
            out.line_done()?;
            Ok(ControlFlow::Continue(()))
        })?;
        out.flush()?;
        eprintln!("ctctl: dry run: would update {} entries", thousands(n));
        return Ok(Outcome::Ok);
    }
    // One entry named by its tuple and --orig-zone is changed directly. The
    // kernel's update (ctnetlink_new_conntrack without NLM_F_CREATE) does not
    // compare CTA_ID, so with --id the entry is found in a dump first.
    let direct = sel
        .filter()
        .and_then(|f| Some((f.single_tuple().filter(|_| f.id.is_none())?, f)));
    let stats = if let Some((t, filter)) = direct {
        let zone = filter
            .orig_zone
            .as_ref()
            .and_then(crate::select::criteria::Match::single)
            .copied();
        let found = ct.update(&t, zone, &change)?;
        BatchStats {
            done: u64::from(found),
            skipped: u64::from(!found),
            ..BatchStats::default()
        }
    } else {
        let mut up = ct.updater()?;
        ct.try_stream(&sel, |f| -> anyhow::Result<ControlFlow<()>> {
            up.push(f, &change)?;
            Ok(ControlFlow::Continue(()))
        })?;
        up.finish()?
    };
    report_batch(cli, &stats, "updated", "already_gone", None, &[])?;
    if stats.failed > 0 {
        let errno = stats.first_errno().unwrap_or(0);
        bail!(
            "{} updates failed: {}",
            stats.failed,
            ctctl_netlink::error::errno_text(errno)
        );
    }
    Ok(Outcome::Ok)
}

/// `ctctl save`.
pub fn save(_cli: &Cli, a: &SaveArgs) -> anyhow::Result<Outcome> {
    let filter = super::select::selector(&a.filter)?;
    let mut ct = Conntrack::open()?;
    let mut out = Out::stdout();
    ct.try_stream(&filter, |f| -> anyhow::Result<ControlFlow<()>> {
        json::write_flow(out.buf(), f, None, Some(crate::labels::LabelMap::system()));
        out.line_done()?;
        Ok(ControlFlow::Continue(()))
    })?;
    out.flush()?;
    Ok(Outcome::Ok)
}

/// One input line: its number, and what it parsed to (or the read error).
type ParsedLine = (
    u64,
    std::io::Result<Result<Option<crate::restore::Line>, String>>,
);

/// Reads and parses `input` on a thread of its own, handing the lines over
/// in batches of 1024 (bounded: at most 8 batches ahead). The thread stops
/// at the end of the input, after a read error, or when the receiver is
/// dropped; it is not joined, so a reader blocked on a terminal never
/// holds the command up.
fn parse_ahead(input: Box<dyn BufRead + Send>) -> std::sync::mpsc::Receiver<Vec<ParsedLine>> {
    const BATCH: usize = 1024;
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<ParsedLine>>(8);
    std::thread::spawn(move || {
        let mut batch = Vec::with_capacity(BATCH);
        for (i, line) in crate::restore::lines(input).enumerate() {
            let n = i as u64 + 1;
            let failed = line.is_err();
            batch.push((
                n,
                line.map(|l| l.and_then(|l| crate::restore::parse_line(&l))),
            ));
            if failed || batch.len() == BATCH {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                if tx.send(full).is_err() || failed {
                    return;
                }
            }
        }
        let _ = tx.send(batch);
    });
    rx
}

/// `ctctl restore`.
pub fn restore(cli: &Cli, a: &RestoreArgs) -> anyhow::Result<Outcome> {
    let input: Box<dyn BufRead + Send> = match &a.file {
        None => Box::new(BufReader::with_capacity(1 << 16, std::io::stdin())),
        Some(p) if p.as_os_str() == "-" => {
            Box::new(BufReader::with_capacity(1 << 16, std::io::stdin()))
        }
        Some(p) => Box::new(BufReader::with_capacity(
            1 << 16,
            std::fs::File::open(p).with_context(|| format!("cannot open {}", p.display()))?,
        )),
    };
    let mut ct = Conntrack::open()?;
    let mut creator = ct.creator(a.or_update)?;
    let mut bad_lines = 0u64;
    let mut parsed = 0u64;
    let report_bad = |n: u64, e: &str| eprintln!("ctctl: line {n}: {e}");
    // Lines are read and parsed on a second thread while this one sends
    // (parsing costs about as much as a third of the kernel's inserts).
    let parsed_lines = parse_ahead(input);
    for (n, result) in parsed_lines.iter().flatten() {
        let parsed_line = match result.with_context(|| format!("reading line {n}"))? {
            Ok(Some(l)) => l,
            Ok(None) => continue,
            Err(e) => {
                bad_lines += 1;
                report_bad(n, &e);
                if a.strict {
                    bail!("stopped at line {n} (--strict)");
                }
                continue;
            }
        };
        parsed += 1;
        if a.dry_run {
            continue;
        }
        match &parsed_line {
            crate::restore::Line::Create(flow, add) => {
                creator.push_with(n, flow, *add || a.or_update)?
            }
            crate::restore::Line::Command(cmd) => {
                // -U / -D / -F act on what the lines before created: send
                // those first, then run the command in order.
                creator.flush()?;
                if let Err(e) = crate::restore::apply(&mut ct, cmd) {
                    bad_lines += 1;
                    report_bad(n, &e);
                    if a.strict {
                        bail!("stopped at line {n} (--strict)");
                    }
                }
            }
        }
        if a.strict {
            let s = creator.flush()?;
            if let Some(f) = s.failures.first() {
                report_bad(f.tag, &ctctl_netlink::error::errno_text(f.errno));
                bail!("stopped at line {} (--strict)", f.tag);
            }
        }
    }
    if a.dry_run {
        eprintln!(
            "ctctl: dry run: {} entries parsed, {} bad lines",
            thousands(parsed),
            thousands(bad_lines)
        );
        if bad_lines > 0 {
            bail!("{} bad lines", thousands(bad_lines));
        }
        return Ok(Outcome::Ok);
    }
    let mut stats = creator.finish()?;
    for f in &stats.failures {
        report_bad(f.tag, &ctctl_netlink::error::errno_text(f.errno));
    }
    stats.failed += bad_lines;
    report_batch(cli, &stats, "created", "already_there", None, &[])?;
    // Scripts must be able to tell: any line not restored is exit 2.
    if stats.failed > 0 {
        bail!(
            "{} lines not restored (each named above)",
            thousands(stats.failed)
        );
    }
    Ok(Outcome::Ok)
}

/// `ctctl wait`.
pub fn wait(cli: &Cli, a: &WaitArgs) -> anyhow::Result<Outcome> {
    let filter = super::select::single(&a.filter, "wait")?;
    let what = match a.condition {
        WaitCondition::Present => WaitFor::Present,
        WaitCondition::Absent => WaitFor::Absent,
        WaitCondition::New => WaitFor::New,
        WaitCondition::Destroy => WaitFor::Destroy,
    };
    let mut ct = Conntrack::open()?;
    let describe = || {
        let c = match a.condition {
            WaitCondition::Present => "an entry to be present",
            WaitCondition::Absent => "no entry to be left",
            WaitCondition::New => "a new entry",
            WaitCondition::Destroy => "an entry to be destroyed",
        };
        let args: Vec<String> = std::env::args().skip(1).collect();
        format!("{c} ({})", args.join(" "))
    };
    let waited = crate::wait::wait_for(&mut ct, &filter, what, a.count, a.timeout, || {
        eprintln!("ctctl: waiting for {}", describe());
    })?;
    let mut out = Out::stdout();
    let render = Render::new(cli.output, a.show_id).with_names(crate::labels::LabelMap::system());
    for f in &waited.matched {
        render.flow(out.buf(), f, None);
        out.line_done()?;
    }
    out.flush()?;
    if waited.met {
        return Ok(Outcome::Ok);
    }
    let t = a.timeout.map(|t| format!("{t:?}")).unwrap_or_default();
    eprintln!("ctctl: timed out after {t} waiting for {}", describe());
    Ok(Outcome::NotFound)
}
