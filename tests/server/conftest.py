"""A running token service (python -m strongroom.server) in a fresh home, per test."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from service_support import Service

from support import make_home


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
