"""wardd as its clients see it: the clamd protocol, sessions, reloads, bad input."""
import json
import os
import pathlib
import signal
import socket
import struct
import threading
import time

import pytest

from conftest import BUNDLED_DB, eicar, free_port

EICAR_NAME = "Ward.Test.EICAR"


def chunks(data: bytes, size=4096) -> bytes:
    out = b""
    for i in range(0, len(data), size):
        piece = data[i:i + size]
        out += struct.pack(">I", len(piece)) + piece
    return out + struct.pack(">I", 0)


def instream(data: bytes, size=4096, prefix=b"z") -> bytes:
    end = b"\0" if prefix == b"z" else b"\n"
    return prefix + b"INSTREAM" + end + chunks(data, size)


def make_db(tmp_path, lines):
    d = tmp_path / "db"
    d.mkdir(exist_ok=True)
    (d / "test.ndb").write_text("\n".join(lines) + "\n")
    return d


def test_ping_version_and_framings(wardd):
    w = wardd()
    assert w.request(b"zPING\0") == b"PONG\0"
    assert w.request(b"nPING\n") == b"PONG\n"
    assert w.request(b"PING\n") == b"PONG\n"
    # the legacy form may end with the client's half of the connection
    assert w.request(b"PING", half_close=True) == b"PONG\n"
    v = w.request(b"zVERSION\0")
    assert v.startswith(b"Ward ") and v.endswith(b"\0") and v.count(b"/") == 2
    vc = w.request(b"nVERSIONCOMMANDS\n")
    assert b"| COMMANDS: " in vc and b" INSTREAM " in vc and b" FILDES " in vc
    assert w.request(b"zNOSUCH\0") == b"UNKNOWN COMMAND\0"
    assert w.request(b"nping\n") == b"UNKNOWN COMMAND\n"


def test_instream(wardd):
    w = wardd()
    assert w.request(instream(b"hello world")) == b"stream: OK\0"
    assert w.request(instream(eicar())) == f"stream: {EICAR_NAME} FOUND\0".encode()
    # one byte per chunk
    assert w.request(instream(eicar(), size=1, prefix=b"n")) == \
        f"stream: {EICAR_NAME} FOUND\n".encode()
    # no data at all
    assert w.request(b"zINSTREAM\0" + struct.pack(">I", 0)) == b"stream: OK\0"


def test_instream_size_limit(wardd):
    w = wardd(extra="stream_max_length = 1K\n")
    reply = w.request(instream(b"x" * 5000, size=600))
    assert reply == b"INSTREAM size limit exceeded. ERROR\0"
    assert w.request(b"zPING\0") == b"PONG\0"


def test_scan_commands(wardd, tmp_path):
    w = wardd()
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "clean.txt").write_text("hello")
    (tree / "sub" / "e1.com").write_bytes(eicar())
    (tree / "e2.com").write_bytes(eicar())
    e2 = tree / "e2.com"
    assert w.request(f"zSCAN {e2}\0".encode()) == f"{e2}: {EICAR_NAME} FOUND\0".encode()
    clean = tree / "clean.txt"
    assert w.request(f"nSCAN {clean}\n".encode()) == f"{clean}: OK\n".encode()
    missing = tree / "nope"
    assert w.request(f"nSCAN {missing}\n".encode()) == \
        f"{missing}: File path check failure: No such file or directory. ERROR\n".encode()
    # CONTSCAN and MULTISCAN report every infected file of a tree
    for cmd in ("CONTSCAN", "MULTISCAN"):
        lines = sorted(w.request(f"n{cmd} {tree}\n".encode()).decode().splitlines())
        assert lines == sorted([f"{tree}/e2.com: {EICAR_NAME} FOUND",
                                f"{tree}/sub/e1.com: {EICAR_NAME} FOUND"]), cmd
    # SCAN stops at the first
    assert len(w.request(f"nSCAN {tree}\n".encode()).decode().splitlines()) == 1
    assert w.request(f"nCONTSCAN {tree}/sub/\n".encode()).decode().count("FOUND") == 1
    assert w.request(f"zCONTSCAN {tree / 'sub'}\0".encode()).endswith(b"FOUND\0")


def test_allmatchscan(wardd, tmp_path):
    db = make_db(tmp_path, ["Test.One:0:*:6f6e656f6e65", "Test.Two:0:*:74776f74776f"])
    w = wardd(db)
    f = tmp_path / "both.bin"
    f.write_bytes(b"xx oneone yy twotwo zz")
    lines = w.request(f"nALLMATCHSCAN {f}\n".encode()).decode().splitlines()
    assert sorted(lines) == sorted([f"{f}: Test.One.UNOFFICIAL FOUND",
                                    f"{f}: Test.Two.UNOFFICIAL FOUND"])
    assert len(w.request(f"nSCAN {f}\n".encode()).decode().splitlines()) == 1


def test_fildes(wardd, tmp_path):
    w = wardd()
    f = tmp_path / "e.com"
    f.write_bytes(eicar())
    with open(f, "rb") as fh:
        reply = w.request(b"nFILDES\n", fds=[fh.fileno()])
    assert reply.endswith(f": {EICAR_NAME} FOUND\n".encode()) and reply.startswith(b"fd[")
    with open(__file__, "rb") as fh:
        reply = w.request(b"zFILDES\0", fds=[fh.fileno()])
    assert reply.endswith(b": OK\0")
    # a byte without a descriptor
    assert w.request(b"nFILDES\n\0") == b"No file descriptor received. ERROR\n"
    # the descriptor on the command itself, nothing after: clamd's protocol error
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(str(w.sock))
    with open(f, "rb") as fh:
        socket.send_fds(s, [b"zFILDES\0"], [fh.fileno()])
    got = b""
    while True:
        b = s.recv(1000)
        if not b:
            break
        got += b
    assert got == (b"PROTOCOL ERROR: ancillary data sent without FILDES. ERROR\0"
                   b"Error processing command. ERROR\0")


def test_idsession(wardd, tmp_path):
    w = wardd()
    f = tmp_path / "e.com"
    f.write_bytes(eicar())
    req = (b"zIDSESSION\0zPING\0zVERSION\0" + f"zSCAN {f}\0".encode() +
           instream(b"clean bytes") + b"zEND\0")
    replies = [r for r in w.request(req).split(b"\0") if r]
    byid = {int(r.split(b":", 1)[0]): r.split(b": ", 1)[1] for r in replies}
    assert byid[1] == b"PONG"
    assert byid[2].startswith(b"Ward ")
    assert byid[3] == f"{f}: {EICAR_NAME} FOUND".encode()
    assert byid[4] == b"stream: OK"
    assert len(replies) == 4
    # a command a session cannot run ends it
    replies = w.request(b"nIDSESSION\nnPING\nnIDSESSION\nnPING\nnEND\n").decode().splitlines()
    assert replies == ["1: PONG", "2: Command invalid inside IDSESSION. ERROR"]
    # each reply in its own command's framing
    assert w.request(b"zIDSESSION\0zPING\0nPING\nzEND\0") == b"1: PONG\x002: PONG\n"


def test_session_runs_requests_in_parallel(wardd, tmp_path):
    """Replies inside a session come back as each finishes, not in order."""
    w = wardd()
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(30)
    s.connect(str(w.sock))
    s.sendall(b"zIDSESSION\0")
    for _ in range(20):
        s.sendall(instream(os.urandom(2000)))
    s.sendall(b"zPING\0zEND\0")
    data = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
    replies = [r for r in data.split(b"\0") if r]
    ids = sorted(int(r.split(b":")[0]) for r in replies)
    assert ids == list(range(1, 22))


def test_bad_input_never_stops_the_daemon(wardd):
    w = wardd(extra="read_timeout = 2\nidle_timeout = 2\n")
    # garbage and a line longer than any command
    assert w.request(b"\x00\xff\xfegarbage\n").endswith(b"\n")
    try:
        w.request(b"n" + b"A" * 100000 + b"\n")
    except ConnectionResetError:
        pass  # refused with unread bytes left: a reset is a clean disconnect
    # a chunk length that lies, then the client goes away
    s = socket.socket(socket.AF_UNIX)
    s.connect(str(w.sock))
    s.sendall(b"zINSTREAM\0" + struct.pack(">I", 1 << 20) + b"short")
    s.close()
    # a client that stalls mid-command is dropped after read_timeout
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(str(w.sock))
    s.sendall(b"zINSTRE")
    t0 = time.monotonic()
    assert s.recv(100) is not None
    assert time.monotonic() - t0 < 8
    s.close()
    # a session left idle is closed after idle_timeout
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(str(w.sock))
    s.sendall(b"zIDSESSION\0zPING\0")
    got = b""
    while True:
        b = s.recv(100)
        if not b:
            break
        got += b
    assert got.startswith(b"1: PONG\0")
    s.close()
    # many half-open clients do not block another
    idle = [socket.socket(socket.AF_UNIX) for _ in range(50)]
    for c in idle:
        c.connect(str(w.sock))
    assert w.request(b"zPING\0") == b"PONG\0"
    for c in idle:
        c.close()
    assert w.proc.poll() is None


def test_reload_under_load(wardd, tmp_path):
    db = make_db(tmp_path, ["Test.Old:0:*:6f6c646f6c64"])
    w = wardd(db)
    sample = b"xx newnew xx"
    assert w.request(instream(sample)) == b"stream: OK\0"
    failures, done = [], threading.Event()
    counts = [0] * 4

    def client(k):
        while not done.is_set():
            try:
                r = w.request(instream(os.urandom(16000)), timeout=20)
                if not r.startswith(b"stream: ") or not r.endswith(b"\0"):
                    failures.append(r)
                counts[k] += 1
            except OSError as e:
                failures.append(repr(e))

    threads = [threading.Thread(target=client, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    (db / "new.ndb").write_text("Test.New:0:*:6e65776e6577\n")
    assert w.request(b"zRELOAD\0") == b"RELOADING\0"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if w.request(instream(sample)) == b"stream: Test.New.UNOFFICIAL FOUND\0":
            break
        time.sleep(0.1)
    time.sleep(0.5)
    done.set()
    for t in threads:
        t.join(timeout=60)
    assert not failures, failures[:3]
    assert sum(counts) > 20
    assert w.request(instream(sample)) == b"stream: Test.New.UNOFFICIAL FOUND\0"


def wait_for(predicate, timeout=30, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def test_reload_reads_only_what_changed(wardd, tmp_path):
    """A reload takes unchanged files over, scans with the new patterns at once,
    then switches to a full compile; a removed file stops detecting."""
    db = make_db(tmp_path, ["Test.Old:0:*:6f6c646f6c64", "Test.Gap:0:*:6f6c64{2-4}676170"])
    (db / "more.ldb").write_text(
        "Test.Logic;Engine:51-255,Target:0;0&1;6c6f676963;7a7a7a{-2}7979\n")
    time.sleep(2.5)  # files this old count as unchanged when their times say so
    w = wardd(db)
    (db / "new.ndb").write_text("Test.New:0:*:6e65776e6577\nTest.NewGap:0:*:6e6577{1-3}676170\n")
    assert w.request(b"zRELOAD\0") == b"RELOADING\0"
    assert wait_for(lambda: w.request(instream(b"xx newnew xx")) ==
                    b"stream: Test.New.UNOFFICIAL FOUND\0")
    assert wait_for(lambda: "database compiled in full" in w.log.read_text())
    log = w.log.read_text()
    assert "(2 of 3 files unchanged)" in log, log
    assert "2 new patterns beside the current compiled form" in log, log
    for sample, name in ((b"newXXgap", b"Test.NewGap"), (b"oldXXXgap", b"Test.Gap"),
                         (b"logic zzzQyy", b"Test.Logic"), (b"oldold", b"Test.Old")):
        assert w.request(instream(sample)) == b"stream: " + name + b".UNOFFICIAL FOUND\0"
    # the file goes again: its signatures stop detecting, the others stay
    (db / "new.ndb").unlink()
    assert w.request(b"zRELOAD\0") == b"RELOADING\0"
    assert wait_for(lambda: w.request(instream(b"xx newnew xx")) == b"stream: OK\0")
    assert w.request(instream(b"newXXgap")) == b"stream: OK\0"
    assert w.request(instream(b"logic zzzQyy")) == b"stream: Test.Logic.UNOFFICIAL FOUND\0"


def test_broken_database_keeps_the_old_one(wardd, tmp_path):
    db = make_db(tmp_path, ["Test.Old:0:*:6f6c646f6c64"])
    w = wardd(db)
    (db / "broken.ndb").write_text("Broken:0:*:41zz\n")
    w.request(b"zRELOAD\0")
    time.sleep(1)
    assert w.request(instream(b"oldold")) == b"stream: Test.Old.UNOFFICIAL FOUND\0"
    assert "reload failed" in w.log.read_text()


def test_self_check_reloads_a_changed_directory(wardd, tmp_path):
    db = make_db(tmp_path, ["Test.Old:0:*:6f6c646f6c64"])
    w = wardd(db, extra="self_check = 1\n")
    (db / "more.ndb").write_text("Test.More:0:*:6d6f72656d6f7265\n")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if b"FOUND" in w.request(instream(b"moremore")):
            break
        time.sleep(0.2)
    assert w.request(instream(b"moremore")) == b"stream: Test.More.UNOFFICIAL FOUND\0"


def test_signals(wardd, tmp_path):
    db = make_db(tmp_path, ["Test.Old:0:*:6f6c646f6c64"])
    w = wardd(db)
    # SIGUSR2 reloads
    (db / "new.ndb").write_text("Test.New:0:*:6e65776e6577\n")
    w.proc.send_signal(signal.SIGUSR2)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and b"FOUND" not in w.request(instream(b"newnew")):
        time.sleep(0.1)
    assert b"Test.New" in w.request(instream(b"newnew"))
    # SIGHUP with a broken configuration is refused; the daemon goes on
    good = w.conf.read_text()
    w.conf.write_text(good + "bogus_option = 1\n")
    w.proc.send_signal(signal.SIGHUP)
    time.sleep(0.5)
    assert w.request(b"zPING\0") == b"PONG\0"
    assert "configuration has errors" in w.log.read_text()
    w.conf.write_text(good)
    # SIGTERM stops cleanly and removes the pid file and socket
    assert w.stop() == 0
    assert not (w.tmp / "wardd.pid").exists()
    assert not w.sock.exists()


def test_reload_and_hup_signals_while_starting(tmp_path):
    # the socket accepts before the database is loaded (here a few seconds of
    # compiling); a reload or SIGHUP sent in that window is held, not fatal
    import subprocess

    from conftest import WARDD, Wardd
    db = make_db(tmp_path, [f"Test.Many{i}:0:*:{(b'many%06dxx' % i).hex()}"
                            for i in range(40000)])
    sock = tmp_path / "early.sock"
    conf = tmp_path / "early.conf"
    conf.write_text(f"[global]\ndatabase_dir = {db}\ncache_dir = {tmp_path}/cache\n"
                    f"[wardd]\nsocket = {sock}\nlog_file = {tmp_path}/early.log\n"
                    f"pid_file = {tmp_path}/early.pid\n")
    proc = subprocess.Popen([str(WARDD), "--foreground", "--config", str(conf)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and proc.poll() is None:
            with socket.socket(socket.AF_UNIX) as probe:
                if probe.connect_ex(str(sock)) == 0:
                    break
            time.sleep(0.002)
        proc.send_signal(signal.SIGUSR2)
        proc.send_signal(signal.SIGHUP)
        w = Wardd.__new__(Wardd)
        w.sock = sock
        assert w.request(b"zPING\0", timeout=60) == b"PONG\0"
        assert w.request(instream(b"xx many012345xx")) == b"stream: Test.Many12345.UNOFFICIAL FOUND\0"
        assert proc.poll() is None
    finally:
        proc.terminate()
        assert proc.wait(timeout=30) == 0


def test_tcp_and_stats(wardd):
    port = free_port()
    w = wardd(tcp_port=port)
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(instream(eicar()))
    assert s.recv(1000) == f"stream: {EICAR_NAME} FOUND\0".encode()
    s.close()
    for _ in range(3):
        w.request(instream(eicar()))
    stats = w.request(b"nSTATS\n").decode()
    assert stats.startswith("POOLS: 1\n") and stats.endswith("END\n")
    hits = int(stats.split("hits ")[1].split()[0])
    assert hits >= 2


def test_bad_configuration_does_not_start(tmp_path):
    import subprocess

    from conftest import WARDD
    conf = tmp_path / "bad.conf"
    conf.write_text("[wardd]\nmax_threads = many\n")
    p = subprocess.run([str(WARDD), "--foreground", "--config", str(conf)], capture_output=True,
                       timeout=30)
    assert p.returncode == 2
    assert f"{conf}:2: [wardd] max_threads".encode() in p.stderr


@pytest.mark.parametrize("mode", [[], ["--stream"], ["--fdpass"], ["--multiscan"], ["-z"]])
def test_ward_scan_through_the_daemon(wardd, ward, tmp_path, mode):
    """`ward scan --daemon` gives the in-process scanner's output and exit codes."""
    w = wardd()
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "clean.txt").write_text("hello")
    (tree / "sub" / "e.com").write_bytes(eicar())
    p = ward("scan", "--no-summary", f"--daemon={w.sock}", *mode, tree, check=1)
    assert p.stdout.decode().splitlines() == [f"{tree}/sub/e.com: {EICAR_NAME} FOUND"]
    p = ward("scan", "--no-summary", f"--daemon={w.sock}", *mode, tree / "clean.txt", check=0)
    assert p.stdout == b""
    p = ward("scan", "--json", f"--daemon={w.sock}", *mode, tree, check=1)
    lines = [json.loads(l) for l in p.stdout.decode().splitlines()]
    assert lines[0]["name"] == EICAR_NAME and lines[0]["path"] == f"{tree}/sub/e.com"
    assert lines[-1]["summary"]["infected"] == 1


def test_ward_scan_daemon_stdin_and_actions(wardd, ward, tmp_path):
    w = wardd()
    p = ward("scan", "--no-summary", f"--daemon={w.sock}", "-", input=eicar(), check=1)
    assert p.stdout.decode().strip() == f"stdin: {EICAR_NAME} FOUND"
    f = tmp_path / "e.com"
    f.write_bytes(eicar())
    ward("scan", "--no-summary", f"--daemon={w.sock}", "--on-infected=delete", f, check=1)
    assert not f.exists()
    # no daemon there: an error, exit 2
    p = ward("scan", "--no-summary", f"--daemon={tmp_path}/nosuch.sock", tmp_path, check=2)
