//! conntrack 1.4.7's option tables: the long options, the short-option
//! string, which command allows, requires or forbids which option
//! (`commands_v_options`), and the protocol extensions' own options and
//! tables (`extensions/libct_proto_*.c`), which `-p` merges into the
//! option list.

use super::getopt::LongOpt;

/// The short options (`getopt_str` in conntrack.c): `::` an optional
/// argument, `:` a required one; the leading `:` makes a missing argument
/// an error of its own.
pub const OPTSTRING: &str =
    ":L::I::U::D::G::E::F::A::hVs:d:r:q:p:t:u:e:a:z[:]:{:}:m:i:f:o:n::g::c:b:C::Sj::w:l:<:>::(:):";

const fn o(name: &'static str, has_arg: u8, val: u8) -> LongOpt {
    LongOpt {
        name,
        has_arg,
        val: val as i32,
    }
}

/// `original_opts`, in conntrack.c's order (the first name of a value is
/// the one its messages use).
pub const LONG: &[LongOpt] = &[
    o("dump", 2, b'L'),
    o("create", 2, b'I'),
    o("add", 2, b'A'),
    o("delete", 2, b'D'),
    o("update", 2, b'U'),
    o("get", 2, b'G'),
    o("flush", 2, b'F'),
    o("event", 2, b'E'),
    o("counter", 2, b'C'),
    o("stats", 0, b'S'),
    o("version", 0, b'V'),
    o("help", 0, b'h'),
    o("orig-src", 1, b's'),
    o("src", 1, b's'),
    o("orig-dst", 1, b'd'),
    o("dst", 1, b'd'),
    o("reply-src", 1, b'r'),
    o("reply-dst", 1, b'q'),
    o("protonum", 1, b'p'),
    o("timeout", 1, b't'),
    o("status", 1, b'u'),
    o("zero", 0, b'z'),
    o("event-mask", 1, b'e'),
    o("tuple-src", 1, b'['),
    o("tuple-dst", 1, b']'),
    o("mask-src", 1, b'{'),
    o("mask-dst", 1, b'}'),
    o("nat-range", 1, b'a'),
    o("mark", 1, b'm'),
    o("secmark", 1, b'c'),
    o("id", 2, b'i'),
    o("family", 1, b'f'),
    o("src-nat", 2, b'n'),
    o("dst-nat", 2, b'g'),
    o("output", 1, b'o'),
    o("buffer-size", 1, b'b'),
    o("any-nat", 2, b'j'),
    o("zone", 1, b'w'),
    o("label", 1, b'l'),
    o("label-add", 1, b'<'),
    o("label-del", 2, b'>'),
    o("orig-zone", 1, b'('),
    o("reply-zone", 1, b')'),
];

/// The first long name of option value `val` (`get_long_opt`).
pub fn long_name(val: u8) -> &'static str {
    LONG.iter()
        .find(|o| o.val == i32::from(val))
        .map_or("unknown", |o| o.name)
}

/// Option bits (`enum ct_options`), in table column order.
pub mod opt {
    /// `CT_OPT_ORIG_SRC`.
    pub const ORIG_SRC: u32 = 1 << 0;
    /// `CT_OPT_ORIG_DST`.
    pub const ORIG_DST: u32 = 1 << 1;
    /// `CT_OPT_ORIG`.
    pub const ORIG: u32 = ORIG_SRC | ORIG_DST;
    /// `CT_OPT_REPL_SRC`.
    pub const REPL_SRC: u32 = 1 << 2;
    /// `CT_OPT_REPL_DST`.
    pub const REPL_DST: u32 = 1 << 3;
    /// `CT_OPT_REPL`.
    pub const REPL: u32 = REPL_SRC | REPL_DST;
    /// `CT_OPT_PROTO`.
    pub const PROTO: u32 = 1 << 4;
    /// `CT_OPT_TUPLE_ORIG`.
    pub const TUPLE_ORIG: u32 = ORIG | PROTO;
    /// `CT_OPT_TUPLE_REPL`.
    pub const TUPLE_REPL: u32 = REPL | PROTO;
    /// `CT_OPT_TIMEOUT`.
    pub const TIMEOUT: u32 = 1 << 5;
    /// `CT_OPT_STATUS`.
    pub const STATUS: u32 = 1 << 6;
    /// `CT_OPT_ZERO`.
    pub const ZERO: u32 = 1 << 7;
    /// `CT_OPT_EVENT_MASK`.
    pub const EVENT_MASK: u32 = 1 << 8;
    /// `CT_OPT_EXP_SRC`.
    pub const EXP_SRC: u32 = 1 << 9;
    /// `CT_OPT_EXP_DST`.
    pub const EXP_DST: u32 = 1 << 10;
    /// `CT_OPT_MASK_SRC`.
    pub const MASK_SRC: u32 = 1 << 11;
    /// `CT_OPT_MASK_DST`.
    pub const MASK_DST: u32 = 1 << 12;
    /// `CT_OPT_NATRANGE`.
    pub const NATRANGE: u32 = 1 << 13;
    /// `CT_OPT_MARK`.
    pub const MARK: u32 = 1 << 14;
    /// `CT_OPT_ID`.
    pub const ID: u32 = 1 << 15;
    /// `CT_OPT_FAMILY`.
    pub const FAMILY: u32 = 1 << 16;
    /// `CT_OPT_SRC_NAT`.
    pub const SRC_NAT: u32 = 1 << 17;
    /// `CT_OPT_DST_NAT`.
    pub const DST_NAT: u32 = 1 << 18;
    /// `CT_OPT_OUTPUT`.
    pub const OUTPUT: u32 = 1 << 19;
    /// `CT_OPT_SECMARK`.
    pub const SECMARK: u32 = 1 << 20;
    /// `CT_OPT_BUFFERSIZE`.
    pub const BUFFERSIZE: u32 = 1 << 21;
    /// `CT_OPT_ANY_NAT`.
    pub const ANY_NAT: u32 = 1 << 22;
    /// `CT_OPT_ZONE`.
    pub const ZONE: u32 = 1 << 23;
    /// `CT_OPT_LABEL`.
    pub const LABEL: u32 = 1 << 24;
    /// `CT_OPT_ADD_LABEL`.
    pub const ADD_LABEL: u32 = 1 << 25;
    /// `CT_OPT_DEL_LABEL`.
    pub const DEL_LABEL: u32 = 1 << 26;
    /// `CT_OPT_ORIG_ZONE`.
    pub const ORIG_ZONE: u32 = 1 << 27;
    /// `CT_OPT_REPL_ZONE`.
    pub const REPL_ZONE: u32 = 1 << 28;
    /// `CT_COMPARISON`: the options that make conntrack compare entries
    /// with its template (`nfct_cmp`).
    pub const COMPARISON: u32 =
        PROTO | ORIG | REPL | MARK | SECMARK | STATUS | ID | ZONE | LABEL | ORIG_ZONE | REPL_ZONE;
}

/// The number of options (`NUMBER_OF_OPT`).
pub const NUMBER_OF_OPT: usize = 29;

/// Option names in messages (`optflags`), by bit.
pub const OPTFLAGS: [&str; NUMBER_OF_OPT] = [
    "src",
    "dst",
    "reply-src",
    "reply-dst",
    "protonum",
    "timeout",
    "status",
    "zero",
    "event-mask",
    "tuple-src",
    "tuple-dst",
    "mask-src",
    "mask-dst",
    "nat-range",
    "mark",
    "id",
    "family",
    "src-nat",
    "dst-nat",
    "output",
    "secmark",
    "buffer-size",
    "any-nat",
    "zone",
    "label",
    "label-add",
    "label-del",
    "orig-zone",
    "reply-zone",
];

/// The commands (`enum ct_command`), by bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Command {
    /// `CT_LIST`.
    List = 0,
    /// `CT_CREATE`.
    Create = 1,
    /// `CT_UPDATE`.
    Update = 2,
    /// `CT_DELETE`.
    Delete = 3,
    /// `CT_GET`.
    Get = 4,
    /// `CT_FLUSH`.
    Flush = 5,
    /// `CT_EVENT`.
    Event = 6,
    /// `CT_VERSION`.
    Version = 7,
    /// `CT_HELP`.
    Help = 8,
    /// `CT_EXP_LIST`.
    ExpList = 9,
    /// `CT_EXP_CREATE`.
    ExpCreate = 10,
    /// `CT_EXP_DELETE`.
    ExpDelete = 11,
    /// `CT_EXP_GET`.
    ExpGet = 12,
    /// `CT_EXP_FLUSH`.
    ExpFlush = 13,
    /// `CT_EXP_EVENT`.
    ExpEvent = 14,
    /// `CT_COUNT`.
    Count = 15,
    /// `CT_EXP_COUNT`.
    ExpCount = 16,
    /// `CT_STATS`.
    Stats = 17,
    /// `CT_EXP_STATS`.
    ExpStats = 18,
    /// `CT_ADD`.
    Add = 19,
}

impl Command {
    /// The command's bit.
    pub fn bit(self) -> u32 {
        1 << self as u32
    }

    /// Whether it works on the expectation table.
    pub fn is_expect(self) -> bool {
        matches!(
            self,
            Command::ExpList
                | Command::ExpCreate
                | Command::ExpDelete
                | Command::ExpGet
                | Command::ExpFlush
                | Command::ExpEvent
                | Command::ExpCount
                | Command::ExpStats
        )
    }
}

/// `cmd2type`: the command a command letter stands for, on the conntrack
/// table and on the expectation table (`None`: not on expectations).
pub fn command_of(letter: u8) -> Option<(Command, Option<Command>)> {
    use Command::*;
    Some(match letter {
        b'L' => (List, Some(ExpList)),
        b'I' => (Create, Some(ExpCreate)),
        b'D' => (Delete, Some(ExpDelete)),
        b'G' => (Get, Some(ExpGet)),
        b'F' => (Flush, Some(ExpFlush)),
        b'E' => (Event, Some(ExpEvent)),
        b'V' => (Version, Some(Version)),
        b'h' => (Help, Some(Help)),
        b'C' => (Count, Some(ExpCount)),
        b'S' => (Stats, Some(ExpStats)),
        b'U' => (Update, None),
        b'A' => (Add, None),
        _ => return None,
    })
}

/// `commands_v_options`: 0 illegal, 1 required, 2 optional, 3 one of the
/// coupled pairs (`--src`+`--dst` or `--reply-src`+`--reply-dst`). The
/// row for "no command" is what lies past conntrack's table: zeros, but
/// for `--reply-zone`, which 1.4.7 lets through there (measured:
/// `conntrack --reply-zone 5` prints the usage and exits 0, where every
/// other option alone is illegal).
pub fn legality(cmd: Option<Command>) -> [u8; NUMBER_OF_OPT] {
    use Command::*;
    // s d r q p t u z e [ ] { } a m i f n g o c b j w l < > ( )
    match cmd {
        Some(List) => [
            2, 2, 2, 2, 2, 0, 2, 2, 0, 0, 0, 2, 2, 0, 2, 0, 2, 2, 2, 2, 2, 0, 2, 2, 2, 0, 0, 2, 2,
        ],
        Some(Create) | Some(Add) => [
            3, 3, 3, 3, 1, 1, 2, 0, 0, 0, 0, 0, 0, 2, 2, 0, 0, 2, 2, 0, 0, 0, 0, 2, 0, 2, 0, 2, 2,
        ],
        Some(Update) => [
            2, 2, 2, 2, 2, 2, 2, 0, 0, 0, 0, 2, 2, 0, 2, 2, 2, 2, 2, 2, 0, 0, 0, 0, 2, 2, 2, 0, 0,
        ],
        Some(Delete) => [
            2, 2, 2, 2, 2, 2, 2, 0, 0, 0, 0, 2, 2, 0, 2, 2, 2, 2, 2, 2, 0, 0, 0, 2, 2, 0, 0, 2, 2,
        ],
        Some(Get) => [
            3, 3, 3, 3, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 0, 2, 0, 0, 0, 0,
        ],
        Some(Flush) => [
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ],
        Some(Event) => [
            2, 2, 2, 2, 2, 0, 0, 0, 2, 0, 0, 2, 2, 0, 2, 0, 2, 2, 2, 2, 2, 2, 2, 2, 2, 0, 0, 2, 2,
        ],
        Some(Help) => [
            0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ],
        Some(ExpList) => [
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ],
        Some(ExpCreate) => [
            1, 1, 2, 2, 1, 1, 2, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ],
        Some(ExpDelete) | Some(ExpGet) => [
            1, 1, 2, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ],
        Some(ExpEvent) => [
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ],
        Some(Version) | Some(ExpFlush) | Some(Count) | Some(ExpCount) | Some(Stats)
        | Some(ExpStats) => [0; NUMBER_OF_OPT],
        None => {
            let mut row = [0; NUMBER_OF_OPT];
            row[NUMBER_OF_OPT - 1] = 2;
            row
        }
    }
}

/// A protocol extension of conntrack (`struct ctproto_handler`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    /// The tcp extension.
    Tcp,
    /// The udp extension.
    Udp,
    /// The udplite extension.
    Udplite,
    /// The sctp extension.
    Sctp,
    /// The dccp extension.
    Dccp,
    /// The icmp extension.
    Icmp,
    /// The icmpv6 extension.
    Icmpv6,
    /// The gre extension.
    Gre,
    /// Any other protocol: no options of its own.
    Unknown,
}

/// The extensions in the order conntrack registers them.
pub const PROTOS: [(Proto, &str, u8); 8] = [
    (Proto::Tcp, "tcp", 6),
    (Proto::Udp, "udp", 17),
    (Proto::Udplite, "udplite", 136),
    (Proto::Sctp, "sctp", 132),
    (Proto::Dccp, "dccp", 33),
    (Proto::Icmp, "icmp", 1),
    (Proto::Icmpv6, "icmpv6", 58),
    (Proto::Gre, "gre", 47),
];

const fn p(name: &'static str, val: u8) -> LongOpt {
    LongOpt {
        name,
        has_arg: 1,
        val: val as i32,
    }
}

const PORT_OPTS: &[LongOpt] = &[
    p("orig-port-src", b'1'),
    p("sport", b'1'),
    p("orig-port-dst", b'2'),
    p("dport", b'2'),
    p("reply-port-src", b'3'),
    p("reply-port-dst", b'4'),
    p("mask-port-src", b'5'),
    p("mask-port-dst", b'6'),
];

impl Proto {
    /// The long options the extension adds, with their local values.
    pub fn options(self) -> &'static [LongOpt] {
        const TCP: &[LongOpt] = &[
            p("orig-port-src", b'1'),
            p("sport", b'1'),
            p("orig-port-dst", b'2'),
            p("dport", b'2'),
            p("reply-port-src", b'3'),
            p("reply-port-dst", b'4'),
            p("mask-port-src", b'5'),
            p("mask-port-dst", b'6'),
            p("state", b'7'),
            p("tuple-port-src", b'8'),
            p("tuple-port-dst", b'9'),
        ];
        const UDP: &[LongOpt] = &[
            p("orig-port-src", b'1'),
            p("sport", b'1'),
            p("orig-port-dst", b'2'),
            p("dport", b'2'),
            p("reply-port-src", b'3'),
            p("reply-port-dst", b'4'),
            p("mask-port-src", b'5'),
            p("mask-port-dst", b'6'),
            p("tuple-port-src", b'7'),
            p("tuple-port-dst", b'8'),
        ];
        const SCTP: &[LongOpt] = &[
            p("orig-port-src", 1),
            p("orig-port-dst", 2),
            p("reply-port-src", 3),
            p("reply-port-dst", 4),
            p("mask-port-src", 5),
            p("mask-port-dst", 6),
            p("state", 7),
            p("tuple-port-src", 8),
            p("tuple-port-dst", 9),
            p("orig-vtag", 10),
            p("reply-vtag", 11),
            p("sport", 1),
            p("dport", 2),
        ];
        const DCCP: &[LongOpt] = &[
            p("orig-port-src", 1),
            p("orig-port-dst", 2),
            p("reply-port-src", 3),
            p("reply-port-dst", 4),
            p("mask-port-src", 5),
            p("mask-port-dst", 6),
            p("state", 7),
            p("tuple-port-src", 8),
            p("tuple-port-dst", 9),
            p("sport", 1),
            p("dport", 2),
            p("role", 10),
        ];
        const ICMP: &[LongOpt] = &[
            p("icmp-type", b'1'),
            p("icmp-code", b'2'),
            p("icmp-id", b'3'),
        ];
        const ICMPV6: &[LongOpt] = &[
            p("icmpv6-type", b'1'),
            p("icmpv6-code", b'2'),
            p("icmpv6-id", b'3'),
        ];
        const GRE: &[LongOpt] = &[
            p("orig-key-src", b'1'),
            p("srckey", b'1'),
            p("orig-key-dst", b'2'),
            p("dstkey", b'2'),
            p("reply-key-src", b'3'),
            p("reply-key-dst", b'4'),
            p("mask-key-src", b'5'),
            p("mask-key-dst", b'6'),
            p("tuple-key-src", b'7'),
            p("tuple-key-dst", b'8'),
        ];
        match self {
            Proto::Tcp => TCP,
            Proto::Udp => UDP,
            Proto::Udplite => PORT_OPTS_UDPLITE,
            Proto::Sctp => SCTP,
            Proto::Dccp => DCCP,
            Proto::Icmp => ICMP,
            Proto::Icmpv6 => ICMPV6,
            Proto::Gre => GRE,
            Proto::Unknown => &[],
        }
    }

    /// Option names in the extension's messages, by flag bit.
    pub fn optflags(self) -> &'static [&'static str] {
        match self {
            Proto::Tcp => &[
                "sport",
                "dport",
                "reply-port-src",
                "reply-port-dst",
                "mask-port-src",
                "mask-port-dst",
                "state",
                "tuple-port-src",
                "tuple-port-dst",
            ],
            Proto::Udp | Proto::Udplite => &[
                "sport",
                "dport",
                "reply-port-src",
                "reply-port-dst",
                "mask-port-src",
                "mask-port-dst",
                "tuple-port-src",
                "tuple-port-dst",
            ],
            Proto::Sctp => &[
                "sport",
                "dport",
                "reply-port-src",
                "reply-port-dst",
                "mask-port-src",
                "mask-port-dst",
                "state",
                "tuple-port-src",
                "tuple-port-dst",
                "orig-vtag",
                "reply-vtag",
            ],
            Proto::Dccp => &[
                "sport",
                "dport",
                "reply-port-src",
                "reply-port-dst",
                "mask-port-src",
                "mask-port-dst",
                "state",
                "tuple-port-src",
                "tuple-port-dst",
                "role",
            ],
            Proto::Icmp => &["icmp-type", "icmp-code", "icmp-id"],
            Proto::Icmpv6 => &["icmpv6-type", "icmpv6-code", "icmpv6-id"],
            Proto::Gre => &[
                "srckey",
                "dstkey",
                "reply-key-src",
                "reply-key-dst",
                "mask-key-src",
                "mask-key-dst",
                "tuple-key-src",
                "tuple-key-dst",
            ],
            Proto::Unknown => &[],
        }
    }

    /// The extension's `commands_v_options` row for a command (all zeros
    /// for commands it has no row for).
    pub fn legality(self, cmd: Option<Command>) -> &'static [u8] {
        use Command::*;
        let Some(cmd) = cmd else { return &[0; 11] };
        match self {
            Proto::Tcp => match cmd {
                List | Update | Delete | Event => &[2, 2, 2, 2, 0, 0, 2, 0, 0],
                Create | Add => &[3, 3, 3, 3, 0, 0, 1, 0, 0],
                Get => &[3, 3, 3, 3, 0, 0, 2, 0, 0],
                ExpCreate => &[1, 1, 0, 0, 1, 1, 0, 1, 1],
                ExpDelete | ExpGet => &[1, 1, 1, 1, 0, 0, 0, 0, 0],
                _ => &[0; 9],
            },
            Proto::Udp | Proto::Udplite | Proto::Gre => match cmd {
                List | Update | Delete | Event => &[2, 2, 2, 2, 0, 0, 0, 0],
                Create | Add | Get => &[3, 3, 3, 3, 0, 0, 0, 0],
                ExpCreate if self == Proto::Gre => &[1, 1, 1, 1, 1, 1, 1, 1],
                ExpCreate => &[1, 1, 0, 0, 1, 1, 1, 1],
                ExpDelete | ExpGet => &[1, 1, 1, 1, 0, 0, 0, 0],
                _ => &[0; 8],
            },
            Proto::Sctp => match cmd {
                List | Delete | Event => &[2, 2, 2, 2, 0, 0, 2, 0, 0, 0, 0],
                Update => &[2, 2, 2, 2, 0, 0, 2, 0, 0, 2, 2],
                Create | Add => &[3, 3, 3, 3, 0, 0, 1, 0, 0, 1, 1],
                Get => &[3, 3, 3, 3, 0, 0, 2, 0, 0, 2, 2],
                ExpCreate => &[1, 1, 0, 0, 1, 1, 0, 1, 1, 0, 0],
                ExpDelete | ExpGet => &[1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0],
                _ => &[0; 11],
            },
            Proto::Dccp => match cmd {
                List | Update | Delete | Get | Event => &[2, 2, 2, 2, 0, 0, 2, 0, 0, 0],
                Create | Add => &[3, 3, 3, 3, 0, 0, 1, 0, 0, 1],
                ExpCreate => &[1, 1, 0, 0, 1, 1, 0, 1, 1, 0],
                ExpDelete | ExpGet => &[1, 1, 1, 1, 0, 0, 0, 0, 0, 0],
                _ => &[0; 10],
            },
            Proto::Icmp | Proto::Icmpv6 => match cmd {
                List | Update | Delete | Event => &[2, 2, 2],
                Create | Add | Get => &[1, 1, 2],
                _ => &[0; 3],
            },
            Proto::Unknown => &[],
        }
    }

    /// The number of option bits `generic_opt_check` walks for the
    /// extension (its `*_NUMBER_OF_OPT` / `*_OPT_MAX`).
    pub fn number_of_opts(self) -> usize {
        match self {
            Proto::Tcp => 10,
            Proto::Udp | Proto::Udplite => 9,
            Proto::Sctp => 14,
            Proto::Dccp => 13,
            Proto::Icmp | Proto::Icmpv6 => 4,
            Proto::Gre => 11,
            Proto::Unknown => 0,
        }
    }

    /// The coupled port flags and the message when neither pair is whole,
    /// for extensions that have them.
    pub fn coupled(self) -> Option<([u32; 2], &'static str, &'static str)> {
        let ports = (
            [0b0011, 0b1100],
            "you have to specify `--sport' and `--dport'",
            "you have to specify `--reply-src-port' and `--reply-dst-port'",
        );
        match self {
            Proto::Tcp | Proto::Udp | Proto::Udplite | Proto::Sctp | Proto::Dccp => Some(ports),
            Proto::Gre => Some((
                [0b0011, 0b1100],
                "you have to specify `--srckey' and `--dstkey'",
                "you have to specify `--reply-key-src' and `--reply-key-dst'",
            )),
            Proto::Icmp | Proto::Icmpv6 | Proto::Unknown => None,
        }
    }
}

const PORT_OPTS_UDPLITE: &[LongOpt] = PORT_OPTS_UDPLITE_ARR;
const PORT_OPTS_UDPLITE_ARR: &[LongOpt] = &[
    PORT_OPTS[0],
    PORT_OPTS[1],
    PORT_OPTS[2],
    PORT_OPTS[3],
    PORT_OPTS[4],
    PORT_OPTS[5],
    PORT_OPTS[6],
    PORT_OPTS[7],
    p("tuple-port-src", b'7'),
    p("tuple-port-dst", b'8'),
];
