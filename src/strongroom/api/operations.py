"""Token methods that run one operation on the token: sign, verify, encrypt, decrypt,
by mechanism name with the parameters derived from it (mechanisms.py). Token mixes it in.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from pkcs11 import Attribute, Mechanism

from . import kinds, mechanisms
from .errors import ObjectNotFound, Unsupported, translated
from .objects import ObjectRef
from .objects import get_attribute as _get

__all__ = ["OperationsMixin"]


_FLAG = {"sign": "CKA_SIGN", "verify": "CKA_VERIFY", "encrypt": "CKA_ENCRYPT", "decrypt": "CKA_DECRYPT"}


def _allowed(ref: ObjectRef, operation: str) -> Any:
    """The python-pkcs11 method for `operation` on the object; python-pkcs11 gives an
    object only the methods its CKA_SIGN/VERIFY/ENCRYPT/DECRYPT allow."""
    method = getattr(ref.obj, operation, None)
    if method is None:
        raise Unsupported(f"{ref.type} key {ref.label!r} does not allow {operation} ({_FLAG[operation]} is false)")
    return method


class OperationsMixin:
    """Operations for Token (uses its objects(), _resolve, mechanisms(), label)."""

    if TYPE_CHECKING:                   # what Token provides (session.py)
        @property
        def label(self) -> str: ...
        def mechanisms(self) -> set[Any]: ...
        def _resolve(self, ref: ObjectRef | str, types: Iterable[str]) -> ObjectRef: ...
        def objects(self, selector: str | None = None, *, label: str | None = None,
                    id: bytes | None = None, type: str | None = None) -> list[ObjectRef]: ...

    def _key_mechanism(self, ref: ObjectRef, mechanism: str | None, default: Any) -> str:
        if mechanism is not None:
            return mechanism
        bits = None
        if ref.key_type == "ec":
            curve = kinds.curve_for_params(bytes(_get(ref.obj, Attribute.EC_PARAMS) or b""))
            bits = kinds.pyca_curve(curve).key_size if curve in kinds.WEIERSTRASS else None
        return default(ref.key_type, bits) if default is mechanisms.default_sign else default(ref.key_type)

    def sign(self, key_ref: ObjectRef | str, data: bytes, mechanism: str | None = None) -> bytes:
        """Sign on the token; returns what the token returns (ECDSA: raw r||s). ECDSA_SHA*
        is hashed here and sent as CKM_ECDSA when the token lacks the combined mechanism."""
        ref = self._resolve(key_ref, ("private", "secret-key"))
        name = self._key_mechanism(ref, mechanism, mechanisms.default_sign)
        mech, data = self._ecdsa_fallback(name, data)
        param = mechanisms.sign_params(name, data, self._curve_of(ref))
        with translated(f"signing with {ref.label!r} ({mech.name})"):
            return bytes(_allowed(ref, "sign")(data, mechanism=mech, mechanism_param=param))

    @staticmethod
    def _curve_of(ref: ObjectRef) -> str | None:
        """The curve of an Edwards key (CKM_EDDSA needs a parameter for Ed448 only)."""
        if ref.key_type != "ec_edwards":
            return None
        return kinds.curve_for_params(bytes(_get(ref.obj, Attribute.EC_PARAMS) or b""))

    def sign_raw(self, ref: ObjectRef, data: bytes, mechanism: Any, param: Any = None) -> bytes:
        """One C_Sign with a python-pkcs11 mechanism and parameter (used by token keys)."""
        with translated(f"signing with {ref.label!r} ({getattr(mechanism, 'name', mechanism)})"):
            return bytes(_allowed(ref, "sign")(data, mechanism=mechanism, mechanism_param=param))

    def _ecdsa_fallback(self, name: str, data: bytes) -> tuple[Any, bytes]:
        mech = mechanisms.mechanism(name)
        upper = mech.name
        if upper.startswith("ECDSA_SHA") and mech not in self.mechanisms() \
                and Mechanism.ECDSA in self.mechanisms():
            from cryptography.hazmat.primitives import hashes

            algorithms: dict[str, type[hashes.HashAlgorithm]] = {
                "ECDSA_SHA1": hashes.SHA1, "ECDSA_SHA224": hashes.SHA224, "ECDSA_SHA256": hashes.SHA256,
                "ECDSA_SHA384": hashes.SHA384, "ECDSA_SHA512": hashes.SHA512}
            algorithm = algorithms[upper]()
            digest = hashes.Hash(algorithm)
            digest.update(data)
            return Mechanism.ECDSA, digest.finalize()
        return mech, data

    def verify(self, key_ref: ObjectRef | str, data: bytes, signature: bytes,
               mechanism: str | None = None) -> bool:
        """Verify on the token with a public (or secret) key; a private-key reference is
        taken to mean the public key with the same CKA_ID."""
        ref = self._resolve(key_ref, ("public", "private", "secret-key"))
        if ref.type == "private":
            pubs = [p for p in self.objects(id=ref.id, type="public") if p.key_type == ref.key_type]
            if len(pubs) != 1:
                raise ObjectNotFound(f"no single public key with the id of {ref.label!r} on token {self.label!r}")
            ref = pubs[0]
        name = self._key_mechanism(ref, mechanism, mechanisms.default_sign)
        mech, data = self._ecdsa_fallback(name, data)
        param = mechanisms.sign_params(name, data, self._curve_of(ref))
        with translated(f"verifying with {ref.label!r} ({mech.name})"):
            return bool(_allowed(ref, "verify")(data, signature, mechanism=mech, mechanism_param=param))

    def encrypt(self, key_ref: ObjectRef | str, data: bytes, mechanism: str | None = None) -> bytes:
        """Encrypt on the token (default AES_GCM for AES, RSA_PKCS_OAEP/SHA-256 for RSA).
        IV mechanisms get a fresh random IV, prepended to the result."""
        ref = self._resolve(key_ref, ("public", "secret-key"))
        name = self._key_mechanism(ref, mechanism, mechanisms.default_encrypt)
        iv = mechanisms.fresh_iv(name)
        with translated(f"encrypting with {ref.label!r} ({name})"):
            out = _allowed(ref, "encrypt")(data, mechanism=mechanisms.mechanism(name),
                                  mechanism_param=mechanisms.crypt_params(name, iv))
        return (iv or b"") + bytes(out)

    def decrypt(self, key_ref: ObjectRef | str, data: bytes, mechanism: str | None = None) -> bytes:
        """Decrypt on the token; the inverse of encrypt() (reads the IV it prepended)."""
        ref = self._resolve(key_ref, ("private", "secret-key"))
        name = self._key_mechanism(ref, mechanism, mechanisms.default_encrypt)
        size = mechanisms.IV_MECHANISMS.get(mechanisms.normalise(name), 0)
        if len(data) < size:
            raise ValueError(f"{name} ciphertext is shorter than its {size}-byte IV")
        iv, body = (data[:size], data[size:]) if size else (None, data)
        with translated(f"decrypting with {ref.label!r} ({name})"):
            return bytes(_allowed(ref, "decrypt")(body, mechanism=mechanisms.mechanism(name),
                                         mechanism_param=mechanisms.crypt_params(name, iv)))
