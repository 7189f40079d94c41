//! conntrack(8)'s command line, as conntrack-tools 1.4.7 reads it.

use std::net::IpAddr;

use ctctl_netlink::conntrack::protoinfo::state_names;
use ctctl_netlink::conntrack::{proto, Status};
use ctctl_netlink::header::{AF_INET, AF_INET6};

use super::Failure;
use crate::filter::{parse_mark, Cidr};

/// A NAT option's value: none (any NAT of that kind), or an address with
/// an optional port.
pub type Nat = Option<(IpAddr, Option<u16>)>;

/// Status bits a user may set (`IPS_*` that ctnetlink_change_status takes).
pub const SETTABLE_STATUS: u32 = Status::SEEN_REPLY.0 | Status::ASSURED.0 | Status::FIXED_TIMEOUT.0;

/// The command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Cmd {
    /// `-L`
    #[default]
    List,
    /// `-G`
    Get,
    /// `-D`
    Delete,
    /// `-I`
    Create,
    /// `-A`
    Add,
    /// `-U`
    Update,
    /// `-E`
    Event,
    /// `-F`
    Flush,
    /// `-C`
    Count,
    /// `-S`
    Stats,
    /// `-h`
    Help,
    /// `-V`
    Version,
}

impl Cmd {
    /// conntrack's name for it, in messages.
    pub fn name(self) -> &'static str {
        match self {
            Cmd::List => "-L",
            Cmd::Get => "-G",
            Cmd::Delete => "-D",
            Cmd::Create => "-I",
            Cmd::Add => "-A",
            Cmd::Update => "-U",
            Cmd::Event => "-E",
            Cmd::Flush => "-F",
            Cmd::Count => "-C",
            Cmd::Stats => "-S",
            Cmd::Help => "-h",
            Cmd::Version => "-V",
        }
    }
}

/// Everything one command line says.
#[derive(Debug, Clone, Default)]
pub struct Opts {
    pub cmd: Cmd,
    pub table: String,
    pub family: Option<u8>,
    pub src: Option<Cidr>,
    pub dst: Option<Cidr>,
    pub reply_src: Option<Cidr>,
    pub reply_dst: Option<Cidr>,
    pub proto: Option<u8>,
    pub sport: Option<u16>,
    pub dport: Option<u16>,
    pub reply_sport: Option<u16>,
    pub reply_dport: Option<u16>,
    pub icmp_type: Option<u8>,
    pub icmp_code: Option<u8>,
    pub icmp_id: Option<u16>,
    pub state: Option<u8>,
    pub timeout: Option<u32>,
    pub status: Option<u32>,
    pub mark: Option<(u32, u32)>,
    pub zone: Option<u16>,
    pub orig_zone: Option<u16>,
    pub reply_zone: Option<u16>,
    pub src_nat: Option<Nat>,
    pub dst_nat: Option<Nat>,
    pub any_nat: Option<Nat>,
    pub output: Vec<String>,
    pub event_mask: Option<u8>,
    pub buffer_size: Option<usize>,
    pub secmark: Option<u32>,
    pub vtag_orig: Option<u32>,
    pub vtag_reply: Option<u32>,
    /// DCCP role: 0 client, 1 server.
    pub role: Option<u8>,
    /// `-l`: labels to set (create) or that must be set (filters).
    pub labels: Vec<u32>,
    /// `--label-add`, `--label-del` (update).
    pub label_add: Vec<u32>,
    pub label_del: Vec<u32>,
    /// Expectations: `--tuple-src`, `--tuple-dst` (the expected tuple).
    pub exp_src: Option<IpAddr>,
    pub exp_dst: Option<IpAddr>,
    /// `--tuple-port-src`, `--tuple-port-dst`.
    pub exp_sport: Option<u16>,
    pub exp_dport: Option<u16>,
    /// `--mask-src`, `--mask-dst` as given (an expectation's mask).
    pub mask_src: Option<IpAddr>,
    pub mask_dst: Option<IpAddr>,
    /// `--mask-port-src`, `--mask-port-dst`.
    pub mask_sport: Option<u16>,
    pub mask_dport: Option<u16>,
    /// `-z`: zero the counters of the entries listed.
    pub zero: bool,
}

/// How an option takes its value.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Arg {
    None,
    Required,
    /// Attached, or the next word unless it starts with `-` or `!`.
    Optional,
}

/// (short, long names, value)
const OPTIONS: &[(char, &[&str], Arg)] = &[
    ('L', &["dump"], Arg::Optional),
    ('G', &["get"], Arg::Optional),
    ('D', &["delete"], Arg::Optional),
    ('I', &["create"], Arg::Optional),
    ('A', &["add"], Arg::Optional),
    ('U', &["update"], Arg::Optional),
    ('E', &["event"], Arg::Optional),
    ('F', &["flush"], Arg::Optional),
    ('C', &["count"], Arg::Optional),
    ('S', &["stats"], Arg::Optional),
    ('h', &["help"], Arg::None),
    ('V', &["version"], Arg::None),
    ('s', &["src", "orig-src"], Arg::Required),
    ('d', &["dst", "orig-dst"], Arg::Required),
    ('r', &["reply-src"], Arg::Required),
    ('q', &["reply-dst"], Arg::Required),
    ('p', &["protonum", "proto"], Arg::Required),
    ('t', &["timeout"], Arg::Required),
    ('u', &["status"], Arg::Required),
    ('e', &["event-mask"], Arg::Required),
    ('z', &["zero"], Arg::None),
    ('o', &["output"], Arg::Required),
    ('x', &["xml"], Arg::None),
    ('n', &["src-nat"], Arg::Optional),
    ('g', &["dst-nat"], Arg::Optional),
    ('j', &["any-nat"], Arg::Optional),
    ('m', &["mark"], Arg::Required),
    ('c', &["secmark"], Arg::Required),
    ('w', &["zone"], Arg::Required),
    ('f', &["family"], Arg::Required),
    ('b', &["buffer-size"], Arg::Required),
    ('l', &["label"], Arg::Required),
    ('\u{1}', &["orig-zone"], Arg::Required),
    ('\u{2}', &["reply-zone"], Arg::Required),
    ('\u{3}', &["mask-src"], Arg::Required),
    ('\u{4}', &["mask-dst"], Arg::Required),
    (
        '\u{5}',
        &["sport", "orig-port-src", "srckey"],
        Arg::Required,
    ),
    (
        '\u{6}',
        &["dport", "orig-port-dst", "dstkey"],
        Arg::Required,
    ),
    ('\u{7}', &["reply-port-src", "reply-key-src"], Arg::Required),
    ('\u{8}', &["reply-port-dst", "reply-key-dst"], Arg::Required),
    ('\u{9}', &["state"], Arg::Required),
    ('\u{a}', &["icmp-type", "icmpv6-type"], Arg::Required),
    ('\u{b}', &["icmp-code", "icmpv6-code"], Arg::Required),
    ('\u{c}', &["icmp-id", "icmpv6-id"], Arg::Required),
    ('\u{d}', &["label-add"], Arg::Required),
    ('\u{e}', &["label-del"], Arg::Required),
    ('\u{f}', &["orig-vtag"], Arg::Required),
    ('\u{10}', &["reply-vtag"], Arg::Required),
    ('\u{11}', &["role"], Arg::Required),
    ('\u{12}', &["tuple-src"], Arg::Required),
    ('\u{13}', &["tuple-dst"], Arg::Required),
    ('\u{14}', &["tuple-port-src"], Arg::Required),
    ('\u{15}', &["tuple-port-dst"], Arg::Required),
    ('\u{16}', &["mask-port-src"], Arg::Required),
    ('\u{17}', &["mask-port-dst"], Arg::Required),
];

fn bad(arg: &str) -> Failure {
    Failure::param(format!("Bad parameter `{arg}'"))
}

fn num<T: std::str::FromStr>(s: &str) -> Result<T, Failure> {
    // Digits only: conntrack refuses `20foo`, `-10`.
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(s));
    }
    s.parse().map_err(|_| bad(s))
}

fn num_hex_u32(s: &str) -> Result<u32, Failure> {
    crate::filter::parse_u32(s).map_err(|_| bad(s))
}

/// A protocol by name (conntrack's own, then /etc/protocols) or number.
fn protocol(s: &str) -> Result<u8, Failure> {
    if s.bytes().all(|b| b.is_ascii_digit()) && !s.is_empty() {
        return s
            .parse::<u8>()
            .map_err(|_| Failure::param(format!("`{s}' unsupported protocol")));
    }
    if let Ok(p) = crate::filter::parse_proto(s) {
        return Ok(p);
    }
    let known = std::fs::read_to_string("/etc/protocols").unwrap_or_default();
    known
        .lines()
        .filter_map(|l| {
            let mut w = l.split('#').next()?.split_whitespace();
            let name = w.next()?;
            let n = w.next()?.parse::<u8>().ok()?;
            let aliases: Vec<&str> = w.collect();
            (name == s || aliases.contains(&s)).then_some(n)
        })
        .next()
        .ok_or_else(|| Failure::param(format!("`{s}' unsupported protocol")))
}

fn address(s: &str) -> Result<Cidr, Failure> {
    // Brackets are for NAT ports only.
    if s.contains('[') {
        return Err(bad(s));
    }
    Cidr::parse(s).map_err(|_| bad(s))
}

/// `ADDR`, `ADDR:PORT`, `[V6ADDR]:PORT`.
fn nat(s: &str) -> Result<(IpAddr, Option<u16>), Failure> {
    let port = |p: &str| -> Result<u16, Failure> { num::<u16>(p) };
    if let Some(rest) = s.strip_prefix('[') {
        let (a, tail) = rest.split_once(']').ok_or_else(|| bad(s))?;
        let ip: IpAddr = a.parse().map_err(|_| bad(s))?;
        let p = tail.strip_prefix(':').ok_or_else(|| bad(s))?;
        return Ok((ip, Some(port(p)?)));
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok((ip, None));
    }
    let (a, p) = s.rsplit_once(':').ok_or_else(|| bad(s))?;
    let ip: std::net::Ipv4Addr = a.parse().map_err(|_| bad(s))?;
    Ok((IpAddr::V4(ip), Some(port(p)?)))
}

/// A netmask (`255.255.255.0`, `ffff:ffff::`) as a prefix length.
fn mask(s: &str) -> Result<(u8, u8), Failure> {
    let ip: IpAddr = s.parse().map_err(|_| bad(s))?;
    let (bits, fam, width) = match ip {
        IpAddr::V4(v) => (u128::from(u32::from(v)) << 96, AF_INET, 32u32),
        IpAddr::V6(v) => (u128::from(v), AF_INET6, 128u32),
    };
    let ones = bits.leading_ones();
    if bits.checked_shl(ones).unwrap_or(0) != 0 || ones > width {
        return Err(Failure::param(format!("non-contiguous mask `{s}'")));
    }
    Ok((ones as u8, fam))
}

fn status(s: &str) -> Result<u32, Failure> {
    let mut bits = 0;
    for name in s.split(',') {
        // `UNSET`: no bit (older conntrack writes it in -o save lines).
        if name == "UNSET" {
            continue;
        }
        let b = Status::from_name(name).ok_or_else(|| bad(name))?;
        bits |= b.0;
    }
    Ok(bits)
}

fn event_mask(s: &str) -> Result<u8, Failure> {
    let mut m = 0;
    for name in s.split(',') {
        m |= match name.to_ascii_uppercase().as_str() {
            "NEW" => 1,
            "UPDATES" | "UPDATE" => 2,
            "DESTROY" => 4,
            "ALL" => 7,
            _ => return Err(bad(name)),
        };
    }
    Ok(m)
}

fn set_family(fam: &mut Option<u8>, new: u8) -> Result<(), Failure> {
    match fam {
        None => *fam = Some(new),
        Some(f) if *f != new => return Err(Failure::param("mismatched address family")),
        _ => {}
    }
    Ok(())
}

/// The state's value for `proto`; conntrack takes `LISTEN` for TCP state 9
/// (printed `SYN_SENT2`).
fn state(name: &str, p: u8) -> Result<u8, Failure> {
    if p == proto::TCP && name.eq_ignore_ascii_case("LISTEN") {
        return Ok(9);
    }
    let names = state_names(p).ok_or_else(|| {
        Failure::param("--state needs a protocol with states (-p tcp, sctp, dccp)")
    })?;
    names
        .iter()
        .position(|n| n.eq_ignore_ascii_case(name))
        .map(|i| i as u8)
        .ok_or_else(|| Failure::param(format!("unknown state `{name}'")))
}

/// Parses a command line (without the program name).
pub fn parse(args: &[String]) -> Result<Opts, Failure> {
    let mut o = Opts {
        table: "conntrack".into(),
        ..Opts::default()
    };
    let mut cmd: Option<Cmd> = None;
    let mut state_name: Option<String> = None;
    let mut masks: [Option<(u8, u8)>; 2] = [None, None];
    let mut i = 0;
    while i < args.len() {
        let tok = &args[i];
        i += 1;
        let (key, inline): (char, Option<String>) = if let Some(long) = tok.strip_prefix("--") {
            let (name, val) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            let key = OPTIONS
                .iter()
                .find(|(_, names, _)| names.contains(&name))
                .map(|(k, _, _)| *k)
                .ok_or_else(|| Failure::param(format!("unrecognized option '--{name}'")))?;
            (key, val)
        } else if let Some(short) = tok.strip_prefix('-').filter(|s| !s.is_empty()) {
            let mut chars = short.chars();
            let c = chars.next().expect("not empty");
            let rest: String = chars.collect();
            if !OPTIONS.iter().any(|(k, _, _)| *k == c) || (c as u32) < 0x20 {
                return Err(Failure::param(format!("invalid option -- '{c}'")));
            }
            (c, (!rest.is_empty()).then_some(rest))
        } else {
            // A stray word: getopt leaves it, conntrack ignores it.
            continue;
        };
        let kind = OPTIONS
            .iter()
            .find(|(k, _, _)| *k == key)
            .map(|(_, _, a)| *a)
            .expect("known option");
        let value = match kind {
            Arg::None => None,
            Arg::Required => Some(match inline {
                Some(v) => v,
                None => {
                    let v = args.get(i).cloned().ok_or_else(|| {
                        Failure::param(format!("option `{tok}' requires an argument"))
                    })?;
                    i += 1;
                    v
                }
            }),
            Arg::Optional => match inline {
                Some(v) => Some(v),
                None => match args.get(i) {
                    Some(next) if !next.starts_with('-') && !next.starts_with('!') => {
                        i += 1;
                        Some(next.clone())
                    }
                    _ => None,
                },
            },
        };
        let v = value.as_deref().unwrap_or("");
        let command = match key {
            'L' => Some(Cmd::List),
            'G' => Some(Cmd::Get),
            'D' => Some(Cmd::Delete),
            'I' => Some(Cmd::Create),
            'A' => Some(Cmd::Add),
            'U' => Some(Cmd::Update),
            'E' => Some(Cmd::Event),
            'F' => Some(Cmd::Flush),
            'C' => Some(Cmd::Count),
            'S' => Some(Cmd::Stats),
            'h' => Some(Cmd::Help),
            'V' => Some(Cmd::Version),
            _ => None,
        };
        if let Some(c) = command {
            if cmd.is_some() {
                return Err(Failure::param("Invalid commands combination"));
            }
            cmd = Some(c);
            if let Some(t) = &value {
                o.table = ["conntrack", "expect", "dying", "unconfirmed"]
                    .iter()
                    .find(|name| name.starts_with(t.as_str()))
                    .ok_or_else(|| Failure::param(format!("unknown type `{t}'")))?
                    .to_string();
            }
            continue;
        }
        match key {
            's' | 'd' | 'r' | 'q' => {
                let c = address(v)?;
                set_family(&mut o.family, c.family())?;
                *match key {
                    's' => &mut o.src,
                    'd' => &mut o.dst,
                    'r' => &mut o.reply_src,
                    _ => &mut o.reply_dst,
                } = Some(c);
            }
            '\u{3}' | '\u{4}' => {
                let m = mask(v)?;
                set_family(&mut o.family, m.1)?;
                masks[usize::from(key == '\u{4}')] = Some(m);
                let ip = v.parse().ok();
                if key == '\u{3}' {
                    o.mask_src = ip;
                } else {
                    o.mask_dst = ip;
                }
            }
            '\u{12}' | '\u{13}' => {
                let ip: IpAddr = v.parse().map_err(|_| bad(v))?;
                set_family(&mut o.family, if ip.is_ipv4() { AF_INET } else { AF_INET6 })?;
                if key == '\u{12}' {
                    o.exp_src = Some(ip);
                } else {
                    o.exp_dst = Some(ip);
                }
            }
            '\u{14}' => o.exp_sport = Some(num(v)?),
            '\u{15}' => o.exp_dport = Some(num(v)?),
            '\u{16}' => o.mask_sport = Some(num(v)?),
            '\u{17}' => o.mask_dport = Some(num(v)?),
            'p' => o.proto = Some(protocol(v)?),
            't' => o.timeout = Some(num(v)?),
            'u' => o.status = Some(status(v)?),
            'e' => o.event_mask = Some(event_mask(v)?),
            'o' => {
                o.output = v.split(',').map(String::from).collect();
                for x in &o.output {
                    if ![
                        "extended",
                        "save",
                        "id",
                        "ktimestamp",
                        "timestamp",
                        "labels",
                        "userspace",
                        "xml",
                    ]
                    .contains(&x.as_str())
                    {
                        return Err(bad(x));
                    }
                }
                if o.output.len() > 1 && o.output.iter().any(|x| x == "save") {
                    return Err(Failure::other(
                        "cannot combine save output with any other output type, use -o save only",
                    ));
                }
            }
            'n' | 'g' | 'j' => {
                let n = match &value {
                    Some(s) => Some(nat(s)?),
                    None => None,
                };
                if let Some((ip, _)) = n {
                    set_family(&mut o.family, if ip.is_ipv4() { AF_INET } else { AF_INET6 })?;
                }
                *match key {
                    'n' => &mut o.src_nat,
                    'g' => &mut o.dst_nat,
                    _ => &mut o.any_nat,
                } = Some(n);
            }
            'm' => o.mark = Some(parse_mark(v).map_err(|_| bad(v))?),
            'c' => o.secmark = Some(num_hex_u32(v)?),
            'w' => o.zone = Some(num(v)?),
            '\u{1}' => o.orig_zone = Some(num(v)?),
            '\u{2}' => o.reply_zone = Some(num(v)?),
            'f' => {
                let f = crate::filter::parse_family(v).map_err(|_| bad(v))?;
                set_family(&mut o.family, f)?;
            }
            'b' => o.buffer_size = Some(num(v)?),
            'l' | '\u{d}' | '\u{e}' => {
                let map = crate::labels::LabelMap::load(&crate::tune::Paths::system());
                let bits = v
                    .split(',')
                    .map(|l| map.bit(l).map_err(Failure::param))
                    .collect::<Result<Vec<u32>, Failure>>()?;
                match key {
                    'l' => o.labels.extend(bits),
                    '\u{d}' => o.label_add.extend(bits),
                    _ => o.label_del.extend(bits),
                }
            }
            '\u{5}' => o.sport = Some(num(v)?),
            '\u{6}' => o.dport = Some(num(v)?),
            '\u{7}' => o.reply_sport = Some(num(v)?),
            '\u{8}' => o.reply_dport = Some(num(v)?),
            '\u{9}' => state_name = Some(v.to_string()),
            '\u{a}' => o.icmp_type = Some(num(v)?),
            '\u{b}' => o.icmp_code = Some(num(v)?),
            '\u{c}' => o.icmp_id = Some(num(v)?),
            '\u{f}' => o.vtag_orig = Some(num_hex_u32(v)?),
            '\u{10}' => o.vtag_reply = Some(num_hex_u32(v)?),
            '\u{11}' => {
                o.role = Some(match v {
                    "client" => 0,
                    "server" => 1,
                    _ => return Err(bad(v)),
                })
            }
            'z' => o.zero = true,
            'x' => {}
            _ => return Err(Failure::param(format!("unexpected option {tok}"))),
        }
    }
    o.cmd = cmd.ok_or_else(|| Failure::param("no command specified"))?;
    if o.any_nat.is_some() && (o.src_nat.is_some() || o.dst_nat.is_some()) {
        return Err(Failure::param(
            "cannot specify `--src-nat' or `--dst-nat' with `--any-nat'",
        ));
    }
    // --mask-src / --mask-dst narrow the addresses to prefixes.
    for (m, c) in masks.iter().zip([&mut o.src, &mut o.dst]) {
        if let (Some((prefix, fam)), Some(cidr)) = (m, c.as_mut()) {
            if cidr.family() != *fam {
                return Err(Failure::param("mismatched address family"));
            }
            cidr.prefix = *prefix;
        }
    }
    // Protocol options exist only once -p names the protocol (conntrack
    // loads them with it).
    let l4 = o.sport.is_some()
        || o.dport.is_some()
        || o.reply_sport.is_some()
        || o.reply_dport.is_some()
        || o.icmp_type.is_some()
        || o.icmp_code.is_some()
        || o.icmp_id.is_some()
        || o.exp_sport.is_some()
        || o.exp_dport.is_some()
        || o.mask_sport.is_some()
        || o.mask_dport.is_some()
        || state_name.is_some();
    if l4 && o.proto.is_none() {
        return Err(Failure::param(
            "protocol options (ports, --state, ICMP fields) need -p PROTO first",
        ));
    }
    if let Some(name) = state_name {
        let p = o.proto.unwrap_or(proto::TCP);
        o.state = Some(state(&name, p)?);
    }
    Ok(o)
}

/// `conntrack -h`.
pub const USAGE: &str =
    "Command line interface for the connection tracking system. Version 1.4.7 (ctctl)
Usage: conntrack [commands] [options]

Commands:
  -L [table] [options]\t\tList conntrack or expectation table
  -G [table] parameters\t\tGet conntrack or expectation
  -D [table] parameters\t\tDelete conntrack or expectation
  -I [table] parameters\t\tCreate a conntrack or expectation
  -U [table] parameters\t\tUpdate a conntrack
  -E [table] [options]\t\tShow events
  -F [table]\t\t\tFlush table
  -C [table]\t\t\tShow counter
  -S\t\t\t\tShow statistics
  -R [file]\t\t\tLoad conntrack entries from a file (-I, -A, -U, -D, -F lines)
  -A [table] parameters\t\tAdd a conntrack, or update it if it exists

Tables: conntrack, expect, dying, unconfirmed

Options (as conntrack(8); ctctl runs as conntrack):
  -s, --src, --orig-src ip\t\tSource address from original direction
  -d, --dst, --orig-dst ip\t\tDestination address from original direction
  -r, --reply-src ip\t\tSource address from reply direction
  -q, --reply-dst ip\t\tDestination address from reply direction
  -p, --protonum proto\t\tLayer 4 Protocol, eg. 'tcp'
  -f, --family proto\t\tLayer 3 Protocol, eg. 'ipv6'
  -t, --timeout timeout\t\tSet timeout
  -u, --status status\t\tSet status, eg. ASSURED
  -w, --zone value\t\tSet conntrack zone
  --orig-zone value\t\tSet zone for original direction
  --reply-zone value\t\tSet zone for reply direction
  -b, --buffer-size\t\tNetlink socket buffer size
  --mask-src ip\t\t\tSource mask address
  --mask-dst ip\t\t\tDestination mask address
  -m, --mark value[/mask]\tSet mark
  -e, --event-mask eventmask\tEvent mask, eg. NEW,DESTROY
  -o, --output type[,...]\tOutput format, eg. xml
  -n, --src-nat ip\t\tsource NAT ip
  -g, --dst-nat ip\t\tdestination NAT ip
  -j, --any-nat ip\t\tsource or destination NAT ip
  --sport, --dport, --reply-port-src, --reply-port-dst, --state,
  --icmp-type, --icmp-code, --icmp-id\tprotocol fields
";
