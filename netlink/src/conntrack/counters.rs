//! Accounting (`CTA_COUNTERS_ORIG` / `CTA_COUNTERS_REPLY`, present when
//! `nf_conntrack_acct` was on when the entry was created) and timestamps
//! (`CTA_TIMESTAMP`, when `nf_conntrack_timestamp` was on).

use super::attribute::*;
use super::tuple::skip;
use crate::attr::{Attr, AttrWriter};
use crate::error::{DecodeError, Within};

/// Packets and bytes seen in one direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Counters {
    /// Packets counted.
    pub packets: u64,
    /// Bytes counted (layer 3 and up).
    pub bytes: u64,
}

impl Counters {
    /// Decodes a counters nest; `name` is `CTA_COUNTERS_ORIG` or `_REPLY`.
    ///
    /// # Errors
    ///
    /// A [`DecodeError`](crate::error::DecodeError) naming the attribute path
    /// when the message is truncated or malformed.
    pub fn decode(outer: Attr<'_>, name: &'static str) -> Result<Counters, DecodeError> {
        let mut c = Counters::default();
        for attr in outer.nested() {
            let attr = attr.within(name)?;
            match attr.kind {
                CTA_COUNTERS_PACKETS => {
                    c.packets = attr.be64("CTA_COUNTERS_PACKETS").within(name)?
                }
                CTA_COUNTERS_BYTES => c.bytes = attr.be64("CTA_COUNTERS_BYTES").within(name)?,
                CTA_COUNTERS32_PACKETS => {
                    c.packets = attr.be32("CTA_COUNTERS32_PACKETS").within(name)? as u64
                }
                CTA_COUNTERS32_BYTES => {
                    c.bytes = attr.be32("CTA_COUNTERS32_BYTES").within(name)? as u64
                }
                CTA_COUNTERS_PAD => {}
                other => skip(name, other),
            }
        }
        Ok(c)
    }

    /// Encodes the counters as nest `kind`.
    pub fn encode(&self, w: &mut AttrWriter<'_>, kind: u16) {
        let n = w.begin_nested(kind);
        w.put_be64(CTA_COUNTERS_PACKETS, self.packets)
            .put_be64(CTA_COUNTERS_BYTES, self.bytes);
        w.end_nested(n);
    }
}

/// Start and stop time of a connection, nanoseconds since the Unix epoch
/// (`ktime_get_real_ns()` in the kernel).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Timestamp {
    /// When the entry was created.
    pub start: u64,
    /// Only set on destroy events.
    pub stop: Option<u64>,
}

impl Timestamp {
    /// Decodes `CTA_TIMESTAMP`.
    ///
    /// # Errors
    ///
    /// A [`DecodeError`](crate::error::DecodeError) naming the attribute path
    /// when the message is truncated or malformed.
    pub fn decode(outer: Attr<'_>) -> Result<Timestamp, DecodeError> {
        let mut t = Timestamp::default();
        for attr in outer.nested() {
            let attr = attr.within("CTA_TIMESTAMP")?;
            match attr.kind {
                CTA_TIMESTAMP_START => {
                    t.start = attr.be64("CTA_TIMESTAMP_START").within("CTA_TIMESTAMP")?
                }
                CTA_TIMESTAMP_STOP => {
                    t.stop = Some(attr.be64("CTA_TIMESTAMP_STOP").within("CTA_TIMESTAMP")?)
                }
                CTA_TIMESTAMP_PAD => {}
                other => skip("CTA_TIMESTAMP", other),
            }
        }
        Ok(t)
    }

    /// Encodes `CTA_TIMESTAMP`.
    pub fn encode(&self, w: &mut AttrWriter<'_>) {
        let n = w.begin_nested(CTA_TIMESTAMP);
        w.put_be64(CTA_TIMESTAMP_START, self.start);
        if let Some(stop) = self.stop {
            w.put_be64(CTA_TIMESTAMP_STOP, stop);
        }
        w.end_nested(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attr::Attrs;

    #[test]
    fn counters_with_pad_and_32bit() {
        let mut buf = Vec::new();
        let mut w = AttrWriter::new(&mut buf);
        let n = w.begin_nested(CTA_COUNTERS_ORIG);
        w.put(CTA_COUNTERS_PAD, &[]);
        w.put_be32(CTA_COUNTERS32_PACKETS, 5);
        w.put_be64(CTA_COUNTERS_BYTES, 1 << 33);
        w.end_nested(n);
        let a = Attrs::new(&buf).next().unwrap().unwrap();
        let c = Counters::decode(a, "CTA_COUNTERS_ORIG").unwrap();
        assert_eq!(
            c,
            Counters {
                packets: 5,
                bytes: 1 << 33
            }
        );
    }

    #[test]
    fn timestamp_round_trip() {
        let t = Timestamp {
            start: 1_700_000_000_123_456_789,
            stop: Some(1_700_000_100_000_000_000),
        };
        let mut buf = Vec::new();
        t.encode(&mut AttrWriter::new(&mut buf));
        let a = Attrs::new(&buf).next().unwrap().unwrap();
        assert_eq!(Timestamp::decode(a).unwrap(), t);
    }
}
