//! The exporter's metrics: one snapshot of every followed namespace,
//! written as the Prometheus text format 0.0.4, or as OpenMetrics for a
//! scraper that asks for it.
//!
//! Written directly rather than through prometheus-client: at 110
//! namespaces (6,700 samples) its per-character label escaping and
//! per-sample label vectors, and the conversion to the text format, took
//! 3.4 ms a scrape; this writer takes a fraction of that (docs/exporter.md).

use std::fmt::Write as _;

use crate::flow::{family_name, proto_name};
use std::collections::HashMap;
use std::net::IpAddr;

use crate::live::pods::Pod;
use crate::live::{Follower, Ns, Snapshot};

/// The followed tables, and how many top values to show.
#[derive(Debug, Clone)]
pub struct Tables {
    /// The namespaces' tables.
    pub follower: Follower,
    /// Values shown by name in each ranking.
    pub top: usize,
}

/// Labels, written: `netns="a",state="b"` (empty: none).
type Labels = String;

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

    /// Writes the family. Counters' samples are named `NAME_total`; the
    /// text format names the family so too, OpenMetrics by `NAME`.
    fn write(&self, out: &mut String, openmetrics: bool) {
        let suffix = if self.counter { "_total" } else { "" };
        let family = if openmetrics { "" } else { suffix };
        let kind = if self.counter { "counter" } else { "gauge" };
        let help = self.help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(out, "# HELP {}{family} {help}", self.name);
        let _ = writeln!(out, "# TYPE {}{family} {kind}", self.name);
        for (labels, v) in &self.samples {
            out.push_str(self.name);
            out.push_str(suffix);
            if !labels.is_empty() {
                out.push('{');
                out.push_str(labels);
                out.push('}');
            }
            out.push(' ');
            // Counts print as integers (`50`, not `50.0`); rates as floats.
            if v.fract() == 0.0 && v.abs() < (1u64 << 53) as f64 {
                let _ = write!(out, "{}", *v as i64);
            } else if v.is_nan() {
                out.push_str("NaN");
            } else if v.is_infinite() {
                out.push_str(if *v > 0.0 { "+Inf" } else { "-Inf" });
            } else {
                let _ = write!(out, "{v}");
            }
            out.push('\n');
        }
    }
}

/// Appends `key="value"` to `out`, the value escaped as the formats say
/// (backslash, double quote, line feed).
fn label(out: &mut String, key: &str, value: &str) {
    if !out.is_empty() {
        out.push(',');
    }
    out.push_str(key);
    out.push_str("=\"");
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The labels of a namespace's series: `netns`, and for a pod's, `pod`,
/// `namespace` and `pod_uid`.
fn ns_base(ns: &Ns) -> Labels {
    let mut l = ns_labels(&ns.label);
    if let Some(p) = &ns.pod {
        label(&mut l, "pod", &p.name);
        label(&mut l, "namespace", &p.namespace);
        label(&mut l, "pod_uid", &p.uid);
    }
    l
}

/// A source's labels: `src`, and `src_pod`, `src_namespace` when the
/// address is a pod's.
fn src_labels(ip: &IpAddr, pod_of: &HashMap<IpAddr, &Pod>) -> Vec<(&'static str, String)> {
    let mut v = vec![("src", ip.to_string())];
    if let Some(p) = pod_of.get(ip) {
        v.push(("src_pod", p.name.clone()));
        v.push(("src_namespace", p.namespace.clone()));
    }
    v
}

fn ns_labels(name: &str) -> Labels {
    let mut l = String::with_capacity(name.len() + 16);
    label(&mut l, "netns", name);
    l
}

fn with(mut l: Labels, more: &[(&'static str, String)]) -> Labels {
    for (k, v) in more {
        label(&mut l, k, v);
    }
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
    let nss = tables.follower.namespaces();
    let mut bytes = Family::new(
        "conntrack_exporter_table_bytes",
        "Memory the exporter keeps for a namespace's table (entries, tallies, rankings)",
        false,
    );
    // Pods' addresses, to name the pod a source belongs to.
    let pod_of: HashMap<IpAddr, &Pod> = nss
        .iter()
        .filter_map(|ns| Some((ns.pod.as_ref()?, &ns.addrs)))
        .flat_map(|(p, addrs)| addrs.iter().map(move |a| (*a, p)))
        .collect();
    let mut snat_util = Family::new(
        "conntrack_snat_port_utilization",
        "Source NAT: per NAT address, the share of its ports in use toward its fullest destination (0 to 1; at 1 new connections to it fail); snat=\"other\" for the addresses beyond --top",
        false,
    );
    let mut snat_entries = Family::new(
        "conntrack_snat_entries",
        "Source-NATed entries per NAT address",
        false,
    );
    for ns in &nss {
        let base = ns_base(ns);
        let (s, heap): (Snapshot, usize) = ns.snapshot_and_bytes(tables.top);
        bytes.samples.push((base.clone(), heap as f64));
        entries.samples.push((base.clone(), s.kernel_count as f64));
        limit.samples.push((base.clone(), s.max as f64));
        for (k, n) in &s.by_state {
            by_state.samples.push((
                with(
                    base.clone(),
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
                .push((with(base.clone(), &[("type", t.to_string())]), v as f64));
        }
        overruns.samples.push((base.clone(), s.overruns as f64));
        resyncs.samples.push((base.clone(), s.resyncs as f64));
        for (ip, n) in &s.top_src.top {
            top_src
                .samples
                .push((with(base.clone(), &src_labels(ip, &pod_of)), *n as f64));
        }
        top_src.samples.push((
            with(base.clone(), &[("src", "other".into())]),
            s.top_src.other as f64,
        ));
        for (ip, r) in &s.new_src.top {
            new_src
                .samples
                .push((with(base.clone(), &src_labels(ip, &pod_of)), *r));
        }
        new_src.samples.push((
            with(base.clone(), &[("src", "other".into())]),
            s.new_src.other,
        ));
        expectations
            .samples
            .push((base.clone(), s.expectations as f64));
        let e = s.expect_stats;
        for (t, v) in ["new", "create", "delete"]
            .iter()
            .zip([e.new, e.create, e.delete])
        {
            expect_events
                .samples
                .push((with(base.clone(), &[("type", t.to_string())]), v as f64));
        }
        for u in &s.snat {
            let l = with(
                base.clone(),
                &[
                    ("proto", proto_name(u.proto).to_string()),
                    (
                        "snat",
                        u.snat
                            .map_or_else(|| "other".to_string(), |a| a.to_string()),
                    ),
                ],
            );
            snat_util.samples.push((l.clone(), u.utilization));
            snat_entries.samples.push((l, u.entries as f64));
        }
        for (f, (_, v)) in stats.iter_mut().zip(s.stats.fields()) {
            f.samples.push((base.clone(), f64::from(v)));
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
    out.push(snat_util);
    out.push(snat_entries);
    out.extend(stats);
    out.push(bytes);
    let scan = tables.follower.last_scan();
    let mut followed = Family::new(
        "conntrack_exporter_namespaces",
        "Network namespaces followed now",
        false,
    );
    followed.samples.push((String::new(), nss.len() as f64));
    let mut scan_secs = Family::new(
        "conntrack_exporter_scan_seconds",
        "How long the last look for namespaces took (--all-netns: /run/netns, nsfs mounts, /proc/*/ns/net)",
        false,
    );
    scan_secs
        .samples
        .push((String::new(), scan.took.as_secs_f64()));
    out.push(followed);
    out.push(scan_secs);
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
            let mut l = String::new();
            label(&mut l, "op", op);
            label(&mut l, "result", result);
            f.samples.push((l, n as f64));
        }
    }
    f
}

/// The metrics, as OpenMetrics or as the text format 0.0.4, and their
/// content type.
pub fn render(tables: &Tables, openmetrics: bool) -> (String, &'static str) {
    let families = families(tables);
    let n: usize = families.iter().map(|f| f.samples.len()).sum();
    let mut out = String::with_capacity(n * 96 + families.len() * 160);
    for f in &families {
        f.write(&mut out, openmetrics);
    }
    if openmetrics {
        out.push_str("# EOF\n");
        (
            out,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )
    } else {
        (out, "text/plain; version=0.0.4; charset=utf-8")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_formats_name_counters_as_they_should_and_escape_labels() {
        let mut c = Family::new("conntrack_events", "Conntrack events.", true);
        c.samples.push((
            with(ns_labels("a\"b\\c\nd"), &[("type", "new".into())]),
            3.0,
        ));
        let mut g = Family::new("conntrack_entries", "Entries.", false);
        g.samples.push((String::new(), 7.0));
        g.samples.push((ns_labels("x"), 0.25));
        let mut text = String::new();
        c.write(&mut text, false);
        g.write(&mut text, false);
        assert_eq!(
            text,
            "# HELP conntrack_events_total Conntrack events.\n\
             # TYPE conntrack_events_total counter\n\
             conntrack_events_total{netns=\"a\\\"b\\\\c\\nd\",type=\"new\"} 3\n\
             # HELP conntrack_entries Entries.\n\
             # TYPE conntrack_entries gauge\n\
             conntrack_entries 7\n\
             conntrack_entries{netns=\"x\"} 0.25\n"
        );
        let mut om = String::new();
        c.write(&mut om, true);
        assert!(om.starts_with("# HELP conntrack_events Conntrack events.\n# TYPE conntrack_events counter\nconntrack_events_total{"));
    }
}
