//! The kernel's share of a selection: which classes of criteria a kernel
//! may be asked to select by ([`Criteria`]), and the requests a selection
//! becomes ([`KernelPlan`]). Which classes this kernel was proved to apply
//! is for `probe/` to say.

use std::fmt;

use ctctl_netlink::conntrack::KernelFilter;

/// Classes of criteria the kernel may be asked to select by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Criteria(pub u32);

impl Criteria {
    /// Nothing.
    pub const NONE: Criteria = Criteria(0);
    /// The family (`nfgenmsg`), which tuple filters also need.
    pub const FAMILY: Criteria = Criteria(1 << 0);
    /// The layer-4 protocol number.
    pub const PROTO: Criteria = Criteria(1 << 1);
    /// IPv4 addresses, original and reply.
    pub const IPV4: Criteria = Criteria(1 << 2);
    /// IPv6 addresses, original and reply.
    pub const IPV6: Criteria = Criteria(1 << 3);
    /// TCP and UDP ports.
    pub const PORTS: Criteria = Criteria(1 << 4);
    /// ICMP type, code and id.
    pub const ICMP: Criteria = Criteria(1 << 5);
    /// ICMPv6 type, code and id.
    pub const ICMPV6: Criteria = Criteria(1 << 6);
    /// Mark and mask.
    pub const MARK: Criteria = Criteria(1 << 7);
    /// Status bits and mask.
    pub const STATUS: Criteria = Criteria(1 << 8);
    /// The zone (any direction).
    pub const ZONE: Criteria = Criteria(1 << 9);
    /// Every class.
    pub const ALL: Criteria = Criteria((1 << 10) - 1);

    /// Names, as `status` and the cache print them.
    pub const NAMES: [(Criteria, &'static str); 10] = [
        (Criteria::FAMILY, "family"),
        (Criteria::PROTO, "proto"),
        (Criteria::IPV4, "ipv4-addr"),
        (Criteria::IPV6, "ipv6-addr"),
        (Criteria::PORTS, "ports"),
        (Criteria::ICMP, "icmp"),
        (Criteria::ICMPV6, "icmpv6"),
        (Criteria::MARK, "mark"),
        (Criteria::STATUS, "status"),
        (Criteria::ZONE, "zone"),
    ];

    /// Whether every class of `other` is in `self`.
    pub fn contains(self, other: Criteria) -> bool {
        self.0 & other.0 == other.0
    }

    /// `self` without the classes of `other`.
    pub fn without(self, other: Criteria) -> Criteria {
        Criteria(self.0 & !other.0)
    }

    /// Both sets.
    pub fn with(self, other: Criteria) -> Criteria {
        Criteria(self.0 | other.0)
    }

    /// The names of the classes in the set.
    pub fn names(self) -> Vec<&'static str> {
        Criteria::NAMES
            .iter()
            .filter(|(c, _)| self.contains(*c))
            .map(|(_, n)| *n)
            .collect()
    }

    /// The set of the named classes (unknown names are ignored).
    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Criteria {
        names.into_iter().fold(Criteria::NONE, |acc, n| {
            match Criteria::NAMES.iter().find(|(_, name)| *name == n) {
                Some((c, _)) => acc.with(*c),
                None => acc,
            }
        })
    }

    /// What a class needs proved before it can be used: tuple fields go in
    /// `CTA_FILTER`, which needs the family; ports and ICMP fields are
    /// compared under a protocol.
    #[allow(dead_code)]
    fn needs(self) -> Criteria {
        let mut n = Criteria::NONE;
        if self.0 & (Criteria::PROTO.0 | Criteria::IPV4.0 | Criteria::IPV6.0) != 0 {
            n = n.with(Criteria::FAMILY);
        }
        if self.0 & (Criteria::PORTS.0 | Criteria::ICMP.0 | Criteria::ICMPV6.0) != 0 {
            n = n.with(Criteria::FAMILY).with(Criteria::PROTO);
        }
        n
    }
}

impl fmt::Display for Criteria {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = self.names();
        if names.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&names.join(","))
        }
    }
}

/// The kernel's share of a selection: see [`Filter::kernel_plan`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelPlan {
    /// The requests (dump or flush), one per family when needed.
    pub filters: Vec<KernelFilter>,
    /// Whether the requests select exactly the filter's entries.
    pub exact: bool,
}
