"""ward-milter behind a real Postfix from Debian (smtpd_milters), and the
same milter driven by miltertest (Debian's scripted milter client).

Each test starts wardd, ward-milter and a private Postfix on 127.0.0.1 in
its temporary directory, sends mail with smtplib and reads what Postfix
delivered into a Maildir.
"""
import os
import pathlib
import random
import shutil
import smtplib
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import BUILD, eicar
from postfix_peer import Postfix, available, free_port, strip_postfix_lines

MILTER = BUILD / "src" / "milter" / "ward-milter"

pytestmark = pytest.mark.skipif(available() is not None, reason=str(available()))


class Milter:
    def __init__(self, tmp, wardd_sock, extra="", inet_port=None):
        self.tmp = pathlib.Path(tmp)
        self.sock = self.tmp / "milter.sock"
        self.log = self.tmp / "milter.log"
        self.conf = self.tmp / "milter.conf"
        self.inet_port = inet_port
        # what the MTA is told: unix:PATH, or inet:HOST:PORT (Postfix's form)
        self.spec = f"inet:127.0.0.1:{inet_port}" if inet_port else f"unix:{self.sock}"
        listen = f"inet:{inet_port}@127.0.0.1" if inet_port else f"unix:{self.sock}"
        self.conf.write_text(
            f"[milter]\nsocket = {listen}\nsocket_mode = 0666\n"
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
            if inet_port:
                try:
                    socket.create_connection(("127.0.0.1", inet_port), timeout=1).close()
                    return
                except OSError:
                    pass
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

    def _start(policy="", milter_extra="", main_extra="", scan=True, inet=False):
        w = request.getfixturevalue("wardd")(extra=policy) if scan else None
        md = tmp_path / "milter"
        md.mkdir()
        m = Milter(md, w.sock if w else tmp_path / "no-wardd.sock", milter_extra,
                   inet_port=free_port() if inet else None)
        started.append(m)
        pd = tmp_path / "postfix"
        pd.mkdir()
        p = Postfix(pd, "milter", main_extra=(
            f"smtpd_milters = {m.spec}\nmilter_default_action = tempfail\n"
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
    """Send one message: (code, text) of the end of DATA, or of the first
    command the server refused."""
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as s:
        s.ehlo("client.example.org")
        code, text = s.mail(sender, kw.get("mail_options", []))
        for r in rcpts:
            if code == 250:
                code, text = s.rcpt(r, kw.get("rcpt_options", []))
        if code == 250:
            code, text = s.data(msg)
        return code, text.decode(errors="replace")


def with_attachment(payload: bytes, subject="Invoice", name="invoice.com"):
    """20 KB-ish multipart: a text part and one base64 attachment."""
    import base64
    b64 = base64.encodebytes(payload).replace(b"\n", b"\r\n")
    body = (b"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n"
            b"Content-Transfer-Encoding: 8bit\r\n\r\n"
            b"Bitte sch\xc3\xb6n, the invoice.\r\n"
            b"--b1\r\nContent-Type: application/octet-stream; name=\"" + name.encode() + b"\"\r\n"
            b"Content-Disposition: attachment; filename=\"" + name.encode() + b"\"\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n" + b64 +
            b"--b1--\r\n")
    return message(subject, body, b"MIME-Version: 1.0\r\n"
                   b"Content-Type: multipart/mixed; boundary=\"b1\"\r\n")


def fields(delivered: bytes):
    """The header field names of a delivered message, in order."""
    head = delivered.split(b"\n\n", 1)[0]
    return [l.split(b":", 1)[0].decode() for l in head.split(b"\n") if l and l[0] not in b" \t"]


def refused(port, msg):
    """Send a message the milter refuses: the SMTP error (code, text)."""
    code, text = send(port, msg)
    assert code >= 400, (code, text)
    return code, text


def test_clean_mail_arrives_byte_identical(mta):
    p, m, _ = mta()
    msg = message(extra=b"X-Folded: first part\r\n\tsecond part\r\nX-Spaces:    three\r\n"
                  b"X-NoSpace:tight\r\n")
    att = with_attachment(random.Random(1).randbytes(15000), name="data.bin")
    assert send(p.port, msg)[0] == 250
    assert send(p.port, att)[0] == 250
    got = p.wait_delivered(2)
    assert strip_postfix_lines(got[0]) == msg, m.logtext()
    assert strip_postfix_lines(got[1]) == att, m.logtext()
    assert ": clean: accepted" in m.logtext()


def test_eicar_rejected_with_the_policy_reply(mta):
    p, m, _ = mta()
    code, text = refused(p.port, with_attachment(eicar()))
    assert code == 550 and "5.7.1" in text and "EICAR" in text.upper(), (code, text)
    assert "infected" in m.logtext() and "rejected" in m.logtext()
    time.sleep(1)
    assert p.delivered() == []


def test_eicar_deferred(mta):
    p, m, _ = mta("[milter]\naction_av_infected = defer\n")
    code, text = refused(p.port, with_attachment(eicar()))
    assert 400 <= code < 500, (code, text)
    assert p.delivered() == []


def test_eicar_discarded(mta):
    p, m, _ = mta("[milter]\naction_av_infected = discard\n")
    assert send(p.port, with_attachment(eicar()))[0] == 250
    clean = message()
    assert send(p.port, clean)[0] == 250
    got = p.wait_delivered(1)
    time.sleep(1)
    assert len(p.delivered()) == 1 and strip_postfix_lines(got[0]) == clean
    assert "discarded" in m.logtext()
    assert "milter-discard" in p.maillog()


def test_headers_added_and_subject_tagged_body_untouched(mta):
    p, m, _ = mta("[milter]\naction_av_infected = accept\nwrite_to_header = all\n"
                  "write_to_subject = yes\n")
    msg = with_attachment(eicar(), subject="Quarterly figures")
    assert send(p.port, msg)[0] == 250
    got = p.wait_delivered(1)[0]
    names = fields(got)
    # the policy's fields come first after Postfix's own, in the policy's order
    ours = [n for n in names if n not in ("Return-Path", "X-Original-To", "Delivered-To",
                                          "Received")]
    assert set(ours[:2]) == {"X-Ward-Result", "X-Virus-Scanner"}, names
    assert b"X-Ward-Result: infected (Ward.Test.EICAR" in got
    assert b"\nSubject: [virus Ward.Test.EICAR] Quarterly figures\n" in got
    # every other field and the body are byte-identical
    sent_head, sent_body = msg.split(b"\r\n\r\n", 1)
    got_head, got_body = strip_postfix_lines(got).split(b"\r\n\r\n", 1)
    assert got_body == sent_body
    keep = [l for l in sent_head.split(b"\r\n") if not l.startswith(b"Subject:")]
    got_lines = got_head.split(b"\r\n")
    assert [l for l in got_lines if l in keep] == keep
    assert "smfi" not in m.logtext() and "accepted, changed" in m.logtext()


def test_clean_mail_gets_headers_when_asked(mta):
    p, m, _ = mta("[milter]\nwrite_to_header = all\n")
    msg = message()
    assert send(p.port, msg)[0] == 250
    got = p.wait_delivered(1)[0]
    assert b"X-Ward-Result: clean" in got
    assert strip_postfix_lines(got).endswith(msg)


def test_infected_part_cleaned_rest_intact(mta):
    p, m, _ = mta("[milter]\nav_clean_mode = yes\naction_av_infected = accept\n"
                  "write_to_header = all\n")
    msg = with_attachment(eicar())
    assert send(p.port, msg)[0] == 250
    got = p.wait_delivered(1)[0]
    assert eicar() not in got and b"WDVPIVAlQEFQ" not in got  # nor its base64
    assert b"X-Ward-Result: cleaned" in got
    # the text part is as it was, 8-bit bytes included
    assert b"Bitte sch\xc3\xb6n, the invoice.\n--b1" in got
    assert b"EICAR" in got.split(b"\n\n", 1)[1].upper()  # the notice says what was removed


def test_8bit_smtputf8_and_dsn_mail_intact(mta):
    p, m, _ = mta()
    msg = ("From: J\u00fcrgen <j\u00fcrgen@b\u00fccher.example>\r\n"
           "To: bob@example.com\r\nSubject: Gr\u00fc\u00dfe\r\n"
           "Message-ID: <utf8-1@example.org>\r\n\r\n"
           "\u00c4rger mit \u00dcmlauten \u2014 " + "x" * 1200 + "\r\n").encode()
    code, _ = send(p.port, msg, sender="j\u00fcrgen@b\u00fccher.example",
                   mail_options=["SMTPUTF8", "BODY=8BITMIME", "RET=HDRS", "ENVID=abc123"],
                   rcpt_options=["NOTIFY=FAILURE,DELAY", "ORCPT=rfc822;bob@example.com"])
    assert code == 250
    got = p.wait_delivered(1)[0]
    assert strip_postfix_lines(got) == msg
    assert "j\u00fcrgen@b\u00fccher.example".encode() in got.split(b"\n", 1)[0]  # Return-Path
    assert "dsn=2.0.0" in p.maillog() or "status=sent" in p.maillog()


def test_wardd_down_is_a_temporary_failure(mta):
    p, m, w = mta()
    w.stop()
    code, text = refused(p.port, message())
    assert 400 <= code < 500 and "4.3.0" in text, (code, text)
    assert "temporary failure" in m.logtext()


def test_milter_down_mta_tempfails(mta):
    p, m, _ = mta()
    m.stop()
    code, text = refused(p.port, message())
    assert 400 <= code < 500, (code, text)


def test_quarantine_hold(mta):
    p, m, _ = mta("[milter]\naction_av_infected = accept\n",
                  milter_extra="quarantine_hold = yes\n")
    assert send(p.port, with_attachment(eicar()))[0] == 250
    deadline = time.monotonic() + 20
    held = []
    while time.monotonic() < deadline and not held:
        held = [q for q in p.queue() if q.get("queue_name") == "hold"]
        time.sleep(0.2)
    assert held, p.maillog()
    assert p.delivered() == []
    assert "held" in m.logtext()


@pytest.mark.skipif(shutil.which("miltertest") is None, reason="miltertest is not installed")
def test_miltertest_scripted_session(tmp_path, wardd):
    """Debian's miltertest plays the MTA: negotiation, envelope, headers with
    their leading space, body, end of message, and checks the replies and
    modifications ward-milter asks for."""
    w = wardd(extra="[milter]\naction_av_infected = accept\nwrite_to_header = all\n"
                    "write_to_subject = yes\n")
    m = Milter(tmp_path, w.sock)
    try:
        script = pathlib.Path(__file__).parent / "milter" / "session.lua"
        r = subprocess.run(["miltertest", "-D", f"sock=unix:{m.sock}", "-D",
                            "eicar=" + eicar().decode(), "-s", str(script)],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr + m.logtext()
        assert "miltertest session ok" in r.stdout
        log = m.logtext()
        assert "MThello: clean: accepted, changed" in log
        assert "MTfigures: infected (Ward.Test.EICAR): accepted, changed" in log
        assert m.stop() == 0, m.proc.stderr.read().decode()  # in a sanitizer build: no leak
    finally:
        m.stop()


def test_recipients_with_different_policies(mta, tmp_path):
    users = tmp_path / "users.conf"
    users.write_text("[carol@example.com]\naction_av_infected = accept\n"
                     "[dave@example.com]\naction_av_infected = defer\n")
    p, m, _ = mta(f"[global]\nuser_config = {users}\n")
    # bob refuses, carol takes it: bob is removed, carol gets the message
    msg = with_attachment(eicar())
    assert send(p.port, msg, rcpts=("bob@example.com", "carol@example.com"))[0] == 250
    got = p.wait_delivered(1)
    time.sleep(1)
    assert len(p.delivered()) == 1
    assert b"Delivered-To: carol@example.com" in got[0]
    assert "recipient bob@example.com removed: reject" in m.logtext()
    # one deferred recipient defers the whole message
    code, text = send(p.port, msg, rcpts=("carol@example.com", "dave@example.com"))
    assert 400 <= code < 500, (code, text)


def test_forged_result_field_removed(mta):
    p, m, _ = mta("[milter]\nwrite_to_header = all\n")
    msg = message(extra=b"X-Ward-Result: clean, trust me\r\n")
    assert send(p.port, msg)[0] == 250
    got = p.wait_delivered(1)[0]
    assert b"trust me" not in got
    assert got.count(b"X-Ward-Result:") == 1


def test_too_big_message_refused(mta):
    p, m, _ = mta(milter_extra="max_message_size = 10K\n")
    code, text = send(p.port, with_attachment(random.Random(2).randbytes(20000)))
    assert code == 552 and "5.3.4" in text, (code, text)
    assert send(p.port, message())[0] == 250


def test_big_message_moves_to_a_spool_file_intact(mta):
    """Past 2 MiB the spool leaves memory for an unlinked file in tmp_dir."""
    spool = pathlib.Path(tempfile.mkdtemp(prefix="ward-milter-spool."))
    p, m, _ = mta(milter_extra=f"tmp_dir = {spool}\n")
    msg = with_attachment(random.Random(3).randbytes(3 << 20), name="big.bin")
    assert send(p.port, msg)[0] == 250
    got = p.wait_delivered(1, timeout=60)[0]
    assert strip_postfix_lines(got) == msg
    assert ": clean: accepted" in m.logtext()
    assert list(spool.iterdir()) == []  # unlinked
    spool.rmdir()


# ---- Sendmail ------------------------------------------------------------------------------
# Sendmail conflicts with Postfix as a package, so its binary is unpacked from the Debian
# package into a private folder (downloaded once with apt-get download) and run as
# `sendmail -bs` (one SMTP session on its standard input) with a private sendmail.cf made
# from sendmail-cf's m4 macros with INPUT_MAIL_FILTER. Accepted mail stays in its queue
# (-odq), where the header fields (qf file) and the body (df file) are read.

SENDMAIL_ROOT = pathlib.Path("/tmp/ward-it-sendmail")


def sendmail_root():
    """The unpacked sendmail-bin and sendmail-cf packages, or None."""
    root = SENDMAIL_ROOT / "root"
    binary = root / "usr" / "libexec" / "sendmail" / "sendmail"
    if binary.exists():
        return root
    if not shutil.which("m4") or not shutil.which("unshare") or not shutil.which("dpkg"):
        return None
    debs = SENDMAIL_ROOT / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["apt-get", "download", "sendmail-bin", "sendmail-cf"], cwd=debs,
                       capture_output=True, timeout=300)
    if r.returncode != 0:
        return None
    for deb in debs.glob("*.deb"):
        subprocess.run(["dpkg", "-x", str(deb), str(root)], check=True, timeout=120)
    return root if binary.exists() else None


class Sendmail:
    def __init__(self, tmp, milter_sock):
        self.root = sendmail_root()
        if self.root is None:
            pytest.skip("sendmail cannot be unpacked here (needs m4, unshare, apt-get download)")
        self.tmp = pathlib.Path(tmp)
        self.queue = self.tmp / "mqueue"
        self.queue.mkdir(mode=0o700)
        (self.tmp / "service.switch").write_text("hosts files\naliases files\n")
        (self.tmp / "aliases").write_text("")
        cf = self.root / "usr" / "share" / "sendmail" / "cf"
        mc = f"""divert(-1)
include(`{cf}/m4/cf.m4')
divert(0)
OSTYPE(`linux')
define(`confDOMAIN_NAME', `mx.example.net')
define(`confDONT_PROBE_INTERFACES', `True')
define(`confSERVICE_SWITCH_FILE', `{self.tmp}/service.switch')
define(`ALIAS_FILE', `{self.tmp}/aliases')
define(`QUEUE_DIR', `{self.queue}')
define(`STATUS_FILE', `{self.tmp}/statistics')
define(`confHELP_FILE', `')
define(`confPID_FILE', `{self.tmp}/sendmail.pid')
define(`confDONT_BLAME_SENDMAIL', `TrustStickyBit,GroupWritableDirPathSafe')
FEATURE(`accept_unresolvable_domains')
FEATURE(`nocanonify')
INPUT_MAIL_FILTER(`ward', `S=unix:{milter_sock}, F=T, T=S:30s;R:30s;E:5m')
MAILER(`local')
MAILER(`smtp')
"""
        self.cf = self.tmp / "sendmail.cf"
        r = subprocess.run(["m4"], input=mc.encode(), capture_output=True, timeout=60)
        assert r.returncode == 0, r.stderr
        self.cf.write_bytes(r.stdout)

    def session(self, msg, rcpts=("bob@example.com",)):
        """One SMTP session with `sendmail -bs`: the last reply line of each step."""
        # an unqualified host name makes Sendmail sleep a minute: a private UTS namespace
        # gives it a qualified one
        cmd = ["unshare", "-u", "sh", "-c", 'hostname mx.example.net && exec "$@"', "sh",
               str(self.root / "usr" / "libexec" / "sendmail" / "sendmail"), "-C", str(self.cf),
               "-bs", "-odq"]
        p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        out = []

        def reply():
            while True:
                line = p.stdout.readline()
                if not line:
                    out.append("")
                    return
                if line[3:4] != b"-":
                    out.append(line.decode(errors="replace").rstrip())
                    return

        def cmdl(c):
            p.stdin.write(c.encode() + b"\r\n")
            p.stdin.flush()
            reply()

        try:
            reply()
            cmdl("EHLO client.example.org")
            cmdl("MAIL FROM:<alice@example.org>")
            for r in rcpts:
                cmdl(f"RCPT TO:<{r}>")
            cmdl("DATA")
            p.stdin.write(msg.replace(b"\r\n.", b"\r\n..") + b".\r\n")
            p.stdin.flush()
            reply()
            cmdl("QUIT")
            p.wait(timeout=60)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        return out

    def queued(self):
        """[(header lines without Sendmail's flags, body)] of the queued messages."""
        out = []
        for qf in sorted(self.queue.glob("qf*")):
            heads = []
            for line in qf.read_bytes().split(b"\n"):
                if line.startswith(b"H"):
                    heads.append(line[1:].split(b"?", 2)[-1] if line[1:2] == b"?" else line[1:])
                elif line[:1] in (b" ", b"\t") and heads:
                    heads[-1] += b"\n" + line
            out.append((heads, (self.queue / ("df" + qf.name[2:])).read_bytes()))
        return out


@pytest.fixture
def sendmail(tmp_path, wardd):
    if os.geteuid() != 0:
        pytest.skip("unshare -u needs root")
    started = []

    def _start(policy=""):
        w = wardd(extra=policy)
        md = tmp_path / "milter"
        md.mkdir()
        m = Milter(md, w.sock)
        started.append(m)
        sd = tmp_path / "sendmail"
        sd.mkdir()
        os.chmod(tmp_path, 0o755)
        return Sendmail(sd, m.sock), m

    yield _start
    for m in started:
        m.stop()


def test_sendmail_clean_mail_intact(sendmail):
    s, m = sendmail()
    msg = message(extra=b"X-Spaces:    three\r\nX-NoSpace:tight\r\nX-Folded: a\r\n\tb\r\n",
                  body=b"line one\r\n.dot line\r\n\xc3\xa4 8-bit\r\n")
    replies = s.session(msg)
    assert replies[-2].startswith("250 2.0.0"), replies
    [(heads, body)] = s.queued()
    assert body == b"line one\n.dot line\n\xc3\xa4 8-bit\n"
    for field in [b"From: Alice <alice@example.org>", b"X-Spaces:    three", b"X-NoSpace:tight",
                  b"X-Folded: a\n\tb"]:
        assert field in heads, heads
    assert not any(h.startswith(b"X-Ward") for h in heads)
    assert ": clean: accepted" in m.logtext()


def test_sendmail_eicar_rejected(sendmail):
    s, m = sendmail()
    replies = s.session(with_attachment(eicar()))
    assert replies[-2].startswith("550 5.7.1") and "EICAR" in replies[-2].upper(), replies
    assert s.queued() == []


def test_sendmail_headers_and_subject(sendmail):
    s, m = sendmail("[milter]\naction_av_infected = accept\nwrite_to_header = all\n"
                    "write_to_subject = yes\n")
    msg = with_attachment(eicar(), subject="Quarterly figures")
    replies = s.session(msg)
    assert replies[-2].startswith("250 2.0.0"), replies
    [(heads, body)] = s.queued()
    # Sendmail's Return-Path template line comes first, then the inserted fields
    heads = [h for h in heads if not h.startswith(b"Return-Path:")]
    assert heads[0].startswith(b"X-") and heads[1].startswith(b"X-"), heads
    assert any(h.startswith(b"X-Ward-Result: infected (Ward.Test.EICAR") for h in heads)
    assert b"Subject: [virus Ward.Test.EICAR] Quarterly figures" in heads
    assert body == msg.split(b"\r\n\r\n", 1)[1].replace(b"\r\n", b"\n")


def test_non_smtpd_milters_for_locally_submitted_mail(mta):
    """Mail submitted with Postfix's sendmail(1) goes through pickup and
    non_smtpd_milters, with no client address."""
    p, m, _ = mta("[milter]\nwrite_to_header = all\n",
                  main_extra="non_smtpd_milters = $smtpd_milters\n")
    msg = message(subject="local submission").replace(b"\r\n", b"\n")
    r = subprocess.run(["/usr/sbin/sendmail", "-C", str(p.confdir), "-f", "alice@example.org",
                        "bob@example.com"], input=msg, capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    got = p.wait_delivered(1)[0]
    assert b"X-Ward-Result: clean" in got
    assert got.endswith(msg.split(b"\n\n", 1)[1])
    assert ": clean: accepted, changed" in m.logtext()


def test_inet_milter_socket(mta):
    """[milter] socket = inet:PORT@127.0.0.1, Postfix's smtpd_milters = inet:127.0.0.1:PORT."""
    p, m, _ = mta(inet=True)
    msg = message()
    assert send(p.port, msg)[0] == 250
    assert strip_postfix_lines(p.wait_delivered(1)[0]) == msg
    assert refused(p.port, with_attachment(eicar()))[0] == 550


# ---- the protocol spoken directly (a scripted MTA) ------------------------------------------
# ward-milter implements the milter protocol itself: these sessions check what neither Postfix
# nor miltertest produce on demand: all no-reply packets written at once, a connection reused
# after quit-nc ('K'), an old protocol version, garbage, and a stop signal mid-session.

import signal
import struct


def pkt(cmd: bytes, data: bytes = b"") -> bytes:
    return struct.pack(">I", len(data) + 1) + cmd + data


def read_pkt(s):
    def exact(n):
        b = b""
        while len(b) < n:
            got = s.recv(n - len(b))
            if not got:
                raise EOFError(f"closed after {len(b)} of {n} bytes")
            b += got
        return b
    n = struct.unpack(">I", exact(4))[0]
    body = exact(n)
    return body[:1], body[1:]


ALL_NR = 0x1000 | 0x2000 | 0x4000 | 0x8000 | 0x10000 | 0x20000 | 0x40000 | 0x80 | 0x80000


def negotiate(s, version=6, actions=0x1ff, proto=0x1fffff):
    s.sendall(pkt(b"O", struct.pack(">III", version, actions, proto)))
    cmd, data = read_pkt(s)
    assert cmd == b"O", (cmd, data)
    return struct.unpack(">III", data[:12]), data[12:]


def envelope(qid, body):
    """One message, every packet but the end of message written back to back."""
    return (pkt(b"C", b"client.example.org\x004" + struct.pack(">H", 4000) + b"192.0.2.7\0") +
            pkt(b"H", b"client.example.org\0") +
            pkt(b"M", b"<alice@example.org>\0BODY=8BITMIME\0") +
            pkt(b"R", b"<bob@example.com>\0") +
            pkt(b"L", b"From\0 Alice <alice@example.org>\0") +
            pkt(b"L", b"Subject\0 " + qid.encode() + b"\0") +
            pkt(b"N") + pkt(b"B", body) +
            pkt(b"D", b"Ei\0" + qid.encode() + b"\0") + pkt(b"E"))


def raw_connect(m):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(str(m.sock))
    return s


@pytest.fixture
def raw_milter(tmp_path, wardd):
    """A ward-milter in front of a private wardd, for the scripted MTA."""
    m = Milter(tmp_path, wardd().sock)
    yield m
    m.stop()


def test_raw_pipelined_session_and_quit_nc_reuse(raw_milter):
    m = raw_milter
    s = raw_connect(m)
    (ver, act, proto), lists = negotiate(s)
    assert ver == 6 and act == 0x13b and proto & ALL_NR == ALL_NR, (ver, hex(act), hex(proto))
    assert struct.pack(">I", 5) + b"i\0" in lists  # only the queue id, at the end
    s.sendall(envelope("RAWQ1", b"Plain text body.\r\n"))
    assert read_pkt(s) == (b"a", b"")  # no reply to the steps before: NR agreed
    # quit-nc: the same connection serves a new SMTP session, state reset
    s.sendall(pkt(b"K") + envelope("RAWQ2", eicar() + b"\r\n"))
    cmd, data = read_pkt(s)
    assert cmd == b"y" and data.startswith(b"550 5.7.1"), (cmd, data)
    s.sendall(pkt(b"Q"))
    assert s.recv(1) == b""
    s.close()
    log = m.logtext()
    assert "RAWQ1: clean: accepted" in log and "RAWQ2: infected" in log, log
    assert m.stop() == 0, m.proc.stderr.read().decode()


def test_raw_old_protocol_version_gets_every_reply(raw_milter):
    m = raw_milter
    s = raw_connect(m)
    (ver, act, proto), lists = negotiate(s, version=2, actions=0x3f, proto=0x7f)
    assert ver == 2 and act == 0x3b and proto == 0 and lists == b""
    for p in [pkt(b"C", b"h\0004\0\x19" + b"192.0.2.1\0"), pkt(b"H", b"h\0"),
              pkt(b"M", b"<a@example.org>\0"), pkt(b"R", b"<b@example.com>\0"),
              pkt(b"L", b"Subject\0v2\0"), pkt(b"N"), pkt(b"B", b"body\r\n")]:
        s.sendall(p)
        assert read_pkt(s) == (b"c", b"")
    s.sendall(pkt(b"E"))
    assert read_pkt(s) == (b"a", b"")
    s.close()


def test_raw_garbage_ends_only_that_session(raw_milter):
    m = raw_milter
    for garbage in [b"\x7f\xff\xff\xffB",            # oversize length
                    b"\0\0\0\0",                     # zero length
                    pkt(b"Z", b"what"),              # unknown command
                    pkt(b"O", b"\0\0\0\6")]:         # short negotiation
        s = raw_connect(m)
        s.sendall(garbage)
        assert s.recv(100) == b""  # the milter closed the session
        s.close()
    s = raw_connect(m)  # and still serves the next one
    negotiate(s)
    s.sendall(envelope("RAWQ3", b"fine\r\n"))
    assert read_pkt(s) == (b"a", b"")
    s.close()
    assert m.proc.poll() is None
    log = m.logtext()
    assert "malformed or oversize packet" in log and "unknown command" in log, log
    assert m.stop() == 0, m.proc.stderr.read().decode()


def test_raw_sigterm_lets_the_open_session_finish(raw_milter):
    m = raw_milter
    s = raw_connect(m)
    negotiate(s)
    whole = envelope("RAWQ4", b"finishing after SIGTERM\r\n")
    s.sendall(whole[:-5])  # everything but the end of message
    m.proc.send_signal(signal.SIGTERM)
    # no new connections once the signal is taken (bounded wait for that)
    deadline = time.monotonic() + 10
    refused = False
    while not refused and time.monotonic() < deadline:
        try:
            raw_connect(m).close()
            time.sleep(0.05)
        except OSError:
            refused = True
    assert refused
    assert m.proc.poll() is None  # waiting for the open session
    s.sendall(whole[-5:])
    assert read_pkt(s) == (b"a", b"")
    s.sendall(pkt(b"Q"))
    s.close()
    assert m.proc.wait(timeout=15) == 0
    assert not m.sock.exists()
    assert "RAWQ4: clean: accepted" in m.logtext()
