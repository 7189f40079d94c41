//! Table statistics: `IPCTNL_MSG_CT_GET_STATS` (entry count and maximum) and
//! `IPCTNL_MSG_CT_GET_STATS_CPU` (per-CPU counters, as `conntrack -S`).

use crate::attr::Attrs;
use crate::conntrack::attribute::*;
use crate::conntrack::tuple::skip;
use crate::error::{DecodeError, Within};
use crate::header::Message;

/// `ctnetlink_stat_ct`: entries in this network namespace, and the global
/// `nf_conntrack_max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GlobalStats {
    /// Entries in this network namespace.
    pub entries: u32,
    /// The global `nf_conntrack_max`.
    pub max_entries: Option<u32>,
}

impl GlobalStats {
    /// Decodes a `GET_STATS` reply.
    ///
    /// # Errors
    ///
    /// A [`DecodeError`](crate::error::DecodeError) when the message is
    /// truncated or malformed; the kernel's error when it refuses the request.
    pub fn decode(msg: &Message<'_>) -> Result<GlobalStats, DecodeError> {
        let (_, attrs) = msg.netfilter()?;
        let mut s = GlobalStats::default();
        for attr in Attrs::new(attrs) {
            let attr = attr?;
            match attr.kind {
                CTA_STATS_GLOBAL_ENTRIES => s.entries = attr.be32("CTA_STATS_GLOBAL_ENTRIES")?,
                CTA_STATS_GLOBAL_MAX_ENTRIES => {
                    s.max_entries = Some(attr.be32("CTA_STATS_GLOBAL_MAX_ENTRIES")?)
                }
                other => skip("GET_STATS", other),
            }
        }
        Ok(s)
    }
}

/// One CPU's conntrack counters (`ctnetlink_ct_stat_cpu_fill_info`).
/// Counters the kernel no longer maintains (searched, new, delete, ...)
/// are not kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CpuStats {
    /// The CPU number (`nfgenmsg.res_id`).
    pub cpu: u16,
    /// Lookups that found an entry.
    pub found: u32,
    /// Packets that could not be tracked.
    pub invalid: u32,
    /// Entries inserted.
    pub insert: u32,
    /// Inserts that failed (clashes).
    pub insert_failed: u32,
    /// Packets dropped because the table was full.
    pub drop: u32,
    /// Entries dropped early to make room.
    pub early_drop: u32,
    /// ICMP errors that matched no entry, and other errors.
    pub error: u32,
    /// Lookups restarted because of a concurrent resize.
    pub search_restart: u32,
    /// Insert clashes resolved.
    pub clash_resolve: u32,
    /// Hash chains found too long.
    pub chaintoolong: u32,
}

impl CpuStats {
    /// The counters with their names as `conntrack -S` prints them.
    pub fn fields(&self) -> [(&'static str, u32); 10] {
        [
            ("found", self.found),
            ("invalid", self.invalid),
            ("insert", self.insert),
            ("insert_failed", self.insert_failed),
            ("drop", self.drop),
            ("early_drop", self.early_drop),
            ("error", self.error),
            ("search_restart", self.search_restart),
            ("clash_resolve", self.clash_resolve),
            ("chaintoolong", self.chaintoolong),
        ]
    }

    /// Adds another CPU's counters to these.
    pub fn add(&mut self, o: &CpuStats) {
        self.found = self.found.wrapping_add(o.found);
        self.invalid = self.invalid.wrapping_add(o.invalid);
        self.insert = self.insert.wrapping_add(o.insert);
        self.insert_failed = self.insert_failed.wrapping_add(o.insert_failed);
        self.drop = self.drop.wrapping_add(o.drop);
        self.early_drop = self.early_drop.wrapping_add(o.early_drop);
        self.error = self.error.wrapping_add(o.error);
        self.search_restart = self.search_restart.wrapping_add(o.search_restart);
        self.clash_resolve = self.clash_resolve.wrapping_add(o.clash_resolve);
        self.chaintoolong = self.chaintoolong.wrapping_add(o.chaintoolong);
    }

    /// Decodes one `GET_STATS_CPU` message.
    ///
    /// # Errors
    ///
    /// A [`DecodeError`](crate::error::DecodeError) when the message is
    /// truncated or malformed; the kernel's error when it refuses the request.
    pub fn decode(msg: &Message<'_>) -> Result<CpuStats, DecodeError> {
        let (nfgen, attrs) = msg.netfilter()?;
        let mut s = CpuStats {
            cpu: nfgen.res_id,
            ..CpuStats::default()
        };
        for attr in Attrs::new(attrs) {
            let attr = attr.within("GET_STATS_CPU")?;
            let field = match attr.kind {
                CTA_STATS_FOUND => &mut s.found,
                CTA_STATS_INVALID => &mut s.invalid,
                CTA_STATS_INSERT => &mut s.insert,
                CTA_STATS_INSERT_FAILED => &mut s.insert_failed,
                CTA_STATS_DROP => &mut s.drop,
                CTA_STATS_EARLY_DROP => &mut s.early_drop,
                CTA_STATS_ERROR => &mut s.error,
                CTA_STATS_SEARCH_RESTART => &mut s.search_restart,
                CTA_STATS_CLASH_RESOLVE => &mut s.clash_resolve,
                CTA_STATS_CHAIN_TOOLONG => &mut s.chaintoolong,
                other => {
                    skip("GET_STATS_CPU", other);
                    continue;
                }
            };
            *field = attr.be32("CTA_STATS")?;
        }
        Ok(s)
    }
}
