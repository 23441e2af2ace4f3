"""The C ABI: ``libstrongroom.so`` (cffi embedding mode) and its marshalling.

``entry`` runs inside the shared library (it imports the ``_strongroom_abi`` cffi module
that exists only there). Nothing here is for ordinary importers: the module's path is
:func:`strongroom.modules.module_path`.

This file imports nothing: the embedded interpreter imports the package at every
C_Initialize (cold start). The ``module_path`` name below is a transitional alias, resolved
only when asked, for the importers outside the tools (tests/conftest.py, bench/run.py) until
they import ``strongroom.modules``; then it goes.
"""


def __getattr__(name: str) -> object:
    if name == "module_path":
        from ..modules import module_path

        return module_path
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
