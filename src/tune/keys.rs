//! The tunables ctctl knows, by short key (`max`, `hashsize`,
//! `timeout.tcp.established`, `acct`, ...), with where each lives, its
//! unit, its range and whether it is global or per network namespace.
//! Timeouts are discovered from what the running kernel exposes.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use super::{read_u64, Paths};
use crate::error::Error;

/// Whether a tunable is shared by all network namespaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// One value for the whole machine, writable only from the initial
    /// network namespace (`nf_conntrack_max`, `hashsize`, `expect_max`).
    Global,
    /// One value per network namespace.
    Netns,
}

impl Scope {
    /// `global` or `netns`.
    pub fn name(self) -> &'static str {
        match self {
            Scope::Global => "global",
            Scope::Netns => "netns",
        }
    }
}

/// How values are written and read back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A number of entries.
    Entries,
    /// A number of hash buckets.
    Buckets,
    /// Seconds.
    Seconds,
    /// 0 or 1 (`on`/`off`, `true`/`false`, `yes`/`no` accepted).
    Switch,
    /// A plain number with a range (events 0-2, max_retrans, log_invalid).
    Number,
}

impl Unit {
    /// The unit's name as `ctctl config` prints it.
    pub fn name(self) -> &'static str {
        match self {
            Unit::Entries => "entries",
            Unit::Buckets => "buckets",
            Unit::Seconds => "seconds",
            Unit::Switch => "0/1",
            Unit::Number => "",
        }
    }
}

/// One tunable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    /// The short key: `max`, `hashsize`, `timeout.tcp.established`, `acct`.
    pub name: String,
    /// The sysctl name (`net.netfilter.nf_conntrack_max`), when it is one.
    pub sysctl: Option<String>,
    /// The file read and written.
    pub path: PathBuf,
    /// How values are written.
    pub unit: Unit,
    /// Global or per namespace.
    pub scope: Scope,
    /// Inclusive range of accepted values.
    pub min: u64,
    /// Largest accepted value.
    pub max: u64,
    /// `count` is read-only everywhere.
    pub read_only: bool,
    /// For global keys, the file whose write permission tells whether this
    /// namespace may write them (the kernel makes them read-only in child
    /// namespaces).
    pub writable_probe: PathBuf,
}

/// `INT_MAX / HZ` for the largest HZ: the most `proc_dointvec_jiffies` takes.
const MAX_TIMEOUT: u64 = 2_147_483;

impl Key {
    fn sysctl_key(
        paths: &Paths,
        name: &str,
        file: &str,
        unit: Unit,
        scope: Scope,
        min: u64,
        max: u64,
    ) -> Key {
        let path = paths.netfilter(file);
        Key {
            name: name.to_string(),
            sysctl: Some(format!("net.netfilter.{file}")),
            writable_probe: path.clone(),
            path,
            unit,
            scope,
            min,
            max,
            read_only: false,
        }
    }

    /// Reads the current value; `None` if this kernel lacks the tunable.
    ///
    /// # Errors
    ///
    /// When a file under /proc/sys or /sys cannot be read or written (writing
    /// needs root), or a value is out of range; the error names the file or
    /// key.
    pub fn read(&self) -> Result<Option<u64>, Error> {
        read_u64(&self.path)
    }

    /// Whether this process may write the key here (global keys are
    /// read-only outside the initial network namespace).
    pub fn writable_here(&self) -> bool {
        if self.read_only {
            return false;
        }
        match std::fs::metadata(&self.writable_probe) {
            Ok(m) => m.permissions().mode() & 0o222 != 0,
            Err(_) => false,
        }
    }

    /// Parses a value for this key: a number, a duration for timeouts
    /// (`30s`, `5m`, `5d`), `on`/`off` for switches.
    ///
    /// # Errors
    ///
    /// When a file under /proc/sys or /sys cannot be read or written (writing
    /// needs root), or a value is out of range; the error names the file or
    /// key.
    pub fn parse_value(&self, v: &str) -> Result<u64, String> {
        let v = v.trim();
        let n = match self.unit {
            Unit::Seconds => crate::select::values::parse_duration(v).map_err(|e| e.0)?,
            Unit::Switch => match v.to_ascii_lowercase().as_str() {
                "1" | "on" | "true" | "yes" => 1,
                "0" | "off" | "false" | "no" => 0,
                _ => return Err("use 0 or 1 (on/off)".to_string()),
            },
            _ => v
                .parse::<u64>()
                .map_err(|_| "not a non-negative whole number".to_string())?,
        };
        if n < self.min || n > self.max {
            return Err(format!("out of range {}..={}", self.min, self.max));
        }
        Ok(n)
    }

    /// Renders a value for display: timeouts also as a duration.
    pub fn show(&self, v: u64) -> String {
        match self.unit {
            Unit::Seconds if v >= 60 => format!("{v} ({})", human_duration(v)),
            _ => v.to_string(),
        }
    }
}

/// `432000` → `5d`, `7200` → `2h`, `90` → `1m30s`.
pub fn human_duration(secs: u64) -> String {
    let mut out = String::new();
    let mut rest = secs;
    for (unit, n) in [("d", 86400), ("h", 3600), ("m", 60), ("s", 1)] {
        if rest >= n {
            out += &format!("{}{unit}", rest / n);
            rest %= n;
        }
    }
    if out.is_empty() {
        out.push_str("0s");
    }
    out
}

/// Every tunable of the running kernel (missing ones left out).
pub fn discover(paths: &Paths) -> Vec<Key> {
    let mut keys = Vec::new();
    let buckets_probe = paths.netfilter("nf_conntrack_buckets");
    let mut max = Key::sysctl_key(
        paths,
        "max",
        "nf_conntrack_max",
        Unit::Entries,
        Scope::Global,
        1,
        i32::MAX as u64,
    );
    max.writable_probe = paths.netfilter("nf_conntrack_max");
    keys.push(max);
    keys.push(Key {
        name: "hashsize".to_string(),
        sysctl: None,
        path: paths.hashsize(),
        unit: Unit::Buckets,
        scope: Scope::Global,
        min: 1,
        max: 1 << 28,
        read_only: false,
        // The module parameter is root-writable everywhere but refused
        // outside the initial namespace; nf_conntrack_buckets is
        // read-only there, which tells.
        writable_probe: buckets_probe,
    });
    let mut count = Key::sysctl_key(
        paths,
        "count",
        "nf_conntrack_count",
        Unit::Entries,
        Scope::Netns,
        0,
        0,
    );
    count.read_only = true;
    keys.push(count);

    for (name, file, unit, scope, min, max) in [
        (
            "acct",
            "nf_conntrack_acct",
            Unit::Switch,
            Scope::Netns,
            0,
            1,
        ),
        (
            "timestamp",
            "nf_conntrack_timestamp",
            Unit::Switch,
            Scope::Netns,
            0,
            1,
        ),
        (
            "events",
            "nf_conntrack_events",
            Unit::Number,
            Scope::Netns,
            0,
            2,
        ),
        (
            "checksum",
            "nf_conntrack_checksum",
            Unit::Switch,
            Scope::Netns,
            0,
            1,
        ),
        (
            "log_invalid",
            "nf_conntrack_log_invalid",
            Unit::Number,
            Scope::Netns,
            0,
            255,
        ),
        (
            "tcp.loose",
            "nf_conntrack_tcp_loose",
            Unit::Switch,
            Scope::Netns,
            0,
            1,
        ),
        (
            "tcp.be_liberal",
            "nf_conntrack_tcp_be_liberal",
            Unit::Switch,
            Scope::Netns,
            0,
            1,
        ),
        (
            "tcp.ignore_invalid_rst",
            "nf_conntrack_tcp_ignore_invalid_rst",
            Unit::Switch,
            Scope::Netns,
            0,
            1,
        ),
        (
            "tcp.max_retrans",
            "nf_conntrack_tcp_max_retrans",
            Unit::Number,
            Scope::Netns,
            0,
            255,
        ),
        (
            "expect_max",
            "nf_conntrack_expect_max",
            Unit::Entries,
            Scope::Global,
            1,
            i32::MAX as u64,
        ),
    ] {
        let k = Key::sysctl_key(paths, name, file, unit, scope, min, max);
        if k.path.exists() {
            keys.push(k);
        }
    }

    // Timeouts: nf_conntrack_<proto>_timeout[_<state>], as this kernel has them.
    let mut timeouts: Vec<Key> = std::fs::read_dir(paths.proc_sys.join("net/netfilter"))
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().into_string().ok())
                .filter_map(|file| {
                    let rest = file.strip_prefix("nf_conntrack_")?;
                    let (proto, state) = rest.split_once("_timeout")?;
                    if proto.is_empty() || proto == "frag6" {
                        return None;
                    }
                    let name = match state.strip_prefix('_') {
                        Some(s) if !s.is_empty() => format!("timeout.{proto}.{s}"),
                        _ if state.is_empty() => format!("timeout.{proto}"),
                        _ => return None,
                    };
                    Some(Key::sysctl_key(
                        paths,
                        &name,
                        &file,
                        Unit::Seconds,
                        Scope::Netns,
                        1,
                        MAX_TIMEOUT,
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    timeouts.sort_by(|a, b| a.name.cmp(&b.name));
    keys.extend(timeouts);
    keys
}

/// Old and alternative names, mapped to today's key.
const LEGACY: &[(&str, &str)] = &[
    ("ip_conntrack_max", "max"),
    ("net.ipv4.ip_conntrack_max", "max"),
    ("net.ipv4.netfilter.ip_conntrack_max", "max"),
    ("net.nf_conntrack_max", "max"),
    ("nf_conntrack_max", "max"),
    ("conntrack_max", "max"),
    ("buckets", "hashsize"),
    ("net.netfilter.nf_conntrack_buckets", "hashsize"),
    ("nf_conntrack_buckets", "hashsize"),
    ("nf_conntrack.hashsize", "hashsize"),
];

/// A name as given, resolved to a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved<'k> {
    /// The key.
    pub key: &'k Key,
    /// Set when the name was an old or alternative one: a note to print.
    pub note: Option<String>,
}

/// Finds the key a name means: the short key, the full sysctl name
/// (`net.netfilter.nf_conntrack_tcp_timeout_time_wait`), the bare file
/// name, or a legacy name (`ip_conntrack_max`,
/// `net.ipv4.netfilter.ip_conntrack_tcp_timeout_established`).
pub fn resolve<'k>(keys: &'k [Key], name: &str) -> Option<Resolved<'k>> {
    let find = |n: &str| keys.iter().find(|k| k.name == n);
    if let Some(k) = find(name) {
        return Some(Resolved { key: k, note: None });
    }
    if let Some(k) = keys.iter().find(|k| {
        k.sysctl.as_deref() == Some(name)
            || k.sysctl
                .as_deref()
                .and_then(|s| s.strip_prefix("net.netfilter."))
                == Some(name)
    }) {
        return Some(Resolved { key: k, note: None });
    }
    let legacy = |to: &str| -> Option<Resolved<'k>> {
        let k = find(to)?;
        let now = k
            .sysctl
            .as_deref()
            .unwrap_or("/sys/module/nf_conntrack/parameters/hashsize");
        Some(Resolved {
            key: k,
            note: Some(format!("note: {name} is an old name of {} ({now})", k.name)),
        })
    };
    if let Some((_, to)) = LEGACY.iter().find(|(from, _)| *from == name) {
        return legacy(to);
    }
    // net.ipv4.netfilter.ip_conntrack_<proto>_timeout_<state> (Linux 2.6.x)
    let old = name
        .strip_prefix("net.ipv4.netfilter.ip_conntrack_")
        .or_else(|| name.strip_prefix("ip_conntrack_"))?;
    let (proto, state) = old.split_once("_timeout")?;
    let short = match state.strip_prefix('_') {
        Some(s) => format!("timeout.{proto}.{s}"),
        None => format!("timeout.{proto}"),
    };
    legacy(&short)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_tree(tag: &str) -> (PathBuf, Paths) {
        crate::tune::testing::fake_tree(
            &format!("keys-{tag}"),
            &[
                ("nf_conntrack_max", "262144"),
                ("nf_conntrack_buckets", "65536"),
                ("nf_conntrack_count", "1234"),
                ("nf_conntrack_acct", "0"),
                ("nf_conntrack_timestamp", "0"),
                ("nf_conntrack_events", "2"),
                ("nf_conntrack_tcp_timeout_established", "432000"),
                ("nf_conntrack_tcp_timeout_time_wait", "120"),
                ("nf_conntrack_udp_timeout", "30"),
                ("nf_conntrack_udp_timeout_stream", "120"),
                ("nf_conntrack_frag6_timeout", "60"),
                ("nf_conntrack_tcp_loose", "1"),
            ],
        )
    }

    #[test]
    fn discovers_keys_and_timeouts() {
        let (dir, paths) = fake_tree("discover");
        let keys = discover(&paths);
        let names: Vec<&str> = keys.iter().map(|k| k.name.as_str()).collect();
        for want in [
            "max",
            "hashsize",
            "count",
            "acct",
            "timestamp",
            "events",
            "tcp.loose",
            "timeout.tcp.established",
            "timeout.tcp.time_wait",
            "timeout.udp",
            "timeout.udp.stream",
        ] {
            assert!(names.contains(&want), "{want} missing from {names:?}");
        }
        assert!(!names.iter().any(|n| n.contains("frag6")));
        assert!(
            !names.contains(&"tcp.be_liberal"),
            "absent files are left out"
        );
        let est = resolve(&keys, "timeout.tcp.established").unwrap().key;
        assert_eq!(est.read().unwrap(), Some(432000));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn resolves_every_spelling() {
        let (dir, paths) = fake_tree("resolve");
        let keys = discover(&paths);
        for (name, want, noted) in [
            ("max", "max", false),
            ("net.netfilter.nf_conntrack_max", "max", false),
            ("nf_conntrack_max", "max", false),
            ("ip_conntrack_max", "max", true),
            ("net.ipv4.netfilter.ip_conntrack_max", "max", true),
            ("buckets", "hashsize", true),
            (
                "net.netfilter.nf_conntrack_tcp_timeout_time_wait",
                "timeout.tcp.time_wait",
                false,
            ),
            (
                "net.ipv4.netfilter.ip_conntrack_tcp_timeout_established",
                "timeout.tcp.established",
                true,
            ),
            (
                "net.netfilter.nf_conntrack_udp_timeout",
                "timeout.udp",
                false,
            ),
        ] {
            let r = resolve(&keys, name).unwrap_or_else(|| panic!("{name}"));
            assert_eq!(r.key.name, want, "{name}");
            assert_eq!(r.note.is_some(), noted, "{name}");
        }
        assert!(resolve(&keys, "bogus").is_none());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn parses_values_per_unit() {
        let (dir, paths) = fake_tree("values");
        let keys = discover(&paths);
        let k = |n: &str| resolve(&keys, n).unwrap().key.clone();
        assert_eq!(k("timeout.tcp.established").parse_value("5d"), Ok(432000));
        assert_eq!(k("timeout.tcp.time_wait").parse_value("30"), Ok(30));
        assert!(k("timeout.tcp.time_wait").parse_value("0").is_err());
        assert!(k("timeout.tcp.time_wait").parse_value("100d").is_err());
        assert_eq!(k("acct").parse_value("on"), Ok(1));
        assert!(k("acct").parse_value("2").is_err());
        assert_eq!(k("events").parse_value("2"), Ok(2));
        assert!(k("max").parse_value("-1").is_err());
        assert!(k("max").parse_value("lots").is_err());
        assert_eq!(k("hashsize").parse_value("131072"), Ok(131072));
        assert_eq!(human_duration(432000), "5d");
        assert_eq!(human_duration(5400), "1h30m");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
