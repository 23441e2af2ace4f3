"""Where strongroom's own PKCS#11 modules live in the package: ``libstrongroom.so`` (the
token in-process) and ``libstrongroom-client.so`` (the native client of the token service,
docs/client.md).

A top-level module of its own so that the tools (cli/, ca/, api/), the tests and the core
can all name the module without importing the ABI package. It stays import-light (no
pathlib until asked): the embedded interpreter imports the ``strongroom`` package at
every C_Initialize.
"""
from __future__ import annotations

from ._records import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["CLIENT_FILENAME", "LIB_FILENAME", "client_path", "module_path"]

LIB_FILENAME = "libstrongroom.so"
CLIENT_FILENAME = "libstrongroom-client.so"


def module_path() -> Path:
    """Absolute path of the PKCS#11 module inside the installed package (may not exist
    if the package was not built, e.g. when running from a plain source checkout)."""
    from pathlib import Path

    return Path(__file__).resolve().parent / LIB_FILENAME


def client_path() -> Path:
    """Absolute path of the client module (``libstrongroom-client.so``, plain C: it reaches
    the token service over its socket) inside the installed package; may not exist in an
    unbuilt checkout."""
    from pathlib import Path

    return Path(__file__).resolve().parent / CLIENT_FILENAME
