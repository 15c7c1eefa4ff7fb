#!/usr/bin/python3
"""Ward vs clamscan: on-demand scan benchmark (database load, peak RSS, throughput).

Generates the signature database (gen_db.py) and the corpus (gen_corpus.py) from one seed, checks
that both scanners find exactly the planted matches, then runs, in one process and interleaved
round by round so that machine noise hits both alike:

  clamscan            on an empty file, the 64 MiB file, the 2,000 small files
  ward scan -j 1      the same three (warm compile cache)
  ward scan -j 2      the 64 MiB file and the small files
  ward scan -j 1      on the empty file with a cold (empty) compile cache, a few times

Method: every figure is the median over --reps runs of a whole process, timed from the parent
(wall clock), with its peak RSS from wait4().  clamscan cannot report its load time apart from its
scan time (its summary's "Time" includes the load), so:

  load time        = wall time of a scan of an empty file (start-up + database load + exit), both
  clamscan scan    = wall time of the real scan - that load time
  ward scan        = the "Time:" of its summary (which starts after "Database load:"); the ratios
                     use it, and the table also shows ward timed exactly like clamscan (wall -
                     empty-file wall), which agrees but is noisier, ward's scans being ~0.03 s.

Standard library only; outputs go to OUTDIR (default bench/out/).
"""

import argparse
import hashlib
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen_corpus  # noqa: E402
import gen_db  # noqa: E402

MiB = 1 << 20
FOUND_RE = re.compile(r"^(.*): (\S+) FOUND$")


def run(cmd, env, out_path):
    """Run cmd with stdout+stderr to out_path; return (wall s, peak RSS KiB, cpu s, rc, text)."""
    with open(out_path, "wb") as out:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    with open(out_path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    return wall, ru.ru_maxrss, ru.ru_utime + ru.ru_stime, p.returncode, text


def found(text, root):
    """{path relative to the corpus: signature name without .UNOFFICIAL} from scanner output."""
    hits = {}
    for line in text.splitlines():
        m = FOUND_RE.match(line)
        if m:
            path = os.path.relpath(m.group(1), root)
            hits[path] = m.group(2).removesuffix(".UNOFFICIAL")
    return hits


def ward_summary(text):
    load = re.search(r"^Database load: ([0-9.]+) sec", text, re.M)
    scan = re.search(r"^Time: ([0-9.]+) sec", text, re.M)
    return (float(load.group(1)) if load else None, float(scan.group(1)) if scan else None)


def version(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip()
    except OSError as e:
        return f"unavailable ({e})"


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


class Bench:
    def __init__(self, a):
        self.a = a
        self.out = os.path.abspath(a.outdir)
        self.db = os.path.join(self.out, "db")
        self.corpus = os.path.join(self.out, "corpus")
        self.logs = os.path.join(self.out, "logs")
        self.warm = os.path.join(self.out, "cache", "warm")
        self.targets = {
            "empty": os.path.join(self.corpus, "empty", "empty.bin"),
            "large": os.path.join(self.corpus, "large"),
            "small": os.path.join(self.corpus, "small"),
        }
        self.samples = {}  # (engine, target) -> list of dicts

    def env(self, cache_home):
        e = dict(os.environ)
        e["XDG_CACHE_HOME"] = cache_home
        e["LC_ALL"] = "C"
        return e

    def cmd(self, engine, target):
        path = self.targets[target]
        if engine == "clamscan":
            # -i: print infected files only, as ward does without -v.
            return [self.a.clamscan, "-i", "-d", self.db, path]
        jobs = engine.split("-j")[1]
        return [self.a.ward, "scan", "-c", os.path.join(self.out, "ward.conf"), "-j", jobs,
                "-d", self.db, path]

    def one(self, engine, target, cache_home=None, record=True):
        log = os.path.join(self.logs, f"{engine}.{target}.log")
        wall, rss, cpu, rc, text = run(self.cmd(engine, target), self.env(cache_home or self.warm),
                                       log)
        if rc not in (0, 1):
            sys.exit(f"scan_bench: {' '.join(self.cmd(engine, target))} exited {rc}; see {log}")
        s = {"wall": wall, "rss_kib": rss, "cpu": cpu, "rc": rc}
        if engine != "clamscan":
            s["self_load"], s["self_scan"] = ward_summary(text)
        if record:
            self.samples.setdefault((engine, target), []).append(s)
        return s, text

    # -- steps ------------------------------------------------------------------------------

    def generate(self):
        stamp = os.path.join(self.out, "stamp.json")
        h = hashlib.sha256()
        for mod in (gen_db, gen_corpus):  # regenerate when a generator changes
            with open(mod.__file__, "rb") as f:
                h.update(f.read())
        want = {"seed": self.a.seed, "generators": h.hexdigest()}
        try:
            with open(stamp) as f:
                if (json.load(f) == want
                        and os.path.exists(os.path.join(self.corpus, "expected.json"))):
                    print(f"# reusing database and corpus in {self.out} (seed {self.a.seed})",
                          flush=True)
                    return
        except (OSError, ValueError):
            pass
        t0 = time.perf_counter()
        for d in (self.db, self.corpus):
            shutil.rmtree(d, ignore_errors=True)
        gen_db.generate(self.db, self.a.seed)
        gen_corpus.generate(self.corpus, self.a.seed)
        with open(stamp, "w") as f:
            json.dump(want, f)
        print(f"# generated database and corpus in {time.perf_counter() - t0:.1f} s "
              f"(seed {self.a.seed})", flush=True)

    def check(self):
        """Both scanners must report exactly the planted matches (and nothing on the big file)."""
        with open(os.path.join(self.corpus, "expected.json")) as f:
            expected = json.load(f)["matches"]
        for engine in ("clamscan", "ward-j1"):
            for target in ("small", "large"):
                _, text = self.one(engine, target, record=False)
                got = found(text, self.corpus)
                want = expected if target == "small" else {}
                if got != want:
                    missing = sorted(set(want.items()) - set(got.items()))
                    extra = sorted(set(got.items()) - set(want.items()))
                    sys.exit(f"scan_bench: {engine} on {target}: missing {missing}, "
                             f"unexpected {extra}")
        print(f"# detections checked: both scanners report exactly the {len(expected)} planted "
              "matches")

    def measure(self):
        plan = [("clamscan", "empty"), ("clamscan", "large"), ("clamscan", "small"),
                ("ward-j1", "empty"), ("ward-j1", "large"), ("ward-j1", "small"),
                ("ward-j2", "large"), ("ward-j2", "small")]
        for rnd in range(self.a.reps + 1):  # round 0 warms the page cache and is dropped
            for engine, target in plan:
                self.one(engine, target, record=rnd > 0)
            if rnd > 0:
                print(f"# round {rnd}/{self.a.reps} done", flush=True)
        for i in range(self.a.cold_reps):
            cold = os.path.join(self.out, "cache", f"cold-{i}")
            shutil.rmtree(cold, ignore_errors=True)
            os.makedirs(cold)
            s, _ = self.one("ward-j1", "empty", cache_home=cold, record=False)
            self.samples.setdefault(("ward-j1", "cold"), []).append(s)
            shutil.rmtree(cold, ignore_errors=True)

    # -- figures ----------------------------------------------------------------------------

    def med(self, engine, target, key):
        vals = [s[key] for s in self.samples.get((engine, target), []) if s.get(key) is not None]
        return statistics.median(vals) if vals else None

    def spread(self, engine, target, key):
        vals = [s[key] for s in self.samples.get((engine, target), []) if s.get(key) is not None]
        return (min(vals), max(vals)) if vals else (None, None)

    def figures(self):
        large_mib = gen_corpus.LARGE_SIZE / MiB
        n_small = gen_corpus.N_SMALL
        f = {}
        for eng in ("clamscan", "ward-j1", "ward-j2"):
            load = self.med("clamscan" if eng == "clamscan" else "ward-j1", "empty", "wall")
            r = {"load_wall": load}
            for tgt, work in (("large", large_mib), ("small", n_small)):
                w = self.med(eng, tgt, "wall")
                r[f"{tgt}_wall"] = w
                # The same method for both: whole-process wall time minus an empty-file run.
                # Below the noise (possible for ward's ~0.03 s scans) it is left out.
                r[f"{tgt}_scan_wall"] = w - load if w - load > 0.002 else None
                r[f"{tgt}_rss"] = self.med(eng, tgt, "rss_kib") / 1024
                r[f"{tgt}_cpu"] = self.med(eng, tgt, "cpu")
                if eng == "clamscan":
                    r[f"{tgt}_scan"] = r[f"{tgt}_scan_wall"]
                else:
                    r[f"{tgt}_scan"] = self.med(eng, tgt, "self_scan")
                r[f"{tgt}_rate"] = work / r[f"{tgt}_scan"]
                sw = r[f"{tgt}_scan_wall"]
                r[f"{tgt}_rate_wall"] = work / sw if sw else None
            f[eng] = r
        f["clamscan"]["empty_rss"] = self.med("clamscan", "empty", "rss_kib") / 1024
        w = f["ward-j1"]
        w["empty_rss"] = self.med("ward-j1", "empty", "rss_kib") / 1024
        w["self_load_warm"] = self.med("ward-j1", "empty", "self_load")
        w["cold_wall"] = self.med("ward-j1", "cold", "wall")
        w["self_load_cold"] = self.med("ward-j1", "cold", "self_load")
        w["cold_rss"] = self.med("ward-j1", "cold", "rss_kib") / 1024
        return f

    def report(self):
        f = self.figures()
        c, w, w2 = f["clamscan"], f["ward-j1"], f["ward-j2"]
        rows = []  # (label, clamscan, ward -j 1, ratio text, bar)

        def fmt(v, spec):
            return "-" if v is None else spec.format(v)

        def add(label, cv, wv, spec, better=None, note=""):
            """better: 'lower' (time, memory: ratio ward/clamscan, bar < 1), 'higher'
            (throughput: ratio ward/clamscan, bar >= 10 per thread) or None (no ratio)."""
            txt, verdict = "", ""
            if better and cv and wv:
                ratio = wv / cv
                if better == "higher":
                    txt, ok = f"{ratio:.1f}x faster", ratio >= 10
                else:
                    txt, ok = f"{ratio:.2f}x", ratio < 1
                verdict = ("meets" if ok else "MISSES") + (" " + note if note else "")
            rows.append((label, fmt(cv, spec), fmt(wv, spec), txt, verdict))

        add("DB load, warm cache: wall of an empty-file scan (s)", c["load_wall"], w["load_wall"],
            "{:.3f}", "lower")
        add("  ward's own 'Database load:' (s)", None, w["self_load_warm"], "{:.3f}")
        add("DB load, cold cache: wall of an empty-file scan (s)", c["load_wall"], w["cold_wall"],
            "{:.3f}", "lower", "(once per database change)")
        add("  ward's own 'Database load:' (s)", None, w["self_load_cold"], "{:.3f}")
        add("Peak RSS, empty file, warm cache (MiB)", c["empty_rss"], w["empty_rss"], "{:.1f}",
            "lower")
        add("Peak RSS, empty file, cold cache (MiB)", c["empty_rss"], w["cold_rss"], "{:.1f}",
            "lower", "(once per database change)")
        add("Peak RSS, 64 MiB file (MiB)", c["large_rss"], w["large_rss"], "{:.1f}", "lower")
        add("Peak RSS, 2,000 small files (MiB)", c["small_rss"], w["small_rss"], "{:.1f}",
            "lower")
        add("64 MiB file: scan time, load excluded (s) [1]", c["large_scan"], w["large_scan"],
            "{:.3f}")
        add("64 MiB file: throughput (MiB/s) [1]", c["large_rate"], w["large_rate"], "{:.0f}",
            "higher")
        add("  same method for both: (wall - empty-file wall) [2]", c["large_rate"],
            w["large_rate_wall"], "{:.0f}", "higher")
        add("2,000 x 4 KiB: scan time, load excluded (s) [1]", c["small_scan"], w["small_scan"],
            "{:.3f}")
        add("2,000 x 4 KiB: files/s [1]", c["small_rate"], w["small_rate"], "{:.0f}", "higher")
        add("  same method for both: (wall - empty-file wall) [2]", c["small_rate"],
            w["small_rate_wall"], "{:.0f}", "higher")

        notes = [
            "[1] clamscan: wall time minus the wall time of an empty-file scan (its summary's "
            "'Time' includes the load);",
            "    ward: its summary's 'Time:' (starts after the database load; includes thread "
            "start, directory walk, open/read).",
            "[2] ward timed like clamscan; the scan is short next to the run-to-run noise of the "
            "load, so this is the",
            "    noisier figure ('-' when the difference is below the noise).",
        ]

        def x(a, b):
            return f"x{b / a:.2f}" if a and b else "n/a"

        scal = [
            "Scaling, ward -j 1 -> ward -j 2 (ward's own 'Time:'):",
            f"  64 MiB file : {w['large_rate']:.0f} -> {w2['large_rate']:.0f} MiB/s "
            f"({x(w['large_rate'], w2['large_rate'])}; one file is scanned by one thread)",
            f"  2,000 files : {w['small_rate']:.0f} -> {w2['small_rate']:.0f} files/s "
            f"({x(w['small_rate'], w2['small_rate'])})",
            f"  peak RSS    : {w['small_rss']:.1f} -> {w2['small_rss']:.1f} MiB (small files)",
        ]

        lw = max(len(r[0]) for r in rows)
        lines = [f"{'':<{lw}}  {'clamscan':>9}  {'ward -j 1':>9}  {'ward/clamscan':>13}  bar",
                 "-" * (lw + 50)]
        lines += [f"{r[0]:<{lw}}  {r[1]:>9}  {r[2]:>9}  {r[3]:>13}  {r[4]}" for r in rows]
        lines += notes + [""] + scal
        lines += ["", "Spread (min-max wall seconds over the rounds):"]
        for (eng, tgt) in sorted(self.samples):
            lo, hi = self.spread(eng, tgt, "wall")
            n = len(self.samples[(eng, tgt)])
            lines.append(f"  {eng:<9} {tgt:<6} {lo:.3f}-{hi:.3f}  (n={n})")

        self.markdown = ["| | clamscan | ward -j 1 | ward/clamscan | bar |",
                         "|---|---:|---:|---:|---|"]
        self.markdown += [f"| {r[0].strip()} | {r[1]} | {r[2]} | {r[3]} | {r[4]} |"
                          for r in rows]
        self.markdown += [""] + notes + [""] + scal
        return "\n".join(lines), f

    def header(self):
        return "\n".join([
            f"# machine : {cpu_model()}, {os.cpu_count()} logical CPUs, "
            f"{platform.system()} {platform.release()}",
            f"# clamscan: {version([self.a.clamscan, '--version'])}",
            f"# ward    : {version([self.a.ward, 'version'])}",
            f"# database: {gen_db.N_NDB} .ndb + {gen_db.N_HSB} .hsb signatures (seed {self.a.seed})",
            f"# corpus  : 1 x {gen_corpus.LARGE_SIZE // MiB} MiB random file; "
            f"{gen_corpus.N_SMALL} x 4 KiB random files (10 with an .ndb match, 5 with an .hsb "
            "match)",
            f"# method  : median of {self.a.reps} interleaved rounds (+1 warm-up round dropped), "
            f"cold cache median of {self.a.cold_reps};",
            "#           load = wall time of scanning an empty file (both); peak RSS from wait4(); "
            "scan time: see [1], [2]",
            f"# loadavg : {' '.join(f'{v:.2f}' for v in os.getloadavg())} (other work on the "
            "machine adds noise)",
        ])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir", nargs="?", default=os.path.join(HERE, "out"),
                    help="where the database, corpus, caches, logs and results go "
                         "(default bench/out/)")
    ap.add_argument("--ward", default=os.path.join(HERE, "..", "build-bench", "src", "ward",
                                                   "ward"),
                    help="ward binary (default build-bench/src/ward/ward)")
    ap.add_argument("--clamscan", default="/usr/bin/clamscan")
    ap.add_argument("--reps", type=int, default=7, help="measured rounds (default 7)")
    ap.add_argument("--cold-reps", type=int, default=3,
                    help="ward cold-cache starts (default 3)")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    a.ward = os.path.abspath(a.ward)
    for prog in (a.ward, a.clamscan):
        if not os.access(prog, os.X_OK):
            sys.exit(f"scan_bench: {prog} is not an executable (see bench/README.md)")

    b = Bench(a)
    os.makedirs(b.logs, exist_ok=True)
    os.makedirs(b.warm, exist_ok=True)
    with open(os.path.join(b.out, "ward.conf"), "w") as f:
        f.write("# empty: ward's defaults, so that no system configuration is read\n")
    hdr = b.header()
    print(hdr, flush=True)
    b.generate()
    b.check()  # also fills ward's warm compile cache
    t0 = time.perf_counter()
    b.measure()
    table, figs = b.report()
    print(f"# measured in {time.perf_counter() - t0:.0f} s\n")
    print(table)
    with open(os.path.join(b.out, "results.txt"), "w") as f:
        f.write(hdr + "\n\n" + table + "\n")
    with open(os.path.join(b.out, "results.md"), "w") as f:
        f.write("\n".join(b.markdown) + "\n")
    with open(os.path.join(b.out, "results.json"), "w") as f:
        json.dump({"figures": figs,
                   "samples": {f"{e}/{t}": v for (e, t), v in b.samples.items()}}, f, indent=1)


if __name__ == "__main__":
    main()
