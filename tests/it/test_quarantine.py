"""The quarantine and backup store through `ward quarantine` and `ward scan`:
byte-exact round trips (empty, small, binary, over 4 GB), tampering, the key,
permissions, filters, limits, sendmail re-delivery, concurrent writers and a
reader, writers killed mid-write, a full disk.

The over-4-GB round trip needs about 10 GB free (encrypted data is not
sparse); it is skipped with the reason when there is less, or when
WARD_SKIP_SLOW=1.
"""
import hashlib
import json
import os
import pathlib
import random
import resource
import shutil
import signal
import stat
import subprocess
import time

import pytest

from conftest import BUNDLED_DB, eicar, run

EICAR_NAME = "Ward.Test.EICAR"


class Store:
    """A private store (ward.conf pointing at tmp/store) and ways to use it."""

    def __init__(self, ward_bin, tmp, extra=""):
        self.bin = ward_bin
        self.tmp = pathlib.Path(tmp)
        self.dir = self.tmp / "store"
        self.conf = self.tmp / "ward.conf"
        self.write_conf(extra)
        self.env = dict(os.environ, XDG_CACHE_HOME=str(self.tmp / "cache"), HOME=str(self.tmp))

    def write_conf(self, extra=""):
        self.conf.write_text(f"[global]\nquarantine_dir = {self.dir}\n{extra}")

    def q(self, *args, check=None, input=None, timeout=120):
        return run([self.bin, "quarantine", "-c", self.conf, *args], check=check, input=input,
                   timeout=timeout, env=self.env)

    def scan(self, *args, check=None):
        return run([self.bin, "scan", "-c", self.conf, "--no-summary", "-d", BUNDLED_DB, *args],
                   check=check, env=self.env)

    def add(self, path, *opts):
        p = self.q("add", *opts, path, check=0)
        return p.stdout.decode().strip()

    def records(self, *filters):
        p = self.q("list", "--json", *filters, check=0)
        return [json.loads(line) for line in p.stdout.decode().splitlines()]

    def object_file(self, oid):
        return self.dir / "objects" / oid[:2] / oid


@pytest.fixture
def store(ward_bin, tmp_path):
    return Store(ward_bin, tmp_path)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                return h.hexdigest()
            h.update(b)


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def all_store_files(store):
    return [p for p in store.dir.rglob("*")]


# ---- ward scan --------------------------------------------------------------


def test_scan_quarantines_and_restore_is_byte_exact(store, tmp_path):
    tree = tmp_path / "tree"
    tree.mkdir()
    victim = tree / "eicar.com"
    victim.write_bytes(eicar())
    victim.chmod(0o640)
    os.utime(victim, (1_600_000_000, 1_600_000_000))
    (tree / "clean.txt").write_text("hello\n")
    p = store.scan("--on-infected=quarantine", tree, check=1)
    out = p.stdout.decode()
    assert f"eicar.com: {EICAR_NAME} FOUND" in out
    assert "quarantined as " in out
    assert not victim.exists() and (tree / "clean.txt").exists()

    [r] = store.records()
    assert r["kind"] == "quarantine" and r["verdict"] == "infected"
    assert r["names"] == [EICAR_NAME]
    assert r["path"] == str(victim)
    assert r["program"] == "ward scan" and r["host"] == os.uname().nodename
    assert r["size"] == 68 and r["sha256"] == hashlib.sha256(eicar()).hexdigest()
    assert r["mode"] == "0640" and r["mtime"] == 1_600_000_000
    # encrypted at rest: the stored bytes are not the file, and no scanner finds it
    obj = store.object_file(r["id"])
    assert eicar() not in obj.read_bytes()
    store.scan(store.dir, check=0)
    # permissions of everything in the store
    assert mode(store.dir) == 0o700
    for f in all_store_files(store):
        assert mode(f) == (0o700 if f.is_dir() else 0o600), f

    show = store.q("show", r["id"][:6], check=0).stdout.decode()
    assert r["id"] in show and str(victim) in show and EICAR_NAME in show

    p = store.q("restore", r["id"], check=0)
    assert f"restored to {victim}" in p.stdout.decode()
    assert victim.read_bytes() == eicar()
    assert mode(victim) == 0o640 and victim.stat().st_mtime == 1_600_000_000
    # never over an existing file without --force
    victim.write_bytes(b"newer")
    p = store.q("restore", r["id"], check=2)
    assert b"exists" in p.stderr and b"--force" in p.stderr
    assert victim.read_bytes() == b"newer"
    store.q("restore", r["id"], "--force", check=0)
    assert victim.read_bytes() == eicar()
    # --to a directory keeps the original name
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    store.q("restore", r["id"], "--to", out_dir, check=0)
    assert (out_dir / "eicar.com").read_bytes() == eicar()


def test_restore_remakes_a_removed_folder(store, tmp_path):
    folder = tmp_path / "gone" / "deeper"
    folder.mkdir(parents=True)
    victim = folder / "eicar.com"
    victim.write_bytes(eicar())
    store.scan("--on-infected=quarantine", victim, check=1)
    [r] = store.records()
    import shutil
    shutil.rmtree(tmp_path / "gone")
    store.q("restore", r["id"], check=0)
    assert victim.read_bytes() == eicar()
    # an explicit destination in a missing folder is an error, nothing made
    p = store.q("restore", r["id"], "--to", tmp_path / "nowhere" / "x.com", check=2)
    assert b"nowhere" in p.stderr
    assert not (tmp_path / "nowhere").exists()


def test_scan_json_names_the_quarantine_id(store, tmp_path):
    f = tmp_path / "x.com"
    f.write_bytes(eicar())
    p = store.scan("--json", "--on-infected=quarantine", f, check=1)
    rec = json.loads(p.stdout.decode().splitlines()[0])
    assert rec["action"] == "quarantine"
    assert rec["quarantine_id"] == store.records()[0]["id"]


def test_backup_before_delete_move_and_exec(store, tmp_path):
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "a.com").write_bytes(eicar())
    p = store.scan("--backup", "--on-infected=delete", tree, check=1)
    assert "backed up as " in p.stdout.decode() and "removed" in p.stdout.decode()
    assert not (tree / "a.com").exists()
    [r] = store.records("--kind", "backup")
    assert r["path"] == str(tree / "a.com")

    moved = tmp_path / "moved"
    moved.mkdir()
    (tree / "b.com").write_bytes(eicar())
    store.scan("--backup", f"--on-infected=move={moved}", tree, check=1)
    assert (moved / "b.com").exists()
    log = tmp_path / "exec.log"
    (tree / "c.com").write_bytes(eicar())
    store.scan("--json", "--backup", f"--on-infected=exec=sh -c 'echo $0 >> {log}' %path%",
               tree, check=1)
    assert log.exists()
    assert len(store.records("--kind", "backup")) == 3
    (tree / "c.com").unlink()
    # copy changes nothing: no backup
    copies = tmp_path / "copies"
    copies.mkdir()
    (tree / "e.com").write_bytes(eicar())
    store.scan("--backup", f"--on-infected=copy={copies}", tree, check=1)
    assert len(store.records("--kind", "backup")) == 3
    (tree / "e.com").unlink()
    # the [scan] backup option does what --backup does
    store.write_conf("[scan]\nbackup = yes\n")
    (tree / "d.com").write_bytes(eicar())
    store.scan("--on-infected=delete", tree, check=1)
    assert len(store.records("--kind", "backup")) == 4
    restored = tmp_path / "restored.com"
    store.q("restore", store.records("--kind", "backup")[-1]["id"], "--to", restored, check=0)
    assert restored.read_bytes() == eicar()


def test_no_action_when_the_store_is_unusable(store, tmp_path):
    f = tmp_path / "e.com"
    f.write_bytes(eicar())
    store.add(f)  # creates the store
    store.dir.chmod(0o755)
    p = store.scan("--backup", "--on-infected=delete", f, check=2)
    assert b"chmod 700" in p.stderr
    assert f.exists()
    p = store.scan("--on-infected=quarantine", f, check=2)
    assert f.exists()


# ---- round trips -------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 68, (1 << 20) - 1, 1 << 20, (1 << 20) + 1,
                                  3 * (1 << 20) + 12345])
def test_round_trip_byte_exact(store, tmp_path, size):
    data = os.urandom(size)
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    oid = store.add(src)
    [r] = store.records()
    assert r["id"] == oid and r["size"] == size
    assert r["sha256"] == hashlib.sha256(data).hexdigest()
    src.unlink()
    store.q("restore", oid, check=0)
    assert src.read_bytes() == data
    out = tmp_path / "export.bin"
    p = store.q("export", oid, "--to", out, check=0)
    assert b"in the clear" in p.stdout
    assert out.read_bytes() == data and mode(out) == 0o600
    p = store.q("export", oid, "--to", "-", check=0)
    assert p.stdout == data


def test_binary_from_standard_input(store):
    data = bytes(range(256)) * 4099 + b"\0\r\n\x1a"
    oid = store.q("add", "-", input=data, check=0).stdout.decode().strip()
    assert store.q("export", oid, "--to", "-", check=0).stdout == data
    [r] = store.records()
    assert r["path"] is None


def test_large_sparse_file_over_4gb(store, tmp_path):
    """Round trip of a 4.5 GB sparse file, with data at both ends and across 4 GiB."""
    if os.environ.get("WARD_SKIP_SLOW") == "1":
        pytest.skip("WARD_SKIP_SLOW=1")
    size = 4 * (1 << 30) + (512 << 20)
    free = shutil.disk_usage(tmp_path).free
    if free < 10 * (1 << 30):
        pytest.skip(f"needs 10 GB free for the encrypted copy and the restore, "
                    f"{free / (1 << 30):.1f} GB free")
    src = tmp_path / "big.img"
    with open(src, "wb") as f:
        f.write(b"head" + os.urandom(4096))
        f.seek(4 * (1 << 30) - 2000)
        f.write(os.urandom(4000))  # across the 4 GiB boundary
        f.truncate(size)
        f.seek(size - 100)
        f.write(os.urandom(100))
    want = sha256(src)
    t0 = time.monotonic()
    oid = store.add(src)
    t1 = time.monotonic()
    [r] = store.records()
    assert r["size"] == size and r["sha256"] == want
    assert store.object_file(oid).stat().st_size > size
    out = tmp_path / "restored.img"
    store.q("restore", oid, "--to", out, check=0, timeout=600)
    t2 = time.monotonic()
    assert out.stat().st_size == size and sha256(out) == want
    print(f"4.5 GB: put {size / (t1 - t0) / 1e6:.0f} MB/s, "
          f"restore {size / (t2 - t1) / 1e6:.0f} MB/s")
    out.unlink()
    src.unlink()
    store.q("delete", oid, check=0)


# ---- tampering, the key, permissions ----------------------------------------------


def test_tampered_object_is_refused_and_nothing_written(store, tmp_path):
    src = tmp_path / "doc.bin"
    data = os.urandom(2 * (1 << 20) + 7)
    src.write_bytes(data)
    oid = store.add(src)
    obj = store.object_file(oid)
    b = bytearray(obj.read_bytes())
    b[len(b) // 2] ^= 1
    obj.write_bytes(bytes(b))
    out = tmp_path / "out.bin"
    p = store.q("restore", oid, "--to", out, check=2)
    assert b"modified" in p.stderr and b"nothing was written" in p.stderr
    assert not out.exists()
    assert sorted(os.listdir(tmp_path)) == sorted(["doc.bin", "store", "ward.conf"])
    p = store.q("export", oid, "--to", "-", check=2)
    assert p.stdout == b""
    p = store.q("verify", check=1)
    assert f"{oid}: ".encode() in p.stdout and b"1 damaged" in p.stdout
    # truncated objects too
    obj.write_bytes(bytes(b[: len(b) - 50]))
    store.q("restore", oid, "--to", out, check=2)
    assert not out.exists()


def test_replaced_or_missing_key(store, tmp_path):
    src = tmp_path / "f.txt"
    src.write_text("keep me")
    oid = store.add(src)
    key = store.dir / "key"
    saved = key.read_bytes()
    assert len(saved) == 32 and mode(key) == 0o600
    key.write_bytes(os.urandom(32))
    out = tmp_path / "out.txt"
    p = store.q("restore", oid, "--to", out, check=2)
    assert b"not the key this store was made with" in p.stderr
    assert not out.exists()
    assert len(store.records()) == 1  # still listed
    store.q("add", src, check=2)  # nothing new under the wrong key
    key.unlink()
    p = store.q("restore", oid, "--to", out, check=2)
    assert b"missing" in p.stderr
    assert not key.exists()  # never silently replaced
    key.write_bytes(saved)
    key.chmod(0o600)
    store.q("restore", oid, "--to", out, check=0)
    assert out.read_text() == "keep me"


def test_key_file_elsewhere(store, tmp_path):
    keydir = tmp_path / "keys"
    keydir.mkdir()
    store.write_conf(f"quarantine_key_file = {keydir}/q.key\n")
    src = tmp_path / "f.txt"
    src.write_text("x")
    oid = store.add(src)
    assert (keydir / "q.key").exists() and not (store.dir / "key").exists()
    assert mode(keydir / "q.key") == 0o600
    store.q("export", oid, "--to", "-", check=0)


def test_permissions_are_checked(store, tmp_path):
    src = tmp_path / "f.txt"
    src.write_text("x")
    store.add(src)
    key = store.dir / "key"
    key.chmod(0o644)
    p = store.q("list", check=2)
    assert b"chmod 600" in p.stderr
    key.chmod(0o600)
    store.dir.chmod(0o750)
    p = store.q("list", check=2)
    assert b"chmod 700" in p.stderr
    store.dir.chmod(0o700)
    store.q("list", check=0)


def test_missing_store_is_not_created_by_readers(store):
    p = store.q("list", check=2)
    assert b"no quarantine" in p.stderr
    assert not store.dir.exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to own files as another user")
def test_root_keeps_a_daemon_users_store_theirs(store, tmp_path):
    src = tmp_path / "f.txt"
    src.write_text("x")
    store.add(src)
    for f in [store.dir, *all_store_files(store)]:
        os.chown(f, 65534, 65534)
    oid = store.add(src)
    for f in [store.dir, *all_store_files(store)]:
        assert f.stat().st_uid == 65534, f
    assert store.object_file(oid).stat().st_uid == 65534


# ---- list, show, delete, purge, limits -------------------------------------------


def test_filters(store, tmp_path):
    msg = tmp_path / "m.eml"
    msg.write_bytes(b"Subject: Invoice\r\n\r\nbody\r\n")
    m = store.add(msg, "--sender", "spam@evil.test", "--recipient", "alice@example.org",
                  "--recipient", "bob@example.org", "--subject", "Invoice",
                  "--message-id", "<1@evil.test>", "--name", "Win.Trojan.Agent")
    f = tmp_path / "doc.pdf"
    f.write_bytes(b"%PDF")
    b = store.add(f, "--kind", "backup", "--verdict", "suspicious", "--name", "Heuristic.PDF")
    ids = lambda *a: [r["id"] for r in store.records(*a)]  # noqa: E731
    assert ids() == [m, b]
    assert ids("--kind", "backup") == [b]
    assert ids("--name", "trojan") == [m]
    assert ids("--sender", "EVIL") == [m]
    assert ids("--recipient", "bob@") == [m]
    assert ids("--recipient", "carol") == []
    assert ids("--path", "doc.pdf") == [b]
    assert ids("--since", "1h") == [m, b]
    assert ids("--since", "2001-01-01") == [m, b]
    assert ids("--since", "2099-01-01T00:00Z") == []
    p = store.q("list", "--since", "yesterday-ish", check=2)
    assert b"duration" in p.stderr
    [r] = store.records("--sender", "evil")
    assert r["recipients"] == ["alice@example.org", "bob@example.org"]
    assert r["subject"] == "Invoice" and r["message_id"] == "<1@evil.test>"
    text = store.q("list", check=0).stdout.decode()
    assert "from <spam@evil.test> to alice@example.org (+1): Invoice" in text
    show = store.q("show", m, check=0).stdout.decode()
    assert "bob@example.org" in show and "<1@evil.test>" in show
    assert json.loads(store.q("show", "--json", m, check=0).stdout)["id"] == m
    p = store.q("show", "zzzz", check=2)
    assert b"not a quarantine id" in p.stderr


def test_delete_and_purge(store, tmp_path):
    f = tmp_path / "f"
    f.write_bytes(b"x" * 100)
    ids = [store.add(f) for _ in range(4)]
    p = store.q("delete", ids[0], ids[1][:8], check=0)
    assert p.stdout.decode().count("deleted") == 2
    assert not store.object_file(ids[0]).exists()
    p = store.q("delete", ids[0], check=2)
    assert b"no object" in p.stderr
    assert [r["id"] for r in store.records()] == ids[2:]
    p = store.q("purge", check=0)  # no limits configured: nothing goes
    assert b"purged 0 objects" in p.stdout
    p = store.q("purge", "--older-than", "2001-01-01", check=0)
    assert b"purged 0 objects" in p.stdout
    time.sleep(1.1)
    p = store.q("purge", "--older-than", "0s", check=0)
    assert b"purged 2 objects" in p.stdout
    assert store.records() == []
    assert os.listdir(store.dir / "tmp") == []


def test_limits_remove_the_oldest_first(store, tmp_path):
    f = tmp_path / "f"
    f.write_bytes(os.urandom(10000))
    one = 56 + 10000 + 17
    store.write_conf(f"quarantine_max_size = {3 * one}\n")
    ids = [store.add(f) for _ in range(5)]
    assert [r["id"] for r in store.records()] == ids[2:]
    assert not store.object_file(ids[0]).exists()
    big = tmp_path / "big"
    big.write_bytes(os.urandom(4 * one))
    p = store.q("add", big, check=2)
    assert b"quarantine_max_size" in p.stderr
    assert [r["id"] for r in store.records()] == ids[2:]
    # by age, enforced by purge
    store.write_conf("quarantine_max_age = 1s\n")
    time.sleep(2.1)
    p = store.q("purge", check=0)
    assert b"purged 3 objects" in p.stdout


def test_config_check_knows_the_options(ward_bin, tmp_path):
    conf = tmp_path / "w.conf"
    conf.write_text("[global]\nquarantine_dir = /var/lib/ward/q\nquarantine_max_size = 2G\n"
                    "quarantine_max_age = 30d\nsendmail_path = /usr/sbin/sendmail\n"
                    "[scan]\non_infected = quarantine\nbackup = yes\n")
    run([ward_bin, "config", "check", conf], check=0)
    conf.write_text("[global]\nquarantine_max_age = soon\n")
    p = run([ward_bin, "config", "check", conf], check=2)
    assert b"quarantine_max_age" in p.stdout


# ---- sendmail -----------------------------------------------------------------


def fake_sendmail(tmp_path, status=0):
    """A stand-in for the local sendmail: records its argv and standard input."""
    script = tmp_path / "sendmail"
    script.write_text(
        "#!/bin/sh\n"
        f"printf '%s\\n' \"$@\" > {tmp_path}/argv\n"
        f"cat > {tmp_path}/stdin\n"
        f"exit {status}\n")
    script.chmod(0o755)
    return script


def test_restore_sendmail_redelivers(store, tmp_path):
    sm = fake_sendmail(tmp_path)
    store.write_conf(f"sendmail_path = {sm}\n")
    msg = b"From: a@b\r\nSubject: hi\r\n\r\n" + os.urandom(3000) + b"\r\n.\r\n"
    src = tmp_path / "m.eml"
    src.write_bytes(msg)
    oid = store.add(src, "--sender", "a@b.test", "--recipient", "x@y.test", "--recipient",
                    "z@y.test", "--subject", "hi")
    p = store.q("restore", oid, "--sendmail", check=0)
    assert b"2 recipients" in p.stdout
    assert (tmp_path / "argv").read_text().splitlines() == [
        "-i", "-f", "a@b.test", "--", "x@y.test", "z@y.test"]
    assert (tmp_path / "stdin").read_bytes() == msg
    # the null sender
    oid2 = store.add(src, "--recipient", "x@y.test")
    store.q("restore", oid2, "--sendmail", check=0)
    assert (tmp_path / "argv").read_text().splitlines()[:3] == ["-i", "-f", "<>"]
    # a file is not a message
    f = store.add(tmp_path / "argv")
    p = store.q("restore", f, "--sendmail", check=2)
    assert b"not a message" in p.stderr


def test_restore_sendmail_failures(store, tmp_path):
    sm = fake_sendmail(tmp_path, status=75)
    store.write_conf(f"sendmail_path = {sm}\n")
    src = tmp_path / "m.eml"
    src.write_bytes(b"Subject: x\r\n\r\nbody\r\n")
    oid = store.add(src, "--sender", "a@b", "--recipient", "c@d")
    p = store.q("restore", oid, "--sendmail", check=2)
    assert b"status 75" in p.stderr
    # a damaged message never reaches sendmail
    fake_sendmail(tmp_path, status=0)
    (tmp_path / "stdin").unlink()
    obj = store.object_file(oid)
    b = bytearray(obj.read_bytes())
    b[-3] ^= 0xff
    obj.write_bytes(bytes(b))
    p = store.q("restore", oid, "--sendmail", check=2)
    assert b"nothing was delivered" in p.stderr
    assert not (tmp_path / "stdin").exists()


# ---- many writers, crashes, a full disk ----------------------------------------------


def test_eight_concurrent_writers_and_a_reader(store, tmp_path):
    files = []
    for i in range(8):
        f = tmp_path / f"w{i}.bin"
        f.write_bytes(os.urandom(50000 + i))
        files.append(f)
    store.add(files[0])  # the store exists before the race
    per = 10
    script = ("for i in $(seq %d); do \"$1\" quarantine -c \"$2\" add \"$3\" > /dev/null "
              "|| exit 1; done" % per)
    writers = [subprocess.Popen(["sh", "-c", script, "sh", str(store.bin), str(store.conf),
                                 str(f)], env=store.env, stderr=subprocess.PIPE)
               for f in files]
    reads = 0
    while any(w.poll() is None for w in writers):
        p = store.q("list", "--json", check=0)
        for line in p.stdout.decode().splitlines():
            json.loads(line)  # every record visible is whole
        reads += 1
        store.q("verify", "--quick", check=0)
    for w in writers:
        assert w.wait(timeout=120) == 0, w.stderr.read().decode()
    recs = store.records()
    assert len(recs) == 1 + 8 * per and reads > 0
    by_size = {f.stat().st_size: sha256(f) for f in files}
    for r in recs:
        assert r["sha256"] == by_size[r["size"]]
    p = store.q("verify", check=0)
    assert f"{1 + 8 * per} objects: {1 + 8 * per} ok".encode() in p.stdout


def test_a_new_store_raced_by_eight_writers_gets_one_key(store, tmp_path):
    f = tmp_path / "f"
    f.write_bytes(os.urandom(1000))
    procs = [subprocess.Popen([store.bin, "quarantine", "-c", store.conf, "add", f],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=store.env)
             for _ in range(8)]
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err.decode()
    assert len(store.records()) == 8
    assert [n for n in os.listdir(store.dir) if n.startswith("key")] == ["key"]
    p = store.q("verify", check=0)
    assert b"8 objects: 8 ok" in p.stdout


def store_state(store):
    objs = sorted(p.name for p in (store.dir / "objects").rglob("*") if p.is_file())
    return objs, sorted(os.listdir(store.dir / "tmp"))


def test_writer_killed_mid_write_leaves_a_consistent_store(store, tmp_path):
    keep = tmp_path / "keep"
    keep.write_bytes(b"kept")
    kept = store.add(keep)
    big = tmp_path / "big"
    with open(big, "wb") as f:
        f.truncate(300 << 20)
    rnd = random.Random(1)
    for round_ in range(6):
        if round_ % 2 == 0:
            # reading a pipe: killed while the object is being written
            w = subprocess.Popen([store.bin, "quarantine", "-c", store.conf, "add", "-"],
                                 stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL, env=store.env)
            try:
                for _ in range(20 + 20 * round_):
                    w.stdin.write(b"\0" * 65536)
            except BrokenPipeError:
                pass
        else:
            # a large file: killed at a random moment (encrypting, syncing, committing)
            w = subprocess.Popen([store.bin, "quarantine", "-c", store.conf, "add", big],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                 env=store.env)
            time.sleep(rnd.uniform(0.02, 0.4))
        w.send_signal(signal.SIGKILL)
        w.wait(timeout=30)
        if w.stdin:
            w.stdin.close()
        recs = store.records()
        objs, tmp = store_state(store)
        # every record has its object; an object without a record is a killed
        # write's, and its intent mark says so
        ids = {r["id"] for r in recs}
        assert ids <= set(objs)
        for o in set(objs) - ids:
            assert f"{o}.put" in tmp
        store.q("verify", "--quick", check=0)
    # what the killed writers left is gone after verify (files younger than a
    # minute are spared in case they are a live writer's: age them)
    old = time.time() - 3600
    for p in [*(store.dir / "objects").rglob("*"), *(store.dir / "tmp").iterdir()]:
        os.utime(p, (old, old))
    p = store.q("verify", check=0)
    recs = store.records()
    objs, tmp = store_state(store)
    assert sorted(r["id"] for r in recs) == objs and tmp == []
    assert kept in objs
    assert b"0 missing, 0 damaged" in p.stdout


def test_full_disk_fails_cleanly(store, tmp_path):
    """A write limit (RLIMIT_FSIZE) stands in for a full disk: the put fails, nothing is left."""
    small = tmp_path / "small"
    small.write_bytes(b"ok")
    store.add(small)
    big = tmp_path / "big"
    big.write_bytes(os.urandom(3 << 20))

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))

    p = subprocess.run([store.bin, "quarantine", "-c", store.conf, "add", big],
                       capture_output=True, env=store.env, preexec_fn=limit, timeout=60)
    assert p.returncode == 2 and b"cannot write the object" in p.stderr
    assert len(store.records()) == 1
    objs, tmp = store_state(store)
    assert len(objs) == 1 and tmp == []
    store.q("verify", check=0)


def test_verify_reports_and_fixes_a_missing_object(store, tmp_path):
    f = tmp_path / "f"
    f.write_bytes(b"data")
    a, b = store.add(f), store.add(f)
    store.object_file(a).unlink()
    p = store.q("verify", check=1)
    assert f"{a}: object file missing".encode() in p.stdout
    p = store.q("restore", a, "--to", tmp_path / "o", check=2)
    assert b"missing" in p.stderr
    store.q("verify", "--fix", check=0)
    assert [r["id"] for r in store.records()] == [b]
    # an object file with no record (a crash at the wrong moment, a stray copy)
    stray = store.dir / "objects" / "00" / "0011223344556677"
    stray.parent.mkdir(exist_ok=True)
    stray.write_bytes(b"x")
    os.utime(stray, (time.time() - 3600,) * 2)
    p = store.q("verify", "--quick", check=0)
    assert b"0011223344556677: removed an object file that had no index entry" in p.stdout
    assert not stray.exists()
