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
use crate::conntrack::Conntrack;
use crate::format::number::thousands;
use crate::format::render::Render;
use crate::format::text;
use crate::select::filter::Filter;
use crate::stdio::out::Out;

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
    let mut progress = Progress::new();
    let mut tick = |n| progress.tick(n);
    let (stats, method) = match &sel {
        Selector::One(filter) => ct.delete_matching(filter, &mut tick)?,
        Selector::Set(set, numbers) => {
            let (stats, method, counts) = ct.delete_set(set, &mut tick)?;
            per_line = numbers.iter().copied().zip(counts).collect();
            (stats, method)
        }
    };
    progress.done();
    super::warn_untrusted(&ct);
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
        let render =
            Render::new(cli.output, a.show_id).with_names(crate::labels::LabelMap::system());
        ct.try_stream(filter, |f| -> anyhow::Result<ControlFlow<()>> {
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
