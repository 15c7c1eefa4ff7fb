"""MAILSCAN with keep=yes: several messages on one wardd connection.

Mail agents keep a few connections to wardd open instead of one per message.
These tests speak the protocol as an agent does (docs/protocol.md, "Mail
scanning") and check what a client sees: replies in request order, the
connection open after a kept request and closed after the others, idle kept
connections ended by idle_timeout, and STATS counting one connection.
"""
import os
import socket
import struct
import time

import pytest

from conftest import eicar, free_port

EICAR_NAME = "Ward.Test.EICAR"


def message(body: bytes) -> bytes:
    return (b"From: a@example.org\r\nTo: b@example.com\r\nSubject: t\r\n"
            b"MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n" + body + b"\r\n")


def request(keep: bool, how="fd") -> bytes:
    env = f"message={how}\nsender=a@example.org\nrcpt=b@example.com\nagent=smtp\n"
    if keep:
        env += "keep=yes\n"
    env = env.encode()
    return b"zMAILSCAN\0" + struct.pack(">I", len(env)) + env


def memfd_with(data: bytes) -> int:
    fd = os.memfd_create("msg")
    os.write(fd, data)
    return fd


def send_fd_request(s, keep, data):
    fd = memfd_with(data)
    try:
        socket.send_fds(s, [request(keep)], [fd])
    finally:
        os.close(fd)


def send_stream_request(s, keep, data):
    s.sendall(request(keep, "stream") + struct.pack(">I", len(data)) + data + b"\0\0\0\0")


def recv_exact(s, n) -> bytes:
    out = b""
    while len(out) < n:
        b = s.recv(n - len(out))
        assert b, f"connection closed after {len(out)} of {n} bytes"
        out += b
    return out


def read_reply(s) -> dict:
    head = recv_exact(s, 8)
    assert head[:4] == b"WML1", head
    block = recv_exact(s, struct.unpack(">I", head[4:])[0]).decode()
    fields = {}
    for line in block.splitlines():
        k, _, v = line.partition("=")
        fields.setdefault(k, v)
    return fields


def closed(s, timeout=5) -> bool:
    s.settimeout(timeout)
    try:
        return s.recv(100) == b""
    except ConnectionResetError:
        return True


def connections(w) -> int:
    stats = w.request(b"nSTATS\n").decode()
    return int(stats.split("connections ")[1].split()[0])


def unix_conn(w):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(20)
    s.connect(str(w.sock))
    return s


def test_kept_connection_carries_several_messages(wardd):
    w = wardd()
    before = connections(w)
    s = unix_conn(w)
    send_fd_request(s, True, message(b"clean one"))
    r = read_reply(s)
    assert (r["action"], r["status"], r["message"]) == ("accept", "clean", "unchanged")
    send_fd_request(s, True, message(eicar()))
    r = read_reply(s)
    assert r["status"] == "infected" and r["action"] != "accept", r
    assert EICAR_NAME in r["detection"]
    # without keep the reply ends the connection, as a lone MAILSCAN's does
    send_fd_request(s, False, message(b"clean two"))
    assert read_reply(s)["status"] == "clean"
    assert closed(s)
    s.close()
    # the three messages came on one connection (the second STATS is one more)
    assert connections(w) - before == 2


def test_pipelined_requests_are_answered_in_order(wardd):
    w = wardd()
    s = unix_conn(w)
    # both requests at once: wardd reads the second only after the first's reply
    send_fd_request(s, True, message(eicar()))
    send_fd_request(s, True, message(b"clean"))
    send_fd_request(s, False, message(eicar()))
    got = [read_reply(s)["status"] for _ in range(3)]
    assert got == ["infected", "clean", "infected"]
    assert closed(s)
    s.close()


def test_kept_connection_over_tcp_with_streamed_messages(wardd):
    port = free_port()
    wardd(tcp_port=port)
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    for body, status in ((b"first", "clean"), (eicar(), "infected"), (b"third", "clean")):
        send_stream_request(s, True, message(body))
        assert read_reply(s)["status"] == status
    s.close()


def test_kept_connection_changed_message_comes_back_each_time(wardd):
    # a tagging policy changes every message: each reply carries its own descriptor
    w = wardd(extra="[smtp]\nwrite_to_header = all\n")
    s = unix_conn(w)
    for i in range(3):
        send_fd_request(s, True, message(b"body %d" % i))
        head = b""
        msg, fds, _, _ = socket.recv_fds(s, 8, 1)
        head = msg
        head += recv_exact(s, 8 - len(head))
        block = recv_exact(s, struct.unpack(">I", head[4:])[0]).decode()
        assert "message=fd" in block, block
        assert len(fds) == 1
        changed = os.pread(fds[0], 1 << 20, 0)
        os.close(fds[0])
        assert b"X-" in changed and (b"body %d" % i) in changed
    s.close()


def test_idle_kept_connection_is_closed_by_idle_timeout(wardd):
    w = wardd(extra="idle_timeout = 1\n")
    s = unix_conn(w)
    send_fd_request(s, True, message(b"clean"))
    assert read_reply(s)["status"] == "clean"
    t0 = time.monotonic()
    s.settimeout(10)
    rest = b""
    while True:
        b = s.recv(100)
        if not b:
            break
        rest += b
    assert time.monotonic() - t0 < 8
    assert rest in (b"", b"COMMAND READ TIMED OUT\n")
    s.close()


def test_refused_request_ends_a_kept_connection(wardd):
    w = wardd()
    s = unix_conn(w)
    # message=fd without a descriptor: a defer, and the connection ends
    s.sendall(request(True))
    r = read_reply(s)
    assert r["action"] == "defer" and "descriptor" in r["error"], r
    assert closed(s)
    s.close()


@pytest.mark.parametrize("value", [b"1", b"YES", b""])
def test_bad_keep_value_is_a_defer(wardd, value):
    w = wardd()
    env = b"message=stream\nsender=\nrcpt=b@example.com\nkeep=" + value + b"\n"
    s = unix_conn(w)
    s.sendall(b"zMAILSCAN\0" + struct.pack(">I", len(env)) + env)
    r = read_reply(s)
    assert r["action"] == "defer" and "keep" in r["error"], r
    assert closed(s)
    s.close()
