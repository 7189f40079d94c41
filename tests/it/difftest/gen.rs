//! Random conntrack command lines from the option grammar: every command
//! and table, legal and illegal option combinations, short, long,
//! abbreviated and `--opt=value` spellings, both families, values taken
//! from the seed table (so that selections hit entries) and values that
//! are not (garbage numbers, prefixes, unknown names).

/// splitmix64: small, seedable, good enough to spread choices.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// 0..n
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// true with probability `p` percent.
    pub fn pct(&mut self, p: u64) -> bool {
        self.next() % 100 < p
    }

    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
}

const V4: &[&str] = &[
    "10.0.0.1",
    "10.0.0.2",
    "10.0.0.3",
    "10.0.0.4",
    "10.0.1.1",
    "10.0.1.2",
    "10.0.1.3",
    "192.0.2.9",
    "10.0.0.0/24",
    "10.0.1.0/24",
    "10.0.0.0/8",
    "10.1",
    "10.0.0.1/32",
    "0.0.0.0/0",
    "10.9.9.9",
];
const V6: &[&str] = &[
    "2001:db8::1",
    "2001:db8::2",
    "2001:db8::3",
    "2001:db8:1::1",
    "2001:db8:1::2",
    "2001:db8::99",
    "2001:db8::/64",
    "2001:db8:1::/48",
    "::/0",
    "2001:db8::1/128",
];
const BAD_ADDR: &[&str] = &[
    "10.0.0.256",
    "nonsense",
    "10.0.0.1/33",
    "::1/129",
    "10.0.0.0/x",
    "[::1]",
];
const PORTS: &[&str] = &[
    "80", "443", "53", "22", "40001", "40002", "40005", "40008", "5353", "5000", "5001", "123",
    "7", "8", "61000", "8080", "1", "0", "65535",
];
const BAD_NUM: &[&str] = &["8o", "70000", "-1", "x", "", "0x50", " 80", "+80"];
const MARKS: &[&str] = &[
    "0",
    "1",
    "7",
    "0x10",
    "0x10/0xf0",
    "1/1",
    "0/0",
    "7/3",
    "16",
    "0x11/0xff",
];
const ZONES: &[&str] = &["0", "5", "7", "9", "010", "0x5"];
const STATUS: &[&str] = &[
    "ASSURED",
    "SEEN_REPLY",
    "UNREPLIED",
    "!ASSURED",
    "FIXED_TIMEOUT",
    "ASS",
    "UNSET",
    "EXPECTED",
    "ASSURED,SEEN_REPLY",
    "!SEEN_REPLY",
    "ASSURED,!FIXED_TIMEOUT",
    "UNREPLIED,ASSURED",
    "OFFLOAD",
    "BOGUS",
    "assured",
    "S",
    ",",
    "!",
];
const TCP_STATES: &[&str] = &[
    "ESTABLISHED",
    "TIME_WAIT",
    "SYN_SENT",
    "CLOSE",
    "LISTEN",
    "SYN_SENT2",
    "established",
    "FOO",
    "NONE",
];
const SCTP_STATES: &[&str] = &["ESTABLISHED", "COOKIE_WAIT", "CLOSED", "SHUTDOWN_SENT"];
const TIMEOUTS: &[&str] = &["100", "3600", "36000", "36005", "5", "0"];
const LABELS: &[&str] = &["red", "blue", "green", "red,blue", "nosuch"];
const OUTPUT: &[&str] = &[
    "extended",
    "id",
    "xml",
    "save",
    "labels",
    "timestamp",
    "ktimestamp",
    "extended,id",
    "save,id",
    "s",
    "e",
    "userspace",
    "xml,extended",
    "bogus",
];
const PROTOS: &[&str] = &[
    "tcp",
    "udp",
    "icmp",
    "icmpv6",
    "sctp",
    "gre",
    "udplite",
    "dccp",
    "89",
    "ospf",
    "TCP",
    "6",
    "ipv6-icmp",
    "300",
    "bogus",
    "17",
];
const FAMILIES: &[&str] = &["ipv4", "ipv6", "ipv4x", "inet"];
const NAT: &[&str] = &[
    "192.0.2.9",
    "192.0.2.9:61000",
    "10.0.1.2",
    "10.0.1.2:80",
    "2001:db8::99",
    "[2001:db8::99]:1",
    "192.0.2.9:",
    "10.0.0.0/8",
    "[]:1",
];

/// One generated command line (words, no program name).
pub fn line(r: &mut Rng) -> Vec<String> {
    let mut w: Vec<String> = Vec::new();
    let v6 = r.pct(30);
    let addr = |r: &mut Rng| -> String {
        if r.pct(4) {
            return r.pick(BAD_ADDR).to_string();
        }
        if v6 {
            r.pick(V6).to_string()
        } else {
            r.pick(V4).to_string()
        }
    };
    let num = |r: &mut Rng, pool: &[&str]| -> String {
        if r.pct(5) {
            r.pick(BAD_NUM).to_string()
        } else {
            r.pick(pool).to_string()
        }
    };
    // The command.
    let cmd = *r.pick(&[
        "L", "L", "L", "L", "L", "D", "D", "D", "D", "U", "U", "U", "G", "G", "I", "I", "A", "F",
        "C", "S", "E", "h", "V", "none", "Lexp", "Dexp", "Fexp", "Cexp", "Gexp", "Iexp", "Ldying",
        "Uexp", "Ddying",
    ]);
    let spell = |r: &mut Rng, short: &str, long: &str| -> String {
        if r.pct(70) {
            format!("-{short}")
        } else {
            format!("--{long}")
        }
    };
    match cmd {
        "L" => w.push(spell(r, "L", "dump")),
        "D" => w.push(spell(r, "D", "delete")),
        "U" => w.push(spell(r, "U", "update")),
        "G" => w.push(spell(r, "G", "get")),
        "I" => w.push(spell(r, "I", "create")),
        "A" => w.push(spell(r, "A", "add")),
        "F" => w.push(spell(r, "F", "flush")),
        "C" => w.push(spell(r, "C", "counter")),
        "S" => w.push(spell(r, "S", "stats")),
        "E" => w.push(spell(r, "E", "event")),
        "h" => w.push("-h".into()),
        "V" => w.push("-V".into()),
        "none" => {}
        "Lexp" | "Dexp" | "Fexp" | "Cexp" | "Gexp" | "Iexp" | "Uexp" => {
            let c = &cmd[..1];
            match r.below(4) {
                0 => w.push(format!("-{c}expect")),
                1 => {
                    w.push(format!("-{c}"));
                    w.push("exp".into());
                }
                _ => {
                    w.push(format!("-{c}"));
                    w.push("expect".into());
                }
            }
        }
        _ => {
            w.push(format!("-{}", &cmd[..1]));
            w.push(if r.pct(50) { "dying" } else { "unconfirmed" }.into());
        }
    }
    let creating = matches!(cmd, "I" | "A");
    let full_tuple = (creating || cmd == "G") && r.pct(80) || matches!(cmd, "D" | "U") && r.pct(15);
    // The protocol and a full tuple from the seed table for -I/-G (a
    // new one for creates, half the time).
    let proto = if full_tuple || r.pct(45) {
        Some(if full_tuple {
            r.pick(&["tcp", "udp", "icmp", "sctp", "gre", "89", "icmpv6"])
                .to_string()
        } else {
            r.pick(PROTOS).to_string()
        })
    } else {
        None
    };
    let mut opts: Vec<Vec<String>> = Vec::new();
    let p = |k: &str, v: String| vec![k.to_string(), v];
    if full_tuple {
        let fresh = creating && r.pct(50);
        let (s, d) = if v6 {
            (
                if fresh { "2001:db8::77" } else { "2001:db8::1" },
                "2001:db8:1::1",
            )
        } else {
            (if fresh { "10.0.0.77" } else { "10.0.0.1" }, "10.0.1.1")
        };
        if r.pct(85) {
            opts.push(p("-s", s.into()));
            opts.push(p("-d", d.into()));
        }
        if r.pct(25) {
            opts.push(p("-r", d.into()));
            opts.push(p("-q", s.into()));
        }
    }
    // Protocol options come after -p (mostly).
    let mut l4: Vec<Vec<String>> = Vec::new();
    if let Some(pr) = &proto {
        match pr.as_str() {
            "tcp" | "udp" | "sctp" | "udplite" | "TCP" | "6" | "17" | "dccp" => {
                if full_tuple || r.pct(40) {
                    l4.push(p("--sport", num(r, PORTS)));
                }
                if full_tuple || r.pct(40) {
                    l4.push(p(
                        if r.pct(80) {
                            "--dport"
                        } else {
                            "--orig-port-dst"
                        },
                        num(r, PORTS),
                    ));
                }
                if r.pct(15) {
                    l4.push(p("--reply-port-src", num(r, PORTS)));
                }
                if r.pct(15) {
                    l4.push(p("--reply-port-dst", num(r, PORTS)));
                }
                let tcp = matches!(pr.as_str(), "tcp" | "TCP" | "6");
                if (tcp || pr == "sctp") && (creating || r.pct(30)) {
                    let st = if pr == "sctp" {
                        r.pick(SCTP_STATES)
                    } else {
                        r.pick(TCP_STATES)
                    };
                    l4.push(p("--state", st.to_string()));
                }
                if pr == "sctp" && (creating || r.pct(10)) {
                    l4.push(p("--orig-vtag", num(r, &["1", "3", "5"])));
                    l4.push(p("--reply-vtag", num(r, &["2", "4", "6"])));
                }
                if pr == "dccp" && r.pct(50) {
                    l4.push(p(
                        "--role",
                        r.pick(&["client", "server", "c", "x"]).to_string(),
                    ));
                }
                if r.pct(3) {
                    l4.push(p("--mask-port-src", "0".into()));
                }
            }
            "icmp" | "icmpv6" => {
                let k = if pr == "icmp" { "icmp" } else { "icmpv6" };
                if full_tuple || r.pct(50) {
                    l4.push(p(
                        &format!("--{k}-type"),
                        num(r, &["8", "0", "13", "128", "129"]),
                    ));
                }
                if full_tuple || r.pct(40) {
                    l4.push(p(&format!("--{k}-code"), num(r, &["0", "1"])));
                }
                if full_tuple && r.pct(70) || r.pct(30) {
                    l4.push(p(&format!("--{k}-id"), num(r, &["100", "200", "300", "1"])));
                }
            }
            "gre" => {
                if full_tuple || r.pct(50) {
                    l4.push(p("--srckey", num(r, &["1", "3", "0x1", "5"])));
                }
                if full_tuple || r.pct(50) {
                    l4.push(p("--dstkey", num(r, &["2", "4", "0x2"])));
                }
                if r.pct(10) {
                    l4.push(p("--reply-key-src", num(r, &["2", "4"])));
                }
            }
            _ => {}
        }
    }
    if creating && r.pct(85) {
        opts.push(p("-t", num(r, TIMEOUTS)));
    }
    // Further options, legal for the command most of the time.
    let n = r.below(if creating { 3 } else { 5 });
    for _ in 0..n {
        let o = match r.below(30) {
            0 | 1 => p("-s", addr(r)),
            2 | 3 => p("-d", addr(r)),
            4 => p("-r", addr(r)),
            5 => p("-q", addr(r)),
            6 | 7 => p(if r.pct(80) { "-m" } else { "--mark" }, num(r, MARKS)),
            8 | 9 => p(
                if r.pct(80) { "-u" } else { "--status" },
                r.pick(STATUS).to_string(),
            ),
            10 => p("-w", num(r, ZONES)),
            11 => p("--orig-zone", num(r, ZONES)),
            12 => p("--reply-zone", num(r, ZONES)),
            13 => p("-t", num(r, TIMEOUTS)),
            14 => p("-f", r.pick(FAMILIES).to_string()),
            15 => p("-o", r.pick(OUTPUT).to_string()),
            16 => p("-l", r.pick(LABELS).to_string()),
            17 => p("--label-add", r.pick(LABELS).to_string()),
            18 => {
                if r.pct(50) {
                    vec!["--label-del".into()]
                } else {
                    p("--label-del", r.pick(LABELS).to_string())
                }
            }
            19 => match r.below(4) {
                0 => vec!["-n".into()],
                1 => p("-n", r.pick(NAT).to_string()),
                2 => vec![format!("--src-nat={}", r.pick(NAT))],
                _ => p("--src-nat", r.pick(NAT).to_string()),
            },
            20 => match r.below(3) {
                0 => vec!["-g".into()],
                _ => p("-g", r.pick(NAT).to_string()),
            },
            21 => match r.below(3) {
                0 => vec!["-j".into()],
                _ => p("--any-nat", r.pick(NAT).to_string()),
            },
            22 => vec!["-z".into()],
            23 => p(
                "--mask-src",
                r.pick(&["255.255.255.0", "255.0.0.0", "ffff::", "255.0.255.0"])
                    .to_string(),
            ),
            24 => p(
                "--mask-dst",
                r.pick(&["255.255.255.0", "255.255.0.0"]).to_string(),
            ),
            25 => match r.below(3) {
                0 => p("-i", num(r, &["0", "1", "12345"])),
                1 => vec![format!("--id={}", r.pick(&["0", "1"]))],
                _ => vec!["--id".into()],
            },
            26 => p("-c", num(r, &["0", "1"])),
            27 => p(
                "-e",
                r.pick(&["NEW", "DESTROY", "UPDATES", "ALL", "N,D", "BOGUS", "D"])
                    .to_string(),
            ),
            28 => p("-b", num(r, &["1000000", "0"])),
            _ => match r.below(8) {
                0 => vec!["-x".into()],
                1 => vec!["--bogus".into()],
                2 => vec!["stray".into()],
                3 => p("--tuple-src", addr(r)),
                4 => vec!["--dp".into(), "80".into()],
                5 => vec!["--src-n".into()],
                6 => vec!["-a".into(), "1".into()],
                _ => vec!["-p".into(), r.pick(PROTOS).to_string()],
            },
        };
        opts.push(o);
    }
    // Order: options shuffled, -p anywhere, its protocol options after
    // it (now and then one before it, which conntrack does not know yet).
    for i in (1..opts.len()).rev() {
        let j = r.below(i + 1);
        opts.swap(i, j);
    }
    if let Some(pr) = proto {
        let pw = if r.pct(80) {
            vec!["-p".to_string(), pr]
        } else {
            vec![format!("--proto={pr}")]
        };
        let at = r.below(opts.len() + 1);
        opts.insert(at, pw);
        for o in l4 {
            let pos = if r.pct(97) {
                at + 1 + r.below(opts.len() - at)
            } else {
                r.below(opts.len() + 1)
            };
            opts.insert(pos, o);
        }
    }
    w.extend(opts.into_iter().flatten());
    // Now and then a long option as --opt=value, or abbreviated.
    if r.pct(10) {
        if let Some(i) = w
            .iter()
            .position(|x| x.starts_with("--") && !x.contains('='))
        {
            if i + 1 < w.len() && !w[i + 1].starts_with('-') {
                let v = w.remove(i + 1);
                w[i] = format!("{}={v}", w[i]);
            }
        }
    }
    if r.pct(5) {
        if let Some(i) = w
            .iter()
            .position(|x| x.starts_with("--") && x.len() > 6 && !x.contains('='))
        {
            let cut = 2 + (w[i].len() - 2) * 2 / 3;
            w[i].truncate(cut);
        }
    }
    w
}
