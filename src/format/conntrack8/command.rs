//! conntrack 1.4.7's reading of a command line (`do_parse` in conntrack.c
//! and the protocol extensions' `parse_options` / `final_check`), as a
//! pure function from words to a [`Command`]: which command, which table,
//! which options, and the *template* the values are kept in (the
//! `nf_conntrack` object conntrack compares entries with, or sends to the
//! kernel). Errors carry conntrack's message and exit code, in the order
//! conntrack finds them.
//!
//! Values conntrack would read from garbage (see [`super::values`]) and
//! the few inputs that crash conntrack 1.4.7 are refused instead, as a
//! [`Refusal`] naming the documented difference.

use std::net::IpAddr;

use super::getopt::{Getopt, Got, LongOpt};
use super::options::{self, long_name, opt, Command as Cmd, Proto, OPTFLAGS, OPTSTRING};
use super::values::{self, Prefix};

const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;

/// Status bits (`IPS_*`).
pub mod ips {
    pub const EXPECTED: u32 = 1 << 0;
    pub const SEEN_REPLY: u32 = 1 << 1;
    pub const ASSURED: u32 = 1 << 2;
    pub const SRC_NAT_DONE: u32 = 1 << 7;
    pub const DST_NAT_DONE: u32 = 1 << 8;
    pub const FIXED_TIMEOUT: u32 = 1 << 10;
    pub const OFFLOAD: u32 = 1 << 14;
    pub const HW_OFFLOAD: u32 = 1 << 15;
}

/// Output flags (`-o`).
pub mod out {
    pub const XML: u32 = 1 << 0;
    pub const EXTENDED: u32 = 1 << 1;
    pub const TIMESTAMP: u32 = 1 << 2;
    pub const ID: u32 = 1 << 3;
    pub const KTIMESTAMP: u32 = 1 << 4;
    pub const LABELS: u32 = 1 << 5;
    pub const SAVE: u32 = 1 << 6;
}

/// Event flags (`-e`).
pub mod ev {
    pub const NEW: u32 = 1 << 0;
    pub const UPDATE: u32 = 1 << 1;
    pub const DESTROY: u32 = 1 << 2;
    pub const ALL: u32 = NEW | UPDATE | DESTROY;
}

/// The TCP flags conntrack's TCP extension puts on every template
/// (`IP_CT_TCP_FLAG_BE_LIBERAL | IP_CT_TCP_FLAG_SACK_PERM`, and
/// `IP_CT_TCP_FLAG_CLOSE_INIT` for states from TIME_WAIT on).
pub const TCP_FLAG_BE_LIBERAL: u8 = 0x08;
/// See [`TCP_FLAG_BE_LIBERAL`].
pub const TCP_FLAG_SACK_PERM: u8 = 0x02;
/// See [`TCP_FLAG_BE_LIBERAL`].
pub const TCP_FLAG_CLOSE_INIT: u8 = 0x04;

/// One direction of a template: what of it was set, and to what.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Dir {
    /// `ATTR_*_L3PROTO`.
    pub l3: Option<u8>,
    /// `ATTR_*_IPV4_SRC` / `ATTR_*_IPV6_SRC`.
    pub src: Option<IpAddr>,
    /// `ATTR_*_IPV4_DST` / `ATTR_*_IPV6_DST`.
    pub dst: Option<IpAddr>,
    /// `ATTR_*_L4PROTO`.
    pub l4: Option<u8>,
    /// `ATTR_*_PORT_SRC` (GRE keys too).
    pub sport: Option<u16>,
    /// `ATTR_*_PORT_DST`.
    pub dport: Option<u16>,
    /// `ATTR_*_ZONE`.
    pub zone: Option<u16>,
}

/// conntrack's template (`tmpl->ct`): the attributes a command line set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Template {
    /// The original direction.
    pub orig: Dir,
    /// The reply direction.
    pub repl: Dir,
    /// `ATTR_ICMP_TYPE`, and the reply type its setter derived from the
    /// family known at that moment (255 when it knew none).
    pub icmp_type: Option<(u8, u8)>,
    /// `ATTR_ICMP_CODE`.
    pub icmp_code: Option<u8>,
    /// `ATTR_ICMP_ID`.
    pub icmp_id: Option<u16>,
    /// `ATTR_TCP_STATE`.
    pub tcp_state: Option<u8>,
    /// `ATTR_SCTP_STATE`.
    pub sctp_state: Option<u8>,
    /// `ATTR_DCCP_STATE`.
    pub dccp_state: Option<u8>,
    /// `ATTR_DCCP_ROLE`.
    pub dccp_role: Option<u8>,
    /// `ATTR_SCTP_VTAG_ORIG`.
    pub vtag_orig: Option<u32>,
    /// `ATTR_SCTP_VTAG_REPL`.
    pub vtag_repl: Option<u32>,
    /// `ATTR_TCP_FLAGS_ORIG/REPL` and their masks (the TCP extension's
    /// `final_check`).
    pub tcp_flags: Option<u8>,
    /// `ATTR_SNAT_IPV4/6`.
    pub snat: Option<IpAddr>,
    /// `ATTR_DNAT_IPV4/6`.
    pub dnat: Option<IpAddr>,
    /// `ATTR_SNAT_PORT`.
    pub snat_port: Option<u16>,
    /// `ATTR_DNAT_PORT`.
    pub dnat_port: Option<u16>,
    /// `ATTR_TIMEOUT`.
    pub timeout: Option<u32>,
    /// `ATTR_STATUS`.
    pub status: Option<u32>,
    /// `ATTR_ID`.
    pub id: Option<u32>,
    /// `ATTR_SECMARK`.
    pub secmark: Option<u32>,
    /// `ATTR_ZONE`.
    pub zone: Option<u16>,
    /// `--any-nat ADDR` also wrote `ATTR_ORIG_IPV4_SRC` with an undefined
    /// value (`opt2family_attr['j']` is missing in conntrack.c).
    pub any_nat_clobbered: bool,
}

/// The expectation parts of a command line (`tmpl->exptuple`,
/// `tmpl->mask`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExpParts {
    /// `--tuple-src`, `--tuple-dst`, `--tuple-port-src/dst`.
    pub tuple: Dir,
    /// `--mask-src`, `--mask-dst`, `--mask-port-src/dst`.
    pub mask: Dir,
}

/// The table a command works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Table {
    /// The connection table.
    #[default]
    Conntrack,
    /// The expectation table.
    Expect,
    /// The dying list.
    Dying,
    /// The unconfirmed list.
    Unconfirmed,
}

/// A command line as conntrack 1.4.7 reads it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Command {
    /// The command; `None`: none was given (conntrack prints its usage).
    pub cmd: Option<Cmd>,
    /// The table named after the command.
    pub table: Table,
    /// Option bits ([`options::opt`]).
    pub options: u32,
    /// `AF_INET`, `AF_INET6` or 0 (unspecified).
    pub family: u8,
    /// The `-p` protocol number (0: none given).
    pub protonum: u8,
    /// The `-p` extension.
    pub proto: Option<Proto>,
    /// The template.
    pub tmpl: Template,
    /// Expectation tuple and mask.
    pub exp: ExpParts,
    /// `--mark VALUE[/MASK]` as read (`tmpl->mark`; `--status` overwrites
    /// its value in 1.4.7).
    pub mark: (u32, u32),
    /// The kernel's mark filter for dumps (`filter_mark_kernel`).
    pub kernel_mark: Option<(u32, u32)>,
    /// The kernel's status filter for `-L` dumps (value, mask).
    pub kernel_status: Option<(u32, u32)>,
    /// `-l`: label bits that must be set.
    pub labels: Option<Vec<u32>>,
    /// `--label-add` / `--label-del` bits (`None` with `--label-del` alone:
    /// every label).
    pub label_modify: Option<Vec<u32>>,
    /// `-e` flags ([`ev`]).
    pub event_mask: u32,
    /// `-o` flags ([`out`]).
    pub output: u32,
    /// `-b`.
    pub buffer_size: i64,
    /// The protocol extension's option flags.
    pub l4flags: u32,
    /// Lines conntrack prints on stderr while reading (warnings), in order.
    pub notes: Vec<String>,
    /// The first value conntrack would read from garbage (refused once
    /// everything else passed).
    pub garbage: Option<String>,
}

/// conntrack's own failure while reading: its message and exit code (1
/// `OTHER_PROBLEM`, 2 `PARAMETER_PROBLEM`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 1 or 2.
    pub code: i32,
    /// The message after `conntrack v1.4.7 (conntrack-tools): `.
    pub msg: String,
    /// Warnings printed before the error.
    pub notes: Vec<String>,
    /// Set when conntrack 1.4.7 would *not* fail here but the face does:
    /// the documented difference that applies.
    pub refusal: Option<Refusal>,
}

/// Where the face refuses what conntrack 1.4.7 accepts (or crashes on):
/// each one listed in the README's table of differences.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// A number conntrack reads from garbage or truncates (`atoi("7o")`,
    /// a port above 65535, a negative zone).
    GarbageNumber,
    /// Input conntrack 1.4.7 crashes on (`--id` without `=`, an unknown
    /// SCTP state).
    Crash,
}

impl Refusal {
    /// The tag the face prints with the refusal.
    pub fn tag(self) -> &'static str {
        match self {
            Refusal::GarbageNumber => "not-a-number",
            Refusal::Crash => "conntrack-crashes",
        }
    }
}

/// What the reader needs from the system: protocol names
/// (`getprotobyname`) and label names (`connlabel.conf`).
pub trait Lookup {
    /// A protocol by name or alias, as `/etc/protocols` has it.
    fn protocol(&self, name: &str) -> Option<u8>;
    /// A label's bit, by name. `Err` when there is no label map at all,
    /// with the line conntrack prints then (`nfct_labelmap_new: ...`).
    fn label(&self, name: &str) -> Result<Option<u32>, String>;
}

fn fail(code: i32, msg: impl Into<String>) -> ParseError {
    ParseError {
        code,
        msg: msg.into(),
        notes: Vec::new(),
        refusal: None,
    }
}

fn param(msg: impl Into<String>) -> ParseError {
    fail(2, msg)
}

fn refuse(kind: Refusal, msg: impl Into<String>) -> ParseError {
    ParseError {
        refusal: Some(kind),
        ..fail(2, msg)
    }
}

/// The C readers' value of a number, noting the first one that is not
/// clean: conntrack 1.4.7 goes on with what it read, and so does the
/// reading here (its later errors come first), but the command is refused
/// at the end if nothing else stopped it.
fn noted(c: &mut Command, clean: bool, flag: &str, text: &str) {
    if !clean && c.garbage.is_none() {
        c.garbage = Some(format!(
            "Bad parameter `{text}' for `{flag}' (conntrack 1.4.7 would read a number from its first digits)"
        ));
    }
}

/// `atoi`/`atol`: the value C computes, as `i64`, and whether it was clean
/// and within `lo..=hi`.
fn dec(c: &mut Command, text: &str, flag: &str, lo: i64, hi: i64) -> i64 {
    let (v, clean) = values::atol(text);
    noted(c, clean && (lo..=hi).contains(&v), flag, text);
    v
}

/// `strtoul(.., 0)`: the value C computes, and whether it was clean and at
/// most `hi`.
fn cnum(c: &mut Command, text: &str, flag: &str, hi: u64) -> u64 {
    let r = values::strtoul(text, 0);
    noted(c, r.clean && r.value <= hi, flag, text);
    r.value
}

/// The protocol extension for a `-p` value (`findproto`): conntrack's
/// extensions by name (any case), then `/etc/protocols`, then a number.
fn findproto(name: &str, lookup: &dyn Lookup) -> Option<(Proto, u8)> {
    if let Some((p, _, n)) = options::PROTOS
        .iter()
        .find(|(_, pname, _)| pname.eq_ignore_ascii_case(name))
    {
        return Some((*p, *n));
    }
    if let Some(n) = lookup.protocol(name) {
        return Some((Proto::Unknown, n));
    }
    let r = values::strtoul(name, 0);
    if r.end == 0 || r.end != name.len() || r.value > 255 {
        return None;
    }
    let n = r.value as u8;
    let p = options::PROTOS
        .iter()
        .find(|(_, _, num)| *num == n)
        .map_or(Proto::Unknown, |(p, _, _)| *p);
    Some((p, n))
}

/// `parse_parameter` lists: prefix matches, case-insensitive, where
/// `SRC_NAT` and `DST_NAT` are recognised first (and ignored with a
/// warning).
fn parameter(word: &str, names: &[(&str, u32)], notes: &mut Vec<String>) -> Option<u32> {
    let lw = word.to_ascii_lowercase();
    let prefix = |full: &str| full.to_ascii_lowercase().starts_with(&lw) || lw.is_empty();
    // strncasecmp(str, name, strlen(str)): `word` must be a prefix of the
    // name (a word longer than the name never matches).
    if prefix("SRC_NAT") {
        notes.push("WARNING: ignoring SRC_NAT, use --src-nat instead".into());
        return Some(0);
    }
    if prefix("DST_NAT") {
        notes.push("WARNING: ignoring DST_NAT, use --dst-nat instead".into());
        return Some(0);
    }
    names.iter().find(|(n, _)| prefix(n)).map(|(_, v)| *v)
}

const STATUS_NAMES: &[(&str, u32)] = &[
    ("ASSURED", ips::ASSURED),
    ("SEEN_REPLY", ips::SEEN_REPLY),
    ("UNSET", 0),
    ("FIXED_TIMEOUT", ips::FIXED_TIMEOUT),
    ("EXPECTED", ips::EXPECTED),
    ("OFFLOAD", ips::OFFLOAD),
    ("HW_OFFLOAD", ips::HW_OFFLOAD),
];

const EVENT_NAMES: &[(&str, u32)] = &[
    ("ALL", ev::ALL),
    ("NEW", ev::NEW),
    ("UPDATES", ev::UPDATE),
    ("DESTROY", ev::DESTROY),
];

const OUTPUT_NAMES: &[(&str, u32)] = &[
    ("xml", out::XML),
    ("extended", out::EXTENDED),
    ("timestamp", out::TIMESTAMP),
    ("id", out::ID),
    ("ktimestamp", out::KTIMESTAMP),
    ("labels", out::LABELS),
    ("userspace", 0),
    ("save", out::SAVE),
];

/// `parse_parameter`: a comma list, every element a known name.
fn parse_list(
    arg: &str,
    names: &[(&str, u32)],
    notes: &mut Vec<String>,
) -> Result<u32, ParseError> {
    let mut v = 0;
    let mut rest = arg;
    loop {
        match rest.find(',') {
            Some(i) => {
                let word = &rest[..i];
                if word.is_empty() {
                    return Err(param(format!("Bad parameter `{rest}'")));
                }
                v |= parameter(word, names, notes)
                    .ok_or_else(|| param(format!("Bad parameter `{rest}'")))?;
                rest = &rest[i + 1..];
            }
            None => {
                if rest.is_empty() {
                    return Err(param(format!("Bad parameter `{rest}'")));
                }
                v |= parameter(rest, names, notes)
                    .ok_or_else(|| param(format!("Bad parameter `{rest}'")))?;
                return Ok(v);
            }
        }
    }
}

/// `parse_parameter_mask` for `--status`: names set bits, `!NAME` adds
/// to the kernel mask, `UNREPLIED` (case-sensitive prefix of the rest)
/// adds SEEN_REPLY to the mask.
fn parse_status(
    arg: &str,
    status: &mut u32,
    mask: &mut u32,
    notes: &mut Vec<String>,
) -> Result<(), ParseError> {
    let mut rest = arg;
    loop {
        let comma = rest.find(',');
        if comma == Some(0) {
            return Err(param(format!("Bad parameter `{rest}'")));
        }
        let negated = rest.starts_with('!');
        if negated {
            rest = &rest[1..];
        }
        if let Some(c) = comma {
            if negated && c == 1 {
                return Err(param(format!("Bad parameter `{rest}'")));
            }
        }
        if !negated && rest.starts_with("UNREPLIED") {
            *mask |= ips::SEEN_REPLY;
            match rest.find(',') {
                Some(i) if comma.is_some() => {
                    rest = &rest[i + 1..];
                    continue;
                }
                _ => return Ok(()),
            }
        }
        let (word, next) = match rest.find(',') {
            Some(i) if comma.is_some() => (&rest[..i], Some(&rest[i + 1..])),
            _ => (rest, None),
        };
        if word.is_empty() {
            return Err(param(format!("Bad parameter `{rest}'")));
        }
        let bits = parameter(word, STATUS_NAMES, notes)
            .ok_or_else(|| param(format!("Bad parameter `{rest}'")))?;
        if negated {
            *mask |= bits;
        } else {
            *status |= bits;
        }
        match next {
            Some(n) => rest = n,
            None => return Ok(()),
        }
    }
}

fn family_of(ip: &IpAddr) -> u8 {
    if ip.is_ipv4() {
        AF_INET
    } else {
        AF_INET6
    }
}

fn set_family(family: &mut u8, new: u8) -> Result<(), ParseError> {
    if *family == 0 {
        *family = new;
        Ok(())
    } else if *family != new {
        Err(param("mismatched address family"))
    } else {
        Ok(())
    }
}

/// A netmask of `bits` ones for the family.
fn netmask(family: u8, bits: u8) -> IpAddr {
    if family == AF_INET {
        let m = if bits == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(bits))
        };
        IpAddr::V4(m.into())
    } else {
        let m = if bits == 0 {
            0
        } else {
            u128::MAX << (128 - u32::from(bits))
        };
        IpAddr::V6(m.into())
    }
}

/// The ICMP reply type libnetfilter_conntrack's setter derives (+1
/// encoded: 0 means none, then 255 is sent and the kernel refuses).
fn icmp_reply_type(family: u8, t: u8) -> u8 {
    let r = match family {
        AF_INET => match t {
            8 => 1,
            0 => 9,
            13 => 15,
            14 => 14,
            15 => 17,
            16 => 16,
            17 => 19,
            18 => 18,
            _ => 0,
        },
        AF_INET6 => match t {
            128 => 130,
            129 => 129,
            139 => 141,
            140 => 140,
            _ => 0,
        },
        _ => 0,
    };
    if r == 0 {
        255
    } else {
        r - 1
    }
}

/// Which template an address option writes.
#[derive(Clone, Copy)]
enum Slot {
    OrigSrc,
    OrigDst,
    ReplSrc,
    ReplDst,
    ExpSrc,
    ExpDst,
    MaskSrc,
    MaskDst,
}

/// Reads one command line (without the program name). `lookup` answers
/// protocol and label names.
pub fn parse(args: &[String], lookup: &dyn Lookup) -> Result<Command, ParseError> {
    let mut c = Command::default();
    let mut notes = Vec::new();
    match parse_into(&mut c, args, lookup, &mut notes) {
        Ok(()) => {
            c.notes = notes;
            Ok(c)
        }
        Err(mut e) => {
            e.notes = notes;
            Err(e)
        }
    }
}

fn parse_into(
    c: &mut Command,
    args: &[String],
    lookup: &dyn Lookup,
    notes: &mut Vec<String>,
) -> Result<(), ParseError> {
    let mut argv = vec!["conntrack".to_string()];
    argv.extend(args.iter().cloned());
    let mut g = Getopt::new(argv);
    // The option list grows with each -p: every extension's options are
    // appended with values offset by 256 per merge (merge_options).
    let mut long: Vec<LongOpt> = options::LONG.to_vec();
    let mut offset = 0i32;
    let mut command = 0u32;
    let mut cmd: Option<Cmd> = None;
    let mut status = 0u32;
    let mut status_mask = 0u32;
    let mut label_map_ready = false;
    let mut label_init = |notes: &mut Vec<String>| {
        if !label_map_ready {
            label_map_ready = true;
            if let Err(line) = lookup.label("") {
                notes.push(line);
            }
        }
    };
    while let Some(got) = g.next(OPTSTRING, &long) {
        let (val, arg) = match got {
            Got::Opt(v, a) => (v, a),
            Got::Missing => {
                return Err(param(format!(
                    "option `{}' requires an argument",
                    g.previous()
                )))
            }
            Got::Unknown => return Err(param(format!("unknown option `{}'", g.previous()))),
        };
        let a = arg.clone().unwrap_or_default();
        if val >= 256 {
            // A protocol extension's option, handed to the *last* -p's
            // extension with the value cut to a char (parse_opts takes a
            // `char`): the right one, whichever merge it came from.
            let local = ((val - offset) & 0xff) as u8;
            let proto = c.proto.expect("extension options exist after -p");
            proto_option(c, proto, local, &a)?;
            continue;
        }
        let letter = val as u8;
        if let Some((ct, exp)) = options::command_of(letter) {
            let table_word = g.optional_arg(&arg);
            let table = match table_word.as_deref() {
                None => Table::Conntrack,
                Some(t) if "expect".starts_with(t) => Table::Expect,
                Some(t) if "conntrack".starts_with(t) => Table::Conntrack,
                Some(t) if "dying".starts_with(t) => Table::Dying,
                Some(t) if "unconfirmed".starts_with(t) => Table::Unconfirmed,
                Some(t) => return Err(param(format!("unknown type `{t}'"))),
            };
            let new = if letter == b'L' {
                if table == Table::Expect {
                    exp.expect("-L has an expectation form")
                } else {
                    ct
                }
            } else {
                if matches!(table, Table::Dying | Table::Unconfirmed) {
                    return Err(param(
                        "Can't do that command with tables `dying' and `unconfirmed'",
                    ));
                }
                match (table, exp) {
                    (Table::Expect, Some(e)) => e,
                    (Table::Expect, None) => {
                        return Err(param(format!(
                            "Can't do --{} on expectations",
                            long_name(letter)
                        )))
                    }
                    _ => ct,
                }
            };
            if command != 0 {
                return Err(param("Invalid commands combination"));
            }
            command |= new.bit();
            cmd = Some(new);
            c.table = table;
            continue;
        }
        match letter {
            b's' => address(c, Slot::OrigSrc, &a, b's')?,
            b'd' => address(c, Slot::OrigDst, &a, b'd')?,
            b'r' => address(c, Slot::ReplSrc, &a, b'r')?,
            b'q' => address(c, Slot::ReplDst, &a, b'q')?,
            b'[' => address(c, Slot::ExpSrc, &a, b'[')?,
            b']' => address(c, Slot::ExpDst, &a, b']')?,
            b'{' => address(c, Slot::MaskSrc, &a, b'{')?,
            b'}' => address(c, Slot::MaskDst, &a, b'}')?,
            b'p' => {
                c.options |= opt::PROTO;
                let (proto, num) = findproto(&a, lookup)
                    .ok_or_else(|| param(format!("`{a}' unsupported protocol")))?;
                offset += 256;
                long.extend(proto.options().iter().map(|o| LongOpt {
                    val: o.val + offset,
                    ..*o
                }));
                c.proto = Some(proto);
                c.protonum = num;
                c.tmpl.orig.l4 = Some(num);
            }
            b't' => {
                c.options |= opt::TIMEOUT;
                c.tmpl.timeout = Some(dec(c, &a, "--timeout", 0, u32::MAX.into()) as u32);
            }
            b'u' => {
                c.options |= opt::STATUS;
                parse_status(&a, &mut status, &mut status_mask, notes)?;
                c.tmpl.status = Some(status);
                if status_mask == 0 {
                    status_mask = status;
                }
                // 1.4.7 keeps the status in the mark's value (fixed in
                // 1.4.8, "don't override mark when filtering by status").
                c.mark.0 = status;
                c.kernel_status = Some((status, status_mask));
            }
            b'e' => {
                c.options |= opt::EVENT_MASK;
                c.event_mask |= parse_list(&a, EVENT_NAMES, notes)?;
            }
            b'o' => {
                c.options |= opt::OUTPUT;
                c.output |= parse_list(&a, OUTPUT_NAMES, notes)?;
                if c.output & out::LABELS != 0 {
                    label_init(notes);
                }
                if c.output & out::SAVE != 0 && c.output & !out::SAVE != 0 {
                    return Err(fail(
                        1,
                        "cannot combine save output with any other output type, use -o save only",
                    ));
                }
            }
            b'z' => c.options |= opt::ZERO,
            b'n' | b'g' | b'j' => {
                c.options |= match letter {
                    b'n' => opt::SRC_NAT,
                    b'g' => opt::DST_NAT,
                    _ => opt::ANY_NAT,
                };
                if let Some(word) = g.optional_arg(&arg) {
                    nat(c, letter, &word)?;
                }
            }
            b'w' | b'(' | b')' => {
                let z = cnum(c, &a, long_name(letter), u16::MAX.into()) as u16;
                match letter {
                    b'w' => {
                        c.options |= opt::ZONE;
                        c.tmpl.zone = Some(z);
                    }
                    b'(' => {
                        c.options |= opt::ORIG_ZONE;
                        c.tmpl.orig.zone = Some(z);
                    }
                    _ => {
                        c.options |= opt::REPL_ZONE;
                        c.tmpl.repl.zone = Some(z);
                    }
                }
            }
            b'i' => {
                // `--id` takes its value only as `--id=N`; without it
                // conntrack 1.4.7 reads a null pointer and crashes.
                let Some(v) = &arg else {
                    return Err(refuse(
                        Refusal::Crash,
                        "--id needs a value as --id=N or -i N (conntrack 1.4.7 crashes without one)",
                    ));
                };
                c.options |= opt::ID;
                c.tmpl.id = Some(cnum(c, v, "--id", u32::MAX.into()) as u32);
            }
            b'c' => {
                c.options |= opt::SECMARK;
                c.tmpl.secmark = Some(cnum(c, &a, "--secmark", u32::MAX.into()) as u32);
            }
            b'm' => {
                c.options |= opt::MARK;
                // parse_u32_mask: a number, and after a '/' the mask.
                let r = values::strtoul(&a, 0);
                let v = r.value as u32;
                let (m, clean) = match a[r.end..].strip_prefix('/') {
                    Some(ms) => {
                        let rm = values::strtoul(ms, 0);
                        let whole = &a[..r.end];
                        (
                            rm.value as u32,
                            rm.clean
                                && rm.value <= u32::MAX.into()
                                && values::strtoul(whole, 0).clean
                                && r.value <= u32::MAX.into(),
                        )
                    }
                    None => (u32::MAX, r.clean && r.value <= u32::MAX.into()),
                };
                noted(c, clean, "--mark", &a);
                c.mark = (v, m);
                c.kernel_mark = Some((v, m));
            }
            b'l' | b'<' | b'>' => {
                c.options |= match letter {
                    b'l' => opt::LABEL,
                    b'<' => opt::ADD_LABEL,
                    _ => opt::DEL_LABEL,
                };
                label_init(notes);
                if c.options & (opt::ADD_LABEL | opt::DEL_LABEL) == opt::ADD_LABEL | opt::DEL_LABEL
                {
                    return Err(fail(
                        1,
                        "cannot use --label-add and --label-del at the same time",
                    ));
                }
                let words = if letter == b'>' {
                    match g.optional_arg(&arg) {
                        Some(w) => w,
                        None => continue,
                    }
                } else {
                    a.clone()
                };
                let mut bits = Vec::new();
                for name in words.split(',') {
                    let bit = lookup
                        .label(name)
                        .ok()
                        .flatten()
                        .ok_or_else(|| param(format!("unknown label '{name}'")))?;
                    bits.push(bit);
                }
                let set = if letter == b'l' {
                    &mut c.labels
                } else {
                    &mut c.label_modify
                };
                let all = set.get_or_insert_with(Vec::new);
                for b in bits {
                    if !all.contains(&b) {
                        all.push(b);
                    }
                }
            }
            b'a' => notes.push("WARNING: ignoring -a, deprecated option.".into()),
            b'f' => {
                c.options |= opt::FAMILY;
                if a.starts_with("ipv4") {
                    set_family(&mut c.family, AF_INET)?;
                } else if a.starts_with("ipv6") {
                    set_family(&mut c.family, AF_INET6)?;
                } else {
                    return Err(param(format!("`{a}' unsupported protocol")));
                }
            }
            b'b' => {
                c.options |= opt::BUFFERSIZE;
                c.buffer_size = dec(c, &a, "--buffer-size", 0, i64::MAX);
            }
            b'h' | b'V' => unreachable!("commands are handled above"),
            _ => unreachable!("an option getopt does not know: {val}"),
        }
    }
    c.cmd = cmd;
    // The default family of commands that build something.
    if c.family == 0
        && !matches!(
            cmd,
            Some(Cmd::List | Cmd::Update | Cmd::Delete | Cmd::Get | Cmd::Flush | Cmd::Event)
        )
    {
        c.family = AF_INET;
    }
    if c.options & opt::ANY_NAT != 0 && c.options & (opt::SRC_NAT | opt::DST_NAT) != 0 {
        return Err(param(
            "cannot specify `--src-nat' or `--dst-nat' with `--any-nat'",
        ));
    }
    check(
        c.options,
        options::NUMBER_OF_OPT,
        &options::legality(cmd),
        &OPTFLAGS,
        Some((
            [opt::ORIG, opt::REPL],
            "you have to specify `--src' and `--dst'",
            "you have to specify `--reply-src' and `--reply-dst'",
        )),
    )?;
    if let (Some(proto), false) = (c.proto, cmd == Some(Cmd::Help)) {
        check(
            c.l4flags,
            proto.number_of_opts(),
            proto.legality(cmd),
            proto.optflags(),
            proto.coupled(),
        )?;
        match proto {
            Proto::Tcp => {
                let mut flags = TCP_FLAG_BE_LIBERAL | TCP_FLAG_SACK_PERM;
                if c.tmpl.tcp_state.unwrap_or(0) >= 7 {
                    flags |= TCP_FLAG_CLOSE_INIT;
                }
                c.tmpl.tcp_flags = Some(flags);
            }
            Proto::Unknown
                if c.tmpl.repl.l3.is_some()
                    && c.tmpl.orig.l4.is_some()
                    && c.tmpl.repl.l4.is_none() =>
            {
                c.tmpl.repl.l4 = c.tmpl.orig.l4;
            }
            _ => {}
        }
    }
    if let Some(msg) = c.garbage.take() {
        return Err(refuse(Refusal::GarbageNumber, msg));
    }
    Ok(())
}

/// `generic_opt_check`: every option against the command's row, then the
/// coupled pairs where the row has a 3.
fn check(
    set: u32,
    n: usize,
    row: &[u8],
    names: &[&str],
    coupled: Option<([u32; 2], &str, &str)>,
) -> Result<(), ParseError> {
    let mut special = false;
    for i in 0..n {
        let legal = row.get(i).copied().unwrap_or(0);
        let name = names.get(i).copied().unwrap_or("(null)");
        if set & (1 << i) == 0 {
            if legal == 1 {
                return Err(param(format!(
                    "You need to supply the `--{name}' option for this command"
                )));
            }
        } else if legal == 0 {
            return Err(param(format!(
                "Illegal option `--{name}' with this command"
            )));
        }
        if legal == 3 {
            special = true;
        }
    }
    let Some((pairs, first, second)) = coupled.filter(|_| special) else {
        return Ok(());
    };
    let whole = |pair: u32| set & pair == pair;
    if pairs.iter().copied().any(whole) {
        return Ok(());
    }
    let partial = pairs.iter().position(|&p| set & p != 0);
    Err(param(if partial == Some(1) { second } else { first }))
}

/// `nfct_parse_addr_from_opt` for an address option.
fn address(c: &mut Command, slot: Slot, text: &str, letter: u8) -> Result<(), ParseError> {
    let (ip, prefix) = values::parse_addr(text);
    let ip = ip.ok_or_else(|| param(format!("Invalid IP address `{text}'")))?;
    let fam = family_of(&ip);
    set_family(&mut c.family, fam)?;
    // Only --src, --dst and the expectation tuple take a prefix (it
    // becomes their mask).
    let takes_mask = matches!(
        slot,
        Slot::OrigSrc | Slot::OrigDst | Slot::ExpSrc | Slot::ExpDst
    );
    if prefix != Prefix::None && !takes_mask {
        return Err(param(format!(
            "CIDR notation unavailable for `--{}'",
            long_name(letter)
        )));
    }
    if prefix == Prefix::Invalid {
        return Err(param("Invalid netmask"));
    }
    match slot {
        Slot::OrigSrc | Slot::OrigDst => {
            c.options |= if matches!(slot, Slot::OrigSrc) {
                opt::ORIG_SRC
            } else {
                opt::ORIG_DST
            };
            let d = &mut c.tmpl.orig;
            if matches!(slot, Slot::OrigSrc) {
                d.src = Some(ip);
            } else {
                d.dst = Some(ip);
            }
            d.l3 = Some(fam);
        }
        Slot::ReplSrc | Slot::ReplDst => {
            c.options |= if matches!(slot, Slot::ReplSrc) {
                opt::REPL_SRC
            } else {
                opt::REPL_DST
            };
            let d = &mut c.tmpl.repl;
            if matches!(slot, Slot::ReplSrc) {
                d.src = Some(ip);
            } else {
                d.dst = Some(ip);
            }
            d.l3 = Some(fam);
        }
        Slot::ExpSrc | Slot::ExpDst => {
            c.options |= if matches!(slot, Slot::ExpSrc) {
                opt::EXP_SRC
            } else {
                opt::EXP_DST
            };
            let d = &mut c.exp.tuple;
            if matches!(slot, Slot::ExpSrc) {
                d.src = Some(ip);
            } else {
                d.dst = Some(ip);
            }
            d.l3 = Some(fam);
        }
        Slot::MaskSrc | Slot::MaskDst => {
            mask(c, matches!(slot, Slot::MaskSrc), ip);
        }
    }
    if let Prefix::Len(bits) = prefix {
        let full = if fam == AF_INET { 32 } else { 128 };
        if bits != full {
            let src = matches!(slot, Slot::OrigSrc | Slot::ExpSrc);
            mask(c, src, netmask(fam, bits));
        }
    }
    Ok(())
}

/// The source or destination mask (`--mask-src`, a `/LEN`).
fn mask(c: &mut Command, src: bool, m: IpAddr) {
    c.options |= if src { opt::MASK_SRC } else { opt::MASK_DST };
    let d = &mut c.exp.mask;
    if src {
        d.src = Some(m);
    } else {
        d.dst = Some(m);
    }
    d.l3 = Some(family_of(&m));
}

/// `--src-nat`, `--dst-nat`, `--any-nat` with a value: `ADDR`,
/// `ADDR:PORT`, `[ADDR]:PORT`.
fn nat(c: &mut Command, letter: u8, word: &str) -> Result<(), ParseError> {
    let (addr, port) = if let Some(open) = word.find('[') {
        let start = open + 1;
        let close = word[start..]
            .find(']')
            .map(|i| start + i)
            .ok_or_else(|| param("No closing ']' around IPv6 address"))?;
        if close == start {
            return Err(param("No IPv6 address specified"));
        }
        match word[close..].find(':') {
            Some(i) => (word[start..close].to_string(), Some(&word[close + i + 1..])),
            None => (word.to_string(), None),
        }
    } else {
        match word.find(':') {
            Some(i) if !word[i + 1..].contains(':') => {
                (word[..i].to_string(), Some(&word[i + 1..]))
            }
            _ => (word.to_string(), None),
        }
    };
    let port = match port {
        Some("") => return Err(param("No port specified after `:'")),
        Some(p) if !values::valid_port(p) => return Err(param(format!("Invalid port `{p}'"))),
        Some(p) => Some(p.parse::<u16>().expect("checked by valid_port")),
        None => None,
    };
    let (ip, prefix) = values::parse_addr(&addr);
    let ip = ip.ok_or_else(|| param(format!("Invalid IP address `{addr}'")))?;
    set_family(&mut c.family, family_of(&ip))?;
    if prefix != Prefix::None {
        return Err(param(format!(
            "CIDR notation unavailable for `--{}'",
            long_name(letter)
        )));
    }
    match letter {
        b'n' => {
            c.tmpl.snat = Some(ip);
            c.tmpl.orig.l3 = Some(family_of(&ip));
            if port.is_some() {
                c.tmpl.snat_port = port;
            }
        }
        b'g' => {
            c.tmpl.dnat = Some(ip);
            c.tmpl.orig.l3 = Some(family_of(&ip));
            if port.is_some() {
                c.tmpl.dnat_port = port;
            }
        }
        _ => {
            c.tmpl.any_nat_clobbered = true;
            c.tmpl.snat = Some(ip);
            c.tmpl.dnat = Some(ip);
            if port.is_some() {
                c.tmpl.snat_port = port;
                c.tmpl.dnat_port = port;
            }
        }
    }
    Ok(())
}

/// A protocol extension's option (`parse_options` of the last `-p`).
fn proto_option(c: &mut Command, proto: Proto, local: u8, a: &str) -> Result<(), ParseError> {
    // SCTP and DCCP number their options 1..; the others use '1'...
    let k = match proto {
        Proto::Sctp | Proto::Dccp => local,
        _ => local.wrapping_sub(b'0'),
    };
    match proto {
        Proto::Tcp | Proto::Udp | Proto::Udplite | Proto::Sctp | Proto::Dccp | Proto::Gre => {
            let num = c.protonum;
            // Ports through atoi and htons (GRE keys through strtoul).
            let key = |c: &mut Command, flag: &str| -> Result<u16, ParseError> {
                Ok(if proto == Proto::Gre {
                    cnum(c, a, flag, u16::MAX.into()) as u16
                } else {
                    dec(c, a, flag, 0, u16::MAX.into()) as u16
                })
            };
            // The state and extras sit at different numbers per protocol.
            let (state_k, tuple_k) = match proto {
                Proto::Tcp | Proto::Sctp | Proto::Dccp => (Some(7), 8),
                _ => (None, 7),
            };
            match k {
                1 => {
                    c.tmpl.orig.sport = Some(key(c, "--sport")?);
                    c.tmpl.orig.l4 = Some(num);
                    c.l4flags |= 1 << 0;
                }
                2 => {
                    c.tmpl.orig.dport = Some(key(c, "--dport")?);
                    c.tmpl.orig.l4 = Some(num);
                    c.l4flags |= 1 << 1;
                }
                3 => {
                    c.tmpl.repl.sport = Some(key(c, "--reply-port-src")?);
                    c.tmpl.repl.l4 = Some(num);
                    c.l4flags |= 1 << 2;
                }
                4 => {
                    c.tmpl.repl.dport = Some(key(c, "--reply-port-dst")?);
                    c.tmpl.repl.l4 = Some(num);
                    c.l4flags |= 1 << 3;
                }
                5 => {
                    c.exp.mask.sport = Some(key(c, "--mask-port-src")?);
                    c.exp.mask.l4 = Some(num);
                    c.l4flags |= 1 << 4;
                }
                6 => {
                    c.exp.mask.dport = Some(key(c, "--mask-port-dst")?);
                    c.exp.mask.l4 = Some(num);
                    c.l4flags |= 1 << 5;
                }
                k if Some(k) == state_k => {
                    let st = state(proto, a)?;
                    match proto {
                        Proto::Tcp => c.tmpl.tcp_state = Some(st),
                        Proto::Sctp => c.tmpl.sctp_state = Some(st),
                        _ => c.tmpl.dccp_state = Some(st),
                    }
                    c.l4flags |= 1 << 6;
                }
                k if k == tuple_k || k == tuple_k + 1 => {
                    let v = key(c, "--tuple-port-src")?;
                    if k == tuple_k {
                        c.exp.tuple.sport = Some(v);
                    } else {
                        c.exp.tuple.dport = Some(v);
                    }
                    c.exp.tuple.l4 = Some(num);
                    c.l4flags |= 1 << (k - 1);
                }
                10 if proto == Proto::Sctp => {
                    c.tmpl.vtag_orig = Some(dec(c, a, "--orig-vtag", 0, u32::MAX.into()) as u32);
                    c.l4flags |= 1 << 9;
                }
                11 if proto == Proto::Sctp => {
                    c.tmpl.vtag_repl = Some(dec(c, a, "--reply-vtag", 0, u32::MAX.into()) as u32);
                    c.l4flags |= 1 << 10;
                }
                10 if proto == Proto::Dccp => {
                    let lw = a.to_ascii_lowercase();
                    c.tmpl.dccp_role = Some(if "client".starts_with(&lw) {
                        0
                    } else if "server".starts_with(&lw) {
                        1
                    } else {
                        return Err(param(format!("Unknown DCCP role `{a}'")));
                    });
                    c.l4flags |= 1 << 9;
                }
                _ => {}
            }
        }
        Proto::Icmp | Proto::Icmpv6 => {
            let num = if proto == Proto::Icmp { 1 } else { 58 };
            match k {
                1 => {
                    let t = dec(c, a, "--icmp-type", 0, 255) as u8;
                    let fam = c.tmpl.orig.l3.unwrap_or(0);
                    c.tmpl.icmp_type = Some((t, icmp_reply_type(fam, t)));
                    c.l4flags |= 1;
                }
                2 => {
                    c.tmpl.icmp_code = Some(dec(c, a, "--icmp-code", 0, 255) as u8);
                    c.l4flags |= 2;
                }
                3 => {
                    c.tmpl.icmp_id = Some(dec(c, a, "--icmp-id", 0, u16::MAX.into()) as u16);
                    c.l4flags |= 4;
                }
                _ => return Ok(()),
            }
            c.tmpl.orig.l4 = Some(num);
            if c.tmpl.repl.l3.is_some() {
                c.tmpl.repl.l4 = Some(num);
            }
        }
        Proto::Unknown => {}
    }
    Ok(())
}

/// A protocol state by the extension's names (exact, case-sensitive).
fn state(proto: Proto, a: &str) -> Result<u8, ParseError> {
    const TCP: [&str; 10] = [
        "NONE",
        "SYN_SENT",
        "SYN_RECV",
        "ESTABLISHED",
        "FIN_WAIT",
        "CLOSE_WAIT",
        "LAST_ACK",
        "TIME_WAIT",
        "CLOSE",
        "SYN_SENT2",
    ];
    const SCTP: [&str; 8] = [
        "NONE",
        "CLOSED",
        "COOKIE_WAIT",
        "COOKIE_ECHOED",
        "ESTABLISHED",
        "SHUTDOWN_SENT",
        "SHUTDOWN_RECD",
        "SHUTDOWN_ACK_SENT",
    ];
    const DCCP: [&str; 10] = [
        "NONE", "REQUEST", "RESPOND", "PARTOPEN", "OPEN", "CLOSEREQ", "CLOSING", "TIMEWAIT",
        "IGNORE", "INVALID",
    ];
    let find = |names: &[&str]| names.iter().position(|n| *n == a).map(|i| i as u8);
    match proto {
        Proto::Tcp => {
            if a == "LISTEN" {
                return Ok(9);
            }
            find(&TCP).ok_or_else(|| param(format!("unknown TCP state `{a}'")))
        }
        // conntrack 1.4.7's SCTP state table has two empty slots it
        // compares with: an unknown name crashes it.
        Proto::Sctp => find(&SCTP).ok_or_else(|| {
            refuse(
                Refusal::Crash,
                format!("unknown SCTP state `{a}' (conntrack 1.4.7 crashes on it)"),
            )
        }),
        _ => find(&DCCP).ok_or_else(|| param(format!("Unknown DCCP state `{a}'"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct NoSystem;
    impl Lookup for NoSystem {
        fn protocol(&self, name: &str) -> Option<u8> {
            match name {
                "ipv6-icmp" => Some(58),
                "ospf" => Some(89),
                _ => None,
            }
        }
        fn label(&self, name: &str) -> Result<Option<u32>, String> {
            Ok(match name {
                "red" => Some(1),
                "blue" => Some(70),
                _ => None,
            })
        }
    }

    fn p(line: &str) -> Result<Command, ParseError> {
        let words: Vec<String> = line.split_whitespace().map(String::from).collect();
        parse(&words, &NoSystem)
    }

    fn err(line: &str) -> (i32, String) {
        let e = p(line).expect_err(line);
        (e.code, e.msg)
    }

    #[test]
    fn option_rules_of_1_4_7() {
        assert_eq!(
            err("-F -s 10.0.0.1").1,
            "Illegal option `--src' with this command"
        );
        assert_eq!(
            err("-C -w 7").1,
            "Illegal option `--zone' with this command"
        );
        assert_eq!(
            err("-L --reply-port-dst 1000 -t 30 -p udp").1,
            "unknown option `--reply-port-dst'"
        );
        assert_eq!(
            err("-L -p tcp --reply-port-dst 1000 -t 30").1,
            "Illegal option `--timeout' with this command"
        );
        assert_eq!(
            err("-G -p tcp -s 1.1.1.1 -d 2.2.2.2 --sport 1 --dport 2 --orig-zone 5").1,
            "Illegal option `--orig-zone' with this command"
        );
        assert_eq!(
            err("-I -s 1.1.1.1").1,
            "You need to supply the `--protonum' option for this command"
        );
        assert_eq!(
            err("-I -p tcp -s 1.1.1.1 -t 1").1,
            "you have to specify `--src' and `--dst'"
        );
        assert_eq!(
            err("-I -p tcp -s 1.1.1.1 -d 2.2.2.2 -t 1 --sport 1").1,
            "You need to supply the `--state' option for this command"
        );
        assert_eq!(err("-L -p udp --state X").1, "unknown option `--state'");
        assert_eq!(err("-D -xz").1, "unknown option `-D'");
        assert_eq!(err("-xL").1, "unknown option `conntrack'");
        assert_eq!(err("-L -s").1, "option `-s' requires an argument");
        assert_eq!(err("-L -D").1, "Invalid commands combination");
        assert_eq!(err("-U expect").1, "Can't do --update on expectations");
        assert_eq!(
            err("-D dying").1,
            "Can't do that command with tables `dying' and `unconfirmed'"
        );
        assert_eq!(
            err("-L -r 10.0.0.0/8").1,
            "CIDR notation unavailable for `--reply-src'"
        );
        assert_eq!(err("-L -s 10.0.0.0/33").1, "Invalid netmask");
        assert_eq!(err("-L -p 300").1, "`300' unsupported protocol");
        assert_eq!(
            err("-L -o save,id"),
            (
                1,
                "cannot combine save output with any other output type, use -o save only".into()
            )
        );
        assert_eq!(err("-L -s 1.1.1.1 -d ::1").1, "mismatched address family");
        assert_eq!(
            err("-L -j -n").1,
            "cannot specify `--src-nat' or `--dst-nat' with `--any-nat'"
        );
        assert_eq!(
            err("-s 1.1.1.1").1,
            "Illegal option `--src' with this command"
        );
        assert!(p("").unwrap().cmd.is_none());
    }

    #[test]
    fn tables_and_optional_arguments() {
        assert_eq!(p("-L expect").unwrap().cmd, Some(Cmd::ExpList));
        assert_eq!(p("-L exp").unwrap().cmd, Some(Cmd::ExpList));
        // An attached table name is ignored by 1.4.7.
        assert_eq!(p("-Lexpect").unwrap().cmd, Some(Cmd::List));
        assert_eq!(p("--dump=expect").unwrap().cmd, Some(Cmd::List));
        assert_eq!(p("-L dying").unwrap().table, Table::Dying);
        // --src-nat=ADDR: the address is ignored too.
        let c = p("-L --src-nat=1.2.3.4").unwrap();
        assert_eq!(c.tmpl.snat, None);
        let c = p("-L --src-nat 1.2.3.4:80").unwrap();
        assert_eq!(c.tmpl.snat, Some("1.2.3.4".parse().unwrap()));
        assert_eq!(c.tmpl.snat_port, Some(80));
        assert_eq!(p("-D -f ipv6").unwrap().family, AF_INET6);
        assert_eq!(
            p("-L expect").unwrap().family,
            AF_INET,
            "expectation dumps default to IPv4"
        );
    }

    #[test]
    fn values_as_1_4_7_reads_them() {
        let c = p("-L -s 10.1 -w 010 -m 0x10/0xf0").unwrap();
        assert_eq!(c.tmpl.orig.src, Some("10.0.0.1".parse().unwrap()));
        assert_eq!(c.tmpl.zone, Some(8));
        assert_eq!(c.kernel_mark, Some((0x10, 0xf0)));
        let c = p("-L -u ASSURED,!SEEN_REPLY").unwrap();
        assert_eq!(c.kernel_status, Some((ips::ASSURED, ips::SEEN_REPLY)));
        let c = p("-L -u ASS").unwrap();
        assert_eq!(c.tmpl.status, Some(ips::ASSURED));
        let c = p("-L -o s").unwrap();
        assert_eq!(c.output, 0);
        assert_eq!(
            c.notes,
            vec!["WARNING: ignoring SRC_NAT, use --src-nat instead"]
        );
        let c = p("-L -u UNREPLIED").unwrap();
        assert_eq!(c.kernel_status, Some((0, ips::SEEN_REPLY)));
        assert_eq!(c.tmpl.status, Some(0));
        let c = p("-L -s 10.0.0.0/8").unwrap();
        assert_ne!(c.options & opt::MASK_SRC, 0);
        // Garbage numbers are refused.
        assert_eq!(
            p("-L -p tcp --dport 7o").unwrap_err().refusal,
            Some(Refusal::GarbageNumber)
        );
        assert_eq!(
            p("-L -w -1").unwrap_err().refusal,
            Some(Refusal::GarbageNumber)
        );
        assert_eq!(p("-D --id").unwrap_err().refusal, Some(Refusal::Crash));
        assert_eq!(
            p("-L -p sctp --state X").unwrap_err().refusal,
            Some(Refusal::Crash)
        );
        // The ICMP reply type depends on the family known when the type
        // was read.
        let c = p("-I -p icmp --icmp-type 8 --icmp-code 0 -s 1.1.1.1 -d 2.2.2.2 -t 1").unwrap();
        assert_eq!(c.tmpl.icmp_type, Some((8, 255)));
        let c = p("-I -s 1.1.1.1 -d 2.2.2.2 -p icmp --icmp-type 8 --icmp-code 0 -t 1").unwrap();
        assert_eq!(c.tmpl.icmp_type, Some((8, 0)));
        // A second -p hands options to the last extension.
        let c = p("-L -p tcp -p udp --dport 53").unwrap();
        assert_eq!(c.tmpl.orig.dport, Some(53));
        assert_eq!(c.proto, Some(Proto::Udp));
        assert_eq!(
            err("-L -p tcp -p udp --state ESTABLISHED").1,
            "Illegal option `--tuple-port-src' with this command"
        );
        assert_eq!(p("-L -l red,blue").unwrap().labels, Some(vec![1, 70]));
        assert_eq!(err("-L -l green").1, "unknown label 'green'");
    }
}
