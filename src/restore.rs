//! Reading saved tables: ctctl's JSON Lines (`ctctl save`, the `list -o
//! json` schema) and conntrack(8)'s `-o save` / `-R` lines (`-I ...`,
//! `-A ...`), so existing fixture files work unchanged.

use std::borrow::Cow;
use std::net::IpAddr;

use ctctl_netlink::conntrack::protoinfo::state_names;
use ctctl_netlink::conntrack::{DccpInfo, Flow, Labels, ProtoInfo, SctpInfo, Status, Tuple};
use ctctl_netlink::header::{AF_INET, AF_INET6};
use serde::Deserialize;

use crate::create::mirror;
use crate::filter::{parse_family, parse_proto, parse_u32, StatusMatch};

/// One entry to create, parsed from a line.
pub type Parsed = Flow<'static>;

/// Parses one line: JSON (starts with `{`) or conntrack save syntax.
/// `Ok(None)` for blank lines and comments.
pub fn parse_line(line: &str) -> Result<Option<Parsed>, String> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let parsed = if line.starts_with('{') {
        parse_json(line)?
    } else {
        parse_conntrack(line)?
    };
    ctctl_netlink::conntrack::request::check_create(&parsed)?;
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

/// conntrack(8) save syntax: `-I|-A [options]` as `conntrack -L -o save`
/// prints and `conntrack -R` reads.
fn parse_conntrack(line: &str) -> Result<Parsed, String> {
    let mut words = line.split_whitespace();
    match words.next() {
        Some("-I" | "-A" | "--create" | "--add") => {}
        Some(other) => return Err(format!("'{other}': only -I / -A lines create entries")),
        None => return Err("empty line".to_string()),
    }
    let mut orig = Tuple::default();
    let mut reply = Tuple::default();
    let (mut have_reply_addr, mut have_reply_port) = (false, false);
    let mut snat: Option<IpAddr> = None;
    let mut dnat: Option<IpAddr> = None;
    let mut f = Flow::default();
    let mut state_name: Option<String> = None;
    let mut sctp_vtags = (None, None);
    let mut family: Option<u8> = None;
    while let Some(opt) = words.next() {
        let mut val = || words.next().ok_or_else(|| format!("{opt} needs a value"));
        let ip = |v: &str| {
            v.parse::<IpAddr>()
                .map_err(|_| format!("{opt}: bad address '{v}'"))
        };
        let num16 = |v: &str| {
            v.parse::<u16>()
                .map_err(|_| format!("{opt}: bad number '{v}'"))
        };
        let num8 = |v: &str| {
            v.parse::<u8>()
                .map_err(|_| format!("{opt}: bad number '{v}'"))
        };
        match opt {
            "-s" | "--src" | "--orig-src" => orig.src = Some(ip(val()?)?),
            "-d" | "--dst" | "--orig-dst" => orig.dst = Some(ip(val()?)?),
            "-r" | "--reply-src" => {
                reply.src = Some(ip(val()?)?);
                have_reply_addr = true;
            }
            "-q" | "--reply-dst" => {
                reply.dst = Some(ip(val()?)?);
                have_reply_addr = true;
            }
            "-p" | "--proto" | "--protonum" => {
                let p = parse_proto(val()?).map_err(|e| format!("{opt}: {e}"))?;
                orig.proto = Some(p);
            }
            "--sport" | "--orig-port-src" | "--srckey" => orig.src_port = Some(num16(val()?)?),
            "--dport" | "--orig-port-dst" | "--dstkey" => orig.dst_port = Some(num16(val()?)?),
            "--reply-port-src" | "--reply-key-src" => {
                reply.src_port = Some(num16(val()?)?);
                have_reply_port = true;
            }
            "--reply-port-dst" | "--reply-key-dst" => {
                reply.dst_port = Some(num16(val()?)?);
                have_reply_port = true;
            }
            "--icmp-type" | "--icmpv6-type" => orig.icmp_type = Some(num8(val()?)?),
            "--icmp-code" | "--icmpv6-code" => orig.icmp_code = Some(num8(val()?)?),
            "--icmp-id" | "--icmpv6-id" => orig.icmp_id = Some(num16(val()?)?),
            "-t" | "--timeout" => {
                f.timeout = Some(val()?.parse().map_err(|_| format!("{opt}: bad timeout"))?)
            }
            "-u" | "--status" => {
                let v = val()?;
                if v != "UNSET" {
                    let m = StatusMatch::parse(v).map_err(|e| format!("{opt}: {e}"))?;
                    f.status = Some(Status(m.set));
                }
            }
            "-m" | "--mark" => {
                let v = val()?;
                let m = v.split('/').next().unwrap_or(v);
                f.mark = Some(parse_u32(m).map_err(|e| format!("{opt}: {e}"))?);
            }
            "-w" | "--zone" => f.zone = Some(num16(val()?)?),
            "--orig-zone" => orig.zone = Some(num16(val()?)?),
            "--reply-zone" => reply.zone = Some(num16(val()?)?),
            "--state" => state_name = Some(val()?.to_string()),
            "--orig-vtag" => {
                sctp_vtags.0 = Some(parse_u32(val()?).map_err(|e| format!("{opt}: {e}"))?)
            }
            "--reply-vtag" => {
                sctp_vtags.1 = Some(parse_u32(val()?).map_err(|e| format!("{opt}: {e}"))?)
            }
            "-n" | "--src-nat" => snat = Some(ip(val()?.split(':').next().unwrap_or(""))?),
            "-g" | "--dst-nat" => dnat = Some(ip(val()?.split(':').next().unwrap_or(""))?),
            "-f" | "--family" => {
                family = Some(parse_family(val()?).map_err(|e| format!("{opt}: {e}"))?)
            }
            "-c" | "--secmark" | "--helper" | "-l" | "--label" | "--role" => {
                val()?;
            }
            other => return Err(format!("unknown option '{other}'")),
        }
    }
    let p = orig.proto.ok_or("no protocol (-p)")?;
    if orig.src.is_none() || orig.dst.is_none() {
        return Err("needs -s and -d".to_string());
    }
    let mut mirrored = mirror(&orig);
    mirrored.zone = reply.zone;
    if have_reply_addr {
        mirrored.src = reply.src.or(mirrored.src);
        mirrored.dst = reply.dst.or(mirrored.dst);
    }
    if have_reply_port {
        mirrored.src_port = reply.src_port.or(mirrored.src_port);
        mirrored.dst_port = reply.dst_port.or(mirrored.dst_port);
    }
    // -n / -g: the reply goes to (comes from) the NAT address.
    if let Some(a) = snat {
        mirrored.dst = Some(a);
    }
    if let Some(a) = dnat {
        mirrored.src = Some(a);
    }
    f.family = family.unwrap_or(match orig.src {
        Some(IpAddr::V6(_)) => AF_INET6,
        _ => AF_INET,
    });
    if let Some(s) = &state_name {
        let mut info = state(p, s)?;
        if let ProtoInfo::Sctp(i) = &mut info {
            i.vtag_orig = sctp_vtags.0;
            i.vtag_reply = sctp_vtags.1;
        }
        f.proto_info = Some(info);
    }
    f.orig = orig;
    f.reply = mirrored;
    if f.timeout.is_none() {
        return Err("no timeout (-t)".to_string());
    }
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conntrack_save_lines() {
        let f = parse_line("-A -t 299 -u SEEN_REPLY,ASSURED -s 192.168.1.10 -d 93.184.216.34 -r 93.184.216.34 -n 203.0.113.5 -p tcp --sport 40000 --dport 443 --reply-port-src 443 --reply-port-dst 40000 --state ESTABLISHED")
            .unwrap()
            .unwrap();
        assert_eq!(f.timeout, Some(299));
        assert_eq!(f.reply.dst, Some("203.0.113.5".parse().unwrap()));
        assert_eq!(f.reply.src_port, Some(443));
        assert_eq!(f.state_name(), Some("ESTABLISHED"));
        assert!(f.status.unwrap().contains(Status::ASSURED));

        let g = parse_line("-A -t 29 -u UNSET -s 10.0.0.7 -d 10.0.0.8 -r 10.0.0.8 -q 10.0.0.7 -p gre --srckey 1 --dstkey 2 --reply-key-src 2 --reply-key-dst 1").unwrap().unwrap();
        assert_eq!((g.orig.src_port, g.reply.src_port), (Some(1), Some(2)));
        let i = parse_line(
            "-I -p icmp -s 10.0.0.1 -d 10.0.0.9 --icmp-type 8 --icmp-code 0 --icmp-id 1234 -t 30",
        )
        .unwrap()
        .unwrap();
        assert_eq!(i.reply.icmp_type, Some(0), "mirrored echo reply");
        let z = parse_line("-A -t 299 -u UNSET --orig-zone 3 -s 10.0.0.5 -d 10.0.0.6 -p tcp --sport 3001 --dport 80 --state ESTABLISHED").unwrap().unwrap();
        assert_eq!(z.orig.zone, Some(3));
        assert_eq!(parse_line("  # comment").unwrap(), None);
        assert_eq!(parse_line("").unwrap(), None);
        assert!(parse_line("-D -p tcp").is_err());
        assert!(parse_line("-I -p tcp -s 1.2.3.4 -d 5.6.7.8")
            .unwrap_err()
            .contains("timeout"));
        assert!(parse_line("-I -p tcp -s 1.2.3.400 -d 5.6.7.8 -t 5").is_err());
        assert!(parse_line("-I -p tcp --bogus 1").is_err());
    }

    #[test]
    fn json_lines_round_trip_through_the_list_schema() {
        let line = r#"{"family":"ipv4","proto":"tcp","proto_num":6,"timeout":99,"state":"TIME_WAIT","orig":{"src":"10.0.0.1","dst":"10.0.0.2","sport":1001,"dport":80},"reply":{"src":"10.0.0.2","dst":"10.0.0.1","sport":80,"dport":1001},"status":["SEEN_REPLY","CONFIRMED"],"mark":7,"zone":0,"id":5,"use":1,"labels":[1,70]}"#;
        let f = parse_line(line).unwrap().unwrap();
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
