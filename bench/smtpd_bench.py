#!/usr/bin/python3
"""Postfix after-queue content filtering: ward-smtpd vs amavisd-new + clamd vs Postfix alone.

One run, one machine, the same signature database for both scanners (the scan benchmark's
10,000 .ndb + 100,000 .hsb of gen_db.py, plus Ward's EICAR line), a private Postfix from Debian
on 127.0.0.1 per setup (tests/it/postfix_peer.py) whose only change between setups is
content_filter:

  postfix        no content filter: one queue pass (Postfix's ceiling on this machine)
  plain-hop      content_filter straight to the reinjection smtpd (a second Postfix): the two
                 queue passes with no filter (the ceiling of any after-queue filter)
  ward-smtpd     content_filter -> ward-smtpd -> wardd (MAILSCAN, the spool as a descriptor)
                 -> reinjection smtpd
  amavisd-new    content_filter -> amavisd-new (Debian's, SpamAssassin off, clamd through
                 its CONTSCAN glue) -> clamd -> reinjection smtpd

Throughput: 20 KB messages with one base64 attachment (bench/milter_bench.py's generator,
every message unique so no verdict cache helps), sent into Postfix by 50 SMTP sessions; the
filter transport runs 50 processes (50 sessions to the filter); messages/s from the first
message sent to the last delivered (discard(8) logs each).

Added latency: the same messages sent straight to the filter (ward-smtpd, amavisd-new) and to
the reinjection smtpd behind it, by 50 sessions and by one; the time from the end of DATA to
the 250 per message, p50 and p99; the filter's added latency is the difference (what Postfix's
smtp client waits for more than it would for a plain smtpd hop).

CPU: user+system seconds of the scanning processes (wardd + ward-smtpd; clamd + amavisd and
its children) per message, from /proc.

Needs root (a private Postfix), postfix, clamav-daemon and amavisd-new; outputs go to
OUTDIR/smtpd/ (default bench/out/smtpd/).
"""

import argparse
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "it"))
import daemon_bench  # noqa: E402
import gen_db  # noqa: E402
from milter_bench import SESSIONS, listening, load, make_message  # noqa: E402
from postfix_peer import Postfix, free_port  # noqa: E402

FILTER_PROCS = 50

# The filter transport; what the filters forward to is a second Postfix instance (the
# reinjection smtpd), the same for every setup, so each path has the same two queue passes.
MASTER = """\
scan unix - - n - {procs} smtp
  -o smtp_send_xforward_command=yes
  -o disable_mime_output_conversion=yes
  -o smtp_data_done_timeout=1200s
"""

AMAVIS_CONF = """\
use strict;
$MYHOME = '{home}';
$TEMPBASE = "$MYHOME/tmp";
$db_home = "$MYHOME/db";
$pid_file = "$MYHOME/amavisd.pid";
$lock_file = "$MYHOME/amavisd.lock";
$daemon_user = 'amavis';
$daemon_group = 'amavis';
$mydomain = 'example.net';
$myhostname = 'mx.example.net';
$max_servers = {procs};
$inet_socket_port = {port};
$inet_socket_bind = '127.0.0.1';
@inet_acl = qw(127.0.0.1);
$forward_method = 'smtp:[127.0.0.1]:{reinject}';
$notify_method = $forward_method;
$do_syslog = 0;
$LOGFILE = "$MYHOME/amavis.log";
$log_level = 0;
@bypass_spam_checks_maps = (1);
@local_domains_maps = (['.example.com']);
$enable_dkim_verification = 0;
$enable_dkim_signing = 0;
$enable_db = 0;
$enable_global_cache = 0;
$final_virus_destiny = D_REJECT;
$final_banned_destiny = D_PASS;
$final_bad_header_destiny = D_PASS;
@av_scanners = (
  ['ClamAV-clamd', \\&ask_daemon, ["CONTSCAN {{}}\\n", "{clamd_sock}"],
   qr/\\bOK$/m, qr/\\bFOUND$/m, qr/^.*?: (?!Infected Archive)(.*) FOUND$/m ],
);
@av_scanners_backup = ();
1;
"""


def wait_port(port, proc, what, timeout=120):
    deadline = time.monotonic() + timeout
    while not listening(port):
        if (proc and proc.poll() is not None) or time.monotonic() > deadline:
            raise SystemExit(f"smtpd_bench: {what} did not start")
        time.sleep(0.1)


class Proc:
    def __init__(self, cmd, workdir, port, what):
        out = open(os.path.join(workdir, "out.log"), "ab")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        wait_port(port, self.proc, what)

    def pids(self):
        return [self.proc.pid] + daemon_bench.descendants(self.proc.pid)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def cpu_of(pids):
    total = 0.0
    for p in pids:
        try:
            total += daemon_bench.proc_cpu(p)
        except OSError:
            pass
    return total


def delivered(postfix):
    return len(re.findall(r"postfix/discard\[\d+\]: \w+: to=<[^>]*>.*status=sent",
                          postfix.maillog()))


def throughput(name, tmp, content_filter, final, msgs, scan_pids, a):
    """final: the Postfix that delivers (None: this one, no filter)."""
    pdir = os.path.join(tmp, "postfix-" + name)
    os.makedirs(pdir)
    cf = f"content_filter = {content_filter}\n" if content_filter else ""
    p = Postfix(pdir, "smtpd-bench", main_extra=(
        cf + "virtual_transport = discard\nsmtpd_client_connection_count_limit = 0\n"
        "smtpd_client_message_rate_limit = 0\ndefault_process_limit = 300\nin_flow_delay = 0\n"
        f"scan_destination_concurrency_limit = {FILTER_PROCS}\n"
        f"scan_initial_destination_concurrency = {FILTER_PROCS}\n"
        "scan_destination_recipient_limit = 1000\n"),
        master_extra=MASTER.format(procs=FILTER_PROCS))
    final = final or p
    try:
        warm = msgs[:20]
        load(p.port, warm, 4)
        deadline = time.monotonic() + 120
        while delivered(final) < len(warm) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        base = delivered(final)
        run = msgs[20:]
        pids = scan_pids()
        c0 = cpu_of(pids)
        m0 = daemon_bench.machine_cpu()
        t0 = time.perf_counter()
        secs_in, _, err = load(p.port, run, SESSIONS)
        deadline = time.monotonic() + a.timeout
        while delivered(final) - base < len(run) and time.monotonic() < deadline:
            time.sleep(0.02)
        secs = time.perf_counter() - t0
        m1 = daemon_bench.machine_cpu()
        cpu = cpu_of(scan_pids()) - c0
        got = delivered(final) - base
        return {
            "setup": name,
            "messages": len(run),
            "delivered": got,
            "errors": len(err),
            "accept_msgs_per_s": len(run) / secs_in,
            "msgs_per_s": got / secs,
            "scan_cpu_ms_per_msg": cpu / len(run) * 1000,
            "machine_cpu_ms_per_msg": (m1[0] - m0[0]) / daemon_bench.CLK_TCK / len(run) * 1000,
        }
    finally:
        p.stop()


def latency(port, msgs, single):
    _, lat, err = load(port, msgs, SESSIONS)
    _, lat1, err1 = load(port, single, 1)
    return {
        "p50_ms": daemon_bench.pct(lat, 50) * 1000,
        "p99_ms": daemon_bench.pct(lat, 99) * 1000,
        "single_p50_ms": daemon_bench.pct(lat1, 50) * 1000,
        "single_p99_ms": daemon_bench.pct(lat1, 99) * 1000,
        "errors": len(err) + len(err1),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--outdir", default=os.path.join(HERE, "out"))
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--amavis-messages", type=int, default=1000,
                    help="fewer for amavisd-new, which is much slower")
    ap.add_argument("--single", type=int, default=200, help="messages of the one-session run")
    ap.add_argument("--timeout", type=float, default=1800, help="longest wait for deliveries")
    ap.add_argument("--setups", default="postfix,plain-hop,ward-smtpd,amavisd-new",
                    help="comma-separated setups to run, in this order (the table needs "
                    "plain-hop)")
    ap.add_argument("--rounds", type=int, default=1,
                    help="throughput rounds; every other round runs the setups in reverse "
                    "order, and each round's shares are of that round's plain hop")
    a = ap.parse_args()
    out = os.path.join(os.path.abspath(a.outdir), "smtpd")
    os.makedirs(out, exist_ok=True)
    dbdir = os.path.join(os.path.abspath(a.outdir), "db")
    if not os.path.exists(os.path.join(dbdir, "bench.ndb")):
        gen_db.generate(dbdir, 1)
    shutil.copy(os.path.join(ROOT, "db", "ward.ndb"), os.path.join(dbdir, "ward.ndb"))
    threads = 2 * os.cpu_count()
    tmp = tempfile.mkdtemp(prefix="smtpd_bench.")
    os.chmod(tmp, 0o755)
    wardd = daemon_bench.Wardd(os.path.join(tmp, "wardd"), dbdir, threads,
                               os.path.join(a.build, "src", "wardd", "wardd"),
                               os.path.join(a.outdir, "cache"))
    clamd = daemon_bench.Clamd(os.path.join(tmp, "clamd"), dbdir, threads,
                               daemon_bench.find_clamd())
    rng = random.Random(11)
    msgs = [make_message(i, rng) for i in range(a.messages + 20)]
    lat_msgs = [make_message(100_000 + i, rng) for i in range(a.messages)]
    single = [make_message(200_000 + i, rng) for i in range(a.single)]
    procs, results, lat = [], [], {}
    try:
        wardd.start()
        clamd.start(timeout=600)
        # the reinjection smtpd for the direct latency runs: a Postfix of its own
        rdir = os.path.join(tmp, "postfix-reinject")
        os.makedirs(rdir)
        rp = Postfix(rdir, "smtpd-bench-r", main_extra=(
            "virtual_transport = discard\nsmtpd_client_connection_count_limit = 0\n"
            "default_process_limit = 300\nin_flow_delay = 0\n"
            "smtpd_authorized_xforward_hosts = 127.0.0.0/8\n"))
        procs.append(rp)
        wdir = os.path.join(tmp, "ward-smtpd")
        os.makedirs(wdir)
        wport = free_port()
        with open(os.path.join(wdir, "ward.conf"), "w") as f:
            f.write(f"[smtp]\nlisten_port = {wport}\nserver_port = {rp.port}\n"
                    f"wardd_socket = {wardd.sock}\npid_file = {wdir}/pid\n"
                    f"log_file = {wdir}/log\nlog_level = warning\n")
        ws = Proc([os.path.join(a.build, "src", "smtpd", "ward-smtpd"), "--foreground",
                   "--config", os.path.join(wdir, "ward.conf")], wdir, wport, "ward-smtpd")
        procs.append(ws)
        adir = os.path.join(tmp, "amavis")
        for d in ("tmp", "db"):
            os.makedirs(os.path.join(adir, d))
        shutil.chown(adir, "amavis", "amavis")
        for d in ("tmp", "db"):
            shutil.chown(os.path.join(adir, d), "amavis", "amavis")
        aport = free_port()
        # amavisd refuses a configuration in a folder its user could write
        aconf = os.path.join(tmp, "amavis-conf")
        os.makedirs(aconf)
        with open(os.path.join(aconf, "amavisd.conf"), "w") as f:
            f.write(AMAVIS_CONF.format(home=adir, procs=FILTER_PROCS, port=aport,
                                       reinject=rp.port, clamd_sock=clamd.sock))
        wanted = a.setups.split(",")
        # only when measured: its 50 Perl children would take CPU from the others' runs
        am = Proc(["/usr/sbin/amavisd", "-c", os.path.join(aconf, "amavisd.conf"), "foreground"],
                  adir, aport, "amavisd-new") if "amavisd-new" in wanted else None
        if am:
            procs.append(am)
        # added latency: straight to the filter vs straight to the smtpd behind it
        load(rp.port, single[:20], 4)
        n_am = min(a.amavis_messages, a.messages)
        for name, port, m, s1 in (("plain-hop", rp.port, lat_msgs, single),
                                  ("ward-smtpd", wport, lat_msgs, single),
                                  ("amavisd-new", aport, lat_msgs[:n_am],
                                   single[:max(20, a.single // 4)])):
            if name in wanted:
                lat[name] = latency(port, m, s1)
                print(name, json.dumps(lat[name]), flush=True)
        # throughput through Postfix: its filter transport, then the reinjection Postfix
        setups = [("postfix", None, lambda: [], msgs),
                  ("plain-hop", f"scan:[127.0.0.1]:{rp.port}", lambda: [], msgs),
                  ("ward-smtpd", f"scan:[127.0.0.1]:{wport}",
                   lambda: [wardd.pid] + ws.pids(), msgs),
                  ("amavisd-new", f"scan:[127.0.0.1]:{aport}",
                   lambda: [clamd.pid] + am.pids(), msgs[:n_am + 20])]
        setups = sorted((x for x in setups if x[0] in wanted), key=lambda x: wanted.index(x[0]))
        for r in range(a.rounds):
            for name, cf, pids, m in (setups if r % 2 == 0 else setups[::-1]):
                res = throughput(f"{name}-{r}", tmp, cf, rp if cf else None, m, pids, a)
                res["setup"], res["round"] = name, r
                results.append(res)
                print(json.dumps(res), flush=True)
    finally:
        for x in reversed(procs):
            x.stop()
        wardd.stop()
        clamd.stop()
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump({"throughput": results, "latency": lat}, f, indent=1)
    rounds = {}
    for r in results:
        rounds.setdefault(r["round"], {})[r["setup"]] = r
    # one row per setup: the median round (by share of that round's plain hop)
    by = {}
    for name in wanted:
        rs = [x for x in results if x["setup"] == name]
        if not rs:
            continue
        if all("plain-hop" in rounds[x["round"]] for x in rs):
            rs.sort(key=lambda x: x["msgs_per_s"] / rounds[x["round"]]["plain-hop"]["msgs_per_s"])
        else:
            rs.sort(key=lambda x: x["msgs_per_s"])
        by[name] = rs[len(rs) // 2]
    if "plain-hop" not in by:
        shutil.rmtree(tmp, ignore_errors=True)
        return
    lines = ["| setup | msgs/s through Postfix | vs two-pass ceiling | scan CPU ms/msg"
             " | machine CPU ms/msg | filter p50 / p99 ms (50 sessions) | added p50 / p99 ms"
             " | 1 session p50 / p99 ms | added p50 (1 session) | errors |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    pl = lat["plain-hop"]
    for r in by.values():
        ceiling = rounds[r["round"]]["plain-hop"]["msgs_per_s"]
        l = lat.get(r["setup"])
        if l and r["setup"] != "plain-hop":
            lt = (f" | {l['p50_ms']:.1f} / {l['p99_ms']:.1f}"
                  f" | {l['p50_ms'] - pl['p50_ms']:+.1f} / {l['p99_ms'] - pl['p99_ms']:+.1f}"
                  f" | {l['single_p50_ms']:.2f} / {l['single_p99_ms']:.2f}"
                  f" | {l['single_p50_ms'] - pl['single_p50_ms']:+.2f}")
        elif l:
            lt = (f" | {l['p50_ms']:.1f} / {l['p99_ms']:.1f} | (base) |"
                  f" {l['single_p50_ms']:.2f} / {l['single_p99_ms']:.2f} | (base)")
        else:
            lt = " | | | |"
        lines.append(f"| {r['setup']} | {r['msgs_per_s']:.0f} | {100 * r['msgs_per_s'] / ceiling:.0f} %"
                     f" | {r['scan_cpu_ms_per_msg']:.2f} | {r['machine_cpu_ms_per_msg']:.2f}{lt}"
                     f" | {r['errors'] + (l or {}).get('errors', 0)} |")
    if a.rounds > 1:
        names = [n for n in by if n != "plain-hop"]
        lines += ["", f"Each round (share of the round's plain hop); the table above shows the "
                  f"median round of each setup:", "",
                  "| round | plain-hop msgs/s | " + " | ".join(names) + " |",
                  "|---|---|" + "---|" * len(names)]
        for k in sorted(rounds):
            rd = rounds[k]
            ph = rd["plain-hop"]["msgs_per_s"]
            lines.append(f"| {k + 1} | {ph:.0f} | " + " | ".join(
                f"{rd[n]['msgs_per_s']:.0f} ({100 * rd[n]['msgs_per_s'] / ph:.0f} %)"
                if n in rd else "" for n in names) + " |")
    if "ward-smtpd" in by and "amavisd-new" in by:
        lines.append("")
        ratios = sorted(rd["ward-smtpd"]["msgs_per_s"] / rd["amavisd-new"]["msgs_per_s"]
                        for rd in rounds.values() if "ward-smtpd" in rd and "amavisd-new" in rd)
        lines.append(f"ward-smtpd / amavisd-new throughput: {ratios[len(ratios) // 2]:.1f}x"
                     + (f" (median of {len(ratios)} rounds, {ratios[0]:.1f}-{ratios[-1]:.1f}x)"
                        if len(ratios) > 1 else ""))
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
