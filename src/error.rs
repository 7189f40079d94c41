//! Errors of the domain API.

use std::path::PathBuf;

use crate::netns::NetnsError;
use crate::select::criteria::FilterError;

/// Anything a ctctl operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A netlink operation failed (keeps the kernel errno and the operation).
    #[error(transparent)]
    Netlink(#[from] ctctl_netlink::Error),
    /// A network namespace could not be entered.
    #[error(transparent)]
    Netns(#[from] NetnsError),
    /// A filter value that does not parse or contradicts another.
    #[error(transparent)]
    Filter(#[from] FilterError),
    /// A file under /proc or /sys could not be read or written.
    #[error("{path}: {error}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        error: std::io::Error,
    },
    /// The kernel probe could not run or its verdict could not be kept.
    #[error("{0}")]
    Probe(String),
    /// An operation that changes every entry the kernel selects was asked
    /// for a filter the running kernel was not proved to apply exactly.
    #[error(
        "{0} with this filter: the kernel would also touch entries outside it (it was not proved to apply every criterion here; `ctctl probe` shows what it applies)"
    )]
    NotExact(&'static str),
}

impl Error {
    /// The errno behind the error, if there is one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::Netlink(e) => e.errno(),
            Error::File { error, .. } => error.raw_os_error(),
            _ => None,
        }
    }
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
