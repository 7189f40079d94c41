//! Command-line arguments (clap derive). Flags follow conntrack(8) where it
//! has one, so existing muscle memory works.

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::select::criteria::{
    AgeMatch, Cidr, FilterError, IdleMatch, Match, NatMatch, PortRange, StateMatch, StatusMatch,
};
use crate::select::filter::Filter;
use crate::select::values::{
    parse_addrs, parse_duration, parse_family, parse_mark, parse_marks, parse_ports, parse_proto,
    parse_u32, parse_zones,
};
use crate::tune::{self, timeouts::StateTimeouts, Paths};

/// Manage the Linux connection-tracking table (nf_conntrack) over ctnetlink.
#[derive(Debug, Parser)]
#[command(name = "ctctl", version, about, long_about = None, max_term_width = 100)]
pub struct Cli {
    /// Work in another network namespace: a name from `ip netns` (/run/netns/NAME)
    /// or the path of a namespace file (/proc/PID/ns/net). `exporter` takes it
    /// more than once
    #[arg(long, global = true, value_name = "NAME|PATH", action = clap::ArgAction::Append)]
    pub netns: Vec<String>,

    /// Output format: `text` is what `conntrack -L` prints, `extended` what
    /// `conntrack -L -o extended` prints, `json` one JSON object per line
    #[arg(short = 'o', long, global = true, value_enum, default_value_t = Format::Text)]
    pub output: Format,

    /// More diagnostics on stderr (-v debug, -vv trace)
    #[arg(short = 'v', long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

pub use crate::format::render::Format;

impl ValueEnum for Format {
    fn value_variants<'a>() -> &'a [Self] {
        &[Format::Text, Format::Extended, Format::Json, Format::Save]
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        use clap::builder::PossibleValue;
        Some(match self {
            Format::Text => PossibleValue::new("text").help("conntrack -L lines"),
            Format::Extended => PossibleValue::new("extended").help("conntrack -L -o extended lines (family first)"),
            Format::Json => PossibleValue::new("json").help("JSON Lines"),
            Format::Save => PossibleValue::new("save").help("conntrack -o save lines (`-A ...`; events: `-A`, `-U`, `-D`), which `restore` and `conntrack -R` replay"),
        })
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List entries (conntrack -L), filtered in the kernel where it can be
    List(ListArgs),
    /// Show one entry by its original tuple (conntrack -G); exit 1 if absent
    Get(GetArgs),
    /// Count entries: the table size without a dump, or matching entries, or per value (--by)
    Count(CountArgs),
    /// Delete matching entries (conntrack -D): in the kernel when it can select them,
    /// else by tuple and id from a dump; exit 0 even when nothing matched
    Delete(DeleteArgs),
    /// Flush the table, or the entries filters select (conntrack -F); unfiltered needs --all
    Flush(DeleteArgs),
    /// Stream conntrack events (conntrack -E): never exits on overruns; SIGHUP reopens
    /// --output-file, SIGINT/SIGTERM flush and exit 0
    Events(EventsArgs),
    /// Show (all or one KEY), set, or get advice on the table's tunables:
    /// max, hashsize, timeouts, switches
    Config(ConfigArgs),
    /// The incident screen: count/max, buckets, memory, stats, top states,
    /// loopback share, switches, verdict; --check for monitoring
    Status(StatusArgs),
    /// Per-CPU conntrack statistics (conntrack -S)
    Stats,
    /// Create one entry (conntrack -I); exit 1 "already exists" unless --or-update
    Create(CreateArgs),
    /// Change matching entries: mark, timeout, labels (conntrack -U)
    Update(UpdateArgs),
    /// Write the table (or the entries filters select) as JSON Lines that restore re-creates
    Save(SaveArgs),
    /// Re-create entries from `save` output or conntrack -o save / -R files, in batches
    Restore(RestoreArgs),
    /// Block until an entry matching the filters is present / absent / created /
    /// destroyed; exit 1 on timeout. Subscribes first, then checks the table
    Wait(WaitArgs),
    /// The incident screen, live: table fill, states, busiest sources,
    /// destinations and ports, drops per second, the next command; q quits
    Top(TopArgs),
    /// Serve the table to Prometheus at /metrics: counts by state, top sources,
    /// per-CPU drop counters, kept from events (no dump per scrape)
    Exporter(ExporterArgs),
    /// The expectation table (conntrack -L/-G/-I/-D/-F/-E expect): the connections
    /// helpers (FTP, SIP, ...) announced
    #[command(subcommand)]
    Expect(ExpectCommand),
    /// Print shell completions for bash, zsh or fish
    Completions(CompletionsArgs),
    /// Write the man pages (ctctl.1 and one per command) into DIR
    #[command(hide = true)]
    Manpages(ManpagesArgs),
    /// Prove now which request shapes (filter criteria sent together) this
    /// kernel applies correctly in dumps and flushes, print the verdicts and
    /// keep them in /run/ctctl for this boot; needs CAP_SYS_ADMIN. Commands
    /// prove a shape the first time they need it; --all proves every shape
    /// ctctl can send, for a boot unit
    Probe(ProbeArgs),
}

#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// Every shape ctctl's filters can produce (thousands; seconds on an
    /// idle table), not only the usual ones
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManpagesArgs {
    /// Where to write the pages
    #[arg(value_name = "DIR")]
    pub dir: std::path::PathBuf,
}

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
pub struct CreateArgs {
    #[command(flatten)]
    pub tuple: TupleArgs,
    /// Reply source (default: the original destination; another address seeds destination NAT)
    #[arg(short = 'r', long = "reply-src", value_name = "ADDR")]
    pub reply_src: Option<std::net::IpAddr>,
    /// Reply destination (default: the original source; another address seeds source NAT)
    #[arg(short = 'q', long = "reply-dst", value_name = "ADDR")]
    pub reply_dst: Option<std::net::IpAddr>,
    /// Reply source port (default: the original destination port)
    #[arg(
        long = "reply-sport",
        visible_alias = "reply-port-src",
        value_name = "PORT"
    )]
    pub reply_sport: Option<u16>,
    /// Reply destination port (default: the original source port)
    #[arg(
        long = "reply-dport",
        visible_alias = "reply-port-dst",
        value_name = "PORT"
    )]
    pub reply_dport: Option<u16>,
    /// Protocol state (TCP: ESTABLISHED, TIME_WAIT, ...; SCTP; DCCP)
    #[arg(long, value_name = "STATE")]
    pub state: Option<String>,
    /// Status bits: SEEN_REPLY, ASSURED, FIXED_TIMEOUT (comma-separated)
    #[arg(short = 'u', long, value_name = "STATUS[,...]", value_parser = StatusMatch::parse)]
    pub status: Option<StatusMatch>,
    /// Timeout (seconds or 30s, 5m, 5d); default: the state's timeout sysctl
    #[arg(short = 't', long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<u64>,
    /// Connection mark
    #[arg(short = 'm', long, value_name = "MARK", value_parser = parse_u32)]
    pub mark: Option<u32>,
    /// Conntrack zone
    #[arg(short = 'w', long, value_name = "ZONE")]
    pub zone: Option<u16>,
    /// Connection label: a bit number or a name from /etc/xtables/connlabel.conf (repeatable).
    /// The kernel keeps labels only when a ruleset uses ct labels
    #[arg(short = 'l', long = "label", value_name = "LABEL")]
    pub labels: Vec<String>,
    /// Update the entry if it exists instead of failing
    #[arg(long = "or-update")]
    pub or_update: bool,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    #[command(flatten)]
    pub filter: FilterArgs,
    /// New mark: VALUE or VALUE/MASK (only the masked bits change)
    #[arg(long = "set-mark", value_name = "VALUE[/MASK]", value_parser = parse_mark)]
    pub set_mark: Option<(u32, u32)>,
    /// New timeout (seconds or 30s, 5m, 5d)
    #[arg(long = "set-timeout", value_name = "DURATION", value_parser = parse_duration)]
    pub set_timeout: Option<u64>,
    /// Add a label (bit number or connlabel.conf name), repeatable
    #[arg(long = "add-label", value_name = "LABEL")]
    pub add_label: Vec<String>,
    /// Remove a label, repeatable
    #[arg(long = "del-label", value_name = "LABEL")]
    pub del_label: Vec<String>,
    /// Allow running without filters: update every entry
    #[arg(long)]
    pub all: bool,
    /// Print the entries that would change, change nothing
    #[arg(long = "dry-run", short = 'n')]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct SaveArgs {
    #[command(flatten)]
    pub filter: FilterArgs,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// File to read (ctctl save JSON Lines, or conntrack -o save lines); - or none: stdin
    #[arg(value_name = "FILE|-")]
    pub file: Option<std::path::PathBuf>,
    /// Stop at the first failure (default: report failures, create the rest)
    #[arg(long)]
    pub strict: bool,
    /// Update entries that exist instead of counting them as already there
    #[arg(long = "or-update")]
    pub or_update: bool,
    /// Parse and report, create nothing
    #[arg(long = "dry-run", short = 'n')]
    pub dry_run: bool,
}

/// What `wait --for` waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WaitCondition {
    /// A matching entry exists (now or later)
    Present,
    /// No matching entry exists (now or later)
    Absent,
    /// A matching entry is created
    New,
    /// A matching entry is destroyed
    Destroy,
}

#[derive(Debug, Args)]
pub struct WaitArgs {
    #[command(flatten)]
    pub filter: FilterArgs,
    /// The condition
    #[arg(long = "for", value_enum, default_value_t = WaitCondition::Present, value_name = "CONDITION")]
    pub condition: WaitCondition,
    /// Give up after this long (exit 1); default: wait forever
    #[arg(long, value_name = "DURATION", value_parser = parse_wait)]
    pub timeout: Option<std::time::Duration>,
    /// Wait for N entries (present) or N events (new, destroy)
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub count: usize,
    /// Print the entry id at the end of text lines
    #[arg(long)]
    pub show_id: bool,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ConfigArgs {
    #[command(subcommand)]
    pub action: Option<ConfigAction>,

    /// Print one value (short key, sysctl name, or an old name such as ip_conntrack_max)
    #[arg(value_name = "KEY")]
    pub key: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Set KEY=VALUE pairs, all or nothing (timeouts take 30s, 5m, 5d)
    Set(SetArgs),
    /// Suggest max, hashsize and timeouts from RAM, the count and a target bucket depth
    Recommend(RecommendArgs),
}

#[derive(Debug, Args)]
pub struct SetArgs {
    /// KEY=VALUE pairs: max=1048576 hashsize=262144 timeout.tcp.established=6h,
    /// or sysctl names (net.netfilter.nf_conntrack_tcp_timeout_time_wait=30)
    #[arg(value_name = "KEY=VALUE", required = true)]
    pub pairs: Vec<String>,

    /// Print old -> new, write nothing
    #[arg(long = "dry-run", short = 'n')]
    pub dry_run: bool,

    /// Also record the values for the next boot (/etc/sysctl.d/90-ctctl.conf;
    /// hashsize in /etc/modprobe.d/ctctl.conf or /etc/tmpfiles.d/ctctl.conf)
    #[arg(long)]
    pub persist: bool,
}

#[derive(Debug, Args)]
pub struct RecommendArgs {
    /// Apply the suggestions (all or nothing)
    #[arg(long)]
    pub apply: bool,

    /// With --apply: also persist them
    #[arg(long, requires = "apply")]
    pub persist: bool,

    /// Target average bucket depth of a full table (max / hashsize)
    #[arg(long, default_value_t = 4, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=16))]
    pub depth: u64,

    /// The highest entry count the table must hold (default: the current count)
    #[arg(long, value_name = "ENTRIES")]
    pub peak: Option<u64>,
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

/// Parses a size in bytes: `33554432`, `32M`, `32MiB`, `512K`, `1G`.
pub fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: usize = num
        .parse()
        .map_err(|_| "use bytes or a size like 32M, 64MiB, 512K".to_string())?;
    let mult = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return Err("use bytes or a size like 32M, 64MiB, 512K".to_string()),
    };
    n.checked_mul(mult)
        .ok_or_else(|| "size too large".to_string())
}

/// Parses a file mode in octal (`0640`, `640`); at most 0777.
pub fn parse_mode(s: &str) -> Result<u32, String> {
    match u32::from_str_radix(s.trim_start_matches("0o"), 8) {
        Ok(m) if m <= 0o777 => Ok(m),
        _ => Err("use an octal mode from 0 to 0777, like 0640".to_string()),
    }
}

pub use crate::select::values::parse_wait;

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

/// Entry selection, as conntrack(8).
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Filters")]
pub struct FilterArgs {
    /// Layer-3 family: ipv4 or ipv6
    #[arg(short = 'f', long, value_name = "FAMILY", value_parser = parse_family)]
    pub family: Option<u8>,

    /// Layer-4 protocol: tcp, udp, udplite, icmp, icmpv6, sctp, gre, dccp or a number
    #[arg(short = 'p', long = "proto", visible_alias = "protonum", value_name = "PROTO", value_parser = parse_proto)]
    pub proto: Option<u8>,

    /// Original source: addresses or CIDR prefixes, comma-separated; a leading
    /// `!` selects entries with none of them
    #[arg(short = 's', long = "src", visible_alias = "orig-src", value_name = "[!]ADDR[/LEN][,...]", value_parser = parse_addrs)]
    pub src: Option<Match<Cidr>>,

    /// Original destination, likewise
    #[arg(short = 'd', long = "dst", visible_alias = "orig-dst", value_name = "[!]ADDR[/LEN][,...]", value_parser = parse_addrs)]
    pub dst: Option<Match<Cidr>>,

    /// Reply source, likewise (`!` + the endpoints: replies from none of them)
    #[arg(short = 'r', long = "reply-src", value_name = "[!]ADDR[/LEN][,...]", value_parser = parse_addrs)]
    pub reply_src: Option<Match<Cidr>>,

    /// Reply destination, likewise
    #[arg(short = 'q', long = "reply-dst", value_name = "[!]ADDR[/LEN][,...]", value_parser = parse_addrs)]
    pub reply_dst: Option<Match<Cidr>>,

    /// Any address of the entry, either direction (original or reply, source
    /// or destination); with `!`, none of the four
    #[arg(long = "addr", value_name = "[!]ADDR[/LEN][,...]", value_parser = parse_addrs)]
    pub addr: Option<Match<Cidr>>,

    /// Original source ports or ranges (`1024-65535`), comma-separated; `!` negates
    #[arg(long = "sport", visible_alias = "orig-port-src", value_name = "[!]PORT[-PORT][,...]", value_parser = parse_ports)]
    pub sport: Option<Match<PortRange>>,

    /// Original destination ports or ranges (`53,5353`, `30000-32767`)
    #[arg(long = "dport", visible_alias = "orig-port-dst", value_name = "[!]PORT[-PORT][,...]", value_parser = parse_ports)]
    pub dport: Option<Match<PortRange>>,

    /// Reply source ports or ranges
    #[arg(long = "reply-port-src", value_name = "[!]PORT[-PORT][,...]", value_parser = parse_ports)]
    pub reply_sport: Option<Match<PortRange>>,

    /// Reply destination ports or ranges
    #[arg(long = "reply-port-dst", value_name = "[!]PORT[-PORT][,...]", value_parser = parse_ports)]
    pub reply_dport: Option<Match<PortRange>>,

    #[command(flatten)]
    pub icmp: IcmpArgs,

    /// Protocol state(s), comma-separated, as conntrack prints them
    /// (TIME_WAIT,CLOSE_WAIT); a TCP state name implies -p tcp
    #[arg(long, value_name = "STATE[,STATE...]")]
    pub state: Option<String>,

    /// Status bits that must be set, comma-separated (ASSURED, SEEN_REPLY,
    /// UNREPLIED, EXPECTED, FIXED_TIMEOUT, OFFLOAD, HW_OFFLOAD, ...); !NAME: must be clear
    #[arg(short = 'u', long, value_name = "STATUS[,...]", value_parser = StatusMatch::parse)]
    pub status: Option<StatusMatch>,

    /// Connection mark: VALUE or VALUE/MASK (decimal or 0x hex), comma-separated; `!` negates
    #[arg(short = 'm', long, value_name = "[!]VALUE[/MASK][,...]", value_parser = parse_marks)]
    pub mark: Option<Match<(u32, u32)>>,

    /// Conntrack zones, whatever direction they apply to (as the kernel's
    /// zone filter); entries without a zone are in zone 0
    #[arg(short = 'w', long, value_name = "[!]ZONE[,...]", value_parser = parse_zones)]
    pub zone: Option<Match<u16>>,

    /// Zone of the original direction (a zone set for the reply direction
    /// only counts as 0 here). With a full tuple, names one entry: deleted
    /// or updated directly, without a dump
    #[arg(long = "orig-zone", value_name = "[!]ZONE[,...]", value_parser = parse_zones)]
    pub orig_zone: Option<Match<u16>>,

    /// Zone of the reply direction
    #[arg(long = "reply-zone", value_name = "[!]ZONE[,...]", value_parser = parse_zones)]
    pub reply_zone: Option<Match<u16>>,

    /// Source-NATed entries; with an address, NATed to that address
    #[arg(long = "src-nat", value_name = "ADDR", num_args = 0..=1, default_missing_value = "")]
    pub src_nat: Option<String>,

    /// Destination-NATed entries; with an address, NATed to that address
    #[arg(long = "dst-nat", value_name = "ADDR", num_args = 0..=1, default_missing_value = "")]
    pub dst_nat: Option<String>,

    /// Entries with any NAT; with an address, NATed to it (source or destination)
    #[arg(long = "any-nat", value_name = "ADDR", num_args = 0..=1, default_missing_value = "")]
    pub any_nat: Option<String>,

    /// Entries whose remaining timeout is below SECS
    #[arg(long = "timeout-below", value_name = "SECS")]
    pub timeout_below: Option<u32>,

    /// Entries whose remaining timeout is above SECS
    #[arg(long = "timeout-above", value_name = "SECS")]
    pub timeout_above: Option<u32>,

    /// The entry with this kernel id (as `-o json` or `--show-id` print it)
    #[arg(long, value_name = "ID")]
    pub id: Option<u32>,

    /// Entries idle (no packet) for longer than DURATION (90s, 30m, 6h, 5d):
    /// the state's timeout sysctl in this namespace minus the remaining
    /// timeout, counted from the shortest timer the last packet could have
    /// set (a TCP entry with unacknowledged data or a zero window runs on
    /// the 300 s unacknowledged / max_retrans timer), so busy transfers are
    /// never idle. Not meaningful for entries under a custom timeout policy,
    /// created with an explicit timeout (conntrack -I -t), or FIXED_TIMEOUT
    #[arg(long = "idle-over", value_name = "DURATION", value_parser = parse_duration, verbatim_doc_comment)]
    pub idle_over: Option<u64>,

    /// Entries that never saw a reply (same as --status UNREPLIED)
    #[arg(long)]
    pub unreplied: bool,

    /// Entries that started more than DURATION ago (needs
    /// net.netfilter.nf_conntrack_timestamp=1 when they were created)
    #[arg(long = "older-than", value_name = "DURATION", value_parser = parse_duration)]
    pub older_than: Option<u64>,

    /// Connection labels that must all be set: bit numbers or names from
    /// /etc/xtables/connlabel.conf (repeatable, or comma-separated)
    #[arg(
        short = 'l',
        long = "label",
        value_name = "LABEL[,...]",
        value_delimiter = ','
    )]
    pub label: Vec<String>,

    /// More selections, one per line of FILE (- for stdin) in the syntax of these
    /// flags; an entry matches if it matches any line and every filter given on the
    /// command line. `#` starts a comment. list, count, delete, flush, update, save
    #[arg(long = "filters-from", value_name = "FILE|-")]
    pub filters_from: Option<std::path::PathBuf>,
}

impl FilterArgs {
    /// The filter these flags describe, checked for contradictions, with
    /// what `--idle-over` and `--older-than` need read from the calling
    /// thread's network namespace.
    pub fn to_filter(&self) -> Result<Filter, crate::error::Error> {
        let mut filter = self.parse()?;
        let paths = Paths::system();
        if !self.label.is_empty() {
            let map = crate::labels::LabelMap::load(&paths);
            let bits = self
                .label
                .iter()
                .map(|l| map.bit(l).map_err(|e| FilterError::new("--label", l, e)))
                .collect::<Result<Vec<u32>, FilterError>>()?;
            filter.labels = Some(bits);
        }
        if let Some(over) = self.idle_over {
            filter.idle = Some(IdleMatch {
                over: over.min(u32::MAX as u64) as u32,
                timeouts: StateTimeouts::load(&paths)?,
            });
        }
        if let Some(secs) = self.older_than {
            let on = tune::read_u64(&paths.netfilter("nf_conntrack_timestamp"))?;
            if on != Some(1) {
                return Err(FilterError::new(
                    "--older-than",
                    &secs.to_string(),
                    "entries have no start time: nf_conntrack_timestamp is off in this network \
                     namespace (turn it on with `sysctl -w net.netfilter.nf_conntrack_timestamp=1`; \
                     entries created from then on get one)",
                )
                .into());
            }
            filter.older_than = Some(AgeMatch {
                secs,
                now_ns: crate::format::record::now_ns(),
            });
        }
        Ok(filter)
    }

    /// The filter these flags describe, without reading the system.
    pub fn parse(&self) -> Result<Filter, FilterError> {
        let state = match &self.state {
            Some(s) => Some(
                StateMatch::parse(s, self.proto).map_err(|e| FilterError::new("--state", s, e))?,
            ),
            None => None,
        };
        let nat_addr = |flag: &'static str, v: &Option<String>| -> Result<_, FilterError> {
            match v.as_deref() {
                None => Ok(None),
                Some("") => Ok(Some(None)),
                Some(a) => a
                    .parse()
                    .map(|ip| Some(Some(ip)))
                    .map_err(|_| FilterError::new(flag, a, "not an IPv4 or IPv6 address")),
            }
        };
        Filter {
            family: self.family,
            proto: self.proto,
            src: self.src.clone(),
            dst: self.dst.clone(),
            reply_src: self.reply_src.clone(),
            reply_dst: self.reply_dst.clone(),
            addr: self.addr.clone(),
            sport: self.sport.clone(),
            dport: self.dport.clone(),
            reply_sport: self.reply_sport.clone(),
            reply_dport: self.reply_dport.clone(),
            icmp_type: self.icmp.icmp_type,
            icmp_code: self.icmp.icmp_code,
            icmp_id: self.icmp.icmp_id,
            state,
            status: self.status,
            mark: self.mark.clone(),
            zone: self.zone.clone(),
            orig_zone: self.orig_zone.clone(),
            reply_zone: self.reply_zone.clone(),
            nat: NatMatch {
                src: nat_addr("--src-nat", &self.src_nat)?,
                dst: nat_addr("--dst-nat", &self.dst_nat)?,
                any: nat_addr("--any-nat", &self.any_nat)?,
            },
            timeout_below: self.timeout_below,
            timeout_above: self.timeout_above,
            id: self.id,
            idle: None,
            older_than: None,
            labels: None,
        }
        .normalize()
        .map(|mut f| {
            if self.unreplied {
                let s = f.status.get_or_insert_with(StatusMatch::default);
                s.clear |= ctctl_netlink::conntrack::Status::SEEN_REPLY.0;
            }
            f
        })
        .and_then(|f| match f.status {
            Some(s) if s.set & s.clear != 0 => Err(FilterError::new(
                "--unreplied",
                "",
                "contradicts --status SEEN_REPLY",
            )),
            _ => Ok(f),
        })
    }
}

/// `list --table`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TableArg {
    /// The connection table
    Conntrack,
    /// Entries destroyed whose DESTROY event is not delivered yet (events --reliable)
    Dying,
    /// Entries not yet confirmed into the table
    Unconfirmed,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub filter: FilterArgs,

    /// Which kernel list (conntrack -L dying / unconfirmed)
    #[arg(long, value_enum, default_value_t = TableArg::Conntrack)]
    pub table: TableArg,

    /// Print the entry id at the end of text lines (conntrack -o id)
    #[arg(long)]
    pub show_id: bool,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    #[command(flatten)]
    pub filter: FilterArgs,

    /// Allow running without filters: delete every entry of the namespace
    #[arg(long)]
    pub all: bool,

    /// Show what would be deleted (delete: the entries; flush: how many), delete nothing
    #[arg(long = "dry-run", short = 'n')]
    pub dry_run: bool,

    /// Print the entry id at the end of text lines (with --dry-run)
    #[arg(long)]
    pub show_id: bool,
}

/// Ports or ICMP fields of the original direction.
#[derive(Debug, Clone, Default, Args)]
pub struct L4Args {
    /// Original source port
    #[arg(long = "sport", visible_alias = "orig-port-src", value_name = "PORT")]
    pub sport: Option<u16>,

    /// Original destination port
    #[arg(long = "dport", visible_alias = "orig-port-dst", value_name = "PORT")]
    pub dport: Option<u16>,

    #[command(flatten)]
    pub icmp: IcmpArgs,
}

/// ICMP and ICMPv6 fields of the original direction.
#[derive(Debug, Clone, Default, Args)]
pub struct IcmpArgs {
    /// ICMP / ICMPv6 type
    #[arg(long = "icmp-type", value_name = "TYPE")]
    pub icmp_type: Option<u8>,

    /// ICMP / ICMPv6 code
    #[arg(long = "icmp-code", value_name = "CODE")]
    pub icmp_code: Option<u8>,

    /// ICMP / ICMPv6 id
    #[arg(long = "icmp-id", value_name = "ID")]
    pub icmp_id: Option<u16>,
}

/// One connection's original tuple, as `get`, `create` take it.
#[derive(Debug, Clone, Args)]
pub struct TupleArgs {
    /// Layer-4 protocol
    #[arg(short = 'p', long = "proto", value_name = "PROTO", value_parser = parse_proto, required = true)]
    pub proto: u8,

    /// Original source address
    #[arg(
        short = 's',
        long = "src",
        visible_alias = "orig-src",
        value_name = "ADDR",
        required = true
    )]
    pub src: std::net::IpAddr,

    /// Original destination address
    #[arg(
        short = 'd',
        long = "dst",
        visible_alias = "orig-dst",
        value_name = "ADDR",
        required = true
    )]
    pub dst: std::net::IpAddr,

    #[command(flatten)]
    pub l4: L4Args,
}

impl TupleArgs {
    /// The tuple, checked for completeness: both ports for port
    /// protocols, type, code and id for ICMP.
    pub fn tuple(&self) -> Result<ctctl_netlink::conntrack::Tuple, String> {
        complete_tuple(
            self.proto,
            (self.src, self.dst),
            (self.l4.sport, self.l4.dport),
            &self.l4.icmp,
            ("--src", "--dst", "--sport", "--dport"),
        )
    }
}

/// A complete tuple (what a lookup needs): addresses of one family, and
/// both ports for port protocols or type, code and id for ICMP. `names`
/// are the flags, for the messages.
pub fn complete_tuple(
    proto_num: u8,
    (src, dst): (std::net::IpAddr, std::net::IpAddr),
    (sport, dport): (Option<u16>, Option<u16>),
    icmp: &IcmpArgs,
    names: (&str, &str, &str, &str),
) -> Result<ctctl_netlink::conntrack::Tuple, String> {
    use crate::flow::{has_ports, proto_name};
    use ctctl_netlink::conntrack::proto;
    if src.is_ipv4() != dst.is_ipv4() {
        return Err(format!(
            "{} and {} must be of the same family",
            names.0, names.1
        ));
    }
    let mut t = ctctl_netlink::conntrack::Tuple {
        src: Some(src),
        dst: Some(dst),
        proto: Some(proto_num),
        ..ctctl_netlink::conntrack::Tuple::default()
    };
    if has_ports(proto_num) {
        let (Some(s), Some(d)) = (sport, dport) else {
            return Err(format!(
                "a {} entry is named by its ports: give {} and {}",
                proto_name(proto_num),
                names.2,
                names.3
            ));
        };
        t.src_port = Some(s);
        t.dst_port = Some(d);
    } else if proto_num == proto::ICMP || proto_num == proto::ICMPV6 {
        let (Some(ty), Some(code), Some(id)) = (icmp.icmp_type, icmp.icmp_code, icmp.icmp_id)
        else {
            return Err(
                "an ICMP entry is named by --icmp-type, --icmp-code and --icmp-id".to_string(),
            );
        };
        t.icmp_type = Some(ty);
        t.icmp_code = Some(code);
        t.icmp_id = Some(id);
    }
    Ok(t)
}

#[derive(Debug, Args)]
pub struct GetArgs {
    /// Layer-4 protocol
    #[arg(short = 'p', long = "proto", value_name = "PROTO", value_parser = parse_proto, required = true)]
    pub proto: u8,

    /// Original source address (with --dst: look up by the original tuple)
    #[arg(
        short = 's',
        long = "src",
        visible_alias = "orig-src",
        value_name = "ADDR",
        requires = "dst"
    )]
    pub src: Option<std::net::IpAddr>,

    /// Original destination address
    #[arg(
        short = 'd',
        long = "dst",
        visible_alias = "orig-dst",
        value_name = "ADDR",
        requires = "src"
    )]
    pub dst: Option<std::net::IpAddr>,

    #[command(flatten)]
    pub l4: L4Args,

    /// Reply source address (with --reply-dst, and without --src/--dst: look up
    /// by the reply tuple, as a NATed connection's replies carry it)
    #[arg(short = 'r', long = "reply-src", value_name = "ADDR", requires = "reply_dst", conflicts_with_all = ["src", "dst"])]
    pub reply_src: Option<std::net::IpAddr>,

    /// Reply destination address
    #[arg(
        short = 'q',
        long = "reply-dst",
        value_name = "ADDR",
        requires = "reply_src"
    )]
    pub reply_dst: Option<std::net::IpAddr>,

    /// Reply source port
    #[arg(long = "reply-port-src", value_name = "PORT")]
    pub reply_sport: Option<u16>,

    /// Reply destination port
    #[arg(long = "reply-port-dst", value_name = "PORT")]
    pub reply_dport: Option<u16>,

    /// Conntrack zone
    #[arg(short = 'w', long, value_name = "ZONE")]
    pub zone: Option<u16>,

    /// Print the entry id at the end of text lines
    #[arg(long)]
    pub show_id: bool,
}

/// What `count --by` groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CountBy {
    /// Protocol state (entries without one count as "-")
    State,
    /// Layer-4 protocol
    Proto,
    /// Layer-3 family
    Family,
    /// Original source address
    Src,
    /// Original destination address
    Dst,
    /// Original destination port
    Dport,
    /// Zone
    Zone,
    /// Mark
    Mark,
    /// Status flags (the full set, e.g. SEEN_REPLY|ASSURED|CONFIRMED)
    Status,
}

#[derive(Debug, Args)]
pub struct CountArgs {
    #[command(flatten)]
    pub filter: FilterArgs,

    /// Count per value, largest first
    #[arg(long, value_enum, value_name = "KEY")]
    pub by: Option<CountBy>,

    /// With --by: print only the N largest groups
    #[arg(long, value_name = "N", requires = "by")]
    pub top: Option<usize>,
}

/// `ctctl expect ...`
#[derive(Debug, Subcommand)]
pub enum ExpectCommand {
    /// List expectations (conntrack -L expect)
    List(ExpectListArgs),
    /// Count expectations, or those the filters select (conntrack -C expect)
    Count(ExpectFilterArgs),
    /// Show the expectation a connection's tuple would match (conntrack -G expect); exit 1 if none
    Get(ExpectGetArgs),
    /// Create an expectation on a master entry that has a helper (conntrack -I expect)
    Create(ExpectCreateArgs),
    /// Delete the expectations the filters select, each by tuple and id; unfiltered needs --all
    Delete(ExpectDeleteArgs),
    /// Same as delete: unfiltered (with --all) it is one kernel flush (conntrack -F expect)
    Flush(ExpectDeleteArgs),
    /// Stream expectation events: new and destroy (conntrack -E expect)
    Events(ExpectEventsArgs),
    /// Per-CPU expectation counters (conntrack -S expect)
    Stats,
}

/// Which expectations to select; every criterion given must hold.
#[derive(Debug, Clone, Default, Args)]
pub struct ExpectFilterArgs {
    /// Address family: ipv4 or ipv6
    #[arg(short = 'f', long, value_name = "FAMILY", value_parser = parse_family)]
    pub family: Option<u8>,

    /// Layer-4 protocol of the expected connection
    #[arg(short = 'p', long = "proto", value_name = "PROTO", value_parser = parse_proto)]
    pub proto: Option<u8>,

    /// Source address of the expected connection
    #[arg(short = 's', long = "src", value_name = "[!]ADDR[/LEN][,...]", value_parser = parse_addrs)]
    pub src: Option<Match<Cidr>>,

    /// Destination address of the expected connection
    #[arg(short = 'd', long = "dst", value_name = "[!]ADDR[/LEN][,...]", value_parser = parse_addrs)]
    pub dst: Option<Match<Cidr>>,

    /// Destination port of the expected connection
    #[arg(long = "dport", value_name = "PORT")]
    pub dport: Option<u16>,

    /// The master connection's original source address
    #[arg(long = "master-src", value_name = "[!]ADDR[/LEN][,...]", value_parser = parse_addrs)]
    pub master_src: Option<Match<Cidr>>,

    /// The master connection's original destination address
    #[arg(long = "master-dst", value_name = "[!]ADDR[/LEN][,...]", value_parser = parse_addrs)]
    pub master_dst: Option<Match<Cidr>>,

    /// The master connection's original destination port (21: FTP control)
    #[arg(long = "master-dport", value_name = "PORT")]
    pub master_dport: Option<u16>,

    /// The helper that made it (ftp, sip, ...)
    #[arg(long, value_name = "NAME")]
    pub helper: Option<String>,

    /// Zone
    #[arg(short = 'w', long, value_name = "ZONE")]
    pub zone: Option<u16>,

    /// The kernel's id of the expectation
    #[arg(long, value_name = "ID")]
    pub id: Option<u32>,
}

#[derive(Debug, Args)]
pub struct ExpectListArgs {
    #[command(flatten)]
    pub filter: ExpectFilterArgs,

    /// Print the expectation id at the end of text lines
    #[arg(long)]
    pub show_id: bool,
}

#[derive(Debug, Args)]
pub struct ExpectDeleteArgs {
    #[command(flatten)]
    pub filter: ExpectFilterArgs,

    /// Allow selecting every expectation (no filter)
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct ExpectGetArgs {
    /// Layer-4 protocol
    #[arg(short = 'p', long = "proto", value_name = "PROTO", value_parser = parse_proto, required = true)]
    pub proto: u8,

    /// Source address of the connection
    #[arg(short = 's', long = "src", value_name = "ADDR", required = true)]
    pub src: std::net::IpAddr,

    /// Destination address of the connection
    #[arg(short = 'd', long = "dst", value_name = "ADDR", required = true)]
    pub dst: std::net::IpAddr,

    /// Source port of the connection
    #[arg(long = "sport", value_name = "PORT", default_value_t = 0)]
    pub sport: u16,

    /// Destination port of the connection
    #[arg(long = "dport", value_name = "PORT", required = true)]
    pub dport: u16,

    /// Zone
    #[arg(short = 'w', long, value_name = "ZONE")]
    pub zone: Option<u16>,

    /// Print the expectation id at the end of text lines
    #[arg(long)]
    pub show_id: bool,
}

#[derive(Debug, Args)]
pub struct ExpectCreateArgs {
    /// The master entry's original tuple (-p -s -d --sport --dport); it must have a helper
    #[command(flatten)]
    pub master: TupleArgs,

    /// Expected source address [default: the master's source]
    #[arg(long = "tuple-src", value_name = "ADDR")]
    pub tuple_src: Option<std::net::IpAddr>,

    /// Expected destination address [default: the master's destination]
    #[arg(long = "tuple-dst", value_name = "ADDR")]
    pub tuple_dst: Option<std::net::IpAddr>,

    /// Expected layer-4 protocol [default: the master's]
    #[arg(long = "tuple-proto", value_name = "PROTO", value_parser = parse_proto)]
    pub tuple_proto: Option<u8>,

    /// Expected source port
    #[arg(long = "tuple-sport", value_name = "PORT", default_value_t = 0)]
    pub tuple_sport: u16,

    /// Expected destination port
    #[arg(long = "tuple-dport", value_name = "PORT", required = true)]
    pub tuple_dport: u16,

    /// Source address mask [default: all ones]
    #[arg(long = "mask-src", value_name = "ADDR")]
    pub mask_src: Option<std::net::IpAddr>,

    /// Destination address mask [default: all ones]
    #[arg(long = "mask-dst", value_name = "ADDR")]
    pub mask_dst: Option<std::net::IpAddr>,

    /// Source port mask (0: any source port)
    #[arg(long = "mask-sport", value_name = "MASK", default_value_t = 0)]
    pub mask_sport: u16,

    /// Destination port mask
    #[arg(long = "mask-dport", value_name = "MASK", default_value_t = 0xffff)]
    pub mask_dport: u16,

    /// Seconds the expectation lives
    #[arg(short = 't', long, value_name = "SECONDS", required = true)]
    pub timeout: u32,

    /// Helper name [default: the master's helper]
    #[arg(long, value_name = "NAME")]
    pub helper: Option<String>,

    /// Flags: permanent (stays after a match), inactive
    #[arg(long, value_name = "FLAG[,FLAG]", value_delimiter = ',')]
    pub flags: Vec<ExpectFlag>,

    /// The helper's expectation class
    #[arg(long, value_name = "N")]
    pub class: Option<u32>,

    /// Zone
    #[arg(short = 'w', long, value_name = "ZONE")]
    pub zone: Option<u16>,
}

/// Flags an expectation can be created with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExpectFlag {
    /// Stays after a connection matched it
    Permanent,
    /// Matches nothing until the helper activates it
    Inactive,
}

#[derive(Debug, Args)]
pub struct ExpectEventsArgs {
    #[command(flatten)]
    pub filter: ExpectFilterArgs,

    /// Which events: new, destroy (default both)
    #[arg(
        short = 'e',
        long = "event",
        value_name = "TYPE[,TYPE]",
        value_delimiter = ','
    )]
    pub events: Vec<ExpectEventType>,

    /// Exit after N events
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,

    /// Exit after this long (30s, 5m)
    #[arg(long, value_name = "DURATION", value_parser = parse_wait)]
    pub duration: Option<std::time::Duration>,

    /// Print the expectation id at the end of text lines
    #[arg(long)]
    pub show_id: bool,
}

/// Expectation event types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExpectEventType {
    /// Expectations created
    New,
    /// Expectations removed (matched, timed out, deleted, master gone)
    Destroy,
}
