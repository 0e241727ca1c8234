//! The exposures already recorded: a fixed table of 64-bit fingerprints, four ways per set,
//! shared by every recording thread without locks. A full set forgets one of its entries, so
//! a forgotten exposure is recorded again; a first exposure is never mistaken for a duplicate
//! unless two exposures share a 64-bit fingerprint.

use std::sync::atomic::{AtomicU64, Ordering};

const WAYS: usize = 4;
/// No fingerprint is zero: zero marks an empty slot.
const EMPTY: u64 = 0;

pub(super) struct Seen {
    slots: Box<[AtomicU64]>,
    /// Sets minus one: the number of sets is a power of two.
    mask: usize,
}

impl Seen {
    /// A table remembering about `entries` exposures (at least one set).
    pub(super) fn new(entries: usize) -> Seen {
        let sets = (entries / WAYS).max(1).next_power_of_two();
        Seen {
            slots: (0..sets * WAYS).map(|_| AtomicU64::new(EMPTY)).collect(),
            mask: sets - 1,
        }
    }

    fn set(&self, fingerprint: u64) -> &[AtomicU64] {
        // The high bits pick the set; the fingerprint's low bits pick a victim.
        let set = (fingerprint >> 32) as usize & self.mask;
        &self.slots[set * WAYS..set * WAYS + WAYS]
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
    // The lengths first, so that no two keys give the same words.
    words.push(unit.len() as u64 | (flag.len() as u64) << 24 | (variant.len() as u64) << 44);
    for part in [unit, flag.as_bytes(), variant.as_bytes()] {
        let mut chunks = part.chunks_exact(8);
        for chunk in &mut chunks {
            words.push(u64::from_le_bytes(chunk.try_into().expect("8 bytes")));
        }
        if !chunks.remainder().is_empty() {
            let mut tail = [0; 8];
            tail[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
            words.push(u64::from_le_bytes(tail));
        }
    }
    // A content hash is uniformly random hex: its first 16 characters carry 64 bits.
    for chunk in bundle.as_bytes().chunks_exact(8).take(2) {
        words.push(u64::from_le_bytes(chunk.try_into().expect("8 bytes")));
    }
    words.finish().max(1)
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
        let seen = Seen::new(4);
        assert!(!seen.contains(7));
        seen.insert(7);
        assert!(seen.contains(7));
        for fingerprint in 8..11 {
            seen.insert(fingerprint);
        }
        assert!((7..11).all(|f| seen.contains(f)));
        seen.insert(11);
        assert!(seen.contains(11));
        assert_eq!((7..11).filter(|&f| seen.contains(f)).count(), 3);
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
    }
}
