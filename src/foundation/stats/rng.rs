//! xoshiro256++ (Blackman and Vigna), seeded from splitmix64: the paired bootstrap's
//! generator. Written here rather than taken from a crate: the statistics depend on nothing,
//! and a bootstrap interval recorded for a seed must not move with a dependency's release.
//! tests/test_rng.rs checks it against `rand_xoshiro`.

/// xoshiro256++ (Blackman and Vigna), the bootstrap's generator.
#[derive(Clone, Debug)]
pub struct Xoshiro256PlusPlus([u64; 4]);

const SPLITMIX_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// splitmix64's output function (Steele, Lea and Flood).
fn splitmix64_mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Xoshiro256PlusPlus {
    /// The generator of resample `r`: its four state words are outputs 4r + 1 … 4r + 4 of
    /// splitmix64 started at `seed` (output k is mix(seed + k·0x9E3779B97F4A7C15), wrapping).
    /// Resamples thus use disjoint stretches of one splitmix64 stream.
    pub fn for_resample(seed: u64, r: u64) -> Self {
        let word = |k: u64| splitmix64_mix(seed.wrapping_add(k.wrapping_mul(SPLITMIX_GAMMA)));
        let k = r.wrapping_mul(4);
        Xoshiro256PlusPlus([
            word(k.wrapping_add(1)),
            word(k.wrapping_add(2)),
            word(k.wrapping_add(3)),
            word(k.wrapping_add(4)),
        ])
    }

    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.0;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// An index in [0, n): the high 64 bits of next_u64() · n (Lemire's multiply-shift,
    /// without the rejection step; the bias is below n / 2^64).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xoshiro_matches_the_reference_sequence() {
        // Blackman and Vigna's xoshiro256plusplus.c from the state {1, 2, 3, 4}.
        let mut rng = Xoshiro256PlusPlus([1, 2, 3, 4]);
        let first: Vec<u64> = (0..3).map(|_| rng.next_u64()).collect();
        assert_eq!(first, [41943041, 58720359, 3588806011781223]);
    }

    #[test]
    fn splitmix_matches_the_reference_sequence() {
        // Vigna's splitmix64.c from x = 0: the first output.
        assert_eq!(splitmix64_mix(SPLITMIX_GAMMA), 0xE220_A839_7B1D_CDAF);
    }
}
