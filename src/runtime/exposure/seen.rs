//! The exposures already recorded: a fixed table of 64-bit fingerprints, eight ways per set
//! and a set per cache line, shared by every recording thread without locks. A full set
//! forgets one of its entries, so a forgotten exposure is recorded again; a first exposure is
//! never mistaken for a duplicate unless two exposures share a 64-bit fingerprint.

use std::sync::atomic::{AtomicU64, Ordering};

const WAYS: usize = 8;
/// No fingerprint is zero: zero marks an empty slot.
const EMPTY: u64 = 0;

/// One set: a cache line, so that a lookup costs at most one miss.
#[repr(align(64))]
#[derive(Default)]
struct Set([AtomicU64; WAYS]);

pub(super) struct Seen {
    sets: Box<[Set]>,
    /// Sets minus one: the number of sets is a power of two.
    mask: usize,
}

impl Seen {
    /// A table remembering about `entries` exposures (at least one set).
    pub(super) fn new(entries: usize) -> Seen {
        let sets = (entries / WAYS).max(1).next_power_of_two();
        Seen {
            sets: (0..sets).map(|_| Set::default()).collect(),
            mask: sets - 1,
        }
    }

    fn set(&self, fingerprint: u64) -> &[AtomicU64; WAYS] {
        // The high bits pick the set; the fingerprint's low bits pick a victim.
        &self.sets[(fingerprint >> 32) as usize & self.mask].0
    }

    pub(super) fn contains(&self, fingerprint: u64) -> bool {
        self.set(fingerprint)
            .iter()
            .any(|slot| slot.load(Ordering::Relaxed) == fingerprint)
    }

    pub(super) fn insert(&self, fingerprint: u64) {
        let set = self.set(fingerprint);
        for slot in set {
            match slot.compare_exchange(EMPTY, fingerprint, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return,
                Err(present) if present == fingerprint => return,
                Err(_) => {}
            }
        }
        set[fingerprint as usize % WAYS].store(fingerprint, Ordering::Relaxed);
    }
}

/// The fingerprint of an exposure's deduplication key: (unit, flag, variant, bundle).
pub(super) fn fingerprint(unit: &[u8], flag: &str, variant: &str, bundle: &str) -> u64 {
    let mut words = Words::default();
    // The lengths first: with them, the words below determine every byte of every part.
    words.push(unit.len() as u64 | (flag.len() as u64) << 24 | (variant.len() as u64) << 44);
    for part in [unit, flag.as_bytes(), variant.as_bytes()] {
        words.push_bytes(part);
    }
    // A content hash is uniformly random hex: its first 16 characters carry 64 bits.
    let bundle = bundle.as_bytes();
    if let (Some(first), Some(second)) = (bundle.get(..8), bundle.get(8..16)) {
        words.push(word(first));
        words.push(word(second));
    }
    words.finish().max(1)
}

/// Eight bytes as a little-endian word (`bytes` holds eight).
fn word(bytes: &[u8]) -> u64 {
    u64::from_le_bytes(bytes.try_into().unwrap_or_default())
}

/// Four bytes as a little-endian word (`bytes` holds four).
fn half(bytes: &[u8]) -> u64 {
    u64::from(u32::from_le_bytes(bytes.try_into().unwrap_or_default()))
}

/// wyhash's mixing: each pair of words is multiplied, 64×64→128 bits, and the halves folded,
/// so that every input bit reaches every output bit, two words per multiplication. (FxHasher's
/// multiply-rotate does not: keys that differ in one late byte collide often.)
#[derive(Default)]
struct Words {
    state: u64,
    pending: Option<u64>,
}

impl Words {
    const P0: u64 = 0xa076_1d64_78bd_642f;
    const P1: u64 = 0xe703_7ed1_a0b4_28db;

    fn push(&mut self, word: u64) {
        match self.pending.take() {
            None => self.pending = Some(word),
            Some(first) => self.state = Self::mix(self.state ^ first ^ Self::P0, word ^ Self::P1),
        }
    }

    /// The bytes of a part whose length is known (so overlapping reads are unambiguous):
    /// whole words, then the last eight bytes; a short part in one word. No copying and no
    /// loop over bytes.
    fn push_bytes(&mut self, bytes: &[u8]) {
        let n = bytes.len();
        if n >= 8 {
            let mut chunks = bytes.chunks_exact(8);
            for chunk in &mut chunks {
                self.push(word(chunk));
            }
            if !chunks.remainder().is_empty() {
                self.push(word(&bytes[n - 8..]));
            }
        } else if n >= 4 {
            self.push(half(&bytes[..4]) | half(&bytes[n - 4..]) << 32);
        } else if n > 0 {
            let byte = |i: usize| u64::from(bytes[i]);
            self.push(byte(0) | byte(n / 2) << 8 | byte(n - 1) << 16);
        }
    }

    fn finish(self) -> u64 {
        let last = self.pending.unwrap_or_default();
        Self::mix(self.state ^ last ^ Self::P0, Self::P1)
    }

    /// A product is zero only if a factor is: `word ^ P1` is zero only for a word that no
    /// UTF-8 text or zero-padded tail contains (P1's bytes are not UTF-8), and the other
    /// factor depends on the state.
    fn mix(a: u64, b: u64) -> u64 {
        let product = u128::from(a) * u128::from(b);
        (product as u64) ^ ((product >> 64) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_and_forgets_only_when_a_set_is_full() {
        let seen = Seen::new(WAYS);
        let full = 7..7 + WAYS as u64;
        assert!(!seen.contains(7));
        seen.insert(7);
        assert!(seen.contains(7));
        for fingerprint in full.clone() {
            seen.insert(fingerprint);
        }
        assert!(full.clone().all(|f| seen.contains(f)));
        seen.insert(full.end);
        assert!(seen.contains(full.end));
        assert_eq!(full.filter(|&f| seen.contains(f)).count(), WAYS - 1);
    }

    #[test]
    fn a_set_is_a_cache_line() {
        let seen = Seen::new(1 << 10);
        assert_eq!(std::mem::size_of::<Set>(), 64);
        assert!(
            seen.sets
                .iter()
                .all(|set| (set as *const Set as usize).is_multiple_of(64))
        );
    }

    #[test]
    fn similar_keys_do_not_collide() {
        let bundle = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let mut fingerprints = std::collections::HashSet::new();
        for i in 0..200_000 {
            let unit = format!("user-{i}");
            for variant in ["on", "off"] {
                assert!(fingerprints.insert(fingerprint(unit.as_bytes(), "f", variant, bundle)));
            }
        }
    }

    #[test]
    fn every_part_of_the_key_changes_the_fingerprint() {
        let bundle = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let base = fingerprint(b"u", "f", "on", bundle);
        assert_ne!(base, fingerprint(b"v", "f", "on", bundle));
        assert_ne!(base, fingerprint(b"u", "g", "on", bundle));
        assert_ne!(base, fingerprint(b"u", "f", "off", bundle));
        assert_ne!(
            base,
            fingerprint(b"u", "f", "on", &bundle.replace('0', "1"))
        );
        assert_ne!(
            fingerprint(b"ab", "c", "on", bundle),
            fingerprint(b"a", "bc", "on", bundle)
        );
        // Every length of short part, and the overlapping reads of longer ones.
        let units: Vec<String> = (0..40).map(|n| "x".repeat(n)).collect();
        let mut distinct = std::collections::HashSet::new();
        for unit in &units {
            for changed in 0..unit.len() {
                let mut other = unit.clone().into_bytes();
                other[changed] = b'y';
                assert_ne!(
                    fingerprint(unit.as_bytes(), "f", "on", bundle),
                    fingerprint(&other, "f", "on", bundle)
                );
            }
            assert!(distinct.insert(fingerprint(unit.as_bytes(), "f", "on", bundle)));
        }
    }
}
