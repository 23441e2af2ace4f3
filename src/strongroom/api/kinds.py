"""Key-kind strings ("ec:p256", "rsa:3072", "ed25519", "aes:256") → what PKCS#11 needs.

One table names every kind the API generates, so the CLI's --help, the API and the
tests agree. A kind is a family and a size or curve; the table says which CKK_ type,
generation mechanism and parameters (CKA_EC_PARAMS, CKA_MODULUS_BITS, CKA_VALUE_LEN,
CKA_PARAMETER_SET) it needs and which functions (sign, decrypt, derive…) the new key
gets.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "PAIR_KINDS",
    "SECRET_KINDS",
    "KeyKind",
    "SecretKind",
    "curve_for_params",
    "curve_oids",
    "oid_der",
    "parse_kind",
    "parse_secret_kind",
]


def oid_der(dotted: str) -> bytes:
    """DER encoding of an OBJECT IDENTIFIER (the form CKA_EC_PARAMS takes for a named curve)."""
    arcs = [int(a) for a in dotted.split(".")]
    body = bytearray([40 * arcs[0] + arcs[1]])
    for arc in arcs[2:]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body += bytes(reversed(chunk))
    return bytes([0x06, len(body)]) + bytes(body)


# kind name → (pyca curve class name, OID). The pyca name is resolved lazily (import cost).
_CURVES = {
    "p256": ("SECP256R1", "1.2.840.10045.3.1.7"),
    "p384": ("SECP384R1", "1.3.132.0.34"),
    "p521": ("SECP521R1", "1.3.132.0.35"),
    "secp256k1": ("SECP256K1", "1.3.132.0.10"),
    "brainpoolp256r1": ("BrainpoolP256R1", "1.3.36.3.3.2.8.1.1.7"),
    "brainpoolp384r1": ("BrainpoolP384R1", "1.3.36.3.3.2.8.1.1.11"),
    "brainpoolp512r1": ("BrainpoolP512R1", "1.3.36.3.3.2.8.1.1.13"),
}
WEIERSTRASS = frozenset(_CURVES)
_ALIASES = {"prime256v1": "p256", "secp256r1": "p256", "p-256": "p256", "secp384r1": "p384",
            "p-384": "p384", "secp521r1": "p521", "p-521": "p521"}
# RFC 8410 OIDs: CKA_EC_PARAMS of Edwards / Montgomery keys.
_EDWARDS = {"ed25519": "1.3.101.112", "ed448": "1.3.101.113"}
_MONTGOMERY = {"x25519": "1.3.101.110", "x448": "1.3.101.111"}
# PrintableString forms some modules use for the same curves (PKCS#11 3.0 allows both).
_CURVE_NAMES = {b"\x13\x0cedwards25519": "ed25519", b"\x13\x0aedwards448": "ed448",
                b"\x13\x0acurve25519": "x25519", b"\x13\x08curve448": "x448"}

_ML_DSA = {"ml-dsa-44": 1, "ml-dsa-65": 2, "ml-dsa-87": 3}     # CKP_ML_DSA_*
_ML_KEM = {"ml-kem-512": 1, "ml-kem-768": 2, "ml-kem-1024": 3}  # CKP_ML_KEM_*


@dataclass(frozen=True)
class KeyKind:
    """A key-pair kind: `family` is rsa | ec | ed | x | ml-dsa | ml-kem."""

    name: str
    family: str
    key_type: str                    # python-pkcs11 KeyType member name
    mechanism: str                   # python-pkcs11 Mechanism member name
    bits: int | None = None          # RSA modulus bits
    ec_params: bytes | None = None   # CKA_EC_PARAMS
    parameter_set: int | None = None  # CKA_PARAMETER_SET (ML-DSA / ML-KEM)

    def _handler(self) -> Any:
        """The token's handler of this key type (mechanisms/keytypes.py): what a key of
        the type may do is written once, there."""
        from ..mechanisms import keytypes
        from ..pkcs11.constants import CKK

        return keytypes.find(int(CKK[self.key_type]))

    @property
    def signs(self) -> bool:
        return bool(self._handler().signs)

    @property
    def decrypts(self) -> bool:
        return bool(self._handler().decrypts)

    @property
    def derives(self) -> bool:
        return bool(self._handler().derives)


@dataclass(frozen=True)
class SecretKind:
    """A secret-key kind: aes:N, generic:N, hmac:N (N in bits)."""

    name: str
    key_type: str
    mechanism: str
    length: int                      # CKA_VALUE_LEN in bytes


PAIR_KINDS = (["rsa:2048", "rsa:3072", "rsa:4096"] + [f"ec:{c}" for c in _CURVES]
              + list(_EDWARDS) + list(_MONTGOMERY) + list(_ML_DSA) + list(_ML_KEM))
SECRET_KINDS = ["aes:128", "aes:192", "aes:256", "generic:N", "hmac:N"]


def parse_kind(text: str) -> KeyKind:
    """The KeyKind for a kind string; ValueError naming the string and the known kinds."""
    name = text.strip().lower()
    family, _, size = name.partition(":")
    if family == "rsa":
        if not size.isdigit() or int(size) < 1024 or int(size) % 8:
            raise ValueError(f"bad RSA size in key kind {text!r}: give rsa:2048, rsa:3072 or rsa:4096")
        return KeyKind(name, "rsa", "RSA", "RSA_PKCS_KEY_PAIR_GEN", bits=int(size))
    if family == "ec":
        curve = _ALIASES.get(size, size)
        if curve not in _CURVES:
            raise ValueError(f"unknown curve in key kind {text!r}: known are "
                             + ", ".join(f"ec:{c}" for c in _CURVES))
        return KeyKind(f"ec:{curve}", "ec", "EC", "EC_KEY_PAIR_GEN", ec_params=oid_der(_CURVES[curve][1]))
    if name in _EDWARDS:
        return KeyKind(name, "ed", "EC_EDWARDS", "EC_EDWARDS_KEY_PAIR_GEN", ec_params=oid_der(_EDWARDS[name]))
    if name in _MONTGOMERY:
        return KeyKind(name, "x", "EC_MONTGOMERY", "EC_MONTGOMERY_KEY_PAIR_GEN",
                       ec_params=oid_der(_MONTGOMERY[name]))
    if name in _ML_DSA:
        return KeyKind(name, "ml-dsa", "ML_DSA", "ML_DSA_KEY_PAIR_GEN", parameter_set=_ML_DSA[name])
    if name in _ML_KEM:
        return KeyKind(name, "ml-kem", "ML_KEM", "ML_KEM_KEY_PAIR_GEN", parameter_set=_ML_KEM[name])
    raise ValueError(f"unknown key kind {text!r}: known are {', '.join(PAIR_KINDS)}")


def parse_secret_kind(text: str) -> SecretKind:
    """The SecretKind for "aes:256", "generic:256", "hmac:256" (sizes in bits)."""
    name = text.strip().lower()
    family, _, size = name.partition(":")
    if family == "aes":
        size = size or "256"
        if size not in ("128", "192", "256"):
            raise ValueError(f"bad AES size in key kind {text!r}: give aes:128, aes:192 or aes:256")
        return SecretKind(f"aes:{size}", "AES", "AES_KEY_GEN", int(size) // 8)
    if family in ("generic", "hmac"):
        if not size.isdigit() or int(size) < 8 or int(size) % 8:
            raise ValueError(f"bad size in key kind {text!r}: give a multiple of 8 bits, e.g. {family}:256")
        return SecretKind(f"{family}:{size}", "GENERIC_SECRET", "GENERIC_SECRET_KEY_GEN", int(size) // 8)
    raise ValueError(f"unknown secret key kind {text!r}: known are {', '.join(SECRET_KINDS)}")


def curve_oids() -> dict[bytes, str]:
    """CKA_EC_PARAMS bytes → kind name, for every curve the table knows."""
    table = {oid_der(oid): name for name, (_, oid) in _CURVES.items()}
    table.update({oid_der(oid): name for name, oid in {**_EDWARDS, **_MONTGOMERY}.items()})
    table.update(_CURVE_NAMES)
    return table


def curve_for_params(params: bytes) -> str | None:
    """The curve name ("p256", "ed25519", ...) CKA_EC_PARAMS stands for, or None."""
    return curve_oids().get(bytes(params))


def pyca_curve(name: str) -> Any:
    """The pyca EllipticCurve instance of a Weierstrass curve name from the table."""
    from cryptography.hazmat.primitives.asymmetric import ec

    return getattr(ec, _CURVES[name][0])()
