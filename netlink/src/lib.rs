//! `ctctl-netlink`: the ctnetlink wire layer of ctctl.
//!
//! ctnetlink is the netlink interface to the Linux connection-tracking
//! table (`nf_conntrack`). This crate speaks it directly:
//!
//! - [`attr`]: a zero-copy attribute iterator with big-endian readers, and
//!   an attribute writer;
//! - [`header`]: `nlmsghdr` / `nfgenmsg`, message types and flags;
//! - [`conntrack`]: entries ([`conntrack::Flow`], decoded without
//!   allocating), tuples, protocol state, status, counters, kernel-side
//!   filters, request encoders and events;
//! - [`expect`]: the expectation table (helpers' expected connections):
//!   decoding, requests, per-CPU counters;
//! - [`stats`]: `GET_STATS` and `GET_STATS_CPU`;
//! - [`socket`]: a blocking socket with receive-buffer sizing and
//!   request/reply handling;
//! - [`dump`]: streaming dumps in constant memory, receiving on one thread
//!   and decoding on another.
//!
//! It has no CLI concerns; the `ctctl` crate builds the domain API and the
//! command-line tool on it.

#![warn(missing_docs, clippy::missing_errors_doc)]

pub mod attr;
pub mod bpf;
pub mod conntrack;
pub mod dump;
pub mod error;
pub mod expect;
pub mod header;
pub mod socket;
pub mod stats;
#[doc(hidden)]
pub mod testdata;

pub use error::{DecodeError, DecodeErrorKind, Error};
pub use socket::Socket;
