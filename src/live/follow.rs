//! Following the tables of many network namespaces with a bounded number
//! of threads and descriptors: one event loop (`epoll`) reads every
//! namespace's event socket, one worker dumps (at start and to resync),
//! reads the kernel's figures, ranks, and — with `--all-netns` — finds
//! namespaces as they come and releases them as they go.
//!
//! Per namespace: two sockets (the event socket and a request socket),
//! both opened inside it once and never again; no descriptor of the
//! namespace itself is kept. A namespace no process is in and no bind
//! mount names ([`super::discover`]) is released within a scan period:
//! its sockets are closed, so the kernel can free it and its entries.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};

use ctctl_netlink::Socket;

use super::counts::SHARDS;
use super::discover::{self, NsKey};
use super::table::{LiveTable, RankPass, Rankings, Snapshot};
use crate::conntrack::Conntrack;
use crate::events::{EventOptions, RecvBatch};

/// Which namespaces to follow.
#[derive(Debug, Clone)]
pub enum Targets {
    /// These: a label and a name or path each (`None`: this process's).
    Fixed(Vec<(String, Option<String>)>),
    /// Every namespace of the host, as they come and go.
    All,
}

/// How tables are kept.
#[derive(Debug, Clone)]
pub struct FollowOptions {
    /// What to rank.
    pub rankings: Rankings,
    /// How many values the rankings keep.
    pub top: usize,
    /// The longest between two resync dumps of a namespace.
    pub resync_interval: Duration,
    /// The shortest between two resync dumps of a namespace.
    pub min_resync: Duration,
    /// The event sockets' receive buffer (of one namespace).
    pub buffer_size: usize,
    /// How often namespaces are looked for (`All`).
    pub scan_every: Duration,
    /// How often the kernel's figures are read, for a namespace with
    /// events since the last read, and without.
    pub refresh_busy: Duration,
    /// See `refresh_busy`.
    pub refresh_quiet: Duration,
    /// The kubelet's pod log directory: namespaces of pods get their pod
    /// (`None`: no pod lookup).
    pub pod_logs: Option<std::path::PathBuf>,
    /// The NAT rules' port range (`None`: the kernel's automatic ranges).
    pub nat_range: Option<crate::select::criteria::PortRange>,
}

impl Default for FollowOptions {
    fn default() -> Self {
        FollowOptions {
            rankings: Rankings::SOURCES,
            top: 10,
            resync_interval: Duration::from_secs(300),
            min_resync: Duration::from_secs(2),
            buffer_size: 32 << 20,
            scan_every: Duration::from_secs(5),
            refresh_busy: Duration::from_secs(2),
            refresh_quiet: Duration::from_secs(10),
            pod_logs: None,
            nat_range: None,
        }
    }
}

/// When to resync, from the drift between the kernel's count and the
/// tracked entries: the kernel also counts entries not yet confirmed and
/// entries dying, and events in flight lag, so only a drift that stays
/// above a tolerance over a window of reads calls for a dump.
///
/// A quiet table is judged sooner. With `nf_conntrack_events=2` (the
/// kernel's default) an entry created while its namespace had no event
/// listener gets no event cache and never sends an event: the entries a
/// table held before the exporter subscribed change and die in silence.
/// A drift that stays over a read interval in which no event came cannot
/// be events in flight, so two such reads call for a dump, however small
/// the drift.
#[derive(Debug, Default)]
struct Drift {
    window: VecDeque<u64>,
}

/// Why a drift calls for a dump.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Why {
    /// Beyond the tolerance over the whole window.
    Drift,
    /// Off over a quiet interval: entries dying without events. Such a
    /// dump waits at least [`SILENT_SPACING`] times the last dump took,
    /// so that a table whose old entries keep expiring in silence costs
    /// at most about 1% of a core in dumps (a second a dump at a million
    /// entries: one every 100 s).
    Silent,
}

/// See [`Why::Silent`].
const SILENT_SPACING: u32 = 100;

/// Reads of the kernel's count a drift must persist over.
const DRIFT_WINDOW: usize = 5;

impl Drift {
    fn tolerance(count: u64) -> u64 {
        (count / 1000).max(64)
    }

    /// Notes a read (`quiet`: no event came since the previous one);
    /// whether the drift calls for a dump, and why.
    fn note(&mut self, kernel: u64, tracked: u64, quiet: bool) -> Option<Why> {
        let off = kernel.abs_diff(tracked);
        let silent = quiet && off > 0 && self.drifting();
        self.window.push_back(off);
        if self.window.len() > DRIFT_WINDOW {
            self.window.pop_front();
        }
        let tol = Drift::tolerance(kernel);
        if self.window.len() == DRIFT_WINDOW && self.window.iter().all(|d| *d > tol) {
            Some(Why::Drift)
        } else if silent {
            Some(Why::Silent)
        } else {
            None
        }
    }

    /// Whether the last read was off (the next comes sooner).
    fn drifting(&self) -> bool {
        self.window.back().is_some_and(|d| *d > 0)
    }

    fn reset(&mut self) {
        self.window.clear();
    }
}

#[derive(Debug)]
struct Sched {
    dumped: Option<Instant>,
    need_resync: bool,
    /// The resync is owed only to a quiet drift ([`Why::Silent`]).
    silent: bool,
    refreshed: Option<Instant>,
    events_at_refresh: u64,
    drift: Drift,
    ranked: Option<Instant>,
    backoff: Duration,
    dump_took: Duration,
}

/// One followed namespace.
#[derive(Debug)]
pub struct Ns {
    /// Its nsfs device and inode.
    pub key: NsKey,
    /// Its label.
    pub label: String,
    /// A process in it, when one is known (labels, pods).
    pub pid: Option<u32>,
    /// The Kubernetes pod it belongs to, when it is a pod's.
    pub pod: Option<super::pods::Pod>,
    /// A pod's local addresses (for naming sources in other tables).
    pub addrs: Vec<std::net::IpAddr>,
    /// The counters.
    pub table: Mutex<LiveTable>,
    events: Mutex<(Socket, bool)>,
    ctl: Mutex<Conntrack>,
    sched: Mutex<Sched>,
    token: u64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Ns {
    /// The figures now, with the `n` largest of each ranking.
    pub fn snapshot(&self, n: usize) -> Snapshot {
        lock(&self.table).snapshot(n)
    }

    /// The figures now, and the bytes the table keeps.
    pub fn snapshot_and_bytes(&self, n: usize) -> (Snapshot, usize) {
        let mut t = lock(&self.table);
        (t.snapshot(n), t.heap_bytes())
    }
}

struct Inner {
    opts: FollowOptions,
    watch: Option<nix::sys::inotify::Inotify>,
    targets: Targets,
    nss: RwLock<Vec<Arc<Ns>>>,
    tokens: Mutex<HashMap<u64, Arc<Ns>>>,
    epoll: Epoll,
    next_token: AtomicU64,
    stop: AtomicBool,
    own: Option<NsKey>,
    last_scan: Mutex<discover::ScanStats>,
    /// Every namespace found at start has been dumped once.
    ready: AtomicBool,
}

/// The tables of a set of namespaces, kept by two threads. The threads
/// stop, and every socket closes, when the last clone is dropped.
#[derive(Clone)]
pub struct Follower {
    inner: Arc<Inner>,
    _stop: Arc<StopOnDrop>,
}

struct StopOnDrop(Arc<Inner>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.stop.store(true, Ordering::Relaxed);
    }
}

impl std::fmt::Debug for Follower {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Follower")
            .field("namespaces", &self.namespaces().len())
            .finish()
    }
}

impl Follower {
    /// Starts following `targets`. Fixed targets are opened and dumped
    /// before this returns (an error names the one that failed); with
    /// `All`, the worker finds and dumps them as it starts, each one that
    /// cannot be reached skipped.
    ///
    /// # Errors
    ///
    /// [`Error::Netlink`](crate::error::Error::Netlink) when the kernel refuses a
    /// request or the socket fails (the errno and the operation are kept).
    pub fn start(targets: Targets, opts: FollowOptions) -> crate::error::Result<Follower> {
        let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)
            .map_err(|e| crate::error::Error::Probe(format!("epoll: {e}")))?;
        let watch = match targets {
            Targets::All => watch_named(),
            Targets::Fixed(_) => None,
        };
        let inner = Arc::new(Inner {
            opts,
            watch,
            targets: targets.clone(),
            nss: RwLock::new(Vec::new()),
            tokens: Mutex::new(HashMap::new()),
            epoll,
            next_token: AtomicU64::new(1),
            stop: AtomicBool::new(false),
            own: discover::own(),
            last_scan: Mutex::new(discover::ScanStats::default()),
            ready: AtomicBool::new(false),
        });
        match &targets {
            Targets::Fixed(list) => {
                for (label, path) in list {
                    let p = path.as_deref().map_or_else(
                        || std::path::PathBuf::from("/proc/self/ns/net"),
                        crate::netns::resolve,
                    );
                    let k = std::fs::metadata(&p)
                        .map(|m| {
                            use std::os::unix::fs::MetadataExt;
                            (m.dev(), m.ino())
                        })
                        .map_err(|_| {
                            crate::error::Error::Netns(crate::netns::NetnsError::NotFound {
                                name: label.clone(),
                                path: p.clone(),
                            })
                        })?;
                    let ns = open(&inner, k, label.clone(), path.clone(), None)?;
                    resync(&inner, &ns)?;
                }
            }
            // Found and dumped by the worker, so that starting (and a
            // signal meanwhile) does not wait for every namespace's dump.
            Targets::All => {}
        }
        let loop_inner = Arc::clone(&inner);
        std::thread::Builder::new()
            .name("ctctl-events".into())
            .spawn(move || event_loop(&loop_inner))
            .map_err(|e| crate::error::Error::Probe(format!("cannot start a thread: {e}")))?;
        let work_inner = Arc::clone(&inner);
        std::thread::Builder::new()
            .name("ctctl-worker".into())
            .spawn(move || worker(&work_inner))
            .map_err(|e| crate::error::Error::Probe(format!("cannot start a thread: {e}")))?;
        Ok(Follower {
            _stop: Arc::new(StopOnDrop(Arc::clone(&inner))),
            inner,
        })
    }

    /// Ranks every namespace's table now (the worker does it at most once
    /// a second when the table changed).
    pub fn rank_now(&self) {
        for ns in self.namespaces() {
            lock(&ns.table).dirty = false;
            rank(&ns, self.inner.opts.top);
            lock(&ns.sched).ranked = Some(Instant::now());
        }
    }

    /// The namespaces followed now.
    pub fn namespaces(&self) -> Vec<Arc<Ns>> {
        self.inner
            .nss
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The last namespace scan's figures (`All`).
    pub fn last_scan(&self) -> discover::ScanStats {
        lock(&self.inner.last_scan).clone()
    }

    /// Whether every namespace found at start has been dumped once (the
    /// figures are whole). Once true it stays true: a namespace found
    /// later starts from its own dump a moment after.
    pub fn ready(&self) -> bool {
        self.inner.ready.load(Ordering::Relaxed)
    }

    /// Stops the threads; the sockets close as the namespaces drop.
    pub fn stop(&self) {
        self.inner.stop.store(true, Ordering::Relaxed);
    }
}

/// Opens a namespace's two sockets (inside it, on a short-lived thread)
/// and registers it, paused until its first dump.
fn open(
    inner: &Arc<Inner>,
    key: NsKey,
    label: String,
    path: Option<String>,
    pid: Option<u32>,
) -> crate::error::Result<Arc<Ns>> {
    let ev_opts = EventOptions {
        new: true,
        update: true,
        destroy: true,
        buffer_size: inner.opts.buffer_size,
        reliable: false,
    };
    let make = move || -> crate::error::Result<(Socket, Conntrack)> {
        let ev = Socket::open()?;
        crate::events::subscribe_socket(&ev, &ev_opts, &crate::select::filter::Filter::all())?;
        Ok((ev, Conntrack::open()?))
    };
    let (ev, ctl) = match &path {
        Some(p) => crate::netns::run_in(p, make)??,
        None => make()?,
    };
    let token = inner.next_token.fetch_add(1, Ordering::Relaxed);
    let pod = match (pid, &inner.opts.pod_logs) {
        (Some(pid), Some(dir)) => super::pods::PodDirectory::read(dir).of_pid(pid),
        _ => None,
    };
    let addrs = match (pid, &pod) {
        (Some(pid), Some(_)) => super::pods::addresses(pid),
        _ => Vec::new(),
    };
    let ns = Arc::new(Ns {
        key,
        label,
        pid,
        pod,
        addrs,
        table: Mutex::new(
            LiveTable::new(inner.opts.rankings, 0).with_nat_range(inner.opts.nat_range),
        ),
        events: Mutex::new((ev, true)),
        ctl: Mutex::new(ctl),
        sched: Mutex::new(Sched {
            dumped: None,
            need_resync: true,
            silent: false,
            refreshed: None,
            events_at_refresh: 0,
            drift: Drift::default(),
            ranked: None,
            backoff: inner.opts.min_resync,
            dump_took: Duration::ZERO,
        }),
        token,
    });
    lock(&inner.tokens).insert(token, Arc::clone(&ns));
    inner
        .nss
        .write()
        .unwrap_or_else(|p| p.into_inner())
        .push(Arc::clone(&ns));
    Ok(ns)
}

/// Stops following a namespace: out of the loop and the list, its
/// sockets closed once the last reference (a scrape's) is gone.
fn release(inner: &Inner, ns: &Arc<Ns>) {
    {
        let ev = lock(&ns.events);
        let _ = inner.epoll.delete(ev.0.as_fd());
    }
    lock(&inner.tokens).remove(&ns.token);
    inner
        .nss
        .write()
        .unwrap_or_else(|p| p.into_inner())
        .retain(|n| !Arc::ptr_eq(n, ns));
    tracing::debug!("released namespace {}", ns.label);
}

/// Dumps the namespace's table into a fresh one and swaps it in, with its
/// event socket out of the loop meanwhile (its events wait in the
/// socket's buffer and apply to the fresh table after).
fn resync(inner: &Inner, ns: &Arc<Ns>) -> crate::error::Result<()> {
    let first = lock(&ns.sched).dumped.is_none();
    {
        let mut ev = lock(&ns.events);
        if !ev.1 {
            let _ = inner.epoll.delete(ev.0.as_fd());
            ev.1 = true;
        }
    }
    let result = (|| -> crate::error::Result<()> {
        let mut ctl = lock(&ns.ctl);
        let count = ctl.stats().map(|s| s.entries as usize).ok();
        let hint = count.unwrap_or(0);
        let mut fresh = LiveTable::new(inner.opts.rankings, hint + hint / 8)
            .with_nat_range(inner.opts.nat_range);
        // A dump walks the kernel's whole hash table, every namespace's
        // entries included (tens of milliseconds at 100k entries, a second
        // at a million): a namespace found empty (a pod's, seen as it is
        // made) is not dumped; its entries come as events.
        if !(first && count == Some(0)) {
            ctl.for_each(&crate::select::filter::Filter::all(), |f| {
                fresh.insert(f);
                std::ops::ControlFlow::Continue(())
            })?;
        }
        let mut t = lock(&ns.table);
        fresh.carry_over(&t);
        if first {
            fresh.resyncs = 0;
        }
        fresh.dirty = true;
        *t = fresh;
        Ok(())
    })();
    {
        let mut s = lock(&ns.sched);
        s.dumped = Some(Instant::now());
        s.need_resync = false;
        s.silent = false;
        s.drift.reset();
    }
    let mut ev = lock(&ns.events);
    let flags = EpollFlags::EPOLLIN;
    let _ = inner
        .epoll
        .add(ev.0.as_fd(), EpollEvent::new(flags, ns.token));
    ev.1 = false;
    drop(ev);
    if first && result.is_ok() {
        // The kernel's figures from the start, not from the first refresh.
        refresh(ns)?;
        lock(&ns.sched).refreshed = Some(Instant::now());
    }
    result
}

fn event_loop(inner: &Inner) {
    let mut batch = RecvBatch::new();
    let mut ready = vec![EpollEvent::empty(); 64];
    while !inner.stop.load(Ordering::Relaxed) {
        let n = match inner.epoll.wait(&mut ready, EpollTimeout::from(250u16)) {
            Ok(n) => n,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => {
                tracing::error!("event loop: {e}");
                return;
            }
        };
        for ev in &ready[..n] {
            let Some(ns) = lock(&inner.tokens).get(&ev.data()).cloned() else {
                continue;
            };
            let io = lock(&ns.events);
            if io.1 {
                continue;
            }
            // Up to 16 batches of 64 messages per turn: a storm in one
            // namespace does not starve the others.
            for _ in 0..16 {
                let mut t = lock(&ns.table);
                let polled = match batch.read(&io.0, |e| t.apply(e.kind, &e.flow)) {
                    Ok(p) => p,
                    Err(e) => {
                        tracing::debug!("events of {}: {e}", ns.label);
                        break;
                    }
                };
                if polled.overrun {
                    t.overruns += 1;
                    drop(t);
                    lock(&ns.sched).need_resync = true;
                    continue;
                }
                if polled.received < crate::events::BATCH {
                    break;
                }
            }
        }
        if n > 0 {
            // Let events gather before the next read: waking for every
            // few events cost more in context switches than the events
            // themselves (12 µs an event in a storm, 42% of it switching).
            // The sockets' buffers hold far more than a millisecond's worth.
            std::thread::sleep(COALESCE);
        }
    }
}

/// How long the event loop lets events gather after a read.
const COALESCE: Duration = Duration::from_millis(2);

/// Reads the kernel's figures of a namespace (no dump of the table).
fn refresh(ns: &Ns) -> crate::error::Result<()> {
    let mut ctl = lock(&ns.ctl);
    let g = ctl.stats()?;
    let mut sum = ctctl_netlink::stats::CpuStats::default();
    for c in ctl.stats_cpu()? {
        sum.add(&c);
    }
    let expectations = ctl.expect_count(&crate::expect::ExpectFilter::default())?;
    let expect_stats = ctl.expect_totals()?;
    drop(ctl);
    let mut t = lock(&ns.table);
    t.kernel_count = u64::from(g.entries);
    t.max = g.max_entries.map_or(0, u64::from);
    t.stats = sum;
    t.expectations = expectations;
    t.expect_stats = expect_stats;
    t.updated = Some(Instant::now());
    Ok(())
}

/// Ranks a namespace's table one shard at a time (the table is locked
/// per shard only).
fn rank(ns: &Ns, n: usize) {
    let mut pass = RankPass::new(n);
    for i in 0..SHARDS {
        let t = lock(&ns.table);
        pass.shard(&t, i);
    }
    let mut t = lock(&ns.table);
    t.ranked = Arc::new(pass.finish(&t));
}

fn scan(inner: &Arc<Inner>) {
    let (found, stats) = discover::scan();
    *lock(&inner.last_scan) = stats;
    let followed: BTreeMap<NsKey, Arc<Ns>> = inner
        .nss
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .map(|n| (n.key, Arc::clone(n)))
        .collect();
    for (k, ns) in &followed {
        if !found.contains_key(k) && Some(*k) != inner.own {
            release(inner, ns);
        }
    }
    for (k, f) in found {
        if followed.contains_key(&k) {
            continue;
        }
        if inner.stop.load(Ordering::Relaxed) {
            return;
        }
        let path = if Some(k) == inner.own {
            None
        } else {
            Some(f.path.clone())
        };
        match open(inner, k, f.label.clone(), path, f.pid) {
            Ok(ns) => {
                if let Err(e) = resync(inner, &ns) {
                    tracing::debug!("namespace {}: first dump: {e}", f.label);
                }
            }
            Err(e) => tracing::debug!("namespace {} ({}): {e}", f.label, f.path),
        }
    }
}

/// For fixed targets: a namespace that vanished (an `ip netns del` of a
/// followed name, its last process gone) is released too.
fn check_fixed(inner: &Inner) {
    let (found, _) = discover::scan();
    let nss = inner.nss.read().unwrap_or_else(|p| p.into_inner()).clone();
    for ns in nss {
        if Some(ns.key) != inner.own && !found.contains_key(&ns.key) {
            release(inner, &ns);
        }
    }
}

/// Watches /run/netns (where `ip netns` and container runtimes put the
/// namespaces they name), so a named namespace is found as it is made,
/// still empty, rather than at the next scan.
fn watch_named() -> Option<nix::sys::inotify::Inotify> {
    use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
    let ino = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC).ok()?;
    let flags = AddWatchFlags::IN_CREATE | AddWatchFlags::IN_DELETE | AddWatchFlags::IN_MOVED_TO;
    match ino.add_watch(crate::netns::NETNS_RUN_DIR, flags) {
        Ok(_) => Some(ino),
        Err(e) => {
            tracing::debug!("not watching {}: {e}", crate::netns::NETNS_RUN_DIR);
            None
        }
    }
}

fn worker(inner: &Arc<Inner>) {
    let mut last_scan: Option<Instant> = None;
    // Scans still owed to a change in /run/netns (`ip netns add` makes the
    // file before it mounts the namespace on it: look again shortly).
    let mut owed = 0u32;
    while !inner.stop.load(Ordering::Relaxed) {
        if last_scan.is_some() {
            std::thread::sleep(Duration::from_millis(100));
        }
        if let Some(w) = &inner.watch {
            if w.read_events().is_ok_and(|e| !e.is_empty()) {
                owed = 1;
            }
        }
        let due = last_scan.is_none_or(|l| l.elapsed() >= inner.opts.scan_every);
        if due || (owed > 0 && last_scan.is_some_and(|l| l.elapsed() >= Duration::from_millis(100)))
        {
            owed = owed.saturating_sub(1);
            last_scan = Some(Instant::now());
            match inner.targets {
                Targets::All => scan(inner),
                Targets::Fixed(_) => check_fixed(inner),
            }
        }
        let nss = inner.nss.read().unwrap_or_else(|p| p.into_inner()).clone();
        // Until ready: whether every namespace has been dumped once.
        let mut all_dumped = !inner.ready.load(Ordering::Relaxed);
        for ns in &nss {
            let ns = Arc::clone(ns);
            let (events, dirty) = {
                let t = lock(&ns.table);
                (t.events.iter().sum::<u64>(), t.dirty)
            };
            let (refresh_due, resync_due, rank_due) = {
                let s = lock(&ns.sched);
                let busy = events != s.events_at_refresh || s.drift.drifting();
                let every = if busy {
                    inner.opts.refresh_busy
                } else {
                    inner.opts.refresh_quiet
                };
                let since_dump = s.dumped.map_or(Duration::MAX, |d| d.elapsed());
                // After an overrun or a drift: not sooner than the back-off
                // (which doubles while overruns go on) nor than four times
                // the last dump took (a dump must not follow a dump).
                let wait = if s.silent {
                    s.backoff.max(s.dump_took * SILENT_SPACING)
                } else {
                    s.backoff.max(s.dump_took * 4)
                };
                (
                    s.refreshed.is_none_or(|r| r.elapsed() >= every),
                    (s.need_resync && since_dump >= wait)
                        || since_dump >= inner.opts.resync_interval,
                    dirty
                        && s.ranked
                            .is_none_or(|r| r.elapsed() >= Duration::from_secs(1)),
                )
            };
            if refresh_due {
                if let Err(e) = refresh(&ns) {
                    tracing::debug!("namespace {}: {e}", ns.label);
                }
                let (kernel, tracked) = {
                    let t = lock(&ns.table);
                    (t.kernel_count, t.tracked())
                };
                let mut s = lock(&ns.sched);
                let quiet = s.refreshed.is_some() && s.events_at_refresh == events;
                s.refreshed = Some(Instant::now());
                s.events_at_refresh = events;
                if let Some(why) = s.drift.note(kernel, tracked, quiet) {
                    tracing::debug!(
                        kernel,
                        tracked,
                        "namespace {}: drift ({why:?}), resync",
                        ns.label
                    );
                    s.silent = why == Why::Silent && (s.silent || !s.need_resync);
                    s.need_resync = true;
                }
            }
            if resync_due {
                let needed = lock(&ns.sched).need_resync;
                let started = Instant::now();
                if let Err(e) = resync(inner, &ns) {
                    tracing::debug!("namespace {}: resync: {e}", ns.label);
                }
                let mut s = lock(&ns.sched);
                s.dump_took = started.elapsed();
                s.backoff = if needed {
                    (s.backoff * 2).min(inner.opts.resync_interval)
                } else {
                    inner.opts.min_resync
                };
            } else {
                // A quiet spell as long as twice the back-off resets it.
                let mut s = lock(&ns.sched);
                let since_dump = s.dumped.map_or(Duration::ZERO, |d| d.elapsed());
                if !s.need_resync && since_dump >= s.backoff * 2 {
                    s.backoff = inner.opts.min_resync;
                }
            }
            if inner.stop.load(Ordering::Relaxed) {
                return;
            }
            if rank_due {
                {
                    let mut t = lock(&ns.table);
                    t.dirty = false;
                }
                rank(&ns, inner.opts.top);
                lock(&ns.sched).ranked = Some(Instant::now());
            }
            if all_dumped {
                all_dumped = lock(&ns.sched).dumped.is_some();
            }
        }
        if all_dumped {
            inner.ready.store(true, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drift_needs_to_persist_over_the_window() {
        let mut d = Drift::default();
        for _ in 0..DRIFT_WINDOW - 1 {
            assert_eq!(d.note(1_000_000, 998_000, false), None);
        }
        assert_eq!(
            d.note(1_000_000, 998_000, false),
            Some(Why::Drift),
            "2,000 off for 5 reads: resync"
        );
        let mut d = Drift::default();
        for i in 0..20 {
            // In-flight churn: within tolerance, or back to nothing.
            let off = if i % 3 == 0 { 5_000 } else { 10 };
            assert_eq!(d.note(1_000_000, 1_000_000 - off, false), None);
        }
        let mut d = Drift::default();
        for _ in 0..20 {
            assert_eq!(
                d.note(100, 60, false),
                None,
                "under 64 entries is in flight"
            );
        }
    }

    #[test]
    fn a_drift_over_a_quiet_interval_is_not_in_flight() {
        // Entries that die without events (created before the listener):
        // off by 50 on a read after events, then on a quiet read.
        let mut d = Drift::default();
        assert_eq!(d.note(70, 70, false), None);
        assert_eq!(
            d.note(20, 70, false),
            None,
            "events came meanwhile: may lag"
        );
        assert!(d.drifting(), "the next read comes sooner");
        assert_eq!(
            d.note(20, 70, true),
            Some(Why::Silent),
            "no event since, still off"
        );
        // Quiet and exact: nothing to do.
        let mut d = Drift::default();
        for _ in 0..10 {
            assert_eq!(d.note(20, 20, true), None);
        }
        // Off once, then right again: it was in flight.
        let mut d = Drift::default();
        assert_eq!(d.note(20, 21, true), None);
        assert_eq!(d.note(20, 20, true), None);
        assert!(!d.drifting());
    }
}
