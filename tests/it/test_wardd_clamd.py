"""wardd against Debian's clamd, byte for byte.

Both daemons run side by side on the same signature directory (a .ndb with
two body signatures, a .hsb with the hash of ClamAV's clam.exe, and an
unsigned daily.cud, so every name comes back with ".UNOFFICIAL" and VERSION
carries a database version and date) and scan the same tree of files. Every
case sends the same bytes, descriptors, pauses and half-closes to both and
compares what came back and whether the server closed the connection. The
cases follow docs/clamd-observed.md and keep its ids (B.., S.., SX.., U..,
I.., F.., D..) so that a failure points at the observation behind it.
Then Debian's clamdscan runs unchanged in each of its modes against both.

Only what must differ is normalised (see `norm`); the differences Ward
keeps on purpose are asserted as such in test_deliberate_* so that they
stay documented, and are left out of the comparisons.

The servers are shared by the whole module (the classes behind the `wardd`
and `clamd_factory` fixtures, with module scope): a pair started for each of
the several hundred cases would take minutes. The tree lives in a mode-755
directory under /tmp because one pair of servers runs as the user clamav
(when the tests run as root).
"""
import os
import pathlib
import re
import select
import shutil
import socket
import subprocess
import tempfile
import time
import zipfile

import pytest

import clamd_peer as cp
from conftest import WARDD, Wardd, free_port

EVIL = b"evilbody"      # Test.Sig
WICKED = b"wickedbody"  # Test.Sig2
CUDSIG = b"cudsigbody"  # Cud.Sig, inside daily.cud
CUD_VERSION, CUD_STIME = 27000, 1699056000  # Sat Nov  4 00:00:00 2023: a one-digit day
LIMIT = 65536           # clamd's StreamMaxLength and wardd's stream_max_length
QUIET = 5.0             # silence that ends a read when the server keeps the connection
OPEN_WAIT = 1.0         # for cases where both servers are expected to keep waiting
CLAMEXE = pathlib.Path("/usr/share/clamav-testfiles/clam.exe")


def be32(n):
    return n.to_bytes(4, "big")


def chunks(data, size=None):
    return cp.instream_chunks(data, size)


# ---------------------------------------------------------------------------
# test data

def make_tree(root):
    """The files the cases scan, keyed by name; values are paths as bytes."""
    root = pathlib.Path(root)
    t = {}

    def put(key, rel, data, mode=None):
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        if mode is not None:
            os.chmod(p, mode)
        t[key] = os.fsencode(p)

    def mark(key, p):
        t[key] = os.fsencode(p)

    put("clean", "clean.txt", b"just a clean file\n")
    put("infected", "infected.txt", b"this file has an " + EVIL + b" inside\n")
    put("two", "two.txt", b"first " + EVIL + b" then " + WICKED + b"\n")
    put("cud", "cud.txt", b"a " + CUDSIG + b"\n")
    put("empty", "empty.txt", b"")
    if CLAMEXE.exists():
        put("clamexe", "clam.exe", CLAMEXE.read_bytes())
    put("dir_a", "dir/a_infected.txt", b"a " + EVIL + b"\n")
    put("dir_b", "dir/b_clean.txt", b"b clean\n")
    put("dir_c", "dir/c_infected.txt", b"c " + WICKED + b"\n")
    put("dir_d", "dir/sub/d_infected.txt", b"d " + EVIL + b"\n")
    put("dir_e", "dir/sub/e_clean.txt", b"e clean\n")
    mark("dir", root / "dir")
    t["dir_slash"] = t["dir"] + b"/"
    put("cleandir_a", "cleandir/a.txt", b"clean a\n")
    put("cleandir_b", "cleandir/sub/b.txt", b"clean b\n")
    mark("cleandir", root / "cleandir")
    t["cleandir_slash"] = t["cleandir"] + b"/"
    (root / "emptydir").mkdir()
    mark("emptydir", root / "emptydir")
    put("spaces", "name with spaces \u00e9\u00e8 \u65e5\u672c.txt", b"x " + EVIL + b"\n")
    put("newline", "new\nline.txt", b"x " + EVIL + b"\n")
    put("colon", "colon: FOUND.txt", b"x " + EVIL + b"\n")
    put("latin1", os.fsdecode(b"latin1-\xe9.txt"), b"x " + EVIL + b"\n")
    os.symlink(root / "infected.txt", root / "link_to_infected")
    mark("link_file", root / "link_to_infected")
    os.symlink(root / "dir", root / "link_to_dir")
    mark("link_dir", root / "link_to_dir")
    os.symlink(root / "does-not-exist", root / "dangling_link")
    mark("dangling", root / "dangling_link")
    (root / "links").mkdir()
    os.symlink(root / "infected.txt", root / "links" / "to_infected")
    os.symlink(root / "dir", root / "links" / "to_dir")
    put("links_clean", "links/clean.txt", b"clean\n")
    mark("links", root / "links")
    # zip members are stored, so the archive's own bytes match too
    with zipfile.ZipFile(root / "double.zip", "w") as z:
        z.writestr("m1.txt", b"one " + EVIL + b"\n")
        z.writestr("m2.txt", b"two " + EVIL + b"\n")
        z.writestr("m3.txt", b"three " + WICKED + b"\n")
    mark("double_zip", root / "double.zip")
    with zipfile.ZipFile(root / "mixed.zip", "w") as z:
        z.writestr("clean.txt", b"clean\n")
        z.writestr("bad.txt", b"bad " + EVIL + b"\n")
    mark("mixed_zip", root / "mixed.zip")
    (root / "special").mkdir()
    os.mkfifo(root / "special" / "fifo")
    mark("fifo", root / "special" / "fifo")
    mark("special", root / "special")
    t["devnull"] = b"/dev/null"
    mark("missing", root / "missing.txt")
    t["relative"] = b"clean.txt"  # both servers run in the tree's root
    t["dot"] = b"./"
    long_name = "b" * 300
    mark("long_component", root / long_name)
    t["long_path"] = os.fsencode(root) + b"/" + b"c" * 5000
    # unreadable for the servers that run as clamav
    put("unreadable", "u/unreadable.txt", b"x " + EVIL + b"\n", mode=0)
    put("udir_ok", "u/dir/ok_infected.txt", b"x " + EVIL + b"\n")
    put("udir_bad", "u/dir/unreadable.txt", b"x " + EVIL + b"\n", mode=0)
    put("private_in", "u/dir/private/inside.txt", b"x " + EVIL + b"\n")
    os.chmod(root / "u" / "dir" / "private", 0o700)
    put("uonly_in", "u/only/secret.txt", b"x " + EVIL + b"\n", mode=0)
    mark("uonly", root / "u" / "only")
    mark("udir", root / "u" / "dir")
    mark("private", root / "u" / "dir" / "private")
    # the tree clamdscan scans
    put("t_clean", "ctree/clean.txt", b"clean\n")
    put("t_inf", "ctree/infected.txt", b"x " + EVIL + b"\n")
    put("t_sub_two", "ctree/sub/two.txt", b"x " + EVIL + b" y " + WICKED + b"\n")
    put("t_sub_clean", "ctree/sub/clean2.txt", b"clean 2\n")
    put("t_sub_empty", "ctree/sub/empty.txt", b"")
    mark("ctree", root / "ctree")
    return t


def make_database(dbdir):
    cp.write_test_database(dbdir)
    cp.write_daily_cud(dbdir, {"cud.ndb": b"Cud.Sig:0:*:" + CUDSIG.hex().encode() + b"\n"},
                       version=CUD_VERSION, stime=CUD_STIME)
    return dbdir


# ---------------------------------------------------------------------------
# the servers

class Pair:
    """clamd and wardd on the same database, in the tree's root directory,
    with matching settings (`clamd_options` and `wardd_options` override)."""

    def __init__(self, base, name, db, tree_root, user=None, clamd_options=None,
                 wardd_options=None):
        work = base / name
        work.mkdir()
        wdir = work / "wardd"
        wdir.mkdir()
        wopts = {"stream_max_length": LIMIT, "self_check": 0, "max_threads": 4,
                 "read_timeout": 60, "idle_timeout": 60}
        wopts.update(wardd_options or {})
        if user:
            import pwd

            pw = pwd.getpwnam(user)
            os.chown(wdir, pw.pw_uid, pw.pw_gid)
            wopts["user"] = user
        copts = {"StreamMaxLength": str(LIMIT)}
        copts.update(clamd_options or {})
        # clamd runs as root (as in the probe) unless told otherwise; without
        # root it runs as whoever runs the tests
        cuser = user or ("root" if os.geteuid() == 0 else None)
        self.clamd = cp.Clamd(work / "clamd", db, user=cuser, options=copts)
        self.wardd = None
        cwd = os.getcwd()
        os.chdir(tree_root)  # both inherit it: relative paths resolve there
        try:
            self.clamd.start()
            self.wardd = Wardd(wdir, db, "".join(f"{k} = {v}\n" for k, v in wopts.items()),
                               tcp_port=free_port())
        except Exception:
            self.stop()
            raise
        finally:
            os.chdir(cwd)

    def connect(self, which, tcp=False):
        if which == "clamd":
            return self.clamd.connect(tcp=tcp, timeout=10.0)
        if tcp:
            return socket.create_connection(("127.0.0.1", self.wardd.tcp_port), timeout=10.0)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10.0)
        s.connect(str(self.wardd.sock))
        return s

    def stop(self):
        if self.wardd:
            self.wardd.stop()
        self.clamd.stop()


class Env:
    def __init__(self, base, tree, db, tree_root):
        self.base, self.t, self.db, self.tree_root = base, tree, db, tree_root
        self.pairs = {}

    def pair(self, name, **kw):
        """Servers by name, started once: "root" (both as root), "clamav" (both
        as the user clamav), or others with Pair's keyword arguments."""
        if name not in self.pairs:
            if name == "clamav":
                kw.setdefault("user", "clamav")
            self.pairs[name] = Pair(self.base, name, self.db, self.tree_root, **kw)
        return self.pairs[name]

    def stop(self):
        for p in self.pairs.values():
            p.stop()


@pytest.fixture(scope="module")
def env():
    try:
        cp.find_clamd()
    except cp.ClamdUnavailable as e:
        pytest.skip(str(e))
    if not WARDD.exists():
        pytest.fail(f"wardd is not built at {WARDD}")
    base = pathlib.Path(tempfile.mkdtemp(prefix="ward-vs-clamd-"))
    os.chmod(base, 0o755)  # the clamav pair must reach the tree and the database
    e = Env(base, make_tree(base / "files"), make_database(base / "db"), base / "files")
    try:
        yield e
    finally:
        e.stop()
        shutil.rmtree(base, ignore_errors=True)


# ---------------------------------------------------------------------------
# one exchange: steps, then read until the server closes or stays silent

def S(data):
    """send bytes"""
    return ("send", data)


def F(data, *fds):
    """send bytes carrying descriptors (SCM_RIGHTS): each a path (bytes, opened
    read-only), ("dir", path), ("wronly", path) or ("pipe",) (a read end whose
    writer is closed); opened afresh for each server"""
    return ("fds", data, fds)


def P(secs):
    """pause, reading whatever comes meanwhile"""
    return ("pause", secs)


def H():
    """half-close (shutdown SHUT_WR)"""
    return ("shut",)


def _open_fds(specs):
    fds = []
    for spec in specs:
        if isinstance(spec, bytes):
            fds.append(os.open(spec, os.O_RDONLY | os.O_NONBLOCK))
        elif spec[0] == "dir":
            fds.append(os.open(spec[1], os.O_RDONLY | os.O_DIRECTORY))
        elif spec[0] == "wronly":
            fds.append(os.open(spec[1], os.O_WRONLY))
        elif spec[0] == "pipe":
            r, w = os.pipe()
            os.close(w)
            fds.append(r)
    return fds


def exchange(sock, steps, wait=QUIET):
    """Run the steps on a connected socket. Returns (reply, closed): closed
    when the server ended the connection (EOF or reset) before `wait`
    seconds passed without a byte."""
    out = bytearray()
    closed = False

    def drain(secs):
        nonlocal closed
        deadline = time.monotonic() + secs
        while not closed:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            r, _, _ = select.select([sock], [], [], left)
            if not r:
                return
            try:
                b = sock.recv(65536)
            except ConnectionResetError:
                closed = True
                return
            if not b:
                closed = True
                return
            out.extend(b)

    for st in steps:
        try:
            if st[0] == "send":
                sock.sendall(st[1])
            elif st[0] == "fds":
                fds = _open_fds(st[2])
                try:
                    socket.send_fds(sock, [st[1]], fds)
                finally:
                    for fd in fds:
                        os.close(fd)
            elif st[0] == "pause":
                drain(st[1])
            elif st[0] == "shut":
                sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server closed early (EPIPE, reset): what it said is still read
    while not closed:
        before = len(out)
        drain(wait)
        if len(out) == before:
            break
    return bytes(out), closed


# ---------------------------------------------------------------------------
# what may differ, and nothing else

def _norm_stats(m):
    lines = []
    for ln in m.group(0).split(b"\n"):
        # wardd's own lines before END (deliberate: cache and scan counters)
        if ln.startswith((b"CACHE: ", b"SCANS: ")):
            continue
        # the queue's task list ("\tSTATS 0.000005 ") is the moment's work
        if ln.startswith(b"\t"):
            continue
        # clamd reports its memory pools; wardd has none (N/A)
        ln = re.sub(rb"pools_used \S+ pools_total \S+", b"pools_used # pools_total #", ln)
        # thread, queue and pool counts depend on the machine and the moment
        ln = re.sub(rb"\d+", b"#", ln)
        lines.append(ln)
    return b"\n".join(lines)


def norm(reply):
    # fd[N] names the descriptor number inside the server process
    reply = re.sub(rb"fd\[\d+\]", b"fd[#]", reply)
    # VERSION: "ClamAV 1.4.6/..." vs "Ward 0.1.0/..." (deliberate); the
    # database version and date after the product must still match
    reply = re.sub(rb"ClamAV \d+\.\d+\.\d+|Ward \d+\.\d+\.\d+", b"<PRODUCT>", reply)
    reply = re.sub(rb"POOLS: .*?\nEND", _norm_stats, reply, flags=re.S)
    return reply


def units(reply, delim):
    """A reply cut into lines at `delim` (the last one keeps no terminator)."""
    parts = reply.split(delim)
    return parts[:-1] + ([parts[-1]] if parts[-1] else [])


def by_id(reply, delim):
    """Session replies in request order: workers finish in any order and
    clients match replies by id; lines of one request keep their order."""
    def key(u):
        m = re.match(rb"(\d+): ", u)
        return int(m.group(1)) if m else 1 << 30
    return sorted(units(reply, delim), key=key)


class Case:
    """shape: how replies are compared:
    "exact"    byte for byte after norm()
    "sorted"   as a sorted list of lines (MULTISCAN scans files in parallel)
    "set"      as a set of lines (ALLMATCHSCAN: clamd repeats text matches)
    "session"  lines ordered by session id (see by_id)
    "garbage"  bytes after a scan command: clamd's reading thread, which says
               "Error processing command. ERROR" first, races with its scanning
               thread; under load the line comes later or not at all before the
               close. wardd's reply must start with it (clamd's usual order); the
               rest is compared without it ("garbage-sorted": sorted, for trees)"""

    def __init__(self, cid, title, steps, *, shape="exact", delim=b"\0", wait=QUIET,
                 tcp=False, pair="root", needs=()):
        self.cid, self.title, self.steps = cid, title, steps
        self.shape, self.delim, self.wait, self.tcp, self.pair = shape, delim, wait, tcp, pair
        self.needs = needs  # tree keys that must exist (clam.exe is optional)

    def param(self):
        slug = re.sub(r"[^A-Za-z0-9]+", "-", self.title).strip("-")[:60]
        return pytest.param(self, id=f"{self.cid}-{slug}")


def shaped(case, reply):
    r = norm(reply)
    if case.shape == "sorted":
        return sorted(units(r, case.delim))
    if case.shape == "set":
        return sorted(set(units(r, case.delim)))
    if case.shape == "session":
        return by_id(r, case.delim)
    if case.shape.startswith("garbage"):
        rest = [u for u in units(r, case.delim) if u != GARBAGE]
        return sorted(rest) if case.shape == "garbage-sorted" else rest
    return r


def run_one(pair, which, case, tree):
    with pair.connect(which, tcp=case.tcp) as s:
        return exchange(s, case.steps(tree), case.wait)


def run_both(env, case, pair=None):
    for k in case.needs:
        if k not in env.t:
            pytest.skip(f"no test file {k}")
    pair = pair or env.pair(case.pair)
    return {which: run_one(pair, which, case, env.t) for which in ("clamd", "wardd")}


GARBAGE = b"Error processing command. ERROR"


def compare(case, got):
    (c_reply, c_closed), (w_reply, w_closed) = got["clamd"], got["wardd"]
    if case.shape.startswith("garbage"):
        assert w_reply.startswith(GARBAGE + case.delim), w_reply
    assert (shaped(case, w_reply), w_closed) == (shaped(case, c_reply), c_closed), (
        f"{case.cid} {case.title}\n clamd: {c_reply!r} closed={c_closed}\n"
        f" wardd: {w_reply!r} closed={w_closed}")


def check(env, case):
    compare(case, run_both(env, case))


# ---------------------------------------------------------------------------
# B: commands and framing

def _basic_cases():
    c = []

    def add(cid, title, *steps, **kw):
        c.append(Case(cid, title, lambda t, s=steps: list(s), **kw))

    n = 1
    for cmd in (b"PING", b"VERSION", b"VERSIONCOMMANDS", b"STATS"):
        add(f"B{n:02}", f"{cmd.decode()} z", S(b"z" + cmd + b"\0"))
        add(f"B{n + 1:02}", f"{cmd.decode()} n", S(b"n" + cmd + b"\n"))
        add(f"B{n + 2:02}", f"{cmd.decode()} unprefixed", S(cmd + b"\n"))
        add(f"B{n + 3:02}", f"{cmd.decode()} unprefixed no newline half-close", S(cmd), H())
        add(f"B{n + 4:02}", f"{cmd.decode()} unprefixed no newline left open", S(cmd))
        n += 5
    add("B21", "PING unprefixed CRLF", S(b"PING\r\n"))
    add("B22", "PING n CRLF", S(b"nPING\r\n"))
    add("B23", "PING z CRLF before NUL", S(b"zPING\r\n\0"))
    add("B24", "PING z ended by newline waits", S(b"zPING\n"), wait=OPEN_WAIT)
    add("B25", "VERSION n over TCP", S(b"nVERSION\n"), tcp=True)
    add("B25b", "PING z over TCP", S(b"zPING\0"), tcp=True)
    add("B28", "lowercase n", S(b"nping\n"))
    add("B29", "lowercase z", S(b"zping\0"))
    add("B30", "lowercase unprefixed", S(b"ping\n"))
    add("B31", "mixed case", S(b"nPing\n"))
    add("B32", "uppercase Z prefix", S(b"ZPING\0"))
    add("B33", "unknown z", S(b"zFOO\0"))
    add("B34", "unknown n", S(b"nFOO\n"))
    add("B35", "unknown unprefixed", S(b"FOO\n"))
    add("B36", "unknown unprefixed half-close", S(b"FOO"), H())
    add("B37", "empty line", S(b"\n"))
    add("B38", "empty n", S(b"n\n"))
    add("B39", "empty z", S(b"z\0"))
    add("B40", "lone NUL", S(b"\0"))
    add("B41", "half-close without sending", H())
    add("B42", "connect and wait", wait=OPEN_WAIT)
    add("B43", "trailing space n", S(b"nPING \n"))
    add("B44", "trailing space z", S(b"zPING \0"))
    add("B45", "trailing space unprefixed", S(b"PING \n"))
    add("B46", "leading space unprefixed", S(b" PING\n"))
    add("B47", "space after prefix", S(b"n PING\n"))
    add("B48", "argument to PING", S(b"zPING x\0"))
    add("B49", "PINGPONG", S(b"zPINGPONG\0"))
    add("B50", "VERSIONX", S(b"zVERSIONX\0"))
    add("B52", "IDSESSION unprefixed", S(b"IDSESSION\n"))
    add("B53", "INSTREAM unprefixed", S(b"INSTREAM\n"))
    add("B54", "END outside a session z", S(b"zEND\0"))
    add("B55", "END outside a session unprefixed", S(b"END\n"))
    add("B56", "DETSTATS", S(b"zDETSTATS\0"))
    add("B57", "DETSTATSCLEAR", S(b"nDETSTATSCLEAR\n"))
    add("B58", "OPTSCAN", S(b"zOPTSCAN ALLMATCH CONTSCAN /\0"))
    add("B59", "two PINGs z one packet", S(b"zPING\0zPING\0"))
    add("B60", "two PINGs n one packet", S(b"nPING\nnPING\n"))
    add("B61", "two PINGs unprefixed one packet", S(b"PING\nPING\n"))
    add("B62", "PING then VERSION z one packet", S(b"zPING\0zVERSION\0"))
    add("B63", "z command split over two writes", S(b"zPI"), P(0.3), S(b"NG\0"))
    add("B64", "unprefixed command split over two writes", S(b"PI"), P(0.3), S(b"NG\n"))
    add("B65", "n command ended by NUL waits", S(b"nPING\0"), wait=OPEN_WAIT)
    add("B65b", "partial z command then half-close", S(b"zPI"), H())
    add("B65c", "n command without newline then half-close", S(b"nPING"), H())
    add("B66", "over-long n line", S(b"n" + b"A" * 5000 + b"\n"))
    add("B67", "over-long z line", S(b"z" + b"A" * 5000 + b"\0"))
    add("B68", "over-long unprefixed line", S(b"A" * 5000 + b"\n"))
    add("B69", "100000 bytes without terminator n", S(b"n" + b"A" * 100000))
    add("B70", "100000 bytes without terminator z", S(b"z" + b"A" * 100000))
    add("B71", "100000 bytes unprefixed", S(b"A" * 100000))
    add("B72", "binary garbage", S(bytes(range(1, 256))))
    # the longest command: 4102 bytes between prefix and terminator
    for pre, end in ((b"n", b"\n"), (b"z", b"\0")):
        f = pre.decode()
        add(f"L{f}1", f"{f} line of 4102 bytes", S(pre + b"A" * 4102 + end))
        add(f"L{f}2", f"{f} line of 4103 bytes", S(pre + b"A" * 4103 + end))
    add("L3", "unprefixed line of 70000 bytes", S(b"A" * 70000 + b"\n"))
    return c


BASIC = _basic_cases()


@pytest.mark.parametrize("case", [c.param() for c in BASIC])
def test_commands_and_framing(env, case):
    check(env, case)


# ---------------------------------------------------------------------------
# S: scanning by path

SCAN_TARGETS = [
    ("clean", "clean file"), ("infected", "infected file"), ("two", "two signatures"),
    ("clamexe", "hsb hash (clam.exe)"), ("cud", "daily.cud signature"), ("empty", "empty file"),
    ("dir", "tree with 3 infected"), ("dir_slash", "tree with trailing slash"),
    ("cleandir", "clean tree"), ("cleandir_slash", "clean tree with trailing slash"),
    ("emptydir", "empty directory"), ("missing", "missing path"),
    ("relative", "relative path"), ("dot", "relative ./ (whole tree)"),
    ("links", "directory holding symlinks"), ("spaces", "spaces and UTF-8"),
    ("latin1", "invalid UTF-8"), ("colon", "name with ': FOUND'"),
    ("double_zip", "zip with three hits"), ("mixed_zip", "zip with one hit"),
    ("fifo", "FIFO"), ("special", "directory holding a FIFO"), ("devnull", "/dev/null"),
    ("long_component", "300-byte component"), ("ctree", "small tree"),
]
SCAN_CMDS = ("SCAN", "CONTSCAN", "MULTISCAN", "ALLMATCHSCAN")
# Left out here and asserted in test_deliberate_symlink_arguments and
# test_deliberate_multiscan_empty: symlinks given as the argument (clamd answers
# OK without scanning; wardd follows them), and MULTISCAN of a directory with no
# regular file (clamd answers nothing at all; wardd "<dir>: OK").
SCAN_SKIP = {("MULTISCAN", "emptydir"), ("MULTISCAN", "special")}


def _scan_cases():
    c = []
    for i, cmd in enumerate(SCAN_CMDS):
        shape = {"MULTISCAN": "sorted", "ALLMATCHSCAN": "set"}.get(cmd, "exact")
        for j, (key, title) in enumerate(SCAN_TARGETS):
            if (cmd, key) in SCAN_SKIP:
                continue
            c.append(Case(f"S{i}{j:02}", f"z{cmd} {title}",
                          lambda t, k=key, m=cmd: [S(f"z{m} ".encode() + t[k] + b"\0")],
                          shape=shape, needs=(key,)))
        # a newline inside the path works only with z framing
        c.append(Case(f"S{i}nl", f"z{cmd} path containing a newline",
                      lambda t, m=cmd: [S(f"z{m} ".encode() + t["newline"] + b"\0")],
                      shape=shape))
    return c


def _sx_cases():
    c = []

    def add(cid, title, steps, **kw):
        c.append(Case(cid, title, steps, **kw))

    add("SX01", "nSCAN infected", lambda t: [S(b"nSCAN " + t["infected"] + b"\n")], delim=b"\n")
    add("SX02", "SCAN unprefixed", lambda t: [S(b"SCAN " + t["infected"] + b"\n")])
    add("SX03", "SCAN unprefixed no newline half-close",
        lambda t: [S(b"SCAN " + t["infected"]), H()])
    add("SX04", "nCONTSCAN tree", lambda t: [S(b"nCONTSCAN " + t["dir"] + b"\n")])
    add("SX05", "CONTSCAN unprefixed", lambda t: [S(b"CONTSCAN " + t["dir"] + b"\n")])
    add("SX06", "MULTISCAN unprefixed", lambda t: [S(b"MULTISCAN " + t["dir"] + b"\n")],
        shape="sorted", delim=b"\n")
    add("SX07", "ALLMATCHSCAN unprefixed", lambda t: [S(b"ALLMATCHSCAN " + t["two"] + b"\n")])
    add("SX08", "nALLMATCHSCAN zip", lambda t: [S(b"nALLMATCHSCAN " + t["double_zip"] + b"\n")],
        shape="set", delim=b"\n")
    add("SX08b", "nMULTISCAN tree", lambda t: [S(b"nMULTISCAN " + t["dir"] + b"\n")],
        shape="sorted", delim=b"\n")
    add("SX09", "zSCAN without argument", lambda t: [S(b"zSCAN\0")])
    add("SX10", "zSCAN with a space and no path", lambda t: [S(b"zSCAN \0")])
    add("SX11", "zSCAN two spaces", lambda t: [S(b"zSCAN  " + t["infected"] + b"\0")])
    add("SX12", "zSCAN tab", lambda t: [S(b"zSCAN\t" + t["infected"] + b"\0")])
    add("SX13", "zSCANX path", lambda t: [S(b"zSCANX" + t["infected"] + b"\0")])
    add("SX14", "zSCAN trailing space", lambda t: [S(b"zSCAN " + t["infected"] + b" \0")])
    add("SX15", "nSCAN CRLF", lambda t: [S(b"nSCAN " + t["infected"] + b"\r\n")],
        shape="garbage", delim=b"\n")
    add("SX15b", "nCONTSCAN CRLF", lambda t: [S(b"nCONTSCAN " + t["dir"] + b"\r\n")],
        shape="garbage-sorted", delim=b"\n")
    add("SX17", "nSCAN 5000-byte path", lambda t: [S(b"nSCAN " + t["long_path"] + b"\n")])
    add("SX19", "zSCAN then zPING in one packet",
        lambda t: [S(b"zSCAN " + t["infected"] + b"\0zPING\0")], shape="garbage")
    add("SX19b", "nSCAN then garbage", lambda t: [S(b"nSCAN " + t["clean"] + b"\nxyz")],
        shape="garbage", delim=b"\n")
    add("SX19c", "zCONTSCAN tree then zPING in one packet",
        lambda t: [S(b"zCONTSCAN " + t["dir"] + b"\0zPING\0")], shape="garbage-sorted")
    add("SX19d", "PING then garbage (ignored)", lambda t: [S(b"zPING\0garbage")])
    add("SX20", "zSCAN infected then half-close at once",
        lambda t: [S(b"zSCAN " + t["infected"] + b"\0"), H()])
    add("SX20b", "zCONTSCAN tree then half-close at once",
        lambda t: [S(b"zCONTSCAN " + t["dir"] + b"\0"), H()])
    add("SX20c", "nVERSION then half-close", lambda t: [S(b"nVERSION\n"), H()])
    # slashes: clamd cuts trailing ones and collapses doubled leading ones for
    # the walk, but its final OK line keeps the leading ones as sent
    for cid, cmd, key, pre, post, shape in (
            ("SP01", "SCAN", "cleandir", b"", b"//", "exact"),
            ("SP02", "SCAN", "cleandir", b"/", b"", "exact"),
            ("SP03", "SCAN", "dir", b"//", b"//", "exact"),
            ("SP04", "SCAN", "infected", b"", b"/", "exact"),
            ("SP05", "SCAN", "missing", b"", b"/", "exact"),
            ("SP06", "SCAN", "infected", b"/", b"", "exact"),
            ("SP07", "SCAN", "clean", b"/", b"", "exact"),
            ("SP08", "CONTSCAN", "dir", b"/", b"/", "exact"),
            ("SP09", "MULTISCAN", "cleandir", b"/", b"/", "sorted"),
            ("SP10", "MULTISCAN", "dir", b"/", b"//", "sorted"),
            ("SP11", "MULTISCAN", "missing", b"/", b"/", "sorted"),
            ("SP12", "ALLMATCHSCAN", "infected", b"/", b"/", "set"),
            ("SP13", "CONTSCAN", "devnull", b"", b"/", "exact"),
            ("SP14", "SCAN", "devnull", b"/", b"", "exact"),
            ("SP15", "SCAN", "fifo", b"/", b"", "exact"),
            ("SP16", "CONTSCAN", "relative", b"", b"/", "exact"),
            ("SP17", "SCAN", "cleandir", b"/", b"/.", "exact")):
        add(cid, f"z{cmd} {pre.decode()}{key}{post.decode()}",
            lambda t, c=cmd, k=key, a=pre, b=post: [S(f"z{c} ".encode() + a + t[k] + b + b"\0")],
            shape=shape)
    add("SP18", "zSCAN ///", lambda t: [S(b"zSCAN ///\0")])
    add("SX22", "zSCAN over TCP", lambda t: [S(b"zSCAN " + t["infected"] + b"\0")], tcp=True)
    add("SX22b", "nCONTSCAN over TCP", lambda t: [S(b"nCONTSCAN " + t["dir"] + b"\n")], tcp=True)
    return c


@pytest.mark.parametrize("case", [c.param() for c in _scan_cases() + _sx_cases()])
def test_scan_commands(env, case):
    check(env, case)


# U: both servers as the user clamav, on files they may not read
def _nonroot_cases():
    c = []
    for i, cmd in enumerate(SCAN_CMDS):
        shape = {"MULTISCAN": "sorted", "ALLMATCHSCAN": "set"}.get(cmd, "exact")
        for j, (key, title) in enumerate([("unreadable", "mode-000 file"),
                                          ("udir", "tree with unreadable parts"),
                                          ("private", "mode-700 directory"),
                                          ("private_in", "file in a mode-700 directory"),
                                          ("uonly", "directory of one unreadable file"),
                                          ("infected", "readable infected file")]):
            c.append(Case(f"U{i}{j}", f"z{cmd} {title} as clamav",
                          lambda t, k=key, m=cmd: [S(f"z{m} ".encode() + t[k] + b"\0")],
                          shape=shape, pair="clamav"))
    # the descriptor opens what the path does not
    c.append(Case("U21", "FILDES of a mode-000 file opened by root",
                  lambda t: [S(b"zFILDES\0"), P(0.05), F(b"\0", t["unreadable"])],
                  pair="clamav"))
    return c


@pytest.mark.parametrize("case", [c.param() for c in _nonroot_cases()])
def test_unreadable_paths(env, case):
    import pwd

    if os.geteuid() != 0:
        pytest.skip("needs root: both servers drop to the user clamav")
    try:
        pwd.getpwnam("clamav")
    except KeyError:
        pytest.skip("no user clamav")
    check(env, case)


# ---------------------------------------------------------------------------
# I: INSTREAM

def _instream_cases():
    c = []

    def add(cid, title, steps, **kw):
        c.append(Case(cid, title, steps, **kw))

    inf = b"stream with " + EVIL + b" in it\n"
    add("I01", "clean one chunk", lambda t: [S(b"zINSTREAM\0" + chunks(b"hello clean\n"))])
    add("I02", "infected one chunk", lambda t: [S(b"zINSTREAM\0" + chunks(inf))])
    add("I03", "infected n framing", lambda t: [S(b"nINSTREAM\n" + chunks(inf))])
    add("I04", "two signatures", lambda t: [S(b"zINSTREAM\0" + chunks(EVIL + b" " + WICKED))])
    add("I05", "one byte per chunk, each its own write",
        lambda t: [S(b"zINSTREAM\0")] + [S(be32(1) + inf[i:i + 1]) for i in range(len(inf))]
        + [S(be32(0))])
    add("I06", "7-byte chunks in one write", lambda t: [S(b"zINSTREAM\0" + chunks(inf, 7))])
    add("I07", "command and length split across writes",
        lambda t: [S(b"zINST"), P(0.05), S(b"REAM\0\0\0"), P(0.05),
                   S(be32(len(inf))[2:] + inf[:5]), P(0.05), S(inf[5:] + be32(0))])
    add("I08", "zero chunks", lambda t: [S(b"zINSTREAM\0" + be32(0))])
    add("I09", "no chunk, connection left open", lambda t: [S(b"zINSTREAM\0")], wait=OPEN_WAIT)
    add("I10", "no terminator, half-close",
        lambda t: [S(b"zINSTREAM\0" + be32(len(inf)) + inf), H()])
    add("I11", "complete stream then half-close",
        lambda t: [S(b"zINSTREAM\0" + chunks(inf)), H()])
    def stream_of(key):
        def steps(t):
            with open(t[key], "rb") as f:
                return [S(b"zINSTREAM\0" + chunks(f.read()))]
        return steps

    add("I12", "clam.exe as a stream", stream_of("clamexe"), needs=("clamexe",))
    add("I13", "zip as a stream", stream_of("double_zip"))
    at_limit = b"x" * (LIMIT - len(EVIL)) + EVIL
    add("I14", "exactly the limit in two chunks",
        lambda t: [S(b"zINSTREAM\0" + chunks(at_limit, LIMIT // 2 + 3))])
    add("I14b", "exactly the limit in clamdscan's 8188-byte chunks",
        lambda t: [S(b"zINSTREAM\0" + chunks(at_limit, 8188))])
    add("I15", "one chunk header over the limit, then its data",
        lambda t: [S(b"zINSTREAM\0" + be32(LIMIT + 1)), P(0.05), S(b"y" * (LIMIT + 1) + be32(0))])
    add("I16", "over the limit in the third chunk",
        lambda t: [S(b"zINSTREAM\0" + be32(LIMIT // 2) + b"a" * (LIMIT // 2)
                     + be32(LIMIT // 2) + b"b" * (LIMIT // 2)), P(0.05),
                   S(be32(1) + b"c" + be32(0))])
    add("I18", "over the limit, n framing",
        lambda t: [S(b"nINSTREAM\n" + be32(LIMIT + 1))], delim=b"\n")
    add("I19", "chunk length larger than the data, half-close",
        lambda t: [S(b"zINSTREAM\0" + be32(100) + b"only ten b"), H()])
    add("I20", "chunk length larger than the data, left open",
        lambda t: [S(b"zINSTREAM\0" + be32(100) + b"only ten b")], wait=OPEN_WAIT)
    add("I21", "text instead of a length", lambda t: [S(b"zINSTREAM\0hello world\n")])
    add("I22", "length spelled as text '\\0\\0\\0A'",
        lambda t: [S(b"zINSTREAM\0\0\0\0A" + b"A" * 65 + be32(0))])
    add("I23", "three bytes of a length, half-close", lambda t: [S(b"zINSTREAM\0\0\0\0"), H()])
    add("I24", "data after the terminator",
        lambda t: [S(b"zINSTREAM\0" + chunks(inf) + b"zPING\0")])
    add("I25", "infected over TCP", lambda t: [S(b"zINSTREAM\0" + chunks(inf))], tcp=True)
    add("I26", "length 0xFFFFFFFF", lambda t: [S(b"zINSTREAM\0\xff\xff\xff\xff")])
    return c


@pytest.mark.parametrize("case", [c.param() for c in _instream_cases()])
def test_instream(env, case):
    check(env, case)


# ---------------------------------------------------------------------------
# F: FILDES

def _fildes_cases():
    c = []

    def add(cid, title, steps, **kw):
        c.append(Case(cid, title, steps, **kw))

    def cs(key, cmd=b"zFILDES\0", carrier=b"\0"):
        """clamdscan's way: the command, then one byte carrying the descriptor"""
        return lambda t: [S(cmd), P(0.05), F(carrier, t[key])]

    add("F01", "clamdscan's way, infected", cs("infected"))
    add("F02", "clamdscan's way, clean", cs("clean"))
    add("F03", "descriptor on 'zFILDES\\0\\0'", lambda t: [F(b"zFILDES\0\0", t["infected"])])
    add("F04", "descriptor on the command itself", lambda t: [F(b"zFILDES\0", t["infected"])])
    add("F04b", "descriptor on nFILDES itself", lambda t: [F(b"nFILDES\n", t["infected"])])
    add("F05", "nFILDES then NUL", cs("infected", b"nFILDES\n"), delim=b"\n")
    add("F06", "nFILDES then newline", cs("infected", b"nFILDES\n", b"\n"), delim=b"\n")
    add("F07", "FILDES unprefixed", cs("infected", b"FILDES\n"), delim=b"\n")
    add("F08", "carrier byte 'X'", cs("infected", carrier=b"X"))
    add("F09", "carrier 'zPING\\0'", cs("infected", carrier=b"zPING\0"), shape="garbage")
    add("F10", "no descriptor, nothing more", lambda t: [S(b"zFILDES\0")], wait=OPEN_WAIT)
    add("F11", "no descriptor, then a NUL", lambda t: [S(b"zFILDES\0"), P(0.05), S(b"\0")])
    add("F12", "zFILDES and a byte in one packet", lambda t: [S(b"zFILDES\0\0")])
    add("F13", "no descriptor, half-close", lambda t: [S(b"zFILDES\0"), H()])
    add("F14", "descriptor on zPING", lambda t: [F(b"zPING\0", t["infected"])])
    add("F15", "descriptor on 'zPING\\0\\0'", lambda t: [F(b"zPING\0\0", t["infected"])])
    add("F16", "two descriptors", lambda t: [S(b"zFILDES\0"), P(0.05),
                                             F(b"\0", t["infected"], t["clean"])])
    add("F17", "directory", lambda t: [S(b"zFILDES\0"), P(0.05), F(b"\0", ("dir", t["dir"]))])
    add("F18", "zip", cs("double_zip"))
    add("F19", "two signatures", cs("two"))
    add("F20", "clam.exe", cs("clamexe"), needs=("clamexe",))
    add("F20b", "empty file", cs("empty"))
    add("F21", "pipe", lambda t: [S(b"zFILDES\0"), P(0.05), F(b"\0", ("pipe",))])
    add("F23", "over TCP, then a NUL", lambda t: [S(b"zFILDES\0"), P(0.05), S(b"\0")], tcp=True)
    add("F24", "over TCP, nothing more", lambda t: [S(b"zFILDES\0")], tcp=True, wait=OPEN_WAIT)
    add("F25", "'zFILDES\\0zPING\\0' with the descriptor",
        lambda t: [F(b"zFILDES\0zPING\0", t["infected"])], shape="garbage")
    return c


@pytest.mark.parametrize("case", [c.param() for c in _fildes_cases()])
def test_fildes(env, case):
    check(env, case)


# ---------------------------------------------------------------------------
# D: IDSESSION

def _session_cases():
    c = []

    def add(cid, title, steps, **kw):
        kw.setdefault("shape", "session")
        c.append(Case(cid, title, steps, **kw))

    inf = b"stream with " + EVIL + b" in it\n"
    add("D01", "z session: PING VERSION SCAN SCAN INSTREAM END in one write",
        lambda t: [S(b"zIDSESSION\0zPING\0zVERSION\0zSCAN " + t["clean"] + b"\0zSCAN "
                     + t["infected"] + b"\0zINSTREAM\0" + chunks(inf) + b"zEND\0")])
    add("D02", "n session: same commands",
        lambda t: [S(b"nIDSESSION\nnPING\nnVERSION\nnSCAN " + t["clean"] + b"\nnSCAN "
                     + t["infected"] + b"\nnINSTREAM\n" + chunks(inf) + b"nEND\n")],
        delim=b"\n")
    add("D03", "one command per write",
        lambda t: [S(b"zIDSESSION\0"), P(0.1), S(b"zPING\0"), P(0.1),
                   S(b"zSCAN " + t["infected"] + b"\0"), P(0.1),
                   S(b"zINSTREAM\0" + chunks(inf)), P(0.1), S(b"zVERSION\0"), P(0.1),
                   S(b"zEND\0")])
    add("D04", "IDSESSION alone then silence", lambda t: [S(b"zIDSESSION\0")], wait=OPEN_WAIT)
    add("D05", "IDSESSION then END", lambda t: [S(b"zIDSESSION\0zEND\0")])
    add("D06", "commands after END", lambda t: [S(b"zIDSESSION\0zPING\0zEND\0zPING\0")])
    # mixed framings: each reply ends as its own command does (compared exactly)
    add("D07", "zIDSESSION then nPING and zPING",
        lambda t: [S(b"zIDSESSION\0nPING\nzPING\0zEND\0")], shape="exact")
    add("D08", "nIDSESSION then zPING", lambda t: [S(b"nIDSESSION\nzPING\0zEND\0")],
        shape="exact")
    add("D08b", "mixed framings with scans, in order",
        lambda t: [S(b"zIDSESSION\0nSCAN " + t["infected"] + b"\n"), P(0.3),
                   S(b"zSCAN " + t["clean"] + b"\0"), P(0.3), S(b"nPING\nzEND\0")],
        shape="exact")
    for cid, cmd in (("D09", b"zIDSESSION\0"), ("D10", b"zSHUTDOWN\0"), ("D11", b"zRELOAD\0"),
                     ("D19", b"zFOO\0"), ("D20", b"zping\0"), ("D19b", b"z\0"),
                     ("D19c", b"nQUIT\n")):
        add(cid, f"{cmd[1:-1].decode() or 'empty command'} inside a session",
            lambda t, x=cmd: [S(b"zIDSESSION\0zPING\0" + x + b"zPING\0zEND\0")], shape="exact")
    for cid, cmd in (("D12", b"CONTSCAN"), ("D13", b"MULTISCAN"), ("D14", b"ALLMATCHSCAN")):
        add(cid, f"{cmd.decode()} inside a session",
            lambda t, x=cmd: [S(b"zIDSESSION\0z" + x + b" " + t["infected"] + b"\0zEND\0")])
    add("D15", "STATS inside a session", lambda t: [S(b"zIDSESSION\0zSTATS\0zEND\0")])
    add("D16", "VERSIONCOMMANDS inside a session",
        lambda t: [S(b"zIDSESSION\0nVERSIONCOMMANDS\nzEND\0")], shape="exact")
    add("D17", "SCAN of a tree inside a session",
        lambda t: [S(b"zIDSESSION\0zSCAN " + t["dir"] + b"\0zEND\0")])
    add("D17b", "SCAN of a FIFO inside a session (two lines, one id)",
        lambda t: [S(b"zIDSESSION\0zSCAN " + t["fifo"] + b"\0zEND\0")])
    add("D18", "SCAN missing and clean",
        lambda t: [S(b"zIDSESSION\0zSCAN " + t["missing"] + b"\0zSCAN " + t["clean"]
                     + b"\0zEND\0")])
    add("D21", "unprefixed command inside a session",
        lambda t: [S(b"zIDSESSION\0PING\n")], wait=OPEN_WAIT)
    add("D22", "descriptor on FILDES itself inside a session",
        lambda t: [S(b"zIDSESSION\0"), P(0.05), F(b"zFILDES\0", t["infected"]), P(0.1),
                   S(b"zFILDES\0"), P(0.05), S(b"zEND\0")])
    add("D23", "FILDES the clamdscan way twice",
        lambda t: [S(b"zIDSESSION\0"), P(0.05), S(b"zFILDES\0"), P(0.05),
                   F(b"\0", t["infected"]), P(0.05), S(b"zFILDES\0"), P(0.05),
                   F(b"\0", t["clean"]), P(0.05), S(b"zEND\0")])
    add("D24", "descriptor on 'zFILDES\\0\\0' then PING",
        lambda t: [S(b"zIDSESSION\0"), P(0.05), F(b"zFILDES\0\0", t["infected"]), P(0.1),
                   S(b"zPING\0zEND\0")])
    add("D24b", "FILDES without a descriptor inside a session",
        lambda t: [S(b"zIDSESSION\0zPING\0zFILDES\0"), P(0.05), S(b"\0zPING\0zEND\0")])
    add("D26", "SCAN tree, SCAN, INSTREAM, PING, FILDES at once",
        lambda t: [S(b"zIDSESSION\0zSCAN " + t["dir"] + b"\0zSCAN " + t["two"]
                     + b"\0zINSTREAM\0" + chunks(inf) + b"zPING\0zFILDES\0"), P(0.05),
                   F(b"\0", t["two"]), P(0.05), S(b"zSCAN " + t["cleandir"] + b"\0zEND\0")])
    add("D28", "SCAN, END, then half-close",
        lambda t: [S(b"zIDSESSION\0zSCAN " + t["infected"] + b"\0zEND\0"), H()])
    add("D30", "INSTREAM over the limit",
        lambda t: [S(b"zIDSESSION\0zPING\0zINSTREAM\0" + be32(LIMIT + 1))])
    add("D30b", "INSTREAM at the limit, then PING",
        lambda t: [S(b"zIDSESSION\0zINSTREAM\0" + chunks(b"q" * LIMIT, 8188)
                     + b"zPING\0zEND\0")])
    add("D31", "session over TCP",
        lambda t: [S(b"zIDSESSION\0zPING\0zSCAN " + t["infected"] + b"\0zINSTREAM\0"
                     + chunks(inf) + b"zEND\0")], tcp=True)
    add("D32", "100 PINGs", lambda t: [S(b"zIDSESSION\0" + b"zPING\0" * 100 + b"zEND\0")],
        shape="exact")
    return c


@pytest.mark.parametrize("case", [c.param() for c in _session_cases()])
def test_idsession(env, case):
    check(env, case)


# ---------------------------------------------------------------------------
# Differences Ward keeps on purpose: both sides asserted, so that they stay
# what docs/clamd-observed.md and wardd's comments say they are.

def _one(env, steps, which, tcp=False, wait=QUIET):
    with env.pair("root").connect(which, tcp=tcp) as s:
        return exchange(s, steps, wait)


def test_deliberate_version_and_stats(env):
    c, _ = _one(env, [S(b"zVERSION\0")], "clamd")
    w, _ = _one(env, [S(b"zVERSION\0")], "wardd")
    m = re.fullmatch(rb"ClamAV \d+\.\d+\.\d+(/27000/.+\0)", c)
    assert m and re.fullmatch(rb"Ward \d+\.\d+\.\d+" + re.escape(m.group(1)), w)
    c, _ = _one(env, [S(b"nSTATS\n")], "clamd")
    w, _ = _one(env, [S(b"nSTATS\n")], "wardd")
    assert c.split(b"\n")[-3].startswith(b"MEMSTATS: ") and c.endswith(b"\nEND\n")
    tail = w.split(b"\n")[-4:]
    assert tail[0].startswith(b"CACHE: ") and tail[1].startswith(b"SCANS: ")
    assert tail[2:] == [b"END", b""]


@pytest.mark.parametrize("cmd", SCAN_CMDS)
def test_deliberate_symlink_arguments(env, cmd):
    """clamd (FollowFileSymlinks/FollowDirectorySymlinks no, Debian's default)
    answers OK for a symlink given as the argument without scanning it, or
    nothing at all for MULTISCAN of a link to a directory or a dangling link.
    wardd scans what it is asked to scan: the link is followed."""
    t = env.t
    for key in ("link_file", "link_dir", "dangling"):
        req = [S(f"z{cmd} ".encode() + t[key] + b"\0")]
        c, c_closed = _one(env, req, "clamd")
        w, w_closed = _one(env, req, "wardd")
        assert c_closed and w_closed
        if cmd == "MULTISCAN" and key != "link_file":
            assert c == b""
        else:
            assert c == t[key] + b": OK\0"
        if key == "link_file":
            assert set(units(w, b"\0")) == {t[key] + b": Test.Sig.UNOFFICIAL FOUND"}
        elif key == "link_dir":
            # the linked tree, reported under the link's name
            assert w and all(u.startswith(t[key] + b"/") for u in units(w, b"\0"))
        else:
            assert w == t[key] + b": File path check failure: No such file or directory. ERROR\0"


def test_deliberate_multiscan_empty(env):
    """MULTISCAN of a directory without a regular file: clamd closes without a
    byte (a client cannot tell this from a crash); wardd answers "<dir>: OK"
    as CONTSCAN does."""
    for key in ("emptydir", "special"):
        req = [S(b"zMULTISCAN " + env.t[key] + b"\0")]
        assert _one(env, req, "clamd") == (b"", True)
        assert _one(env, req, "wardd") == (env.t[key] + b": OK\0", True)


def test_deliberate_allmatch_reports_each_match_once(env):
    """clamd 1.4 reports a text file's matches twice (raw bytes and the
    normalized text layer); wardd once. The scan cases compare ALLMATCHSCAN
    as sets of lines."""
    req = [S(b"zALLMATCHSCAN " + env.t["two"] + b"\0")]
    c, _ = _one(env, req, "clamd")
    w, _ = _one(env, req, "wardd")
    lines = [env.t["two"] + b": Test.Sig.UNOFFICIAL FOUND",
             env.t["two"] + b": Test.Sig2.UNOFFICIAL FOUND"]
    assert units(c, b"\0") == lines * 2
    assert units(w, b"\0") == lines


def test_deliberate_unreadable_descriptor(env):
    """FILDES of a write-only descriptor: clamd reads nothing and answers OK;
    wardd does not call unscanned data clean (Heuristics.* FOUND)."""
    req = [S(b"zFILDES\0"), P(0.05), F(b"\0", ("wronly", env.t["clean"]))]
    c, _ = _one(env, req, "clamd")
    w, _ = _one(env, req, "wardd")
    assert re.fullmatch(rb"fd\[\d+\]: OK\0", c)
    assert re.fullmatch(rb"fd\[\d+\]: Heuristics\.[A-Za-z.]+ FOUND\0", w)


def test_deliberate_session_eof_without_end(env):
    """A client that half-closes a session without END: clamd cancels what is
    still running and drops its replies, or even answers a cancelled scan OK
    (docs/clamd-observed.md 1.4). wardd finishes the work and sends every
    reply, then closes. clamd's side varies from run to run: only wardd's is
    asserted."""
    t = env.t
    req = [S(b"zIDSESSION\0zPING\0zSCAN " + t["infected"] + b"\0zINSTREAM\0"
             + chunks(EVIL)), H()]
    w, closed = _one(env, req, "wardd")
    assert closed
    assert by_id(w, b"\0") == [b"1: PONG", b"2: " + t["infected"] + b": Test.Sig.UNOFFICIAL FOUND",
                               b"3: stream: Test.Sig.UNOFFICIAL FOUND"]


# ---------------------------------------------------------------------------
# clamdscan, unchanged, against both

TIMING = (b"Time:", b"Start Date:", b"End Date:")

CLAMDSCAN_RUNS = [
    # (id, options, target keys or "-", stdin, how to compare stdout lines)
    ("default", [], ["ctree"], None, "exact"),
    ("multiscan", ["--multiscan"], ["ctree"], None, "sorted"),
    ("fdpass", ["--fdpass"], ["ctree"], None, "exact"),
    ("stream", ["--stream"], ["ctree"], None, "exact"),
    ("allmatch", ["--allmatch"], ["ctree"], None, "unique"),
    ("multiscan-fdpass", ["--multiscan", "--fdpass"], ["ctree"], None, "sorted"),
    ("multiscan-stream", ["--multiscan", "--stream"], ["ctree"], None, "sorted"),
    ("allmatch-stream", ["--allmatch", "--stream"], ["ctree"], None, "exact"),
    ("allmatch-fdpass", ["--allmatch", "--fdpass"], ["ctree"], None, "exact"),
    ("stdin-infected", [], ["-"], b"piped " + EVIL + b"\n", "exact"),
    ("stdin-clean", [], ["-"], b"piped clean\n", "exact"),
    ("stream-stdin", ["--stream"], ["-"], b"piped " + EVIL + b"\n", "exact"),
    ("no-summary", ["--no-summary"], ["ctree"], None, "exact"),
    ("infected-only", ["-i"], ["ctree"], None, "exact"),
    ("one-clean-file", [], ["clean"], None, "exact"),
    ("two-files", [], ["infected", "clean"], None, "exact"),
    ("missing-and-infected", [], ["missing", "infected"], None, "exact"),
    ("missing", [], ["missing"], None, "exact"),
    ("zip-allmatch", ["--allmatch"], ["double_zip"], None, "unique"),
    ("multiscan-tree-fdpass-big", ["--multiscan", "--fdpass"], ["dir", "cleandir"], None,
     "sorted"),
    ("version", ["--version"], [], None, "exact"),
    ("ping", ["--ping", "1"], [], None, "exact"),
    ("reload", ["--reload"], [], None, "exact"),
    # over TCP (a configuration with TCPSocket and TCPAddr instead of LocalSocket)
    ("tcp-default", [], ["ctree"], None, "exact"),
    ("tcp-multiscan", ["--multiscan"], ["ctree"], None, "sorted"),
    ("tcp-stream", ["--stream"], ["ctree"], None, "exact"),
]


@pytest.fixture(scope="module")
def clamdscan():
    try:
        return cp.find_clamdscan()
    except cp.ClamdUnavailable as e:
        pytest.skip(str(e))


def _clamdscan_lines(out, how):
    lines = [ln for ln in out.split(b"\n") if not ln.startswith(TIMING)]
    # VERSION's product name is the one deliberate difference in its text
    lines = [norm(ln) for ln in lines]
    if how == "sorted":  # MULTISCAN and sessions report files as they finish
        return sorted(lines)
    if how == "unique":  # clamd repeats text matches under --allmatch (deliberate)
        return list(dict.fromkeys(lines))
    return lines


@pytest.mark.parametrize("run", CLAMDSCAN_RUNS, ids=[r[0] for r in CLAMDSCAN_RUNS])
def test_clamdscan(env, clamdscan, run):
    _, opts, targets, stdin, how = run
    pair = env.pair("root")
    args = [env.t[k] if k != "-" else b"-" for k in targets]
    got = {}
    for which, sock_path, port in (("clamd", pair.clamd.socket_path, pair.clamd.tcp_port),
                                   ("wardd", pair.wardd.sock, pair.wardd.tcp_port)):
        path = env.base / f"clamdscan-{which}.conf"
        if run[0].startswith("tcp-"):
            conf = cp.clamdscan_config(None, path, tcp_port=port)
        else:
            conf = cp.clamdscan_config(sock_path, path)
        p = subprocess.run([clamdscan, f"--config-file={conf}", *opts, *args],
                           input=stdin if stdin is not None else b"",
                           capture_output=True, timeout=60)
        got[which] = (p.returncode, _clamdscan_lines(p.stdout, how),
                      _clamdscan_lines(p.stderr, how))
    assert got["wardd"] == got["clamd"]


# ---------------------------------------------------------------------------
# T: timeouts, on a pair with short ones (clamd's CommandReadTimeout is
# wardd's idle_timeout, before the first command; ReadTimeout is read_timeout,
# after it). Every case runs on both servers at once, so the module waits for
# the timeouts only once.

SHORT = {"clamd_options": {"CommandReadTimeout": "2", "ReadTimeout": "3"},
         "wardd_options": {"idle_timeout": 2, "read_timeout": 3}}


def _timeout_cases():
    c = []

    def add(cid, title, *steps):
        c.append(Case(cid, title, lambda t, s=steps: list(s), pair="short", wait=8.0))

    add("T01", "connect and send nothing")
    add("T02", "partial z command", S(b"zPIN"))
    add("T02b", "partial n command", S(b"nPING"))
    add("T03", "partial unprefixed command", S(b"PIN"))
    add("T04", "IDSESSION then silence", S(b"zIDSESSION\0"))
    add("T05", "IDSESSION and PING then silence", S(b"zIDSESSION\0zPING\0"))
    add("T05b", "n session with PING then silence", S(b"nIDSESSION\nnPING\n"))
    add("T06", "INSTREAM with a partial chunk", S(b"zINSTREAM\0\0\0\0dten bytes!"))
    add("T07", "INSTREAM header only", S(b"zINSTREAM\0"))
    add("T07b", "INSTREAM n, header only", S(b"nINSTREAM\n"))
    add("T08", "FILDES without a descriptor", S(b"zFILDES\0"))
    add("T08b", "FILDES without a descriptor in a session", S(b"zIDSESSION\0zFILDES\0"))
    add("T09", "session with a command every second",
        S(b"zIDSESSION\0"), P(1.0), S(b"zPING\0"), P(1.0), S(b"zPING\0"), P(1.0), S(b"zPING\0"))
    add("T10", "unprefixed PING inside a session", S(b"zIDSESSION\0PING\n"))
    add("T11", "nPING ended by NUL", S(b"nPING\0"))
    return c


TIMEOUT_CASES = _timeout_cases()


@pytest.fixture(scope="module")
def timeout_results(env):
    from concurrent.futures import ThreadPoolExecutor

    pair = env.pair("short", **SHORT)
    with ThreadPoolExecutor(max_workers=2 * len(TIMEOUT_CASES)) as ex:
        futs = {(c.cid, which): ex.submit(run_one, pair, which, c, env.t)
                for c in TIMEOUT_CASES for which in ("clamd", "wardd")}
        return {k: f.result() for k, f in futs.items()}


@pytest.mark.parametrize("case", [c.param() for c in TIMEOUT_CASES])
def test_timeouts(timeout_results, case):
    compare(case, {w: timeout_results[(case.cid, w)] for w in ("clamd", "wardd")})


# ---------------------------------------------------------------------------
# X: SHUTDOWN and QUIT stop the server without a reply (a fresh pair each)

@pytest.mark.parametrize("req", [b"zSHUTDOWN\0", b"nSHUTDOWN\n", b"SHUTDOWN\n", b"QUIT\n",
                                 b"zQUIT\0"], ids=["X01", "X02", "X03", "X04", "X05"])
def test_shutdown(env, req):
    pair = env.pair(f"shutdown-{req.strip(bytes([0, 10])).decode()}")
    case = Case("X", "shutdown", lambda t: [S(req)])
    got = run_both(env, case, pair)
    compare(case, got)
    assert pair.clamd.wait_exit(10), "clamd did not stop"
    pair.wardd.proc.wait(timeout=10)
    assert (pair.wardd.proc.returncode, pair.clamd.proc.returncode) == (0, 0)


def test_deliberate_multiscan_with_one_thread(env):
    """clamd refuses MULTISCAN of a directory with MaxThreads 1; wardd scans
    it (its walk queues the files, it does not wait for them)."""
    pair = env.pair("onethread", clamd_options={"MaxThreads": "1"},
                    wardd_options={"max_threads": 1})
    d = env.t["dir"]
    req = Case("SX93", "MULTISCAN with one thread", lambda t: [S(b"zMULTISCAN " + d + b"\0")])
    got = run_both(env, req, pair)
    assert got["clamd"] == (d + b": Not enough threads for multiscan. Increase MaxThreads. ERROR\0",
                            True)
    assert sorted(units(got["wardd"][0], b"\0")) == [
        d + b"/a_infected.txt: Test.Sig.UNOFFICIAL FOUND",
        d + b"/c_infected.txt: Test.Sig2.UNOFFICIAL FOUND",
        d + b"/sub/d_infected.txt: Test.Sig.UNOFFICIAL FOUND"]
    # a single file is scanned as CONTSCAN scans it, by both
    check(env, Case("SX93b", "MULTISCAN of a file with one thread",
                    lambda t: [S(b"zMULTISCAN " + t["infected"] + b"\0")], pair="onethread"))


# ---------------------------------------------------------------------------
# R: RELOAD (last: both servers reload the same database and go on)

def _reload_cases():
    c = []
    for cid, req in (("R01", b"zRELOAD\0"), ("R03", b"nRELOAD\n"), ("R04", b"RELOAD\n"),
                     ("R05", b"RELOAD")):
        c.append(Case(cid, repr(req), lambda t, r=req: [S(r)]))
        # PING right after the reload is answered (R02), and so is a scan
        c.append(Case(cid + "b", "PING after " + repr(req), lambda t: [S(b"zPING\0")]))
        c.append(Case(cid + "c", "SCAN after " + repr(req),
                      lambda t: [S(b"zSCAN " + t["two"] + b"\0")]))
    return c


@pytest.mark.parametrize("case", [c.param() for c in _reload_cases()])
def test_reload(env, case):
    check(env, case)
