//! A compact open-addressing hash map for the live table's per-entry and
//! per-value state: keys and values in two flat arrays (no per-slot
//! padding, no per-entry allocation), linear probing, backward-shift
//! deletion, a load factor of at most 0.8 and growth by half. At a million
//! entries the identity set (`u64` keys, `u16` values) costs 10 bytes a
//! slot, 12.5 to 19 bytes an entry, where a `std` `HashMap<u64, u16>`
//! costs 17 bytes a slot at a power-of-two capacity (up to 34 an entry).

/// A key of a [`Map`]: a value it never holds marks empty slots.
pub trait Key: Copy + Eq {
    /// The sentinel of empty slots (never inserted).
    const EMPTY: Self;
    /// A well-mixed hash of the key.
    fn hash(self) -> u64;
}

const MIX: u64 = 0x9e37_79b9_7f4a_7c15;

impl Key for u64 {
    const EMPTY: u64 = u64::MAX;
    #[inline]
    fn hash(self) -> u64 {
        (self ^ (self >> 29)).wrapping_mul(MIX)
    }
}

impl Key for u32 {
    /// 255.255.255.255 is never a connection's source or destination.
    const EMPTY: u32 = u32::MAX;
    #[inline]
    fn hash(self) -> u64 {
        u64::from(self).wrapping_mul(MIX)
    }
}

impl Key for u128 {
    const EMPTY: u128 = u128::MAX;
    #[inline]
    fn hash(self) -> u64 {
        let x = (self as u64) ^ ((self >> 64) as u64).rotate_left(31);
        (x ^ (x >> 29)).wrapping_mul(MIX)
    }
}

/// See the module docs.
#[derive(Debug, Clone)]
pub struct Map<K, V> {
    keys: Vec<K>,
    vals: Vec<V>,
    len: usize,
}

impl<K: Key, V: Copy + Default> Default for Map<K, V> {
    fn default() -> Self {
        Map::new()
    }
}

impl<K: Key, V: Copy + Default> Map<K, V> {
    /// An empty map (no allocation until the first insert).
    pub fn new() -> Self {
        Map {
            keys: Vec::new(),
            vals: Vec::new(),
            len: 0,
        }
    }

    /// A map with room for `n` entries before it grows.
    pub fn with_capacity(n: usize) -> Self {
        let mut m = Map::new();
        m.reserve(n);
        m
    }

    /// Entries.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes of the two arrays.
    pub fn heap_bytes(&self) -> usize {
        self.keys.capacity() * std::mem::size_of::<K>()
            + self.vals.capacity() * std::mem::size_of::<V>()
    }

    #[inline]
    fn slot(&self, k: K) -> usize {
        ((u128::from(k.hash()) * self.keys.len() as u128) >> 64) as usize
    }

    #[inline]
    fn next(&self, i: usize) -> usize {
        if i + 1 == self.keys.len() {
            0
        } else {
            i + 1
        }
    }

    /// The longest distance of a key from its home slot (a measure of
    /// clustering).
    pub fn longest_probe(&self) -> usize {
        let n = self.keys.len();
        self.keys
            .iter()
            .enumerate()
            .filter(|(_, k)| **k != K::EMPTY)
            .map(|(i, k)| (i + n - self.slot(*k)) % n)
            .max()
            .unwrap_or(0)
    }

    /// Where `k` is, or the empty slot where it would go.
    #[inline]
    fn find(&self, k: K) -> (usize, bool) {
        let mut i = self.slot(k);
        loop {
            let here = self.keys[i];
            if here == k {
                return (i, true);
            }
            if here == K::EMPTY {
                return (i, false);
            }
            i = self.next(i);
        }
    }

    /// Makes room for `n` entries in all.
    pub fn reserve(&mut self, n: usize) {
        let want = n.saturating_mul(5) / 4 + 1;
        if want > self.keys.len() {
            self.rehash(want.max(16));
        }
    }

    fn rehash(&mut self, cap: usize) {
        let keys = std::mem::replace(&mut self.keys, vec![K::EMPTY; cap]);
        let vals = std::mem::replace(&mut self.vals, vec![V::default(); cap]);
        self.len = 0;
        for (k, v) in keys.into_iter().zip(vals) {
            if k != K::EMPTY {
                self.insert(k, v);
            }
        }
    }

    /// The value of `k`.
    #[inline]
    pub fn get(&self, k: K) -> Option<V> {
        if self.len == 0 {
            return None;
        }
        match self.find(k) {
            (i, true) => Some(self.vals[i]),
            _ => None,
        }
    }

    /// Inserts or replaces; returns the value replaced.
    #[inline]
    pub fn insert(&mut self, k: K, v: V) -> Option<V> {
        debug_assert!(k != K::EMPTY, "the empty key is never inserted");
        if (self.len + 1) * 5 > self.keys.len() * 4 {
            let cap = (self.keys.len() * 3 / 2).max(16);
            self.rehash(cap);
        }
        let (i, found) = self.find(k);
        if found {
            return Some(std::mem::replace(&mut self.vals[i], v));
        }
        self.keys[i] = k;
        self.vals[i] = v;
        self.len += 1;
        None
    }

    /// A mutable reference to `k`'s value, inserted as `V::default()` when
    /// absent (one probe).
    #[inline]
    pub fn entry(&mut self, k: K) -> &mut V {
        debug_assert!(k != K::EMPTY, "the empty key is never inserted");
        if (self.len + 1) * 5 > self.keys.len() * 4 {
            let cap = (self.keys.len() * 3 / 2).max(16);
            self.rehash(cap);
        }
        let (i, found) = self.find(k);
        if !found {
            self.keys[i] = k;
            self.vals[i] = V::default();
            self.len += 1;
        }
        &mut self.vals[i]
    }

    /// A mutable reference to `k`'s value, when present.
    #[inline]
    pub fn get_mut(&mut self, k: K) -> Option<&mut V> {
        if self.len == 0 {
            return None;
        }
        match self.find(k) {
            (i, true) => Some(&mut self.vals[i]),
            _ => None,
        }
    }

    /// Removes `k`; returns its value.
    pub fn remove(&mut self, k: K) -> Option<V> {
        if self.len == 0 {
            return None;
        }
        let (mut hole, found) = self.find(k);
        if !found {
            return None;
        }
        let v = self.vals[hole];
        self.len -= 1;
        // Backward shift: later members of the cluster that may move into
        // the hole (their home is not between the hole and them) do.
        let mut j = self.next(hole);
        loop {
            let kj = self.keys[j];
            if kj == K::EMPTY {
                break;
            }
            let home = self.slot(kj);
            let between = if hole <= j {
                hole < home && home <= j
            } else {
                hole < home || home <= j
            };
            if !between {
                self.keys[hole] = kj;
                self.vals[hole] = self.vals[j];
                hole = j;
            }
            j = self.next(j);
        }
        self.keys[hole] = K::EMPTY;
        self.vals[hole] = V::default();
        Some(v)
    }

    /// Every entry, in no order.
    pub fn iter(&self) -> impl Iterator<Item = (K, V)> + '_ {
        self.keys
            .iter()
            .zip(&self.vals)
            .filter(|(k, _)| **k != K::EMPTY)
            .map(|(k, v)| (*k, *v))
    }

    /// Empties the map and frees its arrays.
    pub fn clear(&mut self) {
        *self = Map::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any sequence of inserts and removes leaves the same map as std's.
        #[test]
        fn behaves_like_a_hashmap(ops in proptest::collection::vec((0u64..200, any::<bool>(), any::<u16>()), 0..2000)) {
            let mut m: Map<u64, u16> = Map::new();
            let mut r = std::collections::HashMap::new();
            for (k, ins, v) in ops {
                if ins {
                    prop_assert_eq!(m.insert(k, v), r.insert(k, v));
                } else {
                    prop_assert_eq!(m.remove(k), r.remove(&k));
                }
                prop_assert_eq!(m.len(), r.len());
            }
            for (k, v) in &r {
                prop_assert_eq!(m.get(*k), Some(*v));
            }
            prop_assert_eq!(m.iter().count(), r.len());
        }
    }

    #[test]
    fn a_million_entries_fit_in_under_20_bytes_each() {
        let mut m: Map<u64, u16> = Map::with_capacity(1_000_000);
        for i in 0..1_000_000u64 {
            m.insert(i.wrapping_mul(0x2545_f491_4f6c_dd1d), 1);
        }
        assert_eq!(m.len(), 1_000_000);
        assert!(m.heap_bytes() < 20_000_000, "{}", m.heap_bytes());
        for i in 0..500_000u64 {
            assert_eq!(m.remove(i.wrapping_mul(0x2545_f491_4f6c_dd1d)), Some(1));
        }
        assert_eq!(m.len(), 500_000);
        assert_eq!(
            m.get(999_999u64.wrapping_mul(0x2545_f491_4f6c_dd1d)),
            Some(1)
        );
    }
}
