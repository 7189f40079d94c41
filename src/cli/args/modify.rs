//! Changing the table: `create`, `update`, `save`, `restore`, `wait`.

use clap::{Args, ValueEnum};

use crate::select::criteria::StatusMatch;
use crate::select::values::{parse_duration, parse_mark, parse_u32};

use super::filter::FilterArgs;
use super::tuple::TupleArgs;
use super::values::parse_wait;

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
