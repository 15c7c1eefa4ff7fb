#!/usr/bin/env python3
"""What an incremental `ward update` transfers: a ~100 MB bundle published,
installed once, then one small file changed and the update run again.

Everything runs on 127.0.0.1: the publisher's tree (`ward db build`) is served
by ward-mirrord, a client installs from it with `ward update`, and a wardd on
the client's database is told to reload after each update while a scanning
loop keeps asking it (every reply must be a verdict, never an error: no
request may see a half-installed database).

Figures: bytes received by `ward update` (its own count: headers and bodies,
all requests) for the first install, the one-file update and a run with
nothing new, with the ratio to the database size; wall time of each; wardd's
reload time after the update; scans answered during the updates and errors.

Usage: bench/update_bench.py [OUTDIR] [--build DIR] [--mb N] [--seed N]
Defaults: bench/out/update, build-bench (else build), 100 MB, seed 1.
Python 3 standard library only.
"""
import argparse
import hashlib
import os
import pathlib
import random
import re
import shutil
import socket
import subprocess
import sys
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_for(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.05)
    raise RuntimeError(f"timed out waiting for {what}")


def can_connect(port=None, path=None):
    try:
        if path:
            s = socket.socket(socket.AF_UNIX)
            s.connect(str(path))
        else:
            s = socket.create_connection(("127.0.0.1", port), timeout=1)
        s.close()
        return True
    except OSError:
        return False


def gen_source(src, mb, seed):
    """Hash signature files adding up to `mb` MB, and one small body-signature file."""
    rnd = random.Random(seed)
    src.mkdir(parents=True)
    target = mb * 1024 * 1024
    written, part = 0, 0
    while written < target:
        lines = []
        size = 0
        while size < 5 * 1024 * 1024 and written + size < target:
            h = hashlib.sha256(rnd.getrandbits(64).to_bytes(8, "little")).hexdigest()
            line = f"{h}:{rnd.randint(1024, 10 << 20)}:Bench.Hash.{part}.{len(lines)}\n"
            lines.append(line)
            size += len(line)
        (src / f"hashes{part:02d}.hsb").write_text("".join(lines))
        written += size
        part += 1
    (src / "small.ndb").write_text("Bench.Small.One:0:*:62656e63682d736d616c6c2d6f6e65\n")
    return written + (src / "small.ndb").stat().st_size


def run(cmd, env=None, check=True):
    t0 = time.monotonic()
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=env,
                       timeout=1800)
    dt = time.monotonic() - t0
    if check and p.returncode not in (0, 1):
        sys.exit(f"failed: {' '.join(map(str, cmd))}\n{p.stdout}\n{p.stderr}")
    return p, dt


def received(p):
    m = re.search(r"(\d+) bytes received", p.stdout)
    return int(m.group(1)) if m else -1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir", nargs="?", default=str(ROOT / "bench" / "out" / "update"))
    ap.add_argument("--build", default=None)
    ap.add_argument("--mb", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    build = pathlib.Path(a.build) if a.build else (
        ROOT / "build-bench" if (ROOT / "build-bench" / "src" / "ward" / "ward").exists()
        else ROOT / "build")
    ward = build / "src" / "ward" / "ward"
    wardd = build / "src" / "wardd" / "wardd"
    mirrord = build / "src" / "mirrord" / "ward-mirrord"
    out = pathlib.Path(a.outdir)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    env = dict(os.environ, XDG_CACHE_HOME=str(out / "xdg"), HOME=str(out))

    total = gen_source(out / "src", a.mb, a.seed)
    keys = out / "keys"
    keys.mkdir()
    run([ward, "db", "keygen", "--secret", keys / "pub.key", "--public", keys / "pub.pub"], env)
    run([ward, "db", "build", "--key", keys / "pub.key", "--version", "1", "--out",
         out / "tree", out / "src"], env)

    port = free_port()
    (out / "mirrord.conf").write_text(
        f"[mirror]\ndir = {out}/tree\nlisten_addr = 127.0.0.1\nlisten_port = {port}\n"
        f"pid_file = {out}/mirrord.pid\nlog_file = {out}/mirrord.log\n")
    procs = [subprocess.Popen([mirrord, "--foreground", "--config", out / "mirrord.conf"])]
    sock = out / "wardd.sock"
    conf = out / "client.conf"
    conf.write_text(
        f"[global]\ndatabase_dir = {out}/client/db\ncache_dir = {out}/client/cache\n"
        f"[wardd]\nsocket = {sock}\npid_file = {out}/wardd.pid\nlog_file = {out}/wardd.log\n"
        f"log_level = info\n[update]\nservers = http://127.0.0.1:{port}\n"
        f"public_keys = {keys}/pub.pub\n")
    (out / "client").mkdir()
    try:
        wait_for(lambda: can_connect(port), 15, "ward-mirrord")
        p1, t1 = run([ward, "update", "--config", conf], env)
        # The engine never reuses what it read of a file written less than two
        # seconds before (its times could still change unseen): a server
        # updated hourly has older files than this bench would.
        time.sleep(2.5)
        procs.append(subprocess.Popen([wardd, "--foreground", "--config", conf],
                                      stderr=subprocess.DEVNULL))
        wait_for(lambda: can_connect(path=sock), 300, "wardd")

        sample = out / "sample.bin"
        sample.write_bytes(b"xx bench-small-two xx")
        stop = threading.Event()
        counts = {"ok": 0, "found": 0, "error": 0}

        def scanner():
            while not stop.is_set():
                s = socket.socket(socket.AF_UNIX)
                s.settimeout(30)
                try:
                    s.connect(str(sock))
                    s.sendall(f"zSCAN {sample}\0".encode())
                    reply = b""
                    while not reply.endswith(b"\0"):
                        b = s.recv(4096)
                        if not b:
                            break
                        reply += b
                finally:
                    s.close()
                key = "found" if b"FOUND" in reply else "ok" if b": OK" in reply else "error"
                counts[key] += 1

        th = threading.Thread(target=scanner, daemon=True)
        th.start()
        # One small file changes: a signature is added.
        small = out / "src" / "small.ndb"
        small.write_text(small.read_text() +
                         "Bench.Small.Two:0:*:62656e63682d736d616c6c2d74776f\n")
        run([ward, "db", "build", "--key", keys / "pub.key", "--version", "2", "--out",
             out / "tree", out / "src"], env)
        p2, t2 = run([ward, "update", "--config", conf], env)
        wait_for(lambda: counts["found"] > 0, 300, "wardd to detect with the new database")
        p3, t3 = run([ward, "update", "--config", conf], env)
        stop.set()
        th.join(timeout=60)
        reloads = re.findall(r"database reloaded: .*load ([\d.]+) s(.*), compile ([\d.]+) s",
                             (out / "wardd.log").read_text())
    finally:
        for pr in reversed(procs):
            pr.terminate()
            pr.wait(timeout=30)

    rows = [("first install", p1, t1), ("one small file changed", p2, t2),
            ("nothing new", p3, t3)]
    print(f"database: {total / 1e6:.1f} MB in {len(list((out / 'src').iterdir()))} files "
          f"(seed {a.seed}); ward {build}")
    print(f"{'update':26} {'received':>14} {'of database':>12} {'time':>8}  result")
    for name, p, t in rows:
        b = received(p)
        print(f"{name:26} {b:>14,} {100.0 * b / total:>11.4f}% {t:>7.2f}s  "
              f"{p.stdout.strip().splitlines()[-1] if p.stdout.strip() else p.stderr.strip()}")
    if reloads:
        print(f"wardd reload after the update: load {reloads[-1][0]} s{reloads[-1][1]}, "
              f"compile {reloads[-1][2]} s")
    print(f"scans during the updates: {counts['ok']} clean, {counts['found']} found, "
          f"{counts['error']} errors")
    ok = received(p2) < total / 100 and counts["error"] == 0
    print("bar (< 1% transferred, no failed scan):", "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
