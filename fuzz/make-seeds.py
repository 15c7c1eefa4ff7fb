#!/usr/bin/env python3
"""Generate the seed corpora of Ward's fuzz targets (fuzz/corpus/NAME/).

Everything here is made from scratch with the standard library: signature
lines, containers signed with a test key, config files, archives and mail.
Output is deterministic (fixed timestamps, fixed key), so running the script
again rewrites the same files. It only writes its own seeds; reproducers kept
in the corpus directories (crash-*, leak-*, timeout-*) are left alone.

No real malware and no copy of the EICAR test file is stored: the fuzz
database detects harmless markers, and the EICAR-like seeds are near misses
(one byte changed) built from pieces, for the fuzzer to mutate.

Usage: fuzz/make-seeds.py [CORPUS_DIR]   (default: corpus/ beside this script)
"""

import binascii
import bz2
import gzip
import hashlib
import io
import lzma
import os
import re
import struct
import sys
import tarfile
import zipfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "corpus")

MARKER = b"WARDFUZZMARKER"  # Ward.Fuzz.Marker in scanner.h
HASH_TEXT = b"Ward fuzz hash signature target\n"  # FUZZ_HASH_TEXT
ALLOW_TEXT = b"Ward fuzz allow-listed WARDFUZZMARKER\n"  # FUZZ_ALLOW_TEXT
# The EICAR test string with its last byte changed: not a test file, one
# mutation away from one.
EICAR_NEAR = (b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + b"EICAR-STANDARD-ANTIVIRUS-"
              + b"TEST-FILE!$H+H" + b"#")

written = 0


def put(target, name, data):
    global written
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)
    written += 1


# ---- signature sources ------------------------------------------------------

def hexs(b):
    return b.hex()


NDB = {
    "any.ndb": "Ward.Test.Any:0:*:%s\n" % hexs(b"WARDFUZZMARKER"),
    "offsets.ndb": "".join([
        "Off.Abs:0:0:4d5a9000\n",
        "Off.AbsShift:0:10,20:41424344\n",
        "Off.Eof:0:EOF-16:454e4421\n",
        "Off.EofShift:0:EOF-100,50:454e4421\n",
        "Off.EP:1:EP+0:e800000000\n",
        "Off.Section:1:S0+10:5589e5\n",
        "Off.Last:1:SL+4,8:c3c3c3\n",
        "Off.Macro:0:$1$:41424344\n",
        "Off.Big:0:65536:41424344\n",
    ]),
    "wildcards.ndb": "".join([
        "Wild.Q:0:*:4142??4344\n",
        "Wild.Nibble:0:*:41424?3?44\n",
        "Wild.Star:0:*:414243*444546\n",
        "Wild.Brace:0:*:4142{4}4344\n",
        "Wild.Range:0:*:4142{2-10}4344\n",
        "Wild.Open:0:*:4142{5-}4344\n",
        "Wild.UpTo:0:*:4142{-20}4344\n",
        "Wild.Zero:0:*:4142{0}4344\n",
        "Wild.Never:0:*:4142{9-3}4344\n",
        "Wild.Big:0:*:4142{200}4344\n",
        "Wild.Anchor:0:*:41[1-4]42434445\n",
        "Wild.MidBracket:0:*:414243[0-8]4445\n",
    ]),
    "alternatives.ndb": "".join([
        "Alt.Byte:0:*:4142(43|44|45)4647\n",
        "Alt.Multi:0:*:4142(4344|4546|47??)4849\n",
        "Alt.Neg:0:*:4142!(43|44)4546\n",
        "Alt.NegMulti:0:*:4142!(4344|4546)4748\n",
        "Alt.Nested:0:*:4142(43(44|45)|4647)4849\n",
        "Alt.Nibble:0:*:4142(4?|5?)4344\n",
    ]),
    "edges.ndb": "".join([
        "Edge.B:0:*:(B)414243(B)\n",
        "Edge.L:0:*:(L)414243(L)\n",
        "Edge.W:0:*:(W)41424344\n",
        "Edge.NegRight:0:*:41424344!(B)\n",
        "Edge.NegL:0:*:41424344!(L)\n",
        "Edge.Mid:0:*:4142(B)4344\n",
        "Edge.AnchorB:0:*:(B)41[2-3]424344\n",
    ]),
    "targets.ndb": "".join(
        "Target.T%d:%d:*:41424344454647\n" % (t, t) for t in range(0, 16)
    ) + "Target.Star:*:*:41424344\n",
    "flevel.ndb": "".join([
        "Fl.Min:0:*:41424344:51\n",
        "Fl.MinMax:0:*:41424344:51:255\n",
        "Fl.Future:0:*:41424344:999\n",
        "Fl.Past:0:*:41424344:1:20\n",
        "Fl.Empty:0:*:41424344::\n",
    ]),
    "comments-crlf.ndb": "# a comment\r\n\r\nCrlf.One:0:*:41424344\r\n#last\r\nCrlf.Two:0:*:45464748",
    "errors.ndb": "".join([
        "Bad.Fields:0:*\n",
        "Bad.Hex:0:*:41zz4344\n",
        "Bad.Odd:0:*:4142434\n",
        "Bad.Short:0:*:41\n",
        "Bad.Target:x:*:41424344\n",
        "Bad.Offset:0:abc:41424344\n",
        "Bad.Unbalanced:0:*:4142(4344\n",
        "Bad.Close:0:*:41424344)\n",
        "Bad.Wild:0:*:*41424344\n",
        "Bad.Static:0:*:41??42??43\n",
        "Bad.NegWild:0:*:4142!(43??|4445)4647\n",
        ":0:*:41424344\n",
        "Bad\x01Name:0:*:41424344\n",
    ]),
    "phishing.ndb": "HTML.Phishing.Bank-1:3:*:3c666f726d\nEmail.Phishing.X:4:*:41424344\n",
    "nul.ndb": b"Nul.Line:0:*:4142\x004344\nOk.Line:0:*:41424344\n",
    "long.ndb": "Long.Sig:0:*:" + "4142" * 600 + "\n",
    "eicar.ndb": "Ward.Test.EICAR:0:0:%s\n" % hexs(EICAR_NEAR[:-1] + b"*"),
}

LDB = {
    "simple.ldb": "Ldb.Simple;Engine:51-255,Target:0;0&1;41424344;45464748\n",
    "logic.ldb": "".join([
        "Ldb.Or;Engine:51-255,Target:0;0|1;41424344;45464748\n",
        "Ldb.Count;Engine:51-255,Target:0;0>2;41424344\n",
        "Ldb.Eq;Engine:51-255,Target:0;(0|1)=2;41424344;45464748\n",
        "Ldb.Distinct;Engine:51-255,Target:0;(0|1|2)>1,2;41424344;45464748;494a4b4c\n",
        "Ldb.Less;Engine:51-255,Target:0;0&(1<3);41424344;45464748\n",
        "Ldb.Nested;Engine:51-255,Target:0;((0&1)|(2&3))&4;4142;4344;4546;4748;494a\n",
        "Ldb.Chain;Engine:51-255,Target:0;0&1|2&3;41424344;45464748;494a4b4c;4d4e4f50\n",
    ]),
    "modifiers.ldb": "".join([
        "Mod.I;Engine:51-255,Target:0;0;41424344::i\n",
        "Mod.W;Engine:51-255,Target:0;0;41424344::w\n",
        "Mod.WA;Engine:51-255,Target:0;0;41424344::wa\n",
        "Mod.F;Engine:51-255,Target:0;0;41424344::f\n",
        "Mod.IWF;Engine:51-255,Target:0;0;41??4344::iwf\n",
        "Mod.A;Engine:51-255,Target:0;0;41424344::a\n",
    ]),
    "tdb.ldb": "".join([
        "Tdb.Size;Engine:51-255,Target:0,FileSize:100-2000;0;41424344\n",
        "Tdb.Container;Engine:81-255,Container:CL_TYPE_ZIP,Target:0;0;41424344\n",
        "Tdb.Ep;Engine:51-255,Target:1,EntryPoint:100-200;0;41424344\n",
        "Tdb.Html;Target:3;0;3c736372697074\n",
        "Tdb.Future;Engine:500-600,Target:0;0;41424344\n",
        "Tdb.BadTarget;Engine:51-255,Target:99;0;41424344\n",
        "Tdb.NoTarget;Engine:51-255;0;41424344\n",
        "Tdb.Order;Target:0,Engine:51-255;0;41424344\n",
    ]),
    "offsets.ldb": "".join([
        "Loff.Abs;Engine:51-255,Target:0;0&1;0:4d5a;100,50:41424344\n",
        "Loff.Eof;Engine:51-255,Target:0;0;EOF-20:454e4421\n",
        "Loff.EP;Engine:51-255,Target:1;0;EP+0:e8\n",
        "Loff.Bad;Engine:51-255,Target:0;0;EP+0:e8e8\n",
    ]),
    "pcre.ldb": "".join([
        "Pcre.Basic;Engine:81-255,Target:0;0&1;41424344;0/AB(CD|EF)G/\n",
        "Pcre.Flags;Engine:81-255,Target:0;0&1;41424344;0/abcd/ismxAEU\n",
        "Pcre.Global;Engine:81-255,Target:0;0&1=3;41424344;0/X[0-9]/g\n",
        "Pcre.Offset;Engine:81-255,Target:0;0&1;41424344;100:0/^AB/\n",
        "Pcre.Eof;Engine:81-255,Target:0;0&1;41424344;EOF-10,5:0/END/re\n",
        "Pcre.Trigger;Engine:81-255,Target:0;(0|1)&2;41424344;45464748;0|1/foo.bar/\n",
        "Pcre.First;Engine:81-255,Target:0;0;0/abc/\n",
        "Pcre.BadRe;Engine:81-255,Target:0;0&1;41424344;0/(abc/\n",
        "Pcre.BadFlag;Engine:81-255,Target:0;0&1;41424344;0/abc/q\n",
        "Pcre.NoSlash;Engine:81-255,Target:0;0&1;41424344;0/abc\n",
    ]),
    "special.ldb": "".join([
        "Spec.ByteCmp;Engine:51-255,Target:0;0&1;41424344;0(>>4#de#=1024)\n",
        "Spec.Macro;Engine:51-255,Target:0;0&1;41424344;${1-3}0$\n",
        "Spec.Fuzzy;Engine:51-255,Target:5;0;fuzzy_img#af2ad01ed42993c7#0\n",
    ]),
    "errors.ldb": "".join([
        "Err.Fields;Engine:51-255,Target:0;0\n",
        "Err.Logic;Engine:51-255,Target:0;0&2;41424344;45464748\n",
        "Err.Unused;Engine:51-255,Target:0;0;41424344;45464748\n",
        "Err.Paren;Engine:51-255,Target:0;(0&1;41424344;45464748\n",
        "Err.Mod;Engine:51-255,Target:0;0;41424344::z\n",
        "Err.Twice;Engine:51-255,Target:0;(0>1)>2;41424344\n",
        "Err.Big;Engine:51-255,Target:0;0>99999999999;41424344\n",
        "Err.Tdb;Engine:51-255,Target;0;41424344\n",
    ]),
    "many.ldb": "Many.Subs;Engine:51-255,Target:0;" + "|".join(str(i) for i in range(64)) + ";"
                + ";".join("41%02x4344" % i for i in range(64)) + "\n",
    "deep.ldb": "Deep.Expr;Engine:51-255,Target:0;" + "(" * 20 + "0" + ")" * 20
                + "&1;41424344;45464748\n",
}

MD5_EMPTY = hashlib.md5(b"").hexdigest()
SHA1_X = hashlib.sha1(b"x").hexdigest()
SHA256_X = hashlib.sha256(b"x").hexdigest()
HASH = {
    "md5.hdb": "%s:1:Hash.Md5\n%s:32:Hash.Md5b:51:255\n" % (hashlib.md5(b"x").hexdigest(),
                                                          hashlib.md5(HASH_TEXT).hexdigest()),
    "sha.hsb": "%s:1:Hash.Sha1\n%s:1:Hash.Sha256\n%s:*:Hash.AnySize:73\n" % (SHA1_X, SHA256_X,
                                                                           SHA256_X),
    "fp.txt": "%s:1:Allowed.File\n%s:*:Allowed.Any:73\n" % (SHA256_X, SHA1_X),
    "ign2.txt": "Hash.Md5\nHash.Sha1:%s\nold:1:Hash.Legacy\nHash.Name.UNOFFICIAL\n" % MD5_EMPTY,
    "mixed.txt": "# comment\r\n%s:1:Hash.One\r\n\r\nHash.One\r\n%s:1:Hash.Two:1:500\r\n"
                 % (hashlib.md5(b"x").hexdigest(), SHA1_X),
    "errors.txt": "".join([
        "zz%s:1:Bad.Hex\n" % MD5_EMPTY[2:],
        "%s:0:Bad.Zero\n" % MD5_EMPTY,
        "%s:abc:Bad.Size\n" % MD5_EMPTY,
        "%s:1:\n" % MD5_EMPTY,
        "%s:*:Bad.Wild\n" % MD5_EMPTY,
        "%s:*:Bad.Wild2:50\n" % MD5_EMPTY,
        "%s:1\n" % MD5_EMPTY,
        "abcdef:1:Bad.Len\n",
        "%s:1:Bad.Fl:x\n" % MD5_EMPTY,
        "%s:4294967296:Bad.Huge\n" % MD5_EMPTY,
    ]),
    "section.mdb": "1024:%s:Section.One\n" % MD5_EMPTY,
}

# ---- .cvd/.cld containers ---------------------------------------------------

# The test key of fuzz/cvd.c (2048-bit RSA, e = 65537); p and q are here so
# that the script can sign. Only ever used for fuzz seeds.
KEY_P = int(
    "1721088802501438560811464144420411100289728890994823403161513205136074687915957674244"
    "1747453988222503281297465017180301459497800221860462196471780333504283856152876067829"
    "4950185654024428164744435266790877620893291735021998783998521926288307543035274330986"
    "884721895197439208763282798859103956836151232932853463")
KEY_Q = int(
    "1441792913852930225182902556890586560537755272691897690324859708129104371317799032197"
    "5201560316465189077101354703147635198402747419841835948603720921476596517828850511436"
    "8705541360176401929997411643461939526249812714083569643611892631660785268066073868795"
    "830802144110606407739871842720426791684559813118439941")
KEY_N = KEY_P * KEY_Q
KEY_E = 65537
KEY_D = pow(KEY_E, -1, (KEY_P - 1) * (KEY_Q - 1))

R64 = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/"


def radix64(v):
    """ClamAV's signature text: least significant 6-bit digit first."""
    out = ""
    while v:
        out += R64[v & 63]
        v >>= 6
    return out or "a"


def sign_md5(md5):
    return radix64(pow(int.from_bytes(md5, "big"), KEY_D, KEY_N))


def sign_pss(sha256):
    """EMSA-PSS (SHA-256, MGF1-SHA-256, 32-byte salt) as dsig.c checks it."""
    em_len, h_len = 256, 32
    salt = hashlib.sha256(b"ward fuzz salt" + sha256).digest()
    h = hashlib.sha256(b"\0" * 8 + sha256 + salt).digest()
    db = b"\0" * (em_len - h_len - 1 - len(salt) - 1) + b"\x01" + salt
    mask, counter = b"", 0
    while len(mask) < len(db):
        mask += hashlib.sha256(h + counter.to_bytes(4, "big")).digest()
        counter += 1
    masked = bytearray(a ^ b for a, b in zip(db, mask))
    masked[0] &= 0x7F
    em = bytes(masked) + h + b"\xbc"
    return radix64(pow(int.from_bytes(em, "big"), KEY_D, KEY_N))


def tar_bytes(members):
    bio = io.BytesIO()
    with tarfile.open(fileobj=bio, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for name, data in members:
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.mtime = 0
            ti.mode = 0o644
            t.addfile(ti, io.BytesIO(data))
    return bio.getvalue()


def gz_bytes(data, name=""):
    bio = io.BytesIO()
    with gzip.GzipFile(filename=name, mode="wb", fileobj=bio, mtime=0) as g:
        g.write(data)
    return bio.getvalue()


def info_file(stem, files, signed=True):
    text = "ClamAV-VDB:01 Jan 2026 00-00 +0000:7:%d:%d:%s:x:wardfuzz:1767225600\n" % (
        len(files), 216, "0" * 32)
    for name, data in files:
        text += "%s:%d:%s\n" % (name, len(data), hashlib.sha256(data).hexdigest())
    raw = text.encode()
    if signed:
        raw += b"DSIG:" + sign_pss(hashlib.sha256(raw).digest()).encode() + b"\n"
    return raw


def container(stem, payload, version=7, sign=True):
    md5 = hashlib.md5(payload).digest()
    dsig = sign_md5(md5) if sign else "notsigned"
    head = "ClamAV-VDB:01 Jan 2026 00-00 +0000:%d:3:216:%s:%s:wardfuzz:1767225600" % (
        version, md5.hex(), dsig)
    head = head.encode().ljust(512, b" ")
    assert len(head) == 512
    return head + payload


DB_FILES = [
    ("x.ndb", b"Cvd.Marker:0:*:5741524446555a5a4d41524b4552\n"),
    ("x.hdb", ("%s:1:Cvd.Hash\n" % hashlib.md5(b"x").hexdigest()).encode()),
    ("x.ldb", b"Cvd.Logic;Engine:51-255,Target:0;0&1;41424344;0/AB(CD|EF)/\n"),
    ("x.fp", ("%s:1:Cvd.Allowed\n" % SHA256_X).encode()),
    ("x.ign2", b"Cvd.Nothing\n"),
    ("x.cfg", b"DOCUMENT:0x0:1:99\n"),
]


def named(stem, files):
    return [(stem + n[1:], d) for n, d in files]


def cvd_seeds():
    seeds = {}
    main = named("main", DB_FILES)
    tar = tar_bytes([("main.info", info_file("main", main))] + main)
    seeds["main-cvd-testkey"] = b"\x00" + container("main", gz_bytes(tar))
    seeds["main-cvd-clamavkeys"] = b"\x04" + container("main", gz_bytes(tar))
    daily = named("daily", DB_FILES[:3])
    # A .cld is an uncompressed tar that starts with COPYING; the header is not checked.
    cld_tar = tar_bytes([("COPYING", b"Seed container for Ward's fuzz tests.\n"),
                         ("daily.info", info_file("daily", daily))] + daily)
    seeds["daily-cld"] = b"\x09" + container("daily", cld_tar, version=9, sign=False)
    seeds["daily-cld-gz"] = b"\x09" + container("daily", gz_bytes(cld_tar), version=9, sign=False)
    # A .cud carries no signatures at all, so every member is loaded.
    cud_tar = tar_bytes([("main.info", info_file("main", main, signed=False))] + main)
    seeds["main-cud"] = b"\x02" + container("main", gz_bytes(cud_tar), sign=False)
    seeds["main-cud-noinfo"] = b"\x02" + container("main", gz_bytes(tar_bytes(main)), sign=False)
    # Damaged ones: a wrong digest in .info, a truncated tar, a bad header.
    bad = [("main.info", info_file("main", main))] + [(n, d + b"#") for n, d in main]
    seeds["main-cvd-badmember"] = b"\x00" + container("main", gz_bytes(tar_bytes(bad)))
    seeds["main-cld-truncated"] = b"\x01" + container("main", cld_tar[:1000], sign=False)
    seeds["header-only"] = b"\x00" + container("main", b"")
    seeds["not-a-container"] = b"\x00" + b"ClamAV-VDB:short header"
    return seeds


# ---- configuration ----------------------------------------------------------

CONF = {
    "full.conf": """# ward.conf written for the fuzz corpus
[global]
database_dir = /var/lib/ward
cache_dir = "/var/cache/ward"
log_level = info
syslog = yes
max_filesize = 25M
max_scansize = 100MB
max_recursion = 17
max_files = 10000
max_scantime = 2m
max_ratio = 250
cache_size = 65536

[scan]
threads = 4
all_matches = no
exclude = "\\.(iso|img)$"
exclude_dir = ^/proc
on_infected = report ; inline comment
""",
    "values.conf": "\ufeff[scan]\r\nthreads = 1024\r\nfollow_symlinks=ON\r\n[global]\r\n"
                   "max_scantime = 500ms\r\nmax_scantime = 30s\r\nlog_level=trace\r\n",
    "quotes.conf": '[global]\ntmp_dir = "/tmp/with \\"quotes\\" and \\\\ slash" # c\n'
                   'log_file = "/var/log/ward.log";x\nlog_file = "unterminated\n',
    "errors.conf": "[global]\nno_such_option = 1\nmax_recursion = 65\nmax_filesize = 12Q\n"
                   "syslog = maybe\nlog_level = loud\ndatabase_dir = relative/path\n"
                   "[unknown]\nkey = value\n[scan]\nexclude = ([unclosed\n",
    "reserved.conf": "[wardd]\nsocket = /run/ward.sock\n[smtp]\nlisten = 127.0.0.1:10025\n"
                     "[ milter ]\n[update]\n",
    "syntax.conf": "key_before_section = 1\n[]\n[bad\n= value\n[global] trailing\n",
    "comments.conf": "; semicolon comment\n# hash comment\n\n   \n[global]\n"
                     "max_files = 10 # ten\nmax_ratio = 5;no comment\n",
    "nul.conf": b"[global]\nmax_files = 1\x002\n",
    "longline.conf": "[global]\ntmp_dir = /" + "a" * 5000 + "\n",
}

# ---- archives, mail and other objects ---------------------------------------

def zip_bytes(members, method=zipfile.ZIP_DEFLATED):
    bio = io.BytesIO()
    with zipfile.ZipFile(bio, "w", method) as z:
        for name, data in members:
            zi = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            zi.compress_type = method
            z.writestr(zi, data)
    return bio.getvalue()


def encrypted_zip():
    """A stored zip whose member claims traditional encryption (flag bit 0)."""
    z = bytearray(zip_bytes([("secret.txt", MARKER + b"\n")], zipfile.ZIP_STORED))
    for m in re.finditer(b"PK\x03\x04", z):
        z[m.start() + 6] |= 1
    for m in re.finditer(b"PK\x01\x02", z):
        z[m.start() + 8] |= 1
    return bytes(z)


def sz_number(n):
    """7z's variable-length UINT64."""
    if n < 0x80:
        return bytes([n])
    if n < 0x4000:
        return bytes([0x80 | (n >> 8), n & 0xFF])
    assert n < 0x200000
    return bytes([0xC0 | (n >> 16)]) + (n & 0xFFFF).to_bytes(2, "little")


def sevenzip(name, data):
    """A 7z archive with one member stored with the Copy coder."""
    hdr = b"\x01\x04"                                            # Header, MainStreamsInfo
    hdr += b"\x06" + sz_number(0) + sz_number(1) + b"\x09" + sz_number(len(data)) + b"\x00"
    hdr += b"\x07\x0b" + sz_number(1) + b"\x00"                   # UnPackInfo, Folder x1
    hdr += sz_number(1) + b"\x01\x00"                             # one coder: Copy
    hdr += b"\x0c" + sz_number(len(data)) + b"\x00"               # unpack size, end
    hdr += b"\x08\x00"                                            # SubStreamsInfo: 1 each
    hdr += b"\x00"                                                # end MainStreamsInfo
    fname = name.encode("utf-16-le") + b"\0\0"
    hdr += b"\x05" + sz_number(1)                                 # FilesInfo, 1 file
    hdr += b"\x11" + sz_number(len(fname) + 1) + b"\x00" + fname  # names
    hdr += b"\x00\x00"                                            # end FilesInfo, Header
    start = struct.pack("<QQI", len(data), len(hdr), zlib.crc32(hdr))
    return (b"7z\xbc\xaf\x27\x1c\x00\x04" + struct.pack("<I", zlib.crc32(start)) + start
            + data + hdr)


def cpio_newc(members):
    out = b""
    for i, (name, data) in enumerate(members + [("TRAILER!!!", b"")]):
        nb = name.encode() + b"\0"
        mode = 0o100644 if name != "TRAILER!!!" else 0
        fields = [i + 1, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(nb), 0]
        h = b"070701" + b"".join(b"%08X" % f for f in fields) + nb
        h += b"\0" * (-len(h) % 4)
        out += h + data + b"\0" * (-len(data) % 4)
    return out


def ar_bytes(members):
    out = b"!<arch>\n"
    for name, data in members:
        out += b"%-16s%-12d%-6d%-6d%-8o%-10d`\n" % ((name + "/").encode(), 0, 0, 0, 0o100644,
                                                     len(data))
        out += data + (b"\n" if len(data) % 2 else b"")
    return out


def lzma_alone(data):
    return lzma.compress(data, format=lzma.FORMAT_ALONE)


PAYLOAD = b"Some text before the marker: " + MARKER + b" and after.\n"
HTML = (b"<!DOCTYPE html>\n<html><head><title>t</title></head><body>\n"
        b"<SCRIPT>WardFuzz  payload</script>\n</body></html>\n")
TEXT = b"Plain text mentioning  Ward\tFUZZ\r\n  TEXT  with odd spacing.\n"
UU = (b"begin 644 marker.bin\n"
      + b"".join(binascii.b2a_uu(PAYLOAD[i:i + 45], backtick=True)
                 for i in range(0, len(PAYLOAD), 45))
      + b"`\nend\n")


def b64_lines(data):
    import base64
    s = base64.b64encode(data)
    return b"\n".join(s[i:i + 76] for i in range(0, len(s), 76)) + b"\n"


def qp(data):
    import quopri
    return quopri.encodestring(data)


MAIL_HEAD = (b"Return-Path: <sender@example.org>\n"
             b"Received: from mx.example.org by mail.example.net; Thu, 1 Jan 2026 00:00:00 +0000\n"
             b"From: Sender <sender@example.org>\nTo: rcpt@example.net\n"
             b"Subject: fuzz seed\nDate: Thu, 1 Jan 2026 00:00:00 +0000\n"
             b"Message-ID: <seed@example.org>\nMIME-Version: 1.0\n")


def multipart(parts, boundary=b"b1", sub=b"mixed", prologue=b"This is a MIME message.\n",
              close=True):
    out = b"Content-Type: multipart/" + sub + b"; boundary=\"" + boundary + b"\"\n\n" + prologue
    for p in parts:
        out += b"\n--" + boundary + b"\n" + p
    if close:
        out += b"\n--" + boundary + b"--\n"
    return out


def part(ctype, body, enc=None, filename=None):
    h = b"Content-Type: " + ctype + b"\n"
    if enc:
        h += b"Content-Transfer-Encoding: " + enc + b"\n"
    if filename:
        h += b"Content-Disposition: attachment; filename=\"" + filename + b"\"\n"
    return h + b"\n" + body


def mails():
    zipped = zip_bytes([("doc.txt", PAYLOAD)])
    inner = MAIL_HEAD + part(b"text/plain", PAYLOAD)
    m = {}
    m["plain.eml"] = MAIL_HEAD + b"Content-Type: text/plain\n\nHello, " + MARKER + b"\n"
    m["multipart-base64.eml"] = MAIL_HEAD + multipart([
        part(b"text/plain; charset=utf-8", b"See the attachment.\n"),
        part(b"application/zip", b64_lines(zipped), b"base64", b"files.zip"),
    ])
    m["quoted-printable.eml"] = MAIL_HEAD + multipart([
        part(b"text/html; charset=iso-8859-1", qp(HTML + b"caf\xe9 " * 30 + MARKER), b"quoted-printable"),
    ], sub=b"alternative")
    m["uuencoded.eml"] = MAIL_HEAD + b"Content-Type: text/plain\n\nBody with uuencode:\n\n" + UU
    m["uuencode-cte.eml"] = MAIL_HEAD + multipart([
        part(b"application/octet-stream", UU, b"x-uuencode", b"marker.bin")])
    m["rfc822.eml"] = MAIL_HEAD + multipart([
        part(b"text/plain", b"Forwarded message attached.\n"),
        part(b"message/rfc822", inner, None, b"fwd.eml"),
    ])
    m["nested.eml"] = MAIL_HEAD + multipart([
        multipart([part(b"text/plain", b"one\n"),
                   multipart([part(b"application/octet-stream", b64_lines(PAYLOAD), b"base64",
                                   b"deep.bin")], boundary=b"b3")], boundary=b"b2",
                  sub=b"related"),
    ])
    m["broken-boundary.eml"] = MAIL_HEAD + multipart([
        part(b"text/plain", b"first part\n"),
        part(b"application/octet-stream", b64_lines(PAYLOAD)[:-10] + b"!!==", b"base64", b"x.bin"),
    ], close=False) + b"\n--b1 trailing garbage\n--b2--\n"
    m["wrong-boundary.eml"] = (MAIL_HEAD + b"Content-Type: multipart/mixed; boundary=missing\n\n"
                               + b"--other\nContent-Type: text/plain\n\n" + PAYLOAD)
    m["prologue.eml"] = MAIL_HEAD + multipart([part(b"text/plain", b"x\n")],
                                              prologue=b"Prologue " + MARKER + b"\n")
    m["headers-folded.eml"] = (b"Received: from a\n\tby b with SMTP\n  id 1\nSubject: =?utf-8?B?"
                               b"w6nDqQ==?=\nContent-Type: text/plain;\n charset=\"utf-8\"\n"
                               b"Content-Transfer-Encoding: 8bit\n\n\xc3\xa9 " + MARKER + b"\n")
    m["crlf.eml"] = (MAIL_HEAD + part(b"text/plain", b"crlf body " + MARKER + b"\n")).replace(
        b"\n", b"\r\n")
    m["empty-body.eml"] = MAIL_HEAD
    m["bad-base64.eml"] = MAIL_HEAD + part(b"application/octet-stream", b"@@@###\n====\nQUJD\n",
                                           b"base64", b"bad.bin")
    m["mbox"] = b"".join(
        b"From sender@example.org Thu Jan  1 00:00:0%d 2026\n" % i + MAIL_HEAD
        + part(b"text/plain", b"message %d\n>From escaped line\n" % i
               + (MARKER if i == 2 else b"") + b"\n") + b"\n"
        for i in range(3))
    m["mbox-attachment"] = (b"From a@b Thu Jan  1 00:00:00 2026\n" + m["multipart-base64.eml"]
                            + b"\nFrom c@d Thu Jan  1 00:00:01 2026\n" + m["rfc822.eml"])
    return m


def scan_seeds():
    s = {}
    s["marker.txt"] = PAYLOAD
    s["hash-target.txt"] = HASH_TEXT
    s["allowed.txt"] = ALLOW_TEXT
    s["eicar-near.com"] = EICAR_NEAR
    s["tail.bin"] = b"\0" * 100 + b"WARDEOF" + b"\0" * 5
    s["logic.bin"] = b"..ward1.. then WARD17X here\n"
    s["text.txt"] = TEXT
    s["page.html"] = HTML
    s["uu.txt"] = b"Some text\n" + UU
    s["stored.zip"] = zip_bytes([("a.txt", PAYLOAD), ("b.txt", b"clean\n")], zipfile.ZIP_STORED)
    s["deflated.zip"] = zip_bytes([("dir/a.txt", PAYLOAD), ("h.txt", HASH_TEXT),
                                   ("same1.txt", TEXT), ("same2.txt", TEXT)])
    s["nested.zip"] = zip_bytes([("inner.zip", zip_bytes([("deep.txt", PAYLOAD)])),
                                 ("note.txt", b"nested\n")])
    s["encrypted.zip"] = encrypted_zip()
    s["archive.tar"] = tar_bytes([("a.txt", PAYLOAD), ("b.html", HTML)])
    s["archive.tar.gz"] = gz_bytes(tar_bytes([("a.txt", PAYLOAD), ("c.txt", HASH_TEXT)]))
    s["single.gz"] = gz_bytes(PAYLOAD, "marker.txt")
    s["single.bz2"] = bz2.compress(PAYLOAD)
    s["single.xz"] = lzma.compress(PAYLOAD)
    s["single.lzma"] = lzma_alone(PAYLOAD)
    s["archive.7z"] = sevenzip("marker.txt", PAYLOAD)
    s["archive.cpio"] = cpio_newc([("a.txt", PAYLOAD), ("b.txt", TEXT)])
    s["archive.ar"] = ar_bytes([("a.txt", PAYLOAD), ("b.o", b"\x7fELF" + b"\0" * 60)])
    deep = PAYLOAD
    for _ in range(10):
        deep = gz_bytes(deep)
    s["deep.gz"] = deep
    s["bomb.gz"] = gz_bytes(b"\0" * (4 << 20))
    s["mail.eml"] = mails()["multipart-base64.eml"]
    return s


def ftype_seeds():
    pe = bytearray(b"MZ" + b"\0" * 0x3A + struct.pack("<I", 0x40) + b"PE\0\0" + b"\0" * 60)
    lha = bytearray(b"\x20\x00-lh5-" + b"\0" * 30)
    v7 = bytearray(tar_bytes([("v7.txt", b"old tar\n")])[:512])
    v7[257:263] = b"\0" * 6  # drop "ustar": a v7 header is recognised by checksum
    v7[148:156] = b" " * 8
    v7[148:156] = b"%06o\0 " % sum(v7)
    iso = bytearray(36870)
    iso[32769:32774] = b"CD001"
    return {
        "pe.exe": bytes(pe), "msdos.exe": b"MZ" + b"\0" * 30, "elf": b"\x7fELF\x02\x01\x01" + b"\0" * 9,
        "zip": b"PK\x03\x04" + b"\0" * 26, "rar": b"Rar!\x1a\x07\x01\x00", "7z": b"7z\xbc\xaf\x27\x1c\0\4",
        "gz": b"\x1f\x8b\x08\0", "bz2": b"BZh91AY&SY", "xz": b"\xfd7zXZ\0\0\4", "zst": b"\x28\xb5\x2f\xfd",
        "lz4": b"\x04\x22\x4d\x18", "cab": b"MSCF\0\0\0\0" + b"\0" * 28, "xar": b"xar!\0\x1c",
        "ar": b"!<arch>\n", "ole2": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 24,
        "pdf": b"%PDF-1.7\n", "rtf": b"{\\rtf1\\ansi}", "swf": b"FWS\x0a", "java": b"\xca\xfe\xba\xbe\0\0\0\x34",
        "macho-fat": b"\xca\xfe\xba\xbe\0\0\0\2", "macho": b"\xcf\xfa\xed\xfe\x07\0\0\x01",
        "gif": b"GIF89a\1\0\1\0", "png": b"\x89PNG\r\n\x1a\n", "jpg": b"\xff\xd8\xff\xe0",
        "cpio-odc": b"070707" + b"0" * 70, "cpio-bin": b"\xc7\x71" + b"\0" * 30,
        "lha": bytes(lha), "ustar": tar_bytes([("t.txt", b"tar\n")]), "v7tar": bytes(v7),
        "iso": bytes(iso), "lzma": lzma_alone(b"x" * 100),
        "mbox": b"From a@b Thu Jan  1 00:00:00 2026\nFrom: a@b\nTo: c@d\n\nbody\n",
        "mail": MAIL_HEAD + b"\nbody\n", "mail-weak": b"X-Foo: 1\nSubject: s\n\nb\n",
        "uu": UU, "uu-base64": b"begin-base64 644 x\nQUJD\n====\n",
        "html": b"  \n<!-- c -->\n<html><body>x</body></html>", "xml-html": b"<?xml version='1.0'?><html/>",
        "text": TEXT, "utf8-bom-html": b"\xef\xbb\xbf<html>", "binary": bytes(range(256)),
        "one-byte": b"A", "empty": b"",
    }


def json_seeds():
    return {
        "ascii": b"simple name.txt", "quotes": b'say "hi" \\ and /',
        "controls": bytes(range(0, 32)) + b"\x7f", "utf8": "naïve ファイル 😀".encode(),
        "invalid": b"\xff\xfe\xc0\xaf\x80 end", "truncated": b"abc\xe2\x82",
        "overlong": b"\xe0\x80\xaf\xf0\x80\x80\xaf", "surrogate": b"\xed\xa0\x80\xed\xbf\xbf",
        "beyond-max": b"\xf4\x90\x80\x80\xf5\x80\x80\x80", "nul": b"before\0after",
        "path": b"mail.eml\x1finvoice.zip\x1fdoc.exe",
    }


# ---- the updater (fuzz/update.c) ------------------------------------------------

# Made by minisign with the key whose public half is in fuzz/update.c.
MINISIGN_SIG = (
    "untrusted comment: signature from minisign secret key\n"
    "RUTy+1qflYxJ7wL5MT17ejQjjQxzKIzt7IpT+kFXT8POO6UxsMjG6KXe7VVjyatuBpHdNmJjrFz6Ni6Mq2P1FidTztDu23f1HgU=\n"
    "trusted comment: timestamp:1767225600\tfile:fz.msg\thashed\n"
    "v6QyJZORnjNmBXrZJ+oGQY9i2Fr3tPUaF78qnS5c7Q6rtO3yn8nxLJl6CgRHbblgM+dlk3nRp5jvtKf4is5sBA==\n")
MINISIGN_LEGACY = (
    "untrusted comment: signature from minisign secret key\n"
    "RWTy+1qflYxJ7+lGAAZSJcdQOeM/fM3LhRjlGWumY2JmnHEHgIDfk/YxQsVUsAtVj3aEPKSpMnx40RXYBU4kPwi53UnyeUgLCAo=\n"
    "trusted comment: legacy\n"
    "vkXqbzBfGg6y39Sw+k6mORZSkubORkPJSZGOlCbuHkUFwEa74REuFT9+VxtjpXi+rRXwZ5/eHemHoNAP55BDAw==\n")

CDIFF_SCRIPT = (b"OPEN daily.ndb\nDEL 1 A.Sig:0:*:41414141\nXCHG 2 B.Sig B.Sig:0:*:62626262\n"
                b"ADD D.Sig:0:*:44444444\nCLOSE\nOPEN daily.new\nADD N.Sig:0:*:4e4e\nCLOSE\n"
                b"MOVE daily.ndb daily.new 2 C.Sig 2 C.Sig\n# a comment\nUNLINK daily.hdb\n"
                b"OPEN daily.info\nXCHG 1 ClamAV-VDB ClamAV-VDB:01 Jan 2026 00-00 +0000:8:3:216:"
                b"x:x:fuzz:1767225600\nCLOSE\n")


def cdiff_file(script, version=8):
    body = b"ClamAV-Diff:%d:%d:" % (version, len(script)) + gz_bytes(script)
    return body + b":" + sign_pss(hashlib.sha256(body).digest()).encode()


def update_seeds():
    sha = hashlib.sha256(b"x").hexdigest()
    manifest = ("ward-bundle 1\nname ward\nversion 7\ncreated 1767225600\nmin_engine 0.1.0\n"
                "file a.ndb 1 %s\nfile b.hdb 1 %s\nfuture field ignored\n" % (sha, sha))
    daily = named("daily", DB_FILES[:3])
    cld_tar = tar_bytes([("COPYING", b"Seed.\n"), ("daily.info", info_file("daily", daily))]
                        + daily)
    return {
        "manifest": b"\x00" + manifest.encode(),
        "manifest-crlf": b"\x00" + manifest.replace("\n", "\r\n").encode(),
        "manifest-dup": b"\x00" + (manifest + "file a.ndb 1 %s\n" % sha).encode(),
        "minisig": b"\x01" + MINISIGN_SIG.encode(),
        "minisig-legacy": b"\x01" + MINISIGN_LEGACY.encode(),
        "minisign-pub": b"\x01untrusted comment: k\nRWTy+1qflYxJ78/skh+EFPczek1D946jmYZK+7vYEwSFjoN7+qwmtWCU\n",
        "script": b"\x02" + CDIFF_SCRIPT,
        "script-bad-del": b"\x02OPEN daily.ndb\nDEL 9 Z\nCLOSE\n",
        "cdiff": b"\x03" + cdiff_file(CDIFF_SCRIPT),
        "cdiff-unsigned": b"\x03ClamAV-Diff:8:10:" + gz_bytes(b"OPEN a\nCLOSE\n") + b":" + b"x" * 340,
        "cld": b"\x04" + container("daily", cld_tar, version=9, sign=False),
        "cvd": b"\x04" + container("daily", gz_bytes(cld_tar), version=9),
        "http": b"\x05bytes=0-511\nSun, 06 Nov 1994 08:49:37 GMT",
        "http-suffix": b"\x05bytes=-100\nThu, 01 Jan 1970 00:00:00 GMT",
        "http-open": b"\x05bytes=5-\nMon, 31 Feb 2026 23:59:60 GMT",
    }


def main():
    for name, text in NDB.items():
        put("sig_ndb", name, text)
    for name, text in LDB.items():
        put("sig_ldb", name, text)
    for name, text in HASH.items():
        put("sig_hash", name, text)
    for name, data in cvd_seeds().items():
        put("cvd", name, data)
    for name, text in CONF.items():
        put("conf", name, text)
    for name, data in scan_seeds().items():
        put("scan", name, data)
    for name, data in mails().items():
        put("mime", name, data)
    for name, data in ftype_seeds().items():
        put("ftype", name, data)
    for name, data in json_seeds().items():
        put("json", name, data)
    for name, data in update_seeds().items():
        put("update", name, data)
    # fuzz/cvd.c must carry the public half of the key used above.
    with open(os.path.join(HERE, "cvd.c")) as f:
        assert str(KEY_N) in re.sub(r'"\s*"', "", f.read()), "cvd.c test key differs"
    print("wrote %d seeds under %s" % (written, OUT))


if __name__ == "__main__":
    main()
