//! Reading and removing entries: `list`, `get`, `count`, `delete`, `flush`.

use clap::{Args, ValueEnum};

use crate::select::criteria::PortRange;
use crate::select::values::parse_proto;

use super::filter::FilterArgs;
use super::tuple::L4Args;

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
    /// The Kubernetes pod (NAMESPACE/NAME) whose interface holds the
    /// original source address ("-" for none), from the pods running here
    Pod,
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

    /// With --by pod: the kubelet's pod log directory (NAMESPACE_NAME_UID)
    #[arg(long = "pod-logs-dir", value_name = "DIR", default_value = crate::live::pods::POD_LOGS_DIR)]
    pub pod_logs_dir: std::path::PathBuf,
}

/// `ctctl nat`.
#[derive(Debug, Args)]
pub struct NatArgs {
    #[command(flatten)]
    pub filter: FilterArgs,

    /// Show the N fullest groups
    #[arg(long, default_value_t = 20, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub top: u64,

    /// The NAT rule's port range (`masquerade to :LO-HI`, `snat to ADDR:LO-HI`);
    /// default: the kernel's automatic range for each original source port
    /// (1024-65535 from port 1024, 600-1023 from 512, 1-511 below)
    #[arg(long = "port-range", value_name = "LO-HI", value_parser = parse_port_range)]
    pub port_range: Option<PortRange>,
}

/// `LO-HI`, a non-empty range of ports.
pub fn parse_port_range(s: &str) -> Result<PortRange, String> {
    let r = PortRange::parse(s).map_err(|e| e.to_string())?;
    if r.lo == 0 {
        return Err("port 0 is never picked: start the range at 1 or more".to_string());
    }
    Ok(r)
}
