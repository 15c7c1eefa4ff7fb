"""Debian's clamd as a private reference peer for integration tests.

`Clamd` writes a clamd.conf into a work directory, starts `clamd` in the
foreground on a unix socket there (and, unless tcp=False, on a free port of
127.0.0.1), waits until it answers PING, and stops it again: SIGTERM, a
bounded wait, then SIGKILL of its process group. Nothing outside the work
directory is touched. Use it as a context manager, or through the pytest
fixture `clamd_factory`, which stops every instance at teardown and skips
the test when clamd is not installed:

    from clamd_peer import clamd_factory, write_database  # noqa: F401

    def test_something(clamd_factory, tmp_path):
        db = write_database(tmp_path / "db", ndb=["Test.Sig:0:*:6576696c626f6479"])
        clamd = clamd_factory(db)
        reply, closed = clamd.request(b"zPING\\0")
        assert reply == b"PONG\\0" and closed

`clamdscan_config(socket_path)` writes a configuration for Debian's
clamdscan that points at such an instance.

Remember when comparing replies: clamd appends ".UNOFFICIAL" to every
signature name from a database it did not verify (all of these test
databases), and it does not follow symlinks by default. With user="clamav"
clamd drops privileges, so the work directory's parents must be searchable
by that user (pytest's tmp_path is not: use a directory of mode 755).

This module uses only the standard library (pytest is optional), so scripts
such as clamd_probe.py can import it too. Facts about clamd's behaviour are
in docs/clamd-observed.md.
"""
import contextlib
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import time

try:  # optional: the module also serves plain scripts
    import pytest
except ImportError:  # pragma: no cover
    pytest = None

SBIN_DIRS = ("/usr/sbin", "/usr/local/sbin")

# Options written to every clamd.conf unless overridden (a value of None
# drops the line; a list writes the option once per item). They follow the
# clamd.conf that Debian's postinst generates where it matters for replies,
# timeouts or logs, except StreamMaxLength (Debian: 25M) and SelfCheck (off,
# so that only RELOAD reloads).
DEFAULT_OPTIONS = {
    "Foreground": "yes",
    "FixStaleSocket": "yes",
    "LogTime": "yes",
    "LogVerbose": "no",
    "LogClean": "no",
    "ExtendedDetectionInfo": "yes",
    "MaxThreads": "12",
    "MaxQueue": "100",
    "ReadTimeout": "180",
    "CommandReadTimeout": "30",
    "SendBufTimeout": "200",
    "IdleTimeout": "30",
    "StreamMaxLength": "1M",
    "AllowAllMatchScan": "yes",
    "FollowDirectorySymlinks": "no",
    "FollowFileSymlinks": "no",
    "SelfCheck": "0",
}

# The signatures used by the probe and by the smoke test: "evilbody" anywhere
# in a file, "wickedbody" anywhere in a file, and the hash of ClamAV's own
# test program clam.exe (from the clamav-testfiles package).
TEST_NDB = [
    "Test.Sig:0:*:6576696c626f6479",
    "Test.Sig2:0:*:7769636b6564626f6479",
]
TEST_HSB = [
    "71e7b604d18aefd839e51a39c88df8383bb4c071dc31f87f00a2b5df580d4495:544:ClamAV-Test-File",
]


class ClamdUnavailable(RuntimeError):
    """clamd (or clamdscan) is not installed on this machine."""


class ClamdError(RuntimeError):
    """clamd did not start, or did not stop."""


def find_program(name):
    """Path of `name` from PATH or the sbin directories, or None."""
    found = shutil.which(name)
    if found:
        return found
    for d in SBIN_DIRS:
        p = os.path.join(d, name)
        if os.access(p, os.X_OK):
            return p
    return None


def find_clamd():
    path = find_program("clamd")
    if not path:
        raise ClamdUnavailable("clamd is not installed (Debian package clamav-daemon)")
    return path


def find_clamdscan():
    path = find_program("clamdscan")
    if not path:
        raise ClamdUnavailable("clamdscan is not installed (Debian package clamdscan)")
    return path


def free_tcp_port():
    """A port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_database(dbdir, ndb=(), hsb=(), extra=None):
    """Write a small signature directory: test.ndb and test.hsb from the given
    lines (files omitted when empty), plus `extra` {filename: text}."""
    dbdir = pathlib.Path(dbdir)
    dbdir.mkdir(parents=True, exist_ok=True)
    if ndb:
        (dbdir / "test.ndb").write_text("".join(line + "\n" for line in ndb))
    if hsb:
        (dbdir / "test.hsb").write_text("".join(line + "\n" for line in hsb))
    for name, text in (extra or {}).items():
        (dbdir / name).write_text(text)
    return dbdir


def write_daily_cud(dbdir, files, *, version=27000, stime=1700000000, flevel=90):
    """Write daily.cud: ClamAV's unsigned container (a .cvd layout whose
    daily.info carries no DSIG). clamd 1.4 loads it without a signing key,
    and because its name starts with "daily." its version and build time
    appear in VERSION replies ("ClamAV 1.4.6/27000/Tue Nov 14 22:13:20 2023").
    `files` maps member names (test.ndb, ...) to bytes."""
    import gzip
    import hashlib
    import io
    import tarfile

    dbdir = pathlib.Path(dbdir)
    dbdir.mkdir(parents=True, exist_ok=True)
    # the build time in the header is free text; it must not contain ':'
    head = f"ClamAV-VDB:{time.strftime('%d %b %Y %H-%M %z', time.gmtime(stime))}" \
           f":{version}:{len(files)}:{flevel}"
    info = f"{head}:X:X:wardtest:{stime}\n"
    for name, data in files.items():
        info += f"{name}:{len(data)}:{hashlib.sha256(data).hexdigest()}\n"
    tar = io.BytesIO()
    with tarfile.open(fileobj=tar, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for name, data in [("COPYING", b"test database\n"), ("daily.info", info.encode()),
                           *files.items()]:
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
    payload = gzip.compress(tar.getvalue(), mtime=0)
    header = f"{head}:{hashlib.md5(payload).hexdigest()}:X:wardtest:{stime}".encode()
    path = dbdir / "daily.cud"
    path.write_bytes(header.ljust(512, b" ") + payload)
    return path


def write_test_database(dbdir):
    """The probe's database: TEST_NDB and TEST_HSB."""
    return write_database(dbdir, ndb=TEST_NDB, hsb=TEST_HSB)


def clamdscan_config(socket_path=None, path=None, *, tcp_port=None, tcp_addr="127.0.0.1"):
    """Write a clamdscan configuration pointing at a clamd (unix socket, or
    TCP when tcp_port is given) and return its path. By default it is written
    next to the socket as clamdscan.conf."""
    if path is None:
        if socket_path is None:
            raise ValueError("give socket_path or path")
        path = pathlib.Path(socket_path).parent / "clamdscan.conf"
    path = pathlib.Path(path)
    lines = []
    if socket_path is not None:
        lines.append(f"LocalSocket {socket_path}")
    if tcp_port is not None:
        lines.append(f"TCPSocket {tcp_port}")
        lines.append(f"TCPAddr {tcp_addr}")
    path.write_text("\n".join(lines) + "\n")
    return path


class Clamd:
    """One private clamd. Attributes: workdir, dbdir, socket_path, tcp_port
    (None without TCP), conf_path, log_path, stdout_path, proc."""

    def __init__(self, workdir, dbdir, *, tcp=True, tcp_port=None, user="root",
                 options=None, start_timeout=60.0, stop_timeout=10.0):
        self.clamd = find_clamd()
        self.workdir = pathlib.Path(workdir)
        self.dbdir = pathlib.Path(dbdir)
        self.socket_path = self.workdir / "clamd.sock"
        self.conf_path = self.workdir / "clamd.conf"
        self.log_path = self.workdir / "clamd.log"
        self.stdout_path = self.workdir / "clamd.stdout"
        self.tmpdir = self.workdir / "tmp"
        self.tcp_port = (tcp_port or free_tcp_port()) if tcp else None
        self.user = user
        self.options = dict(DEFAULT_OPTIONS)
        self.options.update(options or {})
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.proc = None
        self._stdout = None

    # -- configuration ---------------------------------------------------

    def config_text(self):
        lines = [
            f"LocalSocket {self.socket_path}",
            "LocalSocketMode 666",
            f"DatabaseDirectory {self.dbdir}",
            f"LogFile {self.log_path}",
            f"PidFile {self.workdir / 'clamd.pid'}",
            f"TemporaryDirectory {self.tmpdir}",
        ]
        if self.user:
            lines.append(f"User {self.user}")
        if self.tcp_port is not None:
            lines.append(f"TCPSocket {self.tcp_port}")
            lines.append("TCPAddr 127.0.0.1")
        for key, value in self.options.items():
            if value is None:
                continue
            if isinstance(value, (list, tuple)):
                lines.extend(f"{key} {v}" for v in value)
            else:
                lines.append(f"{key} {value}")
        return "\n".join(lines) + "\n"

    # -- life cycle --------------------------------------------------------

    def start(self):
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.tmpdir.mkdir(exist_ok=True)
        if self.user and self.user != "root" and os.geteuid() == 0:
            # clamd opens its log and temporary files after dropping to User
            import pwd

            pw = pwd.getpwnam(self.user)
            for p in (self.workdir, self.tmpdir):
                os.chown(p, pw.pw_uid, pw.pw_gid)
            self.log_path.touch()
            os.chown(self.log_path, pw.pw_uid, pw.pw_gid)
        self.conf_path.write_text(self.config_text())
        self._stdout = open(self.stdout_path, "ab")
        self.proc = subprocess.Popen(
            [self.clamd, "-c", str(self.conf_path)],
            stdin=subprocess.DEVNULL,
            stdout=self._stdout,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + self.start_timeout
        while True:
            if self.proc.poll() is not None:
                self._close_stdout()
                raise ClamdError(f"clamd exited with {self.proc.returncode} while starting:\n"
                                 + self.output_tail())
            if self.socket_path.exists():
                try:
                    reply, _ = self.request(b"zPING\0", timeout=2.0)
                    if reply == b"PONG\0":
                        return self
                except OSError:
                    pass
            if time.monotonic() > deadline:
                self.stop()
                raise ClamdError(f"clamd did not answer PING within {self.start_timeout}s:\n"
                                 + self.output_tail())
            time.sleep(0.1)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """SIGTERM, wait up to stop_timeout, then SIGKILL the process group."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=self.stop_timeout)
        self._close_stdout()

    def wait_exit(self, timeout=10.0):
        """Wait for clamd to exit by itself (after SHUTDOWN); True if it did."""
        if self.proc is None:
            return True
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
        self._close_stdout()
        return True

    def restart(self):
        self.stop()
        return self.start()

    def _close_stdout(self):
        if self._stdout:
            self._stdout.close()
            self._stdout = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- talking to it -----------------------------------------------------

    def connect(self, tcp=False, timeout=10.0):
        if tcp:
            if self.tcp_port is None:
                raise ValueError("this clamd has no TCP socket")
            s = socket.create_connection(("127.0.0.1", self.tcp_port), timeout=timeout)
        else:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(timeout)
            try:
                s.connect(str(self.socket_path))
            except OSError:
                s.close()
                raise
        return s

    def request(self, data, *, tcp=False, timeout=10.0, half_close=False):
        """Send `data`, read until clamd closes or `timeout` passes without
        any byte. Returns (reply bytes, closed_by_clamd)."""
        with self.connect(tcp=tcp, timeout=timeout) as s:
            s.sendall(data)
            if half_close:
                s.shutdown(socket.SHUT_WR)
            return read_reply(s, timeout)

    def log_text(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def output_tail(self, lines=30):
        text = ""
        for p in (self.stdout_path, self.log_path):
            with contextlib.suppress(OSError):
                text += p.read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])


def read_reply(sock, timeout=10.0):
    """Read until EOF, or until `timeout` seconds pass with nothing new.
    Returns (bytes, closed). A reset counts as closed."""
    sock.settimeout(timeout)
    out = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return out, False
        except ConnectionResetError:
            return out, True
        if not chunk:
            return out, True
        out += chunk


def instream_chunks(data, chunk_size=None):
    """INSTREAM framing: big-endian 4-byte lengths, then a zero length."""
    chunk_size = chunk_size or max(1, len(data))
    out = b""
    for i in range(0, len(data), chunk_size):
        part = data[i:i + chunk_size]
        out += len(part).to_bytes(4, "big") + part
    return out + b"\0\0\0\0"


@contextlib.contextmanager
def running_clamd(workdir, dbdir, **kw):
    """Context manager form: `with running_clamd(dir, db) as clamd: ...`."""
    clamd = Clamd(workdir, dbdir, **kw)
    clamd.start()
    try:
        yield clamd
    finally:
        clamd.stop()


if pytest is not None:

    @pytest.fixture
    def clamd_factory(tmp_path):
        """Returns start(dbdir, **kw) -> running Clamd; all are stopped at
        teardown. Skips the test when clamd is not installed."""
        try:
            find_clamd()
        except ClamdUnavailable as e:
            pytest.skip(str(e))
        started = []

        def start(dbdir, **kw):
            workdir = tmp_path / f"clamd{len(started)}"
            clamd = Clamd(workdir, dbdir, **kw)
            started.append(clamd)
            return clamd.start()

        yield start
        for clamd in started:
            clamd.stop()
