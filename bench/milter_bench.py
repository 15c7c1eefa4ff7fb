#!/usr/bin/python3
"""Postfix with ward-milter vs Postfix alone vs Postfix with clamav-milter + clamd.

One run, one machine, the same signature database for both scanners (the scan benchmark's
10,000 .ndb + 100,000 .hsb of gen_db.py, plus Ward's EICAR line), a private Postfix from Debian
on 127.0.0.1 per setup (tests/it/postfix_peer.py) whose only change between setups is
smtpd_milters:

  none           Postfix alone: the ceiling of this path on this machine
  null-milter    Postfix with a milter that does nothing (bench/null_milter.c, libmilter):
                 the ceiling of any milter, i.e. Postfix's own cost of the milter protocol
                 (--null-wait-us N: it also waits N us at the end of each message, as a
                 scanning milter must, without using CPU)
  ward-milter    ward-milter -> wardd (MAILSCAN, the message as a passed descriptor)
  ward-milter-inet  the same, Postfix reaching ward-milter over TCP on 127.0.0.1
  clamav-milter  Debian's clamav-milter -> clamd (the message streamed with INSTREAM)

Load: 20 KB messages with one base64 attachment, every message unique (a random attachment
each, so no verdict cache helps either scanner), sent by 50 SMTP sessions at once from a
Python client (5 processes of 10 threads: with all 50 threads in one process, taking turns
on its lock held Postfix alone to about 1,200 messages/s, against 1,500-1,800 so), each
session sending its messages over one
connection; messages/s over the
whole run, and the time from the end of DATA to Postfix's 250 per message (the part of the
transaction the milter adds to), p50 and p99. The same from one session (no queueing), so the
added latency per message is visible without the load. Postfix delivers to discard(8), so the
figures are of the SMTP side where the milter sits, not of mailbox writing. Postfix's inbound
flow control is off (in_flow_delay = 0, as in smtpd_bench.py): with its default, cleanup pauses
a message for a second whenever the queue manager lags, and the count of those pauses decided
the figures. smtp-source
(Postfix's own load client, in C) then sends 2,000 copies of one such message over 50
sessions for a second opinion (wardd's verdict-cache hits during it are recorded: none).

CPU: user+system seconds of the scanning processes (wardd + ward-milter; clamd +
clamav-milter) per message, from /proc.

Needs root (a private Postfix), postfix, clamav-daemon and clamav-milter; outputs go to
OUTDIR/milter/ (default bench/out/milter/).
"""

import argparse
import base64
import json
import multiprocessing
import os
import random
import resource
import shutil
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
from statistics import median

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "it"))
import daemon_bench  # noqa: E402
import gen_db  # noqa: E402
from postfix_peer import Postfix, free_port  # noqa: E402

SESSIONS = 50


def make_message(i, rng):
    """About 20 KB: a short text part and a 14 KB attachment, unique per message."""
    att = base64.encodebytes(rng.randbytes(14600)).replace(b"\n", b"\r\n")
    return (b"From: Load <load@example.org>\r\nTo: bob@example.com\r\n"
            b"Subject: load " + str(i).encode() + b"\r\n"
            b"Date: Thu, 26 Nov 2026 01:00:00 +0000\r\n"
            b"Message-ID: <load-" + str(i).encode() + b"@example.org>\r\n"
            b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
            b"--b1\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
            b"The figures are attached.\r\n"
            b"--b1\r\nContent-Type: application/octet-stream; name=\"figures.bin\"\r\n"
            b"Content-Disposition: attachment; filename=\"figures.bin\"\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n" + att + b"--b1--\r\n")


def session(port, msgs, lat, errors):
    """One SMTP session sending msgs; appends (end-of-DATA -> reply) seconds to lat."""
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=120) as s:
            s.ehlo("load.example.org")
            for m in msgs:
                s.mail("load@example.org")
                s.rcpt("bob@example.com")
                s.putcmd("data")
                code, _ = s.getreply()
                if code != 354:
                    errors.append(code)
                    s.rset()
                    continue
                s.send(m + b".\r\n")
                t0 = time.perf_counter()
                code, _ = s.getreply()
                lat.append(time.perf_counter() - t0)
                if code != 250:
                    errors.append(code)
    except (OSError, smtplib.SMTPException) as e:
        errors.append(str(e))


PROCS = 5  # client processes: threads of one Python process queue for its lock


def _load_proc(port, per, go, results):
    """One client process: its sessions as threads; (latencies, errors) to results."""
    lat, errors = [], []
    threads = [threading.Thread(target=session, args=(port, p, lat, errors)) for p in per]
    go.wait()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    results.put((lat, errors))


def load(port, messages, sessions):
    """Send all messages over `sessions` parallel sessions: (seconds, latencies, errors).

    The sessions are spread over up to PROCS forked processes (the messages are inherited,
    not copied through a pipe), so the client's lock does not hold the load back.
    """
    per = [messages[i::sessions] for i in range(sessions)]
    procs = min(PROCS, sessions)
    ctx = multiprocessing.get_context("fork")
    go, results = ctx.Event(), ctx.Queue()
    workers = [ctx.Process(target=_load_proc, args=(port, per[i::procs], go, results))
               for i in range(procs)]
    for w in workers:
        w.start()
    t0 = time.perf_counter()
    go.set()
    lat, errors = [], []
    for _ in workers:
        got = results.get(timeout=1800)
        lat += got[0]
        errors += got[1]
    secs = time.perf_counter() - t0
    for w in workers:
        w.join(timeout=60)
    return secs, sorted(lat), errors


def cache_hits(sock):
    """wardd's verdict-cache hits so far (STATS), or None without a wardd."""
    if not sock:
        return None
    data = daemon_bench.request(sock, b"zSTATS\0", timeout=10)
    for line in data.decode(errors="replace").splitlines():
        if line.startswith("CACHE:"):
            return int(line.split("hits ")[1].split()[0])
    return None


def cpu_of(pids):
    return sum(daemon_bench.proc_cpu(p) for p in pids if p)


def listening(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


class Milter:
    def __init__(self, cmd, sock, workdir, port=None):
        """sock: the unix socket it listens on; or port: the TCP port on 127.0.0.1."""
        self.sock = sock
        out = open(os.path.join(workdir, "milter.out"), "ab")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while not (listening(port) if port else os.path.exists(sock)):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"milter_bench: {cmd[0]} did not start; see {workdir}")
            time.sleep(0.05)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def run_setup(name, tmp, milter_spec, scan_pids, a, rng_seed, wardd_sock=None):
    pdir = os.path.join(tmp, "postfix-" + name)
    os.makedirs(pdir)
    milters = (f"smtpd_milters = {milter_spec}\nmilter_default_action = tempfail\n"
               "milter_protocol = 6\n") if milter_spec else ""
    p = Postfix(pdir, "bench", main_extra=milters + "virtual_transport = discard\n"
                "smtpd_client_connection_count_limit = 0\n"
                "smtpd_client_message_rate_limit = 0\ndefault_process_limit = 200\n"
                f"in_flow_delay = {a.in_flow_delay}\n")
    try:
        rng = random.Random(rng_seed)
        warm = [make_message(-i - 1, rng) for i in range(20)]
        load(p.port, warm, 4)
        one = [make_message(10_000_000 + i, rng) for i in range(a.single)]
        _, lat1, err1 = load(p.port, one, 1)
        msgs = [make_message(i, rng) for i in range(a.messages)]
        pids = scan_pids()
        each0 = [daemon_bench.proc_cpu(x) for x in pids]
        c0 = cpu_of(pids)
        m0 = daemon_bench.machine_cpu()
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        secs, lat, err = load(p.port, msgs, SESSIONS)
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        m1 = daemon_bench.machine_cpu()
        cpu = cpu_of(pids) - c0
        each = [daemon_bench.proc_cpu(x) - y for x, y in zip(pids, each0)]
        # smtp-source sends one file again and again: a message of the same shape (it adds
        # the CRLFs); wardd's verdict cache keeps no result for it (an attachment of
        # random bytes has no unpacker), so every copy is scanned in full
        src_msg = os.path.join(pdir, "message.eml")
        with open(src_msg, "wb") as f:
            f.write(make_message(20_000_000, rng).replace(b"\r\n", b"\n"))
        hits0 = cache_hits(wardd_sock)
        t0 = time.perf_counter()
        src = subprocess.run(["/usr/sbin/smtp-source", "-s", str(SESSIONS), "-m",
                              str(a.messages), "-F", src_msg, "-d", "-f", "load@example.org",
                              "-t", "bob@example.com", f"127.0.0.1:{p.port}"],
                             capture_output=True, text=True, timeout=1800)
        src_secs = time.perf_counter() - t0
        hits1 = cache_hits(wardd_sock)
        return {
            "setup": name,
            "messages": a.messages,
            "errors": len(err) + len(err1),
            "msgs_per_s": a.messages / secs,
            "p50_ms": daemon_bench.pct(lat, 50) * 1000,
            "p99_ms": daemon_bench.pct(lat, 99) * 1000,
            "single_p50_ms": daemon_bench.pct(lat1, 50) * 1000,
            "single_p99_ms": daemon_bench.pct(lat1, 99) * 1000,
            "scan_cpu_ms_per_msg": cpu / a.messages * 1000,
            # per process: [daemon, milter] for the scanners, [milter] for the null milter
            "cpu_ms_per_msg_each": [e / a.messages * 1000 for e in each],
            # all processes (Postfix, the scanner, the load client): busy share of the machine
            "machine_busy": (m1[0] - m0[0]) / max(1, m1[1] - m0[1]),
            "machine_cpu_ms_per_msg": (m1[0] - m0[0]) / daemon_bench.CLK_TCK / a.messages * 1000,
            # the load client's own CPU (its processes)
            "client_cpu_s": (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime),
            "seconds": secs,
            "smtp_source_msgs_per_s": a.messages / src_secs if src.returncode == 0 else None,
            # the copies smtp-source sent that wardd answered from its cache (should be 0)
            "smtp_source_cache_hits": None if hits0 is None else hits1 - hits0,
        }
    finally:
        p.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--outdir", default=os.path.join(HERE, "out"))
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--single", type=int, default=300, help="messages of the one-session run")
    ap.add_argument("--rounds", type=int, default=1,
                    help="rounds; every other round runs the setups in reverse order, and each "
                    "round's shares are of that round's Postfix alone")
    ap.add_argument("--in-flow-delay", default="0s",
                    help="Postfix's in_flow_delay: with its default 1s, cleanup pauses a "
                    "message for a whole second whenever arrivals outrun the queue manager, "
                    "and the count of such pauses, not the filter, decides the figures")
    ap.add_argument("--null-wait-us", type=int, default=0,
                    help="the null milter waits this long at the end of each message")
    ap.add_argument("--setups", default="none,null-milter,ward-milter,ward-milter-inet,clamav-milter",
                    help="comma-separated setups to run, in this order")
    a = ap.parse_args()
    out = os.path.join(os.path.abspath(a.outdir), "milter")
    os.makedirs(out, exist_ok=True)
    dbdir = os.path.join(os.path.abspath(a.outdir), "db")
    if not os.path.exists(os.path.join(dbdir, "bench.ndb")):
        gen_db.generate(dbdir, 1)
    shutil.copy(os.path.join(ROOT, "db", "ward.ndb"), os.path.join(dbdir, "ward.ndb"))
    threads = 2 * os.cpu_count()
    tmp = tempfile.mkdtemp(prefix="milter_bench.")
    os.chmod(tmp, 0o755)
    clamd_bin = daemon_bench.find_clamd()
    wardd = daemon_bench.Wardd(os.path.join(tmp, "wardd"), dbdir, threads,
                               os.path.join(a.build, "src", "wardd", "wardd"),
                               os.path.join(a.outdir, "cache"))
    clamd = daemon_bench.Clamd(os.path.join(tmp, "clamd"), dbdir, threads, clamd_bin)
    results = []
    milters = []
    try:
        wardd.start()
        clamd.start(timeout=600)
        def ward_milter(name, listen, sock=None, port=None):
            d = os.path.join(tmp, name)
            os.makedirs(d)
            with open(os.path.join(d, "ward.conf"), "w") as f:
                f.write(f"[milter]\nsocket = {listen}\nsocket_mode = 0666\n"
                        f"wardd_socket = {wardd.sock}\npid_file = {d}/pid\n"
                        f"log_file = {d}/log\nlog_level = notice\n")
            m = Milter([os.path.join(a.build, "src", "milter", "ward-milter"), "--foreground",
                        "--config", os.path.join(d, "ward.conf")], sock, d, port)
            milters.append(m)
            return m

        wm_sock = os.path.join(tmp, "ward-milter", "sock")
        wm = ward_milter("ward-milter", f"unix:{wm_sock}", sock=wm_sock)
        # the same over TCP (Postfix's writes then go through the loopback TCP stack)
        wi_port = free_port()
        wi = ward_milter("ward-milter-inet", f"inet:{wi_port}@127.0.0.1", port=wi_port)
        cm_dir = os.path.join(tmp, "clamav-milter")
        os.makedirs(cm_dir)
        cm_sock = os.path.join(cm_dir, "sock")
        with open(os.path.join(cm_dir, "clamav-milter.conf"), "w") as f:
            f.write(f"MilterSocket unix:{cm_sock}\nMilterSocketMode 666\nFixStaleSocket yes\n"
                    f"ClamdSocket unix:{clamd.sock}\nForeground yes\n"
                    f"PidFile {cm_dir}/pid\nTemporaryDirectory {cm_dir}\n"
                    f"LogFile {cm_dir}/log\nOnInfected Reject\nOnFail Defer\n"
                    "AddHeader No\nMaxFileSize 25M\nReadTimeout 120\n")
        cm = Milter(["/usr/sbin/clamav-milter", "-c", os.path.join(cm_dir, "clamav-milter.conf")],
                    cm_sock, cm_dir)
        milters.append(cm)
        nm_dir = os.path.join(tmp, "null-milter")
        os.makedirs(nm_dir)
        nm_bin = os.path.join(nm_dir, "null_milter")
        subprocess.run(["cc", "-O2", "-o", nm_bin, os.path.join(HERE, "null_milter.c"),
                        "-lmilter"], check=True)
        nm_sock = os.path.join(nm_dir, "sock")
        nm = Milter([nm_bin, f"unix:{nm_sock}", str(a.null_wait_us)], nm_sock, nm_dir)
        os.chmod(nm_sock, 0o666)
        milters.append(nm)
        setups = [("none", None, lambda: []),
                  ("null-milter", f"unix:{nm_sock}", lambda: [nm.proc.pid]),
                  ("ward-milter", f"unix:{wm_sock}", lambda: [wardd.pid, wm.proc.pid]),
                  ("ward-milter-inet", f"inet:127.0.0.1:{wi_port}",
                   lambda: [wardd.pid, wi.proc.pid]),
                  ("clamav-milter", f"unix:{cm_sock}", lambda: [clamd.pid, cm.proc.pid])]
        wanted = a.setups.split(",")
        setups = sorted((s for s in setups if s[0] in wanted), key=lambda s: wanted.index(s[0]))
        for r in range(a.rounds):
            for name, spec, pids in (setups if r % 2 == 0 else setups[::-1]):
                res = run_setup(name + f"-{r}", tmp, spec, pids, a, 1000 * r + 7,
                                wardd.sock if name.startswith("ward") else None)
                res["setup"] = name
                res["round"] = r
                results.append(res)
                print(json.dumps(res), flush=True)
    finally:
        for m in milters:
            m.stop()
        wardd.stop()
        clamd.stop()
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    base = {r["round"]: r for r in results if r["setup"] == "none"}
    if not base:
        shutil.rmtree(tmp, ignore_errors=True)
        return
    lines = ["| setup | msgs/s (50 sessions) | vs Postfix alone | p50 / p99 ms | added p50 / p99 ms"
             " | 1 session p50 / p99 ms | added p50 (1 session) | scan CPU ms/msg | smtp-source"
             " msgs/s | errors |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        b = base[r["round"]]
        lines.append(
            f"| {r['setup']} | {r['msgs_per_s']:.0f} | {100 * r['msgs_per_s'] / b['msgs_per_s']:.0f} %"
            f" | {r['p50_ms']:.1f} / {r['p99_ms']:.1f}"
            f" | {r['p50_ms'] - b['p50_ms']:+.1f} / {r['p99_ms'] - b['p99_ms']:+.1f}"
            f" | {r['single_p50_ms']:.2f} / {r['single_p99_ms']:.2f}"
            f" | {r['single_p50_ms'] - b['single_p50_ms']:+.2f}"
            f" | {r['scan_cpu_ms_per_msg']:.2f}"
            f" | {r['smtp_source_msgs_per_s'] or 0:.0f} | {r['errors']} |")
    if a.rounds > 1:
        lines += ["", "Median over the rounds of each setup's share of the same round's Postfix "
                  "alone (both load clients):", "",
                  "| setup | rounds | Python client: median (range) | smtp-source: median (range) |",
                  "|---|---|---|---|"]
        for name in wanted:
            rs = [r for r in results if r["setup"] == name and r["round"] in base]
            if name == "none" or not rs:
                continue
            ours = sorted(r["msgs_per_s"] / base[r["round"]]["msgs_per_s"] for r in rs)
            src = sorted(r["smtp_source_msgs_per_s"] / base[r["round"]]["smtp_source_msgs_per_s"]
                         for r in rs if r["smtp_source_msgs_per_s"]
                         and base[r["round"]]["smtp_source_msgs_per_s"])
            cell = lambda v: (f"{100 * median(v):.0f} % ({100 * v[0]:.0f}-{100 * v[-1]:.0f} %)"
                              if v else "-")
            lines.append(f"| {name} | {len(rs)} | {cell(ours)} | {cell(src)} |")
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
