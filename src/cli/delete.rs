//! `ctctl delete` and `ctctl flush`.
//!
//! Three ways to remove entries, picked in this order:
//! 1. one entry named by its full tuple: a single `DELETE` (no dump);
//! 2. every criterion expressible in the kernel (and the running kernel
//!    honours it): one filtered flush per family, no dump;
//! 3. otherwise: stream the dump, match in userspace, delete each match by
//!    tuple and id on a second socket while the dump goes on.
//!
//! Nothing is deleted unless the filter parsed and built; an empty filter
//! needs `--all` (or, for `flush` on a terminal, a typed `y`).

use std::io::{BufRead, IsTerminal, Write};
use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use anyhow::bail;

use super::args::{Cli, DeleteArgs, Format};
use super::select::Selector;
use super::{report_batch, Outcome};
use crate::format::number::thousands;
use crate::format::render::Render;
use crate::format::text;
use crate::probe::{self, Op};
use crate::select::filter::Filter;
use crate::select::set::FilterSet;
use crate::stdio::out::Out;
use crate::batch::BatchStats;
use crate::conntrack::Conntrack;

/// How the entries were removed, for the summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Tuple,
    KernelFilter,
    Dump,
}

impl Method {
    fn name(self) -> &'static str {
        match self {
            Method::Tuple => "tuple",
            Method::KernelFilter => "kernel-filter",
            Method::Dump => "dump",
        }
    }
}

/// `--filters-from` sets of at most this many lines, each one the kernel
/// can flush exactly, are deleted by one flush per line; larger sets by
/// one dump. Every flush walks the whole table (kernel time), a dump walks
/// it once and ctctl decodes what it returns; see the README for the
/// measurement behind the number.
pub const MAX_LINE_FLUSHES: usize = 1;

/// `ctctl delete` (`flush` false) and `ctctl flush` (`flush` true).
pub fn run(cli: &Cli, a: &DeleteArgs, flush: bool) -> anyhow::Result<Outcome> {
    // Parse and build the filter (and every --filters-from line) before
    // anything touches the kernel: a filter that does not build deletes
    // nothing.
    let sel = super::select::selector(&a.filter)?;
    let mut ct = Conntrack::open()?;
    if a.dry_run {
        return dry_run(cli, a, &mut ct, &sel, flush);
    }
    let bare = sel.is_empty();
    refuse_everything(&sel, a.all, || Ok(flush && bare && confirm_flush(&mut ct)?))?;

    let mut per_line = Vec::new();
    let (stats, method) = match &sel {
        Selector::One(filter) => delete_one(&mut ct, filter)?,
        Selector::Set(set, numbers) => {
            let (stats, method, counts) = delete_set(&mut ct, set)?;
            per_line = numbers.iter().copied().zip(counts).collect();
            (stats, method)
        }
    };
    report_batch(
        cli,
        &stats,
        "deleted",
        "already_gone",
        Some(method.name()),
        &per_line,
    )?;
    if stats.failed > 0 {
        let errno = stats.first_errno().unwrap_or(0);
        bail!(
            "{} deletes failed: {}",
            thousands(stats.failed),
            ctctl_netlink::error::errno_text(errno)
        );
    }
    Ok(Outcome::Ok)
}

/// Deletes what one filter selects, by the cheapest exact way.
fn delete_one(ct: &mut Conntrack, filter: &Filter) -> anyhow::Result<(BatchStats, Method)> {
    if let Some(tuple) = filter.single_tuple() {
        tracing::debug!("one entry named by its tuple and --orig-zone: a single delete");
        let zone = filter
            .orig_zone
            .as_ref()
            .and_then(crate::select::criteria::Match::single)
            .copied();
        let gone = !ct.delete(&tuple, zone, filter.id)?;
        let stats = BatchStats {
            done: u64::from(!gone),
            skipped: u64::from(gone),
            ..BatchStats::default()
        };
        return Ok((stats, Method::Tuple));
    }
    let plan = probe::plan(filter, Op::Flush);
    if plan.exact {
        return Ok((
            kernel_flush(ct, filter, &plan.filters)?,
            Method::KernelFilter,
        ));
    }
    tracing::debug!("deleting by tuple and id from a dump");
    Ok((delete_from_dump(ct, filter)?, Method::Dump))
}

/// Flushes in the kernel with `filters` (exact for `filter`), counted from
/// the table size before and after: the kernel does not say how many a
/// flush removed (right as long as nothing else changes the table).
fn kernel_flush(
    ct: &mut Conntrack,
    filter: &Filter,
    filters: &[ctctl_netlink::conntrack::KernelFilter],
) -> anyhow::Result<BatchStats> {
    let before = ct.stats()?.entries;
    let mut stats = match filters {
        [one] => {
            ct.flush(one)?;
            BatchStats::default()
        }
        [first, rest @ ..] => flush_and_sweep(ct, filter, first, rest)?,
        [] => BatchStats::default(),
    };
    let after = ct.stats()?.entries;
    stats.done = before.saturating_sub(after) as u64;
    Ok(stats)
}

/// Deletes what a `--filters-from` set selects: one exact kernel flush per
/// line when the lines are few and each is kernel-exact, else one dump
/// matched against every line (indexed) and deleted by tuple and id.
/// Returns the entries each line matched.
fn delete_set(
    ct: &mut Conntrack,
    set: &FilterSet,
) -> anyhow::Result<(BatchStats, Method, Vec<u64>)> {
    let lines = set.lines();
    if set.common().is_empty() && lines.len() <= MAX_LINE_FLUSHES {
        let plans: Vec<_> = lines.iter().map(|l| probe::plan(l, Op::Flush)).collect();
        if plans.iter().all(|p| p.exact) {
            tracing::debug!(
                "{} lines, each exact in the kernel: one flush per line",
                lines.len()
            );
            let mut total = BatchStats::default();
            let mut counts = Vec::new();
            for (line, plan) in lines.iter().zip(&plans) {
                let s = kernel_flush(ct, line, &plan.filters)?;
                counts.push(s.done);
                total.add(&s);
            }
            return Ok((total, Method::KernelFilter, counts));
        }
    }
    tracing::debug!(
        "{} lines: one dump, matched against every line, deleted by tuple and id",
        lines.len()
    );
    let mut counts = vec![0u64; lines.len()];
    // The kernel pre-selects what every line shares; each entry is then
    // matched against the lines indexed under its addresses.
    let stats = sweep(ct, &set.prefilter(), |f| {
        set.each_match(f, |i| counts[i] += 1)
    })?;
    Ok((stats, Method::Dump, counts))
}

/// Refuses (usage error, nothing sent) a destructive command whose filter
/// selects every entry, or every entry of a family, unless `--all` was
/// given or `confirmed` (asked only for a bare flush) says yes.
pub fn refuse_everything(
    sel: &Selector,
    all: bool,
    confirmed: impl FnOnce() -> anyhow::Result<bool>,
) -> anyhow::Result<()> {
    if all || !sel.selects_everything() {
        return Ok(());
    }
    if let Selector::Set(set, numbers) = sel {
        let at = set
            .lines()
            .iter()
            .position(Filter::selects_everything)
            .map_or(0, |i| numbers[i]);
        bail!(
            "refusing: --filters-from line {at} selects every entry (with the command line's \
             filters); add --all if you mean it"
        );
    }
    let filter = sel.filter().expect("a single filter");
    if !filter.is_empty() {
        let family = crate::flow::family_name(filter.family.unwrap_or(0));
        bail!(
            "refusing: these filters select every {family} entry (a /0 prefix or a mark \
             mask of 0 matches everything); add --all if you mean it"
        );
    }
    if confirmed()? {
        return Ok(());
    }
    bail!(
        "refusing to act on every entry without --all (that cuts every tracked \
         connection, NATed ones included); add filters, or --all if you mean it"
    )
}

/// Without a family, a tuple filter needs one flush per family, and each
/// flush walks the whole table under the ctnetlink mutex, so two flushes
/// cost two walks in a row. Instead, flush the first family in the kernel
/// on a helper thread while this thread dumps the other families (dumps
/// run outside that mutex) and deletes their matches by tuple and id.
fn flush_and_sweep(
    ct: &mut Conntrack,
    filter: &Filter,
    first: &ctctl_netlink::conntrack::KernelFilter,
    rest: &[ctctl_netlink::conntrack::KernelFilter],
) -> anyhow::Result<BatchStats> {
    let flush_sock = ct.sibling_socket()?;
    std::thread::scope(|s| {
        let flusher = s.spawn(move || Conntrack::with_socket(flush_sock).flush(first));
        let mut stats = BatchStats::default();
        for kf in rest {
            let sweep = Filter {
                family: Some(kf.family),
                ..filter.clone()
            };
            stats.add(&delete_from_dump(ct, &sweep)?);
        }
        flusher
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))?;
        Ok(stats)
    })
}

/// Streams the dump and deletes each match by tuple and id on a second
/// socket, with a progress line on a terminal.
fn delete_from_dump(ct: &mut Conntrack, filter: &Filter) -> anyhow::Result<BatchStats> {
    sweep(ct, filter, |_| true)
}

/// Streams what `filter` selects and deletes, by tuple and id, each entry
/// `keep` also takes; a progress line on a terminal.
fn sweep(
    ct: &mut Conntrack,
    filter: &Filter,
    mut keep: impl FnMut(&ctctl_netlink::conntrack::Flow<'_>) -> bool,
) -> anyhow::Result<BatchStats> {
    let mut deleter = ct.deleter()?;
    let mut progress = Progress::new();
    ct.stream(filter, |f| -> anyhow::Result<ControlFlow<()>> {
        if keep(f) {
            deleter.push(f)?;
            progress.tick(deleter.queued());
        }
        Ok(ControlFlow::Continue(()))
    })?;
    let stats = deleter.finish()?;
    progress.done();
    super::warn_untrusted(ct);
    Ok(stats)
}

fn dry_run(
    cli: &Cli,
    a: &DeleteArgs,
    ct: &mut Conntrack,
    filter: &Selector,
    flush: bool,
) -> anyhow::Result<Outcome> {
    let mut n = 0u64;
    let mut out = Out::stdout();
    if flush && filter.is_empty() {
        n = ct.stats()?.entries as u64;
    } else {
        let render = Render::new(cli.output, a.show_id);
        ct.stream(filter, |f| -> anyhow::Result<ControlFlow<()>> {
            n += 1;
            if !flush {
                render.flow(out.buf(), f, None);
                out.line_done()?;
            }
            Ok(ControlFlow::Continue(()))
        })?;
    }
    if cli.output == Format::Json && flush {
        out.buf()
            .extend_from_slice(b"{\"dry_run\":true,\"would_delete\":");
        text::num(out.buf(), n);
        out.buf().push(b'}');
        out.line_done()?;
    }
    out.flush()?;
    eprintln!("ctctl: dry run: would delete {} entries", thousands(n));
    Ok(Outcome::Ok)
}

/// Asks on the terminal before an unfiltered flush. Without a terminal,
/// the answer is no.
fn confirm_flush(ct: &mut Conntrack) -> anyhow::Result<bool> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() || !std::io::stderr().is_terminal() {
        return Ok(false);
    }
    let n = ct.stats()?.entries;
    eprint!(
        "Flush all {} entries of this network namespace? Every tracked connection, \
         NATed ones included, is cut. [y/N] ",
        thousands(n as u64)
    );
    std::io::stderr().flush()?;
    let mut line = String::new();
    stdin.lock().read_line(&mut line)?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes" | "YES"))
}

/// A progress line on stderr, only when it is a terminal.
struct Progress {
    on: bool,
    last: Instant,
    shown: bool,
}

impl Progress {
    fn new() -> Progress {
        Progress {
            on: std::io::stderr().is_terminal(),
            last: Instant::now(),
            shown: false,
        }
    }

    #[inline]
    fn tick(&mut self, n: u64) {
        if self.on && n % 4096 == 0 && self.last.elapsed() >= Duration::from_millis(500) {
            eprint!("\rctctl: deleting... {} so far", thousands(n));
            self.last = Instant::now();
            self.shown = true;
        }
    }

    fn done(&self) {
        if self.shown {
            eprint!("\r\x1b[K");
        }
    }
}
