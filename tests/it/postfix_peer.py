"""A private Postfix from Debian for integration tests.

Runs on 127.0.0.1 only, with its queue, logs and Maildir inside the test's
temporary directory, delivering every recipient of example.com into one
Maildir through the virtual(8) agent. The configuration files live in a
fixed folder per instance name, because `postfix -c DIR` only accepts
folders that the default main.cf lists in alternate_config_directories
(one line, added once).
"""
import os
import pathlib
import re
import shutil
import socket
import subprocess
import time

POSTFIX = shutil.which("postfix") or "/usr/sbin/postfix"
POSTCONF = shutil.which("postconf") or "/usr/sbin/postconf"
CONF_ROOT = pathlib.Path("/tmp/ward-it-postfix")


def available():
    """Why a private Postfix cannot run here, or None."""
    if not os.path.exists(POSTFIX):
        return "postfix is not installed (scripts/install-deps --test)"
    if os.geteuid() != 0:
        return "a private postfix needs root"
    return None


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _register(confdir):
    main = pathlib.Path("/etc/postfix/main.cf")
    if not main.exists():
        main.write_text("# created by Ward's tests: Postfix's default instance is not used\n"
                        "compatibility_level = 3.6\n")
    cur = subprocess.run([POSTCONF, "-h", "alternate_config_directories"],
                         capture_output=True, text=True, timeout=30).stdout.strip()
    dirs = [d for d in re.split(r"[\s,]+", cur) if d]
    if str(confdir) not in dirs:
        dirs.append(str(confdir))
        subprocess.run([POSTCONF, "-e", "alternate_config_directories = " + " ".join(dirs)],
                       check=True, timeout=30)


def _master_cf(port, extra_master):
    """Debian's master.cf without chroot, with our listener in place of port 25."""
    out = []
    for line in pathlib.Path("/etc/postfix/master.cf").read_text().splitlines():
        f = line.split()
        if line and not line[0].isspace() and not line.startswith("#") and len(f) >= 8:
            if f[0] == "smtp" and f[1] == "inet":
                continue
            f[4] = "n"
            line = "  ".join(f[:7]) + "  " + " ".join(f[7:])
        out.append(line)
    out.append(f"127.0.0.1:{port} inet n - n - - smtpd")
    out.append(extra_master)
    return "\n".join(out) + "\n"


class Postfix:
    def __init__(self, tmp, name, main_extra="", master_extra=""):
        self.tmp = pathlib.Path(tmp)
        self.confdir = CONF_ROOT / name
        self.port = free_port()
        self.maildir = self.tmp / "mail" / "Maildir"
        self.log = self.tmp / "maillog"
        self.confdir.mkdir(parents=True, exist_ok=True)
        for d in ("queue", "data", "mail"):
            (self.tmp / d).mkdir(exist_ok=True)
        shutil.chown(self.tmp / "data", "postfix")
        shutil.chown(self.tmp / "mail", "nobody", "nogroup")
        # postfix and nobody must reach their folders through pytest's 0700 parents
        for d in [self.tmp, *self.tmp.parents]:
            if str(d) in ("/", "/tmp"):
                break
            os.chmod(d, os.stat(d).st_mode | 0o711)
        _register(self.confdir)
        (self.confdir / "main.cf").write_text(f"""\
compatibility_level = 3.6
queue_directory = {self.tmp}/queue
data_directory = {self.tmp}/data
meta_directory = /etc/postfix
maillog_file = {self.log}
maillog_file_prefixes = {self.tmp}
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mx.example.net
mydomain = example.net
myorigin = example.net
mydestination =
mynetworks = 127.0.0.0/8
local_header_rewrite_clients =
smtpd_recipient_restrictions = permit_mynetworks, reject
virtual_mailbox_domains = example.com
virtual_mailbox_base = {self.tmp}/mail
virtual_mailbox_maps = static:Maildir/
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
virtual_mailbox_limit = 0
message_size_limit = 0
smtputf8_enable = yes
biff = no
minimal_backoff_time = 2s
maximal_backoff_time = 4s
queue_run_delay = 2s
{main_extra}
""")
        (self.confdir / "master.cf").write_text(_master_cf(self.port, master_extra))
        r = subprocess.run([POSTFIX, "-c", str(self.confdir), "start"], capture_output=True,
                           text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError(f"postfix start: {r.stdout}{r.stderr}{self.maillog()}")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("postfix did not listen:\n" + self.maillog())

    def maillog(self):
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def postconf(self, *settings):
        subprocess.run([POSTCONF, "-c", str(self.confdir), "-e", *settings], check=True,
                       timeout=30)
        subprocess.run([POSTFIX, "-c", str(self.confdir), "reload"], check=True,
                       capture_output=True, timeout=30)

    def flush(self):
        subprocess.run([POSTFIX, "-c", str(self.confdir), "flush"], capture_output=True,
                       timeout=30)

    def delivered(self):
        """Messages in the Maildir (new/), oldest first, as bytes."""
        d = self.maildir / "new"
        if not d.exists():
            return []
        files = sorted(d.iterdir(), key=lambda p: p.stat().st_mtime_ns)
        return [p.read_bytes() for p in files]

    def wait_delivered(self, n, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.delivered()
            if len(got) >= n:
                return got
            time.sleep(0.1)
        raise AssertionError(f"{len(self.delivered())} of {n} messages delivered in {timeout} s\n"
                             + self.maillog()[-4000:])

    def queue(self):
        r = subprocess.run(["/usr/sbin/postqueue", "-c", str(self.confdir), "-j"],
                           capture_output=True, text=True, timeout=30)
        import json
        return [json.loads(x) for x in r.stdout.splitlines() if x.strip()]

    def stop(self):
        subprocess.run([POSTFIX, "-c", str(self.confdir), "stop"], capture_output=True,
                       timeout=60)
        # master may take a moment to go; later instances reuse the folder names
        pid = self.tmp / "queue" / "pid" / "master.pid"
        deadline = time.monotonic() + 15
        while pid.exists() and time.monotonic() < deadline:
            try:
                os.kill(int(pid.read_text().split()[0]), 0)
            except (OSError, ValueError):
                break
            time.sleep(0.1)


def strip_postfix_lines(delivered: bytes) -> bytes:
    """The message without the fields Postfix puts on top (Return-Path,
    X-Original-To, Delivered-To, its own Received), in CRLF form as it was sent."""
    lines = delivered.split(b"\n")
    i = 0
    own = [b"return-path:", b"x-original-to:", b"delivered-to:", b"received:"]
    while i < len(lines) and any(lines[i].lower().startswith(o) for o in own):
        own = [o for o in own if not lines[i].lower().startswith(o)]
        i += 1
        while i < len(lines) and lines[i][:1] in (b" ", b"\t"):
            i += 1
    return b"\r\n".join(lines[i:])
