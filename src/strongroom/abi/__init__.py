"""The C ABI: ``libstrongroom.so`` (cffi embedding mode) and its marshalling.

Only :func:`module_path` is meant for ordinary importers; ``entry`` runs inside the
shared library (it imports the ``_strongroom_abi`` cffi module that exists only there).
"""
from __future__ import annotations

TYPE_CHECKING = False

if TYPE_CHECKING:
    from pathlib import Path

LIB_FILENAME = "libstrongroom.so"


def module_path() -> Path:
    """Absolute path of the PKCS#11 module inside the installed package (may not exist
    if the package was not built, e.g. when running from a plain source checkout)."""
    from pathlib import Path   # not at import: the embedded interpreter imports this package

    return Path(__file__).resolve().parent.parent / LIB_FILENAME
