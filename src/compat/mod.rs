//! The conntrack(8) face: when the binary runs as `conntrack` (a symlink or
//! a hard link), it takes conntrack-tools' command line and answers as
//! conntrack 1.4.7 does — its messages on stderr, its exit codes (0 done,
//! 1 failed or nothing matched where something had to, 2 bad parameters)
//! — while the work goes through ctctl's engine: dumps matched in
//! userspace, deletes by tuple and id, batched requests.
//!
//! The command line is read by a model of conntrack 1.4.7's own parser
//! ([`crate::format::conntrack8`]), option rules included; what it selects
//! is 1.4.7's selection ([`crate::select::conntrack8`]), narrowed only
//! where 1.4.7's is a bug. Where the face refuses what 1.4.7 accepts, the
//! message says so (the README lists every difference).

pub mod expect;
mod print;
pub mod progname;
mod table;

use std::io::{BufRead, Write};

use crate::format::conntrack8::command::Table;
use crate::format::conntrack8::options::{opt, Command as Cmd};
use crate::format::conntrack8::{self as c8, Command, ParseError};

pub use crate::names::System;

/// The version conntrack-tools prints, which scripts match.
pub const VERSION: &str = "1.4.7";

/// A failure, with conntrack's exit code: 1 (`OTHER_PROBLEM`) or 2
/// (`PARAMETER_PROBLEM`, with the `Try conntrack -h` hint).
#[derive(Debug)]
pub struct Failure {
    code: i32,
    msg: String,
    /// Lines printed on stderr before the message (warnings).
    notes: Vec<String>,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.msg)
    }
}

impl Failure {
    fn param(msg: impl Into<String>) -> Failure {
        Failure {
            code: 2,
            msg: msg.into(),
            notes: Vec::new(),
        }
    }

    fn other(msg: impl Into<String>) -> Failure {
        Failure {
            code: 1,
            msg: msg.into(),
            notes: Vec::new(),
        }
    }

    /// conntrack's exit code for it.
    pub fn code(&self) -> i32 {
        self.code
    }
}

impl From<ParseError> for Failure {
    fn from(e: ParseError) -> Failure {
        let msg = match e.refusal {
            Some(r) => format!(
                "{} [ctctl: refused, differs from conntrack 1.4.7: {}]",
                e.msg,
                r.tag()
            ),
            None => e.msg,
        };
        Failure {
            code: e.code,
            msg,
            notes: e.notes,
        }
    }
}

thread_local! {
    /// The command running, for conntrack's words for its errors.
    static RUNNING: std::cell::Cell<Option<Cmd>> = const { std::cell::Cell::new(None) };
}

impl From<crate::error::Error> for Failure {
    fn from(e: crate::error::Error) -> Failure {
        let cmd = RUNNING.with(|r| r.get());
        Failure::other(format!("Operation failed: {}", errno_message(&e, cmd)))
    }
}

impl From<ctctl_netlink::Error> for Failure {
    fn from(e: ctctl_netlink::Error) -> Failure {
        Failure::from(crate::error::Error::from(e))
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Failure {
        Failure::other(e.to_string())
    }
}

/// conntrack's `err2str`: its own words for some errnos of some commands,
/// else `strerror`.
fn err2str(errno: i32, cmd: Option<Cmd>) -> String {
    use Cmd::*;
    let is = |cmds: &[Cmd]| cmd.is_some_and(|c| cmds.contains(&c));
    match errno {
        // 0xFFFF in conntrack's table: the commands of bits 0 to 15.
        libc::EINVAL
            if is(&[
                List, Create, Update, Delete, Get, Flush, Event, Version, Help, ExpList, ExpCreate,
                ExpDelete, ExpGet, ExpFlush, ExpEvent, Count,
            ]) =>
        {
            "invalid parameters".into()
        }
        libc::EEXIST if is(&[Create]) => "Such conntrack exists, try -U to update".into(),
        libc::ENOENT if is(&[Create, Get, Delete, Add]) => "such conntrack doesn't exist".into(),
        libc::ENOENT if is(&[ExpCreate]) => "master conntrack not found".into(),
        libc::ENOMEM if is(&[Create, Get, Add]) => "not enough memory".into(),
        libc::EAFNOSUPPORT if is(&[Get]) => "protocol not supported".into(),
        libc::ETIME if is(&[Create, Add]) => "conntrack has expired".into(),
        libc::EPERM => "sorry, you must be root or get CAP_NET_ADMIN capability to do this".into(),
        524 if is(&[List]) => "function not implemented".into(),
        n => strerror(n),
    }
}

/// The C library's text for an errno (`strerror`).
fn strerror(errno: i32) -> String {
    let text = std::io::Error::from_raw_os_error(errno).to_string();
    match text.find(" (os error") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// Says, after a command, how many entries 1.4.7 would also have
/// selected that the face left out (where 1.4.7's selection is a bug).
fn left_out(n: u64) {
    if n > 0 {
        note(&format!(
            "ctctl: {n} more entries match as conntrack 1.4.7 selects, which the face leaves out (see the README's differences) [ctctl: narrowed]"
        ));
    }
}

fn errno_message(e: &crate::error::Error, cmd: Option<Cmd>) -> String {
    match e.errno() {
        Some(n) => err2str(n, cmd),
        None => e.to_string(),
    }
}

fn say(msg: &str) {
    let _ = writeln!(
        std::io::stderr(),
        "conntrack v{VERSION} (conntrack-tools): {msg}"
    );
}

fn note(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// Runs conntrack's command line (`args` without the program name);
/// returns the exit code.
pub fn main(args: &[String]) -> i32 {
    let system = System::get();
    // conntrack takes -R only as the first argument, with a file after it.
    let result = match args {
        [r, file, ..] if r == "-R" || r == "--load-file" => load_file(file, system),
        _ => c8::parse(args, system)
            .map_err(Failure::from)
            .and_then(|c| {
                for n in &c.notes {
                    note(n);
                }
                run(&c, false)
            }),
    };
    match result {
        Ok(code) => code,
        Err(f) => {
            for n in &f.notes {
                note(n);
            }
            say(&f.msg);
            if f.code == 2 {
                let _ = writeln!(
                    std::io::stderr(),
                    "Try `conntrack -h' or 'conntrack --help' for more information."
                );
            }
            f.code
        }
    }
}

/// Parses one line of a `-R` file, or `None` for a blank or comment line.
/// The option rules hold as on the command line.
pub fn parse_line(line: &str, system: &System) -> Result<Option<Command>, Failure> {
    let Some(words) = c8::words::split(line) else {
        return Ok(None);
    };
    let c = c8::parse(&words, system)?;
    for n in &c.notes {
        note(n);
    }
    Ok(Some(c))
}

/// `-R FILE`: every line is read and checked first (a bad one stops
/// everything before anything runs), then each runs in order until one
/// fails.
fn load_file(file: &str, system: &System) -> Result<i32, Failure> {
    let input: Box<dyn BufRead> = if file == "-" {
        Box::new(std::io::BufReader::new(std::io::stdin()))
    } else {
        Box::new(std::io::BufReader::new(std::fs::File::open(file).map_err(
            |_| Failure::param(format!("Failed to open file {file} for reading")),
        )?))
    };
    let mut parsed = Vec::new();
    for (i, line) in crate::restore::lines(input).enumerate() {
        let line = line?.map_err(|why| Failure::other(format!("line {}: {why}", i + 1)))?;
        if let Some(c) = parse_line(&line, system)? {
            parsed.push(c);
        }
    }
    for c in &parsed {
        let allowed = matches!(
            c.cmd,
            Some(Cmd::Create | Cmd::Add | Cmd::Update | Cmd::Delete | Cmd::Flush)
        );
        if !allowed {
            return Err(Failure::param(format!(
                "Cannot use command `{}' with --load-file",
                file_command_name(c.cmd)
            )));
        }
    }
    // conntrack 1.4.7 frees its label map after each command without
    // forgetting it, and crashes at the end of the second command of a
    // file that loaded one: the face refuses such a file instead.
    let labels = parsed.iter().any(|c| {
        c.options & (opt::LABEL | opt::ADD_LABEL | opt::DEL_LABEL) != 0
            || c.output & c8::command::out::LABELS != 0
    });
    if labels && parsed.len() >= 2 {
        return Err(Failure::param(
            "a -R file with more than one line that uses labels crashes conntrack 1.4.7 after its second line; load such lines one by one [ctctl: refused, differs from conntrack 1.4.7: conntrack-crashes]",
        ));
    }
    // Creates, the bulk of a -R file, share one socket; each still waits
    // for its answer, since conntrack stops at the first failing line.
    let mut ct = None;
    for c in &parsed {
        match c.cmd {
            Some(Cmd::Create | Cmd::Add) => {
                let ct = match &mut ct {
                    Some(ct) => ct,
                    None => ct.insert(crate::conntrack::Conntrack::open()?),
                };
                table::create(c, true, ct)?;
            }
            _ => {
                run(c, true)?;
            }
        }
    }
    Ok(0)
}

/// How conntrack names a command -R does not take.
fn file_command_name(cmd: Option<Cmd>) -> &'static str {
    use Cmd::*;
    match cmd {
        Some(List) => "-L",
        Some(Get) => "-G",
        Some(Event) => "-E",
        Some(Version) => "-V",
        Some(Help) => "-h",
        Some(ExpList) => "-L expect",
        Some(ExpCreate) => "-C expect",
        Some(ExpDelete) => "-D expect",
        Some(ExpGet) => "-G expect",
        Some(ExpFlush) => "-F expect",
        Some(ExpEvent) => "-E expect",
        Some(Count) => "-C",
        Some(ExpCount) => "-C expect",
        Some(Stats) => "-S",
        Some(ExpStats) => "-S expect",
        _ => "unknown",
    }
}

/// conntrack's summary line (`print_stats`) and exit code: nothing done
/// where something had to be is a failure (not for lists or `-A`).
fn summary(cmd: Cmd, n: u64, file_mode: bool) -> i32 {
    if file_mode {
        return 0;
    }
    let what = match cmd {
        Cmd::List | Cmd::Get => "flow entries have been shown",
        Cmd::Create => "flow entries have been created",
        Cmd::Add => "flow entries have been added",
        Cmd::Update => "flow entries have been updated",
        Cmd::Delete => "flow entries have been deleted",
        Cmd::ExpList | Cmd::ExpDelete => "expectations have been shown",
        _ => return 0,
    };
    say(&format!("{n} {what}."));
    if n == 0 && !matches!(cmd, Cmd::List | Cmd::ExpList | Cmd::Add) {
        1
    } else {
        0
    }
}

fn run(c: &Command, file_mode: bool) -> Result<i32, Failure> {
    let Some(cmd) = c.cmd else {
        print!("{}", USAGE);
        return Ok(0);
    };
    RUNNING.with(|r| r.set(Some(cmd)));
    if cmd.is_expect() {
        return expect::run(c, cmd, file_mode);
    }
    match cmd {
        Cmd::Version => {
            println!("conntrack v{VERSION} (conntrack-tools)");
            Ok(0)
        }
        Cmd::Help => {
            print!("{}", USAGE);
            Ok(0)
        }
        Cmd::List if matches!(c.table, Table::Dying | Table::Unconfirmed) => table::list_other(c),
        Cmd::List => table::list(c),
        Cmd::Count => table::count(),
        Cmd::Stats => table::stats(),
        Cmd::Flush => table::flush(c, file_mode),
        Cmd::Create | Cmd::Add => {
            table::create(c, file_mode, &mut crate::conntrack::Conntrack::open()?)
        }
        Cmd::Delete => table::delete(c, file_mode),
        Cmd::Update => table::update(c, file_mode),
        Cmd::Get => table::get(c),
        Cmd::Event => table::events(c),
        _ => unreachable!("expectation commands are handled above"),
    }
}

/// `conntrack -h` (ctctl's own text).
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
  -A [table] parameters\t\tAdd a conntrack; an existing one is left as it is

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
