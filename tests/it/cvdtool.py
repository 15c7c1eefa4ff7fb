"""Build ClamAV database containers (.cvd, .cld) signed with test keys, the
way ClamAV's sigtool does: an MD5 of the payload signed with raw RSA in the
512-byte header, and a .info file list signed with RSA-PSS (SHA-256)."""
import gzip
import hashlib
import io
import os
import re
import subprocess
import tarfile

ALPHA = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/"


class Key:
    """An RSA key made with openssl; pem is the public key file for ward."""

    def __init__(self, directory, name, bits):
        self.priv = os.path.join(directory, name + ".key")
        self.pem = os.path.join(directory, name + ".pem")
        subprocess.run(["openssl", "genrsa", "-out", self.priv, str(bits)], check=True,
                       capture_output=True)
        subprocess.run(["openssl", "rsa", "-in", self.priv, "-pubout", "-out", self.pem],
                       check=True, capture_output=True)
        text = subprocess.run(["openssl", "rsa", "-in", self.priv, "-text", "-noout"],
                              check=True, capture_output=True).stdout.decode()

        def field(name):
            m = re.search(name + r":\s*\n((?:\s+[0-9a-f:]+\n)+)", text)
            return int(re.sub(r"[\s:]", "", m.group(1)), 16)

        self.n = field("modulus")
        self.d = field("privateExponent")

    def raw_sign(self, m: int) -> str:
        s = pow(m, self.d, self.n)
        out = ""
        while s:
            out += ALPHA[s & 63]
            s >>= 6
        return out


def pss_encode(digest: bytes) -> int:
    salt = os.urandom(32)
    h = hashlib.sha256(b"\0" * 8 + digest + salt).digest()
    db = b"\0" * (223 - 33) + b"\x01" + salt
    mask = b""
    counter = 0
    while len(mask) < 223:
        mask += hashlib.sha256(h + counter.to_bytes(4, "big")).digest()
        counter += 1
    masked = bytearray(a ^ b for a, b in zip(db, mask[:223]))
    masked[0] &= 0x7F
    return int.from_bytes(bytes(masked) + h + b"\xbc", "big")


def build(path, files: dict, cvd_key: Key, info_key: Key, version=42, cld=False,
          tamper=None):
    """Write a container holding `files` (name -> bytes). `tamper` may be
    'payload' (flip a byte after signing) or 'member' (change a member after
    the .info is signed)."""
    stem = os.path.basename(path).rsplit(".", 1)[0]
    header_fields = f"ClamAV-VDB:25 Nov 2026 12-00 +0000:{version}:{len(files)}:216"
    info = header_fields + ":X:X:test:1795000000\n"
    for name, data in files.items():
        info += f"{name}:{len(data)}:{hashlib.sha256(data).hexdigest()}\n"
    digest = hashlib.sha256(info.encode()).digest()
    info += "DSIG:" + info_key.raw_sign(pss_encode(digest)) + "\n"
    members = dict(files)
    if tamper == "member":
        name = next(iter(members))
        members[name] = members[name] + b"\n"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
        entries = [("COPYING", b"test database\n"), (stem + ".info", info.encode())]
        entries += list(members.items())
        for name, data in entries:
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
    payload = buf.getvalue() if cld else gzip.compress(buf.getvalue())
    md5 = hashlib.md5(payload).digest()
    dsig = cvd_key.raw_sign(int.from_bytes(md5, "big"))
    header = f"{header_fields}:{md5.hex()}:{dsig}:test:1795000000".encode()
    assert len(header) <= 512
    header = header.ljust(512, b" ")
    if tamper == "payload":
        payload = bytearray(payload)
        payload[len(payload) // 2] ^= 0x01
        payload = bytes(payload)
    with open(path, "wb") as f:
        f.write(header + payload)


def cdiff(path, script: bytes, info_key: Key, version: int, tamper=None):
    """Write a .cdiff as ClamAV publishes them: "ClamAV-Diff:VERSION:SIZE:", the
    gzip-compressed script, ':' and an RSA-PSS signature (the .info key) over
    everything before that colon. `tamper='script'` flips a byte after signing."""
    body = f"ClamAV-Diff:{version}:{len(script)}:".encode() + gzip.compress(script)
    digest = hashlib.sha256(body).digest()
    sig = info_key.raw_sign(pss_encode(digest))
    if tamper == "script":
        body = bytearray(body)
        body[len(body) - 10] ^= 0x01
        body = bytes(body)
    with open(path, "wb") as f:
        f.write(body + b":" + sig.encode())
