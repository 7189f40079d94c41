//! The value spellings of the filter flags, as conntrack(8) takes them:
//! address and port lists, marks, zones, protocol and family names,
//! numbers and durations. Each returns the reason a value does not parse;
//! the caller names the flag.

use ctctl_netlink::conntrack::proto;
use ctctl_netlink::header::{AF_INET, AF_INET6};

use super::criteria::{Cidr, Match, PortRange};
use crate::error::ValueError;
use crate::flow::PROTO_NAMES;

/// Parses `[!]ADDR[/LEN][,...]`.
///
/// # Errors
///
/// When the text does not parse; the error says why (the caller names the
/// field).
pub fn parse_addrs(s: &str) -> Result<Match<Cidr>, ValueError> {
    Match::parse(s, Cidr::parse)
}

/// Parses `[!]PORT[-PORT][,...]`.
///
/// # Errors
///
/// When the text does not parse; the error says why (the caller names the
/// field).
pub fn parse_ports(s: &str) -> Result<Match<PortRange>, ValueError> {
    Match::parse(s, PortRange::parse)
}

/// Parses `[!]VALUE[/MASK][,...]`.
///
/// # Errors
///
/// When the text does not parse; the error says why (the caller names the
/// field).
pub fn parse_marks(s: &str) -> Result<Match<(u32, u32)>, ValueError> {
    Match::parse(s, parse_mark)
}

/// Parses `[!]ZONE[,...]`.
///
/// # Errors
///
/// When the text does not parse; the error says why (the caller names the
/// field).
pub fn parse_zones(s: &str) -> Result<Match<u16>, ValueError> {
    Match::parse(s, |z| {
        z.parse::<u16>()
            .map_err(|_| "not a zone from 0 to 65535".to_string())
    })
}

/// Parses a protocol name (`tcp`, `udp`, `icmp`, `icmpv6`/`ipv6-icmp`, ...)
/// or number.
///
/// # Errors
///
/// When the text does not parse; the error says why (the caller names the
/// field).
pub fn parse_proto(s: &str) -> Result<u8, ValueError> {
    if let Ok(n) = s.parse::<u8>() {
        return Ok(n);
    }
    let lower = s.to_ascii_lowercase();
    if lower == "ipv6-icmp" || lower == "icmp6" {
        return Ok(proto::ICMPV6);
    }
    PROTO_NAMES
        .iter()
        .find(|(_, name)| *name == lower)
        .map(|(n, _)| *n)
        .ok_or_else(|| {
            "unknown protocol (use tcp, udp, udplite, icmp, icmpv6, sctp, gre, dccp or a number 0-255)"
                .into()
        })
}

/// Parses `ipv4` / `ipv6` (also `inet`, `inet6`, `4`, `6`).
///
/// # Errors
///
/// When the text does not parse; the error says why (the caller names the
/// field).
pub fn parse_family(s: &str) -> Result<u8, ValueError> {
    match s.to_ascii_lowercase().as_str() {
        "ipv4" | "inet" | "4" => Ok(AF_INET),
        "ipv6" | "inet6" | "6" => Ok(AF_INET6),
        _ => Err("use ipv4 or ipv6".into()),
    }
}

/// Parses an unsigned number in decimal or `0x` hexadecimal.
///
/// # Errors
///
/// When the text does not parse; the error says why (the caller names the
/// field).
pub fn parse_u32(s: &str) -> Result<u32, ValueError> {
    let r = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16),
        None => s.parse::<u32>(),
    };
    r.map_err(|_| "not a number from 0 to 4294967295 (decimal or 0x hex)".into())
}

/// Parses `VALUE[/MASK]` (conntrack(8) `--mark`); the mask defaults to all ones.
///
/// # Errors
///
/// When the text does not parse; the error says why (the caller names the
/// field).
pub fn parse_mark(s: &str) -> Result<(u32, u32), ValueError> {
    match s.split_once('/') {
        Some((v, m)) => {
            let mask = parse_u32(m)?;
            Ok((parse_u32(v)? & mask, mask))
        }
        None => Ok((parse_u32(s)?, u32::MAX)),
    }
}

/// Parses a duration: a number of seconds, or numbers with units `s`, `m`,
/// `h`, `d` (`90s`, `30m`, `6h`, `5d`, `1h30m`). Returns seconds.
///
/// # Errors
///
/// When the text does not parse; the error says why (the caller names the
/// field).
pub fn parse_duration(s: &str) -> Result<u64, ValueError> {
    let bad = || ValueError::from("use seconds or a duration like 90s, 30m, 6h, 5d, 1h30m");
    if let Ok(n) = s.parse::<u64>() {
        return Ok(n);
    }
    let mut total: u64 = 0;
    let mut num = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86400,
            _ => return Err(bad()),
        };
        let n: u64 = num.parse().map_err(|_| bad())?;
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| ValueError::from("duration too long"))?;
        num.clear();
    }
    if !num.is_empty() || s.is_empty() {
        return Err(bad());
    }
    Ok(total)
}

/// Parses a wait time: seconds, or with units `ms`, `s`, `m`, `h`, `d`.
///
/// # Errors
///
/// When the text does not parse; the error says why (the caller names the
/// field).
pub fn parse_wait(s: &str) -> Result<std::time::Duration, ValueError> {
    if let Some(ms) = s.strip_suffix("ms") {
        return ms
            .parse::<u64>()
            .map(std::time::Duration::from_millis)
            .map_err(|_| "use a duration like 500ms, 5s, 2m".into());
    }
    parse_duration(s).map(std::time::Duration::from_secs)
}
