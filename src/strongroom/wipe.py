"""Clearing secrets from process memory (issue 10, docs/design.md "What stays in memory").

Python frees an object's memory without clearing it: a ``bytes`` holding a key stays
readable in the allocator's free lists until that memory is reused. So strongroom keeps
the secrets it makes itself (master key, PIN-derived and sealing keys, PINs, random key
material) in ``bytearray``s it zeroes with :func:`zero`, and clears the ``bytes``
attribute values it must hand around (CKA_VALUE, RSA private components ...) with
:func:`wipe_bytes` when it drops them -- at C_Logout, C_Finalize, destroy, the close of
the last session, a cache flush -- never on the hot path.

:func:`wipe_bytes` writes into an immutable ``bytes``. That is safe only when nobody can
still read the object, so it refuses unless (1) it is exactly ``bytes`` (no subclass)
of at least 2 bytes (CPython shares ``b""`` and the one-byte objects process-wide), and
(2) ``sys.getrefcount`` shows no reference beyond the ones the caller vouches for. The
values it is used on were made by strongroom itself (cffi copies of a template, pyca
decrypt output, ``int.to_bytes``) and are never interned or used as constants, so an
exclusive reference really is the last one; the object is freed right after.
The payload offset (``bytes.__basicsize__ - 1``) is checked against ``ctypes.string_at``
on the first call; on any mismatch or on a non-CPython runtime nothing is written.
"""
from __future__ import annotations

import sys

from ._records import TYPE_CHECKING
from .pkcs11.errors import CKRError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any, TypeVar

    T = TypeVar("T")


#: Attribute types whose value may be secret key material (private or secret keys).
_FLOOR = (0x11, 0x123, 0x124, 0x125, 0x126, 0x127, 0x128)   # CKA_VALUE, PRIVATE_EXPONENT .. COEFFICIENT
_secret_types: frozenset[int] | None = None

_memset: Any = None          # ctypes.memset once checked; False when unusable
_OFFSET = bytes.__basicsize__ - 1


def _call_refs() -> int:
    """References ``sys.getrefcount`` sees for an object the caller passes as a temporary."""
    def probe(value: object, holders: int) -> int:
        return sys.getrefcount(value)
    return probe(object(), 0)


_CALL = _call_refs()


def secret_types() -> frozenset[int]:
    """CKA types that hold secret key material in some class (schema) plus the floor."""
    global _secret_types
    if _secret_types is None:
        from .pkcs11.template import SECRET_ANYWHERE
        _secret_types = frozenset(_FLOOR) | SECRET_ANYWHERE
    return _secret_types


def zero(buf: bytearray | memoryview | None) -> None:
    """Overwrite a writable buffer with zeros in place (its length is kept); anything
    else (None, an immutable ``bytes``) is left alone."""
    if isinstance(buf, (bytearray, memoryview)) and len(buf):
        buf[:] = bytes(len(buf))


def random_bytearray(n: int) -> bytearray:
    """``n`` random bytes from os.urandom, in a bytearray; the ``bytes`` in between is wiped."""
    import os

    tmp = os.urandom(n)
    out = bytearray(tmp)
    wipe_bytes(tmp, 1)
    return out


def _checked_memset() -> Any:
    global _memset
    if _memset is None:
        _memset = False
        if sys.implementation.name == "cpython":
            import ctypes

            probe = bytes(range(7, 40))
            if ctypes.string_at(id(probe) + _OFFSET, len(probe)) == probe:
                _memset = ctypes.memset
    return _memset


def wipe_bytes(value: object, holders: int = 1) -> bool:
    """Zero the payload of a ``bytes`` the caller is about to drop; True if it did.

    ``holders``: the references the caller holds itself (a local variable: 1; a local
    plus a container entry it is about to delete: 2). More references than that, a
    shared small object or anything but exact ``bytes`` and the object is left alone:
    someone else may still read it.
    """
    if value.__class__ is not bytes or len(value) < 2:
        return False
    if sys.getrefcount(value) - _CALL > holders:
        return False
    memset = _memset if _memset is not None else _checked_memset()
    if not memset:
        return False
    memset(id(value) + _OFFSET, 0, len(value))
    return True


def wipe_secret_values(attrs: dict[int, Any], holders: int = 1) -> bool:
    """Empty a dict of attributes that is being dropped, wiping each secret value that
    nothing else references. Left untouched (values and all) unless the dict itself is
    held only by the caller (``holders``): another reader may still be using it."""
    if sys.getrefcount(attrs) - _CALL > holders:
        return False
    types = _secret_types if _secret_types is not None else secret_types()
    for cka in [c for c in attrs if c in types]:
        value = attrs.pop(cka)
        wipe_bytes(value, 1)
    return True


def wipe_template(template: list[tuple[int, Any]]) -> None:
    """After a C_* call returned: wipe the secret values of the template the ABI decoded
    (a list of (type, value) pairs) that the core did not keep. Empties the list."""
    types = _secret_types if _secret_types is not None else secret_types()
    while template:
        cka, value = template.pop()
        if cka in types:
            wipe_bytes(value, 1)


def wiped(call: Callable[..., T], *args: Any) -> T:
    """``call(*args)`` with each template argument (a decoded template: the only ``list``
    arguments core calls take) wiped when the core returns or raises: the secret values
    the core did not keep (wipe_template) are overwritten before they are freed, the
    ones it kept are its to wipe (issue 10). The in-process ABI and the service both
    call the core through it."""
    try:
        return call(*args)
    except CKRError as exc:
        release_frames(exc)       # the core's frames still hold the values
        raise
    finally:
        for a in args:
            if a.__class__ is list:
                wipe_template(a)


def release_frames(exc: BaseException) -> None:
    """Drop the tracebacks of ``exc`` and of the exceptions chained to it, so that the
    finished frames they keep alive -- and the secret values in those frames' locals --
    are freed now and the caller's wipe finds those values unreferenced. For errors whose
    traceback nobody reads (a CKRError becomes a return code at the ABI)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        exc.__traceback__ = None
        exc = exc.__cause__ or exc.__context__   # type: ignore[assignment]


def wipe_all(dicts: Iterable[dict[int, Any]]) -> list[dict[int, Any]]:
    """:func:`wipe_secret_values` on every dict held only by ``dicts`` (a list the caller
    is dropping); returns the dicts still referenced elsewhere."""
    kept = []
    pending = list(dicts)
    if isinstance(dicts, list):
        dicts.clear()
    while pending:
        d = pending.pop()
        if not wipe_secret_values(d, 1):
            kept.append(d)
    return kept
