//! The C library's number and address readers as conntrack 1.4.7 uses
//! them (`atoi`, `atol`, `strtoul(.., 0)`, `inet_aton`, `inet_pton`), so
//! that the face reads every value to the same number or address.
//!
//! Where the C reader silently makes a number out of something that is not
//! one (`atoi("7o")` is 7, `atoi("x")` 0, `strtoul("-1")` wraps, a port of
//! 70000 is truncated to 4464), the strict readers here return `None`
//! instead: the face refuses such a value before anything is sent (exit
//! 2, see the README's list of differences), rather than act on a number
//! the user did not write.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What `strtoul`/`strtol` make of `s`: the value (with the sign applied,
/// wrapped as C wraps it), how many bytes were read, and whether the read
/// was clean: digits only after optional spaces, no sign, no overflow, and
/// nothing left over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Read {
    /// The value as the C function returns it (unsigned long, wrapped).
    pub value: u64,
    /// Bytes consumed (0 when there were no digits).
    pub end: usize,
    /// Digits only (after leading white space), no sign, no overflow, and
    /// the whole string read.
    pub clean: bool,
}

fn c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

/// `strtoul(s, &end, base)` with base 0, 8, 10 or 16.
pub fn strtoul(s: &str, base: u32) -> Read {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() && c_space(b[i]) {
        i += 1;
    }
    let mut neg = false;
    let mut signed = false;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        neg = b[i] == b'-';
        signed = true;
        i += 1;
    }
    let mut base = base;
    let hex_prefix = i + 1 < b.len()
        && b[i] == b'0'
        && (b[i + 1] == b'x' || b[i + 1] == b'X')
        && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
    if (base == 0 || base == 16) && hex_prefix {
        base = 16;
        i += 2;
    } else if base == 0 {
        base = if b.get(i) == Some(&b'0') { 8 } else { 10 };
    }
    let start = i;
    let mut value: u64 = 0;
    let mut overflow = false;
    while i < b.len() {
        let d = match (b[i] as char).to_digit(base) {
            Some(d) => d,
            None => break,
        };
        match value
            .checked_mul(u64::from(base))
            .and_then(|v| v.checked_add(u64::from(d)))
        {
            Some(v) => value = v,
            None => overflow = true,
        }
        i += 1;
    }
    if i == start {
        // No digits: nothing is consumed, the value is 0.
        return Read {
            value: 0,
            end: 0,
            clean: false,
        };
    }
    let value = if overflow {
        u64::MAX
    } else if neg {
        value.wrapping_neg()
    } else {
        value
    };
    Read {
        value,
        end: i,
        clean: !overflow && !signed && i == b.len(),
    }
}

/// `strtol(s, .., 10)` as `atoi`/`atol` use it: the value as a signed
/// 64-bit number (saturated on overflow, as glibc does) and whether the
/// read was clean (see [`Read`]).
pub fn atol(s: &str) -> (i64, bool) {
    let r = strtoul(s, 10);
    let neg = s
        .trim_start_matches(|c: char| c.is_ascii() && c_space(c as u8))
        .starts_with('-');
    let v = if r.end == 0 {
        0
    } else if !neg {
        i64::try_from(r.value).unwrap_or(i64::MAX)
    } else {
        // strtoul wrapped it; strtol saturates at LONG_MIN.
        let mag = r.value.wrapping_neg();
        if mag > i64::MAX as u64 + 1 {
            i64::MIN
        } else {
            (mag as i128).wrapping_neg() as i64
        }
    };
    (v, r.clean)
}

/// A clean decimal number that fits `T` (`atoi`/`atol` readers).
pub fn decimal<T: TryFrom<u64>>(s: &str) -> Option<T> {
    let r = strtoul(s, 10);
    r.clean.then_some(r.value).and_then(|v| T::try_from(v).ok())
}

/// A clean number in C notation (`0x` hex, leading-`0` octal, decimal)
/// that fits `T` (`strtoul(.., 0)` readers).
pub fn c_number<T: TryFrom<u64>>(s: &str) -> Option<T> {
    let r = strtoul(s, 0);
    r.clean.then_some(r.value).and_then(|v| T::try_from(v).ok())
}

/// glibc's `inet_aton`: one to four parts in C notation separated by dots
/// (`10.1` is 10.0.0.1, `0x0a000001` is 10.0.0.1), the last part filling
/// the remaining bytes; white space may follow.
pub fn inet_aton(s: &str) -> Option<Ipv4Addr> {
    const MAX: [u64; 4] = [0xffff_ffff, 0xff_ffff, 0xffff, 0xff];
    let b = s.as_bytes();
    let mut parts: Vec<u8> = Vec::new();
    let mut i = 0;
    let last;
    loop {
        if !b.get(i).is_some_and(u8::is_ascii_digit) {
            return None;
        }
        let r = strtoul(&s[i..], 0);
        if r.value > 0xffff_ffff {
            return None;
        }
        i += r.end;
        if b.get(i) == Some(&b'.') {
            if parts.len() > 2 || r.value > 0xff {
                return None;
            }
            parts.push(r.value as u8);
            i += 1;
        } else {
            last = r.value;
            break;
        }
    }
    if let Some(&c) = b.get(i) {
        if !(c.is_ascii() && c_space(c)) {
            return None;
        }
    }
    if last > MAX[parts.len()] {
        return None;
    }
    let mut bytes = [0u8; 4];
    bytes[..parts.len()].copy_from_slice(&parts);
    let word = u32::from_be_bytes(bytes) | last as u32;
    Some(Ipv4Addr::from(word))
}

/// An address as conntrack reads one (`parse_inetaddr`): `inet_aton`
/// first, then `inet_pton(AF_INET6)`.
pub fn inet_addr(s: &str) -> Option<IpAddr> {
    if let Some(v4) = inet_aton(s) {
        return Some(IpAddr::V4(v4));
    }
    // inet_pton takes no zone index or brackets, like Rust's parser.
    s.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
}

/// The prefix length part of `ADDR/LEN` as `parse_addr` reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prefix {
    /// No `/`.
    None,
    /// A length within the family's width.
    Len(u8),
    /// Not a number, negative, trailing characters, or too long.
    Invalid,
}

/// conntrack's `parse_addr`: the text is cut to 45 bytes (its buffer), a
/// `/LEN` is split off, and the rest read by [`inet_addr`].
pub fn parse_addr(text: &str) -> (Option<IpAddr>, Prefix) {
    let bytes = text.as_bytes();
    let cut = &bytes[..bytes.len().min(45)];
    let Ok(buf) = std::str::from_utf8(cut) else {
        return (None, Prefix::None);
    };
    let (addr, prefix) = match buf.split_once('/') {
        Some((a, p)) => {
            let (v, _) = atol(p);
            let r = strtoul(p, 10);
            let all_read = r.end == p.len() || p.is_empty();
            let prefix = if v < 0 || !all_read {
                Prefix::Invalid
            } else {
                Prefix::Len(u8::try_from(v).unwrap_or(u8::MAX))
            };
            // strtol reads a leading '+' and spaces too; a bare "/" is 0.
            (a, prefix)
        }
        None => (buf, Prefix::None),
    };
    let ip = inet_addr(addr);
    let prefix = match (ip, prefix) {
        (Some(IpAddr::V4(_)), Prefix::Len(n)) if n > 32 => Prefix::Invalid,
        (Some(IpAddr::V6(_)), Prefix::Len(n)) if n > 128 => Prefix::Invalid,
        (_, p) => p,
    };
    (ip, prefix)
}

/// conntrack's `valid_port` for `ADDR:PORT`: digits only, at most 65535.
pub fn valid_port(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| b.is_ascii_digit())
        && s.parse::<u32>().is_ok_and(|p| p <= 65535)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strtoul_follows_c() {
        assert_eq!(strtoul("0x10", 0).value, 16);
        assert_eq!(strtoul("010", 0).value, 8);
        assert_eq!(strtoul("010", 10).value, 10);
        assert_eq!(
            strtoul("  7o", 10),
            Read {
                value: 7,
                end: 3,
                clean: false
            }
        );
        assert_eq!(
            strtoul("x", 0),
            Read {
                value: 0,
                end: 0,
                clean: false
            }
        );
        assert_eq!(strtoul("-1", 0).value, u64::MAX);
        assert!(!strtoul("-1", 0).clean);
        assert_eq!(
            strtoul("0x", 0),
            Read {
                value: 0,
                end: 1,
                clean: false
            }
        );
        assert!(strtoul("99999999999999999999999", 10).value == u64::MAX);
        assert_eq!(atol("-5"), (-5, false));
        assert_eq!(decimal::<u16>("65536"), None);
        assert_eq!(decimal::<u16>("080"), Some(80));
        assert_eq!(c_number::<u16>("0x10"), Some(16));
        assert_eq!(c_number::<u32>("08"), None);
    }

    #[test]
    fn inet_aton_takes_the_short_forms() {
        let a = |s: &str| inet_aton(s).map(|a| a.to_string());
        assert_eq!(a("10.1").as_deref(), Some("10.0.0.1"));
        assert_eq!(a("10.1.2").as_deref(), Some("10.1.0.2"));
        assert_eq!(a("0x0a000001").as_deref(), Some("10.0.0.1"));
        assert_eq!(a("010.0.0.1").as_deref(), Some("8.0.0.1"));
        assert_eq!(a("1.2.3.4 x").as_deref(), Some("1.2.3.4"));
        assert_eq!(a("1.2.3.4x"), None);
        assert_eq!(a("256.1.1.1"), None);
        assert_eq!(a("1.2.3.256"), None);
        assert_eq!(a("1.2.3.4.5"), None);
        assert_eq!(a("08.1.1.1"), None);
        assert_eq!(a(""), None);
        assert_eq!(a("1..2"), None);
    }

    #[test]
    fn addresses_with_prefixes() {
        assert_eq!(parse_addr("10.0.0.0/8").1, Prefix::Len(8));
        assert_eq!(parse_addr("10.0.0.0/").1, Prefix::Len(0));
        assert_eq!(parse_addr("10.0.0.0/33").1, Prefix::Invalid);
        assert_eq!(parse_addr("10.0.0.0/-1").1, Prefix::Invalid);
        assert_eq!(parse_addr("10.0.0.0/8x").1, Prefix::Invalid);
        assert_eq!(parse_addr("::1/128").1, Prefix::Len(128));
        assert_eq!(parse_addr("10.0.0.1").1, Prefix::None);
        assert_eq!(parse_addr("nonsense").0, None);
        // The 45-byte buffer drops what follows.
        let long = "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255/64";
        assert_eq!(parse_addr(long).1, Prefix::None);
        assert!(valid_port("65535") && !valid_port("65536") && !valid_port("+1"));
    }
}
