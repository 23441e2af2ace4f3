"""The mechanism registry: the one place the token core learns what a CKM does.

Why a registry: the core never names a mechanism. It looks an entry up, checks the key
type / size / usage flags from the entry, and calls ``entry.operation`` /
``entry.generate`` / ``entry.generate_pair``. Adding a family is one new module that
calls :func:`register` at import time plus one import line in ``mechanisms/__init__``.

Division of checks (design.md, "Mechanism registry"):

* core: key class, key type in ``entry.key_types``, key size within
  ``entry.min_key_size..max_key_size``, CKA_ENCRYPT/SIGN/... usage, the kind being
  allowed by ``entry.flags``, CKA_ALLOWED_MECHANISMS;
* mechanism: the parameter (:func:`check_param` plus value checks in the family) and
  every data / signature / ciphertext length.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, Callable, Mapping, Protocol, TypeVar

from ..pkcs11.constants import CKR, MechanismFlag
from ..pkcs11.errors import CKRError

T = TypeVar("T")


class OpKind(Enum):
    """What an operation is for; the core maps C_*Init to one of these."""

    ENCRYPT = "encrypt"
    DECRYPT = "decrypt"
    DIGEST = "digest"
    SIGN = "sign"
    VERIFY = "verify"


#: The MechanismFlag bit the core must find in ``entry.flags`` before starting ``kind``.
KIND_FLAG: dict[OpKind, MechanismFlag] = {
    OpKind.ENCRYPT: MechanismFlag.ENCRYPT,
    OpKind.DECRYPT: MechanismFlag.DECRYPT,
    OpKind.DIGEST: MechanismFlag.DIGEST,
    OpKind.SIGN: MechanismFlag.SIGN,
    OpKind.VERIFY: MechanismFlag.VERIFY,
}


class KeyMaterial(Protocol):
    """A key as the core hands it to a mechanism.

    ``attrs`` holds every attribute, secrets included. ``parsed(loader)`` returns
    ``loader(attrs)`` cached for the life of the object, so the pyca key object is built
    once and not per operation (the SoftHSM2 #137 cost).
    """

    @property
    def attrs(self) -> Mapping[int, Any]: ...

    def parsed(self, loader: Callable[[Mapping[int, Any]], T]) -> T: ...


class Operation:
    """One active operation (see design.md for the call protocol).

    Single-part calls are ``update(data)`` then ``final()`` / ``verify(sig)``. The core
    calls each method once per C call and keeps the result for BUFFER_TOO_SMALL retries.
    Subclasses set ``multipart = False`` when C_*Update must be refused.
    """

    multipart: bool = True

    def update(self, data: bytes) -> bytes:
        """Feed data; encrypt/decrypt return the output available so far, others b""."""
        raise NotImplementedError

    def final(self) -> bytes:
        """Finish: the rest of the output, the digest or the signature."""
        raise NotImplementedError

    def verify(self, signature: bytes) -> None:
        """Finish a VERIFY operation; raise SIGNATURE_INVALID / SIGNATURE_LEN_RANGE."""
        raise CKRError(CKR.FUNCTION_NOT_SUPPORTED, "not a verify operation")


@dataclass(frozen=True)
class MechanismEntry:
    """What C_GetMechanismInfo reports plus the callables that implement the mechanism."""

    mechanism: int
    flags: int
    min_key_size: int
    max_key_size: int
    key_types: frozenset[int]
    param_type: type | None
    operation: Callable[[OpKind, KeyMaterial | None, Any], Operation] | None = None
    generate: Callable[[Any, dict], dict] | None = None
    generate_pair: Callable[[Any, dict, dict], tuple[dict, dict]] | None = None
    #: CKK of the keys ``generate`` / ``generate_pair`` make: the core needs it to pick the
    #: attribute table before the mechanism runs.
    gen_key_type: int | None = None
    #: The parameter may be absent (NULL pParameter): ``param`` is then None and the
    #: mechanism applies the spec's defaults (CKM_ML_DSA's CK_SIGN_ADDITIONAL_CONTEXT, ...).
    param_optional: bool = False


_REGISTRY: dict[int, MechanismEntry] = {}


def register(entry: MechanismEntry) -> MechanismEntry:
    """Add ``entry``; registering one CKM twice is a programming error."""
    if entry.mechanism in _REGISTRY:
        raise ValueError(f"mechanism 0x{entry.mechanism:x} registered twice")
    if entry.flags & MechanismFlag.HW:
        raise ValueError("a software token never sets CKF_HW")
    _REGISTRY[entry.mechanism] = entry
    return entry


def get(mech: int) -> MechanismEntry:
    """The entry for ``mech``; unknown mechanisms are CKR_MECHANISM_INVALID."""
    try:
        return _REGISTRY[mech]
    except (KeyError, TypeError):
        raise CKRError(CKR.MECHANISM_INVALID, f"mechanism {mech!r} not supported") from None


def all_mechanisms() -> list[int]:
    """Every registered CKM, sorted, for C_GetMechanismList."""
    return sorted(_REGISTRY)


def check_param(entry: MechanismEntry, param: object) -> None:
    """Check the parameter's *type* against the entry (values are the family's job).

    A mechanism without a parameter accepts ``None`` and also ``b""``: many applications
    pass a non-NULL pointer with length 0 and the spec treats that as "no parameter".
    """
    expected = entry.param_type
    if param is None and entry.param_optional:
        return
    if expected is None:
        if param is None or param == b"":
            return
    elif param is not None and isinstance(param, expected):
        return
    raise CKRError(
        CKR.MECHANISM_PARAM_INVALID,
        f"mechanism 0x{entry.mechanism:x} expects "
        f"{'no parameter' if expected is None else expected.__name__}",
    )


def unsupported_kind(entry_mech: int, kind: OpKind) -> CKRError:
    """The error for a kind the mechanism does not do (the core checks flags first)."""
    return CKRError(CKR.MECHANISM_INVALID, f"mechanism 0x{entry_mech:x} cannot {kind.value}")
