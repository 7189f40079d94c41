//! Command-line arguments (clap derive), split by concern; parsing only
//! collects values, touching the system comes after (the commands). Flags
//! follow conntrack(8) where it has one, so existing muscle memory works.
//!
//! What does not belong here: reading the system (`tune::facts`),
//! deciding what to delete (`delete.rs`), printing.

mod config;
mod expect;
mod filter;
mod modify;
mod table;
mod tuple;
mod values;
mod watch;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub use config::*;
pub use expect::*;
pub use filter::*;
pub use modify::*;
pub use table::*;
pub use tuple::*;
pub use values::*;
pub use watch::*;

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
    /// Source-NAT port pressure: per NAT address and destination, the ports
    /// in use against the ports NAT can pick from, fullest first
    Nat(NatArgs),
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
