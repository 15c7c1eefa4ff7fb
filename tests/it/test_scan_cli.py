"""`ward scan` as a user runs it: output, exit codes, options, actions."""
import gzip
import io
import json
import os
import pathlib
import subprocess
import tarfile
import zipfile

import pytest

from conftest import BUILD, BUNDLED_DB, ROOT, eicar, run


def write(path: pathlib.Path, data: bytes) -> pathlib.Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def zip_bytes(members: dict) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


@pytest.fixture
def tree(tmp_path):
    """A small tree: clean files, EICAR plain, in a zip and in a tar.gz."""
    root = tmp_path / "tree"
    write(root / "clean.txt", b"hello\n")
    write(root / "sub" / "data.bin", os.urandom(5000))
    write(root / "eicar.com", eicar())
    write(root / "sub" / "pack.zip", zip_bytes({"docs/readme.txt": b"hi", "bad/e.com": eicar()}))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        info = tarfile.TarInfo("x/eicar.txt")
        info.size = 68
        t.addfile(info, io.BytesIO(eicar()))
    write(root / "deep" / "er" / "arch.tar.gz", gzip.compress(buf.getvalue()))
    return root


def lines(proc):
    return [l for l in proc.stdout.decode().splitlines() if l.strip()]


def test_finds_eicar_in_files_and_containers(ward, tree):
    p = ward("scan", "--no-summary", "-d", BUNDLED_DB, tree, check=1)
    out = sorted(lines(p))
    assert out == sorted([
        f"{tree}/eicar.com: Ward.Test.EICAR FOUND",
        f"{tree}/sub/pack.zip/bad/e.com: Ward.Test.EICAR FOUND",
        f"{tree}/deep/er/arch.tar.gz/x/eicar.txt: Ward.Test.EICAR FOUND",
    ])


def test_clean_tree_exits_zero_with_summary(ward, tmp_path):
    write(tmp_path / "a.txt", b"nothing here")
    p = ward("scan", "-d", BUNDLED_DB, tmp_path / "a.txt", check=0)
    text = p.stdout.decode()
    for field in ("Scanned files: 1", "Infected files: 0", "Not scanned: 0", "Errors: 0",
                  "Time:", "MB/s"):
        assert field in text


def test_trailing_whitespace_still_eicar(ward, tmp_path):
    f = write(tmp_path / "e.txt", eicar() + b"  \r\n\t")
    p = ward("scan", "--no-summary", "-d", BUNDLED_DB, f, check=1)
    assert lines(p) == [f"{f}: Ward.Test.EICAR FOUND"]


def test_stdin(ward):
    p = ward("scan", "--no-summary", "-d", BUNDLED_DB, "-", input=zip_bytes({"e": eicar()}),
             check=1)
    assert lines(p) == ["stdin/e: Ward.Test.EICAR FOUND"]


def test_missing_path_is_an_error(ward, tmp_path):
    p = ward("scan", "--no-summary", "-d", BUNDLED_DB, tmp_path / "nope", check=2)
    assert b"nope" in p.stderr


def test_unreadable_file_is_an_error(ward, tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root can read any file")
    f = write(tmp_path / "secret", b"x")
    f.chmod(0)
    ward("scan", "--no-summary", "-d", BUNDLED_DB, f, check=2)


def test_bad_database_is_an_error(ward, tmp_path):
    db = write(tmp_path / "bad.ndb", b"Broken:0:*:41zz\n")
    p = ward("scan", "-d", db, tmp_path, check=2)
    assert f"{db}:1:".encode() in p.stderr


def test_json_lines(ward, tree):
    p = ward("scan", "--json", "-d", BUNDLED_DB, tree, check=1)
    recs = [json.loads(l) for l in lines(p)]
    summary = [r for r in recs if "summary" in r]
    found = [r for r in recs if "summary" not in r]
    assert len(summary) == 1 and summary[0]["summary"]["infected"] == 3
    assert summary[0]["summary"]["files"] == 5
    byobj = {tuple(r["object"]): r for r in found}
    r = byobj[("pack.zip", "bad", "e.com")] if ("pack.zip", "bad", "e.com") in byobj else \
        byobj[("pack.zip", "bad/e.com")]
    assert r["path"] == f"{tree}/sub/pack.zip"
    assert r["verdict"] == "infected" and r["name"] == "Ward.Test.EICAR"


def test_threads_give_same_results(ward, tree):
    for i in range(30):
        write(tree / "many" / f"f{i}.txt", os.urandom(100))
        write(tree / "many" / f"e{i}.com", eicar())
    one = sorted(lines(ward("scan", "--no-summary", "-j", "1", "-d", BUNDLED_DB, tree)))
    two = sorted(lines(ward("scan", "--no-summary", "-j", "4", "-d", BUNDLED_DB, tree)))
    assert one == two and len(one) == 33


def test_exclude_include_and_file_list(ward, tree, tmp_path):
    p = ward("scan", "--no-summary", "--exclude", r"\.zip$", "--exclude-dir", "/deep$", "-d",
             BUNDLED_DB, tree)
    assert lines(p) == [f"{tree}/eicar.com: Ward.Test.EICAR FOUND"]
    p = ward("scan", "--no-summary", "--include", r"\.zip$", "-d", BUNDLED_DB, tree)
    assert lines(p) == [f"{tree}/sub/pack.zip/bad/e.com: Ward.Test.EICAR FOUND"]
    lst = write(tmp_path / "list.txt", f"{tree}/clean.txt\n{tree}/eicar.com\n".encode())
    p = ward("scan", "--no-summary", "--file-list", lst, "-d", BUNDLED_DB, check=1)
    assert lines(p) == [f"{tree}/eicar.com: Ward.Test.EICAR FOUND"]


def test_limits_report_not_scanned(ward, tree, tmp_path):
    p = ward("scan", "--no-summary", "--max-recursion", "0", "-d", BUNDLED_DB,
             tree / "sub" / "pack.zip", check=1)
    assert "not scanned (limit" in p.stdout.decode()
    p = ward("scan", "--no-summary", "--max-filesize", "10", "-d", BUNDLED_DB,
             tree / "eicar.com", check=1)
    assert "not scanned (limit" in p.stdout.decode()
    bomb = write(tmp_path / "bomb.gz", gzip.compress(b"\0" * (20 << 20)))
    p = ward("scan", "--no-summary", "--max-ratio", "100", "-d", BUNDLED_DB, bomb, check=1)
    assert "not scanned (limit" in p.stdout.decode()
    p = ward("scan", "--no-summary", "--max-filesize", "bogus", "-d", BUNDLED_DB, bomb, check=2)
    assert b"max_filesize" in p.stderr


def test_encrypted_zip_is_not_clean(ward, tmp_path):
    z = tmp_path / "enc.zip"
    # A traditional-PKWARE encrypted zip, made by Info-ZIP's zip.
    try:
        subprocess.run(["zip", "-P", "secret", "-j", str(z), str(write(tmp_path / "e.com", eicar()))],
                       check=True, capture_output=True, timeout=30)
    except (FileNotFoundError, subprocess.CalledProcessError):
        pytest.skip("zip tool not installed")
    p = ward("scan", "--no-summary", "-d", BUNDLED_DB, z, check=1)
    assert "not scanned (encrypted" in p.stdout.decode()


def test_actions_delete_move_copy_exec(ward, tree, tmp_path):
    qdir = tmp_path / "q"
    qdir.mkdir()
    # move: the whole archive moves, and the output says why
    p = ward("scan", "--no-summary", f"--on-infected=move={qdir}", "-d", BUNDLED_DB,
             tree / "sub", check=1)
    out = p.stdout.decode()
    assert not (tree / "sub" / "pack.zip").exists()
    assert (qdir / "pack.zip").exists()
    assert "moved to" in out and "the whole file" in out and "bad/e.com" in out
    # copy keeps the original
    p = ward("scan", "--no-summary", f"--on-infected=copy={qdir}", "-d", BUNDLED_DB,
             tree / "eicar.com", check=1)
    assert (tree / "eicar.com").exists() and (qdir / "eicar.com").exists()
    # exec without a shell: %path% and %name% expand inside words
    log = tmp_path / "exec.log"
    p = ward("scan", "--no-summary",
             f"--on-infected=exec=sh -c 'echo \"$1 $2\" >> {log}' x %path% %name%",
             "-d", BUNDLED_DB, tree / "eicar.com", check=1)
    assert log.read_text().strip() == f"{tree}/eicar.com Ward.Test.EICAR"
    # delete
    p = ward("scan", "--no-summary", "--on-infected=delete", "-d", BUNDLED_DB, tree, check=1)
    assert not (tree / "eicar.com").exists()
    assert not (tree / "deep" / "er" / "arch.tar.gz").exists()
    assert (tree / "clean.txt").exists()
    assert "removed" in p.stdout.decode()
    # bad action spellings are refused before scanning
    p = ward("scan", "--on-infected=move=relative", "-d", BUNDLED_DB, tree, check=2)
    p = ward("scan", f"--on-infected=move={tmp_path}/missing", "-d", BUNDLED_DB, tree, check=2)


def test_log_file_appends(ward, tree, tmp_path):
    log = tmp_path / "report.log"
    ward("scan", "--no-summary", "-l", log, "-d", BUNDLED_DB, tree / "eicar.com", check=1)
    ward("scan", "-l", log, "-d", BUNDLED_DB, tree / "clean.txt", check=0)
    text = log.read_text()
    assert "eicar.com: Ward.Test.EICAR FOUND" in text and "SCAN SUMMARY" in text


def test_config_file_is_used_and_checked(ward, tree, tmp_path):
    conf = write(tmp_path / "w.conf", f"[global]\ndatabase_dir = {BUNDLED_DB}\n"
                 "[scan]\nexclude = eicar\\.com$\n".encode())
    p = ward("scan", "--no-summary", "-c", conf, tree / "eicar.com", check=0)
    assert lines(p) == []
    bad = write(tmp_path / "bad.conf", b"[global]\nmax_filesize = lots\n[scan]\nthreads = -1\n")
    p = ward("scan", "-c", bad, tree, check=2)
    err = p.stderr.decode()
    assert f"{bad}:2: [global] max_filesize" in err and f"{bad}:4: [scan] threads" in err
    p = ward("config", "check", bad, check=2)
    assert "2 problems" in p.stdout.decode()
    ward("config", "check", ROOT / "conf" / "ward.conf", check=0)


def test_config_check_reads_the_user_config(ward, tmp_path):
    users = write(tmp_path / "users.conf", b"[bob@example.com]\naction_av_infected = explode\n"
                  b"[group:x]\nrecipients = ([\nbogus = 1\n")
    conf = write(tmp_path / "w.conf", f"[global]\nuser_config = {users}\n".encode())
    out = ward("config", "check", conf, check=2).stdout.decode()
    assert f"{users}:2: [bob@example.com] action_av_infected" in out
    assert f"{users}:4: [group:x] recipients" in out
    assert f"{users}:5: [group:x] bogus" in out
    assert "3 problems" in out
    write(users, b"[group:x]\nrecipients = .*@example\\.com\naction_av_infected = discard\n")
    ward("config", "check", conf, check=0)
    users.unlink()
    assert "users.conf" in ward("config", "check", conf, check=2).stdout.decode()


def test_installed_tree_needs_no_options(tmp_path):
    """After `meson install`, ward finds its database and config by its prefix."""
    dest = tmp_path / "dest"
    proc = run(["meson", "install", "-C", BUILD, "--destdir", dest, "--quiet"], timeout=300)
    if proc.returncode != 0:
        pytest.fail(proc.stderr.decode())
    wards = list(dest.rglob("bin/ward"))
    assert len(wards) == 1
    target = write(tmp_path / "scan" / "e.com", eicar())
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"))
    p = run([wards[0], "scan", "--no-summary", target], env=env, check=1)
    assert p.stdout.decode().strip() == f"{target}: Ward.Test.EICAR FOUND"
    # the installed default configuration is valid
    confs = list(dest.rglob("ward/ward.conf"))
    assert confs
    run([wards[0], "config", "check", confs[0]], check=0)
