"""Ward's .ndb and .ldb semantics, checked against ClamAV's clamscan.

Hundreds of small cases are generated from a fixed seed: a signature line and
a handful of files, some built to match it and some near misses (one byte
changed, a gap one byte too long, an offset one byte off, a boundary byte of
the wrong kind...). All signatures of a kind go into ONE database and all
files into one directory; both scanners run once over it:

    clamscan --no-summary --allmatch -d DB DIR
    ward scan --no-summary --all-match -d DB DIR

and each file must get the same SET of detection names from both. The
comparison is between the scanners, not with the generator's intent: a file
that matches a signature it was not built for is fine as long as both agree.
A failure names the case, its signature line, and for each differing file
its bytes, both answers and the lines of the signatures concerned.
test_comparison_is_not_vacuous checks that enough files matched for all this
to mean something; test_fixed_case keeps one hand-written case for each
difference found so far (all fixed in Ward).

What is deliberately not compared, each explained where the generator avoids
it:
- plain-text files: clamscan also matches target-0 signatures against the
  normalized text (libclamav's cli_scanscript), a layer Ward does not build
  for them; every file here carries three NULs early, which makes it binary
  to ClamAV (has_binary_marker);
- defects of libclamav 1.4 around (B), (L) and (W) inside a pattern, around
  alternatives of varying length, and in its shift-or prefilter
  (backward_spec, offset_reliable, clam_prefilter_ok, gen_filler_el "altv",
  build_file, LEAD), where Ward gives the right answer;
- the counts of subsignatures split in parts (gen_body_sub: loose), which
  libclamav counts per completed last part and Ward does not always;
- logical expressions true with no subsignature matched are checked on their
  own in test_ldb_true_with_nothing.

Set WARD_CONFORMANCE_KEEP=DIR to keep the generated databases and files, and
WARD_CONFORMANCE_SEED=N to try other cases than the fixed ones.
"""
import os
import pathlib
import random
import re
import shutil

import pytest

from conftest import run

CLAMSCAN = shutil.which("clamscan")
pytestmark = pytest.mark.skipif(CLAMSCAN is None, reason="clamscan is not installed")

SEED = int(os.environ.get("WARD_CONFORMANCE_SEED", "20240611"))
N_NDB = 280
N_LDB = 170
FILLER_MAX = 48  # random bytes around an instance
GAP_EXTRA = 6    # how far past its minimum an unbounded gap is stretched

INF = None

# ---------------------------------------------------------------------------
# bytes


def rand_byte(r):
    """Bytes for literals: mostly letters and digits (so that ::i, ::f and
    the boundary tests have something to do), sometimes anything."""
    x = r.random()
    if x < 0.45:
        return r.choice(b"abcdefghijklmnopqrstuvwxyz")
    if x < 0.6:
        return r.choice(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    if x < 0.7:
        return r.choice(b"0123456789")
    return r.randrange(1, 256)


def rand_lit(r, n):
    return bytes(rand_byte(r) for _ in range(n))


FILL_ALPHA = b"abcdefghijklmnopqrstuvwxyz ABCDEFGHIJ0123456789 .,;-_/\n\r\t\x00\x01\x7f\x80\xfe\xff"


def filler(r, n):
    """n bytes of noise: part text, part binary."""
    out = bytearray()
    for _ in range(n):
        if r.random() < 0.5:
            out.append(r.randrange(256))
        else:
            out.append(r.choice(FILL_ALPHA))
    return bytes(out)


# Bytes tried next to (B), (L), (W) and ::f: boundary and non-boundary ones.
EDGE_POOL = [b"\n", b"\r", b"\r\n", b" ", b"\t", b"-", b".", b"/", b"<", b">", b"@", b"_",
             b'"', b"'", b"=", b",", b"(", b"a", b"Z", b"5", b"\x00", b"\x80", b"\xff"]


def edge_bytes(r):
    return r.choice(EDGE_POOL)


def other_byte(r, avoid):
    while True:
        b = r.randrange(256)
        if b not in avoid:
            return b


# ---------------------------------------------------------------------------
# body signature elements
#
# Each element knows its signature text, how to produce bytes that match it
# (pos) and, where it can, bytes that almost do (neg). Lengths are in bytes of
# the ASCII form.


class Lit:
    def __init__(self, b):
        self.b = b

    def sig(self):
        return self.b.hex()

    def pos(self, r):
        return self.b

    def neg(self, r):
        i = r.randrange(len(self.b))
        c = self.b[i]
        if chr(c).isalpha() and c < 128 and r.random() < 0.5:
            d = ord(chr(c).swapcase())  # a case flip: a miss unless ::i
        else:
            d = other_byte(r, {c})
        return self.b[:i] + bytes([d]) + self.b[i + 1:]

    def maxlen(self):
        return len(self.b)


class Any:
    def sig(self):
        return "??"

    def pos(self, r):
        return bytes([r.randrange(256)])

    def neg(self, r):
        return b""  # one byte short

    def maxlen(self):
        return 1


class Nib:
    def __init__(self, high, v):
        self.high, self.v = high, v

    def sig(self):
        return f"{self.v:x}?" if self.high else f"?{self.v:x}"

    def ok(self, b):
        return (b >> 4 if self.high else b & 15) == self.v

    def pos(self, r):
        while True:
            b = r.randrange(256)
            if self.ok(b):
                return bytes([b])

    def neg(self, r):
        while True:
            b = r.randrange(256)
            if not self.ok(b):
                return bytes([b])

    def maxlen(self):
        return 1


class Gap:
    """`*`, `{n}`, `{-n}`, `{n-}`, `{n-m}` (lo..hi bytes, hi None: unbounded)."""

    def __init__(self, text, lo, hi):
        self.text, self.lo, self.hi = text, lo, hi

    def sig(self):
        return self.text

    def _hi(self):
        return self.lo + GAP_EXTRA if self.hi is None else max(self.lo, self.hi)

    def pos(self, r):
        return filler(r, r.randint(self.lo, self._hi()))

    def neg(self, r):
        opts = []
        if self.lo > 0:
            opts.append(self.lo - 1)
        if self.hi is not None and self.hi >= self.lo:
            opts.append(self.hi + 1)
        if not opts:
            return None
        return filler(r, r.choice(opts))

    def maxlen(self):
        return self._hi() + 1


class Alt:
    """`(aa|bb..)` or `!(aa|bb..)`."""

    def __init__(self, opts, neg=False):
        self.opts, self.negated = opts, neg

    def sig(self):
        return ("!" if self.negated else "") + "(" + "|".join(o.hex() for o in self.opts) + ")"

    def _outside(self, r):
        n = len(r.choice(self.opts))
        for _ in range(50):
            b = bytes(r.randrange(256) for _ in range(n))
            if b not in self.opts:
                return b
        return None

    def pos(self, r):
        return self._outside(r) if self.negated else r.choice(self.opts)

    def neg(self, r):
        return r.choice(self.opts) if self.negated else self._outside(r)

    def maxlen(self):
        return max(len(o) for o in self.opts)


class Spec:
    """(B), (L), (W), possibly negated, in the middle of a pattern: one byte
    (or CRLF) from the edge pool, which may or may not satisfy it."""

    def __init__(self, kind, negated=False):
        self.kind, self.negated = kind, negated

    def sig(self):
        return ("!" if self.negated else "") + f"({self.kind})"

    def pos(self, r):
        return edge_bytes(r)

    def neg(self, r):
        return self.pos(r)

    def maxlen(self):
        return 2


class Pattern:
    """A body signature: elements plus optional zero-width edges.

    left / right: None, or a Spec at the very start / end (a test of the byte
    outside the match). anchor: None, or (side, byte, lo, hi) for
    `aa[lo-hi]REST` (side "L") or `REST[lo-hi]aa` (side "R").
    """

    def __init__(self, els, left=None, right=None, anchor=None):
        # A special that ends up first (not negated) or last is an edge test.
        if not anchor and left is None and isinstance(els[0], Spec) and not els[0].negated:
            left = els.pop(0)
        if not anchor and right is None and isinstance(els[-1], Spec):
            right = els.pop()
        self.els, self.left, self.right, self.anchor = els, left, right, anchor

    def sig(self):
        s = "".join(e.sig() for e in self.els)
        if self.anchor:
            side, b, lo, hi = self.anchor
            rng = f"[{lo}-{hi}]" if lo != hi else f"[{lo}]"
            s = f"{b:02x}{rng}{s}" if side == "L" else f"{s}{rng}{b:02x}"
        if self.left:
            s = self.left.sig() + s
        if self.right:
            s = s + self.right.sig()
        return s

    def maxlen(self):
        n = sum(e.maxlen() for e in self.els)
        if self.anchor:
            n += self.anchor[3] + 1
        return n

    def instance(self, r, miss=False, wide=False):
        """(pre, body, post): body is where the match starts; pre must sit right
        before it and post right after it, None meaning "the file's edge".
        With miss, one element is replaced by a near miss."""
        parts = [e.pos(r) for e in self.els]
        kinds = [e for e in self.els]
        if miss:
            idx = [i for i, e in enumerate(self.els) if not isinstance(e, Spec)]
            for _ in range(4):
                i = r.choice(idx)
                n = self.els[i].neg(r)
                if n is not None:
                    parts[i] = n
                    break
        if wide:
            parts = [widen(p, r) if not isinstance(k, Gap) else
                     (p if r.random() < 0.5 else widen(p, r))
                     for p, k in zip(parts, kinds)]
        body = b"".join(parts)
        pre = b""
        post = b""
        if self.anchor:
            side, b, lo, hi = self.anchor
            if miss and r.random() < 0.4:
                d = r.choice([x for x in (lo - 1, hi + 1) if x >= 0])
            else:
                d = r.randint(lo, hi)
            if miss and r.random() < 0.2:
                b = other_byte(r, {b})
            gap = filler(r, d)
            if side == "L":
                # Where does the match start: at aa or after the range? Try both.
                if r.random() < 0.5:
                    pre = bytes([b]) + gap
                else:
                    body = bytes([b]) + gap + body
            else:
                body = body + gap + bytes([b])
        if self.left:
            e = None if r.random() < 0.25 else edge_bytes(r)
            pre = None if e is None else e + pre
        if self.right:
            # (at the end of the data only if no special takes a byte: see
            # build_file on libclamav running past the end)
            at_end = r.random() < 0.25 and not consuming_spec(self)
            post = None if at_end else post + edge_bytes(r)
        return pre, body, post


def widen(b, r):
    return b"".join(bytes([c, 0]) for c in b)


# ---------------------------------------------------------------------------
# libclamav's view of a body pattern
#
# libclamav splits a pattern into parts at `*` and at `{}` ranges (a short
# `{n}` is n `??` only while no other `{}` came before it), drops (B), (L), (W)
# at a part's edges into zero-width tests, and adds every part to its
# Aho-Corasick trie behind a shift-or prefilter. The helpers below model
# that much, so that the generator can stay clear of its known defects.


def split_flags(els):
    """For each element: is it a gap that splits the pattern?"""
    flags, braces_split = [], False
    for e in els:
        if not isinstance(e, Gap):
            flags.append(False)
        elif e.text == "*":
            flags.append(True)
        else:
            short = "-" not in e.text and 0 < e.lo < 128
            flags.append(not short or braces_split)
            braces_split = braces_split or not short
    return flags


def clam_parts(pat, mods=""):
    """The parts as lists of (kind, element): kind is "char", "any", "nib",
    "altc" (a single-byte alternative) or "special" (anything else)."""
    els, flags = pat.els, split_flags(pat.els)
    parts = [[]]
    for i, e in enumerate(els):
        if flags[i]:
            parts.append([])
            continue
        if isinstance(e, Spec):
            before_split = i + 1 < len(els) and flags[i + 1]
            after_split = i > 0 and flags[i - 1]
            if before_split or (after_split and not e.negated):
                continue  # a zero-width test at the part's edge
            parts[-1].append(("special", e))
        elif isinstance(e, Lit):
            parts[-1].extend([("char", e)] * len(e.b))
        elif isinstance(e, Gap):
            parts[-1].extend([("any", e)] * e.lo)
        elif isinstance(e, Any):
            parts[-1].append(("any", e))
        elif isinstance(e, Nib):
            parts[-1].append(("nib", e))
        else:
            single = all(len(o) == 1 for o in e.opts)
            # any modifier makes every alternative a generic one
            parts[-1].append(("altc" if single and not mods else "special", e))
    return parts


def filter_segment(part):
    """What the prefilter describes of a part (filtering.c): leading
    specials other than single-byte alternatives skipped, then up to the
    next such special."""
    i = 0
    while i < len(part) and part[i][0] == "special":
        i += 1
    j = i
    while j < len(part) and part[j][0] != "special":
        j += 1
    return part[i:j]


def clam_prefilter_ok(pat, mods=""):
    """Would libclamav 1.4 load `pat`, and can its prefilter see its matches?

    - It refuses a part its prefilter cannot describe: the segment must have
      two elements, two adjacent ones not both `??`. Ward has no prefilter
      and loads such signatures.
    - It refuses negated alternatives that are not plain literals of one
      length, and any negation once a modifier is present.
    - Its prefilter mishandles a negated single-byte alternative (it lets
      through only a NUL in that position), so a match is found only near
      the end of the data or after some other signature's prefilter hit:
      `!(6a)46...` misses "ca46..." in a long file. Such a negation is kept
      out of the first two positions of a segment.
    """
    for e in pat.els:
        if isinstance(e, Alt) and e.negated and (mods or len({len(o) for o in e.opts}) > 1):
            return False
    for part in clam_parts(pat, mods):
        if all(k == "char" for k, _ in part):
            continue
        seg = [k for k, _ in filter_segment(part)]
        if len(seg) < 2 or all(a == "any" and b == "any" for a, b in zip(seg, seg[1:])):
            return False
        negs = [i for i, (k, e) in enumerate(filter_segment(part)) if k == "altc" and e.negated]
        if negs and seg[:2] != ["char", "char"]:
            return False
    return True


def consuming_spec(pat):
    """Has `pat` a (B), (L) or (W) that takes a byte (not at a part's edge)?"""
    return any(k == "special" and isinstance(e, Spec) for part in clam_parts(pat) for k, e in part)


def offset_reliable(pat):
    """Does libclamav check this pattern's offset right?

    An alternative of varying length in the part before its Aho-Corasick
    anchor makes its first offset check wrap below zero for a match within
    (longest - shortest) bytes of the start of the data:
    `0:(6d|653a6f)39792d` misses "m9y-" at offset 0 (and at 1). Ward is
    right; such patterns get no offset here. (For (B), (L) and (W) there
    see backward_spec.)
    """
    return not varying_alt(pat)


def varying_alt(pat):
    """Has `pat` an alternative whose options differ in length?"""
    return any(isinstance(e, Alt) and len({len(o) for o in e.opts}) > 1 for e in pat.els)


def multipart(pat):
    return any(split_flags(pat.els))


def backward_spec(pat):
    """Has `pat` a (B), (L) or (W) taking a byte that libclamav matches
    backwards, in the prefix of a part (before the static run it picks as
    the part's anchor in its Aho-Corasick trie, cli_ac_addsig)?

    Those specials count for nothing in its pattern lengths, which breaks
    three things there (Ward is right on all three):
    - the start of a match is reported one byte late per special, so an
      offset check fails: `714b?1(W)707565` at 29 matches only with 29,1;
    - the prefilter may cut the data inside the prefix, and the backward
      match then stops at the cut, unchecked: `b343(B)!(3291|644b)5372c5`
      matches "..c1 43 2f 48 cc 53 72 c5.." in one file, not in another;
    - backwards, (L) takes only the LF of a CRLF, and near the start of the
      data the match reads before its buffer (1.4.6 crashes on
      `(W)(L)6f7547(W)` and a file starting with "ouG").
    The generator keeps (B), (L) and (W) out of such prefixes.
    """
    for part in clam_parts(pat):
        pos = ["c" if k == "char" else "w" for k, _ in part]
        if all(x == "c" for x in pos[:3]):
            continue
        plen = ppos = 0
        for i in range(len(pos) - 1):
            for j in range(i, min(i + 3, len(pos))):
                if pos[j] != "c":
                    break
                if j - i + 1 >= plen:
                    plen, ppos = j - i + 1, i
            if plen >= 3:
                break
        if any(isinstance(e, Spec) for k, e in part[:ppos]):
            return True
    return False


# ---------------------------------------------------------------------------
# random body signatures


def gen_gap(r, feature=None):
    """A splitting or non-splitting gap: text, lo, hi."""
    k = feature or r.choice(["*", "{n}", "{-n}", "{n-}", "{n-m}", "??"])
    if k == "*":
        return Gap("*", 0, INF)
    if k == "{n}":
        n = r.choice([1, 2, 3, 5, 8]) if r.random() < 0.9 else r.choice([0, 128, 130])
        return Gap(f"{{{n}}}", n, n if n else INF)
    if k == "{-n}":
        n = r.randint(0, 8)
        return Gap(f"{{-{n}}}", 0, n if n else INF)
    if k == "{n-}":
        n = r.randint(0, 6)
        return Gap(f"{{{n}-}}", n, INF)
    if k == "{n-m}":
        a = r.randint(0, 5)
        b = a + r.randint(0, 5)
        if r.random() < 0.05:
            a, b = b + 1, a  # impossible: never matches
        return Gap(f"{{{a}-{b}}}", a, b if b else INF)
    return Any()


def gen_filler_el(r, feature=None):
    """A non-literal element that does not split the signature."""
    k = feature or r.choice(["??", "a?", "?a", "alt1", "altn", "altv", "nalt1", "naltn",
                             "B", "L", "W"])
    if k == "??":
        return Any()
    if k == "a?":
        return Nib(True, r.randrange(16))
    if k == "?a":
        return Nib(False, r.randrange(16))
    if k == "alt1":
        return Alt(list(dict.fromkeys(bytes([rand_byte(r)]) for _ in range(r.randint(2, 4)))))
    if k == "altn":
        n = r.randint(2, 3)
        opts = list(dict.fromkeys(rand_lit(r, n) for _ in range(r.randint(2, 3))))
        return Alt(opts if len(opts) > 1 else opts + [rand_lit(r, n)])
    if k == "altv":
        while True:
            opts = list(dict.fromkeys(rand_lit(r, r.randint(1, 3)) for _ in range(r.randint(2, 3))))
            # Not one option a prefix of another: libclamav then backtracks
            # through a branch that, for the first element of the part it
            # matches backwards, starts at index -1 and misses real matches
            # (`(6c|6c4717)537a...` does not match "6c537a...").
            if not any(a != b and b.startswith(a) for a in opts for b in opts):
                return Alt(opts)
    if k == "nalt1":
        opts = dict.fromkeys(bytes([rand_byte(r)]) for _ in range(r.randint(1, 3)))
        return Alt(list(opts), neg=True)
    if k == "naltn":
        n = r.randint(2, 3)
        return Alt(list(dict.fromkeys(rand_lit(r, n) for _ in range(r.randint(2, 3)))), neg=True)
    return Spec(k, negated=r.random() < 0.15)


def gen_pattern(r, feature):
    """A random body pattern that exercises `feature` (one of FEATURES)."""
    while True:
        p = gen_pattern1(r, feature)
        if not backward_spec(p):
            return p


def gen_pattern1(r, feature):
    def part(nmin=2):
        """A run of elements with at least one literal run of >= 2 bytes."""
        els = [Lit(rand_lit(r, r.randint(nmin, 4)))]
        for _ in range(r.randint(0, 2)):
            e = gen_filler_el(r) if r.random() < 0.5 else Lit(rand_lit(r, r.randint(1, 3)))
            if r.random() < 0.5:
                els.insert(0, e)
            else:
                els.append(e)
        return els

    left = right = anchor = None
    if feature in ("??", "a?", "?a", "alt1", "altn", "altv", "nalt1", "naltn", "B", "L", "W"):
        e = gen_filler_el(r, feature)
        where = r.choice(["start", "middle", "end"])
        if feature in ("B", "L", "W") and where != "middle":
            lit = part(3)
            if where == "start":
                left = e
                if e.negated:  # a negated special at the start is not an edge test
                    els = [e] + lit
                    left = None
                else:
                    els = lit
            else:
                right = e
                els = lit
        elif where == "start":
            els = [e] + part(3)
        elif where == "end":
            els = part(3) + [e]
        else:
            els = part(2) + [e] + part(2)
    elif feature in ("*", "{n}", "{-n}", "{n-}", "{n-m}"):
        els = part(2) + [gen_gap(r, feature)] + part(2)
        if r.random() < 0.3:
            els += [gen_gap(r)] + part(2)
    elif feature == "[n-m]":
        lo = r.randint(0, 4)
        hi = lo + r.randint(0, 4)
        els = [Lit(rand_lit(r, r.randint(2, 4)))]
        if r.random() < 0.4:
            els += [gen_filler_el(r, r.choice(["??", "alt1", "a?"])), Lit(rand_lit(r, 2))]
        anchor = (r.choice("LR"), rand_byte(r), lo, hi)
    elif feature == "mixed":
        els = part(2)
        for _ in range(r.randint(1, 3)):
            if r.random() < 0.4:
                els += [gen_gap(r)]
            els += part(2)
        if r.random() < 0.2:
            left = Spec(r.choice("BLW"))
        if r.random() < 0.2:
            right = Spec(r.choice("BLW"), negated=r.random() < 0.2)
    else:  # plain hex
        els = [Lit(rand_lit(r, r.randint(3, 10)))]
    # A static-only pattern needs 3 bytes (ClamAV's Boyer-Moore matcher).
    p = Pattern(els, left, right, anchor)
    if all(isinstance(e, Lit) for e in els) and sum(len(e.b) for e in els) < 3 and not anchor:
        els.append(Lit(rand_lit(r, 1)))
    return p


FEATURES = ["hex", "??", "a?", "?a", "*", "{n}", "{-n}", "{n-}", "{n-m}", "[n-m]",
            "alt1", "altn", "altv", "nalt1", "naltn", "B", "L", "W", "mixed"]

# ---------------------------------------------------------------------------
# placing instances in files


# Files start with this unless an offset puts a match there: no literal of a
# generated pattern has a NUL, so no match can start within it. libclamav
# reads before its buffer when a part of a pattern it matches backwards (a
# (B), (L) or (W) among it) would start before the data, and 1.4.6 can crash
# there: `(B)!(L)336d32` on a file beginning with "3m2".
LEAD = b"\x00" * 8


def has_binary_marker(data):
    # Three NULs make libclamav's text detection (ASCII, UTF-8, UTF-16) fail.
    return b"\x00\x00\x00" in data[2:1000]


def noise(r, n):
    """Filler that carries the binary marker when there is room."""
    if n < 3:
        return filler(r, n)
    f = bytearray(filler(r, n))
    i = r.randrange(n - 2)
    f[i:i + 3] = b"\x00\x00\x00"
    return bytes(f)


def build_file(r, inst, off, miss_offset=False):
    """Lay out (pre, body, post) so that body starts as `off` says.

    off: ("*",), ("abs", n, shift) or ("eof", n, shift). With miss_offset the
    start is moved just outside the allowed window.
    """
    pre, body, post = inst
    kind = off[0]
    if kind == "*":
        before = b"" if pre is None else LEAD + noise(r, r.randint(0, FILLER_MAX)) + pre
        # Some bytes after the match too: libclamav lets the end of a
        # pattern with (B), (L) or (W) in it run past the end of the data
        # (they count for nothing in its minimum length), so
        # `186d32(B)6d6f410e??` matches a file ending in "..0d 6d 6f 41 0e".
        after = b"" if post is None else post + noise(r, r.randint(4, FILLER_MAX))
        return before + body + after
    n, shift = off[1], off[2]
    if miss_offset:
        delta = r.choice([-2, -1, shift + 1, shift + 2])
    else:
        delta = r.randint(0, shift) if r.random() < 0.8 else r.randint(-1, shift + 1)
    if kind == "abs":
        start = n + delta
        if start < 0:
            start = n + shift + 1
        if pre is None:
            pre = b""
        pre = pre[-start:] if start else b""
        before = noise(r, start - len(pre)) + pre
        after = b"" if post is None else post + noise(r, r.randint(4, FILLER_MAX))
        return before + body + after
    # EOF-n: body starts at size - n + delta
    tail = n - delta - len(body)
    if post is None:
        post = b""
    if tail < len(post):
        post = post[:max(tail, 0)]
    if tail < 0:
        return None
    after = post + filler(r, tail - len(post))
    before = b"" if pre is None else noise(r, r.randint(4, FILLER_MAX)) + pre
    if pre is None and not has_binary_marker(body + after):
        before = b""
    return before + body + after


def gen_offset(r, pat):
    x = r.random()
    if x < 0.5 or not offset_reliable(pat):
        return ("*",), "*"
    if x < 0.65:
        n = r.randint(0, 30)
        return ("abs", n, 0), str(n)
    if x < 0.75:
        n, s = r.randint(0, 30), r.randint(1, 10)
        return ("abs", n, s), f"{n},{s}"
    n = pat.maxlen() + r.randint(3, 12)  # something after the match (see build_file)
    if x < 0.9:
        return ("eof", n, 0), f"EOF-{n}"
    s = r.randint(1, 8)
    return ("eof", n, s), f"EOF-{n},{s}"


# ---------------------------------------------------------------------------
# .ndb cases


class Case:
    def __init__(self, kind, name, line, feature):
        self.kind, self.name, self.line, self.feature = kind, name, line, feature
        self.files = {}  # file name -> bytes

    def add(self, r, data):
        if data is None or not has_binary_marker(data):
            return
        fname = f"{self.name}_{len(self.files)}"
        self.files[fname] = data

    def __repr__(self):
        return self.name


def gen_ndb_cases(r):
    cases = []
    for i in range(N_NDB):
        feature = FEATURES[i % len(FEATURES)]
        pat = gen_pattern(r, feature)
        while not clam_prefilter_ok(pat):
            pat = gen_pattern(r, feature)
        off, off_text = gen_offset(r, pat)
        name = f"Conf.Ndb.{feature.replace('?', 'Q').replace('*', 'Star')}.{i:03d}"
        name = re.sub(r"[^A-Za-z0-9.]", "_", name)
        c = Case("ndb", name, f"{name}:0:{off_text}:{pat.sig()}", feature)
        c.off = off
        for _ in range(3):
            c.add(r, build_file(r, pat.instance(r), off))
        for _ in range(3):
            c.add(r, build_file(r, pat.instance(r, miss=True), off))
        if off[0] != "*":
            for _ in range(2):
                c.add(r, build_file(r, pat.instance(r), off, miss_offset=True))
        cases.append(c)
    return cases


# ---------------------------------------------------------------------------
# .ldb cases


class Sub:
    """A subsignature: a body pattern with offset and modifiers, or a PCRE."""

    def __init__(self, text, gen, off=("*",)):
        self.text, self.gen, self.off = text, gen, off
        self.loose = False


def gen_body_sub(r):
    mods = ""
    x = r.random()
    if x < 0.12:
        mods = "i"
    elif x < 0.22:
        mods = "w"
    elif x < 0.3:
        mods = "wa"
    elif x < 0.38:
        mods = "f"
    elif x < 0.42:
        mods = "a"
    elif x < 0.47:
        mods = r.choice(["iw", "if", "fw", "iwa"])
    features = ["hex", "hex", "hex", "??", "alt1", "altn", "{n-m}", "*", "{n}", "B", "W",
                "nalt1", "mixed"]
    if "w" in mods or "f" in mods:
        # keep wide and fullword forms to what both document plainly
        features = ["hex", "hex", "??", "{n-m}", "*", "{n}", "alt1"]
    while True:
        pat = gen_pattern(r, r.choice(features))
        if ("f" in mods or "w" in mods) and pat.anchor:
            continue
        if "f" in mods and (pat.left or pat.right):
            # ::f puts (W) around the pattern, making its edge specials
            # middle ones, matched backwards (see backward_spec).
            continue
        if clam_prefilter_ok(pat, mods):
            break
    off_prefix = ""
    off = ("*",)
    y = r.random() if offset_reliable(pat) else 1
    if y < 0.12:
        n = r.randint(0, 20)
        off, off_prefix = ("abs", n, 0), f"{n}:"
    elif y < 0.2:
        n, s = r.randint(0, 20), r.randint(1, 8)
        off, off_prefix = ("abs", n, s), f"{n},{s}:"
    elif y < 0.28:
        n = pat.maxlen() * (2 if "w" in mods else 1) + r.randint(3, 10)
        off, off_prefix = ("eof", n, 0), f"EOF-{n}:"

    def gen(r, miss=False):
        wide = "w" in mods and ("a" not in mods or r.random() < 0.5)
        pre, body, post = pat.instance(r, miss=miss, wide=wide)
        if "i" in mods and r.random() < 0.5:
            body = bytes(ord(chr(c).swapcase()) if c < 128 and chr(c).isalpha() else c
                         for c in body)
        if "f" in mods:
            pre = None if r.random() < 0.2 else edge_bytes(r) + (pre or b"")
            post = None if r.random() < 0.2 else (post or b"") + edge_bytes(r)
        return pre, body, post

    text = off_prefix + pat.sig() + (f"::{mods}" if mods else "")
    sub = Sub(text, gen, off)
    # libclamav counts a pattern split in parts (by `*` or `{n-m}`) once per
    # completed last part, even when the first part starts at the same place
    # (lsig_sub_matched with partial=1). Ward counts the ends of Vectorscan's
    # matches (the same, mostly) unless it confirms the match with PCRE2 (an
    # offset, a look-around), and then counts distinct starts. The counts of
    # such subsignatures are not compared (see the module's report).
    sub.loose = multipart(pat)
    return sub


WORDS = [b"alpha", b"bravo", b"delta", b"gamma", b"kilo", b"tango", b"zulu", b"ward",
         b"clam", b"quux", b"blob", b"mime"]


def gen_pcre_sub(r, index):
    """A PCRE subsignature whose trigger names earlier subsignatures."""
    trig = str(r.randrange(index)) if r.random() < 0.7 or index < 2 else \
        f"{r.randrange(index)}|{r.randrange(index)}"
    w1, w2 = r.sample(WORDS, 2)
    shape = r.choice(["lit", "class", "dot", "alt", "rep", "semi"])
    flags = "".join(f for f in "igs" if r.random() < 0.35)

    def case(b):
        if "i" in flags and r.random() < 0.5:
            return b.upper()
        return b

    if shape == "lit":
        rx = w1.decode() + w2.decode()

        def pos(r):
            return case(w1 + w2)

        def neg(r):
            return w1 + w2[:-1] + b"!"
    elif shape == "class":
        rx = w1.decode() + "[0-9]{2,3}" + w2.decode()

        def pos(r):
            return case(w1) + str(r.randint(10, 999)).encode() + case(w2)

        def neg(r):
            return w1 + b"7" + w2
    elif shape == "dot":
        rx = w1.decode() + "." + w2.decode()

        def pos(r):
            return case(w1) + bytes([r.choice(b"x\n-")]) + case(w2)

        def neg(r):
            return w1 + b"\n" + w2 if r.random() < 0.5 else w1 + w2
    elif shape == "alt":
        rx = f"({w1.decode()}|{w2.decode()})x[a-z]+y"

        def pos(r):
            return case(r.choice([w1, w2])) + b"x" + rand_lit_lower(r) + b"y"

        def neg(r):
            return w1 + b"xy"
    elif shape == "rep":
        rx = w1.decode() + r"\d+" + w2.decode()

        def pos(r):
            return case(w1) + str(r.randint(0, 99999)).encode() + case(w2)

        def neg(r):
            return w1 + b"x" + w2
    else:  # a ';' inside the regex (libclamav tokenizes .ldb lines PCRE-aware)
        rx = w1.decode() + ";" + w2.decode()

        def pos(r):
            return case(w1 + b";" + w2)

        def neg(r):
            return w1 + b"," + w2
    off_prefix, off = "", ("*",)
    y = r.random()
    if y < 0.15:
        n = r.randint(0, 20)
        off, off_prefix = ("abs", n, 0), f"{n}:"
    elif y < 0.3:
        n, s = r.randint(0, 20), r.randint(1, 12)
        off, off_prefix = ("abs", n, s), f"{n},{s}:"
    elif y < 0.36:
        n = 24 + r.randint(0, 10)
        off, off_prefix = ("eof", n, 0), f"EOF-{n}:"

    def gen(r, miss=False):
        return b"", (neg(r) if miss else pos(r)), b""

    return Sub(f"{off_prefix}{trig}/{rx}/{flags}", gen, off)


def rand_lit_lower(r):
    return bytes(r.choice(b"abcdefghij") for _ in range(r.randint(1, 4)))


def gen_expr(r, n, loose=()):
    """A random logical expression over subsignatures 0..n-1, each used;
    no count applies to the subsignatures in `loose` (see gen_ldb_cases)."""
    ids = list(range(n))
    r.shuffle(ids)

    def count_mod(items):
        x = r.random()
        if x < 0.6 or any(i in loose for i in items):
            return ""
        op = r.choice("=><")
        if op == "<":
            v = r.randint(1, 3)
        elif op == ">":
            v = r.randint(0, 2)
        else:
            v = r.randint(1, 3)
        extra = ""
        if r.random() < 0.3 and op != "<":
            extra = f",{r.randint(1, 2)}"
        return f"{op}{v}{extra}"

    def build(items):
        if len(items) == 1:
            return str(items[0]) + count_mod(items)
        k = r.randint(1, len(items) - 1)
        left, right = build(items[:k]), build(items[k:])
        op = r.choice("&|")
        if r.random() < 0.5:
            expr = f"{left}{op}{right}"
            if r.random() < 0.6:
                return f"({expr})" + count_mod(items)
            return expr
        return f"({left}){op}({right})" if r.random() < 0.5 else f"{left}{op}({right})"

    return build(ids)


def lexpr_eval(expr, counts):
    """libclamav's reading of a logical expression (cli_ac_chklsig), for
    well-formed input: split at the first operator outside parentheses (the
    right side read again), else, for one parenthesized block with an
    optional count, at the LAST operator directly inside it.
    Returns (true, count, ids)."""
    depth, op_at, op1_at, blk_end, blk_mod = 0, None, None, None, None
    i = 0
    while i < len(expr):
        ch = expr[i]
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch in "&|":
            if depth == 0:
                op_at = i
                break
            if depth == 1:
                op1_at = i
        if op1_at is not None and depth == 0:
            blk_end = i
            m = re.match(r"([=<>])(\d+)(?:,(\d+))?", expr[i + 1:])
            if m:
                blk_mod = m
                i += m.end()
            if i + 1 == len(expr):
                break
            blk_mod = None
        i += 1
    if op_at is None and op1_at is None:
        if expr[0] == "(":
            return lexpr_eval(expr[1:-1], counts)
        m = re.fullmatch(r"(\d+)(?:([=<>])(\d+)(?:,\d+)?)?", expr)
        sid, op, x = int(m.group(1)), m.group(2), m.group(3)
        cnt = counts.get(sid, 0)
        if op:
            x = int(x)
            ok = cnt == x if op == "=" else cnt > x if op == ">" else cnt < x
        else:
            ok = cnt > 0
        return (True, cnt, {sid}) if ok else (False, 0, set())
    if op_at is None:
        left, right, op = expr[1:op1_at], expr[op1_at + 1:blk_end], expr[op1_at]
    else:
        left, right, op = expr[:op_at], expr[op_at + 1:], expr[op_at]
        blk_mod = None
    lt, lc, li = lexpr_eval(left, counts)
    rt, rc, ri = lexpr_eval(right, counts)
    ok = (lt and rt) if op == "&" else (lt or rt)
    cnt, ids = (lc + rc, li | ri) if ok else (0, set())
    if not blk_mod:
        return (ok, cnt, ids) if ok else (False, 0, set())
    bop, x, y = blk_mod.group(1), int(blk_mod.group(2)), blk_mod.group(3)
    ok = cnt == x if bop == "=" else cnt > x if bop == ">" else cnt < x
    if y and len(ids) < int(y):
        ok = False
    return (True, cnt, set()) if ok else (False, 0, set())


def gen_ldb_cases(r):
    cases = []
    for i in range(N_LDB):
        n_body = r.randint(1, 4)
        subs = [gen_body_sub(r) for _ in range(n_body)]
        n_pcre = 0
        if r.random() < 0.3:
            n_pcre = r.randint(1, 2)
            for _ in range(n_pcre):
                subs.append(gen_pcre_sub(r, len(subs)))
        n = len(subs)
        loose = {i for i, s in enumerate(subs) if s.loose}
        expr = gen_expr(r, n, loose)
        while lexpr_eval(expr, {})[0]:
            # True with no subsignature matched: see test_ldb_true_with_nothing.
            expr = gen_expr(r, n, loose)
        name = f"Conf.Ldb.{i:03d}"
        tdb = "Engine:81-255,Target:0" if n_pcre or r.random() < 0.3 else "Target:0"
        line = f"{name};{tdb};{expr};" + ";".join(s.text for s in subs)
        c = Case("ldb", name, line, "pcre" if n_pcre else "body")
        for f in range(r.randint(5, 8)):
            c.add(r, build_ldb_file(r, subs, f))
        cases.append(c)
    return cases


def build_ldb_file(r, subs, which):
    """A file holding 0..3 instances of each subsignature, some near misses."""
    head = bytearray()   # absolute-offset instances
    middle = []          # floating instances
    tail = None          # an EOF-n instance
    for s in subs:
        k = r.choice([0, 1, 1, 1, 2, 3]) if which else 1
        for _ in range(k):
            miss = r.random() < 0.25
            pre, body, post = s.gen(r, miss)
            if s.off[0] == "abs" and not head:
                n, shift = s.off[1], s.off[2]
                start = n + (r.randint(0, shift) if r.random() < 0.8 else
                             r.choice([-1, shift + 1]))
                start = max(start, 0)
                p = (pre or b"")[-start:] if start else b""
                head = bytearray(filler(r, start - len(p)) + p + body + (post or b""))
            elif s.off[0] == "eof" and tail is None:
                n = s.off[1] + r.choice([0, 0, 0, -1, 1])
                t = n - len(body)
                if t < 0:
                    continue
                tail = (pre or b"") + body + ((post or b"") + filler(r, t))[:t]
            else:
                middle.append((pre or b"") + body + (post or b""))
    r.shuffle(middle)
    mid = b"".join(noise(r, r.randint(3, 24)) + m for m in middle) + noise(r, r.randint(3, 24))
    return (bytes(head) or LEAD) + mid + (tail or b"")


# ---------------------------------------------------------------------------
# generation (at import, so that cases can be parametrized)

_rng = random.Random(SEED)
NDB_CASES = gen_ndb_cases(_rng)
LDB_CASES = gen_ldb_cases(_rng)

# ---------------------------------------------------------------------------
# running both scanners

FOUND = re.compile(r"^(.*): (\S+) FOUND$")


def parse_found(text, names):
    """{file basename: set of names} from scanner output (known names only)."""
    out = {}
    for line in text.splitlines():
        m = FOUND.match(line)
        if not m:
            continue
        name = m.group(2)
        if name.endswith(".UNOFFICIAL"):
            name = name[: -len(".UNOFFICIAL")]
        if name not in names:
            continue  # e.g. a heuristic detection of clamscan's own
        out.setdefault(os.path.basename(m.group(1)), set()).add(name)
    return out


class Results:
    def __init__(self, cases, clam, ward, dbfile):
        self.cases, self.clam, self.ward, self.dbfile = cases, clam, ward, dbfile
        self.by_name = {c.name: c for c in cases}


def scan_both(kind, cases, workdir, ward_bin):
    workdir.mkdir(parents=True, exist_ok=True)
    db = workdir / f"conformance.{kind}"
    db.write_text("".join(c.line + "\n" for c in cases))
    files = workdir / f"{kind}-files"
    files.mkdir(exist_ok=True)
    for c in cases:
        for fname, data in c.files.items():
            (files / fname).write_bytes(data)
    names = {c.name for c in cases}
    cp = run([CLAMSCAN, "--no-summary", "--allmatch", "-d", db, files], timeout=300)
    assert cp.returncode in (0, 1), (
        f"clamscan failed on {db} (exit {cp.returncode}):\n"
        f"{cp.stderr.decode(errors='replace')[-3000:]}")
    env = dict(os.environ, XDG_CACHE_HOME=str(workdir / "cache"), HOME=str(workdir))
    wp = run([ward_bin, "scan", "--no-summary", "--all-match", "-d", db, files], timeout=300,
             env=env)
    assert wp.returncode in (0, 1), (
        f"ward failed on {db} (exit {wp.returncode}):\n"
        f"{wp.stderr.decode(errors='replace')[-3000:]}")
    return Results(cases, parse_found(cp.stdout.decode(errors="replace"), names),
                   parse_found(wp.stdout.decode(errors="replace"), names), db)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    keep = os.environ.get("WARD_CONFORMANCE_KEEP")
    if keep:
        p = pathlib.Path(keep)
        shutil.rmtree(p, ignore_errors=True)
        p.mkdir(parents=True)
        return p
    return tmp_path_factory.mktemp("conformance")


@pytest.fixture(scope="module")
def ndb_results(workdir, ward_bin):
    return scan_both("ndb", NDB_CASES, workdir / "ndb", ward_bin)


@pytest.fixture(scope="module")
def ldb_results(workdir, ward_bin):
    return scan_both("ldb", LDB_CASES, workdir / "ldb", ward_bin)


def show(data, limit=160):
    h = data[:limit].hex(" ")
    return h + (f" ... ({len(data)} bytes)" if len(data) > limit else f" ({len(data)} bytes)")


def mismatches(res, case):
    """Human-readable differences for the files of one case."""
    out = []
    for fname, data in case.files.items():
        c = res.clam.get(fname, set())
        w = res.ward.get(fname, set())
        if c == w:
            continue
        lines = [f"file {fname}: {show(data)}",
                 f"  clamscan: {sorted(c) or 'clean'}",
                 f"  ward:     {sorted(w) or 'clean'}"]
        for n in sorted(c ^ w):
            lines.append(f"  signature: {res.by_name[n].line}")
        out.append("\n".join(lines))
    return out


def check_case(res, case):
    diff = mismatches(res, case)
    assert not diff, (f"{case.name} ({case.feature}) differs from clamscan\n"
                      f"  {case.line}\n" + "\n".join(diff))


@pytest.mark.parametrize("case", NDB_CASES, ids=lambda c: c.name)
def test_ndb_matches_clamscan(ndb_results, case):
    check_case(ndb_results, case)


@pytest.mark.parametrize("case", LDB_CASES, ids=lambda c: c.name)
def test_ldb_matches_clamscan(ldb_results, case):
    check_case(ldb_results, case)


def positives(res):
    """(files clamscan detected, cases with at least one own detection)."""
    files = sum(1 for c in res.cases for f in c.files if res.clam.get(f))
    own = sum(1 for c in res.cases if any(c.name in res.clam.get(f, ()) for f in c.files))
    return files, own


@pytest.mark.parametrize("kind", ["ndb", "ldb"])
def test_comparison_is_not_vacuous(kind, request):
    res = request.getfixturevalue(f"{kind}_results")
    n_files = sum(len(c.files) for c in res.cases)
    files, own = positives(res)
    # Each case has files built to match; most must have matched in clamscan.
    least = 0.75 if kind == "ndb" else 0.5
    assert own >= len(res.cases) * least, f"only {own} of {len(res.cases)} {kind} cases matched"
    assert files >= n_files * 0.25, f"only {files} of {n_files} {kind} files matched"
    negatives = n_files - files
    assert negatives >= n_files * 0.15, f"only {negatives} of {n_files} {kind} files are clean"


# ---------------------------------------------------------------------------
# fixed cases: one for each difference found (and fixed) with the random ones,
# with the answer clamscan gives (checked here too)

FIXED = [
    # (B), (L), (W) at the edge of a part are zero-width, as at the ends
    ("ndb", "PartEdgeW", "0:*:616263{-5}(W)646566",
     [(b"abcxyz12!def", False), (b"abcdef", False), (b"abc-def", True), (b"abcxyz1!def", True)]),
    ("ndb", "PartEdgeB", "0:*:616263(B)*646566",
     [(b"abc.def", False), (b"abc def", True), (b"abc_xdef", True)]),
    # after a `{n-m}`, a short `{n}` splits too
    ("ndb", "LaterBrace", "0:*:616263{1-2}646566{2}(B)676869",
     [(b"abcxdefq_ghi", True), (b"abcxdefq>ghi", False), (b"abcxdefqq_ghi", False)]),
    ("ndb", "ShortBraceFirst", "0:*:616263{2}(B)646566{1-2}676869",
     [(b"abcqq_defxghi", True), (b"abcq_defxghi", False)]),
    # `[0]` (Vectorscan refuses `.{0}`)
    ("ndb", "AnchorZero", "0:*:616263[0]64", [(b"abcd", True), (b"abcxd", False)]),
    # !(L) takes a CR not followed by LF
    ("ndb", "NotLineCR", "0:*:616263!(L)646566",
     [(b"abc\rdef", True), (b"abc\ndef", False), (b"abcxdef", True)]),
    ("ndb", "NotLineEnd", "0:*:61626364!(L)",
     [(b"abcd\rx", True), (b"abcd\r\nx", False), (b"abcd\nx", False)]),
    # a parenthesized block splits at its last operator
    ("ldb", "Group", "Target:0;(0&1|2);616263;646566;676869", [(b"xghix", True), (b"abcx", False)]),
    ("ldb", "NoGroup", "Target:0;0&1|2;616263;646566;676869",
     [(b"xghix", False), (b"abc ghi", True)]),
    ("ldb", "LastOpInBlock", "Target:0;(1|0&1|2);616263;646566;676869",
     [(b"xghix", True), (b"abcx", False)]),
    # a true `0<1` counts as a distinct subsignature
    ("ldb", "IdsOfTrueZero", "Target:0;(0<1|1)>0,2;616263;646566",
     [(b"xdefx", True), (b"abc def", False)]),
    # ';' inside a PCRE
    ("ldb", "SemicolonPcre", "Target:0;0&1;616263;0/x;y/",
     [(b"abc x;y", True), (b"abc x,y", False)]),
    # ::f next to a wide string looks at UTF-16 units
    ("ldb", "WideWord", "Target:0;0;414243::wf",
     [(b"xyA\0B\0C\0Zq", True), (b"x\0A\0B\0C\0!\0", False), (b"x!A\0B\0C\0Z\0", False)]),
    ("ldb", "WideAsciiWord", "Target:0;0;414243::waf",
     [(b"-ABC-", True), (b"xABC!", False), (b"xyA\0B\0C\0Zq", True)]),
    # ::i does not fold the case of a nibble
    ("ldb", "NibbleCase", "Target:0;0;61625?63::i",
     [(b"ABTC", True), (b"abtc", False), (b"AB_C", True)]),
    # ::f writes (W) around the signature: a (B) at its start takes a byte
    ("ldb", "FullwordSpecial", "Target:0;0;(B)616263::f", [(b"x abc-", False), (b"- abc-", True)]),
]


def fixed_cases():
    cases = {"ndb": [], "ldb": []}
    for kind, name, sig, files in FIXED:
        full = f"Conf.Fix.{name}"
        c = Case(kind, full, f"{full}{':' if kind == 'ndb' else ';'}{sig}", name)
        c.expect = {}
        for data, want in files:
            fname = f"{full}_{len(c.files)}"
            c.files[fname] = LEAD + data + b"\x01\x02\x03\x04"
            c.expect[fname] = want
        cases[kind].append(c)
    return cases


@pytest.fixture(scope="module")
def fixed_results(workdir, ward_bin):
    """kind -> results, each kind scanned on first use (so that a database one
    scanner refuses fails the tests of its kind only)."""
    done = {}

    def get(kind):
        if kind not in done:
            done[kind] = scan_both(kind, fixed_cases()[kind], workdir / f"fixed-{kind}", ward_bin)
        return done[kind]

    return get


@pytest.mark.parametrize("kind,name", [(k, n) for k, n, _, _ in FIXED])
def test_fixed_case(fixed_results, kind, name):
    res = fixed_results(kind)
    case = res.by_name[f"Conf.Fix.{name}"]
    check_case(res, case)
    for fname, want in case.expect.items():
        got = case.name in res.clam.get(fname, ())
        assert got == want, f"clamscan no longer gives {want} for {case.line} on {fname}"


# ---------------------------------------------------------------------------
# an expression that holds with no subsignature matched applies to every object
# (libclamav evaluates every logical signature for every object, cli_exp_eval)


def test_ldb_true_with_nothing(workdir, ward_bin):
    lines = ["Conf.Zero.Lt;Target:0;0<1;616263",
             "Conf.Zero.EqZero;Target:0;0=0|1;616263;646566",
             "Conf.Zero.Group;Target:0;(0|1)<1;616263;646566"]
    cases = [Case("ldb", line.split(";")[0], line, "zero") for line in lines]
    cases[0].files["Conf.Zero_0"] = LEAD + b"nothing to see here" + LEAD
    res = scan_both("ldb", cases, workdir / "zero", ward_bin)
    want = {c.name for c in cases}
    assert res.clam.get("Conf.Zero_0") == want  # what clamscan does
    assert res.ward.get("Conf.Zero_0", set()) == want


# ---------------------------------------------------------------------------
# malformed lines: both refuse the database, ward names file and line

GOOD_NDB = ["Conf.Good.1:0:*:6162636465", "Conf.Good.2:0:10:414243??44"]
BAD_NDB = [
    "Conf.Bad:0:*:6162636",             # odd number of hex digits
    "Conf.Bad:0:*:61626g6364",          # not hex
    "Conf.Bad:0:*:6162",                # too short for a static signature
    "Conf.Bad:0:*",                     # missing field
    "Conf.Bad:0:X:61626364",            # bad offset
    "Conf.Bad:0:*:61*626364",           # a part without two literal bytes
    "Conf.Bad:0:*:6162!(63|6465)6667",  # negated alternatives of different lengths
    "Conf.Bad:0:*:61[1-40]62636465",    # anchor range beyond 32
    "Conf.Bad:0:*:6162(6364",           # unterminated group
]
BAD_LDB = [
    "Conf.Bad;Target:0;0&1;616263",                  # too few subsignatures
    "Conf.Bad;Target:0;0&2;616263;646566",           # id beyond the subsignatures
    "Conf.Bad;Target:0;0&1;616263;1/abc/",           # self-referential PCRE trigger
    "Conf.Bad;Target:0;0&1;616263;6465::z",          # unknown modifier
]


@pytest.mark.parametrize("ext,line", [("ndb", l) for l in BAD_NDB] + [("ldb", l) for l in BAD_LDB])
def test_malformed_line_fails_both(ward, tmp_path, ext, line):
    good = GOOD_NDB if ext == "ndb" else ["Conf.Good.1;Target:0;0|1;616263;646566"]
    db = tmp_path / f"bad.{ext}"
    db.write_text("\n".join(good + [line]) + "\n")
    lineno = len(good) + 1
    sample = tmp_path / "sample"
    sample.write_bytes(b"abcdef\x00\x00\x00")
    cp = run([CLAMSCAN, "--no-summary", "-d", db, sample])
    assert cp.returncode == 2, f"clamscan accepted {line!r}: {cp.stdout!r}"
    wp = ward("scan", "--no-summary", "-d", db, sample)
    err = wp.stderr.decode(errors="replace")
    assert wp.returncode == 2, f"ward accepted {line!r} (exit {wp.returncode}): {err}"
    assert f"bad.{ext}:{lineno}" in err, f"ward's message does not name file and line: {err}"
