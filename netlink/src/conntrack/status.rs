//! Connection status bits (`CTA_STATUS`), from `enum ip_conntrack_status` in
//! `linux/netfilter/nf_conntrack_common.h`.

use std::fmt;

/// The status bitmask of a connection.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Status(pub u32);

impl Status {
    /// `IPS_EXPECTED`: an expected (related) connection.
    pub const EXPECTED: Status = Status(1 << 0);
    /// `IPS_SEEN_REPLY`: packets seen in both directions.
    pub const SEEN_REPLY: Status = Status(1 << 1);
    /// `IPS_ASSURED`: not dropped early when the table is full.
    pub const ASSURED: Status = Status(1 << 2);
    /// `IPS_CONFIRMED`: in the hash table.
    pub const CONFIRMED: Status = Status(1 << 3);
    /// `IPS_SRC_NAT`: source NAT applies.
    pub const SRC_NAT: Status = Status(1 << 4);
    /// `IPS_DST_NAT`: destination NAT applies.
    pub const DST_NAT: Status = Status(1 << 5);
    /// `IPS_SEQ_ADJUST`: TCP sequence numbers are adjusted.
    pub const SEQ_ADJUST: Status = Status(1 << 6);
    /// `IPS_SRC_NAT_DONE`: source NAT set up.
    pub const SRC_NAT_DONE: Status = Status(1 << 7);
    /// `IPS_DST_NAT_DONE`: destination NAT set up.
    pub const DST_NAT_DONE: Status = Status(1 << 8);
    /// `IPS_DYING`: being destroyed.
    pub const DYING: Status = Status(1 << 9);
    /// `IPS_FIXED_TIMEOUT`: the timeout is not refreshed by packets.
    pub const FIXED_TIMEOUT: Status = Status(1 << 10);
    /// `IPS_TEMPLATE`: a template (CT target), not a connection.
    pub const TEMPLATE: Status = Status(1 << 11);
    /// `IPS_NAT_CLASH` (bit 12, called `IPS_UNTRACKED` before Linux 5.6).
    pub const NAT_CLASH: Status = Status(1 << 12);
    /// `IPS_HELPER`: the helper was assigned explicitly.
    pub const HELPER: Status = Status(1 << 13);
    /// `IPS_OFFLOAD`: offloaded to the flow table.
    pub const OFFLOAD: Status = Status(1 << 14);
    /// `IPS_HW_OFFLOAD`: offloaded to hardware.
    pub const HW_OFFLOAD: Status = Status(1 << 15);

    /// Every named bit with its name, lowest bit first.
    pub const NAMES: [(Status, &'static str); 16] = [
        (Status::EXPECTED, "EXPECTED"),
        (Status::SEEN_REPLY, "SEEN_REPLY"),
        (Status::ASSURED, "ASSURED"),
        (Status::CONFIRMED, "CONFIRMED"),
        (Status::SRC_NAT, "SRC_NAT"),
        (Status::DST_NAT, "DST_NAT"),
        (Status::SEQ_ADJUST, "SEQ_ADJUST"),
        (Status::SRC_NAT_DONE, "SRC_NAT_DONE"),
        (Status::DST_NAT_DONE, "DST_NAT_DONE"),
        (Status::DYING, "DYING"),
        (Status::FIXED_TIMEOUT, "FIXED_TIMEOUT"),
        (Status::TEMPLATE, "TEMPLATE"),
        (Status::NAT_CLASH, "NAT_CLASH"),
        (Status::HELPER, "HELPER"),
        (Status::OFFLOAD, "OFFLOAD"),
        (Status::HW_OFFLOAD, "HW_OFFLOAD"),
    ];

    /// Whether every bit of `other` is set.
    #[inline]
    pub const fn contains(self, other: Status) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether any bit of `other` is set.
    #[inline]
    pub const fn intersects(self, other: Status) -> bool {
        self.0 & other.0 != 0
    }

    /// The bit called `name` (case-insensitive; `UNTRACKED` is accepted for
    /// bit 12).
    pub fn from_name(name: &str) -> Option<Status> {
        if name.eq_ignore_ascii_case("UNTRACKED") {
            return Some(Status::NAT_CLASH);
        }
        Status::NAMES
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(name))
            .map(|(s, _)| *s)
    }

    /// The names of the bits that are set, lowest first; unnamed bits are
    /// left out.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Status::NAMES
            .into_iter()
            .filter(move |(bit, _)| self.contains(*bit))
            .map(|(_, name)| name)
    }
}

impl std::ops::BitOr for Status {
    type Output = Status;
    fn bitor(self, rhs: Status) -> Status {
        Status(self.0 | rhs.0)
    }
}

impl std::ops::BitOrAssign for Status {
    fn bitor_assign(&mut self, rhs: Status) {
        self.0 |= rhs.0;
    }
}

impl fmt::Debug for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Status({:#x}: ", self.0)?;
        for (i, n) in self.names().enumerate() {
            if i > 0 {
                f.write_str("|")?;
            }
            f.write_str(n)?;
        }
        f.write_str(")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for (bit, name) in Status::NAMES {
            assert_eq!(Status::from_name(name), Some(bit));
            assert_eq!(Status::from_name(&name.to_lowercase()), Some(bit));
        }
        let s = Status::SEEN_REPLY | Status::ASSURED | Status::CONFIRMED;
        assert_eq!(
            s.names().collect::<Vec<_>>(),
            ["SEEN_REPLY", "ASSURED", "CONFIRMED"]
        );
        assert!(Status::from_name("BOGUS").is_none());
    }
}
