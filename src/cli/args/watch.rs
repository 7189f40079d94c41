//! Watching the table: `events`, `top`, `exporter`, `status`.

use clap::{Args, ValueEnum};

use super::filter::FilterArgs;
use super::values::{parse_mode, parse_size, parse_wait};

#[derive(Debug, Args)]
pub struct TopArgs {
    /// Print one frame (80x24) after one interval and exit, for scripts
    #[arg(long)]
    pub once: bool,

    /// Time between frames
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_wait)]
    pub interval: std::time::Duration,

    /// Rows in each ranking
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub top: usize,
}

#[derive(Debug, Args)]
pub struct ExporterArgs {
    /// Address and port to serve /metrics on. On a host with a public
    /// address, bind to the address Prometheus reaches (an internal one, or
    /// 127.0.0.1 behind a proxy) and use --web.config.file for TLS and a
    /// password: the counters show who talks to whom
    #[arg(long, value_name = "ADDR:PORT", default_value = crate::exporter::DEFAULT_LISTEN)]
    pub listen: String,

    /// TLS and basic authentication, in the Prometheus exporter-toolkit's
    /// web configuration format (tls_server_config, basic_auth_users,
    /// http_server_config.headers, rate_limit); reread when it changes
    #[arg(long = "web.config.file", value_name = "FILE")]
    pub web_config: Option<std::path::PathBuf>,

    /// Connections served at once; one more is answered 503
    #[arg(long = "max-connections", default_value_t = 64, value_name = "N", value_parser = clap::value_parser!(usize))]
    pub max_connections: usize,

    /// Every network namespace of the host, followed as they come and go:
    /// ip-netns names, other nsfs mounts and those of every process, each
    /// once, labelled `netns`; one is released within 10 s of its last
    /// process and mount going
    #[arg(long = "all-netns")]
    pub all_netns: bool,

    /// How often --all-netns looks for namespaces that came or went
    #[arg(long = "scan-interval", value_name = "DURATION", default_value = "5s", value_parser = parse_wait)]
    pub scan_interval: std::time::Duration,

    /// With --all-netns: the kubelet's pod log directory (NAMESPACE_NAME_UID
    /// entries), whence a pod's namespace gets `pod`, `namespace` and
    /// `pod_uid` labels
    #[arg(long = "pod-logs-dir", value_name = "DIR", default_value = crate::live::pods::POD_LOGS_DIR)]
    pub pod_logs_dir: std::path::PathBuf,

    /// The NAT rules' port range, for SNAT port utilisation (default: the
    /// kernel's automatic ranges)
    #[arg(long = "nat-port-range", value_name = "LO-HI", value_parser = super::table::parse_port_range)]
    pub nat_port_range: Option<crate::select::criteria::PortRange>,

    /// How many top sources to export by name (the rest sum into src="other")
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub top: usize,

    /// The longest between two resync dumps that correct the event-kept
    /// counters (a dump also follows every event overrun, and any drift from
    /// the kernel's count within 2 s)
    #[arg(long = "resync-interval", value_name = "DURATION", default_value = "5m", value_parser = parse_wait)]
    pub resync_interval: std::time::Duration,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Exit 0 / 1 / 2 for ok / warning / critical (Nagios plugin convention)
    #[arg(long)]
    pub check: bool,

    /// Skip the dump (no states, no loopback share): instant on any table
    #[arg(long)]
    pub quick: bool,

    /// Judge drop, early_drop and insert_failed as rates sampled over this
    /// long (with --check; counters since boot say nothing about now)
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_wait)]
    pub interval: std::time::Duration,

    /// For cron-driven checks: rates since the sample kept in this file (written
    /// each run), instead of sleeping --interval
    #[arg(long = "state-file", value_name = "PATH")]
    pub state_file: Option<std::path::PathBuf>,

    /// Utilisation (percent of max) that is a WARNING
    #[arg(long, default_value_t = 80.0, value_name = "PCT")]
    pub warn: f64,

    /// Utilisation (percent of max) that is CRITICAL
    #[arg(long, default_value_t = 95.0, value_name = "PCT")]
    pub crit: f64,

    /// The NAT rules' port range, to judge source-NAT port use (default:
    /// the kernel's automatic ranges); the same --warn / --crit apply
    #[arg(long = "nat-port-range", value_name = "LO-HI", value_parser = super::table::parse_port_range)]
    pub nat_port_range: Option<crate::select::criteria::PortRange>,
}

/// Event types for `events -e`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "lower")]
pub enum EventType {
    /// Entries created
    New,
    /// Entries changed (state, mark, ...)
    Update,
    /// Entries removed
    Destroy,
    /// All of them
    All,
}

#[derive(Debug, Args)]
pub struct EventsArgs {
    #[command(flatten)]
    pub filter: FilterArgs,

    /// Event types, comma-separated: new, update, destroy, all (default: all)
    #[arg(
        short = 'e',
        long = "event",
        value_enum,
        value_delimiter = ',',
        ignore_case = true,
        value_name = "TYPE[,TYPE]"
    )]
    pub events: Vec<EventType>,

    /// Text output: prefix each line with [seconds.microseconds] and a tab, as conntrack -E -o timestamp
    #[arg(long)]
    pub timestamp: bool,

    /// Receive buffer of the event socket (SO_RCVBUFFORCE when privileged)
    #[arg(short = 'b', long = "buffer-size", value_name = "BYTES", value_parser = parse_size, default_value = "32MiB")]
    pub buffer_size: usize,

    /// Lossless destroy events: NETLINK_BROADCAST_ERROR + NETLINK_NO_ENOBUFS; the kernel
    /// keeps entries until their DESTROY event is delivered, and may drop packets
    /// (new connections) rather than events when the reader falls behind
    #[arg(long)]
    pub reliable: bool,

    /// After an overrun, dump the table (as "resync" records) so consumers can reconcile
    #[arg(long)]
    pub resync: bool,

    /// Append to this file instead of stdout; SIGHUP reopens it (for logrotate).
    /// Never opened through a symlink
    #[arg(long = "output-file", value_name = "PATH")]
    pub output_file: Option<std::path::PathBuf>,

    /// Permissions of a new --output-file, octal (the connection log is not
    /// world-readable by default)
    #[arg(long = "file-mode", value_name = "OCTAL", default_value = "0640", value_parser = parse_mode)]
    pub file_mode: u32,

    /// With --resync: the shortest time between two resync dumps (a sustained
    /// storm overruns on every read)
    #[arg(long = "resync-interval", value_name = "DURATION", default_value = "10s", value_parser = parse_wait)]
    pub resync_interval: std::time::Duration,

    /// Stop after N events (after filtering)
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,

    /// Stop after this long (5s, 2m, 1h, 500ms)
    #[arg(long, value_name = "DURATION", value_parser = parse_wait)]
    pub duration: Option<std::time::Duration>,

    /// Print the entry id at the end of text lines
    #[arg(long)]
    pub show_id: bool,
}
