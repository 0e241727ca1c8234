#!/usr/bin/env python3
"""Golden values for flagstone's bundle content hash, computed independently of flagstone.

The contract of docs/bundle-format.md, written out again here: the content hash of a bundle's
bytes is BLAKE3 in key-derivation mode with the context string below, as 64 lowercase hex
digits. The hash comes from the PyPI package `blake3`.

Inputs are UTF-8 texts, and byte strings of given lengths whose byte i is i % 251: lengths
around BLAKE3's 64-byte blocks and 1024-byte chunks, and one of several chunks' trees.

Usage:
    python3 tests/publish/generate.py           # (re)write tests/publish/content_hash.json
    python3 tests/publish/generate.py --check   # exit 1 unless the file is reproduced byte for byte

Requires `pip install blake3==1.0.11` (the version used is recorded in the file; CI pins it).
"""

import argparse
import difflib
import importlib.metadata
import json
import sys
from pathlib import Path

try:
    import blake3
except ImportError:
    sys.exit("generate.py needs the blake3 package: pip install blake3==1.0.11")

HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "content_hash.json"

CONTEXT = "flagstone 2026-12 bundle v2"
TEXTS = ["", "flagstone", '{"f":2}\n', "é ✓ 🚩"]
LENGTHS = [1, 63, 64, 65, 1023, 1024, 1025, 2048, 3073, 65536, 1_000_003]


def content_hash(data: bytes) -> str:
    return blake3.blake3(data, derive_key_context=CONTEXT).hexdigest()


def pattern(length: int) -> bytes:
    return bytes(i % 251 for i in range(length))


def generate() -> str:
    vectors = [{"text": t, "hash": content_hash(t.encode("utf-8"))} for t in TEXTS]
    vectors += [{"length": n, "hash": content_hash(pattern(n))} for n in LENGTHS]
    document = {
        "generator": "tests/publish/generate.py",
        "blake3": importlib.metadata.version("blake3"),
        "context": CONTEXT,
        "vectors": vectors,
    }
    return json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args()
    text = generate()
    if not args.check:
        OUTPUT.write_text(text, encoding="utf-8")
        return 0
    committed = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
    if committed == text:
        return 0
    sys.stdout.writelines(
        difflib.unified_diff(
            committed.splitlines(True), text.splitlines(True), str(OUTPUT), "generated"
        )
    )
    print(f"{OUTPUT} differs from what generate.py computes", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
