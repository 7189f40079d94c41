//! Sizing advice: `max` from the entries the table must hold and what RAM
//! allows, `hashsize` for a target bucket depth, and the timeouts that
//! commonly cause orphan build-up.

use super::keys::human_duration;

/// Unswappable kernel memory per entry (slab `nf_conntrack`, with its
/// extensions), a little above what 64-bit kernels report (~300-320 B).
pub const BYTES_PER_ENTRY: u64 = 320;
/// The old rule of thumb: at most this many entries per GiB of RAM.
pub const ENTRIES_PER_GIB: u64 = 65_536;
/// Never more than this share of RAM for the table (1/16).
pub const RAM_SHARE_DIVISOR: u64 = 16;
/// Smallest max suggested.
pub const MIN_MAX: u64 = 65_536;

/// What the advice is based on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inputs {
    /// Total RAM in bytes.
    pub mem_bytes: u64,
    /// Current entry count.
    pub count: u64,
    /// Highest count the table must hold (an operator's figure, or the current count).
    pub peak: u64,
    /// Current `max`.
    pub max: u64,
    /// Current hash size.
    pub hashsize: u64,
    /// Target average bucket depth when the table is full.
    pub depth: u64,
}

/// One suggested change, with its reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advice {
    /// The key (`max`, `hashsize`, `timeout.tcp.established`).
    pub key: String,
    /// Its value now.
    pub current: u64,
    /// The suggested value.
    pub suggested: u64,
    /// Why.
    pub reason: String,
}

impl Advice {
    /// Whether the advice changes anything.
    pub fn changes(&self) -> bool {
        self.current != self.suggested
    }
}

/// The largest max RAM allows: the smaller of 65,536 per GiB and 1/16 of
/// RAM at 320 bytes per entry, rounded down to a power of two.
pub fn ram_bound(mem_bytes: u64) -> u64 {
    let gib = mem_bytes as f64 / (1u64 << 30) as f64;
    let by_rule = (gib * ENTRIES_PER_GIB as f64) as u64;
    let by_share = mem_bytes / RAM_SHARE_DIVISOR / BYTES_PER_ENTRY;
    prev_pow2(by_rule.min(by_share).max(MIN_MAX))
}

/// max and hashsize.
pub fn sizing(i: &Inputs) -> Vec<Advice> {
    let bound = ram_bound(i.mem_bytes);
    let need = i.peak.max(i.count);
    // Checked: a --peak near 2^64 must not wrap to a suggestion of 0.
    let wanted = (need.saturating_mul(2))
        .max(MIN_MAX)
        .checked_next_power_of_two()
        .unwrap_or(u64::MAX);
    let (max, why) = if i.max >= need.saturating_mul(2) && i.max <= bound {
        (
            i.max,
            format!("holds twice the peak ({need} entries) and fits RAM (up to {bound})"),
        )
    } else if wanted <= bound {
        (
            wanted,
            format!(
                "twice the peak of {need} entries, rounded to a power of two; RAM ({}) allows up to {bound} at {BYTES_PER_ENTRY} B each",
                human_bytes(i.mem_bytes)
            ),
        )
    } else {
        (
            bound,
            format!(
                "the peak of {need} entries needs {wanted}, more than RAM ({}) allows: capped at {bound}; shorten timeouts or NOTRACK traffic that needs no tracking",
                human_bytes(i.mem_bytes)
            ),
        )
    };
    let depth = i.depth.max(1);
    let wanted_buckets = max
        .div_ceil(depth)
        .checked_next_power_of_two()
        .unwrap_or(u64::MAX);
    // More buckets than needed cost only a little memory; keep them as
    // long as the table is not sparser than one entry per bucket when full.
    let (hashsize, depth_why) = if i.hashsize >= wanted_buckets && i.hashsize <= max {
        (
            i.hashsize,
            format!(
                "a full table averages {:.1} entries per bucket (target {depth})",
                max as f64 / i.hashsize as f64
            ),
        )
    } else {
        (
            wanted_buckets,
            format!("max / {depth}: average bucket depth {depth} when the table is full"),
        )
    };
    vec![
        Advice {
            key: "max".to_string(),
            current: i.max,
            suggested: max,
            reason: why,
        },
        Advice {
            key: "hashsize".to_string(),
            current: i.hashsize,
            suggested: hashsize,
            reason: depth_why,
        },
    ]
}

/// Timeouts worth shortening, given the current values (key, seconds).
pub fn timeouts(current: &[(String, u64)]) -> Vec<Advice> {
    let rules: [(&str, u64, u64, &str); 5] = [
        (
            "timeout.tcp.established",
            86_400,
            21_600,
            "entries orphaned by lost FIN/RST packets otherwise stay {cur}; 6h still outlives the default 2h TCP keepalive",
        ),
        (
            "timeout.tcp.time_wait",
            120,
            120,
            "TIME_WAIT entries pile up in churn; 120s is the kernel default and 2×MSL",
        ),
        (
            "timeout.tcp.close_wait",
            60,
            60,
            "half-closed connections held {cur}; 60s is the kernel default",
        ),
        (
            "timeout.tcp.fin_wait",
            120,
            120,
            "FIN_WAIT entries held {cur}; 120s is the kernel default",
        ),
        (
            "timeout.udp.stream",
            180,
            120,
            "idle UDP streams (DNS, QUIC, VPN) held {cur}; 120s is the kernel default",
        ),
    ];
    let mut out = Vec::new();
    for (key, above, suggest, why) in rules {
        if let Some((_, cur)) = current.iter().find(|(k, _)| k == key) {
            if *cur > above {
                out.push(Advice {
                    key: key.to_string(),
                    current: *cur,
                    suggested: suggest,
                    reason: why.replace("{cur}", &human_duration(*cur)),
                });
            }
        }
    }
    out
}

fn prev_pow2(n: u64) -> u64 {
    if n == 0 {
        0
    } else {
        1 << (63 - n.leading_zeros())
    }
}

/// `25769803776` → `24.0 GiB`.
pub fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// Total RAM from `/proc/meminfo` (`MemTotal: N kB`).
pub fn mem_total(meminfo: &str) -> Option<u64> {
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map(|kb| kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1 << 30;

    #[test]
    fn ram_bound_follows_the_rules() {
        // 24 GiB: 65,536 per GiB = 1,572,864; 1/16 of RAM / 320 B = 5.0M.
        assert_eq!(ram_bound(24 * GIB), 1 << 20);
        // 1 GiB: 65,536 per GiB.
        assert_eq!(ram_bound(GIB), 65_536);
        assert_eq!(ram_bound(0), MIN_MAX);
    }

    #[test]
    fn sizing_doubles_the_peak_within_ram() {
        let a = sizing(&Inputs {
            mem_bytes: 24 * GIB,
            count: 10_000,
            peak: 300_000,
            max: 262_144,
            hashsize: 65_536,
            depth: 4,
        });
        assert_eq!(a[0].suggested, 1 << 20);
        assert_eq!(a[1].suggested, 1 << 18);
        // Already big enough: keep it.
        let a = sizing(&Inputs {
            mem_bytes: 24 * GIB,
            count: 1000,
            peak: 1000,
            max: 262_144,
            hashsize: 65_536,
            depth: 4,
        });
        assert!(!a[0].changes());
        assert!(!a[1].changes());
        // More than RAM allows: capped, and says so.
        let a = sizing(&Inputs {
            mem_bytes: 2 * GIB,
            count: 900_000,
            peak: 900_000,
            max: 262_144,
            hashsize: 65_536,
            depth: 8,
        });
        assert_eq!(a[0].suggested, 131_072);
        assert!(a[0].reason.contains("capped"));
        assert_eq!(a[1].suggested, 65_536, "enough buckets already: kept");
    }

    #[test]
    fn timeouts_flag_five_day_established() {
        let t = timeouts(&[
            ("timeout.tcp.established".to_string(), 432_000),
            ("timeout.tcp.time_wait".to_string(), 120),
        ]);
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].suggested, 21_600);
        assert!(t[0].reason.contains("5d"));
    }

    #[test]
    fn meminfo() {
        assert_eq!(
            mem_total("MemTotal:       24590564 kB\nMemFree: 1 kB\n"),
            Some(24_590_564 * 1024)
        );
        assert_eq!(human_bytes(24 * GIB), "24.0 GiB");
    }
}
