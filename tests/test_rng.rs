//! The bootstrap's generator against `rand_xoshiro`: flagstone seeds xoshiro256++ with four
//! consecutive splitmix64 outputs, as `rand_xoshiro`'s `seed_from_u64` does, so the same seed
//! must give the same stream; each resample continues the splitmix64 stream; and the index
//! draws, and so the bootstrap's means, are those of the reference stream.

use flagstone::stats::paired::bootstrap_means;
use flagstone::stats::rng::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::{Rng, SeedableRng};
use rand_xoshiro::{SplitMix64, Xoshiro256PlusPlus as Reference};

/// Zero, small, the default, a typical and the extreme seeds (where seed + k·γ wraps).
const SEEDS: [u64; 6] = [0, 1, 42, 2026, 0x9E37_79B9_7F4A_7C15, u64::MAX];
const OUTPUTS: usize = 10_000;

/// `rand_xoshiro`'s generator of resample `r`: splitmix64 from `seed`, its first 4r outputs
/// skipped, the next four as the state.
fn reference(seed: u64, r: u64) -> Reference {
    let mut splitmix = SplitMix64::seed_from_u64(seed);
    for _ in 0..4 * r {
        splitmix.next_u64();
    }
    Reference::from_rng(&mut splitmix)
}

#[test]
fn the_first_resample_is_seed_from_u64() {
    for seed in SEEDS {
        let mut ours = Xoshiro256PlusPlus::for_resample(seed, 0);
        let mut theirs = Reference::seed_from_u64(seed);
        for i in 0..OUTPUTS {
            assert_eq!(
                ours.next_u64(),
                theirs.next_u64(),
                "seed {seed}, output {i}"
            );
        }
    }
}

#[test]
fn every_resample_continues_the_splitmix_stream() {
    for seed in SEEDS {
        for r in [1, 2, 3, 1_000, 9_999] {
            let mut ours = Xoshiro256PlusPlus::for_resample(seed, r);
            let mut theirs = reference(seed, r);
            for i in 0..OUTPUTS {
                assert_eq!(
                    ours.next_u64(),
                    theirs.next_u64(),
                    "seed {seed}, resample {r}, output {i}"
                );
            }
        }
    }
}

/// `rand_xoshiro` has no index draw (and `rand`'s uniform ranges reject, so they consume the
/// stream differently): `below` is checked as its formula over the reference stream.
#[test]
fn index_draws_are_the_high_half_of_the_product() {
    for seed in SEEDS {
        for n in [1, 2, 3, 10, 1_000, 100_003, u64::MAX] {
            let mut ours = Xoshiro256PlusPlus::for_resample(seed, 0);
            let mut theirs = Reference::seed_from_u64(seed);
            for i in 0..OUTPUTS {
                let expected = ((u128::from(theirs.next_u64()) * u128::from(n)) >> 64) as u64;
                assert_eq!(ours.below(n), expected, "seed {seed}, n {n}, draw {i}");
            }
        }
    }
}

/// Every resample's mean, from the reference streams: resample r sums the differences its own
/// generator picks, in draw order.
#[test]
fn bootstrap_means_are_those_of_the_reference_streams() {
    let differences: Vec<f64> = (0..37).map(|i| f64::from(i * 7 % 11) - 4.5).collect();
    let n = differences.len() as u64;
    // Not a multiple of the four resamples computed together, so both paths are used.
    let resamples = 103;
    for seed in SEEDS {
        let expected: Vec<f64> = (0..u64::from(resamples))
            .map(|r| {
                let mut rng = reference(seed, r);
                let mut sum = 0.0;
                for _ in 0..n {
                    let index = (u128::from(rng.next_u64()) * u128::from(n)) >> 64;
                    sum += differences[index as usize];
                }
                sum / n as f64
            })
            .collect();
        for threads in [1, 3] {
            let means = bootstrap_means(&differences, resamples, seed, threads);
            assert_eq!(means, expected, "seed {seed}, {threads} threads");
        }
    }
}
