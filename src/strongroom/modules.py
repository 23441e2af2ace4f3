"""Where strongroom's own PKCS#11 module (``libstrongroom.so``) lives in the package.

A top-level module of its own so that the tools (cli/, ca/, api/), the tests and the core
can all name the module without importing the ABI package. It stays import-light (no
pathlib until asked): the embedded interpreter imports the ``strongroom`` package at
every C_Initialize.
"""
from __future__ import annotations

from ._records import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["LIB_FILENAME", "module_path"]

LIB_FILENAME = "libstrongroom.so"


def module_path() -> Path:
    """Absolute path of the PKCS#11 module inside the installed package (may not exist
    if the package was not built, e.g. when running from a plain source checkout)."""
    from pathlib import Path

    return Path(__file__).resolve().parent / LIB_FILENAME
