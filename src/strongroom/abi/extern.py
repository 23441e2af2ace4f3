"""How an ``sr_py_*`` function is bound, answers errors and delivers output.

Every C function the module implements in Python (``build_ffi.PYTHON_IMPLEMENTED``) has
exactly one ``sr_py_*`` function in the ``entry_*`` modules, registered here with
:func:`exported` (a ``def sr_py_Name``) or :func:`extern` (a function made by a factory,
for the families of look-alike calls). The embedding init code ends with
:func:`check_bound`: a C function left without its Python side would otherwise answer
whatever cffi returns for an unattached extern, so a missing one stops C_Initialize.

Errors: a :class:`CKRError` becomes its ``rv`` (via ``onerror``, so the success path
carries no try/except); any other exception is logged to ``strongroom.abi`` (type and
traceback only -- never the message or argument values, which may hold PINs or key
bytes) and becomes CKR_GENERAL_ERROR. No Python exception crosses the ABI.
"""
from __future__ import annotations

from .._records import TYPE_CHECKING
from ..pkcs11.constants import CKR
from ..pkcs11.errors import CKRError
from .native import ffi

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from types import TracebackType
    from typing import Any, TypeVar

    F = TypeVar("F", bound="Callable[..., int]")

OK = 0
GENERAL_ERROR = int(CKR.GENERAL_ERROR)
ARGUMENTS_BAD = int(CKR.ARGUMENTS_BAD)
BUFFER_TOO_SMALL = int(CKR.BUFFER_TOO_SMALL)

_bound: set[str] = set()
_buffer = ffi.buffer
_memmove = ffi.memmove


def _onerror(exc_type: Any, exc: BaseException, tb: TracebackType | None) -> int:
    """cffi's ``onerror`` (called with the exception's type, the exception and its
    traceback; types-cffi declares the first as an instance, hence ``Any``)."""
    if isinstance(exc, CKRError):
        return int(exc.rv)
    try:
        import traceback  # only on this (rare) path: cold start, docs/performance.md

        from ..log import logger

        frames = "".join(traceback.format_tb(tb))
        logger("strongroom.abi").error("internal error (%s.%s) in the PKCS#11 ABI; returning CKR_GENERAL_ERROR\n%s",
                                       exc_type.__module__, exc_type.__qualname__, frames)
    except BaseException:  # logging must not break the ABI either
        pass
    return GENERAL_ERROR


def extern(name: str, func: F) -> F:
    """Make ``func`` the Python side of ``name`` (an ``sr_py_*`` of the embedding API)."""
    if name in _bound:
        raise RuntimeError(f"{name} is bound twice")
    _bound.add(name)
    ffi.def_extern(name=name, error=GENERAL_ERROR, onerror=_onerror)(func)
    return func


def exported(func: F) -> F:
    """Decorator: ``def sr_py_Sign(...)`` is the Python side of C_Sign."""
    return extern(func.__name__, func)


def check_bound(expected: Iterable[str]) -> None:
    """Fail loudly (the init code, so C_Initialize) when an expected ``sr_py_*`` has no
    Python side."""
    missing = sorted(set(expected) - _bound)
    if missing:
        raise RuntimeError(f"libstrongroom.so: no Python side for {', '.join(missing)}")


def data(p: Any, n: int) -> bytes:
    """``n`` input bytes at ``p`` (the caller checked NULL with n != 0)."""
    return _buffer(p, n)[:] if n else b""


def deliver(out: bytes | bytearray | int, buf: Any, plen: Any) -> int:
    """Hand a core result to the caller with the two-call convention (v2.40 §5.2), the
    one place of the rule: a plain ``int`` is the length needed, nothing delivered
    (CKR_OK for a NULL buffer, the size query; CKR_BUFFER_TOO_SMALL for a buffer too
    small); bytes are the output."""
    if isinstance(out, int):
        plen[0] = out
        return BUFFER_TOO_SMALL if buf else OK
    n = len(out)
    if buf:
        if plen[0] < n:
            plen[0] = n
            return BUFFER_TOO_SMALL
        if n:
            _memmove(buf, out, n)
    plen[0] = n
    return OK


def capacity(buf: Any, plen: Any) -> int | None:
    """The output capacity a core call is given: ``*plen``, or None for a NULL buffer
    (a size query)."""
    return plen[0] if buf else None


def plain(core: Callable[..., object]) -> Callable[..., int]:
    """The Python side of a C function whose arguments go to the core as they are and
    which answers CKR_OK when the core returns (C_CloseSession, C_Logout, ...)."""
    def f(*args: Any) -> int:
        core(*args)
        return OK
    return f
