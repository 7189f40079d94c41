//! The filter flags every selecting command shares, and the [`Filter`]
//! they describe.

use clap::Args;

use crate::select::criteria::{
    Cidr, FilterError, Match, NatMatch, PortRange, StateMatch, StatusMatch,
};
use crate::select::filter::Filter;
use crate::select::values::{
    parse_addrs, parse_duration, parse_family, parse_marks, parse_ports, parse_proto, parse_zones,
};

use super::tuple::IcmpArgs;

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
        let needs = crate::tune::facts::Needs {
            labels: &self.label,
            idle_over: self.idle_over,
            older_than: self.older_than,
        };
        crate::tune::facts::complete(self.parse()?, &needs, &crate::tune::Paths::system()).map_err(
            |e| match e {
                crate::error::Error::Filter(fe) => crate::error::Error::Filter(in_flags(fe)),
                other => other,
            },
        )
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
        .map_err(in_flags)
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

/// The library names a filter's fields; the CLI names its flags.
pub fn in_flags(mut e: FilterError) -> FilterError {
    e.field = match e.field {
        "src" => "--src",
        "dst" => "--dst",
        "reply_src" => "--reply-src",
        "reply_dst" => "--reply-dst",
        "addr" => "--addr",
        "sport" => "--sport",
        "dport" => "--dport",
        "reply_sport" => "--reply-port-src",
        "reply_dport" => "--reply-port-dst",
        "state" => "--state",
        "nat" => "--any-nat",
        "timeout_below" => "--timeout-below",
        "labels" => "--label",
        "older_than" => "--older-than",
        other => other,
    };
    e
}
