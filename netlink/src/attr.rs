//! Netlink attributes: a borrowing iterator for decoding, big-endian value
//! readers, and a writer for building requests.
//!
//! ctnetlink attribute payloads are big-endian (network order) while the
//! netlink headers around them are in host order; the readers here are named
//! for the byte order they expect (`be16`, `be32`, `be64`) so that a call site
//! shows which one it decodes.

use netlink_packet_core::{NlaBuffer, NlasIterator, NLA_TYPE_MASK};

use crate::error::{DecodeError, DecodeErrorKind};

/// `NLA_F_NESTED`, from `linux/netlink.h`: set by the kernel on nests it
/// builds with `nla_nest_start`; it must be masked off the type.
pub const NLA_F_NESTED: u16 = 0x8000;
/// `NLA_HDRLEN`, from `linux/netlink.h`.
pub const NLA_HDRLEN: usize = 4;

/// One attribute: its type (flags masked off) and its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attr<'a> {
    /// The attribute type, with `NLA_F_NESTED` and `NLA_F_NET_BYTEORDER` masked.
    pub kind: u16,
    /// The payload, without header and padding.
    pub value: &'a [u8],
}

impl<'a> Attr<'a> {
    /// The nested attributes inside this one.
    #[inline]
    pub fn nested(&self) -> Attrs<'a> {
        Attrs::new(self.value)
    }

    /// The payload as a `u8`.
    ///
    /// # Errors
    ///
    /// A [`DecodeError`](crate::error::DecodeError) when the attribute is
    /// truncated or has the wrong length for its type.
    #[inline]
    pub fn u8(&self, name: &'static str) -> Result<u8, DecodeError> {
        Ok(fixed::<1>(self.value, name)?[0])
    }

    /// The payload as a big-endian `u16`.
    ///
    /// # Errors
    ///
    /// A [`DecodeError`](crate::error::DecodeError) when the attribute is
    /// truncated or has the wrong length for its type.
    #[inline]
    pub fn be16(&self, name: &'static str) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(fixed::<2>(self.value, name)?))
    }

    /// The payload as a big-endian `u32`.
    ///
    /// # Errors
    ///
    /// A [`DecodeError`](crate::error::DecodeError) when the attribute is
    /// truncated or has the wrong length for its type.
    #[inline]
    pub fn be32(&self, name: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(fixed::<4>(self.value, name)?))
    }

    /// The payload as a big-endian `u64`.
    ///
    /// # Errors
    ///
    /// A [`DecodeError`](crate::error::DecodeError) when the attribute is
    /// truncated or has the wrong length for its type.
    #[inline]
    pub fn be64(&self, name: &'static str) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(fixed::<8>(self.value, name)?))
    }

    /// The payload as exactly `N` bytes (addresses, flag pairs).
    ///
    /// # Errors
    ///
    /// A [`DecodeError`](crate::error::DecodeError) when the attribute is
    /// truncated or has the wrong length for its type.
    #[inline]
    pub fn array<const N: usize>(&self, name: &'static str) -> Result<[u8; N], DecodeError> {
        fixed::<N>(self.value, name)
    }

    /// The payload as a NUL-terminated string (`nla_put_string`).
    ///
    /// # Errors
    ///
    /// A [`DecodeError`](crate::error::DecodeError) when the attribute is
    /// truncated or has the wrong length for its type.
    pub fn string(&self, name: &'static str) -> Result<&'a str, DecodeError> {
        let bytes = match self.value.iter().position(|&b| b == 0) {
            Some(end) => &self.value[..end],
            None => return Err(DecodeError::at(name, DecodeErrorKind::BadString)),
        };
        std::str::from_utf8(bytes).map_err(|_| DecodeError::at(name, DecodeErrorKind::BadString))
    }
}

#[inline]
fn fixed<const N: usize>(value: &[u8], name: &'static str) -> Result<[u8; N], DecodeError> {
    value.try_into().map_err(|_| {
        DecodeError::at(
            name,
            DecodeErrorKind::BadLength {
                expected: N,
                got: value.len(),
            },
        )
    })
}

/// Iterates over the attributes in a buffer without copying them.
///
/// A header that runs past the buffer yields one `Truncated` error and ends
/// the iteration; the caller adds the enclosing attribute's name.
#[derive(Debug, Clone)]
pub struct Attrs<'a> {
    inner: NlasIterator<&'a [u8]>,
}

impl<'a> Attrs<'a> {
    /// The attributes in `buf` (a message payload after its fixed header, or
    /// a nested attribute's payload).
    #[inline]
    pub fn new(buf: &'a [u8]) -> Self {
        Attrs {
            inner: NlasIterator::new(buf),
        }
    }
}

impl<'a> Iterator for Attrs<'a> {
    type Item = Result<Attr<'a>, DecodeError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let nla: NlaBuffer<&'a [u8]> = match self.inner.next()? {
            Ok(nla) => nla,
            Err(_) => return Some(Err(DecodeError::message(DecodeErrorKind::Truncated))),
        };
        let kind = nla.kind() & NLA_TYPE_MASK;
        let len = nla.length() as usize;
        let buf = nla.into_inner();
        Some(Ok(Attr {
            kind,
            value: &buf[NLA_HDRLEN..len],
        }))
    }
}

/// Rounds `len` up to the 4-byte netlink alignment.
#[inline]
pub const fn align(len: usize) -> usize {
    (len + 3) & !3
}

/// Appends attributes to a message under construction.
///
/// Values are written big-endian (`put_be16`, `put_be32`, `put_be64`) as
/// ctnetlink expects; nests are opened with [`AttrWriter::begin_nested`] and
/// closed with [`AttrWriter::end_nested`], which patches the length.
#[derive(Debug)]
pub struct AttrWriter<'b> {
    buf: &'b mut Vec<u8>,
}

/// An open nest: where its header starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "a nest must be closed with end_nested"]
pub struct Nest(usize);

impl<'b> AttrWriter<'b> {
    /// Writes into `buf`, appending.
    pub fn new(buf: &'b mut Vec<u8>) -> Self {
        AttrWriter { buf }
    }

    /// The buffer written so far.
    pub fn buffer(&self) -> &[u8] {
        self.buf
    }

    /// Appends an attribute with an arbitrary payload.
    pub fn put(&mut self, kind: u16, value: &[u8]) -> &mut Self {
        let len = NLA_HDRLEN + value.len();
        // Netlink attribute lengths are u16. Inputs are bounded before they
        // get here (request::check_create); a wrapped length would make the
        // kernel parse the payload as attributes, so never send one.
        assert!(len <= u16::MAX as usize, "netlink attribute of {len} bytes");
        self.buf.extend_from_slice(&(len as u16).to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(value);
        self.buf.resize(align(self.buf.len()), 0);
        self
    }

    /// Appends a `u8` attribute.
    pub fn put_u8(&mut self, kind: u16, value: u8) -> &mut Self {
        self.put(kind, &[value])
    }

    /// Appends a big-endian `u16` attribute.
    pub fn put_be16(&mut self, kind: u16, value: u16) -> &mut Self {
        self.put(kind, &value.to_be_bytes())
    }

    /// Appends a big-endian `u32` attribute.
    pub fn put_be32(&mut self, kind: u16, value: u32) -> &mut Self {
        self.put(kind, &value.to_be_bytes())
    }

    /// Appends a `u32` attribute in host byte order: the few ctnetlink
    /// attributes the kernel reads with `nla_get_u32` (the `CTA_FILTER`
    /// flags) are not big-endian.
    pub fn put_u32_host(&mut self, kind: u16, value: u32) -> &mut Self {
        self.put(kind, &value.to_ne_bytes())
    }

    /// Appends a big-endian `u64` attribute.
    pub fn put_be64(&mut self, kind: u16, value: u64) -> &mut Self {
        self.put(kind, &value.to_be_bytes())
    }

    /// Appends a NUL-terminated string attribute.
    pub fn put_string(&mut self, kind: u16, value: &str) -> &mut Self {
        let start = self.buf.len();
        let len = NLA_HDRLEN + value.len() + 1;
        self.buf.extend_from_slice(&(len as u16).to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(value.as_bytes());
        self.buf.push(0);
        self.buf.resize(align(self.buf.len()), 0);
        debug_assert!(self.buf.len() >= start + len);
        self
    }

    /// Opens a nested attribute (`NLA_F_NESTED` set, as the kernel's
    /// `nla_nest_start` does).
    pub fn begin_nested(&mut self, kind: u16) -> Nest {
        let start = self.buf.len();
        self.buf.extend_from_slice(&[0, 0]);
        self.buf
            .extend_from_slice(&(kind | NLA_F_NESTED).to_ne_bytes());
        Nest(start)
    }

    /// Closes a nest opened by [`AttrWriter::begin_nested`].
    pub fn end_nested(&mut self, nest: Nest) -> &mut Self {
        let len = (self.buf.len() - nest.0) as u16;
        self.buf[nest.0..nest.0 + 2].copy_from_slice(&len.to_ne_bytes());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_and_reads_back() {
        let mut buf = Vec::new();
        let mut w = AttrWriter::new(&mut buf);
        w.put_u8(1, 6).put_be16(2, 443).put_be32(3, 0xdead_beef);
        let n = w.begin_nested(4);
        w.put_be64(1, 42).put_string(2, "ftp");
        w.end_nested(n);
        let attrs: Vec<_> = Attrs::new(&buf).collect::<Result<_, _>>().unwrap();
        assert_eq!(attrs.len(), 4);
        assert_eq!(attrs[0].u8("a").unwrap(), 6);
        assert_eq!(attrs[1].be16("b").unwrap(), 443);
        assert_eq!(attrs[2].be32("c").unwrap(), 0xdead_beef);
        assert_eq!(attrs[3].kind, 4, "NLA_F_NESTED is masked off");
        let inner: Vec<_> = attrs[3].nested().collect::<Result<_, _>>().unwrap();
        assert_eq!(inner[0].be64("d").unwrap(), 42);
        assert_eq!(inner[1].string("e").unwrap(), "ftp");
    }

    #[test]
    fn wrong_length_is_an_error_naming_the_attribute() {
        let mut buf = Vec::new();
        AttrWriter::new(&mut buf).put(1, &[1, 2, 3]);
        let a = Attrs::new(&buf).next().unwrap().unwrap();
        let e = a.be32("CTA_MARK").unwrap_err();
        assert_eq!(e.path().to_string(), "CTA_MARK");
        assert_eq!(
            e.kind(),
            DecodeErrorKind::BadLength {
                expected: 4,
                got: 3
            }
        );
    }

    #[test]
    fn truncated_header_ends_iteration_with_one_error() {
        let buf = [20u8, 0, 1, 0, 0, 0];
        let mut it = Attrs::new(&buf);
        assert!(it.next().unwrap().is_err());
        assert!(it.next().is_none());
    }

    #[test]
    fn string_without_nul_is_rejected() {
        let mut buf = Vec::new();
        AttrWriter::new(&mut buf).put(1, b"abcd");
        let a = Attrs::new(&buf).next().unwrap().unwrap();
        assert!(a.string("CTA_HELP_NAME").is_err());
    }
}
