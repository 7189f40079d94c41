//! The conntrack(8) face: when the binary runs as `conntrack` (a symlink or
//! a hard link), it takes conntrack-tools' command line and answers as
//! conntrack 1.4.7 does — its messages on stderr, its exit codes (0 done,
//! 1 failed or nothing matched where something had to, 2 bad parameters)
//! — while the work goes through ctctl's own domain calls: exact selection,
//! deletes by tuple and id, batched requests.
//!
//! Parsing follows conntrack's getopt_long use: options in any order,
//! `--opt=value` or `--opt value`, optional arguments (`-L [table]`,
//! `--dst-nat [ADDR[:PORT]]`) taken from the next word unless it starts
//! with `-`, stray words ignored. `-R FILE` replays `-I`/`-A`/`-U`/`-D`/`-F`
//! lines.

pub mod expect;
pub mod parse;
pub mod progname;
pub mod save;
pub mod xml;

use std::io::{BufRead, Write};
use std::net::IpAddr;
use std::ops::ControlFlow;

use ctctl_netlink::conntrack::request::Update;
use ctctl_netlink::conntrack::{Flow, ProtoInfo, Status, Tuple};
use ctctl_netlink::header::{AF_INET, AF_INET6};

use crate::cli::args::Format;
use crate::cli::Render;
use crate::conntrack::{Conntrack, Table};
use crate::create::mirror;
use crate::filter::{Cidr, Filter, Match, NatMatch, PortRange};
use parse::{Cmd, Nat, Opts};

/// The version conntrack-tools prints, which scripts match.
pub const VERSION: &str = "1.4.7";

/// A failure, with conntrack's exit code: 1 (`OTHER_PROBLEM`) or 2
/// (`PARAMETER_PROBLEM`, with the `Try conntrack -h` hint).
#[derive(Debug)]
pub struct Failure {
    code: i32,
    msg: String,
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
        }
    }

    fn other(msg: impl Into<String>) -> Failure {
        Failure {
            code: 1,
            msg: msg.into(),
        }
    }
}

impl From<crate::Error> for Failure {
    fn from(e: crate::Error) -> Failure {
        Failure::other(format!("Operation failed: {}", errno_message(&e)))
    }
}

impl From<ctctl_netlink::Error> for Failure {
    fn from(e: ctctl_netlink::Error) -> Failure {
        Failure::from(crate::Error::from(e))
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Failure {
        Failure::other(e.to_string())
    }
}

fn errno_message(e: &crate::Error) -> String {
    match e.errno() {
        Some(libc::EEXIST) => "Such conntrack exists, try -U to update".into(),
        Some(libc::ENOENT) => "such conntrack doesn't exist".into(),
        Some(libc::EPERM) => {
            "sorry, you must be root or get CAP_NET_ADMIN capability to do this".into()
        }
        Some(libc::EINVAL) => "invalid parameters".into(),
        Some(n) => ctctl_netlink::error::errno_text(n),
        None => e.to_string(),
    }
}

fn say(msg: &str) {
    let _ = writeln!(
        std::io::stderr(),
        "conntrack v{VERSION} (conntrack-tools): {msg}"
    );
}

/// Runs conntrack's command line (`args` without the program name);
/// returns the exit code.
pub fn main(args: &[String]) -> i32 {
    // conntrack takes -R only as the first argument (main() in conntrack.c).
    let result = match args {
        [r, file, ..] if r == "-R" || r == "--load-file" => load_file(file),
        _ => parse::parse(args).and_then(|o| run(&o, false)),
    };
    match result {
        Ok(code) => code,
        Err(f) => {
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

/// Runs one parsed command as a `-R` line (no summary, nothing matched is
/// no failure), in the calling thread's network namespace.
pub fn run_line(o: &Opts) -> Result<(), Failure> {
    run(o, true).map(|_| ())
}

/// `-R FILE`: each line a command; stops at the first failure.
fn load_file(file: &str) -> Result<i32, Failure> {
    let input: Box<dyn BufRead> = if file == "-" {
        Box::new(std::io::BufReader::new(std::io::stdin()))
    } else {
        Box::new(std::io::BufReader::new(std::fs::File::open(file).map_err(
            |e| Failure::other(format!("Can't open {file}: {e}")),
        )?))
    };
    let mut parsed = Vec::new();
    for (i, line) in crate::restore::lines(input).enumerate() {
        let line = line?.map_err(|why| Failure::other(format!("line {}: {why}", i + 1)))?;
        let words: Vec<String> = line.split_whitespace().map(String::from).collect();
        if words.is_empty() {
            continue;
        }
        let o = parse::parse(&words)?;
        if !matches!(
            o.cmd,
            Cmd::Create | Cmd::Add | Cmd::Update | Cmd::Delete | Cmd::Flush
        ) {
            return Err(Failure::param(format!(
                "Cannot use command `{}' with --load-file",
                o.cmd.name()
            )));
        }
        parsed.push(o);
    }
    // Creates, the bulk of a -R file, share one socket; each still waits
    // for its answer, since conntrack stops at the first failing line.
    let mut ct = None;
    for o in &parsed {
        match o.cmd {
            Cmd::Create | Cmd::Add if o.table == "conntrack" => {
                let ct = match &mut ct {
                    Some(ct) => ct,
                    None => ct.insert(Conntrack::open()?),
                };
                create(o, true, ct)?;
            }
            _ => {
                run(o, true)?;
            }
        }
    }
    Ok(0)
}

/// Prints conntrack's summary line and picks the exit code: nothing done
/// where something had to be is a failure (not for lists, nor in file mode).
fn summary(cmd: Cmd, n: u64, file_mode: bool) -> i32 {
    if file_mode {
        return 0;
    }
    let what = match cmd {
        Cmd::List | Cmd::Get => "shown",
        Cmd::Create => "created",
        Cmd::Add => "added",
        Cmd::Update => "updated",
        Cmd::Delete => "deleted",
        _ => return 0,
    };
    say(&format!("{n} flow entries have been {what}."));
    if n == 0 && !matches!(cmd, Cmd::List) {
        1
    } else {
        0
    }
}

fn run(o: &Opts, file_mode: bool) -> Result<i32, Failure> {
    if o.table == "expect" && !matches!(o.cmd, Cmd::Help | Cmd::Version) {
        return expect::run(o, file_mode);
    }
    match o.cmd {
        Cmd::Version => {
            println!("conntrack v{VERSION} (conntrack-tools)");
            Ok(0)
        }
        Cmd::Help => {
            print!("{}", parse::USAGE);
            Ok(0)
        }
        Cmd::List => list(o),
        Cmd::Count => {
            let mut ct = Conntrack::open()?;
            println!("{}", ct.stats()?.entries);
            Ok(0)
        }
        Cmd::Stats => {
            let mut ct = Conntrack::open()?;
            let mut out = Vec::new();
            for c in ct.stats_cpu()? {
                out.extend_from_slice(format!("cpu={:<4}\t", c.cpu).as_bytes());
                for (k, v) in c.fields() {
                    out.extend_from_slice(format!("{k}={v} ").as_bytes());
                }
                out.push(b'\n');
            }
            std::io::stdout().write_all(&out)?;
            Ok(0)
        }
        Cmd::Flush => {
            let mut ct = Conntrack::open()?;
            // `-F -f FAMILY` hands the family to the kernel only where the
            // probe proved its flush honours it; otherwise the family's
            // entries are deleted by tuple and id from a dump.
            let filter = Filter {
                family: o.family,
                ..Filter::all()
            };
            let plan = crate::probe::plan(&filter, crate::probe::Op::Flush);
            if plan.exact {
                for kf in &plan.filters {
                    ct.flush(kf)?;
                }
            } else {
                let mut deleter = ct.deleter()?;
                ct.stream(&filter, |f| -> Result<ControlFlow<()>, Failure> {
                    deleter.push(f)?;
                    Ok(ControlFlow::Continue(()))
                })?;
                deleter.finish()?;
            }
            if !file_mode {
                say("connection tracking table has been emptied.");
            }
            Ok(0)
        }
        Cmd::Create | Cmd::Add => create(o, file_mode, &mut Conntrack::open()?),
        Cmd::Delete => delete(o, file_mode),
        Cmd::Update => update(o, file_mode),
        Cmd::Get => get(o),
        Cmd::Event => events(o),
    }
}

/// The entry `-I`/`-A` describe: the original tuple, the reply tuple, or
/// both; the missing one mirrored from the other; NAT from `--src-nat` /
/// `--dst-nat`.
pub fn flow_of(o: &Opts) -> Result<Flow<'static>, Failure> {
    if o.secmark.is_some() {
        return Err(Failure::param(
            "--secmark cannot be set: ctnetlink does not take it on create",
        ));
    }
    let proto = o
        .proto
        .ok_or_else(|| Failure::param("you have to specify a layer 4 protocol (-p)"))?;
    let host = |c: &Option<Cidr>| c.map(|c| c.addr);
    let orig_given = o.src.is_some() || o.dst.is_some();
    let reply_given = o.reply_src.is_some() || o.reply_dst.is_some();
    let tuple = |src: Option<IpAddr>, dst: Option<IpAddr>, sport, dport| Tuple {
        src,
        dst,
        proto: Some(proto),
        src_port: sport,
        dst_port: dport,
        icmp_type: o.icmp_type,
        icmp_code: o.icmp_code,
        icmp_id: o.icmp_id,
        zone: None,
    };
    let orig = tuple(host(&o.src), host(&o.dst), o.sport, o.dport);
    let reply_icmp = |mut t: Tuple| {
        // The reply of an ICMP request is the matching reply type.
        let m = mirror(&Tuple {
            icmp_type: o.icmp_type,
            ..t
        });
        t.icmp_type = m.icmp_type;
        t
    };
    let reply = reply_icmp(tuple(
        host(&o.reply_src),
        host(&o.reply_dst),
        o.reply_sport,
        o.reply_dport,
    ));
    let complete = |t: &Tuple| t.src.is_some() && t.dst.is_some();
    let ports = |t: &Tuple| {
        !crate::filter::has_ports(proto) || (t.src_port.is_some() && t.dst_port.is_some())
    };
    let (mut orig, mut reply) = match (orig_given, reply_given) {
        (true, false) | (true, true) if !complete(&orig) => {
            return Err(Failure::param("you have to specify `--src' and `--dst'"))
        }
        (false, true) if !complete(&reply) => {
            return Err(Failure::param(
                "you have to specify `--reply-src' and `--reply-dst'",
            ))
        }
        (false, false) => return Err(Failure::param("you have to specify `--src' and `--dst'")),
        (true, true) => {
            let mut r = reply;
            if r.src_port.is_none() && r.dst_port.is_none() {
                r.src_port = orig.dst_port;
                r.dst_port = orig.src_port;
            }
            (orig, r)
        }
        (true, false) => (orig, mirror(&orig)),
        (false, true) => (mirror(&reply), reply),
    };
    if !ports(&orig) || !ports(&reply) {
        return Err(Failure::param(
            "missing ports: give --sport and --dport (or --reply-port-src and --reply-port-dst)",
        ));
    }
    let is_icmp = proto == 1 || proto == 58;
    if is_icmp && (orig.icmp_type.is_none() || orig.icmp_code.is_none() || orig.icmp_id.is_none()) {
        return Err(Failure::param(
            "missing ICMP fields: give --icmp-type, --icmp-code and --icmp-id",
        ));
    }
    let family = family_of(&[orig.src, orig.dst, reply.src, reply.dst])?;
    // NAT: the reply tuple says where replies come from and go to.
    if let Some(Some((ip, port))) = o.dst_nat {
        same_family(family, ip)?;
        reply.src = Some(ip);
        if port.is_some() {
            reply.src_port = port;
        }
    }
    if let Some(Some((ip, port))) = o.src_nat {
        same_family(family, ip)?;
        reply.dst = Some(ip);
        if port.is_some() {
            reply.dst_port = port;
        }
    }
    orig.zone = o.orig_zone;
    reply.zone = o.reply_zone;
    let timeout = o
        .timeout
        .ok_or_else(|| Failure::param("you have to specify a timeout (-t)"))?;
    Ok(Flow {
        family,
        orig,
        reply,
        status: o.status.map(Status),
        timeout: Some(timeout),
        mark: o.mark.map(|(v, _)| v),
        zone: o.zone,
        proto_info: proto_info(o, proto),
        labels: (!o.labels.is_empty())
            .then(|| ctctl_netlink::conntrack::Labels::from_bits(o.labels.iter().copied())),
        ..Flow::default()
    })
}

/// The protocol state, with SCTP's verification tags and DCCP's role.
fn proto_info(o: &Opts, proto: u8) -> Option<ProtoInfo> {
    let names = ctctl_netlink::conntrack::protoinfo::state_names(proto)?;
    let info = ProtoInfo::from_state_name(proto, names[usize::from(o.state?)])?;
    Some(match info {
        ProtoInfo::Sctp(i) => ProtoInfo::Sctp(ctctl_netlink::conntrack::SctpInfo {
            vtag_orig: o.vtag_orig,
            vtag_reply: o.vtag_reply,
            ..i
        }),
        ProtoInfo::Dccp(i) => {
            ProtoInfo::Dccp(ctctl_netlink::conntrack::DccpInfo { role: o.role, ..i })
        }
        other => other,
    })
}

fn family_of(addrs: &[Option<IpAddr>]) -> Result<u8, Failure> {
    let mut fam = None;
    for ip in addrs.iter().flatten() {
        let f = if ip.is_ipv4() { AF_INET } else { AF_INET6 };
        match fam {
            None => fam = Some(f),
            Some(x) if x != f => return Err(Failure::param("mismatched address family")),
            _ => {}
        }
    }
    Ok(fam.unwrap_or(AF_INET))
}

fn same_family(family: u8, ip: IpAddr) -> Result<(), Failure> {
    let f = if ip.is_ipv4() { AF_INET } else { AF_INET6 };
    if f == family {
        Ok(())
    } else {
        Err(Failure::param("mismatched address family"))
    }
}

fn create(o: &Opts, file_mode: bool, ct: &mut Conntrack) -> Result<i32, Failure> {
    let flow = flow_of(o)?;
    let add = o.cmd == Cmd::Add;
    let created = match ct.create(&flow, add) {
        // -A on an entry the kernel will not change as asked (a status
        // that would drop SEEN_REPLY or ASSURED): conntrack reports none
        // added and succeeds.
        Err(e) if add && e.errno() == Some(libc::EBUSY) => {
            if !file_mode {
                say("0 flow entries have been added.");
            }
            return Ok(0);
        }
        r => r?,
    };
    if !created {
        return Err(Failure::other(
            "Operation failed: Such conntrack exists, try -U to update",
        ));
    }
    Ok(summary(o.cmd, 1, file_mode))
}

/// The selection `-L`, `-D`, `-U` and `-G` make: every criterion given,
/// with conntrack's meanings. `with_meta`: mark and status select too
/// (`-L`, `-D`); for `-U` they are the new values.
fn filter_of(o: &Opts, with_meta: bool) -> Result<(Filter, Extra), Failure> {
    let addr = |c: &Option<Cidr>| c.map(Match::one);
    let port = |p: Option<u16>| p.map(|p| Match::one(PortRange::one(p)));
    let nat_addr = |n: &Option<Nat>| n.map(|x| x.map(|(ip, _)| ip));
    let f = Filter {
        family: o.family,
        proto: o.proto,
        src: addr(&o.src),
        dst: addr(&o.dst),
        reply_src: addr(&o.reply_src),
        reply_dst: addr(&o.reply_dst),
        sport: port(o.sport),
        dport: port(o.dport),
        reply_sport: port(o.reply_sport),
        reply_dport: port(o.reply_dport),
        icmp_type: o.icmp_type,
        icmp_code: o.icmp_code,
        icmp_id: o.icmp_id,
        state: o.state.and_then(|s| {
            let p = o.proto?;
            Some(crate::filter::StateMatch {
                proto: p,
                mask: 1 << s,
            })
        }),
        status: o
            .status
            .filter(|_| with_meta)
            .map(|set| crate::filter::StatusMatch { set, clear: 0 }),
        mark: o.mark.filter(|_| with_meta).map(Match::one),
        zone: o.zone.map(Match::one),
        orig_zone: o.orig_zone.map(Match::one),
        reply_zone: o.reply_zone.map(Match::one),
        nat: NatMatch {
            src: nat_addr(&o.src_nat),
            dst: nat_addr(&o.dst_nat),
            any: nat_addr(&o.any_nat),
        },
        labels: (!o.labels.is_empty()).then(|| o.labels.clone()),
        ..Filter::default()
    };
    let f = f.normalize().map_err(|e| Failure::param(e.to_string()))?;
    // NAT ports have no Filter field: checked here.
    let extra = Extra {
        dst_nat_port: o.dst_nat.flatten().and_then(|(_, p)| p),
        src_nat_port: o.src_nat.flatten().and_then(|(_, p)| p),
        any_nat_port: o.any_nat.flatten().and_then(|(_, p)| p),
        secmark: o.secmark,
    };
    Ok((f, extra))
}

/// What conntrack can select by that [`Filter`] has no field for.
#[derive(Debug, Clone, Copy, Default)]
struct Extra {
    dst_nat_port: Option<u16>,
    src_nat_port: Option<u16>,
    any_nat_port: Option<u16>,
    secmark: Option<u32>,
}

impl Extra {
    fn is_empty(&self) -> bool {
        self.dst_nat_port.is_none()
            && self.src_nat_port.is_none()
            && self.any_nat_port.is_none()
            && self.secmark.is_none()
    }

    fn matches(&self, f: &Flow<'_>) -> bool {
        if self.secmark.is_some_and(|m| f.secmark != Some(m)) {
            return false;
        }
        let dnat = |p| f.reply.src_port == Some(p);
        let snat = |p| f.reply.dst_port == Some(p);
        self.dst_nat_port.is_none_or(dnat)
            && self.src_nat_port.is_none_or(snat)
            && self.any_nat_port.is_none_or(|p| dnat(p) || snat(p))
    }
}

fn render(o: &Opts) -> (Render, bool) {
    let extended = o.output.iter().any(|x| x == "extended");
    let id = o.output.iter().any(|x| x == "id");
    let save = o.output.iter().any(|x| x == "save");
    let format = if extended {
        Format::Extended
    } else {
        Format::Text
    };
    let mut r = Render::new(format, id);
    r.text.ktimestamp = o.output.iter().any(|x| x == "ktimestamp");
    // conntrack shows labels only with -o labels, and only named ones.
    r.text.labels = if o.output.iter().any(|x| x == "labels") {
        crate::cli::text::LabelStyle::Named
    } else {
        crate::cli::text::LabelStyle::Hidden
    };
    (r, save)
}

/// How -L, -G, -U and -E print entries: conntrack's text lines (`-o
/// extended,id,labels`), `-o save` lines, or `-o xml` elements inside one
/// `<conntrack>` document (opened at the first entry, closed by
/// [`Printer::finish`] when one was written).
struct Printer {
    render: Render,
    save: bool,
    xml: bool,
    /// Which parts of the XML document conntrack writes for this command:
    /// -L and -E both ends, -G the opening only, -U neither.
    xml_header: bool,
    xml_footer: bool,
    /// `-o timestamp` on events: a `[s.us]` prefix, or `<when>` in XML.
    stamp: bool,
    started: bool,
    /// Names the program behind `[USERSPACE] portid=` on event lines.
    prognames: progname::Prognames,
}

impl Printer {
    fn new(o: &Opts, cmd: Cmd) -> Printer {
        let events = cmd == Cmd::Event;
        let (mut render, save) = render(o);
        if save && events {
            // conntrack -E -o save: -A, -U and -D lines that -R replays.
            render.format = Format::Save;
        }
        Printer {
            render,
            save,
            xml: !save && o.output.iter().any(|x| x == "xml"),
            xml_header: matches!(cmd, Cmd::List | Cmd::Event | Cmd::Get),
            xml_footer: matches!(cmd, Cmd::List | Cmd::Event),
            stamp: events && !save && o.output.iter().any(|x| x == "timestamp"),
            started: false,
            prognames: progname::Prognames::default(),
        }
    }

    fn flow(
        &mut self,
        out: &mut crate::cli::output::Out,
        f: &Flow<'_>,
        tag: Option<&crate::cli::EventTag>,
    ) -> std::io::Result<()> {
        if self.xml {
            if !self.started && self.xml_header {
                out.buf().extend_from_slice(xml::HEADER.as_bytes());
            }
            self.started = true;
            let now = crate::cli::now_ns() / 1_000_000_000;
            xml::write_flow(out.buf(), f, tag.map(|t| t.name), self.stamp, now);
            // conntrack 1.4.7 notes the requesting process after the element too.
            if let Some(t) = tag.filter(|t| t.portid != 0) {
                out.buf()
                    .extend_from_slice(format!(" [USERSPACE] portid={}", t.portid).as_bytes());
                self.progname(out, t.portid);
            }
        } else if self.save && tag.is_none() {
            save::write(out.buf(), f, "-A");
        } else {
            if let (true, Some(t)) = (self.stamp, tag) {
                crate::cli::events::timestamp_prefix(out.buf(), t.time_ns);
            }
            self.render.flow(out.buf(), f, tag);
            // The text line ends in `[USERSPACE] portid=N` for a request's event.
            if let Some(t) = tag.filter(|t| t.portid != 0 && !self.save) {
                self.progname(out, t.portid);
            }
        }
        out.line_done()
    }

    /// ` progname=NAME` after `[USERSPACE] portid=N`, as conntrack -E adds
    /// it, when the process still runs.
    fn progname(&mut self, out: &mut crate::cli::output::Out, portid: u32) {
        if let Some(name) = self.prognames.lookup(portid) {
            out.buf()
                .extend_from_slice(format!(" progname={name}").as_bytes());
        }
    }

    fn finish(&mut self, out: &mut crate::cli::output::Out) -> std::io::Result<()> {
        if self.started && self.xml_footer {
            out.buf().extend_from_slice(xml::FOOTER.as_bytes());
            self.started = false;
        }
        out.flush()
    }
}

fn table(o: &Opts) -> Result<Table, Failure> {
    match o.table.as_str() {
        "conntrack" => Ok(Table::Conntrack),
        "dying" => Ok(Table::Dying),
        "unconfirmed" => Ok(Table::Unconfirmed),
        other => Err(Failure::param(format!("unknown type `{other}'"))),
    }
}

fn list(o: &Opts) -> Result<i32, Failure> {
    let (filter, extra) = filter_of(o, true)?;
    let table = table(o)?;
    let mut printer = Printer::new(o, Cmd::List);
    let mut ct = Conntrack::open()?;
    let mut out = crate::cli::output::Out::stdout();
    let mut n = 0u64;
    if o.zero {
        // -z: the kernel zeroes what it sends, so it must select exactly
        // the entries asked for (conntrack zeroes everything its kernel
        // filter lets through, whatever the rest of the filter says).
        if table != Table::Conntrack {
            return Err(Failure::param("-z applies to the conntrack table only"));
        }
        if !extra.is_empty() {
            return Err(Failure::other(
                "Operation failed: -z with NAT ports or --secmark would zero entries outside the filter; zero without those options",
            ));
        }
        let mut io = Ok(());
        ct.stream_zeroing(&filter, |f| {
            n += 1;
            io = printer.flow(&mut out, f, None);
            if io.is_err() {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .map_err(|e| match e {
            crate::Error::NotExact(_) => Failure::other(format!("Operation failed: {e}")),
            e => Failure::from(e),
        })?;
        io?;
        printer.finish(&mut out)?;
        return Ok(summary(Cmd::List, n, false));
    }
    let r = ct.stream_table(table, &filter, |f| -> Result<ControlFlow<()>, Failure> {
        if !extra.matches(f) {
            return Ok(ControlFlow::Continue(()));
        }
        n += 1;
        printer.flow(&mut out, f, None)?;
        Ok(ControlFlow::Continue(()))
    });
    r?;
    printer.finish(&mut out)?;
    Ok(summary(Cmd::List, n, false))
}

/// Whether the options name one entry the kernel can look up: a full
/// original (or reply) tuple and no criterion besides the zone.
fn lookup_tuple(o: &Opts) -> Option<Tuple> {
    let metas = o.mark.is_some()
        || o.status.is_some()
        || o.state.is_some()
        || o.src_nat.is_some()
        || o.dst_nat.is_some()
        || o.any_nat.is_some()
        || o.orig_zone.is_some()
        || o.reply_zone.is_some();
    if metas || o.reply_src.is_some() || o.reply_dst.is_some() {
        return None;
    }
    let f = flow_of(&Opts {
        timeout: Some(1),
        ..o.clone()
    })
    .ok()?;
    (o.src.is_some_and(|c| c.is_host()) && o.dst.is_some_and(|c| c.is_host())).then_some(f.orig)
}

fn delete(o: &Opts, file_mode: bool) -> Result<i32, Failure> {
    let mut ct = Conntrack::open()?;
    let (_, save) = render(o);
    // One entry by its tuple (and -w zone): a direct delete, in that zone
    // only, as conntrack does.
    if let Some(t) = lookup_tuple(o).filter(|_| !save) {
        let found = ct.delete(&t, o.zone, None)?;
        if !found && !file_mode {
            return Err(Failure::other(
                "Operation failed: such conntrack doesn't exist",
            ));
        }
        return Ok(summary(Cmd::Delete, u64::from(found), file_mode));
    }
    let (filter, extra) = filter_of(o, true)?;
    let mut deleter = ct.deleter()?;
    let mut out = crate::cli::output::Out::stdout();
    ct.stream(&filter, |f| -> Result<ControlFlow<()>, Failure> {
        if extra.matches(f) {
            deleter.push(f)?;
            if save {
                save::write(out.buf(), f, "-D");
                out.line_done()?;
            }
        }
        Ok(ControlFlow::Continue(()))
    })?;
    out.flush()?;
    let stats = deleter.finish()?;
    Ok(summary(Cmd::Delete, stats.done, file_mode))
}

fn update(o: &Opts, file_mode: bool) -> Result<i32, Failure> {
    let (filter, extra) = filter_of(o, false)?;
    let mut ct = Conntrack::open()?;
    let mut up = ct.updater()?;
    let mut n = 0u64;
    let mut printer = Printer::new(o, Cmd::Update);
    let mut out = crate::cli::output::Out::stdout();
    ct.stream(&filter, |f| -> Result<ControlFlow<()>, Failure> {
        if !extra.matches(f) {
            return Ok(ControlFlow::Continue(()));
        }
        // conntrack sends nothing when the entry would not change.
        let old_mark = f.mark.unwrap_or(0);
        let mark = o.mark.map(|(v, m)| (v & m, m));
        let new_mark = mark.map(|(v, m)| (old_mark & !m) ^ v);
        let old_status = f.status.map_or(0, |s| s.0);
        let old_labels: Vec<u32> = f
            .labels
            .as_ref()
            .map(|l| l.bits().collect())
            .unwrap_or_default();
        let labels_change = o.label_add.iter().any(|b| !old_labels.contains(b))
            || o.label_del.iter().any(|b| old_labels.contains(b));
        let changes = new_mark.is_some_and(|m| m != old_mark)
            || o.status.is_some_and(|s| old_status & s != s)
            || o.timeout.is_some()
            || labels_change;
        if !changes {
            return Ok(ControlFlow::Continue(()));
        }
        let change = Update {
            mark,
            timeout: o.timeout,
            labels: labels_change.then(|| label_change(&o.label_add, &o.label_del)),
            // The kernel refuses (EBUSY) a status that flips CONFIRMED,
            // EXPECTED or DYING: send the entry's bits plus the new ones.
            status: o.status.map(|s| s | old_status),
        };
        up.push(f, &change)?;
        n += 1;
        let mut shown = f.clone();
        shown.mark = new_mark.or(f.mark);
        printer.flow(&mut out, &shown, None)?;
        Ok(ControlFlow::Continue(()))
    })?;
    printer.finish(&mut out)?;
    let stats = up.finish()?;
    if stats.failed > 0 {
        return Err(Failure::other(format!(
            "Operation failed: {}",
            ctctl_netlink::error::errno_text(stats.first_errno().unwrap_or(0))
        )));
    }
    Ok(summary(
        Cmd::Update,
        n.saturating_sub(stats.skipped),
        file_mode,
    ))
}

/// The label bits to write and which to touch, for an update.
fn label_change(add: &[u32], del: &[u32]) -> ([u8; 16], [u8; 16]) {
    let bytes = |bits: &[u32]| {
        let l = ctctl_netlink::conntrack::Labels::from_bits(bits.iter().copied());
        let mut out = [0u8; 16];
        out.copy_from_slice(&l.0[..16]);
        out
    };
    let set = bytes(add);
    let del = bytes(del);
    let mut mask = [0u8; 16];
    for i in 0..16 {
        mask[i] = set[i] | del[i];
    }
    (set, mask)
}

fn get(o: &Opts) -> Result<i32, Failure> {
    let flow = flow_of(&Opts {
        timeout: Some(1),
        ..o.clone()
    })?;
    let mut ct = Conntrack::open()?;
    // Named by its reply tuple (-r -q) only: looked up by that, so a NATed
    // entry is found (the mirrored original would not be its own).
    let found = if o.src.is_none() && o.dst.is_none() && o.reply_src.is_some() {
        ct.get_by_reply(&flow.reply, o.zone)?
    } else {
        ct.get(&flow.orig, o.zone)?
    };
    match found {
        Some(f) => {
            let mut printer = Printer::new(o, Cmd::Get);
            let mut out = crate::cli::output::Out::stdout();
            printer.flow(&mut out, &f, None)?;
            printer.finish(&mut out)?;
            Ok(summary(Cmd::Get, 1, false))
        }
        None => Err(Failure::other(
            "Operation failed: such conntrack doesn't exist",
        )),
    }
}

/// `-E`: ctctl's event stream with conntrack's text lines.
fn events(o: &Opts) -> Result<i32, Failure> {
    let (filter, extra) = filter_of(o, true)?;
    let mask = o.event_mask.unwrap_or(0b111);
    let opts = crate::events::EventOptions {
        new: mask & 1 != 0,
        update: mask & 2 != 0,
        destroy: mask & 4 != 0,
        buffer_size: o.buffer_size.unwrap_or(crate::events::DEFAULT_BUFFER),
        reliable: false,
    };
    crate::cli::signals::install().map_err(|e| Failure::other(e.to_string()))?;
    let ct = Conntrack::open()?;
    let mut stream = ct.events(&opts, &filter)?;
    let mut printer = Printer::new(o, Cmd::Event);
    let mut out = crate::cli::output::Out::stdout();
    let mut n = 0u64;
    while !crate::cli::signals::terminated() {
        let polled = stream.poll(Some(std::time::Duration::from_millis(250)), |ev| {
            if !filter.matches(&ev.flow) || !extra.matches(&ev.flow) {
                return;
            }
            n += 1;
            let tag = crate::cli::EventTag::of(ev.kind, crate::cli::now_ns(), ev.portid);
            let _ = printer.flow(&mut out, &ev.flow, Some(&tag));
        })?;
        if polled.received < crate::events::BATCH {
            out.flush()?;
        }
    }
    printer.finish(&mut out)?;
    let _ = writeln!(
        std::io::stderr(),
        "conntrack v{VERSION} (conntrack-tools): {n} flow events have been shown."
    );
    Ok(0)
}
