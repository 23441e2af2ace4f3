"""The cffi module compiled into libstrongroom.so (``_strongroom_abi``), typed.

The module exists only inside the shared library: cffi's embedding start registers it in
``sys.modules`` before the init code imports :mod:`strongroom.abi.entry`. mypy cannot
see it, so its two objects are declared here: ``ffi`` is a compiled ``_cffi_backend.FFI``
(types-cffi), ``lib`` offers the helpers of shim.c that ``build_ffi.make_ffi`` declares.
"""
from __future__ import annotations

from .._records import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Protocol

    from _cffi_backend import FFI
else:
    Protocol = object   # NativeLib is a structural type for checkers only

MODULE_NAME = "_strongroom_abi"     # build_ffi.MODULE_NAME (build_ffi is not imported at run time)


class NativeLib(Protocol):
    """shim.c's helpers (the cdef in ``build_ffi.make_ffi``)."""

    def sr_module_path(self) -> object: ...
    def sr_owns_python(self) -> int: ...
    def sr_dv_set_path(self, path: bytes | None) -> int: ...
    def sr_dv_read(self) -> int: ...


_module = __import__(MODULE_NAME)
ffi: FFI = _module.ffi
lib: NativeLib = _module.lib
