//! What the running kernel was seen to select correctly, by behaviour and
//! not by version: kernels have bugs and distributions backport, so before
//! ctctl hands a criterion to the kernel (in a dump, and above all in a
//! flush) it checks that this kernel applies that very *request shape*
//! right ([`shape`]): the same operation, family, protocol and set of
//! criteria, proved as a whole.
//!
//! Shapes are proved lazily: the first time a command needs one, its
//! experiment runs in a private network namespace (`unshare(CLONE_NEWNET)`,
//! which needs `CAP_SYS_ADMIN`; nothing of the host's table is touched)
//! and the verdict is kept for the rest of the boot in [`cache::FILE`]. A
//! plan costs at most two experiments (each one table walk); a known shape
//! costs nothing. `ctctl probe --all` proves every shape the CLI can
//! produce, for a boot unit. Where a shape is not proved, ctctl sends a
//! smaller one it can trust (without addresses, then the family alone) or
//! none, and matches in userspace; deletes then go by tuple and id.
//!
//! [`Policy`] says whether a probe may run at all: `status` and the
//! exporter only read what is known; a library caller chooses.
//!
//! Known faults this catches (see docs/kernel-facts.md):
//! - IPv6 addresses in `CTA_FILTER` compared inverted
//!   (`ctnetlink_filter_match_tuple`, seen on 6.18): a dump for one address
//!   returns every other one, a flush deletes every other one.
//! - `CTA_FILTER` on a flush before "netfilter: ctnetlink: support
//!   CTA_FILTER for flush" (6.12): without a tuple, `EOPNOTSUPP`; with a
//!   full tuple a single delete (such flushes are never sent).
//! - `CTA_ZONE` on dumps and flushes (6.8) ignored for zone 0 until fixed.
//! - A status mask of 0 refused (`EINVAL`), which conntrack 1.4.7 sends
//!   for `-u UNSET`; the conntrack face asks [`refusal`] to answer alike.

pub mod cache;
mod kernel;
pub mod shape;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Mutex;

use ctctl_netlink::conntrack::{KernelFilter, Tuple};

use crate::select::plan::{Criteria, KernelPlan};
use crate::select::selection::Selection;
pub use cache::{BootKey, FILE as CACHE_FILE};
pub use shape::{Outcome, ProbeTable, Shape};

/// What a kernel filter is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Op {
    /// A dump: what the kernel leaves out is never seen.
    Dump,
    /// A flush: what the kernel selects is deleted.
    Flush,
}

/// Whether a probe may run to prove a shape not known yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Policy {
    /// Prove unknown shapes when needed (the CLI's default).
    Probe,
    /// Use only what was proved earlier this boot; send nothing else.
    CachedOnly,
    /// Never hand a criterion to the kernel: dump everything, match here.
    Never,
}

static POLICY: AtomicU8 = AtomicU8::new(0);

/// Sets the process-wide [`Policy`].
pub fn set_policy(p: Policy) {
    POLICY.store(
        match p {
            Policy::Probe => 0,
            Policy::CachedOnly => 1,
            Policy::Never => 2,
        },
        Ordering::Relaxed,
    );
}

/// The process-wide [`Policy`].
pub fn policy() -> Policy {
    match POLICY.load(Ordering::Relaxed) {
        0 => Policy::Probe,
        1 => Policy::CachedOnly,
        _ => Policy::Never,
    }
}

/// A flush plan this running kernel was proved to apply exactly, the only
/// way to a filtered [`Conntrack::flush`](crate::conntrack::Conntrack::flush).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvedFlush {
    filters: Vec<KernelFilter>,
}

impl ProvedFlush {
    /// The requests, one per family.
    pub fn filters(&self) -> &[KernelFilter] {
        &self.filters
    }
}

/// The kernel flush that deletes exactly what `sel` selects, when this
/// kernel was proved to apply it; `None` otherwise (then delete from a
/// dump: [`Conntrack::delete_matching`](crate::conntrack::Conntrack::delete_matching)
/// picks for you).
///
/// # Kernel probe
///
/// Under [`Policy::Probe`] (the default) a request shape not judged yet
/// this boot is proved now: in a private network namespace made for the
/// purpose (`unshare(CLONE_NEWNET)`, needs `CAP_SYS_ADMIN`), a few entries
/// are created, dumped or flushed there, and the verdict is kept in
/// `/run/ctctl/kernel-probe.json`. [`set_policy`] chooses otherwise.
pub fn prove_flush<S: Selection + ?Sized>(sel: &S) -> Option<ProvedFlush> {
    let p = plan(sel, Op::Flush);
    p.exact.then_some(ProvedFlush { filters: p.filters })
}

/// What this process knows of the kernel's shapes.
#[derive(Default)]
struct Known {
    loaded: bool,
    key: Option<BootKey>,
    verdicts: BTreeMap<String, String>,
    /// Why the probe could not run, once it failed to.
    could_not_run: Option<String>,
    warned: bool,
}

static KNOWN: Mutex<Known> = Mutex::new(Known {
    loaded: false,
    key: None,
    verdicts: BTreeMap::new(),
    could_not_run: None,
    warned: false,
});

fn encode(o: &Outcome) -> String {
    match o {
        Outcome::Proved => "proved".into(),
        Outcome::Failed(why) => format!("failed: {why}"),
        Outcome::Refused(errno) => format!("refused: {errno}"),
    }
}

fn decode(s: &str) -> Outcome {
    if s == "proved" {
        Outcome::Proved
    } else if let Some(n) = s.strip_prefix("refused: ") {
        Outcome::Refused(n.parse().unwrap_or(0))
    } else {
        Outcome::Failed(s.strip_prefix("failed: ").unwrap_or(s).to_string())
    }
}

fn load(k: &mut Known) {
    if k.loaded {
        return;
    }
    k.loaded = true;
    match BootKey::current() {
        Ok(key) => {
            k.verdicts = cache::load(&key);
            k.key = Some(key);
        }
        Err(e) => k.could_not_run = Some(e),
    }
}

/// Proves the shapes not known yet (at most `budget` experiments), keeps
/// the verdicts, and returns each shape's outcome (`None`: unknown).
fn prove(shapes: &[Shape], budget: usize) -> Vec<Option<Outcome>> {
    let mut k = KNOWN.lock().unwrap_or_else(|p| p.into_inner());
    load(&mut k);
    let known = |k: &Known, s: &Shape| k.verdicts.get(&s.key()).map(|v| decode(v));
    let may = policy() == Policy::Probe && k.could_not_run.is_none();
    let todo: Vec<Shape> = shapes
        .iter()
        .filter(|s| !s.is_empty() && known(&k, s).is_none())
        .copied()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .take(budget)
        .collect();
    if may && !todo.is_empty() {
        let started = std::time::Instant::now();
        match kernel::run(todo.clone()) {
            Ok(outcomes) => {
                let new: BTreeMap<String, String> = todo
                    .iter()
                    .zip(&outcomes)
                    .map(|(s, o)| (s.key(), encode(o)))
                    .collect();
                for (s, o) in todo.iter().zip(&outcomes) {
                    tracing::debug!("kernel probe: {s}: {o:?}");
                }
                tracing::debug!(
                    "kernel probe: {} shapes in {:?}",
                    todo.len(),
                    started.elapsed()
                );
                k.verdicts.extend(new.clone());
                if let Some(key) = k.key.clone() {
                    if let Err(e) = cache::store(&key, &new, false) {
                        if !k.warned {
                            k.warned = true;
                            eprintln!(
                                "ctctl: warning: cannot keep the kernel probe's verdicts in {}: {e}; they hold for this run only",
                                cache::DIR
                            );
                        }
                    }
                }
            }
            Err(why) => {
                tracing::debug!("kernel probe could not run: {why}");
                k.could_not_run = Some(why);
            }
        }
    }
    shapes
        .iter()
        .map(|s| {
            if s.is_empty() {
                Some(Outcome::Proved)
            } else {
                known(&k, s)
            }
        })
        .collect()
}

/// Whether the kernel applies the request shape `s` correctly, proving it
/// now when the [`Policy`] allows and it is not known yet.
pub fn proved(s: &Shape) -> bool {
    matches!(prove(std::slice::from_ref(s), 1)[0], Some(Outcome::Proved))
}

/// The errno with which this kernel refuses the request shape `s`, when it
/// was seen to (probing it now when the [`Policy`] allows).
pub fn refusal(s: &Shape) -> Option<i32> {
    match prove(std::slice::from_ref(s), 1)[0] {
        Some(Outcome::Refused(errno)) => Some(errno),
        _ => None,
    }
}

/// `kf` without addresses: what is left when a shape with them failed
/// (the criteria kernels have got wrong).
fn without_addresses(kf: &KernelFilter) -> KernelFilter {
    KernelFilter {
        orig: Tuple {
            src: None,
            dst: None,
            ..kf.orig
        },
        reply: Tuple::default(),
        ..*kf
    }
}

/// The kernel's share of `filter` for `op`: the requests whose shapes this
/// kernel was proved to apply, and whether they select exactly the
/// filter's entries. At most two experiments run; a flush is used only
/// when exact, so only its full shape is tried.
pub fn plan<S: Selection + ?Sized>(filter: &S, op: Op) -> KernelPlan {
    let wanted = filter.kernel_plan(Criteria::ALL);
    if wanted.filters.iter().all(KernelFilter::is_empty) {
        return wanted;
    }
    if policy() == Policy::Never {
        return KernelPlan {
            filters: vec![KernelFilter::default()],
            exact: false,
        };
    }
    let full: Vec<Shape> = wanted.filters.iter().map(|k| Shape::of(op, k)).collect();
    let outcomes = prove(&full, 2);
    let mut budget = 2usize.saturating_sub(full.len());
    let mut exact = wanted.exact;
    let mut filters = Vec::new();
    for (kf, o) in wanted.filters.iter().zip(outcomes) {
        if o == Some(Outcome::Proved) {
            filters.push(*kf);
            continue;
        }
        exact = false;
        if op == Op::Flush {
            filters.push(KernelFilter::default());
            continue;
        }
        let mut chosen = KernelFilter::default();
        for smaller in [
            without_addresses(kf),
            KernelFilter {
                family: kf.family,
                ..KernelFilter::default()
            },
        ] {
            if smaller == *kf || smaller.is_empty() {
                continue;
            }
            let s = Shape::of(op, &smaller);
            let o = prove(std::slice::from_ref(&s), budget)[0].clone();
            if o.is_none() {
                budget = budget.saturating_sub(1);
            }
            if o == Some(Outcome::Proved) {
                chosen = smaller;
                break;
            }
        }
        filters.push(chosen);
    }
    if exact {
        tracing::debug!("{op:?}: the kernel selects this filter in full");
    } else {
        tracing::debug!("{op:?}: the kernel pre-selects {filters:?}, the rest is matched here");
    }
    KernelPlan { filters, exact }
}

/// What is known this boot (without probing): each shape's verdict, and
/// why the probe could not run if it could not.
pub fn known() -> (Vec<(String, Outcome)>, Option<String>) {
    let mut k = KNOWN.lock().unwrap_or_else(|p| p.into_inner());
    load(&mut k);
    (
        k.verdicts
            .iter()
            .map(|(s, v)| (s.clone(), decode(v)))
            .collect(),
        k.could_not_run.clone(),
    )
}

/// The shapes `ctctl probe` proves: those of the usual commands.
pub fn common_shapes() -> Vec<Shape> {
    use ctctl_netlink::header::{AF_INET, AF_INET6};
    use shape::field::*;
    let mut out = Vec::new();
    for op in [Op::Dump, Op::Flush] {
        for (family, proto, fields) in [
            (AF_INET, None, 0),
            (AF_INET6, None, 0),
            (0, None, MARK),
            (0, None, STATUS),
            (0, None, ZONE),
            (0, None, ZONE | ZONE0),
            (AF_INET, Some(6), 0),
            (AF_INET, Some(17), DPORT),
            (AF_INET6, Some(17), DPORT),
            (AF_INET, Some(6), SPORT | DPORT),
            (AF_INET, None, ORIG_SRC),
            (AF_INET, None, ORIG_DST),
            (AF_INET6, None, ORIG_DST),
            (AF_INET, Some(17), ORIG_DST | DPORT),
            (AF_INET6, Some(17), ORIG_DST | DPORT),
            (AF_INET, Some(1), ICMP_TYPE | ICMP_CODE | ICMP_ID),
            (AF_INET6, Some(58), ICMP_TYPE | ICMP_CODE | ICMP_ID),
            (
                AF_INET,
                Some(6),
                ORIG_SRC | ORIG_DST | REPLY_SRC | REPLY_DST | DPORT | MARK | STATUS | ZONE,
            ),
        ] {
            out.push(Shape {
                op,
                family,
                proto,
                fields,
            });
        }
    }
    out
}

/// Every shape the CLI's filters can produce (`ctctl probe --all`).
pub fn all_shapes() -> Vec<Shape> {
    use ctctl_netlink::header::{AF_INET, AF_INET6};
    use shape::field::*;
    let metas: Vec<u32> = [0, MARK, MARK | MARK_MASKED]
        .into_iter()
        .flat_map(|m| [m, m | STATUS])
        .flat_map(|m| [m, m | ZONE, m | ZONE | ZONE0])
        .collect();
    let mut out = Vec::new();
    for op in [Op::Dump, Op::Flush] {
        for &m in metas.iter().filter(|m| **m != 0) {
            out.push(Shape {
                op,
                family: 0,
                proto: None,
                fields: m,
            });
        }
        for family in [AF_INET, AF_INET6] {
            let icmp = if family == AF_INET { 1 } else { 58 };
            let l4: Vec<(Option<u8>, u32)> = [(None, 0)]
                .into_iter()
                .chain(
                    [6u8, 17]
                        .into_iter()
                        .flat_map(|p| [0, SPORT, DPORT, SPORT | DPORT].map(|f| (Some(p), f))),
                )
                .chain((0..8u32).map(|bits| {
                    let mut f = 0;
                    for (i, b) in [ICMP_TYPE, ICMP_CODE, ICMP_ID].into_iter().enumerate() {
                        if bits & (1 << i) != 0 {
                            f |= b;
                        }
                    }
                    (Some(icmp), f)
                }))
                .collect();
            for addrs in 0..16u32 {
                let a = [ORIG_SRC, ORIG_DST, REPLY_SRC, REPLY_DST]
                    .into_iter()
                    .enumerate()
                    .filter(|(i, _)| addrs & (1 << i) != 0)
                    .fold(0, |acc, (_, b)| acc | b);
                for &(proto, f) in &l4 {
                    for &m in &metas {
                        let s = Shape {
                            op,
                            family,
                            proto,
                            fields: a | f | m,
                        };
                        if shape::experiment(&s).is_some() {
                            out.push(s);
                        }
                    }
                }
            }
        }
    }
    out
}

/// Proves `shapes` now, whatever is known, and keeps the verdicts
/// (`ctctl probe`, `ctctl probe --all`); returns them with the time taken.
///
/// # Errors
///
/// When the probe cannot run (no private namespace can be made, the kernel
/// refuses a request) or its cache under /run/ctctl cannot be read or written.
pub fn reprobe(
    shapes: Vec<Shape>,
) -> Result<(Vec<(Shape, Outcome)>, std::time::Duration), crate::error::Error> {
    let key = BootKey::current().map_err(crate::error::Error::Probe)?;
    let started = std::time::Instant::now();
    let outcomes = kernel::run(shapes.clone())
        .map_err(|e| crate::error::Error::Probe(format!("the kernel probe could not run: {e}")))?;
    let elapsed = started.elapsed();
    let verdicts: BTreeMap<String, String> = shapes
        .iter()
        .zip(&outcomes)
        .map(|(s, o)| (s.key(), encode(o)))
        .collect();
    cache::store(&key, &verdicts, true).map_err(|e| {
        crate::error::Error::Probe(format!("cannot keep the verdicts in {}: {e}", cache::DIR))
    })?;
    let mut k = KNOWN.lock().unwrap_or_else(|p| p.into_inner());
    k.loaded = true;
    k.key = Some(key);
    k.verdicts = verdicts;
    k.could_not_run = None;
    Ok((shapes.into_iter().zip(outcomes).collect(), elapsed))
}

/// A verdict's summary line for a shape.
pub fn describe(o: &Outcome) -> String {
    match o {
        Outcome::Proved => "proved".into(),
        Outcome::Failed(why) => format!("not proved: {why}"),
        Outcome::Refused(errno) => {
            format!("refused: {}", ctctl_netlink::error::errno_text(*errno))
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::Dump => "dump",
            Op::Flush => "flush",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::shape::{field, run};
    use super::*;
    use crate::flow::zone_id;
    use ctctl_netlink::conntrack::Flow;
    use std::net::IpAddr;

    /// A simulated kernel: applies a KernelFilter the way
    /// `ctnetlink_filter_match` should, with switches for known faults.
    #[derive(Default)]
    struct FakeKernel {
        table: Vec<Flow<'static>>,
        ipv6_inverted: bool,
        zone_zero_ignored: bool,
        status_mask_zero_refused: bool,
        /// Before 6.12: no CTA_FILTER on flushes.
        flush_without_filter: bool,
    }

    fn tuple_ok(want: &Tuple, got: &Tuple, v6_inverted: bool) -> bool {
        let addr = |w: Option<IpAddr>, g: Option<IpAddr>| match w {
            None => true,
            Some(IpAddr::V6(_)) if v6_inverted => w != g,
            Some(_) => w == g,
        };
        let eq = |w: Option<u16>, g: Option<u16>| w.is_none() || w == g;
        let ports = matches!(want.proto, Some(6 | 17));
        addr(want.src, got.src)
            && addr(want.dst, got.dst)
            && (want.proto.is_none() || want.proto == got.proto)
            && (!ports || eq(want.src_port, got.src_port) && eq(want.dst_port, got.dst_port))
            && (want.icmp_type.is_none() || want.icmp_type == got.icmp_type)
            && (want.icmp_code.is_none() || want.icmp_code == got.icmp_code)
            && eq(want.icmp_id, got.icmp_id)
    }

    fn key(f: &Flow<'_>) -> String {
        format!("{:?}/{:?}/{}", f.orig, f.reply, zone_id(f))
    }

    impl FakeKernel {
        fn selects(&self, k: &KernelFilter, f: &Flow<'_>) -> bool {
            (k.family == 0 || k.family == f.family)
                && tuple_ok(&k.orig, &f.orig, self.ipv6_inverted)
                && tuple_ok(&k.reply, &f.reply, self.ipv6_inverted)
                && k.mark.is_none_or(|(v, m)| f.mark.unwrap_or(0) & m == v)
                && k.status
                    .is_none_or(|(v, m)| f.status.map_or(0, |s| s.0) & m == v)
                && match k.zone {
                    None => true,
                    Some(0) if self.zone_zero_ignored => true,
                    Some(z) => zone_id(f) == z,
                }
        }

        fn refuses(&self, k: &KernelFilter) -> Option<i32> {
            (self.status_mask_zero_refused && k.status.is_some_and(|(_, m)| m == 0))
                .then_some(libc::EINVAL)
        }
    }

    impl ProbeTable for FakeKernel {
        fn create(&mut self, entries: &[Flow<'static>]) -> Result<(), String> {
            for e in entries {
                if !self.table.iter().any(|t| key(t) == key(e)) {
                    self.table.push(e.clone());
                }
            }
            Ok(())
        }
        fn dump(&mut self, k: &KernelFilter) -> Result<Vec<Flow<'static>>, i32> {
            if let Some(e) = self.refuses(k) {
                return Err(e);
            }
            Ok(self
                .table
                .iter()
                .filter(|f| self.selects(k, f))
                .cloned()
                .collect())
        }
        fn flush(&mut self, k: &KernelFilter) -> Result<(), i32> {
            if let Some(e) = self.refuses(k) {
                return Err(e);
            }
            if self.flush_without_filter && k.uses_tuple_filter() {
                return Err(libc::EOPNOTSUPP);
            }
            let keep: Vec<_> = self
                .table
                .iter()
                .filter(|f| !self.selects(k, f))
                .cloned()
                .collect();
            self.table = keep;
            Ok(())
        }
        fn lookup(
            &mut self,
            entries: &[Flow<'static>],
        ) -> Result<Vec<Option<Flow<'static>>>, String> {
            Ok(entries
                .iter()
                .map(|e| self.table.iter().find(|t| key(t) == key(e)).cloned())
                .collect())
        }
        fn clear(&mut self) -> Result<(), String> {
            self.table.clear();
            Ok(())
        }
    }

    fn verdicts(k: &mut FakeKernel, shapes: &[Shape]) -> Vec<(Shape, Outcome)> {
        shapes.iter().map(|s| (*s, run(k, s).unwrap())).collect()
    }

    #[test]
    fn a_correct_kernel_proves_every_shape_the_cli_sends() {
        let all = all_shapes();
        assert!(all.len() > 10000, "{}", all.len());
        // Every third shape keeps the test short; faults are per criterion.
        let shapes: Vec<Shape> = all.into_iter().step_by(3).collect();
        let bad: Vec<_> = verdicts(&mut FakeKernel::default(), &shapes)
            .into_iter()
            .filter(|(_, o)| *o != Outcome::Proved)
            .collect();
        // Only shapes no table can tell apart stay unproved on a correct
        // kernel: both original addresses, the ports or ICMP fields and a
        // zone compared leave no field to keep two near misses apart (such
        // a request is a lookup); they fall back to smaller shapes.
        for (s, o) in &bad {
            assert!(
                matches!(o, Outcome::Failed(w) if w.contains("tell")),
                "{s}: {o:?}"
            );
        }
        assert!(
            bad.len() < shapes.len() * 15 / 100,
            "{} of {}",
            bad.len(),
            shapes.len()
        );
    }

    #[test]
    fn each_fault_fails_exactly_its_shapes() {
        let shapes: Vec<Shape> = all_shapes().into_iter().step_by(3).collect();
        let mut k = FakeKernel {
            ipv6_inverted: true,
            ..FakeKernel::default()
        };
        for (s, o) in verdicts(&mut k, &shapes) {
            let v6_addr =
                s.family == ctctl_netlink::header::AF_INET6 && s.fields & field::ADDRS != 0;
            if v6_addr {
                assert_ne!(o, Outcome::Proved, "{s}");
            }
            if !v6_addr && matches!(o, Outcome::Failed(ref w) if !w.contains("tell")) {
                panic!("{s}: {o:?}");
            }
        }
        let mut k = FakeKernel {
            zone_zero_ignored: true,
            ..FakeKernel::default()
        };
        for (s, o) in verdicts(&mut k, &common_shapes()) {
            if s.fields & field::ZONE0 != 0 {
                assert_ne!(o, Outcome::Proved, "{s}");
            } else if !matches!(o, Outcome::Failed(ref w) if w.contains("tell")) {
                assert_eq!(o, Outcome::Proved, "{s}");
            }
        }
        let mut k = FakeKernel {
            status_mask_zero_refused: true,
            ..FakeKernel::default()
        };
        let s = Shape {
            op: Op::Dump,
            family: 0,
            proto: None,
            fields: field::STATUS | field::STATUS_ZERO,
        };
        assert_eq!(run(&mut k, &s).unwrap(), Outcome::Refused(libc::EINVAL));
        let mut k = FakeKernel {
            flush_without_filter: true,
            ..FakeKernel::default()
        };
        let s = Shape {
            op: Op::Flush,
            family: ctctl_netlink::header::AF_INET,
            proto: Some(17),
            fields: field::DPORT,
        };
        assert_eq!(run(&mut k, &s).unwrap(), Outcome::Refused(libc::EOPNOTSUPP));
    }
}
