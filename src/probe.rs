//! What the running kernel was proved to select correctly, by behaviour and
//! not by version: kernels have bugs and distributions backport, so before
//! ctctl hands a criterion to the kernel (in a dump, and above all in a
//! flush) it checks, once per boot, that this kernel applies it right.
//!
//! The probe runs on a short-lived thread in a private network namespace
//! (`unshare(CLONE_NEWNET)`, which needs `CAP_SYS_ADMIN`): it creates a
//! small table that covers every class of criterion (IPv4 and IPv6
//! addresses in both directions, protocols, ports, ICMP and ICMPv6 fields,
//! mark and mask, status, zones), then for each case runs the filtered dump
//! and the filtered flush and checks that exactly the entries ctctl's own
//! matcher selects come back, or go. A class is proved for dumps, for
//! flushes, for both or for neither. The verdict is cached in
//! [`CACHE_FILE`], keyed by kernel release and boot id.
//!
//! Where the probe cannot run (no `CAP_SYS_ADMIN`, as in a container with
//! only `CAP_NET_ADMIN`; a read-only `/run`), nothing is proved: every dump
//! is unfiltered in the kernel and matched here, and deletes go by tuple
//! and id.
//!
//! Known faults this catches (see the README's "Kernel facts"):
//! - IPv6 addresses in `CTA_FILTER` compared inverted
//!   (`ctnetlink_filter_match_tuple`, seen on 6.18): a dump for one address
//!   returns every other one, a flush deletes every other one.
//! - `CTA_FILTER` on a flush before "netfilter: ctnetlink: support
//!   CTA_FILTER for flush" (6.12): with a tuple the request is a single
//!   delete that ignores the other criteria; without one, `EOPNOTSUPP`.
//! - `CTA_ZONE` on dumps and flushes (6.8) ignored for zone 0 until fixed.

use std::collections::BTreeSet;
use std::fmt;
use std::io::Write;
use std::ops::ControlFlow;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::OnceLock;
use std::time::Instant;

use ctctl_netlink::conntrack::{proto, Flow, KernelFilter, ProtoInfo, RequestBuf, Status, Tuple};
use ctctl_netlink::header::{AF_INET, AF_INET6, IPCTNL_MSG_CT_NEW};
use ctctl_netlink::Socket;

use crate::filter::{zone_id, Cidr, Filter, KernelPlan, Match, PortRange, StatusMatch};
use crate::filterset::Selection;
use crate::Conntrack;

/// Where the verdict is kept between runs (one boot).
pub const CACHE_DIR: &str = "/run/ctctl";
/// The verdict file.
pub const CACHE_FILE: &str = "/run/ctctl/kernel-probe.json";
/// Bumped when the cases change, so an older verdict is not reused.
const FORMAT: u32 = 1;

/// Classes of criteria the kernel may be asked to select by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Criteria(pub u32);

impl Criteria {
    /// Nothing.
    pub const NONE: Criteria = Criteria(0);
    /// The family (`nfgenmsg`), which tuple filters also need.
    pub const FAMILY: Criteria = Criteria(1 << 0);
    /// The layer-4 protocol number.
    pub const PROTO: Criteria = Criteria(1 << 1);
    /// IPv4 addresses, original and reply.
    pub const IPV4: Criteria = Criteria(1 << 2);
    /// IPv6 addresses, original and reply.
    pub const IPV6: Criteria = Criteria(1 << 3);
    /// TCP and UDP ports.
    pub const PORTS: Criteria = Criteria(1 << 4);
    /// ICMP type, code and id.
    pub const ICMP: Criteria = Criteria(1 << 5);
    /// ICMPv6 type, code and id.
    pub const ICMPV6: Criteria = Criteria(1 << 6);
    /// Mark and mask.
    pub const MARK: Criteria = Criteria(1 << 7);
    /// Status bits and mask.
    pub const STATUS: Criteria = Criteria(1 << 8);
    /// The zone (any direction).
    pub const ZONE: Criteria = Criteria(1 << 9);
    /// Every class.
    pub const ALL: Criteria = Criteria((1 << 10) - 1);

    /// Names, as `status` and the cache print them.
    pub const NAMES: [(Criteria, &'static str); 10] = [
        (Criteria::FAMILY, "family"),
        (Criteria::PROTO, "proto"),
        (Criteria::IPV4, "ipv4-addr"),
        (Criteria::IPV6, "ipv6-addr"),
        (Criteria::PORTS, "ports"),
        (Criteria::ICMP, "icmp"),
        (Criteria::ICMPV6, "icmpv6"),
        (Criteria::MARK, "mark"),
        (Criteria::STATUS, "status"),
        (Criteria::ZONE, "zone"),
    ];

    /// Whether every class of `other` is in `self`.
    pub fn contains(self, other: Criteria) -> bool {
        self.0 & other.0 == other.0
    }

    /// `self` without the classes of `other`.
    pub fn without(self, other: Criteria) -> Criteria {
        Criteria(self.0 & !other.0)
    }

    /// Both sets.
    pub fn with(self, other: Criteria) -> Criteria {
        Criteria(self.0 | other.0)
    }

    /// The names of the classes in the set.
    pub fn names(self) -> Vec<&'static str> {
        Criteria::NAMES
            .iter()
            .filter(|(c, _)| self.contains(*c))
            .map(|(_, n)| *n)
            .collect()
    }

    /// The set of the named classes (unknown names are ignored).
    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Criteria {
        names.into_iter().fold(Criteria::NONE, |acc, n| {
            match Criteria::NAMES.iter().find(|(_, name)| *name == n) {
                Some((c, _)) => acc.with(*c),
                None => acc,
            }
        })
    }

    /// What a class needs proved before it can be used: tuple fields go in
    /// `CTA_FILTER`, which needs the family; ports and ICMP fields are
    /// compared under a protocol.
    fn needs(self) -> Criteria {
        let mut n = Criteria::NONE;
        if self.0 & (Criteria::PROTO.0 | Criteria::IPV4.0 | Criteria::IPV6.0) != 0 {
            n = n.with(Criteria::FAMILY);
        }
        if self.0 & (Criteria::PORTS.0 | Criteria::ICMP.0 | Criteria::ICMPV6.0) != 0 {
            n = n.with(Criteria::FAMILY).with(Criteria::PROTO);
        }
        n
    }
}

impl fmt::Display for Criteria {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = self.names();
        if names.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&names.join(","))
        }
    }
}

/// Where a verdict came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Probed by this process.
    Probed,
    /// Read from [`CACHE_FILE`], probed earlier in this boot.
    Cached,
    /// The probe could not run; nothing is proved.
    CouldNotRun(String),
}

/// What the running kernel was found to select correctly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Criteria a dump may carry.
    pub dump: Criteria,
    /// Criteria a flush may carry (and then deletes exactly the matches).
    pub flush: Criteria,
    /// What went wrong in the cases that failed, one line each.
    pub failures: Vec<String>,
    /// How long the probe took, in microseconds.
    pub elapsed_us: u64,
    /// Where this verdict came from.
    pub source: Source,
}

impl Verdict {
    /// A verdict that proves nothing, with the reason.
    pub fn nothing(reason: impl Into<String>) -> Verdict {
        Verdict {
            dump: Criteria::NONE,
            flush: Criteria::NONE,
            failures: Vec::new(),
            elapsed_us: 0,
            source: Source::CouldNotRun(reason.into()),
        }
    }

    /// The criteria proved for `op`.
    pub fn proved(&self, op: Op) -> Criteria {
        match op {
            Op::Dump => self.dump,
            Op::Flush => self.flush,
        }
    }
}

/// What a kernel filter is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// A dump: what the kernel leaves out is never seen.
    Dump,
    /// A flush: what the kernel selects is deleted.
    Flush,
}

/// The kernel's share of `filter` for `op`, from what this kernel was
/// proved to honour. The probe runs (or its cache is read) only when the
/// filter has something the kernel could select by.
pub fn plan<S: Selection + ?Sized>(filter: &S, op: Op) -> KernelPlan {
    let wanted = filter.kernel_plan(Criteria::ALL);
    if wanted.filters.iter().all(KernelFilter::is_empty) {
        return wanted;
    }
    let v = verdict();
    let plan = filter.kernel_plan(v.proved(op));
    let why = match &v.source {
        Source::CouldNotRun(r) => format!("kernel probe could not run ({r})"),
        _ => format!("kernel proved for {op:?}: {}", v.proved(op)),
    };
    if plan.exact {
        tracing::debug!("{op:?}: the kernel selects this filter in full; {why}");
    } else if plan.filters.iter().all(KernelFilter::is_empty) {
        tracing::debug!("{op:?}: nothing of this filter goes to the kernel; {why}");
    } else {
        tracing::debug!(
            "{op:?}: the kernel pre-selects, the rest is matched here ({:?}); {why}",
            plan.filters
        );
    }
    plan
}

static VERDICT: OnceLock<Verdict> = OnceLock::new();

/// This boot's verdict: from the cache when it is there and trustworthy,
/// else probed now (and cached). Computed once per process.
pub fn verdict() -> &'static Verdict {
    VERDICT.get_or_init(|| {
        let key = match BootKey::current() {
            Ok(k) => k,
            Err(e) => return Verdict::nothing(e),
        };
        if let Some(v) = read_cache(Path::new(CACHE_FILE), &key) {
            tracing::debug!("kernel probe verdict from {CACHE_FILE}");
            return v;
        }
        let v = probe_in_private_netns();
        if let Source::CouldNotRun(r) = &v.source {
            tracing::debug!("kernel probe could not run: {r}");
            return v;
        }
        // A verdict that cannot be kept would be probed again by every
        // run: the probe needs a writable /run/ctctl.
        match write_cache(Path::new(CACHE_DIR), Path::new(CACHE_FILE), &key, &v) {
            Ok(()) => v,
            Err(e) => Verdict::nothing(format!("cannot keep the verdict in {CACHE_DIR}: {e}")),
        }
    })
}

/// Probes now, whatever the cache says, and keeps the verdict (`ctctl
/// probe`): for after a live patch, or to see the failures again.
pub fn reprobe() -> Result<Verdict, crate::Error> {
    let key = BootKey::current().map_err(probe_error)?;
    let v = probe_in_private_netns();
    if let Source::CouldNotRun(r) = &v.source {
        return Err(probe_error(format!("the kernel probe could not run: {r}")));
    }
    write_cache(Path::new(CACHE_DIR), Path::new(CACHE_FILE), &key, &v)
        .map_err(|e| probe_error(format!("cannot keep the verdict in {CACHE_DIR}: {e}")))?;
    Ok(v)
}

fn probe_error(msg: String) -> crate::Error {
    crate::Error::Probe(msg)
}

/// The kernel release and boot id a verdict holds for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootKey {
    /// `uname -r`.
    pub release: String,
    /// `/proc/sys/kernel/random/boot_id`.
    pub boot_id: String,
}

impl BootKey {
    /// This boot's key.
    pub fn current() -> Result<BootKey, String> {
        let read = |p: &str| {
            std::fs::read_to_string(p)
                .map(|s| s.trim().to_string())
                .map_err(|e| format!("cannot read {p}: {e}"))
        };
        Ok(BootKey {
            release: read("/proc/sys/kernel/osrelease")?,
            boot_id: read("/proc/sys/kernel/random/boot_id")?,
        })
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct CacheRecord {
    format: u32,
    release: String,
    boot_id: String,
    dump: Vec<String>,
    flush: Vec<String>,
    failures: Vec<String>,
    elapsed_us: u64,
}

/// The cached verdict, when the file is there, is for this boot, and could
/// not have been written by anyone but root (or us): owned by us or root,
/// not group- or world-writable, and no symlink, in a directory alike.
pub fn read_cache(path: &Path, key: &BootKey) -> Option<Verdict> {
    let dir = path.parent()?;
    if !trusted(&std::fs::symlink_metadata(dir).ok()?) {
        tracing::debug!(
            "ignoring {}: not owned by root or writable by others",
            dir.display()
        );
        return None;
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .ok()?;
    let meta = file.metadata().ok()?;
    if !meta.is_file() || !trusted(&meta) || meta.len() > 64 << 10 {
        tracing::debug!("ignoring {}: untrusted owner, mode or size", path.display());
        return None;
    }
    let rec: CacheRecord = serde_json::from_reader(std::io::BufReader::new(file)).ok()?;
    if rec.format != FORMAT || rec.release != key.release || rec.boot_id != key.boot_id {
        return None;
    }
    Some(Verdict {
        dump: Criteria::from_names(rec.dump.iter().map(String::as_str)),
        flush: Criteria::from_names(rec.flush.iter().map(String::as_str)),
        failures: rec.failures,
        elapsed_us: rec.elapsed_us,
        source: Source::Cached,
    })
}

fn trusted(meta: &std::fs::Metadata) -> bool {
    let euid = nix::unistd::geteuid().as_raw();
    (meta.uid() == 0 || meta.uid() == euid) && meta.mode() & 0o022 == 0
}

/// Writes the verdict: a new file (`O_EXCL`, no symlinks followed) in the
/// same directory, synced, then renamed over the old one; the directory is
/// created 0755 when missing and must be trustworthy.
pub fn write_cache(dir: &Path, path: &Path, key: &BootKey, v: &Verdict) -> std::io::Result<()> {
    match std::fs::symlink_metadata(dir) {
        Ok(m) if m.is_dir() && trusted(&m) => {}
        Ok(_) => {
            return Err(std::io::Error::other(
                "it is not a directory owned by root and writable only by its owner",
            ))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::DirBuilder::new().mode(0o755).create(dir)?;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))?;
        }
        Err(e) => return Err(e),
    }
    let rec = CacheRecord {
        format: FORMAT,
        release: key.release.clone(),
        boot_id: key.boot_id.clone(),
        dump: v.dump.names().into_iter().map(String::from).collect(),
        flush: v.flush.names().into_iter().map(String::from).collect(),
        failures: v.failures.clone(),
        elapsed_us: v.elapsed_us,
    };
    let body = serde_json::to_vec(&rec).map_err(std::io::Error::other)?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let tmp = dir.join(format!(".kernel-probe.{}.{nanos}", std::process::id()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&tmp)?;
    let written = f
        .write_all(&body)
        .and_then(|()| f.sync_all())
        .and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written?;
    std::fs::File::open(dir)?.sync_all()
}

/// Runs the probe: dumps and flushes are checked at once, each on a thread
/// of its own in a new, private network namespace (gone when the thread
/// ends). Every check walks the kernel's whole hash table (shared by all
/// namespaces), so the two run side by side.
pub fn probe_in_private_netns() -> Verdict {
    let started = Instant::now();
    let spawn = |op: Op| {
        std::thread::spawn(move || -> Result<Findings, String> {
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).map_err(|e| match e {
                nix::errno::Errno::EPERM => {
                    "making a private network namespace needs CAP_SYS_ADMIN".to_string()
                }
                e => format!("cannot make a private network namespace: {e}"),
            })?;
            let sock = Socket::open().map_err(|e| format!("ctnetlink socket: {e}"))?;
            let mut table = KernelTable {
                ct: Conntrack::with_socket(sock),
            };
            run_cases(&mut table, op)
        })
    };
    let dump = spawn(Op::Dump);
    let flush = spawn(Op::Flush);
    let joined = |h: std::thread::JoinHandle<Result<Findings, String>>| {
        h.join()
            .unwrap_or_else(|_| Err("the probe thread panicked".to_string()))
    };
    let (dump, flush) = (joined(dump), joined(flush));
    let elapsed_us = started.elapsed().as_micros() as u64;
    match (dump, flush) {
        (Ok(d), Ok(f)) => Verdict {
            dump: d.proved,
            flush: f.proved,
            failures: d.failures.into_iter().chain(f.failures).collect(),
            elapsed_us,
            source: Source::Probed,
        },
        (Err(e), _) | (_, Err(e)) => Verdict::nothing(e),
    }
}

/// The table the probe works on: the real kernel, or a simulated one in
/// unit tests.
pub trait ProbeTable {
    /// Creates `entries` exactly as given (reply tuples too, no NAT set
    /// up); an entry that exists already is left as it is.
    fn create(&mut self, entries: &[Flow<'static>]) -> Result<(), String>;
    /// The entries a dump with `filter` returns, as the kernel selects
    /// them (nothing matched again here).
    fn dump(&mut self, filter: &KernelFilter) -> Result<Vec<Flow<'static>>, String>;
    /// A flush with `filter`.
    fn flush(&mut self, filter: &KernelFilter) -> Result<(), String>;
    /// Each of `entries` as the kernel has it, looked up one by one by
    /// tuple and zone (no table walk), or `None` where it is gone.
    fn lookup(&mut self, entries: &[Flow<'static>]) -> Result<Vec<Option<Flow<'static>>>, String>;
}

/// The real kernel, through a socket in the probe's namespace.
struct KernelTable {
    ct: Conntrack,
}

impl ProbeTable for KernelTable {
    fn create(&mut self, entries: &[Flow<'static>]) -> Result<(), String> {
        let opts = ctctl_netlink::conntrack::request::CreateOptions {
            src_nat: None,
            dst_nat: None,
            or_update: false,
            ack: true,
            exact_status: false,
        };
        for f in entries {
            let mut req = RequestBuf::new();
            let seq = self.ct.socket().next_seq();
            ctctl_netlink::conntrack::request::create(&mut req, seq, f, &opts);
            match self
                .ct
                .socket()
                .transact(&req, "probe create", |_| Ok(ControlFlow::Continue(())))
            {
                Ok(()) => {}
                Err(e) if e.errno() == Some(libc::EEXIST) => {}
                Err(e) => return Err(format!("creating a probe entry: {e}")),
            }
        }
        Ok(())
    }

    fn dump(&mut self, filter: &KernelFilter) -> Result<Vec<Flow<'static>>, String> {
        let mut req = RequestBuf::new();
        ctctl_netlink::conntrack::request::dump(&mut req, self.ct.socket().next_seq(), filter);
        let mut out = Vec::new();
        self.ct
            .socket()
            .transact(&req, "probe dump", |msg| {
                if msg.header.msg() == IPCTNL_MSG_CT_NEW {
                    let f = Flow::decode(msg).map_err(ctctl_netlink::Error::decode("probe"))?;
                    out.push(f.into_owned());
                }
                Ok(ControlFlow::Continue(()))
            })
            .map_err(|e| e.to_string())?;
        Ok(out)
    }

    fn flush(&mut self, filter: &KernelFilter) -> Result<(), String> {
        self.ct.flush(filter).map_err(|e| e.to_string())
    }

    fn lookup(&mut self, entries: &[Flow<'static>]) -> Result<Vec<Option<Flow<'static>>>, String> {
        entries
            .iter()
            .map(|f| {
                self.ct
                    .get(&f.orig, f.zone)
                    .map_err(|e| format!("looking up a probe entry: {e}"))
            })
            .collect()
    }
}

/// What the cases showed for one operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Findings {
    /// The classes proved.
    pub proved: Criteria,
    /// One line per failed case.
    pub failures: Vec<String>,
}

/// One probe case: a filter and the classes it proves when the kernel
/// selects exactly what ctctl's matcher selects. Group cases prove several
/// classes at once (the table holds, for each criterion, an entry that
/// misses only that one); when a group fails, each of its classes is
/// tried on its own.
struct Case {
    name: &'static str,
    classes: Criteria,
    filter: Filter,
}

fn host(s: &str) -> Option<Match<Cidr>> {
    Cidr::parse(s).ok().map(Match::one)
}

fn port(p: u16) -> Option<Match<PortRange>> {
    Some(Match::one(PortRange::one(p)))
}

/// Builds probe entries: `flow(src, dst, proto, sport|type, dport|id)`,
/// reply the mirror unless changed.
fn entry(src: &str, dst: &str, p: u8, sport: u16, dport: u16) -> Flow<'static> {
    let src = src.parse().ok();
    let dst = dst.parse().ok();
    let family = if matches!(src, Some(std::net::IpAddr::V4(_))) {
        AF_INET
    } else {
        AF_INET6
    };
    let icmp = p == proto::ICMP || p == proto::ICMPV6;
    let orig = Tuple {
        src,
        dst,
        proto: Some(p),
        src_port: (!icmp).then_some(sport),
        dst_port: (!icmp).then_some(dport),
        icmp_type: icmp.then_some(sport as u8),
        icmp_code: icmp.then_some(0),
        icmp_id: icmp.then_some(dport),
        zone: None,
    };
    Flow {
        family,
        orig,
        reply: crate::create::mirror(&orig),
        timeout: Some(300),
        mark: Some(0),
        proto_info: if p == proto::TCP {
            ProtoInfo::from_state_name(proto::TCP, "ESTABLISHED")
        } else {
            None
        },
        ..Flow::default()
    }
}

/// The probe table. Every criterion of the group cases has a target entry
/// that matches all of them and, for each criterion, a near miss that
/// matches all but that one, so a criterion ignored, inverted or compared
/// against the wrong direction changes the result.
pub fn probe_entries() -> Vec<Flow<'static>> {
    let assured = Some(Status::SEEN_REPLY | Status::ASSURED);
    let v4 = |f: fn(&mut Flow<'static>)| {
        let mut e = entry("10.99.0.1", "10.99.0.2", proto::TCP, 1001, 80);
        e.status = assured;
        e.mark = Some(1);
        e.zone = Some(5);
        f(&mut e);
        e
    };
    let v6 = |f: fn(&mut Flow<'static>)| {
        let mut e = entry("2001:db8::1", "2001:db8::2", proto::UDP, 1001, 53);
        f(&mut e);
        e
    };
    let icmp = |f: fn(&mut Flow<'static>)| {
        let mut e = entry("10.99.1.1", "10.99.1.2", proto::ICMP, 8, 7);
        f(&mut e);
        e
    };
    let icmp6 = |f: fn(&mut Flow<'static>)| {
        let mut e = entry("2001:db8:1::1", "2001:db8:1::2", proto::ICMPV6, 128, 7);
        f(&mut e);
        e
    };
    let mut entries = vec![
        // Group "v4": the target, a second target whose zone applies to the
        // original direction only (the kernel's nf_ct_zone_equal_any counts
        // it), and one near miss per criterion.
        v4(|_| {}),
        v4(|e| {
            e.orig.src_port = Some(1002);
            e.reply.dst_port = Some(1002);
            e.zone = None;
            e.orig.zone = Some(5);
        }),
        v4(|e| {
            e.orig.proto = Some(proto::UDP);
            e.reply.proto = Some(proto::UDP);
            e.proto_info = None;
        }),
        v4(|e| e.orig.src = "10.99.0.9".parse().ok()),
        v4(|e| e.orig.dst = "10.99.0.9".parse().ok()),
        v4(|e| e.reply.src = "10.99.0.9".parse().ok()),
        v4(|e| e.reply.dst = "10.99.0.9".parse().ok()),
        v4(|e| {
            e.orig.dst_port = Some(81);
            e.reply.src_port = Some(81);
        }),
        v4(|e| e.mark = Some(3)),
        v4(|e| e.status = Some(Status::SEEN_REPLY)),
        v4(|e| e.zone = Some(6)),
        // Group "v6": addresses in both directions.
        v6(|_| {}),
        v6(|e| e.orig.src = "2001:db8::9".parse().ok()),
        v6(|e| e.orig.dst = "2001:db8::9".parse().ok()),
        v6(|e| e.reply.src = "2001:db8::9".parse().ok()),
        v6(|e| e.reply.dst = "2001:db8::9".parse().ok()),
        // Group "icmp" and "icmpv6": type, code, id.
        icmp(|_| {}),
        icmp(|e| {
            e.orig.icmp_type = Some(13);
            e.reply.icmp_type = Some(14);
        }),
        icmp(|e| {
            e.orig.icmp_code = Some(1);
            e.reply.icmp_code = Some(1);
        }),
        icmp(|e| {
            e.orig.icmp_id = Some(8);
            e.reply.icmp_id = Some(8);
        }),
        // Zone 0 is a zone too (the kernel once took it for "no filter").
        icmp(|e| e.zone = Some(9)),
        icmp6(|_| {}),
        icmp6(|e| {
            e.orig.icmp_type = Some(129);
            e.reply.icmp_type = Some(128);
        }),
        icmp6(|e| {
            e.orig.icmp_code = Some(1);
            e.reply.icmp_code = Some(1);
        }),
        icmp6(|e| {
            e.orig.icmp_id = Some(8);
            e.reply.icmp_id = Some(8);
        }),
    ];
    // No two entries may share a tuple in either direction (the kernel
    // refuses a clash), and near misses share most of theirs: give each a
    // source port (or a reply ICMP id) of its own, which no case compares.
    // The first entry keeps its own for the full-tuple case.
    for (i, e) in entries.iter_mut().enumerate().skip(1) {
        let n = 2000 + i as u16;
        if e.orig.src_port.is_some() {
            e.orig.src_port = Some(n);
            e.reply.dst_port = Some(n);
        } else {
            e.reply.icmp_id = Some(n);
        }
    }
    entries
}

/// The group cases, tried first; and the per-class cases, tried for the
/// classes of a group that failed.
fn cases() -> (Vec<Case>, Vec<Case>) {
    let case = |name, classes, filter: Filter| Case {
        name,
        classes,
        filter: filter.normalize().expect("probe filters are valid"),
    };
    let f = Filter::default;
    let status = |s: &str| StatusMatch::parse(s).ok();
    use Criteria as C;
    let v4_tuple = Filter {
        proto: Some(proto::TCP),
        src: host("10.99.0.1"),
        dst: host("10.99.0.2"),
        reply_src: host("10.99.0.2"),
        reply_dst: host("10.99.0.1"),
        dport: port(80),
        ..f()
    };
    let icmp_echo = Filter {
        family: Some(AF_INET),
        proto: Some(proto::ICMP),
        icmp_type: Some(8),
        icmp_code: Some(0),
        icmp_id: Some(7),
        ..f()
    };
    let groups = vec![
        case(
            "-f ipv6",
            C::FAMILY,
            Filter {
                family: Some(AF_INET6),
                ..f()
            },
        ),
        case(
            "-p tcp -s 10.99.0.1 -d 10.99.0.2 -r 10.99.0.2 -q 10.99.0.1 --dport 80 \
             --mark 1 --status ASSURED --zone 5",
            C::PROTO
                .with(C::IPV4)
                .with(C::PORTS)
                .with(C::MARK)
                .with(C::STATUS)
                .with(C::ZONE),
            Filter {
                mark: Some(Match::one((1, u32::MAX))),
                status: status("ASSURED"),
                zone: Some(Match::one(5)),
                ..v4_tuple.clone()
            },
        ),
        case(
            "-s 2001:db8::1 -d 2001:db8::2 -r 2001:db8::2 -q 2001:db8::1",
            C::IPV6,
            Filter {
                src: host("2001:db8::1"),
                dst: host("2001:db8::2"),
                reply_src: host("2001:db8::2"),
                reply_dst: host("2001:db8::1"),
                ..f()
            },
        ),
        case(
            "-f ipv4 -p icmp --icmp-type 8 --icmp-code 0 --icmp-id 7 --zone 0",
            C::ICMP.with(C::ZONE),
            Filter {
                zone: Some(Match::one(0)),
                ..icmp_echo.clone()
            },
        ),
        case(
            "-f ipv6 -p icmpv6 --icmp-type 128 --icmp-code 0 --icmp-id 7",
            C::ICMPV6,
            Filter {
                family: Some(AF_INET6),
                proto: Some(proto::ICMPV6),
                icmp_type: Some(128),
                icmp_code: Some(0),
                icmp_id: Some(7),
                ..f()
            },
        ),
        // A full original tuple with a mark its entry does not have: a
        // kernel that takes a filtered flush for a single delete by tuple
        // (before 6.12) removes that entry.
        case(
            "-p tcp -s 10.99.0.1 -d 10.99.0.2 --sport 1001 --dport 80 --zone 5 --mark 9",
            C::PROTO
                .with(C::IPV4)
                .with(C::PORTS)
                .with(C::MARK)
                .with(C::ZONE),
            Filter {
                src: host("10.99.0.1"),
                dst: host("10.99.0.2"),
                proto: Some(proto::TCP),
                sport: port(1001),
                dport: port(80),
                zone: Some(Match::one(5)),
                mark: Some(Match::one((9, u32::MAX))),
                ..f()
            },
        ),
    ];
    let singles = vec![
        case(
            "-p udp",
            C::PROTO,
            Filter {
                proto: Some(proto::UDP),
                ..f()
            },
        ),
        case(
            "-s 10.99.0.1 -d 10.99.0.2 -r 10.99.0.2 -q 10.99.0.1",
            C::IPV4,
            Filter {
                proto: None,
                dport: None,
                ..v4_tuple.clone()
            },
        ),
        case(
            "-p tcp --dport 80 --sport 1001",
            C::PORTS,
            Filter {
                proto: Some(proto::TCP),
                sport: port(1001),
                dport: port(80),
                ..f()
            },
        ),
        case(
            "--mark 1",
            C::MARK,
            Filter {
                mark: Some(Match::one((1, u32::MAX))),
                ..f()
            },
        ),
        case(
            "--status ASSURED",
            C::STATUS,
            Filter {
                status: status("ASSURED"),
                ..f()
            },
        ),
        case(
            "--zone 5",
            C::ZONE,
            Filter {
                zone: Some(Match::one(5)),
                ..f()
            },
        ),
        case(
            "--zone 0",
            C::ZONE,
            Filter {
                zone: Some(Match::one(0)),
                ..f()
            },
        ),
        case(
            "-f ipv4 -p icmp --icmp-type 8 --icmp-code 0 --icmp-id 7",
            C::ICMP,
            icmp_echo,
        ),
    ];
    (groups, singles)
}

fn key(f: &Flow<'_>) -> String {
    format!("{:?}/{:?}/{}", f.orig, f.reply, zone_id(f))
}

fn keys<'a>(flows: impl IntoIterator<Item = &'a Flow<'static>>) -> BTreeSet<String> {
    flows.into_iter().map(key).collect()
}

fn describe(expected: &BTreeSet<String>, got: &BTreeSet<String>) -> String {
    let extra = got.difference(expected).count();
    let missing = expected.difference(got).count();
    format!("{extra} outside the filter selected, {missing} inside it not")
}

/// Runs the cases for `op` on `table` and says what is proved. `Err` when
/// the table itself cannot be set up (the probe could not run).
pub fn run_cases(table: &mut dyn ProbeTable, op: Op) -> Result<Findings, String> {
    let entries = probe_entries();
    table.create(&entries)?;
    // What the kernel made of them: ctctl's matcher decides what each case
    // must select from this. Looked up entry by entry: a walk of the table
    // walks the whole hash table, every namespace's entries.
    let all: Vec<Flow<'static>> = table.lookup(&entries)?.into_iter().flatten().collect();
    if keys(&all) != keys(&entries) {
        return Err(format!(
            "the probe table did not come back as created ({} of {} entries)",
            all.len(),
            entries.len()
        ));
    }
    let mut failures = Vec::new();
    let mut run = |case: &Case, table: &mut dyn ProbeTable| -> Result<bool, String> {
        let plan = case.filter.kernel_plan(Criteria::ALL);
        debug_assert!(plan.exact, "probe case {} must be kernel-exact", case.name);
        let expected = keys(all.iter().filter(|f| case.filter.matches(f)));
        let outcome = match op {
            Op::Dump => check_dump(table, &plan.filters, &expected),
            Op::Flush => check_flush(table, &plan.filters, &expected, &all)?,
        };
        Ok(match outcome {
            Ok(()) => true,
            Err(why) => {
                let verb = if op == Op::Dump { "dump" } else { "flush" };
                failures.push(format!("{verb} {}: {why}", case.name));
                false
            }
        })
    };
    let (groups, singles) = cases();
    let mut proved = Criteria::ALL;
    let mut retry = Criteria::NONE;
    // Classes that failed a case of their own: no single case redeems them.
    let mut failed_alone = Criteria::NONE;
    let mut redeemed = Criteria::NONE;
    for case in &groups {
        if !run(case, table)? {
            proved = proved.without(case.classes);
            retry = retry.with(case.classes);
            if case.classes.0.count_ones() == 1 {
                failed_alone = failed_alone.with(case.classes);
            }
        }
    }
    let skip = failed_alone;
    for case in singles
        .iter()
        .filter(|c| retry.contains(c.classes) && !skip.contains(c.classes))
    {
        if run(case, table)? {
            redeemed = redeemed.with(case.classes);
        } else {
            failed_alone = failed_alone.with(case.classes);
        }
    }
    proved = proved.with(redeemed.without(failed_alone));
    if retry != Criteria::NONE && retry.0.count_ones() > 1 && proved == Criteria::ALL {
        // Every criterion works alone and a group failed: the kernel does
        // not combine them as it should; trust none.
        failures.push("criteria that work alone fail together".to_string());
        proved = Criteria::NONE;
    }
    // A class whose prerequisites are not proved is not usable either.
    for (c, _) in Criteria::NAMES {
        if !proved.contains(c.needs()) {
            proved = proved.without(c);
        }
    }
    Ok(Findings { proved, failures })
}

/// A dump with `filters` returns exactly `expected`.
fn check_dump(
    table: &mut dyn ProbeTable,
    filters: &[KernelFilter],
    expected: &BTreeSet<String>,
) -> Result<(), String> {
    let mut got = BTreeSet::new();
    for kf in filters {
        got.extend(keys(&table.dump(kf).map_err(|e| format!("error: {e}"))?));
    }
    if got == *expected {
        Ok(())
    } else {
        Err(describe(expected, &got))
    }
}

/// A flush with `filters` deletes exactly `expected`; the table is then
/// made whole again. The outer `Err` is a table that cannot be restored.
fn check_flush(
    table: &mut dyn ProbeTable,
    filters: &[KernelFilter],
    expected: &BTreeSet<String>,
    all: &[Flow<'static>],
) -> Result<Result<(), String>, String> {
    let mut err = None;
    for kf in filters {
        if let Err(e) = table.flush(kf) {
            err = Some(format!("error: {e}"));
            break;
        }
    }
    let there = table.lookup(all)?;
    let gone: Vec<Flow<'static>> = all
        .iter()
        .zip(&there)
        .filter(|(_, t)| t.is_none())
        .map(|(f, _)| f.clone())
        .collect();
    let deleted = keys(&gone);
    table.create(&gone)?;
    Ok(match err {
        Some(e) => Err(e),
        None if deleted == *expected => Ok(()),
        None => Err(describe(expected, &deleted)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::{orig_zone, reply_zone};
    use std::net::IpAddr;

    /// A simulated kernel: applies a KernelFilter the way
    /// `ctnetlink_filter_match` should, with switches for known faults.
    #[derive(Default)]
    struct FakeKernel {
        table: Vec<Flow<'static>>,
        ipv6_inverted: bool,
        /// Before 6.12: a flush with a tuple is a single delete by tuple
        /// (zone from CTA_ZONE), any other criterion ignored.
        flush_tuple_is_single_delete: bool,
        zone_zero_ignored: bool,
        cannot_create: bool,
    }

    fn tuple_ok(want: &Tuple, got: &Tuple, v6_inverted: bool) -> bool {
        let addr = |w: Option<IpAddr>, g: Option<IpAddr>| match w {
            None => true,
            Some(IpAddr::V6(_)) if v6_inverted => w != g,
            Some(_) => w == g,
        };
        let eq = |w: Option<u16>, g: Option<u16>| w.is_none() || w == g;
        addr(want.src, got.src)
            && addr(want.dst, got.dst)
            && (want.proto.is_none() || want.proto == got.proto)
            && eq(want.src_port, got.src_port)
            && eq(want.dst_port, got.dst_port)
            && (want.icmp_type.is_none() || want.icmp_type == got.icmp_type)
            && (want.icmp_code.is_none() || want.icmp_code == got.icmp_code)
            && eq(want.icmp_id, got.icmp_id)
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
    }

    impl ProbeTable for FakeKernel {
        fn create(&mut self, entries: &[Flow<'static>]) -> Result<(), String> {
            if self.cannot_create {
                return Err("creating a probe entry: Operation not permitted".into());
            }
            for e in entries {
                if !self.table.iter().any(|t| key(t) == key(e)) {
                    self.table.push(e.clone());
                }
            }
            Ok(())
        }
        fn dump(&mut self, k: &KernelFilter) -> Result<Vec<Flow<'static>>, String> {
            Ok(self
                .table
                .iter()
                .filter(|f| self.selects(k, f))
                .cloned()
                .collect())
        }
        fn flush(&mut self, k: &KernelFilter) -> Result<(), String> {
            if self.flush_tuple_is_single_delete && k.uses_tuple_filter() {
                let o = &k.orig;
                let full = o.src.is_some() && o.dst.is_some() && o.proto.is_some();
                if !full {
                    return Err("Invalid argument".into());
                }
                let zone = k.zone.unwrap_or(0);
                let at = self.table.iter().position(|f| {
                    f.orig.src == o.src
                        && f.orig.dst == o.dst
                        && f.orig.proto == o.proto
                        && f.orig.src_port == o.src_port
                        && f.orig.dst_port == o.dst_port
                        && f.orig.icmp_id == o.icmp_id
                        && orig_zone(f) == zone
                });
                return match at {
                    Some(i) => {
                        self.table.remove(i);
                        Ok(())
                    }
                    None => Err("No such file or directory".into()),
                };
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
    }

    fn both(k: &mut FakeKernel) -> (Findings, Findings) {
        (
            run_cases(k, Op::Dump).unwrap(),
            run_cases(k, Op::Flush).unwrap(),
        )
    }

    #[test]
    fn a_correct_kernel_proves_every_class() {
        let (d, f) = both(&mut FakeKernel::default());
        assert_eq!(d.failures, Vec::<String>::new());
        assert_eq!(f.failures, Vec::<String>::new());
        assert_eq!(d.proved, Criteria::ALL);
        assert_eq!(f.proved, Criteria::ALL);
    }

    #[test]
    fn probe_entries_never_clash() {
        let entries = probe_entries();
        let mut seen = std::collections::HashSet::new();
        for e in &entries {
            assert!(seen.insert((e.orig, orig_zone(e))), "orig clash: {e:?}");
            assert!(seen.insert((e.reply, reply_zone(e))), "reply clash: {e:?}");
        }
    }

    #[test]
    fn inverted_ipv6_is_disproved_alone() {
        let mut k = FakeKernel {
            ipv6_inverted: true,
            ..FakeKernel::default()
        };
        let (d, f) = both(&mut k);
        assert_eq!(d.proved, Criteria::ALL.without(Criteria::IPV6));
        assert_eq!(f.proved, Criteria::ALL.without(Criteria::IPV6));
        assert!(
            f.failures
                .iter()
                .any(|l| l.starts_with("flush -s 2001:db8::1")),
            "{:?}",
            f.failures
        );
        // The plan then leaves IPv6 addresses to userspace: nothing exact.
        let filter = Filter {
            dst: host("2001:db8::2"),
            ..Filter::default()
        }
        .normalize()
        .unwrap();
        let plan = filter.kernel_plan(f.proved);
        assert!(!plan.exact);
        assert_eq!(plan.filters[0].orig.dst, None);
        assert_eq!(plan.filters[0].family, AF_INET6);
        // IPv4 still goes to the kernel, exactly.
        let v4 = Filter {
            dst: host("10.0.0.1"),
            ..Filter::default()
        }
        .normalize()
        .unwrap();
        assert!(v4.kernel_plan(f.proved).exact);
    }

    #[test]
    fn a_flush_that_is_a_single_delete_proves_no_tuple_flush() {
        let mut k = FakeKernel {
            flush_tuple_is_single_delete: true,
            ..FakeKernel::default()
        };
        let (d, f) = both(&mut k);
        assert_eq!(d.proved, Criteria::ALL);
        for c in [
            Criteria::PROTO,
            Criteria::IPV4,
            Criteria::IPV6,
            Criteria::PORTS,
            Criteria::ICMP,
        ] {
            assert!(!f.proved.contains(c), "{c} must not be proved for flush");
        }
        for c in [
            Criteria::FAMILY,
            Criteria::MARK,
            Criteria::STATUS,
            Criteria::ZONE,
        ] {
            assert!(f.proved.contains(c), "{c} works without CTA_FILTER");
        }
    }

    #[test]
    fn zone_zero_ignored_disproves_zones_only() {
        let mut k = FakeKernel {
            zone_zero_ignored: true,
            ..FakeKernel::default()
        };
        let (d, f) = both(&mut k);
        assert_eq!(d.proved, Criteria::ALL.without(Criteria::ZONE));
        assert_eq!(f.proved, Criteria::ALL.without(Criteria::ZONE));
    }

    #[test]
    fn a_probe_that_cannot_run_proves_nothing() {
        let mut k = FakeKernel {
            cannot_create: true,
            ..FakeKernel::default()
        };
        assert!(run_cases(&mut k, Op::Flush).is_err());
        let v = Verdict::nothing("making a private network namespace needs CAP_SYS_ADMIN");
        for op in [Op::Dump, Op::Flush] {
            let f = Filter {
                mark: Some(Match::one((1, u32::MAX))),
                ..Filter::default()
            };
            let plan = f.kernel_plan(v.proved(op));
            assert!(!plan.exact);
            assert!(plan.filters.iter().all(KernelFilter::is_empty));
        }
    }

    #[test]
    fn cache_round_trip_and_keying() {
        let dir = std::env::temp_dir().join(format!("ctctl-probe-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let file = dir.join("kernel-probe.json");
        let key = BootKey {
            release: "6.18.0-test".into(),
            boot_id: "b00t".into(),
        };
        let v = Verdict {
            dump: Criteria::ALL.without(Criteria::IPV6),
            flush: Criteria::MARK.with(Criteria::FAMILY),
            failures: vec!["dump -d 2001:db8::2: 1 outside the filter, 2 inside it missing".into()],
            elapsed_us: 1234,
            source: Source::Probed,
        };
        write_cache(&dir, &file, &key, &v).unwrap();
        let back = read_cache(&file, &key).unwrap();
        assert_eq!(back.dump, v.dump);
        assert_eq!(back.flush, v.flush);
        assert_eq!(back.failures, v.failures);
        assert_eq!(back.source, Source::Cached);
        let other_boot = BootKey {
            boot_id: "other".into(),
            ..key.clone()
        };
        assert!(
            read_cache(&file, &other_boot).is_none(),
            "another boot re-probes"
        );
        // A world-writable file is not trusted.
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).unwrap();
        assert!(read_cache(&file, &key).is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn names_round_trip() {
        let c = Criteria::ALL.without(Criteria::IPV6);
        assert_eq!(Criteria::from_names(c.names()), c);
        assert_eq!(Criteria::NONE.to_string(), "none");
    }
}
