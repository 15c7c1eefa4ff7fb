#!/usr/bin/env python3
"""Write a small demo tree for scripts/run-demo: clean files and the EICAR
test string, plain and inside a zip, a tar.gz and a MIME message."""
import base64
import gzip
import io
import pathlib
import sys
import tarfile
import zipfile

top = pathlib.Path(sys.argv[1])
eicar = ("X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*").encode()

(top / "docs" / "readme.txt").write_text("Nothing to see here.\n")
(top / "docs" / "report.csv").write_text("a,b,c\n1,2,3\n")
(top / "eicar.com").write_bytes(eicar)

with zipfile.ZipFile(top / "docs" / "invoice.zip", "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("invoice.pdf.exe", eicar)
    z.writestr("notes.txt", "harmless\n")

buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w") as t:
    info = tarfile.TarInfo("payload/eicar.txt")
    info.size = len(eicar)
    t.addfile(info, io.BytesIO(eicar))
(top / "docs" / "backup.tar.gz").write_bytes(gzip.compress(buf.getvalue()))

att = base64.encodebytes(eicar).decode()
(top / "mail" / "message.eml").write_text(
    "From: alice@example.com\nTo: bob@example.com\nSubject: test\nMIME-Version: 1.0\n"
    'Content-Type: multipart/mixed; boundary="b1"\n\n--b1\nContent-Type: text/plain\n\n'
    "See attachment.\n--b1\nContent-Type: application/octet-stream\n"
    'Content-Disposition: attachment; filename="eicar.com"\n'
    "Content-Transfer-Encoding: base64\n\n" + att + "--b1--\n")
