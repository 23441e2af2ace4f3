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

from enum import Enum

from .._records import TYPE_CHECKING, NamedTuple
from ..pkcs11.constants import CKA, CKO, CKR, MechanismFlag
from ..pkcs11.errors import CKRError

if TYPE_CHECKING:   # typing is not imported at run time: cold start (_records.py)
    from collections.abc import Callable, Container, Mapping
    from typing import Any, Protocol, TypeVar

    T = TypeVar("T")
    AttrDict = dict[int, Any]   # a template / new object's attributes (keytypes.AttrDict)
else:
    Protocol = object   # KeyMaterial is a structural type for checkers only


class OpKind(Enum):
    """What an operation is for; the core maps C_*Init to one of these."""

    ENCRYPT = "encrypt"
    DECRYPT = "decrypt"
    DIGEST = "digest"
    SIGN = "sign"
    VERIFY = "verify"
    #: C_WrapKey / C_UnwrapKey: ``operation(kind, key, param)``, then ``update(image) +
    #: final()`` encrypts / decrypts the key image (mechanisms.keys.wrap_image).
    WRAP = "wrap"
    UNWRAP = "unwrap"
    #: ``update(data) + final()`` -> signature with the data recoverable from it.
    SIGN_RECOVER = "sign_recover"
    #: ``update(signature) + final()`` -> recovered data; raises SIGNATURE_INVALID.
    VERIFY_RECOVER = "verify_recover"

    #: Identity hash (members are singletons): Enum's default hashes the name in Python.
    __hash__ = object.__hash__


class KindRule(NamedTuple):
    """What starting an operation of one kind needs (the core's C_*Init checks)."""

    #: the MechanismFlag bit ``entry.flags`` must carry (a plain int: IntFlag ``&`` is slow)
    flag: int
    #: the key classes the kind accepts (empty: no key, C_DigestInit)
    key_classes: frozenset[int]
    #: the key attribute that must be CK_TRUE (CKA_ENCRYPT ...), None for none
    usage: int | None


_PUBLIC_OR_SECRET = frozenset({int(CKO.PUBLIC_KEY), int(CKO.SECRET_KEY)})
_PRIVATE_OR_SECRET = frozenset({int(CKO.PRIVATE_KEY), int(CKO.SECRET_KEY)})
#: One row per OpKind: the one table of which flag, key classes and usage attribute each
#: kind needs (the core reads it; families never do).
KIND_RULES: dict[OpKind, KindRule] = {
    OpKind.ENCRYPT: KindRule(int(MechanismFlag.ENCRYPT), _PUBLIC_OR_SECRET, int(CKA.ENCRYPT)),
    OpKind.DECRYPT: KindRule(int(MechanismFlag.DECRYPT), _PRIVATE_OR_SECRET, int(CKA.DECRYPT)),
    OpKind.SIGN: KindRule(int(MechanismFlag.SIGN), _PRIVATE_OR_SECRET, int(CKA.SIGN)),
    OpKind.VERIFY: KindRule(int(MechanismFlag.VERIFY), _PUBLIC_OR_SECRET, int(CKA.VERIFY)),
    OpKind.DIGEST: KindRule(int(MechanismFlag.DIGEST), frozenset(), None),
    OpKind.SIGN_RECOVER: KindRule(int(MechanismFlag.SIGN_RECOVER), _PRIVATE_OR_SECRET, int(CKA.SIGN_RECOVER)),
    OpKind.VERIFY_RECOVER: KindRule(int(MechanismFlag.VERIFY_RECOVER), _PUBLIC_OR_SECRET,
                                    int(CKA.VERIFY_RECOVER)),
    OpKind.WRAP: KindRule(int(MechanismFlag.WRAP), _PUBLIC_OR_SECRET, int(CKA.WRAP)),
    OpKind.UNWRAP: KindRule(int(MechanismFlag.UNWRAP), _PRIVATE_OR_SECRET, int(CKA.UNWRAP)),
}
#: The MechanismFlag bit the core must find in ``entry.flags`` before starting ``kind``.
KIND_FLAG: dict[OpKind, int] = {kind: rule.flag for kind, rule in KIND_RULES.items()}

#: OpKind.ENCRYPT / DECRYPT select these for the message-based API (``entry.message``).
MESSAGE_FLAG: dict[OpKind, MechanismFlag] = {
    OpKind.ENCRYPT: MechanismFlag.MESSAGE_ENCRYPT,
    OpKind.DECRYPT: MechanismFlag.MESSAGE_DECRYPT,
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


class CollectingOperation(Operation):
    """Releases nothing before ``final`` (AEAD decryption, ChaCha20-Poly1305): ``update``
    collects the input in ``_buf``, so a size query for C_*Update needs no data."""

    _buf: bytearray

    def update(self, data: bytes) -> bytes:
        self._buf += data
        return b""

    def update_length(self, n: int) -> int:
        """Nothing before ``final`` (token/operations.py: a size query feeds no data)."""
        return 0


class MessageOperation:
    """One active message-based AEAD operation (C_MessageEncryptInit ... Final).

    The core calls ``encrypt`` / ``decrypt`` once per message (C_EncryptMessage or a
    Begin/Next sequence collapsed to one message). ``param`` is the decoded per-message
    parameter (CK_GCM_MESSAGE_PARAMS -> params.GcmMessageParams, CK_SALSA20_CHACHA20_
    POLY1305_MSG_PARAMS -> params.ChaCha20Poly1305MessageParams, ...). ``encrypt`` returns
    ``(ciphertext, param_out)`` where ``param_out`` is the parameter with the outputs the
    token writes back into the caller's struct filled in (the tag; a generated IV when
    the IV generator is not CKG_NO_GENERATE) -- the ABI copies those fields back. The
    ciphertext does not contain the tag. ``decrypt`` reads the tag from ``param`` and
    returns the plaintext or raises ENCRYPTED_DATA_INVALID. ``close`` runs at
    C_Message*Final and when the session ends.
    """

    def encrypt(self, param: Any, aad: bytes, data: bytes) -> tuple[bytes, Any]:
        raise CKRError(CKR.FUNCTION_NOT_SUPPORTED, "not a message-encrypt operation")

    def decrypt(self, param: Any, aad: bytes, data: bytes) -> bytes:
        raise CKRError(CKR.FUNCTION_NOT_SUPPORTED, "not a message-decrypt operation")

    def close(self) -> None:
        return None


if TYPE_CHECKING:
    #: ``MechanismEntry.operation``: (kind, key or None for digests, parameter) -> Operation;
    #: the families' ``_factory(mech, ...)`` build one per mechanism.
    OperationFactory = Callable[[OpKind, KeyMaterial | None, Any], Operation]


class MechanismEntry(NamedTuple):
    """What C_GetMechanismInfo reports plus the callables that implement the mechanism."""

    mechanism: int
    flags: int
    min_key_size: int
    max_key_size: int
    key_types: frozenset[int]
    #: The decoded parameter's type, filled in by :func:`register` from
    #: ``pkcs11.mechanism_params.PARAM_TYPE`` (the one table of it; families do not set it).
    param_type: type | None = None
    operation: OperationFactory | None = None
    generate: Callable[[Any, AttrDict], AttrDict] | None = None
    generate_pair: Callable[[Any, AttrDict, AttrDict], tuple[AttrDict, AttrDict]] | None = None
    #: CKK of the keys ``generate`` / ``generate_pair`` make: the core needs it to pick the
    #: attribute table before the mechanism runs.
    gen_key_type: int | None = None
    #: The parameter may be absent (NULL pParameter): ``param`` is then None and the
    #: mechanism applies the spec's defaults (CKM_ML_DSA's CK_SIGN_ADDITIONAL_CONTEXT, ...).
    param_optional: bool = False
    #: C_DeriveKey (flag DERIVE): (param, base key, validated new-key attrs) -> the
    #: attributes the mechanism contributes (CKA_VALUE, CKA_VALUE_LEN ...).
    derive: Callable[[Any, KeyMaterial, AttrDict], AttrDict] | None = None
    #: C_EncapsulateKey (flag ENCAPSULATE): (param, public key) -> (ciphertext, secret).
    encapsulate: Callable[[Any, KeyMaterial], tuple[bytes, bytes]] | None = None
    #: C_DecapsulateKey (flag DECAPSULATE): (param, private key, ciphertext) -> secret.
    decapsulate: Callable[[Any, KeyMaterial, bytes], bytes] | None = None
    #: Message-based API (flags MESSAGE_ENCRYPT / MESSAGE_DECRYPT): (OpKind.ENCRYPT or
    #: DECRYPT, key, init param or None) -> MessageOperation.
    message: Callable[[OpKind, KeyMaterial, Any], MessageOperation] | None = None


_REGISTRY: dict[int, MechanismEntry] = {}
#: Imports every family (set by mechanisms/__init__); run on the first lookup so that
#: C_Initialize does not pay for importing the families (docs/performance.md).
_loader: Callable[[], None] | None = None


def set_loader(loader: Callable[[], None]) -> None:
    global _loader
    _loader = loader


def _load() -> None:
    global _loader
    loader = _loader
    if loader is not None:
        loader()
        _loader = None


def register(entry: MechanismEntry) -> MechanismEntry:
    """Add ``entry`` with its ``param_type`` from PARAM_TYPE; registering one CKM twice is
    a programming error, and so is a family naming a parameter type the table does not."""
    # Imported here: the families register on the first lookup, not at C_Initialize.
    from ..pkcs11.mechanism_params import PARAM_TYPE

    if entry.mechanism in _REGISTRY:
        raise ValueError(f"mechanism 0x{entry.mechanism:x} registered twice")
    if entry.flags & MechanismFlag.HW:
        raise ValueError("a software token never sets CKF_HW")
    expected = PARAM_TYPE.get(entry.mechanism)
    if entry.param_type is not expected:
        if entry.param_type is not None:
            raise ValueError(f"mechanism 0x{entry.mechanism:x}: param_type disagrees with PARAM_TYPE")
        entry = entry._replace(param_type=expected)
    _REGISTRY[entry.mechanism] = entry
    return entry


def get(mech: int) -> MechanismEntry:
    """The entry for ``mech``; unknown mechanisms are CKR_MECHANISM_INVALID."""
    try:
        return _REGISTRY[mech]
    except (KeyError, TypeError):
        if _loader is not None:
            _load()
            return get(mech)
        raise CKRError(CKR.MECHANISM_INVALID, f"mechanism {mech!r} not supported") from None


def all_mechanisms() -> list[int]:
    """Every registered CKM, sorted, for C_GetMechanismList."""
    if _loader is not None:
        _load()
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


def key_for(mech: int, kind: OpKind, kinds: Container[OpKind], key: KeyMaterial | None) -> KeyMaterial:
    """The guard every keyed family's ``operation`` starts with: ``kind`` must be one of
    ``kinds`` (else MECHANISM_INVALID) and a key must be given (else KEY_NEEDED)."""
    if kind not in kinds:
        raise unsupported_kind(mech, kind)
    if key is None:
        raise CKRError(CKR.KEY_NEEDED)
    return key
