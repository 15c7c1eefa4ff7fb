"""Signed updates end to end, all on 127.0.0.1: `ward db keygen|build|verify`,
`ward update` from ward-mirrord, file:// and plain HTTP servers, a chain of
mirrors, wardd picking up the result, forged, damaged, truncated and hanging
sources, a real tinyproxy, basic auth, and ClamAV .cvd/.cdiff updates."""
import gzip
import http.server
import os
import pathlib
import shutil
import socket
import stat
import subprocess
import threading
import time

import pytest

import cvdtool
from conftest import BUILD, run

MIRRORD = BUILD / "src" / "mirrord" / "ward-mirrord"

# Marker strings: a signature matches a file holding its marker.
MARK1 = b"ward-update-marker-one"
MARK2 = b"ward-update-marker-two"


def ndb(name, marker):
    return f"{name}:0:*:{marker.hex()}\n"


def wait_port(port, proc=None, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("server exited")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


class Mirrord:
    """A ward-mirrord serving `tree` on a free loopback port."""

    def __init__(self, tmp, tree, extra=""):
        from conftest import free_port

        self.tmp = pathlib.Path(tmp)
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.log = self.tmp / "mirrord.log"
        conf = self.tmp / "mirrord.conf"
        conf.write_text(f"[mirror]\ndir = {tree}\nlisten_addr = 127.0.0.1\n"
                        f"listen_port = {self.port}\npid_file = {self.tmp}/mirrord.pid\n"
                        f"log_file = {self.log}\nlog_level = info\n{extra}")
        self.proc = subprocess.Popen([str(MIRRORD), "--foreground", "--config", str(conf)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_port(self.port, self.proc)
        except RuntimeError:
            self.stop()
            raise
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        return self.proc.returncode


@pytest.fixture
def mirrord(tmp_path):
    if not MIRRORD.exists():
        pytest.fail(f"ward-mirrord is not built at {MIRRORD}")
    started = []

    def _start(tree, extra=""):
        m = Mirrord(tmp_path / f"mirrord{len(started)}", tree, extra)
        started.append(m)
        return m

    yield _start
    for m in started:
        m.stop()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a):
        pass


class Server:
    """A plain Python HTTP server on loopback; `handler` may be a custom class."""

    def __init__(self, handler):
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def http_server():
    started = []

    def _start(handler):
        s = Server(handler)
        started.append(s)
        return s

    yield _start
    for s in started:
        s.stop()


def static_handler(root, counter=None):
    class H(QuietHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(root), **kw)

        def do_GET(self):
            if counter is not None:
                counter.append(self.path)
            super().do_GET()

    return H


@pytest.fixture
def pub(ward, tmp_path):
    """A publisher: keys, a source directory and a publishing tree."""

    class Pub:
        key = tmp_path / "keys" / "publisher.key"
        pubkey = tmp_path / "keys" / "publisher.pub"
        src = tmp_path / "src"
        tree = tmp_path / "tree"

        def build(self, version, check=0):
            return ward("db", "build", "--key", self.key, "--version", str(version), "--out",
                        self.tree, self.src, check=check)

    p = Pub()
    p.key.parent.mkdir()
    p.src.mkdir()
    ward("db", "keygen", "--secret", p.key, "--public", p.pubkey, check=0)
    (p.src / "one.ndb").write_text(ndb("Test.Update.One", MARK1))
    (p.src / "big.hdb").write_text("".join(f"{i:032x}:{1000 + i}:Test.Filler.{i}\n"
                                            for i in range(2000)))
    p.build(1)
    return p


def client_conf(path, dbdir, servers, pubkey, extra_update="", extra=""):
    path.write_text(f"[global]\ndatabase_dir = {dbdir}\ncache_dir = {path.parent}/cache\n"
                    f"{extra}[update]\nservers = {servers}\npublic_keys = {pubkey}\n"
                    f"receive_timeout = 5\nconnect_timeout = 5\n{extra_update}")
    return path


def out(p):
    return p.stdout.decode() + p.stderr.decode()


def scan_until(w, path, want, timeout=30):
    """Scan through wardd until the reply contains `want` (a reload is asynchronous)."""
    deadline = time.monotonic() + timeout
    reply = b""
    while time.monotonic() < deadline:
        reply = w.request(f"zSCAN {path}\0".encode())
        if want in reply:
            return reply
        time.sleep(0.2)
    raise AssertionError(f"wardd never answered {want!r}; last reply {reply!r}")


# ---- publishing -------------------------------------------------------------


def test_keygen_build_verify(ward, pub, tmp_path):
    assert stat.S_IMODE(pub.key.stat().st_mode) == 0o600
    p = ward("db", "verify", "--public-key", pub.pubkey, pub.tree, check=0)
    assert "ward version 1: OK, 2 files" in p.stdout.decode()
    # The same version again, or an older one, is refused: a tree never goes back.
    assert "must be greater" in out(pub.build(1, check=2))
    # A changed object is found.
    obj = next((pub.tree / "ward" / "objects").iterdir())
    obj.write_bytes(obj.read_bytes() + b"x")
    p = ward("db", "verify", "--public-key", pub.pubkey, pub.tree, check=2)
    assert "does not match the signed manifest" in out(p)
    # Another key does not verify the tree.
    ward("db", "keygen", "--secret", tmp_path / "o.key", "--public", tmp_path / "o.pub", check=0)
    p = ward("db", "verify", "--public-key", tmp_path / "o.pub", pub.tree, check=2)
    assert "not trusted" in out(p)


def test_minisign_interoperates(ward, pub, tmp_path):
    if not shutil.which("minisign"):
        pytest.skip("minisign is not installed")
    manifest = pub.tree / "ward" / "ward.manifest"
    p = run(["minisign", "-Vm", manifest, "-p", pub.pubkey], check=0)
    assert b"Signature and comment signature verified" in p.stdout
    assert b"bundle:ward\tversion:1" in p.stdout
    # A key minisign made (unencrypted) publishes, and ward verifies it.
    run(["minisign", "-G", "-W", "-p", tmp_path / "m.pub", "-s", tmp_path / "m.key"], check=0)
    tree = tmp_path / "mtree"
    ward("db", "build", "--key", tmp_path / "m.key", "--version", "3", "--out", tree, pub.src,
         check=0)
    ward("db", "verify", "--public-key", tmp_path / "m.pub", tree, check=0)
    # And minisign signs what ward verifies.
    run(["minisign", "-S", "-s", tmp_path / "m.key", "-m", tree / "ward" / "ward.manifest"],
        check=0, input=b"")
    ward("db", "verify", "--public-key", tmp_path / "m.pub", tree, check=0)


# ---- installing ---------------------------------------------------------------


def test_update_from_file_url_current_and_rollback(ward, pub, tmp_path):
    db = tmp_path / "client" / "db"
    db.parent.mkdir()
    conf = client_conf(tmp_path / "client" / "ward.conf", db, f"file://{pub.tree}", pub.pubkey)
    p = ward("update", "--config", conf, check=0)
    assert "installed" in p.stdout.decode() and "2 files downloaded" in p.stdout.decode()
    assert db.is_symlink() and (db / "one.ndb").exists()
    first = os.path.realpath(db)
    p = ward("update", "--config", conf, check=1)
    assert "is current" in p.stdout.decode()
    # A changed small file: only it is downloaded; the big one is hard-linked.
    (pub.src / "one.ndb").write_text(ndb("Test.Update.One", MARK1) + ndb("Test.Update.Two", MARK2))
    pub.build(2)
    p = ward("update", "--config", conf, check=0)
    assert "1 files downloaded, 1 kept" in p.stdout.decode()
    second = os.path.realpath(db)
    assert second != first
    assert os.stat(pathlib.Path(first) / "big.hdb").st_ino == os.stat(db / "big.hdb").st_ino
    assert "Test.Update.Two" in ward("db", "list", db, check=0).stdout.decode()
    p = ward("update", "--config", conf, "--rollback", check=0)
    assert os.path.realpath(db) == first
    assert "Test.Update.Two" not in ward("db", "list", db, check=0).stdout.decode()


def test_plain_directory_becomes_versioned(ward, pub, tmp_path):
    db = tmp_path / "db"
    db.mkdir()
    (db / "local.ndb").write_text(ndb("Test.Local", b"local-marker-xyz"))
    conf = client_conf(tmp_path / "ward.conf", db, f"file://{pub.tree}", pub.pubkey)
    ward("update", "--config", conf, check=0)
    assert db.is_symlink()
    names = ward("db", "list", db, check=0).stdout.decode()
    assert "Test.Local" in names and "Test.Update.One" in names
    assert (tmp_path / "db.versions" / "000000" / "local.ndb").exists()


def test_chain_of_mirrors_reaches_wardd(ward, pub, tmp_path, mirrord, wardd):
    """publisher -> ward-mirrord -> a machine that mirrors -> a client whose wardd
    detects with the new bundle without a restart."""
    top = mirrord(pub.tree)
    mid = tmp_path / "mid"
    mid.mkdir()
    mid_conf = client_conf(mid / "ward.conf", mid / "db", top.url, pub.pubkey,
                           f"mirror_dir = {mid}/mirror\n")
    ward("update", "--config", mid_conf, check=0)
    ward("db", "verify", "--public-key", pub.pubkey, mid / "mirror", check=0)
    low = mirrord(mid / "mirror")

    leaf = tmp_path / "leaf"
    leaf.mkdir()
    leaf_conf = client_conf(leaf / "first.conf", leaf / "db", low.url, pub.pubkey)
    ward("update", "--config", leaf_conf, check=0)
    w = wardd(leaf / "db", extra=f"[update]\nservers = {low.url}\npublic_keys = {pub.pubkey}\n")
    sample = tmp_path / "sample.bin"
    sample.write_bytes(b"padding " + MARK2 + b" padding")
    assert b"OK" in w.request(f"zSCAN {sample}\0".encode())

    (pub.src / "two.ndb").write_text(ndb("Test.Update.Two", MARK2))
    pub.build(2)
    p = ward("update", "--config", mid_conf, check=0)
    assert "1 files downloaded" in p.stdout.decode()
    p = ward("update", "--config", w.conf, check=0)
    assert "1 files downloaded, 2 kept" in p.stdout.decode()
    assert b"Test.Update.Two" in scan_until(w, sample, b"FOUND")
    assert "reloading" in w.log.read_text()
    # the top mirror served the files the middle machine asked for
    assert "GET /ward/objects/" in (top.tmp / "mirrord.log").read_text()


# ---- what must be refused ----------------------------------------------------


def installed_ok(ward, db, wardd_=None):
    names = ward("db", "list", db, check=0).stdout.decode()
    assert "Test.Update.One" in names


@pytest.fixture
def client(ward, pub, tmp_path):
    """A client that installed version 1 from a copy of the publisher's tree."""
    served = tmp_path / "served"
    shutil.copytree(pub.tree, served)
    db = tmp_path / "client" / "db"
    db.parent.mkdir()
    conf = client_conf(tmp_path / "client" / "ward.conf", db, f"file://{served}", pub.pubkey)
    ward("update", "--config", conf, check=0)
    return served, db, conf


def test_forged_signature_refused(ward, pub, client, tmp_path):
    served, db, conf = client
    before = os.path.realpath(db)
    ward("db", "keygen", "--secret", tmp_path / "evil.key", "--public", tmp_path / "evil.pub",
         check=0)
    (pub.src / "one.ndb").write_text(ndb("Test.Update.One", MARK1) + ndb("Evil.Sig", b"evil"))
    ward("db", "build", "--key", tmp_path / "evil.key", "--version", "9", "--out", served,
         pub.src, check=0)
    p = ward("update", "--config", conf, check=2)
    assert "not trusted" in out(p) and "unchanged" in out(p)
    assert os.path.realpath(db) == before
    # a manifest edited after signing
    m = served / "ward" / "ward.manifest"
    shutil.copy(pub.tree / "ward" / "ward.manifest.minisig", str(m) + ".minisig")
    m.write_text(m.read_text().replace("version 9", "version 10"))
    p = ward("update", "--config", conf, check=2)
    assert "does not verify" in out(p)
    assert os.path.realpath(db) == before
    installed_ok(ward, db)


def test_changed_file_refused(ward, pub, client):
    served, db, conf = client
    before = os.path.realpath(db)
    (pub.src / "one.ndb").write_text(ndb("Test.Update.One", MARK1) + ndb("New.Sig", b"newsig"))
    pub.build(2)
    shutil.copytree(pub.tree, served, dirs_exist_ok=True)
    for obj in (served / "ward" / "objects").iterdir():
        if b"New.Sig" in obj.read_bytes():
            obj.write_bytes(obj.read_bytes().replace(b"New.Sig", b"Bad.Sig"))
    p = ward("update", "--config", conf, check=2)
    assert "does not match the signed manifest" in out(p)
    assert os.path.realpath(db) == before
    installed_ok(ward, db)


def test_truncated_download_refused(ward, pub, client, http_server, tmp_path):
    served, db, conf = client
    before = os.path.realpath(db)
    (pub.src / "big.hdb").write_text("".join(f"{i:032x}:{2000 + i}:Test.Filler2.{i}\n"
                                              for i in range(2000)))
    pub.build(2)

    class Truncating(QuietHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(pub.tree), **kw)

        def do_GET(self):
            if "/objects/" not in self.path:
                return super().do_GET()
            data = (pub.tree / self.path.lstrip("/")).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True

    srv = http_server(Truncating)
    conf.write_text(conf.read_text().replace(f"file://{served}", srv.url))
    p = ward("update", "--config", conf, check=2)
    assert "unchanged" in out(p)
    assert os.path.realpath(db) == before
    installed_ok(ward, db)


def test_hanging_server_survived(ward, pub, client, http_server):
    served, db, conf = client
    (pub.src / "one.ndb").write_text(ndb("Test.Update.One", MARK1) + ndb("Test.Update.Two", MARK2))
    pub.build(2)
    hang = socket.socket()
    hang.bind(("127.0.0.1", 0))
    hang.listen(8)  # accepts (the kernel does) and never answers
    try:
        url = f"http://127.0.0.1:{hang.getsockname()[1]}"
        text = conf.read_text().replace(f"file://{served}", url)
        text = text.replace("receive_timeout = 5", "receive_timeout = 2")
        conf.write_text(text)
        t0 = time.monotonic()
        p = ward("update", "--config", conf, check=2, timeout=60)
        assert time.monotonic() - t0 < 30
        assert "timed out" in out(p)
        installed_ok(ward, db)
        # with a good server after it, the update goes through
        good = http_server(static_handler(pub.tree))
        conf.write_text(text.replace(f"servers = {url}", f"servers = {url}, {good.url}"))
        p = ward("update", "--config", conf, check=0, timeout=60)
        assert "Test.Update.Two" in ward("db", "list", db, check=0).stdout.decode()
    finally:
        hang.close()


# ---- proxy and credentials ------------------------------------------------------


def start_tinyproxy(tmp_path, auth=None):
    from conftest import free_port

    exe = shutil.which("tinyproxy")
    if not exe:
        pytest.skip("tinyproxy is not installed")
    port = free_port()
    log = tmp_path / "tinyproxy.log"
    conf = tmp_path / "tinyproxy.conf"
    conf.write_text(f"Port {port}\nListen 127.0.0.1\nTimeout 30\nLogFile \"{log}\"\n"
                    f"LogLevel Info\nMaxClients 20\nAllow 127.0.0.1\n"
                    + (f"BasicAuth {auth[0]} {auth[1]}\n" if auth else ""))
    proc = subprocess.Popen([exe, "-d", "-c", str(conf)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    wait_port(port, proc)
    return proc, port, log


def test_through_tinyproxy(ward, pub, tmp_path, mirrord):
    top = mirrord(pub.tree)
    proc, port, log = start_tinyproxy(tmp_path, auth=("upd", "s3cret"))
    try:
        db = tmp_path / "c1" / "db"
        db.parent.mkdir()
        conf = client_conf(db.parent / "ward.conf", db, top.url, pub.pubkey,
                           f"proxy_addr = 127.0.0.1\nproxy_port = {port}\n")
        p = ward("update", "--config", conf, check=2)  # the proxy wants a password
        assert "407" in out(p) or "HTTP status" in out(p)
        conf.write_text(conf.read_text() + "proxy_username = upd\nproxy_password = s3cret\n")
        ward("update", "--config", conf, check=0)
        seen = log.read_text()
        assert f"127.0.0.1:{top.port}/ward/ward.manifest" in seen
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    # http_proxy from the environment when the configuration names no proxy
    (tmp_path / "env").mkdir()
    proc, port, log = start_tinyproxy(tmp_path / "env")
    try:
        db = tmp_path / "c2" / "db"
        db.parent.mkdir()
        conf = client_conf(db.parent / "ward.conf", db, top.url, pub.pubkey)
        env = dict(os.environ, http_proxy=f"http://127.0.0.1:{port}", no_proxy="",
                   XDG_CACHE_HOME=str(tmp_path / "xdg"), HOME=str(tmp_path))
        ward("update", "--config", conf, check=0, env=env)
        assert "/ward/objects/" in log.read_text()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_mirror_basic_auth(ward, pub, tmp_path, mirrord):
    top = mirrord(pub.tree, "username = mirror\npassword = pa55word\n")
    db = tmp_path / "c" / "db"
    db.parent.mkdir()
    conf = client_conf(db.parent / "ward.conf", db, top.url, pub.pubkey)
    p = ward("update", "--config", conf, check=2)
    assert "401" in out(p)
    base = conf.read_text()
    conf.write_text(base + "username = mirror\npassword = wrong\n")
    assert "401" in out(ward("update", "--config", conf, check=2))
    # credentials from an auth file, which must be private
    auth = tmp_path / "auth"
    auth.write_text("machine 127.0.0.1 login mirror password pa55word\n")
    auth.chmod(0o644)
    conf.write_text(base + f"auth_file = {auth}\n")
    p = ward("update", "--config", conf, check=2)
    assert "must be a regular file of mode 0600" in out(p)
    auth.chmod(0o600)
    ward("update", "--config", conf, check=0)
    conf.write_text(base + "username = mirror\npassword = pa55word\n")
    ward("update", "--config", conf, check=1)


def test_mirrord_http_details(pub, mirrord):
    import urllib.error
    import urllib.request

    m = mirrord(pub.tree)
    url = m.url + "/ward/ward.manifest"
    body = urllib.request.urlopen(url, timeout=10).read()
    assert body == (pub.tree / "ward" / "ward.manifest").read_bytes()
    r = urllib.request.urlopen(urllib.request.Request(url, headers={"Range": "bytes=0-9"}),
                               timeout=10)
    assert r.status == 206 and r.read() == body[:10]
    assert r.headers["Content-Range"] == f"bytes 0-9/{len(body)}"
    lm = r.headers["Last-Modified"]
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(urllib.request.Request(url, headers={"If-Modified-Since": lm}),
                               timeout=10)
    assert e.value.code == 304
    for bad in ["/ward/../../etc/passwd", "/.hidden", "/ward/", "/"]:
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(m.url + bad, timeout=10)
        assert e.value.code == 404
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(urllib.request.Request(url, data=b"x", method="POST"), timeout=10)
    assert e.value.code == 405


# ---- ClamAV databases --------------------------------------------------------


@pytest.fixture(scope="module")
def cvdkeys(tmp_path_factory):
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed")
    d = tmp_path_factory.mktemp("cvdkeys")
    return cvdtool.Key(str(d), "cvd", 1024), cvdtool.Key(str(d), "info", 2048)


DAILY10 = {"daily.ndb": ndb("Daily.Old", b"daily-old-marker").encode()
           + ndb("Daily.Keep", b"daily-keep-marker").encode(),
           "daily.hdb": b"44d88612fea8a8f36de82e1278abb02f:68:Daily.Hash\n"}
DAILY11 = {"daily.ndb": ndb("Daily.New", b"daily-new-marker").encode()
           + ndb("Daily.Keep", b"daily-keep-marker").encode()
           + ndb("Daily.Added", b"daily-added-marker").encode(),
           "daily.hdb": b"44d88612fea8a8f36de82e1278abb02f:68:Daily.Hash\n"}


def make_script(tmp_path, old, new):
    """The .cdiff script between two containers, made by ClamAV's own sigtool."""
    if not shutil.which("sigtool"):
        pytest.skip("sigtool (clamav) is not installed")
    a, b = tmp_path / "diff-a", tmp_path / "diff-b"
    a.mkdir()
    b.mkdir()
    shutil.copy(old, a / "daily.cvd")
    shutil.copy(new, b / "daily.cvd")
    # relative paths: sigtool builds the script's name from them
    p = subprocess.run(["sigtool", "--diff=diff-a/daily.cvd", "diff-b/daily.cvd"],
                       cwd=tmp_path, capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr.decode()
    return next(b.glob("daily-*.script")).read_bytes()


def clamav_client(tmp_path, servers, keys, extra=""):
    cvd, info = keys
    db = tmp_path / "cl" / "db"
    db.parent.mkdir(exist_ok=True)
    conf = db.parent / "ward.conf"
    conf.write_text(f"[global]\ndatabase_dir = {db}\ncache_dir = {db.parent}/cache\n"
                    f"clamav_cvd_key = {cvd.pem}\nclamav_info_key = {info.pem}\n"
                    f"[update]\nservers = {servers}\nservers_only = yes\nbundles =\n"
                    f"clamav_databases = daily\nreceive_timeout = 5\n{extra}")
    return db, conf


def test_clamav_cvd_then_cdiff(ward, tmp_path, cvdkeys, mirrord):
    tree = tmp_path / "cvdtree"
    tree.mkdir()
    old = tmp_path / "v10.cvd"
    new = tmp_path / "v11.cvd"
    (tmp_path / "v10").mkdir()
    (tmp_path / "v11").mkdir()
    cvdtool.build(str(tmp_path / "v10" / "daily.cvd"), DAILY10, *cvdkeys, version=10)
    cvdtool.build(str(tmp_path / "v11" / "daily.cvd"), DAILY11, *cvdkeys, version=11)
    shutil.copy(tmp_path / "v10" / "daily.cvd", old)
    shutil.copy(tmp_path / "v11" / "daily.cvd", new)
    shutil.copy(old, tree / "daily.cvd")
    m = mirrord(tree)
    db, conf = clamav_client(tmp_path, m.url, cvdkeys)
    p = ward("update", "--config", conf, check=0)
    assert (db / "daily.cvd").exists()
    p = ward("update", "--config", conf, check=1)  # If-Modified-Since: nothing new
    assert "is current" in p.stdout.decode()

    script = make_script(tmp_path, old, new)
    cvdtool.cdiff(str(tree / "daily-11.cdiff"), script, cvdkeys[1], 11)
    shutil.copy(new, tree / "daily.cvd")
    p = ward("update", "--config", conf, check=0)
    assert (db / "daily.cld").exists() and not (db / "daily.cvd").exists()
    log = (m.tmp / "mirrord.log").read_text()
    assert "GET /daily-11.cdiff" in log
    # the whole .cvd was fetched once (the first install); later only its header
    whole = [l for l in log.splitlines() if l.endswith("GET /daily.cvd")]
    assert len(whole) == 1, log
    assert "GET /daily.cvd Range: bytes=0-511" in log
    names = ward("db", "list", db, "--config", conf, check=0).stdout.decode()
    assert "Daily.New" in names and "Daily.Added" in names and "Daily.Old" not in names
    info = ward("db", "info", db, "--config", conf, check=0).stdout.decode()
    assert "Version: 11" in info


def test_clamav_forged_cdiff_falls_back_to_cvd(ward, tmp_path, cvdkeys, mirrord):
    tree = tmp_path / "cvdtree"
    tree.mkdir()
    (tmp_path / "v10").mkdir()
    (tmp_path / "v11").mkdir()
    cvdtool.build(str(tmp_path / "v10" / "daily.cvd"), DAILY10, *cvdkeys, version=10)
    cvdtool.build(str(tmp_path / "v11" / "daily.cvd"), DAILY11, *cvdkeys, version=11)
    shutil.copy(tmp_path / "v10" / "daily.cvd", tree / "daily.cvd")
    m = mirrord(tree)
    db, conf = clamav_client(tmp_path, m.url, cvdkeys)
    ward("update", "--config", conf, check=0)
    script = make_script(tmp_path, tmp_path / "v10" / "daily.cvd", tmp_path / "v11" / "daily.cvd")
    cvdtool.cdiff(str(tree / "daily-11.cdiff"), script, cvdkeys[1], 11, tamper="script")
    shutil.copy(tmp_path / "v11" / "daily.cvd", tree / "daily.cvd")
    p = ward("update", "--config", conf, check=0)
    assert "increments failed" in out(p) and "does not verify" in out(p)
    assert (db / "daily.cvd").exists()
    assert "Daily.New" in ward("db", "list", db, "--config", conf, check=0).stdout.decode()
    # a forged .cvd is refused and the old database stays
    before = os.path.realpath(db)
    (tmp_path / "v12").mkdir()
    cvdtool.build(str(tmp_path / "v12" / "daily.cvd"), DAILY11, *cvdkeys, version=12,
                  tamper="payload")
    shutil.copy(tmp_path / "v12" / "daily.cvd", tree / "daily.cvd")
    (tree / "daily-11.cdiff").unlink()
    p = ward("update", "--config", conf, check=2)
    assert os.path.realpath(db) == before


def test_clamav_429_cools_down(ward, tmp_path, cvdkeys, http_server):
    hits = []

    class TooMany(QuietHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(429)
            self.send_header("Retry-After", "3600")
            self.send_header("Content-Length", "0")
            self.end_headers()

    srv = http_server(TooMany)
    db, conf = clamav_client(tmp_path, srv.url, cvdkeys)
    p = ward("update", "--config", conf, check=2)
    assert "429" in out(p)
    n = len(hits)
    p = ward("update", "--config", conf, check=2)
    assert "cool-down" in out(p)
    assert len(hits) == n  # not asked again


def test_wardd_runs_updates_itself(ward, pub, tmp_path, mirrord, wardd):
    top = mirrord(pub.tree)
    db = tmp_path / "c" / "db"
    db.parent.mkdir()
    conf = client_conf(db.parent / "ward.conf", db, top.url, pub.pubkey)
    ward("update", "--config", conf, check=0)
    (pub.src / "two.ndb").write_text(ndb("Test.Update.Two", MARK2))
    pub.build(2)
    # update_period: the first run comes a few seconds after the start
    w = wardd(db, extra=f"[update]\nservers = {top.url}\npublic_keys = {pub.pubkey}\n"
                        "update_period = 60\n")
    sample = tmp_path / "sample.bin"
    sample.write_bytes(MARK2)
    assert b"Test.Update.Two" in scan_until(w, sample, b"FOUND", timeout=40)
    assert "update: running" in w.log.read_text()
