//! The expectation table's commands (`ctctl expect ...`).

use clap::{Args, Subcommand, ValueEnum};

use crate::select::criteria::{Cidr, Match};
use crate::select::values::{parse_addrs, parse_family, parse_proto};

use super::tuple::TupleArgs;
use super::values::parse_wait;

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
