//! New entries per second per value: Space-Saving summaries (a bounded
//! number of counters per window). A value's rate is overstated by at most
//! the window's new entries divided by the number of counters
//! ([`RATE_COUNTERS`]), and every value above that bound is in the summary.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};

use super::counts::Top;

/// Seconds over which new connections per second are averaged.
pub const RATE_WINDOW: u64 = 10;

/// Counters per window of the new-connection rankings.
pub const RATE_COUNTERS: usize = 256;

/// A quick hasher for the summaries' small index maps (at most 256 keys
/// each, so a crafted collision costs at most a scan of 256).
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Quick(u64);

impl Hasher for Quick {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            self.0 =
                (self.0.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(0x517c_c1b7_2722_0a95);
        }
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0 ^ (self.0 >> 29)
    }
}

pub(super) type QuickMap<K, V> = HashMap<K, V, BuildHasherDefault<Quick>>;

/// A Space-Saving summary: at most `cap` counters; a value not counted
/// takes the smallest counter over (and inherits its count as error).
#[derive(Debug, Clone)]
pub(super) struct SpaceSaving<K> {
    pub(super) items: Vec<(K, u32)>,
    pub(super) pos: QuickMap<K, usize>,
    pub(super) total: u64,
}

impl<K: Copy + Eq + Hash> SpaceSaving<K> {
    pub(super) fn new() -> Self {
        SpaceSaving {
            items: Vec::new(),
            pos: QuickMap::default(),
            total: 0,
        }
    }

    /// Counts `k`. The counters are a min-heap on their counts, so the
    /// smallest (the one a new value takes over) is the first, and a
    /// count that grows sinks in at most log2(256) = 8 swaps.
    pub(super) fn add(&mut self, k: K) {
        self.total += 1;
        let i = match self.pos.get(&k) {
            Some(&i) => {
                self.items[i].1 += 1;
                i
            }
            None if self.items.len() < RATE_COUNTERS => {
                // A count of 1 is the smallest there is: the new leaf
                // rises to the top.
                let mut i = self.items.len();
                self.pos.insert(k, i);
                self.items.push((k, 1));
                while i > 0 {
                    let parent = (i - 1) / 2;
                    if self.items[parent].1 <= self.items[i].1 {
                        break;
                    }
                    self.items.swap(i, parent);
                    self.pos.insert(self.items[i].0, i);
                    self.pos.insert(self.items[parent].0, parent);
                    i = parent;
                }
                return;
            }
            None => {
                let (old, n) = self.items[0];
                self.pos.remove(&old);
                self.pos.insert(k, 0);
                self.items[0] = (k, n + 1);
                0
            }
        };
        self.sink(i);
    }

    pub(super) fn sink(&mut self, mut i: usize) {
        let n = self.items.len();
        loop {
            let (l, r) = (2 * i + 1, 2 * i + 2);
            let mut least = i;
            if l < n && self.items[l].1 < self.items[least].1 {
                least = l;
            }
            if r < n && self.items[r].1 < self.items[least].1 {
                least = r;
            }
            if least == i {
                return;
            }
            self.items.swap(i, least);
            self.pos.insert(self.items[i].0, i);
            self.pos.insert(self.items[least].0, least);
            i = least;
        }
    }
}

/// New entries of one kind of value per window: the current window and
/// the last complete one, whose rates are reported.
#[derive(Debug, Clone)]
pub(super) struct NewRates<K> {
    pub(super) window: u64,
    pub(super) current: SpaceSaving<K>,
    pub(super) last: SpaceSaving<K>,
}

impl<K: Copy + Eq + Hash + Ord> NewRates<K> {
    pub(super) fn new() -> Self {
        NewRates {
            window: 0,
            current: SpaceSaving::new(),
            last: SpaceSaving::new(),
        }
    }

    pub(super) fn roll(&mut self, second: u64) {
        let w = second / RATE_WINDOW;
        if w == self.window {
            return;
        }
        self.last = if w == self.window + 1 {
            std::mem::replace(&mut self.current, SpaceSaving::new())
        } else {
            self.current = SpaceSaving::new();
            SpaceSaving::new()
        };
        self.window = w;
    }

    pub(super) fn add(&mut self, second: u64, k: K) {
        self.roll(second);
        self.current.add(k);
    }

    /// The `n` fastest of the last complete window, per second.
    pub(super) fn top(&self, n: usize) -> Top<K, f64> {
        let mut items = self.last.items.clone();
        items.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        items.truncate(n);
        let shown: u64 = items.iter().map(|(_, c)| u64::from(*c)).sum();
        let w = RATE_WINDOW as f64;
        Top {
            top: items
                .into_iter()
                .map(|(k, c)| (k, f64::from(c) / w))
                .collect(),
            other: self.last.total.saturating_sub(shown) as f64 / w,
        }
    }
}
