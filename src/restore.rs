//! Reading saved tables: ctctl's JSON Lines (`ctctl save`, the `list -o
//! json` schema) and conntrack(8)'s `-o save` / `-R` lines (`-I ...`,
//! `-A ...`), so existing fixture files work unchanged.

use std::borrow::Cow;
use std::net::IpAddr;

use ctctl_netlink::conntrack::protoinfo::state_names;
use ctctl_netlink::conntrack::{DccpInfo, Flow, Labels, ProtoInfo, SctpInfo, Status, Tuple};
use ctctl_netlink::header::{AF_INET, AF_INET6};
use serde::Deserialize;
use std::ops::ControlFlow;

use ctctl_netlink::conntrack::request::Update;

use crate::batch::BatchStats;
use crate::conntrack::Conntrack;
use crate::format::conntrack8::Command;
use crate::select::conntrack8::{update_change, Selection8, Use};
use crate::select::filter::Filter;

/// One entry to create, parsed from a line.
pub type Parsed = Flow<'static>;

/// What one line of a saved table asks for.
#[derive(Debug, Clone)]
pub enum Line {
    /// Create this entry (`-I`, a JSON line); `true`: or update it (`-A`).
    Create(Box<Parsed>, bool),
    /// Another conntrack command (`-U`, `-D`, `-F` lines), run in order.
    Command(Box<crate::format::conntrack8::Command>),
}

impl Line {
    /// The entry to create, if the line creates one.
    pub fn flow(&self) -> Option<&Parsed> {
        match self {
            Line::Create(f, _) => Some(f),
            Line::Command(_) => None,
        }
    }
}

pub use crate::stdio::lines::{lines, Lines, MAX_LINE};

/// Parses one line: JSON (starts with `{`) or a conntrack command line as
/// `conntrack -R` reads it (`-I`/`-A` create; `-U`, `-D`, `-F` change or
/// delete; every option applied or refused, never dropped).
/// `Ok(None)` for blank lines and comments.
///
/// # Errors
///
/// [`Error::Netlink`](crate::error::Error::Netlink) when the kernel refuses a
/// request or the socket fails (the errno and the operation are kept).
pub fn parse_line(line: &str) -> Result<Option<Line>, String> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let parsed = if line.starts_with('{') {
        Line::Create(Box::new(parse_json(line)?), false)
    } else {
        parse_conntrack(line)?
    };
    if let Some(f) = parsed.flow() {
        ctctl_netlink::conntrack::request::check_create(f)?;
    }
    Ok(Some(parsed))
}

#[derive(Deserialize)]
struct JTuple {
    src: Option<IpAddr>,
    dst: Option<IpAddr>,
    sport: Option<u16>,
    dport: Option<u16>,
    src_key: Option<u16>,
    dst_key: Option<u16>,
    #[serde(rename = "type")]
    icmp_type: Option<u8>,
    code: Option<u8>,
    id: Option<u16>,
    zone: Option<u16>,
}

impl JTuple {
    fn tuple(&self, proto: u8) -> Tuple {
        Tuple {
            src: self.src,
            dst: self.dst,
            proto: Some(proto),
            src_port: self.sport.or(self.src_key),
            dst_port: self.dport.or(self.dst_key),
            icmp_type: self.icmp_type,
            icmp_code: self.code,
            icmp_id: self.id,
            zone: self.zone,
        }
    }
}

#[derive(Deserialize)]
struct JFlow {
    event: Option<String>,
    proto_num: u8,
    timeout: Option<u32>,
    state: Option<String>,
    orig: JTuple,
    reply: JTuple,
    #[serde(default)]
    status: Vec<String>,
    mark: Option<u32>,
    zone: Option<u16>,
    helper: Option<String>,
    labels: Option<Vec<u32>>,
    vtag_orig: Option<u32>,
    vtag_reply: Option<u32>,
    dccp_role: Option<u8>,
    dccp_handshake_seq: Option<u64>,
}

fn parse_json(line: &str) -> Result<Parsed, String> {
    let j: JFlow = serde_json::from_str(line).map_err(|e| format!("bad JSON: {e}"))?;
    if let Some(ev) = &j.event {
        if ev != "new" && ev != "update" && ev != "resync" {
            return Err(format!("a '{ev}' record, not an entry"));
        }
    }
    let mut status = Status::default();
    for name in &j.status {
        status |= Status::from_name(name).ok_or_else(|| format!("unknown status '{name}'"))?;
    }
    let orig = j.orig.tuple(j.proto_num);
    let family = match orig.src.or(orig.dst) {
        Some(IpAddr::V4(_)) => AF_INET,
        Some(IpAddr::V6(_)) => AF_INET6,
        None => return Err("the original tuple has no addresses".to_string()),
    };
    let proto_info = match &j.state {
        Some(s) => Some(match state(j.proto_num, s)? {
            ProtoInfo::Sctp(i) => ProtoInfo::Sctp(SctpInfo {
                vtag_orig: j.vtag_orig,
                vtag_reply: j.vtag_reply,
                ..i
            }),
            ProtoInfo::Dccp(i) => ProtoInfo::Dccp(DccpInfo {
                role: j.dccp_role,
                handshake_seq: j.dccp_handshake_seq,
                ..i
            }),
            other => other,
        }),
        None => None,
    };
    Ok(Flow {
        family,
        orig,
        reply: j.reply.tuple(j.proto_num),
        status: Some(status),
        timeout: j.timeout,
        mark: j.mark,
        zone: j.zone.filter(|z| *z != 0),
        proto_info,
        helper: j.helper.map(Cow::Owned),
        labels: match j.labels {
            Some(bits) if bits.iter().any(|b| *b >= 128) => {
                return Err("labels are bits 0 to 127".to_string())
            }
            Some(bits) => Some(Labels::from_bits(bits)),
            None => None,
        },
        ..Flow::default()
    })
}

fn state(p: u8, name: &str) -> Result<ProtoInfo, String> {
    if state_names(p).is_none() {
        return Err(format!("protocol {p} has no states"));
    }
    ProtoInfo::from_state_name(p, name).ok_or_else(|| format!("unknown state '{name}'"))
}

/// A conntrack command line (`-I ...`, as `conntrack -o save` writes them),
/// read as conntrack 1.4.7 reads it (its option rules included).
fn parse_conntrack(line: &str) -> Result<Line, String> {
    use crate::format::conntrack8::options::Command as Cmd;
    let Some(words) = crate::format::conntrack8::words::split(line) else {
        return Err("no command".into());
    };
    let system = crate::names::System::get();
    let c = crate::format::conntrack8::parse(&words, system).map_err(|e| e.msg)?;
    match c.cmd {
        Some(Cmd::Create | Cmd::Add) => {
            let made = crate::format::conntrack8::build::create(&c)
                .map_err(|e| format!("cannot build the entry: {e}"))?;
            let mut f = made.flow;
            // Saved lines name a NATed side by its NAT address (`-n`,
            // `-g`) instead of the reply tuple's: put it back in the reply,
            // which the create request turns into NAT again.
            let r = &c.tmpl.repl;
            // Whatever the line leaves out of the reply is the original's
            // mirror (conntrack 1.4.7 would send zeros there).
            if r.l4.is_none() {
                let m = crate::flow::mirror(&f.orig);
                f.reply.proto = m.proto;
                f.reply.src_port = m.src_port;
                f.reply.dst_port = m.dst_port;
                f.reply.icmp_type = f.reply.icmp_type.or(m.icmp_type);
            }
            if r.dst.is_none() {
                f.reply.dst = made.src_nat.and_then(|n| n.addr).or(f.orig.src);
            }
            if r.src.is_none() {
                f.reply.src = made.dst_nat.and_then(|n| n.addr).or(f.orig.dst);
            }
            if let Some(p) = made.src_nat.and_then(|n| n.port) {
                f.reply.dst_port = Some(p);
            } else if r.dport.is_none() && f.reply.dst_port.is_some() {
                f.reply.dst_port = f.orig.src_port;
            }
            if let Some(p) = made.dst_nat.and_then(|n| n.port) {
                f.reply.src_port = Some(p);
            } else if r.sport.is_none() && f.reply.src_port.is_some() {
                f.reply.src_port = f.orig.dst_port;
            }
            Ok(Line::Create(Box::new(f), c.cmd == Some(Cmd::Add)))
        }
        Some(Cmd::Update | Cmd::Delete | Cmd::Flush) => Ok(Line::Command(Box::new(c))),
        _ => Err("lines create (-I, -A), change (-U) or delete (-D, -F) entries".into()),
    }
}

/// Runs a `-U`, `-D` or `-F` line of a restore file on the table, selecting
/// as conntrack 1.4.7 selects ([`Selection8`]) and acting the way ctctl acts
/// everywhere: `-D` deletes by tuple and id from a dump, `-F` flushes the
/// family asked for by the exact way [`Conntrack::delete_matching`] picks,
/// `-U` updates each selected entry that would change by its original tuple
/// and zone. Returns the entries acted on.
///
/// # Errors
///
/// [`Error::Netlink`](crate::error::Error::Netlink) when the kernel refuses a
/// request or the socket fails (the errno and the operation are kept).
pub fn apply(ct: &mut Conntrack, c: &Command) -> std::result::Result<BatchStats, String> {
    use crate::format::conntrack8::options::Command as Cmd;
    let fail = |e: crate::error::Error| e.to_string();
    match c.cmd {
        Some(Cmd::Flush) => {
            let family = Filter {
                family: (c.family != 0).then_some(c.family),
                ..Filter::all()
            };
            ct.delete_matching(&family, &mut |_| {})
                .map(|(s, _)| s)
                .map_err(fail)
        }
        Some(Cmd::Delete) => {
            let sel = Selection8::new(c, Use::Delete)?;
            ct.delete_selected(&sel, &mut |_| {}).map_err(fail)
        }
        Some(Cmd::Update) => {
            let sel = Selection8::new(c, Use::Update)?;
            let mut modifier = Conntrack::with_socket(ct.sibling_socket().map_err(fail)?);
            let mut stats = BatchStats::default();
            let mut refused = None;
            ct.stream(&sel, |f| -> crate::error::Result<ControlFlow<()>> {
                let Some(change) = update_change(c, f) else {
                    return Ok(ControlFlow::Continue(()));
                };
                if change.nat {
                    // The kernel refuses NAT on an existing entry.
                    refused = Some("NAT cannot be set on an existing entry".to_string());
                    return Ok(ControlFlow::Break(()));
                }
                let u = Update {
                    mark: change.mark.map(|m| (m, u32::MAX)),
                    timeout: change.timeout,
                    labels: change.labels,
                    status: change.status.map(|s| s | Status::CONFIRMED.0),
                    proto_info: change.proto_info,
                };
                let zone = Some(crate::flow::orig_zone(f)).filter(|z| *z != 0);
                let lookup = Tuple {
                    zone: None,
                    ..f.orig
                };
                if modifier.update(&lookup, zone, &u)? {
                    stats.done += 1;
                } else {
                    stats.skipped += 1;
                }
                Ok(ControlFlow::Continue(()))
            })
            .map_err(fail)?;
            match refused {
                Some(why) => Err(why),
                None => Ok(stats),
            }
        }
        _ => Err("only -I, -A, -U, -D and -F lines can be restored".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn create(line: &str) -> Flow<'static> {
        match parse_line(line).unwrap().unwrap() {
            Line::Create(f, _) => *f,
            Line::Command(o) => panic!("not a create line: {o:?}"),
        }
    }

    #[test]
    fn lines_are_bounded_and_the_next_one_still_read() {
        let long = "x".repeat(MAX_LINE + 10);
        let mut bytes = format!("a\r\n{long}\nb\n").into_bytes();
        bytes.extend_from_slice(&[0xff, b'c']);
        let got: Vec<_> = lines(&bytes[..]).map(|l| l.unwrap()).collect();
        assert_eq!(
            got.len(),
            4,
            "{:?}",
            got.iter()
                .map(|l| l.as_ref().map(|s| s.len()))
                .collect::<Vec<_>>()
        );
        assert_eq!(got[0], Ok("a".to_string()));
        assert!(got[1].as_ref().unwrap_err().contains("longer than"));
        assert_eq!(got[2], Ok("b".to_string()));
        assert_eq!(got[3], Err("not UTF-8 text".to_string()));
    }

    #[test]
    fn conntrack_save_lines() {
        let f = create("-A -t 299 -u SEEN_REPLY,ASSURED -s 192.168.1.10 -d 93.184.216.34 -r 93.184.216.34 -n 203.0.113.5 -p tcp --sport 40000 --dport 443 --reply-port-src 443 --reply-port-dst 40000 --state ESTABLISHED");
        assert_eq!(f.timeout, Some(299));
        assert_eq!(f.reply.dst, Some("203.0.113.5".parse().unwrap()));
        assert_eq!(f.reply.src_port, Some(443));
        assert_eq!(f.state_name(), Some("ESTABLISHED"));
        assert!(f.status.unwrap().contains(Status::ASSURED));

        let g = create("-A -t 29 -u UNSET -s 10.0.0.7 -d 10.0.0.8 -r 10.0.0.8 -q 10.0.0.7 -p gre --srckey 1 --dstkey 2 --reply-key-src 2 --reply-key-dst 1");
        assert_eq!((g.orig.src_port, g.reply.src_port), (Some(1), Some(2)));
        let i = create(
            "-I -p icmp -s 10.0.0.1 -d 10.0.0.9 --icmp-type 8 --icmp-code 0 --icmp-id 1234 -t 30",
        );
        assert_eq!(i.reply.icmp_type, Some(0), "mirrored echo reply");
        let z = create("-A -t 299 -u UNSET --orig-zone 3 -s 10.0.0.5 -d 10.0.0.6 -p tcp --sport 3001 --dport 80 --state ESTABLISHED");
        assert_eq!(z.orig.zone, Some(3));
        assert!(parse_line("  # comment").unwrap().is_none());
        assert!(parse_line("").unwrap().is_none());
        assert!(matches!(
            parse_line("-D -p tcp").unwrap(),
            Some(Line::Command(_))
        ));
        assert!(
            parse_line("-L").is_err(),
            "lists are no lines of a saved table"
        );
        // conntrack 1.4.7 takes no -l on create (labels are set with
        // --label-add, by name): the line is refused as conntrack refuses it.
        let l = parse_line("-I -s 10.0.0.1 -d 10.0.0.2 -p udp --sport 1 --dport 2 -t 5 -l 3");
        assert!(l.is_err(), "{l:?}");
        assert!(
            parse_line("-I -s 10.0.0.1 -d 10.0.0.2 -p udp --sport 1 --dport 2 -t 5 --helper ftp")
                .is_err(),
            "the helper is refused, not dropped"
        );
        assert!(parse_line("-I -p 200 -s 1.2.3.4 -d 5.6.7.8")
            .unwrap_err()
            .contains("timeout"));
        assert!(parse_line("-I -p tcp -s 1.2.3.400 -d 5.6.7.8 -t 5").is_err());
        assert!(parse_line("-I -p tcp --bogus 1").is_err());
    }

    #[test]
    fn json_lines_round_trip_through_the_list_schema() {
        let line = r#"{"family":"ipv4","proto":"tcp","proto_num":6,"timeout":99,"state":"TIME_WAIT","orig":{"src":"10.0.0.1","dst":"10.0.0.2","sport":1001,"dport":80},"reply":{"src":"10.0.0.2","dst":"10.0.0.1","sport":80,"dport":1001},"status":["SEEN_REPLY","CONFIRMED"],"mark":7,"zone":0,"id":5,"use":1,"labels":[1,70]}"#;
        let f = create(line);
        assert_eq!(f.orig.src_port, Some(1001));
        assert_eq!(f.mark, Some(7));
        assert_eq!(f.zone, None);
        assert_eq!(f.state_name(), Some("TIME_WAIT"));
        assert_eq!(
            f.labels.as_ref().unwrap().bits().collect::<Vec<_>>(),
            [1, 70]
        );
        assert!(parse_line(r#"{"time":"x","event":"overrun","overruns":1}"#).is_err());
        assert!(parse_line("{not json").is_err());
    }
}
