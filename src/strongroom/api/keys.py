"""Token private keys as pyca/cryptography private keys.

Each class subclasses pyca's ABC, so pyca's x509 builders (CSR, certificate, CRL) accept
it and call its sign(): the signature is computed on the token and the private key never
leaves it. What pyca would otherwise do in software (hash the data, DER-encode an ECDSA
signature, pick a PSS salt length) is done here around one C_Sign. private_bytes() and
private_numbers() raise NotExtractable: the material is on the token.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa, utils
from pkcs11 import MGF, Mechanism

from .errors import NotExtractable, Unsupported
from .objects import ObjectRef

if TYPE_CHECKING:
    from .session import Token

    Buffer = bytes | bytearray | memoryview      # what pyca's sign() methods take

__all__ = [
    "TokenECPrivateKey",
    "TokenEd448PrivateKey",
    "TokenEd25519PrivateKey",
    "TokenRSAPrivateKey",
    "wrap_private_key",
]

_MECH_SUFFIX = {"sha1": "SHA1", "sha224": "SHA224", "sha256": "SHA256", "sha384": "SHA384", "sha512": "SHA512"}
_HASH_MECH = {"sha1": Mechanism.SHA_1, "sha224": Mechanism.SHA224, "sha256": Mechanism.SHA256,
              "sha384": Mechanism.SHA384, "sha512": Mechanism.SHA512}
_MGF = {"sha1": MGF.SHA1, "sha224": MGF.SHA224, "sha256": MGF.SHA256, "sha384": MGF.SHA384,
        "sha512": MGF.SHA512}
# DER DigestInfo prefixes (RFC 8017 §9.2 note 1): raw CKM_RSA_PKCS signs DigestInfo || digest.
_DIGEST_INFO = {
    "sha1": bytes.fromhex("3021300906052b0e03021a05000414"),
    "sha224": bytes.fromhex("302d300d06096086480165030402040500041c"),
    "sha256": bytes.fromhex("3031300d060960864801650304020105000420"),
    "sha384": bytes.fromhex("3041300d060960864801650304020205000430"),
    "sha512": bytes.fromhex("3051300d060960864801650304020305000440"),
}


def _digest(data: bytes, algorithm: hashes.HashAlgorithm) -> bytes:
    h = hashes.Hash(algorithm)
    h.update(data)
    return h.finalize()


def _unprehash(algorithm: Any) -> tuple[hashes.HashAlgorithm, bool]:
    """(hash algorithm, whether `data` is already its digest)."""
    if isinstance(algorithm, utils.Prehashed):
        return algorithm._algorithm, True
    return algorithm, False


class _TokenKey:
    """What every token private key shares: its token, its object, its public key."""

    def __init__(self, token: Token, ref: ObjectRef) -> None:
        self._token = token
        self._ref = ref
        self._public: Any = None

    @property
    def ref(self) -> ObjectRef:
        """The token object (label, id, uri)."""
        return self._ref

    @property
    def token(self) -> Token:
        return self._token

    def public_key(self) -> Any:
        """The pyca public key, read from the token (once)."""
        if self._public is None:
            self._public = self._token.public_key_of(self._ref)
        return self._public

    def _refuse(self) -> NotExtractable:
        return NotExtractable(f"private key {self._ref.label!r} is on token {self._token.label!r} and "
                              "cannot be exported: use it through this object")

    def private_bytes(self, *args: Any, **kwargs: Any) -> bytes:
        raise self._refuse()

    def private_numbers(self) -> Any:
        raise self._refuse()

    def private_bytes_raw(self) -> bytes:
        raise self._refuse()

    def __copy__(self) -> Any:
        return self

    def __deepcopy__(self, memo: Any) -> Any:
        return self

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._ref.uri}>"


class TokenECPrivateKey(_TokenKey, ec.EllipticCurvePrivateKey):
    """An EC private key on the token: ECDSA through CKM_ECDSA_SHA* when the token has
    it, else the data is hashed here and signed with CKM_ECDSA; results DER-encoded."""

    @property
    def curve(self) -> ec.EllipticCurve:
        public: ec.EllipticCurvePublicKey = self.public_key()
        return public.curve

    @property
    def key_size(self) -> int:
        return self.curve.key_size

    def sign(self, data: Buffer, signature_algorithm: ec.EllipticCurveSignatureAlgorithm) -> bytes:
        if not isinstance(signature_algorithm, ec.ECDSA):
            raise Unsupported(f"EC token keys sign with ec.ECDSA, not {type(signature_algorithm).__name__}")
        data = bytes(data)
        algorithm, prehashed = _unprehash(signature_algorithm.algorithm)
        combined = getattr(Mechanism, "ECDSA_" + _MECH_SUFFIX.get(algorithm.name, "-"), None)
        if not prehashed and combined is not None and combined in self._token.mechanisms():
            raw = self._token.sign_raw(self._ref, data, combined)
        else:
            digest = data if prehashed else _digest(data, algorithm)
            raw = self._token.sign_raw(self._ref, digest, Mechanism.ECDSA)
        half = len(raw) // 2
        return utils.encode_dss_signature(int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big"))

    def exchange(self, algorithm: ec.ECDH, peer_public_key: ec.EllipticCurvePublicKey) -> bytes:
        """ECDH on the token (CKM_ECDH1_DERIVE, no KDF): the shared secret is derived
        into a short-lived session object that is readable, read, and destroyed. The key
        needs CKA_DERIVE (generated EC keys have it)."""
        if not isinstance(algorithm, ec.ECDH):
            raise Unsupported(f"EC token keys exchange with ec.ECDH, not {type(algorithm).__name__}")
        if peer_public_key.curve.name != self.curve.name:
            raise ValueError(f"the peer key is on {peer_public_key.curve.name}, this key on {self.curve.name}")
        from cryptography.hazmat.primitives import serialization
        from pkcs11 import KDF, Attribute, KeyType

        from . import errors

        point = peer_public_key.public_bytes(serialization.Encoding.X962,
                                             serialization.PublicFormat.UncompressedPoint)
        size = (self.key_size + 7) // 8
        template = {Attribute.TOKEN: False, Attribute.SENSITIVE: False, Attribute.EXTRACTABLE: True}
        with errors.translated(f"ECDH with {self._ref.label!r}"):
            if not hasattr(self._ref.obj, "derive_key"):
                raise errors.Unsupported(f"private key {self._ref.label!r} does not allow derivation (CKA_DERIVE)")
            secret = self._ref.obj.derive_key(KeyType.GENERIC_SECRET, size * 8, mechanism=Mechanism.ECDH1_DERIVE,
                                              mechanism_param=(KDF.NULL, None, point), template=template)
            try:
                return bytes(secret[Attribute.VALUE])
            finally:
                secret.destroy()


class TokenRSAPrivateKey(_TokenKey, rsa.RSAPrivateKey):
    """An RSA private key on the token: PKCS#1 v1.5 and PSS signatures, PKCS#1 v1.5 and
    OAEP decryption."""

    @property
    def key_size(self) -> int:
        public: rsa.RSAPublicKey = self.public_key()
        return public.key_size

    def sign(self, data: bytes, padding_: padding.AsymmetricPadding, algorithm: Any) -> bytes:
        algorithm, prehashed = _unprehash(algorithm)
        name = algorithm.name
        if name not in _HASH_MECH:
            raise Unsupported(f"RSA token keys sign with SHA-1/SHA-2 hashes, not {name}")
        if isinstance(padding_, padding.PKCS1v15):
            if prehashed:
                return self._token.sign_raw(self._ref, _DIGEST_INFO[name] + data, Mechanism.RSA_PKCS)
            return self._token.sign_raw(self._ref, data, getattr(Mechanism, f"{_MECH_SUFFIX[name]}_RSA_PKCS"))
        if isinstance(padding_, padding.PSS):
            mgf = padding_._mgf
            mgf_hash = getattr(mgf, "_algorithm", algorithm).name
            param = (_HASH_MECH[name], _MGF[mgf_hash], self._salt_length(padding_, algorithm))
            if prehashed:
                return self._token.sign_raw(self._ref, data, Mechanism.RSA_PKCS_PSS, param)
            return self._token.sign_raw(self._ref, data, getattr(Mechanism, f"{_MECH_SUFFIX[name]}_RSA_PKCS_PSS"),
                                        param)
        raise Unsupported(f"RSA token keys sign with PKCS1v15 or PSS padding, not {padding_.name}")

    def _salt_length(self, padding_: padding.PSS, algorithm: hashes.HashAlgorithm) -> int:
        salt = padding_._salt_length
        if isinstance(salt, int):
            return salt
        if isinstance(salt, padding._MaxLength):
            return (self.key_size + 7) // 8 - algorithm.digest_size - 2
        if isinstance(salt, padding._DigestLength):
            return algorithm.digest_size
        raise Unsupported("PSS.AUTO is for verification; sign with DIGEST_LENGTH, MAX_LENGTH or a number")

    def decrypt(self, ciphertext: bytes, padding_: padding.AsymmetricPadding) -> bytes:
        from . import errors
        from .operations import _allowed

        if isinstance(padding_, padding.PKCS1v15):
            mech, param = Mechanism.RSA_PKCS, None
        elif isinstance(padding_, padding.OAEP):
            name = padding_._algorithm.name
            mgf_hash = padding_._mgf._algorithm.name
            mech, param = Mechanism.RSA_PKCS_OAEP, (_HASH_MECH[name], _MGF[mgf_hash], padding_._label)
        else:
            raise Unsupported(f"RSA token keys decrypt with PKCS1v15 or OAEP, not {padding_.name}")
        with errors.translated(f"decrypting with {self._ref.label!r} ({mech.name})"):
            return bytes(_allowed(self._ref, "decrypt")(ciphertext, mechanism=mech, mechanism_param=param))


class TokenEd25519PrivateKey(_TokenKey, ed25519.Ed25519PrivateKey):
    """An Ed25519 private key on the token (CKM_EDDSA, pure Ed25519)."""

    def sign(self, data: Buffer) -> bytes:
        return self._token.sign_raw(self._ref, bytes(data), Mechanism.EDDSA)


class TokenEd448PrivateKey(_TokenKey, ed448.Ed448PrivateKey):
    """An Ed448 private key on the token (CKM_EDDSA, pure Ed448: CK_EDDSA_PARAMS required)."""

    def sign(self, data: Buffer) -> bytes:
        from .mechanisms import ED448_PURE_PARAMS

        return self._token.sign_raw(self._ref, bytes(data), Mechanism.EDDSA, ED448_PURE_PARAMS)


def wrap_private_key(token: Token, ref: ObjectRef) -> Any:
    """The pyca-compatible wrapper for a private-key object, by its key type / curve."""
    if ref.key_type == "rsa":
        return TokenRSAPrivateKey(token, ref)
    if ref.key_type == "ec":
        return TokenECPrivateKey(token, ref)
    if ref.key_type == "ec_edwards":
        public = token.public_key_of(ref)
        cls = TokenEd448PrivateKey if isinstance(public, ed448.Ed448PublicKey) else TokenEd25519PrivateKey
        key = cls(token, ref)
        key._public = public
        return key
    raise Unsupported(f"private key {ref.label!r} is a {ref.key_type} key: no pyca key type for it "
                      "(use Token.sign/decrypt)")
