"""Shared fixtures for Ward's integration tests.

Tests start the real programs from the build directory (WARD_BUILD_DIR,
default: <repo>/build) on temporary directories. Test data is generated here;
nothing malicious-looking is stored in the repository.
"""
import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILD = pathlib.Path(os.environ.get("WARD_BUILD_DIR", ROOT / "build"))
WARD = BUILD / "src" / "ward" / "ward"
BUNDLED_DB = ROOT / "db"
# Third-party test messages are never part of the repository: the tests that
# use them run when WARD_CORPORA names their folder, and skip otherwise.
CORPORA = pathlib.Path(os.environ["WARD_CORPORA"]) if os.environ.get("WARD_CORPORA") else None


def eicar() -> bytes:
    """The 68-byte EICAR test string, assembled so no file holds it whole."""
    head = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$"
    tail = "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
    return (head + tail).encode()


def run(args, *, input=None, timeout=120, check=None, env=None):
    """Run a command, capture text output, never hang past `timeout`."""
    proc = subprocess.run(
        [str(a) for a in args],
        input=input,
        capture_output=True,
        timeout=timeout,
        env=env,
    )
    if check is not None:
        assert proc.returncode == check, (
            f"exit {proc.returncode}, expected {check}\n"
            f"stdout:\n{proc.stdout.decode(errors='replace')}\n"
            f"stderr:\n{proc.stderr.decode(errors='replace')}"
        )
    return proc


@pytest.fixture(scope="session")
def ward_bin():
    if not WARD.exists():
        pytest.fail(f"ward is not built at {WARD} (set WARD_BUILD_DIR)")
    return WARD


@pytest.fixture
def ward(ward_bin, tmp_path):
    """Run `ward ARGS...` with a private cache directory."""
    cache = tmp_path / "cache"
    env = dict(os.environ, XDG_CACHE_HOME=str(cache), HOME=str(tmp_path))

    def _run(*args, **kw):
        kw.setdefault("env", env)
        return run([ward_bin, *args], **kw)

    return _run


WARDD = BUILD / "src" / "wardd" / "wardd"


class Wardd:
    """A private wardd on a unix socket (and TCP when asked) in a temp dir."""

    def __init__(self, tmp, db, extra="", tcp_port=None):
        import socket as _socket
        import time as _time

        self.tmp = pathlib.Path(tmp)
        self.sock = self.tmp / "wardd.sock"
        self.log = self.tmp / "wardd.log"
        self.conf = self.tmp / "ward.conf"
        self.tcp_port = tcp_port
        tcp = f"tcp_listen = 127.0.0.1:{tcp_port}\n" if tcp_port else ""
        self.conf.write_text(
            f"[global]\ndatabase_dir = {db}\ncache_dir = {self.tmp}/cache\n"
            f"[wardd]\nsocket = {self.sock}\npid_file = {self.tmp}/wardd.pid\n"
            f"log_file = {self.log}\nlog_level = info\n{tcp}{extra}")
        self.proc = subprocess.Popen([str(WARDD), "--foreground", "--config", str(self.conf)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = _time.monotonic() + 30
        while _time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("wardd exited: " + self.proc.stderr.read().decode())
            if self.sock.exists():
                # the socket listens before the database is loaded: ready
                # means answering, so that a test's changes to the database
                # directory come after the first load
                try:
                    s = _socket.socket(_socket.AF_UNIX)
                    s.settimeout(30)
                    s.connect(str(self.sock))
                    s.sendall(b"zPING\0")
                    got = s.recv(16)
                    s.close()
                    if got == b"PONG\0":
                        return
                except OSError:
                    pass
            _time.sleep(0.05)
        self.stop()
        raise RuntimeError("wardd did not start")

    def request(self, data: bytes, timeout=10, fds=None, half_close=False) -> bytes:
        """Send bytes (and descriptors), read until the daemon closes."""
        import socket as _socket

        s = _socket.socket(_socket.AF_UNIX)
        s.settimeout(timeout)
        s.connect(str(self.sock))
        s.sendall(data)
        if fds:
            # as clamdscan does: the descriptor rides on one byte after the command
            _socket.send_fds(s, [b"\0"], fds)
        if half_close:
            s.shutdown(_socket.SHUT_WR)
        out = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            out += b
        s.close()
        return out

    def stop(self, timeout=30):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        return self.proc.returncode


@pytest.fixture
def wardd(tmp_path):
    """Factory: wardd(db_dir, extra_conf="", tcp_port=None) -> running Wardd."""
    if not WARDD.exists():
        pytest.fail(f"wardd is not built at {WARDD}")
    started = []

    def _start(db=BUNDLED_DB, extra="", tcp_port=None):
        d = tmp_path / f"wardd{len(started)}"
        d.mkdir()
        w = Wardd(d, db, extra, tcp_port)
        started.append(w)
        return w

    yield _start
    for w in started:
        w.stop()


def free_port():
    import socket as _socket

    s = _socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port
