//! The table as it is now, kept from events and corrected by dumps: one
//! source for `ctctl exporter`, `ctctl top` and whoever needs per-state and
//! per-source figures many times a second without dumping the table each
//! time.
//!
//! A [`Live`] runs a thread per network namespace. It subscribes to new,
//! update and destroy events first, then dumps the table once; from then
//! on every event moves the counters. Events cannot tell everything:
//!
//! - with `nf_conntrack_events=2` (the default) an entry created while
//!   nobody listened has no event extension and is destroyed silently;
//! - an overrun loses events.
//!
//! So once a second the thread also reads the kernel's own entry count
//! (`GET_STATS`, no dump) and the per-CPU statistics; when the count and
//! the tracked entries disagree twice in a row, or after an overrun, or
//! every `resync_interval`, it dumps the table again and starts over from
//! it. Entries are kept compactly by id (about 64 bytes each).

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::ops::ControlFlow;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ctctl_netlink::conntrack::{EventKind, Flow};
use ctctl_netlink::stats::CpuStats;

use crate::conntrack::Conntrack;
use crate::events::{EventOptions, EventStream};
use crate::filter::Filter;

/// How an entry is counted: family, protocol and protocol state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StateKey {
    /// `AF_INET` or `AF_INET6`.
    pub family: u8,
    /// Layer-4 protocol number.
    pub proto: u8,
    /// The state's name (`ESTABLISHED`), or `none` for protocols without
    /// states (UDP, ICMP, GRE, ...).
    pub state: &'static str,
}

impl StateKey {
    /// The key of `f`.
    pub fn of(f: &Flow<'_>) -> StateKey {
        StateKey {
            family: f.family,
            proto: f.orig.proto.unwrap_or(0),
            state: f.state_name().unwrap_or(NO_STATE),
        }
    }
}

/// The `state` of entries whose protocol has no states.
pub const NO_STATE: &str = "none";

#[derive(Debug, Clone, Copy)]
struct Compact {
    key: StateKey,
    src: Option<IpAddr>,
    dst: Option<IpAddr>,
    /// Protocol and destination port, when the protocol has ports.
    dport: Option<(u8, u16)>,
}

impl Compact {
    fn of(f: &Flow<'_>) -> Compact {
        Compact {
            key: StateKey::of(f),
            src: f.orig.src,
            dst: f.orig.dst,
            dport: f.orig.dst_port.map(|p| (f.orig.proto.unwrap_or(0), p)),
        }
    }
}

/// Counts per value that go up and down, dropping values at zero.
#[derive(Debug, Clone)]
struct Tally<K: std::hash::Hash + Eq>(HashMap<K, u64>);

impl<K: std::hash::Hash + Eq> Default for Tally<K> {
    fn default() -> Self {
        Tally(HashMap::new())
    }
}

impl<K: std::hash::Hash + Eq + Copy> Tally<K> {
    fn add(&mut self, k: K) {
        *self.0.entry(k).or_insert(0) += 1;
    }

    fn sub(&mut self, k: K) {
        if let Some(n) = self.0.get_mut(&k) {
            *n -= 1;
            if *n == 0 {
                self.0.remove(&k);
            }
        }
    }
}

/// New entries per value over the last [`RATE_WINDOW`] seconds, one
/// bucket a second.
#[derive(Debug, Clone)]
struct Rates<K: std::hash::Hash + Eq> {
    buckets: VecDeque<(u64, HashMap<K, u32>)>,
}

/// Seconds over which new connections per second are averaged.
pub const RATE_WINDOW: u64 = 10;

impl<K: std::hash::Hash + Eq + Copy> Rates<K> {
    fn new() -> Self {
        Rates {
            buckets: VecDeque::new(),
        }
    }

    fn add(&mut self, second: u64, k: K) {
        if self.buckets.back().is_none_or(|(s, _)| *s != second) {
            self.buckets.push_back((second, HashMap::new()));
            while self
                .buckets
                .front()
                .is_some_and(|(s, _)| *s + RATE_WINDOW <= second)
            {
                self.buckets.pop_front();
            }
        }
        if let Some((_, m)) = self.buckets.back_mut() {
            *m.entry(k).or_insert(0) += 1;
        }
    }

    /// Per-second rates over the window ending at `now` (whole seconds).
    fn per_second(&self, now: u64) -> HashMap<K, f64> {
        let mut out: HashMap<K, f64> = HashMap::new();
        for (s, m) in &self.buckets {
            if *s + RATE_WINDOW <= now {
                continue;
            }
            for (k, n) in m {
                *out.entry(*k).or_insert(0.0) += f64::from(*n);
            }
        }
        for v in out.values_mut() {
            *v /= RATE_WINDOW as f64;
        }
        out
    }
}

/// The counters of one namespace's table.
#[derive(Debug)]
pub struct LiveTable {
    entries: HashMap<u32, Compact>,
    by_state: Tally<StateKey>,
    by_src: Tally<IpAddr>,
    by_dst: Tally<IpAddr>,
    by_dport: Tally<(u8, u16)>,
    new_src: Rates<IpAddr>,
    new_dst: Rates<IpAddr>,
    new_dport: Rates<(u8, u16)>,
    started: Instant,
    /// Events applied, by kind: new, update, destroy.
    pub events: [u64; 3],
    /// Overruns of the event socket.
    pub overruns: u64,
    /// Dumps the counters were rebuilt from.
    pub resyncs: u64,
    /// The kernel's entry count (`GET_STATS`), read once a second.
    pub kernel_count: u64,
    /// The global maximum.
    pub max: u64,
    /// Per-CPU statistics summed over CPUs.
    pub stats: CpuStats,
    /// Expectations in the namespace (a dump of the expectation table,
    /// which `expect_max` keeps small).
    pub expectations: u64,
    /// Per-CPU expectation counters summed: new (matched), create, delete.
    pub expect_stats: ctctl_netlink::expect::ExpCpuStats,
    /// When the kernel figures were last read.
    pub updated: Option<Instant>,
}

impl Default for LiveTable {
    fn default() -> Self {
        LiveTable {
            entries: HashMap::new(),
            by_state: Tally::default(),
            by_src: Tally::default(),
            by_dst: Tally::default(),
            by_dport: Tally::default(),
            new_src: Rates::new(),
            new_dst: Rates::new(),
            new_dport: Rates::new(),
            started: Instant::now(),
            events: [0; 3],
            overruns: 0,
            resyncs: 0,
            kernel_count: 0,
            max: 0,
            stats: CpuStats::default(),
            expectations: 0,
            expect_stats: Default::default(),
            updated: None,
        }
    }
}

/// The figures of one moment, for rendering.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// Entries tracked (the sum of `by_state`).
    pub tracked: u64,
    /// The kernel's count.
    pub kernel_count: u64,
    /// The global maximum.
    pub max: u64,
    /// Entries per family, protocol and state, largest first.
    pub by_state: Vec<(StateKey, u64)>,
    /// The `top` sources by entries, and the rest summed.
    pub top_src: Top<IpAddr, u64>,
    /// The `top` destinations by entries.
    pub top_dst: Top<IpAddr, u64>,
    /// The `top` (protocol, destination port) pairs by entries.
    pub top_dport: Top<(u8, u16), u64>,
    /// The `top` sources by new entries per second.
    pub new_src: Top<IpAddr, f64>,
    /// The `top` destinations by new entries per second.
    pub new_dst: Top<IpAddr, f64>,
    /// The `top` destination ports by new entries per second.
    pub new_dport: Top<(u8, u16), f64>,
    /// Events applied: new, update, destroy.
    pub events: [u64; 3],
    /// Event overruns.
    pub overruns: u64,
    /// Resync dumps.
    pub resyncs: u64,
    /// Per-CPU statistics, summed.
    pub stats: CpuStats,
    /// Expectations in the namespace.
    pub expectations: u64,
    /// Expectation counters: new (matched), create, delete.
    pub expect_stats: ctctl_netlink::expect::ExpCpuStats,
}

/// The largest values of a tally and the sum of the rest.
#[derive(Debug, Clone, PartialEq)]
pub struct Top<K, V> {
    /// Largest first.
    pub top: Vec<(K, V)>,
    /// Everything else.
    pub other: V,
}

impl<K, V: Default> Default for Top<K, V> {
    fn default() -> Self {
        Top {
            top: Vec::new(),
            other: V::default(),
        }
    }
}

fn top<K: Copy + Ord, V: Copy + PartialOrd + std::iter::Sum<V> + Default>(
    items: impl Iterator<Item = (K, V)>,
    n: usize,
) -> Top<K, V> {
    let mut all: Vec<(K, V)> = items.collect();
    all.sort_unstable_by(|a, b| {
        b.1.partial_cmp(&a.1)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.0.cmp(&b.0))
    });
    let rest = if all.len() > n {
        all.split_off(n)
    } else {
        Vec::new()
    };
    Top {
        top: all,
        other: rest.into_iter().map(|(_, v)| v).sum(),
    }
}

impl LiveTable {
    fn second(&self) -> u64 {
        self.started.elapsed().as_secs()
    }

    fn insert(&mut self, id: u32, c: Compact) {
        if let Some(old) = self.entries.insert(id, c) {
            self.forget(&old);
        }
        self.by_state.add(c.key);
        if let Some(s) = c.src {
            self.by_src.add(s);
        }
        if let Some(d) = c.dst {
            self.by_dst.add(d);
        }
        if let Some(p) = c.dport {
            self.by_dport.add(p);
        }
    }

    fn forget(&mut self, c: &Compact) {
        self.by_state.sub(c.key);
        if let Some(s) = c.src {
            self.by_src.sub(s);
        }
        if let Some(d) = c.dst {
            self.by_dst.sub(d);
        }
        if let Some(p) = c.dport {
            self.by_dport.sub(p);
        }
    }

    /// Applies one event. Entries without an id (kernels before 2.6.x)
    /// are not tracked.
    pub fn apply(&mut self, kind: EventKind, f: &Flow<'_>) {
        let Some(id) = f.id else { return };
        match kind {
            EventKind::New => {
                self.events[0] += 1;
                let c = Compact::of(f);
                let now = self.second();
                if let Some(s) = c.src {
                    self.new_src.add(now, s);
                }
                if let Some(d) = c.dst {
                    self.new_dst.add(now, d);
                }
                if let Some(p) = c.dport {
                    self.new_dport.add(now, p);
                }
                self.insert(id, c);
            }
            EventKind::Update => {
                self.events[1] += 1;
                self.insert(id, Compact::of(f));
            }
            EventKind::Destroy => {
                self.events[2] += 1;
                if let Some(old) = self.entries.remove(&id) {
                    self.forget(&old);
                }
            }
        }
    }

    /// Starts over from a dump of the whole table.
    pub fn rebuild<'a>(&mut self, flows: impl IntoIterator<Item = &'a Flow<'a>>) {
        self.entries.clear();
        self.by_state = Tally::default();
        self.by_src = Tally::default();
        self.by_dst = Tally::default();
        self.by_dport = Tally::default();
        for f in flows {
            if let Some(id) = f.id {
                self.insert(id, Compact::of(f));
            }
        }
        self.resyncs += 1;
    }

    /// Entries tracked.
    pub fn tracked(&self) -> u64 {
        self.entries.len() as u64
    }

    /// The figures now, with the `n` largest of each ranking.
    pub fn snapshot(&self, n: usize) -> Snapshot {
        let now = self.second();
        let mut by_state: Vec<(StateKey, u64)> =
            self.by_state.0.iter().map(|(k, v)| (*k, *v)).collect();
        by_state.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        Snapshot {
            tracked: self.tracked(),
            kernel_count: self.kernel_count,
            max: self.max,
            by_state,
            top_src: top(self.by_src.0.iter().map(|(k, v)| (*k, *v)), n),
            top_dst: top(self.by_dst.0.iter().map(|(k, v)| (*k, *v)), n),
            top_dport: top(self.by_dport.0.iter().map(|(k, v)| (*k, *v)), n),
            new_src: top(self.new_src.per_second(now).into_iter(), n),
            new_dst: top(self.new_dst.per_second(now).into_iter(), n),
            new_dport: top(self.new_dport.per_second(now).into_iter(), n),
            events: self.events,
            overruns: self.overruns,
            resyncs: self.resyncs,
            stats: self.stats,
            expectations: self.expectations,
            expect_stats: self.expect_stats,
        }
    }
}

/// How a [`Live`] keeps its table.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    /// The longest between two resync dumps.
    pub resync_interval: Duration,
    /// The shortest between two resync dumps (a storm that overruns on
    /// every read does not turn into back-to-back dumps).
    pub min_resync: Duration,
    /// The event socket's receive buffer.
    pub buffer_size: usize,
}

impl Default for LiveOptions {
    fn default() -> Self {
        LiveOptions {
            resync_interval: Duration::from_secs(300),
            min_resync: Duration::from_secs(2),
            buffer_size: 32 << 20,
        }
    }
}

/// A table kept live by a thread of its own.
#[derive(Debug, Clone)]
pub struct Live {
    /// The namespace (`None`: the caller's).
    pub netns: Option<String>,
    /// The counters, shared with the thread.
    pub table: Arc<Mutex<LiveTable>>,
}

impl Live {
    /// Starts keeping the table of `netns` (a name or path; `None`: the
    /// calling thread's namespace). Returns once the first dump is in.
    pub fn start(netns: Option<String>, opts: LiveOptions) -> crate::Result<Live> {
        let open = || -> crate::Result<Conntrack> {
            match &netns {
                Some(ns) => Conntrack::in_netns(ns),
                None => Conntrack::open(),
            }
        };
        let mut ct = open()?;
        let ev_opts = EventOptions {
            new: true,
            update: true,
            destroy: true,
            buffer_size: opts.buffer_size,
            reliable: false,
        };
        let stream = ct.events(&ev_opts, &Filter::all())?;
        let table = Arc::new(Mutex::new(LiveTable::default()));
        resync(&mut ct, &table)?;
        refresh_kernel(&mut ct, &table)?;
        let shared = Arc::clone(&table);
        let ns_name = netns.clone();
        std::thread::Builder::new()
            .name("ctctl-live".into())
            .spawn(move || {
                if let Err(e) = run(ct, stream, &shared, &opts) {
                    tracing::error!(
                        "live table of {}: {e}",
                        ns_name.as_deref().unwrap_or("this namespace")
                    );
                }
            })
            .map_err(|e| crate::Error::Probe(format!("cannot start a thread: {e}")))?;
        Ok(Live { netns, table })
    }

    /// The figures now.
    pub fn snapshot(&self, n: usize) -> Snapshot {
        self.table
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .snapshot(n)
    }
}

fn lock(t: &Mutex<LiveTable>) -> std::sync::MutexGuard<'_, LiveTable> {
    t.lock().unwrap_or_else(|p| p.into_inner())
}

/// Dumps the table and rebuilds the counters from it (outside the lock:
/// scrapes go on meanwhile).
fn resync(ct: &mut Conntrack, table: &Mutex<LiveTable>) -> crate::Result<()> {
    let mut fresh = LiveTable::default();
    let mut flows: Vec<(u32, Compact)> = Vec::new();
    ct.for_each(&Filter::all(), |f| {
        if let Some(id) = f.id {
            flows.push((id, Compact::of(f)));
        }
        ControlFlow::Continue(())
    })?;
    for (id, c) in flows {
        fresh.insert(id, c);
    }
    let mut t = lock(table);
    t.entries = fresh.entries;
    t.by_state = fresh.by_state;
    t.by_src = fresh.by_src;
    t.by_dst = fresh.by_dst;
    t.by_dport = fresh.by_dport;
    t.resyncs += 1;
    Ok(())
}

/// Reads the kernel's count, maximum and per-CPU statistics (no dump of
/// the connection table), and the expectation table's size and counters.
fn refresh_kernel(ct: &mut Conntrack, table: &Mutex<LiveTable>) -> crate::Result<()> {
    let g = ct.stats()?;
    let mut sum = CpuStats::default();
    for c in ct.stats_cpu()? {
        sum.add(&c);
    }
    let expectations = ct.expect_count(&crate::ExpectFilter::default())?;
    let expect_stats = ct.expect_totals()?;
    let mut t = lock(table);
    t.kernel_count = u64::from(g.entries);
    t.max = g.max_entries.map_or(0, u64::from);
    t.stats = sum;
    t.expectations = expectations;
    t.expect_stats = expect_stats;
    t.updated = Some(Instant::now());
    Ok(())
}

/// Whether the counters must be rebuilt from a dump now: after an overrun,
/// when the kernel's count and the tracked entries disagreed at two checks
/// in a row (entries destroyed without an event), or when the last dump is
/// `resync_interval` old; never sooner than `min_resync` after the last.
fn resync_due(disagreed: u32, overrun: bool, since_last: Duration, opts: &LiveOptions) -> bool {
    (overrun || disagreed >= 2 || since_last >= opts.resync_interval)
        && since_last >= opts.min_resync
}

fn run(
    mut ct: Conntrack,
    mut stream: EventStream,
    table: &Mutex<LiveTable>,
    opts: &LiveOptions,
) -> crate::Result<()> {
    let tick = Duration::from_secs(1);
    let mut next_tick = Instant::now() + tick;
    let mut last_resync = Instant::now();
    let mut disagreed = 0u32;
    let mut overrun = false;
    loop {
        let left = next_tick.saturating_duration_since(Instant::now());
        let polled = {
            let mut batch: Vec<(EventKind, Flow<'static>)> = Vec::new();
            let p = stream.poll(Some(left), |ev| batch.push((ev.kind, ev.flow.into_owned())))?;
            if !batch.is_empty() {
                let mut t = lock(table);
                for (kind, f) in &batch {
                    t.apply(*kind, f);
                }
            }
            p
        };
        if polled.overrun {
            lock(table).overruns += 1;
            overrun = true;
        }
        if Instant::now() < next_tick {
            continue;
        }
        next_tick = Instant::now() + tick;
        refresh_kernel(&mut ct, table)?;
        let (kernel, tracked) = {
            let t = lock(table);
            (t.kernel_count, t.tracked())
        };
        disagreed = if kernel != tracked { disagreed + 1 } else { 0 };
        if resync_due(disagreed, overrun, last_resync.elapsed(), opts) {
            tracing::debug!(
                kernel,
                tracked,
                overrun,
                "resync: dumping the table to correct the counters"
            );
            resync(&mut ct, table)?;
            last_resync = Instant::now();
            disagreed = 0;
            overrun = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ctctl_netlink::conntrack::{proto, ProtoInfo, Tuple};

    fn flow(id: u32, src: &str, state: Option<&str>) -> Flow<'static> {
        Flow {
            family: ctctl_netlink::header::AF_INET,
            orig: Tuple {
                src: src.parse().ok(),
                dst: "10.0.0.1".parse().ok(),
                proto: Some(if state.is_some() {
                    proto::TCP
                } else {
                    proto::UDP
                }),
                src_port: Some(1000),
                dst_port: Some(80),
                ..Tuple::default()
            },
            id: Some(id),
            proto_info: state.and_then(|s| ProtoInfo::from_state_name(proto::TCP, s)),
            ..Flow::default()
        }
    }

    #[test]
    fn events_move_the_counters_and_state_changes_move_between_states() {
        let mut t = LiveTable::default();
        t.apply(EventKind::New, &flow(1, "10.1.0.1", Some("SYN_SENT")));
        t.apply(EventKind::New, &flow(2, "10.1.0.1", None));
        t.apply(EventKind::New, &flow(3, "10.1.0.2", None));
        t.apply(EventKind::Update, &flow(1, "10.1.0.1", Some("ESTABLISHED")));
        let s = t.snapshot(1);
        assert_eq!(s.tracked, 3);
        let states: Vec<(&str, u64)> = s.by_state.iter().map(|(k, n)| (k.state, *n)).collect();
        assert_eq!(states, vec![("none", 2), ("ESTABLISHED", 1)]);
        assert_eq!(s.top_src.top, vec![("10.1.0.1".parse().unwrap(), 2)]);
        assert_eq!(s.top_src.other, 1);
        t.apply(EventKind::Destroy, &flow(2, "10.1.0.1", None));
        t.apply(EventKind::Destroy, &flow(99, "10.9.9.9", None));
        let s = t.snapshot(10);
        assert_eq!(s.tracked, 2);
        assert_eq!(s.by_state.iter().map(|(_, n)| n).sum::<u64>(), 2);
        assert_eq!(s.events, [3, 1, 2]);
        // Three new entries in this second, averaged over the window.
        let rate = s
            .new_src
            .top
            .iter()
            .find(|(ip, _)| ip.to_string() == "10.1.0.1")
            .unwrap()
            .1;
        assert!((rate - 2.0 / RATE_WINDOW as f64).abs() < 1e-9, "{rate}");
    }

    #[test]
    fn resyncs_follow_drift_overruns_and_the_interval_but_not_too_often() {
        let o = LiveOptions::default();
        let s = Duration::from_secs;
        assert!(!resync_due(0, false, s(10), &o));
        assert!(
            !resync_due(1, false, s(10), &o),
            "one disagreement may be events in flight"
        );
        assert!(resync_due(2, false, s(10), &o));
        assert!(resync_due(0, true, s(10), &o));
        assert!(resync_due(0, false, o.resync_interval, &o));
        assert!(
            !resync_due(5, true, s(1), &o),
            "not twice within min_resync"
        );
    }

    #[test]
    fn a_rebuild_replaces_what_events_left() {
        let mut t = LiveTable::default();
        t.apply(EventKind::New, &flow(1, "10.1.0.1", None));
        t.apply(EventKind::New, &flow(2, "10.1.0.2", None));
        let dumped = [
            flow(2, "10.1.0.2", None),
            flow(5, "10.1.0.5", Some("TIME_WAIT")),
        ];
        t.rebuild(dumped.iter());
        let s = t.snapshot(10);
        assert_eq!(s.tracked, 2);
        assert_eq!(s.resyncs, 1);
        assert!(s
            .top_src
            .top
            .iter()
            .all(|(ip, _)| ip.to_string() != "10.1.0.1"));
    }
}
