//! Deleting entries, and how: the one place that decides between a single
//! delete by tuple, a kernel flush proved exact on this kernel, and a dump
//! matched here whose matches are deleted by tuple and id ([`Method`]); and
//! the [`Deleter`] that sends deletes in batches (many `DELETE` messages per
//! `sendmsg`, acknowledged only on error; `ENOENT` counts as already gone,
//! in [`BatchStats::skipped`]).
//!
//! Nothing is ever deleted that the selection excludes: a criterion goes to
//! the kernel only when the probe saw this kernel apply it exactly.

use std::ops::ControlFlow;

use ctctl_netlink::conntrack::{request, Flow};
use ctctl_netlink::Socket;

use crate::batch::{BatchStats, Batcher};
use crate::conntrack::Conntrack;
use crate::error::Result;
use crate::probe::{self, Op};
use crate::select::filter::Filter;
use crate::select::selection::Selection;
use crate::select::set::FilterSet;

/// How entries were removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Method {
    /// One entry named by its full tuple: a single `DELETE`.
    Tuple,
    /// Flushes in the kernel, proved exact on this kernel.
    KernelFilter,
    /// A dump matched here, each match deleted by tuple and id.
    Dump,
}

impl Method {
    /// Its name in summaries (`"method"` in JSON).
    pub fn name(self) -> &'static str {
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
/// it once and ctctl decodes what it returns; docs/performance.md has the
/// measurement behind the number.
pub const MAX_LINE_FLUSHES: usize = 1;

impl Conntrack {
    /// A [`Deleter`] for this table, with a socket of its own so that it can
    /// delete while [`Conntrack::stream`] reads a dump.
    ///
    /// # Errors
    ///
    /// [`Error::Netlink`](crate::error::Error::Netlink) when the kernel refuses a
    /// request or the socket fails (the errno and the operation are kept).
    pub fn deleter(&self) -> Result<Deleter> {
        Ok(Deleter::new(self.sibling_socket()?))
    }

    /// Deletes what `filter` selects, by the cheapest way that is exact:
    /// one `DELETE` for an entry named by its full tuple and original
    /// zone; else a kernel flush, when the probe proved this kernel's flush
    /// selects exactly by every criterion (one flush per family, the second
    /// family swept from a dump meanwhile); else a dump matched here, each
    /// match deleted by tuple and id. `progress` hears the deletes queued.
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
    /// namespace is made, a few test entries are created and dumped and flushed there,
    /// and the verdict is cached in `/run/ctctl/kernel-probe.json`.
    /// [`set_policy`](crate::probe::set_policy) chooses cached verdicts
    /// only, or never (everything matched here).
    pub fn delete_matching(
        &mut self,
        filter: &Filter,
        progress: &mut dyn FnMut(u64),
    ) -> Result<(BatchStats, Method)> {
        delete_one(self, filter, progress)
    }

    /// Deletes what a `--filters-from` set selects: one exact kernel flush
    /// per line when the lines are at most [`MAX_LINE_FLUSHES`] and each is
    /// exact in the kernel, else one dump matched against every line and
    /// deleted by tuple and id. Also returns the entries each line matched.
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
    /// namespace is made, a few test entries are created and dumped and flushed there,
    /// and the verdict is cached in `/run/ctctl/kernel-probe.json`.
    /// [`set_policy`](crate::probe::set_policy) chooses cached verdicts
    /// only, or never (everything matched here).
    pub fn delete_set(
        &mut self,
        set: &FilterSet,
        progress: &mut dyn FnMut(u64),
    ) -> Result<(BatchStats, Method, Vec<u64>)> {
        delete_set(self, set, progress)
    }

    /// Deletes, by tuple and id from a dump, every entry `sel` selects
    /// (any [`Selection`], such as conntrack(8)'s).
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
    /// namespace is made, a few test entries are created and dumped and flushed there,
    /// and the verdict is cached in `/run/ctctl/kernel-probe.json`.
    /// [`set_policy`](crate::probe::set_policy) chooses cached verdicts
    /// only, or never (everything matched here).
    pub fn delete_selected<S: Selection + ?Sized>(
        &mut self,
        sel: &S,
        progress: &mut dyn FnMut(u64),
    ) -> Result<BatchStats> {
        sweep(self, sel, |_| true, progress)
    }
}

/// Deletes entries by original tuple, zone and id, batching the requests.
/// Uses a socket of its own, so it can run while a dump is being read.
#[derive(Debug)]
pub struct Deleter {
    batch: Batcher,
}

impl Deleter {
    /// A deleter on `sock` (which must be in the table's network namespace).
    pub fn new(sock: Socket) -> Deleter {
        Deleter {
            batch: Batcher::new(sock, "delete", libc::ENOENT),
        }
    }

    /// Queues the deletion of `f`: by its original tuple and zone, and its id
    /// when it has one, so that a newer entry that reused the tuple is left
    /// alone (`ctnetlink_del_conntrack` compares `CTA_ID`).
    ///
    /// # Errors
    ///
    /// [`Error::Netlink`](crate::error::Error::Netlink) when the kernel refuses a
    /// request or the socket fails (the errno and the operation are kept).
    pub fn push(&mut self, f: &Flow<'_>) -> Result<()> {
        self.batch.push(0, |req, seq| {
            request::delete(req, seq, &f.orig, f.zone, f.id, false)
        })
    }

    /// Deletes queued so far (sent or not).
    pub fn queued(&self) -> u64 {
        self.batch.pushed()
    }

    /// Sends what is queued and returns the totals: `done` entries deleted,
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

/// Deletes what one filter selects, by the cheapest exact way.
fn delete_one(
    ct: &mut Conntrack,
    filter: &Filter,
    progress: &mut dyn FnMut(u64),
) -> Result<(BatchStats, Method)> {
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
            kernel_flush(ct, filter, &plan.filters, progress)?,
            Method::KernelFilter,
        ));
    }
    tracing::debug!("deleting by tuple and id from a dump");
    Ok((sweep(ct, filter, |_| true, progress)?, Method::Dump))
}

/// Flushes in the kernel with `filters` (exact for `filter`), counted from
/// the table size before and after: the kernel does not say how many a
/// flush removed (right as long as nothing else changes the table).
fn kernel_flush(
    ct: &mut Conntrack,
    filter: &Filter,
    filters: &[ctctl_netlink::conntrack::KernelFilter],
    progress: &mut dyn FnMut(u64),
) -> Result<BatchStats> {
    let before = ct.stats()?.entries;
    let mut stats = match filters {
        [one] => {
            ct.flush_raw(one)?;
            BatchStats::default()
        }
        [first, rest @ ..] => flush_and_sweep(ct, filter, first, rest, progress)?,
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
    progress: &mut dyn FnMut(u64),
) -> Result<(BatchStats, Method, Vec<u64>)> {
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
                let s = kernel_flush(ct, line, &plan.filters, progress)?;
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
    let stats = sweep(
        ct,
        &set.prefilter(),
        |f| set.each_match(f, |i| counts[i] += 1),
        progress,
    )?;
    Ok((stats, Method::Dump, counts))
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
    progress: &mut dyn FnMut(u64),
) -> Result<BatchStats> {
    let flush_sock = ct.sibling_socket()?;
    std::thread::scope(|s| {
        let flusher = s.spawn(move || Conntrack::with_socket(flush_sock).flush_raw(first));
        let mut stats = BatchStats::default();
        for kf in rest {
            let sweep_filter = Filter {
                family: Some(kf.family),
                ..filter.clone()
            };
            stats.add(&sweep(ct, &sweep_filter, |_| true, progress)?);
        }
        flusher
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))?;
        Ok(stats)
    })
}

/// Streams what `sel` selects and deletes, by tuple and id, each entry
/// `keep` also takes; `progress` hears the deletes queued so far.
fn sweep<S: Selection + ?Sized>(
    ct: &mut Conntrack,
    sel: &S,
    mut keep: impl FnMut(&Flow<'_>) -> bool,
    progress: &mut dyn FnMut(u64),
) -> Result<BatchStats> {
    let mut deleter = ct.deleter()?;
    ct.stream(sel, |f| -> Result<ControlFlow<()>> {
        if keep(f) {
            deleter.push(f)?;
            progress(deleter.queued());
        }
        Ok(ControlFlow::Continue(()))
    })?;
    deleter.finish()
}
