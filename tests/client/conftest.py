"""A running token service per test (python -m strongroom.server in a fresh home), and the
client module's path; the client tests reach the service only through
libstrongroom-client.so."""
from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "server"))

from service_support import Service

from strongroom.modules import client_path
from support import make_home


@pytest.fixture
def client() -> str:
    path = client_path()
    if not path.is_file():
        pytest.skip("libstrongroom-client.so not built (pip install -e .)")
    return str(path)


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    home = tmp_path / "home"
    make_home(home)
    svc = Service(home, tmp_path / "service.sock")
    try:
        yield svc
    finally:
        if svc.proc.poll() is None:
            svc.stop()
