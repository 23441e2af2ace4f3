"""Key-type handlers: what the token knows about one CKK, registered by its family.

Why: a key type's knowledge (is this material valid, how big is the key, how does pyca
hold it, what does it look like wrapped or imported) used to be spread over the
``if key_type == ...`` chains of keys.py, keyimage.py and the API's importing.py. Each
family module (ec.py, rsa.py, eddsa.py, mldsa.py, mlkem.py, aes.py, chacha.py, hmac.py,
kdf.py) now builds one :class:`KeyTypeHandler` and calls :func:`register_key_type` next
to its mechanisms; ``keys.py`` only dispatches. Adding a key type is its family file
plus its rows in ``pkcs11/schema.py``.

Lookups load the families on a miss (``mechanisms.load_all``), as the registry does:
C_CreateObject of a key may come before any mechanism lookup.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..pkcs11.constants import CKA, CKR
from ..pkcs11.errors import CKRError

Attrs = Mapping[int, Any]
AttrDict = dict[int, Any]


def _none(attrs: Attrs) -> Any:
    raise CKRError(CKR.KEY_TYPE_INCONSISTENT, "this key type has no pyca key object")


@dataclass(frozen=True)
class KeyTypeHandler:
    """One key type's rules. The callables are plain functions, so a family may pass them
    to ``KeyMaterial.parsed`` (the core's per-key cache is keyed by the loader).

    * ``normalize(cls, key_type, attrs)``: C_CreateObject / C_UnwrapKey material check;
      returns the attributes to add or replace (keys.normalize_key_attrs' contract).
    * ``size(attrs)``: the size in CK_MECHANISM_INFO units; may raise KeyError,
      TypeError or CKRError for unusable attributes (the dispatcher answers None).
    * ``load_private`` / ``load_public``: the pyca key objects (asymmetric types).
    * ``private_attrs(pyca_key)``: the material attributes of a pyca private key of one
      of ``pyca_private`` -- C_UnwrapKey of a PKCS#8 image and the API's key import.
    * ``public_attrs(pyca_key)``: CKA_KEY_TYPE and the public material of a pyca public
      key of one of ``pyca_public`` (the API's public key import).
    * ``signs`` / ``decrypts`` / ``derives``: the usage the API grants an imported or
      generated key (CKA_SIGN/VERIFY, CKA_DECRYPT/ENCRYPT, CKA_DERIVE).
    """

    key_types: frozenset[int]
    normalize: Callable[[int, int, Attrs], AttrDict]
    size: Callable[[Attrs], int | None]
    load_private: Callable[[Attrs], Any] = _none
    load_public: Callable[[Attrs], Any] = _none
    private_attrs: Callable[[Any], AttrDict] | None = None
    public_attrs: Callable[[Any], AttrDict] | None = None
    pyca_private: tuple[type, ...] = ()
    pyca_public: tuple[type, ...] = ()
    signs: bool = False
    decrypts: bool = False
    derives: bool = False


_HANDLERS: dict[int, KeyTypeHandler] = {}
_KEY_TYPE = int(CKA.KEY_TYPE)


def register_key_type(handler: KeyTypeHandler) -> KeyTypeHandler:
    """Add ``handler`` for each of its key types; a key type registered twice is a bug."""
    for key_type in handler.key_types:
        if key_type in _HANDLERS:
            raise ValueError(f"key type 0x{key_type:x} registered twice")
        _HANDLERS[key_type] = handler
    return handler


def _loaded() -> dict[int, KeyTypeHandler]:
    from . import load_all  # the package module: cheap, and it imports this one

    load_all()
    return _HANDLERS


def find(key_type: object) -> KeyTypeHandler | None:
    """The handler of ``key_type`` or None (families loaded on a miss)."""
    if not isinstance(key_type, int):
        return None
    handler = _HANDLERS.get(key_type)
    return handler if handler is not None else _loaded().get(key_type)


def of_attrs(attrs: Attrs, rv: int, why: str) -> KeyTypeHandler:
    """The handler of the key ``attrs`` describes; CKRError(rv, why) when there is none."""
    handler = find(attrs.get(_KEY_TYPE))
    if handler is None:
        raise CKRError(rv, why)
    return handler


def for_pyca_key(key: object, *, private: bool) -> KeyTypeHandler | None:
    """The handler whose pyca private (or public) classes ``key`` is an instance of."""
    for handler in _loaded().values():
        if isinstance(key, handler.pyca_private if private else handler.pyca_public):
            return handler
    return None


def secret_normalizer(allowed: tuple[int, ...] | None) -> Callable[[int, int, Attrs], AttrDict]:
    """``normalize`` for a secret key type whose CKA_VALUE length is one of ``allowed``
    (None: any non-empty length); adds CKA_VALUE_LEN."""
    from ..pkcs11.constants import CKO

    def normalize(cls: int, key_type: int, attrs: Attrs) -> AttrDict:
        if cls != CKO.SECRET_KEY:
            raise CKRError(CKR.ATTRIBUTE_VALUE_INVALID, "key type not supported for this class")
        value = attrs.get(CKA.VALUE)
        if value is None:
            raise CKRError(CKR.TEMPLATE_INCOMPLETE, "CKA_VALUE missing")
        if not isinstance(value, bytes) or not value or (allowed and len(value) not in allowed):
            raise CKRError(CKR.ATTRIBUTE_VALUE_INVALID, "secret key length not supported")
        given = attrs.get(CKA.VALUE_LEN)
        if given is not None and given != len(value):
            raise CKRError(CKR.TEMPLATE_INCONSISTENT, "CKA_VALUE_LEN does not match CKA_VALUE")
        return {CKA.VALUE_LEN: len(value)}

    return normalize


def secret_size(attrs: Attrs) -> int | None:
    """A secret key's size: its CKA_VALUE length in bytes (the unit of its mechanisms)."""
    value = attrs.get(CKA.VALUE)
    return len(value) if isinstance(value, bytes) else None


def secret_handler(key_types: frozenset[int], allowed: tuple[int, ...] | None) -> KeyTypeHandler:
    """The handler of secret key types whose value is ``allowed`` bytes long."""
    return KeyTypeHandler(key_types=key_types, normalize=secret_normalizer(allowed), size=secret_size)
