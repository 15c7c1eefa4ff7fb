#!/usr/bin/python3
"""Generate a deterministic ClamAV-format signature database for the scan benchmark.

Writes into OUTDIR:
  bench.ndb  10,000 body signatures  Name:0:*:HexSig  (16-64 bytes; a quarter with a {0-24} gap)
  bench.hsb  100,000 hash signatures sha256:size:Name (sizes 1 KB - 10 MB, log-uniform)

Everything derives from --seed, so gen_corpus.py can rebuild the same signatures and the same
hash-matching payloads without reading this script's output.  Standard library only.
"""

import argparse
import hashlib
import math
import os
import random
import sys

N_NDB = 10_000
N_HSB = 100_000
SMALL_SIZE = 4096
N_HASH_HITS = 5  # corpus files whose sha256:size are in bench.hsb

# Fragments that make a share of the patterns look like real ones (strings found in malware
# signatures: API names, URLs, script snippets), mixed with opcode-like random bytes.
_WORDS = [
    b"CreateRemoteThread", b"VirtualAllocEx", b"WriteProcessMemory", b"LoadLibraryA",
    b"GetProcAddress", b"URLDownloadToFileA", b"ShellExecuteA", b"WinExec", b"cmd.exe /c ",
    b"powershell -enc ", b"http://", b"https://", b"eval(base64_decode(", b"document.write(",
    b"unescape(", b"WScript.Shell", b"HKEY_LOCAL_MACHINE\\Software\\Microsoft\\Windows",
    b"\\CurrentVersion\\Run", b"<script>", b"fromCharCode", b"ActiveXObject", b".php?id=",
    b"Mozilla/4.0 (compatible; MSIE 6.0)", b"This program cannot be run", b"/bin/sh -c ",
    b"chmod 777 ", b"wget http://", b"AutoOpen", b"Document_Open", b"Shell(",
]


def _pattern_bytes(rng, n):
    """n bytes: ~60% pure random (code-like), ~40% with an embedded ASCII string.

    At least 8 bytes stay random so that no signature is a substring of another one."""
    if rng.random() < 0.6:
        return rng.randbytes(n)
    w = rng.choice(_WORDS)[:n - 8]
    pre = rng.randrange(0, n - len(w) + 1)
    return rng.randbytes(pre) + w + rng.randbytes(n - pre - len(w))


def ndb_signatures(seed):
    """List of (name, parts) where parts is [bytes] or [left, right] joined by a {0-24} gap."""
    rng = random.Random(f"ndb-{seed}")
    sigs = []
    for i in range(N_NDB):
        n = rng.randint(16, 64)
        body = _pattern_bytes(rng, n)
        name = f"Bench.Ndb.Sig-{i:05d}-0"
        if i % 4 == 3:  # a quarter: split in the middle with a bounded gap
            cut = n // 2
            sigs.append((name, [body[:cut], body[cut:]]))
        else:
            sigs.append((name, [body]))
    return sigs


def ndb_line(name, parts):
    return f"{name}:0:*:" + "{0-24}".join(p.hex() for p in parts)


def hash_payloads(seed):
    """The N_HASH_HITS small files (4 KB of random bytes) whose hashes go into bench.hsb."""
    rng = random.Random(f"hashhit-{seed}")
    return [rng.randbytes(SMALL_SIZE) for _ in range(N_HASH_HITS)]


def hash_hit_name(i):
    return f"Bench.Hsb.Hit-{i}-0"


def hsb_lines(seed):
    rng = random.Random(f"hsb-{seed}")
    lo, hi = math.log(1024), math.log(10 * 1024 * 1024)
    lines = []
    for i in range(N_HSB - N_HASH_HITS):
        size = int(math.exp(rng.uniform(lo, hi)))
        lines.append(f"{rng.randbytes(32).hex()}:{size}:Bench.Hsb.Sig-{i:06d}-0")
    for i, p in enumerate(hash_payloads(seed)):
        lines.append(f"{hashlib.sha256(p).hexdigest()}:{len(p)}:{hash_hit_name(i)}")
    rng.shuffle(lines)
    return lines


def generate(outdir, seed):
    os.makedirs(outdir, exist_ok=True)
    with open(os.path.join(outdir, "bench.ndb"), "w") as f:
        for name, parts in ndb_signatures(seed):
            f.write(ndb_line(name, parts) + "\n")
    with open(os.path.join(outdir, "bench.hsb"), "w") as f:
        f.write("\n".join(hsb_lines(seed)) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir", nargs="?", default=os.path.join(os.path.dirname(__file__), "out", "db"))
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    generate(a.outdir, a.seed)
    print(f"gen_db: {N_NDB} ndb + {N_HSB} hsb signatures in {a.outdir} (seed {a.seed})",
          file=sys.stderr)


if __name__ == "__main__":
    main()
