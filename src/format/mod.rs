//! Languages read and written: conntrack(8)'s command line
//! ([`conntrack8`]). Pure: no sockets, no files.

pub mod conntrack8;
