"""ward-mda and ward-pipe behind a real Postfix from Debian, and ward-pipe on
every message of the third-party corpora.

One private Postfix on 127.0.0.1 routes mda.example.com to a pipe transport
running ward-mda in front of procmail (delivering into a Maildir) and
pipe.example.com to a pipe transport running ward-pipe (whose output a small
script puts into another Maildir). wardd's policy comes from a user_config
file whose sections and groups pick a policy per recipient, so one Postfix
serves every case: clean mail arrives byte-identical, infected mail is
rejected, discarded, cleaned or quarantined as configured, tags appear where
configured, notifications reach a local SMTP sink, and with wardd down the
mail waits in Postfix's queue and arrives once wardd is back.
"""
import os
import pathlib
import re
import shutil
import smtplib
import socket
import subprocess
import threading
import time

import pytest

from conftest import BUILD, CORPORA, WARD, eicar, run
from postfix_peer import Postfix, available, free_port, strip_postfix_lines

PIPE = BUILD / "src" / "pipe" / "ward-pipe"
MDA = BUILD / "src" / "mda" / "ward-mda"
PROCMAIL = shutil.which("procmail") or "/usr/bin/procmail"

pytestmark = pytest.mark.skipif(available() is not None, reason=str(available()))

USERS = """\
# recipients' policies: [rcpt@domain] first, then the first matching group
[quar@pipe.example.com]
action_av_infected = discard
av_quarantine = yes

[quar@mda.example.com]
action_av_infected = discard
av_quarantine = yes

[group:discard]
recipients = discard@.*
action_av_infected = discard

[group:clean]
recipients = clean@.*
av_clean_mode = yes
write_to_header = all
write_to_subject = yes

[group:tag]
recipients = tag@.*
write_to_header = all

[group:notify]
recipients = notify@.*
action_av_infected = discard
notify_admin = yes
admin_address = admin@example.net
notify_from = ward@example.net
notify_relay = 127.0.0.1:{sink_port}
"""


class SmtpSink:
    """A bounded SMTP server on 127.0.0.1 that keeps what it is sent."""

    MAX = 10 << 20

    def __init__(self):
        self.port = free_port()
        self.messages = []  # (mail_from, [rcpts], data)
        self.srv = socket.create_server(("127.0.0.1", self.port))
        self.srv.settimeout(0.2)
        self.stopping = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stopping:
            try:
                c, _ = self.srv.accept()
            except OSError:
                continue
            with c:
                try:
                    self._session(c)
                except OSError:
                    pass

    def _session(self, c):
        c.settimeout(10)
        f = c.makefile("rb")
        c.sendall(b"220 sink ESMTP\r\n")
        frm, rcpts = None, []
        while True:
            line = f.readline(4096)
            if not line:
                return
            cmd = line.strip().upper()
            if cmd.startswith((b"EHLO", b"HELO")):
                c.sendall(b"250 sink\r\n")
            elif cmd.startswith(b"MAIL FROM:"):
                frm, rcpts = line.strip()[10:].decode(errors="replace"), []
                c.sendall(b"250 ok\r\n")
            elif cmd.startswith(b"RCPT TO:"):
                rcpts.append(line.strip()[8:].decode(errors="replace"))
                c.sendall(b"250 ok\r\n")
            elif cmd == b"DATA":
                c.sendall(b"354 go\r\n")
                data = b""
                while True:
                    l = f.readline(1 << 16)
                    if not l or l == b".\r\n" or len(data) > self.MAX:
                        break
                    data += l[1:] if l.startswith(b"..") else l
                self.messages.append((frm, rcpts, data))
                c.sendall(b"250 kept\r\n")
            elif cmd == b"QUIT":
                c.sendall(b"221 bye\r\n")
                return
            else:
                c.sendall(b"250 ok\r\n")

    def wait(self, n, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.messages) < n:
            time.sleep(0.1)
        return self.messages

    def stop(self):
        self.stopping = True
        self.thread.join(timeout=5)
        self.srv.close()


def clean_message(subject="hello"):
    # 8-bit text, a long line, CRLF: what must survive byte for byte
    long = "x" * 1200
    return (f"From: Alice <alice@example.net>\r\nTo: someone@example.com\r\n"
            f"Subject: {subject}\r\nMessage-ID: <{time.time_ns()}@example.net>\r\n"
            f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"Content-Transfer-Encoding: 8bit\r\n\r\nGrüße aus Köln\r\n{long}\r\nbye\r\n"
            ).encode()


def infected_message(subject="invoice"):
    return (b"From: Mallory <m@example.net>\r\nTo: someone@example.com\r\n"
            b"Subject: " + subject.encode() + b"\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
            b"--b1\r\nContent-Type: text/plain\r\n\r\nsee attachment\r\n"
            b"--b1\r\nContent-Type: application/octet-stream; name=\"inv.com\"\r\n"
            b"Content-Disposition: attachment; filename=\"inv.com\"\r\n\r\n"
            + eicar() + b"\r\n--b1--\r\n")


def body_of(delivered: bytes) -> bytes:
    """What was sent, from what a Maildir holds: without Postfix's own fields
    on top (and a From_ line an MDA may add), in CRLF form."""
    if delivered.startswith(b"From "):
        delivered = delivered.split(b"\n", 1)[1]
    return strip_postfix_lines(delivered)


class Rig:
    def __init__(self, tmp, wardd_factory):
        self.tmp = pathlib.Path(tmp)
        self.wardd_factory = wardd_factory
        self.sink = SmtpSink()
        self.users = self.tmp / "users.conf"
        self.users.write_text(USERS.format(sink_port=self.sink.port))
        self.qdir = self.tmp / "quarantine"
        self.wardd = None
        self.start_wardd()
        # the agents run as nobody: their files must be reachable
        self.agent_conf = self.tmp / "agents.conf"
        self.spool = self.tmp / "spool"
        self.spool.mkdir()
        os.chmod(self.spool, 0o1777)
        self.mda_mail = self.tmp / "mda-mail"
        self.pipe_mail = self.tmp / "pipe-mail"
        for d in (self.mda_mail, self.pipe_mail):
            for sub in ("tmp", "new", "cur"):
                (d / "Maildir" / sub).mkdir(parents=True)
            for root, dirs, _ in os.walk(d):
                shutil.chown(root, "nobody", "nogroup")
        self.write_agent_conf()
        self.procmailrc = self.tmp / "procmailrc"
        self.procmailrc.write_text(f"MAILDIR={self.mda_mail}\n:0\n{self.mda_mail}/Maildir/\n")
        self.pipe_script = self.tmp / "pipe-deliver.sh"
        self.pipe_script.write_text(f"""#!/bin/sh
# ward-pipe in a Postfix pipe transport: keep its output, deliver it when it passed
md={self.pipe_mail}/Maildir
t="$md/tmp/$$.$(date +%s%N)"
{PIPE} --config {self.agent_conf} --exit-codes=sysexits -f "$1" -r "$2" > "$t"
rc=$?
if [ $rc -ne 0 ]; then rm -f "$t"; exit $rc; fi
if [ -s "$t" ]; then mv "$t" "$md/new/"; else rm -f "$t"; fi
exit 0
""")
        os.chmod(self.pipe_script, 0o755)
        main = (
            "virtual_mailbox_domains = example.com, mda.example.com, pipe.example.com\n"
            "transport_maps = inline:{ mda.example.com=wardmda: , pipe.example.com=wardpipe: }\n"
            "wardmda_destination_recipient_limit = 1\n"
            "wardpipe_destination_recipient_limit = 1\n")
        master = (
            f"wardmda unix - n n - - pipe flags=q user=nobody argv={MDA} -m {self.procmailrc} "
            f"-- --config {self.agent_conf} --sender ${{sender}} --recipient ${{recipient}}\n"
            f"wardpipe unix - n n - - pipe flags=q user=nobody argv=/bin/sh {self.pipe_script} "
            f"${{sender}} ${{recipient}}\n")
        self.postfix = Postfix(self.tmp, "ward-agents", main, master)

    def start_wardd(self):
        extra = (f"\n[global]\nuser_config = {self.users}\nquarantine_dir = {self.qdir}\n")
        self.wardd = self.wardd_factory(extra=extra)
        os.chmod(self.wardd.tmp, 0o755)
        os.chmod(self.wardd.sock, 0o666)

    def write_agent_conf(self):
        self.agent_conf.write_text(
            f"[global]\ntmp_dir = {self.spool}\n"
            f"[pipe]\nwardd_socket = {self.wardd.sock}\nscan_timeout = 60s\n"
            f"[mda]\nwardd_socket = {self.wardd.sock}\nmda_path = {PROCMAIL}\n"
            f"scan_timeout = 60s\n")
        os.chmod(self.agent_conf, 0o644)

    def send(self, rcpt, msg, sender="alice@example.net"):
        with smtplib.SMTP("127.0.0.1", self.postfix.port, timeout=30) as s:
            s.sendmail(sender, [rcpt], msg)

    def maildir(self, agent):
        d = (self.mda_mail if agent == "mda" else self.pipe_mail) / "Maildir" / "new"
        files = sorted(d.iterdir(), key=lambda p: p.stat().st_mtime_ns)
        return [p.read_bytes() for p in files]

    def wait_mail(self, agent, n, timeout=40):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.maildir(agent)
            if len(got) >= n:
                return got
            time.sleep(0.1)
        raise AssertionError(f"{agent}: {len(self.maildir(agent))} of {n} delivered\n"
                             + self.postfix.maillog()[-4000:])

    def wait_log(self, pattern, timeout=40):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = re.search(pattern, self.postfix.maillog())
            if m:
                return m
            time.sleep(0.1)
        raise AssertionError(f"no {pattern!r} in the mail log:\n" + self.postfix.maillog()[-4000:])

    def stop(self):
        self.postfix.stop()
        self.sink.stop()


@pytest.fixture
def rig(tmp_path, wardd):
    if not os.path.exists(PROCMAIL):
        pytest.skip("procmail is not installed (scripts/install-deps --test)")
    for p in (PIPE, MDA):
        if not p.exists():
            pytest.fail(f"{p} is not built")
    r = Rig(tmp_path, wardd)
    yield r
    r.stop()


AGENTS = ["mda", "pipe"]


@pytest.mark.parametrize("agent", AGENTS)
def test_clean_mail_arrives_byte_identical(rig, agent):
    msg = clean_message()
    rig.send(f"user@{agent}.example.com", msg)
    got = rig.wait_mail(agent, 1)
    assert body_of(got[0]) == msg
    assert b"X-Ward-Result" not in got[0]


@pytest.mark.parametrize("agent", AGENTS)
def test_infected_mail_rejected(rig, agent):
    rig.send(f"user@{agent}.example.com", infected_message())
    m = rig.wait_log(rf"to=<user@{agent}\.example\.com>.*status=bounced \((.*)\)")
    assert "virus" in m.group(1).lower() or "Ward.Test.EICAR" in m.group(1), m.group(0)
    time.sleep(0.5)
    assert rig.maildir(agent) == []
    # no policy quarantined: no store was made
    assert not rig.qdir.exists()


@pytest.mark.parametrize("agent", AGENTS)
def test_infected_mail_discarded(rig, agent):
    rig.send(f"discard@{agent}.example.com", infected_message())
    rig.wait_log(rf"to=<discard@{agent}\.example\.com>.*status=sent")
    # and a clean one to the same recipient still arrives
    rig.send(f"discard@{agent}.example.com", clean_message())
    got = rig.wait_mail(agent, 1)
    assert len(got) == 1 and b"EICAR" not in got[0]


@pytest.mark.parametrize("agent", AGENTS)
def test_infected_mail_cleaned_and_tagged(rig, agent):
    rig.send(f"clean@{agent}.example.com", infected_message("invoice 42"))
    got = rig.wait_mail(agent, 1)[0]
    assert eicar() not in got
    assert b"EICAR-STANDARD" not in got
    assert re.search(rb"(?m)^X-Ward-Result: cleaned", got), got[:600]
    assert re.search(rb"(?m)^X-Virus-Scanner: Ward ", got)
    assert re.search(rb"(?m)^Subject: \[cleaned [^]]*\] invoice 42", got), got[:600]
    assert b"see attachment" in got  # the clean part is kept


@pytest.mark.parametrize("agent", AGENTS)
def test_clean_mail_tagged_when_configured(rig, agent):
    msg = clean_message()
    rig.send(f"tag@{agent}.example.com", msg)
    got = body_of(rig.wait_mail(agent, 1)[0])
    head, _, rest = got.partition(b"From: Alice")
    assert b"X-Ward-Result: clean" in head
    assert b"From: Alice" + rest == msg  # prepended only: the original bytes follow


@pytest.mark.parametrize("agent", AGENTS)
def test_infected_mail_quarantined(rig, agent, ward):
    rig.send(f"quar@{agent}.example.com", infected_message("keep me"))
    rig.wait_log(rf"to=<quar@{agent}\.example\.com>.*status=sent")
    r = ward("quarantine", "-c", rig.wardd.conf, "list", "--json", check=0)
    out = r.stdout.decode()
    assert f"quar@{agent}.example.com" in out, out
    assert "EICAR" in out.upper() or "Ward.Test" in out, out
    assert rig.maildir(agent) == []


@pytest.mark.parametrize("agent", AGENTS)
def test_admin_notified(rig, agent):
    rig.send(f"notify@{agent}.example.com", infected_message("for the admin"))
    rig.wait_log(rf"to=<notify@{agent}\.example\.com>.*status=sent")
    msgs = rig.sink.wait(1)
    assert msgs, "no notification reached the sink"
    frm, rcpts, data = msgs[0]
    assert any("admin@example.net" in r for r in rcpts), rcpts
    assert b"EICAR" in data.upper() or b"Ward.Test" in data


@pytest.mark.parametrize("agent", AGENTS)
def test_wardd_down_defers_and_nothing_is_lost(rig, agent):
    rig.wardd.stop()
    msg = clean_message("waits in the queue")
    rig.send(f"user@{agent}.example.com", msg)
    m = rig.wait_log(rf"to=<user@{agent}\.example\.com>.*status=deferred")
    assert rig.maildir(agent) == []
    assert rig.postfix.queue(), "the message left Postfix's queue"
    # wardd back (a new socket): the queued message arrives unchanged
    rig.start_wardd()
    rig.write_agent_conf()
    rig.postfix.flush()
    got = rig.wait_mail(agent, 1, timeout=60)
    assert body_of(got[0]) == msg, m.group(0)


# ---- corpora --------------------------------------------------------------------


def corpora_dir():
    return CORPORA if CORPORA and CORPORA.is_dir() else None


def corpus_messages(root):
    """Every file: messages, and the parts and notes beside them, which must
    pass through unchanged just the same."""
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.stat().st_size <= 20 << 20:
            yield p


def test_corpora_through_ward_pipe_byte_identical(tmp_path, wardd):
    root = corpora_dir()
    if root is None:
        pytest.skip("no corpora (set WARD_CORPORA)")
    w = wardd(extra=("\n[pipe]\naction_av_infected = accept\naction_av_suspicious = accept\n"
                     "action_av_notscanned = accept\naction_av_protected = accept\n"
                     "action_filtered = accept\nwrite_to_header = none\n"))
    conf = tmp_path / "agent.conf"
    conf.write_text(f"[pipe]\nwardd_socket = {w.sock}\nscan_timeout = 60s\n"
                    f"tmp_dir = {tmp_path}\n")
    n, bad = 0, []
    for p in corpus_messages(root):
        data = p.read_bytes()
        r = run([PIPE, "--config", conf, "--exit-codes=sysexits", "-f", "a@example.net",
                 "-r", "b@example.com"], input=data, timeout=90)
        n += 1
        if r.returncode != 0 or r.stdout != data:
            bad.append(f"{p.relative_to(root)}: exit {r.returncode} "
                       f"{r.stderr.decode(errors='replace').strip()[:200]}"
                       f"{'' if r.stdout == data else ' (output differs)'}")
        assert w.proc.poll() is None, f"wardd died on {p}"
    assert n > 300
    assert not bad, f"{len(bad)} of {n} messages:\n" + "\n".join(bad[:30])
    assert w.request(b"zPING\0") == b"PONG\0"


def test_ward_pipe_over_tcp_takes_addresses_not_names(tmp_path, wardd):
    # ward-pipe is linked statically to start fast: no name service, so a
    # TCP wardd is given by address, and a name is a clear temporary failure
    port = free_port()
    w = wardd(tcp_port=port)
    conf = tmp_path / "agent.conf"
    msg = clean_message()
    for target, code in ((f"127.0.0.1:{port}", 0), (f"localhost:{port}", 0),
                         (f"wardd.example.invalid:{port}", 75)):
        conf.write_text(f"[pipe]\nwardd_socket = {target}\ntmp_dir = {tmp_path}\n")
        r = run([PIPE, "--config", conf, "--exit-codes=sysexits", "-f", "a@example.net",
                 "-r", "b@example.com"], input=msg, timeout=60)
        assert r.returncode == code, (target, r.stderr)
        if code == 0:
            assert r.stdout == msg
        else:
            assert r.stdout == b"" and b"not a host name" in r.stderr
    assert w.proc.poll() is None


class SlowSink(SmtpSink):
    """A relay that waits before its greeting, as a busy or distant one does."""

    def __init__(self, delay):
        self.delay = delay
        super().__init__()

    def _session(self, c):
        time.sleep(self.delay)
        super()._session(c)


def test_slow_notice_relay_and_script_do_not_delay_the_answer(tmp_path, wardd):
    # The verdict goes back at once; the notice and exec_script follow it
    # (an agent waits for wardd with a timeout below the MTA's, and a late
    # verdict would be a temporary failure, a retry, and a second notice).
    sink = SlowSink(4)
    marker = tmp_path / "script-ran"
    script = tmp_path / "script.sh"
    script.write_text(f"#!/bin/sh\nsleep 3\necho \"$WARD_STATUS $WARD_VIRUSNAME\" > {marker}\n")
    os.chmod(script, 0o755)
    try:
        w = wardd(extra=("\n[pipe]\naction_av_infected = discard\nnotify_admin = yes\n"
                         "admin_address = admin@example.net\nnotify_from = ward@example.net\n"
                         f"notify_relay = 127.0.0.1:{sink.port}\nexec_script = {script}\n"))
        conf = tmp_path / "agent.conf"
        conf.write_text(f"[pipe]\nwardd_socket = {w.sock}\nscan_timeout = 60s\n"
                        f"tmp_dir = {tmp_path}\n")
        t0 = time.monotonic()
        r = run([PIPE, "--config", conf, "--exit-codes=sysexits", "-f", "m@example.net",
                 "-r", "b@example.com"], input=infected_message("slow relay"), timeout=60)
        took = time.monotonic() - t0
        assert r.returncode == 0 and r.stdout == b"", r.stderr  # discarded
        assert took < 2.5, f"the answer waited {took:.1f} s for the notice or the script"
        assert not marker.exists() and not sink.messages
        msgs = sink.wait(1, timeout=30)
        assert msgs and any("admin@example.net" in x for x in msgs[0][1]), msgs
        deadline = time.monotonic() + 30
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert marker.read_text().startswith("infected "), marker.read_text()
        # a clean message meanwhile is answered at once too
        t0 = time.monotonic()
        msg = clean_message()
        r = run([PIPE, "--config", conf, "--exit-codes=sysexits", "-f", "a@example.net",
                 "-r", "b@example.com"], input=msg, timeout=60)
        assert r.returncode == 0 and r.stdout == msg
        assert time.monotonic() - t0 < 2.5
    finally:
        sink.stop()


def test_wardd_stops_promptly_with_a_notice_pending(tmp_path, wardd):
    sink = SlowSink(60)  # never greets within the test
    try:
        w = wardd(extra=("\n[pipe]\naction_av_infected = discard\nnotify_admin = yes\n"
                         "admin_address = admin@example.net\n"
                         f"notify_relay = 127.0.0.1:{sink.port}\n"))
        conf = tmp_path / "agent.conf"
        conf.write_text(f"[pipe]\nwardd_socket = {w.sock}\ntmp_dir = {tmp_path}\n")
        for i in range(3):
            r = run([PIPE, "--config", conf, "--exit-codes=sysexits", "-f", "m@example.net",
                     "-r", "b@example.com"], input=infected_message(f"n{i}"), timeout=60)
            assert r.returncode == 0, r.stderr
        t0 = time.monotonic()
        w.proc.terminate()
        w.proc.wait(timeout=30)
        took = time.monotonic() - t0
        # ten seconds for what is queued, then the rest is logged and dropped
        assert took < 15, took
        assert "dropped at shutdown" in w.log.read_text()
    finally:
        sink.stop()
