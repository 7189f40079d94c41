//! What the running kernel's ctnetlink can do, by version. Used to decide
//! whether a filtered flush is safe: an older kernel ignores filter
//! attributes it does not know, and a flush that ignores its filter
//! deletes everything.

use ctctl_netlink::conntrack::KernelFilter;

/// A kernel release, major and minor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct KernelVersion(pub u32, pub u32);

impl KernelVersion {
    /// The running kernel (`uname -r`), if it can be read.
    pub fn running() -> Option<KernelVersion> {
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").ok()?;
        KernelVersion::parse(&release)
    }

    /// Parses `6.18.44-foo` as 6.18.
    pub fn parse(release: &str) -> Option<KernelVersion> {
        let mut it = release.trim().split(|c: char| !c.is_ascii_digit());
        let major = it.next()?.parse().ok()?;
        let minor = it.next()?.parse().ok()?;
        Some(KernelVersion(major, minor))
    }

    /// Whether a flush (`IPCTNL_MSG_CT_DELETE` without a tuple) with this
    /// filter deletes exactly what the filter selects on this kernel:
    /// `CTA_FILTER` and the family of a flush since 5.8
    /// (`ctnetlink_flush_conntrack` with `ctnetlink_alloc_filter`),
    /// `CTA_STATUS` filtering since 5.15, `CTA_ZONE` since 6.8; the mark
    /// filter is much older.
    pub fn honours_flush_filter(self, f: &KernelFilter) -> bool {
        if (f.uses_tuple_filter() || f.family != 0) && self < KernelVersion(5, 8) {
            return false;
        }
        if f.status.is_some() && self < KernelVersion(5, 15) {
            return false;
        }
        if f.zone.is_some() && self < KernelVersion(6, 8) {
            return false;
        }
        if f.mark.is_some() && self < KernelVersion(4, 1) {
            return false;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_gate() {
        assert_eq!(
            KernelVersion::parse("6.18.44-fc-v669\n"),
            Some(KernelVersion(6, 18))
        );
        assert_eq!(KernelVersion::parse("5.4.0"), Some(KernelVersion(5, 4)));
        assert_eq!(KernelVersion::parse("garbage"), None);
        let zone = KernelFilter {
            zone: Some(1),
            ..KernelFilter::default()
        };
        assert!(KernelVersion(6, 8).honours_flush_filter(&zone));
        assert!(!KernelVersion(6, 7).honours_flush_filter(&zone));
        let fam = KernelFilter {
            family: 10,
            ..KernelFilter::default()
        };
        assert!(!KernelVersion(5, 4).honours_flush_filter(&fam));
    }
}
