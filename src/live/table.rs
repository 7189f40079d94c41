//! One namespace's live table: every entry's identity ([`super::identity`])
//! and state bucket, exact per-state counts, exact per-value counts
//! ([`super::counts`]) ranked by passes, and new-entry rates
//! ([`super::rates`]), kept from events.
//!
//! A ranking pass reads one shard at a time, so neither the pass nor a
//! scrape holds event handling up for more than a shard's worth (well under
//! a millisecond at a million values).

use std::collections::BinaryHeap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use ctctl_netlink::conntrack::{EventKind, Flow};
use ctctl_netlink::stats::CpuStats;

use super::compact::Map;
use super::counts::{Addrs, Tally, Top, SHARDS};
use super::identity::identity;
use super::rates::NewRates;
use super::snat::{SnatCounts, SnatUse};

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

/// What a table ranks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rankings {
    /// Original sources.
    pub src: bool,
    /// Original destinations.
    pub dst: bool,
    /// (protocol, destination port).
    pub dport: bool,
}

impl Rankings {
    /// Sources only (the exporter).
    pub const SOURCES: Rankings = Rankings {
        src: true,
        dst: false,
        dport: false,
    };
    /// Everything (`top`).
    pub const ALL: Rankings = Rankings {
        src: true,
        dst: true,
        dport: true,
    };
}

/// The rankings by entries, as the last ranking pass found them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ranked {
    /// Sources.
    pub src: Top<IpAddr, u64>,
    /// Destinations.
    pub dst: Top<IpAddr, u64>,
    /// (protocol, destination port).
    pub dport: Top<(u8, u16), u64>,
    /// NAT addresses by their fullest destination.
    pub snat: Vec<SnatUse>,
}

/// The counters of one namespace's table.
#[derive(Debug)]
pub struct LiveTable {
    ids: Map<u64, u16>,
    states: Vec<StateKey>,
    counts: Vec<u64>,
    rankings: Rankings,
    src: Addrs,
    dst: Addrs,
    dport: Tally<u32>,
    snat: SnatCounts,
    new_src: NewRates<IpAddr>,
    new_dst: NewRates<IpAddr>,
    new_dport: NewRates<(u8, u16)>,
    started: Instant,
    /// The last ranking pass's result.
    pub ranked: Arc<Ranked>,
    /// Whether the rankings changed since the last pass.
    pub dirty: bool,
    /// Events applied, by kind: new, update, destroy.
    pub events: [u64; 3],
    /// Overruns of the event socket.
    pub overruns: u64,
    /// Dumps the counters were rebuilt from.
    pub resyncs: u64,
    /// The kernel's entry count (`GET_STATS`).
    pub kernel_count: u64,
    /// The global maximum.
    pub max: u64,
    /// Per-CPU statistics summed over CPUs.
    pub stats: CpuStats,
    /// Expectations in the namespace.
    pub expectations: u64,
    /// Per-CPU expectation counters summed: new (matched), create, delete.
    pub expect_stats: ctctl_netlink::expect::ExpCpuStats,
    /// When the kernel figures were last read.
    pub updated: Option<Instant>,
}

impl LiveTable {
    /// An empty table keeping `rankings`, with room for `entries`.
    pub fn new(rankings: Rankings, entries: usize) -> LiveTable {
        LiveTable {
            ids: Map::with_capacity(entries),
            states: Vec::new(),
            counts: Vec::new(),
            rankings,
            src: Addrs::new(),
            dst: Addrs::new(),
            dport: Tally::new(),
            snat: SnatCounts::new(None),
            new_src: NewRates::new(),
            new_dst: NewRates::new(),
            new_dport: NewRates::new(),
            started: Instant::now(),
            ranked: Arc::new(Ranked::default()),
            dirty: true,
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

    fn second(&self) -> u64 {
        self.started.elapsed().as_secs()
    }

    fn bucket(&mut self, k: StateKey) -> u16 {
        match self.states.iter().position(|s| *s == k) {
            Some(i) => i as u16,
            None => {
                self.states.push(k);
                self.counts.push(0);
                (self.states.len() - 1) as u16
            }
        }
    }

    fn count_values(&mut self, f: &Flow<'_>, add: bool) {
        let r = self.rankings;
        let port = f
            .orig
            .dst_port
            .map(|p| u32::from(f.orig.proto.unwrap_or(0)) << 16 | u32::from(p));
        if add {
            self.snat.add(f);
            if let (true, Some(ip)) = (r.src, f.orig.src) {
                self.src.add(ip);
            }
            if let (true, Some(ip)) = (r.dst, f.orig.dst) {
                self.dst.add(ip);
            }
            if let (true, Some(p)) = (r.dport, port) {
                self.dport.add(p);
            }
        } else {
            self.snat.sub(f);
            if let (true, Some(ip)) = (r.src, f.orig.src) {
                self.src.sub(ip);
            }
            if let (true, Some(ip)) = (r.dst, f.orig.dst) {
                self.dst.sub(ip);
            }
            if let (true, Some(p)) = (r.dport, port) {
                self.dport.sub(p);
            }
        }
        self.dirty = true;
    }

    /// The same table counting SNAT port use against `range` (the NAT
    /// rules' port range; `None`: the kernel's automatic ranges).
    pub fn with_nat_range(
        mut self,
        range: Option<crate::select::criteria::PortRange>,
    ) -> LiveTable {
        self.snat = SnatCounts::new(range);
        self
    }

    /// Counts an entry from a dump (no event counted).
    pub fn insert(&mut self, f: &Flow<'_>) {
        let b = self.bucket(StateKey::of(f));
        match self.ids.insert(identity(f), b) {
            Some(old) => self.counts[old as usize] -= 1,
            None => self.count_values(f, true),
        }
        self.counts[b as usize] += 1;
    }

    /// Applies one event.
    pub fn apply(&mut self, kind: EventKind, f: &Flow<'_>) {
        match kind {
            EventKind::New | EventKind::Update => {
                if kind == EventKind::New {
                    self.events[0] += 1;
                    let now = self.second();
                    let r = self.rankings;
                    if let (true, Some(ip)) = (r.src, f.orig.src) {
                        self.new_src.add(now, ip);
                    }
                    if let (true, Some(ip)) = (r.dst, f.orig.dst) {
                        self.new_dst.add(now, ip);
                    }
                    if let (true, Some(p)) = (r.dport, f.orig.dst_port) {
                        self.new_dport.add(now, (f.orig.proto.unwrap_or(0), p));
                    }
                } else {
                    self.events[1] += 1;
                }
                self.insert(f);
            }
            EventKind::Destroy => {
                self.events[2] += 1;
                if let Some(old) = self.ids.remove(identity(f)) {
                    self.counts[old as usize] -= 1;
                    self.count_values(f, false);
                }
            }
        }
    }

    /// Takes over the event-independent figures of `old` (counters,
    /// kernel figures, rate windows) after a rebuild from a dump.
    pub fn carry_over(&mut self, old: &LiveTable) {
        self.events = old.events;
        self.overruns = old.overruns;
        self.resyncs = old.resyncs + 1;
        self.kernel_count = old.kernel_count;
        self.max = old.max;
        self.stats = old.stats;
        self.expectations = old.expectations;
        self.expect_stats = old.expect_stats;
        self.updated = old.updated;
        self.started = old.started;
        self.new_src = old.new_src.clone();
        self.new_dst = old.new_dst.clone();
        self.new_dport = old.new_dport.clone();
        self.ranked = Arc::clone(&old.ranked);
    }

    /// Entries tracked.
    pub fn tracked(&self) -> u64 {
        self.ids.len() as u64
    }

    /// Bytes of the per-entry and per-value state.
    pub fn heap_bytes(&self) -> usize {
        self.ids.heap_bytes()
            + self.src.v4.heap_bytes()
            + self.src.v6.heap_bytes()
            + self.dst.v4.heap_bytes()
            + self.dst.v6.heap_bytes()
            + self.dport.heap_bytes()
            + self.snat.groups.heap_bytes()
    }

    /// Entries per family, protocol and state, largest first.
    pub fn by_state(&self) -> Vec<(StateKey, u64)> {
        let mut v: Vec<(StateKey, u64)> = self
            .states
            .iter()
            .zip(&self.counts)
            .filter(|(_, n)| **n > 0)
            .map(|(k, n)| (*k, *n))
            .collect();
        v.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v
    }

    /// The figures now, with the rankings of the last pass.
    pub fn snapshot(&mut self, n: usize) -> Snapshot {
        let now = self.second();
        self.new_src.roll(now);
        self.new_dst.roll(now);
        self.new_dport.roll(now);
        let trim = |t: &Top<IpAddr, u64>| -> Top<IpAddr, u64> {
            let mut t = t.clone();
            if t.top.len() > n {
                let rest: u64 = t.top.split_off(n).iter().map(|(_, c)| c).sum();
                t.other += rest;
            }
            t
        };
        let mut dport = self.ranked.dport.clone();
        if dport.top.len() > n {
            let rest: u64 = dport.top.split_off(n).iter().map(|(_, c)| c).sum();
            dport.other += rest;
        }
        Snapshot {
            tracked: self.tracked(),
            kernel_count: self.kernel_count,
            max: self.max,
            by_state: self.by_state(),
            top_src: trim(&self.ranked.src),
            top_dst: trim(&self.ranked.dst),
            top_dport: dport,
            snat: self.ranked.snat.clone(),
            new_src: self.new_src.top(n),
            new_dst: self.new_dst.top(n),
            new_dport: self.new_dport.top(n),
            events: self.events,
            overruns: self.overruns,
            resyncs: self.resyncs,
            stats: self.stats,
            expectations: self.expectations,
            expect_stats: self.expect_stats,
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
    /// NAT addresses by their fullest destination (the ranking's `n`, and
    /// the rest as `snat: None`).
    pub snat: Vec<SnatUse>,
}

/// A ranking pass over a table's shards, one shard at a time (the caller
/// locks the table around each [`RankPass::shard`] call).
#[derive(Debug)]
pub struct RankPass {
    n: usize,
    snat: std::collections::HashMap<u16, (f64, u64)>,
    src: Heap<IpAddr>,
    dst: Heap<IpAddr>,
    dport: Heap<(u8, u16)>,
}

#[derive(Debug)]
struct Heap<K: Ord> {
    heap: BinaryHeap<std::cmp::Reverse<(u64, K)>>,
    total: u64,
}

impl<K: Ord + Copy> Heap<K> {
    fn new() -> Self {
        Heap {
            heap: BinaryHeap::new(),
            total: 0,
        }
    }

    #[inline]
    fn offer(&mut self, n: usize, k: K, c: u64) {
        self.total += c;
        if self.heap.len() < n {
            self.heap.push(std::cmp::Reverse((c, k)));
        } else if let Some(std::cmp::Reverse((min, _))) = self.heap.peek() {
            if c > *min {
                self.heap.pop();
                self.heap.push(std::cmp::Reverse((c, k)));
            }
        }
    }

    fn finish(self) -> Top<K, u64> {
        let mut top: Vec<(K, u64)> = self
            .heap
            .into_iter()
            .map(|std::cmp::Reverse((c, k))| (k, c))
            .collect();
        top.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let shown: u64 = top.iter().map(|(_, c)| c).sum();
        Top {
            top,
            other: self.total.saturating_sub(shown),
        }
    }
}

impl RankPass {
    /// A pass keeping the `n` largest of each ranking.
    pub fn new(n: usize) -> RankPass {
        RankPass {
            n,
            snat: std::collections::HashMap::new(),
            src: Heap::new(),
            dst: Heap::new(),
            dport: Heap::new(),
        }
    }

    /// Reads shard `i` of `t`.
    pub fn shard(&mut self, t: &LiveTable, i: usize) {
        let n = self.n;
        for (k, c) in t.src.v4.shards[i].iter() {
            self.src.offer(n, IpAddr::V4(k.into()), u64::from(c));
        }
        for (k, c) in t.src.v6.shards[i].iter() {
            self.src.offer(n, IpAddr::V6(k.into()), u64::from(c));
        }
        for (k, c) in t.dst.v4.shards[i].iter() {
            self.dst.offer(n, IpAddr::V4(k.into()), u64::from(c));
        }
        for (k, c) in t.dst.v6.shards[i].iter() {
            self.dst.offer(n, IpAddr::V6(k.into()), u64::from(c));
        }
        for (k, c) in t.dport.shards[i].iter() {
            self.dport
                .offer(n, ((k >> 16) as u8, k as u16), u64::from(c));
        }
        t.snat.rank_shard(i, &mut self.snat);
    }

    /// The rankings found (`t` names the NAT addresses).
    pub fn finish(self, t: &LiveTable) -> Ranked {
        Ranked {
            src: self.src.finish(),
            dst: self.dst.finish(),
            dport: self.dport.finish(),
            snat: t.snat.finish(self.snat, self.n),
        }
    }
}

/// Ranks a table at once (tests and small tables).
pub fn rank_now(t: &mut LiveTable, n: usize) {
    let mut pass = RankPass::new(n);
    for i in 0..SHARDS {
        pass.shard(t, i);
    }
    t.ranked = Arc::new(pass.finish(t));
    t.dirty = false;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::rates::{RATE_COUNTERS, RATE_WINDOW};
    use ctctl_netlink::conntrack::{proto, ProtoInfo, Tuple};

    fn flow(id: u32, src: &str, sport: u16, state: Option<&str>) -> Flow<'static> {
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
                src_port: Some(sport),
                dst_port: Some(80),
                ..Tuple::default()
            },
            id: Some(id),
            proto_info: state.and_then(|s| ProtoInfo::from_state_name(proto::TCP, s)),
            ..Flow::default()
        }
    }

    #[test]
    fn tallies_of_sequential_addresses_do_not_cluster() {
        // The shards once took the same hash bits the maps place keys by:
        // a million sources took 48 s to count instead of a fraction of one.
        let mut t: Tally<u32> = Tally::new();
        for i in 0..200_000u32 {
            t.add(0x0a00_0000 + i);
        }
        let worst = t.shards.iter().map(Map::longest_probe).max().unwrap();
        assert!(worst < 100, "a key {worst} slots from home");
        let mut ports: Tally<u32> = Tally::new();
        for p in 0..65_536u32 {
            ports.add(6 << 16 | p);
        }
        let worst = ports.shards.iter().map(Map::longest_probe).max().unwrap();
        assert!(worst < 100, "a port {worst} slots from home");
    }

    #[test]
    fn events_move_the_counters_and_state_changes_move_between_states() {
        let mut t = LiveTable::new(Rankings::ALL, 0);
        t.apply(EventKind::New, &flow(1, "10.1.0.1", 1, Some("SYN_SENT")));
        t.apply(EventKind::New, &flow(2, "10.1.0.1", 2, None));
        t.apply(EventKind::New, &flow(3, "10.1.0.2", 3, None));
        t.apply(
            EventKind::Update,
            &flow(1, "10.1.0.1", 1, Some("ESTABLISHED")),
        );
        rank_now(&mut t, 1);
        let s = t.snapshot(1);
        assert_eq!(s.tracked, 3);
        let states: Vec<(&str, u64)> = s.by_state.iter().map(|(k, n)| (k.state, *n)).collect();
        assert_eq!(states, vec![("none", 2), ("ESTABLISHED", 1)]);
        assert_eq!(s.top_src.top, vec![("10.1.0.1".parse().unwrap(), 2)]);
        assert_eq!(s.top_src.other, 1);
        t.apply(EventKind::Destroy, &flow(2, "10.1.0.1", 2, None));
        t.apply(EventKind::Destroy, &flow(99, "10.9.9.9", 9, None));
        rank_now(&mut t, 10);
        let s = t.snapshot(10);
        assert_eq!(s.tracked, 2);
        assert_eq!(s.by_state.iter().map(|(_, n)| n).sum::<u64>(), 2);
        assert_eq!(s.events, [3, 1, 2]);
    }

    #[test]
    fn entries_with_the_same_id_are_still_two() {
        // CTA_ID is a 32-bit hash: two live entries may share it.
        let mut t = LiveTable::new(Rankings::SOURCES, 0);
        t.apply(EventKind::New, &flow(7, "10.1.0.1", 1, None));
        t.apply(EventKind::New, &flow(7, "10.1.0.2", 2, None));
        assert_eq!(t.tracked(), 2);
        t.apply(EventKind::Destroy, &flow(7, "10.1.0.1", 1, None));
        assert_eq!(t.tracked(), 1);
        assert_eq!(t.by_state()[0].1, 1);
    }

    #[test]
    fn space_saving_keeps_the_heavy_values_within_its_bound() {
        let mut r: NewRates<u32> = NewRates::new();
        // 10 heavy values of 1,000 new entries and 20,000 of one each.
        for i in 0..10u32 {
            for _ in 0..1000 {
                r.add(0, i);
            }
        }
        for i in 100..20_100u32 {
            r.add(1, i);
        }
        r.roll(RATE_WINDOW);
        let top = r.top(10);
        let bound = 30_000.0 / RATE_COUNTERS as f64 / RATE_WINDOW as f64;
        for (k, rate) in &top.top {
            assert!(*k < 10, "{k}");
            assert!(*rate >= 100.0 && *rate <= 100.0 + bound, "{rate}");
        }
    }
}
