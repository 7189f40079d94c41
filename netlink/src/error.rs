//! Errors of the wire layer: malformed kernel data ([`DecodeError`]) and
//! failed operations ([`Error`]), which keep the kernel errno.

use std::fmt;
use std::io;

/// The deepest attribute nesting ctnetlink uses is four levels
/// (`CTA_TUPLE_MASTER/CTA_TUPLE_PROTO/CTA_PROTO_SRC_PORT` plus the message).
const MAX_DEPTH: usize = 6;

/// Where in a message a decoding problem was found, outermost first, e.g.
/// `CTA_TUPLE_ORIG/CTA_TUPLE_IP/CTA_IP_V4_SRC`. Kept inline (no allocation)
/// so building one on an error path cannot fail.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct AttrPath {
    names: [&'static str; MAX_DEPTH],
    len: u8,
}

impl AttrPath {
    /// An empty path (the message itself).
    pub const fn root() -> Self {
        AttrPath {
            names: [""; MAX_DEPTH],
            len: 0,
        }
    }

    /// The path with `name` added as the new outermost segment.
    pub fn within(mut self, name: &'static str) -> Self {
        let len = self.len as usize;
        if len < MAX_DEPTH {
            self.names.copy_within(0..len, 1);
            self.names[0] = name;
            self.len += 1;
        }
        self
    }

    /// The segments, outermost first.
    pub fn segments(&self) -> &[&'static str] {
        &self.names[..self.len as usize]
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.len == 0 {
            return f.write_str("message");
        }
        for (i, name) in self.segments().iter().enumerate() {
            if i > 0 {
                f.write_str("/")?;
            }
            f.write_str(name)?;
        }
        Ok(())
    }
}

impl fmt::Debug for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// What was wrong with the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeErrorKind {
    /// A known attribute whose payload has the wrong size.
    BadLength {
        /// The size the attribute has.
        expected: usize,
        /// The size received.
        got: usize,
    },
    /// An attribute or message header that runs past the end of its buffer.
    Truncated,
    /// A string attribute that is not UTF-8 or not NUL-terminated.
    BadString,
    /// A message header that cannot be right (length smaller than the header).
    BadHeader,
}

impl fmt::Display for DecodeErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeErrorKind::BadLength { expected, got } => {
                write!(f, "payload of {got} bytes, expected {expected}")
            }
            DecodeErrorKind::Truncated => f.write_str("truncated"),
            DecodeErrorKind::BadString => f.write_str("not a NUL-terminated UTF-8 string"),
            DecodeErrorKind::BadHeader => f.write_str("malformed header"),
        }
    }
}

/// Malformed kernel data: what was wrong and at which attribute.
///
/// Boxed, so that decoding results stay small on the hot path; errors are
/// rare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(Box<Inner>);

#[derive(Debug, Clone, PartialEq, Eq)]
struct Inner {
    kind: DecodeErrorKind,
    path: AttrPath,
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "malformed ctnetlink data at {}: {}",
            self.0.path, self.0.kind
        )
    }
}

impl std::error::Error for DecodeError {}

impl DecodeError {
    /// An error at the attribute named `name`.
    #[cold]
    pub fn at(name: &'static str, kind: DecodeErrorKind) -> Self {
        DecodeError(Box::new(Inner {
            kind,
            path: AttrPath::root().within(name),
        }))
    }

    /// An error in the message itself (outside any attribute).
    #[cold]
    pub fn message(kind: DecodeErrorKind) -> Self {
        DecodeError(Box::new(Inner {
            kind,
            path: AttrPath::root(),
        }))
    }

    /// The same error, seen from the enclosing attribute `name`.
    #[cold]
    pub fn within(mut self, name: &'static str) -> Self {
        self.0.path = self.0.path.within(name);
        self
    }

    /// What was wrong.
    pub fn kind(&self) -> DecodeErrorKind {
        self.0.kind
    }

    /// Where: the attribute path, outermost first.
    pub fn path(&self) -> &AttrPath {
        &self.0.path
    }
}

/// Adds the enclosing attribute's name to a decoding error.
pub trait Within<T> {
    /// The error with `name` added as the enclosing attribute.
    ///
    /// # Errors
    ///
    /// The same error with `name` added to its attribute path.
    fn within(self, name: &'static str) -> Result<T, DecodeError>;
}

impl<T> Within<T> for Result<T, DecodeError> {
    #[inline]
    fn within(self, name: &'static str) -> Result<T, DecodeError> {
        self.map_err(|e| e.within(name))
    }
}

/// An operation that failed: the socket call, the kernel's answer, or the
/// bytes it sent. Every variant names the operation (`dump`, `get`,
/// `stats`, ...), and kernel errors keep the errno.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A system call on the netlink socket failed.
    #[error("{op}: {}", io_text(error))]
    Io {
        /// The operation.
        op: &'static str,
        /// The system call's error (shown in the message, so not a
        /// `source()`: error chains would print it twice).
        error: io::Error,
    },
    /// The kernel answered the request with an error (`NLMSG_ERROR`).
    #[error("{op}: {}", errno_text(*errno))]
    Kernel {
        /// The operation.
        op: &'static str,
        /// The errno, positive.
        errno: i32,
    },
    /// The kernel sent bytes we cannot decode.
    #[error("{op}: {error}")]
    Decode {
        /// The operation.
        op: &'static str,
        /// What was malformed (shown in the message).
        error: DecodeError,
    },

    /// The kernel sent something that does not fit the conversation
    /// (a reply to another request, a truncated datagram).
    #[error("{op}: {what}")]
    Protocol {
        /// The operation.
        op: &'static str,
        /// What did not fit.
        what: &'static str,
    },
}

impl Error {
    /// The errno behind this error, from the kernel or the system call.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::Kernel { errno, .. } => Some(*errno),
            Error::Io { error, .. } => error.raw_os_error(),
            _ => None,
        }
    }

    /// The operation that failed.
    pub fn op(&self) -> &'static str {
        match self {
            Error::Io { op, .. }
            | Error::Kernel { op, .. }
            | Error::Decode { op, .. }
            | Error::Protocol { op, .. } => op,
        }
    }

    pub(crate) fn io(op: &'static str) -> impl FnOnce(io::Error) -> Error {
        move |error| Error::Io { op, error }
    }

    /// For `map_err`: a decoding error during operation `op`.
    pub fn decode(op: &'static str) -> impl FnOnce(DecodeError) -> Error {
        move |error| Error::Decode { op, error }
    }
}

fn io_text(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(errno) => errno_text(errno),
        None => e.to_string(),
    }
}

/// `strerror` text plus the symbolic name, e.g. `No such file or directory (ENOENT)`.
pub fn errno_text(errno: i32) -> String {
    let text = io::Error::from_raw_os_error(errno).to_string();
    // io::Error's text ends in " (os error N)"; keep only the description.
    let text = match text.find(" (os error") {
        Some(i) => &text[..i],
        None => &text[..],
    };
    match errno_name(errno) {
        Some(name) => format!("{text} ({name})"),
        None => format!("{text} (errno {errno})"),
    }
}

/// The symbolic names of the errnos ctnetlink returns.
pub fn errno_name(errno: i32) -> Option<&'static str> {
    Some(match errno {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::EINTR => "EINTR",
        libc::EIO => "EIO",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::EINVAL => "EINVAL",
        libc::ENOSPC => "ENOSPC",
        libc::ERANGE => "ERANGE",
        libc::EAGAIN => "EAGAIN",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::ENOBUFS => "ENOBUFS",
        libc::EPROTONOSUPPORT => "EPROTONOSUPPORT",
        libc::EAFNOSUPPORT => "EAFNOSUPPORT",
        libc::EMSGSIZE => "EMSGSIZE",
        libc::ETIME => "ETIME",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_reads_outermost_first() {
        let e = DecodeError::at("CTA_IP_V4_SRC", DecodeErrorKind::Truncated)
            .within("CTA_TUPLE_IP")
            .within("CTA_TUPLE_ORIG");
        assert_eq!(
            e.path().to_string(),
            "CTA_TUPLE_ORIG/CTA_TUPLE_IP/CTA_IP_V4_SRC"
        );
        assert_eq!(
            e.to_string(),
            "malformed ctnetlink data at CTA_TUPLE_ORIG/CTA_TUPLE_IP/CTA_IP_V4_SRC: truncated"
        );
    }

    #[test]
    fn kernel_error_names_errno_and_operation() {
        let e = Error::Kernel {
            op: "delete",
            errno: libc::ENOENT,
        };
        assert_eq!(e.to_string(), "delete: No such file or directory (ENOENT)");
        assert_eq!(e.errno(), Some(libc::ENOENT));
    }

    #[test]
    fn deep_paths_do_not_overflow() {
        let mut p = AttrPath::root();
        for _ in 0..20 {
            p = p.within("X");
        }
        assert_eq!(p.segments().len(), MAX_DEPTH);
    }
}
