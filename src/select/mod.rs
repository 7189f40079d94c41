//! What selects an entry: vocabulary, no sockets and no files.
//!
//! - [`criteria`]: the pieces (addresses and prefixes, value lists with
//!   negation, port ranges, status, states, NAT, idleness, age);
//! - [`values`]: their spellings on the command line, as conntrack(8)'s;
//! - [`filter`]: one selection ([`filter::Filter`]), its consistency
//!   checks, its userspace match and its kernel plan;
//! - [`set`]: an OR of filters (`--filters-from`), indexed by address;
//! - [`selection`]: the trait streaming and deleting take;
//! - [`plan`]: the classes of criteria a kernel may apply and the requests
//!   a selection becomes;
//! - [`timeouts`]: state timeouts as data, for idleness;
//! - [`conntrack8`]: the selection a conntrack(8) command line makes, as
//!   conntrack 1.4.7 makes it.
//!
//! What does not belong here: anything that reads the system (timeouts and
//! label names arrive as data), talks to the kernel, or knows a face's
//! flags.

pub mod conntrack8;
pub mod criteria;
pub mod filter;
pub mod plan;
pub mod selection;
pub mod set;
pub mod timeouts;
pub mod values;
