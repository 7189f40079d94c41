//! The values of single options: addresses, masks and families, NAT,
//! ICMP reply types, the protocol extensions' options and states.

use std::net::IpAddr;

use super::options::{long_name, opt, Proto};
use super::values::{self, Prefix};

use super::template::*;

pub(super) fn family_of(ip: &IpAddr) -> u8 {
    if ip.is_ipv4() {
        AF_INET
    } else {
        AF_INET6
    }
}

pub(super) fn set_family(family: &mut u8, new: u8) -> Result<(), ParseError> {
    if *family == 0 {
        *family = new;
        Ok(())
    } else if *family != new {
        Err(param("mismatched address family"))
    } else {
        Ok(())
    }
}

/// A netmask of `bits` ones for the family.
pub(super) fn netmask(family: u8, bits: u8) -> IpAddr {
    if family == AF_INET {
        let m = if bits == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(bits))
        };
        IpAddr::V4(m.into())
    } else {
        let m = if bits == 0 {
            0
        } else {
            u128::MAX << (128 - u32::from(bits))
        };
        IpAddr::V6(m.into())
    }
}

/// The ICMP reply type libnetfilter_conntrack's setter derives (+1
/// encoded: 0 means none, then 255 is sent and the kernel refuses).
pub(super) fn icmp_reply_type(family: u8, t: u8) -> u8 {
    let r = match family {
        AF_INET => match t {
            8 => 1,
            0 => 9,
            13 => 15,
            14 => 14,
            15 => 17,
            16 => 16,
            17 => 19,
            18 => 18,
            _ => 0,
        },
        AF_INET6 => match t {
            128 => 130,
            129 => 129,
            139 => 141,
            140 => 140,
            _ => 0,
        },
        _ => 0,
    };
    if r == 0 {
        255
    } else {
        r - 1
    }
}

/// Which template an address option writes.
#[derive(Clone, Copy)]
pub(super) enum Slot {
    OrigSrc,
    OrigDst,
    ReplSrc,
    ReplDst,
    ExpSrc,
    ExpDst,
    MaskSrc,
    MaskDst,
}

/// `nfct_parse_addr_from_opt` for an address option.
pub(super) fn address(
    c: &mut Command,
    slot: Slot,
    text: &str,
    letter: u8,
) -> Result<(), ParseError> {
    let (ip, prefix) = values::parse_addr(text);
    let ip = ip.ok_or_else(|| param(format!("Invalid IP address `{text}'")))?;
    let fam = family_of(&ip);
    set_family(&mut c.family, fam)?;
    // Only --src, --dst and the expectation tuple take a prefix (it
    // becomes their mask).
    let takes_mask = matches!(
        slot,
        Slot::OrigSrc | Slot::OrigDst | Slot::ExpSrc | Slot::ExpDst
    );
    if prefix != Prefix::None && !takes_mask {
        return Err(param(format!(
            "CIDR notation unavailable for `--{}'",
            long_name(letter)
        )));
    }
    if prefix == Prefix::Invalid {
        return Err(param("Invalid netmask"));
    }
    match slot {
        Slot::OrigSrc | Slot::OrigDst => {
            c.options |= if matches!(slot, Slot::OrigSrc) {
                opt::ORIG_SRC
            } else {
                opt::ORIG_DST
            };
            let d = &mut c.tmpl.orig;
            if matches!(slot, Slot::OrigSrc) {
                d.src = Some(ip);
            } else {
                d.dst = Some(ip);
            }
            d.l3 = Some(fam);
        }
        Slot::ReplSrc | Slot::ReplDst => {
            c.options |= if matches!(slot, Slot::ReplSrc) {
                opt::REPL_SRC
            } else {
                opt::REPL_DST
            };
            let d = &mut c.tmpl.repl;
            if matches!(slot, Slot::ReplSrc) {
                d.src = Some(ip);
            } else {
                d.dst = Some(ip);
            }
            d.l3 = Some(fam);
        }
        Slot::ExpSrc | Slot::ExpDst => {
            c.options |= if matches!(slot, Slot::ExpSrc) {
                opt::EXP_SRC
            } else {
                opt::EXP_DST
            };
            let d = &mut c.exp.tuple;
            if matches!(slot, Slot::ExpSrc) {
                d.src = Some(ip);
            } else {
                d.dst = Some(ip);
            }
            d.l3 = Some(fam);
        }
        Slot::MaskSrc | Slot::MaskDst => {
            mask(c, matches!(slot, Slot::MaskSrc), ip);
        }
    }
    if let Prefix::Len(bits) = prefix {
        let full = if fam == AF_INET { 32 } else { 128 };
        if bits != full {
            let src = matches!(slot, Slot::OrigSrc | Slot::ExpSrc);
            mask(c, src, netmask(fam, bits));
        }
    }
    Ok(())
}

/// The source or destination mask (`--mask-src`, a `/LEN`).
pub(super) fn mask(c: &mut Command, src: bool, m: IpAddr) {
    c.options |= if src { opt::MASK_SRC } else { opt::MASK_DST };
    let d = &mut c.exp.mask;
    if src {
        d.src = Some(m);
    } else {
        d.dst = Some(m);
    }
    d.l3 = Some(family_of(&m));
}

/// `--src-nat`, `--dst-nat`, `--any-nat` with a value: `ADDR`,
/// `ADDR:PORT`, `[ADDR]:PORT`.
pub(super) fn nat(c: &mut Command, letter: u8, word: &str) -> Result<(), ParseError> {
    let (addr, port) = if let Some(open) = word.find('[') {
        let start = open + 1;
        let close = word[start..]
            .find(']')
            .map(|i| start + i)
            .ok_or_else(|| param("No closing ']' around IPv6 address"))?;
        if close == start {
            return Err(param("No IPv6 address specified"));
        }
        match word[close..].find(':') {
            Some(i) => (word[start..close].to_string(), Some(&word[close + i + 1..])),
            None => (word.to_string(), None),
        }
    } else {
        match word.find(':') {
            Some(i) if !word[i + 1..].contains(':') => {
                (word[..i].to_string(), Some(&word[i + 1..]))
            }
            _ => (word.to_string(), None),
        }
    };
    let port = match port {
        Some("") => return Err(param("No port specified after `:'")),
        Some(p) if !values::valid_port(p) => return Err(param(format!("Invalid port `{p}'"))),
        Some(p) => Some(p.parse::<u16>().expect("checked by valid_port")),
        None => None,
    };
    let (ip, prefix) = values::parse_addr(&addr);
    let ip = ip.ok_or_else(|| param(format!("Invalid IP address `{addr}'")))?;
    set_family(&mut c.family, family_of(&ip))?;
    if prefix != Prefix::None {
        return Err(param(format!(
            "CIDR notation unavailable for `--{}'",
            long_name(letter)
        )));
    }
    match letter {
        b'n' => {
            c.tmpl.snat = Some(ip);
            c.tmpl.orig.l3 = Some(family_of(&ip));
            if port.is_some() {
                c.tmpl.snat_port = port;
            }
        }
        b'g' => {
            c.tmpl.dnat = Some(ip);
            c.tmpl.orig.l3 = Some(family_of(&ip));
            if port.is_some() {
                c.tmpl.dnat_port = port;
            }
        }
        _ => {
            c.tmpl.any_nat_clobbered = true;
            c.tmpl.snat = Some(ip);
            c.tmpl.dnat = Some(ip);
            if port.is_some() {
                c.tmpl.snat_port = port;
                c.tmpl.dnat_port = port;
            }
        }
    }
    Ok(())
}

/// A protocol extension's option (`parse_options` of the last `-p`).
pub(super) fn proto_option(
    c: &mut Command,
    proto: Proto,
    local: u8,
    a: &str,
) -> Result<(), ParseError> {
    // SCTP and DCCP number their options 1..; the others use '1'...
    let k = match proto {
        Proto::Sctp | Proto::Dccp => local,
        _ => local.wrapping_sub(b'0'),
    };
    match proto {
        Proto::Tcp | Proto::Udp | Proto::Udplite | Proto::Sctp | Proto::Dccp | Proto::Gre => {
            let num = c.protonum;
            // Ports through atoi and htons (GRE keys through strtoul).
            let key = |c: &mut Command, flag: &str| -> Result<u16, ParseError> {
                Ok(if proto == Proto::Gre {
                    cnum(c, a, flag, u16::MAX.into()) as u16
                } else {
                    dec(c, a, flag, 0, u16::MAX.into()) as u16
                })
            };
            // The state and extras sit at different numbers per protocol.
            let (state_k, tuple_k) = match proto {
                Proto::Tcp | Proto::Sctp | Proto::Dccp => (Some(7), 8),
                _ => (None, 7),
            };
            match k {
                1 => {
                    c.tmpl.orig.sport = Some(key(c, "--sport")?);
                    c.tmpl.orig.l4 = Some(num);
                    c.l4flags |= 1 << 0;
                }
                2 => {
                    c.tmpl.orig.dport = Some(key(c, "--dport")?);
                    c.tmpl.orig.l4 = Some(num);
                    c.l4flags |= 1 << 1;
                }
                3 => {
                    c.tmpl.repl.sport = Some(key(c, "--reply-port-src")?);
                    c.tmpl.repl.l4 = Some(num);
                    c.l4flags |= 1 << 2;
                }
                4 => {
                    c.tmpl.repl.dport = Some(key(c, "--reply-port-dst")?);
                    c.tmpl.repl.l4 = Some(num);
                    c.l4flags |= 1 << 3;
                }
                5 => {
                    c.exp.mask.sport = Some(key(c, "--mask-port-src")?);
                    c.exp.mask.l4 = Some(num);
                    c.l4flags |= 1 << 4;
                }
                6 => {
                    c.exp.mask.dport = Some(key(c, "--mask-port-dst")?);
                    c.exp.mask.l4 = Some(num);
                    c.l4flags |= 1 << 5;
                }
                k if Some(k) == state_k => {
                    let st = state(proto, a)?;
                    match proto {
                        Proto::Tcp => c.tmpl.tcp_state = Some(st),
                        Proto::Sctp => c.tmpl.sctp_state = Some(st),
                        _ => c.tmpl.dccp_state = Some(st),
                    }
                    c.l4flags |= 1 << 6;
                }
                k if k == tuple_k || k == tuple_k + 1 => {
                    let v = key(c, "--tuple-port-src")?;
                    if k == tuple_k {
                        c.exp.tuple.sport = Some(v);
                    } else {
                        c.exp.tuple.dport = Some(v);
                    }
                    c.exp.tuple.l4 = Some(num);
                    c.l4flags |= 1 << (k - 1);
                }
                10 if proto == Proto::Sctp => {
                    c.tmpl.vtag_orig = Some(dec(c, a, "--orig-vtag", 0, u32::MAX.into()) as u32);
                    c.l4flags |= 1 << 9;
                }
                11 if proto == Proto::Sctp => {
                    c.tmpl.vtag_repl = Some(dec(c, a, "--reply-vtag", 0, u32::MAX.into()) as u32);
                    c.l4flags |= 1 << 10;
                }
                10 if proto == Proto::Dccp => {
                    let lw = a.to_ascii_lowercase();
                    c.tmpl.dccp_role = Some(if "client".starts_with(&lw) {
                        0
                    } else if "server".starts_with(&lw) {
                        1
                    } else {
                        return Err(param(format!("Unknown DCCP role `{a}'")));
                    });
                    c.l4flags |= 1 << 9;
                }
                _ => {}
            }
        }
        Proto::Icmp | Proto::Icmpv6 => {
            let num = if proto == Proto::Icmp { 1 } else { 58 };
            match k {
                1 => {
                    let t = dec(c, a, "--icmp-type", 0, 255) as u8;
                    let fam = c.tmpl.orig.l3.unwrap_or(0);
                    c.tmpl.icmp_type = Some((t, icmp_reply_type(fam, t)));
                    c.l4flags |= 1;
                }
                2 => {
                    c.tmpl.icmp_code = Some(dec(c, a, "--icmp-code", 0, 255) as u8);
                    c.l4flags |= 2;
                }
                3 => {
                    c.tmpl.icmp_id = Some(dec(c, a, "--icmp-id", 0, u16::MAX.into()) as u16);
                    c.l4flags |= 4;
                }
                _ => return Ok(()),
            }
            c.tmpl.orig.l4 = Some(num);
            if c.tmpl.repl.l3.is_some() {
                c.tmpl.repl.l4 = Some(num);
            }
        }
        Proto::Unknown => {}
    }
    Ok(())
}

/// A protocol state by the extension's names (exact, case-sensitive).
pub(super) fn state(proto: Proto, a: &str) -> Result<u8, ParseError> {
    use ctctl_netlink::conntrack::protoinfo::{DCCP_STATES, SCTP_STATES, TCP_STATES};
    // conntrack 1.4.7's SCTP table stops before the heartbeat states.
    let sctp = &SCTP_STATES[..8];
    let find = |names: &[&str]| names.iter().position(|n| *n == a).map(|i| i as u8);
    match proto {
        Proto::Tcp => {
            if a == "LISTEN" {
                return Ok(9);
            }
            find(&TCP_STATES).ok_or_else(|| param(format!("unknown TCP state `{a}'")))
        }
        // conntrack 1.4.7's SCTP state table has two empty slots it
        // compares with: an unknown name crashes it.
        Proto::Sctp => find(sctp).ok_or_else(|| {
            refuse(
                Refusal::Crash,
                format!("unknown SCTP state `{a}' (conntrack 1.4.7 crashes on it)"),
            )
        }),
        _ => find(&DCCP_STATES).ok_or_else(|| param(format!("Unknown DCCP state `{a}'"))),
    }
}
