#!/usr/bin/python3
"""Generate the deterministic file corpus for the scan benchmark.

Writes into OUTDIR:
  large/large.bin        one 64 MiB file of random bytes (clean)
  small/NNNN.bin         2,000 files of 4 KiB of random bytes, of which
                           10 embed the bytes of a bench.ndb signature (4 of them gapped ones)
                           5 are the payloads whose sha256:size are in bench.hsb
  empty/empty.bin        an empty file (to time start-up and database load alone)
  expected.json          {"small/NNNN.bin": "Signature.Name", ...} for the 15 matching files

Uses the same --seed as gen_db.py and rebuilds its signatures from it.  Standard library only.
"""

import argparse
import json
import os
import random
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_db  # noqa: E402

LARGE_SIZE = 64 << 20
N_SMALL = 2000
N_NDB_HITS = 10


def _write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def generate(outdir, seed):
    rng = random.Random(f"corpus-{seed}")
    for d in ("large", "small", "empty"):
        os.makedirs(os.path.join(outdir, d), exist_ok=True)

    with open(os.path.join(outdir, "large", "large.bin"), "wb") as f:
        for _ in range(LARGE_SIZE >> 20):
            f.write(rng.randbytes(1 << 20))
    _write(os.path.join(outdir, "empty", "empty.bin"), b"")

    sigs = gen_db.ndb_signatures(seed)
    gapped = [i for i, (_, parts) in enumerate(sigs) if len(parts) == 2]
    plain = [i for i, (_, parts) in enumerate(sigs) if len(parts) == 1]
    chosen = rng.sample(gapped, 4) + rng.sample(plain, N_NDB_HITS - 4)

    slots = rng.sample(range(N_SMALL), N_NDB_HITS + gen_db.N_HASH_HITS)
    ndb_slots, hash_slots = slots[:N_NDB_HITS], slots[N_NDB_HITS:]
    special = {}
    expected = {}
    for slot, si in zip(ndb_slots, chosen):
        name, parts = sigs[si]
        needle = parts[0]
        if len(parts) == 2:
            needle += rng.randbytes(rng.randint(0, 24)) + parts[1]
        data = bytearray(rng.randbytes(gen_db.SMALL_SIZE))
        at = rng.randrange(0, len(data) - len(needle))
        data[at:at + len(needle)] = needle
        special[slot] = bytes(data)
        expected[f"small/{slot:04d}.bin"] = name
    for i, (slot, payload) in enumerate(zip(hash_slots, gen_db.hash_payloads(seed))):
        special[slot] = payload
        expected[f"small/{slot:04d}.bin"] = gen_db.hash_hit_name(i)

    # A planted file must match its own signature only, or "which name is reported" would
    # depend on the scanner's match order.
    for slot, si in zip(ndb_slots, chosen):
        data = special[slot]
        others = [n for j, (n, parts) in enumerate(sigs)
                  if j != si and all(p in data for p in parts)
                  and re.search(b".{0,24}".join(re.escape(p) for p in parts), data, re.S)]
        if others:
            raise SystemExit(f"gen_corpus: planted file {slot:04d} also matches {others}")

    for i in range(N_SMALL):
        data = special.get(i)
        if data is None:
            data = rng.randbytes(gen_db.SMALL_SIZE)
        _write(os.path.join(outdir, "small", f"{i:04d}.bin"), data)

    with open(os.path.join(outdir, "expected.json"), "w") as f:
        json.dump({"seed": seed, "matches": dict(sorted(expected.items()))}, f, indent=1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir", nargs="?",
                    default=os.path.join(os.path.dirname(__file__), "out", "corpus"))
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    generate(a.outdir, a.seed)
    print(f"gen_corpus: 1 x {LARGE_SIZE >> 20} MiB + {N_SMALL} x 4 KiB files in {a.outdir} "
          f"(seed {a.seed})", file=sys.stderr)


if __name__ == "__main__":
    main()
