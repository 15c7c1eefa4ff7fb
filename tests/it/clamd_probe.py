#!/usr/bin/env python3
"""Record clamd's exact replies to a battery of requests, and what Debian's
clamdscan sends and prints, as a Markdown report (the raw material of
docs/clamd-observed.md).

    /usr/bin/python3 tests/it/clamd_probe.py --out report.md [--slow]

It makes a scratch directory, writes a small signature database and a tree of
test files into it, starts private clamd instances on it (clamd_peer.py) and
runs every case: a list of steps (send bytes, send bytes with descriptors
attached, sleep, half-close) followed by reading until clamd closes or a
quiet period passes. Each case records the request bytes, every reply byte
with its time, how the connection ended, and the new lines of clamd's log.
The scratch directory is written as $W in the report.

--socket PATH [--tcp-port N] runs the plain cases against another server
(wardd, say) that must scan the same tree with the same signatures: the
tree and database are written to --workdir, which that server must be able
to read. Cases that need a special clamd (non-root user, short timeouts,
SHUTDOWN) are left out then.

Standard library only. Runs as root (clamd's User option, files of mode 000).
"""
import argparse
import errno
import os
import pathlib
import re
import select
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import zipfile

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import clamd_peer as cp  # noqa: E402

EVIL = b"evilbody"        # Test.Sig
WICKED = b"wickedbody"    # Test.Sig2
CUDSIG = b"cudsigbody"    # Cud.Sig, inside daily.cud
CUD_STIME = 1699056000    # Sat Nov  4 00:00:00 2023 UTC: a one-digit day
CUD_VERSION = 27000


def be32(n):
    return n.to_bytes(4, "big")


# ---------------------------------------------------------------------------
# test data

def make_database(dbdir, with_cud=True):
    cp.write_test_database(dbdir)
    if with_cud:
        ndb = b"Cud.Sig:0:*:" + CUDSIG.hex().encode() + b"\n"
        cp.write_daily_cud(dbdir, {"cud.ndb": ndb}, version=CUD_VERSION, stime=CUD_STIME)
    return dbdir


def make_tree(root):
    """Files scanned by the cases. Returns {key: path}."""
    root = pathlib.Path(root)
    root.mkdir(parents=True, exist_ok=True)
    f = {}

    def put(key, rel, data, mode=None):
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        if mode is not None:
            os.chmod(p, mode)
        f[key] = p
        return p

    put("clean", "clean.txt", b"just a clean file\n")
    put("infected", "infected.txt", b"this file has an " + EVIL + b" inside\n")
    put("two", "two.txt", b"first " + EVIL + b" then " + WICKED + b"\n")
    put("cud", "cud.txt", b"a " + CUDSIG + b"\n")
    put("empty", "empty.txt", b"")
    clam = pathlib.Path("/usr/share/clamav-testfiles/clam.exe")
    if clam.exists():
        put("clamexe", "clam.exe", clam.read_bytes())
    put("dir_a", "dir/a_infected.txt", b"a " + EVIL + b"\n")
    put("dir_b", "dir/b_clean.txt", b"b clean\n")
    put("dir_c", "dir/c_infected.txt", b"c " + WICKED + b"\n")
    put("dir_d", "dir/sub/d_infected.txt", b"d " + EVIL + b"\n")
    put("dir_e", "dir/sub/e_clean.txt", b"e clean\n")
    f["dir"] = root / "dir"
    (root / "cleandir" / "sub").mkdir(parents=True, exist_ok=True)
    put("cleandir_a", "cleandir/a.txt", b"clean a\n")
    put("cleandir_b", "cleandir/sub/b.txt", b"clean b\n")
    f["cleandir"] = root / "cleandir"
    (root / "emptydir").mkdir(exist_ok=True)
    f["emptydir"] = root / "emptydir"
    put("spaces", "name with spaces \u00e9\u00e8 \u65e5\u672c.txt", b"x " + EVIL + b"\n")
    put("newline", "new\nline.txt", b"x " + EVIL + b"\n")
    put("colon", "colon: FOUND.txt", b"x " + EVIL + b"\n")
    put("latin1", b"latin1-\xe9.txt".decode("utf-8", "surrogateescape"), b"x " + EVIL + b"\n")
    os.symlink(f["infected"], root / "link_to_infected")
    f["link_file"] = root / "link_to_infected"
    os.symlink(f["dir"], root / "link_to_dir")
    f["link_dir"] = root / "link_to_dir"
    os.symlink(root / "does-not-exist", root / "dangling_link")
    f["link_dangling"] = root / "dangling_link"
    # a directory holding symlinks (scanned as a tree)
    (root / "links").mkdir(exist_ok=True)
    os.symlink(f["infected"], root / "links" / "to_infected")
    os.symlink(f["dir"], root / "links" / "to_dir")
    put("links_clean", "links/clean.txt", b"clean\n")
    f["links"] = root / "links"
    with zipfile.ZipFile(root / "double.zip", "w") as z:
        z.writestr("m1.txt", b"one " + EVIL + b"\n")
        z.writestr("m2.txt", b"two " + EVIL + b"\n")
        z.writestr("m3.txt", b"three " + WICKED + b"\n")
    f["double_zip"] = root / "double.zip"
    with zipfile.ZipFile(root / "mixed.zip", "w") as z:
        z.writestr("clean.txt", b"clean\n")
        z.writestr("bad.txt", b"bad " + EVIL + b"\n")
    f["mixed_zip"] = root / "mixed.zip"
    # large files take clamd a while to scan (each only once: clean results are cached)
    for key in ("big", "big2", "big3", "big4"):
        put(key, f"{key}.bin", os.urandom(16 << 20))
    # unreadable for a non-root clamd
    put("unreadable", "unreadable.txt", b"x " + EVIL + b"\n", mode=0)
    put("udir_ok", "udir/ok_infected.txt", b"x " + EVIL + b"\n")
    put("udir_bad", "udir/unreadable.txt", b"x " + EVIL + b"\n", mode=0)
    put("private_in", "udir/private/inside.txt", b"x " + EVIL + b"\n")
    os.chmod(root / "udir" / "private", 0o700)
    f["udir"] = root / "udir"
    f["private"] = root / "udir" / "private"
    # special files
    (root / "special").mkdir(exist_ok=True)
    os.mkfifo(root / "special" / "fifo")
    f["fifo"] = root / "special" / "fifo"
    f["special"] = root / "special"
    f["missing"] = root / "missing.txt"
    # tree for clamdscan
    put("t_clean", "ctree/clean.txt", b"clean\n")
    put("t_inf", "ctree/infected.txt", b"x " + EVIL + b"\n")
    put("t_sub_two", "ctree/sub/two.txt", b"x " + EVIL + b" y " + WICKED + b"\n")
    put("t_sub_clean", "ctree/sub/clean2.txt", b"clean 2\n")
    f["ctree"] = root / "ctree"
    return f


# ---------------------------------------------------------------------------
# running one case

class Step:
    def __init__(self, kind, data=b"", label=None, paths=(), secs=0.0, fds=None):
        self.kind, self.data, self.label, self.paths, self.secs = kind, data, label, paths, secs
        self.fds = fds


def S(data, label=None):
    """send bytes"""
    return Step("send", data, label)


def F(data, *paths, label=None, fds=None):
    """send bytes with descriptors (SCM_RIGHTS) of the given paths attached"""
    return Step("fds", data, label, paths=paths, fds=fds)


def Z(secs):
    """sleep, reading whatever arrives meanwhile"""
    return Step("sleep", secs=secs)


def H():
    """half-close: shutdown(SHUT_WR)"""
    return Step("shutwr")


class Result:
    def __init__(self):
        self.timeline = []   # (t, text)
        self.reply = b""
        self.end = None
        self.requests = []

    def add(self, t, text):
        self.timeline.append((t, text))


class Case:
    def __init__(self, cid, title, steps, server="main", tcp=False, wait=2.0, note=None):
        self.cid, self.title, self.steps = cid, title, steps
        self.server, self.tcp, self.wait, self.note = server, tcp, wait, note


def _drain(sock, res, t0, timeout):
    """Read for up to `timeout` seconds (less if the peer closes)."""
    deadline = time.monotonic() + timeout
    while res.end is None:
        left = deadline - time.monotonic()
        if left <= 0:
            return
        r, _, _ = select.select([sock], [], [], left)
        if not r:
            return
        try:
            b = sock.recv(65536)
        except ConnectionResetError:
            res.end = ("reset by clamd (ECONNRESET)", time.monotonic() - t0)
            res.add(time.monotonic() - t0, "read: ECONNRESET")
            return
        if not b:
            res.end = ("closed by clamd (EOF)", time.monotonic() - t0)
            res.add(time.monotonic() - t0, "read: EOF")
            return
        res.reply += b
        res.add(time.monotonic() - t0, "recv " + repr(b))


def run_case(case, server):
    res = Result()
    sock = server.connect(tcp=case.tcp)
    t0 = time.monotonic()
    try:
        for i, st in enumerate(case.steps):
            now = time.monotonic() - t0
            nxt = case.steps[i + 1].kind if i + 1 < len(case.steps) else None
            label = st.label or (repr(st.data) if len(st.data) <= 240 else
                                 f"{st.data[:100]!r} ...({len(st.data)} bytes in all)... {st.data[-30:]!r}")
            if st.kind in ("send", "fds"):
                nfd = len(st.paths) + len(st.fds or [])
                if st.kind == "fds":
                    res.requests.append(f"{label} [+{nfd} fd]")
                else:
                    res.requests.append(st.label if st.label else st.data)
                fds = list(st.fds or [])
                opened = []
                for p in st.paths:
                    fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK)
                    opened.append(fd)
                    fds.append(fd)
                try:
                    if st.kind == "fds":
                        socket.send_fds(sock, [st.data], fds)
                        res.add(now, f"send {label} with {len(fds)} descriptor(s) attached")
                    else:
                        sock.sendall(st.data)
                        res.add(now, f"send {label}")
                except OSError as e:
                    res.add(time.monotonic() - t0,
                            f"send {label} FAILED: {errno.errorcode.get(e.errno, e.errno)}")
                finally:
                    for fd in opened:
                        os.close(fd)
                if nxt != "shutwr":  # half-close right after the last byte
                    _drain(sock, res, t0, 0.05)
            elif st.kind == "sleep":
                res.add(now, f"wait {st.secs:g} s")
                _drain(sock, res, t0, st.secs)
            elif st.kind == "shutwr":
                try:
                    sock.shutdown(socket.SHUT_WR)
                    res.add(now, "half-close (shutdown SHUT_WR)")
                except OSError as e:
                    res.add(now, f"half-close FAILED: {errno.errorcode.get(e.errno, e.errno)}")
            if res.end is not None and st is not case.steps[-1]:
                pass  # keep going: later sends show what the client would see
        _drain(sock, res, t0, case.wait)
        if res.end is None:
            res.end = (f"still open after {case.wait:g} s of silence (client closed)", None)
    finally:
        sock.close()
    return res


# ---------------------------------------------------------------------------
# report

class Report:
    def __init__(self, workdir):
        self.out = []
        self.w = str(workdir)
        self.wb = os.fsencode(workdir)

    def sub(self, text):
        if isinstance(text, bytes):
            return text.replace(self.wb, b"$W")
        return text.replace(self.w, "$W")

    def line(self, s=""):
        self.out.append(self.sub(s))

    def brepr(self, b):
        """repr() of bytes with $W for the scratch directory; long runs cut."""
        b = self.sub(b)
        if len(b) > 240:
            return f"{b[:100]!r} ...({len(b)} bytes in all)... {b[-30:]!r}"
        return repr(b)

    def case(self, case, res, log, server_desc):
        self.line(f"#### {case.cid}: {case.title}")
        self.line()
        if case.server != "main" or case.tcp:
            self.line(f"- server: {server_desc}{' over TCP' if case.tcp else ''}")
        if case.note:
            self.line(f"- note: {case.note}")
        reqs = [r if isinstance(r, str) else self.brepr(r) for r in res.requests]
        self.line("- sent: " + (" + ".join(f"`{r}`" for r in reqs) if reqs else "nothing"))
        self.line(f"- reply: `{self.brepr(res.reply)}`")
        how, t = res.end
        self.line(f"- end: {how}" + (f" at +{t:.2f} s" if t is not None else ""))
        if len(case.steps) > 1 or any("FAILED" in x for _, x in res.timeline):
            self.line("- timeline:")
            for t, text in res.timeline:
                if text.startswith("recv b"):
                    text = "recv " + self.brepr(eval(text[5:]))
                elif len(text) > 240:
                    text = text[:200] + " ..."
                self.line(f"  - +{t:.2f} s {text}")
        if log:
            self.line("- log:")
            self.line("")
            self.line("  ```")
            for ln in log.splitlines():
                self.line("  " + (ln if len(ln) < 300 else ln[:300] + " ..."))
            self.line("  ```")
        self.line()

    def text(self):
        return "\n".join(self.out) + "\n"


# ---------------------------------------------------------------------------
# servers

class External:
    """A server started by someone else (for --socket)."""

    def __init__(self, socket_path, tcp_port):
        self.socket_path, self.tcp_port = socket_path, tcp_port
        self.log_path = None

    def connect(self, tcp=False, timeout=10.0):
        if tcp:
            return socket.create_connection(("127.0.0.1", self.tcp_port), timeout=timeout)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(str(self.socket_path))
        return s

    def running(self):
        return True

    def request(self, data, *, tcp=False, timeout=10.0, half_close=False):
        """Same contract as clamd_peer.Clamd.request."""
        with self.connect(tcp=tcp, timeout=timeout) as s:
            s.sendall(data)
            if half_close:
                s.shutdown(socket.SHUT_WR)
            return cp.read_reply(s, timeout)


class Servers:
    def __init__(self, workdir, dbdir, plain_dbdir, external=None):
        self.workdir, self.dbdir, self.plain_dbdir = workdir, dbdir, plain_dbdir
        self.external = external
        self.started = {}
        self.log_pos = {}

    SPECS = {
        "main": ("root, StreamMaxLength 1M, daily.cud loaded", {}, "db"),
        "plain": ("root, no daily.cud (VERSION without database version)", {}, "plain"),
        "nonroot": ("User clamav, no daily.cud", {}, "plain"),
        "short": ("root, CommandReadTimeout 2, ReadTimeout 3", {"CommandReadTimeout": "2",
                                                               "ReadTimeout": "3"}, "db"),
        "noallmatch": ("root, AllowAllMatchScan no", {"AllowAllMatchScan": "no"}, "db"),
        "follow": ("root, FollowFileSymlinks yes, FollowDirectorySymlinks yes",
                   {"FollowFileSymlinks": "yes", "FollowDirectorySymlinks": "yes"}, "db"),
        "onethread": ("root, MaxThreads 1", {"MaxThreads": "1"}, "db"),
        "disposable": ("root, started for this case only", {}, "db"),
    }

    def desc(self, name):
        if self.external:
            return "external server"
        return f"clamd `{name}` ({self.SPECS[name][0]})"

    def get(self, name):
        if self.external:
            return self.external
        srv = self.started.get(name)
        if srv is not None and srv.running():
            return srv
        desc, opts, db = self.SPECS[name]
        user = "clamav" if name == "nonroot" else "root"
        n = len(self.started)
        srv = cp.Clamd(self.workdir / f"clamd-{name}-{n}",
                       self.dbdir if db == "db" else self.plain_dbdir,
                       user=user, options=opts, start_timeout=60)
        srv.start()
        self.started[name] = srv
        self.log_pos[name] = 0
        return srv

    def fresh(self, name):
        """Start a new instance (for SHUTDOWN)."""
        old = self.started.pop(name, None)
        if old:
            old.stop()
        return self.get(name)

    def new_log(self, name):
        if self.external:
            return ""
        srv = self.started.get(name)
        if not srv:
            return ""
        try:
            with open(srv.log_path, "rb") as fh:
                fh.seek(self.log_pos.get(name, 0))
                data = fh.read()
                self.log_pos[name] = fh.tell()
        except OSError:
            return ""
        return data.decode("utf-8", "backslashreplace")

    def skip_log(self, name):
        self.new_log(name)

    def stop_all(self):
        for srv in self.started.values():
            srv.stop()


# ---------------------------------------------------------------------------
# the battery

def enc(p):
    return os.fsencode(p)


def cases_basic():
    c = []
    n = 0

    def add(*a, **kw):
        nonlocal n
        n += 1
        c.append(Case(f"B{n:02d}", *a, **kw))

    for cmd in (b"PING", b"VERSION", b"VERSIONCOMMANDS", b"STATS"):
        name = cmd.decode()
        add(f"{name}, z framing", [S(b"z" + cmd + b"\0")])
        add(f"{name}, n framing", [S(b"n" + cmd + b"\n")])
        add(f"{name}, unprefixed with newline", [S(cmd + b"\n")])
        add(f"{name}, unprefixed without newline, then half-close", [S(cmd), H()])
        add(f"{name}, unprefixed without newline, connection left open", [S(cmd)])
    add("PING, unprefixed with CRLF", [S(b"PING\r\n")])
    add("PING, n framing with CRLF", [S(b"nPING\r\n")])
    add("PING, z framing with CRLF before NUL", [S(b"zPING\r\n\0")])
    add("PING, z framing with a newline instead of NUL (no terminator yet)", [S(b"zPING\n")])
    add("VERSION over TCP, n framing", [S(b"nVERSION\n")], tcp=True)
    add("VERSION, plain database without daily", [S(b"zVERSION\0")], server="plain")
    add("VERSIONCOMMANDS, plain database", [S(b"nVERSIONCOMMANDS\n")], server="plain")
    add("lowercase command, n", [S(b"nping\n")])
    add("lowercase command, z", [S(b"zping\0")])
    add("lowercase command, unprefixed", [S(b"ping\n")])
    add("mixed case command", [S(b"nPing\n")])
    add("uppercase Z prefix (treated as unprefixed)", [S(b"ZPING\0")])
    add("unknown command, z", [S(b"zFOO\0")])
    add("unknown command, n", [S(b"nFOO\n")])
    add("unknown command, unprefixed", [S(b"FOO\n")])
    add("unknown command, unprefixed, no newline, half-close", [S(b"FOO"), H()])
    add("empty line, unprefixed", [S(b"\n")])
    add("empty n command", [S(b"n\n")])
    add("empty z command", [S(b"z\0")])
    add("lone NUL, unprefixed", [S(b"\0")])
    add("connect and half-close without sending", [H()])
    add("connect and wait (no command) 3 s", [], wait=3.0,
        note="CommandReadTimeout is 30 s here; see T01 for the timeout itself")
    add("trailing space after PING, n", [S(b"nPING \n")])
    add("trailing space after PING, z", [S(b"zPING \0")])
    add("trailing space after PING, unprefixed", [S(b"PING \n")])
    add("leading space before PING, unprefixed", [S(b" PING\n")])
    add("space between prefix and command", [S(b"n PING\n")])
    add("argument to PING", [S(b"zPING x\0")])
    add("PING with a suffix (PINGPONG)", [S(b"zPINGPONG\0")])
    add("VERSION with a suffix", [S(b"zVERSIONX\0")])
    add("VERSIONCOMMANDS unprefixed (not allowed old style)", [S(b"VERSIONCOMMANDS\n")])
    add("IDSESSION unprefixed (not allowed old style)", [S(b"IDSESSION\n")])
    add("INSTREAM unprefixed (not allowed old style)", [S(b"INSTREAM\n")])
    add("END outside a session, z", [S(b"zEND\0")])
    add("END outside a session, unprefixed", [S(b"END\n")])
    add("DETSTATS (removed command)", [S(b"zDETSTATS\0")])
    add("DETSTATSCLEAR (removed command)", [S(b"nDETSTATSCLEAR\n")])
    add("OPTSCAN (not in 1.4)", [S(b"zOPTSCAN ALLMATCH CONTSCAN /\0")])
    add("two PINGs pipelined, z, one packet", [S(b"zPING\0zPING\0")])
    add("two PINGs pipelined, n, one packet", [S(b"nPING\nnPING\n")])
    add("two PINGs, unprefixed, one packet", [S(b"PING\nPING\n")])
    add("PING then VERSION, z, one packet", [S(b"zPING\0zVERSION\0")])
    add("z command split over two writes", [S(b"zPI"), Z(0.3), S(b"NG\0")])
    add("unprefixed command split over two writes", [S(b"PI"), Z(0.3), S(b"NG\n")])
    add("n command terminated by NUL instead of newline", [S(b"nPING\0")], wait=2.0)
    add("over-long n line (5000 bytes) with newline", [S(b"n" + b"A" * 5000 + b"\n")])
    add("over-long z command (5000 bytes) with NUL", [S(b"z" + b"A" * 5000 + b"\0")])
    add("over-long unprefixed line (5000 bytes)", [S(b"A" * 5000 + b"\n")])
    add("100000 bytes without terminator, n", [S(b"n" + b"A" * 100000)], wait=3.0)
    add("100000 bytes without terminator, z", [S(b"z" + b"A" * 100000)], wait=3.0)
    add("100000 bytes, unprefixed", [S(b"A" * 100000)], wait=3.0)
    add("binary garbage", [S(bytes(range(1, 256)))])
    return c


def scan_cases(f):
    c = []
    n = 0
    cmds = [b"SCAN", b"CONTSCAN", b"MULTISCAN", b"ALLMATCHSCAN"]
    targets = [
        ("clean file", f["clean"]),
        ("infected file", f["infected"]),
        ("file matching two signatures", f["two"]),
        ("file matching the .hsb hash (clam.exe)", f.get("clamexe")),
        ("file matching a daily.cud signature", f["cud"]),
        ("empty file", f["empty"]),
        ("directory with 3 infected and 2 clean files", f["dir"]),
        ("directory with only clean files", f["cleandir"]),
        ("empty directory", f["emptydir"]),
        ("directory given with trailing slash", str(f["dir"]) + "/"),
        ("missing path", f["missing"]),
        ("relative path", "clean.txt"),
        ("relative path ./", "./"),
        ("symlink to an infected file", f["link_file"]),
        ("symlink to a directory", f["link_dir"]),
        ("dangling symlink", f["link_dangling"]),
        ("directory holding symlinks", f["links"]),
        ("path with spaces and non-ASCII (UTF-8)", f["spaces"]),
        ("path with a Latin-1 byte (invalid UTF-8)", f["latin1"]),
        ("path containing ': FOUND'", f["colon"]),
        ("zip with the signature twice (+ Test.Sig2)", f["double_zip"]),
        ("zip with one clean and one infected member", f["mixed_zip"]),
        ("FIFO", f["fifo"]),
        ("directory holding a FIFO", f["special"]),
        ("character device /dev/null", "/dev/null"),
    ]
    for cmd in cmds:
        for title, target in targets:
            if target is None:
                continue
            n += 1
            arg = enc(target)
            c.append(Case(f"S{n:03d}", f"z{cmd.decode()} {title}",
                          [S(b"z" + cmd + b" " + arg + b"\0")], wait=3.0))
    # framing variants
    extra = [
        ("nSCAN infected", [S(b"nSCAN " + enc(f["infected"]) + b"\n")]),
        ("SCAN infected, unprefixed with newline", [S(b"SCAN " + enc(f["infected"]) + b"\n")]),
        ("SCAN infected, unprefixed, no newline, half-close", [S(b"SCAN " + enc(f["infected"])), H()]),
        ("nCONTSCAN directory", [S(b"nCONTSCAN " + enc(f["dir"]) + b"\n")]),
        ("CONTSCAN directory, unprefixed", [S(b"CONTSCAN " + enc(f["dir"]) + b"\n")]),
        ("MULTISCAN directory, unprefixed", [S(b"MULTISCAN " + enc(f["dir"]) + b"\n")]),
        ("ALLMATCHSCAN unprefixed (not allowed old style)",
         [S(b"ALLMATCHSCAN " + enc(f["two"]) + b"\n")]),
        ("nALLMATCHSCAN zip", [S(b"nALLMATCHSCAN " + enc(f["double_zip"]) + b"\n")]),
        ("zSCAN without argument", [S(b"zSCAN\0")]),
        ("zSCAN with a space and no path", [S(b"zSCAN \0")]),
        ("zSCAN with two spaces before the path", [S(b"zSCAN  " + enc(f["infected"]) + b"\0")]),
        ("zSCAN with a tab instead of the space", [S(b"zSCAN\t" + enc(f["infected"]) + b"\0")]),
        ("zSCAN with any byte instead of the space (zSCANX/path)",
         [S(b"zSCANX" + enc(f["infected"]) + b"\0")]),
        ("zSCAN path with a trailing space", [S(b"zSCAN " + enc(f["infected"]) + b" \0")]),
        ("nSCAN path with CRLF", [S(b"nSCAN " + enc(f["infected"]) + b"\r\n")]),
        ("zSCAN path containing a newline", [S(b"zSCAN " + enc(f["newline"]) + b"\0")]),
        ("nSCAN of a 5000-byte path", [S(b"nSCAN /" + b"a" * 5000 + b"\n")]),
        ("nSCAN of a path with a 300-byte component",
         [S(b"nSCAN " + enc(f["clean"].parent) + b"/" + b"b" * 300 + b"\n")]),
        ("zSCAN then zPING in one packet (pipelining outside a session)",
         [S(b"zSCAN " + enc(f["infected"]) + b"\0zPING\0")]),
        ("zSCAN infected then half-close at once", [S(b"zSCAN " + enc(f["infected"]) + b"\0"), H()]),
        ("zSCAN of a 16 MiB file, then half-close at once",
         [S(b"zSCAN " + enc(f["big3"]) + b"\0"), H()]),
        ("zSCAN over TCP", [S(b"zSCAN " + enc(f["infected"]) + b"\0")]),
    ]
    for i, (title, steps) in enumerate(extra, 1):
        c.append(Case(f"SX{i:02d}", title, steps, tcp=title.endswith("TCP"), wait=3.0))
    c.append(Case("SX90", "zALLMATCHSCAN with AllowAllMatchScan no",
                  [S(b"zALLMATCHSCAN " + enc(f["two"]) + b"\0")], server="noallmatch"))
    c.append(Case("SX91", "zSCAN symlink to file, FollowFileSymlinks yes",
                  [S(b"zSCAN " + enc(f["link_file"]) + b"\0")], server="follow"))
    c.append(Case("SX92", "zCONTSCAN directory holding symlinks, Follow*Symlinks yes",
                  [S(b"zCONTSCAN " + enc(f["links"]) + b"\0")], server="follow"))
    c.append(Case("SX93", "zMULTISCAN directory with MaxThreads 1",
                  [S(b"zMULTISCAN " + enc(f["dir"]) + b"\0")], server="onethread"))
    return c


def nonroot_cases(f):
    c = []
    n = 0
    for cmd in (b"SCAN", b"CONTSCAN", b"MULTISCAN", b"ALLMATCHSCAN"):
        for title, target in [("file of mode 000", f["unreadable"]),
                              ("directory holding a mode-000 file and a mode-700 dir",
                               f["udir"]),
                              ("directory of mode 700 owned by root", f["private"]),
                              ("file inside a mode-700 directory",
                               f["private"] / "inside.txt"),
                              ("readable infected file", f["infected"])]:
            n += 1
            c.append(Case(f"U{n:02d}", f"z{cmd.decode()} {title} (clamd as User clamav)",
                          [S(b"z" + cmd + b" " + enc(target) + b"\0")], server="nonroot",
                          wait=3.0))
    n += 1
    c.append(Case(f"U{n:02d}", "zFILDES of a mode-000 file opened by root (clamd as clamav)",
                  [S(b"zFILDES\0"), F(b"\0", f["unreadable"])], server="nonroot"))
    return c


def instream_cases(f):
    c = []
    n = 0

    def add(*a, **kw):
        nonlocal n
        n += 1
        c.append(Case(f"I{n:02d}", *a, **kw))

    clean = b"a clean stream\n"
    inf = b"stream with " + EVIL + b" in it\n"
    add("clean, one chunk", [S(b"zINSTREAM\0" + cp.instream_chunks(clean))])
    add("infected, one chunk", [S(b"zINSTREAM\0" + cp.instream_chunks(inf))])
    add("infected, n framing", [S(b"nINSTREAM\n" + cp.instream_chunks(inf))])
    add("two signatures in one stream (first match only)",
        [S(b"zINSTREAM\0" + cp.instream_chunks(f["two"].read_bytes()))])
    add("infected, one byte per chunk, each chunk its own write",
        [S(b"zINSTREAM\0")] + [S(be32(1) + bytes([b]), label=f"<len 1>{bytes([b])!r}")
                               for b in inf] + [S(be32(0), label="<len 0>")])
    add("infected, 7-byte chunks in one write",
        [S(b"zINSTREAM\0" + cp.instream_chunks(inf, 7),
           label=f"zINSTREAM\\0 + {len(inf)} bytes in 7-byte chunks + <len 0>")])
    add("command and length split across writes",
        [S(b"zINSTR"), Z(0.2), S(b"EAM\0\0\0"), Z(0.2), S(b"\0" + bytes([len(inf)]) + inf[:5]),
         Z(0.2), S(inf[5:] + be32(0))])
    add("zero chunks (only the terminator)", [S(b"zINSTREAM\0" + be32(0))])
    add("INSTREAM with no chunk at all, connection left open", [S(b"zINSTREAM\0")],
        wait=3.0)
    add("no terminator, half-close after the data",
        [S(b"zINSTREAM\0" + be32(len(inf)) + inf), H()], wait=3.0)
    add("complete stream, then half-close", [S(b"zINSTREAM\0" + cp.instream_chunks(inf)), H()])
    add("the .hsb file (clam.exe) as a stream",
        [S(b"zINSTREAM\0" + cp.instream_chunks(f["clamexe"].read_bytes()),
           label="zINSTREAM\\0 + clam.exe (544 bytes) + <len 0>")]
        if "clamexe" in f else [S(b"zPING\0")])
    add("zip with the signature twice as a stream",
        [S(b"zINSTREAM\0" + cp.instream_chunks(f["double_zip"].read_bytes()),
           label="zINSTREAM\\0 + double.zip + <len 0>")])
    one_m = 1 << 20
    add("exactly StreamMaxLength (1 MiB) in two chunks",
        [S(b"zINSTREAM\0", None), S(be32(one_m // 2) + b"\0" * (one_m // 2), "<len 524288> + data"),
         S(be32(one_m // 2) + b"\0" * (one_m // 2), "<len 524288> + data"),
         S(be32(0), "<len 0>")], wait=3.0)
    add("over StreamMaxLength: one chunk header of 1 MiB + 1, then its data",
        [S(b"zINSTREAM\0"), S(be32(one_m + 1), "<len 1048577>"), Z(0.5),
         S(b"\0" * (one_m + 1), "<1048577 data bytes>"), S(be32(0), "<len 0>")], wait=2.0)
    add("over StreamMaxLength in the third chunk (512 KiB + 512 KiB + 1)",
        [S(b"zINSTREAM\0"), S(be32(one_m // 2) + b"\0" * (one_m // 2), "<len 524288> + data"),
         S(be32(one_m // 2) + b"\0" * (one_m // 2), "<len 524288> + data"),
         S(be32(1), "<len 1>"), Z(0.5), S(b"x", "<1 data byte>"), S(be32(0), "<len 0>")],
        wait=2.0)
    add("over StreamMaxLength over TCP (header, then 1 MiB + 1 of data)",
        [S(b"zINSTREAM\0"), S(be32(one_m + 1), "<len 1048577>"), Z(0.5),
         S(b"\0" * (one_m + 1), "<1048577 data bytes>"), S(be32(0), "<len 0>")], tcp=True)
    add("over StreamMaxLength, n framing", [S(b"nINSTREAM\n" + be32(one_m + 1))])
    add("chunk length larger than the data, then half-close",
        [S(b"zINSTREAM\0" + be32(100) + b"only ten b"), H()], wait=3.0)
    add("chunk length larger than the data, connection left open",
        [S(b"zINSTREAM\0" + be32(100) + b"only ten b")], wait=3.0)
    add("garbage instead of a length ('hello world\\n')",
        [S(b"zINSTREAM\0hello world\n")])
    add("length 0x00000041 (65) spelled as '\\0\\0\\0A', 65 bytes, terminator",
        [S(b"zINSTREAM\0\0\0\0A" + b"B" * 65 + b"\0\0\0\0")])
    add("three bytes of a length, then half-close", [S(b"zINSTREAM\0\0\0\0"), H()])
    add("data after the terminator (pipelining outside a session)",
        [S(b"zINSTREAM\0" + cp.instream_chunks(clean) + b"zPING\0")])
    add("INSTREAM over TCP, infected", [S(b"zINSTREAM\0" + cp.instream_chunks(inf))], tcp=True)
    add("length 0xFFFFFFFF", [S(b"zINSTREAM\0\xff\xff\xff\xff")])
    return c


def fildes_cases(f):
    c = []
    n = 0

    def add(*a, **kw):
        nonlocal n
        n += 1
        c.append(Case(f"F{n:02d}", *a, **kw))

    def cs(path=None, fds=None):
        """clamdscan's way: the command, then one NUL byte carrying the descriptor"""
        return [S(b"zFILDES\0"), F(b"\0", *([path] if path else []), fds=fds)]

    add("clamdscan's way: zFILDES\\0, then a NUL byte carrying the infected file's descriptor",
        cs(f["infected"]))
    add("clamdscan's way, clean file", cs(f["clean"]))
    add("descriptor and the extra byte in one message: 'zFILDES\\0\\0' + descriptor",
        [F(b"zFILDES\0\0", f["infected"])])
    add("descriptor attached to 'zFILDES\\0' itself (no byte after the command)",
        [F(b"zFILDES\0", f["infected"])])
    add("nFILDES\\n, then a NUL byte carrying the descriptor",
        [S(b"nFILDES\n"), F(b"\0", f["infected"])])
    add("nFILDES\\n, then a newline carrying the descriptor",
        [S(b"nFILDES\n"), F(b"\n", f["infected"])])
    add("FILDES unprefixed, then a byte carrying the descriptor",
        [S(b"FILDES\n"), F(b"\0", f["infected"])])
    add("zFILDES\\0 then 'X' carrying the descriptor", [S(b"zFILDES\0"), F(b"X", f["infected"])])
    add("zFILDES\\0 then 'zPING\\0' carrying the descriptor",
        [S(b"zFILDES\0"), F(b"zPING\0", f["infected"])])
    add("zFILDES without a descriptor, nothing more", [S(b"zFILDES\0")], wait=3.0)
    add("zFILDES without a descriptor, then a NUL byte without one",
        [S(b"zFILDES\0"), Z(0.3), S(b"\0")])
    add("zFILDES and a further byte in one packet, no descriptor", [S(b"zFILDES\0\0")])
    add("zFILDES without a descriptor, then half-close", [S(b"zFILDES\0"), H()])
    add("descriptor attached to zPING (no FILDES)", [F(b"zPING\0", f["clean"])])
    add("descriptor attached to 'zPING\\0\\0' (no FILDES)", [F(b"zPING\0\0", f["clean"])])
    add("two descriptors on the byte after zFILDES",
        [S(b"zFILDES\0"), F(b"\0", f["infected"], f["clean"])], wait=3.0)
    add("FILDES of a directory", cs(f["dir"]))
    add("FILDES of the zip with two hits", cs(f["double_zip"]))
    add("FILDES of the file matching two signatures", cs(f["two"]))
    add("FILDES of the .hsb file (clam.exe)", cs(f.get("clamexe", f["clean"])))
    r, w = os.pipe()
    os.write(w, b"piped " + EVIL + b"\n")
    os.close(w)
    add("FILDES of a pipe (read end, writer closed)", cs(fds=[r]))
    wo = os.open(f["infected"], os.O_WRONLY)
    add("FILDES of a write-only descriptor", cs(fds=[wo]))
    add("FILDES over TCP (no descriptor possible), then a NUL byte", [S(b"zFILDES\0"), S(b"\0")],
        tcp=True)
    add("FILDES over TCP, nothing more", [S(b"zFILDES\0")], tcp=True, wait=3.0)
    add("'zFILDES\\0zPING\\0' in one packet with the descriptor",
        [F(b"zFILDES\0zPING\0", f["infected"])])
    return c, [r, wo]


def session_cases(f):
    c = []
    n = 0

    def add(*a, **kw):
        nonlocal n
        n += 1
        c.append(Case(f"D{n:02d}", *a, **kw))

    inf = b"stream with " + EVIL + b" in it\n"
    add("z session: PING, VERSION, SCAN clean, SCAN infected, INSTREAM, END in one write",
        [S(b"zIDSESSION\0zPING\0zVERSION\0zSCAN " + enc(f["clean"]) + b"\0zSCAN "
           + enc(f["infected"]) + b"\0zINSTREAM\0" + cp.instream_chunks(inf) + b"zEND\0")],
        wait=3.0)
    add("n session: same commands",
        [S(b"nIDSESSION\nnPING\nnVERSION\nnSCAN " + enc(f["clean"]) + b"\nnSCAN "
           + enc(f["infected"]) + b"\nnINSTREAM\n" + cp.instream_chunks(inf) + b"nEND\n")],
        wait=3.0)
    add("z session, one command per write, reading in between",
        [S(b"zIDSESSION\0"), Z(0.3), S(b"zPING\0"), Z(0.3), S(b"zSCAN " + enc(f["infected"]) + b"\0"),
         Z(0.3), S(b"zINSTREAM\0" + cp.instream_chunks(inf)), Z(0.3), S(b"zVERSION\0"), Z(0.3),
         S(b"zEND\0")], wait=3.0)
    add("IDSESSION alone, then silence 3 s", [S(b"zIDSESSION\0")], wait=3.0)
    add("IDSESSION then END at once", [S(b"zIDSESSION\0zEND\0")])
    add("session: END, then more commands after END",
        [S(b"zIDSESSION\0zPING\0zEND\0zPING\0")])
    add("mixed framing: zIDSESSION then nPING and zPING",
        [S(b"zIDSESSION\0nPING\nzPING\0zEND\0")])
    add("nIDSESSION then zPING", [S(b"nIDSESSION\nzPING\0nEND\n")])
    add("IDSESSION inside IDSESSION", [S(b"zIDSESSION\0zPING\0zIDSESSION\0zPING\0")])
    add("SHUTDOWN inside a session", [S(b"zIDSESSION\0zPING\0zSHUTDOWN\0")])
    add("RELOAD inside a session", [S(b"zIDSESSION\0zRELOAD\0")])
    add("CONTSCAN inside a session", [S(b"zIDSESSION\0zCONTSCAN " + enc(f["dir"]) + b"\0")])
    add("MULTISCAN inside a session", [S(b"zIDSESSION\0zMULTISCAN " + enc(f["dir"]) + b"\0")])
    add("ALLMATCHSCAN inside a session",
        [S(b"zIDSESSION\0zALLMATCHSCAN " + enc(f["two"]) + b"\0")])
    add("STATS inside a session", [S(b"zIDSESSION\0zSTATS\0zEND\0")])
    add("VERSIONCOMMANDS inside a session", [S(b"nIDSESSION\nnVERSIONCOMMANDS\nnEND\n")])
    add("SCAN of a directory inside a session (several replies, one id)",
        [S(b"zIDSESSION\0zSCAN " + enc(f["dir"]) + b"\0zEND\0")], wait=3.0)
    add("SCAN of missing and clean paths inside a session",
        [S(b"zIDSESSION\0zSCAN " + enc(f["missing"]) + b"\0zSCAN " + enc(f["clean"])
           + b"\0zEND\0")])
    add("unknown command inside a session", [S(b"zIDSESSION\0zPING\0zFOO\0zPING\0")])
    add("lowercase command inside a session", [S(b"zIDSESSION\0zping\0zPING\0")])
    add("unprefixed command inside a session", [S(b"zIDSESSION\0PING\n")])
    add("FILDES twice inside a session",
        [S(b"zIDSESSION\0"), F(b"zFILDES\0", f["infected"]), Z(0.2), F(b"zFILDES\0", f["clean"]),
         Z(0.2), S(b"zEND\0")])
    add("FILDES the clamdscan way inside a session, twice",
        [S(b"zIDSESSION\0"), S(b"zFILDES\0"), F(b"\0", f["infected"]), S(b"zFILDES\0"),
         F(b"\0", f["clean"]), S(b"zEND\0")])
    add("FILDES with the descriptor on 'zFILDES\\0\\0' inside a session, then PING",
        [S(b"zIDSESSION\0"), F(b"zFILDES\0\0", f["infected"]), Z(0.2), S(b"zPING\0zEND\0")])
    add("out of order: SCAN of a 16 MiB file, then PING, in one packet",
        [S(b"zIDSESSION\0zSCAN " + enc(f["big"]) + b"\0zPING\0zEND\0")], wait=3.0)
    add("out of order: SCAN big, SCAN infected, INSTREAM, PING",
        [S(b"zIDSESSION\0zSCAN " + enc(f["big"]) + b"\0zSCAN " + enc(f["infected"])
           + b"\0zINSTREAM\0" + cp.instream_chunks(inf) + b"zPING\0zEND\0")], wait=3.0)
    add("session, then half-close without END",
        [S(b"zIDSESSION\0zPING\0zSCAN " + enc(f["infected"]) + b"\0"), H()], wait=3.0)
    add("session with a long scan, END sent at once, then read",
        [S(b"zIDSESSION\0zSCAN " + enc(f["big2"]) + b"\0zEND\0")], wait=3.0)
    add("session with a long scan, client half-closes before the reply",
        [S(b"zIDSESSION\0zSCAN " + enc(f["big4"]) + b"\0"), H()], wait=3.0)
    add("session: INSTREAM over the size limit",
        [S(b"zIDSESSION\0zPING\0zINSTREAM\0" + be32((1 << 20) + 1))])
    add("session over TCP", [S(b"zIDSESSION\0zPING\0zSCAN " + enc(f["infected"]) + b"\0zEND\0")],
        tcp=True)
    add("100 PINGs in a session (ids)", [S(b"zIDSESSION\0" + b"zPING\0" * 100 + b"zEND\0")],
        wait=3.0)
    return c


def timeout_cases(f):
    c = []
    add = c.append
    add(Case("T01", "connect and send nothing (CommandReadTimeout 2)", [], server="short",
             wait=6.0))
    add(Case("T02", "partial z command, then silence", [S(b"zPIN")], server="short", wait=6.0))
    add(Case("T03", "partial unprefixed command, then silence", [S(b"PIN")], server="short",
             wait=6.0))
    add(Case("T04", "IDSESSION then silence (ReadTimeout 3)", [S(b"zIDSESSION\0")],
             server="short", wait=8.0))
    add(Case("T05", "IDSESSION + PING then silence", [S(b"zIDSESSION\0zPING\0")],
             server="short", wait=8.0))
    add(Case("T06", "INSTREAM with a partial chunk, then silence",
             [S(b"zINSTREAM\0" + be32(100) + b"ten bytes!")], server="short", wait=8.0))
    add(Case("T07", "INSTREAM header only, then silence", [S(b"zINSTREAM\0")],
             server="short", wait=8.0))
    add(Case("T08", "zFILDES without descriptor, then silence", [S(b"zFILDES\0")],
             server="short", wait=8.0))
    add(Case("T10", "unprefixed PING inside a session, then silence",
             [S(b"zIDSESSION\0PING\n")], server="short", wait=8.0))
    add(Case("T11", "nPING terminated by NUL, then silence", [S(b"nPING\0")], server="short",
             wait=8.0))
    add(Case("T09", "session with commands every 2 s (below ReadTimeout 3)",
             [S(b"zIDSESSION\0"), Z(2), S(b"zPING\0"), Z(2), S(b"zPING\0"), Z(2),
              S(b"zPING\0")], server="short", wait=8.0))
    return c


def reload_shutdown_cases():
    c = []
    c.append(Case("R01", "RELOAD, z", [S(b"zRELOAD\0")], wait=3.0))
    c.append(Case("R02", "PING right after RELOAD", [S(b"zPING\0")]))
    c.append(Case("R03", "RELOAD, n", [S(b"nRELOAD\n")], wait=3.0))
    c.append(Case("R04", "RELOAD, unprefixed", [S(b"RELOAD\n")], wait=3.0))
    c.append(Case("R05", "RELOAD, unprefixed, no newline", [S(b"RELOAD"), H()], wait=3.0))
    return c


SHUTDOWN_CASES = [
    ("X01", "SHUTDOWN, z", b"zSHUTDOWN\0"),
    ("X02", "SHUTDOWN, n", b"nSHUTDOWN\n"),
    ("X03", "SHUTDOWN, unprefixed", b"SHUTDOWN\n"),
    ("X04", "QUIT, unprefixed (alias of SHUTDOWN)", b"QUIT\n"),
    ("X05", "QUIT, z", b"zQUIT\0"),
]


# ---------------------------------------------------------------------------
# clamdscan

class Proxy:
    """Unix (or TCP) socket proxy that logs both directions, with the
    descriptors passed in SCM_RIGHTS messages."""

    def __init__(self, listen, target_path=None, target_tcp=None):
        self.target_path, self.target_tcp = target_path, target_tcp
        if isinstance(listen, int):
            self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.lsock.bind(("127.0.0.1", listen))
        else:
            self.lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.lsock.bind(str(listen))
        self.lsock.listen(16)
        self.port = self.lsock.getsockname()[1] if isinstance(listen, int) else None
        self.events = []
        self.lock = threading.Lock()
        self.nconn = 0
        self.threads = []
        self.stop = False
        self.t0 = time.monotonic()
        self.acc = threading.Thread(target=self._accept, daemon=True)
        self.acc.start()

    def log(self, conn, text):
        with self.lock:
            self.events.append((time.monotonic() - self.t0, conn, text))

    def _accept(self):
        self.lsock.settimeout(0.2)
        while not self.stop:
            try:
                c, _ = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.nconn += 1
            cid = self.nconn
            if self.target_tcp:
                u = socket.create_connection(("127.0.0.1", self.target_tcp), timeout=30)
            else:
                u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                u.connect(str(self.target_path))
            self.log(cid, "connect")
            for a, b, d in ((c, u, "C>"), (u, c, "<S")):
                t = threading.Thread(target=self._pump, args=(a, b, d, cid), daemon=True)
                t.start()
                self.threads.append(t)

    def _pump(self, src, dst, d, cid):
        src.settimeout(30)
        try:
            while True:
                if d == "C>" and src.family == socket.AF_UNIX:
                    data, fds, _, _ = socket.recv_fds(src, 65536, 8)
                else:
                    data, fds = src.recv(65536), []
                if not data and not fds:
                    self.log(cid, f"{d} EOF")
                    try:
                        dst.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                    return
                self.log(cid, f"{d} {data!r}" + (f" + {len(fds)} fd(s)" if fds else ""))
                if fds:
                    socket.send_fds(dst, [data], fds)
                    for fd in fds:
                        os.close(fd)
                else:
                    dst.sendall(data)
        except OSError as e:
            self.log(cid, f"{d} error {e}")
            try:
                dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def close(self):
        for t in self.threads:
            t.join(timeout=5)
        self.stop = True
        self.lsock.close()
        self.acc.join(timeout=2)

    def transcript(self):
        return [f"conn {cid}: {text}" for _, cid, text in self.events]


STRACE_KEEP = re.compile(r"^\d+\s+((?:connect|sendto|sendmsg|recvfrom|recvmsg|shutdown)\(.*)$")


def strace_lines(cmd, stdin, cwd, workdir):
    """The socket calls clamdscan makes, from strace (empty without it)."""
    strace = shutil.which("strace")
    if not strace:
        return []
    out = workdir / "strace.txt"
    subprocess.run([strace, "-f", "-o", str(out), "-s", "120", "-e",
                    "trace=connect,sendto,sendmsg,recvfrom,recvmsg,shutdown", *cmd],
                   input=stdin, capture_output=True, timeout=60, cwd=cwd)
    lines = []
    for ln in out.read_text(errors="backslashreplace").splitlines():
        m = STRACE_KEEP.match(ln)
        if m and "nscd" not in m.group(1):
            lines.append(m.group(1))
    return lines


def clamdscan_runs(rep, servers, f, workdir):
    try:
        clamdscan = cp.find_clamdscan()
    except cp.ClamdUnavailable as e:
        rep.line(f"clamdscan not run: {e}")
        return
    srv = servers.get("main")
    conf = cp.clamdscan_config(srv.socket_path, workdir / "clamdscan.conf")
    tconf = cp.clamdscan_config(None, workdir / "clamdscan-tcp.conf", tcp_port=srv.tcp_port)
    proxy_sock = workdir / "proxy.sock"
    pconf = cp.clamdscan_config(proxy_sock, workdir / "clamdscan-proxy.conf")
    tree = str(f["ctree"])
    runs = [
        ("default (tree)", [tree]),
        ("--multiscan", ["--multiscan", tree]),
        ("--fdpass", ["--fdpass", tree]),
        ("--stream", ["--stream", tree]),
        ("--allmatch", ["--allmatch", tree]),
        ("--allmatch --stream", ["--allmatch", "--stream", tree]),
        ("--allmatch --fdpass", ["--allmatch", "--fdpass", tree]),
        ("--multiscan --fdpass", ["--multiscan", "--fdpass", tree]),
        ("--multiscan --stream", ["--multiscan", "--stream", tree]),
        ("--no-summary", ["--no-summary", tree]),
        ("-i", ["-i", tree]),
        ("-i --no-summary", ["-i", "--no-summary", tree]),
        ("--verbose", ["--verbose", tree]),
        ("one clean file", [str(f["t_clean"])]),
        ("one infected file", [str(f["t_inf"])]),
        ("two file arguments", [str(f["t_inf"]), str(f["t_clean"])]),
        ("missing file", [str(f["missing"])]),
        ("missing file and an infected file", [str(f["missing"]), str(f["t_inf"])]),
        ("relative path", ["ctree/infected.txt"]),
        ("symlink to an infected file", [str(f["link_file"])]),
        ("zip with two hits, --allmatch", ["--allmatch", str(f["double_zip"])]),
        ("stdin (-) infected", ["-"]),
        ("--stream stdin", ["--stream", "-"]),
        ("--ping 1", ["--ping", "1"]),
        ("--version", ["--version"]),
        ("--reload", ["--reload"]),
        ("TCP configuration, default mode", [tree], "tcp"),
        ("TCP configuration, --multiscan", ["--multiscan", tree], "tcp"),
    ]
    for run in runs:
        title, args = run[0], run[1]
        tcp = len(run) > 2
        stdin = b"piped " + EVIL + b"\n" if "-" in args else None
        cwd = workdir / "files"
        rep.line(f"#### clamdscan {title}")
        rep.line()
        cmd = [clamdscan, f"--config-file={tconf if tcp else conf}", *args]
        p = subprocess.run(cmd, input=stdin, capture_output=True, timeout=60, cwd=cwd)
        log = servers.new_log("main")
        if proxy_sock.exists():
            proxy_sock.unlink()
        if tcp:
            px = Proxy(0, target_tcp=srv.tcp_port)
            pcfg = cp.clamdscan_config(None, workdir / "clamdscan-ptcp.conf", tcp_port=px.port)
        else:
            px = Proxy(proxy_sock, target_path=srv.socket_path)
            pcfg = pconf
        pp = subprocess.run([clamdscan, f"--config-file={pcfg}", *args], input=stdin,
                            capture_output=True, timeout=60, cwd=cwd)
        px.close()
        servers.skip_log("main")
        trace = strace_lines(cmd, stdin, cwd, workdir)
        servers.skip_log("main")
        shown = " ".join(a if " " not in a else repr(a)
                         for a in ["clamdscan", "--config-file=CONF", *args])
        rep.line(f"- command: `{shown}`" + (" (stdin: `piped evilbody`)" if stdin else "")
                 + (" with `TCPSocket`/`TCPAddr 127.0.0.1` in CONF" if tcp else ""))
        rep.line(f"- exit code: {p.returncode}")
        same = pp.returncode == p.returncode and _norm(pp.stdout) == _norm(p.stdout)
        rep.line(f"- through the logging proxy: exit {pp.returncode}, "
                 f"{'same output' if same else 'output differs (order or timing)'}")
        for name, data in (("stdout", p.stdout), ("stderr", p.stderr)):
            if not data:
                continue
            rep.line(f"- {name}:")
            rep.line()
            rep.line("  ```")
            for ln in data.decode("utf-8", "backslashreplace").splitlines():
                rep.line("  " + ln)
            rep.line("  ```")
        rep.line("- bytes through the proxy (C> client to clamd, <S clamd to client; the proxy "
                 "may merge or split writes):")
        rep.line()
        rep.line("  ```")
        for ln in px.transcript():
            rep.line("  " + ln)
        rep.line("  ```")
        if trace:
            rep.line("- clamdscan's socket calls (strace):")
            rep.line()
            rep.line("  ```")
            for ln in trace:
                rep.line("  " + ln)
            rep.line("  ```")
        if log:
            rep.line("- clamd log (direct run):")
            rep.line()
            rep.line("  ```")
            for ln in log.splitlines():
                rep.line("  " + ln)
            rep.line("  ```")
        rep.line()
        if "--reload" in args:
            time.sleep(1.0)


def limits_section(rep, servers):
    """Longest command line clamd accepts, per framing (by bisection)."""
    rep.line("### Longest accepted command line")
    rep.line()
    srv = servers.get("main")
    for name, prefix, term, ok in (("n", b"n", b"\n", b"UNKNOWN COMMAND\n"),
                                   ("z", b"z", b"\0", b"UNKNOWN COMMAND\0"),
                                   ("unprefixed", b"", b"\n", b"UNKNOWN COMMAND\n")):
        lo, hi = 1, 70000   # lo accepted, hi refused (checked below)
        results = {}

        def probe(n):
            if n not in results:
                results[n] = cp_request(srv, prefix + b"A" * n + term)
            return results[n]

        if probe(hi)[0] == ok:
            rep.line(f"- {name}: {hi + len(prefix)} bytes still accepted")
            continue
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if probe(mid)[0] == ok:
                lo = mid
            else:
                hi = mid
        good, bad = probe(lo), probe(hi)
        rep.line(f"- {name} framing: `{prefix!r} + {lo} x 'A' + {term!r}` "
                 f"({len(prefix) + lo + len(term)} bytes with prefix and terminator) -> "
                 f"`{good[0]!r}`; one byte more -> `{bad[0]!r}`, "
                 f"{'closed' if bad[1] else 'left open'}")
    rep.line()
    servers.skip_log("main")


def halfclose_section(rep, servers, f, repeat=20):
    """Half-close right after the request, repeated: which replies survive."""
    rep.line("### Half-close right after the request (each sent %d times)" % repeat)
    rep.line()
    srv = servers.get("main")
    inf = enc(f["infected"])
    stream = b"zINSTREAM\0" + cp.instream_chunks(b"x " + EVIL + b"\n")
    for title, data in [
        ("plain SCAN", b"zSCAN " + inf + b"\0"),
        ("plain INSTREAM", stream),
        ("session: PING, SCAN (no END)", b"zIDSESSION\0zPING\0zSCAN " + inf + b"\0"),
        ("session: SCAN (no END)", b"zIDSESSION\0zSCAN " + inf + b"\0"),
        ("session: INSTREAM (no END)", b"zIDSESSION\0" + stream),
        ("session: SCAN, END", b"zIDSESSION\0zSCAN " + inf + b"\0zEND\0"),
    ]:
        seen = {}
        for _ in range(repeat):
            try:
                r = srv.request(data, half_close=True, timeout=3.0)
            except OSError as e:
                r = (f"error {e}".encode(), True)
            seen[r] = seen.get(r, 0) + 1
        rep.line(f"- {title}: `{rep.brepr(data)}` then shutdown(SHUT_WR) -> " + "; ".join(
            f"{n}x `{rep.brepr(r)}` ({'closed' if c else 'open'})" for (r, c), n in seen.items()))
    rep.line()
    servers.skip_log("main")


def cp_request(srv, data):
    try:
        return srv.request(data, timeout=3.0)
    except OSError as e:
        return (f"error {e}".encode(), True)


def _norm(b):
    return re.sub(rb"(Time|Start Date|End Date):.*", b"", b)


# ---------------------------------------------------------------------------

def run_section(rep, servers, title, cases):
    rep.line(f"### {title}")
    rep.line()
    for case in cases:
        if servers.external and case.server != "main":
            continue
        srv = servers.get(case.server)
        servers.skip_log(case.server)
        try:
            res = run_case(case, srv)
        except OSError as e:
            rep.line(f"#### {case.cid}: {case.title}\n\n- probe error: {e}\n")
            continue
        time.sleep(0.1)
        log = servers.new_log(case.server)
        rep.case(case, res, log, servers.desc(case.server))
        if not servers.external and not srv.running():
            rep.line(f"**clamd `{case.server}` exited after this case; restarted.**")
            rep.line()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", help="write the report here (default: stdout)")
    ap.add_argument("--workdir", help="scratch directory (default: a new one under /tmp, removed)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory")
    ap.add_argument("--socket", help="probe this server instead of starting clamd")
    ap.add_argument("--tcp-port", type=int)
    ap.add_argument("--only", help="regex on section titles")
    ap.add_argument("--slow", action="store_true",
                    help="also wait out clamd's default CommandReadTimeout (30 s)")
    args = ap.parse_args()

    if args.workdir:
        workdir = pathlib.Path(args.workdir).resolve()
        workdir.mkdir(parents=True, exist_ok=True)
    else:
        workdir = pathlib.Path(tempfile.mkdtemp(prefix="clamd-probe-"))
    os.chmod(workdir, 0o755)  # a clamd running as User clamav must reach the files
    files = make_tree(workdir / "files")
    dbdir = make_database(workdir / "db")
    plain = make_database(workdir / "db-plain", with_cud=False)
    external = External(args.socket, args.tcp_port) if args.socket else None
    servers = Servers(workdir, dbdir, plain, external)
    rep = Report(workdir)
    extra_fds = []
    os.chdir(workdir / "files")  # clamd inherits it: relative paths resolve here
    try:
        rep.line(f"<!-- generated by tests/it/clamd_probe.py on {time.strftime('%Y-%m-%d')} -->")
        if not external:
            ver = subprocess.run([cp.find_clamd(), "--version"], capture_output=True).stdout
            rep.line(f"clamd: `{ver.decode().strip()}`; running as uid {os.geteuid()}; "
                     f"TZ of this machine: {time.strftime('%Z')}")
        rep.line()
        rep.line("Database (`$W/db`): test.ndb `" + "`, `".join(cp.TEST_NDB) + "`; test.hsb `"
                 + cp.TEST_HSB[0] + "`; daily.cud (version "
                 f"{CUD_VERSION}, built {CUD_STIME}) with `Cud.Sig` for `{CUDSIG.decode()}`. "
                 "`$W/db-plain` is the same without daily.cud.")
        rep.line()
        fcases, extra_fds = fildes_cases(files)
        sections = [
            ("Commands and framing", cases_basic()),
            ("SCAN, CONTSCAN, MULTISCAN, ALLMATCHSCAN", scan_cases(files)),
            ("Unreadable files (clamd as a non-root user)", nonroot_cases(files)),
            ("INSTREAM", instream_cases(files)),
            ("FILDES", fcases),
            ("IDSESSION", session_cases(files)),
            ("Timeouts", timeout_cases(files)),
            ("RELOAD", reload_shutdown_cases()),
        ]
        if args.slow:
            sections.append(("Default CommandReadTimeout", [
                Case("L01", "connect and send nothing (default CommandReadTimeout 30 s)", [],
                     wait=40.0)]))
        for title, cases in sections:
            if args.only and not re.search(args.only, title):
                continue
            if external and title.startswith(("Unreadable", "Timeouts")):
                continue
            run_section(rep, servers, title, cases)
        if not args.only or re.search(args.only, "limits"):
            limits_section(rep, servers)
        if not args.only or re.search(args.only, "halfclose"):
            halfclose_section(rep, servers, files)
        if not external and (not args.only or re.search(args.only, "SHUTDOWN")):
            rep.line("### SHUTDOWN and QUIT (a fresh clamd each)")
            rep.line()
            for cid, title, data in SHUTDOWN_CASES:
                srv = servers.fresh("disposable")
                servers.skip_log("disposable")
                res = run_case(Case(cid, title, [S(data)], server="disposable"), srv)
                exited = srv.wait_exit(10)
                time.sleep(0.1)
                log = servers.new_log("disposable")
                rep.case(Case(cid, title, [], server="disposable"), res, log,
                         servers.desc("disposable"))
                rep.line(f"- clamd exited by itself within 10 s: {'yes, status ' + str(srv.proc.returncode) if exited else 'no'}")
                rep.line()
        if not external and (not args.only or re.search(args.only, "clamdscan")):
            rep.line("### clamdscan")
            rep.line()
            clamdscan_runs(rep, servers, files, workdir)
    finally:
        servers.stop_all()
        for fd in extra_fds:
            try:
                os.close(fd)
            except OSError:
                pass
        text = rep.text()
        if args.out:
            pathlib.Path(args.out).write_text(text)
        else:
            sys.stdout.write(text)
        os.chdir("/")
        if not args.workdir and not args.keep:
            for p in (files["unreadable"], files["udir_bad"]):
                os.chmod(p, 0o600)
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
