//! Errors of the domain API: [`Error`], and the errors of a filter value
//! ([`FilterError`]) and of entering a namespace ([`NetnsError`]).

use std::io;
use std::path::PathBuf;

/// Anything a ctctl operation can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
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
    /// A value that does not parse (an address, a port range, a state name).
    #[error(transparent)]
    Value(#[from] ValueError),
    /// A file under /proc or /sys could not be read or written.
    #[error("{path}: {error}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        error: std::io::Error,
    },
    /// A flow given to create lacks what the kernel needs, or contradicts
    /// itself (named by field).
    #[error("flow to create: {field}: {reason}")]
    Flow {
        /// The field (`orig.src`, `timeout`, ...).
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The kernel probe could not run or its verdict could not be kept.
    #[error("{0}")]
    Probe(String),
    /// An operation that changes every entry the kernel selects was asked
    /// for a filter the running kernel was not proved to apply exactly.
    #[error(
        "{0} with this filter: the kernel would also touch entries outside it (this running kernel was not proved to apply every criterion here; the probe's verdicts say which it applies)"
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

/// A filter value that does not parse or contradicts another; names the
/// [`Filter`](crate::select::filter::Filter) field (`dport`, `reply_src`;
/// the CLI names its flags instead).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {field} '{value}': {reason}")]
pub struct FilterError {
    /// The field.
    pub field: &'static str,
    /// The value given.
    pub value: String,
    /// Why it does not parse.
    pub reason: String,
}

impl FilterError {
    /// An error for `field` with `value`.
    pub fn new(field: &'static str, value: &str, reason: impl Into<String>) -> Self {
        FilterError {
            field,
            value: value.to_string(),
            reason: reason.into(),
        }
    }
}

/// A namespace that could not be entered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetnsError {
    /// No namespace by that name or path.
    #[error("no network namespace '{name}' ({path} does not exist; `ip netns list` shows the named ones)")]
    NotFound {
        /// The name or path given.
        name: String,
        /// The file looked for.
        path: PathBuf,
    },
    /// Entering needs CAP_SYS_ADMIN.
    #[error("cannot enter network namespace {path}: needs CAP_SYS_ADMIN (run as root)")]
    Permission {
        /// The namespace file.
        path: PathBuf,
    },
    /// Anything else.
    #[error("cannot enter network namespace {path}: {error}")]
    Other {
        /// The namespace file.
        path: PathBuf,
        /// What went wrong.
        error: io::Error,
    },
}

/// A value that does not parse (an address, a prefix, a port range, a
/// state or status name, a number): why, in words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ValueError(pub String);

impl From<String> for ValueError {
    fn from(s: String) -> Self {
        ValueError(s)
    }
}

impl From<&str> for ValueError {
    fn from(s: &str) -> Self {
        ValueError(s.to_string())
    }
}

impl From<ValueError> for String {
    fn from(e: ValueError) -> Self {
        e.0
    }
}
