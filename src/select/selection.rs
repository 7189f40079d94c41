//! [`Selection`]: what streaming, counting and deleting need of a
//! selection, so that a [`Filter`], a [`FilterSet`](super::set::FilterSet)
//! and conntrack(8)'s selection ([`super::conntrack8`]) are accepted alike.

use ctctl_netlink::conntrack::Flow;

use super::filter::Filter;
use super::plan::{Criteria, KernelPlan};

/// What the kernel and the userspace match need to know of a selection:
/// a [`Filter`] or a [`FilterSet`], accepted wherever entries are streamed.
pub trait Selection {
    /// The userspace match.
    fn matches(&self, f: &Flow<'_>) -> bool;
    /// The kernel's share, given the criteria proved on this kernel.
    fn kernel_plan(&self, proved: Criteria) -> KernelPlan;
}

impl Selection for Filter {
    #[inline]
    fn matches(&self, f: &Flow<'_>) -> bool {
        Filter::matches(self, f)
    }

    fn kernel_plan(&self, proved: Criteria) -> KernelPlan {
        Filter::kernel_plan(self, proved)
    }
}
