"""One fresh token per test module, on strongroom's module and on SoftHSM2: every API
test runs against both with the same code (the `backend` fixture is parametrised).

python-pkcs11 keeps one loaded library per module path in the process (and 0.10 keeps
a function list per library, so both modules live side by side). Each module reads its
configuration (STRONGROOM_HOME / SOFTHSM2_CONF) at C_Initialize, so a backend points the
environment at a fresh directory and re-initialises its library before creating the token.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from support import SO_PIN, USER_PIN, make_home

SOFTHSM = "/usr/lib/softhsm/libsofthsm2.so"
LABEL = "api-test"


@dataclass
class Backend:
    name: str
    module: str
    label: str
    home: Path

    def open(self, target: str | None = None, **kw):
        import strongroom

        kw.setdefault("module", self.module)
        return strongroom.open(self.label if target is None else target, **kw)

    def user(self):
        """A logged-in user session on the test token."""
        return self.open(pin=USER_PIN)


def _strongroom(tmp: Path, mp: pytest.MonkeyPatch) -> str:
    from strongroom.modules import module_path

    for key, value in make_home(tmp / "home").items():
        mp.setenv(key, value)
    return str(module_path())


def _softhsm(tmp: Path, mp: pytest.MonkeyPatch) -> str:
    if not os.path.exists(SOFTHSM):
        pytest.skip("SoftHSM2 is not installed")
    tokens = tmp / "tokens"
    tokens.mkdir()
    conf = tmp / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n")
    mp.setenv("SOFTHSM2_CONF", str(conf))
    return SOFTHSM


@pytest.fixture(scope="module", params=["strongroom", "softhsm"])
def backend(request, tmp_path_factory):
    """A module-scoped fresh token labelled LABEL with SO_PIN / USER_PIN."""
    from strongroom.api import admin
    from strongroom.api.session import load_library

    tmp = tmp_path_factory.mktemp(request.param)
    with pytest.MonkeyPatch.context() as mp:
        module = (_strongroom if request.param == "strongroom" else _softhsm)(tmp, mp)
        load_library(module).reinitialize()        # read the new configuration
        admin.init_token(module, None, SO_PIN, LABEL, user_pin=USER_PIN)
        yield Backend(request.param, module, LABEL, tmp)


@pytest.fixture(scope="module")
def token(backend):
    """A user session kept for the whole test module."""
    with backend.user() as t:
        yield t
