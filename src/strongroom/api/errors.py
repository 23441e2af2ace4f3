"""The API's errors: one class per thing a caller reacts to differently.

python-pkcs11 raises one exception class per CKR value and keeps no code; callers of
strongroom's API want fewer, broader classes (a wrong PIN, a missing object) with a
one-line message naming what was looked for, and the CKR code for the rest. Messages
never hold a PIN or key material: they are built here from names and labels only.
"""
from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

__all__ = [
    "AmbiguousMatch",
    "NotExtractable",
    "NotLoggedIn",
    "ObjectNotFound",
    "PinIncorrect",
    "PinLocked",
    "StrongroomError",
    "TokenNotFound",
    "Unsupported",
    "ckr_name",
    "exactly_one",
    "translated",
]


T = TypeVar("T")

class StrongroomError(Exception):
    """Base of every API error; `.ckr` is the PKCS#11 return value when the token gave one."""

    def __init__(self, message: str, *, ckr: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.ckr = ckr


class TokenNotFound(StrongroomError):
    """No token matched the label / URI given (the message lists the labels that exist)."""


class ObjectNotFound(StrongroomError):
    """No object matched the selector given."""


class AmbiguousMatch(StrongroomError):
    """Several tokens or objects matched where exactly one was wanted."""


def exactly_one(found: Sequence[T], missing: StrongroomError, ambiguous: str) -> T:
    """The one item of `found`: raises `missing` when there is none, AmbiguousMatch with
    the message "<count> <ambiguous>" when there are several."""
    if not found:
        raise missing
    if len(found) > 1:
        raise AmbiguousMatch(f"{len(found)} {ambiguous}")
    return found[0]


class PinIncorrect(StrongroomError):
    """The token rejected the PIN; `.pin_state` is what the token says about the
    remaining tries (ok | count_low | final_try | locked) when it says anything."""

    def __init__(self, message: str, *, ckr: int | None = None, pin_state: str | None = None) -> None:
        super().__init__(message, ckr=ckr)
        self.pin_state = pin_state


class PinLocked(StrongroomError):
    """Too many wrong PINs: the PIN is locked (the SO can set a new user PIN)."""


class NotLoggedIn(StrongroomError):
    """The operation needs a logged-in session (open the token with a PIN)."""


class Unsupported(StrongroomError):
    """The token (or this API) does not offer the mechanism, key kind or function asked for."""


class NotExtractable(StrongroomError):
    """Key material that stays on the token was asked for."""


# python-pkcs11 spells a few CKR names differently from the standard.
_RENAMED = {"TokenNotRecognised": "TOKEN_NOT_RECOGNIZED", "FunctionCancelled": "FUNCTION_CANCELED",
            "AnotherUserAlreadyLoggedIn": "USER_ANOTHER_ALREADY_LOGGED_IN",
            "RandomNoRNG": "RANDOM_NO_RNG", "SessionReadWriteSOExists": "SESSION_READ_WRITE_SO_EXISTS",
            "SlotIDInvalid": "SLOT_ID_INVALID", "NoSuchKey": None, "NoSuchToken": None, "MultipleObjectsReturned": None,
            "MultipleTokensReturned": None, "PKCS11Error": None}


def ckr_name(exc: BaseException) -> str | None:
    """The CKR_ name python-pkcs11's exception class stands for, or None (its own errors)."""
    cls = type(exc).__name__
    name = _RENAMED[cls] if cls in _RENAMED else re.sub(r"(?<!^)(?=[A-Z])", "_", cls).upper()
    return None if name is None else "CKR_" + name


def ckr_code(name: str | None) -> int | None:
    """The numeric CKR value of a CKR_ name (strongroom's constant table knows them all)."""
    if name is None:
        return None
    from strongroom.pkcs11.constants import CKR

    try:
        return int(CKR[name[4:]])
    except KeyError:
        return None


def rv_name(rv: int) -> str:
    """"CKR_PIN_INCORRECT" for 0xA0; hex for a value strongroom's table does not know."""
    from strongroom.pkcs11.constants import CKR

    try:
        return "CKR_" + CKR(rv).name
    except ValueError:
        return f"CKR 0x{rv:x}"


_CLASSES: dict[str, type[StrongroomError]] = {
    "CKR_PIN_INCORRECT": PinIncorrect, "CKR_PIN_LOCKED": PinLocked,
    "CKR_USER_NOT_LOGGED_IN": NotLoggedIn, "CKR_KEY_UNEXTRACTABLE": NotExtractable,
    "CKR_ATTRIBUTE_SENSITIVE": NotExtractable, "CKR_MECHANISM_INVALID": Unsupported,
    "CKR_FUNCTION_NOT_SUPPORTED": Unsupported, "CKR_KEY_TYPE_INCONSISTENT": Unsupported,
    "CKR_TOKEN_NOT_PRESENT": TokenNotFound, "CKR_SLOT_ID_INVALID": TokenNotFound,
}


def from_rv(rv: int, doing: str) -> StrongroomError:
    """The API error for a CK_RV a ctypes call returned."""
    name = rv_name(rv)
    return _CLASSES.get(name, StrongroomError)(f"{doing} failed: {name}", ckr=rv)


def translate(exc: BaseException, doing: str) -> StrongroomError:
    """The API error for a python-pkcs11 exception raised while `doing` (a short phrase
    such as "signing with 'ca key'"): "<doing> failed: CKR_XYZ"."""
    if isinstance(exc, StrongroomError):
        return exc
    name = ckr_name(exc)
    code = ckr_code(name)
    unmapped = _unmapped_rv(exc) if name is None else None
    if unmapped is not None:       # a CKR python-pkcs11 has no class for (v3.x codes)
        code, name = unmapped, rv_name(unmapped)
    cls = _CLASSES.get(name or "", StrongroomError)
    reason = name or type(exc).__name__
    return cls(f"{doing} failed: {reason}", ckr=code)


def _unmapped_rv(exc: BaseException) -> int | None:
    """The CK_RV of python-pkcs11's catch-all ``PKCS11Error("Unmapped error code 0x209")``
    (its _pkcs11.pxd map_rv_to_error), e.g. v3.2's CKR_PARAMETER_SET_NOT_SUPPORTED."""
    match = re.fullmatch(r"Unmapped error code (0x[0-9a-fA-F]+)", str(exc))
    return int(match.group(1), 16) if match else None


@contextmanager
def translated(doing: str) -> Iterator[None]:
    """Run a block, turning python-pkcs11 errors into API errors about `doing`."""
    from pkcs11.exceptions import PKCS11Error

    try:
        yield
    except PKCS11Error as exc:
        raise translate(exc, doing) from None
