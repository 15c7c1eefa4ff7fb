"""Shared fixtures for Ward's integration tests.

Tests start the real programs from the build directory (WARD_BUILD_DIR,
default: <repo>/build) on temporary directories. Test data is generated here;
nothing malicious-looking is stored in the repository.
"""
import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILD = pathlib.Path(os.environ.get("WARD_BUILD_DIR", ROOT / "build"))
WARD = BUILD / "src" / "ward" / "ward"
BUNDLED_DB = ROOT / "db"
CORPORA = ROOT.parent / "shared" / "corpora"


def eicar() -> bytes:
    """The 68-byte EICAR test string, assembled so no file holds it whole."""
    head = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$"
    tail = "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
    return (head + tail).encode()


def run(args, *, input=None, timeout=120, check=None, env=None):
    """Run a command, capture text output, never hang past `timeout`."""
    proc = subprocess.run(
        [str(a) for a in args],
        input=input,
        capture_output=True,
        timeout=timeout,
        env=env,
    )
    if check is not None:
        assert proc.returncode == check, (
            f"exit {proc.returncode}, expected {check}\n"
            f"stdout:\n{proc.stdout.decode(errors='replace')}\n"
            f"stderr:\n{proc.stderr.decode(errors='replace')}"
        )
    return proc


@pytest.fixture(scope="session")
def ward_bin():
    if not WARD.exists():
        pytest.fail(f"ward is not built at {WARD} (set WARD_BUILD_DIR)")
    return WARD


@pytest.fixture
def ward(ward_bin, tmp_path):
    """Run `ward ARGS...` with a private cache directory."""
    cache = tmp_path / "cache"
    env = dict(os.environ, XDG_CACHE_HOME=str(cache), HOME=str(tmp_path))

    def _run(*args, **kw):
        kw.setdefault("env", env)
        return run([ward_bin, *args], **kw)

    return _run
