//! conntrack's word lists (`parse_parameter`): status, event and output
//! names, and the `-p` protocol lookup (`findproto`).

use super::options::{self, Proto};
use super::values::{self};

use super::template::*;

/// The protocol extension for a `-p` value (`findproto`): conntrack's
/// extensions by name (any case), then `/etc/protocols`, then a number.
pub(super) fn findproto(name: &str, lookup: &dyn Lookup) -> Option<(Proto, u8)> {
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
pub(super) fn parameter(word: &str, names: &[(&str, u32)], notes: &mut Vec<String>) -> Option<u32> {
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

pub(super) const STATUS_NAMES: &[(&str, u32)] = &[
    ("ASSURED", ips::ASSURED),
    ("SEEN_REPLY", ips::SEEN_REPLY),
    ("UNSET", 0),
    ("FIXED_TIMEOUT", ips::FIXED_TIMEOUT),
    ("EXPECTED", ips::EXPECTED),
    ("OFFLOAD", ips::OFFLOAD),
    ("HW_OFFLOAD", ips::HW_OFFLOAD),
];

pub(super) const EVENT_NAMES: &[(&str, u32)] = &[
    ("ALL", ev::ALL),
    ("NEW", ev::NEW),
    ("UPDATES", ev::UPDATE),
    ("DESTROY", ev::DESTROY),
];

pub(super) const OUTPUT_NAMES: &[(&str, u32)] = &[
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
pub(super) fn parse_list(
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
pub(super) fn parse_status(
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
