"""Smoke test of the clamd reference peer: Debian's clamd starts privately
on a hand-made database, answers PING on its unix and TCP sockets, finds a
signature in a stream, and stops by itself at teardown."""
from clamd_peer import clamd_factory, clamdscan_config, instream_chunks, write_test_database  # noqa: F401


def test_clamd_answers_ping(clamd_factory, tmp_path):
    clamd = clamd_factory(write_test_database(tmp_path / "db"))
    assert clamd.request(b"zPING\0") == (b"PONG\0", True)
    assert clamd.request(b"nPING\n", tcp=True) == (b"PONG\n", True)


def test_clamd_scans_a_stream(clamd_factory, tmp_path):
    clamd = clamd_factory(write_test_database(tmp_path / "db"))
    reply, closed = clamd.request(b"zINSTREAM\0" + instream_chunks(b"an evilbody here"))
    # ClamAV marks names from databases other than its official ones
    assert reply == b"stream: Test.Sig.UNOFFICIAL FOUND\0" and closed
    conf = clamdscan_config(clamd.socket_path)
    assert conf.read_text() == f"LocalSocket {clamd.socket_path}\n"
