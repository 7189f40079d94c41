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

use super::getopt::{Getopt, Got, LongOpt};
use super::options::{self, long_name, opt, Command as Cmd, Proto, OPTFLAGS, OPTSTRING};
use super::values::{self};

use super::fields::*;
use super::lists::*;
use super::template::*;

pub use super::template::{
    ev, ips, out, Command, Dir, ExpParts, Lookup, ParseError, Refusal, Table, Template,
};

/// Reads one command line (without the program name). `lookup` answers
/// protocol and label names.
///
/// # Errors
///
/// conntrack 1.4.7's error for the command line: its message and exit code.
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
