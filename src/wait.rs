//! Waiting for the table to reach a state: subscribe to events first, then
//! look at the table, then wait for events, so nothing that happens in
//! between is missed.
//!
//! One kernel rule needs more: with `nf_conntrack_events=2` (the default)
//! an entry gets its event extension only if someone listened when it was
//! created, and entries without it never report their destruction. So for
//! `absent` and `destroy` the table is also looked at again every
//! [`RECHECK`]: entries that were there and vanished without an event count
//! as destroyed.

use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use ctctl_netlink::conntrack::{EventKind, Flow};

use crate::conntrack::Conntrack;
use crate::error::Result;
use crate::events::{EventOptions, EventStream};
use crate::select::filter::Filter;

/// How often `absent` / `destroy` look at the table again, for entries the
/// kernel destroys without an event.
pub const RECHECK: Duration = Duration::from_millis(200);

/// What to wait for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WaitFor {
    /// An entry matching the filter exists (already, or once created or
    /// changed to match).
    Present,
    /// No entry matches the filter (already, or once the last one is gone).
    Absent,
    /// A matching entry is created (`NEW` event).
    New,
    /// A matching entry is destroyed (`DESTROY` event).
    Destroy,
}

impl WaitFor {
    fn options(self) -> EventOptions {
        EventOptions {
            new: matches!(self, WaitFor::Present | WaitFor::New),
            update: self == WaitFor::Present,
            destroy: matches!(self, WaitFor::Absent | WaitFor::Destroy),
            // Waiting sees little traffic; a small buffer will do, and a
            // lost event makes us look at the table again.
            buffer_size: 4 << 20,
            reliable: false,
        }
    }
}

/// How a wait ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waited {
    /// Whether the condition was met before the timeout.
    pub met: bool,
    /// The entries that met it (present / new / destroy), at most `count`.
    pub matched: Vec<Flow<'static>>,
    /// Events were lost while waiting (the table was checked again).
    pub overruns: u64,
}

impl Conntrack {
    /// Waits until `what` holds for entries matching `filter` (`count`
    /// times), or `timeout` passes; see [`wait_for`].
    ///
    /// # Errors
    ///
    /// [`Error::Netlink`](crate::error::Error::Netlink) when the kernel refuses a
    /// request or the socket fails (the errno and the operation are kept).
    pub fn wait_for(
        &mut self,
        filter: &Filter,
        what: WaitFor,
        count: usize,
        timeout: Option<Duration>,
    ) -> Result<Waited> {
        wait_for(self, filter, what, count, timeout, || {})
    }
}

/// Waits until `what` holds for entries matching `filter`, `count` times
/// (distinct entries for present, events for new / destroy), or until
/// `timeout`. `ready` is called once the subscription is in place and the
/// table has been read (and did not settle it): from then on every change
/// is seen. For `destroy`, the entries matching at
/// the start are kept in memory (to notice silent destructions): give a
/// narrow filter on large tables.
///
/// # Errors
///
/// [`Error::Netlink`](crate::error::Error::Netlink) when the kernel refuses a
/// request or the socket fails (the errno and the operation are kept).
pub fn wait_for(
    ct: &mut Conntrack,
    filter: &Filter,
    what: WaitFor,
    count: usize,
    timeout: Option<Duration>,
    ready: impl FnOnce(),
) -> Result<Waited> {
    let count = count.max(1);
    let deadline = timeout.map(|t| Instant::now() + t);
    let mut stream = EventStream::subscribe(ct.sibling_socket()?, &what.options(), filter)?;
    let mut w = Waited {
        met: false,
        matched: Vec::new(),
        overruns: 0,
    };
    // For destroy: the matching entries that exist now, to notice the ones
    // that go without an event.
    let mut present: Vec<Flow<'static>> = Vec::new();
    let identity = filter.identity();
    if what == WaitFor::Destroy {
        present = ct.dump(filter)?;
    }
    if check_table(ct, filter, what, count, &mut w)? {
        return Ok(w);
    }
    ready();
    let silent_destroys = matches!(what, WaitFor::Absent | WaitFor::Destroy);
    loop {
        let left = match deadline {
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Ok(w);
                }
                Some(left)
            }
            None => None,
        };
        let left = if silent_destroys {
            Some(left.map_or(RECHECK, |l| l.min(RECHECK)))
        } else {
            left
        };
        let mut recheck = false;
        let polled = stream.poll(left, |ev| {
            if w.met || !filter.matches(&ev.flow) {
                return;
            }
            match (what, ev.kind) {
                (WaitFor::Present, EventKind::New | EventKind::Update)
                    if !w.matched.iter().any(|m| same_entry(m, &ev.flow)) =>
                {
                    w.matched.push(ev.flow.into_owned());
                }
                (WaitFor::New, EventKind::New) => {
                    w.matched.push(ev.flow.into_owned());
                }
                (WaitFor::Destroy, EventKind::Destroy) => {
                    present.retain(|p| !same_entry(p, &ev.flow));
                    w.matched.push(ev.flow.into_owned());
                }
                (WaitFor::Absent, EventKind::Destroy) => recheck = true,
                _ => {}
            }
            if w.matched.len() >= count {
                w.met = true;
            }
        })?;
        if w.met {
            w.matched.truncate(count);
            return Ok(w);
        }
        if polled.overrun {
            w.overruns += 1;
            recheck = true;
        }
        if silent_destroys && polled.received == 0 {
            recheck = true;
        }
        if recheck && what == WaitFor::Destroy && !present.is_empty() {
            // Entries that were there and are gone: destroyed silently. An
            // entry that still exists but no longer matches (its state or
            // mark changed) is not destroyed, so look for the entries by
            // what never changes in an entry's life, not the full filter.
            let mut now = Vec::new();
            ct.for_each(&identity, |f| {
                now.push((f.id, f.orig, f.zone));
                ControlFlow::Continue(())
            })?;
            let (gone, still): (Vec<_>, Vec<_>) = present.drain(..).partition(|p| {
                !now.iter().any(|(id, orig, zone)| match (p.id, id) {
                    (Some(a), Some(b)) => a == *b,
                    _ => p.orig == *orig && p.zone == *zone,
                })
            });
            present = still;
            w.matched.extend(gone);
            if w.matched.len() >= count {
                w.met = true;
                w.matched.truncate(count);
                return Ok(w);
            }
        }
        if recheck
            && matches!(what, WaitFor::Present | WaitFor::Absent)
            && check_table(ct, filter, what, count, &mut w)?
        {
            return Ok(w);
        }
    }
}

/// Looks at the table for present / absent; returns whether that settles it.
fn check_table(
    ct: &mut Conntrack,
    filter: &Filter,
    what: WaitFor,
    count: usize,
    w: &mut Waited,
) -> Result<bool> {
    match what {
        WaitFor::Present => {
            ct.for_each(filter, |f| {
                if !w.matched.iter().any(|m| same_entry(m, f)) {
                    w.matched.push(f.clone().into_owned());
                }
                if w.matched.len() >= count {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            })?;
            w.met = w.matched.len() >= count;
        }
        WaitFor::Absent => {
            let mut any = false;
            ct.for_each(filter, |_| {
                any = true;
                ControlFlow::Break(())
            })?;
            w.met = !any;
        }
        WaitFor::New | WaitFor::Destroy => {}
    }
    Ok(w.met)
}

/// The same entry: same id, or the same original tuple and zone.
fn same_entry(a: &Flow<'_>, b: &Flow<'_>) -> bool {
    match (a.id, b.id) {
        (Some(x), Some(y)) => x == y,
        _ => a.orig == b.orig && a.zone == b.zone,
    }
}
