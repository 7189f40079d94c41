//! An entry's identity in the live table: a 64-bit hash of its id,
//! original tuple and original-direction zone, mixed with per-process
//! secrets. The kernel's 32-bit `CTA_ID` alone is a hash that collides
//! between live entries (about 115 pairs at a million), which lost entries
//! from the gauges; with the tuple and zone in it, a collision takes two
//! entries whose 64-bit hashes meet: about one in 2^25 tables of a million
//! entries.

use std::net::IpAddr;

use ctctl_netlink::conntrack::Flow;

use super::compact::Key;

/// Multiplies and folds: the mixing step of wyhash.
#[inline]
fn mum(a: u64, b: u64) -> u64 {
    let r = u128::from(a) * u128::from(b);
    (r as u64) ^ ((r >> 64) as u64)
}

/// Per-process random secrets for [`identity`], so that no one can craft
/// two connections whose identities meet.
fn secrets() -> &'static [u64; 8] {
    static S: std::sync::OnceLock<[u64; 8]> = std::sync::OnceLock::new();
    S.get_or_init(|| {
        use std::hash::BuildHasher;
        let rs = std::collections::hash_map::RandomState::new();
        // Odd, so a multiplication by one never loses bits.
        std::array::from_fn(|i| rs.hash_one(i as u64) | 1)
    })
}

fn words(ip: Option<IpAddr>) -> (u64, u64) {
    match ip {
        Some(IpAddr::V4(a)) => (0, u64::from(u32::from(a))),
        Some(IpAddr::V6(a)) => {
            let v = u128::from(a);
            ((v >> 64) as u64, v as u64)
        }
        None => (u64::MAX, u64::MAX),
    }
}

/// The identity of an entry (see the module docs): its original tuple,
/// original zone and id packed into six words and mixed with per-process
/// secrets as wyhash mixes (a fifth of SipHash's cost, which mattered at
/// 400,000 events a second).
pub fn identity(f: &Flow<'_>) -> u64 {
    let s = secrets();
    let o = &f.orig;
    let (s0, s1) = words(o.src);
    let (d0, d1) = words(o.dst);
    let w4 = u64::from(f.family) << 56
        | u64::from(o.proto.unwrap_or(0)) << 48
        | u64::from(o.src_port.unwrap_or(0)) << 32
        | u64::from(o.dst_port.unwrap_or(0)) << 16
        | u64::from(crate::flow::orig_zone(f));
    let w5 = u64::from(o.icmp_type.unwrap_or(0)) << 56
        | u64::from(o.icmp_code.unwrap_or(0)) << 48
        | u64::from(o.icmp_id.unwrap_or(0)) << 32
        | u64::from(f.id.unwrap_or(0));
    let h = mum(s0 ^ s[0], s1 ^ s[1]) ^ mum(d0 ^ s[2], d1 ^ s[3]) ^ mum(w4 ^ s[4], w5 ^ s[5]);
    let k = mum(h ^ s[6], s[7]);
    if k == u64::EMPTY {
        k - 1
    } else {
        k
    }
}
