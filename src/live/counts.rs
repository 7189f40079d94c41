//! Exact counts per value (sources, destinations, destination ports), in
//! [`SHARDS`] shards a ranking pass reads one at a time, and the largest
//! values of a count ([`Top`]).

use std::net::IpAddr;

use super::compact::{Key, Map};

/// Shards of the per-value counts.
pub const SHARDS: usize = 64;

/// Exact counts per value, in [`SHARDS`] shards.
#[derive(Debug, Clone)]
pub(super) struct Tally<K> {
    pub(super) shards: Vec<Map<K, u32>>,
}

impl<K: Key> Tally<K> {
    pub(super) fn new() -> Self {
        Tally {
            shards: (0..SHARDS).map(|_| Map::new()).collect(),
        }
    }

    /// The shard: from middle bits of the hash, because a shard's map
    /// places keys by the top bits (keys sharing their top bits in one map
    /// would all crowd into one stretch of it).
    #[inline]
    pub(super) fn shard(k: K) -> usize {
        (k.hash() >> 26) as usize % SHARDS
    }

    #[inline]
    pub(super) fn add(&mut self, k: K) {
        *self.shards[Self::shard(k)].entry(k) += 1;
    }

    #[inline]
    pub(super) fn sub(&mut self, k: K) {
        let m = &mut self.shards[Self::shard(k)];
        let last = match m.get_mut(k) {
            Some(n) if *n > 1 => {
                *n -= 1;
                false
            }
            Some(_) => true,
            None => false,
        };
        if last {
            m.remove(k);
        }
    }

    pub(super) fn heap_bytes(&self) -> usize {
        self.shards.iter().map(Map::heap_bytes).sum()
    }
}

/// Counts per address, IPv4 and IPv6 apart (4 and 16 bytes a key).
#[derive(Debug, Clone)]
pub(super) struct Addrs {
    pub(super) v4: Tally<u32>,
    pub(super) v6: Tally<u128>,
}

impl Addrs {
    pub(super) fn new() -> Self {
        Addrs {
            v4: Tally::new(),
            v6: Tally::new(),
        }
    }

    pub(super) fn add(&mut self, ip: IpAddr) {
        match ip {
            IpAddr::V4(a) => self.v4.add(u32::from(a)),
            IpAddr::V6(a) => self.v6.add(u128::from(a)),
        }
    }

    pub(super) fn sub(&mut self, ip: IpAddr) {
        match ip {
            IpAddr::V4(a) => self.v4.sub(u32::from(a)),
            IpAddr::V6(a) => self.v6.sub(u128::from(a)),
        }
    }
}

/// The largest values of a tally and the sum of the rest.
#[derive(Debug, Clone, PartialEq)]
pub struct Top<K, V> {
    /// Largest first.
    pub top: Vec<(K, V)>,
    /// Everything else.
    pub other: V,
}

impl<K, V: Default> Default for Top<K, V> {
    fn default() -> Self {
        Top {
            top: Vec::new(),
            other: V::default(),
        }
    }
}
