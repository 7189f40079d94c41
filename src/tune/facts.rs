//! What a selection needs read from the network namespace before it can
//! match: label names (connlabel.conf), the state timeouts (for
//! `--idle-over`), and whether entries carry start times (for
//! `--older-than`). The faces collect flags; this reads the system once
//! the flags are known to parse.

use super::labels::LabelMap;
use crate::error::Error;
use crate::select::criteria::{AgeMatch, FilterError, IdleMatch};
use crate::select::filter::Filter;
use crate::select::timeouts::StateTimeouts;

use super::{read_u64, Paths};

/// What a filter asks of the system, beyond its parsed criteria.
#[derive(Debug, Clone, Default)]
pub struct Needs<'a> {
    /// `--label` values (bit numbers or connlabel.conf names).
    pub labels: &'a [String],
    /// `--idle-over`, in seconds.
    pub idle_over: Option<u64>,
    /// `--older-than`, in seconds.
    pub older_than: Option<u64>,
}

/// Completes `filter` with what `needs` asks, read from the calling
/// thread's network namespace under `paths`.
///
/// # Errors
///
/// When a fact the filter needs (timeouts under /proc/sys, connlabel.conf)
/// cannot be read; the error names the file.
pub fn complete(mut filter: Filter, needs: &Needs<'_>, paths: &Paths) -> Result<Filter, Error> {
    if !needs.labels.is_empty() {
        let map = LabelMap::load(paths);
        let mut bits = Vec::new();
        for l in needs.labels {
            bits.push(map.bit(l).map_err(|e| FilterError::new("labels", l, e))?);
        }
        filter.labels = Some(bits);
    }
    if let Some(over) = needs.idle_over {
        filter.idle = Some(IdleMatch {
            over: over.min(u32::MAX as u64) as u32,
            timeouts: StateTimeouts::load(paths)?,
        });
    }
    if let Some(secs) = needs.older_than {
        let on = read_u64(&paths.netfilter("nf_conntrack_timestamp"))?;
        if on != Some(1) {
            return Err(FilterError::new(
                "older_than",
                &secs.to_string(),
                "entries have no start time: nf_conntrack_timestamp is off in this network \
                 namespace (turn it on with `sysctl -w net.netfilter.nf_conntrack_timestamp=1`; \
                 entries created from then on get one)",
            )
            .into());
        }
        filter.older_than = Some(AgeMatch {
            secs,
            now_ns: crate::format::record::now_ns(),
        });
    }
    Ok(filter)
}
