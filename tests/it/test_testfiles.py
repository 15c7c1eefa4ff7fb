"""ClamAV's own test files (Debian package clamav-testfiles): 44 harmless
files that wrap the same 544-byte clam.exe in archives, packers, documents
and mail formats. One whole-file hash signature finds them all in clamscan."""
import pathlib

import pytest

from conftest import run

TESTFILES = pathlib.Path("/usr/share/clamav-testfiles")
SIGNATURE = "71e7b604d18aefd839e51a39c88df8383bb4c071dc31f87f00a2b5df580d4495:544:ClamAV-Test-File\n"

# Every file whose container the engine covers must be found.
REQUIRED = [
    "clam.exe", "clam.zip", "clam.bz2.zip", "clam.7z", "clam.cab", "clam.tar.gz",
    "clam.bin-be.cpio", "clam.bin-le.cpio", "clam.newc.cpio", "clam.odc.cpio",
    "clam.exe.bz2", "clam.mail", "clam.exe.mbox.base64", "clam.exe.mbox.uu",
]


@pytest.fixture(scope="module")
def results(tmp_path_factory, ward_bin):
    if not TESTFILES.is_dir():
        pytest.skip("clamav-testfiles is not installed")
    tmp = tmp_path_factory.mktemp("testfiles")
    db = tmp / "test.hsb"
    db.write_text(SIGNATURE)
    env = {"XDG_CACHE_HOME": str(tmp / "cache"), "PATH": "/usr/bin:/bin"}
    p = run([ward_bin, "scan", "--no-summary", "-d", db, TESTFILES], env=env)
    found, not_scanned = set(), {}
    for line in p.stdout.decode().splitlines():
        path, _, verdict = line.partition(": ")
        top = pathlib.Path(path).relative_to(TESTFILES).parts[0]
        if verdict.endswith(" FOUND"):
            assert verdict == "ClamAV-Test-File.UNOFFICIAL FOUND"
            found.add(top)
        elif verdict.startswith("not scanned"):
            not_scanned[top] = verdict
    total = len([f for f in TESTFILES.iterdir() if f.is_file()])
    lines = [f"clamav-testfiles: ward found {len(found)} of {total}"]
    lines += [f"  not scanned: {n}: {not_scanned[n]}" for n in sorted(not_scanned)]
    lines += [f"  not found: {f.name}" for f in sorted(TESTFILES.iterdir())
              if f.is_file() and f.name not in found and f.name not in not_scanned]
    return found, not_scanned, p.returncode, lines


@pytest.mark.parametrize("name", REQUIRED)
def test_required_file_is_found(results, name):
    found = results[0]
    assert name in found


def test_exit_status_says_found(results, capsys):
    with capsys.disabled():  # the count is part of the report, whatever pytest captures
        print("\n" + "\n".join(results[3]))
    assert results[2] == 1


def test_unreadable_members_are_reported_not_scanned(results):
    """A file Ward cannot unpack fully says why; it is never silently clean."""
    not_scanned = results[1]
    for name, verdict in not_scanned.items():
        reason = verdict[len("not scanned ("):].split(":")[0].rstrip(")")
        assert reason in {"encrypted", "limit", "corrupted", "error"}, (name, verdict)
