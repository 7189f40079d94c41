//! What selects an entry. [`conntrack8`]: the selection a conntrack(8)
//! command line makes, as conntrack 1.4.7 makes it.

pub mod conntrack8;
