//! Command-line arguments (clap derive). Flags follow conntrack(8) where it
//! has one, so existing muscle memory works.

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::filter::{
    parse_family, parse_mark, parse_proto, Cidr, Filter, FilterError, NatMatch, StateMatch,
    StatusMatch,
};

/// Manage the Linux connection-tracking table (nf_conntrack) over ctnetlink.
#[derive(Debug, Parser)]
#[command(name = "ctctl", version, about, long_about = None, max_term_width = 100)]
pub struct Cli {
    /// Work in another network namespace: a name from `ip netns` (/run/netns/NAME)
    /// or the path of a namespace file (/proc/PID/ns/net)
    #[arg(long, global = true, value_name = "NAME|PATH")]
    pub netns: Option<String>,

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

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// conntrack -L lines
    Text,
    /// conntrack -L -o extended lines (family first)
    Extended,
    /// JSON Lines
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List entries (conntrack -L), filtered in the kernel where it can be
    List(ListArgs),
    /// Show one entry by its original tuple (conntrack -G); exit 1 if absent
    Get(GetArgs),
    /// Count entries: the table size without a dump, or matching entries, or per value (--by)
    Count(CountArgs),
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

    /// Original source address or CIDR prefix
    #[arg(short = 's', long = "src", visible_alias = "orig-src", value_name = "ADDR[/LEN]", value_parser = Cidr::parse)]
    pub src: Option<Cidr>,

    /// Original destination address or CIDR prefix
    #[arg(short = 'd', long = "dst", visible_alias = "orig-dst", value_name = "ADDR[/LEN]", value_parser = Cidr::parse)]
    pub dst: Option<Cidr>,

    /// Reply source address or CIDR prefix
    #[arg(short = 'r', long = "reply-src", value_name = "ADDR[/LEN]", value_parser = Cidr::parse)]
    pub reply_src: Option<Cidr>,

    /// Reply destination address or CIDR prefix
    #[arg(short = 'q', long = "reply-dst", value_name = "ADDR[/LEN]", value_parser = Cidr::parse)]
    pub reply_dst: Option<Cidr>,

    /// Original source port
    #[arg(long = "sport", visible_alias = "orig-port-src", value_name = "PORT")]
    pub sport: Option<u16>,

    /// Original destination port
    #[arg(long = "dport", visible_alias = "orig-port-dst", value_name = "PORT")]
    pub dport: Option<u16>,

    /// ICMP / ICMPv6 type
    #[arg(long = "icmp-type", value_name = "TYPE")]
    pub icmp_type: Option<u8>,

    /// ICMP / ICMPv6 code
    #[arg(long = "icmp-code", value_name = "CODE")]
    pub icmp_code: Option<u8>,

    /// ICMP / ICMPv6 id
    #[arg(long = "icmp-id", value_name = "ID")]
    pub icmp_id: Option<u16>,

    /// Protocol state(s), comma-separated, as conntrack prints them
    /// (TIME_WAIT,CLOSE_WAIT); a TCP state name implies -p tcp
    #[arg(long, value_name = "STATE[,STATE...]")]
    pub state: Option<String>,

    /// Status bits that must be set, comma-separated (ASSURED, SEEN_REPLY,
    /// UNREPLIED, EXPECTED, FIXED_TIMEOUT, OFFLOAD, HW_OFFLOAD, ...); !NAME: must be clear
    #[arg(short = 'u', long, value_name = "STATUS[,...]", value_parser = StatusMatch::parse)]
    pub status: Option<StatusMatch>,

    /// Connection mark: VALUE or VALUE/MASK (decimal or 0x hex)
    #[arg(short = 'm', long, value_name = "VALUE[/MASK]", value_parser = parse_mark)]
    pub mark: Option<(u32, u32)>,

    /// Conntrack zone
    #[arg(short = 'w', long, value_name = "ZONE")]
    pub zone: Option<u16>,

    /// Source-NATed entries; with an address, NATed to that address
    #[arg(long = "src-nat", value_name = "ADDR", num_args = 0..=1, default_missing_value = "")]
    pub src_nat: Option<String>,

    /// Destination-NATed entries; with an address, NATed to that address
    #[arg(long = "dst-nat", value_name = "ADDR", num_args = 0..=1, default_missing_value = "")]
    pub dst_nat: Option<String>,

    /// Entries with any NAT
    #[arg(long = "any-nat")]
    pub any_nat: bool,

    /// Entries whose remaining timeout is below SECS
    #[arg(long = "timeout-below", value_name = "SECS")]
    pub timeout_below: Option<u32>,

    /// Entries whose remaining timeout is above SECS
    #[arg(long = "timeout-above", value_name = "SECS")]
    pub timeout_above: Option<u32>,
}

impl FilterArgs {
    /// The filter these flags describe, checked for contradictions.
    pub fn to_filter(&self) -> Result<Filter, FilterError> {
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
            src: self.src,
            dst: self.dst,
            reply_src: self.reply_src,
            reply_dst: self.reply_dst,
            sport: self.sport,
            dport: self.dport,
            icmp_type: self.icmp_type,
            icmp_code: self.icmp_code,
            icmp_id: self.icmp_id,
            state,
            status: self.status,
            mark: self.mark,
            zone: self.zone,
            nat: NatMatch {
                src: nat_addr("--src-nat", &self.src_nat)?,
                dst: nat_addr("--dst-nat", &self.dst_nat)?,
                any: self.any_nat,
            },
            timeout_below: self.timeout_below,
            timeout_above: self.timeout_above,
        }
        .normalize()
    }
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub filter: FilterArgs,

    /// Print the entry id at the end of text lines (conntrack -o id)
    #[arg(long)]
    pub id: bool,
}

#[derive(Debug, Args)]
pub struct GetArgs {
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

    /// Original source port (port protocols)
    #[arg(long = "sport", visible_alias = "orig-port-src", value_name = "PORT")]
    pub sport: Option<u16>,

    /// Original destination port (port protocols)
    #[arg(long = "dport", visible_alias = "orig-port-dst", value_name = "PORT")]
    pub dport: Option<u16>,

    /// ICMP type (ICMP, ICMPv6)
    #[arg(long = "icmp-type", value_name = "TYPE")]
    pub icmp_type: Option<u8>,

    /// ICMP code (ICMP, ICMPv6)
    #[arg(long = "icmp-code", value_name = "CODE")]
    pub icmp_code: Option<u8>,

    /// ICMP id (ICMP, ICMPv6)
    #[arg(long = "icmp-id", value_name = "ID")]
    pub icmp_id: Option<u16>,

    /// Conntrack zone
    #[arg(short = 'w', long, value_name = "ZONE")]
    pub zone: Option<u16>,

    /// Print the entry id at the end of text lines
    #[arg(long)]
    pub id: bool,
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
