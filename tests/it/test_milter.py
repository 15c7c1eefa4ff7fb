"""ward-milter behind a real Postfix from Debian (smtpd_milters), and the
same milter driven by miltertest (Debian's scripted milter client).

Each test starts wardd, ward-milter and a private Postfix on 127.0.0.1 in
its temporary directory, sends mail with smtplib and reads what Postfix
delivered into a Maildir.
"""
import os
import pathlib
import shutil
import smtplib
import socket
import subprocess
import time

import pytest

from conftest import BUILD, eicar
from postfix_peer import Postfix, available, strip_postfix_lines

MILTER = BUILD / "src" / "milter" / "ward-milter"

pytestmark = pytest.mark.skipif(available() is not None, reason=str(available()))


class Milter:
    def __init__(self, tmp, wardd_sock, extra=""):
        self.tmp = pathlib.Path(tmp)
        self.sock = self.tmp / "milter.sock"
        self.log = self.tmp / "milter.log"
        self.conf = self.tmp / "milter.conf"
        self.conf.write_text(
            f"[milter]\nsocket = unix:{self.sock}\nsocket_mode = 0666\n"
            f"wardd_socket = {wardd_sock}\npid_file = {self.tmp}/milter.pid\n"
            f"log_file = {self.log}\nlog_level = debug\n{extra}")
        self.proc = subprocess.Popen([str(MILTER), "--foreground", "--config", str(self.conf)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("ward-milter exited: " + self.proc.stderr.read().decode())
            if self.sock.exists():
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("ward-milter did not start")

    def logtext(self):
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        return self.proc.returncode


@pytest.fixture
def mta(tmp_path, request):
    """Factory: mta(policy="", milter_extra="") -> (postfix, milter, wardd)."""
    if not MILTER.exists():
        pytest.fail(f"ward-milter is not built at {MILTER}")
    started = []

    def _start(policy="", milter_extra="", main_extra="", scan=True):
        w = request.getfixturevalue("wardd")(extra=policy) if scan else None
        md = tmp_path / "milter"
        md.mkdir()
        m = Milter(md, w.sock if w else tmp_path / "no-wardd.sock", milter_extra)
        started.append(m)
        pd = tmp_path / "postfix"
        pd.mkdir()
        p = Postfix(pd, "milter", main_extra=(
            f"smtpd_milters = unix:{m.sock}\nmilter_default_action = tempfail\n"
            f"milter_protocol = 6\n{main_extra}"))
        started.append(p)
        return p, m, w

    yield _start
    for s in reversed(started):
        s.stop()


def message(subject="Hello", body=b"Plain text body.\r\n", extra=b""):
    return (b"From: Alice <alice@example.org>\r\n"
            b"To: Bob <bob@example.com>\r\n"
            b"Subject: " + subject.encode() + b"\r\n"
            b"Date: Thu, 26 Nov 2026 01:00:00 +0000\r\n"
            b"Message-ID: <" + str(time.monotonic_ns()).encode() + b"@example.org>\r\n"
            + extra + b"\r\n" + body)


def send(port, msg, rcpts=("bob@example.com",), sender="alice@example.org", **kw):
    """Send one message; returns (code, text) of the end of DATA."""
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as s:
        s.ehlo("client.example.org")
        s.mail(sender, kw.get("mail_options", []))
        for r in rcpts:
            code, text = s.rcpt(r, kw.get("rcpt_options", []))
            assert code == 250, (code, text)
        code, text = s.data(msg)
        return code, text.decode(errors="replace")


def test_clean_mail_arrives_byte_identical(mta):
    p, m, _ = mta(scan=False)
    msg = message(extra=b"X-Folded: first part\r\n\tsecond part\r\nX-Spaces:    three\r\n"
                  b"X-NoSpace:tight\r\n")
    code, text = send(p.port, msg)
    assert code == 250, text
    got = p.wait_delivered(1)
    assert strip_postfix_lines(got[0]) == msg, m.logtext()
