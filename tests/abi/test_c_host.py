"""libstrongroom.so in C hosts (a tiny C program, pkcs11-tool) and in foreign Pythons.

All of these run with a clean environment: no PYTHONPATH / PYTHONHOME / STRONGROOM_*,
so the embedded interpreter must find its home and site-packages on its own.
"""
from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent

needs_tool = pytest.mark.skipif(shutil.which("pkcs11-tool") is None, reason="pkcs11-tool (opensc) not installed")


@pytest.fixture(scope="session")
def c_host(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler")
    exe = tmp_path_factory.mktemp("c_host") / "c_host"
    subprocess.run([cc, "-O2", "-o", str(exe), str(HERE / "c_host.c"), "-ldl", "-lpthread"], check=True)
    return exe


def run(argv: list[str], env: dict[str, str], timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in argv], env=env, capture_output=True, text=True, timeout=timeout)


def _ok(proc: subprocess.CompletedProcess) -> None:
    assert proc.returncode == 0, f"rc={proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"


# --- the module as installed for this test run (editable or not) --------------------------
def test_c_host_info(c_host, so_path, clean_env):
    proc = run([c_host, so_path, "info"], clean_env)
    _ok(proc)
    version, man, _desc, _ = proc.stdout.strip().split("|")
    assert version == "3.0"
    assert man.rstrip(" ") == "strongroom" and len(man) == 32


def test_c_host_fork(c_host, so_path, clean_env):
    """Child: NOT_INITIALIZED until C_Initialize, then works; parent unaffected."""
    _ok(run([c_host, so_path, "fork"], clean_env))


def test_c_host_threads(c_host, so_path, clean_env):
    _ok(run([c_host, so_path, "threads"], clean_env))


def test_c_host_per_call_overhead(c_host, so_path, clean_env):
    """Not a benchmark gate: records the per-call floor (C_GetInfo round trip) in the output."""
    proc = run([c_host, so_path, "bench", "20000"], clean_env)
    _ok(proc)
    ns = float(proc.stdout.strip())
    print(f"C_GetInfo from a C host: {ns:.0f} ns/call")
    assert ns < 1_000_000


@needs_tool
@pytest.mark.parametrize("args", [["-I"], ["-L"], ["-M"], ["--test-fork"]])
def test_pkcs11_tool(so_path, clean_env, args):
    proc = run(["pkcs11-tool", "--module", so_path, *args], clean_env)
    _ok(proc)
    if args == ["-I"]:
        assert "strongroom" in proc.stdout


def _other_pythons() -> list[str]:
    mine = "{}.{}".format(*sys.version_info[:2])
    found = {}
    cands = [shutil.which(f"python3.{m}") for m in range(8, 15)]
    cands += glob.glob(os.path.expanduser("~/.pyenv/versions/3.*/bin/python3"))
    for exe in filter(None, cands):
        try:
            out = subprocess.run([exe, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                                 capture_output=True, text=True, timeout=30).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            continue
        if re.fullmatch(r"3\.\d+", out) and out != mine:
            found.setdefault(out, exe)
    return sorted(found.values())


OTHER_PYTHONS = _other_pythons()

_CTYPES_HOST = """
import ctypes, sys
lib = ctypes.CDLL(sys.argv[1])
print(hex(lib.C_Initialize(None)), hex(lib.C_GetInfo(ctypes.create_string_buffer(128))))
"""


@pytest.mark.skipif(not OTHER_PYTHONS, reason="no Python of another major.minor on this machine")
@pytest.mark.parametrize("python", OTHER_PYTHONS)
def test_other_python_host_is_refused_cleanly(python, so_path, clean_env):
    """A host running another Python X.Y: every call CKR_GENERAL_ERROR, one clear line."""
    proc = run([python, "-c", _CTYPES_HOST, so_path], clean_env)
    _ok(proc)
    assert proc.stdout.split() == ["0x5", "0x5"]
    assert "built for Python {}.{}".format(*sys.version_info[:2]) in proc.stderr
    assert "host process runs Python" in proc.stderr


# --- a regular install into a fresh venv (slow) -------------------------------------------
@pytest.mark.slow
@needs_tool
def test_venv_install_pkcs11_tool(installed_venv, clean_env):
    path = run([installed_venv / "bin" / "strongroom", "module-path"], clean_env)
    _ok(path)
    so = path.stdout.strip()
    assert so.startswith(str(installed_venv)) and so.endswith("/libstrongroom.so")
    for args in (["-I"], ["-L"], ["--test-fork"]):
        _ok(run(["pkcs11-tool", "--module", so, *args], clean_env))


@pytest.mark.slow
def test_venv_install_c_host_fork(installed_venv, c_host, clean_env):
    so = run([installed_venv / "bin" / "strongroom", "module-path"], clean_env).stdout.strip()
    _ok(run([c_host, so, "fork"], clean_env))


@pytest.mark.slow
def test_venv_install_python_pkcs11(installed_venv, clean_env):
    """python-pkcs11 in the venv, run without activating it."""
    code = (
        "import pkcs11, subprocess, sys\n"
        "so = subprocess.check_output([sys.argv[1], 'module-path'], text=True).strip()\n"
        "lib = pkcs11.lib(so)\n"
        "print(lib.manufacturer_id.strip(), lib.cryptoki_version)\n"
        "print(len(lib.get_slots()))\n"
    )
    proc = run([installed_venv / "bin" / "python", "-c", code, installed_venv / "bin" / "strongroom"], clean_env)
    _ok(proc)
    assert proc.stdout.startswith("strongroom")
