//! `ctctl status`: the one screen of a `table full` incident, with a
//! verdict (`--check`: Nagios exit codes); `ctctl stats`: per-CPU counters
//! as `conntrack -S` prints them.

use std::collections::HashMap;
use std::net::IpAddr;
use std::ops::ControlFlow;

use ctctl_netlink::stats::CpuStats;

use super::args::{Cli, Format, StatusArgs};
use super::Outcome;
use crate::conntrack::Conntrack;
use crate::format::json;
use crate::format::number::thousands;
use crate::format::text;
use crate::select::filter::Filter;
use crate::stdio::out::Out;
use crate::tune::keys::{discover, Key};
use crate::tune::recommend::{human_bytes, BYTES_PER_ENTRY};
use crate::tune::{read_trimmed, read_u64, Paths};

/// Nagios-style verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    /// Nothing to act on.
    Ok,
    /// Worth a look.
    Warning,
    /// Connections are being dropped, or about to be.
    Critical,
}

impl Verdict {
    fn name(self) -> &'static str {
        match self {
            Verdict::Ok => "OK",
            Verdict::Warning => "WARNING",
            Verdict::Critical => "CRITICAL",
        }
    }

    /// Nagios plugin exit code.
    pub fn exit_code(self) -> i32 {
        match self {
            Verdict::Ok => 0,
            Verdict::Warning => 1,
            Verdict::Critical => 2,
        }
    }
}

/// Utilisation from which growth is worth watching (the seeds' early-warning
/// figure): a note, not a warning.
const TREND_UTILISATION: f64 = 20.0;
/// Loopback share worth a NOTRACK rule.
const LOOPBACK_SHARE: f64 = 10.0;

const NOTRACK_NFT: &str = "nft add table inet ctctl_raw; \
nft add chain inet ctctl_raw prerouting '{ type filter hook prerouting priority raw; }'; \
nft add chain inet ctctl_raw output '{ type filter hook output priority raw; }'; \
nft add rule inet ctctl_raw prerouting iif lo notrack; \
nft add rule inet ctctl_raw output oif lo notrack";
const NOTRACK_IPT: &str = "iptables -t raw -A PREROUTING -i lo -j CT --notrack; \
iptables -t raw -A OUTPUT -o lo -j CT --notrack (and ip6tables likewise)";

/// Everything `status` shows.
#[derive(Debug, Default)]
struct Report {
    count: u64,
    max: u64,
    buckets: Option<u64>,
    memory: u64,
    memory_source: &'static str,
    cpu: CpuStats,
    states: Vec<(&'static str, u64)>,
    /// Entries on the dying list (destroyed, DESTROY event not delivered).
    dying: u64,
    /// Expectations in this namespace, `nf_conntrack_expect_max`, and the
    /// per-CPU expectation counters summed.
    expect_count: u64,
    expect_max: Option<u64>,
    expect_stats: ctctl_netlink::expect::ExpCpuStats,
    /// drop, early_drop, insert_failed, clash_resolve per second, when
    /// sampled.
    rates: Option<[f64; 4]>,
    /// How the rates were sampled.
    rate_source: String,
    warn: f64,
    crit: f64,
    scanned: u64,
    loopback: u64,
    switches: Vec<(String, u64)>,
    warnings: Vec<String>,
    verdict: Option<Verdict>,
    /// The fullest source-NAT group (from the dump), when any.
    snat: Option<crate::nat::NatUse>,
}

fn is_loopback(ip: &Option<IpAddr>) -> bool {
    ip.is_some_and(|ip| ip.is_loopback())
}

/// `nf_conntrack` slab usage from /proc/slabinfo: active objects × size.
fn slab_bytes(paths: &Paths) -> Option<u64> {
    let s = read_trimmed(&paths.slabinfo).ok()?;
    let line = s
        .lines()
        .find(|l| l.split_whitespace().next() == Some("nf_conntrack"))?;
    let f: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(3)
        .filter_map(|x| x.parse().ok())
        .collect();
    Some(f.first()? * f.get(2)?)
}

/// `ctctl status`.
pub fn status(cli: &Cli, a: &StatusArgs) -> anyhow::Result<Outcome> {
    // status reads what the probe knows; it never runs it.
    crate::probe::set_policy(crate::probe::Policy::CachedOnly);
    let paths = Paths::system();
    let keys = discover(&paths);
    let mut ct = Conntrack::open()?;
    let stats = ct.stats()?;
    let mut r = Report {
        count: stats.entries as u64,
        max: stats
            .max_entries
            .map(u64::from)
            .or(read_u64(&paths.netfilter("nf_conntrack_max"))?)
            .unwrap_or(0),
        buckets: read_u64(&paths.netfilter("nf_conntrack_buckets"))?
            .or(read_u64(&paths.hashsize())?),
        ..Report::default()
    };
    for c in ct.stats_cpu()? {
        r.cpu.add(&c);
    }
    match slab_bytes(&paths) {
        Some(b) => {
            r.memory = b;
            r.memory_source = "nf_conntrack slab, all namespaces";
        }
        None => {
            r.memory = r.count * BYTES_PER_ENTRY;
            r.memory_source = "estimate: 320 B per entry";
        }
    }
    for name in ["acct", "timestamp", "events"] {
        if let Some(v) = keys
            .iter()
            .find(|k| k.name == name)
            .map(Key::read)
            .transpose()?
            .flatten()
        {
            r.switches.push((name.to_string(), v));
        }
    }
    if !a.quick {
        let mut states: HashMap<&'static str, u64> = HashMap::new();
        let mut nat = crate::nat::NatTally::new(a.nat_port_range);
        ct.try_stream(&Filter::all(), |f| -> anyhow::Result<ControlFlow<()>> {
            r.scanned += 1;
            nat.add(f);
            *states.entry(f.state_name().unwrap_or("-")).or_insert(0) += 1;
            if is_loopback(&f.orig.src) && is_loopback(&f.orig.dst) {
                r.loopback += 1;
            }
            Ok(ControlFlow::Continue(()))
        })?;
        let mut v: Vec<_> = states.into_iter().collect();
        v.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        v.truncate(5);
        r.states = v;
        r.snat = nat.top(1).into_iter().next();
    }
    // The dying list is short unless reliable event delivery holds entries
    // back (events --reliable with a slow reader): that backlog shows here.
    ct.stream_table(
        crate::conntrack::Table::Dying,
        &Filter::all(),
        |_| -> anyhow::Result<ControlFlow<()>> {
            r.dying += 1;
            Ok(ControlFlow::Continue(()))
        },
    )?;
    r.expect_count = ct.expect_count(&crate::expect::ExpectFilter::default())?;
    r.expect_max = read_u64(&paths.netfilter("nf_conntrack_expect_max"))?;
    r.expect_stats = ct.expect_totals()?;
    r.warn = a.warn;
    r.crit = a.crit;
    if a.check || a.state_file.is_some() {
        sample_rates(&mut ct, a, &mut r)?;
    }
    judge(&mut r);
    print(cli, &r)?;
    let verdict = r.verdict.unwrap_or(Verdict::Ok);
    if a.check {
        return Ok(Outcome::Check(verdict.exit_code()));
    }
    Ok(Outcome::Ok)
}

fn pct(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        100.0 * part as f64 / whole as f64
    }
}

/// A sample of the trouble counters, kept in `--state-file` between runs.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
struct Sample {
    time_ns: u64,
    drop: u64,
    early_drop: u64,
    insert_failed: u64,
    // Absent from samples kept by earlier versions.
    #[serde(default)]
    clash_resolve: u64,
}

impl Sample {
    fn of(c: &CpuStats) -> Sample {
        Sample {
            time_ns: crate::format::record::now_ns(),
            drop: u64::from(c.drop),
            early_drop: u64::from(c.early_drop),
            insert_failed: u64::from(c.insert_failed),
            clash_resolve: u64::from(c.clash_resolve),
        }
    }

    /// Per-second rates from `earlier` to `self` (a counter that went
    /// down, after a reboot, counts from 0).
    fn rates_since(&self, earlier: &Sample) -> [f64; 4] {
        let secs = (self.time_ns.saturating_sub(earlier.time_ns) as f64 / 1e9).max(1e-3);
        let r = |now: u64, then: u64| {
            let d = if now >= then { now - then } else { now };
            d as f64 / secs
        };
        [
            r(self.drop, earlier.drop),
            r(self.early_drop, earlier.early_drop),
            r(self.insert_failed, earlier.insert_failed),
            r(self.clash_resolve, earlier.clash_resolve),
        ]
    }
}

/// The sample kept in a `--state-file`: read without following a symlink,
/// at most 64 KiB, and only from a file that nobody but root (or the
/// running user) could have written. A missing file is no sample yet.
fn read_state(path: &std::path::Path) -> anyhow::Result<Option<Sample>> {
    use std::io::Read as _;
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let file = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => anyhow::bail!(
            "--state-file {}: is a symbolic link; give the file itself",
            path.display()
        ),
        Err(e) => {
            return Err(anyhow::Error::from(e).context(format!("--state-file {}", path.display())))
        }
    };
    let meta = file.metadata()?;
    let euid = nix::unistd::geteuid().as_raw();
    if !meta.is_file() {
        anyhow::bail!("--state-file {}: not a regular file", path.display());
    }
    if (meta.uid() != 0 && meta.uid() != euid) || meta.mode() & 0o022 != 0 {
        anyhow::bail!(
            "--state-file {}: owned by uid {} or writable by others (mode {:o}); a sample others can write is not trusted: use a file only root can write",
            path.display(),
            meta.uid(),
            meta.mode() & 0o7777
        );
    }
    let mut text = String::new();
    file.take(64 << 10).read_to_string(&mut text)?;
    Ok(serde_json::from_str(&text).ok())
}

/// Per-second rates of drop, early_drop and insert_failed: over
/// `--interval`, or since the sample in `--state-file` (then replaced).
fn sample_rates(ct: &mut Conntrack, a: &StatusArgs, r: &mut Report) -> anyhow::Result<()> {
    let sum = |ct: &mut Conntrack| -> anyhow::Result<CpuStats> {
        let mut s = CpuStats::default();
        for c in ct.stats_cpu()? {
            s.add(&c);
        }
        Ok(s)
    };
    let now = Sample::of(&r.cpu);
    if let Some(path) = &a.state_file {
        let earlier: Option<Sample> = read_state(path)?;
        let body = serde_json::to_string(&now)? + "\n";
        crate::tune::persist::replace_all(&[(path.clone(), body)])?;
        match earlier {
            Some(e) if e.time_ns < now.time_ns => {
                r.rates = Some(now.rates_since(&e));
                r.rate_source = format!(
                    "since the sample in {} ({:.0} s ago)",
                    path.display(),
                    (now.time_ns - e.time_ns) as f64 / 1e9
                );
            }
            _ => {
                r.rate_source = format!(
                    "first sample kept in {}: rates from the next run on",
                    path.display()
                );
            }
        }
        return Ok(());
    }
    std::thread::sleep(a.interval);
    let later = Sample::of(&sum(ct)?);
    r.rates = Some(later.rates_since(&now));
    r.rate_source = format!("over {:?}", a.interval);
    Ok(())
}

fn judge(r: &mut Report) {
    let mut v = Verdict::Ok;
    let util = pct(r.count, r.max);
    if util >= r.crit {
        v = Verdict::Critical;
        r.warnings.push(format!(
            "table {util:.0}% full (critical from {:.0}%): new connections are dropped at 100% (`nf_conntrack: table full, dropping packet`); raise max (`ctctl config recommend`) or clear stale entries",
            r.crit
        ));
    } else if util >= r.warn {
        v = Verdict::Warning;
        r.warnings.push(format!(
            "table {util:.0}% full (warning from {:.0}%): raise max (`ctctl config recommend`)",
            r.warn
        ));
    } else if util >= TREND_UTILISATION {
        r.warnings.push(format!(
            "note: table {util:.0}% full; worth watching the trend (not a problem yet)"
        ));
    }
    if let Some(emax) = r.expect_max.filter(|m| *m > 0) {
        let eutil = pct(r.expect_count, emax);
        if eutil >= r.warn {
            v = v.max(Verdict::Warning);
            r.warnings.push(format!(
                "expectation table {eutil:.0}% full: helpers (FTP, SIP) cannot set up related connections when it is full; raise expect_max (`ctctl config set expect_max N`)"
            ));
        }
    }
    match r.rates {
        Some([drop, early, failed, _]) => {
            if drop > 0.0 || early > 0.0 {
                v = Verdict::Critical;
                r.warnings.push(format!(
                    "the table is full now: drop {drop:.1}/s early_drop {early:.1}/s ({})",
                    r.rate_source
                ));
            } else if failed > 0.0 {
                v = v.max(Verdict::Warning);
                r.warnings.push(format!(
                    "insert_failed {failed:.1}/s: entries cannot be inserted (clashes or a full table) ({})",
                    r.rate_source
                ));
            }
        }
        None => {
            if !r.rate_source.is_empty() {
                r.warnings.push(format!("note: {}", r.rate_source));
            }
            // Without rates, counters since boot are history, not a verdict.
            if r.cpu.drop > 0 || r.cpu.early_drop > 0 || r.cpu.insert_failed > 0 {
                r.warnings.push(format!(
                    "note: since boot drop={} early_drop={} insert_failed={} (`status --check` judges the rates now)",
                    r.cpu.drop, r.cpu.early_drop, r.cpu.insert_failed
                ));
            }
        }
    }
    if let Some(u) = &r.snat {
        let util = u.utilization() * 100.0;
        let level = if util >= r.crit {
            Some(Verdict::Critical)
        } else if util >= r.warn {
            Some(Verdict::Warning)
        } else {
            None
        };
        if let Some(level) = level {
            v = v.max(level);
            let g = &u.group;
            let failing = match r.rates {
                Some([_, _, f, _]) if f > 0.0 => {
                    format!("; insert_failed {f:.1}/s: connections are failing now")
                }
                Some([_, _, _, c]) if c > 0.0 => {
                    format!("; clash_resolve {c:.1}/s: the kernel is already retrying ports")
                }
                _ => String::new(),
            };
            r.warnings.push(format!(
                "source NAT address {} ({}) has {} of its {} ports in use toward {}:{} ({util:.1}%){failing}; when none is left new connections to it fail. Add SNAT addresses (nft `snat to ADDR1-ADDR2`), widen the port range (`masquerade to :1024-65535`), pick ports at random (`masquerade random-fully`), or shorten UDP timeouts (`ctctl config set timeout.udp=10s timeout.udp.stream=60s`); `ctctl nat` lists the destinations",
                g.snat,
                crate::flow::proto_name(g.proto),
                thousands(u.used),
                thousands(g.available()),
                g.dst,
                g.dport
            ));
        }
    }
    if r.cpu.chaintoolong > 0 {
        v = v.max(Verdict::Warning);
        r.warnings.push(format!(
            "chaintoolong={}: hash chains grew too long; raise hashsize",
            r.cpu.chaintoolong
        ));
    }
    if let Some(b) = r.buckets {
        let depth = r.max as f64 / b.max(1) as f64;
        if depth > 16.0 {
            v = v.max(Verdict::Warning);
            r.warnings.push(format!(
                "max / buckets = {depth:.1}: a full table averages {depth:.0} entries per bucket; set hashsize to about max / 4"
            ));
        }
    }
    if r.scanned > 0 && pct(r.loopback, r.scanned) >= LOOPBACK_SHARE {
        r.warnings.push(format!(
            "{:.0}% of the entries are loopback traffic, which rarely needs tracking; exempt it with: {NOTRACK_NFT}  (iptables: {NOTRACK_IPT})",
            pct(r.loopback, r.scanned)
        ));
    }
    r.verdict = Some(v);
}

fn print(cli: &Cli, r: &Report) -> anyhow::Result<()> {
    let mut out = Out::stdout();
    let verdict = r.verdict.unwrap_or(Verdict::Ok);
    if cli.output == Format::Json {
        let b = out.buf();
        b.extend_from_slice(
            format!(
                "{{\"count\":{},\"max\":{},\"utilisation\":{:.1},",
                r.count,
                r.max,
                pct(r.count, r.max)
            )
            .as_bytes(),
        );
        match r.buckets {
            Some(bk) => b.extend_from_slice(
                format!(
                    "\"buckets\":{bk},\"depth\":{:.2},\"depth_full\":{:.2},",
                    r.count as f64 / bk.max(1) as f64,
                    r.max as f64 / bk.max(1) as f64
                )
                .as_bytes(),
            ),
            None => b.extend_from_slice(b"\"buckets\":null,"),
        }
        b.extend_from_slice(format!("\"memory_bytes\":{},\"memory_source\":", r.memory).as_bytes());
        json::string(b, r.memory_source);
        b.extend_from_slice(b",\"stats\":{");
        for (i, (k, v)) in r.cpu.fields().iter().enumerate() {
            if i > 0 {
                b.push(b',');
            }
            b.extend_from_slice(format!("\"{k}\":{v}").as_bytes());
        }
        b.extend_from_slice(b"},\"states\":{");
        for (i, (k, v)) in r.states.iter().enumerate() {
            if i > 0 {
                b.push(b',');
            }
            json::string(b, k);
            b.extend_from_slice(format!(":{v}").as_bytes());
        }
        b.extend_from_slice(
            format!(
                "}},\"loopback\":{},\"dying\":{},\"expect\":{{\"count\":{},\"max\":{},\"expect_new\":{},\"expect_create\":{},\"expect_delete\":{}}},\"rates\":",
                r.loopback,
                r.dying,
                r.expect_count,
                r.expect_max.map_or("null".to_string(), |m| m.to_string()),
                r.expect_stats.new,
                r.expect_stats.create,
                r.expect_stats.delete
            )
            .as_bytes(),
        );
        match r.rates {
            Some([d, e, f, c]) => b.extend_from_slice(
                format!(
                    "{{\"drop_per_second\":{d:.3},\"early_drop_per_second\":{e:.3},\"insert_failed_per_second\":{f:.3},\"clash_resolve_per_second\":{c:.3}}}"
                )
                .as_bytes(),
            ),
            None => b.extend_from_slice(b"null"),
        }
        b.extend_from_slice(b",\"snat\":");
        match &r.snat {
            // The same object as a line of `ctctl -o json nat`.
            Some(u) => super::nat::write_json(b, u),
            None => b.extend_from_slice(b"null"),
        }
        b.extend_from_slice(b",\"switches\":{");
        for (i, (k, v)) in r.switches.iter().enumerate() {
            if i > 0 {
                b.push(b',');
            }
            json::string(b, k);
            b.extend_from_slice(format!(":{v}").as_bytes());
        }
        b.extend_from_slice(b"},\"kernel_probe\":");
        probe_json(b);
        b.extend_from_slice(b",\"verdict\":");
        json::string(b, verdict.name());
        b.extend_from_slice(b",\"warnings\":[");
        for (i, w) in r.warnings.iter().enumerate() {
            if i > 0 {
                b.push(b',');
            }
            json::string(b, w);
        }
        b.extend_from_slice(b"]}");
        out.line_done()?;
        out.flush()?;
        return Ok(());
    }
    let mut line = |s: String| -> std::io::Result<()> {
        out.buf().extend_from_slice(s.as_bytes());
        out.line_done()
    };
    line(format!(
        "entries    {} / {} max ({:.1}%)",
        thousands(r.count),
        thousands(r.max),
        pct(r.count, r.max)
    ))?;
    if let Some(bk) = r.buckets {
        line(format!(
            "buckets    {} (average depth {:.2} now, {:.1} when full)",
            thousands(bk),
            r.count as f64 / bk.max(1) as f64,
            r.max as f64 / bk.max(1) as f64
        ))?;
    }
    line(format!(
        "memory     {} ({})",
        human_bytes(r.memory),
        r.memory_source
    ))?;
    if r.scanned > 0 || !r.states.is_empty() {
        let states: Vec<String> = r
            .states
            .iter()
            .map(|(s, n)| format!("{s} {} ({:.1}%)", thousands(*n), pct(*n, r.scanned)))
            .collect();
        line(format!("states     {}", states.join(", ")))?;
        line(format!(
            "loopback   {} entries ({:.1}%)",
            thousands(r.loopback),
            pct(r.loopback, r.scanned)
        ))?;
    }
    let mut s = String::new();
    for (k, v) in r.cpu.fields() {
        s += &format!("{k}={v} ");
    }
    line(format!("stats      {} (since boot)", s.trim_end()))?;
    if r.dying > 0 {
        line(format!(
            "dying      {} entries destroyed, their DESTROY event not yet delivered (a slow `events --reliable` reader holds them)",
            thousands(r.dying)
        ))?;
    }
    line(format!(
        "expect     {} / {} max (expect_new={} expect_create={} expect_delete={} since boot)",
        thousands(r.expect_count),
        r.expect_max.map_or("?".to_string(), thousands),
        r.expect_stats.new,
        r.expect_stats.create,
        r.expect_stats.delete
    ))?;
    if let Some([d, e, f, c]) = r.rates {
        line(format!(
            "rates      drop {d:.1}/s early_drop {e:.1}/s insert_failed {f:.1}/s clash_resolve {c:.1}/s ({})",
            r.rate_source
        ))?;
    }
    if let Some(u) = &r.snat {
        let g = &u.group;
        line(format!(
            "snat       fullest: {} {} -> {}:{} {} / {} ports ({:.1}%)",
            crate::flow::proto_name(g.proto),
            g.snat,
            g.dst,
            g.dport,
            thousands(u.used),
            thousands(g.available()),
            u.utilization() * 100.0
        ))?;
    }
    let sw: Vec<String> = r
        .switches
        .iter()
        .map(|(k, v)| match (k.as_str(), v) {
            ("events", v) => format!("events={v}"),
            (k, 0) => format!("{k}=off"),
            (k, _) => format!("{k}=on"),
        })
        .collect();
    line(format!("switches   {}", sw.join(" ")))?;
    for l in probe_lines() {
        line(l)?;
    }
    line(format!("verdict    {}", verdict.name()))?;
    for w in &r.warnings {
        line(format!("warning    {w}"))?;
    }
    out.flush()?;
    Ok(())
}

/// `ctctl probe [--all]`: proves the usual request shapes (every shape
/// the CLI can produce, with `--all`) now, and keeps the verdicts.
pub fn probe(cli: &Cli, all: bool) -> anyhow::Result<Outcome> {
    let shapes = if all {
        crate::probe::all_shapes()
    } else {
        crate::probe::common_shapes()
    };
    let (results, took) = crate::probe::reprobe(shapes)?;
    let mut out = Out::stdout();
    let proved = results
        .iter()
        .filter(|(_, o)| *o == crate::probe::Outcome::Proved)
        .count();
    if cli.output == Format::Json {
        for (s, o) in &results {
            let b = out.buf();
            b.extend_from_slice(b"{\"shape\":");
            json::string(b, &s.key());
            b.extend_from_slice(b",\"verdict\":");
            json::string(b, &crate::probe::describe(o));
            b.push(b'}');
            out.line_done()?;
        }
    } else {
        for (s, o) in &results {
            out.buf()
                .extend_from_slice(format!("{s}: {}", crate::probe::describe(o)).as_bytes());
            out.line_done()?;
        }
    }
    out.flush()?;
    eprintln!(
        "ctctl: {proved} of {} request shapes proved in {} ms, kept in {}",
        results.len(),
        took.as_millis(),
        crate::probe::CACHE_FILE
    );
    Ok(Outcome::Ok)
}

/// What is known of the kernel's request shapes this boot, as `status`
/// prints it (never probing: status only reads what is kept).
fn probe_lines() -> Vec<String> {
    let (known, could_not_run) = crate::probe::known();
    let proved = known
        .iter()
        .filter(|(_, o)| *o == crate::probe::Outcome::Proved)
        .count();
    let mut out = vec![format!(
        "kernel     filters proved: {proved} of {} request shapes known this boot ({})",
        known.len(),
        crate::probe::CACHE_FILE
    )];
    if let Some(why) = could_not_run {
        out.push(format!("           probe could not run: {why}"));
    }
    for (s, o) in known
        .iter()
        .filter(|(_, o)| *o != crate::probe::Outcome::Proved)
    {
        out.push(format!("           {s}: {}", crate::probe::describe(o)));
    }
    out
}

fn probe_json(b: &mut Vec<u8>) {
    let (known, could_not_run) = crate::probe::known();
    b.extend_from_slice(b"{\"source\":");
    json::string(
        b,
        match (&could_not_run, known.is_empty()) {
            (Some(_), _) => "could_not_run",
            (None, true) => "none_yet",
            (None, false) => "cached",
        },
    );
    b.extend_from_slice(b",\"reason\":");
    match &could_not_run {
        Some(r) => json::string(b, r),
        None => b.extend_from_slice(b"null"),
    }
    for (name, want) in [("proved", true), ("not_proved", false)] {
        b.extend_from_slice(format!(",\"{name}\":[").as_bytes());
        let mut first = true;
        for (s, o) in known
            .iter()
            .filter(|(_, o)| (*o == crate::probe::Outcome::Proved) == want)
        {
            if !first {
                b.push(b',');
            }
            first = false;
            if want {
                json::string(b, s);
            } else {
                b.extend_from_slice(b"{\"shape\":");
                json::string(b, s);
                b.extend_from_slice(b",\"why\":");
                json::string(b, &crate::probe::describe(o));
                b.push(b'}');
            }
        }
        b.push(b']');
    }
    b.push(b'}');
}

/// `ctctl stats`: per-CPU counters, `conntrack -S` lines.
pub fn stats(cli: &Cli) -> anyhow::Result<Outcome> {
    let mut ct = Conntrack::open()?;
    let mut out = Out::stdout();
    for c in ct.stats_cpu()? {
        let b = out.buf();
        if cli.output == Format::Json {
            b.extend_from_slice(format!("{{\"cpu\":{}", c.cpu).as_bytes());
            for (k, v) in c.fields() {
                b.extend_from_slice(format!(",\"{k}\":{v}").as_bytes());
            }
            b.push(b'}');
        } else {
            // "cpu=%-4u\t" then "name=value " per counter, as conntrack -S.
            b.extend_from_slice(format!("cpu={:<4}\t", c.cpu).as_bytes());
            for (k, v) in c.fields() {
                b.extend_from_slice(k.as_bytes());
                b.push(b'=');
                text::num(b, v as u64);
                b.push(b' ');
            }
        }
        out.line_done()?;
    }
    out.flush()?;
    Ok(Outcome::Ok)
}
