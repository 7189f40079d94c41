//! `ctctl exporter`: the conntrack table of one or many network namespaces
//! for Prometheus, served from memory ([`crate::live`]) so a scrape never
//! dumps the table.
//!
//! Encoded with prometheus-client (OpenMetrics); a scraper that does not
//! ask for OpenMetrics gets the Prometheus text format 0.0.4, converted
//! from the same output.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use super::args::{Cli, ExporterArgs};
use super::{signals, Outcome};
use crate::filter::{family_name, proto_name};
use crate::live::{Live, LiveOptions, Snapshot};

/// The exporter's default port: 9371, which Prometheus' default port
/// allocations give to conntrack-stats-exporter, the conntrack exporter
/// this one replaces (a host runs one of them).
pub const DEFAULT_LISTEN: &str = "0.0.0.0:9371";

/// The tables, labelled by namespace, and how many top values to show.
#[derive(Debug)]
struct Tables {
    lives: Vec<(String, Live)>,
    top: usize,
}

type Labels = Vec<(&'static str, String)>;

/// One metric family: name, help, type, and its samples.
struct Family {
    name: &'static str,
    help: &'static str,
    counter: bool,
    samples: Vec<(Labels, f64)>,
}

impl Family {
    fn new(name: &'static str, help: &'static str, counter: bool) -> Family {
        Family {
            name,
            help,
            counter,
            samples: Vec::new(),
        }
    }

    fn encode(&self, encoder: &mut DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let kind = if self.counter {
            MetricType::Counter
        } else {
            MetricType::Gauge
        };
        let mut family = encoder.encode_descriptor(self.name, self.help, None, kind)?;
        for (labels, v) in &self.samples {
            let sample = family.encode_family(labels)?;
            // Counts print as integers (`50`, not `50.0`); rates as floats.
            let whole = v.fract() == 0.0 && v.abs() < (1u64 << 53) as f64;
            match (self.counter, whole) {
                (true, true) => ConstCounter::new(*v as u64).encode(sample)?,
                (true, false) => ConstCounter::new(*v).encode(sample)?,
                (false, true) => ConstGauge::new(*v as i64).encode(sample)?,
                (false, false) => ConstGauge::new(*v).encode(sample)?,
            }
        }
        Ok(())
    }
}

fn ns(name: &str) -> Labels {
    vec![("netns", name.to_string())]
}

fn with(mut l: Labels, more: &[(&'static str, String)]) -> Labels {
    l.extend_from_slice(more);
    l
}

/// The families of all tables, from one snapshot each.
fn families(tables: &Tables) -> Vec<Family> {
    let mut entries = Family::new(
        "conntrack_entries",
        "Entries in the table (the kernel's count, GET_STATS)",
        false,
    );
    let mut limit = Family::new(
        "conntrack_entries_limit",
        "nf_conntrack_max: the table is full at this many entries (global)",
        false,
    );
    let mut by_state = Family::new(
        "conntrack_entries_by_state",
        "Entries by family, protocol and state (state=\"none\" for protocols without states); kept from events, corrected by dumps",
        false,
    );
    let mut events = Family::new(
        "conntrack_events",
        "Conntrack events received, by type",
        true,
    );
    let mut overruns = Family::new(
        "conntrack_event_overruns",
        "Times the kernel dropped events for the exporter (each followed by a resync dump)",
        true,
    );
    let mut resyncs = Family::new(
        "conntrack_resyncs",
        "Dumps of the table that corrected the event-kept counters",
        true,
    );
    let mut top_src = Family::new(
        "conntrack_top_source_entries",
        "Entries of the busiest original sources; src=\"other\" sums the rest",
        false,
    );
    let mut new_src = Family::new(
        "conntrack_top_source_new_per_second",
        "New entries per second of the busiest sources over the last 10 s; src=\"other\" sums the rest",
        false,
    );
    let mut expectations = Family::new(
        "conntrack_expectations",
        "Expectations in the table (connections helpers such as FTP and SIP announced)",
        false,
    );
    let mut expect_events = Family::new(
        "conntrack_expect_stat",
        "Expectation counters summed over CPUs: type=\"new\" matched a connection, \"create\", \"delete\"",
        true,
    );
    let mut stats: Vec<Family> = STATS
        .iter()
        .map(|(_, metric, help)| Family::new(metric, help, true))
        .collect();
    for (name, live) in &tables.lives {
        let s: Snapshot = live.snapshot(tables.top);
        entries.samples.push((ns(name), s.kernel_count as f64));
        limit.samples.push((ns(name), s.max as f64));
        for (k, n) in &s.by_state {
            by_state.samples.push((
                with(
                    ns(name),
                    &[
                        ("family", family_name(k.family).to_string()),
                        ("proto", proto_name(k.proto).to_string()),
                        ("state", k.state.to_string()),
                    ],
                ),
                *n as f64,
            ));
        }
        for (t, v) in ["new", "update", "destroy"].iter().zip(s.events) {
            events
                .samples
                .push((with(ns(name), &[("type", t.to_string())]), v as f64));
        }
        overruns.samples.push((ns(name), s.overruns as f64));
        resyncs.samples.push((ns(name), s.resyncs as f64));
        for (ip, n) in &s.top_src.top {
            top_src
                .samples
                .push((with(ns(name), &[("src", ip.to_string())]), *n as f64));
        }
        top_src.samples.push((
            with(ns(name), &[("src", "other".into())]),
            s.top_src.other as f64,
        ));
        for (ip, r) in &s.new_src.top {
            new_src
                .samples
                .push((with(ns(name), &[("src", ip.to_string())]), *r));
        }
        new_src
            .samples
            .push((with(ns(name), &[("src", "other".into())]), s.new_src.other));
        expectations.samples.push((ns(name), s.expectations as f64));
        let e = s.expect_stats;
        for (t, v) in ["new", "create", "delete"]
            .iter()
            .zip([e.new, e.create, e.delete])
        {
            expect_events
                .samples
                .push((with(ns(name), &[("type", t.to_string())]), v as f64));
        }
        for (f, (_, v)) in stats.iter_mut().zip(s.stats.fields()) {
            f.samples.push((ns(name), f64::from(v)));
        }
    }
    let mut out = vec![
        entries,
        limit,
        by_state,
        events,
        overruns,
        resyncs,
        top_src,
        new_src,
        expectations,
        expect_events,
    ];
    out.extend(stats);
    out.push(probe_family());
    out
}

/// The per-CPU statistics (`CpuStats::fields` order), their metric names
/// and help: read over netlink (GET_STATS_CPU), so they work without
/// CONFIG_NF_CONNTRACK_PROCFS, summed over CPUs.
const STATS: [(&str, &str, &str); 10] = [
    (
        "found",
        "conntrack_stat_found",
        "Lookups that found an entry",
    ),
    (
        "invalid",
        "conntrack_stat_invalid",
        "Packets that could not be tracked",
    ),
    ("insert", "conntrack_stat_insert", "Entries inserted"),
    (
        "insert_failed",
        "conntrack_stat_insert_failed",
        "Entries that could not be inserted (clashes, or a full table)",
    ),
    (
        "drop",
        "conntrack_stat_drop",
        "Packets dropped because the table was full",
    ),
    (
        "early_drop",
        "conntrack_stat_early_drop",
        "Entries dropped early to make room in a full table",
    ),
    (
        "error",
        "conntrack_stat_error",
        "ICMP errors that matched no entry, and other errors",
    ),
    (
        "search_restart",
        "conntrack_stat_search_restart",
        "Lookups restarted because of a concurrent resize",
    ),
    (
        "clash_resolve",
        "conntrack_stat_clash_resolve",
        "Insert clashes resolved",
    ),
    (
        "chaintoolong",
        "conntrack_stat_chaintoolong",
        "Hash chains found too long",
    ),
];

/// What the kernel probe knows this boot: request shapes proved and not
/// (read from the verdicts kept; the exporter never probes).
fn probe_family() -> Family {
    let (known, _) = crate::probe::known();
    let mut f = Family::new(
        "conntrack_kernel_filter_shapes",
        "Request shapes the kernel probe has judged this boot (ctctl probe): proved, or not (matched in userspace)",
        false,
    );
    for op in ["dump", "flush"] {
        for (result, want) in [("proved", true), ("not_proved", false)] {
            let n = known
                .iter()
                .filter(|(s, o)| s.starts_with(op) && (*o == crate::probe::Outcome::Proved) == want)
                .count();
            f.samples.push((
                vec![("op", op.to_string()), ("result", result.to_string())],
                n as f64,
            ));
        }
    }
    f
}

impl Collector for Tables {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        for f in families(self) {
            f.encode(&mut encoder)?;
        }
        Ok(())
    }
}

/// OpenMetrics text as prometheus-client writes it, turned into the
/// Prometheus text format 0.0.4: counters are named with their `_total`
/// suffix in `# HELP`/`# TYPE`, `# UNIT` and `# EOF` go.
pub fn to_text_format(openmetrics: &str) -> String {
    let mut counters: Vec<String> = Vec::new();
    for l in openmetrics.lines() {
        if let Some(rest) = l.strip_prefix("# TYPE ") {
            if let Some(name) = rest.strip_suffix(" counter") {
                counters.push(name.to_string());
            }
        }
    }
    let mut out = String::with_capacity(openmetrics.len());
    for l in openmetrics.lines() {
        if l == "# EOF" || l.starts_with("# UNIT ") {
            continue;
        }
        let meta = l
            .strip_prefix("# HELP ")
            .map(|r| ("# HELP ", r))
            .or_else(|| l.strip_prefix("# TYPE ").map(|r| ("# TYPE ", r)));
        if let Some((tag, rest)) = meta {
            let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
            if counters.iter().any(|c| c == name) {
                out.push_str(&format!("{tag}{name}_total {tail}\n"));
                continue;
            }
        }
        out.push_str(l);
        out.push('\n');
    }
    out
}

/// Every network namespace of the host: the named ones (`ip netns`) and
/// those of every process, each once (by inode). Labels: the ip-netns name,
/// `init` for PID 1's, else `pid/N` for the lowest PID in it.
pub fn all_namespaces() -> anyhow::Result<Vec<(String, String)>> {
    use std::os::unix::fs::MetadataExt;
    let mut seen: BTreeMap<(u64, u64), (String, String)> = BTreeMap::new();
    let inode = |p: &Path| std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()));
    if let Ok(rd) = std::fs::read_dir(crate::netns::NETNS_RUN_DIR) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(k) = inode(&e.path()) {
                seen.entry(k).or_insert((name.clone(), name));
            }
        }
    }
    let mut pids: Vec<u32> = std::fs::read_dir("/proc")
        .context("reading /proc")?
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect();
    pids.sort_unstable();
    for pid in pids {
        let path = format!("/proc/{pid}/ns/net");
        if let Some(k) = inode(Path::new(&path)) {
            let label = if pid == 1 {
                "init".to_string()
            } else {
                format!("pid/{pid}")
            };
            seen.entry(k).or_insert((label, path));
        }
    }
    Ok(seen.into_values().collect())
}

/// `ctctl exporter`.
pub fn run(cli: &Cli, a: &ExporterArgs) -> anyhow::Result<Outcome> {
    if a.all_netns && !cli.netns.is_empty() {
        anyhow::bail!("--all-netns watches every namespace: give it or --netns, not both");
    }
    let targets: Vec<(String, Option<String>)> = if a.all_netns {
        all_namespaces()?
            .into_iter()
            .map(|(label, path)| (label, Some(path)))
            .collect()
    } else if cli.netns.is_empty() {
        vec![("self".to_string(), None)]
    } else {
        cli.netns
            .iter()
            .map(|n| (n.clone(), Some(n.clone())))
            .collect()
    };
    let opts = LiveOptions {
        resync_interval: a.resync_interval,
        ..LiveOptions::default()
    };
    let mut lives = Vec::new();
    for (label, ns) in targets {
        match Live::start(ns.clone(), opts.clone()) {
            Ok(l) => lives.push((label, l)),
            // A process may be gone, or its namespace out of reach: the
            // rest are still worth exporting.
            Err(e) if a.all_netns => tracing::warn!("skipping namespace {label}: {e}"),
            Err(e) => return Err(e).with_context(|| format!("namespace {label}")),
        }
    }
    // The exporter never probes the kernel: it sends no criterion.
    crate::probe::set_policy(crate::probe::Policy::CachedOnly);
    let mut registry = Registry::default();
    let n = lives.len();
    registry.register_collector(Box::new(Tables { lives, top: a.top }));
    signals::install().context("installing signal handlers")?;
    let server = tiny_http::Server::http(&a.listen)
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", a.listen))?;
    eprintln!(
        "ctctl: exporter listening on http://{}/metrics ({n} network namespaces)",
        server.server_addr()
    );
    while !signals::terminated() {
        let Some(req) = server.recv_timeout(Duration::from_millis(250))? else {
            continue;
        };
        serve(&registry, req);
    }
    Ok(Outcome::Ok)
}

fn serve(registry: &Registry, req: tiny_http::Request) {
    let header = |name: &str, value: &str| {
        tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("valid header")
    };
    let url = req.url().split('?').next().unwrap_or("");
    let response = match url {
        "/metrics" => {
            let mut body = String::new();
            if let Err(e) = prometheus_client::encoding::text::encode(&mut body, registry) {
                let _ = req.respond(
                    tiny_http::Response::from_string(format!("encoding failed: {e}"))
                        .with_status_code(500),
                );
                return;
            }
            let openmetrics = req.headers().iter().any(|h| {
                h.field.equiv("Accept") && h.value.as_str().contains("application/openmetrics-text")
            });
            if openmetrics {
                tiny_http::Response::from_string(body).with_header(header(
                    "Content-Type",
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                ))
            } else {
                tiny_http::Response::from_string(to_text_format(&body)).with_header(header(
                    "Content-Type",
                    "text/plain; version=0.0.4; charset=utf-8",
                ))
            }
        }
        "/" => tiny_http::Response::from_string(
            "ctctl exporter: the conntrack table for Prometheus at /metrics\n",
        )
        .with_header(header("Content-Type", "text/plain; charset=utf-8")),
        _ => tiny_http::Response::from_string("not found\n").with_status_code(404),
    };
    let _ = req.respond(response);
}

#[cfg(test)]
mod tests {
    use super::to_text_format;

    #[test]
    fn openmetrics_to_text_format() {
        let om = "# HELP conntrack_events Conntrack events.\n\
                  # TYPE conntrack_events counter\n\
                  conntrack_events_total{type=\"new\"} 3\n\
                  # HELP conntrack_entries Entries.\n\
                  # TYPE conntrack_entries gauge\n\
                  conntrack_entries 7\n\
                  # EOF\n";
        assert_eq!(
            to_text_format(om),
            "# HELP conntrack_events_total Conntrack events.\n\
             # TYPE conntrack_events_total counter\n\
             conntrack_events_total{type=\"new\"} 3\n\
             # HELP conntrack_entries Entries.\n\
             # TYPE conntrack_entries gauge\n\
             conntrack_entries 7\n"
        );
    }
}
