"""`ward db` and database loading: kinds, skipped kinds, errors, containers."""
import hashlib
import shutil

import pytest

import cvdtool
from conftest import BUNDLED_DB, eicar


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed")
    d = tmp_path_factory.mktemp("keys")
    return cvdtool.Key(str(d), "cvd", 1024), cvdtool.Key(str(d), "info", 2048)


def mixed_dir(tmp_path):
    d = tmp_path / "db"
    d.mkdir()
    md5 = hashlib.md5(b"hash me").hexdigest()
    (d / "a.hdb").write_text(f"{md5}:7:Test.Hash\n")
    (d / "b.ndb").write_text("Test.Body:0:*:6576696c626f6479\nTest.PeOnly:1:EP+10:41424344\n")
    (d / "c.ldb").write_text("Test.Logic;Engine:51-255,Target:0;0&1;6c6f676963;7a7a7a\n")
    (d / "d.cbc").write_text("bytecode\n")
    (d / "e.pdb").write_text("R:example.com\nR:example.org\n")
    (d / "notes.txt").write_text("ignored\n")
    return d


def test_info_counts_loaded_and_skipped(ward, tmp_path):
    d = mixed_dir(tmp_path)
    p = ward("db", "info", d, check=0)
    out = p.stdout.decode()
    rows = {l.split()[0]: l.split()[1:] for l in out.splitlines()
            if len(l.split()) == 3 and l.split()[1].isdigit()}
    assert rows["hdb"] == ["1", "0"]
    assert rows["ndb"] == ["1", "1"]  # the entry-point signature waits for PE support
    assert rows["ldb"] == ["1", "0"]
    assert rows["cbc"] == ["0", "1"]
    assert rows["pdb"] == ["0", "2"]
    assert "Files of unknown kind: 1" in out


def test_list_names(ward, tmp_path):
    d = mixed_dir(tmp_path)
    p = ward("db", "list", d, check=0)
    names = set(p.stdout.decode().split())
    assert {"Test.Hash.UNOFFICIAL", "Test.Body.UNOFFICIAL", "Test.Logic.UNOFFICIAL"} <= names
    p = ward("db", "list", BUNDLED_DB, check=0)
    assert p.stdout.decode().split() == ["Ward.Test.EICAR"]


def test_check_reports_every_error(ward, tmp_path):
    d = tmp_path / "bad"
    d.mkdir()
    (d / "x.ndb").write_text("Ok:0:*:41424344\nBad1:0:*:41zz\nOk2:0:*:45464748\nBad2:0:*\n")
    (d / "y.hdb").write_text("zzzz:1:Bad3\n")
    p = ward("db", "check", d, check=2)
    err = p.stderr.decode()
    assert f"{d}/x.ndb:2:" in err and f"{d}/x.ndb:4:" in err and f"{d}/y.hdb:1:" in err
    (d / "x.ndb").write_text("Ok:0:*:41424344\n")
    (d / "y.hdb").write_text("")
    p = ward("db", "check", d, check=0)
    assert "OK" in p.stdout.decode()


def conf_with_keys(tmp_path, keys, db):
    cvd, info = keys
    c = tmp_path / "ward.conf"
    c.write_text(f"[global]\ndatabase_dir = {db}\nclamav_cvd_key = {cvd.pem}\n"
                 f"clamav_info_key = {info.pem}\n")
    return c


def test_signed_cvd_loads_and_detects(ward, tmp_path, keys):
    d = tmp_path / "db"
    d.mkdir()
    files = {"daily.ndb": b"Test.Cvd:0:*:6576696c626f6479\n",
             "daily.hsb": (hashlib.sha256(eicar()).hexdigest() + ":68:Test.CvdHash\n").encode()}
    cvdtool.build(str(d / "daily.cvd"), files, *keys, version=77)
    conf = conf_with_keys(tmp_path, keys, d)
    p = ward("db", "info", "-c", conf, check=0)
    assert "Version: 77" in p.stdout.decode()
    target = tmp_path / "t.bin"
    target.write_bytes(b"xx evilbody xx")
    p = ward("scan", "--no-summary", "-c", conf, target, check=1)
    # names from a signed container carry no .UNOFFICIAL mark
    assert p.stdout.decode().strip() == f"{target}: Test.Cvd FOUND"


def test_forged_or_damaged_cvd_is_refused(ward, tmp_path, keys):
    files = {"main.ndb": b"Test.Cvd:0:*:6576696c626f6479\n"}
    for tamper in ("payload", "member"):
        d = tmp_path / tamper
        d.mkdir()
        cvdtool.build(str(d / "main.cvd"), files, *keys, tamper=tamper)
        conf = conf_with_keys(tmp_path, keys, d)
        p = ward("db", "info", "-c", conf, check=2)
        assert b"main.cvd" in p.stderr
    # signed by someone else: ClamAV's own key (the default) rejects it
    d = tmp_path / "other"
    d.mkdir()
    cvdtool.build(str(d / "main.cvd"), files, *keys)
    p = ward("db", "info", d, check=2)
    assert b"signature" in p.stderr


def test_cld_is_read_and_newer_wins(ward, tmp_path, keys):
    d = tmp_path / "db"
    d.mkdir()
    cvdtool.build(str(d / "daily.cvd"), {"daily.ndb": b"Old.Sig:0:*:6f6c646f6c64\n"}, *keys,
                  version=10)
    cvdtool.build(str(d / "daily.cld"), {"daily.ndb": b"New.Sig:0:*:6e65776e6577\n"}, *keys,
                  version=11, cld=True)
    conf = conf_with_keys(tmp_path, keys, d)
    p = ward("db", "list", "-c", conf, check=0)
    assert p.stdout.decode().split() == ["New.Sig"]
    p = ward("db", "info", "-c", conf, check=0)
    assert "Version: 11" in p.stdout.decode()


def test_second_start_uses_compiled_cache(ward, tmp_path):
    d = mixed_dir(tmp_path)
    first = ward("db", "info", d, check=0).stdout.decode()
    second = ward("db", "info", d, check=0).stdout.decode()
    assert "(from cache)" not in first and "(from cache)" in second
