//! Bucketing: the cross-language contract (docs/bucketing.md).
//!
//! ```text
//! h      = MurmurHash3_x86_32(utf8(key), seed = 0)
//! bucket = (u64(h) * total) >> 32          // in [0, total)
//! ```
//!
//! Keys are `"{salt}/rollout/{unit}"` and `"{salt}/split/{unit}"`; they are hashed from their
//! parts without being assembled, so bucketing allocates nothing.

const C1: u32 = 0xcc9e_2d51;
const C2: u32 = 0x1b87_3593;

fn mix(k: u32) -> u32 {
    k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2)
}

fn step(h: u32, block: u32) -> u32 {
    (h ^ mix(block))
        .rotate_left(13)
        .wrapping_mul(5)
        .wrapping_add(0xe654_6b64)
}

fn finish(mut h: u32, tail: &[u8], length: usize) -> u32 {
    if !tail.is_empty() {
        let mut k = 0u32;
        for (i, byte) in tail.iter().enumerate() {
            k |= u32::from(*byte) << (8 * i);
        }
        h ^= mix(k);
    }
    // The reference implementation mixes in the length as a 32-bit value.
    h ^= length as u32;
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

/// MurmurHash3, x86 32-bit variant, of one byte string.
pub fn murmur3_x86_32_bytes(bytes: &[u8], seed: u32) -> u32 {
    let mut blocks = bytes.chunks_exact(4);
    let mut h = seed;
    for block in &mut blocks {
        h = step(
            h,
            u32::from_le_bytes([block[0], block[1], block[2], block[3]]),
        );
    }
    finish(h, blocks.remainder(), bytes.len())
}

/// MurmurHash3, x86 32-bit variant, of the concatenation of `parts`.
pub fn murmur3_x86_32(parts: &[&[u8]], seed: u32) -> u32 {
    let mut h = seed;
    let mut length: usize = 0;
    // Bytes carried over between parts, to assemble 4-byte blocks across boundaries.
    let mut carry = [0u8; 4];
    let mut carried = 0;
    for part in parts {
        length += part.len();
        let mut bytes = *part;
        if carried > 0 {
            let take = (4 - carried).min(bytes.len());
            carry[carried..carried + take].copy_from_slice(&bytes[..take]);
            carried += take;
            bytes = &bytes[take..];
            if carried < 4 {
                continue;
            }
            h = step(h, u32::from_le_bytes(carry));
        }
        let mut blocks = bytes.chunks_exact(4);
        for block in &mut blocks {
            h = step(
                h,
                u32::from_le_bytes([block[0], block[1], block[2], block[3]]),
            );
        }
        let tail = blocks.remainder();
        carry[..tail.len()].copy_from_slice(tail);
        carried = tail.len();
    }
    finish(h, &carry[..carried], length)
}

/// MurmurHash3 partly done: the state after a key's fixed prefix (such as
/// `"{salt}/rollout/"`), so evaluations hash only the unit.
#[derive(Clone, Debug)]
pub struct Prefix {
    /// The state after the prefix's whole 4-byte blocks.
    h: u32,
    /// The prefix's last bytes, short of a block.
    tail: [u8; 3],
    tail_len: usize,
    len: usize,
}

impl Prefix {
    pub fn new(prefix: &[u8]) -> Prefix {
        let mut blocks = prefix.chunks_exact(4);
        let mut h = 0; // the seed
        for block in &mut blocks {
            h = step(
                h,
                u32::from_le_bytes([block[0], block[1], block[2], block[3]]),
            );
        }
        let rest = blocks.remainder();
        let mut tail = [0u8; 3];
        tail[..rest.len()].copy_from_slice(rest);
        Prefix {
            h,
            tail,
            tail_len: rest.len(),
            len: prefix.len(),
        }
    }

    /// The bucket of the prefix followed by `unit` among `total`.
    pub fn bucket(&self, unit: &[u8], total: u32) -> u32 {
        // Complete the prefix's partial block with the unit's first bytes, then go on.
        let mut h = self.h;
        let mut block = [0u8; 4];
        block[..self.tail_len].copy_from_slice(&self.tail[..self.tail_len]);
        let take = (4 - self.tail_len).min(unit.len());
        block[self.tail_len..self.tail_len + take].copy_from_slice(&unit[..take]);
        let filled = self.tail_len + take;
        let rest = &unit[take..];
        let hash = if filled < 4 {
            finish(h, &block[..filled], self.len + unit.len())
        } else {
            h = step(h, u32::from_le_bytes(block));
            let mut blocks = rest.chunks_exact(4);
            for b in &mut blocks {
                h = step(h, u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
            }
            finish(h, blocks.remainder(), self.len + unit.len())
        };
        scale(hash, total)
    }
}

fn scale(hash: u32, total: u32) -> u32 {
    ((u64::from(hash) * u64::from(total)) >> 32) as u32
}

/// The bucket of a key among `total`, in `[0, total)`.
pub fn bucket(parts: &[&[u8]], total: u32) -> u32 {
    // Typical keys fit on the stack, where hashing one slice beats stitching blocks across
    // parts; longer ones are hashed part by part.
    let mut buffer = [0u8; 128];
    let length: usize = parts.iter().map(|p| p.len()).sum();
    let hash = if length <= buffer.len() {
        let mut at = 0;
        for part in parts {
            buffer[at..at + part.len()].copy_from_slice(part);
            at += part.len();
        }
        murmur3_x86_32_bytes(&buffer[..length], 0)
    } else {
        murmur3_x86_32(parts, 0)
    };
    scale(hash, total)
}

/// A bucketing unit's bytes: a string as is, an integer in decimal, held without allocating.
pub enum Unit<'a> {
    Text(&'a str),
    Integer { digits: [u8; 20], len: usize },
}

impl<'a> Unit<'a> {
    /// The unit a JSON value gives, if it is a string or an integer.
    pub fn of(value: &'a serde_json::Value) -> Option<Unit<'a>> {
        match value {
            serde_json::Value::String(s) => Some(Unit::Text(s)),
            serde_json::Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Some(Unit::integer(i.unsigned_abs(), i < 0))
                } else {
                    n.as_u64().map(|u| Unit::integer(u, false))
                }
            }
            _ => None,
        }
    }

    fn integer(mut magnitude: u64, negative: bool) -> Unit<'a> {
        let mut reversed = [0u8; 20];
        let mut len = 0;
        loop {
            reversed[len] = b'0' + (magnitude % 10) as u8;
            len += 1;
            magnitude /= 10;
            if magnitude == 0 {
                break;
            }
        }
        if negative {
            reversed[len] = b'-';
            len += 1;
        }
        let mut digits = [0u8; 20];
        for i in 0..len {
            digits[i] = reversed[len - 1 - i];
        }
        Unit::Integer { digits, len }
    }

    pub fn bytes(&self) -> &[u8] {
        match self {
            Unit::Text(s) => s.as_bytes(),
            Unit::Integer { digits, len } => &digits[..*len],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_murmur3_values() {
        // Values from the reference implementation's own test suite (SMHasher).
        assert_eq!(murmur3_x86_32(&[b""], 0), 0);
        assert_eq!(murmur3_x86_32(&[b""], 1), 0x514e_28b7);
        assert_eq!(murmur3_x86_32(&[b"hello"], 0), 0x248b_fa47);
        assert_eq!(
            murmur3_x86_32(&[b"The quick brown fox jumps over the lazy dog"], 0),
            0x2e4f_f723
        );
    }

    #[test]
    fn parts_hash_like_their_concatenation() {
        let key = b"checkout/one-page/rollout/user-12345";
        let whole = murmur3_x86_32(&[key], 0);
        for a in 0..key.len() {
            for b in a..key.len() {
                let parts: [&[u8]; 3] = [&key[..a], &key[a..b], &key[b..]];
                assert_eq!(murmur3_x86_32(&parts, 0), whole, "split at {a} and {b}");
            }
        }
    }

    #[test]
    fn prefixes_bucket_like_whole_keys() {
        for prefix in [
            "",
            "a",
            "ab",
            "abc",
            "abcd",
            "checkout/one-page/rollout/",
            "s/split/",
        ] {
            let state = Prefix::new(prefix.as_bytes());
            for unit in [
                "",
                "u",
                "us",
                "use",
                "user",
                "user-1",
                "user-123456789",
                "é😀",
            ] {
                for total in [1, 3, 100, 100_000] {
                    assert_eq!(
                        state.bucket(unit.as_bytes(), total),
                        bucket(&[prefix.as_bytes(), unit.as_bytes()], total),
                        "{prefix:?} {unit:?} {total}"
                    );
                }
            }
        }
    }

    #[test]
    fn integers_are_decimal() {
        let unit = |v: serde_json::Value| Unit::of(&v).map(|u| u.bytes().to_vec());
        assert_eq!(unit(serde_json::json!(0)), Some(b"0".to_vec()));
        assert_eq!(unit(serde_json::json!(-42)), Some(b"-42".to_vec()));
        assert_eq!(
            unit(serde_json::json!(u64::MAX)),
            Some(u64::MAX.to_string().into_bytes())
        );
        assert_eq!(
            unit(serde_json::json!(i64::MIN)),
            Some(i64::MIN.to_string().into_bytes())
        );
        assert_eq!(unit(serde_json::json!(1.5)), None);
        assert_eq!(unit(serde_json::json!(true)), None);
    }
}
