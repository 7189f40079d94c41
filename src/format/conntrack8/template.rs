//! What a conntrack(8) command line becomes: the [`Command`] and the
//! *template* its values are kept in, conntrack's own constants, and its
//! errors ([`ParseError`], [`Refusal`]) with the readers of numbers that
//! note garbage.

use std::net::IpAddr;

use super::options::{Command as Cmd, Proto};
use super::values::{self};

pub(super) const AF_INET: u8 = 2;
pub(super) const AF_INET6: u8 = 10;

/// Status bits (`IPS_*`).
pub mod ips {
    /// `IPS_EXPECTED`.
    pub const EXPECTED: u32 = 1 << 0;
    /// `IPS_SEEN_REPLY`.
    pub const SEEN_REPLY: u32 = 1 << 1;
    /// `IPS_ASSURED`.
    pub const ASSURED: u32 = 1 << 2;
    /// `IPS_SRC_NAT_DONE`.
    pub const SRC_NAT_DONE: u32 = 1 << 7;
    /// `IPS_DST_NAT_DONE`.
    pub const DST_NAT_DONE: u32 = 1 << 8;
    /// `IPS_FIXED_TIMEOUT`.
    pub const FIXED_TIMEOUT: u32 = 1 << 10;
    /// `IPS_OFFLOAD`.
    pub const OFFLOAD: u32 = 1 << 14;
    /// `IPS_HW_OFFLOAD`.
    pub const HW_OFFLOAD: u32 = 1 << 15;
}

/// Output flags (`-o`).
pub mod out {
    /// `-o xml`.
    pub const XML: u32 = 1 << 0;
    /// `-o extended`.
    pub const EXTENDED: u32 = 1 << 1;
    /// `-o timestamp`.
    pub const TIMESTAMP: u32 = 1 << 2;
    /// `-o id`.
    pub const ID: u32 = 1 << 3;
    /// `-o ktimestamp`.
    pub const KTIMESTAMP: u32 = 1 << 4;
    /// `-o labels`.
    pub const LABELS: u32 = 1 << 5;
    /// `-o save`.
    pub const SAVE: u32 = 1 << 6;
}

/// Event flags (`-e`).
pub mod ev {
    /// `-e new`.
    pub const NEW: u32 = 1 << 0;
    /// `-e update`.
    pub const UPDATE: u32 = 1 << 1;
    /// `-e destroy`.
    pub const DESTROY: u32 = 1 << 2;
    /// `-e all`.
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
    ///
    /// # Errors
    ///
    /// When the label names no bit (it is not in connlabel.conf).
    fn label(&self, name: &str) -> Result<Option<u32>, String>;
}

pub(super) fn fail(code: i32, msg: impl Into<String>) -> ParseError {
    ParseError {
        code,
        msg: msg.into(),
        notes: Vec::new(),
        refusal: None,
    }
}

pub(super) fn param(msg: impl Into<String>) -> ParseError {
    fail(2, msg)
}

pub(super) fn refuse(kind: Refusal, msg: impl Into<String>) -> ParseError {
    ParseError {
        refusal: Some(kind),
        ..fail(2, msg)
    }
}

/// The C readers' value of a number, noting the first one that is not
/// clean: conntrack 1.4.7 goes on with what it read, and so does the
/// reading here (its later errors come first), but the command is refused
/// at the end if nothing else stopped it.
pub(super) fn noted(c: &mut Command, clean: bool, flag: &str, text: &str) {
    if !clean && c.garbage.is_none() {
        c.garbage = Some(format!(
            "Bad parameter `{text}' for `{flag}' (conntrack 1.4.7 would read a number from its first digits)"
        ));
    }
}

/// `atoi`/`atol`: the value C computes, as `i64`, and whether it was clean
/// and within `lo..=hi`.
pub(super) fn dec(c: &mut Command, text: &str, flag: &str, lo: i64, hi: i64) -> i64 {
    let (v, clean) = values::atol(text);
    noted(c, clean && (lo..=hi).contains(&v), flag, text);
    v
}

/// `strtoul(.., 0)`: the value C computes, and whether it was clean and at
/// most `hi`.
pub(super) fn cnum(c: &mut Command, text: &str, flag: &str, hi: u64) -> u64 {
    let r = values::strtoul(text, 0);
    noted(c, r.clean && r.value <= hi, flag, text);
    r.value
}
