#!/usr/bin/env python3
"""Golden vectors for flagstone's bucketing, computed independently of flagstone.

The hash comes from the PyPI package `mmh3` (a C implementation of MurmurHash3); everything
else is the contract of docs/bucketing.md, written out again here in a few lines of Python:

    h      = MurmurHash3_x86_32(utf8(key), seed = 0)     # u32
    bucket = (u64(h) * total) >> 32                      # in [0, total)

    included = bucket("{salt}/rollout/{unit}", 100000) < rollout_thousandths
    variant  = first variant, in name (byte) order, whose cumulative weight exceeds
               bucket("{salt}/split/{unit}", sum_of_weights)

Usage:
    python3 tests/vectors/generate.py           # (re)write tests/vectors/bucketing.json
    python3 tests/vectors/generate.py --check   # exit 1 unless the file is reproduced byte for byte

Requires `pip install mmh3` (the version used is recorded in the file; CI pins it). The output
is deterministic: fixed inputs, deterministic searches, sorted vectors, sorted keys.
"""

import argparse
import difflib
import importlib.metadata
import json
import sys
from pathlib import Path

try:
    import mmh3
except ImportError:
    sys.exit("generate.py needs the mmh3 package: pip install mmh3==5.3.1")

HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "bucketing.json"

FULL = 100_000  # 100% in thousandths of a percent
U32_MAX = 0xFFFF_FFFF
U64_MAX = 0xFFFF_FFFF_FFFF_FFFF
I64_MIN = -(2**63)
I64_MAX = 2**63 - 1


# --- The contract -------------------------------------------------------------------------


def murmur3(key: str, seed: int = 0) -> int:
    """MurmurHash3_x86_32 of the UTF-8 bytes of `key`, as an unsigned 32-bit integer."""
    return mmh3.hash(key.encode("utf-8"), seed, signed=False)


def bucket(key: str, total: int) -> int:
    assert 1 <= total <= U32_MAX
    return (murmur3(key, 0) * total) >> 32


def unit_text(unit) -> str:
    """A unit's key text: a string as is, an integer in decimal."""
    if isinstance(unit, bool):  # bool is an int in Python; it is not a unit
        raise TypeError("booleans are not units")
    if isinstance(unit, str):
        return unit
    if isinstance(unit, int):
        assert I64_MIN <= unit <= U64_MAX, "JSON integers a 64-bit reader keeps exactly"
        return str(unit)
    raise TypeError(f"not a unit: {unit!r}")


def rollout_key(salt: str, unit) -> str:
    return f"{salt}/rollout/{unit_text(unit)}"


def split_key(salt: str, unit) -> str:
    return f"{salt}/split/{unit_text(unit)}"


def byte_order(name: str) -> bytes:
    return name.encode("utf-8")


def evaluate(salt: str, unit, rollout: int, weights):
    """(included, variant, rollout bucket, split bucket) of one rule for one unit."""
    names = [name for name, _ in weights]
    assert names == sorted(names, key=byte_order), f"weights not in name order: {names}"
    assert len(set(names)) == len(names)
    total = sum(weight for _, weight in weights)
    rollout_bucket = bucket(rollout_key(salt, unit), FULL)
    split_bucket = bucket(split_key(salt, unit), total)
    included = rollout_bucket < rollout
    variant = None
    if included:
        cumulative = 0
        for name, weight in weights:
            cumulative += weight
            if split_bucket < cumulative:
                variant = name
                break
        assert variant is not None
    return included, variant, rollout_bucket, split_bucket


def sanity_check_mmh3():
    """Published values (SMHasher's reference implementation), so a broken build is caught."""
    assert murmur3("", 0) == 0
    assert murmur3("", 1) == 0x514E28B7
    assert murmur3("", U32_MAX) == 0x81F16F39
    assert murmur3("\u0000\u0000\u0000\u0000", 0) == 0x2362F9DE
    assert murmur3("a", 0x9747B28C) == 0x7FA09EA6
    assert murmur3("abc", 0x9747B28C) == 0xC84A62DD
    assert murmur3("aaaa", 0x9747B28C) == 0x5A97808A
    assert murmur3("Hello, world!", 0x9747B28C) == 0x24884CBA
    assert murmur3("hello", 0) == 0x248BFA47
    assert murmur3("The quick brown fox jumps over the lazy dog", 0) == 0x2E4FF723


def first(predicate, make, limit=10_000_000):
    """The first make(i), i = 0, 1, 2, ..., that satisfies predicate: a deterministic search."""
    for i in range(limit):
        candidate = make(i)
        if predicate(candidate):
            return candidate
    raise RuntimeError("search exhausted")


# --- (a) raw hashes -----------------------------------------------------------------------

# Keys whose hashes sit on the edges of the u32 range (found by brute force by the flagd
# testbed authors, whose fractional.feature uses them): 0, 1, 2^31-1, 2^31, 2^32-1.
EDGE_HASH_KEYS = ["ejOoVL", "bY9fO-", "SI7p-", "6LvT0", "ceQdGm"]

HASH_KEYS_SEED_0 = [
    # lengths 0-9: no block, then every tail length with 0, 1 and 2 whole blocks
    "",
    "a",
    "ab",
    "abc",
    "abcd",
    "abcde",
    "abcdef",
    "abcdefg",
    "abcdefgh",
    "abcdefghi",
    # multi-byte UTF-8, tails with bytes >= 0x80 (catches sign-extension bugs)
    "é",  # U+00E9, 2 bytes
    "e\u0301",  # e + combining acute: 3 bytes; keys are not normalised
    "aé",  # 3 bytes, tail only
    "ÿÿÿ",  # 6 bytes of 0xC3 0xBF
    "中",  # 3 bytes
    "中文",  # 6 bytes
    "😀",  # U+1F600, 4 bytes: one block
    "👩\u200d💻",  # ZWJ sequence, 11 bytes
    "héllo wörld",
    "日本語テキスト",
    "\u0000",
    "a\u0000b",
    "hello",
    "The quick brown fox jumps over the lazy dog",
    # flagstone's key forms
    "checkout/one-page/rollout/user-12345",
    "checkout/one-page/split/user-12345",
    # long keys
    "flagstone/" * 10,  # 100 bytes
    "0123456789" * 100,  # 1000 bytes
    "😀" * 64,  # 256 bytes
] + EDGE_HASH_KEYS

HASH_KEYS_OTHER_SEEDS = [
    ("", 1),
    ("", U32_MAX),
    ("abc", 1),
    ("abcd", 42),
    ("abcdefg", 0x9747B28C),
    ("hello", 1),
    ("中文", 42),
    ("😀", 0x9747B28C),
    ("The quick brown fox jumps over the lazy dog", U32_MAX),
    ("checkout/one-page/rollout/user-12345", 42),
]


def hash_vectors():
    vectors = [{"key": k, "seed": 0, "hash": murmur3(k, 0)} for k in HASH_KEYS_SEED_0]
    vectors += [{"key": k, "seed": s, "hash": murmur3(k, s)} for k, s in HASH_KEYS_OTHER_SEEDS]
    return vectors


# --- (b) buckets --------------------------------------------------------------------------

BUCKET_TOTALS = [FULL, 100, 3, 1, 7, 100_001]

BUCKET_KEYS = [
    "checkout/one-page/rollout/user-12345",
    "checkout/one-page/split/user-12345",
    "new-search/rollout/42",
    "new-search/split/-42",
    "dark-mode/rollout/18446744073709551615",
    "pricing/split/é",
    "中文/rollout/中文",
    "emoji/split/👩\u200d💻",
    "exp-2026/rollout/",
    "exp-2026/split/alice@example.com",
]


def bucket_vectors():
    keys_totals = [(k, t) for k in BUCKET_KEYS for t in BUCKET_TOTALS]
    # The edges of the u32 range, where a signed or 32-bit product goes wrong.
    keys_totals += [(k, t) for k in EDGE_HASH_KEYS for t in (FULL, 100, U32_MAX)]
    # The first and last bucket of a full-precision rollout, found by a deterministic search.
    lowest = first(lambda k: bucket(k, FULL) == 0, lambda i: f"edge/rollout/user-{i}")
    highest = first(lambda k: bucket(k, FULL) == FULL - 1, lambda i: f"edge/rollout/user-{i}")
    keys_totals += [(lowest, FULL), (highest, FULL)]
    # Totals whose product with the hash needs all 64 bits.
    keys_totals += [
        ("checkout/one-page/split/user-12345", U32_MAX),
        ("checkout/one-page/split/user-12345", 2**31 - 1),
    ]
    return [
        {"key": k, "total": t, "hash": murmur3(k, 0), "bucket": bucket(k, t)}
        for k, t in keys_totals
    ]


# --- (c) end to end -----------------------------------------------------------------------

W_ON_OFF = [["off", 50_000], ["on", 50_000]]
W_AB = [["control", 50_000], ["treatment", 50_000]]
W_THIRDS = [["a", 33_333], ["b", 33_333], ["c", 33_334]]
W_COLOURS = [["blue", 12_500], ["green", 37_500], ["red", 50_000]]
W_ONLY = [["only", FULL]]
W_CASE = [["A", 25_000], ["B", 25_000], ["a", 25_000], ["b", 25_000]]  # upper case sorts first
W_SMALL = [["v1", 1], ["v2", 1], ["v3", 1]]  # total 3
W_SEVEN = [["five", 5], ["two", 2]]  # total 7
W_ZERO = [["x", 0], ["y", 70_000], ["z", 30_000]]  # a variant with no weight is never served
W_BYTES = [["z", 50_000], ["é", 50_000]]  # byte order: "z" (0x7A) before "é" (0xC3 0xA9)
W_DIGITS = [["t-10", 10_000], ["t-2", 80_000], ["t-9", 10_000]]  # "t-10" < "t-2" < "t-9"


def end_to_end_cases():
    cases = [
        # salt, unit, rollout, weights
        ("checkout/one-page", "user-12345", FULL, W_ON_OFF),
        ("checkout/one-page", "user-12345", 5_000, W_ON_OFF),
        ("checkout/one-page", "user-1", 50_000, W_AB),
        ("checkout/one-page", "user-2", 50_000, W_AB),
        ("checkout/one-page", "user-3", 50_000, W_AB),
        ("checkout/one-page", "user-4", 50_000, W_AB),
        ("checkout/one-page", "user-5", 50_000, W_AB),
        ("checkout/one-page", "user-6", 50_000, W_AB),
        ("checkout/one-page", "user-7", 50_000, W_AB),
        ("checkout/one-page", "user-8", 50_000, W_AB),
        ("checkout/one-page", "alice@example.com", 12_500, W_COLOURS),
        ("new-search", 42, FULL, W_THIRDS),
        ("new-search", "42", FULL, W_THIRDS),  # the same key as the integer 42
        ("new-search", "00042", FULL, W_THIRDS),  # not the same as 42
        ("new-search", -42, 75_000, W_THIRDS),
        ("new-search", 0, FULL, W_CASE),
        ("new-search", 9_007_199_254_740_993, FULL, W_CASE),  # 2^53 + 1: not a double
        ("new-search", I64_MAX, FULL, W_COLOURS),
        ("new-search", I64_MIN, FULL, W_COLOURS),
        ("new-search", U64_MAX, FULL, W_COLOURS),
        ("new-search", U64_MAX, 33_333, W_COLOURS),
        ("dark-mode", "", FULL, W_ON_OFF),  # an empty string is a unit
        ("dark-mode", "é", FULL, W_BYTES),
        ("dark-mode", "中文", FULL, W_BYTES),
        ("dark-mode", "👩\u200d💻", FULL, W_BYTES),
        ("dark-mode", "user-7", 0, W_ON_OFF),  # 0%: nobody
        ("pricing-page", "user-1", FULL, W_ONLY),
        ("pricing-page", "user-2", 99_999, W_ONLY),
        ("pricing-page", "user-1", FULL, W_SMALL),
        ("pricing-page", "user-2", FULL, W_SMALL),
        ("pricing-page", "user-3", FULL, W_SMALL),
        ("pricing-page", "user-4", FULL, W_SEVEN),
        ("pricing-page", "user-5", FULL, W_SEVEN),
        ("pricing-page", "user-6", FULL, W_ZERO),
        ("pricing-page", "user-7", FULL, W_ZERO),
        ("pricing-page", "user-8", FULL, W_DIGITS),
        ("pricing-page", "user-9", FULL, W_DIGITS),
        ("中文-flag", "中文", 50_000, W_AB),
    ]

    # Rollout thresholds on either side of a unit's bucket: `<`, not `<=`.
    salt = "rollout-edge"
    for unit in ["user-100", "user-200"]:
        b = bucket(rollout_key(salt, unit), FULL)
        cases.append((salt, unit, b, W_ON_OFF))  # bucket == threshold: out
        cases.append((salt, unit, b + 1, W_ON_OFF))  # bucket == threshold - 1: in

    # The smallest and the largest partial rollouts, with units found by a deterministic search.
    in_smallest = first(lambda u: bucket(rollout_key(salt, u), FULL) == 0, lambda i: f"user-{i}")
    out_of_largest = first(
        lambda u: bucket(rollout_key(salt, u), FULL) == FULL - 1, lambda i: f"user-{i}"
    )
    cases.append((salt, in_smallest, 1, W_ON_OFF))  # 0.001%: in
    cases.append((salt, out_of_largest, 99_999, W_ON_OFF))  # 99.999%: out
    cases.append((salt, out_of_largest, FULL, W_ON_OFF))  # 100%: in

    # Split buckets on either side of a cumulative weight: "exceeds", not "reaches".
    salt = "split-edge"
    last_of_first = first(
        lambda u: bucket(split_key(salt, u), FULL) == 49_999, lambda i: f"user-{i}"
    )
    first_of_second = first(
        lambda u: bucket(split_key(salt, u), FULL) == 50_000, lambda i: f"user-{i}"
    )
    cases.append((salt, last_of_first, FULL, W_ON_OFF))  # bucket 49999: "off"
    cases.append((salt, first_of_second, FULL, W_ON_OFF))  # bucket 50000: "on"
    # Split bucket 0 with a first variant of weight 0: that variant is never served.
    zero = first(lambda u: bucket(split_key(salt, u), FULL) == 0, lambda i: f"user-{i}")
    cases.append((salt, zero, FULL, W_ZERO))  # bucket 0: "y", not "x"
    return cases


def end_to_end_vectors():
    vectors = []
    for salt, unit, rollout, weights in end_to_end_cases():
        assert 0 <= rollout <= FULL
        included, variant, rollout_bucket, split_bucket = evaluate(salt, unit, rollout, weights)
        vectors.append(
            {
                "salt": salt,
                "unit": unit,
                "rollout_thousandths": rollout,
                "weights": weights,
                "included": included,
                "variant": variant,
                # Informative, for debugging an implementation: the two buckets.
                "rollout_bucket": rollout_bucket,
                "split_bucket": split_bucket,
            }
        )
    return vectors


# --- Experiment gates (layers and holdouts) --------------------------------------------------


def gate(layer_salt: str, holdout_salt: str, unit, holdout: int, start: int, end: int):
    """What excludes a unit that a split would assign: the holdout first, then the layer."""
    holdout_bucket = bucket(f"{holdout_salt}/holdout/{unit_text(unit)}", FULL)
    layer_bucket = bucket(f"{layer_salt}/layer/{unit_text(unit)}", FULL)
    if holdout_bucket < holdout:
        excluded_by = "holdout"
    elif not (start <= layer_bucket < end):
        excluded_by = "layer"
    else:
        excluded_by = None
    return excluded_by, holdout_bucket, layer_bucket


def gate_cases():
    cases = [
        # layer salt, holdout salt, unit, holdout thousandths, [from, to) thousandths
        ("acquisition", "growth-2027", f"usr_{i}", 5_000, 0, 60_000)
        for i in range(1, 13)
    ]
    cases += [
        ("acquisition", "growth-2027", 42, 5_000, 60_000, 100_000),
        ("acquisition", "growth-2027", "中文", 0, 25_000, 75_000),
        ("checkout", "q1", "user-12345", 99_999, 0, 100_000),
    ]
    # Thresholds on either side of a unit's buckets: `<` for the holdout and the slice's end,
    # `<=` for its start.
    unit = "user-100"
    held = bucket(f"edge/holdout/{unit}", FULL)
    in_layer = bucket(f"edge/layer/{unit}", FULL)
    cases += [
        ("edge", "edge", unit, held, 0, FULL),  # bucket == percent: not held out
        ("edge", "edge", unit, held + 1, 0, FULL),  # held out
        ("edge", "edge", unit, 0, in_layer, FULL),  # bucket == from: in the slice
        ("edge", "edge", unit, 0, 0, in_layer),  # bucket == to: outside
    ]
    return cases


def gate_vectors():
    vectors = []
    for layer_salt, holdout_salt, unit, holdout, start, end in gate_cases():
        assert 0 <= holdout < FULL and 0 <= start < end <= FULL
        excluded_by, holdout_bucket, layer_bucket = gate(
            layer_salt, holdout_salt, unit, holdout, start, end
        )
        vectors.append(
            {
                "layer_salt": layer_salt,
                "holdout_salt": holdout_salt,
                "unit": unit,
                "holdout_thousandths": holdout,
                "from_thousandths": start,
                "to_thousandths": end,
                "excluded_by": excluded_by,
                "holdout_bucket": holdout_bucket,
                "layer_bucket": layer_bucket,
            }
        )
    return vectors


# --- Output -------------------------------------------------------------------------------


def sort_key_text(value) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def unique_sorted(vectors, key):
    vectors = sorted(vectors, key=key)
    seen = set()
    out = []
    for v in vectors:
        text = sort_key_text(v)
        if text not in seen:
            seen.add(text)
            out.append(v)
    return out


def document() -> str:
    sanity_check_mmh3()
    hashes = unique_sorted(hash_vectors(), key=lambda v: (v["key"].encode("utf-8"), v["seed"]))
    buckets = unique_sorted(
        bucket_vectors(), key=lambda v: (v["key"].encode("utf-8"), v["total"])
    )
    end_to_end = unique_sorted(
        end_to_end_vectors(),
        key=lambda v: (
            v["salt"].encode("utf-8"),
            sort_key_text(v["unit"]).encode("utf-8"),
            v["rollout_thousandths"],
            sort_key_text(v["weights"]).encode("utf-8"),
        ),
    )
    gates = unique_sorted(gate_vectors(), key=sort_key_text)
    doc = {
        "about": (
            "Golden vectors for flagstone's bucketing (docs/bucketing.md), computed by "
            "tests/vectors/generate.py with the mmh3 package, independently of flagstone. "
            "Do not edit: regenerate."
        ),
        "generator": "tests/vectors/generate.py",
        "mmh3_version": importlib.metadata.version("mmh3"),
        "contract": {
            "hash": "h = MurmurHash3_x86_32(utf8(key), seed) as u32",
            "bucket": "bucket(key, total) = (u64(h with seed 0) * total) >> 32, in [0, total)",
            "rollout": "included = bucket(salt + '/rollout/' + unit, 100000) < rollout_thousandths",
            "split": (
                "variant = the first of weights (in variant-name byte order) whose cumulative "
                "weight exceeds bucket(salt + '/split/' + unit, sum of weights); null when not "
                "included"
            ),
            "unit": "a string as is; an integer in decimal (-42 -> \"-42\")",
            "gates": (
                "a unit a split would assign is excluded by the holdout when "
                "bucket(holdout_salt + '/holdout/' + unit, 100000) < holdout_thousandths, else "
                "by the layer unless from <= bucket(layer_salt + '/layer/' + unit, 100000) < to"
            ),
        },
        "counts": {
            "hashes": len(hashes),
            "buckets": len(buckets),
            "end_to_end": len(end_to_end),
            "gates": len(gates),
        },
        "hashes": hashes,
        "buckets": buckets,
        "end_to_end": end_to_end,
        "gates": gates,
    }
    return json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="do not write; exit 1 unless bucketing.json is reproduced byte for byte",
    )
    args = parser.parse_args()
    text = document()
    data = text.encode("utf-8")
    if args.check:
        try:
            committed = OUTPUT.read_bytes()
        except FileNotFoundError:
            print(f"{OUTPUT} is missing: run python3 tests/vectors/generate.py", file=sys.stderr)
            return 1
        if committed == data:
            counts = json.loads(text)["counts"]
            print(
                f"{OUTPUT.name} reproduced byte for byte ({counts['hashes']} hashes, "
                f"{counts['buckets']} buckets, {counts['end_to_end']} end-to-end vectors, {counts['gates']} gates)"
            )
            return 0
        diff = difflib.unified_diff(
            committed.decode("utf-8", errors="replace").splitlines(keepends=True),
            text.splitlines(keepends=True),
            fromfile=f"{OUTPUT.name} (committed)",
            tofile=f"{OUTPUT.name} (generated)",
        )
        sys.stderr.writelines(list(diff)[:200])
        print(
            f"\n{OUTPUT} differs from what the generator computes (see the diff above). If only "
            "mmh3_version differs, install the recorded mmh3 version; otherwise the vectors or "
            "the generator changed: investigate before regenerating.",
            file=sys.stderr,
        )
        return 1
    OUTPUT.write_bytes(data)
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
