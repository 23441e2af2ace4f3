"""Harness for the C ABI tests: the real libstrongroom.so loaded with cffi (ABI mode).

The module is loaded into the pytest process (a Python host), exactly as python-pkcs11
or any ctypes user would load it. C hosts are exercised with pkcs11-tool in
test_c_host.py.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest
from cffi import FFI

from strongroom.abi import build_ffi
from strongroom.modules import client_path, module_path
from strongroom.pkcs11.constants import CKR

REPO = Path(__file__).resolve().parents[2]

_ffi = FFI()
_ffi.cdef(build_ffi.cdef_text())
_ffi.cdef("""
    CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR ppFunctionList);
    CK_RV C_GetInterfaceList(CK_INTERFACE_PTR pInterfacesList, CK_ULONG_PTR pulCount);
    CK_RV C_GetInterface(CK_UTF8CHAR_PTR pInterfaceName, CK_VERSION_PTR pVersion,
                         CK_INTERFACE_PTR_PTR ppInterface, CK_FLAGS flags);
    CK_RV SR_GetTokenUsage(CK_SLOT_ID slotID, SR_TOKEN_USAGE *pUsage);
    CK_RV SR_DeleteToken(CK_SLOT_ID slotID);
""")


class Module:
    """The loaded module: ``ffi``, ``lib`` (exported symbols), ``fl`` (CK_FUNCTION_LIST_3_0*),
    ``fl32`` (CK_FUNCTION_LIST_3_2*), ``fl2`` (CK_FUNCTION_LIST*)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.ffi = _ffi
        self.lib = _ffi.dlopen(str(path))
        pp = _ffi.new("CK_FUNCTION_LIST_PTR *")
        assert self.lib.C_GetFunctionList(pp) == CKR.OK
        self.fl2 = pp[0]
        iface = _ffi.new("CK_INTERFACE_PTR *")
        assert self.lib.C_GetInterface(_ffi.NULL, _ffi.NULL, iface, 0) == CKR.OK
        self.fl = _ffi.cast("CK_FUNCTION_LIST_3_0 *", iface[0].pFunctionList)
        name = _ffi.new("char[]", b"PKCS 11")
        ver = _ffi.new("CK_VERSION *", {"major": 3, "minor": 2})
        assert self.lib.C_GetInterface(_ffi.cast("CK_UTF8CHAR_PTR", name), ver, iface, 0) == CKR.OK
        self.fl32 = _ffi.cast("CK_FUNCTION_LIST_3_2 *", iface[0].pFunctionList)

    def initialize(self) -> None:
        rv = self.fl.C_Initialize(_ffi.NULL)
        if rv == CKR.CRYPTOKI_ALREADY_INITIALIZED:   # e.g. left by an in-process core test
            assert self.fl.C_Finalize(_ffi.NULL) == CKR.OK
            rv = self.fl.C_Initialize(_ffi.NULL)
        assert rv == CKR.OK, hex(rv)

    def finalize(self) -> None:
        self.fl.C_Finalize(_ffi.NULL)


@pytest.fixture(scope="session")
def so_path() -> Path:
    path = module_path()
    if not path.is_file():
        pytest.fail(f"{path} not built: run `pip install -e .` first")
    return path


@pytest.fixture(scope="session")
def module(so_path: Path) -> Module:
    return Module(so_path)


@pytest.fixture
def ck(module: Module, home: Path):
    """The module, initialized with a fresh STRONGROOM_HOME; finalized afterwards."""
    module.finalize()
    module.initialize()
    try:
        yield module
    finally:
        module.finalize()


@pytest.fixture(scope="session")
def client_module() -> Module:
    path = client_path()
    if not path.is_file():
        pytest.skip("libstrongroom-client.so not built")
    return Module(path)


@pytest.fixture(params=["in-process", "service"])
def c(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A user session on a fresh token (ck_support.Ck): through the in-process module, or
    through the client module (same C structs, same calls) to a token service."""
    from ck_support import Ck, open_user_session

    if request.param == "in-process":
        ck = request.getfixturevalue("ck")
        yield Ck(ck, open_user_session(ck))
        return
    sys.path.insert(0, str(REPO / "tests" / "server"))
    from service_support import Service

    from support import make_home  # tests/ (not importable where a child loads this file)

    home = tmp_path / "service-home"
    make_home(home)
    svc = Service(home, tmp_path / "service.sock")
    client = request.getfixturevalue("client_module")
    monkeypatch.setenv("STRONGROOM_SERVICE", f"unix:{svc.socket}")
    try:
        client.finalize()
        client.initialize()
        yield Ck(client, open_user_session(client))
        client.finalize()
    finally:
        svc.stop()


@pytest.fixture
def fresh(module: Module, home: Path):
    """The module, guaranteed NOT initialized at the start of the test."""
    module.finalize()
    yield module
    module.finalize()


# --- a venv with a regular (non-editable) install, for C-host / python-pkcs11 tests ---
@pytest.fixture(scope="session")
def installed_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``python -m venv`` + ``pip install <repo>`` (slow: builds the module from scratch)."""
    root = tmp_path_factory.mktemp("venv")
    src = root / "src"
    shutil.copytree(REPO, src, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "*.so", "*.egg-info", "__pycache__", ".pytest_cache"))
    env_dir = root / "env"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = env_dir / "bin" / "python"
    proc = subprocess.run([str(py), "-m", "pip", "install", "-q", f"{src}[test]"],
                          capture_output=True, text=True, timeout=900)
    if proc.returncode:
        pytest.fail(f"pip install failed:\n{proc.stdout}\n{proc.stderr}")
    shutil.rmtree(src)          # the installed module must not need the source tree
    return env_dir


@pytest.fixture
def clean_env(tmp_path: Path) -> dict[str, str]:
    """An environment with nothing strongroom/Python specific (no PYTHONPATH, no
    PYTHONHOME, no STRONGROOM_*, no venv activation): PATH and a fresh HOME only, so the
    store lands in the XDG default under that HOME."""
    h = tmp_path / "user-home"
    h.mkdir()
    return {"PATH": "/usr/bin:/bin", "HOME": str(h)}
