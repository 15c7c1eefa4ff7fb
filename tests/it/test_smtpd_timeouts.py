"""ward-smtpd's timeouts against hostile peers that the test runs itself.

client_timeout, server_timeout and scan_timeout are set to a few seconds.
The peers, all on 127.0.0.1: a next hop that never greets, one that never
answers the end of the data, one that stops reading in the middle of it, a
"wardd" that takes the message and never answers, and clients that go
silent or trickle one byte a second. Each wait is timed and must end within
a generous window around its timeout (never a performance assertion), with
a 4xx and never a 5xx or a 250; afterwards a normal message through the
same ward-smtpd reaches a real Postfix exactly once, byte-identical.

The hostile next hop sits between ward-smtpd and Postfix: per connection it
either misbehaves or pipes the bytes through unchanged.
"""
import os
import select
import socket
import threading
import time

import pytest

from conftest import BUNDLED_DB, Wardd
from postfix_peer import Postfix, free_port
from test_smtpd import (SMTPD, TRICKY_BODY, TRICKY_EXTRA, WardSmtpd, message, send, strip_trace,
                        wait_for)
import test_smtpd

pytestmark = test_smtpd.pytestmark  # the same skip: where no private Postfix can run

CLIENT_T = 3  # client_timeout, s
SERVER_T = 3  # server_timeout, s
SCAN_T = 3    # scan_timeout, s
LIFETIME = 120  # no thread of a hostile peer lives longer


def within(what, elapsed, timeout):
    print(f"\nTIMING {what}: {elapsed:.2f} s (timeout {timeout} s)")
    assert timeout - 0.5 <= elapsed <= timeout + 5, \
        f"{what}: {elapsed:.2f} s for a {timeout} s timeout"


class Lines:
    """CRLF lines and SMTP replies from a socket, every read bounded."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def line(self, timeout):
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no line in {timeout} s: {self.buf[:200]!r}")
            self.sock.settimeout(left)
            got = self.sock.recv(65536)
            if not got:
                raise EOFError(self.buf)
            self.buf += got
        line, self.buf = self.buf.split(b"\n", 1)
        return line + b"\n"

    def reply(self, timeout=30):
        """(code, all lines) of one reply; (None, partial) at end of stream."""
        text = b""
        try:
            while True:
                line = self.line(timeout)
                text += line
                if line[3:4] != b"-":
                    return int(line[:3]), text
        except EOFError:
            return None, text

    def eof(self, timeout=10):
        """True when the other side closes with nothing more said."""
        try:
            self.line(timeout)
            return False
        except EOFError as e:
            return e.args[0] == b""
        except ConnectionResetError:
            return True


def client(port):
    c = socket.create_connection(("127.0.0.1", port), timeout=30)
    return c, Lines(c)


def command(c, r, line, want):
    c.sendall(line + b"\r\n")
    code, text = r.reply()
    assert code == want, (line, code, text)
    return text


def to_data(port):
    """A session up to ward-smtpd's 354."""
    c, r = client(port)
    assert r.reply()[0] == 220
    command(c, r, b"EHLO client.example.org", 250)
    command(c, r, b"MAIL FROM:<alice@example.org>", 250)
    command(c, r, b"RCPT TO:<bob@example.com>", 250)
    command(c, r, b"DATA", 354)
    return c, r


def dotted(msg):
    """The message as DATA content, dot-stuffed and ended."""
    lines = msg.split(b"\r\n")
    return b"\r\n".join(b"." + l if l.startswith(b".") else l for l in lines) + b".\r\n"


class BoundedServer:
    """A test server on a listening socket: a thread per connection taken,
    every loop bounded by LIFETIME and by stop(). Subclasses set their own
    state before calling __init__ (the accept thread starts there)."""

    def __init__(self, lsock):
        self.stopping = threading.Event()
        self.deadline = time.monotonic() + LIFETIME
        self.conns = []
        self.lsock = lsock
        self.lsock.settimeout(0.2)
        threading.Thread(target=self._accept, daemon=True).start()

    def alive(self):
        return not self.stopping.is_set() and time.monotonic() < self.deadline

    def _taken(self, c):
        """A connection was accepted: the extra arguments of its _serve."""
        return ()

    def _accept(self):
        try:
            while self.alive():
                try:
                    c, _ = self.lsock.accept()
                except socket.timeout:
                    continue
                self.conns.append(c)
                args = (c,) + self._taken(c)
                threading.Thread(target=self._serve, args=args, daemon=True).start()
        except OSError:
            pass
        finally:
            self.lsock.close()

    def stop(self):
        self.stopping.set()
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass


class NextHop(BoundedServer):
    """A next hop whose behaviour `mode` chooses for each new connection:
    "relay" pipes it to the real Postfix, "silent" takes it and never
    greets, "no-final" answers up to DATA's 354, takes the whole message
    and never answers it, "stall" stops reading after `stall_after` bytes
    of the message (with a small receive buffer, set before listen so the
    window stays small)."""

    def __init__(self, relay_port, mode="relay", rcvbuf=None, stall_after=64 * 1024):
        self.relay_port = relay_port
        self.stall_after = stall_after
        self.mode = mode
        self.opened = []  # the mode of each connection taken
        self.got_end = threading.Event()
        self.stalled = threading.Event()
        self.closed = []  # (mode, when ward-smtpd closed a hostile connection)
        lsock = socket.socket()
        lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if rcvbuf:
            lsock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(16)
        self.port = lsock.getsockname()[1]
        super().__init__(lsock)

    def _taken(self, c):
        self.opened.append(self.mode)
        return (self.mode,)

    def _serve(self, c, mode):
        try:
            if mode == "relay":
                self._relay(c)
                return
            if mode == "silent":
                self._drain(c, mode, Lines(c))
                return
            r = Lines(c)
            if not self._until_data(c, r):
                return
            if mode == "no-final":
                while not r.buf.endswith(b"\r\n.\r\n") and self.alive():
                    r.sock.settimeout(1)
                    try:
                        got = c.recv(1 << 20)
                    except socket.timeout:
                        continue
                    if not got:
                        return
                    r.buf += got
                self.got_end.set()
                r.buf = b""
                self._drain(c, mode, r)
            else:  # stall
                n = len(r.buf)
                while n < self.stall_after and self.alive():
                    c.settimeout(1)
                    try:
                        got = c.recv(self.stall_after - n)
                    except socket.timeout:
                        continue
                    if not got:
                        return
                    n += len(got)
                self.stalled.set()
                while self.alive():  # reads nothing more
                    time.sleep(0.2)
        except (OSError, EOFError):
            pass
        finally:
            c.close()

    def _until_data(self, c, r):
        c.sendall(b"220 hostile.example.net ESMTP\r\n")
        while self.alive():
            try:
                line = r.line(1)
            except TimeoutError:
                continue
            verb = line[:4].upper()
            if verb in (b"EHLO", b"LHLO"):
                c.sendall(b"250-hostile.example.net\r\n250 8BITMIME\r\n")
            elif verb == b"DATA":
                c.sendall(b"354 go ahead\r\n")
                return True
            elif verb == b"QUIT":
                c.sendall(b"221 bye\r\n")
                return False
            else:
                c.sendall(b"250 2.0.0 Ok\r\n")
        return False

    def _drain(self, c, mode, r):
        """Read and say nothing until ward-smtpd closes."""
        while self.alive():
            try:
                r.line(1)
            except TimeoutError:
                continue
            except (EOFError, ConnectionResetError):
                self.closed.append((mode, time.monotonic()))
                return

    def _relay(self, c):
        up = socket.create_connection(("127.0.0.1", self.relay_port), timeout=30)
        c.settimeout(30)
        ends = {c: up, up: c}
        try:
            while ends and self.alive():
                ready, _, _ = select.select(list(ends), [], [], 0.5)
                for a in ready:
                    got = a.recv(65536)
                    if got:
                        ends[a].sendall(got)
                    else:
                        try:
                            ends[a].shutdown(socket.SHUT_WR)
                        except OSError:
                            pass
                        del ends[a]
        finally:
            up.close()


class SilentWardd(BoundedServer):
    """A "wardd" on a unix socket: takes each connection and all that comes
    on it (passed descriptors too) and never answers."""

    def __init__(self, path):
        self.path = str(path)
        self.accepted = threading.Event()
        self.closed = threading.Event()
        lsock = socket.socket(socket.AF_UNIX)
        lsock.bind(self.path)
        lsock.listen(8)
        super().__init__(lsock)

    def _taken(self, c):
        self.accepted.set()
        return ()

    def _serve(self, c):
        c.settimeout(0.5)
        try:
            while self.alive():
                try:
                    data, fds, _, _ = socket.recv_fds(c, 65536, 8)
                except socket.timeout:
                    continue
                for fd in fds:
                    os.close(fd)
                if not data and not fds:
                    self.closed.set()
                    return
        except OSError:
            pass
        finally:
            c.close()

    def stop(self):
        super().stop()
        try:
            os.unlink(self.path)
        except OSError:
            pass


@pytest.fixture
def rig(tmp_path):
    """Factory: rig(hostile=True, mode="relay", rcvbuf=None, wardd_sock=None)
    -> (postfix, next hop or None, ward-smtpd), ward-smtpd with short
    timeouts and scanning only when wardd_sock is given; with hostile=False
    it talks to Postfix directly. `mode` is the next hop's from the start:
    WardSmtpd's check that it listens is a session of its own, which meets
    the next hop."""
    if not SMTPD.exists():
        pytest.fail(f"ward-smtpd is not built at {SMTPD}")
    started = []

    def _start(hostile=True, mode="relay", rcvbuf=None, wardd_sock=None, extra=""):
        (tmp_path / "postfix").mkdir()
        p = Postfix(tmp_path / "postfix", "smtpd-timeouts")
        started.append(p)
        hop = NextHop(p.port, mode, rcvbuf) if hostile else None
        if hop:
            started.append(hop)
        s = WardSmtpd(tmp_path / "smtpd", free_port(), wardd_sock, hop.port if hop else p.port,
                      extra=f"client_timeout = {CLIENT_T}\nserver_timeout = {SERVER_T}\n"
                            f"scan_timeout = {SCAN_T}s\n{extra}")
        started.append(s)
        return p, hop, s

    yield _start
    for x in reversed(started):
        x.stop()


def deliver_once(p, s, subject):
    """A normal message through ward-smtpd arrives once and byte-identical."""
    before = len(p.delivered())
    msg = message(subject=subject, body=TRICKY_BODY, extra=TRICKY_EXTRA)
    code, text = send(s.port, msg, mail_options=["BODY=8BITMIME"])
    assert code == 250, (code, text, s.logtext()[-2000:])
    p.wait_delivered(before + 1)
    time.sleep(1)
    got = p.delivered()
    assert len(got) == before + 1, len(got)
    mine = [m for m in got if b"Subject: " + subject.encode() + b"\n" in m]
    assert len(mine) == 1
    assert strip_trace(mine[0]) == msg


def final_reply_after(c, r, data):
    """Send the message content; (code, text, seconds from the final dot)."""
    c.sendall(data)
    t0 = time.monotonic()
    code, text = r.reply(timeout=60)
    return code, text, time.monotonic() - t0


def test_next_hop_that_never_greets(rig):
    p, hop, s = rig(mode="silent")
    # until a session learnt the next hop's keywords, each meets the next
    # hop before its own greeting
    c, r = client(s.port)
    t0 = time.monotonic()
    code, text = r.reply(timeout=60)
    within("next hop silent at connect", time.monotonic() - t0, SERVER_T)
    assert code == 421 and b" 4.4.2 " in text, text
    assert r.eof()
    c.close()
    assert "next hop timed out" in s.logtext()
    # ward-smtpd gave up every connection to the silent next hop
    wait_for(lambda: len(hop.closed) == hop.opened.count("silent"), 10,
             "ward-smtpd to close the next-hop connections")
    # the next client is served
    hop.mode = "relay"
    deliver_once(p, s, "after a silent next hop at connect")
    # later sessions meet the next hop at MAIL
    hop.mode = "silent"
    c, r = client(s.port)
    assert r.reply()[0] == 220
    command(c, r, b"EHLO client.example.org", 250)
    c.sendall(b"MAIL FROM:<alice@example.org>\r\n")
    t0 = time.monotonic()
    code, text = r.reply(timeout=60)
    within("next hop silent at MAIL", time.monotonic() - t0, SERVER_T)
    assert code == 421 and b" 4.4.2 " in text, text
    assert r.eof()
    c.close()
    hop.mode = "relay"
    deliver_once(p, s, "after a silent next hop at MAIL")


def test_next_hop_that_never_answers_the_data(rig):
    p, hop, s = rig(mode="no-final")
    c, r = to_data(s.port)
    code, text, elapsed = final_reply_after(c, r, dotted(message(subject="unanswered")))
    within("no reply to the end of data", elapsed, SERVER_T)
    assert code == 451 and text.startswith(b"451 4.4.2 "), text
    assert hop.got_end.is_set()
    log = s.logtext()
    assert "next hop timed out" in log
    # the one case where the client's retry may deliver twice: it is logged
    assert "went away after the end of the data" in log, log
    assert r.eof()
    c.close()
    hop.mode = "relay"
    deliver_once(p, s, "after an unanswered end of data")


def test_next_hop_that_stops_reading_inside_the_data(rig):
    """8 MiB: more than the kernel's socket buffers hold (4 MiB of send
    buffer at most, a 32 KiB receive buffer), so the transfer itself stalls."""
    p, hop, s = rig(mode="stall", rcvbuf=16384)
    line = b"".join(bytes([33 + (i * 7 + j) % 90 for j in range(76)]) + b"\r\n"
                    for i in range(64))
    body = line * (8 * 1024 * 1024 // len(line) + 1)
    c, r = to_data(s.port)
    code, text, elapsed = final_reply_after(c, r, dotted(message(subject="stalled", body=body)))
    within("next hop stopped reading", elapsed, SERVER_T)
    assert code == 451 and text.startswith(b"451 4.4.2 "), text
    assert hop.stalled.is_set() and not hop.got_end.is_set()
    log = s.logtext()
    assert "next hop timed out" in log
    assert "went away after the end of the data" not in log, log
    assert r.eof()
    c.close()
    hop.mode = "relay"
    deliver_once(p, s, "after a stalled transfer")


def test_wardd_that_never_answers(rig, tmp_path):
    wdir = tmp_path / "wardd"
    wdir.mkdir()
    sock = wdir / "wardd.sock"
    silent = SilentWardd(sock)
    try:
        p, _, s = rig(hostile=False, wardd_sock=sock)
        c, r = to_data(s.port)
        code, text, elapsed = final_reply_after(c, r, dotted(message(subject="unscanned")))
        within("wardd silent", elapsed, SCAN_T)
        assert code == 451 and text.startswith(b"451 4.3.0 "), text
        assert silent.accepted.is_set()
        # ward-smtpd's worker gave up its connection to "wardd"
        assert silent.closed.wait(5)
        assert "scan failed, deferred" in s.logtext()
        # nothing reached the next hop: a clean RSET, an empty Maildir
        command(c, r, b"QUIT", 221)
        c.close()
        wait_for(lambda: "rset=1" in p.maillog(), 20, "Postfix's session end")
        assert "data=" not in p.maillog(), p.maillog()[-2000:]
        assert p.delivered() == []
    finally:
        silent.stop()
    # a real wardd on the same socket: the same ward-smtpd delivers again
    w = Wardd(wdir, BUNDLED_DB)
    try:
        deliver_once(p, s, "after a silent wardd")
        assert "accept clean" in s.logtext()
    finally:
        w.stop()


def test_scan_timeout_counts_the_wait_for_a_scanning_thread(rig, tmp_path):
    # Messages queued behind a hung scan: each one's scan_timeout runs from
    # its end of data, not from when a thread takes it, so no client waits
    # a multiple of it (with the defaults, longer than the MTA's own timeout).
    wdir = tmp_path / "wardd"
    wdir.mkdir()
    sock = wdir / "wardd.sock"
    silent = SilentWardd(sock)
    try:
        p, _, s = rig(hostile=False, wardd_sock=sock, extra="scan_threads = 1\n")
        sessions = [to_data(s.port) for _ in range(3)]
        results = [None] * 3

        def finish(k):
            c, r = sessions[k]
            results[k] = final_reply_after(c, r, dotted(message(subject=f"queued {k}")))

        ts = [threading.Thread(target=finish, args=(k,)) for k in range(3)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(timeout=60)
        for k, (code, text, elapsed) in enumerate(results):
            within(f"queued scan {k}", elapsed, SCAN_T)
            assert code == 451, text
        for c, _ in sessions:
            c.close()
        assert p.delivered() == []
    finally:
        silent.stop()


def test_client_silent_between_and_inside_commands(rig):
    p, _, s = rig(hostile=False)
    # idle after a reply
    c, r = client(s.port)
    assert r.reply()[0] == 220
    command(c, r, b"EHLO client.example.org", 250)
    t0 = time.monotonic()
    code, text = r.reply(timeout=60)
    within("client idle", time.monotonic() - t0, CLIENT_T)
    assert text == b"421 4.4.2 filter.example.net Error: timeout exceeded\r\n", text
    assert r.eof()
    c.close()
    # in the middle of a command line, inside a transaction
    c, r = client(s.port)
    assert r.reply()[0] == 220
    command(c, r, b"EHLO client.example.org", 250)
    command(c, r, b"MAIL FROM:<alice@example.org>", 250)
    c.sendall(b"RCPT TO:<bob@exa")
    t0 = time.monotonic()
    code, text = r.reply(timeout=60)
    within("client silent inside a command", time.monotonic() - t0, CLIENT_T)
    assert text == b"421 4.4.2 filter.example.net Error: timeout exceeded\r\n", text
    assert r.eof()
    c.close()
    assert "timeout" in s.logtext()
    wait_for(lambda: "lost connection after MAIL" in p.maillog(), 20,
             "Postfix to see the next-hop connection end")
    deliver_once(p, s, "after a silent client")


def test_client_silent_inside_data_forwards_nothing(rig):
    p, _, s = rig(hostile=False)
    c, r = to_data(s.port)
    c.sendall(b"Subject: half\r\n\r\nhalf a message\r\n")
    t0 = time.monotonic()
    code, text = r.reply(timeout=60)
    within("client silent inside DATA", time.monotonic() - t0, CLIENT_T)
    assert text == b"421 4.4.2 filter.example.net Error: timeout exceeded\r\n", text
    assert r.eof()
    c.close()
    assert "timeout inside DATA" in s.logtext()
    # the next hop got the envelope and never a DATA: it drops the transaction
    wait_for(lambda: "lost connection after RCPT" in p.maillog(), 20,
             "Postfix to see the next-hop connection end")
    time.sleep(1)
    assert p.delivered() == []
    deliver_once(p, s, "after a client silent inside DATA")


def trickle(port, head, drip, limit=20):
    """After `head` (whole lines, replies read), send `drip` one byte a second
    until ward-smtpd says something; (seconds from the first byte, reply)."""
    c, r = head(port)
    t0 = time.monotonic()
    try:
        for i in range(min(len(drip), limit)):
            try:
                c.sendall(drip[i:i + 1])
            except OSError:
                break
            ready, _, _ = select.select([c], [], [], 1)
            if ready:
                break
        code, text = r.reply(timeout=10)
        return time.monotonic() - t0, code, text, r
    finally:
        c.close()


def greeted(port):
    c, r = client(port)
    assert r.reply()[0] == 220
    command(c, r, b"EHLO client.example.org", 250)
    return c, r


def test_slowloris_client_is_bounded_by_client_timeout(rig):
    """One byte a second restarts the read timeout each time; the line
    deadline (client_timeout from a line's first byte) ends it."""
    p, _, s = rig(hostile=False)
    elapsed, code, text, r = trickle(s.port, greeted, b"NOOP " + b"x" * 60)
    within("slowloris command line", elapsed, CLIENT_T)
    assert text == b"421 4.4.2 filter.example.net Error: timeout exceeded\r\n", text
    assert "line took too long" in s.logtext()
    # the same inside the message: nothing forwarded
    elapsed, code, text, r = trickle(s.port, to_data, b"Subject: slow" + b"x" * 60)
    within("slowloris message line", elapsed, CLIENT_T)
    assert text == b"421 4.4.2 filter.example.net Error: timeout exceeded\r\n", text
    assert "timeout inside DATA (a line took too long)" in s.logtext()
    wait_for(lambda: "lost connection after RCPT" in p.maillog(), 20,
             "Postfix to see the next-hop connection end")
    time.sleep(1)
    assert p.delivered() == []
    deliver_once(p, s, "after a slowloris client")


def test_message_slower_than_min_data_rate_is_ended(rig):
    """Whole short lines every half second restart both client timeouts;
    min_data_rate (here 20 bytes/s on top of client_timeout) ends it."""
    p, _, s = rig(hostile=False, extra="min_data_rate = 20\n")
    c, r = to_data(s.port)
    t0 = time.monotonic()
    text = b""
    # 6 bytes every 0.5 s: 12 bytes/s, so the allowance of 3 s + bytes/20
    # runs out after about 7.5 s; bounded at 60 s
    while time.monotonic() - t0 < 60:
        try:
            c.sendall(b"slow\r\n")
        except OSError:
            break
        ready, _, _ = select.select([c], [], [], 0.5)
        if ready:
            code, text = r.reply(timeout=5)
            break
    elapsed = time.monotonic() - t0
    c.close()
    assert text == b"421 4.4.2 filter.example.net Error: timeout exceeded\r\n", text
    assert 6.5 <= elapsed <= 15, elapsed
    assert "timeout inside DATA (slower than min_data_rate)" in s.logtext()
    wait_for(lambda: "lost connection after RCPT" in p.maillog(), 20,
             "Postfix to see the next-hop connection end")
    time.sleep(1)
    assert p.delivered() == []
    deliver_once(p, s, "after a slow message")
